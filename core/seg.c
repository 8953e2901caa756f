/*
 * seg.c — a partition's segments: the in-memory table, finding the
 * segment and index entry for an offset or sequence number, reading and
 * checking spans, creating a segment at roll time and deleting the oldest
 * one for wrap retention.  The file formats are in format.c and
 * docs/FORMAT.md.
 *
 * The table (p->segs) is changed only by the flush worker holding
 * p->seglock for writing; readers hold it for reading.  Index entries of
 * a segment are read from its .idx file the first time they are needed
 * (p->entmu serialises that), so opening a store reads no index.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc_i.h"
#include "engine_i.h"
#include "io_i.h"

/* Check entry i of a segment being loaded against the validator; the rule broken in *why. */
static int seg_ent_check(const struct shlog_seg *g, struct shlog_ent *ents, size_t i,
			 const unsigned char *raw, const char **why)
{
	struct shlog_index_entry *e = &ents[i].e;

	if (sl_entry_decode(raw, e, why) < 0)
		return -EUCLEAN;
	if (i == 0 ? sl_check_entry_first(e, g->base_seq, why) < 0
		   : sl_check_entry_next(&ents[i - 1].e, e, why) < 0)
		return -EUCLEAN;
	return sl_check_entry_bounds(e, g->base_off, g->end_off - g->base_off, why);
}

/* Read a segment's index entries into memory (once); seglock held. */
int sl_seg_load_ents(shlog_part *p, struct shlog_seg *g)
{
	unsigned char *raw = NULL;
	struct shlog_ent *ents = NULL;
	const char *why = NULL;
	int rc = 0;

	pthread_mutex_lock(&p->entmu);
	if (g->ents || g->nents == 0)
		goto out;
	raw = malloc(g->nents * SHLOG_IDX_ENTRY_SIZE);
	ents = calloc(g->nents, sizeof(*ents));
	if (!raw || !ents) {
		rc = -ENOMEM;
		goto out;
	}
	rc = sl_res_seg_open(p, g);
	if (rc == 0)
		rc = sl_io_pread_full(g->idx_fd, raw, g->nents * SHLOG_IDX_ENTRY_SIZE, 0);
	for (size_t i = 0; rc == 0 && i < g->nents; i++) {
		if (seg_ent_check(g, ents, i, raw + i * SHLOG_IDX_ENTRY_SIZE, &why) < 0) {
			char name[32];
			sl_name_segment(name, sizeof(name), g->base_seq, SL_SEG_IDX);
			sl_logf(p->s, SHLOG_ERR, "%s: %s: corrupt index entry at byte %zu (%s): not served",
				   p->name, name, i * SHLOG_IDX_ENTRY_SIZE, why);
			rc = -EIO;
		}
	}
	if (rc == 0) {
		g->ents = ents;
		g->ents_cap = g->nents;
		ents = NULL;
	}
out:
	pthread_mutex_unlock(&p->entmu);
	free(raw);
	free(ents);
	return rc;
}

/* The segment holding log offset @off (>= start_off); seglock held. */
struct shlog_seg *sl_seg_by_off(shlog_part *p, uint64_t off)
{
	size_t lo = 0, hi = p->nsegs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->segs[mid].base_off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &p->segs[lo];
}

/* The segment holding message @seq (>= start_seq); seglock held. */
struct shlog_seg *sl_seg_by_seq(shlog_part *p, uint64_t seq)
{
	size_t lo = 0, hi = p->nsegs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->segs[mid].base_seq <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return &p->segs[lo];
}

