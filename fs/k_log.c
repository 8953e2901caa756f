/*
 * k_log.c — the kinds of the two logs: a partition's log <topic>/<p>/log
 * and a topic's log <topic>/log, which routes each line to a partition
 * (keyed lines by FNV-1a of the key, keyless ones round robin) and reads
 * as every partition's log in turn.
 *
 * Writes to a log are lines, framed by frame.c.  Each handle keeps its
 * unfinished last line; complete lines go to the engine with one
 * shlogfs_part_append_lines() per write request (two when an unfinished
 * line from an earlier request is completed), so lines of two handles
 * never interleave.  The unfinished line becomes a message, with a '\n'
 * added, at release (the last close of the open file).  A line over
 * max_message is refused with EMSGSIZE, and so is every write of the
 * rest of it, up to its '\n'.  A write is accepted when the file was
 * opened with O_APPEND and the request still carries it (a client may
 * clear it with fcntl), or when its offset is the end of the log as this
 * handle sees it (the log's size plus its own unfinished bytes);
 * anything else: EPERM.  With -o writeback a partition log is one byte
 * stream per inode instead (wb.c).
 *
 * A partition log is read through its handle's read-ahead (read.c),
 * bytes retention deleted reading as zeros; a read of <topic>/log is a
 * snapshot of the partitions' extents at open.  The size of <topic>/log
 * tells the size of every partition: only a caller who may read them all
 * is told it, anyone else sees 0 (its attribute timeout of 0 keeps the
 * kernel from showing one caller's size to the next).
 *
 * <topic>/log takes appends only (O_APPEND): a copy of an old archive
 * that holds it (cp -a writes at offset 0) must not route its bytes
 * into the partitions again.  A restore name (a new name made in a
 * partition directory: rsync's temporary file; restore.c) is a handle
 * onto its partition's log holding no bytes of its own: a write below
 * the log's end must equal the log's bytes there (else EPERM, nothing
 * appended), a write at the end appends lines as a write to the log
 * does, and a write past what it was written up to is refused.  A
 * restore's handle (a restore name, or a log made again after its
 * unlink) closed inside a line drops that line: an interrupted restore
 * leaves whole lines, and run again it continues.  utimens
 * of a partition log (or of a restore name) sets the mtime the log
 * shows while its size stays (restore.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "held_i.h"
#include "kinds.h"
#include "cred.h"
#include "follow.h"
#include "frame.h"
#include "handle.h"
#include "log.h"
#include "node.h"
#include "pcache.h"
#include "read.h"
#include "restore.h"
#include "stat.h"
#include "text.h"
#include "wb.h"

/* A line buffer a finished line leaves empty is freed past this size. */
#define SHLOGFS_KEEP_BUF 4096

/** How lines written to a log reach the engine (its kind's priv). */
struct shlogfs_lines {
	/** The log's end as this handle sees it, its own pending bytes aside. */
	int (*end)(struct shlogfs_handle *h, uint64_t *end);
	/** Frame one request; bytes taken or -errno. */
	ssize_t (*put)(struct shlogfs *fs, struct shlogfs_handle *h,
		       const char *buf, size_t size, int flags);
	/** What the framer's complete lines go to. */
	shlogfs_frame_emit_fn emit;
	/** Send what emit queued (NULL: emit sent it). */
	int (*send)(struct shlogfs_handle *h, int flags);
};

/* The description of log kind @p k. */
static const struct shlogfs_lines *shlogfs_lines_of(const struct shlogfs_kind *k)
{
	return k->priv;
}

/* Engine append flags for a request's file flags. */
static int shlogfs_append_flags(int flags)
{
	return (flags & O_NONBLOCK ? SHLOG_NONBLOCK : 0) |
	       (flags & O_DSYNC ? SHLOG_DURABLE : 0);
}

/* ==== writing lines =================================================== */

/* Where framed lines go: a handle and the append flags of its request. */
struct shlogfs_sink {
	struct shlogfs_handle *h;
	int flags;
};

/*
 * The framing of a log handle: its unfinished line is h->buf; its drop
 * flag is h->dropping; its lines go to its kind's emit.
 */
