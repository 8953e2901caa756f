/*
 * recover.c — opening a partition: seek to the anchor, check the tail,
 * roll forward over blocks written after the last anchor, truncate the
 * torn rest (seed §5, with the checks docs/FORMAT.md "Recovery" gives).
 *
 * A tail that fails its checks is cut, as LevelDB treats a torn log
 * tail: the writer or the machine died.  Past the anchor's durable_seq
 * that is expected after a crash (a notice); below it the disk lost
 * synced data or someone changed the files (a warning naming file and
 * byte).  Either way the store opens with every valid message before
 * the damage, and shlog_part_info reports what was dropped.
 *
 * The work is bounded: one binary search of the tail index, one span
 * checked backwards per block the anchor was ahead of the data, and the
 * blocks written since the anchor forwards.  So corruption in the middle
 * of a log is not looked for at open: reads check every span's CRC and
 * refuse a bad one with EIO.  The repair option checks every span from
 * the start instead and cuts the log at the first bad one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc_i.h"
#include "engine_i.h"
#include "io_i.h"
#include "writer_i.h"

/* What recovery knows about one segment while it works. */
struct rseg {
	uint64_t log_size, idx_size;
	int first_ok;                 /* first entry valid and named right */
};

struct rstate {
	shlog_part *p;
	struct shlog_anchor a;
	int have_a;
	struct rseg *r;               /* parallel to p->segs */
	size_t n;
	size_t si;                    /* current segment */
	uint64_t k;                   /* accepted entries in segs[si] */
	uint64_t seq, off;            /* expected next message / offset */
	struct shlog_index_entry last; /* the last accepted entry (have_last) */
	int have_last;
	char bad[256];                /* where the first failed check was */
	int rewritten;                /* rewrite_unsynced() synced everything */
};

/* ---------------------------------------------------------------- */
/* Reading entries and spans                                          */
/* ---------------------------------------------------------------- */

/* Read and decode entry k of segment i (validator: the entry on its own); -EUCLEAN if absent or invalid. */
static int ent_read_why(struct rstate *st, size_t i, uint64_t k, struct shlog_index_entry *e, const char **why)
{
	unsigned char raw[SHLOG_IDX_ENTRY_SIZE];

	*why = "index entry missing";
	if ((k + 1) * SHLOG_IDX_ENTRY_SIZE > st->r[i].idx_size)
		return -EUCLEAN;
	*why = "index entry cannot be read";
	if (sl_io_pread_full(st->p->segs[i].idx_fd, raw, sizeof(raw), (off_t)(k * SHLOG_IDX_ENTRY_SIZE)) < 0)
		return -EIO;
	return sl_entry_decode(raw, e, why);
}

/* ent_read_why() when the reason does not matter. */
static int ent_read(struct rstate *st, size_t i, uint64_t k, struct shlog_index_entry *e)
{
	const char *why;

	return ent_read_why(st, i, k, e, &why);
}

/* Does entry e's span lie in segment i's log and match its bytes (the validator)? */
static int span_ok(struct rstate *st, size_t i, const struct shlog_index_entry *e, const char **why)
{
	struct shlog_seg *g = &st->p->segs[i];
	char *buf;
	int ok;

	if (sl_check_entry_bounds(e, g->base_off, st->r[i].log_size, why) < 0)
		return 0;
	buf = malloc(e->len);
	*why = "out of memory reading the span";
	if (!buf)
		return 0;
	*why = "span cannot be read";
	ok = sl_io_pread_full(g->log_fd, buf, e->len, (off_t)(e->off - g->base_off)) == 0 &&
	     sl_check_span(e, buf, why) == 0;
	free(buf);
	return ok;
}

/* Record the first failed check, for the error message. */
static void note_bad(struct rstate *st, size_t i, uint64_t k, const char *what)
{
	char name[32];

	if (st->bad[0])
		return;
	sl_name_segment(name, sizeof(name), st->p->segs[i].base_seq, SL_SEG_IDX);
	snprintf(st->bad, sizeof(st->bad), "%s byte %llu: %s", name,
		 (unsigned long long)(k * SHLOG_IDX_ENTRY_SIZE), what);
}

/* ---------------------------------------------------------------- */
/* Finding the segments                                               */
/* ---------------------------------------------------------------- */

/*
 * Retention deletes a segment's .log, then its .idx.  A crash between the
 * two, or before the directory fsync, can leave the oldest segment with
 * its .log but no index entries: it was being deleted, so finish that.
 */
