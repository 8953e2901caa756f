/*
 * cred.c — who made a request, and the permission checks the daemon
 * makes itself.
 *
 * With allow_other the kernel checks every path (default_permissions),
 * but some operations reach objects the path does not name: <topic>/log
 * reads and writes every partition, rmdir of a topic deletes them all,
 * /.metrics and /.status describe them.  The daemon checks those itself,
 * here, with the rules the kernel applies to a path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cred.h"

/* The caller of @p req; supplementary groups from /proc (none if unreadable). */
void shlogfs_cred_get(fuse_req_t req, struct shlogfs_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	c->uid = ctx->uid;
	c->gid = ctx->gid;
	c->ngroups = 0;
	if (c->uid == 0)
		return; /* root passes every check: no need to look */
	n = fuse_req_getgroups(req, SHLOGFS_GROUPS_MAX, c->groups);
	/* more groups than fit: the first ones only (less access, never more) */
	c->ngroups = n < 0 ? 0 : n > SHLOGFS_GROUPS_MAX ? SHLOGFS_GROUPS_MAX : n;
}

/* Is @p gid the caller's group or one of its supplementary groups? */
static int shlogfs_cred_in_group(const struct shlogfs_cred *c, gid_t gid)
{
	if (c->gid == gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

/* May @p c access @p st for @p mask?  The owner, group, other classes. */
static int shlogfs_access(const struct shlogfs_cred *c, const struct stat *st,
			  int mask)
{
	mode_t bits;

	if (c->uid == 0) /* as the kernel: root may do all but execute none */
		return !(mask & X_OK) || S_ISDIR(st->st_mode) ||
		       (st->st_mode & 0111) ? 0 : -EACCES;
	if (c->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (shlogfs_cred_in_group(c, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return ((mode_t)mask & ~bits & 7) ? -EACCES : 0;
}

/* May @p c reach <topic>/<part>/log and open it for @p mask? */
int shlogfs_access_part(struct shlogfs *fs, const struct shlogfs_cred *c,
			const char *topic, uint32_t part, int mask)
{
	struct stat st;
	int rc;

	if (c->uid == 0)
		return 0;
	if ((rc = shlogfs_dir_stat(fs->store, topic, -1, &st)) ||
	    (rc = shlogfs_access(c, &st, X_OK)) ||
	    (rc = shlogfs_dir_stat(fs->store, topic, part, &st)) ||
	    (rc = shlogfs_access(c, &st, X_OK)))
		return rc;
	/* the log's bits are its directory's, less execute (kind_mode) */
	return shlogfs_access(c, &st, mask & (R_OK | W_OK));
}

/* May @p c open every one of the @p np partition logs of @p topic for @p mask? */
int shlogfs_access_parts(struct shlogfs *fs, const struct shlogfs_cred *c,
			 const char *topic, uint32_t np, int mask,
			 uint32_t *refused)
{
	for (uint32_t i = 0; i < np; i++) {
		int rc = shlogfs_access_part(fs, c, topic, i, mask);
		if (rc) {
			if (refused)
				*refused = i;
			return rc;
		}
	}
	return 0;
}

/* The kernel's PF_EXITING task flag (include/linux/sched.h). */
#define SHLOGFS_PF_EXITING 0x4u

/*
 * Is thread @p pid exiting (its descriptors being closed by exit, kill -9
 * or a crash, not by close())?  Field 9 of /proc/<pid>/stat, the task's
 * flags; a thread that cannot be looked at counts as exiting.
 */
int shlogfs_pid_exiting(pid_t pid)
{
	char path[32], buf[512], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd, field;

	if (pid <= 0)
		return 1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return 1;
	/* after "pid (comm)": state is field 3, flags field 9 */
	for (field = 2, p++; *p && field < 9; p++)
		if (*p == ' ')
			field++;
	if (field != 9)
		return 1;
	flags = strtoul(p, NULL, 10);
	return (flags & SHLOGFS_PF_EXITING) != 0;
}
