/* trial.c — message stream and the checker shared by the reliability trials (see trial.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "io_i.h"
#include "trial.h"

/* ==== the message stream ================================================ */

/* Message i of the stream (see trial.h); returns its length. */
size_t tr_msg(const struct tr_stream *st, uint64_t i, char *buf, size_t size)
{
	int n;

	if (st->nkeys && i % 5 == 4)
		return (size_t)snprintf(buf, size, "k%llu\t",
					(unsigned long long)((i / 5) % st->nkeys));
	if (st->nkeys)
		n = snprintf(buf, size, "k%llu\tv%llu", (unsigned long long)(i % st->nkeys),
			     (unsigned long long)i);
	else
		n = snprintf(buf, size, "m%llu", (unsigned long long)i);
	for (unsigned k = 0; k < st->pad + i % 7 && (size_t)n + 1 < size; k++)
		buf[n++] = (char)('a' + (i + k) % 26);
	buf[n] = '\0';
	return (size_t)n;
}

/* Precompute the log and offsets of n messages. */
void tr_stream_init(struct tr_stream *st, uint64_t n)
{
	char m[512];
	size_t cap = 4096, len = 0;

	st->n = n;
	st->off = malloc((n + 1) * sizeof(*st->off));
	st->log = malloc(cap);
	assert_non_null(st->off);
	assert_non_null(st->log);
	for (uint64_t i = 0; i < n; i++) {
		size_t l = tr_msg(st, i, m, sizeof(m));
		if (len + l + 1 > cap) {
			while (len + l + 1 > cap)
				cap *= 2;
			st->log = realloc(st->log, cap);
			assert_non_null(st->log);
		}
		st->off[i] = len;
		memcpy(st->log + len, m, l);
		st->log[len + l] = '\n';
		len += l + 1;
	}
	st->off[n] = len;
}

/* Free the stream's tables. */
void tr_stream_free(struct tr_stream *st)
{
	free(st->log);
	free(st->off);
	st->log = NULL;
	st->off = NULL;
}

/* ==== failures by kind ================================================== */

/* The kind of a failure: @why with digit runs replaced by N, plus @tag. */
static void sig_of(const char *tag, const char *why, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%s: ", tag);

	for (const char *c = why; *c && n + 2 < size; c++) {
		if (*c >= '0' && *c <= '9') {
			if (n == 0 || out[n - 1] != 'N')
				out[n++] = 'N';
			continue;
		}
		out[n++] = *c;
	}
	out[n < size ? n : size - 1] = '\0';
}

/* Count a failure under its kind; print the first of each kind. */
void tr_sig_note(struct tr_sigs *s, const char *what, const char *why)
{
	char sig[256], tag[64];
	unsigned i;

	snprintf(tag, sizeof(tag), "%s", what);
	tag[strcspn(tag, ":#0123456789")] = '\0';
	sig_of(tag, why, sig, sizeof(sig));
	s->total++;
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].sig, sig))
			break;
	if (i == s->n && s->n < sizeof(s->v) / sizeof(s->v[0])) {
		snprintf(s->v[s->n].sig, sizeof(s->v[0].sig), "%s", sig);
		s->n++;
	}
	if (i < s->n && s->v[i].count++ == 0)
		print_message("FAIL %s: %s\n", what, why);
	else if (getenv("SHLOG_TRIAL_VERBOSE"))
		print_message("FAIL %s: %s\n", what, why);
}

/* The table of failure kinds. */
void tr_sig_print(const struct tr_sigs *s, const char *trial)
{
	for (unsigned i = 0; i < s->n; i++)
		print_message("FAILKIND %s %5u x %s\n", trial, s->v[i].count, s->v[i].sig);
}

/* ==== options and the engine's log ====================================== */

static char last_log[512];

/* Keep the engine's last error/warning line (to explain a violation). */
static void trial_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= SHLOG_WARNING)
		snprintf(last_log, sizeof(last_log), "%s", msg);
	if (getenv("SHLOG_TEST_VERBOSE"))
		fprintf(stderr, "shlog[%d]: %s\n", level, msg);
}

