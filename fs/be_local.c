/*
 * be_local.c — the local engine as a backend (backend.h): each operation
 * is the libshlog call of the same name (core/shlog.h), with the
 * handles cast back to core's.  The engine needs no per-handle writer:
 * a partition's sync makes every append before it durable, so
 * writer_new gives NULL and part_sync ignores its writer.
 */
#include "backend.h"
#include "text.h"

/* ==== handles ========================================================= */

/* Core's store behind a backend store. */
static shlog_store *bl_store(shlogfs_bstore *s)
{
	return (shlog_store *)s;
}

/* Core's partition behind a backend partition. */
static shlog_part *bl_part(shlogfs_bpart *p)
{
	return (shlog_part *)p;
}

/* Open the local engine on @p dir (core's shlog_store_open). */
int shlogfs_local_open(const char *dir, const struct shlog_options *o, shlogfs_bstore **out)
{
	shlog_store *s = NULL;
	int rc = shlog_store_open(dir, o, &s);

	*out = (shlogfs_bstore *)s;
	return rc;
}

/* ==== the store ======================================================= */

/* store_close: core's close (flush, sync, clean anchors). */
static int bl_store_close(shlogfs_bstore *s)
{
	return shlog_store_close(bl_store(s));
}

/* store_sync: every partition durable. */
static int bl_store_sync(shlogfs_bstore *s)
{
	return shlog_store_sync(bl_store(s));
}

/* store_options: the options in force. */
static const struct shlog_options *bl_store_options(shlogfs_bstore *s)
{
	return shlog_store_options(bl_store(s));
}

/* aside_foreach: the topics set aside at open. */
static int bl_aside_foreach(shlogfs_bstore *s, shlogfs_aside_fn *fn, void *arg)
{
	return shlog_store_aside_foreach(bl_store(s), fn, arg);
}

/* ctl_listen: DATADIR/.ctl. */
static int bl_ctl_listen(shlogfs_bstore *s)
{
	return shlog_ctl_listen(bl_store(s));
}

/* ctl_unlisten: close it and remove DATADIR/.ctl. */
static void bl_ctl_unlisten(shlogfs_bstore *s, int fd)
{
	shlog_ctl_unlisten(bl_store(s), fd);
}

/* ==== topics ========================================================== */

/* topic_foreach: every topic, in name order. */
static int bl_topic_foreach(shlogfs_bstore *s, shlogfs_topic_fn *fn, void *arg)
{
	return shlog_topic_foreach(bl_store(s), fn, arg);
}

/* topic_nparts: its partition count. */
static int bl_topic_nparts(shlogfs_bstore *s, const char *t, uint32_t *n)
{
	return shlog_topic_nparts(bl_store(s), t, n);
}

/* topic_create: a new topic of @p n partitions. */
static int bl_topic_create(shlogfs_bstore *s, const char *t, uint32_t n)
{
	return shlog_topic_create(bl_store(s), t, n);
}

/* topic_add_part: one more partition. */
static int bl_topic_add_part(shlogfs_bstore *s, const char *t, uint32_t *out)
{
	return shlog_topic_add_part(bl_store(s), t, out);
}

/* topic_delete: the topic and its data. */
static int bl_topic_delete(shlogfs_bstore *s, const char *t)
{
	return shlog_topic_delete(bl_store(s), t);
}

/* dir_stat: mode, owner and times of a topic or partition directory. */
static int bl_dir_stat(shlogfs_bstore *s, const char *t, int64_t p, struct stat *st)
{
	return shlog_dir_stat(bl_store(s), t, p, st);
}

/* dir_chmod: kept in its meta file. */
static int bl_dir_chmod(shlogfs_bstore *s, const char *t, int64_t p, mode_t m)
{
	return shlog_dir_chmod(bl_store(s), t, p, m);
}

/* dir_chown: kept in its meta file. */
static int bl_dir_chown(shlogfs_bstore *s, const char *t, int64_t p, uid_t u, gid_t g)
{
	return shlog_dir_chown(bl_store(s), t, p, u, g);
}

/* ==== partitions ====================================================== */

/* part_get: a counted reference. */
static int bl_part_get(shlogfs_bstore *s, const char *t, uint32_t n, shlogfs_bpart **out)
{
	shlog_part *p = NULL;
	int rc = shlog_part_get(bl_store(s), t, n, &p);

	*out = (shlogfs_bpart *)p;
	return rc;
}

/* part_put: drop it. */
static void bl_part_put(shlogfs_bpart *p)
{
	shlog_part_put(bl_part(p));
}

/* part_info: state and counters. */
static int bl_part_info(shlogfs_bpart *p, struct shlog_part_info *i)
{
	return shlog_part_info(bl_part(p), i);
}

/* part_latency: the engine's histograms. */
static int bl_part_latency(shlogfs_bpart *p, struct shlog_part_latency *o)
{
	return shlog_part_latency(bl_part(p), o);
}

/* ==== appending ======================================================= */

/* writer_new: the engine needs none. */
static int bl_writer_new(shlogfs_bstore *s, shlogfs_bwriter **out)
{
	(void)s;
	*out = NULL;
	return 0;
}

