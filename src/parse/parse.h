/*
 * parse.h: the parse stage's settings.
 */
#ifndef OTTO_PARSE_H
#define OTTO_PARSE_H

#include "postgres.h"

extern int	otto_max_page_bytes;
extern void ParseGucInit(void);

#endif							/* OTTO_PARSE_H */
