/*
 * kclient.h — the Kafka backend's client (fs/kclient.c; docs/KAFKA.md,
 * "The client"): librdkafka configuration from the mount's options, a
 * producer with per-writer delivery tracking (fsync semantics), and a
 * small partition reader for the indexer.
 *
 * No FUSE here, so it can be tested alone (tests/kafka/kclient_test.c).
 * Built only when meson finds librdkafka.  All functions are thread-safe
 * unless they say otherwise, and return 0 (or a count) or a negative
 * errno.
 */
#ifndef SHLOGFS_KCLIENT_H
#define SHLOGFS_KCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/** Length of the error strings filled in by the configuration calls. */
#define SHLOGFS_KCLIENT_ERRLEN 512

/** The producer defaults (docs/KAFKA.md, "Options"); kafka.NAME overrides each. */
#define SHLOGFS_KCLIENT_LINGER_MS "20"   /* the local engine's drain period */

/** A log sink: @level is syslog's (LOG_ERR...), @msg one line without '\n'. */
typedef void shlogfs_kclient_log_fn(int level, const char *msg, void *arg);

/** An open client: one producer (rebuilt after a fatal error), its poll thread. */
struct shlogfs_kclient;
/** One writer's delivery tracking (a file handle's, for fsync). */
struct shlogfs_kclient_writer;
/** A reader of one partition from an offset (for the indexer). */
struct shlogfs_kclient_reader;

/** One consumed message, as handed to a shlogfs_kclient_msg_fn. */
struct shlogfs_kclient_msg {
	int64_t off;            /**< Kafka offset */
	int64_t ts_ms;          /**< message time, ms since the epoch (-1 unknown) */
	const void *key;        /**< NULL when the message has no key */
	size_t klen;
	const void *val;        /**< NULL when the message has no value */
	size_t vlen;
};

/** Called per message by shlogfs_kclient_reader_poll; nonzero stops the poll. */
typedef int shlogfs_kclient_msg_fn(const struct shlogfs_kclient_msg *m, void *arg);

/* ---- time (the bounds of every wait here and in the backend) ---- */

/** Milliseconds of CLOCK_MONOTONIC. */
int64_t shlogfs_kclient_now_ms(void);
/** The absolute CLOCK_MONOTONIC time @ms from now (for pthread_cond_timedwait). */
struct timespec shlogfs_kclient_deadline(int ms);

/* ---- configuration ---- */

/**
 * A new configuration holding the producer defaults (enable.idempotence,
 * acks=all, linger.ms=SHLOGFS_KCLIENT_LINGER_MS).  -ENOMEM, or -EINVAL with
 * @err filled if librdkafka refuses a default.
 */
int shlogfs_kclient_conf_new(rd_kafka_conf_t **out, char *err, size_t errlen);

/**
 * Apply one mount option to @conf: `brokers=HOST:PORT[+HOST:PORT...]`
 * (';' works as a separator too) or `kafka.NAME=VALUE` (passed to
 * rd_kafka_conf_set).  0; -ENOENT if @opt is neither kind (not ours);
 * -EINVAL with @err filled (librdkafka's own text for kafka.NAME).
 */
int shlogfs_kclient_conf_opt(rd_kafka_conf_t *conf, const char *opt, char *err, size_t errlen);

/* ---- the client and its producer ---- */

/**
 * Open a client on @conf (always consumed, also on failure): build the
 * producer, start the poll thread.  @log (NULL: stderr) receives the
 * client's log lines.  -EINVAL with @err filled if librdkafka refuses.
 */
int shlogfs_kclient_open(struct shlogfs_kclient **out, rd_kafka_conf_t *conf,
			 shlogfs_kclient_log_fn *log, void *log_arg, char *err, size_t errlen);

/** Flush what is queued (at most @timeout_ms), stop the poll thread, free. */
void shlogfs_kclient_close(struct shlogfs_kclient *kc, int timeout_ms);

