/*
 * test_recovery.c — the on-disk format and recovery at open: clean
 * reopen, torn and missing anchors, truncated / zero-filled / garbage
 * tails of logs and indexes, roll-forward past a stale anchor, mid-log
 * corruption (refused or repaired) and checksum errors on read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "const_i.h"

/* One test's data directory, with a standard log already written. */
struct fx {
	char dir[256];
	char log[512], idx[512], anchor[512];
	struct shlog_options o;
};

/* Message i of the standard log: 49 bytes, so 50 with its '\n'. */
static void rec_msg(char *buf, unsigned i)
{
	int n = snprintf(buf, 64, "r%u ", i);

	memset(buf + n, '-', (size_t)(49 - n));
	buf[49] = '\0';
}

/* Write the standard log: 4 blocks of 10 messages (4 spans of 500 bytes). */
static void rec_write(struct fx *f, unsigned blocks)
{
	shlog_store *s;
	shlog_part *p;
	char m[64];

	th_open_part(f->dir, &f->o, "r", 1, &s, &p);
	for (unsigned i = 0; i < blocks * 10; i++) {
		rec_msg(m, i);
		th_append(p, m);
		if (i % 10 == 9)
			assert_int_equal(shlog_part_flush(p), 0);
	}
	assert_int_equal(th_close(s, p), 0);
}

/* Set-up of every test: options, the standard log, file paths. */
static void rec_init(struct fx *f)
{
	th_opts(&f->o);
	f->o.flush_interval_ms = 10000;
	th_seg_path(f->log, sizeof(f->log), f->dir, "r", 0, 0, "log");
	th_seg_path(f->idx, sizeof(f->idx), f->dir, "r", 0, 0, "idx");
	th_path(f->anchor, sizeof(f->anchor), f->dir, "r", 0, "anchor");
	rec_write(f, 4);
}

TH_FX_HOOKS(struct fx, 60, rec_init, th_fx_nop)

/* Decoded anchor slot. */
struct slot {
	int valid;
	uint16_t flags;
	uint64_t gen, cseq, coff;
};

/* Decode both anchor slots of a file. */
static void read_anchor(const char *path, struct slot sl[2])
{
	char *buf;
	size_t len;

	assert_int_equal(th_file_read(path, &buf, &len), 0);
	assert_int_equal(len, SHLOG_ANCHOR_FILE_SIZE);
	for (int i = 0; i < 2; i++) {
		const unsigned char *b = (unsigned char *)buf + i * 512;
		sl[i].valid = th_le32(b) == SHLOG_ANCHOR_MAGIC &&
			      (b[4] | b[5] << 8) == SHLOG_ANCHOR_VERSION &&
			      th_le32(b + 508) == th_crc32c(b, 508);
		sl[i].flags = (uint16_t)(b[6] | b[7] << 8);
		sl[i].gen = th_le64(b + 8);
		sl[i].cseq = th_le64(b + 16);
		sl[i].coff = th_le64(b + 24);
	}
	free(buf);
}

/* Index of the slot holding the newest valid generation, or -1. */
static int newest_slot(const struct slot sl[2])
{
	if (sl[0].valid && (!sl[1].valid || sl[0].gen > sl[1].gen))
		return 0;
	return sl[1].valid ? 1 : -1;
}

