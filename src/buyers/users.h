/*
 * users.h: the signed-in app user's settings.
 */
#ifndef OTTO_USERS_H
#define OTTO_USERS_H

#include "postgres.h"

extern void UsersGucInit(void);

#endif							/* OTTO_USERS_H */
