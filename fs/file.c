/*
 * file.c — open files: open, read, write, flush, fsync, release.
 *
 * Writes to a log are lines, framed by frame.c.  Each handle keeps its
 * unfinished last line; complete lines go to the engine with one
 * shlog_part_append_lines() per write request (two when an unfinished
 * line from an earlier request is completed), so lines of two handles
 * never interleave.  The unfinished line becomes a message, with a '\n'
 * added, at release (the last close of the open file).  A line over
 * max_message is refused with EMSGSIZE, and so is every write of the
 * rest of it, up to its '\n'.  A write is
 * accepted when the file was opened with O_APPEND and the request still
 * carries it (a client may clear it with fcntl),
 * or when its offset is the end of the log as this handle sees it
 * (the log's size plus its own unfinished bytes); anything else: EPERM.
 *
 * Status files (anchor, index, stats), keys/<key> and a read of
 * <topic>/log are snapshots taken at open and served with direct_io;
 * while a snapshot is open, stat reports its size, so what stat says is
 * what read returns (tar, cat).  Logs and at/since files are read with
 * direct_io too, from a read-ahead per handle (see "reading" below).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "shlogfs.h"
#include "frame.h"

/* The handle of an open file. */
static struct shlogfs_handle *shlogfs_fh(struct fuse_file_info *fi)
{
	return (struct shlogfs_handle *)(uintptr_t)fi->fh;
}

/* Engine append flags for a request's file flags. */
static int shlogfs_append_flags(int flags)
{
	return (flags & O_NONBLOCK ? SHLOG_NONBLOCK : 0) |
	       (flags & O_DSYNC ? SHLOG_DURABLE : 0);
}

/* -o writeback refuses writes that would bypass a partition log's stream. */
static int shlogfs_wb_refused(struct shlogfs_node *n, const char *what)
{
	shlogfs_log(LOG_NOTICE, "%s: writes to %s are refused with -o writeback "
		    "(write to <topic>/<p>/log)", n->topic, what);
	return -EPERM;
}

/* ==== handles ========================================================= */

/* A new handle on @p n for @p uid, registered for shutdown. */
static struct shlogfs_handle *shlogfs_handle_new(struct shlogfs *fs,
						 struct shlogfs_node *n,
						 int flags, uid_t uid)
{
	struct shlogfs_handle *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->kind = n->kind;
	h->node = n;
	h->flags = flags;
	h->uid = uid;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->ra_lock, NULL);
	pthread_mutex_lock(&fs->lock);
	LIST_INSERT_HEAD(&fs->handles, h, link);
	pthread_mutex_unlock(&fs->lock);
	return h;
}

/* Publish the size of @p h's snapshot as its node's size. */
static void shlogfs_handle_snap(struct shlogfs *fs, struct shlogfs_handle *h,
				uint64_t len)
{
	pthread_mutex_lock(&fs->lock);
	if (!h->snap)
		h->node->nsnap++;
	h->snap = 1;
	h->node->snap_len = len;
	pthread_mutex_unlock(&fs->lock);
}

/*
 * The memory budget (budget.c): a handle is charged what it holds for
 * its opener: itself, its per-partition arrays, its key name and its
 * buffer (unfinished line, key value or status text), by capacity.  The
 * charge is taken at open and before a write that grows the buffer, and
 * brought down to what is held after each write; a buffer a finished
 * line leaves empty is freed when it is larger than a page.
 */
#define SHLOGFS_KEEP_BUF 4096

/* Bytes @p h holds with a buffer of capacity @p cap. */
static uint64_t shlogfs_handle_bytes(const struct shlogfs_handle *h,
				     size_t cap)
{
	return sizeof *h + h->klen + cap +
	       (uint64_t)h->nparts * (sizeof *h->parts + sizeof *h->batch +
				      2 * sizeof *h->ext);
}

/* Charge @p h for a buffer that will hold @p need bytes; -ENOBUFS. */
static int shlogfs_handle_grow(struct shlogfs *fs, struct shlogfs_handle *h,
			       size_t need, const char *what)
{
	size_t cap = shlogfs_buf_cap_for(&h->buf, need);

	return shlogfs_budget_set(fs, h->uid, &h->held,
				  shlogfs_handle_bytes(h, cap), what);
}

