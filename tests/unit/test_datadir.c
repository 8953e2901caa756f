/*
 * test_datadir.c — the data dir is the daemon's: modes and owners in each
 * topic's meta file (the real directories stay 0700 and the euid's), the
 * migration of a store without meta files, topics set aside when what is
 * planted in the data dir is not what it should be (the store still opens,
 * nothing blocks, every other topic is served), and fixed-length
 * temporary names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "helpers.h"
#include "const_i.h"
#include "io_i.h"
#include "meta_i.h"

/* One test's data directory, and the log lines the store wrote. */
struct fx {
	char dir[256];
	char log[16384];
	size_t loglen;
};

/* Log callback: keep the lines, to check what the operator is told. */
static void fx_log(int level, const char *msg, void *arg)
{
	struct fx *f = arg;
	int n;

	(void)level;
	n = snprintf(f->log + f->loglen, sizeof(f->log) - f->loglen, "%s\n", msg);
	if (n > 0 && f->loglen + (size_t)n < sizeof(f->log))
		f->loglen += (size_t)n;
}

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 60)

/* Options that log into @p f (and repair if asked). */
static void fx_opts(struct fx *f, struct shlog_options *o, int repair)
{
	th_opts(o);
	o->log = fx_log;
	o->log_arg = f;
	o->repair = repair;
	o->set_aside = 1;
	f->loglen = 0;
	f->log[0] = '\0';
}

/* "dir/a/b" into @p out. */
static void fx_path(const struct fx *f, char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s/%s", f->dir, rel);
}

/* Real mode and owner of dir/rel. */
static struct stat fx_stat(const struct fx *f, const char *rel)
{
	char path[512];
	struct stat st;

	fx_path(f, path, sizeof(path), rel);
	assert_int_equal(lstat(path, &st), 0);
	return st;
}

/* dir/rel is a directory of the daemon's own: SHLOG_DIR_MODE, euid. */
static void assert_daemons(const struct fx *f, const char *rel)
{
	struct stat st = fx_stat(f, rel);

	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, SHLOG_DIR_MODE);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, getegid());
}

