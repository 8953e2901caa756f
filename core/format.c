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
 *   The rules that make an entry valid (on its own, against the one
 *   before it, against its segment, against its span's bytes) are the
 *   validator's, at the end of this file, in the order of docs/FORMAT.md.
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
 *   Valid when magic, version and CRC match and the fields agree (the
 *   validator below); the valid slot with the highest generation wins.
 *   Slot = generation % 2.
 *
 * Key snapshot header, 40 bytes:
 *
 *     0 u32 magic "SHLK"  4 u16 version 1  6 u16 zero  8 u64 seq
 *    16 u64 off  24 u64 count  32 u32 zero  36 u32 CRC32C of 0..35
 *   then count records (0 u64 seq  8 u64 off  16 i64 time_ns  24 u32 len
 *   28 u16 klen  30 u16 zero  32 klen key bytes) and a u32 CRC32C of
 *   all record bytes.
 *
 * Cursors file, two slots of 128 KiB at 0 and 131072 (slot = generation % 2):
 *
 *     0 u32 magic "SHLC"  4 u16 version 1  6 u16 zero  8 u64 generation
 *    16 u32 count (<= 1024)  20 u32 zero  24 u64 zero
 *    32 count records of 80 bytes: 0 u64 seq  8 u8 nlen (1..64)  9..15 zero
 *       16 64 bytes: the name, zero-padded
 *    32+80*count  u32 CRC32C of bytes 0 .. 32+80*count-1; the slot's rest is not read
 *
 *   Valid when magic, version, zero fields and CRC hold, generation >= 1
 *   and its parity is the slot's, and every record's name passes
 *   shlog_cursor_name_check() with zeros after it, its seq is at most
 *   2^63 - 1, and names are strictly ascending (byte order).  The valid
 *   slot with the highest generation is the file's content.
 */
#include <errno.h>
#include <string.h>
#include <sys/endian.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "crc_i.h"
#include "format_i.h"

/* ---------------------------------------------------------------- */
/* The frame every record shares                                     */
/* ---------------------------------------------------------------- */

/*
 * The records differ only in their fields, one line each in the encoders
 * and decoders below, in the order of the layouts above: those lines are
 * the format's data, not logic spelled out twice.
 */

/* Start a @size-byte record: zeros, then its magic (u32 at 0) and version (u16 at 4). */
static void frame_start(unsigned char *out, size_t size, uint32_t magic, uint16_t version)
{
	memset(out, 0, size);
	le32enc(out + 0, magic);
	le16enc(out + 4, version);
}

/* Seal a @size-byte record: its last 4 bytes get the CRC32C of all before them. */
static void frame_seal(unsigned char *out, size_t size)
{
	le32enc(out + size - 4, sl_crc32c(out, size - 4));
}

/* Whether a @size-byte record's last 4 bytes hold the CRC32C of all before them. */
static int frame_crc_ok(const unsigned char *in, size_t size)
{
	return le32dec(in + size - 4) == sl_crc32c(in, size - 4);
}

/* Whether a @size-byte record has @magic, @version and its CRC32C. */
static int frame_ok(const unsigned char *in, size_t size, uint32_t magic, uint16_t version)
{
	return le32dec(in) == magic && le16dec(in + 4) == version && frame_crc_ok(in, size);
}

/* ---------------------------------------------------------------- */
/* Index entries                                                     */
/* ---------------------------------------------------------------- */

/* Serialise an index entry, computing its own CRC. */
void sl_entry_encode(const struct shlog_index_entry *e, unsigned char out[SHLOG_IDX_ENTRY_SIZE])
{
	le64enc(out + 0, e->seq);
	le64enc(out + 8, e->off);
	le64enc(out + 16, (uint64_t)e->time_ns);
	le32enc(out + 24, e->len);
	le32enc(out + 28, e->count);
	le32enc(out + 32, e->crc);
	frame_seal(out, SHLOG_IDX_ENTRY_SIZE);
}

static int bad(const char **why, const char *what);

/* Parse an index entry; -EUCLEAN (and *why) if its CRC or field rules fail. */
int sl_entry_decode(const unsigned char in[SHLOG_IDX_ENTRY_SIZE], struct shlog_index_entry *e,
		       const char **why)
{
	if (!frame_crc_ok(in, SHLOG_IDX_ENTRY_SIZE))
		return bad(why, "index entry fails its checksum (crc_entry)");
	e->seq = le64dec(in + 0);
	e->off = le64dec(in + 8);
	e->time_ns = (int64_t)le64dec(in + 16);
	e->len = le32dec(in + 24);
	e->count = le32dec(in + 28);
	e->crc = le32dec(in + 32);
	return sl_check_entry(e, why);
}

/* ---------------------------------------------------------------- */
/* Anchor slots                                                      */
/* ---------------------------------------------------------------- */

/* Serialise one anchor slot (512 bytes, zero-padded, CRC at the end). */
void sl_anchor_encode(const struct shlog_anchor *a, unsigned char out[SHLOG_ANCHOR_SLOT_SIZE])
{
	frame_start(out, SHLOG_ANCHOR_SLOT_SIZE, SHLOG_ANCHOR_MAGIC, SHLOG_ANCHOR_VERSION);
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
	frame_seal(out, SHLOG_ANCHOR_SLOT_SIZE);
}

/* Parse one anchor slot; -EUCLEAN unless magic, version and CRC hold. */
int sl_anchor_decode(const unsigned char in[SHLOG_ANCHOR_SLOT_SIZE], struct shlog_anchor *a)
{
	if (!frame_ok(in, SHLOG_ANCHOR_SLOT_SIZE, SHLOG_ANCHOR_MAGIC, SHLOG_ANCHOR_VERSION))
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
	return sl_check_anchor(a, NULL);
}

/* Choose the newest valid slot of an anchor file's bytes. */
int sl_anchor_pick(const unsigned char *file, size_t len, struct shlog_anchor *a)
{
	struct shlog_anchor s[2];
	int ok[2] = { 0, 0 };

	for (int i = 0; i < 2; i++)
		if (len >= (size_t)(i + 1) * SHLOG_ANCHOR_SLOT_SIZE)
			ok[i] = sl_anchor_decode(file + i * SHLOG_ANCHOR_SLOT_SIZE, &s[i]) == 0 &&
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
void sl_keys_hdr_encode(const struct shlog_keys_hdr *h, unsigned char out[SHLOG_KEYS_HDR_SIZE])
{
	frame_start(out, SHLOG_KEYS_HDR_SIZE, SHLOG_KEYS_MAGIC, SHLOG_KEYS_VERSION);
	le64enc(out + 8, h->seq);
	le64enc(out + 16, h->off);
	le64enc(out + 24, h->count);
	frame_seal(out, SHLOG_KEYS_HDR_SIZE);
}

/* Parse a key snapshot header; -EUCLEAN if it is not one. */
int sl_keys_hdr_decode(const unsigned char in[SHLOG_KEYS_HDR_SIZE], struct shlog_keys_hdr *h)
{
	if (!frame_ok(in, SHLOG_KEYS_HDR_SIZE, SHLOG_KEYS_MAGIC, SHLOG_KEYS_VERSION) ||
	    le16dec(in + 6) != 0 || le32dec(in + 32) != 0)
		return -EUCLEAN;
	h->seq = le64dec(in + 8);
	h->off = le64dec(in + 16);
	h->count = le64dec(in + 24);
	return 0;
}

/* Fail with rule @what: the validator's one way of saying no. */
static int bad(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EUCLEAN;
}

/* Decode and check one snapshot record at img[pos] (records end at @end); its size in *n. */
static int keys_rec_decode(const unsigned char *img, size_t pos, size_t end, const struct shlog_keys_hdr *h,
			   struct shlog_keyref *ref, size_t *n, const char **why)
{
	const unsigned char *r = img + pos;

	if (end - pos < SHLOG_KEYS_REC_SIZE)
		return bad(why, "key record runs past the end of the records");
	ref->seq = le64dec(r);
	ref->off = le64dec(r + 8);
	ref->time_ns = (int64_t)le64dec(r + 16);
	ref->len = le32dec(r + 24);
	ref->klen = le16dec(r + 28);
	if (ref->klen == 0 || ref->klen > SHLOG_KEY_MAX || le16dec(r + 30) != 0)
		return bad(why, "key record: key length not 1..255, or its zero field is not zero");
	if (end - pos - SHLOG_KEYS_REC_SIZE < ref->klen)
		return bad(why, "key record's key runs past the end of the records");
	if (memchr(r + SHLOG_KEYS_REC_SIZE, '\t', ref->klen) || memchr(r + SHLOG_KEYS_REC_SIZE, '\n', ref->klen))
		return bad(why, "key record: the key holds a TAB or a newline");
	if (ref->len < ref->klen + 2 || ref->len > SHLOG_MESSAGE_LIMIT || ref->time_ns < 0)
		return bad(why, "key record: message length or time out of range");
	if (ref->seq >= h->seq || ref->off < ref->seq || ref->off > h->off ||
	    h->off - ref->off < (uint64_t)ref->len + 1 || h->off - ref->off - ref->len - 1 < h->seq - ref->seq - 1)
		return bad(why, "key record: message not inside the log before the snapshot's point");
	*n = SHLOG_KEYS_REC_SIZE + ref->klen;
	return 0;
}

/* Check a snapshot image and hand each record to @fn; see format_i.h. */
int sl_keys_image_walk(const unsigned char *img, size_t len, struct shlog_keys_hdr *h,
			  int (*fn)(const struct shlog_keyref *ref, const unsigned char *key, void *arg),
			  void *arg, const char **why)
{
	size_t pos = SHLOG_KEYS_HDR_SIZE, end;

	if (len < SHLOG_KEYS_HDR_SIZE + 4 || sl_keys_hdr_decode(img, h) < 0)
		return bad(why, "key snapshot header: too short, or magic, version, zero fields or CRC wrong");
	end = len - 4;
	if (le32dec(img + end) != sl_crc32c(img + pos, end - pos))
		return bad(why, "key snapshot records fail their CRC");
	if (h->off < h->seq || h->off > SHLOG_POS_MAX || h->count > (end - pos) / SHLOG_KEYS_REC_SIZE)
		return bad(why, "key snapshot header: offset or record count out of range");
	for (uint64_t i = 0; i < h->count; i++) {
		struct shlog_keyref ref;
		size_t n;
		int rc = keys_rec_decode(img, pos, end, h, &ref, &n, why);
		if (rc == 0 && fn)
			rc = fn(&ref, img + pos + SHLOG_KEYS_REC_SIZE, arg);
		if (rc)
			return rc;
		pos += n;
	}
	return pos == end ? 0 : bad(why, "key snapshot: bytes after the last record");
}

/* ---------------------------------------------------------------- */
/* The validator (docs/FORMAT.md, "Validity rules")                  */
/* ---------------------------------------------------------------- */

/* Rules of an index entry on its own. */
int sl_check_entry(const struct shlog_index_entry *e, const char **why)
{
	if (e->count == 0 || e->len < e->count)
		return bad(why, "index entry: count is 0 or len < count");
	if (e->count > 1 ? e->len > SHLOG_SPAN_MAX_BYTES : e->len > SHLOG_MESSAGE_LIMIT + 1)
		return bad(why, "index entry: len over the span limit");
	if (e->seq > SHLOG_POS_MAX - e->count || e->off > SHLOG_POS_MAX - e->len || e->off < e->seq)
		return bad(why, "index entry: seq or offset out of range");
	if (e->time_ns < 0)
		return bad(why, "index entry: negative time");
	return 0;
}

/* The first entry of a segment has the seq in the segment's name. */
int sl_check_entry_first(const struct shlog_index_entry *e, uint64_t base_seq, const char **why)
{
	return e->seq == base_seq ? 0 : bad(why, "first index entry's seq is not the segment's name");
}

/* Entries follow each other: seq, offset and time. */
int sl_check_entry_next(const struct shlog_index_entry *prev, const struct shlog_index_entry *e,
			   const char **why)
{
	if (e->seq != prev->seq + prev->count || e->off != prev->off + prev->len)
		return bad(why, "index entry does not follow the previous one (seq or offset)");
	if (e->time_ns < prev->time_ns)
		return bad(why, "index entry's time goes back");
	return 0;
}

/* An entry's span lies within its segment's .log file. */
int sl_check_entry_bounds(const struct shlog_index_entry *e, uint64_t base_off, uint64_t log_size,
			     const char **why)
{
	if (e->off < base_off || e->off - base_off > log_size || e->len > log_size - (e->off - base_off))
		return bad(why, "span lies outside the .log file (data missing)");
	return 0;
}

/* Segments follow each other: one ends at the message the next is named after. */
int sl_check_seg_next(uint64_t end_seq, uint64_t next_base_seq, const char **why)
{
	return end_seq == next_base_seq ? 0 : bad(why, "segment does not end where the next one starts (messages "
						  "missing or repeated between them)");
}

/* A segment before the tail is indexed to its last byte (only the tail may hold an unindexed torn block). */
int sl_check_seg_covered(const struct shlog_index_entry *last, uint64_t base_off, uint64_t log_size,
			 const char **why)
{
	if (last->off < base_off || last->off + last->len - base_off != log_size)
		return bad(why, "bytes of a segment before the tail are not covered by its index (missing or cut data)");
	return 0;
}

#if defined(__SSE2__)
/* Newlines in 16-byte blocks, 255 blocks at a time per byte lane. */
static uint64_t newlines_sse2(const unsigned char *p, size_t nblocks)
{
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	uint64_t n = 0;

	while (nblocks > 0) {
		size_t k = nblocks < 255 ? nblocks : 255;
		__m128i acc = zero, sum;
		for (size_t i = 0; i < k; i++, p += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), nl));
		sum = _mm_sad_epu8(acc, zero);
		n += (uint64_t)_mm_cvtsi128_si32(sum) + (uint64_t)_mm_extract_epi16(sum, 4);
		nblocks -= k;
	}
	return n;
}
#endif

