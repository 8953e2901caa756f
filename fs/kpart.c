/*
 * kpart.c — one Kafka partition as the tree sees it (kpart.h): the byte
 * index the indexer keeps, the key table, reads by byte, message N and
 * time T to a position.
 *
 * A partition's `log` is its messages' values, each followed by '\n'
 * (what `kcat -C` prints); a null value is an empty line.  The indexer
 * (be_kafka.c's thread calls shlogfs_kpart_index_step) reads the
 * partition from the retained point on: messages below the indexed end
 * only feed the key table (after a restart), the others move the end and
 * add an entry every stride offsets.  Reads find the floor entry of a
 * position and read forward with the partition's read reader, keeping
 * the bytes last fetched (the span) so a sequential reader costs one
 * pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "be_kafka_names.h"
#include "kpart.h"
#include "log.h"
#include "text.h"

#define KPART_SYNC_MS   1000        /* the index is synced this often */
#define KPART_WM_MS     1000        /* watermarks looked at this often */
#define KPART_WM_ASK_MS 5000        /* ... asked of the cluster this often without a reader's */
#define KPART_FILL_MIN  (256u << 10) /* a read fetches at least this much */
#define KPART_READ_MS   5000        /* a read waits this long for messages */
#define KPART_SEEK_WAIT_MS 10       /* fetch.wait.max.ms of a read reader (a seek waits for it) */
#define KPART_TAIL_WAIT_MS 100      /* ... of the indexer's (its seeks are rare) */
#define KPART_HOT_MS    1000        /* ... but the short one this long after a sync waited */
#define KPART_IDLE_MS   10000       /* a reader unused this long is closed */

/* ==== the cluster as a source ========================================= */

/* Open a kclient reader (the source's open). */
static int ksrc_open(void *ctx, const char *topic, uint32_t part, int64_t from, int seeks, void **out)
{
	char err[SHLOGFS_KCLIENT_ERRLEN];
	struct shlogfs_kclient_reader *r;
	int rc = shlogfs_kclient_reader_open(ctx, topic, (int32_t)part, from,
					     seeks ? KPART_SEEK_WAIT_MS : KPART_TAIL_WAIT_MS, &r, err,
					     sizeof(err));

	if (rc) {
		shlogfs_log(LOG_ERR, "kafka: a reader of %s [%u]: %s", topic, part, err);
		return rc;
	}
	*out = r;
	return 0;
}

/* Move a kclient reader. */
static int ksrc_seek(void *r, int64_t from)
{
	return shlogfs_kclient_reader_seek(r, from);
}

/* Poll a kclient reader. */
static int ksrc_poll(void *r, int timeout_ms, shlogfs_kclient_msg_fn *fn, void *arg)
{
	return shlogfs_kclient_reader_poll(r, timeout_ms, fn, arg);
}

/* The end a kclient reader saw. */
static int64_t ksrc_end(void *r)
{
	return shlogfs_kclient_reader_end(r);
}

/* Close a kclient reader. */
static void ksrc_close(void *r)
{
	shlogfs_kclient_reader_close(r);
}

/* The watermarks a kclient reader's last fetch brought. */
static int ksrc_cached(void *r, int64_t *lo, int64_t *hi)
{
	return shlogfs_kclient_reader_watermarks(r, lo, hi);
}

/* The cluster's watermarks of a partition. */
static int ksrc_watermarks(void *ctx, const char *topic, uint32_t part, int64_t *lo, int64_t *hi)
{
	return shlogfs_kclient_watermarks(ctx, topic, (int32_t)part, lo, hi, 1000);
}

const struct shlogfs_ksrc_ops shlogfs_ksrc_cluster = {
	.open = ksrc_open, .seek = ksrc_seek, .poll = ksrc_poll, .end = ksrc_end,
	.close = ksrc_close, .watermarks = ksrc_watermarks, .cached = ksrc_cached,
};

/* ==== small helpers ==================================================== */

/* A 64-bit hash of @len bytes (two 32-bit ones side by side). */
static uint64_t kpart_hash64(const void *b, size_t len)
{
	return (uint64_t)shlog_crc32c(b, len) << 32 | shlogfs_fnv1a(b, len);
}

/* The index file's name of @topic [@part] (kpart.h). */
void shlogfs_kpart_file(const char *topic, uint32_t part, char *out, size_t cap)
{
	snprintf(out, cap, KNAME_INDEX_FMT, (unsigned long long)kpart_hash64(topic, strlen(topic)),
		 part);
}

