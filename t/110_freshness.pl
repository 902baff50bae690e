# Freshness: under a steady 500 ad events/s (pgbench, rate-limited), an event
# becomes visible in the market tables within a second.  Probes commit a price
# cut of a car of their own and wait, in the server, for it to show in
# otto.market_model; the wait is measured from the probe's commit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use OttoSim qw(crawl_node);

my $node = crawl_node('fresh', "otto.crawler_workers = 0\n");
sub q1 { return $node->safe_psql('postgres', shift) }
q1(q{
SELECT otto.site_add('t', 'test', ARRAY['cars.test'], ARRAY['https://cars.test/'], '^https://cars\.test/ad/([0-9]+)',
                     '^https://cars\.test/list', 'polovniautomobili');
INSERT INTO otto.ad (site_id, source_ad_id, url, make, model, year, mileage_km, price_eur)
SELECT 2, i::text, 'https://cars.test/ad/' || i, CASE WHEN i = 0 THEN 'Probe' ELSE 'Load' END, 'M' || i % 50,
       2000 + i % 20, 100000 + i, 5000 + i FROM generate_series(0, 2000) i;
INSERT INTO otto.ad_event (site_id, ad_id, kind, new_price_eur) SELECT site_id, ad_id, 'new', price_eur FROM otto.ad;
-- what the ingest does for a price change: new price, an event, a notification
CREATE FUNCTION load_event(id bigint) RETURNS void LANGUAGE sql AS $$
  WITH a AS (UPDATE otto.ad SET price_eur = price_eur + CASE WHEN random() < 0.5 THEN -10 ELSE 10 END
              WHERE ad_id = id RETURNING site_id, ad_id, price_eur)
  INSERT INTO otto.ad_event (site_id, ad_id, kind, old_price_eur, new_price_eur)
  SELECT site_id, ad_id, 'price_changed', CASE WHEN price_eur % 20 = 0 THEN price_eur + 10 ELSE price_eur - 10 END, price_eur FROM a;
  SELECT pg_notify('otto_ad', id::text);
$$;
CREATE FUNCTION probe_cut() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
  PERFORM load_event((SELECT ad_id FROM otto.ad WHERE make = 'Probe'));
  RETURN clock_timestamp();
END $$;
-- wait until the market shows n price events of the probe car; the milliseconds since t
CREATE FUNCTION probe_wait(n int, t timestamptz) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
  WHILE coalesce((SELECT s[22] + (SELECT count(*) FROM otto.ad_event WHERE kind = 'price_changed'
                                    AND ad_id = (SELECT ad_id FROM otto.ad WHERE make = 'Probe')
                                    AND new_price_eur > old_price_eur)
                    FROM otto.market_mm WHERE make = 'Probe'), 0) < n LOOP
    PERFORM pg_sleep(0.002);
    IF clock_timestamp() > t + interval '10 s' THEN RETURN 10000; END IF;
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t) * 1000;
END $$;
});
$node->poll_query_until('postgres', 'SELECT lag_events = 0 FROM otto.stream_status') or die 'stream did not start';

my $script = PostgreSQL::Test::Utils::tempdir . '/load.sql';
open my $f, '>', $script or die $!;
print $f "\\set id random(2, 2001)\nSELECT load_event(:id);\n";
close $f;
my ($out, $err) = ('', '');
my $seconds = 25;
my $bench = IPC::Run::start(['pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', 4, '-j', 2, '-R', 500,
	'-T', $seconds, '-f', $script, 'postgres'], '>', \$out, '2>', \$err);
sleep 3;    # steady state
my @lag;
for my $i (1 .. 30)
{
	my $t = q1('SELECT probe_cut()');
	push @lag, q1("SELECT probe_wait($i, '$t')");
	select(undef, undef, undef, 0.5);
}
$bench->finish;
my ($tps) = $out =~ /tps = ([0-9.]+)/;
my $events = q1(q{SELECT count(*) FROM otto.ad_event WHERE kind = 'price_changed'});
my @s = sort { $a <=> $b } @lag;
my ($p50, $p95, $max) = ($s[$#s / 2], $s[int(0.95 * $#s)], $s[-1]);
diag(sprintf('load %.0f events/s for %d s; event to market tables: p50 %.0f ms, p95 %.0f ms, max %.0f ms (%d probes)',
	$tps // 0, $seconds, $p50, $p95, $max, scalar @lag));
cmp_ok($tps // 0, '>=', 450, sprintf('steady load of %.0f events/s (target 500)', $tps // 0));
cmp_ok($max, '<', 1000, sprintf('every probe visible in the market tables within 1 s (max %.0f ms)', $max));
$node->poll_query_until('postgres', 'SELECT lag_events = 0 FROM otto.stream_status') or die 'stream did not catch up';
like(q1(q{SELECT otto.stream_check()}), qr/"equal": true/, "after $events events the tables equal the recompute");
$node->stop;
done_testing();
