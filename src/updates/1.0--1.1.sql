-- Otto 1.0 to 1.1: the storage changes and what 1.1 removes.  The Makefile
-- appends the later steps' and what every update re-runs from the sources
-- (src/updates/rerun.awk), then the steps' .after.sql files.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.1'" to load this file. \quit

-- otto.fold replaces otto.latin (otto.name_key and otto.ask_route fold with it).
DROP FUNCTION otto.latin(text);
-- Poison pages are counted from each crawler's crash record (src/crawl/crash.c,
-- otto.frontier_crashed), no longer by a transaction per page.
DROP FUNCTION IF EXISTS otto.frontier_processing(int, text);   -- a database installed from an earlier 1.0 build has it
