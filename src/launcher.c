/*
 * launcher.c: the Otto launcher background worker.
 *
 * One launcher per cluster, registered at server start when otto is in
 * shared_preload_libraries.  It connects to otto.database, waits on its latch
 * and watches whether the otto extension is installed there; later stages
 * hang their supervision of crawler and stream workers off this loop.
 *
 * SIGTERM (server shutdown or pg_terminate_backend) ends it with exit code 0,
 * which tells the postmaster not to restart it until the next server start.
 * A crash (any other exit) is restarted after bgw_restart_time, and at once
 * after the postmaster reinitialises the cluster.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "otto.h"

#define LAUNCHER_NAME "otto launcher"

static volatile sig_atomic_t got_sigterm = false;

/* SIGTERM: ask the main loop to finish; the latch wakes it at once. */
static void
launcher_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* Register the launcher; called from _PG_init during preload. */
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

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "otto launcher: checking for the otto extension");

	installed = OidIsValid(get_extension_oid("otto", true));
	if (installed && !was_installed)
	{
		SPI_connect();
		if (SPI_execute("SELECT otto.url_filter_rebuild()", false, 0) == SPI_OK_SELECT)
		{
			bool		isnull;
			int64		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

			ereport(LOG, (errmsg("otto launcher loaded " INT64_FORMAT " known URLs into the URL filter", n)));
		}
		SPI_finish();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return installed;
}

/* Entry point of the launcher process. */
void
otto_launcher_main(Datum main_arg)
{
	MemoryContext loop_context;
	int			installed = -1;	/* unknown until the first check */

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, launcher_sigterm);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(otto_database, NULL, 0);
	pgstat_report_appname(LAUNCHER_NAME);

	ereport(LOG,
			(errmsg("otto launcher started"),
			 errdetail("database=%s crawler_workers=%d naptime=%dms",
					   otto_database, otto_crawler_workers, otto_launcher_naptime_ms)));

	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "otto launcher loop",
										 ALLOCSET_DEFAULT_SIZES);

	while (!got_sigterm)
	{
		MemoryContext oldcontext;
		bool		now_installed;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
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
				ereport(LOG,
						(errmsg("otto launcher found the otto extension in database \"%s\"",
								otto_database)));
			else
				ereport(LOG,
						(errmsg("otto launcher is idle: the otto extension is not installed in database \"%s\"",
								otto_database),
						 errhint("Run CREATE EXTENSION otto in database \"%s\", or set otto.database.",
								 otto_database)));
			installed = now_installed;
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 otto_launcher_naptime_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	ereport(LOG, (errmsg("otto launcher shutting down")));
	proc_exit(0);
}
