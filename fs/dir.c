/*
 * dir.c — names: lookup, forget, readdir, mkdir, rmdir, unlink, create
 * and the refusals, plus the operations table.
 *
 * Names that only change through this mount (topics, partitions, the
 * fixed files) are cached by the kernel for a second; at/<N>,
 * since/<time> and keys/<key> are looked up every time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "shlogfs.h"

/* Entry timeout of names that only change through this mount. */
#define SHLOGFS_ENTRY_TIMEOUT 1.0

/* Take a reference on the partition a node belongs to. */
int shlogfs_node_part(struct shlogfs *fs, struct shlogfs_node *n,
		      shlog_part **out)
{
	return shlog_part_get(fs->store, n->topic, n->part, out);
}

/* ==== entries ========================================================= */

/* Fill an entry for @p n (one lookup already counted). */
static int shlogfs_entry(struct shlogfs *fs, struct shlogfs_node *n,
			 fuse_req_t req, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	int rc = shlogfs_stat_any(fs, n, req, &e->attr);
	if (rc)
		return rc;
	e->ino = shlogfs_node_ino(fs, n);
	e->attr_timeout = shlogfs_timeout(fs, n);
	e->entry_timeout = n->kind == SHLOGFS_AT || n->kind == SHLOGFS_SINCE ||
			   n->kind == SHLOGFS_KEY ||
			   (fs->wb_on && shlogfs_kind_is_generated(n->kind)) ?
			   0.0 : SHLOGFS_ENTRY_TIMEOUT;
	return 0;
}

/* Intern a node and reply with its entry (lookup, mkdir). */
static void shlogfs_reply_node(fuse_req_t req, enum shlogfs_kind kind,
			       const char *topic, uint32_t part,
			       const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct fuse_entry_param e;
	struct shlogfs_node *n;
	int rc;

	n = shlogfs_node_intern(fs, kind, topic, part, name);
	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = shlogfs_entry(fs, n, req, &e);
	if (rc == 0 && fs->wb_on && shlogfs_kind_is_generated(kind)) {
		/* the kernel keeps a cached inode's size: a new size, a new inode */
		struct shlogfs_node *m = shlogfs_node_settle(fs, n, (uint64_t)e.attr.st_size);
		if (m != n) {
			n = m;
			rc = shlogfs_entry(fs, n, req, &e);
		}
		if (rc == 0)
			shlogfs_node_sent(fs, n, (uint64_t)e.attr.st_size);
	}
	if (rc) {
		shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		shlogfs_node_forget(fs, e.ino, 1);
}

/* ==== lookup ========================================================== */

/* The fixed names inside a partition directory. */
static const struct {
	const char *name;
	enum shlogfs_kind kind;
	mode_t type;
} shlogfs_part_names[] = {
	{ "log", SHLOGFS_LOG, S_IFREG },
	{ "anchor", SHLOGFS_ANCHOR, S_IFREG },
	{ "index", SHLOGFS_INDEX, S_IFREG },
	{ "stats", SHLOGFS_STATS, S_IFREG },
	{ "at", SHLOGFS_ATDIR, S_IFDIR },
	{ "since", SHLOGFS_SINCEDIR, S_IFDIR },
	{ "keys", SHLOGFS_KEYSDIR, S_IFDIR },
};

/* 0 if @p name can be a key file: no TAB (it would end the key). */
static int shlogfs_key_name_check(const char *name)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '\t') || strchr(name, '\n'))
		return -EINVAL;
	return 0;
}

/*
 * Where at/<N> starts now: message N, clamped to the first retained one.
 * @p where is any node of the partition (its at/ directory, or the file).
 */
static int shlogfs_at_base(struct shlogfs *fs, struct shlogfs_node *where,
			   const char *name, uint64_t *base)
{
	uint64_t seq;
	shlog_part *p;
	int rc;

	if (shlogfs_u64_parse(name, &seq) || (name[0] == '0' && name[1]))
		return -ENOENT; /* one spelling per number: no leading zeros */
	if ((rc = shlogfs_node_part(fs, where, &p)))
		return rc;
	rc = shlog_part_seek_seq(p, seq, base);
	if (rc == -ENODATA) {
		struct shlog_part_info in;
		rc = shlog_part_info(p, &in);
		*base = in.start_off;
	}
	shlog_part_put(p);
	return rc == -ERANGE ? -ENOENT : rc;
}

