/*
 * pcache.c — what the kernel's page cache may hold of a log: exact bytes
 * or nothing.
 *
 * read() of a log, at/<N> or since/<time> never goes through the page
 * cache (direct_io, read.c).  A private mmap, sendfile and splice do:
 * the kernel fills its pages with reads of its own (they carry no lock
 * owner, which tells them apart) and copies out up to its own size of
 * the file.  Two things make a cached page show zeros as data: a short
 * read leaves the rest of its page zero-filled, and a size the kernel
 * applies below what it cached cuts the page there (zeroing its rest);
 * a later, larger size then shows those zeros.  While a writer is open
 * both happen all the time: a write's reply sets the kernel's size past
 * the log's end (the writer's unfinished line, which its handle holds),
 * getattr replies then say the log's end, and a getattr reply is
 * applied when its caller runs again, maybe after newer bytes were
 * cached.  The daemon cannot stop either, so a page read gets exact
 * bytes or EIO (SIGBUS in a mapping):
 *
 *  - at/, since/ and <topic>/log (SHLOGFS_PC_NEVER): EIO.  Their bytes
 *    at an offset move as the log does.
 *  - a partition log (SHLOGFS_PC_LOG): served only while nothing can
 *    make it grow: no open writer of the log itself, of its keys/<key>
 *    files or of its topic's <topic>/log (counted by partition in
 *    fs->pc_busy; a hash collision only refuses more); else EIO.
 *  - and only once no size below the bytes it serves can still reach the
 *    kernel: the kernel drops a size reply older than the inode's
 *    attribute version, so a read past a size told (or being found)
 *    since the last bump bumps it (notify_inval_inode of the attributes
 *    only: no page is touched, so a request thread may do it) and gets
 *    EIO, to be tried again (a reply that came before the bump may be
 *    cutting the cache at that moment).
 *  - The node remembers that the kernel may cache pages of it
 *    (pc_cached).  A writer of the log itself opens it, and every open of
 *    a log drops the kernel's cached pages (no keep_cache), so that open
 *    clears pc_cached.  A writer of keys/<key> or <topic>/log opens
 *    another inode: before its open is answered, the notifier thread
 *    drops the cached pages of each log it feeds (notify_inval_inode),
 *    and rm keys/<key> does the same around its tombstone.  The drop
 *    waits for pages being read, and those reads need a request thread,
 *    so it is never made from one; the opener waits for it at most
 *    SHLOGFS_PC_WAIT_MS and then fails with EAGAIN (a log line says so).
 *
 * With -o writeback a partition log's pages are the writers' own (wb.c)
 * and none of this applies.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "pcache.h"
#include "held_i.h"
#include "log.h"
#include "read.h"
#include "node.h"
#include "text.h"

/* How long an opener waits for the kernel's pages to be dropped. */
#define SHLOGFS_PC_WAIT_MS 2000

/* ==== writers by partition ============================================ */

/* The slot of fs->pc_busy that counts writers of partition @p part of @p topic. */
static uint32_t shlogfs_pc_slot(const char *topic, uint32_t part)
{
	uint32_t h = shlogfs_fnv1a(topic, strlen(topic)) ^ (part * 0x9e3779b1u);

	return (h ^ (h >> 15)) & (SHLOGFS_PC_SLOTS - 1);
}

/* Add @p d to the writer counts of @p h's partitions (fs->lock held). */
static void shlogfs_pc_count(struct shlogfs *fs, struct shlogfs_handle *h,
			     int d)
{
	SL_HELD(&fs->lock);
	for (uint32_t i = 0; i < h->pc_n; i++)
		fs->pc_busy[shlogfs_pc_slot(h->node->topic,
					    h->pc_first + i)] += (uint32_t)d;
}

/* ==== the notifier ===================================================== */

/* One drop of an inode's cached pages, asked for by an opener. */
struct shlogfs_pc_job {
	struct shlogfs_pc_job *next;
	fuse_ino_t ino;
	uint64_t gen;   /* the node's pc_gen when asked */
	int done;       /* 1: dropped (or given up) */
	int abandoned;  /* the opener stopped waiting: the notifier frees it */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;   /* a job was queued, or stop */
	pthread_cond_t done;   /* a job was done */
	struct shlogfs_pc_job *head, **tail;
	struct shlogfs *fs;
	pthread_t thread;
	int running, stop;
} pcn = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
	.tail = &pcn.head,
};

