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
#include <unistd.h>

#include "helpers.h"
#include "oplog.h"
#include "trial.h"

/* One test's directory. */
struct fx {
	char dir[256];
};

/* cmocka setup: a fresh directory and a watchdog. */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	th_tmpdir(f->dir, sizeof(f->dir));
	th_watchdog(th_trial_scale() > 1 ? 1800 : 280);
	*state = f;
	return 0;
}

/* cmocka teardown. */
static int fx_teardown(void **state)
{
	struct fx *f = *state;

	th_rmrf(f->dir);
	free(f);
	alarm(0);
	return 0;
}

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

/* Little-endian 64-bit load. */
static uint64_t le64(const char *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | (unsigned char)b[i];
	return v;
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
		base = le64(ix->data + 8);
		for (size_t k = 0; k < f->nspan; k++)
			f->span[k] = le64(ix->data + k * 40 + 8) - base;
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
	cr_free(&cs);
	assert_int_equal(fig.failed, 0);
}

/* Every file of a partition damaged every way. */
static void test_corrupt_files(void **state)
{
	struct fx *f = *state;

	cr_trial(f->dir);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_corrupt_files, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
