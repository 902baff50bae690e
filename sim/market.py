"""The simulated market: population from real ads, and its life day by day.

Everything here is a deterministic function of (seed, day): each day draws from
its own random stream, seeded by the string "seed:day", and walks ads in id
order; nothing iterates a set or a hash-ordered container.
"""
import csv
import json
import math
import os
import random
import re
import time
import unicodedata

SIM_EPOCH = 1790812800          # 2026-10-01 00:00:00 UTC, the simulator's day 0
DAY = 86400
FIRST_AD_ID = 27000000

# Canonical vocabulary: code -> the site's Serbian label.  Otto's parse stage
# maps labels to these same English codes.
FUEL = {"diesel": "Dizel", "petrol": "Benzin", "petrol_lpg": "Benzin + Gas (TNG)",
        "petrol_cng": "Benzin + Metan (CNG)", "hybrid": "Hibridni pogon", "electric": "Električni pogon"}
BODY = {"sedan": "Limuzina", "hatchback": "Hečbek", "estate": "Karavan", "coupe": "Kupe",
        "convertible": "Kabriolet/Roadster", "mpv": "Monovolumen (MiniVan)", "suv": "Džip/SUV",
        "pickup": "Pickup"}
GEARBOX = {"manual_4": "Manuelni 4 brzine", "manual_5": "Manuelni 5 brzina",
           "manual_6": "Manuelni 6 brzina", "automatic": "Automatski / poluautomatski"}
DRIVE = {"front": "Prednji", "rear": "Zadnji", "all": "4x4"}
COLOR = {"black": "Crna", "white": "Bela", "grey": "Siva", "silver": "Srebrna", "blue": "Plava",
         "navy": "Teget", "red": "Crvena", "green": "Zelena", "burgundy": "Bordo", "beige": "Bež",
         "brown": "Braon", "yellow": "Žuta", "orange": "Narandžasta", "gold": "Zlatna"}
AIR_CONDITIONING = {"none": "Nema klimu", "manual": "Manuelna klima", "automatic": "Automatska klima"}
DAMAGE = {"none": "Nije oštećen", "damaged_drivable": "Oštećen - u voznom stanju",
          "damaged_not_drivable": "Oštećen - nije u voznom stanju"}
ORIGIN = {"domestic_plates": "Domaće tablice", "foreign_plates": "Strane tablice",
          "buyer_name": "Na ime kupca"}
CONDITION = {"used": "Polovno vozilo", "new": "Novo vozilo"}
DOORS = ["2/3 vrata", "4/5 vrata"]

# Equipment labels as the real ad pages show them (section, label).
FEATURES = [
    ("Sigurnost", "Airbag za vozača"), ("Sigurnost", "Airbag za suvozača"), ("Sigurnost", "Bočni airbag"),
    ("Sigurnost", "Child lock"), ("Sigurnost", "ABS"), ("Sigurnost", "ESP"), ("Sigurnost", "ASR"),
    ("Sigurnost", "Alarm"), ("Sigurnost", "Kodiran ključ"), ("Sigurnost", "Blokada motora"),
    ("Sigurnost", "Centralno zaključavanje"), ("Sigurnost", "OBD zaštita"),
    ("Oprema", "Metalik boja"), ("Oprema", "Branici u boji auta"), ("Oprema", "Servo volan"),
    ("Oprema", "Multifunkcionalni volan"), ("Oprema", "Tempomat"), ("Oprema", "Daljinsko zaključavanje"),
    ("Oprema", "Putni računar"), ("Oprema", "Tonirana stakla"), ("Oprema", "Električni podizači"),
    ("Oprema", "Električni retrovizori"), ("Oprema", "Grejači retrovizora"),
    ("Oprema", "Sedišta podesiva po visini"), ("Oprema", "Grejanje sedišta"), ("Oprema", "Svetla za maglu"),
    ("Oprema", "Xenon svetla"), ("Oprema", "LED svetla"), ("Oprema", "Senzori za svetla"),
    ("Oprema", "Senzori za kišu"), ("Oprema", "Parking senzori"), ("Oprema", "Kamera"),
    ("Oprema", "Krovni nosač"), ("Oprema", "Aluminijumske felne"), ("Oprema", "Navigacija"),
    ("Oprema", "Radio CD"), ("Oprema", "Naslon za ruku"), ("Oprema", "DPF filter"),
    ("Oprema", "Dnevna svetla"), ("Oprema", "Kožni volan"), ("Oprema", "Kožna sedišta"),
    ("Oprema", "Bluetooth"), ("Oprema", "USB"), ("Oprema", "Šiber"), ("Oprema", "Kuka za vuču"),
    ("Stanje", "Servisna knjiga"), ("Stanje", "Rezervni ključ"), ("Stanje", "Garažiran"),
    ("Stanje", "Prvi vlasnik"),
]

