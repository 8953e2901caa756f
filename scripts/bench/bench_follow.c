/*
 * bench_follow.c — shlog-bench-follow: how fast a follower sees appends.
 *
 *   shlog-bench-follow latency [-n N] [-g GAP_US] LOG -- CMD [ARG...]
 *       Runs CMD with its stdout a pipe to this program (`cat P/follow`,
 *       `tail -f -n 0 LOG`, `tail -f -s 0.1 -n 0 LOG`, ...).  2 s later
 *       (so `tail -n 0` is at LOG's end) it appends line 0, which shows
 *       CMD is there, then N lines, "fb PID NNNNNNNN\n" each, to LOG
 *       (O_WRONLY|O_APPEND, one write() a line), each once the previous
 *       one came out of the pipe and a pause drawn uniformly from 0 to
 *       GAP_US microseconds (1000) passed (so a polling follower is met
 *       at every phase of its interval).
 *       A sample runs from write() returning to the line read from the
 *       pipe (negative: it arrived before write() returned).
 *       Output, in microseconds: p50 p99 p99.9 min max (and the count),
 *       then the same from the call of write().
 *   shlog-bench-follow keepup [-q S] FOLLOW LOG
 *       Reads FOLLOW (128 KiB reads) while writers append to LOG; every
 *       10 ms its lag is sampled: LOG's size less the bytes read.  It ends once LOG has stopped growing for S
 *       seconds (2) and every byte was read.  Output: bytes read,
 *       seconds, MB/s, lag p50 p99 max in bytes, and the seconds from
 *       LOG's last growth to the reader having all of it.
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define FB_MAX_SAMPLES 1000000u
#define FB_TIME_LIMIT_S 3600u     /* no run goes longer */

/* ---- statistics ----------------------------------------------------------- */

/* qsort order of samples. */
static int fb_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sample at quantile @p q of the sorted @p v (nearest rank). */
static int64_t fb_quantile(const int64_t *v, uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)n + 0.999999);

	return v[(i == 0 ? 1 : i > n ? n : i) - 1];
}

/* ---- latency ---------------------------------------------------------------- */

/* What the writer and the pipe reader share. */
struct fb_lat {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t n, seen;          /* lines to write, lines arrived */
	int64_t *call_ns, *ret_ns; /* write() called, returned */
	int64_t *arr_ns;           /* line arrived */
	int fd, failed;
};

