-- src/chat/tools.sql: the chat tools: registry, argument checks, call_tool, and the tools shipped.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

CREATE TABLE otto.tool (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    title         text NOT NULL,
    description   text NOT NULL,
    fn            regprocedure NOT NULL,
    input_schema  jsonb NOT NULL CHECK (input_schema->>'type' = 'object'),
    output_schema jsonb NOT NULL CHECK (output_schema->>'type' = 'object'),
    list_key      text,
    arg_params    jsonb NOT NULL DEFAULT '{}',
    builtin       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE otto.tool IS 'Tools for chat assistants: each backed by a read-only Otto function, called through otto.call_tool';
COMMENT ON COLUMN otto.tool.fn IS 'The function that answers (STABLE or IMMUTABLE); arguments are passed by name';
COMMENT ON COLUMN otto.tool.input_schema IS 'JSON Schema of the arguments (object; properties with type, enum, minimum, maximum, minLength, maxLength, pattern, minItems, maxItems, default; required; additionalProperties false)';
COMMENT ON COLUMN otto.tool.output_schema IS 'JSON Schema of the result object';
COMMENT ON COLUMN otto.tool.list_key IS 'Key of the result''s list that the limit argument bounds; call_tool sets truncated when there were more';
COMMENT ON COLUMN otto.tool.builtin IS 'Shipped with Otto; tools users add (false) are kept by pg_dump';
COMMENT ON COLUMN otto.tool.arg_params IS 'Argument names that differ from the function''s parameter names: {"argument": "parameter"}';

-- A tool runs with the rights of otto.call_tool's owner, so it may only be
-- code the extension itself ships: a function of schema otto that belongs to
-- the extension and cannot write.  Checked when a tool is registered and
-- again at each call (the function could have changed since).
CREATE OR REPLACE FUNCTION otto.tool_fn_check(tool text, fn regprocedure) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_proc p
                     JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                                AND d.deptype = 'e'
                     JOIN pg_catalog.pg_extension e ON d.refclassid = 'pg_catalog.pg_extension'::regclass
                                                   AND d.refobjid = e.oid AND e.extname = 'otto'
                    WHERE p.oid = fn AND p.pronamespace = 'otto'::regnamespace AND p.prokind = 'f') THEN
        RAISE EXCEPTION 'tool %: % is not a function of the otto extension', tool, fn
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'A tool can only call a function Otto ships in schema otto (see \df otto.*).';
    END IF;
    IF (SELECT provolatile FROM pg_catalog.pg_proc WHERE oid = fn) = 'v' THEN
        RAISE EXCEPTION 'tool %: % is volatile; tools must be read-only (STABLE) functions', tool, fn
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.tool_fn_check(text, regprocedure) IS 'Refuses a tool function that is not a read-only function of the otto extension in schema otto (tools run with otto.call_tool''s rights)';

CREATE OR REPLACE FUNCTION otto.tool_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM otto.tool_fn_check(NEW.name, NEW.fn);
    RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER tool_check BEFORE INSERT OR UPDATE ON otto.tool FOR EACH ROW EXECUTE FUNCTION otto.tool_check();

-- The arguments checked against a JSON Schema, defaults applied.  Errors say
-- what to send instead.
CREATE OR REPLACE FUNCTION otto.tool_args(schema jsonb, args jsonb, path text DEFAULT '') RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    props jsonb := coalesce(schema->'properties', '{}');
    out   jsonb := '{}';
    k     text;
    p     jsonb;
    v     jsonb;
    types text[];
    t     text;
    what  text;
    e     jsonb;
