/*
 * kclient.c — the Kafka backend's client (kclient.h; docs/KAFKA.md,
 * "The client"): configuration from mount options, a producer whose
 * delivery reports are tracked per writer so that fsync can wait for
 * exactly one file's lines, and a reader of one partition.
 *
 * Locking.  kc->rk_lock (read) is held around every use of the producer
 * handle; the poll thread takes it for writing only to rebuild the
 * producer after a fatal error.  kc->mu guards the writers' ticket state
 * and the counters; kc->settled is broadcast whenever a ticket settles,
 * kc->room when a writer held by a full queue may go on (wait_room).
 *
 * Tickets.  A writer numbers its messages 1, 2, ...; the state of the
 * unsettled window [base, next) lives in a ring (PENDING / OK / FAILED).
 * When the lowest ticket settles, base moves past every settled ticket,
 * and failed ones go to the writer's list of failures not yet reported,
 * which shlogfs_kclient_wait reports (once) as -EIO.
 *
 * Topic handles.  Producing by topic name makes librdkafka look the
 * topic up (and take its handle lock) per message; the client keeps one
 * rd_kafka_topic_t per topic it produced to (kc->tmu), made on first use
 * and destroyed before the producer is (close, rebuild).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "kclient.h"

#define POLL_MS 100            /* the poll thread's rd_kafka_poll timeout */
#define REBUILD_FLUSH_MS 5000  /* time given to purged messages' reports at a rebuild */
#define RING_MIN 64            /* first ring size (a power of two) */
#define SEEK_MS 200           /* a seek not done by then fails (the caller reopens) */
#define ROOM_IDLE_MS 10       /* wait_room with nothing in flight: a retry this often */

enum { T_PENDING = 0, T_OK = 1, T_FAILED = 2 };

struct shlogfs_kclient {
	pthread_rwlock_t rk_lock;
	rd_kafka_t *rk;             /* the producer; NULL while a rebuild failed */
	rd_kafka_conf_t *conf;      /* the template every handle is built from */
	shlogfs_kclient_log_fn *log;
	void *log_arg;
	pthread_t poller;
	atomic_int stop;
	atomic_int fatal;           /* error_cb saw a fatal error: rebuild */

	pthread_mutex_t mu;
	pthread_cond_t settled;
	pthread_cond_t room;        /* inflight fell to room_at, with writers waiting for room */
	uint64_t room_at;
	int room_waiters;
	int msg_timeout_ms;         /* the configured message.timeout.ms */
	uint64_t inflight, failed, rebuilds;
	rd_kafka_resp_err_t last_err;   /* the last delivery error */
	char partitioner[32];       /* the configured partitioner (key routing) */

	pthread_mutex_t tmu;        /* guards the topic handles below */
	struct ktopic_h *topics;    /* handles of kc->rk, by name */
	size_t ntopics, captopics;
};

/* One cached topic handle of the producer. */
struct ktopic_h {
	char *name;
	rd_kafka_topic_t *rkt;
};

struct shlogfs_kclient_writer {
	struct shlogfs_kclient *kc;
	uint64_t next;              /* next ticket to hand out */
	uint64_t base;              /* lowest unsettled ticket */
	uint8_t *ring;              /* states of [base, next), at ticket % cap */
	size_t cap;
	uint64_t *fails;            /* failed tickets below base, not yet reported */
	size_t nfail, capfail;
	int freed;                  /* dropped by its owner: free at the last settle */
};

/* What rides with a message to its delivery report. */
struct kmsg {
	struct shlogfs_kclient_writer *w;
	uint64_t ticket;
};

struct shlogfs_kclient_reader {
	struct shlogfs_kclient *kc;
	rd_kafka_t *rk;
	char *topic;
	int32_t part;
	int at_end;
	int64_t eof_off;            /* the offset the last end-of-partition event gave */
};

/* ---------------------------------------------------------------- */
/* Logging                                                           */
/* ---------------------------------------------------------------- */

/* The default sink: stderr. */
static void log_stderr(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	fprintf(stderr, "shlogfs: kafka: %s\n", msg);
}

/* Format a log line and hand it to the client's sink. */
__attribute__((format(printf, 3, 4)))
static void kc_log(struct shlogfs_kclient *kc, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	kc->log(level, line, kc->log_arg);
}

/* librdkafka's own log lines (its levels are syslog's); a reader's
 * CONFWARN lines (the producer properties it ignores) are expected. */
static void on_rdk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct shlogfs_kclient *kc = rd_kafka_opaque(rk);

	if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER && strcmp(fac, "CONFWARN") == 0)
		return;
	if (kc)
		kc_log(kc, level, "librdkafka %s: %s", fac, buf);
}

/* ---------------------------------------------------------------- */
/* Configuration                                                     */
/* ---------------------------------------------------------------- */

/* Set @name=@value on @conf; -EINVAL with "@what: librdkafka's text" in @err. */
static int conf_set(rd_kafka_conf_t *conf, const char *what, const char *name,
		    const char *value, char *err, size_t errlen)
{
	char why[SHLOGFS_KCLIENT_ERRLEN];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", what, why);
	return -EINVAL;
}

