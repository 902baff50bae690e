# A query cancel is not the page's fault.  The worker kit (src/core/worker.c)
# lets a cancel and a shutdown through instead of catching them as a failed
# statement: a crawler whose page store is cancelled (pg_cancel_backend, a
# statement_timeout) ends and is started again, and the page is stored then,
# not recorded as a failed page.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use OttoSim qw(crawl_node sim_site_sql $CRAWL_DONE);

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = 22100 + int(rand(400));
$ENV{PYTHONDONTWRITEBYTECODE} = 1;
my $sim = "$root/sim/otto-sim";

is(system("$sim up $tmp/m --seed 17 --ads 60 --port $port --crawl-delay 0 >/dev/null 2>&1"), 0, 'market of 60 ads served');
END { system("$sim stop $tmp/m >/dev/null 2>&1") if $sim }    # its web server goes with the test, even one that dies
my $node = crawl_node('cancel', "otto.crawler_workers = 1\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(sim_site_sql('sim', "127.0.0.1:$port", 'true', 'crawl_delay_ms = 0, max_concurrency = 4'));

# The first ad page to be stored waits (once: a sequence is not rolled back)
# until the test cancels it.
q1(q{
CREATE SEQUENCE slow_once;
CREATE FUNCTION slow_page() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.url ~ '/auto-oglasi/[0-9]+/' AND nextval('public.slow_once') = 1 THEN
        PERFORM pg_sleep(60);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER slow_page BEFORE INSERT ON otto.page FOR EACH ROW EXECUTE FUNCTION slow_page();
});
my $offset = -s $node->logfile;
q1(q{SELECT otto.crawl_start('sim')});
$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
                                       WHERE application_name = 'otto crawler 0' AND wait_event = 'PgSleep'})
  or die 'the crawler never reached the slow page';
my $pid = q1(q{SELECT pid FROM pg_stat_activity WHERE application_name = 'otto crawler 0'});
is(q1("SELECT pg_cancel_backend($pid)"), 't', 'the crawler storing the page is cancelled');
ok($node->wait_for_log(qr/canceling statement due to user request/, $offset), 'the cancel reaches it');
$node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
                                        WHERE application_name = 'otto crawler 0' AND pid <> $pid})
  or die 'no crawler came back';
pass('the worker ended and the launcher started another');
$node->poll_query_until('postgres', $CRAWL_DONE) or die 'the crawl did not finish';
is(q1(q{SELECT count(*) FROM otto.frontier WHERE last_error ~ 'cancel' OR state <> 'done'}), '0',
	'no page is recorded as failed for the cancel, and every URL is done');
is(q1(q{SELECT count(*) FROM otto.page WHERE error_kind IS NOT NULL}), '0', 'the page log has no failure');
is(q1(q{SELECT count(*) FROM otto.ad}), q1(q{SELECT count(*) FROM otto.frontier WHERE kind = 'ad'}),
	'every ad is stored, the cancelled one too');
done_testing();
