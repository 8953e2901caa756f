/*
 * k_status.c — the kinds of a partition's status files: anchor, index
 * and stats (their texts: text.c).  Each is a snapshot taken at open and
 * served with direct_io; while a snapshot is open, stat reports its
 * size, so what stat says is what read returns (tar, cat).
 *
 * A stat never does work that grows with the log for nothing: anchor
 * and stats are a few hundred bytes of fixed shape, made again at each
 * stat; an index's text grows with the log, so its size is remembered
 * with the partition state it was made from and made again only when a
 * block was written or segments went away: a stat flood costs no more
 * than the writes do, and the size is always what a read would return.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "kinds.h"
#include "handle.h"
#include "node.h"
#include "read.h"
#include "stat.h"
#include "text.h"

/** A status file's text (its kind's priv). */
struct shlogfs_status {
	int (*make)(shlogfs_bpart *p, struct shlogfs_buf *out);
	int remember;  /**< its size is kept with the state it was made from */
};

/* The description of status kind @p k. */
static const struct shlogfs_status *shlogfs_status_of(const struct shlogfs_kind *k)
{
	return k->priv;
}

/* The text of status node @p n. */
static int shlogfs_status_make_text(const struct shlogfs_node *n,
				    shlogfs_bpart *p, struct shlogfs_buf *out)
{
	return shlogfs_status_of(n->kind)->make(p, out);
}

/* ==== the remembered size (index) ==================================== */

/*
 * What an index's text depends on: its entries are the committed blocks
 * of the retained segments, so they change only with committed_seq (a
 * block written), start_seq and nsegments (segments deleted) or the
 * anchor's generation (a repair or compaction rewrote them).
 */
static void shlogfs_status_key(const struct shlog_part_info *in,
			       uint64_t key[4])
{
	key[0] = in->committed_seq;
	key[1] = in->start_seq;
	key[2] = in->nsegments;
	key[3] = in->anchor_gen;
}

/* Remember the size of a text of @p n made for partition state @p in. */
static void shlogfs_status_made(struct shlogfs *fs, struct shlogfs_node *n,
				const struct shlog_part_info *in, uint64_t len)
{
	if (!shlogfs_status_of(n->kind)->remember)
		return;
	pthread_mutex_lock(&fs->lock);
	shlogfs_status_key(in, n->text_key);
	n->text_len = len;
	n->text_keyed = 1;
	pthread_mutex_unlock(&fs->lock);
}

/* The size of @p n's last text if it is remembered and the partition is
 * still as then. */
static int shlogfs_status_known(struct shlogfs *fs, struct shlogfs_node *n,
				const struct shlog_part_info *in,
				uint64_t *size)
{
	uint64_t key[4];
	int same;

	if (!shlogfs_status_of(n->kind)->remember)
		return 0;
	shlogfs_status_key(in, key);
	pthread_mutex_lock(&fs->lock);
	same = n->text_keyed && !memcmp(key, n->text_key, sizeof key);
	*size = n->text_len;
	pthread_mutex_unlock(&fs->lock);
	return same;
}

/* ==== attributes ====================================================== */

/* The size a read would return now: the remembered one, or a text's. */
static int shlogfs_status_size(struct shlogfs *fs, struct shlogfs_node *n,
			       shlogfs_bpart *p, uint64_t *size)
{
	struct shlogfs_buf text = { 0 };
	struct shlog_part_info in;
	int rc;

	if (shlogfs_status_of(n->kind)->remember) {
		if ((rc = shlogfs_part_info(p, &in)))
			return rc;
		if (shlogfs_status_known(fs, n, &in, size))
			return 0;
	}
	rc = shlogfs_status_make_text(n, p, &text);
	if (rc == 0) {
		*size = text.len;
		shlogfs_status_made(fs, n, &in, text.len);
	}
	shlogfs_buf_free(&text);
	return rc;
}

