/* helpers.c — shared scaffolding of the unit tests (see helpers.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "io_i.h"

/* ==== temporary directories ========================================= */

/* Make a fresh mkdtemp() directory for one test's data. */
void th_tmpdir(char *buf, size_t size)
{
	const char *base = getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	snprintf(buf, size, "%s/shlog-unit-XXXXXX", base);
	assert_non_null(mkdtemp(buf));
}

/* nftw() callback of th_rmrf: remove one entry, children first. */
static int rmrf_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 ? -errno : 0;
	return unlink(path) < 0 ? -errno : 0;
}

/* Remove a test's directory tree. */
int th_rmrf(const char *path)
{
	return nftw(path, rmrf_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ==== stores ========================================================== */

/* Log sink that drops everything (the tests check return codes). */
static void quiet_log(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

/* Defaults, logging silenced unless SHLOG_TEST_VERBOSE is set. */
void th_opts(struct shlog_options *o)
{
	shlog_options_init(o);
	if (!getenv("SHLOG_TEST_VERBOSE"))
		o->log = quiet_log;
}

/* Open a store, create a topic and get its partition 0. */
void th_open_part(const char *dir, const struct shlog_options *o,
		  const char *topic, uint32_t nparts, shlog_store **s,
		  shlog_part **p)
{
	assert_int_equal(shlog_store_open(dir, o, s), 0);
	assert_int_equal(shlog_topic_create(*s, topic, nparts), 0);
	assert_int_equal(shlog_part_get(*s, topic, 0, p), 0);
}

/* Reopen a store and get one partition; returns the first error. */
int th_reopen_part(const char *dir, const struct shlog_options *o,
		   const char *topic, uint32_t part, shlog_store **s,
		   shlog_part **p)
{
	int rc = shlog_store_open(dir, o, s);

	*p = NULL;
	if (rc < 0)
		return rc;
	rc = shlog_part_get(*s, topic, part, p);
	if (rc < 0)
		*p = NULL;
	return rc;
}

/* Release a handle and close the store. */
int th_close(shlog_store *s, shlog_part *p)
{
	if (p)
		shlog_part_put(p);
	return s ? shlog_store_close(s) : 0;
}

/* A clean close and reopen: nothing for recovery to drop. */
void th_close_reopen_clean(shlog_store *s, shlog_part *p, const char *dir,
			   const struct shlog_options *o, const char *topic,
			   uint64_t end_seq)
{
	struct shlog_part_info in;

	assert_int_equal(th_close(s, p), 0);
	assert_int_equal(th_reopen_part(dir, o, topic, 0, &s, &p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.end_seq, end_seq);
	assert_int_equal(in.recovered_bytes_dropped, 0);
	assert_int_equal(th_close(s, p), 0);
}

/* ==== reading ========================================================= */

/* Read exactly len bytes at off through shlog_part_read(). */
int th_read_at(shlog_part *p, uint64_t off, void *buf, size_t len)
{
	char *c = buf;

	while (len > 0) {
		ssize_t n = shlog_part_read(p, off, c, len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		c += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read the retained log [start_off, end_off) into a new buffer. */
int th_read_log(shlog_part *p, char **buf, size_t *len, uint64_t *start_off)
{
	struct shlog_part_info in;
	int rc = shlog_part_info(p, &in);
	size_t n;

	if (rc < 0)
		return rc;
	n = (size_t)(in.end_off - in.start_off);
	*buf = malloc(n + 1);
	if (!*buf)
		return -ENOMEM;
	rc = th_read_at(p, in.start_off, *buf, n);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	(*buf)[n] = '\0';
	*len = n;
	if (start_off)
		*start_off = in.start_off;
	return 0;
}

/* Count the lines (newlines) of a buffer. */
size_t th_count_lines(const char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n;
}

/* Cut a buffer at its newlines into NUL-terminated strings. */
size_t th_split_lines(char *buf, size_t len, char ***lines)
{
	size_t n = th_count_lines(buf, len), k = 0;
	char *start = buf;

	*lines = malloc((n + 1) * sizeof(**lines));
	assert_non_null(*lines);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		buf[i] = '\0';
		(*lines)[k++] = start;
		start = buf + i + 1;
	}
	return k;
}

/* Append one C string, which must succeed. */
uint64_t th_append(shlog_part *p, const char *msg)
{
	uint64_t seq = UINT64_MAX;

	assert_int_equal(shlog_part_append(p, msg, strlen(msg), 0, &seq), 0);
	return seq;
}

/* Append numbered messages "<prefix><i>". */
void th_append_range(shlog_part *p, const char *prefix, unsigned from,
		     unsigned to)
{
	char m[512];

	for (unsigned i = from; i < to; i++) {
		snprintf(m, sizeof(m), "%s%u", prefix, i);
		th_append(p, m);
	}
}

/* Monotonic milliseconds. */
uint64_t th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleep a few milliseconds. */
void th_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Bounded poll of committed_seq. */
int th_wait_committed(shlog_part *p, uint64_t seq, unsigned ms)
{
	uint64_t end = th_now_ms() + ms;
	struct shlog_part_info in;

	for (;;) {
		if (shlog_part_info(p, &in) == 0 && in.committed_seq >= seq)
			return 0;
		if (th_now_ms() >= end)
			return -ETIMEDOUT;
		th_sleep_ms(2);
	}
}

/* SIGALRM handler of the watchdog: report and leave. */
static void watchdog_fire(int sig)
{
	static const char msg[] = "shlog unit test: watchdog expired\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(99);
	_exit(99);
}

/* Bound a test's run time, whatever the engine does. */
void th_watchdog(unsigned sec)
{
	signal(SIGALRM, watchdog_fire);
	alarm(sec);
}

/* ==== the shared cmocka fixture ======================================== */

/* A fresh directory in a new state of @p size bytes, and a watchdog. */
void *th_fx_new(size_t size, unsigned sec)
{
	char *fx = calloc(1, size);

	if (!fx)
		return NULL;
	th_tmpdir(fx, 256);          /* the state's first member: char dir[256] */
	th_watchdog(sec);
	return fx;
}

/* Undo th_fx_new(). */
void th_fx_free(void *fx)
{
	th_fault_restore();
	th_rmrf(fx);
	free(fx);
	alarm(0);
}

/* ==== files =========================================================== */

/* Bitwise CRC32C, reflected polynomial 0x82F63B78. */
uint32_t th_crc32c(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return crc ^ 0xffffffffu;
}

/* Little-endian load of @p n bytes. */
static uint64_t load_le(const void *b, int n)
{
	const unsigned char *c = b;
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | c[i];
	return v;
}

/* A 64-bit field. */
uint64_t th_le64(const void *b)
{
	return load_le(b, 8);
}

/* A 32-bit field. */
uint32_t th_le32(const void *b)
{
	return (uint32_t)load_le(b, 4);
}

/* Little-endian store. */
void th_put_le(void *b, uint64_t v, int n)
{
	unsigned char *c = b;

	for (int i = 0; i < n; i++, v >>= 8)
		c[i] = (unsigned char)v;
}

/* DIR/TOPIC/PART/NAME. */
void th_path(char *out, size_t size, const char *dir, const char *topic,
	     uint32_t part, const char *name)
{
	snprintf(out, size, "%s/%s/%u/%s", dir, topic, part, name);
}

/* DIR/TOPIC/PART/<20 digits>.EXT. */
void th_seg_path(char *out, size_t size, const char *dir, const char *topic,
		 uint32_t part, uint64_t base_seq, const char *ext)
{
	snprintf(out, size, "%s/%s/%u/%020llu.%s", dir, topic, part,
		 (unsigned long long)base_seq, ext);
}

/* stat() size. */
int64_t th_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	return (int64_t)st.st_size;
}

/* Slurp a file. */
int th_file_read(const char *path, char **buf, size_t *len)
{
	int64_t sz = th_file_size(path);
	int fd, rc = 0;

	if (sz < 0)
		return (int)sz;
	*buf = malloc((size_t)sz + 1);
	if (!*buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(*buf);
		return -errno;
	}
	if (pread(fd, *buf, (size_t)sz, 0) != sz)
		rc = -EIO;
	close(fd);
	*len = (size_t)sz;
	return rc;
}

/* Overwrite bytes of a file in place. */
int th_file_patch(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		rc = -EIO;
	close(fd);
	return rc;
}

/* Flip every bit of one byte of a file. */
int th_file_flip(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &c, 1, (off_t)off) != 1)
		rc = -EIO;
	c ^= 0xff;
	if (rc == 0 && pwrite(fd, &c, 1, (off_t)off) != 1)
		rc = -EIO;
	close(fd);
	return rc;
}

/* truncate(2) wrapper returning -errno. */
int th_file_truncate(const char *path, uint64_t len)
{
	return truncate(path, (off_t)len) < 0 ? -errno : 0;
}

/* Open @p path with @p flags (mode 0600 if created) and write @p len bytes in one call. */
static int file_write(const char *path, int flags, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | flags, 0600);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len)
		rc = -EIO;
	close(fd);
	return rc;
}

/* Append raw bytes to a file. */
int th_file_append(const char *path, const void *buf, size_t len)
{
	return file_write(path, O_APPEND, buf, len);
}

/* Create a new file holding raw bytes. */
int th_file_create(const char *path, const void *buf, size_t len)
{
	return file_write(path, O_CREAT | O_EXCL, buf, len);
}

/* Number of segment logs in a partition directory. */
int th_count_segments(const char *dir, const char *topic, uint32_t part)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s/%u", dir, topic, part);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l == 24 && strcmp(de->d_name + 20, ".log") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* index_foreach callback: collect entries. */
static int index_collect(const struct shlog_index_entry *e, void *arg)
{
	struct th_index *ix = arg;

	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		void *ne = realloc(ix->e, cap * sizeof(*ix->e));
		if (!ne)
			return -ENOMEM;
		ix->e = ne;
		ix->cap = cap;
	}
	ix->e[ix->n++] = *e;
	return 0;
}

