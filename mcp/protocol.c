/*
 * mcp/protocol.c: the MCP tool layer shared by otto-mcp (stdio) and otto-web
 * (Streamable HTTP).  Tools are whatever otto.tools() lists; a call runs
 * otto.call_tool(name, arguments): fixed, parameterised statements only, on a
 * connection the transport opened as the chat role.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

/* Protocol versions spoken, newest first; the first is offered by default. */
const char *const mcp_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
const size_t mcp_nversions = sizeof(mcp_versions) / sizeof(mcp_versions[0]);

void
mcp_log(const char *who, const char *level, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: %s: ", who, level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

size_t
mcp_utf8_char_len(const unsigned char *s, size_t n)
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
 * Bytes that are not UTF-8 become '?'.  Replies quote what a caller sent:
 * they stay short and are always valid JSON text.
 */
void
mcp_append_clipped(char *dst, size_t cap, const char *s)
{
	size_t		o = strlen(dst);
	size_t		n = strlen(s);

	for (size_t i = 0; i < n;)
	{
		size_t		len = mcp_utf8_char_len((const unsigned char *) s + i, n - i);

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

static json_t *
result_reply(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

json_t *
mcp_error(json_t *id, int code, const char *message)
{
	return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
					 "error", "code", code, "message", message);
}

static json_t *
text_content(const char *text)
{
	return json_pack("[{s:s, s:s}]", "type", "text", "text", text);
}

static json_t *
tools_list(McpContext *ctx, json_t *id)
{
	PGresult   *res = ctx->db(ctx->db_arg, "SELECT otto.tools()", 0, NULL);
	json_t	   *tools;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (res)
			mcp_log(ctx->server_name, "error", "otto.tools(): %s", PQresultErrorMessage(res));
		PQclear(res);
		return mcp_error(id, INTERNAL_ERROR, "the Otto database is not available");
	}
	tools = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	if (tools == NULL)
		return mcp_error(id, INTERNAL_ERROR, "otto.tools() returned invalid JSON");
	return result_reply(id, tools);
}

/* A tool's failure as the model reads it (a page at most), or a protocol error for an unknown tool. */
static json_t *
tool_failure(McpContext *ctx, json_t *id, const char *name, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	char		text[2048] = "Error: ";

	if (state && strcmp(state, "42883") == 0 && msg && strncmp(msg, "unknown tool", 12) == 0)
	{
		char		buf[256] = "Unknown tool: ";

		mcp_append_clipped(buf, sizeof(buf), name);
		return mcp_error(id, INVALID_PARAMS, buf);
	}
	mcp_append_clipped(text, 1024, msg ? msg : "the tool failed");	/* leaves room for the hint */
	if (hint)
	{
		mcp_append_clipped(text, sizeof(text), " Hint: ");
		mcp_append_clipped(text, sizeof(text), hint);
	}
	if (state && strncmp(state, "22", 2) != 0 && strcmp(state, "P0002") != 0)
		mcp_log(ctx->server_name, "warning", "tool %.64s failed: %s (SQLSTATE %s)", name, text, state);
	return result_reply(id, json_pack("{s:o, s:b}", "content", text_content(text), "isError", 1));
}

static json_t *
tools_call(McpContext *ctx, json_t *id, json_t *params)
{
	json_t	   *name = json_object_get(params, "name");
	json_t	   *args = json_object_get(params, "arguments");
	const char *values[2];
	char	   *args_text;
	PGresult   *res;
	json_t	   *out;

	if (!json_is_string(name) || (args && !json_is_object(args) && !json_is_null(args)))
		return mcp_error(id, INVALID_PARAMS, "tools/call needs params {\"name\": string, \"arguments\": object}");
	args_text = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : strdup("{}");
	if (args_text == NULL)
		return mcp_error(id, INTERNAL_ERROR, "out of memory");
	values[0] = json_string_value(name);
	values[1] = args_text;
	res = ctx->db(ctx->db_arg, "SELECT otto.call_tool($1, $2::jsonb)::text", 2, values);
	free(args_text);
	if (res == NULL)
		return result_reply(id, json_pack("{s:o, s:b}", "content",
										  text_content("The Otto database is not available; try again later."),
										  "isError", 1));
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		const char *text = PQgetvalue(res, 0, 0);
		json_t	   *result = json_loads(text, 0, NULL);

		if (result == NULL || !json_is_object(result))
		{
			json_decref(result);
			out = mcp_error(id, INTERNAL_ERROR, "the tool returned no JSON object");
		}
		else
			out = result_reply(id, json_pack("{s:o, s:o, s:b}", "content", text_content(text),
											 "structuredContent", result, "isError", 0));
	}
	else
		out = tool_failure(ctx, id, json_string_value(name), res);
	PQclear(res);
	return out;
}

static json_t *
initialize(McpContext *ctx, json_t *id, json_t *params)
{
	const char *asked = json_string_value(json_object_get(params, "protocolVersion"));

	ctx->protocol_version = mcp_versions[0];
	for (size_t i = 0; asked && i < mcp_nversions; i++)
		if (strcmp(asked, mcp_versions[i]) == 0)
			ctx->protocol_version = mcp_versions[i];
	ctx->initialized = true;
	return result_reply(id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
									  "protocolVersion", ctx->protocol_version,
									  "capabilities", "tools", "listChanged", 0,
									  "serverInfo", "name", ctx->server_name, "title", "Otto car market",
									  "version", OTTO_MCP_VERSION,
									  "instructions",
									  "Otto answers questions about the used-car market (polovniautomobili.com, prices in euros) "
									  "from live data: fair values, depreciation, fastest-selling models, good deals, ad search "
									  "and comparison. Every result states as_of and its sample size (n)."));
}

