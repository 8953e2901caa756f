/*
 * kidx.c — the Kafka backend's byte index of one partition (kidx.h says
 * what it is for; docs/FORMAT.md, "Kafka byte index", has the example).
 *
 * File layout, little-endian, CRC32C as in every shlog file:
 *
 *   0    slot 0 (128 bytes)     two slots: a sync writes slot gen % 2,
 *   128  slot 1 (128 bytes)     so a torn write never hits the last good one
 *   256  entries, 32 bytes each, in order
 *
 *   slot:   0 u32 magic "SHLB"  4 u16 version 1  6 u16 zero
 *           8 u64 generation (>= 1; its parity is the slot's)
 *          16 u32 stride (1..2^24)  20 u32 zero
 *          24 u64 nent       entries the slot promises (durable before it)
 *          32 u64 end_off    next Kafka offset to index
 *          40 u64 end_pos    bytes indexed: where message end_off begins
 *          48 i64 end_ts     latest message time so far (ms, >= 0)
 *          56 u64 start_off  Kafka's log start offset as last seen
 *          64 16 bytes ident what the index is of (the caller's)
 *          80..123 zero     124 u32 CRC32C of bytes 0..123
 *
 *   entry:  0 u64 off   8 u64 pos   16 i64 ts_ms   24 u32 zero
 *          28 u32 CRC32C of bytes 0..27
 *
 * A slot is valid when magic, version, zero fields and CRC hold, the
 * generation is >= 1 with the slot's parity, the stride in range, every
 * offset and position at most 2^63 - 1, end_ts >= 0, and nent at most
 * end_off and end_pos (each entry a distinct message of at least one
 * byte below the end).  The valid slot with the highest generation is
 * the index.  Its ident must be the caller's (else -ESTALE).
 *
 * Entry i (< nent) is valid when its CRC and zero field hold and it
 * follows entry i-1: off and pos strictly greater, ts_ms not smaller;
 * and it lies below the end: off < end_off, pos < end_pos, ts_ms <=
 * end_ts.  The file must hold all nent entries; a damaged or missing
 * one refuses the open (-EUCLEAN: the slot promised them durable).
 * Bytes after them are a torn tail (written after the last sync): a
 * writable open cuts them.
 *
 * A sync writes the new entries, fdatasyncs, writes the next slot and
 * fdatasyncs again: entries are durable before a slot names them, and a
 * slot before the other one is overwritten (core's anchor rule).  When
 * entries below the log start are most of the file, the sync rewrites
 * it: `<name>.tmp` made O_EXCL, written, fdatasynced, renamed over the
 * name, directory fsynced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/endian.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shlog.h"
#include "kidx.h"

#define KIDX_MAGIC      0x424c4853u   /* "SHLB" little-endian */
#define KIDX_VERSION    1u
#define KIDX_SLOT_SIZE  128u
#define KIDX_HDR_SIZE   (2u * KIDX_SLOT_SIZE)
#define KIDX_ENT_SIZE   32u
#define KIDX_POS_MAX    0x7fffffffffffffffull
#define KIDX_CHUNK      (1u << 20)    /* bytes read or written at a time */
#define KIDX_REWRITE_MIN 4096u        /* dropped entries worth a rewrite */
#define KIDX_TMP_SUFFIX ".tmp"
#define KIDX_NAME_MAX   240u

/* The durable state a slot holds. */
struct kidx_slot {
	uint64_t gen;
	uint32_t stride;
	uint64_t nent;
	struct shlogfs_kidx_entry end;
	uint64_t start_off;
	unsigned char ident[16];
};

struct shlogfs_kidx {
	int dfd;                          /* the directory (owned: a dup) */
	int fd;                           /* the file */
	int rdonly;
	char name[KIDX_NAME_MAX + 1];
	struct kidx_slot s;               /* current state; s.nent: entries the last slot written holds */
	struct shlogfs_kidx_entry *ent;   /* every entry, in order */
	uint64_t n, cap;
	uint64_t written;                 /* entries in the file */
	int dirty;                        /* changed since the last sync */
	uint64_t cut_bytes;
};

