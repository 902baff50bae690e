-- src/buyers/search.sql: search for buyers: the search indexes, filters, search_ads, ad details, comparison.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-- Ads for people: search, details, comparison.
-------------------------------------------------------------------------------
-- What otto.search_ads' categorical filters index: one GIN entry per value
-- of a live ad, so that any combination of them is an intersection of
-- posting lists, exact (make, model and the ranges have btrees of their own).
CREATE OR REPLACE FUNCTION otto.ad_facets(fuel text, body text, gearbox text, drive text, color text, seller_type text,
                               region text, location text, damage text, doors text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT array_remove(ARRAY[
        'fu:' || fuel, 'bo:' || body, 'gb:' || gearbox, 'dr:' || drive, 'co:' || color, 'st:' || seller_type,
        're:' || lower(region), 'ci:' || lower(location), 'do:' || lower(doors),
        CASE WHEN damage LIKE 'damaged%' THEN 'dm:damaged' END], NULL)
$fn$;
COMMENT ON FUNCTION otto.ad_facets(text, text, text, text, text, text, text, text, text, text) IS 'The search index entries of an ad (ad_live_facets_idx): prefix:value of each categorical field (region, city and doors lower-case), dm:damaged for a damaged car';

-- The make and model filters' index, carrying the searchable fields (and the
-- sort keys) so that otto.search_ads reads a make's or a model's ads from it alone.
CREATE INDEX ad_live_make_model_idx ON otto.ad (make, model, year)
    INCLUDE (ad_id, price_eur, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
-- otto.search_ads' sort orders, each exactly as it sorts (ties newest first), so
-- that a page of live ads is read in order and filtered, not sorted.  Each
-- carries every searchable field but the title, so that the filters are
-- tested on the index entries alone (an index-only scan reads about five
-- times as many entries per millisecond as a walk through the heap).
CREATE INDEX ad_live_newest_idx ON otto.ad (first_seen_at DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, year, price_eur, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors) WHERE state = 'live';
CREATE INDEX ad_live_price_asc_idx ON otto.ad (price_eur, ad_id DESC)
    INCLUDE (make, model, year, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_price_desc_idx ON otto.ad (price_eur DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, year, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_mileage_idx ON otto.ad (mileage_km, ad_id DESC)
    INCLUDE (make, model, year, price_eur, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_idx ON otto.ad (year DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, price_eur, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_power_idx ON otto.ad (power_kw DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, year, price_eur, mileage_km, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
-- The price, mileage and power orders again within each model year: those
-- keys follow the car's age, so with a filter on year or mileage one long
-- walk would meet every old car first ("the cheapest from 2018 on"), while
-- the years' own walks, merged, each start at their first match.
CREATE INDEX ad_live_year_price_asc_idx ON otto.ad (year, price_eur, ad_id DESC)
    INCLUDE (make, model, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_price_desc_idx ON otto.ad (year, price_eur DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, mileage_km, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_mileage_idx ON otto.ad (year, mileage_km, ad_id DESC)
    INCLUDE (make, model, price_eur, power_kw, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_live_year_power_idx ON otto.ad (year, power_kw DESC NULLS LAST, ad_id DESC)
    INCLUDE (make, model, price_eur, mileage_km, engine_cc, seats, fuel, body, gearbox, drive, color,
             seller_type, region, location, damage, doors, first_seen_at) WHERE state = 'live';
CREATE INDEX ad_removed_make_model_idx ON otto.ad (site_id, make, model, year) WHERE state = 'removed';
CREATE INDEX ad_live_facets_idx ON otto.ad USING gin (otto.ad_facets(fuel, body, gearbox, drive, color, seller_type, region,
    location, damage, doors)) WHERE state = 'live';
CREATE INDEX ad_live_title_idx ON otto.ad USING gin (to_tsvector('simple', coalesce(title, ''))) WHERE state = 'live';
-- the planner reads a partial index's expression without statistics: these tell it how common each entry is
CREATE STATISTICS otto.ad_facets_stats ON (otto.ad_facets(fuel, body, gearbox, drive, color, seller_type, region, location,
    damage, doors)) FROM otto.ad;

-- The filters of otto.search_ads (and of saved searches) checked, in their
-- canonical form (f), and as SQL conditions on otto.ad a (conds) that take the
-- canonical filters as $1: one exact condition per filter, the categorical
-- ones on the facet index (one condition each, so that the planner counts
-- each filter's selectivity once).  good_deal is left to the caller (deals):
-- it needs the model's price line.
CREATE OR REPLACE FUNCTION otto.search_filter(filters jsonb, OUT f jsonb, OUT conds text[], OUT deals boolean, OUT rconds text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    known CONSTANT text[] := ARRAY['make', 'model', 'year_min', 'year_max', 'price_min', 'price_max', 'mileage_min',
        'mileage_max', 'power_min', 'power_max', 'engine_cc_min', 'engine_cc_max', 'seats_min', 'seats_max', 'doors',
        'fuel', 'body', 'gearbox', 'drive', 'color', 'seller_type', 'region', 'city', 'damaged', 'price_cut',
        'good_deal', 'text'];
    ranges CONSTANT jsonb := '{"year": "year", "price": "price_eur", "mileage": "mileage_km", "power": "power_kw",
                               "engine_cc": "engine_cc", "seats": "seats"}';
    prefixes CONSTANT jsonb := '{"fuel": "fu", "body": "bo", "gearbox": "gb", "drive": "dr", "color": "co",
                                 "seller_type": "st", "doors": "do", "region": "re", "city": "ci"}';
    facets CONSTANT text := 'otto.ad_facets(a.fuel, a.body, a.gearbox, a.drive, a.color, a.seller_type, a.region, '
                            'a.location, a.damage, a.doors)';
    k     text;
    v     jsonb;
    vals  text[];
    c     text;
    r     text;
    words text[];
BEGIN
    f := '{}';
    conds := ARRAY['a.state = ''live'''];
    rconds := conds;
    filters := coalesce(filters, '{}');
    IF jsonb_typeof(filters) <> 'object' THEN
        RAISE EXCEPTION 'search_ads: filters must be a JSON object, not %', jsonb_typeof(filters)
              USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: {"make": "Volkswagen", "price_max": 10000, "fuel": "diesel"}';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(filters) WHERE value <> 'null' ORDER BY key LOOP
        IF k <> ALL (known) THEN
            RAISE EXCEPTION 'search_ads: unknown filter "%"', k USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Filters: ' || array_to_string(known, ', ');
        END IF;
        IF k ~ '_(min|max)$' THEN
            IF jsonb_typeof(v) <> 'number' OR v::text::numeric NOT BETWEEN -1e9 AND 1e9 THEN
                RAISE EXCEPTION 'search_ads: filter "%" must be a number, not %', k, v USING ERRCODE = 'invalid_parameter_value';
            END IF;
            f := f || jsonb_build_object(k, v);
            r := regexp_replace(k, '_(min|max)$', '');
            -- in the column's type (int), so that its btree serves the range
            conds := conds || format('a.%I %s %s(($1->>%L)::numeric)::int', ranges->>r,
                                     CASE WHEN k LIKE '%_min' THEN '>=' ELSE '<=' END, CASE WHEN k LIKE '%_min' THEN 'ceil' ELSE 'floor' END, k);
            rconds := rconds || conds[cardinality(conds)];
            CONTINUE;
        END IF;
        IF k IN ('damaged', 'price_cut', 'good_deal') THEN
            IF jsonb_typeof(v) <> 'boolean' THEN
                RAISE EXCEPTION 'search_ads: filter "%" must be true or false, not %', k, v USING ERRCODE = 'invalid_parameter_value';
            END IF;
            f := f || jsonb_build_object(k, v);
            conds := conds || CASE k
                WHEN 'damaged' THEN CASE WHEN v = 'true' THEN format('%s @> %L::text[]', facets, ARRAY['dm:damaged'])
                                         ELSE 'coalesce(a.damage, ''none'') = ''none''' END
                -- the cut ads hashed once, not looked up per ad
                WHEN 'price_cut' THEN 'a.ad_id ' || CASE WHEN v = 'true' THEN '' ELSE 'NOT ' END
                                      || 'IN (SELECT m.ad_id FROM otto.market_ad m WHERE m.live AND m.price_cuts > 0)'
                ELSE 'true' END;    -- good_deal: the caller's
            rconds := rconds || CASE WHEN k = 'damaged' AND v = 'true' THEN 'a.damage LIKE ''damaged%''' ELSE conds[cardinality(conds)] END;
            CONTINUE;
        END IF;
        -- text filters: a string, or a list of alternatives for the categorical ones
        vals := CASE jsonb_typeof(v) WHEN 'string' THEN ARRAY[v->>0]
                                     WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(v)) END;
        IF vals IS NULL OR cardinality(vals) = 0 OR cardinality(vals) > 20 OR EXISTS (SELECT FROM unnest(vals) x WHERE length(x) > 100) THEN
            RAISE EXCEPTION 'search_ads: filter "%" must be a string (or up to 20 of them), not %', k, v
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF k IN ('fuel', 'body', 'gearbox', 'drive', 'color', 'seller_type') THEN
            FOREACH c IN ARRAY vals LOOP
                IF otto.vocabulary_code(k, c) IS NULL THEN
                    RAISE EXCEPTION 'search_ads: "%" is not a known %', c, k USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Known: ' || (SELECT string_agg(code, ', ' ORDER BY code) FROM otto.vocabulary WHERE field = k);
                END IF;
            END LOOP;
            vals := ARRAY(SELECT DISTINCT otto.vocabulary_code(k, x) FROM unnest(vals) x ORDER BY 1);
            f := f || jsonb_build_object(k, to_jsonb(vals));
            conds := conds || format('%s && %L::text[]', facets, ARRAY(SELECT (prefixes->>k) || ':' || x FROM unnest(vals) x));
            rconds := rconds || format('a.%I = ANY (%L::text[])', k, vals);
        ELSIF k IN ('make', 'model') THEN
            -- the market's spelling, so that the (make, model, year) index serves it
            c := CASE k WHEN 'make' THEN (SELECT n.make FROM otto.market_name(vals[1]) n)
                        ELSE (SELECT n.model FROM otto.market_name(coalesce(f->>'make', filters->>'make', ''), vals[1]) n) END;
            f := f || jsonb_build_object(k, coalesce(c, vals[1]));
            conds := conds || CASE WHEN c IS NOT NULL THEN format('a.%I = ($1->>%L)', k, k)
                                   ELSE format('lower(a.%I) = lower($1->>%L)', k, k) END;
            rconds := rconds || conds[cardinality(conds)];
        ELSIF k = 'text' THEN
            -- every word of it begins a word of the title
            words := ARRAY(SELECT DISTINCT lower(w[1]) FROM regexp_matches(vals[1], '([[:alnum:]]+)', 'g') w LIMIT 10);
            f := f || jsonb_build_object(k, vals[1]);
            conds := conds || CASE WHEN cardinality(words) = 0 THEN 'false' ELSE
                     format('to_tsvector(''simple'', coalesce(a.title, '''')) @@ to_tsquery(''simple'', %L)',
                            (SELECT string_agg(quote_literal(w) || ':*', ' & ') FROM unnest(words) w)) END;
            rconds := rconds || conds[cardinality(conds)];
        ELSE                        -- doors, region, city: as the site writes them, any case
            f := f || jsonb_build_object(k, vals[1]);
            conds := conds || format('%s @> %L::text[]', facets, ARRAY[(prefixes->>k) || ':' || lower(vals[1])]);
            rconds := rconds || format('lower(a.%I) = %L', CASE k WHEN 'city' THEN 'location' ELSE k END, lower(vals[1]));
        END IF;
    END LOOP;
    deals := f->>'good_deal' = 'true';
END
$fn$;
COMMENT ON FUNCTION otto.search_filter(jsonb) IS 'Search filters (see otto.search_ads) checked and made canonical (f), and their SQL conditions on otto.ad a with the canonical filters as $1: for the indexes (conds) and the same tests on the columns themselves (rconds); deals says good_deal was asked for';

-- How many ads the planner expects to meet search filters (through the
-- filters' indexes: otto.search_filter's conds), without reading them.  It
-- takes the filters, never SQL: the conditions are built from them here, as
-- search_ads builds them.  VOLATILE: EXPLAIN is refused in the others, and
-- search_ads is STABLE.
CREATE OR REPLACE FUNCTION otto.search_estimate(filters jsonb) RETURNS float8
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    sf   record;
    plan json;
BEGIN
    sf := otto.search_filter(filters);
    EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM otto.ad a WHERE ' || array_to_string(sf.conds, ' AND ') INTO plan USING sf.f;
    RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END
$fn$;
COMMENT ON FUNCTION otto.search_estimate(jsonb) IS 'Ads the planner expects to match search filters (see otto.search_ads), read from the plan without running it';

-- Live ads matching filters (a JSON object; see the comment below), sorted,
-- a page at a time.  Each filter becomes one condition of a query planned
-- with the values known, so the indexes on otto.ad serve any combination.
-- One query builder (longer than 100 lines): its passes (run, walk, per
-- model year, through the filters' indexes) share a dozen settings that
-- pieces would pass around; bench/search.sh measures every path of it.
CREATE OR REPLACE FUNCTION otto.search_ads(filters jsonb DEFAULT '{}', sort text DEFAULT 'newest', lim int DEFAULT 20, off int DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off                   -- a page of ads: compiling the plan would cost more than running it
SET enable_bitmapscan = on       -- a walk along the sort's index turns it off for the call only
AS $fn$
DECLARE
    orders CONSTANT jsonb := '{"newest": "a.first_seen_at DESC", "price_asc": "a.price_eur", "price_desc": "a.price_eur DESC",
                               "mileage_asc": "a.mileage_km", "year_desc": "a.year DESC", "power_desc": "a.power_kw DESC",
                               "deal": "a.gap DESC"}';
    sf    record;
    f     jsonb;
    conds text[];
    deals boolean;
    gap   text;
    res   jsonb;
    src   text;
    depth int;
    first int;
    pass  int;
    mode  text;
    split boolean;
    key   text;
    page  text;
    cols  text;
    keyconds text;
    yearconds text;
    exact boolean;
    yr    boolean;
    bymake boolean;
BEGIN
    IF NOT orders ? coalesce(sort, '') THEN
        RAISE EXCEPTION 'search_ads: unknown sort "%"', sort USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Sort by one of: ' || (SELECT string_agg(x, ', ') FROM jsonb_object_keys(orders) x);
    END IF;
    IF lim NOT BETWEEN 1 AND 1000 OR off NOT BETWEEN 0 AND 100000 THEN
        RAISE EXCEPTION 'search_ads: limit must be 1-1000 and offset 0-100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    sf := otto.search_filter(filters);
    f := sf.f;
    deals := sort = 'deal' OR sf.deals;
    -- each ad's gap under its model's line (otto.market_lines, joined as l)
    gap := CASE WHEN deals THEN 'CASE WHEN a.price_eur > 0 AND a.year IS NOT NULL THEN otto.line_gap(a.price_eur, a.year, '
                                'a.mileage_km, now(), l.mean_ln_price, l.mean_age, l.mean_km, l.b_age, l.b_km) END'
                ELSE 'NULL::float8' END;
    -- First the ads in the sort's order, the first 20,000 of them (within the
    -- sort key's own range), each filter tested on the columns of the sort's
    -- index entry (the title then read for those that pass): enough when
    -- matches are not rare, and bounded when they are.  Then, if that
    -- page is not full, the matches through the filters' indexes when the
    -- planner expects fewer than 30,000, else along the sort's index to the
    -- end (straight away for the deal sort and deep pages).  Both numbers
    -- can be set (otto.search_run_ads, otto.search_bitmap_ads).  By price,
    -- mileage or power with a filter that follows a car's age, a run that
    -- falls short is followed by runs per model year (a tenth as long each),
    -- and the walk is per model year too (the planner's estimate then a
    -- tenth): each year in the filters' range that has an ad in their
    -- make/model, price, mileage and power ranges (one index probe each)
    -- gives its first page, and the pages are merged.  A year whose run
    -- ended before its page was full marks where it stopped; if that mark
    -- falls within the merged page, a match may lie beyond it, and the next
    -- pass decides.  A make's ads are read from its index, the make's
    -- entries tested on their columns.
    depth := coalesce(nullif(current_setting('otto.search_run_ads', true), '')::int, 20000);
    -- (not with words of the title: those are read from the table, per year too)
    split := NOT f ? 'text' AND (sort IN ('price_asc', 'price_desc', 'power_desc') AND f ?| ARRAY['year_min', 'year_max', 'mileage_min', 'mileage_max']
                                 OR sort = 'mileage_asc' AND f ?| ARRAY['year_min', 'year_max']);
    key := substring(orders->>sort FROM '^(a\.[a-z_]+)');
    -- what the sort indexes' entries hold, so that they are all a walk reads
    cols := 'a.ad_id, a.make, a.model, a.year, a.price_eur, a.mileage_km, a.power_kw, a.engine_cc, a.seats, a.fuel, a.body, '
            'a.gearbox, a.drive, a.color, a.seller_type, a.region, a.location, a.damage, a.doors, a.first_seen_at';
    bymake := 'a.make = ($1->>''make'')' = ANY (sf.rconds) AND NOT f ? 'text';
    -- the run along the sort's whole index first, then per year
    first := CASE WHEN sort = 'deal' OR lim + off > 1000 THEN 2 WHEN split THEN 0 ELSE 1 END;
    FOR pass IN first .. 2 LOOP
        yr := split AND pass > 0;
        CONTINUE WHEN yr AND pass = 1 AND bymake;     -- a make's ads are few enough to read from its index
        -- run: the sort's first ads; walk: along the sort's index to the end
        -- (both per model year when yr); all: every match through the
        -- filters' indexes, then sorted
        mode := CASE WHEN pass < 2 THEN 'run'
                     -- (per year, a tenth: the years' walks are bounded by the ranges)
                     WHEN sort = 'deal' OR yr AND bymake OR otto.search_estimate(filters)
                                           < coalesce(nullif(current_setting('otto.search_bitmap_ads', true), '')::int, 30000)
                                             / CASE WHEN yr THEN 10 ELSE 1 END THEN 'all'
                     ELSE 'walk' END;
        -- (a run or walk is of live ads already: its entries need not say so)
        -- (through the make's entries, the columns are tested: cheaper than the facets)
        conds := CASE WHEN mode <> 'all' THEN sf.rconds[2:] WHEN bymake THEN sf.rconds ELSE sf.conds END;
        IF sf.deals THEN
            conds := conds || format('otto.line_deal(%s)', gap);
        END IF;
        -- the conditions on the sort key: the range of its index a run or walk reads
        keyconds := (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x WHERE x LIKE key || ' %');
        yearconds := (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x WHERE x LIKE 'a.year %');
        -- one year's page (a.year {year}), its matches in order: in a run, of
        -- its first entries, with the one it stopped at (brk); price lines
        -- joined after the year's entries are read in order
        page := CASE WHEN yr THEN format($p$
            SELECT * FROM (SELECT *, %1$s AS brk
                             FROM (SELECT %8$s, %2$s AS ok
                                     FROM (SELECT %8$s FROM otto.ad a WHERE a.state = 'live' AND a.year {year} %3$s
                                            ORDER BY %4$s NULLS LAST, a.ad_id DESC %5$s) a %6$s) a) a
             WHERE ok OR brk ORDER BY %4$s NULLS LAST, a.ad_id DESC LIMIT %7$s$p$,
            CASE WHEN mode = 'run' THEN format('row_number() OVER (ORDER BY %s NULLS LAST, a.ad_id DESC) = %s', orders->>sort, depth / 10)
                 ELSE 'false' END,
            coalesce((SELECT string_agg(x, ' AND ') FROM unnest(conds) x), 'true'),
            CASE WHEN mode = 'walk' THEN (SELECT string_agg(' AND ' || x, '') FROM unnest(sf.rconds[2:]) x) ELSE keyconds END,
            orders->>sort, CASE WHEN mode = 'run' THEN 'LIMIT ' || depth / 10 END,
            CASE WHEN deals THEN 'LEFT JOIN l ON l.make = a.make AND l.model = a.model' ELSE '' END, lim + off, cols) END;
        src := CASE WHEN mode = 'all' THEN 'otto.ad'
                    WHEN yr THEN format($y$(
                        WITH RECURSIVE ys AS (
                            SELECT min(a.year) AS y FROM otto.ad a WHERE a.state = 'live' %1$s
                            UNION ALL
                            SELECT (SELECT min(a.year) FROM otto.ad a WHERE a.state = 'live' AND a.year > ys.y %1$s)
                              FROM ys WHERE ys.y IS NOT NULL),
                        y AS (SELECT ys.y FROM ys WHERE ys.y IS NOT NULL %2$s)
                        SELECT p.* FROM y, LATERAL (%3$s) p
                        %4$s)$y$,
                        yearconds,
                        (SELECT string_agg(format(' AND EXISTS (SELECT FROM otto.ad a WHERE a.state = ''live'' AND a.year = ys.y AND %s)', x), '')
                           FROM (SELECT x FROM unnest(conds) x WHERE x ~ '^a\.(price_eur|mileage_km|power_kw) '
                                 UNION ALL       -- (make, model, year) has its index; make and year alone do not
                                 SELECT 'a.make = ($1->>''make'') AND a.model = ($1->>''model'')'
                                  WHERE conds @> ARRAY['a.make = ($1->>''make'')', 'a.model = ($1->>''model'')']) x),
                        replace(page, '{year}', '= y.y'),
                        -- the ads that state no year, unless a year was asked for
                        CASE WHEN yearconds IS NULL THEN format('UNION ALL (%s)', replace(page, '{year}', 'IS NULL')) END)
                    WHEN NOT f ? 'text' THEN
                        format('(SELECT *, false AS brk FROM otto.ad a WHERE a.state = ''live'' %s ORDER BY %s NULLS LAST, a.ad_id DESC %s)',
                               keyconds,
                               orders->>sort, CASE WHEN mode = 'run' THEN 'LIMIT ' || depth END)
                    -- words of the title: the other filters on the index entries first,
                    -- then the title read from the table for those that pass, in order
                    ELSE format('(SELECT a.*, t.title, false AS brk
                                    FROM (SELECT %1$s FROM otto.ad a WHERE a.state = ''live'' %2$s
                                           ORDER BY %3$s NULLS LAST, a.ad_id DESC %4$s) a
                                    JOIN otto.ad t ON t.ad_id = a.ad_id WHERE true %5$s)',
                                cols, keyconds,
                                orders->>sort, CASE WHEN mode = 'run' THEN 'LIMIT ' || depth END,
                                (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x
                                  WHERE x NOT LIKE 'to_tsvector%' AND x NOT LIKE 'otto.line_deal%')) END;
        IF yr AND mode <> 'all' THEN
            conds := '{}';      -- tested in each year's walk
        END IF;
        PERFORM set_config('enable_bitmapscan', CASE WHEN mode = 'all' THEN 'on' ELSE 'off' END, true);
        EXECUTE format($q$
            WITH l AS MATERIALIZED (SELECT * FROM otto.market_lines WHERE %s),
            m AS MATERIALIZED (SELECT a.ad_id, a.year, a.mileage_km, a.price_eur, a.power_kw, a.first_seen_at, %s AS gap, %s AS brk
                                 FROM %s a %s WHERE true %s %s),     -- the sort keys only: the page's ads are read at the end
            p AS (SELECT c.ad_id, c.gap, c.brk, row_number() OVER (ORDER BY %s NULLS LAST, c.ad_id DESC) AS ord
                    FROM (SELECT * FROM m a ORDER BY %s NULLS LAST, a.ad_id DESC LIMIT %s) c)
            SELECT (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'ad_id', a.ad_id, 'url', a.url, 'title', a.title, 'make', a.make, 'model', a.model, 'year', a.year,
                        'mileage_km', a.mileage_km, 'price_eur', a.price_eur, 'fuel', a.fuel, 'body', a.body,
                        'gearbox', a.gearbox, 'power_kw', a.power_kw, 'engine_cc', a.engine_cc, 'color', a.color,
                        'city', a.location, 'region', a.region, 'seller_type', a.seller_type, 'damage', a.damage,
                        'listed_at', a.first_seen_at,
                        'under_model_line_pct', round((100 * p.gap)::numeric, 1))) ORDER BY p.ord)
                      FROM p JOIN otto.ad a ON a.ad_id = p.ad_id WHERE p.ord > %s),
                   NOT EXISTS (SELECT FROM p WHERE p.brk) $q$,
            CASE WHEN deals THEN 'true' ELSE 'false' END,
            gap, CASE WHEN yr AND mode = 'run' THEN 'a.brk' ELSE 'false' END, src,
            CASE WHEN deals THEN 'LEFT JOIN l ON l.make = a.make AND l.model = a.model' ELSE '' END,
            (SELECT string_agg(' AND ' || x, '') FROM unnest(conds) x),
            -- every match (then sorted in p), or the first of the run or walk
            CASE WHEN mode = 'all' THEN '' ELSE format('ORDER BY %s NULLS LAST, a.ad_id DESC LIMIT %s', orders->>sort, lim + off) END,
            replace(orders->>sort, 'a.', 'c.'),
            orders->>sort, lim + off, off)
          INTO res, exact USING f;
        -- a run is enough when its page is full, or (per year) when no year stopped within it
        EXIT WHEN mode <> 'run' OR CASE WHEN yr THEN exact ELSE jsonb_array_length(coalesce(res, '[]')) >= lim END;
    END LOOP;
    RETURN jsonb_build_object('ads', coalesce(res, '[]'), 'filters', f, 'sort', sort, 'limit', lim, 'offset', off,
        'found_by', CASE mode WHEN 'run' THEN 'sort_index_run' WHEN 'walk' THEN 'sort_index_walk' ELSE 'filter_indexes' END
                    || CASE WHEN yr AND mode <> 'all' THEN '_by_year' ELSE '' END,
        'currency', 'EUR', 'units', jsonb_build_object('mileage', 'km', 'power', 'kW', 'engine', 'cm3'),
        'method', 'live ads matching every filter' ||
                  CASE WHEN deals THEN '; deal = priced at least 10% under its model''s log-price line (under_model_line_pct)' ELSE '' END,
        'n', jsonb_array_length(coalesce(res, '[]')), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.search_ads(jsonb, text, int, int) IS 'Live ads matching filters (make, model, year/price/mileage/power/engine_cc/seats _min and _max, doors, fuel, body, gearbox, drive, color, seller_type (each a code or a list), region, city, damaged, price_cut, good_deal, text in the title), sorted by newest, price_asc, price_desc, mileage_asc, year_desc, power_desc or deal';

-- One ad with what Otto knows about it: its fields, its history, how long it
-- has been listed, and its fair value.
CREATE OR REPLACE FUNCTION otto.ad_details(ad_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    a    otto.ad;
    m    otto.market_ad;
    fv   jsonb;
    hist jsonb;
BEGIN
    SELECT * INTO a FROM otto.ad x WHERE x.ad_id = ad_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ad with id %', ad_id USING ERRCODE = 'no_data_found',
              HINT = 'Ad ids come from search_ads, good_deals or a comparable''s examples.';
    END IF;
    SELECT * INTO m FROM otto.market_ad x WHERE x.ad_id = ad_id;
    IF a.make IS NOT NULL AND a.model IS NOT NULL AND a.year IS NOT NULL THEN
        fv := otto.fair_value(to_jsonb(a));
    END IF;
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('at', e.at, 'event', e.kind, 'old_price_eur', e.old_price_eur,
                                                          'new_price_eur', e.new_price_eur, 'days_on_market', e.days_on_market))
                     ORDER BY e.event_id)
      INTO hist FROM otto.ad_event e WHERE e.ad_id = ad_id;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'ad_id', a.ad_id, 'url', a.url, 'state', a.state, 'title', a.title, 'make', a.make, 'model', a.model,
        'year', a.year, 'mileage_km', a.mileage_km, 'price_eur', a.price_eur, 'fuel', a.fuel, 'body', a.body,
        'gearbox', a.gearbox, 'power_kw', a.power_kw, 'engine_cc', a.engine_cc, 'color', a.color, 'seats', a.seats,
        'doors', a.doors, 'drive', a.drive, 'emission_class', a.emission_class, 'damage', a.damage, 'origin', a.origin,
        'city', a.location, 'region', a.region, 'seller_type', a.seller_type, 'seller_name', a.seller_name,
        'features', CASE WHEN a.features <> '{}' THEN to_jsonb(a.features) END,
        'listed_at', a.first_seen_at, 'last_seen_at', a.last_seen_at, 'removed_at', a.removed_at,
        'days_listed', round((extract(epoch FROM coalesce(a.removed_at, now()) - a.first_seen_at) / 86400)::numeric, 1)
                       + coalesce(m.prior_days, 0),
        'price_cuts', m.price_cuts, 'price_cut_eur', m.price_cut_eur,
        'fair_value_eur', fv->'estimate_eur', 'fair_value_range_80_eur', fv->'range_80_eur',
        'gap_pct', CASE WHEN (fv->>'estimate_eur')::int > 0 AND a.price_eur > 0
                        THEN round(100 * (1 - a.price_eur / (fv->>'estimate_eur')::numeric), 1) END,
        'deal', CASE WHEN (fv->>'estimate_eur')::int > 0 AND a.price_eur > 0
                     THEN otto.deal_class(round(100 * (1 - a.price_eur / (fv->>'estimate_eur')::numeric), 1)) END,
        'fair_value', fv, 'history', hist, 'currency', 'EUR',
        'method', 'the ad as last crawled; history from otto.ad_event; gap_pct = how far the price is under the fair value',
        'n', 1, 'as_of', greatest(a.last_seen_at, a.removed_at)));
END
$fn$;
COMMENT ON FUNCTION otto.ad_details(bigint) IS 'One ad: its fields, its event history, days listed (earlier listings of a relisted car included), price cuts, and its fair value with the gap and deal class';

-- 2-5 ads side by side, with what differs and which is best at it.
CREATE OR REPLACE FUNCTION otto.compare_ads(ad_ids bigint[]) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids  bigint[] := ARRAY(SELECT DISTINCT x FROM unnest(ad_ids) x WHERE x IS NOT NULL);
    ads  jsonb;
    cmp  jsonb;
BEGIN
    IF cardinality(ids) NOT BETWEEN 2 AND 5 THEN
        RAISE EXCEPTION 'compare_ads takes 2 to 5 different ad ids, not %', coalesce(cardinality(ids), 0)
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT jsonb_agg(otto.ad_details(x) || jsonb_build_object('depreciation_pct_per_year',
                     (SELECT round((100 * (1 - exp(f.b_age)))::numeric, 1)
                        FROM otto.ad a, otto.market_slopes(a.make, a.model) f WHERE a.ad_id = x))
                     ORDER BY o)
      INTO ads FROM unnest(ids) WITH ORDINALITY u(x, o);
    -- per field: the values in order, whether they differ, and the best ad where "best" means something
    SELECT jsonb_agg(jsonb_build_object('field', d.field, 'values', d.vals, 'differ', d.differ, 'best_ad_id', d.best)
                     ORDER BY d.o)
      INTO cmp
      FROM (SELECT k.field, k.o, jsonb_agg(a->k.field ORDER BY i) AS vals,
                   count(DISTINCT a->k.field) > 1 AS differ,
                   CASE WHEN count(DISTINCT a->k.field) > 1 AND k.better IS NOT NULL THEN
                        (array_agg((a->>'ad_id')::bigint ORDER BY CASE k.better WHEN 'low' THEN (a->>k.field)::numeric
                                                                      WHEN 'high' THEN -(a->>k.field)::numeric END NULLS LAST))[1] END AS best
              FROM jsonb_array_elements(ads) WITH ORDINALITY e(a, i),
                   (VALUES ('make', 1, NULL), ('model', 2, NULL), ('year', 3, 'high'), ('mileage_km', 4, 'low'),
                           ('price_eur', 5, 'low'), ('fair_value_eur', 6, NULL), ('gap_pct', 7, 'high'), ('deal', 8, NULL),
                           ('depreciation_pct_per_year', 9, 'low'), ('days_listed', 10, NULL), ('price_cuts', 11, NULL),
                           ('fuel', 12, NULL), ('body', 13, NULL), ('gearbox', 14, NULL), ('power_kw', 15, 'high'),
                           ('engine_cc', 16, NULL), ('state', 17, NULL), ('city', 18, NULL)) k(field, o, better)
             GROUP BY k.field, k.o, k.better) d;
    RETURN jsonb_build_object('ads', ads, 'comparison', cmp, 'currency', 'EUR',
        'method', 'each ad''s details and fair value; best = newest year, lowest mileage, price and depreciation, largest gap under fair value, most power',
        'n', jsonb_array_length(ads), 'as_of', otto.market_as_of());
END
$fn$;
COMMENT ON FUNCTION otto.compare_ads(bigint[]) IS '2-5 ads side by side: each one''s details, fair value gap, depreciation and days listed, and per field whether they differ and which ad is best';

-------------------------------------------------------------------------------

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
GRANT EXECUTE ON FUNCTION otto.search_estimate(jsonb) TO otto_app;
