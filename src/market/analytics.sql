-- src/market/analytics.sql: the market's answers: price lines, fair value, depreciation, fastest selling, good deals, overview.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- The answers.  Each returns jsonb with as_of (the observation time of the
-- last event the stream applied), the sample size and the method.
-------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION otto.market_as_of() RETURNS timestamptz
LANGUAGE sql STABLE
AS $fn$ SELECT coalesce(last_event_at, applied_at) FROM otto.stream_state WHERE stream = 'market' $fn$;
COMMENT ON FUNCTION otto.market_as_of() IS 'How fresh the market tables are: when the last event they include was observed';

-- Canonical spelling of a make (and model) as the market has it, no row when
-- unknown.  A set-returning SQL function so that callers inline it.
CREATE OR REPLACE FUNCTION otto.market_name(make text, model text DEFAULT NULL)
RETURNS TABLE (make text, model text)
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT m.make, CASE WHEN $2 IS NOT NULL THEN m.model END
      FROM otto.market_mm m
     WHERE lower(m.make) = lower($1) AND ($2 IS NULL OR lower(m.model) = lower($2))
     ORDER BY m.s[2] DESC
     LIMIT 1
$fn$;
COMMENT ON FUNCTION otto.market_name(text, text) IS 'The make (and model) as the market spells it, matched without regard to case; no row when there are no ads of it';

