/*
 * crawler.c: the crawler background worker.
 *
 * The launcher keeps otto.crawler_workers of these running.  Each is a thin
 * loop around SQL functions that hold the logic (and that pg_regress tests):
 *
 *   claim     otto.frontier_claim leases due URLs (FOR UPDATE SKIP LOCKED)
 *   check     the URL's host belongs to its enabled site; robots.txt allows it
 *   wait      the host's shared politeness clock (politeness.c) says go
 *   fetch     libcurl's multi interface, many transfers at once (fetch.c)
 *   store     otto.ingest_site_pages, a batch of pages per transaction (the
 *             pages finished in one round of the loop), or otto.fetch_failed;
 *             no transaction is open while waiting on the network
 *
 * robots.txt is fetched per host before its first URL, stored in otto.robots
 * and re-read after otto.robots_max_age; an unreachable robots.txt means
 * "keep to the stored copy", or "disallow all for now" when there is none
 * (RFC 9309), a 4xx means "allow all".
 *
 * The loop waits on its latch and libcurl's sockets together (a WaitEventSet
 * rebuilt each iteration from libcurl's socket callback), so it sleeps until
 * there is something to do.  Per-iteration memory lives in a context that is
 * reset every time round; each page's in one reset after the page; a
 * batch's in one reset after the batch.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "crawl/fetch.h"
#include "core/worker.h"
#include "crawl/crawler.h"
#include "crawl/politeness.h"
#include "crawl/robots.h"
#include "crawl/transfers.h"
#include "crawl/crash.h"
#include "crawl/hosts.h"
#include "ops/metrics.h"
#include "sites/url.h"

#define CRAWLER_NAME "otto crawler"
/* How often a worker looks whether the crawled tables need new statistics (ms). */
#define STATS_INTERVAL_MS 1000

/*
 * A batch: the pages a worker stores in one transaction.  A page joins a
 * batch that holds fewer than this many pages and bytes of bodies, so a
 * worker holds at most BATCH_BYTES plus one page (otto.max_page_bytes) of
 * bodies, each as fetched and decoded, and once more while the batch is
 * stored (the arrays passed to SQL).
 */
#define BATCH_PAGES 64
#define BATCH_BYTES (8 * 1024 * 1024)

/* GUCs */
static int	crawler_transfers = 32;
static int	lease_ms = 300000;
static int	crawler_naptime_ms = 1000;
static int	page_body_retention_s = 86400;
static int	retry_base_ms = 30000;
static char *inject_crash_url = NULL;

/* A URL this worker holds: claimed and waiting, or being fetched. */
typedef struct CrawlUrl
{
	dlist_node	node;
	int			site_id;
	char	   *url;
	char		host[HOST_KEY_LEN];
	char	   *etag;
	char	   *last_modified;
	TimestampTz claimed_at;
	int			crashes;		/* processing attempts of its page that died (frontier.crashes) */
	bool		is_robots;
	Host	   *h;				/* while fetching */
} CrawlUrl;

static int	worker_index;
static CURLM *multi;

static MemoryContext item_cxt;	/* Items (pfree'd when done) */
static MemoryContext fetch_cxt; /* parent of each Fetch's own context */
static MemoryContext page_cxt;	/* one page's work, reset after it */
static MemoryContext batch_cxt;	/* one batch's store, reset after it */
static dlist_head waiting = DLIST_STATIC_INIT(waiting);
static int	nwaiting = 0;
static int	nrunning = 0;
static bool stored_since_stats = false; /* pages stored since the last otto.stats_refresh */

/* A fetched page waiting in the batch; its Fetch's context holds the result. */
typedef struct Stored
{
	CrawlUrl   *it;
	Fetch	   *f;
	FetchResult r;
	char	   *meta;
} Stored;

static Stored batch[BATCH_PAGES];
static int	nbatch = 0;
static Size batch_bytes = 0;
static bool claim_soon = false;	/* a stored batch queued links */

