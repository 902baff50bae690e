/*
 * hosts.h: what a crawler knows of the sites and hosts it fetches from (hosts.c).
 */
#ifndef OTTO_HOSTS_H
#define OTTO_HOSTS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "crawl/robots.h"

#define HOST_KEY_LEN 256

extern int	otto_robots_max_age_s;

/* A site as the worker needs it; refreshed at every claim. */
typedef struct CrawlSite
{
	int			site_id;
	char	  **hosts;
	int			nhosts;
	int			delay_ms;
	int			max_concurrency;
	bool		allow_private;
} CrawlSite;

enum RobotsState
{
	ROBOTS_UNKNOWN,				/* not loaded: look in otto.robots, else fetch */
	ROBOTS_FETCHING,
	ROBOTS_READY
};

/* A host's robots.txt and politeness slot. */
typedef struct Host
{
	char		key[HOST_KEY_LEN];	/* host[:port] */
	int			slot;
	enum RobotsState robots_state;
	TimestampTz robots_until;	/* READY: re-read after; UNKNOWN: no fetch before */
	MemoryContext robots_cxt;
	Robots	   *robots;			/* NULL = allow all */
	int			robots_delay_ms;
	TimestampTz failures_logged_at; /* the last LOG line about its failures */
	int			failures_unlogged;	/* failures since */
} Host;


extern void hosts_init(void);
extern bool sites_refresh(bool force);
extern CrawlSite *find_site(int site_id);
extern bool site_owns_host(CrawlSite *s, const char *host);
extern Host *host_get(const char *key);
extern void host_set_robots(Host *h, const char *txt, TimestampTz fetched_at);
extern TimestampTz host_load_robots(Host *h, bool any_age);

#endif							/* OTTO_HOSTS_H */
