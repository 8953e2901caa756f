/*
 * k_view.c — the kinds of the read-only views of a partition's log:
 * at/<N> (from message N on) and since/<time> (from the first message at
 * or after a time on), and their directories.  The directories are
 * lookup-only: any number or time can be opened, none is listed.  A
 * view's start is not kept in its node: retention moves the first
 * message and time moves the start of since/, so open and every stat
 * ask again (the base operation); a handle fixes it at its first read
 * that returns bytes (read.c).  Bytes retention deleted under an open
 * view read as an error (ESTALE), not zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "kinds.h"
#include "list.h"
#include "node.h"
#include "read.h"
#include "stat.h"


/* The leaf kinds of this family (defined at the end). */
static const struct shlogfs_kind shlogfs_kind_at;
static const struct shlogfs_kind shlogfs_kind_since;

/** How a view's name gives its start (its kind's priv). */
struct shlogfs_view {
	const struct shlogfs_kind *file; /**< the kind of a name in the directory */
	int (*base)(struct shlogfs *fs, struct shlogfs_node *where,
		    const char *name, uint64_t *base);
};

/* The description of view kind (directory or file) @p k. */
static const struct shlogfs_view *shlogfs_view_of(const struct shlogfs_kind *k)
{
	return k->priv;
}

/*
 * Where at/<N> starts now: message N, clamped to the first retained one.
 * @p where is any node of the partition (its at/ directory, or the file).
 */
static int shlogfs_at_base(struct shlogfs *fs, struct shlogfs_node *where,
			   const char *name, uint64_t *base)
{
	uint64_t seq;
	shlogfs_bpart *p;
	int rc;

	if (shlog_u64_parse(name, &seq) || (name[0] == '0' && name[1]))
		return -ENOENT; /* one spelling per number: no leading zeros */
	if ((rc = shlogfs_node_part(fs, where, &p)))
		return rc;
	rc = shlogfs_part_seek_seq(p, seq, base);
	if (rc == -ENODATA) {
		struct shlog_part_info in;
		rc = shlogfs_part_info(p, &in);
		*base = in.start_off;
	}
	shlogfs_part_put(p);
	return rc == -ERANGE ? -ENOENT : rc;
}

/*
 * Where since/<time> starts now: the first retained message at or after
 * the time (the log's end while there is none).  @p where: as above.
 */
static int shlogfs_since_base(struct shlogfs *fs, struct shlogfs_node *where,
			      const char *name, uint64_t *base)
{
	int64_t ns;
	uint64_t seq;
	shlogfs_bpart *p;
	int rc;

	if (shlog_time_parse(name, &ns))
		return -ENOENT;
	if ((rc = shlogfs_node_part(fs, where, &p)))
		return rc;
	rc = shlogfs_part_seek_time(p, ns, &seq, base);
	shlogfs_part_put(p);
	return rc;
}

/* base op: where the view of node @p n starts now. */
static int shlogfs_view_base(struct shlogfs *fs, struct shlogfs_node *n,
			     uint64_t *base)
{
	return shlogfs_view_of(n->kind)->base(fs, n, n->name, base);
}

/* ==== the directories ================================================= */

/* resolve op: any name that gives a start is a view. */
static int shlogfs_viewdir_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				   const char *name, struct shlogfs_name *out)
{
	const struct shlogfs_view *v = shlogfs_view_of(d->kind);
	uint64_t base;

	*out = (struct shlogfs_name){ v->file, d->topic, d->part, name };
	return v->base(fs, d, name, &base);
}

/* ==== the views ======================================================= */

/* attr op: an open snapshot's size, else the log from the view's start. */
static int shlogfs_view_attr(struct shlogfs *fs, struct shlogfs_node *n,
			     fuse_req_t req, struct stat *st)
{
	struct shlog_part_info in;
	uint64_t size = 0, base = 0;
	shlogfs_bpart *p;
	int rc;

	(void)req;
	if (shlogfs_node_snap_size(fs, n, &size)) {
		shlogfs_stat_size(st, size, 0);
		return 0;
	}
	if ((rc = shlogfs_node_part(fs, n, &p)))
		return rc;
	/* a view's start is found again at every stat, before its end */
	if ((rc = shlogfs_view_base(fs, n, &base)) == 0 &&
	    (rc = shlogfs_part_info(p, &in)) == 0)
		shlogfs_stat_size(st, in.end_off > base ? in.end_off - base : 0,
				  in.last_flush_ns);
	shlogfs_part_put(p);
	return rc;
}

/* open op: read-only, with direct_io; the start found now. */
static int shlogfs_view_open(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_handle *h,
			     const struct shlogfs_cred *c,
			     struct fuse_file_info *fi)
{
	int rc;

	(void)c;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fi->direct_io = 1;
	if ((rc = shlogfs_node_part(fs, n, &h->part)))
		return rc;
	return shlogfs_view_base(fs, n, &h->base);
}

/* read op: through the read-ahead; deleted bytes are an error. */
static void shlogfs_view_read(fuse_req_t req, struct shlogfs_handle *h,
			      size_t size, uint64_t off)
{
	shlogfs_read_ahead(req, h, off, size, 0);
}

/* ==== the kinds ======================================================= */

static const struct shlogfs_view shlogfs_view_at = {
	&shlogfs_kind_at, shlogfs_at_base,
};
static const struct shlogfs_view shlogfs_view_since = {
	&shlogfs_kind_since, shlogfs_since_base,
};

#define SHLOGFS_VIEWDIR_KIND(dir_name, desc)                           \
	{                                                                  \
		.name = dir_name,                                          \
		.type = S_IFDIR,                                           \
		.perm = 0555,                                              \
		.owner = SHLOGFS_OWNER_PART,                               \
		.priv = desc,                                              \
		.resolve = shlogfs_viewdir_resolve,                        \
		.list = shlogfs_dir_none,                                  \
	}

#define SHLOGFS_VIEW_KIND(desc)                                        \
	{                                                                  \
		.type = S_IFREG,                                           \
		.perm = 0444,                                              \
		.owner = SHLOGFS_OWNER_PART,                               \
		.leaf = 1,                                                 \
		.generated = 1,                                            \
		.priv = desc,                                              \
		.pcache = SHLOGFS_PC_NEVER,                                \
		.attr = shlogfs_view_attr,                                 \
		.open = shlogfs_view_open,                                 \
		.read = shlogfs_view_read,                                 \
		.base = shlogfs_view_base,                                 \
	}

const struct shlogfs_kind shlogfs_kind_atdir =
	SHLOGFS_VIEWDIR_KIND("at", &shlogfs_view_at);
static const struct shlogfs_kind shlogfs_kind_at =
	SHLOGFS_VIEW_KIND(&shlogfs_view_at);
const struct shlogfs_kind shlogfs_kind_sincedir =
	SHLOGFS_VIEWDIR_KIND("since", &shlogfs_view_since);
static const struct shlogfs_kind shlogfs_kind_since =
	SHLOGFS_VIEW_KIND(&shlogfs_view_since);
