# The price model (src/market/price_model.c and .sql) on a live cluster: the
# trainer worker trains a version once the market has ads, otto.fair_value
# uses it, the trainer values every live ad by it (otto.ad_value) and trains
# again once the market has moved, training
# never blocks the pipeline, a version survives a restart, and a damaged or
# missing version falls back to the comparables with a WARNING.
use strict;
use warnings;
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(crawl_node);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
copy("$root/../shared/data/real/kaggle-serbia-2024/serbia_car_sales_price_2024.csv", "$tmp/kaggle.csv") or die $!;
chmod 0644, "$tmp/kaggle.csv";

my $node = crawl_node('price', "otto.crawler_workers = 0\notto.price_trainer = on\notto.price_trainer_naptime = '1s'\n");
sub q1 { return $node->safe_psql('postgres', shift) }

# 2,000 real ads of 2024 live; 500 others kept for later (test/kaggle2024.sql, seed 1)
my ($rc, $out, $err) = $node->psql('postgres', "\\i $root/test/kaggle2024.sql\nCREATE TABLE later AS SELECT * FROM cars WHERE held_out;",
	extra_params => [ '-v', "csv=$tmp/kaggle.csv", '-v', 'seed=1', '-v', 'ON_ERROR_STOP=1' ]);
is($rc, 0, 'a market of 2,000 real ads') or diag($err);
q1('SELECT otto.stream_rebuild()');

# a first version, from the trainer worker alone
$node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM otto.price_model')
  or die 'the trainer did not train';
is(q1(q{SELECT count(*) > 0 FROM otto.worker_start WHERE worker = 'trainer'}), 't', 'the trainer worker runs');
is(q1(q{SELECT n_train BETWEEN 1990 AND 2000 AND n_holdout = n_train AND folds = 5 AND cardinality(model) = 5
                AND (SELECT bool_and(sha256(m) = s) FROM unnest(model, model_sha256) x(m, s))
           FROM otto.price_model}),
	't', 'version 1: every live ad, five folds, a booster each with its checksum, calibrated on every ad out of fold');
is(q1(q{SELECT otto.fair_value_train(false) IS NULL}), 't', 'not due again while the market has not moved');
my $all_valued = q{SELECT count(v.ad_id) = count(*) AND bool_and(v.model_id = %d AND v.price_eur = m.price_eur AND v.p_under IS NOT NULL)
                     FROM otto.market_ad m LEFT JOIN otto.ad_value v USING (ad_id) WHERE m.live AND m.price_eur > 0 AND m.year IS NOT NULL};
ok($node->poll_query_until('postgres', sprintf($all_valued, 1)), 'then the trainer valued every live priced ad by version 1, for good_deals');

# it prices the held-out cars better than the comparables alone, and its range holds about 80% of them
my $eval = q{
SELECT round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs((r->>'estimate_eur')::numeric / price - 1))::numeric, 1) || ' '
    || round(100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs((r->'comparables'->>'estimate_eur')::numeric / price - 1))::numeric, 1) || ' '
    || round(100.0 * count(*) FILTER (WHERE price BETWEEN (r->'range_80_eur'->>0)::int AND (r->'range_80_eur'->>1)::int) / count(*))
    || ' ' || count(*) FILTER (WHERE r->'price_model'->>'version' = '%s') || ' ' || count(*)
  FROM (SELECT price, otto.fair_value(jsonb_strip_nulls(to_jsonb(l) - 'km' - 'power_kw' - 'price' - 'n' - 'held_out'
                                      || jsonb_build_object('mileage_km', CASE WHEN l.km BETWEEN 1 AND 1000000 THEN l.km END,
                                                            'power_kw', nullif(l.power_kw, 0)))) r
          FROM later l) x};
my ($mdape, $comps, $holds, $used, $n) = split / /, q1(sprintf($eval, 1));
note("held out: MdAPE $mdape% (comparables alone $comps%), 80% range holds $holds%");
is($used, $n, 'otto.fair_value uses version 1 for every car');
cmp_ok($mdape, '<', $comps, 'combined with the model, fair values are closer to held-out prices than the comparables alone');
ok($holds >= 65 && $holds <= 92, "the 80% range holds $holds% of held-out prices");

