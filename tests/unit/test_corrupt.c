/*
 * test_corrupt.c — trial 5 of docs/RELIABILITY.md: corrupt files at open.
 *
 * A clean workload (keys, tombstones, three segments kept by wrap
 * retention, so a key snapshot exists) leaves a data directory; copies of
 * it are saved part way.  Then every on-disk file of the partition
 * (anchor, key snapshot, each segment's .idx and .log) is damaged, one
 * way at a time, in a fresh copy:
 *   - truncated at every byte of its last two index entries / spans
 *     (every byte of the anchor and the key snapshot), and to zero;
 *   - zero-filled: each entry, span, anchor slot and key record, and
 *     random ranges;
 *   - random bytes flipped (seeded);
 *   - replaced by its older copy from part way through, or deleted.
 * Each damaged directory is opened twice, in two copies:
 *   - repair off: the open succeeds and everything served is right
 *     (every byte at its offset, every key; a damaged span may be
 *     refused with -EIO, never served), or the open fails with -EUCLEAN;
 *   - repair on: the open succeeds and serves a valid prefix, all of it
 *     readable.
 * No crash, no hang (the watchdog), no sanitizer report.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "oplog.h"
#include "trial.h"

/* One test's directory. */
struct fx {
	char dir[256];
};

TH_FX(struct fx, TH_TRIAL_SEC)

/* ==== the clean store ==================================================== */

#define CR_OLD 3        /* copies saved part way */
#define CR_MAXF 16      /* files of the partition we damage */

/* Kinds of files. */
enum cr_kind { CR_ANCHOR, CR_KEYS, CR_IDX, CR_LOG, CR_NKINDS };
static const char *const kind_names[CR_NKINDS] = { "anchor", "keys", "idx", "log" };

/* One file of the clean partition. */
struct cr_file {
	char name[64];
	enum cr_kind kind;
	char *data;
	size_t size;
	/* for a .log: span boundaries (file offsets) from its .idx */
	uint64_t *span;
	size_t nspan;
};

/* The clean store and its files. */
struct cr_store {
	char clean[600], old[CR_OLD][600];
	struct cr_file f[CR_MAXF];
	size_t nf;
	struct tr_stream st;
	struct shlog_options o;
};

/* Store options of the workload. */
static void cr_opts(struct shlog_options *o)
{
	tr_opts(o);
	o->stride = 9;      /* > messages per round: blocks end only at syncs (deterministic) */
	o->segment_bytes = 420;
	o->retention = SHLOG_RETAIN_WRAP;
	o->max_segments = 3;
}

/* Write the clean store, saving copies after rounds 3, 6 and 9. */
static void cr_write(const char *base, struct cr_store *cs)
{
	const unsigned rounds = 13, per_round = 8;
	shlog_store *s;
	shlog_part *p;
	char m[512];
	uint64_t n = 0;

	cs->st.nkeys = 6;
	cs->st.pad = 6;
	tr_stream_init(&cs->st, rounds * per_round);
	cr_opts(&cs->o);
	snprintf(cs->clean, sizeof(cs->clean), "%s/clean", base);
	th_open_part(cs->clean, &cs->o, TR_TOPIC, 1, &s, &p);
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < per_round; i++, n++) {
			size_t l = tr_msg(&cs->st, n, m, sizeof(m));
			assert_int_equal(shlog_part_append(p, m, l, 0, NULL), 0);
		}
		assert_int_equal(shlog_part_sync(p), 0);
		if (r % 3 == 2 && r / 3 < CR_OLD) {
			snprintf(cs->old[r / 3], sizeof(cs->old[0]), "%s/old%u", base, r / 3);
			assert_int_equal(th_tree_copy(cs->clean, cs->old[r / 3]), 0);
		}
	}
	assert_int_equal(th_close(s, p), 0);
}

/* Read the partition's files and the span boundaries of each log. */
static void cr_load(struct cr_store *cs)
{
	static const char *const names[] = { "anchor", "keys" };
	char path[800], dir[700];
	int nseg = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cs->clean, TR_PART_DIR);
	for (int i = 0; i < 2; i++) {
		struct cr_file *f = &cs->f[cs->nf++];
		snprintf(f->name, sizeof(f->name), "%s", names[i]);
		f->kind = i ? CR_KEYS : CR_ANCHOR;
	}
	for (uint64_t seq = 0; seq < cs->st.n && cs->nf + 2 <= CR_MAXF; seq++) {
		snprintf(path, sizeof(path), "%s/%020llu.log", dir, (unsigned long long)seq);
		if (access(path, F_OK) != 0)
			continue;
		for (int e = 0; e < 2; e++) {
			struct cr_file *f = &cs->f[cs->nf++];
			snprintf(f->name, sizeof(f->name), "%020llu.%s", (unsigned long long)seq,
				 e ? "log" : "idx");
			f->kind = e ? CR_LOG : CR_IDX;
		}
		nseg++;
	}
	assert_int_equal(nseg, 3);
	for (size_t i = 0; i < cs->nf; i++) {
		struct cr_file *f = &cs->f[i];
		snprintf(path, sizeof(path), "%s/%s", dir, f->name);
		assert_int_equal(th_file_read(path, &f->data, &f->size), 0);
		assert_true(f->size > 0);
	}
	for (size_t i = 0; i < cs->nf; i++) {
		struct cr_file *f = &cs->f[i], *ix = f - 1;
		uint64_t base;
		if (f->kind != CR_LOG)
			continue;
		f->nspan = ix->size / 40;
		f->span = calloc(f->nspan + 1, sizeof(*f->span));
		assert_non_null(f->span);
		base = th_le64(ix->data + 8);
		for (size_t k = 0; k < f->nspan; k++)
			f->span[k] = th_le64(ix->data + k * 40 + 8) - base;
		f->span[f->nspan] = f->size;
		assert_true(f->nspan >= 2);
	}
}

