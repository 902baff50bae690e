/*
 * fetch.c: one HTTP fetch with libcurl, under Otto's rules.
 *
 * A Fetch is a libcurl easy handle plus everything its callbacks fill in.
 * The crawler adds it to its multi handle (many in flight at once, sharing
 * keep-alive connections) and hands it back to fetch_finish when libcurl is
 * done.  The rules enforced here, for every hop of a redirect chain:
 *   - http and https only; at most otto.max_redirects redirects, and only to
 *     hosts of the same site;
 *   - loopback, private, link-local and other non-public addresses are
 *     refused on the address the name resolved to, unless the site allows
 *     them (a local simulator);
 *   - the body is limited to otto.max_page_bytes (the excess is not read);
 *   - connect, total and low-speed timeouts; gzip accepted; conditional GET.
 * libcurl's callbacks must not throw through libcurl, so they allocate with
 * MCXT_ALLOC_NO_OOM and report trouble by returning 0.
 *
 * The pure pieces are SQL-callable for tests and for people:
 * otto.address_is_private, otto.decode_body and otto.retry_after.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "access/xact.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "crawl/fetch.h"
#include "core/otto.h"
#include "parse/parse.h"
#include "sites/url.h"

char	   *otto_user_agent = NULL;
static int	connect_timeout_ms = 10000;
static int	fetch_timeout_ms = 60000;
static int	max_redirects = 5;

void
FetchGucInit(void)
{
	DefineCustomStringVariable("otto.user_agent",
							   "User-Agent header of Otto's requests; its product token selects the robots.txt group.",
							   NULL, &otto_user_agent,
							   "OttoBot/1.0 (car-market research; +https://github.com/otto-market/otto)",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.connect_timeout",
							"Time allowed to connect to a server.",
							NULL, &connect_timeout_ms,
							10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.fetch_timeout",
							"Time allowed for a whole request, redirects included.",
							"A transfer slower than 100 bytes/s for a third of this is aborted earlier.",
							&fetch_timeout_ms,
							60000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.max_redirects",
							"Redirects followed before a fetch fails with too_many_redirects.",
							NULL, &max_redirects,
							5, 0, 50,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * Address policy
 * --------------------------------------------------------------------- */

static bool
ipv4_is_private(uint32 a)
{
	return (a >> 24) == 0			/* 0.0.0.0/8 "this network" */
		|| (a >> 24) == 10			/* 10/8 private */
		|| (a >> 22) == (100 << 2 | 1)	/* 100.64/10 carrier-grade NAT */
		|| (a >> 24) == 127			/* loopback */
		|| (a >> 16) == (169 << 8 | 254)	/* link-local */
		|| (a >> 20) == (172 << 4 | 1)	/* 172.16/12 private */
		|| (a >> 8) == (192u << 16 | 0 << 8 | 0)	/* 192.0.0/24 protocol assignments */
		|| (a >> 16) == (192u << 8 | 168)	/* 192.168/16 private */
		|| (a >> 17) == (198u << 7 | 18 >> 1)	/* 198.18/15 benchmarking */
		|| (a >> 28) >= 14;			/* multicast, reserved, broadcast */
}

/* Is this a loopback, private, link-local or otherwise non-public address? */
static bool
address_is_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ipv4_is_private(ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
	{
		const uint8 *b = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
		static const uint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		static const uint8 nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
		static const uint8 translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
		bool		zero10 = true;

		for (int i = 0; i < 10; i++)
			zero10 &= b[i] == 0;
		if (memcmp(b, mapped, 12) == 0)	/* ::ffff:a.b.c.d */
			return ipv4_is_private((uint32) b[12] << 24 | b[13] << 16 | b[14] << 8 | b[15]);
		if (zero10 && b[10] == 0 && b[11] == 0)	/* ::, ::1, deprecated ::a.b.c.d */
			return true;
		/* addresses that reach IPv4: judged by the IPv4 address they carry */
		if (memcmp(b, nat64, 12) == 0 ||	/* 64:ff9b::/96 NAT64 */
			memcmp(b, translated, 12) == 0) /* ::ffff:0:a.b.c.d IPv4-translated */
			return ipv4_is_private((uint32) b[12] << 24 | b[13] << 16 | b[14] << 8 | b[15]);
		if (b[0] == 0x20 && b[1] == 0x02)	/* 2002::/16 6to4: the IPv4 address follows */
			return ipv4_is_private((uint32) b[2] << 24 | b[3] << 16 | b[4] << 8 | b[5]);
		return (b[0] & 0xfe) == 0xfc	/* fc00::/7 unique local */
			|| (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)	/* fe80::/10 link-local */
			|| (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)	/* fec0::/10 site-local (deprecated) */
			|| (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 0x01)	/* 64:ff9b:1::/48 local NAT64 */
			|| (b[0] == 0x01 && b[1] == 0x00 && !(b[2] | b[3] | b[4] | b[5] | b[6] | b[7]))	/* 100::/64 discard */
			|| (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)	/* 2001:db8::/32 documentation */
			|| (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)	/* 2001::/32 Teredo (hides its IPv4) */
			|| b[0] == 0xff;		/* multicast */
	}
	return true;				/* unknown families are never public */
}

