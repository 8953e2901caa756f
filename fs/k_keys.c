/*
 * k_keys.c — the kinds of keys/ and keys/<key>: the latest value of each
 * key of a partition.  Opening a key file takes its value (plus '\n') as
 * a snapshot; writing it makes a new value, appended as "key<TAB>value"
 * at the first close (flush) or fsync; O_TRUNC empties it; rm appends a
 * tombstone.  A key file is made by create (the shell's `>`); a name
 * with a TAB or a newline cannot be a key's.  An exclusive create of a
 * new key (tar and cp extracting a file) is EPERM: a restore never
 * turns a key file into a message.  A value is one line: a write that
 * puts a '\n' anywhere but at the value's end is EINVAL, and that handle
 * then stores nothing.  A key whose latest value a restore appended
 * (restore.c) is not rewritten with that same value (cp -a of an old
 * archive rewrites keys/K after the log), and rm of it is EPERM (tar
 * unlinks keys/K before extracting it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "held_i.h"
#include "kinds.h"
#include "follow.h"
#include "cred.h"
#include "handle.h"
#include "list.h"
#include "log.h"
#include "node.h"
#include "pcache.h"
#include "read.h"
#include "restore.h"
#include "stat.h"
#include "text.h"
#include "wb.h"

/* The kind of keys/<key> (defined at the end). */
static const struct shlogfs_kind shlogfs_kind_key;

/* 0 if @p name can be a key file: no TAB (it would end the key). */
static int shlogfs_key_name_check(const char *name)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '\t') || strchr(name, '\n'))
		return -EINVAL;
	return 0;
}

/* Size of key @p name of @p n's partition: its value plus '\n'. */
static int shlogfs_key_size(struct shlogfs *fs, struct shlogfs_node *n,
			    const char *name, uint64_t *size)
{
	struct shlog_keyref ref;
	shlogfs_bpart *p;
	int rc = shlogfs_node_part(fs, n, &p);

	if (rc)
		return rc;
	rc = shlogfs_key_lookup(p, name, strlen(name), &ref);
	shlogfs_part_put(p);
	if (rc == 0)
		*size = (uint64_t)ref.len - ref.klen;
	return rc;
}

/* ==== keys/ =========================================================== */

/* resolve op: a key that has a value. */
static int shlogfs_keys_resolve(struct shlogfs *fs, struct shlogfs_node *d,
				const char *name, struct shlogfs_name *out)
{
	uint64_t size;

	*out = (struct shlogfs_name){ &shlogfs_kind_key, d->topic, d->part,
				      name };
	if (shlogfs_key_name_check(name))
		return -ENOENT;
	return shlogfs_key_size(fs, d, name, &size);
}

/* shlog_key_foreach callback: list a key that can be a file name. */
static int shlogfs_keys_list_one(const void *key, size_t klen,
				 const struct shlog_keyref *ref, void *arg)
{
	(void)ref;
	if (memchr(key, '/', klen) || memchr(key, '\0', klen) ||
	    (klen == 1 && !memcmp(key, ".", 1)) ||
	    (klen == 2 && !memcmp(key, "..", 2)))
		return 0;
	return shlogfs_dir_add(arg, key, klen, S_IFREG) ? 1 : 0;
}

/* list op: every live key that can be a file name. */
static int shlogfs_keys_list(struct shlogfs *fs, struct shlogfs_node *d,
			     struct shlogfs_dir *out)
{
	shlogfs_bpart *p;
	int rc = shlogfs_node_part(fs, d, &p);

	if (rc)
		return rc;
	rc = shlogfs_key_foreach(p, shlogfs_keys_list_one, out);
	shlogfs_part_put(p);
	return rc > 0 ? -ENOMEM : rc;
}

/* peek op: a key file's inode number, if known. */
static fuse_ino_t shlogfs_keys_peek(struct shlogfs *fs, struct shlogfs_node *d,
				    const char *name)
{
	struct shlogfs_name nm = { &shlogfs_kind_key, d->topic, d->part, name };

	return shlogfs_node_peek(fs, &nm);
}

