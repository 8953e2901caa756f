/*
 * wb.c — -o writeback: partition logs behind the kernel's page cache.
 *
 * With the kernel's writeback cache a write() to a partition log copies
 * into the page cache and returns; the kernel sends the bytes later (at
 * close, fsync, O_DSYNC, or after the dirty expiry, 30 s by default) as
 * page-sized write requests with explicit offsets, on whichever open file
 * of the inode it picks, several at a time.  So in this mode a partition
 * log is one byte stream per inode, not one per handle:
 *
 *  - the stream's end E is the engine's end plus the unfinished last line
 *    (pend), which the daemon keeps until its '\n' arrives;
 *  - a request for [off, off+len): if off > E it waits up to
 *    SHLOGFS_WB_GAP_MS for the bytes before it (requests race between
 *    threads); bytes below E must equal the stream's (the kernel resends
 *    the head of a page it wrote back before); bytes from E on are framed
 *    into lines (frame.c) and appended to the engine;
 *  - bytes below E that differ from the stream's (a shared mmap or a
 *    pwrite into old bytes) are refused: the request fails with EPERM,
 *    so fsync() or msync() reports it, but its bytes from E on (other
 *    writers' appends on the same page) are still taken, and once the
 *    reply is sent the stored bytes are put back into the kernel's copy
 *    of that range (notify_store), so the next writeback of the page
 *    matches again: other writers go on while the offender keeps its
 *    file open;
 *  - any other refusal (a gap that never fills, a line over max_message,
 *    an engine error) fails the request and leaves the kernel's copy
 *    (its pages and the file size it keeps) out of step with the log at
 *    its end: every further write fails until the last writer closes;
 *    then the kernel's pages are invalidated and the name gets a new
 *    inode, so the next open sees the log as stored;
 *  - readers open with direct_io: they read what the log stores, never
 *    bytes that were refused or zeros the kernel made up past the log;
 *    (Linux 6.18 sends the pending bytes of a range before a direct read
 *    of it, so readers still see a line at once);
 *  - when the last writer closes, an unfinished line becomes a message
 *    with a '\n' added, and the '\n' is stored into the kernel's copy
 *    too (notify_store), so both stay byte for byte the same; opens for
 *    writing wait until that is done.
 *
 * The kernel need not be waited for: every retrieve_ms (-o retrieve_ms,
 * 20 by default, the engine's drain period) a thread asks it for the
 * cached bytes of each stream with writers from the stream's end on
 * (fuse_lowlevel_notify_retrieve); its answer (the retrieve_reply
 * operation) holds what its page cache has, dirty pages included, up to
 * its own file size, and the bytes from the stream's end on are taken as
 * a write request's would be.  So a line reaches the engine, every view
 * and the log file within about retrieve_ms whether or not its writer
 * syncs; the write-back that follows sends the same bytes again and they
 * match.  A refusal found this way (a line over max_message, an engine
 * error) marks the stream as a refused write would, so it reaches the
 * writer at its next fsync or close.  docs/PERFORMANCE.md, "Retrieving
 * the kernel's cache", has what the kernel was seen to do.
 *
 * Writers must open with O_APPEND.  Writes through <topic>/log and
 * keys/<key> would move the engine's end behind the kernel's back, so
 * they are refused in this mode (k_log.c, k_keys.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "held_i.h"
#include "wb.h"
#include "budget.h"
#include "follow.h"
#include "frame.h"
#include "log.h"
#include "node.h"
#include "read.h"
#include "text.h"

/* Longest wait of a write request for the bytes before it. */
#define SHLOGFS_WB_GAP_MS 10000

