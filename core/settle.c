/*
 * settle.c — the open-time step that settles a compaction a crash
 * interrupted (sl_compact_settle), for every writable open of the store
 * (store.c) and for compaction before it starts (compact.c).  It sits
 * below the store so that opening a store never calls the admin tools.
 *
 * Compaction (compact.c) builds the copy of partition N in
 * "<topic>/.compact-N-<16 random hex>.new", swaps it in with
 * renameat2(RENAME_EXCHANGE), or on a file system without it in two
 * steps (N to ".compact-N-<same hex>.old", the copy to N), then removes
 * the old tree.  Whatever a crash leaves is decided per partition N from
 * what is there (".compact-N.new" and ".compact-N.old", the names of
 * older versions, are settled the same way):
 *
 *   N present            N is whole (old or new): remove every .new/.old
 *   no N, one .new       between the two-step renames: rename it to N
 *   no N, no .new, one .old  cannot happen by the order above; restore it
 *
 * An entry with a compaction's name that is not a directory was not made
 * by us: it is unlinked (never followed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "array_i.h"
#include "engine_i.h"
#include "io_i.h"
#include "names_i.h"

/* ================================================================ */
/* Settling an interrupted swap                                      */
/* ================================================================ */

/* One name of a compaction's temporary tree found in a topic directory. */
struct cname {
	uint32_t num;
	int old;          /* ".old" (else ".new") */
	int dir;          /* a real directory (not a symlink or file) */
	char name[48];
};

/* The compaction entries of one topic directory. */
struct cnames {
	struct cname *v;
	size_t n, cap;
};

/* Parse a compaction's temporary name (names.c) into @c; 1 if it is one. */
static int compact_name(const char *name, struct cname *c)
{
	size_t n = strlen(name);

	if (n >= sizeof(c->name) || !sl_name_parse_compact(name, &c->num, &c->old))
		return 0;
	memcpy(c->name, name, n + 1);
	return 1;
}

/* Collect one compaction entry (sl_io_dir_foreach callback). */
static int collect_cname(const char *name, unsigned char d_type, void *arg)
{
	struct cnames *l = arg;
	struct cname c, *nv;

	(void)d_type;
	if (!compact_name(name, &c))
		return 0;
	nv = sl_array_room(l->v, &l->cap, l->n, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n++] = c;
	return 0;
}

/* What @name in @dfd is, without following it: 0 absent, 1 a directory, 2 anything else. */
static int kind_at(int dfd, const char *name)
{
	struct stat sb;

	if (sl_io.fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return S_ISDIR(sb.st_mode) ? 1 : 2;
}

/* Remove a compaction entry: a tree if it is our directory, else just the name. */
static int remove_cname(shlog_store *s, int tdfd, const char *topic, const struct cname *c)
{
	if (c->dir)
		return sl_rmtree_at(tdfd, c->name);
	sl_logf(s, SHLOG_WARNING, "%s/%s: not a directory (not made by a compaction); removing the name",
		   topic, c->name);
	return sl_io.unlinkat(tdfd, c->name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* Rename the temporary tree @c to partition @part (finish or restore). */
static int rename_cname(int tdfd, const struct cname *c, const char *part)
{
	return sl_io.renameat(tdfd, c->name, tdfd, part) < 0 ? -errno : 0;
}

/* The candidates of one partition: its real .new and .old directories (the last of each, and how many). */
struct cpick {
	const struct cname *nw, *old;
	size_t news, olds;
};

/* Mark which of @v[0..n) are real directories and count the .new and .old ones. */
static void pick_candidates(int tdfd, struct cname *v, size_t n, struct cpick *c)
{
	*c = (struct cpick){ 0 };
	for (size_t i = 0; i < n; i++) {
		v[i].dir = kind_at(tdfd, v[i].name) == 1;
		if (!v[i].dir)
			continue;
		if (v[i].old)
			c->old = &v[i], c->olds++;
		else
			c->nw = &v[i], c->news++;
	}
}

/*
 * Decide partition @num (named @part) from its candidates (the table at
 * the top): rename the one that becomes the partition, leaving in @c the
 * one kept (the rest is removed by the caller).  0, -EUCLEAN when it
 * cannot tell, or the rename's -errno.
 */
static int settle_decide(shlog_store *s, int tdfd, const char *topic, uint32_t num, const char *part,
			 struct cpick *c)
{
	if (kind_at(tdfd, part)) {
		sl_logf(s, SHLOG_NOTICE, "%s/%u: removing what an interrupted compaction left beside the partition",
			topic, num);
		c->nw = c->old = NULL;
		return 0;
	}
	if (c->news > 1 || (c->news == 0 && c->olds > 1)) {
		sl_logf(s, SHLOG_ERR, "%s/%u: partition missing beside %zu compaction copies; not guessing which "
			"is right (move one to %u by hand)", topic, num, c->news + c->olds, num);
		return -EUCLEAN;
	}
	if (c->nw) {
		sl_logf(s, SHLOG_NOTICE, "%s/%u: finishing an interrupted compaction (swapping the new copy in)",
			topic, num);
		c->old = NULL;
		return rename_cname(tdfd, c->nw, part);
	}
	if (c->old) {
		sl_logf(s, SHLOG_WARNING, "%s/%u: partition missing beside a compaction's old copy; restoring it",
			topic, num);
		return rename_cname(tdfd, c->old, part);
	}
	return 0;
}

/* Settle partition @num from its entries @v[0..n): see the table at the top. */
static int settle_one(shlog_store *s, int tdfd, const char *topic, uint32_t num, struct cname *v, size_t n)
{
	char part[SHLOG_PART_NAME_CAP];
	struct cpick c;
	int rc;

	sl_name_part(part, sizeof(part), num);
	pick_candidates(tdfd, v, n, &c);
	rc = settle_decide(s, tdfd, topic, num, part, &c);
	if (rc == -EUCLEAN)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (&v[i] != c.nw && &v[i] != c.old)
			rc = remove_cname(s, tdfd, topic, &v[i]);
	if (rc == 0)
		rc = sl_fsync_dir(tdfd);
	if (rc < 0)
		sl_logf(s, SHLOG_ERR, "%s/%u: cannot settle an interrupted compaction: %s", topic, num,
			strerror(-rc));
	return rc;
}

/* Order compaction entries by partition (qsort). */
static int cname_cmp(const void *a, const void *b)
{
	const struct cname *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

/* Settle every interrupted compaction in topic directory @tdfd (engine_i.h), partition by partition. */
int sl_compact_settle(shlog_store *s, int tdfd, const char *topic)
{
	struct cnames l = { 0 };
	int rc = sl_io_dir_foreach(tdfd, collect_cname, &l);

	if (rc == 0 && l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cname_cmp);
	for (size_t i = 0, k; rc == 0 && i < l.n; i = k) {
		for (k = i + 1; k < l.n && l.v[k].num == l.v[i].num; k++)
			;
		rc = settle_one(s, tdfd, topic, l.v[i].num, l.v + i, k - i);
	}
	free(l.v);
	return rc;
}
