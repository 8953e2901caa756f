/*
 * follow.c — followers: reads of follow files that wait at the end
 * instead of returning 0, and poll() of follow files and partition logs
 * that wakes when a message is appended.
 *
 * A follower is an open handle and the partitions it follows (one for
 * <topic>/<p>/follow, <p>/stream/<name> and a polled <p>/log; every
 * partition for <topic>/follow, those added after its open too), with a
 * position in each.  A read of a follow file is
 * served with whole messages from those positions (a message longer
 * than the read is cut, and the next reads give its rest before any
 * other partition's bytes).  When none has a byte past its position the
 * read is not answered: its request waits in the follower, no thread
 * does, and the thread whose append made new bytes (every append of the
 * daemon ends in shlogfs_fw_after()) answers it.  A waiting read ends on
 * a signal (the kernel's interrupt: EINTR); a read with O_NONBLOCK gets
 * EAGAIN instead of waiting.  Waiting reads are capped for every user
 * but root (-o max_follow, max_follow_per_user): past a cap the read
 * gets ENOBUFS and a log line.  A poll is answered at once (POLLIN if a
 * read would return bytes now); when it is not ready its poll handle is
 * kept and notified at the next append to one of the partitions.
 *
 * A cursor's stream (k_cursor.c) starts at the cursor's position and is
 * told through its hooks what each reply gave and when a read finds
 * nothing new, so it can count and commit its position.  A topic's
 * stream looks for partitions added to its topic (mkdir) whenever the
 * registry's generation moved (shlogfs_fw_topic_changed() bumps it and
 * wakes the topic's waiting reads), and follows those its opener may
 * read from their first kept messages.
 *
 * The registry: every follower's partitions, hashed by partition, in
 * one table under one lock (reg.mu); a follower's waiting request and
 * poll handle are guarded by it.  Its positions are guarded by its own
 * mutex (fw->mu), taken before reg.mu, and before the request's lock
 * (libfuse's, taken by fuse_req_interrupt_func and around the interrupt
 * callback, which takes reg.mu), and before a cursor stream's ra_lock
 * (its hooks; a kept read's commit holds ra_lock after fw->mu is let
 * go, and the handle's release waits for it).  The engine's end only
 * moves by whole
 * messages, so the bytes before it are always whole messages.  A waiting
 * request keeps its handle open (the kernel releases a file only after
 * its reads are answered), so only the reply may end a handle's life:
 * nothing touches the follower after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "follow.h"
#include "cred.h"
#include "log.h"
#include "read.h"
#include "text.h"

/* Fills of one read that may find nothing though the end moved. */
#define SHLOGFS_FW_TRIES 8

/* Buckets of the registry (a power of 2). */
#define SHLOGFS_FW_BUCKETS 256

/* One followed partition of a follower, in its registry bucket. */
struct shlogfs_fw_link {
	LIST_ENTRY(shlogfs_fw_link) link;
	shlogfs_bpart *p;
	struct shlogfs_fw *fw;
};

/* A follower (one per handle that follows or was polled). */
struct shlogfs_fw {
	pthread_mutex_t mu;         /* guards pos, mid, rr, parts, n, seen, gen */
	struct shlogfs_handle *h;
	shlogfs_bpart **parts;         /* the handle's */
	uint32_t n;                 /* (changed under reg.mu too) */
	int log;                    /* a polled log: its position is h->rd_at */
	uint64_t *pos;              /* next byte to give, per partition */
	int64_t mid;                /* partition a reply cut a message of, or -1 */
	uint32_t rr;                /* partition the next fill starts at */
	const struct shlogfs_fw_hooks *hooks; /* a cursor's stream; else NULL */
	struct shlogfs *fs;         /* a topic's stream: it takes partitions */
	struct shlogfs_cred *cred;  /* added later that its opener may read; */
	uint32_t seen;              /* the topic's partitions looked at, */
	uint64_t gen;               /* when reg.gen was this */
	fuse_req_t req;             /* its waiting read (reg.mu) */
	size_t size;                /* of that read */
	struct fuse_pollhandle *ph; /* its kept poll handle (reg.mu) */
	struct shlogfs_fw *next;    /* in a waker's list, with: */
	fuse_req_t wreq;            /* the read it took, */
	size_t wsize;               /* of this size */
	struct shlogfs_fw_link *links; /* one per partition (reg.mu) */
};

