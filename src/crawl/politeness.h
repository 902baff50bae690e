/*
 * politeness.h: per-host request spacing and the crawlers' shared state.
 */
#ifndef OTTO_POLITENESS_H
#define OTTO_POLITENESS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#define OTTO_MAX_CRAWLERS 64

extern void PolitenessInit(void);
extern int	politeness_slot(const char *host);
extern long politeness_try_start(int slot, int worker, int delay_ms, int max_concurrency, TimestampTz *start);
extern void politeness_done(int slot, int worker);
extern void politeness_worker_start(int worker);
extern void politeness_worker_idle(int worker, bool idle);
extern void politeness_processing_begin(int worker, bool suspect);
extern void politeness_processing_end(int worker);

#endif							/* OTTO_POLITENESS_H */
