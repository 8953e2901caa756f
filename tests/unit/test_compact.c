/*
 * test_compact.c — compaction (shlog_part_compact) as a writer like any
 * other: a crash at every seam call of a compaction, a torn write at every
 * pwrite, a power cut at every call, then a writable open must find the
 * partition whole (all of the old log, or exactly what compaction keeps),
 * every key's latest value readable, nothing dropped by recovery and no
 * temporary tree left.  And compaction run by root in a directory someone
 * else could write: it never takes a name that is there, never follows
 * one, and never gives the partition to anyone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include "helpers.h"
#include "io_i.h"
#include "names_i.h"
#include "util_i.h"

#define NMSG 120
#define NKEYS 9

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 280)

/* ==== the workload ===================================================== */

/* Message i: a tombstone, a keyless line, or "k<key>\tv<i>"; returns its key or -1. */
static int msg(unsigned i, char *buf, size_t n)
{
	if (i % 5 == 4) {
		snprintf(buf, n, "k%u\t", (i / 5) % NKEYS);
		return (int)((i / 5) % NKEYS);
	}
	if (i % 7 == 3) {
		snprintf(buf, n, "plain %u", i);
		return -1;
	}
	snprintf(buf, n, "k%u\tv%u", i % NKEYS, i);
	return (int)(i % NKEYS);
}

/* The expected logs: all of it, and what compaction keeps. */
struct expect {
	char full[NMSG * 32], kept[NMSG * 32];
	size_t full_len, kept_len;
	int last[NKEYS];     /* message holding each key's latest value (-1: none or tombstone) */
};

/* Fill @e from the message stream. */
static void expect_init(struct expect *e)
{
	int latest[NKEYS];
	char m[32];

	memset(e, 0, sizeof(*e));
	for (unsigned k = 0; k < NKEYS; k++)
		latest[k] = -1;
	for (unsigned i = 0; i < NMSG; i++) {
		int k = msg(i, m, sizeof(m));
		if (k >= 0)
			latest[k] = (int)i;
	}
	for (unsigned i = 0; i < NMSG; i++) {
		int k = msg(i, m, sizeof(m));
		size_t l = strlen(m);
		memcpy(e->full + e->full_len, m, l);
		e->full[e->full_len + l] = '\n';
		e->full_len += l + 1;
		if (k >= 0 && (latest[k] != (int)i || m[l - 1] == '\t'))
			continue;   /* superseded, or a tombstone */
		memcpy(e->kept + e->kept_len, m, l);
		e->kept[e->kept_len + l] = '\n';
		e->kept_len += l + 1;
	}
	for (unsigned k = 0; k < NKEYS; k++) {
		e->last[k] = latest[k];
		if (latest[k] >= 0) {
			msg((unsigned)latest[k], m, sizeof(m));
			if (m[strlen(m) - 1] == '\t')
				e->last[k] = -1;
		}
	}
}

/* Options of the workload: small segments and spans, so compaction writes several. */
static void opts(struct shlog_options *o)
{
	th_opts(o);
	o->stride = 8;
	o->segment_bytes = 400;
	o->flush_interval_ms = 10000;
}

/* Write the stream to topic "c" partition 0 of @dir, synced and closed cleanly. */
static void write_base(const char *dir)
{
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char m[32];

	opts(&o);
	th_open_part(dir, &o, "c", 1, &s, &p);
	for (unsigned i = 0; i < NMSG; i++) {
		msg(i, m, sizeof(m));
		th_append(p, m);
		if (i % 10 == 9)
			assert_int_equal(shlog_part_sync(p), 0);
	}
	assert_int_equal(th_close(s, p), 0);
}

/* Entries of @dir whose name starts with @prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* ==== the check after a crash ============================================ */

