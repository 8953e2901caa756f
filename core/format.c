/*
 * format.c — shlog's binary records, byte by byte.  (docs/FORMAT.md has
 * the whole story with examples; this is the code that owns the bytes.)
 *
 * Index entry, 40 bytes, little-endian, one per span of messages:
 *
 *     0  u64 seq        first message of the span
 *     8  u64 off        log offset of the span's first byte
 *    16  i64 time_ns    block time, ns since the Unix epoch
 *    24  u32 len        span bytes (each message with its '\n')
 *    28  u32 count      span messages, >= 1
 *    32  u32 crc_data   CRC32C of the span's bytes
 *    36  u32 crc_entry  CRC32C of bytes 0..35
 *
 *   Valid when crc_entry matches, count >= 1 and len >= count.  The
 *   contiguity rules (seq and off follow the previous entry) and the data
 *   CRC are checked by the callers that have the neighbours and the data.
 *
 * Anchor slot, 512 bytes (the anchor file holds two, at 0 and 512):
 *
 *     0  u32 magic "SHLA"   4 u16 version 1   6 u16 flags (1 = clean close)
 *     8  u64 generation    16 u64 committed_seq   24 u64 committed_off
 *    32  u64 seg_base_seq  40 i64 last_flush_ns   48 u64 keys_seq
 *    56  u64 keys_off      64 u64 keys_snap_seq   72 u64 nkeys
 *    80  u64 durable_seq   88 16 bytes boot_id    104..507 zero
 *   508  u32 CRC32C of 0..507
 *   flags: 1 = written by a clean close, 2 = an fdatasync had failed
 *
 *   Valid when magic, version and CRC match; the valid slot with the
 *   highest generation wins.  Slot = generation % 2.
 *
 * Key snapshot header, 40 bytes:
 *
 *     0 u32 magic "SHLK"  4 u16 version 1  6 u16 zero  8 u64 seq
 *    16 u64 off  24 u64 count  32 u32 zero  36 u32 CRC32C of 0..35
 */
#include <errno.h>
#include <string.h>
#include <sys/endian.h>

#include "crc_i.h"
#include "format_i.h"

/* ---------------------------------------------------------------- */
/* Index entries                                                     */
/* ---------------------------------------------------------------- */

/* Serialise an index entry, computing its own CRC. */
void shlog_entry_encode(const struct shlog_index_entry *e, unsigned char out[SHLOG_IDX_ENTRY_SIZE])
{
	le64enc(out + 0, e->seq);
	le64enc(out + 8, e->off);
	le64enc(out + 16, (uint64_t)e->time_ns);
	le32enc(out + 24, e->len);
	le32enc(out + 28, e->count);
	le32enc(out + 32, e->crc);
	le32enc(out + 36, shlog_crc32c(out, 36));
}