/* Trial options: quiet, flushes only when asked, one worker. */
void tr_opts(struct shlog_options *o)
{
	th_opts(o);
	o->log = trial_log;
	o->flush_interval_ms = 100000;
	o->flush_threads = 1;
}

/* A workload's options. */
void tr_wl_opts(const struct tr_wl *w, struct shlog_options *o)
{
	tr_opts(o);
	o->stride = w->stride;
	o->segment_bytes = w->segment_bytes;
	o->sync = w->sync;
	if (w->max_segments) {
		o->retention = SHLOG_RETAIN_WRAP;
		o->max_segments = w->max_segments;
	}
}

/* A workload's messages. */
void tr_wl_stream(const struct tr_wl *w, struct tr_stream *st)
{
	memset(st, 0, sizeof(*st));
	st->nkeys = w->nkeys;
	st->pad = w->pad;
	tr_stream_init(st, (uint64_t)w->rounds * w->per_round);
}

/* Fail a trial that exercised less than its floor. */
void tr_floor(const char *trial, const char *what, uint64_t seen, uint64_t floor)
{
	print_message("FLOOR %s %s=%llu (at least %llu)\n", trial, what,
		      (unsigned long long)seen, (unsigned long long)floor);
	if (seen < floor)
		print_error("%s exercised too little: %s=%llu, at least %llu expected\n", trial,
			    what, (unsigned long long)seen, (unsigned long long)floor);
	assert_true(seen >= floor);
}

/* The last error line. */
const char *tr_last_log(void)
{
	return last_log;
}

/* ==== the checker ======================================================= */

/* Syncs during a check prove nothing and cost disk flushes: skip them. */
static int nosync(int fd)
{
	(void)fd;
	return 0;
}

/* Record a violation (first one wins); always returns -1. */
static int __attribute__((format(printf, 2, 3))) viol(struct tr_result *r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (r->err[0])
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	n = strlen(r->err);
	if (last_log[0] && n + 8 < sizeof(r->err))
		snprintf(r->err + n, sizeof(r->err) - n, " [engine: %.400s]", last_log);
	return -1;
}

/* Index of the message holding offset off (binary search of st->off). */
static uint64_t seq_at(const struct tr_stream *st, uint64_t off)
{
	uint64_t lo = 0, hi = st->n;

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (st->off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Next span start after @off (from the index), or off + 1. */
static uint64_t next_span(const struct th_index *ix, uint64_t off)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->e[i].off > off)
			return ix->e[i].off;
	return off + 1;
}

/* Read [start_off, end_off) and compare every byte served with the stream. */
static int check_bytes(shlog_part *p, const struct shlog_part_info *in,
		       const struct tr_stream *st, int flags, struct tr_result *r)
{
	static char buf[1 << 16];
	struct th_index ix = { 0 };
	uint64_t off = in->start_off;
	int have_ix = 0, rc = 0;

	while (off < in->end_off && rc == 0) {
		size_t want = in->end_off - off < sizeof(buf) ? (size_t)(in->end_off - off) : sizeof(buf);
		ssize_t n = shlog_part_read(p, off, buf, want);
		if (n == -EIO && (flags & TR_ALLOW_EIO)) {
			if (!have_ix) {
				free(ix.e);
				memset(&ix, 0, sizeof(ix));
				have_ix = th_index_get(p, &ix) == 0 ? 1 : -1;
			}
			r->eio_spans++;
			/* move on to the next span (or, with no index, the next message) */
			off = have_ix > 0 ? next_span(&ix, off) : st->off[seq_at(st, off) + 1];
			continue;
		}
		if (n < 0)
			rc = viol(r, "read at offset %llu: %zd", (unsigned long long)off, n);
		else if (n == 0)
			rc = viol(r, "read at offset %llu returned 0 before end %llu",
				  (unsigned long long)off, (unsigned long long)in->end_off);
		else if (memcmp(buf, st->log + off, (size_t)n) != 0) {
			size_t k = 0;
			while (buf[k] == st->log[off + k])
				k++;
			rc = viol(r, "wrong byte served at offset %llu (message %llu)",
				  (unsigned long long)(off + k),
				  (unsigned long long)seq_at(st, off + k));
		} else {
			off += (uint64_t)n;
			r->bytes_read += (uint64_t)n;
		}
	}
	/* random access: a few bytes at (or just after) every message's offset */
	for (uint64_t i = in->start_seq; rc == 0 && i < in->end_seq; i++) {
		uint64_t o = st->off[i] + i % 3, len = 1 + i % 16;
		ssize_t n;
		if (o >= in->end_off)
			continue;
		if (o + len > in->end_off)
			len = in->end_off - o;
		n = shlog_part_read(p, o, buf, (size_t)len);
		if (n == -EIO && (flags & TR_ALLOW_EIO))
			continue;
		if (n <= 0)
			rc = viol(r, "read of %llu bytes at offset %llu (message %llu): %zd",
				  (unsigned long long)len, (unsigned long long)o, (unsigned long long)i, n);
		else if (memcmp(buf, st->log + o, (size_t)n) != 0)
			rc = viol(r, "wrong bytes served at offset %llu (message %llu)",
				  (unsigned long long)o, (unsigned long long)i);
	}
	free(ix.e);
	return rc;
}