/* The waiting reads of one user. */
struct shlogfs_fw_user {
	uid_t uid;
	uint32_t n;
};

/* The registry (the daemon serves one store). */
static struct {
	pthread_mutex_t mu;
	LIST_HEAD(, shlogfs_fw_link) b[SHLOGFS_FW_BUCKETS];
	uint32_t pending;           /* waiting reads and kept poll handles (atomic) */
	uint64_t gen;               /* topics changed so far (atomic) */
	uint32_t followers;         /* followers open */
	uint32_t waiting;           /* waiting reads, root's too */
	uint32_t waiting_users;     /* of them, not root's */
	struct shlogfs_fw_user *users;
	size_t nusers, cap_users;
	uint32_t max_all, max_user; /* caps on waiting_users, one user's */
	uint64_t refused;
	time_t logged_at;
} reg = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.max_all = 8192,
	.max_user = 1024,
};

/* Set the caps (main.c, from -o max_follow, max_follow_per_user). */
void shlogfs_fw_init(uint32_t max_all, uint32_t max_user)
{
	reg.max_all = max_all;
	reg.max_user = max_user;
}

/* The bucket of partition @p p. */
static unsigned shlogfs_fw_bucket(const shlogfs_bpart *p)
{
	uintptr_t x = (uintptr_t)p;

	return (unsigned)((x >> 4) ^ (x >> 12)) & (SHLOGFS_FW_BUCKETS - 1);
}

/* ==== the caps ======================================================== */

/* The entry of @p uid (reg.mu held), made if @p make; NULL: none. */
static struct shlogfs_fw_user *shlogfs_fw_user(uid_t uid, int make)
{
	for (size_t i = 0; i < reg.nusers; i++)
		if (reg.users[i].uid == uid)
			return &reg.users[i];
	if (!make)
		return NULL;
	void *v = shlogfs_array_room(reg.users, &reg.cap_users, reg.nusers,
				     sizeof *reg.users);
	if (!v)
		return NULL;
	reg.users = v;
	reg.users[reg.nusers] = (struct shlogfs_fw_user){ uid, 0 };
	return &reg.users[reg.nusers++];
}

/* Log a refusal, once a second at most (reg.mu held). */
static void shlogfs_fw_refused(uid_t uid, const char *which)
{
	time_t now = time(NULL);

	reg.refused++;
	if (now == reg.logged_at)
		return;
	reg.logged_at = now;
	shlogfs_log(LOG_WARNING, "follow: a waiting read of uid %u refused "
		    "with ENOBUFS: %s (%u of all users, %u per user)",
		    (unsigned)uid, which, reg.max_all, reg.max_user);
}

/* Count a waiting read of @p uid (reg.mu held); -ENOBUFS past a cap. */
static int shlogfs_fw_charge(uid_t uid)
{
	struct shlogfs_fw_user *u;

	if (uid == 0) {
		reg.waiting++;
		return 0;
	}
	if (reg.max_all && reg.waiting_users >= reg.max_all) {
		shlogfs_fw_refused(uid, "max_follow reached");
		return -ENOBUFS;
	}
	if (!(u = shlogfs_fw_user(uid, 1)))
		return -ENOMEM;
	if (reg.max_user && u->n >= reg.max_user) {
		shlogfs_fw_refused(uid, "max_follow_per_user reached");
		return -ENOBUFS;
	}
	u->n++;
	reg.waiting_users++;
	reg.waiting++;
	return 0;
}

/* Give back a waiting read of @p uid (reg.mu held). */
static void shlogfs_fw_uncharge(uid_t uid)
{
	struct shlogfs_fw_user *u;

	reg.waiting--;
	if (uid == 0 || !(u = shlogfs_fw_user(uid, 0)))
		return;
	reg.waiting_users--;
	if (--u->n == 0)
		*u = reg.users[--reg.nusers];
}