/* Open @dir writable; the partition is whole (with @probe: and takes an append).  1 if compacted, 0 if old. */
static int check_after(const char *dir, const struct expect *e, uint64_t crash_at, int probe)
{
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char *log, tdir[512], m[32];
	size_t len;
	int rc, compacted = 0;

	opts(&o);
	rc = th_reopen_part(dir, &o, "c", 0, &s, &p);
	if (rc != 0)
		fail_msg("crash at %llu: reopen gives %d", (unsigned long long)crash_at, rc);
	snprintf(tdir, sizeof(tdir), "%s/c", dir);
	if (count_prefix(tdir, ".compact-"))
		fail_msg("crash at %llu: a compaction's temporary tree is left after open",
			 (unsigned long long)crash_at);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(th_read_log(p, &log, &len, NULL), 0);
	if (len == e->full_len && !memcmp(log, e->full, len))
		compacted = 0;
	else if (len == e->kept_len && !memcmp(log, e->kept, len))
		compacted = 1;
	else
		fail_msg("crash at %llu: the log (%zu bytes) is neither the old one (%zu) nor the compacted one (%zu)",
			 (unsigned long long)crash_at, len, e->full_len, e->kept_len);
	free(log);
	if (in.end_seq != NMSG || in.committed_seq != NMSG || in.recovered_bytes_dropped || in.error)
		fail_msg("crash at %llu: end %llu committed %llu dropped %llu error %d", (unsigned long long)crash_at,
			 (unsigned long long)in.end_seq, (unsigned long long)in.committed_seq,
			 (unsigned long long)in.recovered_bytes_dropped, in.error);
	for (unsigned k = 0; k < NKEYS; k++) {
		struct shlog_keyref r;
		char key[8], val[32];
		size_t kl = (size_t)snprintf(key, sizeof(key), "k%u", k);
		rc = shlog_key_lookup(p, key, kl, &r);
		if (e->last[k] < 0) {
			if (rc != -ENOENT)
				fail_msg("crash at %llu: key %s should be gone (rc %d)", (unsigned long long)crash_at, key, rc);
			continue;
		}
		msg((unsigned)e->last[k], m, sizeof(m));
		if (rc != 0 || r.len != strlen(m) || r.len >= sizeof(val) || th_read_at(p, r.off, val, r.len) != 0 ||
		    memcmp(val, m, r.len))
			fail_msg("crash at %llu: key %s does not read its latest value '%s' (rc %d)",
				 (unsigned long long)crash_at, key, m, rc);
	}
	if (!probe) {
		assert_int_equal(th_close(s, p), 0);
		return compacted;
	}
	/* the store still works: append, close, reopen, see it */
	th_append(p, "after");
	th_close_reopen_clean(s, p, dir, &o, "c", NMSG + 1);
	return compacted;
}

/* ==== the sweeps ========================================================== */

/* Run one compaction of c/0 in @dir (whatever seam is installed). */
static int run_compact(const char *dir)
{
	struct shlog_options o;

	opts(&o);
	return shlog_part_compact(dir, "c", 0, 300, &o, NULL, NULL, NULL);
}

/* Crash (@mode) at every seam call 1..calls+1 of a compaction of a copy of @base. */
static void sweep(const char *root, enum th_fault_mode mode)
{
	struct expect *e = malloc(sizeof(*e));
	char base[512], dir[512];
	unsigned old = 0, fresh = 0, failed = 0;
	uint64_t calls;

	assert_non_null(e);
	expect_init(e);
	snprintf(base, sizeof(base), "%s/base", root);
	assert_int_equal(mkdir(base, 0700), 0);
	write_base(base);

	snprintf(dir, sizeof(dir), "%s/measure", root);
	assert_int_equal(th_tree_copy(base, dir), 0);
	th_fault_install(TH_FAULT_COUNT);
	assert_int_equal(run_compact(dir), 0);
	calls = th_fault_calls();
	th_fault_restore();
	assert_int_equal(check_after(dir, e, 0, 1), 1);
	th_rmrf(dir);
	print_message("compaction: %llu seam calls\n", (unsigned long long)calls);
	assert_true(calls > 50);   /* it read and wrote several segments */

	for (uint64_t n = 1; n <= calls + 1; n++) {
		snprintf(dir, sizeof(dir), "%s/crash%llu", root, (unsigned long long)n);
		assert_int_equal(th_tree_copy(base, dir), 0);
		th_fault_install(mode);
		th_fault_set_crash_at(n);
		failed += run_compact(dir) != 0;
		th_fault_restore();
		if (check_after(dir, e, n, 1))
			fresh++;
		else
			old++;
		th_rmrf(dir);
	}
	print_message("%llu crash points: %u left the old log, %u the compacted one, %u compactions failed\n",
		      (unsigned long long)calls + 1, old, fresh, failed);
	/* the sweep reached both sides of the swap */
	assert_true(old > 10 && fresh >= 1 && failed > calls / 2);
	free(e);
}

