/*
 * politeness.c: per-host clocks shared by all crawler workers.
 *
 * Politeness is a property of the host, not of a worker: however many
 * workers crawl, two requests to one host never start closer than its delay
 * and never more than its concurrency limit run at once.  Each host has a
 * slot in shared memory holding the earliest time the next request may start
 * and the requests in flight, counted per worker so that a worker that dies
 * can zero its own counts when it comes back.
 *
 * A spinlock guards the table: every operation is a few comparisons.  Hosts
 * beyond the table's size share its last slot, which only makes them politer.
 *
 * The same shared struct holds each running worker's latch, so that whoever
 * queues work (a page that linked new URLs, crawl_start) wakes idle workers
 * at once instead of leaving them to their nap; busy ones are left alone.
 *
 * And it gates page processing, for poison pages: a page that killed a
 * worker before (a suspect) is processed alone, with no other worker
 * processing a page at the time.  So when a suspect kills its worker again,
 * no other page is caught in it, and only the page that did it twice alone
 * is quarantined (crawler.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "core/worker.h"
#include "crawl/politeness.h"

#define HOST_SLOTS 512
#define HOST_NAME_LEN 256

typedef struct HostSlot
{
	char		host[HOST_NAME_LEN];
	TimestampTz next_start;		/* no request may start before this */
	int16		in_flight[OTTO_MAX_CRAWLERS];
} HostSlot;

typedef struct Politeness
{
	slock_t		mutex;
	int			nused;
	Latch	   *latches[OTTO_MAX_CRAWLERS];	/* of running workers, else NULL */
	bool		idle[OTTO_MAX_CRAWLERS];	/* worker has nothing to do */
	bool		processing[OTTO_MAX_CRAWLERS];	/* worker is processing a page */
	int			solo;			/* worker processing (or waiting to process) a suspect alone, or -1 */
	ConditionVariable processing_cv;	/* broadcast when processing ends */
	HostSlot	slots[HOST_SLOTS];
} Politeness;

static Politeness *pol = NULL;

static void
politeness_shmem_startup(void)
{
	bool		found;

	pol = ShmemInitStruct("otto politeness", sizeof(Politeness), &found);
	if (!found)
	{
		memset(pol, 0, sizeof(Politeness));
		SpinLockInit(&pol->mutex);
		pol->solo = -1;
		ConditionVariableInit(&pol->processing_cv);
	}
}

void
PolitenessInit(void)
{
	worker_shmem_request(sizeof(Politeness), politeness_shmem_startup);
}

/* The slot of host (host[:port]), claimed on first use. */
int
politeness_slot(const char *host)
{
	int			i;

	SpinLockAcquire(&pol->mutex);
	for (i = 0; i < pol->nused; i++)
		if (strncmp(pol->slots[i].host, host, HOST_NAME_LEN - 1) == 0)
			break;
	if (i == pol->nused)
	{
		if (pol->nused < HOST_SLOTS)
		{
			strlcpy(pol->slots[i].host, host, HOST_NAME_LEN);
			pol->nused++;
		}
		else
			i = HOST_SLOTS - 1;
	}
	SpinLockRelease(&pol->mutex);
	return i;
}

/*
 * May worker start a request to the host of slot now?  If so the request is
 * counted, the host's clock moves delay_ms ahead of *start (now), and 0 is
 * returned;
 * otherwise the milliseconds to wait (when only the concurrency limit stands
 * in the way, a short poll: another worker's request may be the one to end).
 */
long
politeness_try_start(int slot, int worker, int delay_ms, int max_concurrency, TimestampTz *start)
{
	HostSlot   *h = &pol->slots[slot];
	TimestampTz now = GetCurrentTimestamp();
	long		wait_ms = 0;
	int			running = 0;

	SpinLockAcquire(&pol->mutex);
	for (int i = 0; i < OTTO_MAX_CRAWLERS; i++)
		running += h->in_flight[i];
	if (now < h->next_start)
		wait_ms = (long) ((h->next_start - now + 999) / 1000);
	else if (running >= max_concurrency)
		wait_ms = 20;
	else
	{
		h->in_flight[worker]++;
		h->next_start = now + (TimestampTz) delay_ms * 1000;
		*start = now;
	}
	SpinLockRelease(&pol->mutex);
	return wait_ms;
}

/* A request of worker to the host of slot has finished. */
void
politeness_done(int slot, int worker)
{
	SpinLockAcquire(&pol->mutex);
	if (pol->slots[slot].in_flight[worker] > 0)
		pol->slots[slot].in_flight[worker]--;
	SpinLockRelease(&pol->mutex);
}

/*
 * A worker (re)starts: forget what its previous incarnation had in flight,
 * and make its latch wakeable (until it exits).
 */