/* Free the files. */
static void cr_free(struct cr_store *cs)
{
	for (size_t i = 0; i < cs->nf; i++) {
		free(cs->f[i].data);
		free(cs->f[i].span);
	}
	tr_stream_free(&cs->st);
}

/* ==== damage ============================================================= */

/* One way of damaging one file. */
enum cr_how { CR_TRUNC, CR_ZERO, CR_FLIP, CR_OLDER, CR_DELETE, CR_NHOW };
static const char *const how_names[CR_NHOW] = { "truncate", "zero-fill", "flip", "older", "delete" };

struct cr_case {
	size_t file;
	enum cr_how how;
	uint64_t a, b;    /* TRUNC: size; ZERO: [a, b); FLIP: seed, count; OLDER: copy */
};

/* Totals per kind of damage. */
struct cr_fig {
	unsigned cases[CR_NHOW], opened[CR_NHOW], refused[CR_NHOW], repaired[CR_NHOW];
	unsigned failed;
	uint64_t eio_spans, bytes_checked;
	struct tr_sigs sigs;
	unsigned by_file[6], failed_by_file[6];   /* see cr_class() */
};

static const char *const class_names[6] = { "anchor", "keys", "idx (tail segment)",
					    "log (tail segment)", "idx (older segments)",
					    "log (older segments)" };

/* Class of a file for the figures: anchor, keys, tail idx/log, older idx/log. */
static int cr_class(const struct cr_store *cs, size_t file)
{
	const struct cr_file *f = &cs->f[file];

	if (f->kind < CR_IDX)
		return f->kind;
	return (file + 2 >= cs->nf ? 2 : 4) + (f->kind == CR_LOG);
}

