# The crawler against a hostile server: the simulator's fault modes on (3%
# 500s, 5% connection resets, 1% slow pages, and per path a redirect loop,
# an oversize page, a wrong content type, a truncated and a windows-1250 ad
# page).  The crawl still finishes, every ad of the truth is stored, and each
# fault is in the page log with its kind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(truth_day crawl_node sim_site_sql $CRAWL_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 21000 + int(rand(500));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim up $tmp/m --seed 71 --ads 800 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 800 ads served');
my @truth = truth_day("$tmp/m", 0, 'ads');
my ($truncated, $cp1250) = map { $_->{url} =~ m{^http://[^/]+(/.*)$} } @truth[10, 20];
is(system("$sim fault $tmp/m --rate 500=0.03 --rate reset=0.05 --rate slow=0.01 --path /auto-oglasi/audi=loop"
	  . " --path /auto-oglasi/bmw=oversize --path /auto-oglasi/fiat=wrong_type"
	  . " --path $truncated=truncated --path $cp1250=non_utf8 >/dev/null"), 0, 'fault modes on');

my $node = crawl_node('faults', qq{
otto.retry_base = '200ms'
otto.fetch_timeout = '20s'
otto.max_page_bytes = '2MB'
});
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 16') . qq{
-- the make listings are not linked from the pagination: queue the faulty ones by hand
INSERT INTO otto.frontier (site_id, url, kind)
SELECT site_id, 'http://127.0.0.1:$port/auto-oglasi/' || m, 'listing' FROM otto.site, unnest(ARRAY['audi', 'bmw', 'fiat']) m
 WHERE name = 'sim';
SELECT otto.crawl_start('sim');});
ok($node->poll_query_until('postgres', $CRAWL_DONE), 'the crawl finishes');

my $live = scalar @truth;
q1(q{CREATE TABLE truth (j jsonb)});
q1(qq{COPY truth FROM '$tmp/m/truth/day-000/ads.jsonl' CSV QUOTE e'\\x01' DELIMITER e'\\x02'});
is(q1(q{SELECT count(*) FROM truth t JOIN otto.ad a ON a.source_ad_id = t.j->>'source_ad_id'}), $live,
	"every ad of the truth is stored ($live)")
  or diag(q1(q{SELECT f.url, f.state, f.last_error, f.depth FROM truth t LEFT JOIN otto.ad a ON a.source_ad_id = t.j->>'source_ad_id'
                 LEFT JOIN otto.frontier f ON f.url = t.j->>'url' WHERE a.ad_id IS NULL}));
is(q1('SELECT count(*) - count(DISTINCT source_ad_id) FROM otto.ad'), '0', 'none twice');