/* The mount's view of a topic or partition has this mode and owner. */
static void assert_virt(shlog_store *s, const char *topic, int64_t part, mode_t mode,
			uid_t uid, gid_t gid)
{
	struct stat st;

	assert_int_equal(shlog_dir_stat(s, topic, part, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
}

/* Append one line to partition @p part and read the partition back. */
static void assert_serves(shlog_store *s, const char *topic, uint32_t part)
{
	char *buf = NULL;
	size_t len = 0;
	shlog_part *p;

	assert_int_equal(shlog_part_get(s, topic, part, &p), 0);
	th_append(p, "still served");
	assert_int_equal(th_read_log(p, &buf, &len, NULL), 0);
	assert_true(len >= 13);
	assert_memory_equal(buf + len - 13, "still served\n", 13);
	free(buf);
	shlog_part_put(p);
}

/* shlog_store_aside_foreach callback: find one topic, keep its reason. */
struct aside_probe {
	const char *topic;
	int found;
	int64_t part;
	int err;
	char why[160];
};

static int aside_probe_fn(const char *topic, int64_t part, int err, const char *why, void *arg)
{
	struct aside_probe *a = arg;

	if (strcmp(topic, a->topic) == 0) {
		a->found++;
		a->part = part;
		a->err = err;
		snprintf(a->why, sizeof(a->why), "%s", why);
	}
	return 0;
}

/* @p topic is set aside: refused with -EUCLEAN everywhere, listed, logged. */
static void assert_aside(struct fx *f, shlog_store *s, const char *topic, const char *why_has)
{
	struct aside_probe a = { .topic = topic };
	uint32_t n = 99;
	struct stat st;
	shlog_part *p;
	char line[300];

	assert_int_equal(shlog_topic_nparts(s, topic, &n), -EUCLEAN);
	assert_int_equal(n, 99);
	assert_int_equal(shlog_dir_stat(s, topic, -1, &st), -EUCLEAN);
	assert_int_equal(shlog_dir_chmod(s, topic, -1, 0777), -EUCLEAN);
	assert_int_equal(shlog_topic_add_part(s, topic, &n), -EUCLEAN);
	assert_int_equal(shlog_topic_delete(s, topic), -EUCLEAN);
	assert_int_equal(shlog_topic_create(s, topic, 1), -EEXIST);
	/* shlog.h: every call naming a set-aside topic fails with -EUCLEAN */
	assert_int_equal(shlog_part_get(s, topic, 0, &p), -EUCLEAN);
	assert_int_equal(shlog_store_aside_foreach(s, aside_probe_fn, &a), 0);
	assert_int_equal(a.found, 1);
	assert_int_equal(a.err, -EUCLEAN);
	assert_non_null(strstr(a.why, why_has));
	snprintf(line, sizeof(line), "topic %s set aside", topic);
	assert_non_null(strstr(f->log, line));
}

/* Make a store with topics "good" (2 partitions, once) and @p bad (@p nparts). */
static void fx_make(struct fx *f, const char *bad, uint32_t nparts)
{
	struct shlog_options o;
	shlog_store *s;

	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	if (shlog_topic_nparts(s, "good", &(uint32_t){ 0 }) == -ENOENT)
		assert_int_equal(shlog_topic_create(s, "good", 2), 0);
	if (bad)
		assert_int_equal(shlog_topic_create(s, bad, nparts), 0);
	assert_int_equal(shlog_store_close(s), 0);
}

/* Open the store that must set @p bad aside and serve "good"; close it. */
static void fx_expect_aside(struct fx *f, const char *bad, const char *why_has)
{
	struct shlog_options o;
	shlog_store *s;

	fx_opts(f, &o, 0);
	alarm(20);     /* a FIFO opened blocking would hang here */
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_serves(s, "good", 0);
	assert_serves(s, "good", 1);
	assert_aside(f, s, bad, why_has);
	assert_int_equal(shlog_store_close(s), 0);
	alarm(60);
}

/* ==== modes and owners live in the meta file ============================= */

/* A new data dir is 0700; chmod/chown change the mount's view, not the dirs. */
static void test_modes_virtual(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char dir[300], sub[300];
	uid_t me = geteuid();
	gid_t mg = getegid();
	uint32_t n;
	shlog_store *s;
	struct stat st;

	fx_opts(f, &o, 0);
	snprintf(dir, sizeof(dir), "%s/data", f->dir);
	assert_int_equal(shlog_store_open(dir, &o, &s), 0);
	snprintf(sub, sizeof(sub), "data");
	assert_daemons(f, sub);
	assert_int_equal(shlog_topic_create(s, "t", 2), 0);
	assert_daemons(f, "data/t");
	assert_daemons(f, "data/t/0");
	assert_daemons(f, "data/t/1");
	st = fx_stat(f, "data/t/" SHLOG_META_NAME);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, SHLOG_FILE_MODE);
	assert_virt(s, "t", -1, SHLOG_VIRT_DIR_MODE, me, mg);
	assert_virt(s, "t", 1, SHLOG_VIRT_DIR_MODE, me, mg);

	assert_int_equal(shlog_dir_chmod(s, "t", -1, 02751), 0);
	assert_int_equal(shlog_dir_chown(s, "t", -1, 1234, 5678), 0);
	assert_int_equal(shlog_dir_chmod(s, "t", 1, 0700), 0);
	assert_int_equal(shlog_dir_chown(s, "t", 1, 4321, (gid_t)-1), 0);
	assert_virt(s, "t", -1, 02751, 1234, 5678);
	assert_virt(s, "t", 0, SHLOG_VIRT_DIR_MODE, me, mg);   /* a partition keeps its own */
	assert_virt(s, "t", 1, 0700, 4321, mg);
	assert_daemons(f, "data/t");
	assert_daemons(f, "data/t/0");
	assert_daemons(f, "data/t/1");
	/* a partition made later shows the topic's mode and owner */
	assert_int_equal(shlog_topic_add_part(s, "t", &n), 0);
	assert_int_equal(n, 2);
	assert_virt(s, "t", 2, 02751, 1234, 5678);
	assert_daemons(f, "data/t/2");
	assert_int_equal(shlog_dir_chmod(s, "t", 2, 0755), 0);
	assert_int_equal(shlog_dir_stat(s, "t", 3, &st), -ENOENT);
	assert_int_equal(shlog_store_close(s), 0);

	/* a remount keeps the mount's values */
	assert_int_equal(shlog_store_open(dir, &o, &s), 0);
	assert_virt(s, "t", -1, 02751, 1234, 5678);
	assert_virt(s, "t", 0, SHLOG_VIRT_DIR_MODE, me, mg);
	assert_virt(s, "t", 1, 0700, 4321, mg);
	assert_virt(s, "t", 2, 0755, 1234, 5678);
	assert_int_equal(shlog_store_close(s), 0);
}

/* Check every entry under dir @p path: directories 0700, files 0600, all the euid's; count files. */
static void assert_tree_private(const char *path, unsigned *files)
{
	DIR *d = opendir(path);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char sub[1024];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		assert_int_equal(lstat(sub, &st), 0);
		assert_int_equal(st.st_uid, geteuid());
		if (S_ISDIR(st.st_mode)) {
			assert_int_equal(st.st_mode & 07777, SHLOG_DIR_MODE);
			assert_tree_private(sub, files);
		} else {
			if (!S_ISREG(st.st_mode))
				fail_msg("%s is neither a file nor a directory", sub);
			if ((st.st_mode & 07777) != SHLOG_FILE_MODE)
				fail_msg("%s has mode %o", sub, (unsigned)(st.st_mode & 07777));
			(*files)++;
		}
	}
	closedir(d);
}

