/*
 * repair.c — repair one partition of a data directory (shlog_part_repair,
 * for `shlogctl repair`): the engine's own recovery with the repair
 * option, applied to that partition only.
 *
 * shlog_store_open() with repair on would cut every damaged partition of
 * the store; an operator who names one partition (and whose tool backed up
 * only that one) wants the others left alone.  So this takes the data
 * dir's lock, builds a store with no topics and no workers around the one
 * partition, lets shlog_part_recover() check every span and cut at the
 * first bad one, and closes the partition cleanly (sync, clean anchor).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "engine_i.h"
#include "io_i.h"
#include "admin_i.h"

/* Open the data dir and take its lock, as shlog_store_open() does: -EBUSY if held. */
int shlog_admin_lock(const char *dir, int *dfd, int *lock_fd)
{
	*lock_fd = -1;
	*dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return -errno;
	*lock_fd = openat(*dfd, SHLOG_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*lock_fd < 0 || flock(*lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		shlog_admin_unlock(*dfd, *lock_fd);
		*dfd = *lock_fd = -1;
		return rc;
	}
	return 0;
}

/* Release what shlog_admin_lock() took. */
void shlog_admin_unlock(int dfd, int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);
	if (dfd >= 0)
		close(dfd);
}

/* A store with no topics and no workers, on the locked dir @dfd. */
static void bare_store_init(shlog_store *s, const struct shlog_options *o, int dfd)
{
	memset(s, 0, sizeof(*s));
	if (o)
		s->o = *o;
	else
		shlog_options_init(&s->o);
	s->o.read_only = 0;
	s->dfd = dfd;
	s->lock_fd = -1;
	RB_INIT(&s->topics);
	if (shlog_io.boot_id(s->boot_id) < 0)
		memset(s->boot_id, 0, sizeof(s->boot_id));
}

/* The lowest segment base in partition dir @num of topic dir @tdfd (UINT64_MAX if none). */
static uint64_t first_seg_base(int tdfd, uint32_t num)
{
	char name[16];
	uint64_t low = UINT64_MAX;
	struct dirent *de;
	DIR *d;
	int fd;

	snprintf(name, sizeof(name), "%u", num);
	fd = openat(tdfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return low;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t v;
		if (strlen(de->d_name) == SHLOG_SEG_NAME_DIGITS + 4 && !strcmp(de->d_name + SHLOG_SEG_NAME_DIGITS, ".log") &&
		    (v = strtoull(de->d_name, NULL, 10)) < low)
			low = v;
	}
	closedir(d);
	return low;
}

/* Recover partition @num of topic @t in store @s with repair on, close it cleanly. */
static int repair_one(shlog_store *s, struct shlog_topic *t, uint32_t num, struct shlog_repair_result *r)
{
	shlog_part *p = shlog_part_new(s, t, num);
	uint64_t low = first_seg_base(t->dfd, num);
	int rc;

	if (!p)
		return -ENOMEM;
	rc = shlog_part_recover(p, 0);
	if (rc == 0) {
		r->bytes_dropped = p->st.recovered_bytes_dropped;
		r->msgs_dropped = p->st.recovered_msgs_dropped;
		/* an unreadable oldest segment that repair dropped: its messages too */
		if (low != UINT64_MAX && p->start_seq > low)
			r->msgs_dropped += p->start_seq - low;
		r->end_seq = p->committed_seq;
		r->end_off = p->committed_off;
		rc = shlog_part_close(p);
	}
	shlog_part_put(p);
	return rc;
}

int shlog_part_repair(const char *dir, const char *topic, uint32_t part,
		      const struct shlog_options *o, struct shlog_repair_result *r)
{
	struct shlog_repair_result dummy;
	struct shlog_topic t;
	shlog_store s;
	char num[16];
	int dfd, lock_fd, rc;

	if (!dir || shlog_topic_name_check(topic) < 0)
		return -EINVAL;
	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	rc = shlog_admin_lock(dir, &dfd, &lock_fd);
	if (rc < 0)
		return rc;
	bare_store_init(&s, o, dfd);
	s.o.repair = 1;
	memset(&t, 0, sizeof(t));
	strlcpy(t.name, topic, sizeof(t.name));
	t.dfd = openat(dfd, topic, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	snprintf(num, sizeof(num), "%u", part);
	if (t.dfd < 0 || faccessat(t.dfd, num, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc == 0)
		rc = repair_one(&s, &t, part, r);
	if (t.dfd >= 0)
		close(t.dfd);
	shlog_admin_unlock(dfd, lock_fd);
	return rc;
}
