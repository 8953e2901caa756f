/*
 * kclient_test.c — drives fs/kclient.c against the mock cluster for
 * t_kclient.sh (docs/KAFKA.md, "The client").
 *
 * Usage: kclient_test [-o OPT]... CMD ARGS...
 *   -o OPT   a mount option for shlogfs_kclient_conf_opt (brokers=...,
 *            kafka.NAME=VALUE); repeated
 *   roundtrip TOPIC NPARTS OUTDIR   4 writers produce 10,000 messages over
 *            the partitions, waiting for their tickets; every partition is
 *            read back with a reader: each message exactly once, each
 *            writer's in order, byte-identical; OUTDIR/pP gets partition P
 *            as read, one message a line (for a comparison with kcat)
 *   produce TOPIC PART COUNT     produce COUNT messages "mI", wait: 0 or 1
 *   keys TOPIC N                 produce "kI" -> "vI" by key (PART -1), wait
 *   outage TOPIC TIMEOUT_MS      (the leader of TOPIC [0] is down) produce
 *            "lost0", wait (message.timeout.ms): must be -EIO within
 *            TIMEOUT_MS + 1.5 s; print "eio MS", read a line on stdin (EOF: done),
 *            produce "back0": must be delivered
 *   msgsize TOPIC SIZE           produce SIZE bytes: must be -EMSGSIZE
 *   queuefull TOPIC N            (queue.buffering.max.messages=N) message
 *            N+1 must be -EAGAIN; after a wait there is room again
 *   fatal TOPIC                  (a fatal Produce error is queued) produce,
 *            wait: -EIO, the producer rebuilt; produce again: delivered
 *   badopt                       the -o options must be refused: print
 *            the error string
 * Exit status 0 when the check holds, 1 when it does not, 2 for bad usage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kclient.h"

#define NWRITERS 4
#define NMSG 10000
#define WAIT_EVERY 250          /* a writer waits for its tickets this often */
#define WAIT_MS 30000

static char err[SHLOGFS_KCLIENT_ERRLEN];
static struct shlogfs_kclient *kc;
static const char *topic;
static int nparts;

