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

/* Index entries */
void shlog_entry_encode(const struct shlog_index_entry *e, unsigned char out[SHLOG_IDX_ENTRY_SIZE]);
/* 0 if the entry's own CRC and field rules hold, else -EUCLEAN. */
int shlog_entry_decode(const unsigned char in[SHLOG_IDX_ENTRY_SIZE], struct shlog_index_entry *e);

/* Anchor slots */
void shlog_anchor_encode(const struct shlog_anchor *a, unsigned char out[SHLOG_ANCHOR_SLOT_SIZE]);
int shlog_anchor_decode(const unsigned char in[SHLOG_ANCHOR_SLOT_SIZE], struct shlog_anchor *a);
/* Pick the valid slot with the highest generation from a whole file; -ENOENT if none. */
int shlog_anchor_pick(const unsigned char *file, size_t len, struct shlog_anchor *a);

/* Key snapshot header and records */
void shlog_keys_hdr_encode(const struct shlog_keys_hdr *h, unsigned char out[SHLOG_KEYS_HDR_SIZE]);
int shlog_keys_hdr_decode(const unsigned char in[SHLOG_KEYS_HDR_SIZE], struct shlog_keys_hdr *h);

#endif
