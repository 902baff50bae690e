-- bench/answers.sql: Otto's answers scored against the simulator's truth.
-- psql -v truth=DIR (a day's truth directory: ads.jsonl, events.jsonl) on a
-- database that crawled the simulated market up to that day.  Loads the
-- truth into schema answers_truth (Otto's functions never read it), then
-- prints one row per figure: metric|value|target|met ('-' when the figure
-- is shown but has no target).  Used by bench/answers.sh and t/190_answers.pl.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS answers_truth CASCADE;
CREATE SCHEMA answers_truth;
CREATE TABLE answers_truth.raw_ads (j jsonb);
CREATE TABLE answers_truth.raw_events (j jsonb);
\set ads_file :truth '/ads.jsonl'
\set events_file :truth '/events.jsonl'
COPY answers_truth.raw_ads FROM :'ads_file' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
COPY answers_truth.raw_events FROM :'events_file' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');

-- the live ads of the day with their hidden value, joined to Otto's rows
CREATE TABLE answers_truth.ad AS
SELECT a.ad_id, t.j->>'source_ad_id' AS source_ad_id, (t.j->>'price_eur')::int AS price,
       (t.j->'hidden'->>'fair_value_eur')::int AS value, t.j->>'make' AS make, t.j->>'model' AS model
  FROM answers_truth.raw_ads t LEFT JOIN otto.ad a ON a.source_ad_id = t.j->>'source_ad_id';
-- each model's true sale rate: its popularity, the simulator's multiplier of
-- the daily hazard of a car at its fair price
CREATE TABLE answers_truth.model AS
SELECT make, model, max(popularity) AS popularity
  FROM (SELECT j->>'make' AS make, j->>'model' AS model, (j->'hidden'->>'popularity')::float8 AS popularity
          FROM answers_truth.raw_ads
        UNION ALL
        SELECT j->>'make', j->>'model', (j->>'popularity')::float8 FROM answers_truth.raw_events WHERE j->>'kind' = 'removed') x
 GROUP BY 1, 2;
-- the truth's deal class of a price (the same thresholds as otto.deal_class)
CREATE FUNCTION answers_truth.gap_pct(price numeric, value numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT round(100 * (1 - price / value), 1) $$;

CREATE TEMP TABLE figure (ord serial, metric text, value numeric, target text, met text);

-- good deals: precision (true price at most 0.95 of the true value), false
-- deals (priced above it), and how many of the truth's 20 most underpriced
-- live ads the list finds
CREATE TEMP TABLE deal_list AS
SELECT l.name, (d->>'ad_id')::bigint AS ad_id, d->>'deal' AS deal, t.price, t.value
  FROM (VALUES ('default', otto.good_deals()), ('7 days, 50', otto.good_deals('7 days', 50))) l(name, r),
       jsonb_array_elements(l.r->'deals') d
  LEFT JOIN answers_truth.ad t ON t.ad_id = (d->>'ad_id')::bigint;
INSERT INTO figure (metric, value, target, met)
SELECT format('good_deals(%s): deals listed', l.name), count(d.ad_id), '-', '-' FROM (VALUES ('default'), ('7 days, 50')) l(name)
  LEFT JOIN deal_list d ON d.name = l.name GROUP BY l.name
UNION ALL
SELECT format('good_deals(%s): precision %%', d.name), round(100.0 * count(*) FILTER (WHERE d.price <= 0.95 * d.value) / count(*), 1),
       '>= 85', (100.0 * count(*) FILTER (WHERE d.price <= 0.95 * d.value) / count(*) >= 85)::text
  FROM deal_list d GROUP BY d.name
UNION ALL
SELECT format('good_deals(%s): false deals %%', d.name), round(100.0 * count(*) FILTER (WHERE d.price > d.value) / count(*), 1),
       '<= 5', (100.0 * count(*) FILTER (WHERE d.price > d.value) / count(*) <= 5)::text
  FROM deal_list d GROUP BY d.name
UNION ALL
SELECT 'good_deals(7 days, 50): of the truth''s 20 most underpriced live ads, found', count(d.ad_id), '>= 10', (count(d.ad_id) >= 10)::text
  FROM (SELECT t.ad_id FROM answers_truth.ad t WHERE t.price > 0 AND t.ad_id IS NOT NULL
         ORDER BY t.price::numeric / t.value, t.ad_id LIMIT 20) b
  LEFT JOIN deal_list d ON d.ad_id = b.ad_id AND d.name = '7 days, 50'
UNION ALL
SELECT format('good_deals(7 days, 50): labelled %s, truly as far under (%% of them)', d.deal),
       round(100.0 * count(*) FILTER (WHERE answers_truth.gap_pct(d.price, d.value) >= CASE d.deal WHEN 'great' THEN 20 ELSE 10 END)
             / count(*), 1), '-', '-'
  FROM deal_list d WHERE d.name = '7 days, 50' GROUP BY d.deal;

-- fastest selling: Spearman's rank correlation of the models listed with their true sale rate
INSERT INTO figure (metric, value, target, met)
SELECT 'fastest_selling(): models listed', count(*), '-', '-'
  FROM jsonb_array_elements((otto.fastest_selling())->'ranking')
UNION ALL
SELECT 'fastest_selling(): Spearman with the true sale rate', round(corr(r.pos, r.truth_pos)::numeric, 2), '>= 0.8',
       (corr(r.pos, r.truth_pos) >= 0.8)::text
  FROM (SELECT x.pos, rank() OVER (ORDER BY m.popularity DESC) AS truth_pos
          FROM jsonb_array_elements((otto.fastest_selling())->'ranking') WITH ORDINALITY x(g, pos)
          JOIN answers_truth.model m ON m.make = x.g->>'make' AND m.model = x.g->>'model') r;

-- fair value of the live ads in the market (as good_deals and the ad page
-- price them) against the hidden value and the asking price, by true value
CREATE TEMP TABLE valued AS
SELECT t.*, (f->>'estimate_eur')::numeric AS estimate, (f->'range_80_eur'->>0)::numeric AS lo, (f->'range_80_eur'->>1)::numeric AS hi
  FROM answers_truth.ad t JOIN otto.ad a ON a.ad_id = t.ad_id, otto.fair_value(to_jsonb(a)) f
 WHERE t.price > 0;
INSERT INTO figure (metric, value, target, met)
SELECT format('fair value of live ads worth %s: MdAPE %% against the hidden value (n %s)', b.band, count(*)),
       round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(v.estimate / v.value - 1))::numeric, 1), '-', '-'
  FROM valued v, LATERAL (SELECT CASE WHEN v.value < 1500 THEN 'under 1,500' WHEN v.value < 4000 THEN '1,500-4,000'
                                      WHEN v.value < 10000 THEN '4,000-10,000' ELSE '10,000 and more' END AS band) b
 GROUP BY b.band
UNION ALL
SELECT format('fair value of live ads worth %s: median signed error %%', b.band),
       round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY v.estimate / v.value - 1)::numeric, 1), '-', '-'
  FROM valued v, LATERAL (SELECT CASE WHEN v.value < 1500 THEN 'under 1,500' WHEN v.value < 4000 THEN '1,500-4,000'
                                      WHEN v.value < 10000 THEN '4,000-10,000' ELSE '10,000 and more' END AS band) b
 GROUP BY b.band
