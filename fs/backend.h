/*
 * backend.h — the storage beneath the tree (docs/KAFKA.md, "The backend
 * interface").
 *
 * Everything the daemon asks of storage goes through one table of
 * operations, struct shlogfs_backend.  The tree, the line framing, the
 * permissions, the handles, the status files and .metrics are written
 * once, above it; each storage is one implementation:
 *
 *   be_local.c   the local engine (libshlog, core/shlog.h): the default
 *   be_kafka.c   a Kafka cluster through librdkafka (-o backend=kafka)
 *
 * The table speaks core's vocabulary: sequence numbers (a Kafka backend's
 * offsets), logical byte offsets (its byte index's positions), and the
 * plain data structs of core/shlog.h (struct shlog_part_info,
 * shlog_keyref, shlog_index_entry, shlog_part_latency, shlog_options).
 * Each operation returns what the core call of the same name documents
 * (0 or a negative errno); a backend that cannot do one returns
 * -EOPNOTSUPP, which the daemon shows as that errno.
 *
 * Handles are opaque: each backend casts them to its own objects.  A
 * daemon serves one backend; shlogfs_backend_set() installs it before the
 * first call, and the inline wrappers below dispatch through it.
 */
#ifndef SHLOGFS_BACKEND_H
#define SHLOGFS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "shlog.h"

/** An open store (a data dir, a cluster). */
typedef struct shlogfs_bstore shlogfs_bstore;
/** A counted reference on one partition (part_get ... part_put). */
typedef struct shlogfs_bpart shlogfs_bpart;
/** One file handle's appends, for fsync (NULL where a backend needs none). */
typedef struct shlogfs_bwriter shlogfs_bwriter;

/** Callback types, as core's. */
typedef int shlogfs_topic_fn(const char *topic, void *arg);
typedef int shlogfs_aside_fn(const char *topic, int64_t part, int err, const char *why,
			     void *arg);
typedef int shlogfs_index_fn(const struct shlog_index_entry *e, void *arg);
typedef int shlogfs_key_fn(const void *key, size_t klen, const struct shlog_keyref *ref,
			   void *arg);
typedef int shlogfs_cursor_fn(const char *name, uint64_t seq, void *arg);
/** Receives one line of a backend's state (no '\n'), for the status text. */
typedef void shlogfs_line_fn(const char *line, void *arg);

/** The operations of one storage. */
struct shlogfs_backend {
	const char *name;                      /**< "local", "kafka" */
	/** close() of a written file waits for its appends to be durable
	 *  (fsync's semantics), so it reports their failures (Kafka: a
	 *  delivery is not done until the cluster acknowledges it). */
	int close_waits;

	/* ---- the store ---- */
	int (*store_close)(shlogfs_bstore *s);
	int (*store_sync)(shlogfs_bstore *s);
	const struct shlog_options *(*store_options)(shlogfs_bstore *s);
	int (*aside_foreach)(shlogfs_bstore *s, shlogfs_aside_fn *fn, void *arg);
	/** The control socket's listening fd (shlogctl sync), or -EOPNOTSUPP. */
	int (*ctl_listen)(shlogfs_bstore *s);
	void (*ctl_unlisten)(shlogfs_bstore *s, int fd);
	/**
	 * The backend's own state, one line per call of @fn: with @metrics,
	 * Prometheus lines (HELP, TYPE, samples) appended to /.metrics; else
	 * text lines shown in /.status under "backend: NAME".  Shown to every
	 * reader of those files: store-wide figures only (brokers, deliveries
	 * in flight and failed), nothing naming a topic.  NULL: none.
	 */
	void (*state_lines)(shlogfs_bstore *s, int metrics, shlogfs_line_fn *fn, void *arg);

	/* ---- topics and their directories ---- */
	int (*topic_foreach)(shlogfs_bstore *s, shlogfs_topic_fn *fn, void *arg);
	int (*topic_nparts)(shlogfs_bstore *s, const char *topic, uint32_t *nparts);
	int (*topic_create)(shlogfs_bstore *s, const char *topic, uint32_t nparts);
	int (*topic_add_part)(shlogfs_bstore *s, const char *topic, uint32_t *out);
	int (*topic_delete)(shlogfs_bstore *s, const char *topic);
	int (*dir_stat)(shlogfs_bstore *s, const char *topic, int64_t part, struct stat *st);
	int (*dir_chmod)(shlogfs_bstore *s, const char *topic, int64_t part, mode_t mode);
	int (*dir_chown)(shlogfs_bstore *s, const char *topic, int64_t part, uid_t uid,
			 gid_t gid);

