# The parse stage against the simulator's truth: over 2,000 simulated ads,
# every field parse_ad extracts equals the truth exactly, and the listing
# pages list every live ad once with its price.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(gz csv write_ad_pages_csv ad_fields);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 18900 + int(rand(500));
my $base = "http://127.0.0.1:$port";
$ENV{PYTHONDONTWRITEBYTECODE} = 1;

# Day 1, so that some ads show a cut price with the old one beside it.
is(system("$root/sim/otto-sim init $tmp/m --seed 21 --ads 2100 --port $port --day 1 2>/dev/null"), 0, 'simulated market of 2,100 ads');
my $truth_dir = "$tmp/m/truth/day-001";

# One CSV of (url, html) for ad pages (with a tracking query) and one for listing pages.
my $n = write_ad_pages_csv("$tmp/m", 1, "$tmp/ads.csv", '?attp=p1_pv0_pc1_pl1_plv0');
cmp_ok($n, '>=', 2000, "at least 2,000 live ads in the truth ($n)");
open my $lst_csv, '>:raw', "$tmp/listings.csv" or die;
my $pages = 0;
for my $f (glob "$tmp/m/www/_l/_all/*.html.gz")
{
	my ($p) = $f =~ m{/(\d+)\.html\.gz$};
	print $lst_csv csv("$base/auto-oglasi/pretraga?page=$p&sort=basic"), ',', csv(gz($f)), "\n";
	$pages++;
}
close $lst_csv;

my $node = PostgreSQL::Test::Cluster->new('parse');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'otto'\notto.database = 'postgres'");
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION otto;
INSERT INTO otto.site (name, title, hosts, ad_url_pattern, listing_url_pattern, rules, allow_private_addresses)
SELECT 'simulator', 'Market simulator', ARRAY['127.0.0.1:$port'],
       '^http://127\\.0\\.0\\.1:$port/auto-oglasi/([0-9]+)/', '^http://127\\.0\\.0\\.1:$port/auto-oglasi/(?:pretraga|[a-z])',
       rules || '{"timezone": "UTC"}', true
  FROM otto.site_profile WHERE name = 'polovniautomobili';
CREATE TABLE page (url text, html text);
CREATE TABLE listing (url text, html text);
CREATE TABLE truth (j jsonb);
\\copy page FROM '$tmp/ads.csv' CSV
\\copy listing FROM '$tmp/listings.csv' CSV
\\copy truth FROM '$truth_dir/ads.jsonl' CSV QUOTE e'\\x01' DELIMITER e'\\x02'
CREATE TABLE parsed AS SELECT otto.parse_ad(html, url) AS p FROM page;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM parsed'), $n, 'every ad page parsed');

# Field by field: JSON null and an absent key are the same (nothing on the page).
my $fields = ad_fields();
my $cmp = qq{
  SELECT f, t.j->>'source_ad_id' AS id, t.j->f AS truth, p.p->f AS parsed
    FROM truth t JOIN parsed p ON p.p->>'source_ad_id' = t.j->>'source_ad_id', unnest($fields) f
   WHERE nullif(t.j->f, 'null') IS DISTINCT FROM nullif(p.p->f, 'null')};
is($node->safe_psql('postgres', "SELECT count(*) FROM truth t JOIN parsed p ON p.p->>'source_ad_id' = t.j->>'source_ad_id'"),
	$n, 'every truth ad found by its source id');
my $compared = $node->safe_psql('postgres', "SELECT count(*) * cardinality($fields) FROM truth");
my $bad = $node->safe_psql('postgres', "SELECT count(*) FROM ($cmp) x");
is($bad, '0', "all $compared field values equal the truth");
diag($node->safe_psql('postgres', "SELECT f, count(*), min(id), min(truth::text), min(parsed::text) FROM ($cmp) x GROUP BY f"))
  if $bad ne '0';
is($node->safe_psql('postgres', q{SELECT count(*) FROM truth t JOIN parsed p ON p.p->>'source_ad_id' = t.j->>'source_ad_id'
   WHERE (p.p->>'renewed_at')::timestamptz <> (t.j->>'renewed_at')::timestamptz}), '0', 'renewal times equal the truth');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM truth WHERE j->'old_price_eur' <> 'null'}), '>', 0,
	'some ads show a cut price with the old one');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM truth WHERE j->'price_eur' = 'null'}), '>', 0,
	'some ads are "Po dogovoru"');
is($node->safe_psql('postgres', q{SELECT count(*) FROM parsed WHERE p ? 'raw' OR p ? 'truncated'}), '0',
	'no unknown vocabulary and no truncation');

# Listings: every live ad exactly once across the pages, with the truth's price; pages chain by next_url.
$node->safe_psql('postgres', q{CREATE TABLE listed AS
  SELECT l.url AS page, otto.parse_listing(l.html, l.url) AS r FROM listing l});
is($node->safe_psql('postgres', "SELECT count(*) FROM listed"), $pages, "all $pages listing pages parsed");
is($node->safe_psql('postgres', q{
  SELECT count(*) FROM (SELECT a->>'source_ad_id' id, count(*) c FROM listed, jsonb_array_elements(r->'ads') a GROUP BY 1) x
   FULL JOIN truth t ON t.j->>'source_ad_id' = x.id WHERE x.c IS DISTINCT FROM 1 OR t.j IS NULL}), '0',
	'each live ad is listed exactly once (promoted repeats left out)');
is($node->safe_psql('postgres', q{
  SELECT count(*) FROM listed, jsonb_array_elements(r->'ads') a JOIN truth t ON t.j->>'source_ad_id' = a->>'source_ad_id'
   WHERE nullif(a->'price_eur', 'null') IS DISTINCT FROM nullif(t.j->'price_eur', 'null') OR a->>'url' <> t.j->>'url'
      OR a->>'title' <> t.j->>'title' OR (a->>'renewed_at')::timestamptz <> (t.j->>'renewed_at')::timestamptz}), '0',
	'listing cards carry the truth price, canonical URL, title and renewal time');
is($node->safe_psql('postgres', qq{SELECT count(DISTINCT r->>'total') || ':' || min(r->>'total') FROM listed}),
	"1:$n", 'every page states the total of live ads');
is($node->safe_psql('postgres', q{SELECT count(*) FROM listed WHERE r->>'next_url' IS NOT NULL
   AND substring(r->>'next_url' FROM '[?&]page=([0-9]+)')::int <> substring(page FROM '[?&]page=([0-9]+)')::int + 1}),
	'0', 'next_url names the following page');
is($node->safe_psql('postgres', q{SELECT count(*) FROM listed WHERE r->>'next_url' IS NULL}), '1', 'one last page');

$node->stop;
done_testing();
