/*
 * fuzz_sql.c: libFuzzer target for the whole parse path, driven through SQL
 * on a live server: each input, as the raw bytes a server sent, goes through
 * otto.decode_body (charsets, invalid UTF-8, NUL) and the text it gives
 * through otto.parse_ad (rows, scripts, JSON-LD, typing of every value),
 * otto.parse_listing, otto.extract_links and otto.ingest_page (rolled back).
 *
 * The server's code is not instrumented, so the tokenizer walk (html.c,
 * compiled in) gives libFuzzer its coverage signal.  A backend that dies (the
 * connection is lost), an internal error (SQLSTATE XX000) or a call that
 * outlives its statement_timeout by a second aborts the fuzzer, which keeps
 * the input that did it.
 *
 *   OTTO_FUZZ_CONNINFO="host=... dbname=otto" fuzz/fuzz_sql -max_total_time=60 CORPUS_DIR
 * (a database where CREATE EXTENSION otto was run; scripts/test sets one up)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "../src/parse/html.h"

#define TIMEOUT_MS 5000

static PGconn *conn;

static bool
walk_cb(HtmlWalker *w, HtmlEvent ev, void *arg)
{
	return true;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Run one statement; abort on what must never happen. */
static void
run(const char *sql, int n, const char *const *values, const int *lengths, const int *formats)
{
	double		t = now_ms();
	PGresult   *res = PQexecParams(conn, sql, n, NULL, values, lengths, formats, 0);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "fuzz_sql: the connection was lost (a backend died?): %s\n", PQerrorMessage(conn));
		abort();
	}
	if (state && strncmp(state, "XX", 2) == 0)
	{
		fprintf(stderr, "fuzz_sql: internal error %s: %s\n", state, PQresultErrorMessage(res));
		abort();
	}
	if (now_ms() - t > TIMEOUT_MS + 1000)
	{
		fprintf(stderr, "fuzz_sql: a call took %.0f ms, past its statement_timeout of %d ms\n", now_ms() - t, TIMEOUT_MS);
		abort();
	}
	PQclear(res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static HtmlWalker w;
	static const char *const types[] = {"text/html", "text/html; charset=utf-8", "text/html; charset=windows-1250",
	"text/html; charset=iso-8859-2", "text/html; charset=x-unknown"};
	const char *values[4];
	int			lengths[4] = {(int) size, 0, 0, 0};
	int			formats[4] = {1, 0, 0, 0};

	if (conn == NULL)
	{
		const char *info = getenv("OTTO_FUZZ_CONNINFO");

		conn = PQconnectdb(info ? info : "dbname=otto");
		if (PQstatus(conn) != CONNECTION_OK)
		{
			fprintf(stderr, "fuzz_sql: cannot connect: %s", PQerrorMessage(conn));
			exit(2);
		}
		PQclear(PQexec(conn, "SET statement_timeout = 5000; SET client_min_messages = error"));
	}
	html_walk(&w, (const char *) data, size, walk_cb, NULL);

	values[0] = (const char *) data;
	values[1] = types[size ? data[0] % 5 : 0];
	values[2] = "https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4";
	values[3] = "https://www.polovniautomobili.com/auto-oglasi/pretraga?page=1";
	run("SELECT length(otto.parse_ad(h, $3)::text), length(otto.parse_listing(h, $4)::text),"
		"       (SELECT count(*) FROM otto.extract_links(h, $4))"
		"  FROM otto.decode_body($1, $2) h", 4, values, lengths, formats);
	PQclear(PQexec(conn, "BEGIN"));
	run("SELECT otto.ingest_page($3, otto.decode_body($1, $2))", 3, values, lengths, formats);
	PQclear(PQexec(conn, "ROLLBACK"));
	return 0;
}
