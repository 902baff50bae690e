/*
 * cache.c: per-backend caches of Otto's tables (the vocabulary: vocab.c; the
 * sites' compiled rules: parse/rules.c), dropped when their table changes.
 * Plain INSERT, UPDATE and DELETE send no invalidation, so each cached table
 * has a statement trigger, otto.cache_invalidate, that sends a relcache
 * invalidation at commit to every backend; a relcache callback marks the
 * caches of that table stale, and each reloads on its next use.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "sites/cache.h"

#define MAX_CACHES 8

static TableCache *caches[MAX_CACHES];
static int	ncaches = 0;

/* Relcache callback: only marks caches stale (it may fire in the middle of a load). */
static void
table_cache_invalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < ncaches; i++)
		if (relid == InvalidOid || relid == caches[i]->relid)
			caches[i]->valid = false;
}

bool
table_cache_stale(TableCache *c)
{
	if (!c->registered)
	{
		if (ncaches == MAX_CACHES)
			elog(ERROR, "too many table caches");
		if (ncaches == 0)
			CacheRegisterRelcacheCallback(table_cache_invalidate, (Datum) 0);
		caches[ncaches++] = c;
		c->registered = true;
	}
	return !c->valid;
}

void
table_cache_loading(TableCache *c)
{
	c->valid = true;
	c->relid = get_relname_relid(c->relname, get_namespace_oid("otto", false));
}

/*
 * Trigger otto.cache_invalidate (AFTER, FOR EACH STATEMENT): tell every
 * backend's caches that the table changed (a relcache invalidation, sent at
 * commit).
 */
PG_FUNCTION_INFO_V1(otto_cache_invalidate);
Datum
otto_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("otto.cache_invalidate() is a trigger function")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}
