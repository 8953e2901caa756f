/*
 * util_i.h — the small utilities every module of the engine shares
 * (util.c): log lines, clocks, a growable byte buffer, directory fsync,
 * removing a tree, an entry's file type, a fresh temporary directory.
 * util.c calls nothing of the engine but the I/O seam and names.c, so
 * any module may call it.
 */
#ifndef SHLOG_UTIL_I_H
#define SHLOG_UTIL_I_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shlog.h"

/* A growable byte buffer (sl_buf_reserve). */
struct shlog_buf {
	char *data;
	size_t len, cap;
};

/* Send one formatted line to @s's log callback (stderr without a store or callback). */
void sl_logf(shlog_store *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Monotonic clock in nanoseconds, for deadlines and latencies. */
int64_t sl_now_mono(void);
/* Wall clock in nanoseconds since the epoch, for block times. */
int64_t sl_now_real(void);
/* Make room for @more bytes at the end of @b: 0 or -ENOMEM. */
int sl_buf_reserve(struct shlog_buf *b, size_t more);
/* fsync directory @dfd so that creations, renames and unlinks in it last: 0 or -errno. */
int sl_fsync_dir(int dfd);
/* Remove @name of @dfd and everything below it (no symlink followed; a non-directory is unlinked). */
int sl_rmtree_at(int dfd, const char *name);
/* The file type (S_IFMT bits) of entry @name of @dfd as readdir gave it (@d_type); 0 if gone. */
mode_t sl_entry_type(int dfd, const char *name, unsigned char d_type);
/*
 * Make a fresh directory "<prefix><16 random hex><suffix>" (SHLOG_DIR_MODE)
 * in @dfd, exclusively (an existing name, a symlink included, is never
 * taken: another is drawn), and open it, checked to be the directory just
 * made: the same inode as the name, owned by our euid, no group or other
 * bits, empty.  Its name goes to @name.  Returns the fd, -EEXIST if every
 * name drawn was taken, or -errno (-EUCLEAN if what was opened is not
 * what was made; the name may then exist).
 */
int sl_mkdtemp(int dfd, const char *prefix, const char *suffix, char *name, size_t cap);

#endif