/* Append "key<TAB>@p val" to @p p (an empty value: a tombstone). */
static int shlogfs_key_append(shlogfs_bpart *p, shlogfs_bwriter *w, const char *key,
			      size_t klen, const char *val, size_t vlen, int flags)
{
	struct shlogfs_buf msg = { 0 };
	int rc;

	if ((rc = shlogfs_buf_add(&msg, key, klen)) == 0 &&
	    (rc = shlogfs_buf_add(&msg, "\t", 1)) == 0 &&
	    (rc = shlogfs_buf_add(&msg, val, vlen)) == 0)
		rc = shlogfs_fw_after(p, shlogfs_part_append(p, w, msg.p, msg.len,
							     flags, NULL));
	shlogfs_buf_free(&msg);
	return rc;
}

/* unlink op: rm keys/<key> appends a tombstone. */
static int shlogfs_keys_unlink(struct shlogfs *fs, struct shlogfs_node *d,
			       const char *name)
{
	struct shlogfs_name nm = { &shlogfs_kind_key, d->topic, d->part, name };
	struct shlogfs_name log = { &shlogfs_kind_log, d->topic, d->part, NULL };
	struct shlog_keyref ref;
	size_t len = strlen(name);
	shlogfs_bpart *p;
	int rc;

	if (shlogfs_key_name_check(name))
		return -ENOENT;
	if (fs->wb_on) {
		/* a tombstone would move the log's end behind the kernel */
		shlogfs_log(LOG_NOTICE, "%s/%u: rm of keys/%s refused with -o "
			    "writeback", d->topic, d->part, name);
		return -EPERM;
	}
	if ((rc = shlogfs_node_part(fs, d, &p)))
		return rc;
	rc = shlogfs_key_lookup(p, name, len, &ref);
	if (rc == 0 && shlogfs_restore_span_has(fs, d->topic, d->part, ref.off)) {
		/* tar unlinks an old archive's keys/K before extracting it */
		shlogfs_log(LOG_NOTICE, "%s/%u: rm of keys/%s refused (EPERM): its "
			    "value came from a restore of the log; remove it with "
			    "echo > keys/%s", d->topic, d->part, name, name);
		rc = -EPERM;
	}
	if (rc == 0 && (rc = shlogfs_pc_feed_begin(fs, &log)) == 0) {
		rc = shlogfs_key_append(p, NULL, name, len, "", 0, 0);
		shlogfs_pc_feed_end(fs, &log);
	}
	shlogfs_part_put(p);
	if (rc == 0)
		shlogfs_node_unlink_name(fs, &nm);
	return rc;
}

/* ==== a key's handle ================================================== */

/* Read the current value of @p h's key (plus '\n') into h->buf. */
static int shlogfs_key_load(struct shlogfs_handle *h)
{
	struct shlog_keyref ref;
	int rc = shlogfs_key_lookup(h->part, h->key, h->klen, &ref);

	h->buf.len = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	size_t vlen = ref.len > ref.klen ? ref.len - ref.klen - 1 : 0;
	uint64_t off = ref.off + ref.klen + 1;
	if ((rc = shlogfs_buf_reserve(&h->buf, vlen + 1)))
		return rc;
	while (h->buf.len < vlen) {
		ssize_t r = shlogfs_part_read(h->part, off + h->buf.len,
					    h->buf.p + h->buf.len,
					    vlen - h->buf.len);
		if (r <= 0)
			return r < 0 ? (int)r : -EIO;
		h->buf.len += (size_t)r;
	}
	h->buf.p[h->buf.len++] = '\n';
	return 0;
}

/* 1 if @p val is the key's latest value already (asked only of a key a
 * restore set: cp -a of an old archive rewrites keys/K after the log). */
