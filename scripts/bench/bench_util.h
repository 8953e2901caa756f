/*
 * bench_util.h — helpers shared by the benchmark programs: clocks, the
 * synthetic messages every benchmark writes, and number parsing.
 *
 * A benchmark "line" of S bytes is a message of S-1 bytes followed by
 * '\n', so N lines are exactly N*S bytes in a log, in a plain file and
 * through a mount.  Keyed lines start with "k<5 digits>\t" (7 digits
 * past 100,000 keys).
 */
#ifndef SHLOG_BENCH_UTIL_H
#define SHLOG_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/** Smallest line the generator accepts (the key prefix and a byte). */
#define BENCH_LINE_MIN 16u

/** Monotonic time in nanoseconds. */
int64_t bench_now_ns(void);

/** Fill @p line (@p size bytes) with filler and a final '\n'. */
void bench_line_init(char *line, size_t size);

/**
 * Stamp line number @p i into a line made by bench_line_init(): with
 * @p nkeys > 0 a key "k%05u\t" chosen by @p i ("k%07u\t" when
 * @p nkeys > 100,000; at most 10,000,000), else a hex counter.
 */
void bench_line_stamp(char *line, uint64_t i, uint32_t nkeys);

/**
 * Open @p path for appending (O_WRONLY|O_APPEND) and make a line buffer
 * of @p size bytes with bench_line_init(); the fd, or -1 (reported on
 * stderr, nothing left open or allocated).
 */
int bench_append_open(const char *path, size_t size, char **line);

/** Parse a count with an optional k/M/G suffix (powers of 1000 or, with "i", 1024). */
int bench_parse_count(const char *s, uint64_t *out);

/**
 * Sort the @p n latency samples @p v (nanoseconds) and print, in
 * microseconds, "p50 p99 p99.9 min max count" on one line of stdout.
 */
void bench_lat_report(int64_t *v, uint64_t n);

/** Peak resident set of this process in KiB. */
long bench_peak_rss_kib(void);

#endif
