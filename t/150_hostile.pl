# Hostile input against a live cluster.
#
# 1. A poison page: otto.inject_crash_url makes the crawler abort while it
#    processes one ad page (as a parse bug would).  The server restarts at
#    most twice for it; then the URL is quarantined (frontier state, a page
#    log row of kind crash, a metric, a WARNING) and every other ad of the
#    market is stored.
# 2. Redirects: a server answering with two Location headers, the first off
#    the site, cannot lead the crawler off the site (the off-site server is
#    never asked), and the redirect libcurl follows is the one checked.
# 3. Mutated real pages (control characters, entities, NUL-like and huge
#    values, deep nesting, unclosed quotes and scripts, splices, cuts) fed
#    through parse_ad, parse_listing, extract_links and ingest_page, and in
#    batches through ingest_site_pages, for OTTO_HOSTILE_SECONDS (60): no
#    backend ever dies and every call returns within its statement_timeout.
use strict;
use warnings;
use Encode qw(decode encode);
use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use OttoSim qw(truth_day crawl_node sim_site_sql csv poll_through_restarts $CRAWL_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 22000 + int(rand(400));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

# ---------------------------------------------------------------- 1. poison page
is(system("$sim up $tmp/m --seed 151 --ads 400 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 400 ads served');
my @truth = truth_day("$tmp/m", 0, 'ads');
my $poison = $truth[7]{source_ad_id};
# (wal_level as in production: minimal skips WAL for relations made in the
# same transaction, which crash recovery with fsync off does not survive)
my $node = crawl_node('hostile', qq{
restart_after_crash = on
wal_level = replica
otto.inject_crash_url = '/auto-oglasi/$poison/'
});
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 8'));
q1(q{SELECT otto.crawl_start('sim')});
ok(poll_through_restarts($node, $CRAWL_DONE . q{ AND EXISTS (SELECT FROM otto.frontier WHERE state = 'quarantined')}),
	'the crawl finishes');
my $log = slurp_file($node->logfile);
my $crashes = () = $log =~ /terminated by signal 6/g;
is($crashes, 2, 'the poison page restarted the server exactly twice');
like($log, qr/WARNING:.*\/auto-oglasi\/$poison\/.*killed the worker 2 times: quarantined/, 'a WARNING names the page');
is(q1(qq{SELECT state || ' ' || crashes || ' ' || (last_error LIKE 'crash: %') FROM otto.frontier WHERE url LIKE '%/auto-oglasi/$poison/%'}),
	'quarantined 2 true', 'its frontier row is quarantined, with the reason');
is(q1(qq{SELECT count(*) FROM otto.page WHERE url LIKE '%/auto-oglasi/$poison/%' AND error_kind = 'crash'}), '1',
	'the page log has a row of kind crash');
is(q1(q{SELECT value FROM otto.fetch_counters() WHERE counter = 'errors' AND label = 'crash'}), '1', 'and the crash counter says so');
is(q1(q{SELECT quarantined FROM otto.crawl_status WHERE site = 'sim'}), '1', 'crawl_status shows it');
my $in = join ',', map { "'$_->{source_ad_id}'" } @truth;
is(q1("SELECT count(*) FROM otto.ad WHERE source_ad_id IN ($in)"), scalar(@truth) - 1, 'every other ad of the market is stored');
is(q1(q{SELECT count(*) FROM otto.frontier WHERE state NOT IN ('done', 'quarantined')}), '0', 'every other URL is done');
# a second sweep: the page stays quarantined, the server is not restarted again
q1(q{SELECT otto.crawl_start('sim')});
ok($node->poll_query_until('postgres', q{SELECT sweep = 'done' FROM otto.crawl_status WHERE site = 'sim'}), 'a second sweep finishes');
$log = slurp_file($node->logfile);
is(scalar(() = $log =~ /terminated by signal/g), 2, 'with no further crash');
system("$sim stop $tmp/m >/dev/null 2>&1");

# ---------------------------------------------------------------- 2. redirects
# A server on 127.0.0.1 whose listing redirects with two Location headers
# (the first off the site), and the off-site server that must never be asked.
my $offsite = IO::Socket::INET->new(LocalAddr => '127.0.0.2', LocalPort => 0, Listen => 5, ReuseAddr => 1) or die "listen: $!";
my $site = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5, ReuseAddr => 1) or die "listen: $!";
my ($oport, $sport) = ($offsite->sockport, $site->sockport);
pipe(my $hits_r, my $hits_w) or die;
my $pid = fork // die;
if ($pid == 0)
{
	# serve both sockets until killed; off-site requests are reported on the pipe
	my $sel = IO::Select->new($site, $offsite);
	while (my @ready = $sel->can_read)
	{
		for my $l (@ready)
		{
			my $c = $l->accept or next;
			my $req = '';
			while (my $line = <$c>) { $req .= $line; last if $line =~ /^\r?\n$/ }
			my ($path) = $req =~ /^GET (\S+)/;
			if ($l == $offsite) { syswrite $hits_w, "hit $path\n"; print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"; }
			elsif ($path eq '/robots.txt') { print $c "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"; }
			elsif ($path =~ m{^/auto-oglasi/pretraga\?page=1}) {
				print $c "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:$oport/stolen\r\nLocation: /auto-oglasi/pretraga?page=2\r\n"
				  . "Content-Length: 0\r\nConnection: close\r\n\r\n"; }
			elsif ($path =~ m{^/auto-oglasi/pretraga\?page=3}) {
				print $c "HTTP/1.1 302 Found\r\nLocation: /auto-oglasi/pretraga?page=4\r\nLocation: http://127.0.0.2:$oport/second\r\n"
				  . "Content-Length: 0\r\nConnection: close\r\n\r\n"; }
			else { my $b = "<html><body>empty listing</body></html>";
				print $c "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " . length($b) . "\r\nConnection: close\r\n\r\n$b"; }
			close $c;
		}
	}
	exit 0;
}
close $hits_w;
q1(q{SELECT otto.crawl_stop('sim')} . ';' . sim_site_sql('redir', "127.0.0.1:$sport", 'true', 'crawl_delay_ms = 0') . qq{
UPDATE otto.site SET seed_urls = ARRAY['http://127.0.0.1:$sport/auto-oglasi/pretraga?page=1', 'http://127.0.0.1:$sport/auto-oglasi/pretraga?page=3']
 WHERE name = 'redir';
SELECT otto.crawl_start('redir');});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM otto.frontier f JOIN otto.site s USING (site_id)
  WHERE s.name = 'redir' AND f.state IN ('done', 'refused', 'failed')}), 'both redirects settled');
