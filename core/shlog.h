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

/** Marks the library's API: the only symbols libshlog exports. */
#define SHLOG_API __attribute__((visibility("default")))

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
	uint64_t segment_bytes;     /**< roll a segment past this size (1 GiB) */
	uint32_t max_segments;      /**< retention limit, 0 = none (0) */
	enum shlog_retention retention; /**< HALT or WRAP (HALT) */
	enum shlog_sync sync;       /**< durability policy (NONE) */
	uint32_t sync_interval_ms;  /**< for SHLOG_SYNC_INTERVAL (1000) */
	uint32_t flush_threads;     /**< flush workers (2) */
	int repair;                 /**< truncate corrupt data at open instead of refusing */
	int read_only;              /**< open without writing anything */
	/** Serve the other topics when one is damaged or unexpected: it is set
	 *  aside (every call naming it fails with -EUCLEAN, see
	 *  shlog_store_aside_foreach) instead of failing the whole open (0). */
	int set_aside;
	/** Receives every log line; NULL logs to stderr. */
	void (*log)(int level, const char *msg, void *arg);
	void *log_arg;
	/** File descriptors the engine may keep open, topics and partitions
	 *  together (0: RLIMIT_NOFILE minus fd_reserve; never more than that).
	 *  Idle partitions are parked (their fds closed) to stay within it. */
	uint32_t max_fds;
	/** fds left to the rest of the program (0: 64 or 1/8 of RLIMIT_NOFILE, the larger). */
	uint32_t fd_reserve;
	/** Partitions the store may hold; creating more fails with -ENOSPC (0: 100000). */
	uint32_t max_partitions;
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
SHLOG_API void shlog_options_init(struct shlog_options *o);

/**
 * Open (creating if missing) the data directory @p dir and recover every
 * partition in it.  Takes an exclusive lock on the directory: a second
 * open of the same directory, from any process, fails with -EBUSY.
 * @param[out] out the store
 * @return 0, -EUCLEAN when a file is corrupt and repair is off (the
 *         log line names file and byte; with set_aside, that topic is set
 *         aside and the open succeeds), or another negative errno.
 */
SHLOG_API int shlog_store_open(const char *dir, const struct shlog_options *o,
		     shlog_store **out);

/** Flush and sync every partition, write clean anchors, free @p s. */
SHLOG_API int shlog_store_close(shlog_store *s);

/** Make everything appended before the call durable, in every partition. */
SHLOG_API int shlog_store_sync(shlog_store *s);

/** Options in force (after defaults). */
SHLOG_API const struct shlog_options *shlog_store_options(shlog_store *s);

/**
 * Call @p fn for every topic the store set aside at open, until it returns
 * non-zero.  A topic is set aside when its directory, its meta file or
 * one of its partitions is damaged or not what it should be (a FIFO,
 * symlink or device where a file belongs, no partitions, a gap in their
 * numbers): every call naming it then fails with -EUCLEAN until the store
 * is reopened, and every other topic is served (docs/OPERATIONS.md).
 * @p part is the partition at fault or -1, @p err the negative errno,
 * @p why a sentence for people.
 * @return 0 or @p fn's non-zero value.
 */
SHLOG_API int shlog_store_aside_foreach(shlog_store *s,
			      int (*fn)(const char *topic, int64_t part, int err,
					const char *why, void *arg),
			      void *arg);

/** The store's file-descriptor budget and what it holds (docs/DESIGN.md, "File descriptors"). */
struct shlog_fd_info {
	uint32_t limit;           /**< RLIMIT_NOFILE (soft) after raising it to the hard limit */
	uint32_t total;           /**< fds the engine may hold, topics and partitions */
	uint32_t budget;          /**< of which partitions' files */
	uint32_t used;            /**< partitions' fds open now */
	uint32_t topic_cap;       /**< topics the store may hold (one directory fd each) */
	uint32_t max_partitions;  /**< partitions the store may hold */
	uint32_t partitions;      /**< partitions it holds */
	uint32_t resident;        /**< of which with their files open (the rest are parked) */
	uint64_t parks;           /**< partitions parked (fds closed) since open */
	uint64_t reopens;         /**< parked partitions reopened since open */
	uint64_t seg_opens;       /**< older segments' files opened on demand */
	uint64_t refusals;        /**< operations refused with -ENFILE (budget full) */
};

/** Fill @p out with the fd budget of @p s (always 0). */
SHLOG_API int shlog_store_fd_info(shlog_store *s, struct shlog_fd_info *out);

