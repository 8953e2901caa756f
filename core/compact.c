/*
 * compact.c — rewrite a partition keeping the latest message of every key
 * (tombstones dropped) and every keyless message (shlog_part_compact, for
 * `shlogctl compact`), and the open-time step that settles a compaction a
 * crash interrupted (shlog_compact_settle).
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
 * Crash safety: the new partition is written as "<topic>/.compact-N.new"
 * (segments, index, a clean anchor, all fdatasynced, directory fsynced).
 * Then N is renamed to ".compact-N.old", ".compact-N.new" to N, the topic
 * directory fsynced and the old tree removed.  Whatever a crash leaves,
 * shlog_compact_settle() (called by every writable open) decides it:
 *
 *   .new and N         the swap had not started: remove .new (roll back)
 *   .new, no N         between the renames: rename .new to N (finish)
 *   .old and N, no .new  the swap was done: remove .old
 *   .old, no N, no .new  cannot happen by the order above; restore .old
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "crc_i.h"
#include "engine_i.h"
#include "io_i.h"
#include "admin_i.h"

/* ================================================================ */
/* Settling an interrupted swap                                      */
/* ================================================================ */

/* Does @name exist in @dfd (without following symlinks)? */
static int exists_at(int dfd, const char *name)
{
	return faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Settle the swap of partition @num in topic dir @tdfd. */
static int settle_one(shlog_store *s, int tdfd, const char *topic, uint32_t num)
{
	char part[16], nw[48], old[48];
	int has_part, has_new, has_old, rc = 0;

	snprintf(part, sizeof(part), "%u", num);
	snprintf(nw, sizeof(nw), ".compact-%u.new", num);
	snprintf(old, sizeof(old), ".compact-%u.old", num);
	has_part = exists_at(tdfd, part);
	has_new = exists_at(tdfd, nw);
	has_old = exists_at(tdfd, old);
	if (has_new && has_part) {
		shlog_logf(s, SHLOG_NOTICE, "%s/%u: an interrupted compaction had not swapped; discarding its copy",
			   topic, num);
		rc = shlog_rmtree_at(tdfd, nw);
	} else if (has_new) {
		shlog_logf(s, SHLOG_NOTICE, "%s/%u: finishing an interrupted compaction (swapping the new copy in)",
			   topic, num);
		rc = shlog_io.renameat(tdfd, nw, tdfd, part) < 0 ? -errno : 0;
		has_part = rc == 0;
	} else if (has_old && !has_part) {
		shlog_logf(s, SHLOG_WARNING, "%s/%u: partition missing beside a compaction's old copy; restoring it",
			   topic, num);
		rc = shlog_io.renameat(tdfd, old, tdfd, part) < 0 ? -errno : 0;
		has_old = rc < 0;
	}
	if (rc == 0 && has_old && has_part)
		rc = shlog_rmtree_at(tdfd, old);
	if (rc == 0)
		rc = shlog_fsync_dir(tdfd);
	if (rc < 0)
		shlog_logf(s, SHLOG_ERR, "%s/%u: cannot settle an interrupted compaction: %s", topic, num,
			   strerror(-rc));
	return rc;
}

/* Parse ".compact-<N>.new" or ".compact-<N>.old" into *num. */
static int compact_name(const char *name, uint32_t *num)
{
	char digits[16];
	size_t n;

	if (strncmp(name, ".compact-", 9))
		return 0;
	n = strlen(name + 9);
	if (n < 5 || n - 4 >= sizeof(digits) || (strcmp(name + 9 + n - 4, ".new") && strcmp(name + 9 + n - 4, ".old")))
		return 0;
	memcpy(digits, name + 9, n - 4);
	digits[n - 4] = 0;
	return shlog_part_name_parse(digits, num) == 0;
}

int shlog_compact_settle(shlog_store *s, int tdfd, const char *topic)
{
	int fd = dup(tdfd), rc = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	uint32_t *nums = NULL, num;
	size_t n = 0, cap = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!compact_name(de->d_name, &num))
			continue;
		if (n == cap) {
			uint32_t *nn = realloc(nums, (cap = cap ? cap * 2 : 8) * sizeof(*nums));
			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			nums = nn;
		}
		nums[n++] = num;
	}
	rewinddir(d);   /* the position is shared with @tdfd, which the caller reads next */
	closedir(d);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = settle_one(s, tdfd, topic, nums[i]);   /* a second visit of N finds nothing to do */
	free(nums);
	return rc;
}

/* ================================================================ */
/* Writing the new partition                                         */
/* ================================================================ */

/* The partition being written. */
struct cwriter {
	int dfd;                     /* the .compact-N.new directory */
	int log_fd, idx_fd;
	uint64_t seg_base, seg_bytes, seg_max;
	uint32_t stride;
	struct shlog_buf span;       /* bytes of the open span */
	struct shlog_index_entry e;  /* the open span's entry (count 0: none) */
	uint64_t seq, off;           /* next message */
	int64_t last_time;
};

