/*
 * kproducer.c — shlog-kproducer: the direct producer the Kafka backend is
 * measured against (docs/PERFORMANCE.md, "Kafka backend (issue 14)").
 *
 *   shlog-kproducer -t TOPIC [-p PART] [-o OPT]... [-N] [FILE]
 *       Produces every line of FILE (default stdin) as one message, as the
 *       mount does: the value is the line without its '\n', the key the
 *       bytes before its first TAB (shlog_msg_key; none without a TAB), to
 *       partition PART (default -1: the configured partitioner), through a
 *       topic handle made once (as kcat does); with -N naming the topic in
 *       every produce instead (RD_KAFKA_V_TOPIC, as
 *       fs/kclient.c's shlogfs_kclient_produce does).  Waits
 *       for every delivery report, then prints "msgs/s MB/s seconds"
 *       (MB counts the lines' bytes with their '\n', 10^6 bytes; the clock
 *       runs from the first produce to the last report).
 *   shlog-kproducer -S [-n N] [-s S] -t TOPIC [-p PART] [-o OPT]...
 *       N times (1,000): produce one benchmark line of S bytes (100) and
 *       wait for its delivery report; prints the latencies as
 *       shlog-bench-latency does: p50 p99 p99.9 min max count (µs).
 *
 * The client's settings are the mount's: the defaults of fs/kclient.c
 * (enable.idempotence, acks=all, linger.ms=20, murmur2_random), then each
 * -o OPT in turn, spelled as shlogfs -o takes it (brokers=H:P+H:P,
 * kafka.NAME=VALUE), through the same code.  Exit status 0; 1 if a
 * delivery failed or the client could not start; 2 for a bad command line.
 */
#include "bench_util.h"
#include "kclient.h"
#include "shlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KP_BUF (4u << 20)       /* bytes read from FILE at a time; the longest line */
#define KP_POLL_EVERY 1024u     /* messages between two rd_kafka_poll(0) */
#define KP_FLUSH_MS 600000      /* the last reports are awaited at most this long */
#define KP_MAX_SAMPLES 10000000u

/* The delivery reports seen: how many, how many failed, the last error. */
struct kp_reports {
	uint64_t done, failed;
	rd_kafka_resp_err_t last_err;
};

/* Where the messages go: the topic (by handle, or by name with -N) and partition. */
struct kp_dest {
	const char *topic;
	rd_kafka_topic_t *rkt;      /* NULL: name the topic in each produce (-N) */
	int32_t part;
};

/* ---- the client --------------------------------------------------------- */

/* Delivery report callback: count the report (and a failure). */
static void kp_on_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kp_reports *rep = opaque;

	(void)rk;
	rep->done++;
	if (m->err) {
		rep->failed++;
		rep->last_err = m->err;
	}
}