/* Gather a partition's index. */
int th_index_get(shlog_part *p, struct th_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	return shlog_part_index_foreach(p, index_collect, ix);
}

/* ==== fault injection ================================================= */

static _Atomic int f_mode;
static _Atomic uint64_t f_calls, f_crash_at;
static _Atomic int64_t f_space;
static _Atomic size_t f_short;
static _Atomic int f_gate_waiters;
static int f_gate_open;
static pthread_mutex_t f_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t f_cond = PTHREAD_COND_INITIALIZER;

/* ---- the power-cut journal: old contents of unsynced writes ---- */

/* One undo record: restore @old at @off, then truncate to @old_size. */
struct jent {
	int fd;
	off_t off, old_size;
	size_t len;
	char *old;
	int is_anchor;
	struct jent *next;
};

static struct jent *f_journal;
static atomic_int f_cut_done, f_keep_anchor;

/* Whether fd is a partition's anchor file (by its /proc name). */
static int fd_is_anchor(int fd)
{
	char link[64], path[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 7)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 7, "/anchor") == 0;
}

/* Record what a write or truncate of [off, off+len) on fd will destroy. */
static void journal_add(int fd, off_t off, size_t len)
{
	struct stat st;
	struct jent *j;

	if (sl_io_default.fstat(fd, &st) < 0)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->fd = fd;
	j->off = off;
	j->old_size = st.st_size;
	j->is_anchor = fd_is_anchor(fd);
	if (off < st.st_size) {
		size_t have = (size_t)(st.st_size - off);
		j->len = len < have ? len : have;
		j->old = malloc(j->len ? j->len : 1);
		if (j->old && sl_io_default.pread(fd, j->old, j->len, off) !=
			      (ssize_t)j->len)
			j->len = 0;
	}
	pthread_mutex_lock(&f_lock);
	j->next = f_journal;
	f_journal = j;
	pthread_mutex_unlock(&f_lock);
}

