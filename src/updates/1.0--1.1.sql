-- Otto 1.0 to 1.1: the storage changes and what 1.1 removes (below), then
-- every function, view, trigger, shipped row, comment, policy and grant of
-- 1.1 as the stage sources have them, and the tables 1.1 adds (appended by
-- the Makefile: src/updates/rerun.awk), then 1.0--1.1.after.sql.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.1'" to load this file. \quit

-- otto.fold replaces otto.latin (otto.name_key and otto.ask_route fold with it).
DROP FUNCTION otto.latin(text);
-- Poison pages are counted from each crawler's crash record (src/crawl/crash.c,
-- otto.frontier_crashed), no longer by a transaction per page.
DROP FUNCTION IF EXISTS otto.frontier_processing(int, text);   -- (main between 1.0 and 1.1 had none)