/*
 * Where since/<time> starts now: the first retained message at or after
 * the time (the log's end while there is none).  @p where: as above.
 */
static int shlogfs_since_base(struct shlogfs *fs, struct shlogfs_node *where,
			      const char *name, uint64_t *base)
{
	int64_t ns;
	uint64_t seq;
	shlog_part *p;
	int rc;

	if (shlogfs_time_parse(name, &ns))
		return -ENOENT;
	if ((rc = shlogfs_node_part(fs, where, &p)))
		return rc;
	rc = shlog_part_seek_time(p, ns, &seq, base);
	shlog_part_put(p);
	return rc;
}

/*
 * Where the view of node @p n (at/<N>, since/<time>) starts now.  No
 * offset is kept in the node: retention moves the first message and
 * time moves the start of since/, so open and every stat ask again.
 */
int shlogfs_view_base(struct shlogfs *fs, struct shlogfs_node *n,
		      uint64_t *base)
{
	if (n->kind == SHLOGFS_AT)
		return shlogfs_at_base(fs, n, n->name, base);
	if (n->kind == SHLOGFS_SINCE)
		return shlogfs_since_base(fs, n, n->name, base);
	return -EINVAL;
}

/* Resolve @p name in directory @p d to a kind (and base). */
static int shlogfs_resolve(struct shlogfs *fs, struct shlogfs_node *d,
			   const char *name, enum shlogfs_kind *kind,
			   uint32_t *part, uint64_t *base)
{
	uint32_t nparts;
	uint64_t size;
	int rc;

	*part = d->part;
	*base = 0;
	switch (d->kind) {
	case SHLOGFS_ROOT:
		/* .metrics, .status: lookup-only (the root lists topics only) */
		if ((*kind = shlogfs_root_file_kind(name)) != SHLOGFS_ROOT)
			return 0;
		if (shlog_topic_name_check(name))
			return -ENOENT;
		*kind = SHLOGFS_TOPIC;
		return shlog_topic_nparts(fs->store, name, &nparts);
	case SHLOGFS_TOPIC:
		if (strcmp(name, "log") == 0) {
			*kind = SHLOGFS_TLOG;
			return 0;
		}
		if (shlog_part_name_parse(name, part))
			return -ENOENT;
		if ((rc = shlog_topic_nparts(fs->store, d->topic, &nparts)))
			return rc;
		*kind = SHLOGFS_PART;
		return *part < nparts ? 0 : -ENOENT;
	case SHLOGFS_PART:
		for (size_t i = 0; i < sizeof shlogfs_part_names /
					   sizeof shlogfs_part_names[0]; i++) {
			if (strcmp(name, shlogfs_part_names[i].name) == 0) {
				*kind = shlogfs_part_names[i].kind;
				return 0;
			}
		}
		return -ENOENT;
	case SHLOGFS_ATDIR:
		*kind = SHLOGFS_AT;
		return shlogfs_at_base(fs, d, name, base);
	case SHLOGFS_SINCEDIR:
		*kind = SHLOGFS_SINCE;
		return shlogfs_since_base(fs, d, name, base);
	case SHLOGFS_KEYSDIR: {
		struct shlogfs_node k = { .kind = SHLOGFS_KEY, .topic = d->topic,
					  .part = d->part, .name = (char *)name,
					  .nlen = strlen(name) };
		*kind = SHLOGFS_KEY;
		if (shlogfs_key_name_check(name))
			return -ENOENT;
		return shlogfs_key_size(fs, &k, &size);
	}
	default:
		return -ENOTDIR;
	}
}

