/*
 * kidx.h — the Kafka backend's byte index of one partition (fs/kidx.c;
 * docs/FORMAT.md "Kafka byte index"; docs/KAFKA.md "The byte index").
 *
 * Kafka numbers messages (offsets); a partition's `log` file is read by
 * byte position.  The index maps every stride-th indexed message's Kafka
 * offset to its absolute byte position in the log (each message followed
 * by '\n') and its time, and keeps the indexed end: the next offset to
 * index and the bytes indexed so far.  Positions are absolute: they
 * never move, also when Kafka's log start moves past old messages (the
 * bytes before the first retained entry are then "below the start").
 *
 * No FUSE and no librdkafka here: the indexer (a consumer tailing the
 * partition) feeds it; the read path asks it where to start.  One file
 * per partition, crash-safe: after a crash or power loss the file opens
 * at its last shlogfs_kidx_sync() (or later), never torn.  A handle is
 * not thread-safe: its owner serialises calls.
 *
 * Every function returns 0 or a negative errno.
 */
#ifndef SHLOGFS_KIDX_H
#define SHLOGFS_KIDX_H

#include <stdint.h>

/** An open byte index. */
struct shlogfs_kidx;

/** One point of the log: a message's Kafka offset, byte position, time. */
struct shlogfs_kidx_entry {
	uint64_t off;   /**< Kafka offset of the message */
	uint64_t pos;   /**< absolute byte position of its first byte */
	int64_t ts_ms;  /**< its time, ms since the epoch, clamped never to go back */
};

/** What an index holds (shlogfs_kidx_info). */
struct shlogfs_kidx_info {
	uint32_t stride;        /**< offsets between entries (shlogfs_kidx_due) */
	uint64_t nent;          /**< entries */
	uint64_t gen;           /**< generation of the last slot written */
	uint64_t start_off;     /**< Kafka's log start offset, as last set */
	struct shlogfs_kidx_entry end;   /**< the indexed end: next offset, bytes, latest time */
	struct shlogfs_kidx_entry kept;  /**< the retained point (shlogfs_kidx_find_pos) */
	uint64_t cut_bytes;     /**< torn tail cut at open (bytes past the last slot's promise) */
};

/** shlogfs_kidx_open flags. */
#define SHLOGFS_KIDX_CREATE  0x1  /**< make the file if it is absent */
#define SHLOGFS_KIDX_RDONLY  0x2  /**< read only: no cut, no temporaries, no writes */

/** Largest stride (offsets between entries). */
#define SHLOGFS_KIDX_STRIDE_MAX (1u << 24)

/**
 * Open (or with SHLOGFS_KIDX_CREATE make) index file @p name in directory
 * @p dfd.  @p ident (16 bytes) names what the index is of (the daemon puts
 * a hash of cluster id, topic and partition there); a file of another
 * ident is -ESTALE.  @p stride (1..SHLOGFS_KIDX_STRIDE_MAX) is used when
 * the file is made; an existing file keeps its own.  A writable open cuts
 * a torn tail and unlinks a temporary a crash left (`<name>.tmp`).
 * @param why gets the rule a damaged file broke (may be NULL)
 * @return 0; -ENOENT (absent, no CREATE); -EUCLEAN (not a regular file, or
 * damaged: no valid slot, promised entries missing or invalid); -ESTALE;
 * -EINVAL (bad stride); or another -errno.
 */
int shlogfs_kidx_open(int dfd, const char *name, const unsigned char ident[16], uint32_t stride,
		      int flags, struct shlogfs_kidx **out, const char **why);

/** Sync (if writable and changed) and free; the sync's -errno (the handle is freed anyway). */
int shlogfs_kidx_close(struct shlogfs_kidx *k);

/** Whether the message at offset @p off is due for an entry (none yet, or a stride past the last). */
int shlogfs_kidx_due(const struct shlogfs_kidx *k, uint64_t off);

/**
 * Record an entry: the message at Kafka offset @p off begins at byte
 * @p pos (the bytes before it), time @p ts_ms (-1: none, the latest time
 * is used).  The entry lies at or past the indexed end, in offset and in
 * bytes (the messages between are indexed without an entry; offsets
 * Kafka skipped take no bytes).  The end then moves to just past the
 * message (@p off + 1, @p pos + 1: its length is not known yet), a lower
 * bound the next append or shlogfs_kidx_advance() moves on.  Durable at
 * the next sync.
 * @return 0, -EINVAL (does not follow), -EROFS.
 */
int shlogfs_kidx_append(struct shlogfs_kidx *k, uint64_t off, uint64_t pos, int64_t ts_ms);

/**
 * Move the indexed end: offsets below @p end_off are indexed and take
 * @p end_pos bytes; @p ts_ms the time of the last of them (-1: none).
 * Neither may go back, and the end must lie past the last entry.
 * @return 0, -EINVAL, -EROFS.
 */
int shlogfs_kidx_advance(struct shlogfs_kidx *k, uint64_t end_off, uint64_t end_pos, int64_t ts_ms);

/**
 * Kafka's log start offset moved to @p start_off (it never goes back:
 * -EINVAL).  Entries below it stay until the file is next rewritten
 * (at a sync, once they are the larger part of the file).
 */
int shlogfs_kidx_set_start(struct shlogfs_kidx *k, uint64_t start_off);

/** Make every entry, the end and the start durable (entries, fdatasync, slot, fdatasync). */
int shlogfs_kidx_sync(struct shlogfs_kidx *k);

/*
 * Lookups.  The retained point is the first entry at or past the log
 * start offset, or the end when there is none: the bytes before it are
 * below the start (a message there is gone, or its position unknown).
 * Each returns 0 and the entry to read forward from, -ERANGE below the
 * retained point (with the retained point in @p e), or -ENXIO at or past
 * the indexed end (with the end in @p e).
 */
/** The last entry at or before byte @p pos. */
int shlogfs_kidx_find_pos(const struct shlogfs_kidx *k, uint64_t pos, struct shlogfs_kidx_entry *e);
/** The last entry at or before Kafka offset @p off. */
int shlogfs_kidx_find_off(const struct shlogfs_kidx *k, uint64_t off, struct shlogfs_kidx_entry *e);
/**
 * Where to read forward from for the first message at or after time
 * @p ts_ms: the last entry before it in time (or the retained point);
 * -ENXIO when every indexed message is older.
 */
int shlogfs_kidx_find_time(const struct shlogfs_kidx *k, int64_t ts_ms, struct shlogfs_kidx_entry *e);

/** Entry @p i (0 .. nent - 1, oldest first) in @p e: 0, or -ENOENT past the last. */
int shlogfs_kidx_entry(const struct shlogfs_kidx *k, uint64_t i, struct shlogfs_kidx_entry *e);

/** What the index holds. */
void shlogfs_kidx_info(const struct shlogfs_kidx *k, struct shlogfs_kidx_info *out);

#endif
