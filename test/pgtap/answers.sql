-- The answers' arithmetic (src/market/analytics.sql, src/chat/ask.sql):
-- fastest_selling as a rate with live ads as exposure, price verdicts and
-- the price posterior, good deals' suspicious ones, and plural forms.
-- bench/answers.sh scores the same answers against the simulator's truth.
BEGIN;
CREATE EXTENSION otto;
SELECT plan(44);

-- the normal distribution function and the price posterior
SELECT is(round(p.gap_pct::numeric, 6), round(q.gap_pct::numeric, 6), 'the spread defaults to otto.price_spread')
  FROM otto.price_posterior(5000, 10000, 6000, 16000) p, otto.price_posterior(5000, 10000, 6000, 16000, current_setting('otto.price_spread')::float8) q;
SELECT ok(abs(otto.norm_cdf(0) - 0.5) < 1e-7 AND abs(otto.norm_cdf(1.959964) - 0.975) < 1e-6
          AND abs(otto.norm_cdf(-1.959964) - 0.025) < 1e-6, 'norm_cdf: 0.5, 0.975 and 0.025 where they belong');
SELECT ok(otto.norm_cdf(60) = 1 AND otto.norm_cdf(-60) < 1e-100, 'far tails: 1 and about 0, no underflow error');
SELECT ok(p.gap_pct > 0 AND p.gap_pct < 30, format('the likely gap lies between none and the gap seen (30%%): %s%%', round(p.gap_pct::numeric, 1)))
  FROM otto.price_posterior(7000, 10000, 8000, 12500) p;
SELECT ok(p.gap_pct > 0 AND p.gap_pct < 50, format('with it, half the fair value is a smaller likely gap (%s%%)', round(p.gap_pct::numeric, 1)))
  FROM otto.price_posterior(5000, 10000, 6000, 16000, 0.12) p;
SELECT ok(a.p_under > b.p_under, 'the same gap is surer under a narrower range')
  FROM otto.price_posterior(8000, 10000, 9000, 11100, 0.05) a, otto.price_posterior(8000, 10000, 6000, 16000, 0.05) b;
SELECT is(p.p_under, NULL, 'no price: no posterior') FROM otto.price_posterior(0, 10000, 9000, 11000, 0.1) p;
SELECT ok(a.gap_pct < b.gap_pct AND b.gap_pct > c.gap_pct,
          format('a gap far beyond the estimate''s range is more likely the estimate''s miss: likely gaps %s%%, %s%%, %s%% for prices 20%%, 35%%, 70%% under',
                 round(a.gap_pct::numeric), round(b.gap_pct::numeric), round(c.gap_pct::numeric)))
  FROM otto.price_posterior(8000, 10000, 8500, 11800) a, otto.price_posterior(6500, 10000, 8500, 11800) b,
       otto.price_posterior(3000, 10000, 8500, 11800) c;
-- the estimate's tails from its 95% range: the same 80% range with a 95% range of normal errors, or of heavy-tailed ones
SELECT ok(n.df >= 30 AND h.df = 2 AND x.df = 2, format('degrees of freedom from the ranges: %s for normal tails, %s for heavy ones, 2 without a 95%% range', n.df, h.df))
  FROM otto.price_posterior(6500, 10000, 8000, 12500, 0.12, 7108, 14068) n, otto.price_posterior(6500, 10000, 8000, 12500, 0.12, 6456, 15490) h,
       otto.price_posterior(6500, 10000, 8000, 12500, 0.12) x;
SELECT ok(n.p_under > h.p_under + 0.05, format('a gap of 35%% is surer when the estimate''s errors have normal tails (%s%%) than heavy ones (%s%%)',
                                               round((100 * n.p_under)::numeric), round((100 * h.p_under)::numeric)))
  FROM otto.price_posterior(6500, 10000, 8000, 12500, 0.12, 7108, 14068) n, otto.price_posterior(6500, 10000, 8000, 12500, 0.12, 6456, 15490) h;
SELECT is(a.df, 2::float8, 'a 95% range that does not hold the 80% range is ignored')
  FROM otto.price_posterior(6500, 10000, 8000, 12500, 0.12, 9000, 14068) a;
SELECT throws_ok($$SELECT otto.good_deals(min_sure_pct => 101)$$, '22023', NULL, 'good_deals: how sure is a percentage');
SELECT throws_ok($$SELECT otto.good_deals(min_sure_pct => NULL)$$, '22023', NULL, 'and not missing');

