-- Otto 1.1 to 1.2: the storage changes and what 1.2 removes.  The Makefile
-- appends what every update re-runs from the sources (src/updates/rerun.awk),
-- then the steps' .after.sql files.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.2'" to load this file. \quit

-- The price-model trainer is a worker too (otto.price_model comes from src/market/price_model.sql).
ALTER TABLE otto.worker_start DROP CONSTRAINT worker_start_worker_check,
    ADD CONSTRAINT worker_start_worker_check CHECK (worker IN ('launcher', 'crawler', 'stream', 'trainer'));
-- An ad is no longer its own comparable (skip_ad), and fair_value_estimate
-- combines the comparables with the price model (more columns out).
DROP FUNCTION otto.fair_value_estimate(text, text, int, int, text, int);
DROP FUNCTION otto.fair_value_level(text, text, int, int, text, int, int, float8, float8);
DROP FUNCTION otto.fair_value_comparables(text, text, int, text, int, int);
