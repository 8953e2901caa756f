/*
 * budget.c — the memory open handles hold for their users.
 *
 * A handle can hold bytes for as long as its opener keeps it open: an
 * unfinished last line (up to max_message), a key value being written,
 * the text of a status file.  Without a bound, one user with many open
 * files could make the daemon as large as she likes.  So every such byte
 * is charged to the opener's uid: the bytes of all unprivileged users
 * together stay under -o max_held, and each user's under
 * -o max_held_per_user.  A charge past either cap is refused with
 * ENOBUFS at the call that asked for it (a write, an open), with a log
 * line (one a second at most); nothing else changes.  Root's bytes are counted (the metrics
 * show them) but never refused.  A charge is given back when the bytes
 * are freed (the line is finished, the handle released).
 */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "held_i.h"
#include "budget.h"
#include "log.h"

/* Set the caps of the budget. */
void shlogfs_budget_init(struct shlogfs_budget *b, uint64_t cap,
			 uint64_t per_user)
{
	pthread_mutex_init(&b->mu, NULL);
	b->cap = cap;
	b->per_user = per_user;
}

/* Free the per-user table. */
void shlogfs_budget_free(struct shlogfs_budget *b)
{
	free(b->users);
	b->users = NULL;
	b->nusers = b->cap_users = 0;
	pthread_mutex_destroy(&b->mu);
}

/* The table entry of @p uid (made if @p make); NULL if none or ENOMEM. */
static struct shlogfs_held *shlogfs_budget_user(struct shlogfs_budget *b,
						uid_t uid, int make)
{
	for (size_t i = 0; i < b->nusers; i++)
		if (b->users[i].uid == uid)
			return &b->users[i];
	if (!make)
		return NULL;
	if (b->nusers == b->cap_users) {
		size_t cap = b->cap_users ? 2 * b->cap_users : 8;
		struct shlogfs_held *u = realloc(b->users, cap * sizeof *u);
		if (!u)
			return NULL;
		b->users = u;
		b->cap_users = cap;
	}
	b->users[b->nusers] = (struct shlogfs_held){ .uid = uid };
	return &b->users[b->nusers++];
}

/* One refusal line a second at most (b->mu held): a user cannot flood the log. */
static int shlogfs_budget_may_log(struct shlogfs_budget *b)
{
	SL_HELD(&b->mu);
	time_t now = time(NULL);

	if (now == b->logged_at)
		return 0;
	b->logged_at = now;
	return 1;
}

/* Charge @p n bytes to @p uid, or refuse with -ENOBUFS past a cap. */
int shlogfs_budget_take(struct shlogfs *fs, uid_t uid, uint64_t n,
			const char *what)
{
	struct shlogfs_budget *b = &fs->budget;
	struct shlogfs_held *u;
	uint64_t mine = 0, all;
	int rc = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&b->mu);
	if (uid == 0) {
		b->root_used += n;
		pthread_mutex_unlock(&b->mu);
		return 0;
	}
	u = shlogfs_budget_user(b, uid, 1);
	if (u)
		mine = u->bytes;
	all = b->used;
	if (!u)
		rc = -ENOMEM;
	else if (mine + n > b->per_user || all + n > b->cap)
		rc = -ENOBUFS;
	if (rc == 0) {
		u->bytes += n;
		b->used += n;
	} else {
		b->refused++;
	}
	int say = rc == -ENOBUFS && shlogfs_budget_may_log(b);
	pthread_mutex_unlock(&b->mu);
	if (say)
		shlogfs_log(LOG_WARNING, "uid %u: %s of %llu bytes refused "
			    "(ENOBUFS): it holds %llu bytes, all users %llu; "
			    "caps max_held_per_user=%llu max_held=%llu (%llu "
			    "refusals so far)", (unsigned)uid, what,
			    (unsigned long long)n, (unsigned long long)mine,
			    (unsigned long long)all,
			    (unsigned long long)b->per_user,
			    (unsigned long long)b->cap,
			    (unsigned long long)b->refused);
	return rc;
}

/* Charge @p n bytes to @p uid whatever the caps (bytes already held). */
void shlogfs_budget_force(struct shlogfs *fs, uid_t uid, uint64_t n)
{
	struct shlogfs_budget *b = &fs->budget;
	struct shlogfs_held *u;

	pthread_mutex_lock(&b->mu);
	if (uid == 0) {
		b->root_used += n;
	} else if ((u = shlogfs_budget_user(b, uid, 1))) {
		u->bytes += n;
		b->used += n;
	}
	pthread_mutex_unlock(&b->mu);
}

/* Give back @p n bytes charged to @p uid. */
void shlogfs_budget_give(struct shlogfs *fs, uid_t uid, uint64_t n)
{
	struct shlogfs_budget *b = &fs->budget;
	struct shlogfs_held *u;

	if (n == 0)
		return;
	pthread_mutex_lock(&b->mu);
	if (uid == 0) {
		b->root_used -= n < b->root_used ? n : b->root_used;
	} else if ((u = shlogfs_budget_user(b, uid, 0))) {
		if (n > u->bytes)
			n = u->bytes;
		u->bytes -= n;
		b->used -= n;
		if (u->bytes == 0) /* keep the table as short as the holders */
			*u = b->users[--b->nusers];
	}
	pthread_mutex_unlock(&b->mu);
}

/* Make the charge @p *held of @p uid @p want bytes: take or give the change. */
int shlogfs_budget_set(struct shlogfs *fs, uid_t uid, uint64_t *held,
		       uint64_t want, const char *what)
{
	int rc = 0;

	if (want > *held)
		rc = shlogfs_budget_take(fs, uid, want - *held, what);
	else
		shlogfs_budget_give(fs, uid, *held - want);
	if (rc == 0)
		*held = want;
	return rc;
}

/* Bytes held for non-root users and for root; takes refused (metrics). */
void shlogfs_budget_figures(struct shlogfs *fs, uint64_t *users,
			    uint64_t *root, uint64_t *refused)
{
	struct shlogfs_budget *b = &fs->budget;

	pthread_mutex_lock(&b->mu);
	*users = b->used;
	*root = b->root_used;
	*refused = b->refused;
	pthread_mutex_unlock(&b->mu);
}
