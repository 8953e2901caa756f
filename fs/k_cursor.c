/*
 * k_cursor.c — the kinds of cursors/ and cursors/<name>, stream/ and
 * stream/<name>: a partition's durable cursors (core: shlog_cursor_*,
 * kept in the partition's `cursors` file, fdatasynced at every change),
 * read to the end or followed.
 *
 * The rules (docs/shlogfs.8, "CURSORS"):
 *  - cursors/ is found by name in the partition directory, never listed
 *    there; its own listing is the partition's cursors.
 *  - Reading cursors/<name> gives the log's bytes from the cursor's
 *    committed position on (whole messages, the log's bytes; a cursor
 *    below the first retained message starts at it); at the end a read
 *    returns 0.  File offset 0 is the committed position at open.
 *  - The position moves as the reader gets whole messages: the bytes it
 *    was given from offset 0 on without a gap, up to their last '\n'.  It
 *    is committed (durably) by fsync() and by close(); a descriptor the
 *    kernel closes for an exiting process (kill -9, a crash, exit()
 *    without close) commits nothing (the flush's thread has PF_EXITING,
 *    cred.c).  What was read and not committed is read again after a
 *    crash of the reader or the daemon (at least once, nothing skipped).
 *  - One reader at a time per cursor (cursors/<name> and stream/<name>
 *    together): a second open for reading gets
 *    EBUSY until the first is closed.  O_RDWR is EINVAL.
 *  - Writing a message number (decimal, one line) sets the committed
 *    position at once (the write fails with ERANGE past the end, EINVAL
 *    for anything but a number); `echo 42 > cursors/c`.
 *  - Creating cursors/<name> (O_CREAT) makes the cursor at the first
 *    retained message; O_EXCL on an existing one is EEXIST.  rm deletes it.
 *  - Who may: whoever may read the partition's log may read, move, make
 *    and delete its cursors; the files and cursors/ show the
 *    partition's read bits as write bits too, and open and create check
 *    read access to the log themselves.
 * A cursor's size (stat) is its lag in bytes: the log from its committed
 * position to the end.  The reader's page reads are refused (pcache
 * NEVER: its bytes at an offset change with the position).
 *
 * stream/<name> (docs/shlogfs.8, "Cursor streams") is the same cursor
 * read like follow: the same handle (a reader, counted in the one-reader
 * rule, committed by the same fsync, flush and release ops), whose reads
 * a follower serves (follow.c) from the committed position on, waiting at
 * the end.  Its hooks count the messages each reply gives, and a read
 * that finds nothing new (about to wait, or EAGAIN) first commits the
 * position it has reached: the reader asked for more, the promise of a
 * close.  stream/ is found by name and lists nothing (like at/); its
 * files are read-only streams of size 0, opened by who may read the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "held_i.h"
#include "cred.h"
#include "follow.h"
#include "handle.h"
#include "kinds.h"
#include "list.h"
#include "log.h"
#include "node.h"
#include "read.h"
#include "stat.h"
#include "text.h"

/* The kinds of cursors/<name> and stream/<name> (defined at the end). */
static const struct shlogfs_kind shlogfs_kind_cursor;
static const struct shlogfs_kind shlogfs_kind_stream;

/* A reader's position, in h->ext (CUR_N numbers). */
enum {
	CUR_POS,        /* the next message: what a commit sets (atomic;
			 * h->base is the log offset of where it started) */
	CUR_HI,         /* bytes given from offset 0 on without a gap (cursors/) */
	CUR_SAVED,      /* the position last committed (ra_lock) */
	CUR_READER,     /* 1: registered as the cursor's reader */
	CUR_WAIT,       /* stream/: the position a waiting read commits (ra_lock) */
	CUR_N
};

/* Longest line a write of a position may hold ("18446744073709551615\n"). */
#define SHLOGFS_CURSOR_LINE_MAX 24

/* ==== one reader per cursor =========================================== */

/* A cursor open for reading: "topic\0part\0name" of it. */
struct shlogfs_reader {
	LIST_ENTRY(shlogfs_reader) link;
	struct shlogfs_handle *h;
};