/* The byte stream of one partition log (one per node, made at first write open). */
struct shlogfs_wb {
	pthread_mutex_t mu;      /* guards everything below */
	pthread_cond_t cv;       /* the end moved, or a seal finished */
	struct shlogfs_buf pend; /* the unfinished last line */
	int drop;                /* discarding the rest of a refused line */
	uint32_t writers;        /* open handles that may write */
	int sealing;             /* the last close is updating the kernel's copy */
	int broken;              /* refused a write: out of step with the kernel */
	int differed;            /* refused bytes that differ (logged once) */
	struct shlogfs *fs;      /* the daemon (for the budget at free) */
	uid_t held_uid;          /* whose budget pend is charged to (budget.c) */
	uint64_t held;           /* bytes of pend charged */
	uint64_t epoch;          /* changes of the kernel's copy by the daemon
				  * (a seal's '\n', a resync): a retrieve asked
				  * before one is dropped */
	/* retrieving: the fields below are guarded by wbr.mu */
	struct shlogfs_node *node; /* whose stream (names in log lines) */
	fuse_ino_t ino;          /* its inode, asked of the kernel */
	shlogfs_bpart *rpart;    /* a reference for replies, while listed */
	int listed;              /* in the retriever's list */
	uint32_t replying;       /* replies being taken now */
	int asking;              /* a retrieve is outstanding */
	int64_t asked_ns;        /* since when (shlogfs_mono_ns) */
};

/* Most bytes one retrieve asks for (the kernel gives at most 1 MiB a reply). */
#define SHLOGFS_WBR_MAX (1u << 20)
/* An ask not answered within this long is given up and made again. */
#define SHLOGFS_WBR_STALE_MS 1000

/* The retriever: the streams with writers, and the thread that asks for them. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t idle;     /* a stream's replies were taken */
	pthread_cond_t wake;     /* the thread is to stop */
	struct shlogfs_wb **v;   /* listed streams */
	size_t n, cap;
	struct shlogfs *fs;
	uint32_t ms;             /* period; 0: not running */
	int stop;
	pthread_t thread;
	uint64_t asked, replies, bytes; /* since the mount (/.metrics) */
} wbr = { .mu = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER,
	    .wake = PTHREAD_COND_INITIALIZER };

static void shlogfs_wbr_list(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_wb *wb);
static void shlogfs_wbr_unlist(struct shlogfs_wb *wb);

/* ==== state =========================================================== */

/* Free a node's stream state (the log kind's forget operation). */
void shlogfs_wb_free(struct shlogfs_node *n)
{
	struct shlogfs_wb *wb = n->wb;

	if (!wb)
		return;
	shlogfs_budget_give(wb->fs, wb->held_uid, wb->held);
	shlogfs_buf_free(&wb->pend);
	pthread_cond_destroy(&wb->cv);
	pthread_mutex_destroy(&wb->mu);
	free(wb);
}

/* The node's stream state, made on first use; NULL: ENOMEM. */
static struct shlogfs_wb *shlogfs_wb_get(struct shlogfs *fs,
					 struct shlogfs_node *n)
{
	struct shlogfs_wb *wb;

