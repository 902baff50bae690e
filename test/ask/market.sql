-- test/ask/market.sql: a market with the generations and classes buyers name, spelled as
-- polovniautomobili.com lists them (Golf 7, Passat B6, Astra H, C Klasa, Serija 3, Grande Punto),
-- for test/ask/buyers.tsv (test/pgtap/ask.sql).
SELECT otto.site_add('askm', 'ask market', ARRAY['askm.invalid'], ARRAY['https://askm.invalid/'], '^https://askm\.invalid/ad/([0-9]+)',
                     '^https://askm\.invalid/list', 'polovniautomobili') AS askm \gset
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel)
SELECT :askm, m.make || m.model || i, 'https://askm.invalid/ad/' || (o * 10 + i), m.make || ' ' || m.model, m.make, m.model,
       2005 + i, 150000, 3000 + i * 500, 'diesel'
  FROM unnest(ARRAY['Volkswagen', 'Volkswagen', 'Volkswagen', 'Volkswagen', 'Volkswagen', 'Volkswagen', 'Volkswagen', 'Volkswagen',
                    'Volkswagen', 'Volkswagen', 'Opel', 'Opel', 'Opel', 'Opel', 'Opel', 'Mercedes Benz', 'Mercedes Benz', 'BMW', 'BMW',
                    'Skoda', 'Skoda', 'Renault', 'Renault', 'Ford', 'Toyota', 'Peugeot', 'Audi', 'Audi', 'Fiat', 'Fiat'],
                ARRAY['Golf', 'Golf 4', 'Golf 5', 'Golf 6', 'Golf 7', 'Passat', 'Passat B5', 'Passat B6', 'Passat B7', 'Passat CC',
                      'Astra', 'Astra G', 'Astra H', 'Astra J', 'Corsa D', 'C Klasa', 'E Klasa', '320', 'Serija 3',
                      'Octavia', 'Fabia', 'Megane', 'Clio', 'Focus', 'Yaris', '308', 'A4', 'A6', 'Punto', 'Grande Punto'])
       WITH ORDINALITY m(make, model, o), generate_series(1, 3) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur)
SELECT site_id, ad_id, 'new', price_eur FROM otto.ad WHERE site_id = :askm ORDER BY ad_id;
SELECT otto.stream_apply() IS NOT NULL AS applied \gset
