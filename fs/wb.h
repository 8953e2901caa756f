/*
 * wb.h — -o writeback: partition logs behind the kernel's page cache
 * (wb.c, used by k_log.c).
 */
#ifndef SHLOGFS_WB_H
#define SHLOGFS_WB_H

#include <sys/types.h>

#include "shlogfs.h"

/** -EPERM (logged): with -o writeback, writes to @p what (not a partition
 *  log) would move a log's end behind the kernel's back. */
int shlogfs_wb_refused(struct shlogfs_node *n, const char *what);
/** Open of a partition log for writing with -o writeback; 0 or -errno. */
int shlogfs_wb_open(struct shlogfs *fs, struct shlogfs_handle *h);
/** Release of such a handle: the last one finishes an unfinished line. */
void shlogfs_wb_release(struct shlogfs *fs, struct shlogfs_handle *h);
/** Stored bytes to put back into the kernel's copy after a refusal. */
struct shlogfs_wb_fix {
	uint64_t off;
	size_t len;
	char *buf;     /**< NULL: nothing to put back */
};
/** A write request (page writeback) to a partition log; @p fix: what
 *  shlogfs_wb_fix_apply() must put back once the reply is sent. */
ssize_t shlogfs_wb_write(struct shlogfs *fs, struct shlogfs_handle *h,
			 const char *buf, size_t size, uint64_t off,
			 struct shlogfs_wb_fix *fix);
/** After the reply to a write: put back what @p fix holds, and free it. */
void shlogfs_wb_fix_apply(struct shlogfs *fs, fuse_ino_t ino,
			  struct shlogfs_wb_fix *fix);
/** Read a partition log, its unfinished last line included. */
ssize_t shlogfs_wb_read(struct shlogfs_handle *h, uint64_t off, char *buf,
			size_t size);
/** Bytes of the unfinished last line a node's stream holds. */
uint64_t shlogfs_wb_pending(struct shlogfs_node *n);
/** Start asking the kernel for streams' cached bytes every @p ms (0: never); 0 or -errno. */
int shlogfs_wb_retrieve_start(struct shlogfs *fs, uint32_t ms);
/** Stop asking (at unmount, before the handles close). */
void shlogfs_wb_retrieve_stop(void);
/** The retrieve_reply operation: the kernel's cached bytes of @p ino from
 *  @p off, for an ask made in @p epoch (the reply's cookie). */
void shlogfs_wb_retrieved(struct shlogfs *fs, fuse_ino_t ino, uint64_t epoch, uint64_t off,
			  struct fuse_bufvec *bufv);
/** Asks made, replies taken, bytes given since the mount (/.metrics). */
void shlogfs_wb_retrieve_counts(uint64_t *asked, uint64_t *replies, uint64_t *bytes);
/** Free a node's writeback state (the node's last forget). */
void shlogfs_wb_free(struct shlogfs_node *n);

#endif /* SHLOGFS_WB_H */