/* Every file the engine makes is 0600 and every directory 0700 (segments, anchors, keys, index, meta, lock). */
static void test_files_private(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char dir[300];
	shlog_store *s;
	shlog_part *p;
	unsigned files = 0;

	fx_opts(f, &o, 0);
	o.segment_bytes = 4096;      /* several segments */
	snprintf(dir, sizeof(dir), "%s/data", f->dir);
	assert_int_equal(shlog_store_open(dir, &o, &s), 0);
	assert_int_equal(shlog_topic_create(s, "t", 2), 0);
	assert_int_equal(shlog_part_get(s, "t", 1, &p), 0);
	for (int i = 0; i < 400; i++) {
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "k%d\tvalue %d", i % 20, i);
		assert_int_equal(shlog_part_append(p, msg, (size_t)n, 0, NULL), 0);
	}
	assert_int_equal(shlog_part_sync(p), 0);
	shlog_part_put(p);
	assert_int_equal(shlog_store_close(s), 0);
	assert_tree_private(dir, &files);
	/* .lock, meta, 2 anchors, >= 2 segments of .log and .idx in partition 1 */
	assert_true(files >= 8);
}

/* An operator's chmod of the data dir itself is kept. */
static void test_datadir_mode_kept(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;

	assert_int_equal(chmod(f->dir, 0751), 0);
	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_int_equal(shlog_topic_create(s, "t", 1), 0);
	assert_int_equal(shlog_store_close(s), 0);
	assert_int_equal(fx_stat(f, ".").st_mode & 07777, 0751);
}