static int shlogfs_key_same(struct shlogfs_handle *h, const char *val,
			    size_t vlen)
{
	struct shlog_keyref ref;
	char tmp[4096];
	uint64_t off;

	if (shlogfs_key_lookup(h->part, h->key, h->klen, &ref) ||
	    ref.len != ref.klen + 1 + vlen)
		return 0;
	off = ref.off + ref.klen + 1;
	for (size_t at = 0; at < vlen;) {
		size_t want = vlen - at < sizeof tmp ? vlen - at : sizeof tmp;
		ssize_t r = shlogfs_part_read(h->part, off + at, tmp, want);
		if (r <= 0 || memcmp(tmp, val + at, (size_t)r) != 0)
			return 0;
		at += (size_t)r;
	}
	return 1;
}

/* Append a written value (under h->lock); nothing if not written, or if
 * it is the key's value already. */
static int shlogfs_key_commit(struct shlogfs_handle *h, int flags)
{
	SL_HELD(&h->lock);
	size_t vlen = h->buf.len;
	int rc;

	if (!h->dirty || h->dropping)
		return 0;
	if (vlen && h->buf.p[vlen - 1] == '\n')
		vlen--;
	if (memchr(h->buf.p, '\n', vlen))
		return -EINVAL; /* a value is one line */
	if (vlen > 0 && h->restore && shlogfs_key_same(h, h->buf.p, vlen))
		rc = 0;
	else
		rc = shlogfs_key_append(h->part, h->writer, h->key, h->klen, h->buf.p,
					vlen, flags);
	if (rc == 0)
		h->dirty = 0;
	return rc;
}