# Towns (location) with their district (okrug) and macro region, and weights.
TOWNS = [
    ("Beograd", "Grad Beograd", "Beograd", 30), ("Novi Beograd", "Grad Beograd", "Beograd", 8),
    ("Zemun", "Grad Beograd", "Beograd", 5), ("Novi Sad", "Južno-bački", "Vojvodina", 10),
    ("Futog", "Južno-bački", "Vojvodina", 1), ("Subotica", "Severno-bački", "Vojvodina", 3),
    ("Zrenjanin", "Srednje-banatski", "Vojvodina", 2), ("Pančevo", "Južno-banatski", "Vojvodina", 3),
    ("Sombor", "Zapadno-bački", "Vojvodina", 2), ("Sremska Mitrovica", "Sremski", "Vojvodina", 2),
    ("Irig", "Sremski", "Vojvodina", 1), ("Niš", "Nišavski", "Južna Srbija", 6),
    ("Leskovac", "Jablanički", "Južna Srbija", 2), ("Vranje", "Pčinjski", "Južna Srbija", 1),
    ("Kragujevac", "Šumadijski", "Centralna Srbija", 4), ("Jagodina", "Pomoravski", "Centralna Srbija", 2),
    ("Kruševac", "Rasinski", "Centralna Srbija", 2), ("Smederevo", "Podunavski", "Centralna Srbija", 2),
    ("Požarevac", "Braničevski", "Istočna Srbija", 2), ("Zaječar", "Zaječarski", "Istočna Srbija", 1),
    ("Bor", "Borski", "Istočna Srbija", 1), ("Čačak", "Moravički", "Zapadna Srbija", 3),
    ("Kraljevo", "Raški", "Zapadna Srbija", 2), ("Novi Pazar", "Raški", "Zapadna Srbija", 2),
    ("Užice", "Zlatiborski", "Zapadna Srbija", 2), ("Šabac", "Mačvanski", "Zapadna Srbija", 3),
    ("Valjevo", "Kolubarski", "Zapadna Srbija", 2),
]
DEALERS = ["Auto Store", "Balkan Car Sales", "Auto Centar Jovanović", "Car Point", "Auto Plac Drina",
           "Premium Cars", "Auto Kuća Nikolić", "Euro Auto", "Auto Lux", "Top Car"]

# Phrases the seller descriptions are made of (Serbian, as on the site).
PHRASES = [
    "Vozilo u odličnom stanju.", "Redovno servisiran.", "Servisna knjiga.", "Nove gume.",
    "Letnje i zimske gume.", "Bez ulaganja.", "Zamena moguća.", "Prvi vlasnik.", "Garažiran.",
    "Nije udaran.", "Motor i menjač odlični.", "Enterijer očuvan.", "Moguć pregled u svakom servisu.",
    "Uvezen iz Nemačke.", "Registrovan godinu dana.", "Nov zamajac i kvačilo.", "Zvati posle 16h.",
]

# Market model.
BASE_DAILY_SALE = 1 / 35.0       # hazard of a typical car at its fair price
PRICE_ELASTICITY = 6.0           # hazard multiplier exp(-k * ln(price/value))
RELIST_SHARE = 0.10
NO_PRICE_SHARE = 0.02
REMOVAL_KINDS = [(404, 0.5), (410, 0.25), (301, 0.25)]


def slugify(text):
    """URL slug as the site makes them: ascii, lower case, dashes."""
    text = unicodedata.normalize("NFKD", text.replace("đ", "dj").replace("Đ", "Dj"))
    text = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "oglas"


def fold(text):
    """Diacritics-insensitive key ('Hecbek' and 'Hečbek' match)."""
    text = unicodedata.normalize("NFKD", text.replace("đ", "dj").replace("Đ", "Dj"))
    return text.encode("ascii", "ignore").decode().lower().strip()


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for value, w in pairs:
        x -= w
        if x < 0:
            return value
    return pairs[-1][0]


def round_price(p):
    step = 10 if p < 2000 else 50 if p < 20000 else 100
    return max(step, int(round(p / step)) * step)


# ---------------------------------------------------------------- real data

def _restore(label, vocabulary):
    """Map a dirty label (stripped or '?'-mangled diacritics) onto a canonical code."""
    pattern = re.compile("^" + ".".join(re.escape(fold(p)) for p in label.strip().split("?")) + "$")
    for code, canonical in vocabulary.items():
        if pattern.match(fold(canonical)):
            return code
    return None


