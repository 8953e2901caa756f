/*
 * appender.c — appender: small appends through the file system.
 *
 *   appender [-n N] [-s S] [-P PROCS] [-F F] PATH...
 *
 * Starts PROCS processes (1); process i opens PATH[i mod #PATHs] with
 * O_WRONLY|O_APPEND and writes its share of the N lines (1,000,000) of S
 * bytes (100) with one write() per line, then closes the file.  With -F,
 * each process calls fdatasync() after every F of its lines and once more
 * after its last line (0: never).  The clock
 * runs from before the first fork until the last process has exited.
 * Output: lines/s MB/s seconds.
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define APP_MAX_PROCS 64
#define APP_TIME_LIMIT_S 900u  /* no process runs longer */

/* Sync @p fd after line @p done of @p count when every @p every lines are due. */
static int app_maybe_sync(int fd, uint64_t done, uint64_t count,
			  uint64_t every)
{
	if (!every || (done % every != 0 && done != count))
		return 0;
	if (fdatasync(fd) < 0) {
		perror("appender: fdatasync");
		return -1;
	}
	return 0;
}

/* Child body: append @p count lines numbered from @p first to @p path,
 * fdatasync() after every @p every lines (0: never). */
static int app_write(const char *path, uint64_t first, uint64_t count,
		     uint64_t size, uint64_t every)
{
	char *line;
	int fd = bench_append_open(path, size, &line);

	if (fd < 0)
		return 1;
	for (uint64_t i = first; i < first + count; i++) {
		bench_line_stamp(line, i, 0);
		ssize_t n = write(fd, line, size);

		if (n < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (n != (ssize_t)size) {
			fprintf(stderr, "appender: %s: write: %s\n", path,
				n < 0 ? strerror(errno) : "short write");
			return 1;
		}
		if (app_maybe_sync(fd, i - first + 1, count, every) < 0)
			return 1;
	}
	if (close(fd) < 0) {
		perror("appender: close");
		return 1;
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = 1000000, size = 100, procs = 1, every = 0, v;
	pid_t pids[APP_MAX_PROCS];
	int opt, failed = 0;

	while ((opt = getopt(argc, argv, "n:s:P:F:")) != -1) {
		if (opt == '?' || bench_parse_count(optarg, &v) < 0)
			goto usage;
		if (opt == 'n')
			n = v;
		else if (opt == 's')
			size = v;
		else if (opt == 'F')
			every = v;
		else
			procs = v;
	}
	if (optind >= argc || size < BENCH_LINE_MIN || size > (1u << 20) ||
	    !procs || procs > APP_MAX_PROCS)
		goto usage;

	int npaths = argc - optind;
	int64_t t0 = bench_now_ns();
	uint64_t first = 0;

	for (uint64_t i = 0; i < procs; i++) {
		uint64_t count = n / procs + (i < n % procs);

		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0) {
			alarm(APP_TIME_LIMIT_S);
			_exit(app_write(argv[optind + (int)(i % (uint64_t)npaths)],
					first, count, size, every));
		}
		first += count;
	}
	for (uint64_t i = 0; i < procs; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed = 1;
	}
	double sec = (double)(bench_now_ns() - t0) / 1e9;

	if (failed) {
		fprintf(stderr, "appender: a writer failed\n");
		return 1;
	}
	printf("%.0f %.1f %.3f\n", (double)n / sec, (double)(n * size) / 1e6 / sec, sec);
	return 0;
usage:
	fprintf(stderr, "usage: appender [-n N] [-s S] [-P PROCS] [-F F] PATH...\n");
	return 2;
}
