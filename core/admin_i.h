/*
 * admin_i.h — helpers shared by the admin operations (repair.c,
 * compact.c, shlogctl).  Nothing in the engine includes it: the open
 * path's settling of an interrupted compaction is in settle.c
 * (engine_i.h).
 */
#ifndef SHLOG_ADMIN_I_H
#define SHLOG_ADMIN_I_H

#include "engine_i.h"
#include "lock_i.h"

/* Random hex digits in the name of a temporary directory. */
#define SHLOG_ADMIN_RAND_HEX SHLOG_TMP_HEX

/* For shlogctl until core/ctl calls sl_lock_held() (lock_i.h) itself. */
static inline int sl_admin_lock_held(int dfd)
{
	return sl_lock_held(dfd);
}

/* For shlogctl and test_compact until they call sl_mkdtemp() (util_i.h) themselves. */
static inline int sl_admin_mkdtemp(int dfd, const char *prefix, const char *suffix, char *name, size_t cap)
{
	return sl_mkdtemp(dfd, prefix, suffix, name, cap);
}

#endif
