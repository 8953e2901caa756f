/*
 * resident_i.h — the store's file-descriptor budget: which partitions
 * have their files open ("resident") and which are parked (every fd
 * closed, everything else kept in memory).  See resident.c and the
 * "File descriptors" section of docs/DESIGN.md.
 *
 * Lock order (extends engine_i.h's):
 *     part.seglock > part.entmu > part.fdmu > store.res.mu
 * and store.res.mu is taken by nobody who holds a partition's mu; a
 * thread holding res.mu only ever try-locks a partition's mu or seglock.
 */
#ifndef SHLOG_RESIDENT_I_H
#define SHLOG_RESIDENT_I_H

#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>

#include "shlog.h"

/* ---- costs and defaults ---- */
#define SHLOG_RES_PART_FDS      4u      /* a resident partition: dir, anchor, tail .log and .idx */
#define SHLOG_RES_SEG_FDS       2u      /* an older segment's .log and .idx, opened on demand */
#define SHLOG_RES_OLDER_KEEP    2u      /* older segments an idle partition keeps open */
#define SHLOG_RES_RESERVE_MIN   64u     /* fds always left to the program (FUSE, logs, clients) */
#define SHLOG_RES_RESERVE_DIV   8u      /* ... or 1/8 of RLIMIT_NOFILE if that is more */
#define SHLOG_RES_TOPIC_DIV     4u      /* topics (one dir fd each) may use 1/4 of the budget */
#define SHLOG_RES_WAIT_MS       100u    /* a full budget waits this long for an fd to free up */
#define SHLOG_DEF_MAX_PARTITIONS 100000u /* partitions a store may hold */

/* A partition's residency state (guarded by res.mu). */
enum { SHLOG_RES_PARKED = 0, SHLOG_RES_OPENING = 1, SHLOG_RES_RESIDENT = 2 };

struct shlog_seg;
TAILQ_HEAD(shlog_reslru, shlog_part);

/* The store's budget; every field guarded by mu. */
struct shlog_res {
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* a state change or an unpin */
	struct shlog_reslru lru;      /* resident, unpinned, least recently used first */
	uint32_t limit;               /* RLIMIT_NOFILE (soft, after raising) */
	uint32_t total;               /* fds the engine may hold: topics + partitions */
	uint32_t budget;              /* of which partitions */
	uint32_t topic_cap;           /* topics the store may hold */
	uint32_t max_parts;           /* partitions the store may hold */
	uint32_t used;                /* fds partitions hold now (or have reserved) */
	uint32_t resident;            /* partitions with their files open */
	uint32_t nparts;              /* partitions counted in the budget */
	uint32_t waiters;             /* threads waiting for room */
	uint64_t tick;                /* order in which older segments were opened */
	uint64_t parks, reopens, seg_opens, refusals;
	int64_t refusal_logged_ns;    /* last ENFILE log line (one a second at most) */
};

/* ---- the store (resident.c) ---- */
int sl_res_init(shlog_store *s);                 /* mutex, budget from the rlimit */
void sl_res_loaded(shlog_store *s, uint32_t ntopics); /* after the topics are loaded */
void sl_res_destroy(shlog_store *s);
int sl_res_admit(shlog_store *s, uint32_t ntopics, uint32_t new_topics, uint32_t new_parts);
int sl_res_make_room(shlog_store *s, uint32_t fds);

/* ---- one partition (resident.c) ---- */
void sl_res_part_init(shlog_part *p);            /* new: resident, pinned once, not counted */
void sl_res_adopt(shlog_part *p);                /* recovered: count it, drop the opener's pin */
void sl_res_forget(shlog_part *p);               /* being freed */
int sl_res_pin(shlog_part *p);                   /* its files open until unpin; -ENFILE */
void sl_res_unpin(shlog_part *p);
int sl_res_seg_open(shlog_part *p, struct shlog_seg *g); /* g's files open; pinned, seglock held */
int sl_res_charge(shlog_part *p, uint32_t fds);  /* before opening fds of a pinned partition */
void sl_res_uncharge(shlog_part *p, uint32_t fds, int older);
void sl_res_rolled(shlog_part *p);                /* the old tail is an older segment now */

#endif
