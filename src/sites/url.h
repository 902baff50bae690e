/*
 * url.h: URL resolution and normalisation (RFC 3986).
 */
#ifndef OTTO_URL_H
#define OTTO_URL_H

#include "postgres.h"

#define OTTO_URL_MAX 2048

extern char *otto_tracking_params;
extern void UrlGucInit(void);
extern char *otto_url_normalize(const char *base, const char *ref, const char **why);
extern const char *otto_url_host(const char *norm, int *len);
extern const char *otto_url_path(const char *norm);

#endif							/* OTTO_URL_H */
