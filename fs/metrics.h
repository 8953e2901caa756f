/*
 * metrics.h — the texts of the root files /.metrics and /.status
 * (metrics.c), as one set of credentials may see them.
 */
#ifndef SHLOGFS_METRICS_H
#define SHLOGFS_METRICS_H

#include "shlogfs.h"

/** The text of /.metrics as @p c may see it (@p out emptied first). */
int shlogfs_metrics_make(struct shlogfs *fs, const struct shlogfs_cred *c,
			 struct shlogfs_buf *out);
/** The text of /.status as @p c may see it (@p out emptied first). */
int shlogfs_status_make(struct shlogfs *fs, const struct shlogfs_cred *c,
			struct shlogfs_buf *out);

#endif /* SHLOGFS_METRICS_H */
