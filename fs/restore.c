/*
 * restore.c — what a restore into the mount leaves in the daemon's
 * memory, one record per fact (shlogfs(8), "RESTORE"):
 *
 *   gone   a partition whose empty log was unlinked (tar unlinks a file
 *          before it extracts it), or (-o partitions=0) one made by mkdir:
 *          its `log` is not there until created; a restarted daemon
 *          shows the empty log again;
 *   hidden a partition made ahead of its number's mkdir (mkdir TOPIC/3
 *          of a topic with one partition makes 1 and 2 too; a topic made
 *          with -o partitions=0 has its partition 0 so): not in the
 *          topic until mkdir of its number, or until it holds a message;
 *          a restarted daemon shows it;
 *   name   a restore name: a new name made in a partition directory
 *          (rsync's temporary file), a handle onto that partition's log
 *          holding no bytes of its own; the record keeps how far it was
 *          written.  At most SHLOGFS_RESTORE_PER_PART per partition and
 *          SHLOGFS_RESTORE_PER_USER per unprivileged user;
 *   time   an mtime set by utimens on a log, shown while the log keeps
 *          the size it had then (the next append shows its own time);
 *   span   the bytes of a log a restore appended (from the first to the
 *          last such byte): a key whose latest message lies there is not
 *          removed by unlink (tar unlinks an old archive's keys/K before
 *          it extracts it, k_keys.c).
 *
 * The table is small (bounded by the partitions and the limits above)
 * and searched linearly under its own mutex, which is taken last.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "restore.h"
#include "held_i.h"

/** What a record says (the flags of restore.h first). */
enum shlogfs_rwhat {
	SHLOGFS_R_GONE = SHLOGFS_RF_GONE,
	SHLOGFS_R_HIDDEN = SHLOGFS_RF_HIDDEN,
	SHLOGFS_R_NAME,
	SHLOGFS_R_TIME,
	SHLOGFS_R_SPAN,
};

/** One record of the table. */
struct shlogfs_rent {
	LIST_ENTRY(shlogfs_rent) link;
	enum shlogfs_rwhat what;
	char *topic;
	uint32_t part;
	char *name;              /**< NAME: the restore name */
	uid_t uid;               /**< NAME: who made it */
	uint64_t pos;            /**< NAME: written from 0 up to here */
	struct timespec mtime;   /**< TIME: the time set */
	uint64_t size;           /**< TIME: the log's size then */
	uint64_t lo, hi;         /**< SPAN: bytes a restore appended */
};

/* Set up the (empty) table. */
void shlogfs_restore_init(struct shlogfs *fs)
{
	pthread_mutex_init(&fs->restore.mu, NULL);
	LIST_INIT(&fs->restore.ents);
}

/* Free one record. */
static void shlogfs_rent_free(struct shlogfs_rent *e)
{
	free(e->topic);
	free(e->name);
	free(e);
}

/* Free the table (at exit). */
void shlogfs_restore_free(struct shlogfs *fs)
{
	struct shlogfs_rent *e;

	while ((e = LIST_FIRST(&fs->restore.ents))) {
		LIST_REMOVE(e, link);
		shlogfs_rent_free(e);
	}
	pthread_mutex_destroy(&fs->restore.mu);
}

/* The record of kind @p what for the partition (and @p name), or NULL. */
static struct shlogfs_rent *shlogfs_rent_find(struct shlogfs *fs,
					      enum shlogfs_rwhat what,
					      const char *topic, uint32_t part,
					      const char *name)
{
	struct shlogfs_rent *e;

	SL_HELD(&fs->restore.mu);
	LIST_FOREACH(e, &fs->restore.ents, link)
		if (e->what == what && e->part == part &&
		    strcmp(e->topic, topic) == 0 &&
		    (!name || strcmp(e->name, name) == 0))
			return e;
	return NULL;
}

/* A new record, in the table; NULL if out of memory. */
static struct shlogfs_rent *shlogfs_rent_new(struct shlogfs *fs,
					     enum shlogfs_rwhat what,
					     const char *topic, uint32_t part,
					     const char *name)
{
	struct shlogfs_rent *e = calloc(1, sizeof *e);

	SL_HELD(&fs->restore.mu);
	if (!e || !(e->topic = strdup(topic)) ||
	    (name && !(e->name = strdup(name)))) {
		if (e)
			shlogfs_rent_free(e);
		return NULL;
	}
	e->what = what;
	e->part = part;
	LIST_INSERT_HEAD(&fs->restore.ents, e, link);
	return e;
}

/* Remove a record from the table and free it. */
static void shlogfs_rent_drop(struct shlogfs *fs, struct shlogfs_rent *e)
{
	SL_HELD(&fs->restore.mu);
	LIST_REMOVE(e, link);
	shlogfs_rent_free(e);
}

/* ==== flags of a partition: gone, hidden ============================= */

