/*
 * kindex.c — shlog-kindex: the byte index's pieces alone, without the
 * daemon (docs/PERFORMANCE.md, "Kafka backend (issue 14)").
 *
 *   shlog-kindex -t TOPIC [-p PART] [-S STRIDE] [-o OPT]... DIR
 *
 * Does what the Kafka backend's indexer does from an empty cache dir,
 * with the same two modules it uses: a reader of fs/kclient.c consumes
 * partition PART (0) of TOPIC from its log start to its end (as seen at
 * the start), and every message goes into a new byte index of fs/kidx.c
 * in DIR (file "bench.kidx", stride STRIDE, 1,000 by default): an entry
 * when due, the indexed end moved past it; the index is synced at the
 * end.  Prints "msgs msgs/s seconds entries bytes": the clock runs from
 * the reader's open to the sync's end.  The client's settings are the
 * mount's (fs/kclient.c's defaults, then each -o OPT: brokers=H:P+H:P,
 * kafka.NAME=VALUE).  Exit status 0; 1 on an error; 2 for a bad command
 * line.
 */
#include "bench_util.h"
#include "kclient.h"
#include "kidx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KI_POLL_MS 1000         /* one reader poll */
#define KI_IDLE_POLLS 30        /* polls with nothing new before giving up */

/* What the message callback carries. */
struct ki_state {
	struct shlogfs_kidx *k;
	int64_t stop_off;           /* the end offset at the start: index below it */
	uint64_t pos, msgs;
	int err;
};

/* Index one consumed message (the indexer's step): entry when due, end past it. */
static int ki_take(const struct shlogfs_kclient_msg *m, void *arg)
{
	struct ki_state *st = arg;
	uint64_t off = (uint64_t)m->off;

	if (shlogfs_kidx_due(st->k, off) &&
	    (st->err = shlogfs_kidx_append(st->k, off, st->pos, m->ts_ms)) < 0)
		return 1;
	st->pos += m->vlen + 1;
	st->msgs++;
	if ((st->err = shlogfs_kidx_advance(st->k, off + 1, st->pos, m->ts_ms)) < 0)
		return 1;
	return m->off + 1 >= st->stop_off;
}

/* A client on the defaults and the @nopt options @opts; NULL (said why). */
static struct shlogfs_kclient *ki_client(char **opts, int nopt)
{
	char err[SHLOGFS_KCLIENT_ERRLEN] = "";
	struct shlogfs_kclient *kc;
	rd_kafka_conf_t *conf;

	if (shlogfs_kclient_conf_new(&conf, err, sizeof(err)))
		goto fail;
	for (int i = 0; i < nopt; i++)
		if (shlogfs_kclient_conf_opt(conf, opts[i], err, sizeof(err))) {
			rd_kafka_conf_destroy(conf);
			goto fail;
		}
	if (shlogfs_kclient_open(&kc, conf, NULL, NULL, err, sizeof(err)) == 0)
		return kc;
fail:
	fprintf(stderr, "shlog-kindex: %s\n", *err ? err : "bad option (brokers=, kafka.NAME=)");
	return NULL;
}

/* Index @topic/@part from its start into a new index in @dfd; print the figures. */
static int ki_run(struct shlogfs_kclient *kc, const char *topic, int32_t part, uint32_t stride,
		  int dfd)
{
	static const unsigned char ident[16] = "shlog-kindex";
	struct ki_state st = { 0 };
	struct shlogfs_kclient_reader *r;
	struct shlogfs_kidx_info info;
	char err[SHLOGFS_KCLIENT_ERRLEN];
	int64_t lo, hi, t0;
	const char *why = NULL;
	int idle = 0, n;

	if (shlogfs_kclient_watermarks(kc, topic, part, &lo, &hi, 10000) < 0)
		return 1;
	st.stop_off = hi;
	unlinkat(dfd, "bench.kidx", 0);
	t0 = bench_now_ns();
	if ((n = shlogfs_kidx_open(dfd, "bench.kidx", ident, stride, SHLOGFS_KIDX_CREATE, &st.k,
				   &why)) < 0) {
		fprintf(stderr, "shlog-kindex: index: %s%s%s\n", strerror(-n), why ? ": " : "",
			why ? why : "");
		return 1;
	}
	/* -1: librdkafka's fetch wait; this reader never seeks */
	if (shlogfs_kclient_reader_open(kc, topic, part, lo, -1, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "shlog-kindex: %s\n", err);
		return 1;
	}
	shlogfs_kidx_set_start(st.k, (uint64_t)lo);
	while ((int64_t)st.msgs < hi - lo && idle < KI_IDLE_POLLS && st.err == 0) {
		n = shlogfs_kclient_reader_poll(r, KI_POLL_MS, ki_take, &st);
		if (n < 0) {
			fprintf(stderr, "shlog-kindex: reading: %s\n", strerror(-n));
			return 1;
		}
		idle = n ? 0 : idle + 1;
	}
	shlogfs_kclient_reader_close(r);
	if (st.err == 0)
		st.err = shlogfs_kidx_sync(st.k);
	shlogfs_kidx_info(st.k, &info);
	if (st.err < 0 || (int64_t)st.msgs != hi - lo) {
		fprintf(stderr, "shlog-kindex: indexed %ju of %jd messages (%s)\n", (uintmax_t)st.msgs,
			(intmax_t)(hi - lo), st.err ? strerror(-st.err) : "the reader stopped");
		return 1;
	}
	double sec = (double)(bench_now_ns() - t0) / 1e9;

	printf("%ju %.0f %.3f %ju %ju\n", (uintmax_t)st.msgs, (double)st.msgs / sec, sec,
	       (uintmax_t)info.nent, (uintmax_t)st.pos);
	return shlogfs_kidx_close(st.k) < 0;
}

int main(int argc, char **argv)
{
	char **opts = calloc((size_t)argc, sizeof(*opts));
	const char *topic = NULL;
	uint64_t part = 0, stride = 1000;
	struct shlogfs_kclient *kc;
	int opt, nopt = 0, dfd, rc;

	if (!opts)
		return 1;
	while ((opt = getopt(argc, argv, "t:p:S:o:")) != -1) {
		if (opt == 't')
			topic = optarg;
		else if (opt == 'o')
			opts[nopt++] = optarg;
		else if (opt == '?' || bench_parse_count(optarg, opt == 'p' ? &part : &stride) < 0)
			goto usage;
	}
	if (!topic || optind + 1 != argc || part > INT32_MAX || !stride ||
	    stride > SHLOGFS_KIDX_STRIDE_MAX)
		goto usage;
	if ((dfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(argv[optind]);
		return 1;
	}
	if (!(kc = ki_client(opts, nopt)))
		return 1;
	rc = ki_run(kc, topic, (int32_t)part, (uint32_t)stride, dfd);
	shlogfs_kclient_close(kc, 1000);
	close(dfd);
	free(opts);
	return rc;
usage:
	fprintf(stderr, "usage: shlog-kindex -t TOPIC [-p PART] [-S STRIDE] [-o OPT]... DIR\n");
	return 2;
}
