/*
 * test_fds.c — the store's file-descriptor budget (core/resident.c):
 * thousands of partitions under a 1,024-fd limit, older segments opened on
 * demand, -ENFILE for an operation that finds the budget full of pinned
 * partitions (and nobody else affected), the max_partitions and topic
 * limits, and parked partitions keeping their state.
 *
 * SHLOG_FDS_PARTS sets the partitions of the scale test (default 2000,
 * eight times what the 1,024-fd limit held before parking; the long
 * trial uses 10000) and it prints its timings to stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "io_i.h"
#include "resident_i.h"

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 300)

/* Open fds of this process (entries of /proc/self/fd but the one reading it). */
static int fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/* Seconds between two CLOCK_MONOTONIC readings. */
static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* ==== 1. thousands of partitions under a 1,024-fd limit ============== */

/* The scale test's size: SHLOG_FDS_PARTS or 2000, a multiple of 4 topics. */
static unsigned scale_parts(void)
{
	const char *e = getenv("SHLOG_FDS_PARTS");
	unsigned n = e ? (unsigned)strtoul(e, NULL, 10) : 2000;

	return n < 8 ? 8 : n - n % 4;
}

#define SCALE_LIMIT 1024
#define SCALE_TOPICS 4

/* Child check: print what failed and leave with status 1. */
#define CHILD_CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "test_fds: " __VA_ARGS__); \
	fprintf(stderr, " (line %d)\n", __LINE__); _exit(1); } } while (0)

/* Append "<topic> <part> <round>" to every partition; the fd count stays below the limit. */
static void scale_append(shlog_store *s, unsigned per, unsigned round)
{
	char t[16], m[64];

	for (unsigned k = 0; k < SCALE_TOPICS; k++)
		for (unsigned i = 0; i < per; i++) {
			shlog_part *p;
			int rc;
			snprintf(t, sizeof(t), "t%u", k);
			snprintf(m, sizeof(m), "%s %u %u", t, i, round);
			CHILD_CHECK(shlog_part_get(s, t, i, &p) == 0, "get %s/%u", t, i);
			rc = shlog_part_append(p, m, strlen(m), 0, NULL);
			CHILD_CHECK(rc == 0, "append %s/%u: %s", t, i, strerror(-rc));
			if (i % 64 == 0) {
				rc = shlog_part_flush(p);
				CHILD_CHECK(rc == 0, "flush %s/%u: %s", t, i, strerror(-rc));
			}
			shlog_part_put(p);
		}
}

/* Read every partition back: @rounds lines "<topic> <part> <r>" each. */
static void scale_check(shlog_store *s, unsigned per, unsigned rounds)
{
	char t[16], want[256], got[256];

	for (unsigned k = 0; k < SCALE_TOPICS; k++)
		for (unsigned i = 0; i < per; i++) {
			shlog_part *p;
			size_t wl = 0;
			ssize_t n;
			snprintf(t, sizeof(t), "t%u", k);
			for (unsigned r = 0; r < rounds; r++)
				wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%s %u %u\n", t, i, r);
			CHILD_CHECK(shlog_part_get(s, t, i, &p) == 0, "get %s/%u", t, i);
			n = shlog_part_read(p, 0, got, sizeof(got));
			CHILD_CHECK(n == (ssize_t)wl && memcmp(got, want, wl) == 0,
				    "%s/%u read %zd bytes, want %zu", t, i, n, wl);
			shlog_part_put(p);
		}
}

/* Check the fd budget holds, and parking and reopening happened at least so often. */
static void scale_bounds(shlog_store *s, uint64_t min_parks, uint64_t min_reopens, const char *when)
{
	struct shlog_fd_info fi;
	int n = fds_open();

	shlog_store_fd_info(s, &fi);
	fprintf(stderr, "test_fds: %s: %d fds open (limit %u, budget %u, used %u), %u partitions, "
		"%u resident, %" PRIu64 " parks, %" PRIu64 " reopens\n", when, n, fi.limit, fi.budget,
		fi.used, fi.partitions, fi.resident, fi.parks, fi.reopens);
	CHILD_CHECK(fi.used <= fi.budget, "%s: %u fds used, budget %u", when, fi.used, fi.budget);
	CHILD_CHECK(n >= 0 && (unsigned)n <= fi.total + 16 && n < SCALE_LIMIT,
		    "%s: %d fds open, engine total %u", when, n, fi.total);
	CHILD_CHECK(fi.parks >= min_parks, "%s: only %" PRIu64 " parks", when, fi.parks);
	CHILD_CHECK(fi.reopens >= min_reopens, "%s: only %" PRIu64 " reopens", when, fi.reopens);
}

