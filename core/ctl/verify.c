/*
 * verify.c — `shlogctl verify DATADIR [TOPIC [PART]] [-q]`: check every
 * topic's layout as an open would, then every span and index entry of
 * each partition (shlog_part_verify), printing each problem and one line
 * per partition.  Read-only, no lock.  ctl_verify_one() is also repair's
 * first step.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl_i.h"
#include "io_i.h"
#include "meta_i.h"

/* Print one problem (shlog_part_verify callback). */
static int verify_problem(const struct shlog_verify_problem *pr, void *arg)
{
	struct ctl_verify *v = arg;

	ctl_progress_done(&v->pg);
	printf("%s %s byte %" PRIu64 ": %s\n", pr->damage ? "DAMAGE" : "warning", pr->file, pr->byte, pr->what);
	return 0;
}

/* The summary line of one verified partition (nothing for a clean one with -q). */
static void verify_summary(const char *topic, uint32_t num, const struct ctl_verify *v,
			   const struct shlog_verify_stats *st)
{
	if (st->damage)
		printf("%s/%u: DAMAGED: %" PRIu64 " problem%s; valid up to message %" PRIu64 " (offset %" PRIu64
		       "), %" PRIu64 " of %" PRIu64 " log bytes in %" PRIu64 " segment%s\n", topic, num, st->damage,
		       st->damage == 1 ? "" : "s", st->valid_seq, st->valid_off, st->bytes, st->file_bytes,
		       st->segments, st->segments == 1 ? "" : "s");
	else if (!v->quiet && st->messages == 0)
		printf("%s/%u: ok: no messages, %" PRIu64 " segment%s%s\n", topic, num, st->segments,
		       st->segments == 1 ? "" : "s", st->warnings ? " (with warnings)" : "");
	else if (!v->quiet)
		printf("%s/%u: ok: %" PRIu64 " messages (%" PRIu64 "..%" PRIu64 "), %" PRIu64 " bytes in %" PRIu64
		       " segment%s%s\n", topic, num, st->messages, st->start_seq, st->valid_seq - 1, st->bytes,
		       st->segments, st->segments == 1 ? "" : "s", st->warnings ? " (with warnings)" : "");
}

/* Verify one partition and print its summary line; -errno, else 0 (see st). */
int ctl_verify_one(const char *dir, const char *topic, uint32_t num, struct ctl_verify *v,
		   struct shlog_verify_stats *st)
{
	char label[64];
	int rc;

	snprintf(label, sizeof(label), "verify %s/%u", topic, num);
	ctl_progress_init(&v->pg, label);
	rc = shlog_part_verify(dir, topic, num, verify_problem, ctl_progress_cb, v, st);
	ctl_progress_done(&v->pg);
	if (rc < 0) {
		printf("%s/%u: cannot verify: %s\n", topic, num, strerror(-rc));
		return rc;
	}
	verify_summary(topic, num, v, st);
	return 0;
}

/* sl_io_dir_foreach callback: every name a topic could have, whatever it is on disk. */
static int list_topic_name(const char *name, unsigned char d_type, void *arg)
{
	(void)d_type;
	return shlog_topic_name_check(name) < 0 ? 0 : ctl_names_add(arg, name);
}

/* Check each topic's layout (@topic, or all) as an open does; print and count what it would set aside. */
static uint64_t verify_layouts(const char *dir, const char *topic)
{
	struct ctl_names topics = { 0 };
	uint64_t bad = 0;
	int dfd = ctl_open_datadir(dir), rc;

	if (dfd < 0)
		return 0;       /* ctl_select says why */
	rc = topic ? ctl_names_add(&topics, topic) : sl_io_dir_foreach(dfd, list_topic_name, &topics);
	for (size_t i = 0; rc == 0 && i < topics.n; i++) {
		char why[256] = "";
		if (sl_topic_check_layout(dfd, topics.v[i], why, sizeof(why)) == -EUCLEAN) {
			printf("DAMAGE %s: %s (an open sets the topic aside)\n", topics.v[i], why);
			bad++;
		}
	}
	ctl_names_free(&topics);
	sl_io.close(dfd);
	return bad;
}

/* verify DATADIR [TOPIC [PART]] [-q] */
int ctl_cmd_verify(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' },
					     { 0, 0, 0, 0 } };
	struct ctl_verify v = { .quiet = 0 };
	struct ctl_sel sel = { 0 };
	uint64_t damaged = 0, errors = 0, n;
	const char *topic, *part;
	int c, rc;

	while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		if (c == 'q')
			v.quiet = 1;
		else if (c == 'h')
			return ctl_usage(stdout), 0;
		else
			return ctl_usage_err("verify: bad option");
	}
	if (argc - optind > 2)
		return ctl_usage_err("verify: too many arguments");
	topic = optind < argc ? argv[optind] : NULL;
	part = optind + 1 < argc ? argv[optind + 1] : NULL;
	if ((rc = ctl_select(dir, topic, part, &sel)))
		return rc;
	n = sel.parts.n;
	damaged = verify_layouts(dir, topic);
	for (size_t i = 0; i < sel.parts.n; i++) {
		struct shlog_verify_stats st;
		uint32_t num;
		shlog_part_name_parse(sel.parts.v[i], &num);
		if (ctl_verify_one(dir, sel.topics.v[i], num, &v, &st) < 0)
			errors++;
		else if (st.damage)
			damaged++;
	}
	ctl_select_free(&sel);
	if (!v.quiet || damaged || errors)
		printf("%" PRIu64 " partition%s checked: %" PRIu64 " damaged%s\n", n, n == 1 ? "" : "s", damaged,
		       errors ? ", some could not be read" : "");
	if (errors)
		return CTL_EXIT_USAGE;
	return damaged ? CTL_EXIT_DAMAGED : 0;
}