void
CrawlerGucInit(void)
{
	DefineCustomIntVariable("otto.crawler_transfers",
							"Transfers each crawler worker keeps in flight at most.",
							NULL, &crawler_transfers,
							32, 1, 512, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.lease_time",
							"How long a claimed URL stays leased to a worker before another may take it.",
							NULL, &lease_ms,
							300000, 1000, 86400000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.robots_max_age",
							"How long a host's robots.txt is trusted before it is fetched again.",
							NULL, &otto_robots_max_age_s,
							86400, 1, 30 * 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.crawler_naptime",
							"How often an idle crawler worker looks for due URLs.",
							NULL, &crawler_naptime_ms,
							1000, 10, 600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.retry_base",
							"First retry delay after a failed fetch; it doubles with each attempt (at most 6 h).",
							NULL, &retry_base_ms,
							30000, 10, 3600000, PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.page_body_retention",
							"How long fetched page bodies are kept (compressed) in otto.page; 0 keeps none.",
							"otto.maintenance() drops older bodies; kept bodies can be re-parsed with otto.ingest_page.",
							&page_body_retention_s,
							86400, 0, INT_MAX, PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	/* fault injection for tests, in the spirit of PostgreSQL's injection points */
	DefineCustomStringVariable("otto.inject_crash_url",
							   "Testing only: a crawler worker aborts (crashing the server) while processing a page whose URL contains this text.",
							   "Empty: off.  Superusers only.  Tests that a page which kills the worker is quarantined.",
							   &inject_crash_url,
							   "", PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * SQL in short transactions
 * --------------------------------------------------------------------- */

/* Put a URL back in the queue without counting an attempt (released lease). */
static void
postpone(CrawlUrl *it, long delay_ms)
{
	Oid			types[3] = {INT4OID, TEXTOID, INT4OID};
	Datum		values[3] = {Int32GetDatum(it->site_id), CStringGetTextDatum(it->url), Int32GetDatum((int) delay_ms)};

	worker_sql("SELECT otto.frontier_postpone($1, $2, $3 * interval '1 ms')", 3, types, values, NULL, WORKER_SQL_CATCH_ERRORS, NULL, NULL, NULL);
}

/* Record a failed or refused fetch: page log row, frontier backoff or give-up. */
static void
record_failure(CrawlUrl *it, const char *kind, const char *error, int status, bool retry,
			   double retry_after_s, const char *meta)
{
	Oid			types[8] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, FLOAT8OID, BOOLOID, JSONBOID};
	Datum		values[8];
	char		nulls[9] = "        ";

	values[0] = Int32GetDatum(it->site_id);
	values[1] = CStringGetTextDatum(it->url);
	values[2] = CStringGetTextDatum(kind);
	values[3] = CStringGetTextDatum(error ? error : kind);
	values[4] = Int32GetDatum(status);
	nulls[4] = status > 0 ? ' ' : 'n';
	values[5] = Float8GetDatum(retry_after_s);
	nulls[5] = retry_after_s >= 0 ? ' ' : 'n';
	values[6] = BoolGetDatum(retry);
	values[7] = meta ? DirectFunctionCall1(jsonb_in, CStringGetDatum(meta)) : (Datum) 0;
	nulls[7] = meta ? ' ' : 'n';
	nulls[8] = '\0';
	worker_sql("SELECT otto.fetch_failed($1, $2, $3, $4, $5, $6, $7, $8)", 8, types, values, nulls, WORKER_SQL_CATCH_ERRORS, NULL, NULL, NULL);

	/*
	 * A DBA hears of a failing site, at most once a minute per host (the
	 * page log has every failure); each page's failure is DEBUG1.
	 */
	ereport(DEBUG1, (errmsg("otto crawler %d: %s %s: %s", worker_index, kind, it->url, error ? error : "")));
	if (it->h && strcmp(kind, "robots") != 0)	/* obeying robots.txt is no failure */
	{
		TimestampTz now = GetCurrentTimestamp();

		if (TimestampDifferenceExceeds(it->h->failures_logged_at, now, 60 * 1000))
		{
			ereport(LOG,
					(errmsg("otto crawler %d: fetches from %s fail (%s%s); %s",
							worker_index, it->host, kind, status > 0 ? psprintf(", HTTP %d", status) : "",
							retry ? "they are retried with backoff" : "the URL is given up"),
					 errdetail("site_id=%d url=%s error=\"%s\" failures_since_last_line=%d",
							   it->site_id, it->url, error ? error : kind, it->h->failures_unlogged)));
			it->h->failures_logged_at = now;
			it->h->failures_unlogged = 0;
		}
		else
			it->h->failures_unlogged++;
	}
}

static void
bool_row(SPITupleTable *tt, uint64 n, void *arg)
{
	bool		isnull;

	*(bool *) arg = n > 0 && DatumGetBool(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull)) && !isnull;
}

/* A robots.txt fetch finished: store it and decide what the host allows. */
static void
robots_done(CrawlUrl *it, FetchResult *r)
{
	Host	   *h = host_get(it->host);
	TimestampTz now = GetCurrentTimestamp();
	const char *txt;

	if (r->error_kind == NULL && r->status == 200)
		txt = r->text;
	else if (r->error_kind == NULL && r->status >= 400 && r->status < 500)
		txt = "";				/* no robots.txt: everything is allowed */
	else if (r->error_kind && strcmp(r->error_kind, "refused") == 0)
	{
		/* the host itself is refused; each URL will be, with its own record */
		host_set_robots(h, NULL, now);
		h->robots_until = now + 60 * USECS_PER_SEC;
		return;
	}
	else
	{
		/*
		 * Unreachable: keep to the copy stored before, however old (RFC 9309
		 * 2.4 lets a cached copy serve while the file is unreachable); with
		 * none, disallow all.  Ask again in a minute either way.
		 */
		TimestampTz stored = host_load_robots(h, true);

		if (stored == 0)
			h->robots_state = ROBOTS_UNKNOWN;
		h->robots_until = now + 60 * USECS_PER_SEC;
		ereport(LOG,
				(errmsg("otto crawler %d: robots.txt of %s is unreachable; %s",
						worker_index, it->host,
						stored ? psprintf("keeping to the copy fetched at %s, asking again in a minute",
										  timestamptz_to_str(stored))
						: "not crawling the host for a minute"),
				 errdetail("%s", r->error ? r->error : psprintf("HTTP %d", r->status))));
		return;
	}

	{
		Oid			types[4] = {TEXTOID, INT4OID, INT4OID, TEXTOID};
		Datum		values[4] = {CStringGetTextDatum(it->host), Int32GetDatum(it->site_id),
		Int32GetDatum(r->status), CStringGetTextDatum(txt)};
		bool		changed = false;

		worker_sql("SELECT otto.robots_store($1, $2, $3, $4)", 4, types, values, NULL, WORKER_SQL_CATCH_ERRORS, bool_row, &changed, NULL);
		host_set_robots(h, txt, now);
		if (changed)
			ereport(LOG,
					(errmsg("otto crawler %d: robots.txt of %s is new or changed (HTTP %d, crawl delay %d ms)",
							worker_index, it->host, r->status, h->robots_delay_ms)));
	}
}

/* ---------------------------------------------------------------------
 * Claiming URLs
 * --------------------------------------------------------------------- */

static void
claim_rows(SPITupleTable *tt, uint64 n, void *arg)
{
	MemoryContext old = MemoryContextSwitchTo(item_cxt);
	TimestampTz now = GetCurrentTimestamp();

	for (uint64 i = 0; i < n; i++)
	{
		CrawlUrl   *it = palloc0(sizeof(CrawlUrl));
		int			n;
		const char *host;

		it->site_id = worker_int(tt, i, 1, 0);
		it->url = worker_text(tt, i, 2);
		it->etag = worker_text(tt, i, 3);
		it->last_modified = worker_text(tt, i, 4);
		it->crashes = worker_int(tt, i, 5, 0);
		host = otto_url_host(it->url, &n);
		strlcpy(it->host, host, Min(n + 1, HOST_KEY_LEN));
		it->claimed_at = now;
		dlist_push_tail(&waiting, &it->node);
		nwaiting++;
	}
	*(uint64 *) arg = n;
	MemoryContextSwitchTo(old);
}

/*
 * Lease more due URLs when the worker runs short.  The sites are read again
 * each second, and at once after a wake (otto.crawler_wake: otto.crawl_start
 * may have just enabled a site).
 */
static uint64
claim(bool woken)
{
	int			want = crawler_transfers * 2 - nwaiting - nrunning;
	Oid			types[3] = {INT4OID, INT4OID, INT4OID};
	Datum		values[3] = {Int32GetDatum(want), Int32GetDatum(lease_ms), Int32GetDatum(MyProcPid)};
	uint64		n = 0;

	if (!sites_refresh(woken) || want <= 0)
		return 0;
	worker_sql("SELECT site_id, url, etag, last_modified, crashes FROM otto.frontier_claim($1, $2 * interval '1 ms', $3)",
			3, types, values, NULL, WORKER_SQL_CATCH_ERRORS, claim_rows, &n, NULL);
	return n;
}

/* ---------------------------------------------------------------------
 * Starting and finishing transfers
 * --------------------------------------------------------------------- */

static void
item_free(CrawlUrl *it)
{
	pfree(it->url);
	if (it->etag)
		pfree(it->etag);
	if (it->last_modified)
		pfree(it->last_modified);
	pfree(it);
}

static void
start_fetch(CrawlUrl *it, CrawlSite *s, Host *h, TimestampTz start)
{
	Fetch	   *f = fetch_create(fetch_cxt, it->url, s->hosts, s->nhosts, s->allow_private,
								 it->etag, it->last_modified);
	CURLMcode	mc;

	f->owner = it;
	f->started = start;			/* the host clock's time, so the page log shows its spacing */
	it->h = h;
	mc = curl_multi_add_handle(multi, f->easy);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("libcurl could not start a transfer: %s", curl_multi_strerror(mc))));
	nrunning++;
}

