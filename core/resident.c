/*
 * resident.c — the store's file-descriptor budget.  A partition whose
 * files are open is *resident*; one whose fds are all closed is *parked*.
 * Parking closes fds and nothing else: the segment table, positions,
 * counters, key table and anchor generation stay in memory, so a parked
 * partition holds nothing in RAM that is not also on disk beyond what a
 * resident one does, and reopening it is a handful of openat() calls
 * (topic dir, partition dir, anchor, the tail's .log and .idx) — no
 * recovery, no index read, no key replay.
 *
 * Every use of a partition's fds happens under a *pin* (sl_res_pin):
 * flushes, syncs, segment reads, seeks, close.  Appends copy into RAM and
 * need no fd.  A pinned partition is never parked; an unpinned one sits
 * on an LRU list and is parked when another needs room.  Holding a
 * handle (shlog_part_get) does not pin, so open files of a mount cost no
 * fds between calls and no user can hold fds by holding files open.
 * Older segments' files are opened on demand (sl_res_seg_open) and an
 * idle partition keeps at most SHLOG_RES_OLDER_KEEP of them.
 *
 * The budget: RLIMIT_NOFILE (raised to its hard limit by the store)
 * minus a reserve for the rest of the program, or max_fds if smaller.  A
 * quarter of it is for topics (one directory fd each; more topics are
 * refused with ENOSPC), the rest for partitions.  When it is full and
 * every resident partition is pinned, the caller waits up to
 * SHLOG_RES_WAIT_MS for an unpin and then gets -ENFILE (logged once a
 * second); nobody else is affected.
 *
 * Partitions not yet counted (being recovered, or in shlogctl repair's
 * bare store) are only ever touched by the thread that opened them, so
 * their pins are plain counters and no lock is taken for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "engine_i.h"
#include "held_i.h"
#include "io_i.h"

/* ================================================================ */
/* The budget                                                        */
/* ================================================================ */

/* The soft RLIMIT_NOFILE as it is now (the store raised it first). */
static uint32_t nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > UINT32_MAX / 2)
		return UINT32_MAX / 2;
	return (uint32_t)rl.rlim_cur;
}

/* Derive the engine's share of the fd limit from the options. */
static int budget_set(shlog_store *s)
{
	struct shlog_res *r = &s->res;
	uint32_t reserve = s->o.fd_reserve, total;

	r->limit = nofile_limit();
	if (reserve == 0)
		reserve = r->limit / SHLOG_RES_RESERVE_DIV > SHLOG_RES_RESERVE_MIN
			  ? r->limit / SHLOG_RES_RESERVE_DIV : SHLOG_RES_RESERVE_MIN;
	total = r->limit > reserve ? r->limit - reserve : 0;
	if (s->o.max_fds && s->o.max_fds <= total)
		total = s->o.max_fds;
	else if (s->o.max_fds)
		sl_logf(s, SHLOG_NOTICE, "max_fds=%u is more than RLIMIT_NOFILE (%u) minus the reserve (%u): "
			   "using %u", s->o.max_fds, r->limit, reserve, total);
	r->total = total;
	r->topic_cap = total / SHLOG_RES_TOPIC_DIV ? total / SHLOG_RES_TOPIC_DIV : 1;
	r->budget = total > r->topic_cap ? total - r->topic_cap : 0;
	r->max_parts = s->o.max_partitions ? s->o.max_partitions : SHLOG_DEF_MAX_PARTITIONS;
	if (r->budget < SHLOG_RES_PART_FDS) {
		sl_logf(s, SHLOG_ERR, "too few file descriptors: RLIMIT_NOFILE %u, %u reserved, max_fds %u "
			   "leave %u for partitions (at least %u needed)", r->limit, reserve, s->o.max_fds,
			   r->budget, SHLOG_RES_PART_FDS);
		return -EINVAL;
	}
	return 0;
}