/* A new configuration with the producer defaults (kclient.h). */
int shlogfs_kclient_conf_new(rd_kafka_conf_t **out, char *err, size_t errlen)
{
	static const char *const defaults[][2] = {
		{ "enable.idempotence", "true" },
		{ "acks", "all" },
		{ "linger.ms", SHLOGFS_KCLIENT_LINGER_MS },
		{ "partitioner", "murmur2_random" },   /* the Java client's: keys land where Kafka's producers put them */
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int rc;

	if (!conf)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		rc = conf_set(conf, "default", defaults[i][0], defaults[i][1], err, errlen);
		if (rc) {
			rd_kafka_conf_destroy(conf);
			return rc;
		}
	}
	*out = conf;
	return 0;
}

/* The integer value of property @name in @conf, or @dflt. */
static int conf_int(rd_kafka_conf_t *conf, const char *name, int dflt)
{
	char v[32];
	size_t n = sizeof(v);

	if (rd_kafka_conf_get(conf, name, v, &n) != RD_KAFKA_CONF_OK || atoi(v) <= 0)
		return dflt;
	return atoi(v);
}

/* The string value of property @name in @conf into @out ("" if unset). */
static void conf_str(rd_kafka_conf_t *conf, const char *name, char *out, size_t cap)
{
	size_t n = cap;

	if (rd_kafka_conf_get(conf, name, out, &n) != RD_KAFKA_CONF_OK)
		out[0] = '\0';
}

/* brokers=H:P+H:P (or ';'): librdkafka's comma list in bootstrap.servers. */
static int conf_brokers(rd_kafka_conf_t *conf, const char *list, char *err, size_t errlen)
{
	char *v = strdup(list);
	size_t n = strlen(list);
	int rc;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '+' || v[i] == ';')
			v[i] = ',';
	if (n == 0 || v[0] == ',' || v[n - 1] == ',' || strstr(v, ",,")) {
		snprintf(err, errlen, "brokers=%s: expected HOST:PORT[+HOST:PORT...]", list);
		free(v);
		return -EINVAL;
	}
	rc = conf_set(conf, "brokers", "bootstrap.servers", v, err, errlen);
	free(v);
	return rc;
}

/* kafka.NAME=VALUE: passed to rd_kafka_conf_set as kcat's -X does. */
static int conf_passthrough(rd_kafka_conf_t *conf, const char *opt, char *err, size_t errlen)
{
	const char *eq = strchr(opt, '=');
	char name[256], what[sizeof(name) + 8];
	size_t n;

	if (!eq || eq == opt) {
		snprintf(err, errlen, "kafka.%s: expected kafka.NAME=VALUE", opt);
		return -EINVAL;
	}
	n = (size_t)(eq - opt);
	if (n >= sizeof(name)) {
		snprintf(err, errlen, "kafka.%.*s...: name too long", 32, opt);
		return -EINVAL;
	}
	memcpy(name, opt, n);
	name[n] = '\0';
	snprintf(what, sizeof(what), "kafka.%s", name);
	return conf_set(conf, what, name, eq + 1, err, errlen);
}

/* Apply one mount option (kclient.h). */
int shlogfs_kclient_conf_opt(rd_kafka_conf_t *conf, const char *opt, char *err, size_t errlen)
{
	if (strncmp(opt, "brokers=", 8) == 0)
		return conf_brokers(conf, opt + 8, err, errlen);
	if (strncmp(opt, "kafka.", 6) == 0)
		return conf_passthrough(conf, opt + 6, err, errlen);
	return -ENOENT;
}

/* ---------------------------------------------------------------- */
/* Writers and their tickets                                         */
/* ---------------------------------------------------------------- */

/* A new writer (kclient.h). */
int shlogfs_kclient_writer_new(struct shlogfs_kclient *kc, struct shlogfs_kclient_writer **out)
{
	struct shlogfs_kclient_writer *w = calloc(1, sizeof(*w));

	if (!w || !(w->ring = calloc(RING_MIN, 1)) || !(w->fails = malloc(8 * sizeof(*w->fails)))) {
		if (w)
			free(w->ring);
		free(w);
		return -ENOMEM;
	}
	w->kc = kc;
	w->cap = RING_MIN;
	w->capfail = 8;
	w->next = w->base = 1;
	*out = w;
	return 0;
}

/* Free a writer's memory (kc->mu held or the writer unshared). */
static void writer_destroy(struct shlogfs_kclient_writer *w)
{
	free(w->ring);
	free(w->fails);
	free(w);
}

/* Drop a writer (kclient.h): now, or when its last message settles. */
void shlogfs_kclient_writer_free(struct shlogfs_kclient_writer *w)
{
	struct shlogfs_kclient *kc;
	int now;

	if (!w)
		return;
	kc = w->kc;
	pthread_mutex_lock(&kc->mu);
	w->freed = 1;
	now = w->base == w->next;
	pthread_mutex_unlock(&kc->mu);
	if (now)
		writer_destroy(w);
}

/* Double @w's ring, keeping each unsettled ticket at ticket % cap (mu held). */
static int ring_grow(struct shlogfs_kclient_writer *w)
{
	size_t cap = w->cap * 2;
	uint8_t *ring = calloc(cap, 1);

	if (!ring)
		return -ENOMEM;
	for (uint64_t t = w->base; t < w->next; t++)
		ring[t % cap] = w->ring[t % w->cap];
	free(w->ring);
	w->ring = ring;
	w->cap = cap;
	return 0;
}

