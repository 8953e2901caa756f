/*
 * test_segments.c — segment rolling, the sparse index, seek by sequence
 * number and by time, and retention (wrap and halt).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "const_i.h"

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 100)

/* Message number i: "m<i>" padded with dots to about 100 bytes. */
static size_t seg_msg(char *buf, unsigned i)
{
	int n = snprintf(buf, 128, "m%u ", i);

	memset(buf + n, '.', (size_t)(99 - n));
	buf[99] = '\0';
	return 99;
}

/* Quiet options with 10-message segments (of 100-byte lines), at most two kept by @p retention, flushed only when told. */
static void small_seg_opts(struct shlog_options *o, enum shlog_retention retention)
{
	th_opts(o);
	o->segment_bytes = 1000;
	o->max_segments = 2;
	o->retention = retention;
	o->flush_interval_ms = 10000;
}

/* Append messages [from, to) in blocks of @p block, flushing each. */
static void seg_fill(shlog_part *p, unsigned from, unsigned to, unsigned block)
{
	char m[128];

	for (unsigned i = from; i < to; i++) {
		size_t l = seg_msg(m, i);
		assert_int_equal(shlog_part_append(p, m, l, 0, NULL), 0);
		if ((i + 1 - from) % block == 0)
			assert_int_equal(shlog_part_flush(p), 0);
	}
	assert_int_equal(shlog_part_flush(p), 0);
}

/* The line at @p off must be message number @p i. */
static void check_msg_at(shlog_part *p, uint64_t off, unsigned i)
{
	char want[128], got[128];
	size_t l = seg_msg(want, i);

	assert_int_equal(th_read_at(p, off, got, l + 1), 0);
	assert_memory_equal(got, want, l);
	assert_int_equal(got[l], '\n');
}

/* Index entries are contiguous and their CRCs match the bytes read. */
static void check_index(shlog_part *p, const struct th_index *ix)
{
	struct shlog_part_info in;
	char *buf;

	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_true(ix->n > 0);
	assert_int_equal(ix->e[0].seq, in.start_seq);
	assert_int_equal(ix->e[0].off, in.start_off);
	for (size_t i = 0; i < ix->n; i++) {
		const struct shlog_index_entry *e = &ix->e[i];
		assert_true(e->count >= 1 && e->len >= e->count);
		if (e->count != 1)     /* only a single message may be longer than a span */
			assert_in_range(e->len, 0, SHLOG_SPAN_MAX_BYTES);
		if (i > 0) {
			assert_int_equal(e->seq, ix->e[i - 1].seq + ix->e[i - 1].count);
			assert_int_equal(e->off, ix->e[i - 1].off + ix->e[i - 1].len);
			assert_true(e->time_ns >= ix->e[i - 1].time_ns);
		}
		buf = malloc(e->len);
		assert_non_null(buf);
		assert_int_equal(th_read_at(p, e->off, buf, e->len), 0);
		assert_int_equal(th_crc32c(buf, e->len), e->crc);
		assert_int_equal(th_count_lines(buf, e->len), e->count);
		assert_int_equal(buf[e->len - 1], '\n');
		free(buf);
	}
	assert_int_equal(ix->e[ix->n - 1].seq + ix->e[ix->n - 1].count,
			 in.committed_seq);
	assert_int_equal(ix->e[ix->n - 1].off + ix->e[ix->n - 1].len,
			 in.committed_off);
}

/* ==== the sparse index ================================================= */

/* Append messages [seq, seq+n) as one forced block. */
static void index_block(shlog_part *p, uint64_t seq, unsigned n)
{
	char m[128];

	for (unsigned i = 0; i < n; i++) {
		size_t l = seg_msg(m, (unsigned)(seq + i));
		assert_int_equal(shlog_part_append(p, m, l, 0, NULL), 0);
	}
	assert_int_equal(shlog_part_flush(p), 0);
}

