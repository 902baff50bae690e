/*
 * hosts.c: what a crawler knows of the sites it crawls (their hosts and
 * politeness, read again each second) and of each host (its robots.txt, kept
 * until otto.robots_max_age, and its slot of the shared politeness clocks).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/worker.h"
#include "crawl/fetch.h"
#include "crawl/hosts.h"
#include "crawl/politeness.h"

int			otto_robots_max_age_s = 86400;

static MemoryContext sites_cxt; /* sites, reset at each refresh */
static List *sites = NIL;
static TimestampTz sites_until = 0; /* sites are read again after this */
static HTAB *hosts = NULL;

void
hosts_init(void)
{
	HASHCTL		hctl;

	sites_cxt = AllocSetContextCreate(TopMemoryContext, "otto crawler sites", ALLOCSET_SMALL_SIZES);
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = HOST_KEY_LEN;
	hctl.entrysize = sizeof(Host);
	hosts = hash_create("otto crawler hosts", 64, &hctl, HASH_ELEM | HASH_STRINGS);
}

static void
sites_rows(SPITupleTable *tt, uint64 n, void *arg)
{
	MemoryContext old = MemoryContextSwitchTo(sites_cxt);

	sites = NIL;
	for (uint64 i = 0; i < n; i++)
	{
		CrawlSite  *s = palloc0(sizeof(CrawlSite));
		bool		isnull;
		ArrayType  *a = DatumGetArrayTypeP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		Datum	   *elems;
		int			nelems;

		s->site_id = worker_int(tt, i, 1, 0);
		deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nelems);
		s->hosts = palloc(sizeof(char *) * Max(nelems, 1));
		for (int j = 0; j < nelems; j++)
			s->hosts[j] = TextDatumGetCString(elems[j]);
		s->nhosts = nelems;
		s->delay_ms = worker_int(tt, i, 3, 1000);
		s->max_concurrency = worker_int(tt, i, 4, 1);
		s->allow_private = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull));
		sites = lappend(sites, s);
	}
	MemoryContextSwitchTo(old);
}

CrawlSite *
find_site(int site_id)
{
	ListCell   *lc;

	foreach(lc, sites)
		if (((CrawlSite *) lfirst(lc))->site_id == site_id)
			return lfirst(lc);
	return NULL;
}

bool
site_owns_host(CrawlSite *s, const char *host)
{
	for (int i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i], host) == 0)
			return true;
	return false;
}

Host *
host_get(const char *key)
{
	bool		found;
	Host	   *h = hash_search(hosts, key, HASH_ENTER, &found);

	if (!found)
	{
		h->slot = politeness_slot(key);
		h->robots_state = ROBOTS_UNKNOWN;
		h->robots_until = 0;
		h->robots = NULL;
		h->robots_delay_ms = 0;
		h->failures_logged_at = 0;
		h->failures_unlogged = 0;
		h->robots_cxt = AllocSetContextCreate(TopMemoryContext, "otto robots", ALLOCSET_SMALL_SIZES);
	}
	return h;
}

/* Parse and keep a host's robots.txt (NULL text: allow all). */
void
host_set_robots(Host *h, const char *txt, TimestampTz fetched_at)
{
	double		delay;

	MemoryContextReset(h->robots_cxt);
	h->robots = txt ? otto_robots_parse(h->robots_cxt, txt, otto_user_agent) : NULL;
	delay = h->robots ? otto_robots_delay(h->robots) : -1;
	h->robots_delay_ms = delay > 0 ? (int) Min(delay * 1000, 3600 * 1000) : 0;
	h->robots_state = ROBOTS_READY;
	h->robots_until = fetched_at + (TimestampTz) otto_robots_max_age_s * USECS_PER_SEC;
}

typedef struct StoredRobots
{
	Host	   *host;
	bool		any_age;		/* take the copy however old it is */
	TimestampTz fetched_at;		/* of the copy taken, 0 if none */
} StoredRobots;

static void
robots_row(SPITupleTable *tt, uint64 n, void *arg)
{
	StoredRobots *sr = arg;
	bool		isnull;
	TimestampTz at;

	if (n == 0)
		return;
	at = DatumGetTimestampTz(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull));
	if (sr->any_age || at + (TimestampTz) otto_robots_max_age_s * USECS_PER_SEC > GetCurrentTimestamp())
	{
		host_set_robots(sr->host, worker_text(tt, 0, 1), at);
		sr->fetched_at = at;
	}
}

/*
 * Use the stored robots.txt of a host when it is fresh enough, or (any_age)
 * whatever copy there is; returns when the copy taken was fetched, 0 if none.
 */
TimestampTz
host_load_robots(Host *h, bool any_age)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(h->key)};
	StoredRobots sr = {h, any_age, 0};

	worker_sql("SELECT body, fetched_at FROM otto.robots WHERE host = $1",
			1, types, values, NULL, WORKER_SQL_CATCH_ERRORS, robots_row, &sr, NULL);
	return sr.fetched_at;
}

/*
 * The enabled sites, read again when a second has passed, or at once when
 * forced (after a wake: otto.crawl_start may have just enabled a site);
 * false when there are none.
 */
bool
sites_refresh(bool force)
{
	if (force || GetCurrentTimestamp() >= sites_until)
	{
		MemoryContextReset(sites_cxt);
		sites = NIL;
		worker_sql("SELECT site_id, hosts, crawl_delay_ms, max_concurrency, allow_private_addresses FROM otto.site WHERE enabled",
				   0, NULL, NULL, NULL, WORKER_SQL_CATCH_ERRORS, sites_rows, NULL, NULL);
		sites_until = GetCurrentTimestamp() + USECS_PER_SEC;
	}
	return sites != NIL;
}