BEGIN
    args := coalesce(args, '{}');
    IF jsonb_typeof(args) <> 'object' THEN
        RAISE EXCEPTION 'arguments% must be a JSON object, not %', CASE WHEN path <> '' THEN ' of "' || path || '"' ELSE '' END,
              jsonb_typeof(args) USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Send an object with: ' || (SELECT string_agg(x, ', ') FROM jsonb_object_keys(props) x);
    END IF;
    FOR k IN SELECT jsonb_object_keys(args) LOOP
        IF NOT props ? k THEN
            RAISE EXCEPTION 'unknown argument "%"', left(path || k, 100) USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Arguments' || CASE WHEN path <> '' THEN ' of ' || rtrim(path, '.') ELSE '' END || ': '
                         || (SELECT string_agg(x, ', ') FROM jsonb_object_keys(props) x);
        END IF;
    END LOOP;
    FOR k, p IN SELECT * FROM jsonb_each(props) LOOP
        v := args->k;
        IF v IS NULL OR v = 'null' THEN
            IF p ? 'default' THEN
                out := out || jsonb_build_object(k, p->'default');
            ELSIF coalesce(schema->'required', '[]') ? k THEN
                RAISE EXCEPTION 'missing argument "%"', path || k USING ERRCODE = 'invalid_parameter_value',
                      HINT = coalesce(p->>'description', 'It is required.');
            END IF;
            CONTINUE;
        END IF;
        types := CASE WHEN jsonb_typeof(p->'type') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(p->'type'))
                      ELSE ARRAY[p->>'type'] END;
        t := (SELECT x FROM unnest(types) x
               WHERE CASE x WHEN 'integer' THEN jsonb_typeof(v) = 'number' AND (v::text)::numeric = trunc((v::text)::numeric)
                            WHEN 'number' THEN jsonb_typeof(v) = 'number'
                            ELSE jsonb_typeof(v) = x END LIMIT 1);
        what := (SELECT string_agg(CASE x WHEN 'integer' THEN 'an integer' WHEN 'number' THEN 'a number' WHEN 'string' THEN 'a string'
                                          WHEN 'boolean' THEN 'true or false' WHEN 'array' THEN 'a list' ELSE 'an object' END, ' or ')
                   FROM unnest(types) x)
                || CASE WHEN p ? 'enum' THEN ', one of ' || (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(p->'enum') x)
                        WHEN p ? 'minimum' AND p ? 'maximum' THEN format(' from %s to %s', p->'minimum', p->'maximum')
                        WHEN p ? 'minimum' THEN format(' of at least %s', p->'minimum')
                        WHEN p ? 'maximum' THEN format(' of at most %s', p->'maximum')
                        WHEN p ? 'maxItems' THEN format(' of %s to %s items', coalesce(p->'minItems', '0'), p->'maxItems')
                        WHEN p ? 'maxLength' THEN format(' of at most %s characters', p->'maxLength')
                        WHEN p ? 'pattern' THEN format(' matching %s', p->>'pattern')
                        ELSE '' END;
        IF t IS NULL
           OR (p ? 'enum' AND NOT p->'enum' @> jsonb_build_array(v))
           OR (t IN ('integer', 'number') AND p ? 'minimum' AND (v::text)::numeric < (p->>'minimum')::numeric)
           OR (t IN ('integer', 'number') AND p ? 'maximum' AND (v::text)::numeric > (p->>'maximum')::numeric)
           OR (t = 'string' AND length(v->>0) NOT BETWEEN coalesce((p->>'minLength')::int, 0) AND coalesce((p->>'maxLength')::int, 10000))
           OR (t = 'string' AND p ? 'pattern' AND v->>0 !~ (p->>'pattern'))
           OR (t = 'array' AND jsonb_array_length(v) NOT BETWEEN coalesce((p->>'minItems')::int, 0) AND coalesce((p->>'maxItems')::int, 1000)) THEN
            RAISE EXCEPTION 'argument "%" must be %, not %', path || k, what, left(v::text, 100)
                  USING ERRCODE = 'invalid_parameter_value', HINT = 'Send ' || what || '.' || coalesce(' ' || (p->>'description'), '');
        END IF;
        IF t = 'array' AND p ? 'items' THEN
            FOR e IN SELECT * FROM jsonb_array_elements(v) LOOP
                PERFORM otto.tool_args(jsonb_build_object('type', 'object', 'properties', jsonb_build_object('item', p->'items')),
                                       jsonb_build_object('item', e), path || k || '.');
            END LOOP;
        ELSIF t = 'object' THEN
            v := otto.tool_args(p, v, path || k || '.');
        END IF;
        out := out || jsonb_build_object(k, v);
    END LOOP;
    RETURN out;
END
$fn$;
COMMENT ON FUNCTION otto.tool_args(jsonb, jsonb, text) IS 'Arguments checked against a tool''s input JSON Schema (unknown keys, types, enums, ranges, lengths, patterns, list sizes; nested objects), with defaults applied';

