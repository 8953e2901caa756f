/*
 * part.c — one partition at run time: appending into the RAM buffer, the
 * flush's state (which buffer goes out, what a committed or failed block
 * changes; the block itself is written by writer.c), durability waits,
 * reads and seeks that see buffered data, and the key API (a lookup
 * flushes first, then asks keys.c).
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
#include "held_i.h"
#include "io_i.h"
#include "writer_i.h"

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
	pthread_mutex_init(&p->curmu, NULL);
	sl_res_part_init(p);
	return p;
}

/* Free a partition whose last reference is gone. */
void sl_part_free(shlog_part *p)
{
	sl_res_forget(p);
	sl_seg_close_all(p);
	sl_keys_free(p);
	sl_cursors_free(p);
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
	pthread_mutex_destroy(&p->curmu);
	pthread_mutex_destroy(&p->fdmu);
	free(p);
}

static void flush_next(shlog_part *p);

/* Drop a reference; the last one frees the partition. */
void shlog_part_put(shlog_part *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		sl_part_free(p);
}

/* ================================================================ */
/* Durability                                                        */
/* ================================================================ */

/*
 * fdatasync what is committed now, with busy set and p->mu dropped for
 * the sync: then durable_seq moves up to it, or a failure is fatal (the
 * caller calls sl_writer_sync_failed() without p->mu).  p->mu held.
 */
static int sync_pass(shlog_part *p)
{
	SL_HELD(&p->mu);
	uint64_t c = p->committed_seq;
	int rc;

	p->busy = 1;
	pthread_mutex_unlock(&p->mu);
	rc = sl_writer_sync(p);
	pthread_mutex_lock(&p->mu);
	p->busy = 0;
	p->st.fsyncs++;
	if (rc < 0)
		p->fatal = -EIO;
	else if (c > p->durable_seq)
		p->durable_seq = c;
	return rc;
}

/* Interval policy: make everything committed so far durable; pinned. */
static void sync_run_pinned(shlog_part *p)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	if (p->deleted || p->fatal || p->durable_seq >= p->committed_seq || p->busy) {
		if (!p->deleted && !p->fatal && p->durable_seq < p->end_seq)
			sl_sched_arm_sync(p);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	rc = sync_pass(p);
	if (p->durable_seq < p->end_seq && !p->fatal)
		sl_sched_arm_sync(p);
	pthread_cond_broadcast(&p->done);
	flush_next(p);
	pthread_mutex_unlock(&p->mu);
	if (rc < 0)
		sl_writer_sync_failed(p);
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
/* The flush: taking the buffer, committing it (writer.c), after  */
/* ================================================================ */

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
	SL_HELD(&p->mu);
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
	SL_HELD(&p->mu);
	int rc = sync_pass(p);

	pthread_cond_broadcast(&p->done);
	if (rc < 0) {
		pthread_mutex_unlock(&p->mu);
		sl_writer_sync_failed(p);
		pthread_mutex_lock(&p->mu);
	}
}

/*
 * Take the buffer to flush: swap active into flushing unless a failed
 * block waits there, and describe it in @b.  0 with busy set, or 1 when
 * there is no block (a sync-only pass may have run); p->mu held.
 */
static int flush_take(shlog_part *p, struct sl_block *b)
{
	SL_HELD(&p->mu);
	if (p->busy || p->deleted || p->fatal)
		return 1;
	if (p->f_count == 0) {
		struct shlog_buf tmp;
		if (p->a_count == 0) {
			if (p->syncers > 0 && p->durable_seq < p->committed_seq)
				flush_sync_only(p);
			return 1;
		}
		tmp = p->flushing;
		p->flushing = p->active;
		p->active = tmp;
		p->active.len = 0;
		p->f_count = p->a_count;
		p->a_count = 0;
	}
	p->busy = 1;
	*b = (struct sl_block){ .buf = p->flushing.data, .len = p->flushing.len, .count = p->f_count,
				.seq0 = p->committed_seq, .off0 = p->committed_off, .t = sl_now_real(),
				.need_sync = p->s->o.sync == SHLOG_SYNC_ALWAYS || p->syncers > 0,
				.durable = p->durable_seq };
	if (b->t < p->last_time_ns)
		b->t = p->last_time_ns;
	return 0;
}