	pthread_mutex_lock(&fs->lock);
	wb = n->wb;
	if (!wb && (wb = calloc(1, sizeof *wb))) {
		wb->fs = fs;
		pthread_mutex_init(&wb->mu, NULL);
		pthread_cond_init(&wb->cv, NULL);
		__atomic_store_n(&n->wb, wb, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fs->lock);
	return wb;
}

/* The engine's end of @p p and the stream's end (engine + pend). */
static int shlogfs_wb_end(shlogfs_bpart *p, struct shlogfs_wb *wb,
			  uint64_t *eng, uint64_t *end)
{
	struct shlog_part_info in;
	int rc = shlogfs_part_info(p, &in);

	if (rc)
		return rc;
	*eng = in.end_off;
	*end = in.end_off + wb->pend.len;
	return 0;
}

/* Bytes of the unfinished last line a node's stream holds. */
uint64_t shlogfs_wb_pending(struct shlogfs_node *n)
{
	struct shlogfs_wb *wb = __atomic_load_n(&n->wb, __ATOMIC_ACQUIRE);
	uint64_t len;

	if (!wb)
		return 0;
	pthread_mutex_lock(&wb->mu);
	len = wb->pend.len;
	pthread_mutex_unlock(&wb->mu);
	return len;
}

/* ==== open and the last close ========================================= */

/* Writes that would bypass a partition log's stream are refused (logged). */
int shlogfs_wb_refused(struct shlogfs_node *n, const char *what)
{
	shlogfs_log(LOG_NOTICE, "%s: writes to %s are refused with -o writeback "
		    "(write to <topic>/<p>/log)", n->topic, what);
	return -EPERM;
}

/* Count a writer, after any seal in progress. */
int shlogfs_wb_open(struct shlogfs *fs, struct shlogfs_handle *h)
{
	struct shlogfs_wb *wb = shlogfs_wb_get(fs, h->node);

	if (!wb)
		return -ENOMEM;
	pthread_mutex_lock(&wb->mu);
	while (wb->sealing)
		pthread_cond_wait(&wb->cv, &wb->mu);
	wb->writers++;
	pthread_mutex_unlock(&wb->mu);
	h->wb_writer = 1;
	shlogfs_wbr_list(fs, h->node, wb);
	return 0;
}

/* Append the unfinished line with its '\n'; *at: offset of that '\n'. */
static int shlogfs_wb_seal(struct shlogfs_handle *h, struct shlogfs_wb *wb,
			   uint64_t *at)
{
	uint64_t eng, end;
	int rc = shlogfs_wb_end(h->part, wb, &eng, &end);

	if (rc == 0)
		rc = shlogfs_buf_add(&wb->pend, "\n", 1);
	if (rc)
		return rc;
	rc = shlogfs_fw_after(h->part, shlogfs_part_append_lines(h->part, NULL,
				wb->pend.p, wb->pend.len, 0, NULL));
	if (rc) {
		wb->pend.len--;
		return rc;
	}
	wb->pend.len = 0;
	*at = end;
	return 0;
}

/* Tell the kernel: the '\n' at @p at, or (@p resync) drop its copy. */
static void shlogfs_wb_notify(struct shlogfs *fs, struct shlogfs_node *n,
			      int seal, uint64_t at, int resync)
{
	struct fuse_session *se = __atomic_load_n(&fs->se, __ATOMIC_ACQUIRE);
	fuse_ino_t ino = shlogfs_node_ino(fs, n), dir;
	struct fuse_bufvec nl = FUSE_BUFVEC_INIT(1);

	if (!se)
		return;
	if (seal && !resync) {
		nl.buf[0].mem = (void *)"\n";
		fuse_lowlevel_notify_store(se, ino, (off_t)at, &nl, 0);
	}
	if (resync) {
		/* the kernel keeps this inode's size: a new inode for the name */
		shlogfs_node_unlink_node(fs, n);
		fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
		dir = n->parent; /* its partition's directory */
		if (dir)
			fuse_lowlevel_notify_inval_entry(se, dir, "log", 3);
	}
}

/* A writer closed: the last one seals the stream and brings the kernel in step. */
void shlogfs_wb_release(struct shlogfs *fs, struct shlogfs_handle *h)
{
	struct shlogfs_wb *wb = h->node->wb;
	uint64_t at = 0;
	int seal = 0, resync = 0, rc;

	if (!h->wb_writer || !wb)
		return;
	h->wb_writer = 0;
	pthread_mutex_lock(&wb->mu);
	if (--wb->writers == 0) {
		if (wb->pend.len) {
			rc = shlogfs_wb_seal(h, wb, &at);
			if (rc)
				shlogfs_log(LOG_WARNING, "%s/%u: unfinished line "
					    "not stored at close: %s", h->node->topic,
					    h->node->part, shlog_strerror(rc));
			seal = rc == 0;
		}
		if (wb->pend.len == 0) { /* sealed: nothing held any more */
			shlogfs_buf_free(&wb->pend);
			shlogfs_budget_give(fs, wb->held_uid, wb->held);
			wb->held = 0;
		}
		resync = wb->broken;
		wb->broken = 0;
		wb->differed = 0;
		wb->drop = 0;
		wb->sealing = seal || resync;
		wb->epoch += wb->sealing;
	}
	pthread_mutex_unlock(&wb->mu);
	shlogfs_wbr_unlist(wb);
	if (!seal && !resync)
		return;
	/* outside the lock: the kernel may need a read of this log meanwhile */
	shlogfs_wb_notify(fs, h->node, seal, at, resync);
	pthread_mutex_lock(&wb->mu);
	wb->sealing = 0;
	pthread_cond_broadcast(&wb->cv);
	pthread_mutex_unlock(&wb->mu);
}

/* ==== writes ========================================================== */

/* Do the @p len bytes at @p off (all below the stream's end) match it? */
static int shlogfs_wb_same(shlogfs_bpart *p, struct shlogfs_wb *wb, uint64_t eng,
			   uint64_t off, const char *buf, size_t len)
{
	char tmp[4096];
	size_t done = 0;

	while (done < len && off + done < eng) {
		size_t n = len - done;
		if (n > sizeof tmp)
			n = sizeof tmp;
		if (n > eng - (off + done))
			n = (size_t)(eng - (off + done));
		ssize_t r = shlogfs_part_read(p, off + done, tmp, n);
		if (r <= 0 || memcmp(tmp, buf + done, (size_t)r) != 0)
			return 0;
		done += (size_t)r;
	}
	if (done == len)
		return 1;
	uint64_t at = off + done - eng;
	return at + (len - done) <= wb->pend.len &&
	       memcmp(wb->pend.p + at, buf + done, len - done) == 0;
}

/* Wait (mu held) until the stream reaches @p off; -EIO after the limit. */
static int shlogfs_wb_wait(shlogfs_bpart *p, struct shlogfs_wb *wb, uint64_t off,
			   uint64_t *eng, uint64_t *end)
{
	SL_HELD(&wb->mu);
	struct timespec dl = shlogfs_deadline_ms(SHLOGFS_WB_GAP_MS);
	int rc = 0;

	while (rc == 0 && off > *end && !wb->broken) {
		int w = pthread_cond_timedwait(&wb->cv, &wb->mu, &dl);
		rc = shlogfs_wb_end(p, wb, eng, end);
		if (rc == 0 && w == ETIMEDOUT && off > *end)
			rc = -EIO;
	}
	return rc;
}

/* frame.c emit: complete lines of the stream to the engine. */
static int shlogfs_wb_emit(void *arg, const char *lines, size_t len)
{
	return shlogfs_fw_after(arg, shlogfs_part_append_lines(arg, NULL, lines,
							       len, 0, NULL));
}

/*
 * The unfinished line of a stream is charged to the opener of the handle
 * whose request grows it (budget.c): before the request, what it may
 * hold after; after it, what it holds (an emptied buffer over a page is
 * freed).  A request past the budget fails with ENOBUFS.
 */
static int shlogfs_wb_charge(struct shlogfs *fs, uid_t uid,
			     struct shlogfs_wb *wb, const char *buf,
			     size_t len, int after)
{
	const char *last = memrchr(buf, '\n', len);
	size_t need = last ? len - (size_t)(last - buf) - 1 : wb->pend.len + len;
	uint64_t want;

	if (after && wb->pend.len == 0 && wb->pend.cap > 4096)
		shlogfs_buf_free(&wb->pend);
	if (wb->held && wb->held_uid != uid) {
		shlogfs_budget_give(fs, wb->held_uid, wb->held);
		wb->held = 0;
	}
	wb->held_uid = uid;
	if (after || wb->drop || need > fs->max_message)
		need = wb->pend.len;
	want = shlogfs_buf_cap_for(&wb->pend, need);
	if (!after)
		return shlogfs_budget_set(fs, uid, &wb->held, want,
					  "unfinished line");
	if (want > wb->held) /* held already: counted, not refused */
		shlogfs_budget_force(fs, uid, want - wb->held);
	else
		shlogfs_budget_give(fs, uid, wb->held - want);
	wb->held = want;
	return 0;
}

/* Frame the new bytes of the stream; 0 once all are taken, or -errno. */
static int shlogfs_wb_put(struct shlogfs *fs, shlogfs_bpart *p,
			  struct shlogfs_wb *wb, const char *buf, size_t len);

/* The stream's next @p len bytes, charged to @p uid: framed into the engine (mu held). */
static int shlogfs_wb_take(struct shlogfs *fs, uid_t uid, shlogfs_bpart *p,
			   struct shlogfs_wb *wb, const char *buf, size_t len)
{
	SL_HELD(&wb->mu);
	int rc = shlogfs_wb_charge(fs, uid, wb, buf, len, 0);

