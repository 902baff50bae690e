/*
 * otto-web: Otto over HTTP - the chat tools as MCP over Streamable HTTP
 * (/mcp), and the buyer's web app (its pages, a JSON API over Otto's SQL
 * functions, alerts as server-sent events, charts as SVG).
 *
 * A process of its own, beside the database: a fault or an overload here can
 * never restart PostgreSQL.  libmicrohttpd parses HTTP; a pool of
 * MHD threads each holds its own two connections (otto_app for pages,
 * otto_chat read-only for /mcp), so no lock guards a connection; a request
 * signs its user in on the connection it runs on (otto.login) and row-level
 * security does the rest.  Every statement is fixed and parameterised.
 *
 * Bounds: bodies OTTO_WEB_MAX_BODY (1 MiB), MAX_WEB_SESSIONS sign-ins,
 * MAX_MCP_SESSIONS MCP sessions, MAX_STREAMS alert streams, requests per
 * second per client address (OTTO_WEB_RATE), connections per address, and
 * a timeout for slow clients.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../mcp/protocol.h"

#define MAX_WEB_SESSIONS 4096
#define MAX_MCP_SESSIONS 1024
#define MAX_STREAMS 256
#define MAX_STREAMS_PER_SIGN_IN 4	/* a new one ends the oldest: a closed page's stream is not seen while parked */
#define MAX_CLIENTS 1024		/* rate-limit buckets; the least recent is reused */
#define WEB_SESSION_IDLE (14 * 24 * 3600)
#define MCP_SESSION_IDLE (3600)
#define HEARTBEAT_MS 15000
#define MAX_CHART_BARS 60
#define ID_LEN 43				/* 32 random bytes, base64url */

static struct
{
	int			port;
	const char *address;
	const char *root;			/* the pages' files */
	const char *app_role;
	const char *chat_role;
	int			threads;
	int			timeout;		/* seconds a connection may sit idle (slow clients) */
	size_t		max_body;
	double		rate;			/* requests per second per client; a burst of twice that */
	bool		mcp_token_required;
	bool		secure_cookies;
	char		hosts[16][256]; /* Host values served (DNS rebinding); Origins must name one */
	int			nhosts;
}			cfg;

static volatile sig_atomic_t stopping;

#define log_msg(...) mcp_log("otto-web", __VA_ARGS__)

/* A random id, base64url (safe in cookies and headers). */
static void
random_id(char out[ID_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[33];
	size_t		got = 0;

	while (got < sizeof(r))
	{
		ssize_t		n = getrandom(r + got, sizeof(r) - got, 0);

		if (n > 0)
			got += n;
		else if (errno != EINTR)
			abort();			/* no randomness: refuse to hand out guessable ids */
	}
	for (int i = 0; i < ID_LEN; i++)
	{
		int			bit = i * 6;

		out[i] = b64[((r[bit / 8] | r[bit / 8 + 1] << 8) >> bit % 8) & 0x3F];
	}
	out[ID_LEN] = '\0';
}

/* Constant-time comparison of two NUL-terminated secrets. */
static bool
secret_equal(const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char) (a[i] ^ b[i]);
	return d == 0;
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---------------------------------------------------------------------------
 * Database: two connections per MHD thread.
 */
typedef struct Db
{
	PGconn	   *conn;
	char	   *token;			/* the user signed in on it (NULL: nobody) */
	char		lang[16];
	bool		chat;
} Db;

static __thread Db app_db = {NULL, NULL, "", false};
static __thread Db chat_db = {NULL, NULL, "", true};

static void
db_reset(Db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
	free(db->token);
	db->token = NULL;
	db->lang[0] = '\0';
}

/* Sign token's user in (NULL: sign out) and set the language; false when the token is refused. */
static bool
db_session(Db *db, const char *token, const char *lang, PGresult **err)
{
	PGresult   *res;

	if ((token == NULL) != (db->token == NULL) || (token && strcmp(token, db->token) != 0))
	{
		free(db->token);
		db->token = NULL;
		res = token ? PQexecParams(db->conn, "SELECT otto.login($1)", 1, NULL, &token, NULL, NULL, 0)
			: PQexec(db->conn, "SELECT otto.logout()");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			/* a refused login leaves the last user signed in: sign out */
			PQclear(PQexec(db->conn, "SELECT otto.logout()"));
			*err = res;
			return false;
		}
		PQclear(res);
		db->token = xstrdup(token);
	}
	if (strcmp(lang, db->lang) != 0)
	{
		res = PQexecParams(db->conn, "SELECT pg_catalog.set_config('otto.lang', $1, false)", 1, NULL, &lang, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			*err = res;
			return false;
		}
		PQclear(res);
		snprintf(db->lang, sizeof(db->lang), "%s", lang);
	}
	return true;
}

/*
 * Run one fixed statement as token's user in lang: its result (the caller
 * PQclears; it may be an error), or NULL when the database cannot be reached.
 * A lost connection is opened again once.
 */