	/* ---- partitions ---- */
	int (*part_get)(shlogfs_bstore *s, const char *topic, uint32_t part,
			shlogfs_bpart **out);
	void (*part_put)(shlogfs_bpart *p);
	int (*part_info)(shlogfs_bpart *p, struct shlog_part_info *info);
	int (*part_latency)(shlogfs_bpart *p, struct shlog_part_latency *out);
	/** More "name value" lines for the partition's stats file: the
	 *  backend's own state of it (Kafka: watermarks, indexer lag); NULL: none. */
	void (*part_lines)(shlogfs_bpart *p, shlogfs_line_fn *fn, void *arg);

	/* ---- appending ---- */
	/** A writer for one file handle; *out may be NULL (the backend needs none). */
	int (*writer_new)(shlogfs_bstore *s, shlogfs_bwriter **out);
	void (*writer_free)(shlogfs_bwriter *w);
	int (*append)(shlogfs_bpart *p, shlogfs_bwriter *w, const void *msg, size_t len,
		      int flags, uint64_t *seq);
	int (*append_lines)(shlogfs_bpart *p, shlogfs_bwriter *w, const void *buf, size_t len,
			    int flags, uint64_t *first_seq);
	/**
	 * The partition (0 .. nparts-1) a keyed line of <topic>/log goes to:
	 * the backend's own partitioner, so a key lands where that storage's
	 * producers put it (local: FNV-1a; Kafka: the Java client's murmur2).
	 * @klen > 0; keyless lines are spread by the tree.
	 */
	uint32_t (*key_route)(const void *key, size_t klen, uint32_t nparts);
	/** Everything @w appended to @p before the call is durable (w NULL: everyone's). */
	int (*part_sync)(shlogfs_bpart *p, shlogfs_bwriter *w);

	/* ---- reading ---- */
	ssize_t (*part_read)(shlogfs_bpart *p, uint64_t off, void *buf, size_t len);
	int (*seek_seq)(shlogfs_bpart *p, uint64_t seq, uint64_t *off);
	int (*seek_time)(shlogfs_bpart *p, int64_t time_ns, uint64_t *seq, uint64_t *off);
	int (*index_foreach)(shlogfs_bpart *p, shlogfs_index_fn *fn, void *arg);
	int (*key_lookup)(shlogfs_bpart *p, const void *key, size_t klen,
			  struct shlog_keyref *ref);
	int (*key_foreach)(shlogfs_bpart *p, shlogfs_key_fn *fn, void *arg);

	/* ---- cursors ---- */
	int (*cursor_get)(shlogfs_bpart *p, const char *name, uint64_t *seq);
	int (*cursor_set)(shlogfs_bpart *p, const char *name, uint64_t seq, int flags);
	int (*cursor_delete)(shlogfs_bpart *p, const char *name);
	int (*cursor_foreach)(shlogfs_bpart *p, shlogfs_cursor_fn *fn, void *arg);
};

/** The local engine's table (be_local.c). */
extern const struct shlogfs_backend shlogfs_backend_local;

/** The backend in use (set once, before the first call). */
extern const struct shlogfs_backend *shlogfs_be;

/** Install @p be as the daemon's backend. */
void shlogfs_backend_set(const struct shlogfs_backend *be);

/** Open the local engine on @p dir (core's shlog_store_open). */
int shlogfs_local_open(const char *dir, const struct shlog_options *o, shlogfs_bstore **out);

/* ==== dispatch ======================================================== */
/* One wrapper per operation, so callers read like core's API. */

static inline int shlogfs_store_close(shlogfs_bstore *s) { return shlogfs_be->store_close(s); }
static inline int shlogfs_store_sync(shlogfs_bstore *s) { return shlogfs_be->store_sync(s); }
static inline const struct shlog_options *shlogfs_store_options(shlogfs_bstore *s)
{ return shlogfs_be->store_options(s); }
static inline int shlogfs_aside_foreach(shlogfs_bstore *s, shlogfs_aside_fn *fn, void *arg)
{ return shlogfs_be->aside_foreach(s, fn, arg); }

