# Soak: simulated days with the simulator's fault modes on (500s, 503s,
# resets, slow answers), the crawlers and the stream processor killed -9 at
# random moments (the postmaster restarts every backend) and the server
# stopped hard twice.  At the end: every ad of the truth stored once, the
# event log equal to the truth's, the market tables equal to a recompute,
# every alert of a saved search exactly once, and the workers' memory flat.
# Short by default (the test command); bench/soak.sh runs 30 days over 20,000
# ads (OTTO_SOAK_DAYS, OTTO_SOAK_ADS, OTTO_SOAK_SEED).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(truth_day crawl_node sim_site_sql poll_through_restarts $SWEEP_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 23000 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";
my $days = $ENV{OTTO_SOAK_DAYS} // 8;
my $ads = $ENV{OTTO_SOAK_ADS} // 1200;
my $seed = $ENV{OTTO_SOAK_SEED} // 83;
srand($seed);

is(system("$sim up $tmp/m --seed $seed --ads $ads --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, "market of $ads ads served");
is(system("$sim fault $tmp/m --rate 500=0.02 --rate 503=0.02 --rate reset=0.02 --rate slow=0.005 >/dev/null"), 0, 'fault modes on');
my $node = crawl_node('soak', qq{
otto.stream_naptime = '200ms'
otto.retry_base = '200ms'
otto.fetch_timeout = '20s'
restart_after_crash = on
});
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 16'));


# Private memory (kB of RSS not shared) of the largest of Otto's workers of
# each kind that took part in the day's sweep (started before its last page
# came in): one started by a kill after the sweep is small, having done nothing.
sub worker_memory
{
	my %kb;
	for (split /\n/, q1(q{SELECT pid || ' ' || backend_type FROM pg_stat_activity
	                        WHERE backend_type LIKE 'otto %' AND backend_start < (SELECT max(fetched_at) FROM otto.page)}))
	{
		my ($pid, $type) = split / /, $_, 2;
		open(my $f, '<', "/proc/$pid/smaps_rollup") or next;
		my $priv = 0;
		while (<$f>) { $priv += $1 if /^Private_(?:Clean|Dirty):\s+(\d+) kB/ }
		$kb{$type} = $priv if $priv > ($kb{$type} // 0);
	}
	return \%kb;
}

my @restart_days = (int($days / 3) || 1, int(2 * $days / 3) || 2);
my @memory;
my $kills = 0;
sub sweep
{
	my $day = shift;
	q1(q{SELECT otto.crawl_start('sim')});
	# one or two kills -9 at a random moment of the day's sweep: a crawler or the stream processor
	for (1 .. 1 + int(rand(2)))
	{
		select(undef, undef, undef, rand(1.5));
		my $type = rand() < 0.5 ? 'otto crawler' : 'otto stream';
		my $pid = q1(qq{SELECT pid FROM pg_stat_activity WHERE backend_type = '$type' ORDER BY random() LIMIT 1});
		next unless $pid && kill('KILL', $pid);
		$kills++;
		poll_through_restarts($node, q{SELECT count(*) FILTER (WHERE backend_type = 'otto crawler') = 2
		                                 AND count(*) FILTER (WHERE backend_type = 'otto stream') = 1 FROM pg_stat_activity})
		  or die "the workers did not come back after a kill of the $type";
	}
	if (grep { $_ == $day } @restart_days)
	{
		$node->stop('immediate');
		$node->start;
	}
	$node->poll_query_until('postgres', $SWEEP_DONE) or die "day $day: the sweep did not finish: "
	  . q1(q{SELECT json_agg(c) FROM otto.crawl_status c WHERE site = 'sim'});
	$node->poll_query_until('postgres', q{SELECT (SELECT lag_events = 0 FROM otto.stream_status)
	                                         AND (SELECT watermark FROM otto.alert_state) = (SELECT coalesce(max(event_id), 0) FROM otto.ad_event)})
	  or die "day $day: the stream and the alerts did not catch up";
	push @memory, [ $day, worker_memory() ];
}

sweep(0);
# After the first day, a buyer who wants to hear of every new BMW.
my ($uid, $token) = split /\|/, q1(q{SELECT user_id || '|' || token FROM otto.user_add('ana')});
q1(q{CREATE ROLE shop LOGIN IN ROLE otto_app});
$node->safe_psql('postgres', qq{SELECT otto.login('$token'); SELECT otto.search_save('bmw', '{"make": "BMW"}', '{new}')},
	extra_params => ['-U', 'shop']);
my $saved_at = q1('SELECT coalesce(max(event_id), 0) FROM otto.ad_event');
for my $day (1 .. $days)
{
	system("$sim advance $tmp/m >/dev/null 2>&1") == 0 or die "advance: $?";
	sweep($day);
}
cmp_ok($kills, '>=', $days, "workers killed -9 $kills times, the server stopped hard on days @restart_days");

# No ad lost or duplicated: every ad the truth ever listed is stored once, with its state.
my @truth_ads = truth_day("$tmp/m", $days, 'ads');
my @log = truth_day("$tmp/m", $days, 'events');
my %live = map { ($_->{source_ad_id} => 1) } @truth_ads;
is(q1(q{SELECT count(*) - count(DISTINCT source_ad_id) FROM otto.ad}), '0', 'no ad stored twice');
is(q1(q{SELECT string_agg(source_ad_id, ',' ORDER BY source_ad_id) FROM otto.ad WHERE state = 'live'}),
	join(',', sort keys %live), 'the live ads are the truth\'s (' . scalar(keys %live) . ')');

# The event log equals the truth's: the same removals, price changes and relists, in kind and ad.
my @kinds = qw(removed price_changed relisted);
for my $k (@kinds)
{
	my @want = sort map { $_->{source_ad_id} } grep { $_->{kind} eq $k && $_->{day} > 0 } @log;
	is(q1(qq{SELECT string_agg(a.source_ad_id, ',' ORDER BY a.source_ad_id) FROM otto.ad_event e JOIN otto.ad a USING (ad_id)
	         WHERE e.kind = '$k'}) // '', join(',', @want), "$k events equal the truth's (" . scalar(@want) . ')');
}
is(q1(q{SELECT count(*) FROM otto.ad a
          WHERE (SELECT e.kind FROM otto.ad_event e WHERE e.ad_id = a.ad_id ORDER BY e.event_id LIMIT 1)
                NOT IN ('new', 'relisted') OR (SELECT count(*) FROM otto.ad_event e WHERE e.ad_id = a.ad_id AND e.kind = 'new') > 1}),
	'0', 'every stored ad\'s history begins with one new (or relisted) event');

# The market tables equal a recompute from the log.
my $check = q1(q{SELECT otto.stream_check() - 'watermark'});
like($check, qr/"equal": true/, "market tables equal the recompute: $check");

# Every new BMW after the search was saved: one alert each, none else.
is(q1(qq{SELECT count(*) FROM otto.alert WHERE user_id = $uid}),
	q1(qq{SELECT count(*) FROM otto.ad_event e JOIN otto.ad a USING (ad_id)
	       WHERE e.kind = 'new' AND a.make = 'BMW' AND e.event_id > $saved_at}),
	'every new BMW since the search was saved alerted, once');
cmp_ok(q1(qq{SELECT count(*) FROM otto.alert WHERE user_id = $uid}), '>', 0, 'there are such alerts');
is(q1(qq{SELECT count(*) FROM otto.alert al JOIN otto.ad a USING (ad_id) WHERE al.user_id = $uid AND (a.make <> 'BMW' OR al.reason <> 'new')}),
	'0', 'and nothing else');

# Memory flat: a worker of one of the last days holds no more than one of the first (from day 1: day 0 is
# the first full crawl); a leak would grow with the days.
for my $type ('otto crawler', 'otto stream')
{
	my @m = grep { $_->[0] >= 1 && defined $_->[1]{$type} } @memory;
	my ($a, $b) = ($m[0][1]{$type}, $m[-1][1]{$type});
	cmp_ok($b, '<=', 1.5 * $a + 2048, "$type private memory flat: $a kB on day $m[0][0], $b kB on day $m[-1][0]"
		. ' (' . scalar(@m) . ' days measured)');
}

system("$sim stop $tmp/m >/dev/null 2>&1");
$node->stop;
done_testing();
