/*
 * bench_recover.c — shlog-bench-recover: open (recovery) time after kill -9.
 *
 *   shlog-bench-recover fill [-s S] [-k K] DIR BYTES
 *       A child process appends lines (one shlog_part_append() each) to
 *       partition 0 of topic "rec" in DIR; once BYTES more have been
 *       committed the parent kills it with SIGKILL, mid-stream.
 *   shlog-bench-recover open DIR
 *       Times shlog_store_open() in this fresh process and prints:
 *       open_ms peak_rss_kib rss_before_kib log_bytes dropped_bytes
 *       dropped_msgs segments recovery_us
 */
#include "bench_util.h"
#include "shlog.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define REC_TOPIC "rec"
#define REC_REPORT_EVERY 65536u   /* lines between progress reports */
#define REC_TIME_LIMIT_S 900u     /* the fill never runs longer */

/* ---- fill ------------------------------------------------------------- */

/* Child: append until killed, reporting committed bytes on @p wfd. */
static int rec_child(const char *dir, uint64_t size, uint32_t nkeys,
		     uint64_t limit, int wfd)
{
	struct shlog_options o;
	struct shlog_part_info info;
	shlog_store *s;
	shlog_part *p;
	char *line = malloc(size);
	uint64_t base, i = 0;
	int rc;

	if (!line)
		return 1;
	bench_line_init(line, size);
	shlog_options_init(&o);
	rc = shlog_store_open(dir, &o, &s);
	if (rc == 0) {
		rc = shlog_topic_create(s, REC_TOPIC, 1);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc == 0)
		rc = shlog_part_get(s, REC_TOPIC, 0, &p);
	if (rc == 0)
		rc = shlog_part_info(p, &info);
	if (rc < 0) {
		fprintf(stderr, "fill: %s\n", shlog_strerror(rc));
		return 1;
	}
	base = info.committed_off;
	for (;;) {
		bench_line_stamp(line, i++, nkeys);
		rc = shlog_part_append(p, line, size - 1, 0, NULL);
		if (rc == 0 && i % REC_REPORT_EVERY == 0) {
			rc = shlog_part_info(p, &info);
			uint64_t done = info.committed_off - base;

			if (rc == 0 && write(wfd, &done, sizeof(done)) != sizeof(done))
				rc = -EPIPE;
			if (done > limit)  /* the parent should have killed us */
				rc = -ECANCELED;
		}
		if (rc < 0) {
			fprintf(stderr, "fill: %s\n", shlog_strerror(rc));
			return 1;
		}
	}
}

/* Parent: start the child, kill -9 it once @p bytes are committed. */
static int rec_fill(const char *dir, uint64_t size, uint32_t nkeys,
		    uint64_t bytes)
{
	int pfd[2], status;
	uint64_t done = 0;
	pid_t pid;

	if (pipe(pfd) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(pfd[0]);
		alarm(REC_TIME_LIMIT_S);
		_exit(rec_child(dir, size, nkeys, 2 * bytes + (1u << 30), pfd[1]));
	}
	close(pfd[1]);
	alarm(REC_TIME_LIMIT_S + 5);
	while (done < bytes &&
	       read(pfd[0], &done, sizeof(done)) == (ssize_t)sizeof(done))
		;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (done < bytes) {
		fprintf(stderr, "fill: writer died after %llu bytes\n",
			(unsigned long long)done);
		return 1;
	}
	printf("killed after %llu committed bytes\n", (unsigned long long)done);
	return 0;
}

/* ---- open ------------------------------------------------------------- */

/* Time shlog_store_open() and print what recovery reports. */
static int rec_open(const char *dir)
{
	struct shlog_options o;
	struct shlog_part_info info;
	shlog_store *s;
	shlog_part *p;
	long rss0 = bench_peak_rss_kib();
	int64_t t0, t1;
	int rc;

	shlog_options_init(&o);
	t0 = bench_now_ns();
	rc = shlog_store_open(dir, &o, &s);
	t1 = bench_now_ns();
	if (rc < 0) {
		fprintf(stderr, "open: %s\n", shlog_strerror(rc));
		return 1;
	}
	long rss1 = bench_peak_rss_kib();

	rc = shlog_part_get(s, REC_TOPIC, 0, &p);
	if (rc == 0) {
		rc = shlog_part_info(p, &info);
		shlog_part_put(p);
	}
	if (rc < 0) {
		fprintf(stderr, "open: %s\n", shlog_strerror(rc));
		return 1;
	}
	printf("%.3f %ld %ld %llu %llu %llu %u %llu\n", (double)(t1 - t0) / 1e6,
	       rss1, rss0, (unsigned long long)info.end_off,
	       (unsigned long long)info.recovered_bytes_dropped,
	       (unsigned long long)info.recovered_msgs_dropped, info.nsegments,
	       (unsigned long long)info.recovery_us);
	rc = shlog_store_close(s);
	return rc < 0;
}

/* Printed on bad arguments. */
static void rec_usage(void)
{
	fprintf(stderr, "usage: shlog-bench-recover fill [-s S] [-k K] DIR BYTES\n"
			"       shlog-bench-recover open DIR\n");
}

int main(int argc, char **argv)
{
	uint64_t size = 100, nkeys = 0, bytes, v;
	int opt;

	if (argc == 3 && strcmp(argv[1], "open") == 0)
		return rec_open(argv[2]);
	if (argc < 2 || strcmp(argv[1], "fill") != 0) {
		rec_usage();
		return 2;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "s:k:")) != -1) {
		if (opt == '?' || bench_parse_count(optarg, &v) < 0) {
			rec_usage();
			return 2;
		}
		if (opt == 's')
			size = v;
		else
			nkeys = v;
	}
	if (optind != argc - 2 || bench_parse_count(argv[optind + 1], &bytes) < 0 ||
	    size < BENCH_LINE_MIN || size > (1u << 20) || nkeys > 100000) {
		rec_usage();
		return 2;
	}
	return rec_fill(argv[optind], size, (uint32_t)nkeys, bytes);
}
