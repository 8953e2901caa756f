/*
 * writer.c — the one writer of segments, anchors and cursors files: framing a block into
 * spans (seed steps A–D), the block's writes, segments made and deleted
 * (roll, wrap retention), the anchor, the partition's fdatasync and the
 * commit order of a block.  The flush (part.c), recovery (recover.c) and
 * compaction (compact.c) all write through here; see writer_i.h for the
 * two levels, docs/DESIGN.md for the commit order and docs/FORMAT.md for
 * the bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "array_i.h"
#include "crc_i.h"
#include "held_i.h"
#include "io_i.h"
#include "writer_i.h"

/* ================================================================ */
/* Framing: blocks into spans and index entries                      */
/* ================================================================ */

/* The framing rule (step C): a span ends before every stride-th message and before it passes the byte cap. */
int sl_writer_span_ends(uint32_t stride, uint64_t seq, size_t span_len, size_t len)
{
	return span_len > 0 && (seq % stride == 0 || span_len + len > SHLOG_SPAN_MAX_BYTES);
}

/* Append an encoded entry to the scratch (grows as needed). */
static int scratch_add_entry(struct flush_scratch *x, const struct shlog_index_entry *e)
{
	unsigned char *n = sl_array_room(x->ents, &x->cap_ents, x->nents, SHLOG_IDX_ENTRY_SIZE);

	if (!n)
		return -ENOMEM;
	x->ents = n;
	sl_entry_encode(e, x->ents + x->nents++ * SHLOG_IDX_ENTRY_SIZE);
	return 0;
}

/* Remember a keyed message for step B. */
static int scratch_add_keyed(struct flush_scratch *x, uint32_t pos, uint32_t len, uint64_t seq)
{
	struct keyed *n = sl_array_room(x->keyed, &x->cap_keyed, x->nkeyed, sizeof(*n));

	if (!n)
		return -ENOMEM;
	x->keyed = n;
	x->keyed[x->nkeyed++] = (struct keyed){ pos, len, seq };
	return 0;
}

/* Close the span [start, end) of buf as index entry e (step C). */
static int span_close(struct flush_scratch *x, struct shlog_index_entry *e,
		      const char *buf, size_t start, size_t end)
{
	e->len = (uint32_t)(end - start);
	e->crc = sl_crc32c(buf + start, end - start);
	return scratch_add_entry(x, e);
}

/*
 * Steps A–C over a block: walk the messages computing positions (A),
 * collect keyed messages (B), and cut spans into index entries (C) at the
 * block start, every stride-th sequence number and the span byte cap.
 * The remainder (D) is the last, shorter span.
 */
int sl_writer_plan(struct flush_scratch *x, uint32_t stride, const char *buf, size_t len,
		   uint64_t seq0, uint64_t off0, int64_t t, int keys)
{
	struct shlog_index_entry e = { .seq = seq0, .off = off0, .time_ns = t };
	size_t pos = 0, span = 0;
	uint64_t seq = seq0;
	int rc = 0;

	x->nents = x->nkeyed = 0;
	while (pos < len && rc == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t mlen = (size_t)(nl - (buf + pos));
		uint32_t klen;

		if (sl_writer_span_ends(stride, seq, pos - span, mlen + 1)) {
			rc = span_close(x, &e, buf, span, pos);
			e = (struct shlog_index_entry){ .seq = seq, .off = off0 + pos, .time_ns = t };
			span = pos;
		}
		if (rc == 0 && keys && sl_msg_key(buf + pos, (uint32_t)mlen, &klen))
			rc = scratch_add_keyed(x, (uint32_t)pos, (uint32_t)mlen, seq);
		e.count++;
		pos += mlen + 1;
		seq++;
	}
	if (rc == 0)
		rc = span_close(x, &e, buf, span, len);
	return rc;
}

/* ================================================================ */
/* Files: a block's writes, a segment's files, an anchor slot        */
/* ================================================================ */

/* Write a planned block: entries first, then bytes; both files cut back on failure. */
int sl_writer_put(int log_fd, int idx_fd, uint64_t nents, uint64_t pos, const struct flush_scratch *x,
		  const char *buf, size_t len)
{
	int rc = sl_io_pwrite_full(idx_fd, x->ents, x->nents * SHLOG_IDX_ENTRY_SIZE,
				   (off_t)(nents * SHLOG_IDX_ENTRY_SIZE));

	if (rc == 0)
		rc = sl_io_pwrite_full(log_fd, buf, len, (off_t)pos);
	if (rc < 0) {
		sl_io.ftruncate(idx_fd, (off_t)(nents * SHLOG_IDX_ENTRY_SIZE));
		sl_io.ftruncate(log_fd, (off_t)pos);
	}
	return rc;
}

