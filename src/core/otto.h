/*
 * otto.h: declarations shared by Otto's modules.
 */
#ifndef OTTO_H
#define OTTO_H

#include "postgres.h"

#include <signal.h>

#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"


/*
 * A value quoted in a message, at most n bytes and cut at a character
 * boundary: errmsg("... \"%.*s\"", OTTO_CLIP(s, 100)).
 */
#define OTTO_CLIP(s, n) (int) pg_mbcliplen((s), strlen(s), (n)), (s)

/* GUCs (otto.c) */
extern char *otto_database;
extern int	otto_crawler_workers;
extern int	otto_launcher_naptime_ms;

/* otto.c */
extern volatile sig_atomic_t otto_got_sigterm;
extern void OttoGucInit(void);
extern void otto_sigterm(SIGNAL_ARGS);
extern int64 otto_sql_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *lock_timeout);

/* url.c */
#define OTTO_URL_MAX 2048
extern char *otto_tracking_params;
extern void UrlGucInit(void);
extern char *otto_url_normalize(const char *base, const char *ref, const char **why);
extern const char *otto_url_host(const char *norm, int *len);
extern const char *otto_url_path(const char *norm);

/* vocab.c */
extern const char *vocab_lookup(const char *field, const char *spelling);

/* parse.c */
extern int	otto_max_page_bytes;
extern void ParseGucInit(void);

/* urlfilter.c */
extern void UrlFilterInit(void);

/* metrics.c */
extern void MetricsInit(void);
extern void metrics_count_fetch(bool robots, int status, const char *error_kind, long elapsed_ms, int64 wire_bytes);

/* robots.c */
typedef struct Robots Robots;
extern Robots *otto_robots_parse(MemoryContext cxt, const char *txt, const char *ua);
extern bool otto_robots_allows(Robots *r, const char *path);
extern double otto_robots_delay(Robots *r);

/* politeness.c */
#define OTTO_MAX_CRAWLERS 64
extern void PolitenessInit(void);
extern int	politeness_slot(const char *host);
extern long politeness_try_start(int slot, int worker, int delay_ms, int max_concurrency, TimestampTz *start);
extern void politeness_done(int slot, int worker);
extern void politeness_worker_start(int worker);
extern void politeness_worker_idle(int worker, bool idle);
extern void politeness_processing_begin(int worker, bool suspect);
extern void politeness_processing_end(int worker);

/* fetch.c */
extern char *otto_user_agent;
extern void FetchGucInit(void);

/* crawler.c */
extern void CrawlerGucInit(void);
extern void otto_crash_records_apply(int index);
extern PGDLLEXPORT void otto_crawler_main(Datum main_arg);

/* stream.c */
extern bool otto_stream_enabled;
extern void StreamGucInit(void);
extern PGDLLEXPORT void otto_stream_main(Datum main_arg);

/* tools.c */
extern void ToolsGucInit(void);

/* users.c */
extern void UsersGucInit(void);

/* launcher.c */
extern void LauncherInit(void);
extern PGDLLEXPORT void otto_launcher_main(Datum main_arg);

#endif							/* OTTO_H */
