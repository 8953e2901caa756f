/*
 * attr.c — attributes: what stat shows for each node, getattr, setattr.
 *
 * Topic and partition directories show the mode, owner and times of
 * their directories in the data dir (shlog_dir_stat).  Files take their
 * owner from their directory and their permission bits from its mode:
 * logs and keys `dirmode & 0666`, status and at/since files
 * `dirmode & 0444`.  chmod of a file is accepted and ignored (tar and
 * rsync restore modes); chown of a log changes its directory (nginx
 * chowns its log files).  Attribute timeouts are 0: sizes change with
 * every append and `tail -f` polls with fstat, and a chown of a log
 * changes its directory.  With -o writeback a partition log's size is
 * the kernel's own (it ignores ours), so its attributes are cached for
 * a second: the kernel checks them before every append otherwise.
 *
 * A stat never does work that grows with the log for nothing: the size
 * of an `index` is remembered with the partition state its text was made
 * from (see shlogfs_status_size).  The size of <topic>/log tells the
 * size of every partition: only a caller who may read them all is told
 * it, anyone else sees 0 (its attribute timeout of 0 keeps the kernel
 * from showing one caller's size to the next).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shlogfs.h"

/* Attribute timeouts in seconds. */
#define SHLOGFS_DIR_TIMEOUT 0.0
#define SHLOGFS_FILE_TIMEOUT 0.0
#define SHLOGFS_WB_LOG_TIMEOUT 1.0

/* ==== attributes ====================================================== */

/* Size of <topic>/log: the retained bytes of every partition. */
static int shlogfs_tlog_size(struct shlogfs *fs, const char *topic,
			     uint64_t *size, int64_t *mtime_ns)
{
	uint32_t nparts;
	int rc = shlog_topic_nparts(fs->store, topic, &nparts);

	*size = 0;
	*mtime_ns = 0;
	for (uint32_t i = 0; rc == 0 && i < nparts; i++) {
		struct shlog_part_info in;
		shlog_part *p;
		rc = shlog_part_get(fs->store, topic, i, &p);
		if (rc)
			break;
		rc = shlog_part_info(p, &in);
		shlog_part_put(p);
		*size += in.end_off - in.start_off;
		if (in.last_flush_ns > *mtime_ns)
			*mtime_ns = in.last_flush_ns;
	}
	return rc;
}

/* Size of a KEY file: value plus '\n'. */
int shlogfs_key_size(struct shlogfs *fs, struct shlogfs_node *n,
			    uint64_t *size)
{
	struct shlog_keyref ref;
	shlog_part *p;
	int rc = shlogfs_node_part(fs, n, &p);

	if (rc)
		return rc;
	rc = shlog_key_lookup(p, n->name, n->nlen, &ref);
	shlog_part_put(p);
	if (rc == 0)
		*size = (uint64_t)ref.len - ref.klen;
	return rc;
}

/*
 * What an index's text depends on: its entries are the committed blocks
 * of the retained segments, so they change only with committed_seq (a
 * block written), start_seq and nsegments (segments deleted) or the
 * anchor's generation (a repair or compaction rewrote them).
 */
static void shlogfs_index_key(const struct shlog_part_info *in, uint64_t key[4])
{
	key[0] = in->committed_seq;
	key[1] = in->start_seq;
	key[2] = in->nsegments;
	key[3] = in->anchor_gen;
}

/* Record the size of an index text of @p n made for partition state @p in. */
void shlogfs_node_text_made(struct shlogfs *fs, struct shlogfs_node *n,
			    const struct shlog_part_info *in, uint64_t len)
{
	pthread_mutex_lock(&fs->lock);
	shlogfs_index_key(in, n->text_key);
	n->text_len = len;
	n->text_keyed = 1;
	pthread_mutex_unlock(&fs->lock);
}

/* The size of @p n's last index text if the partition is still as then. */
static int shlogfs_index_known(struct shlogfs *fs, struct shlogfs_node *n,
			       const struct shlog_part_info *in, uint64_t *size)
{
	uint64_t key[4];
	int same;

	shlogfs_index_key(in, key);
	pthread_mutex_lock(&fs->lock);
	same = n->text_keyed && !memcmp(key, n->text_key, sizeof key);
	*size = n->text_len;
	pthread_mutex_unlock(&fs->lock);
	return same;
}

/*
 * Size of a status file at a stat.  anchor and stats are a few hundred
 * bytes of fixed shape, made again each time; an index's text grows with
 * the log, so its size is remembered with the state it was made from and
 * made again only when a block was written or segments went away: a stat
 * flood costs no more than the writes do, and the size is always what a
 * read would return.
 */
