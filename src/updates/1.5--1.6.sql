-- Otto 1.5 to 1.6: the crawler stores its pages in batches, one transaction
-- per batch, through otto.ingest_site_pages; the steps of the store path
-- take a batch's arrays and run set-based (one statement per batch), and
-- otto.ingest_site_page is a batch of one.  No storage changes: the steps'
-- per-page forms go, the rerun part below creates the batch forms.
\echo Use "ALTER EXTENSION otto UPDATE TO '1.6'" to load this file. \quit

DROP FUNCTION IF EXISTS otto.ingest_page_log(otto.site, text, text, text, int, text, int, timestamptz, jsonb);
DROP FUNCTION IF EXISTS otto.ingest_links(otto.site, text, int, text, text, timestamptz);
DROP FUNCTION IF EXISTS otto.ingest_ad_gone(otto.site, text, text, int, timestamptz);
DROP FUNCTION IF EXISTS otto.ingest_ad(otto.site, text, text, timestamptz);
DROP FUNCTION IF EXISTS otto.ad_update(otto.ad);
