/*
 * parse.c: the parse stage as pure SQL-callable functions.
 *
 *   otto.extract_links(html, base_url)  setof text
 *   otto.parse_listing(html, url)       jsonb
 *   otto.parse_ad(html, url)            jsonb
 *
 * The site is picked by the URL's host from otto.site; its "rules" jsonb says
 * where the fields are (selectors over html.c's token stream), so a new site
 * is added with SQL alone.  Values are typed here and categorical ones mapped
 * onto otto.vocabulary (vocab.c).
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

#include "parse/html.h"
#include "core/otto.h"
#include "parse/parse.h"
#include "sites/url.h"
#include "sites/vocab.h"

#define MAX_RULES 64
#define MAX_TEXT_BYTES (64 * 1024)	/* per captured value */
#define MAX_FEATURES 1000		/* equipment items kept of one ad */

/*
 * Memory per page.  Every step is linear in the page and keeps at most: the
 * walker (fixed, ~60 kB), captured values (each at most MAX_TEXT_BYTES), the
 * script bodies worth a look (a copy of part of the page), the features (at
 * most MAX_FEATURES), a listing's cards (a few pointers each, at most one per
 * card element) or a page's links (two offsets and a hash each, at most one
 * per <a> element), and the result.  bench/hostile.sh measures the peak.
 */

/* Where a value came from, in rising precedence (see the file comment). */
typedef enum Source
{
	SRC_JSONLD,
	SRC_SCRIPT,
	SRC_TEXT,
	SRC_ROWS
} Source;

typedef enum RuleKind
{
	RULE_TEXT,					/* text of the first match */
	RULE_OWN_TEXT,				/* its own text, without child elements' */
	RULE_LIST,					/* texts of every match */
	RULE_COUNT					/* number of matches */
} RuleKind;

typedef struct Rule
{
	char	   *field;
	RuleKind	kind;
	HtmlSelector sel;
} Rule;

/* A site's rules, compiled. */
typedef struct SiteRules
{
	int			site_id;
	char	   *site_name;
	char	   *ad_pattern;
	bool		has_rows;
	HtmlSelector row,
				row_label,
				row_value;
	Jsonb	   *labels;			/* label -> field */
	Rule		rules[MAX_RULES];
	int			nrules;
	/* prefilter: rules that may match an element with a name/class hash in bucket b */
	uint64		bucket[64];
	uint64		any_element;	/* rules whose selector has no key */
	char	   *script_marker;	/* e.g. "dataLayer.push(" */
	char	   *script_key;		/* a key the right object has */
	Jsonb	   *script_keys;	/* object key -> field */
	bool		jsonld;
	char	   *timezone;
	/* listing */
	bool		has_listing;
	HtmlSelector card,
				card_link,
				next;
	char	   *id_attr,
			   *price_attr,
			   *renew_attr;
	char	   *total_marker;	/* text after which the total count follows */
} SiteRules;

