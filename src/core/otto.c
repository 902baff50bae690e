/*
 * otto.c: module entry point, GUCs and build information.
 *
 * _PG_init only defines settings and asks each module to register itself;
 * everything else lives in the module named for what it does.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <libxml/xmlversion.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "core/otto.h"

PG_MODULE_MAGIC;

char	   *otto_database = NULL;
int			otto_crawler_workers = 1;
int			otto_launcher_naptime_ms = 10000;

volatile sig_atomic_t otto_got_sigterm = false;

/* True in processes forked from a postmaster that preloaded otto. */
static bool otto_preloaded = false;

void		_PG_init(void);

/* Define Otto's settings; all live under the reserved prefix "otto". */
void
OttoGucInit(void)
{
	/* Postmaster-level settings exist only for the preloaded library. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("otto.database",
								   "Database the Otto launcher and workers connect to.",
								   "Create the otto extension in this database.",
								   &otto_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);

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

	UrlGucInit();
	ParseGucInit();
	FetchGucInit();
	CrawlerGucInit();
	StreamGucInit();
	ToolsGucInit();
	UsersGucInit();

	MarkGUCPrefixReserved("otto");
}

void
_PG_init(void)
{
	OttoGucInit();

	if (!process_shared_preload_libraries_in_progress)
	{
		/*
		 * CREATE EXTENSION hides notices while its script runs, so the
		 * person installing otto gets a warning; everyone else a notice.
		 */
		ereport(creating_extension ? WARNING : NOTICE,
				(errmsg("otto is loaded without shared_preload_libraries, so its background workers are not running"),
				 errhint("Add otto to shared_preload_libraries in postgresql.conf and restart the server to crawl; the SQL functions work either way.")));
		return;
	}

	otto_preloaded = true;
	UrlFilterInit();
	MetricsInit();
	PolitenessInit();
	LauncherInit();
}

/* SIGTERM in Otto's workers: finish the main loop; the latch wakes it at once. */
void
otto_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	otto_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Run one statement that returns one bigint (NULL counts as 0) in its own
 * transaction, for the workers' loops.  With lock_timeout given, a lock
 * timeout rolls back and sets it (try again later); every other error goes
 * up and ends the worker, whose state is all in the database.
 */
int64
otto_sql_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *lock_timeout)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		result = 0;

	if (lock_timeout)
		*lock_timeout = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		bool		isnull;
		Datum		d;

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, sql);
		if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "\"%s\" returned no row", sql);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		result = isnull ? 0 : DatumGetInt64(d);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		if (lock_timeout == NULL || ed->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(DEBUG1, (errmsg("%s: %s; trying again", MyBgworkerEntry ? MyBgworkerEntry->bgw_name : "otto", ed->message)));
		*lock_timeout = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/* Versions Otto was built and runs with, as jsonb, for bug reports. */
PG_FUNCTION_INFO_V1(otto_build_info);
Datum
otto_build_info(PG_FUNCTION_ARGS)
{
	curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "{\"otto\": \"%s\", \"postgres\": \"%s\", \"libcurl\": \"%s\", "
					 "\"libxml2\": \"%s\", \"preloaded\": %s}",
					 OTTO_VERSION, PG_VERSION, curl->version, LIBXML_DOTTED_VERSION,
					 otto_preloaded ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
