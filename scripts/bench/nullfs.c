/*
 * nullfs.c — shlog-nullfs: the FUSE floor for the mount benchmarks.
 *
 *   shlog-nullfs [FUSE options] [-o direct_io] [-o attr_timeout=S]
 *                [-o entry_timeout=S] MOUNTPOINT
 *
 * A libfuse3 low-level file system whose root holds NULLFS_FILES
 * regular files log0, log1, ...  Writes at any offset are accepted and
 * discarded; a file's size grows to the end of the furthest write, so
 * O_APPEND and `stat` behave as on a growing log, and reads return that
 * many zero bytes.  Files are opened as shlogfs opens a log (direct_io
 * for writers, the page cache for readers), the connection asks for the
 * same capabilities, and getxattr is left to libfuse's ENOSYS, as there.
 * Nothing is stored: every request costs one round trip
 * to this daemon and nothing more, which is the floor any FUSE log can
 * reach with the same mount options.  Multithreaded unless -s is given.
 */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NULLFS_FILES 16
#define NULLFS_FIRST_INO 2            /* log0; the root is 1 */
#define NULLFS_ZERO_BYTES (4u << 20)  /* largest read served at once */

/* ---- state ------------------------------------------------------------ */

struct nullfs_cfg {
	int direct_io;
	double attr_timeout;
	double entry_timeout;
};

static struct nullfs_cfg nullfs_cfg = { .attr_timeout = 0.0, .entry_timeout = 1.0 };
static _Atomic uint64_t nullfs_size[NULLFS_FILES];
static struct fuse_conn_info_opts *nullfs_conn_opts;
static const char nullfs_zero[NULLFS_ZERO_BYTES];
static struct timespec nullfs_mtime;

/* Index of file inode @p ino, or -1 when it is not a file. */
static int nullfs_file(fuse_ino_t ino)
{
	if (ino < NULLFS_FIRST_INO || ino >= NULLFS_FIRST_INO + NULLFS_FILES)
		return -1;
	return (int)(ino - NULLFS_FIRST_INO);
}

/* Attributes of the root or of a file; 0 or -ENOENT. */
static int nullfs_stat(fuse_ino_t ino, struct stat *st)
{
	int f = nullfs_file(ino);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtim = st->st_ctim = st->st_atim = nullfs_mtime;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (f < 0)
		return -ENOENT;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = (off_t)atomic_load(&nullfs_size[f]);
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

/* ---- operations ------------------------------------------------------- */

/* Kernel handshake: the capabilities shlogfs asks for, then -o overrides. */
static void nullfs_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	if (nullfs_conn_opts)
		fuse_apply_conn_info_opts(nullfs_conn_opts, conn);
}

/* Names "log<N>" in the root. */
static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { 0 };
	char *end;
	long n;

	if (parent != FUSE_ROOT_ID || strncmp(name, "log", 3) != 0 ||
	    !name[3]) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = strtol(name + 3, &end, 10);
	if (*end || n < 0 || n >= NULLFS_FILES) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = NULLFS_FIRST_INO + (fuse_ino_t)n;
	e.attr_timeout = nullfs_cfg.attr_timeout;
	e.entry_timeout = nullfs_cfg.entry_timeout;
	nullfs_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

/* stat(). */
static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct stat st;
	int rc = nullfs_stat(ino, &st);

	(void)fi;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, nullfs_cfg.attr_timeout);
}

/* truncate() sets the size (so "> file" works); other changes are ignored. */
static void nullfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	int f = nullfs_file(ino);
	struct stat st;

	(void)fi;
	if (f >= 0 && (to_set & FUSE_SET_ATTR_SIZE))
		atomic_store(&nullfs_size[f], (uint64_t)attr->st_size);
	if (nullfs_stat(ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, nullfs_cfg.attr_timeout);
}

/*
 * open(): files only.  As shlogfs opens a log: writers bypass the page
 * cache (direct_io), readers keep it; -o direct_io bypasses it for all.
 */
static void nullfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	int wr = (fi->flags & O_ACCMODE) != O_RDONLY;

	if (nullfs_file(ino) < 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = wr || nullfs_cfg.direct_io;
	fi->keep_cache = !fi->direct_io;
	fuse_reply_open(req, fi);
}

