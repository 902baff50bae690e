/*
 * fold.c: the one text fold every match uses: the vocabulary's spellings
 * (vocab.c), car names and questions (otto.name_key, otto.ask_route through
 * otto.fold).  Serbian Cyrillic becomes Latin (љ lj, њ nj, џ dž), then
 * letters lose their diacritics (č ć c, š s, ž z, đ dj, ä a, ß ss, ...), ASCII
 * is lower-cased, runs of white space become one space, and the ends are
 * trimmed: "Hečbek", "HECBEK " and "Хечбек" all fold to "hecbek".  Other
 * characters are kept as they are.  Linear in the input; the output is at
 * most twice as long.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "sites/fold.h"

/* Latin-1 Supplement and Latin Extended-A, U+00C0 .. U+017F, folded (NULL: kept). */
static const char *const latin[] = {
	/* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	/* D0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
	/* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	/* F0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
	/* 100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
	/* 110 */ "dj", "dj", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
	/* 120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
	/* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
	/* 140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
	/* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
	/* 160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
	/* 170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

/* Serbian Cyrillic, U+0400 .. U+045F, as Serbian Latin folded (NULL: kept). */
static const char *const cyrillic[] = {
	/* 400 */ NULL, NULL, "dj", NULL, NULL, NULL, NULL, NULL, "j", "lj", "nj", "c", NULL, NULL, NULL, "dz",
	/* 410 */ "a", "b", "v", "g", "d", "e", "z", "z", "i", NULL, "k", "l", "m", "n", "o", "p",
	/* 420 */ "r", "s", "t", "u", "f", "h", "c", "c", "s", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	/* 430 */ "a", "b", "v", "g", "d", "e", "z", "z", "i", NULL, "k", "l", "m", "n", "o", "p",
	/* 440 */ "r", "s", "t", "u", "f", "h", "c", "c", "s", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	/* 450 */ NULL, NULL, "dj", NULL, NULL, NULL, NULL, NULL, "j", "lj", "nj", "c", NULL, NULL, NULL, "dz",
};

/* Fold len bytes of UTF-8 text (see the file comment); a palloc'd string. */
char *
otto_fold(const char *s, size_t len)
{
	StringInfoData out;
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;
	bool		space = false;

	initStringInfo(&out);
	while (p < end)
	{
		int			n = pg_utf_mblen(p);
		pg_wchar	c;
		const char *to = NULL;

		if (n > end - p || !pg_utf8_islegal(p, n))
			n = 1;				/* not UTF-8: the byte as it is */
		c = n > 1 ? utf8_to_unicode(p) : *p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0)
		{
			space = out.len > 0;
			p += n;
			continue;
		}
		if (space)
			appendStringInfoChar(&out, ' ');
		space = false;
		if (c >= 0xC0 && c <= 0x17F)
			to = latin[c - 0xC0];
		else if (c >= 0x400 && c <= 0x45F)
			to = cyrillic[c - 0x400];
		if (to)
			appendStringInfoString(&out, to);
		else if (n == 1)
			appendStringInfoChar(&out, pg_ascii_tolower(*p));
		else
			appendBinaryStringInfo(&out, (const char *) p, n);
		p += n;
	}
	return out.data;
}

/* SQL: otto.fold(text) returns text. */
PG_FUNCTION_INFO_V1(otto_fold_text);
Datum
otto_fold_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(otto_fold(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t))));
}
