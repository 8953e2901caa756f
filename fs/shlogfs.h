/*
 * shlogfs.h — internal declarations of the shlogfs FUSE daemon.
 *
 * The daemon exposes a shlog store (core/shlog.h) as a tree:
 *
 *   /<topic>/log                  sharded entry point (lines routed by key)
 *   /<topic>/<p>/log              the partition's log
 *   /<topic>/<p>/{anchor,index,stats}  read-only status text
 *   /<topic>/<p>/at/<N>           the log from message N on
 *   /<topic>/<p>/since/<time>     the log from a time on
 *   /<topic>/<p>/keys/<key>       latest value of a key
 *   /.metrics, /.status           Prometheus metrics, a summary
 *
 * Files: main.c (command line, set-up, logs), node.c (inode table),
 * text.c (generated text, time parsing, buffers), attr.c (stat,
 * getattr, setattr), dir.c (names), file.c (open, read, write, close),
 * metrics.c (the two root files), wb.c (-o writeback: partition logs
 * behind the kernel's page cache), budget.c (the memory handles hold
 * for their users).
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

/** Longest file name the mount accepts. */
#define SHLOGFS_NAME_MAX 255

/** What an inode is. */
enum shlogfs_kind {
	SHLOGFS_ROOT,
	SHLOGFS_TOPIC,     /**< <topic>/ */
	SHLOGFS_TLOG,      /**< <topic>/log */
	SHLOGFS_PART,      /**< <topic>/<p>/ */
	SHLOGFS_LOG,       /**< <topic>/<p>/log */
	SHLOGFS_ANCHOR,    /**< <topic>/<p>/anchor */
	SHLOGFS_INDEX,     /**< <topic>/<p>/index */
	SHLOGFS_STATS,     /**< <topic>/<p>/stats */
	SHLOGFS_ATDIR,     /**< <topic>/<p>/at/ */
	SHLOGFS_AT,        /**< <topic>/<p>/at/<N> */
	SHLOGFS_SINCEDIR,  /**< <topic>/<p>/since/ */
	SHLOGFS_SINCE,     /**< <topic>/<p>/since/<time> */
	SHLOGFS_KEYSDIR,   /**< <topic>/<p>/keys/ */
	SHLOGFS_KEY,       /**< <topic>/<p>/keys/<key> */
	SHLOGFS_METRICS,   /**< /.metrics */
	SHLOGFS_STATUS,    /**< /.status */
};

/** Names of the root files (a topic name never starts with a dot). */
#define SHLOGFS_METRICS_NAME ".metrics"
#define SHLOGFS_STATUS_NAME ".status"

/**
 * One inode.  Its number comes from a counter (the root is
 * FUSE_ROOT_ID), never reused; it lives until the kernel forgets every
 * lookup of it.  Everything but nlookup and linked is fixed at creation.
 */
struct shlogfs_node {
	RB_ENTRY(shlogfs_node) by_key; /**< in shlogfs.nodes while linked */
	RB_ENTRY(shlogfs_node) by_ino; /**< in shlogfs.inos until freed */
	uint64_t ino;      /**< inode number */
	LIST_ENTRY(shlogfs_node) gone; /**< in shlogfs.unlinked after that */
	enum shlogfs_kind kind;
	uint32_t part;
	char *topic;       /**< "" for the root */
	char *name;        /**< leaf name of AT, SINCE and KEY; "" otherwise */
	size_t nlen;
	uint64_t nlookup;  /**< lookups the kernel holds */
	int linked;        /**< 0 once its name was removed (rmdir, rm) */
	uint32_t nsnap;    /**< open handles holding a snapshot (fs->lock) */
	uint64_t snap_len; /**< size of the newest snapshot (fs->lock) */
	uint64_t text_key[4]; /**< INDEX: the state text_len was made from (fs->lock) */
	uint64_t text_len; /**< INDEX: size of its last text (fs->lock) */
	int text_keyed;    /**< text_key and text_len are set (fs->lock) */
	uint32_t rr;       /**< TLOG: round robin of keyless lines (atomic) */
	uint64_t gen;      /**< -o writeback: tells apart nodes of one name */
	uint64_t sent_size; /**< -o writeback: the size the kernel was given (fs->lock) */
	int sent;          /**< sent_size is set */
	struct shlogfs_wb *wb; /**< LOG with -o writeback: its byte stream (wb.c) */
};

