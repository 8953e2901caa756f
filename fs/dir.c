/*
 * dir.c — the FUSE entry points of names: lookup, forget, readdir,
 * mkdir, rmdir, unlink, create, rename and the refusals, and of the
 * session (init, statfs).  Each asks the directory's kind (its resolve,
 * list, mkdir, rmdir, unlink, create, rename operations) and replies.
 *
 * Names that only change through this mount (topics, partitions, the
 * fixed files) are cached by the kernel for a second; at/<N>,
 * since/<time> and keys/<key> (leaf kinds) are looked up every time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>

#include "ll.h"
#include "handle.h"
#include "list.h"
#include "log.h"
#include "node.h"
#include "stat.h"

/* Entry timeout of names that only change through this mount. */
#define SHLOGFS_ENTRY_TIMEOUT 1.0

/* ==== entries ========================================================= */

/* Fill an entry for @p n (one lookup already counted). */
static int shlogfs_entry(struct shlogfs *fs, struct shlogfs_node *n,
			 fuse_req_t req, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	int rc = shlogfs_node_stat_req(fs, n, req, &e->attr);
	if (rc)
		return rc;
	e->ino = shlogfs_node_ino(fs, n);
	e->attr_timeout = shlogfs_timeout(fs, n);
	e->entry_timeout = n->kind->leaf || (fs->wb_on && n->kind->generated) ?
			   0.0 : SHLOGFS_ENTRY_TIMEOUT;
	return 0;
}

/* Intern the node of @p nm in @p d and reply with its entry (lookup, mkdir). */
static void shlogfs_reply_node(fuse_req_t req, struct shlogfs_node *d,
			       const struct shlogfs_name *nm)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct fuse_entry_param e;
	struct shlogfs_node *n;
	int rc;

	n = shlogfs_node_intern(fs, nm, shlogfs_node_ino(fs, d));
	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = shlogfs_entry(fs, n, req, &e);
	if (rc == 0 && fs->wb_on && nm->kind->generated) {
		/* the kernel keeps a cached inode's size: a new size, a new inode */
		struct shlogfs_node *m = shlogfs_node_settle(fs, n, (uint64_t)e.attr.st_size);
		if (m != n) {
			n = m;
			rc = shlogfs_entry(fs, n, req, &e);
		}
		if (rc == 0)
			shlogfs_node_sent(fs, n, (uint64_t)e.attr.st_size);
	}
	if (rc) {
		shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		shlogfs_node_forget(fs, e.ino, 1);
}

/* -ENAMETOOLONG for a name longer than the mount accepts (the kernel
 * does not check). */
static int shlogfs_name_check(const char *name)
{
	return strlen(name) > SHLOGFS_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* The directory @p parent if it is live and @p name not too long; else -errno. */
static int shlogfs_dir_of(struct shlogfs *fs, fuse_ino_t parent,
			  const char *name, struct shlogfs_node **d)
{
	int rc;

	*d = shlogfs_node_of(fs, parent);
	if ((rc = shlogfs_node_live(*d)))
		return rc;
	return shlogfs_name_check(name);
}

/* What @p name in @p d is (its kind's resolve; -ENOTDIR if not a directory). */
static int shlogfs_resolve(struct shlogfs *fs, struct shlogfs_node *d,
			   const char *name, struct shlogfs_name *out)
{
	if (!d->kind->resolve)
		return -ENOTDIR;
	return d->kind->resolve(fs, d, name, out);
}

/* ==== lookup ========================================================== */

/* lookup: find a name; long names are refused here (the kernel does not). */
void shlogfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d;
	struct shlogfs_name nm;
	int rc;

	if ((rc = shlogfs_name_check(name)) ||
	    (rc = shlogfs_dir_of(fs, parent, name, &d)) ||
	    (rc = shlogfs_resolve(fs, d, name, &nm))) {
		fuse_reply_err(req, -rc);
		return;
	}
	shlogfs_reply_node(req, d, &nm);
}