/* Forget the undo records of fd (it was synced or closed); all if fd < 0. */
static void journal_drop(int fd)
{
	struct jent **pp, *j;

	pthread_mutex_lock(&f_lock);
	for (pp = &f_journal; (j = *pp) != NULL;) {
		if (fd >= 0 && j->fd != fd) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		free(j->old);
		free(j);
	}
	pthread_mutex_unlock(&f_lock);
}

/* The power cut: undo every unsynced write, newest first. */
static void journal_undo(void)
{
	struct jent *j;

	pthread_mutex_lock(&f_lock);
	for (j = f_journal; j; j = j->next) {
		if (j->is_anchor && atomic_load(&f_keep_anchor))
			continue; /* the anchor reached the disk, the data did not */
		if (j->len && j->old)
			sl_io_default.pwrite(j->fd, j->old, j->len, j->off);
		sl_io_default.ftruncate(j->fd, j->old_size);
	}
	pthread_mutex_unlock(&f_lock);
	journal_drop(-1);
}

/* Count a call; nonzero when it must fail as part of a crash. */
static int fault_tick(void)
{
	uint64_t n = atomic_fetch_add(&f_calls, 1) + 1;
	uint64_t at = atomic_load(&f_crash_at);
	int m = atomic_load(&f_mode);

	if (m != TH_FAULT_CRASH && m != TH_FAULT_TORN && m != TH_FAULT_POWERCUT)
		return 0;
	if (!at || n < at)
		return 0;
	if (m == TH_FAULT_POWERCUT && !atomic_exchange(&f_cut_done, 1))
		journal_undo();
	return 1;
}

/* Seam: openat. */
static int f_openat(int d, const char *p, int fl, mode_t m)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.openat(d, p, fl, m);
}

