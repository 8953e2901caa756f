/*
 * cursor.c — durable cursors: named positions of consumers in one
 * partition (shlog_cursor_*), kept in the partition's `cursors` file.
 *
 * The rule: a change returns 0 only once it is on disk (the slot written
 * and fdatasynced by writer.c), and a crash at any point leaves either
 * the old or the new table, never a mix.  The file holds two slots
 * (docs/FORMAT.md "Cursors", format.c has the bytes): every change
 * writes the whole table, with the next generation, into the slot the
 * generation's parity selects, so the slot holding the current table is
 * never written; the valid slot with the highest generation wins.
 *
 * In memory: the table, sorted by name, read from the file at the first
 * cursor call on the partition (not at open: a partition nobody consumes
 * costs nothing) and replaced by a new copy after each durable change.
 * What load does with values it does not trust: a file with no valid
 * slot is logged and taken as no cursors (consumers then read from the
 * first message again: at-least-once, nothing skipped); a cursor past the
 * log's end (the log lost unsynced messages in a power loss, or repair
 * cut it) is logged and moved back to the end.  A cursor below the first
 * retained message stays as it is; its reader starts at that message.
 *
 * Locks: curmu guards the table; it is taken before p->mu and the fd
 * budget's res.mu (a pin), never while holding them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_i.h"
#include "io_i.h"
#include "writer_i.h"

/* ================================================================ */
/* The file                                                          */
/* ================================================================ */

/* Read and check @dfd's cursors file through the validator (verify and compaction use it too). */
int sl_cursors_read(int dfd, struct sl_cursor **out, uint32_t *n, uint64_t *gen, const char **why)
{
	unsigned char *file = NULL;
	struct sl_cursor *c = NULL;
	struct stat st;
	int rc, fd = sl_io_open(dfd, SHLOG_CURSORS_NAME, O_RDONLY, 0, S_IFREG);

	if (fd < 0)
		return fd;
	rc = sl_io.fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (st.st_size < 0 || (uint64_t)st.st_size > SHLOG_CURSOR_FILE_MAX)) {
		*why = "cursors file: longer than two slots";
		rc = -EUCLEAN;
	}
	if (rc == 0 && (!(file = calloc(1, SHLOG_CURSOR_FILE_MAX)) ||
			!(c = calloc(SHLOG_CURSORS_MAX, sizeof(*c)))))
		rc = -ENOMEM;
	if (rc == 0)
		rc = sl_io_pread_full(fd, file, (size_t)st.st_size, 0);
	if (rc == 0)
		rc = sl_cursors_pick(file, (size_t)st.st_size, c, n, gen, why);
	sl_io.close(fd);
	free(file);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Free a partition's table (its last reference went). */
void sl_cursors_free(shlog_part *p)
{
	free(p->cur);
	p->cur = NULL;
	p->ncur = 0;
}

/* ================================================================ */
/* The table in memory                                               */
/* ================================================================ */

/* The partition's end and whether it was deleted, under its mu. */
static uint64_t part_end(shlog_part *p, int *deleted)
{
	uint64_t end;

	pthread_mutex_lock(&p->mu);
	end = p->end_seq;
	*deleted = p->deleted;
	pthread_mutex_unlock(&p->mu);
	return end;
}

/* Move cursors past @end back to it, with a log line each. */
static void clamp_past_end(shlog_part *p, uint64_t end)
{
	for (uint32_t i = 0; i < p->ncur; i++) {
		const char *why;
		if (sl_check_cursor_fit(&p->cur[i], end, &why) == 0)
			continue;
		sl_logf(p->s, SHLOG_WARNING, "%s: cursor %s at %llu: %s (%llu); moved back to the end",
			p->name, p->cur[i].name, (unsigned long long)p->cur[i].seq, why,
			(unsigned long long)end);
		p->cur[i].seq = end;
	}
}

/* Read the table from the file once (curmu held). */
static int cur_load(shlog_part *p)
{
	const char *why = "";
	int deleted, rc;
	uint64_t end;

	if (p->cur_loaded)
		return 0;
	if ((rc = sl_res_pin(p)) < 0)
		return rc;
	rc = sl_cursors_read(p->dfd, &p->cur, &p->ncur, &p->cur_gen, &why);
	sl_res_unpin(p);
	if (rc == -EUCLEAN)
		sl_logf(p->s, SHLOG_WARNING, "%s: %s: %s; its cursors are lost (their readers start at the "
			"first message again)", p->name, SHLOG_CURSORS_NAME, why);
	if (rc == -ENOENT || rc == -EUCLEAN) {
		p->cur = NULL, p->ncur = 0, p->cur_gen = 0;
		rc = 0;
	}
	if (rc < 0)
		return rc;
	end = part_end(p, &deleted);
	clamp_past_end(p, end);
	p->cur_loaded = 1;
	return 0;
}