/** Human text for a negative errno returned by shlog (like strerror). */
SHLOG_API const char *shlog_strerror(int err);

/* ---- topics and partitions ----------------------------------------- */

/** 0 if @p name is a valid topic name ([A-Za-z0-9._-], 1..249 bytes, no leading '.'), else -EINVAL. */
SHLOG_API int shlog_topic_name_check(const char *name);

/** Parse a partition name ("0", "17"; no leading zeros) into @p out. */
SHLOG_API int shlog_part_name_parse(const char *name, uint32_t *out);

/** Create topic @p topic with @p nparts (>= 1) partitions; -EEXIST. */
SHLOG_API int shlog_topic_create(shlog_store *s, const char *topic, uint32_t nparts);

/** Delete a topic and all its data; open handles then fail with -ENOENT. */
SHLOG_API int shlog_topic_delete(shlog_store *s, const char *topic);

/** Call @p fn for every topic (in name order) until it returns non-zero. */
SHLOG_API int shlog_topic_foreach(shlog_store *s,
			int (*fn)(const char *topic, void *arg), void *arg);

/** Number of partitions of @p topic (never 0); -ENOENT, -EUCLEAN if set aside. */
SHLOG_API int shlog_topic_nparts(shlog_store *s, const char *topic, uint32_t *nparts);

/** Add partition number nparts to @p topic; its number in @p out. */
SHLOG_API int shlog_topic_add_part(shlog_store *s, const char *topic, uint32_t *out);

/**
 * Attributes of a topic (@p part < 0) or partition as the mount shows
 * them: mode and owner from the topic's meta file, times (and the rest)
 * of its directory in the data dir, which itself stays the daemon's.
 * @p topic NULL is the mount root (its record is DATADIR/.meta; until it
 * is first changed, the data dir's own mode and owner).  The same holds
 * for shlog_dir_chmod() and shlog_dir_chown().
 */
SHLOG_API int shlog_dir_stat(shlog_store *s, const char *topic, int64_t part,
		   struct stat *st);
/** chmod a topic or partition as the mount shows it (permission bits only; kept in its meta file). */
SHLOG_API int shlog_dir_chmod(shlog_store *s, const char *topic, int64_t part,
		    mode_t mode);
/** chown a topic or partition as the mount shows it; (uid_t)-1 keeps a field. */
SHLOG_API int shlog_dir_chown(shlog_store *s, const char *topic, int64_t part,
		    uid_t uid, gid_t gid);

/** Take a reference on a partition; release it with shlog_part_put().  -ENOENT, -EUCLEAN if its topic is set aside. */
SHLOG_API int shlog_part_get(shlog_store *s, const char *topic, uint32_t part,
		   shlog_part **out);
/** Release a reference taken by shlog_part_get(). */
SHLOG_API void shlog_part_put(shlog_part *p);

/* ---- appending ------------------------------------------------------ */

/**
 * Append one message (no '\n' in it).  Returns once it is buffered, or
 * durable with SHLOG_DURABLE or sync=always.
 * @param[out] seq its sequence number (may be NULL)
 * @return 0, -EMSGSIZE, -EINVAL ('\n' inside), -EAGAIN (NONBLOCK and
 *         full), -ENOSPC (disk full or halt limit), -EIO, -ENOENT (deleted),
 *         -EROFS (store opened read_only)
 */
SHLOG_API int shlog_part_append(shlog_part *p, const void *msg, size_t len, int flags,
		      uint64_t *seq);

/**
 * Append complete lines: @p buf holds one or more messages each ending in
 * '\n'.  They go in as one unit: no other writer's message lands between
 * them.  Same returns as shlog_part_append().
 * @param[out] first_seq sequence number of the first (may be NULL)
 */
SHLOG_API int shlog_part_append_lines(shlog_part *p, const void *buf, size_t len,
			    int flags, uint64_t *first_seq);

/** Return once everything appended to @p p before the call is durable. */
SHLOG_API int shlog_part_sync(shlog_part *p);

/** Start a flush of @p p now and wait until its buffer is committed. */
SHLOG_API int shlog_part_flush(shlog_part *p);

/* ---- reading -------------------------------------------------------- */

/** State and counters of @p p. */
SHLOG_API int shlog_part_info(shlog_part *p, struct shlog_part_info *info);

/**
 * Read up to @p len bytes of the log at logical offset @p off, buffered
 * data included.  Every span is checked against its CRC32C before its
 * bytes are served.
 * @return bytes read (0 at the end), -ENODATA below start_off (deleted by
 *         retention), -EIO on a checksum mismatch, or another -errno.
 */
