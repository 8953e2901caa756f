/*
 * seg.c — a partition's segments, the reading side: the in-memory table,
 * finding the segment and index entry for an offset or sequence number,
 * reading and checking spans, and listing a partition directory's segment
 * files.  Segments are created, written and deleted by writer.c; the file
 * formats are in format.c and docs/FORMAT.md.
 *
 * The table (p->segs) is changed only by the flush worker holding
 * p->seglock for writing; readers hold it for reading.  Index entries of
 * a segment are read from its .idx file the first time they are needed
 * (p->entmu serialises that), so opening a store reads no index.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_i.h"
#include "crc_i.h"
#include "engine_i.h"
#include "io_i.h"

/* Check entry i of a segment being loaded against the validator; the rule broken in *why. */
static int seg_ent_check(const struct shlog_seg *g, struct shlog_index_entry *ents, size_t i,
			 const unsigned char *raw, const char **why)
{
	struct shlog_index_entry *e = &ents[i];

	if (sl_entry_decode(raw, e, why) < 0)
		return -EUCLEAN;
	if (i == 0 ? sl_check_entry_first(e, g->base_seq, why) < 0
		   : sl_check_entry_next(&ents[i - 1], e, why) < 0)
		return -EUCLEAN;
	return sl_check_entry_bounds(e, g->base_off, g->end_off - g->base_off, why);
}