-- ln(price) = a_g + b_age * age + b_km * km (1000s), one intercept per model
-- (fixed effects) and common slopes, from the models' sums alone: each model
-- contributes its centred moments (otto.market_moments), which add up.
CREATE OR REPLACE FUNCTION otto.market_moments(s numeric[]) RETURNS numeric[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE           -- not STRICT, so that it is inlined
AS $fn$
    SELECT CASE WHEN s[6] >= 2 THEN
        ARRAY[s[6], 1,                                                            -- ads, models
              s[10] - s[7] * s[7] / s[6], s[11] - s[7] * s[8] / s[6], s[12] - s[8] * s[8] / s[6],   -- aa ak kk
              s[13] - s[7] * s[9] / s[6], s[14] - s[8] * s[9] / s[6], s[15] - s[9] * s[9] / s[6],   -- ay ky yy
              s[7], s[8], s[9]] END                                               -- sums of age, km, ln price
$fn$;
COMMENT ON FUNCTION otto.market_moments(numeric[]) IS 'A model''s centred regression moments from its sums (NULL under 2 priced ads); otto.vec_sum of several models'' is the input of otto.fit_solve';

CREATE OR REPLACE FUNCTION otto.fit_solve(v numeric[],
    OUT n bigint, OUT models int, OUT b_age float8, OUT b_km float8, OUT se_age float8, OUT se_km float8,
    OUT sigma float8, OUT mean_age float8, OUT mean_km float8, OUT mean_ln_price float8)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE     -- plpgsql: a SQL body would be inlined once per use of v
AS $fn$
DECLARE
    aa float8 := v[3]; ak float8 := v[4]; kk float8 := v[5]; ay float8 := v[6]; ky float8 := v[7]; yy float8 := v[8];
    det float8 := aa * kk - ak * ak;
    df numeric;
BEGIN
    IF v[1] < v[2] + 3 THEN
        RETURN;
    END IF;
    n := v[1]; models := v[2];
    mean_age := v[9] / v[1]; mean_km := v[10] / v[1]; mean_ln_price := v[11] / v[1];
    IF aa > 0 AND kk > 0 AND det > 1e-6 * aa * kk THEN
        b_age := (ay * kk - ak * ky) / det;
        b_km := (aa * ky - ak * ay) / det;
        df := n - models - 2;
    ELSIF kk > 0 THEN           -- one model year: mileage only
        b_km := ky / kk;
        df := n - models - 1;
    ELSIF aa > 0 THEN
        b_age := ay / aa;
        df := n - models - 1;
    ELSE
        df := n - models;
    END IF;
    sigma := sqrt(greatest(0, yy - coalesce(b_age * ay, 0) - coalesce(b_km * ky, 0)) / greatest(df, 1));
    IF b_age IS NOT NULL AND b_km IS NOT NULL THEN
        se_age := sqrt(sigma ^ 2 * kk / det);
        se_km := sqrt(sigma ^ 2 * aa / det);
    ELSE
        se_age := CASE WHEN b_age IS NOT NULL THEN sigma / sqrt(aa) END;
        se_km := CASE WHEN b_km IS NOT NULL THEN sigma / sqrt(kk) END;
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.fit_solve(numeric[]) IS 'Slopes on age and mileage (1000 km), their standard errors, residual spread and means, from summed otto.market_moments (NULLs under models + 3 ads)';

CREATE OR REPLACE FUNCTION otto.market_fit(make text DEFAULT NULL, model text DEFAULT NULL)
RETURNS TABLE (n bigint, models int, b_age float8, b_km float8, se_age float8, se_km float8,
               sigma float8, mean_age float8, mean_km float8, mean_ln_price float8)
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT f.*
      FROM (SELECT otto.vec_sum(otto.market_moments(m.s)) AS v
              FROM (SELECT g.s FROM otto.market_mm g WHERE g.make = $1 AND g.model = $2
                    UNION ALL             -- one branch runs: its gate is decided before the scan, even in a generic plan
                    SELECT g.s FROM otto.market_mm g WHERE $2 IS NULL AND g.make = $1
                    UNION ALL
                    SELECT g.s FROM otto.market_mm g WHERE $1 IS NULL) m) t,
           otto.fit_solve(t.v) f
$fn$;
-- A model's own slopes [b_age, b_km, sigma] when its fit stands alone (30
-- priced ads and both slopes: otto.market_slopes' first choice), kept beside
-- its sums, so that reading a model's price line costs a row, not a fit.
CREATE OR REPLACE FUNCTION otto.model_slopes(s numeric[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN f.n >= 30 AND f.b_age IS NOT NULL AND f.b_km IS NOT NULL THEN ARRAY[f.b_age, f.b_km, f.sigma] END
      FROM otto.fit_solve(otto.market_moments(s)) f
$fn$;
ALTER TABLE otto.market_mm ADD COLUMN slopes float8[] GENERATED ALWAYS AS (otto.model_slopes(s)) STORED;
COMMENT ON COLUMN otto.market_mm.slopes IS 'The model''s own regression slopes on age and mileage and its residual spread, when it has at least 30 priced live ads (else NULL: otto.market_slopes falls back to the make''s or the market''s)';

COMMENT ON FUNCTION otto.market_fit(text, text) IS 'Log-price regression on age (years) and mileage (1000 km) over the live ads of a model, a make (one intercept per model) or the whole market, from the stream''s sums: slopes, their standard errors, residual spread and means (NULLs when too few ads)';

-- The slopes to move a price along: the model's own fit when it has 30
-- priced live ads and both slopes, else its make's, else the market's.
CREATE OR REPLACE FUNCTION otto.market_slopes(make text, model text DEFAULT NULL,
    OUT fit_of text, OUT n bigint, OUT b_age float8, OUT b_km float8, OUT sigma float8)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan    -- market_fit gates its branches; planning it each call cost more than running it
AS $fn$
DECLARE
    f  record;
    mk text;
    md text;
BEGIN
    FOREACH fit_of IN ARRAY ARRAY['model', 'make', 'market'] LOOP
        CONTINUE WHEN fit_of = 'model' AND model IS NULL;
        -- plain variables as arguments, so that market_fit is inlined and its plan kept
        mk := CASE WHEN fit_of <> 'market' THEN make END;
        md := CASE WHEN fit_of = 'model' THEN model END;
        SELECT * INTO f FROM otto.market_fit(mk, md);
        IF f.n >= 30 AND f.b_age IS NOT NULL AND f.b_km IS NOT NULL THEN
            n := f.n; b_age := f.b_age; b_km := f.b_km; sigma := f.sigma;
            RETURN;
        END IF;
    END LOOP;
    fit_of := NULL;
END
$fn$;
COMMENT ON FUNCTION otto.market_slopes(text, text) IS 'Regression slopes for moving prices to another age and mileage: the model''s fit when it has at least 30 priced live ads, else the make''s, else the market''s (fit_of says which; NULLs when none has enough)';

-- The line a model's prices follow: its mean log price, age and mileage and
-- the slopes of otto.market_slopes; a price's gap to it is a cheap first
-- screen for deals (otto.good_deals, otto.search_ads).
CREATE OR REPLACE VIEW otto.market_lines AS
SELECT m.make, m.model, (m.s[9] / m.s[6])::float8 AS mean_ln_price, (m.s[7] / m.s[6])::float8 AS mean_age,
       (m.s[8] / m.s[6])::float8 AS mean_km, f.k[1] AS b_age, f.k[2] AS b_km, f.k[3] AS sigma
  FROM otto.market_mm m,
       -- the model's kept slopes, else the make's or the market's (fitted only then)
       LATERAL (SELECT coalesce(m.slopes, (SELECT ARRAY[x.b_age, x.b_km, x.sigma] FROM otto.market_slopes(m.make, m.model) x
                                            WHERE x.fit_of IS NOT NULL)) AS k
                OFFSET 0) f                 -- not pulled up: the fallback would run once per use of k
 WHERE m.s[6] >= 3 AND f.k IS NOT NULL;
COMMENT ON VIEW otto.market_lines IS 'Each model''s price line: mean log price, mean age and mileage of its priced live ads, the slopes to move along (otto.market_slopes) and the spread around them (models with too few ads have none)';

CREATE OR REPLACE FUNCTION otto.market_line(make text, model text,
    OUT mean_ln_price float8, OUT mean_age float8, OUT mean_km float8, OUT b_age float8, OUT b_km float8,
    OUT sigma float8)
RETURNS SETOF record
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT l.mean_ln_price, l.mean_age, l.mean_km, l.b_age, l.b_km, l.sigma FROM otto.market_lines l
     WHERE l.make = $1 AND l.model = $2
$fn$;
COMMENT ON FUNCTION otto.market_line(text, text) IS 'A model''s price line: mean log price, mean age and mileage of its priced live ads, the slopes to move along and the spread around them (none when too few ads)';

-- A deal by its gap under the line: at least 10% under; deeper than 70% is a
-- placeholder price.  plpgsql, not inlined: the planner then takes a deal for
-- a third of the ads (about right) rather than for a rare range of an
-- expression it has no statistics of, and reads the sort order's index.
CREATE OR REPLACE FUNCTION otto.line_deal(gap float8) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$ BEGIN RETURN gap BETWEEN 0.1 AND 0.7; END $fn$;

-- Gap of a price under its model's line (otto.market_line), as a fraction (0.2 = 20% under).
CREATE OR REPLACE FUNCTION otto.line_gap(price_eur int, year int, mileage_km int, at timestamptz, mean_ln_price float8,
                              mean_age float8, mean_km float8, b_age float8, b_km float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT 1 - $1 / exp($5 + $8 * (date_part('year', $4 AT TIME ZONE 'UTC') - $2 - $6) + coalesce($9 * ($3 / 1000.0::float8 - $7), 0))   -- float8 throughout: it runs for every fresh ad
$fn$;

-- An ad's gap under its model's line (NULL when the model has none).
CREATE OR REPLACE FUNCTION otto.ad_line_gap(make text, model text, price_eur int, year int, mileage_km int) RETURNS float8
LANGUAGE sql STABLE
COST 1000                       -- the model's fit each call: the planner should call it on few rows
AS $fn$
    SELECT otto.line_gap($3, $4, $5, now(), l.mean_ln_price, l.mean_age, l.mean_km, l.b_age, l.b_km)
      FROM otto.market_line($1, $2) l
     WHERE $3 > 0 AND $4 IS NOT NULL
$fn$;

-- The comparables of fair_value at widening level lvl: 1 same model, model
-- years within 1, same fuel and power within 20%; 2 the same without fuel and
-- power; 3 years within 3; 4 all years; 5 the make's models, years within 2,
-- same fuel; 6 the make, all years.  Never skip_ad (an ad is not its own
-- comparable).  Inlined into its callers; either branch reads
-- market_ad_live_idx alone.
CREATE OR REPLACE FUNCTION otto.fair_value_comparables(make text, model text, year int, fuel text, power_kw int, lvl int,
                                                       skip_ad bigint DEFAULT NULL)
RETURNS TABLE (ad_id bigint, year int, mileage_km int, price_eur int)
LANGUAGE sql STABLE
AS $fn$
    SELECT m.ad_id, m.year, m.mileage_km, m.price_eur
      FROM (SELECT * FROM otto.market_ad g WHERE lvl < 5 AND g.live AND g.make = $1 AND g.model = $2 AND g.price_eur > 0
            UNION ALL             -- one branch runs (its gate is decided before the scan, even in a generic plan)
            SELECT * FROM otto.market_ad g WHERE lvl >= 5 AND g.live AND g.make = $1 AND g.price_eur > 0) m
     WHERE m.year BETWEEN $3 - CASE lvl WHEN 3 THEN 3 WHEN 5 THEN 2 WHEN 4 THEN 100 WHEN 6 THEN 100 ELSE 1 END
                      AND $3 + CASE lvl WHEN 3 THEN 3 WHEN 5 THEN 2 WHEN 4 THEN 100 WHEN 6 THEN 100 ELSE 1 END
       AND (lvl NOT IN (1, 5) OR $4 IS NULL OR m.fuel = $4)
       AND (lvl > 1 OR $5 IS NULL OR m.power_kw BETWEEN $5 * 0.8 AND $5 * 1.2)
       AND m.ad_id IS DISTINCT FROM $7
$fn$;

-- The comparables of one level, each moved to the asked model year and
-- mileage along the slopes: how many, and their 10th, 50th, 90th percentiles.
CREATE OR REPLACE FUNCTION otto.fair_value_level(make text, model text, year int, mileage_km int, fuel text, power_kw int, lvl int,
                                      b_age float8, b_km float8, skip_ad bigint DEFAULT NULL)
RETURNS TABLE (n bigint, p float8[], year_min int, year_max int)
LANGUAGE sql STABLE ROWS 1
AS $fn$
    SELECT count(*),
           percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (
               ORDER BY exp(ln(a.price_eur) + coalesce($8, 0) * (a.year - $3)
                            + coalesce($9 * ($4 / 1000.0 - a.mileage_km / 1000.0::float8), 0))),
           min(a.year), max(a.year)
      FROM otto.fair_value_comparables($1, $2, $3, $5, $6, $7, $10) a
$fn$;

-- Estimate, 80% range and confidence from a level's percentiles: the
-- percentiles themselves from 10 comparables up, below that the regression's
-- spread (sigma) around the median.
CREATE OR REPLACE FUNCTION otto.fair_value_range(lvl int, n bigint, p float8[], sigma float8)
RETURNS TABLE (estimate float8, lo float8, hi float8, confidence text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1     -- a table, so that it is inlined
AS $fn$
    SELECT p[2],
           CASE WHEN n >= 10 THEN least(p[1], p[2]) ELSE p[2] * exp(-1.2816 * coalesce(sigma, 0.35)) END,
           CASE WHEN n >= 10 THEN greatest(p[3], p[2]) ELSE p[2] * exp(1.2816 * coalesce(sigma, 0.35)) END,
           CASE WHEN lvl <= 2 AND n >= 20 THEN 'high' WHEN lvl <= 3 AND n >= 8 THEN 'medium' ELSE 'low' END
$fn$;

-- The comparables' half of a fair value: the live ads of the model (but
-- skip_ad), widened step by step until there are enough, their median and
-- percentiles.
CREATE OR REPLACE FUNCTION otto.fair_value_comps(make text, model text, year int, mileage_km int DEFAULT NULL,
    fuel text DEFAULT NULL, power_kw int DEFAULT NULL, skip_ad bigint DEFAULT NULL,
    OUT market_make text, OUT market_model text, OUT lvl int, OUT n bigint, OUT estimate float8, OUT lo float8,
    OUT hi float8, OUT year_min int, OUT year_max int, OUT confidence text, OUT fit_of text, OUT fit_n bigint,
    OUT b_age float8, OUT b_km float8)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan    -- its queries gate their branches; replanning each call cost more than the scans
AS $fn$
#variable_conflict use_variable
DECLARE
    want    record;
    f       record;
    c       record;
BEGIN
    IF make IS NULL OR model IS NULL OR year IS NULL THEN
        RAISE EXCEPTION 'fair_value needs a make, a model and a year' USING ERRCODE = 'null_value_not_allowed',
              HINT = 'For example: SELECT otto.fair_value(''Volkswagen'', ''Golf'', 2015, 180000);';
    END IF;
    IF skip_ad IS NOT NULL AND mileage_km > 3000000 THEN
        mileage_km := NULL;     -- an ad's own typo (6,434,946 km) is an unknown mileage, not the caller's error
    END IF;
    IF year NOT BETWEEN 1900 AND 2100 OR mileage_km < 0 OR mileage_km > 3000000 OR power_kw <= 0 THEN
        RAISE EXCEPTION 'fair_value: year %, mileage % km, power % kW is not a car', year, mileage_km, power_kw
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Years run 1900-2100, mileage 0-3,000,000 km, power above 0 kW.';
    END IF;
    SELECT * INTO want FROM otto.market_name(make, model);
    IF want.model IS NULL THEN
        -- a model the market has not seen: its make's ads stand in
        SELECT * INTO want FROM otto.market_name(make);
    END IF;
    market_make := want.make; market_model := want.model; n := 0;
    IF want.make IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO f FROM otto.market_slopes(want.make, want.model);
    fit_of := f.fit_of; fit_n := f.n; b_age := f.b_age; b_km := f.b_km;

    lvl := CASE WHEN want.model IS NULL THEN 4 ELSE 0 END;
    WHILE lvl < 6 LOOP
        lvl := lvl + 1;
        CONTINUE WHEN lvl = 2 AND fuel IS NULL AND power_kw IS NULL;
        SELECT * INTO c FROM otto.fair_value_level(want.make, want.model, year, mileage_km, fuel, power_kw, lvl, f.b_age, f.b_km,
                                                   skip_ad);
        EXIT WHEN c.n >= CASE WHEN lvl IN (4, 6) THEN 1 ELSE 5 END;
    END LOOP;
    n := c.n; year_min := c.year_min; year_max := c.year_max;
    IF n > 0 THEN
        SELECT r.estimate, r.lo, r.hi, r.confidence INTO estimate, lo, hi, confidence
          FROM otto.fair_value_range(lvl, n, c.p, f.sigma) r;
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.fair_value_comps(text, text, int, int, text, int, bigint) IS 'The comparables'' half of a fair value: the make and model as the market spells them (model NULL when unknown), the level (as in otto.fair_value_comparables) and count, their median and 10th-90th percentiles moved to this year and mileage, their model years, confidence and the regression used';

-- The numbers of a fair value, without the examples and the prose: what
-- otto.fair_value reports, and what otto.good_deals ranks by.  The
-- comparables' median and the price model's estimate combined in logs with
-- the version's weight for this confidence, moved by the median residual of
-- its cell, and the cell's 10th-90th residual percentiles as the 80% range
-- (see price_model.sql); the comparables alone when there is no usable
-- version.  car: the car's other columns as otto.ad names them (an ad's
-- ad_id keeps the ad out of its own comparables).
CREATE OR REPLACE FUNCTION otto.fair_value_estimate(make text, model text, year int, mileage_km int DEFAULT NULL,
    fuel text DEFAULT NULL, power_kw int DEFAULT NULL, car jsonb DEFAULT NULL,
    OUT market_make text, OUT market_model text, OUT lvl int, OUT n bigint, OUT estimate float8, OUT lo float8,
    OUT hi float8, OUT year_min int, OUT year_max int, OUT confidence text, OUT fit_of text, OUT fit_n bigint,
    OUT b_age float8, OUT b_km float8, OUT comparables_estimate float8, OUT model_id bigint, OUT model_estimate float8,
    OUT model_weight float8, OUT lo95 float8, OUT hi95 float8)
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_variable
DECLARE
    c   record;
    pm  record;
    k   record;
    s   float8;
    w   float8;
    e   float8;
    bucket text;
BEGIN
    c := otto.fair_value_comps(make, model, year, mileage_km, fuel, power_kw, (car->>'ad_id')::bigint);
    market_make := c.market_make; market_model := c.market_model; lvl := c.lvl; n := c.n; estimate := c.estimate;
    lo := c.lo; hi := c.hi; year_min := c.year_min; year_max := c.year_max; confidence := c.confidence; fit_of := c.fit_of;
    fit_n := c.fit_n; b_age := c.b_age; b_km := c.b_km; comparables_estimate := c.estimate;

    SELECT * INTO pm FROM otto.price_model_active();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- the model reads the market's spelling; a make or model it has not seen is missing, and it falls back
    -- (a car given by make, model, year, mileage, fuel and power alone has its own calibration: _few);
    -- an ad is priced by its fold's booster, which has not seen its price
    SELECT otto.price_model_score(pm.model_id, f.cat, f.num, otto.price_model_fold((car->>'ad_id')::bigint, pm.fold_seed, pm.folds)),
           CASE WHEN n > 0 THEN confidence ELSE 'none' END
           || CASE WHEN array_remove(f.cat[4:], NULL) = '{}' AND array_remove(f.num[4:], NULL) = '{}' THEN '_few' ELSE '' END
      INTO s, bucket
      FROM otto.price_features(coalesce(car, '{}') || jsonb_build_object(
               'make', coalesce(c.market_make, make), 'model', CASE WHEN c.market_make IS NULL OR c.market_model IS NOT NULL
                                                                    THEN coalesce(c.market_model, model) END,
               'year', year, 'mileage_km', mileage_km, 'fuel', fuel, 'power_kw', power_kw)) f;
    IF s IS NULL THEN
        RETURN;
    END IF;
    w := CASE WHEN n > 0 THEN coalesce((pm.calibration->'weights'->>bucket)::float8, 1) ELSE 1 END;
    e := w * s + (1 - w) * CASE WHEN n > 0 THEN ln(c.estimate) ELSE 0 END;
    k := otto.price_model_cell(pm.calibration, bucket, exp(e), year);
    IF k.q50 IS NULL THEN
        RETURN;                 -- a calibration without cells: the comparables alone
    END IF;
    model_id := pm.model_id; model_estimate := exp(s); model_weight := w;
    estimate := exp(e + k.q50); lo := exp(e + k.q10); hi := exp(e + k.q90); lo95 := exp(e + k.q025); hi95 := exp(e + k.q975);
    IF n = 0 THEN
        confidence := 'low';
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.fair_value_estimate(text, text, int, int, text, int, jsonb) IS 'The figures of otto.fair_value: the comparables'' (as otto.fair_value_comps) combined with the price model''s estimate (as otto.price_model_score) by the newest version''s calibration: estimate and 80% range in euros, confidence, each half''s estimate and the model''s weight, and the 95% range (with the model only)';

-- What comparables a level stands for, in words (en, sr-Latn, sr-Cyrl).
CREATE OR REPLACE FUNCTION otto.fair_value_which(lvl int, fuel text, power_kw int, lang text DEFAULT 'en') RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE lvl WHEN 1 THEN otto.ask_text(lang, 'same model, model years within 1', 'isti model, godišta ±1')
                                || CASE WHEN fuel IS NOT NULL THEN otto.ask_text(lang, ', same fuel', ', isto gorivo') ELSE '' END
                                || CASE WHEN power_kw IS NOT NULL THEN otto.ask_text(lang, ', power within 20%', ', snaga ±20%') ELSE '' END
                    WHEN 2 THEN otto.ask_text(lang, 'same model, model years within 1 (fuel and power not matched: too few ads)',
                                              'isti model, godišta ±1 (gorivo i snaga nisu upoređeni: premalo oglasa)')
                    WHEN 3 THEN otto.ask_text(lang, 'same model, model years within 3', 'isti model, godišta ±3')
                    WHEN 4 THEN otto.ask_text(lang, 'same model, all model years', 'isti model, sva godišta')
                    WHEN 5 THEN otto.ask_text(lang, 'other models of the make, model years within 2', 'drugi modeli iste marke, godišta ±2')
                                || CASE WHEN fuel IS NOT NULL THEN otto.ask_text(lang, ', same fuel', ', isto gorivo') ELSE '' END
                    ELSE otto.ask_text(lang, 'other models of the make, all model years', 'drugi modeli iste marke, sva godišta') END
$fn$;

-- Fair value of a car given as otto.ad's columns in JSON (an ad: to_jsonb of
-- its row): make, model and year at least.
CREATE OR REPLACE FUNCTION otto.fair_value(car jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_variable
DECLARE
    make       text := car->>'make';
    model      text := car->>'model';
    year       int := (car->>'year')::int;
    mileage_km int := (car->>'mileage_km')::int;
    fuel       text := car->>'fuel';
    power_kw   int := (car->>'power_kw')::int;
    e          record;
    lvl_txt    text;
    ex         jsonb;
BEGIN
    e := otto.fair_value_estimate(make, model, year, mileage_km, fuel, power_kw, car);
    IF e.estimate IS NULL THEN
        RETURN jsonb_build_object('make', coalesce(e.market_make, make), 'model', model, 'year', year, 'estimate_eur', NULL,
            'reason', CASE WHEN e.market_make IS NULL THEN 'no ads of this make' ELSE 'no live ads of this make with a price' END,
            'n', 0, 'as_of', otto.market_as_of());
    END IF;
    IF e.n > 0 THEN
        lvl_txt := otto.fair_value_which(e.lvl, fuel, power_kw);
        IF e.market_model IS NULL THEN
            lvl_txt := 'no ads of model ' || model || ': ' || lvl_txt;
        END IF;
        SELECT jsonb_agg(jsonb_build_object('ad_id', x.ad_id, 'url', a.url, 'title', a.title, 'year', x.year,
                                            'mileage_km', x.mileage_km, 'price_eur', x.price_eur) ORDER BY x.rank)
          INTO ex
          FROM (SELECT t.*, row_number() OVER (ORDER BY abs(t.year - year), abs(coalesce(t.mileage_km - mileage_km, 0)), t.ad_id) AS rank
                  FROM (SELECT m.* FROM otto.fair_value_comparables(e.market_make, e.market_model, year, fuel, power_kw, e.lvl,
                                                                    (car->>'ad_id')::bigint) m
                         ORDER BY abs(m.year - year), abs(coalesce(m.mileage_km - mileage_km, 0)), m.ad_id LIMIT 3) t) x
          JOIN otto.ad a ON a.ad_id = x.ad_id;
    ELSE
        lvl_txt := 'no ads of make ' || make || ': the price model alone, at the market''s level';
    END IF;
    RETURN jsonb_build_object(
        'make', coalesce(e.market_make, make), 'model', coalesce(e.market_model, model), 'year', year, 'mileage_km', mileage_km,
        'fuel', fuel, 'power_kw', power_kw, 'currency', 'EUR',
        'estimate_eur', round(e.estimate)::int,
        'range_80_eur', jsonb_build_array(round(e.lo)::int, round(e.hi)::int),
        'confidence', e.confidence,
        'comparables', jsonb_build_object('count', e.n, 'which', lvl_txt, 'model_years', jsonb_build_array(e.year_min, e.year_max),
                                          'estimate_eur', round(e.comparables_estimate)::int, 'examples', coalesce(ex, '[]')),
        'price_model', CASE WHEN e.model_id IS NOT NULL THEN
                           jsonb_build_object('version', e.model_id, 'estimate_eur', round(e.model_estimate)::int,
                                              'weight', round(e.model_weight::numeric, 2)) END,
        'fallback', CASE WHEN e.n = 0 OR e.lvl > 1 OR e.market_model IS NULL THEN lvl_txt END,
        'adjustment', jsonb_build_object('fit_of', e.fit_of, 'fit_n', e.fit_n,
                                         'per_model_year_pct', round((100 * (exp(coalesce(e.b_age, 0)) - 1))::numeric, 2),
                                         'per_10000_km_pct', round((100 * (exp(10 * coalesce(e.b_km, 0)) - 1))::numeric, 2)),
        'method', CASE WHEN e.model_id IS NOT NULL THEN
                      format('the price model (gradient-boosted trees on every feature of the live ads'' asking prices, version %s) '
                             'and the median of comparable live ads combined, %s%% the model; the 80%% range from the errors of '
                             'the same combination on ads held out from training', e.model_id, round(100 * e.model_weight))
                  ELSE 'median of the asking prices of comparable live ads, each moved to this model year and mileage by the '
                       || coalesce(e.fit_of || '''s log-price regression', 'regression (none yet: too few priced ads, so not moved)')
                       || '; 80% range: their 10th-90th percentiles (under 10 comparables: the regression''s spread)' END,
        'n', e.n, 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.fair_value(jsonb) IS 'Fair value in euros of a car given as otto.ad''s columns in JSON (make, model, year; every other column it knows helps): estimate, 80% range, the comparables with examples, the price model''s share, confidence, and the fallback taken when the exact group is thin';

CREATE OR REPLACE FUNCTION otto.fair_value(make text, model text, year int, mileage_km int DEFAULT NULL, fuel text DEFAULT NULL,
                                power_kw int DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT otto.fair_value(jsonb_build_object('make', make, 'model', model, 'year', year, 'mileage_km', mileage_km, 'fuel', fuel,
                                              'power_kw', power_kw))
$fn$;
COMMENT ON FUNCTION otto.fair_value(text, text, int, int, text, int) IS 'Fair value in euros of a car (make, model, year, optionally mileage, fuel, power): estimate, 80% range, comparables used with examples, confidence, and the fallback taken when the exact group is thin';

CREATE OR REPLACE FUNCTION otto.depreciation(make text DEFAULT NULL, model text DEFAULT NULL, min_ads int DEFAULT 20,
                                  by_model boolean DEFAULT false, lim int DEFAULT 20) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    want  record;
    f     record;
    curve jsonb;
    cuts  jsonb;
    rank  jsonb;
BEGIN
    IF make IS NULL THEN
        RETURN otto.depreciation_ranking(by_model, min_ads, lim);
    END IF;
    SELECT * INTO want FROM otto.market_name(make, model);
    IF want.make IS NULL OR (model IS NOT NULL AND want.model IS NULL) THEN
        RETURN jsonb_build_object('make', make, 'model', model, 'reason', 'no ads of this ' ||
                                  CASE WHEN want.make IS NULL THEN 'make' ELSE 'model' END, 'n', 0, 'as_of', otto.market_as_of());
    END IF;
    SELECT * INTO f FROM otto.market_fit(want.make, want.model);
    -- observed asking prices by age beside the fitted curve
    SELECT jsonb_agg(jsonb_build_object('model_year', g.year, 'live', g.live, 'price_mean_eur', g.price_mean,
                                        'retained_pct', round((100 * exp(coalesce(f.b_age, 0) * g.age))::numeric, 1))
                     ORDER BY g.year DESC)
      INTO curve
      FROM (SELECT y.year, sum(y.s[2]) AS live, round(sum(y.s[4]) / nullif(sum(y.s[3]), 0)) AS price_mean,
                   extract(year FROM otto.market_as_of())::int - y.year AS age
              FROM otto.market_mmy y
             WHERE y.make = want.make AND (want.model IS NULL OR y.model = want.model) AND y.year IS NOT NULL
             GROUP BY y.year HAVING sum(y.s[2]) > 0) g;
    SELECT jsonb_build_object('live_ads', sum(m.s[2]), 'live_ads_cut', sum(m.s[24]),
                              'share_cut_pct', round(100 * sum(m.s[24]) / nullif(sum(m.s[2]), 0), 1),
                              'mean_cut_eur', round(sum(m.s[25]) / nullif(sum(m.s[24]), 0)),
                              'cuts_seen', sum(m.s[22]), 'cut_eur_seen', sum(m.s[23]))
      INTO cuts
      FROM otto.market_mm m WHERE m.make = want.make AND (want.model IS NULL OR m.model = want.model);
    -- the make's models, most depreciating first
    SELECT jsonb_agg(r ORDER BY (r->>'annual_rate_pct')::numeric DESC)
      INTO rank
      FROM (SELECT jsonb_build_object('model', m.model, 'annual_rate_pct', round((100 * (1 - exp(x.b_age)))::numeric, 1),
                                      'n', x.n) AS r
              FROM otto.market_mm m, otto.fit_solve(otto.market_moments(m.s)) x
             WHERE m.make = want.make AND m.s[6] >= min_ads AND x.b_age IS NOT NULL) q;
    RETURN jsonb_build_object(
        'make', want.make, 'model', want.model,
        'annual_rate_pct', round((100 * (1 - exp(f.b_age)))::numeric, 1),
        'annual_rate_95_pct', CASE WHEN f.se_age IS NOT NULL THEN jsonb_build_array(
                                  round((100 * (1 - exp(f.b_age + 1.96 * f.se_age)))::numeric, 1),
                                  round((100 * (1 - exp(f.b_age - 1.96 * f.se_age)))::numeric, 1)) END,
        'per_10000_km_pct', round((100 * (1 - exp(10 * f.b_km)))::numeric, 2),
        'value_curve', curve, 'price_cuts_live', cuts, 'models_ranked', coalesce(rank, '[]'),
        'method', 'log-price regression of live asking prices on age and mileage' ||
                  CASE WHEN want.model IS NULL THEN ' with one intercept per model' ELSE '' END ||
                  '; rate = 1 - exp(age slope) per year at equal mileage; 95% interval from its standard error',
        'n', coalesce(f.n, 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.depreciation(text, text, int, boolean, int) IS 'How fast a make or model loses value: annual rate with its 95% interval, the effect of mileage, the value curve by model year, price cuts on live ads, and the make''s models ranked (those with at least min_ads priced live ads); without a make, otto.depreciation_ranking(by_model, min_ads, lim)';

CREATE OR REPLACE FUNCTION otto.depreciation_ranking(by_model boolean DEFAULT false, min_ads int DEFAULT 30, lim int DEFAULT 20)
RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT jsonb_build_object(
        'ranking', coalesce(jsonb_agg(r.j ORDER BY r.rate DESC) FILTER (WHERE r.j IS NOT NULL), '[]'),
        'method', 'annual depreciation = 1 - exp(age slope) of the log-price regression on age and mileage'
                  || CASE WHEN by_model THEN '' ELSE ' (one intercept per model)' END || '; groups with at least '
                  || min_ads || ' priced live ads',
        'n', coalesce(sum(r.n), 0), 'as_of', otto.market_as_of())
      FROM (SELECT g.make, g.model, 1 - exp(x.b_age) AS rate, x.n,
                   jsonb_strip_nulls(jsonb_build_object('make', g.make, 'model', g.model,
                       'annual_rate_pct', round((100 * (1 - exp(x.b_age)))::numeric, 1),
                       'annual_rate_95_pct', jsonb_build_array(round((100 * (1 - exp(x.b_age + 1.96 * x.se_age)))::numeric, 1),
                                                               round((100 * (1 - exp(x.b_age - 1.96 * x.se_age)))::numeric, 1)),
                       'n', x.n)) AS j
              FROM (SELECT m.make, CASE WHEN by_model THEN m.model END AS model,    -- every group's fit in one pass
                           otto.vec_sum(otto.market_moments(m.s)) AS v
                      FROM otto.market_mm m GROUP BY 1, 2 HAVING sum(m.s[6]) >= min_ads) g,
                   otto.fit_solve(g.v) x
             WHERE x.b_age IS NOT NULL
             ORDER BY 3 DESC LIMIT lim) r
$fn$;
COMMENT ON FUNCTION otto.depreciation_ranking(boolean, int, int) IS 'Makes (or models) ranked by annual depreciation, fastest first';

-- An ad's days at risk of a sale as of as_of: first seen to sold, or to
-- as_of while live (a relisted car's earlier listings included).
CREATE OR REPLACE FUNCTION otto.market_ad_days(m otto.market_ad, as_of timestamptz) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT greatest(m.prior_days + CASE WHEN m.live THEN extract(epoch FROM as_of - m.listed_at) / 86400 ELSE m.removed_days END, 0)::float8
$fn$;

-- The ads of one group fastest_selling counts (a make, and its model and
-- year when given), live or sold (gone and not relisted), filtered: each
-- branch reads its partial index (market_ad_live_idx, market_ad_sold_idx).
CREATE OR REPLACE FUNCTION otto.fastest_selling_ads(as_of timestamptz, make text, model text, year int,
    price_min int, price_max int, body text, fuel text)
RETURNS TABLE (days float8, sold boolean)
LANGUAGE sql STABLE
AS $fn$
    SELECT otto.market_ad_days(m, $1), NOT m.live
      FROM (SELECT * FROM otto.market_ad g WHERE g.live AND g.make = $2
            UNION ALL
            SELECT * FROM otto.market_ad g WHERE NOT g.live AND NOT g.continued AND g.make = $2 AND g.removed_days IS NOT NULL) m
     WHERE m.model IS NOT NULL AND ($3 IS NULL OR m.model = $3) AND ($4 IS NULL OR m.year = $4)
       AND ($5 IS NULL OR m.price_eur >= $5) AND ($6 IS NULL OR m.price_eur <= $6)
       AND ($7 IS NULL OR m.body = $7) AND ($8 IS NULL OR m.fuel = $8)
$fn$;

-- How fast cars sell, as a rate: sales per ad-day at risk.  Every ad of a
-- group counts its days on the market as exposure, the ones still live too
-- (their sale is yet to come: censored), so a group is not fast merely
-- because the slow sellers have not sold yet, and a short history does not
-- make every group look fast.  A sale is a removal not followed by a relist;
-- a relisted car's days run on under its new ad (prior_days).  The 95%
-- interval is Byar's for a Poisson count; the median days and the share
-- sold within 7 and 30 days come from the Kaplan-Meier curve of the same
-- ads, each only when the history reaches that far.
CREATE OR REPLACE FUNCTION otto.fastest_selling(level text DEFAULT 'model', price_min int DEFAULT NULL, price_max int DEFAULT NULL,
                                     body text DEFAULT NULL, fuel text DEFAULT NULL, min_sold int DEFAULT 10,
                                     lim int DEFAULT 20, off int DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan   -- the filters decide the plan
AS $fn$
#variable_conflict use_variable
DECLARE
    res     jsonb;
    total   bigint;
    groups  bigint;
    history float8;
    as_of   timestamptz := coalesce(otto.market_as_of(), now());
BEGIN
    IF level NOT IN ('make', 'model', 'model_year') THEN
        RAISE EXCEPTION 'level must be make, model or model_year, not "%"', level USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF min_sold < 1 OR lim < 1 OR off < 0 THEN
        RAISE EXCEPTION 'min_sold and lim must be at least 1, off not negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    history := extract(epoch FROM as_of - (SELECT min(m.listed_at) FROM otto.market_ad m WHERE m.live)) / 86400;   -- market_ad_listed_idx
    -- each group's sales and days at risk (first seen to sold, or to as_of): without filters from the
    -- stream's sums (otto.market_terms 16, 17, 2, 67, 68), else from the ads
    WITH g AS (
        SELECT x.make, x.model, x.year, sum(x.s[16]) AS sold, sum(x.s[2]) AS live,
               (sum(x.s[17]) + sum(x.s[2]) * (extract(epoch FROM as_of) / 86400) - sum(x.s[67]) + sum(x.s[68]))::float8 AS ad_days
          FROM (SELECT m.make, CASE WHEN level <> 'make' THEN m.model END AS model, NULL::int AS year, m.s FROM otto.market_mm m
                 WHERE level <> 'model_year'
                UNION ALL
                SELECT m.make, m.model, m.year, m.s FROM otto.market_mmy m WHERE level = 'model_year') x
         WHERE num_nonnulls(price_min, price_max, body, fuel) = 0
         GROUP BY 1, 2, 3
        UNION ALL
        SELECT m.make, CASE WHEN level <> 'make' THEN m.model END, CASE WHEN level = 'model_year' THEN m.year END,
               count(*) FILTER (WHERE NOT m.live), count(*) FILTER (WHERE m.live), sum(otto.market_ad_days(m, as_of))
          FROM otto.market_ad m
         WHERE num_nonnulls(price_min, price_max, body, fuel) > 0
           AND NOT m.continued AND m.make IS NOT NULL AND m.model IS NOT NULL AND (m.live OR m.removed_days IS NOT NULL)
           AND (price_min IS NULL OR m.price_eur >= price_min) AND (price_max IS NULL OR m.price_eur <= price_max)
           AND (body IS NULL OR m.body = body) AND (fuel IS NULL OR m.fuel = fuel)
         GROUP BY 1, 2, 3),
    r AS (
        SELECT g.*, g.sold / g.ad_days AS rate,
               -- Byar's approximation of the Poisson interval (95%)
               g.sold * (1 - 1 / (9.0 * g.sold) - 1.96 / (3 * sqrt(g.sold))) ^ 3 / g.ad_days AS rate_lo,
               (g.sold + 1) * (1 - 1 / (9.0 * (g.sold + 1)) + 1.96 / (3 * sqrt(g.sold + 1))) ^ 3 / g.ad_days AS rate_hi,
               count(*) OVER () AS n_groups
          FROM g WHERE g.sold >= min_sold AND g.ad_days > 0),
    ranked AS (
        SELECT r.*, row_number() OVER (ORDER BY r.rate DESC, r.rate_lo DESC, r.sold DESC, r.make, r.model, r.year) AS pos
          FROM r),
    page AS (SELECT * FROM ranked WHERE pos > off ORDER BY pos LIMIT lim),
    -- Kaplan-Meier of the page's groups: at each day a sale happened, the share still unsold
    steps AS (
        SELECT p.pos, a.days, count(*) FILTER (WHERE a.sold) AS d, count(*) AS leaving
          FROM page p, otto.fastest_selling_ads(as_of, p.make, p.model, p.year, price_min, price_max, body, fuel) a
         GROUP BY 1, 2),
    follow AS (SELECT st.pos, max(st.days) AS follow_up FROM steps st GROUP BY 1),
    km AS (
        SELECT s.pos, s.days,
               exp(greatest(sum(CASE WHEN s.d < s.at_risk THEN ln(1 - s.d::float8 / s.at_risk) ELSE -1000 END)
                            OVER (PARTITION BY s.pos ORDER BY s.days), -700)) AS surv     -- all sold: 0 (exp(-700) is 1e-304)
          FROM (SELECT st.*, sum(st.leaving) OVER (PARTITION BY st.pos ORDER BY st.days DESC) AS at_risk FROM steps st) s),
    curve AS (
        SELECT p.pos,
               (SELECT min(k.days) FROM km k WHERE k.pos = p.pos AND k.surv <= 0.5) AS median_days,
               CASE WHEN f.follow_up >= 7 THEN 1 - coalesce((SELECT min(k.surv) FROM km k WHERE k.pos = p.pos AND k.days <= 7), 1) END AS d7,
               CASE WHEN f.follow_up >= 30 THEN 1 - coalesce((SELECT min(k.surv) FROM km k WHERE k.pos = p.pos AND k.days <= 30), 1) END AS d30
          FROM page p LEFT JOIN follow f ON f.pos = p.pos)
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'rank', p.pos, 'make', p.make, 'model', p.model, 'model_year', p.year, 'sold', p.sold, 'live', p.live,
               'ad_days', round(p.ad_days::numeric), 'sales_per_100_ad_days', round((100 * p.rate)::numeric, 2),
               'interval_95', jsonb_build_array(round((100 * p.rate_lo)::numeric, 2), round((100 * p.rate_hi)::numeric, 2)),
               'expected_days', round((1 / p.rate)::numeric, 1),
               'median_days', round(c.median_days::numeric, 1),
               'sold_within_7d_pct', round((100 * c.d7)::numeric, 1), 'sold_within_30d_pct', round((100 * c.d30)::numeric, 1)))
               ORDER BY p.pos),
           max(p.n_groups), (SELECT sum(g.sold) FROM g)
      INTO res, groups, total
      FROM page p JOIN curve c ON c.pos = p.pos;
    RETURN jsonb_build_object('level', level,
        'filters', jsonb_strip_nulls(jsonb_build_object('price_min', price_min, 'price_max', price_max, 'body', body, 'fuel', fuel)),
        'ranking', coalesce(res, '[]'), 'min_sold', min_sold, 'groups', coalesce(groups, 0), 'offset', off,
        'history_days', round(history::numeric, 1),
        'method', 'ranked by sales per 100 ad-days on the market (a sale: an ad gone for good, not relisted; every ad''s days count, the live ones'' too), with its 95% interval; expected_days is 1 / rate; median days and the share sold within 7 and 30 days from the Kaplan-Meier curve, given only when the history reaches that far; groups need min_sold sales; price is the last asking price',
        'n', coalesce(total, 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.fastest_selling(text, int, int, text, text, int, int, int) IS 'Makes, models or model years ranked by sales per 100 ad-days on the market (live ads counted as exposure), with a 95% interval, expected days to sell, and Kaplan-Meier median days and shares sold within 7 and 30 days when the history allows; filter by price band, body and fuel; a page of lim rows after off';

CREATE OR REPLACE FUNCTION otto.deal_class(gap_pct numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT CASE WHEN gap_pct >= 20 THEN 'great' WHEN gap_pct >= 10 THEN 'good' WHEN gap_pct > -10 THEN 'fair' ELSE 'high' END $fn$;
COMMENT ON FUNCTION otto.deal_class(numeric) IS 'Deal class of a price gap_pct percent under fair value: great (20% or more under), good (10-20% under), fair (within 10%), high (more than 10% over)';

-- The standard normal distribution function (Abramowitz and Stegun 26.2.17,
-- error under 7.5e-8): how sure a gap is.
CREATE OR REPLACE FUNCTION otto.norm_cdf(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN x >= 0 THEN 1 - p ELSE p END
      FROM (SELECT exp(-z * z / 2) / sqrt(2 * pi())
                   * t * (0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429)))) AS p
              FROM (SELECT least(abs(x), 30) AS z, 1 / (1 + 0.2316419 * least(abs(x), 30)) AS t) t) p   -- beyond 30: 0 or 1 (no underflow)
$fn$;

-- What a price says about a car, given its fair value: the asking price is
-- itself evidence of the value.  The log gap g = ln(estimate / price) is the
-- seller's pricing (how far from the true value, spread: the otto.price_spread
-- setting, as asking prices alone cannot tell it from the estimate's
-- error) plus the estimate's own error (the rest of the spread its ranges
-- imply).  The true gap's posterior, on a grid: a normal prior for the
-- seller, a Student t error for the estimate whose degrees of freedom say
-- how heavy its tails are, read off the ranges: the 95% range's width
-- against the 80% range's, once the seller's share of each is taken out,
-- matched to the t's (new cars' errors are near normal, so a wide gap is
-- news; old cars' have heavy tails, so a wide gap is more often the
-- estimate's miss than the seller's gift).  Without a 95% range (no price
-- model, or one trained before 1.4): 2, as wide as the 80% range's normal
-- deviation, as 1.3 had it (chosen on the tuning seed then).  Returns
-- the posterior mean (as percent under), its deviation (log), p_under, how
-- sure the price is at least 5% under the true value, and the degrees of
-- freedom used.
CREATE OR REPLACE FUNCTION otto.price_posterior(price float8, estimate float8, lo float8, hi float8,
    spread float8 DEFAULT coalesce(nullif(current_setting('otto.price_spread', true), '')::float8, 0.12),  -- its default before the library loads
    lo95 float8 DEFAULT NULL, hi95 float8 DEFAULT NULL,
    OUT gap_pct float8, OUT sd float8, OUT p_under float8, OUT df float8)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT 100 * (1 - exp(-m.mean)), sqrt(greatest(m.m2 - m.mean * m.mean, 0)), m.under, m.nu
      FROM (SELECT sum(w.w * w.e) / sum(w.w) AS mean, sum(w.w * w.e * w.e) / sum(w.w) AS m2,
                   sum(w.w) FILTER (WHERE w.e >= ln(1 / 0.95)) / sum(w.w) AS under, min(p.nu) AS nu
              FROM (SELECT h.g, h.se, h.e80 / CASE WHEN h.e95 > 0 THEN t.q90 ELSE 1.2816 END AS sv, t.nu
                      FROM (SELECT h.*, sqrt(greatest(h.h80 ^ 2 - (1.2816 * h.se) ^ 2, 0.0256 ^ 2)) AS e80,   -- the estimate's own
                                   sqrt(greatest(h.h95 ^ 2 - (1.96 * h.se) ^ 2, 0)) AS e95                    -- half-widths (80, 95%)
                              FROM (SELECT ln(estimate / price) AS g, least(spread, h.h80 / 1.2816) AS se, h.h80, h.h95  -- no wider than all the spread there is
                                      FROM (SELECT greatest(ln(hi / lo) / 2, 0.064) AS h80,   -- even identical cars' prices spread by 5%
                                                   CASE WHEN hi95 > lo95 AND lo95 <= lo AND hi95 >= hi THEN ln(hi95 / lo95) / 2 END AS h95) h) h) h,
                           -- Student t: degrees of freedom, 0.9 quantile, and its 0.975 quantile over 0.9's against the normal's
                           LATERAL (SELECT t.nu, t.q90 FROM (VALUES (1, 3.078, 2.699), (2, 1.886, 1.492), (3, 1.638, 1.270),
                                                                    (4, 1.533, 1.184), (5, 1.476, 1.139), (7, 1.415, 1.093),
                                                                    (10, 1.372, 1.062), (15, 1.341, 1.039), (30, 1.310, 1.019),
                                                                    (1000, 1.2816, 1.0)) t(nu, q90, ratio)
                                     ORDER BY CASE WHEN h.e95 > 0 THEN abs(ln(t.ratio) - ln(greatest(h.e95 / h.e80 / 1.5294, 1)))
                                                   ELSE abs(t.nu - 2) END LIMIT 1) t) p,
                   LATERAL (SELECT i * p.se / 20 AS e FROM generate_series(-100, 100) i) x,     -- 5 spreads either side
                   LATERAL (SELECT x.e, exp(-0.5 * power(x.e / p.se, 2)) * power(1 + power((p.g - x.e) / p.sv, 2) / p.nu, -(p.nu + 1) / 2.0) AS w) w) m
     WHERE price > 0 AND estimate > 0 AND lo > 0 AND hi > lo AND spread > 0
$fn$;
COMMENT ON FUNCTION otto.price_posterior(float8, float8, float8, float8, float8, float8, float8) IS 'The true gap of a price under a car''s value, given its fair value, its 80% range (and 95% range, when known) and the sellers'' pricing spread (otto.price_spread): gap_pct (posterior mean, percent under), sd (log), p_under (how sure the price is at least 5% under the value) and df; the estimate''s error taken as Student t, its tails as heavy as the ranges show (2 degrees of freedom without a 95% range)';

-- A car's fair value (otto.fair_value_estimate; the car as otto.ad's
-- columns in JSON, an ad: to_jsonb of its row) and what a price says about
-- it (otto.price_posterior): what price_verdict answers, good_deals ranks and
-- otto.ad_value keeps.  No estimate: NULL figures.
CREATE OR REPLACE FUNCTION otto.price_valuation(car jsonb, price_eur int,
    OUT market_make text, OUT market_model text, OUT lvl int, OUT n bigint, OUT confidence text, OUT model_id bigint,
    OUT estimate float8, OUT lo float8, OUT hi float8, OUT lo95 float8, OUT hi95 float8,
    OUT likely_gap_pct float8, OUT p_under float8)
LANGUAGE sql STABLE
AS $fn$
    SELECT e.market_make, e.market_model, e.lvl, e.n, e.confidence, e.model_id, e.estimate, e.lo, e.hi, e.lo95, e.hi95,
           p.gap_pct, p.p_under
      FROM otto.fair_value_estimate(car->>'make', car->>'model', (car->>'year')::int, (car->>'mileage_km')::int, car->>'fuel',
                                    (car->>'power_kw')::int, car) e
      LEFT JOIN LATERAL otto.price_posterior(price_eur, e.estimate, e.lo, e.hi, lo95 => e.lo95, hi95 => e.hi95) p ON true
$fn$;
COMMENT ON FUNCTION otto.price_valuation(jsonb, int) IS 'A car''s fair value (as otto.fair_value_estimate; the car as otto.ad''s columns in JSON) and what a price says about it (otto.price_posterior: the likely gap and how sure it is at least 5% under)';

-- Whether a price is too far under a car's fair value to be what it seems
-- (an error, parts, damage, a scam): under half of it, or under its 80%
-- range by four times the spread that range implies (at least 5%).
CREATE OR REPLACE FUNCTION otto.price_suspect(price float8, estimate float8, lo float8, hi float8) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT price < 0.5 * estimate OR price < lo * exp(-4 * greatest(ln(hi / lo) / 2.563, 0.05))
$fn$;

-- Whether an ad's title says the car is not what its price is for: parts,
-- damage, not running, for export or a swap (folded text: otto.fold).
CREATE OR REPLACE FUNCTION otto.deal_suspect_title(title text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT otto.fold(coalesce($1, '')) ~ '(\m(za )?delove\M|\mdelovi\M|u delovima|havarisan|neispravan|ostecen|udaren|\mne pali\M|u kvaru|\mzamena\M|\mmenjam\M|\mparts\M|damaged|not running|\mexport\M|\mizvoz\M)'
$fn$;
COMMENT ON FUNCTION otto.deal_suspect_title(text) IS 'Whether a title says the car is sold for parts, damaged, not running, for export or a swap (Serbian and English)';

-- Every live ad's fair value at its asking price, kept by the trainer
-- worker (otto.ad_values_refresh after each round), so that good_deals can
-- rank every fresh ad by how sure Otto is, not only those a cheap first pass
-- lets through: valuing an ad takes about 2 ms, too long to do for a week's
-- ads per call.  Derived data, remade by the refresh: not dumped.
CREATE TABLE IF NOT EXISTS otto.ad_value (
    ad_id           bigint PRIMARY KEY REFERENCES otto.ad ON DELETE CASCADE,
    price_eur       int NOT NULL,       -- the asking price valued: a new price is valued again
    model_id        bigint,             -- the price model version (NULL: the comparables alone)
    lvl             int NOT NULL,
    n               bigint NOT NULL,
    confidence      text NOT NULL,
    estimate        float8 NOT NULL,
    lo              float8 NOT NULL,
    hi              float8 NOT NULL,
    lo95            float8,
    hi95            float8,
    likely_gap_pct  float8,
    p_under         float8,
    valued_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN otto.ad_value.price_eur IS 'The asking price valued (a new price is valued again)';
COMMENT ON COLUMN otto.ad_value.model_id IS 'The price model version used (otto.price_model; NULL: the comparables alone)';
COMMENT ON COLUMN otto.ad_value.lvl IS 'Which comparables (as otto.fair_value_comps: 1 the closest, 6 the make''s other models of any year; otto.fair_value_which)';
COMMENT ON COLUMN otto.ad_value.n IS 'Comparable ads used';
COMMENT ON COLUMN otto.ad_value.confidence IS 'high, medium or low (as otto.fair_value)';
COMMENT ON COLUMN otto.ad_value.estimate IS 'Fair value, EUR';
COMMENT ON COLUMN otto.ad_value.lo IS '80% range, low end, EUR';
COMMENT ON COLUMN otto.ad_value.hi IS '80% range, high end, EUR';
COMMENT ON COLUMN otto.ad_value.lo95 IS '95% range, low end, EUR (NULL without a price model)';
COMMENT ON COLUMN otto.ad_value.hi95 IS '95% range, high end, EUR (NULL without a price model)';
COMMENT ON COLUMN otto.ad_value.likely_gap_pct IS 'Most likely percent under the car''s value (otto.price_posterior''s gap_pct)';
COMMENT ON COLUMN otto.ad_value.p_under IS 'How sure the price is at least 5% under the car''s value (otto.price_posterior)';
COMMENT ON COLUMN otto.ad_value.valued_at IS 'When it was valued (values older than a day are valued again: the comparables move)';
COMMENT ON TABLE otto.ad_value IS 'Each live priced ad''s fair value (as otto.fair_value_estimate) and price posterior (as otto.price_posterior) at its asking price, kept by otto.ad_values_refresh (the trainer worker); good_deals reads it';

-- Value the given ads at their asking price into otto.ad_value
-- (otto.price_valuation); returns how many.
CREATE OR REPLACE FUNCTION otto.ad_values_store(ids bigint[]) RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH s AS (
        INSERT INTO otto.ad_value AS v (ad_id, price_eur, model_id, lvl, n, confidence, estimate, lo, hi, lo95, hi95,
                                        likely_gap_pct, p_under, valued_at)
        SELECT a.ad_id, a.price_eur, v.model_id, v.lvl, v.n, v.confidence, v.estimate, v.lo, v.hi, v.lo95, v.hi95,
               v.likely_gap_pct, v.p_under, now()
          FROM otto.ad a, otto.price_valuation(to_jsonb(a), a.price_eur) v
         WHERE a.ad_id = ANY (ids) AND v.estimate > 0 AND a.price_eur > 0
        ON CONFLICT (ad_id) DO UPDATE
           SET price_eur = excluded.price_eur, model_id = excluded.model_id, lvl = excluded.lvl, n = excluded.n,
               confidence = excluded.confidence, estimate = excluded.estimate, lo = excluded.lo, hi = excluded.hi,
               lo95 = excluded.lo95, hi95 = excluded.hi95, likely_gap_pct = excluded.likely_gap_pct,
               p_under = excluded.p_under, valued_at = excluded.valued_at
        RETURNING 1)
    SELECT count(*) FROM s
$fn$;

COMMENT ON FUNCTION otto.ad_values_store(bigint[]) IS 'Value the given ads at their asking price into otto.ad_value (otto.price_valuation); returns how many (otto.ad_values_refresh''s step)';

-- Value the live priced ads whose value is missing, for another price, by
-- an older price model version, or older than max_age (the comparables
-- move): the unvalued first, newest first, at most max_ads (NULL: all); the
-- rows of ads no longer live go.  All in one statement; if that fails, one
-- ad at a time, so that an ad that cannot be valued is skipped with a
-- WARNING instead of holding up every batch.  Returns how many it valued.
CREATE OR REPLACE FUNCTION otto.ad_values_refresh(max_ads int DEFAULT NULL, max_age interval DEFAULT '1 day') RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    pm    bigint := (SELECT p.model_id FROM otto.price_model_active() p);
    todo  bigint[];
    id    bigint;
    n     bigint := 0;
    k     bigint;
BEGIN
    IF max_ads < 1 OR max_age < interval '0' THEN
        RAISE EXCEPTION 'max_ads must be at least 1 and max_age not negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM otto.ad_value v
     WHERE NOT EXISTS (SELECT FROM otto.market_ad m WHERE m.ad_id = v.ad_id AND m.live AND m.price_eur > 0);
    todo := ARRAY(SELECT m.ad_id FROM otto.market_ad m LEFT JOIN otto.ad_value v ON v.ad_id = m.ad_id
                   WHERE m.live AND m.price_eur > 0 AND m.year IS NOT NULL
                     AND (v.ad_id IS NULL OR v.price_eur <> m.price_eur OR v.model_id IS DISTINCT FROM pm
                          OR v.valued_at < now() - max_age)
                   ORDER BY v.ad_id IS NOT NULL, m.listed_at DESC, m.ad_id
                   LIMIT max_ads);
    BEGIN
        n := otto.ad_values_store(todo);
    EXCEPTION WHEN OTHERS THEN
        -- one ad that cannot be valued must not hold up the rest: one at a time, that one skipped (and named)
        FOREACH id IN ARRAY todo LOOP
            BEGIN
                k := otto.ad_values_store(ARRAY[id]);
                n := n + k;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'otto.ad_values_refresh: ad % could not be valued: %', id, SQLERRM;
            END;
        END LOOP;
    END;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION otto.ad_values_refresh(int, interval) IS 'Value the live priced ads whose otto.ad_value is missing, for another price, by an older price model or older than max_age (unvalued and newest first, at most max_ads; NULL: all) and drop the rows of ads no longer live; returns how many it valued (the trainer worker calls it after each round)';

-- Fresh ads priced under their fair value, the surest first: listed when
-- Otto is at least min_sure_pct sure that the price is at least 5% under the
-- car's true value (otto.price_posterior: the gap in the estimate's own
-- uncertainty, shrunk by what asking prices usually are, so that a car with
-- few comparables or an uncertain model needs a wider gap to rank as high;
-- 80 by default: on the simulator's tuning seed, the least sureness at which
-- 85% of the deals listed truly were), ranked by that sureness and classed
-- by the likely gap.  Every fresh ad the trainer worker has valued
-- (otto.ad_value) is a candidate; the others go through a cheap first pass.
-- A price far under the fair value (otto.price_suspect) or under 30% of the
-- line, or a title about parts or damage, is more likely an error than a
-- deal: listed apart as suspicious.
CREATE OR REPLACE FUNCTION otto.good_deals(since interval DEFAULT '1 day', lim int DEFAULT 20, make text DEFAULT NULL,
                                model text DEFAULT NULL, max_price int DEFAULT NULL, fuel text DEFAULT NULL,
                                body text DEFAULT NULL, min_gap_pct numeric DEFAULT 10, include_damaged boolean DEFAULT false,
                                min_sure_pct numeric DEFAULT 80)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan  -- planning its query each call cost as much as running it; the fresh ads lead either way
AS $fn$
#variable_conflict use_variable
DECLARE
    res   jsonb;
    sus   jsonb;
    fresh bigint;
    less  bigint;
    t0    timestamptz := now() - since;
    l     text := otto.lang();     -- the language of "why": otto.lang or the signed-in user's
BEGIN
    IF lim < 1 OR since < interval '0' OR min_sure_pct IS NULL OR NOT min_sure_pct BETWEEN 0 AND 100 THEN
        RAISE EXCEPTION 'lim must be at least 1, since not negative and min_sure_pct between 0 and 100'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH cuts AS (              -- price cuts since t0, from the log's time index
        SELECT e.ad_id, max(e.at) AS cut_at FROM otto.ad_event e
         WHERE e.at >= t0 AND e.kind = 'price_changed' AND e.new_price_eur < e.old_price_eur GROUP BY 1),
    cand AS (                   -- fresh: listed, relisted or cut in price since t0
        SELECT m.*
          FROM (SELECT x.*, NULL::timestamptz AS cut_at FROM otto.market_ad x   -- cut too? looked up for the deals shown
                 WHERE x.live AND x.listed_at >= t0                        -- market_ad_listed_idx
                UNION ALL
                SELECT x.*, c.cut_at FROM cuts c JOIN otto.market_ad x ON x.ad_id = c.ad_id
                 WHERE x.live AND x.listed_at < t0) m
         WHERE m.price_eur > 0 AND m.year IS NOT NULL
           AND (make IS NULL OR lower(m.make) = lower(make)) AND (model IS NULL OR lower(m.model) = lower(model))
           AND (max_price IS NULL OR m.price_eur <= max_price) AND (fuel IS NULL OR m.fuel = fuel)
           AND (body IS NULL OR m.body = body)),
    -- the fresh ads the trainer worker has valued at their asking price (otto.ad_value): all of them; read
    -- further those sure enough or far under (suspicious) and as far under as asked
    valued_now AS MATERIALIZED (
        SELECT c.*, v.lvl, v.n, v.estimate, v.lo, v.hi, v.confidence, v.model_id, v.likely_gap_pct, v.p_under,
               100 * (1 - c.price_eur / round(v.estimate)::numeric) AS gap
          FROM cand c JOIN otto.ad_value v ON v.ad_id = c.ad_id AND v.price_eur = c.price_eur),
    stored AS (
        SELECT c.ad_id, c.make, c.model, c.year, c.mileage_km, c.fuel, c.power_kw, c.price_eur, c.listed_at, c.cut_at,
               NULL::float8 AS gap0, a.url, a.title, a.damage, c.lvl, c.n, c.estimate, c.lo, c.hi, c.confidence, c.model_id,
               c.likely_gap_pct, c.p_under
          FROM valued_now c JOIN otto.ad a ON a.ad_id = c.ad_id
         WHERE (c.p_under >= min_sure_pct / 100 OR otto.price_suspect(c.price_eur, c.estimate, c.lo, c.hi))
           AND c.gap >= min_gap_pct),
    -- the others (listed or cut since its last pass, or no worker): a first pass, the gap under the model's price
    -- line (otto.market_line) in its spread, cheap for every fresh ad
    rest AS (SELECT c.* FROM cand c WHERE NOT EXISTS (SELECT FROM valued_now s WHERE s.ad_id = c.ad_id)),
    lines AS MATERIALIZED (     -- once per model, not per ad
        SELECT g.make, g.model, x.* FROM (SELECT DISTINCT c.make, c.model FROM rest c) g, otto.market_line(g.make, g.model) x),
    screened AS (
        SELECT c.ad_id, c.make, c.model, c.year, c.mileage_km, c.fuel, c.power_kw, c.price_eur, c.listed_at, c.cut_at,
               otto.line_gap(c.price_eur, c.year, c.mileage_km, c.listed_at, l.mean_ln_price, l.mean_age, l.mean_km,
                             l.b_age, l.b_km) AS gap0, greatest(l.sigma, 0.05) AS sigma
          FROM rest c JOIN lines l ON l.make = c.make AND l.model = c.model),
    -- second pass: the fair value of the most promising, as otto.fair_value has it (every feature of the ad),
    -- and of the deepest gaps, which are most likely placeholders (to be shown as suspicious)
    picked AS (
        (SELECT * FROM screened s WHERE s.gap0 <= 0.7 AND s.gap0 * 100 >= min_gap_pct - 15
          ORDER BY -ln(1 - s.gap0) / s.sigma DESC LIMIT greatest(lim * 4, 60))
        UNION
        (SELECT * FROM screened s WHERE s.gap0 > 0.5 ORDER BY s.gap0 DESC LIMIT 10)),
    valued AS (
        SELECT s.ad_id, s.make, s.model, s.year, s.mileage_km, s.fuel, s.power_kw, s.price_eur, s.listed_at, s.cut_at, s.gap0,
               a.url, a.title, a.damage, v.lvl, v.n, v.estimate, v.lo, v.hi, v.confidence, v.model_id, v.likely_gap_pct, v.p_under
          FROM picked s
          JOIN otto.ad a ON a.ad_id = s.ad_id, otto.price_valuation(to_jsonb(a), s.price_eur) v
         WHERE v.estimate > 0
        UNION ALL
        SELECT * FROM stored),
    deals AS (
        SELECT v.*, round(v.estimate)::int AS fair, round(v.lo)::int AS fair_lo, round(v.hi)::int AS fair_hi,
               round(100 * (1 - v.price_eur / round(v.estimate)::numeric), 1) AS gap_pct,
               round(v.likely_gap_pct::numeric, 1) AS likely_gap,
               CASE WHEN otto.price_suspect(v.price_eur, v.estimate, v.lo, v.hi) OR v.gap0 > 0.7
                    THEN otto.ask_text(l, 'price far under its fair value', 'cena daleko ispod vrednosti')
                    WHEN otto.deal_suspect_title(v.title)
                    THEN otto.ask_text(l, 'the title speaks of parts, damage or a swap', 'naslov pominje delove, oštećenje ili zamenu') END AS suspect
          FROM valued v
         WHERE round(v.estimate) > 0 AND (include_damaged OR v.damage IS NULL OR v.damage = 'none')),
    shown AS (
        SELECT d.*, coalesce(d.cut_at, (SELECT max(e.at) FROM otto.ad_event e               -- ad_event_ad_idx
                                         WHERE e.ad_id = d.ad_id AND e.at >= t0 AND e.kind = 'price_changed'
                                           AND e.new_price_eur < e.old_price_eur)) AS cut,
               row_number() OVER (PARTITION BY d.suspect IS NOT NULL ORDER BY d.p_under DESC, d.gap_pct DESC, d.ad_id) AS pos
          FROM deals d
         WHERE d.gap_pct >= min_gap_pct AND (d.p_under >= min_sure_pct / 100 OR d.suspect IS NOT NULL))
    SELECT jsonb_agg(jsonb_build_object(
               'ad_id', d.ad_id, 'url', d.url, 'title', d.title, 'make', d.make, 'model', d.model, 'year', d.year,
               'mileage_km', d.mileage_km, 'price_eur', d.price_eur, 'fair_value_eur', d.fair,
               'range_80_eur', jsonb_build_array(d.fair_lo, d.fair_hi), 'gap_eur', d.fair - d.price_eur, 'gap_pct', d.gap_pct,
               'likely_gap_pct', d.likely_gap, 'sure_pct', round((100 * d.p_under)::numeric),
               'deal', otto.deal_class(d.likely_gap), 'confidence', d.confidence, 'listed_at', d.listed_at,
               'why', format(otto.ask_text(l, '%s%% (€%s) under the fair value of €%s (80%% range €%s-%s) from %s%s; allowing for the estimate''s uncertainty, most likely %s%% under the car''s value, %s%% sure it is at least 5%% under%s%s',
                                            '%s%% (%s €) ispod procenjene vrednosti od %s € (80%% raspon %s-%s €) po %s%s; uz nesigurnost procene, najverovatnije %s%% ispod vrednosti automobila, %s%% sigurno bar 5%% ispod%s%s'),
                           d.gap_pct, d.fair - d.price_eur, d.fair, d.fair_lo, d.fair_hi,
                           CASE WHEN d.model_id IS NOT NULL THEN otto.ask_text(l, 'the price model and ', 'modelu cena i ') ELSE '' END,
                           otto.ask_count(d.n, 'comparable', l) || ' (' || otto.fair_value_which(d.lvl, d.fuel, d.power_kw, l) || ')',
                           otto.ask_num(d.likely_gap, l), otto.ask_num(round((100 * d.p_under)::numeric), l),
                           CASE WHEN d.price_eur < d.fair_lo THEN otto.ask_text(l, '; below the range', '; ispod raspona') ELSE '' END,
                           CASE WHEN d.cut IS NOT NULL THEN otto.ask_text(l, '; price cut ', '; cena snižena ') || to_char(d.cut, 'YYYY-MM-DD') ELSE '' END))
               ORDER BY d.pos) FILTER (WHERE d.suspect IS NULL AND d.pos <= lim),
           jsonb_agg(jsonb_build_object('ad_id', d.ad_id, 'url', d.url, 'title', d.title, 'price_eur', d.price_eur,
                                        'fair_value_eur', d.fair, 'gap_pct', d.gap_pct, 'deal', 'suspicious', 'reason', d.suspect,
                                        'why', format(otto.ask_text(l, 'Suspicious: %s%% under the fair value of €%s, more likely an error, parts or damage than a deal (%s)',
                                                                       'Sumnjivo: %s%% ispod procenjene vrednosti od %s €, pre greška, delovi ili oštećenje nego dobra ponuda (%s)'),
                                                      d.gap_pct, d.fair, d.suspect))
                     ORDER BY d.pos) FILTER (WHERE d.suspect IS NOT NULL AND d.pos <= 5),
           (SELECT count(*) FROM cand),
           (SELECT count(*) FROM valued_now v WHERE v.p_under >= 0.5 AND v.p_under < min_sure_pct / 100 AND v.gap >= min_gap_pct)
      INTO res, sus, fresh, less
      FROM shown d;
    RETURN jsonb_build_object(
        'since', t0, 'deals', coalesce(res, '[]'), 'suspicious', coalesce(sus, '[]'), 'fresh_ads', fresh,
        'min_sure_pct', min_sure_pct, 'less_sure', less,
        'classes', jsonb_build_object('great', 'at least 20% under fair value', 'good', '10-20% under',
                                      'fair', 'within 10%', 'high', 'more than 10% over',
                                      'suspicious', 'under half the fair value or far under its range, or a title about parts or damage: more likely an error than a deal'),
        'method', 'fresh ads (listed, relisted or cut in price since then): those the trainer worker has valued (otto.ad_value) as valued, the others screened against their model''s log-price regression and the most promising priced by otto.fair_value; the asking price is evidence of the value too, so the gap is shrunk by the share of the spread that is the sellers'' own pricing (otto.price_posterior: likely_gap_pct, and sure_pct, how sure the price is at least 5% under the value), and the deals Otto is at least min_sure_pct sure of are ranked by that sureness and classed by the likely gap; damaged cars left out unless include_damaged; prices far under the fair value (otto.price_suspect) and titles about parts or damage listed apart as suspicious; less_sure: how many more valued fresh ads are as far under, 50% to min_sure_pct sure',
        'n', coalesce(fresh, 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.good_deals(interval, int, text, text, int, text, text, numeric, boolean, numeric) IS 'Fresh ads priced under their fair value that Otto is at least min_sure_pct sure of, the surest first (how sure the price is at least 5% under the car''s value, otto.price_posterior): price, fair value and its range, the gap in euros and percent, the deal class (great, good), why it is a deal; suspicious ones (far under the fair value: otto.price_suspect; titles about parts or damage) apart';

-- Is a price good for a car?  The car as otto.ad's columns in JSON (an ad:
-- to_jsonb of its row) and the price asked: its fair value and range, the
-- gap, and the verdict, the class of the gap most likely once the
-- estimate's uncertainty is allowed for (otto.price_posterior: an uncertain
-- estimate says less about a price than a sure one), with how sure, and
-- why in the user's language.
CREATE OR REPLACE FUNCTION otto.price_verdict(car jsonb, price_eur int)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    v    record;
    cls  text;
    gap  numeric;
    l    text := otto.lang();
BEGIN
    IF price_eur IS NULL OR price_eur < 1 THEN
        RAISE EXCEPTION 'price_eur must be a price in euros, at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF car->>'make' IS NULL OR car->>'model' IS NULL OR car->>'year' IS NULL THEN
        RAISE EXCEPTION 'a verdict needs the car''s make, model and year' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v := otto.price_valuation(car, price_eur);
    IF v.estimate IS NULL THEN
        RETURN jsonb_build_object('make', coalesce(v.market_make, car->>'make'), 'model', car->>'model', 'year', (car->>'year')::int,
                                  'price_eur', price_eur, 'verdict', NULL,
                                  'reason', otto.ask_text(l, 'no fair value: no live ads of this make with a price',
                                                             'nema procene: nema aktivnih oglasa ove marke sa cenom'),
                                  'as_of', otto.market_as_of());
    END IF;
    gap := round(100 * (1 - price_eur / round(v.estimate)::numeric), 1);
    -- far under the fair value is more likely an error, parts, damage or a scam than a deal (as in good_deals)
    cls := CASE WHEN otto.price_suspect(price_eur, v.estimate, v.lo, v.hi) THEN 'suspicious' ELSE otto.deal_class(round(v.likely_gap_pct::numeric, 1)) END;
    RETURN jsonb_build_object(
        'make', coalesce(v.market_make, car->>'make'), 'model', coalesce(v.market_model, car->>'model'), 'year', (car->>'year')::int,
        'mileage_km', (car->>'mileage_km')::int, 'price_eur', price_eur, 'currency', 'EUR',
        'verdict', cls, 'fair_value_eur', round(v.estimate)::int,
        'range_80_eur', jsonb_build_array(round(v.lo)::int, round(v.hi)::int), 'gap_pct', gap,
        'likely_gap_pct', round(v.likely_gap_pct::numeric, 1), 'sure_under_pct', round((100 * v.p_under)::numeric),
        'confidence', v.confidence, 'comparables', v.n,
        'classes', jsonb_build_object('great', 'at least 20% under the car''s value', 'good', '10-20% under',
                                      'fair', 'within 10%', 'high', 'more than 10% over',
                                      'suspicious', 'far under the fair value (under half, or far under its range): more likely an error, parts, damage or a scam'),
        'reason', format(otto.ask_text(l,
                   '%s: €%s is %s%% %s the fair value of €%s (80%% range €%s-%s, %s confidence); allowing for the estimate''s uncertainty, most likely %s%% %s the car''s value',
                   '%s: %s € je %s%% %s procenjene vrednosti od %s € (80%% raspon %s-%s €, pouzdanost %s); uz nesigurnost procene, najverovatnije %s%% %s vrednosti automobila'),
                   otto.ask_verdict(cls, l),
                   otto.ask_num(price_eur, l), otto.ask_num(abs(gap), l),
                   CASE WHEN gap >= 0 THEN otto.ask_text(l, 'under', 'ispod') ELSE otto.ask_text(l, 'over', 'iznad') END,
                   otto.ask_num(round(v.estimate)::numeric, l), otto.ask_num(round(v.lo)::numeric, l), otto.ask_num(round(v.hi)::numeric, l),
                   otto.ask_text(l, v.confidence, CASE v.confidence WHEN 'high' THEN 'visoka' WHEN 'medium' THEN 'srednja' ELSE 'niska' END),
                   otto.ask_num(abs(round(v.likely_gap_pct::numeric)), l),
                   CASE WHEN v.likely_gap_pct >= 0 THEN otto.ask_text(l, 'under', 'ispod') ELSE otto.ask_text(l, 'over', 'iznad') END),
        'method', 'the fair value as otto.fair_value has it; the verdict is the deal class of the gap most likely once the estimate''s uncertainty is allowed for (otto.price_posterior): the gap shrunk by the share of the spread that is the sellers'' own pricing',
        'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.price_verdict(jsonb, int) IS 'Whether a price is good for a car (as otto.ad''s columns in JSON): verdict (great, good, fair, high; suspicious far under the fair value, otto.price_suspect) by the likely gap once the estimate''s uncertainty is allowed for, fair value and range, gap, how sure, confidence and the reason in the user''s language';

CREATE OR REPLACE FUNCTION otto.price_verdict(make text, model text, year int, price_eur int, mileage_km int DEFAULT NULL,
                                              fuel text DEFAULT NULL, power_kw int DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT otto.price_verdict(jsonb_strip_nulls(jsonb_build_object('make', $1, 'model', $2, 'year', $3, 'mileage_km', $5,
                                                                   'fuel', $6, 'power_kw', $7)), $4)
$fn$;
COMMENT ON FUNCTION otto.price_verdict(text, text, int, int, int, text, int) IS 'Whether a price is good for a car given by make, model, year, mileage, fuel and power (as otto.price_verdict(jsonb, int))';

-- The verdict on a live ad's own price (priced as its own row: its fold's booster, never itself as a comparable).
CREATE OR REPLACE FUNCTION otto.price_verdict(ad_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT otto.price_verdict(to_jsonb(a), a.price_eur) || jsonb_build_object('ad_id', a.ad_id, 'url', a.url)
      FROM otto.ad a WHERE a.ad_id = $1 AND a.price_eur > 0
$fn$;
COMMENT ON FUNCTION otto.price_verdict(bigint) IS 'The verdict on an ad''s own asking price (as otto.price_verdict(jsonb, int)); NULL when there is no such ad with a price';

-- Where the median of a histogram falls: its bin (0-based) and how many values
-- of that bin come before it (percentile_disc: the ceil(n/2)-th value).
CREATE OR REPLACE FUNCTION otto.hist_median(bins numeric[], n numeric, OUT b int, OUT skip bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT (h.i - 1)::int, (ceil($2 / 2) - h.before - 1)::bigint
      FROM (SELECT i, sum(x) OVER (ORDER BY i) - x AS before, sum(x) OVER (ORDER BY i) AS upto
              FROM unnest($1) WITH ORDINALITY u(x, i)) h
     WHERE $2 > 0 AND h.upto >= ceil($2 / 2)
     ORDER BY h.i LIMIT 1
$fn$;

CREATE OR REPLACE FUNCTION otto.market_overview(make text DEFAULT NULL, model text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    want record;
    mk   text;
    md   text;
    s    numeric[];
    med  record;
BEGIN
    SELECT * INTO want FROM otto.market_name(coalesce(make, ''), model);
    IF make IS NOT NULL AND (want.make IS NULL OR (model IS NOT NULL AND want.model IS NULL)) THEN
        RETURN jsonb_build_object('make', make, 'model', model, 'reason', 'no ads of this ' ||
                                  CASE WHEN want.make IS NULL THEN 'make' ELSE 'model' END, 'n', 0, 'as_of', otto.market_as_of());
    END IF;
    mk := want.make; md := want.model;
    -- counts and histograms from the stream's sums; no ad is read
    SELECT otto.vec_sum(g.s) INTO s FROM otto.market_mm g WHERE (mk IS NULL OR g.make = mk) AND (md IS NULL OR g.model = md);
    -- exact medians: a make's or model's live ads from market_ad_live_idx; the whole
    -- market's from the price and mileage indexes, within the bin the median falls in
    IF mk IS NOT NULL THEN
        SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY l.price_eur) FILTER (WHERE l.price_eur > 0) AS price,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY l.mileage_km) AS km
          INTO med FROM otto.market_ad l WHERE l.live AND l.make = mk AND (md IS NULL OR l.model = md);
    ELSE
        SELECT (SELECT l.price_eur FROM otto.market_ad l
                 WHERE l.live AND l.price_eur > 0 AND l.price_eur >= p.b * 2500 AND (p.b = 20 OR l.price_eur < p.b * 2500 + 2500)
                 ORDER BY l.price_eur OFFSET p.skip LIMIT 1) AS price,
               (SELECT l.mileage_km FROM otto.market_ad l
                 WHERE l.live AND l.mileage_km >= k.b * 25000 AND (k.b = 16 OR l.mileage_km < k.b * 25000 + 25000)
                 ORDER BY l.mileage_km OFFSET k.skip LIMIT 1) AS km
          INTO med
          FROM otto.hist_median(s[29:49], s[3]) p, otto.hist_median(s[50:66], s[27]) k;
    END IF;
    RETURN jsonb_build_object(
        'make', mk, 'model', md,
        'live', coalesce(s[2], 0),
        'price_median_eur', med.price,
        'mileage_median_km', med.km,
        'events_24h', (SELECT jsonb_object_agg(k, n) FROM (SELECT e.kind AS k, count(*) AS n FROM otto.ad_event e
                        JOIN otto.market_ad m ON m.ad_id = e.ad_id
                       WHERE e.at >= now() - interval '1 day' AND e.event_id <= (SELECT watermark FROM otto.stream_state)
                         AND (mk IS NULL OR m.make = mk) AND (md IS NULL OR m.model = md) GROUP BY 1) x),
        'popular', (SELECT jsonb_agg(jsonb_build_object(CASE WHEN mk IS NULL THEN 'make' ELSE 'model' END, p.name,
                                                        'live', p.live, 'sold', p.sold) ORDER BY p.live DESC, p.name)
                      FROM (SELECT CASE WHEN mk IS NULL THEN g.make ELSE g.model END AS name,
                                   sum(g.s[2]) AS live, sum(g.s[16]) AS sold
                              FROM otto.market_mm g WHERE mk IS NULL OR g.make = mk
                             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15) p),
        'histograms', jsonb_build_object(
            'price_eur', (SELECT jsonb_agg(jsonb_build_object('from', (i - 1) * 2500, 'to', CASE WHEN i < 21 THEN i * 2500 END, 'ads', n) ORDER BY i)
                            FROM unnest(s[29:49]) WITH ORDINALITY h(n, i) WHERE n > 0),
            'mileage_km', (SELECT jsonb_agg(jsonb_build_object('from', (i - 1) * 25000, 'to', CASE WHEN i < 17 THEN i * 25000 END, 'ads', n) ORDER BY i)
                             FROM unnest(s[50:66]) WITH ORDINALITY h(n, i) WHERE n > 0),
            'model_year', (SELECT jsonb_agg(jsonb_build_object('year', y.year, 'ads', y.n) ORDER BY y.year)
                             FROM (SELECT g.year, sum(g.s[2]) AS n FROM otto.market_mmy g
                                    WHERE g.year IS NOT NULL AND (mk IS NULL OR g.make = mk) AND (md IS NULL OR g.model = md)
                                    GROUP BY 1 HAVING sum(g.s[2]) > 0) y)),
        'method', 'live ads as the stream processor last saw them: counts and histograms from its sums, exact medians from the indexes; histogram bins of 2,500 EUR and 25,000 km, the last open-ended',
        'n', coalesce(s[2], 0), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.market_overview(text, text) IS 'The market (or one make or model) at a glance, for charts: live ads, median price and mileage, events of the last day, the most popular makes or models, and price, mileage and model-year histograms';

-------------------------------------------------------------------------------

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
GRANT SELECT ON otto.market_lines, otto.ad_value TO otto_app;
