/*
 * test_keys.c — keyed messages: latest wins, tombstones, keyless lines,
 * key_foreach order, across clean reopen, a crash, and a snapshot.
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
TH_FX(struct fx, 100)

/* Look up @p key and compare its value with @p want (NULL: absent). */
static void check_key(shlog_part *p, const char *key, const char *want)
{
	struct shlog_keyref r;
	char buf[4096];
	size_t kl = strlen(key);
	int rc = shlog_key_lookup(p, key, kl, &r);

	if (!want) {
		if (rc != -ENOENT)
			fail_msg("key '%s': want absent, got rc %d", key, rc);
		return;
	}
	if (rc != 0)
		fail_msg("key '%s': want '%s', got rc %d", key, want, rc);
	assert_int_equal(r.klen, kl);
	assert_int_equal(r.len, kl + 1 + strlen(want));
	assert_int_equal(th_read_at(p, r.off, buf, r.len + 1), 0);
	assert_memory_equal(buf, key, kl);
	assert_int_equal(buf[kl], '\t');
	assert_memory_equal(buf + kl + 1, want, strlen(want));
	assert_int_equal(buf[r.len], '\n');
}

/* Append "key\tvalue". */
static uint64_t put(shlog_part *p, const char *key, const char *val)
{
	char m[1024];

	snprintf(m, sizeof(m), "%s\t%s", key, val);
	return th_append(p, m);
}

/* Latest wins, tombstones remove, a later value revives. */
static void test_latest_and_tombstone(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	struct shlog_keyref r;
	shlog_store *s;
	shlog_part *p;
	uint64_t seq;

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	put(p, "a", "1");
	put(p, "b", "2");
	seq = put(p, "a", "3");
	assert_int_equal(shlog_part_flush(p), 0);
	check_key(p, "a", "3");
	check_key(p, "b", "2");
	assert_int_equal(shlog_key_lookup(p, "a", 1, &r), 0);
	assert_int_equal(r.seq, seq);
	assert_int_equal(r.off, 8);
	assert_true(r.time_ns > 0);
	check_key(p, "c", NULL);

	put(p, "a", ""); /* tombstone */
	assert_int_equal(shlog_part_flush(p), 0);
	check_key(p, "a", NULL);
	check_key(p, "b", "2");
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.nkeys, 1);

	put(p, "a", "4");
	put(p, "b", "");
	assert_int_equal(shlog_part_flush(p), 0);
	check_key(p, "a", "4");
	check_key(p, "b", NULL);
	th_close(s, p);

	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	check_key(p, "a", "4");
	check_key(p, "b", NULL);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.nkeys, 1);
	th_close(s, p);
}

/*
 * A bookmark's time_ns is its message's block time (shlog.h), after a
 * reopen too, when the bookmarks are rebuilt by replaying the log
 * (before, replay set it to 0).
 */
static void test_time_after_reopen(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_keyref a0, b0, a1, b1;
	shlog_store *s;
	shlog_part *p;

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	put(p, "a", "1");
	th_append(p, "no key here");
	assert_int_equal(shlog_part_flush(p), 0);
	usleep(2000);                        /* the next block gets a later time */
	put(p, "b", "2");
	assert_int_equal(shlog_part_flush(p), 0);
	assert_int_equal(shlog_key_lookup(p, "a", 1, &a0), 0);
	assert_int_equal(shlog_key_lookup(p, "b", 1, &b0), 0);
	assert_true(a0.time_ns > 0);
	assert_true(b0.time_ns > a0.time_ns);
	th_close(s, p);

	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	assert_int_equal(shlog_key_lookup(p, "a", 1, &a1), 0);
	assert_int_equal(shlog_key_lookup(p, "b", 1, &b1), 0);
	assert_int_equal(a1.seq, a0.seq);
	assert_int_equal(b1.seq, b0.seq);
	assert_int_equal(a1.time_ns, a0.time_ns);
	assert_int_equal(b1.time_ns, b0.time_ns);
	th_close(s, p);
}

