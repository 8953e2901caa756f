/*
 * helpers.h — shared scaffolding of the unit tests: temporary data
 * directories, quiet store options, whole-log reads, bounded waits,
 * CRC32C and the fault-injecting I/O seam.
 */
#ifndef SHLOG_TEST_HELPERS_H
#define SHLOG_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shlog.h"

/* ---- temporary directories --------------------------------------- */

/** Create a fresh directory under $TMPDIR (or /tmp); @p buf gets its path. */
void th_tmpdir(char *buf, size_t size);
/** Remove @p path and everything below it; 0 or -errno. */
int th_rmrf(const char *path);

/* ---- stores -------------------------------------------------------- */

/** Defaults with logging silenced (unless SHLOG_TEST_VERBOSE is set). */
void th_opts(struct shlog_options *o);
/** Open @p dir with @p o, create @p topic with @p nparts and get partition 0. */
void th_open_part(const char *dir, const struct shlog_options *o,
		  const char *topic, uint32_t nparts, shlog_store **s,
		  shlog_part **p);
/** Open @p dir and get partition @p part of @p topic; returns open's error. */
int th_reopen_part(const char *dir, const struct shlog_options *o,
		   const char *topic, uint32_t part, shlog_store **s,
		   shlog_part **p);
/** Put @p p (if any) and close @p s, returning close's result. */
int th_close(shlog_store *s, shlog_part *p);
/**
 * Close @p s and @p p, reopen partition 0 of @p topic in @p dir and assert
 * the store came back clean: @p end_seq messages, no bytes dropped by
 * recovery, every close succeeding.
 */
void th_close_reopen_clean(shlog_store *s, shlog_part *p, const char *dir,
			   const struct shlog_options *o, const char *topic,
			   uint64_t end_seq);

/* ---- reading -------------------------------------------------------- */

/** Read the log from start_off to end_off into a malloc()ed buffer. */
int th_read_log(shlog_part *p, char **buf, size_t *len, uint64_t *start_off);
/** Read exactly @p len bytes at @p off (looping); 0 or -errno/-EIO. */
int th_read_at(shlog_part *p, uint64_t off, void *buf, size_t len);
/** Count '\n' bytes in @p buf. */
size_t th_count_lines(const char *buf, size_t len);
/** Split @p buf into lines; @p lines gets a malloc()ed array of pointers. */
size_t th_split_lines(char *buf, size_t len, char ***lines);

/** Append the NUL-terminated @p msg; asserts success; returns its seq. */
uint64_t th_append(shlog_part *p, const char *msg);
/** Append "<prefix><i>" for i in [from, to); asserts success. */
void th_append_range(shlog_part *p, const char *prefix, unsigned from,
		     unsigned to);

/** Wait (at most @p ms) until committed_seq >= @p seq; 0 or -ETIMEDOUT. */
int th_wait_committed(shlog_part *p, uint64_t seq, unsigned ms);
/** Current CLOCK_MONOTONIC time in milliseconds. */
uint64_t th_now_ms(void);
/** Sleep @p ms milliseconds. */
void th_sleep_ms(unsigned ms);
/** Arm a watchdog: the process exits with a message after @p sec seconds. */
void th_watchdog(unsigned sec);

/* ---- the shared cmocka fixture ---------------------------------------- */

/**
 * A test's state: calloc @p size bytes (a struct whose first member is
 * char dir[256]), make a fresh directory in it, arm a @p sec watchdog.
 * @return the state, or NULL if out of memory.
 */
void *th_fx_new(size_t size, unsigned sec);
/** Undo th_fx_new(): restore the I/O seam, remove the directory, free, disarm. */
void th_fx_free(void *fx);
/** A fixture hook that does nothing (TH_FX's INIT and DONE). */
static inline void th_fx_nop(void *fx)
{
	(void)fx;
}
/** Define a test file's fx_setup/fx_teardown for state TYPE and a SEC-second watchdog. */
#define TH_FX(TYPE, SEC) TH_FX_HOOKS(TYPE, SEC, th_fx_nop, th_fx_nop)
/**
 * As TH_FX, with INIT(TYPE *) run on the new state (a test file's own
 * set-up: a standard log, paths) and DONE(void *) run before it is freed
 * (e.g. ol_fx_done, which stops the recording seam).
 */
#define TH_FX_HOOKS(TYPE, SEC, INIT, DONE)                                \
	static int fx_setup(void **state)                                 \
	{                                                                 \
		TYPE *fx_ = th_fx_new(sizeof(TYPE), (SEC));               \
		if (!fx_)                                                 \
			return -1;                                        \
		INIT(fx_);                                                \
		*state = fx_;                                             \
		return 0;                                                 \
	}                                                                 \
	static int fx_teardown(void **state)                              \
	{                                                                 \
		DONE(*state);                                             \
		th_fx_free(*state);                                       \
		return 0;                                                 \
	}

