/*
 * shlogfs.h — the daemon's core types: its state, a node, an open file,
 * and the table of operations every node kind has.
 *
 * The daemon exposes a store as a tree: the local engine (core/shlog.h)
 * or a Kafka cluster, each behind the one table of backend.h:
 *
 *   /<topic>/log                  sharded entry point (lines routed by key)
 *   /<topic>/<p>/log              the partition's log
 *   /<topic>/<p>/{anchor,index,stats}  read-only status text
 *   /<topic>/<p>/at/<N>           the log from message N on
 *   /<topic>/<p>/since/<time>     the log from a time on
 *   /<topic>/<p>/keys/<key>       latest value of a key
 *   /<topic>/<p>/<other>          a restore name (k_log.c, restore.c)
 *   /<topic>/<p>/cursors/<name>   a durable cursor: the log from its position
 *   /<topic>/<p>/stream/<name>    the same cursor, waiting at the end
 *   /<topic>/<p>/follow, /<topic>/follow  the log(s), waiting at the end
 *   /.metrics, /.status           Prometheus metrics, a summary
 *   /.delete                      write "TOPIC\n" to delete a topic
 *
 * A listing shows only topics, partitions and partition logs (what a
 * backup holds); every other name is found by name only.
 *
 * Each kind of node (the root, a topic, a partition log, ...) is one
 * `struct shlogfs_kind`, defined in its family's k_*.c file; the FUSE
 * entry points (attr.c, dir.c, file.c) call through the node's table and
 * never ask which kind it is.  The layers, who may call whom (a file
 * calls its own layer and those below; fs/layers, checked by the unit
 * test layers-fs; docs/DESIGN.md "The daemon"):
 *
 *   main.c                          options, set-up, the FUSE ops table
 *   attr.c dir.c file.c             FUSE entry points (ll.h)
 *   k_root.c > k_topic.c > k_part.c > k_log.c k_status.c k_view.c
 *     k_keys.c k_cursor.c k_rootfile.c k_delete.c  node kinds, by depth (kinds.h)
 *   stat.c read.c handle.c own.c wb.c metrics.c ctl.c   services
 *   node.c cred.c budget.c list.c   tables
 *   backend.c be_local.c be_kafka.c storage: every call to it goes through
 *                                   backend.h's table
 *   text.c frame.c log.c            leaves (no daemon state)
 */
#ifndef SHLOGFS_H
#define SHLOGFS_H

#define FUSE_USE_VERSION 35

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include "shlog.h"
#include "backend.h"

/** Longest file name the mount accepts. */
#define SHLOGFS_NAME_MAX 255

struct shlogfs;
struct shlogfs_node;
struct shlogfs_handle;
struct shlogfs_cred;
struct shlogfs_dir;
struct shlogfs_wb;
struct shlogfs_wb_fix;
struct shlogfs_snap;
struct shlogfs_rent;
struct shlogfs_fw;

/** A growable byte buffer (text.h). */
struct shlogfs_buf {
	char *p;
	size_t len, cap;
};

/** The directory in the data dir whose owner, mode and times a node shows. */
enum shlogfs_owner {
	SHLOGFS_OWNER_ROOT,   /**< the data dir (the mount root's record) */
	SHLOGFS_OWNER_TOPIC,  /**< the node's topic */
	SHLOGFS_OWNER_PART,   /**< the node's partition */
};

/** What a name in a directory resolves to (lookup, mkdir). */
struct shlogfs_name {
	const struct shlogfs_kind *kind;
	const char *topic;
	uint32_t part;
	const char *leaf;     /**< at/<N>, since/<time>, keys/<key>; else NULL */
};

/**
 * What the kernel may get for the reads it sends to fill its page cache
 * (private mmap, sendfile, splice: pcache.c).
 */
enum shlogfs_pcache {
	SHLOGFS_PC_ANY = 0, /**< not a log: served as any read */
	SHLOGFS_PC_LOG,     /**< a partition log: exact bytes or EIO */
	SHLOGFS_PC_NEVER,   /**< <topic>/log, at/, since/: EIO */
};

/**
 * A kind of node: its shape and its operations.  One table per kind, in
 * its family's file (kinds.h).  A NULL operation has the default its
 * comment gives.  Every operation is called on a live node (the entry
 * point checked shlogfs_node_live() first).
 */
