/*
 * shlog.h — public interface of libshlog, the batched shard engine.
 *
 * A store is a data directory holding topics; a topic holds numbered
 * partitions; a partition is an append-only log of messages.  A message
 * is a byte string without '\n'; on disk and through shlog_part_read()
 * every message is followed by one '\n', so a partition's log reads as
 * text lines.  The bytes before a message's first TAB are its key
 * (no TAB, an empty key or a key over SHLOG_KEY_MAX bytes: no key);
 * "key<TAB>" with nothing after the TAB is a tombstone for that key.
 *
 * Every function returns 0 (or a count, where documented) on success and
 * a negative errno on failure.  Nothing here aborts on bad input.
 * Handles are opaque.  All functions are thread-safe.
 *
 * See docs/DESIGN.md for threads and commit order, docs/FORMAT.md for
 * the files on disk.
 */
#ifndef SHLOG_H
#define SHLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHLOG_VERSION "0.1.0"

/** Longest topic name in bytes. */
#define SHLOG_TOPIC_MAX 249
/** Longest key in bytes (longer prefixes before a TAB are not keys). */
#define SHLOG_KEY_MAX 255

/** An open data directory. */
typedef struct shlog_store shlog_store;
/** A reference-counted handle on one partition. */
typedef struct shlog_part shlog_part;

/** When appended data is made durable (fdatasync). */
enum shlog_sync {
	SHLOG_SYNC_NONE = 0,     /**< page cache only; durable at sync/close */
	SHLOG_SYNC_INTERVAL = 1, /**< fdatasync at most every sync_interval_ms */
	SHLOG_SYNC_ALWAYS = 2,   /**< appends wait for their block to be durable */
};

/** What happens when a partition holds max_segments segments. */
enum shlog_retention {
	SHLOG_RETAIN_HALT = 0, /**< refuse appends with -ENOSPC (0 = no limit) */
	SHLOG_RETAIN_WRAP = 1, /**< delete the oldest segment */
};

/** Logging levels passed to shlog_options.log. */
enum shlog_level { SHLOG_ERR = 3, SHLOG_WARNING = 4, SHLOG_NOTICE = 5,
		   SHLOG_INFO = 6, SHLOG_DEBUG = 7 };

/** Store options; fill with shlog_options_init() then change fields. */
struct shlog_options {
	uint32_t stride;            /**< messages per index stride and volume trigger (1000) */
	uint32_t flush_interval_ms; /**< latency drain: max wait of a message (20) */
	uint32_t max_buffer;        /**< backpressure: buffered messages (5000) */
	uint64_t max_buffer_bytes;  /**< backpressure: buffered bytes (64 MiB) */
	uint32_t max_message;       /**< largest message, bytes (1 MiB) */
	uint64_t segment_bytes;     /**< roll a segment past this size (64 MiB) */
	uint32_t max_segments;      /**< retention limit, 0 = none (0) */
	enum shlog_retention retention; /**< HALT or WRAP (HALT) */
	enum shlog_sync sync;       /**< durability policy (NONE) */
	uint32_t sync_interval_ms;  /**< for SHLOG_SYNC_INTERVAL (1000) */
	uint32_t flush_threads;     /**< flush workers (2) */
	int repair;                 /**< truncate corrupt data at open instead of refusing */
	int read_only;              /**< open without writing anything */
	/** Receives every log line; NULL logs to stderr. */
	void (*log)(int level, const char *msg, void *arg);
	void *log_arg;
};

/** Append flags. */
#define SHLOG_NONBLOCK 0x1 /**< -EAGAIN instead of waiting at backpressure */
#define SHLOG_DURABLE  0x2 /**< return once the message is durable */

/** Where a key's latest message is. */
struct shlog_keyref {
	uint64_t seq;     /**< message sequence number */
	uint64_t off;     /**< logical byte offset of the message */
	uint32_t len;     /**< message length in bytes, without '\n' */
	uint32_t klen;    /**< key length; the value starts at off+klen+1 */
	int64_t time_ns;  /**< the message's block time */
};

