/*
 * url.c: URL resolution and normalisation (RFC 3986), and the canonical form
 * Otto stores: the key of the frontier, of page log rows and of ads.
 *
 * Normal form: scheme and host lower case, default port removed, dot
 * segments removed, percent-encodings upper case (unreserved characters
 * decoded, bytes that may not appear raw encoded), empty path "/", fragment
 * dropped, tracking parameters (otto.tracking_params) dropped and the
 * remaining query parameters sorted by name (stable).
 *
 * Only http and https URLs with a host are valid; anything else (other
 * schemes, relative references without a base, bad ports, hosts with
 * characters no DNS name or IP literal has, more than OTTO_URL_MAX bytes)
 * is invalid: otto_url_normalize returns NULL with a reason, and the SQL
 * function raises an error that quotes it.
 */
#ifdef FRONTEND
/* the fuzzer (fuzz/) builds this file alone, against libpgcommon */
#include "postgres_fe.h"
#define OTTO_URL_MAX 2048
char	   *otto_url_normalize(const char *base, const char *ref, const char **why);
char	   *otto_tracking_params = "attp,utm_*,fbclid,gclid";
#else
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "core/otto.h"
#include "sites/url.h"

char	   *otto_tracking_params = NULL;
#endif

#include "lib/stringinfo.h"

typedef struct UrlParts
{
	const char *scheme;
	int			scheme_len;
	const char *authority;		/* NULL when there is no "//" */
	int			authority_len;
	const char *path;
	int			path_len;
	const char *query;			/* NULL when there is no "?" */
	int			query_len;
} UrlParts;

/* Split a URL reference into its RFC 3986 components (no validation). */
static void
url_split(const char *s, int len, UrlParts *p)
{
	int			i = 0,
				start;

	memset(p, 0, sizeof(*p));
	/* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if (len > 0 && isalpha((unsigned char) s[0]))
	{
		for (i = 1; i < len && (isalnum((unsigned char) s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'); i++)
			;
		if (i < len && s[i] == ':')
		{
			p->scheme = s;
			p->scheme_len = i;
			i++;
		}
		else
			i = 0;
	}
	if (i + 1 < len && s[i] == '/' && s[i + 1] == '/')
	{
		i += 2;
		start = i;
		while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
			i++;
		p->authority = s + start;
		p->authority_len = i - start;
	}
	start = i;
	while (i < len && s[i] != '?' && s[i] != '#')
		i++;
	p->path = s + start;
	p->path_len = i - start;
	if (i < len && s[i] == '?')
	{
		start = ++i;
		while (i < len && s[i] != '#')
			i++;
		p->query = s + start;
		p->query_len = i - start;
	}
}

/* RFC 3986 5.2.4: remove "." and ".." segments; appends the result to out. */
static void
remove_dot_segments(const char *in, int len, StringInfo out)
{
	int			base = out->len;
	int			i = 0;

	while (i < len)
	{
		if (len - i >= 3 && strncmp(in + i, "../", 3) == 0)
			i += 3;
		else if (len - i >= 2 && strncmp(in + i, "./", 2) == 0)
			i += 2;
		else if (len - i >= 3 && strncmp(in + i, "/./", 3) == 0)
			i += 2;
		else if (len - i == 2 && strncmp(in + i, "/.", 2) == 0)
		{
			appendStringInfoChar(out, '/');
			i += 2;
		}
		else if ((len - i >= 4 && strncmp(in + i, "/../", 4) == 0) ||
				 (len - i == 3 && strncmp(in + i, "/..", 3) == 0))
		{
			/* drop the last output segment */
			while (out->len > base && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > base)
				out->len--;
			out->data[out->len] = '\0';
			if (len - i == 3)
			{
				appendStringInfoChar(out, '/');
				i += 3;
			}
			else
				i += 3;
		}
		else if ((len - i == 1 && in[i] == '.') || (len - i == 2 && strncmp(in + i, "..", 2) == 0))
			i = len;
		else
		{
			/* move the first segment (with its leading "/") to the output */
			int			j = i + (in[i] == '/' ? 1 : 0);

			while (j < len && in[j] != '/')
				j++;
			appendBinaryStringInfo(out, in + i, j - i);
			i = j;
		}
	}
}

static inline bool
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static inline int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Append a path or query with normalised percent-encoding: %XX of an
 * unreserved character is decoded, other %XX upper-cased, a stray '%',
 * spaces, controls and non-ASCII bytes encoded.
 */
static void
append_normalized_pct(StringInfo out, const char *s, int len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			unsigned char d = (unsigned char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));

			if (is_unreserved(d))
				appendStringInfoChar(out, (char) d);
			else
			{
				appendStringInfoChar(out, '%');
				appendStringInfoChar(out, hex[d >> 4]);
				appendStringInfoChar(out, hex[d & 15]);
			}
			i += 2;
		}
		else if (c <= 0x20 || c >= 0x7f || c == '%' || c == '"' || c == '<' || c == '>' ||
				 c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}')
		{
			appendStringInfoChar(out, '%');
			appendStringInfoChar(out, hex[c >> 4]);
			appendStringInfoChar(out, hex[c & 15]);
		}
		else
			appendStringInfoChar(out, (char) c);
	}
}

