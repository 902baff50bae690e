/*
 * html.c: streaming HTML tokenizer, element stack and selectors.
 *
 * Why not libxml2 here: on the real 171 kB ad pages libxml2's HTML parser
 * manages about 170 documents/s per core as a DOM and 440/s through SAX (see
 * bench/parse), an order of magnitude below what the crawler needs.  Otto
 * only needs tags, attributes, text and nesting to find its fields, so this
 * tokenizer does one forward pass with memchr, builds no tree, allocates
 * nothing, and bounds every loop by the buffer length.  It tolerates tag
 * soup the way extraction needs: an end tag closes the nearest open element
 * of that name (and those opened inside it); an end tag with no open match is
 * ignored; void elements never open; script/style/textarea/title are raw text.
 */
#include "html.h"

#include <stdint.h>
#include <string.h>

static const char *const void_elements[] = {
	"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
	"param", "source", "track", "wbr", NULL
};

static inline char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool
slice_ieq(HtmlSlice s, const char *lit)
{
	size_t		n = strlen(lit);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != lit[i])
			return false;
	return true;
}

static bool
is_void(HtmlSlice tag)
{
	for (int i = 0; void_elements[i]; i++)
		if (slice_ieq(tag, void_elements[i]))
			return true;
	return false;
}

/* Find "</name" (case-insensitive) from pos; returns its offset or len. */
static size_t
find_raw_end(const char *buf, size_t len, size_t pos, HtmlSlice tag)
{
	while (pos < len)
	{
		const char *lt = memchr(buf + pos, '<', len - pos);
		size_t		at;

		if (!lt)
			return len;
		at = lt - buf;
		if (at + 2 + tag.len <= len && buf[at + 1] == '/')
		{
			HtmlSlice	s = {buf + at + 2, tag.len};
			char		name[12];

			for (size_t i = 0; i < tag.len && i < sizeof(name) - 1; i++)
				name[i] = lower(tag.p[i]);
			name[tag.len < sizeof(name) - 1 ? tag.len : sizeof(name) - 1] = '\0';
			if (slice_ieq(s, name) &&
				(at + 2 + tag.len == len || !((buf[at + 2 + tag.len] | 32) >= 'a' && (buf[at + 2 + tag.len] | 32) <= 'z')))
				return at;
		}
		pos = at + 1;
	}
	return len;
}

static void
push(HtmlWalker *w)
{
	if (w->depth < HTML_MAX_DEPTH)
	{
		HtmlElem   *e = &w->stack[w->depth];
		size_t		n = w->tag.len < sizeof(e->name) - 1 ? w->tag.len : sizeof(e->name) - 1;
		const HtmlSlice *id = html_attr(w, "id");
		const HtmlSlice *klass = html_attr(w, "class");

		for (size_t i = 0; i < n; i++)
			e->name[i] = lower(w->tag.p[i]);
		e->name[n] = '\0';
		e->id = id ? *id : (HtmlSlice) {NULL, 0};
		e->klass = klass ? *klass : (HtmlSlice) {NULL, 0};
	}
	w->depth++;
}

/* Index of the nearest open element named tag, or -1. */
static int
find_open(const HtmlWalker *w, HtmlSlice tag)
{
	int			top = w->depth < HTML_MAX_DEPTH ? w->depth : HTML_MAX_DEPTH;

	if (w->depth > HTML_MAX_DEPTH)
		return w->depth - 1;	/* untracked depths close one at a time */
	for (int i = top - 1; i >= 0; i--)
	{
		char		name[12];
		size_t		n = tag.len < sizeof(name) - 1 ? tag.len : sizeof(name) - 1;

		for (size_t k = 0; k < n; k++)
			name[k] = lower(tag.p[k]);
		name[n] = '\0';
		if (strcmp(w->stack[i].name, name) == 0)
			return i;
	}
	return -1;
}

