/*
 * bench_latency.c — shlog-bench-latency: append and read latencies.
 *
 *   shlog-bench-latency write [-n N] [-s S] [-f] [-T SECS] PATH
 *       Opens PATH with O_WRONLY|O_APPEND and times each write() of one
 *       line (with -f: write() then fdatasync()); with -T, stops taking
 *       samples after SECS seconds (the count printed says how many).  On a shlogfs mount with
 *       -o sync=always the write() alone returns once the line is durable.
 *   shlog-bench-latency visible [-n N] [-s S] PATH
 *       A forked reader opens PATH read-only (another handle) and polls it
 *       with fstat() and pread(); the writer appends one line at a time
 *       and waits until the reader has read it back whole before the next.
 *       Each sample runs from just before write() to the reader's read.
 *   shlog-bench-latency first [-n N] PATH
 *       N times: open PATH, read its first 4 KiB (at least one byte),
 *       close; each sample is the whole open + read.
 *   shlog-bench-latency random [-n N] [-s S] [-b LO] PATH
 *       Opens PATH read-only once and times N pread()s of S bytes (4 KiB
 *       here) at offsets drawn uniformly from [LO, st_size - S] (a fixed
 *       seed, so every run reads the same offsets of the same file); a
 *       short read is followed by preads of the rest, and a sample is the
 *       time to all S bytes (the short reads are counted on stderr).  LO
 *       skips what retention removed.
 *
 * Output, in microseconds: p50 p99 p99.9 min max (and the sample count).
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define LAT_TIME_LIMIT_S 600u      /* no process runs longer */
#define LAT_FIRST_BYTES 4096u      /* read by the first-byte test */
#define LAT_MAX_SAMPLES 10000000u

/* ---- write to durable ------------------------------------------------------- */

/* Time each write() (and fdatasync() with @p sync) of @p n lines of @p size. */
static int lat_write(const char *path, uint64_t *n, uint64_t size, int sync,
		     int64_t until, int64_t *v)
{
	char *line;
	int fd = bench_append_open(path, size, &line);

	if (fd < 0)
		return 1;
	for (uint64_t i = 0; i < *n; i++) {
		bench_line_stamp(line, i, 0);
		int64_t t0 = bench_now_ns();

		if (until && t0 > until && i > 0) {
			*n = i;   /* -T: the time is up; report the samples taken */
			break;
		}
		if (write(fd, line, size) != (ssize_t)size ||
		    (sync && fdatasync(fd) < 0)) {
			perror("write");
			return 1;
		}
		v[i] = bench_now_ns() - t0;
	}
	free(line);
	return close(fd) < 0;
}

/* ---- write to visible ----------------------------------------------------- */

/* What writer and reader share (an anonymous shared mapping). */
struct lat_shared {
	_Atomic int64_t sent_ns;   /* when the line in flight was written */
	_Atomic uint64_t seen;     /* lines the reader has read back */
	_Atomic int failed;
};

/* Reader: poll @p path until @p n lines of @p size have been read back. */
static int lat_reader(const char *path, uint64_t n, uint64_t size,
		      struct lat_shared *sh, int64_t *v)
{
	char *buf = malloc(size);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t have = 0;   /* bytes of the line in flight read so far */
	struct stat st;

	if (!buf || fd < 0) {
		perror(path);
		atomic_store(&sh->failed, 1);
		return 1;
	}
	for (uint64_t i = 0; i < n;) {
		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size <= i * size + have)
			continue;
		ssize_t r = pread(fd, buf + have, size - have,
				  (off_t)(i * size + have));

		if (r < 0) {
			perror("pread");
			atomic_store(&sh->failed, 1);
			return 1;
		}
		have += (uint64_t)r;
		if (have < size)
			continue;
		v[i] = bench_now_ns() - atomic_load(&sh->sent_ns);
		have = 0;
		atomic_store(&sh->seen, ++i);
	}
	free(buf);
	close(fd);
	return 0;
}

/* Writer: one line at a time, each once the reader has read the last. */
static int lat_writer(const char *path, uint64_t n, uint64_t size,
		      struct lat_shared *sh)
{
	char *line;
	int fd = bench_append_open(path, size, &line);

	if (fd < 0)
		return 1;
	for (uint64_t i = 0; i < n; i++) {
		while (atomic_load(&sh->seen) < i)
			if (atomic_load(&sh->failed))
				return 1;
		bench_line_stamp(line, i, 0);
		atomic_store(&sh->sent_ns, bench_now_ns());
		if (write(fd, line, size) != (ssize_t)size) {
			perror("write");
			return 1;
		}
	}
	while (atomic_load(&sh->seen) < n && !atomic_load(&sh->failed))
		;
	free(line);
	return close(fd) < 0 || atomic_load(&sh->failed);
}

