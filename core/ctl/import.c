/*
 * import.c — `shlogctl import DATADIR TOPIC PART [FILE|-] [--segment-bytes N]`:
 * append the lines of a file or stdin to a partition, creating the topic
 * or its missing partitions, in batches of complete lines
 * (docs/SHLOGCTL.md).  Needs the data dir unmounted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl_i.h"

/* Lines and bytes of one append: the engine takes them as one unit. */
#define IMPORT_BATCH_LINES 1000u
#define IMPORT_BATCH_BYTES (4u << 20)

/* Make sure @topic exists with a partition @num (creating or growing it). */
static int ensure_part(shlog_store *s, const char *topic, uint32_t num)
{
	uint32_t np;
	int rc = shlog_topic_nparts(s, topic, &np);

	if (rc == -ENOENT)
		return shlog_topic_create(s, topic, num + 1);
	while (rc == 0 && np <= num)
		rc = shlog_topic_add_part(s, topic, &np), np++;
	return rc;
}

/* Append the complete lines in @buf[0..len) in batches; returns bytes consumed or -errno. */
static ssize_t import_lines(shlog_part *p, const char *buf, size_t len, uint64_t *lines)
{
	size_t pos = 0;

	while (pos < len) {
		size_t end = pos;
		uint32_t n = 0;
		int rc;
		while (n < IMPORT_BATCH_LINES && end - pos < IMPORT_BATCH_BYTES) {
			const char *nl = memchr(buf + end, '\n', len - end);
			if (!nl)
				break;
			end = (size_t)(nl - buf) + 1;
			n++;
		}
		if (n == 0)
			break;
		rc = shlog_part_append_lines(p, buf + pos, end - pos, 0, NULL);
		if (rc < 0)
			return rc;
		*lines += n;
		pos = end;
	}
	return (ssize_t)pos;
}

/* Read @in to the end, appending its lines to @p. */
static int import_stream(shlog_part *p, FILE *in, uint64_t total, uint64_t *lines, uint32_t max_msg)
{
	size_t cap = (size_t)max_msg + IMPORT_BATCH_BYTES, len = 0;
	char *buf = malloc(cap + 1);
	struct ctl_progress pg;
	uint64_t done = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	ctl_progress_init(&pg, "import");
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, in);
		ssize_t used;
		len += n;
		done += n;
		if (n == 0 && len > 0 && buf[len - 1] != '\n')
			buf[len++] = '\n';        /* a last line without its newline */
		used = import_lines(p, buf, len, lines);
		if (used < 0) {
			rc = (int)used;
			break;
		}
		memmove(buf, buf + used, len - (size_t)used);
		len -= (size_t)used;
		ctl_progress_cb(done, total, &pg);
		if (len == cap) {
			rc = -EMSGSIZE;
			break;
		}
		if (n == 0)
			break;
	}
	ctl_progress_done(&pg);
	if (rc == 0 && ferror(in))
		rc = -EIO;
	free(buf);
	return rc;
}

/* Open the store, make the partition and append @in to it; 0, -errno or an exit status (> 0). */
static int import_into(const char *dir, struct shlog_options *o, const char *topic, uint32_t num, FILE *in,
		       uint64_t total, uint64_t *lines)
{
	shlog_store *s;
	shlog_part *p = NULL;
	int rc = ctl_open_rw(dir, o, "import", &s), rc2;

	if (rc)
		return rc;
	rc = ensure_part(s, topic, num);
	if (rc == 0)
		rc = shlog_part_get(s, topic, num, &p);
	if (rc == 0)
		rc = import_stream(p, in, total, lines, o->max_message);
	if (p)
		shlog_part_put(p);
	rc2 = shlog_store_close(s);
	return rc == 0 ? rc2 : rc;
}

/* Open @file ("-": stdin) for reading and get its size if it has one; NULL if it cannot be read. */
static FILE *open_input(const char *file, uint64_t *total)
{
	FILE *in = strcmp(file, "-") ? fopen(file, "re") : stdin;
	struct stat sb;

	*total = 0;
	if (in && fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
		*total = (uint64_t)sb.st_size;
	return in;
}

/* import DATADIR TOPIC PART [FILE|-] [--segment-bytes N] */
int ctl_cmd_import(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "segment-bytes", required_argument, 0, 'S' },
					     { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct shlog_options o;
	const char *file;
	uint64_t lines = 0, total;
	uint32_t num;
	FILE *in;
	int c, rc;

	shlog_options_init(&o);
	o.log = ctl_engine_log;
	while ((c = getopt_long(argc, argv, "S:h", lo, NULL)) != -1) {
		if (c == 'S' && shlog_size_parse(optarg, &o.segment_bytes) == 0 && o.segment_bytes > 0)
			continue;
		if (c == 'h')
			return ctl_usage(stdout), 0;
		return ctl_usage_err("import: bad option or value");
	}
	if ((rc = ctl_args_target("import", argc, argv, &num, &file)))
		return rc;
	if (!(in = open_input(file, &total))) {
		ctl_warn("%s: %s", file, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	rc = import_into(dir, &o, argv[optind], num, in, total, &lines);
	if (in != stdin)
		fclose(in);
	if (rc > 0)
		return rc;
	if (rc < 0) {
		ctl_warn("import into %s/%u: %s after %" PRIu64 " lines%s", argv[optind], num, shlog_strerror(rc),
			 lines, rc == -EMSGSIZE ? " (a line is longer than the largest message)" : "");
		return CTL_EXIT_DAMAGED;
	}
	printf("%s/%u: imported %" PRIu64 " messages\n", argv[optind], num, lines);
	return 0;
}
