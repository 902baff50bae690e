/*
 * users.c: who the buyer in this session is.
 *
 * otto.user_id names the app user a session acts for.  Only superusers may
 * set it, so a front end cannot pick a user by itself: it calls
 * otto.login(token), a SECURITY DEFINER function owned by the extension's
 * (superuser) owner, which checks the token and sets it.  Row-level security
 * on every per-user table compares user_id with otto.current_user_id().
 *
 * otto.current_user_id() is C on purpose: calling it loads this library, so
 * the setting is defined before it is read.  A value that an unprivileged
 * role set as a placeholder before the library was loaded is then refused by
 * the server (PostgreSQL 15 remembers who set placeholders), and never seen.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "otto.h"

static int	session_user_id = 0;

void
UsersGucInit(void)
{
	DefineCustomIntVariable("otto.user_id",
							"The Otto app user this session acts for (0: none).",
							"Set by otto.login(token) and otto.logout(); only superusers may set it directly.",
							&session_user_id,
							0, 0, PG_INT32_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(otto_current_user_id);
Datum
otto_current_user_id(PG_FUNCTION_ARGS)
{
	if (session_user_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(session_user_id);
}
