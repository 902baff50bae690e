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

/* FNV-1a, to compare class names by hash first. */
static inline unsigned int
class_hash(const char *p, size_t n)
{
	unsigned int h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char) p[i]) * 16777619u;
	return h;
}

/* Split an element's class attribute once, so selectors compare hashes. */
static void
split_classes(HtmlElem *e)
{
	size_t		i = 0;

	e->nclasses = 0;
	while (i < e->klass.len && e->nclasses < HTML_ELEM_CLASSES && i < 65535)
	{
		size_t		st;

		while (i < e->klass.len && is_space(e->klass.p[i]))
			i++;
		st = i;
		while (i < e->klass.len && !is_space(e->klass.p[i]))
			i++;
		if (i > st && i - st < 256)
		{
			e->class_hash[e->nclasses] = class_hash(e->klass.p + st, i - st);
			e->class_off[e->nclasses] = (unsigned short) st;
			e->class_len[e->nclasses] = (unsigned char) (i - st);
			e->nclasses++;
		}
	}
}

/* Lower-case a tag name into name (truncated to fit). */
static void
lower_name(HtmlSlice tag, char *name, size_t cap)
{
	size_t		n = tag.len < cap - 1 ? tag.len : cap - 1;

	for (size_t i = 0; i < n; i++)
		name[i] = lower(tag.p[i]);
	name[n] = '\0';
}

/* Elements that never have content (HTML "void elements"). */
static bool
is_void(const char *n)
{
	switch (n[0])
	{
		case 'a':
			return strcmp(n, "area") == 0;
		case 'b':
			return strcmp(n, "br") == 0 || strcmp(n, "base") == 0;
		case 'c':
			return strcmp(n, "col") == 0;
		case 'e':
			return strcmp(n, "embed") == 0;
		case 'h':
			return strcmp(n, "hr") == 0;
		case 'i':
			return strcmp(n, "img") == 0 || strcmp(n, "input") == 0;
		case 'l':
			return strcmp(n, "link") == 0;
		case 'm':
			return strcmp(n, "meta") == 0;
		case 'p':
			return strcmp(n, "param") == 0;
		case 's':
			return strcmp(n, "source") == 0;
		case 't':
			return strcmp(n, "track") == 0;
		case 'w':
			return strcmp(n, "wbr") == 0;
	}
	return false;
}

/* Elements whose content is raw text up to their end tag. */
static bool
is_raw(const char *n)
{
	return strcmp(n, "script") == 0 || strcmp(n, "style") == 0 ||
		strcmp(n, "textarea") == 0 || strcmp(n, "title") == 0;
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

		lower_name(w->tag, e->name, sizeof(e->name));
		e->name_hash = class_hash(e->name, strlen(e->name));
		e->id = (HtmlSlice) {NULL, 0};
		e->klass = (HtmlSlice) {NULL, 0};
		for (int i = 0; i < w->nattrs; i++)
		{
			HtmlSlice	n = w->attrs[i].name;

			if (n.len == 5 && (n.p[0] | 32) == 'c' && slice_ieq(n, "class"))
				e->klass = w->attrs[i].value;
			else if (n.len == 2 && (n.p[0] | 32) == 'i' && slice_ieq(n, "id"))
				e->id = w->attrs[i].value;
		}
		split_classes(e);
	}
	w->depth++;
}

/* Index of the nearest open element named tag, or -1. */
static int
find_open(const HtmlWalker *w, HtmlSlice tag)
{
	int			top = w->depth < HTML_MAX_DEPTH ? w->depth : HTML_MAX_DEPTH;

	char		name[12];

	if (w->depth > HTML_MAX_DEPTH)
		return w->depth - 1;	/* untracked depths close one at a time */
	lower_name(tag, name, sizeof(name));
	for (int i = top - 1; i >= 0; i--)
		if (w->stack[i].name[0] == name[0] && strcmp(w->stack[i].name, name) == 0)
			return i;
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

/*
 * Tokenize buf and call cb for each event.  One scanning loop over the bytes
 * (longer than 100 lines): the tokenizer's states share the cursor and the
 * walker, and one pass keeps it linear in the page.
 */
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
	for (unsigned int tokens = 1; i < len; tokens++)
	{
		const char *lt;
		size_t		at;

		if (w->tick && tokens % 4096 == 0)
			w->tick();
		lt = memchr(buf + i, '<', len - i);
		at = lt ? (size_t) (lt - buf) : len;
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
			char		name[12];

			while (i < len && !is_space(buf[i]) && buf[i] != '>' && buf[i] != '/')
				i++;
			w->tag = (HtmlSlice) {buf + ns, i - ns};

			parse_attrs(w, &i, &self_closing);
			w->elements++;
			lower_name(w->tag, name, sizeof(name));
			if (strcmp(name, "html") == 0)
				w->opened_html = true;
			if (is_void(name))
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
			raw = is_raw(name);
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

				w->in_script = strcmp(name, "script") == 0;
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

bool
html_tag_is(const HtmlWalker *w, const char *name)
{
	return slice_ieq(w->tag, name);
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
			if (dst == c->id)
				c->id_len = (unsigned char) n;
			else if (dst != c->name)
			{
				c->class_len[c->nclasses - 1] = (unsigned char) n;
				c->class_hash[c->nclasses - 1] = class_hash(dst, n);
			}
		}
	}
	return sel->nparts > 0;
}

/* Does the element have this class (exact, case-sensitive)? */
static bool
has_class(const HtmlElem *e, const HtmlCompound *c, int k)
{
	for (int i = 0; i < e->nclasses; i++)
		if (e->class_hash[i] == c->class_hash[k] && e->class_len[i] == c->class_len[k] &&
			memcmp(e->klass.p + e->class_off[i], c->classes[k], c->class_len[k]) == 0)
			return true;
	return false;
}

static bool
compound_match(const HtmlElem *e, const HtmlCompound *c)
{
	if (c->name[0] && (e->name[0] != c->name[0] || strcmp(e->name, c->name) != 0))
		return false;
	if (c->id_len && (e->id.len != c->id_len || memcmp(e->id.p, c->id, c->id_len) != 0))
		return false;
	for (int k = 0; k < c->nclasses; k++)
		if (!has_class(e, c, k))
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
html_selector_key(const HtmlSelector *sel, unsigned int *key)
{
	const HtmlCompound *c = &sel->parts[sel->nparts - 1];

	if (c->nclasses > 0)
		*key = c->class_hash[0];
	else if (c->name[0])
		*key = class_hash(c->name, strlen(c->name));
	else
		return false;
	return true;
}

bool
html_match(const HtmlWalker *w, const HtmlSelector *sel)
{
	if (w->depth < 1 || w->depth > HTML_MAX_DEPTH)
		return false;
	return chain_match(w, sel, w->depth - 1);
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