/* lookup: find a name; long names are refused here (the kernel does not). */
static void shlogfs_op_lookup(fuse_req_t req, fuse_ino_t parent,
			      const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d = shlogfs_node_of(fs, parent);
	enum shlogfs_kind kind;
	uint32_t part;
	uint64_t base;
	int rc;

	if (strlen(name) > SHLOGFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if ((rc = shlogfs_node_live(d)) ||
	    (rc = shlogfs_resolve(fs, d, name, &kind, &part, &base))) {
		fuse_reply_err(req, -rc);
		return;
	}
	shlogfs_reply_node(req, kind, d->kind == SHLOGFS_ROOT ? name : d->topic,
			   part, kind == SHLOGFS_AT || kind == SHLOGFS_SINCE ||
			   kind == SHLOGFS_KEY ? name : NULL);
}

/* forget: the kernel dropped lookups of an inode. */
static void shlogfs_op_forget(fuse_req_t req, fuse_ino_t ino,
			      uint64_t nlookup)
{
	shlogfs_node_forget(shlogfs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

/* forget_multi: many forgets in one request. */
static void shlogfs_op_forget_multi(fuse_req_t req, size_t count,
				    struct fuse_forget_data *forgets)
{
	struct shlogfs *fs = shlogfs_of(req);

	for (size_t i = 0; i < count; i++)
		shlogfs_node_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}


/* ==== readdir ========================================================= */

/** A directory listing taken at opendir. */
struct shlogfs_dir {
	struct shlogfs_buf names; /**< NUL-terminated names */
	size_t *offs;             /**< offset of each name */
	mode_t *types;
	size_t n, cap;
};

/* Add one name to a listing. */
static int shlogfs_dir_add(struct shlogfs_dir *d, const char *name,
			   size_t len, mode_t type)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		size_t *o = realloc(d->offs, cap * sizeof *o);
		if (!o)
			return -ENOMEM;
		d->offs = o;
		mode_t *t = realloc(d->types, cap * sizeof *t);
		if (!t)
			return -ENOMEM;
		d->types = t;
		d->cap = cap;
	}
	d->offs[d->n] = d->names.len;
	d->types[d->n] = type;
	if (shlogfs_buf_add(&d->names, name, len) ||
	    shlogfs_buf_add(&d->names, "", 1))
		return -ENOMEM;
	d->n++;
	return 0;
}

/* Free a listing. */
static void shlogfs_dir_free(struct shlogfs_dir *d)
{
	shlogfs_buf_free(&d->names);
	free(d->offs);
	free(d->types);
	free(d);
}

/* shlog_topic_foreach callback: list a topic. */
static int shlogfs_dir_topic(const char *topic, void *arg)
{
	return shlogfs_dir_add(arg, topic, strlen(topic), S_IFDIR) ? 1 : 0;
}

/* shlog_store_aside_foreach callback: list a set-aside topic too. */
static int shlogfs_dir_aside(const char *topic, int64_t part, int err,
			     const char *why, void *arg)
{
	(void)part;
	(void)err;
	(void)why;
	return shlogfs_dir_topic(topic, arg);
}

/* shlog_key_foreach callback: list a key that can be a file name. */
static int shlogfs_dir_key(const void *key, size_t klen,
			   const struct shlog_keyref *ref, void *arg)
{
	(void)ref;
	if (memchr(key, '/', klen) || memchr(key, '\0', klen) ||
	    (klen == 1 && !memcmp(key, ".", 1)) ||
	    (klen == 2 && !memcmp(key, "..", 2)))
		return 0;
	return shlogfs_dir_add(arg, key, klen, S_IFREG) ? 1 : 0;
}

/* Fill a listing for directory node @p n. */
static int shlogfs_dir_fill(struct shlogfs *fs, struct shlogfs_node *n,
			    struct shlogfs_dir *d)
{
	uint32_t nparts;
	shlog_part *p;
	char num[16];
	int rc;

	if (shlogfs_dir_add(d, ".", 1, S_IFDIR) ||
	    shlogfs_dir_add(d, "..", 2, S_IFDIR))
		return -ENOMEM;
	switch (n->kind) {
	case SHLOGFS_ROOT:
		rc = shlog_topic_foreach(fs->store, shlogfs_dir_topic, d);
		if (rc == 0)   /* listed: a lookup says EUCLEAN */
			rc = shlog_store_aside_foreach(fs->store, shlogfs_dir_aside, d);
		return rc > 0 ? -ENOMEM : rc;
	case SHLOGFS_TOPIC:
		if ((rc = shlog_topic_nparts(fs->store, n->topic, &nparts)) ||
		    (rc = shlogfs_dir_add(d, "log", 3, S_IFREG)))
			return rc;
		for (uint32_t i = 0; i < nparts; i++) {
			int len = snprintf(num, sizeof num, "%u", i);
			if ((rc = shlogfs_dir_add(d, num, (size_t)len, S_IFDIR)))
				return rc;
		}
		return 0;
	case SHLOGFS_PART:
		for (size_t i = 0; i < sizeof shlogfs_part_names /
					   sizeof shlogfs_part_names[0]; i++) {
			const char *s = shlogfs_part_names[i].name;
			if ((rc = shlogfs_dir_add(d, s, strlen(s),
						  shlogfs_part_names[i].type)))
				return rc;
		}
		return 0;
	case SHLOGFS_KEYSDIR:
		if ((rc = shlogfs_node_part(fs, n, &p)))
			return rc;
		rc = shlog_key_foreach(p, shlogfs_dir_key, d);
		shlog_part_put(p);
		return rc > 0 ? -ENOMEM : rc;
	case SHLOGFS_ATDIR:
	case SHLOGFS_SINCEDIR:
		return 0; /* lookup-only: any number or time can be opened */
	default:
		return -ENOTDIR;
	}
}

/* opendir: take the listing now; readdir serves slices of it. */
static void shlogfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_dir *d = calloc(1, sizeof *d);
	int rc;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if ((rc = shlogfs_node_live(n)) || (rc = shlogfs_dir_fill(fs, n, d))) {
		shlogfs_dir_free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		shlogfs_dir_free(d);
}

/* Inode number to show for a listed name (known node, else unknown). */
static fuse_ino_t shlogfs_dir_ino(struct shlogfs *fs, struct shlogfs_node *n,
				  const char *name, size_t i)
{
	struct shlogfs_node *d = n;
	enum shlogfs_kind kind;
	uint32_t part = n->part;
	fuse_ino_t ino = 0;

	if (i == 0)
		return shlogfs_node_ino(fs, d);
	if (i == 1)
		return FUSE_ROOT_ID;
	if (n->kind == SHLOGFS_ROOT) {
		ino = shlogfs_node_peek(fs, SHLOGFS_TOPIC, name, 0, NULL);
	} else if (n->kind == SHLOGFS_TOPIC) {
		kind = strcmp(name, "log") ? SHLOGFS_PART : SHLOGFS_TLOG;
		if (kind == SHLOGFS_PART && shlog_part_name_parse(name, &part))
			return 0xffffffff;
		ino = shlogfs_node_peek(fs, kind, n->topic, part, NULL);
	} else if (n->kind == SHLOGFS_KEYSDIR) {
		ino = shlogfs_node_peek(fs, SHLOGFS_KEY, n->topic, part, name);
	}
	return ino ? ino : 0xffffffff; /* FUSE_UNKNOWN_INO */
}

/* readdir: entries from @p off of the listing taken at opendir. */
static void shlogfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			       off_t off, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_dir *d = (struct shlogfs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		const char *name = d->names.p + d->offs[i];
		struct stat st = { .st_mode = d->types[i] };
		st.st_ino = shlogfs_dir_ino(fs, n, name, i);
		size_t len = fuse_add_direntry(req, buf + used, size - used,
					       name, &st, (off_t)(i + 1));
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

/* releasedir: drop the listing. */
static void shlogfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
				  struct fuse_file_info *fi)
{
	(void)ino;
	shlogfs_dir_free((struct shlogfs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* fsyncdir: directories hold no data of their own here. */
static void shlogfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
				struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* ==== mkdir, rmdir, unlink ============================================ */

/*
 * Who may make and delete: the kernel checks write permission on the
 * directory a name is made in or removed from; the rest is here.  A
 * new directory belongs to its maker, with the group and the setgid bit
 * of a setgid parent (as on ext4); -o max_topics_per_user and
 * max_parts_per_user bound what one user owns (EDQUOT; root is exempt);
 * deleting a topic deletes every partition in it, so only root or a
 * user who owns the topic and every one of its partitions may (EPERM).
 * mk_lock orders the counting and the checks with the changes.
 */

/* The parent of a new topic (@p part < 0: the root) or partition, stat'ed. */
static int shlogfs_dir_parent_stat(struct shlogfs *fs, const char *topic,
				   int64_t part, struct stat *st)
{
	if (part >= 0)
		return shlog_dir_stat(fs->store, topic, -1, st);
	return shlog_dir_stat(fs->store, NULL, -1, st);
}

/* Give a new directory the caller's mode and ownership (setgid: inherited). */
static void shlogfs_dir_adopt(struct shlogfs *fs, fuse_req_t req,
			      const char *topic, int64_t part, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t gid = ctx->gid;
	struct stat pst;
	int rc;

	mode &= 07777;
	if (shlogfs_dir_parent_stat(fs, topic, part, &pst) == 0 &&
	    (pst.st_mode & S_ISGID)) {
		gid = pst.st_gid;
		mode |= S_ISGID;
	}
	/* owner first: a chown may clear the setgid bit a chmod set */
	rc = shlog_dir_chown(fs->store, topic, part, ctx->uid, gid);
	if (rc == 0)
		rc = shlog_dir_chmod(fs->store, topic, part, mode);
	if (rc)
		shlogfs_log(LOG_WARNING, "mkdir %s: setting mode/owner: %s",
			    topic, shlog_strerror(rc));
}

/* Topics and partitions owned by a user (shlogfs_count_owned). */
struct shlogfs_owned {
	uid_t uid;
	uint32_t topics, parts;
	struct shlogfs_buf names;   /* topic names, each ending in '\0' */
};

/* shlog_topic_foreach callback: remember a topic's name. */
static int shlogfs_owned_name(const char *topic, void *arg)
{
	struct shlogfs_owned *o = arg;

	return shlogfs_buf_add(&o->names, topic, strlen(topic) + 1) ? 1 : 0;
}

/* Count the topics and partitions @p o->uid owns now. */
static int shlogfs_count_owned(struct shlogfs *fs, struct shlogfs_owned *o)
{
	int rc = shlog_topic_foreach(fs->store, shlogfs_owned_name, o);
	struct stat st;
	uint32_t np;

	if (rc)
		return rc > 0 ? -ENOMEM : rc;
	for (size_t at = 0; at < o->names.len;) {
		const char *t = o->names.p + at;
		at += strlen(t) + 1;
		if (shlog_dir_stat(fs->store, t, -1, &st) ||
		    shlog_topic_nparts(fs->store, t, &np))
			continue; /* deleted meanwhile */
		o->topics += st.st_uid == o->uid;
		for (uint32_t i = 0; i < np; i++)
			o->parts += shlog_dir_stat(fs->store, t, i, &st) == 0 &&
				    st.st_uid == o->uid;
	}
	return 0;
}

/* EDQUOT (logged) if @p uid would own more than a per-user limit allows. */
static int shlogfs_quota_check(struct shlogfs *fs, uid_t uid,
			       uint32_t topics, uint32_t parts)
{
	struct shlogfs_owned o = { .uid = uid };
	int rc;

	if (uid == 0 || (!fs->max_topics_per_user && !fs->max_parts_per_user))
		return 0;
	rc = shlogfs_count_owned(fs, &o);
	shlogfs_buf_free(&o.names);
	if (rc)
		return rc;
	if (fs->max_topics_per_user &&
	    (uint64_t)o.topics + topics > fs->max_topics_per_user) {
		shlogfs_log(LOG_NOTICE, "uid %u owns %u topics: another is refused "
			    "(EDQUOT, max_topics_per_user=%u)", (unsigned)uid,
			    o.topics, fs->max_topics_per_user);
		return -EDQUOT;
	}
	if (fs->max_parts_per_user &&
	    (uint64_t)o.parts + parts > fs->max_parts_per_user) {
		shlogfs_log(LOG_NOTICE, "uid %u owns %u partitions: %u more are "
			    "refused (EDQUOT, max_parts_per_user=%u)",
			    (unsigned)uid, o.parts, parts, fs->max_parts_per_user);
		return -EDQUOT;
	}
	return 0;
}

/* May @p c delete @p topic: root, or the owner of it and all its partitions. */
static int shlogfs_rmdir_allowed(struct shlogfs *fs,
				 const struct shlogfs_cred *c,
				 const char *topic)
{
	struct stat st;
	uint32_t np;
	int rc;

	if (c->uid == 0)
		return 0;
	if ((rc = shlog_dir_stat(fs->store, topic, -1, &st)) ||
	    (rc = shlog_topic_nparts(fs->store, topic, &np)))
		return rc;
	for (int64_t i = -1; i < (int64_t)np; i++) {
		if (i >= 0 && (rc = shlog_dir_stat(fs->store, topic, i, &st)))
			return rc;
		if (st.st_uid == c->uid)
			continue;
		char what[32] = "the topic";
		if (i >= 0)
			snprintf(what, sizeof what, "partition %" PRId64, i);
		shlogfs_log(LOG_NOTICE, "rmdir %s by uid %u refused (EPERM): "
			    "%s belongs to uid %u", topic, (unsigned)c->uid,
			    what, (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

/* mkdir TOPIC: a topic with the partitions option's partitions. */
static int shlogfs_mkdir_topic(struct shlogfs *fs, fuse_req_t req,
			       const char *name, mode_t mode)
{
	int rc = shlog_topic_name_check(name);

	if (shlogfs_root_file_kind(name) != SHLOGFS_ROOT)
		return -EEXIST; /* .metrics, .status */
	if (rc == 0)
		rc = shlogfs_quota_check(fs, fuse_req_ctx(req)->uid, 1,
					 fs->partitions);
	if (rc == 0)
		rc = shlog_topic_create(fs->store, name, fs->partitions);
	if (rc)
		return rc;
	shlogfs_dir_adopt(fs, req, name, -1, mode);
	for (uint32_t i = 0; i < fs->partitions; i++)
		shlogfs_dir_adopt(fs, req, name, i, mode);
	return 0;
}

/* mkdir TOPIC/N: add partition N, which must be the next number. */
static int shlogfs_mkdir_part(struct shlogfs *fs, fuse_req_t req,
			      struct shlogfs_node *d, const char *name,
			      mode_t mode, uint32_t *out)
{
	uint32_t want, nparts;
	int rc;

	if (strcmp(name, "log") == 0)
		return -EEXIST;
	if (shlog_part_name_parse(name, &want))
		return -EINVAL;
	if ((rc = shlog_topic_nparts(fs->store, d->topic, &nparts)))
		return rc;
	if (want < nparts)
		return -EEXIST;
	if (want > nparts)
		return -EINVAL;
	if ((rc = shlogfs_quota_check(fs, fuse_req_ctx(req)->uid, 0, 1)) ||
	    (rc = shlog_topic_add_part(fs->store, d->topic, out)))
		return rc;
	if (*out != want)
		return -EEXIST; /* another mkdir won the race */
	shlogfs_dir_adopt(fs, req, d->topic, want, mode);
	return 0;
}

/* mkdir: topics at the root, partitions in a topic; nothing else. */
static void shlogfs_op_mkdir(fuse_req_t req, fuse_ino_t parent,
			     const char *name, mode_t mode)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d = shlogfs_node_of(fs, parent);
	uint32_t part = 0;
	int rc;

	if (strlen(name) > SHLOGFS_NAME_MAX)
		rc = -ENAMETOOLONG;
	else if ((rc = shlogfs_node_live(d)))
		;
	else if (d->kind == SHLOGFS_ROOT || d->kind == SHLOGFS_TOPIC) {
		pthread_mutex_lock(&fs->mk_lock);
		rc = d->kind == SHLOGFS_ROOT ?
		     shlogfs_mkdir_topic(fs, req, name, mode) :
		     shlogfs_mkdir_part(fs, req, d, name, mode, &part);
		pthread_mutex_unlock(&fs->mk_lock);
	}
	else if (d->kind == SHLOGFS_PART &&
		 shlogfs_resolve(fs, d, name, &(enum shlogfs_kind){ 0 },
				 &part, &(uint64_t){ 0 }) == 0)
		rc = -EEXIST;
	else
		rc = -EPERM;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (d->kind == SHLOGFS_ROOT)
		shlogfs_reply_node(req, SHLOGFS_TOPIC, name, 0, NULL);
	else
		shlogfs_reply_node(req, SHLOGFS_PART, d->topic, part, NULL);
}

/* Delete a topic if the caller may (under mk_lock: no partition comes meanwhile). */
static int shlogfs_rmdir_topic(struct shlogfs *fs, fuse_req_t req,
			       const char *name)
{
	struct shlogfs_cred c;
	int rc;

	shlogfs_cred_get(req, &c);
	pthread_mutex_lock(&fs->mk_lock);
	rc = shlogfs_rmdir_allowed(fs, &c, name);
	if (rc == 0)
		rc = shlog_topic_delete(fs->store, name);
	pthread_mutex_unlock(&fs->mk_lock);
	return rc;
}

/* rmdir TOPIC: delete the topic and all its data, even if not empty. */
static void shlogfs_op_rmdir(fuse_req_t req, fuse_ino_t parent,
			     const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d = shlogfs_node_of(fs, parent);
	int rc = shlogfs_node_live(d);

	if (rc == 0 && strlen(name) > SHLOGFS_NAME_MAX)
		rc = -ENAMETOOLONG;
	if (rc == 0 && d->kind == SHLOGFS_ROOT) {
		if (shlogfs_root_file_kind(name) != SHLOGFS_ROOT)
			rc = -ENOTDIR; /* .metrics, .status */
		else if (shlog_topic_name_check(name))
			rc = -ENOENT;
		else
			rc = shlogfs_rmdir_topic(fs, req, name);
		if (rc == 0) {
			shlogfs_node_unlink_topic(fs, name);
			shlogfs_log(LOG_NOTICE, "topic %s deleted", name);
		}
	} else if (rc == 0) {
		rc = strcmp(name, "log") == 0 ? -ENOTDIR : -EPERM;
	}
	fuse_reply_err(req, -rc);
}

/* unlink: only keys/<key> (appends a tombstone); logs stay. */
static void shlogfs_op_unlink(fuse_req_t req, fuse_ino_t parent,
			      const char *name)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d = shlogfs_node_of(fs, parent);
	struct shlogfs_buf msg = { 0 };
	struct shlog_keyref ref;
	shlog_part *p;
	size_t len = strlen(name);
	int rc = shlogfs_node_live(d);

	if (rc == 0 && len > SHLOGFS_NAME_MAX)
		rc = -ENAMETOOLONG;
	else if (rc == 0 && d->kind != SHLOGFS_KEYSDIR)
		rc = shlogfs_kind_is_dir(d->kind) ? -EPERM : -ENOTDIR;
	else if (rc == 0 && shlogfs_key_name_check(name))
		rc = -ENOENT;
	else if (rc == 0 && fs->wb_on) {
		/* a tombstone would move the log's end behind the kernel */
		shlogfs_log(LOG_NOTICE, "%s/%u: rm of keys/%s refused with -o "
			    "writeback", d->topic, d->part, name);
		rc = -EPERM;
	}
	if (rc == 0 && (rc = shlogfs_node_part(fs, d, &p)) == 0) {
		rc = shlog_key_lookup(p, name, len, &ref);
		if (rc == 0 && !(rc = shlogfs_buf_add(&msg, name, len)) &&
		    !(rc = shlogfs_buf_add(&msg, "\t", 1)))
			rc = shlog_part_append(p, msg.p, msg.len, 0, NULL);
		shlog_part_put(p);
	}
	if (rc == 0)
		shlogfs_node_unlink_key(fs, d->topic, d->part, name);
	shlogfs_buf_free(&msg);
	fuse_reply_err(req, -rc);
}

/* create: only keys/<key>; any other new file is refused. */
static void shlogfs_op_create(fuse_req_t req, fuse_ino_t parent,
			      const char *name, mode_t mode,
			      struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *d = shlogfs_node_of(fs, parent);
	struct shlogfs_node *n;
	struct fuse_entry_param e;
	enum shlogfs_kind kind;
	uint32_t part;
	uint64_t base;
	int rc = shlogfs_node_live(d);

	(void)mode;
	if (rc == 0 && strlen(name) > SHLOGFS_NAME_MAX)
		rc = -ENAMETOOLONG;
	else if (rc == 0 && shlogfs_resolve(fs, d, name, &kind, &part,
					    &base) == 0)
		rc = (fi->flags & O_EXCL) || d->kind != SHLOGFS_KEYSDIR ?
			-EEXIST : 0;
	else if (rc == 0 && d->kind != SHLOGFS_KEYSDIR)
		rc = -EPERM;
	else if (rc == 0)
		rc = shlogfs_key_name_check(name);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	n = shlogfs_node_intern(fs, SHLOGFS_KEY, d->topic, d->part, name);
	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memset(&e, 0, sizeof e);
	if ((rc = shlogfs_key_open(fs, n, fi, fuse_req_ctx(req)->uid)) == 0 &&
	    (rc = shlogfs_node_stat(fs, n, &e.attr)) == -ENOENT) {
		/* not written yet: an empty file with the directory's owner */
		rc = shlog_dir_stat(fs->store, n->topic, n->part, &e.attr);
		e.attr.st_mode = shlogfs_kind_mode(SHLOGFS_KEY, e.attr.st_mode);
		e.attr.st_size = 0;
		e.attr.st_nlink = 1;
		e.attr.st_ino = shlogfs_node_ino(fs, n);
	}
	if (rc) {
		if (fi->fh)
			shlogfs_handle_drop(fs, (void *)(uintptr_t)fi->fh);
		shlogfs_node_forget(fs, shlogfs_node_ino(fs, n), 1);
		fuse_reply_err(req, -rc);
		return;
	}
	e.ino = shlogfs_node_ino(fs, n);
	if (fuse_reply_create(req, &e, fi) != 0) {
		shlogfs_handle_drop(fs, (void *)(uintptr_t)fi->fh);
		shlogfs_node_forget(fs, e.ino, 1);
	}
}

/* mknod, symlink, link, rename: nothing here can be made or moved so. */
static void shlogfs_op_mknod(fuse_req_t req, fuse_ino_t parent,
			     const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, strlen(name) > SHLOGFS_NAME_MAX ? ENAMETOOLONG
							    : EPERM);
}

/* symlink: refused. */
static void shlogfs_op_symlink(fuse_req_t req, const char *link,
			       fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	fuse_reply_err(req, strlen(name) > SHLOGFS_NAME_MAX ? ENAMETOOLONG
							    : EPERM);
}

/* link: refused. */
static void shlogfs_op_link(fuse_req_t req, fuse_ino_t ino,
			    fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	fuse_reply_err(req, strlen(newname) > SHLOGFS_NAME_MAX ? ENAMETOOLONG
							       : EPERM);
}

/* rename: refused (topics, partitions and logs keep their names). */
static void shlogfs_op_rename(fuse_req_t req, fuse_ino_t parent,
			      const char *name, fuse_ino_t newparent,
			      const char *newname, unsigned int flags)
{
	(void)parent;
	(void)newparent;
	(void)flags;
	fuse_reply_err(req, strlen(name) > SHLOGFS_NAME_MAX ||
			    strlen(newname) > SHLOGFS_NAME_MAX ? ENAMETOOLONG
							       : EPERM);
}

/* ==== session ========================================================= */

/* statfs: the data dir's file system, with our name limit. */
static void shlogfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct statvfs sv;

	(void)ino;
	if (statvfs(fs->datadir, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = SHLOGFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/*
 * init: no writeback cache unless -o writeback (then wb.c assembles the
 * logs' bytes); O_TRUNC comes with open (without it the kernel sends a
 * setattr with no file handle after the open, and a key file could not
 * be rewritten).
 */
static void shlogfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct shlogfs *fs = userdata;

	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs->wb_on = 1;
	} else if (fs->writeback) {
		shlogfs_log(LOG_WARNING, "the kernel has no writeback cache for "
			    "FUSE: -o writeback ignored");
	}
	/* a log's bytes never change: no page cache drop (and GETATTR
	 * before every read) on time changes; size changes still drop it */
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

const struct fuse_lowlevel_ops shlogfs_ops = {
	.init = shlogfs_op_init,
	.lookup = shlogfs_op_lookup,
	.forget = shlogfs_op_forget,
	.forget_multi = shlogfs_op_forget_multi,
	.getattr = shlogfs_op_getattr_any,  /* metrics.c, then attr.c */
	.setattr = shlogfs_op_setattr_any,
	.mknod = shlogfs_op_mknod,
	.mkdir = shlogfs_op_mkdir,
	.unlink = shlogfs_op_unlink,
	.rmdir = shlogfs_op_rmdir,
	.symlink = shlogfs_op_symlink,
	.rename = shlogfs_op_rename,
	.link = shlogfs_op_link,
	.open = shlogfs_op_open_any,        /* metrics.c, then file.c */
	.read = shlogfs_op_read,
	.write = shlogfs_op_write,
	.flush = shlogfs_op_flush,
	.release = shlogfs_op_release,
	.fsync = shlogfs_op_fsync,
	.opendir = shlogfs_op_opendir,
	.readdir = shlogfs_op_readdir,
	.releasedir = shlogfs_op_releasedir,
	.fsyncdir = shlogfs_op_fsyncdir,
	.statfs = shlogfs_op_statfs,
	.create = shlogfs_op_create,
	.fallocate = shlogfs_op_fallocate,
	/* getxattr/listxattr left out: libfuse answers ENOSYS once and the
	 * kernel stops asking for security.capability on every write. */
};