/* Apply a case to the copy of the store at @dir. */
static int cr_apply(const struct cr_store *cs, const struct cr_case *c, const char *dir)
{
	const struct cr_file *f = &cs->f[c->file];
	char path[800], src[800];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, TR_PART_DIR, f->name);
	switch (c->how) {
	case CR_TRUNC:
		return th_file_truncate(path, c->a);
	case CR_ZERO: {
		char *z = calloc(1, (size_t)(c->b - c->a) + 1);
		int rc = z ? th_file_patch(path, c->a, z, (size_t)(c->b - c->a)) : -ENOMEM;
		free(z);
		return rc;
	}
	case CR_FLIP: {
		uint64_t rs = c->a;
		for (uint64_t k = 0; k < c->b; k++) {
			uint64_t off = ol_rand(&rs) % f->size;
			unsigned char v = (unsigned char)f->data[off] ^ (unsigned char)(1 + ol_rand(&rs) % 255);
			int rc = th_file_patch(path, off, &v, 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	case CR_OLDER: {
		char *buf;
		size_t len;
		FILE *o;
		int rc = 0;
		unlink(path);
		snprintf(src, sizeof(src), "%s/%s/%s", cs->old[c->a], TR_PART_DIR, f->name);
		if (th_file_read(src, &buf, &len) < 0)
			return 0;   /* it did not exist then: now it does not either */
		o = fopen(path, "w");
		if (!o || fwrite(buf, 1, len, o) != len)
			rc = -EIO;
		if (o && fclose(o) != 0)
			rc = -EIO;
		free(buf);
		return rc;
	}
	case CR_DELETE:
		return unlink(path) < 0 ? -errno : 0;
	default:
		return -EINVAL;
	}
}

/* Describe a case for messages: "how kind (which segment): file a b". */
static void cr_name(const struct cr_store *cs, const struct cr_case *c, char *out, size_t size)
{
	const struct cr_file *f = &cs->f[c->file];
	const char *where = f->kind < CR_IDX ? "" :
			    c->file + 2 >= cs->nf ? " (tail segment)" : " (older segment)";

	snprintf(out, size, "%s %s%s: %s %llu %llu", how_names[c->how], kind_names[f->kind], where,
		 f->name, (unsigned long long)c->a, (unsigned long long)c->b);
}

/* Damage two copies; open one without and one with repair; judge. */
static void cr_run(const char *base, const struct cr_store *cs, const struct cr_case *c,
		   struct cr_fig *fig)
{
	char d1[700], d2[700], what[200], why[900] = "";
	struct shlog_options o = cs->o;
	struct tr_result r;

	snprintf(d1, sizeof(d1), "%s/case", base);
	snprintf(d2, sizeof(d2), "%s/case-repair", base);
	assert_int_equal(th_tree_copy(cs->clean, d1), 0);
	assert_int_equal(cr_apply(cs, c, d1), 0);
	assert_int_equal(th_tree_copy(d1, d2), 0);
	cr_name(cs, c, what, sizeof(what));
	fig->cases[c->how]++;
	fig->by_file[cr_class(cs, c->file)]++;

	/* repair off: valid, or refused with EUCLEAN */
	if (tr_check(d1, &o, &cs->st, TR_ALLOW_EIO | TR_REUSE, &r) < 0)
		snprintf(why, sizeof(why), "repair off: %s", r.err);
	else if (r.open_rc == -EUCLEAN)
		fig->refused[c->how]++;
	else if (r.open_rc != 0)
		snprintf(why, sizeof(why), "repair off: open gives %d (%s), not 0 or -EUCLEAN [engine: %s]",
			 r.open_rc, shlog_strerror(r.open_rc), tr_last_log());
	else if (!r.topic)
		snprintf(why, sizeof(why), "repair off: the topic vanished");
	else
		fig->opened[c->how]++;
	fig->eio_spans += r.eio_spans;
	fig->bytes_checked += r.bytes_read;

	if (why[0]) {
		tr_sig_note(&fig->sigs, what, why);
		fig->failed++;
		fig->failed_by_file[cr_class(cs, c->file)]++;
		why[0] = '\0';
	}

	/* repair on: always opens, a valid prefix, all readable */
	o.repair = 1;
	if (tr_check(d2, &o, &cs->st, TR_REUSE, &r) < 0)
		snprintf(why, sizeof(why), "repair on: %s", r.err);
	else if (r.open_rc != 0)
		snprintf(why, sizeof(why), "repair on: open gives %d (%s) [engine: %s]", r.open_rc,
			 shlog_strerror(r.open_rc), tr_last_log());
	else if (!r.topic)
		snprintf(why, sizeof(why), "repair on: the topic vanished");
	else
		fig->repaired[c->how]++;
	fig->bytes_checked += r.bytes_read;
	if (why[0]) {
		tr_sig_note(&fig->sigs, what, why);
		fig->failed++;
		fig->failed_by_file[cr_class(cs, c->file)]++;
	}
	th_rmrf(d1);
	th_rmrf(d2);
}

/* ==== the cases ========================================================== */

/* Truncations: every byte of the tail (every @step-th for the anchor in short mode). */
static void cr_truncations(const char *base, const struct cr_store *cs, size_t i,
			   unsigned step, struct cr_fig *fig)
{
	const struct cr_file *f = &cs->f[i];
	uint64_t from = 0;

	if (f->kind == CR_IDX)
		from = f->size >= 80 ? f->size - 80 : 0;
	else if (f->kind == CR_LOG)
		from = f->span[f->nspan - 2];
	for (uint64_t len = from; len < f->size; len++) {
		struct cr_case c = { i, CR_TRUNC, len, 0 };
		if (f->kind == CR_ANCHOR && step > 1 && len % step != 0 &&
		    len % 512 != 511 && len % 512 != 1)
			continue;
		cr_run(base, cs, &c, fig);
	}
	if (from > 0) {
		struct cr_case c = { i, CR_TRUNC, 0, 0 };
		cr_run(base, cs, &c, fig);
	}
}

/* Zero-fills: each structural unit of the file, then random ranges. */
static void cr_zeroes(const char *base, const struct cr_store *cs, size_t i, unsigned nrand,
		      struct cr_fig *fig)
{
	const struct cr_file *f = &cs->f[i];
	uint64_t rs = 0x5eed0000u + i;

	if (f->kind == CR_ANCHOR) {
		for (uint64_t a = 0; a < f->size; a += 64) {
			struct cr_case c = { i, CR_ZERO, a, a + 64 };
			cr_run(base, cs, &c, fig);
		}
		for (uint64_t a = 0; a < f->size; a += 512) {
			struct cr_case c = { i, CR_ZERO, a, a + 512 };
			cr_run(base, cs, &c, fig);
		}
	} else if (f->kind == CR_IDX || f->kind == CR_KEYS) {
		uint64_t unit = f->kind == CR_IDX ? 40 : 20;
		for (uint64_t a = 0; a < f->size; a += unit) {
			struct cr_case c = { i, CR_ZERO, a, a + unit < f->size ? a + unit : f->size };
			cr_run(base, cs, &c, fig);
		}
	} else {
		for (size_t k = 0; k < f->nspan; k++) {
			struct cr_case c = { i, CR_ZERO, f->span[k], f->span[k + 1] };
			cr_run(base, cs, &c, fig);
		}
	}
	for (unsigned k = 0; k < nrand; k++) {
		uint64_t a = ol_rand(&rs) % f->size, len = 1 + ol_rand(&rs) % 64;
		struct cr_case c = { i, CR_ZERO, a, a + len < f->size ? a + len : f->size };
		cr_run(base, cs, &c, fig);
	}
}

/*
 * The trial must have tried enough, and its damage must have reached the
 * engine: every file of the partition damaged (8 today), each class of
 * file in at least 50 cases (114 or more today), and at least 250 opens
 * each that served a valid log and that refused with -EUCLEAN (652 and
 * 552 today), 100 spans refused with -EIO (374) and 500,000 bytes checked
 * (1.15 million).
 */
static void cr_floors(const struct cr_store *cs, const struct cr_fig *fig, unsigned opened,
		      unsigned refused)
{
	char what[64];

	tr_floor("corrupt", "files", cs->nf, 8);
	for (int k = 0; k < 6; k++) {
		snprintf(what, sizeof(what), "cases on %s", class_names[k]);
		tr_floor("corrupt", what, fig->by_file[k], 50);
	}
	tr_floor("corrupt", "opened_valid", opened, 250);
	tr_floor("corrupt", "refused_euclean", refused, 250);
	tr_floor("corrupt", "spans_refused_eio", fig->eio_spans, 100);
	tr_floor("corrupt", "bytes_checked", fig->bytes_checked, 500000);
}

/* Damage every file every way; print the figures. */
static void cr_trial(const char *base)
{
	const unsigned sc = th_trial_scale();
	struct cr_store cs = { 0 };
	struct cr_fig fig = { 0 };
	uint64_t t0 = th_now_ms();
	unsigned total = 0, opened = 0, refused = 0, repaired = 0;

	cr_write(base, &cs);
	cr_load(&cs);
	for (size_t i = 0; i < cs.nf; i++) {
		cr_truncations(base, &cs, i, sc > 1 ? 1 : 8, &fig);
		cr_zeroes(base, &cs, i, 4 * sc, &fig);
		for (unsigned k = 0; k < 24 * sc; k++) {
			struct cr_case c = { i, CR_FLIP, 1000003ull * (i + 1) + k, 1 + k % 3 };
			cr_run(base, &cs, &c, &fig);
		}
		for (unsigned k = 0; k < CR_OLD; k++) {
			struct cr_case c = { i, CR_OLDER, k, 0 };
			cr_run(base, &cs, &c, &fig);
		}
		struct cr_case del = { i, CR_DELETE, 0, 0 };
		cr_run(base, &cs, &del, &fig);
	}
	for (int h = 0; h < CR_NHOW; h++) {
		print_message("corrupt %-9s cases=%u opened_valid=%u refused_euclean=%u repaired_valid=%u\n",
			      how_names[h], fig.cases[h], fig.opened[h], fig.refused[h], fig.repaired[h]);
		total += fig.cases[h];
		opened += fig.opened[h];
		refused += fig.refused[h];
		repaired += fig.repaired[h];
	}
	for (int k = 0; k < 6; k++)
		print_message("corrupt file %-20s cases=%u failed_opens=%u\n", class_names[k],
			      fig.by_file[k], fig.failed_by_file[k]);
	print_message("FIGURE corrupt: files=%zu cases=%u opens=%u opened_valid=%u refused_euclean=%u "
		      "repaired_valid=%u spans_refused_eio=%llu bytes_checked=%llu failed=%u seconds=%.1f\n",
		      cs.nf, total, 2 * total, opened, refused, repaired,
		      (unsigned long long)fig.eio_spans, (unsigned long long)fig.bytes_checked,
		      fig.failed, (double)(th_now_ms() - t0) / 1000.0);
	tr_sig_print(&fig.sigs, "corrupt");
	assert_int_equal(fig.failed, 0);
	cr_floors(&cs, &fig, opened, refused);
	cr_free(&cs);
}

/* Every file of a partition damaged every way. */
static void test_corrupt_files(void **state)
{
	struct fx *f = *state;

	cr_trial(f->dir);
}


/* ==== forged values: the validator's rules, one forged file at a time ==== */
/*
 * Each test writes a small clean partition, forges one value in one file
 * with its checksums recomputed (so only the validator's range and
 * consistency rules can tell), then checks that verify reports it, that
 * open keeps exactly the valid messages before it, and that appends after
 * the open survive a reopen.
 */

#define FG_TOPIC "fg"
#define FG_PER 10                  /* messages per block (one span each) */

/* Message @n of the forged-value store: keyed by k0..k4. */
static size_t fg_msg(unsigned n, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "k%u\tvalue-%03u", n % 5, n);
}

static uint64_t fg_segment_bytes;  /* 0: one segment; else roll past this */

/* Store options: one span per block; one segment unless fg_segment_bytes. */
static void fg_opts(struct shlog_options *o)
{
	th_opts(o);
	o->stride = FG_PER;
	o->flush_threads = 1;
	if (fg_segment_bytes)
		o->segment_bytes = fg_segment_bytes;
}

/* Write @blocks blocks of FG_PER messages, each synced; close cleanly. */
static void fg_write(const char *dir, unsigned blocks)
{
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char m[64];

	fg_opts(&o);
	th_open_part(dir, &o, FG_TOPIC, 1, &s, &p);
	for (unsigned n = 0; n < blocks * FG_PER; n++) {
		size_t l = fg_msg(n, m, sizeof(m));
		assert_int_equal(shlog_part_append(p, m, l, 0, NULL), 0);
		if ((n + 1) % FG_PER == 0)
			assert_int_equal(shlog_part_sync(p), 0);
	}
	assert_int_equal(th_close(s, p), 0);
}

/* The entry fields a forge may change (offsets into an entry). */
enum { FG_SEQ = 0, FG_OFF = 8, FG_TIME = 16, FG_LEN = 24, FG_COUNT = 28, FG_CRC = 32 };

/* Set field @field (@n bytes) of index entry @k of segment @base; recompute its crc_entry. */
static void fg_entry_set_in(const char *dir, uint64_t base, size_t k, int field, uint64_t v, int n)
{
	char path[600];
	char *idx;
	size_t len;

	th_seg_path(path, sizeof(path), dir, FG_TOPIC, 0, base, "idx");
	assert_int_equal(th_file_read(path, &idx, &len), 0);
	assert_true((k + 1) * 40 <= len);
	th_put_le(idx + k * 40 + field, v, n);
	th_put_le(idx + k * 40 + 36, th_crc32c(idx + k * 40, 36), 4);
	assert_int_equal(th_file_patch(path, 0, idx, len), 0);
	free(idx);
}

/* fg_entry_set_in() for segment 0. */
static void fg_entry_set(const char *dir, size_t k, int field, uint64_t v, int n)
{
	fg_entry_set_in(dir, 0, k, field, v, n);
}

/* Field @field (@n bytes) of index entry @k of segment @base. */
static uint64_t fg_entry_get_in(const char *dir, uint64_t base, size_t k, int field, int n)
{
	char path[600];
	char *idx;
	size_t len;
	uint64_t v;

	th_seg_path(path, sizeof(path), dir, FG_TOPIC, 0, base, "idx");
	assert_int_equal(th_file_read(path, &idx, &len), 0);
	assert_true((k + 1) * 40 <= len);
	v = th_le64(idx + k * 40 + field);
	if (n < 8)
		v &= (1ull << (8 * n)) - 1;
	free(idx);
	return v;
}

/* fg_entry_get_in() for segment 0. */
static uint64_t fg_entry_get(const char *dir, size_t k, int field, int n)
{
	return fg_entry_get_in(dir, 0, k, field, n);
}

/* Collect verify's problems: how many, and whether one says @want. */
struct fg_found {
	const char *want;
	unsigned damage, warnings, matched;
};

/* shlog_part_verify() callback. */
static int fg_problem(const struct shlog_verify_problem *pr, void *arg)
{
	struct fg_found *f = arg;

	if (pr->damage)
		f->damage++;
	else
		f->warnings++;
	if (strstr(pr->what, f->want))
		f->matched++;
	return 0;
}

/* Verify must report a problem (damage, or a warning with @warning) saying @want. */
static void fg_verify(const char *dir, const char *want, int warning)
{
	struct fg_found f = { .want = want };
	struct shlog_verify_stats st;

	assert_int_equal(shlog_part_verify(dir, FG_TOPIC, 0, fg_problem, NULL, &f, &st), 0);
	if (!f.matched)
		print_error("verify did not report \"%s\" (%u damage, %u warnings)\n", want, f.damage, f.warnings);
	assert_true(f.matched >= 1);
	assert_true(warning ? f.warnings >= 1 : f.damage >= 1);
}

/* The partition holds exactly messages [0, @n) of the store, then @extra appended ones. */
static void fg_expect(shlog_part *p, unsigned n, unsigned extra)
{
	struct shlog_part_info in;
	char *buf, m[64];
	size_t len, at = 0;
	uint64_t start;

	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_true(in.start_off <= in.end_off);
	assert_int_equal(in.start_seq, 0);
	assert_int_equal(in.end_seq, n + extra);
	assert_int_equal(th_read_log(p, &buf, &len, &start), 0);
	assert_int_equal(start, 0);
	assert_int_equal(th_count_lines(buf, len), n + extra);
	for (unsigned i = 0; i < n + extra; i++) {
		size_t l = i < n ? fg_msg(i, m, sizeof(m)) : (size_t)snprintf(m, sizeof(m), "after-%u", i - n);
		assert_true(at + l + 1 <= len);
		assert_memory_equal(buf + at, m, l);
		assert_int_equal(buf[at + l], '\n');
		at += l + 1;
	}
	assert_int_equal(at, len);
	free(buf);
}

/* Open the forged store (@repair: with repair) and check it keeps [0, @keep) and 3 appends. */
static void fg_open_keeps_how(const char *dir, unsigned keep, int repair)
{
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char m[32];

	fg_opts(&o);
	o.repair = repair;
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	fg_expect(p, keep, 0);
	for (unsigned i = 0; i < 3; i++) {
		size_t l = (size_t)snprintf(m, sizeof(m), "after-%u", i);
		assert_int_equal(shlog_part_append(p, m, l, SHLOG_DURABLE, NULL), 0);
	}
	assert_int_equal(th_close(s, p), 0);
	o.repair = 0;
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	fg_expect(p, keep, 3);
	assert_int_equal(th_close(s, p), 0);
}

/* Open the forged store: it keeps messages [0, @keep); 3 durable appends survive a reopen. */
static void fg_open_keeps(const char *dir, unsigned keep)
{
	fg_open_keeps_how(dir, keep, 0);
}

/* Subdirectory @name of the test's directory. */
static void fg_dir(const struct fx *f, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->dir, name);
}