/* Commit a written value, taking h->lock. */
static int shlogfs_key_commit_locked(struct shlogfs_handle *h)
{
	int rc;

	pthread_mutex_lock(&h->lock);
	rc = shlogfs_key_commit(h, 0);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* 1 if the latest value of @p n's key was appended by a restore. */
static int shlogfs_key_restored(struct shlogfs *fs, struct shlogfs_node *n,
				shlogfs_bpart *p)
{
	struct shlog_keyref ref;

	return shlogfs_key_lookup(p, n->name, n->nlen, &ref) == 0 &&
	       shlogfs_restore_span_has(fs, n->topic, n->part, ref.off);
}

/* Set up a key handle: partition, key name, current value. */
static int shlogfs_key_setup(struct shlogfs *fs, struct shlogfs_node *n,
			     struct shlogfs_handle *h, int flags)
{
	int rc = shlogfs_node_part(fs, n, &h->part);

	if (rc)
		return rc;
	h->key = strdup(n->name);
	if (!h->key)
		return -ENOMEM;
	h->klen = n->nlen;
	h->restore = shlogfs_key_restored(fs, n, h->part);
	/* O_TRUNC empties the new value; only a write makes it a message
	 * (shells close a dup of the file before echo writes to it) */
	if (!(flags & O_TRUNC) && (rc = shlogfs_key_load(h)))
		return rc;
	shlogfs_handle_snap(fs, h, h->buf.len);
	return 0;
}

/* open op: a snapshot of the value, which writes replace. */
static int shlogfs_key_open(struct shlogfs *fs, struct shlogfs_node *n,
			    struct shlogfs_handle *h,
			    const struct shlogfs_cred *c,
			    struct fuse_file_info *fi)
{
	(void)c;
	if ((fi->flags & O_ACCMODE) != O_RDONLY && fs->wb_on)
		return shlogfs_wb_refused(n, "keys/<key>");
	fi->direct_io = 1;
	return shlogfs_key_setup(fs, n, h, fi->flags);
}

/*
 * 0 if writing @p size bytes at @p off leaves a value of one line: a
 * '\n' only as its last byte.  Else -EINVAL, and the handle refuses
 * every later write and commits nothing (under h->lock).
 */
static int shlogfs_key_one_line(struct shlogfs_handle *h, const char *buf,
				size_t size, uint64_t off)
{
	uint64_t len = h->buf.len, newlen = off + size > len ? off + size : len;
	const char *nl = memchr(buf, '\n', size);
	int bad = h->dropping;

	SL_HELD(&h->lock);
	/* in the write: a '\n' that is not the value's last byte */
	if (nl && off + (uint64_t)(nl - buf) + 1 != newlen)
		bad = 1;
	/* before it: the old last '\n', written behind */
	if (len > 0 && h->buf.p[len - 1] == '\n' && off >= len && size > 0)
		bad = 1;
	if (!bad)
		return 0;
	if (!h->dropping)
		shlogfs_log(LOG_NOTICE, "%s/%u/keys/%s: a value with a newline "
			    "refused (EINVAL): a key's value is one line; nothing "
			    "stored", h->node->topic, h->node->part, h->key);
	h->dropping = 1;
	h->dirty = 0;
	return -EINVAL;
}

/* Write into the new value at any offset (under h->lock). */
static ssize_t shlogfs_key_put(struct shlogfs *fs, struct shlogfs_handle *h,
			       const char *buf, size_t size, uint64_t off)
{
	SL_HELD(&h->lock);
	if (off + size > fs->max_message)
		return -EFBIG;
	if (shlogfs_key_one_line(h, buf, size, off))
		return -EINVAL;
	int rc = shlogfs_handle_grow(fs, h, (size_t)(off + size), "key write");
	if (rc == 0)
		rc = shlogfs_buf_reserve(&h->buf, off + size);
	if (rc)
		return rc;
	if (off > h->buf.len)
		memset(h->buf.p + h->buf.len, 0, off - h->buf.len);
	memcpy(h->buf.p + off, buf, size);
	if (off + size > h->buf.len)
		h->buf.len = off + size;
	h->dirty = 1;
	shlogfs_handle_snap(fs, h, h->buf.len);
	return (ssize_t)size;
}

/* write op: into the new value. */
static ssize_t shlogfs_key_write(struct shlogfs *fs, struct shlogfs_handle *h,
				 const char *buf, size_t size, uint64_t off,
				 int fflags, struct shlogfs_wb_fix *fix)
{
	ssize_t rc;

	(void)fflags;
	(void)fix;
	pthread_mutex_lock(&h->lock);
	rc = shlogfs_key_put(fs, h, buf, size, off);
	shlogfs_handle_settle(fs, h);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* setattr size on an open key file: cut or extend its new value. */
static int shlogfs_key_truncate_open(struct shlogfs *fs,
				     struct shlogfs_handle *h, uint64_t size)
{
	int rc = 0;

	if (size > fs->max_message)
		return -EFBIG;
	pthread_mutex_lock(&h->lock);
	if (size > h->buf.len) {
		rc = shlogfs_handle_grow(fs, h, (size_t)size, "key truncate");
		if (rc == 0)
			rc = shlogfs_buf_reserve(&h->buf, size);
		if (rc == 0)
			memset(h->buf.p + h->buf.len, 0, size - h->buf.len);
	}
	if (rc == 0) {
		h->buf.len = size;
		h->dirty = 1;
		shlogfs_handle_snap(fs, h, size);
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* truncate op: an open file's new value, else only to the size it has. */
static int shlogfs_key_truncate(struct shlogfs *fs, struct shlogfs_node *n,
				fuse_req_t req, uint64_t size,
				struct shlogfs_handle *h)
{
	if (h)
		return shlogfs_key_truncate_open(fs, h, size);
	return shlogfs_truncate_to_end(fs, n, req, size, 0);
}

/*
 * flush op (every close() of a descriptor): commit a written value, so
 * close() reports its errors and a read right after sees it.
 */
static int shlogfs_key_flush(struct shlogfs_handle *h)
{
	return shlogfs_key_commit_locked(h);
}

/* fsync op: the value committed and durable. */
static int shlogfs_key_fsync(struct shlogfs_handle *h)
{
	int rc = shlogfs_key_commit_locked(h);

	return rc ? rc : shlogfs_part_sync(h->part, h->writer);
}

/* release op: a value not committed yet is committed now. */
static int shlogfs_key_release(struct shlogfs *fs, struct shlogfs_handle *h)
{
	(void)fs;
	return shlogfs_key_commit_locked(h);
}

/* attr op: an open snapshot's size, else the value's plus '\n'. */
static int shlogfs_key_attr(struct shlogfs *fs, struct shlogfs_node *n,
			    fuse_req_t req, struct stat *st)
{
	uint64_t size = 0;
	int rc = 0;

	(void)req;
	if (!shlogfs_node_snap_size(fs, n, &size))
		rc = shlogfs_key_size(fs, n, n->name, &size);
	if (rc == 0)
		shlogfs_stat_size(st, size, 0);
	return rc;
}

/* ==== create ========================================================== */

/* An entry for a key not written yet: an empty file with the directory's owner. */
static int shlogfs_key_stat_new(struct shlogfs *fs, struct shlogfs_node *n,
				struct stat *st)
{
	int rc = shlogfs_dir_stat(fs->store, n->topic, n->part, st);

	st->st_mode = shlogfs_kind_mode(&shlogfs_kind_key, st->st_mode);
	st->st_size = 0;
	st->st_nlink = 1;
	st->st_ino = shlogfs_node_ino(fs, n);
	return rc;
}

/* Open a new key handle on @p n into @p fi (create): as any open. */
static int shlogfs_key_create_open(struct shlogfs *fs, struct shlogfs_node *n,
				   struct fuse_file_info *fi,
				   const struct shlogfs_cred *c)
{
	fi->fh = 0;
	if (fs->wb_on)
		return shlogfs_wb_refused(n, "keys/<key>");
	return shlogfs_handle_open(fs, n, c, fi);
}

/* create op: open keys/<key> for a new value (O_EXCL: only a new key). */
static int shlogfs_keys_create(struct shlogfs *fs, fuse_req_t req,
			       struct shlogfs_node *d, const char *name,
			       struct fuse_file_info *fi,
			       struct fuse_entry_param *e)
{
	struct shlogfs_name nm;
	struct shlogfs_node *n;
	struct shlogfs_cred c;
	int rc;

	if (shlogfs_keys_resolve(fs, d, name, &nm) == 0) {
		if (fi->flags & O_EXCL)
			return -EEXIST;
	} else if ((rc = shlogfs_key_name_check(name))) {
		return rc;
	} else if (fi->flags & O_EXCL) {
		/* tar and cp extracting an old archive's keys/<key> */
		shlogfs_log(LOG_NOTICE, "%s/%u/keys/%s: exclusive create refused "
			    "(EPERM): a key is written with > or >>, not "
			    "restored as a file", d->topic, d->part, name);
		return -EPERM;
	}
	if (!(n = shlogfs_node_intern(fs, &nm, d->ino)))
		return -ENOMEM;
	memset(e, 0, sizeof *e);
	shlogfs_cred_get(req, &c);
	if ((rc = shlogfs_key_create_open(fs, n, fi, &c)) == 0 &&
	    (rc = shlogfs_node_stat(fs, n, &e->attr)) == -ENOENT)
		rc = shlogfs_key_stat_new(fs, n, &e->attr);
	if (rc) {
		if (fi->fh)
			shlogfs_handle_drop(fs, shlogfs_fh(fi));
		shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
		return rc;
	}
	e->ino = shlogfs_node_ino(fs, n);
	return 0;
}

/* ==== the kinds ======================================================= */

const struct shlogfs_kind shlogfs_kind_keysdir = {
	.name = "keys",
	.type = S_IFDIR,
	.perm = 0777,
	.owner = SHLOGFS_OWNER_PART,
	.resolve = shlogfs_keys_resolve,
	.list = shlogfs_keys_list,
	.peek = shlogfs_keys_peek,
	.unlink = shlogfs_keys_unlink,
	.create = shlogfs_keys_create,
};

static const struct shlogfs_kind shlogfs_kind_key = {
	.type = S_IFREG,
	.perm = 0666,
	.owner = SHLOGFS_OWNER_PART,
	.leaf = 1,
	.generated = 1,
	.held = "key value",
	.feeds = &shlogfs_kind_log,
	.attr = shlogfs_key_attr,
	.truncate = shlogfs_key_truncate,
	.open = shlogfs_key_open,
	.read = shlogfs_read_snap,
	.write = shlogfs_key_write,
	.flush = shlogfs_key_flush,
	.fsync = shlogfs_key_fsync,
	.release = shlogfs_key_release,
};
