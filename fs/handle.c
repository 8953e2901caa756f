/*
 * handle.c — open files: made at open (file.c, or a kind's create), set
 * up by their kind's open operation, finished by its release operation
 * at the last close, and registered so shutdown can release them all.
 *
 * The memory budget (budget.c): a handle is charged what it holds for
 * its opener: itself, its per-partition arrays, its key name and its
 * buffer (unfinished line, key value or status text), by capacity.  The
 * charge is taken at open and before a write that grows the buffer, and
 * brought down to what is held after each write.
 */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "handle.h"
#include "budget.h"
#include "cred.h"
#include "follow.h"
#include "log.h"
#include "pcache.h"
#include "text.h"

/* A new handle on @p n for @p uid, registered for shutdown. */
struct shlogfs_handle *shlogfs_handle_new(struct shlogfs *fs,
					  struct shlogfs_node *n, int flags,
					  uid_t uid)
{
	struct shlogfs_handle *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->node = n;
	h->flags = flags;
	h->uid = uid;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->ra_lock, NULL);
	pthread_mutex_lock(&fs->lock);
	LIST_INSERT_HEAD(&fs->handles, h, link);
	pthread_mutex_unlock(&fs->lock);
	return h;
}

/* Open @p n for @p uid: a handle set up by its kind's open, charged to
 * the budget, in fi->fh; 0 or -errno (nothing left behind). */
int shlogfs_handle_open(struct shlogfs *fs, struct shlogfs_node *n,
			const struct shlogfs_cred *c, struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_handle_new(fs, n, fi->flags, c->uid);
	int rc;

	if (!h)
		return -ENOMEM;
	rc = (fi->flags & O_ACCMODE) != O_RDONLY ? shlogfs_writer_new(fs->store, &h->writer) : 0;
	if (rc == 0)
		rc = n->kind->open ? n->kind->open(fs, n, h, c, fi) : -EISDIR;
	if (rc == 0)
		rc = shlogfs_pc_open(fs, h, fi);
	if (rc == 0)
		rc = shlogfs_handle_grow(fs, h, h->buf.cap, "open");
	if (rc) {
		shlogfs_handle_drop(fs, h);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

/* Publish the size of @p h's snapshot as its node's size. */
void shlogfs_handle_snap(struct shlogfs *fs, struct shlogfs_handle *h,
			 uint64_t len)
{
	pthread_mutex_lock(&fs->lock);
	if (!h->snap)
		h->node->nsnap++;
	h->snap = 1;
	h->node->snap_len = len;
	pthread_mutex_unlock(&fs->lock);
}

/* Bytes @p h holds with a buffer of capacity @p cap. */
static uint64_t shlogfs_handle_bytes(const struct shlogfs_handle *h,
				     size_t cap)
{
	return sizeof *h + h->klen + cap +
	       (uint64_t)h->nparts * (sizeof *h->parts + sizeof *h->batch +
				      2 * sizeof *h->ext);
}

/* Charge @p h for a buffer that will hold @p need bytes; -ENOBUFS. */
int shlogfs_handle_grow(struct shlogfs *fs, struct shlogfs_handle *h,
			size_t need, const char *what)
{
	size_t cap = shlogfs_buf_cap_for(&h->buf, need);

	return shlogfs_budget_set(fs, h->uid, &h->held,
				  shlogfs_handle_bytes(h, cap), what);
}

/* After a write: charge what is held now. */
void shlogfs_handle_settle(struct shlogfs *fs, struct shlogfs_handle *h)
{
	uint64_t want = shlogfs_handle_bytes(h, h->buf.cap);

	if (want > h->held) /* held already: counted, not refused */
		shlogfs_budget_force(fs, h->uid, want - h->held);
	else
		shlogfs_budget_give(fs, h->uid, h->held - want);
	h->held = want;
}

/* Commit what a handle holds back, through its kind (log it if lost). */
static void shlogfs_handle_finish(struct shlogfs *fs, struct shlogfs_handle *h)
{
	const struct shlogfs_kind *k = h->node->kind;
	int rc = k->release ? k->release(fs, h) : 0;

	if (rc < 0)
		shlogfs_log(LOG_WARNING, "%s/%u: unfinished %s lost at close: %s",
			    h->node->topic, h->node->part,
			    k->held ? k->held : "data", shlog_strerror(rc));
}

/* Free what a handle owns. */
static void shlogfs_handle_free(struct shlogfs_handle *h)
{
	if (h->part)
		shlogfs_part_put(h->part);
	for (uint32_t i = 0; i < h->nparts; i++)
		shlogfs_part_put(h->parts[i]);
	if (h->batch)
		for (uint32_t i = 0; i < h->nparts; i++)
			shlogfs_buf_free(&h->batch[i]);
	shlogfs_writer_free(h->writer);
	free(h->parts);
	free(h->batch);
	free(h->ext);
	free(h->key);
	shlogfs_buf_free(&h->buf);
	shlogfs_buf_free(&h->ra);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->ra_lock);
	free(h);
}

/* Finish (best effort), unregister and free a handle. */
void shlogfs_handle_drop(struct shlogfs *fs, struct shlogfs_handle *h)
{
	/* a reader replies, then still charges and unlocks ra_lock: the
	 * kernel may send this release in between, so wait for it to leave */
	pthread_mutex_lock(&h->ra_lock);
	pthread_mutex_unlock(&h->ra_lock);
	shlogfs_handle_finish(fs, h);
	shlogfs_fw_close(h);
	shlogfs_pc_close(fs, h);
	pthread_mutex_lock(&fs->lock);
	LIST_REMOVE(h, link);
	if (h->snap)
		h->node->nsnap--;
	pthread_mutex_unlock(&fs->lock);
	shlogfs_budget_give(fs, h->uid, h->held + h->ra_held);
	shlogfs_handle_free(h);
}

/* Release every handle still open (shutdown after the session loop). */
void shlogfs_handles_close_all(struct shlogfs *fs)
{
	while (!LIST_EMPTY(&fs->handles))
		shlogfs_handle_drop(fs, LIST_FIRST(&fs->handles));
}