/* Count the '\n' bytes of buf (the span rule; SSE2 where there is one). */
uint64_t sl_count_newlines(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t n = 0;
	size_t i = 0;

#if defined(__SSE2__)
	n = newlines_sse2(p, len / 16);
	i = len / 16 * 16;
#endif
	for (; i < len; i++)
		n += p[i] == '\n';
	return n;
}

/* A span's bytes against its entry: CRC, one newline per message, ending in one. */
int sl_check_span(const struct shlog_index_entry *e, const void *bytes, const char **why)
{
	const unsigned char *b = bytes;

	if (sl_crc32c(b, e->len) != e->crc)
		return bad(why, "span fails its checksum (crc_data)");
	if (b[e->len - 1] != '\n' || sl_count_newlines(b, e->len) != e->count)
		return bad(why, "span's newlines do not match its message count");
	return 0;
}

/* An anchor's fields against each other. */
int sl_check_anchor(const struct shlog_anchor *a, const char **why)
{
	if (a->flags & ~(SHLOG_ANCHOR_FLAG_CLEAN | SHLOG_ANCHOR_FLAG_SYNC_FAILED))
		return bad(why, "anchor: unknown flags");
	if (a->committed_seq > a->committed_off || a->committed_off > SHLOG_POS_MAX || a->last_flush_ns < 0)
		return bad(why, "anchor: committed point or time out of range");
	if (a->durable_seq > a->committed_seq || a->seg_base_seq > a->committed_seq ||
	    a->keys_snap_seq > a->committed_seq || a->nkeys > a->committed_seq)
		return bad(why, "anchor: durable_seq, seg_base_seq, keys_snap_seq or nkeys past committed_seq");
	if (a->keys_seq > a->committed_seq || a->keys_off > a->committed_off || a->keys_seq > a->keys_off ||
	    a->committed_off - a->keys_off < a->committed_seq - a->keys_seq)
		return bad(why, "anchor: keys_seq/keys_off do not fit the committed point");
	return 0;
}

