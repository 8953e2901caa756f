/*
 * node.c — the inode table of shlogfs.
 *
 * Nodes are interned by name (kind, topic, partition, leaf) so that
 * every lookup of one name returns one inode and counts its lookups;
 * the last forget frees it.  Inode numbers come from a counter (the
 * root is FUSE_ROOT_ID, 1) and are never reused while the daemon runs,
 * so a number the kernel still holds always means the node it was given
 * for; a second table finds the node of a number.  (Numbers were the
 * nodes' addresses once: every user could read the daemon's memory
 * layout in st_ino.)  rmdir and rm unlink nodes from the name table (to
 * a list, freed at their forget or at
 * exit): a later lookup of that name gets a new node.  With -o writeback
 * the kernel keeps a cached inode's size, so a lookup of a generated
 * file (status files, at/, since/, keys/, <topic>/log, the root files)
 * whose size changed since the kernel got its inode gets a new node of
 * the same name, told apart by its generation; the kernel then drops
 * the old inode.  Until the size changes, lookups keep the node (cp
 * checks that the file it opened is the one it stat'ed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "held_i.h"
#include "node.h"

/* Order nodes by kind (its table's address), partition, topic and leaf name. */
static int shlogfs_node_cmp(const struct shlogfs_node *a,
			    const struct shlogfs_node *b)
{
	if (a->kind != b->kind)
		return (uintptr_t)a->kind < (uintptr_t)b->kind ? -1 : 1;
	if (a->part != b->part)
		return a->part < b->part ? -1 : 1;
	int c = strcmp(a->topic, b->topic);
	if (c)
		return c;
	if (a->nlen != b->nlen)
		return a->nlen < b->nlen ? -1 : 1;
	c = memcmp(a->name, b->name, a->nlen);
	if (c)
		return c;
	return a->gen < b->gen ? -1 : a->gen > b->gen;
}

/* Do two nodes have the same name (any generation)? */
static int shlogfs_node_same_name(const struct shlogfs_node *a,
				  const struct shlogfs_node *b)
{
	return a->kind == b->kind && a->part == b->part &&
	       strcmp(a->topic, b->topic) == 0 && a->nlen == b->nlen &&
	       memcmp(a->name, b->name, a->nlen) == 0;
}

/* The trees' functions are this file's only (libbsd's RB_GENERATE_STATIC
 * spells its attribute __unused, which glibc does not define). */
#define SHLOGFS_RB_STATIC static __attribute__((unused))
RB_GENERATE_INTERNAL(shlogfs_node_tree, shlogfs_node, by_key, shlogfs_node_cmp,
		     SHLOGFS_RB_STATIC)

