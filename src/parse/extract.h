/*
 * extract.h: what the files of the parse stage share: a site's rules,
 * compiled (rules.c), and one page's extraction (ad.c, typing.c, listing.c).
 */
#ifndef OTTO_EXTRACT_H
#define OTTO_EXTRACT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "parse/html.h"

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
	char	   *timezone;		/* of the site's times (default UTC) */
	/* the site's words (rules.words): a price on request, no registration, a door count's unit */
	List	   *price_on_request;
	List	   *unregistered;
	List	   *doors_suffix;
	/* listing */
	bool		has_listing;
	bool		has_next;
	HtmlSelector card,
				card_link,
				next;
	char	   *id_attr,
			   *price_attr,
			   *renew_attr;
	char	   *total_marker;	/* text after which the total count follows */
} SiteRules;

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
} Extract;

/* rules.c */
extern JsonbValue *jsonb_member(Jsonb *j, const char *key);
extern Jsonb *jsonb_get(Jsonb *j, const char *key);
extern char *jsonb_get_text(Jsonb *j, const char *key);
extern SiteRules *load_rules(const char *url);
extern bool words_in(List *words, const char *s);

/* ad.c */
extern char *attr_text(const HtmlWalker *w, const char *name);
extern char *regex_capture(const char *pattern, const char *s);
extern void parse_tick(void);
extern char *decode_text(const char *p, size_t len);
extern void append_capped(StringInfo s, const char *p, size_t len);
extern void set_field(Extract *x, const char *name, Source src, const char *text);
extern Field *get_field(Extract *x, const char *name);
extern Extract *extract_init(SiteRules *r);
extern void check_size(text *html);

/* jsonld.c */
extern void take_jsonld(Extract *x, char *body);

/* typing.c */
extern bool parse_plain_number(const char *s, int64 *out);
extern void put_int(JsonbParseState **st, const char *key, int64 v);
extern bool parse_grouped_int(const char *s, int64 *out);
extern bool price_on_request(SiteRules *r, const char *s);
extern void put_str(JsonbParseState **st, const char *key, const char *s);
extern char *site_time(const char *s, const char *tz);
extern void put_key(JsonbParseState **st, const char *key);
extern Jsonb *type_ad(Extract *x, const char *page_url, bool truncated);

#endif							/* OTTO_EXTRACT_H */