/* SQL: otto.address_is_private(address text) returns boolean. */
PG_FUNCTION_INFO_V1(otto_address_is_private);
Datum
otto_address_is_private(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));
	struct sockaddr_in v4 = {0};
	struct sockaddr_in6 v6 = {0};

	if (inet_pton(AF_INET, s, &v4.sin_addr) == 1)
	{
		v4.sin_family = AF_INET;
		PG_RETURN_BOOL(address_is_private((struct sockaddr *) &v4));
	}
	if (inet_pton(AF_INET6, s, &v6.sin6_addr) == 1)
	{
		v6.sin6_family = AF_INET6;
		PG_RETURN_BOOL(address_is_private((struct sockaddr *) &v6));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("\"%.*s\" is not an IPv4 or IPv6 address", OTTO_CLIP(s, 100))));
	PG_RETURN_NULL();
}

/* ---------------------------------------------------------------------
 * libcurl callbacks
 * --------------------------------------------------------------------- */

/* Refuse non-public addresses before connecting, on every hop. */
static curl_socket_t
fetch_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	Fetch	   *f = clientp;

	if (!f->allow_private && address_is_private(&addr->addr))
	{
		char		ip[INET6_ADDRSTRLEN] = "?";

		if (addr->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *) &addr->addr)->sin_addr, ip, sizeof(ip));
		else if (addr->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &addr->addr)->sin6_addr, ip, sizeof(ip));
		f->refused = true;
		snprintf(f->refused_why, sizeof(f->refused_why),
				 "address %s is not public and the site does not allow private addresses", ip);
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* Append to the body, up to max_bytes; past it, abort the transfer. */
static size_t
fetch_write(char *data, size_t size, size_t nmemb, void *p)
{
	Fetch	   *f = p;
	size_t		len = size * nmemb;

	if (f->body_len + len > f->max_bytes)
	{
		f->too_large = true;
		return 0;
	}
	if (f->body_len + len + 1 > f->body_cap)
	{
		size_t		cap = Max(f->body_cap * 2, f->body_len + len + 1);
		char	   *nb;

		cap = Min(cap, f->max_bytes + 1);
		nb = MemoryContextAllocExtended(f->cxt, cap, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (nb == NULL)
			return 0;
		if (f->body_len > 0)
			memcpy(nb, f->body, f->body_len);
		if (f->body)
			pfree(f->body);
		f->body = nb;
		f->body_cap = cap;
	}
	memcpy(f->body + f->body_len, data, len);
	f->body_len += len;
	f->body[f->body_len] = '\0';
	return len;
}

/*
 * What a server sent, made printable ASCII in place: other bytes become '?',
 * so that it is valid text in any encoding and can be cut anywhere.
 */
static void
ascii_only(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f)
			s[i] = '?';
}

/*
 * A header value, trimmed, as a string in the fetch's context (NULL on OOM).
 * The headers kept (validators, content type, location, Retry-After) are
 * ASCII by their grammars; anything else is made so (ascii_only), and the
 * cut at 1000 bytes splits no character.
 */
static char *
header_value(Fetch *f, const char *v, size_t n)
{
	char	   *s;

	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	n = Min(n, 1000);
	s = MemoryContextAllocExtended(f->cxt, n + 1, MCXT_ALLOC_NO_OOM);
	if (s)
	{
		memcpy(s, v, n);
		s[n] = '\0';
		ascii_only(s, n);
	}
	return s;
}