/* Fork the reader, write from this process, collect the reader's samples. */
static int lat_visible(const char *path, uint64_t n, uint64_t size, int64_t *v)
{
	size_t len = sizeof(struct lat_shared) + n * sizeof(int64_t);
	struct lat_shared *sh = mmap(NULL, len, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int64_t *sv = (int64_t *)(sh + 1);
	struct stat st;
	int status, rc;
	pid_t pid;

	if (sh == MAP_FAILED || stat(path, &st) < 0 || st.st_size != 0) {
		fprintf(stderr, "visible: %s must exist and be empty\n", path);
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		alarm(LAT_TIME_LIMIT_S);
		_exit(lat_reader(path, n, size, sh, sv));
	}
	rc = lat_writer(path, n, size, sh);
	if (rc)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		rc = 1;
	memcpy(v, sv, n * sizeof(int64_t));
	munmap(sh, len);
	return rc;
}

/* ---- first byte ------------------------------------------------------------ */

/* Time @p n rounds of open + first read + close of @p path. */
static int lat_first(const char *path, uint64_t n, int64_t *v)
{
	static char buf[LAT_FIRST_BYTES];

	for (uint64_t i = 0; i < n; i++) {
		int64_t t0 = bench_now_ns();
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

		v[i] = bench_now_ns() - t0;
		if (fd >= 0)
			close(fd);
		if (r <= 0) {
			fprintf(stderr, "first: %s: %s\n", path,
				r < 0 ? strerror(errno) : "empty");
			return 1;
		}
	}
	return 0;
}

/* ---- random reads ---------------------------------------------------------- */

/* The next of a fixed sequence of pseudo-random numbers (xorshift64*). */
static uint64_t lat_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* Time @p n preads of @p size bytes at random offsets of @p path from @p lo. */
static int lat_random(const char *path, uint64_t n, uint64_t size, uint64_t lo,
		      int64_t *v)
{
	char *buf = malloc(size);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t seed = 0x9e3779b97f4a7c15ull, span, shorts = 0;
	struct stat st;

	if (!buf || fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return 1;
	}
	if ((uint64_t)st.st_size < lo + size) {
		fprintf(stderr, "random: %s holds %jd bytes, fewer than %ju + %ju\n",
			path, (intmax_t)st.st_size, (uintmax_t)lo, (uintmax_t)size);
		return 1;
	}
	span = (uint64_t)st.st_size - size - lo + 1;
	for (uint64_t i = 0; i < n; i++) {
		off_t at = (off_t)(lo + lat_rand(&seed) % span);
		int64_t t0 = bench_now_ns();
		ssize_t r = 0;

		/* a short read is legal: the sample is the time to all S bytes */
		for (uint64_t got = 0; got < size; got += (uint64_t)r) {
			r = pread(fd, buf + got, size - got, at + (off_t)got);
			if (r <= 0) {
				fprintf(stderr, "random: %s at %jd: %s\n", path,
					(intmax_t)(at + (off_t)got), r < 0 ? strerror(errno) : "end of file");
				return 1;
			}
			shorts += got == 0 && (uint64_t)r < size;
		}
		v[i] = bench_now_ns() - t0;
	}
	if (shorts)
		fprintf(stderr, "random: %ju of %ju reads were short\n", (uintmax_t)shorts,
			(uintmax_t)n);
	free(buf);
	return close(fd) < 0;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	uint64_t n = 10000, size = 100, lo = 0, secs = 0, v;
	int opt, sync = 0, rc;
	const char *mode;
	int64_t *samples;

	if (argc < 2)
		goto usage;
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:s:b:T:f")) != -1) {
		if (opt == 'f') {
			sync = 1;
			continue;
		}
		if (opt == '?' || bench_parse_count(optarg, &v) < 0)
			goto usage;
		if (opt == 'n')
			n = v;
		else if (opt == 'b')
			lo = v;
		else if (opt == 'T')
			secs = v;
		else
			size = v;
	}
	if (optind + 1 != argc || !n || n > LAT_MAX_SAMPLES ||
	    size < BENCH_LINE_MIN || size > (1u << 20))
		goto usage;
	samples = calloc(n, sizeof(*samples));
	if (!samples)
		return 1;
	alarm(LAT_TIME_LIMIT_S);
	if (!strcmp(mode, "write"))
		rc = lat_write(argv[optind], &n, size, sync,
			       secs ? bench_now_ns() + (int64_t)secs * 1000000000 : 0, samples);
	else if (!strcmp(mode, "visible"))
		rc = lat_visible(argv[optind], n, size, samples);
	else if (!strcmp(mode, "first"))
		rc = lat_first(argv[optind], n, samples);
	else if (!strcmp(mode, "random"))
		rc = lat_random(argv[optind], n, size, lo, samples);
	else
		goto usage;
	if (rc)
		return 1;
	bench_lat_report(samples, n);
	free(samples);
	return 0;
usage:
	fprintf(stderr, "usage: shlog-bench-latency write|visible|first|random "
		"[-n N] [-s S] [-f] [-T SECS] [-b LO] PATH\n");
	return 2;
}