-- plural forms
SELECT is(ARRAY[otto.ask_count(1, 'day', 'sr-Latn'), otto.ask_count(2, 'day', 'sr-Latn'), otto.ask_count(5, 'day', 'sr-Latn'),
                otto.ask_count(11, 'day', 'sr-Latn'), otto.ask_count(21, 'day', 'sr-Latn'), otto.ask_count(22, 'day', 'sr-Latn'),
                otto.ask_count(112, 'day', 'sr-Latn')],
          ARRAY['1 dan', '2 dana', '5 dana', '11 dana', '21 dan', '22 dana', '112 dana'], 'Serbian: 1 dan, 2 dana, 5 dana, 11 dana, 21 dan');
SELECT is(ARRAY[otto.ask_count(1, 'sale', 'sr-Latn'), otto.ask_count(3, 'sale', 'sr-Latn'), otto.ask_count(14, 'sale', 'sr-Latn'),
                otto.ask_count(1, 'comparable', 'sr-Cyrl')],
          ARRAY['1 prodaja', '3 prodaje', '14 prodaja', '1 упоредив оглас'], 'and for sales and comparable ads, in Cyrillic too');
SELECT is(ARRAY[otto.ask_count(1, 'day', 'en'), otto.ask_count(2, 'ad', 'en'), otto.ask_count(1500, 'live_ad', 'en')],
          ARRAY['1 day', '2 ads', '1,500 live ads'], 'English: 1 day, 2 ads');

-- A market where the sold ads' median days mislead: Model X sold 10 cars
-- within 2 days, but 90 more have stood 10 days unsold; Model Y sold 10
-- within 5 days of 20 ads listed 5 days ago.  Per ad-day at risk, Y sells
-- nine times as fast.  Z has 2 sales, fewer than min_sold.
SELECT otto.site_add('t', 'test', ARRAY['cars.test'], ARRAY['https://cars.test/'], '^https://cars\.test/ad/([0-9]+)',
                     '^https://cars\.test/list', 'polovniautomobili') AS site \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, first_seen_at, last_seen_at)
SELECT :site, i::text, 'https://cars.test/ad/' || i, 'car ' || i, 'Make', 'X', 2011 + i % 3, 120000 + (i % 5) * 15000,
       round(5200 * 1.1 ^ (i % 3 - 1) * 0.97 ^ (i % 5 - 2) * (1 + (i % 7 - 3) / 20.0)), 'diesel',
       now() - interval '10 days', now()
  FROM generate_series(1, 100) i
UNION ALL
SELECT :site, (1000 + i)::text, 'https://cars.test/ad/' || (1000 + i), 'car ' || (1000 + i), 'Make', 'Y', 2012, 150000,
       5000 + (i % 7) * 100, 'diesel', now() - interval '5 days', now()
  FROM generate_series(1, 20) i
UNION ALL
SELECT :site, (2000 + i)::text, 'https://cars.test/ad/' || (2000 + i), 'car ' || (2000 + i), 'Make', 'Z', 2012, 150000, 5000,
       'diesel', now() - interval '10 days', now()
  FROM generate_series(1, 12) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad ORDER BY first_seen_at, ad_id;
UPDATE otto.ad SET state = 'removed', removed_at = first_seen_at + CASE model WHEN 'X' THEN interval '2 days' ELSE interval '5 days' END
 WHERE (model = 'X' AND source_ad_id::int <= 10) OR (model = 'Y' AND source_ad_id::int <= 1010)
    OR (model = 'Z' AND source_ad_id::int <= 2002);
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market)
SELECT site_id, ad_id, 'removed', removed_at, price_eur, round(extract(epoch FROM removed_at - first_seen_at) / 86400, 2)
  FROM otto.ad WHERE state = 'removed' ORDER BY removed_at, ad_id;
-- the market as of now: one more event at now()
UPDATE otto.ad SET price_eur = price_eur - 100 WHERE source_ad_id = '2012';
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur)
SELECT site_id, ad_id, 'price_changed', now(), price_eur + 100, price_eur FROM otto.ad WHERE source_ad_id = '2012';
SELECT otto.stream_apply() IS NOT NULL AS applied \gset

CREATE TEMP TABLE fs AS SELECT otto.fastest_selling() AS r;
SELECT is(ARRAY(SELECT x->>'model' FROM fs, jsonb_array_elements(r->'ranking') x), ARRAY['Y', 'X'],
          'sales per ad-day: Y (10 of 20 in 5 days) before X (10 quick sales, 90 ads unsold for 10 days); Z under min_sold');
SELECT ok(abs((x->>'sales_per_100_ad_days')::numeric - 100 * 10 / (10 * 5 + 10 * 5.0)) < 0.2,
          format('Y: 10 sales over 100 ad-days at risk, %s per 100', x->>'sales_per_100_ad_days'))
  FROM fs, jsonb_array_elements(r->'ranking') x WHERE x->>'model' = 'Y';
