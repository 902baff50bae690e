/*
 * ad.c: otto.parse_ad, an ad page's fields by the site's rules.
 *
 * The site is picked by the URL's host from otto.site; its "rules" jsonb says
 * where the fields are (selectors over html.c's token stream), so a new site
 * is added with SQL alone.  Values are typed by typing.c and categorical ones
 * mapped onto otto.vocabulary (vocab.c).
 *
 * Sources on an ad page and their precedence (highest first):
 *   rows    the label/value rows a person reads on the page
 *   text    other visible elements named by selectors (title, price, ...)
 *   script  a JavaScript object literal such as dataLayer.push({...})
 *   jsonld  schema.org JSON-LD Car/Vehicle/Product(+Offer)
 * What a person sees wins: the site renders the rows for the buyer, while the
 * script object and JSON-LD are analytics and SEO copies that can lag behind
 * edits and are rounded or padded (JSON-LD power "105.00 KWT").  A lower
 * source only fills fields the higher ones lack.
 */
#include "postgres.h"


#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/jsonapi.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "core/otto.h"
#include "parse/extract.h"
#include "parse/parse.h"

/* First capture group (or whole match) of a POSIX regex in s, or NULL. */
char *
regex_capture(const char *pattern, const char *s)
{
	regex_t    *re = RE_compile_and_cache(cstring_to_text(pattern), REG_ADVANCED, DEFAULT_COLLATION_OID);
	int			len = strlen(s);
	pg_wchar   *data = palloc((len + 1) * sizeof(pg_wchar));
	int			dlen = pg_mb2wchar_with_len(s, data, len);
	regmatch_t	m[2];
	int			g;
	char	   *out;

	if (pg_regexec(re, data, dlen, 0, NULL, 2, m, 0) != REG_OKAY)
		return NULL;
	g = (re->re_nsub >= 1 && m[1].rm_so >= 0) ? 1 : 0;
	out = palloc((m[g].rm_eo - m[g].rm_so) * MAX_MULTIBYTE_CHAR_LEN + 1);
	pg_wchar2mb_with_len(data + m[g].rm_so, out, m[g].rm_eo - m[g].rm_so);
	return out;
}