/* Forget that @p ino may be cached, unless a page read began after @p gen. */
static void shlogfs_pc_clear(struct shlogfs *fs, fuse_ino_t ino, uint64_t gen)
{
	struct shlogfs_node *n;

	pthread_mutex_lock(&fs->lock);
	n = shlogfs_node_find(fs, ino);
	if (n && n->pc_gen == gen)
		n->pc_cached = 0;
	pthread_mutex_unlock(&fs->lock);
}

/* Drop the kernel's cached pages of one job's inode. */
static void shlogfs_pc_drop(struct shlogfs *fs, struct shlogfs_pc_job *j)
{
	struct fuse_session *se = __atomic_load_n(&fs->se, __ATOMIC_ACQUIRE);
	int rc;

	if (!se)
		return; /* shutting down: nobody reads any more */
	rc = fuse_lowlevel_notify_inval_inode(se, j->ino, 0, 0);
	if (rc == 0 || rc == -ENOENT) { /* ENOENT: the kernel forgot it */
		shlogfs_pc_clear(fs, j->ino, j->gen);
		__atomic_add_fetch(&fs->pc_drops, 1, __ATOMIC_RELAXED);
	}
	else
		shlogfs_log(LOG_WARNING, "dropping the kernel's pages of inode "
			    "%llu failed: %s", (unsigned long long)j->ino,
			    shlog_strerror(rc));
}

/* The notifier thread: one drop at a time, in the order asked. */
static void *shlogfs_pc_main(void *arg)
{
	struct shlogfs *fs = arg;

	pthread_mutex_lock(&pcn.mu);
	for (;;) {
		while (!pcn.head && !pcn.stop)
			pthread_cond_wait(&pcn.work, &pcn.mu);
		struct shlogfs_pc_job *j = pcn.head;
		if (!j)
			break;
		if (!(pcn.head = j->next))
			pcn.tail = &pcn.head;
		pthread_mutex_unlock(&pcn.mu);
		if (!pcn.stop)
			shlogfs_pc_drop(fs, j);
		pthread_mutex_lock(&pcn.mu);
		j->done = 1;
		if (j->abandoned)
			free(j);
		else
			pthread_cond_broadcast(&pcn.done);
	}
	pthread_mutex_unlock(&pcn.mu);
	return NULL;
}

/* Start the notifier thread. */
int shlogfs_pc_start(struct shlogfs *fs)
{
	int rc;

	pcn.fs = fs;
	pcn.stop = 0;
	if ((rc = pthread_create(&pcn.thread, NULL, shlogfs_pc_main, fs)))
		return -rc;
	pcn.running = 1;
	return 0;
}

/* Stop the notifier thread: what is queued is marked done undropped. */
void shlogfs_pc_stop(void)
{
	if (!pcn.running)
		return;
	pthread_mutex_lock(&pcn.mu);
	pcn.stop = 1;
	pthread_cond_signal(&pcn.work);
	pthread_mutex_unlock(&pcn.mu);
	pthread_join(pcn.thread, NULL);
	pcn.running = 0;
}

/* Have the notifier drop @p ino's pages and wait for it; 0 or -EAGAIN. */
static int shlogfs_pc_drop_wait(fuse_ino_t ino, uint64_t gen)
{
	struct shlogfs_pc_job *j = calloc(1, sizeof *j);
	struct timespec until = shlogfs_deadline_ms(SHLOGFS_PC_WAIT_MS);
	int rc = 0;

	if (!j)
		return -ENOMEM;
	j->ino = ino;
	j->gen = gen;
	pthread_mutex_lock(&pcn.mu);
	if (!pcn.running || pcn.stop) {
		pthread_mutex_unlock(&pcn.mu);
		free(j);
		return -EAGAIN;
	}
	*pcn.tail = j;
	pcn.tail = &j->next;
	pthread_cond_signal(&pcn.work);
	while (!j->done && rc == 0)
		rc = pthread_cond_timedwait(&pcn.done, &pcn.mu, &until);
	if (j->done) {
		rc = 0;
		free(j);
	} else {
		j->abandoned = 1; /* the notifier frees it */
		rc = -EAGAIN;
	}
	pthread_mutex_unlock(&pcn.mu);
	return rc;
}

/* ==== opens and closes ================================================= */

/* The partition log @p nm, if the kernel knows it and may cache a page of
 * it: its number (and pc_gen), else 0. */