/* ---------------------------------------------------------------- */
/* Encoding and the validity rules                                   */
/* ---------------------------------------------------------------- */

/* Fail with rule @what (-EUCLEAN), the module's one way of saying "damaged". */
static int kidx_bad(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EUCLEAN;
}

/* Whether @n bytes at @b are zero. */
static int kidx_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Serialise slot @s (128 bytes). */
static void kidx_slot_encode(const struct kidx_slot *s, unsigned char out[KIDX_SLOT_SIZE])
{
	memset(out, 0, KIDX_SLOT_SIZE);
	le32enc(out, KIDX_MAGIC);
	le16enc(out + 4, KIDX_VERSION);
	le64enc(out + 8, s->gen);
	le32enc(out + 16, s->stride);
	le64enc(out + 24, s->nent);
	le64enc(out + 32, s->end.off);
	le64enc(out + 40, s->end.pos);
	le64enc(out + 48, (uint64_t)s->end.ts_ms);
	le64enc(out + 56, s->start_off);
	memcpy(out + 64, s->ident, 16);
	le32enc(out + KIDX_SLOT_SIZE - 4, shlog_crc32c(out, KIDX_SLOT_SIZE - 4));
}

/* Parse and check slot number @i; 0 or -EUCLEAN with *why. */
static int kidx_slot_decode(const unsigned char *in, int i, struct kidx_slot *s, const char **why)
{
	if (le32dec(in) != KIDX_MAGIC || le16dec(in + 4) != KIDX_VERSION ||
	    le32dec(in + KIDX_SLOT_SIZE - 4) != shlog_crc32c(in, KIDX_SLOT_SIZE - 4))
		return kidx_bad(why, "byte index slot: bad magic, version or checksum");
	if (le16dec(in + 6) || le32dec(in + 20) || !kidx_zero(in + 80, 44))
		return kidx_bad(why, "byte index slot: reserved fields are not zero");
	s->gen = le64dec(in + 8);
	s->stride = le32dec(in + 16);
	s->nent = le64dec(in + 24);
	s->end.off = le64dec(in + 32);
	s->end.pos = le64dec(in + 40);
	s->end.ts_ms = (int64_t)le64dec(in + 48);
	s->start_off = le64dec(in + 56);
	memcpy(s->ident, in + 64, 16);
	if (s->gen == 0 || s->gen % 2 != (uint64_t)i)
		return kidx_bad(why, "byte index slot: generation 0, or it belongs to the other slot");
	if (s->stride == 0 || s->stride > SHLOGFS_KIDX_STRIDE_MAX)
		return kidx_bad(why, "byte index slot: stride out of range");
	if (s->end.off > KIDX_POS_MAX || s->end.pos > KIDX_POS_MAX || s->start_off > KIDX_POS_MAX ||
	    s->end.ts_ms < 0)
		return kidx_bad(why, "byte index slot: offset, position or time out of range");
	if (s->nent > s->end.off || s->nent > s->end.pos)
		return kidx_bad(why, "byte index slot: more entries than messages below the end");
	return 0;
}

/* The newest valid slot of the 256-byte header @hdr; -EUCLEAN if none. */
static int kidx_slot_pick(const unsigned char *hdr, struct kidx_slot *s, const char **why)
{
	struct kidx_slot c[2];
	int ok[2];

	for (int i = 0; i < 2; i++)
		ok[i] = kidx_slot_decode(hdr + i * KIDX_SLOT_SIZE, i, &c[i], why) == 0;
	if (!ok[0] && !ok[1])
		return -EUCLEAN;
	*s = ok[0] && (!ok[1] || c[0].gen > c[1].gen) ? c[0] : c[1];
	return 0;
}

/* Serialise entry @e (32 bytes). */
static void kidx_ent_encode(const struct shlogfs_kidx_entry *e, unsigned char out[KIDX_ENT_SIZE])
{
	le64enc(out, e->off);
	le64enc(out + 8, e->pos);
	le64enc(out + 16, (uint64_t)e->ts_ms);
	le32enc(out + 24, 0);
	le32enc(out + 28, shlog_crc32c(out, 28));
}

