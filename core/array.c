/*
 * array.c — room in a growable array (array_i.h): the doubling, the
 * overflow check and the realloc that every hand-grown list would
 * otherwise spell out; and the list of index entries built on it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "array_i.h"

/* Room for @want elements in @v (of @elem bytes each), growing it by doubling. */
void *sl_array_reserve(void *v, size_t *cap, size_t want, size_t elem)
{
	size_t ncap;
	void *nv;

	if (want <= *cap && v)
		return v;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < want)
		ncap = want;
	if (elem == 0 || ncap > SIZE_MAX / 2 / elem)
		return NULL;
	nv = realloc(v, ncap * elem);
	if (nv)
		*cap = ncap;
	return nv;
}

/* Room for element @n of @v (one more after the @n in use). */
void *sl_array_room(void *v, size_t *cap, size_t n, size_t elem)
{
	return sl_array_reserve(v, cap, n + 1, elem);
}

/* Keep a copy of index entry @e (shlog_part_index_foreach callback). */
int sl_entries_add(const struct shlog_index_entry *e, void *arg)
{
	struct sl_entries *l = arg;
	struct shlog_index_entry *nv = sl_array_room(l->v, &l->cap, l->n, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n++] = *e;
	return 0;
}
