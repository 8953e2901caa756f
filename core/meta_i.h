/*
 * meta_i.h — a topic's meta file: the mode and owner the mount shows for
 * the topic and each of its partitions.  The real directories in the data
 * dir stay the daemon's (SHLOG_DIR_MODE, its euid); what users see and
 * change through the mount lives here.  Byte layout: docs/FORMAT.md
 * "The meta file".  meta.c also tightens a directory to the daemon's own.
 */
#ifndef SHLOG_META_I_H
#define SHLOG_META_I_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The mode (permission bits only), owner and group of one directory. */
struct shlog_perm {
	uint32_t mode, uid, gid;
};

/* A topic's meta in memory: one record per partition (dense). */
struct shlog_meta {
	struct shlog_perm topic;
	struct shlog_perm *parts;    /* nparts records */
	uint32_t nparts;
};

/* Give @p m @p nparts partitions, each with the topic's record. 0 or -ENOMEM. */
int sl_meta_init(struct shlog_meta *m, const struct shlog_perm *topic, uint32_t nparts);
/* Add one partition with the topic's record. 0 or -ENOMEM. */
int sl_meta_add_part(struct shlog_meta *m);
/* Free the records of @p m. */
void sl_meta_free(struct shlog_meta *m);

/* Serialise @p m (malloc'ed into @p out). 0 or -ENOMEM. */
int sl_meta_encode(const struct shlog_meta *m, unsigned char **out, size_t *len);
/*
 * Parse and validate a meta file of a topic with @p nparts partitions.
 * @return 0, -EUCLEAN with @p why set, or -ENOMEM.
 */
int sl_meta_decode(const unsigned char *buf, size_t len, uint32_t nparts,
		      struct shlog_meta *m, const char **why);

/*
 * Read meta file @p name (SHLOG_META_NAME in a topic dir, SHLOG_ROOT_META_NAME
 * in the data dir) of dir @p tdfd: 0, -ENOENT, -EUCLEAN (@p why), -errno.
 */
int sl_meta_read(int tdfd, const char *name, uint32_t nparts, struct shlog_meta *m,
		    const char **why);
/* Replace meta file @p name of dir @p tdfd atomically (temp, fsync, rename, fsync dir). 0 or -errno. */
int sl_meta_write(int tdfd, const char *name, const struct shlog_meta *m);
/* Build a meta from the real directories' modes and owners (migration). */
int sl_meta_from_dirs(int tdfd, uint32_t nparts, struct shlog_meta *m);

/* Make directory fd @p fd SHLOG_DIR_MODE and owned by the euid; 1 if changed, 0, -errno. */
int sl_dir_tighten(int fd);
/* Tighten every partition directory 0..nparts-1 of topic dir @p tdfd. */
int sl_parts_tighten(int tdfd, uint32_t nparts);

/*
 * For shlogctl verify: check topic @p name of data dir @p ddfd against the
 * data dir's rules as an open would (a directory, partitions 0..n-1 without
 * gaps, a valid meta file; its partitions' files are not opened).
 * @return 0, -EUCLEAN (or another -errno) with a sentence in @p why.
 */
int sl_topic_check_layout(int ddfd, const char *name, char *why, size_t cap);

#endif