/* Seam: close; a crash still releases the descriptor (as process death would). */
static int f_close(int fd)
{
	int crashed = fault_tick();

	if (atomic_load(&f_mode) == TH_FAULT_POWERCUT)
		journal_drop(fd);
	sl_io_default.close(fd);
	return crashed ? (errno = EIO, -1) : 0;
}

/* Seam: pread. */
static ssize_t f_pread(int fd, void *b, size_t l, off_t o)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.pread(fd, b, l, o);
}

/* Block at the gate until th_fault_gate_open(). */
static void gate_wait(void)
{
	pthread_mutex_lock(&f_lock);
	atomic_fetch_add(&f_gate_waiters, 1);
	while (!f_gate_open)
		pthread_cond_wait(&f_cond, &f_lock);
	atomic_fetch_sub(&f_gate_waiters, 1);
	pthread_mutex_unlock(&f_lock);
}

/* Seam: pwrite, with every write fault mode. */
static ssize_t f_pwrite(int fd, const void *b, size_t l, off_t o)
{
	uint64_t n = atomic_fetch_add(&f_calls, 1) + 1;
	uint64_t at = atomic_load(&f_crash_at);
	int m = atomic_load(&f_mode);

	switch (m) {
	case TH_FAULT_POWERCUT:
		atomic_fetch_sub(&f_calls, 1);
		if (fault_tick())
			return errno = EIO, -1;
		journal_add(fd, o, l);
		break;
	case TH_FAULT_CRASH:
		if (at && n >= at)
			return errno = EIO, -1;
		break;
	case TH_FAULT_TORN:
		if (at && n > at)
			return errno = EIO, -1;
		if (at && n == at) {
			if (l > 1)
				sl_io_default.pwrite(fd, b, l / 2, o);
			return errno = EIO, -1;
		}
		break;
	case TH_FAULT_ENOSPC: {
		int64_t left = atomic_load(&f_space);
		if (left <= 0)
			return errno = ENOSPC, -1;
		if ((int64_t)l > left)
			l = (size_t)left;
		ssize_t w = sl_io_default.pwrite(fd, b, l, o);
		if (w > 0)
			atomic_fetch_sub(&f_space, w);
		return w;
	}
	case TH_FAULT_SHORT:
		if (l > atomic_load(&f_short))
			l = atomic_load(&f_short);
		break;
	case TH_FAULT_GATE:
		gate_wait();
		break;
	case TH_FAULT_EIO_ONCE: {
		int expect = TH_FAULT_EIO_ONCE;
		if (atomic_compare_exchange_strong(&f_mode, &expect,
						   TH_FAULT_COUNT))
			return errno = EIO, -1;
		break;
	}
	default:
		break;
	}
	return sl_io_default.pwrite(fd, b, l, o);
}

/* A sync through @p sync (a success makes the fd's writes survive a power cut). */
static int f_sync(int (*sync)(int), int fd)
{
	int rc;

	if (fault_tick())
		return errno = EIO, -1;
	rc = sync(fd);
	if (rc == 0 && atomic_load(&f_mode) == TH_FAULT_POWERCUT)
		journal_drop(fd);
	return rc;
}

/* Seam: fdatasync. */
static int f_fdatasync(int fd)
{
	return f_sync(sl_io_default.fdatasync, fd);
}

/* Seam: fsync. */
static int f_fsync(int fd)
{
	return f_sync(sl_io_default.fsync, fd);
}

/* Seam: ftruncate. */
static int f_ftruncate(int fd, off_t l)
{
	struct stat st;

	if (fault_tick())
		return errno = EIO, -1;
	if (atomic_load(&f_mode) == TH_FAULT_POWERCUT &&
	    sl_io_default.fstat(fd, &st) == 0) {
		if (l < st.st_size)
			journal_add(fd, l, (size_t)(st.st_size - l));
		else
			journal_add(fd, st.st_size, 0);
	}
	return sl_io_default.ftruncate(fd, l);
}

/* Seam: renameat. */
static int f_renameat(int od, const char *o, int nd, const char *n)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.renameat(od, o, nd, n);
}

/* Seam: unlinkat. */
static int f_unlinkat(int d, const char *p, int fl)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.unlinkat(d, p, fl);
}

/* Seam: mkdirat. */
static int f_mkdirat(int d, const char *p, mode_t m)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.mkdirat(d, p, m);
}

/* Seam: fstat. */
static int f_fstat(int fd, struct stat *st)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.fstat(fd, st);
}