/*
 * The fuzzer's find: every offset of the index shifted to just below
 * 2^64 (CRCs recomputed), so the log's end wraps past zero.  Accepted
 * before (start_off > end_off, the log read as nothing and appends after
 * it were lost at the next open); now no entry is valid.
 */
static void test_forged_offset_wrap(void **state)
{
	const uint64_t shift = UINT64_MAX - 200;
	char dir[300];

	fg_dir(*state, "wrap", dir, sizeof(dir));
	fg_write(dir, 4);
	for (size_t k = 0; k < 4; k++)
		fg_entry_set(dir, k, FG_OFF, fg_entry_get(dir, k, FG_OFF, 8) + shift, 8);
	fg_verify(dir, "seq or offset out of range", 0);
	fg_open_keeps(dir, 0);
}

/* A span whose message count is not its newline count (CRCs recomputed). */
static void test_forged_count(void **state)
{
	char dir[300], path[600];
	uint64_t off, len;

	/* the last entry's count one short */
	fg_dir(*state, "count", dir, sizeof(dir));
	fg_write(dir, 4);
	fg_entry_set(dir, 3, FG_COUNT, FG_PER - 1, 4);
	fg_verify(dir, "newlines do not match", 0);
	fg_open_keeps(dir, 3 * FG_PER);

	/* a newline in the last span turned into a byte, crc_data recomputed */
	fg_dir(*state, "newline", dir, sizeof(dir));
	fg_write(dir, 4);
	off = fg_entry_get(dir, 3, FG_OFF, 8);
	len = fg_entry_get(dir, 3, FG_LEN, 4);
	th_seg_path(path, sizeof(path), dir, FG_TOPIC, 0, 0, "log");
	{
		char *log;
		size_t n;
		assert_int_equal(th_file_read(path, &log, &n), 0);
		char *nl = memchr(log + off, '\n', len);
		assert_non_null(nl);
		*nl = 'x';
		assert_int_equal(th_file_patch(path, 0, log, n), 0);
		fg_entry_set(dir, 3, FG_CRC, th_crc32c(log + off, len), 4);
		free(log);
	}
	fg_verify(dir, "newlines do not match", 0);
	fg_open_keeps(dir, 3 * FG_PER);
}

