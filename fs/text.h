/*
 * text.h — buffers, generated text and the hash of a key (text.c).  No
 * daemon state: the framer's fuzz target links text.c alone.  Times,
 * sizes, numbers and keys are parsed by the library (shlog.h, "text").
 */
#ifndef SHLOGFS_TEXT_H
#define SHLOGFS_TEXT_H

#include <time.h>

#include <stddef.h>
#include <stdint.h>

#include "shlogfs.h"

/** Append @p len bytes to @p b; 0 or -ENOMEM. */
int shlogfs_buf_add(struct shlogfs_buf *b, const void *p, size_t len);
/** Append formatted text to @p b; 0 or -ENOMEM. */
int shlogfs_buf_printf(struct shlogfs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Lines handed one by one (a backend's state_lines, part_lines) into a buffer. */
struct shlogfs_buf_lines {
	struct shlogfs_buf *b;
	int rc;                    /**< the first error (0: every line added) */
};
/** A shlogfs_line_fn: add @p line and a '\n' to ((struct shlogfs_buf_lines *)@p arg)->b. */
void shlogfs_buf_line(const char *line, void *arg);
/** The capacity shlogfs_buf_reserve() would give @p b for @p len bytes. */
size_t shlogfs_buf_cap_for(const struct shlogfs_buf *b, size_t len);
/** Make room for @p len bytes in total; 0 or -ENOMEM. */
int shlogfs_buf_reserve(struct shlogfs_buf *b, size_t len);
/** Free @p b's memory. */
void shlogfs_buf_free(struct shlogfs_buf *b);

/** Text of <p>/anchor from @p in into @p out (emptied first). */
int shlogfs_text_anchor(const struct shlog_part_info *in, struct shlogfs_buf *out);
/** Text of <p>/stats from @p in into @p out (emptied first). */
int shlogfs_text_stats(const struct shlog_part_info *in, struct shlogfs_buf *out);
/** Begin a text of <p>/index in @p out (emptied, counted)... */
void shlogfs_text_index_begin(struct shlogfs_buf *out);
/** ...and add one entry's line (an index_foreach callback: @p arg is the buffer; 1 on ENOMEM). */
int shlogfs_text_index_entry(const struct shlog_index_entry *e, void *arg);
/** Index texts made since start (/.metrics, root only). */
uint64_t shlogfs_text_made_total(void);

/** 32-bit FNV-1a of @p len bytes. */
uint32_t shlogfs_fnv1a(const void *p, size_t len);
/** Room for one more element of @p elem bytes in array @p v of @p n
 *  (capacity *@p cap, doubled from 16): the array, or NULL (unchanged). */
void *shlogfs_array_room(void *v, size_t *cap, size_t n, size_t elem);
/** CLOCK_MONOTONIC in ns. */
int64_t shlogfs_mono_ns(void);
/** The CLOCK_REALTIME time @p ms from now (a pthread_cond_timedwait deadline). */
struct timespec shlogfs_deadline_ms(long ms);

#endif /* SHLOGFS_TEXT_H */