/* Print a failure and exit 1. */
__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("kclient_test: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Milliseconds on CLOCK_MONOTONIC. */
static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Build a configuration from the -o options: 0, or the first refusal's errno. */
static int conf_build(rd_kafka_conf_t **conf, char **opts, int nopts)
{
	int rc = shlogfs_kclient_conf_new(conf, err, sizeof(err));

	for (int i = 0; rc == 0 && i < nopts; i++)
		rc = shlogfs_kclient_conf_opt(*conf, opts[i], err, sizeof(err));
	if (rc && *conf)
		rd_kafka_conf_destroy(*conf);
	return rc;
}

/* Open the client on the -o options, or die. */
static void client_open(char **opts, int nopts)
{
	rd_kafka_conf_t *conf = NULL;

	if (conf_build(&conf, opts, nopts) || shlogfs_kclient_open(&kc, conf, NULL, NULL, err, sizeof(err)))
		die("configuration refused: %s", err);
}

/* Produce one message, holding (retrying) while the queue is full; the errno. */
static int produce(struct shlogfs_kclient_writer *w, int32_t part, const char *key,
		   const void *val, size_t vlen, uint64_t *ticket)
{
	int rc;

	while ((rc = shlogfs_kclient_produce(kc, w, topic, part, key, key ? strlen(key) : 0,
					     val, vlen, ticket)) == -EAGAIN)
		usleep(1000);
	return rc;
}

/* ---- roundtrip ---- */

/* Message @i of writer @wi into @buf: "wW IIIIII " then a filler; its length. */
static size_t msg_make(int wi, int i, char *buf)
{
	int n = sprintf(buf, "w%d %06d ", wi, i);
	int fill = (i * 7 + wi) % 200;

	for (int j = 0; j < fill; j++)
		buf[n + j] = (char)('a' + (i + j) % 26);
	return (size_t)(n + fill);
}

/* One writer's thread: NMSG / NWRITERS messages, waiting every WAIT_EVERY. */
static void *writer_main(void *arg)
{
	int wi = (int)(long)arg, rc;
	struct shlogfs_kclient_writer *w;
	char buf[256], key[8];
	uint64_t t = 0;

	if (shlogfs_kclient_writer_new(kc, &w))
		die("writer_new");
	sprintf(key, "w%d", wi);
	for (int i = 0; i < NMSG / NWRITERS; i++) {
		size_t n = msg_make(wi, i, buf);

		rc = produce(w, i % nparts, key, buf, n, &t);
		if (rc)
			die("writer %d: produce %d: %s", wi, i, strerror(-rc));
		if ((i + 1) % WAIT_EVERY == 0 && (rc = shlogfs_kclient_wait(w, t, WAIT_MS)))
			die("writer %d: wait for ticket %llu: %s", wi, (unsigned long long)t, strerror(-rc));
	}
	if ((rc = shlogfs_kclient_wait(w, t, WAIT_MS)))
		die("writer %d: last wait: %s", wi, strerror(-rc));
	shlogfs_kclient_writer_free(w);
	return NULL;
}

/* What the roundtrip reader checks as messages arrive. */
struct seen {
	int part;
	int next[NWRITERS];      /* the writer's next message expected here */
	int count;
	FILE *out;
};

/* Check one message read back from a partition (a reader callback). */
static int seen_msg(const struct shlogfs_kclient_msg *m, void *arg)
{
	struct seen *s = arg;
	char want[256];
	int wi, i;

	if (m->vlen >= sizeof(want) || sscanf(m->val, "w%d %d ", &wi, &i) != 2 || wi < 0 || wi >= NWRITERS)
		die("partition %d offset %lld: not a message of the test", s->part, (long long)m->off);
	if (i != s->next[wi])
		die("partition %d offset %lld: writer %d's message %d where %d was due (lost, twice or reordered)",
		    s->part, (long long)m->off, wi, i, s->next[wi]);
	if (msg_make(wi, i, want) != m->vlen || memcmp(want, m->val, m->vlen))
		die("partition %d offset %lld: the bytes differ from what was produced", s->part, (long long)m->off);
	if (m->klen != 2 || memcmp(m->key, want, 2))
		die("partition %d offset %lld: wrong key", s->part, (long long)m->off);
	s->next[wi] += nparts;
	s->count++;
	fwrite(m->val, 1, m->vlen, s->out);
	fputc('\n', s->out);
	return 0;
}

/* Read partition @p back from offset 0 to its end; check it (seen_msg). */
static int read_part(int p, const char *dir)
{
	struct shlogfs_kclient_reader *r;
	struct seen s = { .part = p };
	char path[4096];
	long until = now_ms() + WAIT_MS;
	int rc;

	for (int wi = 0; wi < NWRITERS; wi++)
		s.next[wi] = p;
	snprintf(path, sizeof(path), "%s/p%d", dir, p);
	if (!(s.out = fopen(path, "w")))
		die("%s: %s", path, strerror(errno));
	if (shlogfs_kclient_reader_open(kc, topic, p, 0, -1, &r, err, sizeof(err)))
		die("reader_open: %s", err);
	do {
		rc = shlogfs_kclient_reader_poll(r, 1000, seen_msg, &s);
		if (rc < 0 && rc != -EIO)
			die("partition %d: reader_poll: %s", p, strerror(-rc));
	} while (!shlogfs_kclient_reader_at_end(r) && now_ms() < until);
	shlogfs_kclient_reader_close(r);
	fclose(s.out);
	for (int wi = 0; wi < NWRITERS; wi++)
		if (s.next[wi] < NMSG / NWRITERS)
			die("partition %d: writer %d's messages end before %d", p, wi, s.next[wi]);
	return s.count;
}

/* roundtrip TOPIC NPARTS OUTDIR */
static int cmd_roundtrip(char **argv)
{
	pthread_t th[NWRITERS];
	int total = 0;
	int64_t lo, hi;

	nparts = atoi(argv[1]);
	for (long wi = 0; wi < NWRITERS; wi++)
		pthread_create(&th[wi], NULL, writer_main, (void *)wi);
	for (int wi = 0; wi < NWRITERS; wi++)
		pthread_join(th[wi], NULL);
	for (int p = 0; p < nparts; p++) {
		total += read_part(p, argv[2]);
		if (shlogfs_kclient_watermarks(kc, topic, p, &lo, &hi, 5000) || lo != 0)
			die("partition %d: watermarks", p);
	}
	if (total != NMSG)
		die("read back %d messages, not %d", total, NMSG);
	printf("roundtrip: %d messages from %d writers, each once and in order\n", total, NWRITERS);
	return 0;
}

/* ---- the other commands ---- */

/* Produce @count messages "@pfxI" to @part (key "kI" if @keyed), wait
 * (@wait_ms, -1: message.timeout.ms): the errno. */
static int produce_some(int32_t part, int count, int keyed, const char *pfx, int wait_ms)
{
	struct shlogfs_kclient_writer *w;
	char key[32], val[32];
	uint64_t t = 0;
	int rc = 0;

	if (shlogfs_kclient_writer_new(kc, &w))
		die("writer_new");
	for (int i = 0; i < count && rc == 0; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "%s%d", pfx, i);
		rc = produce(w, part, keyed ? key : NULL, val, strlen(val), &t);
	}
	if (rc == 0)
		rc = shlogfs_kclient_wait(w, t, wait_ms);
	shlogfs_kclient_writer_free(w);
	return rc;
}

