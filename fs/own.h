/*
 * own.h — who owns a new directory, and the per-user limits on what one
 * user may own (own.c; mkdir of a topic or a partition).
 */
#ifndef SHLOGFS_OWN_H
#define SHLOGFS_OWN_H

#include "shlogfs.h"

/** Give a new directory (@p part < 0: a topic) the caller's mode and
 *  ownership (setgid parent: its group and the bit are inherited). */
void shlogfs_dir_adopt(struct shlogfs *fs, fuse_req_t req, const char *topic,
		       int64_t part, mode_t mode);
/** -EDQUOT (logged) if @p uid would own more than a per-user limit allows
 *  with @p topics topics and @p parts partitions more (fs->mk_lock held). */
int shlogfs_quota_check(struct shlogfs *fs, uid_t uid, uint32_t topics,
			uint32_t parts);

#endif /* SHLOGFS_OWN_H */
