/*
 * store.c — the data directory: opening and locking it, the topic table,
 * topic and partition creation and deletion, names, and small utilities
 * the rest of the engine shares (logging, clocks, buffers).
 *
 * Creating a topic builds it as ".new-<topic>" and renames it into place,
 * so a crash leaves either no topic or a whole one.  Deleting renames it
 * to ".del-<topic>-<n>" first and then removes the files, so a crash
 * leaves a hidden directory that the next open removes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "engine_i.h"
#include "io_i.h"
#include "admin_i.h"

RB_GENERATE(shlog_topictree, shlog_topic, link, shlog_topic_cmp)

/* ================================================================ */
/* Utilities                                                         */
/* ================================================================ */

/* Order topics by name. */
int shlog_topic_cmp(const struct shlog_topic *a, const struct shlog_topic *b)
{
	return strcmp(a->name, b->name);
}

/* Send one formatted line to the store's log callback (or stderr). */
void shlog_logf(shlog_store *s, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s && s->o.log)
		s->o.log(level, msg, s->o.log_arg);
	else
		fprintf(stderr, "shlog: %s\n", msg);
}

/* Monotonic clock in nanoseconds, for deadlines. */
int64_t shlog_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall clock in nanoseconds since the epoch, for block times. */
int64_t shlog_now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Make room for @more bytes at the end of @b. */
int shlog_buf_reserve(struct shlog_buf *b, size_t more)
{
	size_t want = b->len + more, cap = b->cap ? b->cap : 4096;
	char *d;

	if (want <= b->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* fsync a directory so that creations, renames and unlinks in it last. */
int shlog_fsync_dir(int dfd)
{
	return shlog_io.fsync(dfd) < 0 ? -errno : 0;
}

/* Remove a directory tree below dfd (no symlinks followed). */
int shlog_rmtree_at(int dfd, const char *name)
{
	int fd = shlog_io.openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR) {
			int r = shlog_rmtree_at(dirfd(d), de->d_name);
			if (r < 0 && rc == 0)
				rc = r;
		} else if (shlog_io.unlinkat(dirfd(d), de->d_name, 0) < 0 && rc == 0) {
			rc = -errno;
		}
	}
	closedir(d);
	if (shlog_io.unlinkat(dfd, name, AT_REMOVEDIR) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* strerror for shlog's negative errnos. */
const char *shlog_strerror(int err)
{
	if (err == -EUCLEAN)
		return "corrupt data in the store (see the log; open with repair to truncate)";
	return strerror(err < 0 ? -err : err);
}

/* ================================================================ */
/* Options and names                                                 */
/* ================================================================ */

void shlog_options_init(struct shlog_options *o)
{
	memset(o, 0, sizeof(*o));
	o->stride = SHLOG_DEF_STRIDE;
	o->flush_interval_ms = SHLOG_DEF_FLUSH_MS;
	o->max_buffer = SHLOG_DEF_MAX_BUFFER;
	o->max_buffer_bytes = SHLOG_DEF_MAX_BUFFER_BYTES;
	o->max_message = SHLOG_DEF_MAX_MESSAGE;
	o->segment_bytes = SHLOG_DEF_SEGMENT_BYTES;
	o->max_segments = 0;
	o->retention = SHLOG_RETAIN_HALT;
	o->sync = SHLOG_SYNC_NONE;
	o->sync_interval_ms = SHLOG_DEF_SYNC_MS;
	o->flush_threads = SHLOG_DEF_FLUSH_THREADS;
}

/* Check option values; -EINVAL names nothing, the log line does. */
static int options_check(shlog_store *s, const struct shlog_options *o)
{
	const char *bad = NULL;

	if (o->stride < 1 || o->stride > 1000000)
		bad = "stride must be 1..1000000";
	else if (o->flush_interval_ms < 1 || o->flush_interval_ms > 3600000)
		bad = "flush interval must be 1..3600000 ms";
	else if (o->max_buffer < 1)
		bad = "max_buffer must be at least 1";
	else if (o->max_message < 1 || o->max_message > SHLOG_MESSAGE_LIMIT)
		bad = "max_message must be 1 byte..256 MiB";
	else if (o->max_buffer_bytes < (uint64_t)o->max_message + 1)
		bad = "max_buffer_bytes must exceed max_message";
	else if (o->segment_bytes < 1)
		bad = "segment size must be at least 1 byte";
	else if (o->retention == SHLOG_RETAIN_WRAP && o->max_segments < 1)
		bad = "wrap retention needs max_segments >= 1";
	else if (o->retention != SHLOG_RETAIN_WRAP && o->retention != SHLOG_RETAIN_HALT)
		bad = "unknown retention";
	else if (o->sync > SHLOG_SYNC_ALWAYS)
		bad = "unknown sync policy";
	else if (o->sync_interval_ms < 1)
		bad = "sync interval must be at least 1 ms";
	else if (o->flush_threads < 1 || o->flush_threads > SHLOG_MAX_THREADS)
		bad = "flush_threads must be 1..64";
	if (bad) {
		shlog_logf(s, SHLOG_ERR, "invalid option: %s", bad);
		return -EINVAL;
	}
	return 0;
}

int shlog_topic_name_check(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strnlen(name, SHLOG_TOPIC_MAX + 1);
	if (n == 0 || n > SHLOG_TOPIC_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

int shlog_part_name_parse(const char *name, uint32_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (!name || !name[0])
		return -EINVAL;
	n = strlen(name);
	if (n > 6 || (name[0] == '0' && n > 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v >= SHLOG_MAX_PARTS)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* ================================================================ */
/* Topics in memory                                                  */
/* ================================================================ */

/* Find a topic by name; store.mu held. */
static struct shlog_topic *topic_find(shlog_store *s, const char *name)
{
	struct shlog_topic key;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return NULL;
	return RB_FIND(shlog_topictree, &s->topics, &key);
}

/* Free a topic's memory, dropping the table's reference on each partition. */
static void topic_free(struct shlog_topic *t)
{
	for (uint32_t i = 0; i < t->nparts; i++)
		if (t->parts[i])
			shlog_part_put(t->parts[i]);
	free(t->parts);
	if (t->dfd >= 0)
		shlog_io.close(t->dfd);
	free(t);
}

/* Make an in-memory partition, recover (or create) it on disk. */
static int part_open_into(shlog_store *s, struct shlog_topic *t, uint32_t num, int create)
{
	shlog_part *p = shlog_part_new(s, t, num);
	int rc;

	if (!p)
		return -ENOMEM;
	rc = shlog_part_recover(p, create);
	if (rc < 0) {
		shlog_part_put(p);
		return rc;
	}
	t->parts[num] = p;
	return 0;
}

/* Read a topic directory from disk: its partitions 0..n-1, recovered. */
static int topic_load(shlog_store *s, const char *name, struct shlog_topic **out)
{
	struct shlog_topic *t = calloc(1, sizeof(*t));
	DIR *d = NULL;
	struct dirent *de;
	uint32_t maxp = 0, count = 0;
	int rc = 0, fd;

	if (!t)
		return -ENOMEM;
	strlcpy(t->name, name, sizeof(t->name));
	t->dfd = shlog_io.openat(s->dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (t->dfd < 0) {
		rc = -errno;
		free(t);
		return rc;
	}
	if (!s->o.read_only)      /* a compaction a crash interrupted (compact.c) */
		shlog_compact_settle(s, t->dfd, name);
	fd = dup(t->dfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = -errno;
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		uint32_t n;
		if (shlog_part_name_parse(de->d_name, &n) == 0) {
			count++;
			if (n + 1 > maxp)
				maxp = n + 1;
		}
	}
	closedir(d);
	if (count != maxp) {
		shlog_logf(s, SHLOG_ERR, "topic %s: partitions are not numbered 0..%u without gaps", name, maxp - 1);
		rc = -EUCLEAN;
		goto fail;
	}
	t->nparts = maxp;
	t->parts = calloc(maxp ? maxp : 1, sizeof(*t->parts));
	if (!t->parts) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < maxp && rc == 0; i++)
		rc = part_open_into(s, t, i, 0);
	if (rc < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	topic_free(t);
	return rc;
}

/* Scan the data dir: remove half-made/half-deleted topics, load the rest. */
static int store_load(shlog_store *s)
{
	int fd = dup(s->dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct shlog_topic *t = NULL;
		if (!strncmp(de->d_name, ".new-", 5) || !strncmp(de->d_name, ".del-", 5)) {
			if (!s->o.read_only)
				shlog_rmtree_at(s->dfd, de->d_name);
			continue;
		}
		if (shlog_topic_name_check(de->d_name) < 0 || de->d_type != DT_DIR)
			continue;
		rc = topic_load(s, de->d_name, &t);
		if (rc == 0)
			RB_INSERT(shlog_topictree, &s->topics, t);
		else
			shlog_logf(s, SHLOG_ERR, "topic %s: cannot open: %s", de->d_name, shlog_strerror(rc));
	}
	closedir(d);
	return rc;
}

/* ================================================================ */
/* The store                                                         */
/* ================================================================ */

/* Raise the soft open-files limit to the hard one: a partition keeps fds. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Open (or create) the data dir and take its lock. */
static int store_lock(shlog_store *s, const char *dir)
{
	if (!s->o.read_only && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0)
		return -errno;
	if (s->o.read_only)
		return 0;
	s->lock_fd = shlog_io.openat(s->dfd, SHLOG_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return -errno;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

/* Close every topic and partition; with @clean, flush and sync them first. */
static int store_unload(shlog_store *s, int clean)
{
	struct shlog_topic *t, *nt;
	int rc = 0;

	RB_FOREACH_SAFE(t, shlog_topictree, &s->topics, nt) {
		RB_REMOVE(shlog_topictree, &s->topics, t);
		for (uint32_t i = 0; clean && i < t->nparts; i++) {
			int r = t->parts[i] ? shlog_part_close(t->parts[i]) : 0;
			if (r < 0 && rc == 0)
				rc = r;
		}
		topic_free(t);
	}
	return rc;
}

int shlog_store_open(const char *dir, const struct shlog_options *o, shlog_store **out)
{
	shlog_store *s;
	pthread_rwlockattr_t ra;
	int rc;

	if (!dir || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (o)
		s->o = *o;
	else
		shlog_options_init(&s->o);
	s->dfd = s->lock_fd = -1;
	RB_INIT(&s->topics);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->mu, &ra);
	pthread_rwlockattr_destroy(&ra);
	rc = options_check(s, &s->o);
	if (rc < 0)
		goto fail;
	raise_nofile();
	if (shlog_io.boot_id(s->boot_id) < 0)
		memset(s->boot_id, 0, sizeof(s->boot_id));
	rc = store_lock(s, dir);
	if (rc == -EBUSY)
		shlog_logf(s, SHLOG_ERR, "%s: in use by another process (lock %s held)", dir, SHLOG_LOCK_NAME);
	else if (rc < 0)
		shlog_logf(s, SHLOG_ERR, "%s: cannot open data directory: %s", dir, strerror(-rc));
	if (rc < 0)
		goto fail;
	rc = shlog_sched_start(s, 0);
	if (rc < 0)
		goto fail;
	rc = store_load(s);
	if (rc == 0 && !s->o.read_only)
		rc = shlog_sched_start(s, 1);
	if (rc < 0)
		goto fail_sched;
	*out = s;
	return 0;
fail_sched:
	shlog_sched_stop(s);
	store_unload(s, 0);
	shlog_sched_destroy(s);
fail:
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dfd >= 0)
		close(s->dfd);
	pthread_rwlock_destroy(&s->mu);
	free(s);
	return rc;
}

int shlog_store_close(shlog_store *s)
{
	int rc;

	if (!s)
		return -EINVAL;
	shlog_sched_stop(s);
	pthread_rwlock_wrlock(&s->mu);
	rc = store_unload(s, !s->o.read_only);
	pthread_rwlock_unlock(&s->mu);
	shlog_sched_destroy(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	close(s->dfd);
	pthread_rwlock_destroy(&s->mu);
	free(s);
	return rc;
}

int shlog_store_sync(shlog_store *s)
{
	struct shlog_topic *t;
	int rc = 0;

	pthread_rwlock_rdlock(&s->mu);
	RB_FOREACH(t, shlog_topictree, &s->topics)
		for (uint32_t i = 0; i < t->nparts; i++) {
			int r = shlog_part_sync(t->parts[i]);
			if (r < 0 && rc == 0)
				rc = r;
		}
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

const struct shlog_options *shlog_store_options(shlog_store *s)
{
	return &s->o;
}

/* ================================================================ */
/* Topic operations                                                  */
/* ================================================================ */

/* Create the directory of partition @num in topic dir @tdfd. */
static int part_mkdir(int tdfd, uint32_t num)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", num);
	if (shlog_io.mkdirat(tdfd, name, 0755) < 0)
		return -errno;
	return 0;
}

int shlog_topic_create(shlog_store *s, const char *topic, uint32_t nparts)
{
	char tmp[SHLOG_TOPIC_MAX + 8];
	struct shlog_topic *t;
	int rc;

	rc = shlog_topic_name_check(topic);
	if (rc < 0)
		return rc;
	if (nparts < 1 || nparts > SHLOG_MAX_PARTS)
		return -EINVAL;
	if (s->o.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&s->mu);
	if (topic_find(s, topic)) {
		rc = -EEXIST;
		goto out;
	}
	snprintf(tmp, sizeof(tmp), ".new-%s", topic);
	shlog_rmtree_at(s->dfd, tmp);
	if (shlog_io.mkdirat(s->dfd, tmp, 0755) < 0) {
		rc = -errno;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = -ENOMEM;
		goto undo;
	}
	strlcpy(t->name, topic, sizeof(t->name));
	t->dfd = shlog_io.openat(s->dfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	t->parts = calloc(nparts, sizeof(*t->parts));
	rc = t->dfd < 0 ? -errno : (!t->parts ? -ENOMEM : 0);
	for (uint32_t i = 0; rc == 0 && i < nparts; i++) {
		rc = part_mkdir(t->dfd, i);
		if (rc == 0)
			rc = part_open_into(s, t, i, 1);
	}
	t->nparts = nparts;
	if (rc == 0)
		rc = shlog_fsync_dir(t->dfd);
	if (rc == 0 && shlog_io.renameat(s->dfd, tmp, s->dfd, topic) < 0)
		rc = errno == ENOTEMPTY ? -EEXIST : -errno;
	if (rc == 0)
		rc = shlog_fsync_dir(s->dfd);
	if (rc < 0) {
		topic_free(t);
		goto undo;
	}
	RB_INSERT(shlog_topictree, &s->topics, t);
	goto out;
undo:
	shlog_rmtree_at(s->dfd, tmp);
out:
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

int shlog_topic_delete(shlog_store *s, const char *topic)
{
	char tmp[SHLOG_TOPIC_MAX + 40];
	struct shlog_topic *t;
	int rc = 0;

	if (s->o.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&s->mu);
	t = topic_find(s, topic);
	if (!t) {
		pthread_rwlock_unlock(&s->mu);
		return -ENOENT;
	}
	snprintf(tmp, sizeof(tmp), ".del-%s-%llu", topic,
		 (unsigned long long)atomic_fetch_add(&s->del_counter, 1));
	if (shlog_io.renameat(s->dfd, topic, s->dfd, tmp) < 0) {
		rc = -errno;
		pthread_rwlock_unlock(&s->mu);
		return rc;
	}
	shlog_fsync_dir(s->dfd);
	RB_REMOVE(shlog_topictree, &s->topics, t);
	pthread_rwlock_unlock(&s->mu);
	for (uint32_t i = 0; i < t->nparts; i++) {
		shlog_part *p = t->parts[i];
		pthread_mutex_lock(&p->mu);
		p->deleted = 1;
		pthread_cond_broadcast(&p->room);
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
		shlog_sched_forget(p);
	}
	topic_free(t);
	rc = shlog_rmtree_at(s->dfd, tmp);
	shlog_fsync_dir(s->dfd);
	return rc;
}

int shlog_topic_foreach(shlog_store *s, int (*fn)(const char *topic, void *arg), void *arg)
{
	struct shlog_topic *t;
	int rc = 0;

	pthread_rwlock_rdlock(&s->mu);
	RB_FOREACH(t, shlog_topictree, &s->topics) {
		rc = fn(t->name, arg);
		if (rc)
			break;
	}
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

int shlog_topic_nparts(shlog_store *s, const char *topic, uint32_t *nparts)
{
	struct shlog_topic *t;

	pthread_rwlock_rdlock(&s->mu);
	t = topic_find(s, topic);
	if (t)
		*nparts = t->nparts;
	pthread_rwlock_unlock(&s->mu);
	return t ? 0 : -ENOENT;
}

int shlog_topic_add_part(shlog_store *s, const char *topic, uint32_t *out)
{
	struct shlog_topic *t;
	shlog_part **np;
	int rc;

	if (s->o.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&s->mu);
	t = topic_find(s, topic);
	if (!t) {
		rc = -ENOENT;
		goto out;
	}
	if (t->nparts >= SHLOG_MAX_PARTS) {
		rc = -ENOSPC;
		goto out;
	}
	np = realloc(t->parts, (t->nparts + 1) * sizeof(*np));
	if (!np) {
		rc = -ENOMEM;
		goto out;
	}
	t->parts = np;
	t->parts[t->nparts] = NULL;
	rc = part_mkdir(t->dfd, t->nparts);
	if (rc == 0)
		rc = part_open_into(s, t, t->nparts, 1);
	if (rc == 0)
		rc = shlog_fsync_dir(t->dfd);
	if (rc == 0) {
		if (out)
			*out = t->nparts;
		t->nparts++;
	}
out:
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

/* Open the directory of a topic (@part < 0) or partition, for stat/chmod. */
static int dir_open(shlog_store *s, const char *topic, int64_t part, int *fd)
{
	char path[SHLOG_TOPIC_MAX + 16];
	struct shlog_topic *t;

	pthread_rwlock_rdlock(&s->mu);
	t = topic_find(s, topic);
	if (!t || (part >= 0 && (uint64_t)part >= t->nparts)) {
		pthread_rwlock_unlock(&s->mu);
		return -ENOENT;
	}
	if (part < 0)
		snprintf(path, sizeof(path), "%s", topic);
	else
		snprintf(path, sizeof(path), "%s/%u", topic, (unsigned)part);
	*fd = shlog_io.openat(s->dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	pthread_rwlock_unlock(&s->mu);
	return *fd < 0 ? -errno : 0;
}

int shlog_dir_stat(shlog_store *s, const char *topic, int64_t part, struct stat *st)
{
	int fd, rc = dir_open(s, topic, part, &fd);

	if (rc < 0)
		return rc;
	rc = shlog_io.fstat(fd, st) < 0 ? -errno : 0;
	shlog_io.close(fd);
	return rc;
}

int shlog_dir_chmod(shlog_store *s, const char *topic, int64_t part, mode_t mode)
{
	int fd, rc = dir_open(s, topic, part, &fd);

	if (rc < 0)
		return rc;
	rc = fchmod(fd, mode & 07777) < 0 ? -errno : 0;
	if (rc == 0)
		fsync(fd);
	shlog_io.close(fd);
	return rc;
}

int shlog_dir_chown(shlog_store *s, const char *topic, int64_t part, uid_t uid, gid_t gid)
{
	int fd, rc = dir_open(s, topic, part, &fd);

	if (rc < 0)
		return rc;
	rc = fchown(fd, uid, gid) < 0 ? -errno : 0;
	if (rc == 0)
		fsync(fd);
	shlog_io.close(fd);
	return rc;
}

/* ================================================================ */
/* Partition handles                                                 */
/* ================================================================ */

int shlog_part_get(shlog_store *s, const char *topic, uint32_t part, shlog_part **out)
{
	struct shlog_topic *t;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&s->mu);
	t = topic_find(s, topic);
	if (t && part < t->nparts && t->parts[part]) {
		atomic_fetch_add(&t->parts[part]->refs, 1);
		*out = t->parts[part];
		rc = 0;
	}
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

void shlog_part_put(shlog_part *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		shlog_part_free(p);
}
