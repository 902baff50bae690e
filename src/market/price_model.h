/*
 * price_model.h: the learned half of fair value (gradient-boosted trees) and
 * the trainer worker that keeps it current.
 */
#ifndef OTTO_PRICE_MODEL_H
#define OTTO_PRICE_MODEL_H

#include "postgres.h"

extern bool otto_price_trainer_enabled;
extern void PriceModelGucInit(void);
extern PGDLLEXPORT void otto_price_trainer_main(Datum main_arg);

#endif							/* OTTO_PRICE_MODEL_H */
