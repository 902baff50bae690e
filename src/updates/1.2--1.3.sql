-- Otto 1.2 to 1.3: the price model is cross-fitted (a booster per fold, so
-- that an ad in the market is priced by one that never saw its price);
-- fastest_selling ranks by a rate and pages.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.3'" to load this file. \quit

-- 1.2's versions (one ensemble, one set of model means) cannot tell an ad's
-- fold: they go, and the trainer worker (or SELECT otto.fair_value_train())
-- trains a 1.3 one.  The checks get names (1.2's were generated).  From 1.0
-- or 1.1 the table does not exist yet: the rerun part below creates it in
-- its 1.3 form.
DO $$
DECLARE
    c name;
BEGIN
    IF to_regclass('otto.price_model') IS NOT NULL THEN
        DELETE FROM otto.price_model;
        FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'otto.price_model'::regclass AND contype = 'c' LOOP
            EXECUTE format('ALTER TABLE otto.price_model DROP CONSTRAINT %I', c);
        END LOOP;
        ALTER TABLE otto.price_model ADD folds int NOT NULL, ADD fold_seed int NOT NULL,
            ADD CONSTRAINT price_model_folds CHECK (folds BETWEEN 2 AND 16),
            ADD CONSTRAINT price_model_booster_per_fold CHECK (cardinality(model) = folds),
            ADD CONSTRAINT price_model_sha256_per_booster CHECK (cardinality(model_sha256) = cardinality(model)),
            ADD CONSTRAINT price_model_n_categorical CHECK (n_categorical BETWEEN 0 AND cardinality(features)),
            ADD CONSTRAINT price_model_dictionary CHECK (cardinality(category_value) = cardinality(category_feature)),
            ADD CONSTRAINT price_model_means_per_fold CHECK (cardinality(category_mean) = folds * cardinality(category_feature));
    END IF;
END
$$;
-- ask understands price-verdict questions (a car, its year and a price); from 1.0 the rerun part creates otto.ask_word
DO $$
BEGIN
    IF to_regclass('otto.ask_word') IS NOT NULL THEN
        ALTER TABLE otto.ask_word DROP CONSTRAINT ask_word_needs_check,
            ADD CONSTRAINT ask_word_needs_check CHECK (needs IN ('ads', 'two_ads', 'name', 'name_year', 'name_year_price', 'filters'));
    END IF;
END
$$;
-- more columns out, and a fold in
DROP FUNCTION IF EXISTS otto.price_model_rows(int, int);
DROP FUNCTION IF EXISTS otto.price_model_fit(int, int);
DROP FUNCTION IF EXISTS otto.price_model_active();
DROP FUNCTION IF EXISTS otto.price_model_score(bigint, text[], float4[]);
-- a calibration cell per third of the model years too; fastest_selling pages (off)
DROP FUNCTION IF EXISTS otto.price_model_cell(jsonb, text, float8);
DROP FUNCTION IF EXISTS otto.fastest_selling(text, int, int, text, text, int, int);
