-- Otto 1.4 to 1.5: the ingest's store path is faster: its relist check
-- (otto.relist_of) is PL/pgSQL, so that its plan is kept, its link upserts
-- leave known URLs out first, and the crawlers keep the planner's statistics
-- up with what they store (otto.stats_refresh: a plan kept from an empty
-- otto.ad scanned every ad of the site).  No storage changes: the rerun part
-- below creates the functions again.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.5'" to load this file. \quit
