# The ad monitor: a daily listing-mode sweep over simulated days (listing
# pages, plus only the ad pages that are new or show another price).  Ads the sweep does not
# reach are fetched once more when it ends (otto.sweep_check, run by the
# launcher); those that answer 404, 410 or redirect to a listing get exactly
# one removed event, and the removed ads equal the simulator's truth day by day.
# Cars that come back under a new id are found by their fingerprint
# (otto.relist_of) and logged as relisted, not new.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(truth_day crawl_node sim_site_sql $SWEEP_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 22000 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim up $tmp/m --seed 91 --ads 1000 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 1,000 ads served');

my $node = crawl_node('monitor');
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 16'));

# A day's sweep is over when it was checked and the ads it queued for a last look are done.
sub sweep
{
	q1(q{SELECT otto.crawl_start('sim')});
	$node->poll_query_until('postgres', $SWEEP_DONE) or die 'sweep did not finish';
	is(q1(q{SELECT sweep FROM otto.crawl_status WHERE site = 'sim'}), 'done', 'crawl_status says the sweep is done');
}

sweep();
my @ads0 = truth_day("$tmp/m", 0, 'ads');
is(q1(q{SELECT count(*) FROM otto.ad WHERE state = 'live'}), scalar @ads0, 'day 0: every ad live');
is(q1(q{SELECT count(*) FROM otto.ad_event WHERE kind = 'removed'}), '0', 'day 0: nothing removed');

for my $day (1 .. 6)
{
	is(system("$sim advance $tmp/m >/dev/null 2>&1"), 0, "the market lives day $day");
	my $before = q1('SELECT max(page_id) FROM otto.page');
	sweep();
	# listing-mode sweep: ad pages only for ads that are new, show another price, or were not listed
	my @today = grep { $_->{day} == $day } truth_day("$tmp/m", $day, 'events');
	is(q1("SELECT count(*) FROM otto.page WHERE page_id > $before AND url ~ '/auto-oglasi/[0-9]'"), scalar @today,
		"day $day: one ad page fetched per event of the day (" . scalar(@today) . '), none for unchanged ads');
	my @removed = grep { $_->{kind} eq 'removed' } truth_day("$tmp/m", $day, 'events');
	my $want = join ',', sort map { $_->{source_ad_id} } @removed;
	my $got = q1(q{SELECT string_agg(a.source_ad_id, ',' ORDER BY a.source_ad_id)
	                 FROM otto.ad_event e JOIN otto.ad a USING (ad_id) WHERE e.kind = 'removed'});
	is($got, $want, "day $day: the removed ads equal the truth's (" . scalar(@removed) . ')');
	is(q1(q{SELECT count(*) FROM otto.ad WHERE state = 'removed'}), scalar @removed, "day $day: each counted once");
	is(q1(q{SELECT count(*) FROM (SELECT ad_id FROM otto.ad_event WHERE kind = 'removed' GROUP BY 1 HAVING count(*) > 1) x}),
		'0', "day $day: no ad removed twice");
	my @live = truth_day("$tmp/m", $day, 'ads');
	my $in = join ',', map { "'$_->{source_ad_id}'" } @live;
	is(q1("SELECT count(*) FROM otto.ad WHERE state = 'live' AND source_ad_id IN ($in)"), scalar @live,
		"day $day: every live ad of the truth is live in Otto");
}
my @relists = grep { $_->{kind} eq 'relisted' } truth_day("$tmp/m", 6, 'events');
cmp_ok(scalar @relists, '>', 0, 'the truth has cars back under a new id (' . scalar(@relists) . ')');
is(q1(q{SELECT string_agg(a.source_ad_id || '<' || (e.details->>'relist_of'), ',' ORDER BY a.source_ad_id)
          FROM otto.ad_event e JOIN otto.ad a USING (ad_id) WHERE e.kind = 'relisted'}),
	join(',', map { "$_->{source_ad_id}<$_->{relist_of}" } sort { $a->{source_ad_id} cmp $b->{source_ad_id} } @relists),
	'each is relisted as the truth says, continuing the right ad');
is(q1(q{SELECT count(*) FROM otto.ad_event e WHERE kind = 'new' AND ad_id IN (SELECT ad_id FROM otto.ad_event WHERE kind = 'relisted')}),
	'0', 'and not counted as a new ad');
is(q1(q{SELECT string_agg(DISTINCT coalesce(details->>'http_status', '?') || (CASE WHEN details ? 'redirected_to' THEN '>' ELSE '' END), ' ')
          FROM otto.ad_event WHERE kind = 'removed'}), '200> 404 410', 'removals seen as 404, 410 and redirects to a listing');

system("$sim stop $tmp/m >/dev/null 2>&1");
$node->stop;
done_testing();
