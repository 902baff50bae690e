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
-- otto.ask's words as data (src/chat/ask.sql; its rows come with the functions).
CREATE TABLE otto.ask_word (
    kind     text NOT NULL CHECK (kind IN ('language', 'value', 'unit', 'qualifier', 'ad', 'intent', 'sort', 'since',
                                           'level', 'name_word')),
    pattern  text NOT NULL,
    meaning  text NOT NULL,
    lang     text CHECK (lang IN ('en', 'sr-Latn')),
    also     text,
    needs    text CHECK (needs IN ('ads', 'two_ads', 'name', 'name_year', 'filters')),
    priority int NOT NULL DEFAULT 0,
    builtin  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (kind, pattern, meaning)
);
COMMENT ON TABLE otto.ask_word IS 'The words otto.ask understands (English and Serbian, folded as otto.fold folds): per kind a word or a regular expression and what it means; add rows to teach it more';
COMMENT ON COLUMN otto.ask_word.kind IS 'language, value, unit, qualifier, ad, intent, sort, since, level or name_word (see src/chat/ask.sql)';
COMMENT ON COLUMN otto.ask_word.lang IS 'Only in questions of this language (NULL: any)';
COMMENT ON COLUMN otto.ask_word.also IS 'intent: a second expression the question must match too';
COMMENT ON COLUMN otto.ask_word.needs IS 'intent: what else the question must give: ads (an ad id), two_ads, name (a make or model), name_year (and a year), filters (a make or a search filter)';
COMMENT ON COLUMN otto.ask_word.pattern IS 'kinds language, ad, name_word: a word; the others: a POSIX regular expression (value, unit: on a word; qualifier: on the words before a number; intent, sort, since, level: on the whole question)';
COMMENT ON COLUMN otto.ask_word.meaning IS 'language: en or sr-Latn; value: field:code; unit: km, price, kw, hp or days; qualifier: max, min, from, newer or older; intent: a tool; sort: a search_ads sort; since: an interval; level: make, model_year or by_model';
COMMENT ON COLUMN otto.ask_word.priority IS 'Of several rows of a kind that match, the lowest wins';
COMMENT ON COLUMN otto.ask_word.builtin IS 'Shipped with Otto; rows users add (false) are kept by pg_dump';