/* Rewrite dir/rel's mode and owner as an older version left them. */
static void fx_loosen(const struct fx *f, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	char path[512];

	fx_path(f, path, sizeof(path), rel);
	assert_int_equal(chown(path, uid, gid), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A store without meta files (older versions) migrates at open. */
static void test_migrate(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;

	if (geteuid() != 0)
		skip();   /* the old layout's owners need chown */
	fx_make(f, "old", 2);
	fx_path(f, path, sizeof(path), "old/" SHLOG_META_NAME);
	assert_int_equal(unlink(path), 0);
	fx_path(f, path, sizeof(path), "good/" SHLOG_META_NAME);
	assert_int_equal(unlink(path), 0);
	fx_loosen(f, "old", 0755, 1000, 1000);
	fx_loosen(f, "old/0", 0755, 1000, 1000);
	fx_loosen(f, "old/1", 0750, 2000, 3000);

	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_virt(s, "old", -1, 0755, 1000, 1000);
	assert_virt(s, "old", 0, 0755, 1000, 1000);
	assert_virt(s, "old", 1, 0750, 2000, 3000);
	assert_virt(s, "good", -1, SHLOG_DIR_MODE, geteuid(), getegid());  /* its real dir's */
	assert_serves(s, "old", 1);
	assert_int_equal(shlog_store_close(s), 0);
	assert_non_null(strstr(f->log, "topic old: modes and owners moved"));
	assert_true(S_ISREG(fx_stat(f, "old/" SHLOG_META_NAME).st_mode));
	assert_daemons(f, "old");
	assert_daemons(f, "old/0");
	assert_daemons(f, "old/1");

	/* again: the meta file now says it, the directories no longer do */
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_virt(s, "old", -1, 0755, 1000, 1000);
	assert_virt(s, "old", 1, 0750, 2000, 3000);
	assert_int_equal(shlog_store_close(s), 0);
}

/* openat that fails with ENOSPC for a meta file being written. */
static int nospace_openat(int dfd, const char *name, int flags, mode_t mode)
{
	if (!strncmp(name, SHLOG_META_TMP_PREFIX, strlen(SHLOG_META_TMP_PREFIX))) {
		errno = ENOSPC;
		return -1;
	}
	return sl_io_default.openat(dfd, name, flags, mode);
}

/* A migration that cannot write the meta serves from memory and leaves the dirs. */
static void test_migrate_unsaved(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;

	if (geteuid() != 0)
		skip();
	fx_make(f, "old", 1);
	fx_path(f, path, sizeof(path), "old/" SHLOG_META_NAME);
	assert_int_equal(unlink(path), 0);
	fx_loosen(f, "old", 0751, 1000, 1001);
	fx_loosen(f, "old/0", 0750, 2000, 2001);
	fx_opts(f, &o, 0);
	sl_io.openat = nospace_openat;
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	sl_io.openat = sl_io_default.openat;
	assert_virt(s, "old", -1, 0751, 1000, 1001);
	assert_virt(s, "old", 0, 0750, 2000, 2001);
	assert_serves(s, "old", 0);
	assert_int_equal(shlog_store_close(s), 0);
	assert_non_null(strstr(f->log, "topic old: cannot write its meta file"));
	assert_int_equal(fx_stat(f, "old").st_mode & 07777, 0751);     /* untouched */
	assert_int_equal(fx_stat(f, "old/0").st_uid, 2000);
	/* the next open migrates for good */
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_virt(s, "old", -1, 0751, 1000, 1001);
	assert_virt(s, "old", 0, 0750, 2000, 2001);
	assert_int_equal(shlog_store_close(s), 0);
	assert_daemons(f, "old");
	assert_daemons(f, "old/0");
}

/* ==== what is planted in the data dir sets one topic aside ============== */

/* Entries of the data dir with topic names that are not directories. */
static void test_aside_datadir_entries(void **state)
{
	struct fx *f = *state;
	char path[512];

	fx_make(f, NULL, 0);
	fx_path(f, path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	fx_path(f, path, sizeof(path), "link");
	assert_int_equal(symlink("good", path), 0);
	fx_path(f, path, sizeof(path), "file");
	assert_int_equal(th_file_create(path, "x", 1), 0);
	if (geteuid() == 0) {
		fx_path(f, path, sizeof(path), "dev");
		assert_int_equal(mknod(path, S_IFCHR | 0600, makedev(1, 3)), 0);
	}
	fx_expect_aside(f, "fifo", "not a directory");
	fx_expect_aside(f, "link", "not a directory");
	fx_expect_aside(f, "file", "not a directory");
	if (geteuid() == 0)
		fx_expect_aside(f, "dev", "not a directory");
}

/* A symlink where a partition directory belongs is not followed: not a partition. */
static void test_aside_part_symlink(void **state)
{
	struct fx *f = *state;
	char path[512], target[512];

	fx_make(f, "s", 1);
	fx_path(f, path, sizeof(path), "s/0");
	assert_int_equal(th_rmrf(path), 0);
	fx_path(f, target, sizeof(target), "good/0");
	assert_int_equal(symlink(target, path), 0);
	fx_expect_aside(f, "s", "no partitions");
	assert_non_null(strstr(f->log, "topic s: 0 is not a partition: left alone"));
}

/* The store's own lock file planted as a FIFO or a symlink: a clear -EUCLEAN, no hang. */
static void test_lock_planted(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;

	fx_make(f, NULL, 0);
	fx_path(f, path, sizeof(path), SHLOG_LOCK_NAME);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	fx_opts(f, &o, 0);
	alarm(20);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), -EUCLEAN);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), -EUCLEAN);
	alarm(60);
}

