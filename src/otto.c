/*
 * otto.c: module entry point, GUCs and build information.
 *
 * _PG_init only defines settings and asks each module to register itself;
 * everything else lives in the module named for what it does.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <libxml/xmlversion.h>

#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "otto.h"

PG_MODULE_MAGIC;

char	   *otto_database = NULL;
int			otto_crawler_workers = 1;
int			otto_launcher_naptime_ms = 10000;

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
	PolitenessInit();
	LauncherInit();
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
