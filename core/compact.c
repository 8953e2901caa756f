/*
 * compact.c — rewrite a partition keeping the latest message of every key
 * (tombstones dropped) and every keyless message (shlog_part_compact, for
 * `shlogctl compact`).  The copy is written through writer.c, the one
 * writer of segments and anchors; every file system call goes through
 * the sl_io seam.
 *
 * What is kept: Kafka's rule for keys (latest wins, a tombstone removes
 * the key and is itself dropped); a message with no key has nothing to be
 * superseded by, so it stays.  Order and block times are kept: a new span
 * starts wherever the block time changes, so every message keeps the time
 * it had.  Sequence numbers and offsets must stay dense (docs/FORMAT.md),
 * so the kept messages are renumbered to end exactly where the log ended:
 * end_seq and end_off do not move, appends continue where they would
 * have, and the log looks as if retention had deleted its older part.
 *
 * Safety against the people who can see the topic directory: the copy is
 * built in "<topic>/.compact-N-<16 random hex>.new", made with mkdirat
 * (an existing name, a planted symlink included, is never accepted: pick
 * another), opened with sl_io_open() and checked to be the directory
 * just made (same device and inode as the name, owned by us, mode 0700,
 * empty).  Everything inside is created O_CREAT|O_EXCL relative to that
 * fd; nothing is chowned or chmodded (the partition is the daemon's; the
 * mount's owners and modes live in the topic's metadata).  The name is
 * checked again before the swap, and N after it (an entry someone
 * exchanged in under our name at that instant is swapped back out).
 *
 * Crash safety: every file of the copy is fdatasynced and its directory
 * fsynced, then the topic directory; then renameat2(RENAME_EXCHANGE) swaps
 * the copy and N in one step (the old tree now sits under the temporary
 * name), the topic directory is fsynced and the old tree removed.  A file
 * system without RENAME_EXCHANGE gets the older two-step swap: N to
 * ".compact-N-<same hex>.old", the copy to N.  Whatever a crash leaves,
 * sl_compact_settle() (settle.c, called by every writable open and by
 * compaction before it starts) decides from what is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "array_i.h"
#include "engine_i.h"
#include "io_i.h"
#include "writer_i.h"
#include "lock_i.h"

/* ================================================================ */
/* Writing the new partition                                         */
/* ================================================================ */

/* The partition being written, through writer.c one span at a time. */
struct cwriter {
	int dfd;                     /* the temporary directory */
	int log_fd, idx_fd;
	uint64_t seg_seq, seg_off;   /* the open segment's first message and offset */
	uint64_t seg_bytes, seg_max, nents; /* its size, cap and entries */
	uint32_t stride;
	struct shlog_buf span;       /* bytes of the open span (len 0: none) */
	uint64_t span_seq, span_off; /* its first message */
	int64_t span_time;
	struct flush_scratch plan;   /* the span's index entry, encoded */
	uint64_t seq, off;           /* next message */
	int64_t last_time;
};

/* Create the next segment's two files, exclusively, never following a name. */
static int cw_seg_open(struct cwriter *w)
{
	w->seg_seq = w->seq;
	w->seg_off = w->off;
	w->seg_bytes = w->nents = 0;
	return sl_writer_seg_files(w->dfd, w->seq, O_RDWR | O_CREAT | O_EXCL, &w->log_fd, &w->idx_fd);
}

/* Write the open span and its index entry (framed by the writer: one entry). */
static int cw_span_close(struct cwriter *w)
{
	int rc;

	if (w->span.len == 0)
		return 0;
	rc = sl_writer_plan(&w->plan, w->stride, w->span.data, w->span.len, w->span_seq, w->span_off,
			    w->span_time, 0);
	if (rc == 0)
		rc = sl_writer_put(w->log_fd, w->idx_fd, w->nents, w->span_off - w->seg_off, &w->plan,
				   w->span.data, w->span.len);
	w->nents += w->plan.nents;
	w->span.len = 0;
	return rc;
}

/* Close @fd if open and set it to -1. */
static void cw_close_fd(int *fd)
{
	if (*fd >= 0)
		sl_io.close(*fd);
	*fd = -1;
}

/* fdatasync and close the open segment. */
static int cw_seg_close(struct cwriter *w)
{
	int rc = w->log_fd < 0 || w->idx_fd < 0 ? -EBADF : cw_span_close(w);

	if (rc == 0 && (sl_io.fdatasync(w->log_fd) < 0 || sl_io.fdatasync(w->idx_fd) < 0))
		rc = -errno;
	cw_close_fd(&w->log_fd);
	cw_close_fd(&w->idx_fd);
	return rc;
}