/* A crash at every call of a compaction. */
static void test_compact_crash_every_call(void **state)
{
	struct fx *f = *state;

	sweep(f->dir, TH_FAULT_CRASH);
}

/* The crashing pwrite writes half its bytes first. */
static void test_compact_torn_every_write(void **state)
{
	struct fx *f = *state;

	sweep(f->dir, TH_FAULT_TORN);
}

/* A power cut at every call: every write not yet synced is undone. */
static void test_compact_powercut_every_call(void **state)
{
	struct fx *f = *state;

	sweep(f->dir, TH_FAULT_POWERCUT);
}

/* One failed pwrite: the compaction fails cleanly, a second one succeeds. */
static void test_compact_eio_once(void **state)
{
	struct fx *f = *state;
	struct expect *e = malloc(sizeof(*e));
	char tdir[512];

	assert_non_null(e);
	expect_init(e);
	write_base(f->dir);
	th_fault_install(TH_FAULT_EIO_ONCE);
	assert_int_equal(run_compact(f->dir), -EIO);
	th_fault_restore();
	snprintf(tdir, sizeof(tdir), "%s/c", f->dir);
	assert_int_equal(count_prefix(tdir, ".compact-"), 0);   /* the failed copy was removed */
	assert_int_equal(check_after(f->dir, e, 0, 0), 0);
	assert_int_equal(run_compact(f->dir), 0);
	assert_int_equal(check_after(f->dir, e, 0, 1), 1);
	free(e);
}

/* ==== names someone else planted =========================================== */

/* Nothing under @dir (a victim directory) was created or changed hands. */
static void victim_untouched(const char *dir, uid_t uid, mode_t mode)
{
	struct stat sb;

	assert_int_equal(lstat(dir, &sb), 0);
	assert_int_equal(sb.st_uid, uid);
	assert_int_equal(sb.st_mode & 07777, mode);
	assert_int_equal(count_prefix(dir, ""), 2);   /* "." and ".." */
}

/*
 * A partition owned by another user and, with @plant, symlinks at every
 * name older versions used (.compact-0.new and .old, pointing at a
 * root-owned 0755 directory): the compaction succeeds, follows nothing,
 * gives nothing away; the new partition is ours, 0700, its files 0600.
 */