SHLOG_API ssize_t shlog_part_read(shlog_part *p, uint64_t off, void *buf, size_t len);

/** Byte offset of message @p seq (end_off for end_seq); -ENODATA before start, -ERANGE past end. */
SHLOG_API int shlog_part_seek_seq(shlog_part *p, uint64_t seq, uint64_t *off);

/**
 * First message whose block time is at or after @p time_ns.
 * Buffered messages count as "now".  Past the end: end_seq/end_off.
 */
SHLOG_API int shlog_part_seek_time(shlog_part *p, int64_t time_ns, uint64_t *seq,
			 uint64_t *off);

/** Call @p fn for each committed index entry (oldest first). */
SHLOG_API int shlog_part_index_foreach(shlog_part *p,
			     int (*fn)(const struct shlog_index_entry *e,
				       void *arg), void *arg);

/* ---- keys ----------------------------------------------------------- */

/** Latest live message of @p key; -ENOENT if none or tombstoned. */
SHLOG_API int shlog_key_lookup(shlog_part *p, const void *key, size_t klen,
		     struct shlog_keyref *ref);

/**
 * Call @p fn for each live key, in byte order, until it returns non-zero.
 * @p fn runs under the partition's key lock: it must not call
 * shlog_key_lookup() or shlog_key_foreach() on the same partition.
 */
SHLOG_API int shlog_key_foreach(shlog_part *p,
		      int (*fn)(const void *key, size_t klen,
				const struct shlog_keyref *ref, void *arg),
		      void *arg);

/* ---- durable cursors ------------------------------------------------ */
/*
 * A cursor is a named position in one partition: the sequence number of
 * the next message its consumer should get.  Every change is durable
 * when the call returns (fdatasync of the partition's `cursors` file,
 * docs/FORMAT.md).  A cursor below the first retained message reads from
 * that message; a past-the-end one found at load (the log lost unsynced
 * messages in a power loss) is moved back to the end.
 */

/** Longest cursor name, and cursors a partition may hold. */
#define SHLOG_CURSOR_NAME_MAX 64
#define SHLOG_CURSORS_MAX 1024

/** shlog_cursor_set() flags. */
#define SHLOG_CURSOR_CREATE 0x1  /**< make the cursor if it does not exist */
#define SHLOG_CURSOR_EXCL   0x2  /**< with CREATE: -EEXIST if it exists */

/** 0 if @p name can be a cursor's: [A-Za-z0-9._-]{1,64}, not starting with '.'; else -EINVAL. */
SHLOG_API int shlog_cursor_name_check(const char *name);

/** The committed position of cursor @p name of @p p.  -EINVAL (name), -ENOENT. */
SHLOG_API int shlog_cursor_get(shlog_part *p, const char *name, uint64_t *seq);

/**
 * Commit cursor @p name at @p seq (0 .. the partition's end_seq) and
 * make it durable before returning.
 * @return 0, -EINVAL (name), -ERANGE (past the end), -ENOENT (no such
 *         cursor without SHLOG_CURSOR_CREATE; the partition deleted),
 *         -EEXIST (SHLOG_CURSOR_EXCL), -ENOSPC (SHLOG_CURSORS_MAX
 *         cursors), -EROFS (read-only store), -EIO or another -errno
 *         (the previous value stays)
 */
SHLOG_API int shlog_cursor_set(shlog_part *p, const char *name, uint64_t seq, int flags);

/** Delete cursor @p name durably.  -EINVAL, -ENOENT, -EROFS, -EIO. */
SHLOG_API int shlog_cursor_delete(shlog_part *p, const char *name);

/**
 * Call @p fn for each cursor of @p p, in name order, until it returns
 * non-zero (that value is returned).  @p fn gets a copy: it may call
 * any function of @p p, cursors included.
 */
SHLOG_API int shlog_cursor_foreach(shlog_part *p,
			 int (*fn)(const char *name, uint64_t seq, void *arg),
			 void *arg);

/* ---- admin (shlogctl) ---- */
/*
 * These work on a data directory by path, outside a running store: they
 * are what the shlogctl tool is built on (docs/SHLOGCTL.md).  Verify only
 * reads and takes no lock, so it may run while the store is open
 * elsewhere; repair and compact take the store's lock (-EBUSY when
 * another process holds it).
 */

/** Reports how far a long operation has got (@p done of @p total bytes). */
typedef void (*shlog_progress_fn)(uint64_t done, uint64_t total, void *arg);