static inline int shlogfs_topic_foreach(shlogfs_bstore *s, shlogfs_topic_fn *fn, void *arg)
{ return shlogfs_be->topic_foreach(s, fn, arg); }
static inline int shlogfs_topic_nparts(shlogfs_bstore *s, const char *t, uint32_t *n)
{ return shlogfs_be->topic_nparts(s, t, n); }
static inline int shlogfs_topic_create(shlogfs_bstore *s, const char *t, uint32_t n)
{ return shlogfs_be->topic_create(s, t, n); }
static inline int shlogfs_topic_add_part(shlogfs_bstore *s, const char *t, uint32_t *out)
{ return shlogfs_be->topic_add_part(s, t, out); }
static inline int shlogfs_topic_delete(shlogfs_bstore *s, const char *t)
{ return shlogfs_be->topic_delete(s, t); }
static inline int shlogfs_dir_stat(shlogfs_bstore *s, const char *t, int64_t p, struct stat *st)
{ return shlogfs_be->dir_stat(s, t, p, st); }
static inline int shlogfs_dir_chmod(shlogfs_bstore *s, const char *t, int64_t p, mode_t m)
{ return shlogfs_be->dir_chmod(s, t, p, m); }
static inline int shlogfs_dir_chown(shlogfs_bstore *s, const char *t, int64_t p, uid_t u,
				    gid_t g)
{ return shlogfs_be->dir_chown(s, t, p, u, g); }

static inline int shlogfs_part_get(shlogfs_bstore *s, const char *t, uint32_t n,
				   shlogfs_bpart **out)
{ return shlogfs_be->part_get(s, t, n, out); }
static inline void shlogfs_part_put(shlogfs_bpart *p) { shlogfs_be->part_put(p); }
static inline int shlogfs_part_info(shlogfs_bpart *p, struct shlog_part_info *i)
{ return shlogfs_be->part_info(p, i); }
static inline int shlogfs_part_latency(shlogfs_bpart *p, struct shlog_part_latency *o)
{ return shlogfs_be->part_latency(p, o); }

static inline int shlogfs_writer_new(shlogfs_bstore *s, shlogfs_bwriter **out)
{ return shlogfs_be->writer_new(s, out); }
static inline void shlogfs_writer_free(shlogfs_bwriter *w)
{ if (w) shlogfs_be->writer_free(w); }
static inline int shlogfs_part_append(shlogfs_bpart *p, shlogfs_bwriter *w, const void *m,
				      size_t len, int flags, uint64_t *seq)
{ return shlogfs_be->append(p, w, m, len, flags, seq); }
static inline int shlogfs_part_append_lines(shlogfs_bpart *p, shlogfs_bwriter *w,
					    const void *buf, size_t len, int flags,
					    uint64_t *first)
{ return shlogfs_be->append_lines(p, w, buf, len, flags, first); }
static inline uint32_t shlogfs_key_route(const void *k, size_t klen, uint32_t nparts)
{ return shlogfs_be->key_route(k, klen, nparts); }
static inline int shlogfs_part_sync(shlogfs_bpart *p, shlogfs_bwriter *w)
{ return shlogfs_be->part_sync(p, w); }

static inline ssize_t shlogfs_part_read(shlogfs_bpart *p, uint64_t off, void *buf, size_t len)
{ return shlogfs_be->part_read(p, off, buf, len); }
static inline int shlogfs_part_seek_seq(shlogfs_bpart *p, uint64_t seq, uint64_t *off)
{ return shlogfs_be->seek_seq(p, seq, off); }
static inline int shlogfs_part_seek_time(shlogfs_bpart *p, int64_t ns, uint64_t *seq,
					 uint64_t *off)
{ return shlogfs_be->seek_time(p, ns, seq, off); }
static inline int shlogfs_part_index_foreach(shlogfs_bpart *p, shlogfs_index_fn *fn, void *arg)
{ return shlogfs_be->index_foreach(p, fn, arg); }
static inline int shlogfs_key_lookup(shlogfs_bpart *p, const void *k, size_t klen,
				     struct shlog_keyref *ref)
{ return shlogfs_be->key_lookup(p, k, klen, ref); }
static inline int shlogfs_key_foreach(shlogfs_bpart *p, shlogfs_key_fn *fn, void *arg)
{ return shlogfs_be->key_foreach(p, fn, arg); }

static inline int shlogfs_cursor_get(shlogfs_bpart *p, const char *n, uint64_t *seq)
{ return shlogfs_be->cursor_get(p, n, seq); }
static inline int shlogfs_cursor_set(shlogfs_bpart *p, const char *n, uint64_t seq, int fl)
{ return shlogfs_be->cursor_set(p, n, seq, fl); }
static inline int shlogfs_cursor_delete(shlogfs_bpart *p, const char *n)
{ return shlogfs_be->cursor_delete(p, n); }
static inline int shlogfs_cursor_foreach(shlogfs_bpart *p, shlogfs_cursor_fn *fn, void *arg)
{ return shlogfs_be->cursor_foreach(p, fn, arg); }

#endif /* SHLOGFS_BACKEND_H */