/* Take the waiting read of @p fw (reg.mu held); NULL: none. */
static fuse_req_t shlogfs_fw_detach(struct shlogfs_fw *fw)
{
	fuse_req_t req = fw->req;

	if (req) {
		fw->req = NULL;
		shlogfs_fw_uncharge(fw->h->uid);
		__atomic_sub_fetch(&reg.pending, 1, __ATOMIC_RELEASE);
	}
	return req;
}

/* ==== filling a reply ================================================= */

/* Retention deleted bytes of partition @p i (now as @p in) that @p fw
 * had not read: log it, go on at the first kept message. */
static void shlogfs_fw_skipped(struct shlogfs_fw *fw, uint32_t i,
			       const struct shlog_part_info *in)
{
	shlogfs_log(LOG_NOTICE, "%s/%u: retention deleted %llu bytes a "
		    "follower had not read; it goes on at the first kept message",
		    fw->h->node->topic, fw->fs ? i : fw->h->node->part,
		    (unsigned long long)(in->start_off - fw->pos[i]));
	fw->pos[i] = in->start_off;
	if (fw->hooks)
		fw->hooks->skipped(fw->h, in->start_seq, in->start_off);
}

/*
 * Put partition @p i's bytes past its position into @p buf (@p room
 * bytes): its whole messages that fit, or, if @p alone (nothing else in
 * the reply) or it is the one cut, as much as fits; bytes put or -errno.
 */
static ssize_t shlogfs_fw_take(struct shlogfs_fw *fw, uint32_t i, char *buf,
			       size_t room, int alone)
{
	struct shlog_part_info in;
	int rc = shlogfs_part_info(fw->parts[i], &in);
	int cut = fw->mid == (int64_t)i;

	if (rc)
		return rc;
	if (fw->pos[i] < in.start_off) {
		shlogfs_fw_skipped(fw, i, &in);
		if (cut)
			fw->mid = -1;
		cut = 0;
	}
	uint64_t avail = in.end_off > fw->pos[i] ? in.end_off - fw->pos[i] : 0;
	size_t want = avail < room ? (size_t)avail : room;
	if (want == 0)
		return 0;
	ssize_t r = shlogfs_fill(fw->parts[i], fw->pos[i], buf, want, 0);
	if (r <= 0)
		return r == -ESTALE ? 0 : r; /* retention raced: the next fill */
	const char *nl = memrchr(buf, '\n', (size_t)r);
	size_t n = nl ? (size_t)(nl - buf) + 1 : (size_t)r;
	if (!nl && !alone && !cut)
		return 0;
	fw->mid = nl ? -1 : (int64_t)i;
	fw->pos[i] += n;
	return (ssize_t)n;
}

/* Fill @p buf with whole messages of @p fw's partitions, each in turn
 * (fw->mu held); bytes put (0: none past any position) or -errno. */
static ssize_t shlogfs_fw_fill(struct shlogfs_fw *fw, char *buf, size_t size)
{
	uint32_t start = fw->mid >= 0 ? (uint32_t)fw->mid : fw->rr;
	size_t got = 0;

	for (uint32_t k = 0; k < fw->n && got < size; k++) {
		uint32_t i = (start + k) % fw->n;
		ssize_t r = shlogfs_fw_take(fw, i, buf + got, size - got,
					    got == 0);
		if (r < 0) {
			if (got)
				break;
			return r;
		}
		got += (size_t)r;
		if (fw->mid >= 0)
			break;
	}
	fw->rr = (start + 1) % fw->n;
	return (ssize_t)got;
}

/* Has @p fw bytes past its position (fw->mu and reg.mu held)?  An
 * error, its topic deleted or changed (a topic's stream looks again):
 * yes (a read reports it). */
static int shlogfs_fw_ready(struct shlogfs_fw *fw)
{
	if (shlogfs_node_live(fw->h->node) ||
	    (fw->fs && fw->gen != __atomic_load_n(&reg.gen, __ATOMIC_ACQUIRE)))
		return 1;
	for (uint32_t i = 0; i < fw->n; i++) {
		struct shlog_part_info in;
		uint64_t at = fw->log ? __atomic_load_n(&fw->h->rd_at,
					__ATOMIC_RELAXED) : fw->pos[i];
		if (shlogfs_part_info(fw->parts[i], &in) || in.end_off > at ||
		    (!fw->log && at < in.start_off))
			return 1;
	}
	return 0;
}

