/*
 * be_kafka.c — the Kafka backend (be_kafka.h; docs/KAFKA.md): fs/backend.h's
 * table over a cluster.  Topics and partitions are the cluster's (metadata
 * cached for a second); appends are produced line by line through
 * fs/kclient.c, fsync waits for the handle's delivery reports and then for
 * the indexer; reads, keys and seeks are fs/kpart.c's, over each
 * partition's byte index in the cache dir, which one indexer thread keeps
 * for every partition the tree has touched.  Modes and owners of the root,
 * topics and partitions live in the cache dir's `modes` file.
 *
 * Locking: s->mu guards the topic cache, the partition list, the modes and
 * the source overrides; it is never held across a call to the cluster
 * (s->refresh_mu serialises metadata refreshes).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "be_kafka.h"
#include "be_kafka_names.h"
#include "kclient.h"
#include "kpart.h"
#include "log.h"

#define KBE_CONNECT_MS   5000    /* metadata at mount */
#define KBE_META_MS      1000    /* topics and partitions cached this long */
#define KBE_REFRESH_MS   2000    /* bound of a refresh */
#define KBE_ADMIN_MS     5000    /* bound of an Admin API request */
#define KBE_RYW_MS       5000    /* fsync waits this long for the indexer */
#define KBE_HOLD_MS      30000   /* a write held by a full queue, at most */
#define KBE_CLOSE_MS     5000    /* flush at unmount */
#define KBE_STEP_MS      50      /* the indexer's turn of a partition with messages coming */
#define KBE_IDLE_MS      5       /* its rest when no partition had any */
#define KBE_SOCKET_MS    10000   /* socket.timeout.ms (librdkafka's 60 s) */
#define KBE_QUEUE_MSGS   1000000 /* queue.buffering.max.messages when max_buffer is the default */
#define KBE_READERS      32      /* readers open at once, each a librdkafka consumer (kpart.h) */

/* ==== the configuration =============================================== */

struct shlogfs_kafka_conf {
	rd_kafka_conf_t *rk;
	int repl;                    /* mkdir's replication factor (-1: the cluster's default) */
	int linger_set, qmsgs_set, qbytes_set, maxbytes_set;   /* kafka.X given: @o does not set X */
	int socktmo_set;
};

/* A new configuration with the defaults (be_kafka.h). */
int shlogfs_kafka_conf_new(struct shlogfs_kafka_conf **out)
{
	struct shlogfs_kafka_conf *c = calloc(1, sizeof(*c));
	char err[SHLOGFS_KCLIENT_ERRLEN];

	if (!c)
		return -ENOMEM;
	if (shlogfs_kclient_conf_new(&c->rk, err, sizeof(err))) {
		free(c);
		return -ENOMEM;
	}
	c->repl = -1;
	*out = c;
	return 0;
}

/* Free a configuration (be_kafka.h). */
void shlogfs_kafka_conf_free(struct shlogfs_kafka_conf *c)
{
	if (!c)
		return;
	rd_kafka_conf_destroy(c->rk);
	free(c);
}

/* Note which of the properties the daemon's options also set were given by name. */
static void kconf_note(struct shlogfs_kafka_conf *c, const char *name)
{
	static const struct { const char *name; size_t at; } known[] = {
		{ "linger.ms=", offsetof(struct shlogfs_kafka_conf, linger_set) },
		{ "queue.buffering.max.ms=", offsetof(struct shlogfs_kafka_conf, linger_set) },
		{ "queue.buffering.max.messages=", offsetof(struct shlogfs_kafka_conf, qmsgs_set) },
		{ "queue.buffering.max.kbytes=", offsetof(struct shlogfs_kafka_conf, qbytes_set) },
		{ "message.max.bytes=", offsetof(struct shlogfs_kafka_conf, maxbytes_set) },
		{ "socket.timeout.ms=", offsetof(struct shlogfs_kafka_conf, socktmo_set) },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(name, known[i].name, strlen(known[i].name)) == 0)
			*(int *)((char *)c + known[i].at) = 1;
}

/* Trim white space at both ends of @s in place. */
static char *kconf_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* kafka_config=FILE: one NAME=VALUE per line as kafka.NAME=VALUE; # comments. */
static int kconf_file(struct shlogfs_kafka_conf *c, const char *path, char *err, size_t errlen)
{
	char line[4096], opt[4096 + 8], why[SHLOGFS_KCLIENT_ERRLEN];
	FILE *f = fopen(path, "re");
	int rc = 0, no = 0;

	if (!f) {
		snprintf(err, errlen, "kafka_config=%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *l = kconf_trim(line);

		no++;
		if (*l == '\0' || *l == '#')
			continue;
		snprintf(opt, sizeof(opt), "kafka.%s", l);
		if ((rc = shlogfs_kclient_conf_opt(c->rk, opt, why, sizeof(why))))
			snprintf(err, errlen, "kafka_config=%s, line %d: %s", path, no, why);
		else
			kconf_note(c, l);
	}
	fclose(f);
	return rc ? -EINVAL : 0;
}

/* One -o option if it is the backend's (be_kafka.h). */
int shlogfs_kafka_conf_opt(struct shlogfs_kafka_conf *c, const char *opt, char *err, size_t errlen)
{
	char *end;
	long v;
	int rc;

	if (strncmp(opt, "replication=", 12) == 0) {
		errno = 0;
		v = strtol(opt + 12, &end, 10);
		if (errno || end == opt + 12 || *end || v < 1 || v > 32767) {
			snprintf(err, errlen, "%s: expected a replication factor 1..32767", opt);
			return -EINVAL;
		}
		c->repl = (int)v;
		return 0;
	}
	if (strncmp(opt, "kafka_config=", 13) == 0)
		return kconf_file(c, opt + 13, err, errlen);
	rc = shlogfs_kclient_conf_opt(c->rk, opt, err, errlen);
	if (rc == 0 && strncmp(opt, "kafka.", 6) == 0)
		kconf_note(c, opt + 6);
	return rc;
}

/* ==== the store ======================================================= */

/* A topic of the cluster, as last seen. */
struct ktopic {
	char *name;
	uint32_t nparts;
};

/* A directory's mode and owner, as chmod and chown left them. */
struct kmode {
	char *topic;         /* NULL: the mount root */
	int64_t part;        /* -1: the topic itself */
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* A test's source for one topic. */
struct ksrc_override {
	char *topic;
	const struct shlogfs_ksrc_ops *src;
	void *ctx;
};

struct shlogfs_bstore {
	struct shlogfs_kclient *kc;
	struct shlog_options o;
	struct shlogfs_kenv env;
	int dfd, lockfd;
	int repl;
	char brokers[512];
	struct shlogfs_bwriter *w0;         /* appends without a handle's writer */

	pthread_mutex_t mu;
	pthread_mutex_t refresh_mu;
	struct ktopic *topics;              /* sorted by name */
	size_t ntopics;
	int64_t topics_ms;                  /* when last refreshed (or tried) */
	int meta_err;                       /* the last refresh's error, 0 */
	struct shlogfs_bpart **parts;
	size_t nparts, capparts;
	struct kmode *modes;
	size_t nmodes;
	struct ksrc_override *over;
	size_t nover;

	pthread_t indexer;
	atomic_int stop;
	atomic_int readers;                 /* env.readers: the partitions' open readers */
};

struct shlogfs_bwriter {
	struct shlogfs_kclient_writer *kw;
	atomic_uint_fast64_t last;          /* its last ticket */
};

/* The client's log lines go to the daemon's log. */
static void kbe_log(int level, const char *msg, void *arg)
{
	(void)arg;
	shlogfs_log(level, "kafka: %s", msg);
}

/* ==== topics: the metadata cache ====================================== */

/* A list of topics being built by a refresh. */
struct ktopics {
	struct ktopic *t;
	size_t n, cap;
};

/* One topic of the cluster's metadata into the list (names the tree cannot show are left out). */
static int kbe_topic_add(const char *topic, uint32_t nparts, void *arg)
{
	struct ktopics *l = arg;

	if (shlog_topic_name_check(topic))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ktopic *t = realloc(l->t, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		l->t = t;
		l->cap = cap;
	}
	if (!(l->t[l->n].name = strdup(topic)))
		return -ENOMEM;
	l->t[l->n++].nparts = nparts;
	return 0;
}

/* Order topics by name. */
static int kbe_topic_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ktopic *)a)->name, ((const struct ktopic *)b)->name);
}