/* Index of the entry whose span holds @off; entries loaded. */
size_t sl_seg_ent_by_off(const struct shlog_seg *g, uint64_t off)
{
	size_t lo = 0, hi = g->nents;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->ents[mid].e.off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the entry whose span holds message @seq; entries loaded. */
size_t sl_seg_ent_by_seq(const struct shlog_seg *g, uint64_t seq)
{
	size_t lo = 0, hi = g->nents;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->ents[mid].e.seq <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Read a whole span into buf (en->len bytes) and check it (sl_check_span); seglock held. */
int sl_seg_read_span(shlog_part *p, struct shlog_seg *g, struct shlog_ent *en, char *buf)
{
	int rc = sl_res_seg_open(p, g);
	const char *why = NULL;

	if (rc == 0)
		rc = sl_io_pread_full(g->log_fd, buf, en->e.len, (off_t)(en->e.off - g->base_off));

	if (rc == 0 && sl_check_span(&en->e, buf, &why) < 0) {
		char name[32];
		sl_name_segment(name, sizeof(name), g->base_seq, SL_SEG_LOG);
		sl_logf(p->s, SHLOG_ERR,
			   "%s: %s: %s in bytes %llu..%llu (messages %llu..%llu): corrupt data, not served",
			   p->name, name, why, (unsigned long long)(en->e.off - g->base_off),
			   (unsigned long long)(en->e.off - g->base_off + en->e.len - 1),
			   (unsigned long long)en->e.seq,
			   (unsigned long long)(en->e.seq + en->e.count - 1));
		rc = -EIO;
	}
	return rc;
}

/* A per-thread buffer big enough for one span, freed when the thread ends. */
static pthread_key_t span_key;
static pthread_once_t span_once = PTHREAD_ONCE_INIT;

struct span_buf {
	size_t cap;
	char data[];
};

/* Create the thread key for span buffers; runs once. */
static void span_key_init(void)
{
	pthread_key_create(&span_key, free);
}

/* This thread's span buffer, grown to @len bytes. */
static char *span_buf_get(size_t len)
{
	struct span_buf *b;

	pthread_once(&span_once, span_key_init);
	b = pthread_getspecific(span_key);
	if (!b || b->cap < len) {
		struct span_buf *n = realloc(b, sizeof(*n) + len);
		if (!n)
			return NULL;
		n->cap = len;
		pthread_setspecific(span_key, n);
		b = n;
	}
	return b->data;
}

/* Copy from span @en at @off into buf; every read checks the span's CRC. */
static ssize_t span_copy(shlog_part *p, struct shlog_seg *g, struct shlog_ent *en, uint64_t off,
			 uint64_t limit, char *buf, size_t len)
{
	uint64_t end = en->e.off + en->e.len;
	char *span = span_buf_get(en->e.len);
	size_t n;
	int rc;

	if (off < en->e.off || off >= end) {
		char name[32];
		sl_name_segment(name, sizeof(name), g->base_seq, SL_SEG_IDX);
		sl_logf(p->s, SHLOG_ERR, "%s: %s: no index entry covers log offset %llu: damaged index",
			   p->name, name, (unsigned long long)off);
		return -EIO;
	}
	if (end > limit)
		end = limit;
	n = end - off < len ? (size_t)(end - off) : len;
	rc = span ? sl_seg_read_span(p, g, en, span) : -ENOMEM;
	if (rc < 0)
		return rc;
	memcpy(buf, span + (off - en->e.off), n);
	return (ssize_t)n;
}

/*
 * Ask the kernel to start reading the next SHLOG_READAHEAD_BYTES of the
 * segment after a bulk read ends at @end, once per window: the engine
 * reads a span at a time, and without this a cold sequential reader waits
 * for each span's disk read in turn.  seglock held.
 */
static void seg_readahead(shlog_part *p, struct shlog_seg *g, uint64_t end)
{
	uint64_t mark = atomic_load(&p->ra_mark);

	if (end >= g->end_off || end < g->base_off)
		return;
	/* inside the window asked for last time: nothing to do */
	if (mark > end && mark - end >= SHLOG_READAHEAD_BYTES / 2 && mark - end <= SHLOG_READAHEAD_BYTES)
		return;
	if (!atomic_compare_exchange_strong(&p->ra_mark, &mark, end + SHLOG_READAHEAD_BYTES))
		return;
	if (sl_res_seg_open(p, g) == 0)
		posix_fadvise(g->log_fd, (off_t)(end - g->base_off), SHLOG_READAHEAD_BYTES, POSIX_FADV_WILLNEED);
}

/* Read committed bytes [off, limit) into buf, checking spans; -ENODATA below start. */
ssize_t sl_seg_read(shlog_part *p, uint64_t off, uint64_t limit, void *buf, size_t len)
{
	size_t n = 0;
	ssize_t rc = sl_res_pin(p);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	if (off < p->start_off) {
		pthread_rwlock_unlock(&p->seglock);
		sl_res_unpin(p);
		return -ENODATA;
	}
	while (n < len && off + n < limit) {
		struct shlog_seg *g = sl_seg_by_off(p, off + n);
		size_t i;

		rc = sl_seg_load_ents(p, g);
		if (rc < 0 || g->nents == 0)
			break;
		i = sl_seg_ent_by_off(g, off + n);
		rc = span_copy(p, g, &g->ents[i], off + n, limit, (char *)buf + n, len - n);
		if (rc <= 0)
			break;
		n += (size_t)rc;
	}
	if (n >= SHLOG_READAHEAD_MIN)
		seg_readahead(p, sl_seg_by_off(p, off + n - 1), off + n);
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	if (rc < 0 && n == 0)
		return rc;
	return (ssize_t)n;
}

/* Open (creating with @flags) one of a segment's two files. */
static int seg_open_file(shlog_part *p, uint64_t seq, enum sl_seg_file f, int flags)
{
	char name[32];
	int fd;

	sl_name_segment(name, sizeof(name), seq, f);
	fd = sl_io_open(p->dfd, name, flags, SHLOG_FILE_MODE, S_IFREG);
	return fd;
}

/* Create an empty segment starting at seq/off and make it the tail; 1 if its directory sync failed. */
int sl_seg_create(shlog_part *p, uint64_t seq, uint64_t off)
{
	struct shlog_seg *n, g = { .base_seq = seq, .base_off = off, .end_seq = seq, .end_off = off };
	int rc = sl_res_charge(p, SHLOG_RES_SEG_FDS), dir_sync_failed = 0;

	if (rc < 0)
		return rc;
	g.log_fd = seg_open_file(p, seq, SL_SEG_LOG, O_RDWR | O_CREAT | O_TRUNC);
	g.idx_fd = seg_open_file(p, seq, SL_SEG_IDX, O_RDWR | O_CREAT | O_TRUNC);
	g.ents = calloc(64, sizeof(*g.ents));
	g.ents_cap = 64;
	rc = g.log_fd < 0 ? g.log_fd : g.idx_fd < 0 ? g.idx_fd : !g.ents ? -ENOMEM : 0;
	/* a failed directory sync is sticky (the caller's policy): the segment is kept, 1 returned */
	if (rc == 0 && sl_fsync_dir(p->dfd) < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: fsync of the directory after creating segment %llu failed: %s",
			   p->name, (unsigned long long)seq, strerror(errno));
		dir_sync_failed = 1;
	}
	if (rc == 0) {
		pthread_rwlock_wrlock(&p->seglock);
		n = realloc(p->segs, (p->nsegs + 1) * sizeof(*n));
		if (n) {
			p->segs = n;
			p->segs[p->nsegs++] = g;
			if (p->nsegs == 1) {
				p->start_seq = seq;
				p->start_off = off;
			}
		}
		pthread_rwlock_unlock(&p->seglock);
		rc = n ? 0 : -ENOMEM;
	}
	if (rc < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: cannot create segment %llu: %s", p->name,
			   (unsigned long long)seq, strerror(-rc));
		if (g.log_fd >= 0)
			sl_io.close(g.log_fd);
		if (g.idx_fd >= 0)
			sl_io.close(g.idx_fd);
		free(g.ents);
		sl_res_uncharge(p, SHLOG_RES_SEG_FDS, 0);
	} else {
		sl_res_rolled(p);
	}
	return rc < 0 ? rc : dir_sync_failed;
}