/* Is host (host[:port]) one of the fetch's site's hosts? */
static bool
host_allowed(Fetch *f, const char *url)
{
	int			n;
	const char *h = otto_url_host(url, &n);

	for (int i = 0; i < f->nhosts; i++)
		if (strlen(f->hosts[i]) == n && pg_strncasecmp(f->hosts[i], h, n) == 0)
			return true;
	return false;
}

/* Mark the fetch refused, saying why; the reason quotes what the server sent (ascii_only). */
static void
refuse(Fetch *f, const char *fmt, const char *what)
{
	f->refused = true;
	snprintf(f->refused_why, sizeof(f->refused_why), fmt, what);
	ascii_only(f->refused_why, strlen(f->refused_why));
}

/*
 * Before each request libcurl sends, the first and every redirect's: the URL
 * it is about to ask for must be on the site.  This checks what libcurl
 * itself follows, whatever the headers said (fetch_header refuses earlier,
 * without connecting, for the common case).
 */
static int
fetch_prereq(void *clientp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port, int conn_local_port)
{
	Fetch	   *f = clientp;
	char	   *url = NULL;

	curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
	if (url == NULL || !host_allowed(f, url))
	{
		refuse(f, "redirect to %.150s leaves the site", url ? url : "?");
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/*
 * Keep the validators and the headers that decide what happens next; at the
 * end of a redirect's headers, refuse to follow it off the site.
 */
static size_t
fetch_header(char *buf, size_t size, size_t nmemb, void *p)
{
	Fetch	   *f = p;
	size_t		len = size * nmemb;
	const char *colon;

	if (len > 5 && strncmp(buf, "HTTP/", 5) == 0)
	{
		/* a new response (after a redirect or a 100): forget the last one's */
		const char *sp = memchr(buf, ' ', len);

		f->status = sp ? atoi(sp + 1) : 0;
		f->etag = f->last_modified = f->content_type = f->location = f->retry_after = NULL;
		return len;
	}
	if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n'))
	{
		if (f->status >= 300 && f->status < 400 && f->location != NULL)
		{
			char	   *current = NULL;
			const char *why;
			char	   *next;

			curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &current);
			next = otto_url_normalize(current, f->location, &why);
			if (next == NULL || !host_allowed(f, next))
			{
				refuse(f, "redirect to %.150s leaves the site", f->location);
				return 0;
			}
		}
		return len;
	}
	colon = memchr(buf, ':', len);
	if (colon == NULL)
		return len;
#define HEADER_IS(name) ((size_t) (colon - buf) == strlen(name) && pg_strncasecmp(buf, name, strlen(name)) == 0)
	if (HEADER_IS("etag"))
		f->etag = header_value(f, colon + 1, len - (colon + 1 - buf));
	else if (HEADER_IS("last-modified"))
		f->last_modified = header_value(f, colon + 1, len - (colon + 1 - buf));
	else if (HEADER_IS("content-type"))
		f->content_type = header_value(f, colon + 1, len - (colon + 1 - buf));
	else if (HEADER_IS("location") && f->location == NULL)	/* libcurl follows the first */
		f->location = header_value(f, colon + 1, len - (colon + 1 - buf));
	else if (HEADER_IS("retry-after"))
		f->retry_after = header_value(f, colon + 1, len - (colon + 1 - buf));
#undef HEADER_IS
	return len;
}

/* ---------------------------------------------------------------------
 * A fetch's life
 * --------------------------------------------------------------------- */

Fetch *
fetch_create(MemoryContext parent, const char *url, char **hosts, int nhosts,
			 bool allow_private, const char *etag, const char *last_modified)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "otto fetch", ALLOCSET_SMALL_SIZES);
	Fetch	   *f = MemoryContextAllocZero(cxt, sizeof(Fetch));
	CURL	   *e;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	f->cxt = cxt;
	f->url = MemoryContextStrdup(cxt, url);
	f->hosts = MemoryContextAlloc(cxt, sizeof(char *) * Max(nhosts, 1));
	for (int i = 0; i < nhosts; i++)
		f->hosts[i] = MemoryContextStrdup(cxt, hosts[i]);
	f->nhosts = nhosts;
	f->allow_private = allow_private;
	f->max_bytes = otto_max_page_bytes;
	f->started = GetCurrentTimestamp();

	e = f->easy = curl_easy_init();
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("libcurl could not create a transfer")));
	if (etag)
		f->headers = curl_slist_append(f->headers, psprintf("If-None-Match: %s", etag));
	if (last_modified)
		f->headers = curl_slist_append(f->headers, psprintf("If-Modified-Since: %s", last_modified));

	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, otto_user_agent);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");	/* every encoding libcurl decodes */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long) max_redirects);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) fetch_timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 100L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long) Max(1, fetch_timeout_ms / 3000));
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) f->max_bytes);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, fetch_opensocket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, fetch_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, fetch_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, f);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	MemoryContextSwitchTo(old);
	return f;
}

