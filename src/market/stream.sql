-- src/market/stream.sql: the market stream: ad events folded into per-ad state and per-model sums.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- The market stream.  The stream processor (a background worker, see
-- src/market/stream.c; or otto.stream_apply by hand) folds otto.ad_event, in
-- event_id order from a stored watermark, into a per-ad state
-- (otto.market_ad) and per-group sums (otto.market_mmy per make, model and
-- year; otto.market_mm per make and model), in the same transaction as the
-- new watermark: a crash neither loses nor double-counts an event.
--
-- Each ad contributes a vector of terms (otto.market_terms) to its group's
-- sums; an event subtracts the ad's old vector and adds its new one.  Terms
-- are exact numerics (log prices rounded to 6 places before summing), so
-- the sums do not depend on the order they were added in and the
-- incremental tables equal a recompute from scratch exactly.
-------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION otto.vec_add(a numeric[], b numeric[]) RETURNS numeric[]
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_vec_add';
COMMENT ON FUNCTION otto.vec_add(numeric[], numeric[]) IS 'Element-wise sum of two equally long numeric vectors (NULL counts as zero)';
CREATE OR REPLACE FUNCTION otto.vec_neg(a numeric[]) RETURNS numeric[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_vec_neg';
COMMENT ON FUNCTION otto.vec_neg(numeric[]) IS 'Element-wise negation of a numeric vector';
CREATE OR REPLACE AGGREGATE otto.vec_sum(numeric[]) (SFUNC = otto.vec_add, STYPE = numeric[], COMBINEFUNC = otto.vec_add,
                                          PARALLEL = SAFE);
COMMENT ON AGGREGATE otto.vec_sum(numeric[]) IS 'Element-wise sum of numeric vectors';

CREATE TABLE otto.stream_state (
    stream          text PRIMARY KEY CHECK (stream = 'market'),
    watermark       bigint NOT NULL DEFAULT 0,
    events          bigint NOT NULL DEFAULT 0,
    batches         bigint NOT NULL DEFAULT 0,
    applied_at      timestamptz,
    last_event_at   timestamptz,
    kinds           jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE otto.stream_state IS 'Where the stream processor is: every ad event with event_id <= watermark is in the market tables, none after it (no row: nothing applied yet)';
COMMENT ON COLUMN otto.stream_state.watermark IS 'event_id of the last event applied';
COMMENT ON COLUMN otto.stream_state.batches IS 'Transactions that applied events since the last rebuild';
COMMENT ON COLUMN otto.stream_state.events IS 'Events applied since the last rebuild';
COMMENT ON COLUMN otto.stream_state.kinds IS 'Events in the log up to the watermark, by kind (otto.metrics adds the ones past it)';
COMMENT ON COLUMN otto.stream_state.applied_at IS 'When the last batch committed';
COMMENT ON COLUMN otto.stream_state.last_event_at IS 'Observation time of the last event applied';

CREATE TABLE otto.market_ad (
    ad_id           bigint PRIMARY KEY,
    make            text,
    model           text,
    year            int,
    fuel            text,
    body            text,
    price_eur       int,
    mileage_km      int,
    power_kw        int,
    listed_at       timestamptz NOT NULL,
    live            boolean NOT NULL,
    continued       boolean NOT NULL DEFAULT false,
    removed_days    numeric(8,2),
    prior_days      numeric(8,2) NOT NULL DEFAULT 0,
    price_cuts      int NOT NULL DEFAULT 0,
    price_cut_eur   bigint NOT NULL DEFAULT 0
);
-- covering, so that fair_value reads its comparables from the index alone
CREATE INDEX market_ad_live_idx ON otto.market_ad (make, model, year, price_eur)
    INCLUDE (mileage_km, fuel, power_kw, ad_id) WHERE live;
CREATE INDEX market_ad_sold_idx ON otto.market_ad (make, model, year, (prior_days + removed_days))
    WHERE NOT live AND NOT continued;
CREATE INDEX market_ad_listed_idx ON otto.market_ad (listed_at) WHERE live;    -- good_deals' fresh ads
CREATE INDEX market_ad_cut_idx ON otto.market_ad (ad_id) WHERE live AND price_cuts > 0;   -- search_ads' price_cut
CREATE INDEX market_ad_price_idx ON otto.market_ad (price_eur) WHERE live AND price_eur > 0;   -- the market's median price
CREATE INDEX market_ad_mileage_idx ON otto.market_ad (mileage_km) WHERE live;                 -- and mileage
COMMENT ON TABLE otto.market_ad IS 'The stream''s state of each ad: its fields as of its last applied event, and what the event log says about it';
COMMENT ON COLUMN otto.market_ad.live IS 'Its last applied event was not a removal';
COMMENT ON COLUMN otto.market_ad.price_eur IS 'Asking price (and the other fields) as of its last applied event';
COMMENT ON COLUMN otto.market_ad.price_cut_eur IS 'Euros taken off the price by those reductions, in all';
COMMENT ON COLUMN otto.market_ad.listed_at IS 'First new or relisted event of this ad id';
COMMENT ON COLUMN otto.market_ad.continued IS 'A relist under a new id continues this ad: its removal was not a sale';
COMMENT ON COLUMN otto.market_ad.removed_days IS 'Days on market of its last removal (first seen to found gone)';
COMMENT ON COLUMN otto.market_ad.prior_days IS 'Days on market of the ads it continues (relists under new ids), counted into its own sale';
COMMENT ON COLUMN otto.market_ad.price_cuts IS 'Price reductions seen (price_changed to a lower price)';

-- The term vector: its positions are the columns of otto.market_stats.
CREATE OR REPLACE FUNCTION otto.market_terms(m otto.market_ad) RETURNS numeric[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT ARRAY[
    1,                                                                  -- 1 ads
    m.live::int,                                                        -- 2 live
    (m.live AND m.price_eur > 0)::int,                                  -- 3 priced
    CASE WHEN m.live AND m.price_eur > 0 THEN m.price_eur ELSE 0 END,   -- 4 price sum
    CASE WHEN m.live AND m.price_eur > 0 THEN m.price_eur::numeric * m.price_eur ELSE 0 END,  -- 5 price squares
    -- 6..15: regression of ln(price) on age a (years at listing) and mileage k (1000 km)
    r.n, r.n * r.a, r.n * r.k, r.n * r.y, r.n * r.a * r.a, r.n * r.a * r.k, r.n * r.k * r.k,
    r.n * r.a * r.y, r.n * r.k * r.y, r.n * r.y * r.y,
    s.n, s.n * s.d, s.n * s.d * s.d, (s.n = 1 AND s.d <= 7)::int, (s.n = 1 AND s.d <= 30)::int,  -- 16..20 sales
    (m.price_cuts > 0)::int, m.price_cuts, m.price_cut_eur,            -- 21..23 price cuts
    (m.live AND m.price_cuts > 0)::int, CASE WHEN m.live THEN m.price_cut_eur ELSE 0 END,  -- 24, 25 on live ads
    m.continued::int,                                                   -- 26 relisted
    (m.live AND m.mileage_km IS NOT NULL)::int, CASE WHEN m.live THEN coalesce(m.mileage_km, 0) ELSE 0 END  -- 27, 28
]::numeric[]
|| ARRAY(SELECT (m.live AND m.price_eur > 0 AND least(m.price_eur / 2500, 20) = b)::int       -- 29..49 live ads by price,
           FROM generate_series(0, 20) b)::numeric[]                                           --   bins of 2,500 EUR (the last open)
|| ARRAY(SELECT (m.live AND m.mileage_km IS NOT NULL AND least(m.mileage_km / 25000, 16) = b)::int  -- 50..66 by mileage,
           FROM generate_series(0, 16) b)::numeric[]                                           --   bins of 25,000 km (the last open)
-- 67, 68: live ads' days since the epoch when listed, and their earlier listings' days: the live ads'
-- days on the market as of t are then live x t - s[67] + s[68] (otto.fastest_selling's exposure)
|| ARRAY[CASE WHEN m.live THEN extract(epoch FROM m.listed_at) / 86400 ELSE 0 END, CASE WHEN m.live THEN m.prior_days ELSE 0 END]
  FROM (SELECT (m.live AND m.price_eur > 0 AND m.year IS NOT NULL AND m.mileage_km IS NOT NULL)::int AS n,
               coalesce(extract(year FROM m.listed_at AT TIME ZONE 'UTC')::int - m.year, 0)::numeric AS a,
               coalesce(m.mileage_km, 0) / 1000.0 AS k,
               CASE WHEN m.price_eur > 0 THEN round(ln(m.price_eur)::numeric, 6) ELSE 0 END AS y) r,
       (SELECT (NOT m.live AND NOT m.continued)::int AS n, m.prior_days + coalesce(m.removed_days, 0) AS d) s
$fn$;
COMMENT ON FUNCTION otto.market_terms(otto.market_ad) IS 'What one ad adds to its group''s sums (positions as in otto.market_stats)';

CREATE TABLE otto.market_mmy (
    make            text NOT NULL,
    model           text NOT NULL,
    year            int,
    s               numeric[] NOT NULL,
    UNIQUE NULLS NOT DISTINCT (make, model, year)
);
CREATE TABLE otto.market_mm (
    make            text NOT NULL,
    model           text NOT NULL,
    s               numeric[] NOT NULL,
    PRIMARY KEY (make, model)
);
CREATE INDEX market_mm_make_idx ON otto.market_mm (lower(make));   -- otto.market_name
COMMENT ON TABLE otto.market_mmy IS 'Sums of otto.market_terms per make, model and year, kept by the stream processor (read them through otto.market_model_year)';
COMMENT ON COLUMN otto.market_mmy.s IS 'Sum of the group''s ads'' otto.market_terms vectors';
COMMENT ON COLUMN otto.market_mmy.year IS 'Model year; NULL groups the ads that do not state one';
COMMENT ON COLUMN otto.market_mm.s IS 'Sum of the model''s ads'' otto.market_terms vectors';
COMMENT ON TABLE otto.market_mm IS 'Sums of otto.market_terms per make and model, kept by the stream processor (read them through otto.market_model)';

CREATE OR REPLACE FUNCTION otto.market_stats(s numeric[],
    OUT ads bigint, OUT live bigint, OUT priced bigint, OUT price_mean numeric, OUT price_sd numeric,
    OUT regression_n bigint, OUT sold bigint, OUT days_on_market_mean numeric, OUT days_on_market_sd numeric,
    OUT sold_within_7d bigint, OUT sold_within_30d bigint, OUT ads_price_cut bigint, OUT price_cuts bigint,
    OUT price_cut_eur numeric, OUT live_ads_price_cut bigint, OUT live_price_cut_eur numeric, OUT relisted bigint,
    OUT mileage_mean numeric)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
SELECT s[1], s[2], s[3], round(s[4] / nullif(s[3], 0)),
       CASE WHEN s[3] > 1 THEN round(sqrt(greatest(0, (s[5] - s[4] * s[4] / s[3]) / (s[3] - 1)))) END,
       s[6], s[16], round(s[17] / nullif(s[16], 0), 2),
       CASE WHEN s[16] > 1 THEN round(sqrt(greatest(0, (s[18] - s[17] * s[17] / s[16]) / (s[16] - 1))), 2) END,
       s[19], s[20], s[21], s[22], s[23], s[24], s[25], s[26], round(s[28] / nullif(s[27], 0))
$fn$;
COMMENT ON FUNCTION otto.market_stats(numeric[]) IS 'A group''s sums as named figures';

CREATE OR REPLACE VIEW otto.market_model_year AS
SELECT g.make, g.model, g.year, (otto.market_stats(g.s)).* FROM otto.market_mmy g;
COMMENT ON VIEW otto.market_model_year IS 'Market figures per make, model and year, fresh as of otto.stream_state.watermark: ads seen, live, asking-price mean and spread, sales (removals not followed by a relist) with days on market, price cuts, relists';
CREATE OR REPLACE VIEW otto.market_model AS
SELECT g.make, g.model, (otto.market_stats(g.s)).* FROM otto.market_mm g;
COMMENT ON VIEW otto.market_model IS 'Market figures per make and model (as otto.market_model_year, over all years)';

-- The serialisation point of the log.  An event id is drawn when the event is
-- inserted, not when it commits, so a smaller id can become visible after a
-- larger one.  SHARE mode waits for every transaction that is inserting
-- events to end (and holds off new ones for that instant); every event up to
-- the largest id visible then is final.
CREATE OR REPLACE FUNCTION otto.stream_horizon() RETURNS bigint
LANGUAGE plpgsql
SET lock_timeout = '200ms'
AS $fn$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'the stream processor needs READ COMMITTED, not %', current_setting('transaction_isolation')
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    LOCK TABLE otto.ad_event IN SHARE MODE;
    RETURN (SELECT coalesce(max(event_id), 0) FROM otto.ad_event);
END
$fn$;
COMMENT ON FUNCTION otto.stream_horizon() IS 'The largest event id up to which the ad log is final (waits up to 200 ms for transactions inserting events; holds the log''s SHARE lock to the end of the transaction)';

-- The events after one id up to another, folded per ad; the fields are the
-- ad's as it is now.  The incremental step folds a batch, the recompute the
-- whole log (continued and prior_days come from the relist links, apart).
CREATE OR REPLACE FUNCTION otto.market_fold(after bigint, upto bigint) RETURNS SETOF otto.market_ad
LANGUAGE sql STABLE
AS $fn$
    SELECT p.ad_id, a.make, a.model, a.year, a.fuel, a.body, a.price_eur, a.mileage_km, a.power_kw,
           coalesce(p.listed_at, a.first_seen_at), p.live, false, p.removed_days, 0::numeric, p.cuts::int, p.cut_eur
      FROM (SELECT e.ad_id,
                   (array_agg(e.kind ORDER BY e.event_id DESC))[1] <> 'removed' AS live,
                   (array_agg(e.days_on_market ORDER BY e.event_id DESC) FILTER (WHERE e.kind = 'removed'))[1] AS removed_days,
                   min(e.at) FILTER (WHERE e.kind IN ('new', 'relisted')) AS listed_at,
                   count(*) FILTER (WHERE e.new_price_eur < e.old_price_eur AND e.kind = 'price_changed') AS cuts,
                   coalesce(sum(e.old_price_eur - e.new_price_eur)
                                FILTER (WHERE e.new_price_eur < e.old_price_eur AND e.kind = 'price_changed'), 0) AS cut_eur
              FROM otto.ad_event e
             WHERE e.event_id > market_fold.after AND e.event_id <= market_fold.upto
             GROUP BY e.ad_id) p
      JOIN otto.ad a ON a.ad_id = p.ad_id
$fn$;
COMMENT ON FUNCTION otto.market_fold(bigint, bigint) IS 'The ad events with after < event_id <= upto folded into one otto.market_ad row per ad (continued and prior_days left to the relist links)';

-- The stream's row, locked: one consumer at a time.  The row is made on first
-- use, not by the install script, so that a restored dump brings its own
-- (an installed row would collide with it and the watermark would be lost).
CREATE OR REPLACE FUNCTION otto.stream_lock() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    wm bigint;
BEGIN
    SELECT s.watermark INTO wm FROM otto.stream_state s WHERE s.stream = 'market' FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO otto.stream_state (stream) VALUES ('market') ON CONFLICT DO NOTHING;
        SELECT s.watermark INTO STRICT wm FROM otto.stream_state s WHERE s.stream = 'market' FOR UPDATE;
    END IF;
    RETURN wm;
END
$fn$;
COMMENT ON FUNCTION otto.stream_lock() IS 'Locks the market stream''s state row (making it on first use) and returns its watermark';

CREATE OR REPLACE FUNCTION otto.stream_apply(max_events int DEFAULT 10000, horizon bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    wm      bigint;
    hz      bigint := horizon;
    n       int;
    last_id bigint;
    last_at timestamptz;
    touched bigint[];
    before  otto.market_ad[];
    r       record;
BEGIN
    IF max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    wm := otto.stream_lock();
    hz := coalesce(hz, otto.stream_horizon());
    SELECT count(*), max(e.event_id), max(e.at) INTO n, last_id, last_at
      FROM (SELECT e.event_id, e.at FROM otto.ad_event e WHERE e.event_id > wm AND e.event_id <= hz
             ORDER BY e.event_id LIMIT max_events) e;
    IF n = 0 THEN
        RETURN jsonb_build_object('events', 0, 'watermark', wm);
    END IF;

    -- the ads whose contribution changes: those of the events, and the ones a relist continues
    SELECT array_agg(DISTINCT x) INTO touched
      FROM otto.ad_event e, LATERAL (VALUES (e.ad_id), ((e.details->>'relist_of_ad_id')::bigint)) v(x)
     WHERE e.event_id > wm AND e.event_id <= last_id AND x IS NOT NULL;
    SELECT array_agg(m) INTO before FROM otto.market_ad m WHERE m.ad_id = ANY (touched);

    -- fold the batch into the per-ad state
    INSERT INTO otto.market_ad AS m SELECT * FROM otto.market_fold(wm, last_id)
    ON CONFLICT (ad_id) DO UPDATE
       SET make = excluded.make, model = excluded.model, year = excluded.year, fuel = excluded.fuel,
           body = excluded.body, price_eur = excluded.price_eur, mileage_km = excluded.mileage_km,
           power_kw = excluded.power_kw, live = excluded.live,
           removed_days = coalesce(excluded.removed_days, m.removed_days),
           price_cuts = m.price_cuts + excluded.price_cuts, price_cut_eur = m.price_cut_eur + excluded.price_cut_eur;

    -- relists under a new id: the old ad was not sold; its days on market carry over
    FOR r IN SELECT e.event_id, e.ad_id, (e.details->>'relist_of_ad_id')::bigint AS pred
               FROM otto.ad_event e
              WHERE e.event_id > wm AND e.event_id <= last_id AND e.kind = 'relisted' AND e.details ? 'relist_of_ad_id'
              ORDER BY e.event_id LOOP
        UPDATE otto.market_ad p SET continued = true WHERE p.ad_id = r.pred;
        UPDATE otto.market_ad m SET prior_days = p.prior_days + coalesce(otto.removal_days_before(r.pred, r.event_id), 0)
          FROM otto.market_ad p WHERE m.ad_id = r.ad_id AND p.ad_id = r.pred;
    END LOOP;

    -- the groups' sums: minus the old terms, plus the new
    WITH t AS (SELECT b.make, b.model, b.year, otto.vec_neg(otto.market_terms(b)) AS terms FROM unnest(before) b
               UNION ALL
               SELECT m.make, m.model, m.year, otto.market_terms(m) FROM otto.market_ad m WHERE m.ad_id = ANY (touched)),
         d AS (SELECT t.make, t.model, t.year, otto.vec_sum(t.terms) AS s FROM t
                WHERE t.make IS NOT NULL AND t.model IS NOT NULL GROUP BY 1, 2, 3),
         y AS (INSERT INTO otto.market_mmy AS g (make, model, year, s) SELECT * FROM d
               ON CONFLICT (make, model, year) DO UPDATE SET s = otto.vec_add(g.s, excluded.s))
    INSERT INTO otto.market_mm AS g (make, model, s)
    SELECT d.make, d.model, otto.vec_sum(d.s) FROM d GROUP BY 1, 2
    ON CONFLICT (make, model) DO UPDATE SET s = otto.vec_add(g.s, excluded.s);
    -- a group all of whose ads moved away (a corrected year, make or model) is gone
    DELETE FROM otto.market_mmy g USING unnest(before) b
     WHERE g.s[1] = 0 AND g.make = b.make AND g.model = b.model AND g.year IS NOT DISTINCT FROM b.year;
    DELETE FROM otto.market_mm g USING unnest(before) b WHERE g.s[1] = 0 AND g.make = b.make AND g.model = b.model;

    UPDATE otto.stream_state s
       SET watermark = last_id, events = s.events + n, batches = s.batches + 1,
           applied_at = clock_timestamp(), last_event_at = last_at,
           kinds = (SELECT jsonb_object_agg(y.kind, y.n)
                      FROM (SELECT x.kind, sum(x.n) AS n
                              FROM (SELECT k.key AS kind, k.value::bigint AS n FROM jsonb_each_text(s.kinds) k
                                    UNION ALL
                                    SELECT e.kind, count(*) FROM otto.ad_event e
                                     WHERE e.event_id > wm AND e.event_id <= last_id GROUP BY e.kind) x
                             GROUP BY x.kind) y)
     WHERE s.stream = 'market';
    RETURN jsonb_build_object('events', n, 'watermark', last_id, 'ads', cardinality(touched));
END
$fn$;
COMMENT ON FUNCTION otto.stream_apply(int, bigint) IS 'Apply the next ad events (at most max_events, up to horizon; by default otto.stream_horizon()) to the market tables and move the watermark, in the caller''s transaction. The stream processor runs it in a loop; returns the events applied and the new watermark';

CREATE OR REPLACE FUNCTION otto.removal_days_before(ad_id bigint, event_id bigint) RETURNS numeric
LANGUAGE sql STABLE
AS $fn$
    SELECT e.days_on_market FROM otto.ad_event e
     WHERE e.ad_id = removal_days_before.ad_id AND e.event_id < removal_days_before.event_id AND e.kind = 'removed'
     ORDER BY e.event_id DESC LIMIT 1
$fn$;
COMMENT ON FUNCTION otto.removal_days_before(bigint, bigint) IS 'Days on market of the ad''s last removal before an event (what a relist under a new id carries over)';

-- The same state computed from scratch, set-wise, from the log and the ads.
CREATE OR REPLACE FUNCTION otto.market_ad_recompute(watermark bigint) RETURNS SETOF otto.market_ad
LANGUAGE sql STABLE
AS $fn$
WITH RECURSIVE f AS (SELECT * FROM otto.market_fold(0, market_ad_recompute.watermark)),
links AS (SELECT e.ad_id, (e.details->>'relist_of_ad_id')::bigint AS pred, e.event_id
            FROM otto.ad_event e
           WHERE e.event_id <= market_ad_recompute.watermark AND e.kind = 'relisted' AND e.details ? 'relist_of_ad_id'),
chain AS (SELECT f.ad_id, 0::numeric AS prior FROM f WHERE f.ad_id NOT IN (SELECT l.ad_id FROM links l)
          UNION ALL
          SELECT l.ad_id, c.prior + coalesce(otto.removal_days_before(l.pred, l.event_id), 0)
            FROM chain c JOIN links l ON l.pred = c.ad_id)
SELECT f.ad_id, f.make, f.model, f.year, f.fuel, f.body, f.price_eur, f.mileage_km, f.power_kw, f.listed_at, f.live,
       f.ad_id IN (SELECT l.pred FROM links l), f.removed_days, c.prior, f.price_cuts, f.price_cut_eur
  FROM f JOIN chain c ON c.ad_id = f.ad_id
$fn$;
COMMENT ON FUNCTION otto.market_ad_recompute(bigint) IS 'otto.market_ad computed from scratch from the ad log up to a watermark and the ads'' current fields';

CREATE OR REPLACE FUNCTION otto.market_groups_recompute(watermark bigint, OUT make text, OUT model text, OUT year int,
                                             OUT s numeric[])
RETURNS SETOF record
LANGUAGE sql STABLE
AS $fn$
    SELECT m.make, m.model, m.year, otto.vec_sum(otto.market_terms(m))
      FROM otto.market_ad_recompute(watermark) m
     WHERE m.make IS NOT NULL AND m.model IS NOT NULL
     GROUP BY 1, 2, 3
$fn$;
COMMENT ON FUNCTION otto.market_groups_recompute(bigint) IS 'otto.market_mmy computed from scratch from the ad log up to a watermark (what a REFRESH of a materialized view would do)';

CREATE OR REPLACE FUNCTION otto.stream_check() RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
    wm   bigint := coalesce((SELECT watermark FROM otto.stream_state WHERE stream = 'market'), 0);
    ads  bigint;
    mmy  bigint;
    mm   bigint;
BEGIN
    SELECT count(*) INTO ads FROM ((TABLE otto.market_ad EXCEPT SELECT * FROM otto.market_ad_recompute(wm))
                                   UNION ALL
                                   (SELECT * FROM otto.market_ad_recompute(wm) EXCEPT TABLE otto.market_ad)) x;
    CREATE TEMP TABLE stream_check_groups ON COMMIT DROP AS SELECT * FROM otto.market_groups_recompute(wm);
    SELECT count(*) INTO mmy FROM ((TABLE otto.market_mmy EXCEPT TABLE stream_check_groups)
                                   UNION ALL (TABLE stream_check_groups EXCEPT TABLE otto.market_mmy)) x;
    SELECT count(*) INTO mm FROM ((SELECT g.make, g.model, g.s FROM otto.market_mm g EXCEPT
                                   SELECT g.make, g.model, otto.vec_sum(g.s) FROM stream_check_groups g GROUP BY 1, 2)
                                  UNION ALL
                                  (SELECT g.make, g.model, otto.vec_sum(g.s) FROM stream_check_groups g GROUP BY 1, 2
                                   EXCEPT SELECT g.make, g.model, g.s FROM otto.market_mm g)) x;
    DROP TABLE stream_check_groups;
    RETURN jsonb_build_object('watermark', wm,
                              'caught_up', wm >= (SELECT coalesce(max(event_id), 0) FROM otto.ad_event),
                              'ads', (SELECT count(*) FROM otto.market_ad),
                              'groups', (SELECT count(*) FROM otto.market_mmy),
                              'ads_differing', ads, 'model_year_groups_differing', mmy, 'model_groups_differing', mm,
                              'equal', ads + mmy + mm = 0);
END
$fn$;
COMMENT ON FUNCTION otto.stream_check() IS 'Compare the incremental market tables with a recompute from scratch at the same watermark: rows that differ (none when equal)';

CREATE OR REPLACE FUNCTION otto.stream_rebuild() RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
    hz bigint;
BEGIN
    PERFORM otto.stream_lock();
    hz := otto.stream_horizon();
    DELETE FROM otto.market_ad;
    INSERT INTO otto.market_ad SELECT * FROM otto.market_ad_recompute(hz);
    DELETE FROM otto.market_mmy;
    INSERT INTO otto.market_mmy (make, model, year, s)
    SELECT m.make, m.model, m.year, otto.vec_sum(otto.market_terms(m)) FROM otto.market_ad m
     WHERE m.make IS NOT NULL AND m.model IS NOT NULL GROUP BY 1, 2, 3;
    DELETE FROM otto.market_mm;
    INSERT INTO otto.market_mm (make, model, s) SELECT g.make, g.model, otto.vec_sum(g.s) FROM otto.market_mmy g GROUP BY 1, 2;
    UPDATE otto.stream_state SET watermark = hz, events = 0, batches = 0, applied_at = clock_timestamp(),
                                 last_event_at = (SELECT at FROM otto.ad_event WHERE event_id = hz),
                                 kinds = coalesce((SELECT jsonb_object_agg(x.kind, x.n)
                                                     FROM (SELECT e.kind, count(*) AS n FROM otto.ad_event e
                                                            WHERE e.event_id <= hz GROUP BY e.kind) x), '{}')
     WHERE stream = 'market';
    RETURN jsonb_build_object('watermark', hz, 'ads', (SELECT count(*) FROM otto.market_ad),
                              'groups', (SELECT count(*) FROM otto.market_mmy));
END
$fn$;
COMMENT ON FUNCTION otto.stream_rebuild() IS 'Recompute the market tables from scratch up to the current end of the ad log and move the watermark there (after a change of the terms, or to repair)';

CREATE OR REPLACE VIEW otto.stream_status AS
SELECT s.watermark, s.events, s.batches, s.applied_at, s.last_event_at,
       (SELECT count(*) FROM otto.ad_event e WHERE e.event_id > s.watermark) AS lag_events,
       CASE WHEN EXISTS (SELECT FROM otto.ad_event e WHERE e.event_id > s.watermark)
            THEN extract(epoch FROM clock_timestamp() - (SELECT min(e.at) FROM otto.ad_event e WHERE e.event_id > s.watermark))
            ELSE 0 END AS lag_seconds,
       (SELECT pid FROM pg_stat_activity WHERE backend_type = 'otto stream') AS worker_pid
  FROM otto.stream_state s;
COMMENT ON VIEW otto.stream_status IS 'The stream processor: watermark, events and batches applied, and how far behind the log it is (events, and seconds since the oldest unapplied event was observed)';

-------------------------------------------------------------------------------

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.stream_state', '');
SELECT pg_catalog.pg_extension_config_dump('otto.market_ad', '');
SELECT pg_catalog.pg_extension_config_dump('otto.market_mmy', '');
SELECT pg_catalog.pg_extension_config_dump('otto.market_mm', '');
GRANT SELECT ON otto.stream_state, otto.market_ad, otto.market_mm, otto.market_mmy, otto.market_model,
                otto.market_model_year TO otto_app;
