-- src/buyers/reviews.sql: reviews and ratings.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- Reviews and ratings: one per user per model or seller, editable.  The
-- text is stored as written (checked for length and control characters);
-- readers get it plain and HTML-escaped.
-------------------------------------------------------------------------------
CREATE TABLE otto.review (
    review_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     int NOT NULL DEFAULT otto.current_user_id() REFERENCES otto.app_user ON DELETE CASCADE,
    subject     text NOT NULL CHECK (subject IN ('model', 'seller')),
    make        text,
    model       text,
    site_id     int REFERENCES otto.site,
    seller_id   text,
    rating      int NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title       text CHECK (length(title) <= 120),
    body        text CHECK (length(body) <= 4000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((subject = 'model') = (make IS NOT NULL AND model IS NOT NULL AND site_id IS NULL AND seller_id IS NULL)),
    CHECK ((subject = 'seller') = (site_id IS NOT NULL AND seller_id IS NOT NULL AND make IS NULL AND model IS NULL)),
    CHECK (coalesce(title, '') || coalesce(body, '') !~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]'),
    CONSTRAINT review_one_per_subject UNIQUE NULLS NOT DISTINCT (user_id, subject, make, model, site_id, seller_id)
);
CREATE INDEX review_model_idx ON otto.review (make, model) WHERE subject = 'model';
CREATE INDEX review_seller_idx ON otto.review (site_id, seller_id) WHERE subject = 'seller';
COMMENT ON TABLE otto.review IS 'Users'' ratings (1-5) and reviews of a model or a seller, one per user per subject';
COMMENT ON COLUMN otto.review.subject IS 'model (make and model set) or seller (site_id and seller_id set)';
COMMENT ON COLUMN otto.review.rating IS '1 (poor) to 5 (excellent)';
COMMENT ON COLUMN otto.review.seller_id IS 'The seller''s id on the site, as in otto.ad.seller_id';
COMMENT ON COLUMN otto.review.body IS 'The review as written (plain text; escape it for HTML, or use otto.ratings'' body_html)';

-- The signed-in user's review of a subject (model: make and model; seller:
-- site_id and seller_id), inserted or edited.
CREATE OR REPLACE FUNCTION otto.review_save(subject text, make text, model text, site_id int, seller_id text, rating int,
                                 title text, body text)
RETURNS jsonb
LANGUAGE sql
AS $fn$
    INSERT INTO otto.review AS x (user_id, subject, make, model, site_id, seller_id, rating, title, body)
    VALUES (otto.require_user(), $1, $2, $3, $4, $5, $6, nullif(btrim($7), ''), nullif(btrim($8), ''))
    ON CONFLICT ON CONSTRAINT review_one_per_subject
    DO UPDATE SET rating = excluded.rating, title = excluded.title, body = excluded.body, updated_at = now()
    RETURNING jsonb_strip_nulls(jsonb_build_object('review_id', x.review_id, 'subject', x.subject, 'make', x.make,
                                                   'model', x.model, 'seller_id', x.seller_id, 'rating', x.rating,
                                                   'updated', x.xmax <> '0'))     -- xmax: the row was there already
$fn$;

