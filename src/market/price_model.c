/*
 * price_model.c: the learned half of fair value.
 *
 * Gradient-boosted trees on log asking price, through XGBoost's C API
 * (Debian's libxgboost): otto.price_model_fit trains a version on the live ads
 * (otto.price_model_rows: the features of otto.price_features, categorical
 * ones as codes of a dictionary built here), and otto.price_model_score
 * scores one car with a version kept in otto.price_model.  What the SQL side
 * does with both (calibration, the combination with the comparables) is in
 * price_model.sql.  The trainer worker is a thin loop around
 * otto.fair_value_train().
 *
 * Memory: training holds about four copies of rows x features floats (the
 * rows, the same as questions, one fold's training and held-out rows;
 * otto.price_model_max_rows caps the rows) plus XGBoost's own copy in its
 * histogram layout; a backend that scores keeps the boosters of one version
 * (the last it used) outside palloc, about three times their stored size,
 * freed when another version replaces them or otto.price_model changes.  XGBoost allocates with new/malloc,
 * so its handles are freed by a memory-context callback when an error ends
 * the call.  Threads: scoring always runs on the backend's own thread
 * (nthread 1); training uses otto.price_model_threads.
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>
#include <xgboost/c_api.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/worker.h"
#include "market/price_model.h"
#include "sites/cache.h"

#define MAX_FEATURES	64
#define CAT_KEY_LEN		256			/* longer categorical values count as missing */
#define EVAL_EVERY		25
#define PATIENCE_STEPS	15.0		/* eta x rounds without a better held-out error: 300 rounds at 0.05 */
#define MIN_GAIN		0.001		/* better: by a thousandth of the error at least (a large fold keeps finding less) */
#define FETCH_ROWS		5000
#define MAX_BOOSTERS	16			/* of a stored version */

/*
 * The model (categorical feature 1; make is 0) enters the trees as its mean
 * log price, smoothed toward its make's by MEAN_PRIOR ads, not as a
 * category: with a thousand models, every categorical split stores its set
 * (a booster four times the size, 200 MB per backend on the 2019 scrape),
 * and the mean was as accurate once combined with the comparables.
 */
#define MODEL_FEATURE	1
#define MEAN_PRIOR		5.0

/*
 * Most questions name a car by make, model, year, mileage, fuel and power
 * alone (categorical 0-2, numeric 0-2; the rest of otto.price_features is
 * optional).  Trees trained on full ads send a missing body or gearbox down
 * whichever branch they happened to (an Opel Vectra of 2002 came out at
 * 16,000 EUR), so FEW_SHARE of the training ads are added again as such a
 * question (fuel, power and mileage left out at times too), and the
 * calibration ads are scored both ways.
 */
#define CORE_FEATURES	3
#define FEW_SHARE		0.3

bool		otto_price_trainer_enabled = true;
static int	trainer_interval_s = 300;
static int	max_rows = 200000;
static int	train_threads = 1;
static double price_spread = 0.12;

void
PriceModelGucInit(void)
{
	DefineCustomBoolVariable("otto.price_trainer",
							 "Whether the launcher runs the worker that retrains the price model when the market has moved and keeps every live ad's value (otto.ad_value).",
							 "Off: call otto.fair_value_train() and otto.ad_values_refresh() yourself.",
							 &otto_price_trainer_enabled, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.price_trainer_naptime",
							"How often the price-model trainer looks whether the market has moved enough to retrain, and for ads to value.",
							NULL, &trainer_interval_s, 300, 1, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.price_model_max_rows",
							"Most live ads one training of the price model reads (a sample of them when there are more).",
							"Memory of a training is about 400 bytes per row.",
							&max_rows, 200000, 100, 10000000, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("otto.price_spread",
							 "How far sellers' asking prices stray from what their cars are worth, as a standard deviation of log price.",
							 "The prior of otto.price_posterior (price verdicts, good deals): the part of a price's gap from its fair value that is the seller's, not the estimate's error.  Asking prices alone cannot tell the two apart.",
							 &price_spread, 0.12, 0.01, 1.0, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.price_model_threads",
							"Threads one training of the price model uses (scoring always uses one).",
							NULL, &train_threads, 1, 1, 16, PGC_SUSET, 0, NULL, NULL, NULL);
}

/* XGBoost's last error without the stack trace it appends */
static char *
xgb_error(void)
{
	const char *e = XGBGetLastError();
	const char *cut = strstr(e, "Stack trace:");

	return pnstrdup(e, cut ? cut - e : strlen(e));
}

#define XGB_CHECK(call) \
	do { \
		if ((call) != 0) \
			ereport(ERROR, \
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), \
					 errmsg("XGBoost failed: %s", xgb_error()))); \
	} while (0)

/* ---------------------------------------------------------------------
 * Categorical dictionaries: one hash table per categorical feature, value to code
 * --------------------------------------------------------------------- */

typedef struct CatEntry
{
	char		key[CAT_KEY_LEN];
	int			code;
} CatEntry;

