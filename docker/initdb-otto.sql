-- Run once by the postgres image's entrypoint on a new data directory.
CREATE DATABASE otto;
\connect otto
CREATE EXTENSION pg_cron;
CREATE EXTENSION otto;
-- otto-web's login: the buyer front end and the chat role, never a superuser.
CREATE ROLE otto_web LOGIN PASSWORD 'otto' IN ROLE otto_app, otto_chat;
-- The bundled market (the "market" service, on this container's loopback) as a site.
SELECT otto.site_add('market', 'Bundled market simulator', ARRAY['127.0.0.1:8428'],
       ARRAY['http://127.0.0.1:8428/auto-oglasi/pretraga?page=1&sort=basic'],
       '^http://127\.0\.0\.1:8428/auto-oglasi/([0-9]+)/',
       '^http://127\.0\.0\.1:8428/auto-oglasi/(?:pretraga|[a-z])', 'polovniautomobili', true);
UPDATE otto.site SET rules = rules || '{"timezone": "UTC"}', crawl_delay_ms = 0, max_concurrency = 32 WHERE name = 'market';
-- daily sweeps and hourly maintenance; the first sweep starts with the server
SELECT otto.schedule_install();
SELECT otto.crawl_start('market');