/* Hand out @w's next ticket, pending (mu held). */
static int ticket_take(struct shlogfs_kclient_writer *w, uint64_t *ticket)
{
	if (w->next - w->base == w->cap && ring_grow(w))
		return -ENOMEM;
	w->ring[w->next % w->cap] = T_PENDING;
	*ticket = w->next++;
	return 0;
}

/* Remember failed ticket @t for the next wait to report (mu held). */
static void fail_note(struct shlogfs_kclient_writer *w, uint64_t t)
{
	if (w->nfail == w->capfail) {
		size_t cap = w->capfail * 2;
		uint64_t *f = realloc(w->fails, cap * sizeof(*f));

		if (!f) {   /* keep the oldest failures; a later one overwrites the last */
			w->fails[w->nfail - 1] = t;
			return;
		}
		w->fails = f;
		w->capfail = cap;
	}
	w->fails[w->nfail++] = t;
}

/* Settle ticket @t of @w as @state; move base; free an orphan (mu held). */
static void ticket_settle(struct shlogfs_kclient_writer *w, uint64_t t, int state)
{
	w->ring[t % w->cap] = (uint8_t)state;
	while (w->base < w->next && w->ring[w->base % w->cap] != T_PENDING) {
		if (w->ring[w->base % w->cap] == T_FAILED)
			fail_note(w, w->base);
		w->base++;
	}
	if (w->freed && w->base == w->next)
		writer_destroy(w);
}

/* Report (and forget) @w's failures at or below @t: their count (mu held). */
static size_t fails_take(struct shlogfs_kclient_writer *w, uint64_t t)
{
	size_t n = 0;

	while (n < w->nfail && w->fails[n] <= t)
		n++;
	memmove(w->fails, w->fails + n, (w->nfail - n) * sizeof(*w->fails));
	w->nfail -= n;
	return n;
}

/* The absolute CLOCK_MONOTONIC time @ms from now (kclient.h). */
struct timespec shlogfs_kclient_deadline(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Milliseconds of CLOCK_MONOTONIC (kclient.h). */
int64_t shlogfs_kclient_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @w's tickets up to @ticket (kclient.h). */
int shlogfs_kclient_wait(struct shlogfs_kclient_writer *w, uint64_t ticket, int timeout_ms)
{
	struct shlogfs_kclient *kc = w->kc;
	struct timespec until = shlogfs_kclient_deadline(timeout_ms < 0 ? kc->msg_timeout_ms : timeout_ms);
	rd_kafka_resp_err_t last;
	size_t nfail;
	int rc = 0;

	pthread_mutex_lock(&kc->mu);
	while (w->base <= ticket && rc == 0)
		rc = pthread_cond_timedwait(&kc->settled, &kc->mu, &until);
	if (w->base <= ticket) {
		pthread_mutex_unlock(&kc->mu);
		kc_log(kc, LOG_ERR, "a writer's messages up to #%llu were not acknowledged within %d ms",
		       (unsigned long long)ticket, timeout_ms < 0 ? kc->msg_timeout_ms : timeout_ms);
		return -EIO;
	}
	nfail = fails_take(w, ticket);
	last = kc->last_err;
	pthread_mutex_unlock(&kc->mu);
	if (nfail == 0)
		return 0;
	kc_log(kc, LOG_ERR, "%zu message(s) of a writer were not delivered (last error: %s)",
	       nfail, rd_kafka_err2str(last));
	return -EIO;
}

/* Wake the writers waiting for room if enough has settled (mu held; after inflight fell). */
static void room_note(struct shlogfs_kclient *kc)
{
	if (kc->room_waiters && kc->inflight <= kc->room_at)
		pthread_cond_broadcast(&kc->room);
}

/* Wait for room in the producer queue after -EAGAIN (kclient.h). */
int shlogfs_kclient_wait_room(struct shlogfs_kclient *kc, int timeout_ms)
{
	struct timespec until;
	uint64_t at;
	int rc = 0;

	pthread_mutex_lock(&kc->mu);
	if (kc->inflight == 0) {   /* refused with nothing of ours queued: no report will come */
		timeout_ms = timeout_ms < ROOM_IDLE_MS ? timeout_ms : ROOM_IDLE_MS;
		at = 0;
	} else {
		at = kc->inflight / 2;
	}
	until = shlogfs_kclient_deadline(timeout_ms);
	if (kc->room_waiters++ == 0 || at > kc->room_at)
		kc->room_at = at;
	do
		rc = pthread_cond_timedwait(&kc->room, &kc->mu, &until);
	while (kc->inflight > at && rc == 0);
	rc = kc->inflight > at ? -ETIMEDOUT : 0;
	if (--kc->room_waiters == 0)
		kc->room_at = 0;
	pthread_mutex_unlock(&kc->mu);
	return rc;
}

/* ---------------------------------------------------------------- */
/* The producer                                                      */
/* ---------------------------------------------------------------- */

/* A message's delivery report (poll thread): settle its ticket. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct shlogfs_kclient *kc = opaque;
	struct kmsg *km = m->_private;

	(void)rk;
	pthread_mutex_lock(&kc->mu);
	kc->inflight--;
	if (m->err) {
		kc->failed++;
		kc->last_err = m->err;
	}
	ticket_settle(km->w, km->ticket, m->err ? T_FAILED : T_OK);
	pthread_cond_broadcast(&kc->settled);
	room_note(kc);
	pthread_mutex_unlock(&kc->mu);
	free(km);
}

/* librdkafka's error callback: log; a fatal error asks for a rebuild. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct shlogfs_kclient *kc = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		atomic_store(&kc->fatal, 1);
		return;   /* logged with its cause at the rebuild */
	}
	kc_log(kc, LOG_WARNING, "%s: %s", rd_kafka_err2name(err), reason);
}