/** A new writer (one per file handle that appends). -ENOMEM. */
int shlogfs_kclient_writer_new(struct shlogfs_kclient *kc, struct shlogfs_kclient_writer **out);

/** Drop a writer; its messages still in flight are delivered or fail unseen. */
void shlogfs_kclient_writer_free(struct shlogfs_kclient_writer *w);

/**
 * Produce one message to @topic, partition @part (-1: by key, with the
 * configured partitioner), for writer @w; @ticket receives its number in
 * @w's order (1, 2, ...).  -EAGAIN: the producer queue is full (hold or
 * refuse); -EMSGSIZE: over message.max.bytes; -ENOENT: unknown topic or
 * partition; -EIO: any other refusal (logged).
 */
int shlogfs_kclient_produce(struct shlogfs_kclient *kc, struct shlogfs_kclient_writer *w,
			    const char *topic, int32_t part, const void *key, size_t klen,
			    const void *val, size_t vlen, uint64_t *ticket);

/**
 * Wait until every message of @w with a ticket up to @ticket is settled:
 * 0 if all were acknowledged; -EIO if any failed (delivery error, message
 * timeout, fatal producer error; each failure reported once), or if they
 * are not all settled within @timeout_ms (-1: the configured
 * message.timeout.ms, which librdkafka's idempotent producer can overrun
 * by seconds when a leader is down; a message still pending then is
 * reported again if it fails later).
 */
int shlogfs_kclient_wait(struct shlogfs_kclient_writer *w, uint64_t ticket, int timeout_ms);

/**
 * After shlogfs_kclient_produce gave -EAGAIN: wait (at most @timeout_ms)
 * until half the client's messages then in flight have settled (their
 * delivery reports served by the poll thread, which frees their room in
 * librdkafka's queue), rather than retrying on a timer.  0, or
 * -ETIMEDOUT; with nothing in flight (no report to wait for) it waits
 * at most 10 ms.
 */
int shlogfs_kclient_wait_room(struct shlogfs_kclient *kc, int timeout_ms);

/** Wait (at most @timeout_ms) until nothing is queued or in flight: 0, or -ETIMEDOUT. */
int shlogfs_kclient_flush(struct shlogfs_kclient *kc, int timeout_ms);

/** Counters: messages in flight, failed deliveries, producer rebuilds. */
void shlogfs_kclient_counts(struct shlogfs_kclient *kc, uint64_t *inflight, uint64_t *failed,
			    uint64_t *rebuilds);

/**
 * Log start and end offsets of a partition (rd_kafka_query_watermark_offsets).
 * With the partition's leader down librdkafka 2.0.2 waits for the request's
 * own timeout (socket.timeout.ms), not @timeout_ms.
 */
int shlogfs_kclient_watermarks(struct shlogfs_kclient *kc, const char *topic, int32_t part,
			       int64_t *lo, int64_t *hi, int timeout_ms);

/* ---- cluster metadata and administration ---- */

/** Receives one topic of the cluster and its partition count. */
typedef int shlogfs_kclient_topic_fn(const char *topic, uint32_t nparts, void *arg);

/**
 * The cluster's topics (rd_kafka_metadata on the producer's handle), each
 * to @fn until it returns nonzero.  0 (or @fn's value); -ETIMEDOUT when
 * no broker answered within @timeout_ms, -EHOSTUNREACH when every broker
 * is down or refused the connection, -EIO otherwise (logged).
 */
int shlogfs_kclient_metadata(struct shlogfs_kclient *kc, shlogfs_kclient_topic_fn *fn, void *arg,
			     int timeout_ms);

/** The cluster id into @out (@cap bytes); -ENOENT when the cluster gives none within @timeout_ms. */
int shlogfs_kclient_clusterid(struct shlogfs_kclient *kc, char *out, size_t cap, int timeout_ms);

