# The crawler end to end against the market simulator: a full crawl of a
# 2,000-ad market equals the truth; a second (full-mode) sweep of the same day
# costs only 304s and writes no event; after a simulated day exactly the cut ads get
# price_changed events.  Politeness (shared by two workers) and robots.txt
# are checked from the server's access log; hosts of no site, and a site
# whose name resolves to 127.0.0.1 without the allow flag, are refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use OttoSim qw(ad_fields truth_day crawl_node sim_site_sql);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 20000 + int(rand(500));
my $port2 = $port + 500;
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim up $tmp/m --seed 61 --ads 2000 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 2,000 ads served');
is(system("$sim up $tmp/p --seed 62 --ads 60 --port $port2 --crawl-delay 0 >/dev/null 2>&1"), 0, 'a small second market');

my $node = crawl_node('crawl');
$node->safe_psql('postgres',
	sim_site_sql('sim', "127.0.0.1:$port", 'true', "crawl_delay_ms = 0, max_concurrency = 16, sweep_mode = 'full'"));

# A sweep is over when nothing of the site is leased or due.
sub crawl
{
	my ($site) = @_;
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT otto.crawl_start('$site')");
	$node->poll_query_until('postgres', qq{
	  SELECT count(*) = 0 FROM otto.frontier f JOIN otto.site s USING (site_id)
	   WHERE s.name = '$site' AND (f.state = 'leased' OR (f.state = 'queued' AND f.due_at < now() + interval '1 minute'))})
	  or die "crawl of $site did not finish";
	return time - $t0;
}
sub q1 { return $node->safe_psql('postgres', shift) }

# 1. A full crawl: every live ad once, every field equal to the truth.
my $secs = crawl('sim');
my @truth = truth_day("$tmp/m", 0, 'ads');
my $live = scalar @truth;
is(q1('SELECT count(*) || \'/\' || count(DISTINCT source_ad_id) FROM otto.ad'), "$live/$live",
	"every live ad stored exactly once ($live ads in " . sprintf('%.1f', $secs) . ' s)');
# the crawlers kept the planner's statistics up with what they stored (otto.stats_refresh)
ok($node->poll_query_until('postgres', q{SELECT count(*) = 3 FROM pg_stat_user_tables
                                          WHERE relid IN ('otto.ad'::regclass, 'otto.frontier'::regclass, 'otto.page'::regclass)
                                            AND last_analyze IS NOT NULL}),
	'the crawled tables were analyzed as they grew (ad, frontier, page), by the crawlers, not autovacuum');
q1(q{CREATE TABLE truth (j jsonb)});
q1(qq{COPY truth FROM '$tmp/m/truth/day-000/ads.jsonl' CSV QUOTE e'\\x01' DELIMITER e'\\x02'});
my $fields = ad_fields();
my $cmp = qq{SELECT f, t.j->>'source_ad_id' AS id, t.j->f AS truth, to_jsonb(a)->f AS stored
  FROM truth t JOIN otto.ad a ON a.source_ad_id = t.j->>'source_ad_id', unnest($fields) f
 WHERE nullif(nullif(t.j->f, 'null'), '[]') IS DISTINCT FROM nullif(nullif(to_jsonb(a)->f, 'null'), '[]')};
my $bad = q1("SELECT count(*) FROM ($cmp) x");
is($bad, '0', 'every stored field equals the truth (' . q1("SELECT count(*) * cardinality($fields) FROM truth") . ' values)');
diag(q1("SELECT f, count(*), min(id), min(truth::text), min(stored::text) FROM ($cmp) x GROUP BY f")) if $bad ne '0';
is(q1(q{SELECT count(*) FROM otto.ad_event WHERE kind = 'new'}), $live, 'one new event per ad');
is(q1(q{SELECT count(*) FROM otto.page WHERE error_kind IS NOT NULL OR status <> 200}), '0', 'no failed fetch');
is(q1(q{SELECT count(*) FROM otto.page}), q1(q{SELECT count(*) FROM otto.frontier WHERE state = 'done'}),
	'each page fetched once');
