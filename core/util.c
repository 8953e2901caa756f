/*
 * util.c — the small utilities every module of the engine shares: log
 * lines, clocks, a growable byte buffer, directory fsync, removing a
 * tree, an entry's file type, a fresh temporary directory, and
 * shlog_strerror.  Everything here goes
 * through the I/O seam (io_i.h) and calls no other module, so util sits
 * at the bottom of the module graph beside io, crc32c, names and lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "engine_i.h"
#include "io_i.h"
#include "names_i.h"
#include "util_i.h"

/* ================================================================ */
/* Log lines and errors                                              */
/* ================================================================ */

/* Send one formatted line to the store's log callback (or stderr). */
void sl_logf(shlog_store *s, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s && s->o.log)
		s->o.log(level, msg, s->o.log_arg);
	else
		fprintf(stderr, "shlog: %s\n", msg);
}

/* strerror for shlog's negative errnos. */
const char *shlog_strerror(int err)
{
	if (err == -EUCLEAN)
		return "damaged or unexpected data in the store (see the log; verify, then repair)";
	return strerror(err < 0 ? -err : err);
}

/* ================================================================ */
/* Clocks and buffers                                                */
/* ================================================================ */

/* Monotonic clock in nanoseconds, for deadlines. */
int64_t sl_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall clock in nanoseconds since the epoch, for block times. */
int64_t sl_now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Make room for @more bytes at the end of @b. */
int sl_buf_reserve(struct shlog_buf *b, size_t more)
{
	size_t want = b->len + more, cap = b->cap ? b->cap : 4096;
	char *d;

	if (want <= b->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* ================================================================ */
/* Directories                                                       */
/* ================================================================ */

/* fsync a directory so that creations, renames and unlinks in it last. */
int sl_fsync_dir(int dfd)
{
	return sl_io.fsync(dfd) < 0 ? -errno : 0;
}

/* The file type (S_IFMT bits) of entry @name of @dfd; 0 if it is gone. */
mode_t sl_entry_type(int dfd, const char *name, unsigned char d_type)
{
	struct stat st;

	if (d_type != DT_UNKNOWN)
		return DTTOIF(d_type);
	if (sl_io.fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return st.st_mode & S_IFMT;
}

/* A directory being emptied by sl_rmtree_at, and its first error. */
struct rmtree_walk {
	int dfd;
	int rc;
};

/* Remove one entry of the directory being emptied. */
static int rmtree_entry(const char *name, unsigned char d_type, void *arg)
{
	struct rmtree_walk *w = arg;
	int r;

	if (sl_entry_type(w->dfd, name, d_type) == S_IFDIR)
		r = sl_rmtree_at(w->dfd, name);
	else
		r = sl_io.unlinkat(w->dfd, name, 0) < 0 ? -errno : 0;
	if (r < 0 && r != -ENOENT && w->rc == 0)
		w->rc = r;
	return 0;
}

/* Remove a directory tree below dfd (no symlinks followed; a non-directory is unlinked). */
int sl_rmtree_at(int dfd, const char *name)
{
	struct rmtree_walk w = { .rc = 0 };
	int rc;

	w.dfd = sl_io_open(dfd, name, O_RDONLY, 0, S_IFDIR);
	if (w.dfd == -ENOENT)
		return 0;
	if (w.dfd == -EUCLEAN)
		return sl_io.unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	if (w.dfd < 0)
		return w.dfd;
	rc = sl_io_dir_foreach(w.dfd, rmtree_entry, &w);
	sl_io.close(w.dfd);
	if (rc == 0)
		rc = w.rc;
	if (sl_io.unlinkat(dfd, name, AT_REMOVEDIR) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Stop a directory walk at its first entry (sl_io_dir_foreach callback). */
static int any_entry(const char *name, unsigned char d_type, void *arg)
{
	(void)name;
	(void)d_type;
	(void)arg;
	return 1;
}

/* Is directory @fd (lstat of its name: @before) the fresh one we made?  0 or -EUCLEAN. */
static int fresh_dir_check(int fd, const struct stat *before)
{
	struct stat sb;
	int rc;

	if (sl_io.fstat(fd, &sb) < 0)
		return -errno;
	if (!S_ISDIR(before->st_mode) || sb.st_dev != before->st_dev || sb.st_ino != before->st_ino ||
	    sb.st_uid != geteuid() || (sb.st_mode & 077))
		return -EUCLEAN;
	rc = sl_io_dir_foreach(fd, any_entry, NULL);
	return rc == 1 ? -EUCLEAN : rc;
}

/* Make and open a fresh temporary directory, checked to be the one made (util_i.h). */
int sl_mkdtemp(int dfd, const char *prefix, const char *suffix, char *name, size_t cap)
{
	for (int tries = 0; tries < SHLOG_TMP_TRIES; tries++) {
		struct stat before;
		int fd, rc = sl_name_temp(name, cap, prefix, suffix);
		if (rc < 0)
			return rc;
		if (sl_io.mkdirat(dfd, name, SHLOG_DIR_MODE) < 0) {
			if (errno == EEXIST)
				continue;   /* never take a name that is there */
			return -errno;
		}
		if (sl_io.fstatat(dfd, name, &before, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		fd = sl_io_open(dfd, name, O_RDONLY, 0, S_IFDIR);
		if (fd < 0)
			return fd;
		rc = fresh_dir_check(fd, &before);
		if (rc == 0)
			return fd;
		sl_io.close(fd);
		return rc;
	}
	return -EEXIST;
}
