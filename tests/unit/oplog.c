/*
 * oplog.c — the recording seam and crash-state builder (see oplog.h).
 *
 * Recording keeps a model of the data directory: model inodes (0 is the
 * data directory itself), and directory entries (dir, name) -> inode.
 * A descriptor is mapped to its model inode through fstat(): the real
 * (st_dev, st_ino) of every inode the engine created is remembered, so
 * descriptors opened outside the seam (the store's directory) resolve too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_i.h"
#include "oplog.h"

/* ==== recording state ================================================= */

/* One directory entry of the model. */
struct ol_dent {
	uint32_t dir, ino;
	char name[64];
};

/* A growable list of directory entries. */
struct ol_ns {
	struct ol_dent *d;
	size_t n, cap;
};

/* Real inode -> model inode. */
struct ol_real {
	dev_t dev;
	ino_t ino;
	uint32_t model;
};

static pthread_mutex_t r_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oplog *r_log;
static struct ol_ns r_ns;
static struct ol_real *r_real;
static size_t r_nreal, r_capreal;

/* The injected fault. */
static struct {
	enum ol_call call;
	uint64_t nth;
	int err, persistent, cleared;
	uint64_t calls[OL_CALL_NKINDS];
	uint64_t hits;
} r_fault;

/* Out of memory in the test harness itself: nothing sensible remains. */
static void *ol_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "oplog: out of memory\n");
		_exit(98);
	}
	return q;
}

/* ---- the namespace model ---- */

/* Index of entry @name in @dir, or -1. */
static long ns_find(const struct ol_ns *ns, uint32_t dir, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (ns->d[i].dir == dir && !strcmp(ns->d[i].name, name))
			return (long)i;
	return -1;
}

/* Add (or replace) entry @dir/@name -> @ino. */
static void ns_link(struct ol_ns *ns, uint32_t dir, const char *name, uint32_t ino)
{
	long i = ns_find(ns, dir, name);

	if (i >= 0) {
		ns->d[i].ino = ino;
		return;
	}
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 32;
		ns->d = ol_xrealloc(ns->d, ns->cap * sizeof(*ns->d));
	}
	ns->d[ns->n].dir = dir;
	ns->d[ns->n].ino = ino;
	snprintf(ns->d[ns->n].name, sizeof(ns->d[ns->n].name), "%s", name);
	ns->n++;
}

/* Remove entry @dir/@name if present (keeps the order of the others). */
static void ns_unlink(struct ol_ns *ns, uint32_t dir, const char *name)
{
	long i = ns_find(ns, dir, name);

	if (i < 0)
		return;
	memmove(&ns->d[i], &ns->d[i + 1], (ns->n - (size_t)i - 1) * sizeof(*ns->d));
	ns->n--;
}

/* Move @dir/@name to @dir2/@name2, replacing any entry there. */
static void ns_rename(struct ol_ns *ns, uint32_t dir, const char *name,
		      uint32_t dir2, const char *name2)
{
	long i = ns_find(ns, dir, name);
	uint32_t ino;

	if (i < 0)
		return;
	ino = ns->d[i].ino;
	ns_unlink(ns, dir, name);
	ns_unlink(ns, dir2, name2);
	ns_link(ns, dir2, name2, ino);
}

/* Apply one metadata operation to a namespace. */
static void ns_apply(struct ol_ns *ns, const struct ol_op *op)
{
	switch (op->kind) {
	case OL_CREATE:
	case OL_MKDIR:
		ns_link(ns, op->dir, op->name, op->ino);
		break;
	case OL_RENAME:
		ns_rename(ns, op->dir, op->name, op->dir2, op->name2);
		break;
	case OL_UNLINK:
		ns_unlink(ns, op->dir, op->name);
		break;
	default:
		break;
	}
}

/* ---- real inodes ---- */