/* First capture group (or whole match) of a POSIX regex in s, or NULL. */
static char *
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
static void
parse_tick(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* ---------------------------------------------------------------- values */

/* One extracted field: its value and the source it came from. */
typedef struct Field
{
	char		name[32];
	Source		source;
	char	   *text;			/* raw text (before typing) */
	struct Field *next;
} Field;

typedef struct Extract
{
	SiteRules  *rules;
	Field	   *fields;
	List	   *features;
	/* walk state */
	int			row_depth;		/* depth of the open row element, or -1 */
	StringInfoData row_label,
				row_value;
	int			label_depth,
				value_depth;
	int			cap_depth[MAX_RULES];
	StringInfoData cap[MAX_RULES];
	bool		done[MAX_RULES];
	int			counts[MAX_RULES];
	List	   *scripts;		/* char* of script bodies worth a look */
	bool		script_is_jsonld;	/* the open <script> is application/ld+json */
	char	   *canonical;
	/* listing */
	int			card_depth;
	StringInfoData card;		/* jsonb-ish fragments built per card */
	char	   *card_id,
			   *card_price,
			   *card_renew,
			   *card_href;
	StringInfoData card_title;
	int			title_depth;
	List	   *cards;
	char	   *next_href;
	StringInfoData all_text;	/* for the total count marker (listing only) */
	char	   *base_href;
} Extract;

static char *
decode_text(const char *p, size_t len)
{
	char	   *out = palloc(len + 1);

	html_text_decode(p, len, out, len + 1);
	return out;
}

static void
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
static void
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

static Field *
get_field(Extract *x, const char *name)
{
	for (Field *f = x->fields; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* ---------------------------------------------------------------- rules */

/* The member key of object j (a palloc'd JsonbValue), or NULL. */
static JsonbValue *
jsonb_member(Jsonb *j, const char *key)
{
	JsonbValue	k;

	if (j == NULL || !JB_ROOT_IS_OBJECT(j))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
}

static Jsonb *
jsonb_get(Jsonb *j, const char *key)
{
	JsonbValue *v = jsonb_member(j, key);

	return v ? JsonbValueToJsonb(v) : NULL;
}

/* A scalar member as text (a palloc'd copy), or NULL; no copy of the object is made. */
static char *
jsonb_get_text(Jsonb *j, const char *key)
{
	JsonbValue *v = jsonb_member(j, key);
	char	   *out = NULL;

	if (v == NULL)
		return NULL;
	if (v->type == jbvString)
		out = pnstrdup(v->val.string.val, v->val.string.len);
	else if (v->type == jbvBool)
		out = pstrdup(v->val.boolean ? "true" : "false");
	else if (v->type == jbvNumeric)
		out = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	pfree(v);
	return out;
}

static void
compile_selector(const char *site, const char *what, const char *text, HtmlSelector *sel)
{
	if (text == NULL || !html_selector_compile(text, sel))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("site \"%s\": invalid selector for %s: \"%s\"", site, what, text ? text : ""),
				 errhint("Selectors are chains of tag#id.class parts separated by spaces, at most %d parts.", HTML_SEL_MAX)));
}

/* Add the rules of one object (field -> selector or {"css":..., "kind":...}). */
static void
add_rules(SiteRules *r, Jsonb *obj, RuleKind default_kind)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return;
	it = JsonbIteratorInit(&obj->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && key)
		{
			Rule	   *rule;
			char	   *css = NULL;
			RuleKind	kind = default_kind;

			if (r->nrules == MAX_RULES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("site \"%s\" has more than %d extraction rules", r->site_name, MAX_RULES)));
			if (v.type == jbvString)
				css = pnstrdup(v.val.string.val, v.val.string.len);
			else if (v.type == jbvBinary)
			{
				Jsonb	   *o = JsonbValueToJsonb(&v);
				char	   *k = jsonb_get_text(o, "kind");

				css = jsonb_get_text(o, "css");
				if (k && strcmp(k, "own_text") == 0)
					kind = RULE_OWN_TEXT;
				else if (k && strcmp(k, "list") == 0)
					kind = RULE_LIST;
				else if (k && strcmp(k, "count") == 0)
					kind = RULE_COUNT;
				else if (k && strcmp(k, "text") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("site \"%s\": rule kind for %s must be text, own_text, list or count", r->site_name, key)));
			}
			rule = &r->rules[r->nrules++];
			rule->field = key;
			rule->kind = kind;
			compile_selector(r->site_name, key, css, &rule->sel);
		}
	}
}

static SPIPlanPtr site_plan = NULL;

/*
 * Find the site whose hosts include the URL's host and compile its rules.
 * Rules are per site; sites are few, so a lookup per call is cheap next to
 * the parse itself.
 */