/* The block @b is committed (@rc 0, or 1: its sync failed): advance the positions; p->mu held. */
static void flush_committed(shlog_part *p, const struct sl_block *b, int rc, int reason)
{
	SL_HELD(&p->mu);
	p->committed_seq += p->f_count;
	p->committed_off += p->flushing.len;
	p->last_time_ns = b->t;
	p->flushing.len = 0;
	p->f_count = 0;
	p->err = 0;
	count_flush(p, reason);
	if (b->need_sync)
		p->st.fsyncs++;
	if (rc == 0 && b->need_sync)
		p->durable_seq = p->committed_seq;
	if (rc > 0)
		p->fatal = -EIO;
	if (p->s->o.sync == SHLOG_SYNC_INTERVAL)
		sl_sched_arm_sync(p);
	pthread_cond_broadcast(&p->room);
}

/* The block failed with @rc (nothing committed): keep it, fail appends, retry later; p->mu held. */
static void flush_failed(shlog_part *p, int rc)
{
	SL_HELD(&p->mu);
	if (p->err == 0)
		sl_logf(p->s, SHLOG_ERR, "%s: flush of %u messages failed: %s; retrying every %u ms",
			p->name, p->f_count, strerror(-rc), SHLOG_RETRY_MS);
	p->err = rc;
	p->st.write_errors++;
	sl_sched_arm(p, sl_now_mono() + (int64_t)SHLOG_RETRY_MS * 1000000);
}

/* Flush the partition's buffer as one block; pinned. */
static void flush_pinned(shlog_part *p, int reason)
{
	struct sl_block b;
	int64_t t0;
	int rc;

	pthread_mutex_lock(&p->mu);
	if (flush_take(p, &b)) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);

	t0 = sl_now_mono();
	rc = sl_writer_commit(p, &p->scratch, &b);
	if (rc >= 0)
		shlog_lat_add(&p->lat_flush, sl_now_mono() - t0);

	pthread_mutex_lock(&p->mu);
	if (rc >= 0)
		flush_committed(p, &b, rc, reason);
	else
		flush_failed(p, rc);
	p->busy = 0;
	p->attempts++;
	pthread_cond_broadcast(&p->done);
	if (rc >= 0)
		flush_next(p);
	pthread_mutex_unlock(&p->mu);
	if (rc > 0)
		sl_writer_sync_failed(p);
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
	SL_HELD(&p->mu);
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
	SL_HELD(&p->mu);
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
	SL_HELD(&p->mu);
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
	SL_HELD(&p->mu);
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
		rc = sl_writer_sync(p);
		if (rc < 0)
			sl_writer_sync_failed(p);
	}
	if (rc == 0) {
		pthread_mutex_lock(&p->mu);
		p->durable_seq = p->committed_seq;
		pthread_mutex_unlock(&p->mu);
		rc = sl_writer_anchor(p, 1);
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
	SL_HELD(&p->mu);
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
	SL_HELD(&p->mu);
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
	return sl_seg_seek_seq(p, seq, off);
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
			if (g->ents[mid].time_ns < t)
				lo = mid + 1;
			else
				hi = mid;
		}
		*seq = g->ents[lo].seq;
		*off = g->ents[lo].off;
		return 1;
	}
	return 0;
}

int shlog_part_seek_time(shlog_part *p, int64_t time_ns, uint64_t *seq, uint64_t *off)
{
	int rc = sl_res_pin(p), future;

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	rc = seek_time_committed(p, time_ns, seq, off);
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	future = time_ns > sl_now_real();   /* read once: seq and off must be the same point */
	pthread_mutex_lock(&p->mu);
	*seq = future ? p->end_seq : p->committed_seq;
	*off = future ? p->end_off : p->committed_off;
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
			rc = fn(&g->ents[i], arg);
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

/* ================================================================ */
/* Keys (the table is keys.c's; a lookup sees every append before it) */
/* ================================================================ */

int shlog_key_lookup(shlog_part *p, const void *key, size_t klen, struct shlog_keyref *ref)
{
	int rc;

	if (!key && klen)
		return -EINVAL;
	if (klen == 0 || klen > SHLOG_KEY_MAX || memchr(key, '\t', klen) || memchr(key, '\n', klen))
		return -ENOENT;     /* no message can have such a key */
	rc = shlog_part_flush(p);
	return rc < 0 ? rc : sl_keys_find(p, key, (uint32_t)klen, ref);
}

int shlog_key_foreach(shlog_part *p,
		      int (*fn)(const void *key, size_t klen, const struct shlog_keyref *ref, void *arg),
		      void *arg)
{
	int rc = shlog_part_flush(p);

	return rc < 0 ? rc : sl_keys_foreach(p, fn, arg);
}
