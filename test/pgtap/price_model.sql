-- The price model (src/market/price_model.c and .sql): features, training,
-- calibration, scoring, the combination in fair_value, and hostile input to
-- every entry point (t/180 runs the trainer worker, restarts and damage).
BEGIN;
CREATE EXTENSION otto;
SELECT plan(27);

-- a small market whose price follows its features: 40 models, years, mileage, power, a dealer premium
SELECT otto.site_add('pm', 'pm', ARRAY['pm.invalid'], ARRAY['https://pm.invalid/'], '^https://pm\.invalid/ad/([0-9]+)',
                     '^https://pm\.invalid/list', 'polovniautomobili') AS site \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, power_kw,
                     seller_type, features)
SELECT :site, i::text, 'https://pm.invalid/ad/' || i, 'car ' || i, 'Make' || (i % 8), 'Model' || (i % 40), 2000 + i % 20,
       (20 - i % 20) * 12000 + i % 7 * 1000,
       round((2000 + 300 * (i % 40)) * 1.1 ^ (i % 20) * (1 + (i % 3) * 0.1) * (CASE WHEN i % 2 = 0 THEN 1.08 ELSE 1 END)
             * exp(((i * 7919) % 101 - 50) / 500.0)),
       CASE WHEN i % 3 = 0 THEN 'petrol' ELSE 'diesel' END, 'sedan', 50 + (i % 3) * 30,
       CASE WHEN i % 2 = 0 THEN 'dealer' ELSE 'private' END, ARRAY['ABS', 'ESP']
  FROM generate_series(1, 1200) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur) SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad;
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset

-- features
SELECT is(otto.price_features('{"make": "Skoda", "model": "Octavia", "year": 2015, "mileage_km": 150000, "fuel": "diesel",
                                "features": ["ABS", "ESP", "xenon"]}'),
          ROW(ARRAY['Skoda', '["Skoda", "Octavia"]', 'diesel', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL],
              ARRAY[2015, 150000, NULL, NULL, NULL, 3]::float4[])::record,
          'price_features: categorical (the model keyed with its make, never a separator in the data) and numeric');
SELECT is((otto.price_features('{"make": "A", "model": "B", "mileage_km": 2880003}')).num[2], NULL::float4,
          'a mileage beyond 1,000,000 km is a typo, read as missing');
SELECT is(cardinality((otto.price_features('{}')).cat) + cardinality((otto.price_features('{}')).num),
          cardinality(otto.price_feature_names()), 'a name for every feature');
SELECT throws_ok($$SELECT otto.price_features('{"year": "nineteen"}')$$, '22P02', NULL, 'a feature of the wrong type is a clear error');

-- without a version, fair_value is the comparables' alone
SELECT is(otto.fair_value('Make1', 'Model1', 2010, 120000)->'price_model', 'null', 'no version yet: no model in the answer');
SELECT throws_like($$SELECT otto.price_model_fit(10)$$, 'too few priced live ads to train a price model: %',
                   'training on too few ads says how many it had');

-- a version
SELECT ok((otto.fair_value_train()->>'model_id')::bigint > 0, 'fair_value_train trains and stores a version') ;
SELECT is(n_train, 1200, 'on every live priced ad') FROM otto.price_model;
SELECT ok(n_holdout = 1200 AND folds = 5 AND cardinality(model) = 5 AND cardinality(rounds) = 5 AND features = otto.price_feature_names(),
          'five folds (a small market), a booster each, calibrated on every ad out of fold, the feature names') FROM otto.price_model;
SELECT ok(calibration ?& ARRAY['weights', 'bands', 'year_cuts', 'cells'] AND jsonb_array_length(calibration->'cells'->'low') = 4
          AND jsonb_array_length(calibration->'cells'->'low'->0) = 4,
          'calibration: weights, bands, and a cell per band and third of the model years (and any year)') FROM otto.price_model;
SELECT ok((metrics->>'mdape_model_pct')::numeric < 8, format('the model learned the market (held-out MdAPE %s%%)', metrics->>'mdape_model_pct'))
  FROM otto.price_model;
SELECT is(otto.fair_value_train(false), NULL, 'not due while the market has not moved');

-- scoring and the combination
SELECT ok(abs(otto.price_model_score(m.model_id, f.cat, f.num) - ln(a.price_eur)) < 0.15, 'the model scores a car near its price')
  FROM otto.price_model m, otto.ad a, otto.price_features(to_jsonb(a)) f WHERE a.source_ad_id = '777';
SELECT ok(r->'price_model'->>'version' IS NOT NULL AND (r->>'estimate_eur')::int > 0
          AND (r->'range_80_eur'->>0)::int < (r->>'estimate_eur')::int AND (r->>'estimate_eur')::int < (r->'range_80_eur'->>1)::int
          AND r->>'method' ~ '^the price model', 'fair_value combines the version with the comparables, inside its range')
  FROM otto.fair_value('Make1', 'Model1', 2010, 120000) r;
SELECT ok((r->>'estimate_eur')::int > 0 AND r->>'confidence' = 'low' AND (r->'comparables'->>'count')::int = 0,
          'an unseen make: the model alone, at the market''s level, with low confidence')
  FROM otto.fair_value('Neverheard', 'Thing', 2012, 100000) r;