/* Parse the attributes of a start tag from *pos up to '>'; sets w->attrs. */
static void
parse_attrs(HtmlWalker *w, size_t *pos, bool *self_closing)
{
	const char *b = w->buf;
	size_t		len = w->len,
				i = *pos;

	w->nattrs = 0;
	*self_closing = false;
	while (i < len)
	{
		size_t		ns;
		HtmlSlice	name,
					value = {NULL, 0};

		while (i < len && (is_space(b[i]) || b[i] == '/'))
		{
			if (b[i] == '/' && i + 1 < len && b[i + 1] == '>')
				*self_closing = true;
			i++;
		}
		if (i >= len || b[i] == '>')
			break;
		ns = i;
		while (i < len && !is_space(b[i]) && b[i] != '>' && b[i] != '=' && !(b[i] == '/' && i + 1 < len && b[i + 1] == '>'))
			i++;
		if (i == ns)			/* a stray character such as '=' */
		{
			i++;
			continue;
		}
		name = (HtmlSlice) {b + ns, i - ns};
		while (i < len && is_space(b[i]))
			i++;
		if (i < len && b[i] == '=')
		{
			i++;
			while (i < len && is_space(b[i]))
				i++;
			if (i < len && (b[i] == '"' || b[i] == '\''))
			{
				char		q = b[i++];
				const char *end = memchr(b + i, q, len - i);
				size_t		e = end ? (size_t) (end - b) : len;

				value = (HtmlSlice) {b + i, e - i};
				i = e < len ? e + 1 : len;
			}
			else
			{
				size_t		vs = i;

				while (i < len && !is_space(b[i]) && b[i] != '>')
					i++;
				value = (HtmlSlice) {b + vs, i - vs};
			}
		}
		if (w->nattrs < HTML_MAX_ATTRS)
		{
			w->attrs[w->nattrs].name = name;
			w->attrs[w->nattrs].value = value;
			w->nattrs++;
		}
	}
	*pos = i < len ? i + 1 : len;
}

/* Pop the stack down to (and including) index target, with an END event each. */
static bool
pop_to(HtmlWalker *w, int target, HtmlCallback cb, void *arg)
{
	while (w->depth > target)
	{
		if (!cb(w, HTML_END, arg))
			return false;
		w->depth--;
	}
	return true;
}

void
html_walk(HtmlWalker *w, const char *buf, size_t len, HtmlCallback cb, void *arg)
{
	size_t		i = 0;

	w->buf = buf;
	w->len = len;
	w->depth = 0;
	w->elements = 0;
	w->in_script = false;
	w->opened_html = w->closed_html = false;
	while (i < len)
	{
		const char *lt = memchr(buf + i, '<', len - i);
		size_t		at = lt ? (size_t) (lt - buf) : len;

		if (at > i)
		{
			w->text = (HtmlSlice) {buf + i, at - i};
			if (!cb(w, HTML_TEXT, arg))
				return;
		}
		if (at >= len)
			break;
		i = at + 1;
		if (i >= len)
			break;
		if (buf[i] == '!' || buf[i] == '?')
		{
			/* comment, doctype, CDATA or processing instruction */
			if (i + 2 < len && buf[i + 1] == '-' && buf[i + 2] == '-')
			{
				size_t		k = i + 3;

				while (k + 2 < len && !(buf[k] == '-' && buf[k + 1] == '-' && buf[k + 2] == '>'))
					k++;
				i = k + 2 < len ? k + 3 : len;
			}
			else
			{
				const char *gt = memchr(buf + i, '>', len - i);

				i = gt ? (size_t) (gt - buf) + 1 : len;
			}
			continue;
		}
		if (buf[i] == '/')
		{
			size_t		ns = ++i;
			const char *gt;
			int			open;

			while (i < len && !is_space(buf[i]) && buf[i] != '>' && buf[i] != '/')
				i++;
			w->tag = (HtmlSlice) {buf + ns, i - ns};
			gt = memchr(buf + i, '>', len - i);
			i = gt ? (size_t) (gt - buf) + 1 : len;
			if (w->tag.len == 0)
				continue;
			if (slice_ieq(w->tag, "html"))
				w->closed_html = true;
			open = find_open(w, w->tag);
			if (open >= 0 && !pop_to(w, open, cb, arg))
				return;
			continue;
		}
		if (!((buf[i] | 32) >= 'a' && (buf[i] | 32) <= 'z'))
		{
			/* a lone '<' is text */
			w->text = (HtmlSlice) {buf + at, 1};
			if (!cb(w, HTML_TEXT, arg))
				return;
			continue;
		}
		{
			size_t		ns = i;
			bool		self_closing;
			bool		raw;

			while (i < len && !is_space(buf[i]) && buf[i] != '>' && buf[i] != '/')
				i++;
			w->tag = (HtmlSlice) {buf + ns, i - ns};
			parse_attrs(w, &i, &self_closing);
			w->elements++;
			if (slice_ieq(w->tag, "html"))
				w->opened_html = true;
			if (is_void(w->tag))
			{
				/* reported as a start immediately followed by its end */
				push(w);
				if (!cb(w, HTML_START, arg) || !pop_to(w, w->depth - 1, cb, arg))
					return;
				continue;
			}
			push(w);
			if (!cb(w, HTML_START, arg))
				return;
			raw = slice_ieq(w->tag, "script") || slice_ieq(w->tag, "style") ||
				slice_ieq(w->tag, "textarea") || slice_ieq(w->tag, "title");
			if (self_closing && !raw)
			{
				if (!pop_to(w, w->depth - 1, cb, arg))
					return;
			}
			else if (raw)
			{
				HtmlSlice	tag = w->tag;
				size_t		end = find_raw_end(buf, len, i, tag);
				const char *gt;

				w->in_script = slice_ieq(tag, "script");
				if (end > i)
				{
					w->text = (HtmlSlice) {buf + i, end - i};
					if (!cb(w, HTML_TEXT, arg))
						return;
				}
				w->in_script = false;
				gt = end < len ? memchr(buf + end, '>', len - end) : NULL;
				i = gt ? (size_t) (gt - buf) + 1 : len;
				if (!pop_to(w, w->depth - 1, cb, arg))
					return;
			}
		}
	}
	pop_to(w, 0, cb, arg);
}

