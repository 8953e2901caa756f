/*
 * main.c — shlogfs command line, set-up and shutdown.
 *
 *   shlogfs [options] DATADIR MOUNTPOINT
 *
 * Everything that can fail (options, the data dir and its recovery, the
 * mount) happens before the daemon detaches, so errors reach the
 * terminal and the exit status.  The daemon forks before opening the
 * store (the engine starts threads, which fork() would not carry over):
 * the parent waits on a pipe until the child has mounted, then exits
 * with the child's verdict.  This is what fuse_daemonize() does, moved
 * earlier.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "shlogfs.h"
#include "budget.h"
#include "follow.h"
#include "ctl.h"
#include "handle.h"
#include "kinds.h"
#include "ll.h"
#include "log.h"
#include "restore.h"
#include "node.h"
#include "pcache.h"
#include "text.h"
#include "wb.h"
#if SHLOGFS_HAVE_KAFKA
#include "be_kafka.h"
#endif

/* ==== options ========================================================= */

/** Everything the command line sets. */
struct shlogfs_cli {
	char *datadir;
	int nonopts;
	int show_help, show_version;
	int verbose;               /**< -v: say on stdout what was mounted */
	int allow_other, default_permissions, writeback;
	uint32_t retrieve_ms;       /**< -o retrieve_ms (with writeback) */
	uint32_t partitions;
	uint64_t max_held, max_held_per_user;
	uint32_t max_topics_per_user, max_parts_per_user;
	uint32_t max_follow, max_follow_per_user;
	struct shlog_options so;
	int kafka;                 /**< -o backend=kafka */
	const char *kafka_opt;     /**< the first Kafka option taken (for errors) */
#if SHLOGFS_HAVE_KAFKA
	struct shlogfs_kafka_conf *kconf; /**< brokers=, kafka.NAME=...: be_kafka.c's */
#endif
};

enum {
	KEY_HELP, KEY_VERSION, KEY_VERBOSE, KEY_STRIDE, KEY_FLUSH_MS, KEY_MAX_BUFFER,
	KEY_MAX_BUFFER_BYTES, KEY_MAX_MESSAGE, KEY_SEGMENT_SIZE,
	KEY_MAX_SEGMENTS, KEY_RETENTION, KEY_SYNC, KEY_SYNC_MS,
	KEY_FLUSH_THREADS, KEY_PARTITIONS, KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS, KEY_RO, KEY_MAX_HELD, KEY_MAX_HELD_PER_USER,
	KEY_MAX_TOPICS_PER_USER, KEY_MAX_PARTS_PER_USER,
	KEY_MAX_FDS, KEY_FD_RESERVE, KEY_MAX_PARTITIONS,
	KEY_MAX_FOLLOW, KEY_MAX_FOLLOW_PER_USER, KEY_BACKEND, KEY_RETRIEVE_MS,
};

#define SHLOGFS_OPT(t, field, v) { t, offsetof(struct shlogfs_cli, field), v }

