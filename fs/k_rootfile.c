/*
 * k_rootfile.c — the kinds of the root files /.metrics and /.status
 * (their texts: metrics.c).
 *
 * Both are snapshots taken at open and served with direct_io.  Each
 * reader sees only the partitions whose log it may read (root: all),
 * and only root sees the data dir's path.  A snapshot is shared by every
 * open with the same credentials within SHLOGFS_SNAP_SHARE_NS of its
 * making, and charged once to its opener's memory budget (budget.c):
 * many open handles cost one text, not one each.  A stat reports the
 * size of the text an open would read at that moment: the caller's
 * young snapshot, made by the stat if there is none, and kept for the
 * open that usually follows (tar stats, then opens and reads the size
 * it found).  So a stat flood makes one text a second per credentials,
 * not one per stat.  Unprivileged readers share a text for a second
 * (so they may see numbers up to a second old); root's opens always
 * make a new one.  Their names
 * start with a dot, which no topic name can (shlog_topic_name_check), so
 * they never collide with a topic.  They are found by name only, like
 * at/<N>: a listing of the root shows topics and nothing else, so
 * `ls -A`, `tar -C MNT .` and `rsync MNT/` see only topics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "kinds.h"
#include "budget.h"
#include "cred.h"
#include "metrics.h"
#include "read.h"
#include "stat.h"
#include "text.h"

/**
 * A snapshot of /.metrics or /.status for one set of credentials,
 * shared by the handles opened with them within a second.
 */
struct shlogfs_snap {
	LIST_ENTRY(shlogfs_snap) link; /**< in shlogfs.snaps */
	const struct shlogfs_kind *kind;
	uint32_t refs;             /**< handles using it (fs->lock); 0: kept
				    *   for sharing until it is too old */
	int64_t born_ns;           /**< CLOCK_MONOTONIC when made */
	uid_t uid;                 /**< charged to (budget.c) */
	uint64_t cred_hash;        /**< of the whole credentials */
	int refused;               /**< no text: past the budget (kept a while) */
	int private;               /**< root's open: never shared, freed at release */
	struct shlogfs_buf text;
};

/** What tells the two root files apart (their kind's priv). */
struct shlogfs_rootfile {
	int (*make)(struct shlogfs *fs, const struct shlogfs_cred *c,
		    struct shlogfs_buf *out);   /**< its text (metrics.c) */
	const char *what;                       /**< for the budget's log line */
};

/* The description of root-file kind @p k. */
static const struct shlogfs_rootfile *shlogfs_rootfile_of(
	const struct shlogfs_kind *k)
{
	return k->priv;
}

/* ==== shared snapshots ================================================ */

/* Opens within this long of a snapshot's making share it. */
#define SHLOGFS_SNAP_SHARE_NS 1000000000LL
/* A text refused by the budget is not tried again for this long. */
#define SHLOGFS_SNAP_REFUSED_NS 5000000000LL

/* How long a snapshot made at @p born may be shared. */
static int shlogfs_snap_young(const struct shlogfs_snap *sn, int64_t now)
{
	return now - sn->born_ns < (sn->refused ? SHLOGFS_SNAP_REFUSED_NS
						: SHLOGFS_SNAP_SHARE_NS);
}

