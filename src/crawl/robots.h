/*
 * robots.h: robots.txt (RFC 9309).
 */
#ifndef OTTO_ROBOTS_H
#define OTTO_ROBOTS_H

#include "postgres.h"

typedef struct Robots Robots;
extern Robots *otto_robots_parse(MemoryContext cxt, const char *txt, const char *ua);
extern bool otto_robots_allows(Robots *r, const char *path);
extern double otto_robots_delay(Robots *r);

#endif							/* OTTO_ROBOTS_H */