/* Add one message (with its '\n', @len bytes in all) of block time @t. */
static int cw_add(struct cwriter *w, const char *msg, uint32_t len, int64_t t)
{
	int rc = 0;

	if (w->seg_bytes > 0 && w->seg_bytes + len > w->seg_max) {
		rc = cw_seg_close(w);
		if (rc == 0)
			rc = cw_seg_open(w);
	}
	/* the writer's framing rule, and every message keeps its block time */
	if (rc == 0 && w->span.len && (t != w->span_time || sl_writer_span_ends(w->stride, w->seq, w->span.len, len)))
		rc = cw_span_close(w);
	if (rc == 0 && w->span.len == 0) {
		w->span_seq = w->seq;
		w->span_off = w->off;
		w->span_time = t;
	}
	if (rc == 0)
		rc = sl_buf_reserve(&w->span, len);
	if (rc < 0)
		return rc;
	memcpy(w->span.data + w->span.len, msg, len);
	w->span.len += len;
	w->seq++;
	w->off += len;
	w->seg_bytes += len;
	w->last_time = t;
	return 0;
}

/* Free what the writer allocated. */
static void cw_free(struct cwriter *w)
{
	free(w->span.data);
	free(w->plan.ents);
	free(w->plan.keyed);
}

/* Write the new partition's clean anchor (generation 1, slot 1; slot 0 stays zeros). */
static int cw_anchor(struct cwriter *w, uint64_t start_seq, uint64_t start_off, uint64_t nkeys,
		     int64_t last_flush)
{
	struct shlog_anchor a = { 0 };
	int fd, rc;

	a.flags = SHLOG_ANCHOR_FLAG_CLEAN;
	a.gen = 1;
	a.committed_seq = a.durable_seq = w->seq;
	a.committed_off = w->off;
	a.seg_base_seq = w->seg_seq;
	a.last_flush_ns = last_flush;
	a.keys_seq = start_seq;       /* no snapshot: the first open replays the (compacted) log */
	a.keys_off = start_off;
	a.nkeys = nkeys;
	if (sl_io.boot_id(a.boot_id) < 0)
		memset(a.boot_id, 0, sizeof(a.boot_id));
	fd = sl_io_open(w->dfd, SHLOG_ANCHOR_NAME, O_RDWR | O_CREAT | O_EXCL, SHLOG_FILE_MODE, S_IFREG);
	if (fd < 0)
		return fd;
	rc = sl_writer_slot_put(fd, &a);
	if (rc == 0 && sl_io.fdatasync(fd) < 0)
		rc = -errno;
	sl_io.close(fd);
	return rc;
}

/* ================================================================ */
/* Reading the old partition                                         */
/* ================================================================ */

/* Read a whole span of the old log into @b. */
static int read_span(shlog_part *p, const struct shlog_index_entry *e, struct shlog_buf *b)
{
	size_t got = 0;

	b->len = 0;
	if (sl_buf_reserve(b, e->len) < 0)
		return -ENOMEM;
	while (got < e->len) {
		ssize_t n = shlog_part_read(p, e->off + got, b->data + got, e->len - got);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	b->len = got;
	return 0;
}

/* Is message @seq (@len bytes, no '\n') one compaction keeps?  *tomb set for a tombstone. */
static int keep_msg(shlog_part *p, const char *msg, uint32_t len, uint64_t seq, int *tomb)
{
	struct shlog_keyref ref;
	uint32_t klen;

	*tomb = 0;
	if (!sl_msg_key(msg, len, &klen))
		return 1;
	*tomb = klen + 1 == len;
	return shlog_key_lookup(p, msg, klen, &ref) == 0 && ref.seq == seq;
}

/* The whole compaction job. */
struct cjob {
	shlog_part *p;
	struct sl_entries ents;
	struct shlog_compact_result *r;
	shlog_progress_fn progress;
	void *arg;
	uint64_t done, total;
};

/* Walk every message; with @w, write the kept ones, else count them. */
static int walk(struct cjob *j, struct cwriter *w)
{
	struct shlog_buf b = { 0 };
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < j->ents.n; i++) {
		const struct shlog_index_entry *e = &j->ents.v[i];
		size_t pos = 0;
		rc = read_span(j->p, e, &b);
		for (uint32_t m = 0; rc == 0 && m < e->count; m++) {
			char *nl = memchr(b.data + pos, '\n', b.len - pos);
			uint32_t len;
			int tomb;
			if (!nl) {
				rc = -EUCLEAN;
				break;
			}
			len = (uint32_t)(nl - (b.data + pos));
			if (keep_msg(j->p, b.data + pos, len, e->seq + m, &tomb)) {
				if (w)
					rc = cw_add(w, b.data + pos, len + 1, e->time_ns);
				else {
					j->r->msgs_kept++;
					j->r->bytes_kept += len + 1;
					j->r->keyless_kept += !sl_msg_key(b.data + pos, len, &(uint32_t){ 0 });
				}
			} else if (!w && tomb) {
				j->r->tombstones_dropped++;
			}
			pos += len + 1;
		}
		j->done += e->len;
		if (j->progress)
			j->progress(j->done, j->total, j->arg);
	}
	free(b.data);
	return rc;
}