/* Entries at every block start and stride multiple, nowhere else. */
static void test_index_spans(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct th_index ix;
	shlog_store *s;
	shlog_part *p;
	/* all below the stride, so no volume flush cuts them */
	static const unsigned blocks[] = { 37, 80, 99, 1, 50, 99, 64 };
	uint64_t starts[64], nstarts = 0, seq = 0, off;

	th_opts(&o);
	o.stride = 100;
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		for (unsigned i = 0; i < blocks[b]; i++)
			if (i == 0 || (seq + i) % 100 == 0)
				starts[nstarts++] = seq + i;
		index_block(p, seq, blocks[b]);
		seq += blocks[b];
	}
	for (int round = 0; round < 2; round++) {
		assert_int_equal(th_index_get(p, &ix), 0);
		check_index(p, &ix);
		assert_int_equal(ix.n, nstarts);
		for (size_t i = 0; i < ix.n; i++)
			assert_int_equal(ix.e[i].seq, starts[i]);
		free(ix.e);
		/* seek_seq to every 7th message lands on it */
		for (uint64_t k = 0; k < seq; k += 7) {
			assert_int_equal(shlog_part_seek_seq(p, k, &off), 0);
			assert_int_equal(off, k * 100);
			check_msg_at(p, off, (unsigned)k);
		}
		assert_int_equal(shlog_part_seek_seq(p, seq, &off), 0);
		assert_int_equal(off, seq * 100);
		assert_int_equal(shlog_part_seek_seq(p, seq + 1, &off), -ERANGE);
		th_close(s, p);
		assert_int_equal(th_reopen_part(f->dir, &o, "s", 0, &s, &p), 0);
	}
	th_close(s, p);
}

/* Big blocks (volume flushes too): every stride multiple starts a span. */
static void test_index_stride(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct th_index ix;
	shlog_store *s;
	shlog_part *p;
	static const unsigned blocks[] = { 250, 263, 1, 517 };
	uint64_t seq = 0, off;

	th_opts(&o);
	o.stride = 100;
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		index_block(p, seq, blocks[b]);
		seq += blocks[b];
	}
	assert_int_equal(th_index_get(p, &ix), 0);
	check_index(p, &ix);
	for (size_t i = 0, m = 0; i < ix.n; i++) {
		/* no stride multiple inside a span, every one at a start */
		uint64_t a = ix.e[i].seq, z = a + ix.e[i].count;
		assert_true(ix.e[i].count <= 100);
		assert_int_equal(a / 100, (z - 1) / 100);
		if (a % 100 == 0)
			assert_int_equal(a, m++ * 100);
	}
	assert_int_equal(seq, 1031);
	for (uint64_t k = 0; k < seq; k += 13) {
		assert_int_equal(shlog_part_seek_seq(p, k, &off), 0);
		check_msg_at(p, off, (unsigned)k);
	}
	free(ix.e);
	th_close(s, p);
}

/* Spans are cut before they pass 1 MiB; a bigger message is alone. */
static void test_index_big_spans(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct th_index ix;
	shlog_store *s;
	shlog_part *p;
	size_t big = 700 * 1024, huge = 1536 * 1024;
	char *m = malloc(huge);

	assert_non_null(m);
	memset(m, 'h', huge);
	th_opts(&o);
	o.max_message = 2u << 20;
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	th_append(p, "small");
	for (int i = 0; i < 3; i++)
		assert_int_equal(shlog_part_append(p, m, big, 0, NULL), 0);
	assert_int_equal(shlog_part_append(p, m, huge, 0, NULL), 0);
	th_append(p, "tail");
	assert_int_equal(shlog_part_flush(p), 0);
	assert_int_equal(th_index_get(p, &ix), 0);
	check_index(p, &ix);
	/* [small,big] [big] [big] [huge] [tail] */
	assert_int_equal(ix.n, 5);
	assert_int_equal(ix.e[3].count, 1);
	assert_int_equal(ix.e[3].len, huge + 1);
	free(ix.e);
	free(m);
	th_close(s, p);
}

