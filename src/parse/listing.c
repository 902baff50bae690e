/*
 * listing.c: otto.parse_listing (a listing page's cards) and
 * otto.extract_links (a page's links, resolved and normalised).
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
#include "sites/url.h"

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
			if (r->has_next && !x->next_href && html_match(w, &r->next))
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
		if (card[1] && price_on_request(r, card[1]))
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

