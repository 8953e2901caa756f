/*
 * k_root.c — the kind of the mount root: its names are the topics and
 * the two root files (found by name only: a listing of the root shows
 * topics and nothing else, so `ls -A`, `tar -C MNT .` and `rsync MNT/`
 * see only topics).  mkdir makes a topic, rmdir deletes one with all its
 * data; only root or a user who owns the topic and every one of its
 * partitions may delete it (EPERM).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "kinds.h"
#include "cred.h"
#include "list.h"
#include "log.h"
#include "node.h"
#include "own.h"
#include "restore.h"
#include "stat.h"

/* The files at the root beside the topics. */
static const struct shlogfs_kind *const shlogfs_root_files[] = {
	&shlogfs_kind_metrics,
	&shlogfs_kind_status,
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
	return shlog_topic_nparts(fs->store, name, &nparts);
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
	int rc = shlog_topic_foreach(fs->store, shlogfs_root_list_topic, out);

	(void)d;
	if (rc == 0)
		rc = shlog_store_aside_foreach(fs->store, shlogfs_root_list_aside,
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
		return -EEXIST; /* .metrics, .status */
	if (rc == 0)
		rc = shlogfs_quota_check(fs, fuse_req_ctx(req)->uid, 1, np);
	if (rc == 0)
		rc = shlog_topic_create(fs->store, name, np);
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

/* May @p c delete @p topic: root, or the owner of it and all its partitions. */
static int shlogfs_rmdir_allowed(struct shlogfs *fs,
				 const struct shlogfs_cred *c,
				 const char *topic)
{
	struct stat st;
	uint32_t np;
	int rc;

	if (c->uid == 0)
		return 0;
	if ((rc = shlog_dir_stat(fs->store, topic, -1, &st)) ||
	    (rc = shlog_topic_nparts(fs->store, topic, &np)))
		return rc;
	for (int64_t i = -1; i < (int64_t)np; i++) {
		if (i >= 0 && (rc = shlog_dir_stat(fs->store, topic, i, &st)))
			return rc;
		if (st.st_uid == c->uid)
			continue;
		char what[32] = "the topic";
		if (i >= 0)
			snprintf(what, sizeof what, "partition %" PRId64, i);
		shlogfs_log(LOG_NOTICE, "rmdir %s by uid %u refused (EPERM): "
			    "%s belongs to uid %u", topic, (unsigned)c->uid,
			    what, (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

/* Delete a topic if the caller may (under mk_lock: no partition comes meanwhile). */
static int shlogfs_rmdir_topic(struct shlogfs *fs, fuse_req_t req,
			       const char *name)
{
	struct shlogfs_cred c;
	int rc;

	shlogfs_cred_get(req, &c);
	pthread_mutex_lock(&fs->mk_lock);
	rc = shlogfs_rmdir_allowed(fs, &c, name);
	if (rc == 0)
		rc = shlog_topic_delete(fs->store, name);
	pthread_mutex_unlock(&fs->mk_lock);
	return rc;
}

/* rmdir op: delete the topic and all its data, even if not empty. */
static int shlogfs_root_rmdir(struct shlogfs *fs, fuse_req_t req,
			      struct shlogfs_node *d, const char *name)
{
	int rc;

	(void)d;
	if (shlogfs_root_file(name))
		return -ENOTDIR; /* .metrics, .status */
	if (shlog_topic_name_check(name))
		return -ENOENT;
	rc = shlogfs_rmdir_topic(fs, req, name);
	if (rc == 0) {
		shlogfs_node_unlink_topic(fs, name);
		shlogfs_log(LOG_NOTICE, "topic %s deleted", name);
	}
	return rc;
}

const struct shlogfs_kind shlogfs_kind_root = {
	.name = "",
	.type = S_IFDIR,
	.perm = 07777,
	.owner = SHLOGFS_OWNER_ROOT,
	.keep_blocks = 1,
	.chmod = shlogfs_chmod_dir,
	.chown = shlogfs_chown_dir,
	.resolve = shlogfs_root_resolve,
	.list = shlogfs_root_list,
	.peek = shlogfs_root_peek,
	.mkdir = shlogfs_root_mkdir,
	.rmdir = shlogfs_root_rmdir,
};
