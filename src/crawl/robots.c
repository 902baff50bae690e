/*
 * robots.c: robots.txt (RFC 9309) as pure SQL-callable functions, for the
 * crawler to call before every fetch and for people to ask "may Otto fetch
 * this?".
 *
 * Groups start at "User-agent" lines; the group(s) naming the crawler's
 * product token (the User-Agent up to its first '/' or space, compared
 * case-insensitively) apply, else the "*" group(s).  Among Allow/Disallow
 * rules the longest matching pattern wins and Allow wins a tie; patterns may
 * use '*' (any characters) and a final '$' (end of path).  An empty Disallow
 * allows everything.  Crawl-delay (not in the RFC, honoured by Otto) is taken
 * from the applying group.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"

#include "core/otto.h"
#include "crawl/robots.h"
#include "sites/url.h"

/*
 * RFC 9309 2.5: a parsing limit of at least 500 KiB.  Past it nothing is
 * read, which also bounds the rules a URL is matched against.
 */
#define ROBOTS_MAX_BYTES (500 * 1024)

typedef struct RobotsRule
{
	bool		allow;
	char	   *pattern;
} RobotsRule;

struct Robots
{
	List	   *rules;			/* RobotsRule* of the applying groups */
	double		crawl_delay;	/* seconds, -1 when not stated */
};

/* The product token of a User-Agent: "OttoBot/1.0 (+url)" -> "ottobot". */
static char *
product_token(const char *ua)
{
	int			n = 0;
	char	   *t = palloc(strlen(ua) + 1);

	while (*ua && *ua != '/' && *ua != ' ')
		t[n++] = pg_ascii_tolower((unsigned char) *ua++);
	t[n] = '\0';
	return t;
}

/* Parse robots.txt and keep the rules of the groups that apply to the token. */
static Robots *
robots_parse(const char *txt, const char *token)
{
	Robots	   *mine = palloc0(sizeof(Robots));
	Robots	   *star = palloc0(sizeof(Robots));
	bool		group_mine = false,
				group_star = false,
				in_rules = true,	/* the next User-agent line starts a new group */
				any_mine = false;
	const char *p = txt;
	const char *end = txt + strnlen(txt, ROBOTS_MAX_BYTES);

	mine->crawl_delay = star->crawl_delay = -1;
	while (p < end)
	{
		const char *eol = memchr(p, '\n', end - p);
		int			len = eol ? eol - p : end - p;
		char	   *line = pnstrdup(p, len);
		char	   *hash = strchr(line, '#');
		char	   *colon,
				   *key,
				   *value;

		CHECK_FOR_INTERRUPTS();
		p = eol ? eol + 1 : p + len;
		if (hash)
			*hash = '\0';
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		key = line;
		value = colon + 1;
		while (*key == ' ' || *key == '\t')
			key++;
		while (*value == ' ' || *value == '\t')
			value++;
		for (char *e = key + strlen(key); e > key && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
			*--e = '\0';
		for (char *e = value + strlen(value); e > value && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
			*--e = '\0';

		if (pg_strcasecmp(key, "user-agent") == 0)
		{
			char	   *agent = product_token(value);

			if (in_rules)
				group_mine = group_star = false;
			in_rules = false;
			if (strcmp(agent, "*") == 0)
				group_star = true;
			else if (*agent && strcmp(agent, token) == 0)
				group_mine = any_mine = true;
		}
		else if (pg_strcasecmp(key, "allow") == 0 || pg_strcasecmp(key, "disallow") == 0 ||
				 pg_strcasecmp(key, "crawl-delay") == 0)
		{
			in_rules = true;
			for (int g = 0; g < 2; g++)
			{
				Robots	   *r = g == 0 ? mine : star;

				if (!(g == 0 ? group_mine : group_star))
					continue;
				if (pg_strcasecmp(key, "crawl-delay") == 0)
				{
					char	   *end;
					double		d = strtod(value, &end);

					if (end != value && d >= 0 && d < 86400)
						r->crawl_delay = d;
				}
				else if (*value)	/* an empty Disallow allows everything */
				{
					RobotsRule *rule = palloc(sizeof(RobotsRule));

					rule->allow = pg_strcasecmp(key, "allow") == 0;
					rule->pattern = pstrdup(value);
					r->rules = lappend(r->rules, rule);
				}
			}
		}
	}
	return any_mine ? mine : star;
}

/*
 * Does pattern (with '*' and a final '$') match the start of path?  Greedy
 * matching with one backtrack point: O(len(pattern) x len(path)), so a
 * hostile "*a*a*a*b" costs no more than that.
 */
static bool
pattern_match(const char *pat, const char *path)
{
	size_t		plen = strlen(pat);
	bool		anchored = plen > 0 && pat[plen - 1] == '$';
	size_t		pi = 0,
				star_pi = 0;
	const char *s = path,
			   *star_s = NULL;

	if (anchored)
		plen--;
	for (;;)
	{
		if (pi == plen)
		{
			if (!anchored || *s == '\0')
				return true;
		}
		else if (pat[pi] == '*')
		{
			star_pi = ++pi;
			star_s = s;
			continue;
		}
		else if (*s != '\0' && *s == pat[pi])
		{
			pi++;
			s++;
			continue;
		}
		if (star_s && *star_s != '\0')
		{
			s = ++star_s;
			pi = star_pi;
			continue;
		}
		return false;
	}
}

/* Is path (with its query) allowed by the parsed rules? */
static bool
robots_allows(Robots *r, const char *path)
{
	int			best = -1;
	bool		allowed = true;
	ListCell   *lc;

	foreach(lc, r->rules)
	{
		RobotsRule *rule = lfirst(lc);
		int			n = strlen(rule->pattern);

		CHECK_FOR_INTERRUPTS();
		if (n >= best && pattern_match(rule->pattern, path) && (n > best || rule->allow))
		{
			allowed = rule->allow;
			best = n;
		}
	}
	return allowed;
}

/* For the crawler: parse once per host, in cxt, for user agent ua. */
Robots *
otto_robots_parse(MemoryContext cxt, const char *txt, const char *ua)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Robots	   *r = robots_parse(txt, product_token(ua));

	MemoryContextSwitchTo(old);
	return r;
}

bool
otto_robots_allows(Robots *r, const char *path)
{
	return robots_allows(r, path);
}

/* Crawl-delay in seconds, -1 when not stated. */
double
otto_robots_delay(Robots *r)
{
	return r->crawl_delay;
}

/* SQL: otto.robots_allowed(robots_txt, user_agent, url) returns boolean. */
PG_FUNCTION_INFO_V1(otto_robots_allowed);
Datum
otto_robots_allowed(PG_FUNCTION_ARGS)
{
	char	   *txt = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *ua = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(2));
	const char *why;
	char	   *norm = otto_url_normalize(NULL, url, &why);

	if (norm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid URL \"%.*s\": %s", OTTO_CLIP(url, 100), why)));
	PG_RETURN_BOOL(robots_allows(robots_parse(txt, product_token(ua)), otto_url_path(norm)));
}

/* SQL: otto.robots_crawl_delay(robots_txt, user_agent) returns float8 seconds, NULL when not stated. */
PG_FUNCTION_INFO_V1(otto_robots_crawl_delay);
Datum
otto_robots_crawl_delay(PG_FUNCTION_ARGS)
{
	char	   *txt = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *ua = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Robots	   *r = robots_parse(txt, product_token(ua));

	if (r->crawl_delay < 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(r->crawl_delay);
}
