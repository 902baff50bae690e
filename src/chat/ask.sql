-- src/chat/ask.sql: otto.ask: plain-language questions routed to a tool; car names.
-- Part of the install script (see SQL_SOURCES in the Makefile for the order).

-------------------------------------------------------------------------------
-- otto.ask: plain-language questions in English and Serbian (Latin and
-- Cyrillic) routed to a tool with no language model: names from a built-in
-- dictionary (and the market's), numbers by their units and the words around
-- them, the question by keywords.
-------------------------------------------------------------------------------
-- Serbian Latin to Cyrillic, for answers to questions asked in Cyrillic.
CREATE OR REPLACE FUNCTION otto.cyrillic(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT translate(replace(replace(replace(replace(replace(replace(s, 'lj', 'љ'), 'nj', 'њ'), 'dž', 'џ'),
                                             'Lj', 'Љ'), 'Nj', 'Њ'), 'Dž', 'Џ'),
                     'abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ',
                     'абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ')
$fn$;

-- The key names are compared by: the text folded (otto.fold: Latin letters
-- without diacritics), spelling variants folded (c/k, w/v, y/j, ij/i, doubled
-- letters), one space between words.
CREATE OR REPLACE FUNCTION otto.name_key(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
               replace(replace(replace(replace(translate(otto.fold(s), '-_/.', '    '),
                       'ph', 'f'), 'ck', 'k'), 'x', 'ks'), 'q', 'k'),
               '[cq]', 'k', 'g'), 'w', 'v', 'g'), 'y', 'j', 'g'), 'ij', 'i', 'g'), '([a-z])\1+', '\1', 'g'), '\s+', ' ', 'g'))
$fn$;