def load_real(data_dir):
    """Clean the 2019 listing scrape into base cars; learn category weights from the 2016 details."""
    path = os.path.join(data_dir, "trsavi-pa-2019", "cars.csv")
    rows = []
    make_names = {}
    body_codes = {fold(v): k for k, v in BODY.items()}
    fuel_codes = {fold(v): k for k, v in FUEL.items()}
    fuel_codes.update({"metan cng": "petrol_cng"})
    with open(path, encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            title = " ".join(r["naziv"].split())
            make_raw, model_raw = r["brend"].strip(), r["model"].strip()
            # Display names: the casing the seller's title uses, else title case.
            make = title[:len(make_raw)] if title.lower().startswith(make_raw.lower()) else make_raw.title()
            make = make_names.setdefault(make_raw, make)
            rest = title[len(make_raw):].strip()
            model = rest[:len(model_raw)] if rest.lower().startswith(model_raw.lower()) else model_raw.title()
            m = re.match(r"(\d+)kW \((\d+)KS\)", r["snaga"].strip())
            try:
                price, year, km, cc = int(r["cena"]), int(r["godiste"]), int(r["kilometraza"]), int(r["kubikaza"])
            except ValueError:
                continue
            fuel = fuel_codes.get(fold(r["gorivo"]))
            body = body_codes.get(fold(r["karoserija"]))
            # Drop what no buyer would believe: symbolic prices, absurd mileages, missing power.
            if not m or not fuel or not body or not (300 <= price <= 300000) or not (1960 <= year <= 2019):
                continue
            if km > 900000 or (km < 1000 and year < 2018) or not (500 <= cc <= 8000):
                continue
            kw, hp = int(m.group(1)), int(m.group(2))
            if not (15 <= kw <= 600):
                continue
            rows.append({"make": make, "model": model, "title": title, "price": price, "year": year,
                         "mileage_km": km, "fuel": fuel, "body": body, "engine_cc": cc,
                         "power_kw": kw, "power_hp": hp})
    rows.sort(key=lambda r: (r["make"], r["model"], r["year"], r["price"], r["mileage_km"], r["title"]))

    weights = {"color": {}, "air_conditioning": {}, "damage": {}, "origin": {}}
    detail = os.path.join(data_dir, "mj-pa-2016-punto", "ads_detail_wide.csv")
    columns = {"color": ("Boja", COLOR), "air_conditioning": ("Klima", AIR_CONDITIONING),
               "damage": ("Oštećenje", DAMAGE), "origin": ("Poreklo vozila", ORIGIN)}
    with open(detail, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            for field, (column, vocabulary) in columns.items():
                code = _restore(r.get(column) or "", vocabulary)
                if code:
                    weights[field][code] = weights[field].get(code, 0) + 1
    for field, (_, vocabulary) in columns.items():
        for code in vocabulary:                       # every value possible, however rare
            weights[field].setdefault(code, 1)
    weights = {k: sorted(v.items()) for k, v in weights.items()}
    return rows, weights


# ---------------------------------------------------------------- the market

class Market:
    def __init__(self, seed, size, data_dir):
        self.seed, self.size = seed, size
        self.pool, self.weights = load_real(data_dir)
        counts = {}
        for r in self.pool:
            counts[r["make"]] = counts.get(r["make"], 0) + 1
        self.make_share = counts
        self.day = 0
        self.next_id = FIRST_AD_ID
        self.ads = {}            # id -> ad (live and gone)
        self.events = []
        self.pending_relists = []

    # A model's popularity: the make's share of the real market, and a
    # per-model factor fixed by the seed.  Popular cars sell faster.
    def popularity(self, make, model):
        h = random.Random("%s:pop:%s:%s" % (self.seed, make, model)).random()
        share = self.make_share.get(make, 1) / (len(self.pool) / max(1, len(self.make_share)))
        return round(max(0.3, min(3.0, share ** 0.35 * (0.6 + 0.8 * h))), 4)

    def _new_id(self, rng):
        self.next_id += rng.randint(1, 40)
        return self.next_id

    def _timestamp(self, rng, day):
        return SIM_EPOCH + day * DAY + rng.randint(6 * 3600, 22 * 3600)

    def _make_ad(self, rng, day, base=None):
        """A new ad: a real car with realistic noise, and its hidden value."""
        b = base or self.pool[rng.randrange(len(self.pool))]
        age_shift = 0 if rng.random() < 0.8 else rng.choice([-1, 1])
        year = min(2019, max(1960, b["year"] + age_shift))
        km = int(b["mileage_km"] * math.exp(rng.gauss(0, 0.15)) / 10) * 10 if b["mileage_km"] else 0
        value = b["price"] * (0.92 ** (b["year"] - year)) * math.exp(rng.gauss(0, 0.05))
        value *= math.exp(-0.15 * (km - b["mileage_km"]) / 100000.0)
        value = max(300.0, value)
        ratio = math.exp(rng.gauss(0, 0.12))
        price = None if rng.random() < NO_PRICE_SHARE else round_price(value * ratio)
        dealer = rng.random() < 0.35
        town = weighted(rng, [(t, t[3]) for t in TOWNS])
        new_car = year >= 2019 and km < 100 and rng.random() < 0.5
        auto = rng.random() < min(0.9, 0.05 + b["power_kw"] / 400.0 + max(0, year - 2005) * 0.02)
        gearbox = "automatic" if auto else ("manual_6" if b["power_kw"] > 85 or year > 2010 else
                                            "manual_5" if year > 1985 else "manual_4")
        drive = "all" if b["body"] in ("suv", "pickup") and rng.random() < 0.6 else \
            "rear" if rng.random() < (0.25 if b["power_kw"] > 120 else 0.04) else "front"
        n_feat = max(2, min(len(FEATURES), int(rng.gauss(8 + max(0, year - 1995) * 0.8, 4))))
        features = sorted(rng.sample(range(len(FEATURES)), n_feat))
        reg_months = rng.randint(1, 12) if rng.random() < 0.7 else 0
        reg_day = SIM_EPOCH + day * DAY + reg_months * 30 * DAY
        reg = time.strftime("%Y-%m-01", time.gmtime(reg_day)) if reg_months else None
        title = b["title"]
        ad_id = self._new_id(rng)
        ad = {
            "source_ad_id": str(ad_id), "id": ad_id, "slug": slugify(title), "title": title,
            "make": b["make"], "model": b["model"], "year": year, "mileage_km": km,
            "price_eur": price, "old_price_eur": None, "fuel": b["fuel"], "body": b["body"],
            "gearbox": gearbox, "power_kw": b["power_kw"], "power_hp": b["power_hp"],
            "engine_cc": b["engine_cc"], "color": weighted(rng, self.weights["color"]),
            "seats": weighted(rng, [(5, 90), (4, 4), (2, 3), (7, 3)]) if b["body"] != "mpv" else 7,
            "doors": DOORS[0] if b["body"] in ("coupe", "convertible") else
            (DOORS[1] if b["body"] in ("sedan", "estate", "suv", "mpv") else rng.choice(DOORS)),
            "drive": drive, "emission_class": "Euro %d" % max(1, min(6, (year - 1988) // 4)),
            "air_conditioning": weighted(rng, self.weights["air_conditioning"]),
            "damage": weighted(rng, self.weights["damage"]),
            "origin": weighted(rng, self.weights["origin"]),
            "condition": "new" if new_car else "used", "registered_until": reg,
            "location": town[0], "region": town[1],
            "seller_type": "dealer" if dealer else "private",
            "seller_name": rng.choice(DEALERS) if dealer else None,
            "owner_id": rng.randint(10000, 2000000),
            "features": [FEATURES[i][1] for i in features],
            "images_count": rng.randint(1, 40), "renewed_at": self._timestamp(rng, day),
            "description": " ".join(rng.sample(PHRASES, rng.randint(2, 6))),
            "trade_in": rng.random() < 0.4, "fixed_price": rng.random() < 0.2,
            # hidden truth
            "fair_value_eur": round(value), "popularity": self.popularity(b["make"], b["model"]),
            "first_day": day, "state": "live", "removed_day": None, "removal": None,
            "relist_of": None, "changed_day": day,
        }
        return ad

    def _event(self, day, kind, ad, **extra):
        e = {"day": day, "kind": kind, "source_ad_id": ad["source_ad_id"]}
        e.update(extra)
        self.events.append(e)

    def populate(self):
        rng = random.Random("%s:population" % self.seed)
        for _ in range(self.size):
            ad = self._make_ad(rng, 0)
            ad["renewed_at"] -= rng.randint(0, 60) * DAY     # listed before the simulation began
            self.ads[ad["id"]] = ad
            self._event(0, "new", ad, price_eur=ad["price_eur"])

    def hazard(self, ad):
        price = ad["price_eur"] or ad["fair_value_eur"]
        h = BASE_DAILY_SALE * ad["popularity"] * math.exp(-PRICE_ELASTICITY * math.log(price / ad["fair_value_eur"]))
        return min(0.9, h)

    def step(self):
        """Advance one day: sales, price cuts, renewals, relists, new ads."""
        day = self.day + 1
        rng = random.Random("%s:%d" % (self.seed, day))
        sold = 0
        for ad_id in sorted(self.ads):
            ad = self.ads[ad_id]
            if ad["state"] != "live":
                continue
            if rng.random() < self.hazard(ad):
                ad["state"], ad["removed_day"] = "removed", day
                ad["removal"] = weighted(rng, REMOVAL_KINDS)
                sold += 1
                self._event(day, "removed", ad, days_on_market=day - ad["first_day"], http=ad["removal"],
                            price_eur=ad["price_eur"], fair_value_eur=ad["fair_value_eur"],
                            popularity=ad["popularity"], make=ad["make"], model=ad["model"])
                if rng.random() < RELIST_SHARE:
                    self.pending_relists.append((day + rng.randint(1, 5), ad_id))
                continue
            price = ad["price_eur"]
            if price and price > 0.95 * ad["fair_value_eur"] and \
                    rng.random() < 0.03 + 0.2 * max(0.0, price / ad["fair_value_eur"] - 1):
                new = round_price(price * (1 - rng.uniform(0.03, 0.10)))
                if new < price:
                    ad["old_price_eur"] = price if rng.random() < 0.6 else None
                    ad["price_eur"], ad["changed_day"] = new, day
                    self._event(day, "price_changed", ad, old_price_eur=price, new_price_eur=new)
            if rng.random() < 0.12:
                ad["renewed_at"], ad["changed_day"] = self._timestamp(rng, day), day
        due = sorted(r for r in self.pending_relists if r[0] == day)
        self.pending_relists = [r for r in self.pending_relists if r[0] != day]
        for _, old_id in due:
            old = self.ads[old_id]
            ad = self._make_ad(rng, day)
            for k in ("title", "slug", "make", "model", "year", "fuel", "body", "gearbox", "power_kw",
                      "power_hp", "engine_cc", "color", "seats", "doors", "drive", "emission_class",
                      "air_conditioning", "damage", "origin", "condition", "location", "region", "seller_type", "seller_name", "owner_id", "features", "fair_value_eur",
                      "popularity", "description", "trade_in"):
                ad[k] = old[k]
            ad["mileage_km"] = old["mileage_km"] + rng.randint(0, 30) * 10
            if old["price_eur"]:
                ad["price_eur"] = round_price(old["price_eur"] * rng.uniform(0.93, 1.0))
            ad["relist_of"] = old["source_ad_id"]
            self.ads[ad["id"]] = ad
            self._event(day, "relisted", ad, relist_of=old["source_ad_id"], price_eur=ad["price_eur"])
        # Arrivals replace the day's sales and pull the market back toward its size.
        live = sum(1 for a in self.ads.values() if a["state"] == "live")
        arrivals = max(0, int(round((sold - len(due) + 0.2 * (self.size - live)) * math.exp(rng.gauss(0, 0.1)))))
        for _ in range(arrivals):
            ad = self._make_ad(rng, day)
            self.ads[ad["id"]] = ad
            self._event(day, "new", ad, price_eur=ad["price_eur"])
        self.day = day

    def live_ads(self):
        return [self.ads[i] for i in sorted(self.ads) if self.ads[i]["state"] == "live"]

    # ------------------------------------------------------------ state on disk

    def save(self, path):
        state = {"seed": self.seed, "size": self.size, "day": self.day, "next_id": self.next_id,
                 "ads": [self.ads[i] for i in sorted(self.ads)], "events": self.events,
                 "pending_relists": self.pending_relists}
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(state, ensure_ascii=False, sort_keys=True))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path, data_dir):
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        m = cls(state["seed"], state["size"], data_dir)
        m.day, m.next_id, m.events = state["day"], state["next_id"], state["events"]
        m.ads = {a["id"]: a for a in state["ads"]}
        m.pending_relists = [tuple(r) for r in state["pending_relists"]]
        return m


TRUTH_FIELDS = ["source_ad_id", "title", "make", "model", "year", "mileage_km", "price_eur",
                "old_price_eur", "fuel", "body", "gearbox", "power_kw", "power_hp", "engine_cc",
                "color", "seats", "doors", "drive", "emission_class", "air_conditioning", "damage",
                "origin", "condition", "registered_until", "location", "region", "seller_type",
                "features", "images_count"]
HIDDEN_FIELDS = ["fair_value_eur", "popularity", "first_day", "relist_of"]