/*
 * Start every waiting URL whose host allows it now; return how long until
 * the next one might be allowed (-1: nothing waits on a clock).
 */
static long
start_ready(void)
{
	dlist_mutable_iter iter;
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = -1;

	dlist_foreach_modify(iter, &waiting)
	{
		CrawlUrl   *it = dlist_container(CrawlUrl, node, iter.cur);
		CrawlSite  *s = find_site(it->site_id);
		Host	   *h;
		long		wait;
		TimestampTz start;

		if (nrunning >= crawler_transfers)
			break;
		MemoryContextReset(page_cxt);
		MemoryContextSwitchTo(page_cxt);

		if (s == NULL || (!it->is_robots && now - it->claimed_at > (TimestampTz) lease_ms * 500))
		{
			/* site disabled since the claim, or held for half the lease: give it back */
			if (!it->is_robots)
				postpone(it, 0);
			goto drop;
		}
		if (!site_owns_host(s, it->host))
		{
			record_failure(it, "refused", psprintf("host \"%s\" belongs to no enabled site", it->host),
						   0, false, -1, NULL);
			goto drop;
		}
		h = host_get(it->host);
		if (!it->is_robots)
		{
			if (h->robots_state == ROBOTS_READY && now >= h->robots_until)
				h->robots_state = ROBOTS_UNKNOWN;
			if (h->robots_state == ROBOTS_UNKNOWN && now >= h->robots_until)
			{
				host_load_robots(h, false);
				if (h->robots_state != ROBOTS_READY)
				{
					/* fetch robots.txt first; it jumps the queue */
					CrawlUrl   *r = MemoryContextAllocZero(item_cxt, sizeof(CrawlUrl));
					int			n;
					const char *host = otto_url_host(it->url, &n);

					r->site_id = it->site_id;
					r->url = MemoryContextStrdup(item_cxt,
												 psprintf("%.*s/robots.txt", (int) (host - it->url) + n, it->url));
					strlcpy(r->host, it->host, HOST_KEY_LEN);
					r->claimed_at = now;
					r->is_robots = true;
					dlist_insert_before(&it->node, &r->node);
					nwaiting++;
					h->robots_state = ROBOTS_FETCHING;
					next_ms = 0;
					continue;
				}
			}
			if (h->robots_state == ROBOTS_UNKNOWN)
			{
				/* robots.txt unreachable: disallow all, retry after robots_until */
				postpone(it, (long) ((h->robots_until - now) / 1000) + 1);
				goto drop;
			}
			if (h->robots_state == ROBOTS_FETCHING)
				continue;
			if (h->robots && !otto_robots_allows(h->robots, otto_url_path(it->url)))
			{
				record_failure(it, "robots", "disallowed by robots.txt", 0, false, -1, NULL);
				goto drop;
			}
		}
		wait = politeness_try_start(h->slot, worker_index, Max(s->delay_ms, h->robots_delay_ms),
									s->max_concurrency, &start);
		if (wait > 0)
		{
			next_ms = next_ms < 0 ? wait : Min(next_ms, wait);
			continue;
		}
		dlist_delete(&it->node);
		nwaiting--;
		MemoryContextSwitchTo(TopMemoryContext);
		start_fetch(it, s, h, start);
		continue;

drop:
		if (it->is_robots)
			host_get(it->host)->robots_state = ROBOTS_UNKNOWN;
		dlist_delete(&it->node);
		nwaiting--;
		item_free(it);
	}
	MemoryContextSwitchTo(TopMemoryContext);
	return next_ms;
}

