/*
 * read.h — serving reads (read.c): from a partition's log, through a
 * handle's read-ahead, or from a snapshot the handle holds.
 */
#ifndef SHLOGFS_READ_H
#define SHLOGFS_READ_H

#include <sys/types.h>

#include "shlogfs.h"

/** Fill @p buf from a partition's log; bytes below its start: zeros if
 *  @p holes, else -ESTALE. */
ssize_t shlogfs_fill(shlogfs_bpart *p, uint64_t off, char *buf, size_t size,
		     int holes);
/** Fill @p buf from a partition's log (holes below its start read as zeros). */
ssize_t shlogfs_part_fill(shlogfs_bpart *p, uint64_t off, char *buf, size_t size);
/** Reply to a read with what @p fill puts in a buffer of @p size bytes. */
void shlogfs_reply_fill(fuse_req_t req, struct shlogfs_handle *h, size_t size,
			uint64_t off,
			ssize_t (*fill)(struct shlogfs_handle *h, uint64_t off,
					char *buf, size_t size));
/** Reply to a read of a snapshot. */
void shlogfs_read_snap(fuse_req_t req, struct shlogfs_handle *h, size_t size,
		       uint64_t off);
/** Reply to a read of a log or a view through @p h's read-ahead (a view:
 *  its kind's base op says where it starts; @p holes: as shlogfs_fill). */
void shlogfs_read_ahead(fuse_req_t req, struct shlogfs_handle *h,
			uint64_t off, size_t size, int holes);
/** What may turn a read's @p got of @p size bytes at @p off into an
 *  error (its -errno), called with the handle's ra_lock held; else 0. */
typedef int (*shlogfs_read_check_fn)(struct shlogfs *fs,
				     struct shlogfs_handle *h, uint64_t off,
				     size_t size, size_t got);
/** shlogfs_read_ahead(), the reply first agreed by @p check. */
void shlogfs_read_ahead_if(fuse_req_t req, struct shlogfs_handle *h,
			   uint64_t off, size_t size, int holes,
			   shlogfs_read_check_fn check);

#endif /* SHLOGFS_READ_H */
