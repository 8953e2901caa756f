/*
 * export.c — `shlogctl export DATADIR TOPIC PART [FILE|-]`: the log of one
 * partition as it reads, plain text lines, to a file or stdout
 * (docs/SHLOGCTL.md).  Read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl_i.h"
#include "io_i.h"

/* Bytes read from the log at a time. */
#define EXPORT_CHUNK (1u << 20)

/* Open export's output file: created or truncated, but never through a symlink and never a non-file. */
static FILE *open_output(const char *file)
{
	int fd = sl_io_open(AT_FDCWD, file, O_WRONLY | O_CREAT | O_TRUNC, 0644, S_IFREG);
	FILE *f;

	if (fd < 0) {
		errno = fd == -EUCLEAN ? ELOOP : -fd;
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f)
		sl_io.close(fd);
	return f;
}

/* Copy the committed log of @p to @out with a progress bar; 0 or -errno. */
static int export_log(shlog_part *p, FILE *out)
{
	struct shlog_part_info in;
	struct ctl_progress pg;
	char *buf = malloc(EXPORT_CHUNK);
	uint64_t off;
	int rc = !buf ? -ENOMEM : shlog_part_info(p, &in);

	ctl_progress_init(&pg, "export");
	for (off = rc == 0 ? in.start_off : 0; rc == 0 && off < in.committed_off;) {
		size_t want = in.committed_off - off < EXPORT_CHUNK ? (size_t)(in.committed_off - off) : EXPORT_CHUNK;
		ssize_t n = shlog_part_read(p, off, buf, want);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			rc = -errno;
		off += (uint64_t)n;
		ctl_progress_cb(off - in.start_off, in.committed_off - in.start_off, &pg);
	}
	ctl_progress_done(&pg);
	free(buf);
	return rc;
}

/* Export @topic/@num of the open store @s to @file ("-": stdout); an exit status. */
static int export_part(shlog_store *s, const char *topic, uint32_t num, const char *file)
{
	shlog_part *p;
	FILE *out;
	int rc;

	if (ctl_part_get(s, topic, num, &p) < 0)
		return CTL_EXIT_DAMAGED;
	out = strcmp(file, "-") ? open_output(file) : stdout;
	rc = !out ? -errno : export_log(p, out);
	if (out && fflush(out) != 0 && rc == 0)
		rc = -errno;
	if (out && out != stdout && fclose(out) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		ctl_warn("export %s/%u to %s: %s", topic, num, file, shlog_strerror(rc));
	shlog_part_put(p);
	return rc < 0 ? CTL_EXIT_DAMAGED : 0;
}

/* export DATADIR TOPIC PART [FILE|-] */
int ctl_cmd_export(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	const char *file;
	shlog_store *s;
	uint32_t num;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h')
			return ctl_usage(stdout), 0;
		return ctl_usage_err("export: bad option");
	}
	if ((rc = ctl_args_target("export", argc, argv, &num, &file)))
		return rc;
	rc = ctl_open_ro(dir, &s);
	if (rc)
		return rc;
	rc = export_part(s, argv[optind], num, file);
	shlog_store_close(s);
	return rc;
}
