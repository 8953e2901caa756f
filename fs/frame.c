/*
 * frame.c — line framing of writes to a log: complete lines go to an
 * emit callback, the unfinished last line waits in a pending buffer
 * (frame.h gives the invariant; file.c supplies the callbacks).
 *
 * A line longer than max_message is refused with EMSGSIZE.  When it is
 * still unfinished at that moment, the framer remembers it (drop): every
 * later write fails with EMSGSIZE until one holds the line's '\n', and
 * the bytes up to that '\n' are discarded.  Without this, a writer that
 * retries after a short write (cat, stdio) would get the refused line's
 * tail appended as a message of its own.
 */
#include <errno.h>
#include <string.h>

#include "text.h"
#include "frame.h"

/* Refuse the unfinished line: forget it and discard the rest of it. */
static int shlogfs_frame_refuse(const struct shlogfs_frame *f)
{
	f->pend->len = 0;
	*f->drop = 1;
	return -EMSGSIZE;
}

/* Keep an unfinished line; too long for a message: refuse it. */
static int shlogfs_frame_stash(const struct shlogfs_frame *f, const char *p,
			       size_t len)
{
	if (f->pend->len + len > f->max_message)
		return shlogfs_frame_refuse(f);
	return shlogfs_buf_add(f->pend, p, len);
}

/* A write while a refused line is discarded: up to its '\n', then done. */
static ssize_t shlogfs_frame_skip(const struct shlogfs_frame *f,
				  const char *buf, size_t size)
{
	if (memchr(buf, '\n', size))
		*f->drop = 0;
	return -EMSGSIZE;
}

/* Is a line of @p buf (complete ones, or just the first) over max_message? */
static int shlogfs_frame_too_long(const struct shlogfs_frame *f,
				  const char *buf, size_t size, int first)
{
	const char *p = buf, *end = buf + size, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		size_t len = (size_t)(nl - p) + (p == buf ? f->pend->len : 0);
		if (len > f->max_message)
			return 1;
		if (first)
			break;
		p = nl + 1;
	}
	return 0;
}

/*
 * Complete the pending line with the head of @p buf (through its first
 * '\n') and emit it.  Bytes of @p buf used, or a negative errno.
 */
static ssize_t shlogfs_frame_complete(const struct shlogfs_frame *f,
				      const char *buf, size_t size)
{
	size_t head = (size_t)((const char *)memchr(buf, '\n', size) - buf) + 1;
	int rc;

	if (shlogfs_frame_too_long(f, buf, size, 1))
		return shlogfs_frame_refuse(f);
	if ((rc = shlogfs_buf_add(f->pend, buf, head)))
		return rc;
	rc = f->emit(f->arg, f->pend->p, f->pend->len);
	if (rc == -EMSGSIZE)
		return shlogfs_frame_refuse(f);
	if (rc < 0) {
		/* keep it for a retry (EAGAIN, ENOSPC) */
		f->pend->len -= head;
		return rc;
	}
	f->pend->len = 0;
	return (ssize_t)head;
}

/* LOG: pending line, then every complete line in one emit, then the tail. */
ssize_t shlogfs_frame_log(const struct shlogfs_frame *f, const char *buf,
			  size_t size)
{
	const char *last = memrchr(buf, '\n', size);
	size_t head = 0, body;
	ssize_t r;
	int rc;

	if (*f->drop)
		return shlogfs_frame_skip(f, buf, size);
	if (!last) {
		rc = shlogfs_frame_stash(f, buf, size);
		return rc ? rc : (ssize_t)size;
	}
	if (f->pend->len) {
		/* finish the line an earlier request began */
		if ((r = shlogfs_frame_complete(f, buf, size)) < 0)
			return r;
		head = (size_t)r;
	}
	body = (size_t)(last - buf) + 1;
	if (body > head) {
		rc = f->emit(f->arg, buf + head, body - head);
		if (rc < 0)
			return head ? (ssize_t)head : rc;
	}
	if (body < size && shlogfs_frame_stash(f, buf + body, size - body))
		return (ssize_t)body;
	return (ssize_t)size;
}

/* TLOG: pending line, then each complete line on its own, then the tail. */
ssize_t shlogfs_frame_tlog(const struct shlogfs_frame *f, const char *buf,
			   size_t size)
{
	const char *p = buf, *end = buf + size, *nl;
	ssize_t r;
	int rc;

	if (*f->drop)
		return shlogfs_frame_skip(f, buf, size);
	if (f->pend->len && memchr(buf, '\n', size)) {
		if ((r = shlogfs_frame_complete(f, buf, size)) < 0)
			return r;
		p += r;
	}
	/* all of this request's lines or none of them, as for a LOG */
	if (shlogfs_frame_too_long(f, p, (size_t)(end - p), 0))
		return p > buf ? p - buf : -EMSGSIZE;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		if ((rc = f->emit(f->arg, p, (size_t)(nl - p) + 1)) < 0)
			return p > buf ? p - buf : rc;
		p = nl + 1;
	}
	if (p < end && (rc = shlogfs_frame_stash(f, p, (size_t)(end - p))))
		return p > buf ? p - buf : rc;
	return (ssize_t)size;
}

/* Release: the unfinished line becomes a message with its '\n' added. */
int shlogfs_frame_finish(const struct shlogfs_frame *f)
{
	int rc;

	*f->drop = 0;
	if (!f->pend->len)
		return 0;
	if ((rc = shlogfs_buf_add(f->pend, "\n", 1)))
		return rc;
	rc = f->emit(f->arg, f->pend->p, f->pend->len);
	f->pend->len = rc < 0 ? f->pend->len - 1 : 0;
	return rc < 0 ? rc : 0;
}