/* Open or create a segment's .log and .idx (flags say how: O_TRUNC for a roll, O_EXCL for a copy). */
int sl_writer_seg_files(int dfd, uint64_t seq, int flags, int *log_fd, int *idx_fd)
{
	char name[32];

	sl_name_segment(name, sizeof(name), seq, SL_SEG_LOG);
	*log_fd = sl_io_open(dfd, name, flags, SHLOG_FILE_MODE, S_IFREG);
	if (*log_fd < 0)
		return *log_fd;
	sl_name_segment(name, sizeof(name), seq, SL_SEG_IDX);
	*idx_fd = sl_io_open(dfd, name, flags, SHLOG_FILE_MODE, S_IFREG);
	if (*idx_fd < 0) {
		sl_io.close(*log_fd);
		*log_fd = -1;
		return *idx_fd;
	}
	return 0;
}

/* Encode and write one anchor slot (the one its generation selects). */
int sl_writer_slot_put(int fd, const struct shlog_anchor *a)
{
	unsigned char slot[SHLOG_ANCHOR_SLOT_SIZE];

	sl_anchor_encode(a, slot);
	return sl_io_pwrite_full(fd, slot, sizeof(slot), (off_t)(a->gen % 2) * SHLOG_ANCHOR_SLOT_SIZE);
}

/* Open the cursors file of @dfd for writing; *made is 1 if this call created it. */
static int cursors_open(int dfd, int *made)
{
	int fd = sl_io_open(dfd, SHLOG_CURSORS_NAME, O_WRONLY, 0, S_IFREG);

	*made = 0;
	if (fd != -ENOENT)
		return fd;
	fd = sl_io_open(dfd, SHLOG_CURSORS_NAME, O_WRONLY | O_CREAT | O_EXCL, SHLOG_FILE_MODE, S_IFREG);
	*made = fd >= 0;
	return fd;
}

/*
 * Write cursors image @img (@len bytes, generation @gen) into its slot of
 * @dfd's cursors file and fdatasync it; a file this call made is followed
 * by an fsync of @dfd.  The other slot is never touched, so a torn write
 * leaves the previous generation.  0 or -errno.
 */
int sl_writer_cursors_put(int dfd, uint64_t gen, const unsigned char *img, size_t len)
{
	int made, rc, fd = cursors_open(dfd, &made);

	if (fd < 0)
		return fd;
	rc = sl_io_pwrite_full(fd, img, len, (off_t)(gen % 2) * SHLOG_CURSOR_SLOT_SIZE);
	if (rc == 0 && sl_io.fdatasync(fd) < 0)
		rc = -errno;
	if (sl_io.close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && made)
		rc = sl_fsync_dir(dfd);
	return rc;
}

/* ================================================================ */
/* Anchor and durability                                             */
/* ================================================================ */

/* Write the next anchor slot describing the committed state given. */
static int anchor_write(shlog_part *p, uint64_t cseq, uint64_t coff, int64_t t,
			uint64_t durable, int clean)
{
	struct shlog_anchor a = { 0 };
	int rc;

	a.flags = (clean ? SHLOG_ANCHOR_FLAG_CLEAN : 0) | (p->sync_failed ? SHLOG_ANCHOR_FLAG_SYNC_FAILED : 0);
	memcpy(a.boot_id, p->s->boot_id, sizeof(a.boot_id));
	a.gen = p->anchor_gen + 1;
	a.committed_seq = cseq;
	a.committed_off = coff;
	pthread_rwlock_rdlock(&p->seglock);
	a.seg_base_seq = p->segs[p->nsegs - 1].base_seq;
	pthread_rwlock_unlock(&p->seglock);
	if (a.seg_base_seq > cseq)
		a.seg_base_seq = cseq;
	a.last_flush_ns = t;
	pthread_mutex_lock(&p->keymu);
	a.keys_seq = p->keys_seq;
	a.keys_off = p->keys_off;
	a.keys_snap_seq = p->keys_snap_seq;
	a.nkeys = p->nkeys;
	pthread_mutex_unlock(&p->keymu);
	a.durable_seq = durable;
	rc = sl_writer_slot_put(p->anchor_fd, &a);
	if (rc < 0) {
		sl_logf(p->s, SHLOG_WARNING, "%s: anchor write failed: %s (recovery will roll forward)",
			p->name, strerror(-rc));
		return rc;
	}
	p->anchor_gen = a.gen;
	return 0;
}