/* Free a list of @n topics. */
static void kbe_topics_free(struct ktopic *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

/* The cached topic @name, or NULL (mu held). */
static struct ktopic *kbe_topic_find(struct shlogfs_bstore *s, const char *name)
{
	struct ktopic key = { .name = (char *)name };

	return s->ntopics ? bsearch(&key, s->topics, s->ntopics, sizeof(key), kbe_topic_cmp) : NULL;
}

/* Partitions whose topic (or number) is no longer the cluster's are gone (mu held). */
static void kbe_mark_gone(struct shlogfs_bstore *s)
{
	for (size_t i = 0; i < s->nparts; i++) {
		struct shlogfs_bpart *p = s->parts[i];
		struct ktopic *t = kbe_topic_find(s, p->topic);

		if (!p->gone && (!t || p->part >= t->nparts)) {
			shlogfs_log(LOG_NOTICE, "kafka: %s [%u] is no longer in the cluster", p->topic, p->part);
			p->gone = 1;
			pthread_cond_broadcast(&p->moved);
		}
	}
}

/* Fetch the cluster's topics now, within @timeout_ms: 0 or -errno (the cache kept). */
static int kbe_refresh_now(struct shlogfs_bstore *s, int timeout_ms)
{
	struct ktopics l = { 0 };
	int rc = shlogfs_kclient_metadata(s->kc, kbe_topic_add, &l, timeout_ms);

	pthread_mutex_lock(&s->mu);
	s->topics_ms = shlogfs_kclient_now_ms();
	s->meta_err = rc;
	if (rc == 0) {
		qsort(l.t, l.n, sizeof(*l.t), kbe_topic_cmp);
		kbe_topics_free(s->topics, s->ntopics);
		s->topics = l.t;
		s->ntopics = l.n;
		kbe_mark_gone(s);
		l.t = NULL;
		l.n = 0;
	}
	pthread_mutex_unlock(&s->mu);
	kbe_topics_free(l.t, l.n);
	return rc;
}

/* Refresh the cache if it is older than KBE_META_MS (one refresh at a time). */
static void kbe_refresh(struct shlogfs_bstore *s)
{
	int64_t at;

	pthread_mutex_lock(&s->mu);
	at = s->topics_ms;
	pthread_mutex_unlock(&s->mu);
	if (shlogfs_kclient_now_ms() - at < KBE_META_MS)
		return;
	pthread_mutex_lock(&s->refresh_mu);
	pthread_mutex_lock(&s->mu);
	at = s->topics_ms;
	pthread_mutex_unlock(&s->mu);
	if (shlogfs_kclient_now_ms() - at >= KBE_META_MS)
		kbe_refresh_now(s, KBE_REFRESH_MS);
	pthread_mutex_unlock(&s->refresh_mu);
}

/* Every topic, in name order (backend.h topic_foreach). */
static int kbe_topic_foreach(shlogfs_bstore *s, shlogfs_topic_fn *fn, void *arg)
{
	char **names;
	size_t n;
	int rc = 0;

	kbe_refresh(s);
	pthread_mutex_lock(&s->mu);
	n = s->ntopics;
	names = calloc(n ? n : 1, sizeof(*names));
	for (size_t i = 0; names && i < n; i++)
		if (!(names[i] = strdup(s->topics[i].name)))
			rc = -ENOMEM;
	pthread_mutex_unlock(&s->mu);
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fn(names[i], arg);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Partitions of a topic (backend.h topic_nparts). */
static int kbe_topic_nparts(shlogfs_bstore *s, const char *topic, uint32_t *nparts)
{
	struct ktopic *t;
	int rc = -ENOENT;

	kbe_refresh(s);
	pthread_mutex_lock(&s->mu);
	if ((t = kbe_topic_find(s, topic))) {
		*nparts = t->nparts;
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* One Admin API request; the refusal logged with its reason. */
static int kbe_admin(shlogfs_bstore *s, enum shlogfs_kclient_admin_op op, const char *topic, int count)
{
	static const char *const what[] = { "create topic", "add a partition to", "delete topic" };
	char why[512];
	int rc = shlogfs_kclient_admin(s->kc, op, topic, count, s->repl, KBE_ADMIN_MS, why, sizeof(why));

	if (rc == -ETIMEDOUT) {
		/* A cluster without the Admin API (librdkafka's mock) never answers. */
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 " (a cluster without the Admin API, such as librdkafka's mock, never answers)");
		rc = -EOPNOTSUPP;
	}
	if (rc)
		shlogfs_log(LOG_WARNING, "kafka: %s %s refused by the cluster: %s (%s)", what[op], topic,
			    why, strerror(-rc));
	pthread_mutex_lock(&s->mu);
	s->topics_ms = 0;   /* refresh at the next look */
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Make a topic (backend.h topic_create): CreateTopics. */
static int kbe_topic_create(shlogfs_bstore *s, const char *topic, uint32_t nparts)
{
	uint32_t n;

	if (kbe_topic_nparts(s, topic, &n) == 0)
		return -EEXIST;
	return kbe_admin(s, SHLOGFS_KADMIN_CREATE, topic, (int)nparts);
}

/* Add the next partition (backend.h topic_add_part): CreatePartitions. */
static int kbe_topic_add_part(shlogfs_bstore *s, const char *topic, uint32_t *out)
{
	uint32_t n;
	int rc;

	if ((rc = kbe_topic_nparts(s, topic, &n)))
		return rc;
	if ((rc = kbe_admin(s, SHLOGFS_KADMIN_PARTITIONS, topic, (int)n + 1)) == 0)
		*out = n;
	return rc;
}

/* Forget the modes of @topic (mu held). */
static void kbe_modes_drop(struct shlogfs_bstore *s, const char *topic);
static int kbe_modes_save(struct shlogfs_bstore *s);

/* Delete a topic (backend.h topic_delete): DeleteTopics. */
static int kbe_topic_delete(shlogfs_bstore *s, const char *topic)
{
	uint32_t n;
	int rc;

	if ((rc = kbe_topic_nparts(s, topic, &n)))
		return rc;
	if ((rc = kbe_admin(s, SHLOGFS_KADMIN_DELETE, topic, 0)))
		return rc;
	pthread_mutex_lock(&s->mu);
	kbe_modes_drop(s, topic);
	kbe_modes_save(s);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* ==== modes and owners (the cache dir's `modes` file) ================== */
/*
 * One line per record: "MODE UID GID PART TOPIC\n", MODE in octal, PART -1
 * for the topic itself, TOPIC "/" for the mount root.  Rewritten whole at
 * each change: KNAME_MODES_TMP made O_EXCL, written, fdatasynced, renamed
 * over KNAME_MODES, the directory fsynced.
 */

/* The record of (@topic, @part), or NULL (mu held). */
static struct kmode *kbe_mode_find(struct shlogfs_bstore *s, const char *topic, int64_t part)
{
	for (size_t i = 0; i < s->nmodes; i++) {
		struct kmode *m = &s->modes[i];

		if (m->part == part && ((!m->topic && !topic) ||
					(m->topic && topic && strcmp(m->topic, topic) == 0)))
			return m;
	}
	return NULL;
}

/* A new record of (@topic, @part) holding @st's mode and owner (mu held). */
static struct kmode *kbe_mode_add(struct shlogfs_bstore *s, const char *topic, int64_t part,
				  mode_t mode, uid_t uid, gid_t gid)
{
	struct kmode *m = realloc(s->modes, (s->nmodes + 1) * sizeof(*m));
	char *t = NULL;

	if (!m)
		return NULL;
	s->modes = m;
	if (topic && !(t = strdup(topic)))
		return NULL;
	m = &s->modes[s->nmodes++];
	m->topic = t;
	m->part = part;
	m->mode = mode & 07777;
	m->uid = uid;
	m->gid = gid;
	return m;
}

/* Forget the records of @topic (mu held). */
static void kbe_modes_drop(struct shlogfs_bstore *s, const char *topic)
{
	size_t j = 0;

	for (size_t i = 0; i < s->nmodes; i++) {
		if (s->modes[i].topic && strcmp(s->modes[i].topic, topic) == 0)
			free(s->modes[i].topic);
		else
			s->modes[j++] = s->modes[i];
	}
	s->nmodes = j;
}

/* Write every record to the modes file, atomically (mu held). */
static int kbe_modes_save(struct shlogfs_bstore *s)
{
	size_t cap = 64 + s->nmodes * (SHLOG_TOPIC_MAX + 64), n = 0;
	char *b = malloc(cap);
	int fd, rc;

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->nmodes; i++) {
		const struct kmode *m = &s->modes[i];

		n += (size_t)snprintf(b + n, cap - n, "%o %u %u %lld %s\n", (unsigned)m->mode,
				      (unsigned)m->uid, (unsigned)m->gid, (long long)m->part,
				      m->topic ? m->topic : "/");
	}
	shlog_file_unlink(s->dfd, KNAME_MODES_TMP);
	fd = shlog_file_open(s->dfd, KNAME_MODES_TMP, O_WRONLY | O_CREAT | O_EXCL, 0600, S_IFREG);
	if (fd < 0) {
		free(b);
		return fd;
	}
	rc = shlog_file_pwrite(fd, b, n, 0);
	if (rc == 0)
		rc = shlog_file_sync(fd, 1);
	shlog_file_close(fd);
	free(b);
	if (rc == 0)
		rc = shlog_file_rename(s->dfd, KNAME_MODES_TMP, KNAME_MODES);
	if (rc == 0)
		rc = shlog_file_sync(s->dfd, 0);
	if (rc)
		shlogfs_log(LOG_ERR, "kafka: writing %s in the cache dir: %s", KNAME_MODES, strerror(-rc));
	return rc;
}

/* Read the modes file (absent: no records); lines that do not parse are logged and left out. */
static int kbe_modes_load(struct shlogfs_bstore *s)
{
	int fd = shlog_file_open(s->dfd, KNAME_MODES, O_RDONLY, 0, S_IFREG);
	uint64_t size;
	char *b, *line, *save = NULL;
	int rc;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if ((rc = shlog_file_size(fd, &size)) || size > (64u << 20)) {
		shlog_file_close(fd);
		return rc ? rc : -EFBIG;
	}
	if (!(b = malloc(size + 1))) {
		shlog_file_close(fd);
		return -ENOMEM;
	}
	rc = shlog_file_pread(fd, b, size, 0);
	shlog_file_close(fd);
	b[rc ? 0 : size] = '\0';
	for (line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned mode, uid, gid;
		long long part;
		char topic[SHLOG_TOPIC_MAX + 1];

		if (sscanf(line, "%o %u %u %lld %249s", &mode, &uid, &gid, &part, topic) != 5 ||
		    mode > 07777 || part < -1 || part > UINT32_MAX ||
		    (strcmp(topic, "/") && shlog_topic_name_check(topic)) ||
		    (strcmp(topic, "/") == 0 && part != -1)) {
			shlogfs_log(LOG_WARNING, "kafka: %s in the cache dir: a line left out: %.80s",
				    KNAME_MODES, line);
			continue;
		}
		kbe_mode_add(s, strcmp(topic, "/") ? topic : NULL, part, mode, uid, gid);
	}
	free(b);
	return rc;
}

/* Whether (@topic, @part) is the cluster's (the root always is): 0 or -ENOENT. */
static int kbe_dir_exists(shlogfs_bstore *s, const char *topic, int64_t part)
{
	uint32_t n;
	int rc;

	if (!topic)
		return 0;
	if ((rc = kbe_topic_nparts(s, topic, &n)))
		return rc;
	return part < 0 || (uint64_t)part < n ? 0 : -ENOENT;
}

/* Attributes of a directory (backend.h dir_stat): the cache dir's, with the record's mode and owner. */
static int kbe_dir_stat(shlogfs_bstore *s, const char *topic, int64_t part, struct stat *st)
{
	struct kmode *m;
	int rc;

	if ((rc = kbe_dir_exists(s, topic, part)))
		return rc;
	if (fstat(s->dfd, st))
		return -errno;
	st->st_nlink = 2;
	pthread_mutex_lock(&s->mu);
	if ((m = kbe_mode_find(s, topic, part))) {
		st->st_mode = S_IFDIR | m->mode;
		st->st_uid = m->uid;
		st->st_gid = m->gid;
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Change a record (made from the cache dir's own mode and owner), then save. */
static int kbe_dir_change(shlogfs_bstore *s, const char *topic, int64_t part, int chmod_,
			  mode_t mode, uid_t uid, gid_t gid)
{
	struct kmode *m;
	struct stat st;
	int rc;

	if ((rc = kbe_dir_exists(s, topic, part)))
		return rc;
	if (fstat(s->dfd, &st))
		return -errno;
	pthread_mutex_lock(&s->mu);
	if (!(m = kbe_mode_find(s, topic, part)) &&
	    !(m = kbe_mode_add(s, topic, part, st.st_mode, st.st_uid, st.st_gid))) {
		pthread_mutex_unlock(&s->mu);
		return -ENOMEM;
	}
	if (chmod_)
		m->mode = mode & 07777;
	if (!chmod_ && uid != (uid_t)-1)
		m->uid = uid;
	if (!chmod_ && gid != (gid_t)-1)
		m->gid = gid;
	rc = kbe_modes_save(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* chmod a directory (backend.h dir_chmod). */
static int kbe_dir_chmod(shlogfs_bstore *s, const char *topic, int64_t part, mode_t mode)
{
	return kbe_dir_change(s, topic, part, 1, mode, 0, 0);
}

/* chown a directory (backend.h dir_chown). */
static int kbe_dir_chown(shlogfs_bstore *s, const char *topic, int64_t part, uid_t uid, gid_t gid)
{
	return kbe_dir_change(s, topic, part, 0, 0, uid, gid);
}

/* ==== partitions ======================================================= */

/* Give a topic's partitions a test's source (kpart.h). */
void shlogfs_kafka_set_source(shlogfs_bstore *s, const char *topic, const struct shlogfs_ksrc_ops *src,
			      void *ctx)
{
	struct ksrc_override *o;

	pthread_mutex_lock(&s->mu);
	o = realloc(s->over, (s->nover + 1) * sizeof(*o));
	if (o) {
		s->over = o;
		o[s->nover].topic = strdup(topic);
		o[s->nover].src = src;
		o[s->nover].ctx = ctx;
		if (o[s->nover].topic)
			s->nover++;
	}
	pthread_mutex_unlock(&s->mu);
}

/* The environment of @topic's partitions: the store's, with a test's source if one is set (mu held). */
static struct shlogfs_kenv kbe_env_of(struct shlogfs_bstore *s, const char *topic)
{
	struct shlogfs_kenv env = s->env;

	for (size_t i = 0; i < s->nover; i++)
		if (strcmp(s->over[i].topic, topic) == 0) {
			env.src = s->over[i].src;
			env.src_ctx = s->over[i].ctx;
		}
	return env;
}

/* The open object of @topic [@part], or NULL (mu held). */
static struct shlogfs_bpart *kbe_part_find(struct shlogfs_bstore *s, const char *topic, uint32_t part)
{
	for (size_t i = 0; i < s->nparts; i++)
		if (!s->parts[i]->gone && s->parts[i]->part == part &&
		    strcmp(s->parts[i]->topic, topic) == 0)
			return s->parts[i];
	return NULL;
}

/* Take a reference on a partition (backend.h part_get); the object stays while the store is open. */
static int kbe_part_get(shlogfs_bstore *s, const char *topic, uint32_t part, shlogfs_bpart **out)
{
	struct shlogfs_bpart *p;
	struct shlogfs_kenv env;
	int rc;

	if ((rc = kbe_dir_exists(s, topic, part)))
		return rc;
	pthread_mutex_lock(&s->mu);
	if ((p = kbe_part_find(s, topic, part))) {
		p->refs++;
		atomic_store(&p->used_ms, shlogfs_kclient_now_ms());
		pthread_mutex_unlock(&s->mu);
		*out = p;
		return 0;
	}
	if (s->nparts == s->capparts) {
		size_t cap = s->capparts ? s->capparts * 2 : 16;
		struct shlogfs_bpart **a = realloc(s->parts, cap * sizeof(*a));

		if (!a) {
			pthread_mutex_unlock(&s->mu);
			return -ENOMEM;
		}
		s->parts = a;
		s->capparts = cap;
	}
	env = kbe_env_of(s, topic);
	if ((rc = shlogfs_kpart_open(s, &env, topic, part, &p)) == 0) {
		p->refs++;   /* the store's own, dropped at close or when the topic goes */
		s->parts[s->nparts++] = p;
		*out = p;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Drop a reference (mu held): a gone partition's object is closed with its last one. */
static void kbe_part_unref(struct shlogfs_bstore *s, struct shlogfs_bpart *p)
{
	if (--p->refs > 1 || (p->refs == 1 && !p->gone))
		return;
	if (p->refs == 1) {   /* gone: drop the store's reference too */
		for (size_t i = 0; i < s->nparts; i++)
			if (s->parts[i] == p) {
				s->parts[i] = s->parts[--s->nparts];
				break;
			}
		p->refs = 0;
		shlogfs_kpart_close(p);
	}
}

/* Release a reference (backend.h part_put). */
static void kbe_part_put(shlogfs_bpart *p)
{
	struct shlogfs_bstore *s = p->s;

	pthread_mutex_lock(&s->mu);
	kbe_part_unref(s, p);
	pthread_mutex_unlock(&s->mu);
}

/* State and counters (backend.h part_info). */
static int kbe_part_info(shlogfs_bpart *p, struct shlog_part_info *info)
{
	return shlogfs_kpart_info(p, info);
}

/* Latency histograms: none kept (backend.h part_latency). */
static int kbe_part_latency(shlogfs_bpart *p, struct shlog_part_latency *out)
{
	(void)p;
	memset(out, 0, sizeof(*out));
	return 0;
}

/* ==== appending ======================================================== */

/* A writer for one file handle (backend.h writer_new). */
static int kbe_writer_new(shlogfs_bstore *s, shlogfs_bwriter **out)
{
	struct shlogfs_bwriter *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	if ((rc = shlogfs_kclient_writer_new(s->kc, &w->kw))) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Drop a writer (backend.h writer_free). */
static void kbe_writer_free(shlogfs_bwriter *w)
{
	shlogfs_kclient_writer_free(w->kw);
	free(w);
}

/*
 * Produce one line (@len bytes, no '\n') to @p for @w: key = the bytes
 * before its first TAB, value = the whole line.  A full queue holds the
 * line (up to KBE_HOLD_MS, waiting for delivery reports to free room:
 * kclient_wait_room), or is -EAGAIN when @may_refuse.
 */
static int kbe_produce(shlogfs_bpart *p, shlogfs_bwriter *w, const char *line, size_t len,
		       int may_refuse)
{
	struct shlogfs_bstore *s = p->s;
	size_t klen = shlog_msg_key(line, len);
	int64_t until = 0, left;
	uint64_t t;
	int rc;

	if (p->gone)
		return -ENOENT;
	if (len > s->o.max_message)
		return -EMSGSIZE;
	atomic_store(&p->used_ms, shlogfs_kclient_now_ms());   /* the indexer keeps its reader */
	for (;;) {
		rc = shlogfs_kclient_produce(s->kc, w->kw, p->topic, (int32_t)p->part,
					     klen ? line : NULL, klen, line, len, &t);
		if (rc != -EAGAIN || may_refuse)
			break;
		if (!until)
			until = shlogfs_kclient_now_ms() + KBE_HOLD_MS;
		if ((left = until - shlogfs_kclient_now_ms()) <= 0)
			break;
		shlogfs_kclient_wait_room(s->kc, (int)left);   /* until reports free room */
	}
	pthread_mutex_lock(&p->mu);
	if (rc == 0) {
		atomic_store(&w->last, t);
		p->appended_msgs++;
		p->appended_bytes += len + 1;
	} else if (rc != -EAGAIN) {
		p->write_errors++;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int kbe_part_sync(shlogfs_bpart *p, shlogfs_bwriter *w);

/* Append lines, each ending in '\n' (backend.h append_lines). */
static int kbe_append_lines(shlogfs_bpart *p, shlogfs_bwriter *w, const void *buf, size_t len,
			    int flags, uint64_t *first_seq)
{
	const char *b = buf, *end = b + len, *nl;
	int rc = 0, first = 1;

	if (!w)
		w = p->s->w0;
	for (const char *l = b; l < end; l = nl + 1) {   /* all or nothing for sizes */
		if (!(nl = memchr(l, '\n', (size_t)(end - l))))
			return -EINVAL;
		if ((size_t)(nl - l) > p->s->o.max_message)
			return -EMSGSIZE;
	}
	if (first_seq)
		*first_seq = UINT64_MAX;   /* not known before delivery */
	for (const char *l = b; l < end && rc == 0; l = nl + 1, first = 0) {
		nl = memchr(l, '\n', (size_t)(end - l));
		/* Only the first line may be refused: the others are held, so the unit holds. */
		rc = kbe_produce(p, w, l, (size_t)(nl - l), first && (flags & SHLOG_NONBLOCK));
	}
	if (rc == 0 && (flags & SHLOG_DURABLE))
		rc = kbe_part_sync(p, w);
	return rc;
}

/* Append one message without '\n' (backend.h append). */
static int kbe_append(shlogfs_bpart *p, shlogfs_bwriter *w, const void *msg, size_t len, int flags,
		      uint64_t *seq)
{
	int rc;

	if (!w)
		w = p->s->w0;
	if (memchr(msg, '\n', len))
		return -EINVAL;
	if (seq)
		*seq = UINT64_MAX;
	rc = kbe_produce(p, w, msg, len, flags & SHLOG_NONBLOCK);
	if (rc == 0 && (flags & SHLOG_DURABLE))
		rc = kbe_part_sync(p, w);
	return rc;
}

/* The client whose partitioner key_route uses (one backend per daemon: the last opened). */
static _Atomic(struct shlogfs_kclient *) kbe_router;

/* The partition of a keyed line of <topic>/log (backend.h key_route): Kafka's partitioner. */
static uint32_t kbe_key_route(const void *key, size_t klen, uint32_t nparts)
{
	struct shlogfs_kclient *kc = atomic_load(&kbe_router);

	return kc ? shlogfs_kclient_partition(kc, key, klen, nparts) : 0;
}

/*
 * Durable (backend.h part_sync): every line @w produced before is
 * acknowledged (w NULL: everything queued); then read-your-writes: the
 * indexer has passed the partition's end as it is now (delivery reports
 * may carry no offset), at most KBE_RYW_MS.
 */
static int kbe_part_sync(shlogfs_bpart *p, shlogfs_bwriter *w)
{
	struct shlogfs_bstore *s = p->s;
	int64_t lo, hi;
	int rc;

	if (p->gone)
		return -ENOENT;
	if (!w)
		rc = shlogfs_kclient_flush(s->kc, KBE_CLOSE_MS);
	else
		rc = 0;
	if (rc == 0)
		rc = shlogfs_kclient_wait(w ? w->kw : s->w0->kw,
					  atomic_load(w ? &w->last : &s->w0->last), -1);
	pthread_mutex_lock(&p->mu);
	p->fsyncs++;
	if (rc)
		p->write_errors++;
	pthread_mutex_unlock(&p->mu);
	if (rc)
		return -EIO;
	if (shlogfs_kpart_watermarks(p, &lo, &hi) == 0 && hi > 0 &&
	    shlogfs_kpart_wait_indexed(p, (uint64_t)hi, KBE_RYW_MS) == -ETIMEDOUT)
		shlogfs_log(LOG_WARNING, "kafka: %s [%u]: the indexer did not reach offset %lld within "
			    "%d ms of an fsync: reads may not show the lines yet", p->topic, p->part,
			    (long long)hi, KBE_RYW_MS);
	return 0;
}

/* ==== reading ========================================================== */

/* Read bytes (backend.h part_read). */
static ssize_t kbe_part_read(shlogfs_bpart *p, uint64_t off, void *buf, size_t len)
{
	return shlogfs_kpart_read(p, off, buf, len);
}

/* Offset @seq to a position (backend.h seek_seq). */
static int kbe_seek_seq(shlogfs_bpart *p, uint64_t seq, uint64_t *off)
{
	return shlogfs_kpart_seek_seq(p, seq, off);
}

/* The first message at or after a time (backend.h seek_time): ListOffsets, else the byte index. */
static int kbe_seek_time(shlogfs_bpart *p, int64_t time_ns, uint64_t *seq, uint64_t *off)
{
	struct shlogfs_bstore *s = p->s;
	int64_t ms = time_ns <= 0 ? 0 : (time_ns + 999999) / 1000000, at;
	int rc = -EOPNOTSUPP;

	if (p->env.src == &shlogfs_ksrc_cluster)
		rc = shlogfs_kclient_offset_for_time(s->kc, p->topic, (int32_t)p->part, ms, &at, 2000);
	if (rc == 0 && shlogfs_kpart_seek_seq(p, (uint64_t)at, off) == 0) {
		*seq = (uint64_t)at;
		return 0;
	}
	return shlogfs_kpart_seek_time(p, time_ns, seq, off);
}

/* The byte index's entries (backend.h index_foreach). */
static int kbe_index_foreach(shlogfs_bpart *p, shlogfs_index_fn *fn, void *arg)
{
	return shlogfs_kpart_index_foreach(p, fn, arg);
}

/* Latest by key (backend.h key_lookup). */
static int kbe_key_lookup(shlogfs_bpart *p, const void *key, size_t klen, struct shlog_keyref *ref)
{
	return shlogfs_kpart_key_lookup(p, key, klen, ref);
}

/* Every live key (backend.h key_foreach). */
static int kbe_key_foreach(shlogfs_bpart *p, shlogfs_key_fn *fn, void *arg)
{
	return shlogfs_kpart_key_foreach(p, fn, arg);
}

/* ==== what the backend does not serve ================================== */

/* Cursors are not served: consumer groups would be (docs/KAFKA.md). */
static int kbe_cursor_get(shlogfs_bpart *p, const char *name, uint64_t *seq)
{
	(void)p, (void)name, (void)seq;
	return -EOPNOTSUPP;
}

/* Cursors are not served. */
static int kbe_cursor_set(shlogfs_bpart *p, const char *name, uint64_t seq, int flags)
{
	(void)p, (void)name, (void)seq, (void)flags;
	return -EOPNOTSUPP;
}

/* Cursors are not served. */
static int kbe_cursor_delete(shlogfs_bpart *p, const char *name)
{
	(void)p, (void)name;
	return -EOPNOTSUPP;
}

/* Cursors are not served. */
static int kbe_cursor_foreach(shlogfs_bpart *p, shlogfs_cursor_fn *fn, void *arg)
{
	(void)p, (void)fn, (void)arg;
	return -EOPNOTSUPP;
}

/* No control socket (shlogctl sync works on a data dir). */
static int kbe_ctl_listen(shlogfs_bstore *s)
{
	(void)s;
	return -EOPNOTSUPP;
}

/* Nothing to undo. */
static void kbe_ctl_unlisten(shlogfs_bstore *s, int fd)
{
	(void)s, (void)fd;
}

/* ==== the store as a whole ============================================= */

/* Partitions whose byte index was set aside and rebuilt (backend.h aside_foreach). */
static int kbe_aside_foreach(shlogfs_bstore *s, shlogfs_aside_fn *fn, void *arg)
{
	struct shlogfs_kaside *a = NULL;
	char **topics = NULL;
	uint32_t *parts = NULL;
	size_t n = 0;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	a = calloc(s->nparts + 1, sizeof(*a));
	topics = calloc(s->nparts + 1, sizeof(*topics));
	parts = calloc(s->nparts + 1, sizeof(*parts));
	for (size_t i = 0; a && topics && parts && i < s->nparts; i++)
		if (s->parts[i]->aside.err && (topics[n] = strdup(s->parts[i]->topic))) {
			a[n] = s->parts[i]->aside;
			parts[n++] = s->parts[i]->part;
		}
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = fn(topics[i], parts[i], a[i].err, a[i].why, arg);
		free(topics[i]);
	}
	free(a);
	free(topics);
	free(parts);
	return rc;
}

/* One Prometheus metric of the backend: HELP, TYPE and its sample. */
static void kbe_metric(shlogfs_line_fn *fn, void *arg, const char *name, const char *type,
		       const char *help, unsigned long long v)
{
	char line[256];

	snprintf(line, sizeof(line), "# HELP shlogfs_kafka_%s %s", name, help);
	fn(line, arg);
	snprintf(line, sizeof(line), "# TYPE shlogfs_kafka_%s %s", name, type);
	fn(line, arg);
	snprintf(line, sizeof(line), "shlogfs_kafka_%s %llu", name, v);
	fn(line, arg);
}

/* The backend's store-wide state (backend.h state_lines): Prometheus lines with @metrics, else text. */
static void kbe_state_lines(shlogfs_bstore *s, int metrics, shlogfs_line_fn *fn, void *arg)
{
	uint64_t inflight, failed, rebuilds, idx_rebuilds = 0, lag = 0;
	char line[1024];
	size_t nparts;
	int meta_err;

	shlogfs_kclient_counts(s->kc, &inflight, &failed, &rebuilds);
	pthread_mutex_lock(&s->mu);
	meta_err = s->meta_err;
	nparts = s->nparts;
	for (size_t i = 0; i < s->nparts; i++) {
		struct shlog_part_info in;

		idx_rebuilds += s->parts[i]->rebuilds;
		if (shlogfs_kpart_info(s->parts[i], &in) == 0)
			lag += in.buffered_msgs;
	}
	pthread_mutex_unlock(&s->mu);
	if (metrics) {
		const struct { const char *name, *type, *help; unsigned long long v; } m[] = {
			{ "brokers_up", "gauge", "1 while the cluster answers metadata requests, "
			  "0 after a failed refresh", meta_err ? 0 : 1 },
			{ "inflight_messages", "gauge",
			  "Messages produced and not yet acknowledged or failed", inflight },
			{ "failed_deliveries_total", "counter",
			  "Messages whose delivery failed (fsync or close reported EIO)", failed },
			{ "producer_rebuilds_total", "counter",
			  "Producers rebuilt after a fatal error", rebuilds },
			{ "indexed_partitions", "gauge",
			  "Partitions the indexer keeps a byte index of", nparts },
			{ "indexer_lag_messages", "gauge",
			  "Offsets in the cluster not yet indexed, all partitions", lag },
			{ "index_rebuilds_total", "counter",
			  "Byte indexes found damaged, set aside and rebuilt", idx_rebuilds },
		};
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			kbe_metric(fn, arg, m[i].name, m[i].type, m[i].help, m[i].v);
		return;
	}
	snprintf(line, sizeof(line), "brokers %s: %s", s->brokers,
		 meta_err ? strerror(-meta_err) : "answering");
	fn(line, arg);
	snprintf(line, sizeof(line), "cluster %s; %zu partitions indexed, %llu offsets behind",
		 s->env.cluster, nparts, (unsigned long long)lag);
	fn(line, arg);
	snprintf(line, sizeof(line), "deliveries in flight %llu, failed %llu; producer rebuilds %llu; "
		 "byte indexes rebuilt %llu", (unsigned long long)inflight, (unsigned long long)failed,
		 (unsigned long long)rebuilds, (unsigned long long)idx_rebuilds);
	fn(line, arg);
}

/* Options in force (backend.h store_options). */
static const struct shlog_options *kbe_store_options(shlogfs_bstore *s)
{
	return &s->o;
}

/* Everything queued delivered (backend.h store_sync). */
static int kbe_store_sync(shlogfs_bstore *s)
{
	return shlogfs_kclient_flush(s->kc, KBE_CLOSE_MS) ? -EIO : 0;
}

/* A partition waits for a reader: close the caught-up one used least recently (indexer thread). */
static void kbe_release_reader(struct shlogfs_bpart **batch, size_t n)
{
	struct shlogfs_bpart *lru = NULL;

	for (size_t i = 0; i < n; i++)
		if (batch[i]->ir && !batch[i]->busy &&
		    (!lru || atomic_load(&batch[i]->used_ms) < atomic_load(&lru->used_ms)))
			lru = batch[i];
	if (lru)
		shlogfs_kpart_index_release(lru);
}

/* The indexer: one turn per partition, round robin, until the store closes. */
static void *kbe_indexer_main(void *arg)
{
	struct shlogfs_bstore *s = arg;
	struct shlogfs_bpart **batch = NULL;
	size_t cap = 0, n;
	int busy, want;

	while (!atomic_load(&s->stop)) {
		pthread_mutex_lock(&s->mu);
		if (s->nparts > cap) {
			struct shlogfs_bpart **b = realloc(batch, s->nparts * sizeof(*b));
			if (b) {
				batch = b;
				cap = s->nparts;
			}
		}
		n = s->nparts < cap ? s->nparts : cap;
		for (size_t i = 0; i < n; i++) {
			batch[i] = s->parts[i];
			batch[i]->refs++;
		}
		pthread_mutex_unlock(&s->mu);
		if (n == 0)
			poll(NULL, 0, 50);
		busy = want = 0;
		for (size_t i = 0; i < n; i++) {
			/* a partition with messages coming gets a long turn, an idle one a glance */
			int rc = atomic_load(&s->stop) ? 0 :
				 shlogfs_kpart_index_step(batch[i], batch[i]->busy ? KBE_STEP_MS : 1);

			batch[i]->busy = rc == 1;
			busy |= rc == 1;
			want |= rc == SHLOGFS_KPART_WANTS_READER;
			if (rc < 0)
				poll(NULL, 0, KBE_STEP_MS);   /* the cluster refused: no busy loop */
		}
		if (want)
			kbe_release_reader(batch, n);
		for (size_t i = 0; i < n; i++)
			kbe_part_put(batch[i]);
		if (!busy)
			poll(NULL, 0, KBE_IDLE_MS);
	}
	free(batch);
	return NULL;
}

/* Free what open made (the indexer stopped, no partition open). */
static void kbe_free(struct shlogfs_bstore *s)
{
	struct shlogfs_kclient *mine = s->kc;

	atomic_compare_exchange_strong(&kbe_router, &mine, NULL);
	if (s->w0)
		kbe_writer_free(s->w0);
	if (s->kc)
		shlogfs_kclient_close(s->kc, KBE_CLOSE_MS);
	kbe_topics_free(s->topics, s->ntopics);
	for (size_t i = 0; i < s->nmodes; i++)
		free(s->modes[i].topic);
	free(s->modes);
	for (size_t i = 0; i < s->nover; i++)
		free(s->over[i].topic);
	free(s->over);
	free(s->parts);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dfd >= 0)
		close(s->dfd);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->refresh_mu);
	free(s);
}

/* Stop the indexer, sync every index, flush and close the client (backend.h store_close). */
static int kbe_store_close(shlogfs_bstore *s)
{
	int rc = 0;

	atomic_store(&s->stop, 1);
	pthread_join(s->indexer, NULL);
	if (shlogfs_kclient_flush(s->kc, KBE_CLOSE_MS))
		rc = -EIO;
	for (size_t i = 0; i < s->nparts; i++)
		shlogfs_kpart_close(s->parts[i]);
	s->nparts = 0;
	kbe_free(s);
	return rc;
}

/* The cache dir, made 0700 if absent, and its lock: the dir fd, or -errno with @err. */
static int kbe_cachedir(struct shlogfs_bstore *s, const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cache dir %s: %s", dir, strerror(errno));
		return -errno;
	}
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0) {
		snprintf(err, errlen, "cache dir %s: %s", dir, strerror(errno));
		return -errno;
	}
	s->lockfd = shlog_file_open(s->dfd, KNAME_LOCK, O_RDWR | O_CREAT, 0600, S_IFREG);
	if (s->lockfd < 0) {
		int rc = s->lockfd;
		snprintf(err, errlen, "cache dir %s: %s: %s", dir, KNAME_LOCK, strerror(-rc));
		return rc;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB)) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "cache dir %s is in use by another shlogfs", dir);
		return rc;
	}
	shlog_file_unlink(s->dfd, KNAME_MODES_TMP);   /* a crash's */
	return 0;
}

/* A property of @conf the daemon's option @v sets, unless kafka.NAME gave it. */
static void kbe_conf_default(rd_kafka_conf_t *conf, int given, const char *name, unsigned long long v)
{
	char val[32], why[SHLOGFS_KCLIENT_ERRLEN];

	if (given)
		return;
	snprintf(val, sizeof(val), "%llu", v);
	if (rd_kafka_conf_set(conf, name, val, why, sizeof(why)) != RD_KAFKA_CONF_OK)
		shlogfs_log(LOG_WARNING, "kafka: %s=%s from the mount's options: %s", name, val, why);
}

/* The client's configuration: @c's, with the local engine's limits where they apply. */
static rd_kafka_conf_t *kbe_conf(const struct shlogfs_kafka_conf *c, const struct shlog_options *o)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(c->rk);
	struct shlog_options def;

	if (!conf)
		return NULL;
	shlog_options_init(&def);
	kbe_conf_default(conf, c->linger_set, "linger.ms", o->flush_interval_ms);
	/* A message stays in librdkafka's queue until acknowledged (linger.ms plus a round
	 * trip), and the queue is the whole client's: the local engine's default max_buffer
	 * (5000, per partition) would cap appends at 5000 lines a round trip. */
	kbe_conf_default(conf, c->qmsgs_set, "queue.buffering.max.messages",
			 o->max_buffer == def.max_buffer ? KBE_QUEUE_MSGS : o->max_buffer);
	kbe_conf_default(conf, c->qbytes_set, "queue.buffering.max.kbytes",
			 o->max_buffer_bytes / 1024 ? o->max_buffer_bytes / 1024 : 1);
	kbe_conf_default(conf, c->maxbytes_set, "message.max.bytes",
			 o->max_message + 1024 > 1000000 ? o->max_message + 1024 : 1000000);
	/* a request to a broker that went away (watermarks, metadata) waits this long */
	kbe_conf_default(conf, c->socktmo_set, "socket.timeout.ms", KBE_SOCKET_MS);
	return conf;
}

/* Connect: the metadata within KBE_CONNECT_MS, or -EHOSTUNREACH / -ETIMEDOUT with @err. */
static int kbe_connect(struct shlogfs_bstore *s, char *err, size_t errlen)
{
	int rc = kbe_refresh_now(s, KBE_CONNECT_MS);

	if (rc == -ETIMEDOUT || rc == -EHOSTUNREACH || rc == -EIO) {
		snprintf(err, errlen, "no broker of %s answered within %d ms (%s)", s->brokers,
			 KBE_CONNECT_MS, rc == -EHOSTUNREACH ? "all down or refusing connections" :
			 rc == -ETIMEDOUT ? "timed out" : "metadata refused");
		return rc == -EIO ? -EHOSTUNREACH : rc;
	}
	if (rc)
		snprintf(err, errlen, "brokers %s: %s", s->brokers, strerror(-rc));
	return rc;
}

/* Open the backend (be_kafka.h). */
int shlogfs_kafka_open(const char *cachedir, struct shlogfs_kafka_conf *c, const struct shlog_options *o,
		       shlogfs_bstore **out, char *err, size_t errlen)
{
	struct shlogfs_bstore *s = calloc(1, sizeof(*s));
	rd_kafka_conf_t *conf;
	size_t n;
	int rc;

	if (!s)
		return -ENOMEM;
	s->dfd = s->lockfd = -1;
	s->o = *o;
	s->repl = c->repl;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->refresh_mu, NULL);
	n = sizeof(s->brokers);
	if (rd_kafka_conf_get(c->rk, "bootstrap.servers", s->brokers, &n) != RD_KAFKA_CONF_OK || !s->brokers[0])
		snprintf(s->brokers, sizeof(s->brokers), "(none given: -o brokers=HOST:PORT)");
	if ((rc = kbe_cachedir(s, cachedir, err, errlen)))
		goto fail;
	if ((rc = kbe_modes_load(s))) {
		snprintf(err, errlen, "cache dir %s: %s: %s", cachedir, KNAME_MODES, strerror(-rc));
		goto fail;
	}
	if (!(conf = kbe_conf(c, o))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = shlogfs_kclient_open(&s->kc, conf, kbe_log, NULL, err, errlen)) ||
	    (rc = kbe_writer_new(s, &s->w0)) || (rc = kbe_connect(s, err, errlen)))
		goto fail;
	if (shlogfs_kclient_clusterid(s->kc, s->env.cluster, sizeof(s->env.cluster), KBE_REFRESH_MS))
		snprintf(s->env.cluster, sizeof(s->env.cluster), "%.*s", (int)sizeof(s->env.cluster) - 1,
			 s->brokers);
	s->env.dfd = s->dfd;
	s->env.stride = o->stride ? o->stride : 1000;
	s->env.src = &shlogfs_ksrc_cluster;
	s->env.src_ctx = s->kc;
	s->env.readers = &s->readers;
	s->env.max_readers = KBE_READERS;
	if ((rc = -pthread_create(&s->indexer, NULL, kbe_indexer_main, s))) {
		snprintf(err, errlen, "cannot start the indexer: %s", strerror(-rc));
		goto fail;
	}
	atomic_store(&kbe_router, s->kc);
	shlogfs_log(LOG_INFO, "kafka: cluster %s at %s, %zu topics", s->env.cluster, s->brokers, s->ntopics);
	*out = s;
	return 0;
fail:
	kbe_free(s);
	return rc;
}

/* ==== the table ======================================================== */

const struct shlogfs_backend shlogfs_backend_kafka = {
	.name = "kafka",
	.close_waits = 1,   /* a line is not done until the cluster acknowledges it */
	.store_close = kbe_store_close,
	.store_sync = kbe_store_sync,
	.store_options = kbe_store_options,
	.aside_foreach = kbe_aside_foreach,
	.ctl_listen = kbe_ctl_listen,
	.ctl_unlisten = kbe_ctl_unlisten,
	.state_lines = kbe_state_lines,
	.topic_foreach = kbe_topic_foreach,
	.topic_nparts = kbe_topic_nparts,
	.topic_create = kbe_topic_create,
	.topic_add_part = kbe_topic_add_part,
	.topic_delete = kbe_topic_delete,
	.dir_stat = kbe_dir_stat,
	.dir_chmod = kbe_dir_chmod,
	.dir_chown = kbe_dir_chown,
	.part_get = kbe_part_get,
	.part_put = kbe_part_put,
	.part_info = kbe_part_info,
	.part_latency = kbe_part_latency,
	.part_lines = shlogfs_kpart_lines,
	.writer_new = kbe_writer_new,
	.writer_free = kbe_writer_free,
	.append = kbe_append,
	.append_lines = kbe_append_lines,
	.key_route = kbe_key_route,
	.part_sync = kbe_part_sync,
	.part_read = kbe_part_read,
	.seek_seq = kbe_seek_seq,
	.seek_time = kbe_seek_time,
	.index_foreach = kbe_index_foreach,
	.key_lookup = kbe_key_lookup,
	.key_foreach = kbe_key_foreach,
	.cursor_get = kbe_cursor_get,
	.cursor_set = kbe_cursor_set,
	.cursor_delete = kbe_cursor_delete,
	.cursor_foreach = kbe_cursor_foreach,
};
