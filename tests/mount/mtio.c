/*
 * mtio.c — the few file operations the mount tests cannot do with
 * ordinary tools: writes split over several write() calls, writes after
 * clearing O_APPEND with fcntl, O_NONBLOCK writers that count EAGAIN,
 * and writers that fsync and record which fsyncs returned.
 *
 * Usage:
 *   mtio write [-a] [-x] [-n] [-s] [-o OFF] FILE CHUNK...
 *       open FILE O_WRONLY (-a: |O_APPEND, -n: |O_NONBLOCK); -x clears
 *       O_APPEND with fcntl(F_SETFL) after the open; each CHUNK is one
 *       write() (with -o, pwrite() from OFF on); -s fsyncs at the end.
 *   mtio lines [-n] [-K] [-w] [-f K] [-k ACKFILE] [-b BATCH] FILE TAG COUNT
 *       append COUNT lines "TAG NNNNNNNN <40 letters>\n" (letters all
 *       'a' + N % 26; with -K a TAB after TAG, so TAG is the line's key),
 *       BATCH lines per write() (1); with -f, fsync every
 *       K lines and append "TAG N\n" to ACKFILE once it returned (lines
 *       0..N-1 are acknowledged); -w acknowledges every write() that
 *       returned, without fsync (for sync=always); with -n, O_NONBLOCK: EAGAIN is retried
 *       after 0.2 ms and counted, the count is printed at the end.
 *
 * On a failed call it prints "mtio: CALL: ERRNAME (text)" to stderr and
 * exits 1, so scripts can match the errno name.  Exit 2: bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------- */

/* Report a failed call with its errno name; returns 1 (the exit code). */
static int mtio_fail(const char *call, int err)
{
	const char *name = strerrorname_np(err);

	fprintf(stderr, "mtio: %s: %s (%s)\n", call, name ? name : "E?",
		strerror(err));
	return 1;
}

/* Sleep 0.2 ms (backoff for EAGAIN). */
static void mtio_nap(void)
{
	struct timespec ts = { 0, 200000 };

	nanosleep(&ts, NULL);
}

/* Write all of @p buf, retrying EAGAIN (counted in @p eagain) and short
 * writes; returns 0 or an errno. */
static int mtio_write_all(int fd, const char *buf, size_t len,
			  uint64_t *eagain)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EAGAIN && eagain) {
			(*eagain)++;
			mtio_nap();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- mtio write ----------------------------------------------------- */

/* The "write" command: chunks as separate write() or pwrite() calls. */
static int mtio_cmd_write(int argc, char **argv)
{
	int flags = O_WRONLY, clear = 0, dosync = 0, c, fd, i;
	long long off = -1;

	while ((c = getopt(argc, argv, "axnso:")) != -1) {
		switch (c) {
		case 'a': flags |= O_APPEND; break;
		case 'x': clear = 1; break;
		case 'n': flags |= O_NONBLOCK; break;
		case 's': dosync = 1; break;
		case 'o': off = atoll(optarg); break;
		default: return 2;
		}
	}
	if (optind >= argc)
		return 2;
	fd = open(argv[optind], flags);
	if (fd < 0)
		return mtio_fail("open", errno);
	if (clear && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND) < 0)
		return mtio_fail("fcntl", errno);
	for (i = optind + 1; i < argc; i++) {
		size_t len = strlen(argv[i]);
		ssize_t n;

		if (off >= 0)
			n = pwrite(fd, argv[i], len, (off_t)off);
		else
			n = write(fd, argv[i], len);
		if (n < 0)
			return mtio_fail(off >= 0 ? "pwrite" : "write", errno);
		if ((size_t)n != len) {
			fprintf(stderr, "mtio: short write %zd of %zu\n", n, len);
			return 1;
		}
		if (off >= 0)
			off += n;
	}
	if (dosync && fsync(fd) < 0)
		return mtio_fail("fsync", errno);
	if (close(fd) < 0)
		return mtio_fail("close", errno);
	return 0;
}

/* ---- mtio lines ----------------------------------------------------- */

/* Format line @p n of writer @p tag into @p buf (@p sep after the tag);
 * returns its length. */