	if (rc == 0) {
		rc = shlogfs_wb_put(fs, p, wb, buf, len);
		shlogfs_wb_charge(fs, uid, wb, buf, len, 1);
	}
	return rc;
}

/* Frame the new bytes of the stream; 0 once all are taken, or -errno. */
static int shlogfs_wb_put(struct shlogfs *fs, shlogfs_bpart *p,
			  struct shlogfs_wb *wb, const char *buf, size_t len)
{
	struct shlogfs_frame f = {
		.pend = &wb->pend,
		.drop = &wb->drop,
		.max_message = fs->max_message,
		.emit = shlogfs_wb_emit,
		.arg = p,
	};
	ssize_t n = shlogfs_frame_log(&f, buf, len);

	if (n < 0)
		return (int)n;
	return (size_t)n < len ? -EIO : 0;
}

/* Copy the stream's bytes [off, off+len) (all below its end; mu held). */
static int shlogfs_wb_copy(shlogfs_bpart *p, struct shlogfs_wb *wb, uint64_t eng,
			   uint64_t off, char *buf, size_t len)
{
	SL_HELD(&wb->mu);
	size_t done = 0;

	while (done < len && off + done < eng) {
		size_t n = len - done;
		if (n > eng - (off + done))
			n = (size_t)(eng - (off + done));
		ssize_t r = shlogfs_part_read(p, off + done, buf + done, n);
		if (r <= 0)
			return r < 0 ? (int)r : -EIO;
		done += (size_t)r;
	}
	if (done < len)
		memcpy(buf + done, wb->pend.p + (off + done - eng), len - done);
	return 0;
}

/* Say a request's old bytes differ (once per episode); keep the stored ones for the kernel. */
static void shlogfs_wb_differ(struct shlogfs_handle *h, struct shlogfs_wb *wb,
			      uint64_t eng, uint64_t off, size_t old,
			      struct shlogfs_wb_fix *fix)
{
	if (!wb->differed)
		shlogfs_log(LOG_ERR, "%s/%u/log: writeback of %zu bytes at %llu "
			    "refused: they differ from the stored bytes (a shared "
			    "mmap or a write into old bytes); the stored bytes "
			    "are put back, other writers go on", h->node->topic,
			    h->node->part, old, (unsigned long long)off);
	wb->differed = 1;
	fix->buf = malloc(old);
	if (fix->buf && shlogfs_wb_copy(h->part, wb, eng, off, fix->buf, old)) {
		free(fix->buf);
		fix->buf = NULL;
	}
	fix->off = off;
	fix->len = fix->buf ? old : 0;
}

/*
 * After the reply: put the stored bytes of a refused range back into the
 * kernel's copy of inode @p ino (by number: once the reply is sent the
 * handle may be released and freed by another thread).
 */
void shlogfs_wb_fix_apply(struct shlogfs *fs, fuse_ino_t ino,
			  struct shlogfs_wb_fix *fix)
{
	struct fuse_session *se = __atomic_load_n(&fs->se, __ATOMIC_ACQUIRE);
	struct fuse_bufvec v = FUSE_BUFVEC_INIT(fix->len);