/* Time the first read of a parked partition and of a resident one (after a read). */
static void scale_first_access(shlog_store *s)
{
	struct timespec a, b, c;
	char buf[64];
	shlog_part *p;

	CHILD_CHECK(shlog_part_get(s, "t0", 0, &p) == 0, "get t0/0");
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHILD_CHECK(shlog_part_read(p, 0, buf, sizeof(buf)) > 0, "read t0/0");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHILD_CHECK(shlog_part_read(p, 0, buf, sizeof(buf)) > 0, "read t0/0 again");
	clock_gettime(CLOCK_MONOTONIC, &c);
	fprintf(stderr, "test_fds: first read of a parked partition %.1f us, then %.1f us\n",
		secs(&a, &b) * 1e6, secs(&b, &c) * 1e6);
	shlog_part_put(p);
}

/* The child of test_scale: all of it under RLIMIT_NOFILE 1024. */
static void scale_child(const char *dir)
{
	struct rlimit rl = { SCALE_LIMIT, SCALE_LIMIT };
	unsigned n = scale_parts(), per = n / SCALE_TOPICS;
	struct shlog_options o;
	struct timespec a, b;
	shlog_store *s;
	char t[16];
	int rc;

	CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	th_opts(&o);
	CHILD_CHECK(shlog_store_open(dir, &o, &s) == 0, "open");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned k = 0; k < SCALE_TOPICS; k++) {
		snprintf(t, sizeof(t), "t%u", k);
		rc = shlog_topic_create(s, t, per);
		CHILD_CHECK(rc == 0, "create %s with %u partitions: %s", t, per, strerror(-rc));
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "test_fds: created %u partitions in %.2f s\n", n, secs(&a, &b));
	/* a partition holds 4 fds: the limit holds SCALE_LIMIT / 4 at most */
	scale_bounds(s, n - SCALE_LIMIT / 4, 0, "after create");
	scale_append(s, per, 0);
	scale_check(s, per, 1);
	scale_bounds(s, n - SCALE_LIMIT / 4, 0, "after append and read");
	CHILD_CHECK(shlog_store_close(s) == 0, "close");

	clock_gettime(CLOCK_MONOTONIC, &a);
	CHILD_CHECK(shlog_store_open(dir, &o, &s) == 0, "reopen");
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "test_fds: opened a store of %u partitions in %.3f s\n", n, secs(&a, &b));
	scale_bounds(s, n - SCALE_LIMIT / 4, 0, "after reopen");
	scale_first_access(s);
	scale_check(s, per, 1);              /* from disk: every read reopens a parked partition */
	scale_bounds(s, n - SCALE_LIMIT / 4, n - SCALE_LIMIT / 4, "after reading all back");
	scale_append(s, per, 1);
	scale_check(s, per, 2);
	scale_bounds(s, n - SCALE_LIMIT / 4, n - SCALE_LIMIT / 4, "after the second round");
	CHILD_CHECK(shlog_store_close(s) == 0, "close again");
	_exit(0);
}

