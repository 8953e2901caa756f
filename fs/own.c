/*
 * own.c — who owns a new directory, and how much one user may own.
 *
 * Who may make and delete: the kernel checks write permission on the
 * directory a name is made in or removed from; the rest is here.  A
 * new directory belongs to its maker, with the group and the setgid bit
 * of a setgid parent (as on ext4); -o max_topics_per_user and
 * max_parts_per_user bound what one user owns (EDQUOT; root is exempt).
 * Deleting a topic deletes every partition in it, so only root or a
 * user who owns the topic and every one of its partitions may (EPERM,
 * k_root.c).  mk_lock orders the counting and the checks with the
 * changes (the callers hold it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "own.h"
#include "log.h"
#include "text.h"

/* The parent of a new topic (@p part < 0: the root) or partition, stat'ed. */
static int shlogfs_dir_parent_stat(struct shlogfs *fs, const char *topic,
				   int64_t part, struct stat *st)
{
	if (part >= 0)
		return shlogfs_dir_stat(fs->store, topic, -1, st);
	return shlogfs_dir_stat(fs->store, NULL, -1, st);
}

/* Give a new directory the caller's mode and ownership (setgid: inherited). */
void shlogfs_dir_adopt(struct shlogfs *fs, fuse_req_t req,
		       const char *topic, int64_t part, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t gid = ctx->gid;
	struct stat pst;
	int rc;

	mode &= 07777;
	if (shlogfs_dir_parent_stat(fs, topic, part, &pst) == 0 &&
	    (pst.st_mode & S_ISGID)) {
		gid = pst.st_gid;
		mode |= S_ISGID;
	}
	/* owner first: a chown may clear the setgid bit a chmod set */
	rc = shlogfs_dir_chown(fs->store, topic, part, ctx->uid, gid);
	if (rc == 0)
		rc = shlogfs_dir_chmod(fs->store, topic, part, mode);
	if (rc)
		shlogfs_log(LOG_WARNING, "mkdir %s: setting mode/owner: %s",
			    topic, shlog_strerror(rc));
}

/* Topics and partitions owned by a user (shlogfs_count_owned). */
struct shlogfs_owned {
	uid_t uid;
	uint32_t topics, parts;
	struct shlogfs_buf names;   /* topic names, each ending in '\0' */
};

/* shlog_topic_foreach callback: remember a topic's name. */
static int shlogfs_owned_name(const char *topic, void *arg)
{
	struct shlogfs_owned *o = arg;

	return shlogfs_buf_add(&o->names, topic, strlen(topic) + 1) ? 1 : 0;
}

/* Count the topics and partitions @p o->uid owns now. */
static int shlogfs_count_owned(struct shlogfs *fs, struct shlogfs_owned *o)
{
	int rc = shlogfs_topic_foreach(fs->store, shlogfs_owned_name, o);
	struct stat st;
	uint32_t np;

	if (rc)
		return rc > 0 ? -ENOMEM : rc;
	for (size_t at = 0; at < o->names.len;) {
		const char *t = o->names.p + at;
		at += strlen(t) + 1;
		if (shlogfs_dir_stat(fs->store, t, -1, &st) ||
		    shlogfs_topic_nparts(fs->store, t, &np))
			continue; /* deleted meanwhile */
		o->topics += st.st_uid == o->uid;
		for (uint32_t i = 0; i < np; i++)
			o->parts += shlogfs_dir_stat(fs->store, t, i, &st) == 0 &&
				    st.st_uid == o->uid;
	}
	return 0;
}

/* EDQUOT (logged) if @p uid would own more than a per-user limit allows. */
int shlogfs_quota_check(struct shlogfs *fs, uid_t uid, uint32_t topics,
			uint32_t parts)
{
	struct shlogfs_owned o = { .uid = uid };
	int rc;

	if (uid == 0 || (!fs->max_topics_per_user && !fs->max_parts_per_user))
		return 0;
	rc = shlogfs_count_owned(fs, &o);
	shlogfs_buf_free(&o.names);
	if (rc)
		return rc;
	if (fs->max_topics_per_user &&
	    (uint64_t)o.topics + topics > fs->max_topics_per_user) {
		shlogfs_log(LOG_NOTICE, "uid %u owns %u topics: another is refused "
			    "(EDQUOT, max_topics_per_user=%u)", (unsigned)uid,
			    o.topics, fs->max_topics_per_user);
		return -EDQUOT;
	}
	if (fs->max_parts_per_user &&
	    (uint64_t)o.parts + parts > fs->max_parts_per_user) {
		shlogfs_log(LOG_NOTICE, "uid %u owns %u partitions: %u more are "
			    "refused (EDQUOT, max_parts_per_user=%u)",
			    (unsigned)uid, o.parts, parts, fs->max_parts_per_user);
		return -EDQUOT;
	}
	return 0;
}
