-- Pathological pages, shared by test/pgtap/hostile.sql (growth ratios) and
-- bench/hostile.sh (time, memory, cancellation): each kind, the parse
-- function it stresses, and hostile_page(kind, kb) building about kb
-- kilobytes of it; hostile_run(fn, html) runs that function once.
CREATE TABLE hostile_kind (name text PRIMARY KEY, fn text NOT NULL, unit text);
INSERT INTO hostile_kind VALUES
 ('unclosed script objects', 'parse_ad', 'dataLayer.push({"object_uid": 1, '),
 ('repeated listing cards', 'parse_listing', '<article class="classified" data-classifiedid="1"><h2><a href="/auto-oglasi/1/x">t</a></h2></article>'),
 ('distinct links', 'extract_links', NULL),
 ('unclosed links', 'extract_links', '<a href=/l>'),
 ('deep nesting', 'parse_ad', '<div class="divider"><b class="uk-text-bold">'),
 ('label rows', 'parse_ad', '<div class="divider"><div class="uk-width-1-2">Gorivo</div><div class="uk-width-1-2 uk-text-bold">D' || chr(1) || 'z</div></div>'),
 ('entities in a title', 'parse_ad', '<h1>&#1;&amp;&#x10FFFF;&bogus;'),
 ('one huge attribute', 'parse_ad', 'x'),
 ('equipment list', 'parse_ad', '<div class="infoBox"><div class="uk-width-medium-1-4 uk-margin-small-bottom">ABS</div></div>');

CREATE FUNCTION hostile_page(k text, kb int) RETURNS text LANGUAGE sql AS $$
    SELECT CASE k.name
             WHEN 'distinct links' THEN (SELECT string_agg('<a href="/l/' || i || '">x</a>', '') FROM generate_series(1, kb * 1024 / 24) i)
             WHEN 'unclosed script objects' THEN '<script>' || repeat(k.unit, kb * 1024 / length(k.unit) - 1)
             WHEN 'one huge attribute' THEN '<a href="' || repeat('x', kb * 1024 - 20)
             ELSE repeat(k.unit, kb * 1024 / octet_length(k.unit)) END
      FROM hostile_kind k WHERE k.name = hostile_page.k
$$;

-- fn 'noop' reads nothing of the page: a baseline for the harness's own cost
CREATE FUNCTION hostile_run(fn text, html text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    CASE fn WHEN 'noop' THEN PERFORM length(html);
            WHEN 'parse_ad' THEN PERFORM otto.parse_ad(html, 'https://www.polovniautomobili.com/auto-oglasi/1/x');
            WHEN 'parse_listing' THEN PERFORM otto.parse_listing(html, 'https://www.polovniautomobili.com/auto-oglasi/pretraga?page=1');
            ELSE SELECT count(*) INTO n FROM otto.extract_links(html, 'https://www.polovniautomobili.com/auto-oglasi/1/x'); END CASE;
END $$;
