/*
 * mcp/protocol.h: Otto's MCP tool layer, shared by its transports (otto-mcp
 * on stdio, otto-web's Streamable HTTP).  It speaks JSON-RPC 2.0 and the MCP
 * lifecycle; the transport owns the database connection and hands in a
 * function that runs one fixed, parameterised statement.
 */
#ifndef OTTO_MCP_PROTOCOL_H
#define OTTO_MCP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#ifndef pg_attribute_printf
#define pg_attribute_printf(f, a) __attribute__((format(printf, f, a)))
#endif

#define OTTO_MCP_VERSION "1.0"

/* JSON-RPC error codes */
#define PARSE_ERROR		-32700
#define INVALID_REQUEST -32600
#define METHOD_NOT_FOUND -32601
#define INVALID_PARAMS	-32602
#define INTERNAL_ERROR	-32603

/* Runs one statement; NULL when the database cannot be reached (the caller PQclears). */
typedef PGresult *(*McpDbCall) (void *arg, const char *sql, int nparams, const char *const *params);

typedef struct McpContext
{
	McpDbCall	db;
	void	   *db_arg;
	const char *server_name;	/* serverInfo.name */
	bool		initialized;	/* initialize was answered (the session's state) */
	const char *protocol_version;	/* the version initialize agreed on */
} McpContext;

extern const char *const mcp_versions[];
extern const size_t mcp_nversions;

/* The reply to one message (parsed), or NULL when it needs none. */
extern json_t *mcp_handle(McpContext *ctx, json_t *msg);

/* The same for a message's text: a parse error is an error reply. */
extern json_t *mcp_handle_text(McpContext *ctx, const char *text, size_t len);

/* A JSON-RPC error reply; id may be NULL. */
extern json_t *mcp_error(json_t *id, int code, const char *message);

/* A line on stderr: "who: level: message" (the programs log there only). */
extern void mcp_log(const char *who, const char *level, const char *fmt,...) pg_attribute_printf(3, 4);

/* Append s to dst (cap bytes in all), cut at a character boundary with "...". */
extern void mcp_append_clipped(char *dst, size_t cap, const char *s);

/* Length of the valid UTF-8 character at s (at most n bytes), or 0. */
extern size_t mcp_utf8_char_len(const unsigned char *s, size_t n);

/*
 * A connection for the tools: DATABASE_URL or the PG* environment, acting as
 * role (SET ROLE), read-only transactions when asked, a statement timeout of
 * 30 s; NULL (logged) when it cannot be had.
 */
extern PGconn *mcp_connect(const char *application_name, const char *role, bool read_only);

#endif
