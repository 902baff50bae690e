-- src/market/price_model.sql: the learned half of fair value (its C is price_model.c).
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-------------------------------------------------------------------------------
-- Gradient-boosted trees (XGBoost) on the log asking prices of the live ads,
-- every feature an ad states, cross-fitted: the ads fall into folds
-- (otto.price_model_fold), and each fold has a booster trained on the other
-- folds, which prices the fold's ads in the market as if they were new.  Each
-- training is a version in otto.price_model with what it was calibrated on:
-- ads priced out of fold by the model and by the comparables (without the ad
-- itself) give the weight of each in the combined estimate (per confidence
-- of the comparables) and the quantiles of the combined estimate's residuals
-- (per confidence and price band): its bias correction and its 80% range
-- (split conformal).
-- otto.fair_value_estimate (analytics.sql) combines the newest active
-- version with the comparables.
-------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS otto.price_model (   -- new in 1.2: updates create it from here
    model_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trained_at      timestamptz NOT NULL DEFAULT now(),
    active          boolean NOT NULL DEFAULT true,
    model           bytea[] NOT NULL,
    model_sha256    bytea[] NOT NULL,
    features        text[] NOT NULL,
    n_categorical   int NOT NULL,
    category_feature int[] NOT NULL,
    category_value  text[] NOT NULL,
    category_mean   float8[] NOT NULL,
    n_train         int NOT NULL,
    n_holdout       int NOT NULL,
    rounds          int[] NOT NULL,
    last_event_id   bigint NOT NULL,
    train_seconds   float8 NOT NULL,
    peak_memory_kb  bigint,
    calibration     jsonb NOT NULL,
    metrics         jsonb NOT NULL,
    folds           int NOT NULL,       -- new in 1.3, with the constraints (1.2--1.3.sql)
    fold_seed       int NOT NULL,
    CONSTRAINT price_model_folds CHECK (folds BETWEEN 2 AND 16),
    CONSTRAINT price_model_booster_per_fold CHECK (cardinality(model) = folds),
    CONSTRAINT price_model_sha256_per_booster CHECK (cardinality(model_sha256) = cardinality(model)),
    CONSTRAINT price_model_n_categorical CHECK (n_categorical BETWEEN 0 AND cardinality(features)),
    CONSTRAINT price_model_dictionary CHECK (cardinality(category_value) = cardinality(category_feature)),
    CONSTRAINT price_model_means_per_fold CHECK (cardinality(category_mean) = folds * cardinality(category_feature))
);
COMMENT ON TABLE otto.price_model IS 'Versions of the learned price model (XGBoost gradient-boosted trees on log asking price); fair values use the newest active one';
COMMENT ON COLUMN otto.price_model.model IS 'A booster per fold, each in XGBoost''s UBJSON format (xgboost.Booster(model_file=bytearray(...)) loads one): booster k (1-based) was trained without fold k-1 and prices its ads in the market; a car not in the market gets their mean';
COMMENT ON COLUMN otto.price_model.folds IS 'How many folds the ads fell into (otto.price_model_fold(ad_id, fold_seed, folds)), one booster each';
COMMENT ON COLUMN otto.price_model.fold_seed IS 'The seed of otto.price_model_fold for this version';
COMMENT ON COLUMN otto.price_model.model_sha256 IS 'SHA-256 of each booster as trained: a backend loads only boosters that match (XGBoost''s parser is not written for damaged input)';
COMMENT ON COLUMN otto.price_model.rounds IS 'Boosting rounds of each booster (early-stopped on its fold)';
COMMENT ON COLUMN otto.price_model.features IS 'Feature names in the model''s column order: the n_categorical categorical ones first (see otto.price_features)';
COMMENT ON COLUMN otto.price_model.category_feature IS 'The categories'' dictionary with category_value: for each entry its feature (0-based); its code is its position among its feature''s entries';
COMMENT ON COLUMN otto.price_model.active IS 'Whether fair values may use it (the newest active version is used; set false to step back to an older one)';
COMMENT ON COLUMN otto.price_model.n_categorical IS 'How many of the features are categorical (the first ones)';
COMMENT ON COLUMN otto.price_model.category_value IS 'The categories'' values, in the order of category_feature';
COMMENT ON COLUMN otto.price_model.category_mean IS 'For the model feature, what the trees read instead of its code: the model''s mean log price in training, smoothed toward its make''s by 5 ads (0 for the other features); one such array per booster, one after the other (booster k''s without fold k''s prices)';
COMMENT ON COLUMN otto.price_model.n_train IS 'Live ads its boosters were trained on, each by all but one (a sample of otto.price_model_max_rows when there were more)';
COMMENT ON COLUMN otto.price_model.n_holdout IS 'Ads it was calibrated on, each priced by the booster that had not seen it (a sample of at most 10,000 of the training ads)';
COMMENT ON COLUMN otto.price_model.train_seconds IS 'Wall time of the training (otto.price_model_fit)';
COMMENT ON COLUMN otto.price_model.last_event_id IS 'The ad log''s last event when it was trained: the trainer retrains once the log has moved on by a tenth of n_train';
COMMENT ON COLUMN otto.price_model.peak_memory_kb IS 'Peak resident memory of the process that trained it';
COMMENT ON COLUMN otto.price_model.calibration IS 'From its ads priced out of fold: weights (the model''s share per confidence of the comparables, with _few: for a car given by make, model, year, mileage, fuel and power alone), bands (euro edges), year_cuts (the model years that split its ads in thirds) and cells (per the same, per band, per third of the model years and any year: residual quantiles 10, 50, 90, count, and quantiles 2.5 and 97.5)';
COMMENT ON COLUMN otto.price_model.metrics IS 'Its ads priced out of fold: median absolute percentage error of the model, the comparables and the combination, and how often the 80% range held the price';
CREATE OR REPLACE TRIGGER price_model_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON otto.price_model
    FOR EACH STATEMENT EXECUTE FUNCTION otto.cache_invalidate();