static size_t mtio_line(char *buf, const char *tag, char sep, uint64_t n)
{
	size_t len = (size_t)sprintf(buf, "%s%c%08" PRIu64 " ", tag, sep, n);

	memset(buf + len, 'a' + (int)(n % 26), 40);
	len += 40;
	buf[len++] = '\n';
	return len;
}

/* Append "TAG N\n" to the acknowledgement file @p ackfd. */
static void mtio_ack(int ackfd, const char *tag, uint64_t n)
{
	char buf[128];
	int len = snprintf(buf, sizeof(buf), "%s %" PRIu64 "\n", tag, n);

	if (write(ackfd, buf, (size_t)len) != len)
		perror("mtio: ack write");
}

/* Write the lines of the "lines" command through @p buf (batch * 128
 * bytes); returns the exit code. */
static int mtio_lines_run(const char *file, int flags, const char *ackfile,
			  const char *tag, char sep, uint64_t count,
			  uint64_t batch, int every, int ackwrites, char *buf)
{
	uint64_t n, eagain = 0, inbuf = 0;
	size_t used = 0;
	int fd, ackfd = -1, err;

	fd = open(file, flags);
	if (fd < 0)
		return mtio_fail("open", errno);
	if (ackfile) {
		ackfd = open(ackfile, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (ackfd < 0)
			return mtio_fail("open ackfile", errno);
	}
	for (n = 0; n < count; n++) {
		used += mtio_line(buf + used, tag, sep, n);
		if (++inbuf < batch && n + 1 < count)
			continue;
		err = mtio_write_all(fd, buf, used,
				     (flags & O_NONBLOCK) ? &eagain : NULL);
		if (err)
			return mtio_fail("write", err);
		used = 0;
		inbuf = 0;
		if (ackwrites && ackfd >= 0)
			mtio_ack(ackfd, tag, n + 1);
		if (every > 0 && (n + 1) % (uint64_t)every == 0) {
			if (fsync(fd) < 0)
				return mtio_fail("fsync", errno);
			if (ackfd >= 0)
				mtio_ack(ackfd, tag, n + 1);
		}
	}
	if (close(fd) < 0)
		return mtio_fail("close", errno);
	if (ackfd >= 0)
		close(ackfd);
	if (flags & O_NONBLOCK)
		printf("eagain %" PRIu64 "\n", eagain);
	return 0;
}

/* The "lines" command: numbered lines, optional fsync and O_NONBLOCK. */
static int mtio_cmd_lines(int argc, char **argv)
{
	int flags = O_WRONLY | O_APPEND, every = 0, ackwrites = 0, c, rc;
	uint64_t count, batch = 1;
	const char *ackfile = NULL, *tag;
	char *buf, sep = ' ';

	while ((c = getopt(argc, argv, "nKwf:k:b:")) != -1) {
		switch (c) {
		case 'n': flags |= O_NONBLOCK; break;
		case 'K': sep = '\t'; break;
		case 'w': ackwrites = 1; break;
		case 'f': every = atoi(optarg); break;
		case 'k': ackfile = optarg; break;
		case 'b': batch = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (argc - optind != 3 || batch == 0 || batch > 10000)
		return 2;
	tag = argv[optind + 1];
	if (strlen(tag) > 32)
		return 2;
	count = strtoull(argv[optind + 2], NULL, 10);
	buf = malloc(batch * 128);
	if (!buf)
		return mtio_fail("malloc", ENOMEM);
	rc = mtio_lines_run(argv[optind], flags, ackfile, tag, sep, count,
			    batch, every, ackwrites, buf);
	free(buf);
	return rc;
}

/* ---- main ----------------------------------------------------------- */

/* Dispatch to a command. */
int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mtio write|lines ...\n");
		return 2;
	}
	if (strcmp(argv[1], "write") == 0)
		return mtio_cmd_write(argc - 1, argv + 1);
	if (strcmp(argv[1], "lines") == 0)
		return mtio_cmd_lines(argc - 1, argv + 1);
	fprintf(stderr, "mtio: unknown command %s\n", argv[1]);
	return 2;
}