/* A topic directory without partitions: set aside, never divided by. */
static void test_aside_no_parts(void **state)
{
	struct fx *f = *state;
	char path[512];

	fx_make(f, NULL, 0);
	fx_path(f, path, sizeof(path), "empty");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_expect_aside(f, "empty", "no partitions");
}

/* A gap in the partition numbers (a stray t/3 beside 0 and 1). */
static void test_aside_gap(void **state)
{
	struct fx *f = *state;
	char path[512];

	fx_make(f, "gap", 2);
	fx_path(f, path, sizeof(path), "gap/3");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_expect_aside(f, "gap", "without gaps");
	/* also with repair: which partitions are right is not for shlog to guess */
	{
		struct shlog_options o;
		shlog_store *s;
		fx_opts(f, &o, 1);
		assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
		assert_aside(f, s, "gap", "without gaps");
		assert_int_equal(shlog_store_close(s), 0);
	}
}

/* Without set_aside the open fails as a whole, with the reason in the log. */
static void test_no_set_aside(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;

	fx_make(f, "gap", 1);
	fx_path(f, path, sizeof(path), "gap/2");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_opts(f, &o, 0);
	o.set_aside = 0;
	assert_int_equal(shlog_store_open(f->dir, &o, &s), -EUCLEAN);
	assert_non_null(strstr(f->log, "topic gap: cannot open: partitions are not numbered"));
	assert_int_equal(rmdir(path), 0);
	/* no partitions, or not a directory: not a topic, ignored (never 0 partitions) */
	fx_path(f, path, sizeof(path), "empty");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	fx_opts(f, &o, 0);
	o.set_aside = 0;
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_serves(s, "good", 1);
	assert_serves(s, "gap", 0);
	assert_int_equal(shlog_topic_nparts(s, "empty", &(uint32_t){ 0 }), -ENOENT);
	assert_int_equal(shlog_topic_nparts(s, "fifo", &(uint32_t){ 0 }), -ENOENT);
	assert_non_null(strstr(f->log, "empty has no partitions: not a topic, ignored"));
	assert_non_null(strstr(f->log, "fifo is not a directory: not a topic, ignored"));
	assert_int_equal(shlog_topic_create(s, "empty", 1), 0);   /* the name is free */
	assert_serves(s, "empty", 0);
	assert_int_equal(shlog_store_close(s), 0);
}

/* Stray non-directories with partition names are left alone and don't block. */
static void test_stray_entries(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;
	uint32_t n = 0;

	fx_make(f, "t", 2);
	fx_path(f, path, sizeof(path), "t/2");
	assert_int_equal(th_file_create(path, "x", 1), 0);
	fx_path(f, path, sizeof(path), "t/3");
	assert_int_equal(mkfifo(path, 0600), 0);
	fx_path(f, path, sizeof(path), "t/notes.txt");
	assert_int_equal(symlink("/etc/passwd", path), 0);
	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_int_equal(shlog_topic_nparts(s, "t", &n), 0);
	assert_int_equal(n, 2);
	assert_serves(s, "t", 0);
	assert_serves(s, "t", 1);
	assert_non_null(strstr(f->log, "topic t: 2 is not a partition: left alone"));
	assert_non_null(strstr(f->log, "topic t: notes.txt is not a partition"));
	assert_int_equal(shlog_store_close(s), 0);
	assert_true(S_ISREG(fx_stat(f, "t/2").st_mode));     /* left alone */
	assert_true(S_ISFIFO(fx_stat(f, "t/3").st_mode));
}