static pthread_mutex_t shlogfs_readers_mu = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, shlogfs_reader) shlogfs_readers =
	LIST_HEAD_INITIALIZER(shlogfs_readers);

/* Does node @p a name the same cursor as node @p b? */
static int shlogfs_same_cursor(const struct shlogfs_node *a,
			       const struct shlogfs_node *b)
{
	return a->part == b->part && !strcmp(a->topic, b->topic) &&
	       !strcmp(a->name, b->name);
}

/* Register @p h as its cursor's reader; -EBUSY if it has one. */
static int shlogfs_reader_take(struct shlogfs_handle *h)
{
	struct shlogfs_reader *r;
	int rc = 0;

	pthread_mutex_lock(&shlogfs_readers_mu);
	LIST_FOREACH(r, &shlogfs_readers, link)
		if (shlogfs_same_cursor(r->h->node, h->node))
			rc = -EBUSY;
	if (rc == 0 && !(r = calloc(1, sizeof *r)))
		rc = -ENOMEM;
	if (rc == 0) {
		r->h = h;
		LIST_INSERT_HEAD(&shlogfs_readers, r, link);
	}
	pthread_mutex_unlock(&shlogfs_readers_mu);
	return rc;
}

/* Unregister @p h (a reader's release). */
static void shlogfs_reader_drop(struct shlogfs_handle *h)
{
	struct shlogfs_reader *r;

	pthread_mutex_lock(&shlogfs_readers_mu);
	LIST_FOREACH(r, &shlogfs_readers, link)
		if (r->h == h)
			break;
	if (r) {
		LIST_REMOVE(r, link);
		free(r);
	}
	pthread_mutex_unlock(&shlogfs_readers_mu);
}

/* ==== positions ======================================================= */

/* Where cursor @p name of @p p reads from now: its seq (not below the
 * first retained message) and that message's log offset. */
static int shlogfs_cursor_where(shlogfs_bpart *p, const char *name,
				uint64_t *seq, uint64_t *off)
{
	struct shlog_part_info in;
	int rc = shlogfs_cursor_get(p, name, seq);

	if (rc == 0)
		rc = shlogfs_part_info(p, &in);
	if (rc)
		return rc;
	if (*seq < in.start_seq)
		*seq = in.start_seq;
	rc = shlogfs_part_seek_seq(p, *seq, off);
	if (rc == -ENODATA) { /* retention moved the start meanwhile */
		*seq = in.start_seq;
		*off = in.start_off;
		rc = 0;
	}
	return rc;
}

/* Messages (newlines) in @p n bytes @p b. */
static uint64_t shlogfs_cursor_lines(const char *b, size_t n)
{
	const char *end = b + n;
	uint64_t lines = 0;

	for (; b < end && (b = memchr(b, '\n', (size_t)(end - b))); b++)
		lines++;
	return lines;
}

/* ==== cursors/ and stream/ ============================================ */

/* resolve op: an existing cursor, as the directory's kind of file (priv). */
static int shlogfs_cursors_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				   const char *name, struct shlogfs_name *out)
{
	uint64_t seq;
	shlogfs_bpart *p;
	int rc;

	*out = (struct shlogfs_name){ d->kind->priv, d->topic, d->part, name };
	if (shlog_cursor_name_check(name))
		return -ENOENT;
	if ((rc = shlogfs_node_part(fs, d, &p)))
		return rc;
	rc = shlogfs_cursor_get(p, name, &seq);
	shlogfs_part_put(p);
	return rc;
}

/* shlog_cursor_foreach callback: list one cursor. */
static int shlogfs_cursors_list_one(const char *name, uint64_t seq, void *arg)
{
	(void)seq;
	return shlogfs_dir_add(arg, name, strlen(name), S_IFREG) ? 1 : 0;
}