static PGresult *
db_exec(Db *db, const char *token, const char *lang, const char *sql, int n, const char *const *params)
{
	for (int attempt = 0; attempt < 2; attempt++)
	{
		PGresult   *res = NULL;

		if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		{
			db_reset(db);
			db->conn = mcp_connect(db->chat ? "otto-web (mcp)" : "otto-web", db->chat ? cfg.chat_role : cfg.app_role,
								   db->chat);
			if (db->conn == NULL)
				return NULL;
		}
		if (db_session(db, token, lang, &res))
			res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
		if (PQstatus(db->conn) == CONNECTION_OK)
			return res;
		log_msg("warning", "connection lost: %s", PQerrorMessage(db->conn));
		PQclear(res);
		db_reset(db);
	}
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Sign-ins (cookie sessions), MCP sessions and per-client rates: small fixed
 * tables under one lock each; a scan is bounded by the table's size.
 */
typedef struct WebSession
{
	char		sid[ID_LEN + 1];	/* "" = free */
	char		csrf[ID_LEN + 1];
	char	   *token;
	int			user_id;
	time_t		used;
} WebSession;

typedef struct McpSession
{
	char		id[ID_LEN + 1];
	char	   *token;			/* the bearer token it began with (NULL: none) */
	time_t		used;
} McpSession;

typedef struct Bucket
{
	char		addr[INET6_ADDRSTRLEN];
	double		tokens;
	double		at;
} Bucket;

static WebSession web_sessions[MAX_WEB_SESSIONS];
static McpSession mcp_sessions[MAX_MCP_SESSIONS];
static Bucket buckets[MAX_CLIENTS];
static pthread_mutex_t web_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mcp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

/* What a request knows of its sign-in, copied out of the table. */
typedef struct Who
{
	char		sid[ID_LEN + 1];
	char		csrf[ID_LEN + 1];
	char	   *token;
	int			user_id;
} Who;

static bool
web_session_get(const char *sid, Who *who)
{
	time_t		now = time(NULL);
	bool		found = false;

	if (sid == NULL || strlen(sid) != ID_LEN)
		return false;
	pthread_mutex_lock(&web_lock);
	for (int i = 0; i < MAX_WEB_SESSIONS; i++)
	{
		WebSession *s = &web_sessions[i];

		if (s->sid[0] && now - s->used > WEB_SESSION_IDLE)
		{
			free(s->token);
			memset(s, 0, sizeof(*s));
		}
		if (s->sid[0] && secret_equal(s->sid, sid))
		{
			s->used = now;
			memcpy(who->sid, s->sid, sizeof(who->sid));
			memcpy(who->csrf, s->csrf, sizeof(who->csrf));
			who->token = xstrdup(s->token);
			who->user_id = s->user_id;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&web_lock);
	return found;
}

static void
web_session_new(const char *token, int user_id, Who *who)
{
	WebSession *slot = &web_sessions[0];

	pthread_mutex_lock(&web_lock);
	for (int i = 0; i < MAX_WEB_SESSIONS; i++)
	{
		if (web_sessions[i].sid[0] == '\0')
		{
			slot = &web_sessions[i];
			break;
		}
		if (web_sessions[i].used < slot->used)
			slot = &web_sessions[i];	/* full: the least recently used goes */
	}
	free(slot->token);
	random_id(slot->sid);
	random_id(slot->csrf);
	slot->token = strdup(token);
	slot->user_id = user_id;
	slot->used = time(NULL);
	memcpy(who->sid, slot->sid, sizeof(who->sid));
	memcpy(who->csrf, slot->csrf, sizeof(who->csrf));
	who->token = xstrdup(token);
	who->user_id = user_id;
	pthread_mutex_unlock(&web_lock);
}

static void
web_session_end(const char *sid)
{
	pthread_mutex_lock(&web_lock);
	for (int i = 0; i < MAX_WEB_SESSIONS; i++)
		if (web_sessions[i].sid[0] && secret_equal(web_sessions[i].sid, sid))
		{
			free(web_sessions[i].token);
			memset(&web_sessions[i], 0, sizeof(web_sessions[i]));
		}
	pthread_mutex_unlock(&web_lock);
}

/* The MCP session id's slot, or -1; with the lock held. */
static int
mcp_session_find(const char *id)
{
	time_t		now = time(NULL);

	for (int i = 0; i < MAX_MCP_SESSIONS; i++)
	{
		McpSession *s = &mcp_sessions[i];

		if (s->id[0] && now - s->used > MCP_SESSION_IDLE)
		{
			free(s->token);
			memset(s, 0, sizeof(*s));
		}
		if (s->id[0] && id && secret_equal(s->id, id))
			return i;
	}
	return -1;
}

/* Whether the client may make another request now (a token bucket per address). */
static bool
rate_ok(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char		addr[INET6_ADDRSTRLEN] = "?";
	struct timespec ts;
	double		now;
	Bucket	   *b = NULL;
	Bucket	   *oldest = &buckets[0];
	bool		ok;

	if (cfg.rate <= 0)
		return true;
	if (ci && ci->client_addr)
	{
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, addr, sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, addr, sizeof(addr));
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;
	pthread_mutex_lock(&rate_lock);
	for (int i = 0; i < MAX_CLIENTS && b == NULL; i++)
	{
		if (strcmp(buckets[i].addr, addr) == 0)
			b = &buckets[i];
		else if (buckets[i].at < oldest->at)
			oldest = &buckets[i];
	}
	if (b == NULL)
	{
		b = oldest;
		snprintf(b->addr, sizeof(b->addr), "%s", addr);
		b->tokens = 2 * cfg.rate;
		b->at = now;
	}
	b->tokens = fmin(2 * cfg.rate, b->tokens + (now - b->at) * cfg.rate);
	b->at = now;
	ok = b->tokens >= 1;
	if (ok)
		b->tokens -= 1;
	pthread_mutex_unlock(&rate_lock);
	return ok;
}

/* ---------------------------------------------------------------------------
 * Responses.
 */
static const char *const CSP =
"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
"base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static enum MHD_Result
send_response(struct MHD_Connection *c, unsigned status, struct MHD_Response *r, const char *type)
{
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Response *
buffer_response(const char *body, size_t len)
{
	return MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *type, const char *body)
{
	struct MHD_Response *r = buffer_response(body, strlen(body));

	if (r)
		MHD_add_response_header(r, "Cache-Control", "no-store");
	return send_response(c, status, r, type);
}

/* {"error": message} with the status. */
static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *message)
{
	json_t	   *j = json_pack("{s:s}", "error", message);
	char	   *s = json_dumps(j, JSON_COMPACT);
	enum MHD_Result ret = send_text(c, status, "application/json", s ? s : "{\"error\":\"out of memory\"}");

	free(s);
	json_decref(j);
	return ret;
}

/* A statement's failure as HTTP: the user's mistakes with their message, the rest logged. */
static enum MHD_Result
send_db_error(struct MHD_Connection *c, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	char		text[1024] = "";
	unsigned	status;

	if (res == NULL)
		return send_error(c, 503, "The Otto database is not available; try again later.");
	if (state == NULL)
		state = "XX000";
	status = strncmp(state, "22", 2) == 0 || strcmp(state, "42883") == 0 || strncmp(state, "23", 2) == 0 ? 400
		: strcmp(state, "P0002") == 0 ? 404
		: strcmp(state, "28000") == 0 ? 401
		: strcmp(state, "42501") == 0 ? 403
		: strcmp(state, "57014") == 0 ? 503 : 500;
	if (status == 500 || status == 503)
	{
		log_msg("error", "statement failed (SQLSTATE %s): %s", state, msg ? msg : "");
		return send_error(c, status, status == 503 ? "Otto took too long; try a narrower question."
						  : "Otto could not answer that; the error is logged.");
	}
	mcp_append_clipped(text, 600, msg ? msg : "refused");
	if (hint)
	{
		mcp_append_clipped(text, sizeof(text), " ");
		mcp_append_clipped(text, sizeof(text), hint);
	}
	return send_error(c, status, text);
}

/* ---------------------------------------------------------------------------
 * Requests.
 */
typedef struct Request
{
	char	   *body;
	size_t		len;
	bool		too_large;
	bool		refused;		/* answered on the first call (rate, size) */
	Who			who;
	bool		signed_in;
} Request;

static void
request_done(void *cls, struct MHD_Connection *c, void **ptr, enum MHD_RequestTerminationCode toe)
{
	Request    *r = *ptr;

	if (r)
	{
		free(r->body);
		free(r->who.token);
		free(r);
	}
	*ptr = NULL;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return v && *v ? v : NULL;
}

/* The request's language: ?lang=, else the otto_lang cookie, else en. */
static const char *
request_lang(struct MHD_Connection *c)
{
	static const char *const langs[] = {"en", "sr-Latn", "sr-Cyrl"};
	const char *l = arg(c, "lang");

	if (l == NULL)
		l = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "otto_lang");
	for (int i = 0; l && i < 3; i++)
		if (strcmp(l, langs[i]) == 0)
			return langs[i];
	return "en";
}

/* Whether the Host header names this service (DNS rebinding: a page of another name must not reach it). */
static bool
host_ok(const char *host)
{
	for (int i = 0; host && i < cfg.nhosts; i++)
		if (strcasecmp(host, cfg.hosts[i]) == 0)
			return true;
	return false;
}

/* An Origin, when sent, must be http(s)://one of the hosts served. */
static bool
origin_ok(const char *origin)
{
	const char *rest;

	if (origin == NULL)
		return true;			/* not a browser: nothing to forge */
	rest = strncmp(origin, "http://", 7) == 0 ? origin + 7 : strncmp(origin, "https://", 8) == 0 ? origin + 8 : NULL;
	return rest != NULL && host_ok(rest);
}

/* A JSON body's field as statement text: a string as is, anything else as JSON, absent or null as NULL. */
static char *
field_text(json_t *body, const char *name)
{
	json_t	   *v = json_object_get(body, name);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---------------------------------------------------------------------------
 * The JSON API: a fixed statement per route, its parameters from the query
 * (GET) or the JSON body (POST), each statement returning one jsonb.
 */
enum
{
	USER = 1,					/* needs a signed-in user */
	POST = 2					/* changes something: POST, CSRF token */
};

typedef struct Route
{
	const char *path;
	int			flags;
	const char *sql;
	const char *params[4];
} Route;

static const Route routes[] = {
	{"/api/labels", 0, "SELECT otto.labels()", {NULL}},
	{"/api/search", 0, "SELECT otto.search_ads(coalesce($1, '{}')::jsonb, coalesce($2, 'newest'), "
	 "coalesce($3::int, 20), coalesce($4::int, 0))", {"filters", "sort", "limit", "offset"}},
	{"/api/ad", 0, "SELECT otto.ad_details($1::bigint)", {"id"}},
	{"/api/verdict", 0, "SELECT otto.price_verdict($1::bigint)", {"id"}},
	{"/api/similar", 0, "SELECT otto.similar_ads($1::bigint, 6)", {"id"}},
	{"/api/compare", 0, "SELECT otto.compare_ads(pg_catalog.string_to_array($1, ',')::bigint[])", {"ids"}},
	{"/api/share", 0, "SELECT otto.share_ad($1::bigint, coalesce($2, 'link'))", {"id", "channel"}},
	{"/api/ask", 0, "SELECT otto.ask($1)", {"q"}},
	{"/api/market", 0, "SELECT jsonb_build_object('overview', otto.market_overview($1, $2), "
	 "'depreciation', otto.depreciation_ranking(false, 30, 10), 'fastest', otto.fastest_selling('make', lim => 10))",
	 {"make", "model"}},
	{"/api/depreciation", 0, "SELECT otto.depreciation($1, $2)", {"make", "model"}},
	{"/api/likes", USER, "SELECT otto.my_likes()", {NULL}},
	{"/api/recommend", USER, "SELECT otto.recommend(12)", {NULL}},
	{"/api/searches", USER, "SELECT jsonb_build_object('searches', coalesce(jsonb_agg(jsonb_build_object("
	 "'search_id', s.search_id, 'name', s.name, 'filters', s.filters, 'alerts', s.alerts, 'created_at', s.created_at) "
	 "ORDER BY s.search_id), '[]')) FROM otto.saved_search s", {NULL}},
	{"/api/alerts", USER, "SELECT otto.my_alerts(coalesce($1::bigint, 0), 100)", {"after"}},
	{"/api/like", USER | POST, "SELECT otto.like_ad($1::bigint)", {"ad_id"}},
	{"/api/unlike", USER | POST, "SELECT otto.unlike_ad($1::bigint)", {"ad_id"}},
	{"/api/view", USER | POST, "SELECT otto.view_ad($1::bigint)", {"ad_id"}},
	{"/api/searches/save", USER | POST, "SELECT otto.search_save($1, $2::jsonb, CASE WHEN $3::jsonb IS NULL "
	 "THEN '{new,price_drop,back_on_market}' ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END)", {"name", "filters", "alerts"}},
	{"/api/searches/delete", USER | POST, "WITH d AS (DELETE FROM otto.saved_search WHERE search_id = $1::bigint "
	 "RETURNING 1) SELECT jsonb_build_object('deleted', count(*)) FROM d", {"search_id"}},
	{"/api/alerts/read", USER | POST, "SELECT jsonb_build_object('read', otto.alerts_read($1::bigint))", {"upto"}},
};

static enum MHD_Result
send_cookie_session(struct MHD_Connection *c, unsigned status, const char *body, const char *sid, int max_age)
{
	struct MHD_Response *r = buffer_response(body, strlen(body));
	char		cookie[256];

	if (r == NULL)
		return MHD_NO;
	snprintf(cookie, sizeof(cookie), "otto_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
			 sid, max_age, cfg.secure_cookies ? "; Secure" : "");
	MHD_add_response_header(r, "Set-Cookie", cookie);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return send_response(c, status, r, "application/json");
}

static enum MHD_Result
api_session(struct MHD_Connection *c, Request *r)
{
	char		body[256];

	if (!r->signed_in)
		return send_text(c, 200, "application/json", "{\"signed_in\":false}");
	snprintf(body, sizeof(body), "{\"signed_in\":true,\"user_id\":%d,\"csrf\":\"%s\"}", r->who.user_id, r->who.csrf);
	return send_text(c, 200, "application/json", body);
}

static enum MHD_Result
api_login(struct MHD_Connection *c, Request *r, json_t *body, const char *lang)
{
	json_t	   *t = json_object_get(body, "token");
	PGresult   *res;
	Who			who;
	char		out[256];
	const char *token;
	enum MHD_Result ret;

	if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 200)
		return send_error(c, 400, "Sign in with {\"token\": \"...\"}, the token otto.user_add gave you.");
	token = json_string_value(t);
	res = db_exec(&app_db, NULL, lang, "SELECT otto.login($1)", 1, &token);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		ret = send_db_error(c, res);
		PQclear(res);
		return ret;
	}
	/* the connection is now signed in without db_session knowing: sign it out */
	PQclear(PQexec(app_db.conn, "SELECT otto.logout()"));
	if (r->signed_in)
		web_session_end(r->who.sid);
	web_session_new(token, atoi(PQgetvalue(res, 0, 0)), &who);
	PQclear(res);
	snprintf(out, sizeof(out), "{\"signed_in\":true,\"user_id\":%d,\"csrf\":\"%s\"}", who.user_id, who.csrf);
	ret = send_cookie_session(c, 200, out, who.sid, WEB_SESSION_IDLE);
	free(who.token);
	return ret;
}