CREATE OR REPLACE FUNCTION otto.name_keys(names text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT ARRAY(SELECT DISTINCT otto.name_key(x) FROM unnest(names) x) $fn$;

CREATE TABLE otto.car_name (
    make       text NOT NULL,
    model      text,
    spellings  text[] NOT NULL DEFAULT '{}',
    standalone boolean NOT NULL DEFAULT false,
    builtin    boolean NOT NULL DEFAULT false,
    keys       text[] GENERATED ALWAYS AS (otto.name_keys(coalesce(model, make) || spellings)) STORED,
    UNIQUE NULLS NOT DISTINCT (make, model)
);
COMMENT ON TABLE otto.car_name IS 'Makes and models otto.ask recognises, with other spellings (Serbian, short forms); the market''s own names are recognised too';
COMMENT ON COLUMN otto.car_name.model IS 'NULL for the make itself';
COMMENT ON COLUMN otto.car_name.standalone IS 'The model name alone names the car (Golf, Octavia), so the make may be left out';
COMMENT ON COLUMN otto.car_name.spellings IS 'Other ways people write it';
COMMENT ON COLUMN otto.car_name.builtin IS 'Shipped with Otto; names users add (false) are kept by pg_dump';
COMMENT ON COLUMN otto.car_name.keys IS 'otto.name_key of the name and each spelling, as otto.ask compares them';

-- Makes (with other spellings), then models: standalone ones may be named without their make.
INSERT INTO otto.car_name AS o (make, model, spellings, standalone, builtin)
SELECT make, model, spellings::text[], standalone, true FROM (VALUES
 ('Alfa Romeo', NULL, '{alfa,alfaromeo}', false), ('Audi', NULL, '{}', false), ('BMW', NULL, '{bmv,beemer,bemvea}', false),
 ('Chevrolet', NULL, '{chevy,sevrolet,sevi}', false), ('Citroen', NULL, '{sitroen}', false), ('Dacia', NULL, '{dacija,dakija}', false),
 ('Daewoo', NULL, '{devu}', false), ('Fiat', NULL, '{}', false), ('Ford', NULL, '{}', false), ('Honda', NULL, '{}', false),
 ('Hyundai', NULL, '{hjundai,hundai,hyndai}', false), ('Jaguar', NULL, '{}', false), ('Jeep', NULL, '{}', false),
 ('Kia', NULL, '{kija}', false), ('Lada', NULL, '{}', false), ('Lancia', NULL, '{lancija}', false),
 ('Land Rover', NULL, '{landrover,lendrover,rover}', false), ('Lexus', NULL, '{leksus}', false), ('Mazda', NULL, '{}', false),
 ('Mercedes Benz', NULL, '{mercedes,merc,mercedez,mercedes-benz,benz,mecka}', false), ('Mini', NULL, '{}', false),
 ('Mitsubishi', NULL, '{micubisi,mitsubisi}', false), ('Nissan', NULL, '{nisan}', false), ('Opel', NULL, '{}', false),
 ('Peugeot', NULL, '{pezo,pežo,peugot,pezoa}', false), ('Porsche', NULL, '{porse,porsche}', false),
 ('Renault', NULL, '{reno,renaut,renolt}', false), ('Saab', NULL, '{}', false), ('Seat', NULL, '{}', false),
 ('Skoda', NULL, '{škoda,skoda,shkoda}', false), ('Smart', NULL, '{}', false), ('Ssangyong', NULL, '{ssang yong,sangjong}', false),
 ('Subaru', NULL, '{}', false), ('Suzuki', NULL, '{}', false), ('Tesla', NULL, '{}', false), ('Toyota', NULL, '{tojota,toyta}', false),
 ('Volkswagen', NULL, '{vw,folksvagen,folcvagen,folksvagn,volksvagen,volkswagon,vv,folcika}', false), ('Volvo', NULL, '{}', false),
 ('Zastava', NULL, '{}', false),
 ('Volkswagen', 'Golf', '{golfa,golfovi}', true), ('Volkswagen', 'Passat', '{pasat}', true), ('Volkswagen', 'Polo', '{}', true),
 ('Volkswagen', 'Touran', '{}', true), ('Volkswagen', 'Tiguan', '{}', true), ('Volkswagen', 'Caddy', '{kedi}', true),
 ('Volkswagen', 'Jetta', '{}', true), ('Volkswagen', 'Sharan', '{}', true), ('Volkswagen', 'Touareg', '{tuareg}', true),
 ('Volkswagen', 'Up', '{}', false), ('Volkswagen', 'T-Roc', '{troc}', true), ('Volkswagen', 'Arteon', '{}', true),
 ('Volkswagen', 'Scirocco', '{siroko}', true), ('Volkswagen', 'Bora', '{}', false),
 ('Audi', 'A1', '{}', true), ('Audi', 'A3', '{}', true), ('Audi', 'A4', '{}', true), ('Audi', 'A5', '{}', true),
 ('Audi', 'A6', '{}', true), ('Audi', 'A8', '{}', true), ('Audi', 'Q3', '{}', true), ('Audi', 'Q5', '{}', true),
 ('Audi', 'Q7', '{}', true), ('Audi', 'TT', '{}', false), ('Audi', '80', '{}', false), ('Audi', '100', '{}', false),
 ('BMW', '116', '{}', false), ('BMW', '118', '{}', false), ('BMW', '120', '{}', false), ('BMW', '316', '{}', false),
 ('BMW', '318', '{}', false), ('BMW', '320', '{320d,320i}', false), ('BMW', '325', '{}', false), ('BMW', '330', '{}', false),
 ('BMW', '520', '{520d}', false), ('BMW', '525', '{}', false), ('BMW', '530', '{}', false), ('BMW', 'X1', '{}', false),
 ('BMW', 'X3', '{}', false), ('BMW', 'X5', '{}', false), ('BMW', 'X6', '{}', false),
 ('Mercedes Benz', 'A Klasa', '{a class,a-class,a klase}', false), ('Mercedes Benz', 'B Klasa', '{b class,b-class,b klase}', false),
 ('Mercedes Benz', 'C Klasa', '{c class,c-class,c klase}', false), ('Mercedes Benz', 'E Klasa', '{e class,e-class,e klase}', false),
 ('Mercedes Benz', 'S Klasa', '{s class,s-class,s klase}', false), ('Mercedes Benz', 'ML', '{}', false),
 ('Mercedes Benz', 'GLC', '{}', false), ('Mercedes Benz', 'Sprinter', '{}', true), ('Mercedes Benz', 'Vito', '{}', true),
 ('Skoda', 'Octavia', '{oktavija,octavija,oktavia}', true), ('Skoda', 'Fabia', '{fabija}', true), ('Skoda', 'Superb', '{}', true),
 ('Skoda', 'Rapid', '{}', false), ('Skoda', 'Yeti', '{jeti}', true), ('Skoda', 'Kodiaq', '{kodijak}', true),
 ('Skoda', 'Karoq', '{karok}', true), ('Skoda', 'Scala', '{}', false), ('Skoda', 'Kamiq', '{}', true),
 ('Opel', 'Astra', '{}', true), ('Opel', 'Corsa', '{korsa}', true), ('Opel', 'Insignia', '{insignija}', true),
 ('Opel', 'Vectra', '{vektra}', true), ('Opel', 'Zafira', '{}', true), ('Opel', 'Meriva', '{}', true), ('Opel', 'Mokka', '{}', true),
 ('Opel', 'Grandland', '{}', true), ('Opel', 'Crossland', '{}', true),
 ('Peugeot', '206', '{}', false), ('Peugeot', '207', '{}', false), ('Peugeot', '208', '{}', false), ('Peugeot', '307', '{}', false),
 ('Peugeot', '308', '{}', false), ('Peugeot', '407', '{}', false), ('Peugeot', '508', '{}', false), ('Peugeot', '2008', '{}', false),
 ('Peugeot', '3008', '{}', false), ('Peugeot', '5008', '{}', false), ('Peugeot', 'Partner', '{}', false),
 ('Renault', 'Clio', '{klio}', true), ('Renault', 'Megane', '{megan}', true), ('Renault', 'Scenic', '{senik}', true),
 ('Renault', 'Laguna', '{}', true), ('Renault', 'Captur', '{kaptur}', true), ('Renault', 'Kadjar', '{kadzar}', true),
 ('Renault', 'Talisman', '{}', true), ('Renault', 'Twingo', '{tvingo}', true), ('Renault', 'Kangoo', '{kengu,kangu}', true),
 ('Citroen', 'C3', '{}', false), ('Citroen', 'C4', '{}', false), ('Citroen', 'C5', '{}', false), ('Citroen', 'Berlingo', '{}', true),
 ('Citroen', 'Xsara', '{ksara}', true), ('Citroen', 'C4 Picasso', '{picasso,pikaso}', true),
 ('Fiat', 'Punto', '{grande punto}', true), ('Fiat', 'Stilo', '{}', true), ('Fiat', 'Bravo', '{}', false), ('Fiat', 'Panda', '{}', false),
 ('Fiat', '500', '{}', false), ('Fiat', 'Tipo', '{}', true), ('Fiat', 'Doblo', '{}', true), ('Fiat', 'Multipla', '{}', true),
 ('Ford', 'Focus', '{fokus}', true), ('Ford', 'Fiesta', '{fijesta}', true), ('Ford', 'Mondeo', '{}', true), ('Ford', 'Kuga', '{}', true),
 ('Ford', 'C-Max', '{cmax}', true), ('Ford', 'S-Max', '{smax}', true), ('Ford', 'Fusion', '{fjuzn}', true), ('Ford', 'Ka', '{}', false),
 ('Ford', 'Galaxy', '{}', false), ('Ford', 'Puma', '{}', false), ('Ford', 'Transit', '{}', true),
 ('Toyota', 'Yaris', '{jaris}', true), ('Toyota', 'Corolla', '{korola}', true), ('Toyota', 'Auris', '{}', true),
 ('Toyota', 'Avensis', '{}', true), ('Toyota', 'RAV4', '{rav 4}', true), ('Toyota', 'C-HR', '{chr}', true),
 ('Toyota', 'Land Cruiser', '{lendkruzer}', true), ('Toyota', 'Prius', '{}', true),
 ('Zastava', 'Yugo', '{jugo,koral,yugo koral}', true), ('Zastava', '101', '{stojadin,stojadinka}', false),
 ('Zastava', '128', '{}', false), ('Zastava', '10', '{}', false),
 ('Hyundai', 'i10', '{}', true), ('Hyundai', 'i20', '{}', true), ('Hyundai', 'i30', '{}', true), ('Hyundai', 'i40', '{}', true),
 ('Hyundai', 'Tucson', '{tuson,takson}', true), ('Hyundai', 'Santa Fe', '{}', true), ('Hyundai', 'ix35', '{}', true),
 ('Hyundai', 'Getz', '{gec}', true), ('Hyundai', 'Accent', '{aksent}', false), ('Hyundai', 'Elantra', '{}', true),
 ('Kia', 'Rio', '{}', false), ('Kia', 'Ceed', '{cee''d,sid}', true), ('Kia', 'Sportage', '{sportidz}', true),
 ('Kia', 'Sorento', '{}', true), ('Kia', 'Picanto', '{pikanto}', true), ('Kia', 'Soul', '{}', false), ('Kia', 'Venga', '{}', true),
 ('Dacia', 'Sandero', '{}', true), ('Dacia', 'Logan', '{}', true), ('Dacia', 'Duster', '{daster}', true),
 ('Dacia', 'Lodgy', '{}', true), ('Dacia', 'Dokker', '{}', true), ('Dacia', 'Jogger', '{}', true),
 ('Mazda', '2', '{}', false), ('Mazda', '3', '{}', false), ('Mazda', '5', '{}', false), ('Mazda', '6', '{}', false),
 ('Mazda', 'CX-3', '{}', true), ('Mazda', 'CX-5', '{}', true), ('Mazda', 'CX-30', '{}', true),
 ('Nissan', 'Qashqai', '{kaskaj,kaskai}', true), ('Nissan', 'Micra', '{mikra}', true), ('Nissan', 'Note', '{}', false),
 ('Nissan', 'Juke', '{dzuk}', true), ('Nissan', 'X-Trail', '{xtrail,xtrejl}', true), ('Nissan', 'Almera', '{}', true),
 ('Nissan', 'Primera', '{}', true), ('Nissan', 'Navara', '{}', true), ('Nissan', 'Leaf', '{}', false),
 ('Honda', 'Civic', '{sivik}', true), ('Honda', 'Accord', '{akord}', true), ('Honda', 'Jazz', '{dzez}', false),
 ('Honda', 'CR-V', '{crv}', true), ('Honda', 'HR-V', '{hrv}', true),
 ('Seat', 'Ibiza', '{ibica}', true), ('Seat', 'Leon', '{}', true), ('Seat', 'Altea', '{}', true), ('Seat', 'Toledo', '{}', true),
 ('Seat', 'Ateca', '{}', true), ('Seat', 'Arona', '{}', true), ('Seat', 'Alhambra', '{}', true),
 ('Suzuki', 'Swift', '{svift}', true), ('Suzuki', 'Vitara', '{grand vitara}', true), ('Suzuki', 'SX4', '{}', true),
 ('Suzuki', 'Ignis', '{}', true), ('Suzuki', 'Jimny', '{dzimni}', true), ('Suzuki', 'Splash', '{}', false),
 ('Volvo', 'V40', '{}', true), ('Volvo', 'V50', '{}', true), ('Volvo', 'V60', '{}', true), ('Volvo', 'V70', '{}', true),
 ('Volvo', 'XC40', '{}', true), ('Volvo', 'XC60', '{}', true), ('Volvo', 'XC90', '{}', true), ('Volvo', 'S40', '{}', true),
 ('Volvo', 'S60', '{}', true), ('Volvo', 'S80', '{}', true),
 ('Alfa Romeo', '147', '{}', false), ('Alfa Romeo', '156', '{}', false), ('Alfa Romeo', '159', '{}', false),
 ('Alfa Romeo', 'Giulietta', '{djulijeta,đulijeta}', true), ('Alfa Romeo', 'MiTo', '{}', false), ('Alfa Romeo', 'Giulia', '{djulija}', true),
 ('Alfa Romeo', 'Stelvio', '{}', true),
 ('Mitsubishi', 'Lancer', '{lanser}', true), ('Mitsubishi', 'Outlander', '{autlender}', true), ('Mitsubishi', 'Pajero', '{padzero}', true),
 ('Mitsubishi', 'Colt', '{}', false), ('Mitsubishi', 'ASX', '{}', false), ('Mitsubishi', 'L200', '{}', true),
 ('Chevrolet', 'Aveo', '{}', true), ('Chevrolet', 'Cruze', '{kruz}', true), ('Chevrolet', 'Lacetti', '{laceti}', true),
 ('Chevrolet', 'Spark', '{}', false), ('Chevrolet', 'Captiva', '{kaptiva}', true),
 ('Land Rover', 'Range Rover', '{rendz rover}', true), ('Land Rover', 'Discovery', '{diskaveri}', true),
 ('Land Rover', 'Freelander', '{frilender}', true), ('Land Rover', 'Defender', '{}', true), ('Land Rover', 'Evoque', '{evok}', true),
 ('Lada', 'Niva', '{}', true), ('Lada', 'Samara', '{}', false), ('Mini', 'Cooper', '{kuper}', true), ('Mini', 'Countryman', '{}', true),
 ('Smart', 'Fortwo', '{for two}', true), ('Tesla', 'Model 3', '{}', false), ('Tesla', 'Model Y', '{}', false),
 ('Tesla', 'Model S', '{}', false), ('Porsche', 'Cayenne', '{kajen}', true), ('Porsche', 'Macan', '{}', true),
 ('Porsche', '911', '{}', false), ('Porsche', 'Panamera', '{}', true), ('Jeep', 'Grand Cherokee', '{grand ceroki}', true),
 ('Jeep', 'Compass', '{}', false), ('Jeep', 'Renegade', '{}', true), ('Jeep', 'Wrangler', '{rengler}', true),
 ('Subaru', 'Forester', '{}', true), ('Subaru', 'Impreza', '{}', true), ('Subaru', 'Outback', '{autbek}', true),
 ('Lancia', 'Ypsilon', '{ipsilon}', true), ('Lancia', 'Delta', '{}', false), ('Daewoo', 'Matiz', '{}', true),
 ('Daewoo', 'Lanos', '{}', true), ('Ssangyong', 'Rexton', '{}', true), ('Ssangyong', 'Korando', '{}', true),
 ('Ssangyong', 'Kyron', '{}', true), ('Jaguar', 'XF', '{}', false), ('Jaguar', 'X-Type', '{}', false),
 ('Lexus', 'RX', '{}', false), ('Lexus', 'NX', '{}', false), ('Saab', '9-3', '{}', false), ('Saab', '9-5', '{}', false)
) AS v (make, model, spellings, standalone)
ON CONFLICT (make, model) DO UPDATE SET spellings = excluded.spellings, standalone = excluded.standalone
    WHERE o.builtin;
CREATE OR REPLACE FUNCTION otto.edit_distance(a text, b text) RETURNS int
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'otto_edit_distance';
COMMENT ON FUNCTION otto.edit_distance(text, text) IS 'Levenshtein distance of two short ASCII words (otto.ask''s typo tolerance)';

-- Does word w (a name_key) name n (a name_key of one word)?  Exactly; or with
-- a Serbian or English ending (Golfa, Audija, BMWs); or with the last letter
-- changed by a case ending (Škodu, Astre); or, when fuzzy, within one typo
-- (two for long words).
CREATE OR REPLACE FUNCTION otto.name_matches(w text, n text, fuzzy boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT w = n
        OR (length(n) >= 3 AND w = n || 's')
        OR (length(n) >= 4 AND n !~ '[0-9]' AND left(w, length(n)) = n
            AND substr(w, length(n) + 1) IN ('s', 'a', 'e', 'i', 'u', 'om', 'em', 'ovi', 'ove', 'ova', 'evi', 'eve', 'ja', 'je', 'ju', 'es'))
        OR (length(w) >= 5 AND n !~ '[0-9]' AND length(n) = length(w) AND left(w, -1) = left(n, -1)
            AND right(w, 1) IN ('a', 'e', 'i', 'u', 'o'))
        OR (fuzzy AND length(n) >= 5 AND length(w) >= 5 AND n !~ '[0-9]' AND otto.edit_distance(w, n) <= CASE WHEN length(n) >= 8 THEN 2 ELSE 1 END)
$fn$;

-- A question's tool and arguments, its language, and what was not understood.
-- otto.ask's words: what the router knows of English and Serbian, as data.
-- Each row is a word (kinds language, ad and name_word) or a POSIX regular
-- expression (the others) and what it means; the first row by priority that
-- matches wins.
--   language   a word of one language (meaning: en or sr-Latn); the question's
--              language is the one with more of its words
--   value      a categorical value named by one word (meaning field:code)
--   unit       the word after a number that says what it counts (km, price, kw, hp, days)
--   qualifier  the words before a number that bound it (max, min, from, newer, older)
--   ad         a word before a number that makes it an ad id
--   intent     what the question asks (meaning: a tool), with also (a second
--              expression it must match too) and needs (what else it must give:
--              ads, two_ads, name, name_year, name_year_price, filters)
--   sort, since, level   search order, time window, fastest_selling's level, on the whole question
--   name_word  a car name that is also a common word: a name only when written as one (Seat, MINI)
CREATE TABLE IF NOT EXISTS otto.ask_word (   -- new in 1.1: updates create it from here
    kind     text NOT NULL CHECK (kind IN ('language', 'value', 'unit', 'qualifier', 'ad', 'intent', 'sort', 'since',
                                           'level', 'name_word')),
    pattern  text NOT NULL,
    meaning  text NOT NULL,
    lang     text CHECK (lang IN ('en', 'sr-Latn')),
    also     text,
    needs    text CHECK (needs IN ('ads', 'two_ads', 'name', 'name_year', 'name_year_price', 'filters')),
    priority int NOT NULL DEFAULT 0,
    builtin  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (kind, pattern, meaning)
);
COMMENT ON TABLE otto.ask_word IS 'The words otto.ask understands (English and Serbian, folded as otto.fold folds): per kind a word or a regular expression and what it means; add rows to teach it more';
COMMENT ON COLUMN otto.ask_word.kind IS 'language, value, unit, qualifier, ad, intent, sort, since, level or name_word (see src/chat/ask.sql)';
COMMENT ON COLUMN otto.ask_word.lang IS 'Only in questions of this language (NULL: any)';
COMMENT ON COLUMN otto.ask_word.also IS 'intent: a second expression the question must match too';
COMMENT ON COLUMN otto.ask_word.needs IS 'intent: what else the question must give: ads (an ad id), two_ads, name (a make or model), name_year (and a year), name_year_price (and a price), filters (a make or a search filter)';
COMMENT ON COLUMN otto.ask_word.pattern IS 'kinds language, ad, name_word: a word; the others: a POSIX regular expression (value, unit: on a word; qualifier: on the words before a number; intent, sort, since, level: on the whole question)';
COMMENT ON COLUMN otto.ask_word.meaning IS 'language: en or sr-Latn; value: field:code; unit: km, price, kw, hp or days; qualifier: max, min, from, newer or older; intent: a tool; sort: a search_ads sort; since: an interval; level: make, model_year or by_model';
COMMENT ON COLUMN otto.ask_word.priority IS 'Of several rows of a kind that match, the lowest wins';
COMMENT ON COLUMN otto.ask_word.builtin IS 'Shipped with Otto; rows users add (false) are kept by pg_dump';

-- The shipped words (an update also drops the shipped ones a new version
-- no longer has; the language and ad words below are kept apart)
WITH v (kind, pattern, meaning, lang, also, needs, priority) AS (VALUES
 ('value', '^(dizel|diesel|tdi|cdi|hdi|dci|crdi|tdci|jtd|jtdm|multijet)', 'fuel:diesel', NULL, NULL, NULL, 10),
 ('value', '^(benzin|petrol|gasoline|tsi|tfsi)', 'fuel:petrol', NULL, NULL, NULL, 20),
 ('value', '^gas$', 'fuel:petrol', 'en', NULL, NULL, 21),
 ('value', '^(tng|lpg|plin|gas)$', 'fuel:petrol_lpg', NULL, NULL, NULL, 30),
 ('value', '^(metan|cng)$', 'fuel:petrol_cng', NULL, NULL, NULL, 40),
 ('value', '^(hibrid|hybrid)', 'fuel:hybrid', NULL, NULL, NULL, 50),
 ('value', '^(elektri|electric|ev$)', 'fuel:electric', NULL, NULL, NULL, 60),
 ('value', '^(karavan|estate|wagon|kombi)', 'body:estate', NULL, NULL, NULL, 70),
 ('value', '^(limuzin|sedan)', 'body:sedan', NULL, NULL, NULL, 80),
 ('value', '^(hecbek|hatchback)', 'body:hatchback', NULL, NULL, NULL, 90),
 ('value', '^(dzip|suv|terenac|terenci|terenca)', 'body:suv', NULL, NULL, NULL, 100),
 ('value', '^(kupe|coupe)', 'body:coupe', NULL, NULL, NULL, 110),
 ('value', '^(kabrio|cabrio|convertible|roadster)', 'body:convertible', NULL, NULL, NULL, 120),
 ('value', '^(monovolumen|minivan|mpv)', 'body:mpv', NULL, NULL, NULL, 130),
 ('value', '^(pickup|pikap)', 'body:pickup', NULL, NULL, NULL, 140),
 ('value', '^(automat|dsg|tiptronic)', 'gearbox:automatic', NULL, NULL, NULL, 150),
 ('value', '^(4x4|awd|4wd|quattro|4motion|xdrive)$', 'drive:all', NULL, NULL, NULL, 160),
 ('unit', '^(km|kms|kilomet|predjen)', 'km', NULL, NULL, NULL, 10),
 ('unit', '^(eur|euro|evr|e|eu|evra|eura|euros|evro)$', 'price', NULL, NULL, NULL, 20),
 ('unit', '^kw$', 'kw', NULL, NULL, NULL, 30),
 ('unit', '^(hp|ks|konj|bhp|ps)', 'hp', NULL, NULL, NULL, 40),
 ('unit', '^(day|days|dan|dana|dani)$', 'days', NULL, NULL, NULL, 50),
 ('qualifier', '(^| )(under|below|less|max|maximum|up to|upto|cheaper|do|ispod|manje|najvise|maks|budget|budzet|within|until)$', 'max', NULL, NULL, NULL, 10),
 ('qualifier', '(less than|manje od|lower than)$', 'max', NULL, NULL, NULL, 11),
 ('qualifier', '(^| )(over|above|more|min|minimum|preko|vise|iznad|at least|najmanje)$', 'min', NULL, NULL, NULL, 20),
 ('qualifier', '(more than|vise od)$', 'min', NULL, NULL, NULL, 21),
 ('qualifier', '(^| )(from|since|od|after|posle|nakon|between|izmedju)$', 'from', NULL, NULL, NULL, 30),
 ('qualifier', '(^| )(newer|novije|noviji|novija|novijih|mladje|mladji|mladja)( than| od)?$', 'newer', NULL, NULL, NULL, 40),
 ('qualifier', '(^| )(older|starije|stariji|starija|before|pre)( than| od)?$', 'older', NULL, NULL, NULL, 50),
 ('qualifier', '^(and|to|i|until|do)$', 'max', NULL, NULL, NULL, 60),
 ('intent', '(compar|uporedi|poredj|versus| vs )', 'compare_ads', NULL, NULL, 'two_ads', 10),
 ('intent', '', 'ad_details', NULL, NULL, 'ads', 20),
 ('intent', '(depreci|amortiz|obezvre| lose | loses | losing | gubi | gube |hold[s]? (their|its|the) value|holds? value|drzi vrednost|drze vrednost|pad vrednost|value (does|do) [a-z ]*lose)', 'depreciation', NULL, NULL, NULL, 30),
 ('intent', '(sell|sold|prodaj|prodaje|prodati|prodavan)', 'fastest_selling', NULL, '(fast|quick|easi|brz|lak|najbrz|najlak)', NULL, 40),
 ('intent', '(stay on the market|days on (the )?market|stoji na oglasu|koliko dugo|how long)', 'fastest_selling', NULL, NULL, NULL, 41),
 ('intent', '(good price|fair price|good deal|a deal|worth it|worth the|overpriced|over priced|too much|too expensive|too high|reasonable|cheap enough|dobra cena|dobra cijena|dobru cenu|dobra ponuda|dobar posao|dobra kupovina|korektn|realn|isplati|preskup|previse|skupo|povoljn)', 'price_verdict', NULL, NULL, 'name_year_price', 45),
 ('intent', '(deal|bargain|underpriced|below (fair|market|the market)|ispod trzisn|ponud|prilik|povoljn|dobr[a-z]* kupovin|najpovoljnij|priced below)', 'good_deals', NULL, NULL, NULL, 50),
 ('intent', '(overview|pregled|statisti|distribution|raspodel|how many|koliko ima|koliko oglasa|most popular|najpopularnij|average price|prosecn|median|stanje na trzistu|listed right now)', 'market_overview', NULL, NULL, NULL, 60),
 ('intent', '(worth|valu|fair|price|cost|pay|estimate|fetch|vred|vrijed|kost|cen[aeiu] |cijen|procen|procjen|dobij|sell for|realn|how much)', 'fair_value', NULL, NULL, 'name_year', 70),
 ('intent', '(worth|fair value|vredi|vrijedi|procen|procjen|how much is|koliko kosta|kolika je cena)', 'fair_value', NULL, NULL, 'name', 71),
 ('intent', '(find|show|search|look|list|any|want|buy|trazim|nadj|pronadj|prikaz|imate|ima li|oglasi|kupim|kupiti|hocu|for sale|na prodaju|cheap|najjeftinij|jeftin|lowest mileage|najmanje kilomet)', 'search_ads', NULL, NULL, NULL, 80),
 ('intent', '', 'search_ads', NULL, NULL, 'filters', 81),
 ('sort', '(cheap|najjeftinij|jeftin|lowest price|najniz[a-z]* cen|inexpensive|budget)', 'price_asc', NULL, NULL, NULL, 10),
 ('sort', '(lowest mileage|least km|fewest km|najmanje kilomet|najmanje predjen)', 'mileage_asc', NULL, NULL, NULL, 20),
 ('sort', '(most powerful|najjac)', 'power_desc', NULL, NULL, NULL, 30),
 ('since', ' (today|danas|danasnj[a-z]*) ', '1 day', NULL, NULL, NULL, 10),
 ('since', ' (yesterday|juce) ', '2 days', NULL, NULL, NULL, 20),
 ('since', ' (this week|last week|week|ove nedelje|ove sedmice|nedelju|sedmicu|ove nedelj[a-z]*) ', '1 week', NULL, NULL, NULL, 30),
 ('level', ' (makes|brands|marke|marka|marki|brendovi|brands) ', 'make', NULL, NULL, NULL, 10),
 ('level', '(model years|godista|godiste)', 'model_year', NULL, NULL, NULL, 20),
 ('level', ' (models|modeli|modela|modele) ', 'by_model', NULL, NULL, NULL, 30),
 ('name_word', 'seat', 'make', NULL, NULL, NULL, 0), ('name_word', 'mini', 'make', NULL, NULL, NULL, 0),
 ('name_word', 'smart', 'make', NULL, NULL, NULL, 0), ('name_word', 'jeep', 'make', NULL, NULL, NULL, 0)
),
gone AS (
    DELETE FROM otto.ask_word o
     WHERE o.builtin AND o.kind NOT IN ('language', 'ad')
       AND NOT EXISTS (SELECT FROM v WHERE (v.kind, v.pattern, v.meaning) = (o.kind, o.pattern, o.meaning)))
INSERT INTO otto.ask_word AS o (kind, pattern, meaning, lang, also, needs, priority, builtin)
SELECT kind, pattern, meaning, lang, also, needs, priority, true FROM v
ON CONFLICT (kind, pattern, meaning) DO UPDATE SET lang = excluded.lang, also = excluded.also, needs = excluded.needs,
    priority = excluded.priority
    WHERE o.builtin;
INSERT INTO otto.ask_word AS o (kind, pattern, meaning, builtin)
SELECT 'language', w, 'sr-Latn', true
  FROM unnest('{koliko,kolika,koji,koja,koje,vredi,vrijedi,ima,li,za,iz,do,od,sa,se,na,da,i,je,su,ispod,preko,trazim,nadji,prikazi,cena,cijena,evra,eura,godiste,dizel,benzin,karavan,auto,auti,kola,oglas,oglasi,oglasa,ponude,ponuda,marke,modeli,najbrze,pregled,uporedi,kosta,hocu,imate,dobre,dobrih,povoljni,najjeftiniji,statistika}'::text[]) w
UNION ALL
SELECT 'language', w, 'en', true
  FROM unnest('{what,how,which,is,are,the,a,an,of,for,with,under,over,sell,cars,find,show,me,any,much,worth,value,deals,price,from,to,and,in,my,does,do,i,there,makes,models}'::text[]) w
UNION ALL
SELECT 'ad', w, 'ad', true
  FROM unnest('{ad,ads,listing,listings,oglas,oglasa,oglase,oglasi,id,number,broj}'::text[]) w
ON CONFLICT (kind, pattern, meaning) DO NOTHING;

-- The first word (otto.ask_word) of a kind that matches s (in a question of language lang).
CREATE OR REPLACE FUNCTION otto.ask_match(kind text, s text, lang text DEFAULT NULL) RETURNS otto.ask_word
LANGUAGE sql STABLE
AS $fn$
    SELECT w FROM otto.ask_word w
     WHERE w.kind = ask_match.kind AND (w.lang IS NULL OR w.lang = ask_match.lang)
       AND CASE WHEN w.kind IN ('language', 'ad', 'name_word') THEN s = w.pattern ELSE s ~ w.pattern END
     ORDER BY w.priority, w.pattern
     LIMIT 1
$fn$;
COMMENT ON FUNCTION otto.ask_match(text, text, text) IS 'The otto.ask_word row of a kind that matches a word or a question first (by priority), or NULL';

-- A question as the router reads it: folded (otto.fold), money signs as
-- words, numbers written out (12.500, 12 000, 12k, 12 hiljada: 12500...), a
-- number's unit apart from it, engine sizes ("2.0 tdi") reduced to the
-- engine's kind; then only letters and digits, one space between words.
CREATE OR REPLACE FUNCTION otto.ask_plain(question text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    q text := otto.fold(question);
BEGIN
    q := replace(replace(q, '€', ' eur '), '$', ' usd ');
    q := regexp_replace(q, '(\d)[.,](\d{3})(?!\d)', '\1\2', 'g');
    q := regexp_replace(q, '(\d)[.,](\d{3})(?!\d)', '\1\2', 'g');
    q := regexp_replace(q, '(\m\d{1,3}) 000(?!\d)', '\1000', 'g');
    q := regexp_replace(q, '(\d+) ?k\M', '\1000', 'g');
    q := regexp_replace(q, '(\d+) ?(hiljad[a-z]*|hilj\M|thousand)', '\1000', 'g');
    q := regexp_replace(q, '(\d)(km|kw|ks|hp|ps|e|eur|euro|euros|evra|eura|evro)\M', '\1 \2', 'g');
    q := regexp_replace(q, '\m\d[.,]\d\s*(l|litre|liter|litara)?\s*(tdi|tsi|tfsi|hdi|cdi|dci|crdi|tdci|jtd|jtdm|mjet|multijet|d|i)?\M', ' \2', 'g');
    RETURN ' ' || trim(regexp_replace(q, '[^a-z0-9]+', ' ', 'g')) || ' ';
END
$fn$;
COMMENT ON FUNCTION otto.ask_plain(text) IS 'A question as otto.ask_route reads it: folded, numbers written out, only letters and digits, one space between words (and at both ends)';

-- The make and model a question names: the longest phrase (up to three
-- words) that names a make, then one of its models (or a model known alone,
-- which names its make), from otto.car_name and the market's own names.
-- used: which words the names took.
CREATE OR REPLACE FUNCTION otto.ask_names(question text, tok text[], k text[], INOUT used boolean[],
                                          OUT make text, OUT model text, OUT diesel boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n      int := coalesce(array_length(tok, 1), 0);
    phrase text;
    hit    record;
    market_makes      text[];
    market_keys       text[];
    market_models     text[];
    market_model_keys text[];
    alone_at   int;        -- where a model named alone (Golf: the make left out) was found, and its words
    alone_w    int;
    alone_model text;
BEGIN
    diesel := false;
    SELECT array_agg(m.make), array_agg(otto.name_key(m.make)) INTO market_makes, market_keys
      FROM (SELECT DISTINCT g.make FROM otto.market_mm g) m;
    -- pass 1 the make; 2 the model (of the make, or one that names its make
    -- alone); 3, after a model named alone, the market's models of its make
    -- over the same words and more, which may say more (Golf 7, Passat B6: a
    -- generation; Grande Punto, which otto.car_name spells as a Punto)
    FOR pass IN 1 .. 3 LOOP
        IF pass = 3 THEN
            EXIT WHEN alone_at IS NULL;
            FOR j IN alone_at .. alone_at + alone_w - 1 LOOP used[j] := false; END LOOP;
            model := NULL;
        END IF;
        IF pass >= 2 THEN            -- the market's own models of the make, keyed once
            SELECT array_agg(g.model), array_agg(otto.name_key(g.model)) INTO market_models, market_model_keys
              FROM otto.market_mm g WHERE g.make = ask_names.make;
        END IF;
        FOR w IN REVERSE 3 .. 1 LOOP
            FOR i IN 1 .. n - w + 1 LOOP
                CONTINUE WHEN true = ANY (used[i:i + w - 1]);
                -- pass 3: only names that cover the words of the model named alone
                CONTINUE WHEN pass = 3 AND (i > alone_at OR i + w < alone_at + alone_w);
                phrase := array_to_string(k[i:i + w - 1], ' ');
                SELECT c.make, c.model, c.key INTO hit
                  FROM (SELECT x.make, x.model, key, x.standalone
                          FROM otto.car_name x, unnest(x.keys) key
                         WHERE CASE WHEN pass = 1 THEN x.model IS NULL
                                    WHEN pass = 3 THEN false
                                    WHEN ask_names.make IS NOT NULL THEN x.make = ask_names.make AND x.model IS NOT NULL
                                    ELSE x.standalone END
                        UNION ALL               -- and the market's own makes and models
                        SELECT m.make, NULL, m.key, false FROM unnest(market_makes, market_keys) m(make, key)
                         WHERE pass = 1
                        UNION ALL
                        SELECT ask_names.make, m.model, m.key, false FROM unnest(market_models, market_model_keys) m(model, key)
                         WHERE pass >= 2) c
                 WHERE CASE WHEN w > 1 THEN c.key = phrase
                                           -- a name of several words, a word inflected (C klasu, Astru H, Passata B6)
                                           OR (c.key ~ ' ' AND cardinality(string_to_array(c.key, ' ')) = w
                                               AND (SELECT bool_and(otto.name_matches(p.t, p.q, false))
                                                      FROM unnest(k[i:i + w - 1], string_to_array(c.key, ' ')) p(t, q)))
                            WHEN c.key ~ '^[0-9]' OR c.key ~ ' ' THEN c.key = phrase
                            ELSE otto.name_matches(phrase, c.key, pass = 1 OR ask_names.make IS NOT NULL) END
                   -- names that are also words count only when written as names
                   AND ((otto.ask_match('name_word', lower(c.key))).meaning IS NULL OR question ~ ('\m' || initcap(c.key) || '\M')
                        OR question ~ ('\m' || upper(c.key) || '\M'))
                 ORDER BY c.key = phrase DESC, length(c.key) DESC
                 LIMIT 1;
                IF FOUND AND (pass = 1 AND make IS NULL OR pass >= 2 AND model IS NULL) THEN
                    IF pass = 1 THEN
                        make := hit.make;
                    ELSE
                        IF pass = 2 AND make IS NULL THEN
                            alone_at := i; alone_w := w; alone_model := hit.model;
                        END IF;
                        model := hit.model; make := coalesce(make, hit.make);
                    END IF;
                    FOR j IN i .. i + w - 1 LOOP used[j] := true; END LOOP;
                    diesel := diesel OR tok[i + w - 1] ~ '^[0-9]{3}d$';     -- 320d
                END IF;
            END LOOP;
        END LOOP;
        IF pass = 3 AND model IS NULL THEN          -- nothing more specific: the model named alone
            model := alone_model;
            FOR j IN alone_at .. alone_at + alone_w - 1 LOOP used[j] := true; END LOOP;
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION otto.ask_names(text, text[], text[], boolean[]) IS 'The make and model a question names (otto.car_name and the market''s names), the words they took, and whether a model like 320d says diesel';

-- The numbers of a question, by their units (the word after) and qualifiers
-- (the words before): slots for the tool's arguments, the ad ids, and the
-- numbers it did not understand.
CREATE OR REPLACE FUNCTION otto.ask_numbers(plain text, tok text[], INOUT used boolean[], INOUT a jsonb,
                                            OUT ids jsonb, OUT unknown text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v    bigint;
    nxt  text;
    prv  text;
    prv2 text;
    kind text;
    qual text;
    compare boolean := EXISTS (SELECT FROM otto.ask_word w WHERE w.kind = 'intent' AND w.meaning = 'compare_ads' AND plain ~ w.pattern);
BEGIN
    ids := '[]';
    unknown := '{}';
    FOR i IN 1 .. coalesce(array_length(tok, 1), 0) LOOP
        CONTINUE WHEN used[i] OR tok[i] !~ '^[0-9]{1,9}$';
        v := tok[i]::bigint;
        nxt := coalesce(tok[i + 1], '');
        prv := coalesce(tok[i - 1], '');
        prv2 := coalesce(tok[i - 2], '');
        IF prv IN ('eur', 'than', 'od', 'of', 'the', 'a') AND prv2 <> '' THEN       -- look past filler
            prv := CASE WHEN prv = 'eur' THEN prv2 ELSE prv2 || ' ' || prv END;
        END IF;
        kind := CASE
            WHEN compare OR (otto.ask_match('ad', coalesce(tok[i - 1], ''))).meaning IS NOT NULL THEN 'ad'
            WHEN tok[i - 1] = 'eur' AND (otto.ask_match('unit', nxt)).meaning IS DISTINCT FROM 'km' THEN 'price'
            ELSE coalesce((otto.ask_match('unit', nxt)).meaning,
                          CASE WHEN v BETWEEN 1950 AND 2030 THEN 'year' WHEN v >= 300 THEN 'price' END)
            END;
        -- a bare number before a range's second half takes its unit ("between 5000 and 15000 EUR")
        IF kind IN ('year', 'price') AND coalesce(tok[i + 1], '') IN ('and', 'to', 'do', 'i', 'until') AND tok[i + 2] ~ '^[0-9]+$'
           AND coalesce(tok[i + 3], '') ~ '^(km|kilomet)' THEN
            kind := 'km';
        END IF;
        qual := (otto.ask_match('qualifier', prv)).meaning;
        IF qual IS NULL AND coalesce(tok[i + 1], '') IN ('or', 'ili', 'i') AND coalesce(tok[i + 2], '') ~ '^(newer|novij|mladj|later)' THEN
            qual := 'min';
        END IF;
        CASE kind
        WHEN 'ad' THEN ids := ids || to_jsonb(v);
        WHEN 'km' THEN a := a || jsonb_build_object(CASE WHEN qual = 'min' THEN 'mileage_min' WHEN qual = 'max' THEN 'mileage_max'
                                                          ELSE 'mileage_km' END, v);
        WHEN 'price' THEN a := a || jsonb_build_object(CASE WHEN qual IN ('min', 'from') THEN 'price_min'
                                                             WHEN qual = 'max' THEN 'price_max' ELSE 'price' END, v);
        WHEN 'kw' THEN a := a || jsonb_build_object(CASE WHEN qual = 'min' THEN 'power_min' ELSE 'power_kw' END, v);
        WHEN 'hp' THEN a := a || jsonb_build_object(CASE WHEN qual = 'min' THEN 'power_min' ELSE 'power_kw' END, round(v * 0.7355));
        WHEN 'days' THEN a := a || jsonb_build_object('since', v || CASE WHEN v = 1 THEN ' day' ELSE ' days' END);
        WHEN 'year' THEN a := a || jsonb_build_object(CASE qual WHEN 'min' THEN 'year_min' WHEN 'from' THEN 'year_min'
                                                             WHEN 'newer' THEN 'year_min' WHEN 'max' THEN 'year_max'
                                                             WHEN 'older' THEN 'year_max' ELSE 'year' END,
                                                       v + CASE qual WHEN 'newer' THEN 1 WHEN 'older' THEN -1 ELSE 0 END);
        ELSE
            IF v >= 10 THEN unknown := unknown || tok[i]; END IF;
        END CASE;
        IF kind IS NOT NULL THEN used[i] := true; END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION otto.ask_numbers(text, text[], boolean[], jsonb) IS 'The numbers of a question as slots (price, year, mileage, power, since), ad ids, and the numbers not understood';

-- The tool a question asks for: the first intent (otto.ask_word) whose
-- expressions the question matches and whose needs it meets.
CREATE OR REPLACE FUNCTION otto.ask_intent(plain text, a jsonb, ids jsonb) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT w.meaning FROM otto.ask_word w
     WHERE w.kind = 'intent' AND plain ~ w.pattern AND (w.also IS NULL OR plain ~ w.also)
       AND CASE w.needs
           WHEN 'two_ads' THEN jsonb_array_length(ids) >= 2
           WHEN 'ads' THEN jsonb_array_length(ids) >= 1
           WHEN 'name' THEN a ?| ARRAY['make', 'model']
           WHEN 'name_year' THEN a ?| ARRAY['make', 'model'] AND a ?| ARRAY['year', 'year_min']
           WHEN 'name_year_price' THEN a ?| ARRAY['make', 'model'] AND a ?| ARRAY['year', 'year_min'] AND a ? 'price'
           WHEN 'filters' THEN a ?| ARRAY['fuel', 'body', 'gearbox', 'drive', 'price_max', 'price_min', 'make']
           ELSE true END
     ORDER BY w.priority, w.pattern
     LIMIT 1
$fn$;
COMMENT ON FUNCTION otto.ask_intent(text, jsonb, jsonb) IS 'The tool a question asks for, from its words (otto.ask_word intents) and slots';

-- The tool's arguments from the question's slots.
CREATE OR REPLACE FUNCTION otto.ask_arguments(tool text, plain text, a jsonb, ids jsonb) RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT CASE CASE tool WHEN 'price_verdict' THEN 'fair_value' ELSE tool END    -- a verdict: fair_value's car, and the price
    WHEN 'compare_ads' THEN jsonb_build_object('ad_ids', ids)
    WHEN 'ad_details' THEN jsonb_build_object('ad_id', ids->0)
    WHEN 'fair_value' THEN
        jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model', 'year', coalesce(a->'year', a->'year_min'),
                                             'mileage_km', a->'mileage_km', 'fuel', a->'fuel', 'power_kw', a->'power_kw',
                                             'price_eur', CASE WHEN tool = 'price_verdict' THEN a->'price' END))
    WHEN 'depreciation' THEN
        jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model',
            'by_model', CASE WHEN NOT a ? 'make' AND EXISTS (SELECT FROM otto.ask_word w WHERE w.kind = 'level'
                                                                AND w.meaning = 'by_model' AND plain ~ w.pattern) THEN true END))
    WHEN 'fastest_selling' THEN
        jsonb_strip_nulls(jsonb_build_object(
            'level', (SELECT w.meaning FROM otto.ask_word w WHERE w.kind = 'level' AND w.meaning IN ('make', 'model_year')
                        AND plain ~ w.pattern ORDER BY w.priority LIMIT 1),
            'price_min', a->'price_min', 'price_max', coalesce(a->'price_max', a->'price'), 'body', a->'body', 'fuel', a->'fuel'))
    WHEN 'good_deals' THEN
        jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model',
            'max_price', coalesce(a->'price_max', a->'price'), 'fuel', a->'fuel', 'body', a->'body', 'since', a->'since'))
    WHEN 'market_overview' THEN jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model'))
    WHEN 'search_ads' THEN
        jsonb_strip_nulls(jsonb_build_object('filters', jsonb_strip_nulls(jsonb_build_object('make', a->'make', 'model', a->'model',
                'year_min', coalesce(a->'year_min', a->'year'), 'year_max', coalesce(a->'year_max', a->'year'),
                'price_min', a->'price_min', 'price_max', coalesce(a->'price_max', a->'price'),
                'mileage_max', coalesce(a->'mileage_max', a->'mileage_km'), 'mileage_min', a->'mileage_min',
                'power_min', coalesce(a->'power_min', a->'power_kw'),
                'fuel', a->'fuel', 'body', a->'body', 'gearbox', a->'gearbox', 'drive', a->'drive')),
            'sort', (otto.ask_match('sort', plain)).meaning))
    ELSE '{}'::jsonb
    END
