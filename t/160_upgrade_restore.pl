# Upgrades and backups keep everything.
#  - 1.0 as it shipped (otto--1.0.sql), filled with a market and users, then
#    ALTER EXTENSION otto UPDATE (otto--1.0--<current>.sql: every step's changes),
#    equals a fresh install of the current version filled the same way: the
#    schema (pg_dump --binary-upgrade, which writes out the extension's
#    members, normalised) and every table's rows.
#  - pg_dump then pg_restore into a fresh database, and into a fresh server
#    whose stream processor runs, gives the same rows, watermarks and answers,
#    and the stream then applies only the events that come after.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(write_ad_pages_csv sim_site_sql crawl_node);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 19900 + int(rand(90));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim init $tmp/m --seed 47 --ads 600 --port $port 2>/dev/null"), 0, 'a market of 600 ads');
write_ad_pages_csv("$tmp/m", 0, "$tmp/day0.csv", '', 0);
is(system("$sim advance $tmp/m 2>/dev/null"), 0, 'advance a day');
write_ad_pages_csv("$tmp/m", 1, "$tmp/day1.csv", '', 1);
is(system("$sim advance $tmp/m 2>/dev/null"), 0, 'advance another day');
write_ad_pages_csv("$tmp/m", 2, "$tmp/day2.csv", '', 2);

# The stream is applied by hand here, so that both databases see the same steps.
my $node = crawl_node('upgrade', "otto.crawler_workers = 0\notto.stream_processor = off\n");

# Ads of a day, at a fixed time, then the stream and the alert matcher.
my $ingest = q{
CREATE TEMP TABLE feed (url text, html text, day int);
\copy feed FROM '%s' CSV
SELECT count(otto.ingest_page(url, html, 200, '2026-10-01'::timestamptz + day * interval '1 day' + interval '12 hours'))
  FROM feed;
SELECT otto.stream_apply(100000), otto.alerts_apply();
};
sub ingest_day { my ($n, $db, $day) = @_; $n->safe_psql($db, sprintf($ingest, "$tmp/day$day.csv")) }

# A market of two days and two users with likes, views, a saved search, a review.
sub fill
{
	my ($n, $db) = @_;
	$n->safe_psql($db, sim_site_sql('simulator', "127.0.0.1:$port", 'true'));
	# 1.0 kept the site's words in C (this is a later version's library): give them to the site that ingests
	$n->safe_psql($db, q{UPDATE otto.site SET rules = rules || '{"words": {"price_on_request": ["dogovor", "upit", "request"],
	    "unregistered": ["nije"], "doors_suffix": [" vrata"]}}' WHERE name = 'simulator' AND NOT rules ? 'words'});
	# and a site that crawls nothing, whose rules the update brings up to date
	$n->safe_psql($db, q{SELECT otto.site_add('parked', 'Parked', '{parked.example}', '{https://parked.example/}',
	    '^https://parked\.example/ad/([0-9]+)', '^https://parked\.example/list', 'polovniautomobili')});
	ingest_day($n, $db, 0);
	$n->safe_psql($db, q{
CREATE TEMP TABLE u AS SELECT (otto.user_add('ana', 'en')).token AS ana, (otto.user_add('boris')).token AS boris;
SELECT otto.login(ana) FROM u;
SELECT otto.like_ad(ad_id) FROM otto.ad WHERE ad_id % 7 = 0 ORDER BY ad_id LIMIT 5;
SELECT otto.view_ad(ad_id) FROM otto.ad WHERE ad_id % 5 = 0 ORDER BY ad_id LIMIT 8;
SELECT otto.search_save('cheap', '{"price_max": 6000}');
SELECT otto.review_model('Volkswagen', 'Golf', 4, 'Solid', 'Runs and runs');
SELECT otto.logout();
SELECT otto.login(boris) FROM u;
SELECT otto.search_save('everything', '{}');
SELECT otto.logout();
});
	ingest_day($n, $db, 1);
}

