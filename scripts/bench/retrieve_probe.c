/*
 * retrieve_probe.c — shlog-retrieve-probe: what notify_retrieve gives a
 * daemon under the kernel's writeback cache (issue 15).
 *
 *   shlog-retrieve-probe [FUSE options] [-o retrieve_ms=MS]
 *       [-o write_delay_ms=MS] [-o line=S] [-o trace] MOUNTPOINT
 *   shlog-retrieve-probe write [-n N] [-s S] [-i US] [-h SEC] PATH
 *
 * The file system: a root holding "log", mounted with the writeback cache
 * (write() copies into the kernel's page cache and returns; the kernel
 * sends pages later as write requests), and "stats", a report generated
 * at open.  The daemon keeps every byte it is given, from write requests
 * and from retrieve replies alike, in one buffer: a byte given a second
 * time is compared with the first (a mismatch is counted), a new one is
 * stored.  With retrieve_ms > 0 a timer asks the kernel every MS for the
 * cached bytes of "log" from the end of what the daemon holds in order
 * (fuse_lowlevel_notify_retrieve, at most PROBE_RETR_MAX a call); a reply
 * that fills the request is followed by the next at once.  write_delay_ms
 * holds each write request that long (pages stay under writeback); line=S
 * checks every line is S bytes of the benchmarks' pattern; trace prints
 * every request and reply on stderr.  "stats" gives the counters, the
 * line check, and the latency of lines made by the write subcommand: from
 * its clock reading just before write() to the moment the daemon holds
 * the line and everything before it.  Truncation (setattr, or open with
 * O_TRUNC) is accepted: the daemon's copy is cut too, replies to asks
 * made before are dropped, and no ask is made for two periods after it
 * (the kernel cuts its own copy only after the daemon's reply: an ask in
 * between gets the old pages).  Multithreaded unless -s is given.
 *
 * The write subcommand opens PATH with O_APPEND, writes N lines (1,000) of
 * S bytes (100), each "t<16 hex digits: CLOCK_MONOTONIC ns>" then the
 * benchmarks' filler, one every US microseconds (1,000; 0: as fast as it
 * can), then keeps the file open SEC seconds (0) without fsync, and
 * closes it.
 */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_LOG_INO 2
#define PROBE_STATS_INO 3
#define PROBE_RETR_MAX (1u << 20)        /* the kernel caps a reply at max_write */
#define PROBE_MAX_BYTES (4ull << 30)     /* largest log the daemon keeps */
#define PROBE_MAX_SAMPLES 10000000u
#define PROBE_STAMP_LEN 17               /* "t" and 16 hex digits */
#define PROBE_LOG_TIMEOUT 1.0            /* as shlogfs -o writeback: the kernel
					    sizes the log itself */

/* ---- state ------------------------------------------------------------ */

struct probe_cfg {
	int retrieve_ms;
	int write_delay_ms;
	int line;
	int trace;
};

/* Where bytes came from. */
enum probe_src { PROBE_WRITE, PROBE_RETR, PROBE_NSRC };

/* What one source gave. */
struct probe_count {
	uint64_t calls;      /* requests or replies */
	uint64_t bytes;      /* bytes they carried */
	uint64_t fresh;      /* bytes the daemon did not hold yet */
	uint64_t again;      /* bytes it held: compared */
	uint64_t differ;     /* of those, bytes that differed */
};

/* The daemon's copy of "log" and everything counted about it. */
struct probe {
	pthread_mutex_t mu;
	char *buf;
	char *known;          /* 1 per byte the daemon holds */
	uint64_t cap;
	uint64_t have;        /* bytes held in order from 0 */
	uint64_t top;         /* end of the furthest byte held */
	uint64_t line_at;     /* start of the first line not checked yet */
	struct probe_count c[PROBE_NSRC];
	uint64_t first_differ; /* offset of the first differing byte, +1 */
	uint64_t r_sent, r_err, r_empty, r_full, r_chain, truncs;
	int r_last_err;
	int r_busy;           /* a retrieve is outstanding */
	uint64_t gen;         /* cuts so far: a reply to an older ask is dropped */
	uint64_t r_stale;     /* replies dropped so */
	int64_t r_hold_until; /* no asks before (ns): the kernel applies a cut
				 after the daemon's reply, and an ask between
				 the two would get the old pages */
	uint64_t lines, bad_lines;
	int64_t *lat;         /* ns, one per stamped line */
	uint64_t nlat;
	int64_t t0;
};

