/*
 * kpart.h — one Kafka partition as the tree sees it (kpart.c; docs/KAFKA.md,
 * "The byte index", "Reads"): its byte index in the cache dir, the indexer
 * step that tails it, its key table, and reads by byte position.
 *
 * The messages come from a *source*: the cluster (kclient's reader, the
 * default) or a test's fake (tests/kafka/kbackend_test.c), which can serve
 * what librdkafka's mock cannot: offsets with gaps (compaction,
 * transaction markers) and null values.
 *
 * Locking: p->mu guards the index, the key table and the counters (held
 * only for memory work and the index's sync); p->rmu serialises the read
 * path (its reader and span cache), which talks to the cluster.  The
 * indexer step runs in one thread (be_kafka.c's) for all partitions.
 */
#ifndef SHLOGFS_KPART_H
#define SHLOGFS_KPART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/tree.h>

#include "backend.h"
#include "kclient.h"
#include "kidx.h"

/** Where a partition's messages come from. */
struct shlogfs_ksrc_ops {
	/** A reader of @topic [@part] from offset @from; @seeks: it will seek (reads), so short fetch waits. */
	int (*open)(void *ctx, const char *topic, uint32_t part, int64_t from, int seeks, void **out);
	/** Move reader @r to offset @from. */
	int (*seek)(void *r, int64_t from);
	/** As shlogfs_kclient_reader_poll: messages in offset order to @fn; -ERANGE below the start. */
	int (*poll)(void *r, int timeout_ms, shlogfs_kclient_msg_fn *fn, void *arg);
	/** As shlogfs_kclient_reader_end: the end offset at the last end of partition, or -1. */
	int64_t (*end)(void *r);
	void (*close)(void *r);
	/** Log start and end offsets (a request to the cluster). */
	int (*watermarks)(void *ctx, const char *topic, uint32_t part, int64_t *lo, int64_t *hi);
	/** The ones reader @r's last fetch brought, without a request: 0 or -ENOENT (may be NULL). */
	int (*cached)(void *r, int64_t *lo, int64_t *hi);
};

/** The cluster as a source (kclient's reader; @ctx is the struct shlogfs_kclient). */
extern const struct shlogfs_ksrc_ops shlogfs_ksrc_cluster;

/** What every partition object shares with its store. */
struct shlogfs_kenv {
	int dfd;                               /**< the cache dir */
	uint32_t stride;                       /**< messages per index entry */
	char cluster[128];                     /**< cluster id (the index's ident) */
	const struct shlogfs_ksrc_ops *src;
	void *src_ctx;
	/** Readers the store's partitions hold open, and at most how many (each
	 *  is a librdkafka consumer with a thread per broker): the indexer's of
	 *  a partition nobody uses close once it is caught up, a read beyond
	 *  the bound uses a reader of its own for that call. */
	atomic_int *readers;
	int max_readers;
};

/** One key's latest message (the key table). */
struct shlogfs_kkey {
	RB_ENTRY(shlogfs_kkey) link;
	struct shlog_keyref ref;
	size_t klen;
	unsigned char key[];
};
RB_HEAD(shlogfs_kkeys, shlogfs_kkey);

/** Why a partition's index was set aside and rebuilt (aside_foreach). */
struct shlogfs_kaside {
	int err;
	char why[160];
};

/** A partition object: counted references, the index, the keys, the read path. */
struct shlogfs_bpart {
	struct shlogfs_bstore *s;
	struct shlogfs_kenv env;         /* a copy: a test may give one topic its own source */
	char *topic;
	uint32_t part;
	int refs;                  /* under the store's lock */
	int gone;                  /* the topic was deleted: -ENOENT */

	pthread_mutex_t mu;
	pthread_cond_t moved;      /* the indexed end moved */
	struct shlogfs_kidx *k;
	struct shlogfs_kkeys keys;
	uint64_t nkeys;
	struct shlogfs_kaside aside;   /* err 0: not set aside */
	int64_t lo, hi;            /* watermarks as last seen (-1 unknown) */
	int64_t wm_ms, sync_ms;    /* when they were last asked, the index last synced */
	uint64_t appended_msgs, appended_bytes, write_errors, fsyncs, rebuilds;

