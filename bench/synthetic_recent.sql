-- The synthetic market (bench/synthetic_market.sql, :ads ads) with a day's
-- new listings, 1% of the ads listed within the last 24 hours, and its market
-- tables built (psql script; bench/mcp.sh and bench/web.sh).
--   psql -v ads=100000 -v synthetic=bench/synthetic_market.sql -f bench/synthetic_recent.sql
\set ON_ERROR_STOP on
CREATE EXTENSION otto;
\i :synthetic
UPDATE otto.ad SET first_seen_at = now() - (ad_id % 24) * interval '1 hour', last_seen_at = now() WHERE ad_id % 100 = 0;
UPDATE otto.ad_event e SET at = a.first_seen_at FROM otto.ad a WHERE e.ad_id = a.ad_id AND a.ad_id % 100 = 0;
SELECT otto.stream_rebuild();
VACUUM ANALYZE otto.market_ad;
