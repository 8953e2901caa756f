/*
 * k_part.c — the kind of a partition's directory, <topic>/<p>/: a fixed
 * set of names, each of its own kind (a new one is one more line in
 * shlogfs_part_names).
 *
 * A listing shows only `log`: what a backup should hold (tar, cp -a,
 * rsync -a, find | cpio and rm -r see the partition's messages once and
 * walk into nothing derived).  anchor, index, stats, at/, since/,
 * keys/ and follow are reachable by name (lookup, stat, open, a listing of keys/
 * itself) exactly like the listed name.  Nothing here can be removed:
 * rmdir of at/, since/ or keys/ is EPERM (fixed directories, whatever
 * they hold), of a file ENOTDIR.  So the link count is 2: no listed
 * subdirectory.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "kinds.h"
#include "list.h"
#include "stat.h"

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
	&shlogfs_kind_follow,
};

#define SHLOGFS_NPART_NAMES \
	(sizeof shlogfs_part_names / sizeof shlogfs_part_names[0])
/* How many of shlogfs_part_names a listing shows: only the log. */
#define SHLOGFS_NPART_LISTED 1

/* resolve op: one of the fixed names. */
static int shlogfs_part_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				const char *name, struct shlogfs_name *out)
{
	(void)fs;
	for (size_t i = 0; i < SHLOGFS_NPART_NAMES; i++) {
		if (strcmp(name, shlogfs_part_names[i]->name) == 0) {
			*out = (struct shlogfs_name){ shlogfs_part_names[i],
						      d->topic, d->part, NULL };
			return 0;
		}
	}
	return -ENOENT;
}

/* list op: the listed names (the log). */
static int shlogfs_part_list(struct shlogfs *fs, struct shlogfs_node *d,
			     struct shlogfs_dir *out)
{
	int rc;

	(void)fs;
	(void)d;
	for (size_t i = 0; i < SHLOGFS_NPART_LISTED; i++) {
		const struct shlogfs_kind *k = shlogfs_part_names[i];
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
};
