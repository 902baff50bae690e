# The market simulator: determinism, the real site's structure, HTTP
# behaviour (304, gzip, keep-alive, robots, removals) and fault modes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

my $root = $ENV{OTTO_ROOT} or die "OTTO_ROOT is not set";
my $sim  = "$root/sim/otto-sim";
my $real = "$root/../shared/data/real/html";
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
$ENV{PYTHONDONTWRITEBYTECODE} = 1;

sub run_ok { my ($cmd, $name) = @_; is(system($cmd), 0, $name) }
sub slurp_cmd { my $cmd = shift; my $out = `$cmd`; chomp $out; return $out }
sub xpath
{
	my ($file, $expr) = @_;
	$expr =~ s/'/'\\''/g;
	return slurp_cmd("xmllint --html --xpath '$expr' '$file' 2>/dev/null");
}
sub jsonl { my $f = shift; open my $fh, '<', $f or die "$f: $!"; return [ map { decode_json($_) } <$fh> ] }

# --- Determinism: same (seed, day) gives byte-identical pages and truth,
# whether built in one go, day by day, or with another hash seed.
run_ok("$sim init $tmp/a --seed 11 --ads 600 --port $port --day 2 2>/dev/null", 'build seed 11 to day 2');
run_ok("PYTHONHASHSEED=99 $sim init $tmp/b --seed 11 --ads 600 --port $port --day 2 2>/dev/null", 'again, other hash seed');
run_ok("$sim init $tmp/c --seed 11 --ads 600 --port $port 2>/dev/null && $sim advance $tmp/c 2>/dev/null && $sim advance $tmp/c 2>/dev/null",
	'again, one day at a time');
for my $o ('b', 'c')
{
	is(system("diff -r -q $tmp/a/www $tmp/$o/www >/dev/null"), 0, "pages byte-identical ($o)");
	is(system("diff -r -q $tmp/a/truth $tmp/$o/truth >/dev/null"), 0, "truth byte-identical ($o)");
}
run_ok("$sim init $tmp/d --seed 12 --ads 600 --port $port 2>/dev/null", 'another seed');
isnt(system("cmp -s $tmp/a/truth/day-000/ads.jsonl $tmp/d/truth/day-000/ads.jsonl"), 0, 'another seed gives another market');

# --- Serve it.
is(slurp_cmd("$sim up $tmp/a --port $port"), $base, 'up prints the base URL');
my $truth = jsonl("$tmp/a/truth/day-002/ads.jsonl");
my $meta = decode_json(slurp_file("$tmp/a/truth/day-002/meta.json"));
is($meta->{day}, 2, 'truth is of day 2');
is(scalar @$truth, $meta->{live_ads}, 'truth lists every live ad');

my $ad = (grep { defined $_->{price_eur} && $_->{seller_type} eq 'private' } @$truth)[0];
my $dealer = (grep { $_->{seller_type} eq 'dealer' } @$truth)[0];
system("curl -s -o $tmp/ad.html '$ad->{url}?attp=p1_pv0_pc1_pl1_plv0'");
system("curl -s -o $tmp/list.html '$base/auto-oglasi/pretraga?page=1&sort=basic'");
my $mk = slurp_cmd("curl -s -o $tmp/make.html -w '%{http_code}' '$base/auto-oglasi/audi'");
is($mk, '200', 'per-make listing page');

