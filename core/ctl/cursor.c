/*
 * cursor.c — `shlogctl cursor list|set|delete DATADIR TOPIC PART [NAME
 * [SEQ]]`: a partition's durable cursors, offline (docs/SHLOGCTL.md).
 * list opens the store read-only (safe while shlogfs runs: every commit
 * is on disk when it returns); set and delete open it for writing, so
 * they refuse while the daemon holds the data dir's lock.  set makes the
 * cursor if it does not exist.  All of it is the library's API
 * (shlog_cursor_*).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_i.h"

/* What list prints for each cursor: name, position, lag in messages. */
struct list_ctx {
	uint64_t start_seq, end_seq;
};

/* shlog_cursor_foreach callback: one line "NAME<TAB>SEQ<TAB>LAG". */
static int list_one(const char *name, uint64_t seq, void *arg)
{
	const struct list_ctx *x = arg;
	uint64_t from = seq > x->start_seq ? seq : x->start_seq;

	printf("%s\t%" PRIu64 "\t%" PRIu64 "\n", name, seq, x->end_seq > from ? x->end_seq - from : 0);
	return 0;
}

/* cursor list: every cursor of the partition. */
static int cursor_list(const char *dir, const char *topic, uint32_t num)
{
	struct shlog_part_info in;
	struct list_ctx x;
	shlog_store *s;
	shlog_part *p;
	int rc = ctl_open_ro(dir, &s);

	if (rc)
		return rc;
	if ((rc = ctl_part_get(s, topic, num, &p)) == 0) {
		if ((rc = shlog_part_info(p, &in)) == 0) {
			x.start_seq = in.start_seq;
			x.end_seq = in.end_seq;
			rc = shlog_cursor_foreach(p, list_one, &x);
		}
		if (rc < 0)
			ctl_warn("%s/%u: cannot list its cursors: %s", topic, num, shlog_strerror(rc));
		shlog_part_put(p);
	}
	shlog_store_close(s);
	return rc < 0 ? CTL_EXIT_DAMAGED : 0;
}

/* Say why a set or delete of cursor @p name failed with @p rc. */
static void say_failed(const char *topic, uint32_t num, const char *name, const char *verb, int rc)
{
	if (rc == -ENOENT)
		ctl_warn("%s/%u: no cursor '%s'", topic, num, name);
	else if (rc == -ERANGE)
		ctl_warn("%s/%u: cursor '%s': the position is past the end of the log", topic, num, name);
	else if (rc == -ENOSPC)
		ctl_warn("%s/%u: already %d cursors, the most a partition may have", topic, num,
			 SHLOG_CURSORS_MAX);
	else
		ctl_warn("%s/%u: cannot %s cursor '%s': %s", topic, num, verb, name, shlog_strerror(rc));
}

/* cursor set (@p seq_s not NULL) or delete: one cursor, durably. */
static int cursor_change(const char *dir, const char *topic, uint32_t num, const char *name,
			 const char *seq_s)
{
	const char *verb = seq_s ? "set" : "delete";
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	uint64_t seq = 0;
	int rc;

	if (shlog_cursor_name_check(name) < 0)
		return ctl_usage_err("cursor %s: bad cursor name '%s' ([A-Za-z0-9._-], 1 to %d, not starting "
				     "with '.')", verb, name, SHLOG_CURSOR_NAME_MAX);
	if (seq_s && shlog_u64_parse(seq_s, &seq) < 0)
		return ctl_usage_err("cursor set: bad message number '%s'", seq_s);
	shlog_options_init(&o);
	o.log = ctl_engine_log;
	if ((rc = ctl_open_rw(dir, &o, "cursor", &s)))
		return rc;
	if ((rc = ctl_part_get(s, topic, num, &p)) == 0) {
		rc = seq_s ? shlog_cursor_set(p, name, seq, SHLOG_CURSOR_CREATE) : shlog_cursor_delete(p, name);
		if (rc < 0)
			say_failed(topic, num, name, verb, rc);
		shlog_part_put(p);
	}
	if (shlog_store_close(s) < 0 && rc == 0)
		rc = -EIO;
	return rc < 0 ? CTL_EXIT_DAMAGED : 0;
}

/* Is @word one of cursor's verbs? */
int ctl_cursor_verb(const char *word)
{
	return !strcmp(word, "list") || !strcmp(word, "set") || !strcmp(word, "delete");
}

/* shlogctl cursor VERB: check the arguments, run the verb. */
int ctl_cmd_cursor(const char *dir, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";
	uint32_t num;
	int want, rc;

	if (!ctl_cursor_verb(verb))
		return ctl_usage_err("cursor: need list, set or delete");
	want = !strcmp(verb, "list") ? 4 : !strcmp(verb, "set") ? 6 : 5;
	if (argc != want)
		return ctl_usage_err("cursor %s: need TOPIC PART%s", verb,
				     want == 4 ? "" : want == 5 ? " NAME" : " NAME SEQ");
	optind = 2;
	if ((rc = ctl_args_target(verb, 4, argv, &num, NULL)))
		return rc;
	if (want == 4)
		return cursor_list(dir, argv[2], num);
	return cursor_change(dir, argv[2], num, argv[4], want == 6 ? argv[5] : NULL);
}
