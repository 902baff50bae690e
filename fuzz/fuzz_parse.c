/*
 * fuzz_parse.c: libFuzzer target for the parse stage's memory-unsafe core,
 * driven the way otto.parse_ad and otto.extract_links drive it: the
 * tokenizer walk with the polovniautomobili selectors matched at every
 * element, every text and attribute value entity-decoded, and every link
 * resolved and normalised against the page URL.
 *
 * Built and run (bounded) by scripts/test; by hand:
 *   make -C fuzz && fuzz/fuzz_parse -max_total_time=60 CORPUS_DIR
 */
#include "postgres_fe.h"

#include <stdint.h>
#include <stdlib.h>

#include "../src/parse/html.h"

extern char *otto_url_normalize(const char *base, const char *ref, const char **why);

static const char *const selectors[] = {
	"div.divider", ".uk-width-1-2", ".uk-text-bold", "h1", "span.priceClassified",
	"span.oldPriceClassified", ".js-tutorial-logo h3", ".infoBox .uk-width-medium-1-4.uk-margin-small-bottom",
	"ul#image-gallery li", "article.classified", "h2 a", "a.js-pagination-next", NULL
};
static HtmlSelector compiled[16];
static int	ncompiled;

static void
decode(HtmlSlice s)
{
	char	   *buf = malloc(s.len + 1);

	html_text_decode(s.p, s.len, buf, s.len + 1);
	free(buf);
}

static bool
callback(HtmlWalker *w, HtmlEvent ev, void *arg)
{
	if (ev == HTML_TEXT)
		decode(w->text);
	else if (ev == HTML_START)
	{
		const HtmlSlice *href = html_attr(w, "href");

		for (int i = 0; i < ncompiled; i++)
			(void) html_match(w, &compiled[i]);
		for (int i = 0; i < w->nattrs; i++)
			decode(w->attrs[i].value);
		if (href)
		{
			char	   *h = malloc(href->len + 1);
			const char *why;

			html_text_decode(href->p, href->len, h, href->len + 1);
			free(otto_url_normalize("https://www.polovniautomobili.com/auto-oglasi/pretraga?page=1", h, &why));
			free(h);
		}
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static HtmlWalker w;

	if (ncompiled == 0)
		for (int i = 0; selectors[i]; i++)
			if (html_selector_compile(selectors[i], &compiled[ncompiled]))
				ncompiled++;
	html_walk(&w, (const char *) data, size, callback, NULL);
	return 0;
}
