-- Otto 1.0 to 1.1: the storage changes (below), then every function, view,
-- trigger, shipped row, policy and grant of 1.1 as the stage sources have
-- them (appended by the Makefile: src/updates/rerun.awk).
\echo Use "ALTER EXTENSION otto UPDATE TO '1.1'" to load this file. \quit

-- The state rows are made on first use (a restored dump brings its own).
COMMENT ON TABLE otto.stream_state IS 'Where the stream processor is: every ad event with event_id <= watermark is in the market tables, none after it (no row: nothing applied yet)';
COMMENT ON TABLE otto.alert_state IS 'Where alert matching is in the ad log: every event up to watermark has been matched (no row: none yet; made on first use, so that a restored dump brings its own)';
-- otto.fold replaces otto.latin (otto.name_key and otto.ask_route fold with it).
DROP FUNCTION otto.latin(text);
-- One comment more: the rules' time zone and words.
COMMENT ON COLUMN otto.site_profile.rules IS 'Rules in the form otto.site.rules takes: ad (rows, text, own_text, list, count, script_object, jsonld), listing, timezone (of the site''s times, default UTC), words (price_on_request, unregistered, doors_suffix: the site''s words for them)';
