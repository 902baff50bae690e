
-- Otto 1.0 to 1.1, after the functions: data that the new code reads.
-- The words of polovniautomobili.com were in the C code of 1.0: the sites
-- whose rules came from its profile get them, and a site without a time zone
-- keeps 1.0's default (Europe/Belgrade; 1.1's is UTC).
UPDATE otto.site
   SET rules = rules || jsonb_build_object('words', (SELECT p.rules->'words' FROM otto.site_profile p
                                                      WHERE p.name = 'polovniautomobili'))
 WHERE NOT rules ? 'words' AND rules #> '{ad,rows,labels}' ? 'Godište';
UPDATE otto.site
   SET rules = rules || jsonb_build_object('words', (SELECT p.rules->'words' FROM otto.site_profile p
                                                      WHERE p.name = 'schema_org'))
 WHERE NOT rules ? 'words';
UPDATE otto.site SET rules = rules || '{"timezone": "Europe/Belgrade"}' WHERE NOT rules ? 'timezone';
-- Car names' keys are otto.name_key's, which now folds with otto.fold (đ is dj).
UPDATE otto.car_name SET make = make;