/* Write an anchor for the partition's committed state (close, recovery, a failed sync). */
int sl_writer_anchor(shlog_part *p, int clean)
{
	SL_NOT_HELD(&p->mu);
	uint64_t cseq, coff, dur;
	int64_t t;

	pthread_mutex_lock(&p->mu);
	cseq = p->committed_seq;
	coff = p->committed_off;
	dur = p->durable_seq;
	t = p->last_time_ns;
	pthread_mutex_unlock(&p->mu);
	return anchor_write(p, cseq, coff, t, dur, clean);
}

/* fdatasync the tail segment's two files, timing it for the fsync histogram. */
int sl_writer_sync(shlog_part *p)
{
	int64_t t0 = sl_now_mono();
	int rc = 0;

	pthread_rwlock_rdlock(&p->seglock);
	if (sl_io.fdatasync(p->segs[p->nsegs - 1].log_fd) < 0 ||
	    sl_io.fdatasync(p->segs[p->nsegs - 1].idx_fd) < 0)
		rc = -errno;
	pthread_rwlock_unlock(&p->seglock);
	shlog_lat_add(&p->lat_fsync, sl_now_mono() - t0);
	if (rc < 0)
		sl_logf(p->s, SHLOG_ERR, "%s: fdatasync failed: %s; the partition refuses writes until reopened",
			p->name, strerror(-rc));
	return rc;
}

/*
 * An fdatasync or fsync failed: the kernel may have marked the unsynced
 * pages clean, so they may never reach the disk, and a later sync that
 * succeeds proves nothing about them.  So the failure is sticky: the
 * partition refuses appends and syncs from now on (p->fatal), and the
 * anchor records it (best effort) so that the next open rewrites and
 * syncs everything after durable_seq before trusting it.  Every failed
 * sync of the partition's files comes here.
 */
void sl_writer_sync_failed(shlog_part *p)
{
	SL_NOT_HELD(&p->mu);
	pthread_mutex_lock(&p->mu);
	p->sync_failed = 1;
	p->fatal = -EIO;
	pthread_mutex_unlock(&p->mu);
	if (sl_writer_anchor(p, 0) == 0)
		sl_io.fdatasync(p->anchor_fd);
}

/* ================================================================ */
/* Segments: create, delete the oldest, roll                         */
/* ================================================================ */

/* Add segment @g to the end of the table (the new tail; one a roll, so grown by one); -ENOMEM. */
static int seg_table_append(shlog_part *p, const struct shlog_seg *g)
{
	struct shlog_seg *n;

	pthread_rwlock_wrlock(&p->seglock);
	n = realloc(p->segs, (p->nsegs + 1) * sizeof(*n));
	if (n) {
		p->segs = n;
		p->segs[p->nsegs++] = *g;
		if (p->nsegs == 1) {
			p->start_seq = g->base_seq;
			p->start_off = g->base_off;
		}
	}
	pthread_rwlock_unlock(&p->seglock);
	return n ? 0 : -ENOMEM;
}

/* Create an empty tail segment (roll, or an empty partition at open); 1 if its directory sync failed. */
int sl_writer_seg_create(shlog_part *p, uint64_t seq, uint64_t off)
{
	struct shlog_seg g = { .base_seq = seq, .base_off = off, .end_seq = seq, .end_off = off,
			       .log_fd = -1, .idx_fd = -1 };
	int rc = sl_res_charge(p, SHLOG_RES_SEG_FDS), dir_sync_failed = 0;

	if (rc < 0)
		return rc;
	rc = sl_writer_seg_files(p->dfd, seq, O_RDWR | O_CREAT | O_TRUNC, &g.log_fd, &g.idx_fd);
	g.ents = rc == 0 ? calloc(64, sizeof(*g.ents)) : NULL;
	g.ents_cap = 64;
	if (rc == 0 && !g.ents)
		rc = -ENOMEM;
	/* a failed directory sync is sticky (the caller's policy): the segment is kept, 1 returned */
	if (rc == 0 && sl_fsync_dir(p->dfd) < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: fsync of the directory after creating segment %llu failed: %s",
			p->name, (unsigned long long)seq, strerror(errno));
		dir_sync_failed = 1;
	}
	if (rc == 0)
		rc = seg_table_append(p, &g);
	if (rc < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: cannot create segment %llu: %s", p->name,
			(unsigned long long)seq, strerror(-rc));
		sl_seg_close(&g);
		sl_res_uncharge(p, SHLOG_RES_SEG_FDS, 0);
		return rc;
	}
	sl_res_rolled(p);
	return dir_sync_failed;
}