RB_HEAD(shlogfs_node_tree, shlogfs_node);
RB_PROTOTYPE(shlogfs_node_tree, shlogfs_node, by_key, shlogfs_node_cmp)
RB_HEAD(shlogfs_ino_tree, shlogfs_node);
RB_PROTOTYPE(shlogfs_ino_tree, shlogfs_node, by_ino, shlogfs_node_ino_cmp)

/** A growable byte buffer. */
struct shlogfs_buf {
	char *p;
	size_t len, cap;
};

/**
 * A snapshot of /.metrics or /.status for one set of credentials,
 * shared by the handles opened with them within a second (metrics.c).
 */
struct shlogfs_snap {
	LIST_ENTRY(shlogfs_snap) link; /**< in shlogfs.snaps */
	enum shlogfs_kind kind;
	uint32_t refs;             /**< handles using it (fs->lock); 0: kept
				    *   for sharing until it is too old */
	int64_t born_ns;           /**< CLOCK_MONOTONIC when made */
	uid_t uid;                 /**< charged to (budget.c) */
	uint64_t cred_hash;        /**< of the whole credentials */
	int refused;               /**< no text: past the budget (kept a while) */
	int private;               /**< root's open: never shared, freed at release */
	struct shlogfs_buf text;
};

/** An open file. */
struct shlogfs_handle {
	LIST_ENTRY(shlogfs_handle) link; /**< in shlogfs.handles */
	enum shlogfs_kind kind;
	struct shlogfs_node *node;
	int flags;                 /**< open flags */
	int snap;                  /**< buf is a snapshot counted in node */
	shlog_part *part;          /**< LOG, AT, SINCE, KEY */
	shlog_part **parts;        /**< TLOG: every partition at open */
	uint32_t nparts;
	uint64_t *ext;             /**< TLOG read: start,end per partition */
	struct shlogfs_buf *batch; /**< TLOG write: lines per partition */
	uint64_t base;             /**< AT, SINCE: log offset of the view's byte 0 */
	pthread_mutex_t lock;      /**< guards buf, dirty, dropping, batch */
	struct shlogfs_buf buf;    /**< unfinished line, key value or text */
	pthread_mutex_t ra_lock;   /**< guards ra, ra_off */
	struct shlogfs_buf ra;     /**< read-ahead of a bulk reader */
	uint64_t ra_off;           /**< log offset of ra's first byte */
	int based;                 /**< AT, SINCE: base fixed (a read returned bytes; ra_lock) */
	char *key;                 /**< KEY: key name */
	size_t klen;
	int dirty;                 /**< KEY: written, not yet appended */
	int dropping;              /**< LOG/TLOG: discarding the rest of a refused line */
	int wb_writer;             /**< LOG with -o writeback: counted in node->wb */
	uid_t uid;                 /**< opener: whose budget the handle uses */
	uint64_t held;             /**< bytes charged to the budget (lock) */
	uint64_t ra_held;          /**< of ra, charged to the budget (ra_lock) */
	struct shlogfs_snap *rsnap; /**< METRICS, STATUS: the shared text */
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

/** The daemon's state (the session's userdata). */
struct shlogfs {
	shlog_store *store;
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
	uint64_t gen;              /**< last fresh node generation (fs->lock) */
	struct fuse_session *se;   /**< for notifications (wb.c) */
	struct shlogfs_budget budget; /**< bytes handles hold (budget.c) */
	uint32_t max_topics_per_user; /**< -o max_topics_per_user (0: none) */
	uint32_t max_parts_per_user;  /**< -o max_parts_per_user (0: none) */
	pthread_mutex_t mk_lock;   /**< one mkdir at a time (per-user limits) */
	LIST_HEAD(, shlogfs_snap) snaps; /**< root-file snapshots (fs->lock) */
	uint64_t snaps_made;       /**< root-file texts made (atomic) */
};

/* ---- main.c ---------------------------------------------------------- */

/** Log a line to stderr (foreground) or syslog (daemon). */
void shlogfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- ctl.c (shlogctl sync: the control socket DATADIR/.ctl) ----------- */

/** After the store is open: make DATADIR/.ctl and start the thread that answers it. */
void shlogfs_ctl_start(struct shlogfs *fs);
/** Stop that thread and remove DATADIR/.ctl (before the store is closed). */
void shlogfs_ctl_stop(void);

/* ---- budget.c (memory held for users) ------------------------------ */

/** Set the caps (bytes) of the budget. */
void shlogfs_budget_init(struct shlogfs_budget *b, uint64_t cap,
			 uint64_t per_user);
/** Free the budget's table. */
void shlogfs_budget_free(struct shlogfs_budget *b);
/** Charge @p n bytes to @p uid; -ENOBUFS (logged) past a cap, nothing charged. */
int shlogfs_budget_take(struct shlogfs *fs, uid_t uid, uint64_t n,
			const char *what);
/** Charge bytes already held (never refused; a failed table grow: not counted). */
void shlogfs_budget_force(struct shlogfs *fs, uid_t uid, uint64_t n);
/** Give back @p n bytes charged to @p uid. */
void shlogfs_budget_give(struct shlogfs *fs, uid_t uid, uint64_t n);
/** Make @p *held (charged to @p uid) @p want: take or give the difference. */
int shlogfs_budget_set(struct shlogfs *fs, uid_t uid, uint64_t *held,
		       uint64_t want, const char *what);
/** Bytes held by non-root users, for root, and takes refused (metrics). */
void shlogfs_budget_figures(struct shlogfs *fs, uint64_t *users,
			    uint64_t *root, uint64_t *refused);

/* ---- node.c ---------------------------------------------------------- */

/** Set up the node table with its root. */
void shlogfs_nodes_init(struct shlogfs *fs);
/** Free every node (at exit). */
void shlogfs_nodes_free(struct shlogfs *fs);
/** The node of inode @p ino. */
struct shlogfs_node *shlogfs_node_of(struct shlogfs *fs, fuse_ino_t ino);
/** Inode number of @p n. */
fuse_ino_t shlogfs_node_ino(struct shlogfs *fs, struct shlogfs_node *n);
/** Find or make the node for a name, counting one lookup; NULL: ENOMEM. */
struct shlogfs_node *shlogfs_node_intern(struct shlogfs *fs,
					 enum shlogfs_kind kind,
					 const char *topic, uint32_t part,
					 const char *name);
/** Inode number of an existing node for a name, or 0 (readdir). */
fuse_ino_t shlogfs_node_peek(struct shlogfs *fs, enum shlogfs_kind kind,
			     const char *topic, uint32_t part,
			     const char *name);
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
/** Unlink the node of a key (after rm). */
void shlogfs_node_unlink_key(struct shlogfs *fs, const char *topic,
			     uint32_t part, const char *key);

/* ---- text.c ---------------------------------------------------------- */

/** Append @p len bytes to @p b; 0 or -ENOMEM. */
int shlogfs_buf_add(struct shlogfs_buf *b, const void *p, size_t len);
/** Append formatted text to @p b; 0 or -ENOMEM. */
int shlogfs_buf_printf(struct shlogfs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** The capacity shlogfs_buf_reserve() would give @p b for @p len bytes. */
size_t shlogfs_buf_cap_for(const struct shlogfs_buf *b, size_t len);
/** Make room for @p len bytes in total; 0 or -ENOMEM. */
int shlogfs_buf_reserve(struct shlogfs_buf *b, size_t len);
/** Free @p b's memory. */
void shlogfs_buf_free(struct shlogfs_buf *b);
/** Generate the text of a status file (ANCHOR, INDEX, STATS). */
int shlogfs_text_make(shlog_part *p, enum shlogfs_kind kind,
		      struct shlogfs_buf *out);
/** Index texts made since start (/.metrics, root only). */
uint64_t shlogfs_text_made_total(void);
/** Parse RFC 3339 or Unix seconds into ns since the epoch; -EINVAL. */
int shlogfs_time_parse(const char *s, int64_t *ns);
/** Format ns since the epoch as RFC 3339 UTC with nanoseconds. */
void shlogfs_time_format(int64_t ns, char *out, size_t size);
/** Parse a decimal uint64 (digits only, no overflow); -EINVAL. */
int shlogfs_u64_parse(const char *s, uint64_t *out);
/** Key length of a line (bytes before the first TAB), 0 if keyless. */
size_t shlogfs_line_key(const char *line, size_t len);
/** 32-bit FNV-1a of @p len bytes. */
uint32_t shlogfs_fnv1a(const void *p, size_t len);

/* ---- shared by attr.c, dir.c, file.c ------------------------------- */

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

/** Is this kind a directory? */
static inline int shlogfs_kind_is_dir(enum shlogfs_kind k)
{
	return k == SHLOGFS_ROOT || k == SHLOGFS_TOPIC || k == SHLOGFS_PART ||
	       k == SHLOGFS_ATDIR || k == SHLOGFS_SINCEDIR ||
	       k == SHLOGFS_KEYSDIR;
}

/** Is this kind one of the root files (/.metrics, /.status)? */
static inline int shlogfs_kind_is_root_file(enum shlogfs_kind k)
{
	return k == SHLOGFS_METRICS || k == SHLOGFS_STATUS;
}

/** The kind of root file called @p name, or SHLOGFS_ROOT if none is. */
static inline enum shlogfs_kind shlogfs_root_file_kind(const char *name)
{
	if (strcmp(name, SHLOGFS_METRICS_NAME) == 0)
		return SHLOGFS_METRICS;
	if (strcmp(name, SHLOGFS_STATUS_NAME) == 0)
		return SHLOGFS_STATUS;
	return SHLOGFS_ROOT;
}

/* ---- attr.c ---------------------------------------------------------- */

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
/** 0 if @p c may access an object of mode and owner @p st for @p mask
 *  (R_OK, W_OK, X_OK, as the kernel's default_permissions); else -EACCES. */
int shlogfs_access(const struct shlogfs_cred *c, const struct stat *st,
		   int mask);
/** 0 if @p c may search topic @p topic and open <topic>/<part>/log for
 *  @p mask (the checks a path through the topic's directories gets). */
int shlogfs_access_part(struct shlogfs *fs, const struct shlogfs_cred *c,
			const char *topic, uint32_t part, int mask);
/** May @p c open all @p np partition logs of @p topic for @p mask?  0, or
 *  -errno with the first refused partition in @p refused (if not NULL). */
int shlogfs_access_parts(struct shlogfs *fs, const struct shlogfs_cred *c,
			 const char *topic, uint32_t np, int mask,
			 uint32_t *refused);

/** Fill @p st for node @p n; 0 or a negative errno. */
int shlogfs_node_stat(struct shlogfs *fs, struct shlogfs_node *n,
		      struct stat *st);
/** shlogfs_node_stat() as the caller of @p req may see it (<topic>/log's
 *  size only for one who may read every partition). */
int shlogfs_node_stat_req(struct shlogfs *fs, struct shlogfs_node *n,
			  fuse_req_t req, struct stat *st);
/** An index text of @p n, @p len bytes, was made from partition state
 *  @p in (a stat reuses its size while the state is the same). */
void shlogfs_node_text_made(struct shlogfs *fs, struct shlogfs_node *n,
			    const struct shlog_part_info *in, uint64_t len);
/** Permission bits and type of a node, from its directory's mode. */
mode_t shlogfs_kind_mode(enum shlogfs_kind k, mode_t dirmode);
/** Size of keys/<key>: its value plus '\n'; -ENOENT if not live. */
int shlogfs_key_size(struct shlogfs *fs, struct shlogfs_node *n,
		     uint64_t *size);
/** Attribute timeout of a node. */
double shlogfs_timeout(const struct shlogfs *fs, const struct shlogfs_node *n);
void shlogfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void shlogfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi);

/* ---- dir.c, file.c --------------------------------------------------- */

/** The operations table. */
extern const struct fuse_lowlevel_ops shlogfs_ops;

/** Resolve the partition of node @p n. */
int shlogfs_node_part(struct shlogfs *fs, struct shlogfs_node *n,
		      shlog_part **out);
/** Where the view at/<N> or since/<time> of node @p n starts now (dir.c). */
int shlogfs_view_base(struct shlogfs *fs, struct shlogfs_node *n,
		      uint64_t *base);

/* file.c, called from dir.c */
void shlogfs_op_open(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi);
void shlogfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void shlogfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi);
void shlogfs_op_flush(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void shlogfs_op_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void shlogfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi);
void shlogfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t off, off_t len, struct fuse_file_info *fi);
/** Open a key file for writing from create (keys/<key>). */
int shlogfs_key_open(struct shlogfs *fs, struct shlogfs_node *n,
		     struct fuse_file_info *fi, uid_t uid);