static fuse_ino_t shlogfs_pc_cached(struct shlogfs *fs,
				    const struct shlogfs_name *nm,
				    uint64_t *gen)
{
	struct shlogfs_node *n;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&fs->lock);
	n = shlogfs_node_find_name(fs, nm);
	if (n && n->pc_cached) {
		ino = n->ino;
		*gen = n->pc_gen;
	}
	pthread_mutex_unlock(&fs->lock);
	return ino;
}

/* Drop the cached pages of log @p nm before someone appends to it. */
static int shlogfs_pc_drop_log(struct shlogfs *fs,
			       const struct shlogfs_name *nm)
{
	uint64_t gen = 0;
	fuse_ino_t ino = shlogfs_pc_cached(fs, nm, &gen);
	int rc = ino ? shlogfs_pc_drop_wait(ino, gen) : 0;

	if (rc)
		shlogfs_log(LOG_WARNING, "%s/%u: an append refused (%s): the "
			    "kernel's cached pages of the log were not dropped "
			    "in %d ms", nm->topic, nm->part, shlog_strerror(rc),
			    SHLOGFS_PC_WAIT_MS);
	return rc;
}

/* Drop the cached pages of every log a new writer of another inode feeds. */
static int shlogfs_pc_drop_fed(struct shlogfs *fs, struct shlogfs_handle *h)
{
	struct shlogfs_name nm = { h->node->kind->feeds, h->node->topic, 0,
				   NULL };
	int rc = 0;

	for (uint32_t i = 0; i < h->pc_n && rc == 0; i++) {
		nm.part = h->pc_first + i;
		rc = shlogfs_pc_drop_log(fs, &nm);
	}
	return rc;
}

/* Count @p h as a writer of the partitions its kind feeds. */
static void shlogfs_pc_writer(struct shlogfs *fs, struct shlogfs_handle *h)
{
	const struct shlogfs_kind *k = h->node->kind;

	h->pc_first = k->feeds_all ? 0 : h->node->part;
	h->pc_n = k->feeds_all ? h->nparts : 1;
	pthread_mutex_lock(&fs->lock);
	shlogfs_pc_count(fs, h, 1);
	pthread_mutex_unlock(&fs->lock);
}

/* A new handle: a log's open drops its pages; a writer is counted. */
int shlogfs_pc_open(struct shlogfs *fs, struct shlogfs_handle *h,
		    const struct fuse_file_info *fi)
{
	const struct shlogfs_kind *k = h->node->kind;
	int wr = (fi->flags & O_ACCMODE) != O_RDONLY;

	if (fs->wb_on)
		return 0;
	if (k->pcache == SHLOGFS_PC_LOG && !fi->keep_cache) {
		/* the kernel drops every cached page of it at this open */
		pthread_mutex_lock(&fs->lock);
		h->node->pc_cached = 0;
		pthread_mutex_unlock(&fs->lock);
	}
	if (!wr || !k->feeds)
		return 0;
	shlogfs_pc_writer(fs, h);
	return k->feeds == k ? 0 : shlogfs_pc_drop_fed(fs, h);
}

/* A handle is gone: it no longer counts as a writer. */
void shlogfs_pc_close(struct shlogfs *fs, struct shlogfs_handle *h)
{
	if (!h->pc_n)
		return;
	pthread_mutex_lock(&fs->lock);
	shlogfs_pc_count(fs, h, -1);
	pthread_mutex_unlock(&fs->lock);
	h->pc_n = 0;
}

/* Before appending to log @p nm without an open writer (rm keys/<key>):
 * count one while it lasts, and drop its cached pages; 0 or -EAGAIN. */
int shlogfs_pc_feed_begin(struct shlogfs *fs, const struct shlogfs_name *nm)
{
	int rc;

	if (fs->wb_on)
		return 0;
	pthread_mutex_lock(&fs->lock);
	fs->pc_busy[shlogfs_pc_slot(nm->topic, nm->part)]++;
	pthread_mutex_unlock(&fs->lock);
	if ((rc = shlogfs_pc_drop_log(fs, nm)))
		shlogfs_pc_feed_end(fs, nm);
	return rc;
}

/* After the append of shlogfs_pc_feed_begin(). */
void shlogfs_pc_feed_end(struct shlogfs *fs, const struct shlogfs_name *nm)
{
	if (fs->wb_on)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->pc_busy[shlogfs_pc_slot(nm->topic, nm->part)]--;
	pthread_mutex_unlock(&fs->lock);
}

/* ==== page reads ======================================================= */

