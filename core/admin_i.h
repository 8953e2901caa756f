/*
 * admin_i.h — helpers shared by the admin operations (repair.c,
 * compact.c) and the hook by which an open of the store settles a
 * compaction that a crash interrupted (store.c).
 */
#ifndef SHLOG_ADMIN_I_H
#define SHLOG_ADMIN_I_H

#include "engine_i.h"

/* Open the data dir @dir and take its lock like a store open; -EBUSY if held. */
int shlog_admin_lock(const char *dir, int *dfd, int *lock_fd);
/* Release what shlog_admin_lock() took. */
void shlog_admin_unlock(int dfd, int lock_fd);

/*
 * Finish or roll back every half-done compaction swap in topic directory
 * @tdfd (".compact-N.new" / ".compact-N.old" beside partition N); @s is
 * only used for log lines (may be NULL).  Returns 0 or the first -errno.
 */
int shlog_compact_settle(shlog_store *s, int tdfd, const char *topic);

#endif