/* Parse entry @in and check it against @prev (NULL: first) and the end; 0 or -EUCLEAN. */
static int kidx_ent_decode(const unsigned char *in, const struct shlogfs_kidx_entry *prev,
			   const struct shlogfs_kidx_entry *end, struct shlogfs_kidx_entry *e, const char **why)
{
	if (le32dec(in + 28) != shlog_crc32c(in, 28) || le32dec(in + 24) != 0)
		return kidx_bad(why, "byte index entry: bad checksum or non-zero reserved field");
	e->off = le64dec(in);
	e->pos = le64dec(in + 8);
	e->ts_ms = (int64_t)le64dec(in + 16);
	if (e->ts_ms < 0)
		return kidx_bad(why, "byte index entry: negative time");
	if (prev && (e->off <= prev->off || e->pos <= prev->pos || e->ts_ms < prev->ts_ms))
		return kidx_bad(why, "byte index entry does not follow the one before it");
	if (e->off >= end->off || e->pos >= end->pos || e->ts_ms > end->ts_ms)
		return kidx_bad(why, "byte index entry is not below the indexed end");
	return 0;
}

/* ---------------------------------------------------------------- */
/* Opening                                                           */
/* ---------------------------------------------------------------- */

/* Make room for one more entry in memory; 0 or -ENOMEM. */
static int kidx_reserve(struct shlogfs_kidx *k, uint64_t more)
{
	uint64_t cap = k->cap ? k->cap : 1024;
	struct shlogfs_kidx_entry *p;

	if (k->n + more <= k->cap)
		return 0;
	while (cap < k->n + more)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof(*p) || !(p = realloc(k->ent, cap * sizeof(*p))))
		return -ENOMEM;
	k->ent = p;
	k->cap = cap;
	return 0;
}

/* Read and check the slot's nent entries, in chunks; 0 or -errno (-EUCLEAN with *why). */
static int kidx_load(struct shlogfs_kidx *k, uint64_t size, const char **why)
{
	unsigned char *buf;
	uint64_t want = k->s.nent;
	int rc;

	if (want > (size - KIDX_HDR_SIZE) / KIDX_ENT_SIZE)
		return kidx_bad(why, "byte index: entries its slot promised are missing (file too short)");
	if ((rc = kidx_reserve(k, want)) < 0)
		return rc;
	if (!(buf = malloc(KIDX_CHUNK)))
		return -ENOMEM;
	while (rc == 0 && k->n < want) {
		uint64_t m = want - k->n < KIDX_CHUNK / KIDX_ENT_SIZE ? want - k->n : KIDX_CHUNK / KIDX_ENT_SIZE;
		rc = shlog_file_pread(k->fd, buf, m * KIDX_ENT_SIZE, (off_t)(KIDX_HDR_SIZE + k->n * KIDX_ENT_SIZE));
		for (uint64_t i = 0; rc == 0 && i < m; i++, k->n++)
			rc = kidx_ent_decode(buf + i * KIDX_ENT_SIZE, k->n ? &k->ent[k->n - 1] : NULL, &k->s.end,
					     &k->ent[k->n], why);
	}
	free(buf);
	k->written = k->n;
	return rc;
}

