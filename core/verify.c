/*
 * verify.c — check a partition's files end to end, without opening the
 * store: every index entry, every span's CRC32C, the .log sizes, the
 * anchor's promise and the key snapshot (shlog_part_verify, for
 * `shlogctl verify` and for the backup `shlogctl repair` makes).
 *
 * Unlike recovery, which reads a bounded amount at open, this reads the
 * whole log once.  It only reads and takes no lock, so it can run beside
 * a daemon that has the store open: the anchor is read first, and
 * problems at or past the message it promises (a block being written, or
 * a torn tail after a crash that the next open cuts) are warnings, not
 * damage.
 */
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/endian.h>
#include <sys/stat.h>

#include "crc_i.h"
#include "engine_i.h"
#include "io_i.h"

/* The state of one walk. */
struct vwalk {
	const char *topic;
	uint32_t part;
	int dfd;
	struct shlog_anchor a;
	int have_a;
	int (*fn)(const struct shlog_verify_problem *pr, void *arg);
	shlog_progress_fn progress;
	void *arg;
	struct shlog_verify_stats st;
	int prefix_ok;             /* no problem met yet: the valid prefix grows */
	uint64_t start_off;        /* log offset of the first retained message */
	int in_tail;               /* walking the last segment (where open cuts, not refuses) */
	int base_unknown;          /* the first segment's start cannot be told: open refuses */
	int refused;               /* open refuses what is being reported (never a tail) */
	uint64_t done, total;         /* progress: log bytes checked, of all */
	struct shlog_buf span;     /* the span being checked */
};

/* ---------------------------------------------------------------- */
/* Reporting                                                          */
/* ---------------------------------------------------------------- */

/* Report a problem in file @name at @byte: damage, or with @warn (or past the anchor) a warning. */
static int vreport(struct vwalk *w, int warn, const char *name, uint64_t byte, uint64_t seq,
		   const char *what)
{
	struct shlog_verify_problem pr;
	char file[SHLOG_TOPIC_MAX + 64], text[640];
	/* past the anchor, in the last segment, is a tail open cuts; anything else open refuses */
	int tail = w->have_a && seq != UINT64_MAX && seq >= w->a.committed_seq && w->in_tail && !w->base_unknown &&
		   !w->refused;

	snprintf(text, sizeof(text), "%s%s", what, tail && !warn ? " (past the anchor's committed point: a torn "
		 "tail the next open cuts, or a block being written)" : "");
	snprintf(file, sizeof(file), "%s/%u/%s", w->topic, w->part, name);
	pr.file = file;
	pr.byte = byte;
	pr.seq = seq;
	pr.damage = !tail && !warn;
	pr.what = text;
	if (pr.damage)
		w->st.damage++;
	else
		w->st.warnings++;
	if (!warn) {
		if (w->st.first_bad_seg == UINT64_MAX && name[0] >= '0' && name[0] <= '9')
			w->st.first_bad_seg = strtoull(name, NULL, 10);
		w->prefix_ok = 0;
	}
	return w->fn ? w->fn(&pr, w->arg) : 0;
}

