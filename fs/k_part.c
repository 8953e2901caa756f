/*
 * k_part.c — the kind of a partition's directory, <topic>/<p>/: a fixed
 * set of names, each of its own kind (a new one is one more line in
 * shlogfs_part_names).
 *
 * A listing shows only `log`: what a backup should hold (tar, cp -a,
 * rsync -a, find | cpio and rm -r see the partition's messages once and
 * walk into nothing derived).  anchor, index, stats, at/, since/,
 * keys/, cursors/, stream/ and follow are reachable by name (lookup, stat, open, a listing of keys/
 * itself) exactly like the listed name.  Nothing here can be removed:
 * rmdir of at/, since/ or keys/ is EPERM (fixed directories, whatever
 * they hold), of a file ENOTDIR.  So the link count is 2: no listed
 * subdirectory.
 *
 * And what a restore makes there (restore.c, shlogfs(8) "RESTORE"):
 *
 *  - unlink of an empty log succeeds and leaves the partition without a
 *    `log` until it is created again (tar unlinks what it extracts);
 *    unlink of a log that holds messages is EPERM;
 *  - create of `log` then makes it again and opens it;
 *  - an exclusive create (O_EXCL) of a new name makes a restore name, a
 *    handle onto the log (k_log.c); rename of a restore name over `log`
 *    succeeds when it was written up to the log's end, and drops the
 *    name; unlink drops it.  Any other create or rename here is EPERM.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <syslog.h>
#include <string.h>
#include <sys/stat.h>

#include "kinds.h"
#include "cred.h"
#include "handle.h"
#include "list.h"
#include "log.h"
#include "node.h"
#include "restore.h"
#include "stat.h"

/* The name of a partition's log. */
#define SHLOGFS_LOG_NAME "log"

/* The names inside a partition directory; the first SHLOGFS_NPART_LISTED
 * are listed, the rest are found by name only. */
static const struct shlogfs_kind *const shlogfs_part_names[] = {
	&shlogfs_kind_log,
	/* by name only: derived from the log, never part of a backup */
	&shlogfs_kind_anchor,
	&shlogfs_kind_index,
	&shlogfs_kind_stats,
	&shlogfs_kind_atdir,
	&shlogfs_kind_sincedir,
	&shlogfs_kind_keysdir,
	&shlogfs_kind_cursorsdir,
	&shlogfs_kind_streamdir,
	&shlogfs_kind_follow,
};

#define SHLOGFS_NPART_NAMES \
	(sizeof shlogfs_part_names / sizeof shlogfs_part_names[0])
/* How many of shlogfs_part_names a listing shows: only the log. */
#define SHLOGFS_NPART_LISTED 1

/* The partition's log size (0 on an error: nothing there to lose). */
static uint64_t shlogfs_part_log_size(struct shlogfs *fs,
				      const struct shlogfs_node *d)
{
	return shlogfs_restore_part_size(fs, d->topic, d->part);
}

/* 1 if the partition's log was unlinked (or never made) and nothing made
 * it since (a line routed to it through <topic>/log does). */
static int shlogfs_part_log_gone(struct shlogfs *fs, struct shlogfs_node *d)
{
	return shlogfs_restore_flag_empty(fs, SHLOGFS_RF_GONE, d->topic, d->part);
}

/* resolve op: one of the fixed names (the log unless unlinked), or a
 * restore name. */
static int shlogfs_part_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				const char *name, struct shlogfs_name *out)
{
	if (strcmp(name, SHLOGFS_LOG_NAME) == 0 && shlogfs_part_log_gone(fs, d))
		return -ENOENT;
	for (size_t i = 0; i < SHLOGFS_NPART_NAMES; i++) {
		if (strcmp(name, shlogfs_part_names[i]->name) == 0) {
			*out = (struct shlogfs_name){ shlogfs_part_names[i],
						      d->topic, d->part, NULL };
			return 0;
		}
	}
	*out = (struct shlogfs_name){ &shlogfs_kind_rname, d->topic, d->part,
				      name };
	return shlogfs_restore_name_has(fs, d->topic, d->part, name);
}

/* list op: the listed names (the log, unless unlinked). */
static int shlogfs_part_list(struct shlogfs *fs, struct shlogfs_node *d,
			     struct shlogfs_dir *out)
{
	int rc;

	for (size_t i = 0; i < SHLOGFS_NPART_LISTED; i++) {
		const struct shlogfs_kind *k = shlogfs_part_names[i];
		if (k == &shlogfs_kind_log && shlogfs_part_log_gone(fs, d))
			continue; /* unlinked by a restore, not made again yet */
		if ((rc = shlogfs_dir_add(out, k->name, strlen(k->name),
					  k->type)))
			return rc;
	}
	return 0;
}

/* mkdir op: nothing can be made here (EEXIST for a name that exists). */
static int shlogfs_part_mkdir(struct shlogfs *fs, fuse_req_t req,
			      struct shlogfs_node *d, const char *name,
			      mode_t mode, struct shlogfs_name *made)
{
	(void)req;
	(void)mode;
	return shlogfs_part_resolve(fs, d, name, made) == 0 ? -EEXIST : -EPERM;
}

