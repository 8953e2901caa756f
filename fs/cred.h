/*
 * cred.h — who made a request, and the permission checks the daemon
 * makes itself (cred.c).
 */
#ifndef SHLOGFS_CRED_H
#define SHLOGFS_CRED_H

#include "shlogfs.h"

/** Supplementary groups of a caller the daemon looks at (more: ignored). */
#define SHLOGFS_GROUPS_MAX 256

/** Who made a request: the checks the daemon makes itself use it. */
struct shlogfs_cred {
	uid_t uid;
	gid_t gid;
	int ngroups;                       /**< entries of groups[] */
	gid_t groups[SHLOGFS_GROUPS_MAX];  /**< supplementary groups */
};

/** The caller of @p req (no supplementary groups if they cannot be read). */
void shlogfs_cred_get(fuse_req_t req, struct shlogfs_cred *c);
/** 0 if @p c may search topic @p topic and open <topic>/<part>/log for
 *  @p mask (the checks a path through the topic's directories gets). */
int shlogfs_access_part(struct shlogfs *fs, const struct shlogfs_cred *c,
			const char *topic, uint32_t part, int mask);
/** May @p c open all @p np partition logs of @p topic for @p mask?  0, or
 *  -errno with the first refused partition in @p refused (if not NULL). */
int shlogfs_access_parts(struct shlogfs *fs, const struct shlogfs_cred *c,
			 const char *topic, uint32_t np, int mask,
			 uint32_t *refused);

/** Is thread @p pid exiting (exit, a signal, a crash)?  1 also when it
 *  cannot be looked at. */
int shlogfs_pid_exiting(pid_t pid);

#endif /* SHLOGFS_CRED_H */