/** A test table's entry for test @p FN with the file's TH_FX fixture. */
#define TH_TEST(FN) cmocka_unit_test_setup_teardown(FN, fx_setup, fx_teardown)

/* ---- files ---------------------------------------------------------- */

/** CRC32C (Castagnoli) of @p len bytes. */
uint32_t th_crc32c(const void *buf, size_t len);
/** The little-endian 64-bit number at @p b (a field of an on-disk file). */
uint64_t th_le64(const void *b);
/** The little-endian 32-bit number at @p b. */
uint32_t th_le32(const void *b);
/** Store @p v little-endian in @p n (1..8) bytes at @p b. */
void th_put_le(void *b, uint64_t v, int n);
/** Path of a partition's file: DIR/TOPIC/PART/NAME. */
void th_path(char *out, size_t size, const char *dir, const char *topic,
	     uint32_t part, const char *name);
/** Path of the segment @p base_seq with extension @p ext ("log"/"idx"). */
void th_seg_path(char *out, size_t size, const char *dir, const char *topic,
		 uint32_t part, uint64_t base_seq, const char *ext);
/** Size of a file, or -errno. */
int64_t th_file_size(const char *path);
/** Read a whole file into a malloc()ed buffer. */
int th_file_read(const char *path, char **buf, size_t *len);
/** Overwrite @p len bytes at @p off of an existing file. */
int th_file_patch(const char *path, uint64_t off, const void *buf, size_t len);
/** XOR the byte at @p off of a file with 0xff. */
int th_file_flip(const char *path, uint64_t off);
/** Truncate (or extend with zeros) a file to @p len. */
int th_file_truncate(const char *path, uint64_t len);
/** Append @p len bytes to a file. */
int th_file_append(const char *path, const void *buf, size_t len);
/** Create the file @p path (it must not exist, mode 0600) holding @p len bytes. */
int th_file_create(const char *path, const void *buf, size_t len);
/** Count *.log files in a partition directory. */
int th_count_segments(const char *dir, const char *topic, uint32_t part);

/** Collected index entries of a partition. */
struct th_index {
	struct shlog_index_entry *e;
	size_t n, cap;
};
/** Fill @p ix with shlog_part_index_foreach(); free with free(ix->e). */
int th_index_get(shlog_part *p, struct th_index *ix);

/* ---- fault injection through the seam ------------------------------- */

enum th_fault_mode {
	TH_FAULT_NONE = 0,
	TH_FAULT_COUNT,   /* count calls only */
	TH_FAULT_CRASH,   /* from call crash_at on, every call fails (EIO) */
	TH_FAULT_TORN,    /* like CRASH, but a pwrite at crash_at writes half */
	TH_FAULT_ENOSPC,  /* pwrite has space_left bytes, then ENOSPC */
	TH_FAULT_SHORT,   /* pwrite writes at most short_max bytes per call */
	TH_FAULT_GATE,    /* pwrite blocks until th_fault_gate_open() */
	TH_FAULT_EIO_ONCE,/* the next pwrite fails once with EIO */
	TH_FAULT_POWERCUT,/* like CRASH, and at the crash every write not yet
			   * fdatasync()ed/fsync()ed is undone (an OS crash);
			   * a close() counts as a sync, metadata ops as durable */
};

/** Install the fault seam in @p mode (resets the counters). */
void th_fault_install(enum th_fault_mode mode);
/** Restore the real system calls (also opens any gate). */
void th_fault_restore(void);
/** Seam calls made since th_fault_install(). */
uint64_t th_fault_calls(void);
/** For CRASH/TORN: the 1-based call from which everything fails. */
void th_fault_set_crash_at(uint64_t n);
/** Whether the crash point has been reached. */
int th_fault_crashed(void);
/** For POWERCUT: unsynced anchor writes survive, data writes do not. */
void th_fault_set_keep_anchor(int keep);
/** For ENOSPC: bytes that may still be written. */
void th_fault_set_space(int64_t bytes);
/** For SHORT: bytes per pwrite call. */
void th_fault_set_short(size_t n);
/** Let gated pwrites through. */
void th_fault_gate_open(void);
/** Number of pwrite calls currently blocked at the gate. */
int th_fault_gate_waiters(void);

/* ---- trials (docs/RELIABILITY.md) ------------------------------------ */

/**
 * Scale of the reliability trials: $SHLOG_TRIAL_SCALE as a number >= 1
 * (1, the default, is the short version run by meson test; the runner
 * scripts/reliability sets it for the long version).
 */
unsigned th_trial_scale(void);
/** Watchdog seconds of a trial test: longer in the long mode. */
#define TH_TRIAL_SEC (th_trial_scale() > 1 ? 1800 : 280)
/** Copy the directory tree @p src to the new path @p dst (files and dirs). */
int th_tree_copy(const char *src, const char *dst);

#endif