/* ==== restore: unlink, create, rename ================================ */

/* The node name @p kind (@p leaf) in partition directory @p d. */
static struct shlogfs_name shlogfs_part_name(struct shlogfs_node *d,
					     const struct shlogfs_kind *kind,
					     const char *leaf)
{
	return (struct shlogfs_name){ kind, d->topic, d->part, leaf };
}

/* unlink log: only an empty one, which is then gone until created. */
static int shlogfs_part_unlink_log(struct shlogfs *fs, struct shlogfs_node *d)
{
	struct shlogfs_name nm = shlogfs_part_name(d, &shlogfs_kind_log, NULL);
	uint64_t size = shlogfs_part_log_size(fs, d);
	int rc;

	if (shlogfs_part_log_gone(fs, d))
		return -ENOENT;
	if (size > 0) {
		shlogfs_log(LOG_NOTICE, "%s/%u/log: unlink refused (EPERM): the "
			    "log holds %llu bytes, and messages are never taken "
			    "back", d->topic, d->part, (unsigned long long)size);
		return -EPERM;
	}
	if ((rc = shlogfs_restore_flag_set(fs, SHLOGFS_RF_GONE, d->topic, d->part)))
		return rc;
	shlogfs_node_unlink_name(fs, &nm);
	return 0;
}

/* unlink op: an empty log, or a restore name; nothing else. */
static int shlogfs_part_unlink(struct shlogfs *fs, struct shlogfs_node *d,
			       const char *name)
{
	struct shlogfs_name nm = shlogfs_part_name(d, &shlogfs_kind_rname, name);

	if (strcmp(name, SHLOGFS_LOG_NAME) == 0)
		return shlogfs_part_unlink_log(fs, d);
	if (shlogfs_restore_name_drop(fs, d->topic, d->part, name) == 0) {
		shlogfs_node_unlink_name(fs, &nm);
		return 0;
	}
	return shlogfs_part_resolve(fs, d, name, &nm) == 0 ? -EPERM : -ENOENT;
}

/* Intern the node of @p nm and open it into @p fi and @p e (create). */
static int shlogfs_part_open_new(struct shlogfs *fs, fuse_req_t req,
				 struct shlogfs_node *d,
				 const struct shlogfs_name *nm,
				 struct fuse_file_info *fi,
				 struct fuse_entry_param *e)
{
	struct shlogfs_node *n = shlogfs_node_intern(fs, nm, d->ino);
	struct shlogfs_cred c;
	int rc;

	if (!n)
		return -ENOMEM;
	shlogfs_cred_get(req, &c);
	memset(e, 0, sizeof *e);
	fi->fh = 0;
	if ((rc = shlogfs_handle_open(fs, n, &c, fi)) == 0 &&
	    (rc = shlogfs_node_stat(fs, n, &e->attr)) != 0)
		shlogfs_handle_drop(fs, shlogfs_fh(fi));
	if (rc) {
		shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
		return rc;
	}
	e->ino = shlogfs_node_ino(fs, n);
	return 0;
}

/* create log: only of an unlinked one, which is there again. */
static int shlogfs_part_create_log(struct shlogfs *fs, fuse_req_t req,
				   struct shlogfs_node *d,
				   struct fuse_file_info *fi,
				   struct fuse_entry_param *e)
{
	struct shlogfs_name nm = shlogfs_part_name(d, &shlogfs_kind_log, NULL);
	int rc;

	if (!shlogfs_part_log_gone(fs, d))
		return -EEXIST;
	shlogfs_restore_flag_clear(fs, SHLOGFS_RF_GONE, d->topic, d->part);
	if ((rc = shlogfs_part_open_new(fs, req, d, &nm, fi, e)))
		shlogfs_restore_flag_set(fs, SHLOGFS_RF_GONE, d->topic, d->part);
	else
		shlogfs_fh(fi)->restore = 1;
	return rc;
}

/* Is @p name a restore's temporary name for the log: rsync's ".log.XXXXXX"
 * (six letters or digits)?  Other tools' names (logrotate's log.1, an
 * editor's swap file) are not: their creates stay EPERM. */
static int shlogfs_part_rname_ok(const char *name)
{
	static const char pre[] = "." SHLOGFS_LOG_NAME ".";
	size_t n = strlen(pre);

	if (strncmp(name, pre, n) != 0 || strlen(name) != n + 6)
		return 0;
	for (size_t i = n; name[i]; i++)
		if (!isalnum((unsigned char)name[i]))
			return 0;
	return 1;
}

/* create of a new name: an exclusive create of a restore's temporary
 * name makes a restore name, anything else EPERM. */
static int shlogfs_part_create_rname(struct shlogfs *fs, fuse_req_t req,
				     struct shlogfs_node *d, const char *name,
				     struct fuse_file_info *fi,
				     struct fuse_entry_param *e)
{
	struct shlogfs_name nm = shlogfs_part_name(d, &shlogfs_kind_rname, name);
	uid_t uid = fuse_req_ctx(req)->uid;
	int rc;