# Each fault, recorded with its kind.
my %kinds = map { split /\|/ } split /\n/, q1(q{SELECT coalesce(error_kind, 'ok') || '|' || count(*) FROM otto.page GROUP BY error_kind});
cmp_ok($kinds{http} // 0, '>', 0, '500s recorded as http (' . ($kinds{http} // 0) . ')');
# libcurl silently retries a request whose reused connection was closed, so
# only some resets reach the page log
cmp_ok($kinds{reset} // 0, '>', 0, 'resets recorded as reset (' . ($kinds{reset} // 0) . ')');
is(q1(qq{SELECT error_kind || ' ' || state FROM otto.page p JOIN otto.frontier f USING (site_id, url)
         WHERE url = 'http://127.0.0.1:$port/auto-oglasi/audi' ORDER BY page_id DESC LIMIT 1}), 'too_many_redirects failed', 'a redirect loop: too_many_redirects, given up');
is(q1(qq{SELECT error_kind || ' ' || state FROM otto.page p JOIN otto.frontier f USING (site_id, url)
         WHERE url = 'http://127.0.0.1:$port/auto-oglasi/bmw' ORDER BY page_id DESC LIMIT 1}), 'too_large failed', 'an oversize page: too_large, aborted');
is(q1(qq{SELECT count(*) FROM otto.page WHERE url = 'http://127.0.0.1:$port/auto-oglasi/bmw' AND error_kind = 'too_large'
         AND body_bytes IS NULL AND wire_bytes <= 2 * 1024 * 1024}), '1', 'no more than max_page_bytes was read of it');
is(q1(qq{SELECT error_kind FROM otto.page WHERE url = 'http://127.0.0.1:$port/auto-oglasi/fiat' ORDER BY page_id DESC LIMIT 1}), 'content_type',
	'a page that is not HTML: content_type');
cmp_ok(q1(q{SELECT max(elapsed_ms) FROM otto.page WHERE status = 200}), '>', 400, 'slow pages are waited for');
is(q1(q{SELECT count(*) FROM otto.frontier WHERE state = 'failed' AND last_error NOT LIKE 'too_%'
          AND last_error NOT LIKE 'content_type%'}), '0', 'transient faults are retried until they succeed');
cmp_ok(q1(q{SELECT count(*) FROM otto.frontier f JOIN otto.page p USING (site_id, url)
             WHERE p.error_kind IN ('http', 'reset') AND f.state = 'done'}), '>', 0, 'URLs that failed once were fetched on a retry');

# The windows-1250 page is converted: its ad equals the truth.
my ($id) = $cp1250 =~ m{/auto-oglasi/(\d+)/};
is(q1(qq{SELECT count(*) FROM otto.ad a JOIN truth t ON t.j->>'source_ad_id' = a.source_ad_id
  WHERE a.source_ad_id = '$id' AND a.title = t.j->>'title' AND a.location = t.j->>'location'
    AND a.price_eur IS NOT DISTINCT FROM (t.j->>'price_eur')::int}), '1', 'a windows-1250 page is decoded correctly');
# The truncated page keeps what it had: the ad is stored, from the part that arrived.
($id) = $truncated =~ m{/auto-oglasi/(\d+)/};
is(q1(qq{SELECT count(*) FROM otto.ad WHERE source_ad_id = '$id'}), '1', 'a truncated page still yields its ad');

system("$sim stop $tmp/m >/dev/null 2>&1");

# A host whose robots.txt is unreachable (503) and was never fetched is not
# crawled for a minute; its URLs wait, and its sweep is not over (nor checked
# for removed ads) until they have been fetched.
my $port2 = $port + 500;
is(system("$sim up $tmp/down --seed 72 --ads 40 --port $port2 --crawl-delay 0 >/dev/null 2>&1"
	  . " && $sim fault $tmp/down --path /robots.txt=503 >/dev/null"), 0, 'a second market, its robots.txt answering 503');
my $down = "SELECT sweep FROM otto.crawl_status WHERE site = 'down'";
my $offset = -s $node->logfile;
q1(sim_site_sql('down', "127.0.0.1:$port2", 'true', 'crawl_delay_ms = 0') . q{SELECT otto.crawl_start('down')});
ok($node->wait_for_log(qr/robots\.txt of 127\.0\.0\.1:$port2 is unreachable; not crawling the host for a minute/, $offset),
	'the crawler says it does not crawl the host for a minute');
my @seen;
for (1 .. 15) { push @seen, q1($down); select(undef, undef, undef, 0.2) }
is(join(' ', grep { $_ ne 'confirming' && $_ ne 'sweeping' } @seen), '', "while robots.txt is unreachable the sweep is not over (@seen[0, -1])");
is(q1(q{SELECT count(*) FROM otto.site WHERE name = 'down' AND sweep_checked_at IS NOT NULL}), '0', 'nor checked for removed ads');
is(system("$sim fault $tmp/down --clear >/dev/null"), 0, 'robots.txt answers again');
ok($node->poll_query_until('postgres', "SELECT ($down) = 'done'"), 'the crawler asks again within a minute and the sweep ends');
is(q1(q{SELECT count(*) FROM otto.ad a JOIN otto.site s USING (site_id) WHERE s.name = 'down'}), scalar(truth_day("$tmp/down", 0, 'ads')),
	'with every ad of the market stored');

# With a stored copy, however old, an unreachable robots.txt does not stop the
# crawl (RFC 9309 2.4): the copy serves and robots.txt is asked again later.
q1(q{ALTER SYSTEM SET otto.robots_max_age = '1s'});
is(system("$sim fault $tmp/down --path /robots.txt=503 >/dev/null"), 0, 'robots.txt answers 503 again');
$node->restart;    # the crawlers forget the copy they hold and find the stored one stale
sleep 2;           # (stale: older than the 1 s robots_max_age, which the copy fetched just now is not yet)
$offset = -s $node->logfile;
q1(q{SELECT otto.crawl_start('down')});
ok($node->wait_for_log(qr/robots\.txt of 127\.0\.0\.1:$port2 is unreachable; keeping to the copy fetched at/, $offset),
	'a stale stored copy is kept to while robots.txt is unreachable');
ok($node->poll_query_until('postgres', "SELECT ($down) = 'done'"), 'and the sweep goes on to its end');
unlike(slurp_file($node->logfile, $offset), qr/not crawling the host/, 'without pausing the host');
system("$sim stop $tmp/down >/dev/null 2>&1");
$node->stop;
done_testing();