	if (fix->buf && se) {
		v.buf[0].mem = fix->buf;
		fuse_lowlevel_notify_store(se, ino, (off_t)fix->off, &v, 0);
	}
	free(fix->buf);
	fix->buf = NULL;
}

/* Say why a write was refused (once per episode) and mark the stream. */
static void shlogfs_wb_refuse(struct shlogfs_node *n, struct shlogfs_wb *wb,
			      uint64_t off, size_t size, uint64_t end, int rc)
{
	if (!wb->broken)
		shlogfs_log(LOG_ERR, "%s/%u/log: writeback of %zu bytes at %llu "
			    "refused (log ends at %llu): %s; further writes fail "
			    "until every writer has closed", n->topic,
			    n->part, size, (unsigned long long)off,
			    (unsigned long long)end,
			    shlog_strerror(rc));
	wb->broken = 1;
}

/* A write request: the stream's next bytes, or ones it already has. */
ssize_t shlogfs_wb_write(struct shlogfs *fs, struct shlogfs_handle *h,
			 const char *buf, size_t size, uint64_t off,
			 struct shlogfs_wb_fix *fix)
{
	struct shlogfs_wb *wb = __atomic_load_n(&h->node->wb, __ATOMIC_ACQUIRE);
	uint64_t eng = 0, end = 0;
	size_t old;
	int rc, differ = 0;

