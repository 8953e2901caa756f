/*
 * lock.c — the data dir's lock: DATADIR/.lock (SHLOG_LOCK_NAME), a
 * regular file created SHLOG_FILE_MODE and never written, flock()ed
 * exclusively by whoever writes to the data dir: shlog_store_open() for
 * writing, shlog_part_repair() and shlog_part_compact().  shlogctl and
 * the control socket ask sl_lock_held() whether a writer is there.
 * The lock dies with its holder, so a crash never leaves it stuck.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "const_i.h"
#include "io_i.h"
#include "lock_i.h"

/* Open (and with @create first make) the data dir @dir: the fd or -errno. */
static int dir_open(const char *dir, int create)
{
	int fd;

	if (create && sl_io.mkdirat(AT_FDCWD, dir, SHLOG_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	fd = sl_io.openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* Take the lock of the data dir open as @dfd: the lock's fd, -EBUSY if held, or -errno. */
static int lock_take(int dfd)
{
	int fd = sl_io_open(dfd, SHLOG_LOCK_NAME, O_RDWR | O_CREAT, SHLOG_FILE_MODE, S_IFREG), rc;

	if (fd < 0)
		return fd;
	if (sl_io.flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	sl_io.close(fd);
	return rc;
}

int sl_lock_open(const char *dir, enum sl_lock_how how, int *dfd, int *lock_fd)
{
	*lock_fd = -1;
	*dfd = dir_open(dir, how == SL_LOCK_CREATE);
	if (*dfd < 0) {
		int rc = *dfd;
		*dfd = -1;
		return rc;
	}
	if (how == SL_LOCK_NONE)
		return 0;
	*lock_fd = lock_take(*dfd);
	if (*lock_fd < 0) {
		int rc = *lock_fd;
		sl_lock_close(*dfd, -1);
		*dfd = *lock_fd = -1;
		return rc;
	}
	return 0;
}

/* Release the lock and the data dir's fd. */
void sl_lock_close(int dfd, int lock_fd)
{
	if (lock_fd >= 0)
		sl_io.close(lock_fd);
	if (dfd >= 0)
		sl_io.close(dfd);
}

/* Is the data dir's lock held (by a mounted shlogfs or a write command)? */
int sl_lock_held(int dfd)
{
	int fd = sl_io_open(dfd, SHLOG_LOCK_NAME, O_RDONLY, 0, S_IFREG), held;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	held = sl_io.flock(fd, LOCK_SH | LOCK_NB) < 0;
	if (held && errno != EWOULDBLOCK)
		held = -errno;
	sl_io.close(fd);
	return held;
}