/** Size the pending bytes of a LOG/KEY handle add to the file (setattr). */
uint64_t shlogfs_handle_pending(struct shlogfs_handle *h);
/** Truncate a KEY handle's value to @p size (setattr). */
int shlogfs_handle_truncate(struct shlogfs *fs, struct shlogfs_handle *h,
			    uint64_t size);
/** Finish and free one handle (release, failed create). */
void shlogfs_handle_drop(struct shlogfs *fs, struct shlogfs_handle *h);
/** Fill @p buf from a partition's log (holes below its start read as zeros). */
ssize_t shlogfs_part_fill(shlog_part *p, uint64_t off, char *buf, size_t size);
/** Release every handle still open (at shutdown). */
void shlogfs_handles_close_all(struct shlogfs *fs);

/* ---- wb.c (-o writeback) --------------------------------------------- */

/**
 * Is @p k a file whose size the daemon changes behind the kernel's back
 * (everything but a partition log)?  With the writeback cache the kernel
 * keeps a regular file's size once it has the inode, so a lookup of one
 * whose size changed since gets a new inode (node.c).
 */
static inline int shlogfs_kind_is_generated(enum shlogfs_kind k)
{
	return !shlogfs_kind_is_dir(k) && k != SHLOGFS_LOG;
}

/** Open of a partition log for writing with -o writeback; 0 or -errno. */
int shlogfs_wb_open(struct shlogfs *fs, struct shlogfs_handle *h);
/** Release of such a handle: the last one finishes an unfinished line. */
void shlogfs_wb_release(struct shlogfs *fs, struct shlogfs_handle *h);
/** Stored bytes to put back into the kernel's copy after a refusal. */
struct shlogfs_wb_fix {
	uint64_t off;
	size_t len;
	char *buf;     /**< NULL: nothing to put back */
};
/** A write request (page writeback) to a partition log; @p fix: what
 *  shlogfs_wb_fix_apply() must put back once the reply is sent. */
