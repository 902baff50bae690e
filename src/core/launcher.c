/*
 * launcher.c: the Otto launcher background worker.
 *
 * One launcher per cluster, registered at server start when otto is in
 * shared_preload_libraries.  It connects to otto.database, waits on its latch
 * and watches whether the otto extension is installed there.  While it is,
 * the launcher keeps otto.crawler_workers crawler workers running (dynamic
 * background workers that tell it when they stop): a worker that exits is
 * started again, at most once every CRAWLER_RESTART_DELAY seconds per slot so
 * that a worker failing at start cannot spin.  It also closes finished crawl
 * sweeps (otto.sweep_check) each time round, and keeps the stream processor
 * running in one more slot while otto.stream_processor is on, and the
 * price-model trainer in another while otto.price_trainer is on.
 *
 * SIGTERM (server shutdown or pg_terminate_backend) ends it with exit code 0,
 * which tells the postmaster not to restart it until the next server start.
 * A crash (any other exit) is restarted after bgw_restart_time, and at once
 * after the postmaster reinitialises the cluster.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/launcher.h"
#include "core/worker.h"
#include "crawl/crash.h"
#include "crawl/crawler.h"
#include "crawl/politeness.h"
#include "market/price_model.h"
#include "market/stream.h"

#define LAUNCHER_NAME "otto launcher"
#define RESTART_DELAY 5			/* seconds */

/* slots 0 .. OTTO_MAX_CRAWLERS-1 are crawlers, then the stream processor and the price-model trainer */
#define STREAM_SLOT OTTO_MAX_CRAWLERS
#define TRAINER_SLOT (OTTO_MAX_CRAWLERS + 1)
static BackgroundWorkerHandle *workers[OTTO_MAX_CRAWLERS + 2];
static TimestampTz worker_started_at[OTTO_MAX_CRAWLERS + 2];

/* Register the launcher; called from _PG_init during preload. */
int			otto_crawler_workers = 1;
int			otto_launcher_naptime_ms = 10000;

void
LauncherGucInit(void)
{
	DefineCustomIntVariable("otto.crawler_workers",
							"Number of crawler background workers the launcher keeps running.",
							"Each worker also needs a slot in max_worker_processes.",
							&otto_crawler_workers,
							1, 0, OTTO_MAX_CRAWLERS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("otto.launcher_naptime",
							"How often the launcher checks on its workers when nothing wakes it.",
							NULL,
							&otto_launcher_naptime_ms,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

void
LauncherInit(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "otto");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "otto_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, LAUNCHER_NAME);
	snprintf(worker.bgw_type, BGW_MAXLEN, LAUNCHER_NAME);
	RegisterBackgroundWorker(&worker);
}

/*
 * Is the otto extension installed in the database we are connected to?  When
 * it has just appeared, refill the URL filter (shared memory starts empty).
 */
static bool
otto_extension_installed(bool was_installed)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("otto", true));
	CommitTransactionCommand();
	if (installed && !was_installed)
		ereport(LOG, (errmsg("otto launcher loaded " INT64_FORMAT " known URLs into the URL filter",
							 worker_sql_int64("SELECT otto.url_filter_rebuild()", 0, NULL, NULL, NULL))));
	return installed;
}

/*
 * Workers left running by a previous launcher (one that exited with an
 * error) cannot be adopted: stop them, so that no two workers share a slot.
 */