/* A handle of @type built from the template, with the client's callbacks (a
 * consumer's fetches wait at most @wait_ms at the broker, -1: librdkafka's 500). */
static rd_kafka_t *handle_new(struct shlogfs_kclient *kc, rd_kafka_type_t type, int wait_ms,
			      char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(kc->conf);
	char wait[16];
	rd_kafka_t *rk;

	if (!conf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, kc);
	rd_kafka_conf_set_log_cb(conf, on_rdk_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	if (type == RD_KAFKA_PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	else if (conf_set(conf, "reader", "group.id", "shlogfs-reader", err, errlen) ||
		 conf_set(conf, "reader", "enable.partition.eof", "true", err, errlen) ||
		 conf_set(conf, "reader", "enable.auto.commit", "false", err, errlen) ||
		 conf_set(conf, "reader", "auto.offset.reset", "error", err, errlen) ||
		 (wait_ms >= 0 && (snprintf(wait, sizeof(wait), "%d", wait_ms),
				   conf_set(conf, "reader", "fetch.wait.max.ms", wait, err, errlen)))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(type, conf, err, errlen);
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

/* Destroy every cached topic handle (rk_lock held for writing, or no producer users left). */
static void topics_drop(struct shlogfs_kclient *kc)
{
	pthread_mutex_lock(&kc->tmu);
	for (size_t i = 0; i < kc->ntopics; i++) {
		rd_kafka_topic_destroy(kc->topics[i].rkt);
		free(kc->topics[i].name);
	}
	kc->ntopics = 0;
	pthread_mutex_unlock(&kc->tmu);
}

/* The cached handle of @topic on kc->rk, made on first use; NULL on no memory (rk_lock read). */
static rd_kafka_topic_t *topic_get(struct shlogfs_kclient *kc, const char *topic)
{
	rd_kafka_topic_t *rkt = NULL;
	struct ktopic_h *t;
	size_t cap;

	pthread_mutex_lock(&kc->tmu);
	for (size_t i = 0; i < kc->ntopics; i++)
		if (!strcmp(kc->topics[i].name, topic)) {
			rkt = kc->topics[i].rkt;
			goto out;
		}
	if (kc->ntopics == kc->captopics) {
		cap = kc->captopics ? kc->captopics * 2 : 8;
		if (!(t = realloc(kc->topics, cap * sizeof(*t))))
			goto out;
		kc->topics = t;
		kc->captopics = cap;
	}
	t = &kc->topics[kc->ntopics];
	if (!(t->name = strdup(topic)))
		goto out;
	if (!(t->rkt = rd_kafka_topic_new(kc->rk, topic, NULL))) {
		free(t->name);
		goto out;
	}
	kc->ntopics++;
	rkt = t->rkt;
out:
	pthread_mutex_unlock(&kc->tmu);
	return rkt;
}

/* After a fatal error: fail what is in flight, build a new producer (poll thread). */
static void producer_rebuild(struct shlogfs_kclient *kc)
{
	char why[SHLOGFS_KCLIENT_ERRLEN] = "";
	rd_kafka_resp_err_t err;

	pthread_rwlock_wrlock(&kc->rk_lock);
	if (kc->rk) {
		err = rd_kafka_fatal_error(kc->rk, why, sizeof(why));
		kc_log(kc, LOG_ERR, "fatal producer error %s: %s; failing the messages in flight "
		       "and rebuilding the producer", rd_kafka_err2name(err), why);
		rd_kafka_purge(kc->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(kc->rk, REBUILD_FLUSH_MS);
		topics_drop(kc);
		rd_kafka_destroy(kc->rk);
	}
	atomic_store(&kc->fatal, 0);
	kc->rk = handle_new(kc, RD_KAFKA_PRODUCER, -1, why, sizeof(why));
	if (!kc->rk) {
		kc_log(kc, LOG_ERR, "rebuilding the producer failed: %s (retrying)", why);
		atomic_store(&kc->fatal, 1);
	}
	pthread_mutex_lock(&kc->mu);
	kc->rebuilds++;
	pthread_mutex_unlock(&kc->mu);
	pthread_rwlock_unlock(&kc->rk_lock);
}

/* The poll thread: serve delivery reports and errors; rebuild after a fatal one. */
static void *poll_main(void *arg)
{
	struct shlogfs_kclient *kc = arg;

	while (!atomic_load(&kc->stop)) {
		pthread_rwlock_rdlock(&kc->rk_lock);
		if (kc->rk)
			rd_kafka_poll(kc->rk, POLL_MS);
		pthread_rwlock_unlock(&kc->rk_lock);
		if (atomic_load(&kc->fatal)) {
			producer_rebuild(kc);
			if (!kc->rk)
				poll(NULL, 0, POLL_MS);
		}
	}
	return NULL;
}

/* Open a client (kclient.h). */
int shlogfs_kclient_open(struct shlogfs_kclient **out, rd_kafka_conf_t *conf,
			 shlogfs_kclient_log_fn *log, void *log_arg, char *err, size_t errlen)
{
	struct shlogfs_kclient *kc = calloc(1, sizeof(*kc));
	pthread_rwlockattr_t ra;
	pthread_condattr_t ca;
	int rc;

	if (!kc) {
		rd_kafka_conf_destroy(conf);
		return -ENOMEM;
	}
	kc->conf = conf;
	kc->msg_timeout_ms = conf_int(conf, "message.timeout.ms", 300000);
	conf_str(conf, "partitioner", kc->partitioner, sizeof(kc->partitioner));
	kc->log = log ? log : log_stderr;
	kc->log_arg = log_arg;
	pthread_rwlockattr_init(&ra);   /* a rebuild must not starve behind produces */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&kc->rk_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&kc->mu, NULL);
	pthread_mutex_init(&kc->tmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&kc->settled, &ca);
	pthread_cond_init(&kc->room, &ca);
	pthread_condattr_destroy(&ca);
	kc->rk = handle_new(kc, RD_KAFKA_PRODUCER, -1, err, errlen);
	if (!kc->rk) {
		rc = -EINVAL;
		goto fail;
	}
	rc = -pthread_create(&kc->poller, NULL, poll_main, kc);
	if (rc) {
		snprintf(err, errlen, "cannot start the poll thread: %s", strerror(-rc));
		rd_kafka_destroy(kc->rk);
		goto fail;
	}
	*out = kc;
	return 0;
fail:
	pthread_cond_destroy(&kc->settled);
	pthread_cond_destroy(&kc->room);
	pthread_mutex_destroy(&kc->mu);
	pthread_mutex_destroy(&kc->tmu);
	pthread_rwlock_destroy(&kc->rk_lock);
	rd_kafka_conf_destroy(conf);
	free(kc);
	return rc;
}

/* Close a client (kclient.h). */
void shlogfs_kclient_close(struct shlogfs_kclient *kc, int timeout_ms)
{
	if (!kc)
		return;
	atomic_store(&kc->stop, 1);
	pthread_join(kc->poller, NULL);
	if (kc->rk) {
		if (rd_kafka_flush(kc->rk, timeout_ms))
			kc_log(kc, LOG_WARNING, "%d message(s) not delivered at close",
			       rd_kafka_outq_len(kc->rk));
		rd_kafka_purge(kc->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(kc->rk, 0);   /* the purged messages' reports */
		topics_drop(kc);
		rd_kafka_destroy(kc->rk);
	}
	free(kc->topics);
	pthread_mutex_destroy(&kc->tmu);
	pthread_cond_destroy(&kc->settled);
	pthread_cond_destroy(&kc->room);
	pthread_mutex_destroy(&kc->mu);
	pthread_rwlock_destroy(&kc->rk_lock);
	rd_kafka_conf_destroy(kc->conf);
	free(kc);
}

/* A produce refusal as an errno (kclient.h). */
static int produce_errno(struct shlogfs_kclient *kc, const char *topic, int32_t part,
			 rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		return -EAGAIN;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
		return -EMSGSIZE;
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		return -ENOENT;
	case RD_KAFKA_RESP_ERR__FATAL:
		atomic_store(&kc->fatal, 1);
		/* fall through */
	default:
		kc_log(kc, LOG_ERR, "produce to %s [%d] refused: %s", topic, (int)part,
		       rd_kafka_err2str(err));
		return -EIO;
	}
}

/* Produce one message (kclient.h). */
int shlogfs_kclient_produce(struct shlogfs_kclient *kc, struct shlogfs_kclient_writer *w,
			    const char *topic, int32_t part, const void *key, size_t klen,
			    const void *val, size_t vlen, uint64_t *ticket)
{
	struct kmsg *km = malloc(sizeof(*km));
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	int nomem = 0;

	if (!km)
		return -ENOMEM;
	km->w = w;
	pthread_mutex_lock(&kc->mu);
	if (ticket_take(w, &km->ticket)) {
		pthread_mutex_unlock(&kc->mu);
		free(km);
		return -ENOMEM;
	}
	kc->inflight++;
	pthread_mutex_unlock(&kc->mu);

	pthread_rwlock_rdlock(&kc->rk_lock);
	if (!kc->rk)
		err = RD_KAFKA_RESP_ERR__FATAL;
	else if (!(rkt = topic_get(kc, topic)))
		err = RD_KAFKA_RESP_ERR__INVALID_ARG, nomem = 1;   /* no memory for the handle */
	else if (rd_kafka_produce(rkt, part < 0 ? RD_KAFKA_PARTITION_UA : part,
				  RD_KAFKA_MSG_F_COPY, (void *)val, vlen, key, klen, km) == -1)
		err = rd_kafka_last_error();
	else
		err = RD_KAFKA_RESP_ERR_NO_ERROR;
	pthread_rwlock_unlock(&kc->rk_lock);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		*ticket = km->ticket;
		return 0;
	}
	/* Not queued: the ticket settles at once, as nothing to wait for. */
	pthread_mutex_lock(&kc->mu);
	kc->inflight--;
	ticket_settle(w, km->ticket, T_OK);
	pthread_cond_broadcast(&kc->settled);
	room_note(kc);
	pthread_mutex_unlock(&kc->mu);
	free(km);
	if (nomem)
		return -ENOMEM;
	return produce_errno(kc, topic, part, err);
}

/* Wait until nothing is queued or in flight (kclient.h). */
int shlogfs_kclient_flush(struct shlogfs_kclient *kc, int timeout_ms)
{
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FATAL;

	pthread_rwlock_rdlock(&kc->rk_lock);
	if (kc->rk)
		err = rd_kafka_flush(kc->rk, timeout_ms);
	pthread_rwlock_unlock(&kc->rk_lock);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	kc_log(kc, LOG_ERR, "messages still in flight after %d ms: %s", timeout_ms, rd_kafka_err2str(err));
	return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? -ETIMEDOUT : -EIO;
}

/* Counters (kclient.h). */
void shlogfs_kclient_counts(struct shlogfs_kclient *kc, uint64_t *inflight, uint64_t *failed,
			    uint64_t *rebuilds)
{
	pthread_mutex_lock(&kc->mu);
	*inflight = kc->inflight;
	*failed = kc->failed;
	*rebuilds = kc->rebuilds;
	pthread_mutex_unlock(&kc->mu);
}

/* A partition's start and end offsets through handle @rk: 0 or -EIO. */
static int watermarks(struct shlogfs_kclient *kc, rd_kafka_t *rk, const char *topic,
		      int32_t part, int64_t *lo, int64_t *hi, int timeout_ms)
{
	rd_kafka_resp_err_t err;

	err = rd_kafka_query_watermark_offsets(rk, topic, part, lo, hi, timeout_ms);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	kc_log(kc, LOG_WARNING, "offsets of %s [%d]: %s", topic, (int)part, rd_kafka_err2str(err));
	return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? -ENOENT : -EIO;
}

/* Log start and end offsets (kclient.h). */
int shlogfs_kclient_watermarks(struct shlogfs_kclient *kc, const char *topic, int32_t part,
			       int64_t *lo, int64_t *hi, int timeout_ms)
{
	int rc = -EIO;

	pthread_rwlock_rdlock(&kc->rk_lock);
	if (kc->rk)
		rc = watermarks(kc, kc->rk, topic, part, lo, hi, timeout_ms);
	pthread_rwlock_unlock(&kc->rk_lock);
	return rc;
}

/* ---------------------------------------------------------------- */
/* The reader                                                        */
/* ---------------------------------------------------------------- */

/* Open a reader (kclient.h). */
int shlogfs_kclient_reader_open(struct shlogfs_kclient *kc, const char *topic, int32_t part,
				int64_t from, int wait_ms, struct shlogfs_kclient_reader **out,
				char *err, size_t errlen)
{
	struct shlogfs_kclient_reader *r = calloc(1, sizeof(*r));
	rd_kafka_topic_partition_list_t *tp;
	rd_kafka_resp_err_t e;

	if (!r)
		return -ENOMEM;
	r->kc = kc;
	r->part = part;
	if (!(r->topic = strdup(topic))) {
		free(r);
		return -ENOMEM;
	}
	r->rk = handle_new(kc, RD_KAFKA_CONSUMER, wait_ms, err, errlen);
	if (!r->rk) {
		free(r->topic);
		free(r);
		return -EINVAL;
	}
	rd_kafka_poll_set_consumer(r->rk);
	tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, topic, part)->offset = from;
	e = rd_kafka_assign(r->rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e) {
		snprintf(err, errlen, "assign %s [%d]: %s", topic, (int)part, rd_kafka_err2str(e));
		shlogfs_kclient_reader_close(r);
		return -EINVAL;
	}
	/* No watermark query here: with the leader down it waits for the
	 * request's own timeout (socket.timeout.ms), whatever its bound says. */
	kc_log(kc, LOG_DEBUG, "reading %s [%d] from offset %lld", topic, (int)part, (long long)from);
	*out = r;
	return 0;
}

/* Move a reader (kclient.h): seek its partition (an assign again trips librdkafka 2.0.2's
 * assertion rktp_started when the first assign has not started yet). */
int shlogfs_kclient_reader_seek(struct shlogfs_kclient_reader *r, int64_t from)
{
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_error_t *e;

	if (!tp)
		return -ENOMEM;
	rd_kafka_topic_partition_list_add(tp, r->topic, r->part)->offset = from;
	e = rd_kafka_seek_partitions(r->rk, tp, SEEK_MS);
	if (!e && tp->elems[0].err)
		kc_log(r->kc, LOG_WARNING, "seek %s [%d] to %lld: %s", r->topic, (int)r->part,
		       (long long)from, rd_kafka_err2str(tp->elems[0].err));
	r->at_end = 0;
	if (!e && !tp->elems[0].err) {
		rd_kafka_topic_partition_list_destroy(tp);
		return 0;
	}
	if (e) {
		kc_log(r->kc, LOG_WARNING, "seek %s [%d] to %lld: %s", r->topic, (int)r->part,
		       (long long)from, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	rd_kafka_topic_partition_list_destroy(tp);
	return -EIO;
}

/* One consumed message or event to @fn: 1 to go on, 0 to stop, or -errno. */
static int reader_take(struct shlogfs_kclient_reader *r, rd_kafka_message_t *m,
		       shlogfs_kclient_msg_fn *fn, void *arg)
{
	rd_kafka_timestamp_type_t tstype;
	struct shlogfs_kclient_msg msg;

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		r->at_end = 1;
		r->eof_off = m->offset;
		return 0;
	}
	if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
	    m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
		return -ERANGE;
	if (m->err) {
		kc_log(r->kc, LOG_WARNING, "reading: %s", rd_kafka_message_errstr(m));
		return -EIO;
	}
	r->at_end = 0;
	msg.off = m->offset;
	msg.ts_ms = rd_kafka_message_timestamp(m, &tstype);
	msg.key = m->key;
	msg.klen = m->key_len;
	msg.val = m->payload;
	msg.vlen = m->len;
	return fn(&msg, arg) ? 0 : 1;
}

/* Hand arriving messages to @fn (kclient.h). */
int shlogfs_kclient_reader_poll(struct shlogfs_kclient_reader *r, int timeout_ms,
				shlogfs_kclient_msg_fn *fn, void *arg)
{
	struct timespec until = shlogfs_kclient_deadline(timeout_ms), now;
	rd_kafka_message_t *m;
	int count = 0, rc = 1;
	long left;

	while (rc == 1) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (until.tv_sec - now.tv_sec) * 1000L + (until.tv_nsec - now.tv_nsec) / 1000000L;
		m = rd_kafka_consumer_poll(r->rk, left > 0 ? (int)left : 0);
		if (!m)
			break;
		rc = reader_take(r, m, fn, arg);
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			count++;
		rd_kafka_message_destroy(m);
		if (left <= 0)
			break;
	}
	return rc < 0 ? rc : count;
}

/* Whether the last poll reached the partition's end (kclient.h). */
int shlogfs_kclient_reader_at_end(const struct shlogfs_kclient_reader *r)
{
	return r->at_end;
}

/* The watermarks the reader's last fetch brought (kclient.h): no request. */
int shlogfs_kclient_reader_watermarks(struct shlogfs_kclient_reader *r, int64_t *lo, int64_t *hi)
{
	if (rd_kafka_get_watermark_offsets(r->rk, r->topic, r->part, lo, hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    *lo < 0 || *hi < 0)
		return -ENOENT;
	return 0;
}

/* Where the partition ended at the last end-of-partition event (kclient.h). */
int64_t shlogfs_kclient_reader_end(const struct shlogfs_kclient_reader *r)
{
	return r->at_end ? r->eof_off : -1;
}

/* Close a reader (kclient.h). */
void shlogfs_kclient_reader_close(struct shlogfs_kclient_reader *r)
{
	if (!r)
		return;
	rd_kafka_consumer_close(r->rk);
	rd_kafka_destroy(r->rk);
	free(r->topic);
	free(r);
}

/* ---------------------------------------------------------------- */
/* Cluster metadata and administration                               */
/* ---------------------------------------------------------------- */

/* A metadata or admin error as an errno: brokers unreachable, timed out, other. */
static int cluster_errno(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
		return -ETIMEDOUT;
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__RESOLVE:
		return -EHOSTUNREACH;
	default:
		return -EIO;
	}
}

/* The cluster's topics (kclient.h). */
int shlogfs_kclient_metadata(struct shlogfs_kclient *kc, shlogfs_kclient_topic_fn *fn, void *arg,
			     int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FATAL;
	int rc = 0;

	pthread_rwlock_rdlock(&kc->rk_lock);
	if (kc->rk)
		err = rd_kafka_metadata(kc->rk, 1, NULL, &md, timeout_ms);
	pthread_rwlock_unlock(&kc->rk_lock);
	if (err) {
		kc_log(kc, LOG_WARNING, "metadata: %s", rd_kafka_err2str(err));
		return cluster_errno(err);
	}
	for (int i = 0; i < md->topic_cnt && rc == 0; i++)
		if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[i].partition_cnt > 0)
			rc = fn(md->topics[i].topic, (uint32_t)md->topics[i].partition_cnt, arg);
	rd_kafka_metadata_destroy(md);
	return rc;
}

/* The cluster id (kclient.h). */
int shlogfs_kclient_clusterid(struct shlogfs_kclient *kc, char *out, size_t cap, int timeout_ms)
{
	char *id = NULL;

	pthread_rwlock_rdlock(&kc->rk_lock);
	if (kc->rk)
		id = rd_kafka_clusterid(kc->rk, timeout_ms);
	pthread_rwlock_unlock(&kc->rk_lock);
	if (!id)
		return -ENOENT;
	snprintf(out, cap, "%s", id);
	rd_kafka_mem_free(NULL, id);
	return 0;
}

/* An Admin API answer for one topic as an errno. */
static int admin_errno(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return 0;
	case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
		return -EEXIST;
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		return -ENOENT;
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_DELETION_DISABLED:
		return -EPERM;
	case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
		return -EOPNOTSUPP;
	case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
	case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
	case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
		return -EINVAL;
	default:
		return cluster_errno(err);
	}
}