static enum MHD_Result
api_route(struct MHD_Connection *c, Request *r, const Route *route, json_t *body, const char *lang)
{
	char	   *values[4] = {NULL};
	int			n = 0;
	PGresult   *res;
	enum MHD_Result ret;

	for (; n < 4 && route->params[n]; n++)
		values[n] = body ? field_text(body, route->params[n]) : xstrdup(arg(c, route->params[n]));
	res = db_exec(&app_db, r->signed_in ? r->who.token : NULL, lang, route->sql, n, (const char *const *) values);
	for (int i = 0; i < n; i++)
		free(values[i]);
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		ret = send_text(c, 200, "application/json", PQgetisnull(res, 0, 0) ? "null" : PQgetvalue(res, 0, 0));
	else
		ret = send_db_error(c, res);
	PQclear(res);
	return ret;
}

static enum MHD_Result alerts_stream(struct MHD_Connection *c, Request *r, const char *lang);

static enum MHD_Result
api(struct MHD_Connection *c, Request *r, const char *url, const char *method, const char *lang)
{
	bool		post = strcmp(method, "POST") == 0;
	json_t	   *body = NULL;
	enum MHD_Result ret;

	if (!post && strcmp(method, "GET") != 0)
		return send_error(c, 405, "Use GET to read and POST to change.");
	if (post)
	{
		const char *type = header(c, "Content-Type");
		json_error_t err;

		/* JSON only: a cross-site form cannot send it without a preflight */
		if (type == NULL || strncmp(type, "application/json", 16) != 0)
			return send_error(c, 415, "Send JSON (Content-Type: application/json).");
		if (!origin_ok(header(c, "Origin")))
			return send_error(c, 403, "This request comes from a page Otto does not serve.");
		body = json_loadb(r->body ? r->body : "{}", r->body ? r->len : 2, 0, &err);
		if (!json_is_object(body))
		{
			json_decref(body);
			return send_error(c, 400, "The body must be a JSON object.");
		}
	}
	if (strcmp(url, "/api/session") == 0 && !post)
		return api_session(c, r);
	if (strcmp(url, "/api/login") == 0 && post)
	{
		ret = api_login(c, r, body, lang);
		json_decref(body);
		return ret;
	}
	/* every other change needs the sign-in's CSRF token, from the page it gave it to */
	if (post && (!r->signed_in || header(c, "X-CSRF-Token") == NULL ||
				 !secret_equal(header(c, "X-CSRF-Token"), r->who.csrf)))
	{
		json_decref(body);
		return send_error(c, 403, r->signed_in ? "Missing or wrong CSRF token (X-CSRF-Token); reload the page."
						  : "Sign in first.");
	}
	if (strcmp(url, "/api/logout") == 0 && post)
	{
		json_decref(body);
		web_session_end(r->who.sid);
		return send_cookie_session(c, 200, "{\"signed_in\":false}", "", 0);
	}
	if (strcmp(url, "/api/alerts/stream") == 0 && !post)
	{
		if (!r->signed_in)
			return send_error(c, 401, "Sign in to receive alerts.");
		return alerts_stream(c, r, lang);
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
	{
		const Route *route = &routes[i];

		if (strcmp(url, route->path) != 0 || post != ((route->flags & POST) != 0))
			continue;
		if ((route->flags & USER) && !r->signed_in)
			ret = send_error(c, 401, "Sign in first.");
		else
			ret = api_route(c, r, route, body, lang);
		json_decref(body);
		return ret;
	}
	json_decref(body);
	return send_error(c, 404, "No such API call.");
}

/* ---------------------------------------------------------------------------
 * Alerts as server-sent events: a listener thread LISTENs on otto_alert and
 * wakes the streams of the user an alert is for; each stream reads its
 * user's alerts after the last id it sent (otto.my_alerts), so a reconnect
 * with Last-Event-ID catches up and nothing is missed.  A stream with
 * nothing to send is suspended (no thread waits on it); a heartbeat every
 * 15 s finds clients that went away.
 */
typedef struct Stream
{
	struct MHD_Connection *conn;
	char		sid[ID_LEN + 1];	/* the sign-in it belongs to */
	long		seq;			/* opened as the seq-th stream */
	bool		ended;			/* ended by a newer stream of its sign-in */
	char	   *token;
	int			user_id;
	char		lang[16];
	long long	last_id;
	bool		pending;		/* an alert may be waiting */
	bool		heartbeat;
	bool		retry;			/* the database was away: look again at the next heartbeat */
	bool		suspended;
	char	   *out;			/* formatted events not yet sent */
	size_t		out_len;
	size_t		out_off;
} Stream;

static Stream *streams[MAX_STREAMS];
static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;

/* Wake streams (all, or one user's), with the lock held. */
static void
streams_wake(int user_id, bool heartbeat)
{
	for (int i = 0; i < MAX_STREAMS; i++)
	{
		Stream	   *s = streams[i];

		if (s == NULL || (user_id && s->user_id != user_id))
			continue;
		if (heartbeat)
		{
			s->heartbeat = true;
			s->pending |= s->retry;
			s->retry = false;
		}
		else
			s->pending = true;
		if (s->suspended)
		{
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
	}
}

/* The user's alerts after last_id as events, into s->out; false when the database is away. */
static bool
stream_fill(Stream *s)
{
	char		after[24];
	const char *p[1] = {after};
	PGresult   *res;
	json_t	   *j;
	json_t	   *alerts;
	size_t		i;
	json_t	   *a;
	size_t		cap = 4096;

	snprintf(after, sizeof(after), "%lld", s->last_id);
	res = db_exec(&app_db, s->token, s->lang, "SELECT otto.my_alerts($1::bigint, 100)", 1, p);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		PQclear(res);
		return false;
	}
	j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	alerts = json_object_get(j, "alerts");
	s->out = malloc(cap);
	s->out_len = s->out_off = 0;
	json_array_foreach(alerts, i, a)
	{
		char	   *data = json_dumps(a, JSON_COMPACT);
		long long	id = json_integer_value(json_object_get(a, "alert_id"));
		size_t		need = (data ? strlen(data) : 0) + 64;

		if (s->out && s->out_len + need > cap)
		{
			char	   *bigger = realloc(s->out, (s->out_len + need) * 2);

			if (bigger == NULL)
				free(s->out);
			s->out = bigger;
			cap = (s->out_len + need) * 2;
		}
		if (data && s->out)
			s->out_len += snprintf(s->out + s->out_len, cap - s->out_len, "id: %lld\nevent: alert\ndata: %s\n\n", id, data);
		free(data);
		if (id > s->last_id && s->out)	/* out of memory: sent next time */
			s->last_id = id;
	}
	/* a full page: there may be more */
	if (json_array_size(alerts) == 100)
	{
		pthread_mutex_lock(&stream_lock);
		s->pending = true;
		pthread_mutex_unlock(&stream_lock);
	}
	json_decref(j);
	return true;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	Stream	   *s = cls;

	for (;;)
	{
		bool		fill;
		bool		ok;

		pthread_mutex_lock(&stream_lock);
		fill = s->ended;
		pthread_mutex_unlock(&stream_lock);
		if (stopping || fill)
			return MHD_CONTENT_READER_END_OF_STREAM;

		if (s->out && s->out_off < s->out_len)
		{
			size_t		n = s->out_len - s->out_off < max ? s->out_len - s->out_off : max;

			memcpy(buf, s->out + s->out_off, n);
			s->out_off += n;
			return n;
		}
		free(s->out);
		s->out = NULL;
		pthread_mutex_lock(&stream_lock);
		fill = s->pending;
		s->pending = false;
		if (!fill && s->heartbeat)
		{
			s->heartbeat = false;
			pthread_mutex_unlock(&stream_lock);
			memcpy(buf, ": keep-alive\n\n", 14);
			return 14;
		}
		if (!fill)
		{
			/* nothing to send: park until the listener wakes it (under the lock, so no wake-up is lost) */
			s->suspended = true;
			MHD_suspend_connection(s->conn);
			pthread_mutex_unlock(&stream_lock);
			return 0;
		}
		pthread_mutex_unlock(&stream_lock);
		ok = stream_fill(s);
		if (s->out == NULL || s->out_len == 0)
		{
			pthread_mutex_lock(&stream_lock);
			if (s->pending && ok)
			{
				pthread_mutex_unlock(&stream_lock);
				continue;		/* woken while reading */
			}
			s->retry |= !ok;
			s->suspended = true;
			MHD_suspend_connection(s->conn);
			pthread_mutex_unlock(&stream_lock);
			return 0;
		}
	}
}

static void
stream_free(void *cls)
{
	Stream	   *s = cls;

	pthread_mutex_lock(&stream_lock);
	for (int i = 0; i < MAX_STREAMS; i++)
		if (streams[i] == s)
			streams[i] = NULL;
	pthread_mutex_unlock(&stream_lock);
	free(s->out);
	free(s->token);
	free(s);
}

static enum MHD_Result
alerts_stream(struct MHD_Connection *c, Request *r, const char *lang)
{
	const char *last = header(c, "Last-Event-ID");
	Stream	   *s = calloc(1, sizeof(Stream));
	struct MHD_Response *resp;
	int			slot = -1;

	if (last == NULL)
		last = arg(c, "after");
	if (s == NULL)
		return MHD_NO;
	s->conn = c;
	s->token = xstrdup(r->who.token);
	s->user_id = r->who.user_id;
	snprintf(s->lang, sizeof(s->lang), "%s", lang);
	s->last_id = last ? atoll(last) : 0;
	s->pending = true;			/* catch up first */
	s->out = strdup("retry: 3000\n\n");	/* the browser's reconnect delay; sends the headers at once */
	s->out_len = s->out ? strlen(s->out) : 0;
	memcpy(s->sid, r->who.sid, sizeof(s->sid));
	pthread_mutex_lock(&stream_lock);
	{
		static long seq;
		Stream	   *oldest = NULL;
		int			mine = 0;

		s->seq = ++seq;
		for (int i = 0; i < MAX_STREAMS; i++)
		{
			Stream	   *o = streams[i];

			if (o == NULL)
			{
				if (slot < 0)
					streams[slot = i] = s;
				continue;
			}
			if (o == s || o->ended || strcmp(o->sid, s->sid) != 0)
				continue;
			mine++;
			if (oldest == NULL || o->seq < oldest->seq)
				oldest = o;
		}
		/* pages that were closed leave their streams parked, unseen until a heartbeat: a sign-in keeps its newest */
		if (slot >= 0 && mine >= MAX_STREAMS_PER_SIGN_IN)
		{
			oldest->ended = true;
			if (oldest->suspended)
			{
				oldest->suspended = false;
				MHD_resume_connection(oldest->conn);
			}
		}
	}
	pthread_mutex_unlock(&stream_lock);
	if (slot < 0)
	{
		free(s->token);
		free(s);
		return send_error(c, 503, "Too many alert streams are open; try again later.");
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
	if (resp == NULL)
	{
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return send_response(c, 200, resp, "text/event-stream");
}

/* The listener: NOTIFY otto_alert {user_id, alert_id} wakes that user's streams. */
static void *
listener(void *arg)
{
	PGconn	   *conn = NULL;

	while (!stopping)
	{
		struct pollfd pfd;
		PGnotify   *n;
		int			rc;

		if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		{
			PGresult   *res;
			bool		listening;

			PQfinish(conn);
			conn = mcp_connect("otto-web (alerts)", cfg.app_role, true);
			res = conn ? PQexec(conn, "LISTEN otto_alert") : NULL;
			listening = PQresultStatus(res) == PGRES_COMMAND_OK;
			PQclear(res);
			if (!listening)
			{
				sleep(2);
				continue;
			}
			/* alerts may have come while nobody listened: every stream looks again */
			pthread_mutex_lock(&stream_lock);
			streams_wake(0, false);
			pthread_mutex_unlock(&stream_lock);
		}
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, HEARTBEAT_MS);
		pthread_mutex_lock(&stream_lock);
		if (rc == 0)
			streams_wake(0, true);
		else if (rc > 0)
		{
			PQconsumeInput(conn);
			while ((n = PQnotifies(conn)) != NULL)
			{
				json_t	   *j = json_loads(n->extra, 0, NULL);
				int			uid = (int) json_integer_value(json_object_get(j, "user_id"));

				if (uid > 0)
					streams_wake(uid, false);
				json_decref(j);
				PQfreemem(n);
			}
		}
		pthread_mutex_unlock(&stream_lock);
	}
	PQfinish(conn);
	return NULL;
}

/* ---------------------------------------------------------------------------
 * MCP over Streamable HTTP (/mcp): POST carries one JSON-RPC message and gets
 * its answer as JSON; initialize opens a session (Mcp-Session-Id), DELETE
 * ends it.  GET, a stream of server-initiated messages, is refused with 405
 * as the transport allows: Otto's server sends none.
 */
static PGresult *
mcp_db(void *arg, const char *sql, int n, const char *const *params)
{
	return db_exec(&chat_db, arg, "en", sql, n, params);
}

static enum MHD_Result
send_mcp(struct MHD_Connection *c, unsigned status, json_t *msg, const char *session)
{
	char	   *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	struct MHD_Response *r = s ? buffer_response(s, strlen(s)) : buffer_response("", 0);
	const char *type = msg ? "application/json" : NULL;

	free(s);
	json_decref(msg);
	if (r && session)
		MHD_add_response_header(r, "Mcp-Session-Id", session);
	return send_response(c, status, r, type);
}

static enum MHD_Result
mcp_endpoint(struct MHD_Connection *c, Request *r, const char *method)
{
	const char *auth = header(c, "Authorization");
	const char *sid = header(c, "Mcp-Session-Id");
	const char *pv = header(c, "MCP-Protocol-Version");
	char	   *token = NULL;
	json_t	   *msg;
	json_t	   *out;
	json_error_t err;
	McpContext	ctx = {mcp_db, NULL, "otto-web", false, NULL};
	int			slot;
	bool		init;
	char		new_id[ID_LEN + 1] = "";
	enum MHD_Result ret;

	if (!origin_ok(header(c, "Origin")))
		return send_mcp(c, 403, mcp_error(NULL, INVALID_REQUEST, "Forbidden: unknown Origin"), NULL);
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7])
		token = (char *) auth + 7;
	else if (auth || cfg.mcp_token_required)
	{
		struct MHD_Response *resp = buffer_response("{\"error\":\"a bearer token is required\"}", 38);

		if (resp)
			MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"otto\"");
		return send_response(c, 401, resp, "application/json");
	}
	if (pv)
	{
		bool		known = false;

		for (size_t i = 0; i < mcp_nversions; i++)
			known |= strcmp(pv, mcp_versions[i]) == 0;
		if (!known)
			return send_mcp(c, 400, mcp_error(NULL, INVALID_REQUEST, "Unsupported MCP-Protocol-Version"), NULL);
	}
	if (strcmp(method, "DELETE") == 0)
	{
		pthread_mutex_lock(&mcp_lock);
		slot = sid ? mcp_session_find(sid) : -1;
		if (slot >= 0)
		{
			free(mcp_sessions[slot].token);
			memset(&mcp_sessions[slot], 0, sizeof(McpSession));
		}
		pthread_mutex_unlock(&mcp_lock);
		return send_mcp(c, slot >= 0 ? 200 : 404, NULL, NULL);
	}
	if (strcmp(method, "POST") != 0)
	{
		struct MHD_Response *resp = buffer_response("", 0);

		if (resp)
			MHD_add_response_header(resp, "Allow", "POST, DELETE");
		return send_response(c, 405, resp, NULL);
	}
	msg = json_loadb(r->body ? r->body : "", r->len, 0, &err);
	if (msg == NULL)
		return send_mcp(c, 400, mcp_handle_text(&ctx, r->body ? r->body : "", r->len), NULL);
	init = json_is_object(msg) && json_is_string(json_object_get(msg, "method")) &&
		strcmp(json_string_value(json_object_get(msg, "method")), "initialize") == 0;
	if (init)
	{
		/* a token must be good before a session begins with it */
		if (token)
		{
			PGresult   *res = db_exec(&chat_db, token, "en", "SELECT 1", 0, NULL);

			if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				PQclear(res);
				json_decref(msg);
				return send_mcp(c, 401, mcp_error(json_object_get(msg, "id"), INVALID_REQUEST,
												  "Unauthorized: unknown token"), NULL);
			}
			PQclear(res);
		}
		ctx.db_arg = token;
		out = mcp_handle(&ctx, msg);
		if (out && json_object_get(out, "result"))
		{
			McpSession *s = &mcp_sessions[0];

			pthread_mutex_lock(&mcp_lock);
			(void) mcp_session_find(NULL);	/* drops expired sessions */
			for (int i = 0; i < MAX_MCP_SESSIONS; i++)
			{
				if (mcp_sessions[i].id[0] == '\0')
				{
					s = &mcp_sessions[i];
					break;
				}
				if (mcp_sessions[i].used < s->used)
					s = &mcp_sessions[i];
			}
			free(s->token);
			random_id(s->id);
			s->token = xstrdup(token);
			s->used = time(NULL);
			memcpy(new_id, s->id, sizeof(new_id));
			pthread_mutex_unlock(&mcp_lock);
		}
		json_decref(msg);
		return send_mcp(c, 200, out, new_id[0] ? new_id : NULL);
	}
	if (sid == NULL)
	{
		json_decref(msg);
		return send_mcp(c, 400, mcp_error(NULL, INVALID_REQUEST, "Bad Request: no Mcp-Session-Id; send initialize first"), NULL);
	}
	pthread_mutex_lock(&mcp_lock);
	slot = mcp_session_find(sid);
	if (slot >= 0)
	{
		McpSession *s = &mcp_sessions[slot];

		/* a session is its first bearer's: another token (or none) may not take it over */
		if ((s->token == NULL) != (token == NULL) || (token && !secret_equal(token, s->token)))
			slot = -2;
		else
		{
			s->used = time(NULL);
			ctx.initialized = true; /* initialize was answered for it */
		}
	}
	pthread_mutex_unlock(&mcp_lock);
	if (slot == -1)
	{
		json_decref(msg);
		return send_mcp(c, 404, mcp_error(NULL, INVALID_REQUEST, "Session not found; initialize again"), NULL);
	}
	if (slot == -2)
	{
		json_decref(msg);
		return send_mcp(c, 403, mcp_error(NULL, INVALID_REQUEST, "Forbidden: the session belongs to another token"), NULL);
	}
	ctx.db_arg = token;
	out = mcp_handle(&ctx, msg);
	json_decref(msg);
	ret = out ? send_mcp(c, 200, out, NULL) : send_mcp(c, 202, NULL, NULL);
	return ret;
}