/* Reopen and check the log is messages [0, n) and what was dropped. */
static void expect_log(struct fx *f, unsigned n, int64_t dropped_bytes,
		       int64_t dropped_msgs)
{
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char *log, m[64];
	size_t len;

	assert_int_equal(th_reopen_part(f->dir, &f->o, "r", 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.committed_seq, n);
	assert_int_equal(in.end_seq, n);
	assert_int_equal(in.committed_off, n * 50u);
	if (dropped_bytes >= 0)
		assert_int_equal(in.recovered_bytes_dropped, dropped_bytes);
	if (dropped_msgs >= 0)
		assert_int_equal(in.recovered_msgs_dropped, dropped_msgs);
	assert_int_equal(in.error, 0);
	assert_int_equal(th_read_log(p, &log, &len, NULL), 0);
	assert_int_equal(len, n * 50u);
	for (unsigned i = 0; i < n; i++) {
		rec_msg(m, i);
		assert_memory_equal(log + i * 50, m, 49);
		assert_int_equal(log[i * 50 + 49], '\n');
	}
	free(log);
	/* the files were cut back to what was kept */
	assert_int_equal(th_file_size(f->log), n * 50u);
	/* and the store works: one more message, then a clean reopen */
	rec_msg(m, n);
	th_append(p, m);
	th_close_reopen_clean(s, p, f->dir, &f->o, "r", n + 1);
}

/* ==== format ============================================================ */

/* The files match FORMAT.md byte for byte (its worked example). */
static void test_format_example(void **state)
{
	struct fx *f = *state;
	shlog_store *s;
	shlog_part *p;
	struct slot sl[2];
	char *buf, path[512];
	const unsigned char *e;
	size_t len;
	int k;

	th_open_part(f->dir, &f->o, "ex", 1, &s, &p);
	th_append(p, "a\tx");
	th_append(p, "b");
	th_append(p, "a\t");
	assert_int_equal(th_close(s, p), 0);

	th_seg_path(path, sizeof(path), f->dir, "ex", 0, 0, "log");
	assert_int_equal(th_file_read(path, &buf, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "a\tx\nb\na\t\n", 9);
	free(buf);
	th_seg_path(path, sizeof(path), f->dir, "ex", 0, 0, "idx");
	assert_int_equal(th_file_read(path, &buf, &len), 0);
	assert_int_equal(len, SHLOG_IDX_ENTRY_SIZE);
	e = (unsigned char *)buf;
	assert_int_equal(th_le64(e), 0);
	assert_int_equal(th_le64(e + 8), 0);
	assert_true(th_le64(e + 16) > 1600000000000000000ull);
	assert_int_equal(th_le32(e + 24), 9);
	assert_int_equal(th_le32(e + 28), 3);
	assert_int_equal(th_le32(e + 32), th_crc32c("a\tx\nb\na\t\n", 9));
	assert_int_equal(th_le32(e + 36), th_crc32c(e, 36));
	free(buf);
	th_path(path, sizeof(path), f->dir, "ex", 0, "anchor");
	read_anchor(path, sl);
	k = newest_slot(sl);
	assert_true(k >= 0);
	assert_true(sl[k].flags & SHLOG_ANCHOR_FLAG_CLEAN);
	assert_int_equal(sl[k].cseq, 3);
	assert_int_equal(sl[k].coff, 9);
	assert_int_equal(th_crc32c("123456789", 9), 0xE3069283u);
}

/* A clean reopen drops nothing and keeps everything. */
static void test_clean_reopen(void **state)
{
	expect_log(*state, 40, 0, 0);
}

/* ==== anchors =========================================================== */

/* Garbage over the newest slot: the previous generation is used. */
static void test_torn_anchor_garbage(void **state)
{
	struct fx *f = *state;
	struct slot sl[2];
	char junk[512];
	int k;

	read_anchor(f->anchor, sl);
	k = newest_slot(sl);
	assert_true(k >= 0);
	assert_true(sl[1 - k].valid);
	assert_int_equal(sl[1 - k].gen + 1, sl[k].gen);
	for (int i = 0; i < 512; i++)
		junk[i] = (char)(i * 37 + 11);
	assert_int_equal(th_file_patch(f->anchor, (uint64_t)k * 512, junk, 512), 0);
	expect_log(f, 40, 0, 0);
}

/* Half of the newest slot zeroed (a torn write): previous generation. */
static void test_torn_anchor_half(void **state)
{
	struct fx *f = *state;
	struct slot sl[2];
	char zero[256] = { 0 };
	int k;

	read_anchor(f->anchor, sl);
	k = newest_slot(sl);
	assert_true(k >= 0);
	assert_int_equal(th_file_patch(f->anchor, (uint64_t)k * 512 + 256,
				       zero, 256), 0);
	expect_log(f, 40, 0, 0);
}

/* Both slots destroyed (or the file gone): -EUCLEAN, or repair. */
static void test_anchor_lost(void **state)
{
	struct fx *f = *state;
	char junk[1024];
	shlog_store *s;

	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(th_file_patch(f->anchor, 0, junk, sizeof(junk)), 0);
	assert_int_equal(shlog_store_open(f->dir, &f->o, &s), -EUCLEAN);
	f->o.repair = 1;
	expect_log(f, 40, 0, 0);

	f->o.repair = 0;
	assert_int_equal(unlink(f->anchor), 0);
	assert_int_equal(shlog_store_open(f->dir, &f->o, &s), -EUCLEAN);
	f->o.repair = 1;
	expect_log(f, 41, 0, 0);
}

/* A stale anchor (older generation file): later blocks roll forward. */
static void test_stale_anchor_roll_forward(void **state)
{
	struct fx *f = *state;
	char *old, m[64];
	size_t len;
	shlog_store *s;
	shlog_part *p;

	assert_int_equal(th_file_read(f->anchor, &old, &len), 0);
	assert_int_equal(th_reopen_part(f->dir, &f->o, "r", 0, &s, &p), 0);
	for (unsigned i = 40; i < 70; i++) {
		rec_msg(m, i);
		th_append(p, m);
		if (i % 10 == 9)
			assert_int_equal(shlog_part_flush(p), 0);
	}
	assert_int_equal(th_close(s, p), 0);
	assert_int_equal(th_file_patch(f->anchor, 0, old, len), 0);
	free(old);
	expect_log(f, 70, 0, 0);
}

/* ==== tails ============================================================= */

/* Log cut in the middle of its last span: fall back to the span before. */
static void test_truncated_log_tail(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_file_truncate(f->log, 1750), 0);
	expect_log(f, 30, 250, 5);
}

/* Log cut at a span boundary (index ahead of the log). */
static void test_truncated_log_boundary(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_file_truncate(f->log, 1000), 0);
	expect_log(f, 20, 0, 0);
	assert_int_equal(th_file_size(f->idx), 3 * 40); /* 20 + the new one */
}