static void
politeness_worker_exit(int code, Datum worker)
{
	politeness_processing_end(DatumGetInt32(worker));
	SpinLockAcquire(&pol->mutex);
	pol->latches[DatumGetInt32(worker)] = NULL;
	SpinLockRelease(&pol->mutex);
}

void
politeness_worker_start(int worker)
{
	SpinLockAcquire(&pol->mutex);
	for (int i = 0; i < pol->nused; i++)
		pol->slots[i].in_flight[worker] = 0;
	pol->latches[worker] = MyLatch;
	SpinLockRelease(&pol->mutex);
	before_shmem_exit(politeness_worker_exit, Int32GetDatum(worker));
}

/*
 * Wait for leave to process a page: a page waits while a suspect is being
 * processed (or waits to be); a suspect first takes the solo turn, then
 * waits until no other worker is processing.
 */
void
politeness_processing_begin(int worker, bool suspect)
{
	for (;;)
	{
		bool		go = false;

		SpinLockAcquire(&pol->mutex);
		if (suspect && pol->solo < 0)
			pol->solo = worker;
		if (pol->solo < 0)
			go = true;
		else if (pol->solo == worker)
		{
			go = true;
			for (int i = 0; i < OTTO_MAX_CRAWLERS; i++)
				go &= i == worker || !pol->processing[i];
		}
		if (go)
			pol->processing[worker] = true;
		SpinLockRelease(&pol->mutex);
		if (go)
			break;
		ConditionVariableSleep(&pol->processing_cv, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/* The worker is done processing its page (or gone). */
void
politeness_processing_end(int worker)
{
	bool		was;

	SpinLockAcquire(&pol->mutex);
	was = pol->processing[worker] || pol->solo == worker;
	pol->processing[worker] = false;
	if (pol->solo == worker)
		pol->solo = -1;
	SpinLockRelease(&pol->mutex);
	if (was)
		ConditionVariableBroadcast(&pol->processing_cv);
}

/*
 * A worker says whether it has nothing to do.  It says so before it looks for
 * work, so a wake between its look and its sleep still sets its latch.
 */
void
politeness_worker_idle(int worker, bool idle)
{
	SpinLockAcquire(&pol->mutex);
	pol->idle[worker] = idle;
	SpinLockRelease(&pol->mutex);
}

/*
 * SQL: otto.crawler_wake() -- new URLs are due: wake the idle crawler
 * workers when the transaction commits.  Not before: a worker woken earlier
 * would find none of the URLs yet, and nap.  Returns how many workers are
 * idle now.
 */
static bool wake_at_commit = false;

/* The idle workers (other than this one), into latches when given: those are no longer idle. */
static int
idle_workers(Latch **latches)
{
	int			n = 0;

	SpinLockAcquire(&pol->mutex);
	for (int i = 0; i < OTTO_MAX_CRAWLERS; i++)
		if (pol->latches[i] && pol->idle[i] && pol->latches[i] != MyLatch)
		{
			if (latches)
			{
				latches[n] = pol->latches[i];
				pol->idle[i] = false;
			}
			n++;
		}
	SpinLockRelease(&pol->mutex);
	return n;
}

static void
crawler_wake_xact(XactEvent event, void *arg)
{
	Latch	   *latches[OTTO_MAX_CRAWLERS];
	int			n;

	if (!wake_at_commit || (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
							event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT))
		return;
	wake_at_commit = false;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		return;
	n = idle_workers(latches);
	for (int i = 0; i < n; i++)
		SetLatch(latches[i]);
}

PG_FUNCTION_INFO_V1(otto_crawler_wake);
Datum
otto_crawler_wake(PG_FUNCTION_ARGS)
{
	static bool registered = false;

	if (pol == NULL)
		PG_RETURN_INT32(0);
	if (!registered)
	{
		RegisterXactCallback(crawler_wake_xact, NULL);
		registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_INT32(idle_workers(NULL));
}

/* SQL: otto.politeness() -- each host's clock, for people watching a crawl. */
PG_FUNCTION_INFO_V1(otto_politeness);
Datum
otto_politeness(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	HostSlot   *copy;

	if (pol == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("host politeness clocks need otto in shared_preload_libraries")));
	InitMaterializedSRF(fcinfo, 0);

	/* copy under the lock, build tuples outside it */
	copy = palloc(sizeof(HostSlot) * HOST_SLOTS);
	SpinLockAcquire(&pol->mutex);
	n = pol->nused;
	memcpy(copy, pol->slots, sizeof(HostSlot) * n);
	SpinLockRelease(&pol->mutex);

	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int			running = 0;

		for (int w = 0; w < OTTO_MAX_CRAWLERS; w++)
			running += copy[i].in_flight[w];
		values[0] = CStringGetTextDatum(copy[i].host);
		values[1] = TimestampTzGetDatum(copy[i].next_start);
		nulls[1] = copy[i].next_start == 0;
		values[2] = Int32GetDatum(running);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