/* A producer on fs/kclient.c's defaults and the @nopt options @opts; NULL (said why). */
static rd_kafka_t *kp_open(char **opts, int nopt, struct kp_reports *rep)
{
	char err[SHLOGFS_KCLIENT_ERRLEN];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;

	if (shlogfs_kclient_conf_new(&conf, err, sizeof(err))) {
		fprintf(stderr, "shlog-kproducer: %s\n", err);
		return NULL;
	}
	for (int i = 0; i < nopt; i++)
		if (shlogfs_kclient_conf_opt(conf, opts[i], err, sizeof(err))) {
			fprintf(stderr, "shlog-kproducer: -o %s: %s\n", opts[i],
				*err ? err : "not a Kafka option (brokers=, kafka.NAME=)");
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	rd_kafka_conf_set_dr_msg_cb(conf, kp_on_report);
	rd_kafka_conf_set_opaque(conf, rep);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "shlog-kproducer: rd_kafka_new: %s\n", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Produce @line (@len bytes, no '\n') to @d, waiting while the queue is full. */
static int kp_produce(rd_kafka_t *rk, const struct kp_dest *d, const char *line, size_t len)
{
	size_t klen = shlog_msg_key(line, len);
	rd_kafka_vu_t vu[] = {
		{ .vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = d->rkt },
		{ .vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = d->part },
		{ .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY },
		{ .vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = { (void *)line, len } },
		{ .vtype = RD_KAFKA_VTYPE_KEY, .u.mem = { (void *)line, klen } },
	};
	rd_kafka_error_t *e;

	if (!d->rkt)
		vu[0] = (rd_kafka_vu_t){ .vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = d->topic };
	while ((e = rd_kafka_produceva(rk, vu, klen ? 5 : 4)) != NULL &&
	       rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		rd_kafka_error_destroy(e);
		rd_kafka_poll(rk, 10);
	}
	if (e) {
		fprintf(stderr, "shlog-kproducer: produce: %s\n", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return -1;
	}
	return 0;
}

/* Wait for every report; 0, or -1 if one failed or they did not all come (said why). */
static int kp_finish(rd_kafka_t *rk, const struct kp_reports *rep, uint64_t sent)
{
	rd_kafka_resp_err_t err = rd_kafka_flush(rk, KP_FLUSH_MS);

	if (err || rep->done != sent || rep->failed) {
		fprintf(stderr, "shlog-kproducer: %ju of %ju delivered, %ju failed (%s)\n",
			(uintmax_t)(rep->done - rep->failed), (uintmax_t)sent,
			(uintmax_t)rep->failed,
			rd_kafka_err2str(err ? err : rep->last_err));
		return -1;
	}
	return 0;
}

/* ---- throughput: the lines of a file -------------------------------------- */

/* Produce the complete lines of @buf[0..*have); keep the partial last one. */
static int kp_lines(rd_kafka_t *rk, const struct kp_dest *d, char *buf, size_t *have,
		    uint64_t *sent, uint64_t *bytes)
{
	char *p = buf, *end = buf + *have, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (kp_produce(rk, d, p, (size_t)(nl - p)) < 0)
			return -1;
		*bytes += (uint64_t)(nl - p) + 1;
		p = nl + 1;
		if (++*sent % KP_POLL_EVERY == 0)
			rd_kafka_poll(rk, 0);
	}
	*have = (size_t)(end - p);
	memmove(buf, p, *have);
	return 0;
}

/* Produce every line of @fd; print the rate.  The exit status. */
static int kp_file(rd_kafka_t *rk, const struct kp_reports *rep, const struct kp_dest *d,
		   int fd)
{
	char *buf = malloc(KP_BUF);
	uint64_t sent = 0, bytes = 0;
	size_t have = 0;
	int64_t t0 = bench_now_ns();
	ssize_t n;

	if (!buf)
		return 1;
	while ((n = read(fd, buf + have, KP_BUF - have)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("shlog-kproducer: read");
			return 1;
		}
		have += (size_t)n;
		if (kp_lines(rk, d, buf, &have, &sent, &bytes) < 0)
			return 1;
		if (have == KP_BUF) {
			fprintf(stderr, "shlog-kproducer: a line of over %u bytes\n", KP_BUF);
			return 1;
		}
	}
	if (have) {   /* a last line without '\n' is still a line, as for the mount */
		if (kp_produce(rk, d, buf, have) < 0)
			return 1;
		sent++;
		bytes += have;
	}
	if (kp_finish(rk, rep, sent) < 0)
		return 1;
	double sec = (double)(bench_now_ns() - t0) / 1e9;

	printf("%.0f %.1f %.3f\n", (double)sent / sec, (double)bytes / 1e6 / sec, sec);
	free(buf);
	return 0;
}

/* ---- latency: one message at a time ---------------------------------------- */

/* @n times: produce one line of @size bytes, wait for its report.  The exit status. */
static int kp_sync(rd_kafka_t *rk, const struct kp_reports *rep, const struct kp_dest *d,
		   uint64_t n, uint64_t size)
{
	int64_t *v = calloc(n, sizeof(*v));
	char *line = malloc(size);

	if (!v || !line)
		return 1;
	bench_line_init(line, size);
	for (uint64_t i = 0; i < n; i++) {
		bench_line_stamp(line, i, 0);
		int64_t t0 = bench_now_ns();

		if (kp_produce(rk, d, line, size - 1) < 0)
			return 1;
		while (rep->done < i + 1)
			rd_kafka_poll(rk, 1000);
		v[i] = bench_now_ns() - t0;
		if (rep->failed) {
			fprintf(stderr, "shlog-kproducer: message %ju: %s\n", (uintmax_t)i,
				rd_kafka_err2str(rep->last_err));
			return 1;
		}
	}
	bench_lat_report(v, n);
	free(v);
	free(line);
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	uint64_t n = 1000, size = 100, v;
	struct kp_reports rep = { 0 };
	struct kp_dest d = { 0 };
	char **opts = calloc((size_t)argc, sizeof(*opts));
	int opt, nopt = 0, sync = 0, byname = 0, fd = 0, rc;
	long part = -1;
	rd_kafka_t *rk;
	char *end;

	if (!opts)
		return 1;
	while ((opt = getopt(argc, argv, "t:p:o:SNn:s:")) != -1) {
		switch (opt) {
		case 't': d.topic = optarg; break;
		case 'o': opts[nopt++] = optarg; break;
		case 'S': sync = 1; break;
		case 'N': byname = 1; break;
		case 'p':
			errno = 0;
			part = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || part < -1 || part > INT32_MAX)
				goto usage;
			break;
		case 'n': case 's':
			if (bench_parse_count(optarg, &v) < 0)
				goto usage;
			*(opt == 'n' ? &n : &size) = v;
			break;
		default: goto usage;
		}
	}
	if (!d.topic || optind + (sync ? 0 : 1) < argc || !n || n > KP_MAX_SAMPLES ||
	    size < BENCH_LINE_MIN || size > (1u << 20))
		goto usage;
	if (optind < argc && (fd = open(argv[optind], O_RDONLY | O_CLOEXEC)) < 0) {
		perror(argv[optind]);
		return 1;
	}
	rk = kp_open(opts, nopt, &rep);
	if (!rk)
		return 1;
	d.part = (int32_t)part;
	if (!byname && !(d.rkt = rd_kafka_topic_new(rk, d.topic, NULL))) {
		fprintf(stderr, "shlog-kproducer: topic %s: %s\n", d.topic,
			rd_kafka_err2str(rd_kafka_last_error()));
		return 1;
	}
	rc = sync ? kp_sync(rk, &rep, &d, n, size) : kp_file(rk, &rep, &d, fd);
	if (d.rkt)
		rd_kafka_topic_destroy(d.rkt);
	rd_kafka_destroy(rk);
	free(opts);
	return rc;
usage:
	fprintf(stderr, "usage: shlog-kproducer -t TOPIC [-p PART] [-o OPT]... [-N] [FILE]\n"
		"       shlog-kproducer -S [-n N] [-s S] -t TOPIC [-p PART] [-o OPT]...\n");
	return 2;
}
