"""Pages in the real site's markup (see ../shared/data/real/html).

Class names, labels, number formats and the three data sources of an ad page
(label/value rows, the dataLayer object, JSON-LD) follow the saved real pages.
Output is a pure function of the ad, the day and the base URL.
"""
import html
import json
import time

from market import (AIR_CONDITIONING, BODY, COLOR, CONDITION, DAMAGE, DRIVE, FUEL, GEARBOX,
                    ORIGIN, FEATURES, slugify)

PER_PAGE = 25
SECTION_OF = {label: section for section, label in FEATURES}


def thousands(n):
    """1234567 -> '1.234.567' (the site's thousands separator is '.')."""
    return "{:,}".format(n).replace(",", ".")


def price_text(p):
    return "Po dogovoru" if p is None else thousands(p) + " €"


def stamp(ts):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def php_json(obj):
    """JSON as PHP's json_encode writes it on the site: \\u escapes and '\\/'."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def esc(s):
    return html.escape(s, quote=True)


HEAD = """<!DOCTYPE html>
<html lang="sr">
<head>
	<meta charset="utf-8">
	<title>{title} | Polovni Automobili</title>
	<meta name="viewport" content="width=device-width, initial-scale=1">
	<meta name="description" content="{description}">
	<meta property="og:type" content="website">
	<meta property="og:site_name" content="www.polovniautomobili.com">
	<meta property="og:title" content="{title} | Polovni Automobili">
	<meta property="og:url" content="{canonical}">
	<link rel="canonical" href="{canonical}">
	<link rel="stylesheet" href="/bundles/site/css/main.css?v=20261001">
	<script>
		(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start': new Date().getTime(),event:'gtm.js'}});var f=d.getElementsByTagName(s)[0], j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f); }})(window,document,'script','dataLayer','GTM-SIM0000');
	</script>
	{datalayer}
</head>
<body>
<header class="uk-navbar">
	<a href="/" class="logo"><img src="/bundles/site/images/logo.svg" alt="Polovni Automobili"></a>
	<ul class="uk-navbar-nav">
		<li><a href="/auto-oglasi/pretraga?page=1&amp;sort=basic&amp;attp=navigacija_header">Putnička vozila</a></li>
		<li><a href="/oglas/odabir-kategorije?attp=navigacija_header" onclick="dataLayer.push({{'event': 'ad posting header'}});">Postavi oglas</a></li>
		<li><a href="/redirect/sacuvane-pretrage">Sačuvane pretrage</a></li>
		<li><a href="/login">Prijavi se</a></li>
		<li><a href="/auto-prodavci">Auto prodavci</a></li>
		<li><a href="#" class="js-menu">Meni</a></li>
		<li><a href="javascript:void(0)" class="js-theme">Tema</a></li>
	</ul>
</header>
"""

FOOTER = """<footer class="footer">
	<ul>
		<li><a href="/najtrazeniji-modeli/">Najtraženiji modeli</a></li>
		<li><a href="/bavite-se-trgovinom">Bavite se trgovinom?</a></li>
		<li><a href="mailto:kontakt@polovniautomobili.com">kontakt@polovniautomobili.com</a></li>
		<li><a href="https://www.facebook.com/polovniautomobili" rel="noopener" target="_blank">Facebook</a></li>
		<li><a href="https://www.instagram.com/polovnjaci" rel="noopener" target="_blank">Instagram</a></li>
	</ul>
	<p>&copy; 2026 Polovni automobili doo (simulacija za testiranje)</p>
</footer>
<script type="application/ld+json">
[
{{
"@context" : "https://schema.org",
"@type" : "WebSite",
"name": "Polovniautomobili.com",
"url" : "{base}"
}},
{{
"@context" : "https://schema.org",
"@type" : "Organization",
"url" : "{base}",
"legalName" : "Polovni automobili doo"
}}
]
</script>
</body>
</html>
"""


def _row(label, value, last=False):
    style = ' style="border-bottom: none"' if last else ""
    return ("\t\t<div class=\"divider\"%s>\n\t\t\t<div class=\"uk-grid\">\n"
            "\t\t\t\t<div class=\"uk-width-1-2\">%s</div>\n"
            "\t\t\t\t<div class=\"uk-width-1-2 uk-text-bold\">%s</div>\n"
            "\t\t\t</div>\n\t\t</div>\n") % (style, label, value)


def _info_box(title, body):
    return ("<section class=\"uk-grid uk-margin-top\">\n<div class=\"uk-width-1-1\">\n<div class=\"infoBox\">\n"
            "<h2 class=\"classified-title js-title-toggle position-relative\">%s</h2>\n"
            "<div class=\"uk-grid js-hidden uk-margin-top\">\n%s</div>\n</div>\n</div>\n</section>\n") % (title, body)


def registered_text(ad):
    if not ad["registered_until"]:
        return "Nije registrovan"
    y, m, _ = ad["registered_until"].split("-")
    return "%s.%s." % (m, y)


def ad_url(base, ad):
    return "%s/auto-oglasi/%s/%s" % (base, ad["source_ad_id"], ad["slug"])


def image_urls(ad):
    n = int(ad["source_ad_id"])
    return ["https://gcdn.polovniautomobili.com/user-images/thumbs/%d/%d/%012x" % (n // 10000, n, (n * 2654435761 + i * 40503) % (16 ** 12))
            for i in range(ad["images_count"])]


def render_ad(ad, base):
    """The ad page at /auto-oglasi/<id>/<slug>."""
    canonical = ad_url(base, ad)
    title = esc(ad["title"])
    year_text = "%d." % ad["year"]
    images = image_urls(ad)
    datalayer = {
        "fair_offer": "0", "rubrika": "Putnička vozila", "vrstaStranice": "Oglas", "id": ad["source_ad_id"],
        "category": "Putnička vozila", "name": ad["title"], "marka": ad["make"], "model": ad["model"],
        "godiste": str(ad["year"]), "ownerId": str(ad["owner_id"]),
        "price": "" if ad["price_eur"] is None else str(ad["price_eur"]),
        "companyName": ad["seller_name"] or "", "karoserija": BODY[ad["body"]], "gorivo": FUEL[ad["fuel"]],
        "condition": ad["condition"], "object_type": "oglas", "object_uid": ad["source_ad_id"],
        "object_last_renewed_date": stamp(ad["renewed_at"]), "object_owner_uid": str(ad["owner_id"]),
        "object_city": ad["location"], "object_area": ad["region"],
        "object_price": "" if ad["price_eur"] is None else str(ad["price_eur"]),
        "object_category": "automobili", "object_brand": ad["make"], "object_model": ad["model"],
        "object_production_year": str(ad["year"]),
        "object_condition": "novo" if ad["condition"] == "new" else "polovno",
        "object_damage": DAMAGE[ad["damage"]], "object_mileage": str(ad["mileage_km"]),
        "object_chassis": BODY[ad["body"]], "object_door_num": ad["doors"], "object_fuel": FUEL[ad["fuel"]],
        "object_engine_volume": str(ad["engine_cc"]), "object_engine_horsepower": str(ad["power_hp"]),
        "object_gear_box": GEARBOX[ad["gearbox"]], "object_air_conditioner": AIR_CONDITIONING[ad["air_conditioning"]],
        "object_wheel_side": "Levi volan", "object_origin": ORIGIN[ad["origin"]],
        "object_trade_in": "zamena" if ad["trade_in"] else "bez zamene",
        "object_images_count": str(ad["images_count"]),
        "object_discount_mark_visible": "yes" if ad["old_price_eur"] else "no",
    }
    head = HEAD.format(
        title=title, canonical=esc(canonical),
        description=esc("%s, %s godište, %s, %s %d cm3, vozilo prešlo %d km, %s. Putnička vozila - Polovni Automobili"
                        % (ad["title"], year_text, BODY[ad["body"]], FUEL[ad["fuel"]], ad["engine_cc"],
                           ad["mileage_km"], ad["location"])),
        datalayer="<script>\n\t\t\t\tdataLayer.push(%s);\n\t</script>" % php_json(datalayer))

    gallery = "".join(
        '\t<li data-thumb="%s-125x100.jpg" data-src="%s-1920x1080.jpg" class="uk-text-center">\n'
        '\t\t<img src="%s-800x600.jpg" class="js_counter" alt="%s" title="%s" data-image-id="%d">\n\t</li>\n'
        % (u, u, u, title, title, 100000000 + int(ad["source_ad_id"]) % 1000000 * 50 + i)
        for i, u in enumerate(images))

    general = "".join([
        _row("Stanje:", CONDITION[ad["condition"]]), _row("Marka", esc(ad["make"])), _row("Model", esc(ad["model"])),
        _row("Godište", year_text), _row("Kilometraža", thousands(ad["mileage_km"]) + " km"),
        _row("Karoserija", BODY[ad["body"]]), _row("Gorivo", FUEL[ad["fuel"]], last=True)])
    general2 = "".join([
        _row("Kubikaža", "%d cm<sup>3</sup>" % ad["engine_cc"]),
        _row("Snaga motora", "%d/%d (kW/KS)" % (ad["power_kw"], ad["power_hp"])),
        _row("Fiksna cena", "DA" if ad["fixed_price"] else "NE"),
        _row("Zamena:", "DA" if ad["trade_in"] else "NE"),
        _row("Broj oglasa:", ad["source_ad_id"], last=True)])
    extra1 = "".join([
        _row("Emisiona klasa motora", ad["emission_class"] + " "), _row("Pogon", DRIVE[ad["drive"]] + " "),
        _row("Menjač", GEARBOX[ad["gearbox"]] + " "), _row("Broj vrata", ad["doors"] + " "),
        _row("Broj sedišta", "%d sedišta " % ad["seats"]), _row("Strana volana", "Levi volan "),
        _row("Klima", AIR_CONDITIONING[ad["air_conditioning"]] + " ", last=True)])
    extra2 = "".join([
        _row("Boja", COLOR[ad["color"]] + " "), _row("Registrovan do", registered_text(ad) + " "),
        _row("Poreklo vozila", ORIGIN[ad["origin"]] + " "), _row("Oštećenje", DAMAGE[ad["damage"]] + " ", last=True)])

    sections = ""
    for section in ("Sigurnost", "Oprema", "Stanje"):
        items = [f for f in ad["features"] if SECTION_OF[f] == section]
        if items:
            sections += _info_box(section, "".join(
                '<div class="uk-width-medium-1-4 uk-width-1-2 uk-margin-small-bottom">%s</div>\n' % esc(f) for f in items))

    if ad["price_eur"] is not None and ad["old_price_eur"]:
        price_html = ('<span class="priceClassified discountedPriceColor" style=" padding-bottom: 0;">%s</span>\n'
                      '<span class="oldPriceClassified"><del>%s</del></span>\n'
                      % (price_text(ad["price_eur"]), price_text(ad["old_price_eur"])))
    else:
        price_html = ('<span class="priceClassified regularPriceColor" style=" padding-bottom: 0;">%s</span>\n'
                      % price_text(ad["price_eur"]))
    if ad["seller_type"] == "dealer":
        dealer_slug = slugify(ad["seller_name"])
        seller = ('<div class="js-tutorial-logo"><h3><a href="/%s" class="js_ga-event">%s</a></h3></div>\n'
                  '<a href="/%s" class="js_ga-event">Kompletna ponuda</a>\n' % (dealer_slug, esc(ad["seller_name"]), dealer_slug))
    else:
        seller = ""

    car_ld = (
        '<script type="application/ld+json">\n[\n{\n"@context":"https://schema.org","@type":"Car",\n'
        '"url":" %s ",\n"image":" %s-800x600.jpg ",\n"brand":" %s ",\n"model":" %s ",\n"manufacturer":" %s ",\n'
        '"productionDate":" %d ",\n"fuelType":" %s ",\n"bodyType":" %s",\n"vehicleEngine":" %d.00 KWT",\n'
        '"mileageFromOdometer": "%s KMT",\n"name":" %s "\n}\n]\n</script>\n'
        % (canonical, images[0] if images else base + "/bundles/site/images/no-image",
           esc(ad["make"]), esc(ad["model"]), esc(ad["make"]), ad["year"], FUEL[ad["fuel"]], BODY[ad["body"]],
           ad["power_kw"], thousands(ad["mileage_km"]), esc(ad["title"])))
    images_ld = ('<script type="application/ld+json">\n[\n%s\n]\n</script>\n'
                 % ",".join('{"@context":"https://schema.org","@type":"ImageObject","caption":"%s-800x600.jpg"}' % u
                            for u in images))
    description = "<br />\n".join(esc(s) for s in ad["description"].split(". ") if s)

    return "".join([
        head,
        '<div class="uk-container uk-container-center">\n<div class="table js-tutorial-all">\n<div class="table-cell-left">\n',
        "<h1>\n%s\n<small>\n%s godište\n</small>\n</h1>\n" % (title, year_text),
        '<div class="item item-gallery js-tutorial-photo">\n<ul id="image-gallery" class="gallery list-unstyled cS-hidden">\n',
        gallery, "</ul>\n</div>\n",
        '<div class="classified-content" id="classified-content">\n<section class="js_fixedContetLoad">\n'
        '<div class="infoBox">\n<h2 class="classified-title">Opšte informacije</h2>\n<div class="uk-grid">\n'
        '\t<div class="uk-width-large-1-2 uk-width-medium-1-1 uk-width-1-1">\n', general,
        '\t</div>\n\t<div class="uk-width-medium-1-2" style="padding-left: 40px">\n', general2,
        "\t</div>\n</div>\n</div>\n</section>\n</div>\n",
        _info_box("Dodatne informacije",
                  '<div class="uk-width-medium-1-2 uk-width-1-1">\n%s</div>\n'
                  '<div class="uk-width-medium-1-2 uk-width-1-1" style="padding-left: 40px">\n%s</div>\n' % (extra1, extra2)),
        sections,
        '<section class="uk-grid uk-margin-top">\n<div class="uk-width-1-1">\n<div class="infoBox" id="classifiedReplaceDescription">\n'
        '<h2 class="classified-title position-relative">\nOpis\n</h2>\n<div class="uk-grid uk-margin-top">\n'
        '<div class="uk-width-1-1 description-wrapper">\n%s\n</div>\n</div>\n</div>\n</div>\n</section>\n' % description,
        "</div>\n",
        '<aside class="table-cell side uk-hidden-medium uk-hidden-small width-320">\n<div class="financing">\n',
        price_html, '<div style="margin-bottom: 10px">\n<span>+ registracija</span>\n</div>\n</div>\n',
        '<section class="uk-grid">\n<div class="uk-width-1-1">\n<div class="infoBox js-tutorial-contact">\n', seller,
        '<div class="uk-grid uk-margin-top-remove">\n<div class="uk-width-1-2">\n%s<br>\n</div>\n</div>\n'
        '<div class="uk-width-1-1 contact-phone-box">\n<span class="chosen-contact-number helper">06%08d</span>\n</div>\n'
        % (esc(ad["location"]), ad["owner_id"] % 100000000),
        "</div>\n</div>\n</section>\n</aside>\n</div>\n</div>\n",
        car_ld, images_ld,
        FOOTER.format(base=base)])


def _card(ad, page, base):
    href = "/auto-oglasi/%s/%s?attp=p%d_pv0_pc1_pl1_plv0" % (ad["source_ad_id"], ad["slug"], page)
    title = esc(ad["title"])
    images = image_urls(ad)
    first = images[0] if images else base + "/bundles/site/images/no-image"
    sub = ", ".join(f for f in ad["features"][:3])
    return (
        '<article class="classified ad-{id} ordinaryClassified usedCarFeatured"  data-ownerid="{owner}" '
        'data-classifiedid="{id}" data-price="{price}" data-renewdate="{renew}">\n'
        '<div class="image">\n<a onclick="dataLayer.push({{\'event\':\'klikIstaknut\'}});" href="{href}" class="firstImage">\n'
        '<img class="lazy lead" src="" data-src="{img}-370x278.jpg">\n<span class="imageCount">\n{nimg} <i class="uk-icon uk-icon-image"></i>\n</span>\n</a>\n</div>\n'
        '<div class="textContentHolder">\n<div class="textContent">\n<h2>\n'
        '<a onclick="dataLayer.push({{\'event\':\'klikIstaknut\'}});" href="{href}" title="{title}" class="ga-title">\n{title}\t\t\t\t\t\t\t</a>\n'
        '<div class="subtitle">\n{sub}</div>\n</h2>\n'
        '<div class="price " style="margin-bottom: 0">\n{price}\n</div>\n'
        '<div class="info">\n<div class="setInfo">\n<div class="top" title="{year}. {body}">{year}. {body}</div>\n'
        '<div class="bottom" title="{fuel} | {cc} cm3">{fuel} | {cc} cm<sup>3</sup></div>\n</div>\n'
        '<div class="setInfo">\n<div class="top" title="{km} km">{km} km</div>\n'
        '<div class="bottom uk-hidden-medium uk-hidden-small" title="{kw}kW ({hp}KS)">{kw}kW ({hp}KS)</div>\n</div>\n'
        '<div class="setInfo uk-hidden-small">\n<div class="top" title="{gear}">{gear}</div>\n'
        '<div class="bottom" title="{doors}, {seats} sedišta">\n{doors},\n{seats} sedišta\n</div>\n</div>\n</div>\n'
        '</div>\n<div class="badge">\n<span>{origin}</span>\n</div>\n</div>\n'
        '<div class="city"><i class="uk-icon-map-marker"></i> {city}</div>\n</article>\n'
        '<script type="application/ld+json">\n[\n{{\n"@context":"https://schema.org",\n"@type":"Car",\n'
        '"url":" {canonical}",\n"brand":" {make}",\n"model":" {model}",\n"productionDate":" {year}",\n'
        '"fuelType":" {fuel}",\n"vehicleEngine":" {kw} KWT",\n"mileageFromOdometer": "{km} KMT",\n"name":" {title}"\n}}\n]\n</script>\n'
    ).format(id=ad["source_ad_id"], owner=ad["owner_id"], price=price_text(ad["price_eur"]),
             renew=stamp(ad["renewed_at"]), href=esc(href), img=first, nimg=ad["images_count"], title=title,
             sub=esc(sub), year=ad["year"], body=BODY[ad["body"]], fuel=FUEL[ad["fuel"]], cc=ad["engine_cc"],
             km=thousands(ad["mileage_km"]), kw=ad["power_kw"], hp=ad["power_hp"], gear=GEARBOX[ad["gearbox"]],
             doors=ad["doors"], seats=ad["seats"], origin=ORIGIN[ad["origin"]], city=esc(ad["location"]),
             canonical=ad_url(base, ad), make=esc(ad["make"]), model=esc(ad["model"]))


def _promoted(ad):
    href = "/auto-oglasi/%s/%s?attp=p19_pv0_pc1_pl10_plv0" % (ad["source_ad_id"], ad["slug"])
    return ('<section\nclass="classified topFeaturedClassified above-search-results "\nid="featured-item-{id}"\n'
            'data-classifiedid="{id}">\n<div class="top-featured-wrapper">\n'
            '<a data-classifiedid="{id}" href="{href}" class="ga-topSearch-paid-1">\n</a>\n'
            '<div class="ad-basic-info position-relative">\n<h2 class="brand-and-model">\n'
            '<a href="{href}" data-classifiedid="{id}" class="ga-topSearch-paid-1">\n{title}\n</a>\n</h2>\n'
            '<span class="price">{price}</span>\n</div>\n</div>\n</section>\n'
            ).format(id=ad["source_ad_id"], href=esc(href), title=esc(ad["title"]), price=price_text(ad["price_eur"]))


def listing_href(brand, page):
    """Pagination links, with the site's mix of raw '&' and '&amp;'."""
    b = "&brand=%s" % brand if brand else ""
    return "/auto-oglasi/pretraga?page=%d&sort=basic%s&amp;city_distance=0&amp;without_price=1" % (page, b)


def render_listing(ads, promoted, brand, brand_name, page, base):
    """One page of search results: 25 cards, promoted repeats above them, pagination."""
    total = len(ads)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    chunk = ads[(page - 1) * PER_PAGE: page * PER_PAGE]
    if brand and page == 1:
        canonical = "%s/auto-oglasi/%s" % (base, brand)
    else:
        canonical = "%s/auto-oglasi/pretraga?page=%d&sort=basic%s" % (base, page, "&brand=" + brand if brand else "")
    title = "%s - Polovni automobili" % (brand_name or "Putnička vozila")
    pag = ['<ul class="uk-pagination uk-pagination-left">\n']
    if page > 1:
        pag.append('<li><a class="js-pagination-prev" href="%s" rel="prev">&laquo;</a></li>\n' % listing_href(brand, page - 1))
    for p in range(max(1, page - 2), min(pages, page + 2) + 1):
        pag.append('<li class="uk-active"><span>%d</span></li>\n' % p if p == page else
                   '<li><a class="js-pagination-numeric" href="%s">%d</a></li>\n' % (listing_href(brand, p), p))
    if page < pages:
        pag.append('<li>\n<a title="Sledeća stranica" class="js-pagination-next" href="%s" data-page="%d" rel="next">\n'
                   '<span><i class="uk-icon-angle-double-right"></i></span>\n</a>\n</li>\n' % (listing_href(brand, page + 1), page + 1))
    pag.append("</ul>\n")
    shown = ('<small>Prikazano od %d do %d oglasa od ukupno %d</small>\n'
             % ((page - 1) * PER_PAGE + 1 if chunk else 0, (page - 1) * PER_PAGE + len(chunk), total))
    head = HEAD.format(title=esc(title), canonical=esc(canonical), description=esc(title),
                       datalayer="<script>dataLayer.push({'brojRezultata': %d,'event': 'brojRezultata'});</script>" % total)
    return "".join([
        head, '<div class="uk-grid uk-margin-bottom">\n',
        "".join('<div class="uk-width-1-2">\n%s</div>\n' % _promoted(a) for a in promoted),
        '</div>\n<div class="table">\n<div id="search-results" class="table-cell-left">\n<div class="js-hide-on-filter">\n',
        shown, "".join(pag), "</div>\n",
        "".join(_card(a, page, base) for a in chunk),
        '<div class="js-hide-on-filter">\n', shown, "".join(pag), "</div>\n</div>\n</div>\n",
        FOOTER.format(base=base)])


def render_home(makes, base):
    links = "".join('<li><a href="/auto-oglasi/%s">%s</a></li>\n' % (slug, esc(name)) for slug, name in makes)
    head = HEAD.format(title="Polovni automobili", canonical=base + "/", description="Polovni automobili", datalayer="")
    return "".join([head, '<a href="/auto-oglasi/pretraga?page=1&amp;sort=basic">Svi oglasi</a>\n<ul class="brands">\n',
                    links, "</ul>\n", FOOTER.format(base=base)])
