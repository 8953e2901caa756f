/*
 * rdck.c — the ways to read a file that the mount tests cannot drive with
 * ordinary tools: mmap (shared and private), sendfile and splice.
 *
 * Usage:
 *   rdck shared FILE
 *       mmap FILE MAP_SHARED read-only; prints "ok" or the errno name.
 *   rdck follow MODE FILE OUT STOPFILE
 *       follow FILE like tail -f (polling every 10 ms) until STOPFILE
 *       exists and the end is reached, writing every byte it got to OUT.  MODE read: pread of 64 KiB;
 *       mmap: fstat, then MAP_PRIVATE of the new bytes up to that size
 *       (a page past the kernel's own size, or one the daemon refused,
 *       faults: counted, tried again); sendfile: sendfile(2) to OUT;
 *       splice: splice(2) through a pipe (EIO, a page read the daemon
 *       refused: counted, tried again).
 *       Prints "MODE: CALLS calls, BYTES bytes, F faults, R refused".
 *   rdck copy MODE FILE OUT
 *       one copy of the whole file as MODE (read, mmap, sendfile, splice).
 *
 * Exit 1 on a failed call ("rdck: CALL: ERRNAME"), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define RDCK_CHUNK (64 << 10)

/* Report a failed call with its errno name; returns 1 (the exit code). */
static int rdck_fail(const char *call)
{
	const char *name = strerrorname_np(errno);

	fprintf(stderr, "rdck: %s: %s\n", call, name ? name : "E?");
	return 1;
}

/* Faults on mapped pages past the kernel's size of the file, or on pages
 * the daemon refused (mmap mode). */
static long rdck_faults;

/* Calls that failed with EIO: the daemon refused a page read (sendfile,
 * splice; tried again). */
static long rdck_refused;

/* follow: EIO from sendfile/splice means "not now" (a page read the
 * daemon refused while the log can grow); copy: it is an error. */
static int rdck_again_on_eio;

/* Write all of @p p to @p fd; 0 or -1. */
static int rdck_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write the mapped bytes @p p to @p fd as far as they can be read: a page
 * past the kernel's own size of the file faults (EFAULT here, SIGBUS on
 * a load), and that size can lag the daemon's for a moment.  Bytes
 * written, -2 if none could be (try again), -1 on another error.
 */
static ssize_t rdck_write_mapped(int fd, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EFAULT) {
			rdck_faults++;
			return done ? (ssize_t)done : -2;
		}
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

/* mmap a file MAP_SHARED read-only: "ok" or the errno name. */
static int rdck_shared(const char *file)
{
	int fd = open(file, O_RDONLY);
	void *p;

	if (fd < 0)
		return rdck_fail("open");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		const char *name = strerrorname_np(errno);
		printf("%s\n", name ? name : "E?");
	} else {
		printf("ok\n");
		munmap(p, 4096);
	}
	close(fd);
	return 0;
}

/* Copy the new bytes from @p pos on to @p out by @p mode; bytes, -1, or -2 (again). */
static ssize_t rdck_step(const char *mode, int fd, int out, off_t pos,
			 int pipefd[2], char *buf)
{
	if (strcmp(mode, "read") == 0) {
		ssize_t n = pread(fd, buf, RDCK_CHUNK, pos);
		return n > 0 && rdck_write_all(out, buf, (size_t)n) ? -1 : n;
	}
	if (strcmp(mode, "sendfile") == 0) {
		ssize_t n = sendfile(out, fd, &pos, RDCK_CHUNK);
		if (n < 0 && errno == EIO && rdck_again_on_eio) {
			rdck_refused++;
			return -2;
		}
		return n;
	}
	if (strcmp(mode, "splice") == 0) {
		loff_t o = pos;
		ssize_t n = splice(fd, &o, pipefd[1], NULL, RDCK_CHUNK, 0);
		if (n < 0 && errno == EIO && rdck_again_on_eio) {
			rdck_refused++;
			return -2;
		}
		for (ssize_t left = n; left > 0;) {
			ssize_t k = splice(pipefd[0], NULL, out, NULL,
					   (size_t)left, 0);
			if (k <= 0)
				return -1;
			left -= k;
		}
		return n;
	}
	/* mmap: up to the size fstat gives now, from the page holding pos */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size <= pos)
		return 0;
	off_t a = pos & ~(off_t)4095;
	size_t len = (size_t)(st.st_size - a);
	char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, a);
	if (p == MAP_FAILED)
		return -1;
	ssize_t n = rdck_write_mapped(out, p + (pos - a),
				      (size_t)(st.st_size - pos));
	munmap(p, len);
	return n;
}

/* Follow @p file until @p stop exists (NULL: copy it once) into @p outf. */
static int rdck_run(const char *mode, const char *file, const char *outf,
		    const char *stop)
{
	int fd = open(file, O_RDONLY);
	int out = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int pipefd[2];
	char *buf = malloc(RDCK_CHUNK);
	off_t pos = 0;
	long calls = 0;

	if (fd < 0 || out < 0 || !buf || pipe(pipefd) < 0)
		return rdck_fail("open");
	for (;;) {
		ssize_t n = rdck_step(mode, fd, out, pos, pipefd, buf);
		calls++;
		if (n == -2) {
			usleep(10000);
			continue;
		}
		if (n < 0)
			return rdck_fail(mode);
		pos += n;
		if (n > 0)
			continue;
		if (!stop || access(stop, F_OK) == 0)
			break;
		usleep(10000);
	}
	printf("%s: %ld calls, %lld bytes, %ld faults, %ld refused\n",
	       mode, calls, (long long)pos, rdck_faults, rdck_refused);
	free(buf);
	return close(out) < 0 ? rdck_fail("close") : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "shared") == 0)
		return rdck_shared(argv[2]);
	if (argc == 6 && strcmp(argv[1], "follow") == 0) {
		rdck_again_on_eio = 1;
		return rdck_run(argv[2], argv[3], argv[4], argv[5]);
	}
	if (argc == 5 && strcmp(argv[1], "copy") == 0)
		return rdck_run(argv[2], argv[3], argv[4], NULL);
	fprintf(stderr, "usage: rdck shared FILE | follow MODE FILE OUT STOPFILE"
		" | copy MODE FILE OUT\n");
	return 2;
}
