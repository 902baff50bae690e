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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#define OTTO_MCP_VERSION "1.0"
#define MAX_MESSAGE (16 * 1024 * 1024)	/* longer lines are refused, not buffered */

/* JSON-RPC error codes */
#define PARSE_ERROR		-32700
#define INVALID_REQUEST -32600
#define METHOD_NOT_FOUND -32601
#define INVALID_PARAMS	-32602
#define INTERNAL_ERROR	-32603

/* Protocol versions spoken, newest first; the first is offered by default. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

static PGconn *conn;
static bool initialized;
static volatile sig_atomic_t got_signal;

static void
log_msg(const char *level, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "otto-mcp: %s: ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

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

/* Length of the valid UTF-8 character at s (at most n bytes), or 0. */
static size_t
utf8_char_len(const unsigned char *s, size_t n)
{
	size_t		len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;

	if (len == 0 || len > n || (len == 2 && s[0] < 0xC2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/*
 * Append s to the string in dst, the whole at most cap bytes, cut at a
 * character boundary with "..." when it does not fit; bytes that are not
 * UTF-8 become '?'.  Replies quote what a caller sent: they stay short and
 * are always valid JSON text.
 */
static void
append_clipped(char *dst, size_t cap, const char *s)
{
	size_t		o = strlen(dst);
	size_t		n = strlen(s);

	for (size_t i = 0; i < n;)
	{
		size_t		len = utf8_char_len((const unsigned char *) s + i, n - i);

		if (o + (len ? len : 1) + 4 > cap)
		{
			strcpy(dst + o, "...");
			return;
		}
		if (len == 0)
			dst[o++] = '?', i++;
		else
		{
			memcpy(dst + o, s + i, len);
			o += len, i += len;
		}
	}
	dst[o] = '\0';
}

static void
reply(json_t *id, json_t *result)
{
	send_message(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static void
reply_error(json_t *id, int code, const char *message)
{
	send_message(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
						   "error", "code", code, "message", message));
}

/*
 * Connect as the chat role: read-only transactions and a statement timeout
 * set for the whole session, then SET ROLE to OTTO_MCP_ROLE (otto_chat), and
 * with OTTO_MCP_USER_TOKEN sign that Otto user in (otto.login).
 */
static bool
db_connect(void)
{
	const char *url = getenv("DATABASE_URL");
	const char *role = getenv("OTTO_MCP_ROLE");
	const char *keys[4];
	const char *vals[4];
	const char *params[1];
	int			n = 0;
	PGresult   *res;

	if (url && *url)
	{
		keys[n] = "dbname";		/* expanded: a URL or a conninfo string */
		vals[n++] = url;
	}
	keys[n] = "application_name";
	vals[n++] = "otto-mcp";
	keys[n] = "options";
	vals[n++] = "-c default_transaction_read_only=on -c statement_timeout=30s";
	keys[n] = vals[n] = NULL;
	if (conn)
		PQfinish(conn);
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		log_msg("error", "cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		return false;
	}
	params[0] = (role && *role) ? role : "otto_chat";
	res = PQexecParams(conn, "SELECT pg_catalog.set_config('role', $1, false)", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		log_msg("error", "cannot act as role %s: %s(grant it to the user otto-mcp connects as)",
				params[0], PQresultErrorMessage(res));
		PQclear(res);
		return false;
	}
	PQclear(res);
	log_msg("info", "connected to database %s as %s (role %s)", PQdb(conn), PQuser(conn), params[0]);
	/* a buyer's own tools (recommend) need their user signed in */
	params[0] = getenv("OTTO_MCP_USER_TOKEN");
	if (params[0] && *params[0])
	{
		res = PQexecParams(conn, "SELECT otto.login($1)", 1, NULL, params, NULL, NULL, 0);
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

static json_t *
text_content(const char *text)
{
	return json_pack("[{s:s, s:s}]", "type", "text", "text", text);
}

static void
handle_tools_list(json_t *id)
{
	PGresult   *res = db_call("SELECT otto.tools()", 0, NULL);
	json_t	   *tools;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (res)
			log_msg("error", "otto.tools(): %s", PQresultErrorMessage(res));
		reply_error(id, INTERNAL_ERROR, "the Otto database is not available");
		PQclear(res);
		return;
	}
	tools = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	if (tools == NULL)
		reply_error(id, INTERNAL_ERROR, "otto.tools() returned invalid JSON");
	else
		reply(id, tools);
}

static void
handle_tools_call(json_t *id, json_t *params)
{
	json_t	   *name = json_object_get(params, "name");
	json_t	   *args = json_object_get(params, "arguments");
	const char *values[2];
	char	   *args_text;
	PGresult   *res;

	if (!json_is_string(name) || (args && !json_is_object(args) && !json_is_null(args)))
	{
		reply_error(id, INVALID_PARAMS, "tools/call needs params {\"name\": string, \"arguments\": object}");
		return;
	}
	args_text = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : strdup("{}");
	if (args_text == NULL)
	{
		reply_error(id, INTERNAL_ERROR, "out of memory");
		return;
	}
	values[0] = json_string_value(name);
	values[1] = args_text;
	res = db_call("SELECT otto.call_tool($1, $2::jsonb)::text", 2, values);
	free(args_text);
	if (res == NULL)
		reply(id, json_pack("{s:o, s:b}", "content", text_content("The Otto database is not available; try again later."),
							"isError", 1));
	else if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		const char *text = PQgetvalue(res, 0, 0);
		json_t	   *result = json_loads(text, 0, NULL);

		if (result == NULL || !json_is_object(result))
		{
			json_decref(result);
			reply_error(id, INTERNAL_ERROR, "the tool returned no JSON object");
		}
		else
			reply(id, json_pack("{s:o, s:o, s:b}", "content", text_content(text), "structuredContent", result,
								"isError", 0));
	}
	else
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

		if (state && strcmp(state, "42883") == 0 && msg && strncmp(msg, "unknown tool", 12) == 0)
		{
			char		buf[256] = "Unknown tool: ";

			append_clipped(buf, sizeof(buf), json_string_value(name));
			reply_error(id, INVALID_PARAMS, buf);
		}
		else
		{
			/* a tool failure: the model reads it and can correct itself (a page of it at most) */
			char		text[2048] = "Error: ";

			append_clipped(text, 1024, msg ? msg : "the tool failed");	/* leaves room for the hint */
			if (hint)
			{
				append_clipped(text, sizeof(text), " Hint: ");
				append_clipped(text, sizeof(text), hint);
			}
			reply(id, json_pack("{s:o, s:b}", "content", text_content(text), "isError", 1));
			if (state && strncmp(state, "22", 2) != 0 && strcmp(state, "P0002") != 0)
				log_msg("warning", "tool %.64s failed: %s (SQLSTATE %s)", json_string_value(name), text, state);
		}
	}
	PQclear(res);
}

static void
handle_initialize(json_t *id, json_t *params)
{
	const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
	const char *version = versions[0];

	for (size_t i = 0; asked && i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(asked, versions[i]) == 0)
			version = versions[i];
	initialized = true;
	reply(id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
						"protocolVersion", version,
						"capabilities", "tools", "listChanged", 0,
						"serverInfo", "name", "otto-mcp", "title", "Otto car market", "version", OTTO_MCP_VERSION,
						"instructions",
						"Otto answers questions about the used-car market (polovniautomobili.com, prices in euros) "
						"from live data: fair values, depreciation, fastest-selling models, good deals, ad search "
						"and comparison. Every result states as_of and its sample size (n)."));
}

/* One message (one line). */
static void
handle_line(const char *line, size_t len)
{
	json_error_t err;
	json_t	   *msg;
	json_t	   *id;
	json_t	   *method;
	json_t	   *params;
	const char *m;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	msg = json_loadb(line, len, 0, &err);
	if (msg == NULL)
	{
		char		buf[300] = "Parse error: ";

		append_clipped(buf, sizeof(buf), err.text);
		reply_error(NULL, PARSE_ERROR, buf);
		return;
	}
	if (!json_is_object(msg))
	{
		reply_error(NULL, INVALID_REQUEST, json_is_array(msg) ? "Invalid Request: batches are not supported"
					: "Invalid Request: a message is a JSON object");
		json_decref(msg);
		return;
	}
	id = json_object_get(msg, "id");
	method = json_object_get(msg, "method");
	params = json_object_get(msg, "params");
	if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_real(id))
	{
		reply_error(NULL, INVALID_REQUEST, "Invalid Request: id must be a string or a number");
		json_decref(msg);
		return;
	}
	if (method == NULL && (json_object_get(msg, "result") || json_object_get(msg, "error")))
	{
		json_decref(msg);		/* a response: we send no requests, so nothing waits for it */
		return;
	}
	if (!json_is_string(method) || !json_is_string(json_object_get(msg, "jsonrpc")) ||
		strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0 ||
		(params && !json_is_object(params) && !json_is_array(params)))
	{
		if (id)
			reply_error(id, INVALID_REQUEST, "Invalid Request: needs \"jsonrpc\": \"2.0\", a string \"method\" and object \"params\"");
		json_decref(msg);
		return;
	}
	m = json_string_value(method);
	if (id == NULL)
	{
		/* notifications: initialized, cancelled, ... need no answer */
		if (strcmp(m, "notifications/initialized") == 0)
			initialized = true;
	}
	else if (strcmp(m, "initialize") == 0)
		handle_initialize(id, params);
	else if (strcmp(m, "ping") == 0)
		reply(id, json_object());
	else if (!initialized)
		reply_error(id, INVALID_REQUEST, "Invalid Request: send initialize first");
	else if (strcmp(m, "tools/list") == 0)
		handle_tools_list(id);
	else if (strcmp(m, "tools/call") == 0)
		handle_tools_call(id, json_is_object(params) ? params : NULL);
	else
	{
		char		buf[256] = "Method not found: ";

		append_clipped(buf, sizeof(buf), m);
		reply_error(id, METHOD_NOT_FOUND, buf);
	}
	json_decref(msg);
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
			printf("otto-mcp %s (MCP %s)\n", OTTO_MCP_VERSION, versions[0]);
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
				reply_error(NULL, INVALID_REQUEST, "Invalid Request: message too large");
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
