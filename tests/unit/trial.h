/*
 * trial.h — what the reliability trials (test_power.c, test_ioerr.c,
 * test_corrupt.c) share: a deterministic message stream with keys and
 * tombstones, the exact log it must produce, and one checker that opens
 * a data directory with the real engine and compares everything it
 * serves (bytes at every offset, sequence numbers, keys) with that log.
 */
#ifndef SHLOG_TEST_TRIAL_H
#define SHLOG_TEST_TRIAL_H

#include <stddef.h>
#include <stdint.h>

#include "shlog.h"

/** The messages of a trial workload, and the log they make. */
struct tr_stream {
	unsigned nkeys;   /* keys cycled through; 0: keyless messages */
	unsigned pad;     /* extra payload bytes (plus i % 7) */
	uint64_t n;       /* messages generated into the tables below */
	char *log;        /* the exact log of messages 0..n-1 */
	uint64_t *off;    /* off[i]: offset of message i; off[n] = log size */
};

/** Message @p i: "k<i % nkeys>\tv<i>...", every 5th a tombstone, or "m<i>...". */
size_t tr_msg(const struct tr_stream *st, uint64_t i, char *buf, size_t size);
/** Build the tables of @p st for @p n messages (nkeys and pad set). */
void tr_stream_init(struct tr_stream *st, uint64_t n);
/** Free the tables. */
void tr_stream_free(struct tr_stream *st);

/** Topic and partition every trial writes. */
#define TR_TOPIC "t"
#define TR_PART_DIR "t/0"

/** What tr_check() found. */
struct tr_result {
	int open_rc;          /* shlog_store_open's result */
	int topic;            /* the topic exists */
	uint64_t start_seq, end_seq;
	uint64_t eio_spans;   /* spans refused with -EIO (only with TR_ALLOW_EIO) */
	uint64_t bytes_read;  /* bytes served and checked */
	char err[512];        /* the first violation, with the engine's last error line */
};

/** tr_check() flags. */
#define TR_ALLOW_EIO  0x1  /* reads of a span may fail with -EIO (corrupt files) */
#define TR_REUSE      0x2  /* then append, close, reopen: the store still works */

/**
 * Open @p dir with @p o (syncs are not performed: only recovery's logic
 * is under test) and check what it serves against @p st: the log is
 * messages start_seq..end_seq-1 exactly (bytes at their offsets, no torn
 * line), end_seq <= st->n, and every key's bookmark is that of its latest
 * retained message (tombstones remove).  An open that fails is not a
 * violation here: r->open_rc says how it failed, the caller judges.
 * @return 0, or -1 with r->err describing the violation.
 */
int tr_check(const char *dir, const struct shlog_options *o,
	     const struct tr_stream *st, int flags, struct tr_result *r);

/** Failures grouped by kind: the message with its numbers taken out. */
struct tr_sigs {
	struct { char sig[256]; unsigned count; } v[32];
	unsigned n, total;
};
/**
 * Count a failure (@p what: the case, @p why: the violation); the first
 * of each kind is printed as "FAIL what: why" (all with
 * SHLOG_TRIAL_VERBOSE set).
 */
void tr_sig_note(struct tr_sigs *s, const char *what, const char *why);
/** Print the failure kinds and their counts. */
void tr_sig_print(const struct tr_sigs *s, const char *trial);

/** Quiet options for trials: long latency drain, one flush worker. */
void tr_opts(struct shlog_options *o);

/** Shape of a workload of test_power.c and test_ioerr.c: rounds of appends, each ended by a sync. */
struct tr_wl {
	const char *name;
	unsigned rounds, per_round;   /* append per_round messages, then sync */
	unsigned nkeys, pad;          /* the message stream (struct tr_stream) */
	uint32_t stride;
	uint64_t segment_bytes;
	uint32_t max_segments;        /* > 0: wrap retention */
	enum shlog_sync sync;
	unsigned reopen_every;        /* power: close and reopen after every n rounds */
	unsigned flushes;             /* power: blocks per round written before its sync */
};
/** Store options of @p w: tr_opts() with its stride, segments, retention and sync. */
void tr_wl_opts(const struct tr_wl *w, struct shlog_options *o);
/** Build the message stream of @p w (rounds * per_round messages); free with tr_stream_free(). */
void tr_wl_stream(const struct tr_wl *w, struct tr_stream *st);

/**
 * Require that a trial exercised at least @p floor of @p what (crash
 * states, injected faults, damaged files): a trial whose seam saw no I/O
 * must not pass.  Prints "FLOOR trial what=seen (at least floor)".
 */
void tr_floor(const char *trial, const char *what, uint64_t seen, uint64_t floor);

/** The engine's last error or warning line seen by tr_check (for reports). */
const char *tr_last_log(void);

#endif
