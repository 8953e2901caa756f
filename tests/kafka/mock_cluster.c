/*
 * mock_cluster.c — librdkafka's mock Kafka cluster in a process of its
 * own, for the kafka suite (docs/KAFKA.md, "Tests"): the daemon and kcat
 * connect to it as to a real cluster.
 *
 * Usage: mock_cluster [-b BROKERS] [-t TOPIC:PARTITIONS]...
 *   -b  brokers in the cluster (default 3; ids 1..BROKERS)
 *   -t  create TOPIC with PARTITIONS partitions before the address is
 *       printed; may be repeated (replication factor: BROKERS, at most 3,
 *       here and for the topic command)
 *
 * Prints the bootstrap address ("127.0.0.1:P,127.0.0.1:Q,...") as one
 * line on stdout, then serves until stdin reaches EOF or SIGTERM/SIGINT.
 * Every line read on stdin is a control command, answered by one line on
 * stdout, "ok" or "error: WHY", so a test knows when it took effect:
 *
 *   down BROKER                    rd_kafka_mock_broker_set_down (-1: all)
 *   up BROKER                      rd_kafka_mock_broker_set_up (-1: all)
 *   leader TOPIC PART BROKER       rd_kafka_mock_partition_set_leader
 *   errors APIKEY ERR [ERR...]     rd_kafka_mock_push_request_errors: the next
 *                                  requests of APIKEY (a number, or produce,
 *                                  fetch, metadata, listoffsets) fail with the
 *                                  ERRs in turn (numbers or librdkafka names
 *                                  without RD_KAFKA_RESP_ERR_, e.g.
 *                                  NOT_LEADER_FOR_PARTITION, _TRANSPORT)
 *   rtt BROKER MS                  rd_kafka_mock_broker_set_rtt
 *   topic TOPIC PARTITIONS         rd_kafka_mock_topic_create
 *
 * Exit status: 0 after EOF or a signal, 1 if the cluster cannot start,
 * 2 for a bad command line.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ARGS 64        /* words in one control line */
#define MAX_LINE 4096      /* longest control line */

static volatile sig_atomic_t stop;
static int replicas = 1;   /* replication factor of topics made here: min(brokers, 3) */

/* ---------------------------------------------------------------- */
/* Parsing                                                           */
/* ---------------------------------------------------------------- */

/* Parse a decimal integer in [lo, hi]: 0, or -1 if @s is not one. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A protocol request type by number or by a few names; -1 if unknown. */
static int parse_apikey(const char *s)
{
	static const struct { const char *name; int key; } names[] = {
		{ "produce", 0 }, { "fetch", 1 }, { "listoffsets", 2 }, { "metadata", 3 },
		{ "offsetcommit", 8 }, { "offsetfetch", 9 }, { "findcoordinator", 10 },
		{ "initproducerid", 22 },
	};
	long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].key;
	return parse_int(s, 0, 32767, &v) == 0 ? (int)v : -1;
}

/* An error code by number or librdkafka name (without RD_KAFKA_RESP_ERR_); 0 or -1. */
static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *d;
	size_t n;
	long v;

	if (parse_int(s, -200, 1000, &v) == 0) {
		*out = (rd_kafka_resp_err_t)v;
		return 0;
	}
	rd_kafka_get_err_descs(&d, &n);
	for (size_t i = 0; i < n; i++)
		if (d[i].name && strcmp(d[i].name, s) == 0) {
			*out = d[i].code;
			return 0;
		}
	return -1;
}

/* ---------------------------------------------------------------- */
/* Control commands                                                  */
/* ---------------------------------------------------------------- */