/* seek_time finds the first message of a block at or after a time. */
static void test_seek_time(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct th_index ix;
	shlog_store *s;
	shlog_part *p;
	uint64_t seq, off;

	th_opts(&o);
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	for (unsigned b = 0; b < 5; b++) {
		seg_fill(p, b * 10, b * 10 + 10, 10);
		th_sleep_ms(5);
	}
	assert_int_equal(th_index_get(p, &ix), 0);
	assert_int_equal(ix.n, 5);
	for (size_t i = 0; i < ix.n; i++) {
		assert_int_equal(shlog_part_seek_time(p, ix.e[i].time_ns, &seq,
						      &off), 0);
		assert_int_equal(seq, ix.e[i].seq);
		assert_int_equal(off, ix.e[i].off);
		assert_int_equal(shlog_part_seek_time(p, ix.e[i].time_ns - 1,
						      &seq, &off), 0);
		assert_int_equal(seq, (i ? ix.e[i - 1].seq + ix.e[i - 1].count : 0));
		check_msg_at(p, off, (unsigned)seq);
	}
	assert_int_equal(shlog_part_seek_time(p, 0, &seq, &off), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(off, 0);
	assert_int_equal(shlog_part_seek_time(p, ix.e[4].time_ns + 1, &seq,
					      &off), 0);
	assert_int_equal(seq, 50);
	assert_int_equal(off, 5000);
	/* buffered messages count as now */
	th_append(p, "buffered");
	assert_int_equal(shlog_part_seek_time(p, ix.e[4].time_ns + 1, &seq,
					      &off), 0);
	assert_int_equal(seq, 50);
	assert_int_equal(off, 5000);
	assert_int_equal(shlog_part_seek_time(p, INT64_MAX, &seq, &off), 0);
	assert_int_equal(seq, 51);
	assert_int_equal(off, 5009);
	free(ix.e);
	th_close(s, p);
}

/* ==== segments ========================================================== */

/* Small segments: several files, named by first seq, continuous data. */
static void test_roll(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	struct th_index ix;
	shlog_store *s;
	shlog_part *p;
	char path[512];
	uint64_t off;
	int nseg;

	th_opts(&o);
	o.segment_bytes = 1000; /* 10 messages of 100 bytes */
	o.flush_interval_ms = 10000;
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	seg_fill(p, 0, 95, 3);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(shlog_part_info(p, &in), 0);
		assert_true(in.nsegments >= 9);
		nseg = th_count_segments(f->dir, "s", 0);
		assert_int_equal(nseg, (int)in.nsegments);
		assert_int_equal(th_index_get(p, &ix), 0);
		check_index(p, &ix);
		/* each segment file starts at an entry and is within the limit */
		int seen = 0;
		for (size_t i = 0; i < ix.n; i++) {
			th_seg_path(path, sizeof(path), f->dir, "s", 0,
				    ix.e[i].seq, "log");
			int64_t sz = th_file_size(path);
			if (sz < 0)
				continue;
			seen++;
			assert_true(sz <= 1000);
			th_seg_path(path, sizeof(path), f->dir, "s", 0,
				    ix.e[i].seq, "idx");
			assert_true(th_file_size(path) >= 40);
		}
		assert_int_equal(seen, nseg);
		free(ix.e);
		for (unsigned k = 0; k < 95; k++) {
			assert_int_equal(shlog_part_seek_seq(p, k, &off), 0);
			assert_int_equal(off, (uint64_t)k * 100);
			check_msg_at(p, off, k);
		}
		th_close(s, p);
		assert_int_equal(th_reopen_part(f->dir, &o, "s", 0, &s, &p), 0);
	}
	seg_fill(p, 95, 120, 4);
	for (unsigned k = 0; k < 120; k++)
		check_msg_at(p, (uint64_t)k * 100, k);
	th_close(s, p);
}

/* Wrap: only max_segments remain; older data gives -ENODATA. */
static void test_wrap(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	uint64_t off;
	char buf[16];

	small_seg_opts(&o, SHLOG_RETAIN_WRAP);
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	seg_fill(p, 0, 100, 5);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(shlog_part_info(p, &in), 0);
		assert_true(in.nsegments <= 2);
		assert_int_equal(th_count_segments(f->dir, "s", 0),
				 (int)in.nsegments);
		assert_true(in.start_seq >= 80 && in.start_seq < 100);
		assert_int_equal(in.start_off, in.start_seq * 100);
		assert_int_equal(in.end_seq, 100);
		assert_int_equal(in.end_off, 10000);
		assert_int_equal(shlog_part_read(p, 0, buf, 1), -ENODATA);
		assert_int_equal(shlog_part_read(p, in.start_off - 1, buf, 1),
				 -ENODATA);
		assert_int_equal(shlog_part_seek_seq(p, 0, &off), -ENODATA);
		assert_int_equal(shlog_part_seek_seq(p, in.start_seq - 1, &off),
				 -ENODATA);
		for (uint64_t k = in.start_seq; k < 100; k++) {
			assert_int_equal(shlog_part_seek_seq(p, k, &off), 0);
			check_msg_at(p, off, (unsigned)k);
		}
		th_close(s, p);
		assert_int_equal(th_reopen_part(f->dir, &o, "s", 0, &s, &p), 0);
	}
	th_close(s, p);
}

/* Path of segment @base's file @ext in partition 0 of topic "s". */
static void seg_path(const struct fx *f, uint64_t base, const char *ext, char *path, size_t cap)
{
	snprintf(path, cap, "%s/s/0/%020" PRIu64 ".%s", f->dir, base, ext);
}