static void planted_case(struct fx *f, int plant)
{
	struct expect *e = malloc(sizeof(*e));
	char victim[512], link[512], part[512], path[1024];
	struct stat sb;
	DIR *d;
	struct dirent *de;
	unsigned files = 0;

	assert_non_null(e);
	expect_init(e);
	write_base(f->dir);
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	assert_int_equal(mkdir(victim, 0755), 0);
	assert_int_equal(chmod(victim, 0755), 0);
	snprintf(link, sizeof(link), "%s/c/.compact-0.new", f->dir);
	if (plant)
		assert_int_equal(symlink(victim, link), 0);
	snprintf(link, sizeof(link), "%s/c/.compact-0.old", f->dir);
	if (plant)
		assert_int_equal(symlink(victim, link), 0);
	snprintf(part, sizeof(part), "%s/c/0", f->dir);
	if (geteuid() == 0)
		assert_int_equal(chown(part, 65534, 65534), 0);   /* the partition "belongs" to nobody */
	assert_int_equal(chmod(part, 0777), 0);

	assert_int_equal(run_compact(f->dir), 0);
	victim_untouched(victim, geteuid(), 0755);
	assert_int_equal(lstat(part, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_uid, geteuid());
	assert_int_equal(sb.st_mode & 07777, 0700);
	d = opendir(part);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", part, de->d_name);
		assert_int_equal(lstat(path, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		assert_int_equal(sb.st_uid, geteuid());
		if ((sb.st_mode & 077) != 0)
			fail_msg("%s has mode %o", de->d_name, sb.st_mode & 07777);
		files++;
	}
	closedir(d);
	assert_true(files >= 3);   /* anchor, a .log and a .idx at least */
	assert_int_equal(check_after(f->dir, e, 0, 1), 1);
	/* the planted links were names of ours: open removed them, not their target */
	assert_int_equal(lstat(link, &sb), -1);
	victim_untouched(victim, geteuid(), 0755);
	free(e);
}

/* A partition owned by another user, mode 0777: the compacted one is ours, 0700. */
static void test_compact_no_chown(void **state)
{
	planted_case(*state, 0);
}

/* The same with symlinks planted at the names older versions used. */
static void test_compact_planted_names(void **state)
{
	planted_case(*state, 1);
}

/* What the planting mkdirat does before the real one. */
static enum { PLANT_BEFORE, PLANT_AFTER } plant_how;
static const char *plant_target;
static int plant_calls;

/* Seam: mkdirat that plants a symlink at the name first, or swaps one in after. */
static int planting_mkdirat(int dfd, const char *name, mode_t mode)
{
	char aside[128];
	int rc;

	if (plant_calls++ > 0)
		return sl_io_default.mkdirat(dfd, name, mode);
	if (plant_how == PLANT_BEFORE) {
		assert_int_equal(symlinkat(plant_target, dfd, name), 0);
		return sl_io_default.mkdirat(dfd, name, mode);
	}
	rc = sl_io_default.mkdirat(dfd, name, mode);
	snprintf(aside, sizeof(aside), "%s.aside", name);
	assert_int_equal(renameat(dfd, name, dfd, aside), 0);
	assert_int_equal(symlinkat(plant_target, dfd, name), 0);
	return rc;
}

/* Make a root-owned 0755 victim dir, then sl_mkdtemp() in f->dir with
 * a symlink to it planted at the first name (@p how); the data dir fd in @p dfd. */
static int mkdtemp_planted(struct fx *f, int how, char *victim, size_t vcap, int *dfd,
			   char *name, size_t ncap)
{
	int fd;

	snprintf(victim, vcap, "%s/victim", f->dir);
	assert_int_equal(mkdir(victim, 0755), 0);
	assert_int_equal(chmod(victim, 0755), 0);
	*dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(*dfd >= 0);
	plant_how = how;
	plant_target = victim;
	plant_calls = 0;
	sl_io.mkdirat = planting_mkdirat;
	fd = sl_mkdtemp(*dfd, ".t-", ".new", name, ncap);
	sl_io = sl_io_default;
	return fd;
}

/* The name is taken by a symlink when mkdirat runs: another name is drawn. */
static void test_mkdtemp_name_taken(void **state)
{
	struct fx *f = *state;
	char name[64], victim[512], path[700];
	struct stat sb;
	int dfd, fd;

	fd = mkdtemp_planted(f, PLANT_BEFORE, victim, sizeof(victim), &dfd, name, sizeof(name));
	assert_true(fd >= 0);
	assert_int_equal(plant_calls, 2);   /* the planted name was refused, a second one drawn */
	assert_int_equal(strlen(name), 3 + SHLOG_TMP_HEX + 4);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(sb.st_uid, geteuid());
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode), 1);
	close(fd);
	close(dfd);
	victim_untouched(victim, geteuid(), 0755);
}

