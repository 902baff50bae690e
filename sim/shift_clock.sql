-- sim/shift_clock.sql: move every time Otto stored back by :'by' (psql -v by='1 day').
--
-- Otto's clock is real time; the simulator's days pass in minutes.  Between
-- two simulated days, with the crawl finished and the stream processor
-- caught up, this makes "now" the next simulated day, so that days on
-- market, "listed today" and ages come out in simulated days.  For
-- simulations only (scripts/demo): a real market needs no time machine.
\set ON_ERROR_STOP on
BEGIN;
LOCK otto.stream_state;     -- the stream processor waits; nothing else writes between sweeps
UPDATE otto.ad SET first_seen_at = first_seen_at - :'by'::interval, last_seen_at = last_seen_at - :'by'::interval,
                   removed_at = removed_at - :'by'::interval, renewed_at = renewed_at - :'by'::interval;
UPDATE otto.ad_event SET at = at - :'by'::interval;
UPDATE otto.page SET fetched_at = fetched_at - :'by'::interval;
UPDATE otto.robots SET fetched_at = fetched_at - :'by'::interval;
UPDATE otto.frontier SET discovered_at = discovered_at - :'by'::interval, due_at = due_at - :'by'::interval,
                         last_fetched_at = last_fetched_at - :'by'::interval;
UPDATE otto.site SET sweep_started_at = sweep_started_at - :'by'::interval, sweep_checked_at = sweep_checked_at - :'by'::interval;
UPDATE otto.market_ad SET listed_at = listed_at - :'by'::interval;
-- the groups' sums of the live ads' listing days (otto.market_terms 67) move with them
UPDATE otto.market_mmy SET s[67] = s[67] - s[2] * extract(epoch FROM :'by'::interval) / 86400 WHERE s[2] > 0;
UPDATE otto.market_mm SET s[67] = s[67] - s[2] * extract(epoch FROM :'by'::interval) / 86400 WHERE s[2] > 0;
UPDATE otto.ad_value SET valued_at = valued_at - :'by'::interval;
UPDATE otto.stream_state SET applied_at = applied_at - :'by'::interval, last_event_at = last_event_at - :'by'::interval;
COMMIT;
