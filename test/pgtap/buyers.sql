-- For buyers: sign-in, isolation between users (row-level security, by any
-- function or direct query), views and likes, saved searches and their
-- alerts, reviews, similar cars, recommendations, sharing and languages.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION otto;
SELECT plan(94);

-- A small market: 30 Golfs (petrol GTIs and diesel TDIs), 5 Octavia estates, 5 Audi A4 estates.
SELECT otto.site_add('t', 'test', ARRAY['t.invalid'], ARRAY['https://t.invalid/'], '^https://t\.invalid/ad/([0-9]+)',
                     '^https://t\.invalid/list', 'polovniautomobili') AS site \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, gearbox,
                     power_kw, seller_id)
SELECT :site, i::text, 'https://t.invalid/ad/' || i, 'Golf ' || CASE WHEN i % 2 = 1 THEN '2.0 GTI' ELSE '1.9 TDI' END,
       'Volkswagen', 'Golf', 2008 + i % 10, 200000 - (i % 10) * 15000 + (i % 4) * 5000, 4000 + (i % 10) * 900 + i * 7,
       CASE WHEN i % 2 = 0 THEN 'diesel' ELSE 'petrol' END, 'hatchback', 'manual', 77, 's' || i % 3
  FROM generate_series(1, 30) i
UNION ALL
SELECT :site, 'o' || i, 'https://t.invalid/ad/o' || i, 'Octavia 1.9 TDI', 'Skoda', 'Octavia', 2012, 150000, 7000 + i * 100,
       'diesel', 'estate', 'manual', 81, 's9'
  FROM generate_series(1, 5) i
UNION ALL
SELECT :site, 'a' || i, 'https://t.invalid/ad/a' || i, 'A4 Avant 2.0 TDI', 'Audi', 'A4', 2012, 160000, 7500 + i * 100,
       'diesel', 'estate', 'automatic', 105, 's8'
  FROM generate_series(1, 5) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur) SELECT site_id, ad_id, 'new', price_eur FROM otto.ad;
SELECT otto.stream_rebuild() IS NOT NULL AS rebuilt \gset
-- (the alert matcher makes its row on first use: an upsert)
INSERT INTO otto.alert_state (watermark) SELECT watermark FROM otto.stream_state
    ON CONFLICT (single) DO UPDATE SET watermark = excluded.watermark;
SELECT ad_id AS golf FROM otto.ad WHERE source_ad_id = '3' \gset
SELECT ad_id AS golf2 FROM otto.ad WHERE source_ad_id = '4' \gset
SELECT ad_id AS octavia FROM otto.ad WHERE source_ad_id = 'o1' \gset
SELECT ad_id AS audi FROM otto.ad WHERE source_ad_id = 'a1' \gset
SELECT user_id AS ana, token AS ana_token FROM otto.user_add('ana', 'sr-Latn') \gset
SELECT user_id AS bob, token AS bob_token FROM otto.user_add('bob', 'en') \gset
SELECT user_id AS cai, token AS cai_token FROM otto.user_add('cai', 'sr-Cyrl') \gset

-- Signing in
SET LOCAL ROLE otto_app;
SELECT is(otto.current_user_id(), NULL, 'nobody is signed in at first');
SELECT throws_ok($$SELECT otto.like_ad(1)$$, '28000', NULL, 'liking needs a signed-in user');
SELECT throws_ok($$SET otto.user_id = 1$$, '42501', NULL, 'a front end cannot pick a user by setting otto.user_id');
SELECT throws_ok($$SELECT set_config('otto.user_id', '1', false)$$, '42501', NULL, 'nor with set_config');
SELECT throws_ok($$SELECT otto.login('not a token')$$, '28000', NULL, 'a wrong token signs nobody in');
SELECT is(otto.current_user_id(), NULL, 'still nobody');
SELECT is(otto.login(:'ana_token'), :ana, 'the right token signs its user in');
SELECT is(otto.current_user_id(), :ana, 'and the session acts for her');

