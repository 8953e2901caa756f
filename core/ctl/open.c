/*
 * open.c — what shlogctl's commands open: the store (read-only, or with
 * its lock for the write commands), the data dir and a partition's
 * directory by fd, and the list of partitions a verify or repair covers,
 * found by walking the data dir by name (no store is open then).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl_i.h"
#include "array_i.h"
#include "io_i.h"
#include "names_i.h"

/* ================================================================ */
/* Names                                                             */
/* ================================================================ */

/* Add a copy of @name. */
int ctl_names_add(struct ctl_names *l, const char *name)
{
	char **nv = sl_array_room(l->v, &l->cap, l->n, sizeof(*l->v));

	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n] = strdup(name);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

/* Free a list. */
void ctl_names_free(struct ctl_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Parse TOPIC and PART arguments. */
static int ctl_topic_part(const char *topic, const char *part, uint32_t *num)
{
	if (shlog_topic_name_check(topic) < 0)
		return ctl_usage_err("bad topic name '%s'", topic);
	if (shlog_part_name_parse(part, num) < 0)
		return ctl_usage_err("bad partition number '%s'", part);
	return 0;
}

/* TOPIC PART [FILE|-] after command @cmd's options (@file NULL: no FILE); 0 or an exit status. */
int ctl_args_target(const char *cmd, int argc, char **argv, uint32_t *num, const char **file)
{
	int n = argc - optind;

	if (!file && n != 2)
		return ctl_usage_err("%s: need TOPIC PART", cmd);
	if (file && (n < 2 || n > 3))
		return ctl_usage_err("%s: need TOPIC PART [FILE|-]", cmd);
	if (file)
		*file = n == 3 ? argv[optind + 2] : "-";
	return ctl_topic_part(argv[optind], argv[optind + 1], num);
}

/* ================================================================ */
/* The store                                                         */
/* ================================================================ */

/* Open @dir read-only (no lock taken, nothing written); 0 or an exit status. */
int ctl_open_ro(const char *dir, shlog_store **s)
{
	struct shlog_options o;
	struct stat sb;
	int rc;

	if (sl_io.fstatat(AT_FDCWD, dir, &sb, 0) < 0 || !S_ISDIR(sb.st_mode)) {
		ctl_warn("%s: not a data directory: %s", dir, strerror(errno ? errno : ENOTDIR));
		return CTL_EXIT_USAGE;
	}
	shlog_options_init(&o);
	o.read_only = 1;
	o.log = ctl_engine_log;
	rc = shlog_store_open(dir, &o, s);
	if (rc == -EUCLEAN) {
		ctl_warn("%s: damaged data (see above); run '%s verify %s' and '%s repair %s'", dir, ctl_prog, dir,
			 ctl_prog, dir);
		return CTL_EXIT_DAMAGED;
	}
	if (rc < 0) {
		ctl_warn("%s: cannot open: %s", dir, shlog_strerror(rc));
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* Message for a write command that found the lock held. */
void ctl_busy(const char *dir, const char *what)
{
	ctl_warn("%s: the data directory is in use (its lock is held, most likely by a mounted shlogfs); "
		 "unmount it before '%s' (read-only commands work while it is mounted)", dir, what);
}

/* Open @dir for writing (takes the lock); 0 or an exit status. */
int ctl_open_rw(const char *dir, const struct shlog_options *o, const char *what, shlog_store **s)
{
	int rc = shlog_store_open(dir, o, s);

	if (rc == -EBUSY) {
		ctl_busy(dir, what);
		return CTL_EXIT_DAMAGED;
	}
	if (rc == -EUCLEAN) {
		ctl_warn("%s: damaged data (see above); run '%s repair %s' first", dir, ctl_prog, dir);
		return CTL_EXIT_DAMAGED;
	}
	if (rc < 0) {
		ctl_warn("%s: cannot open: %s", dir, shlog_strerror(rc));
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* Get a partition handle with a message if there is none. */
int ctl_part_get(shlog_store *s, const char *topic, uint32_t num, shlog_part **p)
{
	int rc = shlog_part_get(s, topic, num, p);

	if (rc < 0)
		ctl_warn("%s/%u: no such partition", topic, num);
	return rc;
}

/* ================================================================ */
/* The data dir by name (verify, repair, info's file sizes)          */
/* ================================================================ */

/* Open directory @path (the operator's DATADIR; a symlink to it is fine). */
int ctl_open_datadir(const char *path)
{
	int fd = sl_io.openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* Open partition directory @topic/@num of the data dir @dir. */
int ctl_open_part_dir(const char *dir, const char *topic, uint32_t num)
{
	char name[SHLOG_PART_NAME_CAP];
	int dfd, pfd;

	if ((pfd = sl_name_part(name, sizeof(name), num)) < 0)
		return pfd;
	if ((dfd = ctl_open_datadir(dir)) < 0)
		return dfd;
	pfd = sl_io_open_subdir(dfd, topic, name);
	sl_io.close(dfd);
	return pfd;
}

/* Order names by strcmp (qsort). */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Order partition names by number (qsort). */
static int cmp_num(const void *a, const void *b)
{
	unsigned long x = strtoul(*(char *const *)a, NULL, 10), y = strtoul(*(char *const *)b, NULL, 10);
	return x < y ? -1 : x > y;
}

/* What list_dir() collects: topic names or partition numbers. */
struct listing {
	struct ctl_names *out;
	int parts;
};

/* Keep a topic or partition name (sl_io_dir_foreach callback). */
static int list_one(const char *name, unsigned char d_type, void *arg)
{
	struct listing *l = arg;
	uint32_t n;

	if (l->parts ? shlog_part_name_parse(name, &n) < 0 : shlog_topic_name_check(name) < 0)
		return 0;
	if (d_type != DT_DIR && d_type != DT_UNKNOWN)
		return 0;
	return ctl_names_add(l->out, name);
}

/* Topic names (@parts 0) or partition numbers (@parts 1) found in directory @dfd, sorted. */
static int list_dir(int dfd, int parts, struct ctl_names *out)
{
	struct listing l = { out, parts };
	int rc = sl_io_dir_foreach(dfd, list_one, &l);

	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), parts ? cmp_num : cmp_str);
	return rc;
}

/* Partition numbers of topic @topic in the data dir @dfd. */
static int list_parts(int dfd, const char *topic, struct ctl_names *out)
{
	int tfd = sl_io_open(dfd, topic, O_RDONLY, 0, S_IFDIR), rc;

	if (tfd < 0)
		return tfd;
	rc = list_dir(tfd, 1, out);
	sl_io.close(tfd);
	return rc;
}

/* The partitions of one topic to select: @part alone, or every one found; 0, -errno or an exit status. */
static int select_topic(const char *dir, int dfd, const char *topic, const char *part, struct ctl_names *parts)
{
	uint32_t num;
	int rc;

	if (part) {
		if (shlog_part_name_parse(part, &num) < 0)
			return ctl_usage_err("bad partition number '%s'", part);
		return ctl_names_add(parts, part);
	}
	rc = list_parts(dfd, topic, parts);
	if (rc < 0)
		ctl_warn("%s/%s: cannot list: %s", dir, topic, shlog_strerror(rc));
	return rc;
}

/* Add @topic's selected partitions to @sel; 0, -errno or an exit status. */
static int select_add(const char *dir, int dfd, const char *topic, const char *part, struct ctl_sel *sel)
{
	struct ctl_names parts = { 0 };
	int rc = select_topic(dir, dfd, topic, part, &parts);

	for (size_t k = 0; rc == 0 && k < parts.n; k++) {
		rc = ctl_names_add(&sel->topics, topic);
		if (rc == 0)
			rc = ctl_names_add(&sel->parts, parts.v[k]);
	}
	ctl_names_free(&parts);
	return rc;
}

/* Fill @sel from [TOPIC [PART]]; 0 or an exit status. */
int ctl_select(const char *dir, const char *topic, const char *part, struct ctl_sel *sel)
{
	struct ctl_names topics = { 0 };
	int rc, dfd;

	if (topic && shlog_topic_name_check(topic) < 0)
		return ctl_usage_err("bad topic name '%s'", topic);
	rc = dfd = ctl_open_datadir(dir);
	if (rc >= 0)
		rc = topic ? ctl_names_add(&topics, topic) : list_dir(dfd, 0, &topics);
	if (rc < 0) {
		ctl_warn("%s: cannot list: %s", dir, shlog_strerror(rc));
		ctl_names_free(&topics);
		if (dfd >= 0)
			sl_io.close(dfd);
		return CTL_EXIT_USAGE;
	}
	for (size_t i = 0; rc == 0 && i < topics.n; i++)
		rc = select_add(dir, dfd, topics.v[i], part, sel);
	ctl_names_free(&topics);
	sl_io.close(dfd);
	return rc > 0 ? rc : rc < 0 ? CTL_EXIT_USAGE : 0;
}

/* Free a selection. */
void ctl_select_free(struct ctl_sel *sel)
{
	ctl_names_free(&sel->topics);
	ctl_names_free(&sel->parts);
}
