# Saved searches and alerts over simulated days, end to end: four users
# (three saved searches, one with liked ads) while the crawler sweeps the
# simulated market each day and the stream processor matches the ad log.
# The stream processor is killed -9 on day 3 and the server stopped hard on
# day 5.  At the end every user has exactly the alerts the simulator's truth
# calls for (one per user, ad and reason), a listener that was connected
# from the start heard only real alerts and each once, and a listener that
# connects late catches up from the table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(truth_day crawl_node sim_site_sql $SWEEP_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 23000 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim  = "$root/sim/otto-sim";
my $days = 7;

is(system("$sim up $tmp/m --seed 29 --ads 500 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 500 ads served');
my $node = crawl_node('alerts', "otto.stream_naptime = '200ms'\nrestart_after_crash = on\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 16'));

sub caught_up
{
	$node->poll_query_until('postgres', q{SELECT (SELECT watermark FROM otto.alert_state) = (SELECT coalesce(max(event_id), 0) FROM otto.ad_event)})
	  or die 'alerts did not catch up: ' . q1('SELECT row_to_json(a) FROM otto.alert_state a');
}
sub sweep
{
	my $started = shift;
	q1(q{SELECT otto.crawl_start('sim')}) unless $started;
	$node->poll_query_until('postgres', $SWEEP_DONE) or die 'sweep did not finish';
	caught_up();
}

# Day 0: the market as it is; then the users, their searches and likes.
sweep();
my %search = (
	ana => [q({"make": "BMW"}), '{new,price_drop,back_on_market}'],
	bob => [q({"fuel": "diesel", "body": "estate", "price_max": 15000}), '{new}'],
	cai => [q({"price_max": 5000}), '{price_drop,back_on_market}']);
my (%token, %uid);
for my $u (qw(ana bob cai dan))
{
	($uid{$u}, $token{$u}) = split /\|/, q1(qq{SELECT user_id || '|' || token FROM otto.user_add('$u')});
}
q1(q{CREATE ROLE shop LOGIN IN ROLE otto_app});
sub as_user
{
	my ($u, $sql) = @_;
	return $node->safe_psql('postgres', "SELECT otto.login('$token{$u}') IS NULL; $sql", extra_params => ['-U', 'shop']) =~ s/^f\n?//r;
}
as_user($_, qq{SELECT otto.search_save('$_', '$search{$_}[0]', '$search{$_}[1]')}) for sort keys %search;
my @liked = (truth_day("$tmp/m", 0, 'ads'))[map { $_ * 10 } 0 .. 24];
my %liked = map { ($_->{source_ad_id} => 1) } @liked;
as_user('dan', join ';', map { "SELECT otto.like_ad(ad_id) FROM otto.ad WHERE source_ad_id = '$_->{source_ad_id}'" } @liked);
is(as_user('dan', 'SELECT count(*) FROM otto.user_like'), '25', 'dan likes 25 ads');

# A listener from the start (until the hard stop on day 5).
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN otto_alert');
my %heard;
my $heard_twice = 0;
sub listen_now
{
	my $out = $listener->query_safe('SELECT 1');
	while ($out =~ /Asynchronous notification "otto_alert" with payload "(.*?)" received/g)
	{
		my ($u, $id) = $1 =~ /"user_id": (\d+), "alert_id": (\d+)/ or next;
		$heard_twice++ if exists $heard{$id};
		$heard{$id} = $u;
	}
}

for my $day (1 .. $days)
{
	is(system("$sim advance $tmp/m >/dev/null 2>&1"), 0, "day $day");
	if ($day == 3)
	{
		# kill -9 the stream processor once the day's events begin to arrive
		my $last = q1(q{SELECT coalesce(max(event_id), 0) FROM otto.ad_event});
		q1(q{SELECT otto.crawl_start('sim')});
		$node->poll_query_until('postgres', "SELECT max(event_id) > $last FROM otto.ad_event") or die 'no events on day 3';
		my $pid = q1(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'otto stream'});
		ok($pid && kill('KILL', $pid), "day 3: stream processor (pid $pid) killed -9 while events arrive");
		$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'otto stream'})
		  or die 'no stream processor after the crash';
		$listener = $node->background_psql('postgres');    # the crash reset every connection
		$listener->query_safe('LISTEN otto_alert');
		sweep(1);
	}
	elsif ($day == 5)
	{
		my $last = q1(q{SELECT coalesce(max(event_id), 0) FROM otto.ad_event});
		q1(q{SELECT otto.crawl_start('sim')});
		$node->poll_query_until('postgres', "SELECT max(event_id) > $last FROM otto.ad_event") or die 'no events on day 5';
		$node->stop('immediate');
		$node->start;
		pass('day 5: server stopped hard mid-sweep and started again');
		$listener = undef;
		sweep(1);
	}
	else
	{
		sweep();
	}
	listen_now() if $listener;
}