/* Open a new segment starting at the writer's next message. */
static int cw_seg_open(struct cwriter *w)
{
	char name[32];

	w->seg_base = w->seq;
	w->seg_bytes = 0;
	shlog_seg_name(name, sizeof(name), w->seq, "log");
	w->log_fd = openat(w->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	shlog_seg_name(name, sizeof(name), w->seq, "idx");
	w->idx_fd = openat(w->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	return w->log_fd < 0 || w->idx_fd < 0 ? -errno : 0;
}

/* Write the open span and its index entry. */
static int cw_span_close(struct cwriter *w)
{
	unsigned char raw[SHLOG_IDX_ENTRY_SIZE];
	int rc;

	if (w->e.count == 0)
		return 0;
	w->e.crc = shlog_crc32c(w->span.data, w->span.len);
	shlog_entry_encode(&w->e, raw);
	rc = shlog_io_pwrite_full(w->log_fd, w->span.data, w->span.len, (off_t)(w->e.off - (w->off - w->seg_bytes)));
	if (rc == 0) {
		struct stat sb;
		rc = fstat(w->idx_fd, &sb) < 0 ? -errno : shlog_io_pwrite_full(w->idx_fd, raw, sizeof(raw), sb.st_size);
	}
	w->span.len = 0;
	w->e.count = 0;
	return rc;
}

/* fdatasync and close the open segment. */
static int cw_seg_close(struct cwriter *w)
{
	int rc = cw_span_close(w);

	if (rc == 0 && (fdatasync(w->log_fd) < 0 || fdatasync(w->idx_fd) < 0))
		rc = -errno;
	close(w->log_fd);
	close(w->idx_fd);
	w->log_fd = w->idx_fd = -1;
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
	if (rc == 0 && w->e.count && (w->seq % w->stride == 0 || t != w->e.time_ns ||
				      w->span.len + len > SHLOG_SPAN_MAX_BYTES))
		rc = cw_span_close(w);
	if (rc == 0 && w->e.count == 0) {
		memset(&w->e, 0, sizeof(w->e));
		w->e.seq = w->seq;
		w->e.off = w->off;
		w->e.time_ns = t;
	}
	if (rc == 0)
		rc = shlog_buf_reserve(&w->span, len);
	if (rc < 0)
		return rc;
	memcpy(w->span.data + w->span.len, msg, len);
	w->span.len += len;
	w->e.len += len;
	w->e.count++;
	w->seq++;
	w->off += len;
	w->seg_bytes += len;
	w->last_time = t;
	return 0;
}

/* Write the new partition's clean anchor (generation 1, slot 1). */
static int cw_anchor(struct cwriter *w, uint64_t start_seq, uint64_t start_off, uint64_t nkeys,
		     int64_t last_flush)
{
	unsigned char file[SHLOG_ANCHOR_FILE_SIZE] = { 0 };
	struct shlog_anchor a = { 0 };
	int fd, rc;

	a.flags = SHLOG_ANCHOR_FLAG_CLEAN;
	a.gen = 1;
	a.committed_seq = a.durable_seq = w->seq;
	a.committed_off = w->off;
	a.seg_base_seq = w->seg_base;
	a.last_flush_ns = last_flush;
	a.keys_seq = start_seq;       /* no snapshot: the first open replays the (compacted) log */
	a.keys_off = start_off;
	a.nkeys = nkeys;
	if (shlog_io.boot_id(a.boot_id) < 0)
		memset(a.boot_id, 0, sizeof(a.boot_id));
	shlog_anchor_encode(&a, file + SHLOG_ANCHOR_SLOT_SIZE);
	fd = openat(w->dfd, SHLOG_ANCHOR_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = shlog_io_pwrite_full(fd, file, sizeof(file), 0);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* ================================================================ */
/* Reading the old partition                                         */
/* ================================================================ */

/* The old partition's index, copied out. */
struct centries {
	struct shlog_index_entry *v;
	size_t n, cap;
};

/* Collect one index entry (shlog_part_index_foreach callback). */
static int collect_entry(const struct shlog_index_entry *e, void *arg)
{
	struct centries *c = arg;

	if (c->n == c->cap) {
		struct shlog_index_entry *nv = realloc(c->v, (c->cap = c->cap ? c->cap * 2 : 256) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->v = nv;
	}
	c->v[c->n++] = *e;
	return 0;
}

/* Read a whole span of the old log into @b. */
static int read_span(shlog_part *p, const struct shlog_index_entry *e, struct shlog_buf *b)
{
	size_t got = 0;

	b->len = 0;
	if (shlog_buf_reserve(b, e->len) < 0)
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
	if (!shlog_msg_key(msg, len, &klen))
		return 1;
	*tomb = klen + 1 == len;
	return shlog_key_lookup(p, msg, klen, &ref) == 0 && ref.seq == seq;
}

/* The whole compaction job. */
struct cjob {
	shlog_part *p;
	struct centries ents;
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
					j->r->keyless_kept += !shlog_msg_key(b.data + pos, len, &(uint32_t){ 0 });
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

/* Build the compacted copy of @j->p in directory @ndfd. */
static int build(struct cjob *j, int ndfd, uint64_t seg_max, uint32_t stride)
{
	struct shlog_part_info in;
	struct cwriter w = { .dfd = ndfd, .log_fd = -1, .idx_fd = -1, .seg_max = seg_max, .stride = stride };
	int rc = shlog_part_info(j->p, &in);

	if (rc == 0)
		rc = shlog_part_index_foreach(j->p, collect_entry, &j->ents);
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
	free(w.span.data);
	if (rc == 0 && (w.seq != in.committed_seq || w.off != in.committed_off))
		rc = -EIO;   /* the two passes disagree: the log changed under us */
	if (rc == 0)
		rc = cw_anchor(&w, j->r->start_seq, j->r->start_off, in.nkeys,
			       in.last_flush_ns > w.last_time ? in.last_flush_ns : w.last_time);
	if (rc == 0)
		rc = shlog_fsync_dir(ndfd);
	return rc;
}

/* ================================================================ */
/* Entry point                                                       */
/* ================================================================ */

/* Give the new directory the old one's mode and owner. */
static void copy_dir_attrs(int tdfd, const char *from, int to_fd)
{
	struct stat sb;

	if (fstatat(tdfd, from, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		if (fchown(to_fd, sb.st_uid, sb.st_gid) < 0) {
			/* not root: keep ours */
		}
		fchmod(to_fd, sb.st_mode & 07777);
	}
}

/* Swap the built copy in: N -> .old, .new -> N, fsync, remove .old. */
static int swap_in(int tdfd, uint32_t part)
{
	char num[16], nw[48], old[48];
	int rc = 0;

	snprintf(num, sizeof(num), "%u", part);
	snprintf(nw, sizeof(nw), ".compact-%u.new", part);
	snprintf(old, sizeof(old), ".compact-%u.old", part);
	if (shlog_io.renameat(tdfd, num, tdfd, old) < 0)
		return -errno;
	if (shlog_io.renameat(tdfd, nw, tdfd, num) < 0) {
		rc = -errno;
		shlog_io.renameat(tdfd, old, tdfd, num);   /* put it back */
		return rc;
	}
	rc = shlog_fsync_dir(tdfd);
	if (rc == 0)
		rc = shlog_rmtree_at(tdfd, old);
	if (rc == 0)
		rc = shlog_fsync_dir(tdfd);
	return rc;
}

/* Read the partition through a read-only store and build the new copy in .compact-N.new. */
static int compact_build(const char *dir, int tdfd, const char *topic, uint32_t part, uint64_t seg_max,
			 const struct shlog_options *o, struct cjob *j)
{
	struct shlog_options ro = *o;
	char nw[48], num[16];
	shlog_store *st = NULL;
	int ndfd = -1, rc;

	ro.read_only = 1;
	ro.repair = 0;
	snprintf(num, sizeof(num), "%u", part);
	snprintf(nw, sizeof(nw), ".compact-%u.new", part);
	rc = shlog_store_open(dir, &ro, &st);
	if (rc == 0)
		rc = shlog_part_get(st, topic, part, &j->p);
	if (rc == 0) {
		shlog_rmtree_at(tdfd, nw);
		if (mkdirat(tdfd, nw, 0755) < 0 ||
		    (ndfd = openat(tdfd, nw, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			rc = -errno;
	}
	if (rc == 0) {
		copy_dir_attrs(tdfd, num, ndfd);
		rc = build(j, ndfd, seg_max, ro.stride);
	}
	if (ndfd >= 0)
		close(ndfd);
	if (j->p)
		shlog_part_put(j->p);
	j->p = NULL;
	if (st)
		shlog_store_close(st);
	if (rc < 0)
		shlog_rmtree_at(tdfd, nw);
	else
		rc = shlog_fsync_dir(tdfd);
	return rc;
}

int shlog_part_compact(const char *dir, const char *topic, uint32_t part, uint64_t segment_bytes,
		       const struct shlog_options *o, shlog_progress_fn progress, void *arg,
		       struct shlog_compact_result *r)
{
	struct shlog_compact_result dummy;
	struct shlog_options opts;
	struct cjob j = { 0 };
	shlog_store *logs;
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
	rc = shlog_admin_lock(dir, &dfd, &lock_fd);
	if (rc < 0)
		return rc;
	logs = calloc(1, sizeof(*logs));   /* only carries the log callback */
	if (logs)
		logs->o = opts;
	tdfd = openat(dfd, topic, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = tdfd < 0 ? -errno : shlog_compact_settle(logs, tdfd, topic);
	if (rc == 0)
		rc = compact_build(dir, tdfd, topic, part, segment_bytes ? segment_bytes : opts.segment_bytes,
				   &opts, &j);
	if (rc == 0)
		rc = swap_in(tdfd, part);
	if (tdfd >= 0)
		close(tdfd);
	free(j.ents.v);
	free(logs);
	shlog_admin_unlock(dfd, lock_fd);
	return rc;
}