/* Times out of range: negative, and going back (CRCs recomputed). */
static void test_forged_time(void **state)
{
	char dir[300];

	fg_dir(*state, "negtime", dir, sizeof(dir));
	fg_write(dir, 4);
	fg_entry_set(dir, 3, FG_TIME, (uint64_t)-1, 8);
	fg_verify(dir, "negative time", 0);
	fg_open_keeps(dir, 3 * FG_PER);

	fg_dir(*state, "backtime", dir, sizeof(dir));
	fg_write(dir, 4);
	fg_entry_set(dir, 3, FG_TIME, fg_entry_get(dir, 2, FG_TIME, 8) - 1, 8);
	fg_verify(dir, "time goes back", 0);
	fg_open_keeps(dir, 3 * FG_PER);
}

/*
 * A span longer than a span may be: two messages of 600,000 bytes (two
 * spans: a span is cut before it passes 1 MiB) merged into one entry with
 * its CRCs recomputed.  Everything else about it holds.
 */
static void test_forged_span_len(void **state)
{
	const size_t big = 600000;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char dir[300], path[600], *m = malloc(big), *log;
	uint64_t off, len;
	size_t n;

	assert_non_null(m);
	fg_dir(*state, "spanlen", dir, sizeof(dir));
	fg_write(dir, 3);
	fg_opts(&o);
	o.max_message = (uint32_t)big;
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	memset(m, 'b', big);
	assert_int_equal(shlog_part_append(p, m, big, 0, NULL), 0);
	assert_int_equal(shlog_part_append(p, m, big, 0, NULL), 0);
	assert_int_equal(th_close(s, p), 0);
	/* entries 3 and 4 are the two big spans: make entry 3 cover both */
	assert_int_equal(fg_entry_get(dir, 4, FG_LEN, 4), big + 1);
	off = fg_entry_get(dir, 3, FG_OFF, 8);
	len = 2 * (big + 1);
	th_seg_path(path, sizeof(path), dir, FG_TOPIC, 0, 0, "log");
	assert_int_equal(th_file_read(path, &log, &n), 0);
	assert_int_equal(off + len, n);
	fg_entry_set(dir, 3, FG_LEN, len, 4);
	fg_entry_set(dir, 3, FG_COUNT, 2, 4);
	fg_entry_set(dir, 3, FG_CRC, th_crc32c(log + off, len), 4);
	free(log);
	th_seg_path(path, sizeof(path), dir, FG_TOPIC, 0, 0, "idx");
	assert_int_equal(th_file_truncate(path, 4 * 40), 0);
	fg_verify(dir, "len over the span limit", 0);
	fg_open_keeps(dir, 3 * FG_PER);
	free(m);
}