/* Replace dir/rel by a FIFO. */
static void fx_fifo(const struct fx *f, const char *rel)
{
	char path[512];

	fx_path(f, path, sizeof(path), rel);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
}

/* A FIFO, a directory or a damaged file as the meta: aside; repair rebuilds it. */
static void test_aside_meta(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;

	fx_make(f, "m1", 1);
	fx_make(f, "m2", 1);
	fx_make(f, "m3", 1);
	fx_fifo(f, "m1/" SHLOG_META_NAME);
	fx_path(f, path, sizeof(path), "m2/" SHLOG_META_NAME);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof(path), "m3/" SHLOG_META_NAME);
	assert_int_equal(th_file_flip(path, 17), 0);
	fx_expect_aside(f, "m1", "not a regular file");
	fx_expect_aside(f, "m2", "not a regular file");
	fx_expect_aside(f, "m3", "checksum mismatch");

	fx_opts(f, &o, 1);
	alarm(20);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_serves(s, "m1", 0);
	assert_serves(s, "m2", 0);
	assert_serves(s, "m3", 0);
	assert_virt(s, "m1", -1, SHLOG_DIR_MODE, geteuid(), getegid());
	assert_int_equal(shlog_store_close(s), 0);
	assert_true(S_ISREG(fx_stat(f, "m1/" SHLOG_META_NAME).st_mode));
	assert_true(S_ISREG(fx_stat(f, "m2/" SHLOG_META_NAME).st_mode));
}

/* Write a meta file whose fields are wrong but whose CRC is right. */
static void fx_forge_meta(const struct fx *f, const char *topic, uint32_t count, uint32_t mode,
			  uint32_t part0, uint32_t part1)
{
	unsigned char b[SHLOG_META_HDR_SIZE + 2 * SHLOG_META_ENT_SIZE + 4] = { 0 };
	size_t len = SHLOG_META_HDR_SIZE + (size_t)count * SHLOG_META_ENT_SIZE + 4;
	char path[512];
	uint32_t v[] = { SHLOG_META_MAGIC, SHLOG_META_VERSION, count, 0, mode, 0, 0, 0,
			 part0, 0755, 0, 0, part1, 0755, 0, 0 };
	uint32_t crc;

	memcpy(b, v, sizeof(v) < len - 4 ? sizeof(v) : len - 4);   /* little-endian host */
	crc = th_crc32c(b, len - 4);
	memcpy(b + len - 4, &crc, 4);
	snprintf(path, sizeof(path), "%s/%s/%s", f->dir, topic, SHLOG_META_NAME);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(th_file_create(path, b, len), 0);
}

/* Meta files that pass their CRC but break a rule of FORMAT.md. */
static void test_aside_meta_forged(void **state)
{
	struct fx *f = *state;

	fx_make(f, "mode", 2);
	fx_make(f, "order", 2);
	fx_make(f, "ok", 2);
	fx_forge_meta(f, "mode", 0, 0100755, 0, 0);
	fx_forge_meta(f, "order", 2, 0755, 1, 0);
	fx_forge_meta(f, "ok", 2, 0750, 0, 7);    /* a record past the partitions: ignored */
	fx_expect_aside(f, "mode", "bits outside 07777");
	fx_expect_aside(f, "order", "out of order");
	{
		struct shlog_options o;
		shlog_store *s;
		fx_opts(f, &o, 0);
		assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
		assert_virt(s, "ok", -1, 0750, 0, 0);
		assert_virt(s, "ok", 0, 0755, 0, 0);
		assert_virt(s, "ok", 1, 0750, 0, 0);
		assert_int_equal(shlog_store_close(s), 0);
	}
}