/* N partitions (2000 by default) under a 1,024-fd limit: all appendable and readable, twice. */
static void test_scale(void **state)
{
	struct fx *f = *state;
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		scale_child(f->dir);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ==== 2. older segments: opened on demand, few kept ================== */

/* A partition of ~120 segments read whole: fds stay bounded, every segment was opened. */
static void test_segments_on_demand(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_fd_info fi;
	shlog_store *s;
	shlog_part *p;
	struct shlog_part_info pi;
	char *log;
	size_t len;
	int before;

	th_opts(&o);
	o.segment_bytes = 256;
	th_open_part(f->dir, &o, "seg", 1, &s, &p);
	for (unsigned i = 0; i < 120; i++) {
		char m[300];
		memset(m, 'a' + i % 26, 250);
		snprintf(m, 16, "m%u ", i);
		m[strlen(m)] = ' ';
		m[250] = '\0';
		assert_int_equal(shlog_part_append(p, m, 250, 0, NULL), 0);
		assert_int_equal(shlog_part_flush(p), 0);
	}
	assert_int_equal(th_close(s, p), 0);

	before = fds_open();
	assert_int_equal(th_reopen_part(f->dir, &o, "seg", 0, &s, &p), 0);
	shlog_part_info(p, &pi);
	assert_true(pi.nsegments >= 100);
	/* after open: the data dir, its lock, the topic, the partition's dir, anchor, tail
	 * and at most SHLOG_RES_OLDER_KEEP older segments (120 segments held 240 fds before) */
	assert_true(fds_open() - before <= (int)(SHLOG_RES_PART_FDS + 2 * SHLOG_RES_OLDER_KEEP) + 3);
	assert_int_equal(th_read_log(p, &log, &len, NULL), 0);
	assert_int_equal(th_count_lines(log, len), 120);
	assert_memory_equal(log, "m0 ", 3);
	free(log);
	shlog_store_fd_info(s, &fi);
	assert_true(fi.seg_opens >= pi.nsegments - 1 - SHLOG_RES_OLDER_KEEP);
	assert_true(fi.used <= SHLOG_RES_PART_FDS + 2 * SHLOG_RES_OLDER_KEEP);
	assert_true(fds_open() - before <= (int)(SHLOG_RES_PART_FDS + 2 * SHLOG_RES_OLDER_KEEP) + 3);
	assert_int_equal(th_close(s, p), 0);
}

/* ==== 3. a full budget: -ENFILE for that caller only ================= */

/* The pread of a thread that set block_here waits for the gate. */
static __thread int block_here;
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_blocked, gate_open;

/* sl_io.pread that holds a reader inside a pinned partition. */
static ssize_t gated_pread(int fd, void *buf, size_t len, off_t off)
{
	if (block_here) {
		pthread_mutex_lock(&gate_mu);
		gate_blocked = 1;
		pthread_cond_broadcast(&gate_cv);
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &gate_mu);
		pthread_mutex_unlock(&gate_mu);
	}
	return sl_io_default.pread(fd, buf, len, off);
}

/* A reader of partition 0 that blocks in its first pread. */
static void *blocked_reader(void *arg)
{
	shlog_part *p = arg;
	char buf[64];
	ssize_t n;

	block_here = 1;
	n = shlog_part_read(p, 0, buf, sizeof(buf));
	return (void *)(intptr_t)n;
}

/* Budget for one partition, held by a blocked reader: the other gets ENFILE, then works. */
static void test_enfile_when_pinned(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_fd_info fi;
	shlog_store *s;
	shlog_part *p0, *p1;
	pthread_t th;
	void *ret;
	char buf[64];

	th_opts(&o);
	o.max_fds = 8;               /* 2 for topics, 6 for partitions: one resident at a time */
	th_open_part(f->dir, &o, "e", 2, &s, &p0);
	assert_int_equal(shlog_part_get(s, "e", 1, &p1), 0);
	th_append(p0, "zero");
	assert_int_equal(shlog_part_flush(p0), 0);
	th_append(p1, "one");
	assert_int_equal(shlog_part_flush(p1), 0);

	sl_io.pread = gated_pread;
	assert_int_equal(pthread_create(&th, NULL, blocked_reader, p0), 0);
	pthread_mutex_lock(&gate_mu);
	while (!gate_blocked)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);

	/* partition 0 is pinned by the blocked reader: no room for partition 1 */
	assert_int_equal(shlog_part_read(p1, 0, buf, sizeof(buf)), -ENFILE);
	th_append(p1, "buffered");           /* appends need no fd */
	assert_int_equal(shlog_part_flush(p1), -ENFILE);
	shlog_store_fd_info(s, &fi);
	assert_true(fi.refusals >= 2);
	assert_true(fi.used <= fi.budget);

	pthread_mutex_lock(&gate_mu);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	assert_int_equal(pthread_join(th, &ret), 0);
	sl_io = sl_io_default;
	assert_int_equal((intptr_t)ret, 5);   /* "zero\n": the pinned reader was served */

	/* the refused flush is retried; then everything is there */
	assert_int_equal(th_wait_committed(p1, 2, 5000), 0);
	assert_int_equal(shlog_part_read(p1, 0, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, "one\nbuffered\n", 13);
	assert_int_equal(shlog_part_read(p0, 0, buf, sizeof(buf)), 5);
	shlog_part_put(p1);
	assert_int_equal(th_close(s, p0), 0);
}

/* ==== 4. store-wide limits ============================================ */

