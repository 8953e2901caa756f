/*
 * kbackend_test.c — fs/be_kafka.c's table driven directly (no FUSE)
 * against the mock cluster (tests/kafka/t_kbackend.sh starts it), and
 * against a fake message source for what the mock cannot serve.
 *
 *   kbackend_test BROKERS CACHEDIR CMD ARGS
 *
 *   roundtrip TOPIC OUT  append 12,000 lines (keyed, keyless, tombstones) to
 *                        TOPIC [0] through one writer, sync; read them back
 *                        by byte (sequentially and at random), seek_seq,
 *                        keys; write the expected bytes to OUT (for kcat)
 *   restart TOPIC OUT    reopen: the size is resumed at once, the keys are
 *                        back, 100 more lines append, OUT rewritten
 *   fake                 topic G [0] from a fake source: offsets with gaps,
 *                        null values, a moving log start
 *   route FILE NPARTS    each "PART KEY" line of FILE: key_route(KEY) == PART
 *   admin                mkdir / add partition / delete refused clearly
 *   modes                chmod/chown kept in the cache dir across a restart
 *   readers TOPIC NPARTS a line into each partition, read back: the
 *                        process's threads stay bounded (readers are)
 *   down                 (BROKERS is nobody) open fails with a bound
 *   nonblock TOPIC       (TOPIC [0]'s leader down) SHLOG_NONBLOCK is EAGAIN at a
 *                        full queue; after "go" on stdin a held append is delivered
 *   bench TOPIC COUNT    figures (not in the suite): append rate through the
 *                        table, the index's cold start, random 4 KiB reads
 *
 * Exit 0 when every check holds; a failed check prints why and exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "be_kafka.h"
#include "kpart.h"

static const char *brokers, *cachedir;
static const char *extra_opt;   /* one more option for open_store (nonblock) */
static shlogfs_bstore *S;   /* the store open_store() opened last */

/* Fail the test with a message. */
__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "kbackend_test: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Milliseconds of CLOCK_MONOTONIC. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open the backend on the test's brokers and cache dir with stride @stride. */
static shlogfs_bstore *open_store(uint32_t stride)
{
	struct shlogfs_kafka_conf *c;
	struct shlog_options o;
	shlogfs_bstore *s;
	char opt[600], err[512] = "";
	int rc;

	shlog_options_init(&o);
	o.stride = stride;
	if (shlogfs_kafka_conf_new(&c))
		die("conf_new");
	snprintf(opt, sizeof(opt), "brokers=%s", brokers);
	if ((rc = shlogfs_kafka_conf_opt(c, opt, err, sizeof(err))))
		die("%s: %s", opt, err);
	if ((rc = shlogfs_kafka_conf_opt(c, "kafka.reconnect.backoff.max.ms=200", err, sizeof(err))))
		die("%s", err);
	if (extra_opt && (rc = shlogfs_kafka_conf_opt(c, extra_opt, err, sizeof(err))))
		die("%s", err);
	rc = shlogfs_kafka_open(cachedir, c, &o, &s, err, sizeof(err));
	shlogfs_kafka_conf_free(c);
	if (rc)
		die("open: %s (%s)", strerror(-rc), err);
	shlogfs_backend_set(&shlogfs_backend_kafka);
	S = s;
	return s;
}

