/*
 * store.c — the data directory: opening and locking it, the topic table,
 * topic and partition creation and deletion.  (The utilities the engine
 * shares are in util.c, the names of the data dir in names.c, its lock in
 * lock.c.)
 *
 * Creating a topic builds it as ".new-<16 random hex>" and renames it
 * into place, so a crash leaves either no topic or a whole one.  Deleting
 * renames it to ".del-<16 random hex>" first and then removes the files,
 * so a crash leaves a hidden directory that the next open removes.  Both
 * names are made exclusively and have a fixed length, whatever the topic's.
 *
 * The data dir is the daemon's: every directory shlog makes is
 * SHLOG_DIR_MODE and owned by its euid.  The modes and owners the mount
 * shows live in each topic's meta file (meta.c); a store without them
 * (older versions) is migrated at open.  Nothing found in the data dir is
 * trusted: a topic whose directory, meta file or partitions are damaged or
 * unexpected is set aside (refused with -EUCLEAN, named in the log and by
 * shlog_store_aside_foreach) and every other topic is served.
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
#include <sys/resource.h>
#include <sys/stat.h>

#include "engine_i.h"
#include "held_i.h"
#include "io_i.h"
#include "lock_i.h"

RB_GENERATE(sl_topictree, shlog_topic, link, sl_topic_cmp)

/* ================================================================ */
/* The topic table                                                   */
/* ================================================================ */

/* Order topics by name. */
int sl_topic_cmp(const struct shlog_topic *a, const struct shlog_topic *b)
{
	return strcmp(a->name, b->name);
}

/* ================================================================ */
/* Options                                                           */
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

/* Check option values (core/options.c); -EINVAL names nothing, the log line does. */
static int options_check(shlog_store *s, const struct shlog_options *o)
{
	char why[128];

	if (shlog_options_check(o, why, sizeof(why)) < 0) {
		sl_logf(s, SHLOG_ERR, "invalid option: %s", why);
		return -EINVAL;
	}
	return 0;
}

/* ================================================================ */
/* Topics in memory                                                  */
/* ================================================================ */

/* Number of topics in the table; store.mu held. */
static uint32_t topics_count(shlog_store *s)
{
	struct shlog_topic *t;
	uint32_t n = 0;

	RB_FOREACH(t, sl_topictree, &s->topics)
		n++;
	return n;
}

/* Find a topic by name; store.mu held. */
static struct shlog_topic *topic_find(shlog_store *s, const char *name)
{
	struct shlog_topic key;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		return NULL;
	return RB_FIND(sl_topictree, &s->topics, &key);
}

/* A new, empty topic named @name (no directory yet). */
static struct shlog_topic *topic_new(const char *name)
{
	struct shlog_topic *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	strlcpy(t->name, name, sizeof(t->name));
	t->dfd = -1;
	pthread_mutex_init(&t->meta_mu, NULL);
	return t;
}

/* Free a topic's memory, dropping the table's reference on each partition. */
static void topic_free(struct shlog_topic *t)
{
	for (uint32_t i = 0; t->parts && i < t->nparts; i++)
		if (t->parts[i])
			shlog_part_put(t->parts[i]);
	free(t->parts);
	if (t->dfd >= 0)
		sl_io.close(t->dfd);
	sl_meta_free(&t->meta);
	pthread_mutex_destroy(&t->meta_mu);
	free(t);
}

/* Make an in-memory partition, recover (or create) it on disk, count it in the fd budget. */
static int part_open_into(shlog_store *s, struct shlog_topic *t, uint32_t num, int create)
{
	shlog_part *p;
	int rc;

	sl_res_make_room(s, SHLOG_RES_PART_FDS);   /* park idle ones first: recovery opens files */
	p = sl_part_new(s, t, num);
	if (!p)
		return -ENOMEM;
	rc = sl_part_recover(p, create);
	if (rc < 0) {
		shlog_part_put(p);
		return rc;
	}
	sl_res_adopt(p);
	t->parts[num] = p;
	return 0;
}

/* ================================================================ */
/* Set-aside topics                                                  */
/* ================================================================ */

/* The set-aside topic named @name, or NULL; store.mu held. */
static const struct shlog_aside *aside_find(shlog_store *s, const char *name)
{
	for (size_t i = 0; i < s->naside; i++)
		if (strcmp(s->aside[i].name, name) == 0)
			return &s->aside[i];
	return NULL;
}

