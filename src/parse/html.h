/*
 * html.h: a streaming HTML tokenizer with an element stack and CSS-like
 * selectors, in plain C (no PostgreSQL headers) so the fuzzer can build it
 * alone.  Nothing is allocated: tokens and attribute values point into the
 * caller's buffer, the element stack is fixed-size.
 */
#ifndef OTTO_HTML_H
#define OTTO_HTML_H

#include <stdbool.h>
#include <stddef.h>

#define HTML_MAX_ATTRS 32
#define HTML_MAX_DEPTH 256		/* deeper elements are counted, not tracked */
#define HTML_SEL_MAX 6			/* compound selectors in one chain */
#define HTML_SEL_CLASSES 3

typedef struct HtmlSlice
{
	const char *p;
	size_t		len;
} HtmlSlice;

typedef struct HtmlAttr
{
	HtmlSlice	name;
	HtmlSlice	value;			/* raw: entities not decoded */
} HtmlAttr;

#define HTML_ELEM_CLASSES 8		/* classes of one element that selectors can see */

typedef struct HtmlElem
{
	char		name[12];		/* lower case, truncated */
	unsigned int name_hash;
	HtmlSlice	id;
	HtmlSlice	klass;
	/* the class attribute split once: hashes, offsets into klass, lengths */
	unsigned int class_hash[HTML_ELEM_CLASSES];
	unsigned short class_off[HTML_ELEM_CLASSES];
	unsigned char class_len[HTML_ELEM_CLASSES];
	int			nclasses;
} HtmlElem;

typedef struct HtmlCompound
{
	char		name[12];		/* "" = any element */
	char		id[32];
	char		classes[HTML_SEL_CLASSES][40];
	unsigned char class_len[HTML_SEL_CLASSES];
	unsigned int class_hash[HTML_SEL_CLASSES];
	unsigned char id_len;
	int			nclasses;
} HtmlCompound;

/* A descendant chain such as "div.divider .uk-text-bold". */
typedef struct HtmlSelector
{
	HtmlCompound parts[HTML_SEL_MAX];
	int			nparts;
} HtmlSelector;

typedef enum HtmlEvent
{
	HTML_START,					/* a start tag; the element is on top of the stack */
	HTML_END,					/* the element on top of the stack is about to be popped */
	HTML_TEXT					/* text (or raw text of script/style), entities not decoded */
} HtmlEvent;

typedef struct HtmlWalker HtmlWalker;

/* Called for each event; returning false stops the walk. */
typedef bool (*HtmlCallback) (HtmlWalker *w, HtmlEvent ev, void *arg);

struct HtmlWalker
{
	const char *buf;
	size_t		len;
	size_t		pos;
	HtmlElem	stack[HTML_MAX_DEPTH];
	int			depth;			/* elements open (may exceed HTML_MAX_DEPTH) */
	/* the current token */
	HtmlSlice	tag;
	HtmlAttr	attrs[HTML_MAX_ATTRS];
	int			nattrs;
	HtmlSlice	text;
	bool		in_script;		/* raw text of a <script> */
	long		elements;		/* start tags seen */
	bool		opened_html;	/* saw <html> */
	bool		closed_html;	/* saw </html>: the document arrived whole */
	/* set by the caller (html_walk keeps it): called every few thousand tokens, may not return */
	void		(*tick) (void);
};

extern void html_walk(HtmlWalker *w, const char *buf, size_t len, HtmlCallback cb, void *arg);

/* Is the current start tag (at any depth) named name (lower case)? */
extern bool html_tag_is(const HtmlWalker *w, const char *name);

/* Attribute of the current start tag (raw value), or NULL. */
extern const HtmlSlice *html_attr(const HtmlWalker *w, const char *name);

/* Compile "tag#id.class tag.class" into sel; false if it does not fit or is malformed. */
extern bool html_selector_compile(const char *text, HtmlSelector *sel);

/*
 * A selector's key for prefiltering: the hash of the first class of its last
 * part, else of its tag name; false for a selector that can match any
 * element.  An element can match only if its name hash or one of its class
 * hashes equals the key.
 */
extern bool html_selector_key(const HtmlSelector *sel, unsigned int *key);

/* Does the element on top of the stack match the selector (ancestors included)? */
extern bool html_match(const HtmlWalker *w, const HtmlSelector *sel);

/*
 * Decode entities and collapse white space of src into dst (at most dst_cap
 * bytes, always NUL-terminated); returns the length written.  The result is
 * never longer than src, so dst_cap = len + 1 always suffices.
 */
extern size_t html_text_decode(const char *src, size_t len, char *dst, size_t dst_cap);

#endif