/* Send the request of @op for @topic on @rk, answers to @q (the admin objects freed). */
static int admin_send(rd_kafka_t *rk, enum shlogfs_kclient_admin_op op, const char *topic,
		      int count, int repl, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *q,
		      char *why, size_t whylen)
{
	if (op == SHLOGFS_KADMIN_CREATE) {
		rd_kafka_NewTopic_t *t = rd_kafka_NewTopic_new(topic, count, repl, why, whylen);
		if (!t)
			return -EINVAL;
		rd_kafka_CreateTopics(rk, &t, 1, ao, q);
		rd_kafka_NewTopic_destroy(t);
	} else if (op == SHLOGFS_KADMIN_PARTITIONS) {
		rd_kafka_NewPartitions_t *t = rd_kafka_NewPartitions_new(topic, (size_t)count, why, whylen);
		if (!t)
			return -EINVAL;
		rd_kafka_CreatePartitions(rk, &t, 1, ao, q);
		rd_kafka_NewPartitions_destroy(t);
	} else {
		rd_kafka_DeleteTopic_t *t = rd_kafka_DeleteTopic_new(topic);
		if (!t)
			return -ENOMEM;
		rd_kafka_DeleteTopics(rk, &t, 1, ao, q);
		rd_kafka_DeleteTopic_destroy(t);
	}
	return 0;
}