/* A page read of a partition log is starting: from now on the kernel may
 * cache what it gets (set first, so a writer of another inode that feeds
 * this log and opens meanwhile drops it); are writers open? */
static int shlogfs_pc_read_begin(struct shlogfs *fs, struct shlogfs_node *n)
{
	int busy;

	pthread_mutex_lock(&fs->lock);
	n->pc_cached = 1;
	n->pc_gen++;
	busy = fs->pc_busy[shlogfs_pc_slot(n->topic, n->part)] != 0;
	pthread_mutex_unlock(&fs->lock);
	return busy;
}

/* A size of @p n is being found (a getattr or lookup reply). */
void shlogfs_pc_attr_begin(struct shlogfs *fs, struct shlogfs_node *n)
{
	pthread_mutex_lock(&fs->lock);
	n->pc_attrs++;
	pthread_mutex_unlock(&fs->lock);
}

/* ... and it is @p size. */
void shlogfs_pc_attr_end(struct shlogfs *fs, struct shlogfs_node *n,
			 uint64_t size)
{
	pthread_mutex_lock(&fs->lock);
	n->pc_attrs--;
	if (!n->pc_told_set || size < n->pc_told)
		n->pc_told = size;
	n->pc_told_set = 1;
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Before a page read serves bytes up to @p end: a size reply below @p end
 * that was told (or is being found) since the last bump may still reach
 * the kernel; bump the attribute version, so it is dropped if it comes
 * later, and have this read tried again (-EAGAIN: it gets EIO), as one
 * that came first may be cutting the kernel's cache right now.
 */
static int shlogfs_pc_outdate(struct shlogfs *fs, struct shlogfs_node *n,
			      uint64_t end)
{
	struct fuse_session *se;
	int bump;

	pthread_mutex_lock(&fs->lock);
	bump = n->pc_attrs || (n->pc_told_set && end > n->pc_told);
	if (bump)
		n->pc_told_set = 0;
	pthread_mutex_unlock(&fs->lock);
	if (!bump)
		return 0;
	se = __atomic_load_n(&fs->se, __ATOMIC_ACQUIRE);
	if (se)
		fuse_lowlevel_notify_inval_inode(se, n->ino, -1, 0);
	return -EAGAIN;
}

/* Are writers of @p n's log open now? */
static int shlogfs_pc_busy(struct shlogfs *fs, struct shlogfs_node *n)
{
	int busy;

	pthread_mutex_lock(&fs->lock);
	busy = fs->pc_busy[shlogfs_pc_slot(n->topic, n->part)] != 0;
	pthread_mutex_unlock(&fs->lock);
	return busy;
}

/* A page read of a partition log found @p got bytes: served only while
 * nobody can make the log grow and no older size of it can still reach
 * the kernel (shlogfs_read_check_fn). */
static int shlogfs_pc_check(struct shlogfs *fs, struct shlogfs_handle *h,
			    uint64_t off, size_t size, size_t got)
{
	int rc = 0;

	(void)size;
	if (got > 0 && shlogfs_pc_outdate(fs, h->node, off + got))
		rc = -EIO;
	else if (shlogfs_pc_busy(fs, h->node))
		rc = -EIO; /* a writer came since the read began */
	__atomic_add_fetch(rc ? &fs->pc_refused : &fs->pc_served, 1,
			   __ATOMIC_RELAXED);
	return rc;
}

/* Answer a read the kernel sent to fill its page cache (it carries no
 * lock owner): exact bytes or EIO.  1 if answered, 0 for another read. */
int shlogfs_pc_reply(fuse_req_t req, struct shlogfs_handle *h,
		     const struct fuse_file_info *fi, uint64_t off, size_t size)
{
	struct shlogfs *fs = shlogfs_of(req);
	enum shlogfs_pcache pc = h->node->kind->pcache;

	if (fi->lock_owner != 0 || pc == SHLOGFS_PC_ANY || fs->wb_on)
		return 0; /* read(): direct I/O, never cached */
	if (pc == SHLOGFS_PC_NEVER || !h->part ||
	    shlogfs_pc_read_begin(fs, h->node)) {
		/* a view, or writers open: nothing of it may be cached */
		__atomic_add_fetch(&fs->pc_refused, 1, __ATOMIC_RELAXED);
		fuse_reply_err(req, EIO);
		return 1;
	}
	shlogfs_read_ahead_if(req, h, off, size, 1, shlogfs_pc_check);
	return 1;
}