/** One sparse-index entry (one per span, see docs/FORMAT.md). */
struct shlog_index_entry {
	uint64_t seq;     /**< first message of the span */
	uint64_t off;     /**< logical byte offset of the span */
	int64_t time_ns;  /**< block time, ns since the Unix epoch */
	uint32_t len;     /**< span bytes */
	uint32_t count;   /**< span messages */
	uint32_t crc;     /**< CRC32C of the span bytes */
};

/** State and counters of a partition. */
struct shlog_part_info {
	uint64_t start_seq, start_off;         /**< first retained message */
	uint64_t end_seq, end_off;             /**< next message; logical size incl. buffered */
	uint64_t committed_seq, committed_off; /**< written to the log files */
	uint64_t durable_seq;                  /**< known durable (fdatasync) */
	uint64_t anchor_gen;                   /**< anchor generation last written */
	int64_t last_flush_ns;                 /**< time of the last block */
	uint32_t buffered_msgs;
	uint64_t buffered_bytes;
	uint64_t nkeys;                        /**< live keys */
	uint32_t nsegments;
	uint64_t flushes_volume, flushes_latency, flushes_forced;
	uint64_t backpressure_waits;
	uint64_t appended_msgs, appended_bytes; /**< since open */
	uint64_t fsyncs, write_errors;
	uint64_t recovered_bytes_dropped, recovered_msgs_dropped;
	uint64_t recovery_us;                  /**< time spent opening this partition */
	int error;                             /**< sticky error (negative errno) or 0 */
};

/* ---- store ---------------------------------------------------------- */

/** Fill @p o with the defaults above. */
void shlog_options_init(struct shlog_options *o);

/**
 * Open (creating if missing) the data directory @p dir and recover every
 * partition in it.  Takes an exclusive lock on the directory: a second
 * open of the same directory, from any process, fails with -EBUSY.
 * @param[out] out the store
 * @return 0, -EUCLEAN when a file is corrupt and repair is off (the
 *         log line names file and byte), or another negative errno.
 */
int shlog_store_open(const char *dir, const struct shlog_options *o,
		     shlog_store **out);

/** Flush and sync every partition, write clean anchors, free @p s. */
int shlog_store_close(shlog_store *s);

/** Make everything appended before the call durable, in every partition. */
int shlog_store_sync(shlog_store *s);

/** Options in force (after defaults). */
const struct shlog_options *shlog_store_options(shlog_store *s);

/** Human text for a negative errno returned by shlog (like strerror). */
const char *shlog_strerror(int err);

/* ---- topics and partitions ----------------------------------------- */

/** 0 if @p name is a valid topic name ([A-Za-z0-9._-], 1..249 bytes, no leading '.'), else -EINVAL. */
int shlog_topic_name_check(const char *name);

/** Parse a partition name ("0", "17"; no leading zeros) into @p out. */
int shlog_part_name_parse(const char *name, uint32_t *out);

/** Create topic @p topic with @p nparts (>= 1) partitions; -EEXIST. */
int shlog_topic_create(shlog_store *s, const char *topic, uint32_t nparts);

/** Delete a topic and all its data; open handles then fail with -ENOENT. */
int shlog_topic_delete(shlog_store *s, const char *topic);

/** Call @p fn for every topic (in name order) until it returns non-zero. */
int shlog_topic_foreach(shlog_store *s,
			int (*fn)(const char *topic, void *arg), void *arg);

/** Number of partitions of @p topic. */
int shlog_topic_nparts(shlog_store *s, const char *topic, uint32_t *nparts);

/** Add partition number nparts to @p topic; its number in @p out. */
int shlog_topic_add_part(shlog_store *s, const char *topic, uint32_t *out);