/* The one topic result of an admin answer @ev: 0 or -errno, its text in @why. */
static int admin_result(rd_kafka_event_t *ev, char *why, size_t whylen)
{
	const rd_kafka_topic_result_t **tr = NULL;
	size_t n = 0;
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);

	if (err) {
		snprintf(why, whylen, "%s", rd_kafka_event_error_string(ev));
		return admin_errno(err);
	}
	switch (rd_kafka_event_type(ev)) {
	case RD_KAFKA_EVENT_CREATETOPICS_RESULT:
		tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		break;
	case RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT:
		tr = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
		break;
	case RD_KAFKA_EVENT_DELETETOPICS_RESULT:
		tr = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
		break;
	default:
		break;
	}
	if (n < 1) {
		snprintf(why, whylen, "no result for the topic");
		return -EIO;
	}
	err = rd_kafka_topic_result_error(tr[0]);
	if (err)
		snprintf(why, whylen, "%s", rd_kafka_topic_result_error_string(tr[0]) ?
			 rd_kafka_topic_result_error_string(tr[0]) : rd_kafka_err2str(err));
	return admin_errno(err);
}

/* One Admin API request (kclient.h). */
int shlogfs_kclient_admin(struct shlogfs_kclient *kc, enum shlogfs_kclient_admin_op op,
			  const char *topic, int count, int repl, int timeout_ms,
			  char *why, size_t whylen)
{
	rd_kafka_AdminOptions_t *ao;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	int rc;

	snprintf(why, whylen, "no producer");
	pthread_rwlock_rdlock(&kc->rk_lock);
	if (!kc->rk) {
		pthread_rwlock_unlock(&kc->rk_lock);
		return -EIO;
	}
	q = rd_kafka_queue_new(kc->rk);
	ao = rd_kafka_AdminOptions_new(kc->rk, RD_KAFKA_ADMIN_OP_ANY);
	rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, NULL, 0);
	rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, NULL, 0);
	rc = admin_send(kc->rk, op, topic, count, repl, ao, q, why, whylen);
	ev = rc ? NULL : rd_kafka_queue_poll(q, timeout_ms + 1000);
	if (!rc && !ev) {
		snprintf(why, whylen, "no answer within %d ms", timeout_ms);
		rc = -ETIMEDOUT;
	} else if (ev) {
		rc = admin_result(ev, why, whylen);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	pthread_rwlock_unlock(&kc->rk_lock);
	return rc;
}