static SiteRules *
load_rules(const char *url)
{
	SiteRules  *r;
	const char *why;
	char	   *norm = otto_url_normalize(NULL, url, &why);
	char	   *host;
	int			host_len;
	Datum		arg;
	Oid			argtype = TEXTOID;
	int			ret;
	bool		isnull;
	MemoryContext caller = CurrentMemoryContext;
	Jsonb	   *rules,
			   *ad,
			   *listing;

	if (norm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid page URL \"%.*s\": %s", OTTO_CLIP(url, 100), why)));
	host = (char *) otto_url_host(norm, &host_len);
	host = pnstrdup(host, host_len);

	SPI_connect();
	if (site_plan == NULL)
	{
		/* kept for the backend's life; plancache replans it if otto.site is recreated */
		site_plan = SPI_prepare("SELECT site_id, name, rules, ad_url_pattern FROM otto.site "
								"WHERE $1 = ANY (hosts) ORDER BY enabled DESC, site_id LIMIT 1",
								1, &argtype);
		if (site_plan == NULL || SPI_keepplan(site_plan) != 0)
			elog(ERROR, "could not prepare the site lookup: %s", SPI_result_code_string(SPI_result));
	}
	arg = CStringGetTextDatum(host);
	ret = SPI_execute_plan(site_plan, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "site lookup failed: %d", ret);
	if (SPI_processed == 0)
	{
		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no site owns host \"%s\"", host),
				 errhint("Add the host to a site: UPDATE otto.site SET hosts = array_append(hosts, '%s') WHERE name = ...", host)));
	}
	MemoryContextSwitchTo(caller);
	r = palloc0(sizeof(SiteRules));
	r->site_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	r->site_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	rules = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	r->ad_pattern = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	SPI_finish();

	r->timezone = jsonb_get_text(rules, "timezone");
	ad = jsonb_get(rules, "ad");
	if (ad)
	{
		Jsonb	   *rows = jsonb_get(ad, "rows");
		Jsonb	   *script = jsonb_get(ad, "script_object");
		char	   *jl = jsonb_get_text(ad, "jsonld");

		if (rows)
		{
			r->has_rows = true;
			compile_selector(r->site_name, "rows.row", jsonb_get_text(rows, "row"), &r->row);
			compile_selector(r->site_name, "rows.label", jsonb_get_text(rows, "label"), &r->row_label);
			compile_selector(r->site_name, "rows.value", jsonb_get_text(rows, "value"), &r->row_value);
			r->labels = jsonb_get(rows, "labels");
		}
		add_rules(r, jsonb_get(ad, "text"), RULE_TEXT);
		add_rules(r, jsonb_get(ad, "own_text"), RULE_OWN_TEXT);
		add_rules(r, jsonb_get(ad, "list"), RULE_LIST);
		add_rules(r, jsonb_get(ad, "count"), RULE_COUNT);
		if (script)
		{
			r->script_marker = jsonb_get_text(script, "marker");
			r->script_key = jsonb_get_text(script, "require_key");
			r->script_keys = jsonb_get(script, "keys");
		}
		r->jsonld = jl == NULL || strcmp(jl, "false") != 0;
	}
	else
		r->jsonld = true;		/* the generic profile: schema.org only */
	for (int i = 0; i < r->nrules; i++)
	{
		unsigned int key;

		if (html_selector_key(&r->rules[i].sel, &key))
			r->bucket[key & 63] |= UINT64CONST(1) << i;
		else
			r->any_element |= UINT64CONST(1) << i;
	}
	listing = jsonb_get(rules, "listing");
	if (listing)
	{
		r->has_listing = true;
		compile_selector(r->site_name, "listing.card", jsonb_get_text(listing, "card"), &r->card);
		compile_selector(r->site_name, "listing.link", jsonb_get_text(listing, "link"), &r->card_link);
		compile_selector(r->site_name, "listing.next", jsonb_get_text(listing, "next"), &r->next);
		r->id_attr = jsonb_get_text(listing, "id_attr");
		r->price_attr = jsonb_get_text(listing, "price_attr");
		r->renew_attr = jsonb_get_text(listing, "renew_attr");
		r->total_marker = jsonb_get_text(listing, "total_marker");
	}
	return r;
}

/* ---------------------------------------------------------------- the walk */

static char *
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

/* Is this text valid JSON?  (pg_parse_json reports, it does not throw.) */
static bool
json_valid(char *s, int len)
{
	JsonLexContext *lex = makeJsonLexContextCstringLen(s, len, PG_UTF8, true);

	return pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;
}

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

static bool
type_is(Jsonb *o, const char *const *types)
{
	char	   *t = jsonb_get_text(o, "@type");

	if (t == NULL)
		return false;
	for (int i = 0; types[i]; i++)
		if (strcmp(t, types[i]) == 0)
			return true;
	return false;
}

