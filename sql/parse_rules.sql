-- Sites are data: a made-up site added with SQL alone, the schema.org
-- profile, the vocabulary, and bad rules.
CREATE EXTENSION otto;

-- A third site with its own markup: a spec table, price in a span, features in a list.
INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern, rules)
VALUES ('autoplac', 'AutoPlac (made up)', '{www.autoplac.example}', '^https://www\.autoplac\.example/oglas/([0-9]+)',
        '^https://www\.autoplac\.example/lista', $${
          "timezone": "UTC",
          "ad": {"rows": {"row": "table.specs tr", "label": "th", "value": "td",
                          "labels": {"Make": "make", "Model": "model", "Year": "year", "Mileage": "mileage_km",
                                     "Fuel": "fuel", "Gearbox": "gearbox", "Colour": "color", "Power": "power_kw"}},
                 "text": {"title": "h1.ad-title", "price": "div.price strong"},
                 "list": {"features": "ul.equipment li"},
                 "count": {"images_count": "div.photos img"}},
          "listing": {"card": "li.result", "link": "a.title", "next": "a.next", "total_marker": "of"}}$$);
SELECT jsonb_pretty(otto.parse_ad($$<html><body>
  <h1 class="ad-title">Škoda Octavia 2.0 TDI &amp; more</h1>
  <div class="price"><strong>12.500 €</strong></div>
  <table class="specs">
    <tr><th>Make</th><td>Škoda</td></tr><tr><th>Model</th><td>Octavia</td></tr>
    <tr><th>Year</th><td>2017</td></tr><tr><th>Mileage</th><td>151.000 km</td></tr>
    <tr><th>Fuel</th><td>Diesel</td></tr><tr><th>Gearbox</th><td>manual, 6 speeds</td></tr>
    <tr><th>Colour</th><td>Metallic unicorn</td></tr><tr><th>Power</th><td>110</td></tr>
  </table>
  <ul class="equipment"><li>ABS</li><li>Navigacija</li></ul>
  <div class="photos"><img src=a.jpg><img src=b.jpg><img src=c.jpg></div>
</body></html>$$, 'https://www.autoplac.example/oglas/4711?utm_source=x'));
SELECT otto.parse_listing($$<ul><li class="result"><a class="title" href="/oglas/1">One</a></li>
  <li class="result"><a class="title" href="/oglas/2?ref=x">Two</a></li><li class="result"><a class="title" href="oglas/1">One again</a></li></ul>
  <p>Showing 1-3 of 1.234</p><a class="next" href="/lista?page=2">next</a>$$, 'https://www.autoplac.example/lista?page=1');

-- The schema.org profile: a site whose rules are {} reads JSON-LD Car + Offer.
INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern, rules)
SELECT 'jsonld-cars', 'A JSON-LD site', '{cars.example.org}', '/car/([0-9]+)', '/cars', rules
  FROM otto.site_profile WHERE name = 'schema_org';
SELECT jsonb_pretty(otto.parse_ad($$<html><head><script type="application/ld+json">
 {"@context": "https://schema.org", "@type": "Car", "name": "VW Golf 7 1.6 TDI", "brand": {"@type": "Brand", "name": "Volkswagen"},
  "model": "Golf", "vehicleModelDate": "2015", "fuelType": "Diesel", "bodyType": "Hatchback", "color": "Siva",
  "mileageFromOdometer": {"@type": "QuantitativeValue", "value": 182000, "unitCode": "KMT"},
  "vehicleEngine": {"@type": "EngineSpecification", "enginePower": {"value": 81, "unitCode": "KWT"},
                    "engineDisplacement": {"value": 1598, "unitCode": "CMQ"}},
  "offers": {"@type": "Offer", "price": "9490", "priceCurrency": "EUR"}}
</script><script type="application/ld+json">{"@type": "BreadcrumbList"}</script>
<script type="application/ld+json">{ not json at all </script></head></html>$$, 'https://cars.example.org/car/99'));
-- A price in another currency is not taken as euros.
SELECT otto.parse_ad($$<script type="application/ld+json">{"@type": "Product", "name": "X", "offers": [{"@type": "Offer", "price": 1000000, "priceCurrency": "RSD"}]}</script>$$,
                     'https://cars.example.org/car/1') ? 'price_eur' AS has_price;

-- The vocabulary: every spelling of the real data maps, with or without diacritics.
SELECT field, spelling, otto.vocabulary_code(field, spelling)
  FROM (VALUES ('body', 'Hečbek'), ('body', 'Hecbek '), ('body', 'HEČBEK'), ('body', 'Dzip/SUV'), ('body', 'caravan'),
               ('fuel', 'Benzin + Gas (TNG) '), ('fuel', 'Metan CNG'), ('fuel', 'Elektricni pogon'),
               ('gearbox', 'Manuelni 6 brzina'), ('gearbox', 'Automatski / poluautomatski'),
               ('damage', 'Nije ostecen'), ('origin', 'Domace tablice'), ('color', 'Bež'), ('color', 'teget'),
               ('color', 'Metallic unicorn')) v(field, spelling);
-- A new spelling is added with SQL and used at once.
UPDATE otto.vocabulary SET spellings = spellings || 'Metallic unicorn'::text WHERE field = 'color' AND code = 'silver';
SELECT otto.vocabulary_code('color', 'metallic unicorn');

-- Bad input gets a clear error.
SELECT otto.parse_ad('<html></html>', 'https://unknown.example/ad/1');
SELECT otto.parse_ad('<html></html>', 'not a url');
SELECT otto.parse_listing('<html></html>', 'https://cars.example.org/cars');
UPDATE otto.site SET rules = '{"ad": {"text": {"title": "h1..x"}}}' WHERE name = 'autoplac';
SELECT otto.parse_ad('<h1>x</h1>', 'https://www.autoplac.example/oglas/1');
UPDATE otto.site SET rules = '{"ad": {"text": {"title": {"css": "h1", "kind": "everything"}}}}' WHERE name = 'autoplac';
SELECT otto.parse_ad('<h1>x</h1>', 'https://www.autoplac.example/oglas/1');

DROP EXTENSION otto;
