"""Write hostile seed inputs for the fuzzers into the folder given (bytes, as a server might send them)."""
import os
import sys

out = sys.argv[1]
row = '<div class="divider"><div class="uk-width-1-2">{}</div><div class="uk-width-1-2 uk-text-bold">{}</div></div>'
seeds = {
    'control_rows': ''.join(row.format('Gorivo', 'D' + chr(c) + 'z') + row.format('Boja', 'B&#%d;' % c) for c in range(1, 32)).encode(),
    'nul_and_invalid_utf8': b'<h1>T\x00i\xc3\x28t\xff\xfe</h1>' + row.format('Gorivo', 'Dizel').encode() + b'\xed\xa0\x80\xf4\x90\x80\x80',
    'huge_attribute': b'<a href="' + b'x' * 200000 + b'">x</a><link rel="canonical" href="' + b'/' * 100000,
    'deep_nesting': b'<div class="divider">' * 20000 + b'<h1>deep</h1>' + b'<a href=/x>' * 5000,
    'unclosed_script_objects': b'<script>' + b'dataLayer.push({"object_uid": "1", "object_fuel": "D\\u0001z", ' * 3000,
    'jsonld_escapes': b'<script type="application/ld+json">{"@type": "Car", "fuelType": "D\\u0001z", "brand": '
                      + b'[' * 3000 + b'1' + b']' * 3000 + b', "offers": {"price": "1e309", "priceCurrency": "EUR"}}</script>',
    'jsonld_vehicle': b'<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": ["Product"], '
                      b'"name": "X\\u0001", "brand": {"name": ["B"]}, "offers": [{"@type": "Offer", "price": "-1", "priceCurrency": "EUR", '
                      b'"itemCondition": "https://schema.org/UsedCondition", "offeredBy": {"@type": "AutoDealer", "address": {"addressLocality": 7}}, '
                      b'"itemOffered": {"@type": "Car", "productionDate": "20231-01", "mileageFromOdometer": {"value": "1e309", "unitCode": "SMI"}, '
                      b'"vehicleEngine": [{"enginePower": [{"value": -5, "unitCode": "KWT"}, {"value": "x", "unitCode": "BHP"}], '
                      b'"engineDisplacement": {"value": 1e300, "unitCode": "LTR"}}], "mainEntity": ' + b'{"mainEntity": ' * 50 + b'1' + b'}' * 50
                      + b'}}]}]}</script>',
    'listing_repeats': b'<article class="classified" data-classifiedid="7\x01" data-price="1.\x02000" data-renewdate="2022-13-45 99:99">'
                       b'<h2><a href="/auto-oglasi/7/x" title="T\x03">t</a></h2></article>' * 2000,
    'entities': b'<h1>' + b''.join(b'&#%d;&#x%x;' % (n, n) for n in (0, 1, 9, 0xD800, 0xFFFF, 0x10FFFF, 0x110000, 99999999999)) + b'&amp&lt;&bogus;</h1>',
    'windows_1250_meta': b'<meta charset="windows-1250"><h1>\x8a\x9a\xe8\xe6\x9e</h1>',
}
for name, data in seeds.items():
    with open(os.path.join(out, name + '.html'), 'wb') as f:
        f.write(data)