void
fetch_destroy(Fetch *f)
{
	curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	MemoryContextDelete(f->cxt);
}

/* ---------------------------------------------------------------------
 * Decoding and classification
 * --------------------------------------------------------------------- */

/* The charset named in a Content-Type, or failing that in the page's first 1 kB; NULL if none. */
static char *
body_charset(const char *content_type, const char *body, size_t len)
{
	const char *sources[2] = {content_type, NULL};
	char		head[1025];

	len = Min(len, 1024);
	memcpy(head, body ? body : "", body ? len : 0);
	head[body ? len : 0] = '\0';
	sources[1] = head;
	for (int i = 0; i < 2; i++)
	{
		const char *c = sources[i] ? strcasestr(sources[i], "charset=") : NULL;
		size_t		n;

		if (c == NULL)
			continue;
		c += 8;
		while (*c == '"' || *c == '\'' || *c == ' ')
			c++;
		n = strspn(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:.");
		if (n > 0 && n < 40)
			return pnstrdup(c, n);
	}
	return NULL;
}

/*
 * The body as text in the database encoding, converted from its declared
 * charset (UTF-8 when none); NULL with *error set when it cannot be.
 */
static char *
decode_body(const char *body, size_t len, const char *content_type, char **error)
{
	char	   *charset = body_charset(content_type, body, len);
	int			enc = charset ? pg_char_to_encoding(charset) : PG_UTF8;
	char	   *out = NULL;
	MemoryContext cxt = CurrentMemoryContext;
	bool		own_tx;

	*error = NULL;
	if (enc < 0 || !PG_VALID_FE_ENCODING(enc))
	{
		*error = psprintf("unknown charset \"%s\"", charset);
		return NULL;
	}
	if (enc == GetDatabaseEncoding() || enc == PG_SQL_ASCII)
	{
		if (pg_verify_mbstr(GetDatabaseEncoding(), body, len, true))
			return pnstrdup(body, len);
		*error = psprintf("the body is not valid %s", pg_encoding_to_char(GetDatabaseEncoding()));
		return NULL;
	}
	/* the conversion looks up catalogs: the crawler calls this outside a transaction */
	own_tx = !IsTransactionState();
	if (own_tx)
		StartTransactionCommand();
	PG_TRY();
	{
		char	   *conv = (char *) pg_do_encoding_conversion((unsigned char *) body, len,
															  enc, GetDatabaseEncoding());

		out = MemoryContextStrdup(cxt, conv);
		if (own_tx)
			CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		if (own_tx)
			AbortCurrentTransaction();
		*error = ed->message;
		out = NULL;
	}
	PG_END_TRY();
	return out;
}

/* SQL: otto.decode_body(body bytea, content_type text) returns text. */
PG_FUNCTION_INFO_V1(otto_decode_body);
Datum
otto_decode_body(PG_FUNCTION_ARGS)
{
	bytea	   *b;
	char	   *ct = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *error;
	char	   *s;

	/* not STRICT: a NULL content type means "no header", but no body is no text */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	b = PG_GETARG_BYTEA_PP(0);
	s = decode_body(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), ct, &error);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("cannot decode the page: %s", error)));
	PG_RETURN_TEXT_P(cstring_to_text(s));
}

/* Seconds a Retry-After value asks for (delta-seconds or HTTP-date); -1 when unreadable. */
static double
retry_after_seconds(const char *v)
{
	char	   *end;
	long		s;
	time_t		when;

	if (v == NULL || *v == '\0')
		return -1;
	s = strtol(v, &end, 10);
	if (end != v && *end == '\0')
		return s >= 0 ? (double) s : -1;
	when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	return Max(0, (double) (when - time(NULL)));
}