/* produce TOPIC PART COUNT */
static int cmd_produce(char **argv)
{
	int rc = produce_some(atoi(argv[1]), atoi(argv[2]), 0, "m", WAIT_MS);

	if (rc)
		die("produce: %s", strerror(-rc));
	return 0;
}

/* keys TOPIC N */
static int cmd_keys(char **argv)
{
	int rc = produce_some(-1, atoi(argv[1]), 1, "v", WAIT_MS);

	if (rc)
		die("keys: %s", strerror(-rc));
	return 0;
}

/* outage TOPIC TIMEOUT_MS */
static int cmd_outage(char **argv)
{
	long limit = atol(argv[1]) + 1500, t0 = now_ms(), took;
	char line[64];
	int rc;

	rc = produce_some(0, 1, 0, "lost", -1);
	took = now_ms() - t0;
	if (rc != -EIO)
		die("with the leader down, wait returned %d (%s), not -EIO", rc, strerror(-rc));
	if (took > limit)
		die("-EIO came after %ld ms, over %ld", took, limit);
	printf("eio %ld\n", took);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 0;   /* EOF: only the EIO was to be checked */
	/* The producer reconnects with backoff; a message may time out first. */
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "back%d-", i);
		if ((rc = produce_some(0, 1, 0, line, -1)) == 0)
			break;
	}
	if (rc)
		die("with the leader up again, 5 waits returned %s", strerror(-rc));
	printf("delivered %s0\n", line);
	return 0;
}

/* msgsize TOPIC SIZE */
static int cmd_msgsize(char **argv)
{
	size_t n = (size_t)atol(argv[1]);
	struct shlogfs_kclient_writer *w;
	char *buf = calloc(1, n);
	uint64_t t;
	int rc;

	if (!buf || shlogfs_kclient_writer_new(kc, &w))
		die("out of memory");
	rc = shlogfs_kclient_produce(kc, w, topic, 0, NULL, 0, buf, n, &t);
	if (rc != -EMSGSIZE)
		die("a %zu-byte message: produce returned %d (%s), not -EMSGSIZE", n, rc, strerror(-rc));
	shlogfs_kclient_writer_free(w);
	free(buf);
	printf("msgsize: -EMSGSIZE\n");
	return 0;
}

