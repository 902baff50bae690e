# otto-web in a real browser over a crawled simulated market: the market (600
# ads) is crawled by Otto's workers, otto-web serves it as the login role
# otto_web (otto_app and otto_chat, not a superuser), and test/web's
# browser test (chromium through puppeteer-core, axe-core on every page) signs
# in, searches, compares, likes, saves a search and sees alerts arrive live
# when the simulator advances a day, and again after a reconnect.  Each of its
# tests is one assertion here; its screenshots are kept in the test's log
# directory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(crawl_node sim_site_sql $SWEEP_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 23500 + int(rand(500));
my $web_port = 24000 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";
-d "$root/test/web/node_modules/puppeteer-core" or die "test/web needs npm ci (scripts/test runs it)";

is(system("$sim up $tmp/m --seed 31 --ads 600 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 600 ads served');
my $node = crawl_node('web', "otto.stream_naptime = '200ms'\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 16'));
q1(q{CREATE ROLE otto_web LOGIN IN ROLE otto_app, otto_chat});

my $caught_up = q{SELECT (SELECT watermark FROM otto.alert_state) = (SELECT coalesce(max(event_id), 0) FROM otto.ad_event)};
q1(q{SELECT otto.crawl_start('sim')});
$node->poll_query_until('postgres', $SWEEP_DONE) or die 'first sweep did not finish';
$node->poll_query_until('postgres', $caught_up) or die 'alerts did not catch up';
my $token = q1(q{SELECT token FROM otto.user_add('browser', 'en')});

# What the browser test runs to let the market live a day: advance, sweep, alerts written.
my ($host, $pgport) = ($node->host, $node->port);
open my $adv, '>', "$tmp/advance.sh" or die;
print $adv <<SH;
set -e
"$sim" advance "$tmp/m" >/dev/null
psql -qXtA -h '$host' -p $pgport -d postgres -c "SELECT otto.crawl_start('sim')" >/dev/null
for i in \$(seq 600); do
    [ "\$(psql -qXtA -h '$host' -p $pgport -d postgres -c "$SWEEP_DONE")" = t ] &&
    [ "\$(psql -qXtA -h '$host' -p $pgport -d postgres -c "$caught_up")" = t ] && exit 0
    sleep 0.5
done
echo 'the day was not crawled in 300 s' >&2; exit 1
SH
close $adv;

my $web_log = "$PostgreSQL::Test::Utils::log_path/otto-web.log";
my $pid = fork() // die "fork: $!";
if ($pid == 0)
{
	open STDOUT, '>>', $web_log or die;
	open STDERR, '>&', \*STDOUT or die;
	$ENV{PGHOST} = $host;
	$ENV{PGPORT} = $pgport;
	$ENV{PGUSER} = 'otto_web';
	$ENV{PGDATABASE} = 'postgres';
	$ENV{OTTO_WEB_PORT} = $web_port;
	exec('otto-web') or die "exec otto-web: $!";
}
my $up = 0;
for (1 .. 100)
{
	last if ($up = system("curl -sf http://127.0.0.1:$web_port/healthz >/dev/null") == 0);
	select(undef, undef, undef, 0.1);
}
ok($up, "otto-web serves http://127.0.0.1:$web_port/ as otto_web");

my $shots = "$PostgreSQL::Test::Utils::log_path/web-screenshots";
local $ENV{OTTO_WEB_URL} = "http://127.0.0.1:$web_port";
local $ENV{OTTO_TEST_USER_TOKEN} = $token;
local $ENV{OTTO_ADVANCE} = "bash $tmp/advance.sh";
local $ENV{OTTO_SHOTS} = $shots;
my $out = `cd $root/test/web && node --test --test-reporter=tap --test-concurrency=1 browser.test.mjs 2>&1`;
my $rc = $? >> 8;
note($out);
my $n = 0;
while ($out =~ /^(not ok|ok) \d+ - (.*)$/mg)
{
	ok($1 eq 'ok', "browser: $2");
	$n++;
}
cmp_ok($n, '>=', 10, "the browser test ran its tests (exit $rc); screenshots in $shots");

# otto-web connected as otto_web and never as a superuser
my $roles = q1(q{SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name LIKE 'otto-web%'});
is($roles, 'otto_web', 'otto-web connects as otto_web');
ok(kill('TERM', $pid), 'otto-web stopped');
waitpid($pid, 0);
is($? >> 8, 0, 'otto-web exited cleanly on SIGTERM');
system("$sim stop $tmp/m >/dev/null 2>&1");
done_testing();