SELECT pg_catalog.pg_extension_config_dump('otto.price_model', '');
SELECT pg_catalog.pg_extension_config_dump('otto.price_model_model_id_seq', '');

-- What the model reads of a car (keys as otto.ad's columns): categorical
-- features, then numeric ones.  The order matters to price_model.c: make and
-- model first (the trainer leaves some of them out, so that an unseen model
-- falls back to its make and an unseen make to the market), and the first
-- three of each (make, model, fuel; year, mileage, power) are what a question
-- gives, the rest optional.  Mileage outside 1-1,000,000 km is a typo.
CREATE OR REPLACE FUNCTION otto.price_features(car jsonb, OUT cat text[], OUT num float4[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT ARRAY[car->>'make', jsonb_build_array(car->'make', car->'model')::text, car->>'fuel', car->>'body',
                 car->>'gearbox', car->>'drive', car->>'seller_type', car->>'region', car->>'damage',
                 car->>'emission_class', car->>'color', car->>'doors', car->>'air_conditioning', car->>'origin'],
           ARRAY[(car->>'year')::float4,
                 CASE WHEN (car->>'mileage_km')::float4 BETWEEN 1 AND 1000000 THEN (car->>'mileage_km')::float4 END,
                 (car->>'power_kw')::float4, (car->>'engine_cc')::float4, (car->>'seats')::float4,
                 CASE WHEN jsonb_typeof(car->'features') = 'array' AND car->'features' <> '[]' THEN jsonb_array_length(car->'features') END]
$fn$;
COMMENT ON FUNCTION otto.price_features(jsonb) IS 'The price model''s features of a car given as otto.ad''s columns in JSON: categorical (names in otto.price_feature_names) and numeric';

CREATE OR REPLACE FUNCTION otto.price_feature_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT ARRAY['make', 'model', 'fuel', 'body', 'gearbox', 'drive', 'seller_type', 'region', 'damage',
                 'emission_class', 'color', 'doors', 'air_conditioning', 'origin',
                 'year', 'mileage_km', 'power_kw', 'engine_cc', 'seats', 'equipment_count']
$fn$;

-- The fold of an ad in a version (seed and folds: its fold_seed and folds).
CREATE OR REPLACE FUNCTION otto.price_model_fold(ad_id bigint, seed int, folds int) RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT (abs(hashint8extended($1, $2 + 1)) % $3)::int
$fn$;

-- The ads a training reads: live ads with a price (100 EUR and up: lower ones
-- are placeholders), at most max_rows of them drawn by a hash of ad_id, each
-- with its fold: five folds under 50,000 ads, else three (training time grows
-- with rows times folds).
CREATE OR REPLACE FUNCTION otto.price_model_rows(max_rows int, seed int DEFAULT 0)
RETURNS TABLE (ad_id bigint, ln_price float8, fold int, folds int, cat text[], num float4[])
LANGUAGE sql STABLE
AS $fn$
    SELECT a.ad_id, ln(a.price_eur), otto.price_model_fold(a.ad_id, $2, a.folds), a.folds, f.cat, f.num
      FROM (SELECT a.*, CASE WHEN count(*) OVER () < 50000 THEN 5 ELSE 3 END AS folds
              FROM (SELECT * FROM otto.ad a
                     WHERE a.state = 'live' AND a.price_eur >= 100 AND a.make IS NOT NULL AND a.model IS NOT NULL
                       AND a.year IS NOT NULL
                     ORDER BY hashint8extended(a.ad_id, $2) LIMIT $1) a) a,
           otto.price_features(to_jsonb(a) - 'folds') f
$fn$;

CREATE OR REPLACE FUNCTION otto.price_model_fit(max_rows int DEFAULT NULL, seed int DEFAULT 0,
    OUT model bytea[], OUT n_categorical int, OUT category_feature int[], OUT category_value text[], OUT n_train int,
    OUT rounds int[], OUT holdout_ad bigint[], OUT holdout_pred float8[], OUT seconds float8, OUT peak_memory_kb bigint,
    OUT category_mean float8[], OUT holdout_pred_few float8[], OUT folds int)
AS 'MODULE_PATHNAME', 'otto_price_model_fit'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION otto.price_model_fit(int, int) IS 'Train a booster of gradient-boosted trees per fold of otto.price_model_rows (max_rows: otto.price_model_max_rows when NULL), each on the other folds and early-stopped on its own; returns the boosters, their dictionary and model means, and every ad (holdout_ad) with its out-of-fold predictions (log euros; _few: as a question gives the car). otto.fair_value_train calls it';

CREATE OR REPLACE FUNCTION otto.price_model_score(model_id bigint, cat text[], num float4[], fold int DEFAULT NULL) RETURNS float8
AS 'MODULE_PATHNAME', 'otto_price_model_score'
LANGUAGE C STABLE;
COMMENT ON FUNCTION otto.price_model_score(bigint, text[], float4[], int) IS 'Log price of one car (the arrays of otto.price_features) by price model version model_id: by the booster of fold (0-based; for an ad in the market, as otto.price_model_fold gives it), or the mean of all (fold NULL); NULL when any other argument is, and with a WARNING when that version cannot be used';

-- The newest active version (NULL when there is none).
CREATE OR REPLACE FUNCTION otto.price_model_active(OUT model_id bigint, OUT trained_at timestamptz, OUT calibration jsonb,
    OUT folds int, OUT fold_seed int)
LANGUAGE sql STABLE
AS $fn$
    SELECT m.model_id, m.trained_at, m.calibration, m.folds, m.fold_seed
      FROM otto.price_model m WHERE m.active ORDER BY m.model_id DESC LIMIT 1
$fn$;

-- Which third of the calibration's model years a year falls in (0 the
-- oldest, 2 the newest; 3, any year, when it is unknown).
CREATE OR REPLACE FUNCTION otto.price_model_year_group(cal jsonb, year int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN $2 IS NULL OR NOT $1 ? 'year_cuts' THEN 3
                WHEN $2 < ($1->'year_cuts'->>0)::int THEN 0 WHEN $2 < ($1->'year_cuts'->>1)::int THEN 1 ELSE 2 END
$fn$;

-- The quantiles of the residuals (log) in a version's calibration cell for
-- an estimate: its price band, the confidence of its comparables ('none'
-- when there are none; with '_few' for a car given by make, model, year,
-- mileage, fuel and power alone) and its model year's third of the market
-- (older cars are harder to value: their cells are wider).  The model's
-- weight for the same confidence is calibration->'weights'.  q025 and q975
-- (the 95% range, whose width against the 80% range's tells how heavy the
-- errors' tails are) are NULL in versions trained before 1.4.
CREATE OR REPLACE FUNCTION otto.price_model_cell(cal jsonb, confidence text, estimate float8, year int,
    OUT q10 float8, OUT q50 float8, OUT q90 float8, OUT q025 float8, OUT q975 float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT (c->>0)::float8, (c->>1)::float8, (c->>2)::float8, (c->>4)::float8, (c->>5)::float8
      FROM (SELECT cal->'cells'->$2->((SELECT count(*) FROM jsonb_array_elements_text(cal->'bands') b WHERE $3 >= b::float8)::int)
                      ->otto.price_model_year_group(cal, $4) AS c) x
$fn$;

-- Train a version now (force), or only when it is due: no version yet and
-- at least 200 priced live ads, or the ad log has moved on by a tenth of the
-- last version's training size.  Returns the new version's summary, or NULL.
CREATE OR REPLACE FUNCTION otto.fair_value_train(force boolean DEFAULT true) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    last     record;
    f        record;
    ev       bigint;
    cal      jsonb;
    metrics  jsonb;
    id       bigint;
    seed     int;
    t0       timestamptz := clock_timestamp();
BEGIN
    -- one training at a time; a second caller waits for nothing
    IF NOT pg_try_advisory_xact_lock(hashtext('otto.fair_value_train')) THEN
        RAISE NOTICE 'a price model is being trained already';
        RETURN NULL;
    END IF;
    SELECT m.model_id, m.last_event_id, m.n_train INTO last FROM otto.price_model m ORDER BY m.model_id DESC LIMIT 1;
    SELECT coalesce(max(e.event_id), 0) INTO ev FROM otto.ad_event e;
    IF NOT force AND (CASE WHEN last.model_id IS NULL
                           THEN (SELECT count(*) FROM (SELECT 1 FROM otto.ad a WHERE a.state = 'live' AND a.price_eur >= 100
                                                         LIMIT 200) x) < 200
                           ELSE ev - last.last_event_id < greatest(100, last.n_train / 10) END) THEN
        RETURN NULL;
    END IF;

    seed := coalesce(last.model_id, 0)::int;       -- a new draw of the folds each version
    SELECT * INTO f FROM otto.price_model_fit(current_setting('otto.price_model_max_rows')::int, seed);

    -- at most 10,000 of the ads, priced out of fold by the model (from all
    -- they state, and as a question gives them: bucket _few) and by the
    -- comparables without themselves
    CREATE TEMP TABLE price_model_cal ON COMMIT DROP AS
    SELECT h.ad_id, ln(a.price_eur) AS y, v.m, ln(c.estimate) AS c, a.year,
           coalesce(c.confidence, 'none') || CASE WHEN v.few THEN '_few' ELSE '' END AS bucket
      FROM (SELECT * FROM unnest(f.holdout_ad, f.holdout_pred, f.holdout_pred_few) h(ad_id, m, m_few)
             ORDER BY hashint8(h.ad_id) LIMIT 10000) h
      CROSS JOIN LATERAL (VALUES (h.m, false), (h.m_few, true)) v(m, few)
      JOIN otto.ad a ON a.ad_id = h.ad_id
      LEFT JOIN LATERAL otto.fair_value_comps(a.make, a.model, a.year, a.mileage_km, a.fuel, a.power_kw, a.ad_id) c
             ON c.estimate > 0;
    -- the model's weight per confidence (0, 0.05 .. 1; overall below 30 ads) by the median error
    WITH g AS (
        SELECT b.bucket, k / 20.0::float8 AS w,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(x.y - (k / 20.0 * x.m + (1 - k / 20.0) * x.c))) AS err
          FROM price_model_cal x, generate_series(0, 20) k,
               LATERAL (VALUES (x.bucket), ('all')) b(bucket)
         WHERE x.c IS NOT NULL GROUP BY 1, 2),
    -- the largest weight within 1% of the least error: a car not in the
    -- market gets the mean of every fold's booster, better than one of them
    best AS (SELECT g.bucket, max(g.w) AS w FROM g
              WHERE g.err <= 1.01 * (SELECT min(m.err) FROM g m WHERE m.bucket = g.bucket) GROUP BY g.bucket),
    n AS (SELECT x.bucket, count(*) AS n FROM price_model_cal x WHERE x.c IS NOT NULL GROUP BY 1)
    SELECT jsonb_object_agg(b.bucket, CASE WHEN n.n >= 30 THEN b.w ELSE coalesce(a.w, 1) END) || '{"none": 1, "none_few": 1}'
      INTO cal
      FROM (VALUES ('high'), ('medium'), ('low'), ('high_few'), ('medium_few'), ('low_few')) b0(bucket)
      LEFT JOIN best b ON b.bucket = b0.bucket LEFT JOIN n ON n.bucket = b0.bucket
      LEFT JOIN best a ON a.bucket = 'all'
     WHERE b.bucket IS NOT NULL;
    cal := jsonb_build_object('weights', coalesce(cal, '{"none": 1, "none_few": 1}'), 'bands', '[1500, 4000, 10000]'::jsonb,
                              'year_cuts', (SELECT to_jsonb(percentile_disc(ARRAY[1 / 3.0, 2 / 3.0]) WITHIN GROUP (ORDER BY x.year))
                                              FROM price_model_cal x));
    ALTER TABLE price_model_cal ADD e float8, ADD band int, ADD yg int;
    UPDATE price_model_cal x
       SET e = CASE WHEN x.c IS NULL THEN x.m ELSE w.w * x.m + (1 - w.w) * x.c END
      FROM (SELECT b.key AS bucket, b.value::float8 AS w FROM jsonb_each_text(cal->'weights') b) w
     WHERE w.bucket = x.bucket;
    UPDATE price_model_cal x SET band = CASE WHEN exp(e) < 1500 THEN 0 WHEN exp(e) < 4000 THEN 1 WHEN exp(e) < 10000 THEN 2 ELSE 3 END,
                                 yg = otto.price_model_year_group(cal, x.year);
    -- residual quantiles per confidence, band and third of the model years
    -- (a thin cell takes its confidence and band's, then its confidence's,
    -- then everyone's), at the split-conformal levels for n residuals: the
    -- floor((n+1) x 0.1)-th and ceil((n+1) x 0.9)-th of n; the same at
    -- 0.025 and 0.975 after the count: [q10, q50, q90, n, q025, q975]
    WITH g AS (                 -- the cells: (confidence, band, year), (confidence, band), confidence, everyone
        SELECT x.bucket, x.band, x.yg, x.y - x.e AS r FROM price_model_cal x WHERE x.yg < 3
        UNION ALL SELECT x.bucket, x.band, 3, x.y - x.e FROM price_model_cal x
        UNION ALL SELECT x.bucket, NULL, NULL, x.y - x.e FROM price_model_cal x
        UNION ALL SELECT NULL, NULL, NULL, x.y - x.e FROM price_model_cal x),
    o AS (
        SELECT g.*, row_number() OVER (PARTITION BY g.bucket, g.band, g.yg ORDER BY g.r) AS i,
               count(*) OVER (PARTITION BY g.bucket, g.band, g.yg) AS n
          FROM g),
    q AS (
        SELECT o.bucket, o.band, o.yg, max(o.n) AS n,
               ARRAY[min(o.r) FILTER (WHERE o.i = greatest(floor((o.n + 1) * 0.1), 1)),
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY o.r),
                     min(o.r) FILTER (WHERE o.i = least(ceil((o.n + 1) * 0.9), o.n)),
                     min(o.r) FILTER (WHERE o.i = greatest(floor((o.n + 1) * 0.025), 1)),
                     min(o.r) FILTER (WHERE o.i = least(ceil((o.n + 1) * 0.975), o.n))] AS q
          FROM o GROUP BY o.bucket, o.band, o.yg),
    cells AS (
        SELECT b.bucket, jsonb_agg(b.years ORDER BY b.band) AS cells
          FROM (SELECT b.bucket, band.band,
                       jsonb_agg(to_jsonb(x.q[1:3] || coalesce(c.n, cy.n, 0)::float8 || x.q[4:5]) ORDER BY yg.yg) AS years
                  FROM (VALUES ('high'), ('medium'), ('low'), ('none'), ('high_few'), ('medium_few'), ('low_few'), ('none_few')) b(bucket)
                       CROSS JOIN generate_series(0, 3) band(band) CROSS JOIN generate_series(0, 3) yg(yg)
                  LEFT JOIN q ca ON ca.bucket IS NULL AND ca.band IS NULL
                  LEFT JOIN q cb ON cb.bucket = b.bucket AND cb.band IS NULL AND cb.n >= 50
                  LEFT JOIN q cy ON cy.bucket = b.bucket AND cy.band = band.band AND cy.yg = 3 AND cy.n >= 100
                  LEFT JOIN q c ON c.bucket = b.bucket AND c.band = band.band AND c.yg = yg.yg AND yg.yg < 3 AND c.n >= 100
                  CROSS JOIN LATERAL (SELECT coalesce(c.q, cy.q, cb.q, ca.q) AS q) x
                 GROUP BY b.bucket, band.band) b
         GROUP BY b.bucket)
    SELECT cal || jsonb_build_object('cells', jsonb_object_agg(cells.bucket, cells.cells)) INTO cal FROM cells;
    SELECT jsonb_build_object(
               'held_out', count(*),
               'mdape_combined_few_pct', (SELECT round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(exp(x.e + k.q50 - x.y) - 1))::numeric, 2)
                                            FROM price_model_cal x, otto.price_model_cell(cal, x.bucket, exp(x.e), x.year) k
                                           WHERE x.bucket LIKE '%\_few'),
               'mdape_model_pct', round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(exp(x.m - x.y) - 1))::numeric, 2),
               'mdape_comparables_pct', round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(exp(x.c - x.y) - 1))::numeric, 2),
               'comparables_coverage_pct', round(100.0 * count(x.c) / count(*), 1),
               'mdape_combined_pct', round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(exp(x.e + k.q50 - x.y) - 1))::numeric, 2),
               'range_80_holds_pct', round(100.0 * count(*) FILTER (WHERE x.y - x.e BETWEEN k.q10 AND k.q90) / count(*), 1))
      INTO metrics
      FROM price_model_cal x, otto.price_model_cell(cal, x.bucket, exp(x.e), x.year) k
     WHERE x.bucket NOT LIKE '%\_few';

    INSERT INTO otto.price_model (model, model_sha256, features, n_categorical, category_feature, category_value, category_mean,
                                  n_train, n_holdout, rounds, last_event_id, train_seconds, peak_memory_kb, calibration, metrics,
                                  folds, fold_seed)
    VALUES (f.model, ARRAY(SELECT sha256(b.m) FROM unnest(f.model) WITH ORDINALITY b(m, i) ORDER BY b.i),
            otto.price_feature_names(), f.n_categorical, f.category_feature, f.category_value, f.category_mean, f.n_train,
            (metrics->>'held_out')::int, f.rounds, ev, f.seconds, f.peak_memory_kb, cal, metrics, f.folds, seed)
    RETURNING model_id INTO id;
    -- the five newest versions are kept
    DELETE FROM otto.price_model m WHERE m.model_id <= id - 5;
    RETURN jsonb_build_object('model_id', id, 'n_train', f.n_train, 'n_holdout', (metrics->>'held_out')::int, 'rounds', f.rounds,
                              'train_seconds', round(f.seconds::numeric, 2),
                              'seconds', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2),
                              'peak_memory_kb', f.peak_memory_kb,
                              'metrics', metrics, 'weights', cal->'weights');
END
$fn$;
COMMENT ON FUNCTION otto.fair_value_train(boolean) IS 'Train a new version of the price model on the live ads and calibrate it on them, each priced out of fold (force false: only when due, as the trainer worker calls it); returns its summary (train_seconds: the boosting, seconds: all of it) with held-out metrics, or NULL';

GRANT SELECT ON otto.price_model TO otto_app;