/* ---------------------------------------------------------------------------
 * Charts: GET /chart.svg?title=...&label=...&value=...(repeated)&unit=...
 * a horizontal bar chart drawn here, its numbers as text in the picture and
 * its title as the picture's accessible name.  The pages show the same
 * numbers as a table beside it.
 */
typedef struct ChartArgs
{
	const char *labels[MAX_CHART_BARS];
	double		values[MAX_CHART_BARS];
	int			nl;
	int			nv;
} ChartArgs;

static enum MHD_Result
chart_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	ChartArgs  *a = cls;

	if (strcmp(key, "label") == 0 && a->nl < MAX_CHART_BARS)
		a->labels[a->nl++] = value ? value : "";
	else if (strcmp(key, "value") == 0 && a->nv < MAX_CHART_BARS)
	{
		char	   *end;
		double		v = value ? strtod(value, &end) : 0;

		a->values[a->nv++] = (value && *end == '\0' && isfinite(v)) ? v : 0;
	}
	return MHD_YES;
}

/* s, escaped for XML text and attributes, cut to max bytes at a character boundary. */
static void
xml_append(char **buf, size_t *len, size_t *cap, const char *s, size_t max)
{
	char		clipped[512] = "";

	if (max >= sizeof(clipped))
		max = sizeof(clipped) - 1;
	mcp_append_clipped(clipped, max + 1, s ? s : "");
	for (const char *p = clipped; *p; p++)
	{
		const char *e = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : *p == '"' ? "&quot;"
			: *p == '\'' ? "&#39;" : NULL;
		size_t		n = e ? strlen(e) : 1;

		if (*len + n + 1 > *cap)
		{
			*cap = (*len + n + 1) * 2;
			*buf = realloc(*buf, *cap);
			if (*buf == NULL)
				abort();
		}
		memcpy(*buf + *len, e ? e : p, n);
		*len += n;
		(*buf)[*len] = '\0';
	}
}

