/*
 * transfers.h: a crawler's libcurl multi handle, driven from its latch (transfers.c).
 */
#ifndef OTTO_TRANSFERS_H
#define OTTO_TRANSFERS_H

#include "postgres.h"

#include <curl/curl.h>

extern CURLM *transfers_init(void);
extern bool transfers_wait(long timeout_ms, MemoryContext cxt);

#endif							/* OTTO_TRANSFERS_H */