/** One problem found by shlog_part_verify(). */
struct shlog_verify_problem {
	const char *file;   /**< path below the data dir, e.g. "t/0/00000000000000000000.log" */
	uint64_t byte;      /**< byte offset in that file */
	uint64_t seq;       /**< first message concerned, or UINT64_MAX if none */
	int damage;         /**< 1: damage; 0: a warning (torn tail past the anchor, stale key snapshot) */
	const char *what;   /**< what is wrong, in words */
};

/** What shlog_part_verify() checked and found. */
struct shlog_verify_stats {
	uint64_t segments;          /**< segment files checked */
	uint64_t entries;           /**< valid index entries */
	uint64_t messages, bytes;   /**< in valid spans */
	uint64_t file_bytes;        /**< size of all .log files */
	uint64_t damage, warnings;  /**< problems of each kind */
	uint64_t start_seq;         /**< first message of the oldest segment */
	uint64_t valid_seq, valid_off; /**< end of the valid prefix of the log */
	uint64_t anchor_seq;        /**< messages the anchor promises (0 without one) */
	uint64_t first_bad_seg;     /**< base seq of the segment of the first problem, UINT64_MAX if none */
};

/**
 * Check one partition of the data dir @p dir file by file: every index
 * entry (its CRC, its place after the previous one), every span's CRC32C
 * and final '\n', the .log sizes against the index, the anchor's promise
 * and the key snapshot's CRCs.  Reads only; takes no lock.
 * @param fn called for each problem (may be NULL); a non-zero return stops the walk
 * @param progress called as log bytes are checked (may be NULL)
 * @param[out] st totals (may be NULL)
 * @return 0 when the walk finished (look at st->damage), the non-zero
 *         value @p fn returned, or a negative errno (-ENOENT: no such partition).
 */
SHLOG_API int shlog_part_verify(const char *dir, const char *topic, uint32_t part,
		      int (*fn)(const struct shlog_verify_problem *pr, void *arg),
		      shlog_progress_fn progress, void *arg,
		      struct shlog_verify_stats *st);

/** What shlog_part_repair() cut. */
struct shlog_repair_result {
	uint64_t bytes_dropped, msgs_dropped; /**< cut from the log */
	uint64_t end_seq, end_off;            /**< the log's end afterwards */
};

/**
 * Open one partition of @p dir with the repair option (every span checked
 * from the start, the log cut at the first bad one, a damaged oldest
 * segment dropped), close it cleanly and report what was cut.  Takes the
 * data dir's lock for the duration.
 * @param o options (log callback; NULL for defaults); repair is forced on
 * @return 0, -EBUSY (the store is open elsewhere), -ENOENT, or -errno
 */
SHLOG_API int shlog_part_repair(const char *dir, const char *topic, uint32_t part,
		      const struct shlog_options *o, struct shlog_repair_result *r);

/** What shlog_part_compact() kept and dropped. */
struct shlog_compact_result {
	uint64_t msgs_in, bytes_in;       /**< messages and log bytes before */
	uint64_t msgs_kept, bytes_kept;   /**< after */
	uint64_t keyless_kept;            /**< of the kept, messages without a key */
	uint64_t tombstones_dropped;      /**< latest-per-key messages that were tombstones */
	uint64_t start_seq, start_off;    /**< first message afterwards */
	uint64_t end_seq, end_off;        /**< unchanged by compaction */
};

/**
 * Compact one partition of @p dir: keep the latest message of every key
 * unless it is a tombstone, and every message without a key, in their
 * order and with their block times.  The kept messages are renumbered to
 * end where the log ended (end_seq and end_off do not change; the log then
 * starts later, as after retention).  The new partition is built beside
 * the old one as ".compact-N.new", synced, and swapped in by two renames;
 * an open of the store finishes or rolls back a swap a crash interrupted.
 * Takes the data dir's lock for the duration.
 * @param segment_bytes roll segments past this size (0: the default)
 * @return 0, -EBUSY, -ENOENT, -EUCLEAN (damaged: verify and repair first), or -errno
 */
SHLOG_API int shlog_part_compact(const char *dir, const char *topic, uint32_t part,
		       uint64_t segment_bytes, const struct shlog_options *o,
		       shlog_progress_fn progress, void *arg,
		       struct shlog_compact_result *r);

/* ---- the control socket DATADIR/.ctl (shlogfs <-> shlogctl sync) ----- */