json_t *
mcp_handle(McpContext *ctx, json_t *msg)
{
	json_t	   *id;
	json_t	   *method;
	json_t	   *params;
	json_t	   *jsonrpc;
	const char *m;

	if (!json_is_object(msg))
		return mcp_error(NULL, INVALID_REQUEST, json_is_array(msg) ? "Invalid Request: batches are not supported"
						 : "Invalid Request: a message is a JSON object");
	id = json_object_get(msg, "id");
	method = json_object_get(msg, "method");
	params = json_object_get(msg, "params");
	jsonrpc = json_object_get(msg, "jsonrpc");
	if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_real(id))
		return mcp_error(NULL, INVALID_REQUEST, "Invalid Request: id must be a string or a number");
	if (method == NULL && (json_object_get(msg, "result") || json_object_get(msg, "error")))
		return NULL;			/* a response: we send no requests, so nothing waits for it */
	if (!json_is_string(method) || !json_is_string(jsonrpc) || strcmp(json_string_value(jsonrpc), "2.0") != 0 ||
		(params && !json_is_object(params) && !json_is_array(params)))
		return id ? mcp_error(id, INVALID_REQUEST,
							  "Invalid Request: needs \"jsonrpc\": \"2.0\", a string \"method\" and object \"params\"")
			: NULL;
	m = json_string_value(method);
	if (id == NULL)
	{
		/* notifications: initialized, cancelled, ... need no answer */
		if (strcmp(m, "notifications/initialized") == 0)
			ctx->initialized = true;
		return NULL;
	}
	if (strcmp(m, "initialize") == 0)
		return initialize(ctx, id, params);
	if (strcmp(m, "ping") == 0)
		return result_reply(id, json_object());
	if (!ctx->initialized)
		return mcp_error(id, INVALID_REQUEST, "Invalid Request: send initialize first");
	if (strcmp(m, "tools/list") == 0)
		return tools_list(ctx, id);
	if (strcmp(m, "tools/call") == 0)
		return tools_call(ctx, id, json_is_object(params) ? params : NULL);
	{
		char		buf[256] = "Method not found: ";

		mcp_append_clipped(buf, sizeof(buf), m);
		return mcp_error(id, METHOD_NOT_FOUND, buf);
	}
}

json_t *
mcp_handle_text(McpContext *ctx, const char *text, size_t len)
{
	json_error_t err;
	json_t	   *msg = json_loadb(text, len, 0, &err);
	json_t	   *out;

	if (msg == NULL)
	{
		char		buf[300] = "Parse error: ";

		mcp_append_clipped(buf, sizeof(buf), err.text);
		return mcp_error(NULL, PARSE_ERROR, buf);
	}
	out = mcp_handle(ctx, msg);
	json_decref(msg);
	return out;
}

PGconn *
mcp_connect(const char *application_name, const char *role, bool read_only)
{
	const char *url = getenv("DATABASE_URL");
	const char *keys[4];
	const char *vals[4];
	int			n = 0;
	PGconn	   *conn;
	PGresult   *res;

	if (url && *url)
	{
		keys[n] = "dbname";		/* expanded: a URL or a conninfo string */
		vals[n++] = url;
	}
	keys[n] = "application_name";
	vals[n++] = application_name;
	keys[n] = "options";
	vals[n++] = read_only ? "-c default_transaction_read_only=on -c statement_timeout=30s" : "-c statement_timeout=30s";
	keys[n] = vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		mcp_log(application_name, "error", "cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	res = PQexecParams(conn, "SELECT pg_catalog.set_config('role', $1, false)", 1, NULL, &role, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		mcp_log(application_name, "error", "cannot act as role %s: %s(grant it to the user %s connects as)",
				role, PQresultErrorMessage(res), application_name);
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	mcp_log(application_name, "info", "connected to database %s as %s (role %s)", PQdb(conn), PQuser(conn), role);
	return conn;
}