-- Run a read-only query with $1 = args under otto.tool_timeout (C: arms the
-- statement timeout for the call and restores the caller's).
CREATE OR REPLACE FUNCTION otto.tool_exec(query text, args jsonb) RETURNS jsonb
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'otto_tool_exec';
COMMENT ON FUNCTION otto.tool_exec(text, jsonb) IS 'Runs a read-only query returning one jsonb with $1 = args, cancelled after otto.tool_timeout (otto.call_tool''s engine; not for chat)';

CREATE OR REPLACE FUNCTION otto.tools() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT jsonb_build_object('tools', coalesce(jsonb_agg(jsonb_build_object(
               'name', t.name, 'title', t.title, 'description', t.description,
               'inputSchema', t.input_schema, 'outputSchema', t.output_schema,
               'annotations', jsonb_build_object('title', t.title, 'readOnlyHint', true, 'destructiveHint', false,
                                                 'idempotentHint', true, 'openWorldHint', false))
               ORDER BY t.name), '[]'))
      FROM otto.tool t
$fn$;
COMMENT ON FUNCTION otto.tools() IS 'The chat tools as MCP tools/list returns them: name, title, description, input and output JSON Schemas, annotations (read-only, closed world)';

CREATE OR REPLACE FUNCTION otto.call_tool(name text, args jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET transaction_read_only = on          -- nothing a tool runs can write
AS $fn$
#variable_conflict use_variable
DECLARE
    t     otto.tool;
    a     jsonb;
    lim   int;
    call  text;
    res   jsonb;
    trunc boolean := false;
BEGIN
    SELECT * INTO t FROM otto.tool x WHERE x.name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown tool "%"', left(name, 100) USING ERRCODE = 'undefined_function',
              HINT = 'Tools: ' || (SELECT string_agg(x.name, ', ' ORDER BY x.name) FROM otto.tool x);
    END IF;
    PERFORM otto.tool_fn_check(t.name, t.fn);
    a := otto.tool_args(t.input_schema, args);
    lim := (a->>'limit')::int;
    -- the call by parameter name, each argument cast from $1 to the parameter's type;
    -- one more row than the limit tells whether the list was cut
    SELECT format('SELECT %s(%s)', t.fn::regproc,
                  string_agg(format('%I => %s', p.pname,
                                    CASE WHEN p.ptype = 'jsonb'::regtype THEN format('$1->%L', k.key)
                                         WHEN p.ptype = 'interval'::regtype THEN format('($1->>%L)::interval', k.key)
                                         WHEN k.key = 'limit' AND t.list_key IS NOT NULL THEN format('($1->>%L)::int + 1', k.key)
                                         WHEN jsonb_typeof(k.value) = 'array'
                                         THEN format('ARRAY(SELECT jsonb_array_elements_text($1->%L))::%s', k.key, format_type(p.ptype, NULL))
                                         ELSE format('($1->>%L)::%s', k.key, format_type(p.ptype, NULL)) END), ', '))
      INTO call
      FROM jsonb_each(a) k
      JOIN LATERAL (SELECT x.n AS pname, x.t AS ptype
                      FROM pg_catalog.pg_proc f,
                           unnest(f.proargnames, f.proargtypes::oid[]::regtype[]) x(n, t)
                     WHERE f.oid = t.fn AND x.n = coalesce(t.arg_params->>k.key, k.key)) p ON true;
    res := otto.tool_exec(coalesce(call, format('SELECT %s()', t.fn::regproc)), a);
    IF t.list_key IS NOT NULL AND lim IS NOT NULL AND jsonb_array_length(coalesce(res->t.list_key, '[]')) > lim THEN
        IF (res->>'n')::bigint = lim + 1 THEN   -- n counted the rows returned
            res := res || jsonb_build_object('n', lim);
        END IF;
        res := jsonb_set(res, ARRAY[t.list_key],
                         (SELECT jsonb_agg(e ORDER BY i) FROM jsonb_array_elements(res->t.list_key) WITH ORDINALITY x(e, i) WHERE i <= lim));
        trunc := true;
    END IF;
    IF t.list_key IS NOT NULL AND (res->>'limit')::bigint = lim + 1 THEN   -- the limit asked for, not the one passed
        res := res || jsonb_build_object('limit', lim);
    END IF;
    IF res ? t.list_key THEN
        res := res || jsonb_build_object('truncated', trunc);
    END IF;
    RETURN res;
END
$fn$;
COMMENT ON FUNCTION otto.call_tool(text, jsonb) IS 'Calls a chat tool: checks the arguments against its schema, applies defaults and the row limit (truncated says when there were more), runs its function read-only under otto.tool_timeout (ms, default 10000) and returns its jsonb result';

-- The tools shipped (builtin; every update brings them up to date).  Enums are
-- the vocabulary's codes; every list has a limit (default 20, at most 100).
-- (car: a car as fair_value and price_verdict take it)
WITH car (properties) AS (VALUES ('
   "make": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Make as people write it, e.g. Volkswagen, Škoda, BMW"},
   "model": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Model, e.g. Golf, Octavia, 320"},
   "year": {"type": "integer", "minimum": 1950, "maximum": 2030, "description": "Model year, e.g. 2015"},
   "mileage_km": {"type": "integer", "minimum": 0, "maximum": 2000000, "description": "Mileage in kilometres"},
   "fuel": {"type": "string", "enum": ["diesel", "petrol", "petrol_lpg", "petrol_cng", "hybrid", "electric"]},
   "power_kw": {"type": "integer", "minimum": 10, "maximum": 1000, "description": "Engine power in kW (1 hp = 0.7355 kW)"}'))
INSERT INTO otto.tool AS o (name, title, description, fn, input_schema, output_schema, list_key, arg_params, builtin)
SELECT name, title, description, fn::regprocedure, input_schema::jsonb, output_schema::jsonb, list_key, arg_params::jsonb, true
  FROM (VALUES
('fair_value', 'Fair value of a car',
 'What a used car of a given make, model and model year is worth on the market now, in euros: an estimate, an 80% range, the comparable live ads it is based on (with links to a few), and a confidence level. Give mileage, fuel and power when known: they sharpen the estimate. When the exact group is thin it widens (neighbouring years, all years, the make) and says so in "fallback".',
 'otto.fair_value(text,text,int,int,text,int)',
 '{"type": "object", "additionalProperties": false, "required": ["make", "model", "year"], "properties": {'
   || (SELECT properties FROM car) || '}}',
 '{"type": "object", "required": ["as_of", "n"], "properties": {
   "estimate_eur": {"type": ["integer", "null"]}, "range_80_eur": {"type": "array", "items": {"type": "integer"}},
   "confidence": {"type": "string", "enum": ["high", "medium", "low"]}, "comparables": {"type": "object"},
   "fallback": {"type": ["string", "null"]}, "currency": {"type": "string"}, "method": {"type": "string"},
   "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('price_verdict', 'Is a price good?',
 'Whether an asking price is good for a used car of a given make, model and model year: the verdict (great: at least 20% under the car''s value, good: 10-20% under, fair: within 10%, high: more than 10% over; suspicious: under half the fair value or far under its range), the fair value with its 80% range, the gap, how sure Otto is that the price is under the value, and why. The verdict allows for the estimate''s uncertainty: a price far under an uncertain estimate is not yet a great deal. Give mileage, fuel and power when known.',
 'otto.price_verdict(text,text,int,int,int,text,int)',
 '{"type": "object", "additionalProperties": false, "required": ["make", "model", "year", "price_eur"], "properties": {
   "price_eur": {"type": "integer", "minimum": 1, "maximum": 10000000, "description": "The asking price in euros"},'
   || (SELECT properties FROM car) || '}}',
 '{"type": "object", "required": ["as_of", "verdict"], "properties": {
   "verdict": {"type": ["string", "null"], "enum": ["great", "good", "fair", "high", "suspicious", null]},
   "fair_value_eur": {"type": ["integer", "null"]}, "range_80_eur": {"type": "array", "items": {"type": "integer"}},
   "gap_pct": {"type": "number"}, "likely_gap_pct": {"type": "number"}, "sure_under_pct": {"type": "number"},
   "confidence": {"type": "string", "enum": ["high", "medium", "low"]}, "reason": {"type": "string"},
   "method": {"type": "string"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('depreciation', 'Depreciation',
 'How fast cars lose value. With a make (and optionally a model): the annual depreciation rate from a log-price regression on age and mileage with its 95% interval, the value curve by model year, price cuts seen on live ads, and the make''s models ranked. Without a make: makes (or, with by_model, models) ranked by depreciation, fastest first.',
 'otto.depreciation(text,text,int,boolean,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Make; leave out for a ranking of the market"},
   "model": {"type": "string", "minLength": 1, "maxLength": 40},
   "by_model": {"type": "boolean", "default": false, "description": "Rank models instead of makes (without a make)"},
   "min_ads": {"type": "integer", "minimum": 5, "maximum": 10000, "default": 30, "description": "Least priced live ads a make or model needs to be ranked"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}}',
 '{"type": "object", "required": ["as_of", "n"], "properties": {
   "annual_rate_pct": {"type": ["number", "null"]}, "ranking": {"type": "array"}, "value_curve": {"type": ["array", "null"]},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'ranking', '{"limit": "lim"}'),
('fastest_selling', 'Fastest-selling cars',
 'Which makes, models or model years sell fastest: ranked by sales per 100 ad-days on the market (a sale: an ad gone for good, relisted cars are not sales; the days of ads still live count too), each with its 95% interval, the expected days to sell, and, when the history reaches that far, the median days and the share sold within 7 and 30 days. Filter by price band, body and fuel; groups need min_sold sales to be ranked.',
 'otto.fastest_selling(text,int,int,text,text,int,int,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "level": {"type": "string", "enum": ["make", "model", "model_year"], "default": "model"},
   "price_min": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Euros"},
   "price_max": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Euros"},
   "body": {"type": "string", "enum": ["sedan", "hatchback", "estate", "coupe", "convertible", "mpv", "suv", "pickup"]},
   "fuel": {"type": "string", "enum": ["diesel", "petrol", "petrol_lpg", "petrol_cng", "hybrid", "electric"]},
   "min_sold": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
   "offset": {"type": "integer", "minimum": 0, "maximum": 100000, "default": 0, "description": "Rows of the ranking to skip (the next page)"}}}',
 '{"type": "object", "required": ["as_of", "n", "ranking"], "properties": {
   "ranking": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"},
   "groups": {"type": "integer"}, "history_days": {"type": ["number", "null"]},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'ranking', '{"limit": "lim", "offset": "off"}'),
('good_deals', 'Good deals',
 'Fresh ads (new, relisted or cut in price within "since") priced well under their fair value, best first: each with its price, fair value and 80% range, the gap in euros and percent, a deal class (great: 20% or more under, good: 10-20%, fair: within 10%, high: more than 10% over), how sure Otto is that it is at least 5% under (only deals it is min_sure_pct sure of are listed) and why it is a deal. Damaged cars are left out unless asked for.',
 'otto.good_deals(interval,int,text,text,int,text,text,numeric,boolean,numeric)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "since": {"type": "string", "pattern": "^[1-9][0-9]{0,2} (hour|hours|day|days|week|weeks)$", "default": "1 day", "description": "How fresh, e.g. \"6 hours\", \"3 days\", \"1 week\""},
   "make": {"type": "string", "minLength": 1, "maxLength": 40}, "model": {"type": "string", "minLength": 1, "maxLength": 40},
   "max_price": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Euros"},
   "fuel": {"type": "string", "enum": ["diesel", "petrol", "petrol_lpg", "petrol_cng", "hybrid", "electric"]},
   "body": {"type": "string", "enum": ["sedan", "hatchback", "estate", "coupe", "convertible", "mpv", "suv", "pickup"]},
   "min_gap_pct": {"type": "number", "minimum": 0, "maximum": 90, "default": 10, "description": "Least percentage under fair value"},
   "include_damaged": {"type": "boolean", "default": false},
   "min_sure_pct": {"type": "number", "minimum": 0, "maximum": 100, "default": 80, "description": "How sure Otto must be that the price is at least 5% under the car''s value"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}}',
 '{"type": "object", "required": ["as_of", "n", "deals"], "properties": {
   "deals": {"type": "array", "items": {"type": "object"}}, "classes": {"type": "object"}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'deals', '{"limit": "lim"}'),
('search_ads', 'Search ads',
 'Live ads matching any combination of filters, sorted, a page at a time. Categorical filters take a code or a list of codes. Prices in euros, mileage in km, power in kW, engine size in cm3.',
 'otto.search_ads(jsonb,text,int,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "filters": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
     "make": {"type": "string", "maxLength": 40}, "model": {"type": "string", "maxLength": 40},
     "year_min": {"type": "integer", "minimum": 1900, "maximum": 2100}, "year_max": {"type": "integer", "minimum": 1900, "maximum": 2100},
     "price_min": {"type": "integer", "minimum": 0, "maximum": 10000000}, "price_max": {"type": "integer", "minimum": 0, "maximum": 10000000},
     "mileage_min": {"type": "integer", "minimum": 0, "maximum": 3000000}, "mileage_max": {"type": "integer", "minimum": 0, "maximum": 3000000},
     "power_min": {"type": "integer", "minimum": 0, "maximum": 2000}, "power_max": {"type": "integer", "minimum": 0, "maximum": 2000},
     "engine_cc_min": {"type": "integer", "minimum": 0, "maximum": 20000}, "engine_cc_max": {"type": "integer", "minimum": 0, "maximum": 20000},
     "seats_min": {"type": "integer", "minimum": 1, "maximum": 99}, "seats_max": {"type": "integer", "minimum": 1, "maximum": 99},
     "doors": {"type": "string", "maxLength": 10, "description": "As the site writes it, e.g. 4/5"},
     "fuel": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "body": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "gearbox": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "drive": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "color": {"type": ["string", "array"], "maxLength": 40, "maxItems": 10},
     "seller_type": {"type": "string", "enum": ["private", "dealer"]},
     "region": {"type": "string", "maxLength": 60}, "city": {"type": "string", "maxLength": 60},
     "damaged": {"type": "boolean", "description": "true: only damaged cars; false: only undamaged"},
     "price_cut": {"type": "boolean", "description": "true: only ads whose price was cut"},
     "good_deal": {"type": "boolean", "description": "true: only ads at least 10% under their model''s price line"},
     "text": {"type": "string", "maxLength": 100, "description": "Words in the title"}}},
   "sort": {"type": "string", "enum": ["newest", "price_asc", "price_desc", "mileage_asc", "year_desc", "power_desc", "deal"], "default": "newest"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
   "offset": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0}}}',
 '{"type": "object", "required": ["as_of", "n", "ads"], "properties": {
   "ads": {"type": "array", "items": {"type": "object"}}, "filters": {"type": "object"}, "truncated": {"type": "boolean"},
   "currency": {"type": "string"}, "units": {"type": "object"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'ads', '{"limit": "lim", "offset": "off"}'),