/* Set topic @name aside (@part caused it, or -1) and say so in the log. */
static int aside_add(shlog_store *s, const char *name, int64_t part, int err, const char *why)
{
	struct shlog_aside *a = realloc(s->aside, (s->naside + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	s->aside = a;
	a += s->naside++;
	strlcpy(a->name, name, sizeof(a->name));
	a->part = part;
	a->err = err;
	strlcpy(a->why, why, sizeof(a->why));
	if (part >= 0)
		sl_logf(s, SHLOG_ERR, "topic %s set aside (refused with EUCLEAN until fixed): "
			   "partition %lld: %s", name, (long long)part, why);
	else
		sl_logf(s, SHLOG_ERR, "topic %s set aside (refused with EUCLEAN until fixed): %s",
			   name, why);
	return 0;
}

/* A served topic: 0, -EUCLEAN if it was set aside, else -ENOENT; store.mu held. */
static int topic_get(shlog_store *s, const char *name, struct shlog_topic **t)
{
	*t = topic_find(s, name);
	if (*t)
		return 0;
	return aside_find(s, name) ? -EUCLEAN : -ENOENT;
}

int shlog_store_aside_foreach(shlog_store *s, int (*fn)(const char *topic, int64_t part, int err,
							 const char *why, void *arg), void *arg)
{
	int rc = 0;

	pthread_rwlock_rdlock(&s->mu);
	for (size_t i = 0; rc == 0 && i < s->naside; i++)
		rc = fn(s->aside[i].name, s->aside[i].part, s->aside[i].err, s->aside[i].why, arg);
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

/* ================================================================ */
/* Loading topics                                                    */
/* ================================================================ */

/* Why a topic cannot be served: the partition at fault (or -1) and a sentence. */
struct load_err {
	int64_t part;
	int empty;            /* no partitions at all: nothing of it to lose */
	int unsaved;          /* its migrated meta is not on disk: leave the dirs */
	char why[160];
};

/* What the scan of one topic directory found (no store: check only, for verify). */
struct topic_scan {
	shlog_store *s;
	struct shlog_topic *t;
	uint32_t count, maxp;
};

/* One entry of a topic dir: count partitions, drop stale temporaries, name strays. */
static int scan_entry(const char *name, unsigned char d_type, void *arg)
{
	struct topic_scan *sc = arg;
	uint32_t n;

	enum sl_name_kind k = sl_name_kind(SL_DIR_TOPIC, name);

	if (k == SL_NAME_PART && shlog_part_name_parse(name, &n) == 0 &&
	    sl_entry_type(sc->t->dfd, name, d_type) == S_IFDIR) {
		sc->count++;
		if (n + 1 > sc->maxp)
			sc->maxp = n + 1;
	} else if (k == SL_NAME_META_TMP) {
		if (sc->s && !sc->s->o.read_only)
			sl_io.unlinkat(sc->t->dfd, name, 0);   /* a meta write a crash cut */
	} else if (sc->s && k != SL_NAME_META && k != SL_NAME_COMPACT) {
		sl_logf(sc->s, SHLOG_WARNING, "topic %s: %s is not a partition: left alone",
			   sc->t->name, name);
	}
	return 0;
}

/* Count the partitions 0..n-1 of a topic dir; a topic has at least one and no gaps. */
static int topic_scan(shlog_store *s, struct shlog_topic *t, struct load_err *e)
{
	struct topic_scan sc = { .s = s, .t = t };
	int rc = sl_io_dir_foreach(t->dfd, scan_entry, &sc);

	if (rc < 0) {
		snprintf(e->why, sizeof(e->why), "cannot list it: %s", strerror(-rc));
		return rc;
	}
	if (sc.count == 0) {
		snprintf(e->why, sizeof(e->why), "it has no partitions");
		e->empty = 1;
		return -EUCLEAN;
	}
	if (sc.count != sc.maxp) {
		snprintf(e->why, sizeof(e->why), "partitions are not numbered 0..%u without gaps "
			 "(%u of %u present): move the stray ones out", sc.maxp - 1, sc.count, sc.maxp);
		return -EUCLEAN;
	}
	t->nparts = sc.maxp;
	return 0;
}

/* An older store's topic (no meta file): keep the dirs' modes and owners, then take the dirs. */
static int topic_migrate(shlog_store *s, struct shlog_topic *t, struct load_err *e)
{
	int rc = sl_meta_from_dirs(t->dfd, t->nparts, &t->meta);

	if (rc < 0 || s->o.read_only)
		return rc;
	rc = sl_meta_write(t->dfd, SHLOG_META_NAME, &t->meta);
	if (rc < 0) {        /* served from memory; the next open tries again */
		sl_logf(s, SHLOG_WARNING, "topic %s: cannot write its %s file (%s): its "
			   "directories keep their modes until the next open", t->name,
			   SHLOG_META_NAME, strerror(-rc));
		e->unsaved = 1;
		return 0;
	}
	rc = sl_parts_tighten(t->dfd, t->nparts);
	if (rc < 0)
		sl_logf(s, SHLOG_WARNING, "topic %s: making its partition directories the "
			   "daemon's: %s", t->name, strerror(-rc));
	sl_logf(s, SHLOG_NOTICE, "topic %s: modes and owners moved into its %s file "
		   "(an older store)", t->name, SHLOG_META_NAME);
	return 0;
}

/* -o repair: a damaged meta file is rebuilt from the (now the daemon's) directories. */
static int topic_meta_rebuild(shlog_store *s, struct shlog_topic *t, const char *bad)
{
	int rc = sl_rmtree_at(t->dfd, SHLOG_META_NAME);

	sl_logf(s, SHLOG_WARNING, "topic %s: %s: %s; repair rebuilds it from the directories "
		   "(chmod/chown the topic through the mount again)", t->name, SHLOG_META_NAME, bad);
	if (rc == 0)
		rc = sl_meta_from_dirs(t->dfd, t->nparts, &t->meta);
	if (rc == 0)
		rc = sl_meta_write(t->dfd, SHLOG_META_NAME, &t->meta);
	return rc;
}

/* Read the topic's meta file, migrating an older store or repairing a bad file. */
static int topic_meta_load(shlog_store *s, struct shlog_topic *t, struct load_err *e)
{
	const char *bad = NULL;
	int rc = sl_meta_read(t->dfd, SHLOG_META_NAME, t->nparts, &t->meta, &bad);

	if (rc == -ENOENT)
		rc = topic_migrate(s, t, e);
	else if (rc == -EUCLEAN && s->o.repair && !s->o.read_only)
		rc = topic_meta_rebuild(s, t, bad);
	if (rc < 0)
		snprintf(e->why, sizeof(e->why), "%s: %s", SHLOG_META_NAME,
			 rc == -EUCLEAN && bad ? bad : strerror(-rc));
	return rc;
}

/* Recover partitions 0..nparts-1; the first that fails is named in @e. */
static int topic_parts_load(shlog_store *s, struct shlog_topic *t, struct load_err *e)
{
	int rc = 0;

	t->parts = calloc(t->nparts, sizeof(*t->parts));
	if (!t->parts)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nparts && rc == 0; i++) {
		rc = part_open_into(s, t, i, 0);
		if (rc < 0) {
			e->part = i;
			snprintf(e->why, sizeof(e->why), "%s", shlog_strerror(rc));
		}
	}
	return rc;
}

/* Read a topic directory from disk: its meta and partitions 0..n-1, recovered. */
static int topic_load(shlog_store *s, const char *name, struct shlog_topic **out,
		      struct load_err *e)
{
	struct shlog_topic *t = topic_new(name);
	int rc;

	if (!t)
		return -ENOMEM;
	t->dfd = sl_io_open(s->dfd, name, O_RDONLY, 0, S_IFDIR);
	rc = t->dfd < 0 ? t->dfd : 0;
	if (rc < 0)
		snprintf(e->why, sizeof(e->why), "%s", rc == -EUCLEAN ? "not a directory"
							: strerror(-rc));
	if (rc == 0 && !s->o.read_only)   /* a compaction a crash interrupted (compact.c) */
		sl_compact_settle(s, t->dfd, name);
	if (rc == 0)
		rc = topic_scan(s, t, e);
	if (rc == 0)
		rc = topic_meta_load(s, t, e);
	if (rc == 0 && !s->o.read_only && !e->unsaved && sl_dir_tighten(t->dfd) < 0)
		sl_logf(s, SHLOG_WARNING, "topic %s: cannot make its directory the daemon's",
			   name);
	if (rc == 0)
		rc = topic_parts_load(s, t, e);
	if (rc < 0) {
		topic_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* Check topic @name of data dir @ddfd as an open would, partitions aside (for verify). */
int sl_topic_check_layout(int ddfd, const char *name, char *why, size_t cap)
{
	struct shlog_topic *t = topic_new(name);
	struct load_err e = { .part = -1 };
	struct shlog_meta m = { 0 };
	const char *bad = NULL;
	int rc;

	if (!t)
		return -ENOMEM;
	t->dfd = sl_io_open(ddfd, name, O_RDONLY, 0, S_IFDIR);
	rc = t->dfd < 0 ? t->dfd : topic_scan(NULL, t, &e);
	if (t->dfd < 0)
		snprintf(e.why, sizeof(e.why), "%s", rc == -EUCLEAN ? "not a directory"
							: strerror(-rc));
	if (rc == 0) {
		rc = sl_meta_read(t->dfd, SHLOG_META_NAME, t->nparts, &m, &bad);
		if (rc == -ENOENT)
			rc = 0;     /* an older store: the next open makes it */
		else if (rc < 0)
			snprintf(e.why, sizeof(e.why), "%s: %s", SHLOG_META_NAME,
				 rc == -EUCLEAN && bad ? bad : strerror(-rc));
		sl_meta_free(&m);
	}
	snprintf(why, cap, "%s", rc < 0 ? e.why : "");
	topic_free(t);
	return rc;
}

/* Errors that stop the whole store: the daemon could not serve anyone. */
static int load_fatal(int rc)
{
	return rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE;
}

/* One entry of the data dir: a stale temporary, a topic, or nothing of ours. */
static int load_entry(const char *name, unsigned char d_type, void *arg)
{
	shlog_store *s = arg;
	struct load_err e = { .part = -1 };
	struct shlog_topic *t = NULL;
	enum sl_name_kind k = sl_name_kind(SL_DIR_DATA, name);
	int rc;

	if (k == SL_NAME_TOPIC_NEW || k == SL_NAME_TOPIC_DEL) {
		if (!s->o.read_only)
			sl_rmtree_at(s->dfd, name);
		return 0;
	}
	if (k == SL_NAME_META_TMP) {
		if (!s->o.read_only)       /* a write of the root's .meta a crash cut */
			sl_io.unlinkat(s->dfd, name, 0);
		return 0;
	}
	if (k != SL_NAME_TOPIC)
		return 0;      /* .lock, the daemon's files, names no topic can have */
	if (sl_entry_type(s->dfd, name, d_type) != S_IFDIR) {
		if (s->o.set_aside)
			return aside_add(s, name, -1, -EUCLEAN, "not a directory");
		sl_logf(s, SHLOG_WARNING, "%s is not a directory: not a topic, ignored", name);
		return 0;
	}
	rc = topic_load(s, name, &t, &e);
	if (rc == 0)
		RB_INSERT(sl_topictree, &s->topics, t);
	else if (s->o.set_aside && !load_fatal(rc))
		rc = aside_add(s, name, e.part, rc, e.why);
	else if (e.empty) {
		sl_logf(s, SHLOG_WARNING, "%s has no partitions: not a topic, ignored", name);
		rc = 0;
	} else if (e.part >= 0)
		sl_logf(s, SHLOG_ERR, "topic %s: cannot open partition %lld: %s", name,
			   (long long)e.part, e.why);
	else
		sl_logf(s, SHLOG_ERR, "topic %s: cannot open: %s", name, e.why[0] ? e.why :
			   shlog_strerror(rc));
	return rc;
}

/* Scan the data dir: remove half-made/half-deleted topics, load the rest. */
static int store_load(shlog_store *s)
{
	return sl_io_dir_foreach(s->dfd, load_entry, s);
}

/* ================================================================ */
/* The store                                                         */
/* ================================================================ */

/*
 * The mount root's mode and owner: SHLOG_ROOT_META_NAME in the data dir (a
 * meta file without partitions), or, until someone changes them through
 * the mount, the data dir's own.  A damaged one is logged and replaced by
 * the strictest record (0700, the daemon's euid) until it is rewritten.
 */
static int root_load(shlog_store *s)
{
	struct shlog_meta m;
	const char *why = NULL;
	struct stat st;
	int rc = sl_meta_read(s->dfd, SHLOG_ROOT_META_NAME, 0, &m, &why);

	if (rc == 0) {
		s->root_perm = m.topic;
		sl_meta_free(&m);
		return 0;
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc == -ENOENT && sl_io.fstat(s->dfd, &st) == 0) {
		s->root_perm = (struct shlog_perm){ st.st_mode & 07777, st.st_uid, st.st_gid };
		return 0;
	}
	sl_logf(s, SHLOG_ERR, "%s: %s; the mount root is 0700 and the daemon's until it is changed",
		   SHLOG_ROOT_META_NAME, why ? why : strerror(-rc));
	s->root_perm = (struct shlog_perm){ SHLOG_DIR_MODE, geteuid(), getegid() };
	return 0;
}

/* Replace the mount root's record with @p pm and write it; the old one stays on failure. */
static int root_set(shlog_store *s, const struct shlog_perm *pm)
{
	struct shlog_meta m;
	int rc;

	if (pm->mode == s->root_perm.mode && pm->uid == s->root_perm.uid && pm->gid == s->root_perm.gid)
		return 0;               /* as for a topic: a change to the same values succeeds */
	if (s->o.read_only)
		return -EROFS;
	rc = sl_meta_init(&m, pm, 0);
	if (rc == 0)
		rc = sl_meta_write(s->dfd, SHLOG_ROOT_META_NAME, &m);
	sl_meta_free(&m);
	if (rc == 0)
		s->root_perm = *pm;
	else
		sl_logf(s, SHLOG_ERR, "writing %s: %s", SHLOG_ROOT_META_NAME, strerror(-rc));
	return rc;
}

/* chmod (@p mode >= 0) and chown ((uid_t)-1, (gid_t)-1 keep a field) of the mount root. */
static int root_change(shlog_store *s, int64_t mode, uid_t uid, gid_t gid)
{
	struct shlog_perm pm;
	int rc;

	pthread_mutex_lock(&s->root_mu);
	pm = s->root_perm;
	if (mode >= 0)
		pm.mode = (uint32_t)mode;
	if (uid != (uid_t)-1)
		pm.uid = uid;
	if (gid != (gid_t)-1)
		pm.gid = gid;
	rc = root_set(s, &pm);
	pthread_mutex_unlock(&s->root_mu);
	return rc;
}

/* Raise the soft open-files limit to the hard one: the fd budget is derived from it. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Open (or create, SHLOG_DIR_MODE) the data dir and take its lock.  The
 * operator's path may pass through symlinks; nothing inside it does.  An
 * existing data dir keeps the mode its operator gave it.
 */
static int store_lock(shlog_store *s, const char *dir)
{
	return sl_lock_open(dir, s->o.read_only ? SL_LOCK_NONE : SL_LOCK_CREATE, &s->dfd, &s->lock_fd);
}

/* Close every topic and partition; with @clean, flush and sync them first. */
static int store_unload(shlog_store *s, int clean)
{
	struct shlog_topic *t, *nt;
	int rc = 0;

	RB_FOREACH_SAFE(t, sl_topictree, &s->topics, nt) {
		RB_REMOVE(sl_topictree, &s->topics, t);
		for (uint32_t i = 0; clean && i < t->nparts; i++) {
			int r = t->parts[i] ? sl_part_close(t->parts[i]) : 0;
			if (r < 0 && rc == 0)
				rc = r;
		}
		topic_free(t);
	}
	return rc;
}

/* Release what shlog_store_open() set up: the data dir and its lock, the fd budget, the store. */
static void store_free(shlog_store *s)
{
	sl_lock_close(s->dfd, s->lock_fd);
	sl_res_destroy(s);
	pthread_rwlock_destroy(&s->mu);
	pthread_mutex_destroy(&s->root_mu);
	free(s->aside);
	free(s);
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
	pthread_mutex_init(&s->root_mu, NULL);
	raise_nofile();
	rc = sl_res_init(s);
	if (rc == 0)
		rc = options_check(s, &s->o);
	if (rc < 0)
		goto fail;
	if (sl_io.boot_id(s->boot_id) < 0)
		memset(s->boot_id, 0, sizeof(s->boot_id));
	rc = store_lock(s, dir);
	if (rc == -EBUSY)
		sl_logf(s, SHLOG_ERR, "%s: in use by another process (lock %s held)", dir, SHLOG_LOCK_NAME);
	else if (rc < 0)
		sl_logf(s, SHLOG_ERR, "%s: cannot open data directory: %s", dir, strerror(-rc));
	if (rc < 0)
		goto fail;
	rc = root_load(s);
	if (rc == 0)
		rc = sl_sched_start(s, 0);
	if (rc < 0)
		goto fail;
	rc = store_load(s);
	if (rc == 0)
		sl_res_loaded(s, topics_count(s));
	if (rc == 0 && !s->o.read_only)
		rc = sl_sched_start(s, 1);
	if (rc < 0)
		goto fail_sched;
	*out = s;
	return 0;
fail_sched:
	sl_sched_stop(s);
	store_unload(s, 0);
	sl_sched_destroy(s);
fail:
	store_free(s);
	return rc;
}

int shlog_store_close(shlog_store *s)
{
	int rc;

	if (!s)
		return -EINVAL;
	sl_sched_stop(s);
	pthread_rwlock_wrlock(&s->mu);
	rc = store_unload(s, !s->o.read_only);
	pthread_rwlock_unlock(&s->mu);
	sl_sched_destroy(s);
	store_free(s);
	return rc;
}

int shlog_store_sync(shlog_store *s)
{
	struct shlog_topic *t;
	int rc = 0;

	pthread_rwlock_rdlock(&s->mu);
	RB_FOREACH(t, sl_topictree, &s->topics)
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
	char name[SHLOG_PART_NAME_CAP];

	sl_name_part(name, sizeof(name), num);
	if (sl_io.mkdirat(tdfd, name, SHLOG_DIR_MODE) < 0)
		return -errno;
	return 0;
}

/* Build topic @t's partitions and meta in its (temporary) directory. */
static int topic_build(shlog_store *s, struct shlog_topic *t, uint32_t nparts)
{
	struct shlog_perm perm = { SHLOG_VIRT_DIR_MODE, geteuid(), getegid() };
	int rc = sl_meta_init(&t->meta, &perm, nparts);

	t->parts = rc == 0 ? calloc(nparts, sizeof(*t->parts)) : NULL;
	if (!t->parts)
		return rc < 0 ? rc : -ENOMEM;
	t->nparts = nparts;        /* only now: it counts t->parts' slots */
	for (uint32_t i = 0; rc == 0 && i < nparts; i++) {
		rc = part_mkdir(t->dfd, i);
		if (rc == 0)
			rc = part_open_into(s, t, i, 1);
	}
	if (rc == 0)
		rc = sl_meta_write(t->dfd, SHLOG_META_NAME, &t->meta);   /* fsyncs the topic dir */
	return rc;
}

int shlog_topic_create(shlog_store *s, const char *topic, uint32_t nparts)
{
	char tmp[sizeof(SHLOG_TMP_NEW_PREFIX) + SHLOG_TMP_HEX];
	struct shlog_topic *t;
	int rc, fd;

	rc = shlog_topic_name_check(topic);
	if (rc < 0)
		return rc;
	if (nparts < 1 || nparts > SHLOG_MAX_PARTS)
		return -EINVAL;
	if (s->o.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&s->mu);
	if (topic_get(s, topic, &t) != -ENOENT) {
		rc = -EEXIST;
		goto out;
	}
	rc = sl_res_admit(s, topics_count(s), 1, nparts);   /* the store's topic and partition limits */
	if (rc < 0)
		goto out;
	fd = sl_mkdtemp(s->dfd, SHLOG_TMP_NEW_PREFIX, "", tmp, sizeof(tmp));
	if (fd < 0) {
		rc = fd;
		if (rc == -EEXIST)
			goto out;     /* every name drawn was taken: nothing of ours */
		goto undo;        /* it may have been made */
	}
	t = topic_new(topic);
	rc = t ? 0 : -ENOMEM;
	if (rc == 0) {
		t->dfd = fd;
		rc = topic_build(s, t, nparts);
	} else {
		sl_io.close(fd);
	}
	if (rc == 0 && sl_io.renameat(s->dfd, tmp, s->dfd, topic) < 0)
		rc = errno == ENOTEMPTY ? -EEXIST : -errno;
	if (rc == 0)
		rc = sl_fsync_dir(s->dfd);
	if (rc < 0) {
		if (t)
			topic_free(t);
		goto undo;
	}
	RB_INSERT(sl_topictree, &s->topics, t);
	goto out;
undo:
	sl_rmtree_at(s->dfd, tmp);
out:
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

/* Rename topic dir @topic to a fresh ".del-<16 hex>" (never over an existing name). */
static int topic_hide(shlog_store *s, const char *topic, char *tmp, size_t cap)
{
	for (int i = 0; i < SHLOG_TMP_TRIES; i++) {
		int rc = sl_name_temp(tmp, cap, SHLOG_TMP_DEL_PREFIX, "");
		if (rc < 0)
			return rc;
		if (sl_io.renameat2(s->dfd, topic, s->dfd, tmp, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int shlog_topic_delete(shlog_store *s, const char *topic)
{
	char tmp[sizeof(SHLOG_TMP_DEL_PREFIX) + SHLOG_TMP_HEX];
	struct shlog_topic *t;
	int rc = 0;

	if (s->o.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&s->mu);
	rc = topic_get(s, topic, &t);
	if (rc == 0)
		rc = topic_hide(s, topic, tmp, sizeof(tmp));
	if (rc < 0) {
		pthread_rwlock_unlock(&s->mu);
		return rc;
	}
	sl_fsync_dir(s->dfd);
	RB_REMOVE(sl_topictree, &s->topics, t);
	pthread_rwlock_unlock(&s->mu);
	for (uint32_t i = 0; i < t->nparts; i++) {
		shlog_part *p = t->parts[i];
		pthread_mutex_lock(&p->mu);
		p->deleted = 1;
		pthread_cond_broadcast(&p->room);
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
		sl_sched_forget(p);
	}
	topic_free(t);
	rc = sl_rmtree_at(s->dfd, tmp);
	sl_fsync_dir(s->dfd);
	return rc;
}

int shlog_topic_foreach(shlog_store *s, int (*fn)(const char *topic, void *arg), void *arg)
{
	struct shlog_topic *t;
	int rc = 0;

	pthread_rwlock_rdlock(&s->mu);
	RB_FOREACH(t, sl_topictree, &s->topics) {
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
	int rc;

	pthread_rwlock_rdlock(&s->mu);
	rc = topic_get(s, topic, &t);
	if (rc == 0 && t->nparts == 0)
		rc = -EUCLEAN;       /* never served: every caller may divide by it */
	if (rc == 0)
		*nparts = t->nparts;
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

int shlog_topic_add_part(shlog_store *s, const char *topic, uint32_t *out)
{
	struct shlog_topic *t;
	shlog_part **np;
	int rc;

	if (s->o.read_only)
		return -EROFS;
	pthread_rwlock_wrlock(&s->mu);
	rc = topic_get(s, topic, &t);
	if (rc < 0)
		goto out;
	if (t->nparts >= SHLOG_MAX_PARTS) {
		rc = -ENOSPC;
		goto out;
	}
	rc = sl_res_admit(s, 0, 0, 1);       /* the store's partition limit */
	if (rc < 0)
		goto out;
	np = realloc(t->parts, (t->nparts + 1) * sizeof(*np));
	if (!np) {
		rc = -ENOMEM;
		goto out;
	}
	t->parts = np;
	t->parts[t->nparts] = NULL;
	rc = sl_meta_add_part(&t->meta);     /* it shows the topic's mode and owner */
	if (rc == 0)
		rc = part_mkdir(t->dfd, t->nparts);
	if (rc == 0)
		rc = part_open_into(s, t, t->nparts, 1);
	if (rc == 0)
		rc = sl_fsync_dir(t->dfd);
	if (rc == 0) {
		if (out)
			*out = t->nparts;
		t->nparts++;
	} else if (t->meta.nparts > t->nparts) {
		t->meta.nparts--;
	}
out:
	pthread_rwlock_unlock(&s->mu);
	return rc;
}

/* ================================================================ */
/* Modes and owners (the topic's meta)                               */
/* ================================================================ */

/* Find a topic (@part < 0) or partition and lock its meta; store.mu read-held on success. */
static int meta_lock(shlog_store *s, const char *topic, int64_t part, struct shlog_topic **out)
{
	struct shlog_topic *t;
	int rc;

	pthread_rwlock_rdlock(&s->mu);
	rc = topic_get(s, topic, &t);
	if (rc == 0 && part >= 0 && (uint64_t)part >= t->nparts)
		rc = -ENOENT;
	if (rc < 0) {
		pthread_rwlock_unlock(&s->mu);
		return rc;
	}
	pthread_mutex_lock(&t->meta_mu);
	*out = t;
	return 0;
}

/* Undo meta_lock. */
static void meta_unlock(shlog_store *s, struct shlog_topic *t)
{
	pthread_mutex_unlock(&t->meta_mu);
	pthread_rwlock_unlock(&s->mu);
}

/* The record of a topic (@part < 0) or partition; meta_mu held. */
static struct shlog_perm *meta_perm(struct shlog_topic *t, int64_t part)
{
	SL_HELD(&t->meta_mu);
	return part < 0 ? &t->meta.topic : &t->meta.parts[part];
}

/* Make a changed record last (write the meta), or put @old back. */
static int meta_commit(shlog_store *s, struct shlog_topic *t, struct shlog_perm *pm,
		       const struct shlog_perm *old)
{
	int rc;

	if (pm->mode == old->mode && pm->uid == old->uid && pm->gid == old->gid)
		return 0;
	rc = s->o.read_only ? -EROFS : sl_meta_write(t->dfd, SHLOG_META_NAME, &t->meta);
	if (rc < 0) {
		*pm = *old;
		sl_logf(s, SHLOG_ERR, "topic %s: writing its %s file: %s", t->name,
			   SHLOG_META_NAME, strerror(-rc));
	}
	return rc;
}

int shlog_dir_stat(shlog_store *s, const char *topic, int64_t part, struct stat *st)
{
	struct shlog_perm pm;
	struct shlog_topic *t;
	char name[24];
	int rc;

	if (!topic) {                          /* the mount root */
		if (sl_io.fstat(s->dfd, st) < 0)
			return -errno;
		pthread_mutex_lock(&s->root_mu);
		pm = s->root_perm;
		pthread_mutex_unlock(&s->root_mu);
		st->st_mode = S_IFDIR | pm.mode;
		st->st_uid = pm.uid;
		st->st_gid = pm.gid;
		return 0;
	}
	rc = meta_lock(s, topic, part, &t);

	if (rc < 0)
		return rc;
	pm = *meta_perm(t, part);
	if (part < 0) {
		rc = sl_io.fstat(t->dfd, st) < 0 ? -errno : 0;
	} else {
		sl_name_part(name, sizeof(name), (uint32_t)part);
		rc = sl_io.fstatat(t->dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	}
	meta_unlock(s, t);
	if (rc < 0)
		return rc;
	st->st_mode = S_IFDIR | pm.mode;      /* the times are the real directory's */
	st->st_uid = pm.uid;
	st->st_gid = pm.gid;
	return 0;
}

int shlog_dir_chmod(shlog_store *s, const char *topic, int64_t part, mode_t mode)
{
	struct shlog_perm *pm, old;
	struct shlog_topic *t;
	int rc;

	if (!topic)
		return root_change(s, mode & 07777, (uid_t)-1, (gid_t)-1);
	rc = meta_lock(s, topic, part, &t);

	if (rc < 0)
		return rc;
	pm = meta_perm(t, part);
	old = *pm;
	pm->mode = mode & 07777;
	rc = meta_commit(s, t, pm, &old);
	meta_unlock(s, t);
	return rc;
}

int shlog_dir_chown(shlog_store *s, const char *topic, int64_t part, uid_t uid, gid_t gid)
{
	struct shlog_perm *pm, old;
	struct shlog_topic *t;
	int rc;

	if (!topic)
		return root_change(s, -1, uid, gid);
	rc = meta_lock(s, topic, part, &t);

	if (rc < 0)
		return rc;
	pm = meta_perm(t, part);
	old = *pm;
	if (uid != (uid_t)-1)
		pm->uid = uid;
	if (gid != (gid_t)-1)
		pm->gid = gid;
	rc = meta_commit(s, t, pm, &old);
	meta_unlock(s, t);
	return rc;
}

/* ================================================================ */
/* Partition handles                                                 */
/* ================================================================ */

int shlog_part_get(shlog_store *s, const char *topic, uint32_t part, shlog_part **out)
{
	struct shlog_topic *t;
	int rc;

	pthread_rwlock_rdlock(&s->mu);
	rc = topic_get(s, topic, &t);
	if (rc == 0 && !(part < t->nparts && t->parts[part]))
		rc = -ENOENT;
	if (rc == 0) {
		atomic_fetch_add(&t->parts[part]->refs, 1);
		*out = t->parts[part];
		rc = 0;
	}
	pthread_rwlock_unlock(&s->mu);
	return rc;
}
