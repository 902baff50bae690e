/*
 * worker.h: the kit Otto's background workers are built from: start-up and
 * signals, SQL in its own transaction, one shared-memory hook for every
 * module.
 */
#ifndef OTTO_WORKER_H
#define OTTO_WORKER_H

#include "postgres.h"

#include <signal.h>

#include "executor/spi.h"

/* otto.database: where every worker connects */
extern char *otto_database;
extern void WorkerGucInit(void);

/* Set by SIGTERM: finish the main loop. */
extern volatile sig_atomic_t otto_got_sigterm;

/*
 * Start a worker: SIGHUP reloads the configuration, SIGTERM sets
 * otto_got_sigterm (quickdie: a SIGQUIT handler, or NULL for the default),
 * then connect to otto.database and take appname.
 */
extern void worker_start(const char *appname, pqsigfunc quickdie);

/* Reload the configuration if a SIGHUP asked for it; true when it did. */
extern bool worker_reload_config(void);

/* What worker_sql does with an error (anything else ends the worker). */
#define WORKER_SQL_CATCH_LOCK_TIMEOUT	0x01	/* a lock timeout: try later */
#define WORKER_SQL_CATCH_ERRORS			0x02	/* any error of the statement's
												 * own (a bad page), after
												 * retrying deadlocks */

typedef void (*WorkerRowsFn) (SPITupleTable *tt, uint64 n, void *arg);

/*
 * Run one statement in its own transaction, its plan prepared once per
 * process (sql must be a string literal: its address is the key).  Rows go to
 * rows_fn in the caller's memory context.  Errors the flags catch roll back
 * and return false with *error (or a WARNING when error is NULL); a query
 * cancel, a shutdown and every other error go up and end the worker, whose
 * state is all in the database.
 */
extern bool worker_sql(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
					   int flags, WorkerRowsFn rows_fn, void *arg, char **error);

/* Column col of row (1-based) as text (NULL when null), or as an int (dflt when null). */
static inline char *
worker_text(SPITupleTable *tt, uint64 row, int col)
{
	return SPI_getvalue(tt->vals[row], tt->tupdesc, col);
}

static inline int
worker_int(SPITupleTable *tt, uint64 row, int col, int dflt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tt->vals[row], tt->tupdesc, col, &isnull);

	return isnull ? dflt : DatumGetInt32(d);
}

/* A WorkerRowsFn: the first column of a one-row result as a bigint into *(int64 *) arg (0 when NULL or no row). */
extern void worker_int64_row(SPITupleTable *tt, uint64 n, void *arg);

/* One row, one bigint (NULL is 0); *lock_timeout (when given) says a lock timed out. */
extern int64 worker_sql_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *lock_timeout);

/*
 * Shared memory: a module asks for size bytes while the library is
 * preloaded, and startup runs once the segment exists (under
 * AddinShmemInitLock), in the postmaster and in every backend.
 */
extern void worker_shmem_request(Size size, void (*startup) (void));
extern void WorkerShmemInit(void);

#endif							/* OTTO_WORKER_H */
