/*
 * read.c — serving reads: from a partition's log (holes where retention
 * deleted), through a handle's read-ahead, or from a snapshot it holds.
 *
 * Logs, at/<N> and since/<time> are read with direct_io: every read()
 * comes to the daemon.  Through the page cache a reader could see NUL
 * bytes: after a direct write the kernel sets its size of the log to the
 * write's end, an unfinished last line (held in its handle) included,
 * so a page read at the log's end is short inside that size and the
 * kernel keeps the zero-filled rest of the page as data; a larger size
 * from getattr is also set before old pages are dropped.  (Private
 * mmap, sendfile and splice still read the page cache: the page reads
 * the kernel sends for them are answered by pcache.c.)  The warm
 * path: a sequential reader is served from its handle's read-ahead,
 * filled by large engine reads (each span's CRC checked once per fill),
 * so a 4 KiB read costs one round trip and a copy from memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "held_i.h"
#include "read.h"
#include "budget.h"
#include "text.h"

/* Fill @p buf from a log; bytes below start_off: zeros if @p holes, else -ESTALE. */
ssize_t shlogfs_fill(shlogfs_bpart *p, uint64_t off, char *buf, size_t size,
		     int holes)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r = shlogfs_part_read(p, off + got, buf + got, size - got);
		if (r == -ENODATA) {
			/* deleted by retention: a hole, as in a sparse file */
			struct shlog_part_info in;
			int rc = shlogfs_part_info(p, &in);
			if (rc)
				return got ? (ssize_t)got : rc;
			if (in.start_off <= off + got)
				return got ? (ssize_t)got : -EIO;
			if (!holes)
				return got ? (ssize_t)got : -ESTALE;
			uint64_t z = in.start_off - (off + got);
			if (z > size - got)
				z = size - got;
			memset(buf + got, 0, z);
			got += z;
			continue;
		}
		if (r < 0)
			return got ? (ssize_t)got : r;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Fill @p buf from a partition's log; bytes below start_off read as zeros. */
ssize_t shlogfs_part_fill(shlogfs_bpart *p, uint64_t off, char *buf, size_t size)
{
	return shlogfs_fill(p, off, buf, size, 1);
}

/* Serve a slice of a snapshot held in the handle. */
static ssize_t shlogfs_snap_fill(struct shlogfs_handle *h, uint64_t off,
				 char *buf, size_t size)
{
	size_t n = 0;

	pthread_mutex_lock(&h->lock);
	if (off < h->buf.len) {
		n = h->buf.len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, h->buf.p + off, n);
	}
	pthread_mutex_unlock(&h->lock);
	return (ssize_t)n;
}

/*
 * The read-ahead of a log, at/ or since/ handle: a read that starts
 * where the last one ended fills SHLOGFS_RA_SIZE bytes (or the read's
 * size, if larger); another read fills only what it asked for.  Bytes
 * once written never change, so what it holds stays true; a read that
 * reaches past its end refills it from the read's offset, so a reader
 * at the end of a growing log sees new lines at once.
 */
#define SHLOGFS_RA_SIZE (1u << 20)

/* Where a view (at/, since/: its kind's base operation) starts; until a
 * read returned bytes it is found again at each read, so it is never
 * older than the handle's first byte (ra_lock held). */
static int shlogfs_view_start(struct shlogfs *fs, struct shlogfs_handle *h)
{
	SL_HELD(&h->ra_lock);
	if (h->based || !h->node->kind->base)
		return 0;
	return h->node->kind->base(fs, h->node, &h->base);
}

/*
 * Keep a reader's read-ahead only while its opener's budget allows
 * (ra_lock held): past it the buffer is freed after the reply, so a
 * user with many readers gets reads without read-ahead, never an error.
 */