/* ---------------------------------------------------------------------
 * Storing pages, in batches
 *
 * The pages a round of the loop finished are stored together, in one
 * transaction (otto.ingest_site_pages, set-based), at most BATCH_PAGES and
 * BATCH_BYTES of one site.  A busy worker finishes more transfers while it
 * stores, so its batches grow with the load, as group commit does; a quiet
 * one stores each page at once.  A batch that fails is stored again page by
 * page, so that a page that cannot be stored fails alone.
 * --------------------------------------------------------------------- */

/*
 * The crash record names the pages in hand: the batch's, then it, before it
 * is processed (decoded, then parsed and stored with its batch; one whose
 * fetch failed stays named until the batch is done), so that pages that
 * kill the worker (and so restart the server) are known after the restart.  A page whose processing died before is a suspect,
 * stored alone with no other page in processing (see politeness.c), so that
 * it alone is blamed if it kills the worker again; one that died
 * CRASHES_TO_QUARANTINE times is quarantined instead (false): the server
 * restarts at most that many times for it, whatever bug is left.  (Crash
 * records: crash.c.)
 */
static bool
begin_processing(CrawlUrl *it)
{
	char	   *why;

	if (it->crashes >= CRASHES_TO_QUARANTINE)
	{
		why = psprintf("processing this page killed the worker %d times: quarantined, not processed again", it->crashes);
		ereport(WARNING,
				(errmsg("otto crawler %d: %s: %s", worker_index, it->url, why),
				 errhint("Keep the page for a bug report, then queue it again: UPDATE otto.frontier SET state = 'queued', crashes = 0 WHERE url = '...'.")));
		record_failure(it, "crash", why, 0, false, -1, NULL);
		return false;
	}
	if (nbatch == 0)
		politeness_processing_begin(worker_index, it->crashes > 0);
	crash_record_add(worker_index, it->url);
	return true;
}

