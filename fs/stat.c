/*
 * stat.c — what stat shows for a node: the part every kind shares.
 *
 * A node shows the owner and times of a directory in the data dir (its
 * kind's owner: the data dir, its topic or its partition,
 * shlog_dir_stat) and takes its permission bits from that directory's
 * mode, masked by its kind (logs and keys `dirmode & 0666`, status and
 * at/since files `dirmode & 0444`, directories their own).  Its kind's
 * attr operation adds size, times and links; a partition log shows
 * an mtime utimens set while its size stays (restore.c).  chmod of a
 * log sets its directory's read and write bits (chown its owner: nginx
 * chowns its log files); setattr that changes nothing succeeds on
 * every kind, any other change of a kind without the operation is EPERM
 * (attr.c).  Attribute
 * timeouts are 0: sizes change with every append and `tail -f` polls
 * with fstat, and a chown of a log changes its directory.  With -o
 * writeback a partition log's size is the kernel's own (it ignores
 * ours), so its attributes are cached for a second: the kernel checks
 * them before every append otherwise.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "stat.h"
#include "node.h"
#include "restore.h"

/* Attribute timeouts in seconds. */
#define SHLOGFS_DIR_TIMEOUT 0.0
#define SHLOGFS_FILE_TIMEOUT 0.0
#define SHLOGFS_WB_LOG_TIMEOUT 1.0

/* The topic and partition (-1: none) of the directory @p n shows. */
static const char *shlogfs_owner_dir(const struct shlogfs_node *n,
				     int64_t *part)
{
	*part = n->kind->owner == SHLOGFS_OWNER_PART ? (int64_t)n->part : -1;
	return n->kind->owner == SHLOGFS_OWNER_ROOT ? NULL : n->topic;
}

/* Type and permission bits of a node of kind @p k, from its directory's mode. */
mode_t shlogfs_kind_mode(const struct shlogfs_kind *k, mode_t dirmode)
{
	return k->type | (dirmode & k->perm);
}

/* Fill @p st for @p n as the caller of @p req may see it (NULL: the daemon). */
static int shlogfs_node_stat_as(struct shlogfs *fs, struct shlogfs_node *n,
				fuse_req_t req, struct stat *st)
{
	const struct shlogfs_kind *k = n->kind;
	int64_t part;
	const char *topic = shlogfs_owner_dir(n, &part);
	int rc;

	memset(st, 0, sizeof *st);
	if ((rc = shlogfs_node_live(n)) ||
	    (rc = shlogfs_dir_stat(fs->store, topic, part, st)))
		return rc;
	st->st_mode = shlogfs_kind_mode(k, st->st_mode);
	st->st_nlink = shlogfs_kind_is_dir(k) ? 2 : 1;
	st->st_size = 0;
	if (!k->keep_blocks)
		st->st_blocks = 0;
	st->st_ino = shlogfs_node_ino(fs, n);
	st->st_blksize = k->blksize ? k->blksize : 1 << 20;
	st->st_dev = 0;
	if (k->attr && (rc = k->attr(fs, n, req, st)))
		return rc;
	if (k->utimens && k->owner == SHLOGFS_OWNER_PART)
		shlogfs_restore_time(fs, n->topic, n->part, st);
	if (shlogfs_kind_is_dir(k))
		st->st_size = 4096;
	return 0;
}

/* Fill @p st for node @p n (the daemon's own view: mkdir, create). */
int shlogfs_node_stat(struct shlogfs *fs, struct shlogfs_node *n,
		      struct stat *st)
{
	return shlogfs_node_stat_as(fs, n, NULL, st);
}

/* Fill @p st for node @p n as the caller of @p req may see it (getattr,
 * lookup, setattr); only <topic>/log and the root files depend on who asks. */
int shlogfs_node_stat_req(struct shlogfs *fs, struct shlogfs_node *n,
			  fuse_req_t req, struct stat *st)
{
	return shlogfs_node_stat_as(fs, n, req, st);
}

/* Set a file's size and blocks; its times too if @p mtime_ns > 0. */
void shlogfs_stat_size(struct stat *st, uint64_t size, int64_t mtime_ns)
{
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	if (mtime_ns > 0) {
		st->st_mtim.tv_sec = mtime_ns / 1000000000;
		st->st_mtim.tv_nsec = mtime_ns % 1000000000;
		st->st_ctim = st->st_mtim;
	}
}

/* Attribute timeout of a node: a second for a log the kernel sizes itself. */
double shlogfs_timeout(const struct shlogfs *fs, const struct shlogfs_node *n)
{
	if (shlogfs_kind_is_dir(n->kind))
		return SHLOGFS_DIR_TIMEOUT;
	if (fs->wb_on && !n->kind->generated)
		return SHLOGFS_WB_LOG_TIMEOUT;
	return SHLOGFS_FILE_TIMEOUT;
}

/* ==== setattr helpers ================================================= */

/* chmod of a directory: its record in the data dir keeps the mode. */
int shlogfs_chmod_dir(struct shlogfs *fs, struct shlogfs_node *n, mode_t mode)
{
	int64_t part;
	const char *topic = shlogfs_owner_dir(n, &part);

	return shlogfs_dir_chmod(fs->store, topic, part, mode & 07777);
}

/* chmod of a log: its kind's bits of the directory's mode change, the
 * rest stay (a log 0640 in a partition 0751 makes it 0751 & ~0666 | 0640). */
int shlogfs_chmod_file(struct shlogfs *fs, struct shlogfs_node *n, mode_t mode)
{
	int64_t part;
	const char *topic = shlogfs_owner_dir(n, &part);
	mode_t keep = n->kind->perm;
	struct stat st;
	int rc = shlogfs_dir_stat(fs->store, topic, part, &st);

	if (rc)
		return rc;
	return shlogfs_dir_chmod(fs->store, topic, part,
			       ((st.st_mode & ~keep) | (mode & keep)) & 07777);
}

/* chown: passed to the directory the node shows. */
int shlogfs_chown_dir(struct shlogfs *fs, struct shlogfs_node *n, uid_t uid,
		      gid_t gid)
{
	int64_t part;
	const char *topic = shlogfs_owner_dir(n, &part);

	return shlogfs_dir_chown(fs->store, topic, part, uid, gid);
}

/* setattr size of a log or key: only to the size the caller sees. */
int shlogfs_truncate_to_end(struct shlogfs *fs, struct shlogfs_node *n,
			    fuse_req_t req, uint64_t size, uint64_t pending)
{
	struct stat st;
	int rc = shlogfs_node_stat_req(fs, n, req, &st);

	if (rc)
		return rc;
	return size == (uint64_t)st.st_size + pending ? 0 : -EPERM;
}
