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
 * otto.lang, the language of Otto's sentences, is anyone's to set, and so
 * are the two numbers otto.search_ads reads its pages by.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "buyers/users.h"

static int	session_user_id = 0;
static char *session_lang = NULL;
static int	search_run_ads = 20000;
static int	search_bitmap_ads = 30000;

/* otto.lang: empty (the signed-in user's language), en, sr / sr-Latn or sr-Cyrl */
static bool
check_lang(char **newval, void **extra, GucSource source)
{
	const char *known[] = {"", "en", "sr", "sr-Latn", "sr-Cyrl"};

	for (int i = 0; i < lengthof(known); i++)
		if (pg_strcasecmp(*newval, known[i]) == 0)
			return true;
	GUC_check_errdetail("Languages: en, sr-Latn (or sr), sr-Cyrl; empty for the signed-in user's.");
	return false;
}

void
UsersGucInit(void)
{
	DefineCustomIntVariable("otto.user_id",
							"The Otto app user this session acts for (0: none).",
							"Set by otto.login(token) and otto.logout(); only superusers may set it directly.",
							&session_user_id,
							0, 0, PG_INT32_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("otto.lang",
							   "Language of the sentences Otto writes: en, sr-Latn (or sr), sr-Cyrl.",
							   "Empty: the signed-in user's language, else English.",
							   &session_lang,
							   "",
							   PGC_USERSET, 0, check_lang, NULL, NULL);
	DefineCustomIntVariable("otto.search_run_ads",
							"How many ads otto.search_ads reads first along the sort's index, testing each filter on its entry.",
							"Per model year (price, mileage and power sorts with a filter that follows age), a tenth of it in each year.",
							&search_run_ads,
							20000, 10, 10000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("otto.search_bitmap_ads",
							"Below how many expected matches otto.search_ads reads them all through the filters' indexes.",
							"At or above it, a search the first run did not fill walks on along the sort's index.",
							&search_bitmap_ads,
							30000, 0, PG_INT32_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(otto_current_user_id);
Datum
otto_current_user_id(PG_FUNCTION_ARGS)
{
	if (session_user_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(session_user_id);
}