/* Report a problem of the log (damage unless past the anchor), printf-style. */
static int vproblem(struct vwalk *w, const char *name, uint64_t byte, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int vproblem(struct vwalk *w, const char *name, uint64_t byte, uint64_t seq, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return vreport(w, 0, name, byte, seq, what);
}

/* ---------------------------------------------------------------- */
/* Files                                                              */
/* ---------------------------------------------------------------- */

/* Size of file @name in the partition directory; -errno if it cannot be opened. */
static int vopen(struct vwalk *w, const char *name, uint64_t *size)
{
	struct stat sb;
	int fd = sl_io_open(w->dfd, name, O_RDONLY, 0, S_IFREG);

	if (fd < 0)
		return fd;
	if (sl_io.fstat(fd, &sb) < 0) {
		int rc = -errno;
		sl_io.close(fd);
		return rc;
	}
	*size = (uint64_t)sb.st_size;
	return fd;
}

/* Read the anchor (before anything else, so a live writer's later blocks are past it). */
static int vanchor(struct vwalk *w)
{
	unsigned char raw[SHLOG_ANCHOR_FILE_SIZE];
	uint64_t size;
	int fd = vopen(w, SHLOG_ANCHOR_NAME, &size);
	ssize_t n;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	n = sl_io.pread(fd, raw, sizeof(raw), 0);
	sl_io.close(fd);
	w->have_a = n > 0 && sl_anchor_pick(raw, (size_t)n, &w->a) == 0;
	if (!w->have_a)
		w->a.committed_seq = 0;
	w->st.anchor_seq = w->have_a ? w->a.committed_seq : 0;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Segments                                                           */
/* ---------------------------------------------------------------- */

/* Check one span of segment @name against its entry (the validator); 0 or the callback's stop value. */
static int vspan(struct vwalk *w, const char *name, int lfd, uint64_t lsize, uint64_t base_off,
		 const struct shlog_index_entry *e, int *ok)
{
	uint64_t at = e->off - base_off;
	const char *why;

	*ok = 0;
	if (sl_check_entry_bounds(e, base_off, lsize, &why) < 0)
		return vproblem(w, name, e->off >= base_off && at < lsize ? at : lsize, e->seq,
				"messages %llu..%llu: span of %u bytes at log offset %llu runs past the end of "
				"the file (%llu bytes): %s", (unsigned long long)e->seq,
				(unsigned long long)(e->seq + e->count - 1), e->len, (unsigned long long)e->off,
				(unsigned long long)lsize, why);
	w->span.len = 0;
	if (sl_buf_reserve(&w->span, e->len) < 0)
		return -ENOMEM;
	if (sl_io_pread_full(lfd, w->span.data, e->len, (off_t)at) < 0)
		return vproblem(w, name, at, e->seq, "cannot read %u bytes: %s", e->len, strerror(errno ? errno : EIO));
	if (sl_check_span(e, w->span.data, &why) < 0)
		return vproblem(w, name, at, e->seq, "bytes %llu..%llu (messages %llu..%llu) fail their checksum "
				"or message count: %s",
				(unsigned long long)at, (unsigned long long)(at + e->len - 1),
				(unsigned long long)e->seq, (unsigned long long)(e->seq + e->count - 1), why);
	*ok = 1;
	return 0;
}

/* Where the walk expects the next entry. */
struct vpos {
	uint64_t seq, off;
	int known_off;
	struct shlog_index_entry last;  /* the entry before (have_last) */
	int have_last;
};

/* Check entry k of segment @base against the one before it (the validator); why in *why. */
static int vfollows(const struct vpos *pos, uint64_t base, uint64_t k, const struct shlog_index_entry *e,
		    const char **why)
{
	if (k == 0 && sl_check_entry_first(e, base, why) < 0)
		return -EUCLEAN;
	if (pos->have_last)
		return sl_check_entry_next(&pos->last, e, why);
	if (pos->known_off && (e->seq != pos->seq || e->off != pos->off)) {
		*why = "index entry does not start where the segment starts";
		return -EUCLEAN;
	}
	return 0;
}

/* One segment being walked: its names, files and sizes. */
struct vseg {
	uint64_t base, base_off, end;  /* first message, log offset of byte 0, end of the indexed bytes */
	char lname[32], iname[32];
	int lfd, ifd;
	uint64_t lsize, isize, nent;
	/* the only segment, not named 0, the anchor not at it: only its first entry tells where it starts
	 * (an oldest segment without entries before others is a deletion open finishes) */
	int first_unknown;
};

/* Report a gap: segment @g does not start where the previous one ended (rule @why). */
static int vgap(struct vwalk *w, const struct vseg *g, struct vpos *pos, const char *why)
{
	int rc;

	pos->have_last = 0;
	w->refused = 1;    /* open refuses a gap between segments */
	rc = vproblem(w, g->lname, 0, g->base, "segment starts at message %llu but the previous one ends at %llu: %s",
		      (unsigned long long)g->base, (unsigned long long)pos->seq, why);
	w->refused = 0;
	return rc;
}

/* Open segment @g's two files (@rc: a problem already reported); 1 if they could not be (reported). */
static int vseg_open(struct vwalk *w, struct vseg *g, int *rc)
{
	g->lfd = vopen(w, g->lname, &g->lsize);
	if (g->lfd < 0) {
		*rc = *rc ? *rc : vproblem(w, g->lname, 0, g->base, "cannot open: %s", strerror(-g->lfd));
		return 1;
	}
	w->st.file_bytes += g->lsize;
	g->ifd = vopen(w, g->iname, &g->isize);
	if (g->ifd < 0) {
		sl_io.close(g->lfd);
		w->base_unknown |= g->first_unknown;
		*rc = *rc ? *rc : vproblem(w, g->iname, 0, g->base, "cannot open: %s", strerror(-g->ifd));
		return 1;
	}
	g->nent = g->isize / SHLOG_IDX_ENTRY_SIZE;
	return 0;
}

/* Read and decode entry @k of @g, checked against the one before; 1 to stop the segment, else 0 (@rc set). */
static int ventry_read(struct vwalk *w, struct vseg *g, struct vpos *pos, uint64_t k,
		       struct shlog_index_entry *e, int *rc)
{
	unsigned char raw[SHLOG_IDX_ENTRY_SIZE];
	const char *why = "cannot be read";

	if (sl_io_pread_full(g->ifd, raw, sizeof(raw), (off_t)(k * SHLOG_IDX_ENTRY_SIZE)) < 0 ||
	    sl_entry_decode(raw, e, &why) < 0) {
		w->base_unknown |= k == 0 && g->first_unknown;
		*rc = vproblem(w, g->iname, k * SHLOG_IDX_ENTRY_SIZE, pos->seq, "index entry %llu: %s",
			       (unsigned long long)k, why);
		/* the next entry's position cannot be known: stop checking this segment */
		pos->known_off = 0;
		pos->have_last = 0;
		return 1;
	}
	if (vfollows(pos, g->base, k, e, &why) < 0) {
		w->base_unknown |= k == 0 && g->first_unknown;
		*rc = vproblem(w, g->iname, k * SHLOG_IDX_ENTRY_SIZE, pos->seq,
			       "index entry %llu says message %llu at offset %llu; expected %llu at %llu: %s",
			       (unsigned long long)k, (unsigned long long)e->seq, (unsigned long long)e->off,
			       (unsigned long long)pos->seq, (unsigned long long)pos->off, why);
		return *rc != 0;
	}
	return 0;
}

/* Count entry @e as valid (while no problem was met) and move @pos past it. */
static void ventry_done(struct vwalk *w, struct vseg *g, struct vpos *pos, const struct shlog_index_entry *e,
			int ok)
{
	if (ok && w->prefix_ok) {
		w->st.entries++;
		w->st.messages += e->count;
		w->st.bytes += e->len;
		w->st.valid_seq = e->seq + e->count;
		w->st.valid_off = e->off + e->len;
	}
	pos->seq = e->seq + e->count;
	pos->off = e->off + e->len;
	pos->last = *e;
	pos->have_last = 1;
	g->end = e->off >= g->base_off ? e->off + e->len - g->base_off : 0;
	w->done += e->len;
	if (w->progress)
		w->progress(w->done, w->total, w->arg);
}

/* Check every entry of @g and its span; 0 or the callback's stop value. */
static int ventries(struct vwalk *w, struct vseg *g, struct vpos *pos)
{
	int rc = 0;

	for (uint64_t k = 0; rc == 0 && k < g->nent; k++) {
		struct shlog_index_entry e;
		int ok;
		if (ventry_read(w, g, pos, k, &e, &rc))
			break;
		if (k == 0 && !pos->known_off)
			pos->off = e.off, pos->known_off = 1;
		if (k == 0)
			g->base_off = e.off;
		if (k == 0 && w->st.segments == 1)
			w->start_off = e.off;
		rc = vspan(w, g->lname, g->lfd, g->lsize, g->base_off, &e, &ok);
		ventry_done(w, g, pos, &e, ok);
	}
	return rc;
}

/* After the entries: a partial entry at the end of the .idx, bytes of the .log no entry covers. */
static int vseg_tail(struct vwalk *w, const struct vseg *g, const struct vpos *pos)
{
	int rc = 0;

	if (g->isize % SHLOG_IDX_ENTRY_SIZE)
		rc = vproblem(w, g->iname, g->nent * SHLOG_IDX_ENTRY_SIZE, pos->seq,
			      "%llu bytes of a partial index entry at the end",
			      (unsigned long long)(g->isize % SHLOG_IDX_ENTRY_SIZE));
	if (rc == 0 && pos->known_off && g->lsize > g->end)
		rc = vproblem(w, g->lname, g->end, pos->seq, "%llu bytes after the last index entry are not indexed",
			      (unsigned long long)(g->lsize - g->end));
	return rc;
}

/* Check segment @base: its entries, spans and size; advances @pos. */
static int vsegment(struct vwalk *w, uint64_t base, struct vpos *pos)
{
	struct vseg g = { .base = base, .base_off = pos->off };
	const char *why;
	int rc = 0;

	sl_name_segment(g.lname, sizeof(g.lname), base, SL_SEG_LOG);
	sl_name_segment(g.iname, sizeof(g.iname), base, SL_SEG_IDX);
	w->st.segments++;
	g.first_unknown = w->st.segments == 1 && w->in_tail && !pos->known_off && base != 0;
	if (pos->known_off && sl_check_seg_next(pos->seq, base, &why) < 0)  /* (after a broken entry the end is unknown) */
		rc = vgap(w, &g, pos, why);
	pos->seq = base;
	if (vseg_open(w, &g, &rc))
		return rc;
	if (rc == 0 && g.first_unknown && g.nent == 0) {
		w->base_unknown = 1;
		rc = vproblem(w, g.iname, 0, base, "no whole index entry: where the first segment starts cannot be "
			      "told (it is not segment 0 and the anchor does not name it)");
	}
	if (rc == 0)
		rc = ventries(w, &g, pos);
	if (rc == 0)
		rc = vseg_tail(w, &g, pos);
	sl_io.close(g.lfd);
	sl_io.close(g.ifd);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Key snapshot                                                       */
/* ---------------------------------------------------------------- */

/* Check the open key snapshot @fd (of @size bytes) with the validator; NULL if it is whole. */
static const char *vkeys_bad(const struct vwalk *w, int fd, uint64_t size)
{
	struct shlog_keys_hdr h;
	unsigned char *img;
	const char *why = NULL;

	if (size < SHLOG_KEYS_HDR_SIZE + 4 || size > (1ull << 34))
		return "key snapshot: file size out of range";
	img = malloc((size_t)size);
	if (!img)
		return NULL;       /* cannot tell: say nothing */
	if (sl_io_pread_full(fd, img, (size_t)size, 0) < 0)
		why = "key snapshot cannot be read";
	else if (sl_keys_image_walk(img, (size_t)size, &h, NULL, NULL, &why) == 0)
		sl_check_keys_fit(&h, w->st.start_seq, w->start_off, w->st.valid_seq, w->st.valid_off, &why);
	free(img);
	return why;
}

/* Check the key snapshot; a bad one is a warning only (it is a cache). */
static int vkeys(struct vwalk *w)
{
	uint64_t size;
	int fd = vopen(w, SHLOG_KEYS_NAME, &size);
	const char *why;
	char what[256];

	if (fd < 0)
		return 0;
	why = vkeys_bad(w, fd, size);
	sl_io.close(fd);
	if (!why)
		return 0;
	snprintf(what, sizeof(what), "%s (only a cache: the next open rebuilds the keys from the log)", why);
	return vreport(w, 1, SHLOG_KEYS_NAME, 0, UINT64_MAX, what);
}

/* ---------------------------------------------------------------- */
/* Cursors                                                            */
/* ---------------------------------------------------------------- */

/* Check the cursors file: no valid slot is damage (open drops them), one past the log's end a warning. */
static int vcursors(struct vwalk *w)
{
	struct sl_cursor *c = NULL;
	const char *why = "";
	uint32_t n = 0;
	uint64_t gen;
	int rc = sl_cursors_read(w->dfd, &c, &n, &gen, &why);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return vproblem(w, SHLOG_CURSORS_NAME, 0, UINT64_MAX,
				"%s (the next open takes it as no cursors: their readers start again)",
				rc == -EUCLEAN ? why : shlog_strerror(rc));
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		char what[256];
		if (sl_check_cursor_fit(&c[i], w->st.valid_seq, &why) == 0)
			continue;
		snprintf(what, sizeof(what), "cursor %s at %llu: %s (%llu; open moves it back to the end)",
			 c[i].name, (unsigned long long)c[i].seq, why, (unsigned long long)w->st.valid_seq);
		rc = vreport(w, 1, SHLOG_CURSORS_NAME, (gen % 2) * SHLOG_CURSOR_SLOT_SIZE, UINT64_MAX, what);
	}
	free(c);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Entry point                                                        */
/* ---------------------------------------------------------------- */

/* The partition has no segment files: damage if the anchor promises messages. */
static int vno_segments(struct vwalk *w)
{
	if (w->have_a && w->a.committed_seq > 0)
		return vproblem(w, SHLOG_ANCHOR_NAME, 0, UINT64_MAX,
				"the anchor records %llu messages but there are no segment files",
				(unsigned long long)w->a.committed_seq);
	return 0;
}

/* Add up the .log sizes of segments @seqs[0..n) (for progress). */
static void vtotal(struct vwalk *w, const uint64_t *seqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];
		struct stat sb;
		sl_name_segment(name, sizeof(name), seqs[i], SL_SEG_LOG);
		if (sl_io.fstatat(w->dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			w->total += (uint64_t)sb.st_size;
	}
}

/* Where the walk starts (the first segment; its offset if the anchor names it), and the anchor's segment. */
static int vstart(struct vwalk *w, const uint64_t *seqs, size_t n, struct vpos *pos)
{
	const char *why;

	w->st.start_seq = w->st.valid_seq = pos->seq = seqs[0];
	if (w->have_a && w->a.committed_seq == seqs[0]) {
		pos->off = w->a.committed_off;   /* an empty first segment starts where the anchor says */
		pos->known_off = 1;
		w->start_off = pos->off;
	}
	if (w->have_a && sl_check_anchor_segs(&w->a, seqs[n - 1], &why) < 0)
		return vproblem(w, SHLOG_ANCHOR_NAME, (w->a.gen % 2) * SHLOG_ANCHOR_SLOT_SIZE, UINT64_MAX, "%s", why);
	return 0;
}

/* After the segments: the anchor against what the log holds. */
static int vanchor_fits(struct vwalk *w)
{
	if (!w->have_a && (w->st.bytes > 0 || w->st.file_bytes > 0))
		return vproblem(w, SHLOG_ANCHOR_NAME, 0, UINT64_MAX,
				"anchor missing or both slots invalid while the log holds data");
	if (w->have_a && w->a.committed_seq > w->st.valid_seq && w->st.damage == 0)
		return vproblem(w, SHLOG_ANCHOR_NAME, (w->a.gen % 2) * SHLOG_ANCHOR_SLOT_SIZE, UINT64_MAX,
				"the anchor promises %llu messages but the valid log ends at message %llu",
				(unsigned long long)w->a.committed_seq, (unsigned long long)w->st.valid_seq);
	return 0;
}

/* Walk segments @seqs[0..n) (n > 0), then the anchor and the key snapshot. */
static int vsegments(struct vwalk *w, const uint64_t *seqs, size_t n)
{
	struct vpos pos = { 0 };
	int rc;

	vtotal(w, seqs, n);
	rc = vstart(w, seqs, n, &pos);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int was_ok = w->prefix_ok;
		w->in_tail = i + 1 == n;
		rc = vsegment(w, seqs[i], &pos);
		if (i == 0 && was_ok && w->st.entries == 0 && w->prefix_ok)
			w->st.valid_off = pos.off;
	}
	if (rc == 0)
		rc = vanchor_fits(w);
	if (rc == 0)
		rc = vkeys(w);
	return rc;
}

/* Walk all segments of the open partition directory. */
static int vwalk_run(struct vwalk *w)
{
	uint64_t *seqs = NULL;
	size_t n = 0;
	int rc = vanchor(w);

	if (rc == 0)
		rc = sl_seg_list(w->dfd, &seqs, &n, NULL, NULL);
	if (rc < 0)
		return rc;
	w->prefix_ok = 1;
	rc = n == 0 ? vno_segments(w) : vsegments(w, seqs, n);
	if (rc == 0)
		rc = vcursors(w);
	free(seqs);
	return rc;
}

int shlog_part_verify(const char *dir, const char *topic, uint32_t part,
		      int (*fn)(const struct shlog_verify_problem *pr, void *arg),
		      shlog_progress_fn progress, void *arg, struct shlog_verify_stats *st)
{
	struct vwalk w = { .topic = topic, .part = part, .fn = fn, .progress = progress, .arg = arg };
	char num[SHLOG_PART_NAME_CAP];
	int ddfd, rc;

	if (!dir || shlog_topic_name_check(topic) < 0)
		return -EINVAL;
	w.st.first_bad_seg = UINT64_MAX;
	sl_name_part(num, sizeof(num), part);
	ddfd = sl_io.openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (ddfd < 0)
		return -errno;
	w.dfd = sl_io_open_subdir(ddfd, topic, num);
	sl_io.close(ddfd);
	if (w.dfd < 0)
		return w.dfd;
	rc = vwalk_run(&w);
	sl_io.close(w.dfd);
	free(w.span.data);
	if (st)
		*st = w.st;
	return rc;
}
