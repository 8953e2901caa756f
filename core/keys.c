/*
 * keys.c — per-key bookmarks (latest-wins, tombstones) and their
 * persistence.
 *
 * In memory: a red-black tree of key -> where its latest message is.
 * On disk: the `keys` snapshot (layout in docs/FORMAT.md and format.c),
 * written now and then, plus the log itself: at open the snapshot is
 * loaded and the messages after it are replayed.  The anchor's keys_seq
 * says where replay starts; it moves past keyless blocks for free, and a
 * new snapshot is written once enough keyed messages or log bytes have
 * gone by (SHLOG_KEYS_MIN_DELTA, SHLOG_KEYS_MAX_REPLAY).  So a flush
 * costs O(keys in the block), never O(all keys).
 *
 * Snapshot records, after the 40-byte header, in key order:
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
#include "io_i.h"

RB_GENERATE(shlog_keytree, shlog_key, link, shlog_key_cmp)

/* Order keys bytewise, shorter first on a common prefix. */
int shlog_key_cmp(const struct shlog_key *a, const struct shlog_key *b)
{
	uint32_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

/* Does a message have a key?  1 and its length if so. */
int shlog_msg_key(const char *msg, uint32_t len, uint32_t *klen)
{
	uint32_t scan = len < SHLOG_KEY_MAX + 1 ? len : SHLOG_KEY_MAX + 1;
	const char *tab = memchr(msg, '\t', scan);

	if (!tab || tab == msg)
		return 0;
	*klen = (uint32_t)(tab - msg);
	return 1;
}

/* Find a key's node; keymu held. */
static struct shlog_key *key_find(shlog_part *p, const void *key, uint32_t klen)
{
	struct {
		struct shlog_key k;
		unsigned char buf[SHLOG_KEY_MAX];
	} probe;

	probe.k.klen = klen;
	memcpy(probe.k.key, key, klen);
	return RB_FIND(shlog_keytree, &p->keys, &probe.k);
}

/* Set a key's bookmark (or drop it for a tombstone); keymu held. */
static int key_set(shlog_part *p, const void *key, uint32_t klen, const struct shlog_keyref *ref,
		   int tombstone)
{
	struct shlog_key *k = key_find(p, key, klen);

	if (tombstone) {
		if (k) {
			RB_REMOVE(shlog_keytree, &p->keys, k);
			free(k);
			p->nkeys--;
		}
		return 0;
	}
	if (!k) {
		k = malloc(sizeof(*k) + klen);
		if (!k)
			return -ENOMEM;
		k->klen = klen;
		memcpy(k->key, key, klen);
		RB_INSERT(shlog_keytree, &p->keys, k);
		p->nkeys++;
	}
	k->ref = *ref;
	return 0;
}

/* Step B for one message: bookmark it if it has a key; keymu held. */
void shlog_keys_apply(shlog_part *p, const char *msg, uint32_t len, uint64_t seq, uint64_t off, int64_t t)
{
	struct shlog_keyref ref;
	uint32_t klen;

	if (!shlog_msg_key(msg, len, &klen))
		return;
	ref = (struct shlog_keyref){ .seq = seq, .off = off, .len = len, .klen = klen, .time_ns = t };
	if (key_set(p, msg, klen, &ref, len == klen + 1) < 0)
		shlog_logf(p->s, SHLOG_ERR, "%s: out of memory recording a key bookmark", p->name);
	p->keys_delta++;
}

/* Retention deleted the log below @off: forget keys that pointed there. */
void shlog_keys_drop_before(shlog_part *p, uint64_t off)
{
	struct shlog_key *k, *n;

	pthread_mutex_lock(&p->keymu);
	RB_FOREACH_SAFE(k, shlog_keytree, &p->keys, n) {
		if (k->ref.off < off) {
			RB_REMOVE(shlog_keytree, &p->keys, k);
			free(k);
			p->nkeys--;
		}
	}
	pthread_mutex_unlock(&p->keymu);
}

/* Free the whole tree. */
void shlog_keys_free(shlog_part *p)
{
	struct shlog_key *k, *n;

	RB_FOREACH_SAFE(k, shlog_keytree, &p->keys, n) {
		RB_REMOVE(shlog_keytree, &p->keys, k);
		free(k);
	}
	p->nkeys = 0;
}

/* ================================================================ */
/* Snapshots                                                         */
/* ================================================================ */

/* Is a new snapshot due after a block ending at @off_end? */
int shlog_keys_checkpoint_due(shlog_part *p, uint64_t off_end)
{
	int due;

	pthread_mutex_lock(&p->keymu);
	due = p->keys_force ||
	      (p->keys_delta > 0 &&
	       (p->keys_delta >= (p->nkeys > SHLOG_KEYS_MIN_DELTA ? p->nkeys : SHLOG_KEYS_MIN_DELTA) ||
		off_end - p->keys_off >= SHLOG_KEYS_MAX_REPLAY));
	pthread_mutex_unlock(&p->keymu);
	return due;
}

/* Serialise the tree into a snapshot image covering messages < seq; keymu held. */
static unsigned char *snapshot_build(shlog_part *p, uint64_t seq, uint64_t off, size_t *len)
{
	struct shlog_keys_hdr h = { .seq = seq, .off = off, .count = p->nkeys };
	struct shlog_key *k;
	size_t size = SHLOG_KEYS_HDR_SIZE + 4, pos = SHLOG_KEYS_HDR_SIZE;
	unsigned char *img;

	RB_FOREACH(k, shlog_keytree, &p->keys)
		size += SHLOG_KEYS_REC_SIZE + k->klen;
	img = malloc(size);
	if (!img)
		return NULL;
	shlog_keys_hdr_encode(&h, img);
	RB_FOREACH(k, shlog_keytree, &p->keys) {
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
	le32enc(img + pos, shlog_crc32c(img + SHLOG_KEYS_HDR_SIZE, pos - SHLOG_KEYS_HDR_SIZE));
	*len = size;
	return img;
}

/* Write a snapshot image as keys.tmp, fsync, rename over keys, fsync the dir. */
static int snapshot_store(shlog_part *p, const unsigned char *img, size_t len)
{
	int fd = shlog_io.openat(p->dfd, SHLOG_KEYS_TMP_NAME,
				 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	rc = shlog_io_pwrite_full(fd, img, len, 0);
	if (rc == 0 && shlog_io.fdatasync(fd) < 0)
		rc = -errno;
	shlog_io.close(fd);
	if (rc == 0 && shlog_io.renameat(p->dfd, SHLOG_KEYS_TMP_NAME, p->dfd, SHLOG_KEYS_NAME) < 0)
		rc = -errno;
	if (rc == 0)
		rc = shlog_fsync_dir(p->dfd);
	return rc;
}

/* Write a snapshot of the keys as of message @seq (the log is durable there). */
int shlog_keys_checkpoint(shlog_part *p, uint64_t seq, uint64_t off)
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
		shlog_logf(p->s, SHLOG_WARNING, "%s: key snapshot failed: %s (will retry)", p->name, strerror(-rc));
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

/* Parse a snapshot image into the tree; -EUCLEAN if it does not hold together. */
static int snapshot_parse(shlog_part *p, const unsigned char *img, size_t len, struct shlog_keys_hdr *h)
{
	size_t pos = SHLOG_KEYS_HDR_SIZE;

	if (len < SHLOG_KEYS_HDR_SIZE + 4 || shlog_keys_hdr_decode(img, h) < 0 ||
	    le32dec(img + len - 4) != shlog_crc32c(img + pos, len - 4 - pos))
		return -EUCLEAN;
	for (uint64_t i = 0; i < h->count; i++) {
		struct shlog_keyref ref;
		const unsigned char *r = img + pos;
		uint32_t klen;
		if (pos + SHLOG_KEYS_REC_SIZE > len - 4)
			return -EUCLEAN;
		klen = le16dec(r + 28);
		if (klen == 0 || klen > SHLOG_KEY_MAX || pos + SHLOG_KEYS_REC_SIZE + klen > len - 4)
			return -EUCLEAN;
		ref = (struct shlog_keyref){ .seq = le64dec(r), .off = le64dec(r + 8),
					     .time_ns = (int64_t)le64dec(r + 16), .len = le32dec(r + 24),
					     .klen = klen };
		if (ref.seq >= h->seq || ref.len <= klen)
			return -EUCLEAN;
		if (ref.off >= p->start_off && key_set(p, r + SHLOG_KEYS_REC_SIZE, klen, &ref, 0) < 0)
			return -ENOMEM;
		pos += SHLOG_KEYS_REC_SIZE + klen;
	}
	return pos + 4 == len ? 0 : -EUCLEAN;
}

/* Read and parse the keys file; 0 with h filled, -ENOENT if absent, or an error. */
static int snapshot_load(shlog_part *p, struct shlog_keys_hdr *h)
{
	int fd = shlog_io.openat(p->dfd, SHLOG_KEYS_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	unsigned char *img = NULL;
	struct stat st;
	int rc;

	if (fd < 0)
		return -errno;
	rc = shlog_io.fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (st.st_size < SHLOG_KEYS_HDR_SIZE + 4 || st.st_size > (1ll << 34)))
		rc = -EUCLEAN;
	if (rc == 0 && !(img = malloc((size_t)st.st_size)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = shlog_io_pread_full(fd, img, (size_t)st.st_size, 0);
	if (rc == 0)
		rc = snapshot_parse(p, img, (size_t)st.st_size, h);
	shlog_io.close(fd);
	free(img);
	if (rc < 0)
		shlog_keys_free(p);
	return rc;
}

/* Replay messages [seq, committed) from offset off into the tree. */
static int keys_replay(shlog_part *p, uint64_t seq, uint64_t off, uint64_t *keyed)
{
	const size_t chunk = (size_t)p->s->o.max_message + 1 + (1u << 20);
	char *buf = malloc(chunk);
	size_t have = 0;
	int rc = 0;

	*keyed = 0;
	if (!buf)
		return -ENOMEM;
	while (off < p->committed_off) {
		size_t pos = 0;
		char *nl;
		if (off + have < p->committed_off && have < chunk) {
			ssize_t r = shlog_seg_read(p, off + have, p->committed_off, buf + have, chunk - have);
			if (r <= 0) {
				rc = r < 0 ? (int)r : -EIO;
				break;
			}
			have += (size_t)r;
		}
		while ((nl = memchr(buf + pos, '\n', have - pos)) != NULL) {
			uint32_t mlen = (uint32_t)(nl - (buf + pos)), klen;
			if (shlog_msg_key(buf + pos, mlen, &klen)) {
				shlog_keys_apply(p, buf + pos, mlen, seq, off + pos, 0);
				(*keyed)++;
			}
			pos += mlen + 1;
			seq++;
		}
		if (pos == 0 && (have == chunk || off + have >= p->committed_off)) {
			rc = -EUCLEAN;   /* no '\n' where one must be: cannot happen after recovery */
			break;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
		off += pos;
	}
	free(buf);
	return rc;
}

/*
 * Build the key state at open: the snapshot (if it is valid for this
 * log), then the messages after it.  @a is the anchor (NULL if none).
 * Called before the partition is shared; no locks needed.
 */
int shlog_keys_load(shlog_part *p, const struct shlog_anchor *a)
{
	struct shlog_keys_hdr h;
	uint64_t rseq, roff, keyed;
	int rc = snapshot_load(p, &h);

	if (rc == 0 && (h.seq > p->committed_seq || h.seq < p->start_seq)) {
		shlog_logf(p->s, SHLOG_WARNING, "%s: key snapshot at message %llu does not fit the log; rebuilding keys",
			   p->name, (unsigned long long)h.seq);
		shlog_keys_free(p);
		rc = -EUCLEAN;
	} else if (rc < 0 && rc != -ENOENT) {
		shlog_logf(p->s, SHLOG_WARNING, "%s: key snapshot unreadable (%s); rebuilding keys from the log",
			   p->name, shlog_strerror(rc));
	}
	if (rc < 0) {
		h.seq = p->start_seq;
		h.off = p->start_off;
		p->keys_snap_seq = 0;
	} else {
		p->keys_snap_seq = h.seq;
	}
	rseq = h.seq;
	roff = h.off;
	if (a && rc == 0 && a->keys_snap_seq <= h.seq && a->keys_seq < rseq && a->keys_seq >= p->start_seq) {
		rseq = a->keys_seq;       /* newer snapshot than the anchor knew: replay from the anchor */
		roff = a->keys_off;
	} else if (a && rc == 0 && a->keys_snap_seq == h.seq && a->keys_seq > rseq &&
		   a->keys_seq <= p->committed_seq) {
		rseq = a->keys_seq;       /* keyless messages since the snapshot: skip them */
		roff = a->keys_off;
	} else if (a && rc == -ENOENT && a->keys_snap_seq == 0 && a->keys_seq >= p->start_seq &&
		   a->keys_seq <= p->committed_seq) {
		rseq = a->keys_seq;       /* never a snapshot; nothing keyed before keys_seq */
		roff = a->keys_off;
	}
	rc = keys_replay(p, rseq, roff, &keyed);
	if (rc < 0)
		return rc;
	p->keys_seq = keyed ? rseq : p->committed_seq;
	p->keys_off = keyed ? roff : p->committed_off;
	p->keys_delta = keyed;
	return 0;
}

/* ================================================================ */
/* Public lookups                                                    */
/* ================================================================ */

int shlog_key_lookup(shlog_part *p, const void *key, size_t klen, struct shlog_keyref *ref)
{
	struct shlog_key *k;
	int rc;

	if (!key && klen)
		return -EINVAL;
	if (klen == 0 || klen > SHLOG_KEY_MAX || memchr(key, '\t', klen) || memchr(key, '\n', klen))
		return -ENOENT;     /* no message can have such a key */
	rc = shlog_part_flush(p);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&p->keymu);
	k = key_find(p, key, (uint32_t)klen);
	if (k)
		*ref = k->ref;
	pthread_mutex_unlock(&p->keymu);
	return k ? 0 : -ENOENT;
}

int shlog_key_foreach(shlog_part *p,
		      int (*fn)(const void *key, size_t klen, const struct shlog_keyref *ref, void *arg),
		      void *arg)
{
	struct shlog_key *k;
	int rc = shlog_part_flush(p);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&p->keymu);
	RB_FOREACH(k, shlog_keytree, &p->keys) {
		rc = fn(k->key, k->klen, &k->ref, arg);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&p->keymu);
	return rc;
}