/* A table of cursors being collected (shlog_cursor_foreach). */
struct ccursors {
	struct sl_cursor v[SHLOG_CURSORS_MAX];
	uint32_t n;
};

/* shlog_cursor_foreach callback: collect one cursor. */
static int cc_add(const char *name, uint64_t seq, void *arg)
{
	struct ccursors *cc = arg;

	if (cc->n >= SHLOG_CURSORS_MAX)
		return -ENOSPC;
	strcpy(cc->v[cc->n].name, name);
	cc->v[cc->n++].seq = seq;
	return 0;
}

/*
 * Carry the cursors over to the copy in @ndfd, values unchanged: the
 * kept messages are renumbered to end where the log ended, so message N
 * of the old log is at N or later in the new one, and a cursor at N
 * delivers again at most what compaction moved past it, never skips.
 */
static int cw_cursors(shlog_part *p, int ndfd)
{
	struct ccursors *cc = calloc(1, sizeof(*cc));
	unsigned char *img = malloc(SHLOG_CURSOR_SLOT_SIZE);
	int rc = cc && img ? shlog_cursor_foreach(p, cc_add, cc) : -ENOMEM;

	if (rc == 0 && cc->n)
		rc = sl_writer_cursors_put(ndfd, 1, img, sl_cursors_encode(cc->v, cc->n, 1, img));
	free(cc);
	free(img);
	return rc;
}

/* Build the compacted copy of @j->p in directory @ndfd. */
static int build(struct cjob *j, int ndfd, uint64_t seg_max, uint32_t stride)
{
	struct shlog_part_info in;
	struct cwriter w = { .dfd = ndfd, .log_fd = -1, .idx_fd = -1, .seg_max = seg_max, .stride = stride };
	int rc = shlog_part_info(j->p, &in);

	if (rc == 0)
		rc = shlog_part_index_foreach(j->p, sl_entries_add, &j->ents);
	if (rc < 0)
		return rc;
	j->r->msgs_in = in.committed_seq - in.start_seq;
	j->r->bytes_in = in.committed_off - in.start_off;
	j->r->end_seq = in.committed_seq;
	j->r->end_off = in.committed_off;
	j->total = 2 * j->r->bytes_in;
	rc = walk(j, NULL);
	if (rc < 0)
		return rc;
	j->r->start_seq = w.seq = in.committed_seq - j->r->msgs_kept;
	j->r->start_off = w.off = in.committed_off - j->r->bytes_kept;
	w.last_time = in.last_flush_ns;
	rc = cw_seg_open(&w);
	if (rc == 0)
		rc = walk(j, &w);
	if (w.log_fd >= 0) {
		int r2 = cw_seg_close(&w);
		rc = rc ? rc : r2;
	}
	cw_free(&w);
	if (rc == 0 && (w.seq != in.committed_seq || w.off != in.committed_off))
		rc = -EIO;   /* the two passes disagree: the log changed under us */
	if (rc == 0)
		rc = cw_anchor(&w, j->r->start_seq, j->r->start_off, in.nkeys,
			       in.last_flush_ns > w.last_time ? in.last_flush_ns : w.last_time);
	if (rc == 0)
		rc = cw_cursors(j->p, ndfd);
	if (rc == 0)
		rc = sl_fsync_dir(ndfd);
	return rc;
}

/* ================================================================ */
/* Entry point                                                       */
/* ================================================================ */

/* Is @name in @tdfd still the directory open as @fd?  0 or -EUCLEAN. */
static int still_ours(int tdfd, const char *name, int fd)
{
	struct stat a, b;

	if (sl_io.fstatat(tdfd, name, &a, AT_SYMLINK_NOFOLLOW) < 0 || sl_io.fstat(fd, &b) < 0)
		return -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino && S_ISDIR(a.st_mode) ? 0 : -EUCLEAN;
}

/* The two-step swap (no RENAME_EXCHANGE): N -> the .old name, the copy -> N. */
static int swap_two_step(int tdfd, const char *tmp, const char *num, char *old, size_t cap)
{
	int rc = sl_name_compact_old(old, cap, tmp);

	if (rc < 0)
		return rc;
	if (sl_io.renameat2(tdfd, num, tdfd, old, RENAME_NOREPLACE) < 0 &&
	    (errno != EINVAL || sl_io.renameat(tdfd, num, tdfd, old) < 0))
		return -errno;
	if (sl_io.renameat(tdfd, tmp, tdfd, num) < 0) {
		rc = -errno;
		sl_io.renameat(tdfd, old, tdfd, num);   /* put it back */
		return rc;
	}
	return 0;
}

