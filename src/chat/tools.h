/*
 * tools.h: the chat tools' settings.
 */
#ifndef OTTO_TOOLS_H
#define OTTO_TOOLS_H

#include "postgres.h"

extern void ToolsGucInit(void);

#endif							/* OTTO_TOOLS_H */