/* After a write: free an emptied large line buffer; charge what is held. */
static void shlogfs_handle_settle(struct shlogfs *fs, struct shlogfs_handle *h)
{
	if ((h->kind == SHLOGFS_LOG || h->kind == SHLOGFS_TLOG) &&
	    h->buf.len == 0 && h->buf.cap > SHLOGFS_KEEP_BUF)
		shlogfs_buf_free(&h->buf);
	uint64_t want = shlogfs_handle_bytes(h, h->buf.cap);

	if (want > h->held) /* held already: counted, not refused */
		shlogfs_budget_force(fs, h->uid, want - h->held);
	else
		shlogfs_budget_give(fs, h->uid, h->held - want);
	h->held = want;
}

/*
 * Bytes a log handle's line buffer holds while framing one request:
 * the pending line completed by the request's head, or its unfinished
 * tail; nothing when the framer will refuse the line anyway.
 */
static size_t shlogfs_line_need(const struct shlogfs_handle *h,
				size_t max_message, const char *buf,
				size_t size)
{
	const char *first = memchr(buf, '\n', size), *last;
	size_t need, tail;

	if (h->dropping)
		return h->buf.len;
	if (!first) {
		need = h->buf.len + size;
	} else {
		last = memrchr(buf, '\n', size);
		need = h->buf.len ? h->buf.len + (size_t)(first - buf) + 1 : 0;
		tail = size - (size_t)(last - buf) - 1;
		if (tail > need)
			need = tail;
	}
	return need > max_message + 1 ? h->buf.len : need;
}

/*
 * Keep a reader's read-ahead only while its opener's budget allows
 * (ra_lock held): past it the buffer is freed after the reply, so a
 * user with many readers gets reads without read-ahead, never an error.
 */
static void shlogfs_ra_charge(struct shlogfs *fs, struct shlogfs_handle *h)
{
	if (shlogfs_budget_set(fs, h->uid, &h->ra_held, h->ra.cap,
			       "read-ahead") == 0)
		return;
	shlogfs_buf_free(&h->ra);
	shlogfs_budget_set(fs, h->uid, &h->ra_held, 0, "read-ahead");
}

