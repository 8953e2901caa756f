/*
 * fuzz.h — what the fuzz targets of tests/fuzz/ share (issue 4, trial 6).
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput().  Built with
 * clang -fsanitize=fuzzer,address,undefined by scripts/fuzz, libFuzzer
 * drives it; built with gcc by tests/fuzz/meson.build, replay.c feeds
 * it the committed corpus (tests/fuzz/corpus/<target>/).
 */
#ifndef SHLOG_FUZZ_H
#define SHLOG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/** libFuzzer's entry point: run one input; always 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * A broken invariant: say which and where (on fd 2, whatever stderr is
 * at the moment), then abort: libFuzzer saves the input as a crash.
 */
#define FUZZ_CHECK(cond)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			dprintf(2, "%s:%d: invariant failed: %s\n",      \
				__FILE__, __LINE__, #cond);              \
			abort();                                          \
		}                                                         \
	} while (0)

/** Little-endian loads and stores (the on-disk format's byte order). */
static inline uint64_t fuzz_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint32_t fuzz_le32(const unsigned char *p)
{
	return (uint32_t)fuzz_le64((const unsigned char[8]){ p[0], p[1], p[2], p[3] });
}

static inline void fuzz_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

#endif /* SHLOG_FUZZ_H */