static struct shlogfs_frame shlogfs_frame_of(struct shlogfs_handle *h,
					     uint32_t max_message,
					     struct shlogfs_sink *s)
{
	struct shlogfs_frame f = {
		.pend = &h->buf,
		.drop = &h->dropping,
		.max_message = max_message,
		.emit = shlogfs_lines_of(h->node->kind)->emit,
		.arg = s,
	};

	return f;
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

/* A write to <topic>/log without O_APPEND: refused (and logged). */
static int shlogfs_tlog_refuse(struct shlogfs_handle *h)
{
	shlogfs_log(LOG_NOTICE, "%s/log: a write without O_APPEND refused "
		    "(EPERM): the topic's log takes appends only",
		    h->node->topic);
	return -EPERM;
}

/* Is a write at @p off allowed: O_APPEND (at open and now) or at the end? */
static int shlogfs_append_ok(struct shlogfs_handle *h, int wflags,
			     uint64_t off)
{
	uint64_t end;
	int rc;

	if ((h->flags & O_APPEND) && (wflags & O_APPEND))
		return 0;
	if (h->node->kind == &shlogfs_kind_tlog)
		return shlogfs_tlog_refuse(h);
	if ((rc = shlogfs_lines_of(h->node->kind)->end(h, &end)))
		return rc;
	return off == end + h->buf.len ? 0 : -EPERM;
}

/* Free an emptied large line buffer (budget: a finished line holds nothing). */
static void shlogfs_line_trim(struct shlogfs_handle *h)
{
	if (h->buf.len == 0 && h->buf.cap > SHLOGFS_KEEP_BUF)
		shlogfs_buf_free(&h->buf);
}

/* write op (without -o writeback): the complete lines of one request. */
static ssize_t shlogfs_lines_write(struct shlogfs *fs, struct shlogfs_handle *h,
				   const char *buf, size_t size, uint64_t off,
				   int fflags)
{
	ssize_t rc;

	pthread_mutex_lock(&h->lock);
	if ((rc = shlogfs_append_ok(h, fflags, off)))
		;
	else if ((rc = shlogfs_handle_grow(fs, h, shlogfs_line_need(h,
			fs->max_message, buf, size), "unfinished line")))
		;
	else
		rc = shlogfs_lines_of(h->node->kind)->put(fs, h, buf, size,
			shlogfs_append_flags(fflags));
	shlogfs_line_trim(h);
	shlogfs_handle_settle(fs, h);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* A write to a log through a restore's handle: the bytes it appends
 * are noted (a key they set is not removed by unlink, k_keys.c). */
static ssize_t shlogfs_restore_lines_write(struct shlogfs *fs,
					   struct shlogfs_handle *h,
					   const char *buf, size_t size,
					   uint64_t off, int fflags)
{
	uint64_t before = 0, after = 0;
	const struct shlogfs_lines *l = shlogfs_lines_of(h->node->kind);
	ssize_t rc;

	if (!h->restore)
		return shlogfs_lines_write(fs, h, buf, size, off, fflags);
	if (l->end(h, &before))
		before = 0;
	rc = shlogfs_lines_write(fs, h, buf, size, off, fflags);
	if (rc > 0 && l->end(h, &after) == 0)
		shlogfs_restore_span_add(fs, h->node->topic, h->node->part,
					 before, after);
	return rc;
}

/*
 * A restore's handle closed inside a line (an interrupted rsync or tar):
 * the line's bytes are dropped, not made a message, so the log ends at
 * the last whole line and the restore run again continues there (under
 * h->lock).
 */
static void shlogfs_restore_drop_tail(struct shlogfs_handle *h)
{
	SL_HELD(&h->lock);
	if (h->buf.len == 0)
		return;
	shlogfs_log(LOG_NOTICE, "%s/%u/%s: a restore ended inside a line: its "
		    "%zu bytes are dropped (run the restore again)",
		    h->node->topic, h->node->part,
		    h->node->name[0] ? h->node->name : "log", h->buf.len);
	h->buf.len = 0;
}

/* release op: the unfinished line becomes a message, with a '\n' added
 * (a restore's handle: dropped). */
static int shlogfs_lines_finish(struct shlogfs_handle *h)
{
	const struct shlogfs_lines *l = shlogfs_lines_of(h->node->kind);
	struct shlogfs_sink s = { h, 0 };
	struct shlogfs_frame f = shlogfs_frame_of(h, 0, &s);
	int rc;

	pthread_mutex_lock(&h->lock);
	if (h->restore)
		shlogfs_restore_drop_tail(h);
	rc = shlogfs_frame_finish(&f);
	if (rc == 0 && l->send)
		rc = l->send(h, 0);
	pthread_mutex_unlock(&h->lock);
	return rc < 0 ? rc : 0;
}

/* Bytes an unfinished line of @p h adds to the end it writes at. */
static uint64_t shlogfs_lines_pending(struct shlogfs_handle *h)
{
	uint64_t n;

	pthread_mutex_lock(&h->lock);
	n = h->buf.len;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* truncate op: only to the end, this handle's unfinished line included. */
static int shlogfs_lines_truncate(struct shlogfs *fs, struct shlogfs_node *n,
				  fuse_req_t req, uint64_t size,
				  struct shlogfs_handle *h)
{
	return shlogfs_truncate_to_end(fs, n, req, size,
				       h ? shlogfs_lines_pending(h) : 0);
}

/* ==== <topic>/<p>/log ================================================= */

/* LOG emit (frame.c): complete lines to the partition as one unit. */
static int shlogfs_log_emit(void *arg, const char *lines, size_t len)
{
	struct shlogfs_sink *s = arg;

	return shlogfs_fw_after(s->h->part, shlogfs_part_append_lines(
			s->h->part, s->h->writer, lines, len, s->flags, NULL));
}

/* LOG: append the complete lines of one request; bytes taken or -errno. */
static ssize_t shlogfs_log_put(struct shlogfs *fs, struct shlogfs_handle *h,
			       const char *buf, size_t size, int flags)
{
	struct shlogfs_sink s = { h, flags };
	struct shlogfs_frame f = shlogfs_frame_of(h, fs->max_message, &s);

	return shlogfs_frame_log(&f, buf, size);
}

/* LOG end: the partition's. */
static int shlogfs_log_end(struct shlogfs_handle *h, uint64_t *end)
{
	struct shlog_part_info in;
	int rc = shlogfs_part_info(h->part, &in);

	if (rc == 0)
		*end = in.end_off;
	return rc;
}

/* attr op: the partition's size (with -o writeback: its unfinished line too). */
static int shlogfs_log_attr(struct shlogfs *fs, struct shlogfs_node *n,
			    fuse_req_t req, struct stat *st)
{
	struct shlog_part_info in;
	shlogfs_bpart *p;
	int rc;

	(void)req;
	if ((rc = shlogfs_node_part(fs, n, &p)))
		return rc;
	shlogfs_pc_attr_begin(fs, n);
	if ((rc = shlogfs_part_info(p, &in)) == 0)
		shlogfs_stat_size(st, in.end_off + shlogfs_wb_pending(n),
				  in.last_flush_ns);
	shlogfs_pc_attr_end(fs, n, rc ? 0 : (uint64_t)st->st_size);
	shlogfs_part_put(p);
	return rc;
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

/* open op: O_TRUNC only of an empty log. */
static int shlogfs_log_open(struct shlogfs *fs, struct shlogfs_node *n,
			    struct shlogfs_handle *h,
			    const struct shlogfs_cred *c,
			    struct fuse_file_info *fi)
{
	struct shlog_part_info in;
	int rc;

	(void)c;
	if ((rc = shlogfs_node_part(fs, n, &h->part)))
		return rc;
	if ((fi->flags & O_TRUNC) &&
	    ((rc = shlogfs_part_info(h->part, &in)) || in.end_off > 0))
		return rc ? rc : -EPERM;
	if (fs->wb_on)
		return shlogfs_open_wb_log(fs, h, fi,
					   (fi->flags & O_ACCMODE) != O_RDONLY);
	/* readers too: the kernel's page cache of a growing log can show
	 * zeros past its end (read.c) */
	fi->direct_io = 1;
	return 0;
}

/* read op: the read-ahead, deleted bytes as zeros (-o writeback: wb.c). */
static void shlogfs_log_read(fuse_req_t req, struct shlogfs_handle *h,
			     size_t size, uint64_t off)
{
	if (shlogfs_of(req)->wb_on)
		shlogfs_reply_fill(req, h, size, off, shlogfs_wb_read);
	else
		shlogfs_read_ahead(req, h, off, size, 1);
}

/* write op: lines (-o writeback: the log's byte stream, wb.c). */
static ssize_t shlogfs_log_write(struct shlogfs *fs, struct shlogfs_handle *h,
				 const char *buf, size_t size, uint64_t off,
				 int fflags, struct shlogfs_wb_fix *fix)
{
	if (fs->wb_on)
		return shlogfs_wb_write(fs, h, buf, size, off, fix);
	return shlogfs_restore_lines_write(fs, h, buf, size, off, fflags);
}

/* fsync op: everything written before is durable on return. */
static int shlogfs_log_fsync(struct shlogfs_handle *h)
{
	return shlogfs_part_sync(h->part, h->writer);
}

/* release op: the last writer seals the stream (-o writeback), then the
 * handle's unfinished line. */
static int shlogfs_log_release(struct shlogfs *fs, struct shlogfs_handle *h)
{
	shlogfs_wb_release(fs, h);
	return shlogfs_lines_finish(h);
}

/* ==== <topic>/log ===================================================== */

/*
 * Queue one complete line (with its '\n') for its partition: keyed lines
 * by the backend's partitioner, keyless ones round robin over all writers.
 */
static int shlogfs_tlog_route(struct shlogfs_handle *h, const char *line,
			      size_t len)
{
	size_t klen = shlog_msg_key(line, len - 1);
	uint32_t i = klen ? shlogfs_key_route(line, klen, h->nparts)
			  : __atomic_fetch_add(&h->node->rr, 1, __ATOMIC_RELAXED) %
			    h->nparts;

	return shlogfs_buf_add(&h->batch[i], line, len);
}

/* TLOG emit (frame.c): one line queued for its partition. */
static int shlogfs_tlog_emit(void *arg, const char *line, size_t len)
{
	struct shlogfs_sink *s = arg;

	return shlogfs_tlog_route(s->h, line, len);
}

/* Send every partition's queued lines; the first error, if any. */
static int shlogfs_tlog_send(struct shlogfs_handle *h, int flags)
{
	int rc = 0;

	for (uint32_t i = 0; i < h->nparts; i++) {
		struct shlogfs_buf *b = &h->batch[i];
		if (b->len == 0)
			continue;
		int r = shlogfs_fw_after(h->parts[i], shlogfs_part_append_lines(
				h->parts[i], h->writer, b->p, b->len, flags, NULL));
		shlogfs_buf_free(b); /* held only for the request (budget) */
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
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

/* TLOG end: the size of <topic>/log as this writer sees it. */
static int shlogfs_tlog_end(struct shlogfs_handle *h, uint64_t *end)
{
	*end = 0;
	for (uint32_t i = 0; i < h->nparts; i++) {
		struct shlog_part_info in;
		int rc = shlogfs_part_info(h->parts[i], &in);
		if (rc)
			return rc;
		*end += in.end_off - in.start_off;
	}
	return 0;
}

/* Size of <topic>/log: the retained bytes of every partition. */
static int shlogfs_tlog_size(struct shlogfs *fs, const char *topic,
			     uint64_t *size, int64_t *mtime_ns)
{
	uint32_t nparts;
	int rc = shlogfs_topic_nparts(fs->store, topic, &nparts);

	*size = 0;
	*mtime_ns = 0;
	for (uint32_t i = 0; rc == 0 && i < nparts; i++) {
		struct shlog_part_info in;
		shlogfs_bpart *p;
		rc = shlogfs_part_get(fs->store, topic, i, &p);
		if (rc)
			break;
		rc = shlogfs_part_info(p, &in);
		shlogfs_part_put(p);
		*size += in.end_off - in.start_off;
		if (in.last_flush_ns > *mtime_ns)
			*mtime_ns = in.last_flush_ns;
	}
	return rc;
}

/* May the caller of @p req read every partition of @p topic (what
 * <topic>/log's size tells)? */
static int shlogfs_tlog_readable(struct shlogfs *fs, fuse_req_t req,
				 const char *topic)
{
	struct shlogfs_cred c;
	uint32_t nparts;

	shlogfs_cred_get(req, &c);
	if (c.uid == 0)
		return 1;
	if (shlogfs_topic_nparts(fs->store, topic, &nparts))
		return 0;
	return shlogfs_access_parts(fs, &c, topic, nparts, R_OK, NULL) == 0;
}

/* attr op: every partition's size, to a caller who may read them all. */
static int shlogfs_tlog_attr(struct shlogfs *fs, struct shlogfs_node *n,
			     fuse_req_t req, struct stat *st)
{
	uint64_t size = 0;
	int64_t t = 0;
	int rc = 0;

	if (req && !shlogfs_tlog_readable(fs, req, n->topic)) {
		/* size 0, the directory's times: nothing of the partitions */
	} else if (shlogfs_node_snap_size(fs, n, &size)) {
		/* an open reader's snapshot decides */
	} else {
		rc = shlogfs_tlog_size(fs, n->topic, &size, &t);
	}
	if (rc == 0)
		shlogfs_stat_size(st, size, t);
	return rc;
}

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
	int rc = shlogfs_topic_nparts(fs->store, n->topic, &np);

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
		rc = shlogfs_part_get(fs->store, n->topic, h->nparts,
				    &h->parts[h->nparts]);
		if (rc)
			return rc;
		if (!reader)
			continue;
		if ((rc = shlogfs_part_info(h->parts[h->nparts], &in)))
			return rc;
		h->ext[2 * h->nparts] = in.start_off;
		h->ext[2 * h->nparts + 1] = in.end_off;
		total += in.end_off - in.start_off;
	}
	if (reader)
		shlogfs_handle_snap(fs, h, total);
	return 0;
}

/* open op: every partition, checked as a path through each would be. */
static int shlogfs_tlog_open(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_handle *h,
			     const struct shlogfs_cred *c,
			     struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE, wr = acc != O_RDONLY;
	uint64_t end;
	int rc;

	if (wr && fs->wb_on)
		return shlogfs_wb_refused(n, "<topic>/log");
	fi->direct_io = 1;
	if ((rc = shlogfs_tlog_setup(fs, n, h, c, (acc != O_WRONLY ? R_OK : 0) |
						  (wr ? W_OK : 0))))
		return rc;
	if ((fi->flags & O_TRUNC) && (rc = shlogfs_tlog_end(h, &end)) == 0 &&
	    end > 0)
		return -EPERM;
	return rc;
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

/* read op: the extents taken at open. */
static void shlogfs_tlog_read(fuse_req_t req, struct shlogfs_handle *h,
			      size_t size, uint64_t off)
{
	shlogfs_reply_fill(req, h, size, off, shlogfs_tlog_fill);
}

/* write op: lines routed to the partitions. */
static ssize_t shlogfs_tlog_write(struct shlogfs *fs, struct shlogfs_handle *h,
				  const char *buf, size_t size, uint64_t off,
				  int fflags, struct shlogfs_wb_fix *fix)
{
	(void)fix;
	return shlogfs_lines_write(fs, h, buf, size, off, fflags);
}

/* fsync op: every partition durable. */
static int shlogfs_tlog_fsync(struct shlogfs_handle *h)
{
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < h->nparts; i++)
		rc = shlogfs_part_sync(h->parts[i], h->writer);
	return rc;
}

/* release op: the unfinished line, routed and sent. */
static int shlogfs_tlog_release(struct shlogfs *fs, struct shlogfs_handle *h)
{
	(void)fs;
	return shlogfs_lines_finish(h);
}

/* ==== times of a partition log ======================================= */

/* Set the mtime partition @p p of @p topic shows while its size stays. */
static int shlogfs_part_utimens(struct shlogfs *fs, const char *topic,
				uint32_t part, shlogfs_bpart *p,
				const struct timespec *mtime)
{
	struct shlog_part_info in;
	int rc = shlogfs_part_info(p, &in);

	if (rc == 0)
		rc = shlogfs_restore_set_time(fs, topic, part, mtime, in.end_off);
	return rc;
}

/* utimens op of a partition log and a restore name: the log's mtime. */
static int shlogfs_log_utimens(struct shlogfs *fs, struct shlogfs_node *n,
			       const struct timespec *mtime)
{
	shlogfs_bpart *p;
	int rc = shlogfs_node_part(fs, n, &p);

	if (rc)
		return rc;
	rc = shlogfs_part_utimens(fs, n->topic, n->part, p, mtime);
	shlogfs_part_put(p);
	return rc;
}

/* ==== restore names: <topic>/<p>/<new name> =========================== */

/* 0 if the log holds @p buf at @p off, else -EPERM (or the read's error). */
static int shlogfs_rname_same(shlogfs_bpart *p, const char *buf, size_t size,
			      uint64_t off)
{
	char tmp[16384];

	while (size) {
		size_t want = size < sizeof tmp ? size : sizeof tmp;
		ssize_t r = shlogfs_part_read(p, off, tmp, want);
		if (r <= 0)
			return r == 0 || r == -ENODATA ? -EPERM : (int)r;
		if (memcmp(tmp, buf, (size_t)r) != 0)
			return -EPERM;
		buf += r;
		off += (uint64_t)r;
		size -= (size_t)r;
	}
	return 0;
}

/* Log a refused restore write of @p h at @p off and say why. */
static void shlogfs_rname_refused(struct shlogfs_handle *h, uint64_t off,
				  uint64_t end, const char *why)
{
	shlogfs_log(LOG_NOTICE, "%s/%u/%s: restore write at byte %llu refused "
		    "(EPERM, the log has %llu bytes): %s; nothing appended",
		    h->node->topic, h->node->part, h->node->name,
		    (unsigned long long)off, (unsigned long long)end, why);
}

/* write op: compare below the log's end, append at it. */
static ssize_t shlogfs_rname_write(struct shlogfs *fs, struct shlogfs_handle *h,
				   const char *buf, size_t size, uint64_t off,
				   int fflags, struct shlogfs_wb_fix *fix)
{
	struct shlogfs_node *n = h->node;
	uint64_t end, pos = shlogfs_restore_name_pos(fs, n->topic, n->part,
						     n->name);
	size_t below = 0;
	ssize_t rc;

	(void)fix;
	if ((rc = shlogfs_log_end(h, &end)))
		return rc;
	if (off > pos) {
		shlogfs_rname_refused(h, off, end, "it would leave a hole");
		return -EPERM;
	}
	if (off < end) {
		below = end - off < size ? (size_t)(end - off) : size;
		if ((rc = shlogfs_rname_same(h->part, buf, below, off))) {
			shlogfs_rname_refused(h, off, end, "its bytes differ "
					      "from the log's");
			return rc;
		}
	}
	rc = (ssize_t)below;
	if (below < size) {
		rc = shlogfs_restore_lines_write(fs, h, buf + below,
						 size - below, off + below,
						 fflags);
		if (rc < 0)
			return rc;
		rc += (ssize_t)below;
	}
	shlogfs_restore_name_reach(fs, n->topic, n->part, n->name,
				   off + (uint64_t)rc);
	return rc;
}

/* open op: a handle onto the partition's log (-o writeback: refused). */
static int shlogfs_rname_open(struct shlogfs *fs, struct shlogfs_node *n,
			      struct shlogfs_handle *h,
			      const struct shlogfs_cred *c,
			      struct fuse_file_info *fi)
{
	(void)c;
	if (fs->wb_on)
		return shlogfs_wb_refused(n, "a restore name");
	fi->direct_io = 1;
	h->restore = 1;
	return shlogfs_node_part(fs, n, &h->part);
}

/* Bytes of the log a restore name was written (or checked) up to. */
static uint64_t shlogfs_rname_pos(struct shlogfs *fs, struct shlogfs_node *n)
{
	return shlogfs_restore_name_pos(fs, n->topic, n->part, n->name);
}

/* Fill a read of a restore name from the partition's log. */
static ssize_t shlogfs_rname_fill(struct shlogfs_handle *h, uint64_t off,
				  char *buf, size_t size)
{
	return shlogfs_part_fill(h->part, off, buf, size);
}

/* read op: the log's bytes, up to where the name was written. */
static void shlogfs_rname_read(fuse_req_t req, struct shlogfs_handle *h,
			       size_t size, uint64_t off)
{
	uint64_t pos = shlogfs_rname_pos(shlogfs_of(req), h->node);

	if (off >= pos)
		size = 0;
	else if (size > pos - off)
		size = (size_t)(pos - off);
	shlogfs_reply_fill(req, h, size, off, shlogfs_rname_fill);
}

/* release op: an unfinished last line, with a '\n' added, as a log's. */
static int shlogfs_rname_release(struct shlogfs *fs, struct shlogfs_handle *h)
{
	(void)fs;
	return shlogfs_lines_finish(h);
}

/* attr op: the bytes it was written up to. */
static int shlogfs_rname_attr(struct shlogfs *fs, struct shlogfs_node *n,
			      fuse_req_t req, struct stat *st)
{
	(void)req;
	if (shlogfs_restore_name_has(fs, n->topic, n->part, n->name))
		return -ENOENT;
	shlogfs_stat_size(st, shlogfs_rname_pos(fs, n), 0);
	return 0;
}

/* truncate op: only to the size it has (rsync's last ftruncate). */
static int shlogfs_rname_truncate(struct shlogfs *fs, struct shlogfs_node *n,
				  fuse_req_t req, uint64_t size,
				  struct shlogfs_handle *h)
{
	(void)req;
	(void)h;
	return size == shlogfs_rname_pos(fs, n) ? 0 : -EPERM;
}

/* ==== the kinds ======================================================= */

static const struct shlogfs_lines shlogfs_lines_log = {
	shlogfs_log_end, shlogfs_log_put, shlogfs_log_emit, NULL,
};
static const struct shlogfs_lines shlogfs_lines_tlog = {
	shlogfs_tlog_end, shlogfs_tlog_put, shlogfs_tlog_emit, shlogfs_tlog_send,
};

const struct shlogfs_kind shlogfs_kind_log = {
	.name = "log",
	.type = S_IFREG,
	.perm = 0666,
	.owner = SHLOGFS_OWNER_PART,
	.held = "line",
	.priv = &shlogfs_lines_log,
	.pcache = SHLOGFS_PC_LOG,
	.feeds = &shlogfs_kind_log,
	.attr = shlogfs_log_attr,
	.chmod = shlogfs_chmod_file,
	.chown = shlogfs_chown_dir,
	.utimens = shlogfs_log_utimens,
	.truncate = shlogfs_lines_truncate,
	.open = shlogfs_log_open,
	.read = shlogfs_log_read,
	.write = shlogfs_log_write,
	.fsync = shlogfs_log_fsync,
	.poll = shlogfs_fw_poll_log,
	.release = shlogfs_log_release,
	.forget = shlogfs_wb_free,
};

const struct shlogfs_kind shlogfs_kind_tlog = {
	.name = "log",
	.type = S_IFREG,
	.perm = 0666,
	.owner = SHLOGFS_OWNER_TOPIC,
	.generated = 1,
	.held = "line",
	.priv = &shlogfs_lines_tlog,
	.pcache = SHLOGFS_PC_NEVER,
	.feeds = &shlogfs_kind_log,
	.feeds_all = 1,
	.attr = shlogfs_tlog_attr,
	.chmod = shlogfs_chmod_file,
	.chown = shlogfs_chown_dir,
	.truncate = shlogfs_lines_truncate,
	.open = shlogfs_tlog_open,
	.read = shlogfs_tlog_read,
	.write = shlogfs_tlog_write,
	.fsync = shlogfs_tlog_fsync,
	.release = shlogfs_tlog_release,
};

const struct shlogfs_kind shlogfs_kind_rname = {
	.type = S_IFREG,
	.perm = 0666,
	.owner = SHLOGFS_OWNER_PART,
	.leaf = 1,
	.generated = 1,
	.held = "line",
	.priv = &shlogfs_lines_log,
	.pcache = SHLOGFS_PC_NEVER,
	.feeds = &shlogfs_kind_log,
	.attr = shlogfs_rname_attr,
	.chmod = shlogfs_chmod_file,
	.chown = shlogfs_chown_dir,
	.utimens = shlogfs_log_utimens,
	.truncate = shlogfs_rname_truncate,
	.open = shlogfs_rname_open,
	.read = shlogfs_rname_read,
	.write = shlogfs_rname_write,
	.fsync = shlogfs_log_fsync,
	.release = shlogfs_rname_release,
};
