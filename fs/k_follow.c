/*
 * k_follow.c — the kinds of the follow files: <topic>/<p>/follow, the
 * partition's log that never ends, and <topic>/follow, every partition
 * of the topic as one stream (the topic's live view).
 *
 * Read from the start, a follow file gives the log's messages from its
 * first kept one (like `tail -f -n +1`), then waits at the end for new
 * ones instead of returning 0 (follow.c): `cat follow | grep ERROR`
 * streams until a signal.  Each reply holds whole messages (a message
 * longer than the read is given in pieces, nothing else in between);
 * the topic's stream takes each partition's messages in their order,
 * the partitions in turn, and follows the partitions added after its
 * open too (those its opener may read).  A cursor's stream,
 * <p>/stream/<name>, is a cursor file read like follow (k_cursor.c).  The files are streams, not seekable (lseek
 * and pread: ESPIPE), size 0, read-only, found by name and not listed;
 * <topic>/follow needs read access to every partition, as <topic>/log.
 * Their page reads (mmap, sendfile) get EIO (pcache.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "kinds.h"
#include "cred.h"
#include "follow.h"
#include "log.h"
#include "node.h"
#include "stat.h"

/* attr op: size 0 (a stream), the times of its directory (and of a
 * cursor's stream, k_cursor.c). */
int shlogfs_follow_attr(struct shlogfs *fs, struct shlogfs_node *n,
			fuse_req_t req, struct stat *st)
{
	(void)fs;
	(void)n;
	(void)req;
	shlogfs_stat_size(st, 0, 0);
	return 0;
}

/* Open flags a follow file (and a cursor's stream) takes: read-only, a
 * stream read by the daemon. */
int shlogfs_follow_flags(struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	return 0;
}

/* open op of <topic>/<p>/follow: its partition, from its first kept message. */
static int shlogfs_follow_open(struct shlogfs *fs, struct shlogfs_node *n,
			       struct shlogfs_handle *h,
			       const struct shlogfs_cred *c,
			       struct fuse_file_info *fi)
{
	int rc;

	(void)c;
	if ((rc = shlogfs_follow_flags(fi)) ||
	    (rc = shlogfs_node_part(fs, n, &h->part)))
		return rc;
	return shlogfs_fw_open(h, &h->part, 1);
}

/* open op of <topic>/follow: every partition, each readable by @p c, and
 * those added later that @p c may read (follow.c). */
static int shlogfs_tfollow_open(struct shlogfs *fs, struct shlogfs_node *n,
				struct shlogfs_handle *h,
				const struct shlogfs_cred *c,
				struct fuse_file_info *fi)
{
	uint32_t np, bad = 0;
	int rc;

	if ((rc = shlogfs_follow_flags(fi)) ||
	    (rc = shlogfs_topic_nparts(fs->store, n->topic, &np)))
		return rc;
	if ((rc = shlogfs_access_parts(fs, c, n->topic, np, R_OK, &bad))) {
		if (rc == -EACCES)
			shlogfs_log(LOG_NOTICE, "%s/follow: open by uid %u "
				    "refused: partition %u is not readable",
				    n->topic, (unsigned)c->uid, bad);
		return rc;
	}
	if (!(h->parts = calloc(np ? np : 1, sizeof *h->parts)))
		return -ENOMEM;
	for (; h->nparts < np; h->nparts++)
		if ((rc = shlogfs_part_get(fs->store, n->topic, h->nparts,
					 &h->parts[h->nparts])))
			return rc;
	return shlogfs_fw_open_topic(fs, h, c);
}

const struct shlogfs_kind shlogfs_kind_follow = {
	.name = "follow",
	.type = S_IFREG,
	.perm = 0444,
	.owner = SHLOGFS_OWNER_PART,
	.generated = 1,
	.pcache = SHLOGFS_PC_NEVER,
	.attr = shlogfs_follow_attr,
	.open = shlogfs_follow_open,
	.read = shlogfs_fw_read,
	.poll = shlogfs_fw_poll,
};

const struct shlogfs_kind shlogfs_kind_tfollow = {
	.name = "follow",
	.type = S_IFREG,
	.perm = 0444,
	.owner = SHLOGFS_OWNER_TOPIC,
	.generated = 1,
	.pcache = SHLOGFS_PC_NEVER,
	.attr = shlogfs_follow_attr,
	.open = shlogfs_tfollow_open,
	.read = shlogfs_fw_read,
	.poll = shlogfs_fw_poll,
};
