/*
 * follow.h — followers (follow.c): the handles of follow files and the
 * polled partition logs, their waiting reads and poll handles, and the
 * wake-up every append of the daemon makes.
 */
#ifndef SHLOGFS_FOLLOW_H
#define SHLOGFS_FOLLOW_H

#include "shlogfs.h"

/** Set the caps on waiting reads: all users but root, and one user. */
void shlogfs_fw_init(uint32_t max_all, uint32_t max_user);
/** Make @p h follow @p np partitions @p parts (the handle's own) from
 *  their first kept messages; -ENOMEM. */
int shlogfs_fw_open(struct shlogfs_handle *h, shlog_part **parts,
		    uint32_t np);
/** read op of a follow file: whole messages now, or a reply when they come. */
void shlogfs_fw_read(fuse_req_t req, struct shlogfs_handle *h, size_t size,
		     uint64_t off);
/** poll op of a follow file: POLLIN past the handle's position. */
void shlogfs_fw_poll(fuse_req_t req, struct shlogfs_handle *h,
		     struct fuse_pollhandle *ph);
/** poll op of a partition log: POLLIN past the offset of its last read. */
void shlogfs_fw_poll_log(fuse_req_t req, struct shlogfs_handle *h,
			 struct fuse_pollhandle *ph);
/** After an append to @p p: wake its waiting reads and polls if @p rc
 *  is 0 (it succeeded); returns @p rc. */
int shlogfs_fw_after(shlog_part *p, int rc);
/** After topic @p topic was deleted: its followers' waiting reads end
 *  (ENOENT), their polls are notified. */
void shlogfs_fw_topic_gone(const char *topic);
/** Drop @p h's follower (its poll handle; a waiting read only at exit). */
void shlogfs_fw_close(struct shlogfs_handle *h);

#endif /* SHLOGFS_FOLLOW_H */
