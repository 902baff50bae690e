/*
 * vocab.h: the vocabulary (otto.vocabulary), cached per backend.
 */
#ifndef OTTO_VOCAB_H
#define OTTO_VOCAB_H

#include "postgres.h"

#include "nodes/pg_list.h"

extern const char *vocab_lookup(const char *field, const char *spelling);
extern List *vocab_fields(void);

#endif							/* OTTO_VOCAB_H */
