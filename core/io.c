/* io.c — the real system calls behind the I/O seam, and full-transfer helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_i.h"
#include "shlog.h"

/* The kernel's boot id (a UUID) as 16 bytes. */
static int sys_boot_id(unsigned char out[16])
{
	char txt[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, txt, sizeof(txt) - 1) : -1;
	int k = 0;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -ENOENT;
	txt[n] = '\0';
	for (ssize_t i = 0; i + 1 < n && k < 16; i++) {
		unsigned hi, lo;
		if (txt[i] == '-')
			continue;
		if (sscanf(txt + i, "%1x%1x", &hi, &lo) != 2)
			return -EINVAL;
		out[k++] = (unsigned char)(hi << 4 | lo);
		i++;
	}
	return k == 16 ? 0 : -EINVAL;
}

/* Each seam call's real implementation: sys_<name> calls the libc function. */
#define SHLOG_IO_SYS(name, ret, params, args) \
	static ret sys_##name params { return name args; }
SHLOG_IO_LIBC_CALLS(SHLOG_IO_SYS)
#undef SHLOG_IO_SYS

#define SHLOG_IO_INIT(name, ret, params, args) .name = sys_##name,
const struct sl_io sl_io_default = { SHLOG_IO_CALLS(SHLOG_IO_INIT) };
struct sl_io sl_io = { SHLOG_IO_CALLS(SHLOG_IO_INIT) };
#undef SHLOG_IO_INIT

/*
 * Move exactly @len bytes at @off: out of @wbuf by pwrite if @wr, else
 * into @rbuf by pread, retrying short transfers and EINTR; a transfer of
 * nothing (a read past EOF) is -EIO.
 */
static int xfer_full(int fd, int wr, void *rbuf, const void *wbuf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? sl_io.pwrite(fd, (const char *)wbuf + done, len - done, off + (off_t)done)
			       : sl_io.pread(fd, (char *)rbuf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes at off; a short file is -EIO. */
int sl_io_pread_full(int fd, void *buf, size_t len, off_t off)
{
	return xfer_full(fd, 0, buf, NULL, len, off);
}

/* Write exactly len bytes at off, retrying short writes. */
int sl_io_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	return xfer_full(fd, 1, NULL, buf, len, off);
}

/* Map what openat says about a name that is there but is not ours. */
static int open_err(int err)
{
	switch (err) {
	case ELOOP:   /* a symlink (O_NOFOLLOW) */
	case ENXIO:   /* a FIFO opened for writing without a reader, a socket */
	case EISDIR:  /* a directory where a file belongs */
	case ENOTDIR: /* a file where a directory belongs */
	case ENODEV:  /* a device without a driver */
		return -EUCLEAN;
	default:
		return -err;
	}
}

/* Open a name in a directory fd, refusing anything but the expected type. */
int sl_io_open(int dfd, const char *name, int flags, mode_t mode, mode_t type)
{
	struct stat st;
	int fd;

	flags |= O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	if (type == S_IFDIR)
		flags |= O_DIRECTORY;
	fd = sl_io.openat(dfd, name, flags, mode);
	if (fd < 0)
		return open_err(errno);
	if (sl_io.fstat(fd, &st) < 0) {
		int err = -errno;
		sl_io.close(fd);
		return err;
	}
	if ((st.st_mode & S_IFMT) != type) {
		sl_io.close(fd);
		return -EUCLEAN;
	}
	return fd;
}

/* Open dir/sub below a directory fd, one checked step at a time. */
int sl_io_open_subdir(int dfd, const char *dir, const char *sub)
{
	int fd = sl_io_open(dfd, dir, O_RDONLY, 0, S_IFDIR), sfd;

	if (fd < 0)
		return fd;
	sfd = sl_io_open(fd, sub, O_RDONLY, 0, S_IFDIR);
	sl_io.close(fd);
	return sfd;
}

/* Walk a directory's entries through a second fd of it. */
int sl_io_dir_foreach(int dfd, int (*fn)(const char *name, unsigned char d_type, void *arg),
			 void *arg)
{
	int fd = sl_io_open(dfd, ".", O_RDONLY, 0, S_IFDIR);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0)
		return fd;
	d = sl_io.fdopendir(fd);
	if (!d) {
		rc = -errno;
		sl_io.close(fd);
		return rc;
	}
	errno = 0;
	while (rc == 0 && (de = sl_io.readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(de->d_name, de->d_type, arg);
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = -errno;
	sl_io.closedir(d);
	return rc;
}

/* ---- the same, for programs beside the engine (shlog.h) ---- */

/* shlog_file_open: sl_io_open for a caller outside the library. */
int shlog_file_open(int dfd, const char *name, int flags, mode_t mode, mode_t type)
{
	return sl_io_open(dfd, name, flags, mode, type);
}

/* shlog_file_pread: sl_io_pread_full for a caller outside the library. */
int shlog_file_pread(int fd, void *buf, size_t len, off_t off)
{
	return sl_io_pread_full(fd, buf, len, off);
}

/* shlog_file_pwrite: sl_io_pwrite_full for a caller outside the library. */
int shlog_file_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return sl_io_pwrite_full(fd, buf, len, off);
}

/* shlog_file_sync: fdatasync or fsync through the seam. */
int shlog_file_sync(int fd, int data_only)
{
	return (data_only ? sl_io.fdatasync(fd) : sl_io.fsync(fd)) < 0 ? -errno : 0;
}

/* shlog_file_truncate: ftruncate through the seam. */
int shlog_file_truncate(int fd, off_t len)
{
	return sl_io.ftruncate(fd, len) < 0 ? -errno : 0;
}

/* shlog_file_size: fstat's size through the seam. */
int shlog_file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (sl_io.fstat(fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* shlog_file_rename: renameat within one directory, through the seam. */
int shlog_file_rename(int dfd, const char *from, const char *to)
{
	return sl_io.renameat(dfd, from, dfd, to) < 0 ? -errno : 0;
}

/* shlog_file_unlink: unlinkat through the seam (EISDIR for a directory, as Linux gives). */
int shlog_file_unlink(int dfd, const char *name)
{
	return sl_io.unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

/* shlog_file_close: close through the seam. */
int shlog_file_close(int fd)
{
	return sl_io.close(fd) < 0 ? -errno : 0;
}