/**
 * Make the control socket of @p s, an open writable store (so its lock
 * is held): a stale DATADIR/.ctl is removed first, the new one is made
 * exclusively, mode 0600.  @return the listening fd, -EROFS for a
 * read-only store, or another negative errno (logged).
 */
SHLOG_API int shlog_ctl_listen(shlog_store *s);

/** Close the listening @p fd and remove DATADIR/.ctl (while the lock is held). */
SHLOG_API void shlog_ctl_unlisten(shlog_store *s, int fd);

/**
 * Who is at the other end of the Unix socket @p fd: 0 if root or
 * @p owner, -EPERM if anyone else; @p pid (may be NULL) gets its pid.
 */
SHLOG_API int shlog_ctl_peer_ok(int fd, uid_t owner, pid_t *pid);

/**
 * Send the request line @p req to the shlogfs serving @p dir and read its
 * one-line answer into @p reply, waiting at most @p timeout_s seconds for
 * each step.  The answer is believed only when the store's lock is held,
 * DATADIR/.ctl is a socket of root or the data dir's owner and the peer
 * runs as one of them.  @p peer gets the daemon's pid (from the kernel).
 * @return 0, -ESRCH (no daemon serves @p dir), -EPERM (the socket or its
 *         peer is not the daemon's), -ETIMEDOUT, or another negative errno.
 */
SHLOG_API int shlog_ctl_request(const char *dir, const char *req, char *reply,
		      size_t cap, unsigned timeout_s, pid_t *peer);

/* ---- metrics -------------------------------------------------------- */

/** Finite buckets of a latency histogram (+Inf is the count). */
#define SHLOG_LATENCY_BUCKETS 19

/** One latency histogram, cumulative as Prometheus exposes it. */
struct shlog_latency_hist {
	uint64_t count;                     /**< samples (the +Inf bucket) */
	uint64_t sum_ns;                    /**< their total duration */
	uint64_t le[SHLOG_LATENCY_BUCKETS]; /**< samples <= bound_ns[i] */
};

/** Latency of a partition's flushes and fdatasyncs since the store opened. */
struct shlog_part_latency {
	uint64_t bound_ns[SHLOG_LATENCY_BUCKETS]; /**< upper bounds, ascending: 10 us .. 10 s */
	/** Writing one block: index and log writes, plus its fdatasync when
	 *  sync=always or an fsync caller waits for it.  Successful flushes
	 *  only: count = flushes_volume + flushes_latency + flushes_forced
	 *  (a reader racing a flush may see it counted here first). */
	struct shlog_latency_hist flush;
	/** One fdatasync of the tail segment's log and index (flushes,
	 *  sync=interval, fsync callers, segment rolls, close). */
	struct shlog_latency_hist fsync;
};

/** Latency histograms of @p p (@p out is filled; always 0). */
SHLOG_API int shlog_part_latency(shlog_part *p, struct shlog_part_latency *out);

/* ---- text: times, sizes, numbers, keys, option ranges ---------------- */
/*
 * One implementation of each small grammar the daemon and shlogctl both
 * speak (core/parse.c, core/options.c), so a time, a size or an option
 * value means the same thing on the command line, in a mount option and
 * in a since/ view.
 */

/**
 * Parse a time into ns since the Unix epoch.  Accepted (docs/SHLOGCTL.md,
 * shlogfs(8) since/):
 *  - Unix seconds: digits, optionally '.' and a fraction ("1700000000.25";
 *    digits past the ninth are ignored);
 *  - a date and time: YYYY-MM-DD, optionally followed by 'T', 't' or ' '
 *    and HH:MM, optionally :SS and then a fraction; optionally a zone,
 *    'Z'/'z' or +HH:MM/-HH:MM (none: UTC).  "2026-11-22",
 *    "2026-11-22T10:00", "2026-11-22T10:00:00.5Z", "2026-11-22T11:00:00+01:00";
 *  - relative to now (CLOCK_REALTIME): '-', digits and s, m, h or d ("-15m").
 * @return 0, -EINVAL if malformed, -ERANGE outside what an int64_t of ns
 *         holds (1677..2262).
 */
SHLOG_API int shlog_time_parse(const char *s, int64_t *ns);

/** Room shlog_time_format() needs, NUL included. */
#define SHLOG_TIME_TEXT_MAX 40

/** Format @p ns as RFC 3339 UTC with nanoseconds: "2026-11-22T10:00:00.123456789Z". */
SHLOG_API void shlog_time_format(int64_t ns, char *out, size_t cap);