/* 64-bit FNV-1a of everything that decides what @p c may see. */
static uint64_t shlogfs_cred_hash(const struct shlogfs_cred *c)
{
	uint64_t h = 14695981039346656037ULL;
	uint32_t v[3] = { c->uid, c->gid, (uint32_t)c->ngroups };
	const unsigned char *p = (const unsigned char *)v;

	for (size_t i = 0; i < sizeof v; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	p = (const unsigned char *)c->groups;
	for (size_t i = 0; i < (size_t)c->ngroups * sizeof c->groups[0]; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* Bytes a snapshot costs its opener's budget. */
static uint64_t shlogfs_snap_bytes(const struct shlogfs_snap *sn)
{
	return sizeof *sn + sn->text.cap;
}

/*
 * The newest young snapshot of @p kind for exactly these credentials
 * (fs->lock); @p any: root's private ones too (a stat while one is open
 * reports its size).
 */
static struct shlogfs_snap *shlogfs_snap_find(struct shlogfs *fs,
					      const struct shlogfs_kind *kind,
					      uid_t uid, uint64_t hash,
					      int64_t now, int any)
{
	struct shlogfs_snap *sn;

	LIST_FOREACH(sn, &fs->snaps, link)
		if (sn->kind == kind && sn->uid == uid && sn->cred_hash == hash &&
		    (any || !sn->private) && shlogfs_snap_young(sn, now))
			return sn;
	return NULL;
}

/* Free a snapshot no handle uses, and give back its charge. */
static void shlogfs_snap_free(struct shlogfs *fs, struct shlogfs_snap *sn)
{
	if (!sn->refused)
		shlogfs_budget_give(fs, sn->uid, shlogfs_snap_bytes(sn));
	shlogfs_buf_free(&sn->text);
	free(sn);
}

/* Unlink the snapshots no handle uses that are too old to share (fs->lock). */
static void shlogfs_snap_sweep(struct shlogfs *fs, int64_t now,
			       struct shlogfs_snap **dead)
{
	struct shlogfs_snap *sn, *next;

	LIST_FOREACH_SAFE(sn, &fs->snaps, link, next) {
		if (sn->refs || (!sn->private && shlogfs_snap_young(sn, now)))
			continue;
		LIST_REMOVE(sn, link);
		LIST_NEXT(sn, link) = *dead; /* a private chain from here on */
		*dead = sn;
	}
}

/* Free a chain made by shlogfs_snap_sweep() (outside fs->lock). */
static void shlogfs_snap_free_chain(struct shlogfs *fs, struct shlogfs_snap *sn)
{
	while (sn) {
		struct shlogfs_snap *next = LIST_NEXT(sn, link);
		shlogfs_snap_free(fs, sn);
		sn = next;
	}
}

/* Make a snapshot for @p c, charged to its budget; -ENOBUFS past it. */
static int shlogfs_snap_make(struct shlogfs *fs,
			     const struct shlogfs_kind *kind,
			     const struct shlogfs_cred *c, uint64_t hash,
			     int64_t now, struct shlogfs_snap **out)
{
	struct shlogfs_snap *sn = calloc(1, sizeof *sn);
	int rc;

	if (!sn)
		return -ENOMEM;
	sn->kind = kind;
	sn->uid = c->uid;
	sn->cred_hash = hash;
	sn->born_ns = now;
	__atomic_add_fetch(&fs->snaps_made, 1, __ATOMIC_RELAXED);
	rc = shlogfs_rootfile_of(kind)->make(fs, c, &sn->text);
	if (rc == 0)
		rc = shlogfs_budget_take(fs, c->uid, shlogfs_snap_bytes(sn),
					 shlogfs_rootfile_of(kind)->what);
	if (rc == -ENOBUFS) {
		/* remembered: a flood of stats or opens does not make it again */
		shlogfs_buf_free(&sn->text);
		sn->refused = 1;
		rc = 0;
	}
	if (rc) {
		shlogfs_buf_free(&sn->text);
		free(sn);
		return rc;
	}
	*out = sn;
	return 0;
}

/*
 * The snapshot @p c gets now (open, stat): a young one made for the same
 * credentials, or a new one; -ENOBUFS when the text is past the caller's
 * budget (remembered for SHLOGFS_SNAP_REFUSED_NS, so a flood does not
 * make it again).  A reference is taken (give it back with
 * shlogfs_snap_put()); @p ref_kept: for an open handle, else for a stat,
 * which may also use a private one.  @p fresh: a new text only for this
 * reference, freed when it is put (root's opens: a loop of them must not
 * pile texts up for a second).
 * However many opens and stats an unprivileged user makes, at most one
 * text per credentials and second is made for them (they may read
 * numbers up to a second old); root's opens always get a new text.
 */
static int shlogfs_snap_get(struct shlogfs *fs,
			    const struct shlogfs_kind *kind,
			    const struct shlogfs_cred *c, int ref_kept,
			    int fresh, struct shlogfs_snap **out)
{
	uint64_t hash = shlogfs_cred_hash(c);
	int64_t now = shlogfs_mono_ns();
	struct shlogfs_snap *sn, *dead = NULL, *mine;
	int rc, refused;

	pthread_mutex_lock(&fs->lock);
	shlogfs_snap_sweep(fs, now, &dead);
	sn = fresh ? NULL : shlogfs_snap_find(fs, kind, c->uid, hash, now, !ref_kept);
	refused = sn && sn->refused; /* a marker may be swept once unlocked */
	if (sn)
		sn->refs += !refused;
	pthread_mutex_unlock(&fs->lock);
	shlogfs_snap_free_chain(fs, dead);
	if (refused)
		return -ENOBUFS;
	if (sn) {
		*out = sn;
		return 0;
	}
	if ((rc = shlogfs_snap_make(fs, kind, c, hash, now, &mine)))
		return rc;
	pthread_mutex_lock(&fs->lock);
	/* another thread may have made one meanwhile: share the first */
	sn = fresh ? NULL : shlogfs_snap_find(fs, kind, c->uid, hash, now, 0);
	if (!sn) {
		sn = mine;
		mine = NULL;
		sn->private = fresh;
		LIST_INSERT_HEAD(&fs->snaps, sn, link);
	}
	refused = sn->refused;
	sn->refs += !refused;
	pthread_mutex_unlock(&fs->lock);
	if (mine)
		shlogfs_snap_free(fs, mine);
	if (refused)
		return -ENOBUFS;
	*out = sn;
	return 0;
}

/* A handle is done with @p sn; it stays for sharing while young. */
static void shlogfs_snap_put(struct shlogfs *fs, struct shlogfs_snap *sn)
{
	struct shlogfs_snap *dead = NULL;

	pthread_mutex_lock(&fs->lock);
	sn->refs--;
	shlogfs_snap_sweep(fs, shlogfs_mono_ns(), &dead);
	pthread_mutex_unlock(&fs->lock);
	shlogfs_snap_free_chain(fs, dead);
}

/* Free every snapshot (at exit, after the handles). */
void shlogfs_snaps_free(struct shlogfs *fs)
{
	struct shlogfs_snap *dead = NULL;

	pthread_mutex_lock(&fs->lock);
	shlogfs_snap_sweep(fs, INT64_MAX, &dead);
	pthread_mutex_unlock(&fs->lock);
	shlogfs_snap_free_chain(fs, dead);
}

/* Size of the text an open by the caller of @p req would read now. */
static uint64_t shlogfs_snap_size(struct shlogfs *fs,
				  const struct shlogfs_kind *kind, fuse_req_t req)
{
	struct shlogfs_cred c;
	struct shlogfs_snap *sn;
	uint64_t size;

	shlogfs_cred_get(req, &c);
	if (shlogfs_snap_get(fs, kind, &c, 0, 0, &sn))
		return 0; /* no text for this caller now (ENOBUFS): empty */
	size = sn->text.len;
	shlogfs_snap_put(fs, sn);
	return size;
}

/* ==== the kinds ======================================================= */

/* attr op: the size of the text an open by this caller would read now. */
static int shlogfs_rootfile_attr(struct shlogfs *fs, struct shlogfs_node *n,
				 fuse_req_t req, struct stat *st)
{
	shlogfs_stat_size(st, req ? shlogfs_snap_size(fs, n->kind, req) : 0, 0);
	return 0;
}

/*
 * open op: a read-only handle on a shared snapshot.  Its buf points at
 * the snapshot's text (read as any snapshot, read.c) without owning it;
 * the release op gives the snapshot back.
 */
static int shlogfs_rootfile_open(struct shlogfs *fs, struct shlogfs_node *n,
				 struct shlogfs_handle *h,
				 const struct shlogfs_cred *c,
				 struct fuse_file_info *fi)
{
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EACCES;
	/* the handle is charged before its text is made */
	if ((rc = shlogfs_budget_set(fs, c->uid, &h->held, sizeof *h, "open")))
		return rc;
	/* root's opens: always the numbers of now, never shared */
	if ((rc = shlogfs_snap_get(fs, n->kind, c, 1, c->uid == 0, &h->rsnap)))
		return rc;
	h->buf.p = h->rsnap->text.p;
	h->buf.len = h->rsnap->text.len;
	fi->direct_io = 1;
	return 0;
}

/* release op: the buffer is the shared snapshot's; give it back. */
static int shlogfs_rootfile_release(struct shlogfs *fs,
				    struct shlogfs_handle *h)
{
	if (h->rsnap) {
		h->buf = (struct shlogfs_buf){ 0 };
		shlogfs_snap_put(fs, h->rsnap);
		h->rsnap = NULL;
	}
	return 0;
}

static const struct shlogfs_rootfile shlogfs_rootfile_metrics = {
	shlogfs_metrics_make, "snapshot of /.metrics",
};
static const struct shlogfs_rootfile shlogfs_rootfile_status = {
	shlogfs_status_make, "snapshot of /.status",
};

/* Names start with a dot, which no topic name can: never a topic's. */
#define SHLOGFS_ROOTFILE_KIND(file_name, desc)                         \
	{                                                                  \
		.name = file_name,                                         \
		.type = S_IFREG,                                           \
		.perm = 0444,                                              \
		.owner = SHLOGFS_OWNER_ROOT,                               \
		.generated = 1,                                            \
		.blksize = 4096,                                           \
		.priv = desc,                                              \
		.attr = shlogfs_rootfile_attr,                             \
		.open = shlogfs_rootfile_open,                             \
		.read = shlogfs_read_snap,                                 \
		.release = shlogfs_rootfile_release,                       \
	}

const struct shlogfs_kind shlogfs_kind_metrics =
	SHLOGFS_ROOTFILE_KIND(".metrics", &shlogfs_rootfile_metrics);
const struct shlogfs_kind shlogfs_kind_status =
	SHLOGFS_ROOTFILE_KIND(".status", &shlogfs_rootfile_status);
