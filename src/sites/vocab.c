/*
 * vocab.c: the canonical vocabulary (otto.vocabulary) as a lookup from any
 * spelling a site shows to Otto's English code.
 *
 * Spellings are compared folded (fold.c), so "Hečbek", "Hecbek", "HEČBEK "
 * and "Хечбек" all match.  The table is read once per backend and read again
 * after any change to it (its trigger otto.cache_invalidate).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "sites/cache.h"
#include "sites/fold.h"
#include "sites/vocab.h"

/* A field and a folded spelling, each zero-padded (no separator in band). */
typedef struct VocabKey
{
	char		field[32];
	char		spelling[96];
} VocabKey;

typedef struct VocabEntry
{
	VocabKey	key;
	char		code[64];
} VocabEntry;

static HTAB *vocab = NULL;
static List *vocab_field_names = NIL;	/* the fields the vocabulary has values of */
static MemoryContext vocab_cxt = NULL;
static TableCache vocab_cache = {"vocabulary"};

/* The cache key of a field's spelling; false when either is too long to be in the cache. */
static bool
vocab_key(const char *field, const char *spelling, VocabKey *key)
{
	char	   *folded = otto_fold(spelling, strlen(spelling));

	memset(key, 0, sizeof(*key));
	if (strlen(field) >= sizeof(key->field) || strlen(folded) >= sizeof(key->spelling))
		return false;
	strcpy(key->field, field);
	strcpy(key->spelling, folded);
	return true;
}

static void
vocab_add(const char *field, const char *spelling, const char *code)
{
	VocabEntry *e;
	VocabKey	key;
	bool		found;

	if (!vocab_key(field, spelling, &key) || strlen(code) >= sizeof(e->code))
		return;
	e = hash_search(vocab, &key, HASH_ENTER, &found);
	if (!found)
		strlcpy(e->code, code, sizeof(e->code));
}

static void
vocab_load(void)
{
	HASHCTL		ctl;
	MemoryContext caller = CurrentMemoryContext;
	int			ret;

	if (vocab_cxt == NULL)
		vocab_cxt = AllocSetContextCreate(TopMemoryContext, "otto vocabulary", ALLOCSET_SMALL_SIZES);
	MemoryContextReset(vocab_cxt);
	table_cache_loading(&vocab_cache);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(VocabKey);
	ctl.entrysize = sizeof(VocabEntry);
	ctl.hcxt = vocab_cxt;
	vocab = hash_create("otto vocabulary", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	vocab_field_names = NIL;

	SPI_connect();
	ret = SPI_execute("SELECT field, code, label_sr, label_en, spellings FROM otto.vocabulary ORDER BY field", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading otto.vocabulary failed: %d", ret);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *field = SPI_getvalue(tup, td, 1);
		char	   *code = SPI_getvalue(tup, td, 2);
		bool		isnull;
		Datum		sp;

		if (vocab_field_names == NIL || strcmp(llast(vocab_field_names), field) != 0)
		{
			MemoryContext old = MemoryContextSwitchTo(vocab_cxt);

			vocab_field_names = lappend(vocab_field_names, pstrdup(field));
			MemoryContextSwitchTo(old);
		}
		vocab_add(field, code, code);
		for (int col = 3; col <= 4; col++)
		{
			char	   *label = SPI_getvalue(tup, td, col);

			if (label)
				vocab_add(field, label, code);
		}
		sp = SPI_getbinval(tup, td, 5, &isnull);
		if (!isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(sp);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (int k = 0; k < n; k++)
				if (!nulls[k])
					vocab_add(field, TextDatumGetCString(elems[k]), code);
		}
	}
	SPI_finish();
	MemoryContextSwitchTo(caller);
}

/*
 * The code for a spelling of a field's value (a palloc'd copy: the cache may
 * be rebuilt before the caller is done with it), or NULL when unknown.
 */
const char *
vocab_lookup(const char *field, const char *spelling)
{
	VocabEntry *e;
	VocabKey	key;

	if (table_cache_stale(&vocab_cache))
		vocab_load();
	if (!vocab_key(field, spelling, &key))
		return NULL;
	e = hash_search(vocab, &key, HASH_FIND, NULL);
	return e ? pstrdup(e->code) : NULL;
}

/*
 * The fields the vocabulary has values of (otto.vocabulary.field), as a list
 * of its own (the cache may be rebuilt while the caller walks it).
 */
List *
vocab_fields(void)
{
	List	   *out = NIL;
	ListCell   *lc;

	if (table_cache_stale(&vocab_cache))
		vocab_load();
	foreach(lc, vocab_field_names)
		out = lappend(out, pstrdup(lfirst(lc)));
	return out;
}

/* SQL: otto.vocabulary_code(field text, spelling text) returns text. */
PG_FUNCTION_INFO_V1(otto_vocabulary_code);
Datum
otto_vocabulary_code(PG_FUNCTION_ARGS)
{
	const char *code = vocab_lookup(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									text_to_cstring(PG_GETARG_TEXT_PP(1)));

	if (code == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(code));
}