/* The check verify can call gives the reasons the open gives. */
static void test_check_layout(void **state)
{
	struct fx *f = *state;
	char path[512], why[200];
	int dfd;

	fx_make(f, "gap", 2);
	fx_make(f, "m", 1);
	fx_path(f, path, sizeof(path), "gap/3");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_fifo(f, "m/" SHLOG_META_NAME);
	fx_path(f, path, sizeof(path), "empty");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	alarm(20);
	assert_int_equal(sl_topic_check_layout(dfd, "good", why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(sl_topic_check_layout(dfd, "gap", why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "without gaps"));
	assert_int_equal(sl_topic_check_layout(dfd, "m", why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "meta: not a regular file"));
	assert_int_equal(sl_topic_check_layout(dfd, "empty", why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "no partitions"));
	assert_int_equal(sl_topic_check_layout(dfd, "fifo", why, sizeof(why)), -EUCLEAN);
	assert_non_null(strstr(why, "not a directory"));
	close(dfd);
	alarm(60);
}

/* Topic @p t is served (append and read back) or set aside; either way not blocked. */
static void assert_served_or_aside(struct fx *f, shlog_store *s, const char *t)
{
	uint32_t n;

	if (shlog_topic_nparts(s, t, &n) == 0)
		assert_serves(s, t, 0);
	else
		assert_aside(f, s, t, "");
}

/* Planted things where a partition's files belong: nothing blocks or crashes the open. */
static void test_partition_files_planted(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512], seg[32];
	shlog_store *s;
	int aside = 0;
	uint32_t n;

	snprintf(seg, sizeof(seg), "%0*u", SHLOG_SEG_NAME_DIGITS, 0);
	fx_make(f, "keys", 1);
	fx_make(f, "keystmp", 1);
	fx_make(f, "anchor", 1);
	fx_make(f, "idx", 1);
	fx_make(f, "log", 1);
	fx_make(f, "dev", 1);
	fx_path(f, path, sizeof(path), "keys/0/" SHLOG_KEYS_NAME);
	assert_int_equal(mkfifo(path, 0600), 0);
	fx_path(f, path, sizeof(path), "keystmp/0/" SHLOG_KEYS_TMP_NAME);
	assert_int_equal(mkfifo(path, 0600), 0);
	fx_fifo(f, "anchor/0/" SHLOG_ANCHOR_NAME);
	snprintf(path, sizeof(path), "%s/idx/0/%s.idx", f->dir, seg);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/log/0/%s.log", f->dir, seg);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/dev/0/%s.log", f->dir, seg);
	assert_int_equal(unlink(path), 0);
	if (geteuid() == 0)
		assert_int_equal(mknod(path, S_IFCHR | 0600, makedev(1, 3)), 0);
	else
		assert_int_equal(mkdir(path, 0700), 0);
	for (int repair = 0; repair < 2; repair++) {
		fx_opts(f, &o, repair);
		alarm(20);     /* an open of a FIFO that blocked would hang here */
		assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
		assert_serves(s, "good", 0);
		assert_serves(s, "good", 1);
		assert_served_or_aside(f, s, "keys");
		assert_served_or_aside(f, s, "keystmp");
		assert_served_or_aside(f, s, "anchor");
		assert_served_or_aside(f, s, "idx");
		assert_served_or_aside(f, s, "log");
		assert_served_or_aside(f, s, "dev");
		if (!repair) {
			aside += shlog_topic_nparts(s, "anchor", &n) == -EUCLEAN;
			aside += shlog_topic_nparts(s, "idx", &n) == -EUCLEAN;
			aside += shlog_topic_nparts(s, "log", &n) == -EUCLEAN;
			aside += shlog_topic_nparts(s, "dev", &n) == -EUCLEAN;
		}
		assert_int_equal(shlog_store_close(s), 0);
		alarm(60);
	}
	assert_int_equal(aside, 4);   /* without repair, damaged partitions are never served */
	/* read-only, as shlogctl info and verify open it: no hang either */
	fx_opts(f, &o, 0);
	o.read_only = 1;
	alarm(20);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_int_equal(shlog_topic_nparts(s, "good", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(shlog_topic_nparts(s, "anchor", &n), -EUCLEAN);
	assert_int_equal(shlog_store_close(s), 0);
	alarm(60);
}

/* ==== temporary names =================================================== */

/* Entries of the data dir other than @p but. */
static int fx_entries(const struct fx *f, const char *but)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		     strcmp(de->d_name, but);
	closedir(d);
	return n;
}

/* A topic with the longest name can be made, deleted and made again. */
static void test_long_name_delete(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char name[SHLOG_TOPIC_MAX + 1];
	shlog_store *s;
	shlog_part *p;

	memset(name, 'n', SHLOG_TOPIC_MAX);
	name[SHLOG_TOPIC_MAX] = '\0';
	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(shlog_topic_create(s, name, 2), 0);
		assert_int_equal(shlog_part_get(s, name, 1, &p), 0);
		th_append(p, "x");
		shlog_part_put(p);
		assert_int_equal(shlog_topic_delete(s, name), 0);
	}
	assert_int_equal(shlog_store_close(s), 0);
	/* nothing left behind: only the lock file */
	assert_int_equal(fx_entries(f, SHLOG_LOCK_NAME), 0);
}

