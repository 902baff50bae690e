-- src/core/privileges.sql: privileges over every stage (last).
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-------------------------------------------------------------------------------
-- Privileges over every stage, last: nothing in otto is public; the admin
-- role gets everything; the buyer front end (otto_app) every function that
-- cannot write (not VOLATILE).  Each stage grants the rest at its end: the
-- tables otto_app reads and writes (row-level security decides which rows)
-- and the functions otto_app and otto_chat may call.
-------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA otto FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA otto FROM PUBLIC;

GRANT ALL ON ALL TABLES IN SCHEMA otto TO otto_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA otto TO otto_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA otto TO otto_admin;

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'otto'::regnamespace AND p.prokind IN ('f', 'a') AND p.provolatile <> 'v' LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO otto_app', f);
    END LOOP;
END
$$;