CREATE OR REPLACE FUNCTION otto.review_model(make text, model text, rating int, title text DEFAULT NULL, body text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
AS $fn$
    SELECT otto.review_save('model', coalesce(n.make, initcap($1)), coalesce(n.model, initcap($2)), NULL, NULL, $3, $4, $5)
      FROM (SELECT NULL) o LEFT JOIN otto.market_name($1, $2) n ON true
$fn$;
COMMENT ON FUNCTION otto.review_model(text, text, int, text, text) IS 'The signed-in user rates (1-5) and reviews a model; a second call edits their review';

CREATE OR REPLACE FUNCTION otto.review_seller(site text, seller_id text, rating int, title text DEFAULT NULL, body text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    sid int := (SELECT s.site_id FROM otto.site s WHERE s.name = site);
BEGIN
    IF sid IS NULL THEN
        RAISE EXCEPTION 'no site "%"', site USING ERRCODE = 'no_data_found';
    END IF;
    RETURN otto.review_save('seller', NULL, NULL, sid, seller_id, rating, title, body) || jsonb_build_object('site', site);
END
$fn$;
COMMENT ON FUNCTION otto.review_seller(text, text, int, text, text) IS 'The signed-in user rates (1-5) and reviews a seller of a site; a second call edits their review';

-- Ratings of a model (or a seller) across all users: the average, the count,
-- the distribution and the latest reviews, without who wrote them.
CREATE OR REPLACE FUNCTION otto.ratings(make text DEFAULT NULL, model text DEFAULT NULL, site text DEFAULT NULL,
                             seller_id text DEFAULT NULL, lim int DEFAULT 5)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    n   record;
    sid int;
    res jsonb;
BEGIN
    IF (make IS NULL OR model IS NULL) = (site IS NULL OR seller_id IS NULL) THEN
        RAISE EXCEPTION 'ratings of a model (make and model) or of a seller (site and seller_id)'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO n FROM otto.market_name(make, model);
    sid := (SELECT s.site_id FROM otto.site s WHERE s.name = site);
    SELECT jsonb_build_object(
               'average', round(avg(r.rating), 2), 'count', count(*),
               'distribution', jsonb_build_object('1', count(*) FILTER (WHERE r.rating = 1), '2', count(*) FILTER (WHERE r.rating = 2),
                                                  '3', count(*) FILTER (WHERE r.rating = 3), '4', count(*) FILTER (WHERE r.rating = 4),
                                                  '5', count(*) FILTER (WHERE r.rating = 5)),
               'reviews', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                        'rating', x.rating, 'title', x.title, 'body', x.body,
                                        'title_html', otto.html_escape(x.title), 'body_html', otto.html_escape(x.body),
                                        'at', x.updated_at)) ORDER BY x.updated_at DESC, x.review_id DESC)
                                      FROM (SELECT * FROM otto.review x
                                             WHERE (x.subject = 'model' AND x.make = coalesce(n.make, initcap(make))
                                                    AND x.model = coalesce(n.model, initcap(model)))
                                                OR (x.subject = 'seller' AND x.site_id = sid AND x.seller_id = seller_id)
                                             ORDER BY x.updated_at DESC, x.review_id DESC LIMIT greatest(lim, 0)) x), '[]'))
      INTO res
      FROM otto.review r
     WHERE (r.subject = 'model' AND r.make = coalesce(n.make, initcap(make)) AND r.model = coalesce(n.model, initcap(model)))
        OR (r.subject = 'seller' AND r.site_id = sid AND r.seller_id = seller_id);
    RETURN jsonb_build_object('make', coalesce(n.make, make), 'model', coalesce(n.model, model), 'site', site, 'seller_id', seller_id)
           || res || jsonb_build_object('method', 'ratings 1-5 by Otto''s users, one per user; texts as written, and HTML-escaped in *_html',
                                        'n', res->'count', 'as_of', now());
END
$fn$;
COMMENT ON FUNCTION otto.ratings(text, text, text, text, int) IS 'What users think of a model or a seller: average rating, count, distribution and the latest reviews (text plain and HTML-escaped), anonymous';

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.review', '');
SELECT pg_catalog.pg_extension_config_dump('otto.review_review_id_seq', '');
SELECT otto.own_rows('otto.review');
GRANT SELECT ON otto.review TO otto_app;
GRANT INSERT, DELETE, UPDATE (rating, title, body, updated_at) ON otto.review TO otto_app;
GRANT EXECUTE ON FUNCTION otto.review_model(text, text, int, text, text), otto.review_save(text, text, text, int, text, int, text, text),
    otto.review_seller(text, text, int, text, text) TO otto_app;
