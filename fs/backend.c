/*
 * backend.c — the backend in use (backend.h): one per daemon, installed
 * by main.c before the store opens.
 */
#include "backend.h"

/* The local engine until main.c says otherwise. */
const struct shlogfs_backend *shlogfs_be = &shlogfs_backend_local;

/* Install @p be as the daemon's backend. */
void shlogfs_backend_set(const struct shlogfs_backend *be)
{
	shlogfs_be = be;
}