/* Set up the budget of a store being opened (after raising RLIMIT_NOFILE). */
int sl_res_init(shlog_store *s)
{
	struct shlog_res *r = &s->res;
	pthread_condattr_t ca;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	TAILQ_INIT(&r->lru);
	return budget_set(s);
}

/* Free the budget's locks (store close; every partition is gone). */
void sl_res_destroy(shlog_store *s)
{
	pthread_mutex_destroy(&s->res.mu);
	pthread_cond_destroy(&s->res.cv);
}

/* Refuse what would take the store (holding @ntopics topics) past max_partitions or its topic cap. */
int sl_res_admit(shlog_store *s, uint32_t ntopics, uint32_t new_topics, uint32_t new_parts)
{
	struct shlog_res *r = &s->res;
	uint32_t nparts;

	pthread_mutex_lock(&r->mu);
	nparts = r->nparts;
	pthread_mutex_unlock(&r->mu);
	if (new_topics && (uint64_t)ntopics + new_topics > r->topic_cap) {
		sl_logf(s, SHLOG_WARNING, "refusing a new topic: the store holds %u topics, its limit is %u "
			   "(a quarter of the %u file descriptors it may use; raise RLIMIT_NOFILE or max_fds)",
			   ntopics, r->topic_cap, r->total);
		return -ENOSPC;
	}
	if ((uint64_t)nparts + new_parts > r->max_parts) {
		sl_logf(s, SHLOG_WARNING, "refusing %u new partitions: the store holds %u, its limit "
			   "(max_partitions) is %u", new_parts, nparts, r->max_parts);
		return -ENOSPC;
	}
	return 0;
}

