/*
 * node.h — the inode table (node.c).
 */
#ifndef SHLOGFS_NODE_H
#define SHLOGFS_NODE_H

#include "shlogfs.h"

/** Set up the node table with its root, of kind @p root. */
void shlogfs_nodes_init(struct shlogfs *fs, const struct shlogfs_kind *root);
/** Free every node (at exit). */
void shlogfs_nodes_free(struct shlogfs *fs);
/** The node of inode @p ino. */
struct shlogfs_node *shlogfs_node_of(struct shlogfs *fs, fuse_ino_t ino);
/** Inode number of @p n. */
fuse_ino_t shlogfs_node_ino(struct shlogfs *fs, struct shlogfs_node *n);
/** Find or make the node for a name in directory @p parent, counting one
 *  lookup; NULL: ENOMEM. */
struct shlogfs_node *shlogfs_node_intern(struct shlogfs *fs,
					 const struct shlogfs_name *nm,
					 fuse_ino_t parent);
/** The node of an inode number (fs->lock held), or NULL. */
struct shlogfs_node *shlogfs_node_find(struct shlogfs *fs, fuse_ino_t ino);
/** The linked node of a name (fs->lock held), or NULL. */
struct shlogfs_node *shlogfs_node_find_name(struct shlogfs *fs,
					    const struct shlogfs_name *nm);
/** Inode number of an existing node for a name, or 0 (readdir). */
fuse_ino_t shlogfs_node_peek(struct shlogfs *fs, const struct shlogfs_name *nm);
/** -o writeback: @p n, or a new node of its name if the kernel has its size wrong. */
struct shlogfs_node *shlogfs_node_settle(struct shlogfs *fs,
					 struct shlogfs_node *n, uint64_t size);
/** -o writeback: record the size a lookup reply gave the kernel. */
void shlogfs_node_sent(struct shlogfs *fs, struct shlogfs_node *n,
		       uint64_t size);
/** Drop @p n lookups of @p ino; frees the node at zero. */
void shlogfs_node_forget(struct shlogfs *fs, fuse_ino_t ino, uint64_t n);
/** Unlink every node of @p topic (after rmdir). */
void shlogfs_node_unlink_topic(struct shlogfs *fs, const char *topic);
/** -o writeback: the next lookup of this log gets a new node (wb.c). */
void shlogfs_node_unlink_node(struct shlogfs *fs, struct shlogfs_node *n);
/** Unlink every node of a name (after rm of a key). */
void shlogfs_node_unlink_name(struct shlogfs *fs, const struct shlogfs_name *nm);
/** Take a reference on the partition node @p n belongs to. */
int shlogfs_node_part(struct shlogfs *fs, struct shlogfs_node *n,
		      shlogfs_bpart **out);
/** While a handle holds a snapshot of @p n: 1 and its size; else 0. */
int shlogfs_node_snap_size(struct shlogfs *fs, struct shlogfs_node *n,
			   uint64_t *size);

#endif /* SHLOGFS_NODE_H */
