/*
 * kinds.h — every node kind's table (struct shlogfs_kind, shlogfs.h),
 * each defined in its family's file.  A directory's kind names its
 * children's tables in its resolve operation; main.c gives the root's
 * to the node table.  The leaf kinds (at/<N>, since/<time>,
 * keys/<key>) are their directory's own: only its file names them.
 */
#ifndef SHLOGFS_KINDS_H
#define SHLOGFS_KINDS_H

#include "shlogfs.h"

/* k_root.c */
extern const struct shlogfs_kind shlogfs_kind_root;      /**< / */
/* k_rootfile.c */
extern const struct shlogfs_kind shlogfs_kind_metrics;   /**< /.metrics */
extern const struct shlogfs_kind shlogfs_kind_status;    /**< /.status */
/** Free every root-file snapshot (at exit, after the handles). */
void shlogfs_snaps_free(struct shlogfs *fs);
/* k_delete.c */
extern const struct shlogfs_kind shlogfs_kind_delete;    /**< /.delete */
/* k_topic.c */
extern const struct shlogfs_kind shlogfs_kind_topic;     /**< <topic>/ */
/* k_part.c */
extern const struct shlogfs_kind shlogfs_kind_part;      /**< <topic>/<p>/ */
/* k_log.c */
extern const struct shlogfs_kind shlogfs_kind_tlog;      /**< <topic>/log */
extern const struct shlogfs_kind shlogfs_kind_log;       /**< <topic>/<p>/log */
extern const struct shlogfs_kind shlogfs_kind_rname;     /**< <topic>/<p>/<restore name> */
/* k_follow.c */
extern const struct shlogfs_kind shlogfs_kind_follow;    /**< <topic>/<p>/follow */
extern const struct shlogfs_kind shlogfs_kind_tfollow;   /**< <topic>/follow */
/** attr op of a stream: size 0, its directory's times. */
int shlogfs_follow_attr(struct shlogfs *fs, struct shlogfs_node *n,
			fuse_req_t req, struct stat *st);
/** A stream's open flags: read-only (else -EACCES), direct_io, not seekable. */
int shlogfs_follow_flags(struct fuse_file_info *fi);
/* k_status.c */
extern const struct shlogfs_kind shlogfs_kind_anchor;    /**< <topic>/<p>/anchor */
extern const struct shlogfs_kind shlogfs_kind_index;     /**< <topic>/<p>/index */
extern const struct shlogfs_kind shlogfs_kind_stats;     /**< <topic>/<p>/stats */
/* k_view.c */
extern const struct shlogfs_kind shlogfs_kind_atdir;     /**< <topic>/<p>/at/ */
extern const struct shlogfs_kind shlogfs_kind_sincedir;  /**< <topic>/<p>/since/ */
/* k_keys.c */
extern const struct shlogfs_kind shlogfs_kind_keysdir;   /**< <topic>/<p>/keys/ */
/* k_cursor.c */
extern const struct shlogfs_kind shlogfs_kind_cursorsdir; /**< <topic>/<p>/cursors/ */
extern const struct shlogfs_kind shlogfs_kind_streamdir;  /**< <topic>/<p>/stream/ */

#endif /* SHLOGFS_KINDS_H */