('ad_details', 'Ad details',
 'Everything Otto knows about one ad: its fields, its price and event history, how long it has been listed, and its fair value with the gap and deal class.',
 'otto.ad_details(bigint)',
 '{"type": "object", "additionalProperties": false, "required": ["ad_id"], "properties": {
   "ad_id": {"type": "integer", "minimum": 1, "maximum": 9007199254740991, "description": "Otto''s ad id, as search_ads and good_deals return it"}}}',
 '{"type": "object", "required": ["ad_id", "as_of"], "properties": {
   "ad_id": {"type": "integer"}, "url": {"type": "string"}, "price_eur": {"type": ["integer", "null"]},
   "fair_value": {"type": ["object", "null"]}, "history": {"type": ["array", "null"]}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('compare_ads', 'Compare ads',
 'Two to five ads side by side: each one''s details, fair value gap, depreciation and days listed, and for each field whether they differ and which ad is best at it (newest, lowest mileage and price, largest gap under fair value, most power).',
 'otto.compare_ads(bigint[])',
 '{"type": "object", "additionalProperties": false, "required": ["ad_ids"], "properties": {
   "ad_ids": {"type": "array", "minItems": 2, "maxItems": 5, "items": {"type": "integer", "minimum": 1, "maximum": 9007199254740991}}}}',
 '{"type": "object", "required": ["ads", "comparison", "as_of"], "properties": {
   "ads": {"type": "array"}, "comparison": {"type": "array"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('market_overview', 'Market overview',
 'The market at a glance, or one make or model: live ads, median price and mileage, the day''s new ads, sales and price cuts, the most popular makes or models, and price, mileage and model-year histograms for charts.',
 'otto.market_overview(text,text)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40}, "model": {"type": "string", "minLength": 1, "maxLength": 40}}}',
 '{"type": "object", "required": ["as_of"], "properties": {
   "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('ask', 'Ask Otto',
 'Answers a plain-language question about the car market, in English or Serbian (Latin or Cyrillic script), without a language model: it recognises makes and models (common spellings and typos too), years, mileage, prices, fuel and body, picks one of the other tools, and returns a short answer in the question''s language with that tool''s result and what it did not understand. Prefer the specific tools when the arguments are clear.',
 'otto.ask(text)',
 '{"type": "object", "additionalProperties": false, "required": ["question"], "properties": {
   "question": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "The question, e.g. \"Koliko vredi Audi A4 iz 2008?\""}}}',
 '{"type": "object", "required": ["question", "language", "answer"], "properties": {
   "tool": {"type": ["string", "null"]}, "arguments": {"type": "object"}, "language": {"type": "string", "enum": ["en", "sr-Latn", "sr-Cyrl"]},
   "answer": {"type": "string"}, "result": {"type": ["object", "null"]}, "not_understood": {"type": "array"},
   "as_of": {"type": ["string", "null"]}}}',
 NULL, '{}'),