/* 1 if partition (@p topic, @p part) has flag @p f. */
int shlogfs_restore_flag(struct shlogfs *fs, enum shlogfs_rflag f,
			 const char *topic, uint32_t part)
{
	int has;

	pthread_mutex_lock(&fs->restore.mu);
	has = shlogfs_rent_find(fs, (enum shlogfs_rwhat)f, topic, part, NULL) != NULL;
	pthread_mutex_unlock(&fs->restore.mu);
	return has;
}

/* Give partition (@p topic, @p part) flag @p f (0 or -ENOMEM). */
int shlogfs_restore_flag_set(struct shlogfs *fs, enum shlogfs_rflag f,
			     const char *topic, uint32_t part)
{
	enum shlogfs_rwhat w = (enum shlogfs_rwhat)f;
	int rc = 0;

	pthread_mutex_lock(&fs->restore.mu);
	if (!shlogfs_rent_find(fs, w, topic, part, NULL) &&
	    !shlogfs_rent_new(fs, w, topic, part, NULL))
		rc = -ENOMEM;
	pthread_mutex_unlock(&fs->restore.mu);
	return rc;
}

/* Take flag @p f from partition (@p topic, @p part). */
void shlogfs_restore_flag_clear(struct shlogfs *fs, enum shlogfs_rflag f,
				const char *topic, uint32_t part)
{
	struct shlogfs_rent *e;

	pthread_mutex_lock(&fs->restore.mu);
	if ((e = shlogfs_rent_find(fs, (enum shlogfs_rwhat)f, topic, part, NULL)))
		shlogfs_rent_drop(fs, e);
	pthread_mutex_unlock(&fs->restore.mu);
}

/* The log size of partition (@p topic, @p part); 0 on an error. */
uint64_t shlogfs_restore_part_size(struct shlogfs *fs,
					  const char *topic, uint32_t part)
{
	struct shlog_part_info in = { 0 };
	shlogfs_bpart *p;

	if (shlogfs_part_get(fs->store, topic, part, &p) == 0) {
		if (shlogfs_part_info(p, &in))
			in.end_off = 0;
		shlogfs_part_put(p);
	}
	return in.end_off;
}

/* 1 if partition (@p topic, @p part) has flag @p f and its log is still
 * empty; a message (a line routed through <topic>/log) clears it. */
int shlogfs_restore_flag_empty(struct shlogfs *fs, enum shlogfs_rflag f,
			       const char *topic, uint32_t part)
{
	if (!shlogfs_restore_flag(fs, f, topic, part))
		return 0;
	if (shlogfs_restore_part_size(fs, topic, part) == 0)
		return 1;
	shlogfs_restore_flag_clear(fs, f, topic, part);
	return 0;
}

/* ==== restore names =================================================== */

/* -EDQUOT if the partition, or @p uid (not root), holds all it may. */
static int shlogfs_rname_room(struct shlogfs *fs, const char *topic,
			      uint32_t part, uid_t uid)
{
	struct shlogfs_rent *e;
	uint32_t in_part = 0, of_user = 0;

	SL_HELD(&fs->restore.mu);
	LIST_FOREACH(e, &fs->restore.ents, link) {
		if (e->what != SHLOGFS_R_NAME)
			continue;
		in_part += e->part == part && strcmp(e->topic, topic) == 0;
		of_user += e->uid == uid;
	}
	if (in_part >= SHLOGFS_RESTORE_PER_PART ||
	    (uid != 0 && of_user >= SHLOGFS_RESTORE_PER_USER))
		return -EDQUOT;
	return 0;
}

/* Add restore name @p name of @p uid: 0, -EEXIST, -EDQUOT, -ENOMEM. */
int shlogfs_restore_name_add(struct shlogfs *fs, const char *topic,
			     uint32_t part, const char *name, uid_t uid)
{
	struct shlogfs_rent *e;
	int rc;

	pthread_mutex_lock(&fs->restore.mu);
	if (shlogfs_rent_find(fs, SHLOGFS_R_NAME, topic, part, name))
		rc = -EEXIST;
	else if ((rc = shlogfs_rname_room(fs, topic, part, uid)) == 0 &&
		 !(e = shlogfs_rent_new(fs, SHLOGFS_R_NAME, topic, part, name)))
		rc = -ENOMEM;
	else if (rc == 0)
		e->uid = uid;
	pthread_mutex_unlock(&fs->restore.mu);
	return rc;
}

/* 0 if @p name is a restore name of the partition, else -ENOENT. */
int shlogfs_restore_name_has(struct shlogfs *fs, const char *topic,
			     uint32_t part, const char *name)
{
	int rc;

	pthread_mutex_lock(&fs->restore.mu);
	rc = shlogfs_rent_find(fs, SHLOGFS_R_NAME, topic, part, name) ? 0 : -ENOENT;
	pthread_mutex_unlock(&fs->restore.mu);
	return rc;
}