static void drop_half_deleted(shlog_part *p, uint64_t *seqs, size_t *n)
{
	while (*n > 1) {
		char lname[32], iname[32];
		struct stat st;
		int fd, idx_ok;

		sl_name_segment(lname, sizeof(lname), seqs[0], SL_SEG_LOG);
		sl_name_segment(iname, sizeof(iname), seqs[0], SL_SEG_IDX);
		fd = sl_io_open(p->dfd, iname, O_RDONLY, 0, S_IFREG);
		idx_ok = fd >= 0 && sl_io.fstat(fd, &st) == 0 && st.st_size >= SHLOG_IDX_ENTRY_SIZE;
		if (fd >= 0)
			sl_io.close(fd);
		if (idx_ok)
			return;
		sl_logf(p->s, SHLOG_NOTICE, "%s: finishing the deletion of segment %s (interrupted retention)",
			   p->name, lname);
		if (!p->s->o.read_only)
			sl_writer_seg_unlink(p->dfd, seqs[0]);
		memmove(seqs, seqs + 1, (*n - 1) * sizeof(*seqs));
		(*n)--;
	}
}

/*
 * The same deletion interrupted after the .log went: an .idx below the
 * first .log, and below the segment the anchor says holds the log's end
 * (retention never deletes that one), is what is left of a segment
 * retention deleted.  Remove it (a read-only open leaves it; nothing
 * reads it either way).  Any other lone .idx is damage, not a
 * left-over: it stays for recovery, verify and repair to judge.
 */
static void drop_orphan_idx(struct rstate *st, const uint64_t *orphans, size_t n)
{
	shlog_part *p = st->p;
	char name[SHLOG_SEG_NAME_CAP];

	for (size_t i = 0; i < n && !p->s->o.read_only; i++) {
		if (!st->have_a || orphans[i] >= st->a.seg_base_seq)
			continue;
		sl_name_segment(name, sizeof(name), orphans[i], SL_SEG_IDX);
		sl_logf(p->s, SHLOG_NOTICE, "%s: finishing the deletion of segment %s (interrupted retention: "
			"its .log was gone)", p->name, name);
		sl_io.unlinkat(p->dfd, name, 0);
	}
}

/* Open every listed segment's files and read their sizes and first entries. */
static int seg_open_all(struct rstate *st, const uint64_t *seqs)
{
	shlog_part *p = st->p;
	int ro = p->s->o.read_only;

	p->segs = calloc(st->n, sizeof(*p->segs));
	st->r = calloc(st->n, sizeof(*st->r));
	if (!p->segs || !st->r)
		return -ENOMEM;
	for (size_t i = 0; i < st->n; i++) {
		struct shlog_seg *g = &p->segs[p->nsegs++];
		struct shlog_index_entry e;
		char name[32];
		struct stat sl, si;

		g->log_fd = g->idx_fd = -1;
		g->base_seq = seqs[i];
		sl_name_segment(name, sizeof(name), seqs[i], SL_SEG_LOG);
		g->log_fd = sl_io_open(p->dfd, name, ro ? O_RDONLY : O_RDWR, 0, S_IFREG);
		sl_name_segment(name, sizeof(name), seqs[i], SL_SEG_IDX);
		g->idx_fd = g->log_fd < 0 ? -1 :
			sl_io_open(p->dfd, name, ro ? O_RDONLY : O_RDWR | O_CREAT, SHLOG_FILE_MODE, S_IFREG);
		if (g->log_fd < 0 || g->idx_fd < 0 || sl_io.fstat(g->log_fd, &sl) < 0 ||
		    sl_io.fstat(g->idx_fd, &si) < 0) {
			int rc = g->log_fd < 0 ? g->log_fd : g->idx_fd < 0 ? g->idx_fd : -errno;
			if (g->log_fd < 0)
				g->log_fd = -1;
			if (g->idx_fd < 0)
				g->idx_fd = -1;
			sl_logf(p->s, SHLOG_ERR, "%s: segment %s: %s", p->name, name, strerror(-rc));
			return rc;
		}
		st->r[i].log_size = (uint64_t)sl.st_size;
		st->r[i].idx_size = (uint64_t)si.st_size;
		if (ent_read(st, i, 0, &e) == 0 && e.seq == g->base_seq) {
			st->r[i].first_ok = 1;
			g->base_off = e.off;
			g->first_time = e.time_ns;
		}
	}
	return 0;
}

