/*
 * lock_i.h — the data dir's lock (lock.c): one flock(LOCK_EX) on
 * DATADIR/.lock, held by a store opened for writing and by the admin
 * operations that write (repair, compact), so at most one writer works
 * on a data dir at a time.  A read-only store takes no lock.
 */
#ifndef SHLOG_LOCK_I_H
#define SHLOG_LOCK_I_H

/* How sl_lock_open() opens the data dir. */
enum sl_lock_how {
	SL_LOCK_NONE,      /* open the directory only (a read-only store) */
	SL_LOCK_TAKE,      /* open it and take its lock (the admin operations) */
	SL_LOCK_CREATE,    /* make it (SHLOG_DIR_MODE) if missing, open it, take its lock */
};

/*
 * Open data dir @dir (the operator's path may pass through symlinks;
 * nothing inside it is followed) into @dfd and, unless SL_LOCK_NONE, take
 * its lock into @lock_fd (-1 otherwise).  Returns 0, -EBUSY if another
 * process holds the lock, or -errno; on failure nothing is left open and
 * both are -1.
 */
int sl_lock_open(const char *dir, enum sl_lock_how how, int *dfd, int *lock_fd);
/* Release what sl_lock_open() took (either fd may be -1). */
void sl_lock_close(int dfd, int lock_fd);
/* Is the lock of the data dir open as @dfd held by someone?  1 held, 0 free, or -errno. */
int sl_lock_held(int dfd);

#endif