const HtmlSlice *
html_attr(const HtmlWalker *w, const char *name)
{
	for (int i = 0; i < w->nattrs; i++)
		if (slice_ieq(w->attrs[i].name, name))
			return &w->attrs[i].value;
	return NULL;
}

bool
html_selector_compile(const char *text, HtmlSelector *sel)
{
	const char *p = text;

	memset(sel, 0, sizeof(*sel));
	while (*p)
	{
		HtmlCompound *c;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (sel->nparts == HTML_SEL_MAX)
			return false;
		c = &sel->parts[sel->nparts++];
		while (*p && *p != ' ')
		{
			char	   *dst;
			size_t		cap,
						n = 0;

			if (*p == '#')
			{
				dst = c->id;
				cap = sizeof(c->id);
				p++;
			}
			else if (*p == '.')
			{
				if (c->nclasses == HTML_SEL_CLASSES)
					return false;
				dst = c->classes[c->nclasses++];
				cap = sizeof(c->classes[0]);
				p++;
			}
			else
			{
				if (c->name[0])
					return false;
				dst = c->name;
				cap = sizeof(c->name);
			}
			while (*p && *p != ' ' && *p != '.' && *p != '#')
			{
				if (n + 1 >= cap)
					return false;
				/* tag names are case-insensitive, classes and ids are not */
				dst[n++] = dst == c->name ? lower(*p) : *p;
				p++;
			}
			if (n == 0)
				return false;
			dst[n] = '\0';
		}
	}
	return sel->nparts > 0;
}

/* Does the class attribute hold this class (white-space separated, exact)? */
static bool
has_class(HtmlSlice klass, const char *name)
{
	size_t		n = strlen(name),
				i = 0;

	while (i < klass.len)
	{
		size_t		s;

		while (i < klass.len && is_space(klass.p[i]))
			i++;
		s = i;
		while (i < klass.len && !is_space(klass.p[i]))
			i++;
		if (i - s == n && memcmp(klass.p + s, name, n) == 0)
			return true;
	}
	return false;
}

static bool
compound_match(const HtmlElem *e, const HtmlCompound *c)
{
	if (c->name[0] && strcmp(e->name, c->name) != 0)
		return false;
	if (c->id[0] && (e->id.len != strlen(c->id) || memcmp(e->id.p, c->id, e->id.len) != 0))
		return false;
	for (int k = 0; k < c->nclasses; k++)
		if (!has_class(e->klass, c->classes[k]))
			return false;
	return true;
}