/* Delete a segment's two files, the .log first. */
void sl_writer_seg_unlink(int dfd, uint64_t seq)
{
	char name[SHLOG_SEG_NAME_CAP];

	/* the .log first: a .idx without its .log is ignored, and removed by the next open */
	sl_name_segment(name, sizeof(name), seq, SL_SEG_LOG);
	sl_io.unlinkat(dfd, name, 0);
	sl_name_segment(name, sizeof(name), seq, SL_SEG_IDX);
	sl_io.unlinkat(dfd, name, 0);
}

/* Retention deleted the log below the start: forget the bookmarks there, snapshot if replay lost its start. */
static void keys_after_retention(shlog_part *p)
{
	sl_keys_drop_before(p, p->start_off);
	pthread_mutex_lock(&p->keymu);
	if (p->keys_seq < p->start_seq)
		p->keys_force = 1;
	pthread_mutex_unlock(&p->keymu);
}

/* Wrap retention: delete the oldest segment (never the tail); 1 if the directory sync failed. */
static int seg_drop_oldest(shlog_part *p)
{
	char lname[SHLOG_SEG_NAME_CAP];
	struct shlog_seg old;
	int dir_synced;

	if (p->nsegs < 2)
		return 0;
	pthread_rwlock_wrlock(&p->seglock);
	old = p->segs[0];
	memmove(&p->segs[0], &p->segs[1], (p->nsegs - 1) * sizeof(*p->segs));
	p->nsegs--;
	p->start_seq = p->segs[0].base_seq;
	p->start_off = p->segs[0].base_off;
	pthread_rwlock_unlock(&p->seglock);
	if (old.log_fd >= 0)
		sl_res_uncharge(p, SHLOG_RES_SEG_FDS, 1);
	sl_seg_close(&old);
	sl_name_segment(lname, sizeof(lname), old.base_seq, SL_SEG_LOG);
	sl_writer_seg_unlink(p->dfd, old.base_seq);
	dir_synced = sl_fsync_dir(p->dfd) == 0;
	if (!dir_synced)
		sl_logf(p->s, SHLOG_ERR, "%s: fsync of the directory after deleting segment %s failed: %s",
			p->name, lname, strerror(errno));
	sl_logf(p->s, SHLOG_INFO, "%s: retention deleted segment %s (messages %llu..%llu)", p->name,
		lname, (unsigned long long)old.base_seq, (unsigned long long)(p->start_seq - 1));
	keys_after_retention(p);
	return dir_synced ? 0 : 1;
}

/* Is wrap retention due to delete a segment before the next one is made? */
static int wrap_due(shlog_part *p)
{
	const struct shlog_options *o = &p->s->o;

	return o->retention == SHLOG_RETAIN_WRAP && p->nsegs >= o->max_segments;
}

/* A durable anchor inside the retained log before anything is deleted: 1 synced, 0 not, or -errno. */
static int anchor_before_delete(shlog_part *p, uint64_t seq0, uint64_t off0)
{
	int rc = anchor_write(p, seq0, off0, p->last_time_ns, seq0, 0);

	if (rc < 0)
		return rc;
	if (sl_io.fdatasync(p->anchor_fd) < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: fdatasync of the anchor failed: %s; the partition refuses "
			"writes until reopened", p->name, strerror(errno));
		return 0;
	}
	return 1;
}

/*
 * Roll to a new segment starting at seq0/off0, applying retention.
 * Returns 0, 1 when a sync failed (sticky: the roll is still made so the
 * block can be written for the next open to rewrite, but nothing is
 * deleted and nothing more is called durable), or a negative errno.
 */