/* max_partitions and the topic cap refuse creation with ENOSPC, and free up after a delete. */
static void test_limits(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	uint32_t n;

	th_opts(&o);
	o.max_partitions = 5;
	o.max_fds = 16;              /* topic cap 4 */
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_int_equal(shlog_topic_create(s, "a", 3), 0);
	assert_int_equal(shlog_topic_add_part(s, "a", &n), 0);
	assert_int_equal(shlog_topic_create(s, "b", 2), -ENOSPC);
	assert_int_equal(shlog_topic_create(s, "b", 1), 0);
	assert_int_equal(shlog_topic_add_part(s, "a", &n), -ENOSPC);
	assert_int_equal(shlog_topic_create(s, "c", 1), -ENOSPC);
	assert_int_equal(shlog_topic_delete(s, "a"), 0);
	assert_int_equal(shlog_topic_create(s, "c", 1), 0);
	assert_int_equal(shlog_topic_create(s, "d", 1), 0);
	assert_int_equal(shlog_topic_create(s, "e", 1), 0);
	assert_int_equal(shlog_topic_create(s, "f", 1), -ENOSPC);   /* 4 topics: the cap */
	assert_int_equal(shlog_store_close(s), 0);

	/* a store holding more than the limit opens, and refuses more */
	o.max_partitions = 2;
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_int_equal(shlog_topic_nparts(s, "e", &n), 0);
	assert_int_equal(shlog_topic_add_part(s, "e", &n), -ENOSPC);
	assert_int_equal(shlog_store_close(s), 0);
}

/* ==== 5. a parked partition keeps its state =========================== */

/* Keys, anchor generation and data survive parking; a reopen drops nothing. */
static void test_parked_state(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info a, b;
	struct shlog_fd_info fi, fj;
	struct shlog_keyref ref;
	shlog_store *s;
	shlog_part *p0, *p1;
	char buf[128];

	th_opts(&o);
	o.max_fds = 8;
	th_open_part(f->dir, &o, "k", 2, &s, &p0);
	assert_int_equal(shlog_part_get(s, "k", 1, &p1), 0);
	th_append(p0, "user1\talice");
	th_append(p0, "user2\tbob");
	assert_int_equal(shlog_part_flush(p0), 0);
	shlog_part_info(p0, &a);
	th_append(p1, "other");
	assert_int_equal(shlog_part_flush(p1), 0);   /* parks p0 */
	shlog_store_fd_info(s, &fi);
	assert_true(fi.parks >= 1);
	assert_int_equal(fi.resident, 1);

	/* in memory while parked: keys and counters, no fd needed */
	assert_int_equal(shlog_key_lookup(p0, "user2", 5, &ref), 0);
	assert_int_equal(ref.seq, 1);
	shlog_part_info(p0, &b);
	assert_int_equal(b.end_seq, a.end_seq);
	assert_int_equal(b.anchor_gen, a.anchor_gen);
	shlog_store_fd_info(s, &fj);
	assert_int_equal(fj.reopens, fi.reopens);

	/* the next flush reopens it and goes on with the anchor's generations */
	th_append(p0, "user1\tcarol");
	assert_int_equal(shlog_part_flush(p0), 0);
	shlog_part_info(p0, &b);
	assert_true(b.anchor_gen > a.anchor_gen);
	assert_int_equal(shlog_key_lookup(p0, "user1", 5, &ref), 0);
	assert_int_equal(ref.seq, 2);
	assert_int_equal(shlog_part_read(p0, 0, buf, sizeof(buf)), 34);
	assert_memory_equal(buf, "user1\talice\nuser2\tbob\nuser1\tcarol\n", 34);
	shlog_store_fd_info(s, &fj);
	assert_true(fj.reopens > fi.reopens);
	shlog_part_put(p1);
	assert_int_equal(th_close(s, p0), 0);

	/* the clean close went through parked partitions: nothing to recover */
	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p0), 0);
	shlog_part_info(p0, &b);
	assert_int_equal(b.end_seq, 3);
	assert_int_equal(b.recovered_bytes_dropped, 0);
	assert_int_equal(shlog_key_lookup(p0, "user1", 5, &ref), 0);
	assert_int_equal(ref.seq, 2);
	assert_int_equal(th_close(s, p0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_scale),
		TH_TEST(test_segments_on_demand),
		TH_TEST(test_enfile_when_pinned),
		TH_TEST(test_limits),
		TH_TEST(test_parked_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
