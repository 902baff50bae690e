/*
 * crash.h: poison pages: each crawler's crash record (crash.c).
 */
#ifndef OTTO_CRASH_H
#define OTTO_CRASH_H

#include "postgres.h"

#include <signal.h>

/* Processing attempts of one page that may die before it is quarantined. */
#define CRASHES_TO_QUARANTINE 2

extern void crash_record_open(int worker);
extern void crash_record_add(int worker, const char *url);
extern void crash_record_end(int worker);
extern void crash_quickdie(SIGNAL_ARGS);
extern void otto_crash_records_apply(int index);

#endif							/* OTTO_CRASH_H */
