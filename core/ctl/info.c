/*
 * info.c — `shlogctl info DATADIR [--json]`: every topic and partition
 * with its messages, offsets, keys, segments and the sizes of its files,
 * then totals (docs/SHLOGCTL.md).  Read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl_i.h"
#include "array_i.h"
#include "const_i.h"
#include "io_i.h"
#include "names_i.h"

/* ================================================================ */
/* A partition's files                                               */
/* ================================================================ */

/* One segment's file sizes. */
struct seginfo {
	uint64_t base, log, idx;
};

/* What part_files() gathers. */
struct pfiles {
	int pfd;
	struct seginfo *segs;
	size_t n, cap;
	uint64_t disk;
};

/* Size of regular file @name in @dfd (not followed), or -1. */
static int64_t file_size_at(int dfd, const char *name)
{
	struct stat sb;

	if (sl_io.fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
		return -1;
	return (int64_t)sb.st_size;
}

/* Count one file of a partition (sl_io_dir_foreach callback). */
static int pfile_one(const char *name, unsigned char d_type, void *arg)
{
	struct pfiles *f = arg;
	struct seginfo *nv;
	char idx[SHLOG_SEG_NAME_CAP];
	int64_t size, isize;
	uint64_t base;

	(void)d_type;
	if (name[0] == '.' || (size = file_size_at(f->pfd, name)) < 0)
		return 0;
	f->disk += (uint64_t)size;
	if (sl_name_parse_segment(name, &base) != SL_SEG_LOG)
		return 0;
	if (!(nv = sl_array_room(f->segs, &f->cap, f->n, sizeof(*nv))))
		return -ENOMEM;
	f->segs = nv;
	sl_name_segment(idx, sizeof(idx), base, SL_SEG_IDX);
	isize = file_size_at(f->pfd, idx);
	f->segs[f->n].base = base;
	f->segs[f->n].log = (uint64_t)size;
	f->segs[f->n].idx = isize < 0 ? 0 : (uint64_t)isize;
	f->n++;
	return 0;
}

/* Order segments by base (qsort). */
static int seg_cmp(const void *a, const void *b)
{
	const struct seginfo *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

/* Sizes of a partition's files: segments (sorted) and all files together. */
static int part_files(const char *dir, const char *topic, uint32_t num, struct pfiles *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->pfd = ctl_open_part_dir(dir, topic, num);
	if (f->pfd < 0)
		return f->pfd;
	rc = sl_io_dir_foreach(f->pfd, pfile_one, f);
	sl_io.close(f->pfd);
	if (f->n > 1)
		qsort(f->segs, f->n, sizeof(*f->segs), seg_cmp);
	return rc;
}

/* ================================================================ */
/* One partition                                                     */
/* ================================================================ */

/* Totals over the store, for the summary line. */
struct totals {
	uint64_t topics, parts, msgs, bytes, disk;
};

/* One partition's info as a JSON object (a ',' before all but the first). */
static void info_json(const struct shlog_part_info *in, uint32_t num, int first, const struct pfiles *f)
{
	char tbuf[SHLOG_TIME_TEXT_MAX];

	shlog_time_format(in->last_flush_ns, tbuf, sizeof(tbuf));
	printf("%s{\"partition\":%u,\"start_seq\":%" PRIu64 ",\"start_offset\":%" PRIu64
	       ",\"committed_seq\":%" PRIu64 ",\"committed_offset\":%" PRIu64 ",\"messages\":%" PRIu64
	       ",\"log_bytes\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"segments\":%u,\"disk_bytes\":%" PRIu64
	       ",\"anchor_generation\":%" PRIu64 ",\"last_write_ns\":%lld,\"last_write\":\"%s\""
	       ",\"recovered_bytes_dropped\":%" PRIu64 ",\"recovered_msgs_dropped\":%" PRIu64
	       ",\"segment_files\":[",
	       first ? "" : ",", num, in->start_seq, in->start_off, in->committed_seq, in->committed_off,
	       in->committed_seq - in->start_seq, in->committed_off - in->start_off, in->nkeys, in->nsegments,
	       f->disk, in->anchor_gen, (long long)in->last_flush_ns, in->last_flush_ns ? tbuf : "",
	       in->recovered_bytes_dropped, in->recovered_msgs_dropped);
	for (size_t i = 0; i < f->n; i++)
		printf("%s{\"base_seq\":%" PRIu64 ",\"log_bytes\":%" PRIu64 ",\"idx_bytes\":%" PRIu64
		       ",\"index_entries\":%" PRIu64 "}", i ? "," : "", f->segs[i].base, f->segs[i].log,
		       f->segs[i].idx, f->segs[i].idx / SHLOG_IDX_ENTRY_SIZE);
	printf("]}");
}

/* One partition's info as indented text. */
static void info_text(const struct shlog_part_info *in, const char *topic, uint32_t num, const struct pfiles *f)
{
	char tbuf[SHLOG_TIME_TEXT_MAX], sz1[32], sz2[32];

	shlog_time_format(in->last_flush_ns, tbuf, sizeof(tbuf));
	shlog_size_format(in->committed_off - in->start_off, SHLOG_SIZE_IEC, sz1, sizeof(sz1));
	shlog_size_format(f->disk, SHLOG_SIZE_IEC, sz2, sizeof(sz2));
	printf("  %s/%u\n", topic, num);
	if (in->committed_seq > in->start_seq)
		printf("    messages      %" PRIu64 "..%" PRIu64 " (%" PRIu64 ")\n", in->start_seq,
		       in->committed_seq - 1, in->committed_seq - in->start_seq);
	else
		printf("    messages      none (next is %" PRIu64 ")\n", in->committed_seq);
	printf("    offsets       %" PRIu64 "..%" PRIu64 " (%s)\n", in->start_off, in->committed_off, sz1);
	printf("    committed     seq %" PRIu64 ", offset %" PRIu64 "\n", in->committed_seq, in->committed_off);
	printf("    keys          %" PRIu64 "\n", in->nkeys);
	printf("    segments      %u\n", in->nsegments);
	printf("    on disk       %s\n", sz2);
	printf("    last write    %s\n", in->last_flush_ns ? tbuf : "never");
	printf("    anchor        generation %" PRIu64 "\n", in->anchor_gen);
	if (in->recovered_bytes_dropped)
		printf("    torn tail     %" PRIu64 " bytes (%" PRIu64 " messages) past the anchor, "
		       "cut at the next writable open\n", in->recovered_bytes_dropped, in->recovered_msgs_dropped);
	for (size_t i = 0; i < f->n; i++)
		printf("    segment %020" PRIu64 "  log %" PRIu64 " bytes, idx %" PRIu64 " bytes (%" PRIu64
		       " entries)\n", f->segs[i].base, f->segs[i].log, f->segs[i].idx,
		       f->segs[i].idx / SHLOG_IDX_ENTRY_SIZE);
}

/* Print one partition's info, as text or JSON, and add it to @tot. */
static int info_part(const char *dir, shlog_store *s, const char *topic, uint32_t num, int json, int first,
		     struct totals *tot)
{
	struct shlog_part_info in;
	struct pfiles f;
	shlog_part *p;
	int rc = ctl_part_get(s, topic, num, &p);

	if (rc < 0)
		return rc;
	rc = shlog_part_info(p, &in);
	shlog_part_put(p);
	if (rc < 0)
		return rc;
	part_files(dir, topic, num, &f);
	tot->parts++;
	tot->msgs += in.committed_seq - in.start_seq;
	tot->bytes += in.committed_off - in.start_off;
	tot->disk += f.disk;
	if (json)
		info_json(&in, num, first, &f);
	else
		info_text(&in, topic, num, &f);
	free(f.segs);
	return 0;
}

/* ================================================================ */
/* The store                                                         */
/* ================================================================ */

/* Collect topic names (shlog_topic_foreach callback). */
static int collect_topic(const char *topic, void *arg)
{
	return ctl_names_add(arg, topic) < 0 ? -ENOMEM : 0;
}

/* Print one topic and its partitions; 0 or an exit status. */
static int info_topic(const char *dir, shlog_store *s, const char *topic, int json, int first,
		      struct totals *tot)
{
	uint32_t np = 0;
	int rc = 0;

	shlog_topic_nparts(s, topic, &np);
	tot->topics++;
	if (json) {
		printf("%s{\"name\":", first ? "" : ",");
		ctl_json_str(stdout, topic, strlen(topic));
		printf(",\"partitions\":[");
	} else {
		printf("topic %s: %u partition%s\n", topic, np, np == 1 ? "" : "s");
	}
	for (uint32_t k = 0; k < np && rc == 0; k++)
		rc = info_part(dir, s, topic, k, json, k == 0, tot) < 0 ? CTL_EXIT_DAMAGED : 0;
	if (json)
		printf("]}");
	return rc;
}

/* The summary: a JSON object's closing totals, or one line of text. */
static void info_totals(const char *dir, const struct totals *tot, int json)
{
	char sz[32];

	if (json) {
		printf("],\"topic_count\":%" PRIu64 ",\"partition_count\":%" PRIu64 ",\"messages\":%" PRIu64
		       ",\"log_bytes\":%" PRIu64 ",\"disk_bytes\":%" PRIu64 "}\n", tot->topics, tot->parts,
		       tot->msgs, tot->bytes, tot->disk);
		return;
	}
	shlog_size_format(tot->disk, SHLOG_SIZE_IEC, sz, sizeof(sz));
	printf("%s: %" PRIu64 " topic%s, %" PRIu64 " partition%s, %" PRIu64 " messages, %s on disk\n", dir,
	       tot->topics, tot->topics == 1 ? "" : "s", tot->parts, tot->parts == 1 ? "" : "s", tot->msgs, sz);
}

/* info DATADIR [--json] */
int ctl_cmd_info(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
					     { 0, 0, 0, 0 } };
	struct ctl_names topics = { 0 };
	struct totals tot = { 0 };
	shlog_store *s;
	int json = 0, c, rc;

	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'h')
			return ctl_usage(stdout), 0;
		else
			return ctl_usage_err("info: bad option");
	}
	if (optind != argc)
		return ctl_usage_err("info: unexpected argument '%s'", argv[optind]);
	rc = ctl_open_ro(dir, &s);
	if (rc)
		return rc;
	shlog_topic_foreach(s, collect_topic, &topics);
	if (json) {
		printf("{\"datadir\":");
		ctl_json_str(stdout, dir, strlen(dir));
		printf(",\"topics\":[");
	}
	for (size_t i = 0; i < topics.n && rc == 0; i++)
		rc = info_topic(dir, s, topics.v[i], json, i == 0, &tot);
	info_totals(dir, &tot, json);
	ctl_names_free(&topics);
	shlog_store_close(s);
	return rc;
}
