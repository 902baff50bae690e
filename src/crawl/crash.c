/*
 * crash.c: poison pages.  A page that kills its crawler worker (and so
 * restarts the server) must not do it for ever: it is named before it is
 * processed, processed alone once it is a suspect (politeness.c), and
 * quarantined after CRASHES_TO_QUARANTINE deaths (crawler.c).
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/fd.h"
#include "utils/builtins.h"

#include "core/worker.h"
#include "crawl/crash.h"
#include "crawl/politeness.h"
#include "sites/url.h"

/*
 * Crash records.  While a worker processes pages (a batch, stored in one
 * transaction), a file of its own names them, a line each ("pid url"):
 * written before, emptied after, and emptied too when the worker is told to
 * quit at once (SIGQUIT: another process crashed, or an immediate shutdown),
 * since then the pages are not to blame.  A record left behind means the
 * worker died on one of those pages, whatever killed it; each is counted
 * (and so processed alone from then on, which finds the one to blame); the
 * launcher, before it starts the crawlers again, counts it
 * (otto_crash_records_apply).  A file and not a transaction: it survives the
 * process's crash without a WAL flush per page (which cost a third of the
 * crawl rate), and a crash of the whole machine loops no page.
 */
#define CRASH_RECORD "pg_stat_tmp/otto_crawler.%d.processing"
static int	record_fd = -1;
static off_t record_len = 0;	/* bytes of lines in the record */

/* SIGQUIT in a crawler: the page in hand is not to blame (see CRASH_RECORD); then exit as PostgreSQL's handler does. */
void
crash_quickdie(SIGNAL_ARGS)
{
	/* (should it fail, the record left behind blames the page once too often, no more) */
	int			rc = record_fd >= 0 ? ftruncate(record_fd, 0) : 0;

	(void) rc;
	_exit(2);
}

/*
 * Count the deaths that crash records left behind name (frontier.crashes),
 * and remove the records: of worker index, or of every worker (-1).  A
 * record whose process still runs is left alone.
 */
void
otto_crash_records_apply(int index)
{
	for (int i = Max(index, 0); i < (index < 0 ? OTTO_MAX_CRAWLERS : index + 1); i++)
	{
		char		path[MAXPGPATH];
		char		line[OTTO_URL_MAX + 32];
		FILE	   *f;
		List	   *urls = NIL;
		bool		alive = false;
		ListCell   *lc;

		snprintf(path, sizeof(path), CRASH_RECORD, i);
		if ((f = AllocateFile(path, "r")) == NULL)
			continue;
		/* read it whole first: a transaction's end closes the file */
		while (!alive && fgets(line, sizeof(line), f) != NULL)
		{
			int			pid = 0;
			int			n = 0;

			line[strcspn(line, "\n")] = '\0';
			if (sscanf(line, "%d %n", &pid, &n) != 1 || n == 0 || line[n] == '\0')
				continue;
			alive = pid > 0 && kill(pid, 0) == 0;	/* its worker is at work */
			urls = lappend(urls, pstrdup(line + n));
		}
		FreeFile(f);
		if (alive)
			continue;
		foreach(lc, urls)
		{
			Oid			type = TEXTOID;
			Datum		url = CStringGetTextDatum(lfirst(lc));

			worker_sql_int64("SELECT otto.frontier_crashed($1)", 1, &type, &url, NULL);
		}
		if (urls != NIL)
			ereport(LOG,
					(errmsg("otto: a crawler worker died while processing %s%s; %s processed alone from now on, and quarantined if it happens again",
							(char *) linitial(urls),
							list_length(urls) > 1 ? psprintf(" and %d other pages of its batch", list_length(urls) - 1) : "",
							list_length(urls) > 1 ? "each is" : "it is")));
		unlink(path);
	}
}

/* This worker's record, opened empty at its start. */
void
crash_record_open(int worker)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), CRASH_RECORD, worker);
	record_fd = BasicOpenFile(path, O_RDWR | O_CREAT | O_TRUNC | PG_BINARY);
	if (record_fd < 0)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("otto crawler %d: could not open its crash record \"%s\": %m", worker, path),
				 errdetail("A page that crashes the worker will not be quarantined.")));
}

/*
 * The page at url is about to be processed with the batch in hand: the
 * record gets its line, after the batch's (one write of at most
 * OTTO_URL_MAX + 12 bytes; the record holds at most a batch's lines).
 */
void
crash_record_add(int worker, const char *url)
{
	char		line[OTTO_URL_MAX + 16];
	int			len = snprintf(line, sizeof(line), "%d %s\n", MyProcPid, url);

	if (record_fd < 0)
		return;
	if (len >= (int) sizeof(line))
	{
		len = sizeof(line) - 1;	/* (a URL is at most OTTO_URL_MAX long: never) */
		line[len - 1] = '\n';
	}
	if (pwrite(record_fd, line, len, record_len) != len)
		ereport(WARNING, (errcode_for_file_access(), errmsg("otto crawler %d: could not write its crash record: %m", worker)));
	else
		record_len += len;
}

/* The pages are processed (or quarantined): the record is emptied. */
void
crash_record_end(int worker)
{
	record_len = 0;
	if (record_fd >= 0 && ftruncate(record_fd, 0) < 0)
		ereport(WARNING, (errcode_for_file_access(), errmsg("otto crawler %d: could not empty its crash record: %m", worker)));
}