static void
svg_printf(char **buf, size_t *len, size_t *cap, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (*len + n + 1 > *cap)
	{
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
		if (*buf == NULL)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += n;
}

static enum MHD_Result
chart(struct MHD_Connection *c)
{
	ChartArgs	a = {.nl = 0, .nv = 0};
	const char *title = arg(c, "title");
	const char *unit = arg(c, "unit");
	int			n;
	double		maxv = 0;
	size_t		len = 0,
				cap = 8192;
	char	   *svg = malloc(cap);
	int			h;
	struct MHD_Response *r;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, chart_arg, &a);
	n = a.nl < a.nv ? a.nl : a.nv;
	if (svg == NULL)
		return MHD_NO;
	svg[0] = '\0';
	for (int i = 0; i < n; i++)
		maxv = fmax(maxv, a.values[i]);
	h = 40 + 24 * n;
	svg_printf(&svg, &len, &cap, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 %d\" width=\"640\" height=\"%d\" "
			   "role=\"img\" aria-labelledby=\"t\"><title id=\"t\">", h, h);
	xml_append(&svg, &len, &cap, title ? title : "Chart", 200);
	svg_printf(&svg, &len, &cap, "</title><rect width=\"640\" height=\"%d\" fill=\"#ffffff\"/>"
			   "<text x=\"8\" y=\"22\" font-family=\"sans-serif\" font-size=\"15\" font-weight=\"bold\" fill=\"#1a1a1a\">", h);
	xml_append(&svg, &len, &cap, title ? title : "", 200);
	svg_printf(&svg, &len, &cap, "</text>");
	for (int i = 0; i < n; i++)
	{
		double		w = maxv > 0 ? fmax(0, a.values[i]) / maxv * 300 : 0;
		int			y = 36 + 24 * i;

		svg_printf(&svg, &len, &cap, "<text x=\"200\" y=\"%d\" text-anchor=\"end\" font-family=\"sans-serif\" font-size=\"13\" fill=\"#1a1a1a\">", y + 14);
		xml_append(&svg, &len, &cap, a.labels[i], 40);
		svg_printf(&svg, &len, &cap, "</text><rect x=\"208\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"#1f5fa8\"/>"
				   "<text x=\"%.1f\" y=\"%d\" font-family=\"sans-serif\" font-size=\"13\" fill=\"#1a1a1a\">%.10g",
				   y, w, 214 + w, y + 14, a.values[i]);
		if (unit)
		{
			svg_printf(&svg, &len, &cap, " ");
			xml_append(&svg, &len, &cap, unit, 12);
		}
		svg_printf(&svg, &len, &cap, "</text>");
	}
	svg_printf(&svg, &len, &cap, "</svg>\n");
	r = MHD_create_response_from_buffer(len, svg, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
	{
		free(svg);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Cache-Control", "public, max-age=300");
	return send_response(c, 200, r, "image/svg+xml");
}

/* ---------------------------------------------------------------------------
 * Pages: the same page for every path of the app (its script draws the view
 * the path names); files under /static/ by name from the root directory.
 */
static enum MHD_Result
send_file(struct MHD_Connection *c, const char *name, bool cache)
{
	static const struct
	{
		const char *ext;
		const char *type;
	}			types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"}, {".svg", "image/svg+xml"}};
	const char *type = NULL;
	char		path[1024];
	struct stat st;
	int			fd;
	struct MHD_Response *r;

	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '_' || (*p == '.' && p != name)))
			return send_error(c, 404, "No such file.");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
	{
		size_t		ln = strlen(name),
					le = strlen(types[i].ext);

		if (ln > le && strcmp(name + ln - le, types[i].ext) == 0)
			type = types[i].type;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg.root, name);
	if (type == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return send_error(c, 404, "No such file.");
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		close(fd);
		return send_error(c, 404, "No such file.");
	}
	r = MHD_create_response_from_fd((size_t) st.st_size, fd);
	if (r == NULL)
	{
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Cache-Control", cache ? "public, max-age=300" : "no-cache");
	return send_response(c, 200, r, type);
}

static bool
is_page(const char *url)
{
	static const char *const pages[] = {"/", "/search", "/compare", "/likes", "/saved", "/chat", "/market", "/signin"};

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (strcmp(url, pages[i]) == 0)
			return true;
	if (strncmp(url, "/ad/", 4) == 0 && url[4])
	{
		for (const char *p = url + 4; *p; p++)
			if (!isdigit((unsigned char) *p))
				return false;
		return true;
	}
	return false;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
	   const char *upload, size_t *upload_size, void **ptr)
{
	Request    *r = *ptr;
	const char *lang;

	if (r == NULL)
	{
		const char *cl = header(c, "Content-Length");

		r = calloc(1, sizeof(Request));
		if (r == NULL)
			return MHD_NO;
		*ptr = r;
		/* refused before the body is read: MHD then closes the connection */
		if (!host_ok(header(c, "Host")))
		{
			r->refused = true;
			return send_error(c, 421, "This service does not answer to that host name.");
		}
		if (!rate_ok(c))
		{
			struct MHD_Response *resp = buffer_response("{\"error\":\"Too many requests; slow down.\"}", 41);

			r->refused = true;
			if (resp)
				MHD_add_response_header(resp, "Retry-After", "1");
			return send_response(c, 429, resp, "application/json");
		}
		if (cl && strtoull(cl, NULL, 10) > cfg.max_body)
		{
			r->refused = true;
			return send_error(c, 413, "The request body is too large.");
		}
		return MHD_YES;
	}
	if (r->refused)
	{
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size)
	{
		if (!r->too_large && r->len + *upload_size <= cfg.max_body)
		{
			char	   *b = realloc(r->body, r->len + *upload_size + 1);

			if (b == NULL)
				return MHD_NO;
			r->body = b;
			memcpy(r->body + r->len, upload, *upload_size);
			r->len += *upload_size;
			r->body[r->len] = '\0';
		}
		else
			r->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(c, 413, "The request body is too large.");
	lang = request_lang(c);
	r->signed_in = web_session_get(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "otto_session"), &r->who);
	if (strcmp(url, "/mcp") == 0)
		return mcp_endpoint(c, r, method);
	if (strncmp(url, "/api/", 5) == 0)
		return api(c, r, url, method, lang);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_error(c, 405, "Pages are read with GET.");
	if (strcmp(url, "/healthz") == 0)
	{
		PGresult   *res = db_exec(&app_db, NULL, "en", "SELECT 1", 0, NULL);
		bool		ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;

		PQclear(res);
		return send_text(c, ok ? 200 : 503, "text/plain", ok ? "ok\n" : "database unavailable\n");
	}
	if (strcmp(url, "/chart.svg") == 0)
		return chart(c);
	if (strncmp(url, "/static/", 8) == 0)
		return send_file(c, url + 8, true);
	if (is_page(url))
		return send_file(c, "index.html", false);
	return send_error(c, 404, "No such page.");
}

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: otto-web [--port N] [--address A]\n"
			"Serves Otto's web app and MCP over Streamable HTTP (/mcp).\n"
			"Connects with DATABASE_URL or the PG* environment; the user it connects as must be able to\n"
			"SET ROLE otto_app and otto_chat (OTTO_WEB_APP_ROLE, OTTO_WEB_CHAT_ROLE).\n"
			"Environment: OTTO_WEB_PORT (8080), OTTO_WEB_ADDRESS (127.0.0.1), OTTO_WEB_ROOT (the pages' files),\n"
			"  OTTO_WEB_HOSTS (host names served besides localhost, space-separated), OTTO_WEB_THREADS (4),\n"
			"  OTTO_WEB_RATE (requests per second per client, 200; 0 = no limit), OTTO_WEB_MAX_BODY (1048576),\n"
			"  OTTO_WEB_TIMEOUT (seconds an idle or slow connection is kept, 30),\n"
			"  OTTO_WEB_MCP_TOKEN_REQUIRED=1 (/mcp only with a bearer token), OTTO_WEB_SECURE_COOKIES=1 (behind TLS).\n");
}

