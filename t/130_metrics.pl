# Metrics for real: Debian's prometheus-postgres-exporter with
# metrics/queries.yaml against a cluster that crawled a simulated market.
# Every otto_* series the exporter serves equals otto.metrics_prometheus()'s
# at the same quiet moment, and the values are the truth of the tables: pages
# by status as in the page log, events by kind as in the ad log, ads by state,
# the frontier, the fetch histogram's count, the worker starts; after a
# crawler is killed with -9 the restarts are counted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use OttoSim qw(crawl_node sim_site_sql);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $exporter = '/usr/bin/prometheus-postgres-exporter';
die "$exporter is missing (scripts/common.sh installs prometheus-postgres-exporter)" unless -x $exporter;
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 21000 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim up $tmp/m --seed 71 --ads 300 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 300 ads served');
my $node = crawl_node('metrics', "otto.stream_naptime = '100ms'\nrestart_after_crash = on\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 8'));
q1(q{SELECT otto.crawl_start('sim')});
$node->poll_query_until('postgres', $OttoSim::CRAWL_DONE) or die 'the crawl did not finish';
$node->poll_query_until('postgres', q{SELECT lag_events = 0 FROM otto.stream_status}) or die 'the stream did not catch up';

# The exporter, as its own process, connected over the node's socket as a member of pg_monitor.
q1(q{CREATE ROLE prometheus LOGIN IN ROLE pg_monitor});
my $eport = 22000 + int(rand(500));
my $log = "$tmp/exporter.log";
my $pid = fork // die "fork: $!";
if ($pid == 0)
{
	$ENV{DATA_SOURCE_NAME} = 'host=' . $node->host . ' port=' . $node->port . ' user=prometheus dbname=postgres sslmode=disable';
	open(STDOUT, '>', $log); open(STDERR, '>&', \*STDOUT);
	exec($exporter, "--web.listen-address=127.0.0.1:$eport", "--extend.query-path=$root/metrics/queries.yaml",
		'--disable-settings-metrics') or die "exec: $!";
}
END { kill 'TERM', $pid if $pid }

sub http_get
{
	my ($path) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$eport", Timeout => 10) or return undef;
	print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
	local $/;
	my $r = <$s>;
	$r =~ s/^.*?\r\n\r\n//s;
	return $r;
}
# series name{labels} => value, otto_* only, labels in sorted order
sub series
{
	my %s;
	for (split /\n/, shift)
	{
		next unless /^(otto_[a-z_]+)(?:\{(.*)\})? (\S+)$/;
		my ($n, $l, $v) = ($1, $2 // '', $3);
		$l = join(',', sort grep { !/^server=/ } split /,(?=[a-z_]+=")/, $l);    # the exporter's own label
		$s{"$n\{$l}"} = $v + 0;
	}
	return \%s;
}
my $scrape;
# (up to a minute: on a loaded machine its start and first scrape take a while)
for (1 .. 300) { $scrape = http_get('/metrics'); last if $scrape && $scrape =~ /^otto_worker_running/m; sleep 0.2 }
ok($scrape && $scrape =~ /^otto_/m, 'the exporter serves otto_* series')
  or diag('exporter ' . (kill(0, $pid) ? 'running' : 'gone') . ', its log: ' . slurp_file($log) . "\nits answer: " . ($scrape // 'none'));
my $got  = series($scrape);
my $want = series(q1('SELECT otto.metrics_prometheus()'));

# 1. The exporter's series are otto.metrics_prometheus()'s, name for name and value for value.
my @missing = grep { !exists $got->{$_} } sort keys %$want;
my @extra   = grep { !exists $want->{$_} } sort keys %$got;
my @differ  = grep { exists $got->{$_} && $got->{$_} != $want->{$_} && !/^otto_(due_oldest_seconds|stream_lag_seconds)/ }
  sort keys %$want;
is(scalar(keys %$want) > 60 && "@missing" eq '' && "@extra" eq '' ? 'same' : "missing: @missing; extra: @extra", 'same',
	scalar(keys %$want) . ' series, the same names from the exporter and from SQL');
is("@differ", '', 'and the same values') or diag(join("\n", map { "$_ $got->{$_} vs $want->{$_}" } @differ));

# 2. The values are the tables' truth.
my $g = sub { $got->{ $_[0] } // 'absent' };
for my $st (split /\n/, q1(q{SELECT status || ' ' || count(*) FROM otto.page GROUP BY status}))
{
	my ($status, $n) = split / /, $st;
	is($g->(qq{otto_pages_fetched_total{status="$status"}}), $n, "pages with status $status: as in the page log ($n)");
}
my $pages = q1('SELECT count(*) FROM otto.page');
my $robots = $g->('otto_robots_fetched_total{}');
ok($robots >= 1, "robots.txt fetched ($robots)");
is($g->('otto_fetch_duration_seconds_count{}'), $pages + $robots, 'the latency histogram counts every fetch');
is($g->('otto_fetch_duration_seconds_bucket{le="+Inf"}'), $pages + $robots, 'its +Inf bucket too');
ok($g->('otto_fetched_bytes_total{}') >= q1('SELECT sum(wire_bytes) FROM otto.page'), "bytes: at least the page log's");
for my $k (qw(new price_changed removed))
{
	is($g->(qq{otto_ad_events_total{kind="$k"}}), q1("SELECT count(*) FROM otto.ad_event WHERE kind = '$k'"), "$k events: as in the ad log");
}
is($g->('otto_site_ads{site="sim",state="live"}'), q1(q{SELECT count(*) FROM otto.ad WHERE state = 'live'}), 'live ads');
is($g->('otto_frontier_urls{site="sim",state="done"}'), q1(q{SELECT count(*) FROM otto.frontier WHERE state = 'done'}),
	'frontier URLs done');
is($g->('otto_stream_lag_events{}'), 0, 'the stream processor is caught up');
is($g->('otto_page_errors_total{kind="timeout"}'), 0, 'no timeouts');
# every URL the crawl put in the frontier is in the URL filter as well (an add that set no new bit is not counted)
my $front = q1('SELECT count(*) FROM otto.frontier');
ok($g->('otto_url_filter_urls{}') >= 0.95 * $front && $g->('otto_url_filter_urls{}') <= $front,
	'the URL filter holds the URLs found while crawling (' . $g->('otto_url_filter_urls{}') . " of $front)");
ok($g->('otto_url_filter_estimated_fp_rate{}') < 0.01, 'its false-positive rate is under the configured 1%');
is(join(' ', map { $g->(qq{otto_worker_starts_total{worker="$_"}}) } qw(launcher crawler stream)), '1 2 1',
	'starts: one launcher, two crawlers, one stream processor');
is($g->('otto_worker_restarts_total{worker="crawler"}'), 0, 'no restart yet');

# 3. A crawler killed with -9: the server restarts every worker, and the restarts are counted.
my $cpid = q1(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'otto crawler' LIMIT 1});
kill 'KILL', $cpid;
$node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'otto crawler'
                                        AND backend_start > now() - interval '1 minute'})
  or die 'the crawlers did not come back';
$node->poll_query_until('postgres', q{SELECT value >= 1 FROM otto.metrics
                                       WHERE name = 'otto_worker_restarts_total' AND labels->>'worker' = 'crawler'})
  or die 'no restart counted';
my $after;
for (1 .. 50)
{
	$after = series(http_get('/metrics') // '');
	last if ($after->{'otto_worker_restarts_total{worker="crawler"}'} // 0) >= 1;
	sleep 0.2;
}
ok(($after->{'otto_worker_restarts_total{worker="crawler"}'} // 0) >= 1, 'the exporter shows the crawler restarts');
is($after->{'otto_worker_running{worker="crawler"}'}, 2, 'and two crawlers running again');
# the launcher refills the URL filter (shared memory, empty after the restart) from the frontier
my ($urls, $frontier) = ($after->{'otto_url_filter_urls{}'} // 0, q1('SELECT count(*) FROM otto.frontier'));
ok($urls >= 0.95 * $frontier && $urls <= $frontier,
	"the URL filter was refilled from the frontier ($urls URLs set new bits, $frontier in the frontier)");
ok(($after->{'otto_url_filter_fill_ratio{}'} // 0) > 0, 'its fill ratio shows it');

$node->stop;
system("$sim stop $tmp/m >/dev/null 2>&1");
done_testing();