/** What shlogfs_kclient_admin asks of the cluster. */
enum shlogfs_kclient_admin_op {
	SHLOGFS_KADMIN_CREATE,       /**< CreateTopics: @count partitions, @repl replicas */
	SHLOGFS_KADMIN_PARTITIONS,   /**< CreatePartitions: the topic grows to @count */
	SHLOGFS_KADMIN_DELETE,       /**< DeleteTopics */
};

/**
 * One Admin API request on @topic, answered within @timeout_ms.  0;
 * -EEXIST, -ENOENT, -EINVAL (the cluster's refusal of the arguments),
 * -EPERM (not authorised), -EOPNOTSUPP (the cluster does not serve the
 * request: no Admin API, as librdkafka's mock cluster), -ETIMEDOUT, -EIO;
 * @why gets the cluster's or librdkafka's text for every refusal.
 */
int shlogfs_kclient_admin(struct shlogfs_kclient *kc, enum shlogfs_kclient_admin_op op,
			  const char *topic, int count, int repl, int timeout_ms,
			  char *why, size_t whylen);

/**
 * The first offset of @topic [@part] whose time is at or after @ts_ms
 * (ListOffsets by time).  0; -ENXIO when no message is that recent;
 * -EOPNOTSUPP when the cluster answers no offset (librdkafka's mock);
 * -EIO.
 */
int shlogfs_kclient_offset_for_time(struct shlogfs_kclient *kc, const char *topic, int32_t part,
				    int64_t ts_ms, int64_t *off, int timeout_ms);

/**
 * The partition (0 .. @nparts - 1) the configured partitioner gives key
 * @key (@klen > 0): murmur2 (the Java client's; murmur2_random, the
 * default, and murmur2), or librdkafka's consistent (CRC32) hash for the
 * consistent partitioners.
 */
uint32_t shlogfs_kclient_partition(struct shlogfs_kclient *kc, const void *key, size_t klen,
				   uint32_t nparts);

/* ---- the reader ---- */

/**
 * A reader of @topic partition @part from offset @from (assign at the
 * offset), with its own consumer on the client's configuration; it logs
 * the partition's start and end offsets.  Its fetches wait at most
 * @wait_ms at the broker for new messages (fetch.wait.max.ms; -1:
 * librdkafka's 500): a seek waits for the fetch in flight, so a reader
 * that seeks wants it short.  -EINVAL with @err filled.
 */
int shlogfs_kclient_reader_open(struct shlogfs_kclient *kc, const char *topic, int32_t part,
				int64_t from, int wait_ms, struct shlogfs_kclient_reader **out,
				char *err, size_t errlen);

/**
 * Hand the messages that arrive within @timeout_ms to @fn in offset
 * order, until @fn returns nonzero or the partition's end is reached
 * (then 0 more).  The number handed over; -ERANGE if @from is out of the
 * partition's range; -EIO on another consumer error (logged).  Not
 * thread-safe: one thread polls a reader.
 */
int shlogfs_kclient_reader_poll(struct shlogfs_kclient_reader *r, int timeout_ms,
				shlogfs_kclient_msg_fn *fn, void *arg);

/** Whether the reader has reached the partition's end (last poll). */
int shlogfs_kclient_reader_at_end(const struct shlogfs_kclient_reader *r);

/** The log start and end offsets the reader's last fetch brought (no request): 0, or -ENOENT before one. */
int shlogfs_kclient_reader_watermarks(struct shlogfs_kclient_reader *r, int64_t *lo, int64_t *hi);

/**
 * The partition's end offset as the last end-of-partition event gave it
 * (offsets below it that were never handed over are gaps: transaction
 * markers, compacted messages), or -1 when the last poll did not reach it.
 */
int64_t shlogfs_kclient_reader_end(const struct shlogfs_kclient_reader *r);

/** Move a reader to offset @from (messages fetched before are dropped). */
int shlogfs_kclient_reader_seek(struct shlogfs_kclient_reader *r, int64_t from);

/** Close a reader. */
void shlogfs_kclient_reader_close(struct shlogfs_kclient_reader *r);

#endif /* SHLOGFS_KCLIENT_H */
