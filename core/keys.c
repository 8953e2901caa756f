/*
 * keys.c — per-key bookmarks (latest-wins, tombstones) and their
 * persistence.
 *
 * In memory: a hash table of key -> where its latest message is (sorted
 * only when listed).
 * On disk: the `keys` snapshot (layout in docs/FORMAT.md and format.c),
 * written now and then, plus the log itself: at open the snapshot is
 * loaded and the messages after it are replayed.  The anchor's keys_seq
 * says where replay starts; it moves past keyless blocks for free, and a
 * new snapshot is written once enough keyed messages or log bytes have
 * gone by (SHLOG_KEYS_MIN_DELTA, SHLOG_KEYS_MAX_REPLAY).  So a flush
 * costs O(keys in the block), never O(all keys).
 *
 * Snapshot records, after the 40-byte header, in table order:
 *     0 u64 seq   8 u64 off   16 i64 time_ns   24 u32 len   28 u16 klen
 *    30 u16 zero  32 key bytes (klen)
 * then a u32 CRC32C of all record bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/endian.h>

#include "crc_i.h"
#include "engine_i.h"
#include "held_i.h"
#include "io_i.h"

/* ================================================================ */
/* The key table: open addressing, linear probing                    */
/* ================================================================ */

/* FNV-1a, 64 bit: keys are short. */
static uint64_t key_hash(const void *key, uint32_t klen)
{
	const unsigned char *k = key;
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < klen; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return h;
}

/* Slot of a key, or of the empty slot where it would go; cap > 0. */
static size_t key_slot(const struct shlog_keytab *t, const void *key, uint32_t klen, uint64_t h)
{
	size_t i = (size_t)h & (t->cap - 1);

	for (;; i = (i + 1) & (t->cap - 1)) {
		const struct shlog_key *k = t->slots[i];
		if (!k || (k->hash == h && k->klen == klen && !memcmp(k->key, key, klen)))
			return i;
	}
}

/* Double the table (or make the first one): a rehash into new slots, so not sl_array_room. */
static int keytab_grow(struct shlog_keytab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct shlog_key **ns = calloc(ncap, sizeof(*ns));
	struct shlog_keytab n = { ns, ncap };

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i])
			ns[key_slot(&n, t->slots[i]->key, t->slots[i]->klen, t->slots[i]->hash)] = t->slots[i];
	free(t->slots);
	*t = n;
	return 0;
}