/* Pipe reader: timestamp each of this run's lines as it arrives. */
static void *fb_lat_reader(void *arg)
{
	struct fb_lat *l = arg;
	char buf[65536], line[64];
	size_t have = 0;
	ssize_t r;

	while ((r = read(l->fd, buf, sizeof buf)) > 0) {
		int64_t now = bench_now_ns();
		for (ssize_t k = 0; k < r; k++) {
			if (buf[k] != '\n') {
				if (have < sizeof line - 1)
					line[have++] = buf[k];
				continue;
			}
			line[have] = 0;
			have = 0;
			unsigned long long i;
			int who;
			if (sscanf(line, "fb %d %llu", &who, &i) != 2 ||
			    who != (int)getpid() || i >= l->n)
				continue;    /* an older run's line, or another's */
			pthread_mutex_lock(&l->mu);
			l->arr_ns[i] = now;
			if (i + 1 > l->seen)
				l->seen = i + 1;
			pthread_cond_signal(&l->cv);
			pthread_mutex_unlock(&l->mu);
		}
	}
	pthread_mutex_lock(&l->mu);
	l->failed = 1;  /* the command ended */
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Wait until line @p i arrived; 0, or -1 if the command ended. */
static int fb_lat_wait(struct fb_lat *l, uint64_t i)
{
	int rc;

	pthread_mutex_lock(&l->mu);
	while (l->seen <= i && !l->failed)
		pthread_cond_wait(&l->cv, &l->mu);
	rc = l->seen > i ? 0 : -1;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Start @p argv with its stdout into a pipe; the read end, or -1. */
static int fb_spawn(char **argv, pid_t *pid)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	if ((*pid = fork()) == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		alarm(FB_TIME_LIMIT_S);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	return *pid < 0 ? -1 : p[0];
}

/* Append line @p i ("fb PID %08llu\n") to @p fd; the times write() was
 * called and returned. */
static int fb_append(int fd, uint64_t i, int64_t *call_ns, int64_t *ret_ns)
{
	char line[48];
	int len = snprintf(line, sizeof line, "fb %d %08llu\n", (int)getpid(),
			   (unsigned long long)i);

	*call_ns = bench_now_ns();
	if (write(fd, line, (size_t)len) != len) {
		perror("write");
		return -1;
	}
	*ret_ns = bench_now_ns();
	return 0;
}

/* Print p50 p99 p99.9 min max in µs of the latencies of @p l's lines
 * @p first.. from @p from (its ret_ns or call_ns). */
static void fb_lat_report(struct fb_lat *l, const int64_t *from,
			  uint64_t first)
{
	uint64_t n = l->n - first;
	int64_t *v = calloc(n ? n : 1, sizeof *v);

	for (uint64_t i = 0; i < n; i++)
		v[i] = l->arr_ns[first + i] - from[first + i];
	qsort(v, n, sizeof *v, fb_cmp);
	printf("%.1f %.1f %.1f %.1f %.1f %llu\n",
	       fb_quantile(v, n, 0.5) / 1e3, fb_quantile(v, n, 0.99) / 1e3,
	       fb_quantile(v, n, 0.999) / 1e3, v[0] / 1e3, v[n - 1] / 1e3,
	       (unsigned long long)n);
	free(v);
}

/* Sleep a time drawn uniformly from 0 to @p max_us microseconds. */
static void fb_pause(uint64_t max_us)
{
	uint64_t us = max_us ? (uint64_t)random() % (max_us + 1) : 0;
	struct timespec ts = { (time_t)(us / 1000000),
			       (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* latency: N appends to @p log, each timed until @p cmd shows it. */
static int fb_latency(const char *log, char **cmd, uint64_t n, uint64_t gap_us)
{
	struct fb_lat l = { .n = n + 1 };
	pthread_t th;
	pid_t pid;
	int wfd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC), rc = 0;

	l.call_ns = calloc(n + 1, sizeof *l.call_ns);
	l.ret_ns = calloc(n + 1, sizeof *l.ret_ns);
	l.arr_ns = calloc(n + 1, sizeof *l.arr_ns);
	if (wfd < 0 || !l.call_ns || !l.ret_ns || !l.arr_ns ||
	    (l.fd = fb_spawn(cmd, &pid)) < 0) {
		perror(log);
		return 1;
	}
	pthread_mutex_init(&l.mu, NULL);
	pthread_cond_init(&l.cv, NULL);
	pthread_create(&th, NULL, fb_lat_reader, &l);
	sleep(2);  /* let the follower open LOG and reach its end (tail -n 0) */
	/* line 0 shows the follower is there; it is not a sample */
	for (uint64_t i = 0; i <= n && rc == 0; i++) {
		if (fb_append(wfd, i, &l.call_ns[i], &l.ret_ns[i]) < 0)
			rc = 1;
		else if (fb_lat_wait(&l, i) < 0) {
			fprintf(stderr, "the follower ended at line %llu\n",
				(unsigned long long)i);
			rc = 1;
		}
		fb_pause(gap_us);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	pthread_join(th, NULL);
	close(wfd);
	if (rc == 0) {
		fb_lat_report(&l, l.ret_ns, 1);
		fb_lat_report(&l, l.call_ns, 1);
	}
	free(l.call_ns);
	free(l.ret_ns);
	free(l.arr_ns);
	return rc;
}

/* ---- keeping up ------------------------------------------------------------- */

/* What the reader shares with the lag sampler. */
struct fb_keep {
	pthread_mutex_t mu;
	uint64_t got;              /* bytes read */
	int done;
	const char *log;
	int64_t *lag;              /* samples */
	uint64_t nlag;
};

/* Sample the lag (the log's size less the bytes read) in @p k. */
static off_t fb_keep_sample(struct fb_keep *k)
{
	struct stat st;

	if (stat(k->log, &st) < 0)
		return -1;
	pthread_mutex_lock(&k->mu);
	if (k->nlag < FB_MAX_SAMPLES)
		k->lag[k->nlag++] = (int64_t)st.st_size - (int64_t)k->got;
	pthread_mutex_unlock(&k->mu);
	return st.st_size;
}

/* Reader thread: read FOLLOW until told to stop. */
static void *fb_keep_reader(void *arg)
{
	struct fb_keep *k = arg;
	static char buf[128 << 10];
	int fd = open(k->log + strlen(k->log) + 1, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0) {
		perror("follow");
		return NULL;
	}
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		pthread_mutex_lock(&k->mu);
		k->got += (uint64_t)r;
		pthread_mutex_unlock(&k->mu);
	}
	return NULL;
}

/* keepup: read @p follow while @p log grows; report the lag. */
static int fb_keepup(const char *follow, const char *log, uint64_t quiet_s)
{
	size_t ll = strlen(log), fl = strlen(follow);
	char *both = malloc(ll + fl + 2);    /* "LOG\0FOLLOW" for the thread */
	struct fb_keep k = { .lag = calloc(FB_MAX_SAMPLES, sizeof *k.lag) };
	int64_t start = bench_now_ns(), grew = start, caught = 0;
	struct timespec tick = { 0, 10000000 };
	off_t last = -1, size;
	pthread_t th;

	if (!both || !k.lag)
		return 1;
	memcpy(both, log, ll + 1);
	memcpy(both + ll + 1, follow, fl + 1);
	k.log = both;
	pthread_mutex_init(&k.mu, NULL);
	pthread_create(&th, NULL, fb_keep_reader, &k);
	for (;;) {
		nanosleep(&tick, NULL);
		if ((size = fb_keep_sample(&k)) < 0)
			return 1;
		int64_t now = bench_now_ns();
		if (size != last) {
			last = size;
			grew = now;
			caught = 0;
		}
		pthread_mutex_lock(&k.mu);
		if (!caught && k.got >= (uint64_t)size)
			caught = now;
		uint64_t got = k.got;
		pthread_mutex_unlock(&k.mu);
		if (caught && now - grew > (int64_t)quiet_s * 1000000000 &&
		    got >= (uint64_t)size)
			break;
		if (now - start > (int64_t)FB_TIME_LIMIT_S * 1000000000)
			return 1;
	}
	/* the reader stays blocked in a read of FOLLOW: exit ends it */
	qsort(k.lag, k.nlag, sizeof *k.lag, fb_cmp);
	double secs = (double)(grew - start) / 1e9;
	printf("%llu %.2f %.1f %lld %lld %lld %.3f\n",
	       (unsigned long long)k.got, secs, k.got / secs / 1e6,
	       (long long)fb_quantile(k.lag, k.nlag, 0.5),
	       (long long)fb_quantile(k.lag, k.nlag, 0.99),
	       (long long)k.lag[k.nlag - 1], (double)(caught - grew) / 1e9);
	free(k.lag);
	free(both);
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

/* Print the usage and return 2. */
static int fb_usage(void)
{
	fprintf(stderr, "usage: shlog-bench-follow latency [-n N] [-g GAP_US] "
		"LOG -- CMD [ARG...]\n"
		"       shlog-bench-follow keepup [-q S] FOLLOW LOG\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t n = 10000, gap = 1000, quiet = 2;
	int c;

	if (argc < 2)
		return fb_usage();
	const char *mode = argv[1];
	argc--;
	argv++;
	while ((c = getopt(argc, argv, "+n:g:q:")) != -1) {
		uint64_t *to = c == 'n' ? &n : c == 'g' ? &gap : &quiet;
		if (c == '?' || bench_parse_count(optarg, to))
			return fb_usage();
	}
	if (n == 0 || n > FB_MAX_SAMPLES)
		return fb_usage();
	if (strcmp(mode, "latency") == 0 && optind + 2 < argc &&
	    strcmp(argv[optind + 1], "--") == 0)
		return fb_latency(argv[optind], argv + optind + 2, n, gap);
	if (strcmp(mode, "keepup") == 0 && optind + 2 == argc)
		return fb_keepup(argv[optind], argv[optind + 1], quiet);
	return fb_usage();
}