/* What an index is of: hashes of the cluster id, the topic and the partition. */
static void kpart_ident(const struct shlogfs_kenv *env, const char *topic, uint32_t part,
			unsigned char id[16])
{
	char what[512];
	int n = snprintf(what, sizeof(what), "%s/%s/%u", env->cluster, topic, part);
	uint64_t a = kpart_hash64(what, (size_t)n);
	uint64_t b = kpart_hash64(topic, strlen(topic)) ^ ((uint64_t)part * 0x9e3779b97f4a7c15ull);

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

/* ==== readers and the store's bound on them ============================ */

/* Take one of the store's reader slots: 1, or 0 when all are in use. */
static int kslot_take(const struct shlogfs_kenv *env)
{
	int n = atomic_load(env->readers);

	while (n < env->max_readers)
		if (atomic_compare_exchange_weak(env->readers, &n, n + 1))
			return 1;
	return 0;
}

/* Open a reader of @p at @from into *@r (@seeks: the short fetch wait); *@slot: whether it holds a slot. */
static int kreader_open(struct shlogfs_bpart *p, int64_t from, int seeks, void **r, int *slot)
{
	int rc;

	*slot = kslot_take(&p->env);
	if (!*slot && r == &p->ir)
		return -EAGAIN;   /* the indexer waits for a slot; a read goes on without one */
	rc = p->env.src->open(p->env.src_ctx, p->topic, p->part, from, seeks, r);
	if (rc && *slot)
		atomic_fetch_sub(p->env.readers, 1);
	if (rc)
		*r = NULL;
	return rc;
}

/* Close reader *@r (if open), giving back its slot. */
static void kreader_close(struct shlogfs_bpart *p, void **r, int *slot)
{
	if (!*r)
		return;
	p->env.src->close(*r);
	*r = NULL;
	if (*slot)
		atomic_fetch_sub(p->env.readers, 1);
	*slot = 0;
}

/* ==== the key table ==================================================== */

/* Order keys by bytes, then length (shlog_key_foreach's byte order). */
static int kkey_cmp(const struct shlogfs_kkey *a, const struct shlogfs_kkey *b)
{
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->key, b->key, n);

	return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

#define KPART_RB_STATIC static __attribute__((unused))
RB_GENERATE_INTERNAL(shlogfs_kkeys, shlogfs_kkey, link, kkey_cmp, KPART_RB_STATIC)

/* The entry of key @key, or NULL (mu held). */
static struct shlogfs_kkey *kkey_find(struct shlogfs_bpart *p, const void *key, size_t klen)
{
	struct {
		struct shlogfs_kkey k;
		unsigned char b[SHLOG_KEY_MAX];
	} probe;

	if (klen == 0 || klen > SHLOG_KEY_MAX)
		return NULL;
	probe.k.klen = klen;
	memcpy(probe.k.key, key, klen);
	return RB_FIND(shlogfs_kkeys, &p->keys, &probe.k);
}

/* Key @key's latest message is @ref, or (ref NULL) a tombstone: forget it (mu held). */
static void kkey_set(struct shlogfs_bpart *p, const void *key, size_t klen,
		     const struct shlog_keyref *ref)
{
	struct shlogfs_kkey *e = kkey_find(p, key, klen);

	if (!ref) {
		if (e) {
			RB_REMOVE(shlogfs_kkeys, &p->keys, e);
			free(e);
			p->nkeys--;
		}
		return;
	}
	if (e) {
		e->ref = *ref;
		return;
	}
	if (klen == 0 || klen > SHLOG_KEY_MAX || !(e = malloc(sizeof(*e) + klen))) {
		shlogfs_log(LOG_WARNING, "kafka: %s [%u]: a key not kept (out of memory)", p->topic, p->part);
		return;
	}
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->ref = *ref;
	RB_INSERT(shlogfs_kkeys, &p->keys, e);
	p->nkeys++;
}

/*
 * Message @m at byte @pos through the key table (mu held): the line's key
 * (bytes before its first TAB, as the local engine); "key<TAB>" is a
 * tombstone, and so is a Kafka null value (for the Kafka key).
 */
static void kkey_note(struct shlogfs_bpart *p, const struct shlogfs_kclient_msg *m, uint64_t pos)
{
	struct shlog_keyref ref;
	size_t klen;

	if (!m->val) {
		if (m->key && m->klen)
			kkey_set(p, m->key, m->klen, NULL);
		return;
	}
	if ((klen = shlog_msg_key(m->val, m->vlen)) == 0)
		return;
	if (m->vlen == klen + 1) {
		kkey_set(p, m->val, klen, NULL);
		return;
	}
	ref.seq = (uint64_t)m->off;
	ref.off = pos;
	ref.len = m->vlen > UINT32_MAX ? UINT32_MAX : (uint32_t)m->vlen;
	ref.klen = (uint32_t)klen;
	ref.time_ns = m->ts_ms < 0 ? 0 : m->ts_ms * 1000000;
	kkey_set(p, m->val, klen, &ref);
}

/* Forget keys whose message lies below byte @pos (retention passed them; mu held). */
static void kkey_prune(struct shlogfs_bpart *p, uint64_t pos)
{
	struct shlogfs_kkey *e, *next;

	for (e = RB_MIN(shlogfs_kkeys, &p->keys); e; e = next) {
		next = RB_NEXT(shlogfs_kkeys, &p->keys, e);
		if (e->ref.off < pos) {
			RB_REMOVE(shlogfs_kkeys, &p->keys, e);
			free(e);
			p->nkeys--;
		}
	}
}

/* ==== open and close =================================================== */

/* Open @p's index; a damaged or stale one is set aside (renamed) and a new one made. */
static int kpart_index_open(struct shlogfs_bpart *p)
{
	char name[64], aside[64 + sizeof(KNAME_ASIDE_SUFFIX)];
	unsigned char id[16];
	const char *why = NULL;
	int rc;

	shlogfs_kpart_file(p->topic, p->part, name, sizeof(name));
	kpart_ident(&p->env, p->topic, p->part, id);
	rc = shlogfs_kidx_open(p->env.dfd, name, id, p->env.stride, SHLOGFS_KIDX_CREATE, &p->k, &why);
	if (rc != -EUCLEAN && rc != -ESTALE)
		return rc;
	p->aside.err = rc;
	snprintf(p->aside.why, sizeof(p->aside.why), "byte index %s %s; rebuilt from the log start",
		 name, rc == -ESTALE ? "is of another cluster or topic" : why ? why : "is damaged");
	shlogfs_log(LOG_ERR, "kafka: %s [%u]: %s (the old file kept as %s%s)", p->topic, p->part,
		    p->aside.why, name, KNAME_ASIDE_SUFFIX);
	snprintf(aside, sizeof(aside), "%s%s", name, KNAME_ASIDE_SUFFIX);
	if ((rc = shlog_file_rename(p->env.dfd, name, aside)))
		return rc;
	p->rebuilds++;
	return shlogfs_kidx_open(p->env.dfd, name, id, p->env.stride, SHLOGFS_KIDX_CREATE, &p->k, &why);
}

/* Open a partition object (kpart.h). */
int shlogfs_kpart_open(struct shlogfs_bstore *s, const struct shlogfs_kenv *env, const char *topic,
		       uint32_t part, struct shlogfs_bpart **out)
{
	struct shlogfs_bpart *p = calloc(1, sizeof(*p));
	struct shlogfs_kidx_info in;
	pthread_condattr_t ca;
	int rc;

	if (!p || !(p->topic = strdup(topic))) {
		free(p);
		return -ENOMEM;
	}
	p->s = s;
	p->env = *env;
	p->part = part;
	p->refs = 1;
	p->lo = p->hi = -1;
	RB_INIT(&p->keys);
	if ((rc = kpart_index_open(p))) {
		shlogfs_log(LOG_ERR, "kafka: %s [%u]: byte index: %s", topic, part, strerror(-rc));
		free(p->topic);
		free(p);
		return rc;
	}
	shlogfs_kidx_info(p->k, &in);
	p->scan_off = in.kept.off;   /* from the retained point: the keys, then new messages */
	p->scan_pos = in.kept.pos;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->rmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->moved, &ca);
	pthread_condattr_destroy(&ca);
	p->sync_ms = shlogfs_kclient_now_ms();
	atomic_store(&p->used_ms, p->sync_ms);
	*out = p;
	return 0;
}