/* Remember that the real inode of @st is model inode @model. */
static void real_map(const struct stat *st, uint32_t model)
{
	for (size_t i = 0; i < r_nreal; i++)
		if (r_real[i].dev == st->st_dev && r_real[i].ino == st->st_ino) {
			r_real[i].model = model;
			return;
		}
	if (r_nreal == r_capreal) {
		r_capreal = r_capreal ? r_capreal * 2 : 64;
		r_real = ol_xrealloc(r_real, r_capreal * sizeof(*r_real));
	}
	r_real[r_nreal++] = (struct ol_real){ st->st_dev, st->st_ino, model };
}

/* Model inode of descriptor @fd, or UINT32_MAX if it is not ours. */
static uint32_t fd_model(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return UINT32_MAX;
	for (size_t i = 0; i < r_nreal; i++)
		if (r_real[i].dev == st.st_dev && r_real[i].ino == st.st_ino)
			return r_real[i].model;
	return UINT32_MAX;
}

/* A new model inode. */
static uint32_t ino_new(int is_dir)
{
	uint32_t n = r_log->ninos++;

	r_log->is_dir = ol_xrealloc(r_log->is_dir, r_log->ninos);
	r_log->is_dir[n] = (uint8_t)is_dir;
	return n;
}

/* Append an operation to the log (r_lock held); returns it for filling. */
static struct ol_op *op_add(enum ol_kind kind)
{
	struct ol_op *op;

