/*
 * otto-mcp: Otto's chat tools over the Model Context Protocol, on stdio.
 *
 * Reads newline-delimited JSON-RPC 2.0 from stdin, answers on stdout, logs to
 * stderr.  Tools are whatever otto.tools() lists; a call runs
 * otto.call_tool(name, arguments) - fixed, parameterised statements only, as
 * the chat role, read-only, under a statement timeout.  The connection comes
 * from DATABASE_URL or the usual libpq environment (PGHOST, PGDATABASE, ...).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"

#define MAX_MESSAGE (16 * 1024 * 1024)	/* longer lines are refused, not buffered */

static PGconn *conn;
static volatile sig_atomic_t got_signal;

#define log_msg(...) mcp_log("otto-mcp", __VA_ARGS__)

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* Write one message as one line; takes the reference. */
static void
send_message(json_t *msg)
{
	char	   *s = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (s == NULL)
	{
		log_msg("error", "could not encode a reply");
		return;
	}
	fputs(s, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	free(s);
}

/*
 * Connect as the chat role OTTO_MCP_ROLE (otto_chat), read-only, and with
 * OTTO_MCP_USER_TOKEN sign that Otto user in (otto.login).
 */
static bool
db_connect(void)
{
	const char *role = getenv("OTTO_MCP_ROLE");
	const char *token = getenv("OTTO_MCP_USER_TOKEN");

	if (conn)
		PQfinish(conn);
	conn = mcp_connect("otto-mcp", (role && *role) ? role : "otto_chat", true);
	if (conn == NULL)
		return false;
	/* a buyer's own tools (recommend) need their user signed in */
	if (token && *token)
	{
		PGresult   *res = PQexecParams(conn, "SELECT otto.login($1)", 1, NULL, &token, NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			log_msg("error", "cannot sign in with OTTO_MCP_USER_TOKEN: %s", PQresultErrorMessage(res));
			PQclear(res);
			return false;
		}
		log_msg("info", "signed in as Otto user %s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return true;
}

/*
 * Run a fixed statement returning one json(b) value; reconnects once when the
 * connection was lost.  Returns the result (caller PQclears) or NULL when the
 * database cannot be reached.
 */
static PGresult *
db_call(const char *sql, int nparams, const char *const *params)
{
	for (int attempt = 0; attempt < 2; attempt++)
	{
		PGresult   *res;

		if ((conn == NULL || PQstatus(conn) != CONNECTION_OK) && !db_connect())
			return NULL;
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
		if (PQstatus(conn) == CONNECTION_OK)
			return res;
		log_msg("warning", "connection lost: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		conn = NULL;
	}
	return NULL;
}

static PGresult *
db_call_cb(void *arg, const char *sql, int nparams, const char *const *params)
{
	return db_call(sql, nparams, params);
}

static McpContext mcp = {db_call_cb, NULL, "otto-mcp", false, NULL};

/* One message (one line): its reply, if any, as one line. */
static void
handle_line(const char *line, size_t len)
{
	json_t	   *out;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	out = mcp_handle_text(&mcp, line, len);
	if (out)
		send_message(out);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	char	   *buf;
	size_t		cap = 65536;
	size_t		len = 0;
	bool		discarding = false;

	if (argc > 1)
	{
		bool		help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;

		if (strcmp(argv[1], "--version") == 0)
		{
			printf("otto-mcp %s (MCP %s)\n", OTTO_MCP_VERSION, mcp_versions[0]);
			return 0;
		}
		fprintf(help ? stdout : stderr,
				"Usage: otto-mcp\n"
				"Serves Otto's chat tools over MCP on stdin/stdout (newline-delimited JSON-RPC).\n"
				"Connects with DATABASE_URL or the PG* environment, acting as OTTO_MCP_ROLE (default otto_chat),\n"
				"signed in as the Otto user of OTTO_MCP_USER_TOKEN when it is set.\n");
		return help ? 0 : 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;		/* no SA_RESTART: a blocked read returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!db_connect())
		return 1;
	buf = malloc(cap);
	if (buf == NULL)
		return 1;
	while (!got_signal)
	{
		ssize_t		n;
		char	   *nl;
		size_t		start = 0;

		if (cap - len < 65536 && !discarding)
		{
			size_t		ncap = cap * 2 > MAX_MESSAGE + 65536 ? MAX_MESSAGE + 65536 : cap * 2;
			char	   *nbuf = ncap > cap ? realloc(buf, ncap) : NULL;

			if (nbuf == NULL)
			{
				log_msg("error", "out of memory");
				return 1;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;				/* EOF or a closed pipe: the client is gone */
		len += n;
		while ((nl = memchr(buf + start, '\n', len - start)) != NULL)
		{
			if (discarding)
				discarding = false;
			else
				handle_line(buf + start, nl - (buf + start));
			start = nl - buf + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len > MAX_MESSAGE || discarding)
		{
			if (!discarding)
			{
				log_msg("warning", "message longer than %d bytes refused", MAX_MESSAGE);
				send_message(mcp_error(NULL, INVALID_REQUEST, "Invalid Request: message too large"));
			}
			discarding = true;
			len = 0;
		}
	}
	if (len > 0 && !discarding && !got_signal)
		handle_line(buf, len);	/* a last message without its newline */
	free(buf);
	PQfinish(conn);
	log_msg("info", got_signal ? "stopped by signal" : "end of input");
	return 0;
}