/* Remove the entry in slot i, shifting later entries of its run back. */
static void keytab_remove_at(struct shlog_keytab *t, size_t i)
{
	size_t j = i;

	free(t->slots[i]);
	t->slots[i] = NULL;
	for (;;) {
		size_t home;
		j = (j + 1) & (t->cap - 1);
		if (!t->slots[j])
			return;
		home = (size_t)t->slots[j]->hash & (t->cap - 1);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
}

/* Order keys bytewise, shorter first on a common prefix (for qsort). */
static int key_cmp(const void *a, const void *b)
{
	const struct shlog_key *x = *(struct shlog_key *const *)a, *y = *(struct shlog_key *const *)b;
	uint32_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* All live keys, in table order (caller frees the array); keymu held. */
static struct shlog_key **keys_all(shlog_part *p)
{
	SL_HELD(&p->keymu);
	struct shlog_key **v = malloc((p->nkeys ? p->nkeys : 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < p->keys.cap; i++)
		if (p->keys.slots[i])
			v[n++] = p->keys.slots[i];
	return v;
}

/* All live keys in byte order (caller frees the array); keymu held. */
static struct shlog_key **keys_sorted(shlog_part *p)
{
	SL_HELD(&p->keymu);
	struct shlog_key **v = keys_all(p);

	if (v)
		qsort(v, p->nkeys, sizeof(*v), key_cmp);
	return v;
}

/* Does a message have a key (shlog_msg_key, the one rule)?  1 and its length if so. */
int sl_msg_key(const char *msg, uint32_t len, uint32_t *klen)
{
	size_t k = shlog_msg_key(msg, len);

	if (k)
		*klen = (uint32_t)k;
	return k != 0;
}

/* Find a key's node; keymu held. */
static struct shlog_key *key_find(shlog_part *p, const void *key, uint32_t klen)
{
	SL_HELD(&p->keymu);
	if (p->keys.cap == 0)
		return NULL;
	return p->keys.slots[key_slot(&p->keys, key, klen, key_hash(key, klen))];
}

/* Set a key's bookmark (or drop it for a tombstone); keymu held. */
static int key_set(shlog_part *p, const void *key, uint32_t klen, const struct shlog_keyref *ref,
		   int tombstone)
{
	SL_HELD(&p->keymu);
	struct shlog_keytab *t = &p->keys;
	uint64_t h = key_hash(key, klen);
	struct shlog_key *k;
	size_t i;

	if (t->cap == 0 || (p->nkeys + 1) * 4 > t->cap * 3) {
		if (tombstone && t->cap == 0)
			return 0;
		if (!tombstone && keytab_grow(t) < 0)
			return -ENOMEM;
	}
	i = key_slot(t, key, klen, h);
	if (tombstone) {
		if (t->slots[i]) {
			keytab_remove_at(t, i);
			p->nkeys--;
		}
		return 0;
	}
	if (!t->slots[i]) {
		k = malloc(sizeof(*k) + klen);
		if (!k)
			return -ENOMEM;
		k->hash = h;
		k->klen = klen;
		memcpy(k->key, key, klen);
		t->slots[i] = k;
		p->nkeys++;
	}
	t->slots[i]->ref = *ref;
	return 0;
}

/* Step B for one message: bookmark it if it has a key; keymu held. */
void sl_keys_apply(shlog_part *p, const char *msg, uint32_t len, uint64_t seq, uint64_t off, int64_t t)
{
	SL_HELD(&p->keymu);
	struct shlog_keyref ref;
	uint32_t klen;

	if (!sl_msg_key(msg, len, &klen))
		return;
	ref = (struct shlog_keyref){ .seq = seq, .off = off, .len = len, .klen = klen, .time_ns = t };
	if (key_set(p, msg, klen, &ref, len == klen + 1) < 0)
		sl_logf(p->s, SHLOG_ERR, "%s: out of memory recording a key bookmark", p->name);
	p->keys_delta++;
}

/* Retention deleted the log below @off: forget keys that pointed there. */
void sl_keys_drop_before(shlog_part *p, uint64_t off)
{
	struct shlog_keytab *t = &p->keys;

	pthread_mutex_lock(&p->keymu);
	for (size_t i = 0; i < t->cap;) {
		/* a removal shifts a later entry into slot i: look at i again */
		if (t->slots[i] && t->slots[i]->ref.off < off) {
			keytab_remove_at(t, i);
			p->nkeys--;
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&p->keymu);
}

/* Free the whole table. */
void sl_keys_free(shlog_part *p)
{
	for (size_t i = 0; i < p->keys.cap; i++)
		free(p->keys.slots[i]);
	free(p->keys.slots);
	p->keys.slots = NULL;
	p->keys.cap = 0;
	p->nkeys = 0;
}

/* ================================================================ */
/* Snapshots                                                         */
/* ================================================================ */

/* Is a new snapshot due after a block ending at @off_end? */
int sl_keys_checkpoint_due(shlog_part *p, uint64_t off_end)
{
	int due;

	pthread_mutex_lock(&p->keymu);
	due = p->keys_force ||
	      (p->keys_delta > 0 &&
	       (p->keys_delta >= (4 * p->nkeys > SHLOG_KEYS_MIN_DELTA ? 4 * p->nkeys : SHLOG_KEYS_MIN_DELTA) ||
		off_end - p->keys_off >= SHLOG_KEYS_MAX_REPLAY));
	pthread_mutex_unlock(&p->keymu);
	return due;
}

/* Serialise the table into a snapshot image covering messages < seq; keymu held. */
static unsigned char *snapshot_build(shlog_part *p, uint64_t seq, uint64_t off, size_t *len)
{
	SL_HELD(&p->keymu);
	struct shlog_keys_hdr h = { .seq = seq, .off = off, .count = p->nkeys };
	struct shlog_key **v = keys_all(p);   /* any order: sorting costs more than it gives */
	size_t size = SHLOG_KEYS_HDR_SIZE + 4, pos = SHLOG_KEYS_HDR_SIZE;
	unsigned char *img;

	if (!v)
		return NULL;
	for (uint64_t i = 0; i < p->nkeys; i++)
		size += SHLOG_KEYS_REC_SIZE + v[i]->klen;
	img = malloc(size);
	if (!img) {
		free(v);
		return NULL;
	}
	sl_keys_hdr_encode(&h, img);
	for (uint64_t i = 0; i < p->nkeys; i++) {
		const struct shlog_key *k = v[i];
		unsigned char *r = img + pos;
		le64enc(r, k->ref.seq);
		le64enc(r + 8, k->ref.off);
		le64enc(r + 16, (uint64_t)k->ref.time_ns);
		le32enc(r + 24, k->ref.len);
		le16enc(r + 28, (uint16_t)k->klen);
		le16enc(r + 30, 0);
		memcpy(r + SHLOG_KEYS_REC_SIZE, k->key, k->klen);
		pos += SHLOG_KEYS_REC_SIZE + k->klen;
	}
	le32enc(img + pos, sl_crc32c(img + SHLOG_KEYS_HDR_SIZE, pos - SHLOG_KEYS_HDR_SIZE));
	free(v);
	*len = size;
	return img;
}

/*
 * Write a snapshot image as keys.tmp and rename it over keys.  No fsync:
 * correctness never depends on the snapshot reaching the disk (a missing,
 * stale or torn snapshot only makes the next open replay more of the
 * log), and fsyncs here would stall the partition's flushes.
 */
static int snapshot_store(shlog_part *p, const unsigned char *img, size_t len)
{
	int fd, rc;

	/* a temporary a crash left is stale: made anew, exclusively */
	if (sl_io.unlinkat(p->dfd, SHLOG_KEYS_TMP_NAME, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = sl_io_open(p->dfd, SHLOG_KEYS_TMP_NAME, O_WRONLY | O_CREAT | O_EXCL,
			   SHLOG_FILE_MODE, S_IFREG);
	if (fd < 0)
		return fd;
	rc = sl_io_pwrite_full(fd, img, len, 0);
	sl_io.close(fd);
	if (rc == 0 && sl_io.renameat(p->dfd, SHLOG_KEYS_TMP_NAME, p->dfd, SHLOG_KEYS_NAME) < 0)
		rc = -errno;
	return rc;
}

/* Write a snapshot of the keys as of message @seq (committed). */
int sl_keys_checkpoint(shlog_part *p, uint64_t seq, uint64_t off)
{
	unsigned char *img;
	size_t len;
	int rc;

	pthread_mutex_lock(&p->keymu);
	img = snapshot_build(p, seq, off, &len);
	pthread_mutex_unlock(&p->keymu);
	if (!img)
		return -ENOMEM;
	rc = snapshot_store(p, img, len);
	free(img);
	if (rc < 0) {
		sl_logf(p->s, SHLOG_WARNING, "%s: key snapshot failed: %s (will retry)", p->name, strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&p->keymu);
	p->keys_snap_seq = seq;
	p->keys_seq = seq;
	p->keys_off = off;
	p->keys_delta = 0;
	p->keys_force = 0;
	pthread_mutex_unlock(&p->keymu);
	return 0;
}

/* ================================================================ */
/* Loading at open                                                   */
/* ================================================================ */

/* Add one snapshot record to the table (sl_keys_image_walk callback); -EUCLEAN for a key seen twice. */
static int snapshot_rec(const struct shlog_keyref *ref, const unsigned char *key, void *arg)
{
	shlog_part *p = arg;

	if (key_find(p, key, ref->klen))
		return -EUCLEAN;
	if (ref->off >= p->start_off && key_set(p, key, ref->klen, ref, 0) < 0)
		return -ENOMEM;
	return 0;
}

/* Parse a snapshot image into the table; -EUCLEAN (logged) if the validator refuses it. */
static int snapshot_parse(shlog_part *p, const unsigned char *img, size_t len, struct shlog_keys_hdr *h)
{
	const char *why = "a key appears twice";
	int rc;

	pthread_mutex_lock(&p->keymu);        /* key_set's precondition, though nobody else has p yet */
	rc = sl_keys_image_walk(img, len, h, snapshot_rec, p, &why);
	pthread_mutex_unlock(&p->keymu);
	if (rc == -EUCLEAN)
		sl_logf(p->s, SHLOG_WARNING, "%s: %s: %s", p->name, SHLOG_KEYS_NAME, why);
	return rc;
}

/* Read and parse the keys file; 0 with h filled, -ENOENT if absent, or an error. */
static int snapshot_load(shlog_part *p, struct shlog_keys_hdr *h)
{
	int fd = sl_io_open(p->dfd, SHLOG_KEYS_NAME, O_RDONLY, 0, S_IFREG);
	unsigned char *img = NULL;
	struct stat st;
	int rc;

	if (fd < 0)
		return fd;
	rc = sl_io.fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (st.st_size < SHLOG_KEYS_HDR_SIZE + 4 || st.st_size > (1ll << 34)))
		rc = -EUCLEAN;
	if (rc == 0 && !(img = malloc((size_t)st.st_size)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = sl_io_pread_full(fd, img, (size_t)st.st_size, 0);
	if (rc == 0)
		rc = snapshot_parse(p, img, (size_t)st.st_size, h);
	sl_io.close(fd);
	free(img);
	if (rc < 0)
		sl_keys_free(p);
	return rc;
}

/* A replay's position and its span buffer. */
struct replay {
	uint64_t from;                /* the first message to replay */
	uint64_t keyed;               /* keyed messages replayed */
	struct shlog_buf span;        /* the span being replayed */
};

/* Replay the messages of span @e from r->from on, with the span's block time; seglock held. */
static int replay_span(shlog_part *p, struct shlog_seg *g, const struct shlog_index_entry *e, struct replay *r)
{
	uint64_t seq = e->seq;
	size_t pos = 0;
	int rc;

	const char *buf;

	r->span.len = 0;
	if (sl_buf_reserve(&r->span, e->len) < 0)
		return -ENOMEM;
	buf = r->span.data;
	rc = sl_seg_read_span(p, g, e, r->span.data);   /* checked: every message ends in a '\n' */
	pthread_mutex_lock(&p->keymu);        /* sl_keys_apply's precondition (seglock > keymu) */
	while (rc == 0 && pos < e->len) {
		const char *nl = memchr(buf + pos, '\n', e->len - pos);
		uint32_t mlen = (uint32_t)(nl - (buf + pos)), klen;
		if (seq >= r->from && sl_msg_key(buf + pos, mlen, &klen)) {
			sl_keys_apply(p, buf + pos, mlen, seq, e->off + pos, e->time_ns);
			r->keyed++;
		}
		pos += mlen + 1;
		seq++;
	}
	pthread_mutex_unlock(&p->keymu);
	return rc;
}

/* Replay every span from message r->from to the committed end; pinned, seglock held. */
static int replay_spans(shlog_part *p, struct replay *r)
{
	int rc = 0;

	for (struct shlog_seg *g = sl_seg_by_seq(p, r->from); rc == 0 && g < p->segs + p->nsegs; g++) {
		rc = sl_seg_load_ents(p, g);
		if (rc < 0 || g->nents == 0)
			continue;
		for (size_t i = g->base_seq <= r->from ? sl_seg_ent_by_seq(g, r->from) : 0;
		     rc == 0 && i < g->nents; i++)
			rc = replay_span(p, g, &g->ents[i], r);
	}
	return rc;
}

/*
 * Replay messages [seq, committed) into the table, each with its block
 * time (its index entry's), span by span: the spans are checked as any
 * read checks them.  *keyed gets how many had a key.
 */
static int keys_replay(shlog_part *p, uint64_t seq, uint64_t *keyed)
{
	struct replay r = { .from = seq };
	int rc = 0;

	*keyed = 0;
	if (seq >= p->committed_seq || p->nsegs == 0)
		return 0;
	rc = sl_res_pin(p);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&p->seglock);
	rc = replay_spans(p, &r);
	pthread_rwlock_unlock(&p->seglock);
	sl_res_unpin(p);
	free(r.span.data);
	*keyed = r.keyed;
	return rc;
}

/*
 * Is log offset @off where message @seq starts (a replay may start there)?
 * Points outside the retained, committed log are not, nor is one the
 * index cannot confirm.
 */
static int replay_point_ok(shlog_part *p, uint64_t seq, uint64_t off)
{
	uint64_t at;

	if (seq < p->start_seq || seq > p->committed_seq)
		return 0;
	if (seq == p->start_seq || seq == p->committed_seq)
		return off == (seq == p->start_seq ? p->start_off : p->committed_off);
	return sl_seg_seek_seq(p, seq, &at) == 0 && at == off;
}

/* Load the snapshot if it is valid for this log: 0 with @h, else (logged, table empty) -ENOENT or an error. */
static int snapshot_take(shlog_part *p, struct shlog_keys_hdr *h)
{
	const char *why = NULL;
	int rc = snapshot_load(p, h);

	if (rc == 0 && (sl_check_keys_fit(h, p->start_seq, p->start_off, p->committed_seq, p->committed_off,
					  &why) < 0 || !replay_point_ok(p, h->seq, h->off))) {
		sl_logf(p->s, SHLOG_WARNING, "%s: key snapshot at message %llu does not fit the log (%s); "
			"rebuilding keys", p->name, (unsigned long long)h->seq,
			why ? why : "its offset is not that message's");
		sl_keys_free(p);
		rc = -EUCLEAN;
	} else if (rc < 0 && rc != -ENOENT) {
		sl_logf(p->s, SHLOG_WARNING, "%s: key snapshot unreadable (%s); rebuilding keys from the log",
			p->name, shlog_strerror(rc));
	}
	return rc;
}

/*
 * Where replay starts: after the snapshot (@snap 0, point @h), or the
 * log's start; moved to the anchor's replay point @a where that is safe.
 */
static void replay_start(shlog_part *p, const struct shlog_anchor *a, int snap, const struct shlog_keys_hdr *h,
			 uint64_t *rseq, uint64_t *roff)
{
	int a_ok = a && replay_point_ok(p, a->keys_seq, a->keys_off), back, skip, none;

	*rseq = snap == 0 ? h->seq : p->start_seq;
	*roff = snap == 0 ? h->off : p->start_off;
	if (!a_ok)
		return;
	/* a newer snapshot than the anchor knew: replay from the anchor */
	back = snap == 0 && a->keys_snap_seq <= h->seq && a->keys_seq < *rseq && a->keys_seq >= p->start_seq;
	/* keyless messages since the snapshot: skip them */
	skip = snap == 0 && a->keys_snap_seq == h->seq && a->keys_seq > *rseq && a->keys_seq <= p->committed_seq;
	/* never a snapshot, and nothing keyed before keys_seq */
	none = snap == -ENOENT && a->keys_snap_seq == 0 && a->keys_seq >= p->start_seq &&
	       a->keys_seq <= p->committed_seq;
	if (back || skip || none) {
		*rseq = a->keys_seq;
		*roff = a->keys_off;
	}
}

/*
 * Build the key state at open: the snapshot (if it is valid for this
 * log), then the messages after it.  @a is the anchor (NULL if none).
 * Called before the partition is shared: keymu is taken only because the
 * table's functions check that it is held.
 */
int sl_keys_load(shlog_part *p, const struct shlog_anchor *a)
{
	struct shlog_keys_hdr h;
	uint64_t rseq, roff, keyed;
	int snap = snapshot_take(p, &h), rc;

	p->keys_snap_seq = snap == 0 ? h.seq : 0;
	replay_start(p, a, snap, &h, &rseq, &roff);
	rc = keys_replay(p, rseq, &keyed);
	if (rc < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: cannot rebuild key bookmarks from messages %llu..%llu: %s "
			"(damaged log; see above); refusing to open (the repair option cuts the log there)",
			p->name, (unsigned long long)rseq, (unsigned long long)p->committed_seq,
			shlog_strerror(rc));
		return -EUCLEAN;
	}
	p->keys_seq = keyed ? rseq : p->committed_seq;
	p->keys_off = keyed ? roff : p->committed_off;
	p->keys_delta = keyed;
	return 0;
}

/* ================================================================ */
/* Lookups (the API functions are in part.c: they flush first)       */
/* ================================================================ */

/* The bookmark of key @key (@klen bytes): 0 and *ref, or -ENOENT. */
int sl_keys_find(shlog_part *p, const void *key, uint32_t klen, struct shlog_keyref *ref)
{
	struct shlog_key *k;

	pthread_mutex_lock(&p->keymu);
	k = key_find(p, key, klen);
	if (k)
		*ref = k->ref;
	pthread_mutex_unlock(&p->keymu);
	return k ? 0 : -ENOENT;
}

/* Call @fn for every bookmark in byte order of the keys, under keymu; stops at @fn's non-zero. */
int sl_keys_foreach(shlog_part *p,
		    int (*fn)(const void *key, size_t klen, const struct shlog_keyref *ref, void *arg),
		    void *arg)
{
	struct shlog_key **v;
	int rc = 0;

	pthread_mutex_lock(&p->keymu);
	v = keys_sorted(p);
	for (uint64_t i = 0; v && i < p->nkeys && rc == 0; i++)
		rc = fn(v[i]->key, v[i]->klen, &v[i]->ref, arg);
	pthread_mutex_unlock(&p->keymu);
	if (!v)
		return -ENOMEM;
	free(v);
	return rc;
}