	if (!wb)
		return -EBADF;
	pthread_mutex_lock(&wb->mu);
	rc = shlogfs_wb_end(h->part, wb, &eng, &end);
	if (rc == 0 && off > end)
		rc = shlogfs_wb_wait(h->part, wb, off, &eng, &end);
	if (rc == 0 && wb->broken)
		rc = -EIO;
	if (rc == 0) {
		old = off < end ? (size_t)(end - off < size ? end - off : size) : 0;
		differ = old && !shlogfs_wb_same(h->part, wb, eng, off, buf, old);
		if (differ)
			shlogfs_wb_differ(h, wb, eng, off, old, fix);
		if (size > old)
			rc = shlogfs_wb_take(fs, h->uid, h->part, wb, buf + old, size - old);
	}
	if (rc)
		shlogfs_wb_refuse(h->node, wb, off, size, end, rc);
	pthread_cond_broadcast(&wb->cv);
	pthread_mutex_unlock(&wb->mu);
	return rc ? rc : differ ? -EPERM : (ssize_t)size;
}

/* ==== reads =========================================================== */

/* Read a partition log, the unfinished last line included. */
ssize_t shlogfs_wb_read(struct shlogfs_handle *h, uint64_t off, char *buf,
			size_t size)
{
	struct shlogfs_wb *wb = __atomic_load_n(&h->node->wb, __ATOMIC_ACQUIRE);
	uint64_t eng, end;
	ssize_t r;

	if (!wb)
		return shlogfs_part_fill(h->part, off, buf, size);
	pthread_mutex_lock(&wb->mu);
	r = shlogfs_part_fill(h->part, off, buf, size);
	if (r >= 0 && (size_t)r < size &&
	    shlogfs_wb_end(h->part, wb, &eng, &end) == 0 &&
	    off + (uint64_t)r >= eng && off + (uint64_t)r < end) {
		uint64_t at = off + (uint64_t)r - eng;
		size_t n = (size_t)(wb->pend.len - at);
		if (n > size - (size_t)r)
			n = size - (size_t)r;
		memcpy(buf + r, wb->pend.p + at, n);
		r += (ssize_t)n;
	}
	pthread_mutex_unlock(&wb->mu);
	return r;
}

/* ==== retrieving ====================================================== */

/* List a stream that has a writer (after its open counted it). */
static void shlogfs_wbr_list(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_wb *wb)
{
	shlogfs_bpart *p = NULL;

	if (!__atomic_load_n(&wbr.ms, __ATOMIC_ACQUIRE) ||
	    shlogfs_part_get(fs->store, n->topic, n->part, &p))
		return; /* not retrieving: the kernel's write-back alone */
	pthread_mutex_lock(&wbr.mu);
	void *v = wb->listed ? NULL : shlogfs_array_room(wbr.v, &wbr.cap, wbr.n, sizeof *wbr.v);
	if (v) {
		wbr.v = v;
		wb->node = n;
		wb->ino = shlogfs_node_ino(fs, n);
		wb->rpart = p;
		wb->listed = 1;
		wb->asking = 0;
		wbr.v[wbr.n++] = wb;
		p = NULL;
	}
	pthread_mutex_unlock(&wbr.mu);
	if (p)
		shlogfs_part_put(p);
}

/* Unlist a stream whose last writer closed, once no reply is being taken. */
static void shlogfs_wbr_unlist(struct shlogfs_wb *wb)
{
	shlogfs_bpart *p = NULL;

	pthread_mutex_lock(&wbr.mu);
	pthread_mutex_lock(&wb->mu);
	int gone = wb->listed && wb->writers == 0;
	pthread_mutex_unlock(&wb->mu);
	if (gone) {
		for (size_t i = 0; i < wbr.n; i++)
			if (wbr.v[i] == wb) {
				wbr.v[i] = wbr.v[--wbr.n];
				break;
			}
		wb->listed = 0;
		while (wb->replying) /* a reply being taken uses rpart */
			pthread_cond_wait(&wbr.idle, &wbr.mu);
		p = wb->rpart;
		wb->rpart = NULL;
	}
	pthread_mutex_unlock(&wbr.mu);
	if (p)
		shlogfs_part_put(p);
}

/* Should @p wb be asked now, from where, in which epoch (wbr.mu held)? */
static int shlogfs_wbr_due(struct shlogfs_wb *wb, uint64_t *from, uint64_t *epoch)
{
	SL_HELD(&wbr.mu);
	uint64_t eng;
	int due;

	if (wb->asking && shlogfs_mono_ns() - wb->asked_ns < SHLOGFS_WBR_STALE_MS * 1000000LL)
		return 0;
	pthread_mutex_lock(&wb->mu);
	due = !wb->broken && !wb->sealing && wb->writers &&
	      shlogfs_wb_end(wb->rpart, wb, &eng, from) == 0;
	*epoch = wb->epoch;
	pthread_mutex_unlock(&wb->mu);
	if (due) {
		wb->asking = 1;
		wb->asked_ns = shlogfs_mono_ns();
	}
	return due;
}

/* Ask the kernel for inode @p ino's cached bytes from @p from on (the reply carries @p epoch). */
static void shlogfs_wbr_ask(fuse_ino_t ino, uint64_t from, uint64_t epoch)
{
	struct fuse_session *se = __atomic_load_n(&wbr.fs->se, __ATOMIC_ACQUIRE);
	int rc = se ? fuse_lowlevel_notify_retrieve(se, ino, SHLOGFS_WBR_MAX, (off_t)from,
						    (void *)(uintptr_t)epoch) : -ENOTCONN;

	pthread_mutex_lock(&wbr.mu);
	wbr.asked++;
	for (size_t i = 0; rc && i < wbr.n; i++)
		if (wbr.v[i]->ino == ino)
			wbr.v[i]->asking = 0; /* no reply will come */
	pthread_mutex_unlock(&wbr.mu);
}

/* One round: ask for every listed stream not already asked. */
static void shlogfs_wbr_round(void)
{
	struct { fuse_ino_t ino; uint64_t from, epoch; } ask[64];
	size_t n = 0, start = 0;

	do {
		n = 0;
		pthread_mutex_lock(&wbr.mu);
		for (size_t i = start; i < wbr.n && n < 64; i++, start++)
			if (shlogfs_wbr_due(wbr.v[i], &ask[n].from, &ask[n].epoch))
				ask[n++].ino = wbr.v[i]->ino;
		pthread_mutex_unlock(&wbr.mu);
		for (size_t i = 0; i < n; i++) /* outside the locks: a device write */
			shlogfs_wbr_ask(ask[i].ino, ask[i].from, ask[i].epoch);
	} while (n == 64);
}

/* The retriever thread: a round every wbr.ms until stopped. */
static void *shlogfs_wbr_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wbr.mu);
	while (!wbr.stop) {
		struct timespec dl = shlogfs_deadline_ms((long)wbr.ms);
		pthread_cond_timedwait(&wbr.wake, &wbr.mu, &dl);
		if (wbr.stop)
			break;
		pthread_mutex_unlock(&wbr.mu);
		shlogfs_wbr_round();
		pthread_mutex_lock(&wbr.mu);
	}
	pthread_mutex_unlock(&wbr.mu);
	return NULL;
}