static const struct fuse_opt shlogfs_opt_table[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	/* mount(8) passes its own -v to a helper in /sbin (mount.fuse.shlogfs) */
	FUSE_OPT_KEY("-v", KEY_VERBOSE),
	FUSE_OPT_KEY("--verbose", KEY_VERBOSE),
	FUSE_OPT_KEY("stride=", KEY_STRIDE),
	FUSE_OPT_KEY("flush_ms=", KEY_FLUSH_MS),
	FUSE_OPT_KEY("max_buffer=", KEY_MAX_BUFFER),
	FUSE_OPT_KEY("max_buffer_bytes=", KEY_MAX_BUFFER_BYTES),
	FUSE_OPT_KEY("max_message=", KEY_MAX_MESSAGE),
	FUSE_OPT_KEY("segment_size=", KEY_SEGMENT_SIZE),
	FUSE_OPT_KEY("max_segments=", KEY_MAX_SEGMENTS),
	FUSE_OPT_KEY("retention=", KEY_RETENTION),
	FUSE_OPT_KEY("sync=", KEY_SYNC),
	FUSE_OPT_KEY("sync_ms=", KEY_SYNC_MS),
	FUSE_OPT_KEY("flush_threads=", KEY_FLUSH_THREADS),
	FUSE_OPT_KEY("partitions=", KEY_PARTITIONS),
	FUSE_OPT_KEY("max_held=", KEY_MAX_HELD),
	FUSE_OPT_KEY("max_held_per_user=", KEY_MAX_HELD_PER_USER),
	FUSE_OPT_KEY("max_topics_per_user=", KEY_MAX_TOPICS_PER_USER),
	FUSE_OPT_KEY("max_parts_per_user=", KEY_MAX_PARTS_PER_USER),
	FUSE_OPT_KEY("max_fds=", KEY_MAX_FDS),
	FUSE_OPT_KEY("fd_reserve=", KEY_FD_RESERVE),
	FUSE_OPT_KEY("max_partitions=", KEY_MAX_PARTITIONS),
	FUSE_OPT_KEY("max_follow=", KEY_MAX_FOLLOW),
	FUSE_OPT_KEY("max_follow_per_user=", KEY_MAX_FOLLOW_PER_USER),
	FUSE_OPT_KEY("backend=", KEY_BACKEND),
	FUSE_OPT_KEY("retrieve_ms=", KEY_RETRIEVE_MS),
	SHLOGFS_OPT("repair", so.repair, 1),
	SHLOGFS_OPT("writeback", writeback, 1),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_KEY("ro", KEY_RO),
	/* fstab-only words (mount(8) usually strips them) */
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

/* Print the usage text (then libfuse's). */
static void shlogfs_usage(const char *prog)
{
	printf("usage: %s [options] DATADIR MOUNTPOINT\n\n"
"Mounts the shlog data directory DATADIR (created if missing) on MOUNTPOINT.\n"
"Unmount with: fusermount3 -u MOUNTPOINT\n\n"
"shlogfs options (-o name=value):\n"
"    -o partitions=N        partitions of a topic made by mkdir (1); 0: none\n"
"                           until mkdir TOPIC/N (restore with cp -a)\n"
"    -o stride=N            messages per index entry and flush trigger (1000)\n"
"    -o flush_ms=N          longest wait of a message for its flush (20)\n"
"    -o max_buffer=N        buffered messages per partition before writers wait (5000)\n"
"    -o max_buffer_bytes=SIZE  buffered bytes per partition before writers wait (64M)\n"
"    -o max_message=SIZE    longest message (1M)\n"
"    -o segment_size=SIZE   roll a segment file past this size (1G)\n"
"    -o max_segments=N      segments kept per partition, 0 = no limit (0)\n"
"    -o retention=wrap|halt at max_segments: delete the oldest, or refuse\n"
"                           writes with ENOSPC (halt)\n"
"    -o sync=none|interval|always  when data is made durable (none)\n"
"    -o sync_ms=N           interval of sync=interval (1000)\n"
"    -o flush_threads=N     flush worker threads (2)\n"
"    -o repair              truncate corrupt data at open instead of refusing\n"
"    -o writeback           partition logs behind the kernel's page cache: far\n"
"                           faster small appends; lines reach the log at close,\n"
"                           fsync, or as the kernel's cache is retrieved\n"
"                           (see shlogfs(8))\n"
"    -o retrieve_ms=N       with writeback: ask the kernel for cached lines\n"
"                           every N ms, 0 = only at its write-back (20)\n"
"    -o max_held=SIZE       memory open files may hold for all users but root:\n"
"                           unfinished lines, key values, snapshots (64M)\n"
"    -o max_held_per_user=SIZE  the same for one user (16M); past either:\n"
"                           ENOBUFS at the write or open\n"
"    -o max_topics_per_user=N  topics one user may own, 0 = no limit (1024)\n"
"    -o max_parts_per_user=N   partitions one user may own, 0 = no limit (4096);\n"
"                           past either: EDQUOT at mkdir (root is exempt)\n"
"    -o max_follow=N        reads waiting in follow files, all users but root,\n"
"                           0 = no limit (8192)\n"
"    -o max_follow_per_user=N  the same for one user (1024); past either:\n"
"                           ENOBUFS at the read\n"
"    -o max_partitions=N    partitions the store may hold (100000); past it\n"
"                           ENOSPC at mkdir\n"
"    -o max_fds=N           fds the engine keeps open, 0 = RLIMIT_NOFILE less\n"
"                           fd_reserve (0); idle partitions are closed to stay\n"
"                           within it, a quarter is for topics (ENOSPC past it)\n"
"    -o fd_reserve=N        fds left for the rest, 0 = 64 or 1/8 of the limit (0)\n"
"    -o ro                  mount read-only; the data dir is not written\n"
"    -o backend=local|kafka the store: this machine's engine in DATADIR (local),\n"
"                           or a Kafka cluster, DATADIR then holding only its\n"
"                           cache (byte indexes); see shlogfs(8), \"KAFKA\"\n"
"    -o brokers=HOST:PORT[+HOST:PORT...]  the cluster's bootstrap brokers\n"
"    -o kafka.NAME=VALUE    a librdkafka setting (security.protocol, sasl.*,\n"
"                           ssl.*, client.id, acks, linger.ms, compression.type)\n"
"    -o kafka_config=FILE   more of them, a NAME=VALUE per line\n"
"    -o replication=N       replication factor of a topic made by mkdir\n"
"    -v, --verbose          once mounted, print \"DATADIR mounted on MOUNTPOINT\"\n"
"                           (mount -v passes it to a mount.fuse.shlogfs helper)\n"
"    SIZE takes a suffix: k, M, G, T (powers of 1024)\n\n",
	       prog);
	printf("FUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/*
 * Parse the value of "name=value" in [min, max]: a SIZE (shlog_size_parse:
 * digits, k/M/G/T) if @p size, else an N (shlog_u64_parse); 0 or -1.
 */
static int shlogfs_opt_number(const char *arg, int size, uint64_t min,
			      uint64_t max, uint64_t *out)
{
	const char *v = strchr(arg, '=') + 1;
	uint64_t n;
	int rc = size ? shlog_size_parse(v, &n) : shlog_u64_parse(v, &n);

	if (rc || n < min || n > max) {
		fprintf(stderr, "shlogfs: bad %s in -o %s (from %llu to %llu%s)\n",
			size ? "size" : "number", arg, (unsigned long long)min,
			(unsigned long long)max,
			size ? " bytes; suffixes k, M, G, T" : "");
		return -1;
	}
	*out = n;
	return 0;
}

/* Parse one word of a choice from "name=value"; the index or -1. */
static int shlogfs_opt_choice(const char *arg, const char *const *words)
{
	const char *v = strchr(arg, '=') + 1;

	for (int i = 0; words[i]; i++)
		if (strcmp(v, words[i]) == 0)
			return i;
	fprintf(stderr, "shlogfs: bad value in -o %s\n", arg);
	return -1;
}

/**
 * A numeric option: where its value goes and its range.  A field of
 * struct shlog_options takes the library's range (shlog_option_range), so
 * a value the mount accepts is one the engine accepts; the daemon's own
 * options (partitions, max_held*, max_*_per_user) carry theirs here.
 */
struct shlogfs_optnum {
	int key;
	enum { SHLOGFS_U32, SHLOGFS_SIZE, SHLOGFS_SIZE32 } type;
	size_t off;                /**< of the value in struct shlogfs_cli */
	const char *field;         /**< its field of struct shlog_options, or NULL */
	uint64_t min, max;         /**< the daemon's own range; with @c field,
				        min alone: a stricter floor (0: none) */
};

/* One of the daemon's own numeric options, in [lo, hi]. */
#define SHLOGFS_NUM(k, t, field, lo, hi) \
	{ k, t, offsetof(struct shlogfs_cli, field), NULL, lo, hi }
/* A numeric field of struct shlog_options, in the library's range. */
#define SHLOGFS_SO(k, t, f) \
	{ k, t, offsetof(struct shlogfs_cli, so.f), #f, 0, 0 }
/* The same, with a minimum of the daemon's above the library's. */
#define SHLOGFS_SO_FLOOR(k, t, f, lo) \
	{ k, t, offsetof(struct shlogfs_cli, so.f), #f, lo, 0 }

/* The numeric options and their ranges. */
static const struct shlogfs_optnum shlogfs_optnums[] = {
	SHLOGFS_SO(KEY_STRIDE, SHLOGFS_U32, stride),
	SHLOGFS_SO(KEY_FLUSH_MS, SHLOGFS_U32, flush_interval_ms),
	SHLOGFS_SO(KEY_MAX_BUFFER, SHLOGFS_U32, max_buffer),
	SHLOGFS_SO(KEY_MAX_BUFFER_BYTES, SHLOGFS_SIZE, max_buffer_bytes),
	SHLOGFS_SO(KEY_MAX_MESSAGE, SHLOGFS_SIZE32, max_message),
	/* the daemon's floor: a segment smaller than a page is a mistake on a
	 * command line (the library itself accepts 1 byte) */
	SHLOGFS_SO_FLOOR(KEY_SEGMENT_SIZE, SHLOGFS_SIZE, segment_bytes, 4096),
	SHLOGFS_SO(KEY_MAX_SEGMENTS, SHLOGFS_U32, max_segments),
	SHLOGFS_SO(KEY_SYNC_MS, SHLOGFS_U32, sync_interval_ms),
	SHLOGFS_SO(KEY_FLUSH_THREADS, SHLOGFS_U32, flush_threads),
	SHLOGFS_NUM(KEY_PARTITIONS, SHLOGFS_U32, partitions, 0, 65536),
	SHLOGFS_NUM(KEY_MAX_HELD, SHLOGFS_SIZE, max_held, 4096, UINT64_MAX >> 2),
	SHLOGFS_NUM(KEY_MAX_HELD_PER_USER, SHLOGFS_SIZE, max_held_per_user, 4096,
		    UINT64_MAX >> 2),
	SHLOGFS_NUM(KEY_MAX_TOPICS_PER_USER, SHLOGFS_U32, max_topics_per_user, 0,
		    UINT32_MAX),
	SHLOGFS_NUM(KEY_MAX_PARTS_PER_USER, SHLOGFS_U32, max_parts_per_user, 0,
		    UINT32_MAX),
	SHLOGFS_NUM(KEY_MAX_FOLLOW, SHLOGFS_U32, max_follow, 0, UINT32_MAX),
	SHLOGFS_NUM(KEY_MAX_FOLLOW_PER_USER, SHLOGFS_U32, max_follow_per_user,
		    0, UINT32_MAX),
	SHLOGFS_NUM(KEY_RETRIEVE_MS, SHLOGFS_U32, retrieve_ms, 0, 60000),
	SHLOGFS_SO(KEY_MAX_FDS, SHLOGFS_U32, max_fds),
	SHLOGFS_SO(KEY_FD_RESERVE, SHLOGFS_U32, fd_reserve),
	SHLOGFS_SO(KEY_MAX_PARTITIONS, SHLOGFS_U32, max_partitions),
};

/* The range of numeric option @p d (a 32-bit one's within 32 bits); 0 or -1. */
static int shlogfs_optnum_range(const struct shlogfs_optnum *d, uint64_t *min,
				uint64_t *max)
{
	*min = d->min;
	*max = d->max;
	if (d->field && shlog_option_range(d->field, min, max)) {
		fprintf(stderr, "shlogfs: the library has no option %s\n",
			d->field);
		return -1;
	}
	if (*min < d->min)
		*min = d->min;
	if (d->type != SHLOGFS_SIZE && *max > UINT32_MAX)
		*max = UINT32_MAX;
	return 0;
}

/* Parse numeric option @p d from "name=value" into @p c; 0 or -1. */
static int shlogfs_opt_num(struct shlogfs_cli *c, const char *arg,
			   const struct shlogfs_optnum *d)
{
	void *field = (char *)c + d->off;
	uint64_t n, min, max;

	if (shlogfs_optnum_range(d, &min, &max) ||
	    shlogfs_opt_number(arg, d->type != SHLOGFS_U32, min, max, &n))
		return -1;
	if (d->type == SHLOGFS_SIZE)
		*(uint64_t *)field = n;
	else
		*(uint32_t *)field = (uint32_t)n;
	return 0;
}

/* Our options with a value; -1 on a bad value, 1 if @p key is not one. */
static int shlogfs_opt_value(struct shlogfs_cli *c, const char *arg, int key)
{
	static const char *const retention[] = { "halt", "wrap", NULL };
	static const char *const sync[] = { "none", "interval", "always", NULL };
	int i;

	if (key == KEY_RETENTION) {
		if ((i = shlogfs_opt_choice(arg, retention)) < 0)
			return -1;
		c->so.retention = i ? SHLOG_RETAIN_WRAP : SHLOG_RETAIN_HALT;
		return 0;
	}
	if (key == KEY_SYNC) {
		if ((i = shlogfs_opt_choice(arg, sync)) < 0)
			return -1;
		c->so.sync = (enum shlog_sync)i;
		return 0;
	}
	for (size_t k = 0; k < sizeof shlogfs_optnums / sizeof shlogfs_optnums[0];
	     k++)
		if (shlogfs_optnums[k].key == key)
			return shlogfs_opt_num(c, arg, &shlogfs_optnums[k]);
	return 1;
}

/* backend=: which store; 0 or -1. */
static int shlogfs_opt_backend(struct shlogfs_cli *c, const char *arg)
{
	static const char *const backends[] = { "local", "kafka", NULL };
	int i = shlogfs_opt_choice(arg, backends);

	if (i < 0)
		return -1;
	c->kafka = i == 1;
#if !SHLOGFS_HAVE_KAFKA
	if (c->kafka) {
		fprintf(stderr, "shlogfs: -o backend=kafka: this shlogfs was built "
			"without librdkafka (install librdkafka-dev and rebuild)\n");
		return -1;
	}
#endif
	return 0;
}

/* An option not ours: the Kafka backend's (0), libfuse's (1), or bad (-1). */
static int shlogfs_opt_kafka(struct shlogfs_cli *c, const char *arg)
{
#if SHLOGFS_HAVE_KAFKA
	char err[512] = "";
	int rc;

	if (!c->kconf && shlogfs_kafka_conf_new(&c->kconf) < 0) {
		fprintf(stderr, "shlogfs: out of memory\n");
		return -1;
	}
	rc = shlogfs_kafka_conf_opt(c->kconf, arg, err, sizeof err);
	if (rc == -ENOENT)
		return 1;
	if (rc < 0) {
		fprintf(stderr, "shlogfs: -o %s: %s\n", arg, err[0] ? err : shlog_strerror(rc));
		return -1;
	}
	if (!c->kafka_opt)
		c->kafka_opt = arg[0] == 'k' ? "kafka.*" : "brokers=";
	return 0;
#else
	(void)c;
	(void)arg;
	return 1;
#endif
}

/* fuse_opt_parse callback: keys, DATADIR, and what libfuse should see. */
static int shlogfs_opt_proc(void *data, const char *arg, int key,
			    struct fuse_args *outargs)
{
	struct shlogfs_cli *c = data;
	(void)outargs;

	switch (key) {
	case KEY_HELP:
		c->show_help = 1;
		return 0;
	case KEY_VERSION:
		c->show_version = 1;
		return 0;
	case KEY_VERBOSE:
		c->verbose = 1;
		return 0;
	case KEY_ALLOW_OTHER:
		c->allow_other = 1;
		return 1;
	case KEY_DEFAULT_PERMISSIONS:
		c->default_permissions = 1;
		return 1;
	case KEY_RO:
		c->so.read_only = 1; /* and the kernel refuses writes */
		return 1;
	case KEY_BACKEND:
		return shlogfs_opt_backend(c, arg);
	case FUSE_OPT_KEY_NONOPT:
		if (c->nonopts++ == 0) {
			c->datadir = strdup(arg);
			return c->datadir ? 0 : -1;
		}
		return 1; /* MOUNTPOINT: fuse_parse_cmdline takes it */
	case FUSE_OPT_KEY_OPT:
		if (strncmp(arg, "x-systemd.", 10) == 0 ||
		    strncmp(arg, "comment=", 8) == 0)
			return 0;
		return shlogfs_opt_kafka(c, arg);
	}
	return shlogfs_opt_value(c, arg, key) ? -1 : 0;
}

/* Add "-o fsname=DATADIR,subtype=shlogfs[,default_permissions]". */
static int shlogfs_add_mount_opts(struct fuse_args *args,
				  const struct shlogfs_cli *c,
				  const char *datadir)
{
	char *opts = NULL, *fsname;
	int rc = -1;

	if (asprintf(&fsname, "fsname=%s", datadir) < 0)
		return -1;
	if (fuse_opt_add_opt_escaped(&opts, fsname) == 0 &&
	    fuse_opt_add_opt(&opts, "subtype=shlogfs") == 0 &&
	    (!c->allow_other || c->default_permissions ||
	     fuse_opt_add_opt(&opts, "default_permissions") == 0) &&
	    fuse_opt_add_arg(args, "-o") == 0 &&
	    fuse_opt_add_arg(args, opts) == 0)
		rc = 0;
	free(fsname);
	free(opts);
	return rc;
}

/* Make DATADIR if missing (one level, like mkdir) and make it absolute. */
static char *shlogfs_resolve_datadir(const char *dir)
{
	char *abs = realpath(dir, NULL);

	if (!abs && errno == ENOENT && mkdir(dir, 0700) == 0)   /* the daemon's */
		abs = realpath(dir, NULL);
	if (!abs)
		fprintf(stderr, "shlogfs: data directory %s: %s\n", dir,
			strerror(errno));
	return abs;
}

/* ==== detaching ======================================================= */

/* Fork; the parent waits for the child's verdict and exits with it. */
static int shlogfs_detach_start(int *wfd)
{
	int fds[2];
	char verdict = 1;

	if (pipe(fds) < 0) {
		perror("shlogfs: pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("shlogfs: fork");
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &verdict, 1) != 1)
			verdict = 1;
		if (verdict)
			waitpid(pid, NULL, 0);
		_exit(verdict);
	}
	close(fds[0]);
	*wfd = fds[1];
	return setsid() < 0 ? -1 : 0;
}

/* The child is mounted: leave the terminal and release the parent. */
static void shlogfs_detach_done(int wfd)
{
	char ok = 0;
	int fd;

	if (chdir("/") < 0)
		shlogfs_log(LOG_WARNING, "chdir /: %s", strerror(errno));
	shlogfs_log_to_syslog();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(wfd, &ok, 1) != 1)
		shlogfs_log(LOG_WARNING, "cannot signal the parent");
	close(wfd);
}

/* ==== memory ========================================================== */

/*
 * Large buffers (line buffers, read-aheads, status texts) come and go
 * with handles.  glibc raises its mmap threshold each time such a
 * buffer is freed, after which they come from the heap and what is
 * freed stays in the process: RSS would follow the most ever held, not
 * what is held (budget.c).  A fixed threshold keeps every buffer from
 * 128 KiB up in its own mapping, returned to the system when freed.
 */
#define SHLOGFS_MMAP_THRESHOLD (128 * 1024)

/* Make large buffers go back to the system when freed. */
static void shlogfs_malloc_setup(void)
{
	if (mallopt(M_MMAP_THRESHOLD, SHLOGFS_MMAP_THRESHOLD) != 1)
		shlogfs_log(LOG_WARNING, "mallopt(M_MMAP_THRESHOLD) failed");
}

/* ==== shutdown from any state ======================================== */

/*
 * The session loop's exit cancels its worker threads (pthread_cancel),
 * and glibc loads libgcc_s for that at the first cancel: with no fd left
 * (a store that ran the daemon out of them) the load fails, glibc aborts
 * ("libgcc_s.so.1 must be installed for pthread_cancel to work") and the
 * mount is left dead.  So libgcc_s is loaded at start, and a few fds are
 * held in reserve and given back when the loop ends, for the unmount and
 * the store's final flush.
 */
#define SHLOGFS_FD_RESERVE 8

static int shlogfs_fd_reserve[SHLOGFS_FD_RESERVE];
static int shlogfs_fd_reserved; /* entries of shlogfs_fd_reserve set */

/* Load libgcc_s now and put fds aside for the shutdown. */
static void shlogfs_shutdown_prepare(void)
{
	if (!dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE))
		shlogfs_log(LOG_WARNING, "cannot load libgcc_s.so.1 (%s): a "
			    "shutdown without free fds may abort", dlerror());
	while (shlogfs_fd_reserved < SHLOGFS_FD_RESERVE)
		shlogfs_fd_reserve[shlogfs_fd_reserved++] =
			open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* The loop has ended: give the reserved fds back for what follows. */
static void shlogfs_shutdown_begin(void)
{
	while (shlogfs_fd_reserved > 0) {
		int fd = shlogfs_fd_reserve[--shlogfs_fd_reserved];
		if (fd >= 0)
			close(fd);
	}
}

/* ==== main ============================================================ */

/* Open a Kafka cluster with DATADIR as its cache; 0 or -errno (logged). */
static int shlogfs_kafka_store_open(struct shlogfs *fs, struct shlogfs_cli *c)
{
#if SHLOGFS_HAVE_KAFKA
	char err[512] = "";
	int rc;

	if (!c->kconf && shlogfs_kafka_conf_new(&c->kconf) < 0)
		return -ENOMEM;
	shlogfs_backend_set(&shlogfs_backend_kafka);
	rc = shlogfs_kafka_open(fs->datadir, c->kconf, &c->so, &fs->store, err, sizeof err);
	if (rc < 0)
		shlogfs_log(LOG_ERR, "cannot mount the Kafka cluster (cache %s): %s",
			    fs->datadir, err[0] ? err : shlog_strerror(rc));
	return rc;
#else
	(void)fs;
	(void)c;
	return -EOPNOTSUPP;
#endif
}

/* Open the local engine on DATADIR; 0 or -errno (logged). */
static int shlogfs_local_store_open(struct shlogfs *fs, struct shlogfs_cli *c)
{
	int rc = shlogfs_local_open(fs->datadir, &c->so, &fs->store);

	if (rc == -EBUSY)
		shlogfs_log(LOG_ERR, "%s is in use by another shlogfs",
			    fs->datadir);
	else if (rc == -EUCLEAN)
		shlogfs_log(LOG_ERR, "%s holds corrupt data (see above); "
			    "mount with -o repair to truncate it", fs->datadir);
	else if (rc < 0)
		shlogfs_log(LOG_ERR, "cannot open %s: %s", fs->datadir,
			    shlog_strerror(rc));
	return rc;
}

/* Open the store with a clear message for each way it fails. */
static int shlogfs_store_open(struct shlogfs *fs, struct shlogfs_cli *c)
{
	int rc;

	c->so.log = shlogfs_log_engine;
	c->so.set_aside = 1;   /* a damaged topic is refused (EUCLEAN), the rest served */
	c->so.log_arg = fs;
	rc = c->kafka ? shlogfs_kafka_store_open(fs, c) : shlogfs_local_store_open(fs, c);
	if (rc < 0)
		return rc;
	fs->max_message = shlogfs_store_options(fs->store)->max_message;
	return 0;
}

/* Serve requests until unmount or a signal; 0 or -1. */
static int shlogfs_serve(struct fuse_session *se,
			 const struct fuse_cmdline_opts *copts)
{
	int rc;

	if (copts->singlethread) {
		rc = fuse_session_loop(se);
	} else {
		/* "unset" (UINT_MAX) would draw a warning from libfuse 3.14;
		 * its largest value also means idle threads are kept */
		struct fuse_loop_config cfg = {
			.clone_fd = copts->clone_fd,
			.max_idle_threads = copts->max_idle_threads > 100000 ?
					    100000 : copts->max_idle_threads,
		};
		rc = fuse_session_loop_mt(se, &cfg);
	}
	if (rc < 0)
		shlogfs_log(LOG_ERR, "session loop: %s", strerror(-rc));
	return rc < 0 ? -1 : 0;
}

/* ==== main ============================================================ */

/* The operations table: each entry point finds its node's kind (ll.h). */
static const struct fuse_lowlevel_ops shlogfs_ops = {
	.init = shlogfs_ll_init,
	.lookup = shlogfs_ll_lookup,
	.forget = shlogfs_ll_forget,
	.forget_multi = shlogfs_ll_forget_multi,
	.getattr = shlogfs_ll_getattr,
	.setattr = shlogfs_ll_setattr,
	.mknod = shlogfs_ll_mknod,
	.mkdir = shlogfs_ll_mkdir,
	.unlink = shlogfs_ll_unlink,
	.rmdir = shlogfs_ll_rmdir,
	.symlink = shlogfs_ll_symlink,
	.rename = shlogfs_ll_rename,
	.link = shlogfs_ll_link,
	.open = shlogfs_ll_open,
	.read = shlogfs_ll_read,
	.write = shlogfs_ll_write,
	.flush = shlogfs_ll_flush,
	.release = shlogfs_ll_release,
	.fsync = shlogfs_ll_fsync,
	.opendir = shlogfs_ll_opendir,
	.readdir = shlogfs_ll_readdir,
	.releasedir = shlogfs_ll_releasedir,
	.fsyncdir = shlogfs_ll_fsyncdir,
	.statfs = shlogfs_ll_statfs,
	.create = shlogfs_ll_create,
	.fallocate = shlogfs_ll_fallocate,
	.poll = shlogfs_ll_poll,
	.retrieve_reply = shlogfs_ll_retrieve_reply,
	/* getxattr/listxattr left out: libfuse answers ENOSYS once and the
	 * kernel stops asking for security.capability on every write. */
};

/* Parse the command line; @p done: exit now, with the status returned. */
static int shlogfs_cmdline(struct fuse_args *args, struct shlogfs_cli *cli,
			   struct fuse_cmdline_opts *copts, const char *prog,
			   int *done)
{
	*done = 1;
	if (fuse_opt_parse(args, cli, shlogfs_opt_table, shlogfs_opt_proc) == -1)
		return 1;
	if (cli->show_help || cli->show_version) {
		if (cli->show_help)
			shlogfs_usage(prog);
		else
			printf("shlogfs version %s\nFUSE library version %s\n",
			       SHLOG_VERSION, fuse_pkgversion());
		return 0;
	}
	if (fuse_parse_cmdline(args, copts) != 0)
		return 1;
	if (cli->kafka_opt && !cli->kafka) {
		fprintf(stderr, "shlogfs: Kafka options (%s) need -o backend=kafka\n",
			cli->kafka_opt);
		return 1;
	}
	if (cli->kafka && cli->writeback) {
		fprintf(stderr, "shlogfs: -o writeback is not available with "
			"-o backend=kafka\n");
		return 1;
	}
	if (!cli->datadir || !copts->mountpoint) {
		fprintf(stderr, "shlogfs: missing DATADIR or MOUNTPOINT "
			"(usage: shlogfs [options] DATADIR MOUNTPOINT; see -h)\n");
		return 1;
	}
	if (copts->debug)
		shlogfs_log_debug();
	*done = 0;
	return 1;
}

/* Set up the daemon's state from the options; 0, or -1 (the data dir). */
static int shlogfs_state_init(struct shlogfs *fs, const struct shlogfs_cli *cli,
			      struct fuse_args *args)
{
	fs->partitions = cli->partitions;
	fs->writeback = cli->writeback;
	fs->retrieve_ms = cli->writeback ? cli->retrieve_ms : 0;
	fs->max_topics_per_user = cli->max_topics_per_user;
	fs->max_parts_per_user = cli->max_parts_per_user;
	shlogfs_fw_init(cli->max_follow, cli->max_follow_per_user);
	fs->datadir = shlogfs_resolve_datadir(cli->datadir);
	if (!fs->datadir || shlogfs_add_mount_opts(args, cli, fs->datadir))
		return -1;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->mk_lock, NULL);
	shlogfs_budget_init(&fs->budget, cli->max_held, cli->max_held_per_user);
	shlogfs_nodes_init(fs, &shlogfs_kind_root);
	LIST_INIT(&fs->handles);
	LIST_INIT(&fs->snaps);
	shlogfs_restore_init(fs);
	shlogfs_shutdown_prepare();
	shlogfs_malloc_setup();
	return 0;
}

/* Undo shlogfs_state_init() (what of it was done). */
static void shlogfs_state_free(struct shlogfs *fs)
{
	shlogfs_shutdown_begin();
	shlogfs_budget_free(&fs->budget);
	shlogfs_restore_free(fs);
	free(fs->datadir);
}

/* Mounted: (-v) say so, detach, serve until unmount, unmount; 0 or 1. */
static int shlogfs_mounted(struct shlogfs *fs,
			   const struct fuse_cmdline_opts *copts, int wfd,
			   int verbose)
{
	int ret;

	if (verbose) {
		printf("shlogfs: %s mounted on %s\n", fs->datadir,
		       copts->mountpoint);
		fflush(stdout);
	}
	if (!copts->foreground)
		shlogfs_detach_done(wfd);
	shlogfs_log(LOG_INFO, "serving %s on %s", fs->datadir,
		    copts->mountpoint);
	ret = shlogfs_serve(fs->se, copts) ? 1 : 0;
	shlogfs_shutdown_begin();
	fuse_session_unmount(fs->se);
	return ret;
}

/* Stop serving and close the store; @p ret, or 1 if the close failed. */
static int shlogfs_store_shut(struct shlogfs *fs, int sigs, int ret)
{
	struct fuse_session *se = fs->se;

	__atomic_store_n(&fs->se, NULL, __ATOMIC_RELEASE); /* no more notifications */
	shlogfs_ctl_stop();
	shlogfs_pc_stop();
	shlogfs_wb_retrieve_stop();
	shlogfs_handles_close_all(fs);
	shlogfs_snaps_free(fs);
	/* the signal handlers stay until the store is closed: a SIGTERM now
	 * (systemd sends one after umount) must not kill the final flush */
	if (shlogfs_store_close(fs->store) < 0) {
		shlogfs_log(LOG_ERR, "closing %s failed", fs->datadir);
		ret = 1;
	}
	if (sigs)
		fuse_remove_signal_handlers(se);
	shlogfs_nodes_free(fs);
	return ret;
}

/* With the store open: the control socket, signals, mount, serve; the status. */
static int shlogfs_run_store(struct shlogfs *fs,
			     const struct fuse_cmdline_opts *copts, int wfd,
			     int verbose)
{
	int ret = 1, sigs = 0;

	shlogfs_ctl_start(fs);   /* holding the store's lock: shlogctl sync (ctl.c) */
	if (shlogfs_pc_start(fs)) { /* drops the kernel's stale pages (pcache.c) */
		shlogfs_log(LOG_ERR, "cannot start the page-cache notifier");
		return shlogfs_store_shut(fs, 0, 1);
	}
	if (shlogfs_wb_retrieve_start(fs, fs->retrieve_ms)) { /* -o writeback (wb.c) */
		shlogfs_log(LOG_ERR, "cannot start the writeback retriever");
		return shlogfs_store_shut(fs, 0, 1);
	}
	if (fuse_set_signal_handlers(fs->se) == 0) {
		sigs = 1;
		if (fuse_session_mount(fs->se, copts->mountpoint) == 0)
			ret = shlogfs_mounted(fs, copts, wfd, verbose);
	}
	return shlogfs_store_shut(fs, sigs, ret);
}

/* Detach, make the session, open the store and run; the exit status. */
static int shlogfs_run(struct fuse_args *args, struct shlogfs *fs,
		       struct shlogfs_cli *cli,
		       const struct fuse_cmdline_opts *copts)
{
	struct fuse_session *se;
	int ret = 1, wfd = -1;

	if (!copts->foreground && shlogfs_detach_start(&wfd))
		return 1;
	se = fuse_session_new(args, &shlogfs_ops, sizeof shlogfs_ops, fs);
	if (!se)
		return 1;
	fs->se = se;
	if (shlogfs_store_open(fs, cli) == 0)
		ret = shlogfs_run_store(fs, copts, wfd, cli->verbose);
	fuse_session_destroy(se);
	return ret;
}

/* Parse, open, mount, serve, undo. */
int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts = { 0 };
	struct shlogfs_cli cli = {
		.partitions = 1,
		.max_held = 64u << 20,
		.max_held_per_user = 16u << 20,
		.max_topics_per_user = 1024,
		.max_parts_per_user = 4096,
		.max_follow = 8192,
		.max_follow_per_user = 1024,
		.retrieve_ms = 20,
	};
	struct shlogfs fs = { 0 };
	int ret, done;

	fuse_set_log_func(shlogfs_log_fuse);
	shlog_options_init(&cli.so);
	ret = shlogfs_cmdline(&args, &cli, &copts, argv[0], &done);
	if (!done) {
		if (shlogfs_state_init(&fs, &cli, &args) == 0)
			ret = shlogfs_run(&args, &fs, &cli, &copts);
		shlogfs_state_free(&fs);
	}
	free(copts.mountpoint);
	free(cli.datadir);
#if SHLOGFS_HAVE_KAFKA
	shlogfs_kafka_conf_free(cli.kconf);
#endif
	fuse_opt_free_args(&args);
	return ret;
}
