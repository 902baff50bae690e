-- Otto 1.4 to 1.5: the ingest's store path is faster: its relist check
-- (otto.relist_of) is PL/pgSQL, so that its plan is kept, and its lookups of
-- an ad by the site's id are planned for their values (a plan kept from an
-- empty otto.ad scanned every ad of the site).  No storage changes: the rerun
-- part below creates the functions again.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.5'" to load this file. \quit