/* Match parts[0..last] with parts[last] at stack index top. */
static bool
chain_match(const HtmlWalker *w, const HtmlSelector *sel, int top)
{
	int			part = sel->nparts - 1;

	if (!compound_match(&w->stack[top], &sel->parts[part]))
		return false;
	for (int i = top - 1; i >= 0 && part > 0; i--)
		if (compound_match(&w->stack[i], &sel->parts[part - 1]))
			part--;
	return part == 0;
}

bool
html_match(const HtmlWalker *w, const HtmlSelector *sel)
{
	if (w->depth < 1 || w->depth > HTML_MAX_DEPTH)
		return false;
	return chain_match(w, sel, w->depth - 1);
}

int
html_inside(const HtmlWalker *w, const HtmlSelector *sel)
{
	int			top = w->depth < HTML_MAX_DEPTH ? w->depth : HTML_MAX_DEPTH;

	for (int i = top - 1; i >= 0; i--)
		if (chain_match(w, sel, i))
			return i;
	return -1;
}

/* Encode a code point as UTF-8 into dst; returns bytes written (0 if invalid). */
static size_t
utf8_put(unsigned long cp, char *dst)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (cp < 0x80)
	{
		dst[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		dst[0] = (char) (0xC0 | (cp >> 6));
		dst[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		dst[0] = (char) (0xE0 | (cp >> 12));
		dst[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (char) (0xF0 | (cp >> 18));
	dst[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

static const struct
{
	const char *name;
	const char *utf8;
}			named_entities[] = {
	{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
	{"nbsp", " "}, {"euro", "\xE2\x82\xAC"}, {"laquo", "\xC2\xAB"}, {"raquo", "\xC2\xBB"},
	{"copy", "\xC2\xA9"}, {"reg", "\xC2\xAE"}, {"deg", "\xC2\xB0"}, {"sup3", "\xC2\xB3"},
	{"ndash", "\xE2\x80\x93"}, {"mdash", "\xE2\x80\x94"}, {"hellip", "\xE2\x80\xA6"},
	{NULL, NULL}
};

size_t
html_text_decode(const char *src, size_t len, char *dst, size_t dst_cap)
{
	size_t		o = 0;
	bool		space = false;

	if (dst_cap == 0)
		return 0;
	/* decoded text is never longer than its source, so dst_cap > len always suffices */
	for (size_t i = 0; i < len && o + 1 < dst_cap;)
	{
		char		c = src[i];

		if (is_space(c))
		{
			space = o > 0;
			i++;
			continue;
		}
		if (space)
		{
			dst[o++] = ' ';
			space = false;
		}
		if (c == '&' && o + 4 < dst_cap)
		{
			size_t		semi = i + 1;

			while (semi < len && semi - i <= 10 && src[semi] != ';')
				semi++;
			if (semi < len && src[semi] == ';' && semi > i + 1)
			{
				size_t		n = 0;

				if (src[i + 1] == '#')
				{
					unsigned long cp = 0;
					bool		hex = i + 2 < semi && (src[i + 2] | 32) == 'x';
					bool		ok = true;

					for (size_t k = i + (hex ? 3 : 2); k < semi; k++)
					{
						char		d = lower(src[k]);
						int			v = (d >= '0' && d <= '9') ? d - '0' : (hex && d >= 'a' && d <= 'f') ? d - 'a' + 10 : -1;

						if (v < 0 || cp > 0x10FFFF)
						{
							ok = false;
							break;
						}
						cp = cp * (hex ? 16 : 10) + v;
					}
					if (ok && (n = utf8_put(cp, dst + o)) > 0)
					{
						o += n;
						i = semi + 1;
						continue;
					}
				}
				else
				{
					for (int k = 0; named_entities[k].name; k++)
					{
						size_t		nl = strlen(named_entities[k].name);

						if (nl == semi - i - 1 && memcmp(src + i + 1, named_entities[k].name, nl) == 0)
						{
							n = strlen(named_entities[k].utf8);
							if (named_entities[k].utf8[0] == ' ')
								n = SIZE_MAX;	/* &nbsp; is white space */
							else
								memcpy(dst + o, named_entities[k].utf8, n);
							break;
						}
					}
					if (n == SIZE_MAX)
					{
						space = o > 0;
						i = semi + 1;
						continue;
					}
					if (n > 0)
					{
						o += n;
						i = semi + 1;
						continue;
					}
				}
			}
		}
		dst[o++] = c;
		i++;
	}
	dst[o] = '\0';
	return o;
}