/* The anchor against the segments there are. */
int sl_check_anchor_segs(const struct shlog_anchor *a, uint64_t last_base_seq, const char **why)
{
	if (a->seg_base_seq > last_base_seq)
		return bad(why, "anchor names a segment after the last one there is (segments missing)");
	return 0;
}

/* A snapshot's point lies in the log: between its first retained message and committed_seq. */
int sl_check_keys_fit(const struct shlog_keys_hdr *h, uint64_t start_seq, uint64_t start_off,
			 uint64_t committed_seq, uint64_t committed_off, const char **why)
{
	if (h->seq < start_seq || h->seq > committed_seq || h->off < start_off || h->off > committed_off ||
	    h->off - start_off < h->seq - start_seq || committed_off - h->off < committed_seq - h->seq)
		return bad(why, "key snapshot's point is not inside the log");
	return 0;
}

/* ---------------------------------------------------------------- */
/* Cursors                                                           */
/* ---------------------------------------------------------------- */

/* Serialise @n cursors with generation @gen: header, records, CRC. */
size_t sl_cursors_encode(const struct sl_cursor *c, uint32_t n, uint64_t gen, unsigned char *out)
{
	size_t len = SHLOG_CURSOR_HDR_SIZE + (size_t)n * SHLOG_CURSOR_REC_SIZE + 4;

	frame_start(out, len, SHLOG_CURSOR_MAGIC, SHLOG_CURSOR_VERSION);
	le64enc(out + 8, gen);
	le32enc(out + 16, n);
	for (uint32_t i = 0; i < n; i++) {
		unsigned char *r = out + SHLOG_CURSOR_HDR_SIZE + (size_t)i * SHLOG_CURSOR_REC_SIZE;
		size_t nlen = strlen(c[i].name);
		le64enc(r, c[i].seq);
		r[8] = (unsigned char)nlen;
		memcpy(r + 16, c[i].name, nlen);
	}
	frame_seal(out, len);
	return len;
}