/* The last index entry of segment i-1 (i > 0); -EUCLEAN if it has none or it is unreadable. */
static int prev_seg_last(struct rstate *st, size_t i, struct shlog_index_entry *e)
{
	uint64_t last = st->r[i - 1].idx_size / SHLOG_IDX_ENTRY_SIZE;

	return last == 0 ? -EUCLEAN : ent_read(st, i - 1, last - 1, e);
}

/* Offset where segment i starts, when its first entry cannot tell. */
static int base_off_guess(struct rstate *st, size_t i, uint64_t *off)
{
	struct shlog_index_entry e;

	if (st->r[i].first_ok) {
		*off = st->p->segs[i].base_off;
		return 0;
	}
	/* the previous segment's last entry says where this one starts; else the anchor */
	if (i > 0 && prev_seg_last(st, i, &e) == 0 && e.seq + e.count == st->p->segs[i].base_seq) {
		*off = e.off + e.len;
		return 0;
	}
	if (st->have_a && st->a.committed_seq == st->p->segs[i].base_seq) {
		*off = st->a.committed_off;
		return 0;
	}
	*off = 0;
	return i == 0 && st->p->segs[0].base_seq == 0 ? 0 : -EUCLEAN;
}

/*
 * Is the link into segment i (its first entry following the last one of
 * i-1) past the anchor's committed point, in the tail: there recovery's
 * roll forward judges it and cuts what does not follow, as verify reports
 * (a warning, not damage)?  Every other link is checked before recovery.
 */
static int link_past_anchor(const struct rstate *st, size_t i)
{
	return i + 1 == st->n && st->have_a && st->a.committed_seq <= st->p->segs[i].base_seq;
}

/*
 * Is segment i (not the tail) whole: first and last entries valid, ending
 * where i+1 starts (sl_check_seg_next, sl_check_seg_covered), and i+1's
 * first entry following i's last (unless link_past_anchor)?
 */
static int seg_whole(struct rstate *st, size_t i)
{
	struct shlog_seg *g = &st->p->segs[i], *next = &st->p->segs[i + 1];
	uint64_t n = st->r[i].idx_size / SHLOG_IDX_ENTRY_SIZE;
	struct shlog_index_entry e, nf;
	const char *why;

	if (!st->r[i].first_ok) {
		note_bad(st, i, 0, "first index entry missing or damaged");
		return 0;
	}
	if (st->r[i].idx_size % SHLOG_IDX_ENTRY_SIZE || ent_read_why(st, i, n - 1, &e, &why) < 0 ||
	    sl_check_entry_bounds(&e, g->base_off, st->r[i].log_size, &why) < 0 ||
	    e.seq < g->base_seq + (n - 1)) {
		note_bad(st, i, n ? n - 1 : 0, "last index entry missing or damaged");
		return 0;
	}
	if (sl_check_seg_next(e.seq + e.count, next->base_seq, &why) < 0 ||
	    sl_check_seg_covered(&e, g->base_off, st->r[i].log_size, &why) < 0 ||
	    (!link_past_anchor(st, i + 1) && st->r[i + 1].first_ok &&
	     (ent_read_why(st, i + 1, 0, &nf, &why) < 0 || sl_check_entry_next(&e, &nf, &why) < 0))) {
		note_bad(st, i, n - 1, why);
		return 0;
	}
	if (!st->r[i + 1].first_ok)
		next->base_off = e.off + e.len;
	return 1;
}

/* Close and forget segment 0 (repair: it cannot be read). */
static void seg_forget_first(struct rstate *st)
{
	shlog_part *p = st->p;
	char name[32];

	sl_name_segment(name, sizeof(name), p->segs[0].base_seq, SL_SEG_LOG);
	sl_logf(p->s, SHLOG_WARNING, "%s: repair drops segment %s (%llu bytes): its index is damaged",
		   p->name, name, (unsigned long long)st->r[0].log_size);
	p->st.recovered_bytes_dropped += st->r[0].log_size;
	sl_io.close(p->segs[0].log_fd);
	sl_io.close(p->segs[0].idx_fd);
	if (!p->s->o.read_only)
		sl_writer_seg_unlink(p->dfd, p->segs[0].base_seq);
	memmove(p->segs, p->segs + 1, (st->n - 1) * sizeof(*p->segs));
	memmove(st->r, st->r + 1, (st->n - 1) * sizeof(*st->r));
	st->n--;
	p->nsegs--;
}

/*
 * Check every segment before the tail (one or two entry reads each, so
 * open stays cheap): without repair a damaged one refuses the open;
 * with repair a damaged first segment is dropped (roll-forward from the
 * start then checks every span of the rest).
 */
