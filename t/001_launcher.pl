# The launcher: starts with the server, shows itself in pg_stat_activity,
# reloads on SIGHUP, is restarted after kill -9 the way Postgres restarts
# background workers, and stops cleanly.  Without preload, otto still works
# and says that its workers are absent.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $launcher_pid_sql =
  q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'otto launcher'};

my $node = PostgreSQL::Test::Cluster->new('preloaded');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'otto,pg_cron'
otto.database = 'postgres'
otto.launcher_naptime = '200ms'
cron.database_name = 'postgres'
restart_after_crash = on
});
$node->start;

# Starts with the server, in the configured database, clearly named.
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		   WHERE backend_type = 'otto launcher' AND datname = 'postgres'
		     AND application_name = 'otto launcher'}),
	'launcher runs in otto.database with backend_type and application_name "otto launcher"');
my $pid = $node->safe_psql('postgres', $launcher_pid_sql);
like($pid, qr/^\d+$/, 'exactly one launcher');
ok($node->wait_for_log(qr/otto launcher is idle: the otto extension is not installed in database "postgres"/),
	'launcher says it is idle until the extension exists');

# The extension installs beside pg_cron; the launcher notices it; no NOTICE about preload.
my ($ret, $out, $err) = $node->psql('postgres',
	'CREATE EXTENSION pg_cron; CREATE EXTENSION otto;');
is($ret, 0, 'CREATE EXTENSION otto works with pg_cron present');
unlike($err, qr/without shared_preload_libraries/, 'no preload NOTICE when preloaded');
ok($node->wait_for_log(qr/otto launcher found the otto extension in database "postgres"/),
	'launcher notices the extension');
is($node->safe_psql('postgres', q{SELECT count(*) FROM otto.workers WHERE backend_type = 'otto launcher'}),
	'1', 'otto.workers shows the launcher');
is($node->safe_psql('postgres', q{SELECT otto.build_info()->>'preloaded'}), 'true',
	'build_info reports preloaded');

# Schedules go into pg_cron: a sweep per enabled site on its schedule, and upkeep.
$node->safe_psql('postgres', q{UPDATE otto.site SET enabled = true, sweep_schedule = '30 4 * * *'});
is($node->safe_psql('postgres', q{SELECT jsonb_array_length(otto.schedule_install())}), '2', 'schedule_install installs two jobs');
$node->safe_psql('postgres', q{SELECT otto.schedule_install()});
is($node->safe_psql('postgres', q{SELECT string_agg(jobname || ' ' || schedule || ' ' || command, E'\n' ORDER BY jobname) FROM cron.job}),
	"otto-maintenance 17 * * * * SELECT otto.maintenance()\notto-sweep-polovniautomobili 30 4 * * * SELECT otto.crawl_start('polovniautomobili')",
	'pg_cron holds the sweep and maintenance jobs, once each after a second install');
$node->safe_psql('postgres', q{UPDATE otto.site SET enabled = false});

# SIGHUP: the launcher reloads its settings and keeps running.
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf', 'otto.crawler_workers = 3');
$node->reload;
ok($node->wait_for_log(qr/otto launcher reloaded its configuration.*\n.*crawler_workers=3/, $offset),
	'launcher reloads configuration on SIGHUP');
is($node->safe_psql('postgres', $launcher_pid_sql), $pid, 'same launcher after reload');

# Crawler workers: the launcher keeps otto.crawler_workers of them running.
my $crawlers = q{SELECT string_agg(application_name, ',' ORDER BY application_name) FROM pg_stat_activity
                  WHERE backend_type = 'otto crawler'};
ok($node->poll_query_until('postgres', $crawlers, 'otto crawler 0,otto crawler 1,otto crawler 2'),
	'three crawler workers run, numbered 0 to 2');
my $c1 = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE application_name = 'otto crawler 1'});
$offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($c1)");
ok($node->wait_for_log(qr/otto crawler 1 exited; the launcher starts it again/, $offset),
	'the launcher notices a crawler that stopped');
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'otto crawler 1' AND pid <> $c1}),
	'and starts it again');
