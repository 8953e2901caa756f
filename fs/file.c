/*
 * file.c — the FUSE entry points of open files: open, read, write,
 * flush, release, fsync, poll, fallocate.  open makes a handle (handle.c) and
 * lets the node's kind set it up; the others call through the kind of
 * the handle's node.
 */
#include <errno.h>
#include <poll.h>

#include "ll.h"
#include "cred.h"
#include "handle.h"
#include "node.h"
#include "pcache.h"
#include "wb.h"

/* open: a handle per open file, set up by its node's kind. */
void shlogfs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_cred c;
	int rc;

	if (shlogfs_node_live(n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	shlogfs_cred_get(req, &c);
	if ((rc = shlogfs_handle_open(fs, n, &c, fi))) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_open(req, fi) != 0)
		shlogfs_handle_drop(fs, shlogfs_fh(fi));
}

/* read: any offset; a short read means the end of the file.  A read for
 * the kernel's page cache gets exact bytes or EIO (pcache.c). */
void shlogfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);

	(void)ino;
	__atomic_store_n(&h->rd_at, (uint64_t)off, __ATOMIC_RELAXED);
	__atomic_store_n(&h->rd_flags, fi->flags, __ATOMIC_RELAXED);
	if (!shlogfs_pc_reply(req, h, fi, (uint64_t)off, size))
		h->node->kind->read(req, h, size, (uint64_t)off);
}

/* write: lines to a log, or a key's value. */
void shlogfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_handle *h = shlogfs_fh(fi);
	const struct shlogfs_kind *k = h->node->kind;
	struct shlogfs_wb_fix fix = { 0 };
	ssize_t rc;

	rc = k->write ? k->write(fs, h, buf, size, (uint64_t)off, fi->flags, &fix)
		      : -EBADF;
	if (rc < 0)
		fuse_reply_err(req, (int)-rc);
	else
		fuse_reply_write(req, (size_t)rc);
	shlogfs_wb_fix_apply(fs, ino, &fix); /* after the reply: h may be gone */
}

/*
 * flush (every close() of a descriptor): the kind's flush (a key value is
 * committed, so close() reports its errors and a read right after sees
 * it).  An unfinished log line waits for release: shells close
 * duplicates of a descriptor around every builtin (`printf x >&3`), and
 * a line must not be cut at those.
 */
void shlogfs_ll_flush(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);
	int rc;

	h->closer = fuse_req_ctx(req)->pid;
	rc = h->node->kind->flush ? h->node->kind->flush(h) : 0;
	if (rc == 0 && h->writer && shlogfs_be->close_waits && h->node->kind->fsync)
		rc = h->node->kind->fsync(h);
	(void)ino;
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* release (last close): finish and free the handle. */
void shlogfs_ll_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	(void)ino;
	shlogfs_handle_drop(shlogfs_of(req), shlogfs_fh(fi));
	fuse_reply_err(req, 0);
}

/* fsync/fdatasync: everything written before is durable on return. */
void shlogfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);
	int rc = h->node->kind->fsync ? h->node->kind->fsync(h) : 0;

	(void)ino;
	(void)datasync;
	fuse_reply_err(req, rc < 0 ? -rc : 0);
}

/* poll: through the kind (follow files, logs: follow.c); any other file
 * is always ready, as on a local file system. */
void shlogfs_ll_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph)
{
	struct shlogfs_handle *h = shlogfs_fh(fi);

	(void)ino;
	if (h->node->kind->poll) {
		h->node->kind->poll(req, h, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
}

/* retrieve_reply: the kernel's cached bytes a retrieve asked for (wb.c); no reply. */
void shlogfs_ll_retrieve_reply(fuse_req_t req, void *cookie, fuse_ino_t ino,
			       off_t offset, struct fuse_bufvec *bufv)
{
	struct shlogfs *fs = shlogfs_of(req);

	fuse_reply_none(req);
	if (offset >= 0)
		shlogfs_wb_retrieved(fs, ino, (uint64_t)(uintptr_t)cookie, (uint64_t)offset, bufv);
}

/* fallocate: logs only grow by appending (EPERM, like other refusals). */
void shlogfs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)off;
	(void)len;
	(void)fi;
	fuse_reply_err(req, EPERM);
}
