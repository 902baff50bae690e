/*
 * stream.h: the stream processor, which keeps the market tables.
 */
#ifndef OTTO_STREAM_H
#define OTTO_STREAM_H

#include "postgres.h"

extern bool otto_stream_enabled;
extern void StreamGucInit(void);
extern PGDLLEXPORT void otto_stream_main(Datum main_arg);

#endif							/* OTTO_STREAM_H */