/* queuefull TOPIC N (queue.buffering.max.messages=N): -EAGAIN, wait_room, then room again */
static int cmd_queuefull(char **argv)
{
	struct shlogfs_kclient_writer *w;
	int n = atoi(argv[1]), i, rc = 0;
	uint64_t t = 0, t2, inflight, failed, rebuilds;

	if (shlogfs_kclient_writer_new(kc, &w))
		die("writer_new");
	for (i = 0; i <= n && rc == 0; i++)
		rc = shlogfs_kclient_produce(kc, w, topic, 0, NULL, 0, "q", 1, i < n ? &t : &t2);
	if (rc != -EAGAIN || i != n + 1)
		die("message %d of a queue of %d: produce returned %d (%s), not -EAGAIN", i, n, rc, strerror(-rc));
	/* wait_room: back once half of the n in flight are settled (linger.ms=200: not at once) */
	if ((rc = shlogfs_kclient_wait_room(kc, WAIT_MS)))
		die("wait_room after -EAGAIN: %s", strerror(-rc));
	shlogfs_kclient_counts(kc, &inflight, &failed, &rebuilds);
	if (inflight > (uint64_t)n / 2)
		die("wait_room returned with %llu of %d messages in flight", (unsigned long long)inflight, n);
	if ((rc = shlogfs_kclient_produce(kc, w, topic, 0, NULL, 0, "q", 1, &t)))
		die("produce after wait_room: %s", strerror(-rc));
	if ((rc = shlogfs_kclient_wait(w, t, WAIT_MS)))
		die("wait for the queued messages: %s", strerror(-rc));
	if ((rc = shlogfs_kclient_produce(kc, w, topic, 0, NULL, 0, "q", 1, &t)) ||
	    (rc = shlogfs_kclient_wait(w, t, WAIT_MS)))
		die("after the queue drained: %s", strerror(-rc));
	shlogfs_kclient_writer_free(w);
	printf("queuefull: -EAGAIN at message %d, wait_room back with half settled, then room again\n", n + 1);
	return 0;
}

/* fatal TOPIC */
static int cmd_fatal(char **argv)
{
	uint64_t inflight, failed, rebuilds;
	int rc;

	(void)argv;
	rc = produce_some(0, 1, 0, "m", WAIT_MS);
	if (rc != -EIO)
		die("after a fatal error, wait returned %d (%s), not -EIO", rc, strerror(-rc));
	for (int i = 0; i < 100; i++) {   /* the poll thread rebuilds */
		shlogfs_kclient_counts(kc, &inflight, &failed, &rebuilds);
		if (rebuilds)
			break;
		usleep(50000);
	}
	if (!rebuilds)
		die("the producer was not rebuilt");
	rc = produce_some(0, 1, 0, "m", WAIT_MS);
	if (rc)
		die("after the rebuild, wait returned %s", strerror(-rc));
	printf("fatal: -EIO, rebuilt %llu time(s), then delivered\n", (unsigned long long)rebuilds);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int nargs; int (*fn)(char **); } cmds[] = {
		{ "roundtrip", 3, cmd_roundtrip }, { "produce", 3, cmd_produce },
		{ "keys", 2, cmd_keys }, { "outage", 2, cmd_outage },
		{ "msgsize", 2, cmd_msgsize }, { "fatal", 1, cmd_fatal },
		{ "queuefull", 2, cmd_queuefull },
	};
	char *opts[32];
	int nopts = 0, c, rc;

	while ((c = getopt(argc, argv, "o:")) != -1) {
		if (c != 'o' || nopts == 32)
			return 2;
		opts[nopts++] = optarg;
	}
	argv += optind;
	argc -= optind;
	if (argc == 1 && strcmp(argv[0], "badopt") == 0) {
		rd_kafka_conf_t *conf = NULL;

		if (conf_build(&conf, opts, nopts) == 0)
			die("the options were accepted");
		printf("refused: %s\n", err);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (argc != cmds[i].nargs + 1 || strcmp(argv[0], cmds[i].name))
			continue;
		topic = argv[1];
		client_open(opts, nopts);
		rc = cmds[i].fn(argv + 1);
		shlogfs_kclient_close(kc, 5000);
		return rc;
	}
	fprintf(stderr, "usage: kclient_test [-o OPT]... roundtrip|produce|keys|outage|msgsize|fatal|queuefull|badopt ARGS\n");
	return 2;
}
