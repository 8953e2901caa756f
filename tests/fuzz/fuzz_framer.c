/*
 * fuzz_framer.c — fuzz target: the daemon's line framing (fs/frame.c)
 * fed arbitrary sequences of writes (issue 4, trial 6).
 *
 * Input: a mode byte (bit 0: <topic>/log framing, one emit per line,
 * else <p>/log framing; bits 1..7: max_message = 1 + that value), a
 * byte giving the kernel's request size (1 + it % 64), then writes, each
 * as a control byte, a length byte and that many bytes.
 *
 * Each write is one write(2) of a writer that retries the rest after a
 * short write, as cat and stdio do.  The kernel side is played as FUSE
 * does it: the write goes out as requests of the request size, and a
 * failed or short request ends it (an error only if nothing was taken).
 * Control bits 0-1 choose which emit fails during the first attempt
 * (none, the first, the second, every one), bits 2-3 the error (EAGAIN,
 * ENOSPC, EIO, ENOMEM); bit 4 ends the handle after the write (release:
 * the unfinished line is emitted with its '\n'; bit 5 makes that fail).
 * The emit callback plays the engine: it refuses a line over
 * max_message with EMSGSIZE, as shlog_part_append_lines() does.
 *
 * After every write the invariant of fs/frame.h is checked against what
 * the writer was told: everything emitted, then the pending bytes, equals
 * the bytes its write calls reported written, less the unfinished line
 * at each EMSGSIZE.  So a refused line's tail, re-sent by the writer
 * after a short write, must never become a message.  Also: every emit
 * is whole lines (one for <topic>/log), and the pending bytes hold no '\n'.
 */
#include <errno.h>
#include <string.h>

#include "shlogfs.h"
#include "frame.h"
#include "fuzz.h"

/** A growable byte string of the model. */
struct fuzz_bytes {
	char *p;
	size_t len, cap;
};

/** The emulated engine and the model. */
struct fuzz_framer {
	int tlog;             /* <topic>/log framing */
	size_t max;           /* max_message */
	unsigned fail_which;  /* 0 none, 1 first emit, 2 second, 3 all */
	int fail_err;         /* the error of a failing emit */
	unsigned emits;       /* emits of the current write call */
	size_t reqsize;       /* the kernel's largest write request */
	struct fuzz_bytes emitted, accepted;
};

/* Append to a model string; aborts on ENOMEM (a test, not the daemon). */
static void fuzz_bytes_add(struct fuzz_bytes *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		FUZZ_CHECK(b->p);
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* The emit callback: check the lines, then accept or fail like the engine. */
static int fuzz_emit(void *arg, const char *lines, size_t len)
{
	struct fuzz_framer *z = arg;
	const char *p = lines, *end = lines + len, *nl;
	unsigned n = ++z->emits;

	FUZZ_CHECK(len >= 1 && lines[len - 1] == '\n'); /* whole lines */
	if (z->tlog) { /* one line per emit, never too long: the framer checks */
		FUZZ_CHECK(memchr(lines, '\n', len) == lines + len - 1);
		FUZZ_CHECK(len - 1 <= z->max);
	}
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!z->tlog && (size_t)(nl - p) > z->max)
			return -EMSGSIZE;
	}
	if (z->fail_which == 3 || z->fail_which == n)
		return z->fail_err;
	fuzz_bytes_add(&z->emitted, lines, len);
	return 0;
}

/* Drop the unfinished last line of the accepted bytes (EMSGSIZE). */
static void fuzz_drop_line(struct fuzz_bytes *acc)
{
	while (acc->len && acc->p[acc->len - 1] != '\n')
		acc->len--;
}

/* The invariant of fs/frame.h, after any step. */
static void fuzz_check(const struct fuzz_framer *z, const struct shlogfs_buf *pend)
{
	FUZZ_CHECK(z->emitted.len + pend->len == z->accepted.len);
	FUZZ_CHECK(z->emitted.len == 0 ||
		   memcmp(z->emitted.p, z->accepted.p, z->emitted.len) == 0);
	FUZZ_CHECK(pend->len == 0 ||
		   memcmp(pend->p, z->accepted.p + z->emitted.len, pend->len) == 0);
	FUZZ_CHECK(pend->len == 0 || !memchr(pend->p, '\n', pend->len));
	FUZZ_CHECK(pend->len <= z->max);
}

