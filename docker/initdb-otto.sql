-- Run once by the postgres image's entrypoint on a new data directory.
CREATE DATABASE otto;
\connect otto
CREATE EXTENSION pg_cron;
CREATE EXTENSION otto;