/* Find the anchor slot with the highest generation; its offset in the file. */
static size_t fg_anchor_slot(const unsigned char *a)
{
	return th_le64(a + 512 + 8) > th_le64(a + 8) ? 512 : 0;
}

/* Set field @field (8 bytes) of the newest anchor slot; recompute its CRC. */
static void fg_anchor_set(const char *dir, int field, uint64_t v)
{
	char path[600], *a;
	size_t len, slot;

	th_path(path, sizeof(path), dir, FG_TOPIC, 0, "anchor");
	assert_int_equal(th_file_read(path, &a, &len), 0);
	assert_int_equal(len, 1024);
	slot = fg_anchor_slot((unsigned char *)a);
	th_put_le(a + slot + field, v, 8);
	th_put_le(a + slot + 508, th_crc32c(a + slot, 508), 4);
	assert_int_equal(th_file_patch(path, 0, a, len), 0);
	free(a);
}

/*
 * An anchor ahead of every segment: it promises 1,000 messages more than
 * the log holds and names a tail segment that is not there (CRC
 * recomputed, every field consistent with the others).  Open keeps the
 * log; verify reports both.
 */
static void test_forged_anchor_ahead(void **state)
{
	char dir[300];

	fg_dir(*state, "ahead", dir, sizeof(dir));
	fg_write(dir, 4);
	fg_anchor_set(dir, 16, 4 * FG_PER + 1000);      /* committed_seq */
	fg_anchor_set(dir, 24, 100000);                 /* committed_off */
	fg_anchor_set(dir, 32, 500);                    /* seg_base_seq */
	fg_verify(dir, "segments missing", 0);
	fg_open_keeps(dir, 4 * FG_PER);
}

