/*
 * metrics.h: the crawlers' fetch counters in shared memory.
 */
#ifndef OTTO_METRICS_H
#define OTTO_METRICS_H

#include "postgres.h"

extern void MetricsInit(void);
extern void metrics_count_fetch(bool robots, int status, const char *error_kind, long elapsed_ms, int64 wire_bytes);

#endif							/* OTTO_METRICS_H */