static HTAB *
dict_create(MemoryContext cxt, int i)
{
	HASHCTL		ctl;
	char		name[64];

	ctl.keysize = CAT_KEY_LEN;
	ctl.entrysize = sizeof(CatEntry);
	ctl.hcxt = cxt;
	snprintf(name, sizeof(name), "otto price model dictionary %d", i);
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* The code of value in dict (added with the next code when add), or NAN. */
static float
dict_code(HTAB *dict, Datum value, bool isnull, bool add)
{
	char		key[CAT_KEY_LEN];
	text	   *t;
	int			len;
	CatEntry   *e;
	bool		found;

	if (isnull)
		return NAN;
	t = DatumGetTextPP(value);
	len = VARSIZE_ANY_EXHDR(t);
	if (len >= CAT_KEY_LEN)
		return NAN;
	memset(key, 0, sizeof(key));
	memcpy(key, VARDATA_ANY(t), len);
	e = hash_search(dict, key, add ? HASH_ENTER : HASH_FIND, &found);
	if (e == NULL)
		return NAN;
	if (!found)
		e->code = hash_get_num_entries(dict) - 1;
	return (float) e->code;
}

/* One car's features: codes of cat[] then values of num[]. */
static void
features_row(float *row, ArrayType *cat, ArrayType *num, HTAB **dicts, int ncat, int nnum, bool add)
{
	Datum	   *ce,
			   *ne;
	bool	   *cn,
			   *nn;
	int			nc,
				n;

	deconstruct_array(cat, TEXTOID, -1, false, TYPALIGN_INT, &ce, &cn, &nc);
	deconstruct_array(num, FLOAT4OID, 4, true, TYPALIGN_INT, &ne, &nn, &n);
	if (nc != ncat || n != nnum)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the price model has %d categorical and %d numeric features, not %d and %d", ncat, nnum, nc, n)));
	for (int i = 0; i < ncat; i++)
		row[i] = dict_code(dicts[i], ce[i], cn[i], add);
	/* NULL, NaN and the infinities are missing (XGBoost refuses infinities) */
	for (int i = 0; i < nnum; i++)
		row[ncat + i] = nn[i] || !isfinite(DatumGetFloat4(ne[i])) ? NAN : DatumGetFloat4(ne[i]);
}

static void
set_feature_types(DMatrixHandle m, int ncat, int nnum)
{
	const char *types[MAX_FEATURES];

	for (int i = 0; i < ncat + nnum; i++)
		types[i] = i < ncat && i != MODEL_FEATURE ? "c" : "q";
	XGB_CHECK(XGDMatrixSetStrFeatureInfo(m, "feature_type", types, ncat + nnum));
}

/* ---------------------------------------------------------------------
 * Training
 * --------------------------------------------------------------------- */

/*
 * Cross-fitting.  Every row is in one fold (otto.price_model_fold of its ad
 * and the version's fold_seed); booster k is trained on the other folds and
 * early-stopped on fold k, whose prices it never sees, not even through the
 * model means (booster k's are computed without fold k).  So an ad in the
 * market is priced by its fold's booster as if it were new, and fold k's
 * predictions by booster k are the out-of-fold ones the SQL side calibrates
 * on, for every ad.  A car that is not in the market gets the mean of all
 * the boosters.  A small market (under ENSEMBLE_BELOW rows, five folds) has
 * boosters of different depth and sampling too (on the 2019 scrape such an
 * average beat the best single booster by 2%); a large one (three folds)
 * shallower ones with a larger step, as its training time and the size each
 * backend loads grow with rows times boosters.
 */
typedef struct TreeConfig
{
	int			max_rounds;		/* with eta, bounds a training's time: rows x rounds */
	int			depth;
	const char *subsample;
	const char *colsample;
	int			min_child_weight;
	int			lambda;
	double		eta;
} TreeConfig;

static const TreeConfig small_market[] = {
	{3000, 6, "0.8", "0.8", 1, 1, 0.05},
	{3000, 8, "0.7", "0.6", 3, 1, 0.05},
	{3000, 10, "0.6", "0.5", 5, 5, 0.05},
};
static const TreeConfig large_market[] = {
	{300, 6, "0.8", "0.8", 5, 1, 0.15},
};
#define ENSEMBLE_BELOW 50000

/* XGBoost's handles of one training: freed on success and by the reset callback on error. */
typedef struct FitHandles
{
	DMatrixHandle train;
	DMatrixHandle valid;		/* the fold left out: early stopping, out-of-fold predictions */
	DMatrixHandle valid_few;	/* the same, as few features as a question gives */
	BoosterHandle booster;		/* being trained */
	BoosterHandle done[MAX_BOOSTERS];
	MemoryContextCallback cb;
} FitHandles;

static void
fold_handles_free(FitHandles *h)
{
	if (h->train)
		XGDMatrixFree(h->train);
	if (h->valid)
		XGDMatrixFree(h->valid);
	if (h->valid_few)
		XGDMatrixFree(h->valid_few);
	if (h->booster)
		XGBoosterFree(h->booster);
	h->train = h->valid = h->valid_few = h->booster = NULL;
}

static void
fit_handles_free(void *arg)
{
	FitHandles *h = arg;

	fold_handles_free(h);
	for (int k = 0; k < MAX_BOOSTERS; k++)
		if (h->done[k])
			XGBoosterFree(h->done[k]);
	memset(h, 0, offsetof(FitHandles, cb));
}

/* What a training row loses (so that the trees learn an unseen model and make), and whether its question form is trained on too */
#define DROP_MODEL	1
#define DROP_MAKE	2
#define TRAIN_FEW	4

/* A growing float matrix of rows with ncol columns; per row its label, ad, fold and flags. */
typedef struct Matrix
{
	float	   *x;
	float	   *y;
	int64	   *ad;
	uint8	   *fold;
	uint8	   *flag;
	int			n;
	int			cap;
} Matrix;

static float *
matrix_add(Matrix *m, int ncol, int64 ad, float y, int fold)
{
	if (m->n == m->cap)
	{
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->x = m->x ? repalloc_huge(m->x, sizeof(float) * m->cap * ncol) : palloc_extended(sizeof(float) * m->cap * ncol, MCXT_ALLOC_HUGE);
		m->y = m->y ? repalloc_huge(m->y, sizeof(float) * m->cap) : palloc(sizeof(float) * m->cap);
		m->ad = m->ad ? repalloc_huge(m->ad, sizeof(int64) * m->cap) : palloc(sizeof(int64) * m->cap);
		m->fold = m->fold ? repalloc_huge(m->fold, m->cap) : palloc(m->cap);
		m->flag = m->flag ? repalloc_huge(m->flag, m->cap) : palloc(m->cap);
	}
	m->ad[m->n] = ad;
	m->y[m->n] = y;
	m->fold[m->n] = (uint8) fold;
	m->flag[m->n] = 0;
	return m->x + (size_t) ncol * m->n++;
}

static int
float_cmp(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return (x > y) - (x < y);
}

/* Median absolute error of pred against y over n rows (scratch: n floats). */
static float
median_abs_error(const float *pred, const float *y, int n, float *scratch)
{
	for (int i = 0; i < n; i++)
		scratch[i] = fabsf(pred[i] - y[i]);
	qsort(scratch, n, sizeof(float), float_cmp);
	return n % 2 ? scratch[n / 2] : (scratch[n / 2 - 1] + scratch[n / 2]) / 2;
}

static void
booster_param(BoosterHandle b, const char *name, const char *fmt,...) pg_attribute_printf(3, 4);

static void
booster_param(BoosterHandle b, const char *name, const char *fmt,...)
{
	char		value[64];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	XGB_CHECK(XGBoosterSetParam(b, name, value));
}

/* row as a question gives it: the optional features missing, and at times fuel, power or mileage */
static void
few_features(float *row, int ncat, int nnum, pg_prng_state *prng)
{
	for (int i = CORE_FEATURES; i < ncat; i++)
		row[i] = NAN;
	for (int i = CORE_FEATURES; i < nnum; i++)
		row[ncat + i] = NAN;
	if (pg_prng_double(prng) < 0.3)
		row[2] = NAN;			/* fuel */
	if (pg_prng_double(prng) < 0.2)
		row[ncat + 1] = NAN;	/* mileage */
	if (pg_prng_double(prng) < 0.5)
		row[ncat + 2] = NAN;	/* power */
}

/*
 * The models' mean log prices from the rows outside fold skip: each model's,
 * smoothed toward its make's, itself smoothed toward the market's.  Keeps per
 * model code the mean, its sum and count (for leave-one-out).
 */
typedef struct ModelMeans
{
	double	   *mean;
	double	   *sum;
	double	   *n;
	double	   *prior;			/* its make's mean */
} ModelMeans;

static ModelMeans *
model_means(const Matrix *m, int ncol, int nmakes, int nmodels, int skip)
{
	ModelMeans *mm = palloc0(sizeof(ModelMeans));
	double	   *make_sum = palloc0(sizeof(double) * Max(nmakes, 1));
	double	   *make_n = palloc0(sizeof(double) * Max(nmakes, 1));
	int		   *make_of = palloc(sizeof(int) * Max(nmodels, 1));
	double		all = 0,
				n = 0;

	mm->mean = palloc(sizeof(double) * Max(nmodels, 1));
	mm->sum = palloc0(sizeof(double) * Max(nmodels, 1));
	mm->n = palloc0(sizeof(double) * Max(nmodels, 1));
	mm->prior = palloc(sizeof(double) * Max(nmodels, 1));
	for (int j = 0; j < nmodels; j++)
		make_of[j] = -1;
	for (int i = 0; i < m->n; i++)
	{
		const float *row = m->x + (size_t) ncol * i;

		/* a model's make from every row, its prices from the other folds' */
		if (!isnan(row[MODEL_FEATURE]) && !isnan(row[0]))
			make_of[(int) row[MODEL_FEATURE]] = (int) row[0];
		if (m->fold[i] == skip)
			continue;
		all += m->y[i];
		n++;
		if (!isnan(row[0]))
		{
			make_sum[(int) row[0]] += m->y[i];
			make_n[(int) row[0]]++;
		}
		if (!isnan(row[MODEL_FEATURE]))
		{
			mm->sum[(int) row[MODEL_FEATURE]] += m->y[i];
			mm->n[(int) row[MODEL_FEATURE]]++;
		}
	}
	all /= Max(n, 1);
	for (int j = 0; j < nmodels; j++)
	{
		int			k = make_of[j];

		mm->prior[j] = k < 0 ? all : (make_sum[k] + MEAN_PRIOR * all) / (make_n[k] + MEAN_PRIOR);
		mm->mean[j] = (mm->sum[j] + MEAN_PRIOR * mm->prior[j]) / (mm->n[j] + MEAN_PRIOR);
	}
	return mm;
}

/*
 * Row i of src appended to dst with its model code as its model's mean
 * (leave_one_out: without the row's own price, which mm counted), losing
 * what drops says.
 */
static void
copy_row(Matrix *dst, const Matrix *src, int i, int ncol, const ModelMeans *mm, bool leave_one_out, int drops)
{
	float	   *row = matrix_add(dst, ncol, src->ad[i], src->y[i], src->fold[i]);
	float	   *v = row + MODEL_FEATURE;

	memcpy(row, src->x + (size_t) ncol * i, sizeof(float) * ncol);
	if (drops & DROP_MAKE)
		row[0] = NAN;
	if (drops & (DROP_MAKE | DROP_MODEL))
		*v = NAN;
	if (!isnan(*v))
	{
		int			j = (int) *v;

		if (leave_one_out && mm->n[j] > 0)
			*v = (float) ((mm->sum[j] - src->y[i] + MEAN_PRIOR * mm->prior[j]) / (mm->n[j] - 1 + MEAN_PRIOR));
		else
			*v = (float) mm->mean[j];
	}
}

/* m's rows into *d, one of FitHandles' slots (so that an error frees it) */
static void
dmatrix(DMatrixHandle *d, const Matrix *m, int ncol, int ncat, int nnum, bool label)
{
	XGB_CHECK(XGDMatrixCreateFromMat_omp(m->x, m->n, ncol, NAN, d, train_threads));
	if (label)
		XGB_CHECK(XGDMatrixSetFloatInfo(*d, "label", m->y, m->n));
	set_feature_types(*d, ncat, nnum);
}

/*
 * Train booster k on h->train into h->done[k], until the median absolute
 * error on h->valid (nva rows, labels vy) has not fallen for PATIENCE_STEPS /
 * eta rounds, cut back to its best (600 rounds when there are no such rows).
 * Returns the rounds kept.
 */
static int
train_booster(FitHandles *h, int k, const TreeConfig *c, int seed, double base_score, int nva, const float *vy,
			  float *scratch)
{
	int			rounds = 0,
				best_rounds = 0;
	float		best_err = INFINITY;
	bst_ulong	len;
	const float *pred;

	XGB_CHECK(XGBoosterCreate(&h->train, 1, &h->booster));
	booster_param(h->booster, "verbosity", "0");
	booster_param(h->booster, "nthread", "%d", train_threads);
	booster_param(h->booster, "seed", "%d", seed);
	booster_param(h->booster, "tree_method", "hist");
	booster_param(h->booster, "max_cat_to_onehot", "1");	/* partition splits on categories */
	booster_param(h->booster, "eta", "%g", c->eta);
	booster_param(h->booster, "max_depth", "%d", c->depth);
	booster_param(h->booster, "subsample", "%s", c->subsample);
	booster_param(h->booster, "colsample_bytree", "%s", c->colsample);
	booster_param(h->booster, "min_child_weight", "%d", c->min_child_weight);
	booster_param(h->booster, "lambda", "%d", c->lambda);
	booster_param(h->booster, "base_score", "%.6f", base_score);

	while (rounds < (nva > 0 ? c->max_rounds : Min(c->max_rounds, 600)))
	{
		CHECK_FOR_INTERRUPTS();
		XGB_CHECK(XGBoosterUpdateOneIter(h->booster, rounds, h->train));
		rounds++;
		if (nva > 0 && rounds % EVAL_EVERY == 0)
		{
			float		err;

			XGB_CHECK(XGBoosterPredict(h->booster, h->valid, 0, 0, 0, &len, &pred));
			err = median_abs_error(pred, vy, nva, scratch);
			if (err < best_err * (1 - MIN_GAIN))
			{
				best_err = err;
				best_rounds = rounds;
			}
			else if (rounds - best_rounds >= PATIENCE_STEPS / c->eta)
				break;
		}
	}
	if (best_rounds == 0)
		best_rounds = rounds;
	XGB_CHECK(XGBoosterSlice(h->booster, 0, best_rounds, 1, &h->done[k]));
	XGBoosterFree(h->booster);
	h->booster = NULL;
	return best_rounds;
}

/*
 * otto.price_model_fit(max_rows, seed): a booster per fold of
 * otto.price_model_rows; returns them, their model means, and every ad's
 * out-of-fold predictions, from all its features and as a question gives
 * them (the SQL side calibrates on both).
 */
PG_FUNCTION_INFO_V1(otto_price_model_fit);
Datum
otto_price_model_fit(PG_FUNCTION_ARGS)
{
	int32		rows_max = PG_ARGISNULL(0) ? max_rows : PG_GETARG_INT32(0);
	int32		seed = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	TupleDesc	tupdesc;
	MemoryContext fit_cxt,
				row_cxt,
				fold_cxt,
				caller = CurrentMemoryContext;
	FitHandles *h;
	HTAB	   *dicts[MAX_FEATURES];
	Matrix		all = {0},		/* every row read */
				few = {0};		/* the same as questions */
	int			ncat = -1,
				nnum = -1,
				ncol = 0,
				nfolds = 0;
	Portal		portal;
	pg_prng_state prng;
	TimestampTz started = GetCurrentTimestamp();
	Datum		models[MAX_BOOSTERS],
				rounds_d[MAX_BOOSTERS];
	const TreeConfig *configs;
	int			nconfigs;
	float	   *oof,
			   *oof_few,
			   *scratch;
	int			nmodels;
	bst_ulong	len;
	const char *buf;
	const float *pred;
	Datum		values[13];
	bool		nulls[13] = {0};
	struct rusage ru;
	Datum	   *cat_feature,
			   *cat_value,
			   *cat_mean,
			   *ad_ids,
			   *preds,
			   *preds_few;
	int			ncodes = 0,
				model_base = 0;	/* the model feature's first entry in the dictionary */

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "otto_price_model_fit must return a record");
	if (rows_max < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("max_rows must be at least 1")));

	fit_cxt = AllocSetContextCreate(CurrentMemoryContext, "otto price model fit", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(fit_cxt);
	h = palloc0(sizeof(FitHandles));
	h->cb.func = fit_handles_free;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(fit_cxt, &h->cb);
	row_cxt = AllocSetContextCreate(fit_cxt, "otto price model row", ALLOCSET_SMALL_SIZES);
	fold_cxt = AllocSetContextCreate(fit_cxt, "otto price model fold", ALLOCSET_DEFAULT_SIZES);
	pg_prng_seed(&prng, (uint64) seed);

	/* the rows, a batch at a time, into a float matrix */
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT ad_id, ln_price, fold, folds, cat, num FROM otto.price_model_rows($1, $2)",
									   2, (Oid[]) {INT4OID, INT4OID},
									   (Datum[]) {Int32GetDatum(rows_max), Int32GetDatum(seed)}, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		isnull[6];
			Datum		d[6];
			int			fold;
			float	   *row;
			double		u;
			MemoryContext old;

			for (int c = 0; c < 6; c++)
				d[c] = SPI_getbinval(tup, td, c + 1, &isnull[c]);
			if (isnull[0] || isnull[1] || isnull[2] || isnull[3] || isnull[4] || isnull[5])
				continue;
			if (ncat < 0)
			{
				ncat = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d[4])), ARR_DIMS(DatumGetArrayTypeP(d[4])));
				nnum = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d[5])), ARR_DIMS(DatumGetArrayTypeP(d[5])));
				ncol = ncat + nnum;
				nfolds = DatumGetInt32(d[3]);
				if (ncat < CORE_FEATURES || nnum < CORE_FEATURES || ncol > MAX_FEATURES)
					elog(ERROR, "otto.price_model_rows must give at most %d features, at least %d of each kind (make, model, fuel; year, mileage, power first)",
						 MAX_FEATURES, CORE_FEATURES);
				if (nfolds < 2 || nfolds > MAX_BOOSTERS)
					elog(ERROR, "otto.price_model_rows must give 2 to %d folds, not %d", MAX_BOOSTERS, nfolds);
				for (int i = 0; i < ncat; i++)
					dicts[i] = dict_create(fit_cxt, i);
			}
			fold = DatumGetInt32(d[2]);
			if (fold < 0 || fold >= nfolds)
				elog(ERROR, "otto.price_model_rows gave fold %d of %d", fold, nfolds);
			old = MemoryContextSwitchTo(fit_cxt);
			row = matrix_add(&all, ncol, DatumGetInt64(d[0]), (float) DatumGetFloat8(d[1]), fold);
			MemoryContextSwitchTo(row_cxt);
			features_row(row, DatumGetArrayTypeP(d[4]), DatumGetArrayTypeP(d[5]), dicts, ncat, nnum, true);
			MemoryContextSwitchTo(fit_cxt);
			MemoryContextReset(row_cxt);

			/*
			 * As training rows, some lose their model (and fewer their make),
			 * so that the trees learn what a model or make they have not
			 * seen is worth: its make's level, or the market's; and
			 * FEW_SHARE are trained on as questions too.
			 */
			u = pg_prng_double(&prng);
			all.flag[all.n - 1] = (u < 0.01 ? DROP_MAKE : u < 0.04 ? DROP_MODEL : 0) |
				(pg_prng_double(&prng) < FEW_SHARE ? TRAIN_FEW : 0);
			row = matrix_add(&few, ncol, all.ad[all.n - 1], all.y[all.n - 1], fold);
			memcpy(row, all.x + (size_t) ncol * (all.n - 1), sizeof(float) * ncol);
			few_features(row, ncat, nnum, &prng);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextSwitchTo(fit_cxt);

	if (all.n < 50)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too few priced live ads to train a price model: %d", all.n),
				 errhint("The model needs at least 50; fair values use the comparables alone until then.")));

	nmodels = hash_get_num_entries(dicts[MODEL_FEATURE]);
	for (int i = 0; i < ncat; i++)
		ncodes += hash_get_num_entries(dicts[i]);
	cat_mean = palloc(sizeof(Datum) * Max(nfolds * ncodes, 1));
	for (int i = 0; i < nfolds * ncodes; i++)
		cat_mean[i] = Float8GetDatum(0);
	for (int f = 0; f < MODEL_FEATURE; f++)
		model_base += hash_get_num_entries(dicts[f]);
	oof = palloc(sizeof(float) * all.n);
	oof_few = palloc(sizeof(float) * all.n);
	scratch = palloc(sizeof(float) * all.n);
	configs = all.n < ENSEMBLE_BELOW ? small_market : large_market;
	nconfigs = all.n < ENSEMBLE_BELOW ? lengthof(small_market) : lengthof(large_market);

	for (int k = 0; k < nfolds; k++)
	{
		Matrix		tr = {0},
					va = {0},
					vf = {0};
		ModelMeans *mm;
		double		sum_y = 0;
		int			n_y = 0;

		MemoryContextSwitchTo(fold_cxt);
		mm = model_means(&all, ncol, hash_get_num_entries(dicts[0]), nmodels, k);
		for (int i = 0; i < all.n; i++)
		{
			if (all.fold[i] == k)
			{
				copy_row(&va, &all, i, ncol, mm, false, 0);
				copy_row(&vf, &few, i, ncol, mm, false, 0);
				continue;
			}
			copy_row(&tr, &all, i, ncol, mm, true, all.flag[i]);
			if (all.flag[i] & TRAIN_FEW)
				copy_row(&tr, &few, i, ncol, mm, true, 0);
			sum_y += all.y[i];
			n_y++;
		}
		CHECK_FOR_INTERRUPTS();
		dmatrix(&h->train, &tr, ncol, ncat, nnum, true);
		if (va.n > 0)
		{
			dmatrix(&h->valid, &va, ncol, ncat, nnum, false);
			dmatrix(&h->valid_few, &vf, ncol, ncat, nnum, false);
		}
		rounds_d[k] = Int32GetDatum(train_booster(h, k, &configs[k % nconfigs], seed + k, sum_y / Max(n_y, 1),
												  va.n, va.y, scratch));
		if (va.n > 0)
		{
			int			j = 0;

			XGB_CHECK(XGBoosterPredict(h->done[k], h->valid, 0, 0, 0, &len, &pred));
			for (int i = 0; i < all.n; i++)
				if (all.fold[i] == k)
					oof[i] = pred[j++];
			XGB_CHECK(XGBoosterPredict(h->done[k], h->valid_few, 0, 0, 0, &len, &pred));
			j = 0;
			for (int i = 0; i < all.n; i++)
				if (all.fold[i] == k)
					oof_few[i] = pred[j++];
		}
		fold_handles_free(h);

		/* booster k's model means, at its offset in category_mean (the other features' entries 0) */
		for (int j = 0; j < nmodels; j++)
			cat_mean[k * ncodes + model_base + j] = Float8GetDatum(mm->mean[j]);
		MemoryContextSwitchTo(fit_cxt);
		MemoryContextReset(fold_cxt);
	}

	for (int k = 0; k < nfolds; k++)
	{
		bytea	   *b;

		XGB_CHECK(XGBoosterSaveModelToBuffer(h->done[k], "{\"format\": \"ubj\"}", &len, &buf));
		b = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), buf, len);
		models[k] = PointerGetDatum(b);
	}

	ad_ids = palloc(sizeof(Datum) * all.n);
	preds = palloc(sizeof(Datum) * all.n);
	preds_few = palloc(sizeof(Datum) * all.n);
	for (int i = 0; i < all.n; i++)
	{
		ad_ids[i] = Int64GetDatum(all.ad[i]);
		preds[i] = Float8GetDatum(oof[i]);
		preds_few[i] = Float8GetDatum(oof_few[i]);
	}

	/* the dictionaries as two parallel arrays: feature (0-based) and value, code = order within its feature */
	cat_feature = palloc(sizeof(Datum) * Max(ncodes, 1));
	cat_value = palloc(sizeof(Datum) * Max(ncodes, 1));
	{
		int			base = 0;

		for (int i = 0; i < ncat; i++)
		{
			HASH_SEQ_STATUS seq;
			CatEntry   *e;

			hash_seq_init(&seq, dicts[i]);
			while ((e = hash_seq_search(&seq)) != NULL)
			{
				cat_feature[base + e->code] = Int32GetDatum(i);
				cat_value[base + e->code] = CStringGetTextDatum(e->key);
			}
			base += hash_get_num_entries(dicts[i]);
		}
	}
	getrusage(RUSAGE_SELF, &ru);

	MemoryContextSwitchTo(caller);
	values[0] = PointerGetDatum(construct_array(models, nfolds, BYTEAOID, -1, false, TYPALIGN_INT));
	values[1] = Int32GetDatum(ncat);
	values[2] = PointerGetDatum(construct_array(cat_feature, ncodes, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(cat_value, ncodes, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = Int32GetDatum(all.n);
	values[5] = PointerGetDatum(construct_array(rounds_d, nfolds, INT4OID, 4, true, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(ad_ids, all.n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[7] = PointerGetDatum(construct_array(preds, all.n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[8] = Float8GetDatum((GetCurrentTimestamp() - started) / 1e6);
	values[9] = Int64GetDatum((int64) ru.ru_maxrss);
	values[10] = PointerGetDatum(construct_array(cat_mean, nfolds * ncodes, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[11] = PointerGetDatum(construct_array(preds_few, all.n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[12] = Int32GetDatum(nfolds);
	{
		HeapTuple	result = heap_form_tuple(tupdesc, values, nulls);

		MemoryContextDelete(fit_cxt);	/* frees XGBoost's handles too */
		PG_RETURN_DATUM(HeapTupleGetDatum(result));
	}
}

/* ---------------------------------------------------------------------
 * Scoring: one version per backend, the one last asked for
 * --------------------------------------------------------------------- */

typedef struct LoadedModel
{
	int64		model_id;		/* 0: none */
	bool		failed;			/* this version could not be loaded (warned once) */
	int			nboosters;
	BoosterHandle boosters[MAX_BOOSTERS];
	MemoryContext cxt;
	int			ncat;
	int			nnum;
	HTAB	   *dicts[MAX_FEATURES];
	double	   *model_mean[MAX_BOOSTERS];	/* each booster's, by the model feature's code */
} LoadedModel;

static LoadedModel loaded;

/* A write to otto.price_model (a new version, a damaged one) drops the loaded one */
static TableCache model_table = {"price_model"};

static void
loaded_reset(int64 model_id)
{
	for (int k = 0; k < loaded.nboosters; k++)
		XGBoosterFree(loaded.boosters[k]);
	if (loaded.cxt)
		MemoryContextDelete(loaded.cxt);
	memset(&loaded, 0, sizeof(loaded));
	loaded.model_id = model_id;
}

/* Load version model_id; false (with a WARNING, once per version) when it cannot be. */
static bool
model_load(int64 model_id)
{
	char	   *problem = NULL;	/* in the caller's context: SPI's goes at SPI_finish */
	MemoryContext caller = CurrentMemoryContext;
	int			ret;

#define PROBLEM(...) (problem = MemoryContextStrdup(caller, psprintf(__VA_ARGS__)))

	loaded_reset(model_id);
	loaded.cxt = AllocSetContextCreate(TopMemoryContext, "otto price model", ALLOCSET_SMALL_SIZES);
	SPI_connect();
	/* XGBoost's parser trusts its input: bytes that are not what training stored are never loaded */
	ret = SPI_execute_with_args("SELECT model, n_categorical, cardinality(features), category_feature, category_value, category_mean,"
								"       (SELECT coalesce(bool_and(sha256(b.m) = b.s), false)"
								"          FROM unnest(model, model_sha256) b(m, s))"
								"  FROM otto.price_model WHERE model_id = $1",
								1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(model_id)}, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed == 0)
		PROBLEM("there is no price model %lld", (long long) model_id);
	else
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull[7];
		Datum		d[7];

		for (int c = 0; c < 7; c++)
			d[c] = SPI_getbinval(tup, td, c + 1, &isnull[c]);
		if (isnull[0] || isnull[1] || isnull[2] || isnull[3] || isnull[4] || isnull[5])
			PROBLEM("a column of it is NULL");
		else if (!DatumGetBool(d[6]))
			PROBLEM("its boosters' bytes do not match their SHA-256 sums (model_sha256)");
		else
		{
			Datum	   *bytes;
			bool	   *bnull;
			int			nb;

			deconstruct_array(DatumGetArrayTypeP(d[0]), BYTEAOID, -1, false, TYPALIGN_INT, &bytes, &bnull, &nb);
			loaded.ncat = DatumGetInt32(d[1]);
			loaded.nnum = DatumGetInt32(d[2]) - loaded.ncat;
			if (loaded.ncat < 0 || loaded.nnum < 0 || loaded.ncat + loaded.nnum > MAX_FEATURES)
				PROBLEM("it has %d features", DatumGetInt32(d[2]));
			else if (loaded.ncat <= MODEL_FEATURE)
				PROBLEM("it has %d categorical features, not make and model first", loaded.ncat);
			else if (nb < 1 || nb > MAX_BOOSTERS)
				PROBLEM("it has %d boosters", nb);
			for (int k = 0; k < nb && problem == NULL; k++)
			{
				bytea	   *b = bnull[k] ? NULL : DatumGetByteaPP(bytes[k]);
				bst_ulong	nfeat = 0;

				if (b == NULL)
				{
					PROBLEM("its booster %d is NULL", k + 1);
					break;
				}
				if (XGBoosterCreate(NULL, 0, &loaded.boosters[k]) != 0)
				{
					PROBLEM("%s", xgb_error());
					break;
				}
				loaded.nboosters = k + 1;
				if (XGBoosterLoadModelFromBuffer(loaded.boosters[k], VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)) != 0 ||
					XGBoosterSetParam(loaded.boosters[k], "nthread", "1") != 0 ||
					XGBoosterGetNumFeature(loaded.boosters[k], &nfeat) != 0)
					PROBLEM("booster %d: %s", k + 1, xgb_error());
				else if ((int) nfeat != loaded.ncat + loaded.nnum)
					PROBLEM("its booster %d reads %d features, its table row names %d", k + 1, (int) nfeat,
									   loaded.ncat + loaded.nnum);
			}
			if (problem == NULL)
			{
				Datum	   *fe,
						   *va,
						   *me;
				bool	   *fn,
						   *vn,
						   *mn;
				int			nf,
							nv,
							nm;

				deconstruct_array(DatumGetArrayTypeP(d[3]), INT4OID, 4, true, TYPALIGN_INT, &fe, &fn, &nf);
				deconstruct_array(DatumGetArrayTypeP(d[4]), TEXTOID, -1, false, TYPALIGN_INT, &va, &vn, &nv);
				deconstruct_array(DatumGetArrayTypeP(d[5]), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &me, &mn, &nm);
				for (int i = 0; i < loaded.ncat; i++)
					loaded.dicts[i] = dict_create(loaded.cxt, i);
				for (int k = 0; k < nb; k++)
					loaded.model_mean[k] = MemoryContextAlloc(loaded.cxt, sizeof(double) * Max(nf, 1));
				if (nf != nv || nm != nb * nf)
					PROBLEM("its dictionary's arrays differ in length");
				for (int i = 0; i < nf && problem == NULL; i++)
				{
					int			f = fn[i] ? -1 : DatumGetInt32(fe[i]);

					if (f < 0 || f >= loaded.ncat || vn[i] || mn[i])
						PROBLEM("its dictionary has a bad entry at %d", i + 1);
					else
					{
						float		code = dict_code(loaded.dicts[f], va[i], false, true);

						for (int k = 0; k < nb && f == MODEL_FEATURE && !isnan(code); k++)
							loaded.model_mean[k][(int) code] = DatumGetFloat8(me[k * nf + i]);
					}
				}
			}
		}
	}
	SPI_finish();
	if (problem)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("price model %lld cannot be used: %s", (long long) model_id, problem),
				 errdetail("Fair values fall back to the comparables alone."),
				 errhint("Train a new version with SELECT otto.fair_value_train();")));
		loaded_reset(model_id);
		loaded.failed = true;
		return false;
	}
	return true;
#undef PROBLEM
}

/*
 * otto.price_model_score(model_id, cat, num, fold): the model's log price for
 * one car: by booster fold alone (an ad in the market: the one that never
 * saw its price), or the mean of all (fold NULL); NULL (a WARNING the first
 * time) when the version cannot be used.
 */
PG_FUNCTION_INFO_V1(otto_price_model_score);
Datum
otto_price_model_score(PG_FUNCTION_ARGS)
{
	int64		model_id;
	ArrayType  *cat,
			   *num;
	float		row[MAX_FEATURES],
				code;
	int			ncol,
				first,
				nboost;
	DMatrixHandle m = NULL;
	bst_ulong	len;
	const float *pred;
	double		result = 0;
	bool		ok;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	model_id = PG_GETARG_INT64(0);
	cat = PG_GETARG_ARRAYTYPE_P(1);
	num = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_NDIM(cat) > 1 || ARR_NDIM(num) > 1)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("features must be one-dimensional arrays")));
	if (table_cache_stale(&model_table))
	{
		loaded_reset(0);
		table_cache_loading(&model_table);
	}
	if (loaded.model_id != model_id && !model_load(model_id))
		PG_RETURN_NULL();
	if (loaded.failed)
		PG_RETURN_NULL();
	if (!PG_ARGISNULL(3) && (PG_GETARG_INT32(3) < 0 || PG_GETARG_INT32(3) >= loaded.nboosters))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("price model %lld has folds 0 to %d, not %d", (long long) model_id, loaded.nboosters - 1,
						PG_GETARG_INT32(3))));
	if (ArrayGetNItems(ARR_NDIM(cat), ARR_DIMS(cat)) != loaded.ncat ||
		ArrayGetNItems(ARR_NDIM(num), ARR_DIMS(num)) != loaded.nnum)
	{
		/* a version trained on other features (before an update, say) */
		ereport(WARNING,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("price model %lld was trained on %d categorical and %d numeric features, not on these",
						(long long) model_id, loaded.ncat, loaded.nnum),
				 errdetail("Fair values fall back to the comparables alone."),
				 errhint("Train a new version with SELECT otto.fair_value_train();")));
		PG_RETURN_NULL();
	}
	features_row(row, cat, num, loaded.dicts, loaded.ncat, loaded.nnum, false);

	/* each booster asked reads the row with the model's code as its own mean */
	ncol = loaded.ncat + loaded.nnum;
	first = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	nboost = PG_ARGISNULL(3) ? loaded.nboosters : 1;
	code = row[MODEL_FEATURE];
	ok = true;
	for (int k = first; k < first + nboost && ok; k++)
	{
		if (!isnan(code))
			row[MODEL_FEATURE] = (float) loaded.model_mean[k][(int) code];
		/* no ereport between creating the matrix and freeing it */
		ok = XGDMatrixCreateFromMat_omp(row, 1, ncol, NAN, &m, 1) == 0 &&
			XGBoosterPredict(loaded.boosters[k], m, 0, 0, 0, &len, &pred) == 0 && len == 1;
		if (ok)
			result += pred[0];
		if (m)
			XGDMatrixFree(m);
		m = NULL;
	}
	result /= nboost;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("price model %lld failed to score: %s", (long long) model_id, xgb_error())));
	PG_RETURN_FLOAT8(result);
}