-- Ana views and likes
SELECT is((otto.like_ad(:golf))->>'liked', 'true', 'like');
SELECT is((otto.like_ad(:golf))->>'event_id', NULL, 'a second like records nothing');
SELECT lives_ok(format('SELECT otto.view_ad(%s), otto.view_ad(%s), otto.like_ad(%s)', :golf2, :octavia, :octavia), 'views and likes');
SELECT is((otto.unlike_ad(:octavia))->>'liked', 'false', 'unlike');
SELECT is((SELECT array_agg(kind ORDER BY event_id) FROM otto.user_event), ARRAY['like', 'view', 'view', 'like', 'unlike'],
          'the log holds every view, like and unlike in order');
SELECT is((otto.my_likes())->'likes'->0->>'ad_id', :golf::text, 'the liked ads are the Golf only');
SELECT is(jsonb_array_length(otto.my_likes()->'likes'), 1, 'one liked ad');
SELECT throws_ok($$UPDATE otto.user_event SET kind = 'like'$$, '42501', NULL, 'the log cannot be changed');
SELECT throws_ok($$DELETE FROM otto.user_event$$, '42501', NULL, 'nor emptied');
SELECT throws_ok(format('SELECT otto.view_ad(%s)', 999999), 'P0002', NULL, 'viewing an unknown ad is an error');
SELECT lives_ok($$SELECT otto.search_save('jeftin golf', '{"make": "volkswagen", "model": "GOLF", "price_max": 8000}')$$,
                'a saved search');
SELECT is((SELECT filters FROM otto.saved_search), '{"make": "Volkswagen", "model": "Golf", "price_max": 8000}',
          'kept in the canonical spelling');
SELECT throws_ok($$SELECT otto.search_save('bad', '{"colour": "red"}')$$, '22023', NULL, 'filters are checked');
SELECT throws_ok($$INSERT INTO otto.saved_search (name, filters) VALUES ('direct', '{"price_max": "cheap"}')$$, '22023', NULL,
                 'however the row is written');
SELECT lives_ok($$SELECT otto.search_save('dizel karavan', '{"fuel": "diesel", "body": "estate"}', '{new}')$$, 'a second one');
SELECT lives_ok($$SELECT otto.review_model('volkswagen', 'golf', 5, 'Odličan <b>auto</b>', 'Troši malo.')$$, 'a review');
SELECT is((otto.review_model('Volkswagen', 'Golf', 4, 'Dobar', NULL))->>'updated', 'true', 'a second review of the model edits the first');
SELECT throws_ok($$SELECT otto.review_model('Volkswagen', 'Golf', 6)$$, '23514', NULL, 'ratings run 1-5');
SELECT throws_ok($$SELECT otto.review_model('Volkswagen', 'Golf', 3, E'bell\x07')$$, '23514', NULL, 'control characters are refused');
SELECT lives_ok($$SELECT otto.review_seller('t', 's9', 2, 'Spor', 'Nije se javljao <script>alert(1)</script>')$$, 'a seller review');

-- Bob sees none of it, by function or query, and cannot touch it
SELECT is(otto.login(:'bob_token'), :bob, 'Bob signs in');
SELECT is((SELECT count(*) FROM otto.user_event), 0::bigint, 'Bob reads none of Ana''s views and likes');
SELECT is((SELECT count(*) FROM otto.user_like), 0::bigint, 'nor her likes');
SELECT is((SELECT count(*) FROM otto.saved_search), 0::bigint, 'nor her saved searches');
SELECT is((SELECT count(*) FROM otto.review), 0::bigint, 'nor her reviews as rows');
SELECT is((SELECT array_agg(name) FROM otto.app_user), ARRAY['bob'], 'nor her user row');
SELECT is(jsonb_array_length(otto.my_likes()->'likes'), 0, 'my_likes is his own (none)');
SELECT throws_ok(format('INSERT INTO otto.user_event (user_id, ad_id, kind) VALUES (%s, %s, %L)', :ana, :golf, 'unlike'),
                 '42501', NULL, 'Bob cannot write into Ana''s log');
SELECT throws_ok(format('INSERT INTO otto.saved_search (user_id, name, filters) VALUES (%s, %L, %L)', :ana, 'x', '{}'),
                 '42501', NULL, 'nor save a search for her');