$fn$;
COMMENT ON FUNCTION otto.ask_arguments(text, text, jsonb, jsonb) IS 'A tool''s arguments from a question''s slots';

-- How otto.ask understands a question: the words it knows (otto.ask_word),
-- the names (otto.ask_names), the numbers (otto.ask_numbers), the tool
-- (otto.ask_intent) and its arguments (otto.ask_arguments).
CREATE OR REPLACE FUNCTION otto.ask_route(question text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    lang  text;
    plain text;
    tok   text[];
    k     text[];
    used  boolean[];
    names record;
    nums  record;
    a     jsonb := '{}';          -- slots: make, model, year(_min/_max), price_(min/max), mileage, power, fuel, ...
    kind  text;
    tool  text;
    unk   text[];
BEGIN
    IF question IS NULL OR length(question) > 1000 THEN
        RAISE EXCEPTION 'ask: a question of 1 to 1000 characters, please' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    plain := otto.ask_plain(question);
    tok := string_to_array(trim(plain), ' ');
    k := ARRAY(SELECT otto.name_key(x) FROM unnest(tok) x);
    used := array_fill(false, ARRAY[greatest(coalesce(array_length(tok, 1), 0), 1)]);
    -- the language: Cyrillic script, else the language with more of its words
    lang := CASE WHEN question ~ '[Ѐ-ӿ]' THEN 'sr-Cyrl'
                 ELSE (SELECT CASE WHEN count(*) FILTER (WHERE w.meaning = 'sr-Latn') > count(*) FILTER (WHERE w.meaning = 'en')
                                   THEN 'sr-Latn' ELSE 'en' END
                         FROM unnest(tok) x JOIN otto.ask_word w ON w.kind = 'language' AND w.pattern = x) END;

    SELECT * INTO names FROM otto.ask_names(question, tok, k, used);
    used := names.used;
    IF names.diesel THEN a := a || '{"fuel": "diesel"}'; END IF;
    IF names.make IS NOT NULL THEN a := a || jsonb_build_object('make', names.make); END IF;
    IF names.model IS NOT NULL THEN a := a || jsonb_build_object('model', names.model); END IF;
    -- categorical words
    FOR i IN 1 .. coalesce(array_length(tok, 1), 0) LOOP
        CONTINUE WHEN used[i];
        kind := (otto.ask_match('value', tok[i], CASE WHEN lang = 'en' THEN 'en' END)).meaning;
        IF kind IS NOT NULL THEN
            a := a || jsonb_build_object(split_part(kind, ':', 1), split_part(kind, ':', 2));
            used[i] := true;
        END IF;
    END LOOP;
    SELECT * INTO nums FROM otto.ask_numbers(plain, tok, used, a);
    used := nums.used;
    a := nums.a;
    IF a ? 'since' IS FALSE THEN
        kind := (otto.ask_match('since', plain)).meaning;
        IF kind IS NOT NULL THEN a := a || jsonb_build_object('since', kind); END IF;
    END IF;

    tool := otto.ask_intent(plain, a, nums.ids);
    a := a - CASE WHEN tool = 'search_ads' THEN ARRAY[]::text[] ELSE ARRAY['mileage_max', 'mileage_min'] END;
    -- a price the tool cannot take, and words that look like names but are not known
    unk := nums.unknown || CASE WHEN a ? 'price' AND tool NOT IN ('price_verdict', 'fastest_selling', 'good_deals', 'search_ads')
                                THEN ARRAY[a->>'price'] ELSE '{}' END || ARRAY(SELECT x FROM regexp_split_to_table(question, '[^[:alnum:]-]+') WITH ORDINALITY r(x, o)
                         WHERE o > 1 AND x ~ '^[[:upper:]][[:lower:]]{2,}'
                           AND otto.name_key(x) NOT IN (SELECT k[p] FROM unnest(array_positions(used, true)) p)
                           AND otto.name_key(x) NOT IN (SELECT otto.name_key(s) FROM otto.vocabulary v, unnest(v.label_sr || v.label_en || v.spellings) s));
    RETURN jsonb_build_object('tool', tool, 'arguments', otto.ask_arguments(tool, plain, a, nums.ids), 'language', lang,
                              'not_understood', to_jsonb(unk));
END
$fn$;

COMMENT ON FUNCTION otto.ask_route(text) IS 'How otto.ask understands a question: the tool, its arguments, the language (en, sr-Latn, sr-Cyrl) and the words it did not understand';

-- A sentence template in the asker's language: en, sr (Latin), or sr written
-- in Cyrillic (the template only; names and numbers stay as they are).
CREATE OR REPLACE FUNCTION otto.ask_text(lang text, en text, sr text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE lang WHEN 'en' THEN en WHEN 'sr-Latn' THEN sr
                     ELSE replace(otto.cyrillic(replace(sr, '%s', '¤')), '¤', '%s') END
$fn$;

-- A number as the language writes it: 12,345.6 or 12.345,6.
CREATE OR REPLACE FUNCTION otto.ask_num(x numeric, lang text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN lang = 'en' THEN s ELSE translate(s, ',.', '.,') END
      FROM (SELECT CASE WHEN x = trunc(x) THEN to_char(x, 'FM999,999,999,990') ELSE to_char(x, 'FM999,999,990.0') END AS s) t
$fn$;

-- A noun in the plural form a count needs: 1 day, 2 days; in Serbian 1 dan,
-- 2 dana, 5 dana, 21 dan (one, few, many by the last digits; a fraction
-- takes the few form).
CREATE OR REPLACE FUNCTION otto.ask_noun(x numeric, noun text, lang text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT otto.ask_text(lang,
               CASE WHEN x = 1 THEN w.en_one ELSE w.en_many END,
               CASE WHEN x <> trunc(x) THEN w.sr_few
                    WHEN abs(x) % 10 = 1 AND abs(x) % 100 <> 11 THEN w.sr_one
                    WHEN abs(x) % 10 BETWEEN 2 AND 4 AND abs(x) % 100 NOT BETWEEN 12 AND 14 THEN w.sr_few
                    ELSE w.sr_many END)
      FROM (VALUES ('day', 'day', 'days', 'dan', 'dana', 'dana'),
                   ('sale', 'sale', 'sales', 'prodaja', 'prodaje', 'prodaja'),
                   ('ad', 'ad', 'ads', 'oglas', 'oglasa', 'oglasa'),
                   ('live_ad', 'live ad', 'live ads', 'aktivan oglas', 'aktivna oglasa', 'aktivnih oglasa'),
                   ('deal', 'deal', 'deals', 'dobra ponuda', 'dobre ponude', 'dobrih ponuda'),
                   ('comparable', 'comparable ad', 'comparable ads', 'uporediv oglas', 'uporediva oglasa', 'uporedivih oglasa'))
           w(noun, en_one, en_many, sr_one, sr_few, sr_many)
     WHERE w.noun = $2
$fn$;
COMMENT ON FUNCTION otto.ask_noun(numeric, text, text) IS 'A noun (day, sale, ad, live_ad, deal, comparable) in the plural form a count of x needs in the language: day/days; dan/dana/dana';

-- A price verdict (otto.price_verdict) in words.
CREATE OR REPLACE FUNCTION otto.ask_verdict(verdict text, lang text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT otto.ask_text(lang,
               CASE verdict WHEN 'great' THEN 'a great deal' WHEN 'good' THEN 'a good deal' WHEN 'fair' THEN 'a fair price'
                            WHEN 'high' THEN 'a high price' ELSE 'suspiciously low (check for damage, parts or a scam)' END,
               CASE verdict WHEN 'great' THEN 'odlična ponuda' WHEN 'good' THEN 'dobra ponuda' WHEN 'fair' THEN 'korektna cena'
                            WHEN 'high' THEN 'visoka cena' ELSE 'sumnjivo niska cena (proverite oštećenja, delove ili prevaru)' END)
$fn$;

-- A count with its noun: 1 day, 2 days; 1 dan, 2 dana, 5 dana, 21 dan.
CREATE OR REPLACE FUNCTION otto.ask_count(x numeric, noun text, lang text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT otto.ask_num($1, $3) || ' ' || otto.ask_noun($1, $2, $3) $fn$;

-- The short answer to a routed question, from the tool's result.
CREATE OR REPLACE FUNCTION otto.ask_answer(lang text, tool text, r jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    car   text := concat_ws(' ', r->>'make', r->>'model');
    items text;
BEGIN
    CASE tool
    WHEN 'fair_value' THEN
        IF r->>'estimate_eur' IS NULL THEN
            RETURN format(otto.ask_text(lang, 'There are not enough live ads of the %s to value it.',
                                        'Nema dovoljno oglasa za %s da bi se procenila vrednost.'), car);
        END IF;
        RETURN format(otto.ask_text(lang, 'A %s %s%s is worth about €%s (80%% range €%s-%s), from %s%s; confidence: %s.',
                                          '%s %s. godište%s vredi oko %s € (80%% opseg %s-%s €), na osnovu %s%s; pouzdanost: %s.'),
                      CASE WHEN lang = 'en' THEN r->>'year' ELSE car END, CASE WHEN lang = 'en' THEN car ELSE r->>'year' END,
                      CASE WHEN r->>'mileage_km' IS NOT NULL THEN otto.ask_text(lang, ' with ', ' sa ') || otto.ask_num((r->>'mileage_km')::numeric, lang) || ' km' ELSE '' END,
                      otto.ask_num((r->>'estimate_eur')::numeric, lang), otto.ask_num((r->'range_80_eur'->>0)::numeric, lang),
                      otto.ask_num((r->'range_80_eur'->>1)::numeric, lang),
                      CASE WHEN r->>'price_model' IS NOT NULL THEN otto.ask_text(lang, 'the price model and ', 'modela cena i ') ELSE '' END,
                      otto.ask_count((r->'comparables'->>'count')::numeric, 'comparable', lang),
                      CASE WHEN lang = 'en' THEN r->>'confidence'
                           ELSE otto.ask_text(lang, '', CASE r->>'confidence' WHEN 'high' THEN 'visoka' WHEN 'medium' THEN 'srednja' ELSE 'niska' END) END);
    WHEN 'price_verdict' THEN
        IF r->>'verdict' IS NULL THEN
            RETURN format(otto.ask_text(lang, 'There are not enough live ads of the %s to judge its price.',
                                        'Nema dovoljno oglasa za %s da bi se ocenila cena.'), car);
        END IF;
        RETURN format(otto.ask_text(lang, '%s %s for €%s: %s. Its fair value is €%s (80%% range €%s-%s); allowing for the estimate''s uncertainty, the price is most likely %s%% %s the car''s value.',
                                          '%s %s. godište za %s €: %s. Procenjena vrednost je %s € (80%% raspon %s-%s €); uz nesigurnost procene, cena je najverovatnije %s%% %s vrednosti automobila.'),
                      CASE WHEN lang = 'en' THEN r->>'year' ELSE car END, CASE WHEN lang = 'en' THEN car ELSE r->>'year' END,
                      otto.ask_num((r->>'price_eur')::numeric, lang),
                      otto.ask_verdict(r->>'verdict', lang),
                      otto.ask_num((r->>'fair_value_eur')::numeric, lang), otto.ask_num((r->'range_80_eur'->>0)::numeric, lang),
                      otto.ask_num((r->'range_80_eur'->>1)::numeric, lang), otto.ask_num(abs(round((r->>'likely_gap_pct')::numeric)), lang),
                      CASE WHEN (r->>'likely_gap_pct')::numeric >= 0 THEN otto.ask_text(lang, 'under', 'ispod') ELSE otto.ask_text(lang, 'over', 'iznad') END);
    WHEN 'depreciation' THEN
        IF r ? 'ranking' THEN
            SELECT string_agg(concat_ws(' ', x->>'make', x->>'model') || ' (' || otto.ask_num((x->>'annual_rate_pct')::numeric, lang) || '%)', ', ' ORDER BY o)
              INTO items FROM jsonb_array_elements(r->'ranking') WITH ORDINALITY e(x, o) WHERE o <= 5;
            RETURN CASE WHEN items IS NULL THEN otto.ask_text(lang, 'Not enough ads yet to rank depreciation.', 'Još nema dovoljno oglasa za rangiranje.')
                        ELSE format(otto.ask_text(lang, 'Losing value fastest (per year): %s.', 'Najbrže gube vrednost (godišnje): %s.'), items) END;
        END IF;
        IF r->>'annual_rate_pct' IS NULL THEN
            RETURN format(otto.ask_text(lang, 'Not enough ads of the %s yet to measure its depreciation.',
                                        'Još nema dovoljno oglasa za %s da bi se izmerio pad vrednosti.'), car);
        END IF;
        RETURN format(otto.ask_text(lang, 'The %s loses about %s%% of its value per year (95%% interval %s-%s%%), from %s.',
                                          '%s gubi oko %s%% vrednosti godišnje (95%% interval %s-%s%%), na osnovu %s.'),
                      car, otto.ask_num((r->>'annual_rate_pct')::numeric, lang), otto.ask_num((r->'annual_rate_95_pct'->>0)::numeric, lang),
                      otto.ask_num((r->'annual_rate_95_pct'->>1)::numeric, lang), otto.ask_count((r->>'n')::numeric, 'ad', lang));
    WHEN 'fastest_selling' THEN
        SELECT string_agg(concat_ws(' ', x->>'make', x->>'model', x->>'model_year') || ' ('
                          || format(otto.ask_text(lang, '%s sales per 100 ad-days, about %s to sell', '%s prodaja na 100 dana oglasa, oko %s do prodaje'),
                                    otto.ask_num((x->>'sales_per_100_ad_days')::numeric, lang),
                                    otto.ask_count(round((x->>'expected_days')::numeric), 'day', lang)) || ')',
                          ', ' ORDER BY o)
          INTO items FROM jsonb_array_elements(r->'ranking') WITH ORDINALITY e(x, o) WHERE o <= 5;
        RETURN CASE WHEN items IS NULL THEN format(otto.ask_text(lang, 'No group has %s yet.', 'Još nijedna grupa nema %s.'),
                                                   otto.ask_count((r->>'min_sold')::numeric, 'sale', lang))
                    ELSE format(otto.ask_text(lang, 'Selling fastest (sales per 100 days on the market of its ads, each ranked group with at least %s): %s.',
                                                    'Najbrže se prodaju (prodaja na 100 dana oglasa, svaka grupa sa najmanje %s): %s.'),
                                otto.ask_count((r->>'min_sold')::numeric, 'sale', lang), items) END;
    WHEN 'good_deals' THEN
        SELECT string_agg(format(otto.ask_text(lang, '%s %s for €%s, %s%% under its fair value of €%s (%s)', '%s %s za %s €, %s%% ispod procene od %s € (%s)'),
                                 concat_ws(' ', x->>'make', x->>'model'), x->>'year', otto.ask_num((x->>'price_eur')::numeric, lang),
                                 otto.ask_num((x->>'gap_pct')::numeric, lang), otto.ask_num((x->>'fair_value_eur')::numeric, lang), x->>'url'),
                          '; ' ORDER BY o)
          INTO items FROM jsonb_array_elements(r->'deals') WITH ORDINALITY e(x, o) WHERE o <= 3;
        RETURN CASE WHEN items IS NULL THEN format(otto.ask_text(lang, 'No fresh ads are priced well under their fair value that Otto is %s%% sure of right now.',
                                                                 'Trenutno nema svežih oglasa znatno ispod procenjene vrednosti u koje je Otto %s%% siguran.'),
                                                   r->>'min_sure_pct')
                    ELSE format(otto.ask_text(lang, '%s; the surest: %s.', '%s; najsigurnije: %s.'),
                                otto.ask_count(jsonb_array_length(r->'deals'), 'deal', lang), items) END
               || CASE WHEN (r->>'less_sure')::int > 0
                       THEN format(otto.ask_text(lang, ' Another %s at 50-%s%% sureness.', ' Još %s uz 50-%s%% sigurnosti.'),
                                   otto.ask_count((r->>'less_sure')::numeric, 'deal', lang), r->>'min_sure_pct') ELSE '' END;
    WHEN 'search_ads' THEN
        SELECT string_agg(format('%s, %s, %s km, %s € (%s)', coalesce(x->>'title', concat_ws(' ', x->>'make', x->>'model')), x->>'year',
                                 otto.ask_num((x->>'mileage_km')::numeric, lang), otto.ask_num((x->>'price_eur')::numeric, lang), x->>'url'),
                          '; ' ORDER BY o)
          INTO items FROM jsonb_array_elements(r->'ads') WITH ORDINALITY e(x, o) WHERE o <= 3;
        RETURN CASE WHEN items IS NULL THEN otto.ask_text(lang, 'No live ads match.', 'Nema oglasa koji odgovaraju.')
                    ELSE format(otto.ask_text(lang, '%s%s%s found, for example: %s.', 'Broj pronađenih oglasa: %s%s%s, na primer: %s.'),
                                jsonb_array_length(r->'ads'), CASE WHEN (r->>'truncated')::boolean THEN '+' ELSE '' END,
                                CASE WHEN lang = 'en' THEN ' ' || otto.ask_noun(jsonb_array_length(r->'ads'), 'ad', lang) ELSE '' END,
                                items) END;
    WHEN 'market_overview' THEN
        RETURN format(otto.ask_text(lang, '%s%s; median price €%s, median mileage %s km.',
                                          '%s%s; medijana cene %s €, medijana kilometraže %s km.'),
                      CASE WHEN car <> '' THEN car || ': ' ELSE '' END, otto.ask_count((r->>'live')::numeric, 'live_ad', lang),
                      otto.ask_num((r->>'price_median_eur')::numeric, lang), otto.ask_num((r->>'mileage_median_km')::numeric, lang));
    WHEN 'ad_details' THEN
        RETURN format(otto.ask_text(lang, '%s %s, %s km, €%s; fair value €%s (%s).', '%s %s, %s km, %s €; procena %s € (%s).'),
                      car, r->>'year', otto.ask_num((r->>'mileage_km')::numeric, lang), otto.ask_num((r->>'price_eur')::numeric, lang),
                      coalesce(otto.ask_num((r->>'fair_value_eur')::numeric, lang), '?'), coalesce(r->>'deal', '-'));
    WHEN 'compare_ads' THEN
        SELECT string_agg(format('%s: %s', x->>'field', x->>'best_ad_id'), ', ')
          INTO items FROM jsonb_array_elements(r->'comparison') x
         WHERE x->>'field' IN ('price_eur', 'year', 'mileage_km', 'gap_pct') AND x->>'best_ad_id' IS NOT NULL;
        RETURN format(otto.ask_text(lang, 'Compared %s; best by %s.', 'Upoređeni oglasi: %s; najbolji po %s.'),
                      CASE WHEN lang = 'en' THEN otto.ask_count((r->>'n')::numeric, 'ad', lang) ELSE r->>'n' END, coalesce(items, '-'));
    ELSE
        RETURN NULL;
    END CASE;
END
$fn$;

-- The make and model as the market spells them: "Golf" becomes the market's
-- "Golf 7" when that is how the site lists the 2015 ones.
CREATE OR REPLACE FUNCTION otto.market_resolve(make_name text, model_name text, year int DEFAULT NULL, OUT make text, OUT model text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    SELECT m.make INTO make FROM otto.market_mm m WHERE lower(m.make) = lower(make_name)
     GROUP BY 1 ORDER BY sum(m.s[1]) DESC LIMIT 1;
    IF make IS NULL THEN            -- spelt otherwise: compare keys (OFFSET 0 keys each make once)
        SELECT m.make INTO make FROM (SELECT DISTINCT g.make FROM otto.market_mm g OFFSET 0) m
         WHERE otto.name_key(m.make) = otto.name_key(make_name) LIMIT 1;
    END IF;
    make := coalesce(make, make_name);
    IF model_name IS NOT NULL THEN
        SELECT g.model INTO model FROM otto.market_mmy g
         WHERE g.make = market_resolve.make
           AND (otto.name_key(g.model) = otto.name_key(model_name) OR otto.name_key(g.model) LIKE otto.name_key(model_name) || ' %')
         GROUP BY g.model
         ORDER BY otto.name_key(g.model) = otto.name_key(model_name) DESC,
                  sum(g.s[2]) FILTER (WHERE g.year = market_resolve.year) DESC NULLS LAST, sum(g.s[2]) DESC
         LIMIT 1;
        model := coalesce(model, model_name);
    END IF;
END
$fn$;
COMMENT ON FUNCTION otto.market_resolve(text, text, int) IS 'A make and model as the market spells them (a model family such as Golf becomes the market''s most common Golf N of that year)';

CREATE OR REPLACE FUNCTION otto.ask(question text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    route  jsonb := otto.ask_route(question);
    lang   text := route->>'language';
    tool   text := route->>'tool';
    args   jsonb := route->'arguments';
    target text[];
    nm     record;
    res    jsonb;
    answer text;
    need   text[];
BEGIN
    IF tool IS NULL THEN
        RETURN route || jsonb_build_object('question', question, 'answer', otto.ask_text(lang,
            'I did not understand the question. I can tell the fair value of a car (make, model, year), how fast makes and models lose value, what sells fastest, where the good deals are, search ads and give a market overview.',
            'Nisam razumeo pitanje. Mogu da procenim vrednost automobila (marka, model, godište), kažem koliko brzo marke i modeli gube vrednost, šta se najbrže prodaje, gde su dobre ponude, da pretražim oglase i dam pregled tržišta.'));
    END IF;
    IF tool = 'fair_value' THEN
        need := ARRAY(SELECT x FROM unnest(ARRAY['make', 'model', 'year']) x WHERE NOT args ? x);
        IF need <> '{}' THEN
            RETURN route || jsonb_build_object('question', question, 'missing', to_jsonb(need), 'answer',
                format(otto.ask_text(lang, 'To value a car I need its make, model and model year; missing: %s.',
                                           'Za procenu su potrebni marka, model i godište; nedostaje: %s.'),
                       array_to_string(ARRAY(SELECT otto.ask_text(lang, x, CASE x WHEN 'make' THEN 'marka' WHEN 'model' THEN 'model' ELSE 'godište' END)
                                               FROM unnest(need) x), ', ')));
        END IF;
    END IF;
    -- names as the market spells them
    target := CASE WHEN tool = 'search_ads' THEN ARRAY['filters'] ELSE ARRAY[]::text[] END;
    IF args #> (target || 'make'::text) IS NOT NULL THEN
        nm := otto.market_resolve(args #>> (target || 'make'::text), args #>> (target || 'model'::text), (args->>'year')::int);
        args := jsonb_set(args, target || 'make'::text, to_jsonb(nm.make));
        IF nm.model IS NOT NULL THEN
            args := jsonb_set(args, target || 'model'::text, to_jsonb(nm.model));
        END IF;
    END IF;
    BEGIN
        res := otto.call_tool(tool, args);
        answer := otto.ask_answer(lang, tool, res);
    EXCEPTION WHEN invalid_parameter_value OR no_data_found THEN
        answer := otto.ask_text(lang, 'I could not answer that: ', 'Ne mogu da odgovorim: ') || SQLERRM;
    END;
    RETURN jsonb_build_object('question', question, 'language', lang, 'tool', tool, 'arguments', args,
                              'not_understood', route->'not_understood', 'answer', answer, 'result', res,
                              'as_of', res->'as_of');
END
$fn$;
COMMENT ON FUNCTION otto.ask(text) IS 'Answers a plain-language question about the car market (English or Serbian, Latin or Cyrillic) by routing it to a tool: the tool and arguments it chose, a short answer in the question''s language, the tool''s result, and what it did not understand';

-- At the end of each stage: what pg_dump keeps, row-level security, grants.
SELECT pg_catalog.pg_extension_config_dump('otto.car_name', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('otto.ask_word', 'WHERE NOT builtin');
GRANT SELECT ON otto.car_name, otto.ask_word TO otto_app;