('similar_ads', 'Similar cars',
 'Live ads most like a given ad: the same model in neighbouring model years, and cars of the same body and fuel in the same price band, ranked by how close they are in make, model, body, fuel, gearbox, model year, price, mileage and power. Each comes with a similarity score (0-100) and how it differs ("same model, 1 years newer, 12% cheaper").',
 'otto.similar_ads(bigint,int,text)',
 '{"type": "object", "additionalProperties": false, "required": ["ad_id"], "properties": {
   "ad_id": {"type": "integer", "minimum": 1, "description": "An ad id from search_ads, good_deals or ad_details"},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
   "lang": {"type": "string", "enum": ["en", "sr-Latn", "sr-Cyrl"], "description": "Language of the explanations"}}}',
 '{"type": "object", "required": ["as_of", "n", "similar"], "properties": {
   "ad": {"type": "object"}, "similar": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'similar', '{"limit": "lim"}'),
('recommend', 'Recommendations for me',
 'Cars the signed-in user may like: live ads they have not seen yet, from the ads they liked and viewed and from what other users with the same likes like, each with the reason. Without any likes or views yet: fresh good deals and popular ads. Needs a signed-in user (otto-mcp signs in with OTTO_MCP_USER_TOKEN); otherwise it fails and says so.',
 'otto.recommend(int,text)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
   "lang": {"type": "string", "enum": ["en", "sr-Latn", "sr-Cyrl"], "description": "Language of the reasons"}}}',
 '{"type": "object", "required": ["as_of", "n", "recommendations"], "properties": {
   "recommendations": {"type": "array", "items": {"type": "object"}}, "cold_start": {"type": "boolean"},
   "truncated": {"type": "boolean"}, "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'recommendations', '{"limit": "lim"}'),