/* html_walk's tick: a long parse can be cancelled (statement_timeout, pg_cancel_backend). */
void
parse_tick(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* ---------------------------------------------------------------- values */


char *
decode_text(const char *p, size_t len)
{
	char	   *out = palloc(len + 1);

	html_text_decode(p, len, out, len + 1);
	return out;
}

void
append_capped(StringInfo s, const char *p, size_t len)
{
	/* cut at a character boundary: the value is stored as text and jsonb */
	if (s->len + len > MAX_TEXT_BYTES)
		len = s->len < MAX_TEXT_BYTES ? pg_mbcliplen(p, len, MAX_TEXT_BYTES - s->len) : 0;
	if (len > 0)
	{
		appendBinaryStringInfo(s, p, len);
		appendStringInfoChar(s, ' ');
	}
}

/* Record a raw value for a field unless a higher-precedence source has it. */
void
set_field(Extract *x, const char *name, Source src, const char *text)
{
	Field	   *f;
	char	   *trimmed;
	size_t		n;

	if (text == NULL)
		return;
	while (*text == ' ')
		text++;
	n = strlen(text);
	while (n > 0 && text[n - 1] == ' ')
		n--;
	if (n == 0)
		return;
	trimmed = pnstrdup(text, n);
	for (f = x->fields; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f == NULL)
	{
		f = palloc0(sizeof(Field));
		strlcpy(f->name, name, sizeof(f->name));
		f->source = src;
		f->text = trimmed;
		f->next = x->fields;
		x->fields = f;
		return;
	}
	if (src > f->source)
	{
		f->source = src;
		f->text = trimmed;
	}
}

Field *
get_field(Extract *x, const char *name)
{
	for (Field *f = x->fields; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* ---------------------------------------------------------------- the walk */

char *
attr_text(const HtmlWalker *w, const char *name)
{
	const HtmlSlice *s = html_attr(w, name);

	return s ? decode_text(s->p, s->len) : NULL;
}

/* Keep script bodies that may hold the script object or JSON-LD. */
static void
note_script(Extract *x, const HtmlWalker *w, bool jsonld)
{
	SiteRules  *r = x->rules;
	const char *p = w->text.p;
	size_t		n = w->text.len;

	/* JSON-LD matters only when it may describe a vehicle or an offer */
	if ((jsonld && (memmem(p, n, "Car", 3) || memmem(p, n, "Vehicle", 7) || memmem(p, n, "Product", 7))) ||
		(r->script_marker && n > strlen(r->script_marker) &&
		 memmem(p, n, r->script_marker, strlen(r->script_marker)) &&
		 (!r->script_key || memmem(p, n, r->script_key, strlen(r->script_key)))))
		x->scripts = lappend(x->scripts, psprintf("%c%.*s", jsonld ? 'J' : 'S', (int) n, p));
}

/*
 * The walk over an ad page: each token updates the rows, the rule captures,
 * the scripts and the canonical link at once.  One switch over the events,
 * kept whole (longer than 100 lines): its states are read together on every
 * token, and pieces would pass them all around.
 */
static bool
ad_callback(HtmlWalker *w, HtmlEvent ev, void *arg)
{
	Extract    *x = arg;
	SiteRules  *r = x->rules;

	switch (ev)
	{
		case HTML_START:
			{
				HtmlElem   *e = w->depth <= HTML_MAX_DEPTH ? &w->stack[w->depth - 1] : NULL;
				uint64		candidates;

				if (e == NULL)
					break;
				if (e->name[0] == 'l' && strcmp(e->name, "link") == 0 && !x->canonical)
				{
					const HtmlSlice *rel = html_attr(w, "rel");

					if (rel && rel->len == 9 && pg_strncasecmp(rel->p, "canonical", 9) == 0)
						x->canonical = attr_text(w, "href");
				}
				else if (e->name[0] == 's' && strcmp(e->name, "script") == 0)
				{
					const HtmlSlice *type = html_attr(w, "type");

					x->script_is_jsonld = type && type->len == 19 && pg_strncasecmp(type->p, "application/ld+json", 19) == 0;
				}
				if (r->has_rows)
				{
					if (x->row_depth < 0 && html_match(w, &r->row))
					{
						x->row_depth = w->depth;
						resetStringInfo(&x->row_label);
						resetStringInfo(&x->row_value);
						x->label_depth = x->value_depth = -1;
					}
					else if (x->row_depth >= 0)
					{
						if (x->value_depth < 0 && html_match(w, &r->row_value))
							x->value_depth = w->depth;
						else if (x->label_depth < 0 && x->value_depth < 0 && x->row_label.len == 0 &&
								 html_match(w, &r->row_label))
							x->label_depth = w->depth;
					}
				}
				candidates = r->any_element | r->bucket[e->name_hash & 63];
				for (int c = 0; c < e->nclasses; c++)
					candidates |= r->bucket[e->class_hash[c] & 63];
				for (int i = 0; candidates; i++, candidates >>= 1)
				{
					Rule	   *rule = &r->rules[i];

					if (!(candidates & 1))
						continue;
					if (x->cap_depth[i] >= 0 || (x->done[i] && rule->kind != RULE_LIST && rule->kind != RULE_COUNT))
						continue;
					if (html_match(w, &rule->sel))
					{
						if (rule->kind == RULE_COUNT)
							x->counts[i]++;
						else
						{
							x->cap_depth[i] = w->depth;
							resetStringInfo(&x->cap[i]);
						}
					}
				}
				break;
			}
		case HTML_END:
			if (x->row_depth >= 0)
			{
				if (w->depth == x->label_depth)
					x->label_depth = -1;
				if (w->depth == x->value_depth)
					x->value_depth = INT_MAX;	/* value seen */
				if (w->depth == x->row_depth)
				{
					/* what is not kept is freed: memory stays bounded however many rows */
					char	   *label = decode_text(x->row_label.data, x->row_label.len);
					char	   *field = r->labels ? jsonb_get_text(r->labels, label) : NULL;

					pfree(label);
					if (field)
					{
						char	   *value = decode_text(x->row_value.data, x->row_value.len);

						set_field(x, field, SRC_ROWS, value);
						pfree(value);
						pfree(field);
					}
					x->row_depth = -1;
				}
			}
			for (int i = 0; i < r->nrules; i++)
			{
				if (x->cap_depth[i] == w->depth)
				{
					Rule	   *rule = &r->rules[i];
					char	   *t = decode_text(x->cap[i].data, x->cap[i].len);

					x->cap_depth[i] = -1;
					if (rule->kind == RULE_LIST && *t && list_length(x->features) < MAX_FEATURES)
						x->features = lappend(x->features, t);
					else
					{
						if (rule->kind != RULE_LIST && *t)
						{
							set_field(x, rule->field, SRC_TEXT, t);
							x->done[i] = true;
						}
						pfree(t);
					}
				}
			}
			break;
		case HTML_TEXT:
			if (w->in_script)
			{
				note_script(x, w, x->script_is_jsonld);
				break;
			}
			if (x->row_depth >= 0)
			{
				if (x->label_depth >= 0 && x->value_depth < 0)
					append_capped(&x->row_label, w->text.p, w->text.len);
				else if (x->value_depth >= 0 && x->value_depth != INT_MAX)
					append_capped(&x->row_value, w->text.p, w->text.len);
			}
			for (int i = 0; i < r->nrules; i++)
				if (x->cap_depth[i] >= 0 &&
					(r->rules[i].kind != RULE_OWN_TEXT || x->cap_depth[i] == w->depth))
					append_capped(&x->cap[i], w->text.p, w->text.len);
			break;
	}
	return true;
}

/* ---------------------------------------------------------------- scripts */

/*
 * The balanced {...} starting at p (string-aware), or NULL.  Reads at most
 * *budget bytes and takes what it read from *budget.
 */
static char *
balanced_object(const char *p, const char *end, int *len, size_t *budget)
{
	int			depth = 0;
	bool		in_str = false;

	if ((size_t) (end - p) > *budget)
		end = p + *budget;
	for (const char *q = p; q < end; q++)
	{
		if (in_str)
		{
			if (*q == '\\')
				q++;
			else if (*q == '"')
				in_str = false;
		}
		else if (*q == '"')
			in_str = true;
		else if (*q == '{')
			depth++;
		else if (*q == '}' && --depth == 0)
		{
			*len = q - p + 1;
			*budget -= *len;
			return (char *) p;
		}
	}
	*budget -= end - p;
	return NULL;
}

/* Top-level scalar members of a JSON object, collected in one parse. */
typedef struct ObjectScan
{
	int			depth;
	char	   *key;
	List	   *keys;
	List	   *values;
} ObjectScan;

static void
scan_push(void *state)
{
	((ObjectScan *) state)->depth++;
}

static void
scan_pop(void *state)
{
	((ObjectScan *) state)->depth--;
}

static void
scan_field(void *state, char *fname, bool isnull)
{
	ObjectScan *s = state;

	s->key = s->depth == 1 ? fname : NULL;
}

static void
scan_scalar(void *state, char *token, JsonTokenType type)
{
	ObjectScan *s = state;

	if (s->depth == 1 && s->key && type != JSON_TOKEN_NULL)
	{
		s->keys = lappend(s->keys, s->key);
		s->values = lappend(s->values, token);
	}
	s->key = NULL;
}

/*
 * The script object: the first balanced {...} right after the marker that
 * parses as JSON and has the required key; its top-level members mapped by
 * the site's keys (one pass of PostgreSQL's JSON parser, no jsonb built).
 * Each try reads from its brace onwards, so the tries share a budget of a
 * few times the script's length: a script of many unclosed markers costs
 * linear time, not quadratic.
 */
static void
take_script_object(Extract *x, char *body)
{
	SiteRules  *r = x->rules;
	size_t		body_len = strlen(body);
	size_t		marker_len = strlen(r->script_marker);
	char	   *end = body + body_len;
	size_t		budget = 2 * body_len + 65536;
	char	   *m = strstr(body, r->script_marker);

	while (m && budget > 0)
	{
		/* the object opens right after the marker ("push({", "push( {") */
		size_t		near = Min((size_t) (end - m), marker_len + 16);
		char	   *brace = memchr(m, '{', near);
		int			len;
		char	   *obj = brace ? balanced_object(brace, end, &len, &budget) : NULL;

		CHECK_FOR_INTERRUPTS();
		if (obj)
		{
			ObjectScan	scan = {0};
			JsonSemAction sem = {0};
			JsonLexContext *lex = makeJsonLexContextCstringLen(obj, len, PG_UTF8, true);
			bool		has_key = r->script_key == NULL;
			ListCell   *kc,
					   *vc;

			sem.semstate = &scan;
			sem.object_start = scan_push;
			sem.object_end = scan_pop;
			sem.array_start = scan_push;
			sem.array_end = scan_pop;
			sem.object_field_start = scan_field;
			sem.scalar = scan_scalar;
			if (pg_parse_json(lex, &sem) != JSON_SUCCESS)
				scan.keys = NIL;
			foreach(kc, scan.keys)
				if (!has_key && strcmp(lfirst(kc), r->script_key) == 0)
					has_key = true;
			if (scan.keys && has_key)
			{
				forboth(kc, scan.keys, vc, scan.values)
				{
					char	   *field = jsonb_get_text(r->script_keys, lfirst(kc));

					if (field)
						set_field(x, field, SRC_SCRIPT, lfirst(vc));
				}
				return;
			}
		}
		m = strstr(m + 1, r->script_marker);
	}
}

/* ---------------------------------------------------------------- SQL */

Extract *
extract_init(SiteRules *r)
{
	Extract    *x = palloc0(sizeof(Extract));

	x->rules = r;
	x->row_depth = -1;
	initStringInfo(&x->row_label);
	initStringInfo(&x->row_value);
	for (int i = 0; i < r->nrules; i++)
	{
		x->cap_depth[i] = -1;
		initStringInfo(&x->cap[i]);
	}
	return x;
}

/* Bodies larger than this are refused: nothing a car ad needs is that big. */
void
check_size(text *html)
{
	if (VARSIZE_ANY_EXHDR(html) > otto_max_page_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("page of %zu bytes is larger than otto.max_page_bytes (%d)",
						(size_t) VARSIZE_ANY_EXHDR(html), otto_max_page_bytes)));
}

PG_FUNCTION_INFO_V1(otto_parse_ad);
Datum
otto_parse_ad(PG_FUNCTION_ARGS)
{
	text	   *html = PG_GETARG_TEXT_PP(0);
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	SiteRules  *r;
	Extract    *x;
	HtmlWalker *w;
	ListCell   *lc;

	check_size(html);
	r = load_rules(url);
	x = extract_init(r);
	w = palloc0(sizeof(HtmlWalker));
	w->tick = parse_tick;
	html_walk(w, VARDATA_ANY(html), VARSIZE_ANY_EXHDR(html), ad_callback, x);
	for (int i = 0; i < r->nrules; i++)
		if (r->rules[i].kind == RULE_COUNT && x->counts[i] > 0)
			set_field(x, r->rules[i].field, SRC_TEXT, psprintf("%d", x->counts[i]));
	foreach(lc, x->scripts)
	{
		char	   *s = lfirst(lc);

		if (s[0] == 'S')
			take_script_object(x, s + 1);
		else if (r->jsonld)
			take_jsonld(x, s + 1);
	}
	/* <html> opened and never closed: the page was cut off on the way */
	PG_RETURN_JSONB_P(type_ad(x, url, w->opened_html && !w->closed_html));
}

/* Define otto.max_page_bytes. */
void
ParseGucInit(void)
{
	DefineCustomIntVariable("otto.max_page_bytes",
							"Largest page body Otto fetches or parses.",
							"Larger bodies are aborted by the crawler and refused by the parse functions.",
							&otto_max_page_bytes,
							8 * 1024 * 1024, 64 * 1024, 512 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
}

