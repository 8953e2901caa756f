/*
 * format_i.h — encoding and validation of shlog's binary records: index
 * entries, anchor slots and the key snapshot header.  The byte layouts
 * are given in docs/FORMAT.md and at the top of format.c.
 */
#ifndef SHLOG_FORMAT_I_H
#define SHLOG_FORMAT_I_H

#include <stdint.h>
#include "shlog.h"
#include "const_i.h"

/** The decoded contents of one anchor slot. */
struct shlog_anchor {
	uint16_t flags;
	uint64_t gen;
	uint64_t committed_seq, committed_off;
	uint64_t seg_base_seq;
	int64_t last_flush_ns;
	uint64_t keys_seq, keys_off, keys_snap_seq;
	uint64_t nkeys;
	uint64_t durable_seq;
	unsigned char boot_id[16];
};

/** The decoded header of a key snapshot. */
struct shlog_keys_hdr {
	uint64_t seq, off, count;
};

/** One durable cursor (cursors file record, decoded). */
struct sl_cursor {
	uint64_t seq;                           /* the next message to deliver */
	char name[SHLOG_CURSOR_NAME_MAX + 1];   /* NUL-terminated */
};

/* Index entries */
void sl_entry_encode(const struct shlog_index_entry *e, unsigned char out[SHLOG_IDX_ENTRY_SIZE]);
/* 0 if the entry's own CRC and field rules hold, else -EUCLEAN and *why (if not NULL). */
int sl_entry_decode(const unsigned char in[SHLOG_IDX_ENTRY_SIZE], struct shlog_index_entry *e,
		       const char **why);

/* Anchor slots */
void sl_anchor_encode(const struct shlog_anchor *a, unsigned char out[SHLOG_ANCHOR_SLOT_SIZE]);
int sl_anchor_decode(const unsigned char in[SHLOG_ANCHOR_SLOT_SIZE], struct shlog_anchor *a);
/* Pick the valid slot with the highest generation from a whole file; -ENOENT if none. */
int sl_anchor_pick(const unsigned char *file, size_t len, struct shlog_anchor *a);

/* Key snapshot header and records */
void sl_keys_hdr_encode(const struct shlog_keys_hdr *h, unsigned char out[SHLOG_KEYS_HDR_SIZE]);
int sl_keys_hdr_decode(const unsigned char in[SHLOG_KEYS_HDR_SIZE], struct shlog_keys_hdr *h);
/*
 * Check a whole snapshot image (header, every record, trailer) and call
 * @fn (if not NULL) for each record; -EUCLEAN with *why at the first rule
 * broken, or @fn's non-zero return.
 */
int sl_keys_image_walk(const unsigned char *img, size_t len, struct shlog_keys_hdr *h,
			  int (*fn)(const struct shlog_keyref *ref, const unsigned char *key, void *arg),
			  void *arg, const char **why);

/*
 * ---- The validator: every rule of docs/FORMAT.md, "Validity rules" ----
 *
 * One implementation of each rule, used by recovery, reads, verify,
 * repair and key replay.  A check only judges: it returns 0, or -EUCLEAN
 * with *why (when why is not NULL) naming the rule that failed, a
 * constant string for the caller's report.  What a failure means is the
 * caller's policy: recovery cuts the log there, a read refuses the span
 * with EIO, verify reports it, key loading ignores the snapshot.
 */
/* An entry on its own (done by sl_entry_decode after its CRC). */
int sl_check_entry(const struct shlog_index_entry *e, const char **why);
/* The first entry of the segment named @base_seq. */
int sl_check_entry_first(const struct shlog_index_entry *e, uint64_t base_seq, const char **why);
/* An entry against the one before it (in its segment or the previous one). */
int sl_check_entry_next(const struct shlog_index_entry *prev, const struct shlog_index_entry *e,
			   const char **why);
/* An entry against its segment: its span lies in the .log of @log_size bytes from @base_off. */
int sl_check_entry_bounds(const struct shlog_index_entry *e, uint64_t base_off, uint64_t log_size,
			     const char **why);
/* A segment ends where the next starts: its indexed messages end at @next_base_seq (the next one's name). */
int sl_check_seg_next(uint64_t end_seq, uint64_t next_base_seq, const char **why);
/* A segment that is not the tail: its last entry @last ends its .log of @log_size bytes from @base_off. */
int sl_check_seg_covered(const struct shlog_index_entry *last, uint64_t base_off, uint64_t log_size,
			 const char **why);
/* A span's e->len bytes against its entry: CRC, newline count, last byte. */
int sl_check_span(const struct shlog_index_entry *e, const void *bytes, const char **why);
/* An anchor slot's fields against each other (done by sl_anchor_decode). */
int sl_check_anchor(const struct shlog_anchor *a, const char **why);
/* The anchor against the segments: the newest one is named @last_base_seq. */
int sl_check_anchor_segs(const struct shlog_anchor *a, uint64_t last_base_seq, const char **why);
/* A snapshot header against the log it is for: [start, committed] as seq and offset. */
int sl_check_keys_fit(const struct shlog_keys_hdr *h, uint64_t start_seq, uint64_t start_off,
			 uint64_t committed_seq, uint64_t committed_off, const char **why);
/*
 * Cursors (the `cursors` file, two slots).  Encode @n cursors (in
 * strictly ascending name order) with generation @gen into @out (room
 * for SHLOG_CURSOR_SLOT_SIZE); returns the bytes used.
 */
size_t sl_cursors_encode(const struct sl_cursor *c, uint32_t n, uint64_t gen, unsigned char *out);
/*
 * The newest valid slot of a cursors file's @len bytes: its cursors into
 * @out (room for SHLOG_CURSORS_MAX), their count and generation; -EUCLEAN
 * with *why if no slot is valid (or the file is too long).
 */
int sl_cursors_pick(const unsigned char *file, size_t len, struct sl_cursor *out, uint32_t *n,
		    uint64_t *gen, const char **why);
/* A cursor against its partition's log: not past @end_seq. */
int sl_check_cursor_fit(const struct sl_cursor *c, uint64_t end_seq, const char **why);

/* Number of '\n' bytes in buf. */
uint64_t sl_count_newlines(const void *buf, size_t len);

#endif