SELECT ok(abs((x->>'sales_per_100_ad_days')::numeric - 100 * 10 / (10 * 2 + 90 * 10.0)) < 0.05
          AND (x->'interval_95'->>0)::numeric < (x->>'sales_per_100_ad_days')::numeric
          AND (x->>'sales_per_100_ad_days')::numeric < (x->'interval_95'->>1)::numeric,
          'X: the live ads'' days count as exposure; the rate inside its 95% interval')
  FROM fs, jsonb_array_elements(r->'ranking') x WHERE x->>'model' = 'X';
SELECT ok(NOT (x ? 'median_days') AND (x->>'sold_within_7d_pct')::numeric BETWEEN 9 AND 11 AND NOT (x ? 'sold_within_30d_pct'),
          'Kaplan-Meier for X: 10% sold within 7 days, no median (half never sold) and nothing for 30 days (10 days of history)')
  FROM fs, jsonb_array_elements(r->'ranking') x WHERE x->>'model' = 'X';
SELECT ok((x->>'median_days')::numeric = 5 AND NOT (x ? 'sold_within_7d_pct'),
          'Y: median 5 days (half sold then), and no 7-day share with 5 days of history')
  FROM fs, jsonb_array_elements(r->'ranking') x WHERE x->>'model' = 'Y';
SELECT is(ARRAY(SELECT (x->>'rank')::int FROM fs, jsonb_array_elements(r->'ranking') x), ARRAY[1, 2], 'ranks without ties');
SELECT is((otto.fastest_selling(min_sold => 2, lim => 1, off => 2)->'ranking'->0),
          (otto.fastest_selling(min_sold => 2, lim => 3)->'ranking'->2), 'a page is a slice of the ranking (limit and offset)');
SELECT throws_ok($$SELECT otto.fastest_selling(off => -1)$$, '22023', NULL, 'a negative offset is a clear error');
SELECT alike(otto.ask_answer('sr-Latn', 'fastest_selling', r), '%(10 prodaja na 100 dana oglasa, oko 10 dana do prodaje)%',
            'ask answers in Serbian with the rate and the days in their plural forms')
  FROM fs;

-- price verdicts (no price model: the comparables, the gap as it is)
SELECT is(otto.price_verdict('Make', 'X', 2012, 2500)->>'verdict', 'suspicious', 'under half the fair value: suspicious');
SELECT is(otto.price_verdict('Make', 'X', 2012, 3800)->>'verdict', 'great', 'a quarter under: great');
SELECT is(otto.price_verdict('Make', 'X', 2012, 8000)->>'verdict', 'high', 'half again as much: high');
SELECT is(otto.price_verdict('Make', 'X', 2012, 5300)->>'verdict', 'fair', 'about the fair value: fair');
SELECT ok(otto.price_verdict(a.ad_id)->>'verdict' IS NOT NULL AND (otto.price_verdict(a.ad_id)->>'ad_id')::bigint = a.ad_id,
          'an ad''s own price gets a verdict') FROM otto.ad a WHERE a.source_ad_id = '50';
SELECT throws_ok($$SELECT otto.price_verdict('Make', 'X', 2012, 0)$$, '22023', NULL, 'a price of 0 is a clear error');
SELECT is(otto.call_tool('price_verdict', '{"make": "make", "model": "x", "year": 2012, "price_eur": 3800}')->>'verdict', 'great',
          'the chat tool answers the same');

SELECT alike(otto.ask_answer('sr-Latn', 'price_verdict', otto.price_verdict('Make', 'X', 2012, 3800)),
              'Make X 2012. godište za 3.800 €: odlična ponuda. Procenjena vrednost je %',
              'ask''s answer to a verdict question, in Serbian');
SELECT is(otto.ask_route('Koliko vredi Golf iz 2012, traže 9000 evra?')->'not_understood', '["9000"]',
          'a price the answer cannot use is named as not understood, not dropped silently');

-- every live priced ad's value, kept for good_deals (otto.ad_value)
SELECT is(otto.ad_values_refresh(), (SELECT count(*) FROM otto.market_ad WHERE live AND price_eur > 0),
          'ad_values_refresh values every live priced ad');
SELECT is(otto.ad_values_refresh(), 0::bigint, 'and none is due again until something changes');
SELECT is(round(v.estimate::numeric, 6), round(e.estimate::numeric, 6), 'a stored value is the ad''s fair value')
  FROM otto.ad a JOIN otto.ad_value v USING (ad_id),
       otto.fair_value_estimate(a.make, a.model, a.year, a.mileage_km, a.fuel, a.power_kw, to_jsonb(a)) e
 WHERE a.source_ad_id = '50';