static struct probe_cfg probe_cfg;
static struct probe probe = { .mu = PTHREAD_MUTEX_INITIALIZER };
static struct fuse_session *probe_se;
static volatile int probe_stop;
static const char *const probe_src_name[PROBE_NSRC] = { "write", "retrieve" };

/* Seconds since the mount, for the trace. */
static double probe_secs(void)
{
	return (double)(bench_now_ns() - probe.t0) / 1e9;
}

/* ---- the daemon's copy ------------------------------------------------ */

/* Room for bytes up to @p end (mu held); 0 or -EFBIG/-ENOMEM. */
static int probe_room(uint64_t end)
{
	uint64_t cap = probe.cap ? probe.cap : 1u << 20;
	char *b, *k;

	if (end <= probe.cap)
		return 0;
	if (end > PROBE_MAX_BYTES)
		return -EFBIG;
	while (cap < end)
		cap *= 2;
	b = realloc(probe.buf, cap);
	if (b)
		probe.buf = b;
	k = b ? realloc(probe.known, cap) : NULL;
	if (!k)
		return -ENOMEM;
	memset(k + probe.cap, 0, cap - probe.cap);
	probe.known = k;
	probe.cap = cap;
	return 0;
}

/* Is the line [at, at+len) (its '\n' excluded) the benchmarks' pattern? */
static int probe_line_ok(const char *l, uint64_t len)
{
	uint64_t from = l[0] == 't' ? PROBE_STAMP_LEN : 12;

	if (probe_cfg.line && len + 1 != (uint64_t)probe_cfg.line)
		return 0;
	if (len < from)
		return 0;
	for (uint64_t i = from; i < len; i++)
		if (l[i] != (char)('a' + i % 26))
			return 0;
	return 1;
}

/* The stamp of a line written by the write subcommand, or -1. */
static int64_t probe_stamp(const char *l, uint64_t len)
{
	char hex[17];

	if (len < PROBE_STAMP_LEN || l[0] != 't')
		return -1;
	memcpy(hex, l + 1, 16);
	hex[16] = 0;
	return (int64_t)strtoull(hex, NULL, 16);
}

/* Check and time the lines completed by the in-order bytes (mu held). */
static void probe_lines(int64_t now)
{
	while (probe.line_at < probe.have) {
		const char *l = probe.buf + probe.line_at;
		const char *nl = memchr(l, '\n', probe.have - probe.line_at);
		int64_t ts;

		if (!nl)
			return;
		uint64_t len = (uint64_t)(nl - l);
		probe.lines++;
		probe.bad_lines += !probe_line_ok(l, len);
		ts = probe_stamp(l, len);
		if (ts >= 0 && probe.lat && probe.nlat < PROBE_MAX_SAMPLES)
			probe.lat[probe.nlat++] = now - ts;
		probe.line_at += len + 1;
	}
}

/* Compare the held bytes of a range, store the new ones (mu held). */
static void probe_merge_bytes(struct probe_count *c, uint64_t off,
			      const char *data, uint64_t len)
{
	if (off >= probe.top) { /* all new: the common case */
		memcpy(probe.buf + off, data, len);
		memset(probe.known + off, 1, len);
		c->fresh += len;
		return;
	}
	for (uint64_t i = 0; i < len; i++) {
		if (!probe.known[off + i]) {
			probe.buf[off + i] = data[i];
			probe.known[off + i] = 1;
			c->fresh++;
			continue;
		}
		c->again++;
		if (probe.buf[off + i] != data[i]) {
			c->differ++;
			if (!probe.first_differ)
				probe.first_differ = off + i + 1;
		}
	}
}