# the market moves: 500 new ads; the trainer trains again
q1(q{
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur, fuel, body, engine_cc, power_kw,
                     gearbox, drive, doors, air_conditioning, emission_class, color, seats)
SELECT (SELECT site_id FROM otto.site WHERE name = 'kaggle'), n::text, 'https://kaggle.invalid/ad/' || n, title, make, model, year,
       km, price, fuel, body, engine_cc, nullif(power_kw, 0), gearbox, drive, doors, air_conditioning, emission_class, color, seats
  FROM later;
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad a WHERE NOT EXISTS (SELECT FROM otto.ad_event e WHERE e.ad_id = a.ad_id);
});
$node->poll_query_until('postgres', 'SELECT max(model_id) = 2 FROM otto.price_model')
  or die 'no second version after the market moved';
pass('the market moved by more than a tenth: the trainer trained version 2');
ok($node->poll_query_until('postgres', sprintf($all_valued, 2)), 'and valued every live priced ad again by it, the new ones too');
is(q1(q{SELECT otto.fair_value('Volkswagen', 'Golf', 2012, 180000)->'price_model'->>'version'}), '2', 'and fair values use it');

# training does not block the pipeline: an ad arrives and reaches the market tables while a training runs
q1(q{ALTER SYSTEM SET otto.price_trainer = off});
q1(q{SELECT pg_reload_conf()});
$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'otto trainer'})
  or die 'the trainer did not stop';
my $bg = $node->background_psql('postgres');
$bg->query_until(qr/started/, q{\echo started
SELECT otto.fair_value_train();
});
$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT otto.fair_value_train()%' AND state = 'active'})
  or die 'the training did not start';
q1(q{
INSERT INTO otto.ad (site_id, source_ad_id, url, title, make, model, year, mileage_km, price_eur)
VALUES ((SELECT site_id FROM otto.site WHERE name = 'kaggle'), 'during', 'https://kaggle.invalid/ad/during', 'Skoda Octavia',
        'Skoda', 'Octavia', 2015, 150000, 7000);
INSERT INTO otto.ad_event (site_id, ad_id, kind, at, new_price_eur)
SELECT site_id, ad_id, 'new', first_seen_at, price_eur FROM otto.ad WHERE source_ad_id = 'during';
});
$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM otto.market_ad m JOIN otto.ad a USING (ad_id) WHERE a.source_ad_id = 'during'})
  or die 'the new ad did not reach the market';
is(q1(q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT otto.fair_value_train()%' AND state = 'active'}), '1',
	'a new ad reached the market tables while the training ran');
$bg->quit;
$node->poll_query_until('postgres', 'SELECT max(model_id) = 3 FROM otto.price_model') or die 'the training did not finish';

# a version survives a restart
my $before = q1(q{SELECT otto.fair_value('Volkswagen', 'Golf', 2012, 180000) - 'as_of'});
$node->restart;
is(q1(q{SELECT otto.fair_value('Volkswagen', 'Golf', 2012, 180000) - 'as_of'}), $before,
	'after a restart the same version gives the same fair value');

# damaged or missing: a WARNING and the comparables alone
q1(q{UPDATE otto.price_model SET model[1] = substring(model[1] FROM 1 FOR 1000) WHERE model_id = 3});
($rc, $out, $err) = $node->psql('postgres', q{
SELECT r->>'price_model' IS NULL AND (r->>'estimate_eur')::int = (r->'comparables'->>'estimate_eur')::int
  FROM otto.fair_value('Volkswagen', 'Golf', 2012, 180000) r});
is($out, 't', 'a damaged version: the fair value is the comparables\' alone');
like($err, qr/WARNING:  price model 3 cannot be used: its boosters' bytes do not match their SHA-256 sums/,
	'with a WARNING that says why');
($rc, $out, $err) = $node->psql('postgres', q{
SELECT otto.price_model_score(99, f.cat, f.num) IS NULL FROM otto.price_features('{"make": "Skoda", "model": "Octavia"}') f});
is($out, 't', 'a version that is not there scores nothing');
like($err, qr/WARNING:  price model 99 cannot be used: there is no price model 99/, 'and says so');
q1('DELETE FROM otto.price_model');
($rc, $out, $err) = $node->psql('postgres', q{SELECT otto.fair_value('Volkswagen', 'Golf', 2012, 180000)->>'method'});
like($out, qr/^median of the asking prices of comparable live ads/, 'no version at all: the comparables, as before');
is($err, '', 'without a warning');
done_testing();