/* Zeros over the last span: fall back. */
static void test_zero_log_tail(void **state)
{
	struct fx *f = *state;
	char zero[500] = { 0 };

	assert_int_equal(th_file_patch(f->log, 1500, zero, 500), 0);
	expect_log(f, 30, 500, -1);
}

/* Garbage after the last span: cut off and counted. */
static void test_garbage_log_tail(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_file_append(f->log, "garbage\ngar", 11), 0);
	expect_log(f, 40, 11, 1);
}

/* Zero-filled index tail (preallocated, never written): cut off. */
static void test_zero_idx_tail(void **state)
{
	struct fx *f = *state;
	char zero[120] = { 0 };
	shlog_store *s;
	shlog_part *p;

	assert_int_equal(th_file_append(f->idx, zero, sizeof(zero)), 0);
	assert_int_equal(th_reopen_part(f->dir, &f->o, "r", 0, &s, &p), 0);
	assert_int_equal(th_file_size(f->idx), 160);
	assert_int_equal(th_close(s, p), 0);
	expect_log(f, 40, 0, 0);
}

/* Half an index entry at the end (torn index write): cut off. */
static void test_torn_idx_tail(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_file_truncate(f->idx, 140), 0);
	expect_log(f, 30, 500, 10);
}

/* Last index entry damaged: its span is dropped. */
static void test_bad_last_idx_entry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_file_flip(f->idx, 120 + 3), 0);
	expect_log(f, 30, 500, 10);
}

/* A valid-looking entry that breaks continuity is not part of the log. */
static void test_discontinuous_idx_entry(void **state)
{
	struct fx *f = *state;
	char *buf;
	size_t len;
	unsigned char e[40];

	assert_int_equal(th_file_read(f->idx, &buf, &len), 0);
	memcpy(e, buf + 120, 40);
	free(buf);
	e[0] ^= 1; /* seq off by one, CRC fixed up */
	uint32_t c = th_crc32c(e, 36);
	for (int i = 0; i < 4; i++)
		e[36 + i] = (unsigned char)(c >> (8 * i));
	assert_int_equal(th_file_patch(f->idx, 120, e, 40), 0);
	expect_log(f, 30, 500, 10);
}

/* ==== mid-log corruption ================================================ */

/*
 * A flipped byte before the committed point, without repair: FORMAT.md
 * (bounded recovery) does not look for it at open; the store opens whole
 * and reads of that span fail with -EIO.
 */
static void test_midlog_flip_no_repair(void **state)
{
	struct fx *f = *state;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char buf[500];

	assert_int_equal(th_file_flip(f->log, 520), 0);
	assert_int_equal(th_reopen_part(f->dir, &f->o, "r", 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.committed_seq, 40);
	assert_int_equal(in.recovered_bytes_dropped, 0);
	assert_int_equal(shlog_part_read(p, 500, buf, 500), -EIO);
	assert_int_equal(th_read_at(p, 0, buf, 500), 0);
	assert_int_equal(th_read_at(p, 1000, buf, 500), 0);
	assert_int_equal(th_close(s, p), 0);
	assert_int_equal(th_file_size(f->log), 2000);
}

/* The same with repair: the log is cut before the bad span. */
static void test_midlog_flip_repair(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_file_flip(f->log, 520), 0);
	f->o.repair = 1;
	expect_log(f, 10, 1500, 30);
}