/* A symlink swapped in between mkdirat and the open: refused, nothing followed. */
static void test_mkdtemp_swapped(void **state)
{
	struct fx *f = *state;
	char name[64], victim[512];
	int dfd, fd;

	fd = mkdtemp_planted(f, PLANT_AFTER, victim, sizeof(victim), &dfd, name, sizeof(name));
	assert_int_equal(fd, -EUCLEAN);
	close(dfd);
	victim_untouched(victim, geteuid(), 0755);
}

/* The user of the reported attack: exchanges a symlink with every compaction name it sees, and back. */
struct attack {
	int tdfd;
	atomic_int stop;
	atomic_uint swaps;
};

/* Attacker thread: a renameat2(RENAME_EXCHANGE) loop on the topic directory. */
static void *attack_main(void *arg)
{
	struct attack *a = arg;

	while (!atomic_load(&a->stop)) {
		int fd = openat(a->tdfd, ".", O_RDONLY | O_DIRECTORY);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		if (!d)
			break;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, ".compact-0", 10))
				continue;
			if (renameat2(a->tdfd, de->d_name, a->tdfd, "evil", RENAME_EXCHANGE) == 0) {
				atomic_fetch_add(&a->swaps, 1);
				renameat2(a->tdfd, de->d_name, a->tdfd, "evil", RENAME_EXCHANGE);
			}
		}
		closedir(d);
	}
	return NULL;
}

/*
 * The reported attack: the partition belongs to another user who swaps a
 * symlink to a root-owned directory in and out under compaction's
 * temporary name while root compacts again and again.  The victim never
 * changes owner, mode or contents, and nothing is given to the user.
 */
static void test_compact_exchange_race(void **state)
{
	struct fx *f = *state;
	struct attack a = { 0 };
	char victim[512], tdir[512], part[512], evil[600];
	unsigned ok = 0, rounds = 150 * th_trial_scale();
	pthread_t th;
	struct stat sb;

	write_base(f->dir);
	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	assert_int_equal(mkdir(victim, 0755), 0);
	assert_int_equal(chmod(victim, 0755), 0);
	snprintf(tdir, sizeof(tdir), "%s/c", f->dir);
	snprintf(part, sizeof(part), "%s/c/0", f->dir);
	snprintf(evil, sizeof(evil), "%s/evil", tdir);
	assert_int_equal(symlink(victim, evil), 0);
	a.tdfd = open(tdir, O_RDONLY | O_DIRECTORY);
	assert_true(a.tdfd >= 0);
	assert_int_equal(pthread_create(&th, NULL, attack_main, &a), 0);
	for (unsigned i = 0; i < rounds; i++) {
		if (geteuid() == 0 && lstat(part, &sb) == 0 && S_ISDIR(sb.st_mode))
			chown(part, 65534, 65534);   /* the partition "belongs" to the attacker */
		ok += run_compact(f->dir) == 0;
		victim_untouched(victim, geteuid(), 0755);
		if (lstat(part, &sb) == 0 && S_ISDIR(sb.st_mode) && sb.st_uid != geteuid() && sb.st_uid != 65534)
			fail_msg("round %u: the partition changed hands to uid %u", i, (unsigned)sb.st_uid);
	}
	atomic_store(&a.stop, 1);
	pthread_join(th, NULL);
	close(a.tdfd);
	print_message("%u compactions under attack: %u succeeded, %u swaps by the attacker\n", rounds, ok,
		      atomic_load(&a.swaps));
	victim_untouched(victim, geteuid(), 0755);
	assert_true(atomic_load(&a.swaps) > 0 && ok > 0);   /* the race was run, and compaction still works */
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_compact_no_chown),
		TH_TEST(test_compact_planted_names),
		TH_TEST(test_mkdtemp_name_taken),
		TH_TEST(test_mkdtemp_swapped),
		TH_TEST(test_compact_eio_once),
		TH_TEST(test_compact_exchange_race),
		TH_TEST(test_compact_crash_every_call),
		TH_TEST(test_compact_torn_every_write),
		TH_TEST(test_compact_powercut_every_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