SELECT ok(r->'price_model' IS NOT NULL AND r->>'fallback' ~ 'no ads of model', 'an unseen model: its make''s comparables and the model')
  FROM otto.fair_value('Make1', 'Nosuch', 2012, 100000) r;
SELECT ok(NOT (r->'comparables'->'examples' @> jsonb_build_array(jsonb_build_object('ad_id', a.ad_id))),
          'an ad is not its own comparable')
  FROM otto.ad a, otto.fair_value(to_jsonb(a)) r WHERE a.source_ad_id = '777';
SELECT is((r->'price_model'->>'estimate_eur')::int,
          round(exp(otto.price_model_score(m.model_id, f.cat, f.num, otto.price_model_fold(a.ad_id, m.fold_seed, m.folds))))::int,
          'nor is it priced by a booster that saw its price: its fold''s prices it')
  FROM otto.price_model m, otto.ad a, otto.price_features(to_jsonb(a)) f, otto.fair_value(to_jsonb(a)) r
 WHERE a.source_ad_id = '777';

-- cross-fitting: an ad's out-of-fold price does not move with its own asking
-- price (the same training, 777 three times dearer), another fold's ad's does
CREATE TEMP TABLE oof AS SELECT 1 AS run, u.* FROM otto.price_model_fit(NULL, 7) f, unnest(f.holdout_ad, f.holdout_pred) u(ad_id, pred);
UPDATE otto.ad SET price_eur = price_eur * 3 WHERE source_ad_id = '777';
INSERT INTO oof SELECT 2, u.* FROM otto.price_model_fit(NULL, 7) f, unnest(f.holdout_ad, f.holdout_pred) u(ad_id, pred);
SELECT ok(bool_and(CASE WHEN x.fold = a777.fold THEN o1.pred = o2.pred ELSE true END)
          AND bool_or(x.fold <> a777.fold AND o1.pred <> o2.pred),
          'an ad''s own price never reaches the booster that prices it (its fold''s ads: the same to the bit)')
  FROM oof o1 JOIN oof o2 ON o2.ad_id = o1.ad_id AND o2.run = 2
  CROSS JOIN LATERAL (SELECT otto.price_model_fold(o1.ad_id, 7, 5) AS fold) x
  CROSS JOIN (SELECT otto.price_model_fold(ad_id, 7, 5) AS fold FROM otto.ad WHERE source_ad_id = '777') a777
 WHERE o1.run = 1;
UPDATE otto.ad SET price_eur = price_eur / 3 WHERE source_ad_id = '777';

-- hostile input to the scorer: never a crash, a NULL or a clear error
SELECT is(otto.price_model_score(m.model_id, ARRAY['x'], ARRAY[1]::float4[]), NULL,
          'arrays of the wrong length: NULL (a WARNING says why)') FROM otto.price_model m;
SELECT throws_ok(format('SELECT otto.price_model_score(%s, ''{{a}}'', ''{1}'')', m.model_id), '2202E', NULL,
                 'a two-dimensional array is a clear error') FROM otto.price_model m;
SELECT is(otto.price_model_score(NULL, NULL, NULL), NULL, 'NULL in, NULL out');
SELECT throws_ok(format('SELECT otto.price_model_score(%s, f.cat, f.num, 5) FROM otto.price_features(''{}'') f', m.model_id),
                 '22023', NULL, 'a fold the version does not have is a clear error') FROM otto.price_model m;
CREATE TEMP TABLE fuzz AS
SELECT i, (SELECT array_agg(CASE WHEN (i * k) % 7 = 0 THEN NULL WHEN (i * k) % 11 = 0 THEN repeat(chr(1 + (i * k) % 500), 300)
                                 ELSE md5((i * k)::text) END) FROM generate_series(1, 14) k) AS cat,
          (SELECT array_agg(CASE WHEN (i * k) % 5 = 0 THEN NULL WHEN (i * k) % 13 = 0 THEN 'NaN'::float4
                                 WHEN (i * k) % 17 = 0 THEN 'Infinity'::float4 ELSE ((i * k * 7919) % 100003 - 50000)::float4 END)
             FROM generate_series(1, 6) k) AS num
  FROM generate_series(1, 2000) i;
SELECT is(count(*) FILTER (WHERE s IS NOT NULL AND s = s), 2000::bigint,
          '2,000 random feature vectors (NULLs, NaN, infinities, control characters, over-long values) all score')
  FROM fuzz, otto.price_model m, LATERAL otto.price_model_score(m.model_id, fuzz.cat, fuzz.num) s;

-- damaged bytes are never handed to XGBoost's parser
UPDATE otto.price_model SET model[2] = overlay(model[2] PLACING '\xff'::bytea FROM 1000 FOR 1);
SELECT is(otto.price_model_score(m.model_id + 0, f.cat, f.num), NULL::float8,
          'a booster whose bytes changed: not loaded (its SHA-256 differs), NULL')
  FROM otto.price_model m, otto.price_features('{"make": "Make1", "model": "Model1", "year": 2010}') f;
SELECT is(r->'price_model', 'null', 'and fair_value falls back to the comparables')
  FROM otto.fair_value('Make2', 'Model2', 2011, 100000) r;
SELECT throws_ok($$UPDATE otto.price_model SET model_sha256 = model_sha256[1:1]$$, '23514', NULL,
                 'a checksum for every booster');
SELECT * FROM finish();
ROLLBACK;
