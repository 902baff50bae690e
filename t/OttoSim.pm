# OttoSim: helpers for TAP tests that feed the market simulator's pages to Otto.
package OttoSim;
use strict;
use warnings;
use Exporter 'import';
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP;

our @EXPORT_OK = qw(gz csv write_ad_pages_csv);

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

1;