/* Index of @name in the table, or where it would go (*found says which). */
static uint32_t cur_find(const shlog_part *p, const char *name, int *found)
{
	uint32_t lo = 0, hi = p->ncur;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->cur[mid].name, name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* Make table @c of @n cursors durable as the next generation, then take it (curmu held; frees @c on failure). */
static int cur_commit(shlog_part *p, struct sl_cursor *c, uint32_t n)
{
	unsigned char *img = malloc(SHLOG_CURSOR_SLOT_SIZE);
	size_t len;
	int rc;

	if (!img) {
		free(c);
		return -ENOMEM;
	}
	len = sl_cursors_encode(c, n, p->cur_gen + 1, img);
	rc = sl_res_pin(p);
	if (rc == 0) {
		rc = sl_writer_cursors_put(p->dfd, p->cur_gen + 1, img, len);
		sl_res_unpin(p);
	}
	free(img);
	if (rc < 0) {
		sl_logf(p->s, SHLOG_ERR, "%s: writing %s failed: %s (the cursors keep their previous values)",
			p->name, SHLOG_CURSORS_NAME, shlog_strerror(rc));
		free(c);
		return rc;
	}
	free(p->cur);
	p->cur = c;
	p->ncur = n;
	p->cur_gen++;
	return 0;
}

/* A copy of the table with room for one more (NULL: no memory). */
static struct sl_cursor *cur_copy(const shlog_part *p)
{
	struct sl_cursor *c = malloc(((size_t)p->ncur + 1) * sizeof(*c));

	if (c && p->ncur)
		memcpy(c, p->cur, (size_t)p->ncur * sizeof(*c));
	return c;
}

/* ================================================================ */
/* The API                                                           */
/* ================================================================ */

/* Enter a cursor call: name checked, curmu taken, the table loaded; 0 or -errno (curmu not held). */
static int cur_enter(shlog_part *p, const char *name, int write)
{
	int rc;

	if (name && shlog_cursor_name_check(name))
		return -EINVAL;
	if (write && p->s->o.read_only)
		return -EROFS;
	pthread_mutex_lock(&p->curmu);
	if ((rc = cur_load(p)) < 0)
		pthread_mutex_unlock(&p->curmu);
	return rc;
}

/* The committed position of one cursor. */
int shlog_cursor_get(shlog_part *p, const char *name, uint64_t *seq)
{
	int found, rc = cur_enter(p, name, 0);
	uint32_t i;

	if (rc < 0)
		return rc;
	i = cur_find(p, name, &found);
	if (found)
		*seq = p->cur[i].seq;
	pthread_mutex_unlock(&p->curmu);
	return found ? 0 : -ENOENT;
}

/* Set cursor @name to @seq in a new table and commit it (curmu held). */
static int cur_set_locked(shlog_part *p, const char *name, uint64_t seq, int flags)
{
	int found, deleted;
	uint32_t i = cur_find(p, name, &found);
	uint64_t end = part_end(p, &deleted);
	struct sl_cursor *c;

	if (deleted)
		return -ENOENT;
	if (!found && !(flags & SHLOG_CURSOR_CREATE))
		return -ENOENT;
	if (found && (flags & SHLOG_CURSOR_CREATE) && (flags & SHLOG_CURSOR_EXCL))
		return -EEXIST;
	if (seq > end)
		return -ERANGE;
	if (found && p->cur[i].seq == seq)
		return 0;
	if (!found && p->ncur >= SHLOG_CURSORS_MAX)
		return -ENOSPC;
	if (!(c = cur_copy(p)))
		return -ENOMEM;
	if (!found) {
		memmove(&c[i + 1], &c[i], (size_t)(p->ncur - i) * sizeof(*c));
		strcpy(c[i].name, name);
	}
	c[i].seq = seq;
	return cur_commit(p, c, p->ncur + !found);
}

/* Make or move a cursor, durably. */
int shlog_cursor_set(shlog_part *p, const char *name, uint64_t seq, int flags)
{
	int rc = cur_enter(p, name, 1);

	if (rc < 0)
		return rc;
	rc = cur_set_locked(p, name, seq, flags);
	pthread_mutex_unlock(&p->curmu);
	return rc;
}

/* Delete a cursor, durably. */
int shlog_cursor_delete(shlog_part *p, const char *name)
{
	int found, rc = cur_enter(p, name, 1);
	struct sl_cursor *c;
	uint32_t i;

	if (rc < 0)
		return rc;
	i = cur_find(p, name, &found);
	if (!found)
		rc = -ENOENT;
	else if (!(c = cur_copy(p)))
		rc = -ENOMEM;
	else {
		memmove(&c[i], &c[i + 1], (size_t)(p->ncur - i - 1) * sizeof(*c));
		rc = cur_commit(p, c, p->ncur - 1);
	}
	pthread_mutex_unlock(&p->curmu);
	return rc;
}

/* Call @fn for each cursor of a copy of the table (no lock held while it runs). */
int shlog_cursor_foreach(shlog_part *p, int (*fn)(const char *name, uint64_t seq, void *arg), void *arg)
{
	int rc = cur_enter(p, NULL, 0);
	struct sl_cursor *c;
	uint32_t n;

	if (rc < 0)
		return rc;
	n = p->ncur;
	c = cur_copy(p);
	pthread_mutex_unlock(&p->curmu);
	if (!c)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = fn(c[i].name, c[i].seq, arg);
	free(c);
	return rc;
}
