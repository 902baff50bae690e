# ingest_page on the simulator's pages, day after day: every live ad is
# stored once with the truth's fields; an unchanged day writes no event; the
# next day's price cuts give exactly the truth's price_changed events.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use OttoSim qw(write_ad_pages_csv crawl_node sim_site_sql);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 19400 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

# Today's live ad pages as CSV (url, html, day).
sub day_pages { my $day = shift; return write_ad_pages_csv("$tmp/m", $day, "$tmp/day$day.csv", '', $day) }

is(system("$sim init $tmp/m --seed 31 --ads 800 --port $port 2>/dev/null"), 0, 'a market of 800 ads');
my $live0 = day_pages(0);

my $node = crawl_node('ingest', "otto.crawler_workers = 0\n");    # pages come from files, not a crawl
$node->safe_psql('postgres', sim_site_sql('simulator', "127.0.0.1:$port", 'true') . qq{
CREATE TABLE feed (url text, html text, day int);
CREATE FUNCTION ingest_day(d int) RETURNS bigint LANGUAGE sql AS
  \$\$ SELECT count(otto.ingest_page(url, html, 200, '2026-10-01'::timestamptz + d * interval '1 day' + interval '12 hours'))
        FROM feed WHERE day = d \$\$;
\\copy feed FROM '$tmp/day0.csv' CSV
SELECT ingest_day(0);
});
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT source_ad_id) FROM otto.ad'), "$live0|$live0",
	"every live ad stored exactly once ($live0)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.ad_event WHERE kind = 'new'}), $live0, 'one new event each');

# The same day again: nothing changed, no event.
$node->safe_psql('postgres', 'SELECT ingest_day(0)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM otto.ad_event'), $live0, 'an unchanged re-fetch writes no event');

# The next day: price cuts and renewals; re-ingest the ads that are still live.
is(system("$sim advance $tmp/m 2>/dev/null"), 0, 'advance a day');
day_pages(1);
$node->safe_psql('postgres', "\\copy feed FROM '$tmp/day1.csv' CSV");
$node->safe_psql('postgres', 'SELECT ingest_day(1)');
open my $ev, '<', "$tmp/m/truth/day-001/events.jsonl" or die;
my %cuts;
for my $e (map { decode_json($_) } <$ev>)
{
	$cuts{ $e->{source_ad_id} } = "$e->{old_price_eur}>$e->{new_price_eur}"
	  if $e->{kind} eq 'price_changed' && $e->{day} == 1;
}
my %got = map { my ($id, $p) = split /\|/; ($id => $p) } split /\n/, $node->safe_psql('postgres', q{
  SELECT a.source_ad_id, e.old_price_eur || '>' || e.new_price_eur FROM otto.ad_event e JOIN otto.ad a USING (ad_id)
   WHERE e.kind = 'price_changed'});
cmp_ok(scalar keys %cuts, '>', 5, 'the truth has price cuts on day 1 (' . scalar(keys %cuts) . ')');
is_deeply(\%got, \%cuts, 'exactly the cut ads get price_changed events, with the right prices');
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.ad_event WHERE kind = 'updated'}), '0',
	'renewals alone are not updates');
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.ad a JOIN feed f ON f.url = a.url AND f.day = 1}),
	$node->safe_psql('postgres', 'SELECT count(*) FROM feed WHERE day = 1'), "every ad live on day 1 is stored");
$node->stop;
done_testing();