/* Whether @n bytes at @b are all zero. */
static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Decode and check one cursor record; @prev (or NULL) is the one before it. */
static int cursor_rec_decode(const unsigned char *r, const struct sl_cursor *prev, struct sl_cursor *c,
			     const char **why)
{
	size_t nlen = r[8];

	if (nlen < 1 || nlen > SHLOG_CURSOR_NAME_MAX || !all_zero(r + 9, 7) ||
	    !all_zero(r + 16 + nlen, SHLOG_CURSOR_NAME_MAX - nlen))
		return bad(why, "cursor record: bad name length or non-zero padding");
	memcpy(c->name, r + 16, nlen);
	c->name[nlen] = '\0';
	c->seq = le64dec(r);
	if (shlog_cursor_name_check(c->name))
		return bad(why, "cursor record: not a cursor name");
	if (c->seq > SHLOG_POS_MAX)
		return bad(why, "cursor record: sequence number out of range");
	if (prev && strcmp(prev->name, c->name) >= 0)
		return bad(why, "cursor records: names not strictly ascending");
	return 0;
}

/* Decode and check the slot at @in (@len bytes of it in the file). */
static int cursor_slot_decode(const unsigned char *in, size_t len, struct sl_cursor *out, uint32_t *n,
			      uint64_t *gen, const char **why)
{
	uint32_t count;
	size_t size;

	if (len < SHLOG_CURSOR_HDR_SIZE + 4)
		return bad(why, "cursors slot: shorter than a header");
	count = le32dec(in + 16);
	if (count > SHLOG_CURSORS_MAX)
		return bad(why, "cursors slot: more than 1024 records");
	size = SHLOG_CURSOR_HDR_SIZE + (size_t)count * SHLOG_CURSOR_REC_SIZE + 4;
	if (size > len)
		return bad(why, "cursors slot: its records pass the end of the file");
	if (!frame_ok(in, size, SHLOG_CURSOR_MAGIC, SHLOG_CURSOR_VERSION))
		return bad(why, "cursors slot: bad magic, version or checksum");
	if (le16dec(in + 6) || le32dec(in + 20) || le64dec(in + 24))
		return bad(why, "cursors slot: reserved fields are not zero");
	*gen = le64dec(in + 8);
	if (*gen == 0)
		return bad(why, "cursors slot: generation 0");
	for (uint32_t i = 0; i < count; i++) {
		int rc = cursor_rec_decode(in + SHLOG_CURSOR_HDR_SIZE + (size_t)i * SHLOG_CURSOR_REC_SIZE,
					   i ? &out[i - 1] : NULL, &out[i], why);
		if (rc)
			return rc;
	}
	*n = count;
	return 0;
}