SELECT is_empty($$UPDATE otto.saved_search SET name = 'mine' RETURNING 1$$, 'nor rename her searches');
SELECT is_empty($$DELETE FROM otto.review RETURNING 1$$, 'nor delete her reviews');
SELECT results_eq($$UPDATE otto.app_user SET lang = 'en' RETURNING user_id$$, ARRAY[:bob],
                  'he changes only his own language');
SELECT throws_ok($$INSERT INTO otto.alert (user_id, ad_id, reason, event_id) VALUES (1, 1, 'new', 1)$$, '42501', NULL,
                 'and nobody writes alerts but Otto');
SELECT throws_ok($$SELECT otto.alerts_apply()$$, '42501', NULL, 'nor runs the matcher');
SELECT throws_ok($$SELECT otto.user_add('eve')$$, '42501', NULL, 'nor adds users');
SELECT throws_ok($$DELETE FROM otto.ad$$, '42501', NULL, 'nor changes the market');

-- Ratings are everyone's, anonymous and escaped
SELECT lives_ok($$SELECT otto.review_model('Volkswagen', 'Golf', 2)$$, 'Bob rates the Golf');
SELECT is((otto.ratings('volkswagen', 'golf'))->'count', '2', 'two ratings of the Golf');
SELECT is((otto.ratings('Volkswagen', 'Golf'))->>'average', '3.00', 'averaging 3');
SELECT is((otto.ratings('Volkswagen', 'Golf'))->'distribution', '{"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}', 'and their distribution');
SELECT is((SELECT r->>'title_html' FROM jsonb_array_elements(otto.ratings('Volkswagen', 'Golf')->'reviews') r WHERE r ? 'title'),
          'Dobar', 'the edited review is the one shown');
SELECT is((otto.ratings(site => 't', seller_id => 's9'))->'reviews'->0->>'body_html',
          'Nije se javljao &lt;script&gt;alert(1)&lt;/script&gt;', 'review text comes HTML-escaped in body_html');
SELECT ok(NOT (otto.ratings('Volkswagen', 'Golf'))::text ~ '(ana|bob|user_id)', 'and without who wrote it');
SELECT is((otto.call_tool('ratings', '{"make": "Volkswagen", "model": "Golf"}'))->'n', '2', 'ratings are a chat tool');

-- Similar cars, sharing, languages
SELECT is((SELECT count(*) FROM jsonb_array_elements(otto.similar_ads(:golf, 5, 'en')->'similar') s
            WHERE (s->>'ad_id')::bigint = :golf), 0::bigint, 'an ad is not similar to itself');
SELECT is((otto.similar_ads(:golf, 5, 'en'))->'similar'->0->>'model', 'Golf', 'the most similar is the same model');
SELECT matches((otto.similar_ads(:golf, 5, 'en'))->'similar'->0->>'why', '^same model, ', 'and says so');
SELECT matches((otto.similar_ads(:octavia, 1, 'sr-Latn'))->'similar'->0->>'why', '^isti model', 'in Serbian too');
SELECT ok((SELECT bool_and(s->>'model' IN ('Octavia', 'A4')) FROM jsonb_array_elements(otto.similar_ads(:octavia, 9, 'en')->'similar') s),
          'an estate''s look-alikes are estates');
SELECT is((otto.share_ad(:golf, 'email', 'en'))->>'share_url',
          'mailto:?subject=Volkswagen%20Golf%202011%2C%20170%2C000%20km%2C%20%E2%82%AC6%2C721&body=Volkswagen%20Golf%202011%2C%20170%2C000%20km%2C%20%E2%82%AC6%2C721%0Ahttps%3A%2F%2Ft.invalid%2Fad%2F3',
          'an email share link, every character encoded');
SELECT is((otto.share_ad(:golf, 'link', 'sr-Latn'))->>'text', 'Volkswagen Golf 2011, 170.000 km, 6.721 €: https://t.invalid/ad/3',
          'the text in Serbian');