	if (!(fi->flags & O_EXCL) || !shlogfs_part_rname_ok(name) ||
	    fs->wb_on) {
		shlogfs_log(LOG_NOTICE, "%s/%u/%s: create refused (EPERM): a "
			    "partition holds its log; only an exclusive create "
			    "of .log.XXXXXX (rsync's temporary file)%s makes a "
			    "new name",
			    d->topic, d->part, name,
			    fs->wb_on ? ", without -o writeback," : "");
		return -EPERM;
	}
	if ((rc = shlogfs_restore_name_add(fs, d->topic, d->part, name, uid))) {
		if (rc == -EDQUOT)
			shlogfs_log(LOG_NOTICE, "%s/%u/%s: restore name refused "
				    "(EDQUOT): at most %d per partition, %d per "
				    "user", d->topic, d->part, name,
				    SHLOGFS_RESTORE_PER_PART,
				    SHLOGFS_RESTORE_PER_USER);
		return rc;
	}
	if ((rc = shlogfs_part_open_new(fs, req, d, &nm, fi, e)))
		shlogfs_restore_name_drop(fs, d->topic, d->part, name);
	return rc;
}

/* create op: the log again after its unlink, or a restore name. */
static int shlogfs_part_create(struct shlogfs *fs, fuse_req_t req,
			       struct shlogfs_node *d, const char *name,
			       struct fuse_file_info *fi,
			       struct fuse_entry_param *e)
{
	struct shlogfs_name nm;

	if (strcmp(name, SHLOGFS_LOG_NAME) == 0)
		return shlogfs_part_create_log(fs, req, d, fi, e);
	if (shlogfs_part_resolve(fs, d, name, &nm) == 0)
		return -EEXIST;
	return shlogfs_part_create_rname(fs, req, d, name, fi, e);
}

/* rename a restore name over log: it must cover the log exactly. */
static int shlogfs_part_rename_log(struct shlogfs *fs, struct shlogfs_node *d,
				   const char *name, unsigned int flags)
{
	struct shlogfs_name nm = shlogfs_part_name(d, &shlogfs_kind_rname, name);
	uint64_t pos = shlogfs_restore_name_pos(fs, d->topic, d->part, name);
	uint64_t size = shlogfs_part_log_size(fs, d);

	if (flags & RENAME_EXCHANGE)
		return -EPERM;
	if ((flags & RENAME_NOREPLACE) && !shlogfs_part_log_gone(fs, d))
		return -EEXIST;
	if (pos != size) {
		shlogfs_log(LOG_NOTICE, "%s/%u: rename of %s over log refused "
			    "(EPERM): it holds %llu of the log's %llu bytes",
			    d->topic, d->part, name, (unsigned long long)pos,
			    (unsigned long long)size);
		return -EPERM;
	}
	shlogfs_restore_name_drop(fs, d->topic, d->part, name);
	shlogfs_restore_flag_clear(fs, SHLOGFS_RF_GONE, d->topic, d->part);
	shlogfs_node_unlink_name(fs, &nm);
	return 0;
}

/* rename op: a restore name over log; nothing else is renamed. */
static int shlogfs_part_rename(struct shlogfs *fs, struct shlogfs_node *d,
			       const char *name, const char *newname,
			       unsigned int flags)
{
	if (shlogfs_restore_name_has(fs, d->topic, d->part, name))
		return -EPERM;
	if (strcmp(newname, SHLOGFS_LOG_NAME) != 0) {
		shlogfs_log(LOG_NOTICE, "%s/%u: rename of %s to %s refused "
			    "(EPERM): a restore name only replaces log",
			    d->topic, d->part, name, newname);
		return -EPERM;
	}
	return shlogfs_part_rename_log(fs, d, name, flags);
}

/* rmdir op: nothing here can go; EPERM for a fixed directory (at/,
 * since/, keys/: ENOTEMPTY would be false for an empty keys/), ENOTDIR
 * for a file, ENOENT for no such name. */
static int shlogfs_part_rmdir(struct shlogfs *fs, fuse_req_t req,
			      struct shlogfs_node *d, const char *name)
{
	struct shlogfs_name nm;

	(void)req;
	if (shlogfs_part_resolve(fs, d, name, &nm))
		return -ENOENT;
	return shlogfs_kind_is_dir(nm.kind) ? -EPERM : -ENOTDIR;
}

const struct shlogfs_kind shlogfs_kind_part = {
	.type = S_IFDIR,
	.perm = 07777,
	.owner = SHLOGFS_OWNER_PART,
	.chmod = shlogfs_chmod_dir,
	.chown = shlogfs_chown_dir,
	.resolve = shlogfs_part_resolve,
	.list = shlogfs_part_list,
	.mkdir = shlogfs_part_mkdir,
	.rmdir = shlogfs_part_rmdir,
	.unlink = shlogfs_part_unlink,
	.create = shlogfs_part_create,
	.rename = shlogfs_part_rename,
};
