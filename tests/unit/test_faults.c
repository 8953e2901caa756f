/*
 * test_faults.c — I/O faults through the seam: a crash at every call of
 * a workload (and a torn write at every pwrite), ENOSPC, short writes,
 * a transient EIO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "io_i.h"
#include "const_i.h"

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 280)

/* ==== crash at every call ============================================== */

/* Shape of a crash workload. */
struct workload {
	unsigned rounds;     /* append + sync rounds */
	unsigned per_round;  /* messages per round */
	unsigned nkeys;      /* keys cycled through (0: keyless) */
	uint32_t stride;
	uint64_t segment_bytes;
	uint32_t max_buffer;  /* 0: default */
};

/* Message i of a workload: keyed "k<i % nkeys>\tv<i>" or "m<i>". */
static void wl_msg(const struct workload *w, unsigned i, char *buf, size_t n)
{
	if (w->nkeys && i % 5 == 4)
		snprintf(buf, n, "k%u\t", (i / 5) % w->nkeys); /* tombstone */
	else if (w->nkeys)
		snprintf(buf, n, "k%u\tv%u", i % w->nkeys, i);
	else
		snprintf(buf, n, "m%u", i);
}

/* Options of a workload. */
static void wl_opts(const struct workload *w, struct shlog_options *o)
{
	th_opts(o);
	o->stride = w->stride;
	o->flush_interval_ms = 10000;
	o->segment_bytes = w->segment_bytes;
	if (w->max_buffer)
		o->max_buffer = w->max_buffer;
}

/*
 * Run the workload with whatever seam is installed, tolerating errors.
 * Returns the number of messages acknowledged by a successful sync.
 */
static unsigned wl_run(const char *dir, const struct workload *w)
{
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	unsigned acked = 0, n = 0;
	char m[64];

	wl_opts(w, &o);
	if (shlog_store_open(dir, &o, &s) < 0)
		return 0;
	if (shlog_topic_create(s, "c", 1) < 0 ||
	    shlog_part_get(s, "c", 0, &p) < 0) {
		shlog_store_close(s);
		return 0;
	}
	for (unsigned r = 0; r < w->rounds; r++) {
		for (unsigned i = 0; i < w->per_round; i++, n++) {
			wl_msg(w, n, m, sizeof(m));
			if (shlog_part_append(p, m, strlen(m), 0, NULL) < 0)
				goto out;
		}
		if (shlog_part_sync(p) == 0)
			acked = n;
	}
out:
	shlog_part_put(p);
	shlog_store_close(s);
	return acked;
}