/* list op: every cursor of the partition. */
static int shlogfs_cursors_list(struct shlogfs *fs, struct shlogfs_node *d,
				struct shlogfs_dir *out)
{
	shlogfs_bpart *p;
	int rc = shlogfs_node_part(fs, d, &p);

	if (rc)
		return rc;
	rc = shlogfs_cursor_foreach(p, shlogfs_cursors_list_one, out);
	shlogfs_part_put(p);
	return rc > 0 ? -ENOMEM : rc;
}

/* peek op: a cursor file's inode number, if known. */
static fuse_ino_t shlogfs_cursors_peek(struct shlogfs *fs,
				       struct shlogfs_node *d, const char *name)
{
	struct shlogfs_name nm = { &shlogfs_kind_cursor, d->topic, d->part, name };

	return shlogfs_node_peek(fs, &nm);
}

/* unlink op: rm cursors/<name> deletes the cursor; a stream of it
 * waiting in a read ends (ENOENT). */
static int shlogfs_cursors_unlink(struct shlogfs *fs, struct shlogfs_node *d,
				  const char *name)
{
	struct shlogfs_name nm = { &shlogfs_kind_cursor, d->topic, d->part, name };
	struct shlogfs_name sm = { &shlogfs_kind_stream, d->topic, d->part, name };
	shlogfs_bpart *p;
	int rc;

	if (shlog_cursor_name_check(name))
		return -ENOENT;
	if ((rc = shlogfs_node_part(fs, d, &p)))
		return rc;
	rc = shlogfs_cursor_delete(p, name);
	shlogfs_part_put(p);
	if (rc == 0) {
		shlogfs_node_unlink_name(fs, &nm);
		shlogfs_node_unlink_name(fs, &sm);
		shlogfs_fw_topic_changed(d->topic);
	}
	return rc;
}

/* The partition's read bits given as write bits too (who reads moves). */
static mode_t shlogfs_cursor_bits(mode_t mode)
{
	return (mode & ~(mode_t)0222) | ((mode & 0444) >> 1);
}

/* attr op of cursors/: the partition's bits, writable by its readers. */
static int shlogfs_cursors_attr(struct shlogfs *fs, struct shlogfs_node *n,
				fuse_req_t req, struct stat *st)
{
	(void)fs;
	(void)n;
	(void)req;
	st->st_mode = shlogfs_cursor_bits(st->st_mode);
	return 0;
}

/* ==== a cursor's handle =============================================== */

/* Commit position @p pos of a reader if it moved (ra_lock held). */
static int shlogfs_cursor_commit_at(struct shlogfs_handle *h, uint64_t pos)
{
	SL_HELD(&h->ra_lock);
	uint64_t *c = h->ext;
	int rc = 0;

	if (pos != c[CUR_SAVED] &&
	    (rc = shlogfs_cursor_set(h->part, h->key, pos, 0)) == 0)
		c[CUR_SAVED] = pos;
	if (rc)
		shlogfs_log(LOG_WARNING, "%s/%u: cursor %s: commit at %llu failed: %s",
			    h->node->topic, h->node->part, h->key,
			    (unsigned long long)pos, shlog_strerror(rc));
	return rc;
}

/* Is @p h a reader registered as its cursor's (only those commit)? */
static int shlogfs_cursor_reading(const struct shlogfs_handle *h)
{
	return (h->flags & O_ACCMODE) == O_RDONLY && h->ext && h->ext[CUR_READER];
}

/* Commit a reader's position if it moved (ra_lock taken here). */
static int shlogfs_cursor_commit(struct shlogfs_handle *h)
{
	int rc;

	if (!shlogfs_cursor_reading(h))
		return 0;
	pthread_mutex_lock(&h->ra_lock);
	rc = shlogfs_cursor_commit_at(h, __atomic_load_n(&h->ext[CUR_POS],
							 __ATOMIC_RELAXED));
	pthread_mutex_unlock(&h->ra_lock);
	return rc;
}

/*
 * The read's check (ra_lock held): count the whole messages of the bytes
 * that extend what was given without a gap.  Bytes past a gap (a seek
 * forward) move nothing: they are given again after a crash.
 */