static int shlogfs_status_size(struct shlogfs *fs, struct shlogfs_node *n,
			       shlog_part *p, uint64_t *size)
{
	struct shlogfs_buf text = { 0 };
	struct shlog_part_info in;
	int rc;

	if (n->kind == SHLOGFS_INDEX) {
		if ((rc = shlog_part_info(p, &in)))
			return rc;
		if (shlogfs_index_known(fs, n, &in, size))
			return 0;
	}
	rc = shlogfs_text_make(p, n->kind, &text);
	if (rc == 0) {
		*size = text.len;
		if (n->kind == SHLOGFS_INDEX)
			shlogfs_node_text_made(fs, n, &in, text.len);
	}
	shlogfs_buf_free(&text);
	return rc;
}

/* Size and time of a file of a partition (LOG, status, AT, SINCE). */
static int shlogfs_part_file_size(struct shlogfs *fs, struct shlogfs_node *n,
				  uint64_t *size, int64_t *mtime_ns)
{
	struct shlog_part_info in;
	shlog_part *p;
	uint64_t base = 0;
	int rc;

	*size = 0;
	*mtime_ns = 0;
	if ((rc = shlogfs_node_part(fs, n, &p)))
		return rc;
	if (n->kind == SHLOGFS_ANCHOR || n->kind == SHLOGFS_STATS ||
	    n->kind == SHLOGFS_INDEX) {
		rc = shlogfs_status_size(fs, n, p, size);
		shlog_part_put(p);
		return rc;
	}
	/* a view's start is found again at every stat, before its end */
	if (n->kind == SHLOGFS_AT || n->kind == SHLOGFS_SINCE)
		rc = shlogfs_view_base(fs, n, &base);
	if (rc == 0)
		rc = shlog_part_info(p, &in);
	if (rc == 0) {
		*mtime_ns = in.last_flush_ns;
		if (n->kind == SHLOGFS_LOG)
			*size = in.end_off + shlogfs_wb_pending(n);
		else
			*size = in.end_off > base ? in.end_off - base : 0;
	}
	shlog_part_put(p);
	return rc;
}

/* Snapshot size of a node while a handle holds one; 0 if none. */
static int shlogfs_snap_size(struct shlogfs *fs, struct shlogfs_node *n,
			     uint64_t *size)
{
	int have;

	pthread_mutex_lock(&fs->lock);
	have = n->nsnap > 0;
	*size = n->snap_len;
	pthread_mutex_unlock(&fs->lock);
	return have;
}

/* May @p c read every partition of @p topic (what <topic>/log's size tells)? */
static int shlogfs_tlog_readable(struct shlogfs *fs,
				 const struct shlogfs_cred *c, const char *topic)
{
	uint32_t nparts;

	if (c->uid == 0)
		return 1;
	if (shlog_topic_nparts(fs->store, topic, &nparts))
		return 0;
	return shlogfs_access_parts(fs, c, topic, nparts, R_OK, NULL) == 0;
}

/* Size of a file node as @p c may see it (NULL: the daemon itself). */
static int shlogfs_file_size(struct shlogfs *fs, struct shlogfs_node *n,
			     const struct shlogfs_cred *c, struct stat *st)
{
	uint64_t size = 0;
	int64_t t = 0;
	int rc = 0;

	if (n->kind == SHLOGFS_TLOG && c && !shlogfs_tlog_readable(fs, c, n->topic)) {
		/* size 0, the directory's times: nothing of the partitions */
	} else if (shlogfs_snap_size(fs, n, &size)) {
		/* an open handle's snapshot decides (status, key, topic log) */
	} else if (n->kind == SHLOGFS_TLOG) {
		rc = shlogfs_tlog_size(fs, n->topic, &size, &t);
	} else if (n->kind == SHLOGFS_KEY) {
		rc = shlogfs_key_size(fs, n, &size);
	} else {
		rc = shlogfs_part_file_size(fs, n, &size, &t);
	}
	if (rc)
		return rc;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	if (t > 0) {
		st->st_mtim.tv_sec = t / 1000000000;
		st->st_mtim.tv_nsec = t % 1000000000;
		st->st_ctim = st->st_mtim;
	}
	return 0;
}

/* Permission bits of a node, from its directory's mode. */
mode_t shlogfs_kind_mode(enum shlogfs_kind k, mode_t dirmode)
{
	switch (k) {
	case SHLOGFS_TOPIC:
	case SHLOGFS_PART:
		return S_IFDIR | (dirmode & 07777);
	case SHLOGFS_KEYSDIR:
		return S_IFDIR | (dirmode & 0777);
	case SHLOGFS_ATDIR:
	case SHLOGFS_SINCEDIR:
		return S_IFDIR | (dirmode & 0555);
	case SHLOGFS_LOG:
	case SHLOGFS_TLOG:
	case SHLOGFS_KEY:
		return S_IFREG | (dirmode & 0666);
	default:
		return S_IFREG | (dirmode & 0444);
	}
}