/* The expected log of the round trip, line @i of it into @b: its length. */
static size_t rt_line(int i, char *b, size_t cap)
{
	if (i % 10 == 3)   /* a tombstone of the key written 10 lines before */
		return (size_t)snprintf(b, cap, "key%d\t", (i + 40) % 50);
	if (i % 3 == 0)
		return (size_t)snprintf(b, cap, "key%d\tvalue %d %.*s", i % 50, i, i % 97, "x"
					"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	return (size_t)snprintf(b, cap, "line %d without a key", i);
}

/* Append lines [@from, @to) of the round trip to @p, in batches, and sync; their bytes into @want. */
static void rt_append(shlogfs_bpart *p, int from, int to, char *want, size_t *wlen)
{
	shlogfs_bwriter *w;
	char batch[8192];
	size_t n = 0;
	int rc;

	if ((rc = shlogfs_writer_new(S, &w)) && rc != -EOPNOTSUPP)
		die("writer_new: %s", strerror(-rc));
	for (int i = from; i < to; i++) {
		size_t l = rt_line(i, batch + n, sizeof(batch) - n - 1);
		batch[n + l] = '\n';
		memcpy(want + *wlen, batch + n, l + 1);
		*wlen += l + 1;
		n += l + 1;
		if (n > sizeof(batch) - 300 || i == to - 1) {
			if ((rc = shlogfs_part_append_lines(p, w, batch, n, 0, NULL)))
				die("append_lines at line %d: %s", i, strerror(-rc));
			n = 0;
		}
	}
	if ((rc = shlogfs_part_sync(p, w)))
		die("part_sync: %s", strerror(-rc));
	shlogfs_writer_free(w);
}

/* Read @p's whole log by @chunk-byte reads and compare with @want. */
static void rt_read_all(shlogfs_bpart *p, const char *want, size_t wlen, size_t chunk)
{
	char *got = malloc(wlen + 1);
	size_t off = 0;

	while (off < wlen + 1) {
		ssize_t r = shlogfs_part_read(p, off, got + off, chunk < wlen + 1 - off ? chunk : wlen + 1 - off);
		if (r < 0)
			die("read at %zu: %s", off, strerror((int)-r));
		if (r == 0)
			break;
		off += (size_t)r;
	}
	if (off != wlen)
		die("read %zu bytes by %zu-byte reads, %zu written", off, chunk, wlen);
	if (memcmp(got, want, wlen))
		die("the bytes read by %zu-byte reads differ from those written", chunk);
	free(got);
}

/* Check reads at random positions of @p against @want, and a jump back from the end to the start. */
static void rt_read_random(shlogfs_bpart *p, const char *want, size_t wlen)
{
	char buf[4096];

	if (shlogfs_part_read(p, wlen - 10, buf, 10) != 10 || memcmp(buf, want + wlen - 10, 10) ||
	    shlogfs_part_read(p, 0, buf, 10) != 10 || memcmp(buf, want, 10))
		die("a read at the start after one at the end gave wrong bytes");

	srand(7);
	for (int i = 0; i < 200; i++) {
		size_t off = (size_t)rand() % wlen, len = 1 + (size_t)rand() % sizeof(buf);
		ssize_t r = shlogfs_part_read(p, off, buf, len);
		if (r <= 0)
			die("read of %zu at %zu: %zd", len, off, r);
		if ((size_t)r > len || off + (size_t)r > wlen || memcmp(buf, want + off, (size_t)r))
			die("read of %zu at %zu gave wrong bytes", len, off);
	}
}

/* seek_seq of every 37th message, the end and past it, against the lines of @want. */
static void rt_seek(shlogfs_bpart *p, const char *want, size_t wlen, uint64_t nlines)
{
	uint64_t seq = 0, off;
	int rc;

	for (size_t pos = 0; pos <= wlen; seq++) {
		const char *nl = pos < wlen ? memchr(want + pos, '\n', wlen - pos) : NULL;
		if (seq % 37 == 0 || seq == nlines) {
			if ((rc = shlogfs_part_seek_seq(p, seq, &off)))
				die("seek_seq %llu: %s", (unsigned long long)seq, strerror(-rc));
			if (off != pos)
				die("seek_seq %llu: position %llu, not %zu", (unsigned long long)seq,
				    (unsigned long long)off, pos);
		}
		if (!nl)
			break;
		pos = (size_t)(nl - want) + 1;
	}
	if ((rc = shlogfs_part_seek_seq(p, nlines + 1, &off)) != -ERANGE)
		die("seek_seq past the end: %d, not -ERANGE", rc);
}

/* The latest value of every key in @want (lines), checked by key_lookup and reads. */
static void rt_keys(shlogfs_bpart *p, const char *want, size_t wlen)
{
	int64_t latest[50];
	struct shlog_keyref ref;
	struct shlog_part_info in;
	uint64_t live = 0;
	char key[16], val[256];

	for (int k = 0; k < 50; k++)
		latest[k] = -1;
	for (size_t i = 0, start = 0; i < wlen; i++) {
		if (want[i] != '\n')
			continue;
		if (strncmp(want + start, "key", 3) == 0) {
			int k = atoi(want + start + 3);
			const char *tab = memchr(want + start, '\t', i - start);
			latest[k] = tab && tab + 1 == want + i ? -1 : (int64_t)start;
		}
		start = i + 1;
	}
	for (int k = 0; k < 50; k++) {
		int n = snprintf(key, sizeof(key), "key%d", k);
		int rc = shlogfs_key_lookup(p, key, (size_t)n, &ref);
		if (latest[k] < 0) {
			if (rc != -ENOENT)
				die("key %s: lookup %d, not -ENOENT (a tombstone last)", key, rc);
			continue;
		}
		live++;
		if (rc)
			die("key %s: lookup: %s", key, strerror(-rc));
		if (ref.off != (uint64_t)latest[k] || ref.klen != (uint32_t)n)
			die("key %s: at byte %llu, not %lld", key, (unsigned long long)ref.off, (long long)latest[k]);
		if (ref.len - ref.klen - 1 > sizeof(val) ||
		    shlogfs_part_read(p, ref.off + ref.klen + 1, val, ref.len - ref.klen - 1) !=
		    (ssize_t)(ref.len - ref.klen - 1) ||
		    memcmp(val, want + latest[k] + n + 1, ref.len - ref.klen - 1))
			die("key %s: its value does not read back", key);
	}
	if (shlogfs_part_info(p, &in) || in.nkeys != live)
		die("nkeys %llu, not %llu", (unsigned long long)in.nkeys, (unsigned long long)live);
}

/* Write @len bytes of @b to file @path. */
static void put_file(const char *path, const char *b, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(b, 1, len, f) != len || fclose(f))
		die("writing %s", path);
}