SELECT throws_ok(format('SELECT otto.share_ad(%s, %L)', :golf, 'pigeon'), '22023', NULL, 'channels are known ones');
SELECT is(otto.label('body', 'estate', 'sr-Cyrl'), 'Караван', 'labels in Cyrillic');
SELECT is(otto.label('body', 'estate', 'en'), 'Estate', 'and English');
SELECT is((otto.labels('sr-Latn'))->'labels'->'fuel'->>'diesel', 'Dizel', 'every label, by field');
SELECT throws_ok($$SELECT otto.lang('klingon')$$, '22023', NULL, 'an unknown language is an error');
SET LOCAL otto.lang = 'sr-Cyrl';
SELECT is(otto.label('fuel', 'diesel'), 'Дизел', 'SET otto.lang picks the language');
SELECT throws_ok($$SET otto.lang = 'klingon'$$, '22023', NULL, 'and refuses unknown ones');
RESET otto.lang;

-- Search: good deals (10-70% under the model's price line), as a filter and as the sort
SELECT cmp_ok(jsonb_array_length(otto.search_ads('{"good_deal": true}', 'newest', 100)->'ads'), '>', 0, 'the market has deals');
SELECT is(jsonb_array_length(otto.search_ads('{"good_deal": true}', 'newest', 100)->'ads')::bigint,
          (SELECT count(*) FROM otto.ad a WHERE otto.line_deal(otto.ad_line_gap(a.make, a.model, a.price_eur, a.year, a.mileage_km))),
          'good_deal finds every ad under the line, and no other');
SELECT ok((SELECT bool_and((a->>'under_model_line_pct')::numeric BETWEEN 10 AND 70)
             FROM jsonb_array_elements(otto.search_ads('{"good_deal": true, "fuel": "diesel"}', 'price_asc', 100)->'ads') a),
          'each with its gap');
SELECT is((SELECT array_agg((a->>'under_model_line_pct')::numeric ORDER BY i)
             FROM jsonb_array_elements(otto.search_ads('{}', 'deal', 10)->'ads') WITH ORDINALITY x(a, i)),
          (SELECT array_agg(g ORDER BY g DESC) FROM (SELECT round((100 * otto.ad_line_gap(a.make, a.model, a.price_eur, a.year, a.mileage_km))::numeric, 1) AS g
                                                     FROM otto.ad a ORDER BY 1 DESC NULLS LAST LIMIT 10) t),
          'sort "deal": the largest gaps first');
SELECT is((SELECT count(*) FROM jsonb_array_elements(otto.search_ads('{"text": "gti", "fuel": "petrol"}', 'price_asc', 100)->'ads') a
            WHERE a->>'title' LIKE '%GTI'), 15::bigint, 'words of the title, with the other filters');
SELECT is(jsonb_array_length(otto.search_ads('{"text": "gt"}', 'newest', 100)->'ads'), 15, 'a word''s beginning is enough');

-- Recommendations
SELECT is(otto.login(:'ana_token'), :ana, 'Ana again');
SELECT ok((SELECT bool_and((r->>'ad_id')::bigint NOT IN (:golf, :golf2, :octavia))
             FROM jsonb_array_elements(otto.recommend(10)->'recommendations') r), 'recommendations leave out what she has seen');
SELECT is((otto.recommend(3))->'recommendations'->0->>'model', 'Golf', 'and start with the model she likes');
SELECT ok((SELECT bool_and(length(r->>'why') > 10) FROM jsonb_array_elements(otto.recommend(10)->'recommendations') r),
          'each with a reason');
SELECT is(otto.login(:'cai_token'), :cai, 'a new user');
SELECT is((otto.recommend(5))->>'cold_start', 'true', 'gets the cold start');
SELECT matches((otto.recommend(5))->'recommendations'->0->>'why', 'популарно|добра понуда', 'in his language (Cyrillic)');
SELECT otto.logout();
SELECT throws_ok($$SELECT otto.recommend()$$, '28000', NULL, 'signed out, no recommendations');
RESET ROLE;

-- Alerts: a new Golf under 8,000 EUR, a new diesel estate, the liked Golf cut twice, a dear Golf
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, gearbox, power_kw)
VALUES (:site, 'n1', 'https://t.invalid/ad/n1', 'Golf 1.6', 'Volkswagen', 'Golf', 2010, 170000, 5200, 'petrol', 'hatchback', 'manual', 75),
       (:site, 'n2', 'https://t.invalid/ad/n2', 'Passat Variant', 'Volkswagen', 'Passat', 2013, 190000, 8800, 'diesel', 'estate', 'manual', 103),
       (:site, 'n3', 'https://t.invalid/ad/n3', 'Golf R', 'Volkswagen', 'Golf', 2017, 60000, 24000, 'petrol', 'hatchback', 'manual', 221);
INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur)
SELECT site_id, ad_id, 'new', price_eur FROM otto.ad WHERE source_ad_id IN ('n1', 'n2', 'n3') ORDER BY source_ad_id;
-- an ad's price cut by some euros, with its event
PREPARE cut(bigint, int) AS
    WITH a AS (UPDATE otto.ad SET price_eur = price_eur - $2 WHERE ad_id = $1 RETURNING site_id, ad_id, price_eur)
    INSERT INTO otto.ad_event (site_id, ad_id, kind, old_price_eur, new_price_eur)
    SELECT site_id, ad_id, 'price_changed', price_eur + $2, price_eur FROM a;
EXECUTE cut(:golf, 300);
SELECT is((otto.alerts_apply())->'events', '0', 'alerts wait for the market stream');
SELECT is((otto.stream_apply())->'events', '4', 'the stream takes the four events');
SELECT is((otto.alerts_apply())->'alerts', '3', 'three alerts');
SELECT bag_eq(format($$SELECT u.name AS who, a.source_ad_id, al.reason, s.name AS search FROM otto.alert al JOIN otto.app_user u USING (user_id)
                        JOIN otto.ad a USING (ad_id) LEFT JOIN otto.saved_search s USING (search_id)$$),
              $$VALUES ('ana', 'n1', 'new', 'jeftin golf'), ('ana', 'n2', 'new', 'dizel karavan'), ('ana', '3', 'price_drop', 'jeftin golf')$$,
              'the new cheap Golf, the new diesel estate and the cut on her (liked, searched) Golf: one alert each');
EXECUTE cut(:golf, 200);
SELECT is((otto.stream_apply())->'events', '1', 'a second cut');
SELECT is((otto.alerts_apply())->'alerts', '0', 'is no second alert for the same ad and reason');
SELECT is((otto.alerts_apply())->'events', '0', 'and nothing is matched twice');
SET LOCAL ROLE otto_app;
SELECT otto.login(:'ana_token') AS signed_in \gset
SELECT is(jsonb_array_length(otto.my_alerts()->'alerts'), 3, 'Ana reads her three alerts');
SELECT is((SELECT array_agg(a->>'text' ORDER BY (a->>'alert_id')::bigint) FROM jsonb_array_elements(otto.my_alerts()->'alerts') a
            WHERE a->>'search' = 'jeftin golf'),
          ARRAY['Pojeftinilo (jeftin golf): Volkswagen Golf 2011, 170.000 km, 6.221 €',
                'Novo za „jeftin golf”: Volkswagen Golf 2010, 170.000 km, 5.200 €'],
          'each with a sentence in her language');
SELECT is(jsonb_array_length(otto.my_alerts(((otto.my_alerts())->'alerts'->1->>'alert_id')::bigint)->'alerts'), 1,
          'a late listener catches up from the last alert it saw');
SELECT is(otto.alerts_read(((otto.my_alerts())->'alerts'->2->>'alert_id')::bigint), 3::bigint, 'and marks them read');
SELECT otto.login(:'bob_token') AS signed_in \gset
SELECT is(jsonb_array_length(otto.my_alerts()->'alerts'), 0, 'Bob has none');
SELECT is((SELECT count(*) FROM otto.alert), 0::bigint, 'and reads none of hers');
SELECT is(otto.alerts_read(1000000), 0::bigint, 'nor marks them read');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
