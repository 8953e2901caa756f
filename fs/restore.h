/*
 * restore.h — what a restore into the mount leaves in the daemon's
 * memory (restore.c): partitions whose empty log was unlinked or that
 * are hidden, the restore names made in partition directories, and log times set by
 * utimens.
 */
#ifndef SHLOGFS_RESTORE_H
#define SHLOGFS_RESTORE_H

#include <time.h>

#include "shlogfs.h"

/** Restore names one partition may hold at a time. */
#define SHLOGFS_RESTORE_PER_PART 8
/** Restore names one unprivileged user may hold at a time. */
#define SHLOGFS_RESTORE_PER_USER 64

/** Set up the (empty) table. */
void shlogfs_restore_init(struct shlogfs *fs);
/** Free the table (at exit). */
void shlogfs_restore_free(struct shlogfs *fs);

/** Flags of a partition (restore.c): its log is gone, it is hidden. */
enum shlogfs_rflag { SHLOGFS_RF_GONE, SHLOGFS_RF_HIDDEN };

/** 1 if partition (@p topic, @p part) has flag @p f. */
int shlogfs_restore_flag(struct shlogfs *fs, enum shlogfs_rflag f,
			 const char *topic, uint32_t part);
/** Give partition (@p topic, @p part) flag @p f (0 or -ENOMEM). */
int shlogfs_restore_flag_set(struct shlogfs *fs, enum shlogfs_rflag f,
			     const char *topic, uint32_t part);
/** Take flag @p f from partition (@p topic, @p part). */
void shlogfs_restore_flag_clear(struct shlogfs *fs, enum shlogfs_rflag f,
				const char *topic, uint32_t part);

/** The log size of partition (@p topic, @p part); 0 on an error. */
uint64_t shlogfs_restore_part_size(struct shlogfs *fs, const char *topic,
				   uint32_t part);
/** 1 if the partition has flag @p f and its log is still empty (a
 *  message clears the flag). */
int shlogfs_restore_flag_empty(struct shlogfs *fs, enum shlogfs_rflag f,
			       const char *topic, uint32_t part);

/** Add restore name @p name of @p uid: 0, -EEXIST, -EDQUOT, -ENOMEM. */
int shlogfs_restore_name_add(struct shlogfs *fs, const char *topic,
			     uint32_t part, const char *name, uid_t uid);
/** 0 if @p name is a restore name of the partition, else -ENOENT. */
int shlogfs_restore_name_has(struct shlogfs *fs, const char *topic,
			     uint32_t part, const char *name);
/** Drop restore name @p name: 0, or -ENOENT. */
int shlogfs_restore_name_drop(struct shlogfs *fs, const char *topic,
			      uint32_t part, const char *name);
/** How far from 0 the restore name @p name has been written (or 0). */
uint64_t shlogfs_restore_name_pos(struct shlogfs *fs, const char *topic,
				  uint32_t part, const char *name);
/** Record that restore name @p name is written up to @p pos. */
void shlogfs_restore_name_reach(struct shlogfs *fs, const char *topic,
				uint32_t part, const char *name, uint64_t pos);

/** Show @p mtime as the log's mtime while its size stays @p size. */
int shlogfs_restore_set_time(struct shlogfs *fs, const char *topic,
			     uint32_t part, const struct timespec *mtime,
			     uint64_t size);
/** Put a set mtime into @p st if the log still has the size it had then. */
void shlogfs_restore_time(struct shlogfs *fs, const char *topic,
			  uint32_t part, struct stat *st);

/** Note that a restore appended bytes [@p lo, @p hi) of the partition's log. */
void shlogfs_restore_span_add(struct shlogfs *fs, const char *topic,
			      uint32_t part, uint64_t lo, uint64_t hi);
/** 1 if byte @p off of the partition's log was appended by a restore. */
int shlogfs_restore_span_has(struct shlogfs *fs, const char *topic,
			     uint32_t part, uint64_t off);

/** Forget everything of @p topic (a topic or partition made anew). */
void shlogfs_restore_forget(struct shlogfs *fs, const char *topic);

#endif /* SHLOGFS_RESTORE_H */
