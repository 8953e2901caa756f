/*
 * pcache.h — what the kernel's page cache may hold of a log (pcache.c).
 */
#ifndef SHLOGFS_PCACHE_H
#define SHLOGFS_PCACHE_H

#include "shlogfs.h"

/** Start the thread that drops the kernel's cached pages; 0 or -errno. */
int shlogfs_pc_start(struct shlogfs *fs);
/** Stop it (after fs->se was cleared: pending drops are given up). */
void shlogfs_pc_stop(void);
/** A handle was opened (open or create): count a writer, drop stale pages;
 *  0 or -errno (the open fails). */
int shlogfs_pc_open(struct shlogfs *fs, struct shlogfs_handle *h,
		    const struct fuse_file_info *fi);
/** A handle is gone (after its release committed what it held). */
void shlogfs_pc_close(struct shlogfs *fs, struct shlogfs_handle *h);
/** Before appending to partition log @p nm without an open writer (a
 *  tombstone of rm keys/<key>); 0 or -errno (refuse the append). */
int shlogfs_pc_feed_begin(struct shlogfs *fs, const struct shlogfs_name *nm);
/** After that append. */
void shlogfs_pc_feed_end(struct shlogfs *fs, const struct shlogfs_name *nm);
/** A partition log's size is being found for a reply (getattr, lookup)... */
void shlogfs_pc_attr_begin(struct shlogfs *fs, struct shlogfs_node *n);
/** ... and it is @p size. */
void shlogfs_pc_attr_end(struct shlogfs *fs, struct shlogfs_node *n,
			 uint64_t size);
/** Answer a read the kernel sent for its page cache: exact bytes or EIO
 *  (see pcache.c).  1 if answered, 0 if it is another read. */
int shlogfs_pc_reply(fuse_req_t req, struct shlogfs_handle *h,
		     const struct fuse_file_info *fi, uint64_t off, size_t size);

#endif /* SHLOGFS_PCACHE_H */