struct shlogfs_kind {
	const char *name;      /**< its fixed name in its parent; NULL: named by the user */
	mode_t type;           /**< S_IFDIR or S_IFREG */
	mode_t perm;           /**< permission bits it takes from its directory's mode */
	enum shlogfs_owner owner; /**< whose directory gives owner, mode, times */
	int leaf;              /**< named by its leaf (looked up every time) */
	int generated;         /**< a file whose size the daemon changes behind the
				*   kernel's back (everything but a partition log):
				*   with -o writeback a new size, a new inode */
	int keep_blocks;       /**< st_blocks is its directory's (the mount root) */
	blksize_t blksize;     /**< st_blksize; 0: 1 MiB */
	const char *held;      /**< what release commits ("line"), for its log line */
	const void *priv;      /**< the family's own description of the kind */
	enum shlogfs_pcache pcache; /**< what its page reads may get (pcache.c) */
	const struct shlogfs_kind *feeds; /**< the partition log its writers
				*   append to (pcache.c); NULL: none */
	int feeds_all;         /**< to every partition of the topic its handle
				*   opened (<topic>/log), not its own one */

	/* ---- attributes (stat.c fills the rest) ---- */
	/** Size, times and links; NULL: none (a directory: 4096 bytes, 2 links). */
	int (*attr)(struct shlogfs *fs, struct shlogfs_node *n, fuse_req_t req,
		    struct stat *st);
	/** setattr mode; NULL: -EPERM. */
	int (*chmod)(struct shlogfs *fs, struct shlogfs_node *n, mode_t mode);
	/** setattr owner; NULL: -EPERM. */
	int (*chown)(struct shlogfs *fs, struct shlogfs_node *n, uid_t uid,
		     gid_t gid);
	/** setattr times (@p mtime: the new mtime); NULL: accepted, no effect. */
	int (*utimens)(struct shlogfs *fs, struct shlogfs_node *n,
		       const struct timespec *mtime);
	/** setattr size (@p h: the open file, or NULL); NULL: -EISDIR or -EPERM. */
	int (*truncate)(struct shlogfs *fs, struct shlogfs_node *n,
			fuse_req_t req, uint64_t size, struct shlogfs_handle *h);

	/* ---- a directory's names ---- */
	/** What @p name in @p d is; NULL: -ENOTDIR. */
	int (*resolve)(struct shlogfs *fs, struct shlogfs_node *d,
		       const char *name, struct shlogfs_name *out);
	/** Fill a listing (after "." and ".."); NULL: -ENOTDIR. */
	int (*list)(struct shlogfs *fs, struct shlogfs_node *d,
		    struct shlogfs_dir *out);
	/** Inode number of a listed name if known, else 0; NULL: 0. */
	fuse_ino_t (*peek)(struct shlogfs *fs, struct shlogfs_node *d,
			   const char *name);
	/** mkdir @p name in @p d, the new directory in @p made; NULL: -EPERM. */
	int (*mkdir)(struct shlogfs *fs, fuse_req_t req, struct shlogfs_node *d,
		     const char *name, mode_t mode, struct shlogfs_name *made);
	/** rmdir @p name in @p d; NULL: -ENOTDIR for "log", else -EPERM. */
	int (*rmdir)(struct shlogfs *fs, fuse_req_t req, struct shlogfs_node *d,
		     const char *name);
	/** unlink @p name in @p d; NULL: -EPERM. */
	int (*unlink)(struct shlogfs *fs, struct shlogfs_node *d,
		      const char *name);
	/** rename @p name in @p d to @p newname in @p d; NULL: -EPERM. */
	int (*rename)(struct shlogfs *fs, struct shlogfs_node *d,
		      const char *name, const char *newname,
		      unsigned int flags);
	/** create @p name in @p d and open it: @p e and @p fi filled, one
	 *  lookup of e->ino counted; NULL: -EEXIST if it exists, else -EPERM. */
	int (*create)(struct shlogfs *fs, fuse_req_t req, struct shlogfs_node *d,
		      const char *name, struct fuse_file_info *fi,
		      struct fuse_entry_param *e);

	/* ---- open files ---- */
	/** Set up @p h (direct_io/keep_cache in @p fi); NULL: -EISDIR. */
	int (*open)(struct shlogfs *fs, struct shlogfs_node *n,
		    struct shlogfs_handle *h, const struct shlogfs_cred *c,
		    struct fuse_file_info *fi);
	/** Reply to a read of @p size bytes at @p off. */
	void (*read)(fuse_req_t req, struct shlogfs_handle *h, size_t size,
		     uint64_t off);
	/** A write; bytes taken or -errno (@p fix: see wb.h); NULL: -EBADF. */
	ssize_t (*write)(struct shlogfs *fs, struct shlogfs_handle *h,
			 const char *buf, size_t size, uint64_t off, int fflags,
			 struct shlogfs_wb_fix *fix);
	/** Every close of a descriptor; NULL: 0. */
	int (*flush)(struct shlogfs_handle *h);
	/** fsync; NULL: 0. */
	int (*fsync)(struct shlogfs_handle *h);
	/** The last close: commit what the handle holds back; NULL: 0. */
	int (*release)(struct shlogfs *fs, struct shlogfs_handle *h);
	/** Where a view (at/, since/) of node @p n starts now. */
	int (*base)(struct shlogfs *fs, struct shlogfs_node *n, uint64_t *base);
	/** poll (follow.h); NULL: always readable and writable. */
	void (*poll)(fuse_req_t req, struct shlogfs_handle *h,
		     struct fuse_pollhandle *ph);
	/** Free the kind's state of a node (its last forget); NULL: none. */
	void (*forget)(struct shlogfs_node *n);
};