/* The first offset at or after a time (kclient.h). */
int shlogfs_kclient_offset_for_time(struct shlogfs_kclient *kc, const char *topic, int32_t part,
				    int64_t ts_ms, int64_t *off, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FATAL;
	int64_t got;

	if (!tp)
		return -ENOMEM;
	rd_kafka_topic_partition_list_add(tp, topic, part)->offset = ts_ms;
	pthread_rwlock_rdlock(&kc->rk_lock);
	if (kc->rk)
		err = rd_kafka_offsets_for_times(kc->rk, tp, timeout_ms);
	pthread_rwlock_unlock(&kc->rk_lock);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		err = tp->elems[0].err;
	got = tp->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(tp);
	if (err) {
		kc_log(kc, LOG_WARNING, "offsets for times of %s [%d]: %s", topic, (int)part,
		       rd_kafka_err2str(err));
		return -EIO;
	}
	if (got == RD_KAFKA_OFFSET_END)
		return -ENXIO;
	if (got < 0)
		return -EOPNOTSUPP;
	*off = got;
	return 0;
}

/* The configured partitioner's choice for a key (kclient.h). */
uint32_t shlogfs_kclient_partition(struct shlogfs_kclient *kc, const void *key, size_t klen,
				   uint32_t nparts)
{
	int32_t p;

	if (strncmp(kc->partitioner, "consistent", 10) == 0)
		p = rd_kafka_msg_partitioner_consistent(NULL, key, klen, (int32_t)nparts, NULL, NULL);
	else if (strncmp(kc->partitioner, "fnv1a", 5) == 0)
		p = rd_kafka_msg_partitioner_fnv1a(NULL, key, klen, (int32_t)nparts, NULL, NULL);
	else
		p = rd_kafka_msg_partitioner_murmur2(NULL, key, klen, (int32_t)nparts, NULL, NULL);
	return p >= 0 && (uint32_t)p < nparts ? (uint32_t)p : 0;
}
