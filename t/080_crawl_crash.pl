# Crashes in the middle of a crawl.  Day 0: a crawler worker is killed with
# kill -9 (the postmaster resets the cluster); day 1: the server is shut down
# with -m immediate and started again; day 2: a worker is killed with kill -9
# while it stores a batch (its transaction open, pages of the batch written).
# Each time the crawl completes with no ad lost and none duplicated, and the
# event log equals what an uninterrupted crawl writes: one new event per ad,
# the truth's price cuts.  Full-mode sweeps (every ad page again), so a sweep
# is long enough to interrupt.
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

# Day 2: kill -9 a worker in the middle of storing a batch.  The kill is
# aimed at a worker whose batch transaction has run for a millisecond; its
# crash record, read after the restart, shows it died with a batch of pages
# in hand (else the batch ended first and the kill is tried again).
is(system("$sim advance $tmp/m >/dev/null 2>&1"), 0, 'the market lives another day');
$pages = q1('SELECT count(*) FROM otto.page');
q1(q{SELECT otto.crawl_start('sim')});
$node->poll_query_until('postgres', "SELECT count(*) >= $pages + 300 FROM otto.page") or die;
my ($batch, $others);
for my $try (1 .. 5)
{
	$offset = -s $node->logfile;
	$victim = q1(q{DO $$ BEGIN
	  FOR i IN 1 .. 20000 LOOP
	    PERFORM pg_stat_clear_snapshot();
	    PERFORM FROM pg_stat_activity WHERE backend_type = 'otto crawler' AND state = 'active'
	       AND query LIKE '%otto.ingest_site_pages%' AND xact_start < clock_timestamp() - interval '1 ms';
	    EXIT WHEN FOUND;
	    PERFORM pg_sleep(0.0005);
	  END LOOP; END $$;
	  SELECT pid FROM pg_stat_activity WHERE backend_type = 'otto crawler' AND state = 'active'
	     AND query LIKE '%otto.ingest_site_pages%' LIMIT 1});
	next unless $victim;
	kill 'KILL', $victim;
	$node->wait_for_log(qr/"otto crawler" \(PID $victim\) was terminated by signal 9/, $offset) or die;
	$node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'otto crawler'}) or die;
	$node->wait_for_log(qr/otto crawler \d started/, $offset) or die;
	($batch, $others) = slurp_file($node->logfile, $offset) =~
	  /a crawler worker died while processing (\S+?)(?: and (\d+) other pages of its batch)?;/;
	last if $others;
}
ok($others, "a worker was killed while it stored a batch (of " . (($others // 0) + 1) . ' pages)');
ok($node->poll_query_until('postgres', $done), 'the crawl completes');
like(q1(qq{SELECT state || ' ' || crashes FROM otto.frontier WHERE url = '$batch'}), qr/^done 0$/,
	'a page of the killed batch was stored again, alone, and is done');
check(2, 'after kill -9 mid-batch');

system("$sim stop $tmp/m >/dev/null 2>&1");
$node->stop;
done_testing();