/* Fields from a schema.org Car/Vehicle/Product object (and its Offer). */
static void
take_jsonld_object(Extract *x, Jsonb *o)
{
	static const char *const vehicle[] = {"Car", "Vehicle", "Product", "MotorizedBicycle", NULL};
	Jsonb	   *offers,
			   *brand;

	if (!type_is(o, vehicle))
		return;
	set_field(x, "title", SRC_JSONLD, jsonb_get_text(o, "name"));
	brand = jsonb_get(o, "brand");
	set_field(x, "make", SRC_JSONLD, brand && JB_ROOT_IS_OBJECT(brand) ? jsonb_get_text(brand, "name") : jsonb_get_text(o, "brand"));
	set_field(x, "model", SRC_JSONLD, jsonb_get_text(o, "model"));
	set_field(x, "year", SRC_JSONLD, jsonb_get_text(o, "productionDate"));
	set_field(x, "year", SRC_JSONLD, jsonb_get_text(o, "vehicleModelDate"));
	set_field(x, "fuel", SRC_JSONLD, jsonb_get_text(o, "fuelType"));
	set_field(x, "body", SRC_JSONLD, jsonb_get_text(o, "bodyType"));
	set_field(x, "color", SRC_JSONLD, jsonb_get_text(o, "color"));
	set_field(x, "gearbox", SRC_JSONLD, jsonb_get_text(o, "vehicleTransmission"));
	set_field(x, "url", SRC_JSONLD, jsonb_get_text(o, "url"));
	{
		Jsonb	   *km = jsonb_get(o, "mileageFromOdometer");

		set_field(x, "mileage_km", SRC_JSONLD, km && JB_ROOT_IS_OBJECT(km) ? jsonb_get_text(km, "value") : jsonb_get_text(o, "mileageFromOdometer"));
	}
	{
		Jsonb	   *eng = jsonb_get(o, "vehicleEngine");

		if (eng && JB_ROOT_IS_OBJECT(eng))
		{
			Jsonb	   *pw = jsonb_get(eng, "enginePower");
			Jsonb	   *cc = jsonb_get(eng, "engineDisplacement");

			set_field(x, "power_kw", SRC_JSONLD, pw && JB_ROOT_IS_OBJECT(pw) ? jsonb_get_text(pw, "value") : NULL);
			set_field(x, "engine_cc", SRC_JSONLD, cc && JB_ROOT_IS_OBJECT(cc) ? jsonb_get_text(cc, "value") : NULL);
		}
		else
			set_field(x, "power_kw", SRC_JSONLD, jsonb_get_text(o, "vehicleEngine"));
	}
	offers = jsonb_get(o, "offers");
	if (offers && JB_ROOT_IS_ARRAY(offers))
	{
		JsonbValue *first = getIthJsonbValueFromContainer(&offers->root, 0);

		offers = first ? JsonbValueToJsonb(first) : NULL;
	}
	if (offers && JB_ROOT_IS_OBJECT(offers))
	{
		char	   *cur = jsonb_get_text(offers, "priceCurrency");

		if (cur == NULL || strcmp(cur, "EUR") == 0)
			set_field(x, "price", SRC_JSONLD, jsonb_get_text(offers, "price"));
	}
}

static void
take_jsonld(Extract *x, char *body)
{
	Jsonb	   *j;

	if (!json_valid(body, strlen(body)))
		return;
	j = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(body)));
	if (JB_ROOT_IS_ARRAY(j) && !JB_ROOT_IS_SCALAR(j))
	{
		JsonbIterator *it = JsonbIteratorInit(&j->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM && v.type == jbvBinary)
				take_jsonld_object(x, JsonbValueToJsonb(&v));
	}
	else if (JB_ROOT_IS_OBJECT(j))
		take_jsonld_object(x, j);
}

/* ---------------------------------------------------------------- typing */

/* Digits of the first number in s, dropping '.' thousands separators ("184.150 km"). */
static bool
parse_grouped_int(const char *s, int64 *out)
{
	int64		v = 0;
	int			digits = 0;

	while (*s && !isdigit((unsigned char) *s))
		s++;
	for (; *s; s++)
	{
		if (isdigit((unsigned char) *s))
		{
			if (v > PG_INT64_MAX / 10 - 10)
				return false;
			v = v * 10 + (*s - '0');
			digits++;
		}
		else if (*s == '.' && isdigit((unsigned char) s[1]) && isdigit((unsigned char) s[2]) &&
				 isdigit((unsigned char) s[3]) && !isdigit((unsigned char) s[4]))
			continue;			/* thousands separator */
		else
			break;
	}
	*out = v;
	return digits > 0;
}

/* A plain decimal ("7200", "105.00", "7200.5"): its integer part, rounded. */
static bool
parse_plain_number(const char *s, int64 *out)
{
	char	   *end;
	double		d;

	while (*s == ' ')
		s++;
	d = strtod(s, &end);
	if (end == s || d < 0 || d > 1e12)
		return false;
	*out = (int64) (d + 0.5);
	return true;
}

static void
put_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
put_int(JsonbParseState **st, const char *key, int64 v)
{
	JsonbValue	val;

	put_key(st, key);
	val.type = jbvNumeric;
	val.val.numeric = int64_to_numeric(v);
	pushJsonbValue(st, WJB_VALUE, &val);
}

