/*
 * rules.c: a site's extraction rules (otto.site.rules), compiled.
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

#include "utils/array.h"

#include "core/otto.h"
#include "parse/extract.h"
#include "sites/cache.h"
#include "sites/url.h"

/* ---------------------------------------------------------------- rules */

/* The member key of object j (a palloc'd JsonbValue), or NULL. */
JsonbValue *
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

Jsonb *
jsonb_get(Jsonb *j, const char *key)
{
	JsonbValue *v = jsonb_member(j, key);

	return v ? JsonbValueToJsonb(v) : NULL;
}

/* A scalar member as text (a palloc'd copy), or NULL; no copy of the object is made. */
char *
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

/*
 * Every site's hosts and rules, read once per backend and again after any
 * change to otto.site (sites/cache.c); a site's rules are compiled on first
 * use.  Sites are few:
 * a lookup walks them.
 */
typedef struct SiteEntry
{
	char	   *name;
	char	   *ad_pattern;
	Datum	   *hosts;			/* text */
	int			nhosts;
	Jsonb	   *rules;
	SiteRules  *compiled;		/* NULL until first used */
} SiteEntry;

static SiteEntry *sites = NULL;
static int	nsites = 0;
static MemoryContext sites_cxt = NULL;
static TableCache sites_cache = {"site"};

static void
sites_load(void)
{
	MemoryContext caller = CurrentMemoryContext;
	int			ret;

	if (sites_cxt == NULL)
		sites_cxt = AllocSetContextCreate(TopMemoryContext, "otto sites", ALLOCSET_SMALL_SIZES);
	MemoryContextReset(sites_cxt);
	sites = NULL;
	nsites = 0;
	table_cache_loading(&sites_cache);
	SPI_connect();
	/* the first of several sites sharing a host: the enabled one, then the oldest */
	ret = SPI_execute("SELECT name, hosts, rules, ad_url_pattern FROM otto.site ORDER BY enabled DESC, site_id",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading otto.site failed: %d", ret);
	MemoryContextSwitchTo(sites_cxt);
	sites = palloc0(sizeof(SiteEntry) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		SiteEntry  *e = &sites[nsites++];
		bool		isnull;
		bool	   *nulls;

		e->name = SPI_getvalue(tup, td, 1);
		deconstruct_array(DatumGetArrayTypePCopy(SPI_getbinval(tup, td, 2, &isnull)), TEXTOID, -1, false,
						  TYPALIGN_INT, &e->hosts, &nulls, &e->nhosts);
		e->rules = DatumGetJsonbPCopy(SPI_getbinval(tup, td, 3, &isnull));
		e->ad_pattern = SPI_getvalue(tup, td, 4);
	}
	MemoryContextSwitchTo(caller);
	SPI_finish();
	MemoryContextSwitchTo(caller);
}

static SiteRules *compile_rules(SiteEntry *e);

/* rules.words.<key>: an array of strings, as a List of lower-case copies. */
static List *
words_list(SiteRules *r, Jsonb *words, const char *key)
{
	Jsonb	   *arr = jsonb_get(words, key);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *out = NIL;

	if (arr == NULL)
		return NIL;
	if (!JB_ROOT_IS_ARRAY(arr) || JB_ROOT_IS_SCALAR(arr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("site \"%s\": words.%s must be an array of strings", r->site_name, key)));
	it = JsonbIteratorInit(&arr->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && v.type == jbvString && v.val.string.len > 0)
		{
			char	   *w = pnstrdup(v.val.string.val, v.val.string.len);

			for (char *p = w; *p; p++)
				*p = pg_ascii_tolower(*p);
			out = lappend(out, w);
		}
	return out;
}

/* Does s contain one of the words (ASCII case ignored)? */
bool
words_in(List *words, const char *s)
{
	ListCell   *lc;

	if (s == NULL)
		return false;
	foreach(lc, words)
		if (strcasestr(s, lfirst(lc)))
			return true;
	return false;
}

/*
 * The compiled rules of the site whose hosts include the URL's host.  They
 * live in the cache: good until the next call.
 */
SiteRules *
load_rules(const char *url)
{
	const char *why;
	char	   *norm = otto_url_normalize(NULL, url, &why);
	const char *host;
	int			host_len;

	if (norm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid page URL \"%.*s\": %s", OTTO_CLIP(url, 100), why)));
	host = otto_url_host(norm, &host_len);
	if (table_cache_stale(&sites_cache))
		sites_load();
	for (int i = 0; i < nsites; i++)
		for (int h = 0; h < sites[i].nhosts; h++)
		{
			text	   *t = DatumGetTextPP(sites[i].hosts[h]);

			if (VARSIZE_ANY_EXHDR(t) == host_len && memcmp(VARDATA_ANY(t), host, host_len) == 0)
				return sites[i].compiled ? sites[i].compiled : compile_rules(&sites[i]);
		}
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("no site owns host \"%.*s\"", Min(host_len, 255), host),
			 errhint("Add the host to a site: UPDATE otto.site SET hosts = array_append(hosts, '%.*s') WHERE name = ...",
					 Min(host_len, 255), host)));
	return NULL;				/* not reached */
}

/* Compile a site's rules into the cache (a failure leaves it uncompiled, to fail again). */
static SiteRules *
compile_rules(SiteEntry *e)
{
	MemoryContext caller = MemoryContextSwitchTo(sites_cxt);
	SiteRules  *r;
	Jsonb	   *rules = e->rules,
			   *ad,
			   *listing,
			   *words;

	r = palloc0(sizeof(SiteRules));
	r->site_name = e->name;
	r->ad_pattern = e->ad_pattern;
	r->timezone = jsonb_get_text(rules, "timezone");
	words = jsonb_get(rules, "words");
	r->price_on_request = words_list(r, words, "price_on_request");
	r->unregistered = words_list(r, words, "unregistered");
	r->doors_suffix = words_list(r, words, "doors_suffix");
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
		/* no next link: the site pages with script (AutoScout24's buttons); the seeds list the pages */
		r->has_next = jsonb_get_text(listing, "next") != NULL;
		if (r->has_next)
			compile_selector(r->site_name, "listing.next", jsonb_get_text(listing, "next"), &r->next);
		r->id_attr = jsonb_get_text(listing, "id_attr");
		r->price_attr = jsonb_get_text(listing, "price_attr");
		r->renew_attr = jsonb_get_text(listing, "renew_attr");
		r->total_marker = jsonb_get_text(listing, "total_marker");
	}
	MemoryContextSwitchTo(caller);
	e->compiled = r;
	return r;
}
