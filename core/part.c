/*
 * part.c — one partition at run time: appending into the RAM buffer, the
 * flush (seed steps A–D and the commit: index write, log write, anchor),
 * durability, and reads that see buffered data.
 *
 * Two buffers per partition: appenders copy into `active`; a flush swaps
 * it with the empty `flushing` buffer under the partition mutex and then
 * writes `flushing` without holding any lock.  Readers copy buffered
 * bytes under the mutex, so a message is readable the moment its append
 * returns.  One flush per partition runs at a time (`busy`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc_i.h"
#include "engine_i.h"
#include "io_i.h"

/* ================================================================ */
/* Life cycle                                                        */
/* ================================================================ */

/* Allocate an empty partition object with one reference. */
shlog_part *sl_part_new(shlog_store *s, struct shlog_topic *t, uint32_t num)
{
	shlog_part *p = calloc(1, sizeof(*p));
	pthread_rwlockattr_t ra;

	if (!p)
		return NULL;
	p->s = s;
	p->t = t;
	p->num = num;
	snprintf(p->name, sizeof(p->name), "%s/%u", t->name, num);
	p->dfd = p->anchor_fd = -1;
	atomic_init(&p->refs, 1);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&p->seglock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&p->entmu, NULL);
	pthread_mutex_init(&p->keymu, NULL);
	sl_res_part_init(p);
	return p;
}

/* Free a partition whose last reference is gone. */
void sl_part_free(shlog_part *p)
{
	sl_res_forget(p);
	sl_seg_close_all(p);
	sl_keys_free(p);
	free(p->active.data);
	free(p->flushing.data);
	free(p->scratch.ents);
	free(p->scratch.keyed);
	if (p->anchor_fd >= 0)
		sl_io.close(p->anchor_fd);
	if (p->dfd >= 0)
		sl_io.close(p->dfd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->done);
	pthread_rwlock_destroy(&p->seglock);
	pthread_mutex_destroy(&p->entmu);
	pthread_mutex_destroy(&p->keymu);
	pthread_mutex_destroy(&p->fdmu);
	free(p);
}

static void flush_next(shlog_part *p);
static void mark_sync_failed(shlog_part *p);

/* ================================================================ */
/* Anchor and durability                                             */
/* ================================================================ */

/* Write the next anchor slot describing the committed state given. */
static int anchor_write(shlog_part *p, uint64_t cseq, uint64_t coff, int64_t t,
			uint64_t durable, int clean)
{
	unsigned char slot[SHLOG_ANCHOR_SLOT_SIZE];
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
	sl_anchor_encode(&a, slot);
	rc = sl_io_pwrite_full(p->anchor_fd, slot, sizeof(slot),
				  (off_t)(a.gen % 2) * SHLOG_ANCHOR_SLOT_SIZE);
	if (rc < 0) {
		sl_logf(p->s, SHLOG_WARNING, "%s: anchor write failed: %s (recovery will roll forward)",
			   p->name, strerror(-rc));
		return rc;
	}
	p->anchor_gen = a.gen;
	return 0;
}