static int shlogfs_cursor_account(struct shlogfs *fs, struct shlogfs_handle *h,
				  uint64_t off, size_t size, size_t got)
{
	uint64_t *c = h->ext, end = off + got;
	const char *b;

	(void)fs;
	(void)size;
	if (off > c[CUR_HI] || end <= c[CUR_HI])
		return 0;
	b = h->ra.p + (h->base + off - h->ra_off);
	__atomic_add_fetch(&c[CUR_POS],
			   shlogfs_cursor_lines(b + (c[CUR_HI] - off),
						(size_t)(end - c[CUR_HI])),
			   __ATOMIC_RELAXED);
	c[CUR_HI] = end;
	return 0;
}

/* read op: the log from the position at open, through the read-ahead. */
static void shlogfs_cursor_read(fuse_req_t req, struct shlogfs_handle *h,
				size_t size, uint64_t off)
{
	shlogfs_read_ahead_if(req, h, off, size, 0, shlogfs_cursor_account);
}

/* Set up a reader: registered as the only one, its position found. */
static int shlogfs_cursor_open_read(struct shlogfs_handle *h)
{
	uint64_t seq;
	int rc;

	if (!(h->ext = calloc(CUR_N, sizeof *h->ext)))
		return -ENOMEM;
	if ((rc = shlogfs_cursor_where(h->part, h->key, &seq, &h->base)))
		return rc;
	/* a cursor below the first retained message is moved only by a read */
	h->ext[CUR_POS] = h->ext[CUR_SAVED] = seq;
	h->ra_off = h->base;
	if ((rc = shlogfs_reader_take(h)) == 0)
		h->ext[CUR_READER] = 1;
	return rc;
}

/* Set up @p h on cursor node @p n for @p flags (open and create). */
static int shlogfs_cursor_setup(struct shlogfs *fs, struct shlogfs_node *n,
				struct shlogfs_handle *h, int flags)
{
	int rc;

	if ((flags & O_ACCMODE) == O_RDWR)
		return -EINVAL;
	if ((rc = shlogfs_node_part(fs, n, &h->part)))
		return rc;
	if (!(h->key = strdup(n->name)))
		return -ENOMEM;
	h->klen = n->nlen;
	if ((flags & O_ACCMODE) == O_RDONLY)
		return shlogfs_cursor_open_read(h);
	return 0;
}

/* open op: a reader (one at a time) or a writer of positions. */
static int shlogfs_cursor_open(struct shlogfs *fs, struct shlogfs_node *n,
			       struct shlogfs_handle *h,
			       const struct shlogfs_cred *c,
			       struct fuse_file_info *fi)
{
	int rc = shlogfs_access_part(fs, c, n->topic, n->part, R_OK);

	if (rc)
		return rc;
	fi->direct_io = 1;
	return shlogfs_cursor_setup(fs, n, h, fi->flags);
}

/* ==== a cursor's stream ============================================== */

/* Follower hook: a reply gives @p n bytes @p buf; count their messages
 * (no lock: a waker must not wait for a commit). */
static void shlogfs_stream_gave(struct shlogfs_handle *h, const char *buf,
				size_t n)
{
	__atomic_add_fetch(&h->ext[CUR_POS], shlogfs_cursor_lines(buf, n),
			   __ATOMIC_RELAXED);
}

/* Follower hook: retention deleted what the reader had not read; it goes
 * on at message @p seq (log offset @p off). */
static void shlogfs_stream_skipped(struct shlogfs_handle *h, uint64_t seq,
				   uint64_t off)
{
	(void)off;
	__atomic_store_n(&h->ext[CUR_POS], seq, __ATOMIC_RELAXED);
}

/* Follower hook: a read was kept waiting (the follower's lock held, so
 * nothing answered it yet): hold ra_lock, which the handle's release
 * waits for, and note the position the read has reached. */
static void shlogfs_stream_wait_begin(struct shlogfs_handle *h)
{
	pthread_mutex_lock(&h->ra_lock);
	h->ext[CUR_WAIT] = __atomic_load_n(&h->ext[CUR_POS], __ATOMIC_RELAXED);
}