/* Swap the copy in (@tmp, open as @ndfd) for partition @part, then remove the old tree. */
static int swap_in(int tdfd, const char *tmp, int ndfd, uint32_t part)
{
	char num[SHLOG_PART_NAME_CAP], old[64];
	const char *gone = tmp;   /* where the old tree is after the swap */
	int rc;

	sl_name_part(num, sizeof(num), part);
	rc = still_ours(tdfd, tmp, ndfd);
	if (rc < 0)
		return rc;
	if (sl_io.renameat2(tdfd, tmp, tdfd, num, RENAME_EXCHANGE) < 0) {
		if (errno != EINVAL)
			return -errno;
		rc = swap_two_step(tdfd, tmp, num, old, sizeof(old));
		if (rc < 0)
			return rc;
		gone = old;
	} else if (still_ours(tdfd, num, ndfd) < 0) {
		/* someone swapped another entry in under our name just before: undo */
		sl_io.renameat2(tdfd, tmp, tdfd, num, RENAME_EXCHANGE);
		return -EUCLEAN;
	}
	rc = sl_fsync_dir(tdfd);
	if (rc == 0)
		rc = sl_rmtree_at(tdfd, gone);
	if (rc == 0)
		rc = sl_fsync_dir(tdfd);
	return rc;
}

/* Read the partition through a read-only store and build the new copy in a fresh temporary dir. */
static int compact_build(const char *dir, int tdfd, const char *topic, uint32_t part, uint64_t seg_max,
			 const struct shlog_options *o, struct cjob *j, char *tmp, size_t cap, int *ndfd)
{
	struct shlog_options ro = *o;
	char prefix[32];
	shlog_store *st = NULL;
	int rc;

	ro.read_only = 1;
	ro.repair = 0;
	*ndfd = -1;
	tmp[0] = 0;
	rc = sl_name_compact_prefix(prefix, sizeof(prefix), part);
	if (rc == 0)
		rc = shlog_store_open(dir, &ro, &st);
	if (rc == 0)
		rc = shlog_part_get(st, topic, part, &j->p);
	if (rc == 0) {
		*ndfd = sl_mkdtemp(tdfd, prefix, SHLOG_COMPACT_NEW_SUFFIX, tmp, cap);
		rc = *ndfd < 0 ? *ndfd : build(j, *ndfd, seg_max, ro.stride);
	}
	if (j->p)
		shlog_part_put(j->p);
	j->p = NULL;
	if (st)
		shlog_store_close(st);
	if (rc == 0)
		rc = sl_fsync_dir(tdfd);
	return rc;
}

/* Settle, build and swap partition @part of the topic open as @tdfd. */
static int compact_topic(const char *dir, int tdfd, const char *topic, uint32_t part, uint64_t seg_max,
			 const struct shlog_options *o, struct cjob *j)
{
	shlog_store logs = { .o = *o };   /* only carries the log callback */
	char tmp[64];
	int ndfd = -1, rc = sl_compact_settle(&logs, tdfd, topic);

	if (rc == 0)
		rc = compact_build(dir, tdfd, topic, part, seg_max, o, j, tmp, sizeof(tmp), &ndfd);
	if (rc == 0)
		rc = swap_in(tdfd, tmp, ndfd, part);
	else if (ndfd >= 0 && still_ours(tdfd, tmp, ndfd) == 0)
		sl_rmtree_at(tdfd, tmp);   /* a failed build; a crash leaves it to settle */
	if (ndfd >= 0)
		sl_io.close(ndfd);
	return rc;
}

int shlog_part_compact(const char *dir, const char *topic, uint32_t part, uint64_t segment_bytes,
		       const struct shlog_options *o, shlog_progress_fn progress, void *arg,
		       struct shlog_compact_result *r)
{
	struct shlog_compact_result dummy;
	struct shlog_options opts;
	struct cjob j = { 0 };
	int dfd, lock_fd, tdfd, rc;

	if (!dir || shlog_topic_name_check(topic) < 0)
		return -EINVAL;
	if (o)
		opts = *o;
	else
		shlog_options_init(&opts);
	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	j.r = r;
	j.progress = progress;
	j.arg = arg;
	rc = sl_lock_open(dir, SL_LOCK_TAKE, &dfd, &lock_fd);
	if (rc < 0)
		return rc;
	tdfd = sl_io_open(dfd, topic, O_RDONLY, 0, S_IFDIR);
	rc = tdfd < 0 ? tdfd : compact_topic(dir, tdfd, topic, part,
					    segment_bytes ? segment_bytes : opts.segment_bytes, &opts, &j);
	if (tdfd >= 0)
		sl_io.close(tdfd);
	free(j.ents.v);
	sl_lock_close(dfd, lock_fd);
	return rc;
}
