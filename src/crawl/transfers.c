/*
 * transfers.c: a crawler's transfers, many at once on one libcurl multi
 * handle, waited on together with the worker's latch: a WaitEventSet is
 * built each time round from the sockets libcurl's socket callback asked
 * for, so the worker sleeps until a socket is ready, its latch is set, or
 * libcurl's timer is due.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "crawl/transfers.h"

#define MAX_SOCKETS 1024

static CURLM *multi;
static struct
{
	curl_socket_t fd;
	int			what;
}			socks[MAX_SOCKETS];
static int	nsocks = 0;
static bool timer_set = false;
static TimestampTz timer_at;



static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < nsocks; i++)
		if (socks[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < nsocks)
			socks[i] = socks[--nsocks];
		return 0;
	}
	if (i == nsocks)
	{
		if (nsocks == MAX_SOCKETS)
			return -1;
		nsocks++;
	}
	socks[i].fd = s;
	socks[i].what = what;
	return 0;
}

static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	timer_set = timeout_ms >= 0;
	if (timer_set)
		timer_at = GetCurrentTimestamp() + (TimestampTz) timeout_ms * 1000;
	return 0;
}

/*
 * Sleep until a socket is ready, the latch is set, or timeout_ms passes; then
 * drive libcurl.  True when the latch woke us (new URLs may be due).
 */
bool
transfers_wait(long timeout_ms, MemoryContext cxt)
{
	bool		woken = false;
	WaitEventSet *set;
	WaitEvent  *events;
	int			n,
				fired = 0,
				running;
	struct
	{
		curl_socket_t fd;
		int			mask;
	}		   *ready;

	if (timer_set)
	{
		long		t = (long) Max(0, (timer_at - GetCurrentTimestamp() + 999) / 1000);

		timeout_ms = timeout_ms < 0 ? t : Min(timeout_ms, t);
	}
	set = CreateWaitEventSet(cxt, nsocks + 2);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < nsocks; i++)
		AddWaitEventToSet(set,
						  ((socks[i].what & CURL_POLL_IN) ? WL_SOCKET_READABLE : 0) |
						  ((socks[i].what & CURL_POLL_OUT) ? WL_SOCKET_WRITEABLE : 0),
						  socks[i].fd, NULL, NULL);
	events = palloc(sizeof(WaitEvent) * (nsocks + 2));
	ready = palloc(sizeof(*ready) * (nsocks + 1));
	n = WaitEventSetWait(set, timeout_ms, events, nsocks + 2, PG_WAIT_EXTENSION);
	for (int i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			woken = true;
		}
		else if (events[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
		{
			ready[fired].fd = events[i].fd;
			ready[fired].mask = ((events[i].events & WL_SOCKET_READABLE) ? CURL_CSELECT_IN : 0) |
				((events[i].events & WL_SOCKET_WRITEABLE) ? CURL_CSELECT_OUT : 0);
			fired++;
		}
	}
	FreeWaitEventSet(set);

	/* libcurl's callbacks change socks[], so act on the copy */
	for (int i = 0; i < fired; i++)
		curl_multi_socket_action(multi, ready[i].fd, ready[i].mask, &running);
	if (timer_set && GetCurrentTimestamp() >= timer_at)
	{
		timer_set = false;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	return woken;
}


/* The multi handle, with its socket and timer callbacks. */
CURLM *
transfers_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || (multi = curl_multi_init()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("%s could not initialise libcurl", MyBgworkerEntry ? MyBgworkerEntry->bgw_name : "otto")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	return multi;
}