# --- Structure: the simulator's pages answer the real pages' selectors the same way.
my %ad_pages = (sim => "$tmp/ad.html", real => "$real/maxandreevich_2022-12_ad_20645877_audi_a4_private.html");
my %list_pages = (sim => "$tmp/list.html", real => "$real/maxandreevich_2022-12_search_audi_page1.html");
for my $k (sort keys %ad_pages)
{
	my $f = $ad_pages{$k};
	like(xpath($f, "string(//link[\@rel='canonical']/\@href)"), qr{^https?://[^/]+/auto-oglasi/\d+/[a-z0-9-]+$}, "$k ad: canonical link");
	for my $label ('Marka', 'Model', 'Godište', 'Kilometraža', 'Karoserija', 'Gorivo', 'Kubikaža',
		'Snaga motora', 'Menjač', 'Boja', 'Broj sedišta', 'Broj vrata', 'Pogon', 'Klima',
		'Emisiona klasa motora', 'Registrovan do', 'Poreklo vozila', 'Oštećenje')
	{
		isnt(xpath($f, "normalize-space(//div[\@class='divider'][.//div[\@class='uk-width-1-2'][normalize-space()='$label']]//div[contains(\@class,'uk-text-bold')])"),
			'', "$k ad: label/value row $label");
	}
	like(xpath($f, "normalize-space(//div[\@class='divider'][.//div[normalize-space()='Kilometraža']]//div[contains(\@class,'uk-text-bold')])"),
		qr/^\d{1,3}(\.\d{3})* km$/, "$k ad: mileage format");
	like(xpath($f, "normalize-space(//div[\@class='divider'][.//div[normalize-space()='Snaga motora']]//div[contains(\@class,'uk-text-bold')])"),
		qr{^\d+/\d+ \(kW/KS\)$}, "$k ad: power format");
	like(xpath($f, "normalize-space(//span[contains(\@class,'priceClassified')])"), qr/^\d{1,3}(\.\d{3})* €$/, "$k ad: price format");
	is(xpath($f, "count(//script[contains(.,'dataLayer.push({\"fair_offer\"')])"), '1', "$k ad: dataLayer object");
	is(xpath($f, "count(//script[\@type='application/ld+json'][contains(.,'\"Car\"')])"), '1', "$k ad: JSON-LD Car");
	cmp_ok(xpath($f, "count(//ul[\@id='image-gallery']/li)"), '>', 0, "$k ad: gallery");
	cmp_ok(xpath($f, "count(//div[contains(\@class,'uk-margin-small-bottom')])"), '>', 0, "$k ad: equipment list");
}
for my $k (sort keys %list_pages)
{
	my $f = $list_pages{$k};
	is(xpath($f, "count(//article[contains(concat(' ',\@class,' '),' classified ')][\@data-classifiedid][\@data-price][\@data-renewdate])"),
		'25', "$k listing: 25 article.classified cards with id, price, renew date");
	is(xpath($f, "count(//article[contains(concat(' ',\@class,' '),' classified ')]//h2/a[contains(\@class,'ga-title')])"),
		'25', "$k listing: h2 a.ga-title per card");
	like(xpath($f, "string(//a[contains(\@class,'js-pagination-next')][\@rel='next']/\@href)"),
		qr{^/auto-oglasi/pretraga\?page=2&sort=basic}, "$k listing: next page link");
	cmp_ok(xpath($f, "count(//section[contains(\@class,'topFeaturedClassified')][\@data-classifiedid])"), '>=', 2,
		"$k listing: promoted block repeating ads");
	like(xpath($f, "normalize-space(//small[contains(.,'Prikazano')])"), qr/^Prikazano od 1 do 25 oglasa od ukupno \d+$/,
		"$k listing: total count");
	like(xpath($f, "string(//article[contains(\@class,'classified')][1]//h2/a/\@href)"),
		qr{^/auto-oglasi/\d+/[a-z0-9-]+\?attp=}, "$k listing: ad links carry a tracking query");
}

# --- The ad page shows the truth.
is(xpath($ad_pages{sim}, "string(//link[\@rel='canonical']/\@href)"), $ad->{url}, 'canonical is the truth URL');
(my $price = $ad->{price_eur}) =~ s/(\d)(?=(\d{3})+$)/$1./g;
is(xpath($ad_pages{sim}, "normalize-space(//span[contains(\@class,'priceClassified')])"), "$price €", 'price as the truth');
like(slurp_file($ad_pages{sim}), qr/č|ž|š|ć|đ/, 'UTF-8 diacritics on the page');

# --- HTTP behaviour.
my $hdr = slurp_cmd("curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' '$ad->{url}'");
like($hdr, qr/^Content-Encoding: gzip/mi, 'gzip');
my ($etag) = $hdr =~ /^ETag: (\S+)/mi;
my ($lm) = $hdr =~ /^Last-Modified: ([^\r\n]+)/mi;
ok($etag && $lm, 'ETag and Last-Modified');
is(slurp_cmd("curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H 'If-None-Match: $etag' '$ad->{url}'"), '304', '304 on If-None-Match');
is(slurp_cmd("curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H 'If-Modified-Since: $lm' '$ad->{url}'"), '304', '304 on If-Modified-Since');
like(slurp_cmd("curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' '$base/robots.txt' '$base/'"), qr/^1 0\s*$/, 'keep-alive reuses the connection');
my $robots = slurp_cmd("curl -s $base/robots.txt");
like($robots, qr/^Disallow: \/redirect\//m, 'robots.txt disallows a path');
like($robots, qr/^Crawl-delay: \d+/m, 'robots.txt states a crawl delay');
is(slurp_cmd("curl -s -o /dev/null -w '%{http_code}' '$base/_l/_all/1.html'"), '404', 'internal paths are not served');

# --- The next day: removed ads answer 404, 410 or a redirect to a listing, as the truth says.
run_ok("$sim advance $tmp/a 2>/dev/null", 'advance a day');
my $events = jsonl("$tmp/a/truth/day-003/events.jsonl");
my @removed = grep { $_->{kind} eq 'removed' && $_->{day} == 3 } @$events;
my %url = map { $_->{source_ad_id} => $_->{url} } @$truth;
my ($right, $checked, %seen) = (0, 0);
for my $e (@removed)
{
	next unless $url{ $e->{source_ad_id} };
	my $code = slurp_cmd("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' '$url{$e->{source_ad_id}}'");
	$checked++;
	$seen{ $e->{http} }++;
	$right++ if ($e->{http} == 301 ? $code =~ m{^301 \Q$base\E/auto-oglasi/[a-z0-9-]+$} : $code eq "$e->{http} ");
}
cmp_ok($checked, '>', 5, "ads removed on day 3 ($checked)");
is($right, $checked, 'every removed ad answers as the truth says (404, 410 or 301 to its make)');

# --- Fault modes, per path and by rate.
my @ads = @{ jsonl("$tmp/a/truth/day-003/ads.jsonl") }[ 10 .. 20 ];
my @paths = map { (my $x = $_->{url}) =~ s{^\Q$base\E}{}; $x } @ads;
my %fault = (500 => $paths[0], 503 => $paths[1], reset => $paths[2], loop => $paths[3], oversize => $paths[4],
	truncated => $paths[5], wrong_type => $paths[6], non_utf8 => $paths[7], slow => $paths[8]);
run_ok("$sim fault $tmp/a " . join(' ', map { "--path '$fault{$_}=$_'" } sort keys %fault) . " >/dev/null", 'set path faults');
is(slurp_cmd("curl -s -o /dev/null -w '%{http_code}' '$base$fault{500}'"), '500', 'fault 500');
like(slurp_cmd("curl -s -D - -o /dev/null '$base$fault{503}'"), qr/^HTTP\/1.1 503.*^Retry-After: 2/ms, 'fault 503 with Retry-After');
is(system("curl -s -o /dev/null '$base$fault{reset}'") >> 8, 52, 'fault reset: connection closed without a response');
is(system("curl -s -L --max-redirs 5 -o /dev/null '$base$fault{loop}'") >> 8, 47, 'fault loop: redirects never end');
cmp_ok(slurp_cmd("curl -s -o /dev/null -w '%{size_download}' '$base$fault{oversize}'"), '>', 50_000_000, 'fault oversize: 64 MB page');
my $trunc = slurp_cmd("curl -s '$base$fault{truncated}'");
ok(length($trunc) > 1000 && $trunc !~ m{</html>}, 'fault truncated: the page stops mid-way');
like(slurp_cmd("curl -s -o /dev/null -w '%{content_type}' '$base$fault{wrong_type}'"), qr{^image/jpeg}, 'fault wrong_type');
system("curl -s -o $tmp/cp1250.html '$base$fault{non_utf8}'");
my $bytes = slurp_file("$tmp/cp1250.html");
ok($bytes =~ /[\x80-\xff]/ && !utf8::decode(my $copy = $bytes), 'fault non_utf8: body is not UTF-8');
like(slurp_cmd("curl -s -o /dev/null -w '%{content_type}' '$base$fault{non_utf8}'"), qr/windows-1250/, 'fault non_utf8: declared windows-1250');
like(slurp_cmd("curl -s -o /dev/null -w '%{speed_download}' '$base$fault{slow}'"), qr/^\d+/, 'fault slow answers');
cmp_ok(slurp_cmd("curl -s -o /dev/null -w '%{speed_download}' '$base$fault{slow}'"), '<', 5000, 'fault slow: rate limited to about 1 kB/s');
run_ok("$sim fault $tmp/a --path /robots.txt=503 >/dev/null", 'robots.txt fault');
like(slurp_cmd("curl -s -D - -o /dev/null '$base/robots.txt'"), qr/^HTTP\/1.1 503.*^Retry-After: 2/ms, 'robots.txt answers 503');
isnt(system("$sim fault $tmp/a --path /robots.txt=slow >/dev/null 2>&1"), 0, 'robots.txt takes no fault but 500, 503 and reset');

run_ok("$sim fault $tmp/a --clear --rate 500=0.3 >/dev/null", 'rate fault: 30% 500s');
my $n500 = 0;
$n500 += (slurp_cmd("curl -s -o /dev/null -w '%{http_code}' '$base/robots.txt'") eq '500') for 1 .. 200;
ok($n500 > 30 && $n500 < 90, "rate fault drawn per request ($n500 of 200)");
run_ok("$sim fault $tmp/a --clear >/dev/null", 'clear faults');
is(slurp_cmd("curl -s -o /dev/null -w '%{http_code}' '$base$fault{500}'"), '200', 'cleared');

run_ok("$sim stop $tmp/a", 'stop');
isnt(system("curl -s -o /dev/null '$base/robots.txt'"), 0, 'stopped');

# --- Dynamics over 30 days follow the model.
run_ok("$sim init $tmp/m --seed 5 --ads 1000 --port $port --day 30 2>/dev/null", 'a 30-day market');
$events = jsonl("$tmp/m/truth/day-030/events.jsonl");
my (%n, %sold);
my %first = map { $_->{source_ad_id} => $_ } grep { $_->{kind} eq 'new' && $_->{day} == 0 } @$events;
for my $e (grep { $_->{kind} eq 'removed' } @$events)
{
	next unless $first{ $e->{source_ad_id} } && defined $e->{price_eur};
	$sold{ $e->{source_ad_id} } = $e;
}
my %share;
my $final = jsonl("$tmp/m/truth/day-030/ads.jsonl");
my %live_hidden = map { $_->{source_ad_id} => $_ } @$final;
for my $e (values %sold)
{
	my $r = $e->{price_eur} / $e->{fair_value_eur};
	my $b = $r < 0.9 ? 'under' : $r > 1.1 ? 'over' : 'fair';
	$n{$b}{sold}++;
}
for my $l (@$final)
{
	next unless $first{ $l->{source_ad_id} } && defined $l->{price_eur};
	my $r = $l->{price_eur} / $l->{hidden}{fair_value_eur};
	my $b = $r < 0.9 ? 'under' : $r > 1.1 ? 'over' : 'fair';
	$n{$b}{live}++;
}
$share{$_} = $n{$_}{sold} / ($n{$_}{sold} + $n{$_}{live}) for keys %n;
cmp_ok($share{under}, '>', $share{fair}, sprintf('under-priced ads sell faster (%.2f vs %.2f sold in 30 days)', $share{under}, $share{fair}));
cmp_ok($share{fair}, '>', $share{over}, sprintf('over-priced ads sell slower (%.2f vs %.2f)', $share{fair}, $share{over}));
my @cuts = grep { $_->{kind} eq 'price_changed' } @$events;
cmp_ok(scalar @cuts, '>', 100, 'sellers cut prices');
is(scalar(grep { $_->{new_price_eur} >= $_->{old_price_eur} } @cuts), 0, 'every price change is a cut');
my @relists = grep { $_->{kind} eq 'relisted' } @$events;
my %removed = map { $_->{source_ad_id} => $_ } grep { $_->{kind} eq 'removed' } @$events;
cmp_ok(scalar @relists, '>', 10, 'some sold cars come back');
is(scalar(grep { !$removed{ $_->{relist_of} } } @relists), 0, 'a relist is always of a removed ad, under a new id');
my %http = map { $_->{http} => 1 } values %removed;
is(join(',', sort keys %http), '301,404,410', 'removals mix 404, 410 and redirects');
my @by_pop = sort { $a->{popularity} <=> $b->{popularity} } grep { $first{ $_->{source_ad_id} } } values %removed;
my $q = int(@by_pop / 4);
my $mean = sub { my $s = 0; $s += $_->{days_on_market} for @_; $s / @_ };
cmp_ok($mean->(@by_pop[ -$q .. -1 ]) , '<=', $mean->(@by_pop[ 0 .. $q - 1 ]) + 1,
	'popular models sell at least as fast as unpopular ones');

done_testing();
