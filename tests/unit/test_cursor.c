/*
 * test_cursor.c — durable cursors (cursor.c, the cursors file of
 * docs/FORMAT.md): set, get, delete, list; surviving a reopen; each slot
 * corrupted, both corrupted, a torn write at every call of a commit, an
 * EIO; a cursor past the log's end; the limits and the name rule;
 * verify's report; compaction keeping them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "const_i.h"
#include "io_i.h"

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 120)

/* The value of cursor @name, or -errno as a negative number. */
static int64_t cget(shlog_part *p, const char *name)
{
	uint64_t v = 0;
	int rc = shlog_cursor_get(p, name, &v);

	return rc < 0 ? rc : (int64_t)v;
}

/* The cursors file of partition 0 of @topic. */
static void cpath(char *out, size_t cap, const struct fx *f, const char *topic)
{
	th_path(out, cap, f->dir, topic, 0, SHLOG_CURSORS_NAME);
}

/* Names and values seen by shlog_cursor_foreach, as "a=1,b=2,". */
static int list_one(const char *name, uint64_t seq, void *arg)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s=%llu,", name, (unsigned long long)seq);
	return 0;
}

/* Set, get, list, delete; the values survive a clean reopen. */
static void test_basic(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char list[256] = "";

	th_opts(&o);
	th_open_part(f->dir, &o, "t", 1, &s, &p);
	th_append_range(p, "m", 0, 10);
	assert_int_equal(cget(p, "c1"), -ENOENT);
	assert_int_equal(shlog_cursor_set(p, "c1", 3, 0), -ENOENT);   /* no CREATE */
	assert_int_equal(shlog_cursor_set(p, "c1", 3, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(shlog_cursor_set(p, "b", 0, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(shlog_cursor_set(p, "c1", 7, SHLOG_CURSOR_CREATE | SHLOG_CURSOR_EXCL), -EEXIST);
	assert_int_equal(shlog_cursor_set(p, "c1", 7, 0), 0);
	assert_int_equal(shlog_cursor_set(p, "c1", 11, 0), -ERANGE);  /* past end_seq 10 */
	assert_int_equal(shlog_cursor_set(p, "z", 10, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(cget(p, "c1"), 7);
	assert_int_equal(shlog_cursor_foreach(p, list_one, list), 0);
	assert_string_equal(list, "b=0,c1=7,z=10,");
	assert_int_equal(shlog_cursor_delete(p, "b"), 0);
	assert_int_equal(shlog_cursor_delete(p, "b"), -ENOENT);
	assert_int_equal(th_close(s, p), 0);

	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	list[0] = 0;
	assert_int_equal(shlog_cursor_foreach(p, list_one, list), 0);
	assert_string_equal(list, "c1=7,z=10,");
	th_close(s, p);
}

/* The name rule: [A-Za-z0-9._-]{1,64}, no leading '.'. */
static void test_names(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char n64[66], n65[67];

	memset(n64, 'a', 64), n64[64] = 0;
	memset(n65, 'a', 65), n65[65] = 0;
	assert_int_equal(shlog_cursor_name_check(n64), 0);
	assert_int_equal(shlog_cursor_name_check(n65), -EINVAL);
	assert_int_equal(shlog_cursor_name_check(""), -EINVAL);
	assert_int_equal(shlog_cursor_name_check(".x"), -EINVAL);
	assert_int_equal(shlog_cursor_name_check("a/b"), -EINVAL);
	assert_int_equal(shlog_cursor_name_check("a\tb"), -EINVAL);
	assert_int_equal(shlog_cursor_name_check("A-z_0.9"), 0);
	th_opts(&o);
	th_open_part(f->dir, &o, "t", 1, &s, &p);
	assert_int_equal(shlog_cursor_set(p, n65, 0, SHLOG_CURSOR_CREATE), -EINVAL);
	assert_int_equal(shlog_cursor_set(p, "..", 0, SHLOG_CURSOR_CREATE), -EINVAL);
	assert_int_equal(shlog_cursor_set(p, n64, 0, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(cget(p, n64), 0);
	th_close(s, p);
}

/* At most SHLOG_CURSORS_MAX cursors: the next is ENOSPC, an existing one still moves. */
static void test_limit(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char name[32];

	th_opts(&o);
	th_open_part(f->dir, &o, "t", 1, &s, &p);
	th_append_range(p, "m", 0, 5);
	for (int i = 0; i < SHLOG_CURSORS_MAX; i++) {
		snprintf(name, sizeof(name), "c%04d", i);
		assert_int_equal(shlog_cursor_set(p, name, (uint64_t)(i % 6), SHLOG_CURSOR_CREATE), 0);
	}
	assert_int_equal(shlog_cursor_set(p, "one-more", 0, SHLOG_CURSOR_CREATE), -ENOSPC);
	assert_int_equal(shlog_cursor_set(p, "c0007", 5, 0), 0);
	assert_int_equal(th_close(s, p), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c1023"), 1023 % 6);
	assert_int_equal(cget(p, "c0007"), 5);
	assert_int_equal(cget(p, "one-more"), -ENOENT);
	th_close(s, p);
}

/* Make generations 1 (c=2, slot 1) and 2 (c=5, slot 0) of topic t, closed. */
static void two_generations(struct fx *f, const struct shlog_options *o)
{
	shlog_store *s;
	shlog_part *p;

	th_open_part(f->dir, o, "t", 1, &s, &p);
	th_append_range(p, "m", 0, 8);
	assert_int_equal(shlog_cursor_set(p, "c", 2, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(shlog_cursor_set(p, "c", 5, 0), 0);
	assert_int_equal(th_close(s, p), 0);
}

/* Counts of verify's problems: damage and warnings. */
static void verify_counts(const struct fx *f, uint64_t *damage, uint64_t *warnings)
{
	struct shlog_verify_stats st;

	assert_int_equal(shlog_part_verify(f->dir, "t", 0, NULL, NULL, NULL, &st), 0);
	*damage = st.damage;
	*warnings = st.warnings;
}

/* Each slot corrupted alone leaves the other's value; both: no cursors, verify says damage. */
static void test_corrupt_slots(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char path[512];
	uint64_t dmg, warn;

	th_opts(&o);
	two_generations(f, &o);
	cpath(path, sizeof(path), f, "t");
	verify_counts(f, &dmg, &warn);
	assert_int_equal(dmg, 0);
	/* slot 0 (gen 2, the newest) flipped in a record: gen 1's value */
	assert_int_equal(th_file_flip(path, SHLOG_CURSOR_HDR_SIZE + 3), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 2);
	/* the next commit (gen 2 again) goes into the damaged slot and wins */
	assert_int_equal(shlog_cursor_set(p, "c", 6, 0), 0);
	assert_int_equal(th_close(s, p), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 6);
	assert_int_equal(th_close(s, p), 0);
	/* slot 1 (gen 1, older) damaged: gen 2 stays */
	assert_int_equal(th_file_flip(path, SHLOG_CURSOR_SLOT_SIZE + 9), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 6);
	assert_int_equal(th_close(s, p), 0);
	/* both: no cursors at all, and verify reports the file as damage */
	assert_int_equal(th_file_flip(path, 0), 0);
	verify_counts(f, &dmg, &warn);
	assert_int_equal(dmg, 1);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), -ENOENT);
	assert_int_equal(shlog_cursor_set(p, "c", 1, SHLOG_CURSOR_CREATE), 0);
	th_close(s, p);
	verify_counts(f, &dmg, &warn);
	assert_int_equal(dmg, 0);
}

/* A file cut short (the second slot gone) keeps the first slot's value. */
static void test_truncated(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char path[512];

	th_opts(&o);
	two_generations(f, &o);
	cpath(path, sizeof(path), f, "t");
	assert_int_equal(th_file_truncate(path, SHLOG_CURSOR_SLOT_SIZE + 10), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 5);
	th_close(s, p);
	assert_int_equal(th_file_truncate(path, 20), 0);   /* nothing valid left */
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), -ENOENT);
	th_close(s, p);
}

/* A torn write or crash at every seam call of a commit: old value, or new if the commit returned 0. */
static void test_torn_commit(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	uint64_t calls;
	int tried = 0;

	th_opts(&o);
	two_generations(f, &o);
	/* how many seam calls one commit makes */
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 5);
	th_fault_install(TH_FAULT_COUNT);
	assert_int_equal(shlog_cursor_set(p, "c", 6, 0), 0);
	calls = th_fault_calls();
	th_fault_restore();
	assert_int_equal(shlog_cursor_set(p, "c", 5, 0), 0);
	th_close(s, p);
	assert_true(calls >= 4);   /* open, pwrite, fdatasync, close at least */
	for (uint64_t k = 1; k <= calls; k++) {
		int rc;
		assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
		assert_int_equal(cget(p, "c"), 5);
		th_fault_install(TH_FAULT_TORN);
		th_fault_set_crash_at(k);
		rc = shlog_cursor_set(p, "c", 7, 0);
		th_fault_restore();
		assert_true(rc == 0 || rc < 0);
		tried += rc < 0;
		th_close(s, p);
		assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
		if (rc == 0)
			assert_int_equal(cget(p, "c"), 7);
		else
			assert_true(cget(p, "c") == 5 || cget(p, "c") == 7);
		/* back to 5 for the next round */
		assert_int_equal(shlog_cursor_set(p, "c", 5, 0), 0);
		th_close(s, p);
	}
	assert_true(tried >= 3);   /* the faults did reach the commit */
}

/* An EIO on the slot's write: the call fails, the old value stays, in memory and on disk. */
static void test_eio(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;

	th_opts(&o);
	two_generations(f, &o);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 5);
	th_fault_install(TH_FAULT_EIO_ONCE);
	assert_int_equal(shlog_cursor_set(p, "c", 1, 0), -EIO);
	th_fault_restore();
	assert_int_equal(cget(p, "c"), 5);
	th_close(s, p);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 5);
	th_close(s, p);
}

/* A cursor past the log's end at load is moved back to the end; verify warns. */
static void test_past_end(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char from[512], to[512], *buf;
	size_t len;
	uint64_t dmg, warn;

	th_opts(&o);
	two_generations(f, &o);      /* t: 8 messages, c = 5 */
	th_open_part(f->dir, &o, "u", 1, &s, &p);
	th_append_range(p, "m", 0, 3);
	th_close(s, p);
	/* give u (3 messages) t's cursors file */
	cpath(from, sizeof(from), f, "t");
	cpath(to, sizeof(to), f, "u");
	assert_int_equal(th_file_read(from, &buf, &len), 0);
	assert_int_equal(th_file_create(to, buf, len), 0);
	free(buf);
	assert_int_equal(th_reopen_part(f->dir, &o, "u", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 3);
	th_close(s, p);
	/* verify of t (the original) is clean; of u it warns (one cursor past the end) */
	verify_counts(f, &dmg, &warn);
	assert_int_equal(warn, 0);
	{
		struct shlog_verify_stats st;
		assert_int_equal(shlog_part_verify(f->dir, "u", 0, NULL, NULL, NULL, &st), 0);
		assert_int_equal(st.warnings, 1);
		assert_int_equal(st.damage, 0);
	}
}

/* Compaction keeps every cursor's value (sequence numbers end where they ended). */
static void test_compact_keeps(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_compact_result r;
	shlog_store *s;
	shlog_part *p;

	th_opts(&o);
	th_open_part(f->dir, &o, "t", 1, &s, &p);
	for (int i = 0; i < 20; i++)
		th_append(p, i % 2 ? "k\tv" : "free");
	assert_int_equal(shlog_cursor_set(p, "c", 12, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(shlog_cursor_set(p, "d", 20, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(th_close(s, p), 0);
	assert_int_equal(shlog_part_compact(f->dir, "t", 0, 0, &o, NULL, NULL, &r), 0);
	assert_true(r.msgs_kept < r.msgs_in);
	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(cget(p, "c"), 12);
	assert_int_equal(cget(p, "d"), 20);
	th_close(s, p);
}

/* A power cut right after a commit returned keeps it; one during a commit keeps the old or the new value. */
static void test_powercut(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	int failed = 0;

	th_opts(&o);
	two_generations(f, &o);
	for (uint64_t k = 1; k <= 8; k++) {
		int rc;
		assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
		assert_int_equal(cget(p, "c"), 5);
		th_fault_install(TH_FAULT_POWERCUT);
		th_fault_set_crash_at(k);
		rc = shlog_cursor_set(p, "c", 7, 0);
		/* the machine dies now: everything not synced is undone */
		th_fault_set_crash_at(th_fault_calls() + 1);
		th_close(s, p);
		th_fault_restore();
		failed += rc < 0;
		assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
		if (rc == 0)
			assert_int_equal(cget(p, "c"), 7);
		else
			assert_true(cget(p, "c") == 5 || cget(p, "c") == 7);
		assert_int_equal(shlog_cursor_set(p, "c", 5, 0), 0);
		th_close(s, p);
	}
	assert_true(failed >= 3);      /* the cut reached the commit */
	assert_true(failed < 8);       /* and some commits returned before it */
}

/* fdatasync calls seen by count_fdatasync. */
static unsigned nsyncs;

/* sl_io.fdatasync that counts its calls. */
static int count_fdatasync(int fd)
{
	nsyncs++;
	return sl_io_default.fdatasync(fd);
}

/* Every change is fdatasynced before it returns (the power-cut model counts a close as a sync, so this is checked apart). */
static void test_commit_syncs(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;

	th_opts(&o);
	th_open_part(f->dir, &o, "t", 1, &s, &p);
	th_append_range(p, "m", 0, 4);
	sl_io.fdatasync = count_fdatasync;
	nsyncs = 0;
	assert_int_equal(shlog_cursor_set(p, "c", 1, SHLOG_CURSOR_CREATE), 0);
	assert_int_equal(nsyncs, 1);
	assert_int_equal(shlog_cursor_set(p, "c", 3, 0), 0);
	assert_int_equal(nsyncs, 2);
	assert_int_equal(shlog_cursor_set(p, "c", 3, 0), 0);   /* unchanged: nothing written */
	assert_int_equal(nsyncs, 2);
	assert_int_equal(shlog_cursor_delete(p, "c"), 0);
	assert_int_equal(nsyncs, 3);
	sl_io = sl_io_default;
	th_close(s, p);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_basic),
		TH_TEST(test_names),
		TH_TEST(test_limit),
		TH_TEST(test_corrupt_slots),
		TH_TEST(test_truncated),
		TH_TEST(test_torn_commit),
		TH_TEST(test_eio),
		TH_TEST(test_powercut),
		TH_TEST(test_commit_syncs),
		TH_TEST(test_past_end),
		TH_TEST(test_compact_keeps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
