/*
 * bench_core.c — shlog-bench-core: append throughput of libshlog.
 *
 * Appends N lines of S bytes (a message of S-1 bytes and its '\n') to a
 * fresh topic of P partitions from T threads (thread t writes partition
 * t mod P), one message per shlog_part_append() call or B lines per
 * shlog_part_append_lines() call, then closes the store (which flushes
 * and fdatasyncs every partition).  The clock runs from the moment the
 * threads start until shlog_store_close() returns.
 *
 * Output, one line on stdout: msgs/s MB/s seconds (MB = 10^6 bytes).
 */
#include "bench_util.h"
#include "shlog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- configuration ---------------------------------------------------- */

struct bench_cfg {
	const char *dir;
	uint64_t nmsgs;     /* total lines */
	uint64_t size;      /* bytes per line, '\n' included */
	uint32_t nparts;
	uint32_t nthreads;
	uint32_t nkeys;     /* 0: keyless */
	uint32_t batch;     /* 0: shlog_part_append; else lines per append_lines */
};

struct bench_thread {
	pthread_t tid;
	const struct bench_cfg *cfg;
	shlog_part *part;
	uint64_t first, count;  /* line numbers written by this thread */
	int err;
};

/* Printed for -h and on bad arguments. */
static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: shlog-bench-core [-n N] [-s S] [-p P] [-t T] [-k K] [-b B] DIR\n"
		"  -n N  lines in total (10M)      -s S  bytes per line incl. '\\n' (100)\n"
		"  -p P  partitions (1)            -t T  threads (P)\n"
		"  -k K  distinct keys, 0 = none   -b B  lines per append_lines call (0 = append)\n"
		"DIR must not hold a topic named \"bench\".\n");
}

/* Parse argv into @p c; 0 or -EINVAL. */
static int bench_cfg_parse(struct bench_cfg *c, int argc, char **argv)
{
	uint64_t v;
	int opt;

	*c = (struct bench_cfg){ .nmsgs = 10000000, .size = 100, .nparts = 1 };
	while ((opt = getopt(argc, argv, "n:s:p:t:k:b:h")) != -1) {
		if (opt == 'h') {
			bench_usage(stdout);
			exit(0);
		}
		if (opt == '?' || bench_parse_count(optarg, &v) < 0)
			return -EINVAL;
		switch (opt) {
		case 'n': c->nmsgs = v; break;
		case 's': c->size = v; break;
		case 'p': c->nparts = (uint32_t)v; break;
		case 't': c->nthreads = (uint32_t)v; break;
		case 'k': c->nkeys = (uint32_t)v; break;
		case 'b': c->batch = (uint32_t)v; break;
		}
	}
	if (optind != argc - 1)
		return -EINVAL;
	c->dir = argv[optind];
	if (!c->nthreads)
		c->nthreads = c->nparts;
	if (c->size < BENCH_LINE_MIN || c->size > (1u << 20) || !c->nparts ||
	    c->nparts > 1024 || c->nthreads > 1024 || c->nkeys > 10000000)
		return -EINVAL;
	return 0;
}

/* ---- appenders -------------------------------------------------------- */

/* Thread body for -b 0: one shlog_part_append() per message. */
static int bench_append_one(struct bench_thread *t)
{
	const struct bench_cfg *c = t->cfg;
	char *line = malloc(c->size);
	int rc = 0;

	if (!line)
		return -ENOMEM;
	bench_line_init(line, c->size);
	for (uint64_t i = t->first; i < t->first + t->count && !rc; i++) {
		bench_line_stamp(line, i, c->nkeys);
		rc = shlog_part_append(t->part, line, c->size - 1, 0, NULL);
	}
	free(line);
	return rc;
}

/* Thread body for -b B: B lines per shlog_part_append_lines() call. */
static int bench_append_lines(struct bench_thread *t)
{
	const struct bench_cfg *c = t->cfg;
	char *buf = malloc(c->size * c->batch);
	uint64_t i = t->first, end = t->first + t->count;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (uint32_t j = 0; j < c->batch; j++)
		bench_line_init(buf + j * c->size, c->size);
	while (i < end && !rc) {
		uint64_t n = end - i < c->batch ? end - i : c->batch;

		for (uint64_t j = 0; j < n; j++)
			bench_line_stamp(buf + j * c->size, i + j, c->nkeys);
		rc = shlog_part_append_lines(t->part, buf, n * c->size, 0, NULL);
		i += n;
	}
	free(buf);
	return rc;
}

/* pthread entry point. */
static void *bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;

	t->err = t->cfg->batch ? bench_append_lines(t) : bench_append_one(t);
	return NULL;
}

/* ---- main ------------------------------------------------------------- */

/* Open the store, create the topic and take one handle per thread. */
static int bench_setup(const struct bench_cfg *c, shlog_store **s,
		       struct bench_thread *th)
{
	struct shlog_options o;
	uint64_t per = c->nmsgs / c->nthreads, rest = c->nmsgs % c->nthreads;
	uint64_t next = 0;
	int rc;

	shlog_options_init(&o);
	rc = shlog_store_open(c->dir, &o, s);
	if (rc < 0)
		return rc;
	rc = shlog_topic_create(*s, "bench", c->nparts);
	for (uint32_t i = 0; i < c->nthreads && rc == 0; i++) {
		th[i].cfg = c;
		th[i].first = next;
		th[i].count = per + (i < rest);
		next += th[i].count;
		rc = shlog_part_get(*s, "bench", i % c->nparts, &th[i].part);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct bench_cfg c;
	struct bench_thread *th;
	shlog_store *s = NULL;
	int64_t t0, t1;
	int rc, err = 0;

	if (bench_cfg_parse(&c, argc, argv) < 0) {
		bench_usage(stderr);
		return 2;
	}
	th = calloc(c.nthreads, sizeof(*th));
	if (!th)
		return 1;
	rc = bench_setup(&c, &s, th);
	if (rc < 0) {
		fprintf(stderr, "shlog-bench-core: setup: %s\n", shlog_strerror(rc));
		return 1;
	}
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < c.nthreads; i++)
		if (pthread_create(&th[i].tid, NULL, bench_thread_main, &th[i]))
			return 1;
	for (uint32_t i = 0; i < c.nthreads; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].err && !err)
			err = th[i].err;
		shlog_part_put(th[i].part);
	}
	rc = shlog_store_close(s);
	t1 = bench_now_ns();
	if (err || rc) {
		fprintf(stderr, "shlog-bench-core: %s\n",
			shlog_strerror(err ? err : rc));
		return 1;
	}
	double sec = (double)(t1 - t0) / 1e9;
	printf("%.0f %.1f %.3f\n", (double)c.nmsgs / sec,
	       (double)(c.nmsgs * c.size) / 1e6 / sec, sec);
	free(th);
	return 0;
}
