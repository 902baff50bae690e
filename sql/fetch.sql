-- The crawler's pure pieces: which addresses are refused, how bodies are
-- decoded, how Retry-After is read; and the SQL it records outcomes with.
CREATE EXTENSION otto;

-- Non-public addresses are refused unless a site allows them.
SELECT a, otto.address_is_private(a) AS private
  FROM unnest(ARRAY['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '172.32.0.1',
                    '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.128.0.1', '0.0.0.0', '224.0.0.1',
                    '255.255.255.255', '198.18.0.1', '192.0.0.8', '8.8.8.8', '93.184.216.34', '185.60.216.35',
                    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1',
                    '::ffff:8.8.8.8', '2a00:1450:4001:80b::200e']) a;
SELECT otto.address_is_private('localhost');

-- Bodies: UTF-8 by default, the charset of the Content-Type or <meta>, and a clear error.
SELECT otto.decode_body(convert_to('Čačak, Šabac', 'UTF8'), 'text/html; charset=utf-8') AS utf8;
SELECT otto.decode_body(convert_to('Čačak, Šabac', 'WIN1250'), 'text/html; charset=windows-1250') AS win1250;
SELECT otto.decode_body(convert_to('<meta charset="iso-8859-2">Čačak', 'LATIN2'), 'text/html') AS meta_latin2;
SELECT otto.decode_body(convert_to('Niš', 'UTF8'), NULL) AS no_content_type;
SELECT otto.decode_body('\xc48d0061'::bytea, 'text/html; charset=utf-8') AS nul_byte;
SELECT otto.decode_body('\xff'::bytea, 'text/html') AS invalid_utf8;
SELECT otto.decode_body('abc'::bytea, 'text/html; charset=klingon') AS unknown;

-- Retry-After: seconds or an HTTP date; garbage is ignored.
SELECT v, otto.retry_after(v)
  FROM unnest(ARRAY['120', '0', '-5', 'soon', '']) v;
SELECT otto.retry_after(to_char(now() AT TIME ZONE 'UTC' + interval '1 hour', 'Dy, DD Mon YYYY HH24:MI:SS "GMT"'))
       BETWEEN 3500 AND 3601 AS http_date_in_an_hour;
SELECT otto.retry_after('Wed, 21 Oct 2015 07:28:00 GMT') AS past_date;

-- Recording outcomes: a retryable failure backs off, a refusal is final, both are logged.
INSERT INTO otto.frontier (site_id, url, kind, state, lease_owner, lease_until)
SELECT site_id, u, 'ad', 'leased', pg_backend_pid(), now() + interval '5 minutes'
  FROM otto.site, unnest(ARRAY['https://www.polovniautomobili.com/auto-oglasi/1/a',
                               'https://www.polovniautomobili.com/auto-oglasi/2/b',
                               'https://www.polovniautomobili.com/auto-oglasi/3/c']) u
 WHERE name = 'polovniautomobili';
SET otto.retry_base = '10s';
SELECT otto.fetch_failed(site_id, 'https://www.polovniautomobili.com/auto-oglasi/1/a', 'http', 'HTTP 503', 503, 60)
  FROM otto.site WHERE name = 'polovniautomobili';
SELECT otto.fetch_failed(site_id, 'https://www.polovniautomobili.com/auto-oglasi/2/b', 'robots', 'disallowed by robots.txt',
                         NULL, NULL, false)
  FROM otto.site WHERE name = 'polovniautomobili';
SELECT otto.frontier_postpone(site_id, 'https://www.polovniautomobili.com/auto-oglasi/3/c', '1 minute')
  FROM otto.site WHERE name = 'polovniautomobili';
SELECT otto.frontier_postpone(site_id, 'https://www.polovniautomobili.com/auto-oglasi/3/c')
  FROM otto.site WHERE name = 'polovniautomobili';
SELECT substring(url FROM '[0-9]+/.$') AS url, state, attempts, last_error, lease_owner IS NULL AS released,
       round(extract(epoch FROM due_at - now()) / 10) * 10 AS due_in_s
  FROM otto.frontier ORDER BY url;
SELECT substring(url FROM '[0-9]+/.$') AS url, status, error_kind, error FROM otto.page ORDER BY page_id;

-- A stored body is dropped by maintenance once older than the retention.
SELECT otto.ingest_page('https://www.polovniautomobili.com/auto-oglasi/4/d', '<html>old</html>', 404, now() - interval '2 days');
SELECT count(*) FILTER (WHERE body IS NOT NULL) AS bodies FROM otto.page;
SELECT otto.maintenance();
SELECT count(*) FILTER (WHERE body IS NOT NULL) AS bodies FROM otto.page;

-- Without pg_cron, schedule_install says what to run instead.
SELECT otto.schedule_install();

DROP EXTENSION otto;
