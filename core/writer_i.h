/*
 * writer_i.h — the one writer of segments and anchors (writer.c).
 *
 * Two levels.  The file level knows nothing of a partition and is what
 * compaction uses for the copy it builds: cut a block into spans and
 * encode their index entries (the framing rule, step C), write a block
 * (entries, then bytes), create a segment's two files, write an anchor
 * slot.  The partition level is the commit order of a block, used by the
 * flush (part.c), and what recovery needs (an anchor, an empty segment):
 * roll and wrap retention, publishing entries to readers, bookmarks, the
 * key snapshot, the anchor, and the partition's fdatasync with its sticky
 * failure rule (sl_writer_sync_failed).
 *
 * Layer: above seg, resident and keys; below part, recover and the
 * admin tools.  Nothing here calls part.c.
 */
#ifndef SHLOG_WRITER_I_H
#define SHLOG_WRITER_I_H

#include "engine_i.h"

/* ---- file level ---- */

/* The framing rule: does a span of @span_len bytes end before message @seq of @len bytes ('\n' included)? */
int sl_writer_span_ends(uint32_t stride, uint64_t seq, size_t span_len, size_t len);
/*
 * Cut block @buf (@len bytes of whole messages, the first being @seq0 at
 * log offset @off0, block time @t) into spans: x->ents gets their encoded
 * index entries, and with @keys x->keyed the keyed messages (step B).
 */
int sl_writer_plan(struct flush_scratch *x, uint32_t stride, const char *buf, size_t len,
		   uint64_t seq0, uint64_t off0, int64_t t, int keys);
/*
 * Write a planned block: its entries after the @nents entries of @idx_fd,
 * then its bytes at @pos of @log_fd.  On failure both files are cut back
 * to what they were.  0 or -errno.
 */
int sl_writer_put(int log_fd, int idx_fd, uint64_t nents, uint64_t pos, const struct flush_scratch *x,
		  const char *buf, size_t len);
/* Open (creating with @flags) segment @seq's .log and .idx in @dfd; 0 or -errno (nothing left open). */
int sl_writer_seg_files(int dfd, uint64_t seq, int flags, int *log_fd, int *idx_fd);
/* Unlink segment @seq's .log, then its .idx, in @dfd (what is not there is not an error). */
void sl_writer_seg_unlink(int dfd, uint64_t seq);
/* Encode anchor @a into its slot (a->gen % 2) of the anchor file @fd; 0 or -errno. */
int sl_writer_slot_put(int fd, const struct shlog_anchor *a);

/*
 * Write a cursors image (sl_cursors_encode) of generation @gen into slot
 * gen % 2 of @dfd's cursors file (created if missing), fdatasynced; the
 * directory fsynced if the file is new.  0 or -errno.
 */
int sl_writer_cursors_put(int dfd, uint64_t gen, const unsigned char *img, size_t len);

/* ---- partition level ---- */

/* A block to commit: @count whole messages in @buf, the first @seq0 at @off0, block time @t. */
struct sl_block {
	const char *buf;
	size_t len;
	uint32_t count;
	uint64_t seq0, off0;
	int64_t t;
	int need_sync;                /* fdatasync it (sync=always or a waiting sync()) */
	uint64_t durable;             /* durable_seq before it, for the anchor */
};

/*
 * Commit block @b in the order of docs/DESIGN.md (roll, entries, bytes,
 * fdatasync if asked, publish, bookmarks, key snapshot when due, anchor).
 * Returns 0, 1 (written but a sync failed: sticky), or a negative errno
 * (nothing committed; the tail files are as before).  The caller holds
 * the partition's `busy`, not its mu.
 */
int sl_writer_commit(shlog_part *p, struct flush_scratch *x, const struct sl_block *b);
/* Create an empty segment at @seq/@off and make it the tail; 1 if its directory sync failed. */
int sl_writer_seg_create(shlog_part *p, uint64_t seq, uint64_t off);
/* Write an anchor for the partition's committed state; p->mu not held. */
int sl_writer_anchor(shlog_part *p, int clean);
/* fdatasync the tail segment's .log and .idx (older ones were synced at roll); 0 or -errno, logged. */
int sl_writer_sync(shlog_part *p);
/* A sync of the partition's files failed: make it sticky (see writer.c); p->mu not held. */
void sl_writer_sync_failed(shlog_part *p);

#endif
