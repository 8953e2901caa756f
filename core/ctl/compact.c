/*
 * compact.c — `shlogctl compact DATADIR TOPIC PART [--segment-bytes N]`:
 * keep the latest message of every key (tombstones dropped) and every
 * keyless message, through shlog_part_compact (docs/SHLOGCTL.md).  Needs
 * the data dir unmounted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "ctl_i.h"

/* The line that says what compaction kept and dropped. */
static void compact_report(const char *topic, uint32_t num, const struct shlog_compact_result *r)
{
	printf("%s/%u: compacted: kept %" PRIu64 " of %" PRIu64 " messages (%" PRIu64 " keyless), %" PRIu64
	       " of %" PRIu64 " bytes; dropped %" PRIu64 " superseded messages and tombstones (%" PRIu64
	       " tombstones); ", topic, num, r->msgs_kept, r->msgs_in, r->keyless_kept, r->bytes_kept,
	       r->bytes_in, r->msgs_in - r->msgs_kept, r->tombstones_dropped);
	if (r->msgs_kept)
		printf("messages now %" PRIu64 "..%" PRIu64, r->start_seq, r->end_seq - 1);
	else
		printf("no messages left");
	printf(", end unchanged at %" PRIu64 "\n", r->end_seq);
}

/* compact DATADIR TOPIC PART [--segment-bytes N] */
int ctl_cmd_compact(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "segment-bytes", required_argument, 0, 'S' },
					     { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct shlog_compact_result r;
	struct shlog_options o;
	struct ctl_progress pg;
	uint64_t segb = 0;
	uint32_t num;
	int c, rc;

	while ((c = getopt_long(argc, argv, "S:h", lo, NULL)) != -1) {
		if (c == 'S' && shlog_size_parse(optarg, &segb) == 0 && segb > 0)
			continue;
		if (c == 'h')
			return ctl_usage(stdout), 0;
		return ctl_usage_err("compact: bad option or value");
	}
	if ((rc = ctl_args_target("compact", argc, argv, &num, NULL)))
		return rc;
	shlog_options_init(&o);
	o.log = ctl_engine_log;
	ctl_progress_init(&pg, "compact");
	rc = shlog_part_compact(dir, argv[optind], num, segb, &o, ctl_progress_cb, &pg, &r);
	ctl_progress_done(&pg);
	if (rc == -EBUSY) {
		ctl_busy(dir, "compact");
		return CTL_EXIT_DAMAGED;
	}
	if (rc < 0) {
		ctl_warn("%s/%u: compaction failed: %s%s", argv[optind], num, shlog_strerror(rc),
			 rc == -EIO || rc == -EUCLEAN ? " (run verify and repair first)" : "");
		return rc == -ENOENT ? CTL_EXIT_USAGE : CTL_EXIT_DAMAGED;
	}
	compact_report(argv[optind], num, &r);
	return 0;
}