ssize_t shlogfs_wb_write(struct shlogfs *fs, struct shlogfs_handle *h,
			 const char *buf, size_t size, uint64_t off,
			 struct shlogfs_wb_fix *fix);
/** After the reply to a write: put back what @p fix holds, and free it. */
void shlogfs_wb_fix_apply(struct shlogfs *fs, fuse_ino_t ino,
			  struct shlogfs_wb_fix *fix);
/** Read a partition log, its unfinished last line included. */
ssize_t shlogfs_wb_read(struct shlogfs_handle *h, uint64_t off, char *buf,
			size_t size);
/** Bytes of the unfinished last line a node's stream holds. */
uint64_t shlogfs_wb_pending(struct shlogfs_node *n);
/** Free a node's writeback state. */
void shlogfs_wb_free(struct shlogfs_wb *wb);

/* ---- metrics.c ------------------------------------------------------- */

/** Generate the text of /.metrics or /.status as @p c may see it
 *  (@p out emptied first). */
int shlogfs_root_file_make(struct shlogfs *fs, enum shlogfs_kind kind,
			   const struct shlogfs_cred *c,
			   struct shlogfs_buf *out);
/** shlogfs_node_stat() that also knows the root files. */
int shlogfs_stat_any(struct shlogfs *fs, struct shlogfs_node *n,
		     fuse_req_t req, struct stat *st);
/** Free every root-file snapshot (at exit, after the handles). */
void shlogfs_snaps_free(struct shlogfs *fs);
/** Drop a root-file handle's reference on its snapshot (file.c). */
void shlogfs_snap_put(struct shlogfs *fs, struct shlogfs_snap *sn);
/* The operations table's getattr, setattr and open: the root files are
 * served in metrics.c, everything else goes on to attr.c and file.c. */
void shlogfs_op_getattr_any(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi);
void shlogfs_op_setattr_any(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			    int to_set, struct fuse_file_info *fi);
void shlogfs_op_open_any(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi);

#endif /* SHLOGFS_H */