$node->append_conf('postgresql.conf', 'otto.crawler_workers = 1');
$node->reload;
ok($node->poll_query_until('postgres', $crawlers, 'otto crawler 0'), 'fewer workers configured: the extra ones stop');

# kill -9: the postmaster resets the cluster and starts a new launcher.
$offset = -s $node->logfile;
kill 'KILL', $pid;
ok($node->wait_for_log(qr/background worker "otto launcher" \(PID $pid\) was terminated by signal 9/, $offset),
	'postmaster sees the launcher crash');
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity
		    WHERE backend_type = 'otto launcher' AND pid <> $pid}),
	'a new launcher is running after kill -9');
ok($node->poll_query_until('postgres', $crawlers, 'otto crawler 0'), 'with its crawler worker');
my $pid2 = $node->safe_psql('postgres', $launcher_pid_sql);
isnt($pid2, $pid, 'the new launcher is a new process');

# Shutdown: the launcher stops cleanly (exit code 0, its own message).
$offset = -s $node->logfile;
$node->stop('fast');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/otto launcher shutting down/, 'launcher logs its shutdown');
like($log, qr/otto crawler 0 stopping/, 'the crawler worker stops cleanly too');
unlike($log, qr/"otto launcher" \(PID \d+\) exited with exit code [1-9]/, 'launcher exits with code 0');

# pg_terminate_backend also ends it cleanly, and Postgres does not restart it
# (exit code 0 unregisters a worker until the next server start).
$node->start;
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'otto launcher'}),
	'launcher is back after a server restart');
$offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend(($launcher_pid_sql))");
ok($node->wait_for_log(qr/otto launcher shutting down/, $offset), 'pg_terminate_backend stops the launcher cleanly');
sleep 6;    # longer than bgw_restart_time
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'otto launcher'}),
	'0', 'a terminated launcher stays stopped');
$node->stop;

# Without preload: the SQL functions work, no workers, and a NOTICE says so.
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION otto; SELECT otto.build_info()->>$$preloaded$$');
is($ret, 0, 'CREATE EXTENSION otto works without preload (and without pg_cron)');
is($out, 'false', 'build_info reports not preloaded');
like($err, qr/WARNING:  otto is loaded without shared_preload_libraries, so its background workers are not running/,
	'CREATE EXTENSION warns that the workers are absent');
($ret, $out, $err) = $plain->psql('postgres', 'SELECT otto.build_info()->>$$otto$$');
like($err, qr/NOTICE:  otto is loaded without shared_preload_libraries, so its background workers are not running/,
	'a new session that loads otto gets a NOTICE saying so');
my ($version) = PostgreSQL::Test::Utils::slurp_file("$ENV{OTTO_ROOT}/otto.control") =~ /default_version = '([^']+)'/;
is($out, $version, "and the SQL functions work (build_info says $version, as otto.control)");
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'otto %'}),
	'0', 'no otto workers without preload');
# a crawl can be set up (its URLs wait in the frontier; there is no URL filter to fill)
($ret, $out, $err) = $plain->psql('postgres', q{SELECT otto.site_add('s', 's', ARRAY['127.0.0.1:1'],
    ARRAY['http://127.0.0.1:1/auto-oglasi/pretraga?page=1'], '^http://127\.0\.0\.1:1/auto-oglasi/([0-9]+)/',
    '^http://127\.0\.0\.1:1/auto-oglasi/pretraga', 'polovniautomobili', true);
  SELECT otto.crawl_start('s')});
is($ret, 0, 'a site is added and its crawl started without preload') or diag($err);
is($plain->safe_psql('postgres', 'SELECT count(*) FROM otto.frontier'), '1', 'its seed URL waits in the frontier');
$plain->safe_psql('postgres', 'DROP EXTENSION otto');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'otto'}), '0',
	'DROP EXTENSION removes the schema');
$plain->stop;

done_testing();
