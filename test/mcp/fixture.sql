-- The MCP suite's buyers (psql script, after test/trsavi.sql): a user who
-- liked and viewed some Volkswagens, and two ratings of the Golf (4 and 3).
-- Prints the first user's sign-in token, the last line of its output.
SELECT user_id AS uid, token FROM otto.user_add('mcp-buyer', 'en') \gset
SELECT set_config('otto.user_id', :'uid', false) IS NOT NULL AS signed_in \gset
SELECT count(otto.like_ad(ad_id)) AS liked FROM (SELECT ad_id FROM otto.ad WHERE make = 'Volkswagen' ORDER BY ad_id LIMIT 4) a \gset
SELECT count(otto.view_ad(ad_id)) AS viewed FROM (SELECT ad_id FROM otto.ad WHERE make = 'Volkswagen' ORDER BY ad_id DESC LIMIT 6) a \gset
SELECT otto.review_model('Volkswagen', 'Golf', 4, 'Pouzdan', 'Pređe 300.000 km bez većih kvarova.') IS NOT NULL AS reviewed \gset
SELECT user_id AS uid2 FROM otto.user_add('mcp-buyer-2') \gset
SELECT set_config('otto.user_id', :'uid2', false) IS NOT NULL AS signed_in \gset
SELECT otto.review_model('Volkswagen', 'Golf', 3) IS NOT NULL AS reviewed \gset
\echo :token
