/*
 * otto.c: the library's entry point and its build information.
 *
 * _PG_init only asks each module to define its settings and, when the
 * library is preloaded, to register its shared memory and workers;
 * everything else lives in the module named for what it does.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "buyers/users.h"
#include "chat/tools.h"
#include "core/launcher.h"
#include "core/worker.h"
#include "crawl/crawler.h"
#include "crawl/fetch.h"
#include "crawl/politeness.h"
#include "crawl/urlfilter.h"
#include "market/price_model.h"
#include "market/stream.h"
#include "ops/metrics.h"
#include "parse/parse.h"
#include "sites/url.h"

PG_MODULE_MAGIC;

/* True in processes forked from a postmaster that preloaded otto. */
static bool otto_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	/* Otto's settings, all under the reserved prefix "otto" */
	WorkerGucInit();
	LauncherGucInit();
	UrlGucInit();
	ParseGucInit();
	FetchGucInit();
	CrawlerGucInit();
	StreamGucInit();
	PriceModelGucInit();
	ToolsGucInit();
	UsersGucInit();
	MarkGUCPrefixReserved("otto");

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
	WorkerShmemInit();
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
					 "{\"otto\": \"%s\", \"postgres\": \"%s\", \"libcurl\": \"%s\", \"preloaded\": %s}",
					 OTTO_VERSION, PG_VERSION, curl->version,
					 otto_preloaded ? "true" : "false");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