/* ==== the registry's links ============================================ */

/* Link @p fw's partitions into the registry (reg.mu held). */
static void shlogfs_fw_link(struct shlogfs_fw *fw)
{
	for (uint32_t i = 0; i < fw->n; i++) {
		fw->links[i] = (struct shlogfs_fw_link){ .p = fw->parts[i],
							 .fw = fw };
		LIST_INSERT_HEAD(&reg.b[shlogfs_fw_bucket(fw->parts[i])],
				 &fw->links[i], link);
	}
}

/* Take @p fw's partitions out of the registry (reg.mu held). */
static void shlogfs_fw_unlink(struct shlogfs_fw *fw)
{
	for (uint32_t i = 0; i < fw->n; i++)
		LIST_REMOVE(&fw->links[i], link);
}

/* ==== a topic's stream: partitions added after its open =============== */

/* Follow @p p too (a new partition of the topic) from its first kept
 * message (fw->mu held); the handle holds its reference from here on. */
static int shlogfs_fw_add(struct shlogfs_fw *fw, shlogfs_bpart *p)
{
	struct shlogfs_handle *h = fw->h;
	struct shlogfs_fw_link *links, *old = fw->links;
	struct shlog_part_info in;
	uint32_t n = fw->n + 1;
	shlogfs_bpart **parts;
	uint64_t *pos;

	if (!(parts = realloc(h->parts, n * sizeof *parts)))
		return -ENOMEM;
	h->parts = fw->parts = parts;
	if (!(pos = realloc(fw->pos, n * sizeof *pos)))
		return -ENOMEM;
	fw->pos = pos;
	if (!(links = calloc(n, sizeof *links)))
		return -ENOMEM;
	parts[fw->n] = p;
	h->nparts = n;
	pos[fw->n] = shlogfs_part_info(p, &in) == 0 ? in.start_off : 0;
	pthread_mutex_lock(&reg.mu);
	shlogfs_fw_unlink(fw);
	fw->links = links;
	fw->n = n;
	shlogfs_fw_link(fw);
	pthread_mutex_unlock(&reg.mu);
	free(old);
	return 0;
}

/* A topic's stream: take the partitions added to its topic since it
 * last looked that its opener may read (fw->mu held).  0 or -errno. */
static int shlogfs_fw_grow(struct shlogfs_fw *fw)
{
	uint64_t gen = __atomic_load_n(&reg.gen, __ATOMIC_ACQUIRE);
	const char *topic = fw->h->node->topic;
	uint32_t np;
	int rc = 0;

	if (!fw->fs || gen == fw->gen)
		return 0;
	fw->gen = gen;
	if (shlogfs_topic_nparts(fw->fs->store, topic, &np))
		return 0; /* deleted: its node tells the read */
	for (; rc == 0 && fw->seen < np; fw->seen++) {
		shlogfs_bpart *p;
		if (shlogfs_access_part(fw->fs, fw->cred, topic, fw->seen, R_OK)) {
			shlogfs_log(LOG_NOTICE, "%s/follow: partition %u, added "
				    "after the open by uid %u, is not readable "
				    "by it: not followed", topic, fw->seen,
				    (unsigned)fw->cred->uid);
			continue;
		}
		if ((rc = shlogfs_part_get(fw->fs->store, topic, fw->seen, &p)))
			break;
		if ((rc = shlogfs_fw_add(fw, p))) {
			shlogfs_part_put(p);
			break;
		}
	}
	if (rc)
		fw->gen = gen - 1; /* look again at the next read */
	return rc;
}

/* ==== waiting reads =================================================== */

/* The kernel's interrupt of a waiting read (a signal): EINTR, unless an
 * append answered it first.  Called under the request's lock. */
static void shlogfs_fw_intr(fuse_req_t req, void *data)
{
	struct shlogfs_fw *fw = data;
	int mine;

	pthread_mutex_lock(&reg.mu);
	mine = fw->req == req;
	if (mine)
		shlogfs_fw_detach(fw);
	pthread_mutex_unlock(&reg.mu);
	if (mine)
		fuse_reply_err(req, EINTR);
}

