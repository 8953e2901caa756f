/*
 * k_topic.c — the kind of a topic's directory, <topic>/: its log (the
 * sharded entry point), its follow stream (k_follow.c) and its
 * partitions, numbered from 0.  mkdir of
 * the next number adds a partition; mkdir of a higher one (at most
 * SHLOGFS_MKDIR_AHEAD past the next) adds the ones between too, hidden
 * until mkdir of their own number (a restore makes partitions in the
 * order of its archive: cp -a in the source's directory order, rsync
 * in name order, 10 before 2).  With -o partitions=0 a partition made
 * by mkdir has no `log` until one is created (cp -a opens it with
 * O_EXCL); restore.c keeps both facts.
 *
 * A listing shows the partitions only: `log` and `follow` hold every
 * partition's messages again, so they are found by name (lookup, open)
 * but never listed, and a backup or a walk of the topic meets each message once.
 * The link count is 2 plus the partitions (the subdirectories listed).
 * rmdir of a partition is ENOTEMPTY (it always holds its log) and
 * deletes nothing; a topic is deleted through /.delete (k_delete.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "kinds.h"
#include "follow.h"
#include "list.h"
#include "log.h"
#include "node.h"
#include "own.h"
#include "restore.h"
#include "stat.h"

/* The name of the topic's log among its partitions. */
#define SHLOGFS_TLOG_NAME "log"

/* How far past the next number a mkdir may make partitions. */
#define SHLOGFS_MKDIR_AHEAD 1024

/* 1 if partition @p part of @p d is hidden (made ahead, still empty). */
static int shlogfs_topic_hidden(struct shlogfs *fs, struct shlogfs_node *d,
				uint32_t part)
{
	return shlogfs_restore_flag_empty(fs, SHLOGFS_RF_HIDDEN, d->topic, part);
}

/* resolve op: the topic's log, its follow stream, or one of its partitions. */
static int shlogfs_topic_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				 const char *name, struct shlogfs_name *out)
{
	uint32_t nparts;
	int rc;

	*out = (struct shlogfs_name){ &shlogfs_kind_tlog, d->topic, d->part,
				      NULL };
	if (strcmp(name, SHLOGFS_TLOG_NAME) == 0)
		return 0;
	if (strcmp(name, "follow") == 0) {
		out->kind = &shlogfs_kind_tfollow;
		return 0;
	}
	if (shlog_part_name_parse(name, &out->part))
		return -ENOENT;
	if ((rc = shlogfs_topic_nparts(fs->store, d->topic, &nparts)))
		return rc;
	out->kind = &shlogfs_kind_part;
	return out->part < nparts && !shlogfs_topic_hidden(fs, d, out->part) ?
	       0 : -ENOENT;
}

/* list op: the partitions (the topic's log by name only). */
static int shlogfs_topic_list(struct shlogfs *fs, struct shlogfs_node *d,
			      struct shlogfs_dir *out)
{
	uint32_t nparts;
	char num[16];
	int rc;

	if ((rc = shlogfs_topic_nparts(fs->store, d->topic, &nparts)))
		return rc;
	for (uint32_t i = 0; i < nparts; i++) {
		if (shlogfs_topic_hidden(fs, d, i))
			continue;
		int len = snprintf(num, sizeof num, "%u", i);
		if ((rc = shlogfs_dir_add(out, num, (size_t)len, S_IFDIR)))
			return rc;
	}
	return 0;
}

/* peek op: the inode number of a listed partition, if known. */
static fuse_ino_t shlogfs_topic_peek(struct shlogfs *fs, struct shlogfs_node *d,
				     const char *name)
{
	struct shlogfs_name nm = { &shlogfs_kind_part, d->topic, 0, NULL };

	if (shlog_part_name_parse(name, &nm.part))
		return 0;
	return shlogfs_node_peek(fs, &nm);
}

/* attr op: two links and one per partition (what a listing shows). */
static int shlogfs_topic_attr(struct shlogfs *fs, struct shlogfs_node *n,
			      fuse_req_t req, struct stat *st)
{
	uint32_t nparts;
	int rc = shlogfs_topic_nparts(fs->store, n->topic, &nparts);

	(void)req;
	if (rc)
		return rc;
	st->st_nlink = 2;
	for (uint32_t i = 0; i < nparts; i++)
		st->st_nlink += !shlogfs_topic_hidden(fs, n, i);
	return 0;
}

/* -o partitions=0: partition @p part made by mkdir has no log until
 * created (cp -a opens it with O_EXCL); else it has one. */
static int shlogfs_topic_no_log(struct shlogfs *fs, struct shlogfs_node *d,
				uint32_t part)
{
	if (fs->partitions != 0)
		return 0;
	return shlogfs_restore_flag_set(fs, SHLOGFS_RF_GONE, d->topic, part);
}

