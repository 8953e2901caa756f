/*
 * array_i.h — the one growable array of libshlog and shlogctl: an array
 * of @elem-byte elements, @n used of @cap allocated, doubled as it fills
 * (array.c).  The caller keeps v, n and cap in its own struct:
 *
 *     struct item *nv = sl_array_room(l->v, &l->cap, l->n, sizeof(*l->v));
 *     if (!nv)
 *             return -ENOMEM;
 *     l->v = nv;
 *     l->v[l->n++] = item;
 */
#ifndef SHLOG_ARRAY_I_H
#define SHLOG_ARRAY_I_H

#include <stddef.h>

#include "shlog.h"

/*
 * Room for one more element after the @n in @v: @v itself while it has
 * room, else @v moved into twice the room (16 elements at first; *@cap
 * updated).  NULL when out of memory or past SIZE_MAX bytes: @v is then
 * unchanged and still the caller's.
 */
void *sl_array_room(void *v, size_t *cap, size_t n, size_t elem);

/*
 * Room for @want elements in @v: as sl_array_room() (which is this with
 * @want = @n + 1), for a caller that adds several at once; the room is
 * doubled, or raised to @want if doubling is not enough.
 */
void *sl_array_reserve(void *v, size_t *cap, size_t want, size_t elem);

/* A partition's index entries, copied out: shlog_part_index_foreach(p, sl_entries_add, &l). */
struct sl_entries {
	struct shlog_index_entry *v;
	size_t n, cap;
};

/* Append a copy of @e to the struct sl_entries @arg: 0 or -ENOMEM (an index_foreach callback). */
int sl_entries_add(const struct shlog_index_entry *e, void *arg);

#endif