	/* the indexer's reader (indexer thread only) */
	void *ir;
	int ir_slot;                   /* it holds one of env.readers */
	int busy;                      /* the last turn took messages */
	int ir_short;                  /* it was opened with the short fetch wait (a sync waits) */
	_Atomic int64_t sync_ms_want;  /* when a sync last waited for the indexer */
	_Atomic int64_t used_ms;       /* last part_get or read (the indexer's reader closes when idle) */
	uint64_t scan_off, scan_pos;   /* the next message it gets, and where it begins */

	/* the read path (rmu) */
	pthread_mutex_t rmu;
	void *rr;
	int rr_slot;               /* it holds one of env.readers (else closed after the call) */
	int64_t rr_used_ms;
	uint64_t r_off, r_pos;     /* the next message rr gives, and its position */
	char *span;                /* bytes [span_pos, span_pos + span_len) of the log */
	size_t span_len, span_cap;
	uint64_t span_pos;
};

/** Open partition @topic [@part]: its index (made, or set aside and rebuilt if damaged). */
int shlogfs_kpart_open(struct shlogfs_bstore *s, const struct shlogfs_kenv *env, const char *topic,
		       uint32_t part, struct shlogfs_bpart **out);
/** Sync the index, close the readers, free. */
void shlogfs_kpart_close(struct shlogfs_bpart *p);

/**
 * One turn of the indexer for @p (at most about @budget_ms): 1 if it took
 * messages, 0, SHLOGFS_KPART_WANTS_READER when it has no reader and every
 * slot is taken (the caller may release another's), or -errno.
 */
int shlogfs_kpart_index_step(struct shlogfs_bpart *p, int budget_ms);
#define SHLOGFS_KPART_WANTS_READER 2
/** Close the indexer's reader of @p if it is caught up (a slot for another): 1 if closed. */
int shlogfs_kpart_index_release(struct shlogfs_bpart *p);
/** Wait (at most @timeout_ms) until the indexed end reaches offset @off: 0 or -ETIMEDOUT. */
int shlogfs_kpart_wait_indexed(struct shlogfs_bpart *p, uint64_t off, int timeout_ms);
/** Ask the source for the watermarks now (part_sync's read-your-writes); -errno. */
int shlogfs_kpart_watermarks(struct shlogfs_bpart *p, int64_t *lo, int64_t *hi);

/** The operations of fs/backend.h on one partition. */
int shlogfs_kpart_info(struct shlogfs_bpart *p, struct shlog_part_info *info);
/** Watermarks (as last seen; -1 unknown), indexed offset and bytes, lag: lines for <p>/stats. */
void shlogfs_kpart_lines(struct shlogfs_bpart *p, shlogfs_line_fn *fn, void *arg);
ssize_t shlogfs_kpart_read(struct shlogfs_bpart *p, uint64_t off, void *buf, size_t len);
int shlogfs_kpart_seek_seq(struct shlogfs_bpart *p, uint64_t seq, uint64_t *off);
int shlogfs_kpart_seek_time(struct shlogfs_bpart *p, int64_t time_ns, uint64_t *seq, uint64_t *off);
int shlogfs_kpart_index_foreach(struct shlogfs_bpart *p, shlogfs_index_fn *fn, void *arg);
int shlogfs_kpart_key_lookup(struct shlogfs_bpart *p, const void *key, size_t klen,
			     struct shlog_keyref *ref);
int shlogfs_kpart_key_foreach(struct shlogfs_bpart *p, shlogfs_key_fn *fn, void *arg);

/**
 * Give topic @topic's partitions the source @src (@ctx its context), for a
 * test (tests/kafka/kbackend_test.c); before the first part_get of that
 * topic.  (be_kafka.c)
 */
void shlogfs_kafka_set_source(shlogfs_bstore *s, const char *topic, const struct shlogfs_ksrc_ops *src,
			      void *ctx);

/** The index file's name of @topic [@part] in the cache dir (kcache names table). */
void shlogfs_kpart_file(const char *topic, uint32_t part, char *out, size_t cap);

#endif /* SHLOGFS_KPART_H */