like(q1(qq{SELECT state || ': ' || last_error FROM otto.frontier WHERE url LIKE '%:$sport/auto-oglasi/pretraga?page=1%'}),
	qr/^refused: refused: redirect to http:\/\/127\.0\.0\.2:$oport\/stolen leaves the site/,
	'the first of two Location headers (the one libcurl follows) leads off the site: refused');
is(q1(qq{SELECT state || ' ' || last_status FROM otto.frontier WHERE url LIKE '%:$sport/auto-oglasi/pretraga?page=3%'}), 'done 200',
	'an on-site first Location is followed');
kill 'TERM', $pid;
waitpid $pid, 0;
my $hits = join '', <$hits_r>;
is($hits, '', 'the off-site server was never asked');

# ---------------------------------------------------------------- 3. mutated pages
my @pages = map { decode('UTF-8', slurp_file($_)) } glob("$root/../shared/data/real/html/*.html");
ok(@pages >= 5, scalar(@pages) . ' real pages to mutate');
srand($ENV{OTTO_HOSTILE_SEED} // 151);
my $seconds = $ENV{OTTO_HOSTILE_SECONDS} // 60;
my @mutations = (
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = chr(1 + int(rand(31))) for 1 .. 1 + int(rand(50)); $s },
	sub { my $s = shift; my @n = (0, 1, 2, 8, 11, 27, 31, 127, 0xD800, 0xFFFE, 0x110000, 99999999999);
		  substr($s, int(rand(length $s)), 0) = sprintf('&#%s;', $n[rand @n]) for 1 .. 1 + int(rand(20)); $s },
	sub { my $s = shift; my $at = int(rand(length $s)); substr($s, $at, int(rand(5000)), ''); $s },
	sub { my $s = shift; my $at = int(rand(length $s)); my $chunk = substr($s, $at, 1 + int(rand(4000)));
		  substr($s, $at, 0) = $chunk x (1 + int(rand(50))); $s },
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = '<div class="divider">' x (1000 + int(rand(20000))); $s },
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = '<a href="' . ('x' x (100000 + int(rand(500000)))); $s },
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = '<script>' . ('dataLayer.push({"object_uid": 1, ' x (1000 + int(rand(20000)))); $s },
	sub { my $s = shift; substr($s, 0, int(rand(length $s))) },
	sub { my $s = shift; $s =~ tr/<>/></ if rand() < 0.5; $s =~ s/"//g if rand() < 0.5; $s },
	sub { my $s = shift; my $o = $pages[rand @pages]; my $at = int(rand(length $o));
		  substr($s, int(rand(length $s)), 0) = substr($o, $at, int(rand(20000))); $s },
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = join '', map { chr((0x400, 0x107, 0x1F600, 0x2028, 0xFEFF)[rand 5] + int(rand(16))) } 1 .. 200; $s },
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = '<script type="application/ld+json">{"@type": "Car", "fuelType": "D\u0001i\u0000z",'
		  . ' "brand": ' . ('[' x 5000) . '"x"' . (']' x 5000) . '}</script>'; $s },
	sub { my $s = shift; substr($s, int(rand(length $s)), 0) = '<div class="divider"><div class="uk-width-1-2">Gorivo</div>'
		  . '<div class="uk-width-1-2 uk-text-bold">' . join('', map { chr(int(rand(32))) || 'x' } 1 .. 50) . '</div></div>'; $s },
);
q1(q{CREATE TABLE fuzz (id int, url text, html text)});
my $url = 'https://www.polovniautomobili.com/auto-oglasi/20645877/audi-a4';
my $listing = 'https://www.polovniautomobili.com/auto-oglasi/pretraga?page=1';
my ($calls, $errors, $max_ms, $slowest, $batch) = (0, 0, 0, '', 0);
my $started = time;
my $timeout_ms = 3000;
while (time - $started < $seconds)
{
	$batch++;
	open my $out, '>:encoding(UTF-8)', "$tmp/fuzz.csv" or die;
	for my $i (1 .. 20)
	{
		my $s = $pages[rand @pages];
		$s = $mutations[rand @mutations]->($s) for 1 .. 1 + int(rand(3));
		$s = substr($s, 0, 4_000_000);
		$s =~ s/\x00//g;    # text cannot hold NUL (the server refuses it before Otto sees it)
		print $out join(',', $i, csv($i % 2 ? $url : $listing), csv($s)), "\n";
	}
	close $out;
	my $script = "TRUNCATE fuzz;\n\\copy fuzz FROM '$tmp/fuzz.csv' CSV\nSET statement_timeout = '${timeout_ms}ms';\n\\timing on\n";
	for my $i (1 .. 20)
	{
		$script .= "SELECT length(otto.parse_ad(html, url)::text) FROM fuzz WHERE id = $i;\n"
		  . "SELECT length(otto.parse_listing(html, url)::text) FROM fuzz WHERE id = $i;\n"
		  . "SELECT count(*) FROM fuzz, otto.extract_links(html, url) WHERE id = $i;\n"
		  . "SELECT otto.ingest_page(url || '?b=$batch', html) IS NOT NULL FROM fuzz WHERE id = $i;\n";
	}
	# and the 20 as one batch, as the crawler stores them (its ten ad pages state one ad: ten rounds)
	$script .= "SELECT count(*) FROM otto.ingest_site_pages(1, (SELECT array_agg(url || '?c=$batch&p=' || id ORDER BY id) FROM fuzz),"
	  . " (SELECT array_agg(html ORDER BY id) FROM fuzz), array_fill(200, ARRAY[20]), array_fill(now(), ARRAY[20]), NULL);\n";
	my ($stdout, $stderr) = ('', '');
	$node->psql('postgres', $script, stdout => \$stdout, stderr => \$stderr, extra_params => ['-X']);
	for my $ms ($stdout =~ /^Time: ([\d.]+) ms/mg)
	{
		$calls++;
		($max_ms, $slowest) = ($ms, "batch $batch") if $ms > $max_ms;
	}
	$errors += () = $stderr =~ /^psql:.*ERROR:/mg;
	last if $stderr =~ /server closed the connection|terminated|connection to server/;
}
note(sprintf('%d calls in %.0f s (%d refused with an error), the slowest %.0f ms (%s)', $calls, time - $started, $errors, $max_ms, $slowest));
ok($calls >= 80 * 4 || $seconds < 30, "$calls calls on mutated pages");
cmp_ok($errors, '<', $calls / 4, "most reach the parser and answer ($errors errors)");
cmp_ok($max_ms, '<', $timeout_ms + 500, "every call returned within its statement_timeout ($timeout_ms ms; slowest $max_ms ms)");
$log = slurp_file($node->logfile);
is(scalar(() = $log =~ /terminated by signal/g), 2, 'no backend died (the only signals are the two injected aborts)');
is(q1('SELECT 1'), '1', 'the server still answers');
$node->stop;
done_testing();
