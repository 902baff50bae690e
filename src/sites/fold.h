/*
 * fold.h: the one text fold every match uses (fold.c).
 */
#ifndef OTTO_FOLD_H
#define OTTO_FOLD_H

#include "postgres.h"

extern char *otto_fold(const char *s, size_t len);

#endif							/* OTTO_FOLD_H */