UNION ALL
SELECT 'fair value of live ads: MdAPE % against the hidden value',
       round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(v.estimate / v.value - 1))::numeric, 1), '-', '-' FROM valued v
UNION ALL
SELECT 'fair value of live ads: MdAPE % against the asking price',
       round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(v.estimate / v.price - 1))::numeric, 1), '-', '-' FROM valued v
UNION ALL
SELECT 'fair value of live ads: 80% range holds the asking price, %',
       round(100.0 * count(*) FILTER (WHERE v.price BETWEEN v.lo AND v.hi) / count(*), 1), '-', '-' FROM valued v
-- price verdicts: the class of each live ad's price against its fair value, and against its true value
UNION ALL
SELECT 'price verdicts: class agrees with the truth''s, % of live ads',
       round(100.0 * count(*) FILTER (WHERE otto.deal_class(answers_truth.gap_pct(v.price, v.estimate))
                                            = otto.deal_class(answers_truth.gap_pct(v.price, v.value))) / count(*), 1),
       '>= 80', (100.0 * count(*) FILTER (WHERE otto.deal_class(answers_truth.gap_pct(v.price, v.estimate))
                                               = otto.deal_class(answers_truth.gap_pct(v.price, v.value))) / count(*) >= 80)::text
  FROM valued v;

SELECT metric, value, target, met FROM figure ORDER BY ord;
DROP SCHEMA answers_truth CASCADE;