static int check_older(struct rstate *st)
{
	shlog_part *p = st->p;

	if (p->s->o.repair) {
		while (st->n > 1 && !st->r[0].first_ok)
			seg_forget_first(st);
		return 0;
	}
	for (size_t i = 0; i + 1 < st->n; i++) {
		if (!seg_whole(st, i)) {
			sl_logf(p->s, SHLOG_ERR, "%s: corrupt at %s; refusing to open (the repair option "
				   "keeps the valid messages before it)", p->name, st->bad);
			return -EUCLEAN;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* The three steps: start at the anchor, step back, roll forward      */
/* ---------------------------------------------------------------- */

/* Entries of segment i that end at or before message @seq (binary search). */
static uint64_t ents_before(struct rstate *st, size_t i, uint64_t seq)
{
	uint64_t lo = 0, hi = st->r[i].idx_size / SHLOG_IDX_ENTRY_SIZE;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		struct shlog_index_entry e;
		if (ent_read(st, i, mid, &e) == 0 && e.seq + e.count <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does entry @e (number k of segment i) follow entry k-1 (or start the segment)? */
static int ent_follows(struct rstate *st, size_t i, uint64_t k, const struct shlog_index_entry *e,
		       const char **why)
{
	struct shlog_index_entry prev;
	uint64_t last;

	if (k == 0 && sl_check_entry_first(e, st->p->segs[i].base_seq, why) < 0)
		return 0;
	if (k == 0) {
		/* the first entry of a later segment follows the previous segment's last one */
		last = i > 0 ? st->r[i - 1].idx_size / SHLOG_IDX_ENTRY_SIZE : 0;
		return last == 0 || (ent_read_why(st, i - 1, last - 1, &prev, why) == 0 &&
				     sl_check_entry_next(&prev, e, why) == 0);
	}
	if (ent_read_why(st, i, k - 1, &prev, why) < 0)
		return 0;
	return sl_check_entry_next(&prev, e, why) == 0;
}

/* Set the expected position to the end of entry k-1 of segment si (or its start). */
static int position_after(struct rstate *st, uint64_t k)
{
	struct shlog_index_entry e;
	struct shlog_seg *g = &st->p->segs[st->si];

	st->k = k;
	st->have_last = 0;
	if (k == 0 && st->si > 0 && prev_seg_last(st, st->si, &e) == 0 && e.seq + e.count == g->base_seq) {
		/* a later segment starts where the one before ends; its first entry must follow that one */
		st->seq = g->base_seq;
		st->off = g->base_off = e.off + e.len;
		st->last = e;
		st->have_last = 1;
		return 0;
	}
	if (k == 0) {
		st->seq = g->base_seq;
		return base_off_guess(st, st->si, &st->off) < 0 ? -EUCLEAN : (g->base_off = st->off, 0);
	}
	if (ent_read(st, st->si, k - 1, &e) < 0)
		return -EUCLEAN;
	st->seq = e.seq + e.count;
	st->off = e.off + e.len;
	st->last = e;
	st->have_last = 1;
	return 0;
}

/* Does entry @e end at or before message @seq (the starting point it was found for)? */
static int ent_ends_by(const struct shlog_index_entry *e, uint64_t seq, const char **why)
{
	if (e->seq + e->count <= seq)
		return 1;
	*why = "index entry runs past the anchor's point it was found for (the index is not in order)";
	return 0;
}

/*
 * Start at message @seq (the anchor's committed or durable point).  With
 * @step_back, check the span that ends there and step back while it
 * fails.  A point below the first retained segment (retention deleted
 * segments after that anchor was written) starts at the first segment.
 */
static int start_at(struct rstate *st, uint64_t seq, int step_back)
{
	shlog_part *p = st->p;
	uint64_t k;

	st->si = 0;
	if (seq < p->segs[0].base_seq)
		return position_after(st, 0);
	while (st->si + 1 < st->n && p->segs[st->si + 1].base_seq <= seq)
		st->si++;
	if (!st->r[st->si].first_ok && base_off_guess(st, st->si, &p->segs[st->si].base_off) < 0)
		return -EUCLEAN;
	/* without step_back (the spans before a durable point are not read) the entry must still
	 * follow its predecessor, end at or before @seq (the search ran on entries not yet
	 * validated: garbage is not sorted) and lie in its segment's file */
	for (k = ents_before(st, st->si, seq); k > 0; k--) {
		struct shlog_index_entry e;
		const char *why;
		char what[128];
		if (ent_read_why(st, st->si, k - 1, &e, &why) == 0 && ent_follows(st, st->si, k - 1, &e, &why) &&
		    ent_ends_by(&e, seq, &why) &&
		    (step_back ? span_ok(st, st->si, &e, &why)
			       : sl_check_entry_bounds(&e, p->segs[st->si].base_off, st->r[st->si].log_size,
							  &why) == 0))
			break;
		snprintf(what, sizeof(what), "%s (stepping back)", why);
		note_bad(st, st->si, k - 1, what);
	}
	return position_after(st, k);
}

/* Did the machine restart since the anchor was written (or can we not tell)? */
static int os_restarted(struct rstate *st)
{
	static const unsigned char zero[16];
	const unsigned char *now = st->p->s->boot_id;

	return !memcmp(now, zero, 16) || !memcmp(st->a.boot_id, zero, 16) ||
	       memcmp(now, st->a.boot_id, 16) != 0;
}

/* Is entry st->k of segment i the valid next entry of the log (every rule of the validator)? */
static int entry_acceptable(struct rstate *st, size_t i, struct shlog_index_entry *e, const char **why)
{
	if (ent_read_why(st, i, st->k, e, why) < 0)
		return 0;
	if (st->k == 0 && sl_check_entry_first(e, st->p->segs[i].base_seq, why) < 0)
		return 0;
	if (st->have_last ? sl_check_entry_next(&st->last, e, why) < 0 : e->seq != st->seq || e->off != st->off) {
		if (!st->have_last)
			*why = "index entry does not start where the segment starts";
		return 0;
	}
	return span_ok(st, i, e, why);
}

/* Accept every valid, contiguous entry from the current position on. */
static void roll_forward(struct rstate *st)
{
	shlog_part *p = st->p;

	for (;;) {
		struct shlog_index_entry e;
		size_t i = st->si;
		if ((st->k + 1) * SHLOG_IDX_ENTRY_SIZE <= st->r[i].idx_size) {
			const char *why = NULL;
			if (!entry_acceptable(st, i, &e, &why)) {
				note_bad(st, i, st->k, why);
				return;
			}
			st->seq += e.count;
			st->off += e.len;
			st->last = e;
			st->have_last = 1;
			st->k++;
			continue;
		}
		if (i + 1 < st->n && p->segs[i + 1].base_seq == st->seq &&
		    (!st->r[i + 1].first_ok || p->segs[i + 1].base_off == st->off)) {
			st->si++;
			st->k = 0;
			p->segs[st->si].base_off = st->off;
			continue;
		}
		return;
	}
}

/* ---------------------------------------------------------------- */
/* Cutting the tail                                                   */
/* ---------------------------------------------------------------- */

/* Count whole messages ('\n') in bytes [from, to) of a log file (reads at most 64 MiB). */
static uint64_t count_lines(int fd, uint64_t from, uint64_t to)
{
	char buf[65536];
	uint64_t n = 0, read_total = 0;

	while (from < to && read_total < (64u << 20)) {
		size_t want = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t r = sl_io.pread(fd, buf, want, (off_t)from);
		if (r <= 0)
			break;
		n += sl_count_newlines(buf, (size_t)r);
		from += (uint64_t)r;
		read_total += (uint64_t)r;
	}
	return n;
}

/* Truncate the tail segment after the accepted entries and delete later segments. */
static int cut_tail(struct rstate *st)
{
	shlog_part *p = st->p;
	struct shlog_seg *g = &p->segs[st->si];
	uint64_t keep = st->off - g->base_off;
	int ro = p->s->o.read_only, rc = 0, dropped_segs = p->nsegs > st->si + 1;

	if (st->r[st->si].log_size > keep) {
		p->st.recovered_bytes_dropped += st->r[st->si].log_size - keep;
		p->st.recovered_msgs_dropped += count_lines(g->log_fd, keep, st->r[st->si].log_size);
	}
	if (!ro && (sl_io.ftruncate(g->log_fd, (off_t)keep) < 0 ||
		    sl_io.ftruncate(g->idx_fd, (off_t)(st->k * SHLOG_IDX_ENTRY_SIZE)) < 0))
		rc = -errno;
	while (rc == 0 && p->nsegs > st->si + 1) {
		struct shlog_seg *x = &p->segs[p->nsegs - 1];
		p->st.recovered_bytes_dropped += st->r[p->nsegs - 1].log_size;
		p->st.recovered_msgs_dropped += count_lines(x->log_fd, 0, st->r[p->nsegs - 1].log_size);
		sl_io.close(x->log_fd);
		sl_io.close(x->idx_fd);
		if (!ro)
			sl_writer_seg_unlink(p->dfd, x->base_seq);
		p->nsegs--;
	}
	/* no fdatasync here: durable_seq stays what the anchor proved (see
	 * seg_table_fill); a cut lost in an OS crash is found and cut again */
	if (rc == 0 && !ro && dropped_segs && sl_fsync_dir(p->dfd) < 0)
		rc = -errno;
	return rc;
}

/* Fill the in-memory segment table from what recovery accepted. */
static void seg_table_fill(struct rstate *st)
{
	shlog_part *p = st->p;
	struct shlog_index_entry e;

	for (size_t i = 0; i < p->nsegs; i++) {
		struct shlog_seg *g = &p->segs[i];
		int tail = i + 1 == p->nsegs;
		g->nents = tail ? st->k : st->r[i].idx_size / SHLOG_IDX_ENTRY_SIZE;
		g->end_seq = tail ? st->seq : p->segs[i + 1].base_seq;
		g->end_off = tail ? st->off : p->segs[i + 1].base_off;
		if (g->nents && ent_read(st, i, g->nents - 1, &e) == 0)
			g->last_time = e.time_ns;
	}
	p->start_seq = p->segs[0].base_seq;
	p->start_off = p->segs[0].base_off;
	p->committed_seq = p->end_seq = st->seq;
	/* durable: what the anchor proved, or all after a clean close or a rewrite */
	p->durable_seq = !st->have_a ? 0 : (st->a.flags & SHLOG_ANCHOR_FLAG_CLEAN) || st->rewritten
				      ? st->seq : st->a.durable_seq < st->seq ? st->a.durable_seq : st->seq;
	p->committed_off = p->end_off = st->off;
	/* the next block's time must not go back past any kept entry (a validity rule) */
	p->last_time_ns = st->have_a ? st->a.last_flush_ns : 0;
	for (size_t i = p->nsegs; i-- > 0;)
		if (p->segs[i].nents) {
			if (p->segs[i].last_time > p->last_time_ns)
				p->last_time_ns = p->segs[i].last_time;
			break;
		}
}

/* ---------------------------------------------------------------- */
/* Entry point                                                        */
/* ---------------------------------------------------------------- */

/* Open the partition's directory and anchor file; read the anchor. */
static int open_dir_and_anchor(struct rstate *st)
{
	shlog_part *p = st->p;
	unsigned char raw[SHLOG_ANCHOR_FILE_SIZE];
	char num[16];
	ssize_t n;
	int ro = p->s->o.read_only;

	sl_name_part(num, sizeof(num), p->num);
	p->dfd = sl_io_open(p->t->dfd, num, O_RDONLY, 0, S_IFDIR);
	if (p->dfd < 0) {
		int rc = p->dfd;
		p->dfd = -1;
		return rc;
	}
	p->anchor_fd = sl_io_open(p->dfd, SHLOG_ANCHOR_NAME, ro ? O_RDONLY : O_RDWR | O_CREAT,
				     SHLOG_FILE_MODE, S_IFREG);
	if (p->anchor_fd < 0) {
		int rc = p->anchor_fd;
		p->anchor_fd = -1;
		return ro && rc == -ENOENT ? 0 : rc;
	}
	n = sl_io.pread(p->anchor_fd, raw, sizeof(raw), 0);
	st->have_a = n > 0 && sl_anchor_pick(raw, (size_t)n, &st->a) == 0;
	if (!ro)
		sl_io.unlinkat(p->dfd, SHLOG_KEYS_TMP_NAME, 0);
	return 0;
}

/* A partition with no segment files: new, or its files were lost. */
static int recover_empty(struct rstate *st)
{
	shlog_part *p = st->p;
	uint64_t seq = st->have_a ? st->a.committed_seq : 0, off = st->have_a ? st->a.committed_off : 0;
	int rc;

	if (seq > 0 && !p->s->o.repair) {
		sl_logf(p->s, SHLOG_ERR, "%s: anchor records %llu messages but there are no segment files; "
			   "refusing to open (the repair option starts it empty at message %llu)", p->name,
			   (unsigned long long)seq, (unsigned long long)seq);
		return -EUCLEAN;
	}
	if (p->s->o.read_only)
		return -EUCLEAN;
	rc = sl_writer_seg_create(p, seq, off);
	return rc > 0 ? -EIO : rc;   /* its directory sync failed: nothing may be called durable */
}

/*
 * Decide where the valid log ends: steps 1–3 of recovery.  After a clean
 * close, or a process crash (same boot), the page cache held every write
 * in order: start at the anchor and check its last span.  After an OS
 * crash, writeback may have reached the disk out of order: check every
 * span written since the anchor's durable point.
 */
static int find_end(struct rstate *st)
{
	shlog_part *p = st->p;
	int any_data = 0, rc;
	const char *why;

	for (size_t i = 0; i < st->n; i++)
		any_data |= st->r[i].log_size > 0 || st->r[i].idx_size > 0;
	if (!st->have_a && any_data && !p->s->o.repair) {
		sl_logf(p->s, SHLOG_ERR, "%s: anchor missing or both slots invalid while the log holds data; "
			   "refusing to open (the repair option rebuilds it from the index)", p->name);
		return -EUCLEAN;
	}
	if (st->have_a && sl_check_anchor_segs(&st->a, p->segs[st->n - 1].base_seq, &why) < 0)
		sl_logf(p->s, SHLOG_WARNING, "%s: anchor slot %llu: %s; recovering from the segments there are",
			   p->name, (unsigned long long)(st->a.gen % 2), why);
	if (st->have_a && !p->s->o.repair) {
		int crashed_os = !(st->a.flags & SHLOG_ANCHOR_FLAG_CLEAN) && os_restarted(st);
		rc = crashed_os ? start_at(st, st->a.durable_seq, 0) : start_at(st, st->a.committed_seq, 1);
		if (rc < 0) {
			sl_logf(p->s, SHLOG_ERR, "%s: the anchor (message %llu) points outside the segments",
				   p->name, (unsigned long long)st->a.committed_seq);
			return -EUCLEAN;
		}
	} else {
		st->si = 0;
		if (position_after(st, 0) < 0) {
			sl_logf(p->s, SHLOG_ERR, "%s: cannot tell where the first segment starts", p->name);
			return -EUCLEAN;
		}
	}
	roll_forward(st);
	return 0;
}

/*
 * The anchor says an fdatasync failed: the kernel may have marked those
 * pages clean without writing them.  Rewrite every byte of the segments
 * after the durable point (read back from the page cache) so the sync in
 * cut_tail() really writes them.
 */
static int rewrite_unsynced(struct rstate *st)
{
	shlog_part *p = st->p;
	char *buf;
	int rc = 0;

	if (!st->have_a || !(st->a.flags & SHLOG_ANCHOR_FLAG_SYNC_FAILED) || p->s->o.read_only)
		return 0;
	buf = malloc(1u << 20);
	if (!buf)
		return -ENOMEM;
	sl_logf(p->s, SHLOG_NOTICE, "%s: an fdatasync failed before; writing back everything after "
		   "message %llu again", p->name, (unsigned long long)st->a.durable_seq);
	for (size_t i = 0; rc == 0 && i < p->nsegs; i++) {
		int fds[2] = { p->segs[i].log_fd, p->segs[i].idx_fd };
		uint64_t sizes[2] = { st->r[i].log_size, st->r[i].idx_size };
		if (i + 1 < p->nsegs && p->segs[i + 1].base_seq <= st->a.durable_seq)
			continue;
		for (int f = 0; rc == 0 && f < 2; f++) {
			for (uint64_t o = 0; rc == 0 && o < sizes[f]; o += 1u << 20) {
				size_t n = sizes[f] - o < (1u << 20) ? (size_t)(sizes[f] - o) : (1u << 20);
				rc = sl_io_pread_full(fds[f], buf, n, (off_t)o);
				if (rc == 0)
					rc = sl_io_pwrite_full(fds[f], buf, n, (off_t)o);
			}
			if (rc == 0 && sl_io.fdatasync(fds[f]) < 0)
				rc = -errno;
		}
	}
	free(buf);
	if (rc < 0)
		sl_logf(p->s, SHLOG_ERR, "%s: writing back unsynced data failed: %s", p->name, strerror(-rc));
	st->rewritten = rc == 0;
	return rc;
}

/* Log what recovery cut compared with what the anchor promised. */
static void report_loss(struct rstate *st)
{
	shlog_part *p = st->p;

	if (!st->have_a || st->seq >= st->a.committed_seq)
		return;
	if (st->seq < st->a.durable_seq)
		sl_logf(p->s, SHLOG_WARNING,
			   "%s: damaged tail at %s: %llu messages (%llu..%llu) that were synced to disk are gone; "
			   "the disk lost synced data or the files were changed; the log now ends before message %llu",
			   p->name, st->bad[0] ? st->bad : "end of index",
			   (unsigned long long)(st->a.durable_seq - st->seq), (unsigned long long)st->seq,
			   (unsigned long long)(st->a.durable_seq - 1), (unsigned long long)st->seq);
	else
		sl_logf(p->s, SHLOG_NOTICE, "%s: the anchor was ahead of the data by %llu messages "
			   "(not synced before a crash); recovered to message %llu", p->name,
			   (unsigned long long)(st->a.committed_seq - st->seq), (unsigned long long)st->seq);
}

/*
 * The end recovery settled on must lie in the segments there are: an end
 * before the first segment's start (an anchor or index naming messages no
 * segment holds) is damage, refused like any other (-EUCLEAN, logged).
 */
static int check_end_in_segments(struct rstate *st)
{
	shlog_part *p = st->p;

	if (st->seq >= p->segs[0].base_seq && st->off >= p->segs[0].base_off)
		return 0;
	sl_logf(p->s, SHLOG_ERR, "%s: the log would end at message %llu, before its first segment "
		"(message %llu): refusing to open (verify, then repair)", p->name,
		(unsigned long long)st->seq, (unsigned long long)p->segs[0].base_seq);
	return -EUCLEAN;
}

/* Steps 1–3 over the segment files @seqs[0..st->n): find where the valid log ends and cut the rest. */
static int recover_segments(struct rstate *st, uint64_t *seqs)
{
	shlog_part *p = st->p;
	int rc;

	drop_half_deleted(p, seqs, &st->n);
	rc = seg_open_all(st, seqs);
	if (rc == 0)
		rc = check_older(st);
	if (rc == 0)
		rc = find_end(st);
	if (rc == 0)
		report_loss(st);
	if (rc == 0)
		rc = rewrite_unsynced(st);
	if (rc == 0)
		rc = cut_tail(st);
	if (rc == 0)
		rc = check_end_in_segments(st);
	if (rc == 0)
		seg_table_fill(st);
	return rc;
}

/* No segment files: start an empty log where the anchor says (or at 0). */
static int recover_none(struct rstate *st)
{
	shlog_part *p = st->p;
	int rc = recover_empty(st);

	if (rc == 0) {
		p->committed_seq = p->end_seq = p->durable_seq = p->start_seq;
		p->committed_off = p->end_off = p->start_off;
	}
	return rc;
}

/* The log is settled: load the keys, write a fresh anchor (synced for a new partition), log the cut. */
static int recover_finish(struct rstate *st, int create)
{
	shlog_part *p = st->p;
	int rc = sl_keys_load(p, st->have_a ? &st->a : NULL);

	if (rc == 0) {
		p->anchor_gen = st->have_a ? st->a.gen : 0;
		if (!p->s->o.read_only && p->anchor_fd >= 0)
			rc = sl_writer_anchor(p, 0);
		if (rc == 0 && create && sl_io.fdatasync(p->anchor_fd) < 0)
			rc = -errno;
	}
	if (rc == 0 && p->st.recovered_bytes_dropped)
		sl_logf(p->s, SHLOG_NOTICE, "%s: recovery dropped a torn tail of %llu bytes (%llu messages)",
			p->name, (unsigned long long)p->st.recovered_bytes_dropped,
			(unsigned long long)p->st.recovered_msgs_dropped);
	return rc;
}

/* Recover (or with @create, initialise) a partition; see the top of the file. */
int sl_part_recover(shlog_part *p, int create)
{
	struct rstate st = { .p = p };
	int64_t t0 = sl_now_mono();
	uint64_t *seqs = NULL, *orphans = NULL;
	size_t norphans = 0;
	int rc;

	rc = open_dir_and_anchor(&st);
	if (rc == 0)
		rc = sl_seg_list(p->dfd, &seqs, &st.n, &orphans, &norphans);
	if (rc == 0)
		drop_orphan_idx(&st, orphans, norphans);
	if (rc == 0)
		rc = st.n == 0 ? recover_none(&st) : recover_segments(&st, seqs);
	if (rc == 0)
		rc = recover_finish(&st, create);
	free(seqs);
	free(orphans);
	free(st.r);
	p->st.recovery_us = (uint64_t)(sl_now_mono() - t0) / 1000;
	if (rc < 0 && rc != -EUCLEAN)
		sl_logf(p->s, SHLOG_ERR, "%s: cannot open: %s", p->name, strerror(-rc));
	return rc;
}