/* Repair across segments: the cut deletes the later segment files. */
static void test_repair_segments(void **state)
{
	struct fx *f = *state;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char m[64], path[512];

	f->o.segment_bytes = 1000; /* two 500-byte blocks per segment */
	th_open_part(f->dir, &f->o, "m", 1, &s, &p);
	for (unsigned i = 0; i < 60; i++) {
		rec_msg(m, i);
		th_append(p, m);
		if (i % 10 == 9)
			assert_int_equal(shlog_part_flush(p), 0);
	}
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.nsegments, 3);
	assert_int_equal(th_close(s, p), 0);
	th_seg_path(path, sizeof(path), f->dir, "m", 0, 0, "log");
	assert_int_equal(th_file_flip(path, 600), 0); /* second span */
	f->o.repair = 1;
	assert_int_equal(th_reopen_part(f->dir, &f->o, "m", 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.committed_seq, 10);
	assert_int_equal(in.end_off, 500);
	assert_int_equal(in.nsegments, 1);
	assert_int_equal(in.recovered_bytes_dropped, 2500);
	assert_int_equal(th_count_segments(f->dir, "m", 0), 1);
	th_seg_path(path, sizeof(path), f->dir, "m", 0, 20, "log");
	assert_int_equal(th_file_size(path), -ENOENT);   /* the segment after the cut is gone */
	rec_msg(m, 10);
	th_append(p, m);
	assert_int_equal(th_close(s, p), 0);
	f->o.repair = 0;
	assert_int_equal(th_reopen_part(f->dir, &f->o, "m", 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.end_seq, 11);
	assert_int_equal(th_read_at(p, 500, m, 50), 0);
	assert_memory_equal(m, "r10 ", 4);
	assert_int_equal(th_close(s, p), 0);
}

/* A flipped byte after open: reading that span gives -EIO, others work. */
static void test_read_flip_eio(void **state)
{
	struct fx *f = *state;
	shlog_store *s;
	shlog_part *p;
	char buf[600];

	assert_int_equal(th_reopen_part(f->dir, &f->o, "r", 0, &s, &p), 0);
	assert_int_equal(th_file_flip(f->log, 1234), 0);
	assert_int_equal(shlog_part_read(p, 1000, buf, 500), -EIO);
	assert_int_equal(shlog_part_read(p, 1400, buf, 10), -EIO);
	assert_int_equal(th_read_at(p, 0, buf, 500), 0);
	assert_int_equal(th_read_at(p, 1500, buf, 500), 0);
	assert_int_equal(th_file_flip(f->log, 1234), 0);
	assert_int_equal(th_read_at(p, 1000, buf, 500), 0);
	assert_int_equal(th_close(s, p), 0);
}

/* A span read once, then corrupted: the next read still checks it. */
static void test_read_flip_after_read(void **state)
{
	struct fx *f = *state;
	shlog_store *s;
	shlog_part *p;
	char buf[600];

	assert_int_equal(th_reopen_part(f->dir, &f->o, "r", 0, &s, &p), 0);
	assert_int_equal(th_read_at(p, 500, buf, 500), 0);
	assert_int_equal(th_file_flip(f->log, 777), 0);
	assert_int_equal(shlog_part_read(p, 500, buf, 500), -EIO);
	assert_int_equal(th_close(s, p), 0);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_format_example),
		TH_TEST(test_clean_reopen),
		TH_TEST(test_torn_anchor_garbage),
		TH_TEST(test_torn_anchor_half),
		TH_TEST(test_anchor_lost),
		TH_TEST(test_stale_anchor_roll_forward),
		TH_TEST(test_truncated_log_tail),
		TH_TEST(test_truncated_log_boundary),
		TH_TEST(test_zero_log_tail),
		TH_TEST(test_garbage_log_tail),
		TH_TEST(test_zero_idx_tail),
		TH_TEST(test_torn_idx_tail),
		TH_TEST(test_bad_last_idx_entry),
		TH_TEST(test_discontinuous_idx_entry),
		TH_TEST(test_midlog_flip_no_repair),
		TH_TEST(test_midlog_flip_repair),
		TH_TEST(test_repair_segments),
		TH_TEST(test_read_flip_eio),
		TH_TEST(test_read_flip_after_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
