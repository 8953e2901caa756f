/* const_i.h — every tunable default and format constant of libshlog, in one place. */
#ifndef SHLOG_CONST_I_H
#define SHLOG_CONST_I_H

/* The names of the files in the data dir are in names_i.h. */
#include "names_i.h"

/* ---- engine defaults (overridable through struct shlog_options) ---- */
#define SHLOG_DEF_STRIDE            1000u     /* volume trigger and index stride */
#define SHLOG_DEF_FLUSH_MS          20u       /* latency drain */
#define SHLOG_DEF_MAX_BUFFER        5000u     /* backpressure, messages */
#define SHLOG_DEF_MAX_BUFFER_BYTES  (64ull << 20)
#define SHLOG_DEF_MAX_MESSAGE       (1u << 20)
#define SHLOG_DEF_SEGMENT_BYTES     (1ull << 30)  /* as Kafka: few segments, cheap opens */
#define SHLOG_DEF_SYNC_MS           1000u
#define SHLOG_DEF_FLUSH_THREADS     2u

/* ---- limits ---- */
#define SHLOG_MAX_THREADS           64u
#define SHLOG_MAX_PARTS             65536u    /* partitions per topic */
#define SHLOG_SPAN_MAX_BYTES        (1u << 20) /* a span is cut before it passes this */
#define SHLOG_MESSAGE_LIMIT         (256u << 20) /* no max_message may exceed this */
#define SHLOG_RETRY_MS              200u      /* retry delay of a failed flush */
#define SHLOG_READAHEAD_MIN         (64u << 10) /* reads this big count as sequential */
#define SHLOG_READAHEAD_BYTES       (4u << 20)  /* how far ahead to ask the kernel to read */

/* ---- key checkpoints: bound the log replayed at open ---- */
#define SHLOG_KEYS_MIN_DELTA        65536u    /* keyed messages since the snapshot */
#define SHLOG_KEYS_MAX_REPLAY       (64ull << 20) /* log bytes since the snapshot */

/* ---- on-disk format (docs/FORMAT.md) ---- */
#define SHLOG_IDX_ENTRY_SIZE        40u
#define SHLOG_POS_MAX               0x7fffffffffffffffull /* seqs and offsets stay below: an off_t */
#define SHLOG_ANCHOR_MAGIC          0x414c4853u /* "SHLA" little-endian */
#define SHLOG_ANCHOR_VERSION        1u
#define SHLOG_ANCHOR_SLOT_SIZE      512u
#define SHLOG_ANCHOR_FILE_SIZE      (2u * SHLOG_ANCHOR_SLOT_SIZE)
#define SHLOG_ANCHOR_FLAG_CLEAN     0x1u
#define SHLOG_ANCHOR_FLAG_SYNC_FAILED 0x2u  /* an fdatasync failed: rewrite after durable_seq */
#define SHLOG_KEYS_MAGIC            0x4b4c4853u /* "SHLK" */
#define SHLOG_KEYS_VERSION          1u
#define SHLOG_KEYS_HDR_SIZE         40u
#define SHLOG_KEYS_REC_SIZE         32u         /* fixed part of a key record */
#define SHLOG_CURSOR_MAGIC          0x434c4853u /* "SHLC": a partition's cursors file */
#define SHLOG_CURSOR_VERSION        1u
#define SHLOG_CURSOR_HDR_SIZE       32u         /* a slot's header */
#define SHLOG_CURSOR_REC_SIZE       80u         /* one cursor: u64 seq, u8 nlen, 7 zero, 64 name bytes */
#define SHLOG_CURSOR_SLOT_SIZE      (128u << 10) /* two slots, at 0 and 128 KiB; holds 1024 records */
#define SHLOG_CURSOR_FILE_MAX       (2u * SHLOG_CURSOR_SLOT_SIZE)

/* ---- the data dir is the daemon's (docs/FORMAT.md "The data directory") ---- */
#define SHLOG_DIR_MODE              0700        /* every directory shlog makes */
#define SHLOG_FILE_MODE             0600        /* every file shlog makes */
#define SHLOG_VIRT_DIR_MODE         0755        /* a new topic's mode as the mount shows it */

/* ---- a topic's meta file: the modes and owners the mount shows ---- */
#define SHLOG_META_MAGIC            0x4d4c4853u /* "SHLM" little-endian */
#define SHLOG_META_VERSION          1u
#define SHLOG_META_HDR_SIZE         32u         /* header + the topic's record */
#define SHLOG_META_ENT_SIZE         16u         /* one partition's record */
#define SHLOG_META_CRC_SIZE         4u

#endif
