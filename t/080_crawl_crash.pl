# Crashes in the middle of a crawl.  Day 0: a crawler worker is killed with
# kill -9 (the postmaster resets the cluster); day 1: the server is shut down
# with -m immediate and started again.  Each time the crawl completes with no
# ad lost and none duplicated, and the event log equals what an uninterrupted
# crawl writes: one new event per ad, the truth's price cuts.  Full-mode sweeps
# (every ad page again), so the day-1 sweep is long enough to interrupt.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(truth_day crawl_node sim_site_sql $CRAWL_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 21600 + int(rand(400));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim up $tmp/m --seed 81 --ads 1500 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 1,500 ads served');

my $node = crawl_node('crash', "restart_after_crash = on\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', "crawl_delay_ms = 0, max_concurrency = 8, sweep_mode = 'full'"));
my $done = $CRAWL_DONE;

# The events an uninterrupted crawl writes, from the truth: (source id, kind, new price).
sub expected_events
{
	my ($day) = @_;
	my @e = grep { $_->{kind} eq 'new' || $_->{kind} eq 'price_changed' } truth_day("$tmp/m", $day, 'events');
	return join "\n", sort map { join '|', $_->{source_ad_id}, $_->{kind}, $_->{new_price_eur} // $_->{price_eur} // '' } @e;
}
sub stored_events
{
	return join "\n", sort split /\n/, q1(q{SELECT a.source_ad_id || '|' || e.kind || '|' || coalesce(e.new_price_eur::text, '')
	  FROM otto.ad_event e JOIN otto.ad a USING (ad_id) WHERE e.kind IN ('new', 'price_changed')});
}
sub check
{
	my ($day, $what) = @_;
	my @truth = truth_day("$tmp/m", $day, 'ads');
	my $in = join ',', map { "'$_->{source_ad_id}'" } @truth;
	is(q1("SELECT count(*) FROM otto.ad WHERE source_ad_id IN ($in)"), scalar @truth, "$what: no live ad lost");
	is(q1('SELECT count(*) - count(DISTINCT source_ad_id) FROM otto.ad'), '0', "$what: none duplicated");
	my %want = map { $_ => 1 } split /\n/, expected_events($day);
	my %got = map { $_ => 1 } split /\n/, stored_events();
	my @diff = ((map { "missing $_" } grep { !$got{$_} } sort keys %want), (map { "extra $_" } grep { !$want{$_} } sort keys %got));
	ok(%want && !@diff, "$what: the event log equals an uninterrupted crawl's (" . scalar(keys %want) . ' events)')
	  or diag(join "\n", @diff[0 .. ($#diff < 20 ? $#diff : 20)]);
	is(q1(q{SELECT count(*) FROM otto.frontier WHERE state <> 'done'}), '0', "$what: every URL done")
	  or diag(q1(q{SELECT url, state, attempts, last_error, due_at FROM otto.frontier WHERE state <> 'done'}));
}

# Day 0: kill -9 a crawler worker once a third of the ads are in.
q1(q{SELECT otto.crawl_start('sim')});
$node->poll_query_until('postgres', 'SELECT count(*) >= 500 FROM otto.ad') or die;
my $victim = q1(q{SELECT pid FROM pg_stat_activity WHERE application_name = 'otto crawler 0'});
my $offset = -s $node->logfile;
kill 'KILL', $victim;
ok($node->wait_for_log(qr/"otto crawler" \(PID $victim\) was terminated by signal 9/, $offset), 'crawler worker killed with -9');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'otto crawler'}),
	'the workers are back after the cluster reset');
my $at_kill = q1(q{SELECT count(*) FROM otto.frontier WHERE state = 'done'});
cmp_ok($at_kill, '<', 1500, "the kill came mid-crawl ($at_kill pages were done just after it)");
ok($node->wait_for_log(qr/otto crawler \d started\n.*requeued=[1-9]\d* \(URLs leased by workers that are gone\)/, $offset),
	'and give the dead workers\' leased URLs back to the queue');
ok($node->poll_query_until('postgres', $done), 'the crawl completes');
check(0, 'after kill -9');

# Day 1: immediate shutdown in the middle of the next sweep.
is(system("$sim advance $tmp/m >/dev/null 2>&1"), 0, 'the market lives a day');
my $pages = q1('SELECT count(*) FROM otto.page');
q1(q{SELECT otto.crawl_start('sim')});
$node->poll_query_until('postgres', "SELECT count(*) >= $pages + 500 FROM otto.page") or die;
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres', $done), 'after an immediate shutdown and restart the crawl completes');
check(1, 'after immediate shutdown');

system("$sim stop $tmp/m >/dev/null 2>&1");
$node->stop;
done_testing();