/* Key number of message i, its key length, and whether it is a tombstone. */
static int msg_key(const struct tr_stream *st, uint64_t i, unsigned *key, int *tomb)
{
	if (!st->nkeys)
		return 0;
	*tomb = i % 5 == 4;
	*key = (unsigned)(*tomb ? (i / 5) % st->nkeys : i % st->nkeys);
	return 1;
}

/* Every key's bookmark must be its latest retained message. */
static int check_keys(shlog_part *p, const struct shlog_part_info *in,
		      const struct tr_stream *st, struct tr_result *r)
{
	int64_t *last;
	uint64_t live = 0;
	int rc = 0;

	if (!st->nkeys)
		return in->nkeys == 0 ? 0 : viol(r, "%llu keys in a keyless log",
						 (unsigned long long)in->nkeys);
	last = malloc(st->nkeys * sizeof(*last));
	assert_non_null(last);
	for (unsigned k = 0; k < st->nkeys; k++)
		last[k] = -1;
	for (uint64_t i = in->start_seq; i < in->end_seq; i++) {
		unsigned k = 0;
		int tomb = 0;
		msg_key(st, i, &k, &tomb);
		last[k] = tomb ? -1 : (int64_t)i;
	}
	for (unsigned k = 0; k < st->nkeys && rc == 0; k++) {
		char key[32];
		struct shlog_keyref ref;
		size_t kl = (size_t)snprintf(key, sizeof(key), "k%u", k);
		int lr = shlog_key_lookup(p, key, kl, &ref);
		if (last[k] < 0) {
			if (lr != -ENOENT)
				rc = viol(r, "key %s should be absent: lookup %d (seq %llu)", key, lr,
					  (unsigned long long)ref.seq);
			continue;
		}
		live++;
		if (lr != 0)
			rc = viol(r, "key %s: lookup %d, want message %lld", key, lr, (long long)last[k]);
		else if (ref.seq != (uint64_t)last[k] || ref.off != st->off[last[k]] ||
			 ref.len + 1 != st->off[last[k] + 1] - st->off[last[k]] || ref.klen != kl)
			rc = viol(r, "key %s: bookmark seq %llu off %llu len %u, want seq %lld off %llu",
				  key, (unsigned long long)ref.seq, (unsigned long long)ref.off, ref.len,
				  (long long)last[k], (unsigned long long)st->off[last[k]]);
	}
	if (rc == 0 && live != in->nkeys)
		rc = viol(r, "%llu live keys, want %llu", (unsigned long long)in->nkeys,
			  (unsigned long long)live);
	free(last);
	return rc;
}