/**
 * Directory attributes of a topic (@p part < 0) or partition: mode,
 * owner and times of the directory in the data dir.
 */
int shlog_dir_stat(shlog_store *s, const char *topic, int64_t part,
		   struct stat *st);
/** chmod a topic or partition directory (permission bits only). */
int shlog_dir_chmod(shlog_store *s, const char *topic, int64_t part,
		    mode_t mode);
/** chown a topic or partition directory; (uid_t)-1 keeps a field. */
int shlog_dir_chown(shlog_store *s, const char *topic, int64_t part,
		    uid_t uid, gid_t gid);

/** Take a reference on a partition; release it with shlog_part_put(). */
int shlog_part_get(shlog_store *s, const char *topic, uint32_t part,
		   shlog_part **out);
/** Release a reference taken by shlog_part_get(). */
void shlog_part_put(shlog_part *p);

/* ---- appending ------------------------------------------------------ */

/**
 * Append one message (no '\n' in it).  Returns once it is buffered, or
 * durable with SHLOG_DURABLE or sync=always.
 * @param[out] seq its sequence number (may be NULL)
 * @return 0, -EMSGSIZE, -EINVAL ('\n' inside), -EAGAIN (NONBLOCK and
 *         full), -ENOSPC (disk full or halt limit), -EIO, -ENOENT (deleted),
 *         -EROFS (store opened read_only)
 */
int shlog_part_append(shlog_part *p, const void *msg, size_t len, int flags,
		      uint64_t *seq);

/**
 * Append complete lines: @p buf holds one or more messages each ending in
 * '\n'.  They go in as one unit: no other writer's message lands between
 * them.  Same returns as shlog_part_append().
 * @param[out] first_seq sequence number of the first (may be NULL)
 */
int shlog_part_append_lines(shlog_part *p, const void *buf, size_t len,
			    int flags, uint64_t *first_seq);

/** Return once everything appended to @p p before the call is durable. */
int shlog_part_sync(shlog_part *p);

/** Start a flush of @p p now and wait until its buffer is committed. */
int shlog_part_flush(shlog_part *p);

/* ---- reading -------------------------------------------------------- */

/** State and counters of @p p. */
int shlog_part_info(shlog_part *p, struct shlog_part_info *info);

/**
 * Read up to @p len bytes of the log at logical offset @p off, buffered
 * data included.  Every span is checked against its CRC32C before its
 * bytes are served.
 * @return bytes read (0 at the end), -ENODATA below start_off (deleted by
 *         retention), -EIO on a checksum mismatch, or another -errno.
 */
ssize_t shlog_part_read(shlog_part *p, uint64_t off, void *buf, size_t len);

/** Byte offset of message @p seq (end_off for end_seq); -ENODATA before start, -ERANGE past end. */
int shlog_part_seek_seq(shlog_part *p, uint64_t seq, uint64_t *off);

/**
 * First message whose block time is at or after @p time_ns.
 * Buffered messages count as "now".  Past the end: end_seq/end_off.
 */
int shlog_part_seek_time(shlog_part *p, int64_t time_ns, uint64_t *seq,
			 uint64_t *off);

/** Call @p fn for each committed index entry (oldest first). */
int shlog_part_index_foreach(shlog_part *p,
			     int (*fn)(const struct shlog_index_entry *e,
				       void *arg), void *arg);

/* ---- keys ----------------------------------------------------------- */

/** Latest live message of @p key; -ENOENT if none or tombstoned. */
int shlog_key_lookup(shlog_part *p, const void *key, size_t klen,
		     struct shlog_keyref *ref);

/** Call @p fn for each live key, in byte order, until it returns non-zero. */
int shlog_key_foreach(shlog_part *p,
		      int (*fn)(const void *key, size_t klen,
				const struct shlog_keyref *ref, void *arg),
		      void *arg);

#ifdef __cplusplus
}
#endif
#endif /* SHLOG_H */