/* Read file @path into a new buffer (@len its size). */
static char *get_file(const char *path, size_t *len, size_t extra)
{
	FILE *f = fopen(path, "r");
	char *b;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die("reading %s", path);
	b = malloc((size_t)n + extra + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("reading %s", path);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Count the lines of @b. */
static uint64_t count_lines(const char *b, size_t len)
{
	uint64_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += b[i] == '\n';
	return n;
}

/* Every check of the round trip on @p against @want. */
static void rt_check(shlogfs_bpart *p, const char *want, size_t wlen)
{
	struct shlog_part_info in;
	int rc;

	if ((rc = shlogfs_part_info(p, &in)))
		die("part_info: %s", strerror(-rc));
	if (in.end_off != wlen || in.end_seq != count_lines(want, wlen) || in.start_off != 0)
		die("part_info: end %llu/%llu, start %llu; %zu bytes and %llu lines written",
		    (unsigned long long)in.end_seq, (unsigned long long)in.end_off,
		    (unsigned long long)in.start_off, wlen, (unsigned long long)count_lines(want, wlen));
	rt_read_all(p, want, wlen, 4096);
	rt_read_all(p, want, wlen, 131072);
	rt_read_random(p, want, wlen);
	rt_seek(p, want, wlen, in.end_seq);
	rt_keys(p, want, wlen);
}

/* roundtrip TOPIC OUT */
static int cmd_roundtrip(char **argv)
{
	shlogfs_bstore *s = open_store(100);
	size_t wlen = 0;
	char *want = malloc(4u << 20);
	shlogfs_bpart *p;
	int rc;

	if ((rc = shlogfs_part_get(s, argv[0], 0, &p)))
		die("part_get %s 0: %s", argv[0], strerror(-rc));
	rt_append(p, 0, 12000, want, &wlen);
	rt_check(p, want, wlen);
	put_file(argv[1], want, wlen);
	shlogfs_part_put(p);
	if ((rc = shlogfs_store_close(s)))
		die("store_close: %s", strerror(-rc));
	free(want);
	return 0;
}

/* restart TOPIC OUT: OUT holds what roundtrip wrote */
static int cmd_restart(char **argv)
{
	size_t wlen;
	char *want = get_file(argv[1], &wlen, 1u << 20);
	int64_t t0 = now_ms();
	shlogfs_bstore *s = open_store(100);
	struct shlog_part_info in;
	shlogfs_bpart *p;
	int rc;

	if ((rc = shlogfs_part_get(s, argv[0], 0, &p)) || (rc = shlogfs_part_info(p, &in)))
		die("part_get/info %s 0: %s", argv[0], strerror(-rc));
	if (in.end_off != wlen)   /* at once: the index resumed, not rebuilt */
		die("after the restart the size is %llu at once, not %zu", (unsigned long long)in.end_off, wlen);
	/* the keys come back as the indexer reads up to the indexed end */
	while (shlogfs_key_lookup(p, "key49", 5, &(struct shlog_keyref){ 0 }) && now_ms() - t0 < 10000)
		usleep(10000);
	rt_append(p, 12000, 12100, want, &wlen);
	rt_check(p, want, wlen);
	put_file(argv[1], want, wlen);
	shlogfs_part_put(p);
	shlogfs_store_close(s);
	free(want);
	return 0;
}

/* ==== the fake source =================================================== */

/* What the fake partition holds: messages at offsets with gaps; its end and log start. */
struct fmsg {
	int64_t off;
	const char *key, *val;   /* val NULL: a Kafka null value */
};
static const struct fmsg fake_msgs[] = {
	{ 0, "a", "a\tone" }, { 1, "d", "d\tzer" }, { 2, "b", "b\ttwo" },
	/* 3, 4 compacted away */
	{ 5, "a", "a\tthree" }, { 6, "b", NULL },           /* b deleted by a null value */
	/* 7, 8 compacted */
	{ 9, "c", "c\tfour" }, { 10, NULL, "" },
	/* 11: a transaction marker */
};
static const int64_t fake_end = 12;
static int64_t fake_lo;   /* the log start (retention) */

/* A reader of the fake partition. */
struct freader {
	int64_t next;
	int at_end;
};

/* Open a fake reader at @from. */
static int fake_open(void *ctx, const char *topic, uint32_t part, int64_t from, int seeks, void **out)
{
	struct freader *r = calloc(1, sizeof(*r));

	(void)ctx, (void)topic, (void)part, (void)seeks;
	if (!r)
		return -ENOMEM;
	r->next = from;
	*out = r;
	return 0;
}

/* Move a fake reader. */
static int fake_seek(void *r, int64_t from)
{
	((struct freader *)r)->next = from;
	((struct freader *)r)->at_end = 0;
	return 0;
}

/* The messages from the reader's offset on; -ERANGE below the log start. */
static int fake_poll(void *rv, int timeout_ms, shlogfs_kclient_msg_fn *fn, void *arg)
{
	struct freader *r = rv;
	int n = 0;

	(void)timeout_ms;
	if (r->next < fake_lo)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(fake_msgs) / sizeof(fake_msgs[0]); i++) {
		const struct fmsg *f = &fake_msgs[i];
		struct shlogfs_kclient_msg m = { f->off, 1000 + f->off * 1000, f->key, f->key ? strlen(f->key) : 0,
						 f->val, f->val ? strlen(f->val) : 0 };
		if (f->off < r->next)
			continue;
		r->next = f->off + 1;
		n++;
		if (fn(&m, arg))
			return n;
	}
	r->next = fake_end;
	r->at_end = 1;
	return n;
}

/* The fake's end at its end of partition. */
static int64_t fake_endoff(void *r)
{
	return ((struct freader *)r)->at_end ? fake_end : -1;
}

/* Close a fake reader. */
static void fake_close(void *r)
{
	free(r);
}

/* The fake's watermarks. */
static int fake_wm(void *ctx, const char *topic, uint32_t part, int64_t *lo, int64_t *hi)
{
	(void)ctx, (void)topic, (void)part;
	*lo = fake_lo;
	*hi = fake_end;
	return 0;
}

static const struct shlogfs_ksrc_ops fake_ops = {
	.open = fake_open, .seek = fake_seek, .poll = fake_poll, .end = fake_endoff,
	.close = fake_close, .watermarks = fake_wm,
};

/* Wait until @p is indexed to offset @off (10 s at most). */
static void wait_indexed(shlogfs_bpart *p, uint64_t off)
{
	struct shlog_part_info in;
	int64_t t0 = now_ms();

	while (shlogfs_part_info(p, &in) == 0 && in.end_seq < off && now_ms() - t0 < 10000)
		usleep(5000);
	if (in.end_seq != off)
		die("indexed to offset %llu, not %llu", (unsigned long long)in.end_seq, (unsigned long long)off);
}

/* fake: offsets with gaps and null values; the log start moving */
static int cmd_fake(char **argv)
{
	static const char log[] = "a\tone\nd\tzer\nb\ttwo\na\tthree\n\nc\tfour\n\n";
	shlogfs_bstore *s = open_store(2);
	struct shlog_keyref ref;
	struct shlog_part_info in;
	shlogfs_bpart *p;
	char buf[128];
	uint64_t off, seq;
	ssize_t r;
	int rc;

	(void)argv;
	shlogfs_kafka_set_source(s, "G", &fake_ops, NULL);
	if ((rc = shlogfs_part_get(s, "G", 0, &p)))
		die("part_get G 0: %s", strerror(-rc));
	wait_indexed(p, (uint64_t)fake_end);   /* the marker at 11 is a gap up to the end */
	shlogfs_part_info(p, &in);
	if (in.end_off != sizeof(log) - 1)
		die("fake: %llu bytes indexed, not %zu", (unsigned long long)in.end_off, sizeof(log) - 1);
	if ((r = shlogfs_part_read(p, 0, buf, sizeof(buf))) != (ssize_t)sizeof(log) - 1 || memcmp(buf, log, (size_t)r))
		die("fake: the log reads %zd bytes '%.*s'", r, (int)(r > 0 ? r : 0), buf);
	if ((r = shlogfs_part_read(p, 7, buf, 5)) != 5 || memcmp(buf, "\tzer\n", 5))
		die("fake: a read inside a span gave %zd bytes", r);
	/* message 3 was compacted: at/3 starts at the next one, 5 */
	if (shlogfs_part_seek_seq(p, 3, &off) || off != strlen("a\tone\nd\tzer\nb\ttwo\n"))
		die("fake: seek_seq 3 gave %llu", (unsigned long long)off);
	if (shlogfs_part_seek_seq(p, 12, &off) || off != sizeof(log) - 1)
		die("fake: seek_seq 12 (the end) gave %llu", (unsigned long long)off);
	/* keys: latest wins, a null value is a tombstone */
	if (shlogfs_key_lookup(p, "a", 1, &ref) || ref.seq != 5 || ref.off != strlen("a\tone\nd\tzer\nb\ttwo\n"))
		die("fake: key a not at offset 5");
	if ((rc = shlogfs_key_lookup(p, "b", 1, &ref)) != -ENOENT)
		die("fake: key b after a null value: %d, not -ENOENT", rc);
	if (shlogfs_key_lookup(p, "c", 1, &ref) || ref.seq != 9)
		die("fake: key c not at offset 9");
	if (shlogfs_key_lookup(p, "d", 1, &ref) || ref.seq != 1)
		die("fake: key d not at offset 1");
	/* time: message times are 1000 + 1000 * offset ms */
	if (shlogfs_part_seek_time(p, 4500LL * 1000000, &seq, &off) || seq != 5 ||
	    off != strlen("a\tone\nd\tzer\nb\ttwo\n"))
		die("fake: seek_time 4.5 s gave message %llu, not 5", (unsigned long long)seq);
	if (shlogfs_part_seek_time(p, 7500LL * 1000000, &seq, &off) || seq != 9)
		die("fake: seek_time 7.5 s gave message %llu, not 9 (7, 8 compacted)", (unsigned long long)seq);
	if (shlogfs_part_seek_time(p, 99000LL * 1000000, &seq, &off) || seq != 12 || off != sizeof(log) - 1)
		die("fake: seek_time past the last message gave %llu, not the end", (unsigned long long)seq);
	if (shlogfs_part_seek_time(p, 0, &seq, &off) || seq != 0 || off != 0)   /* back again */
		die("fake: seek_time 0 after a later one gave message %llu, not 0", (unsigned long long)seq);
	/* retention: the log start moves to 5; bytes below the retained point are gone */
	fake_lo = 5;
	if (shlogfs_kpart_watermarks(p, &(int64_t){ 0 }, &(int64_t){ 0 }))
		die("fake: watermarks");
	shlogfs_part_info(p, &in);
	if (in.start_seq < 5 || in.start_off < strlen("a\tone\nd\tzer\nb\ttwo\n"))
		die("fake: start %llu/%llu after the log start moved to 5", (unsigned long long)in.start_seq,
		    (unsigned long long)in.start_off);
	if ((r = shlogfs_part_read(p, 0, buf, 4)) != -ENODATA)
		die("fake: a read below the start: %zd, not -ENODATA", r);
	if ((rc = shlogfs_part_seek_seq(p, 1, &off)) != -ENODATA)
		die("fake: seek_seq below the start: %d, not -ENODATA", rc);
	if (shlogfs_key_lookup(p, "a", 1, &ref) == 0 && ref.off < in.start_off)
		die("fake: key a still points below the start");
	if ((rc = shlogfs_key_lookup(p, "d", 1, &ref)) != -ENOENT)   /* its message is gone */
		die("fake: key d after the log start passed it: %d, not -ENOENT", rc);
	if ((r = shlogfs_part_read(p, in.start_off, buf, sizeof(buf))) <= 0 ||
	    memcmp(buf, log + in.start_off, (size_t)r))
		die("fake: the retained bytes do not read back");
	shlogfs_part_put(p);
	shlogfs_store_close(s);
	return 0;
}

/* route FILE NPARTS: "PART KEY" lines (kcat -f '%p %k\n') */
static int cmd_route(char **argv)
{
	shlogfs_bstore *s = open_store(100);
	FILE *f = fopen(argv[0], "r");
	char key[256];
	unsigned part, n = 0, nparts = (unsigned)atoi(argv[1]);

	if (!f)
		die("%s", argv[0]);
	while (fscanf(f, "%u %255s", &part, key) == 2) {
		uint32_t got = shlogfs_key_route(key, strlen(key), nparts);
		if (got != part)
			die("key %s: key_route says %u, kcat -K put it in %u", key, got, part);
		n++;
	}
	fclose(f);
	if (n < 10)
		die("only %u keys in %s", n, argv[0]);
	shlogfs_store_close(s);
	return 0;
}

/* admin: the mock has no Admin API: mkdir, a new partition and a delete are EOPNOTSUPP */
static int cmd_admin(char **argv)
{
	shlogfs_bstore *s = open_store(100);
	uint32_t n;
	int64_t t0 = now_ms();
	int rc;

	(void)argv;
	if ((rc = shlogfs_topic_create(s, "newtopic", 2)) != -EOPNOTSUPP && rc != -EPERM)
		die("topic_create on the mock: %d (%s), not EOPNOTSUPP/EPERM", rc, strerror(-rc));
	if ((rc = shlogfs_topic_create(s, "A", 1)) != -EEXIST)
		die("topic_create of an existing topic: %d, not -EEXIST", rc);
	if ((rc = shlogfs_topic_add_part(s, "A", &n)) != -EOPNOTSUPP && rc != -EPERM)
		die("topic_add_part on the mock: %d (%s)", rc, strerror(-rc));
	if ((rc = shlogfs_topic_delete(s, "A")) != -EOPNOTSUPP && rc != -EPERM)
		die("topic_delete on the mock: %d (%s)", rc, strerror(-rc));
	if ((rc = shlogfs_topic_nparts(s, "A", &n)) || n != 1)
		die("A after the refused delete: %d, %u partitions", rc, n);
	printf("admin refusals in %lld ms\n", (long long)(now_ms() - t0));
	shlogfs_store_close(s);
	return 0;
}

/* modes: chmod/chown kept in the cache dir across a restart; defaults from the cache dir */
static int cmd_modes(char **argv)
{
	shlogfs_bstore *s = open_store(100);
	struct stat st, cd;
	int rc;

	(void)argv;
	if (stat(cachedir, &cd))
		die("stat %s", cachedir);
	if ((rc = shlogfs_dir_stat(s, "A", 0, &st)) || st.st_mode != cd.st_mode || st.st_uid != cd.st_uid)
		die("dir_stat A/0: %d, mode %o (the cache dir's %o)", rc, st.st_mode, cd.st_mode);
	if ((rc = shlogfs_dir_chmod(s, "A", -1, 01777)) || (rc = shlogfs_dir_chown(s, "A", 0, 1234, 99)) ||
	    (rc = shlogfs_dir_chmod(s, NULL, -1, 0755)))
		die("chmod/chown: %s", strerror(-rc));
	if ((rc = shlogfs_dir_stat(s, "nosuch", -1, &st)) != -ENOENT)
		die("dir_stat of a missing topic: %d", rc);
	if ((rc = shlogfs_dir_chmod(s, "A", 7, 0700)) != -ENOENT)
		die("chmod of a missing partition: %d", rc);
	shlogfs_store_close(s);
	s = open_store(100);
	if (shlogfs_dir_stat(s, "A", -1, &st) || (st.st_mode & 07777) != 01777 || !S_ISDIR(st.st_mode))
		die("A's mode after a restart: %o", st.st_mode);
	if (shlogfs_dir_stat(s, "A", 0, &st) || st.st_uid != 1234 || st.st_gid != 99)
		die("A/0's owner after a restart: %u:%u", st.st_uid, st.st_gid);
	if (shlogfs_dir_stat(s, NULL, -1, &st) || (st.st_mode & 07777) != 0755)
		die("the root's mode after a restart: %o", st.st_mode);
	shlogfs_store_close(s);
	return 0;
}

/* Threads of this process. */
static int count_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/* readers TOPIC NPARTS: a line into every partition, each read back; the readers stay bounded */
static int cmd_readers(char **argv)
{
	shlogfs_bstore *s = open_store(100);
	int nparts = atoi(argv[1]), before = count_threads(), most = 0;
	shlogfs_bwriter *w;
	int rc;

	if ((rc = shlogfs_writer_new(s, &w)))
		die("writer_new: %s", strerror(-rc));
	for (int i = 0; i < nparts; i++) {
		char line[64], got[64];
		int n = snprintf(line, sizeof(line), "partition %d\n", i);
		shlogfs_bpart *p;
		ssize_t r;

		if ((rc = shlogfs_part_get(s, argv[0], (uint32_t)i, &p)) ||
		    (rc = shlogfs_part_append_lines(p, w, line, (size_t)n, 0, NULL)) ||
		    (rc = shlogfs_part_sync(p, w)))
			die("partition %d: %s", i, strerror(-rc));
		wait_indexed(p, 1);
		if ((r = shlogfs_part_read(p, 0, got, sizeof(got))) != n || memcmp(got, line, (size_t)n))
			die("partition %d reads back %zd bytes", i, r);
		shlogfs_part_put(p);
		if (count_threads() > most)
			most = count_threads();
	}
	shlogfs_writer_free(w);
	printf("threads: %d at open, at most %d with %d partitions read\n", before, most, nparts);
	if (most - before > 40 * 6)
		die("%d threads for %d partitions: the readers are not bounded", most - before, nparts);
	shlogfs_store_close(s);
	return 0;
}

/* Order two doubles (qsort). */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* bench TOPIC COUNT: figures, printed, never asserted (docs/KAFKA.md "Figures") */
static int cmd_bench(char **argv)
{
	int count = atoi(argv[1]), nread = 2000;
	char cache2[4096], line[128], *batch = malloc(1u << 20), buf[4096];
	shlogfs_bstore *s = open_store(1000);
	double *lat = calloc((size_t)nread, sizeof(*lat));
	struct shlog_part_info in;
	shlogfs_bwriter *w;
	shlogfs_bpart *p;
	uint64_t want;
	int64_t t0;
	size_t n = 0;
	int rc;

	if ((rc = shlogfs_writer_new(s, &w)) || (rc = shlogfs_part_get(s, argv[0], 0, &p)))
		die("bench: %s", strerror(-rc));
	t0 = now_ms();
	for (int i = 0; i < count; i++) {
		int l = snprintf(line, sizeof(line), "k%d\t%08d %.*s\n", i % 1000, i, 84,
				 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh");
		memcpy(batch + n, line, (size_t)l);
		n += (size_t)l;
		if (n > (1u << 20) - 256 || i == count - 1) {
			if ((rc = shlogfs_part_append_lines(p, w, batch, n, 0, NULL)))
				die("bench append: %s", strerror(-rc));
			n = 0;
		}
	}
	if ((rc = shlogfs_part_sync(p, w)))
		die("bench sync: %s", strerror(-rc));
	printf("append through the table: %d lines of 100 bytes in %lld ms (%.0f lines/s), synced\n", count,
	       (long long)(now_ms() - t0), count * 1000.0 / (double)(now_ms() - t0 + 1));
	shlogfs_part_info(p, &in);
	want = in.end_seq;
	shlogfs_writer_free(w);
	shlogfs_part_put(p);
	shlogfs_store_close(s);

	/* cold start: a new cache dir indexes the partition from its log start */
	snprintf(cache2, sizeof(cache2), "%s.cold", cachedir);
	cachedir = cache2;
	s = open_store(1000);
	t0 = now_ms();
	if ((rc = shlogfs_part_get(s, argv[0], 0, &p)))
		die("bench: %s", strerror(-rc));
	do {
		usleep(2000);
		shlogfs_part_info(p, &in);
	} while (in.end_seq < want && now_ms() - t0 < 120000);
	printf("cold start: %llu messages (offsets %llu..%llu, %llu bytes) indexed in %lld ms (%.0f messages/s)\n",
	       (unsigned long long)(in.end_seq - in.start_seq), (unsigned long long)in.start_seq,
	       (unsigned long long)in.end_seq, (unsigned long long)(in.end_off - in.start_off),
	       (long long)(now_ms() - t0), (double)(in.end_seq - in.start_seq) * 1000.0 / (double)(now_ms() - t0 + 1));
	srand(11);
	for (int i = 0; i < nread; i++) {
		struct timespec a, b;
		uint64_t off = in.start_off + ((uint64_t)rand() * 4096) % (in.end_off - in.start_off - 4096);

		clock_gettime(CLOCK_MONOTONIC, &a);
		ssize_t r = shlogfs_part_read(p, off, buf, sizeof(buf));
		if (r <= 0)
			die("bench read %d at %llu: %zd", i, (unsigned long long)off, r);
		clock_gettime(CLOCK_MONOTONIC, &b);
		lat[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	}
	qsort(lat, (size_t)nread, sizeof(*lat), cmp_double);
	printf("random 4 KiB reads (%d): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", nread, lat[nread / 2],
	       lat[nread * 99 / 100], lat[nread - 1]);
	shlogfs_part_put(p);
	shlogfs_store_close(s);
	free(lat);
	free(batch);
	return 0;
}

/* nonblock TOPIC: (the leader of TOPIC [0] is down; queue of 5) O_NONBLOCK is EAGAIN at a
 * full queue; "go" on stdin (the leader is back): a held append and fsync succeed */
static int cmd_nonblock(char **argv)
{
	shlogfs_bstore *s;
	shlogfs_bwriter *w;
	shlogfs_bpart *p;
	char go[16];
	int rc, i;

	extra_opt = "kafka.queue.buffering.max.messages=5";
	s = open_store(100);
	if ((rc = shlogfs_writer_new(s, &w)) || (rc = shlogfs_part_get(s, argv[0], 0, &p)))
		die("nonblock: %s", strerror(-rc));
	int64_t t0 = now_ms();

	for (i = 0; i < 20; i++)
		if ((rc = shlogfs_part_append_lines(p, w, "queued\n", 7, SHLOG_NONBLOCK, NULL)))
			break;
	if (rc != -EAGAIN || i != 5)
		die("nonblock: line %d gave %d (%s), not -EAGAIN at the 6th", i + 1, rc, strerror(-rc));
	if (now_ms() - t0 > 2000)
		die("nonblock: EAGAIN after %lld ms: the write was held", (long long)(now_ms() - t0));
	printf("eagain at line %d\n", i + 1);
	fflush(stdout);
	if (!fgets(go, sizeof(go), stdin))
		die("nonblock: no go");
	if ((rc = shlogfs_part_append_lines(p, w, "held\n", 5, 0, NULL)) || (rc = shlogfs_part_sync(p, w)))
		die("nonblock: after the leader came back: %s", strerror(-rc));
	printf("held and delivered\n");
	shlogfs_writer_free(w);
	shlogfs_part_put(p);
	shlogfs_store_close(s);
	return 0;
}

/* down: BROKERS answers nothing: open fails within its bound, saying which brokers */
static int cmd_down(char **argv)
{
	struct shlogfs_kafka_conf *c;
	struct shlog_options o;
	shlogfs_bstore *s;
	char opt[600], err[512] = "";
	int64_t t0 = now_ms();
	int rc;

	(void)argv;
	shlog_options_init(&o);
	shlogfs_kafka_conf_new(&c);
	snprintf(opt, sizeof(opt), "brokers=%s", brokers);
	shlogfs_kafka_conf_opt(c, opt, err, sizeof(err));
	rc = shlogfs_kafka_open(cachedir, c, &o, &s, err, sizeof(err));
	shlogfs_kafka_conf_free(c);
	if (rc != -ETIMEDOUT && rc != -EHOSTUNREACH)
		die("open with the brokers down: %d (%s), not ETIMEDOUT/EHOSTUNREACH", rc, strerror(-rc));
	if (now_ms() - t0 > 8000)
		die("open with the brokers down took %lld ms", (long long)(now_ms() - t0));
	if (!strstr(err, "127.0.0.1:"))
		die("the error does not name the brokers: %s", err);
	printf("%lld ms: %s\n", (long long)(now_ms() - t0), err);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int nargs; int (*fn)(char **); } cmds[] = {
		{ "roundtrip", 2, cmd_roundtrip }, { "restart", 2, cmd_restart }, { "fake", 0, cmd_fake },
		{ "route", 2, cmd_route }, { "admin", 0, cmd_admin }, { "modes", 0, cmd_modes },
		{ "down", 0, cmd_down }, { "readers", 2, cmd_readers },
		{ "bench", 2, cmd_bench }, { "nonblock", 1, cmd_nonblock },
	};

	if (argc >= 4) {
		brokers = argv[1];
		cachedir = argv[2];
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(argv[3], cmds[i].name) == 0 && argc - 4 == cmds[i].nargs)
				return cmds[i].fn(argv + 4);
	}
	fprintf(stderr, "usage: kbackend_test BROKERS CACHEDIR roundtrip|restart|fake|route|admin|modes|down|readers|bench|nonblock ARGS\n");
	return 2;
}