/* Is this query parameter name one of otto.tracking_params ("utm_*" is a prefix)? */
static bool
is_tracking_param(const char *name, int len)
{
	const char *p = otto_tracking_params;

	while (p && *p)
	{
		const char *end = strchr(p, ',');
		int			n;

		while (*p == ' ')
			p++;
		n = end ? end - p : (int) strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && p[n - 1] == '*')
		{
			if (len >= n - 1 && strncmp(name, p, n - 1) == 0)
				return true;
		}
		else if (n == len && strncmp(name, p, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

typedef struct QueryParam
{
	const char *s;
	int			len;
	int			name_len;
	int			order;
} QueryParam;

static int
param_cmp(const void *a, const void *b)
{
	const QueryParam *x = a,
			   *y = b;
	int			n = Min(x->name_len, y->name_len);
	int			c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len - y->name_len;
	return x->order - y->order;
}

/* Append "?query" without tracking parameters, sorted by name; nothing if empty. */
static void
append_canonical_query(StringInfo out, const char *q, int len)
{
	StringInfoData norm;
	QueryParam *params;
	int			n = 0,
				cap = 8,
				start = 0;
	bool		first = true;

	initStringInfo(&norm);
	append_normalized_pct(&norm, q, len);
	params = palloc(sizeof(QueryParam) * cap);
	for (int i = 0; i <= norm.len; i++)
	{
		if (i == norm.len || norm.data[i] == '&' || norm.data[i] == ';')
		{
			if (i > start)
			{
				const char *eq = memchr(norm.data + start, '=', i - start);
				int			name_len = eq ? eq - (norm.data + start) : i - start;

				if (!is_tracking_param(norm.data + start, name_len))
				{
					if (n == cap)
						params = repalloc(params, sizeof(QueryParam) * (cap *= 2));
					params[n].s = norm.data + start;
					params[n].len = i - start;
					params[n].name_len = name_len;
					params[n].order = n;
					n++;
				}
			}
			start = i + 1;
		}
	}
	qsort(params, n, sizeof(QueryParam), param_cmp);
	for (int i = 0; i < n; i++)
	{
		appendStringInfoChar(out, first ? '?' : '&');
		appendBinaryStringInfo(out, params[i].s, params[i].len);
		first = false;
	}
	pfree(params);
	pfree(norm.data);
}

/* Normalise the authority into out: lower-case host, no default port, no userinfo. */
static bool
append_authority(StringInfo out, const char *a, int len, bool https, const char **why)
{
	const char *at = NULL;
	const char *host;
	int			host_len,
				port_start = -1;

	for (int i = 0; i < len; i++)
		if (a[i] == '@')
			at = a + i;
	host = at ? at + 1 : a;
	host_len = len - (host - a);
	if (host_len > 0 && host[0] == '[')
	{
		const char *close = memchr(host, ']', (size_t) host_len);

		if (!close)
		{
			*why = "unterminated IPv6 literal";
			return false;
		}
		if (close + 1 < host + host_len)
		{
			if (close[1] != ':')
			{
				*why = "garbage after IPv6 literal";
				return false;
			}
			port_start = close + 2 - host;
		}
		host_len = close + 1 - host;
		for (int i = 1; i < host_len - 1; i++)
			if (!isxdigit((unsigned char) host[i]) && host[i] != ':' && host[i] != '.')
			{
				*why = "invalid IPv6 literal";
				return false;
			}
	}
	else
	{
		const char *colon = host_len > 0 ? memchr(host, ':', (size_t) host_len) : NULL;

		if (colon)
		{
			port_start = colon + 1 - host;
			host_len = colon - host;
		}
		for (int i = 0; i < host_len; i++)
		{
			unsigned char c = (unsigned char) host[i];

			if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
			{
				*why = "the host has a character no host name has";
				return false;
			}
		}
	}
	if (host_len == 0)
	{
		*why = "no host";
		return false;
	}
	for (int i = 0; i < host_len; i++)
		appendStringInfoChar(out, pg_ascii_tolower((unsigned char) host[i]));
	if (out->data[out->len - 1] == '.')		/* "example.com." is "example.com" */
		out->data[--out->len] = '\0';
	if (port_start >= 0)
	{
		const char *p = host + port_start;
		int			plen = len - (p - a);
		long		port = 0;

		if (plen > 5)
		{
			*why = "invalid port";
			return false;
		}
		for (int i = 0; i < plen; i++)
		{
			if (!isdigit((unsigned char) p[i]))
			{
				*why = "invalid port";
				return false;
			}
			port = port * 10 + (p[i] - '0');
		}
		if (plen > 0 && (port < 1 || port > 65535))
		{
			*why = "port out of range";
			return false;
		}
		if (plen > 0 && port != (https ? 443 : 80))
			appendStringInfo(out, ":%ld", port);
	}
	return true;
}

/*
 * Resolve ref against base (RFC 3986 5.2.2) and normalise.  base may be NULL
 * when ref is absolute.  Returns a palloc'd string, or NULL with *why set.
 * The RFC's steps in its order, in one function (longer than 100 lines) so
 * that it reads against the RFC.
 */
char *
otto_url_normalize(const char *base, const char *ref, const char **why)
{
	UrlParts	r,
				b;
	StringInfoData out,
				path;
	size_t		ref_len = strlen(ref);
	bool		https;
	const char *authority;
	int			authority_len;
	bool		ref_absolute;

	/* Browsers strip leading and trailing spaces and drop tabs and newlines. */
	while (ref_len > 0 && (unsigned char) ref[0] <= ' ')
		ref++, ref_len--;
	while (ref_len > 0 && (unsigned char) ref[ref_len - 1] <= ' ')
		ref_len--;
	if (ref_len > OTTO_URL_MAX)
	{
		*why = "longer than 2048 bytes";
		return NULL;
	}
	/* (a copy without tabs and newlines lives as long as the caller's context) */
	if (memchr(ref, '\t', ref_len) || memchr(ref, '\n', ref_len) || memchr(ref, '\r', ref_len))
	{
		char	   *clean = palloc(ref_len + 1);
		int			n = 0;

		for (size_t i = 0; i < ref_len; i++)
			if (ref[i] != '\t' && ref[i] != '\n' && ref[i] != '\r')
				clean[n++] = ref[i];
		clean[n] = '\0';
		ref = clean;
		ref_len = n;
	}
	url_split(ref, ref_len, &r);
	memset(&b, 0, sizeof(b));
	ref_absolute = r.scheme != NULL;
	if (!ref_absolute)
	{
		if (!base)
		{
			*why = "not an absolute URL";
			return NULL;
		}
		url_split(base, strlen(base), &b);
		if (!b.scheme || !b.authority)
		{
			*why = "the base is not an absolute URL";
			return NULL;
		}
		r.scheme = b.scheme;
		r.scheme_len = b.scheme_len;
	}
	if (r.scheme_len == 4 && pg_strncasecmp(r.scheme, "http", 4) == 0)
		https = false;
	else if (r.scheme_len == 5 && pg_strncasecmp(r.scheme, "https", 5) == 0)
		https = true;
	else
	{
		*why = "only http and https URLs are fetched";
		return NULL;
	}

	initStringInfo(&path);
	if (r.authority)
	{
		authority = r.authority;
		authority_len = r.authority_len;
		remove_dot_segments(r.path, r.path_len, &path);
	}
	else if (!ref_absolute)
	{
		authority = b.authority;
		authority_len = b.authority_len;
		if (r.path_len == 0)
		{
			appendBinaryStringInfo(&path, b.path, b.path_len);
			if (!r.query && b.query)
			{
				r.query = b.query;
				r.query_len = b.query_len;
			}
		}
		else if (r.path[0] == '/')
			remove_dot_segments(r.path, r.path_len, &path);
		else
		{
			/* merge: base path up to its last "/", then the reference */
			StringInfoData merged;
			int			last = b.path_len;

			initStringInfo(&merged);
			while (last > 0 && b.path[last - 1] != '/')
				last--;
			if (last == 0)
				appendStringInfoChar(&merged, '/');
			else
				appendBinaryStringInfo(&merged, b.path, last);
			appendBinaryStringInfo(&merged, r.path, r.path_len);
			remove_dot_segments(merged.data, merged.len, &path);
			pfree(merged.data);
		}
	}
	else
	{
		/* "http:foo": an absolute URL without a host */
		*why = "no host";
		return NULL;
	}

	initStringInfo(&out);
	appendStringInfoString(&out, https ? "https://" : "http://");
	if (!append_authority(&out, authority, authority_len, https, why))
	{
		pfree(path.data);
		pfree(out.data);
		return NULL;
	}
	if (path.len == 0 || path.data[0] != '/')
		appendStringInfoChar(&out, '/');
	append_normalized_pct(&out, path.data, path.len);
	pfree(path.data);
	if (r.query)
		append_canonical_query(&out, r.query, r.query_len);
	if (out.len > OTTO_URL_MAX)
	{
		*why = "longer than 2048 bytes";
		pfree(out.data);
		return NULL;
	}
	return out.data;
}

#ifndef FRONTEND
/* Define otto.tracking_params. */
void
UrlGucInit(void)
{
	DefineCustomStringVariable("otto.tracking_params",
							   "Query parameters removed from every URL (comma-separated; a trailing * matches a prefix).",
							   NULL,
							   &otto_tracking_params,
							   "attp,utm_*,fbclid,gclid,msclkid,mc_cid,mc_eid,_ga",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
}

/* SQL: otto.normalize_url(url text) returns text; an invalid URL is an error. */
/*
 * host[:port] of a normalised URL (otto_url_normalize's output): where it
 * starts, its length in *len.  A string without "://" has an empty host.
 */
const char *
otto_url_host(const char *norm, int *len)
{
	const char *h = strstr(norm, "://");

	if (h == NULL)
	{
		*len = 0;
		return norm;
	}
	h += 3;
	*len = strcspn(h, "/?#");
	return h;
}

/* Path and query of a normalised URL, "/" when it has none. */
const char *
otto_url_path(const char *norm)
{
	int			len;
	const char *h = otto_url_host(norm, &len);

	return h[len] == '/' ? h + len : "/";
}

/* SQL: otto.url_host(url text) returns text, as otto_url_host. */
PG_FUNCTION_INFO_V1(otto_url_host_text);
Datum
otto_url_host_text(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			len;
	const char *host = otto_url_host(url, &len);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(host, len));
}

PG_FUNCTION_INFO_V1(otto_normalize_url);
Datum
otto_normalize_url(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *why = NULL;
	char	   *norm = otto_url_normalize(NULL, url, &why);

	if (!norm)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid URL \"%.*s%s\": %s", OTTO_CLIP(url, 100), strlen(url) > 100 ? "..." : "", why),
				 errhint("Give an absolute http or https URL.")));
	PG_RETURN_TEXT_P(cstring_to_text(norm));
}

/* SQL: otto.resolve_url(base text, ref text) returns text; NULL when ref is not a fetchable URL. */
PG_FUNCTION_INFO_V1(otto_resolve_url);
Datum
otto_resolve_url(PG_FUNCTION_ARGS)
{
	char	   *base = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *why = NULL;
	char	   *norm = otto_url_normalize(base, ref, &why);

	if (!norm)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(norm));
}
#endif