/* Bytes an unfinished line of @p h adds to the end it writes at. */
uint64_t shlogfs_handle_pending(struct shlogfs_handle *h)
{
	uint64_t n;

	if (h->kind != SHLOGFS_LOG && h->kind != SHLOGFS_TLOG)
		return 0;
	pthread_mutex_lock(&h->lock);
	n = h->buf.len;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* ==== keys ============================================================ */

/* Read the current value of @p h's key (plus '\n') into h->buf. */
static int shlogfs_key_load(struct shlogfs_handle *h)
{
	struct shlog_keyref ref;
	int rc = shlog_key_lookup(h->part, h->key, h->klen, &ref);

	h->buf.len = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	size_t vlen = ref.len > ref.klen ? ref.len - ref.klen - 1 : 0;
	uint64_t off = ref.off + ref.klen + 1;
	if ((rc = shlogfs_buf_reserve(&h->buf, vlen + 1)))
		return rc;
	while (h->buf.len < vlen) {
		ssize_t r = shlog_part_read(h->part, off + h->buf.len,
					    h->buf.p + h->buf.len,
					    vlen - h->buf.len);
		if (r <= 0)
			return r < 0 ? (int)r : -EIO;
		h->buf.len += (size_t)r;
	}
	h->buf.p[h->buf.len++] = '\n';
	return 0;
}

/* Append "key<TAB>value" for a written key file (empty: tombstone). */
static int shlogfs_key_commit(struct shlogfs_handle *h, int flags)
{
	struct shlogfs_buf msg = { 0 };
	size_t vlen = h->buf.len;
	int rc;

	if (!h->dirty)
		return 0;
	if (vlen && h->buf.p[vlen - 1] == '\n')
		vlen--;
	if (memchr(h->buf.p, '\n', vlen))
		return -EINVAL; /* a value is one line */
	if ((rc = shlogfs_buf_add(&msg, h->key, h->klen)) == 0 &&
	    (rc = shlogfs_buf_add(&msg, "\t", 1)) == 0 &&
	    (rc = shlogfs_buf_add(&msg, h->buf.p, vlen)) == 0)
		rc = shlog_part_append(h->part, msg.p, msg.len, flags, NULL);
	shlogfs_buf_free(&msg);
	if (rc == 0)
		h->dirty = 0;
	return rc;
}

/* Set up a KEY handle: partition, key name, current value. */
static int shlogfs_key_setup(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_handle *h, int flags)
{
	int rc = shlogfs_node_part(fs, n, &h->part);

	if (rc)
		return rc;
	h->key = strdup(n->name);
	if (!h->key)
		return -ENOMEM;
	h->klen = n->nlen;
	/* O_TRUNC empties the new value; only a write makes it a message
	 * (shells close a dup of the file before echo writes to it) */
	if (!(flags & O_TRUNC) && (rc = shlogfs_key_load(h)))
		return rc;
	shlogfs_handle_snap(fs, h, h->buf.len);
	return 0;
}

/* create of keys/<key>: open a KEY handle into @p fi. */
int shlogfs_key_open(struct shlogfs *fs, struct shlogfs_node *n,
		     struct fuse_file_info *fi, uid_t uid)
{
	struct shlogfs_handle *h;
	int rc;

	fi->fh = 0;
	if (fs->wb_on)
		return shlogfs_wb_refused(n, "keys/<key>");
	h = shlogfs_handle_new(fs, n, fi->flags, uid);
	if (!h)
		return -ENOMEM;
	rc = shlogfs_key_setup(fs, n, h, fi->flags);
	if (rc == 0)
		rc = shlogfs_handle_grow(fs, h, h->buf.cap, "open");
	if (rc) {
		shlogfs_handle_drop(fs, h);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

/* setattr size on an open key file: cut or extend its new value. */
int shlogfs_handle_truncate(struct shlogfs *fs, struct shlogfs_handle *h,
			    uint64_t size)
{
	int rc = 0;

	if (h->kind != SHLOGFS_KEY)
		return -EPERM;
	if (size > fs->max_message)
		return -EFBIG;
	pthread_mutex_lock(&h->lock);
	if (size > h->buf.len) {
		rc = shlogfs_handle_grow(fs, h, (size_t)size, "key truncate");
		if (rc == 0)
			rc = shlogfs_buf_reserve(&h->buf, size);
		if (rc == 0)
			memset(h->buf.p + h->buf.len, 0, size - h->buf.len);
	}
	if (rc == 0) {
		h->buf.len = size;
		h->dirty = 1;
		shlogfs_handle_snap(fs, h, size);
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* ==== topic log ======================================================= */

/*
 * May @p c open every partition of the topic for @p mask?  <topic>/log
 * reads and writes them all, so an open needs what an open of each
 * <topic>/<p>/log would need (the kernel checked only the topic's).
 */
static int shlogfs_tlog_access(struct shlogfs *fs, struct shlogfs_node *n,
			       const struct shlogfs_cred *c, uint32_t np,
			       int mask)
{
	uint32_t i = 0;
	int rc = shlogfs_access_parts(fs, c, n->topic, np, mask, &i);

	if (rc == -EACCES)
		shlogfs_log(LOG_NOTICE, "%s/log: open for %s by uid %u "
			    "refused: partition %u does not allow it",
			    n->topic, mask & W_OK ? "writing" : "reading",
			    (unsigned)c->uid, i);
	return rc;
}

/* Take every partition of a topic; a reader also snapshots their extents. */
static int shlogfs_tlog_setup(struct shlogfs *fs, struct shlogfs_node *n,
			      struct shlogfs_handle *h,
			      const struct shlogfs_cred *c, int mask)
{
	int reader = (mask & R_OK) != 0;
	uint64_t total = 0;
	uint32_t np;
	int rc = shlog_topic_nparts(fs->store, n->topic, &np);

	if (rc == 0)
		rc = shlogfs_tlog_access(fs, n, c, np, mask);
	if (rc)
		return rc;
	h->parts = calloc(np, sizeof *h->parts);
	h->batch = calloc(np, sizeof *h->batch);
	h->ext = calloc(2 * (size_t)np, sizeof *h->ext);
	if (!h->parts || !h->batch || !h->ext)
		return -ENOMEM;
	for (; h->nparts < np; h->nparts++) {
		struct shlog_part_info in;
		rc = shlog_part_get(fs->store, n->topic, h->nparts,
				    &h->parts[h->nparts]);
		if (rc)
			return rc;
		if (!reader)
			continue;
		if ((rc = shlog_part_info(h->parts[h->nparts], &in)))
			return rc;
		h->ext[2 * h->nparts] = in.start_off;
		h->ext[2 * h->nparts + 1] = in.end_off;
		total += in.end_off - in.start_off;
	}
	if (reader)
		shlogfs_handle_snap(fs, h, total);
	return 0;
}

/*
 * Queue one complete line (with its '\n') for its partition: keyed lines
 * by FNV-1a of the key, keyless ones round robin over all writers.
 */
static int shlogfs_tlog_route(struct shlogfs_handle *h, const char *line,
			      size_t len)
{
	size_t klen = shlogfs_line_key(line, len - 1);
	uint32_t i = klen ? shlogfs_fnv1a(line, klen) % h->nparts
			  : __atomic_fetch_add(&h->node->rr, 1, __ATOMIC_RELAXED) %
			    h->nparts;

	return shlogfs_buf_add(&h->batch[i], line, len);
}

/* Send every partition's queued lines; the first error, if any. */
static int shlogfs_tlog_send(struct shlogfs_handle *h, int flags)
{
	int rc = 0;

	for (uint32_t i = 0; i < h->nparts; i++) {
		struct shlogfs_buf *b = &h->batch[i];
		if (b->len == 0)
			continue;
		int r = shlog_part_append_lines(h->parts[i], b->p, b->len,
						flags, NULL);
		shlogfs_buf_free(b); /* held only for the request (budget) */
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

/* Current size of <topic>/log as a writer sees it. */
static int shlogfs_tlog_end(struct shlogfs_handle *h, uint64_t *end)
{
	*end = 0;
	for (uint32_t i = 0; i < h->nparts; i++) {
		struct shlog_part_info in;
		int rc = shlog_part_info(h->parts[i], &in);
		if (rc)
			return rc;
		*end += in.end_off - in.start_off;
	}
	return 0;
}

/* ==== writing lines =================================================== */

/* Where framed lines go: a handle and the append flags of its request. */
struct shlogfs_sink {
	struct shlogfs_handle *h;
	int flags;
};

/* LOG emit (frame.c): complete lines to the partition as one unit. */
static int shlogfs_log_emit(void *arg, const char *lines, size_t len)
{
	struct shlogfs_sink *s = arg;

	return shlog_part_append_lines(s->h->part, lines, len, s->flags, NULL);
}

/* TLOG emit (frame.c): one line queued for its partition. */
static int shlogfs_tlog_emit(void *arg, const char *line, size_t len)
{
	struct shlogfs_sink *s = arg;

	return shlogfs_tlog_route(s->h, line, len);
}

/*
 * The framing of a LOG or TLOG handle: its unfinished line is h->buf;
 * its drop flag is h->dropping.
 */
static struct shlogfs_frame shlogfs_frame_of(struct shlogfs_handle *h,
					     uint32_t max_message,
					     struct shlogfs_sink *s)
{
	struct shlogfs_frame f = {
		.pend = &h->buf,
		.drop = &h->dropping,
		.max_message = max_message,
		.emit = h->kind == SHLOGFS_TLOG ? shlogfs_tlog_emit
						: shlogfs_log_emit,
		.arg = s,
	};

	return f;
}

/* LOG: append the complete lines of one request; bytes taken or -errno. */
static ssize_t shlogfs_log_put(struct shlogfs *fs, struct shlogfs_handle *h,
			       const char *buf, size_t size, int flags)
{
	struct shlogfs_sink s = { h, flags };
	struct shlogfs_frame f = shlogfs_frame_of(h, fs->max_message, &s);

	return shlogfs_frame_log(&f, buf, size);
}

/* TLOG: route the complete lines of one request; bytes taken or -errno. */
static ssize_t shlogfs_tlog_put(struct shlogfs *fs, struct shlogfs_handle *h,
				const char *buf, size_t size, int flags)
{
	struct shlogfs_sink s = { h, flags };
	struct shlogfs_frame f = shlogfs_frame_of(h, fs->max_message, &s);
	ssize_t n = shlogfs_frame_tlog(&f, buf, size);
	int sent = shlogfs_tlog_send(h, flags);

	return n >= 0 && sent < 0 ? sent : n;
}

/* Is a write at @p off allowed: O_APPEND (at open and now) or at the end? */
static int shlogfs_append_ok(struct shlogfs_handle *h, int wflags,
			     uint64_t off)
{
	uint64_t end;
	int rc;

	if ((h->flags & O_APPEND) && (wflags & O_APPEND))
		return 0;
	if (h->kind == SHLOGFS_TLOG) {
		rc = shlogfs_tlog_end(h, &end);
	} else {
		struct shlog_part_info in;
		rc = shlog_part_info(h->part, &in);
		end = in.end_off;
	}
	if (rc)
		return rc;
	return off == end + h->buf.len ? 0 : -EPERM;
}

/* KEY: write into the new value at any offset. */
static ssize_t shlogfs_key_put(struct shlogfs *fs, struct shlogfs_handle *h,
			       const char *buf, size_t size, uint64_t off)
{
	if (off + size > fs->max_message)
		return -EFBIG;
	int rc = shlogfs_handle_grow(fs, h, (size_t)(off + size), "key write");
	if (rc == 0)
		rc = shlogfs_buf_reserve(&h->buf, off + size);
	if (rc)
		return rc;
	if (off > h->buf.len)
		memset(h->buf.p + h->buf.len, 0, off - h->buf.len);
	memcpy(h->buf.p + off, buf, size);
	if (off + size > h->buf.len)
		h->buf.len = off + size;
	h->dirty = 1;
	shlogfs_handle_snap(fs, h, h->buf.len);
	return (ssize_t)size;
}

/* Write to a handle under its lock: lines to a log, or a key's value. */
static ssize_t shlogfs_handle_write(struct shlogfs *fs,
				    struct shlogfs_handle *h, const char *buf,
				    size_t size, uint64_t off, int fflags)
{
	int flags = shlogfs_append_flags(fflags);
	ssize_t rc;

	pthread_mutex_lock(&h->lock);
	if (h->kind == SHLOGFS_KEY)
		rc = shlogfs_key_put(fs, h, buf, size, off);
	else if (h->kind != SHLOGFS_LOG && h->kind != SHLOGFS_TLOG)
		rc = -EBADF;
	else if ((rc = shlogfs_append_ok(h, fflags, off)))
		;
	else if ((rc = shlogfs_handle_grow(fs, h, shlogfs_line_need(h,
			fs->max_message, buf, size), "unfinished line")))
		;
	else if (h->kind == SHLOGFS_LOG)
		rc = shlogfs_log_put(fs, h, buf, size, flags);
	else
		rc = shlogfs_tlog_put(fs, h, buf, size, flags);
	shlogfs_handle_settle(fs, h);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* write: lines to a log, or a key's value. */
void shlogfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_handle *h = shlogfs_fh(fi);
	struct shlogfs_wb_fix fix = { 0 };
	ssize_t rc;

	if (fs->wb_on && h->kind == SHLOGFS_LOG) /* the log's byte stream (wb.c) */
		rc = shlogfs_wb_write(fs, h, buf, size, (uint64_t)off, &fix);
	else
		rc = shlogfs_handle_write(fs, h, buf, size, (uint64_t)off,
					  fi->flags);
	if (rc < 0)
		fuse_reply_err(req, (int)-rc);
	else
		fuse_reply_write(req, (size_t)rc);
	shlogfs_wb_fix_apply(fs, ino, &fix); /* after the reply: h may be gone */
}

/* ==== open, close ===================================================== */

/* Commit what a handle holds back: its unfinished line or its key value. */
static int shlogfs_handle_finish(struct shlogfs_handle *h)
{
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	if (h->kind == SHLOGFS_KEY) {
		rc = shlogfs_key_commit(h, 0);
	} else if (h->kind == SHLOGFS_LOG || h->kind == SHLOGFS_TLOG) {
		struct shlogfs_sink s = { h, 0 };
		struct shlogfs_frame f = shlogfs_frame_of(h, 0, &s);
		rc = shlogfs_frame_finish(&f);
		if (rc == 0 && h->kind == SHLOGFS_TLOG)
			rc = shlogfs_tlog_send(h, 0);
	}
	pthread_mutex_unlock(&h->lock);
	return rc < 0 ? rc : 0;
}

/* Finish (best effort), unregister and free a handle. */
void shlogfs_handle_drop(struct shlogfs *fs, struct shlogfs_handle *h)
{
	int rc;

	/* a reader replies, then still charges and unlocks ra_lock: the
	 * kernel may send this release in between, so wait for it to leave */
	pthread_mutex_lock(&h->ra_lock);
	pthread_mutex_unlock(&h->ra_lock);
	shlogfs_wb_release(fs, h);
	rc = shlogfs_handle_finish(h);

	if (rc)
		shlogfs_log(LOG_WARNING, "%s/%u: unfinished %s lost at close: %s",
			    h->node->topic, h->node->part,
			    h->kind == SHLOGFS_KEY ? "key value" : "line",
			    shlog_strerror(rc));
	pthread_mutex_lock(&fs->lock);
	LIST_REMOVE(h, link);
	if (h->snap)
		h->node->nsnap--;
	pthread_mutex_unlock(&fs->lock);
	if (h->rsnap) {
		/* buf points into the shared snapshot (metrics.c) */
		h->buf = (struct shlogfs_buf){ 0 };
		shlogfs_snap_put(fs, h->rsnap);
	}
	shlogfs_budget_give(fs, h->uid, h->held + h->ra_held);
	if (h->part)
		shlog_part_put(h->part);
	for (uint32_t i = 0; i < h->nparts; i++)
		shlog_part_put(h->parts[i]);
	if (h->batch)
		for (uint32_t i = 0; i < h->nparts; i++)
			shlogfs_buf_free(&h->batch[i]);
	free(h->parts);
	free(h->batch);
	free(h->ext);
	free(h->key);
	shlogfs_buf_free(&h->buf);
	shlogfs_buf_free(&h->ra);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->ra_lock);
	free(h);
}

/* Release every handle still open (shutdown after the session loop). */
void shlogfs_handles_close_all(struct shlogfs *fs)
{
	while (!LIST_EMPTY(&fs->handles))
		shlogfs_handle_drop(fs, LIST_FIRST(&fs->handles));
}

/*
 * A partition log with -o writeback: writers go through the page cache
 * and must open with O_APPEND; readers read what the log stores
 * (direct_io), never the kernel's unsent or refused bytes.
 */
static int shlogfs_open_wb_log(struct shlogfs *fs, struct shlogfs_handle *h,
			       struct fuse_file_info *fi, int wr)
{
	fi->direct_io = !wr;
	fi->keep_cache = wr;
	if (!wr)
		return 0;
	if (!(fi->flags & O_APPEND)) {
		shlogfs_log(LOG_NOTICE, "%s/%u/log: open for writing without "
			    "O_APPEND refused (-o writeback)", h->node->topic,
			    h->node->part);
		return -EPERM;
	}
	return shlogfs_wb_open(fs, h);
}

/* Set up a handle for node @p n; sets direct_io/keep_cache in @p fi. */
static int shlogfs_open_kind(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_handle *h,
			     const struct shlogfs_cred *c,
			     struct fuse_file_info *fi)
{
	int wr = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct shlog_part_info in;
	uint64_t end;
	int rc;

	switch (n->kind) {
	case SHLOGFS_LOG:
		if ((rc = shlogfs_node_part(fs, n, &h->part)))
			return rc;
		if ((fi->flags & O_TRUNC) &&
		    ((rc = shlog_part_info(h->part, &in)) || in.end_off > 0))
			return rc ? rc : -EPERM;
		if (fs->wb_on)
			return shlogfs_open_wb_log(fs, h, fi, wr);
		/* readers too: the kernel's page cache of a growing log can
		 * show zeros past its end (see "reading" below) */
		fi->direct_io = 1;
		return 0;
	case SHLOGFS_TLOG:
		if (wr && fs->wb_on)
			return shlogfs_wb_refused(h->node, "<topic>/log");
		fi->direct_io = 1;
		if ((rc = shlogfs_tlog_setup(fs, n, h, c,
			((fi->flags & O_ACCMODE) != O_WRONLY ? R_OK : 0) |
			(wr ? W_OK : 0))))
			return rc;
		if ((fi->flags & O_TRUNC) && (rc = shlogfs_tlog_end(h, &end)) == 0 &&
		    end > 0)
			return -EPERM;
		return rc;
	case SHLOGFS_AT:
	case SHLOGFS_SINCE:
		if (wr)
			return -EACCES;
		fi->direct_io = 1;
		if ((rc = shlogfs_node_part(fs, n, &h->part)))
			return rc;
		return shlogfs_view_base(fs, n, &h->base);
	case SHLOGFS_ANCHOR:
	case SHLOGFS_INDEX:
	case SHLOGFS_STATS:
		if (wr)
			return -EACCES;
		/* the state before the text: an older key only makes a stat
		 * make the text again (attr.c) */
		if ((rc = shlogfs_node_part(fs, n, &h->part)) ||
		    (rc = shlog_part_info(h->part, &in)) ||
		    (rc = shlogfs_text_make(h->part, n->kind, &h->buf)))
			return rc;
		shlogfs_handle_snap(fs, h, h->buf.len);
		if (n->kind == SHLOGFS_INDEX)
			shlogfs_node_text_made(fs, n, &in, h->buf.len);
		fi->direct_io = 1;
		return 0;
	case SHLOGFS_KEY:
		if (wr && fs->wb_on)
			return shlogfs_wb_refused(h->node, "keys/<key>");
		fi->direct_io = 1;
		return shlogfs_key_setup(fs, n, h, fi->flags);
	default:
		return -EISDIR;
	}
}

/* open: a handle per open file. */
void shlogfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_handle *h;
	struct shlogfs_cred c;
	int rc;

	if (n->kind != SHLOGFS_ROOT && shlogfs_node_live(n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	shlogfs_cred_get(req, &c);
	h = shlogfs_handle_new(fs, n, fi->flags, c.uid);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = shlogfs_open_kind(fs, n, h, &c, fi);
	if (rc == 0)
		rc = shlogfs_handle_grow(fs, h, h->buf.cap, "open");
	if (rc) {
		shlogfs_handle_drop(fs, h);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) != 0)
		shlogfs_handle_drop(fs, h);
}

/*
 * flush (every close() of a descriptor): commit a written key value, so
 * close() reports its errors and a read right after sees it.  An
 * unfinished log line waits for release: shells close duplicates of a
 * descriptor around every builtin (`printf x >&3`), and a line must not
 * be cut at those.
 */
void shlogfs_op_flush(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);
	int rc = 0;

	(void)ino;
	if (h->kind == SHLOGFS_KEY) {
		pthread_mutex_lock(&h->lock);
		rc = shlogfs_key_commit(h, 0);
		pthread_mutex_unlock(&h->lock);
	}
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* release (last close): finish and free the handle. */
void shlogfs_op_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	(void)ino;
	shlogfs_handle_drop(shlogfs_of(req), shlogfs_fh(fi));
	fuse_reply_err(req, 0);
}

/* fsync/fdatasync: everything written before is durable on return. */
void shlogfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);
	int rc = 0;

	(void)ino;
	(void)datasync;
	if (h->kind == SHLOGFS_KEY) {
		pthread_mutex_lock(&h->lock);
		rc = shlogfs_key_commit(h, 0);
		pthread_mutex_unlock(&h->lock);
	}
	if (rc == 0 && (h->kind == SHLOGFS_LOG || h->kind == SHLOGFS_KEY))
		rc = shlog_part_sync(h->part);
	for (uint32_t i = 0; rc == 0 && i < h->nparts; i++)
		rc = shlog_part_sync(h->parts[i]);
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* fallocate: logs only grow by appending (EPERM, like other refusals). */
void shlogfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)off;
	(void)len;
	(void)fi;
	fuse_reply_err(req, EPERM);
}

/* ==== reading =========================================================
 *
 * Logs, at/<N> and since/<time> are read with direct_io: every read()
 * comes to the daemon.  Through the page cache a reader could see NUL
 * bytes: after a direct write the kernel sets its size of the log to the
 * write's end, an unfinished last line (held in its handle) included,
 * so a page read at the log's end is short inside that size and the
 * kernel keeps the zero-filled rest of the page as data; a larger size
 * from getattr is also set before old pages are dropped.  The warm
 * path: a sequential reader is served from its handle's read-ahead,
 * filled by large engine reads (each span's CRC checked once per fill),
 * so a 4 KiB read costs one round trip and a copy from memory.
 */

/* Fill @p buf from a log; bytes below start_off: zeros if @p holes, else -ESTALE. */
static ssize_t shlogfs_fill(shlog_part *p, uint64_t off, char *buf,
			    size_t size, int holes)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r = shlog_part_read(p, off + got, buf + got, size - got);
		if (r == -ENODATA) {
			/* deleted by retention: a hole, as in a sparse file */
			struct shlog_part_info in;
			int rc = shlog_part_info(p, &in);
			if (rc)
				return got ? (ssize_t)got : rc;
			if (in.start_off <= off + got)
				return got ? (ssize_t)got : -EIO;
			if (!holes)
				return got ? (ssize_t)got : -ESTALE;
			uint64_t z = in.start_off - (off + got);
			if (z > size - got)
				z = size - got;
			memset(buf + got, 0, z);
			got += z;
			continue;
		}
		if (r < 0)
			return got ? (ssize_t)got : r;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Fill @p buf from a partition's log; bytes below start_off read as zeros. */
ssize_t shlogfs_part_fill(shlog_part *p, uint64_t off, char *buf, size_t size)
{
	return shlogfs_fill(p, off, buf, size, 1);
}

/*
 * Read <topic>/log: the partitions' extents at open, in partition order.
 * Bytes retention deleted since then are an error (ESTALE), not zeros.
 */
static ssize_t shlogfs_tlog_fill(struct shlogfs_handle *h, uint64_t off,
				 char *buf, size_t size)
{
	size_t got = 0;
	uint64_t at = 0;

	for (uint32_t i = 0; i < h->nparts && got < size; i++) {
		uint64_t start = h->ext[2 * i], len = h->ext[2 * i + 1] - start;
		if (off + got >= at + len) {
			at += len;
			continue;
		}
		uint64_t in = off + got - at;
		size_t want = size - got;
		if (want > len - in)
			want = (size_t)(len - in);
		ssize_t r = shlogfs_fill(h->parts[i], start + in, buf + got,
					 want, 0);
		if (r < 0)
			return got ? (ssize_t)got : r;
		got += (size_t)r;
		if ((size_t)r < want)
			break;
		at += len;
	}
	return (ssize_t)got;
}

/* Serve a slice of a snapshot held in the handle. */
static ssize_t shlogfs_snap_fill(struct shlogfs_handle *h, uint64_t off,
				 char *buf, size_t size)
{
	size_t n = 0;

	pthread_mutex_lock(&h->lock);
	if (off < h->buf.len) {
		n = h->buf.len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, h->buf.p + off, n);
	}
	pthread_mutex_unlock(&h->lock);
	return (ssize_t)n;
}

/*
 * The read-ahead of a log, at/ or since/ handle: a read that starts
 * where the last one ended fills SHLOGFS_RA_SIZE bytes (or the read's
 * size, if larger); another read fills only what it asked for.  Bytes
 * once written never change, so what it holds stays true; a read that
 * reaches past its end refills it from the read's offset, so a reader
 * at the end of a growing log sees new lines at once.
 */
#define SHLOGFS_RA_SIZE (1u << 20)

/* Where a view (at/, since/) starts; until a read returned bytes it is
 * found again at each read, so it is never older than the handle's first
 * byte (ra_lock held). */
static int shlogfs_view_start(struct shlogfs *fs, struct shlogfs_handle *h)
{
	if (h->based || (h->kind != SHLOGFS_AT && h->kind != SHLOGFS_SINCE))
		return 0;
	return shlogfs_view_base(fs, h->node, &h->base);
}

/*
 * Refill @p h's read-ahead from log offset @p off for a read of @p size
 * (ra_lock held): up to SHLOGFS_RA_SIZE bytes for a sequential reader,
 * no more than the log holds, so a reader at its end keeps little memory.
 */
static ssize_t shlogfs_ra_fill(struct shlogfs_handle *h, uint64_t off,
			       size_t size)
{
	struct shlog_part_info in;
	size_t want = size;
	ssize_t r;

	if ((off == h->ra_off + h->ra.len || off == h->base) &&
	    want < SHLOGFS_RA_SIZE) {
		if ((r = shlog_part_info(h->part, &in)))
			return r;
		uint64_t avail = in.end_off > off ? in.end_off - off : 0;
		want = avail > SHLOGFS_RA_SIZE ? SHLOGFS_RA_SIZE :
		       avail > size ? (size_t)avail : size;
	}
	h->ra.len = 0;
	if (h->ra.cap > 2 * want)
		shlogfs_buf_free(&h->ra);
	if ((r = shlogfs_buf_reserve(&h->ra, want)))
		return r;
	r = shlogfs_fill(h->part, off, h->ra.p, want, h->kind == SHLOGFS_LOG);
	if (r < 0)
		return r;
	h->ra_off = off;
	h->ra.len = (size_t)r;
	return r;
}

/* Serve a read of a log, at/ or since/ through the handle's read-ahead. */
static void shlogfs_read_ahead(fuse_req_t req, struct shlogfs_handle *h,
			       uint64_t off, size_t size)
{
	struct shlogfs *fs = shlogfs_of(req);
	ssize_t r = 0;
	uint64_t at = 0;

	pthread_mutex_lock(&h->ra_lock);
	if ((r = shlogfs_view_start(fs, h)) == 0) {
		at = h->base + off;
		if (at < h->ra_off || at + size > h->ra_off + h->ra.len)
			r = shlogfs_ra_fill(h, at, size);
	}
	if (r < 0) {
		fuse_reply_err(req, (int)-r);
	} else {
		size_t n = at < h->ra_off + h->ra.len ?
			   (size_t)(h->ra_off + h->ra.len - at) : 0;
		if (n > size)
			n = size;
		if (n)
			h->based = 1;
		fuse_reply_buf(req, n ? h->ra.p + (at - h->ra_off) : NULL, n);
	}
	shlogfs_ra_charge(fs, h);
	pthread_mutex_unlock(&h->ra_lock);
}

/* read: any offset; a short read means the end of the file. */
void shlogfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);
	/* -o writeback: a log is the stored log and the unfinished line (wb.c) */
	int wb = shlogfs_of(req)->wb_on && h->kind == SHLOGFS_LOG;
	char *buf;
	ssize_t r;

	(void)ino;
	if (!wb && (h->kind == SHLOGFS_LOG || h->kind == SHLOGFS_AT ||
		    h->kind == SHLOGFS_SINCE)) {
		shlogfs_read_ahead(req, h, (uint64_t)off, size);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (wb)
		r = shlogfs_wb_read(h, (uint64_t)off, buf, size);
	else if (h->kind == SHLOGFS_TLOG)
		r = shlogfs_tlog_fill(h, (uint64_t)off, buf, size);
	else
		r = shlogfs_snap_fill(h, (uint64_t)off, buf, size);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}
