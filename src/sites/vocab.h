/*
 * vocab.h: the vocabulary (otto.vocabulary), cached per backend.
 */
#ifndef OTTO_VOCAB_H
#define OTTO_VOCAB_H

#include "postgres.h"

extern const char *vocab_lookup(const char *field, const char *spelling);

#endif							/* OTTO_VOCAB_H */