/* Make @p req @p fw's waiting read (fw->mu held): 0 kept, 1 bytes came
 * meanwhile (fill again), -errno (the read's reply). */
static int shlogfs_fw_park(struct shlogfs_fw *fw, fuse_req_t req, size_t size)
{
	int rc;

	pthread_mutex_lock(&reg.mu);
	if (shlogfs_fw_ready(fw))
		rc = 1;
	else if (fw->req)
		rc = -EBUSY; /* the kernel sends one read of a file at a time */
	else if ((rc = shlogfs_fw_charge(fw->h->uid)) == 0) {
		fw->req = req;
		fw->size = size;
		__atomic_add_fetch(&reg.pending, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&reg.mu);
	if (rc == 0) /* interrupted already: the callback answers at once */
		fuse_req_interrupt_func(req, shlogfs_fw_intr, fw);
	return rc;
}

/* What shlogfs_fw_serve() did. */
enum shlogfs_fw_did {
	SHLOGFS_FW_REPLIED, /**< answered; fw->mu released */
	SHLOGFS_FW_KEPT,    /**< the read waits; fw->mu held */
	SHLOGFS_FW_EMPTY,   /**< nothing to give, nothing done; fw->mu held */
};

/* After shlogfs_fw_serve() did @p did: let fw->mu go, then commit a
 * kept read of a cursor's stream (its wait_commit: the handle lives
 * until it returns; nothing here touches fw after). */
static void shlogfs_fw_served(struct shlogfs_fw *fw, enum shlogfs_fw_did did)
{
	const struct shlogfs_fw_hooks *hooks = fw->hooks;
	struct shlogfs_handle *h = fw->h;

	if (did == SHLOGFS_FW_REPLIED)
		return;
	pthread_mutex_unlock(&fw->mu);
	if (did == SHLOGFS_FW_KEPT && hooks)
		hooks->wait_commit(h);
}

/* Reply to @p req (fw->mu held, released before the reply: it may end
 * the handle) with @p r bytes of @p buf or the error -@p r. */
static enum shlogfs_fw_did shlogfs_fw_reply(struct shlogfs_fw *fw,
					    fuse_req_t req, char *buf,
					    ssize_t r)
{
	pthread_mutex_unlock(&fw->mu);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
	return SHLOGFS_FW_REPLIED;
}

/*
 * Answer @p req with @p fw's whole messages (fw->mu held), or keep it
 * waiting (@p wait) until an append brings some (a cursor's stream: then
 * the caller calls its wait_commit hook once it let fw->mu go; the
 * handle lives until then).  A reply is kept
 * shorter than the request: the kernel splits a large read(2) into
 * requests and sends the next one only after a full reply, which would
 * then wait here while the bytes already given wait in the kernel.
 */
static enum shlogfs_fw_did shlogfs_fw_serve(struct shlogfs_fw *fw,
					    fuse_req_t req, size_t size,
					    int wait)
{
	size_t room = size > 1 ? size - 1 : size;
	char *buf = malloc(size ? size : 1);
	ssize_t r = 0;
	int rc, tries = 0;

	if (!buf)
		return shlogfs_fw_reply(fw, req, NULL, -ENOMEM);
	if ((rc = shlogfs_node_live(fw->h->node))) /* its topic was deleted */
		return shlogfs_fw_reply(fw, req, buf, rc);
	while ((rc = shlogfs_fw_grow(fw)) == 0 &&
	       (r = room ? shlogfs_fw_fill(fw, buf, room) : 0) == 0 && room) {
		/* the reader asked for more and there is none: a cursor
		 * commits, at an EAGAIN now, a wait while it waits */
		if (fw->hooks && !wait && (rc = fw->hooks->empty(fw->h)))
			return shlogfs_fw_reply(fw, req, buf, rc);
		if (fw->hooks && wait)
			fw->hooks->wait_begin(fw->h);
		if (!wait || (rc = shlogfs_fw_park(fw, req, size)) == 0) {
			free(buf);
			return wait ? SHLOGFS_FW_KEPT : SHLOGFS_FW_EMPTY;
		}
		if (fw->hooks)
			fw->hooks->wait_commit(fw->h); /* not kept: now */
		if (rc < 0)
			return shlogfs_fw_reply(fw, req, buf, rc);
		if (++tries == SHLOGFS_FW_TRIES) {
			/* the engine says bytes are there but gives none */
			shlogfs_log(LOG_ERR, "%s/%u: follow: no bytes below "
				    "the partition's end; read failed with EIO",
				    fw->h->node->topic, fw->h->node->part);
			return shlogfs_fw_reply(fw, req, buf, -EIO);
		}
	}
	if (rc == 0 && r > 0 && fw->hooks)
		fw->hooks->gave(fw->h, buf, (size_t)r);
	return shlogfs_fw_reply(fw, req, buf, rc ? rc : r);
}

/* read op of a follow file (not seekable: @p off is the stream's own
 * position, which the follower keeps itself). */
void shlogfs_fw_read(fuse_req_t req, struct shlogfs_handle *h, size_t size,
		     uint64_t off)
{
	struct shlogfs_fw *fw = h->fw;
	int wait = !(__atomic_load_n(&h->rd_flags, __ATOMIC_RELAXED) &
		     O_NONBLOCK);
	enum shlogfs_fw_did did;

	(void)off;
	pthread_mutex_lock(&fw->mu);
	did = shlogfs_fw_serve(fw, req, size, wait);
	shlogfs_fw_served(fw, did);
	if (did == SHLOGFS_FW_EMPTY)
		fuse_reply_err(req, EAGAIN);
}

/* Answer the waiting read an append took from @p fw (no lock held). */
static void shlogfs_fw_answer(struct shlogfs_fw *fw, fuse_req_t req,
			      size_t size)
{
	pthread_mutex_lock(&fw->mu);
	/* no interrupt callback from here on (it waits for one running) */
	fuse_req_interrupt_func(req, NULL, NULL);
	shlogfs_fw_served(fw, shlogfs_fw_serve(fw, req, size, 1));
}

/* ==== wake-up ========================================================= */

/* Notify and drop @p fw's kept poll handle, if any (reg.mu held). */
static void shlogfs_fw_notify(struct shlogfs_fw *fw)
{
	if (!fw->ph)
		return;
	fuse_lowlevel_notify_poll(fw->ph);
	fuse_pollhandle_destroy(fw->ph);
	fw->ph = NULL;
	__atomic_sub_fetch(&reg.pending, 1, __ATOMIC_RELEASE);
}

/* Notify @p l's follower and take its waiting read into @p woken
 * (reg.mu held). */
static void shlogfs_fw_wake_link(struct shlogfs_fw_link *l,
				 struct shlogfs_fw **woken)
{
	struct shlogfs_fw *fw = l->fw;

	shlogfs_fw_notify(fw);
	if (!fw->req)
		return;
	fw->wsize = fw->size;
	fw->wreq = shlogfs_fw_detach(fw);
	fw->next = *woken;
	*woken = fw;
}

/* Answer the waiting reads taken into @p woken (no lock held); a waiting
 * read keeps its handle open, so each follower lives until answered. */
static void shlogfs_fw_answer_all(struct shlogfs_fw *woken)
{
	struct shlogfs_fw *fw, *next;

	for (fw = woken; fw; fw = next) {
		next = fw->next;
		shlogfs_fw_answer(fw, fw->wreq, fw->wsize);
	}
}

/* After an append to @p p (every append site of the daemon calls it):
 * answer its followers' waiting reads, notify their polls. */
int shlogfs_fw_after(shlogfs_bpart *p, int rc)
{
	struct shlogfs_fw_link *l;
	struct shlogfs_fw *woken = NULL;

	if (rc != 0 || !__atomic_load_n(&reg.pending, __ATOMIC_ACQUIRE))
		return rc;
	pthread_mutex_lock(&reg.mu);
	LIST_FOREACH(l, &reg.b[shlogfs_fw_bucket(p)], link)
		if (l->p == p)
			shlogfs_fw_wake_link(l, &woken);
	pthread_mutex_unlock(&reg.mu);
	shlogfs_fw_answer_all(woken);
	return rc;
}

/* After topic @p topic changed (deleted, a partition added, a cursor
 * removed; the nodes of removed names unlinked): its followers' waiting
 * reads are served again (a removed one's get ENOENT, a topic's stream
 * takes the new partitions), their polls are notified. */
void shlogfs_fw_topic_changed(const char *topic)
{
	struct shlogfs_fw_link *l;
	struct shlogfs_fw *woken = NULL;

	/* before reg.mu: a read that parks after it sees it (fw_ready) */
	__atomic_add_fetch(&reg.gen, 1, __ATOMIC_RELEASE);
	if (!__atomic_load_n(&reg.pending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&reg.mu);
	for (unsigned b = 0; b < SHLOGFS_FW_BUCKETS; b++)
		LIST_FOREACH(l, &reg.b[b], link)
			if (strcmp(l->fw->h->node->topic, topic) == 0)
				shlogfs_fw_wake_link(l, &woken);
	pthread_mutex_unlock(&reg.mu);
	shlogfs_fw_answer_all(woken);
}

/* ==== poll ============================================================ */

/* Answer a poll of @p fw: POLLIN if ready, else keep @p ph (if any) to
 * notify at the next append; @p more: the bits always set. */
static void shlogfs_fw_poll_answer(fuse_req_t req, struct shlogfs_fw *fw,
				   struct fuse_pollhandle *ph, unsigned more)
{
	int ready, grown;

	pthread_mutex_lock(&fw->mu);
	grown = shlogfs_fw_grow(fw);
	pthread_mutex_lock(&reg.mu);
	ready = grown || shlogfs_fw_ready(fw); /* an error: a read reports it */
	if (!ready && ph) {
		if (fw->ph)
			fuse_pollhandle_destroy(fw->ph);
		else
			__atomic_add_fetch(&reg.pending, 1, __ATOMIC_RELEASE);
		fw->ph = ph;
		ph = NULL;
	}
	pthread_mutex_unlock(&reg.mu);
	pthread_mutex_unlock(&fw->mu);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, more | (ready ? POLLIN | POLLRDNORM : 0));
}

/* poll op of a follow file. */
void shlogfs_fw_poll(fuse_req_t req, struct shlogfs_handle *h,
		     struct fuse_pollhandle *ph)
{
	shlogfs_fw_poll_answer(req, h->fw, ph, 0);
}

/* A follower of its log for a polled partition-log handle, made at its
 * first poll; NULL: ENOMEM. */
static struct shlogfs_fw *shlogfs_fw_of_log(struct shlogfs_handle *h)
{
	static pthread_mutex_t made = PTHREAD_MUTEX_INITIALIZER;
	struct shlogfs_fw *fw;

	pthread_mutex_lock(&made);
	if (!h->fw && shlogfs_fw_open(h, &h->part, 1) == 0)
		h->fw->log = 1;
	fw = h->fw;
	pthread_mutex_unlock(&made);
	return fw;
}

/* poll op of a partition log: writable always, readable past the offset
 * of its last read. */
void shlogfs_fw_poll_log(fuse_req_t req, struct shlogfs_handle *h,
			 struct fuse_pollhandle *ph)
{
	struct shlogfs_fw *fw = shlogfs_fw_of_log(h);

	if (!fw) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	shlogfs_fw_poll_answer(req, fw, ph, POLLOUT | POLLWRNORM);
}

/* ==== followers ======================================================= */

/* A follower of @p h's @p np partitions @p parts from their first kept
 * messages, not registered yet; NULL: ENOMEM. */
static struct shlogfs_fw *shlogfs_fw_new(struct shlogfs_handle *h,
					 shlogfs_bpart **parts, uint32_t np)
{
	struct shlogfs_fw *fw = calloc(1, sizeof *fw);

	if (!fw || !(fw->pos = calloc(np ? np : 1, sizeof *fw->pos)) ||
	    !(fw->links = calloc(np ? np : 1, sizeof *fw->links))) {
		if (fw)
			free(fw->pos);
		free(fw);
		return NULL;
	}
	pthread_mutex_init(&fw->mu, NULL);
	fw->h = h;
	fw->parts = parts;
	fw->n = np;
	fw->mid = -1;
	for (uint32_t i = 0; i < np; i++) {
		struct shlog_part_info in;
		if (shlogfs_part_info(parts[i], &in) == 0)
			fw->pos[i] = in.start_off;
	}
	return fw;
}

/* Free a follower (no longer registered). */
static void shlogfs_fw_free(struct shlogfs_fw *fw)
{
	pthread_mutex_destroy(&fw->mu);
	free(fw->cred);
	free(fw->links);
	free(fw->pos);
	free(fw);
}

/* Register @p fw under each of its partitions as @p h's follower. */
static int shlogfs_fw_start(struct shlogfs_handle *h, struct shlogfs_fw *fw)
{
	pthread_mutex_lock(&reg.mu);
	shlogfs_fw_link(fw);
	reg.followers++;
	pthread_mutex_unlock(&reg.mu);
	h->fw = fw;
	return 0;
}

/* Make @p h follow its @p np partitions @p parts from their first kept
 * messages (a partition's follow file, a polled log). */
int shlogfs_fw_open(struct shlogfs_handle *h, shlogfs_bpart **parts,
		    uint32_t np)
{
	struct shlogfs_fw *fw = shlogfs_fw_new(h, parts, np);

	return fw ? shlogfs_fw_start(h, fw) : -ENOMEM;
}

/* Make @p h (a cursor's stream) follow its partition from log offset
 * h->base, telling @p hooks what it gives. */
int shlogfs_fw_open_cursor(struct shlogfs_handle *h,
			   const struct shlogfs_fw_hooks *hooks)
{
	struct shlogfs_fw *fw = shlogfs_fw_new(h, &h->part, 1);

	if (!fw)
		return -ENOMEM;
	fw->pos[0] = h->base;
	fw->hooks = hooks;
	return shlogfs_fw_start(h, fw);
}

/* Make @p h (<topic>/follow, opened by @p c) follow its partitions
 * h->parts and those added later that @p c may read. */
int shlogfs_fw_open_topic(struct shlogfs *fs, struct shlogfs_handle *h,
			  const struct shlogfs_cred *c)
{
	struct shlogfs_fw *fw = shlogfs_fw_new(h, h->parts, h->nparts);

	if (!fw || !(fw->cred = malloc(sizeof *fw->cred))) {
		if (fw)
			shlogfs_fw_free(fw);
		return -ENOMEM;
	}
	*fw->cred = *c;
	fw->fs = fs;
	fw->seen = h->nparts;
	/* a partition may have come since the open counted them: look at
	 * the first read or poll */
	fw->gen = __atomic_load_n(&reg.gen, __ATOMIC_ACQUIRE) - 1;
	return shlogfs_fw_start(h, fw);
}

/* The figures of /.metrics: followers open, reads waiting now, waiting
 * reads refused by the caps since the mount. */
void shlogfs_fw_figures(uint64_t *followers, uint64_t *waiting,
			uint64_t *refused)
{
	pthread_mutex_lock(&reg.mu);
	*followers = reg.followers;
	*waiting = reg.waiting;
	*refused = reg.refused;
	pthread_mutex_unlock(&reg.mu);
}

/* Drop @p h's follower (handle.c, at its release): its poll handle; a
 * read still waiting (only at exit, the session gone) gets EIO. */
void shlogfs_fw_close(struct shlogfs_handle *h)
{
	struct shlogfs_fw *fw = h->fw;
	fuse_req_t req;

	if (!fw)
		return;
	pthread_mutex_lock(&fw->mu); /* wait for a reader or waker in it */
	pthread_mutex_unlock(&fw->mu);
	pthread_mutex_lock(&reg.mu);
	shlogfs_fw_unlink(fw);
	reg.followers--;
	if (fw->ph) {
		fuse_pollhandle_destroy(fw->ph);
		fw->ph = NULL;
		__atomic_sub_fetch(&reg.pending, 1, __ATOMIC_RELEASE);
	}
	req = shlogfs_fw_detach(fw);
	pthread_mutex_unlock(&reg.mu);
	if (req) {
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, EIO);
	}
	shlogfs_fw_free(fw);
	h->fw = NULL;
}
