/*
 * io_i.h — the I/O seam.  Every system call libshlog makes on its files
 * goes through shlog_io, a table of function pointers that tests replace
 * to inject short writes, EIO, ENOSPC or a "crash" (every later call
 * fails) at any call, in the manner of SQLite's os_unix.c syscall table.
 */
#ifndef SHLOG_IO_I_H
#define SHLOG_IO_I_H

#include <sys/types.h>
#include <sys/uio.h>
#include <sys/stat.h>

struct shlog_io {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*renameat)(int olddir, const char *old, int newdir, const char *new_);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*fstat)(int fd, struct stat *st);
	/* 16 bytes naming this boot of the machine (a changed value at open
	 * means the OS restarted since the anchor was written); 0 or -errno. */
	int (*boot_id)(unsigned char out[16]);
};

/** The table in use; tests may overwrite members and restore shlog_io_default. */
extern struct shlog_io shlog_io;
/** The real system calls. */
extern const struct shlog_io shlog_io_default;

/* Helpers over the table: full reads/writes, retrying short transfers
 * and EINTR.  Return 0 or a negative errno (-EIO for a read past EOF). */
int shlog_io_pread_full(int fd, void *buf, size_t len, off_t off);
int shlog_io_pwrite_full(int fd, const void *buf, size_t len, off_t off);

#endif
