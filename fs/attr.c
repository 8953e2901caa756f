/*
 * attr.c — the FUSE entry points of attributes: getattr and setattr.
 * What a node shows is stat.c's and its kind's attr operation; setattr
 * goes to its kind's truncate, chmod, chown and utimens operations.  A
 * mode or owner a node has already is accepted on every kind (tar and cp
 * set them on everything they extract); any other change needs the
 * kind's operation, else EPERM.  Times go to the kind's utimens (a
 * partition log's mtime, restore.c); elsewhere they are accepted and
 * have no effect (a directory shows its directory's times in the data
 * dir).
 */
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "ll.h"
#include "handle.h"
#include "node.h"
#include "stat.h"

/* getattr: fresh attributes (size = true size, buffered data included). */
void shlogfs_ll_getattr(fuse_req_t req, fuse_ino_t ino,
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

/* setattr size: the kind's truncate (default: a directory or a refusal). */
static int shlogfs_setattr_size(struct shlogfs *fs, struct shlogfs_node *n,
				fuse_req_t req, uint64_t size,
				struct fuse_file_info *fi)
{
	const struct shlogfs_kind *k = n->kind;

	if (k->truncate)
		return k->truncate(fs, n, req, size, fi ? shlogfs_fh(fi) : NULL);
	return shlogfs_kind_is_dir(k) ? -EISDIR : -EPERM;
}

/* setattr mode: a mode it has already succeeds; else the kind's chmod
 * (a kind without one: EPERM). */
static int shlogfs_setattr_mode(struct shlogfs *fs, struct shlogfs_node *n,
				mode_t mode, const struct stat *now)
{
	if ((now->st_mode & 07777) == (mode & 07777))
		return 0;
	return n->kind->chmod ? n->kind->chmod(fs, n, mode) : -EPERM;
}

/* setattr owner: an owner it has already succeeds; else the kind's chown
 * (a kind without one: EPERM). */
static int shlogfs_setattr_owner(struct shlogfs *fs, struct shlogfs_node *n,
				 const struct stat *attr, int to_set,
				 const struct stat *now)
{
	uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
	gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

	if (uid == now->st_uid)
		uid = (uid_t)-1;
	if (gid == now->st_gid)
		gid = (gid_t)-1;
	if (uid == (uid_t)-1 && gid == (gid_t)-1)
		return 0;
	return n->kind->chown ? n->kind->chown(fs, n, uid, gid) : -EPERM;
}

/* setattr times: the kind's utimens with the new mtime (none: no effect). */
static int shlogfs_setattr_times(struct shlogfs *fs, struct shlogfs_node *n,
				 const struct stat *attr, int to_set)
{
	struct timespec mt = attr->st_mtim;

	if (!n->kind->utimens ||
	    !(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
		return 0;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &mt);
	return n->kind->utimens(fs, n, &mt);
}

/* setattr: size, mode, owner, times through the node's kind. */
void shlogfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct stat st;
	int rc = shlogfs_node_live(n);

	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		rc = shlogfs_setattr_size(fs, n, req, (uint64_t)attr->st_size,
					  fi);
	if (!rc && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID)))
		rc = shlogfs_node_stat_req(fs, n, req, &st);
	if (!rc && (to_set & FUSE_SET_ATTR_MODE))
		rc = shlogfs_setattr_mode(fs, n, attr->st_mode, &st);
	if (!rc && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		rc = shlogfs_setattr_owner(fs, n, attr, to_set, &st);
	if (!rc)
		rc = shlogfs_setattr_times(fs, n, attr, to_set);
	if (!rc)
		rc = shlogfs_node_stat_req(fs, n, req, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, shlogfs_timeout(fs, n));
}