/* attr op: an open snapshot's size, else what a read would return now. */
static int shlogfs_status_attr(struct shlogfs *fs, struct shlogfs_node *n,
			       fuse_req_t req, struct stat *st)
{
	uint64_t size = 0;
	shlogfs_bpart *p;
	int rc = 0;

	(void)req;
	if (!shlogfs_node_snap_size(fs, n, &size) &&
	    (rc = shlogfs_node_part(fs, n, &p)) == 0) {
		rc = shlogfs_status_size(fs, n, p, &size);
		shlogfs_part_put(p);
	}
	if (rc == 0)
		shlogfs_stat_size(st, size, 0);
	return rc;
}

/* ==== open ============================================================ */

/* open op: the text taken now; the state before it is what its size is
 * remembered with (an older key only makes a stat make the text again). */
static int shlogfs_status_open(struct shlogfs *fs, struct shlogfs_node *n,
			       struct shlogfs_handle *h,
			       const struct shlogfs_cred *c,
			       struct fuse_file_info *fi)
{
	struct shlog_part_info in;
	int rc;

	(void)c;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if ((rc = shlogfs_node_part(fs, n, &h->part)) ||
	    (rc = shlogfs_part_info(h->part, &in)) ||
	    (rc = shlogfs_status_make_text(n, h->part, &h->buf)))
		return rc;
	shlogfs_handle_snap(fs, h, h->buf.len);
	shlogfs_status_made(fs, n, &in, h->buf.len);
	fi->direct_io = 1;
	return 0;
}

/* ==== the texts ======================================================= */

/* The text of <p>/anchor. */
static int shlogfs_status_anchor_text(shlogfs_bpart *p, struct shlogfs_buf *out)
{
	struct shlog_part_info in;
	int rc = shlogfs_part_info(p, &in);

	return rc < 0 ? rc : shlogfs_text_anchor(&in, out);
}

/* The text of <p>/stats: the counters, then the backend's own lines. */
static int shlogfs_status_stats_text(shlogfs_bpart *p, struct shlogfs_buf *out)
{
	struct shlog_part_info in;
	struct shlogfs_buf_lines m = { out, 0 };
	int rc = shlogfs_part_info(p, &in);

	if (rc == 0)
		rc = shlogfs_text_stats(&in, out);
	if (rc == 0 && shlogfs_be->part_lines) {
		shlogfs_be->part_lines(p, shlogfs_buf_line, &m);
		rc = m.rc;
	}
	return rc;
}

/* The text of <p>/index: one line per entry. */
static int shlogfs_status_index_text(shlogfs_bpart *p, struct shlogfs_buf *out)
{
	int rc;

	shlogfs_text_index_begin(out);
	rc = shlogfs_part_index_foreach(p, shlogfs_text_index_entry, out);
	if (rc < 0)
		return rc;
	return rc > 0 ? -ENOMEM : 0;
}

/* ==== the kinds ======================================================= */

static const struct shlogfs_status shlogfs_status_anchor = {
	shlogfs_status_anchor_text, 0,
};
static const struct shlogfs_status shlogfs_status_index = {
	shlogfs_status_index_text, 1,
};
static const struct shlogfs_status shlogfs_status_stats = {
	shlogfs_status_stats_text, 0,
};

#define SHLOGFS_STATUS_KIND(file_name, desc)                           \
	{                                                                  \
		.name = file_name,                                         \
		.type = S_IFREG,                                           \
		.perm = 0444,                                              \
		.owner = SHLOGFS_OWNER_PART,                               \
		.generated = 1,                                            \
		.priv = desc,                                              \
		.attr = shlogfs_status_attr,                               \
		.open = shlogfs_status_open,                               \
		.read = shlogfs_read_snap,                                 \
	}

const struct shlogfs_kind shlogfs_kind_anchor =
	SHLOGFS_STATUS_KIND("anchor", &shlogfs_status_anchor);
const struct shlogfs_kind shlogfs_kind_index =
	SHLOGFS_STATUS_KIND("index", &shlogfs_status_index);
const struct shlogfs_kind shlogfs_kind_stats =
	SHLOGFS_STATUS_KIND("stats", &shlogfs_status_stats);