/* One FUSE write request through the framer. */
static ssize_t fuzz_request(struct fuzz_framer *z, const struct shlogfs_frame *f,
			    const char *buf, size_t len)
{
	ssize_t n = z->tlog ? shlogfs_frame_tlog(f, buf, len)
			    : shlogfs_frame_log(f, buf, len);

	FUZZ_CHECK(n <= (ssize_t)len && n != 0);
	FUZZ_CHECK(f->pend->len == 0 || !*f->drop);
	return n;
}

/* One write(2) as the kernel splits it: bytes written or -errno. */
static ssize_t fuzz_syscall(struct fuzz_framer *z, const struct shlogfs_frame *f,
			    const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t r = len - done < z->reqsize ? len - done : z->reqsize;
		ssize_t n = fuzz_request(z, f, buf + done, r);
		if (n < 0)
			return done ? (ssize_t)done : n;
		done += (size_t)n;
		if ((size_t)n < r)
			break;
	}
	return (ssize_t)done;
}

/* One write of the writer: retried after short writes until done or an error. */
static void fuzz_write(struct fuzz_framer *z, const struct shlogfs_frame *f,
		       unsigned ctl, const uint8_t *data, size_t len)
{
	static const int errs[] = { -EAGAIN, -ENOSPC, -EIO, -ENOMEM };
	char *buf = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
	size_t off = 0;

	FUZZ_CHECK(buf);
	memcpy(buf, data, len);
	z->fail_which = ctl & 3;
	z->fail_err = errs[(ctl >> 2) & 3];
	while (off < len) {
		z->emits = 0;
		ssize_t n = fuzz_syscall(z, f, buf + off, len - off);
		z->fail_which = 0; /* the fault was transient */
		if (n < 0) {
			if (n == -EMSGSIZE)
				fuzz_drop_line(&z->accepted);
			break;
		}
		fuzz_bytes_add(&z->accepted, buf + off, (size_t)n);
		off += (size_t)n;
	}
	free(buf);
	fuzz_check(z, f->pend);
}

/* Release (its emit failing with @p fail): the unfinished line goes out with a '\n' added. */
static void fuzz_finish(struct fuzz_framer *z, const struct shlogfs_frame *f,
			int fail)
{
	int had = f->pend->len > 0;

	z->fail_which = fail ? 1 : 0;
	z->emits = 0;
	int rc = shlogfs_frame_finish(f);
	if (rc == 0 && had)
		fuzz_bytes_add(&z->accepted, "\n", 1);
	if (rc == 0)
		FUZZ_CHECK(f->pend->len == 0);
	FUZZ_CHECK(!*f->drop);
	fuzz_check(z, f->pend);
}

/* libFuzzer entry: one sequence of writes on one handle (or several). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_framer z = { 0 };
	struct shlogfs_buf pend = { 0 };
	int drop = 0;
	struct shlogfs_frame f = { &pend, &drop, 0, fuzz_emit, &z };
	size_t i = 2;

	if (size < 2)
		return 0;
	z.tlog = data[0] & 1;
	z.max = f.max_message = 1 + (data[0] >> 1);
	z.reqsize = 1 + data[1] % 64;
	while (i + 2 <= size) {
		unsigned ctl = data[i];
		size_t len = data[i + 1];
		i += 2;
		if (len > size - i)
			len = size - i;
		fuzz_write(&z, &f, ctl, data + i, len);
		i += len;
		if (ctl & 0x10) {
			fuzz_finish(&z, &f, ctl & 0x20);
			/* a line whose release failed is lost with its handle */
			pend.len = 0;
			z.accepted.len = z.emitted.len;
		}
	}
	fuzz_finish(&z, &f, 0);
	shlogfs_buf_free(&pend);
	free(z.emitted.p);
	free(z.accepted.p);
	return 0;
}
