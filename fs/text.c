/*
 * text.c — buffers and generated text for shlogfs.  The grammars the
 * daemon shares with shlogctl (times, sizes, numbers, the key of a
 * message) are the library's (shlog.h, "text").
 *
 * The status files are "name value" lines (awk-friendly, like
 * /proc/vmstat); the index has one line per sparse-index entry:
 *
 *   <seq> <off> <time RFC 3339> <len> <count> <crc32c, 8 hex digits>
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* ==== buffers ========================================================= */

/* The capacity @p b needs for @p len bytes (doubling from 256). */
size_t shlogfs_buf_cap_for(const struct shlogfs_buf *b, size_t len)
{
	size_t cap = b->cap ? b->cap : 256;

	if (len == 0 && b->cap == 0)
		return 0;
	while (cap < len)
		cap *= 2;
	return cap;
}

/* Grow @p b so it can hold @p len bytes. */
int shlogfs_buf_reserve(struct shlogfs_buf *b, size_t len)
{
	if (len <= b->cap)
		return 0;
	size_t cap = shlogfs_buf_cap_for(b, len);
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Append bytes to @p b. */
int shlogfs_buf_add(struct shlogfs_buf *b, const void *p, size_t len)
{
	int rc = shlogfs_buf_reserve(b, b->len + len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

/* Add one line handed over by a backend (a shlogfs_line_fn) and its '\n'. */
void shlogfs_buf_line(const char *line, void *arg)
{
	struct shlogfs_buf_lines *l = arg;

	if (l->rc == 0)
		l->rc = shlogfs_buf_printf(l->b, "%s\n", line);
}

/* Append printf-formatted text to @p b. */
int shlogfs_buf_printf(struct shlogfs_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof small)
		return shlogfs_buf_add(b, small, (size_t)n);
	int rc = shlogfs_buf_reserve(b, b->len + (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Release @p b's memory and empty it. */
void shlogfs_buf_free(struct shlogfs_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ==== keys ============================================================ */

/* FNV-1a, 32 bits: routes keyed lines of <topic>/log to partitions. */
uint32_t shlogfs_fnv1a(const void *p, size_t len)
{
	const unsigned char *c = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= c[i];
		h *= 16777619u;
	}
	return h;
}

/* Room for one more element of @p elem bytes in array @p v of @p n
 * (capacity *@p cap, doubled from 16): the array, or NULL (unchanged). */
void *shlogfs_array_room(void *v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *nv;

	if (n < *cap && v)
		return v;
	ncap = *cap ? *cap * 2 : 16;
	if (elem == 0 || ncap > SIZE_MAX / 2 / elem)
		return NULL;
	if ((nv = realloc(v, ncap * elem)))
		*cap = ncap;
	return nv;
}

/* CLOCK_MONOTONIC in ns. */
int64_t shlogfs_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The CLOCK_REALTIME time @p ms from now (a pthread_cond_timedwait deadline). */
struct timespec shlogfs_deadline_ms(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* ==== status files ==================================================== */

/* anchor: what the last anchor promises. */
static int shlogfs_text_anchor_of(const struct shlog_part_info *in,
				  struct shlogfs_buf *b)
{
	char t[SHLOG_TIME_TEXT_MAX];

	shlog_time_format(in->last_flush_ns, t, sizeof t);
	return shlogfs_buf_printf(b,
		"generation %" PRIu64 "\n"
		"committed_seq %" PRIu64 "\n"
		"committed_off %" PRIu64 "\n"
		"durable_seq %" PRIu64 "\n"
		"start_seq %" PRIu64 "\n"
		"start_off %" PRIu64 "\n"
		"bookmarks %" PRIu64 "\n"
		"last_flush %s\n",
		in->anchor_gen, in->committed_seq, in->committed_off,
		in->durable_seq, in->start_seq, in->start_off, in->nkeys, t);
}

/* stats: every counter of shlog_part_info. */
static int shlogfs_text_stats_of(const struct shlog_part_info *in,
				 struct shlogfs_buf *b)
{
	return shlogfs_buf_printf(b,
		"start_seq %" PRIu64 "\nstart_off %" PRIu64 "\n"
		"end_seq %" PRIu64 "\nend_off %" PRIu64 "\n"
		"committed_seq %" PRIu64 "\ncommitted_off %" PRIu64 "\n"
		"durable_seq %" PRIu64 "\n"
		"buffered_msgs %" PRIu32 "\nbuffered_bytes %" PRIu64 "\n"
		"keys %" PRIu64 "\nsegments %" PRIu32 "\n"
		"flushes_volume %" PRIu64 "\nflushes_latency %" PRIu64 "\n"
		"flushes_forced %" PRIu64 "\nbackpressure_waits %" PRIu64 "\n"
		"appended_msgs %" PRIu64 "\nappended_bytes %" PRIu64 "\n"
		"fsyncs %" PRIu64 "\nwrite_errors %" PRIu64 "\n"
		"recovered_bytes_dropped %" PRIu64 "\n"
		"recovered_msgs_dropped %" PRIu64 "\n"
		"recovery_us %" PRIu64 "\nerror %d\n",
		in->start_seq, in->start_off, in->end_seq, in->end_off,
		in->committed_seq, in->committed_off, in->durable_seq,
		in->buffered_msgs, in->buffered_bytes, in->nkeys,
		in->nsegments, in->flushes_volume, in->flushes_latency,
		in->flushes_forced, in->backpressure_waits,
		in->appended_msgs, in->appended_bytes, in->fsyncs,
		in->write_errors, in->recovered_bytes_dropped,
		in->recovered_msgs_dropped, in->recovery_us, in->error);
}

/* index: one line per entry (an index_foreach callback; @p arg the buffer). */
int shlogfs_text_index_entry(const struct shlog_index_entry *e,
				    void *arg)
{
	char t[SHLOG_TIME_TEXT_MAX];

	shlog_time_format(e->time_ns, t, sizeof t);
	return shlogfs_buf_printf(arg,
		"%" PRIu64 " %" PRIu64 " %s %" PRIu32 " %" PRIu32 " %08" PRIx32 "\n",
		e->seq, e->off, t, e->len, e->count, e->crc) ? 1 : 0;
}

/* Index texts made (shlogfs_index_texts_total in /.metrics). */
static uint64_t shlogfs_texts_made;

/* How many index texts have been begun. */
uint64_t shlogfs_text_made_total(void)
{
	return __atomic_load_n(&shlogfs_texts_made, __ATOMIC_RELAXED);
}

/* Begin the text of <p>/index in @p out (emptied; counted). */
void shlogfs_text_index_begin(struct shlogfs_buf *out)
{
	out->len = 0;
	__atomic_add_fetch(&shlogfs_texts_made, 1, __ATOMIC_RELAXED);
}

/* The text of <p>/anchor from @p in (@p out emptied first). */
int shlogfs_text_anchor(const struct shlog_part_info *in, struct shlogfs_buf *out)
{
	out->len = 0;
	return shlogfs_text_anchor_of(in, out);
}

/* The text of <p>/stats from @p in (@p out emptied first). */
int shlogfs_text_stats(const struct shlog_part_info *in, struct shlogfs_buf *out)
{
	out->len = 0;
	return shlogfs_text_stats_of(in, out);
}