/* The partition's positions must fit the stream. */
static int check_info(const struct shlog_part_info *in, const struct tr_stream *st,
		      struct tr_result *r)
{
	if (in->end_seq > st->n)
		return viol(r, "end_seq %llu beyond the %llu messages written",
			    (unsigned long long)in->end_seq, (unsigned long long)st->n);
	if (in->start_seq > in->end_seq)
		return viol(r, "start_seq %llu > end_seq %llu", (unsigned long long)in->start_seq,
			    (unsigned long long)in->end_seq);
	if (in->start_off != st->off[in->start_seq] || in->end_off != st->off[in->end_seq])
		return viol(r, "offsets %llu..%llu do not match messages %llu..%llu (want %llu..%llu)",
			    (unsigned long long)in->start_off, (unsigned long long)in->end_off,
			    (unsigned long long)in->start_seq, (unsigned long long)in->end_seq,
			    (unsigned long long)st->off[in->start_seq],
			    (unsigned long long)st->off[in->end_seq]);
	if (in->committed_seq != in->end_seq || in->buffered_msgs)
		return viol(r, "after open: committed %llu, end %llu",
			    (unsigned long long)in->committed_seq, (unsigned long long)in->end_seq);
	if (in->error)
		return viol(r, "after open: partition error %d", in->error);
	return 0;
}

/* Append one line, close, reopen: the store must carry on. */
static int check_reuse(const char *dir, const struct shlog_options *o, shlog_store *s,
		       shlog_part *p, uint64_t end, struct tr_result *r)
{
	struct shlog_part_info in;
	int rc;

	rc = shlog_part_append(p, "after", 5, 0, NULL);
	if (rc < 0) {
		th_close(s, p);
		return viol(r, "append after recovery: %d", rc);
	}
	rc = th_close(s, p);
	if (rc < 0)
		return viol(r, "close after recovery: %d", rc);
	rc = th_reopen_part(dir, o, TR_TOPIC, 0, &s, &p);
	if (rc < 0) {
		th_close(s, p);
		return viol(r, "second open after recovery: %d", rc);
	}
	shlog_part_info(p, &in);
	if (in.end_seq != end + 1 || in.recovered_bytes_dropped)
		rc = viol(r, "second open: end_seq %llu (want %llu), %llu bytes dropped",
			  (unsigned long long)in.end_seq, (unsigned long long)end + 1,
			  (unsigned long long)in.recovered_bytes_dropped);
	th_close(s, p);
	return rc;
}

/* A boot id no real boot has: the checked state comes after a simulated restart. */
static int other_boot(unsigned char out[16])
{
	memset(out, 0xb5, 16);
	return 0;
}

/* Open a directory with the real engine and check what it serves. */
int tr_check(const char *dir, const struct shlog_options *o, const struct tr_stream *st,
	     int flags, struct tr_result *r)
{
	struct shlog_part_info in;
	shlog_store *s = NULL;
	shlog_part *p = NULL;
	uint32_t np;
	int rc;

	memset(r, 0, sizeof(*r));
	last_log[0] = '\0';
	sl_io.fsync = nosync;
	sl_io.fdatasync = nosync;
	sl_io.boot_id = other_boot;   /* crash states follow a power cut: the OS restarted */
	r->open_rc = shlog_store_open(dir, o, &s);
	if (r->open_rc < 0) {
		rc = 0;
		goto out;
	}
	if (shlog_topic_nparts(s, TR_TOPIC, &np) < 0) {
		rc = shlog_store_close(s) < 0 ? viol(r, "close failed") : 0;
		goto out;
	}
	r->topic = 1;
	rc = np != 1 ? viol(r, "%u partitions", np) : shlog_part_get(s, TR_TOPIC, 0, &p);
	if (rc == 0)
		shlog_part_info(p, &in);
	if (rc == 0) {
		r->start_seq = in.start_seq;
		r->end_seq = in.end_seq;
		rc = check_info(&in, st, r);
	}
	if (rc == 0)
		rc = check_bytes(p, &in, st, flags, r);
	if (rc == 0)
		rc = check_keys(p, &in, st, r);
	if (rc == 0 && (flags & TR_REUSE)) {
		rc = check_reuse(dir, o, s, p, in.end_seq, r);
	} else if (th_close(s, p) < 0 && rc == 0) {
		rc = viol(r, "close failed");
	}
out:
	sl_io.fsync = sl_io_default.fsync;
	sl_io.fdatasync = sl_io_default.fdatasync;
	sl_io.boot_id = sl_io_default.boot_id;
	return rc;
}