static void
stop_orphan_workers(void)
{
	for (int tries = 0; tries < 100; tries++)
	{
		int64		n = worker_sql_int64("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
								  " WHERE backend_type IN ('otto crawler', 'otto stream', 'otto trainer')", 0, NULL, NULL, NULL);

		if (n == 0)
			return;
		if (tries == 0)
			ereport(LOG, (errmsg("otto launcher is stopping " INT64_FORMAT " workers it did not start", n)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Keep crawler workers 0 .. otto.crawler_workers-1 and the stream processor
 * running while the extension is installed, and stop the others.  Returns how
 * soon (ms) the launcher should look again for a worker waiting out its
 * restart delay.
 */
static long
supervise_workers(bool installed)
{
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = -1;

	for (int i = 0; i <= TRAINER_SLOT; i++)
	{
		bool		wanted = installed && (i == STREAM_SLOT ? otto_stream_enabled :
										   i == TRAINER_SLOT ? otto_price_trainer_enabled : i < otto_crawler_workers);
		const char *type = i == STREAM_SLOT ? "otto stream" : i == TRAINER_SLOT ? "otto trainer" : "otto crawler";
		pid_t		pid;
		BgwHandleStatus st = workers[i] ? GetBackgroundWorkerPid(workers[i], &pid) : BGWH_STOPPED;
		char		name[BGW_MAXLEN];

		if (i >= STREAM_SLOT)
			snprintf(name, sizeof(name), "%s", type);
		else
			snprintf(name, sizeof(name), "otto crawler %d", i);
		if (st == BGWH_STOPPED && workers[i])
		{
			pfree(workers[i]);
			workers[i] = NULL;
			if (wanted)
				ereport(LOG, (errmsg("%s exited; the launcher starts it again", name)));
		}
		if (!wanted && workers[i])
			TerminateBackgroundWorker(workers[i]);
		else if (wanted && workers[i] == NULL)
		{
			TimestampTz allowed = worker_started_at[i] + RESTART_DELAY * USECS_PER_SEC;
			BackgroundWorker w;
			MemoryContext old;

			if (now < allowed)
			{
				long		ms = (long) ((allowed - now) / 1000) + 1;

				next_ms = next_ms < 0 ? ms : Min(next_ms, ms);
				continue;
			}
			memset(&w, 0, sizeof(w));
			w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
			w.bgw_start_time = BgWorkerStart_RecoveryFinished;
			w.bgw_restart_time = BGW_NEVER_RESTART;
			snprintf(w.bgw_library_name, BGW_MAXLEN, "otto");
			snprintf(w.bgw_function_name, BGW_MAXLEN, i == STREAM_SLOT ? "otto_stream_main" :
					 i == TRAINER_SLOT ? "otto_price_trainer_main" : "otto_crawler_main");
			snprintf(w.bgw_name, BGW_MAXLEN, "%s", name);
			snprintf(w.bgw_type, BGW_MAXLEN, "%s", type);
			w.bgw_main_arg = Int32GetDatum(i);
			w.bgw_notify_pid = MyProcPid;
			old = MemoryContextSwitchTo(TopMemoryContext);
			if (!RegisterDynamicBackgroundWorker(&w, &workers[i]))
			{
				workers[i] = NULL;
				ereport(WARNING,
						(errmsg("otto launcher could not start %s: no free background worker slot", name),
						 errhint("Raise max_worker_processes (otto needs otto.crawler_workers + 3 slots) and restart the server.")));
			}
			MemoryContextSwitchTo(old);
			worker_started_at[i] = now;
		}
	}
	return next_ms;
}

/*
 * Close the crawl sweeps that have finished (otto.sweep_check): the ads they
 * did not reach are queued for one more fetch, which tells removed from
 * unlisted.
 */
static void
check_sweeps(void)
{
	int64		n = worker_sql_int64("SELECT otto.sweep_check()", 0, NULL, NULL, NULL);

	if (n > 0)
		ereport(LOG, (errmsg("otto launcher: a sweep finished; " INT64_FORMAT " ads it did not reach are queued for a last look", n)));
}

/* Entry point of the launcher process. */
void
otto_launcher_main(Datum main_arg)
{
	MemoryContext loop_context;
	int			installed = -1;	/* unknown until the first check */
	bool		start_recorded = false;	/* in otto.worker_start */

	worker_start(LAUNCHER_NAME, NULL);

	ereport(LOG,
			(errmsg("otto launcher started"),
			 errdetail("database=%s crawler_workers=%d naptime=%dms",
					   otto_database, otto_crawler_workers, otto_launcher_naptime_ms)));

	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "otto launcher loop",
										 ALLOCSET_DEFAULT_SIZES);
	stop_orphan_workers();

	while (!otto_got_sigterm)
	{
		MemoryContext oldcontext;
		bool		now_installed;
		long		timeout;

		CHECK_FOR_INTERRUPTS();

		if (worker_reload_config())
		{
			ereport(LOG,
					(errmsg("otto launcher reloaded its configuration"),
					 errdetail("crawler_workers=%d naptime=%dms",
							   otto_crawler_workers, otto_launcher_naptime_ms)));
		}

		oldcontext = MemoryContextSwitchTo(loop_context);
		now_installed = otto_extension_installed(installed == 1);
		MemoryContextSwitchTo(oldcontext);
		MemoryContextReset(loop_context);

		if ((int) now_installed != installed)
		{
			if (now_installed)
			{
				ereport(LOG,
						(errmsg("otto launcher found the otto extension in database \"%s\"",
								otto_database)));
				if (!start_recorded)
					(void) worker_sql_int64("SELECT otto.worker_started('launcher', 0)", 0, NULL, NULL, NULL);
				/* crawlers that died on a page (a crash restarts us too): counted before any crawler starts */
				otto_crash_records_apply(-1);
				start_recorded = true;
			}
			else
				ereport(LOG,
						(errmsg("otto launcher is idle: the otto extension is not installed in database \"%s\"",
								otto_database),
						 errhint("Run CREATE EXTENSION otto in database \"%s\", or set otto.database.",
								 otto_database)));
			installed = now_installed;
		}
		if (now_installed)
		{
			oldcontext = MemoryContextSwitchTo(loop_context);
			check_sweeps();
			MemoryContextSwitchTo(oldcontext);
			MemoryContextReset(loop_context);
		}
		timeout = supervise_workers(now_installed);
		timeout = timeout < 0 ? otto_launcher_naptime_ms : Min(timeout, otto_launcher_naptime_ms);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	supervise_workers(false);
	ereport(LOG, (errmsg("otto launcher shutting down")));
	proc_exit(0);
}