UPDATE otto.ad SET price_eur = price_eur - 500 WHERE source_ad_id = '60';
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, new_price_eur)
SELECT site_id, ad_id, 'price_changed', now(), price_eur + 500, price_eur FROM otto.ad WHERE source_ad_id = '60';
UPDATE otto.ad SET state = 'removed', removed_at = now() WHERE source_ad_id = '61';
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, old_price_eur, days_on_market)
SELECT site_id, ad_id, 'removed', now(), price_eur, 10 FROM otto.ad WHERE source_ad_id = '61';
SELECT otto.stream_apply() IS NOT NULL AS applied \gset
SELECT is(otto.ad_values_refresh(), 1::bigint, 'a new price is valued again');
SELECT ok(v.price_eur = a.price_eur AND NOT EXISTS (SELECT FROM otto.ad_value w JOIN otto.ad b USING (ad_id) WHERE b.source_ad_id = '61'),
          'at the new price; a removed ad''s value goes')
  FROM otto.ad a JOIN otto.ad_value v USING (ad_id) WHERE a.source_ad_id = '60';
-- an ad that cannot be valued (here: a trigger refuses it) is skipped, the others are valued
CREATE FUNCTION public.refuse_ad_60() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ad_id = (SELECT ad_id FROM otto.ad WHERE source_ad_id = '60') THEN RAISE EXCEPTION 'refused'; END IF;
    RETURN NEW;
END $$;
UPDATE otto.ad_value SET valued_at = now() - interval '2 days';     -- all due again
CREATE TRIGGER refuse_ad_60 BEFORE INSERT OR UPDATE ON otto.ad_value FOR EACH ROW EXECUTE FUNCTION public.refuse_ad_60();
SET client_min_messages = error;
SELECT is(otto.ad_values_refresh(), (SELECT count(*) - 1 FROM otto.ad_value),
          'an ad whose valuation fails is skipped, with a WARNING; every other ad is valued');
RESET client_min_messages;
DROP TRIGGER refuse_ad_60 ON otto.ad_value;
-- good_deals ranks the stored values: made surest, the deepest stored gap leads
UPDATE otto.ad_value SET p_under = 0.999
 WHERE ad_id = (SELECT v.ad_id FROM otto.ad_value v ORDER BY v.price_eur / v.estimate, v.ad_id LIMIT 1)
RETURNING ad_id AS surest \gset
SELECT is((otto.good_deals('30 days', 5, min_gap_pct => 0)->'deals'->0->>'ad_id')::bigint, :surest::bigint,
          'good_deals reads how sure each fresh ad is from otto.ad_value');

-- hostile questions to the router's new paths (generations, case endings,
-- verdict prices): 400 random mixes of car words, Cyrillic, numbers,
-- signs and long digit runs all route, none raises
CREATE TEMP TABLE fuzzq AS
SELECT i, (SELECT string_agg((ARRAY['golf', '7', 'Golf 7', 'klasu', 'C', 'c-klase', 'Astru', 'H', 'za', '9.000', '€', 'evra', 'jeftin',
                                    'is', 'a', 'good', 'price', '2012', 'Б6', 'Пасат', 'Make', 'X', 'x', '99999999999999', '-', '%',
                                    '''', '\', 'dobra', 'cena', 'passata', 'b6', '320d', 'grande', 'punto', '0', '1e9', 'NaN',
                                    repeat('a', 60), 'isplati', 'li', 'se', 'too much', 'km', 'kw'])[1 + (i * 7919 + k * 104729) % 45], ' ')
             FROM generate_series(1, 1 + i % 20) k) AS q
  FROM generate_series(1, 400) i;
SELECT is(count(*) FILTER (WHERE r ? 'tool' AND r ? 'not_understood'), 400::bigint,
          '400 random questions of car words, Cyrillic, numbers and signs: every one routed, none raised')
  FROM fuzzq, otto.ask_route(fuzzq.q) r;
SELECT is(count(*), 200::bigint, 'and price verdicts for random prices, from 1 EUR to ten million, all answer')
  FROM generate_series(1, 200) i, otto.price_verdict('Make', 'X', 1990 + i % 40, (i * 7919 * 37) % 10000000 + 1) v
 WHERE v ? 'verdict';

-- good deals: a fresh ad at a third of its value titled for parts is suspicious, not great
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, first_seen_at, last_seen_at)
VALUES (:site, '3001', 'https://cars.test/ad/3001', 'Make X za delove', 'Make', 'X', 2012, 150000, 1800, 'diesel', now(), now());
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', now(), price_eur FROM otto.ad WHERE source_ad_id = '3001';
SELECT otto.stream_apply() IS NOT NULL AS applied \gset
SELECT ok(jsonb_array_length(r->'deals') = 0 AND r->'suspicious'->0->>'deal' = 'suspicious'
          AND (r->'suspicious'->0->>'ad_id')::bigint = (SELECT ad_id FROM otto.ad WHERE source_ad_id = '3001'),
          'good_deals lists it apart as suspicious')
  FROM otto.good_deals('1 hour') r;

SELECT * FROM finish();
ROLLBACK;