/* mkdir TOPIC/N of a hidden partition N: it shows now. */
static int shlogfs_topic_unhide(struct shlogfs *fs, fuse_req_t req,
				struct shlogfs_node *d, uint32_t part,
				mode_t mode)
{
	int rc = shlogfs_topic_no_log(fs, d, part);

	if (rc)
		return rc;
	shlogfs_restore_flag_clear(fs, SHLOGFS_RF_HIDDEN, d->topic, part);
	shlogfs_dir_adopt(fs, req, d->topic, part, mode);
	return 0;
}

/* Add partitions up to @p want, those below it hidden. */
static int shlogfs_topic_add_to(struct shlogfs *fs, fuse_req_t req,
				struct shlogfs_node *d, uint32_t nparts,
				uint32_t want, mode_t mode)
{
	uint32_t got;
	int rc = 0;

	for (uint32_t i = nparts; rc == 0 && i <= want; i++) {
		if ((rc = shlogfs_topic_add_part(fs->store, d->topic, &got)))
			break;
		if (got != i)
			return -EEXIST; /* another mkdir won the race */
		rc = shlogfs_topic_no_log(fs, d, i);
		if (rc == 0 && i < want)
			rc = shlogfs_restore_flag_set(fs, SHLOGFS_RF_HIDDEN,
						      d->topic, i);
		shlogfs_dir_adopt(fs, req, d->topic, i, mode);
	}
	return rc;
}

/* mkdir TOPIC/N: show hidden partition N, or add partitions up to N. */
static int shlogfs_topic_mkdir_part(struct shlogfs *fs, fuse_req_t req,
				    struct shlogfs_node *d, const char *name,
				    mode_t mode, uint32_t *out)
{
	uint32_t want, nparts;
	int rc;

	if (strcmp(name, SHLOGFS_TLOG_NAME) == 0)
		return -EEXIST;
	if (shlog_part_name_parse(name, &want))
		return -EINVAL;
	if ((rc = shlogfs_topic_nparts(fs->store, d->topic, &nparts)))
		return rc;
	*out = want;
	if (want < nparts)
		return shlogfs_topic_hidden(fs, d, want) ?
		       shlogfs_topic_unhide(fs, req, d, want, mode) : -EEXIST;
	if (want - nparts > SHLOGFS_MKDIR_AHEAD) {
		shlogfs_log(LOG_NOTICE, "mkdir %s/%u refused (EINVAL): the topic "
			    "has %u partitions, and a mkdir makes at most %u more",
			    d->topic, want, nparts, SHLOGFS_MKDIR_AHEAD + 1);
		return -EINVAL;
	}
	if ((rc = shlogfs_quota_check(fs, fuse_req_ctx(req)->uid, 0,
				      want - nparts + 1)))
		return rc;
	rc = shlogfs_topic_add_to(fs, req, d, nparts, want, mode);
	shlogfs_fw_topic_changed(d->topic); /* its stream takes the new ones */
	return rc;
}

/* mkdir op: a partition (under mk_lock: the per-user limits). */
static int shlogfs_topic_mkdir(struct shlogfs *fs, fuse_req_t req,
			       struct shlogfs_node *d, const char *name,
			       mode_t mode, struct shlogfs_name *made)
{
	int rc;

	*made = (struct shlogfs_name){ &shlogfs_kind_part, d->topic, 0, NULL };
	pthread_mutex_lock(&fs->mk_lock);
	rc = shlogfs_topic_mkdir_part(fs, req, d, name, mode, &made->part);
	pthread_mutex_unlock(&fs->mk_lock);
	return rc;
}

/* rmdir op: a partition always holds its log (ENOTEMPTY, nothing
 * deleted); the topic's log is a file (ENOTDIR). */
static int shlogfs_topic_rmdir(struct shlogfs *fs, fuse_req_t req,
			       struct shlogfs_node *d, const char *name)
{
	struct shlogfs_name nm;
	int rc = shlogfs_topic_resolve(fs, d, name, &nm);

	(void)req;
	if (rc)
		return rc;
	return shlogfs_kind_is_dir(nm.kind) ? -ENOTEMPTY : -ENOTDIR;
}

const struct shlogfs_kind shlogfs_kind_topic = {
	.type = S_IFDIR,
	.perm = 07777,
	.owner = SHLOGFS_OWNER_TOPIC,
	.attr = shlogfs_topic_attr,
	.chmod = shlogfs_chmod_dir,
	.chown = shlogfs_chown_dir,
	.resolve = shlogfs_topic_resolve,
	.list = shlogfs_topic_list,
	.peek = shlogfs_topic_peek,
	.mkdir = shlogfs_topic_mkdir,
	.rmdir = shlogfs_topic_rmdir,
};