/* Take bytes [off, off+len) from @p src; 0 or -errno. */
static int probe_merge(enum probe_src src, uint64_t off, const char *data,
		       uint64_t len)
{
	struct probe_count *c = &probe.c[src];
	int64_t now = bench_now_ns();
	int rc;

	pthread_mutex_lock(&probe.mu);
	rc = probe_room(off + len);
	if (rc == 0) {
		c->calls++;
		c->bytes += len;
		probe_merge_bytes(c, off, data, len);
		if (off + len > probe.top)
			probe.top = off + len;
		while (probe.have < probe.top && probe.known[probe.have]) {
			const char *z = memchr(probe.known + probe.have, 0,
					       probe.top - probe.have);
			probe.have = z ? (uint64_t)(z - probe.known) : probe.top;
		}
		probe_lines(now);
	}
	pthread_mutex_unlock(&probe.mu);
	if (probe_cfg.trace)
		fprintf(stderr, "%.6f %s off=%" PRIu64 " len=%" PRIu64 "\n",
			probe_secs(), probe_src_name[src], off, len);
	return rc;
}

/* Cut the daemon's copy at @p size (a truncate the kernel sent). */
static void probe_cut(uint64_t size)
{
	pthread_mutex_lock(&probe.mu);
	if (size < probe.top) {
		memset(probe.known + size, 0, probe.top - size);
		probe.top = size;
	}
	if (probe.have > size)
		probe.have = size;
	if (probe.line_at > size)
		probe.line_at = size;
	probe.truncs++;
	probe.gen++;
	probe.r_hold_until = bench_now_ns() + 2 * (int64_t)probe_cfg.retrieve_ms * 1000000;
	pthread_mutex_unlock(&probe.mu);
	if (probe_cfg.trace)
		fprintf(stderr, "%.6f truncate size=%" PRIu64 "\n", probe_secs(),
			size);
}

/* ---- retrieving ------------------------------------------------------- */

/* Ask the kernel for "log" from the end of what is held in order. */
static void probe_retrieve(int chained)
{
	uint64_t off, gen;
	int rc;

	pthread_mutex_lock(&probe.mu);
	if ((probe.r_busy && !chained) || bench_now_ns() < probe.r_hold_until) {
		probe.r_busy = probe.r_busy && !chained;
		pthread_mutex_unlock(&probe.mu);
		return;
	}
	probe.r_busy = 1;
	off = probe.have;
	gen = probe.gen;
	probe.r_sent++;
	probe.r_chain += chained;
	pthread_mutex_unlock(&probe.mu);
	rc = fuse_lowlevel_notify_retrieve(probe_se, PROBE_LOG_INO,
					   PROBE_RETR_MAX, (off_t)off,
					   (void *)(uintptr_t)gen);
	if (probe_cfg.trace)
		fprintf(stderr, "%.6f ask off=%" PRIu64 " rc=%d\n", probe_secs(),
			off, rc);
	if (rc) {
		pthread_mutex_lock(&probe.mu);
		probe.r_err++;
		probe.r_last_err = rc;
		probe.r_busy = 0;
		pthread_mutex_unlock(&probe.mu);
	}
}

/* The timer thread: a retrieve every retrieve_ms. */
static void *probe_timer(void *arg)
{
	struct timespec t;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (!probe_stop) {
		t.tv_nsec += (long)probe_cfg.retrieve_ms * 1000000L;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		if (!probe_stop)
			probe_retrieve(0);
	}
	return NULL;
}

/* The kernel's answer: the cached bytes of the range, up to its size. */
static void probe_retrieve_reply(fuse_req_t req, void *cookie, fuse_ino_t ino,
				 off_t offset, struct fuse_bufvec *bufv)
{
	size_t len = fuse_buf_size(bufv);
	char *flat = malloc(len ? len : 1);
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(len);
	int full, stale;

	(void)ino;
	fuse_reply_none(req);
	pthread_mutex_lock(&probe.mu);
	stale = (uintptr_t)cookie != probe.gen;
	probe.r_stale += stale;
	pthread_mutex_unlock(&probe.mu);
	dst.buf[0].mem = flat;
	if (!stale && flat && (size_t)fuse_buf_copy(&dst, bufv, 0) == len)
		probe_merge(PROBE_RETR, (uint64_t)offset, flat, len);
	free(flat);
	pthread_mutex_lock(&probe.mu);
	probe.r_empty += len == 0;
	full = len >= PROBE_RETR_MAX;
	probe.r_full += full;
	probe.r_busy = full;
	pthread_mutex_unlock(&probe.mu);
	if (full)
		probe_retrieve(1);
}

