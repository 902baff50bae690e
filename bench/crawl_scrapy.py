"""The Scrapy baseline of bench/crawl.sh: the same listing-driven crawl of
the simulated market and the same kind of extraction, with Debian's Scrapy
2.8 and its parsel selectors, one process, 64 concurrent requests, items into
a JSON-lines file (no database).  Run with Debian's python3:
    /usr/bin/python3 -m scrapy runspider bench/crawl_scrapy.py -a start=URL -o ads.jsonl
"""
import re

import scrapy

AD = re.compile(r"/auto-oglasi/(\d+)/")


class MarketSpider(scrapy.Spider):
    name = "market"
    custom_settings = {
        "CONCURRENT_REQUESTS": 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
    }

    def __init__(self, start, **kw):
        super().__init__(**kw)
        self.start_urls = [start]

    def parse(self, response):
        """A listing: its pages and its ads."""
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if AD.search(url):
                yield scrapy.Request(url.split("?")[0], callback=self.parse_ad)
            elif "/auto-oglasi/pretraga" in url:
                yield scrapy.Request(url, callback=self.parse)

    def parse_ad(self, response):
        """An ad: its id, title, price and the general and extra information tables."""
        fields = {}
        for row in response.css("div.divider"):
            cells = [c.strip() for c in row.css("div.uk-width-1-2 ::text").getall() if c.strip()]
            if len(cells) >= 2:
                fields[cells[0].rstrip(":")] = " ".join(cells[1:])
        price = response.css("span.priceClassified::text").get(default="").strip()
        digits = re.sub(r"[^\d]", "", price)
        yield {
            "source_ad_id": AD.search(response.url).group(1),
            "url": response.url,
            "title": " ".join(t.strip() for t in response.css("h1 ::text").getall() if t.strip()),
            "price_eur": int(digits) if digits else None,
            "make": fields.get("Marka"),
            "model": fields.get("Model"),
            "year": int(re.sub(r"[^\d]", "", fields["Godište"])) if fields.get("Godište") else None,
            "mileage_km": int(re.sub(r"[^\d]", "", fields["Kilometraža"])) if fields.get("Kilometraža") else None,
            "fuel": fields.get("Gorivo"),
            "body": fields.get("Karoserija"),
            "fields": fields,
        }
