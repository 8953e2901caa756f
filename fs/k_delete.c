/*
 * k_delete.c — the kind of /.delete, the one way to delete a topic
 * through the mount.  rmdir never deletes one (ENOTEMPTY: a topic always
 * holds partitions), so no tool that walks the tree (rm -r, find
 * -delete, rsync --delete, shutil.rmtree) can; deleting is a deliberate
 * request naming the topic:
 *
 *     echo TOPIC > MNT/.delete        (or shlogctl delete MNT TOPIC)
 *
 * The rule:
 *  - /.delete is found by name only, like /.metrics: no listing shows it.
 *    It is write-only for everyone (mode 0222, size 0); an open for
 *    reading is refused with EPERM, O_TRUNC and O_CREAT of it are
 *    accepted (so the shell's `>` works), nothing is kept.
 *  - Each write() is one request: exactly "TOPIC\n" (one valid topic
 *    name, one newline, nothing else), else EINVAL.  The errno comes at
 *    that write(): ENOENT (no such topic), EPERM (not allowed), EINVAL,
 *    or the engine's (EROFS, EIO, ...).
 *  - Allowed to root and to a user who owns the topic and every one of
 *    its partitions.  Who asks is the opener of the file (the open
 *    request's credentials, kept in the handle): a program that writes
 *    to a descriptor it was given (a setuid program's stderr) acts for
 *    whoever opened it, never with its own rights.
 *  - The deletion is atomic (shlog_topic_delete: the topic's directory
 *    is renamed out of the way, then removed); open files of it then fail
 *    with ENOENT.  Each deletion and each refusal has a log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "kinds.h"
#include "follow.h"
#include "log.h"
#include "node.h"

/* Longest request: a topic name and its newline. */
#define SHLOGFS_DELETE_MAX 256

/* May @p uid delete @p topic: root, or the owner of it and all its partitions. */
static int shlogfs_delete_allowed(struct shlogfs *fs, uid_t uid,
				  const char *topic)
{
	struct stat st;
	uint32_t np;
	int rc;

	if ((rc = shlogfs_topic_nparts(fs->store, topic, &np)))
		return rc;
	if (uid == 0)
		return 0;
	for (int64_t i = -1; i < (int64_t)np; i++) {
		if ((rc = shlogfs_dir_stat(fs->store, topic, i, &st)))
			return rc;
		if (st.st_uid == uid)
			continue;
		char what[32] = "the topic";
		if (i >= 0)
			snprintf(what, sizeof what, "partition %" PRId64, i);
		shlogfs_log(LOG_NOTICE, "deletion of topic %s by uid %u refused "
			    "(EPERM): %s belongs to uid %u", topic,
			    (unsigned)uid, what, (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

/* Delete @p topic for @p uid if allowed (under mk_lock: no partition
 * comes meanwhile), and forget its nodes. */
static int shlogfs_delete_topic(struct shlogfs *fs, uid_t uid,
				const char *topic)
{
	int rc;

	pthread_mutex_lock(&fs->mk_lock);
	rc = shlogfs_delete_allowed(fs, uid, topic);
	if (rc == 0)
		rc = shlogfs_topic_delete(fs->store, topic);
	pthread_mutex_unlock(&fs->mk_lock);
	if (rc == 0)
		shlogfs_node_unlink_topic(fs, topic);
	if (rc == 0)
		shlogfs_fw_topic_changed(topic);
	return rc;
}

/* The topic a request names, copied into @p out; -EINVAL unless it is
 * exactly one valid topic name and a newline. */
static int shlogfs_delete_parse(const char *buf, size_t size, char *out)
{
	if (size < 2 || size > SHLOGFS_DELETE_MAX || buf[size - 1] != '\n' ||
	    memchr(buf, '\n', size - 1) || memchr(buf, '\0', size - 1))
		return -EINVAL;
	memcpy(out, buf, size - 1);
	out[size - 1] = '\0';
	return shlog_topic_name_check(out);
}

/* attr op: a write-only, empty file for everyone. */
static int shlogfs_delete_attr(struct shlogfs *fs, struct shlogfs_node *n,
			       fuse_req_t req, struct stat *st)
{
	(void)fs;
	(void)n;
	(void)req;
	st->st_mode = S_IFREG | 0222;
	return 0;
}

/* truncate op: to 0 only (the shell's `>`), which changes nothing. */
static int shlogfs_delete_truncate(struct shlogfs *fs, struct shlogfs_node *n,
				   fuse_req_t req, uint64_t size,
				   struct shlogfs_handle *h)
{
	(void)fs;
	(void)n;
	(void)req;
	(void)h;
	return size == 0 ? 0 : -EPERM;
}

/* open op: for writing only, each write straight to the daemon. */
static int shlogfs_delete_open(struct shlogfs *fs, struct shlogfs_node *n,
			       struct shlogfs_handle *h,
			       const struct shlogfs_cred *c,
			       struct fuse_file_info *fi)
{
	(void)fs;
	(void)n;
	(void)h;
	(void)c;
	if ((fi->flags & O_ACCMODE) != O_WRONLY)
		return -EPERM;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	return 0;
}

/* read op: never (it is opened for writing only). */
static void shlogfs_delete_read(fuse_req_t req, struct shlogfs_handle *h,
				size_t size, uint64_t off)
{
	(void)h;
	(void)size;
	(void)off;
	fuse_reply_err(req, EBADF);
}

/* write op: one request, "TOPIC\n": delete that topic or say why not. */
static ssize_t shlogfs_delete_write(struct shlogfs *fs,
				    struct shlogfs_handle *h, const char *buf,
				    size_t size, uint64_t off, int fflags,
				    struct shlogfs_wb_fix *fix)
{
	char topic[SHLOGFS_DELETE_MAX];
	unsigned uid = (unsigned)h->uid;
	int rc;

	(void)off;
	(void)fflags;
	(void)fix;
	if ((rc = shlogfs_delete_parse(buf, size, topic))) {
		shlogfs_log(LOG_NOTICE, "/.delete: a write of %zu bytes by uid %u "
			    "refused (EINVAL): not one line naming a topic",
			    size, uid);
		return rc;
	}
	rc = shlogfs_delete_topic(fs, h->uid, topic);
	if (rc == 0)
		shlogfs_log(LOG_NOTICE, "topic %s deleted through /.delete by "
			    "uid %u", topic, uid);
	else if (rc != -EPERM) /* EPERM: shlogfs_delete_allowed said why */
		shlogfs_log(LOG_NOTICE, "/.delete: deletion of topic %s by uid "
			    "%u failed: %s", topic, uid, shlog_strerror(rc));
	return rc ? rc : (ssize_t)size;
}

/* Its name starts with a dot, which no topic name can: never a topic's. */
const struct shlogfs_kind shlogfs_kind_delete = {
	.name = ".delete",
	.type = S_IFREG,
	.perm = 0222,
	.owner = SHLOGFS_OWNER_ROOT,
	.blksize = 4096,
	.attr = shlogfs_delete_attr,
	.truncate = shlogfs_delete_truncate,
	.open = shlogfs_delete_open,
	.read = shlogfs_delete_read,
	.write = shlogfs_delete_write,
};