/* ---- the report ------------------------------------------------------- */

/* qsort order of latencies. */
static int probe_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Latency quantile @p q of the sorted samples, in microseconds. */
static double probe_q(const int64_t *v, uint64_t n, double q)
{
	if (!n)
		return 0;
	return (double)v[(uint64_t)(q * (double)(n - 1))] / 1e3;
}

/* The report "stats" shows (malloc'd text, its length in *len). */
static char *probe_report(size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	int64_t *v;
	uint64_t n;

	if (!f)
		return NULL;
	pthread_mutex_lock(&probe.mu);
	for (int s = 0; s < PROBE_NSRC; s++) {
		const struct probe_count *c = &probe.c[s];
		fprintf(f, "%s: calls %" PRIu64 " bytes %" PRIu64 " new %" PRIu64
			" again %" PRIu64 " differ %" PRIu64 "\n",
			probe_src_name[s], c->calls, c->bytes, c->fresh,
			c->again, c->differ);
	}
	fprintf(f, "asked %" PRIu64 " chained %" PRIu64 " errors %" PRIu64
		" (last %d) empty %" PRIu64 " full %" PRIu64 " stale %" PRIu64 "\n",
		probe.r_sent, probe.r_chain, probe.r_err, probe.r_last_err,
		probe.r_empty, probe.r_full, probe.r_stale);
	fprintf(f, "held %" PRIu64 " in order, %" PRIu64 " furthest; "
		"truncates %" PRIu64 "; first differing byte %" PRId64 "\n",
		probe.have, probe.top, probe.truncs,
		(int64_t)probe.first_differ - 1);
	fprintf(f, "lines %" PRIu64 " bad %" PRIu64 "\n", probe.lines,
		probe.bad_lines);
	n = probe.nlat;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (v)
		memcpy(v, probe.lat, n * sizeof(*v));
	pthread_mutex_unlock(&probe.mu);
	if (v) {
		qsort(v, n, sizeof(*v), probe_cmp);
		fprintf(f, "latency us: n %" PRIu64 " p50 %.0f p90 %.0f p99 %.0f "
			"p99.9 %.0f max %.0f\n", n, probe_q(v, n, 0.5),
			probe_q(v, n, 0.9), probe_q(v, n, 0.99),
			probe_q(v, n, 0.999), probe_q(v, n, 1.0));
		free(v);
	}
	fclose(f);
	return text;
}

/* ---- operations ------------------------------------------------------- */

/* Attributes; the size of "log" is the furthest byte the daemon holds. */
static int probe_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (ino != PROBE_LOG_INO && ino != PROBE_STATS_INO)
		return -ENOENT;
	st->st_mode = S_IFREG | (ino == PROBE_LOG_INO ? 0644 : 0444);
	st->st_nlink = 1;
	pthread_mutex_lock(&probe.mu);
	st->st_size = ino == PROBE_LOG_INO ? (off_t)probe.top : 0;
	pthread_mutex_unlock(&probe.mu);
	return 0;
}

/* Attribute timeout of @p ino: a second for "log", as shlogfs's. */
static double probe_timeout(fuse_ino_t ino)
{
	return ino == PROBE_LOG_INO ? PROBE_LOG_TIMEOUT : 0.0;
}

/* Kernel handshake: the writeback cache on, as shlogfs -o writeback asks. */
static void probe_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		fprintf(stderr, "retrieve_probe: no writeback cache\n");
}

/* "log" and "stats" in the root. */
static void probe_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .entry_timeout = 1.0 };

	if (parent == FUSE_ROOT_ID && strcmp(name, "log") == 0)
		e.ino = PROBE_LOG_INO;
	else if (parent == FUSE_ROOT_ID && strcmp(name, "stats") == 0)
		e.ino = PROBE_STATS_INO;
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.attr_timeout = probe_timeout(e.ino);
	probe_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