static const char *
env(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static void
add_host(const char *h)
{
	if (cfg.nhosts < 16)
		snprintf(cfg.hosts[cfg.nhosts++], sizeof(cfg.hosts[0]), "%s", h);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	pthread_t	listen_thread;
	sigset_t	sigs;
	int			sig;
	char		h[300];
	char	   *hosts;

	cfg.port = atoi(env("OTTO_WEB_PORT", "8080"));
	cfg.address = env("OTTO_WEB_ADDRESS", "127.0.0.1");
	cfg.root = env("OTTO_WEB_ROOT", OTTO_WEB_ROOT);
	cfg.app_role = env("OTTO_WEB_APP_ROLE", "otto_app");
	cfg.chat_role = env("OTTO_WEB_CHAT_ROLE", "otto_chat");
	cfg.threads = atoi(env("OTTO_WEB_THREADS", "4"));
	cfg.timeout = atoi(env("OTTO_WEB_TIMEOUT", "30"));
	cfg.max_body = strtoull(env("OTTO_WEB_MAX_BODY", "1048576"), NULL, 10);
	cfg.rate = atof(env("OTTO_WEB_RATE", "200"));
	cfg.mcp_token_required = strcmp(env("OTTO_WEB_MCP_TOKEN_REQUIRED", "0"), "1") == 0;
	cfg.secure_cookies = strcmp(env("OTTO_WEB_SECURE_COOKIES", "0"), "1") == 0;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			cfg.port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
			cfg.address = argv[++i];
		else if (strcmp(argv[i], "--version") == 0)
		{
			printf("otto-web %s (MCP %s)\n", OTTO_MCP_VERSION, mcp_versions[0]);
			return 0;
		}
		else
		{
			bool		help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;

			usage(help ? stdout : stderr);
			return help ? 0 : 2;
		}
	}
	if (cfg.port <= 0 || cfg.port > 65535 || cfg.threads < 1 || cfg.threads > 64 || cfg.max_body < 1024 ||
		cfg.timeout < 1)
	{
		fprintf(stderr, "otto-web: a port 1-65535, 1-64 threads, a body limit of at least 1024 bytes and a timeout of 1 s or more, please\n");
		return 2;
	}
	snprintf(h, sizeof(h), "localhost:%d", cfg.port);
	add_host(h);
	snprintf(h, sizeof(h), "127.0.0.1:%d", cfg.port);
	add_host(h);
	snprintf(h, sizeof(h), "[::1]:%d", cfg.port);
	add_host(h);
	hosts = strdup(env("OTTO_WEB_HOSTS", ""));
	for (char *save = NULL, *t = strtok_r(hosts, " ,", &save); t; t = strtok_r(NULL, " ,", &save))
	{
		add_host(t);
		if (strchr(t, ':') == NULL)
		{
			snprintf(h, sizeof(h), "%s:%d", t, cfg.port);
			add_host(h);
		}
	}
	free(hosts);

	/* signals are taken by sigwait below; MHD's threads inherit the mask */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	{
		struct sockaddr_in sa = {0};

		sa.sin_family = AF_INET;
		sa.sin_port = htons(cfg.port);
		if (inet_pton(AF_INET, cfg.address, &sa.sin_addr) != 1)
		{
			fprintf(stderr, "otto-web: --address must be an IPv4 address, not \"%s\"\n", cfg.address);
			return 2;
		}
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
							 MHD_USE_ERROR_LOG,
							 cfg.port, NULL, NULL, handle, NULL,
							 MHD_OPTION_SOCK_ADDR, &sa,
							 MHD_OPTION_THREAD_POOL_SIZE, (unsigned) cfg.threads,
							 MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
							 MHD_OPTION_CONNECTION_LIMIT, (unsigned) 1000,
							 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) 64,
							 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) cfg.timeout,	/* slow clients */
							 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,	/* headers */
							 MHD_OPTION_END);
	}
	if (d == NULL)
	{
		log_msg("error", "cannot listen on %s:%d: %s", cfg.address, cfg.port, strerror(errno));
		return 1;
	}
	pthread_create(&listen_thread, NULL, listener, NULL);
	log_msg("info", "serving http://%s:%d/ (pages from %s, %d threads)", cfg.address, cfg.port, cfg.root, cfg.threads);
	sigwait(&sigs, &sig);
	stopping = 1;
	log_msg("info", "stopping (signal %d)", sig);
	pthread_mutex_lock(&stream_lock);
	streams_wake(0, true);		/* streams end on their next read */
	pthread_mutex_unlock(&stream_lock);
	MHD_stop_daemon(d);
	pthread_join(listen_thread, NULL);
	return 0;
}