/* Seam: renameat2 (compaction's swap). */
static int f_renameat2(int od, const char *o, int nd, const char *n, unsigned fl)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.renameat2(od, o, nd, n, fl);
}

/* Seam: fstatat. */
static int f_fstatat(int d, const char *p, struct stat *st, int fl)
{
	if (fault_tick())
		return errno = EIO, -1;
	return sl_io_default.fstatat(d, p, st, fl);
}

/* Seam: fdopendir (a directory walk). */
static DIR *f_fdopendir(int fd)
{
	if (fault_tick())
		return errno = EIO, NULL;
	return sl_io_default.fdopendir(fd);
}

/* Install the fault seam. */
void th_fault_install(enum th_fault_mode mode)
{
	pthread_mutex_lock(&f_lock);
	f_gate_open = 0;
	pthread_mutex_unlock(&f_lock);
	atomic_store(&f_calls, 0);
	atomic_store(&f_crash_at, 0);
	atomic_store(&f_space, 0);
	atomic_store(&f_short, 1);
	atomic_store(&f_cut_done, 0);
	atomic_store(&f_keep_anchor, 0);
	journal_drop(-1);
	atomic_store(&f_mode, (int)mode);
	sl_io.openat = f_openat;
	sl_io.close = f_close;
	sl_io.pread = f_pread;
	sl_io.pwrite = f_pwrite;
	sl_io.fdatasync = f_fdatasync;
	sl_io.fsync = f_fsync;
	sl_io.ftruncate = f_ftruncate;
	sl_io.renameat = f_renameat;
	sl_io.unlinkat = f_unlinkat;
	sl_io.mkdirat = f_mkdirat;
	sl_io.fstat = f_fstat;
	sl_io.renameat2 = f_renameat2;
	sl_io.fstatat = f_fstatat;
	sl_io.fdopendir = f_fdopendir;
}

/* Back to the real system calls. */
void th_fault_restore(void)
{
	th_fault_gate_open();
	atomic_store(&f_mode, TH_FAULT_NONE);
	sl_io = sl_io_default;
	journal_drop(-1);
}

/* Calls counted since install. */
uint64_t th_fault_calls(void)
{
	return atomic_load(&f_calls);
}

/* Set the crash point. */
void th_fault_set_crash_at(uint64_t n)
{
	atomic_store(&f_crash_at, n);
}

/* Whether calls have reached the crash point. */
int th_fault_crashed(void)
{
	uint64_t at = atomic_load(&f_crash_at);

	return at && atomic_load(&f_calls) >= at;
}

/* POWERCUT: let unsynced anchor writes survive the cut (data ones do not). */
void th_fault_set_keep_anchor(int keep)
{
	atomic_store(&f_keep_anchor, keep);
}

/* Remaining "disk space" of the ENOSPC mode. */
void th_fault_set_space(int64_t bytes)
{
	atomic_store(&f_space, bytes);
}

/* Bytes per call of the SHORT mode. */
void th_fault_set_short(size_t n)
{
	atomic_store(&f_short, n ? n : 1);
}

/* Release every pwrite held at the gate. */
void th_fault_gate_open(void)
{
	pthread_mutex_lock(&f_lock);
	f_gate_open = 1;
	pthread_cond_broadcast(&f_cond);
	pthread_mutex_unlock(&f_lock);
}

/* How many pwrites wait at the gate. */
int th_fault_gate_waiters(void)
{
	return atomic_load(&f_gate_waiters);
}

/* ==== trials ============================================================ */

/* $SHLOG_TRIAL_SCALE, at least 1. */
unsigned th_trial_scale(void)
{
	const char *v = getenv("SHLOG_TRIAL_SCALE");
	unsigned long n = v ? strtoul(v, NULL, 10) : 1;

	return n < 1 ? 1 : n > 100000 ? 100000 : (unsigned)n;
}

/* Copy one regular file. */
static int copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	int in = open(src, O_RDONLY), out, rc = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL, mode & 07777);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	close(in);
	close(out);
	return rc;
}

/* Recursive copy of a directory tree (regular files and directories). */
int th_tree_copy(const char *src, const char *dst)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (stat(src, &st) < 0)
		return -errno;
	if (mkdir(dst, st.st_mode & 07777) < 0)
		return -errno;
	d = opendir(src);
	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char s[4096], t[4096];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
		if (lstat(s, &st) < 0)
			rc = -errno;
		else if (S_ISDIR(st.st_mode))
			rc = th_tree_copy(s, t);
		else if (S_ISREG(st.st_mode))
			rc = copy_file(s, t, st.st_mode);
	}
	closedir(d);
	return rc;
}