/* writer_free: nothing to free. */
static void bl_writer_free(shlogfs_bwriter *w)
{
	(void)w;
}

/* append: one message. */
static int bl_append(shlogfs_bpart *p, shlogfs_bwriter *w, const void *m, size_t len,
		     int flags, uint64_t *seq)
{
	(void)w;
	return shlog_part_append(bl_part(p), m, len, flags, seq);
}

/* append_lines: complete lines as one unit. */
static int bl_append_lines(shlogfs_bpart *p, shlogfs_bwriter *w, const void *buf, size_t len,
			   int flags, uint64_t *first)
{
	(void)w;
	return shlog_part_append_lines(bl_part(p), buf, len, flags, first);
}

/* key_route: FNV-1a of the key. */
static uint32_t bl_key_route(const void *k, size_t klen, uint32_t nparts)
{
	return shlogfs_fnv1a(k, klen) % nparts;
}

/* part_sync: everything appended before is durable (whoever's). */
static int bl_part_sync(shlogfs_bpart *p, shlogfs_bwriter *w)
{
	(void)w;
	return shlog_part_sync(bl_part(p));
}

/* ==== reading ========================================================= */

/* part_read: bytes of the log at a logical offset. */
static ssize_t bl_part_read(shlogfs_bpart *p, uint64_t off, void *buf, size_t len)
{
	return shlog_part_read(bl_part(p), off, buf, len);
}

/* seek_seq: message number to offset. */
static int bl_seek_seq(shlogfs_bpart *p, uint64_t seq, uint64_t *off)
{
	return shlog_part_seek_seq(bl_part(p), seq, off);
}

/* seek_time: first message at or after a time. */
static int bl_seek_time(shlogfs_bpart *p, int64_t ns, uint64_t *seq, uint64_t *off)
{
	return shlog_part_seek_time(bl_part(p), ns, seq, off);
}

/* index_foreach: the sparse index. */
static int bl_index_foreach(shlogfs_bpart *p, shlogfs_index_fn *fn, void *arg)
{
	return shlog_part_index_foreach(bl_part(p), fn, arg);
}

/* key_lookup: a key's latest live message. */
static int bl_key_lookup(shlogfs_bpart *p, const void *k, size_t klen, struct shlog_keyref *ref)
{
	return shlog_key_lookup(bl_part(p), k, klen, ref);
}

/* key_foreach: every live key. */
static int bl_key_foreach(shlogfs_bpart *p, shlogfs_key_fn *fn, void *arg)
{
	return shlog_key_foreach(bl_part(p), fn, arg);
}

/* ==== cursors ========================================================= */

/* cursor_get: a cursor's committed position. */
static int bl_cursor_get(shlogfs_bpart *p, const char *n, uint64_t *seq)
{
	return shlog_cursor_get(bl_part(p), n, seq);
}

/* cursor_set: commit a cursor durably. */
static int bl_cursor_set(shlogfs_bpart *p, const char *n, uint64_t seq, int fl)
{
	return shlog_cursor_set(bl_part(p), n, seq, fl);
}

/* cursor_delete: remove a cursor durably. */
static int bl_cursor_delete(shlogfs_bpart *p, const char *n)
{
	return shlog_cursor_delete(bl_part(p), n);
}

/* cursor_foreach: every cursor, in name order. */
static int bl_cursor_foreach(shlogfs_bpart *p, shlogfs_cursor_fn *fn, void *arg)
{
	return shlog_cursor_foreach(bl_part(p), fn, arg);
}

/* ==== the table ======================================================= */

const struct shlogfs_backend shlogfs_backend_local = {
	.name = "local",
	.close_waits = 0,
	.store_close = bl_store_close,
	.store_sync = bl_store_sync,
	.store_options = bl_store_options,
	.aside_foreach = bl_aside_foreach,
	.ctl_listen = bl_ctl_listen,
	.ctl_unlisten = bl_ctl_unlisten,
	.state_lines = NULL,
	.topic_foreach = bl_topic_foreach,
	.topic_nparts = bl_topic_nparts,
	.topic_create = bl_topic_create,
	.topic_add_part = bl_topic_add_part,
	.topic_delete = bl_topic_delete,
	.dir_stat = bl_dir_stat,
	.dir_chmod = bl_dir_chmod,
	.dir_chown = bl_dir_chown,
	.part_get = bl_part_get,
	.part_put = bl_part_put,
	.part_info = bl_part_info,
	.part_latency = bl_part_latency,
	.part_lines = NULL,
	.writer_new = bl_writer_new,
	.writer_free = bl_writer_free,
	.append = bl_append,
	.append_lines = bl_append_lines,
	.key_route = bl_key_route,
	.part_sync = bl_part_sync,
	.part_read = bl_part_read,
	.seek_seq = bl_seek_seq,
	.seek_time = bl_seek_time,
	.index_foreach = bl_index_foreach,
	.key_lookup = bl_key_lookup,
	.key_foreach = bl_key_foreach,
	.cursor_get = bl_cursor_get,
	.cursor_set = bl_cursor_set,
	.cursor_delete = bl_cursor_delete,
	.cursor_foreach = bl_cursor_foreach,
};
