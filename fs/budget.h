/*
 * budget.h — the memory open handles hold for their users (budget.c).
 */
#ifndef SHLOGFS_BUDGET_H
#define SHLOGFS_BUDGET_H

#include "shlogfs.h"

/** Set the caps (bytes) of the budget. */
void shlogfs_budget_init(struct shlogfs_budget *b, uint64_t cap,
			 uint64_t per_user);
/** Free the budget's table. */
void shlogfs_budget_free(struct shlogfs_budget *b);
/** Charge @p n bytes to @p uid; -ENOBUFS (logged) past a cap, nothing charged. */
int shlogfs_budget_take(struct shlogfs *fs, uid_t uid, uint64_t n,
			const char *what);
/** Charge bytes already held (never refused; a failed table grow: not counted). */
void shlogfs_budget_force(struct shlogfs *fs, uid_t uid, uint64_t n);
/** Give back @p n bytes charged to @p uid. */
void shlogfs_budget_give(struct shlogfs *fs, uid_t uid, uint64_t n);
/** Make @p *held (charged to @p uid) @p want: take or give the difference. */
int shlogfs_budget_set(struct shlogfs *fs, uid_t uid, uint64_t *held,
		       uint64_t want, const char *what);
/** Bytes held by non-root users, for root, and takes refused (metrics). */
void shlogfs_budget_figures(struct shlogfs *fs, uint64_t *users,
			    uint64_t *root, uint64_t *refused);

#endif /* SHLOGFS_BUDGET_H */
