/*
 * list.c — a directory listing, taken at opendir (dir.c) and filled by
 * the directory's kind (its list operation); readdir serves slices of it.
 */
#include <errno.h>
#include <stdlib.h>

#include "list.h"
#include "text.h"

/* Make room for one more name in both arrays of a listing. */
static int shlogfs_dir_grow(struct shlogfs_dir *d)
{
	size_t cap = d->cap ? d->cap * 2 : 16;
	size_t *o = realloc(d->offs, cap * sizeof *o);

	if (!o)
		return -ENOMEM;
	d->offs = o;
	mode_t *t = realloc(d->types, cap * sizeof *t);
	if (!t)
		return -ENOMEM;
	d->types = t;
	d->cap = cap;
	return 0;
}

/* Add one name to a listing. */
int shlogfs_dir_add(struct shlogfs_dir *d, const char *name, size_t len,
		    mode_t type)
{
	if (d->n == d->cap && shlogfs_dir_grow(d))
		return -ENOMEM;
	d->offs[d->n] = d->names.len;
	d->types[d->n] = type;
	if (shlogfs_buf_add(&d->names, name, len) ||
	    shlogfs_buf_add(&d->names, "", 1))
		return -ENOMEM;
	d->n++;
	return 0;
}

/* list op of a lookup-only directory (at/, since/, stream/): nothing. */
int shlogfs_dir_none(struct shlogfs *fs, struct shlogfs_node *d,
		     struct shlogfs_dir *out)
{
	(void)fs;
	(void)d;
	(void)out;
	return 0;
}

/* Free a listing. */
void shlogfs_dir_free(struct shlogfs_dir *d)
{
	shlogfs_buf_free(&d->names);
	free(d->offs);
	free(d->types);
	free(d);
}