/* Build "<name>.tmp" into @out; -ENAMETOOLONG if it does not fit. */
static int kidx_tmp_name(const char *name, char out[KIDX_NAME_MAX + sizeof(KIDX_TMP_SUFFIX)])
{
	if (strlen(name) > KIDX_NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(out, name);
	strcat(out, KIDX_TMP_SUFFIX);
	return 0;
}

/*
 * Write a whole index file — header (slot @s->gen % 2, the other zero)
 * and entries @ent[0..n) — as "<name>.tmp" (O_EXCL), fdatasync it,
 * rename it over @name and fsync @dfd.  Used to make a file and to
 * rewrite one without the entries below the log start.
 */
static int kidx_write_new(int dfd, const char *name, const struct kidx_slot *s,
			  const struct shlogfs_kidx_entry *ent, uint64_t n)
{
	char tmp[KIDX_NAME_MAX + sizeof(KIDX_TMP_SUFFIX)];
	unsigned char *buf;
	int fd, rc;

	if ((rc = kidx_tmp_name(name, tmp)) < 0)
		return rc;
	if ((fd = shlog_file_open(dfd, tmp, O_RDWR | O_CREAT | O_EXCL, 0600, S_IFREG)) < 0)
		return fd;
	if (!(buf = calloc(1, KIDX_CHUNK))) {
		rc = -ENOMEM;
		goto out;
	}
	kidx_slot_encode(s, buf + (s->gen % 2) * KIDX_SLOT_SIZE);
	rc = shlog_file_pwrite(fd, buf, KIDX_HDR_SIZE, 0);
	for (uint64_t i = 0; rc == 0 && i < n;) {
		uint64_t m = n - i < KIDX_CHUNK / KIDX_ENT_SIZE ? n - i : KIDX_CHUNK / KIDX_ENT_SIZE;
		for (uint64_t j = 0; j < m; j++)
			kidx_ent_encode(&ent[i + j], buf + j * KIDX_ENT_SIZE);
		rc = shlog_file_pwrite(fd, buf, m * KIDX_ENT_SIZE, (off_t)(KIDX_HDR_SIZE + i * KIDX_ENT_SIZE));
		i += m;
	}
	if (rc == 0)
		rc = shlog_file_sync(fd, 1);
	if (rc == 0)
		rc = shlog_file_rename(dfd, tmp, name);
	if (rc == 0)
		rc = shlog_file_sync(dfd, 0);
out:
	free(buf);
	shlog_file_close(fd);
	if (rc < 0)
		shlog_file_unlink(dfd, tmp);
	return rc;
}

/* Open k->name as k->fd: made first if absent and @create; 0 or -errno. */
static int kidx_open_file(struct shlogfs_kidx *k, int create)
{
	int flags = k->rdonly ? O_RDONLY : O_RDWR;

	k->fd = shlog_file_open(k->dfd, k->name, flags, 0, S_IFREG);
	if (k->fd == -ENOENT && create) {
		int rc = kidx_write_new(k->dfd, k->name, &k->s, NULL, 0);
		if (rc < 0)
			return rc;
		k->fd = shlog_file_open(k->dfd, k->name, flags, 0, S_IFREG);
	}
	return k->fd < 0 ? k->fd : 0;
}

/* Read the header, check the slot and ident, load the entries, cut a torn tail. */
static int kidx_read(struct shlogfs_kidx *k, const unsigned char ident[16], const char **why)
{
	unsigned char hdr[KIDX_HDR_SIZE];
	uint64_t keep, size;
	int rc;

	if ((rc = shlog_file_size(k->fd, &size)) < 0)
		return rc;
	if (size < KIDX_HDR_SIZE)
		return kidx_bad(why, "byte index: shorter than its two slots");
	if ((rc = shlog_file_pread(k->fd, hdr, KIDX_HDR_SIZE, 0)) < 0)
		return rc;
	if ((rc = kidx_slot_pick(hdr, &k->s, why)) < 0)
		return kidx_bad(why, "byte index: no valid slot");
	if (memcmp(k->s.ident, ident, 16) != 0)
		return -ESTALE;
	if ((rc = kidx_load(k, size, why)) < 0)
		return rc;
	keep = KIDX_HDR_SIZE + k->n * KIDX_ENT_SIZE;
	if (size > keep) {
		k->cut_bytes = size - keep;
		if (!k->rdonly)
			return shlog_file_truncate(k->fd, (off_t)keep);
	}
	return 0;
}

/* Free a handle and what it holds (no sync). */
static void kidx_free(struct shlogfs_kidx *k)
{
	if (k->fd >= 0)
		shlog_file_close(k->fd);
	if (k->dfd >= 0)
		shlog_file_close(k->dfd);
	free(k->ent);
	free(k);
}

/* Open or make an index file (kidx.h). */
int shlogfs_kidx_open(int dfd, const char *name, const unsigned char ident[16], uint32_t stride,
		      int flags, struct shlogfs_kidx **out, const char **why)
{
	char tmp[KIDX_NAME_MAX + sizeof(KIDX_TMP_SUFFIX)];
	struct shlogfs_kidx *k;
	int rc;

	if (stride == 0 || stride > SHLOGFS_KIDX_STRIDE_MAX)
		return -EINVAL;
	if ((rc = kidx_tmp_name(name, tmp)) < 0)
		return rc;
	if (!(k = calloc(1, sizeof(*k))))
		return -ENOMEM;
	k->fd = -1;
	k->rdonly = !!(flags & SHLOGFS_KIDX_RDONLY);
	strcpy(k->name, name);
	k->s.gen = 1;
	k->s.stride = stride;
	memcpy(k->s.ident, ident, 16);
	if ((k->dfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = -errno;
		goto fail;
	}
	/* A temporary a crash left (never followed: unlinkat removes the name). */
	if (!k->rdonly && (rc = shlog_file_unlink(k->dfd, tmp)) < 0 && rc != -ENOENT && rc != -EISDIR)
		goto fail;
	if ((rc = kidx_open_file(k, !k->rdonly && (flags & SHLOGFS_KIDX_CREATE))) < 0 ||
	    (rc = kidx_read(k, ident, why)) < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	kidx_free(k);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Changes and sync                                                  */
/* ---------------------------------------------------------------- */

/* An entry is due at offset @off: none yet, or a stride past the last. */
int shlogfs_kidx_due(const struct shlogfs_kidx *k, uint64_t off)
{
	return k->n == 0 || off - k->ent[k->n - 1].off >= k->s.stride;
}

/* The time to record for a message of time @ts_ms (-1: none): never before the latest. */
static int64_t kidx_clamp_ts(const struct shlogfs_kidx *k, int64_t ts_ms)
{
	return ts_ms > k->s.end.ts_ms ? ts_ms : k->s.end.ts_ms;
}

/* Record an entry at the indexed end (kidx.h). */
int shlogfs_kidx_append(struct shlogfs_kidx *k, uint64_t off, uint64_t pos, int64_t ts_ms)
{
	int rc;

	if (k->rdonly)
		return -EROFS;
	/* At or past the end (the messages between indexed without an entry). */
	if (off < k->s.end.off || off >= KIDX_POS_MAX || pos < k->s.end.pos || pos >= KIDX_POS_MAX)
		return -EINVAL;
	if ((rc = kidx_reserve(k, 1)) < 0)
		return rc;
	k->ent[k->n].off = off;
	k->ent[k->n].pos = pos;
	k->ent[k->n].ts_ms = kidx_clamp_ts(k, ts_ms);
	k->n++;
	/* The end moves to just past the entry's message (at least one byte). */
	k->s.end.off = off + 1;
	k->s.end.pos = pos + 1;
	k->s.end.ts_ms = k->ent[k->n - 1].ts_ms;
	k->dirty = 1;
	return 0;
}

/* Move the indexed end forward (kidx.h). */
int shlogfs_kidx_advance(struct shlogfs_kidx *k, uint64_t end_off, uint64_t end_pos, int64_t ts_ms)
{
	if (k->rdonly)
		return -EROFS;
	if (end_off < k->s.end.off || end_pos < k->s.end.pos || end_off > KIDX_POS_MAX || end_pos > KIDX_POS_MAX)
		return -EINVAL;
	k->s.end.off = end_off;
	k->s.end.pos = end_pos;
	k->s.end.ts_ms = kidx_clamp_ts(k, ts_ms);
	k->dirty = 1;
	return 0;
}

/* Note Kafka's new log start offset (kidx.h). */
int shlogfs_kidx_set_start(struct shlogfs_kidx *k, uint64_t start_off)
{
	if (k->rdonly)
		return -EROFS;
	if (start_off < k->s.start_off || start_off > KIDX_POS_MAX)
		return -EINVAL;
	if (start_off != k->s.start_off)
		k->dirty = 1;
	k->s.start_off = start_off;
	return 0;
}

/* Index of the first entry at or past the log start (k->n if none). */
static uint64_t kidx_first_kept(const struct shlogfs_kidx *k)
{
	uint64_t lo = 0, hi = k->n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (k->ent[mid].off < k->s.start_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Rewrite the file without the @drop entries below the log start; 0 or -errno. */
static int kidx_rewrite(struct shlogfs_kidx *k, uint64_t drop)
{
	struct kidx_slot s = k->s;
	int fd, rc;

	s.gen++;
	s.nent = k->n - drop;
	if ((rc = kidx_write_new(k->dfd, k->name, &s, k->ent + drop, s.nent)) < 0)
		return rc;
	if ((fd = shlog_file_open(k->dfd, k->name, O_RDWR, 0, S_IFREG)) < 0)
		return fd;
	shlog_file_close(k->fd);
	k->fd = fd;
	memmove(k->ent, k->ent + drop, s.nent * sizeof(*k->ent));
	k->n = k->written = s.nent;
	k->s = s;
	return 0;
}

/* Write the entries not yet in the file, from k->written on; 0 or -errno. */
static int kidx_write_tail(struct shlogfs_kidx *k)
{
	unsigned char *buf;
	int rc = 0;

	if (k->written == k->n)
		return 0;
	if (!(buf = malloc(KIDX_CHUNK)))
		return -ENOMEM;
	while (rc == 0 && k->written < k->n) {
		uint64_t m = k->n - k->written < KIDX_CHUNK / KIDX_ENT_SIZE ? k->n - k->written
									    : KIDX_CHUNK / KIDX_ENT_SIZE;
		for (uint64_t j = 0; j < m; j++)
			kidx_ent_encode(&k->ent[k->written + j], buf + j * KIDX_ENT_SIZE);
		rc = shlog_file_pwrite(k->fd, buf, m * KIDX_ENT_SIZE,
				       (off_t)(KIDX_HDR_SIZE + k->written * KIDX_ENT_SIZE));
		if (rc == 0)
			k->written += m;
	}
	free(buf);
	return rc;
}

/* Make entries, end and start durable (kidx.h). */
int shlogfs_kidx_sync(struct shlogfs_kidx *k)
{
	unsigned char slot[KIDX_SLOT_SIZE];
	uint64_t drop;
	struct kidx_slot s;
	int rc;

	if (k->rdonly)
		return -EROFS;
	if (!k->dirty)
		return 0;
	drop = kidx_first_kept(k);
	if (drop >= KIDX_REWRITE_MIN && drop >= k->n - drop) {
		if ((rc = kidx_rewrite(k, drop)) < 0)
			return rc;
		k->dirty = 0;
		return 0;
	}
	/* After a failed write or fdatasync the kernel may have dropped those pages: write them again next time. */
	if ((rc = kidx_write_tail(k)) < 0 || (rc = shlog_file_sync(k->fd, 1)) < 0) {
		k->written = k->s.nent;
		return rc;
	}
	s = k->s;
	s.gen++;
	s.nent = k->n;
	kidx_slot_encode(&s, slot);
	if ((rc = shlog_file_pwrite(k->fd, slot, KIDX_SLOT_SIZE, (off_t)((s.gen % 2) * KIDX_SLOT_SIZE))) < 0 ||
	    (rc = shlog_file_sync(k->fd, 1)) < 0)
		return rc;
	k->s = s;
	k->dirty = 0;
	return 0;
}

/* Sync and free (kidx.h). */
int shlogfs_kidx_close(struct shlogfs_kidx *k)
{
	int rc = 0;

	if (!k)
		return 0;
	if (!k->rdonly)
		rc = shlogfs_kidx_sync(k);
	kidx_free(k);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Lookups                                                           */
/* ---------------------------------------------------------------- */

/* The retained point: the first entry at or past the log start, or the end. */
static struct shlogfs_kidx_entry kidx_kept(const struct shlogfs_kidx *k, uint64_t *idx)
{
	*idx = kidx_first_kept(k);
	return *idx < k->n ? k->ent[*idx] : k->s.end;
}

/* Which field a lookup searches. */
enum kidx_key { KIDX_BY_POS, KIDX_BY_OFF, KIDX_BY_TS };

/* Whether entry @e is at or before @v in field @key (strictly before, for time). */
static int kidx_le(const struct shlogfs_kidx_entry *e, enum kidx_key key, uint64_t v)
{
	switch (key) {
	case KIDX_BY_POS:
		return e->pos <= v;
	case KIDX_BY_OFF:
		return e->off <= v;
	default:
		return e->ts_ms < (int64_t)v;
	}
}

/*
 * The one lookup: the last entry from @from on with kidx_le, or entry
 * @from when there is none; every field grows along the entries (time
 * is clamped), so a binary search finds it.
 */
static struct shlogfs_kidx_entry kidx_floor(const struct shlogfs_kidx *k, uint64_t from, enum kidx_key key,
					    uint64_t v)
{
	uint64_t lo = from, hi = k->n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (kidx_le(&k->ent[mid], key, v))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > from ? k->ent[lo - 1] : k->ent[from];
}

/* A lookup by byte or by offset: the floor entry, -ERANGE below the retained point, -ENXIO at the end. */
static int kidx_find(const struct shlogfs_kidx *k, enum kidx_key key, uint64_t v, struct shlogfs_kidx_entry *e)
{
	uint64_t from;
	struct shlogfs_kidx_entry kept = kidx_kept(k, &from);

	if (kidx_le(&k->s.end, key, v)) {
		*e = k->s.end;
		return -ENXIO;
	}
	if (!kidx_le(&kept, key, v)) {
		*e = kept;
		return -ERANGE;
	}
	*e = kidx_floor(k, from, key, v);
	return 0;
}

/* The last entry at or before byte @pos (kidx.h). */
int shlogfs_kidx_find_pos(const struct shlogfs_kidx *k, uint64_t pos, struct shlogfs_kidx_entry *e)
{
	return kidx_find(k, KIDX_BY_POS, pos, e);
}

/* The last entry at or before Kafka offset @off (kidx.h). */
int shlogfs_kidx_find_off(const struct shlogfs_kidx *k, uint64_t off, struct shlogfs_kidx_entry *e)
{
	return kidx_find(k, KIDX_BY_OFF, off, e);
}

/* Where to read from for the first message at or after @ts_ms (kidx.h). */
int shlogfs_kidx_find_time(const struct shlogfs_kidx *k, int64_t ts_ms, struct shlogfs_kidx_entry *e)
{
	uint64_t from;
	struct shlogfs_kidx_entry kept = kidx_kept(k, &from);

	if (ts_ms > k->s.end.ts_ms || k->s.end.pos == 0) {
		*e = k->s.end;
		return -ENXIO;
	}
	if (from == k->n) {
		*e = kept;
		return -ERANGE;
	}
	*e = kidx_floor(k, from, KIDX_BY_TS, (uint64_t)(ts_ms < 0 ? 0 : ts_ms));
	return 0;
}

/* Entry @i (kidx.h). */
int shlogfs_kidx_entry(const struct shlogfs_kidx *k, uint64_t i, struct shlogfs_kidx_entry *e)
{
	if (i >= k->n)
		return -ENOENT;
	*e = k->ent[i];
	return 0;
}

/* What the index holds (kidx.h). */
void shlogfs_kidx_info(const struct shlogfs_kidx *k, struct shlogfs_kidx_info *out)
{
	uint64_t from;

	out->stride = k->s.stride;
	out->nent = k->n;
	out->gen = k->s.gen;
	out->start_off = k->s.start_off;
	out->end = k->s.end;
	out->kept = kidx_kept(k, &from);
	out->cut_bytes = k->cut_bytes;
}