/* After a crash: the store opens, holds a prefix >= acked, keys agree. */
static size_t wl_check(const char *dir, const struct workload *w,
		     unsigned acked, uint64_t crash_at)
{
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char *log, **lines, m[64];
	size_t len, n;
	uint32_t nparts;
	int rc;

	wl_opts(w, &o);
	rc = shlog_store_open(dir, &o, &s);
	if (rc != 0)
		fail_msg("crash at call %llu: reopen gives %d",
			 (unsigned long long)crash_at, rc);
	if (shlog_topic_nparts(s, "c", &nparts) < 0) {
		/* crashed while creating the topic: nothing was acked */
		if (acked != 0)
			fail_msg("crash at %llu: topic lost", (unsigned long long)crash_at);
		assert_int_equal(shlog_store_close(s), 0);
		return 0;
	}
	assert_int_equal(nparts, 1);
	assert_int_equal(shlog_part_get(s, "c", 0, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(th_read_log(p, &log, &len, NULL), 0);
	if (len && log[len - 1] != '\n')
		fail_msg("crash at %llu: torn last line", (unsigned long long)crash_at);
	n = th_split_lines(log, len, &lines);
	if (n < acked)
		fail_msg("crash at %llu: %zu messages, %u acknowledged",
			 (unsigned long long)crash_at, n, acked);
	if (n > (size_t)w->rounds * w->per_round)
		fail_msg("crash at %llu: %zu messages, more than written",
			 (unsigned long long)crash_at, n);
	for (size_t i = 0; i < n; i++) {
		wl_msg(w, (unsigned)i, m, sizeof(m));
		if (strcmp(lines[i], m) != 0)
			fail_msg("crash at %llu: line %zu is '%s', want '%s'",
				 (unsigned long long)crash_at, i, lines[i], m);
	}
	assert_int_equal(in.committed_seq, n);
	assert_int_equal(in.end_seq, n);
	assert_true(in.recovered_msgs_dropped <= in.recovered_bytes_dropped);
	assert_true(n + in.recovered_msgs_dropped <=
		    (size_t)w->rounds * w->per_round);
	assert_int_equal(in.error, 0);

	/* key state equals the key state of the recovered prefix */
	if (w->nkeys) {
		long *last = malloc(w->nkeys * sizeof(*last));
		assert_non_null(last);
		for (unsigned k = 0; k < w->nkeys; k++)
			last[k] = -1;
		for (size_t i = 0; i < n; i++)
			last[strtoul(lines[i] + 1, NULL, 10)] = (long)i;
		for (unsigned k = 0; k < w->nkeys; k++) {
			char key[16];
			struct shlog_keyref r;
			size_t kl = (size_t)snprintf(key, sizeof(key), "k%u", k);
			rc = shlog_key_lookup(p, key, kl, &r);
			if (last[k] < 0 || lines[last[k]][kl + 1] == '\0') {
				if (rc != -ENOENT)
					fail_msg("crash at %llu: key %s should be absent (rc %d)",
						 (unsigned long long)crash_at, key, rc);
			} else if (rc != 0 || r.seq != (uint64_t)last[k]) {
				fail_msg("crash at %llu: key %s rc %d seq %llu, want %ld",
					 (unsigned long long)crash_at, key, rc,
					 (unsigned long long)r.seq, last[k]);
			}
		}
		free(last);
	}
	free(lines);
	free(log);

	/* the store still works: append, close, reopen, see it */
	th_append(p, "after-crash");
	th_close_reopen_clean(s, p, dir, &o, "c", n + 1);
	return n;
}

/* Crash (or tear) at every call 1..calls+1 of a workload. */
static void crash_sweep_opt(const char *base, const struct workload *w,
			    enum th_fault_mode mode, int keep_anchor)
{
	char dir[512];
	uint64_t calls;
	unsigned full, acked, lost = 0, unacked = 0, kept = 0;
	size_t got;

	/* measure: how many seam calls the workload makes */
	snprintf(dir, sizeof(dir), "%s/measure", base);
	assert_int_equal(mkdir(dir, 0700), 0);
	th_fault_install(TH_FAULT_COUNT);
	full = wl_run(dir, w);
	calls = th_fault_calls();
	th_fault_restore();
	assert_int_equal(full, w->rounds * w->per_round);
	wl_check(dir, w, full, 0);
	if (w->nkeys && full > SHLOG_KEYS_MIN_DELTA) {
		/* the workload is big enough for a key snapshot */
		char path[600];
		th_path(path, sizeof(path), dir, "c", 0, "keys");
		assert_true(th_file_size(path) > SHLOG_KEYS_HDR_SIZE);
	}
	th_rmrf(dir);
	print_message("workload: %llu seam calls\n", (unsigned long long)calls);

	for (uint64_t n = 1; n <= calls + 1; n++) {
		snprintf(dir, sizeof(dir), "%s/crash%llu", base,
			 (unsigned long long)n);
		assert_int_equal(mkdir(dir, 0700), 0);
		th_fault_install(mode);
		th_fault_set_keep_anchor(keep_anchor);
		th_fault_set_crash_at(n);
		acked = wl_run(dir, w);
		th_fault_restore();
		got = wl_check(dir, w, acked, n);
		th_rmrf(dir);
		lost += got < full;
		unacked += acked < full;
		kept += got > acked;
	}
	print_message("%u crash points lost messages, %u lost acks, %u kept "
		      "unacknowledged messages\n", lost, unacked, kept);
	/* the sweep did reach the interesting points */
	assert_true(lost > 0 && unacked > 0);
}

/* crash_sweep_opt() with every write of the cut lost. */
static void crash_sweep(const char *base, const struct workload *w,
			enum th_fault_mode mode)
{
	crash_sweep_opt(base, w, mode, 0);
}

/* Keyless workload across a few segments, crash at every call. */
static void test_crash_every_call(void **state)
{
	struct fx *f = *state;
	const struct workload w = { .rounds = 6, .per_round = 7, .nkeys = 0,
				    .stride = 4, .segment_bytes = 120 };

	crash_sweep(f->dir, &w, TH_FAULT_CRASH);
}

/* Same workload; the crashing pwrite writes half its bytes first. */
static void test_torn_every_write(void **state)
{
	struct fx *f = *state;
	const struct workload w = { .rounds = 6, .per_round = 7, .nkeys = 0,
				    .stride = 4, .segment_bytes = 120 };

	crash_sweep(f->dir, &w, TH_FAULT_TORN);
}

/* Power cut at every call: unsynced writes vanish; synced ones stay. */
static void test_powercut_every_call(void **state)
{
	struct fx *f = *state;
	const struct workload w = { .rounds = 6, .per_round = 7, .nkeys = 0,
				    .stride = 4, .segment_bytes = 120 };

	crash_sweep(f->dir, &w, TH_FAULT_POWERCUT);
}

/* Power cut where the anchor reached the disk before the data it names. */
static void test_powercut_anchor_first(void **state)
{
	struct fx *f = *state;
	const struct workload w = { .rounds = 6, .per_round = 7, .nkeys = 3,
				    .stride = 4, .segment_bytes = 120 };

	crash_sweep_opt(f->dir, &w, TH_FAULT_POWERCUT, 1);
}

/* Power cut with keys (below the snapshot threshold). */
static void test_powercut_keys(void **state)
{
	struct fx *f = *state;
	const struct workload w = { .rounds = 8, .per_round = 9, .nkeys = 5,
				    .stride = 4, .segment_bytes = 300 };

	crash_sweep(f->dir, &w, TH_FAULT_POWERCUT);
}

/* Keyed workload big enough for a key snapshot, crash at every call. */
static void test_crash_keys_snapshot(void **state)
{
	struct fx *f = *state;
	const struct workload w = { .rounds = 6,
				    .per_round = SHLOG_KEYS_MIN_DELTA / 5 + 1,
				    .nkeys = 700, .stride = 1000000,
				    .max_buffer = 1000000,
				    .segment_bytes = 64u << 20 };

	crash_sweep(f->dir, &w, TH_FAULT_CRASH);
}

/* ==== ENOSPC ============================================================ */

/* Disk full: -ENOSPC, nothing committed lost, works again afterwards. */
static void test_enospc(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char *log, **lines, m[32];
	size_t len, n;
	int rc = 0;
	unsigned i, appended;

	th_opts(&o);
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "e", 1, &s, &p);
	th_append_range(p, "a", 0, 50);
	assert_int_equal(shlog_part_sync(p), 0);

	th_fault_install(TH_FAULT_ENOSPC);
	th_fault_set_space(100); /* part of the next block fits */
	th_append_range(p, "b", 0, 50);
	assert_int_equal(shlog_part_sync(p), -ENOSPC);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_true(in.committed_seq >= 50);
	assert_true(in.write_errors >= 1);
	/* further appends report the full disk (bounded retries) */
	for (i = 0; i < 100; i++) {
		snprintf(m, sizeof(m), "c%u", i);
		rc = shlog_part_append(p, m, strlen(m), SHLOG_NONBLOCK, NULL);
		if (rc != 0)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	appended = i;
	/* committed data still reads back intact */
	assert_int_equal(th_read_at(p, 0, m, 4), 0);
	assert_memory_equal(m, "a0\na", 4);

	th_fault_restore(); /* space returns */
	assert_int_equal(shlog_part_sync(p), 0);
	th_append(p, "d0");
	assert_int_equal(shlog_part_sync(p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.end_seq, 100 + appended + 1);
	assert_int_equal(in.committed_seq, in.end_seq);
	assert_int_equal(th_close(s, p), 0);

	assert_int_equal(th_reopen_part(f->dir, &o, "e", 0, &s, &p), 0);
	assert_int_equal(th_read_log(p, &log, &len, NULL), 0);
	n = th_split_lines(log, len, &lines);
	assert_int_equal(n, 100 + appended + 1);
	for (i = 0; i < 50; i++) {
		snprintf(m, sizeof(m), "a%u", i);
		assert_string_equal(lines[i], m);
		snprintf(m, sizeof(m), "b%u", i);
		assert_string_equal(lines[50 + i], m);
	}
	for (i = 0; i < appended; i++) {
		snprintf(m, sizeof(m), "c%u", i);
		assert_string_equal(lines[100 + i], m);
	}
	assert_string_equal(lines[n - 1], "d0");
	free(lines);
	free(log);
	assert_int_equal(th_close(s, p), 0);
}

/* ==== short writes and transient errors ================================= */

/* Every pwrite transfers at most 3 bytes: the data is still right. */
static void test_short_writes(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char *log;
	size_t len;

	th_opts(&o);
	o.stride = 10;
	th_fault_install(TH_FAULT_SHORT);
	th_fault_set_short(3);
	th_open_part(f->dir, &o, "w", 1, &s, &p);
	th_append_range(p, "k\tshort write ", 0, 55);
	assert_int_equal(shlog_part_sync(p), 0);
	assert_int_equal(th_close(s, p), 0);
	th_fault_restore();
	assert_int_equal(th_reopen_part(f->dir, &o, "w", 0, &s, &p), 0);
	assert_int_equal(th_read_log(p, &log, &len, NULL), 0);
	assert_int_equal(th_count_lines(log, len), 55);
	assert_memory_equal(log, "k\tshort write 0\nk\tshort write 1\n", 32);
	free(log);
	assert_int_equal(th_close(s, p), 0);
}

/* One failed pwrite: an error is reported, the retry commits everything. */
static void test_eio_once(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	int rc;

	th_opts(&o);
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "w", 1, &s, &p);
	th_append_range(p, "x", 0, 10);
	assert_int_equal(shlog_part_sync(p), 0);
	th_fault_install(TH_FAULT_EIO_ONCE);
	th_append_range(p, "y", 0, 10);
	rc = shlog_part_sync(p);
	if (rc != 0)
		rc = shlog_part_sync(p); /* the engine may retry on its own */
	if (rc != 0) {
		th_sleep_ms(500);
		rc = shlog_part_sync(p);
	}
	assert_int_equal(rc, 0);
	th_fault_restore();
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_true(in.write_errors >= 1);
	assert_int_equal(in.committed_seq, 20);
	th_close_reopen_clean(s, p, f->dir, &o, "w", 20);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_crash_every_call),
		TH_TEST(test_torn_every_write),
		TH_TEST(test_powercut_every_call),
		TH_TEST(test_powercut_keys),
		TH_TEST(test_powercut_anchor_first),
		TH_TEST(test_enospc),
		TH_TEST(test_short_writes),
		TH_TEST(test_eio_once),
		/* last: it exercises key snapshots, the youngest engine code */
		TH_TEST(test_crash_keys_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