/* Write an anchor for the partition's current committed state. */
int sl_part_write_anchor(shlog_part *p, int clean)
{
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

/* fdatasync the tail segment's log and index (older ones were synced at roll). */
int sl_part_sync_files(shlog_part *p)
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
 * sync of the partition's files comes here.  p->mu not held.
 */
static void mark_sync_failed(shlog_part *p)
{
	pthread_mutex_lock(&p->mu);
	p->sync_failed = 1;
	p->fatal = -EIO;
	pthread_mutex_unlock(&p->mu);
	if (sl_part_write_anchor(p, 0) == 0)
		sl_io.fdatasync(p->anchor_fd);
}

/* Interval policy: make everything committed so far durable; pinned. */
static void sync_run_pinned(shlog_part *p)
{
	uint64_t c;
	int rc;

	pthread_mutex_lock(&p->mu);
	if (p->deleted || p->fatal || p->durable_seq >= p->committed_seq || p->busy) {
		if (!p->deleted && !p->fatal && p->durable_seq < p->end_seq)
			sl_sched_arm_sync(p);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->busy = 1;
	c = p->committed_seq;
	pthread_mutex_unlock(&p->mu);
	rc = sl_part_sync_files(p);
	pthread_mutex_lock(&p->mu);
	p->busy = 0;
	p->st.fsyncs++;
	if (rc < 0)
		p->fatal = -EIO;
	else if (c > p->durable_seq)
		p->durable_seq = c;
	if (p->durable_seq < p->end_seq && !p->fatal)
		sl_sched_arm_sync(p);
	pthread_cond_broadcast(&p->done);
	flush_next(p);
	pthread_mutex_unlock(&p->mu);
	if (rc < 0)
		mark_sync_failed(p);
}

/* Interval policy (worker): pin the files and sync; if they cannot be opened, try again later. */
void sl_part_sync_run(shlog_part *p)
{
	if (sl_res_pin(p) < 0) {
		pthread_mutex_lock(&p->mu);
		if (!p->deleted && !p->fatal && p->durable_seq < p->committed_seq)
			sl_sched_arm_sync(p);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	sync_run_pinned(p);
	sl_res_unpin(p);
}

/* ================================================================ */
/* The flush: steps A–D and the commit                               */
/* ================================================================ */

/* Append an encoded entry to the scratch (grows as needed). */
static int scratch_add_entry(struct flush_scratch *x, const struct shlog_index_entry *e)
{
	if (x->nents == x->cap_ents) {
		size_t cap = x->cap_ents ? x->cap_ents * 2 : 16;
		unsigned char *n = realloc(x->ents, cap * SHLOG_IDX_ENTRY_SIZE);
		if (!n)
			return -ENOMEM;
		x->ents = n;
		x->cap_ents = cap;
	}
	sl_entry_encode(e, x->ents + x->nents++ * SHLOG_IDX_ENTRY_SIZE);
	return 0;
}

/* Remember a keyed message for step B. */
static int scratch_add_keyed(struct flush_scratch *x, uint32_t pos, uint32_t len, uint64_t seq)
{
	if (x->nkeyed == x->cap_keyed) {
		size_t cap = x->cap_keyed ? x->cap_keyed * 2 : 64;
		struct keyed *n = realloc(x->keyed, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		x->keyed = n;
		x->cap_keyed = cap;
	}
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
static int block_plan(shlog_part *p, struct flush_scratch *x, const char *buf, size_t len,
		      uint64_t seq0, uint64_t off0, int64_t t)
{
	const uint32_t stride = p->s->o.stride;
	struct shlog_index_entry e = { .seq = seq0, .off = off0, .time_ns = t };
	size_t pos = 0, span = 0;
	uint64_t seq = seq0;
	int rc = 0;

	x->nents = x->nkeyed = 0;
	while (pos < len && rc == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t mlen = (size_t)(nl - (buf + pos));
		uint32_t klen;

		if (pos > span && (seq % stride == 0 || pos + mlen + 1 - span > SHLOG_SPAN_MAX_BYTES)) {
			rc = span_close(x, &e, buf, span, pos);
			e = (struct shlog_index_entry){ .seq = seq, .off = off0 + pos, .time_ns = t };
			span = pos;
		}
		if (rc == 0 && sl_msg_key(buf + pos, (uint32_t)mlen, &klen))
			rc = scratch_add_keyed(x, (uint32_t)pos, (uint32_t)mlen, seq);
		e.count++;
		pos += mlen + 1;
		seq++;
	}
	if (rc == 0)
		rc = span_close(x, &e, buf, span, len);
	return rc;
}

/*
 * Roll to a new segment starting at seq0/off0, applying retention.
 * Returns 0, 1 when a sync failed (sticky: the roll is still made so the
 * block can be written for the next open to rewrite, but nothing is
 * deleted and nothing more is called durable), or a negative errno.
 */
static int seg_roll(shlog_part *p, uint64_t seq0, uint64_t off0)
{
	const struct shlog_options *o = &p->s->o;
	int rc = sl_part_sync_files(p), synced = rc == 0;

	if (synced && o->retention == SHLOG_RETAIN_WRAP && p->nsegs >= o->max_segments) {
		/* a durable anchor inside the retained log before anything is deleted */
		rc = anchor_write(p, seq0, off0, p->last_time_ns, seq0, 0);
		if (rc < 0)
			return rc;
		if (sl_io.fdatasync(p->anchor_fd) < 0) {
			sl_logf(p->s, SHLOG_ERR, "%s: fdatasync of the anchor failed: %s; the partition refuses "
				   "writes until reopened", p->name, strerror(errno));
			synced = 0;
		}
	}
	if (!synced)
		mark_sync_failed(p);
	while (synced && o->retention == SHLOG_RETAIN_WRAP && p->nsegs >= o->max_segments) {
		rc = sl_seg_drop_oldest(p);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			mark_sync_failed(p);
			synced = 0;
		}
	}
	rc = sl_seg_create(p, seq0, off0);
	if (rc > 0)
		mark_sync_failed(p);
	return rc < 0 ? rc : !synced || rc > 0;
}

/* Publish the block's entries in the tail segment (readers see them). */
static void block_publish(shlog_part *p, struct flush_scratch *x, uint64_t seq_end,
			  uint64_t off_end, int64_t t)
{
	struct shlog_seg *g;

	pthread_rwlock_wrlock(&p->seglock);
	g = &p->segs[p->nsegs - 1];
	if (g->ents) {
		if (g->nents + x->nents > g->ents_cap) {
			size_t cap = g->ents_cap ? g->ents_cap : 64;
			struct shlog_ent *n;
			while (cap < g->nents + x->nents)
				cap *= 2;
			n = realloc(g->ents, cap * sizeof(*n));
			if (!n) {
				free(g->ents);       /* reload lazily from disk instead */
				g->ents = NULL;
				g->ents_cap = 0;
			} else {
				g->ents = n;
				g->ents_cap = cap;
			}
		}
		for (size_t i = 0; g->ents && i < x->nents; i++) {
			sl_entry_decode(x->ents + i * SHLOG_IDX_ENTRY_SIZE, &g->ents[g->nents + i].e, NULL);
		}
	}
	if (g->nents == 0)
		g->first_time = t;
	g->last_time = t;
	g->nents += x->nents;
	g->end_seq = seq_end;
	g->end_off = off_end;
	pthread_rwlock_unlock(&p->seglock);
}

/* Step B: update the bookmark of every keyed message in the block. */
static void block_keys(shlog_part *p, struct flush_scratch *x, const char *buf,
		       uint64_t off0, uint64_t seq_end, uint64_t off_end, int64_t t)
{
	pthread_mutex_lock(&p->keymu);
	for (size_t i = 0; i < x->nkeyed; i++)
		sl_keys_apply(p, buf + x->keyed[i].pos, x->keyed[i].len, x->keyed[i].seq,
				 off0 + x->keyed[i].pos, t);
	if (p->keys_delta == 0) {
		p->keys_seq = seq_end;
		p->keys_off = off_end;
	}
	pthread_mutex_unlock(&p->keymu);
}

/*
 * Write one block: roll if needed, index entries in one write, the log
 * block in one write, fdatasync if asked, bookmarks, key checkpoint when
 * due, then the anchor.  Returns 0, 1 (written but the sync failed), or
 * a negative errno (nothing committed; the tail files are as before).
 */
static int block_commit(shlog_part *p, struct flush_scratch *x, const char *buf, size_t len,
			uint32_t count, uint64_t seq0, uint64_t off0, int64_t t, int need_sync,
			uint64_t durable)
{
	uint64_t seq_end = seq0 + count, off_end = off0 + len;
	struct shlog_seg *g = &p->segs[p->nsegs - 1];
	int rc, sync_bad = 0;

	if (g->end_off > g->base_off && g->end_off - g->base_off + len > p->s->o.segment_bytes) {
		rc = seg_roll(p, seq0, off0);
		if (rc < 0)
			return rc;
		sync_bad = rc > 0;
		g = &p->segs[p->nsegs - 1];
	}
	rc = block_plan(p, x, buf, len, seq0, off0, t);
	if (rc < 0)
		return rc;
	rc = sl_io_pwrite_full(g->idx_fd, x->ents, x->nents * SHLOG_IDX_ENTRY_SIZE,
				  (off_t)(g->nents * SHLOG_IDX_ENTRY_SIZE));
	if (rc == 0)
		rc = sl_io_pwrite_full(g->log_fd, buf, len, (off_t)(off0 - g->base_off));
	if (rc < 0) {
		sl_io.ftruncate(g->idx_fd, (off_t)(g->nents * SHLOG_IDX_ENTRY_SIZE));
		sl_io.ftruncate(g->log_fd, (off_t)(off0 - g->base_off));
		return rc;
	}
	/* after a failed sync no later one may call this block durable */
	if (need_sync && !sync_bad) {
		if (sl_part_sync_files(p) < 0)
			return 1;
		durable = seq_end;
	}
	block_publish(p, x, seq_end, off_end, t);
	block_keys(p, x, buf, off0, seq_end, off_end, t);
	if (sl_keys_checkpoint_due(p, off_end))
		sl_keys_checkpoint(p, seq_end, off_end);
	anchor_write(p, seq_end, off_end, t, durable, 0);
	return sync_bad;
}

/* Count a finished flush under its trigger. */
static void count_flush(shlog_part *p, int reason)
{
	if (reason == FLUSH_VOLUME)
		p->st.flushes_volume++;
	else if (reason == FLUSH_LATENCY)
		p->st.flushes_latency++;
	else
		p->st.flushes_forced++;
}

/* After a flush or sync: queue the next one if something waits; p->mu held. */
static void flush_next(shlog_part *p)
{
	const struct shlog_options *o = &p->s->o;
	int64_t deadline;

	if (p->deleted || p->fatal)
		return;
	if (p->a_count >= o->stride) {
		sl_sched_kick(p, FLUSH_VOLUME);
	} else if (p->forced && (p->a_count || (p->syncers && p->durable_seq < p->committed_seq))) {
		sl_sched_kick(p, FLUSH_FORCED);
	} else if (p->a_count) {
		deadline = p->a_first_ns + (int64_t)o->flush_interval_ms * 1000000;
		if (deadline <= sl_now_mono())
			sl_sched_kick(p, FLUSH_LATENCY);
		else
			sl_sched_arm(p, deadline);
	}
}

/* Sync-only pass: nothing buffered, but a caller waits for durability; p->mu held. */
static void flush_sync_only(shlog_part *p)
{
	uint64_t c = p->committed_seq;
	int rc;

	p->busy = 1;
	pthread_mutex_unlock(&p->mu);
	rc = sl_part_sync_files(p);
	pthread_mutex_lock(&p->mu);
	p->busy = 0;
	p->st.fsyncs++;
	if (rc < 0)
		p->fatal = -EIO;
	else if (c > p->durable_seq)
		p->durable_seq = c;
	pthread_cond_broadcast(&p->done);
	if (rc < 0) {
		pthread_mutex_unlock(&p->mu);
		mark_sync_failed(p);
		pthread_mutex_lock(&p->mu);
	}
}

/* Flush the partition's buffer as one block; pinned. */
static void flush_pinned(shlog_part *p, int reason)
{
	struct flush_scratch *x = &p->scratch;
	uint64_t seq0, off0, durable;
	int64_t t, t0;
	int rc, need_sync;

	pthread_mutex_lock(&p->mu);
	if (p->busy || p->deleted || p->fatal) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	if (p->f_count == 0) {
		struct shlog_buf tmp;
		if (p->a_count == 0) {
			if (p->syncers > 0 && p->durable_seq < p->committed_seq)
				flush_sync_only(p);
			pthread_mutex_unlock(&p->mu);
			return;
		}
		tmp = p->flushing;
		p->flushing = p->active;
		p->active = tmp;
		p->active.len = 0;
		p->f_count = p->a_count;
		p->a_count = 0;
	}
	p->busy = 1;
	seq0 = p->committed_seq;
	off0 = p->committed_off;
	t = sl_now_real();
	if (t < p->last_time_ns)
		t = p->last_time_ns;
	need_sync = p->s->o.sync == SHLOG_SYNC_ALWAYS || p->syncers > 0;
	durable = p->durable_seq;
	pthread_mutex_unlock(&p->mu);

	t0 = sl_now_mono();
	rc = block_commit(p, x, p->flushing.data, p->flushing.len, p->f_count, seq0, off0, t,
			  need_sync, durable);
	if (rc >= 0)
		shlog_lat_add(&p->lat_flush, sl_now_mono() - t0);

	pthread_mutex_lock(&p->mu);
	if (rc >= 0) {
		p->committed_seq += p->f_count;
		p->committed_off += p->flushing.len;
		p->last_time_ns = t;
		p->flushing.len = 0;
		p->f_count = 0;
		p->err = 0;
		count_flush(p, reason);
		if (need_sync)
			p->st.fsyncs++;
		if (rc == 0 && need_sync)
			p->durable_seq = p->committed_seq;
		if (rc > 0)
			p->fatal = -EIO;
		if (p->s->o.sync == SHLOG_SYNC_INTERVAL)
			sl_sched_arm_sync(p);
		pthread_cond_broadcast(&p->room);
	} else {
		if (p->err == 0)
			sl_logf(p->s, SHLOG_ERR, "%s: flush of %u messages failed: %s; retrying every %u ms",
				   p->name, p->f_count, strerror(-rc), SHLOG_RETRY_MS);
		p->err = rc;
		p->st.write_errors++;
		sl_sched_arm(p, sl_now_mono() + (int64_t)SHLOG_RETRY_MS * 1000000);
	}
	p->busy = 0;
	p->attempts++;
	pthread_cond_broadcast(&p->done);
	if (rc >= 0)
		flush_next(p);
	pthread_mutex_unlock(&p->mu);
	if (rc > 0)
		mark_sync_failed(p);
}

/* Is there a flush or a sync-only pass to do (so the files are needed)? */
static int flush_wanted(shlog_part *p)
{
	int want;

	pthread_mutex_lock(&p->mu);
	want = !p->busy && !p->deleted && !p->fatal &&
	       (p->a_count || p->f_count || (p->syncers > 0 && p->durable_seq < p->committed_seq));
	pthread_mutex_unlock(&p->mu);
	return want;
}

/* The files could not be pinned (budget full, or gone): fail this attempt like a write, retry later. */
static void flush_refused(shlog_part *p, int rc)
{
	pthread_mutex_lock(&p->mu);
	if (!p->deleted && !p->fatal) {
		if (p->err == 0)
			sl_logf(p->s, SHLOG_ERR, "%s: flush of %u messages cannot open the files: %s; "
				   "retrying every %u ms", p->name, p->a_count + p->f_count,
				   shlog_strerror(rc), SHLOG_RETRY_MS);
		p->err = rc;
		p->attempts++;
		sl_sched_arm(p, sl_now_mono() + (int64_t)SHLOG_RETRY_MS * 1000000);
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Flush the partition's buffer as one block (called by workers and close). */
void sl_part_flush_run(shlog_part *p, int reason)
{
	int rc;

	if (!flush_wanted(p))
		return;
	rc = sl_res_pin(p);
	if (rc < 0) {
		flush_refused(p, rc);
		return;
	}
	flush_pinned(p, reason);
	sl_res_unpin(p);
}

/* ================================================================ */
/* Appending                                                         */
/* ================================================================ */

/* Wait until @count messages of @len bytes fit the buffer; p->mu held. */
static int wait_room(shlog_part *p, uint32_t count, size_t len, int flags)
{
	const struct shlog_options *o = &p->s->o;

	for (;;) {
		uint64_t bm = (uint64_t)p->a_count + p->f_count;
		uint64_t bb = p->active.len + p->flushing.len;
		if (p->deleted)
			return -ENOENT;
		if (p->fatal)
			return p->fatal;
		if (p->err)
			return p->err;
		if (bm == 0 || (bm + count <= o->max_buffer && bb + len <= o->max_buffer_bytes))
			return 0;
		if (flags & SHLOG_NONBLOCK)
			return -EAGAIN;
		p->st.backpressure_waits++;
		if (p->a_count)
			sl_sched_kick(p, FLUSH_VOLUME);
		pthread_cond_wait(&p->room, &p->mu);
	}
}

/* Halt retention: refuse what would take the log past its byte limit; p->mu held. */
static int halt_check(shlog_part *p, size_t len)
{
	const struct shlog_options *o = &p->s->o;
	uint64_t cap;

	if (o->retention != SHLOG_RETAIN_HALT || o->max_segments == 0)
		return 0;
	cap = (uint64_t)o->max_segments * o->segment_bytes;
	return p->end_off - p->start_off + len > cap ? -ENOSPC : 0;
}

/* Wait until @what (committed or durable) reaches @target; p->mu held. */
static int wait_for(shlog_part *p, uint64_t target, int durable)
{
	uint64_t a0 = p->attempts;

	p->forced++;
	p->syncers += durable ? 1 : 0;
	sl_sched_kick(p, FLUSH_FORCED);
	for (;;) {
		uint64_t have = durable ? p->durable_seq : p->committed_seq;
		int rc = p->deleted ? -ENOENT : p->fatal ? p->fatal : have >= target ? 0 :
			 p->attempts > a0 ? p->err : 0;
		if (rc || have >= target) {
			p->forced--;
			p->syncers -= durable ? 1 : 0;
			return rc;
		}
		pthread_cond_wait(&p->done, &p->mu);
	}
}

/* Copy @len bytes holding @count complete lines into the active buffer. */
static int append_locked(shlog_part *p, const void *data, size_t len, int add_nl,
			 uint32_t count, int flags, uint64_t *first)
{
	const struct shlog_options *o = &p->s->o;
	size_t total = len + (add_nl ? 1 : 0);
	uint64_t seq;
	int rc;

	rc = wait_room(p, count, total, flags);
	if (rc == 0)
		rc = halt_check(p, total);
	if (rc == 0)
		rc = sl_buf_reserve(&p->active, total);
	if (rc < 0)
		return rc;
	memcpy(p->active.data + p->active.len, data, len);
	if (add_nl)
		p->active.data[p->active.len + len] = '\n';
	p->active.len += total;
	seq = p->end_seq;
	p->end_seq += count;
	p->end_off += total;
	p->st.appended_msgs += count;
	p->st.appended_bytes += total;
	if (p->a_count == 0) {
		p->a_first_ns = sl_now_mono();
		sl_sched_arm(p, p->a_first_ns + (int64_t)o->flush_interval_ms * 1000000);
	}
	p->a_count += count;
	if (p->a_count >= o->stride)
		sl_sched_kick(p, FLUSH_VOLUME);
	if (first)
		*first = seq;
	if ((flags & SHLOG_DURABLE) || o->sync == SHLOG_SYNC_ALWAYS)
		return wait_for(p, seq + count, 1);
	return 0;
}

int shlog_part_append(shlog_part *p, const void *msg, size_t len, int flags, uint64_t *seq)
{
	int rc;

	if (!p || (!msg && len))
		return -EINVAL;
	if (len > p->s->o.max_message)
		return -EMSGSIZE;
	if (len && memchr(msg, '\n', len))
		return -EINVAL;
	if (p->s->o.read_only)
		return -EROFS;
	pthread_mutex_lock(&p->mu);
	rc = append_locked(p, msg, len, 1, 1, flags, seq);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Count the lines of buf, checking each against max_message. */
static int lines_count(const char *buf, size_t len, uint32_t max, uint32_t *count)
{
	size_t pos = 0;
	uint64_t n = 0;

	if (len == 0 || buf[len - 1] != '\n')
		return -EINVAL;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if ((size_t)(nl - (buf + pos)) > max)
			return -EMSGSIZE;
		pos = (size_t)(nl - buf) + 1;
		n++;
	}
	if (n > UINT32_MAX)
		return -EINVAL;
	*count = (uint32_t)n;
	return 0;
}

int shlog_part_append_lines(shlog_part *p, const void *buf, size_t len, int flags, uint64_t *first_seq)
{
	uint32_t count;
	int rc;

	if (!p || !buf)
		return -EINVAL;
	rc = lines_count(buf, len, p->s->o.max_message, &count);
	if (rc < 0)
		return rc;
	if (p->s->o.read_only)
		return -EROFS;
	pthread_mutex_lock(&p->mu);
	rc = append_locked(p, buf, len, 0, count, flags, first_seq);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int shlog_part_sync(shlog_part *p)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	rc = p->fatal ? p->fatal : p->durable_seq >= p->end_seq ? 0 : wait_for(p, p->end_seq, 1);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int shlog_part_flush(shlog_part *p)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	rc = p->committed_seq >= p->end_seq ? 0 : wait_for(p, p->end_seq, 0);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Flush everything, sync, and write a clean anchor; pinned. */
static int close_pinned(shlog_part *p)
{
	uint64_t lost;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (!p->deleted && !p->fatal && (p->a_count || p->f_count)) {
		pthread_mutex_unlock(&p->mu);
		sl_part_flush_run(p, FLUSH_FORCED);
		pthread_mutex_lock(&p->mu);
		if (p->err)
			break;
	}
	lost = (uint64_t)p->a_count + p->f_count;
	rc = p->fatal ? p->fatal : p->err;
	pthread_mutex_unlock(&p->mu);
	if (p->deleted || p->s->o.read_only)
		return 0;
	if (lost)
		sl_logf(p->s, SHLOG_ERR, "%s: closing with %llu buffered messages that could not be written: %s",
			   p->name, (unsigned long long)lost, strerror(-rc));
	if (rc == 0) {
		rc = sl_part_sync_files(p);
		if (rc < 0)
			mark_sync_failed(p);
	}
	if (rc == 0) {
		pthread_mutex_lock(&p->mu);
		p->durable_seq = p->committed_seq;
		pthread_mutex_unlock(&p->mu);
		rc = sl_part_write_anchor(p, 1);
		/* a lost clean anchor leaves the previous one, which claims no more */
		if (rc == 0 && sl_io.fdatasync(p->anchor_fd) < 0)
			rc = -errno;
	}
	return rc;
}

/* Flush everything, sync, and write a clean anchor (store close; workers stopped). */
int sl_part_close(shlog_part *p)
{
	int rc = sl_res_pin(p);

	if (rc < 0) {
		pthread_mutex_lock(&p->mu);
		if (p->deleted || p->s->o.read_only)
			rc = 0;
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	rc = close_pinned(p);
	sl_res_unpin(p);
	return rc;
}

/* ================================================================ */
/* Reading                                                           */
/* ================================================================ */

/* Copy buffered bytes at @off (>= committed_off) into buf; p->mu held. */
static size_t copy_buffered(shlog_part *p, uint64_t off, char *buf, size_t len)
{
	uint64_t rel = off - p->committed_off;
	size_t n = 0;

	if (rel < p->flushing.len) {
		n = p->flushing.len - rel < len ? p->flushing.len - rel : len;
		memcpy(buf, p->flushing.data + rel, n);
		rel += n;
	}
	rel -= p->flushing.len;
	if (n < len && rel < p->active.len) {
		size_t m = p->active.len - rel < len - n ? p->active.len - rel : len - n;
		memcpy(buf + n, p->active.data + rel, m);
		n += m;
	}
	return n;
}

ssize_t shlog_part_read(shlog_part *p, uint64_t off, void *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		uint64_t c;
		ssize_t r;

		pthread_mutex_lock(&p->mu);
		if (p->deleted) {
			pthread_mutex_unlock(&p->mu);
			return -ENOENT;
		}
		if (off + n >= p->committed_off) {
			if (off + n < p->end_off)
				n += copy_buffered(p, off + n, (char *)buf + n, len - n);
			pthread_mutex_unlock(&p->mu);
			return (ssize_t)n;
		}
		c = p->committed_off;
		pthread_mutex_unlock(&p->mu);
		r = sl_seg_read(p, off + n, c, (char *)buf + n, len - n);
		if (r < 0)
			return n ? (ssize_t)n : r;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* Offset of message @seq among the buffered messages; p->mu held. */
static uint64_t buffered_seek(shlog_part *p, uint64_t seq)
{
	uint64_t off = p->committed_off, k = seq - p->committed_seq;
	struct shlog_buf *bufs[2] = { &p->flushing, &p->active };

	for (int b = 0; b < 2 && k > 0; b++) {
		const char *d = bufs[b]->data;
		size_t pos = 0;
		while (k > 0 && pos < bufs[b]->len) {
			const char *nl = memchr(d + pos, '\n', bufs[b]->len - pos);
			pos = (size_t)(nl - d) + 1;
			k--;
		}
		off += pos;
	}
	return off;
}

int shlog_part_seek_seq(shlog_part *p, uint64_t seq, uint64_t *off)
{
	struct shlog_seg *g;
	char *span;
	size_t i, pos = 0;
	int rc;

	pthread_mutex_lock(&p->mu);
	if (seq >= p->committed_seq) {
		rc = seq > p->end_seq ? -ERANGE : 0;
		if (rc == 0)
			*off = buffered_seek(p, seq);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	pthread_mutex_unlock(&p->mu);
	rc = sl_res_pin(p);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	if (seq < p->start_seq) {
		rc = -ENODATA;
		goto out;
	}
	g = sl_seg_by_seq(p, seq);
	rc = sl_seg_load_ents(p, g);
	if (rc < 0)
		goto out;
	i = sl_seg_ent_by_seq(g, seq);
	span = malloc(g->ents[i].e.len);
	rc = span ? sl_seg_read_span(p, g, &g->ents[i], span) : -ENOMEM;
	for (uint64_t k = g->ents[i].e.seq; rc == 0 && k < seq; k++) {
		char *nl = memchr(span + pos, '\n', g->ents[i].e.len - pos);
		if (!nl)
			rc = -EIO; /* fewer lines than the entry counts */
		else
			pos = (size_t)(nl - span) + 1;
	}
	if (rc == 0)
		*off = g->ents[i].e.off + pos;
	free(span);
out:
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	return rc;
}

/* First entry at or after time t in the committed log; seglock held. */
static int seek_time_committed(shlog_part *p, int64_t t, uint64_t *seq, uint64_t *off)
{
	for (size_t s = 0; s < p->nsegs; s++) {
		struct shlog_seg *g = &p->segs[s];
		size_t lo = 0, hi;
		int rc;

		if (g->nents == 0 || g->last_time < t)
			continue;
		rc = sl_seg_load_ents(p, g);
		if (rc < 0)
			return rc;
		hi = g->nents;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (g->ents[mid].e.time_ns < t)
				lo = mid + 1;
			else
				hi = mid;
		}
		*seq = g->ents[lo].e.seq;
		*off = g->ents[lo].e.off;
		return 1;
	}
	return 0;
}

int shlog_part_seek_time(shlog_part *p, int64_t time_ns, uint64_t *seq, uint64_t *off)
{
	int rc = sl_res_pin(p);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	rc = seek_time_committed(p, time_ns, seq, off);
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	pthread_mutex_lock(&p->mu);
	*seq = time_ns > sl_now_real() ? p->end_seq : p->committed_seq;
	*off = time_ns > sl_now_real() ? p->end_off : p->committed_off;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int shlog_part_index_foreach(shlog_part *p, int (*fn)(const struct shlog_index_entry *e, void *arg),
			     void *arg)
{
	int rc = sl_res_pin(p);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	for (size_t s = 0; s < p->nsegs && rc == 0; s++) {
		struct shlog_seg *g = &p->segs[s];
		rc = sl_seg_load_ents(p, g);
		for (size_t i = 0; rc == 0 && i < g->nents; i++)
			rc = fn(&g->ents[i].e, arg);
	}
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	return rc;
}

int shlog_part_info(shlog_part *p, struct shlog_part_info *info)
{
	pthread_mutex_lock(&p->mu);
	*info = p->st;
	info->end_seq = p->end_seq;
	info->end_off = p->end_off;
	info->committed_seq = p->committed_seq;
	info->committed_off = p->committed_off;
	info->durable_seq = p->durable_seq;
	info->anchor_gen = p->anchor_gen;
	info->last_flush_ns = p->last_time_ns;
	info->buffered_msgs = p->a_count + p->f_count;
	info->buffered_bytes = p->active.len + p->flushing.len;
	info->error = p->fatal ? p->fatal : p->err;
	pthread_mutex_unlock(&p->mu);
	pthread_rwlock_rdlock(&p->seglock);
	info->start_seq = p->start_seq;
	info->start_off = p->start_off;
	info->nsegments = (uint32_t)p->nsegs;
	pthread_rwlock_unlock(&p->seglock);
	pthread_mutex_lock(&p->keymu);
	info->nkeys = p->nkeys;
	pthread_mutex_unlock(&p->keymu);
	return 0;
}
