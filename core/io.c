/* io.c — the real system calls behind the I/O seam, and full-transfer helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "io_i.h"

static int sys_openat(int d, const char *p, int f, mode_t m) { return openat(d, p, f, m); }
static int sys_fstat(int fd, struct stat *st) { return fstat(fd, st); }

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

const struct shlog_io shlog_io_default = {
	.openat = sys_openat,
	.close = close,
	.pread = pread,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
	.unlinkat = unlinkat,
	.mkdirat = mkdirat,
	.fstat = sys_fstat,
	.boot_id = sys_boot_id,
};

struct shlog_io shlog_io = {
	.openat = sys_openat,
	.close = close,
	.pread = pread,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
	.unlinkat = unlinkat,
	.mkdirat = mkdirat,
	.fstat = sys_fstat,
	.boot_id = sys_boot_id,
};

/* Read exactly len bytes at off; a short file is -EIO. */
int shlog_io_pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = shlog_io.pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write exactly len bytes at off, retrying short writes. */
int shlog_io_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = shlog_io.pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}