/* Close a partition object (kpart.h). */
void shlogfs_kpart_close(struct shlogfs_bpart *p)
{
	struct shlogfs_kkey *e;
	int rc;

	kreader_close(p, &p->ir, &p->ir_slot);
	kreader_close(p, &p->rr, &p->rr_slot);
	if ((rc = shlogfs_kidx_close(p->k)))
		shlogfs_log(LOG_ERR, "kafka: %s [%u]: syncing the byte index: %s", p->topic, p->part,
			    strerror(-rc));
	while ((e = RB_MIN(shlogfs_kkeys, &p->keys))) {
		RB_REMOVE(shlogfs_kkeys, &p->keys, e);
		free(e);
	}
	pthread_cond_destroy(&p->moved);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->rmu);
	free(p->span);
	free(p->topic);
	free(p);
}

/* ==== the indexer ====================================================== */

/* One message from the indexer's reader: index it (or, below the end, its key only). */
static int kpart_take(const struct shlogfs_kclient_msg *m, void *arg)
{
	struct shlogfs_bpart *p = arg;
	struct shlogfs_kidx_info in;
	uint64_t off = (uint64_t)m->off, pos, bytes = m->vlen + 1;
	int rc = 0;

	if (m->off < 0 || off < p->scan_off)
		return 0;   /* fetched before a seek */
	pthread_mutex_lock(&p->mu);
	shlogfs_kidx_info(p->k, &in);
	pos = p->scan_pos;
	if (off >= in.end.off) {
		if (pos != in.end.pos) {
			shlogfs_log(LOG_WARNING, "kafka: %s [%u]: the messages below offset %llu take %llu "
				    "bytes now, %llu when indexed (compacted?): positions follow the index",
				    p->topic, p->part, (unsigned long long)in.end.off,
				    (unsigned long long)pos, (unsigned long long)in.end.pos);
			pos = in.end.pos;
		}
		if (shlogfs_kidx_due(p->k, off))
			rc = shlogfs_kidx_append(p->k, off, pos, m->ts_ms);
		if (rc == 0)
			rc = shlogfs_kidx_advance(p->k, off + 1, pos + bytes, m->ts_ms);
		pthread_cond_broadcast(&p->moved);
	}
	if (rc == 0) {
		kkey_note(p, m, pos);
		p->scan_off = off + 1;
		p->scan_pos = pos + bytes;
	}
	pthread_mutex_unlock(&p->mu);
	if (rc)
		shlogfs_log(LOG_ERR, "kafka: %s [%u]: indexing offset %llu: %s", p->topic, p->part,
			    (unsigned long long)off, strerror(-rc));
	return rc;   /* nonzero stops the poll */
}

