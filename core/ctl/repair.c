/*
 * repair.c — `shlogctl repair DATADIR [TOPIC [PART]]`: verify each
 * partition, back up the files repair may cut, let the engine cut the log
 * at the first bad span (shlog_part_repair), and verify again
 * (docs/SHLOGCTL.md).  Needs the data dir unmounted (its lock free).
 *
 * Backups.  Everything is relative to directory fds: the backup root is a
 * fresh DATADIR/.repair-<UTC time>-<16 random hex> made exclusively and
 * checked (sl_mkdtemp), the topic and partition directories in
 * it are ours (0700), every file is created O_CREAT|O_EXCL and never
 * through a symlink, and sources are opened with sl_io_open (a FIFO or
 * symlink planted in a partition is refused, not waited on or followed).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "ctl_i.h"
#include "io_i.h"
#include "lock_i.h"
#include "names_i.h"
#include "util_i.h"

/* ================================================================ */
/* Backups                                                           */
/* ================================================================ */

/* The backup of one repair command, made when the first partition needs it. */
struct backup {
	int dfd;              /* the data dir */
	int bfd;              /* the backup root, -1 until made */
	char name[96];        /* its name in the data dir */
	char stamp[32];
};

/* What copy_one() needs: source and destination partition dirs. */
struct bcopy {
	int src, dst;
	uint64_t first_seg, bytes;
};

/* Copy regular file @name from dir @src to a new file in dir @dst, fsynced; bytes added to *bytes. */
static int copy_file_at(int src, int dst, const char *name, uint64_t *bytes)
{
	char buf[65536];
	int in = sl_io_open(src, name, O_RDONLY, 0, S_IFREG), out, rc = 0;
	off_t off = 0;

	if (in < 0)
		return in;
	out = sl_io_open(dst, name, O_WRONLY | O_CREAT | O_EXCL, 0600, S_IFREG);
	if (out < 0) {
		sl_io.close(in);
		return out;
	}
	for (;;) {
		ssize_t n = sl_io.pread(in, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = sl_io_pwrite_full(out, buf, (size_t)n, off);
		if (rc < 0)
			break;
		off += n;
		*bytes += (uint64_t)n;
	}
	if (rc == 0 && sl_io.fsync(out) < 0)
		rc = -errno;
	sl_io.close(in);
	sl_io.close(out);
	return rc;
}

/* Copy a file repair may cut: segments from first_seg on, anchor, keys (sl_io_dir_foreach callback). */
static int copy_one(const char *name, unsigned char d_type, void *arg)
{
	struct bcopy *c = arg;
	uint64_t base;

	(void)d_type;
	if (!(sl_name_parse_segment(name, &base) && base >= c->first_seg) && strcmp(name, SHLOG_ANCHOR_NAME) &&
	    strcmp(name, SHLOG_KEYS_NAME))
		return 0;
	return copy_file_at(c->src, c->dst, name, &c->bytes);
}

/* Close the open fds among @fd[0..n). */
static void close_fds(const int *fd, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fd[i] >= 0)
			sl_io.close(fd[i]);
}

/* Make (or, for a topic already backed up in this run, open) directory @name in our dir @dfd. */
static int backup_subdir(int dfd, const char *name, int may_exist)
{
	if (sl_io.mkdirat(dfd, name, 0700) < 0 && !(may_exist && errno == EEXIST))
		return -errno;
	return sl_io_open(dfd, name, O_RDONLY, 0, S_IFDIR);
}

/* Make the backup root on first use. */
static int backup_root(struct backup *b)
{
	char prefix[64];
	int rc;

	if (b->bfd >= 0)
		return 0;
	if ((rc = sl_name_repair_prefix(prefix, sizeof(prefix), b->stamp)) < 0)
		return rc;
	b->bfd = sl_mkdtemp(b->dfd, prefix, "", b->name, sizeof(b->name));
	return b->bfd < 0 ? b->bfd : 0;
}

/* Copy what repair may cut of @topic/@num into the backup (made on first use). */
static int backup_part(struct backup *b, const char *topic, uint32_t num, uint64_t first_seg, uint64_t *bytes)
{
	struct bcopy c = { .src = -1, .dst = -1, .first_seg = first_seg };
	char pname[SHLOG_PART_NAME_CAP];
	int btfd = -1, stfd = -1, rc = backup_root(b);

	if (rc == 0)
		rc = sl_name_part(pname, sizeof(pname), num);
	if (rc == 0)
		rc = btfd = backup_subdir(b->bfd, topic, 1);
	if (rc >= 0)
		rc = c.dst = backup_subdir(btfd, pname, 0);
	if (rc >= 0)
		rc = stfd = sl_io_open(b->dfd, topic, O_RDONLY, 0, S_IFDIR);
	if (rc >= 0)
		rc = c.src = sl_io_open(stfd, pname, O_RDONLY, 0, S_IFDIR);
	if (rc >= 0)
		rc = sl_io_dir_foreach(c.src, copy_one, &c);
	if (rc == 0 && (sl_io.fsync(c.dst) < 0 || sl_io.fsync(btfd) < 0 || sl_io.fsync(b->bfd) < 0))
		rc = -errno;
	close_fds((int[]){ c.src, c.dst, stfd, btfd }, 4);
	*bytes = c.bytes;
	return rc < 0 ? rc : 0;
}

