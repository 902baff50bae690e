/*
 * launcher.h: the launcher, which keeps the crawlers and the stream processor running.
 */
#ifndef OTTO_LAUNCHER_H
#define OTTO_LAUNCHER_H

#include "postgres.h"

extern int	otto_crawler_workers;
extern int	otto_launcher_naptime_ms;

extern void LauncherGucInit(void);
extern void LauncherInit(void);
extern PGDLLEXPORT void otto_launcher_main(Datum main_arg);

#endif							/* OTTO_LAUNCHER_H */