# Every table of the extension: rows and a digest of their contents.  Without
# $clock, the columns the wall clock fills (timestamps other than the
# pages' observation times) and the random token hashes are left out.
my $digest = q{
CREATE FUNCTION pg_temp.digest(clock boolean) RETURNS TABLE (tbl text, n bigint, md5 text) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    skip text[];
BEGIN
    FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
               JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
              WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'otto') AND c.relkind = 'r'
                AND c.relname <> 'worker_start'
              ORDER BY c.relname LOOP
        -- the shipped site row is the install script's (pg_dump keeps user-added sites), made when it ran
        skip := CASE WHEN clock THEN CASE WHEN r.t = 'otto.site'::regclass THEN '{created_at}'::text[] ELSE '{}' END ELSE
                    ARRAY['token_hash'] || (SELECT coalesce(array_agg(attname::text), '{}') FROM pg_attribute
                                             WHERE attrelid = r.t AND atttypid = 'timestamptz'::regtype AND attnum > 0
                                               AND r.t::text NOT IN ('otto.ad', 'otto.ad_event', 'otto.page', 'otto.market_ad'))
                END;
        RETURN QUERY EXECUTE format('SELECT %L, count(*), md5(coalesce(string_agg(x, E''\n'' ORDER BY x), '''')) '
                                    'FROM (SELECT (to_jsonb(t) - %L::text[])::text x FROM %s t) s', r.t, skip, r.t);
    END LOOP;
END
$$;
SELECT string_agg(format('%s %s %s', tbl, n, md5), E'\n') FROM pg_temp.digest(CLOCK);
};
sub digest
{
	my ($n, $db, $clock) = @_;
	(my $sql = $digest) =~ s/CLOCK/$clock ? 'true' : 'false'/e;
	return $n->safe_psql($db, $sql);
}

# The schema as pg_dump writes it, the extension's members included; object
# ids, frozen xids and restrict keys differ between any two databases.
sub schema
{
	my ($n, $db) = @_;
	my ($stdout, $stderr);
	IPC::Run::run([ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $n->connstr($db) ], '>', \$stdout, '2>', \$stderr)
	  or die "pg_dump: $stderr";
	my @lines = grep { !/^--|^\s*$|binary_upgrade_set|binary_upgrade_create_empty_extension|relfrozenxid|^WHERE oid =|^\\(un)?restrict/ }
	  split /\n/, $stdout;
	# the order of a privilege list's entries depends on the order of the grants
	my @out;
	while (@lines)
	{
		my @run;
		push @run, shift @lines while @lines && $lines[0] =~ /^(GRANT|REVOKE) /;
		push @out, @run ? sort(@run) : shift @lines;
	}
	return join("\n", @out);
}
# pg_dump's rules of the extension's tables: which, with what condition.
my $dump_rules = q{SELECT string_agg(format('%s %s', t::regclass, c), E'\n' ORDER BY t::regclass::text)
                     FROM pg_extension, unnest(extconfig, extcondition) u(t, c) WHERE extname = 'otto'};

# 1.0 as shipped, filled, updated; the current version fresh, filled the same way.
my $current = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'otto'});
$node->safe_psql('postgres', 'CREATE DATABASE old; CREATE DATABASE new');
$node->safe_psql('old', q{CREATE EXTENSION otto VERSION '1.0'});
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'otto'}), '1.0', '1.0 installs as it shipped');
fill($node, 'old');
$node->safe_psql('old', 'ALTER EXTENSION otto UPDATE');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'otto'}), $current,
	"ALTER EXTENSION otto UPDATE brings it to $current, the current version");
$node->safe_psql('new', 'CREATE EXTENSION otto');
fill($node, 'new');

my ($s_old, $s_new) = (schema($node, 'old'), schema($node, 'new'));
cmp_ok(length($s_new), '>', 100_000, 'the schema dump holds the extension\'s members (' . length($s_new) . ' bytes)');
ok($s_old eq $s_new, "the updated schema equals a fresh $current install's") or do
{
	PostgreSQL::Test::Utils::append_to_file("$tmp/$_.schema", $_ eq 'old' ? $s_old : $s_new) for qw(old new);
	diag(scalar qx(diff $tmp/old.schema $tmp/new.schema | head -50));
};
is($node->safe_psql('old', $dump_rules), $node->safe_psql('new', $dump_rules), 'and so do its dump rules');
my $d_new = digest($node, 'new', 0);
like($d_new, qr/^otto\.ad \d{3} /m, 'the market is there');
like($d_new, qr/^otto\.user_event 13 /m, 'and the users\' views and likes');
is(digest($node, 'old', 0), $d_new, "the updated data equals a fresh $current install's, table by table");

# A day later in both: the updated database carries on as the fresh one does.
ingest_day($node, $_, 2) for qw(old new);
is(digest($node, 'old', 0), digest($node, 'new', 0), 'and after one more day too');

# Backup and restore into a fresh database.
my $dump = "$tmp/otto.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('new') ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore into a fresh database');

my $state = q{SELECT (SELECT watermark FROM otto.stream_state) || ' ' || (SELECT watermark FROM otto.alert_state)};
# Every tool that needs no arguments (or its error, e.g. "no Otto user is signed in"),
# without the times taken from the clock.
my $answers = q{
CREATE FUNCTION pg_temp.answer(tool text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (otto.call_tool(tool, '{}') - 'elapsed_ms' - 'since')::text;   -- since: now() less a window
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END
$$;
SELECT string_agg(name || ' ' || pg_temp.answer(name), E'\n' ORDER BY name)
  FROM otto.tool WHERE builtin AND NOT input_schema ? 'required';
};
my $alerts = q{SELECT count(*) || ': ' || string_agg(format('%s %s %s', user_id, ad_id, reason), ',' ORDER BY alert_id) FROM otto.alert};
my $d_dumped = digest($node, 'new', 1);
is(digest($node, 'restored', 1), $d_dumped, 'every table restored exactly, timestamps included');
my $wm = $node->safe_psql('new', $state);
like($wm, qr/^[1-9]\d* [1-9]\d*$/, "the watermarks are past 0 ($wm)");
is($node->safe_psql('restored', $state), $wm, 'the stream\'s and the alert matcher\'s watermarks are restored');
my $ans = $node->safe_psql('new', $answers);
cmp_ok(scalar(split /\n/, $ans), '>=', 5, 'answers of the tools that need no arguments');
is($node->safe_psql('restored', $answers), $ans, 'the restored database answers the same');
my $al = $node->safe_psql('new', $alerts);
like($al, qr/^[1-9]/, 'the saved searches alerted');
is($node->safe_psql('restored', $alerts), $al, 'and the restored database keeps the same alerts');

# The stream in the restored database applies only what is new: nothing now,
# and the same as the original after the same new pages.
is($node->safe_psql('restored', q{SELECT otto.stream_apply()->>'events'}), '0', 'nothing to apply after the restore');
for my $db (qw(new restored))
{
	$node->safe_psql($db, q{UPDATE otto.ad SET price_eur = price_eur - 100 WHERE ad_id % 11 = 0 AND price_eur > 1000 AND state = 'live';
	    INSERT INTO otto.ad_event (ad_id, site_id, kind, at, old_price_eur, new_price_eur)
	    SELECT ad_id, site_id, 'price_changed', '2026-10-04 12:00+00', price_eur + 100, price_eur FROM otto.ad
	     WHERE ad_id % 11 = 0 AND price_eur > 1000 AND state = 'live' ORDER BY ad_id;
	    SELECT otto.stream_apply(), otto.alerts_apply();});
}
is(digest($node, 'restored', 0), digest($node, 'new', 0), 'after new events the market tables agree again (no event applied twice)');

# Into a fresh server whose workers run: in one transaction, so that the
# stream processor sees the whole database or none of it.
my $live = crawl_node('restore_live', "otto.database = 'otto'\notto.crawler_workers = 0\n");
$live->safe_psql('postgres', 'CREATE DATABASE otto');
$live->command_ok([ 'pg_restore', '--exit-on-error', '--single-transaction', '-d', $live->connstr('otto'), $dump ],
	'pg_restore --single-transaction into a server with the workers running');
$live->poll_query_until('otto', q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'otto stream'})
  or die 'the stream processor did not start';
sleep 1;
is($live->safe_psql('otto', $state), $wm, 'the running stream processor keeps the restored watermarks');
is(digest($live, 'otto', 1), $d_dumped, 'and every table as it was dumped');
is($live->safe_psql('otto', $answers), $ans, 'and answers the same');

done_testing();