/* Start retrieving every @p ms (0: never); 0 or -errno. */
int shlogfs_wb_retrieve_start(struct shlogfs *fs, uint32_t ms)
{
	int rc;

	if (ms == 0)
		return 0;
	wbr.fs = fs;
	wbr.stop = 0;
	__atomic_store_n(&wbr.ms, ms, __ATOMIC_RELEASE);
	if ((rc = pthread_create(&wbr.thread, NULL, shlogfs_wbr_main, NULL))) {
		__atomic_store_n(&wbr.ms, 0, __ATOMIC_RELEASE);
		return -rc;
	}
	return 0;
}

/* Stop the retriever (before the handles close). */
void shlogfs_wb_retrieve_stop(void)
{
	if (!__atomic_load_n(&wbr.ms, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&wbr.mu);
	wbr.stop = 1;
	pthread_cond_broadcast(&wbr.wake);
	pthread_mutex_unlock(&wbr.mu);
	pthread_join(wbr.thread, NULL);
	__atomic_store_n(&wbr.ms, 0, __ATOMIC_RELEASE); /* streams listed now stay
							   until their last close */
}

/* Find the listed stream of @p ino and mark a reply being taken (wbr.mu held). */
static struct shlogfs_wb *shlogfs_wbr_find(fuse_ino_t ino)
{
	SL_HELD(&wbr.mu);
	for (size_t i = 0; i < wbr.n; i++)
		if (wbr.v[i]->ino == ino) {
			wbr.v[i]->replying++;
			wbr.v[i]->asking = 0;
			return wbr.v[i];
		}
	return NULL;
}

/* Take the bytes of a reply from the stream's end on (mu held); -errno marks it refused. */
static void shlogfs_wbr_take(struct shlogfs_wb *wb, uint64_t epoch, uint64_t off,
			     const char *buf, size_t len)
{
	SL_HELD(&wb->mu);
	uint64_t eng, end;
	int rc;

	if (epoch != wb->epoch || wb->broken || wb->sealing ||
	    shlogfs_wb_end(wb->rpart, wb, &eng, &end) ||
	    off > end || off + len <= end)
		return; /* nothing new, or a gap the write-back will fill */
	rc = shlogfs_wb_take(wbr.fs, wb->held_uid, wb->rpart, wb,
			     buf + (end - off), (size_t)(off + len - end));
	if (rc)
		shlogfs_wb_refuse(wb->node, wb, end, (size_t)(off + len - end), end, rc);
	pthread_cond_broadcast(&wb->cv);
}

/* The kernel's answer to an ask of @p epoch: its cached bytes of inode @p ino from @p off. */
void shlogfs_wb_retrieved(struct shlogfs *fs, fuse_ino_t ino, uint64_t epoch, uint64_t off,
			  struct fuse_bufvec *bufv)
{
	size_t len = fuse_buf_size(bufv);
	struct fuse_bufvec flat = FUSE_BUFVEC_INIT(len);
	struct shlogfs_wb *wb;
	char *buf = len ? malloc(len) : NULL;

	(void)fs;
	pthread_mutex_lock(&wbr.mu);
	wb = shlogfs_wbr_find(ino);
	wbr.replies++;
	wbr.bytes += len;
	pthread_mutex_unlock(&wbr.mu);
	if (!wb) {
		free(buf);
		return;
	}
	flat.buf[0].mem = buf;
	if (buf && (size_t)fuse_buf_copy(&flat, bufv, 0) == len) {
		pthread_mutex_lock(&wb->mu);
		shlogfs_wbr_take(wb, epoch, off, buf, len);
		pthread_mutex_unlock(&wb->mu);
	}
	free(buf);
	pthread_mutex_lock(&wbr.mu);
	wb->replying--;
	pthread_cond_broadcast(&wbr.idle);
	pthread_mutex_unlock(&wbr.mu);
}

/* The retriever's counters since the mount: asks, replies, bytes given. */
void shlogfs_wb_retrieve_counts(uint64_t *asked, uint64_t *replies, uint64_t *bytes)
{
	pthread_mutex_lock(&wbr.mu);
	*asked = wbr.asked;
	*replies = wbr.replies;
	*bytes = wbr.bytes;
	pthread_mutex_unlock(&wbr.mu);
}