static int seg_roll(shlog_part *p, uint64_t seq0, uint64_t off0)
{
	int rc = sl_writer_sync(p), synced = rc == 0;

	if (synced && wrap_due(p)) {
		rc = anchor_before_delete(p, seq0, off0);
		if (rc < 0)
			return rc;
		synced = rc;
	}
	if (!synced)
		sl_writer_sync_failed(p);
	while (synced && wrap_due(p)) {
		rc = seg_drop_oldest(p);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			sl_writer_sync_failed(p);
			synced = 0;
		}
	}
	rc = sl_writer_seg_create(p, seq0, off0);
	if (rc > 0)
		sl_writer_sync_failed(p);
	return rc < 0 ? rc : !synced || rc > 0;
}

/* ================================================================ */
/* The commit of one block                                           */
/* ================================================================ */

/* Make room in the tail's loaded entries for @more; on no memory drop them (reloaded lazily). */
static void ents_reserve(struct shlog_seg *g, size_t more)
{
	struct shlog_index_entry *n = sl_array_reserve(g->ents, &g->ents_cap, g->nents + more, sizeof(*n));

	if (!n) {
		free(g->ents);
		g->ents = NULL;
		g->ents_cap = 0;
		return;
	}
	g->ents = n;
}

/* Publish the block's entries in the tail segment (readers see them). */
static void block_publish(shlog_part *p, struct flush_scratch *x, uint64_t seq_end,
			  uint64_t off_end, int64_t t)
{
	struct shlog_seg *g;

	pthread_rwlock_wrlock(&p->seglock);
	g = &p->segs[p->nsegs - 1];
	if (g->ents)
		ents_reserve(g, x->nents);
	for (size_t i = 0; g->ents && i < x->nents; i++)
		sl_entry_decode(x->ents + i * SHLOG_IDX_ENTRY_SIZE, &g->ents[g->nents + i], NULL);
	if (g->nents == 0)
		g->first_time = t;
	g->last_time = t;
	g->nents += x->nents;
	g->end_seq = seq_end;
	g->end_off = off_end;
	pthread_rwlock_unlock(&p->seglock);
}

/* Step B: update the bookmark of every keyed message in the block. */
static void block_keys(shlog_part *p, struct flush_scratch *x, const struct sl_block *b,
		       uint64_t seq_end, uint64_t off_end)
{
	pthread_mutex_lock(&p->keymu);
	for (size_t i = 0; i < x->nkeyed; i++)
		sl_keys_apply(p, b->buf + x->keyed[i].pos, x->keyed[i].len, x->keyed[i].seq,
			      b->off0 + x->keyed[i].pos, b->t);
	if (p->keys_delta == 0) {
		p->keys_seq = seq_end;
		p->keys_off = off_end;
	}
	pthread_mutex_unlock(&p->keymu);
}

/* Roll first if block @b would take the tail past segment_bytes: 0, 1 (a sync failed) or -errno. */
static int roll_if_full(shlog_part *p, const struct sl_block *b)
{
	struct shlog_seg *g = &p->segs[p->nsegs - 1];

	if (g->end_off > g->base_off && g->end_off - g->base_off + b->len > p->s->o.segment_bytes)
		return seg_roll(p, b->seq0, b->off0);
	return 0;
}

/* Commit one block in the order of docs/DESIGN.md (see writer_i.h). */
int sl_writer_commit(shlog_part *p, struct flush_scratch *x, const struct sl_block *b)
{
	SL_NOT_HELD(&p->mu);
	uint64_t seq_end = b->seq0 + b->count, off_end = b->off0 + b->len, durable = b->durable;
	struct shlog_seg *g;
	int rc, sync_bad;

	rc = roll_if_full(p, b);
	if (rc < 0)
		return rc;
	sync_bad = rc > 0;
	g = &p->segs[p->nsegs - 1];
	rc = sl_writer_plan(x, p->s->o.stride, b->buf, b->len, b->seq0, b->off0, b->t, 1);
	if (rc == 0)
		rc = sl_writer_put(g->log_fd, g->idx_fd, g->nents, b->off0 - g->base_off, x, b->buf, b->len);
	if (rc < 0)
		return rc;
	/* after a failed sync no later one may call this block durable */
	if (b->need_sync && !sync_bad) {
		if (sl_writer_sync(p) < 0)
			return 1;
		durable = seq_end;
	}
	block_publish(p, x, seq_end, off_end, b->t);
	block_keys(p, x, b, seq_end, off_end);
	if (sl_keys_checkpoint_due(p, off_end))
		sl_keys_checkpoint(p, seq_end, off_end);
	anchor_write(p, seq_end, off_end, b->t, durable, 0);
	return sync_bad;
}
