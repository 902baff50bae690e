/*
 * otto.h: what every module of Otto may use.
 */
#ifndef OTTO_H
#define OTTO_H

#include "postgres.h"

#include "mb/pg_wchar.h"

/*
 * A value quoted in a message, at most n bytes and cut at a character
 * boundary: errmsg("... \"%.*s\"", OTTO_CLIP(s, 100)).
 */
#define OTTO_CLIP(s, n) (int) pg_mbcliplen((s), strlen(s), (n)), (s)

#endif							/* OTTO_H */
