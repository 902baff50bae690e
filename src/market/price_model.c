/*
 * price_model.c: the learned half of fair value.
 *
 * Gradient-boosted trees on log asking price, through XGBoost's C API
 * (Debian's libxgboost): otto.price_model_fit trains one on the live ads
 * (otto.price_model_rows: the features of otto.price_features, categorical
 * ones as codes of a dictionary built here), and otto.price_model_score
 * scores one car with a version kept in otto.price_model.  What the SQL side
 * does with both (calibration, the combination with the comparables) is in
 * price_model.sql.  The trainer worker is a thin loop around
 * otto.fair_value_train().
 *
 * Memory: training holds rows x features floats (otto.price_model_max_rows
 * caps the rows) plus XGBoost's own copy in its histogram layout; a backend
 * that scores keeps the boosters of one version (the last it used) outside
 * palloc, about three times their stored size, freed when another version
 * replaces them or otto.price_model changes.  XGBoost allocates with new/malloc,
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
#define MAX_ROUNDS		3000
#define EVAL_EVERY		25
#define PATIENCE_STEPS	15.0		/* eta x rounds without a better held-out error: 300 rounds at 0.05 */
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

void
PriceModelGucInit(void)
{
	DefineCustomBoolVariable("otto.price_trainer",
							 "Whether the launcher runs the worker that retrains the price model when the market has moved.",
							 "Off: call otto.fair_value_train() yourself.",
							 &otto_price_trainer_enabled, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.price_trainer_naptime",
							"How often the price-model trainer looks whether the market has moved enough to retrain.",
							NULL, &trainer_interval_s, 300, 1, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.price_model_max_rows",
							"Most live ads one training of the price model reads (a sample of them when there are more).",
							"Memory of a training is about 100 bytes per row.",
							&max_rows, 200000, 100, 10000000, PGC_SUSET, 0, NULL, NULL, NULL);
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

/*
 * One car's features: codes of cat[] then values of num[]; with model_mean
 * (scoring), the model's code is its mean.
 */
static void
features_row(float *row, ArrayType *cat, ArrayType *num, HTAB **dicts, int ncat, int nnum, bool add,
			 const double *model_mean)
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
	if (model_mean && !isnan(row[MODEL_FEATURE]))
		row[MODEL_FEATURE] = (float) model_mean[(int) row[MODEL_FEATURE]];
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
 * A small market (under ENSEMBLE_BELOW rows) gets an ensemble: boosters of
 * different depth and sampling, averaged (on the 2019 scrape the average beat
 * the best of them by 2%), each early-stopped on the held-out tenth and then
 * trained again on every row.  A large one gets one shallower booster with a
 * larger step: there the ensemble gained little, and its training time and
 * size (what each backend loads) grow with rows times boosters.
 */
typedef struct TreeConfig
{
	int			depth;
	const char *subsample;
	const char *colsample;
	int			min_child_weight;
	int			lambda;
	double		eta;
} TreeConfig;

static const TreeConfig small_market[] = {
	{6, "0.8", "0.8", 1, 1, 0.05},
	{8, "0.7", "0.6", 3, 1, 0.05},
	{10, "0.6", "0.5", 5, 5, 0.05},
};
static const TreeConfig large_market[] = {
	{6, "0.8", "0.8", 5, 1, 0.1},
};
#define ENSEMBLE_BELOW 50000
#define MAX_ENSEMBLE ((int) lengthof(small_market))

/* XGBoost's handles of one training: freed on success and by the reset callback on error. */
/* XGBoost's handles of one training: freed on success and by the reset callback on error. */
typedef struct FitHandles
{
	DMatrixHandle train;
	DMatrixHandle holdout;		/* the early-stopping rows */
	DMatrixHandle calib;		/* the calibration rows */
	DMatrixHandle calib_few;	/* the same, as few features as a question gives */
	DMatrixHandle all;
	BoosterHandle booster;		/* being trained */
	BoosterHandle done[MAX_ENSEMBLE];
	MemoryContextCallback cb;
} FitHandles;

static void
fit_handles_free(void *arg)
{
	FitHandles *h = arg;

	if (h->train)
		XGDMatrixFree(h->train);
	if (h->holdout)
		XGDMatrixFree(h->holdout);
	if (h->calib)
		XGDMatrixFree(h->calib);
	if (h->calib_few)
		XGDMatrixFree(h->calib_few);
	if (h->all)
		XGDMatrixFree(h->all);
	if (h->booster)
		XGBoosterFree(h->booster);
	for (int k = 0; k < MAX_ENSEMBLE; k++)
		if (h->done[k])
			XGBoosterFree(h->done[k]);
	memset(h, 0, offsetof(FitHandles, cb));
}
/* A growing float matrix of rows with ncol columns, and one label per row. */
typedef struct Matrix
{
	float	   *x;
	float	   *y;
	int64	   *ad;
	int			n;
	int			cap;
} Matrix;

static float *
matrix_add(Matrix *m, int ncol, int64 ad, float y)
{
	if (m->n == m->cap)
	{
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->x = m->x ? repalloc_huge(m->x, sizeof(float) * m->cap * ncol) : palloc_extended(sizeof(float) * m->cap * ncol, MCXT_ALLOC_HUGE);
		m->y = m->y ? repalloc_huge(m->y, sizeof(float) * m->cap) : palloc(sizeof(float) * m->cap);
		m->ad = m->ad ? repalloc_huge(m->ad, sizeof(int64) * m->cap) : palloc(sizeof(int64) * m->cap);
	}
	m->ad[m->n] = ad;
	m->y[m->n] = y;
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
 * The models' mean log prices from the training rows (part 0): each
 * model's, smoothed toward its make's, itself smoothed toward the market's.
 * Stores per model code the mean, its sum and count (for leave-one-out).
 */
typedef struct ModelMeans
{
	int			nmodels;
	double	   *mean;
	double	   *sum;
	double	   *n;
	double	   *prior;			/* its make's mean */
} ModelMeans;

static ModelMeans *
model_means(const Matrix *m, int ncol, int nmakes, int nmodels)
{
	ModelMeans *mm = palloc0(sizeof(ModelMeans));
	double	   *make_sum = palloc0(sizeof(double) * Max(nmakes, 1));
	double	   *make_n = palloc0(sizeof(double) * Max(nmakes, 1));
	int		   *make_of = palloc(sizeof(int) * Max(nmodels, 1));
	double		all = 0;

	mm->nmodels = nmodels;
	mm->mean = palloc(sizeof(double) * Max(nmodels, 1));
	mm->sum = palloc0(sizeof(double) * Max(nmodels, 1));
	mm->n = palloc0(sizeof(double) * Max(nmodels, 1));
	mm->prior = palloc(sizeof(double) * Max(nmodels, 1));
	for (int j = 0; j < nmodels; j++)
		make_of[j] = -1;
	for (int i = 0; i < m->n; i++)
	{
		const float *row = m->x + (size_t) ncol * i;

		all += m->y[i];
		if (!isnan(row[0]))
		{
			make_sum[(int) row[0]] += m->y[i];
			make_n[(int) row[0]]++;
		}
		if (!isnan(row[MODEL_FEATURE]))
		{
			mm->sum[(int) row[MODEL_FEATURE]] += m->y[i];
			mm->n[(int) row[MODEL_FEATURE]]++;
			if (!isnan(row[0]))
				make_of[(int) row[MODEL_FEATURE]] = (int) row[0];
		}
	}
	all /= Max(m->n, 1);
	for (int j = 0; j < nmodels; j++)
	{
		int			k = make_of[j];

		mm->prior[j] = k < 0 ? all : (make_sum[k] + MEAN_PRIOR * all) / (make_n[k] + MEAN_PRIOR);
		mm->mean[j] = (mm->sum[j] + MEAN_PRIOR * mm->prior[j]) / (mm->n[j] + MEAN_PRIOR);
	}
	return mm;
}

/* The model codes of m's rows into their means (a training row's own price left out). */
static void
encode_models(Matrix *m, int ncol, const ModelMeans *mm, bool leave_one_out)
{
	for (int i = 0; i < m->n; i++)
	{
		float	   *v = m->x + (size_t) ncol * i + MODEL_FEATURE;
		int			j;

		if (isnan(*v))
			continue;
		j = (int) *v;
		if (leave_one_out && mm->n[j] > 0)
			*v = (float) ((mm->sum[j] - m->y[i] + MEAN_PRIOR * mm->prior[j]) / (mm->n[j] - 1 + MEAN_PRIOR));
		else
			*v = (float) mm->mean[j];
	}
}

/*
 * Train one booster of the ensemble on dtrain into h->done[k]: fixed_rounds
 * rounds, or (0) until the median absolute error on the nho held-out rows
 * (h->holdout, labels hy) has not fallen for PATIENCE_STEPS / eta rounds, cut back to
 * its best.  Returns the rounds kept.
 */
static int
train_booster(FitHandles *h, int k, DMatrixHandle dtrain, const TreeConfig *c, int seed, double base_score,
			  int fixed_rounds, int nho, const float *hy, float *scratch)
{
	int			rounds = 0,
				best_rounds = 0;
	float		best_err = INFINITY;
	bst_ulong	len;
	const float *pred;

	XGB_CHECK(XGBoosterCreate(&dtrain, 1, &h->booster));
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

	while (rounds < (fixed_rounds > 0 ? fixed_rounds : MAX_ROUNDS))
	{
		CHECK_FOR_INTERRUPTS();
		XGB_CHECK(XGBoosterUpdateOneIter(h->booster, rounds, dtrain));
		rounds++;
		if (fixed_rounds == 0 && rounds % EVAL_EVERY == 0)
		{
			float		err;

			XGB_CHECK(XGBoosterPredict(h->booster, h->holdout, 0, 0, 0, &len, &pred));
			err = median_abs_error(pred, hy, nho, scratch);
			if (err < best_err)
			{
				best_err = err;
				best_rounds = rounds;
			}
			else if (rounds - best_rounds >= PATIENCE_STEPS / c->eta)
				break;
		}
	}
	if (fixed_rounds > 0 || best_rounds == 0)
		best_rounds = rounds;
	XGB_CHECK(XGBoosterSlice(h->booster, 0, best_rounds, 1, &h->done[k]));
	XGBoosterFree(h->booster);
	h->booster = NULL;
	return best_rounds;
}

/*
 * otto.price_model_fit(max_rows, seed): train on otto.price_model_rows' part
 * 0, early-stopped on part 1; returns part 2's ads with their predictions,
 * from all their features and as a question gives them (the SQL side
 * calibrates on both).
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
				caller = CurrentMemoryContext;
	FitHandles *h;
	HTAB	   *dicts[MAX_FEATURES];
	Matrix		tr = {0},
				ho = {0},
				cal = {0},
				cal_few = {0};
	int			ncat = -1,
				nnum = -1,
				ncol = 0;
	Portal		portal;
	pg_prng_state prng;
	double		sum_y = 0;
	TimestampTz started = GetCurrentTimestamp();
	int			rounds[MAX_ENSEMBLE];
	Datum		models[MAX_ENSEMBLE],
				rounds_d[MAX_ENSEMBLE];
	const TreeConfig *ensemble;
	int			nboost;
	bool		small;
	ModelMeans *means;
	Datum	   *cat_mean;
	float	   *scratch = NULL;
	double	   *pred_sum = NULL;
	double	   *pred_few_sum = NULL;
	int			train_ads;		/* part 0, before the questions added */
	bst_ulong	len;
	const char *buf;
	const float *pred;
	Datum		values[12];
	bool		nulls[12] = {0};
	struct rusage ru;
	Datum	   *cat_feature,
			   *cat_value,
			   *ad_ids,
			   *preds,
			   *preds_few;
	int			ncodes = 0;

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
	pg_prng_seed(&prng, (uint64) seed);

	/* the rows, a batch at a time, into a float matrix per part */
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT ad_id, ln_price, part, cat, num FROM otto.price_model_rows($1, $2)",
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
			bool		isnull[5];
			Datum		d[5];
			int			part;
			float	   *row;
			MemoryContext old;

			for (int c = 0; c < 5; c++)
				d[c] = SPI_getbinval(tup, td, c + 1, &isnull[c]);
			if (isnull[0] || isnull[1] || isnull[3] || isnull[4])
				continue;
			if (ncat < 0)
			{
				ncat = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d[3])), ARR_DIMS(DatumGetArrayTypeP(d[3])));
				nnum = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(d[4])), ARR_DIMS(DatumGetArrayTypeP(d[4])));
				ncol = ncat + nnum;
				if (ncat < CORE_FEATURES || nnum < CORE_FEATURES || ncol > MAX_FEATURES)
					elog(ERROR, "otto.price_model_rows must give at most %d features, at least %d of each kind (make, model, fuel; year, mileage, power first)",
						 MAX_FEATURES, CORE_FEATURES);
				for (int i = 0; i < ncat; i++)
					dicts[i] = dict_create(fit_cxt, i);
			}
			part = isnull[2] ? 0 : DatumGetInt32(d[2]);
			old = MemoryContextSwitchTo(fit_cxt);
			row = matrix_add(part == 1 ? &ho : part == 2 ? &cal : &tr, ncol, DatumGetInt64(d[0]), (float) DatumGetFloat8(d[1]));
			MemoryContextSwitchTo(row_cxt);
			features_row(row, DatumGetArrayTypeP(d[3]), DatumGetArrayTypeP(d[4]), dicts, ncat, nnum, true, NULL);
			MemoryContextSwitchTo(fit_cxt);
			MemoryContextReset(row_cxt);

			/*
			 * Some training rows without their model (and fewer without
			 * their make), so that the trees learn what a model or make they
			 * have not seen is worth: its make's level, or the market's.
			 */
			if (part == 0)
			{
				double		u = pg_prng_double(&prng);

				if (u < 0.01)
					row[0] = row[1] = NAN;
				else if (u < 0.04)
					row[1] = NAN;
				sum_y += DatumGetFloat8(d[1]);
			}
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextSwitchTo(fit_cxt);

	if (tr.n < 50)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too few priced live ads to train a price model: %d", tr.n),
				 errhint("The model needs at least 50; fair values use the comparables alone until then.")));
	means = model_means(&tr, ncol, hash_get_num_entries(dicts[0]), hash_get_num_entries(dicts[MODEL_FEATURE]));
	encode_models(&tr, ncol, means, true);
	encode_models(&ho, ncol, means, false);
	encode_models(&cal, ncol, means, false);
	train_ads = tr.n;
	for (int i = 0; i < train_ads; i++)
	{
		if (pg_prng_double(&prng) < FEW_SHARE)
		{
			float	   *row = matrix_add(&tr, ncol, tr.ad[i], tr.y[i]);

			memcpy(row, tr.x + (size_t) ncol * i, sizeof(float) * ncol);
			few_features(row, ncat, nnum, &prng);
		}
	}
	for (int i = 0; i < cal.n; i++)
	{
		float	   *row = matrix_add(&cal_few, ncol, cal.ad[i], cal.y[i]);

		memcpy(row, cal.x + (size_t) ncol * i, sizeof(float) * ncol);
		few_features(row, ncat, nnum, &prng);
	}

	XGB_CHECK(XGDMatrixCreateFromMat_omp(tr.x, tr.n, ncol, NAN, &h->train, train_threads));
	XGB_CHECK(XGDMatrixSetFloatInfo(h->train, "label", tr.y, tr.n));
	set_feature_types(h->train, ncat, nnum);
	if (ho.n > 0)
	{
		XGB_CHECK(XGDMatrixCreateFromMat_omp(ho.x, ho.n, ncol, NAN, &h->holdout, train_threads));
		set_feature_types(h->holdout, ncat, nnum);
		scratch = palloc(sizeof(float) * ho.n);
	}
	if (cal.n > 0)
	{
		XGB_CHECK(XGDMatrixCreateFromMat_omp(cal.x, cal.n, ncol, NAN, &h->calib, train_threads));
		set_feature_types(h->calib, ncat, nnum);
		XGB_CHECK(XGDMatrixCreateFromMat_omp(cal_few.x, cal_few.n, ncol, NAN, &h->calib_few, train_threads));
		set_feature_types(h->calib_few, ncat, nnum);
		pred_sum = palloc0(sizeof(double) * cal.n);
		pred_few_sum = palloc0(sizeof(double) * cal.n);
	}

	/*
	 * Each booster early-stopped on its rows (part 1); the calibration rows
	 * (part 2), kept out of both, get the ensemble's predictions, so that
	 * the choice of rounds does not flatter their residuals.
	 */
	small = tr.n + ho.n + cal.n < ENSEMBLE_BELOW;
	nboost = small ? lengthof(small_market) : lengthof(large_market);
	ensemble = small ? small_market : large_market;
	for (int k = 0; k < nboost; k++)
	{
		rounds[k] = train_booster(h, k, h->train, &ensemble[k], seed + k, sum_y / tr.n, ho.n > 0 ? 0 : 600,
								  ho.n, ho.y, scratch);
		if (cal.n > 0)
		{
			XGB_CHECK(XGBoosterPredict(h->done[k], h->calib, 0, 0, 0, &len, &pred));
			for (int i = 0; i < cal.n; i++)
				pred_sum[i] += pred[i];
			XGB_CHECK(XGBoosterPredict(h->done[k], h->calib_few, 0, 0, 0, &len, &pred));
			for (int i = 0; i < cal.n; i++)
				pred_few_sum[i] += pred[i];
		}
	}

	/* a small market: train again on every row, rounds in proportion to the rows */
	if (small && ho.n + cal.n > 0)
	{
		int			n = tr.n + ho.n + cal.n;
		float	   *x = palloc(sizeof(float) * n * ncol);
		float	   *y = palloc(sizeof(float) * n);

		memcpy(x, tr.x, sizeof(float) * tr.n * ncol);
		memcpy(x + (size_t) tr.n * ncol, ho.x, sizeof(float) * ho.n * ncol);
		memcpy(x + (size_t) (tr.n + ho.n) * ncol, cal.x, sizeof(float) * cal.n * ncol);
		memcpy(y, tr.y, sizeof(float) * tr.n);
		memcpy(y + tr.n, ho.y, sizeof(float) * ho.n);
		memcpy(y + tr.n + ho.n, cal.y, sizeof(float) * cal.n);
		XGB_CHECK(XGDMatrixCreateFromMat_omp(x, n, ncol, NAN, &h->all, train_threads));
		XGB_CHECK(XGDMatrixSetFloatInfo(h->all, "label", y, n));
		set_feature_types(h->all, ncat, nnum);
		for (int k = 0; k < nboost; k++)
		{
			XGBoosterFree(h->done[k]);
			h->done[k] = NULL;
			rounds[k] = train_booster(h, k, h->all, &ensemble[k], seed + k, sum_y / tr.n, (int) (rounds[k] * (double) n / tr.n),
									  0, NULL, NULL);
		}
	}

	for (int k = 0; k < nboost; k++)
	{
		bytea	   *b;

		XGB_CHECK(XGBoosterSaveModelToBuffer(h->done[k], "{\"format\": \"ubj\"}", &len, &buf));
		b = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), buf, len);
		models[k] = PointerGetDatum(b);
		rounds_d[k] = Int32GetDatum(rounds[k]);
	}

	ad_ids = palloc(sizeof(Datum) * Max(cal.n, 1));
	preds = palloc(sizeof(Datum) * Max(cal.n, 1));
	preds_few = palloc(sizeof(Datum) * Max(cal.n, 1));
	for (int i = 0; i < cal.n; i++)
	{
		ad_ids[i] = Int64GetDatum(cal.ad[i]);
		preds[i] = Float8GetDatum(pred_sum[i] / nboost);
		preds_few[i] = Float8GetDatum(pred_few_sum[i] / nboost);
	}

	/* the dictionaries as two parallel arrays: feature (0-based) and value, code = order within its feature */
	for (int i = 0; i < ncat; i++)
		ncodes += hash_get_num_entries(dicts[i]);
	cat_feature = palloc(sizeof(Datum) * Max(ncodes, 1));
	cat_value = palloc(sizeof(Datum) * Max(ncodes, 1));
	cat_mean = palloc(sizeof(Datum) * Max(ncodes, 1));
	{
		int			base = 0;

		for (int i = 0; i < ncat; i++)
		{
			HASH_SEQ_STATUS seq;
			CatEntry   *e;
			long		n = hash_get_num_entries(dicts[i]);

			hash_seq_init(&seq, dicts[i]);
			while ((e = hash_seq_search(&seq)) != NULL)
			{
				cat_feature[base + e->code] = Int32GetDatum(i);
				cat_value[base + e->code] = CStringGetTextDatum(e->key);
				cat_mean[base + e->code] = Float8GetDatum(i == MODEL_FEATURE ? means->mean[e->code] : 0);
			}
			base += n;
		}
	}
	getrusage(RUSAGE_SELF, &ru);

	MemoryContextSwitchTo(caller);
	values[0] = PointerGetDatum(construct_array(models, nboost, BYTEAOID, -1, false, TYPALIGN_INT));
	values[1] = Int32GetDatum(ncat);
	values[2] = PointerGetDatum(construct_array(cat_feature, ncodes, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(cat_value, ncodes, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = Int32GetDatum(small ? train_ads + ho.n + cal.n : train_ads);
	values[5] = PointerGetDatum(construct_array(rounds_d, nboost, INT4OID, 4, true, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(ad_ids, cal.n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[7] = PointerGetDatum(construct_array(preds, cal.n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[8] = Float8GetDatum((GetCurrentTimestamp() - started) / 1e6);
	values[9] = Int64GetDatum((int64) ru.ru_maxrss);
	values[10] = PointerGetDatum(construct_array(cat_mean, ncodes, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[11] = PointerGetDatum(construct_array(preds_few, cal.n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	{
		HeapTuple	result = heap_form_tuple(tupdesc, values, nulls);

		MemoryContextDelete(fit_cxt);	/* frees XGBoost's handles too */
		PG_RETURN_DATUM(HeapTupleGetDatum(result));
	}
}

/* ---------------------------------------------------------------------
 * Scoring: one booster per backend, the version last asked for
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
	double	   *model_mean;		/* by the model feature's code */
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
				loaded.model_mean = MemoryContextAlloc(loaded.cxt, sizeof(double) * Max(nf, 1));
				if (nf != nv || nf != nm)
					PROBLEM("its dictionary's arrays differ in length");
				for (int i = 0; i < nf && problem == NULL; i++)
				{
					int			f = fn[i] ? -1 : DatumGetInt32(fe[i]);

					if (f < 0 || f >= loaded.ncat || vn[i] || mn[i])
						PROBLEM("its dictionary has a bad entry at %d", i + 1);
					else
					{
						float		code = dict_code(loaded.dicts[f], va[i], false, true);

						if (f == MODEL_FEATURE && !isnan(code))
							loaded.model_mean[(int) code] = DatumGetFloat8(me[i]);
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
 * otto.price_model_score(model_id, cat, num): the model's log price for one
 * car, or NULL (a WARNING the first time) when the version cannot be used.
 */
PG_FUNCTION_INFO_V1(otto_price_model_score);
Datum
otto_price_model_score(PG_FUNCTION_ARGS)
{
	int64		model_id = PG_GETARG_INT64(0);
	ArrayType  *cat = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *num = PG_GETARG_ARRAYTYPE_P(2);
	float		row[MAX_FEATURES];
	DMatrixHandle m = NULL;
	bst_ulong	len;
	const float *pred;
	double		result = 0;
	bool		ok;

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
	features_row(row, cat, num, loaded.dicts, loaded.ncat, loaded.nnum, false, loaded.model_mean);

	/* no ereport between creating the matrix and freeing it */
	ok = XGDMatrixCreateFromMat_omp(row, 1, loaded.ncat + loaded.nnum, NAN, &m, 1) == 0;
	for (int k = 0; k < loaded.nboosters && ok; k++)
	{
		ok = XGBoosterPredict(loaded.boosters[k], m, 0, 0, 0, &len, &pred) == 0 && len == 1;
		if (ok)
			result += pred[0];
	}
	result /= loaded.nboosters;
	if (m)
		XGDMatrixFree(m);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("price model %lld failed to score: %s", (long long) model_id, xgb_error())));
	PG_RETURN_FLOAT8(result);
}

/* ---------------------------------------------------------------------
 * The trainer worker
 * --------------------------------------------------------------------- */

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

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 trainer_interval_s * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
