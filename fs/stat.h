/*
 * stat.h — what stat shows for a node (stat.c): the parts every kind
 * shares, and helpers the kinds' attribute operations use.
 */
#ifndef SHLOGFS_STAT_H
#define SHLOGFS_STAT_H

#include <sys/stat.h>

#include "shlogfs.h"

/** Fill @p st for node @p n as the daemon sees it (mkdir, create); 0 or -errno. */
int shlogfs_node_stat(struct shlogfs *fs, struct shlogfs_node *n,
		      struct stat *st);
/** Fill @p st for node @p n as the caller of @p req may see it. */
int shlogfs_node_stat_req(struct shlogfs *fs, struct shlogfs_node *n,
			  fuse_req_t req, struct stat *st);
/** Type and permission bits of a node of kind @p k, from its directory's mode. */
mode_t shlogfs_kind_mode(const struct shlogfs_kind *k, mode_t dirmode);
/** Attribute timeout of a node. */
double shlogfs_timeout(const struct shlogfs *fs, const struct shlogfs_node *n);
/** Set a file's size (and blocks) and, if @p mtime_ns > 0, its times. */
void shlogfs_stat_size(struct stat *st, uint64_t size, int64_t mtime_ns);
/** chmod op: the mode of the node's own directory in the data dir. */
int shlogfs_chmod_dir(struct shlogfs *fs, struct shlogfs_node *n, mode_t mode);
/** chmod op of a log: its read and write bits (its kind's perm) go to
 *  its directory's mode; the directory's other bits stay. */
int shlogfs_chmod_file(struct shlogfs *fs, struct shlogfs_node *n, mode_t mode);
/** chown op: the owner of the directory the node shows (kind's owner). */
int shlogfs_chown_dir(struct shlogfs *fs, struct shlogfs_node *n, uid_t uid,
		      gid_t gid);
/** Truncate to @p size: only to the size the caller sees plus @p pending
 *  (rsync --append does that); else -EPERM. */
int shlogfs_truncate_to_end(struct shlogfs *fs, struct shlogfs_node *n,
			    fuse_req_t req, uint64_t size, uint64_t pending);

#endif /* SHLOGFS_STAT_H */
