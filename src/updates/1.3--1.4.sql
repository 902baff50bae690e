-- Otto 1.3 to 1.4: the price model's calibration cells hold the 95% range
-- too, and otto.price_posterior reads how heavy the estimate's tails are
-- from it (good_deals' sureness and price_verdict).
\echo Use "ALTER EXTENSION otto UPDATE TO '1.4'" to load this file. \quit

-- New outputs (the 95% range) and arguments change these functions' types:
-- the rerun part below creates them again.  1.3's model versions stay in
-- use: their cells have no 95% range, and the posterior takes 2 degrees of
-- freedom for them, until the trainer's next version.
DROP FUNCTION IF EXISTS otto.price_posterior(float8, float8, float8, float8, float8);
DROP FUNCTION IF EXISTS otto.price_model_cell(jsonb, text, float8, int);
DROP FUNCTION IF EXISTS otto.fair_value_estimate(text, text, int, int, text, int, jsonb);
DROP FUNCTION IF EXISTS otto.good_deals(interval, int, text, text, int, text, text, numeric, boolean);
