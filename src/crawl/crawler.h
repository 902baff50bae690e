/*
 * crawler.h: the crawler workers.
 */
#ifndef OTTO_CRAWLER_H
#define OTTO_CRAWLER_H

#include "postgres.h"

extern void CrawlerGucInit(void);
extern PGDLLEXPORT void otto_crawler_main(Datum main_arg);

#endif							/* OTTO_CRAWLER_H */