/**
 * One inode.  Its number comes from a counter (the root is
 * FUSE_ROOT_ID), never reused; it lives until the kernel forgets every
 * lookup of it.  Everything but nlookup and linked is fixed at creation.
 */
struct shlogfs_node {
	RB_ENTRY(shlogfs_node) by_key; /**< in shlogfs.nodes while linked */
	RB_ENTRY(shlogfs_node) by_ino; /**< in shlogfs.inos until freed */
	uint64_t ino;      /**< inode number */
	uint64_t parent;   /**< inode number of the directory it was made in */
	LIST_ENTRY(shlogfs_node) gone; /**< in shlogfs.unlinked after that */
	const struct shlogfs_kind *kind;
	uint32_t part;
	char *topic;       /**< "" for the root */
	char *name;        /**< leaf name of a leaf kind; "" otherwise */
	size_t nlen;
	uint64_t nlookup;  /**< lookups the kernel holds */
	int linked;        /**< 0 once its name was removed (rmdir, rm) */
	uint32_t nsnap;    /**< open handles holding a snapshot (fs->lock) */
	uint64_t snap_len; /**< size of the newest snapshot (fs->lock) */
	uint64_t text_key[4]; /**< index: the state text_len was made from (fs->lock) */
	uint64_t text_len; /**< index: size of its last text (fs->lock) */
	int text_keyed;    /**< text_key and text_len are set (fs->lock) */
	uint32_t rr;       /**< <topic>/log: round robin of keyless lines (atomic) */
	uint64_t gen;      /**< -o writeback: tells apart nodes of one name */
	uint64_t sent_size; /**< -o writeback: the size the kernel was given (fs->lock) */
	int sent;          /**< sent_size is set */
	struct shlogfs_wb *wb; /**< partition log with -o writeback: its byte stream (wb.c) */
	int pc_cached;     /**< partition log: the kernel may cache pages of it
			    *   (pcache.c; fs->lock) */
	uint64_t pc_gen;   /**< page reads begun so far (fs->lock) */
	uint32_t pc_attrs; /**< partition log: sizes being found (fs->lock) */
	int pc_told_set;   /**< pc_told is set (fs->lock) */
	uint64_t pc_told;  /**< the least size a size reply since the last
			    *   bump of the kernel's attribute version told
			    *   (pcache.c; fs->lock) */
};

/* The two trees of nodes (their functions are node.c's own). */
RB_HEAD(shlogfs_node_tree, shlogfs_node);
RB_HEAD(shlogfs_ino_tree, shlogfs_node);

/** An open file (handle.c); the fields its kind uses. */
struct shlogfs_handle {
	LIST_ENTRY(shlogfs_handle) link; /**< in shlogfs.handles */
	struct shlogfs_node *node;
	int flags;                 /**< open flags */
	int snap;                  /**< buf is a snapshot counted in node */
	shlogfs_bpart *part;          /**< partition log, views, status, key */
	shlogfs_bpart **parts;        /**< <topic>/log: every partition at open */
	shlogfs_bwriter *writer;   /**< opened for writing: its appends (backend.h; may be NULL) */
	uint32_t nparts;
	uint64_t *ext;             /**< <topic>/log read: start,end per partition;
				    *   cursors/<name> read: its position (k_cursor.c) */
	struct shlogfs_buf *batch; /**< <topic>/log write: lines per partition */
	uint64_t base;             /**< views: log offset of the view's byte 0 */
	pthread_mutex_t lock;      /**< guards buf, dirty, dropping, batch */
	struct shlogfs_buf buf;    /**< unfinished line, key value or text */
	pthread_mutex_t ra_lock;   /**< guards ra, ra_off */
	struct shlogfs_buf ra;     /**< read-ahead of a bulk reader */
	uint64_t ra_off;           /**< log offset of ra's first byte */
	int based;                 /**< views: base fixed (a read returned bytes; ra_lock) */
	char *key;                 /**< keys/<key>: key name */
	size_t klen;
	int dirty;                 /**< keys/<key>: written, not yet appended */
	int dropping;              /**< logs: discarding the rest of a refused line */
	int wb_writer;             /**< partition log with -o writeback: counted in node->wb */
	int restore;               /**< a restore's handle (a log made again, a
				    *   restore name): its appends are noted; a
				    *   key's: its value at open a restore's (restore.c) */
	uid_t uid;                 /**< opener: whose budget the handle uses */
	uint64_t held;             /**< bytes charged to the budget (lock) */
	uint64_t ra_held;          /**< of ra, charged to the budget (ra_lock) */
	struct shlogfs_snap *rsnap; /**< root files: the shared text (k_rootfile.c) */
	uint32_t pc_first;         /**< writers: partitions pc_first.. counted */
	uint32_t pc_n;             /**< in shlogfs.pc_busy (pcache.c); 0: none */
	pid_t closer;              /**< flush: the thread whose close() is served (file.c) */
	struct shlogfs_fw *fw;     /**< follow files, polled logs (follow.c) */
	uint64_t rd_at;            /**< offset of its last read request (atomic) */
	int rd_flags;              /**< file flags of its last read request (atomic) */
};

