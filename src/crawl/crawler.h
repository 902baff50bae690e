/*
 * crawler.h: the crawler workers.
 */
#ifndef OTTO_CRAWLER_H
#define OTTO_CRAWLER_H

#include "postgres.h"

extern void CrawlerGucInit(void);
extern void otto_crash_records_apply(int index);
extern PGDLLEXPORT void otto_crawler_main(Datum main_arg);

#endif							/* OTTO_CRAWLER_H */