/* Close one segment's files and free its entries. */
static void seg_close(struct shlog_seg *g)
{
	if (g->log_fd >= 0)
		sl_io.close(g->log_fd);
	if (g->idx_fd >= 0)
		sl_io.close(g->idx_fd);
	free(g->ents);
	g->ents = NULL;
	g->log_fd = g->idx_fd = -1;
}

/* Wrap retention: delete the oldest segment (never the tail); 1 if the directory sync failed. */
int sl_seg_drop_oldest(shlog_part *p)
{
	char lname[32], iname[32];
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
	seg_close(&old);
	sl_name_segment(lname, sizeof(lname), old.base_seq, SL_SEG_LOG);
	sl_name_segment(iname, sizeof(iname), old.base_seq, SL_SEG_IDX);
	/* the .log first: a .idx without its .log is ignored at open */
	sl_io.unlinkat(p->dfd, lname, 0);
	sl_io.unlinkat(p->dfd, iname, 0);
	dir_synced = sl_fsync_dir(p->dfd) == 0;
	if (!dir_synced)
		sl_logf(p->s, SHLOG_ERR, "%s: fsync of the directory after deleting segment %s failed: %s",
			   p->name, lname, strerror(errno));
	sl_logf(p->s, SHLOG_INFO, "%s: retention deleted segment %s (messages %llu..%llu)", p->name,
		   lname, (unsigned long long)old.base_seq, (unsigned long long)(p->start_seq - 1));
	sl_keys_drop_before(p, p->start_off);
	pthread_mutex_lock(&p->keymu);
	if (p->keys_seq < p->start_seq)
		p->keys_force = 1;
	pthread_mutex_unlock(&p->keymu);
	return dir_synced ? 0 : 1;
}

/* Close every segment (partition free). */
void sl_seg_close_all(shlog_part *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		seg_close(&p->segs[i]);
	free(p->segs);
	p->segs = NULL;
	p->nsegs = 0;
}