/* Order nodes by inode number. */
static int shlogfs_node_ino_cmp(const struct shlogfs_node *a,
				const struct shlogfs_node *b)
{
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

RB_GENERATE_INTERNAL(shlogfs_ino_tree, shlogfs_node, by_ino,
		     shlogfs_node_ino_cmp, SHLOGFS_RB_STATIC)

/*
 * What an inode number the daemon never gave (or already freed) finds:
 * a removed file, so every operation on it fails with ENOENT.  The
 * kernel sends only numbers it holds; this keeps a bug from a crash.
 */
static const struct shlogfs_kind shlogfs_kind_none = {
	.name = "(none)",
	.type = S_IFREG,
	.generated = 1,
};
static struct shlogfs_node shlogfs_node_none = {
	.kind = &shlogfs_kind_none,
	.topic = (char *)"",
	.name = (char *)"",
	.linked = 0,
};

/* Set up the empty table and the root node (of kind @p root). */
void shlogfs_nodes_init(struct shlogfs *fs, const struct shlogfs_kind *root)
{
	RB_INIT(&fs->nodes);
	RB_INIT(&fs->inos);
	fs->next_ino = FUSE_ROOT_ID + 1;
	LIST_INIT(&fs->unlinked);
	memset(&fs->root, 0, sizeof fs->root);
	fs->root.kind = root;
	fs->root.topic = (char *)"";
	fs->root.name = (char *)"";
	fs->root.ino = FUSE_ROOT_ID;
	fs->root.nlookup = 1;
	fs->root.linked = 1;
}

/* Free one node's memory (and its kind's state of it). */
static void shlogfs_node_destroy(struct shlogfs_node *n)
{
	if (n->kind->forget)
		n->kind->forget(n);
	free(n->topic);
	free(n->name);
	free(n);
}

/* Free every node the kernel still held at unmount. */
void shlogfs_nodes_free(struct shlogfs *fs)
{
	struct shlogfs_node *n, *next;

	RB_FOREACH_SAFE(n, shlogfs_node_tree, &fs->nodes, next) {
		RB_REMOVE(shlogfs_node_tree, &fs->nodes, n);
		RB_REMOVE(shlogfs_ino_tree, &fs->inos, n);
		shlogfs_node_destroy(n);
	}
	while ((n = LIST_FIRST(&fs->unlinked))) {
		LIST_REMOVE(n, gone);
		RB_REMOVE(shlogfs_ino_tree, &fs->inos, n);
		shlogfs_node_destroy(n);
	}
}

/* Move a node from the name table to the unlinked list (fs->lock held). */
static void shlogfs_node_unlink(struct shlogfs *fs, struct shlogfs_node *n)
{
	SL_HELD(&fs->lock);
	RB_REMOVE(shlogfs_node_tree, &fs->nodes, n);
	LIST_INSERT_HEAD(&fs->unlinked, n, gone);
	__atomic_store_n(&n->linked, 0, __ATOMIC_RELAXED);
}

/* The node of inode number @p ino (fs->lock held), or NULL. */
static struct shlogfs_node *shlogfs_node_find_ino(struct shlogfs *fs,
						  fuse_ino_t ino)
{
	SL_HELD(&fs->lock);
	struct shlogfs_node key = { .ino = ino };

	return RB_FIND(shlogfs_ino_tree, &fs->inos, &key);
}

/* The node behind an inode number the kernel sent. */
struct shlogfs_node *shlogfs_node_of(struct shlogfs *fs, fuse_ino_t ino)
{
	struct shlogfs_node *n;

	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	pthread_mutex_lock(&fs->lock);
	n = shlogfs_node_find_ino(fs, ino);
	pthread_mutex_unlock(&fs->lock);
	return n ? n : &shlogfs_node_none;
}

/* The inode number to give the kernel for @p n. */
fuse_ino_t shlogfs_node_ino(struct shlogfs *fs, struct shlogfs_node *n)
{
	(void)fs;
	return n->ino;
}

/* Fill a search key on the stack (no allocation). */
static void shlogfs_node_key(struct shlogfs_node *k,
			     const struct shlogfs_kind *kind,
			     const char *topic, uint32_t part,
			     const char *name)
{
	k->kind = kind;
	k->part = part;
	k->topic = (char *)(topic ? topic : "");
	k->name = (char *)(name ? name : "");
	k->nlen = strlen(k->name);
	k->gen = 0;
}

/* A new node for a name (fs->lock held), one lookup counted; NULL: ENOMEM. */
static struct shlogfs_node *shlogfs_node_new(struct shlogfs *fs,
					     const struct shlogfs_node *key)
{
	SL_HELD(&fs->lock);
	struct shlogfs_node *n = calloc(1, sizeof *n);

	if (!n)
		return NULL;
	n->kind = key->kind;
	n->part = key->part;
	n->topic = strdup(key->topic);
	n->name = strdup(key->name);
	n->nlen = key->nlen;
	n->gen = key->gen;
	n->parent = key->parent;
	n->nlookup = 1;
	n->linked = 1;
	if (!n->topic || !n->name) {
		shlogfs_node_destroy(n);
		return NULL;
	}
	n->ino = fs->next_ino++; /* 64 bits: never wraps, never reused */
	RB_INSERT(shlogfs_node_tree, &fs->nodes, n);
	RB_INSERT(shlogfs_ino_tree, &fs->inos, n);
	return n;
}

/* The newest generation of a name (fs->lock held), or NULL. */
static struct shlogfs_node *shlogfs_node_newest(struct shlogfs *fs,
						struct shlogfs_node *key)
{
	SL_HELD(&fs->lock);
	struct shlogfs_node *n;

	key->gen = UINT64_MAX;
	n = RB_NFIND(shlogfs_node_tree, &fs->nodes, key);
	n = n ? RB_PREV(shlogfs_node_tree, &fs->nodes, n)
	      : RB_MAX(shlogfs_node_tree, &fs->nodes);
	key->gen = 0;
	return n && shlogfs_node_same_name(n, key) ? n : NULL;
}

/* Lookup/mkdir/create: find or make a node and count one lookup. */
struct shlogfs_node *shlogfs_node_intern(struct shlogfs *fs,
					 const struct shlogfs_name *nm,
					 fuse_ino_t parent)
{
	int fresh = fs->wb_on && nm->kind->generated;
	struct shlogfs_node key, *n;

	if (nm->kind == fs->root.kind)
		return &fs->root;
	shlogfs_node_key(&key, nm->kind, nm->topic, nm->part, nm->leaf);
	key.parent = parent;
	pthread_mutex_lock(&fs->lock);
	if (fresh)
		n = shlogfs_node_newest(fs, &key);
	else
		n = RB_FIND(shlogfs_node_tree, &fs->nodes, &key);
	if (n) {
		n->nlookup++;
		pthread_mutex_unlock(&fs->lock);
		return n;
	}
	if (fresh)
		key.gen = ++fs->gen;
	n = shlogfs_node_new(fs, &key);
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/*
 * -o writeback: @p n (one lookup counted) if the kernel's size of it is
 * @p size, else a new node of its name (the lookup moves to it).
 */
struct shlogfs_node *shlogfs_node_settle(struct shlogfs *fs,
					 struct shlogfs_node *n, uint64_t size)
{
	struct shlogfs_node key, *m;

	pthread_mutex_lock(&fs->lock);
	if (!n->sent || n->sent_size == size || !n->linked) {
		pthread_mutex_unlock(&fs->lock);
		return n;
	}
	shlogfs_node_key(&key, n->kind, n->topic, n->part, n->name);
	key.parent = n->parent;
	key.gen = ++fs->gen;
	m = shlogfs_node_new(fs, &key);
	pthread_mutex_unlock(&fs->lock);
	if (!m)
		return n;
	shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
	return m;
}

/* -o writeback: the size a lookup reply is giving the kernel for @p n. */
void shlogfs_node_sent(struct shlogfs *fs, struct shlogfs_node *n,
		       uint64_t size)
{
	pthread_mutex_lock(&fs->lock);
	n->sent_size = size;
	n->sent = 1;
	pthread_mutex_unlock(&fs->lock);
}

/* The node of inode number @p ino (fs->lock held), or NULL (pcache.c). */
struct shlogfs_node *shlogfs_node_find(struct shlogfs *fs, fuse_ino_t ino)
{
	return shlogfs_node_find_ino(fs, ino);
}

/* The linked node of a name (fs->lock held), or NULL (pcache.c). */
struct shlogfs_node *shlogfs_node_find_name(struct shlogfs *fs,
					    const struct shlogfs_name *nm)
{
	SL_HELD(&fs->lock);
	struct shlogfs_node key;

	shlogfs_node_key(&key, nm->kind, nm->topic, nm->part, nm->leaf);
	return RB_FIND(shlogfs_node_tree, &fs->nodes, &key);
}

/* readdir: the inode number of a name already known, else 0. */
fuse_ino_t shlogfs_node_peek(struct shlogfs *fs, const struct shlogfs_name *nm)
{
	struct shlogfs_node key, *n;

	if (nm->kind == fs->root.kind)
		return FUSE_ROOT_ID;
	shlogfs_node_key(&key, nm->kind, nm->topic, nm->part, nm->leaf);
	pthread_mutex_lock(&fs->lock);
	n = RB_FIND(shlogfs_node_tree, &fs->nodes, &key);
	pthread_mutex_unlock(&fs->lock);
	return n ? n->ino : 0; /* -o writeback generations: 0 */
}

/* forget: drop lookups; the last one frees the node (and its number). */
void shlogfs_node_forget(struct shlogfs *fs, fuse_ino_t ino, uint64_t nl)
{
	struct shlogfs_node *n;

	if (ino == FUSE_ROOT_ID)
		return;
	pthread_mutex_lock(&fs->lock);
	n = shlogfs_node_find_ino(fs, ino);
	if (n) {
		n->nlookup = n->nlookup > nl ? n->nlookup - nl : 0;
		if (n->nlookup == 0) {
			if (n->linked)
				RB_REMOVE(shlogfs_node_tree, &fs->nodes, n);
			else
				LIST_REMOVE(n, gone);
			RB_REMOVE(shlogfs_ino_tree, &fs->inos, n);
			shlogfs_node_destroy(n);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

/* rmdir of a topic: its names no longer lead to these nodes. */
void shlogfs_node_unlink_topic(struct shlogfs *fs, const char *topic)
{
	struct shlogfs_node *n, *next;

	pthread_mutex_lock(&fs->lock);
	RB_FOREACH_SAFE(n, shlogfs_node_tree, &fs->nodes, next) {
		if (strcmp(n->topic, topic) == 0)
			shlogfs_node_unlink(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* -o writeback resync: the next lookup of @p n's name gets a new node. */
void shlogfs_node_unlink_node(struct shlogfs *fs, struct shlogfs_node *n)
{
	pthread_mutex_lock(&fs->lock);
	if (n->linked)
		shlogfs_node_unlink(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

/* rm keys/<key>: the next create of that name gets a new node. */
void shlogfs_node_unlink_name(struct shlogfs *fs, const struct shlogfs_name *nm)
{
	struct shlogfs_node key, *n;

	shlogfs_node_key(&key, nm->kind, nm->topic, nm->part, nm->leaf);
	pthread_mutex_lock(&fs->lock);
	/* every generation of the name (several with -o writeback) */
	while ((n = RB_NFIND(shlogfs_node_tree, &fs->nodes, &key)) &&
	       shlogfs_node_same_name(n, &key))
		shlogfs_node_unlink(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

/* Take a reference on the partition a node belongs to. */
int shlogfs_node_part(struct shlogfs *fs, struct shlogfs_node *n,
		      shlogfs_bpart **out)
{
	return shlogfs_part_get(fs->store, n->topic, n->part, out);
}

/* Snapshot size of a node while a handle holds one (1); 0 if none. */
int shlogfs_node_snap_size(struct shlogfs *fs, struct shlogfs_node *n,
			   uint64_t *size)
{
	int have;

	pthread_mutex_lock(&fs->lock);
	have = n->nsnap > 0;
	*size = n->snap_len;
	pthread_mutex_unlock(&fs->lock);
	return have;
}
