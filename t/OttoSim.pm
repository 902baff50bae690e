# OttoSim: helpers for TAP tests that feed the market simulator's pages to Otto.
package OttoSim;
use strict;
use warnings;
use Exporter 'import';
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP;

our @EXPORT_OK = qw(gz csv write_ad_pages_csv ad_fields truth_day);

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

1;
