/*
 * handle.h — open files (handle.c): made at open, charged to their
 * opener's memory budget, finished through their kind at release.
 */
#ifndef SHLOGFS_HANDLE_H
#define SHLOGFS_HANDLE_H

#include "shlogfs.h"

/** The handle of an open file. */
static inline struct shlogfs_handle *shlogfs_fh(struct fuse_file_info *fi)
{
	return (struct shlogfs_handle *)(uintptr_t)fi->fh;
}

/** A new handle on @p n for @p uid, registered for shutdown; NULL: ENOMEM. */
struct shlogfs_handle *shlogfs_handle_new(struct shlogfs *fs,
					  struct shlogfs_node *n, int flags,
					  uid_t uid);
/** Open @p n: a handle set up by its kind, charged, in fi->fh; 0 or -errno. */
int shlogfs_handle_open(struct shlogfs *fs, struct shlogfs_node *n,
			const struct shlogfs_cred *c, struct fuse_file_info *fi);
/** Publish the size of @p h's snapshot (its buffer) as its node's size. */
void shlogfs_handle_snap(struct shlogfs *fs, struct shlogfs_handle *h,
			 uint64_t len);
/** Charge @p h for a buffer that will hold @p need bytes; -ENOBUFS. */
int shlogfs_handle_grow(struct shlogfs *fs, struct shlogfs_handle *h,
			size_t need, const char *what);
/** After a write: charge what @p h holds now (never refused). */
void shlogfs_handle_settle(struct shlogfs *fs, struct shlogfs_handle *h);
/** Finish (its kind's release, best effort), unregister and free @p h. */
void shlogfs_handle_drop(struct shlogfs *fs, struct shlogfs_handle *h);
/** Release every handle still open (at shutdown). */
void shlogfs_handles_close_all(struct shlogfs *fs);

#endif /* SHLOGFS_HANDLE_H */