/* Parse an index entry; -EUCLEAN if its CRC or field rules fail. */
int shlog_entry_decode(const unsigned char in[SHLOG_IDX_ENTRY_SIZE], struct shlog_index_entry *e)
{
	if (le32dec(in + 36) != shlog_crc32c(in, 36))
		return -EUCLEAN;
	e->seq = le64dec(in + 0);
	e->off = le64dec(in + 8);
	e->time_ns = (int64_t)le64dec(in + 16);
	e->len = le32dec(in + 24);
	e->count = le32dec(in + 28);
	e->crc = le32dec(in + 32);
	if (e->count == 0 || e->len < e->count)
		return -EUCLEAN;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Anchor slots                                                      */
/* ---------------------------------------------------------------- */

/* Serialise one anchor slot (512 bytes, zero-padded, CRC at the end). */
void shlog_anchor_encode(const struct shlog_anchor *a, unsigned char out[SHLOG_ANCHOR_SLOT_SIZE])
{
	memset(out, 0, SHLOG_ANCHOR_SLOT_SIZE);
	le32enc(out + 0, SHLOG_ANCHOR_MAGIC);
	le16enc(out + 4, SHLOG_ANCHOR_VERSION);
	le16enc(out + 6, a->flags);
	le64enc(out + 8, a->gen);
	le64enc(out + 16, a->committed_seq);
	le64enc(out + 24, a->committed_off);
	le64enc(out + 32, a->seg_base_seq);
	le64enc(out + 40, (uint64_t)a->last_flush_ns);
	le64enc(out + 48, a->keys_seq);
	le64enc(out + 56, a->keys_off);
	le64enc(out + 64, a->keys_snap_seq);
	le64enc(out + 72, a->nkeys);
	le64enc(out + 80, a->durable_seq);
	memcpy(out + 88, a->boot_id, 16);
	le32enc(out + SHLOG_ANCHOR_SLOT_SIZE - 4,
		shlog_crc32c(out, SHLOG_ANCHOR_SLOT_SIZE - 4));
}

/* Parse one anchor slot; -EUCLEAN unless magic, version and CRC hold. */
int shlog_anchor_decode(const unsigned char in[SHLOG_ANCHOR_SLOT_SIZE], struct shlog_anchor *a)
{
	if (le32dec(in) != SHLOG_ANCHOR_MAGIC ||
	    le16dec(in + 4) != SHLOG_ANCHOR_VERSION ||
	    le32dec(in + SHLOG_ANCHOR_SLOT_SIZE - 4) !=
		    shlog_crc32c(in, SHLOG_ANCHOR_SLOT_SIZE - 4))
		return -EUCLEAN;
	a->flags = le16dec(in + 6);
	a->gen = le64dec(in + 8);
	a->committed_seq = le64dec(in + 16);
	a->committed_off = le64dec(in + 24);
	a->seg_base_seq = le64dec(in + 32);
	a->last_flush_ns = (int64_t)le64dec(in + 40);
	a->keys_seq = le64dec(in + 48);
	a->keys_off = le64dec(in + 56);
	a->keys_snap_seq = le64dec(in + 64);
	a->nkeys = le64dec(in + 72);
	a->durable_seq = le64dec(in + 80);
	memcpy(a->boot_id, in + 88, 16);
	if (a->keys_seq > a->committed_seq || a->keys_off > a->committed_off ||
	    a->durable_seq > a->committed_seq || a->seg_base_seq > a->committed_seq)
		return -EUCLEAN;
	return 0;
}

/* Choose the newest valid slot of an anchor file's bytes. */
int shlog_anchor_pick(const unsigned char *file, size_t len, struct shlog_anchor *a)
{
	struct shlog_anchor s[2];
	int ok[2] = { 0, 0 };

	for (int i = 0; i < 2; i++)
		if (len >= (size_t)(i + 1) * SHLOG_ANCHOR_SLOT_SIZE)
			ok[i] = shlog_anchor_decode(file + i * SHLOG_ANCHOR_SLOT_SIZE, &s[i]) == 0 &&
				s[i].gen % 2 == (uint64_t)i;
	if (!ok[0] && !ok[1])
		return -ENOENT;
	if (ok[0] && (!ok[1] || s[0].gen > s[1].gen))
		*a = s[0];
	else
		*a = s[1];
	return 0;
}

/* ---------------------------------------------------------------- */
/* Key snapshot header                                               */
/* ---------------------------------------------------------------- */

/* Serialise a key snapshot header. */
void shlog_keys_hdr_encode(const struct shlog_keys_hdr *h, unsigned char out[SHLOG_KEYS_HDR_SIZE])
{
	memset(out, 0, SHLOG_KEYS_HDR_SIZE);
	le32enc(out + 0, SHLOG_KEYS_MAGIC);
	le16enc(out + 4, SHLOG_KEYS_VERSION);
	le64enc(out + 8, h->seq);
	le64enc(out + 16, h->off);
	le64enc(out + 24, h->count);
	le32enc(out + 36, shlog_crc32c(out, 36));
}

/* Parse a key snapshot header; -EUCLEAN if it is not one. */
int shlog_keys_hdr_decode(const unsigned char in[SHLOG_KEYS_HDR_SIZE], struct shlog_keys_hdr *h)
{
	if (le32dec(in) != SHLOG_KEYS_MAGIC || le16dec(in + 4) != SHLOG_KEYS_VERSION ||
	    le32dec(in + 36) != shlog_crc32c(in, 36))
		return -EUCLEAN;
	h->seq = le64dec(in + 8);
	h->off = le64dec(in + 16);
	h->count = le64dec(in + 24);
	return 0;
}