static void
put_str(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	val;

	put_key(st, key);
	if (s == NULL)
		val.type = jbvNull;
	else
	{
		val.type = jbvString;
		val.val.string.val = (char *) s;
		val.val.string.len = strlen(s);
	}
	pushJsonbValue(st, WJB_VALUE, &val);
}

static const char *
field_text(Extract *x, const char *name)
{
	Field	   *f = get_field(x, name);

	return f ? f->text : NULL;
}

static bool
price_on_request(const char *s)
{
	return s && (strcasestr(s, "dogovor") || strcasestr(s, "upit") || strcasestr(s, "request"));
}

/* "2022-11-23 10:26:45" in the site's time zone -> "2022-11-23T09:26:45Z", or NULL. */
static char *
site_time(const char *s, const char *tz)
{
	char	   *in = psprintf("%s %s", s, tz ? tz : "Europe/Belgrade");
	char		field_buf[MAXDATELEN + 1];
	char	   *fields[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf,
				dtype,
				tzp;
	struct pg_tm tm;
	fsec_t		fsec;
	TimestampTz ts;

	if (strlen(s) > 40 ||
		ParseDateTime(in, field_buf, sizeof(field_buf), fields, ftype, MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(fields, ftype, nf, &dtype, &tm, &fsec, &tzp) != 0 ||
		dtype != DTK_DATE || tm2timestamp(&tm, fsec, &tzp, &ts) != 0)
		return NULL;
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return NULL;
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Build the typed jsonb of an ad from the extracted raw fields. */
static Jsonb *
type_ad(Extract *x, const char *page_url, bool truncated)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	const char *t;
	int64		n;
	const char *why;
	static const char *const vocab_fields[] = {
		"fuel", "body", "gearbox", "drive", "color", "air_conditioning", "damage", "origin",
		"condition", NULL
	};
	static const char *const text_fields[] = {"title", "make", "model", "emission_class", "location", "region", NULL};
	const char *raw[lengthof(vocab_fields)];	/* unknown spellings, by field */
	bool		any_raw = false;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);

	/* identity: canonical URL and the site's ad id */
	t = field_text(x, "url");
	{
		char	   *canon = x->canonical ? otto_url_normalize(page_url, x->canonical, &why) : NULL;
		char	   *u = canon ? canon : otto_url_normalize(NULL, page_url, &why);

		put_str(&st, "url", u);
		t = field_text(x, "source_ad_id");
		if (t == NULL && x->rules->ad_pattern && u)
			t = regex_capture(x->rules->ad_pattern, u);
	}
	put_str(&st, "source_ad_id", t);

	for (int i = 0; text_fields[i]; i++)
		if ((t = field_text(x, text_fields[i])) != NULL)
			put_str(&st, text_fields[i], t);

	if ((t = field_text(x, "year")) && parse_plain_number(t, &n) && n >= 1900 && n <= 2100)
		put_int(&st, "year", n);
	if ((t = field_text(x, "mileage_km")) && parse_grouped_int(t, &n))
		put_int(&st, "mileage_km", n);
	if ((t = field_text(x, "engine_cc")) && parse_grouped_int(t, &n) && n > 0)
		put_int(&st, "engine_cc", n);
	if ((t = field_text(x, "seats")) && parse_grouped_int(t, &n) && n > 0 && n < 100)
		put_int(&st, "seats", n);
	if ((t = field_text(x, "doors")))
	{
		char	   *d = pstrdup(t);
		char	   *sp = strstr(d, " vrata");

		if (sp)
			*sp = '\0';
		put_str(&st, "doors", d);
	}
	/* price: "7.200 €", "Po dogovoru" (null), or a plain number from scripts */
	if ((t = field_text(x, "price")))
	{
		if (price_on_request(t))
			put_str(&st, "price_eur", NULL);
		else if ((get_field(x, "price")->source >= SRC_TEXT ? parse_grouped_int(t, &n) : parse_plain_number(t, &n)))
			put_int(&st, "price_eur", n);
	}
	if ((t = field_text(x, "old_price")) && parse_grouped_int(t, &n))
		put_int(&st, "old_price_eur", n);
	/* power: rows "105/143 (kW/KS)"; JSON-LD "105.00 KWT"; scripts give hp */
	if ((t = field_text(x, "power")))
	{
		int			kw,
					hp;

		if (sscanf(t, "%d/%d", &kw, &hp) == 2 && kw > 0 && hp > 0)
		{
			put_int(&st, "power_kw", kw);
			put_int(&st, "power_hp", hp);
		}
	}
	else
	{
		if ((t = field_text(x, "power_kw")) && parse_plain_number(t, &n) && n > 0)
			put_int(&st, "power_kw", n);
		if ((t = field_text(x, "power_hp")) && parse_plain_number(t, &n) && n > 0)
			put_int(&st, "power_hp", n);
	}
	if ((t = field_text(x, "registered_until")))
	{
		int			mm,
					yy;

		if (sscanf(t, "%d.%d", &mm, &yy) == 2 && mm >= 1 && mm <= 12 && yy >= 1990 && yy <= 2100)
			put_str(&st, "registered_until", psprintf("%04d-%02d-01", yy, mm));
		else if (strcasestr(t, "nije"))
			put_str(&st, "registered_until", NULL);
	}
	if ((t = field_text(x, "renewed_at")) && (t = site_time(t, x->rules->timezone)))
		put_str(&st, "renewed_at", t);
	if ((t = field_text(x, "images_count")) && parse_grouped_int(t, &n))
		put_int(&st, "images_count", n);

	/* categorical fields through the vocabulary; unknown ones kept raw */
	for (int i = 0; vocab_fields[i]; i++)
	{
		const char *code;

		raw[i] = NULL;
		if ((t = field_text(x, vocab_fields[i])) == NULL)
			continue;
		if ((code = vocab_lookup(vocab_fields[i], t)) != NULL)
			put_str(&st, vocab_fields[i], code);
		else
			raw[i] = t, any_raw = true;
	}
	t = field_text(x, "seller_id");
	if (t)
		put_str(&st, "seller_id", t);
	t = field_text(x, "seller_name");
	if (t)
		put_str(&st, "seller_name", t);
	if (x->rules->has_rows || t)
		put_str(&st, "seller_type", t ? "dealer" : "private");

	if (x->features)
	{
		JsonbValue	v;
		ListCell   *lc;

		put_key(&st, "features");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		foreach(lc, x->features)
		{
			v.type = jbvString;
			v.val.string.val = lfirst(lc);
			v.val.string.len = strlen(lfirst(lc));
			pushJsonbValue(&st, WJB_ELEM, &v);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	if (truncated)
	{
		JsonbValue	v;

		put_key(&st, "truncated");
		v.type = jbvBool;
		v.val.boolean = true;
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	if (any_raw)
	{
		put_key(&st, "raw");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		for (int i = 0; vocab_fields[i]; i++)
			if (raw[i])
				put_str(&st, vocab_fields[i], raw[i]);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* ---------------------------------------------------------------- SQL */

static Extract *
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
static void
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

/* ---------------------------------------------------------------- listings */

/* dynahash over C strings kept elsewhere: the key is the pointer, compared by content */
static uint32
cstring_ptr_hash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
cstring_ptr_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
listing_callback(HtmlWalker *w, HtmlEvent ev, void *arg)
{
	Extract    *x = arg;
	SiteRules  *r = x->rules;

	switch (ev)
	{
		case HTML_START:
			if (w->depth > HTML_MAX_DEPTH)
				break;
			if (x->card_depth < 0 && html_match(w, &r->card))
			{
				x->card_depth = w->depth;
				x->card_id = r->id_attr ? attr_text(w, r->id_attr) : NULL;
				x->card_price = r->price_attr ? attr_text(w, r->price_attr) : NULL;
				x->card_renew = r->renew_attr ? attr_text(w, r->renew_attr) : NULL;
				x->card_href = NULL;
				resetStringInfo(&x->card_title);
				x->title_depth = -1;
			}
			else if (x->card_depth >= 0 && !x->card_href && html_match(w, &r->card_link))
			{
				char	   *title = attr_text(w, "title");

				x->card_href = attr_text(w, "href");
				/* the title attribute is the seller's title; the text may add badges */
				if (title && *title)
					appendStringInfoString(&x->card_title, title);
				else
					x->title_depth = w->depth;
			}
			if (!x->next_href && html_match(w, &r->next))
				x->next_href = attr_text(w, "href");
			break;
		case HTML_END:
			if (w->depth == x->title_depth)
				x->title_depth = -1;
			if (w->depth == x->card_depth)
			{
				char	  **card = palloc(sizeof(char *) * 5);

				card[0] = x->card_id;
				card[1] = x->card_price;
				card[2] = x->card_renew;
				card[3] = x->card_href;
				card[4] = decode_text(x->card_title.data, x->card_title.len);
				x->cards = lappend(x->cards, card);
				x->card_depth = -1;
			}
			break;
		case HTML_TEXT:
			if (x->title_depth >= 0)
				append_capped(&x->card_title, w->text.p, w->text.len);
			if (r->total_marker && x->all_text.len < MAX_TEXT_BYTES &&
				!w->in_script &&
				memmem(w->text.p, w->text.len, r->total_marker, strlen(r->total_marker)))
				append_capped(&x->all_text, w->text.p, w->text.len);
			break;
	}
	return true;
}

PG_FUNCTION_INFO_V1(otto_parse_listing);
Datum
otto_parse_listing(PG_FUNCTION_ARGS)
{
	text	   *html = PG_GETARG_TEXT_PP(0);
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	SiteRules  *r;
	Extract    *x;
	HtmlWalker *w;
	JsonbParseState *st = NULL;
	ListCell   *lc;
	HTAB	   *seen;
	HASHCTL		ctl = {0};
	MemoryContext scratch,
				outer;
	const char *why;
	int			promoted = 0;

	check_size(html);
	r = load_rules(url);
	if (!r->has_listing)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("site \"%s\" has no listing rules", r->site_name),
				 errhint("Add a \"listing\" object to otto.site.rules.")));
	x = extract_init(r);
	x->card_depth = -1;
	x->title_depth = -1;
	initStringInfo(&x->card_title);
	initStringInfo(&x->all_text);
	w = palloc0(sizeof(HtmlWalker));
	w->tick = parse_tick;
	html_walk(w, VARDATA_ANY(html), VARSIZE_ANY_EXHDR(html), listing_callback, x);

	/* ids seen, to skip an ad shown twice (promoted and in place) */
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(char *);
	ctl.hash = cstring_ptr_hash;
	ctl.match = cstring_ptr_match;
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("otto listing ids", 64, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	put_key(&st, "ads");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	/* each card's URL, id and time are worked out in a context reset per card: only what is kept stays */
	scratch = AllocSetContextCreate(CurrentMemoryContext, "otto listing card", ALLOCSET_SMALL_SIZES);
	foreach(lc, x->cards)
	{
		char	  **card = lfirst(lc);
		char	   *ad_url,
				   *id,
				   *renewed = NULL;
		int64		price;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(scratch);
		outer = MemoryContextSwitchTo(scratch);
		ad_url = card[3] ? otto_url_normalize(url, card[3], &why) : NULL;
		id = card[0];
		if (id == NULL && ad_url && r->ad_pattern)
			id = regex_capture(r->ad_pattern, ad_url);
		if (id && card[2])
			renewed = site_time(card[2], r->timezone);
		MemoryContextSwitchTo(outer);
		if (id == NULL)
			continue;
		if (hash_search(seen, &id, HASH_FIND, NULL))
		{
			promoted++;
			continue;
		}
		id = pstrdup(id);
		hash_search(seen, &id, HASH_ENTER, NULL);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		put_str(&st, "source_ad_id", id);
		put_str(&st, "url", ad_url ? pstrdup(ad_url) : NULL);
		if (card[1] && price_on_request(card[1]))
			put_str(&st, "price_eur", NULL);
		else if (card[1] && parse_grouped_int(card[1], &price))
			put_int(&st, "price_eur", price);
		if (card[2])
			put_str(&st, "renewed_at", renewed ? pstrdup(renewed) : NULL);
		if (card[4] && *card[4])
			put_str(&st, "title", card[4]);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	put_str(&st, "next_url", x->next_href ? otto_url_normalize(url, x->next_href, &why) : NULL);
	if (x->all_text.len)
	{
		char	   *t = decode_text(x->all_text.data, x->all_text.len);
		char	   *m = strstr(t, r->total_marker);
		int64		total;

		if (m && parse_grouped_int(m + strlen(r->total_marker), &total))
			put_int(&st, "total", total);
	}
	put_int(&st, "duplicates_skipped", promoted);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

/* ---------------------------------------------------------------- links */

typedef struct LinkState
{
	HtmlSlice  *hrefs;			/* raw href values, pointing into the page */
	int			nhrefs,
				cap;
	HtmlSlice	base;
	bool		has_base;
} LinkState;

static bool
links_callback(HtmlWalker *w, HtmlEvent ev, void *arg)
{
	LinkState  *s = arg;
	const HtmlSlice *href;

	/* by the tag itself: links count at any depth, inside unclosed elements too */
	if (ev != HTML_START || (href = html_attr(w, "href")) == NULL)
		return true;
	if (html_tag_is(w, "a"))
	{
		if (s->nhrefs == s->cap)
		{
			s->cap = s->cap ? s->cap * 2 : 256;
			s->hrefs = s->hrefs ? repalloc_huge(s->hrefs, s->cap * sizeof(HtmlSlice))
				: palloc(s->cap * sizeof(HtmlSlice));
		}
		s->hrefs[s->nhrefs++] = *href;
	}
	else if (html_tag_is(w, "base") && !s->has_base)
	{
		s->base = *href;
		s->has_base = true;
	}
	return true;
}

/* A link's absolute, normalised URL (or NULL), in the current context. */
static char *
link_url(const char *base, HtmlSlice href)
{
	char	   *h = decode_text(href.p, href.len);
	const char *why;

	while (*h == ' ')
		h++;
	if (*h == '#' || *h == '\0')
		return NULL;			/* fragment-only: the same page */
	return otto_url_normalize(base, h, &why);	/* javascript:, mailto:, tel: ... give NULL */
}

typedef struct LinkSeen
{
	uint64		hash;			/* of the normalised URL */
	int			first;			/* the href that gave it first */
} LinkSeen;

/*
 * SQL: otto.extract_links(html, base_url) returns setof text (absolute,
 * normalised, unique, in document order).  Memory is linear in the number of
 * links, not in their length: the links are kept as offsets into the page and
 * the URLs seen as 64-bit hashes (an equal hash is confirmed on the strings),
 * and each URL is built in a context reset per link.  The rows go to a
 * tuplestore, which spills to disk past work_mem.
 */
PG_FUNCTION_INFO_V1(otto_extract_links);
Datum
otto_extract_links(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *html = PG_GETARG_TEXT_PP(0);
	char	   *page_url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	LinkState	s = {0};
	HtmlWalker *w;
	const char *why;
	char	   *base;
	HTAB	   *seen;
	HASHCTL		ctl = {0};
	MemoryContext per_link,
				old;
	uint64		seed = pg_prng_uint64(&pg_global_prng_state);

	check_size(html);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	base = otto_url_normalize(NULL, page_url, &why);
	if (base == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid base URL \"%.*s\": %s", OTTO_CLIP(page_url, 100), why)));
	w = palloc0(sizeof(HtmlWalker));
	w->tick = parse_tick;
	html_walk(w, VARDATA_ANY(html), VARSIZE_ANY_EXHDR(html), links_callback, &s);
	if (s.has_base)
	{
		/* <base href> may itself be relative to the document's URL */
		char	   *b = otto_url_normalize(base, decode_text(s.base.p, s.base.len), &why);

		if (b)
			base = b;
	}
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(LinkSeen);
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("otto links", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	per_link = AllocSetContextCreate(CurrentMemoryContext, "otto link", ALLOCSET_SMALL_SIZES);
	for (int i = 0; i < s.nhrefs; i++)
	{
		char	   *abs;
		uint64		h;
		LinkSeen   *e;
		bool		found;
		Datum		value;
		bool		isnull = false;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(per_link);
		old = MemoryContextSwitchTo(per_link);
		abs = link_url(base, s.hrefs[i]);
		MemoryContextSwitchTo(old);
		if (abs == NULL)
			continue;
		/* seeded per call, so that a page cannot be made of colliding URLs */
		h = hash_bytes_extended((const unsigned char *) abs, strlen(abs), seed);
		e = hash_search(seen, &h, HASH_ENTER, &found);
		if (found)
		{
			HtmlSlice	a = s.hrefs[e->first],
						b = s.hrefs[i];
			char	   *other;

			/* the same href written again (the common repeat) needs no second normalisation */
			if (a.len == b.len && memcmp(a.p, b.p, a.len) == 0)
				continue;
			old = MemoryContextSwitchTo(per_link);
			other = link_url(base, a);
			MemoryContextSwitchTo(old);
			if (strcmp(other, abs) == 0)
				continue;
			/* a true 64-bit collision: keep the link (a rare repeat beats a lost link) */
		}
		else
			e->first = i;
		value = CStringGetTextDatum(abs);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		pfree(DatumGetPointer(value));
	}
	return (Datum) 0;
}

int			otto_max_page_bytes = 8 * 1024 * 1024;

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