/* Nothing in hand is being processed: the record is emptied, the next may start. */
static void
end_processing(void)
{
	crash_record_end(worker_index);
	politeness_processing_end(worker_index);
}

/*
 * The fault injection point (otto.inject_crash_url): inside the batch's
 * transaction, once its pages are stored and before it commits, as a bug in
 * the store path would strike.
 */
static void
stored_rows(SPITupleTable *tt, uint64 n, void *arg)
{
	int			first = ((int *) arg)[0];
	int			last = first + ((int *) arg)[1];

	/* the stored pages queued links: the worker looks for due URLs at once */
	if (n > 0 && worker_int(tt, 0, 1, 0) > 0)
		claim_soon = true;
	for (int i = first; inject_crash_url[0] && i < last; i++)
		if (strstr(batch[i].it->url, inject_crash_url))
		{
			ereport(LOG, (errmsg("otto crawler %d: otto.inject_crash_url matches %s: aborting", worker_index, batch[i].it->url)));
			abort();
		}
}

/* Store batch[first .. first + n - 1] in one transaction; false (and *error) when it failed. */
static bool
store_pages(int first, int n, char **error)
{
	Oid			types[6] = {INT4OID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, JSONBARRAYOID};
	Datum		values[6];
	Datum	   *urls = palloc(n * sizeof(Datum));
	Datum	   *bodies = palloc(n * sizeof(Datum));
	bool	   *no_body = palloc(n * sizeof(bool));
	Datum	   *statuses = palloc(n * sizeof(Datum));
	Datum	   *at = palloc(n * sizeof(Datum));
	Datum	   *info = palloc(n * sizeof(Datum));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			range[2] = {first, n};

	for (int i = 0; i < n; i++)
	{
		Stored	   *p = &batch[first + i];

		/* the URL as the frontier holds it (normalised) */
		urls[i] = CStringGetTextDatum(p->it->url);
		no_body[i] = p->r.text == NULL;
		bodies[i] = no_body[i] ? (Datum) 0 : PointerGetDatum(cstring_to_text_with_len(p->r.text, p->r.text_len));
		statuses[i] = Int32GetDatum(p->r.status);
		at[i] = TimestampTzGetDatum(p->f->started);
		info[i] = DirectFunctionCall1(jsonb_in, CStringGetDatum(p->meta));
	}
	values[0] = Int32GetDatum(batch[first].it->site_id);
	values[1] = PointerGetDatum(construct_array(urls, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_md_array(bodies, no_body, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(statuses, n, INT4OID, 4, true, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(at, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[5] = PointerGetDatum(construct_array(info, n, JSONBOID, -1, false, TYPALIGN_INT));
	return worker_sql("SELECT sum((r->>'links_added')::int)::int FROM otto.ingest_site_pages($1, $2, $3, $4, $5, $6) r",
					  6, types, values, NULL,
					  WORKER_SQL_CATCH_ERRORS, stored_rows, range, error);
}

/* Store the batch, then let go of its pages. */
static void
store_batch(void)
{
	char	   *error = NULL;
	MemoryContext old;

	if (nbatch == 0)
		return;
	old = MemoryContextSwitchTo(batch_cxt);
	if (store_pages(0, nbatch, &error))
		stored_since_stats = true;
	else
	{
		/* again page by page: the one that fails is recorded (its page log row), the others stored */
		for (int i = 0; i < nbatch; i++)
		{
			Stored	   *p = &batch[i];

			if (nbatch > 1 && store_pages(i, 1, &error))
			{
				stored_since_stats = true;
				continue;
			}
			record_failure(p->it, "parse", error, p->r.status, false, -1, p->meta);
			p->r.error_kind = "parse";
		}
	}
	for (int i = 0; i < nbatch; i++)
	{
		Stored	   *p = &batch[i];

		metrics_count_fetch(false, p->r.status, p->r.error_kind, p->r.elapsed_ms, p->r.wire_bytes);
		fetch_destroy(p->f);
		item_free(p->it);
	}
	end_processing();
	nbatch = 0;
	batch_bytes = 0;
	MemoryContextSwitchTo(old);
	MemoryContextReset(batch_cxt);
}

/* A transfer is over: record what went wrong, or put the page in the batch. */
static void
fetch_done(Fetch *f, CURLcode rc)
{
	CrawlUrl   *it = f->owner;
	FetchResult r;
	Stored	   *p;

	MemoryContextReset(page_cxt);
	MemoryContextSwitchTo(page_cxt);
	politeness_done(it->h->slot, worker_index);
	nrunning--;
	if (it->is_robots)
	{
		fetch_finish(f, rc, &r);
		robots_done(it, &r);
		metrics_count_fetch(true, r.status, r.error_kind, r.elapsed_ms, r.wire_bytes);
		goto release;
	}
	/* a suspect is stored alone; a batch holds one site's pages */
	if (nbatch > 0 && (it->crashes > 0 || nbatch == BATCH_PAGES || batch_bytes >= BATCH_BYTES ||
					   batch[0].it->site_id != it->site_id || batch[0].it->crashes > 0))
		store_batch();
	if (!begin_processing(it))
	{
		metrics_count_fetch(false, 0, "crash", 0, 0);	/* quarantined: not fetched into a result */
		goto release;
	}
	/* the result lives with the fetch until its batch is stored */
	MemoryContextSwitchTo(f->cxt);
	p = &batch[nbatch];
	fetch_finish(f, rc, &p->r);
	p->meta = fetch_meta(&p->r, f);
	MemoryContextSwitchTo(page_cxt);
	if (p->r.error_kind)
	{
		record_failure(it, p->r.error_kind, p->r.error, p->r.status, p->r.retry, p->r.retry_after_s, p->meta);
		metrics_count_fetch(false, p->r.status, p->r.error_kind, p->r.elapsed_ms, p->r.wire_bytes);
		if (nbatch == 0)
			end_processing();
		goto release;
	}
	p->it = it;
	p->f = f;
	nbatch++;
	batch_bytes += p->r.text_len;
	MemoryContextSwitchTo(TopMemoryContext);
	return;

release:
	MemoryContextSwitchTo(TopMemoryContext);
	fetch_destroy(f);
	item_free(it);
}

/* ---------------------------------------------------------------------
 * The worker
 * --------------------------------------------------------------------- */

static void
release_all(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(MyProcPid)};

	worker_sql("SELECT otto.frontier_release($1)", 1, types, values, NULL, WORKER_SQL_CATCH_ERRORS, NULL, NULL, NULL);
}

void
otto_crawler_main(Datum main_arg)
{
	MemoryContext loop_cxt;
	TimestampTz next_claim = 0;
	TimestampTz next_stats = 0;
	bool		woken = false;
	int64		released;

	worker_index = DatumGetInt32(main_arg);
	worker_start(psprintf(CRAWLER_NAME " %d", worker_index), crash_quickdie);

	/* a death of this slot's last worker that the launcher did not count (it was not restarted) */
	otto_crash_records_apply(worker_index);
	crash_record_open(worker_index);

	/*
	 * A page's transaction need not wait for its WAL flush: after a crash
	 * the frontier, rolled back with the page, still lists it as due, so it
	 * is fetched again.  Consistency is kept; only a little work is redone.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION);
	politeness_worker_start(worker_index);

	multi = transfers_init();

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "otto crawler loop", ALLOCSET_DEFAULT_SIZES);
	page_cxt = AllocSetContextCreate(TopMemoryContext, "otto crawler page", ALLOCSET_DEFAULT_SIZES);
	batch_cxt = AllocSetContextCreate(TopMemoryContext, "otto crawler batch", ALLOCSET_DEFAULT_SIZES);
	item_cxt = AllocSetContextCreate(TopMemoryContext, "otto crawler items", ALLOCSET_DEFAULT_SIZES);
	fetch_cxt = AllocSetContextCreate(TopMemoryContext, "otto crawler fetches", ALLOCSET_SMALL_SIZES);
	hosts_init();

	/* leases of workers that are gone (a crash, a kill -9) are free again */
	released = worker_sql_int64("SELECT otto.frontier_release_orphans()", 0, NULL, NULL, NULL);
	{
		Oid			type = INT4OID;
		Datum		slot = Int32GetDatum(worker_index);

		(void) worker_sql_int64("SELECT otto.worker_started('crawler', $1)", 1, &type, &slot, NULL);
	}
	ereport(LOG,
			(errmsg("otto crawler %d started", worker_index),
			 errdetail("transfers=%d lease=%dms requeued=" INT64_FORMAT " (URLs leased by workers that are gone) user_agent=\"%s\"",
					   crawler_transfers, lease_ms, released, otto_user_agent)));

	while (!otto_got_sigterm)
	{
		long		timeout = -1;
		CURLMsg    *msg;
		int			left;

		CHECK_FOR_INTERRUPTS();
		(void) worker_reload_config();
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);

		/* the planner's statistics keep up with what the crawl stores (otto.stats_refresh); an idle worker asks nothing */
		if (stored_since_stats && GetCurrentTimestamp() >= next_stats)
		{
			(void) worker_sql_int64("SELECT otto.stats_refresh()", 0, NULL, NULL, NULL);
			stored_since_stats = false;
#ifdef __GLIBC__
			/*
			 * The batches' bodies went back to malloc, which keeps what it
			 * got: hand its free pages back to the system, so that a
			 * worker's memory stays what a batch needs, not the most that
			 * any batch of the crawl needed.  (Each batch: too dear.)
			 */
			malloc_trim(0);
#endif
			next_stats = GetCurrentTimestamp() + (TimestampTz) STATS_INTERVAL_MS * 1000;
		}

		if (nwaiting < crawler_transfers / 2 + 1 && GetCurrentTimestamp() >= next_claim)
		{
			bool		idle = nwaiting + nrunning == 0;
			uint64		claimed;

			if (idle)
				politeness_worker_idle(worker_index, true);
			claimed = claim(woken);
			woken = false;

			/*
			 * Nothing due: an idle worker naps; a busy one looks again soon,
			 * since the pages it is storing may link new URLs.
			 */
			if (claimed == 0)
				next_claim = GetCurrentTimestamp() +
					(TimestampTz) (nrunning > 0 ? Min(50, crawler_naptime_ms) : crawler_naptime_ms) * 1000;
			else if (idle)
				politeness_worker_idle(worker_index, false);
		}
		timeout = start_ready();
		if (nwaiting < crawler_transfers / 2 + 1)
		{
			long		to_claim = (long) Max(0, (next_claim - GetCurrentTimestamp()) / 1000);

			timeout = timeout < 0 ? to_claim : Min(timeout, to_claim);
		}
		MemoryContextSwitchTo(loop_cxt);
		if (transfers_wait(timeout, loop_cxt))
		{
			next_claim = 0;		/* otto.crawler_wake(): new URLs are due */
			woken = true;
		}

		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			Fetch	   *f;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &f);
			curl_multi_remove_handle(multi, f->easy);
			fetch_done(f, msg->data.result);
			/* keep the network busy while the pages are stored */
			if (nwaiting > 0)
				(void) start_ready();
		}
		store_batch();
		if (claim_soon)
			next_claim = 0;
		claim_soon = false;
		pgstat_report_stat(false);
	}

	/* stop: abandon transfers, give their URLs back at once */
	release_all();
	ereport(LOG, (errmsg("otto crawler %d stopping", worker_index)));
	proc_exit(0);
}