/* Fill @p st for node @p n as @p c may see it (NULL: the daemon). */
static int shlogfs_node_stat_as(struct shlogfs *fs, struct shlogfs_node *n,
				const struct shlogfs_cred *c, struct stat *st)
{
	uint32_t nparts = 0;
	int rc;

	memset(st, 0, sizeof *st);
	if (n->kind == SHLOGFS_ROOT) {
		if ((rc = shlog_dir_stat(fs->store, NULL, -1, st)))
			return rc;
		st->st_nlink = 2;
		st->st_size = 0;
	} else {
		int64_t part = n->kind == SHLOGFS_TOPIC ||
			       n->kind == SHLOGFS_TLOG ? -1 : (int64_t)n->part;
		if ((rc = shlogfs_node_live(n)) ||
		    (rc = shlog_dir_stat(fs->store, n->topic, part, st)))
			return rc;
		st->st_mode = shlogfs_kind_mode(n->kind, st->st_mode);
		st->st_nlink = shlogfs_kind_is_dir(n->kind) ? 2 : 1;
		st->st_size = 0;
		st->st_blocks = 0;
	}
	st->st_ino = shlogfs_node_ino(fs, n);
	st->st_blksize = 1 << 20;
	st->st_dev = 0;
	if (n->kind == SHLOGFS_TOPIC) {
		if ((rc = shlog_topic_nparts(fs->store, n->topic, &nparts)))
			return rc;
		st->st_nlink = 2 + nparts;
	} else if (n->kind == SHLOGFS_PART) {
		st->st_nlink = 5;
	}
	if (shlogfs_kind_is_dir(n->kind)) {
		st->st_size = 4096;
		return 0;
	}
	return shlogfs_file_size(fs, n, c, st);
}

/* Fill @p st for node @p n (the daemon's own view: mkdir, create). */
int shlogfs_node_stat(struct shlogfs *fs, struct shlogfs_node *n,
		      struct stat *st)
{
	return shlogfs_node_stat_as(fs, n, NULL, st);
}

/* Fill @p st for node @p n as the caller of @p req may see it (getattr,
 * lookup, setattr); only <topic>/log depends on who asks. */
int shlogfs_node_stat_req(struct shlogfs *fs, struct shlogfs_node *n,
			  fuse_req_t req, struct stat *st)
{
	struct shlogfs_cred c;

	if (n->kind != SHLOGFS_TLOG)
		return shlogfs_node_stat_as(fs, n, NULL, st);
	shlogfs_cred_get(req, &c);
	return shlogfs_node_stat_as(fs, n, &c, st);
}

/* Attribute timeout of a node. */
double shlogfs_timeout(const struct shlogfs *fs, const struct shlogfs_node *n)
{
	if (fs->wb_on && n->kind == SHLOGFS_LOG)
		return SHLOGFS_WB_LOG_TIMEOUT;
	return shlogfs_kind_is_dir(n->kind) ? SHLOGFS_DIR_TIMEOUT
					     : SHLOGFS_FILE_TIMEOUT;
}

/* ==== permissions ===================================================== */

/*
 * With allow_other the kernel checks every path (default_permissions),
 * but some operations reach objects the path does not name: <topic>/log
 * reads and writes every partition, rmdir of a topic deletes them all,
 * /.metrics and /.status describe them.  The daemon checks those itself,
 * here, with the rules the kernel applies to a path.
 */

/* The caller of @p req; supplementary groups from /proc (none if unreadable). */
void shlogfs_cred_get(fuse_req_t req, struct shlogfs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->ngroups = 0;
	if (c->uid == 0)
		return; /* root passes every check: no need to look */
	n = fuse_req_getgroups(req, SHLOGFS_GROUPS_MAX, c->groups);
	/* more groups than fit: the first ones only (less access, never more) */
	c->ngroups = n < 0 ? 0 : n > SHLOGFS_GROUPS_MAX ? SHLOGFS_GROUPS_MAX : n;
}