/**
 * The memory budget of what open handles hold for their users (budget.c):
 * unfinished lines, key values being written, snapshots of status files.
 * Every unprivileged user's bytes count against the store-wide cap and
 * against that user's share; root's are counted but never refused.
 */
struct shlogfs_budget {
	pthread_mutex_t mu;
	uint64_t cap;              /**< -o max_held: all users together */
	uint64_t per_user;         /**< -o max_held_per_user */
	uint64_t used;             /**< bytes held by non-root users */
	uint64_t root_used;        /**< bytes held for root (not refused) */
	uint64_t refused;          /**< takes refused since the mount */
	time_t logged_at;          /**< second of the last refusal logged */
	struct shlogfs_held {
		uid_t uid;
		uint64_t bytes;
	} *users;                  /**< users holding bytes now */
	size_t nusers, cap_users;
};

/** Slots of the writer counts by partition (pcache.c): a power of 2. */
#define SHLOGFS_PC_SLOTS 1024

/** The daemon's state (the session's userdata). */
struct shlogfs {
	shlogfs_bstore *store;
	char *datadir;             /**< absolute */
	uint32_t partitions;       /**< partitions of a new topic */
	uint32_t max_message;
	struct shlogfs_node root;
	pthread_mutex_t lock;      /**< guards nodes and handles */
	struct shlogfs_node_tree nodes;
	struct shlogfs_ino_tree inos; /**< every node but the root, by number */
	uint64_t next_ino;         /**< the next node's inode number (fs->lock) */
	LIST_HEAD(, shlogfs_node) unlinked; /**< removed names, not forgotten */
	LIST_HEAD(, shlogfs_handle) handles;
	int writeback;             /**< -o writeback asked for */
	int wb_on;                 /**< and the kernel granted it (init) */
	uint32_t retrieve_ms;      /**< -o retrieve_ms with writeback; 0: off (wb.c) */
	uint64_t gen;              /**< last fresh node generation (fs->lock) */
	struct fuse_session *se;   /**< for notifications (wb.c) */
	struct shlogfs_budget budget; /**< bytes handles hold (budget.c) */
	uint32_t max_topics_per_user; /**< -o max_topics_per_user (0: none) */
	uint32_t max_parts_per_user;  /**< -o max_parts_per_user (0: none) */
	pthread_mutex_t mk_lock;   /**< one mkdir at a time (per-user limits) */
	LIST_HEAD(, shlogfs_snap) snaps; /**< root-file snapshots (fs->lock) */
	uint64_t snaps_made;       /**< root-file texts made (atomic) */
	uint32_t pc_busy[SHLOGFS_PC_SLOTS]; /**< open writers by partition
				*   (hashed; pcache.c; fs->lock) */
	uint64_t pc_served;        /**< page reads served (atomic; pcache.c) */
	uint64_t pc_refused;       /**< page reads refused with EIO (atomic) */
	uint64_t pc_drops;         /**< cached pages dropped for a writer (atomic) */
	struct shlogfs_restore {
		pthread_mutex_t mu;
		LIST_HEAD(, shlogfs_rent) ents;
	} restore;                 /**< what restores left in memory (restore.c) */
};

/** The daemon's state from a request. */
static inline struct shlogfs *shlogfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/** 0 if the node's name still exists (not removed by rmdir or rm). */
static inline int shlogfs_node_live(struct shlogfs_node *n)
{
	return __atomic_load_n(&n->linked, __ATOMIC_RELAXED) ? 0 : -ENOENT;
}

/** Is @p k a directory? */
static inline int shlogfs_kind_is_dir(const struct shlogfs_kind *k)
{
	return S_ISDIR(k->type);
}

#endif /* SHLOGFS_H */
