# The answers scored against the simulator's truth (bench/answers.sql, the
# short version of bench/answers.sh): a market of 1,500 ads crawled by
# Otto's workers, a sweep a day for 6 simulated days (Otto's clock moved back
# a day between sweeps, as the demo does), a price model trained, then every
# answer scored against each live ad's hidden value and each model's sale
# rate.  What it asserts would fail if an answer broke: good deals richer in
# truly underpriced cars than the market, verdicts that agree with the
# truth's class at least as often as calling every price fair, fair values
# near the hidden value with a range that holds, a fastest-selling ranking
# in the order of the simulator's own sales per ad-day, and the stream's
# sums equal to a recompute after the clock moved.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(crawl_node sim_site_sql $SWEEP_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 23100 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";
my $days = 6;

is(system("$sim up $tmp/m --seed 29 --ads 1500 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'a market of 1,500 ads served');
my $node = crawl_node('answers', "otto.stream_naptime = '200ms'\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 16'));

sub sweep
{
	q1(q{SELECT otto.crawl_start('sim')});
	$node->poll_query_until('postgres', $SWEEP_DONE) or die 'sweep did not finish';
	$node->poll_query_until('postgres', 'SELECT lag_events = 0 FROM otto.stream_status') or die 'the stream did not catch up';
}
sweep();
for my $day (1 .. $days)
{
	$node->safe_psql('postgres', '', extra_params => [ '-v', "by=1 day", '-f', "$root/sim/shift_clock.sql" ]);
	system("$sim advance $tmp/m >/dev/null 2>&1") == 0 or die "advance: $?";
	sweep();
}
pass("$days simulated days crawled");
# the clock moved back each day: the stream's sums (the live ads' listing days among them) moved with it
like(q1(q{SELECT otto.stream_check()}), qr/"equal": true/, 'the market tables equal the recompute after the shifted days');
ok(q1('SELECT otto.fair_value_train() IS NOT NULL'), 'a price model trained');
cmp_ok(q1('SELECT otto.ad_values_refresh()'), '>=', 1000, 'and the live ads valued by it');

my $truth = `$sim truth $tmp/m`;
chomp $truth;
# a market this small leaves Otto less sure of every price: good deals listed from 50% sure
my ($rc, $out, $err) = $node->psql('postgres', '', extra_params => [ '-qXtA', '-F', '|', '-v', "truth=$truth", '-v', 'min_sold=3', '-v', 'min_sure=50',
	'-f', "$root/bench/answers.sql" ]);
is($rc, 0, 'bench/answers.sql scores every answer') or diag($err);
my %f = map { my @c = split /\|/; ($c[0] => $c[1]) } grep { /\|/ } split /\n/, $out;
note("$_: $f{$_}") for sort keys %f;

cmp_ok($f{'good_deals(7 days, 50): deals listed'}, '>=', 5, "good_deals('7 days', 50) lists deals");
my $base = $f{'base: live ads at least 5% under their true value, %'};
cmp_ok($f{'good_deals(7 days, 50): precision %'}, '>=', 1.5 * $base,
	"good deals are truly underpriced ($f{'good_deals(7 days, 50): precision %'}%) far more often than the market's ads ($base%)");
my $above = $f{'base: live ads priced above their true value, %'};
cmp_ok($f{'good_deals(7 days, 50): false deals %'}, '<=', 0.6 * $above,
	"and priced above their true value ($f{'good_deals(7 days, 50): false deals %'}%) far less often than the market's ads ($above%)");
cmp_ok($f{'price verdicts: class agrees with the truth\'s, % of live ads'}, '>=',
	$f{'base: verdicts agreeing if every price were called fair, %'} - 5,
	'verdicts agree with the truth\'s class about as often as the best constant guess, or more');
cmp_ok($f{'fair value of live ads: MdAPE % against the hidden value'}, '<', 20, 'fair values are near the hidden value');
my $holds = $f{'fair value of live ads: 80% range holds the asking price, %'};
ok($holds >= 70 && $holds <= 90, "the 80% range holds $holds% of the asking prices");
cmp_ok($f{'fastest_selling(): models listed'}, '>=', 5, 'fastest_selling ranks models from the crawl\'s sales');
cmp_ok($f{'fastest_selling(): Spearman with the truth\'s sales per ad-day'}, '>=', 0.8,
	'in the order of the sales per ad-day that happened in the simulator');

$node->stop;
system("$sim stop $tmp/m >/dev/null 2>&1");
done_testing();
