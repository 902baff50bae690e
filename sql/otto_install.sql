-- CREATE EXTENSION otto: schema, tables, comments, the built-in site, roles,
-- privileges; DROP EXTENSION removes everything; and both can be repeated.
CREATE EXTENSION otto;

SELECT extname, extversion, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'otto';

-- The pipeline's first tables, each with a comment.
SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') IS NOT NULL AS has_comment
  FROM pg_class c
 WHERE c.relnamespace = 'otto'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY c.relname;

-- Every column whose meaning is not plain from its name carries a comment:
-- report the uncommented ones so a new column without one shows up here.
SELECT c.relname, a.attname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'otto'::regnamespace AND c.relkind = 'r'
   AND a.attnum > 0 AND NOT a.attisdropped
   AND col_description(c.oid, a.attnum) IS NULL
 ORDER BY 1, 2;

-- Build information names the libraries Otto links and knows it is preloaded.
SELECT array_agg(k ORDER BY k) AS keys FROM jsonb_object_keys(otto.build_info()) k;
SELECT otto.build_info() ->> 'otto' AS otto, (otto.build_info() ->> 'preloaded')::boolean AS preloaded;

-- The built-in site and its URL classes.
SELECT name, hosts, enabled, builtin, crawl_delay_ms, max_concurrency FROM otto.site;
SELECT u, substring(u FROM ad_url_pattern) AS source_ad_id, u ~ listing_url_pattern AS is_listing
  FROM otto.site,
       unnest(ARRAY['https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4-20-tdi-f-u-l',
                    'https://www.polovniautomobili.com/auto-oglasi/pretraga?page=2&sort=basic&brand=audi',
                    'https://www.polovniautomobili.com/auto-oglasi/audi',
                    'https://www.polovniautomobili.com/auto-oglasi/audi/a4',
                    'https://www.polovniautomobili.com/login']) u
 WHERE name = 'polovniautomobili';

-- Roles: the admin role holds everything, the chat role only read-only functions.
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'otto\_%' ORDER BY 1;
SELECT has_table_privilege('otto_admin', 'otto.ad', 'INSERT') AS admin_writes_ads,
       has_table_privilege('otto_chat', 'otto.ad', 'SELECT') AS chat_reads_ads,
       has_table_privilege('otto_chat', 'otto.site', 'UPDATE') AS chat_updates_sites,
       has_function_privilege('otto_chat', 'otto.build_info()', 'EXECUTE') AS chat_build_info,
       has_function_privilege('public', 'otto.build_info()', 'EXECUTE') AS public_build_info;
-- Every function the chat role may execute is read-only (not VOLATILE), but
-- for signing in and out (a session setting, no table).
SELECT p.oid::regprocedure AS chat_function, p.provolatile
  FROM pg_proc p
 WHERE p.pronamespace = 'otto'::regnamespace
   AND has_function_privilege('otto_chat', p.oid, 'EXECUTE')
 ORDER BY 1;
-- The buyer front end reads the market and may execute only functions that
-- cannot write, and the few that record what its signed-in user does.
SELECT has_table_privilege('otto_app', 'otto.ad', 'SELECT') AS app_reads_ads,
       has_table_privilege('otto_app', 'otto.ad', 'INSERT') AS app_writes_ads,
       has_table_privilege('otto_app', 'otto.alert', 'INSERT') AS app_writes_alerts,
       has_function_privilege('otto_app', 'otto.crawl_start(text)', 'EXECUTE') AS app_crawls,
       has_function_privilege('otto_app', 'otto.user_add(text, text)', 'EXECUTE') AS app_adds_users;
SELECT p.oid::regprocedure AS app_volatile_function
  FROM pg_proc p
 WHERE p.pronamespace = 'otto'::regnamespace AND p.provolatile = 'v'
   AND has_function_privilege('otto_app', p.oid, 'EXECUTE')
 ORDER BY 1;

-- DROP EXTENSION leaves nothing behind in this database: no schema, no
-- objects, and no privilege still held by Otto's (cluster-wide) roles.
DROP EXTENSION otto;
SELECT count(*) AS otto_schemas FROM pg_namespace WHERE nspname = 'otto';
SELECT count(*) AS grants_left
  FROM pg_shdepend d JOIN pg_database db ON db.oid = d.dbid
 WHERE db.datname = current_database()
   AND d.refobjid IN (SELECT oid FROM pg_roles WHERE rolname LIKE 'otto\_%');

-- Both again: create over existing roles, drop again.
CREATE EXTENSION otto;
SELECT count(*) AS sites FROM otto.site;
DROP EXTENSION otto;
SELECT count(*) AS otto_schemas FROM pg_namespace WHERE nspname = 'otto';
