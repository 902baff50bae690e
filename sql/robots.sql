-- otto.robots_allowed / otto.robots_crawl_delay (RFC 9309).  Patterns match the
-- normalised URL (path and sorted query) that the crawler fetches.
CREATE EXTENSION otto;
CREATE TEMP TABLE r AS SELECT E'User-agent: *\nDisallow: /redirect/\nDisallow: /oglas/\nAllow: /oglas/public$\nCrawl-delay: 2\n\n# a group for us\nUser-agent: OttoBot\nUser-agent: other\nDisallow: /private\nAllow: /private/ok\nDisallow: /*.pdf$\nDisallow: /*?sort=\nCrawl-delay: 0.5\n\nUser-agent: Deny\nDisallow: /\n' AS txt;
SELECT ua, u, otto.robots_allowed(r.txt, ua, 'https://www.polovniautomobili.com' || u) AS allowed
  FROM r, (VALUES ('OttoBot/1.0 (+https://example.org/otto)'), ('SomeBot/2'), ('deny')) a(ua),
       (VALUES ('/auto-oglasi/1/x'), ('/redirect/sacuvane-pretrage'), ('/oglas/novi'), ('/oglas/public'),
               ('/oglas/public/x'), ('/private/x'), ('/private/ok/y'), ('/docs/a.pdf'), ('/docs/a.pdf?x=1'),
               ('/auto-oglasi/pretraga?page=2&sort=basic'), ('/auto-oglasi/pretraga?sort=basic')) p(u)
 ORDER BY 1, 2;
SELECT ua, otto.robots_crawl_delay(r.txt, ua) FROM r, (VALUES ('OttoBot/1.0'), ('SomeBot/2'), ('Deny')) a(ua);
-- Degenerate files: empty, garbage, empty Disallow, no groups at all.
SELECT otto.robots_allowed('', 'OttoBot', 'http://a/x'), otto.robots_allowed(E'\x01\x02garbage: : :\n', 'OttoBot', 'http://a/x'),
       otto.robots_allowed(E'User-agent: *\nDisallow:\n', 'OttoBot', 'http://a/x'),
       otto.robots_allowed(E'Disallow: /\n', 'OttoBot', 'http://a/x'),
       otto.robots_crawl_delay(E'User-agent: *\nCrawl-delay: soon\n', 'OttoBot');
-- A hostile pattern is matched in polynomial time.
SELECT otto.robots_allowed(E'User-agent: *\nDisallow: /' || repeat('*a', 500) || E'b$\n', 'OttoBot', 'http://a/' || repeat('a', 2000));
SELECT otto.robots_allowed(E'User-agent: *\nDisallow: /\n', 'OttoBot', 'not a url');
-- The simulator's robots.txt disallows what the real site does.
SELECT otto.robots_allowed(E'User-agent: *\nDisallow: /redirect/\nDisallow: /oglas/\nCrawl-delay: 1\n', 'OttoBot', u)
  FROM unnest(ARRAY['http://127.0.0.1:8428/redirect/sacuvane-pretrage', 'http://127.0.0.1:8428/auto-oglasi/27000003/audi-tt-2-0']) u;
DROP EXTENSION otto;