/* Follower hook: commit what wait_begin noted and let ra_lock go (the
 * read may have been answered meanwhile: h is not touched after). */
static void shlogfs_stream_wait_commit(struct shlogfs_handle *h)
{
	SL_HELD(&h->ra_lock);
	if (shlogfs_cursor_reading(h))
		shlogfs_cursor_commit_at(h, h->ext[CUR_WAIT]); /* logged */
	pthread_mutex_unlock(&h->ra_lock);
}

/* What a cursor's stream is told by its follower: a read that finds
 * nothing new commits what was given (the reader asked for more): at
 * its EAGAIN, or while it waits. */
static const struct shlogfs_fw_hooks shlogfs_stream_hooks = {
	.gave = shlogfs_stream_gave,
	.skipped = shlogfs_stream_skipped,
	.empty = shlogfs_cursor_commit,
	.wait_begin = shlogfs_stream_wait_begin,
	.wait_commit = shlogfs_stream_wait_commit,
};

/* open op of stream/<name>: the cursor's reader (one at a time, with
 * cursors/<name>), followed from its committed position. */
static int shlogfs_stream_open(struct shlogfs *fs, struct shlogfs_node *n,
			       struct shlogfs_handle *h,
			       const struct shlogfs_cred *c,
			       struct fuse_file_info *fi)
{
	int rc = shlogfs_access_part(fs, c, n->topic, n->part, R_OK);

	if (rc || (rc = shlogfs_follow_flags(fi)) ||
	    (rc = shlogfs_cursor_setup(fs, n, h, fi->flags)))
		return rc;
	return shlogfs_fw_open_cursor(h, &shlogfs_stream_hooks);
}

/* ==== writing a position ============================================== */

/* Set the position from one written line @p s of @p len bytes. */
static int shlogfs_cursor_set_line(struct shlogfs_handle *h, const char *s,
				   size_t len)
{
	char num[SHLOGFS_CURSOR_LINE_MAX + 1];
	uint64_t seq;

	if (len && s[len - 1] == '\n')
		len--;
	if (len == 0 || len > SHLOGFS_CURSOR_LINE_MAX)
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (shlog_u64_parse(num, &seq))
		return -EINVAL;
	return shlogfs_cursor_set(h->part, h->key, seq, 0);
}

/* Apply every whole line h->buf holds (h->lock held); the rest stays. */
static int shlogfs_cursor_apply(struct shlogfs_handle *h, int all)
{
	SL_HELD(&h->lock);
	char *nl;
	int rc = 0;

	while (rc == 0 && h->buf.len && (nl = memchr(h->buf.p, '\n', h->buf.len))) {
		size_t n = (size_t)(nl - h->buf.p) + 1;
		rc = shlogfs_cursor_set_line(h, h->buf.p, n);
		memmove(h->buf.p, h->buf.p + n, h->buf.len - n);
		h->buf.len -= n;
	}
	if (rc == 0 && all && h->buf.len) {
		rc = shlogfs_cursor_set_line(h, h->buf.p, h->buf.len);
		h->buf.len = 0;
	}
	if (rc)
		h->buf.len = 0;
	return rc;
}

/* write op: a position, applied at each '\n' (the rest at close). */
static ssize_t shlogfs_cursor_write(struct shlogfs *fs, struct shlogfs_handle *h,
				    const char *buf, size_t size, uint64_t off,
				    int fflags, struct shlogfs_wb_fix *fix)
{
	int rc;

	(void)fs;
	(void)off;
	(void)fflags;
	(void)fix;
	pthread_mutex_lock(&h->lock);
	if (h->buf.len + size > SHLOGFS_CURSOR_LINE_MAX)
		rc = -EINVAL;
	else if ((rc = shlogfs_buf_add(&h->buf, buf, size)) == 0)
		rc = shlogfs_cursor_apply(h, 0);
	if (rc)
		h->buf.len = 0;
	pthread_mutex_unlock(&h->lock);
	return rc ? rc : (ssize_t)size;
}

