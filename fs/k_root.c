/*
 * k_root.c — the kind of the mount root: its names are the topics and
 * the root files /.metrics, /.status and /.delete (found by name only: a
 * listing of the root shows topics and nothing else, so `ls -A`,
 * `tar -C MNT .` and `rsync MNT/` see only topics).  The link count is
 * 2 plus the topics listed.  mkdir makes a topic; rmdir of one is
 * ENOTEMPTY (it always holds partitions) and deletes nothing, so no tool
 * that walks the tree can delete a topic: a deliberate write of its name
 * to /.delete does (k_delete.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "kinds.h"
#include "list.h"
#include "node.h"
#include "own.h"
#include "restore.h"
#include "stat.h"

/* The files at the root beside the topics. */
static const struct shlogfs_kind *const shlogfs_root_files[] = {
	&shlogfs_kind_metrics,
	&shlogfs_kind_status,
	&shlogfs_kind_delete,
};

/* The root file called @p name, or NULL if none is. */
static const struct shlogfs_kind *shlogfs_root_file(const char *name)
{
	for (size_t i = 0; i < sizeof shlogfs_root_files /
			       sizeof shlogfs_root_files[0]; i++)
		if (strcmp(name, shlogfs_root_files[i]->name) == 0)
			return shlogfs_root_files[i];
	return NULL;
}

/* resolve op: a root file, or a topic. */
static int shlogfs_root_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				const char *name, struct shlogfs_name *out)
{
	uint32_t nparts;

	(void)d;
	*out = (struct shlogfs_name){ .kind = shlogfs_root_file(name),
				      .topic = name };
	if (out->kind)
		return 0;
	if (shlog_topic_name_check(name))
		return -ENOENT;
	out->kind = &shlogfs_kind_topic;
	return shlogfs_topic_nparts(fs->store, name, &nparts);
}

/* shlog_topic_foreach callback: list a topic. */
static int shlogfs_root_list_topic(const char *topic, void *arg)
{
	return shlogfs_dir_add(arg, topic, strlen(topic), S_IFDIR) ? 1 : 0;
}

/* shlog_store_aside_foreach callback: list a set-aside topic too. */
static int shlogfs_root_list_aside(const char *topic, int64_t part, int err,
				   const char *why, void *arg)
{
	(void)part;
	(void)err;
	(void)why;
	return shlogfs_root_list_topic(topic, arg);
}

/* list op: the topics (a set-aside one too: a lookup says EUCLEAN). */
static int shlogfs_root_list(struct shlogfs *fs, struct shlogfs_node *d,
			     struct shlogfs_dir *out)
{
	int rc = shlogfs_topic_foreach(fs->store, shlogfs_root_list_topic, out);

	(void)d;
	if (rc == 0)
		rc = shlogfs_aside_foreach(fs->store, shlogfs_root_list_aside,
					       out);
	return rc > 0 ? -ENOMEM : rc;
}

/* peek op: a topic's inode number, if known. */
static fuse_ino_t shlogfs_root_peek(struct shlogfs *fs, struct shlogfs_node *d,
				    const char *name)
{
	struct shlogfs_name nm = { &shlogfs_kind_topic, name, 0, NULL };

	(void)d;
	return shlogfs_node_peek(fs, &nm);
}

/* -o partitions=0: the new topic's one partition hidden, without a log,
 * until mkdir TOPIC/0 (cp -a makes it). */
static int shlogfs_root_hide_first(struct shlogfs *fs, const char *topic)
{
	int rc = shlogfs_restore_flag_set(fs, SHLOGFS_RF_GONE, topic, 0);

	return rc ? rc : shlogfs_restore_flag_set(fs, SHLOGFS_RF_HIDDEN, topic, 0);
}

/* mkdir TOPIC: a topic with the partitions option's partitions (with
 * partitions=0 one, hidden: the topic looks empty). */
static int shlogfs_root_mkdir_topic(struct shlogfs *fs, fuse_req_t req,
				    const char *name, mode_t mode)
{
	uint32_t np = fs->partitions ? fs->partitions : 1;
	int rc = shlog_topic_name_check(name);

	if (shlogfs_root_file(name))
		return -EEXIST; /* .metrics, .status, .delete */
	if (rc == 0)
		rc = shlogfs_quota_check(fs, fuse_req_ctx(req)->uid, 1, np);
	if (rc == 0)
		rc = shlogfs_topic_create(fs->store, name, np);
	if (rc)
		return rc;
	shlogfs_restore_forget(fs, name); /* of a topic of that name before */
	shlogfs_dir_adopt(fs, req, name, -1, mode);
	for (uint32_t i = 0; i < np; i++)
		shlogfs_dir_adopt(fs, req, name, i, mode);
	if (fs->partitions == 0)
		return shlogfs_root_hide_first(fs, name);
	return 0;
}

/* mkdir op: a topic (under mk_lock: the per-user limits). */
static int shlogfs_root_mkdir(struct shlogfs *fs, fuse_req_t req,
			      struct shlogfs_node *d, const char *name,
			      mode_t mode, struct shlogfs_name *made)
{
	int rc;

	(void)d;
	pthread_mutex_lock(&fs->mk_lock);
	rc = shlogfs_root_mkdir_topic(fs, req, name, mode);
	pthread_mutex_unlock(&fs->mk_lock);
	*made = (struct shlogfs_name){ &shlogfs_kind_topic, name, 0, NULL };
	return rc;
}

/* rmdir op: a topic always holds partitions (ENOTEMPTY, nothing deleted:
 * topics are deleted through /.delete, k_delete.c); a root file is not
 * a directory. */
static int shlogfs_root_rmdir(struct shlogfs *fs, fuse_req_t req,
			      struct shlogfs_node *d, const char *name)
{
	struct shlogfs_name nm;
	int rc = shlogfs_root_resolve(fs, d, name, &nm);

	(void)req;
	if (rc)
		return rc;
	return shlogfs_kind_is_dir(nm.kind) ? -ENOTEMPTY : -ENOTDIR;
}

/* shlog_topic_foreach callback: count a topic. */
static int shlogfs_root_count_topic(const char *topic, void *arg)
{
	(void)topic;
	++*(nlink_t *)arg;
	return 0;
}

/* shlog_store_aside_foreach callback: count a set-aside topic too. */
static int shlogfs_root_count_aside(const char *topic, int64_t part, int err,
				    const char *why, void *arg)
{
	(void)part;
	(void)err;
	(void)why;
	return shlogfs_root_count_topic(topic, arg);
}

/* attr op: two links and one per topic (what a listing shows). */
static int shlogfs_root_attr(struct shlogfs *fs, struct shlogfs_node *n,
			     fuse_req_t req, struct stat *st)
{
	nlink_t links = 2;

	(void)n;
	(void)req;
	shlogfs_topic_foreach(fs->store, shlogfs_root_count_topic, &links);
	shlogfs_aside_foreach(fs->store, shlogfs_root_count_aside, &links);
	st->st_nlink = links;
	return 0;
}

const struct shlogfs_kind shlogfs_kind_root = {
	.name = "",
	.type = S_IFDIR,
	.perm = 07777,
	.owner = SHLOGFS_OWNER_ROOT,
	.keep_blocks = 1,
	.attr = shlogfs_root_attr,
	.chmod = shlogfs_chmod_dir,
	.chown = shlogfs_chown_dir,
	.resolve = shlogfs_root_resolve,
	.list = shlogfs_root_list,
	.peek = shlogfs_root_peek,
	.mkdir = shlogfs_root_mkdir,
	.rmdir = shlogfs_root_rmdir,
};