int shlog_store_fd_info(shlog_store *s, struct shlog_fd_info *out)
{
	struct shlog_res *r = &s->res;

	pthread_mutex_lock(&r->mu);
	*out = (struct shlog_fd_info){
		.limit = r->limit, .total = r->total, .budget = r->budget, .used = r->used,
		.topic_cap = r->topic_cap, .max_partitions = r->max_parts, .partitions = r->nparts,
		.resident = r->resident, .parks = r->parks, .reopens = r->reopens,
		.seg_opens = r->seg_opens, .refusals = r->refusals,
	};
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ================================================================ */
/* Opening and closing a partition's files                           */
/* ================================================================ */

/* fds a partition has open now. */
static uint32_t fds_count(const shlog_part *p)
{
	uint32_t n = (p->dfd >= 0) + (p->anchor_fd >= 0);

	for (size_t i = 0; i < p->nsegs; i++)
		n += (p->segs[i].log_fd >= 0) + (p->segs[i].idx_fd >= 0);
	return n;
}

/* Close one segment's two files. */
static void seg_files_close(struct shlog_seg *g)
{
	if (g->log_fd >= 0)
		sl_io.close(g->log_fd);
	if (g->idx_fd >= 0)
		sl_io.close(g->idx_fd);
	g->log_fd = g->idx_fd = -1;
}

/* Close every fd of an unpinned partition. */
static void files_close(shlog_part *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		seg_files_close(&p->segs[i]);
	if (p->anchor_fd >= 0)
		sl_io.close(p->anchor_fd);
	if (p->dfd >= 0)
		sl_io.close(p->dfd);
	p->anchor_fd = p->dfd = -1;
}

/* Open segment @g's .log and .idx (the tail read-write, older ones read-only). */
static int seg_files_open(shlog_part *p, struct shlog_seg *g, int tail)
{
	int flags = tail && !p->s->o.read_only ? O_RDWR : O_RDONLY;
	char lname[32], iname[32];
	int lfd, ifd;

	sl_name_segment(lname, sizeof(lname), g->base_seq, SL_SEG_LOG);
	sl_name_segment(iname, sizeof(iname), g->base_seq, SL_SEG_IDX);
	lfd = sl_io_open(p->dfd, lname, flags, 0, S_IFREG);
	ifd = lfd < 0 ? lfd : sl_io_open(p->dfd, iname, flags, 0, S_IFREG);
	if (ifd < 0) {
		if (lfd >= 0)
			sl_io.close(lfd);
		sl_logf(p->s, SHLOG_ERR, "%s: cannot open segment %s: %s", p->name,
			   lfd < 0 ? lname : iname, shlog_strerror(ifd));
		return ifd;
	}
	g->log_fd = lfd;
	g->idx_fd = ifd;
	return 0;
}

/* The topic part of p->name ("topic/num"). */
static void topic_of(const shlog_part *p, char *out, size_t cap)
{
	const char *slash = strrchr(p->name, '/');
	size_t n = slash ? (size_t)(slash - p->name) : 0;

	if (n >= cap)
		n = cap - 1;
	memcpy(out, p->name, n);
	out[n] = '\0';
}

/* Open the partition directory again, by name from the data dir, and check it is the same one. */
static int dir_reopen(shlog_part *p)
{
	char topic[SHLOG_TOPIC_MAX + 1], num[16];
	struct stat st;
	int dfd;

	topic_of(p, topic, sizeof(topic));
	sl_name_part(num, sizeof(num), p->num);
	dfd = sl_io_open_subdir(p->s->dfd, topic, num);
	if (dfd < 0)
		return dfd;
	if (sl_io.fstat(dfd, &st) < 0 || st.st_dev != p->dir_dev || st.st_ino != p->dir_ino) {
		sl_io.close(dfd);
		sl_logf(p->s, SHLOG_ERR, "%s: the partition directory was replaced while it was parked", p->name);
		return -ENOENT;
	}
	p->dfd = dfd;
	return 0;
}

/* Reopen a parked partition's dir, anchor and tail segment; *n gets the fds opened. */
static int part_reopen(shlog_part *p, uint32_t *n)
{
	int ro = p->s->o.read_only, rc;

	pthread_mutex_lock(&p->mu);
	rc = p->deleted ? -ENOENT : 0;
	pthread_mutex_unlock(&p->mu);
	if (rc == 0)
		rc = dir_reopen(p);
	if (rc == 0) {
		p->anchor_fd = sl_io_open(p->dfd, SHLOG_ANCHOR_NAME, ro ? O_RDONLY : O_RDWR, 0, S_IFREG);
		if (p->anchor_fd < 0)
			rc = ro && p->anchor_fd == -ENOENT ? 0 : p->anchor_fd;
		if (p->anchor_fd < 0)
			p->anchor_fd = -1;
	}
	if (rc == 0)
		rc = seg_files_open(p, &p->segs[p->nsegs - 1], 1);
	if (rc < 0) {
		files_close(p);
		if (rc != -ENOENT || !p->deleted)
			sl_logf(p->s, SHLOG_ERR, "%s: cannot reopen the parked partition: %s", p->name,
				   shlog_strerror(rc));
		return rc;
	}
	*n = fds_count(p);
	return 0;
}

/* ================================================================ */
/* Parking                                                           */
/* ================================================================ */

/* Put an unpinned resident partition at the LRU tail; res.mu held. */
static void lru_add(struct shlog_res *r, shlog_part *p)
{
	SL_HELD(&r->mu);
	if (!p->in_lru) {
		TAILQ_INSERT_TAIL(&r->lru, p, lru);
		p->in_lru = 1;
	}
}

/* Take a partition off the LRU list; res.mu held. */
static void lru_del(struct shlog_res *r, shlog_part *p)
{
	SL_HELD(&r->mu);
	if (p->in_lru) {
		TAILQ_REMOVE(&r->lru, p, lru);
		p->in_lru = 0;
	}
}

/* Free the empty append buffers of an idle partition (it reallocates on the next append). */
static void idle_buffers_free(shlog_part *p)
{
	if (pthread_mutex_trylock(&p->mu) != 0)
		return;
	if (!p->busy && p->a_count == 0 && p->f_count == 0) {
		free(p->active.data);
		free(p->flushing.data);
		free(p->scratch.ents);
		free(p->scratch.keyed);
		p->active = (struct shlog_buf){ 0 };
		p->flushing = (struct shlog_buf){ 0 };
		p->scratch = (struct flush_scratch){ 0 };
	}
	pthread_mutex_unlock(&p->mu);
}

/* Close every fd of unpinned resident partition @p; res.mu held. */
static void park_locked(struct shlog_res *r, shlog_part *p)
{
	SL_HELD(&r->mu);
	lru_del(r, p);
	files_close(p);
	r->used -= p->nfds;
	p->nfds = 0;
	p->older_open = 0;
	p->res_state = SHLOG_RES_PARKED;
	r->resident--;
	r->parks++;
	idle_buffers_free(p);
}

/* Has @p messages in RAM (a flush will want its files soon)?  Never blocks. */
static int has_buffered(shlog_part *p)
{
	int b = 1;

	if (pthread_mutex_trylock(&p->mu) == 0) {
		b = p->a_count || p->f_count;
		pthread_mutex_unlock(&p->mu);
	}
	return b;
}

/* The partition to park: the least recently used idle one among the first few, else the LRU. */
static shlog_part *victim(struct shlog_res *r)
{
	shlog_part *p, *first = TAILQ_FIRST(&r->lru);
	int looked = 0;

	TAILQ_FOREACH(p, &r->lru, lru) {
		if (!has_buffered(p))
			return p;
		if (++looked == 8)
			break;
	}
	return first;
}

/* Log an ENFILE refusal, at most once a second; res.mu held. */
static void refuse(shlog_store *s, const char *who)
{
	SL_HELD(&s->res.mu);
	struct shlog_res *r = &s->res;
	int64_t now = sl_now_mono();

	r->refusals++;
	if (r->refusal_logged_ns && now - r->refusal_logged_ns < 1000000000)
		return;
	r->refusal_logged_ns = now;
	sl_logf(s, SHLOG_WARNING, "%s: refused with ENFILE: all %u file descriptors of the partition "
		   "budget are in use by operations in flight (RLIMIT_NOFILE %u; raise it or max_fds)",
		   who, r->budget, r->limit);
}

/* Park idle partitions until @n more fds fit; wait a little, then -ENFILE.  res.mu held. */
static int room_locked(shlog_store *s, uint32_t n, const char *who)
{
	SL_HELD(&s->res.mu);
	struct shlog_res *r = &s->res;
	int64_t deadline = sl_now_mono() + (int64_t)SHLOG_RES_WAIT_MS * 1000000;

	while (r->used + n > r->budget) {
		shlog_part *v = victim(r);
		struct timespec ts;

		if (v) {
			park_locked(r, v);
			continue;
		}
		if (sl_now_mono() >= deadline) {
			refuse(s, who);
			return -ENFILE;
		}
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		r->waiters++;
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		r->waiters--;
	}
	return 0;
}

/* Park idle partitions while the budget is exceeded (never waits); res.mu held. */
static void shrink_locked(struct shlog_res *r)
{
	SL_HELD(&r->mu);
	shlog_part *v;

	while (r->used > r->budget && (v = victim(r)) != NULL)
		park_locked(r, v);
}

/* Make room for a partition about to be recovered (fds it opens are counted after). */
int sl_res_make_room(shlog_store *s, uint32_t fds)
{
	struct shlog_res *r = &s->res;
	shlog_part *v;

	pthread_mutex_lock(&r->mu);
	while (r->used + fds > r->budget && (v = victim(r)) != NULL)
		park_locked(r, v);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* After loading @ntopics topics: topics beyond the cap take their fds from the partitions' share. */
void sl_res_loaded(shlog_store *s, uint32_t ntopics)
{
	struct shlog_res *r = &s->res;

	pthread_mutex_lock(&r->mu);
	if (ntopics > r->topic_cap) {
		uint32_t left = r->total > ntopics ? r->total - ntopics : 0;
		r->budget = left > SHLOG_RES_PART_FDS ? left : SHLOG_RES_PART_FDS;
		sl_logf(s, SHLOG_WARNING, "the store holds %u topics, more than its limit of %u: partitions "
			   "get %u file descriptors; no topic can be added (raise RLIMIT_NOFILE or max_fds)",
			   ntopics, r->topic_cap, r->budget);
	}
	if (r->nparts > r->max_parts)
		sl_logf(s, SHLOG_WARNING, "the store holds %u partitions, more than max_partitions (%u): "
			   "none can be added", r->nparts, r->max_parts);
	shrink_locked(r);
	pthread_mutex_unlock(&r->mu);
}

/* Close an idle partition's older segments but the SHLOG_RES_OLDER_KEEP opened last; res.mu held. */
static void older_trim_locked(struct shlog_res *r, shlog_part *p)
{
	SL_HELD(&r->mu);
	while (p->older_open > SHLOG_RES_OLDER_KEEP) {
		struct shlog_seg *old = NULL;
		for (size_t i = 0; i + 1 < p->nsegs; i++) {
			struct shlog_seg *g = &p->segs[i];
			if (g->log_fd >= 0 && (!old || g->open_tick < old->open_tick))
				old = g;
		}
		if (!old)
			break;
		seg_files_close(old);
		p->older_open--;
		p->nfds -= SHLOG_RES_SEG_FDS;
		r->used -= SHLOG_RES_SEG_FDS;
	}
}

/* ================================================================ */
/* Pins                                                              */
/* ================================================================ */

/* A new partition: resident, pinned by the thread that recovers it, not counted yet. */
void sl_res_part_init(shlog_part *p)
{
	pthread_mutex_init(&p->fdmu, NULL);
	p->res_state = SHLOG_RES_RESIDENT;
	p->pins = 1;
}

/* A recovered partition joins the budget; the opener's pin is dropped. */
void sl_res_adopt(shlog_part *p)
{
	struct shlog_res *r = &p->s->res;
	struct stat st;

	if (p->dfd >= 0 && sl_io.fstat(p->dfd, &st) == 0) {
		p->dir_dev = st.st_dev;
		p->dir_ino = st.st_ino;
	}
	pthread_mutex_lock(&r->mu);
	p->nfds = fds_count(p);
	p->older_open = 0;
	for (size_t i = 0; i + 1 < p->nsegs; i++)
		p->older_open += p->segs[i].log_fd >= 0;
	r->used += p->nfds;
	r->nparts++;
	r->resident++;
	p->res_counted = 1;
	if (--p->pins == 0) {
		older_trim_locked(r, p);
		lru_add(r, p);
	}
	shrink_locked(r);
	pthread_mutex_unlock(&r->mu);
}

/* A partition is being freed: take it out of the budget. */
void sl_res_forget(shlog_part *p)
{
	struct shlog_res *r = &p->s->res;

	if (!p->res_counted)
		return;
	pthread_mutex_lock(&r->mu);
	lru_del(r, p);
	if (p->res_state == SHLOG_RES_RESIDENT)
		r->resident--;
	r->used -= p->nfds;
	p->nfds = 0;
	r->nparts--;
	p->res_counted = 0;
	if (r->waiters)
		pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Reopen a parked partition (room made, res.mu held): reserve, open without the lock, settle. */
static int unpark_locked(shlog_part *p)
{
	SL_HELD(&p->s->res.mu);
	struct shlog_res *r = &p->s->res;
	uint32_t n = 0;
	int rc;

	p->res_state = SHLOG_RES_OPENING;
	r->used += SHLOG_RES_PART_FDS;
	pthread_mutex_unlock(&r->mu);
	rc = part_reopen(p, &n);
	pthread_mutex_lock(&r->mu);
	r->used -= SHLOG_RES_PART_FDS;
	if (rc == 0) {
		r->used += n;
		p->nfds = n;
		p->older_open = 0;
		p->pins = 1;
		p->res_state = SHLOG_RES_RESIDENT;
		r->resident++;
		r->reopens++;
	} else {
		p->res_state = SHLOG_RES_PARKED;
	}
	pthread_cond_broadcast(&r->cv);
	return rc;
}

/* Pin @p: its files are open (reopened if it was parked) until sl_res_unpin(). */
int sl_res_pin(shlog_part *p)
{
	struct shlog_res *r = &p->s->res;
	int rc = 0;

	if (!p->res_counted) {
		p->pins++;
		return 0;
	}
	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (p->res_state == SHLOG_RES_OPENING) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		if (p->res_state == SHLOG_RES_RESIDENT) {
			if (p->pins++ == 0)
				lru_del(r, p);
			rc = 0;
			break;
		}
		rc = room_locked(p->s, SHLOG_RES_PART_FDS, p->name);
		if (p->res_state != SHLOG_RES_PARKED)
			continue;        /* another thread reopened it while we waited */
		if (rc == 0)
			rc = unpark_locked(p);
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Drop a pin; the last one puts the partition on the LRU list. */
void sl_res_unpin(shlog_part *p)
{
	struct shlog_res *r = &p->s->res;

	if (!p->res_counted) {
		p->pins--;
		return;
	}
	pthread_mutex_lock(&r->mu);
	if (--p->pins == 0 && p->res_state == SHLOG_RES_RESIDENT) {
		older_trim_locked(r, p);
		lru_add(r, p);
		if (r->waiters)
			pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
}

/* Charge @fds a pinned partition is about to open (a new segment at roll). */
int sl_res_charge(shlog_part *p, uint32_t fds)
{
	struct shlog_res *r = &p->s->res;
	int rc;

	if (!p->res_counted)
		return 0;
	pthread_mutex_lock(&r->mu);
	rc = room_locked(p->s, fds, p->name);
	if (rc == 0) {
		r->used += fds;
		p->nfds += fds;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Give back @fds a pinned partition closed (@older: those of an older segment). */
void sl_res_uncharge(shlog_part *p, uint32_t fds, int older)
{
	struct shlog_res *r = &p->s->res;

	if (!p->res_counted)
		return;
	pthread_mutex_lock(&r->mu);
	r->used -= fds;
	p->nfds -= fds;
	if (older)
		p->older_open--;
	pthread_mutex_unlock(&r->mu);
}

/* A roll made a new tail (charged before): the old tail counts as an older segment now. */
void sl_res_rolled(shlog_part *p)
{
	struct shlog_res *r = &p->s->res;

	if (!p->res_counted || p->nsegs < 2)
		return;
	pthread_mutex_lock(&r->mu);
	p->segs[p->nsegs - 2].open_tick = ++r->tick;
	p->older_open++;
	pthread_mutex_unlock(&r->mu);
}

/* Make sure segment @g's files are open (pinned; seglock held). */
int sl_res_seg_open(shlog_part *p, struct shlog_seg *g)
{
	struct shlog_res *r = &p->s->res;
	int tail = g == &p->segs[p->nsegs - 1], rc = 0;

	pthread_mutex_lock(&p->fdmu);
	if (g->log_fd >= 0)
		goto out;
	if (p->res_counted) {
		pthread_mutex_lock(&r->mu);
		rc = room_locked(p->s, SHLOG_RES_SEG_FDS, p->name);
		if (rc == 0) {
			r->used += SHLOG_RES_SEG_FDS;
			p->nfds += SHLOG_RES_SEG_FDS;
			p->older_open += !tail;
			g->open_tick = ++r->tick;
			r->seg_opens++;
		}
		pthread_mutex_unlock(&r->mu);
		if (rc < 0)
			goto out;
	}
	rc = seg_files_open(p, g, tail);
	if (rc < 0 && p->res_counted) {
		pthread_mutex_lock(&r->mu);
		r->used -= SHLOG_RES_SEG_FDS;
		p->nfds -= SHLOG_RES_SEG_FDS;
		p->older_open -= !tail;
		pthread_mutex_unlock(&r->mu);
	}
out:
	pthread_mutex_unlock(&p->fdmu);
	return rc;
}
