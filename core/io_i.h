/*
 * io_i.h — the I/O seam.  Every system call libshlog (and shlogctl) makes
 * on the data directory goes through sl_io, a table of function
 * pointers that tests replace to inject short writes, EIO, ENOSPC or a
 * "crash" (every later call fails) at any call, in the manner of SQLite's
 * os_unix.c syscall table: the files' calls, the read-ahead hint
 * (posix_fadvise) and the control socket's calls (socket, bind, listen,
 * connect, the socket options, read and write on it).  The table is
 * spelled out once, in SHLOG_IO_CALLS below; io.c builds both the
 * default and the live table from it.
 *
 * Opening anything in the data dir goes through sl_io_open(): relative
 * to a directory fd, never following a symlink, never blocking on a FIFO,
 * and checked to be the type the caller expects.  A name that is there but
 * is not what it should be (a symlink, FIFO, device, socket, a directory
 * where a file belongs or the reverse) gives -EUCLEAN, so callers can tell
 * "damaged or planted" from "missing" (-ENOENT).
 */
#ifndef SHLOG_IO_I_H
#define SHLOG_IO_I_H

#include <dirent.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/stat.h>

/*
 * X(name, return type, parameter list, argument list): every call of the
 * seam that is the libc function of the same name (io.c wraps each one).
 * posix_fadvise returns the error number itself (0 or a positive errno),
 * as libc's does; every other call -1 with errno set.
 */
#define SHLOG_IO_LIBC_CALLS(X)                                                   \
	X(openat, int, (int dirfd, const char *path, int flags, mode_t mode),       \
	  (dirfd, path, flags, mode))                                                \
	X(close, int, (int fd), (fd))                                                \
	X(pread, ssize_t, (int fd, void *buf, size_t len, off_t off),               \
	  (fd, buf, len, off))                                                       \
	X(pwrite, ssize_t, (int fd, const void *buf, size_t len, off_t off),        \
	  (fd, buf, len, off))                                                       \
	X(fdatasync, int, (int fd), (fd))                                            \
	X(fsync, int, (int fd), (fd))                                                \
	X(ftruncate, int, (int fd, off_t len), (fd, len))                            \
	X(renameat, int, (int olddir, const char *old, int newdir, const char *new_),\
	  (olddir, old, newdir, new_))                                               \
	X(renameat2, int, (int olddir, const char *old, int newdir,                 \
			   const char *new_, unsigned flags),                        \
	  (olddir, old, newdir, new_, flags))                                        \
	X(unlinkat, int, (int dirfd, const char *path, int flags),                  \
	  (dirfd, path, flags))                                                      \
	X(mkdirat, int, (int dirfd, const char *path, mode_t mode),                 \
	  (dirfd, path, mode))                                                       \
	X(fstat, int, (int fd, struct stat *st), (fd, st))                           \
	X(fstatat, int, (int dirfd, const char *path, struct stat *st, int flags),  \
	  (dirfd, path, st, flags))                                                  \
	X(fchmod, int, (int fd, mode_t mode), (fd, mode))                            \
	X(fchown, int, (int fd, uid_t uid, gid_t gid), (fd, uid, gid))               \
	X(flock, int, (int fd, int op), (fd, op))                                    \
	X(fdopendir, DIR *, (int fd), (fd))                                          \
	X(readdir, struct dirent *, (DIR *d), (d))                                   \
	X(closedir, int, (DIR *d), (d))                                              \
	X(posix_fadvise, int, (int fd, off_t off, off_t len, int advice),           \
	  (fd, off, len, advice))                                                    \
	X(read, ssize_t, (int fd, void *buf, size_t len), (fd, buf, len))            \
	X(write, ssize_t, (int fd, const void *buf, size_t len), (fd, buf, len))     \
	X(socket, int, (int domain, int type, int proto), (domain, type, proto))     \
	X(bind, int, (int fd, const struct sockaddr *sa, socklen_t len),            \
	  (fd, sa, len))                                                             \
	X(listen, int, (int fd, int backlog), (fd, backlog))                         \
	X(connect, int, (int fd, const struct sockaddr *sa, socklen_t len),         \
	  (fd, sa, len))                                                             \
	X(getsockopt, int, (int fd, int level, int name, void *val, socklen_t *len),\
	  (fd, level, name, val, len))                                               \
	X(setsockopt, int, (int fd, int level, int name, const void *val,           \
			    socklen_t len),                                          \
	  (fd, level, name, val, len))

/*
 * Every call of the seam: the libc ones, and boot_id, 16 bytes naming this
 * boot of the machine (a changed value at open means the OS restarted since
 * the anchor was written); 0 or -errno.
 */
#define SHLOG_IO_CALLS(X)                                                        \
	SHLOG_IO_LIBC_CALLS(X)                                                   \
	X(boot_id, int, (unsigned char out[16]), (out))

#define SHLOG_IO_MEMBER(name, ret, params, args) ret (*name) params;
struct sl_io {
	SHLOG_IO_CALLS(SHLOG_IO_MEMBER)
};
#undef SHLOG_IO_MEMBER

/** The table in use; tests may overwrite members and restore sl_io_default. */
extern struct sl_io sl_io;
/** The real system calls. */
extern const struct sl_io sl_io_default;

/* Helpers over the table: full reads/writes, retrying short transfers
 * and EINTR.  Return 0 or a negative errno (-EIO for a read past EOF). */
int sl_io_pread_full(int fd, void *buf, size_t len, off_t off);
int sl_io_pwrite_full(int fd, const void *buf, size_t len, off_t off);

/**
 * Open @p name in directory @p dfd safely: O_NOFOLLOW | O_CLOEXEC |
 * O_NONBLOCK are added to @p flags, and the result must be a regular file
 * (@p type S_IFREG) or a directory (S_IFDIR; O_DIRECTORY is added).
 * @return the fd, -ENOENT if absent, -EUCLEAN if the name is something
 * else (symlink, FIFO, device, socket, wrong type), or another -errno.
 */
int sl_io_open(int dfd, const char *name, int flags, mode_t mode, mode_t type);

/**
 * Open directory @p dir/@p sub below @p dfd, each step by sl_io_open()
 * (a partition's directory from the data dir: @p dir the topic, @p sub its
 * number).  @return the fd or sl_io_open()'s -errno.
 */
int sl_io_open_subdir(int dfd, const char *dir, const char *sub);

/**
 * Call @p fn for every entry of directory @p dfd but "." and "..",
 * reading it through a second fd (so @p dfd's offset is untouched).
 * @p fn returns 0 to go on, or a value that stops the walk and is returned.
 * @return 0, @p fn's stopping value, or a negative errno.
 */
int sl_io_dir_foreach(int dfd, int (*fn)(const char *name, unsigned char d_type,
					    void *arg), void *arg);

#endif
