/*
 * ll.h — the FUSE entry points (attr.c, dir.c, file.c), wired 1:1 into
 * the operations table by main.c.  Each finds the node (or the open
 * file) of its request and calls through its kind's table.
 */
#ifndef SHLOGFS_LL_H
#define SHLOGFS_LL_H

#include "shlogfs.h"

/* attr.c */
void shlogfs_ll_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void shlogfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi);

/* dir.c */
void shlogfs_ll_init(void *userdata, struct fuse_conn_info *conn);
void shlogfs_ll_statfs(fuse_req_t req, fuse_ino_t ino);
void shlogfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void shlogfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void shlogfs_ll_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets);
void shlogfs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void shlogfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi);
void shlogfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi);
void shlogfs_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi);
void shlogfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode);
void shlogfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void shlogfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void shlogfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi);
void shlogfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev);
void shlogfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name);
void shlogfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname);
void shlogfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags);

/* file.c */
void shlogfs_ll_open(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi);
void shlogfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void shlogfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi);
void shlogfs_ll_flush(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void shlogfs_ll_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void shlogfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi);
void shlogfs_ll_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph);
void shlogfs_ll_retrieve_reply(fuse_req_t req, void *cookie, fuse_ino_t ino,
			       off_t offset, struct fuse_bufvec *bufv);
void shlogfs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t off, off_t len, struct fuse_file_info *fi);

#endif /* SHLOGFS_LL_H */