/* Run the command of @argc words @argv on @mc; NULL, or why it failed. */
static const char *command_run(rd_kafka_mock_cluster_t *mc, int argc, char **argv)
{
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR, errs[MAX_ARGS];
	long a, b;

	if (argc == 2 && (strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0)) {
		if (parse_int(argv[1], -1, INT32_MAX, &a))
			return "BROKER is not a number";
		err = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)a)
					: rd_kafka_mock_broker_set_up(mc, (int32_t)a);
	} else if (argc == 4 && strcmp(argv[0], "leader") == 0) {
		if (parse_int(argv[2], 0, INT32_MAX, &a) || parse_int(argv[3], -1, INT32_MAX, &b))
			return "usage: leader TOPIC PART BROKER";
		err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a, (int32_t)b);
	} else if (argc >= 3 && strcmp(argv[0], "errors") == 0) {
		int key = parse_apikey(argv[1]);
		if (key < 0)
			return "unknown APIKEY";
		for (int i = 2; i < argc; i++)
			if (parse_err(argv[i], &errs[i - 2]))
				return "unknown error code";
		rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, (size_t)(argc - 2), errs);
	} else if (argc == 3 && strcmp(argv[0], "rtt") == 0) {
		if (parse_int(argv[1], -1, INT32_MAX, &a) || parse_int(argv[2], 0, INT32_MAX, &b))
			return "usage: rtt BROKER MS";
		err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
	} else if (argc == 3 && strcmp(argv[0], "topic") == 0) {
		if (parse_int(argv[2], 1, 100000, &a))
			return "usage: topic TOPIC PARTITIONS";
		err = rd_kafka_mock_topic_create(mc, argv[1], (int)a, replicas);
	} else {
		return "unknown command (down, up, leader, errors, rtt, topic)";
	}
	return err ? rd_kafka_err2str(err) : NULL;
}

/* Split @line into words, run it, answer "ok" or "error: ..." on stdout. */
static void command_line(rd_kafka_mock_cluster_t *mc, char *line)
{
	char *argv[MAX_ARGS], *save = NULL, *w;
	const char *why;
	int argc = 0;

	for (w = strtok_r(line, " \t\r\n", &save); w && argc < MAX_ARGS; w = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = w;
	if (argc == 0)
		return;
	why = w ? "too many words" : command_run(mc, argc, argv);
	if (why)
		printf("error: %s\n", why);
	else
		printf("ok\n");
	fflush(stdout);
}

/* Read control lines from stdin until EOF or a signal. */
static void serve(rd_kafka_mock_cluster_t *mc)
{
	char buf[MAX_LINE];
	size_t have = 0;

	while (!stop) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		ssize_t n;
		char *nl;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(0, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t used = (size_t)(nl - buf) + 1;
			*nl = '\0';
			command_line(mc, buf);
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		if (have == sizeof(buf) - 1) {
			printf("error: line too long\n");
			fflush(stdout);
			have = 0;
		}
	}
}

/* ---------------------------------------------------------------- */
/* Set-up                                                            */
/* ---------------------------------------------------------------- */

/* Note a SIGTERM or SIGINT: serve() stops. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Create the topic of a -t TOPIC:PARTITIONS argument; 0 or -1 (said why). */
static int topic_arg(rd_kafka_mock_cluster_t *mc, char *arg)
{
	char *colon = strrchr(arg, ':');
	rd_kafka_resp_err_t err;
	long parts;

	if (!colon || colon == arg || parse_int(colon + 1, 1, 100000, &parts)) {
		fprintf(stderr, "mock_cluster: -t wants TOPIC:PARTITIONS, not '%s'\n", arg);
		return -1;
	}
	*colon = '\0';
	err = rd_kafka_mock_topic_create(mc, arg, (int)parts, replicas);
	if (err) {
		fprintf(stderr, "mock_cluster: topic %s: %s\n", arg, rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

/* Start the cluster, create the topics, print the address, serve. */
int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	char errstr[512];
	rd_kafka_t *rk;
	long brokers = 3;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "b:t:")) != -1)
		if (opt != 't' && (opt != 'b' || parse_int(optarg, 1, 64, &brokers))) {
			fprintf(stderr, "usage: mock_cluster [-b BROKERS] [-t TOPIC:PARTITIONS]...\n");
			return 2;
		}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	replicas = brokers < 3 ? (int)brokers : 3;
	conf = rd_kafka_conf_new();
	/* The handle only hosts the cluster: no notice that it has no bootstrap servers. */
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "mock_cluster: rd_kafka_new: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
	if (!mc) {
		fprintf(stderr, "mock_cluster: rd_kafka_mock_cluster_new failed\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (optind = 1; rc == 0 && (opt = getopt(argc, argv, "b:t:")) != -1;)
		if (opt == 't')
			rc = topic_arg(mc, optarg);
	if (rc == 0) {
		printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
		fflush(stdout);
		serve(mc);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return rc ? 1 : 0;
}
