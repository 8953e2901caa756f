/*
 * frame.h — line framing of writes to a log (fs/frame.c).
 *
 * A write request to <topic>/<p>/log or <topic>/log carries any bytes;
 * the framer turns them into complete lines for the engine and keeps a
 * handle's unfinished last line in a pending buffer.  It calls no FUSE
 * and no engine function: complete lines go to an emit callback, so a
 * test (tests/fuzz/fuzz_framer.c) can drive it on its own.
 *
 * Invariant: the bytes handed to emit, followed by the pending bytes,
 * are the bytes the writes accepted (a write returning n accepted its
 * first n bytes; an error, nothing), except that a line refused as too
 * long is dropped whole: its bytes accepted by earlier writes, and those
 * that come after the refusal up to its '\n' (each such write fails
 * with EMSGSIZE), so no fragment of it ever becomes a message, even when
 * the kernel turns the refusal into a short write and the writer retries
 * the rest.  Every emit gets whole lines, each ending in '\n'.
 */
#ifndef SHLOGFS_FRAME_H
#define SHLOGFS_FRAME_H

#include <stddef.h>
#include <sys/types.h>

#include "text.h"   /* the pending line is a struct shlogfs_buf */

/** Receives complete lines (each ending in '\n'); 0 or a negative errno. */
typedef int (*shlogfs_frame_emit_fn)(void *arg, const char *lines,
				     size_t len);

/** One handle's framing: its state and where its lines go. */
struct shlogfs_frame {
	struct shlogfs_buf *pend; /**< the unfinished line (state) */
	int *drop;                /**< 1 while the rest of a refused line is discarded (state) */
	size_t max_message;       /**< longest line, without its '\n' */
	shlogfs_frame_emit_fn emit;
	void *arg;                /**< for emit */
};

/**
 * Frame one write to a partition's log: the line completing the pending
 * one, then all the request's complete lines in one emit, then keep the
 * unfinished tail.
 * @return bytes taken (@p size, or fewer when a later step failed), or a
 *         negative errno when nothing was taken (-EMSGSIZE: a line over
 *         max_message, or the rest of one).
 */
ssize_t shlogfs_frame_log(const struct shlogfs_frame *f, const char *buf,
			  size_t size);

/**
 * Frame one write to a topic's log: like shlogfs_frame_log() but one
 * emit per line (each line is routed to its own partition).
 */
ssize_t shlogfs_frame_tlog(const struct shlogfs_frame *f, const char *buf,
			   size_t size);

/**
 * At release: emit the unfinished line with a '\n' added and empty the
 * pending buffer (kept on failure); end a drop.  0 or a negative errno.
 */
int shlogfs_frame_finish(const struct shlogfs_frame *f);

#endif /* SHLOGFS_FRAME_H */
