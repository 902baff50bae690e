/*
 * worker.c: the kit Otto's background workers are built from (see worker.h).
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "core/worker.h"

char	   *otto_database = NULL;
volatile sig_atomic_t otto_got_sigterm = false;

/* otto.database exists only for the preloaded library (it is a postmaster setting). */
void
WorkerGucInit(void)
{
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("otto.database",
								   "Database the Otto launcher and workers connect to.",
								   "Create the otto extension in this database.",
								   &otto_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);
}

/* SIGTERM: finish the main loop; the latch wakes it at once. */
static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	otto_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
worker_start(const char *appname, pqsigfunc quickdie)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, worker_sigterm);
	if (quickdie)
		pqsignal(SIGQUIT, quickdie);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(otto_database, NULL, 0);
	pgstat_report_appname(appname);
}

bool
worker_reload_config(void)
{
	if (!ConfigReloadPending)
		return false;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	return true;
}

/*
 * The statement's plan, prepared on first use and kept for the process's
 * life (the plan cache replans it when the schema changes).
 */
static SPIPlanPtr
kept_plan(const char *sql, int nargs, Oid *types)
{
	static struct
	{
		const char *sql;
		SPIPlanPtr	plan;
	}			plans[24];
	static int	nplans = 0;
	SPIPlanPtr	plan;

	for (int i = 0; i < nplans; i++)
		if (plans[i].sql == sql)
			return plans[i].plan;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (nplans == lengthof(plans))
		return plan;			/* not kept: freed with the transaction */
	SPI_keepplan(plan);
	plans[nplans].sql = sql;
	plans[nplans++].plan = plan;
	return plan;
}

/* May worker_sql catch this error, given its flags? */
static bool
catchable(ErrorData *ed, int flags)
{
	/* a cancel or a shutdown is not the statement's fault: let it through */
	if (ed->sqlerrcode == ERRCODE_QUERY_CANCELED || ed->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		ed->elevel > ERROR || ProcDiePending)
		return false;
	if (flags & WORKER_SQL_CATCH_ERRORS)
		return true;
	return (flags & WORKER_SQL_CATCH_LOCK_TIMEOUT) && ed->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

bool
worker_sql(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
		   int flags, WorkerRowsFn rows_fn, void *arg, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile ed = NULL;

	/* a deadlock or serialization failure (two workers linking each other's pages) is tried again */
	for (int attempt = 0; attempt < 5; attempt++)
	{
		ed = NULL;
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PG_TRY();
		{
			int			rc;

			SPI_connect();
			PushActiveSnapshot(GetTransactionSnapshot());
			pgstat_report_activity(STATE_RUNNING, sql);
			rc = SPI_execute_plan(kept_plan(sql, nargs, types), values, nulls, false, 0);
			if (rc < 0)
				elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
			if (rows_fn && SPI_tuptable)
			{
				MemoryContext spi = MemoryContextSwitchTo(cxt);

				rows_fn(SPI_tuptable, SPI_processed, arg);
				MemoryContextSwitchTo(spi);
			}
			SPI_finish();
			PopActiveSnapshot();
			CommitTransactionCommand();
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			ed = CopyErrorData();
			if (!catchable(ed, flags))
				PG_RE_THROW();
			FlushErrorState();
			AbortCurrentTransaction();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		if (ed == NULL || !(flags & WORKER_SQL_CATCH_ERRORS) ||
			(ed->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED && ed->sqlerrcode != ERRCODE_T_R_SERIALIZATION_FAILURE))
			break;
		pg_usleep(10000L * (attempt + 1));
	}
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (ed == NULL)
		return true;
	if (error)
		*error = ed->message;
	else
		ereport(WARNING,
				(errmsg("%s: %s", MyBgworkerEntry ? MyBgworkerEntry->bgw_name : "otto", ed->message),
				 ed->detail ? errdetail_internal("%s", ed->detail) : 0));
	return false;
}

void
worker_int64_row(SPITupleTable *tt, uint64 n, void *arg)
{
	bool		isnull = true;
	Datum		d = 0;

	if (n == 1)
		d = SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull);
	*(int64 *) arg = isnull ? 0 : DatumGetInt64(d);
}

int64
worker_sql_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *lock_timeout)
{
	int64		result = 0;
	char	   *error;
	bool		ok;

	ok = worker_sql(sql, nargs, types, values, NULL, lock_timeout ? WORKER_SQL_CATCH_LOCK_TIMEOUT : 0,
					worker_int64_row, &result, &error);
	if (lock_timeout)
	{
		*lock_timeout = !ok;
		if (!ok)
			ereport(DEBUG1, (errmsg("%s: %s; trying again", MyBgworkerEntry ? MyBgworkerEntry->bgw_name : "otto", error)));
	}
	return result;
}

/* ---------------------------------------------------------------------
 * Shared memory: one request hook and one startup hook for every module.
 * --------------------------------------------------------------------- */

#define MAX_SHMEM_USERS 8
static struct
{
	Size		size;
	void		(*startup) (void);
}			shmem_users[MAX_SHMEM_USERS];
static int	n_shmem_users = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void
worker_shmem_request(Size size, void (*startup) (void))
{
	if (n_shmem_users == MAX_SHMEM_USERS)
		elog(ERROR, "too many users of Otto's shared memory");
	shmem_users[n_shmem_users].size = size;
	shmem_users[n_shmem_users++].startup = startup;
}

static void
otto_shmem_request(void)
{
	Size		total = 0;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (int i = 0; i < n_shmem_users; i++)
		total = add_size(total, shmem_users[i].size);
	RequestAddinShmemSpace(total);
}

static void
otto_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < n_shmem_users; i++)
		shmem_users[i].startup();
	LWLockRelease(AddinShmemInitLock);
}

/* Install the hooks (in _PG_init, while preloading, after the modules asked). */
void
WorkerShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = otto_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = otto_shmem_startup;
}