/* SQL: otto.retry_after(value text) returns float8 seconds (NULL when unreadable). */
PG_FUNCTION_INFO_V1(otto_retry_after);
Datum
otto_retry_after(PG_FUNCTION_ARGS)
{
	double		s = retry_after_seconds(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (s < 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s);
}

/* Is this a content type Otto parses? */
static bool
parseable_type(const char *ct)
{
	return ct == NULL
		|| pg_strncasecmp(ct, "text/html", 9) == 0
		|| pg_strncasecmp(ct, "application/xhtml+xml", 21) == 0
		|| pg_strncasecmp(ct, "text/plain", 10) == 0;
}

/* What became of the fetch: status, error kind, timings, decoded body. */
void
fetch_finish(Fetch *f, CURLcode rc, FetchResult *r)
{
	long		status = 0;
	char	   *final_url = NULL;
	curl_off_t	wire = 0,
				total_us = 0;

	memset(r, 0, sizeof(*r));
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &final_url);
	curl_easy_getinfo(f->easy, CURLINFO_REDIRECT_COUNT, &r->redirects);
	curl_easy_getinfo(f->easy, CURLINFO_SIZE_DOWNLOAD_T, &wire);
	curl_easy_getinfo(f->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	r->status = (int) status;
	r->final_url = final_url ? pstrdup(final_url) : NULL;
	r->wire_bytes = wire;
	r->elapsed_ms = (long) (total_us / 1000);
	r->retry_after_s = retry_after_seconds(f->retry_after);

	switch (rc)
	{
		case CURLE_OK:
			break;
		case CURLE_OPERATION_TIMEDOUT:
			r->error_kind = "timeout";
			r->retry = true;
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			r->error_kind = "dns";
			r->retry = true;
			break;
		case CURLE_COULDNT_CONNECT:
			r->error_kind = f->refused ? "refused" : "connect";
			r->retry = !f->refused;
			break;
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_PARTIAL_FILE:
			r->error_kind = "reset";
			r->retry = true;
			break;
		case CURLE_FILESIZE_EXCEEDED:
			r->error_kind = "too_large";
			break;
		case CURLE_TOO_MANY_REDIRECTS:
			r->error_kind = "too_many_redirects";
			break;
		case CURLE_WRITE_ERROR:
			r->error_kind = f->too_large ? "too_large" : f->refused ? "refused" : "other";
			break;
		default:
			r->error_kind = "other";
			r->retry = true;
			break;
	}
	if (r->error_kind)
	{
		if (strcmp(r->error_kind, "refused") == 0)
			r->error = pstrdup(f->refused_why);
		else if (strcmp(r->error_kind, "too_large") == 0)
			r->error = psprintf("the body is larger than otto.max_page_bytes (%d bytes)", otto_max_page_bytes);
		else
			r->error = pstrdup(f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
		return;
	}

	if (status >= 500 || status == 429 || status == 408)
	{
		r->error_kind = "http";
		r->error = psprintf("HTTP %ld", status);
		r->retry = true;
		return;
	}
	if (status != 200)
		return;					/* 304, 404, 410 ... go to the page log as they are */
	if (!parseable_type(f->content_type))
	{
		r->error_kind = "content_type";
		r->error = psprintf("content type \"%s\" is not a page", f->content_type);
		return;
	}
	r->text = decode_body(f->body ? f->body : "", f->body_len, f->content_type, &r->error);
	if (r->text == NULL)
		r->error_kind = "charset";
	else
		r->text_len = strlen(r->text);
}

/* The fetch's metadata for the page log, as JSON. */
char *
fetch_meta(FetchResult *r, Fetch *f)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfo(&b, "{\"redirects\": %ld, \"elapsed_ms\": %ld, \"wire_bytes\": " INT64_FORMAT,
					 r->redirects, r->elapsed_ms, r->wire_bytes);
	if (r->final_url && strcmp(r->final_url, f->url) != 0)
	{
		appendStringInfoString(&b, ", \"final_url\": ");
		escape_json(&b, r->final_url);
	}
#define META(name, v) if (v) { appendStringInfoString(&b, ", \"" name "\": "); escape_json(&b, v); }
	META("content_type", f->content_type);
	META("etag", f->etag);
	META("last_modified", f->last_modified);
#undef META
	appendStringInfoChar(&b, '}');
	return b.data;
}