('ratings', 'Ratings and reviews',
 'What Otto''s users think of a model (give make and model) or of a seller (give site and seller_id): the average rating (1-5), how many rated it, the distribution, and the latest reviews, anonymous. Review texts are as users wrote them; title_html and body_html are the same text escaped for HTML.',
 'otto.ratings(text,text,text,text,int)',
 '{"type": "object", "additionalProperties": false, "properties": {
   "make": {"type": "string", "minLength": 1, "maxLength": 40}, "model": {"type": "string", "minLength": 1, "maxLength": 40},
   "site": {"type": "string", "minLength": 1, "maxLength": 63}, "seller_id": {"type": "string", "minLength": 1, "maxLength": 100},
   "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5, "description": "How many of the latest reviews"}}}',
 '{"type": "object", "required": ["as_of", "n"], "properties": {
   "average": {"type": ["number", "null"]}, "count": {"type": "integer"}, "distribution": {"type": "object"},
   "reviews": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"},
   "method": {"type": "string"}, "n": {"type": "integer"}, "as_of": {"type": ["string", "null"]}}}',
 'reviews', '{"limit": "lim"}')
) AS v (name, title, description, fn, input_schema, output_schema, list_key, arg_params)
ON CONFLICT (name) DO UPDATE SET title = excluded.title, description = excluded.description, fn = excluded.fn, input_schema = excluded.input_schema, output_schema = excluded.output_schema, list_key = excluded.list_key, arg_params = excluded.arg_params
    WHERE o.builtin;
-------------------------------------------------------------------------------
-- pg_dump keeps user data (the extension's own rows are recreated by the script).

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.tool', 'WHERE NOT builtin');
GRANT SELECT ON otto.tool TO otto_app;
GRANT EXECUTE ON FUNCTION otto.tools(), otto.call_tool(text, jsonb) TO otto_app, otto_chat;
