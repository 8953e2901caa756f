/*
 * test_concurrency.c — many threads appending to several partitions:
 * every message exactly once, per-thread order kept, nothing torn;
 * append_lines groups stay together; readers see only whole lines.
 *
 * SHLOG_TEST_MSGS overrides the messages per thread (default 100,000;
 * the full run takes about a second, under ASan too).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define NTHREADS 8
#define NPARTS 4

#define DEFAULT_MSGS 100000u

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 170)

/* Messages per thread, from the environment or the default. */
static unsigned msgs_per_thread(void)
{
	const char *e = getenv("SHLOG_TEST_MSGS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 ? (unsigned)v : DEFAULT_MSGS;
}

/* Shared state of the writer and reader threads. */
struct run {
	shlog_part *parts[NPARTS];
	unsigned nmsgs;
	unsigned batch;       /* 0: single appends; else append_lines groups */
	atomic_int failed;
	atomic_int writers_done;
	int tid;
};

/* Arguments of one writer. */
struct writer {
	struct run *run;
	int tid;
};

/* Writer: "t<tid> <n>" to partition n % NPARTS, singly or in groups. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct run *r = w->run;
	char buf[64 * 32];

	for (unsigned n = 0; n < r->nmsgs;) {
		int rc;
		if (!r->batch) {
			int l = snprintf(buf, sizeof(buf), "t%d %u", w->tid, n);
			rc = shlog_part_append(r->parts[n % NPARTS], buf,
					       (size_t)l, 0, NULL);
			n++;
		} else {
			/* a group of batch messages, all to one partition */
			size_t len = 0;
			unsigned first = n, part = (n / r->batch) % NPARTS;
			for (unsigned k = 0; k < r->batch && n < r->nmsgs; k++, n++)
				len += (size_t)snprintf(buf + len, sizeof(buf) - len,
							"t%d %u\n", w->tid, n);
			(void)first;
			rc = shlog_part_append_lines(r->parts[part], buf, len,
						     0, NULL);
		}
		if (rc != 0) {
			atomic_store(&r->failed, rc);
			break;
		}
	}
	atomic_fetch_add(&r->writers_done, 1);
	return NULL;
}

/* Parse "t<d> <n>" spanning [p, nl) without reading past @p nl. */
static int line_parse(const char *p, const char *nl, int *t, unsigned *n)
{
	unsigned v = 0;
	const char *q = p + 3;

	if (nl - p < 4 || p[0] != 't' || p[1] < '0' || p[1] > '9' || p[2] != ' ')
		return 0;
	*t = p[1] - '0';
	if (q == nl)
		return 0;
	for (; q < nl; q++) {
		if (*q < '0' || *q > '9')
			return 0;
		v = v * 10u + (unsigned)(*q - '0');
	}
	*n = v;
	return *t < NTHREADS;
}

/* Every line of @p buf must be "t<d> <n>", the last one complete. */
static int lines_wellformed(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int t;
		unsigned n;
		if (!nl || !line_parse(p, nl, &t, &n))
			return 0;
		p = nl + 1;
	}
	return 1;
}

/* Reader: read each partition from 0 to its end_off, check lines. */
static void *reader_main(void *arg)
{
	struct run *r = arg;

	for (int pass = 0; pass < 200 && !atomic_load(&r->failed); pass++) {
		for (int i = 0; i < NPARTS; i++) {
			char *log;
			size_t len;
			int rc = th_read_log(r->parts[i], &log, &len, NULL);
			if (rc != 0) {
				atomic_store(&r->failed, rc ? rc : -EIO);
				return NULL;
			}
			if (!lines_wellformed(log, len))
				atomic_store(&r->failed, -EBADMSG);
			free(log);
		}
		if (atomic_load(&r->writers_done) == NTHREADS)
			break;
		th_sleep_ms(20);
	}
	return NULL;
}

