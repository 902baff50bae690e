/*
 * urlfilter.h: the frontier's URL filter in shared memory.
 */
#ifndef OTTO_URLFILTER_H
#define OTTO_URLFILTER_H

#include "postgres.h"

extern void UrlFilterInit(void);

#endif							/* OTTO_URLFILTER_H */