/* Read a segment's index entries into memory (once); seglock held. */
int sl_seg_load_ents(shlog_part *p, struct shlog_seg *g)
{
	unsigned char *raw = NULL;
	struct shlog_index_entry *ents = NULL;
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

/*
 * The last of @n records (@size bytes apart from @v) whose u64 field at
 * byte @field is <= @x, by binary search (the fields ascend; 0 if none
 * is): which segment or index entry holds an offset or a message.
 */
static size_t last_at_or_below(const void *v, size_t n, size_t size, size_t field, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;
		memcpy(&k, (const char *)v + mid * size + field, sizeof(k));
		if (k <= x)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The segment holding log offset @off (>= start_off); seglock held. */
struct shlog_seg *sl_seg_by_off(shlog_part *p, uint64_t off)
{
	return &p->segs[last_at_or_below(p->segs, p->nsegs, sizeof(*p->segs),
					 offsetof(struct shlog_seg, base_off), off)];
}

/* The segment holding message @seq (>= start_seq); seglock held. */
struct shlog_seg *sl_seg_by_seq(shlog_part *p, uint64_t seq)
{
	return &p->segs[last_at_or_below(p->segs, p->nsegs, sizeof(*p->segs),
					 offsetof(struct shlog_seg, base_seq), seq)];
}

/* Index of the entry whose span holds @off; entries loaded. */
size_t sl_seg_ent_by_off(const struct shlog_seg *g, uint64_t off)
{
	return last_at_or_below(g->ents, g->nents, sizeof(*g->ents),
				offsetof(struct shlog_index_entry, off), off);
}

/* Index of the entry whose span holds message @seq; entries loaded. */
size_t sl_seg_ent_by_seq(const struct shlog_seg *g, uint64_t seq)
{
	return last_at_or_below(g->ents, g->nents, sizeof(*g->ents),
				offsetof(struct shlog_index_entry, seq), seq);
}

/* Read a whole span into buf (en->len bytes) and check it (sl_check_span); seglock held. */
int sl_seg_read_span(shlog_part *p, struct shlog_seg *g, const struct shlog_index_entry *en, char *buf)
{
	int rc = sl_res_seg_open(p, g);
	const char *why = NULL;

	if (rc == 0)
		rc = sl_io_pread_full(g->log_fd, buf, en->len, (off_t)(en->off - g->base_off));

	if (rc == 0 && sl_check_span(en, buf, &why) < 0) {
		char name[32];
		sl_name_segment(name, sizeof(name), g->base_seq, SL_SEG_LOG);
		sl_logf(p->s, SHLOG_ERR,
			   "%s: %s: %s in bytes %llu..%llu (messages %llu..%llu): corrupt data, not served",
			   p->name, name, why, (unsigned long long)(en->off - g->base_off),
			   (unsigned long long)(en->off - g->base_off + en->len - 1),
			   (unsigned long long)en->seq,
			   (unsigned long long)(en->seq + en->count - 1));
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
static ssize_t span_copy(shlog_part *p, struct shlog_seg *g, const struct shlog_index_entry *en, uint64_t off,
			 uint64_t limit, char *buf, size_t len)
{
	uint64_t end = en->off + en->len;
	char *span = span_buf_get(en->len);
	size_t n;
	int rc;

	if (off < en->off || off >= end) {
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
	memcpy(buf, span + (off - en->off), n);
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
		sl_io.posix_fadvise(g->log_fd, (off_t)(end - g->base_off), SHLOG_READAHEAD_BYTES, POSIX_FADV_WILLNEED);
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

/* Offset of message @seq (committed, >= start_seq) from its span; pinned, seglock held. */
static int seek_in_span(shlog_part *p, uint64_t seq, uint64_t *off)
{
	struct shlog_seg *g = sl_seg_by_seq(p, seq);
	const struct shlog_index_entry *e;
	size_t pos = 0;
	char *span;
	int rc = sl_seg_load_ents(p, g);

	if (rc < 0)
		return rc;
	e = &g->ents[sl_seg_ent_by_seq(g, seq)];
	span = malloc(e->len);
	rc = span ? sl_seg_read_span(p, g, e, span) : -ENOMEM;
	for (uint64_t k = e->seq; rc == 0 && k < seq; k++) {
		char *nl = memchr(span + pos, '\n', e->len - pos);
		if (!nl)
			rc = -EIO; /* fewer lines than the entry counts */
		else
			pos = (size_t)(nl - span) + 1;
	}
	if (rc == 0)
		*off = e->off + pos;
	free(span);
	return rc;
}

/* Offset of committed message @seq; -ENODATA below the start. */
int sl_seg_seek_seq(shlog_part *p, uint64_t seq, uint64_t *off)
{
	int rc = sl_res_pin(p);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	rc = seq < p->start_seq ? -ENODATA : seek_in_span(p, seq, off);
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	return rc;
}

/* ================================================================ */
/* The segment files of a partition directory                        */
/* ================================================================ */

/* Compare two sequence numbers for qsort. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Base sequence numbers of one kind of segment file, being collected. */
struct seqlist {
	uint64_t *v;
	size_t n, cap;
};

/* The .log and .idx files of a partition directory (sl_seg_list). */
struct seqlists {
	struct seqlist log, idx;
};

/* Add @seq to @l: 0 or -ENOMEM. */
static int seq_add(struct seqlist *l, uint64_t seq)
{
	uint64_t *nv = sl_array_room(l->v, &l->cap, l->n, sizeof(*l->v));

	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n++] = seq;
	return 0;
}

/* Collect one segment file's base (sl_io_dir_foreach callback). */
static int seq_collect(const char *name, unsigned char d_type, void *arg)
{
	struct seqlists *l = arg;
	uint64_t seq;
	int f = sl_name_parse_segment(name, &seq);

	(void)d_type;
	return f == SL_SEG_LOG ? seq_add(&l->log, seq) : f == SL_SEG_IDX ? seq_add(&l->idx, seq) : 0;
}

/* How many of the sorted @idx lie below every .log (the left-overs of an interrupted retention). */
static size_t orphans_below(const struct seqlists *l)
{
	size_t k = 0;

	while (l->log.n > 0 && k < l->idx.n && l->idx.v[k] < l->log.v[0])
		k++;
	return k;
}

/*
 * The sorted base sequence numbers of the .log files in partition dir
 * @dfd; with @orphans, those of the .idx files below the first .log too
 * (retention deletes the .log first: a crash between leaves such an .idx).
 */
int sl_seg_list(int dfd, uint64_t **out, size_t *n, uint64_t **orphans, size_t *norphans)
{
	struct seqlists l = { 0 };
	int rc = sl_io_dir_foreach(dfd, seq_collect, &l);

	*n = 0;
	if (orphans)
		*norphans = 0;
	if (rc < 0) {
		free(l.log.v);
		free(l.idx.v);
		return rc;
	}
	if (l.log.n > 1)
		qsort(l.log.v, l.log.n, sizeof(*l.log.v), cmp_u64);
	if (l.idx.n > 1)
		qsort(l.idx.v, l.idx.n, sizeof(*l.idx.v), cmp_u64);
	*out = l.log.v;
	*n = l.log.n;
	if (orphans) {
		*orphans = l.idx.v;
		*norphans = orphans_below(&l);
	} else {
		free(l.idx.v);
	}
	return 0;
}

/* ================================================================ */
/* Closing                                                           */
/* ================================================================ */

/* Close one segment's files and free its entries. */
void sl_seg_close(struct shlog_seg *g)
{
	if (g->log_fd >= 0)
		sl_io.close(g->log_fd);
	if (g->idx_fd >= 0)
		sl_io.close(g->idx_fd);
	free(g->ents);
	g->ents = NULL;
	g->log_fd = g->idx_fd = -1;
}

/* Close every segment (partition free). */
void sl_seg_close_all(shlog_part *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		sl_seg_close(&p->segs[i]);
	free(p->segs);
	p->segs = NULL;
	p->nsegs = 0;
}
