/*
 * bench_write.c — shlog-bench-write: the plain write() baseline.
 *
 * Writes the same N lines as shlog-bench-core (same generator, same
 * bytes) to P files DIR/w<i> from P threads, one write() per block of
 * B lines (1,000), then fdatasync()s and closes each file, as the
 * engine's close does.  Output: msgs/s MB/s seconds.
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wr_thread {
	pthread_t tid;
	int fd;
	uint64_t first, count, size, block;
	uint32_t nkeys;
	int err;
};

/* Write the whole buffer, retrying short writes; 0 or -errno. */
static int wr_full(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* pthread entry: build each block of lines, write it, fdatasync at the end. */
static void *wr_thread_main(void *arg)
{
	struct wr_thread *t = arg;
	char *buf = malloc(t->size * t->block);
	uint64_t i = t->first, end = t->first + t->count;

	if (!buf) {
		t->err = -ENOMEM;
		return NULL;
	}
	for (uint64_t j = 0; j < t->block; j++)
		bench_line_init(buf + j * t->size, t->size);
	while (i < end && !t->err) {
		uint64_t n = end - i < t->block ? end - i : t->block;

		for (uint64_t j = 0; j < n; j++)
			bench_line_stamp(buf + j * t->size, i + j, t->nkeys);
		t->err = wr_full(t->fd, buf, n * t->size);
		i += n;
	}
	if (!t->err && fdatasync(t->fd) < 0)
		t->err = -errno;
	if (close(t->fd) < 0 && !t->err)
		t->err = -errno;
	free(buf);
	return NULL;
}

/* Printed on bad arguments. */
static void wr_usage(void)
{
	fprintf(stderr, "usage: shlog-bench-write [-n N] [-s S] [-p P] [-k K] [-b B] DIR\n");
}

int main(int argc, char **argv)
{
	uint64_t n = 10000000, size = 100, nfiles = 1, nkeys = 0, block = 1000, v;
	struct wr_thread *th;
	int opt, err = 0;

	while ((opt = getopt(argc, argv, "n:s:p:k:b:")) != -1) {
		if (opt == '?' || bench_parse_count(optarg, &v) < 0) {
			wr_usage();
			return 2;
		}
		switch (opt) {
		case 'n': n = v; break;
		case 's': size = v; break;
		case 'p': nfiles = v; break;
		case 'k': nkeys = v; break;
		case 'b': block = v; break;
		}
	}
	if (optind != argc - 1 || size < BENCH_LINE_MIN || size > (1u << 20) ||
	    !nfiles || nfiles > 1024 || !block || nkeys > 100000) {
		wr_usage();
		return 2;
	}
	th = calloc(nfiles, sizeof(*th));
	if (!th)
		return 1;
	for (uint64_t i = 0; i < nfiles; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/w%llu", argv[optind],
			 (unsigned long long)i);
		th[i].fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (th[i].fd < 0) {
			perror(path);
			return 1;
		}
		th[i].count = n / nfiles + (i < n % nfiles);
		th[i].first = i ? th[i - 1].first + th[i - 1].count : 0;
		th[i].size = size;
		th[i].block = block;
		th[i].nkeys = (uint32_t)nkeys;
	}
	int64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < nfiles; i++)
		if (pthread_create(&th[i].tid, NULL, wr_thread_main, &th[i]))
			return 1;
	for (uint64_t i = 0; i < nfiles; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].err && !err)
			err = th[i].err;
	}
	double sec = (double)(bench_now_ns() - t0) / 1e9;

	if (err) {
		fprintf(stderr, "shlog-bench-write: %s\n", strerror(-err));
		return 1;
	}
	printf("%.0f %.1f %.3f\n", (double)n / sec, (double)(n * size) / 1e6 / sec, sec);
	free(th);
	return 0;
}
