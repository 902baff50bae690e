-- bench/answers.sql: Otto's answers scored against the simulator's truth.
-- psql -v truth=DIR (a day's truth directory: ads.jsonl, events.jsonl) on a
-- database that crawled the simulated market up to that day.  Loads the
-- truth into schema answers_truth (Otto's functions never read it), then
-- prints one row per figure: metric|value|target|met ('-' when the figure
-- is shown but has no target).  Besides Otto's figures, two ceilings: the
-- best any ranking or verdict made from Otto's fair value and the car's age
-- could do, fitted on the truth itself (the truth's own rate per bin of
-- age and gap, in-sample, so optimistic): how much of a miss is Otto's
-- answer and how much the estimate's accuracy.  -v min_sold (default 10):
-- fastest_selling's; -v min_sure (default 80, as good_deals'): good_deals'.  Used by bench/answers.sh and t/190_answers.pl.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
\if :{?min_sold}
\else
\set min_sold 10
\endif
\if :{?min_sure}
\else
\set min_sure 80
\endif
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
-- each model's hidden sale propensity: its popularity, the simulator's
-- multiplier of the daily hazard of a car at its fair price
CREATE TABLE answers_truth.model AS
SELECT make, model, max(popularity) AS popularity
  FROM (SELECT j->>'make' AS make, j->>'model' AS model, (j->'hidden'->>'popularity')::float8 AS popularity
          FROM answers_truth.raw_ads
        UNION ALL
        SELECT j->>'make', j->>'model', (j->>'popularity')::float8 FROM answers_truth.raw_events WHERE j->>'kind' = 'removed') x
 GROUP BY 1, 2;
-- each model's sales per ad-day in the simulator's own log over the days
-- simulated (a perfect crawl): a sale is a removal not relisted; an ad's
-- days run from its first day to its removal or the last day
CREATE TABLE answers_truth.sales AS
SELECT w.make, w.model, count(*) FILTER (WHERE w.gone IS NOT NULL AND NOT w.relisted) AS sold,
       sum(coalesce(w.gone, (SELECT max((j->>'day')::int) FROM answers_truth.raw_events)) - w.start) AS days
  FROM (SELECT e.j->>'source_ad_id' AS id, min((e.j->>'day')::int) FILTER (WHERE e.j->>'kind' IN ('new', 'relisted')) AS start,
               min((e.j->>'day')::int) FILTER (WHERE e.j->>'kind' = 'removed') AS gone,
               e.j->>'source_ad_id' IN (SELECT j->>'relist_of' FROM answers_truth.raw_events WHERE j->>'kind' = 'relisted') AS relisted,
               coalesce(max(e.j->>'make') FILTER (WHERE e.j->>'kind' = 'removed'), max(t.make)) AS make,
               coalesce(max(e.j->>'model') FILTER (WHERE e.j->>'kind' = 'removed'), max(t.model)) AS model
          FROM answers_truth.raw_events e LEFT JOIN answers_truth.ad t ON t.source_ad_id = e.j->>'source_ad_id'
         GROUP BY 1) w
 WHERE w.make IS NOT NULL AND w.start IS NOT NULL GROUP BY 1, 2;
-- the truth's deal class of a price (the same thresholds as otto.deal_class)
CREATE FUNCTION answers_truth.gap_pct(price numeric, value numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT round(100 * (1 - price / value), 1) $$;

CREATE TEMP TABLE figure (ord serial, metric text, value numeric, target text, met text);

-- good deals: precision (true price at most 0.95 of the true value), false
-- deals (priced above it), and how many of the truth's 20 most underpriced
-- live ads the list finds
CREATE TEMP TABLE truth_top20 AS        -- the truth's 20 most underpriced live ads
SELECT t.ad_id FROM answers_truth.ad t WHERE t.price > 0 AND t.ad_id IS NOT NULL ORDER BY t.price::numeric / t.value, t.ad_id LIMIT 20;
CREATE TEMP TABLE deal_list AS
SELECT l.name, (d->>'ad_id')::bigint AS ad_id, d->>'deal' AS deal, t.price, t.value
  FROM (VALUES ('default', otto.good_deals(min_sure_pct => :min_sure)),
               ('7 days, 50', otto.good_deals('7 days', 50, min_sure_pct => :min_sure))) l(name, r),
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
  FROM truth_top20 b LEFT JOIN deal_list d ON d.ad_id = b.ad_id AND d.name = '7 days, 50'
UNION ALL
SELECT format('good_deals(7 days, 50): labelled %s, truly as far under (%% of them)', d.deal),
       round(100.0 * count(*) FILTER (WHERE answers_truth.gap_pct(d.price, d.value) >= CASE d.deal WHEN 'great' THEN 20 ELSE 10 END)
             / count(*), 1), '-', '-'
  FROM deal_list d WHERE d.name = '7 days, 50' GROUP BY d.deal;

-- fastest selling: Spearman's rank correlation of the models listed with
-- the truth's sales per ad-day (what sold fastest in this market), and
-- with their hidden propensity (which a few days' sales tell only roughly:
-- see its ceiling below)
CREATE TEMP TABLE fast AS
SELECT x.pos, m.popularity, s.sold::float8 / nullif(s.days, 0) AS sales_rate
  FROM jsonb_array_elements((otto.fastest_selling(min_sold => :min_sold))->'ranking') WITH ORDINALITY x(g, pos)
  LEFT JOIN answers_truth.model m ON m.make = x.g->>'make' AND m.model = x.g->>'model'
  LEFT JOIN answers_truth.sales s ON s.make = x.g->>'make' AND s.model = x.g->>'model';
INSERT INTO figure (metric, value, target, met)
SELECT 'fastest_selling(): models listed', count(*), '-', '-' FROM fast
UNION ALL
SELECT 'fastest_selling(): Spearman with the truth''s sales per ad-day', round(corr(r.pos, r.truth_pos)::numeric, 2), '>= 0.8',
       (corr(r.pos, r.truth_pos) >= 0.8)::text
  FROM (SELECT f.pos, rank() OVER (ORDER BY f.sales_rate DESC) AS truth_pos FROM fast f) r
UNION ALL
SELECT 'fastest_selling(): Spearman with the models'' hidden propensity', round(corr(r.pos, r.truth_pos)::numeric, 2), '-', '-'
  FROM (SELECT f.pos, rank() OVER (ORDER BY f.popularity DESC) AS truth_pos FROM fast f) r;

-- fair value of the live ads in the market (as good_deals and the ad page
-- price them) against the hidden value and the asking price, by true value
CREATE TEMP TABLE valued AS
SELECT t.*, (v->>'fair_value_eur')::numeric AS estimate, (v->'range_80_eur'->>0)::numeric AS lo,
       (v->'range_80_eur'->>1)::numeric AS hi, v->>'verdict' AS verdict
  FROM answers_truth.ad t, otto.price_verdict(t.ad_id) v
 WHERE t.price > 0 AND v->>'verdict' IS NOT NULL;
INSERT INTO figure (metric, value, target, met)
SELECT format('fair value of live ads worth %s: how many', b.band), count(*), '-', '-'
  FROM valued v, LATERAL (SELECT CASE WHEN v.value < 1500 THEN 'under 1,500' WHEN v.value < 4000 THEN '1,500-4,000'
                                      WHEN v.value < 10000 THEN '4,000-10,000' ELSE '10,000 and more' END AS band) b
 GROUP BY b.band
UNION ALL
SELECT format('fair value of live ads worth %s: MdAPE %% against the hidden value', b.band),
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
-- price verdicts (otto.price_verdict of each live ad) against the truth's class
UNION ALL
SELECT 'price verdicts: class agrees with the truth''s, % of live ads',
       round(100.0 * count(*) FILTER (WHERE v.verdict = otto.deal_class(answers_truth.gap_pct(v.price, v.value))) / count(*), 1),
       '>= 80', (100.0 * count(*) FILTER (WHERE v.verdict = otto.deal_class(answers_truth.gap_pct(v.price, v.value))) / count(*) >= 80)::text
  FROM valued v;

-- the ceilings: per bin of age (5-year bands) and gap (0.05 in logs), the
-- truth's own share; the best 50 ads by it, and the best class per bin
CREATE TEMP TABLE binned AS
SELECT v.*, ln(v.value::float8 / v.price) AS t, ln(v.estimate / v.price) AS g,
       least((2019 - a.year) / 5, 4) * 1000 + floor(ln(v.estimate / v.price) / 0.05)::int AS bin
  FROM valued v JOIN otto.ad a ON a.ad_id = v.ad_id WHERE a.year IS NOT NULL;
CREATE TEMP TABLE best50 AS             -- the best 50 by their bin's share truly 5% under
SELECT b.*, (sum((b.t >= ln(1 / 0.95))::int) OVER w + 0.5) / (count(*) OVER w + 1) AS p
  FROM binned b WINDOW w AS (PARTITION BY b.bin) ORDER BY p DESC, b.g DESC LIMIT 50;
INSERT INTO figure (metric, value, target, met)
SELECT 'ceiling: precision % of the best 50 by (age, gap) bins fitted on the truth', round(100.0 * avg((x.t >= ln(1 / 0.95))::int), 1), '-', '-'
  FROM best50 x
UNION ALL
SELECT 'ceiling: priced above their value, % of the best 50 by (age, gap) bins fitted on the truth', round(100.0 * avg((x.t < 0)::int), 1), '-', '-'
  FROM best50 x
UNION ALL
SELECT 'ceiling: of the truth''s 20 most underpriced live ads, in the best 50 by (age, gap) bins fitted on the truth', count(*), '-', '-'
  FROM best50 x WHERE x.ad_id IN (SELECT ad_id FROM truth_top20)
UNION ALL
SELECT 'ceiling: verdicts agreeing, best class per (age, gap) bin fitted on the truth, %',
       round(100.0 * sum(c.best) / (SELECT count(*) FROM binned), 1), '-', '-'
  FROM (SELECT b.bin, max(b.n) AS best
          FROM (SELECT bin, otto.deal_class(answers_truth.gap_pct(price, value)), count(*) AS n FROM binned GROUP BY 1, 2) b
         GROUP BY b.bin) c
UNION ALL
-- the truth's own sales per ad-day (a perfect crawl), ranked as fastest_selling ranks: how well any
-- ranking made from these days' sales can follow the hidden propensity
SELECT 'ceiling: Spearman of the truth''s own sales per ad-day (min_sold alike) with the hidden propensity', round(corr(r.pos, r.truth_pos)::numeric, 2), '-', '-'
  FROM (SELECT row_number() OVER (ORDER BY x.sold::float8 / x.days DESC, x.sold DESC) AS pos, rank() OVER (ORDER BY m.popularity DESC) AS truth_pos
          FROM answers_truth.sales x JOIN answers_truth.model m ON m.make = x.make AND m.model = x.model
         WHERE x.sold >= :min_sold AND x.days > 0
         ORDER BY x.sold::float8 / x.days DESC, x.sold DESC LIMIT 20) r
UNION ALL
SELECT 'base: live ads at least 5% under their true value, %', round(100.0 * avg((t >= ln(1 / 0.95))::int), 1), '-', '-' FROM binned
UNION ALL
SELECT 'base: live ads priced above their true value, %', round(100.0 * avg((t < 0)::int), 1), '-', '-' FROM binned
UNION ALL
SELECT 'base: verdicts agreeing if every price were called fair, %', round(100.0 * avg((otto.deal_class(answers_truth.gap_pct(price, value)) = 'fair')::int), 1), '-', '-'
  FROM binned;

SELECT metric, value, target, met FROM figure ORDER BY ord;
DROP SCHEMA answers_truth CASCADE;
