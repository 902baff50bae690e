"""Write a market day to disk as a static site for nginx, plus its truth.

Layout of DIR:
  state.json             the market (all ads with hidden fields, events)
  www/                   nginx root: pages stored gzip-compressed only (gzip_static always,
                         gunzip for clients without gzip); robots.txt, index, ads, listings
  www/_l/<brand>/<n>.html.gz   listing page n of all ads (_all) or of one make
  gone.map, moved.map    sold ads answered 410 / redirected to their make's listing
  truth/day-NNN/         ads.jsonl (live ads, typed), events.jsonl (all so far), meta.json
"""
import gzip
import json
import os
import random
import shutil

import render
from market import DAY, HIDDEN_FIELDS, SIM_EPOCH, TRUTH_FIELDS, slugify

ROBOTS = """User-agent: *
Disallow: /redirect/
Disallow: /oglas/
Crawl-delay: {delay}
"""


def _write_gz(path, text, mtime):
    """Write text gzip-compressed (byte-identical for identical input) with a fixed mtime."""
    data = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)
    return len(data)


def ad_path(www, ad):
    return os.path.join(www, "auto-oglasi", ad["source_ad_id"], ad["slug"] + ".gz")


def write_site(market, d, base, crawl_delay, full=False):
    """Render what changed today (everything when full) and all listing pages."""
    www = os.path.join(d, "www")
    day = market.day
    day_time = SIM_EPOCH + day * DAY
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "robots.txt"), "w") as f:
        f.write(ROBOTS.format(delay=crawl_delay))
    os.utime(os.path.join(www, "robots.txt"), (SIM_EPOCH, SIM_EPOCH))

    rendered = 0
    gone, moved = [], []
    for ad_id in sorted(market.ads):
        ad = market.ads[ad_id]
        path = ad_path(www, ad)
        if ad["state"] == "live":
            if full or ad["changed_day"] == day or not os.path.exists(path):
                _write_gz(path, render.render_ad(ad, base), day_time - DAY * (day - ad["changed_day"]) + ad_id % 3600)
                rendered += 1
        else:
            if os.path.exists(path):
                shutil.rmtree(os.path.dirname(path))
            uri = "/auto-oglasi/%s/%s" % (ad["source_ad_id"], ad["slug"])
            if ad["removal"] == 410:
                gone.append(uri)
            elif ad["removal"] == 301:
                moved.append((uri, "/auto-oglasi/" + slugify(ad["make"])))
    with open(os.path.join(d, "gone.map"), "w") as f:
        f.writelines('"%s" 1;\n' % u for u in gone)
    with open(os.path.join(d, "moved.map"), "w") as f:
        f.writelines('"%s" "%s";\n' % m for m in moved)

    # Listings: newest renewals first, as the site's default order.
    live = sorted(market.live_ads(), key=lambda a: (-a["renewed_at"], -a["id"]))
    by_make = {}
    for a in live:
        by_make.setdefault(slugify(a["make"]), []).append(a)
    new_l = os.path.join(www, "_l.new")
    shutil.rmtree(new_l, ignore_errors=True)
    pages = 0
    groups = [("_all", None, live)] + [(slug, ads[0]["make"], ads) for slug, ads in sorted(by_make.items())]
    for slug, name, ads in groups:
        n_pages = max(1, (len(ads) + render.PER_PAGE - 1) // render.PER_PAGE)
        for page in range(1, n_pages + 1):
            rng = random.Random("%s:promo:%d:%s:%d" % (market.seed, day, slug, page))
            promoted = rng.sample(ads, min(2, len(ads)))
            text = render.render_listing(ads, promoted, None if slug == "_all" else slug, name, page, base)
            _write_gz(os.path.join(new_l, slug, "%d.html.gz" % page), text, day_time + 3600)
            pages += 1
    old_l = os.path.join(www, "_l")
    if os.path.isdir(old_l):
        os.rename(old_l, os.path.join(www, "_l.old"))
    os.rename(new_l, old_l)
    shutil.rmtree(os.path.join(www, "_l.old"), ignore_errors=True)
    _write_gz(os.path.join(www, "index.html.gz"),
              render.render_home([(s, ads[0]["make"]) for s, ads in sorted(by_make.items())], base), day_time)
    return {"ad_pages_rendered": rendered, "listing_pages": pages, "live_ads": len(live)}


def write_truth(market, d, base):
    """Everything Otto should find on this day, typed, for field-by-field comparison."""
    out = os.path.join(d, "truth", "day-%03d" % market.day)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "ads.jsonl"), "w", encoding="utf-8") as f:
        for ad in market.live_ads():
            row = {k: ad[k] for k in TRUTH_FIELDS}
            row["doors"] = ad["doors"].replace(" vrata", "")     # the vocabulary's form: "4/5"
            row["url"] = render.ad_url(base, ad)
            row["renewed_at"] = render.stamp(ad["renewed_at"]) + "+00"
            row["hidden"] = {k: ad[k] for k in HIDDEN_FIELDS}
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    with open(os.path.join(out, "events.jsonl"), "w", encoding="utf-8") as f:
        for e in market.events:
            f.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")
    with open(os.path.join(out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump({"seed": market.seed, "size": market.size, "day": market.day, "base_url": base,
                   "date": render.stamp(SIM_EPOCH + market.day * DAY)[:10],
                   "live_ads": len(market.live_ads()), "events": len(market.events)}, f, sort_keys=True)
        f.write("\n")
    return out
