/*
 * k_part.c — the kind of a partition's directory, <topic>/<p>/: a fixed
 * set of names, each of its own kind (a new one is one more line in
 * shlogfs_part_names).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "kinds.h"
#include "list.h"
#include "stat.h"

/* The names inside a partition directory, in listing order. */
static const struct shlogfs_kind *const shlogfs_part_names[] = {
	&shlogfs_kind_log,
	&shlogfs_kind_anchor,
	&shlogfs_kind_index,
	&shlogfs_kind_stats,
	&shlogfs_kind_atdir,
	&shlogfs_kind_sincedir,
	&shlogfs_kind_keysdir,
};

#define SHLOGFS_NPART_NAMES \
	(sizeof shlogfs_part_names / sizeof shlogfs_part_names[0])

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

/* list op: the fixed names. */
static int shlogfs_part_list(struct shlogfs *fs, struct shlogfs_node *d,
			     struct shlogfs_dir *out)
{
	int rc;

	(void)fs;
	(void)d;
	for (size_t i = 0; i < SHLOGFS_NPART_NAMES; i++) {
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

/* attr op: ".", "..", at/, since/ and keys/ link to it. */
static int shlogfs_part_attr(struct shlogfs *fs, struct shlogfs_node *n,
			     fuse_req_t req, struct stat *st)
{
	(void)fs;
	(void)n;
	(void)req;
	st->st_nlink = 5;
	return 0;
}

const struct shlogfs_kind shlogfs_kind_part = {
	.type = S_IFDIR,
	.perm = 07777,
	.owner = SHLOGFS_OWNER_PART,
	.attr = shlogfs_part_attr,
	.chmod = shlogfs_chmod_dir,
	.chown = shlogfs_chown_dir,
	.resolve = shlogfs_part_resolve,
	.list = shlogfs_part_list,
	.mkdir = shlogfs_part_mkdir,
};