/* forget: the kernel dropped lookups of an inode. */
void shlogfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	shlogfs_node_forget(shlogfs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

/* forget_multi: many forgets in one request. */
void shlogfs_ll_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	struct shlogfs *fs = shlogfs_of(req);

	for (size_t i = 0; i < count; i++)
		shlogfs_node_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ==== readdir ========================================================= */

/* Fill a listing for directory node @p n: ".", "..", then its kind's. */
static int shlogfs_dir_fill(struct shlogfs *fs, struct shlogfs_node *n,
			    struct shlogfs_dir *d)
{
	if (shlogfs_dir_add(d, ".", 1, S_IFDIR) ||
	    shlogfs_dir_add(d, "..", 2, S_IFDIR))
		return -ENOMEM;
	if (!n->kind->list)
		return -ENOTDIR;
	return n->kind->list(fs, n, d);
}

/* opendir: take the listing now; readdir serves slices of it. */
void shlogfs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_dir *d = calloc(1, sizeof *d);
	int rc;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if ((rc = shlogfs_node_live(n)) || (rc = shlogfs_dir_fill(fs, n, d))) {
		shlogfs_dir_free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		shlogfs_dir_free(d);
}

/* Inode number to show for a listed name (known node, else unknown). */
static fuse_ino_t shlogfs_dir_ino(struct shlogfs *fs, struct shlogfs_node *n,
				  const char *name, size_t i)
{
	fuse_ino_t ino = 0;

	if (i == 0)
		return shlogfs_node_ino(fs, n);
	if (i == 1)
		return FUSE_ROOT_ID;
	if (n->kind->peek)
		ino = n->kind->peek(fs, n, name);
	return ino ? ino : 0xffffffff; /* FUSE_UNKNOWN_INO */
}

/* readdir: entries from @p off of the listing taken at opendir. */
void shlogfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_dir *d = (struct shlogfs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		const char *name = d->names.p + d->offs[i];
		struct stat st = { .st_mode = d->types[i] };
		st.st_ino = shlogfs_dir_ino(fs, n, name, i);
		size_t len = fuse_add_direntry(req, buf + used, size - used,
					       name, &st, (off_t)(i + 1));
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* releasedir: drop the listing. */
void shlogfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	(void)ino;
	shlogfs_dir_free((struct shlogfs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* fsyncdir: directories hold no data of their own here. */
void shlogfs_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* ==== mkdir, rmdir, unlink, create ==================================== */

/* mkdir: what the directory's kind makes (topics at the root, partitions
 * in a topic); nothing elsewhere. */
void shlogfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d;
	struct shlogfs_name made;
	int rc = shlogfs_name_check(name);

	if (rc == 0)
		rc = shlogfs_dir_of(fs, parent, name, &d);

	if (rc == 0)
		rc = d->kind->mkdir ? d->kind->mkdir(fs, req, d, name, mode, &made)
				    : -EPERM;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	shlogfs_reply_node(req, d, &made);
}

/* rmdir: what the directory's kind deletes (a topic, with all its data). */
void shlogfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d;
	int rc = shlogfs_dir_of(fs, parent, name, &d);

	if (rc == 0 && d->kind->rmdir)
		rc = d->kind->rmdir(fs, req, d, name);
	else if (rc == 0)
		rc = strcmp(name, "log") == 0 ? -ENOTDIR : -EPERM;
	fuse_reply_err(req, -rc);
}

/* unlink: what the directory's kind removes (keys/<key>); logs stay. */
void shlogfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d;
	int rc = shlogfs_dir_of(fs, parent, name, &d);

	if (rc == 0 && d->kind->unlink)
		rc = d->kind->unlink(fs, d, name);
	else if (rc == 0)
		rc = shlogfs_kind_is_dir(d->kind) ? -EPERM : -ENOTDIR;
	fuse_reply_err(req, -rc);
}

/* create: what the directory's kind makes (keys/<key>); any other new
 * file is refused. */
void shlogfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d;
	struct shlogfs_name nm;
	struct fuse_entry_param e;
	int rc = shlogfs_dir_of(fs, parent, name, &d);

	(void)mode;
	if (rc == 0 && d->kind->create)
		rc = d->kind->create(fs, req, d, name, fi, &e);
	else if (rc == 0)
		rc = shlogfs_resolve(fs, d, name, &nm) == 0 ? -EEXIST : -EPERM;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_create(req, &e, fi) != 0) {
		shlogfs_handle_drop(fs, shlogfs_fh(fi));
		shlogfs_node_forget(fs, e.ino, 1);
	}
}

/* Reply to a refused mknod, symlink, link or rename of @p name. */
static void shlogfs_refuse(fuse_req_t req, const char *name)
{
	int rc = shlogfs_name_check(name);

	fuse_reply_err(req, rc ? -rc : EPERM);
}

/* mknod: nothing here can be made so. */
void shlogfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)mode;
	(void)rdev;
	shlogfs_refuse(req, name);
}

/* symlink: refused. */
void shlogfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	(void)link;
	(void)parent;
	shlogfs_refuse(req, name);
}

/* link: refused. */
void shlogfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	(void)ino;
	(void)newparent;
	shlogfs_refuse(req, newname);
}

/* rename: what the directory's kind renames within itself (a restore
 * name over a partition's log); anything else is refused. */
void shlogfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d;
	int rc = shlogfs_name_check(name);

	if (rc == 0)
		rc = shlogfs_dir_of(fs, newparent, newname, &d);
	if (rc == 0 && (parent != newparent || !d->kind->rename))
		rc = -EPERM;
	if (rc == 0)
		rc = d->kind->rename(fs, d, name, newname, flags);
	fuse_reply_err(req, -rc);
}

/* ==== session ========================================================= */

/* statfs: the data dir's file system, with our name limit. */
void shlogfs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct statvfs sv;

	(void)ino;
	if (statvfs(fs->datadir, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = SHLOGFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/*
 * init: no writeback cache unless -o writeback (then wb.c assembles the
 * logs' bytes); O_TRUNC comes with open (without it the kernel sends a
 * setattr with no file handle after the open, and a key file could not
 * be rewritten).
 */
void shlogfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct shlogfs *fs = userdata;

	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs->wb_on = 1;
	} else if (fs->writeback) {
		shlogfs_log(LOG_WARNING, "the kernel has no writeback cache for "
			    "FUSE: -o writeback ignored");
	}
	/* a log's bytes never change: no page cache drop (and GETATTR
	 * before every read) on time changes; size changes still drop it */
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}
