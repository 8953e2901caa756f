/*
 * repair.c — repair one partition of a data directory (shlog_part_repair,
 * for `shlogctl repair`): the engine's own recovery with the repair
 * option, applied to that partition only.
 *
 * shlog_store_open() with repair on would cut every damaged partition of
 * the store; an operator who names one partition (and whose tool backed up
 * only that one) wants the others left alone.  So this takes the data
 * dir's lock, builds a store with no topics and no workers around the one
 * partition, lets sl_part_recover() check every span and cut at the
 * first bad one, and closes the partition cleanly (sync, clean anchor).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "engine_i.h"
#include "io_i.h"
#include "lock_i.h"

/* ================================================================ */
/* Repairing one partition                                           */
/* ================================================================ */

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
	if (sl_io.boot_id(s->boot_id) < 0)
		memset(s->boot_id, 0, sizeof(s->boot_id));
}

/* Keep the lowest segment base of the names seen (sl_io_dir_foreach callback). */
static int low_seg(const char *name, unsigned char d_type, void *arg)
{
	uint64_t *low = arg, v;

	(void)d_type;
	if (sl_name_parse_segment(name, &v) == SL_SEG_LOG && v < *low)
		*low = v;
	return 0;
}

/* The lowest segment base in partition dir @num of topic dir @tdfd (UINT64_MAX if none). */
static uint64_t first_seg_base(int tdfd, uint32_t num)
{
	char name[SHLOG_PART_NAME_CAP];
	uint64_t low = UINT64_MAX;
	int fd;

	sl_name_part(name, sizeof(name), num);
	fd = sl_io_open(tdfd, name, O_RDONLY, 0, S_IFDIR);
	if (fd < 0)
		return low;
	if (sl_io_dir_foreach(fd, low_seg, &low) < 0)
		low = UINT64_MAX;
	sl_io.close(fd);
	return low;
}

/* Recover partition @num of topic @t in store @s with repair on, close it cleanly. */
static int repair_one(shlog_store *s, struct shlog_topic *t, uint32_t num, struct shlog_repair_result *r)
{
	shlog_part *p = sl_part_new(s, t, num);
	uint64_t low = first_seg_base(t->dfd, num);
	int rc;

	if (!p)
		return -ENOMEM;
	rc = sl_part_recover(p, 0);
	if (rc == 0) {
		r->bytes_dropped = p->st.recovered_bytes_dropped;
		r->msgs_dropped = p->st.recovered_msgs_dropped;
		/* an unreadable oldest segment that repair dropped: its messages too */
		if (low != UINT64_MAX && p->start_seq > low)
			r->msgs_dropped += p->start_seq - low;
		r->end_seq = p->committed_seq;
		r->end_off = p->committed_off;
		rc = sl_part_close(p);
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
	struct stat sb;
	char num[16];
	int dfd, lock_fd, rc;

	if (!dir || shlog_topic_name_check(topic) < 0)
		return -EINVAL;
	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	rc = sl_lock_open(dir, SL_LOCK_TAKE, &dfd, &lock_fd);
	if (rc < 0)
		return rc;
	bare_store_init(&s, o, dfd);
	s.o.repair = 1;
	memset(&t, 0, sizeof(t));
	strlcpy(t.name, topic, sizeof(t.name));
	t.dfd = sl_io_open(dfd, topic, O_RDONLY, 0, S_IFDIR);
	sl_name_part(num, sizeof(num), part);
	if (t.dfd < 0)
		rc = t.dfd;
	else if (sl_io.fstatat(t.dfd, num, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else if (!S_ISDIR(sb.st_mode))
		rc = -EUCLEAN;
	if (rc == 0)
		rc = repair_one(&s, &t, part, r);
	if (t.dfd >= 0)
		sl_io.close(t.dfd);
	sl_lock_close(dfd, lock_fd);
	return rc;
}
