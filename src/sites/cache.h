/*
 * cache.h: per-backend caches of Otto's tables (cache.c).
 */
#ifndef OTTO_CACHE_H
#define OTTO_CACHE_H

#include "postgres.h"

/* One cached table of schema otto: TableCache c = {"vocabulary"}; */
typedef struct TableCache
{
	const char *relname;
	Oid			relid;			/* set by table_cache_loading */
	bool		valid;
	bool		registered;
} TableCache;

/* Must the cache be (re)loaded?  Watches the table from the first call on. */
extern bool table_cache_stale(TableCache *c);

/* The cache is about to be loaded: valid from now on, unless the table changes meanwhile. */
extern void table_cache_loading(TableCache *c);

#endif							/* OTTO_CACHE_H */