/* Every key's bookmark names its latest message among [0, n); "0" and "ghost" are no keys. */
static void fg_expect_keys(shlog_part *p, unsigned n)
{
	struct shlog_keyref ref;
	char key[8], m[64], got[64];

	for (unsigned k = 0; k < 5; k++) {
		unsigned last = (n - 1) / 5 * 5 + k;
		size_t l;
		if (last >= n)
			last -= 5;
		snprintf(key, sizeof(key), "k%u", k);
		assert_int_equal(shlog_key_lookup(p, key, 2, &ref), 0);
		l = fg_msg(last, m, sizeof(m));
		assert_int_equal(ref.seq, last);
		assert_int_equal(ref.len, l);
		assert_int_equal(th_read_at(p, ref.off, got, l), 0);
		assert_memory_equal(got, m, l);
	}
	assert_int_equal(shlog_key_lookup(p, "0", 1, &ref), -ENOENT);
	assert_int_equal(shlog_key_lookup(p, "ghost", 5, &ref), -ENOENT);
}

/*
 * A key snapshot whose CRCs hold but one record's message runs past the
 * snapshot's point (and past the log): a key that no message has.  Open
 * must ignore the snapshot and rebuild the keys from the log.
 */
static void test_forged_snapshot(void **state)
{
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	struct shlog_part_info in;
	char dir[300], path[600];
	unsigned char img[40 + 6 * 64 + 4];
	size_t pos = 40;

	fg_dir(*state, "snap", dir, sizeof(dir));
	fg_write(dir, 4);
	fg_opts(&o);
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	/* a snapshot at the end of the log: the five real keys and a ghost */
	memset(img, 0, sizeof(img));
	for (unsigned k = 0; k <= 5; k++) {
		struct shlog_keyref ref = { .seq = in.end_seq - 1, .off = in.end_off - 6, .len = 4 };
		char key[8];
		size_t kl = (size_t)snprintf(key, sizeof(key), k < 5 ? "k%u" : "ghost", k);
		if (k < 5)
			assert_int_equal(shlog_key_lookup(p, key, kl, &ref), 0);
		else
			ref.len = 40;        /* runs past the snapshot's point */
		th_put_le(img + pos, ref.seq, 8);
		th_put_le(img + pos + 8, ref.off, 8);
		th_put_le(img + pos + 16, (uint64_t)ref.time_ns, 8);
		th_put_le(img + pos + 24, ref.len, 4);
		th_put_le(img + pos + 28, kl, 2);
		memcpy(img + pos + 32, key, kl);
		pos += 32 + kl;
	}
	assert_int_equal(th_close(s, p), 0);
	th_put_le(img, 0x4b4c4853u, 4);
	th_put_le(img + 4, 1, 2);
	th_put_le(img + 8, in.end_seq, 8);
	th_put_le(img + 16, in.end_off, 8);
	th_put_le(img + 24, 6, 8);
	th_put_le(img + 36, th_crc32c(img, 36), 4);
	th_put_le(img + pos, th_crc32c(img + 40, pos - 40), 4);
	th_path(path, sizeof(path), dir, FG_TOPIC, 0, "keys");
	{
		FILE *fk = fopen(path, "wx");
		assert_non_null(fk);
		assert_int_equal(fwrite(img, 1, pos + 4, fk), pos + 4);
		assert_int_equal(fclose(fk), 0);
	}
	/* the snapshot is newer than the anchor's replay point */
	fg_anchor_set(dir, 48, in.end_seq);             /* keys_seq */
	fg_anchor_set(dir, 56, in.end_off);             /* keys_off */
	fg_anchor_set(dir, 64, in.end_seq);             /* keys_snap_seq */
	fg_verify(dir, "key record", 1);
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	fg_expect_keys(p, 4 * FG_PER);
	assert_int_equal(th_close(s, p), 0);
	fg_open_keeps(dir, 4 * FG_PER);
}

/*
 * The anchor's key replay point one byte inside message 20 (CRC
 * recomputed): replay from there would read "0\tvalue-020" as a message
 * with key "0" and miss every key before it.  Open must not start there.
 */