/* read(): zeros up to the current size. */
static void nullfs_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	uint64_t end = atomic_load(&nullfs_size[nullfs_file(ino)]);
	size_t n = 0;

	(void)fi;
	if ((uint64_t)off < end)
		n = end - (uint64_t)off < size ? (size_t)(end - (uint64_t)off) : size;
	if (n > sizeof(nullfs_zero))
		n = sizeof(nullfs_zero);
	fuse_reply_buf(req, nullfs_zero, n);
}

/* write(): discard the bytes, grow the size to the end of the write. */
static void nullfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	_Atomic uint64_t *sz = &nullfs_size[nullfs_file(ino)];
	uint64_t end = (uint64_t)off + size, cur = atomic_load(sz);

	(void)buf;
	(void)fi;
	while (cur < end && !atomic_compare_exchange_weak(sz, &cur, end))
		;
	fuse_reply_write(req, size);
}

/* flush(), fsync(), release(): nothing is buffered. */
static void nullfs_flush(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* fsync(): nothing to make durable. */
static void nullfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	(void)datasync;
	nullfs_flush(req, ino, fi);
}

/* readdir() of the root: ".", ".." and the files. */
static void nullfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	char buf[4096], name[16];
	size_t used = 0;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (off_t i = off; i < NULLFS_FILES + 2; i++) {
		struct stat st = { .st_mode = S_IFREG };
		size_t n;

		if (i < 2) {
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
			snprintf(name, sizeof(name), "%s", i ? ".." : ".");
		} else {
			st.st_ino = NULLFS_FIRST_INO + (fuse_ino_t)(i - 2);
			snprintf(name, sizeof(name), "log%d", (int)(i - 2));
		}
		n = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.init = nullfs_init,
	.lookup = nullfs_lookup,
	.getattr = nullfs_getattr,
	.setattr = nullfs_setattr,
	.open = nullfs_open,
	.read = nullfs_read,
	.write = nullfs_write,
	.flush = nullfs_flush,
	.release = nullfs_flush,
	.fsync = nullfs_fsync,
	/* no getxattr: libfuse answers ENOSYS once, as for shlogfs */
	.readdir = nullfs_readdir,
};

/* ---- main ------------------------------------------------------------- */

#define NULLFS_OPT(t, p) { t, offsetof(struct nullfs_cfg, p), 1 }
static const struct fuse_opt nullfs_opts[] = {
	NULLFS_OPT("direct_io", direct_io),
	NULLFS_OPT("attr_timeout=%lf", attr_timeout),
	NULLFS_OPT("entry_timeout=%lf", entry_timeout),
	FUSE_OPT_END
};

/* Run the session loop, multithreaded unless -s (as shlogfs does). */
static int nullfs_loop(struct fuse_session *se,
		       const struct fuse_cmdline_opts *o)
{
	struct fuse_loop_config lc = {
		.clone_fd = o->clone_fd,
		.max_idle_threads = o->max_idle_threads,
	};

	if (o->singlethread)
		return fuse_session_loop(se);
	return fuse_session_loop_mt(se, &lc);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts o;
	struct fuse_session *se;
	int rc = 1;

	clock_gettime(CLOCK_REALTIME, &nullfs_mtime);
	if (fuse_parse_cmdline(&args, &o) != 0)
		return 1;
	if (o.show_help || o.show_version || !o.mountpoint) {
		printf("usage: %s [options] MOUNTPOINT\n"
		       "    -o direct_io  -o attr_timeout=S  -o entry_timeout=S\n",
		       argv[0]);
		if (o.show_help) {
			fuse_cmdline_help();
			fuse_lowlevel_help();
		}
		goto out_args;
	}
	if (fuse_opt_parse(&args, &nullfs_cfg, nullfs_opts, NULL) < 0)
		goto out_args;
	nullfs_conn_opts = fuse_parse_conn_info_opts(&args);
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), NULL);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, o.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(o.foreground);
	rc = nullfs_loop(se, &o) ? 1 : 0;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(o.mountpoint);
	free(nullfs_conn_opts);
	fuse_opt_free_args(&args);
	return rc;
}
