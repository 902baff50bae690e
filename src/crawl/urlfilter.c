/*
 * urlfilter.c: the URL filter's Bloom filter in shared memory.
 *
 * Sized at server start from otto.url_filter_expected (n) and
 * otto.url_filter_fp_rate (p) with the standard formulas
 *   m = ceil(-n ln p / (ln 2)^2) bits,  k = round(m/n ln 2) hash functions,
 * using double hashing (h1 + i h2) of two 64-bit hashes of the URL.  Bits are
 * set with atomic OR, so any number of backends and workers add and test
 * concurrently without a lock.  A miss means "definitely new"; a hit means
 * "maybe seen" and is confirmed against otto.frontier (otto.url_seen).
 * Shared memory starts empty at every server start: the launcher refills it
 * from otto.frontier (otto.url_filter_rebuild).
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "port/pg_bitutils.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "core/worker.h"
#include "crawl/urlfilter.h"

typedef struct UrlFilter
{
	uint64		nbits;
	int			nhashes;
	pg_atomic_uint64 added;		/* adds that set at least one new bit */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} UrlFilter;

static int	url_filter_expected = 1000000;
static double url_filter_fp_rate = 0.01;
static UrlFilter *filter = NULL;

static uint64
filter_bits(void)
{
	double		m = -((double) url_filter_expected) * log(url_filter_fp_rate) / (M_LN2 * M_LN2);

	return ((uint64) ceil(m) + 31) & ~(uint64) 31;
}

static Size
filter_size(void)
{
	return add_size(offsetof(UrlFilter, words), mul_size(filter_bits() / 32, sizeof(pg_atomic_uint32)));
}

static void
urlfilter_shmem_startup(void)
{
	bool		found;

	filter = ShmemInitStruct("otto url filter", filter_size(), &found);
	if (!found)
	{
		uint64		nwords = filter_bits() / 32;

		filter->nbits = filter_bits();
		filter->nhashes = Max(1, (int) rint((double) filter->nbits / url_filter_expected * M_LN2));
		pg_atomic_init_u64(&filter->added, 0);
		for (uint64 i = 0; i < nwords; i++)
			pg_atomic_init_u32(&filter->words[i], 0);
	}
}

/* Define the settings and, when preloading, reserve the shared memory. */
void
UrlFilterInit(void)
{
	DefineCustomIntVariable("otto.url_filter_expected",
							"URLs the URL filter is sized for.",
							NULL, &url_filter_expected,
							1000000, 1000, INT_MAX / 2,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("otto.url_filter_fp_rate",
							 "False-positive rate the URL filter is sized for at otto.url_filter_expected URLs.",
							 NULL, &url_filter_fp_rate,
							 0.01, 1e-9, 0.5,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	worker_shmem_request(filter_size(), urlfilter_shmem_startup);
}

static void
check_filter(void)
{
	if (filter == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the URL filter needs otto in shared_preload_libraries")));
}

/* The two hashes of double hashing; bit i is (h1 + i h2) mod m (h2 odd). */
static inline void
url_hashes(const char *url, size_t len, uint64 *h1, uint64 *h2)
{
	*h1 = hash_bytes_extended((const unsigned char *) url, (int) len, 0x6f74746f);
	*h2 = hash_bytes_extended((const unsigned char *) url, (int) len, 0x75726c73) | 1;
}

/* Add a URL; returns true when every bit was already set ("maybe seen"). */
static bool
url_filter_add(const char *url, size_t len)
{
	uint64		h1,
				h2;
	bool		seen = true;

	url_hashes(url, len, &h1, &h2);
	for (int i = 0; i < filter->nhashes; i++)
	{
		uint64		bit = (h1 + (uint64) i * h2) % filter->nbits;
		uint32		mask = (uint32) 1 << (bit & 31);

		if (!(pg_atomic_fetch_or_u32(&filter->words[bit >> 5], mask) & mask))
			seen = false;
	}
	if (!seen)
		pg_atomic_fetch_add_u64(&filter->added, 1);
	return seen;
}

static bool
url_filter_test(const char *url, size_t len)
{
	uint64		h1,
				h2;

	url_hashes(url, len, &h1, &h2);
	for (int i = 0; i < filter->nhashes; i++)
	{
		uint64		bit = (h1 + (uint64) i * h2) % filter->nbits;

		if (!(pg_atomic_read_u32(&filter->words[bit >> 5]) & ((uint32) 1 << (bit & 31))))
			return false;
	}
	return true;
}

PG_FUNCTION_INFO_V1(otto_url_filter_add);
Datum
otto_url_filter_add(PG_FUNCTION_ARGS)
{
	text	   *url = PG_GETARG_TEXT_PP(0);

	check_filter();
	PG_RETURN_BOOL(url_filter_add(VARDATA_ANY(url), VARSIZE_ANY_EXHDR(url)));
}

PG_FUNCTION_INFO_V1(otto_url_filter_test);
Datum
otto_url_filter_test(PG_FUNCTION_ARGS)
{
	text	   *url = PG_GETARG_TEXT_PP(0);

	check_filter();
	PG_RETURN_BOOL(url_filter_test(VARDATA_ANY(url), VARSIZE_ANY_EXHDR(url)));
}

/* Size, fill and estimated false-positive rate, as jsonb. */
PG_FUNCTION_INFO_V1(otto_url_filter_stats);
Datum
otto_url_filter_stats(PG_FUNCTION_ARGS)
{
	uint64		set = 0;
	double		fill;
	uint64		nwords;

	check_filter();
	nwords = filter->nbits / 32;
	for (uint64 i = 0; i < nwords; i++)
	{
		set += pg_popcount32(pg_atomic_read_u32(&filter->words[i]));
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	fill = (double) set / filter->nbits;
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf(
		"{\"bits\": " UINT64_FORMAT ", \"bytes\": " UINT64_FORMAT ", \"hashes\": %d, "
		"\"expected_urls\": %d, \"configured_fp_rate\": %g, \"urls_added\": " UINT64_FORMAT ", "
		"\"bits_set\": " UINT64_FORMAT ", \"fill_ratio\": %.6f, \"estimated_fp_rate\": %.6g}",
		filter->nbits, filter->nbits / 8, filter->nhashes, url_filter_expected, url_filter_fp_rate,
		pg_atomic_read_u64(&filter->added), set, fill, pow(fill, filter->nhashes)))));
}
