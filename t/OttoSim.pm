# OttoSim: helpers for TAP tests that feed the market simulator's pages to Otto.
package OttoSim;
use strict;
use warnings;
use Exporter 'import';
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP;
use PostgreSQL::Test::Cluster;

our @EXPORT_OK = qw(gz csv write_ad_pages_csv ad_fields truth_day crawl_node sim_site_sql poll_through_restarts $CRAWL_DONE $SWEEP_DONE);

# A file the simulator stored gzip-compressed, as a string.
sub gz { my $f = shift; my $out; gunzip($f => \$out) or die "$f: $GunzipError"; return $out }

# A CSV field.
sub csv { my $s = shift; $s =~ s/"/""/g; return qq{"$s"} }

# Write (url . $suffix, html[, extra columns]) for every live ad of the simulator's day
# to $csv, for \copy; returns the number of ads.
sub write_ad_pages_csv
{
	my ($simdir, $day, $csv, $suffix, @extra) = @_;
	open my $in, '<', sprintf("%s/truth/day-%03d/ads.jsonl", $simdir, $day) or die "truth of day $day: $!";
	open my $out, '>:raw', $csv or die "$csv: $!";
	my $n = 0;
	while (my $line = <$in>)
	{
		my $t = decode_json($line);
		my ($id, $slug) = $t->{url} =~ m{/auto-oglasi/(\d+)/(.+)$};
		print $out join(',', csv($t->{url} . ($suffix // '')), csv(gz("$simdir/www/auto-oglasi/$id/$slug.gz")), @extra), "\n";
		$n++;
	}
	close $out;
	return $n;
}

# The ad fields Otto extracts and the truth states, as a SQL text[] literal.
sub ad_fields
{
	my @f = qw(source_ad_id url title make model year mileage_km price_eur old_price_eur fuel body gearbox
	  power_kw power_hp engine_cc color seats doors drive emission_class air_conditioning damage origin
	  condition registered_until location region seller_type features images_count);
	return "ARRAY['" . join("','", @f) . "']";
}

# A day's truth (ads.jsonl or events.jsonl) as a list of hashes.
sub truth_day
{
	my ($simdir, $day, $what) = @_;
	open my $in, '<', sprintf("%s/truth/day-%03d/%s.jsonl", $simdir, $day, $what) or die "truth of day $day: $!";
	return map { decode_json($_) } <$in>;
}

# A started cluster with otto preloaded, its extension created, and two
# crawler workers that nap briefly; $extra: more postgresql.conf lines (a
# later line wins).
sub crawl_node
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'otto'
otto.database = 'postgres'
otto.crawler_workers = 2
otto.crawler_naptime = '100ms'
otto.launcher_naptime = '200ms'
otto.price_trainer = off
fsync = off
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION otto');
	return $node;
}

# SQL that adds site $name for a simulator at $host (host:port) with the
# polovniautomobili rules in UTC; $set: more "column = value" for the site.
sub sim_site_sql
{
	my ($name, $host, $allow, $set) = @_;
	(my $re = $host) =~ s/\./\\./g;
	return qq{SELECT otto.site_add('$name', '$name', ARRAY['$host'],
	    ARRAY['http://$host/auto-oglasi/pretraga?page=1&sort=basic'],
	    '^http://$re/auto-oglasi/([0-9]+)/', '^http://$re/auto-oglasi/(?:pretraga|[a-z])', 'polovniautomobili', $allow);
	  UPDATE otto.site SET rules = rules || '{"timezone": "UTC"}'} . ($set ? ", $set" : '') . qq{ WHERE name = '$name';};
}

# $node->poll_query_until that survives the server restarting under it (a
# crash, a kill -9): a psql that starts while the server recovers exits
# before reading its input, and IPC::Run dies of the broken pipe.
sub poll_through_restarts
{
	my ($node, $sql) = @_;
	for (1 .. 100)
	{
		my $ok = eval { $node->poll_query_until('postgres', $sql) };
		return $ok if defined $ok;
		select(undef, undef, undef, 0.2);
	}
	return 0;
}

# True once no URL is leased or due within a minute and no page came in for
# two seconds: the crawl is over (quiet for two seconds too, so that a
# moment between one worker's pages does not pass for the end).
our $CRAWL_DONE = q{SELECT count(*) = 0 FROM otto.frontier
  WHERE state = 'leased' OR (state = 'queued' AND due_at < now() + interval '1 minute')
  HAVING NOT EXISTS (SELECT FROM otto.page WHERE fetched_at > now() - interval '2 seconds')};

# True once site sim's sweep was checked (otto.sweep_check) and the ads it
# queued for a last look are done: crawl_status's "done".
our $SWEEP_DONE = q{SELECT sweep = 'done' FROM otto.crawl_status WHERE site = 'sim'};

1;