/* Check the logs: exactly once, per-thread order, groups contiguous. */
static void verify(struct run *r)
{
	unsigned char *seen = calloc((size_t)NTHREADS * r->nmsgs, 1);
	unsigned total = 0;

	assert_non_null(seen);
	for (int i = 0; i < NPARTS; i++) {
		char *log, **lines;
		size_t len, n;
		long last[NTHREADS];
		struct shlog_part_info in;

		for (int t = 0; t < NTHREADS; t++)
			last[t] = -1;
		assert_int_equal(th_read_log(r->parts[i], &log, &len, NULL), 0);
		assert_true(lines_wellformed(log, len));
		n = th_split_lines(log, len, &lines);
		assert_int_equal(shlog_part_info(r->parts[i], &in), 0);
		assert_int_equal(in.end_seq, n);
		for (size_t k = 0; k < n; k++) {
			int t;
			unsigned m;
			assert_int_equal(sscanf(lines[k], "t%d %u", &t, &m), 2);
			assert_true(m < r->nmsgs);
			if ((long)m <= last[t])
				fail_msg("part %d: t%d %u after %ld", i, t, m, last[t]);
			if (r->batch && m % r->batch != 0 &&
			    (k == 0 || (long)m != last[t] + 1 ||
			     strncmp(lines[k - 1], lines[k], 2) != 0))
				fail_msg("part %d line %zu: group of t%d split at %u",
					 i, k, t, m);
			if (!r->batch && m % NPARTS != (unsigned)i)
				fail_msg("part %d: t%d %u in wrong partition", i, t, m);
			last[t] = m;
			if (seen[(size_t)t * r->nmsgs + m]++)
				fail_msg("t%d %u twice", t, m);
			total++;
		}
		free(lines);
		free(log);
	}
	assert_int_equal(total, NTHREADS * r->nmsgs);
	free(seen);
}

/* Run NTHREADS writers (and one reader) on NPARTS partitions, verify. */
static void run_concurrent(const char *dir, unsigned nmsgs, unsigned batch)
{
	struct shlog_options o;
	shlog_store *s;
	struct run r = { .nmsgs = nmsgs, .batch = batch };
	struct writer w[NTHREADS];
	pthread_t th[NTHREADS], rd;
	uint64_t t0 = th_now_ms();

	th_opts(&o);
	assert_int_equal(shlog_store_open(dir, &o, &s), 0);
	assert_int_equal(shlog_topic_create(s, "c", NPARTS), 0);
	for (int i = 0; i < NPARTS; i++)
		assert_int_equal(shlog_part_get(s, "c", (uint32_t)i, &r.parts[i]), 0);
	for (int t = 0; t < NTHREADS; t++) {
		w[t].run = &r;
		w[t].tid = t;
		assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
	}
	assert_int_equal(pthread_create(&rd, NULL, reader_main, &r), 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	pthread_join(rd, NULL);
	assert_int_equal(atomic_load(&r.failed), 0);
	print_message("%u x %u messages appended in %llu ms\n", NTHREADS,
		      nmsgs, (unsigned long long)(th_now_ms() - t0));
	verify(&r);
	for (int i = 0; i < NPARTS; i++)
		shlog_part_put(r.parts[i]);
	assert_int_equal(shlog_store_close(s), 0);
	print_message("verified and closed at %llu ms\n",
		      (unsigned long long)(th_now_ms() - t0));

	/* and the same after reopen */
	assert_int_equal(shlog_store_open(dir, &o, &s), 0);
	for (int i = 0; i < NPARTS; i++)
		assert_int_equal(shlog_part_get(s, "c", (uint32_t)i, &r.parts[i]), 0);
	verify(&r);
	for (int i = 0; i < NPARTS; i++)
		shlog_part_put(r.parts[i]);
	assert_int_equal(shlog_store_close(s), 0);
	print_message("reopened and verified at %llu ms\n",
		      (unsigned long long)(th_now_ms() - t0));
}

/* 8 threads x 100,000 single appends over 4 partitions. */
static void test_threads_single(void **state)
{
	struct fx *f = *state;

	run_concurrent(f->dir, msgs_per_thread(), 0);
}

/* 8 threads appending groups of 10 lines: groups never interleave. */
static void test_threads_lines(void **state)
{
	struct fx *f = *state;
	unsigned n = msgs_per_thread() / 4;

	run_concurrent(f->dir, n - n % 10, 10);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_threads_single),
		TH_TEST(test_threads_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
