-- src/core/schema.sql: the schema, the roles and build_info.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).
\echo Use "CREATE EXTENSION otto" to load this file. \quit

CREATE SCHEMA otto;
COMMENT ON SCHEMA otto IS 'Otto: car-market intelligence engine (crawler, ad log, market analytics, chat tools)';

-------------------------------------------------------------------------------
-- Roles.  Roles are cluster-wide, so they are created only if missing and are
-- deliberately left behind by DROP EXTENSION: another database's otto may be
-- using them.  Everything they were granted in this database goes with it.
-------------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'otto_admin') THEN
        CREATE ROLE otto_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'otto_chat') THEN
        CREATE ROLE otto_chat NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'otto_app') THEN
        CREATE ROLE otto_app NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE otto_admin IS 'Otto administrators: configure sites, start and stop crawls, read and write every Otto table';
COMMENT ON ROLE otto_chat IS 'Otto chat front ends: may only execute Otto''s read-only tool functions';
COMMENT ON ROLE otto_app IS 'Otto buyer front ends: sign in a user with otto.login(token), then read the market and that user''s own likes, saved searches, alerts and reviews';
CREATE OR REPLACE FUNCTION otto.build_info() RETURNS jsonb
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_build_info';
COMMENT ON FUNCTION otto.build_info() IS 'Versions of Otto, PostgreSQL and libcurl, and whether the workers are preloaded';

GRANT USAGE ON SCHEMA otto TO otto_admin, otto_chat, otto_app;
GRANT EXECUTE ON FUNCTION otto.build_info() TO otto_chat;