/* stat(). */
static void probe_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct stat st;
	int rc = probe_stat(ino, &st);

	(void)fi;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, probe_timeout(ino));
}

/* truncate() of "log" cuts the daemon's copy; other changes are ignored. */
static void probe_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino == PROBE_LOG_INO && (to_set & FUSE_SET_ATTR_SIZE))
		probe_cut((uint64_t)attr->st_size);
	if (probe_stat(ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, probe_timeout(ino));
}

/* open(): "log" through the page cache, "stats" a snapshot (direct_io). */
static void probe_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	size_t len = 0;
	char *text;

	if (ino == PROBE_LOG_INO) {
		if (fi->flags & O_TRUNC) /* libfuse asks for atomic O_TRUNC */
			probe_cut(0);
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
		return;
	}
	if (ino != PROBE_STATS_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	text = probe_report(&len);
	if (!text) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)text;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0)
		free(text);
}

/* read(): "log" from the daemon's copy, "stats" from its snapshot. */
static void probe_read(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	const char *text = (const char *)(uintptr_t)fi->fh;
	size_t end = 0;

	if (ino == PROBE_STATS_INO) {
		end = strlen(text);
		if ((size_t)off >= end)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, text + off, size < end - (size_t)off ?
				       size : end - (size_t)off);
		return;
	}
	pthread_mutex_lock(&probe.mu);
	if ((uint64_t)off < probe.top)
		end = (size_t)(probe.top - (uint64_t)off < size ?
			       probe.top - (uint64_t)off : size);
	fuse_reply_buf(req, probe.buf + off, end);
	pthread_mutex_unlock(&probe.mu);
}

/* write(): a page the kernel writes back (or a direct write). */
static void probe_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	int rc;

	(void)fi;
	if (ino != PROBE_LOG_INO) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (probe_cfg.trace)
		fprintf(stderr, "%.6f write-start off=%jd len=%zu\n",
			probe_secs(), (intmax_t)off, size);
	if (probe_cfg.write_delay_ms)
		usleep((useconds_t)probe_cfg.write_delay_ms * 1000u);
	rc = probe_merge(PROBE_WRITE, (uint64_t)off, buf, size);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* flush() and fsync(): nothing is buffered in the daemon. */
static void probe_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* fsync(): the kernel has sent the dirty pages before it. */
static void probe_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)datasync;
	probe_flush(req, ino, fi);
}

