/* bench_util.c — clocks, synthetic lines and parsing for the benchmarks. */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

/* Used by every benchmark to time its measured section. */
int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Called once per buffer: printable filler, no TAB, ending in '\n'. */
void bench_line_init(char *line, size_t size)
{
	for (size_t i = 0; i + 1 < size; i++)
		line[i] = (char)('a' + i % 26);
	line[size - 1] = '\n';
}

/* Called per message: cheap enough not to dominate a 100-byte append. */
void bench_line_stamp(char *line, uint64_t i, uint32_t nkeys)
{
	static const char hex[] = "0123456789abcdef";

	if (nkeys > 0) {
		/* spread keys so consecutive lines differ: i * prime mod K */
		uint32_t k = (uint32_t)((i * 7919u) % nkeys);
		int digits = nkeys > 100000 ? 7 : 5;

		line[0] = 'k';
		for (int d = digits; d >= 1; d--) {
			line[d] = (char)('0' + k % 10);
			k /= 10;
		}
		line[digits + 1] = '\t';
		return;
	}
	for (int d = 11; d >= 0; d--) {
		line[d] = hex[i & 15];
		i >>= 4;
	}
}

/* Command-line sizes such as 10M, 1Gi, 100. */
int bench_parse_count(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v, unit = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		int bin = end[1] == 'i';
		uint64_t base = bin ? 1024 : 1000;

		switch (*end) {
		case 'k': case 'K': unit = base; break;
		case 'M': unit = base * base; break;
		case 'G': unit = base * base * base; break;
		default: return -EINVAL;
		}
		if (end[1 + bin] != '\0')
			return -EINVAL;
	}
	*out = v * unit;
	return 0;
}

/* Reported by the recovery benchmark after opening a store. */
long bench_peak_rss_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

/* Open a file for appending with a fresh line buffer. */
int bench_append_open(const char *path, size_t size, char **line)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	*line = malloc(size);
	if (!*line || fd < 0) {
		perror(path);
		free(*line);
		*line = NULL;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	bench_line_init(*line, size);
	return fd;
}

/* qsort order for the samples. */
static int lat_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sample at quantile @p q of the sorted @p v (nearest rank). */
static double lat_quantile(const int64_t *v, uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)n + 0.999999);

	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return (double)v[i - 1] / 1e3;
}

/* Called once per latency run, at its end: the quantiles on stdout. */
void bench_lat_report(int64_t *v, uint64_t n)
{
	qsort(v, n, sizeof(*v), lat_cmp);
	printf("%.1f %.1f %.1f %.1f %.1f %lu\n", lat_quantile(v, n, 0.5),
	       lat_quantile(v, n, 0.99), lat_quantile(v, n, 0.999),
	       (double)v[0] / 1e3, (double)v[n - 1] / 1e3, (unsigned long)n);
}