/* Bytes of slot @i in a file of @len bytes. */
static size_t cursor_slot_have(size_t len, int i)
{
	size_t at = (size_t)i * SHLOG_CURSOR_SLOT_SIZE;
	size_t have = len > at ? len - at : 0;

	return have > SHLOG_CURSOR_SLOT_SIZE ? SHLOG_CURSOR_SLOT_SIZE : have;
}

/* The newest valid slot of a cursors file (the winner is decoded again into @out). */
int sl_cursors_pick(const unsigned char *file, size_t len, struct sl_cursor *out, uint32_t *n,
		    uint64_t *gen, const char **why)
{
	uint64_t g[2] = { 0, 0 };
	uint32_t cnt;
	int best = -1;
	const char *w = "cursors file: no valid slot";

	if (len > SHLOG_CURSOR_FILE_MAX)
		return bad(why, "cursors file: longer than two slots");
	for (int i = 0; i < 2; i++) {
		if (cursor_slot_decode(file + (size_t)i * SHLOG_CURSOR_SLOT_SIZE, cursor_slot_have(len, i),
				       out, &cnt, &g[i], &w))
			continue;
		if (g[i] % 2 != (uint64_t)i)
			w = "cursors slot: its generation belongs to the other slot";
		else if (best < 0 || g[i] > g[best])
			best = i;
	}
	if (best < 0)
		return bad(why, w);
	return cursor_slot_decode(file + (size_t)best * SHLOG_CURSOR_SLOT_SIZE, cursor_slot_have(len, best),
				  out, n, gen, why);
}

/* A cursor must not be past the log's end (the next message to deliver is at most end_seq). */
int sl_check_cursor_fit(const struct sl_cursor *c, uint64_t end_seq, const char **why)
{
	if (c->seq > end_seq)
		return bad(why, "cursor is past the end of the log");
	return 0;
}