/* Retention moved the log start to @lo: record it; the scan restarts from the retained point (mu held). */
static void kpart_start_moved(struct shlogfs_bpart *p, int64_t lo)
{
	struct shlogfs_kidx_info in;

	shlogfs_kidx_info(p->k, &in);
	if (lo < 0 || (uint64_t)lo <= in.start_off)
		return;
	shlogfs_kidx_set_start(p->k, (uint64_t)lo);
	if ((uint64_t)lo > in.end.off)   /* deleted before they were indexed: they take no bytes */
		shlogfs_kidx_advance(p->k, (uint64_t)lo, in.end.pos, -1);
	shlogfs_kidx_info(p->k, &in);
	kkey_prune(p, in.kept.pos);
	if (p->scan_off < (uint64_t)lo) {
		p->scan_off = in.kept.off;
		p->scan_pos = in.kept.pos;
		if (p->ir && p->env.src->seek(p->ir, (int64_t)p->scan_off))
			kreader_close(p, &p->ir, &p->ir_slot);
	}
}

/* New watermarks of @p (@rc 0) noted: the start moved by retention, the lag. */
static int kpart_watermarks_note(struct shlogfs_bpart *p, int rc, int64_t *lo, int64_t *hi)
{
	pthread_mutex_lock(&p->mu);
	p->wm_ms = shlogfs_kclient_now_ms();
	if (rc == 0) {
		p->lo = *lo;
		p->hi = *hi;
		kpart_start_moved(p, *lo);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Ask the watermarks now (kpart.h). */
int shlogfs_kpart_watermarks(struct shlogfs_bpart *p, int64_t *lo, int64_t *hi)
{
	return kpart_watermarks_note(p, p->env.src->watermarks(p->env.src_ctx, p->topic, p->part, lo, hi),
				     lo, hi);
}

/* After a poll that reached the partition's end: offsets to it never handed over are gaps. */
static void kpart_gap_to_end(struct shlogfs_bpart *p)
{
	int64_t eo = p->env.src->end(p->ir);
	struct shlogfs_kidx_info in;

	if (eo < 0)
		return;
	pthread_mutex_lock(&p->mu);
	shlogfs_kidx_info(p->k, &in);
	if ((uint64_t)eo > in.end.off && p->scan_off >= in.end.off) {
		shlogfs_kidx_advance(p->k, (uint64_t)eo, in.end.pos, -1);
		p->scan_off = (uint64_t)eo;
		pthread_cond_broadcast(&p->moved);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Whether the indexer has read all the cluster held at the last look (indexer thread: scan_off is its own). */
static int kpart_caught_up(struct shlogfs_bpart *p)
{
	struct shlogfs_kidx_info in;
	int done;

	pthread_mutex_lock(&p->mu);
	shlogfs_kidx_info(p->k, &in);
	done = p->hi >= 0 && (uint64_t)p->hi <= in.end.off && p->scan_off >= in.end.off;   /* keys read too */
	pthread_mutex_unlock(&p->mu);
	return done;
}

/* The periodic work of the indexer: watermarks, the index's sync, idle readers closed. */
static void kpart_periodic(struct shlogfs_bpart *p)
{
	int64_t now = shlogfs_kclient_now_ms(), lo, hi;
	int rc;

	/* the indexer's reader knows them from its fetches; a request may wait long */
	if (now - p->wm_ms >= KPART_WM_MS && p->ir && p->env.src->cached &&
	    p->env.src->cached(p->ir, &lo, &hi) == 0)
		kpart_watermarks_note(p, 0, &lo, &hi);
	else if (now - p->wm_ms >= (p->ir ? KPART_WM_MS : KPART_WM_ASK_MS))
		shlogfs_kpart_watermarks(p, &lo, &hi);
	if (p->rr && now - p->rr_used_ms >= KPART_IDLE_MS && pthread_mutex_trylock(&p->rmu) == 0) {
		if (now - p->rr_used_ms >= KPART_IDLE_MS)
			kreader_close(p, &p->rr, &p->rr_slot);
		pthread_mutex_unlock(&p->rmu);
	}
	if (p->ir && now - atomic_load(&p->used_ms) >= KPART_IDLE_MS && kpart_caught_up(p))
		kreader_close(p, &p->ir, &p->ir_slot);
	if (now - p->sync_ms < KPART_SYNC_MS)
		return;
	pthread_mutex_lock(&p->mu);
	p->sync_ms = now;
	rc = shlogfs_kidx_sync(p->k);
	pthread_mutex_unlock(&p->mu);
	if (rc)
		shlogfs_log(LOG_ERR, "kafka: %s [%u]: syncing the byte index: %s", p->topic, p->part,
			    strerror(-rc));
}

/* Give back the indexer's reader of @p if it has read all the cluster held at the last look (kpart.h). */
int shlogfs_kpart_index_release(struct shlogfs_bpart *p)
{
	if (!p->ir || !kpart_caught_up(p))
		return 0;
	kreader_close(p, &p->ir, &p->ir_slot);
	return 1;
}

/* One turn of the indexer (kpart.h); a partition idle and caught up holds no reader. */
int shlogfs_kpart_index_step(struct shlogfs_bpart *p, int budget_ms)
{
	int64_t lo, hi;
	int rc, hot;

	kpart_periodic(p);
	/* While syncs wait, a fetch at the end must not wait KPART_TAIL_WAIT_MS at the broker
	 * (the mock answers a waiting fetch only then): a reader with the short wait instead,
	 * until KPART_HOT_MS without one; an idle partition keeps the long wait. */
	hot = shlogfs_kclient_now_ms() - atomic_load(&p->sync_ms_want) < KPART_HOT_MS;
	if (p->ir && p->ir_short != hot)
		kreader_close(p, &p->ir, &p->ir_slot);
	/* without a reader, it gets one when the watermarks (every second, or an fsync's) show more */
	if (p->gone || (!p->ir && kpart_caught_up(p)))
		return 0;
	if (!p->ir && (rc = kreader_open(p, (int64_t)p->scan_off, hot, &p->ir, &p->ir_slot)))
		return rc == -EAGAIN ? SHLOGFS_KPART_WANTS_READER : rc;   /* every slot taken */
	p->ir_short = hot;
	rc = p->env.src->poll(p->ir, budget_ms, kpart_take, p);
	if (rc == -ERANGE) {   /* below the log start: retention */
		if (shlogfs_kpart_watermarks(p, &lo, &hi) == 0 && p->ir &&
		    p->env.src->seek(p->ir, (int64_t)p->scan_off))
			kreader_close(p, &p->ir, &p->ir_slot);
		return 0;
	}
	if (rc >= 0)
		kpart_gap_to_end(p);
	return rc > 0 ? 1 : rc;
}

/* Wait until the indexed end reaches @off (kpart.h). */
int shlogfs_kpart_wait_indexed(struct shlogfs_bpart *p, uint64_t off, int timeout_ms)
{
	struct shlogfs_kidx_info in;
	struct timespec until = shlogfs_kclient_deadline(timeout_ms);
	int rc = 0;

	atomic_store(&p->sync_ms_want, shlogfs_kclient_now_ms());   /* the indexer's short wait */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		shlogfs_kidx_info(p->k, &in);
		if (in.end.off >= off || rc || p->gone)
			break;
		rc = pthread_cond_timedwait(&p->moved, &p->mu, &until);
	}
	pthread_mutex_unlock(&p->mu);
	return in.end.off >= off ? 0 : p->gone ? -ENOENT : -ETIMEDOUT;
}

/* ==== what the partition holds ========================================= */

/* State and counters (kpart.h). */
int shlogfs_kpart_info(struct shlogfs_bpart *p, struct shlog_part_info *o)
{
	struct shlogfs_kidx_info in;

	if (p->gone)
		return -ENOENT;
	memset(o, 0, sizeof(*o));
	pthread_mutex_lock(&p->mu);
	shlogfs_kidx_info(p->k, &in);
	o->start_seq = in.kept.off;
	o->start_off = in.kept.pos;
	o->end_seq = o->committed_seq = o->durable_seq = in.end.off;
	o->end_off = o->committed_off = in.end.pos;
	o->anchor_gen = in.gen;
	o->last_flush_ns = in.end.ts_ms * 1000000;
	/* "buffered": in the cluster, not yet indexed (the indexer's lag) */
	o->buffered_msgs = p->hi > 0 && (uint64_t)p->hi > in.end.off ?
			   (uint32_t)((uint64_t)p->hi - in.end.off) : 0;
	o->nkeys = p->nkeys;
	o->nsegments = 1;
	o->appended_msgs = p->appended_msgs;
	o->appended_bytes = p->appended_bytes;
	o->fsyncs = p->fsyncs;
	o->write_errors = p->write_errors;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* The partition's Kafka state as lines of its stats file (backend.h part_lines). */
void shlogfs_kpart_lines(struct shlogfs_bpart *p, shlogfs_line_fn *fn, void *arg)
{
	struct shlogfs_kidx_info in;
	char line[128];
	int64_t lo, hi;

	pthread_mutex_lock(&p->mu);
	shlogfs_kidx_info(p->k, &in);
	lo = p->lo;
	hi = p->hi;
	pthread_mutex_unlock(&p->mu);
	snprintf(line, sizeof line, "kafka_log_start_offset %lld", (long long)lo);
	fn(line, arg);
	snprintf(line, sizeof line, "kafka_log_end_offset %lld", (long long)hi);
	fn(line, arg);
	snprintf(line, sizeof line, "kafka_indexed_offset %llu", (unsigned long long)in.end.off);
	fn(line, arg);
	snprintf(line, sizeof line, "kafka_indexed_bytes %llu", (unsigned long long)in.end.pos);
	fn(line, arg);
	snprintf(line, sizeof line, "kafka_indexer_lag %llu", hi > 0 && (uint64_t)hi > in.end.off ?
		 (unsigned long long)((uint64_t)hi - in.end.off) : 0ULL);
	fn(line, arg);
}

/* The index's state (mu taken): end and retained point. */
static void kpart_bounds(struct shlogfs_bpart *p, struct shlogfs_kidx_info *in)
{
	pthread_mutex_lock(&p->mu);
	shlogfs_kidx_info(p->k, in);
	pthread_mutex_unlock(&p->mu);
}

/* ==== reading forward ================================================== */

/* What a walk of the read reader is after. */
struct kwalk {
	struct shlogfs_bpart *p;
	uint64_t want_pos;       /* fill: bytes from here are kept in the span */
	uint64_t until_pos;      /* fill: stop once the span reaches here */
	uint64_t until_off;      /* seek: stop at the first message at or past this offset */
	int64_t until_ms;        /* seek by time: ... at or past this time (-1: not by time) */
	uint64_t need_off;       /* the indexed end: the cluster holds every offset below it */
	int fill;                /* keep bytes (else only find) */
	int done;
	uint64_t found_off, found_pos;
};

/* Append @n bytes to the span. */
static int kspan_add(struct shlogfs_bpart *p, const void *b, size_t n)
{
	if (p->span_len + n > p->span_cap) {
		size_t cap = p->span_cap ? p->span_cap : KPART_FILL_MIN;
		char *s;

		while (cap < p->span_len + n)
			cap *= 2;
		if (!(s = realloc(p->span, cap)))
			return -ENOMEM;
		p->span = s;
		p->span_cap = cap;
	}
	memcpy(p->span + p->span_len, b, n);
	p->span_len += n;
	return 0;
}

/* One message from the read reader: into the span, or the message sought. */
static int kwalk_take(const struct shlogfs_kclient_msg *m, void *arg)
{
	struct kwalk *w = arg;
	struct shlogfs_bpart *p = w->p;
	uint64_t pos = p->r_pos, len = m->vlen + 1;

	if (m->off < 0 || (uint64_t)m->off < p->r_off)
		return 0;   /* fetched before a seek */
	if (!w->fill && ((uint64_t)m->off >= w->until_off ||
			 (w->until_ms >= 0 && m->ts_ms >= w->until_ms))) {
		w->found_off = (uint64_t)m->off;
		w->found_pos = pos;
		w->done = 1;
		return 1;   /* not consumed: the reader is past it, r_* stay before it */
	}
	if (w->fill && pos + len > w->want_pos) {
		uint64_t skip = pos < w->want_pos ? w->want_pos - pos : 0;

		if (p->span_len == 0)
			p->span_pos = pos + skip;
		if ((skip < m->vlen && kspan_add(p, (const char *)m->val + skip, m->vlen - skip)) ||
		    kspan_add(p, "\n", 1))
			return -ENOMEM;
	}
	p->r_off = (uint64_t)m->off + 1;
	p->r_pos = pos + len;
	if (w->fill && p->span_pos + p->span_len >= w->until_pos) {
		w->done = 1;
		return 1;
	}
	return 0;
}

/* Put the read reader at entry @e, unless it is already between @e and @pos/@off. */
static int kread_place(struct shlogfs_bpart *p, const struct shlogfs_kidx_entry *e, uint64_t pos,
		       uint64_t off)
{
	int rc;

	if (p->rr && p->r_pos >= e->pos && p->r_pos <= pos && p->r_off >= e->off && p->r_off <= off)
		return 0;
	/* a seek librdkafka does not finish in time: a new reader there instead */
	if (p->rr && p->env.src->seek(p->rr, (int64_t)e->off))
		kreader_close(p, &p->rr, &p->rr_slot);
	if (!p->rr && (rc = kreader_open(p, (int64_t)e->off, 1, &p->rr, &p->rr_slot)))
		return rc;
	p->r_off = e->off;
	p->r_pos = e->pos;
	return 0;
}

/* Run walk @w on the read reader until it is done, the partition ends or the time is up (rmu held). */
static int kread_walk(struct shlogfs_bpart *p, struct kwalk *w)
{
	int64_t until = shlogfs_kclient_now_ms() + KPART_READ_MS;
	int rc;

	while (!w->done) {
		rc = p->env.src->poll(p->rr, 100, kwalk_take, w);
		if (rc < 0 && rc != -ENOMEM && rc != -ERANGE)
			rc = -EIO;
		if (rc < 0) {
			kreader_close(p, &p->rr, &p->rr_slot);
			return rc == -ERANGE ? -ENODATA : rc;
		}
		if (w->done)
			break;
		/* An end of partition counts once it is at the indexed end: before
		 * it, the reader saw an older end and the messages are on the way. */
		if (rc == 0 && p->env.src->end(p->rr) >= 0 && (uint64_t)p->env.src->end(p->rr) >= w->need_off)
			return 0;   /* the partition ends before: the caller has what there is */
		if (shlogfs_kclient_now_ms() > until) {
			shlogfs_log(LOG_WARNING, "kafka: %s [%u]: no messages from offset %llu within %d ms",
				    p->topic, p->part, (unsigned long long)p->r_off, KPART_READ_MS);
			return -EIO;
		}
	}
	return 0;
}

/* The end of a read-path call (rmu held, released): a reader without a slot closes. */
static void kread_done(struct shlogfs_bpart *p)
{
	p->rr_used_ms = shlogfs_kclient_now_ms();
	atomic_store(&p->used_ms, p->rr_used_ms);
	if (p->rr && !p->rr_slot)
		kreader_close(p, &p->rr, &p->rr_slot);
	pthread_mutex_unlock(&p->rmu);
}

/* Copy what the span holds of [@off, @end) to @buf: the byte count (0 if it holds none). */
static size_t kspan_copy(struct shlogfs_bpart *p, uint64_t off, uint64_t end, void *buf, size_t len)
{
	uint64_t se = p->span_pos + p->span_len;
	size_t n;

	if (off < p->span_pos || off >= se)
		return 0;
	n = (size_t)((se < end ? se : end) - off);
	if (n > len)
		n = len;
	memcpy(buf, p->span + (off - p->span_pos), n);
	return n;
}

/* Read bytes at a position (kpart.h): below the retained point -ENODATA, 0 at the end. */
ssize_t shlogfs_kpart_read(struct shlogfs_bpart *p, uint64_t off, void *buf, size_t len)
{
	struct shlogfs_kidx_info in;
	struct shlogfs_kidx_entry e;
	struct kwalk w = { .p = p, .fill = 1, .until_ms = -1 };
	size_t n;
	int rc;

	if (p->gone)
		return -ENOENT;
	kpart_bounds(p, &in);
	if (off >= in.end.pos || len == 0)
		return 0;
	if (off < in.kept.pos)
		return -ENODATA;
	pthread_mutex_lock(&p->rmu);
	if ((n = kspan_copy(p, off, in.end.pos, buf, len))) {
		kread_done(p);
		return (ssize_t)n;
	}
	pthread_mutex_lock(&p->mu);
	rc = shlogfs_kidx_find_pos(p->k, off, &e);
	pthread_mutex_unlock(&p->mu);
	if (rc == 0)
		rc = kread_place(p, &e, off, UINT64_MAX);
	if (rc == 0) {
		p->span_len = 0;
		p->span_pos = off;   /* an empty span is not the last one's */
		w.need_off = in.end.off;
		w.want_pos = off;
		w.until_pos = off + (len > KPART_FILL_MIN ? len : KPART_FILL_MIN);
		if (w.until_pos > in.end.pos)
			w.until_pos = in.end.pos;
		rc = kread_walk(p, &w);
	}
	n = rc ? 0 : kspan_copy(p, off, in.end.pos, buf, len);
	kread_done(p);
	if (rc == -ERANGE)
		return -ENODATA;
	if (rc == -ENXIO)
		return 0;
	return rc ? rc : (ssize_t)n;
}

/* Find the first message at or past offset @off (or time @ms) forward of entry @e (rmu held). */
static int kread_find(struct shlogfs_bpart *p, const struct shlogfs_kidx_entry *e, uint64_t off,
		      int64_t ms, const struct shlogfs_kidx_info *in, uint64_t *seq, uint64_t *pos)
{
	struct kwalk w = { .p = p, .until_off = off, .until_ms = ms, .need_off = in->end.off };
	int rc;

	if (e->off >= off && ms < 0) {
		*seq = e->off;
		*pos = e->pos;
		return 0;
	}
	/* by offset the reader may go on from anywhere at or before @off; by
	 * time only from @e itself (the reader may be past the message sought) */
	if ((rc = kread_place(p, e, ms < 0 ? UINT64_MAX : e->pos, ms < 0 ? off : e->off)) ||
	    (rc = kread_walk(p, &w)))
		return rc;
	/* the reader went past the message found: put it back there */
	if (w.done && p->rr) {
		if (p->env.src->seek(p->rr, (int64_t)w.found_off))
			kreader_close(p, &p->rr, &p->rr_slot);
		p->r_off = w.found_off;
		p->r_pos = w.found_pos;
	}
	if (!w.done || w.found_off >= in->end.off) {
		*seq = in->end.off;
		*pos = in->end.pos;
	} else {
		*seq = w.found_off;
		*pos = w.found_pos;
	}
	return 0;
}

/* Message @seq's position (kpart.h): -ENODATA below the retained point, -ERANGE past the end. */
int shlogfs_kpart_seek_seq(struct shlogfs_bpart *p, uint64_t seq, uint64_t *off)
{
	struct shlogfs_kidx_info in;
	struct shlogfs_kidx_entry e;
	uint64_t s;
	int rc;

	if (p->gone)
		return -ENOENT;
	kpart_bounds(p, &in);
	if (seq >= in.end.off) {
		*off = in.end.pos;
		return seq == in.end.off ? 0 : -ERANGE;
	}
	pthread_mutex_lock(&p->mu);
	rc = shlogfs_kidx_find_off(p->k, seq, &e);
	pthread_mutex_unlock(&p->mu);
	if (rc == -ERANGE)
		return -ENODATA;
	if (rc)
		return rc;
	pthread_mutex_lock(&p->rmu);
	rc = kread_find(p, &e, seq, -1, &in, &s, off);
	kread_done(p);
	return rc;
}

/* The first message at or after a time (kpart.h): the byte index's fallback. */
int shlogfs_kpart_seek_time(struct shlogfs_bpart *p, int64_t time_ns, uint64_t *seq, uint64_t *off)
{
	int64_t ms = time_ns <= 0 ? 0 : (time_ns + 999999) / 1000000;
	struct shlogfs_kidx_info in;
	struct shlogfs_kidx_entry e;
	int rc;

	if (p->gone)
		return -ENOENT;
	kpart_bounds(p, &in);
	pthread_mutex_lock(&p->mu);
	rc = shlogfs_kidx_find_time(p->k, ms, &e);
	pthread_mutex_unlock(&p->mu);
	if (rc == -ENXIO || rc == -ERANGE) {
		*seq = rc == -ENXIO ? in.end.off : in.kept.off;
		*off = rc == -ENXIO ? in.end.pos : in.kept.pos;
		return 0;
	}
	pthread_mutex_lock(&p->rmu);
	rc = kread_find(p, &e, UINT64_MAX, ms, &in, seq, off);
	kread_done(p);
	return rc;
}

/* The index's entries as core's (kpart.h): each span's offsets and bytes up to the next. */
int shlogfs_kpart_index_foreach(struct shlogfs_bpart *p, shlogfs_index_fn *fn, void *arg)
{
	struct shlogfs_kidx_entry e, next;
	struct shlogfs_kidx_info in;
	struct shlog_index_entry x;
	int rc = 0, more;

	kpart_bounds(p, &in);
	pthread_mutex_lock(&p->mu);
	more = shlogfs_kidx_entry(p->k, 0, &e) == 0;
	pthread_mutex_unlock(&p->mu);
	for (uint64_t i = 1; more && rc == 0; i++) {
		pthread_mutex_lock(&p->mu);
		more = shlogfs_kidx_entry(p->k, i, &next) == 0;
		pthread_mutex_unlock(&p->mu);
		if (!more)
			next = in.end;
		if (e.off >= in.kept.off) {
			memset(&x, 0, sizeof(x));
			x.seq = e.off;
			x.off = e.pos;
			x.time_ns = e.ts_ms * 1000000;
			x.len = next.pos - e.pos > UINT32_MAX ? UINT32_MAX : (uint32_t)(next.pos - e.pos);
			x.count = next.off - e.off > UINT32_MAX ? UINT32_MAX : (uint32_t)(next.off - e.off);
			rc = fn(&x, arg);
		}
		e = next;
	}
	return rc;
}

/* ==== keys ============================================================= */

/* Latest live message of a key (kpart.h). */
int shlogfs_kpart_key_lookup(struct shlogfs_bpart *p, const void *key, size_t klen,
			     struct shlog_keyref *ref)
{
	struct shlogfs_kkey *e;
	int rc = -ENOENT;

	if (p->gone)
		return -ENOENT;
	pthread_mutex_lock(&p->mu);
	if ((e = kkey_find(p, key, klen))) {
		*ref = e->ref;
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Every live key in byte order, under the key lock (kpart.h; as shlog_key_foreach). */
int shlogfs_kpart_key_foreach(struct shlogfs_bpart *p, shlogfs_key_fn *fn, void *arg)
{
	struct shlogfs_kkey *e;
	int rc = 0;

	if (p->gone)
		return -ENOENT;
	pthread_mutex_lock(&p->mu);
	RB_FOREACH(e, shlogfs_kkeys, &p->keys)
		if ((rc = fn(e->key, e->klen, &e->ref, arg)))
			break;
	pthread_mutex_unlock(&p->mu);
	return rc;
}
