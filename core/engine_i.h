/*
 * engine_i.h — the engine's internal structures (store, topic,
 * partition, segment, key table, scheduler) and the functions its modules
 * offer one another, in layer order at the end (writer.c's are in
 * writer_i.h).  See docs/DESIGN.md for the map of the modules, the
 * threads and the locks; the lock order is
 *     store.mu  >  part.mu  >  sched.mu,   part.seglock  >  part.keymu
 * (a thread holding one on the right never waits for one on its left).
 */
#ifndef SHLOG_ENGINE_I_H
#define SHLOG_ENGINE_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include "shlog.h"
#include "const_i.h"
#include "format_i.h"
#include "resident_i.h"
#include "meta_i.h"
#include "util_i.h"

/* ---- one segment: <base_seq>.log + <base_seq>.idx ---- */
struct shlog_seg {
	uint64_t base_seq, base_off;
	uint64_t end_seq, end_off;    /* committed end inside this segment */
	uint64_t nents;               /* committed index entries */
	int64_t first_time;           /* time of the first entry (if nents) */
	int log_fd, idx_fd;
	int64_t last_time;            /* time of the last entry (if nents) */
	struct shlog_index_entry *ents; /* loaded lazily, NULL until then */
	size_t ents_cap;
	uint64_t open_tick;           /* when its files were opened (res.tick; older segments) */
};

/* ---- one key bookmark, in an open-addressing hash table ---- */
struct shlog_key {
	uint64_t hash;
	struct shlog_keyref ref;
	uint32_t klen;
	unsigned char key[];
};

struct shlog_keytab {
	struct shlog_key **slots;     /* linear probing; NULL = empty */
	size_t cap;                   /* a power of two, or 0 */
};

/* A keyed message of the block being flushed (step B input). */
struct keyed {
	uint32_t pos, len;
	uint64_t seq;
};

/* Per-flush scratch arrays, used by whoever holds the partition's `busy`. */
struct flush_scratch {
	unsigned char *ents;   /* encoded index entries */
	size_t nents, cap_ents;
	struct keyed *keyed;
	size_t nkeyed, cap_keyed;
};

/* Why a flush was started (indexes the counters). */
enum { FLUSH_VOLUME = 0, FLUSH_LATENCY = 1, FLUSH_FORCED = 2 };

/* ---- latency histograms: recorded by part.c, read by metrics.c ---- */
/* Samples per bucket (n[SHLOG_LATENCY_BUCKETS]: above every bound), relaxed atomics. */
struct shlog_lat {
	atomic_uint_fast64_t n[SHLOG_LATENCY_BUCKETS + 1];
	atomic_uint_fast64_t sum_ns;
};

/* Upper bound of bucket @p i in ns: 10, 25, 50 us ... 10 s. */
static inline uint64_t shlog_lat_bound_ns(unsigned i)
{
	static const uint32_t us[SHLOG_LATENCY_BUCKETS] = {
		10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000,
		50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
		10000000 };
	return (uint64_t)us[i] * 1000;
}