static void test_forged_replay_point(void **state)
{
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char dir[300];
	uint64_t off20;

	fg_dir(*state, "replay", dir, sizeof(dir));
	fg_write(dir, 4);
	fg_opts(&o);
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	assert_int_equal(shlog_part_seek_seq(p, 20, &off20), 0);
	assert_int_equal(th_close(s, p), 0);
	fg_anchor_set(dir, 48, 20);                     /* keys_seq */
	fg_anchor_set(dir, 56, off20 + 1);              /* keys_off */
	fg_anchor_set(dir, 64, 0);                      /* keys_snap_seq: never a snapshot */
	assert_int_equal(th_reopen_part(dir, &o, FG_TOPIC, 0, &s, &p), 0);
	fg_expect_keys(p, 4 * FG_PER);
	assert_int_equal(th_close(s, p), 0);
	fg_open_keeps(dir, 4 * FG_PER);
}

/*
 * An empty tail segment (a crash right after a roll) and an anchor whose
 * last_flush_ns is older than the log's last entry (forged to 0): the
 * next block's time must still not go back past the last entry, which
 * would break the time rule (verify reports it, roll-forward cuts it).
 */
static void test_forged_empty_tail_time(void **state)
{
	char dir[300], path[600];
	struct timespec ts;
	FILE *fp;

	fg_dir(*state, "tailtime", dir, sizeof(dir));
	fg_write(dir, 4);
	clock_gettime(CLOCK_REALTIME, &ts);
	fg_entry_set(dir, 3, FG_TIME, ((uint64_t)ts.tv_sec + 3600) * 1000000000ull, 8);
	for (int i = 0; i < 2; i++) {
		th_seg_path(path, sizeof(path), dir, FG_TOPIC, 0, 4 * FG_PER, i ? "idx" : "log");
		fp = fopen(path, "wx");
		assert_non_null(fp);
		assert_int_equal(fclose(fp), 0);
	}
	fg_anchor_set(dir, 32, 4 * FG_PER);             /* seg_base_seq: the empty tail */
	fg_anchor_set(dir, 40, 0);                      /* last_flush_ns */
	fg_open_keeps(dir, 4 * FG_PER);
	/* the appended block's time did not go back: verify finds nothing */
	{
		struct fg_found f = { .want = "time goes back" };
		struct shlog_verify_stats st;
		assert_int_equal(shlog_part_verify(dir, FG_TOPIC, 0, fg_problem, NULL, &f, &st), 0);
		assert_int_equal(f.damage + f.warnings, 0);
		assert_int_equal(st.messages, 4 * FG_PER + 3);
	}
}

/*
 * Two segments; the second one's first entry is stamped before the first
 * one's last entry (CRC recomputed).  Open refuses (damage in an older
 * segment, as for any broken link between segments), verify reports it,
 * repair keeps the first segment.
 */
static void test_forged_time_across_segments(void **state)
{
	struct shlog_options o;
	shlog_store *s;
	char dir[300];

	fg_dir(*state, "segtime", dir, sizeof(dir));
	fg_segment_bytes = 300;            /* two blocks of 130 bytes a segment */
	fg_write(dir, 4);
	assert_int_equal(fg_entry_get_in(dir, 2 * FG_PER, 0, FG_SEQ, 8), 2 * FG_PER);
	fg_entry_set_in(dir, 2 * FG_PER, 0, FG_TIME, fg_entry_get(dir, 1, FG_TIME, 8) - 1, 8);
	fg_verify(dir, "time goes back", 0);
	fg_opts(&o);
	assert_int_equal(shlog_store_open(dir, &o, &s), -EUCLEAN);
	fg_open_keeps_how(dir, 2 * FG_PER, 1);
	fg_segment_bytes = 0;
}

/*
 * The same forge with the anchor's committed point at the second
 * segment's start (F12, found by fuzz_open): the link into the tail is
 * past the anchor, so it is a torn tail.  Open cut it before it refused
 * the whole partition, while verify called it a warning; now both agree:
 * verify warns, open keeps the first segment and cuts the rest.
 */
static void test_forged_time_into_tail(void **state)
{
	uint64_t at = 2 * FG_PER, off;
	char dir[300];

	fg_dir(*state, "tailtime2", dir, sizeof(dir));
	fg_segment_bytes = 300;
	fg_write(dir, 4);
	off = fg_entry_get_in(dir, at, 0, FG_OFF, 8);
	fg_entry_set_in(dir, at, 0, FG_TIME, fg_entry_get(dir, 1, FG_TIME, 8) - 1, 8);
	fg_anchor_set(dir, 48, 0);             /* keys_seq, keys_off: before the new committed point */
	fg_anchor_set(dir, 56, 0);
	fg_anchor_set(dir, 16, at);            /* committed_seq, committed_off, seg_base_seq, durable_seq */
	fg_anchor_set(dir, 24, off);
	fg_anchor_set(dir, 32, at);
	fg_anchor_set(dir, 80, at);
	fg_verify(dir, "time goes back", 1);
	fg_open_keeps(dir, 2 * FG_PER);
	fg_segment_bytes = 0;
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_forged_offset_wrap),
		TH_TEST(test_forged_count),
		TH_TEST(test_forged_time),
		TH_TEST(test_forged_span_len),
		TH_TEST(test_forged_anchor_ahead),
		TH_TEST(test_forged_snapshot),
		TH_TEST(test_forged_replay_point),
		TH_TEST(test_forged_empty_tail_time),
		TH_TEST(test_forged_time_across_segments),
		TH_TEST(test_forged_time_into_tail),
		TH_TEST(test_corrupt_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