/* ================================================================ */
/* Repairing                                                         */
/* ================================================================ */

/* Let the engine cut @topic/@num, then verify it again; 1 repaired, or an exit status << 8. */
static int repair_cut(const char *dir, const char *topic, uint32_t num)
{
	struct shlog_verify_stats after;
	struct shlog_repair_result r;
	struct shlog_options o;
	int rc;

	shlog_options_init(&o);
	o.log = ctl_engine_log;
	rc = shlog_part_repair(dir, topic, num, &o, &r);
	if (rc == -EBUSY) {
		ctl_busy(dir, "repair");
		return CTL_EXIT_DAMAGED << 8;
	}
	if (rc < 0) {
		ctl_warn("%s/%u: repair failed: %s", topic, num, shlog_strerror(rc));
		return CTL_EXIT_DAMAGED << 8;
	}
	printf("%s/%u: repaired: dropped %" PRIu64 " bytes (%" PRIu64 " messages); the log now ends at message %"
	       PRIu64 " (offset %" PRIu64 ")\n", topic, num, r.bytes_dropped, r.msgs_dropped, r.end_seq, r.end_off);
	if (shlog_part_verify(dir, topic, num, NULL, NULL, NULL, &after) == 0 && after.damage) {
		ctl_warn("%s/%u: still damaged after repair (%" PRIu64 " problems)", topic, num, after.damage);
		return CTL_EXIT_DAMAGED << 8;
	}
	return 1;
}

/* Verify, back up and repair one partition; 0 clean, 1 repaired, or an exit status << 8. */
static int repair_one(const char *dir, struct backup *b, const char *topic, uint32_t num)
{
	struct ctl_verify v = { .quiet = 1 };
	struct shlog_verify_stats st;
	uint64_t bytes = 0;
	int rc;

	rc = ctl_verify_one(dir, topic, num, &v, &st);
	if (rc < 0)
		return CTL_EXIT_USAGE << 8;
	if (st.damage == 0 && st.first_bad_seg == UINT64_MAX) {
		printf("%s/%u: clean, nothing to cut\n", topic, num);
		return 0;
	}
	rc = backup_part(b, topic, num, st.first_bad_seg, &bytes);
	if (rc < 0) {
		ctl_warn("%s/%u: backup to %s/%s failed (%s); not repairing", topic, num, dir,
			 b->bfd >= 0 ? b->name : ".repair-*", shlog_strerror(rc));
		return CTL_EXIT_DAMAGED << 8;
	}
	printf("%s/%u: backed up %" PRIu64 " bytes (the files repair may cut) to %s/%s/%s/%u\n", topic, num, bytes,
	       dir, b->name, topic, num);
	return repair_cut(dir, topic, num);
}

/* Repair every selected partition and print the summary; the worst exit status. */
static int repair_all(const char *dir, struct backup *b, const struct ctl_sel *sel)
{
	time_t now = time(NULL);
	uint64_t fixed = 0;
	struct tm tm;
	int worst = 0;

	gmtime_r(&now, &tm);
	strftime(b->stamp, sizeof(b->stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (size_t i = 0; i < sel->parts.n; i++) {
		uint32_t num;
		int rc;
		shlog_part_name_parse(sel->parts.v[i], &num);
		rc = repair_one(dir, b, sel->topics.v[i], num);
		if (rc == 1)
			fixed++;
		else if ((rc >> 8) > worst)
			worst = rc >> 8;
	}
	printf("%zu partition%s checked, %" PRIu64 " repaired%s%s%s%s\n", sel->parts.n, sel->parts.n == 1 ? "" : "s",
	       fixed, fixed ? "; backup in " : "", fixed ? dir : "", fixed ? "/" : "", fixed ? b->name : "");
	return worst;
}

/* repair DATADIR [TOPIC [PART]] */
int ctl_cmd_repair(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct backup b = { .dfd = -1, .bfd = -1 };
	struct ctl_sel sel = { 0 };
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h')
			return ctl_usage(stdout), 0;
		return ctl_usage_err("repair: bad option");
	}
	if (argc - optind > 2)
		return ctl_usage_err("repair: too many arguments");
	b.dfd = ctl_open_datadir(dir);
	if (b.dfd < 0) {
		ctl_warn("%s: not a data directory: %s", dir, shlog_strerror(b.dfd));
		return CTL_EXIT_USAGE;
	}
	if (sl_lock_held(b.dfd) != 0) {
		ctl_busy(dir, "repair");
		sl_io.close(b.dfd);
		return CTL_EXIT_DAMAGED;
	}
	rc = ctl_select(dir, optind < argc ? argv[optind] : NULL, optind + 1 < argc ? argv[optind + 1] : NULL, &sel);
	if (rc == 0)
		rc = repair_all(dir, &b, &sel);
	ctl_select_free(&sel);
	if (b.bfd >= 0)
		sl_io.close(b.bfd);
	sl_io.close(b.dfd);
	return rc;
}
