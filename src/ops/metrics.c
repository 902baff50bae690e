/*
 * metrics.c: the crawlers' fetch counters, in shared memory.
 *
 * Every fetch a crawler finishes adds to counters by HTTP status and error
 * kind, to the bytes read off the wire and to a latency histogram, with
 * atomic adds and no lock.  Like PostgreSQL's own statistics they count
 * from server start (and from a crash's restart): Prometheus takes a drop
 * to zero as a counter reset.  otto.fetch_counters() reads them; otto.metrics
 * puts them beside the figures that live in tables.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "core/worker.h"
#include "ops/metrics.h"

/* otto.page.error_kind's values, in its CHECK's order */
static const char *const error_kinds[] = {
	"timeout", "connect", "dns", "reset", "too_large", "too_many_redirects", "refused", "robots",
	"http", "parse", "charset", "content_type", "other", "crash"
};

/* upper bounds of the latency buckets, in seconds (Prometheus' defaults) */
static const double latency_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

#define N_STATUS 600			/* 0: no response; else the HTTP status */
#define N_KINDS lengthof(error_kinds)
#define N_BUCKETS lengthof(latency_le)

typedef struct FetchCounters
{
	pg_atomic_uint64 status[N_STATUS];
	pg_atomic_uint64 kind[N_KINDS];
	pg_atomic_uint64 bucket[N_BUCKETS + 1];	/* the last: over the largest bound */
	pg_atomic_uint64 elapsed_ms;
	pg_atomic_uint64 wire_bytes;
	pg_atomic_uint64 robots;
} FetchCounters;

static FetchCounters *counters = NULL;

static void
metrics_shmem_startup(void)
{
	bool		found;

	counters = ShmemInitStruct("otto fetch counters", sizeof(FetchCounters), &found);
	if (!found)
	{
		pg_atomic_uint64 *c = (pg_atomic_uint64 *) counters;

		for (int i = 0; i < sizeof(FetchCounters) / sizeof(pg_atomic_uint64); i++)
			pg_atomic_init_u64(&c[i], 0);
	}
}

void
MetricsInit(void)
{
	worker_shmem_request(sizeof(FetchCounters), metrics_shmem_startup);
}

/* One finished fetch: robots.txt, or a page with its status and error kind (NULL: none). */
void
metrics_count_fetch(bool robots, int status, const char *error_kind, long elapsed_ms, int64 wire_bytes)
{
	int			b = 0;

	if (counters == NULL)
		return;
	if (robots)
		pg_atomic_fetch_add_u64(&counters->robots, 1);
	else
	{
		pg_atomic_fetch_add_u64(&counters->status[status > 0 && status < N_STATUS ? status : 0], 1);
		for (int i = 0; error_kind && i < N_KINDS; i++)
			if (strcmp(error_kind, error_kinds[i]) == 0)
				pg_atomic_fetch_add_u64(&counters->kind[i], 1);
	}
	while (b < N_BUCKETS && elapsed_ms > latency_le[b] * 1000.0)
		b++;
	pg_atomic_fetch_add_u64(&counters->bucket[b], 1);
	pg_atomic_fetch_add_u64(&counters->elapsed_ms, Max(elapsed_ms, 0));
	pg_atomic_fetch_add_u64(&counters->wire_bytes, Max(wire_bytes, 0));
}

/*
 * otto.fetch_counters(): (counter, label, value) rows -- pages by status,
 * errors by kind, robots.txt fetches, wire bytes, the latency histogram's
 * cumulative buckets (label: upper bound, "+Inf" last), its sum (seconds)
 * and count.  Nothing when Otto is not preloaded (no crawlers, no memory).
 */
PG_FUNCTION_INFO_V1(otto_fetch_counters);
Datum
otto_fetch_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		cumulative = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (counters == NULL)
		PG_RETURN_VOID();

#define EMIT(name, label, v) \
	do { \
		Datum		values[3] = {CStringGetTextDatum(name), CStringGetTextDatum(label), Float8GetDatum((double) (v))}; \
		bool		nulls[3] = {false, false, false}; \
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); \
	} while (0)

	for (int i = 0; i < N_STATUS; i++)
	{
		uint64		n = pg_atomic_read_u64(&counters->status[i]);

		if (n > 0)
			EMIT("pages", psprintf("%d", i), n);
	}
	for (int i = 0; i < N_KINDS; i++)
		EMIT("errors", error_kinds[i], pg_atomic_read_u64(&counters->kind[i]));
	EMIT("robots", "", pg_atomic_read_u64(&counters->robots));
	EMIT("wire_bytes", "", pg_atomic_read_u64(&counters->wire_bytes));
	for (int b = 0; b <= N_BUCKETS; b++)
	{
		cumulative += pg_atomic_read_u64(&counters->bucket[b]);
		EMIT("latency_le", b < N_BUCKETS ? psprintf("%g", latency_le[b]) : "+Inf", cumulative);
	}
	EMIT("latency_sum", "", pg_atomic_read_u64(&counters->elapsed_ms) / 1000.0);
	EMIT("latency_count", "", cumulative);
#undef EMIT
	PG_RETURN_VOID();
}
