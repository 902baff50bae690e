-- otto.normalize_url and otto.resolve_url: RFC 3986 resolution and normal form.
CREATE EXTENSION otto;

-- RFC 3986 section 5.4 reference resolution examples (normal and abnormal).
SELECT ref, otto.resolve_url('http://a/b/c/d;p?q', ref) AS resolved
  FROM unnest(ARRAY['g', './g', 'g/', '/g', '//g', '?y', 'g?y', '#s', 'g#s', 'g?y#s', ';x', 'g;x',
                    'g;x?y#s', '', '.', './', '..', '../', '../g', '../..', '../../', '../../g',
                    '../../../g', '../../../../g', '/./g', '/../g', 'g.', '.g', 'g..', '..g',
                    './../g', './g/.', 'g/./h', 'g/../h', 'g;x=1/./y', 'g;x=1/../y']) ref;

-- Normal form: case, default port, dot segments, percent-encoding, fragment.
SELECT u, otto.normalize_url(u) AS normalized
  FROM unnest(ARRAY[
    'HTTP://WWW.PolovniAutomobili.COM:443/auto-oglasi/1/x',
    'HTTPS://www.polovniautomobili.com:443/auto-oglasi/../auto-oglasi/./20645877/audi-a4#galerija',
    'http://example.com:80',
    'http://example.com:8080/a',
    'http://example.com./a%2fb%7e%41%3F',
    'http://user:pw@example.com/a b/č',
    'https://[2001:DB8::1]:8443/x',
    '  http://example.com/a	b  ']) u;

-- Tracking parameters go, the others are sorted by name (stable for repeats).
SELECT otto.normalize_url('https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4-20-tdi-f-u-l?attp=p3_pv0_pc1_pl1_plv0');
SELECT otto.normalize_url('https://www.polovniautomobili.com/auto-oglasi/pretraga?sort=basic&page=2&brand=audi&utm_source=x&model[]=a4&model[]=a3&fbclid=1');
SELECT otto.normalize_url('http://example.com/?');
SET otto.tracking_params = 'sort';
SELECT otto.normalize_url('https://example.com/p?sort=basic&page=2&attp=1');
RESET otto.tracking_params;

-- Invalid URLs are errors that say why; resolve_url answers NULL for them.
SELECT otto.normalize_url('/auto-oglasi/1/x');
SELECT otto.normalize_url('mailto:kontakt@polovniautomobili.com');
SELECT otto.normalize_url('javascript:void(0)');
SELECT otto.normalize_url('http://exa mple.com/');
SELECT otto.normalize_url('http://example.com:99999/');
SELECT otto.normalize_url('http://example.com:80a/');
SELECT otto.normalize_url('http://[::1/');
SELECT otto.normalize_url('http:///path');
SELECT otto.normalize_url('http://example.com/' || repeat('a', 2100));
SELECT otto.resolve_url('http://a/b', r) IS NULL AS refused
  FROM unnest(ARRAY['javascript:alert(1)', 'mailto:x@y', 'ftp://a/b', 'data:text/html,x', 'http:g']) r;
SELECT otto.normalize_url(NULL) IS NULL AS null_in_null_out;

DROP EXTENSION otto;
