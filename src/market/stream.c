/*
 * stream.c: the stream processor, and the vector arithmetic of its sums.
 *
 * The stream processor is a background worker the launcher keeps running
 * (like a Flink job over the ad log).  It is a thin loop: each round asks
 * otto.stream_horizon() in one short transaction how far the log is final,
 * then otto.stream_apply() in a second one to fold the next batch of events
 * into the market tables together with the new watermark, then
 * otto.alerts_apply() in a third to match the same events against saved
 * searches and likes (alerts, with their own watermark).  It sleeps on its
 * latch, which NOTIFY otto_ad sets (it LISTENs like any client and drains its
 * notification queue), lets events gather for STREAM_GATHER_MS, and wakes at
 * least every otto.stream_naptime.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "core/worker.h"
#include "market/stream.h"

static int	stream_naptime_ms = 1000;

/* After a wake-up, how long the next events may gather before a batch (ms). */
#define STREAM_GATHER_MS 50
static int	stream_batch = 10000;
bool		otto_stream_enabled = true;

void
StreamGucInit(void)
{
	DefineCustomBoolVariable("otto.stream_processor",
							 "Whether the launcher runs the stream processor that keeps the market tables.",
							 "Off: apply events by calling otto.stream_apply() yourself.",
							 &otto_stream_enabled,
							 true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.stream_naptime",
							"Longest sleep of the stream processor between looks at the ad log.",
							"NOTIFY otto_ad wakes it sooner.",
							&stream_naptime_ms,
							1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.stream_batch",
							"Most ad events the stream processor applies in one transaction.",
							NULL,
							&stream_batch,
							10000, 1, 1000000, PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * numeric[] vectors: the terms each ad adds to its group's sums
 * --------------------------------------------------------------------- */

static void
vec_deconstruct(ArrayType *a, Datum **elems, bool **nulls, int *n)
{
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a vector must have one dimension, not %d", ARR_NDIM(a))));
	deconstruct_array(a, NUMERICOID, -1, false, TYPALIGN_INT, elems, nulls, n);
}

/* a + b element by element; a NULL vector or element counts as zero. */
PG_FUNCTION_INFO_V1(otto_vec_add);
Datum
otto_vec_add(PG_FUNCTION_ARGS)
{
	Datum	   *ae,
			   *be;
	bool	   *an,
			   *bn;
	int			na,
				nb;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_ARGISNULL(0) ? PG_GETARG_DATUM(1) : PG_GETARG_DATUM(0));
	}
	vec_deconstruct(PG_GETARG_ARRAYTYPE_P(0), &ae, &an, &na);
	vec_deconstruct(PG_GETARG_ARRAYTYPE_P(1), &be, &bn, &nb);
	if (na != nb)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("cannot add vectors of %d and %d elements", na, nb)));
	for (int i = 0; i < na; i++)
	{
		if (bn[i])
			continue;
		ae[i] = an[i] ? be[i] : DirectFunctionCall2(numeric_add, ae[i], be[i]);
		an[i] = false;
	}
	PG_RETURN_ARRAYTYPE_P(construct_md_array(ae, an, 1, &na, (int[]) {1}, NUMERICOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(otto_vec_neg);
Datum
otto_vec_neg(PG_FUNCTION_ARGS)
{
	Datum	   *e;
	bool	   *nulls;
	int			n;

	vec_deconstruct(PG_GETARG_ARRAYTYPE_P(0), &e, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			e[i] = DirectFunctionCall1(numeric_uminus, e[i]);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(e, nulls, 1, &n, (int[]) {1}, NUMERICOID, -1, false, TYPALIGN_INT));
}

/* ---------------------------------------------------------------------
 * The worker
 * --------------------------------------------------------------------- */

/* The alert matcher may be behind the market tables (true at start). */
static bool alerts_behind = true;

/* Apply one batch; returns the events applied (0 when none or not now). */
static int64
apply_batch(void)
{
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		args[2];
	bool		busy;
	int64		applied;

	/* the horizon waits at most 200 ms for writers; busy: try next round */
	args[1] = Int64GetDatum(worker_sql_int64("SELECT otto.stream_horizon()", 0, NULL, NULL, &busy));
	if (busy)
		return 0;
	args[0] = Int32GetDatum(stream_batch);
	applied = worker_sql_int64("SELECT (otto.stream_apply($1, $2)->>'events')::bigint", 2, types, args, &busy);
	if (busy)
		return 0;

	/*
	 * Then the same events against saved searches and likes, in a
	 * transaction of their own: when the market moved, and at start (a crash
	 * may have come between the two) until the matcher has caught up.
	 */
	if (applied > 0)
		alerts_behind = true;
	if (alerts_behind)
		alerts_behind = worker_sql_int64("SELECT (otto.alerts_apply($1)->>'events')::bigint", 1, types, args, NULL)
			>= stream_batch;
	return applied;
}

/*
 * LISTEN otto_ad, so that the ingest's notifications set our latch.  The SQL
 * command refuses background processes, which usually cannot read the
 * queue; this one does (ProcessNotifyInterrupt in the loop).
 */
static void
listen_otto_ad(void)
{
	StartTransactionCommand();
	Async_Listen("otto_ad");
	CommitTransactionCommand();
}

void
otto_stream_main(Datum main_arg)
{
	MemoryContext loop_cxt;
	int64		total = 0;

	worker_start("otto stream", NULL);
	/* a batch lost in a crash is applied again from the watermark */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION);
	listen_otto_ad();
	(void) worker_sql_int64("SELECT otto.worker_started('stream', 0)", 0, NULL, NULL, NULL);
	ereport(LOG,
			(errmsg("otto stream processor started"),
			 errdetail("batch=%d naptime=%dms", stream_batch, stream_naptime_ms)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "otto stream loop", ALLOCSET_DEFAULT_SIZES);
	while (!otto_got_sigterm)
	{
		int64		n;

		CHECK_FOR_INTERRUPTS();
		(void) worker_reload_config();
		/* read (and drop) the notifications, or the queue would fill up behind us */
		if (notifyInterruptPending)
			ProcessNotifyInterrupt(false);

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		n = apply_batch();
		total += n;
		if (n >= stream_batch)
			continue;			/* more are waiting */

		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					  stream_naptime_ms, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		{
			/*
			 * Woken by an event: let the ingest's next few arrive first.  A
			 * round costs three transactions whatever its size; one per event
			 * took half a core from the crawlers at 500 pages/s.
			 */
			ResetLatch(MyLatch);
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, STREAM_GATHER_MS, PG_WAIT_EXTENSION);
		}
		ResetLatch(MyLatch);
	}
	ereport(LOG, (errmsg("otto stream processor stopping"),
				  errdetail("events applied by this process: " INT64_FORMAT, total)));
	proc_exit(0);
}
