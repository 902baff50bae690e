/*
 * typing.c: an ad's raw values typed: numbers, prices, dates, vocabulary codes.
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
#include "sites/url.h"
#include "sites/vocab.h"

/* ---------------------------------------------------------------- typing */

/* Digits of the first number in s, dropping '.' thousands separators ("184.150 km"). */
bool
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
bool
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

void
put_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

void
put_int(JsonbParseState **st, const char *key, int64 v)
{
	JsonbValue	val;

	put_key(st, key);
	val.type = jbvNumeric;
	val.val.numeric = int64_to_numeric(v);
	pushJsonbValue(st, WJB_VALUE, &val);
}

void
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

/* A price text that says "on request" in the site's words (rules.words.price_on_request). */
bool
price_on_request(SiteRules *r, const char *s)
{
	return words_in(r->price_on_request, s);
}

/* "2022-11-23 10:26:45" in the site's time zone (rules.timezone, default UTC) -> "2022-11-23T09:26:45Z", or NULL. */
char *
site_time(const char *s, const char *tz)
{
	char	   *in = psprintf("%s %s", s, tz ? tz : "UTC");
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

/* The ad's identity: its canonical URL and the site's id for it. */
static void
type_identity(JsonbParseState **st, Extract *x, const char *page_url)
{
	const char *why;
	char	   *canon = x->canonical ? otto_url_normalize(page_url, x->canonical, &why) : NULL;
	char	   *u = canon ? canon : otto_url_normalize(NULL, page_url, &why);
	const char *id = field_text(x, "source_ad_id");

	put_str(st, "url", u);
	if (id == NULL && x->rules->ad_pattern && u)
		id = regex_capture(x->rules->ad_pattern, u);
	put_str(st, "source_ad_id", id);
}

/* Numbers, prices, power and dates, each checked for a plausible range. */
static void
type_numbers(JsonbParseState **st, Extract *x)
{
	const char *t;
	int64		n;

	if ((t = field_text(x, "year")) && parse_plain_number(t, &n) && n >= 1900 && n <= 2100)
		put_int(st, "year", n);
	if ((t = field_text(x, "mileage_km")) && parse_grouped_int(t, &n))
		put_int(st, "mileage_km", n);
	if ((t = field_text(x, "engine_cc")) && parse_grouped_int(t, &n) && n > 0)
		put_int(st, "engine_cc", n);
	if ((t = field_text(x, "seats")) && parse_grouped_int(t, &n) && n > 0 && n < 100)
		put_int(st, "seats", n);
	if ((t = field_text(x, "doors")))
	{
		char	   *d = pstrdup(t);
		ListCell   *lc;

		/* "4/5 vrata" -> "4/5": the unit in the site's words (rules.words.doors_suffix) */
		foreach(lc, x->rules->doors_suffix)
		{
			char	   *sp = strcasestr(d, lfirst(lc));

			if (sp)
				*sp = '\0';
		}
		put_str(st, "doors", d);
	}
	/* price: "7.200 €", "Po dogovoru" (null), or a plain number from scripts */
	if ((t = field_text(x, "price")))
	{
		if (price_on_request(x->rules, t))
			put_str(st, "price_eur", NULL);
		else if ((get_field(x, "price")->source >= SRC_TEXT ? parse_grouped_int(t, &n) : parse_plain_number(t, &n)))
			put_int(st, "price_eur", n);
	}
	if ((t = field_text(x, "old_price")) && parse_grouped_int(t, &n))
		put_int(st, "old_price_eur", n);
	/* power: rows "105/143 (kW/KS)"; JSON-LD "105.00 KWT"; scripts give hp */
	if ((t = field_text(x, "power")))
	{
		int			kw,
					hp;

		if (sscanf(t, "%d/%d", &kw, &hp) == 2 && kw > 0 && hp > 0)
		{
			put_int(st, "power_kw", kw);
			put_int(st, "power_hp", hp);
		}
	}
	else
	{
		if ((t = field_text(x, "power_kw")) && parse_plain_number(t, &n) && n > 0)
			put_int(st, "power_kw", n);
		if ((t = field_text(x, "power_hp")) && parse_plain_number(t, &n) && n > 0)
			put_int(st, "power_hp", n);
	}
	if ((t = field_text(x, "registered_until")))
	{
		int			mm,
					yy;

		if (sscanf(t, "%d.%d", &mm, &yy) == 2 && mm >= 1 && mm <= 12 && yy >= 1990 && yy <= 2100)
			put_str(st, "registered_until", psprintf("%04d-%02d-01", yy, mm));
		else if (words_in(x->rules->unregistered, t))
			put_str(st, "registered_until", NULL);
	}
	if ((t = field_text(x, "renewed_at")) && (t = site_time(t, x->rules->timezone)))
		put_str(st, "renewed_at", t);
	if ((t = field_text(x, "images_count")) && parse_grouped_int(t, &n))
		put_int(st, "images_count", n);

}

/* Categorical fields through the vocabulary; spellings it does not know are kept under raw. */
static void
type_categories(JsonbParseState **st, Extract *x)
{
	List	   *fields = vocab_fields();	/* the vocabulary's fields: one list, its table's */
	const char **raw = palloc0(sizeof(char *) * Max(list_length(fields), 1));	/* unknown spellings, by field */
	bool		any_raw = false;
	ListCell   *lc;

	foreach(lc, fields)
	{
		const char *t = field_text(x, lfirst(lc));
		const char *code;

		if (t == NULL)
			continue;
		if ((code = vocab_lookup(lfirst(lc), t)) != NULL)
			put_str(st, lfirst(lc), code);
		else
			raw[foreach_current_index(lc)] = t, any_raw = true;
	}
	if (any_raw)
	{
		put_key(st, "raw");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		foreach(lc, fields)
			if (raw[foreach_current_index(lc)])
				put_str(st, lfirst(lc), raw[foreach_current_index(lc)]);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
}

/* Build the typed jsonb of an ad from the extracted raw fields. */
Jsonb *
type_ad(Extract *x, const char *page_url, bool truncated)
{
	static const char *const text_fields[] = {"title", "make", "model", "emission_class", "location", "region", NULL};
	JsonbParseState *st = NULL;
	const char *t;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	type_identity(&st, x, page_url);
	for (int i = 0; text_fields[i]; i++)
		if ((t = field_text(x, text_fields[i])) != NULL)
			put_str(&st, text_fields[i], t);

	type_numbers(&st, x);
	type_categories(&st, x);
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
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}
