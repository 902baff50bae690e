# The frontier as a queue under concurrency: eight clients claiming at once
# never get the same URL; an expired lease makes a URL claimable again; a
# released worker's URLs go back to the queue; failures back off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('claim');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'otto'\notto.database = 'postgres'\notto.crawler_workers = 0\nmax_connections = 40");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION otto;
UPDATE otto.site SET enabled = true;
INSERT INTO otto.frontier (site_id, url, kind)
SELECT 1, 'https://www.polovniautomobili.com/auto-oglasi/' || i || '/x', 'ad' FROM generate_series(1, 2000) i;
CREATE TABLE claims (url text, owner int);
});

my $script = PostgreSQL::Test::Utils::tempdir . '/claim.sql';
open my $fh, '>', $script or die;
print $fh "INSERT INTO claims SELECT url, :client_id FROM otto.frontier_claim(5, '10 minutes', :client_id + 1000);\n";
close $fh;
$node->command_ok([ 'pgbench', '-n', '-c', '8', '-j', '4', '-t', '60', '-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
	'8 clients claim concurrently');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT url) FROM claims'), '2000|2000',
	'every URL claimed exactly once');
cmp_ok($node->safe_psql('postgres', 'SELECT count(DISTINCT owner) FROM claims'), '>', 1, 'by several clients');
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.frontier WHERE state = 'leased' AND lease_until > now()}), '2000',
	'all leased, none lost');

# A worker's leases go back to the queue when it is released (restart of a dead worker).
is($node->safe_psql('postgres', 'SELECT otto.frontier_release(1001)'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM claims WHERE owner = 1'), 'release requeues exactly its leases');
# An expired lease is claimable again.
$node->safe_psql('postgres', q{UPDATE otto.frontier SET lease_until = now() - interval '1 second' WHERE lease_owner = 1002});
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.frontier_claim(10000, '1 minute', 7)}),
	$node->safe_psql('postgres', 'SELECT count(*) FROM claims WHERE owner IN (1, 2)'),
	'released and expired URLs are claimed again, nothing else');
# A disabled site's URLs are not claimed.
$node->safe_psql('postgres', q{SELECT otto.crawl_stop('polovniautomobili'); SELECT otto.frontier_release(7)});
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.frontier_claim(10000)}), '0', 'nothing of a stopped site');
# Failures back off exponentially and give up.
$node->safe_psql('postgres', q{SELECT otto.crawl_start('polovniautomobili')});
my $url = 'https://www.polovniautomobili.com/auto-oglasi/1/x';
is($node->safe_psql('postgres', qq{SELECT string_agg(otto.frontier_fail(1, '$url', 'http', '500'), ',') FROM generate_series(1, 5)}),
	'queued,queued,queued,queued,failed', 'five failures and it gives up');
is($node->safe_psql('postgres', qq{SELECT otto.frontier_fail(1, 'https://www.polovniautomobili.com/auto-oglasi/2/x', 'http', '503', '1 hour');
  SELECT due_at - now() > interval '59 minutes' FROM otto.frontier WHERE url = 'https://www.polovniautomobili.com/auto-oglasi/2/x'}),
	"queued\nt", 'Retry-After is honoured');
$node->stop;
done_testing();