/* Count one sample of @p ns (a monotonic clock difference). */
static inline void shlog_lat_add(struct shlog_lat *h, int64_t ns)
{
	uint64_t v = ns > 0 ? (uint64_t)ns : 0;
	unsigned i = 0;

	while (i < SHLOG_LATENCY_BUCKETS && v > shlog_lat_bound_ns(i))
		i++;
	atomic_fetch_add_explicit(&h->n[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, v, memory_order_relaxed);
}

struct shlog_topic;

struct shlog_part {
	shlog_store *s;
	struct shlog_topic *t;
	uint32_t num;
	char name[SHLOG_TOPIC_MAX + 16];  /* "topic/num", for log lines */
	int dfd;                          /* the partition directory */
	int anchor_fd;
	atomic_int refs;

	/* --- guarded by mu --- */
	pthread_mutex_t mu;
	pthread_cond_t room;              /* backpressure waiters */
	pthread_cond_t done;              /* commit / durability waiters */
	struct shlog_buf active;          /* appenders fill this */
	struct shlog_buf flushing;        /* the block being written */
	uint32_t a_count, f_count;
	int64_t a_first_ns;               /* monotonic time of active's first message */
	uint64_t committed_seq, committed_off;
	uint64_t durable_seq;
	uint64_t end_seq, end_off;
	int64_t last_time_ns;             /* block time of the last block */
	int busy;                         /* a worker is flushing this partition */
	int forced;                       /* callers waiting for a commit or sync */
	int syncers;                      /* of which waiting for durability */
	struct flush_scratch scratch;
	int err;                          /* last flush error, cleared by a good flush */
	uint64_t attempts;                /* flushes tried (waiters see their outcome) */
	int fatal;                        /* sticky: an fsync failed */
	int sync_failed;                  /* ... and the anchor should say so */
	int deleted;
	uint64_t anchor_gen;
	struct shlog_part_info st;        /* counters */
	struct shlog_lat lat_flush, lat_fsync; /* latency histograms (no lock) */

	/* --- guarded by the store's sched.mu --- */
	int in_runq, in_timerq, in_syncq;
	int kick_reason;
	int64_t deadline_ns, sync_deadline_ns;
	TAILQ_ENTRY(shlog_part) runq, timerq, syncq;

	/* --- segments: seglock; ents loading also takes entmu --- */
	pthread_rwlock_t seglock;
	pthread_mutex_t entmu;
	struct shlog_seg *segs;
	size_t nsegs;
	uint64_t start_seq, start_off;
	atomic_uint_fast64_t ra_mark;     /* read-ahead requested up to here */

	/* --- keys: keymu --- */
	pthread_mutex_t keymu;
	struct shlog_keytab keys;
	uint64_t nkeys;
	uint64_t keys_seq, keys_off;      /* replay point */
	uint64_t keys_snap_seq;
	uint64_t keys_delta;              /* keyed messages since keys_seq */
	int keys_force;                   /* retention passed keys_seq: checkpoint now */

	/* --- durable cursors (cursor.c): curmu, taken before mu and res.mu --- */
	pthread_mutex_t curmu;
	int cur_loaded;                   /* the cursors file was read */
	uint64_t cur_gen;                 /* generation of its newest slot (0: none) */
	uint32_t ncur;
	struct sl_cursor *cur;            /* sorted by name */

	/* --- residency (resident.c): fdmu opens older segments, the rest res.mu --- */
	pthread_mutex_t fdmu;
	int res_state;                    /* SHLOG_RES_PARKED / OPENING / RESIDENT */
	int res_counted;                  /* in the store's budget (after adopt) */
	int in_lru;
	uint32_t pins;                    /* callers using its fds now */
	uint32_t nfds;                    /* fds charged to it */
	uint32_t older_open;              /* older segments with open files */
	dev_t dir_dev;                    /* the partition directory, checked at reopen */
	ino_t dir_ino;
	TAILQ_ENTRY(shlog_part) lru;
};

struct shlog_topic {
	RB_ENTRY(shlog_topic) link;
	char name[SHLOG_TOPIC_MAX + 1];
	int dfd;
	uint32_t nparts;
	struct shlog_part **parts;
	pthread_mutex_t meta_mu;          /* meta, between store.mu readers */
	struct shlog_meta meta;           /* the modes/owners the mount shows */
};

/* A topic the store set aside at open: refused with err (store.c). */
struct shlog_aside {
	char name[SHLOG_TOPIC_MAX + 1];
	int64_t part;                     /* the partition that caused it, or -1 */
	int err;                          /* negative errno, -EUCLEAN mostly */
	char why[160];
};
RB_HEAD(sl_topictree, shlog_topic);
int sl_topic_cmp(const struct shlog_topic *a, const struct shlog_topic *b);
RB_PROTOTYPE(sl_topictree, shlog_topic, link, sl_topic_cmp)

TAILQ_HEAD(shlog_partq, shlog_part);

struct shlog_sched {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct shlog_partq runq, timerq, syncq;
	int stop;
	uint32_t nthreads;
	pthread_t threads[SHLOG_MAX_THREADS];
};

struct shlog_store {
	struct shlog_options o;
	int dfd;
	int lock_fd;
	pthread_rwlock_t mu;              /* the topic table */
	struct sl_topictree topics;
	struct shlog_sched sched;
	struct shlog_aside *aside;        /* set-aside topics (store.mu) */
	size_t naside;
	unsigned char boot_id[16];        /* this boot, for anchors (zeros: unknown) */
	struct shlog_res res;             /* the fd budget (resident.c) */
	pthread_mutex_t root_mu;          /* root_perm */
	struct shlog_perm root_perm;      /* the mount root's mode and owner (.meta) */
};

/*
 * The engine's modules, bottom to top (docs/DESIGN.md has the map): each
 * calls only those below it, but part <-> sched (the workers' callback).
 * util, io, crc, names, lock  <  format, meta  <  seg, resident  <  keys
 * <  writer (writer_i.h)  <  part, sched  <  recover  <  settle  <  store.
 */

/* ---- seg.c: the segment table, the reading side ---- */
int sl_seg_load_ents(shlog_part *p, struct shlog_seg *g);  /* seglock held */
struct shlog_seg *sl_seg_by_off(shlog_part *p, uint64_t off);
struct shlog_seg *sl_seg_by_seq(shlog_part *p, uint64_t seq);
size_t sl_seg_ent_by_off(const struct shlog_seg *g, uint64_t off);
size_t sl_seg_ent_by_seq(const struct shlog_seg *g, uint64_t seq);
int sl_seg_read_span(shlog_part *p, struct shlog_seg *g, const struct shlog_index_entry *e, char *buf);
ssize_t sl_seg_read(shlog_part *p, uint64_t off, uint64_t limit, void *buf, size_t len);
int sl_seg_seek_seq(shlog_part *p, uint64_t seq, uint64_t *off);  /* committed messages */
int sl_seg_list(int dfd, uint64_t **out, size_t *n, uint64_t **orphans, size_t *norphans);
void sl_seg_close(struct shlog_seg *g);
void sl_seg_close_all(shlog_part *p);

/* ---- keys.c: the bookmark table and its snapshot ---- */
void sl_keys_apply(shlog_part *p, const char *msg, uint32_t len, uint64_t seq, uint64_t off, int64_t t);
int sl_keys_checkpoint_due(shlog_part *p, uint64_t off_end);
int sl_keys_checkpoint(shlog_part *p, uint64_t seq, uint64_t off);
int sl_keys_load(shlog_part *p, const struct shlog_anchor *a);
void sl_keys_drop_before(shlog_part *p, uint64_t off);
void sl_keys_free(shlog_part *p);
int sl_keys_find(shlog_part *p, const void *key, uint32_t klen, struct shlog_keyref *ref);
int sl_keys_foreach(shlog_part *p,
		    int (*fn)(const void *key, size_t klen, const struct shlog_keyref *ref, void *arg),
		    void *arg);
int sl_msg_key(const char *msg, uint32_t len, uint32_t *klen);

/* ---- cursor.c: durable cursors ---- */
/* Read and check @dfd's cursors file: its cursors (malloc'd) and generation; -ENOENT, -EUCLEAN + *why. */
int sl_cursors_read(int dfd, struct sl_cursor **out, uint32_t *n, uint64_t *gen, const char **why);
void sl_cursors_free(shlog_part *p);

/* ---- part.c: a partition at run time ---- */
shlog_part *sl_part_new(shlog_store *s, struct shlog_topic *t, uint32_t num);
void sl_part_free(shlog_part *p);
void sl_part_flush_run(shlog_part *p, int reason);   /* by workers */
void sl_part_sync_run(shlog_part *p);                /* by workers */
int sl_part_close(shlog_part *p);                    /* flush, sync, clean anchor */

/* ---- sched.c: the flush workers ---- */
int sl_sched_start(shlog_store *s, int spawn);
void sl_sched_destroy(shlog_store *s);
void sl_sched_stop(shlog_store *s);
void sl_sched_kick(shlog_part *p, int reason);       /* p->mu held */
void sl_sched_arm(shlog_part *p, int64_t deadline);  /* p->mu held */
void sl_sched_arm_sync(shlog_part *p);               /* p->mu held */
void sl_sched_forget(shlog_part *p);

/* ---- recover.c: opening a partition ---- */
int sl_part_recover(shlog_part *p, int create);

/*
 * ---- settle.c: a topic directory at open ----
 * Finish or roll back every half-done compaction swap in topic directory
 * @tdfd (".compact-N[-R].new" / ".compact-N[-R].old" beside partition N);
 * @s is only used for log lines (its options may be all there is).
 * Returns 0 or the first -errno.
 */
int sl_compact_settle(shlog_store *s, int tdfd, const char *topic);

#endif