/* mkdirat that says EEXIST the first @fail_eexist times. */
static int eexist_left;
static int eexist_mkdirat(int dfd, const char *name, mode_t mode)
{
	if (eexist_left > 0 && name[0] == '.') {
		eexist_left--;
		errno = EEXIST;
		return -1;
	}
	return sl_io_default.mkdirat(dfd, name, mode);
}

/* A temporary name that exists is never taken: a fresh one is tried. */
static void test_tmp_exclusive(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	uint32_t n;

	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	eexist_left = 3;
	sl_io.mkdirat = eexist_mkdirat;
	assert_int_equal(shlog_topic_create(s, "t", 1), 0);
	assert_int_equal(eexist_left, 0);
	eexist_left = 1000;   /* every name taken: give up with EEXIST, make nothing */
	assert_int_equal(shlog_topic_create(s, "u", 1), -EEXIST);
	sl_io.mkdirat = sl_io_default.mkdirat;
	assert_int_equal(shlog_topic_nparts(s, "t", &n), 0);
	assert_int_equal(shlog_topic_nparts(s, "u", &n), -ENOENT);
	assert_int_equal(shlog_store_close(s), 0);
}

/* Stale temporaries of every kind are removed at open. */
static void test_stale_temporaries(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	char path[512];
	shlog_store *s;
	struct stat st;

	fx_make(f, "t", 1);
	fx_path(f, path, sizeof(path), ".new-0123456789abcdef");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof(path), ".del-0123456789abcdef");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof(path), ".del-0123456789abcdef/0");
	assert_int_equal(mkdir(path, 0700), 0);
	fx_path(f, path, sizeof(path), "t/" SHLOG_META_TMP_PREFIX "0123456789abcdef");
	assert_int_equal(th_file_create(path, "x", 1), 0);
	fx_opts(f, &o, 0);
	assert_int_equal(shlog_store_open(f->dir, &o, &s), 0);
	assert_serves(s, "t", 0);
	assert_int_equal(shlog_store_close(s), 0);
	fx_path(f, path, sizeof(path), ".new-0123456789abcdef");
	assert_int_equal(lstat(path, &st), -1);
	fx_path(f, path, sizeof(path), ".del-0123456789abcdef");
	assert_int_equal(lstat(path, &st), -1);
	fx_path(f, path, sizeof(path), "t/" SHLOG_META_TMP_PREFIX "0123456789abcdef");
	assert_int_equal(lstat(path, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_files_private),
		TH_TEST(test_modes_virtual),
		TH_TEST(test_datadir_mode_kept),
		TH_TEST(test_migrate),
		TH_TEST(test_migrate_unsaved),
		TH_TEST(test_aside_datadir_entries),
		TH_TEST(test_aside_no_parts),
		TH_TEST(test_aside_part_symlink),
		TH_TEST(test_lock_planted),
		TH_TEST(test_aside_gap),
		TH_TEST(test_no_set_aside),
		TH_TEST(test_stray_entries),
		TH_TEST(test_aside_meta),
		TH_TEST(test_aside_meta_forged),
		TH_TEST(test_partition_files_planted),
		TH_TEST(test_check_layout),
		TH_TEST(test_long_name_delete),
		TH_TEST(test_tmp_exclusive),
		TH_TEST(test_stale_temporaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