/* Keyless messages: no TAB, empty key, key over 255 bytes. */
static void test_keyless(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	struct shlog_keyref r;
	shlog_store *s;
	shlog_part *p;
	char k255[300], m[600];

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	th_append(p, "plain message");
	th_append(p, "\tvalue with empty key");
	memset(k255, 'K', 256);
	k255[256] = '\0';
	snprintf(m, sizeof(m), "%s\tlong", k255); /* 256-byte key: keyless */
	th_append(p, m);
	k255[255] = '\0';
	snprintf(m, sizeof(m), "%s\tmax", k255); /* 255-byte key: keyed */
	th_append(p, m);
	th_append(p, "x\ty\tz"); /* key "x", value "y\tz" */
	assert_int_equal(shlog_part_flush(p), 0);
	check_key(p, "plain message", NULL);
	check_key(p, "", NULL);
	check_key(p, k255, "max");
	check_key(p, "x", "y\tz");
	memset(k255, 'K', 256);
	assert_int_equal(shlog_key_lookup(p, k255, 256, &r), -ENOENT);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.nkeys, 2);
	th_close(s, p);
}

/* State of key_foreach collection. */
struct kf {
	char keys[32][16];
	int n, stop_at;
};

/* key_foreach callback: record keys, optionally stop. */
static int kf_cb(const void *key, size_t klen, const struct shlog_keyref *r,
		 void *arg)
{
	struct kf *k = arg;

	(void)r;
	if (k->n < 32 && klen < 16) {
		memcpy(k->keys[k->n], key, klen);
		k->keys[k->n][klen] = '\0';
	}
	k->n++;
	return k->stop_at && k->n >= k->stop_at;
}

/* key_foreach visits live keys in byte order and stops on request. */
static void test_foreach_order(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	struct kf k;
	static const char *const want[] = { "A", "a", "ab", "b", "\xff" };

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	put(p, "b", "1");
	put(p, "\xff", "1");
	put(p, "ab", "1");
	put(p, "a", "1");
	put(p, "gone", "1");
	put(p, "A", "1");
	put(p, "gone", "");
	assert_int_equal(shlog_part_flush(p), 0);
	for (int round = 0; round < 2; round++) {
		memset(&k, 0, sizeof(k));
		assert_int_equal(shlog_key_foreach(p, kf_cb, &k), 0);
		assert_int_equal(k.n, 5);
		for (int i = 0; i < 5; i++)
			assert_string_equal(k.keys[i], want[i]);
		memset(&k, 0, sizeof(k));
		k.stop_at = 2;
		shlog_key_foreach(p, kf_cb, &k);
		assert_int_equal(k.n, 2);
		th_close(s, p);
		assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	}
	th_close(s, p);
}

/* Keys survive a crash: synced state present, unsynced may be lost. */
static void test_keys_crash(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;

	th_opts(&o);
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	put(p, "a", "1");
	put(p, "b", "1");
	put(p, "c", "1");
	assert_int_equal(shlog_part_sync(p), 0);
	put(p, "a", "2");
	put(p, "b", "");
	assert_int_equal(shlog_part_sync(p), 0);
	put(p, "c", "lost");
	put(p, "d", "lost");
	th_fault_install(TH_FAULT_CRASH);
	th_fault_set_crash_at(1);
	th_close(s, p); /* fails: every I/O call is dead */
	th_fault_restore();
	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	check_key(p, "a", "2");
	check_key(p, "b", NULL);
	check_key(p, "c", "1");
	check_key(p, "d", NULL);
	put(p, "d", "after");
	th_close(s, p);
	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	check_key(p, "d", "after");
	th_close(s, p);
}

/* Expected value of key i after the workload of test_many_keys. */
static void many_want(unsigned i, char *out, size_t size, int *live)
{
	*live = i % 7 != 3;
	snprintf(out, size, "v2-%u", i);
}

/* Check every key of test_many_keys. */
static void many_check(shlog_part *p, unsigned nkeys)
{
	char key[32], val[32];
	int live;
	struct shlog_part_info in;
	uint64_t nlive = 0;

	for (unsigned i = 0; i < nkeys; i++) {
		snprintf(key, sizeof(key), "key%05u", i);
		many_want(i, val, sizeof(val), &live);
		check_key(p, key, live ? val : NULL);
		nlive += (uint64_t)live;
	}
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.nkeys, nlive);
}

/*
 * Write every key several times (enough keyed messages for a snapshot:
 * SHLOG_KEYS_MIN_DELTA), ending with "v2-<i>" and some tombstones.
 */
