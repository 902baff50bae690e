# The URL filter: a Bloom filter in shared memory, sized from the GUCs; its
# measured false-positive rate at 1,000,000 URLs is within 20% of the
# configured rate; it is refilled from the frontier after a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('filter');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'otto'
otto.database = 'postgres'
otto.launcher_naptime = '200ms'
otto.url_filter_expected = 1000000
otto.url_filter_fp_rate = 0.01
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION otto');

# m = -n ln p / (ln 2)^2 = 9,585,059 bits (rounded up to 32), k = round(m/n ln 2) = 7
is($node->safe_psql('postgres', q{SELECT s->>'bits', s->>'hashes', s->>'urls_added' FROM otto.url_filter_stats() s}),
	'9585088|7|0', 'sized by the standard formulas');

my $dupes = $node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE otto.url_filter_add('https://www.polovniautomobili.com/auto-oglasi/' || i || '/x'))
   FROM generate_series(1, 1000000) i});
cmp_ok($dupes, '<', 20000, "adding 1,000,000 distinct URLs: $dupes reported maybe-seen (false positives while filling)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM generate_series(1, 1000000) i
   WHERE NOT otto.url_filter_test('https://www.polovniautomobili.com/auto-oglasi/' || i || '/x')}), '0', 'no false negatives');
my $fp = $node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE otto.url_filter_test('https://www.polovniautomobili.com/auto-oglasi/' || i || '/y'))::float8 / 1000000
   FROM generate_series(1, 1000000) i});
ok($fp > 0.008 && $fp < 0.012, "measured false-positive rate $fp is within 20% of 0.01");
my $est = $node->safe_psql('postgres', q{SELECT (otto.url_filter_stats()->>'estimated_fp_rate')::float8});
ok(abs($est - $fp) / $fp < 0.2, "estimated rate $est agrees with the measured one");

# url_seen: definitely new from memory, maybe-seen confirmed by the frontier.
$node->safe_psql('postgres', q{INSERT INTO otto.frontier (site_id, url, kind) VALUES (1, 'https://www.polovniautomobili.com/auto-oglasi/1/x', 'ad')});
is($node->safe_psql('postgres', q{SELECT otto.url_seen(1, 'https://www.polovniautomobili.com/auto-oglasi/1/x'),
   otto.url_seen(1, 'https://www.polovniautomobili.com/auto-oglasi/2/x'), otto.url_seen(1, 'https://never.example/')}),
	't|f|f', 'url_seen confirms exactly');

# After a restart shared memory is empty; the launcher refills it from the frontier.
$node->restart;
ok($node->poll_query_until('postgres', q{SELECT otto.url_filter_test('https://www.polovniautomobili.com/auto-oglasi/1/x')}),
	'the launcher refills the filter from the frontier');
ok($node->wait_for_log(qr/otto launcher loaded 1 known URLs into the URL filter/), 'and says so');
is($node->safe_psql('postgres', q{SELECT otto.url_filter_test('https://www.polovniautomobili.com/auto-oglasi/2/x')}), 'f',
	'only what the frontier holds');
$node->stop;

# Without preload the filter is absent and says why.
my $plain = PostgreSQL::Test::Cluster->new('nofilter');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION otto');
my ($ret, $out, $err) = $plain->psql('postgres', q{SELECT otto.url_filter_add('http://x/')});
like($err, qr/the URL filter needs otto in shared_preload_libraries/, 'clear error without preload');
$plain->stop;
done_testing();
