/*
 * tools.c: the engine under otto.call_tool.
 *
 * otto_tool_exec runs one fixed query (built by otto.call_tool from the tool
 * registry, never from chat text) with the checked arguments as $1, through
 * SPI in read-only mode, and cancels it after otto.tool_timeout.  The
 * deadline is the statement timeout, armed for the call only: a caller's
 * earlier deadline is kept, a later one is restored afterwards.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "chat/tools.h"

static int	tool_timeout_ms = 10000;

void
ToolsGucInit(void)
{
	DefineCustomIntVariable("otto.tool_timeout",
							"Time a chat tool call (otto.call_tool) may run before it is cancelled.",
							"Only superusers may change it, so that a chat session cannot extend it.",
							&tool_timeout_ms,
							10000, 10, 600000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(otto_tool_exec);
Datum
otto_tool_exec(PG_FUNCTION_ARGS)
{
	char	   *query;
	Datum		args = PG_GETARG_DATUM(1);
	Oid			argtypes[1] = {JSONBOID};
	char		nulls[1] = {PG_ARGISNULL(1) ? 'n' : ' '};
	bool		had = get_timeout_active(STATEMENT_TIMEOUT);
	TimestampTz before = had ? get_timeout_finish_time(STATEMENT_TIMEOUT) : 0;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), tool_timeout_ms);
	bool		armed = !had || before > deadline;
	Datum		result = (Datum) 0;
	bool		isnull = true;

	/* not STRICT: NULL arguments are a tool without any ($1 IS NULL) */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a tool query must not be NULL")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (armed)
		enable_timeout_at(STATEMENT_TIMEOUT, deadline);
	PG_TRY();
	{
		int			rc;

		SPI_connect();
		rc = SPI_execute_with_args(query, 1, argtypes, &args, nulls, true, 2);
		if (rc != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1 ||
			SPI_gettypeid(SPI_tuptable->tupdesc, 1) != JSONBOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("a tool query must return one jsonb value")));
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			result = SPI_datumTransfer(result, false, -1);
		SPI_finish();
	}
	PG_FINALLY();
	{
		if (armed && had)
			enable_timeout_at(STATEMENT_TIMEOUT, before);
		else if (armed)
			disable_timeout(STATEMENT_TIMEOUT, false);
	}
	PG_END_TRY();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * otto.edit_distance(a, b): Levenshtein distance in bytes, for otto.ask's
 * typo-tolerant names (words of up to 64 characters; longer ones are "far").
 */
PG_FUNCTION_INFO_V1(otto_edit_distance);
Datum
otto_edit_distance(PG_FUNCTION_ARGS)
{
	text	   *ta = PG_GETARG_TEXT_PP(0);
	text	   *tb = PG_GETARG_TEXT_PP(1);
	int			la = VARSIZE_ANY_EXHDR(ta);
	int			lb = VARSIZE_ANY_EXHDR(tb);
	const char *a = VARDATA_ANY(ta);
	const char *b = VARDATA_ANY(tb);
	int			row[65];

	if (la > 64 || lb > 64)
		PG_RETURN_INT32(Max(la, lb));
	/* bytes, not characters: names are compared as ASCII keys (otto.name_key) */
	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++)
	{
		int			diag = row[0];

		row[0] = i;
		for (int j = 1; j <= lb; j++)
		{
			int			up = row[j];
			int			best = diag + (a[i - 1] != b[j - 1]);

			best = Min(best, up + 1);
			best = Min(best, row[j - 1] + 1);
			diag = up;
			row[j] = best;
		}
	}
	PG_RETURN_INT32(row[lb]);
}