/* Drop restore name @p name: 0, or -ENOENT. */
int shlogfs_restore_name_drop(struct shlogfs *fs, const char *topic,
			      uint32_t part, const char *name)
{
	struct shlogfs_rent *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&fs->restore.mu);
	if ((e = shlogfs_rent_find(fs, SHLOGFS_R_NAME, topic, part, name))) {
		shlogfs_rent_drop(fs, e);
		rc = 0;
	}
	pthread_mutex_unlock(&fs->restore.mu);
	return rc;
}

/* How far from 0 the restore name @p name has been written (or 0). */
uint64_t shlogfs_restore_name_pos(struct shlogfs *fs, const char *topic,
				  uint32_t part, const char *name)
{
	struct shlogfs_rent *e;
	uint64_t pos = 0;

	pthread_mutex_lock(&fs->restore.mu);
	if ((e = shlogfs_rent_find(fs, SHLOGFS_R_NAME, topic, part, name)))
		pos = e->pos;
	pthread_mutex_unlock(&fs->restore.mu);
	return pos;
}

/* Record that restore name @p name is written up to @p pos. */
void shlogfs_restore_name_reach(struct shlogfs *fs, const char *topic,
				uint32_t part, const char *name, uint64_t pos)
{
	struct shlogfs_rent *e;

	pthread_mutex_lock(&fs->restore.mu);
	if ((e = shlogfs_rent_find(fs, SHLOGFS_R_NAME, topic, part, name)) &&
	    pos > e->pos)
		e->pos = pos;
	pthread_mutex_unlock(&fs->restore.mu);
}

/* ==== log times ======================================================= */

/* Show @p mtime as the log's mtime while its size stays @p size. */
int shlogfs_restore_set_time(struct shlogfs *fs, const char *topic,
			     uint32_t part, const struct timespec *mtime,
			     uint64_t size)
{
	struct shlogfs_rent *e;
	int rc = 0;

	pthread_mutex_lock(&fs->restore.mu);
	e = shlogfs_rent_find(fs, SHLOGFS_R_TIME, topic, part, NULL);
	if (!e)
		e = shlogfs_rent_new(fs, SHLOGFS_R_TIME, topic, part, NULL);
	if (e) {
		e->mtime = *mtime;
		e->size = size;
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&fs->restore.mu);
	return rc;
}

/* Put a set mtime into @p st if the log still has the size it had then. */
void shlogfs_restore_time(struct shlogfs *fs, const char *topic,
			  uint32_t part, struct stat *st)
{
	struct shlogfs_rent *e;

	pthread_mutex_lock(&fs->restore.mu);
	e = shlogfs_rent_find(fs, SHLOGFS_R_TIME, topic, part, NULL);
	if (e && e->size == (uint64_t)st->st_size) {
		st->st_mtim = e->mtime;
	} else if (e) {
		shlogfs_rent_drop(fs, e); /* appended since: its own time */
	}
	pthread_mutex_unlock(&fs->restore.mu);
}

/* ==== spans a restore appended ======================================= */

/* Note that a restore appended bytes [@p lo, @p hi) of the partition's log. */
void shlogfs_restore_span_add(struct shlogfs *fs, const char *topic,
			      uint32_t part, uint64_t lo, uint64_t hi)
{
	struct shlogfs_rent *e;

	if (hi <= lo)
		return;
	pthread_mutex_lock(&fs->restore.mu);
	e = shlogfs_rent_find(fs, SHLOGFS_R_SPAN, topic, part, NULL);
	if (!e && (e = shlogfs_rent_new(fs, SHLOGFS_R_SPAN, topic, part, NULL))) {
		e->lo = lo;
		e->hi = hi;
	} else if (e) {
		e->lo = lo < e->lo ? lo : e->lo;
		e->hi = hi > e->hi ? hi : e->hi;
	}
	pthread_mutex_unlock(&fs->restore.mu);
}

/* 1 if byte @p off of the partition's log was appended by a restore. */
int shlogfs_restore_span_has(struct shlogfs *fs, const char *topic,
			     uint32_t part, uint64_t off)
{
	struct shlogfs_rent *e;
	int has;

	pthread_mutex_lock(&fs->restore.mu);
	e = shlogfs_rent_find(fs, SHLOGFS_R_SPAN, topic, part, NULL);
	has = e && off >= e->lo && off < e->hi;
	pthread_mutex_unlock(&fs->restore.mu);
	return has;
}

/* Forget everything of @p topic (a topic made anew). */
void shlogfs_restore_forget(struct shlogfs *fs, const char *topic)
{
	struct shlogfs_rent *e, *next;

	pthread_mutex_lock(&fs->restore.mu);
	LIST_FOREACH_SAFE(e, &fs->restore.ents, link, next)
		if (strcmp(e->topic, topic) == 0)
			shlogfs_rent_drop(fs, e);
	pthread_mutex_unlock(&fs->restore.mu);
}