/* Is @p gid the caller's group or one of its supplementary groups? */
static int shlogfs_cred_in_group(const struct shlogfs_cred *c, gid_t gid)
{
	if (c->gid == gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

/* May @p c access @p st for @p mask?  The owner, group, other classes. */
int shlogfs_access(const struct shlogfs_cred *c, const struct stat *st,
		   int mask)
{
	mode_t bits;

	if (c->uid == 0) /* as the kernel: root may do all but execute none */
		return !(mask & X_OK) || S_ISDIR(st->st_mode) ||
		       (st->st_mode & 0111) ? 0 : -EACCES;
	if (c->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (shlogfs_cred_in_group(c, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return ((mode_t)mask & ~bits & 7) ? -EACCES : 0;
}

/* May @p c reach <topic>/<part>/log and open it for @p mask? */
int shlogfs_access_part(struct shlogfs *fs, const struct shlogfs_cred *c,
			const char *topic, uint32_t part, int mask)
{
	struct stat st;
	int rc;

	if (c->uid == 0)
		return 0;
	if ((rc = shlog_dir_stat(fs->store, topic, -1, &st)) ||
	    (rc = shlogfs_access(c, &st, X_OK)) ||
	    (rc = shlog_dir_stat(fs->store, topic, part, &st)) ||
	    (rc = shlogfs_access(c, &st, X_OK)))
		return rc;
	/* the log's bits are its directory's, less execute (kind_mode) */
	return shlogfs_access(c, &st, mask & (R_OK | W_OK));
}

/* May @p c open every one of the @p np partition logs of @p topic for @p mask? */
int shlogfs_access_parts(struct shlogfs *fs, const struct shlogfs_cred *c,
			 const char *topic, uint32_t np, int mask,
			 uint32_t *refused)
{
	for (uint32_t i = 0; i < np; i++) {
		int rc = shlogfs_access_part(fs, c, topic, i, mask);
		if (rc) {
			if (refused)
				*refused = i;
			return rc;
		}
	}
	return 0;
}

/* ==== getattr, setattr ================================================ */

/* getattr: fresh attributes (size = true size, buffered data included). */
void shlogfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct stat st;
	int rc;

	(void)fi;
	rc = shlogfs_node_stat_req(fs, n, req, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, shlogfs_timeout(fs, n));
}

/* setattr size: only to the current size (rsync --append does that), as
 * the caller sees it. */
static int shlogfs_setattr_size(struct shlogfs *fs, struct shlogfs_node *n,
				fuse_req_t req, uint64_t size,
				struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = fi ? (struct shlogfs_handle *)fi->fh : NULL;
	struct stat st;
	int rc;

	if (n->kind == SHLOGFS_KEY && h)
		return shlogfs_handle_truncate(fs, h, size);
	if (n->kind != SHLOGFS_LOG && n->kind != SHLOGFS_TLOG &&
	    n->kind != SHLOGFS_KEY)
		return shlogfs_kind_is_dir(n->kind) ? -EISDIR : -EPERM;
	if ((rc = shlogfs_node_stat_req(fs, n, req, &st)))
		return rc;
	if (size == (uint64_t)st.st_size + (h ? shlogfs_handle_pending(h) : 0))
		return 0;
	return -EPERM;
}

/* setattr mode: directories keep it; files follow their directory. */
static int shlogfs_setattr_mode(struct shlogfs *fs, struct shlogfs_node *n,
				mode_t mode)
{
	switch (n->kind) {
	case SHLOGFS_TOPIC:
		return shlog_dir_chmod(fs->store, n->topic, -1, mode & 07777);
	case SHLOGFS_PART:
		return shlog_dir_chmod(fs->store, n->topic, n->part,
				       mode & 07777);
	case SHLOGFS_ROOT:
		return shlog_dir_chmod(fs->store, NULL, -1, mode & 07777);
	case SHLOGFS_ATDIR:
	case SHLOGFS_SINCEDIR:
	case SHLOGFS_KEYSDIR:
		return -EPERM;
	default:
		return 0; /* accepted and ignored: see the file comment */
	}
}

/* setattr owner: directories keep it; a log passes it to its directory. */
static int shlogfs_setattr_owner(struct shlogfs *fs, struct shlogfs_node *n,
				 uid_t uid, gid_t gid)
{
	switch (n->kind) {
	case SHLOGFS_ROOT:
		return shlog_dir_chown(fs->store, NULL, -1, uid, gid);
	case SHLOGFS_TOPIC:
	case SHLOGFS_TLOG:
		return shlog_dir_chown(fs->store, n->topic, -1, uid, gid);
	case SHLOGFS_PART:
	case SHLOGFS_LOG:
		return shlog_dir_chown(fs->store, n->topic, n->part, uid, gid);
	default:
		return -EPERM;
	}
}

/* setattr: size, mode, owner; times are accepted and ignored. */
void shlogfs_op_setattr(fuse_req_t req, fuse_ino_t ino,
			       struct stat *attr, int to_set,
			       struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct stat st;
	int rc = shlogfs_node_live(n);

	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		rc = shlogfs_setattr_size(fs, n, req,
					  (uint64_t)attr->st_size, fi);
	if (!rc && (to_set & FUSE_SET_ATTR_MODE))
		rc = shlogfs_setattr_mode(fs, n, attr->st_mode);
	if (!rc && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		rc = shlogfs_setattr_owner(fs, n,
			to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
			to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1);
	if (!rc)
		rc = shlogfs_node_stat_req(fs, n, req, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, shlogfs_timeout(fs, n));
}