# What the truth calls for: (user, source ad id, reason), once each.
my %want;
my @log = truth_day("$tmp/m", $days, 'events');    # the whole log, each event with its day
for my $day (1 .. $days)
{
	my %ad = map { ($_->{source_ad_id} => $_) } truth_day("$tmp/m", $day, 'ads');
	for my $e (grep { $_->{day} == $day } @log)
	{
		my $reason = $e->{kind} eq 'new' ? 'new' : $e->{kind} eq 'relisted' ? 'back_on_market'
		  : ($e->{kind} eq 'price_changed' && $e->{new_price_eur} < $e->{old_price_eur}) ? 'price_drop' : next;
		my $a = $ad{ $e->{source_ad_id} } or next;
		my %match = (
			ana => $a->{make} eq 'BMW',
			bob => ($a->{fuel} // '') eq 'diesel' && ($a->{body} // '') eq 'estate' && $a->{price_eur} <= 15000,
			cai => $a->{price_eur} <= 5000,
			dan => $reason ne 'new' && ($liked{ $e->{source_ad_id} } || ($e->{relist_of} && $liked{ $e->{relist_of} })));
		for my $u (sort keys %match)
		{
			next unless $match{$u};
			next if $search{$u} && $search{$u}[1] !~ /\b$reason\b/;
			$want{"$u|$e->{source_ad_id}|$reason"} = 1;
		}
	}
}
cmp_ok(scalar(keys %want), '>=', 20, 'the truth calls for alerts (' . scalar(keys %want) . ')');
for my $u (qw(ana bob cai dan))
{
	cmp_ok(scalar(grep { /^$u\|/ } keys %want), '>', 0, "$u is owed some");
}

my %got = map { ($_ => 1) } split /\n/, q1(q{SELECT u.name || '|' || a.source_ad_id || '|' || al.reason
  FROM otto.alert al JOIN otto.app_user u USING (user_id) JOIN otto.ad a USING (ad_id)});
my @missing = grep { !$got{$_} } sort keys %want;
my @extra = grep { !$want{$_} } sort keys %got;
ok(!@missing && !@extra, 'every user has exactly the alerts the truth calls for, crashes and all')
  or diag(join "\n", (map { "missing $_" } @missing[0 .. ($#missing < 15 ? $#missing : 15)]),
	(map { "extra $_" } @extra[0 .. ($#extra < 15 ? $#extra : 15)]));
is(q1(q{SELECT count(*) FROM otto.alert}), scalar(keys %got), 'one alert per user, ad and reason');

# The listener heard real alerts, each once, for the user they are for.
my %row = map { split /\|/ } split /\n/, q1(q{SELECT alert_id || '|' || user_id FROM otto.alert});
cmp_ok(scalar(keys %heard), '>', 0, 'the listener heard alerts (' . scalar(keys %heard) . ')');
is(scalar(grep { !defined $row{$_} || $row{$_} ne $heard{$_} } keys %heard), 0, 'each one a stored alert of that user');
is($heard_twice, 0, 'and none twice');

# A listener that connects late catches up from the table, user by user.
for my $u (qw(ana bob cai dan))
{
	my $seen = (sort { $b <=> $a } grep { $heard{$_} eq $uid{$u} } keys %heard)[0] // 0;
	my $caught = as_user($u, qq{SELECT count(*) FROM jsonb_array_elements(otto.my_alerts($seen, 1000)->'alerts')});
	my $before = as_user($u, qq{SELECT count(*) FROM otto.alert WHERE alert_id <= $seen});
	is($caught + $before, scalar(grep { /^$u\|/ } keys %got), "$u: heard up to alert $seen, then caught up from the table");
	is(as_user($u, q{SELECT count(DISTINCT user_id) FROM otto.alert}), '1', "$u reads only their own alerts");
}

system("$sim stop $tmp/m >/dev/null 2>&1");
$node->stop;
done_testing();