/* Finish a writer's unfinished line (no '\n': `printf 5 > c`). */
static int shlogfs_cursor_write_end(struct shlogfs_handle *h)
{
	int rc;

	pthread_mutex_lock(&h->lock);
	rc = shlogfs_cursor_apply(h, 1);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* fsync op: a reader's position committed, a writer's line applied. */
static int shlogfs_cursor_fsync(struct shlogfs_handle *h)
{
	if ((h->flags & O_ACCMODE) == O_RDONLY)
		return shlogfs_cursor_commit(h);
	return shlogfs_cursor_write_end(h);
}

/* flush op (every close): as fsync, unless the closing process is exiting. */
static int shlogfs_cursor_flush(struct shlogfs_handle *h)
{
	if ((h->flags & O_ACCMODE) == O_RDONLY && shlogfs_pid_exiting(h->closer))
		return 0;   /* killed or crashed: what it read comes again */
	return shlogfs_cursor_fsync(h);
}

/* release op: a writer's unfinished line applied, the reader's place
 * freed (a reader commits only at a close or fsync it made). */
static int shlogfs_cursor_release(struct shlogfs *fs, struct shlogfs_handle *h)
{
	int rc = h->part && (h->flags & O_ACCMODE) != O_RDONLY ?
		 shlogfs_cursor_write_end(h) : 0;

	(void)fs;
	shlogfs_reader_drop(h);
	return rc;
}

/* truncate op: O_TRUNC of a shell's `>` (size 0) changes nothing. */
static int shlogfs_cursor_truncate(struct shlogfs *fs, struct shlogfs_node *n,
				   fuse_req_t req, uint64_t size,
				   struct shlogfs_handle *h)
{
	(void)fs;
	(void)n;
	(void)req;
	(void)h;
	return size == 0 ? 0 : -EINVAL;
}

/* attr op: size = lag in bytes; the partition's read bits as write bits too. */
static int shlogfs_cursor_attr(struct shlogfs *fs, struct shlogfs_node *n,
			       fuse_req_t req, struct stat *st)
{
	struct shlog_part_info in;
	uint64_t seq, off = 0;
	shlogfs_bpart *p;
	int rc;

	(void)req;
	if ((rc = shlogfs_node_part(fs, n, &p)))
		return rc;
	if ((rc = shlogfs_cursor_where(p, n->name, &seq, &off)) == 0 &&
	    (rc = shlogfs_part_info(p, &in)) == 0)
		shlogfs_stat_size(st, in.end_off > off ? in.end_off - off : 0,
				  in.last_flush_ns);
	shlogfs_part_put(p);
	st->st_mode = shlogfs_cursor_bits(st->st_mode);
	return rc;
}

/* ==== create ========================================================== */

/* Make cursor @p name of @p d's partition at its first retained message. */
static int shlogfs_cursor_make(struct shlogfs *fs, struct shlogfs_node *d,
			       const char *name, int excl)
{
	struct shlog_part_info in;
	shlogfs_bpart *p;
	int rc = shlogfs_node_part(fs, d, &p);

	if (rc)
		return rc;
	if ((rc = shlogfs_part_info(p, &in)) == 0)
		rc = shlogfs_cursor_set(p, name, in.start_seq,
				      SHLOG_CURSOR_CREATE | SHLOG_CURSOR_EXCL);
	shlogfs_part_put(p);
	return rc == -EEXIST && !excl ? 0 : rc;
}

/* Open a handle on cursor node @p n into @p fi (create). */
static int shlogfs_cursor_create_open(struct shlogfs *fs, struct shlogfs_node *n,
				      struct fuse_file_info *fi, uid_t uid)
{
	struct shlogfs_handle *h = shlogfs_handle_new(fs, n, fi->flags, uid);
	int rc;

	fi->fh = 0;
	if (!h)
		return -ENOMEM;
	if ((rc = shlogfs_cursor_setup(fs, n, h, fi->flags)) == 0)
		rc = shlogfs_handle_grow(fs, h, SHLOGFS_CURSOR_LINE_MAX, "open");
	if (rc) {
		shlogfs_handle_drop(fs, h);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

/* create op: make the cursor (if new) and open it. */
static int shlogfs_cursors_create(struct shlogfs *fs, fuse_req_t req,
				  struct shlogfs_node *d, const char *name,
				  struct fuse_file_info *fi,
				  struct fuse_entry_param *e)
{
	struct shlogfs_name nm = { &shlogfs_kind_cursor, d->topic, d->part, name };
	struct shlogfs_cred c;
	struct shlogfs_node *n;
	int rc;

	if (shlog_cursor_name_check(name))
		return -EINVAL;
	if ((fi->flags & O_ACCMODE) == O_RDWR)
		return -EINVAL;
	shlogfs_cred_get(req, &c);
	if ((rc = shlogfs_access_part(fs, &c, d->topic, d->part, R_OK)) ||
	    (rc = shlogfs_cursor_make(fs, d, name, fi->flags & O_EXCL)))
		return rc;
	if (!(n = shlogfs_node_intern(fs, &nm, d->ino)))
		return -ENOMEM;
	memset(e, 0, sizeof *e);
	if ((rc = shlogfs_cursor_create_open(fs, n, fi, c.uid)) == 0)
		rc = shlogfs_node_stat(fs, n, &e->attr);
	if (rc) {
		if (fi->fh)
			shlogfs_handle_drop(fs, shlogfs_fh(fi));
		shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
		return rc;
	}
	e->ino = shlogfs_node_ino(fs, n);
	return 0;
}

/* ==== the kinds ======================================================= */

const struct shlogfs_kind shlogfs_kind_cursorsdir = {
	.name = "cursors",
	.type = S_IFDIR,
	.perm = 0777,
	.owner = SHLOGFS_OWNER_PART,
	.priv = &shlogfs_kind_cursor,
	.attr = shlogfs_cursors_attr,
	.resolve = shlogfs_cursors_resolve,
	.list = shlogfs_cursors_list,
	.peek = shlogfs_cursors_peek,
	.unlink = shlogfs_cursors_unlink,
	.create = shlogfs_cursors_create,
};

static const struct shlogfs_kind shlogfs_kind_cursor = {
	.type = S_IFREG,
	.perm = 0666,
	.owner = SHLOGFS_OWNER_PART,
	.leaf = 1,
	.generated = 1,
	.held = "cursor position",
	.pcache = SHLOGFS_PC_NEVER,
	.attr = shlogfs_cursor_attr,
	.truncate = shlogfs_cursor_truncate,
	.open = shlogfs_cursor_open,
	.read = shlogfs_cursor_read,
	.write = shlogfs_cursor_write,
	.flush = shlogfs_cursor_flush,
	.fsync = shlogfs_cursor_fsync,
	.release = shlogfs_cursor_release,
};

const struct shlogfs_kind shlogfs_kind_streamdir = {
	.name = "stream",
	.type = S_IFDIR,
	.perm = 0555,
	.owner = SHLOGFS_OWNER_PART,
	.priv = &shlogfs_kind_stream,
	.resolve = shlogfs_cursors_resolve,
	.list = shlogfs_dir_none,
};

/* stream/<name>: a cursor's handle read like follow (the same commits). */
static const struct shlogfs_kind shlogfs_kind_stream = {
	.type = S_IFREG,
	.perm = 0444,
	.owner = SHLOGFS_OWNER_PART,
	.leaf = 1,
	.generated = 1,
	.held = "cursor position",
	.pcache = SHLOGFS_PC_NEVER,
	.attr = shlogfs_follow_attr,
	.open = shlogfs_stream_open,
	.read = shlogfs_fw_read,
	.poll = shlogfs_fw_poll,
	.flush = shlogfs_cursor_flush,
	.fsync = shlogfs_cursor_fsync,
	.release = shlogfs_cursor_release,
};