static void shlogfs_ra_charge(struct shlogfs *fs, struct shlogfs_handle *h)
{
	SL_HELD(&h->ra_lock);
	if (shlogfs_budget_set(fs, h->uid, &h->ra_held, h->ra.cap,
			       "read-ahead") == 0)
		return;
	shlogfs_buf_free(&h->ra);
	shlogfs_budget_set(fs, h->uid, &h->ra_held, 0, "read-ahead");
}

/*
 * Refill @p h's read-ahead from log offset @p off for a read of @p size
 * (ra_lock held): up to SHLOGFS_RA_SIZE bytes for a sequential reader,
 * no more than the log holds, so a reader at its end keeps little memory.
 */
static ssize_t shlogfs_ra_fill(struct shlogfs_handle *h, uint64_t off,
			       size_t size, int holes)
{
	SL_HELD(&h->ra_lock);
	struct shlog_part_info in;
	size_t want = size;
	ssize_t r;

	if ((off == h->ra_off + h->ra.len || off == h->base) &&
	    want < SHLOGFS_RA_SIZE) {
		if ((r = shlogfs_part_info(h->part, &in)))
			return r;
		uint64_t avail = in.end_off > off ? in.end_off - off : 0;
		want = avail > SHLOGFS_RA_SIZE ? SHLOGFS_RA_SIZE :
		       avail > size ? (size_t)avail : size;
	}
	h->ra.len = 0;
	if (h->ra.cap > 2 * want)
		shlogfs_buf_free(&h->ra);
	if ((r = shlogfs_buf_reserve(&h->ra, want)))
		return r;
	r = shlogfs_fill(h->part, off, h->ra.p, want, holes);
	if (r < 0)
		return r;
	h->ra_off = off;
	h->ra.len = (size_t)r;
	return r;
}

/* Serve a read of a log, at/ or since/ through the handle's read-ahead. */
void shlogfs_read_ahead(fuse_req_t req, struct shlogfs_handle *h,
			uint64_t off, size_t size, int holes)
{
	shlogfs_read_ahead_if(req, h, off, size, holes, NULL);
}

/* The same, the reply first agreed by @p check with the bytes found
 * (page reads, pcache.c): it may turn them into an error. */
void shlogfs_read_ahead_if(fuse_req_t req, struct shlogfs_handle *h,
			   uint64_t off, size_t size, int holes,
			   shlogfs_read_check_fn check)
{
	struct shlogfs *fs = shlogfs_of(req);
	ssize_t r = 0;
	uint64_t at = 0;
	size_t n = 0;

	pthread_mutex_lock(&h->ra_lock);
	if ((r = shlogfs_view_start(fs, h)) == 0) {
		at = h->base + off;
		if (at < h->ra_off || at + size > h->ra_off + h->ra.len)
			r = shlogfs_ra_fill(h, at, size, holes);
	}
	if (r >= 0) {
		n = at < h->ra_off + h->ra.len ?
		    (size_t)(h->ra_off + h->ra.len - at) : 0;
		if (n > size)
			n = size;
		if (check)
			r = check(fs, h, off, size, n);
	}
	if (r < 0) {
		fuse_reply_err(req, (int)-r);
	} else {
		if (n)
			h->based = 1;
		fuse_reply_buf(req, n ? h->ra.p + (at - h->ra_off) : NULL, n);
	}
	shlogfs_ra_charge(fs, h);
	pthread_mutex_unlock(&h->ra_lock);
}

/* Reply to a read with what @p fill puts in a buffer of @p size bytes. */
void shlogfs_reply_fill(fuse_req_t req, struct shlogfs_handle *h, size_t size,
			uint64_t off,
			ssize_t (*fill)(struct shlogfs_handle *h, uint64_t off,
					char *buf, size_t size))
{
	char *buf = malloc(size ? size : 1);
	ssize_t r;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = fill(h, off, buf, size);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

/* read op of a snapshot (status files, keys, root files). */
void shlogfs_read_snap(fuse_req_t req, struct shlogfs_handle *h, size_t size,
		       uint64_t off)
{
	shlogfs_reply_fill(req, h, size, off, shlogfs_snap_fill);
}
