/*
 * follow.h — followers (follow.c): the handles of follow files, cursor
 * streams and the polled partition logs, their waiting reads and poll
 * handles, and the wake-up every append of the daemon makes.
 */
#ifndef SHLOGFS_FOLLOW_H
#define SHLOGFS_FOLLOW_H

#include "shlogfs.h"

/** Set the caps on waiting reads: all users but root, and one user. */
void shlogfs_fw_init(uint32_t max_all, uint32_t max_user);
/** What a cursor's stream (k_cursor.c) is told by its follower; all but
 *  wait_commit are called with the follower's lock held. */
struct shlogfs_fw_hooks {
	/** A reply gives @p n bytes @p buf of the log (it must not wait
	 *  for a commit: a waker calls it). */
	void (*gave)(struct shlogfs_handle *h, const char *buf, size_t n);
	/** Retention deleted what it had not read: it goes on at message
	 *  @p seq, log offset @p off. */
	void (*skipped)(struct shlogfs_handle *h, uint64_t seq, uint64_t off);
	/** A read finds nothing new and gets EAGAIN: 0, or -errno for its
	 *  reply. */
	int (*empty)(struct shlogfs_handle *h);
	/** A read finds nothing new and is about to wait (nothing can answer
	 *  it yet): keep what makes the handle outlive wait_commit. */
	void (*wait_begin)(struct shlogfs_handle *h);
	/** After wait_begin, once the follower's lock is let go (the read
	 *  may be answered meanwhile), or at once if it was not kept. */
	void (*wait_commit)(struct shlogfs_handle *h);
};

/** Make @p h follow @p np partitions @p parts (the handle's own) from
 *  their first kept messages; -ENOMEM. */
int shlogfs_fw_open(struct shlogfs_handle *h, shlogfs_bpart **parts,
		    uint32_t np);
/** Make @p h, a cursor's stream, follow h->part from log offset h->base,
 *  telling @p hooks; -ENOMEM. */
int shlogfs_fw_open_cursor(struct shlogfs_handle *h,
			   const struct shlogfs_fw_hooks *hooks);
/** Make @p h, <topic>/follow opened by @p c, follow h->parts and the
 *  partitions added to the topic later that @p c may read; -ENOMEM. */
int shlogfs_fw_open_topic(struct shlogfs *fs, struct shlogfs_handle *h,
			  const struct shlogfs_cred *c);
/** Followers open, reads waiting now, waiting reads refused since the
 *  mount (/.metrics). */
void shlogfs_fw_figures(uint64_t *followers, uint64_t *waiting,
			uint64_t *refused);
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
int shlogfs_fw_after(shlogfs_bpart *p, int rc);
/** After topic @p topic changed (deleted, a partition added, a cursor
 *  removed): its followers' waiting reads are served again (those of a
 *  removed name end with ENOENT), their polls are notified. */
void shlogfs_fw_topic_changed(const char *topic);
/** Drop @p h's follower (its poll handle; a waiting read only at exit). */
void shlogfs_fw_close(struct shlogfs_handle *h);

#endif /* SHLOGFS_FOLLOW_H */
