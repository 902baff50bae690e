/*
 * fetch.h: one HTTP fetch with libcurl under Otto's rules (fetch.c).
 */
#ifndef OTTO_FETCH_H
#define OTTO_FETCH_H

#include <curl/curl.h>

#include "lib/ilist.h"
#include "utils/timestamp.h"

extern char *otto_user_agent;
extern void FetchGucInit(void);

typedef struct Fetch
{
	dlist_node	node;			/* in the worker's list of transfers */
	CURL	   *easy;
	MemoryContext cxt;			/* everything below; deleted with the fetch */
	void	   *owner;			/* the worker's bookkeeping for this request */

	/* request */
	char	   *url;
	char	  **hosts;			/* hosts a redirect may lead to */
	int			nhosts;
	bool		allow_private;
	struct curl_slist *headers;
	TimestampTz started;

	/* response, filled by libcurl's callbacks (which never throw) */
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	size_t		max_bytes;
	int			status;			/* of the last response header block */
	char	   *etag;
	char	   *last_modified;
	char	   *content_type;
	char	   *location;
	char	   *retry_after;
	bool		too_large;
	bool		refused;
	char		refused_why[200];
	char		errbuf[CURL_ERROR_SIZE];
} Fetch;

/* What became of a fetch, for the page log. */
typedef struct FetchResult
{
	int			status;			/* 0 when no response arrived */
	const char *error_kind;		/* NULL on success; else one of otto.page.error_kind */
	char	   *error;
	bool		retry;			/* worth retrying later (5xx, 429, timeouts, resets) */
	double		retry_after_s;	/* server's Retry-After, -1 when absent */
	char	   *final_url;		/* after redirects */
	long		redirects;
	long		elapsed_ms;
	int64		wire_bytes;
	char	   *text;			/* decoded body in the database encoding, or NULL */
	size_t		text_len;
} FetchResult;

extern Fetch *fetch_create(MemoryContext parent, const char *url, char **hosts, int nhosts,
						   bool allow_private, const char *etag, const char *last_modified);
extern void fetch_finish(Fetch *f, CURLcode rc, FetchResult *r);
extern void fetch_destroy(Fetch *f);

/* The fetch's metadata for the page log (otto.page), as JSON. */
extern char *fetch_meta(FetchResult *r, Fetch *f);

#endif							/* OTTO_FETCH_H */