static void many_fill(shlog_part *p, unsigned nkeys)
{
	unsigned passes = (SHLOG_KEYS_MIN_DELTA + nkeys - 1) / nkeys + 1;
	char key[32], val[32];

	for (unsigned pass = 0; pass < passes; pass++) {
		for (unsigned i = 0; i < nkeys; i++) {
			snprintf(key, sizeof(key), "key%05u", i);
			if (pass + 1 < passes)
				snprintf(val, sizeof(val), "v1-%u-%u", pass, i);
			else
				snprintf(val, sizeof(val), "v2-%u", i);
			put(p, key, val);
			if (pass + 1 == passes && i % 7 == 3)
				put(p, key, "");
		}
	}
}

/* 20,000 keys, updated and partly tombstoned: reopen (and a snapshot). */
static void test_many_keys(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	const unsigned nkeys = 20000;
	char path[512];

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	many_fill(p, nkeys);
	th_append_range(p, "keyless ", 0, 100);
	assert_int_equal(shlog_part_flush(p), 0);
	many_check(p, nkeys);
	th_close(s, p);

	/* a snapshot was written (FORMAT.md: SHLOG_KEYS_MIN_DELTA keyed messages) */
	th_path(path, sizeof(path), f->dir, "k", 0, "keys");
	assert_true(th_file_size(path) > SHLOG_KEYS_HDR_SIZE);

	for (int round = 0; round < 2; round++) {
		assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
		many_check(p, nkeys);
		th_close(s, p);
	}

	/* a damaged snapshot is ignored: keys rebuilt from the log */
	assert_int_equal(th_file_flip(path, SHLOG_KEYS_HDR_SIZE + 8), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	many_check(p, nkeys);
	th_close(s, p);
}

/* The keys file follows FORMAT.md: header, sorted records, trailer. */
static void test_snapshot_format(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	const unsigned nkeys = 3000;
	char path[512], *raw;
	const unsigned char *b, *prev = NULL;
	size_t len, pos = 40, prevlen = 0;
	uint64_t seq, count;

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	many_fill(p, nkeys);
	assert_int_equal(th_close(s, p), 0);
	th_path(path, sizeof(path), f->dir, "k", 0, "keys");
	assert_int_equal(th_file_read(path, &raw, &len), 0);
	b = (const unsigned char *)raw;
	/* header: 40 bytes (FORMAT.md "Key snapshot") */
	assert_true(len >= 44);
	assert_int_equal(th_le32(b), 0x4B4C4853u);
	assert_int_equal(b[4] | b[5] << 8, 1);
	assert_int_equal(th_le32(b + 36), th_crc32c(b, 36));
	seq = th_le64(b + 8);
	count = th_le64(b + 24);
	assert_true(seq > 0);
	assert_true(count >= 1 && count <= nkeys);
	/* records: 32 fixed bytes, then the key */
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *r = b + pos;
		assert_true(pos + 32 <= len - 4);
		uint32_t mlen = th_le32(r + 24);
		uint16_t klen = (uint16_t)(r[28] | r[29] << 8);
		assert_int_equal(klen, 8);
		assert_true(pos + 32 + klen <= len - 4);
		assert_memory_equal(r + 32, "key", 3);
		assert_true(th_le64(r) < seq);
		assert_true(mlen > klen);
		/* records come in any order, but no key twice */
		if (prev && prevlen == klen)
			assert_memory_not_equal(prev, r + 32, klen);
		prev = r + 32;
		prevlen = klen;
		pos += 32 + klen;
	}
	assert_int_equal(pos + 4, len);
	assert_int_equal(th_le32(b + pos), th_crc32c(b + 40, pos - 40));
	free(raw);
}

/* Many keys, then a crash before close: snapshot + replay still right. */
static void test_many_keys_crash(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	const unsigned nkeys = 20000;

	th_opts(&o);
	th_open_part(f->dir, &o, "k", 1, &s, &p);
	many_fill(p, nkeys);
	assert_int_equal(shlog_part_sync(p), 0);
	th_fault_install(TH_FAULT_CRASH);
	th_fault_set_crash_at(1);
	th_close(s, p);
	th_fault_restore();
	assert_int_equal(th_reopen_part(f->dir, &o, "k", 0, &s, &p), 0);
	many_check(p, nkeys);
	th_close(s, p);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_latest_and_tombstone),
		TH_TEST(test_time_after_reopen),
		TH_TEST(test_keyless),
		TH_TEST(test_foreach_order),
		TH_TEST(test_keys_crash),
		TH_TEST(test_many_keys),
		TH_TEST(test_many_keys_crash),
		TH_TEST(test_snapshot_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
