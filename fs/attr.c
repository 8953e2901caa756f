/*
 * attr.c — the FUSE entry points of attributes: getattr and setattr.
 * What a node shows is stat.c's and its kind's attr operation; setattr
 * goes to its kind's truncate, chmod and chown operations (times are
 * accepted and ignored, for tar).
 */
#include <errno.h>
#include <sys/stat.h>

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

/* setattr owner: the kind's chown, if it has one. */
static int shlogfs_setattr_owner(struct shlogfs *fs, struct shlogfs_node *n,
				 const struct stat *attr, int to_set)
{
	if (!n->kind->chown)
		return -EPERM;
	return n->kind->chown(fs, n,
		to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
		to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1);
}

/* setattr: size, mode, owner through the node's kind; times ignored. */
void shlogfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	const struct shlogfs_kind *k = n->kind;
	struct stat st;
	int rc = shlogfs_node_live(n);

	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		rc = shlogfs_setattr_size(fs, n, req, (uint64_t)attr->st_size,
					  fi);
	if (!rc && (to_set & FUSE_SET_ATTR_MODE))
		rc = k->chmod ? k->chmod(fs, n, attr->st_mode) : -EPERM;
	if (!rc && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		rc = shlogfs_setattr_owner(fs, n, attr, to_set);
	if (!rc)
		rc = shlogfs_node_stat_req(fs, n, req, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, shlogfs_timeout(fs, n));
}