/* release(): free a "stats" snapshot. */
static void probe_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	if (ino == PROBE_STATS_INO)
		free((void *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* readdir() of the root. */
static void probe_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	static const char *const names[] = { ".", "..", "log", "stats" };
	static const fuse_ino_t inos[] = { 1, 1, PROBE_LOG_INO, PROBE_STATS_INO };
	char buf[1024];
	size_t used = 0;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (off_t i = off; i < 4; i++) {
		struct stat st = { .st_ino = inos[i],
				   .st_mode = i < 2 ? S_IFDIR : S_IFREG };
		size_t n = fuse_add_direntry(req, buf + used, size - used,
					     names[i], &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops probe_ops = {
	.init = probe_init,
	.lookup = probe_lookup,
	.getattr = probe_getattr,
	.setattr = probe_setattr,
	.open = probe_open,
	.read = probe_read,
	.write = probe_write,
	.flush = probe_flush,
	.release = probe_release,
	.fsync = probe_fsync,
	.readdir = probe_readdir,
	.retrieve_reply = probe_retrieve_reply,
};

/* ---- the writer ------------------------------------------------------- */

/* Stamp the time into a line made by bench_line_init(). */
static void probe_line_time(char *line)
{
	char hex[PROBE_STAMP_LEN + 1];

	snprintf(hex, sizeof(hex), "t%016" PRIx64, (uint64_t)bench_now_ns());
	memcpy(line, hex, PROBE_STAMP_LEN);
}

/* The write subcommand: paced, stamped appends; the file kept open. */
static int probe_writer(int argc, char **argv)
{
	uint64_t n = 1000, size = 100, every_us = 1000, hold = 0, v;
	int opt, fd;
	char *line;

	while ((opt = getopt(argc, argv, "n:s:i:h:")) != -1) {
		if (opt == '?' || bench_parse_count(optarg, &v) < 0)
			goto usage;
		*(opt == 'n' ? &n : opt == 's' ? &size : opt == 'i' ? &every_us
		  : &hold) = v;
	}
	if (optind + 1 != argc || size < PROBE_STAMP_LEN + 2 || size > 65536)
		goto usage;
	fd = bench_append_open(argv[optind], size, &line);
	if (fd < 0)
		return 1;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (uint64_t i = 0; i < n; i++) {
		probe_line_time(line);
		if (write(fd, line, size) != (ssize_t)size) {
			perror("retrieve_probe write");
			return 1;
		}
		t.tv_nsec += (long)every_us * 1000L;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		if (every_us)
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
	sleep((unsigned)hold);
	free(line);
	return close(fd) < 0;
usage:
	fprintf(stderr, "usage: shlog-retrieve-probe write [-n N] [-s S] "
		"[-i US] [-h SEC] PATH\n");
	return 2;
}

/* ---- main ------------------------------------------------------------- */

#define PROBE_OPT(t, p) { t, offsetof(struct probe_cfg, p), 1 }
static const struct fuse_opt probe_opts[] = {
	{ "retrieve_ms=%d", offsetof(struct probe_cfg, retrieve_ms), 0 },
	{ "write_delay_ms=%d", offsetof(struct probe_cfg, write_delay_ms), 0 },
	{ "line=%d", offsetof(struct probe_cfg, line), 0 },
	PROBE_OPT("trace", trace),
	FUSE_OPT_END
};

/* Mount, run the session loop (and the timer), unmount, print the report. */
static int probe_serve(struct fuse_session *se, struct fuse_cmdline_opts *o)
{
	struct fuse_loop_config lc = { .clone_fd = o->clone_fd,
				       .max_idle_threads = o->max_idle_threads };
	pthread_t timer;
	int rc, timing = 0;
	size_t len;
	char *text;

	if (fuse_session_mount(se, o->mountpoint) != 0)
		return 1;
	fuse_daemonize(o->foreground);
	if (probe_cfg.retrieve_ms > 0)
		timing = pthread_create(&timer, NULL, probe_timer, NULL) == 0;
	rc = o->singlethread ? fuse_session_loop(se)
			     : fuse_session_loop_mt(se, &lc);
	probe_stop = 1;
	if (timing)
		pthread_join(timer, NULL);
	fuse_session_unmount(se);
	if ((text = probe_report(&len))) {
		fputs(text, stderr);
		free(text);
	}
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct fuse_args args;
	struct fuse_cmdline_opts o;
	int rc = 1;

	if (argc > 1 && strcmp(argv[1], "write") == 0)
		return probe_writer(argc - 1, argv + 1);
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	probe.t0 = bench_now_ns();
	probe.lat = malloc(PROBE_MAX_SAMPLES * sizeof(*probe.lat));
	if (fuse_parse_cmdline(&args, &o) != 0)
		return 1;
	if (o.show_help || o.show_version || !o.mountpoint) {
		printf("usage: %s [options] MOUNTPOINT\n    -o retrieve_ms=MS "
		       "-o write_delay_ms=MS -o line=S -o trace\n"
		       "       %s write [-n N] [-s S] [-i US] [-h SEC] PATH\n",
		       argv[0], argv[0]);
		goto out;
	}
	if (fuse_opt_parse(&args, &probe_cfg, probe_opts, NULL) < 0)
		goto out;
	probe_se = fuse_session_new(&args, &probe_ops, sizeof(probe_ops), NULL);
	if (!probe_se)
		goto out;
	if (fuse_set_signal_handlers(probe_se) == 0) {
		rc = probe_serve(probe_se, &o);
		fuse_remove_signal_handlers(probe_se);
	}
	fuse_session_destroy(probe_se);
out:
	free(o.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