	if (r_log->n == r_log->cap) {
		r_log->cap = r_log->cap ? r_log->cap * 2 : 256;
		r_log->ops = ol_xrealloc(r_log->ops, r_log->cap * sizeof(*r_log->ops));
	}
	op = &r_log->ops[r_log->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

/* Whether the injected fault fails this call of kind @c (r_lock held). */
static int fault_hit(enum ol_call c)
{
	uint64_t n = ++r_fault.calls[c];

	if (r_fault.cleared || !r_fault.nth || r_fault.call != c)
		return 0;
	if (n == r_fault.nth || (r_fault.persistent && n > r_fault.nth)) {
		r_fault.hits++;
		return 1;
	}
	return 0;
}

/* Take r_lock for a call of kind @c; if the fault fails it, release the lock, set errno and return 1. */
static int fault_enter(enum ol_call c)
{
	int err;

	pthread_mutex_lock(&r_lock);
	if (!fault_hit(c))
		return 0;
	err = r_fault.err;
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return 1;
}

/* ==== the seam ========================================================= */

/* Seam: openat, logging creations and O_TRUNC. */
static int rec_openat(int d, const char *path, int fl, mode_t m)
{
	uint32_t dir;
	long had;
	int fd, err;
	struct stat st;

	if (fault_enter(OL_CALL_OPENAT))
		return -1;
	dir = fd_model(d);
	had = dir != UINT32_MAX && !strchr(path, '/') ? ns_find(&r_ns, dir, path) : -2;
	fd = sl_io_default.openat(d, path, fl, m);
	err = errno;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		if (had == -1 && (fl & O_CREAT)) {
			struct ol_op *op = op_add(OL_CREATE);
			op->ino = ino_new(0);
			op->dir = dir;
			snprintf(op->name, sizeof(op->name), "%s", path);
			ns_link(&r_ns, dir, path, op->ino);
			real_map(&st, op->ino);
		} else if (had >= 0 && (fl & O_TRUNC) && S_ISREG(st.st_mode)) {
			struct ol_op *op = op_add(OL_TRUNC);
			op->ino = r_ns.d[had].ino;
			op->off = 0;
		}
	}
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return fd;
}

/* Seam: mkdirat, logging the new directory. */
static int rec_mkdirat(int d, const char *name, mode_t m)
{
	struct stat st;
	int rc, err;

	pthread_mutex_lock(&r_lock);
	rc = sl_io_default.mkdirat(d, name, m);
	err = errno;
	if (rc == 0 && fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		struct ol_op *op = op_add(OL_MKDIR);
		op->dir = fd_model(d);
		op->ino = ino_new(1);
		snprintf(op->name, sizeof(op->name), "%s", name);
		ns_link(&r_ns, op->dir, name, op->ino);
		real_map(&st, op->ino);
	}
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return rc;
}

/* Seam: pwrite, logging the bytes written. */
static ssize_t rec_pwrite(int fd, const void *b, size_t l, off_t o)
{
	ssize_t n;
	int err;

	if (fault_enter(OL_CALL_PWRITE))
		return -1;
	n = sl_io_default.pwrite(fd, b, l, o);
	err = errno;
	if (n > 0) {
		struct ol_op *op = op_add(OL_WRITE);
		op->ino = fd_model(fd);
		op->off = (uint64_t)o;
		op->len = (size_t)n;
		op->data = ol_xrealloc(NULL, (size_t)n);
		memcpy(op->data, b, (size_t)n);
	}
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return n;
}

/* Seam: ftruncate. */
static int rec_ftruncate(int fd, off_t l)
{
	int rc, err;

	pthread_mutex_lock(&r_lock);
	rc = sl_io_default.ftruncate(fd, l);
	err = errno;
	if (rc == 0) {
		struct ol_op *op = op_add(OL_TRUNC);
		op->ino = fd_model(fd);
		op->off = (uint64_t)l;
	}
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return rc;
}

/* Both syncs: logged, not performed (the model decides what survives). */
static int rec_sync(int fd, enum ol_call c)
{
	struct ol_op *op;
	int hit, err;

	pthread_mutex_lock(&r_lock);
	hit = fault_hit(c);
	err = r_fault.err;
	op = op_add(hit ? OL_SYNCFAIL : OL_SYNC);
	op->ino = fd_model(fd);
	pthread_mutex_unlock(&r_lock);
	if (hit) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Seam: fdatasync. */
static int rec_fdatasync(int fd)
{
	return rec_sync(fd, OL_CALL_FDATASYNC);
}

/* Seam: fsync. */
static int rec_fsync(int fd)
{
	return rec_sync(fd, OL_CALL_FSYNC);
}

/* Seam: renameat. */
static int rec_renameat(int od, const char *o, int nd, const char *n)
{
	int rc, err;

	if (fault_enter(OL_CALL_RENAMEAT))
		return -1;
	rc = sl_io_default.renameat(od, o, nd, n);
	err = errno;
	if (rc == 0) {
		struct ol_op *op = op_add(OL_RENAME);
		op->dir = fd_model(od);
		op->dir2 = fd_model(nd);
		snprintf(op->name, sizeof(op->name), "%s", o);
		snprintf(op->name2, sizeof(op->name2), "%s", n);
		ns_apply(&r_ns, op);
	}
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return rc;
}

/* Seam: unlinkat (files and directories). */
static int rec_unlinkat(int d, const char *p, int fl)
{
	int rc, err;

	pthread_mutex_lock(&r_lock);
	rc = sl_io_default.unlinkat(d, p, fl);
	err = errno;
	if (rc == 0) {
		struct ol_op *op = op_add(OL_UNLINK);
		op->dir = fd_model(d);
		snprintf(op->name, sizeof(op->name), "%s", p);
		ns_apply(&r_ns, op);
	}
	pthread_mutex_unlock(&r_lock);
	errno = err;
	return rc;
}

/* Start recording into @log; @root is the (empty) data directory. */
void ol_record_start(struct oplog *log, const char *root)
{
	struct stat st;

	memset(log, 0, sizeof(*log));
	pthread_mutex_lock(&r_lock);
	r_log = log;
	r_ns.n = 0;
	r_nreal = 0;
	memset(&r_fault, 0, sizeof(r_fault));
	ino_new(1);
	if (stat(root, &st) == 0)
		real_map(&st, 0);
	sl_io.openat = rec_openat;
	sl_io.mkdirat = rec_mkdirat;
	sl_io.pwrite = rec_pwrite;
	sl_io.ftruncate = rec_ftruncate;
	sl_io.fdatasync = rec_fdatasync;
	sl_io.fsync = rec_fsync;
	sl_io.renameat = rec_renameat;
	sl_io.unlinkat = rec_unlinkat;
	pthread_mutex_unlock(&r_lock);
}

/* Stop recording: the real calls again. */
void ol_record_stop(void)
{
	pthread_mutex_lock(&r_lock);
	sl_io = sl_io_default;
	r_log = NULL;
	free(r_ns.d);
	memset(&r_ns, 0, sizeof(r_ns));
	free(r_real);
	r_real = NULL;
	r_nreal = r_capreal = 0;
	pthread_mutex_unlock(&r_lock);
}

/* Stop recording at a test's teardown, whatever it left behind. */
void ol_fx_done(void *fx)
{
	(void)fx;
	ol_record_stop();
}

/* Log an acknowledgement of messages [0, acked). */
void ol_ack(uint64_t acked)
{
	pthread_mutex_lock(&r_lock);
	if (r_log)
		op_add(OL_ACK)->off = acked;
	pthread_mutex_unlock(&r_lock);
}

/* Free a log and its bytes. */
void ol_free(struct oplog *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->ops[i].data);
	free(log->ops);
	free(log->is_dir);
	memset(log, 0, sizeof(*log));
}

/* Arm the fault. */
void ol_fault_set(enum ol_call call, uint64_t nth, int err, int persistent)
{
	pthread_mutex_lock(&r_lock);
	r_fault.call = call;
	r_fault.nth = nth;
	r_fault.err = err;
	r_fault.persistent = persistent;
	r_fault.cleared = 0;
	r_fault.hits = 0;
	pthread_mutex_unlock(&r_lock);
}

/* Disarm the fault. */
void ol_fault_clear(void)
{
	pthread_mutex_lock(&r_lock);
	r_fault.cleared = 1;
	pthread_mutex_unlock(&r_lock);
}

/* Calls of one kind so far. */
uint64_t ol_fault_calls(enum ol_call call)
{
	uint64_t n;

	pthread_mutex_lock(&r_lock);
	n = r_fault.calls[call];
	pthread_mutex_unlock(&r_lock);
	return n;
}

/* Calls failed so far. */
uint64_t ol_fault_hits(void)
{
	uint64_t n;

	pthread_mutex_lock(&r_lock);
	n = r_fault.hits;
	pthread_mutex_unlock(&r_lock);
	return n;
}

/* ==== crash states ===================================================== */

/* xorshift64* step. */
uint64_t ol_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Strategy names for messages. */
const char *ol_strategy_name(enum ol_strategy s)
{
	static const char *const names[] = { "keep-all", "drop-unsynced", "torn",
					     "reorder", "promised-only" };

	return s < OL_NSTRATEGIES ? names[s] : "?";
}

/* Is @k a directory operation? */
static int is_meta(enum ol_kind k)
{
	return k == OL_CREATE || k == OL_MKDIR || k == OL_RENAME || k == OL_UNLINK;
}

/* Is @k a data operation? */
static int is_data(enum ol_kind k)
{
	return k == OL_WRITE || k == OL_TRUNC;
}

/*
 * For the prefix of @k operations: promised[i] for every data op, and
 * the end of the directory operations that must be kept (*m0).
 */
static void promises(const struct oplog *log, size_t k, uint8_t *promised, size_t *m0)
{
	uint8_t *next = calloc(log->ninos + 1, 1);   /* 0 none, 1 sync, 2 failed */
	uint8_t *dsync = calloc(log->ninos + 1, 1);

	if (!next || !dsync) {
		fprintf(stderr, "oplog: out of memory\n");
		_exit(98);
	}
	*m0 = 0;
	for (size_t j = k; j-- > 0;) {
		const struct ol_op *op = &log->ops[j];
		uint32_t ino = op->ino < log->ninos ? op->ino : log->ninos;
		promised[j] = 0;
		if (op->kind == OL_SYNC) {
			next[ino] = 1;
			dsync[ino] = 1;
		} else if (op->kind == OL_SYNCFAIL) {
			next[ino] = 2;
		} else if (is_data(op->kind)) {
			promised[j] = next[ino] == 1;
		} else if (is_meta(op->kind) && *m0 == 0) {
			uint32_t d = op->dir < log->ninos ? op->dir : log->ninos;
			uint32_t d2 = op->dir2 < log->ninos ? op->dir2 : log->ninos;
			if (dsync[d] || (op->kind == OL_RENAME && dsync[d2]))
				*m0 = j + 1;
		}
	}
	free(next);
	free(dsync);
}

/* One file's contents while a state is built. */
struct ol_file {
	unsigned char *b;
	size_t size, cap;
};

/* Set a file's size, zero-filling growth. */
static void file_resize(struct ol_file *f, size_t size)
{
	if (size > f->cap) {
		size_t cap = f->cap ? f->cap : 256;
		while (cap < size)
			cap *= 2;
		f->b = ol_xrealloc(f->b, cap);
		f->cap = cap;
	}
	if (size > f->size)
		memset(f->b + f->size, 0, size - f->size);
	f->size = size;
}

/* Write @len bytes at @off (growing the file). */
static void file_write(struct ol_file *f, uint64_t off, const unsigned char *d, size_t len)
{
	if (len == 0)
		return;
	if (off + len > f->size)
		file_resize(f, (size_t)(off + len));
	memcpy(f->b + off, d, len);
}

/* FNV-1a over bytes, continuing from @h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Hash the tree below @dir (names, kinds, contents). */
static uint64_t tree_hash(const struct ol_ns *ns, const struct oplog *log,
			  const struct ol_file *files, uint32_t dir, uint64_t h, int depth)
{
	if (depth > 16)
		return h;
	for (size_t i = 0; i < ns->n; i++) {
		const struct ol_dent *e = &ns->d[i];
		if (e->dir != dir)
			continue;
		h = fnv(h, e->name, strlen(e->name) + 1);
		if (log->is_dir[e->ino]) {
			h = fnv(h, "/", 1);
			h = tree_hash(ns, log, files, e->ino, h, depth + 1);
			h = fnv(h, "..", 2);
		} else {
			h = fnv(h, &files[e->ino].size, sizeof(files[e->ino].size));
			h = fnv(h, files[e->ino].b, files[e->ino].size);
		}
	}
	return h;
}

/* Write the tree below model directory @dir into the real directory @dfd. */
static int tree_write(const struct ol_ns *ns, const struct oplog *log,
		      const struct ol_file *files, uint32_t dir, int dfd, int depth)
{
	int rc = 0;

	if (depth > 16)
		return -ELOOP;
	for (size_t i = 0; i < ns->n && rc == 0; i++) {
		const struct ol_dent *e = &ns->d[i];
		int fd;
		if (e->dir != dir)
			continue;
		if (log->is_dir[e->ino]) {
			if (mkdirat(dfd, e->name, 0755) < 0)
				return -errno;
			fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY);
			if (fd < 0)
				return -errno;
			rc = tree_write(ns, log, files, e->ino, fd, depth + 1);
			close(fd);
		} else {
			const struct ol_file *f = &files[e->ino];
			fd = openat(dfd, e->name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				return -errno;
			if (f->size && pwrite(fd, f->b, f->size, 0) != (ssize_t)f->size)
				rc = -EIO;
			close(fd);
		}
	}
	return rc;
}

/* Decide which operations of the prefix survive, per the strategy. */
static void choose(const struct oplog *log, size_t k, enum ol_strategy strat, uint64_t seed,
		   const uint8_t *promised, size_t m0, uint8_t *keep, size_t *mcut,
		   size_t *torn_at, size_t *torn_len, int *torn_zero)
{
	uint64_t rs = seed * 0x9e3779b97f4a7c15ull + k * 2654435761u + strat + 1;
	size_t nun = 0, pick = 0;

	*mcut = k;
	*torn_at = SIZE_MAX;
	for (size_t i = 0; i < k; i++)
		if (is_data(log->ops[i].kind) && !promised[i])
			nun++;
	if (strat == OL_TORN && nun)
		pick = (size_t)(ol_rand(&rs) % nun);
	if (strat == OL_REORDER)
		*mcut = m0 + (size_t)(ol_rand(&rs) % (k - m0 + 1));
	if (strat == OL_META_MIN)
		*mcut = m0;
	for (size_t i = 0, u = 0; i < k; i++) {
		const struct ol_op *op = &log->ops[i];
		keep[i] = 0;
		if (!is_data(op->kind))
			continue;
		if (promised[i] || strat == OL_KEEP_ALL) {
			keep[i] = 1;
			continue;
		}
		switch (strat) {
		case OL_TORN:
			if (u < pick) {
				keep[i] = 1;
			} else if (u == pick) {
				keep[i] = 1;
				if (op->kind == OL_WRITE) {
					*torn_at = i;
					*torn_len = (size_t)(ol_rand(&rs) % op->len);
					*torn_zero = (int)(ol_rand(&rs) & 1);
				}
			}
			break;
		case OL_REORDER:
			keep[i] = (uint8_t)(ol_rand(&rs) & 1);
			break;
		default:
			break;
		}
		u++;
	}
}

/* Build (and unless seen before, write out) one crash state. */
int ol_materialize(const struct oplog *log, size_t k, enum ol_strategy strat,
		   uint64_t seed, const char *dir, struct ol_hashset *seen,
		   uint64_t salt)
{
	uint8_t *promised = ol_xrealloc(NULL, k + 1), *keep = ol_xrealloc(NULL, k + 1);
	struct ol_file *files = calloc(log->ninos + 1, sizeof(*files));
	struct ol_ns ns = { 0 };
	size_t m0, mcut, torn_at, torn_len = 0;
	int torn_zero = 0, rc = 0, dfd;

	if (!files)
		return -ENOMEM;
	promises(log, k, promised, &m0);
	choose(log, k, strat, seed, promised, m0, keep, &mcut, &torn_at, &torn_len, &torn_zero);
	for (size_t i = 0; i < k; i++) {
		const struct ol_op *op = &log->ops[i];
		struct ol_file *f = op->ino < log->ninos ? &files[op->ino] : NULL;
		if (is_meta(op->kind)) {
			if (i < mcut)
				ns_apply(&ns, op);
			continue;
		}
		if (!keep[i] || !f)
			continue;
		if (op->kind == OL_TRUNC) {
			file_resize(f, (size_t)op->off);
		} else if (i == torn_at) {
			/* the first torn_len bytes arrived; the rest is old
			 * data, or zeros where the file grew (size updated,
			 * blocks not written) */
			file_write(f, op->off, op->data, torn_len);
			if (torn_zero && op->off + op->len > f->size)
				file_resize(f, (size_t)(op->off + op->len));
		} else {
			file_write(f, op->off, op->data, op->len);
		}
	}
	if (seen && !ol_hashset_add(seen, tree_hash(&ns, log, files, 0,
						    fnv(0xcbf29ce484222325ull, &salt, sizeof(salt)), 0))) {
		rc = 1;
	} else {
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		rc = dfd < 0 ? -errno : tree_write(&ns, log, files, 0, dfd, 0);
		if (dfd >= 0)
			close(dfd);
	}
	for (uint32_t i = 0; i < log->ninos; i++)
		free(files[i].b);
	free(files);
	free(ns.d);
	free(promised);
	free(keep);
	return rc;
}

/* The last acknowledgement before operation k. */
uint64_t ol_acked_before(const struct oplog *log, size_t k)
{
	uint64_t a = 0;

	for (size_t i = 0; i < k && i < log->n; i++)
		if (log->ops[i].kind == OL_ACK && log->ops[i].off > a)
			a = log->ops[i].off;
	return a;
}

/* Lowest "<20 digits>.log" name in directory @sub of the live tree at k. */
uint64_t ol_live_min_segment(const struct oplog *log, size_t k, const char *sub)
{
	struct ol_ns ns = { 0 };
	uint64_t best = UINT64_MAX;
	uint32_t dir = 0;
	char path[256], *save = NULL, *c;

	for (size_t i = 0; i < k && i < log->n; i++)
		if (is_meta(log->ops[i].kind))
			ns_apply(&ns, &log->ops[i]);
	snprintf(path, sizeof(path), "%s", sub);
	for (c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		long i = ns_find(&ns, dir, c);
		if (i < 0) {
			free(ns.d);
			return UINT64_MAX;
		}
		dir = ns.d[i].ino;
	}
	for (size_t i = 0; i < ns.n; i++) {
		const char *nm = ns.d[i].name;
		if (ns.d[i].dir != dir || strlen(nm) != 24 || strcmp(nm + 20, ".log"))
			continue;
		uint64_t v = strtoull(nm, NULL, 10);
		if (v < best)
			best = v;
	}
	free(ns.d);
	return best;
}

/* One line per operation. */
void ol_dump(const struct oplog *log, FILE *out)
{
	static const char *const kinds[] = { "create", "mkdir", "rename", "unlink", "write",
					     "trunc", "sync", "SYNCFAIL", "ack" };

	for (size_t i = 0; i < log->n; i++) {
		const struct ol_op *op = &log->ops[i];
		fprintf(out, "%4zu %-8s", i, kinds[op->kind]);
		if (is_meta(op->kind))
			fprintf(out, " dir %u/%s", op->dir, op->name);
		if (op->kind == OL_RENAME)
			fprintf(out, " -> %u/%s", op->dir2, op->name2);
		if (op->kind == OL_CREATE || op->kind == OL_MKDIR)
			fprintf(out, " = ino %u", op->ino);
		if (op->kind == OL_WRITE)
			fprintf(out, " ino %u off %llu len %zu", op->ino, (unsigned long long)op->off, op->len);
		if (op->kind == OL_TRUNC)
			fprintf(out, " ino %u size %llu", op->ino, (unsigned long long)op->off);
		if (op->kind == OL_SYNC || op->kind == OL_SYNCFAIL)
			fprintf(out, " ino %u", op->ino);
		if (op->kind == OL_ACK)
			fprintf(out, " %llu messages", (unsigned long long)op->off);
		fputc('\n', out);
	}
}

/* Mutating operations in the log. */
size_t ol_count_io(const struct oplog *log)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		n += log->ops[i].kind != OL_ACK;
	return n;
}

/* ==== hash set ========================================================== */

/* Insert into an open-addressing set; 1 if new. */
int ol_hashset_add(struct ol_hashset *s, uint64_t h)
{
	size_t i;

	if (h == 0)
		h = 1;
	if ((s->n + 1) * 2 > s->cap) {
		struct ol_hashset n = { 0 };
		n.cap = s->cap ? s->cap * 2 : 1024;
		n.v = calloc(n.cap, sizeof(*n.v));
		if (!n.v)
			return 1;
		for (size_t j = 0; j < s->cap; j++)
			if (s->v[j])
				ol_hashset_add(&n, s->v[j]);
		free(s->v);
		*s = n;
	}
	for (i = (size_t)h & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == h)
			return 0;
	s->v[i] = h;
	s->n++;
	return 1;
}

/* Free a hash set. */
void ol_hashset_free(struct ol_hashset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
