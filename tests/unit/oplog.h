/*
 * oplog.h — a recording I/O seam and crash states built from it, in the
 * manner of ALICE (Pillai et al., OSDI 2014): every mutating call the
 * engine makes on its data directory (create, mkdir, write, truncate,
 * fsync, fdatasync, rename, unlink) is logged with its bytes against a
 * model of the directory tree; a crash state is then any prefix of that
 * log with some of the operations the file system had not promised to
 * keep left out, written into a fresh directory for the real engine to
 * open.  Used by the power-loss trial (test_power.c) and the I/O error
 * trial (test_ioerr.c), which also injects failures through the same seam.
 *
 * The persistence model (what a prefix must keep):
 *   - a write or truncate of a file is kept if a later fsync/fdatasync of
 *     the same file succeeded, with no failed one in between (a failed
 *     sync drops the dirty pages: what was written before it is never
 *     promised again — the Linux "fsyncgate" behaviour);
 *   - directory operations (create, mkdir, rename, unlink) reach the disk
 *     in the order they were made (a journalled file system); those
 *     before a successful fsync of their directory are kept;
 *   - close() promises nothing.
 */
#ifndef SHLOG_TEST_OPLOG_H
#define SHLOG_TEST_OPLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Kinds of logged operations. */
enum ol_kind {
	OL_CREATE,   /* link new inode @ino as @name in @dir (file) */
	OL_MKDIR,    /* link new directory inode @ino as @name in @dir */
	OL_RENAME,   /* move @dir/@name to @dir2/@name2 */
	OL_UNLINK,   /* remove @dir/@name (file or directory) */
	OL_WRITE,    /* write @len bytes @data at @off of @ino */
	OL_TRUNC,    /* set the size of @ino to @off */
	OL_SYNC,     /* fsync/fdatasync of @ino succeeded */
	OL_SYNCFAIL, /* fsync/fdatasync of @ino failed */
	OL_ACK,      /* the workload was told messages [0, @off) are durable */
};

/** One logged operation. */
struct ol_op {
	enum ol_kind kind;
	uint32_t ino, dir, dir2;
	char name[64], name2[64];
	uint64_t off;
	size_t len;
	unsigned char *data;
};

/** Which calls an injected fault hits (ol_fault_set). */
enum ol_call { OL_CALL_PWRITE, OL_CALL_FDATASYNC, OL_CALL_FSYNC,
	       OL_CALL_RENAMEAT, OL_CALL_OPENAT, OL_CALL_NKINDS };

/** The log of one recorded workload. */
struct oplog {
	struct ol_op *ops;
	size_t n, cap;
	uint32_t ninos;        /* model inodes; 0 is the data directory */
	uint8_t *is_dir;       /* per model inode */
};

/**
 * Start recording the seam calls on the (empty) directory @p root into
 * @p log.  Syncs are logged but not performed (the model decides what
 * would have survived), so recording is fast.
 */
void ol_record_start(struct oplog *log, const char *root);
/** Stop recording and restore the real system calls. */
void ol_record_stop(void);
/** A TH_FX_HOOKS teardown hook: ol_record_stop() (@p fx unused). */
void ol_fx_done(void *fx);
/** Log that messages [0, @p acked) were acknowledged as durable. */
void ol_ack(uint64_t acked);
/** Free a log. */
void ol_free(struct oplog *log);

/**
 * While recording, make call number @p nth (1-based) of kind @p call
 * fail with @p err; @p persistent: that call and every later one of the
 * kind fail until ol_fault_clear().  @p nth = 0 disables.
 */
void ol_fault_set(enum ol_call call, uint64_t nth, int err, int persistent);
/** Stop failing calls (the fault "clears"). */
void ol_fault_clear(void);
/** Calls of kind @p call made since ol_record_start(). */
uint64_t ol_fault_calls(enum ol_call call);
/** Number of calls failed by the injected fault so far. */
uint64_t ol_fault_hits(void);

/** How a crash state treats the operations the file system did not promise. */
enum ol_strategy {
	OL_KEEP_ALL,   /* everything of the prefix reached the disk (process crash) */
	OL_DROP,       /* unsynced writes lost, directory operations kept */
	OL_TORN,       /* unsynced writes kept in order up to one torn at a random byte */
	OL_REORDER,    /* a random subset of unsynced writes, a random prefix of
			* unpromised directory operations */
	OL_META_MIN,   /* only what was promised, data and directories */
	OL_NSTRATEGIES
};

/** Name of a strategy, for messages. */
const char *ol_strategy_name(enum ol_strategy s);

struct ol_hashset;

/**
 * Write the crash state "the first @p k operations of @p log, persisted
 * according to @p strat (random choices from @p seed)" into the existing
 * empty directory @p dir.  With @p seen, a state whose hash (names and
 * contents, mixed with @p salt: e.g. what the state must hold) is
 * already in the set is not written.
 * @return 0 written, 1 already seen, or -errno.
 */
int ol_materialize(const struct oplog *log, size_t k, enum ol_strategy strat,
		   uint64_t seed, const char *dir, struct ol_hashset *seen,
		   uint64_t salt);

/** Messages acknowledged before operation @p k (the last OL_ACK before it). */
uint64_t ol_acked_before(const struct oplog *log, size_t k);

/**
 * Lowest segment sequence number (name of a "<20 digits>.log" file) in
 * the live directory tree after the first @p k operations, below
 * directory path @p sub ("topic/part"); UINT64_MAX if none.  Recovery of
 * any crash state at @p k must not start later than this (retention had
 * deleted no more).
 */
uint64_t ol_live_min_segment(const struct oplog *log, size_t k, const char *sub);

/** Print the log, one operation a line (for post-mortems). */
void ol_dump(const struct oplog *log, FILE *out);

/** Count of mutating operations (everything but OL_ACK). */
size_t ol_count_io(const struct oplog *log);

/* ---- a set of 64-bit hashes, to count distinct crash states ---- */
struct ol_hashset {
	uint64_t *v;
	size_t n, cap;
};
/** Insert @p h; 1 if it was new, 0 if already there. */
int ol_hashset_add(struct ol_hashset *s, uint64_t h);
/** Free the set. */
void ol_hashset_free(struct ol_hashset *s);

/* ---- a small seeded generator (xorshift64*) ---- */
/** Next pseudo-random 64-bit value of the state @p s (never zero state). */
uint64_t ol_rand(uint64_t *s);

#endif