is(q1(q{SELECT count(*) FROM otto.frontier WHERE lease_owner IS NOT NULL OR state <> 'done'}), '0', 'no lease left behind');
is(q1(q{SELECT count(*) FROM otto.robots WHERE status = 200 AND body LIKE '%Disallow%'}), '1', 'robots.txt stored');

# 2. The same day again: conditional GETs answer 304 and nothing is written to the event log.
my $events = q1('SELECT count(*) FROM otto.ad_event');
my $pages = q1('SELECT max(page_id) FROM otto.page');
crawl('sim');
is(q1("SELECT count(*) FROM otto.page WHERE page_id > $pages AND status = 304"), $live, 'every ad page answers 304');
is(q1("SELECT count(*) FROM otto.page WHERE page_id > $pages AND status = 200 AND url ~ '/auto-oglasi/[0-9]'"), '0',
	'no ad page is downloaded again');
is(q1('SELECT count(*) FROM otto.ad_event'), $events, 'no event from an unchanged day');
is(q1("SELECT count(*) FROM otto.ad WHERE last_seen_at < (SELECT sweep_started_at FROM otto.site WHERE name = 'sim')"),
	'0', 'a 304 confirms the ad is still there')
  or diag(q1("SELECT f.url, f.state, f.depth, f.last_fetched_at, s.sweep_started_at FROM otto.frontier f
                JOIN otto.site s USING (site_id) WHERE s.name = 'sim' AND f.last_fetched_at < s.sweep_started_at LIMIT 30"));

# 3. A simulated day with price cuts: exactly the cut ads get price_changed with the right prices.
is(system("$sim advance $tmp/m >/dev/null 2>&1"), 0, 'the market lives a day');
$pages = q1('SELECT max(page_id) FROM otto.page');
crawl('sim');
my %cuts = map { ($_->{source_ad_id} => "$_->{old_price_eur}>$_->{new_price_eur}") }
  grep { $_->{kind} eq 'price_changed' && $_->{day} == 1 } truth_day("$tmp/m", 1, 'events');
my %got = map { split /\|/ } split /\n/, q1(q{SELECT a.source_ad_id || '|' || e.old_price_eur || '>' || e.new_price_eur
  FROM otto.ad_event e JOIN otto.ad a USING (ad_id) WHERE e.kind = 'price_changed'});
cmp_ok(scalar keys %cuts, '>', 5, 'the truth has price cuts (' . scalar(keys %cuts) . ')');
is_deeply(\%got, \%cuts, 'exactly the cut ads have price_changed events, with old and new price');
my $new1 = grep { $_->{kind} eq 'new' && $_->{day} == 1 } truth_day("$tmp/m", 1, 'events');
is(q1(q{SELECT count(*) FROM otto.ad_event WHERE kind = 'new'}), $live + $new1, "the day's $new1 new ads are new events");
is(q1(q{SELECT count(*) FROM otto.ad_event WHERE kind = 'updated'}), '0', 'no spurious updates');

# 4. Politeness: two workers share one host's clock; no two requests start closer than the delay.
my $delay = 150;
$node->safe_psql('postgres', sim_site_sql('polite', "127.0.0.1:$port2", 'true', "crawl_delay_ms = $delay, max_concurrency = 4")
	  . qq{INSERT INTO otto.frontier (site_id, url, kind) SELECT site_id, 'http://127.0.0.1:$port2/oglas/123', 'other'
	    FROM otto.site WHERE name = 'polite';});
crawl('polite');
sleep 1.2;    # nginx flushes its log every second
open my $log, '<', "$tmp/p/logs/access.log" or die;
my (@starts, $disallowed);
while (<$log>)
{
	my ($msec, $uri, $rt) = /^(\S+) \d+ \S+ "([^"]*)" .* (\S+) "[^"]*"$/ or next;
	push @starts, $msec - $rt;
	$disallowed++ if $uri =~ m{^/(oglas|redirect)/};
}
@starts = sort { $a <=> $b } @starts;
my @gaps = map { ($starts[$_] - $starts[$_ - 1]) * 1000 } 1 .. $#starts;
my ($min) = sort { $a <=> $b } @gaps;
my $short = grep { $_ < $delay * 0.9 } @gaps;
cmp_ok(scalar @starts, '>', 40, scalar(@starts) . ' requests to the polite host');
# The workers' own clocks (page log, microseconds) are exact; the server sees
# each start when it reads the first bytes, which on a loaded 2-core machine
# can lag by up to a delay now and then (seen: one request read 140 ms late):
# its view gets 10% slack and one outlier in twenty.
is(q1(qq{SELECT count(*) FROM (SELECT fetched_at - lag(fetched_at) OVER (ORDER BY fetched_at) AS gap
  FROM otto.page p JOIN otto.site s USING (site_id) WHERE s.name = 'polite' AND p.status IS NOT NULL) g WHERE gap < interval '$delay ms'}), '0',
	"no two fetches start closer than $delay ms, across both workers (page log)");
ok($short <= @gaps / 20,
	sprintf('the server sees requests %d ms apart (closest: %.0f ms; %d of %d gaps under 90%%)', $delay, $min, $short, scalar @gaps));
is($disallowed // 0, 0, 'robots.txt Disallow paths are never fetched');
is(q1(q{SELECT state || ' ' || last_error FROM otto.frontier WHERE url LIKE '%/oglas/123'}),
	'refused robots: disallowed by robots.txt', 'a disallowed URL is refused, with the reason');
is(q1(q{SELECT count(*) FROM otto.politeness() WHERE host = '127.0.0.1:} . $port2 . q{' AND in_flight = 0}), '1',
	'the host clock is shared and idle after the crawl');

# 5. Refusals: a URL of a host no enabled site owns; a name resolving to 127.0.0.1 without the flag.
$node->safe_psql('postgres', sim_site_sql('private', "localhost:$port2", 'false') . qq{
  INSERT INTO otto.frontier (site_id, url, kind) SELECT site_id, 'http://127.0.0.2:$port2/auto-oglasi/1/x', 'ad'
    FROM otto.site WHERE name = 'polite';});
my $before = `wc -l < $tmp/p/logs/access.log`;
crawl('polite');
crawl('private');
is(q1(q{SELECT state || ' ' || last_error FROM otto.frontier WHERE url LIKE '%127.0.0.2%'}),
	qq{refused refused: host "127.0.0.2:$port2" belongs to no enabled site}, 'a host of no enabled site is refused');
like(q1(q{SELECT f.state || ' ' || f.last_error FROM otto.frontier f JOIN otto.site s USING (site_id) WHERE s.name = 'private'}),
	qr/^refused refused: address (127\.0\.0\.1|::1) is not public/, 'a name resolving to a loopback address is refused');
is(q1(q{SELECT count(*) FROM otto.page p JOIN otto.site s USING (site_id) WHERE s.name = 'private' AND p.error_kind = 'refused'}),
	'1', 'and the refusal is in the page log');
sleep 1.2;
my $after = `grep -c '"localhost:$port2"\\|"127.0.0.2' $tmp/p/logs/access.log`;
is($after + 0, 0, 'no request reached the server for either');

# Status view
like(q1(q{SELECT done || ' ' || failed || ' ' || delay_ms FROM otto.crawl_status WHERE site = 'polite'}),
	qr/^\d+ 0 $delay$/, 'crawl_status shows the delay in force');

system("$sim stop $tmp/m >/dev/null 2>&1");
system("$sim stop $tmp/p >/dev/null 2>&1");
$node->stop;
done_testing();