/*
 * Retention deletes the oldest segment's .log, then its .idx: a crash
 * between the two leaves an .idx below the first .log, which the next
 * writable open removes (a read-only open leaves it), keeping the log.
 */
static void test_wrap_orphan_idx(void **state)
{
	struct fx *f = *state;
	struct shlog_options o, ro;
	struct shlog_part_info in, in2;
	char path[512];
	shlog_store *s;
	shlog_part *p;
	FILE *fp;

	small_seg_opts(&o, SHLOG_RETAIN_WRAP);
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	seg_fill(p, 0, 100, 5);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_in_range(in.start_seq, 10, 99);       /* retention deleted segments */
	th_close(s, p);
	/* what the interrupted delete of the segment before the first left */
	seg_path(f, in.start_seq - 5, "idx", path, sizeof(path));
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite("0123456789abcdef0123456789abcdef", 1, 32, fp), 32);
	assert_int_equal(fclose(fp), 0);
	ro = o;
	ro.read_only = 1;
	assert_int_equal(th_reopen_part(f->dir, &ro, "s", 0, &s, &p), 0);
	th_close(s, p);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(th_reopen_part(f->dir, &o, "s", 0, &s, &p), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(shlog_part_info(p, &in2), 0);
	assert_int_equal(in2.start_seq, in.start_seq);
	assert_int_equal(in2.end_seq, 100);
	assert_int_equal(in2.recovered_bytes_dropped, 0);
	for (uint64_t k = in2.start_seq; k < 100; k++) {
		uint64_t off;
		assert_int_equal(shlog_part_seek_seq(p, k, &off), 0);
		check_msg_at(p, off, (unsigned)k);
	}
	th_close(s, p);
}

/* Wrap forgets keys whose latest message was deleted. */
static void test_wrap_keys(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	struct shlog_keyref r;
	shlog_store *s;
	shlog_part *p;
	int rc;

	small_seg_opts(&o, SHLOG_RETAIN_WRAP);
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	th_append(p, "old\tvalue");
	th_append(p, "kept\tfirst");
	assert_int_equal(shlog_part_flush(p), 0);
	seg_fill(p, 0, 60, 5);
	th_append(p, "kept\tsecond");
	assert_int_equal(shlog_part_flush(p), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(shlog_part_info(p, &in), 0);
		assert_true(in.start_seq > 2);
		rc = shlog_key_lookup(p, "old", 3, &r);
		if (rc != -ENOENT) {   /* deleted with its segment, or still inside the log */
			assert_int_equal(rc, 0);
			assert_true(r.off >= in.start_off);
		}
		assert_int_equal(shlog_key_lookup(p, "kept", 4, &r), 0);
		assert_int_equal(r.seq, 62);
		th_close(s, p);
		assert_int_equal(th_reopen_part(f->dir, &o, "s", 0, &s, &p), 0);
	}
	th_close(s, p);
}

/* Halt: appends refused with -ENOSPC once max_segments are full. */
static void test_halt(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char m[128];
	unsigned i, acked = 0;
	int rc = 0;

	small_seg_opts(&o, SHLOG_RETAIN_HALT);
	th_open_part(f->dir, &o, "s", 1, &s, &p);
	for (i = 0; i < 100; i++) {
		size_t l = seg_msg(m, i);
		rc = shlog_part_append(p, m, l, 0, NULL);
		if (rc == 0)
			rc = shlog_part_flush(p);
		if (rc != 0)
			break;
		acked = i + 1;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_true(acked >= 10 && acked <= 20);
	seg_msg(m, 999);
	assert_int_equal(shlog_part_append(p, m, 99, 0, NULL), -ENOSPC);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_true(in.committed_seq >= acked);
	assert_int_equal(in.start_seq, 0);
	for (unsigned k = 0; k < acked; k++)
		check_msg_at(p, (uint64_t)k * 100, k);
	th_close(s, p);
	assert_int_equal(th_reopen_part(f->dir, &o, "s", 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.start_seq, 0);
	assert_true(in.committed_seq >= acked);
	for (unsigned k = 0; k < acked; k++)
		check_msg_at(p, (uint64_t)k * 100, k);
	assert_int_equal(shlog_part_append(p, m, 99, 0, NULL), -ENOSPC);
	th_close(s, p);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_index_spans),
		TH_TEST(test_index_stride),
		TH_TEST(test_index_big_spans),
		TH_TEST(test_seek_time),
		TH_TEST(test_roll),
		TH_TEST(test_wrap),
		TH_TEST(test_wrap_keys),
		TH_TEST(test_wrap_orphan_idx),
		TH_TEST(test_halt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