/* ---------------------------------------------------------------------
 * The trainer worker
 * --------------------------------------------------------------------- */

/* Ads valued per transaction by otto.ad_values_refresh: about 2 s of work. */
#define VALUES_BATCH 1000

void
otto_price_trainer_main(Datum main_arg)
{
	MemoryContext loop_cxt;

	worker_start("otto trainer", NULL);
	(void) worker_sql_int64("SELECT otto.worker_started('trainer', 0)", 0, NULL, NULL, NULL);
	ereport(LOG, (errmsg("otto price-model trainer started"),
				  errdetail("naptime=%ds max_rows=%d threads=%d", trainer_interval_s, max_rows, train_threads)));
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "otto trainer loop", ALLOCSET_DEFAULT_SIZES);
	while (!otto_got_sigterm)
	{
		char	   *error = NULL;

		CHECK_FOR_INTERRUPTS();
		(void) worker_reload_config();
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);

		/* a failed training (too few ads, say) is tried again next round */
		if (!worker_sql("SELECT otto.fair_value_train(false)", 0, NULL, NULL, NULL,
						WORKER_SQL_CATCH_ERRORS | WORKER_SQL_CATCH_LOCK_TIMEOUT, NULL, NULL, &error) && error)
			ereport(LOG, (errmsg("otto trainer: training failed: %s", error)));

		/*
		 * Then every live ad's value at its price by the newest version
		 * (otto.ad_value, what good_deals ranks), a batch per transaction,
		 * until none is due.
		 */
		for (;;)
		{
			int64		valued = 0;

			CHECK_FOR_INTERRUPTS();
			if (otto_got_sigterm)
				break;
			error = NULL;
			if (!worker_sql("SELECT otto.ad_values_refresh(" CppAsString2(VALUES_BATCH) ")", 0, NULL, NULL, NULL,
							WORKER_SQL_CATCH_ERRORS | WORKER_SQL_CATCH_LOCK_TIMEOUT, worker_int64_row, &valued, &error))
			{
				if (error)
					ereport(LOG, (errmsg("otto trainer: valuing the ads failed: %s", error)));
				break;
			}
			if (valued < VALUES_BATCH)
				break;
			MemoryContextReset(loop_cxt);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 trainer_interval_s * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