/** Parse a decimal uint64 (digits only: no sign, no blank, no overflow); 0 or -EINVAL. */
SHLOG_API int shlog_u64_parse(const char *s, uint64_t *out);

/**
 * Parse a size: decimal digits and an optional suffix k, M, G or T (either
 * case, powers of 1024): "64K", "1m", "4096".
 * @return 0, -EINVAL if malformed, -ERANGE past UINT64_MAX.
 */
SHLOG_API int shlog_size_parse(const char *s, uint64_t *out);

/** How shlog_size_format() spells units. */
enum shlog_size_style {
	SHLOG_SIZE_IEC = 0,   /**< "512 B", "12.3 KiB" ... "TiB" (shlogctl) */
	SHLOG_SIZE_SHORT = 1, /**< "512", "12.3k" ... "T" (shlogfs /.status) */
};

/** Format @p bytes for people: one decimal past 1024, in the unit of @p style. */
SHLOG_API void shlog_size_format(uint64_t bytes, enum shlog_size_style style,
				 char *out, size_t cap);

/**
 * The key of the message @p msg of @p len bytes (without its '\n'): the
 * bytes before its first TAB, if there are 1..SHLOG_KEY_MAX of them.
 * @return the key's length, 0 when the message has none.
 */
SHLOG_API size_t shlog_msg_key(const void *msg, size_t len);

/*
 * ---- Files of the daemon's own (the Kafka backend's cache dir) ----
 *
 * The engine's rules for a file it did not make, for a program that
 * keeps files of its own beside it (fs/kidx.c): one CRC, one safe open.
 */

/** CRC32C (Castagnoli) of @p len bytes at @p buf, as every shlog file uses. */
SHLOG_API uint32_t shlog_crc32c(const void *buf, size_t len);

/**
 * Open @p name in directory @p dfd as the engine opens its own files:
 * relative to @p dfd, O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK added to @p
 * flags, and the result checked to be of @p type (S_IFREG or S_IFDIR).
 * @return the fd, -ENOENT if absent, -EUCLEAN if the name is something
 * else (symlink, FIFO, device, socket, wrong type), or another -errno.
 */
SHLOG_API int shlog_file_open(int dfd, const char *name, int flags, mode_t mode, mode_t type);

/** Read exactly @p len bytes at @p off (short reads and EINTR retried): 0, -EIO past EOF, or -errno. */
SHLOG_API int shlog_file_pread(int fd, void *buf, size_t len, off_t off);

/** Write exactly @p len bytes at @p off (short writes and EINTR retried): 0 or -errno. */
SHLOG_API int shlog_file_pwrite(int fd, const void *buf, size_t len, off_t off);

/*
 * The other calls such a file needs, each 0 or -errno.  Like the ones
 * above they go through the engine's I/O seam, so the engine's fault and
 * power-loss tests (tests/unit/helpers.h, th_fault_*) reach them too.
 */
/** fdatasync (@p data_only) or fsync @p fd (a directory's fd: its entries). */
SHLOG_API int shlog_file_sync(int fd, int data_only);
/** Truncate @p fd to @p len bytes. */
SHLOG_API int shlog_file_truncate(int fd, off_t len);
/** The size of @p fd in @p size. */
SHLOG_API int shlog_file_size(int fd, uint64_t *size);
/** Rename @p from to @p to, both in directory @p dfd (replacing @p to). */
SHLOG_API int shlog_file_rename(int dfd, const char *from, const char *to);
/** Unlink @p name of @p dfd (never followed; -ENOENT if absent, -EISDIR for a directory). */
SHLOG_API int shlog_file_unlink(int dfd, const char *name);
/** Close @p fd. */
SHLOG_API int shlog_file_close(int fd);

/**
 * The values the numeric field @p name of struct shlog_options accepts
 * ("stride", "max_message", "flush_threads", ...; the field's own name).
 * shlog_store_open() refuses a value outside them; a program that takes
 * options from people checks them against the same range.
 * @return 0, or -ENOENT if there is no such numeric option.
 */
SHLOG_API int shlog_option_range(const char *name, uint64_t *min, uint64_t *max);

/**
 * Check every option of @p o as shlog_store_open() does: each numeric
 * field in its range, the enums known, and the rules between fields
 * (max_buffer_bytes > max_message, wrap retention needs max_segments).
 * @param why gets a sentence naming the first bad option (may be NULL)
 * @return 0 or -EINVAL.
 */
SHLOG_API int shlog_options_check(const struct shlog_options *o, char *why, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SHLOG_H */
