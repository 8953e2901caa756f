/*
 * list.h — a directory listing taken at opendir (list.c).
 */
#ifndef SHLOGFS_LIST_H
#define SHLOGFS_LIST_H

#include <sys/types.h>

#include "shlogfs.h"

/** A directory listing taken at opendir. */
struct shlogfs_dir {
	struct shlogfs_buf names; /**< NUL-terminated names */
	size_t *offs;             /**< offset of each name */
	mode_t *types;
	size_t n, cap;
};

/** Add one name to a listing; 0 or -ENOMEM. */
int shlogfs_dir_add(struct shlogfs_dir *d, const char *name, size_t len,
		    mode_t type);
/** list op of a lookup-only directory: nothing listed. */
int shlogfs_dir_none(struct shlogfs *fs, struct shlogfs_node *d,
		     struct shlogfs_dir *out);
/** Free a listing. */
void shlogfs_dir_free(struct shlogfs_dir *d);

#endif /* SHLOGFS_LIST_H */
