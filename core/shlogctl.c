/*
 * shlogctl.c — the admin tool for shlog data directories, in the manner
 * of mdb_stat/mdb_dump, kafka-dump-log and redis-check-aof.
 *
 *     shlogctl [-h] [-V] COMMAND DATADIR [args]
 *
 * Read-only commands (info, dump, verify, export) open the store with the
 * engine's read_only option: no lock, nothing written, so they work while
 * shlogfs has the directory mounted.  Write commands (repair, compact,
 * import) take the lock and refuse with a clear message while it is held.
 * `sync` asks a running shlogfs to make everything durable.  The commands
 * and their output are described in docs/SHLOGCTL.md.
 *
 * Exit status: 0 success (verify: clean), 1 damage found or the operation
 * failed, 2 usage error or the data dir cannot be read.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "shlog.h"
#include "io_i.h"
#include "admin_i.h"
#include "meta_i.h"

#define EXIT_DAMAGED 1
#define EXIT_USAGE 2
#define NS_PER_SEC 1000000000LL

static const char *prog = "shlogctl";

/* ================================================================ */
/* Messages, usage                                                   */
/* ================================================================ */

/* Print "shlogctl: ..." to stderr. */
static void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnx_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The whole usage text, for -h. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-h] [-V] COMMAND DATADIR [args]\n"
		"\n"
		"read-only (safe while shlogfs has DATADIR mounted):\n"
		"  info    DATADIR [--json]                       topics, partitions, segments, offsets, keys, sizes\n"
		"  dump    DATADIR TOPIC PART [--json] [--from-seq N] [--to-seq N]\n"
		"                  [--key K] [--since TIME] [--until TIME]   messages with seq, offset and time\n"
		"  verify  DATADIR [TOPIC [PART]] [-q]            check every span and index entry;\n"
		"                                                 exit 0 clean, 1 damaged, 2 error\n"
		"  export  DATADIR TOPIC PART [FILE|-]            the log as plain text lines\n"
		"write (need DATADIR not mounted):\n"
		"  repair  DATADIR [TOPIC [PART]]                 cut damaged logs at the first bad span,\n"
		"                                                 backing up what is cut in DATADIR/.repair-TIME-RANDOM/\n"
		"  compact DATADIR TOPIC PART [--segment-bytes N] keep the latest message per key (tombstones\n"
		"                                                 dropped) and every keyless message\n"
		"  import  DATADIR TOPIC PART [FILE|-] [--segment-bytes N]  append lines (creates the topic)\n"
		"daemon:\n"
		"  sync    DATADIR [--timeout SEC]                ask the running shlogfs to make everything durable\n"
		"\n"
		"TIME: Unix seconds (1700000000.5), UTC date and time (2026-11-22T10:00:00Z, 2026-11-22),\n"
		"      or relative to now (-30s, -15m, -2h, -1d).  See docs/SHLOGCTL.md.\n",
		prog);
}

/* Complain about the command line and return the usage exit status. */
static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s -h)\n", prog);
	return EXIT_USAGE;
}

/* Engine log lines go to stderr, notices and worse. */
static void engine_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= SHLOG_NOTICE)
		fprintf(stderr, "%s: engine: %s\n", prog, msg);
}

/* ================================================================ */
/* Progress bar (only when stderr is a terminal)                     */
/* ================================================================ */

struct progress {
	const char *label;
	int on;
	int shown;
	int64_t last_ns;
};

/* Monotonic now, ns. */
static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Start a progress bar labelled @label (shown only if stderr is a tty). */
static void progress_init(struct progress *pg, const char *label)
{
	pg->label = label;
	pg->on = isatty(2);
	pg->shown = 0;
	pg->last_ns = 0;
}

/* Redraw the bar at most ten times a second (shlog_progress_fn). */
static void progress_cb(uint64_t done, uint64_t total, void *arg)
{
	struct progress *pg = arg;
	int64_t now;
	int pct, fill;

	if (!pg || !pg->on)
		return;
	now = mono_ns();
	if (now - pg->last_ns < NS_PER_SEC / 10 && done < total)
		return;
	pg->last_ns = now;
	pct = total ? (int)(done * 100 / total) : 100;
	if (pct > 100)
		pct = 100;
	fill = pct * 30 / 100;
	fprintf(stderr, "\r%-24.24s [%.*s%*s] %3d%%", pg->label, fill, "##############################",
		30 - fill, "", pct);
	pg->shown = 1;
}

/* Erase the bar so normal output starts on a clean line. */
static void progress_done(struct progress *pg)
{
	if (pg->on && pg->shown)
		fprintf(stderr, "\r%*s\r", 64, "");
	pg->shown = 0;
}

/* ================================================================ */
/* Small helpers: numbers, times, JSON                               */
/* ================================================================ */

/* Parse a decimal unsigned 64-bit number; -1 if not one. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Parse a size with an optional K/M/G suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v == 0)
		return -1;
	*out = v;
	return 0;
}

/* Parse TOPIC and PART arguments. */
static int parse_topic_part(const char *topic, const char *part, uint32_t *num)
{
	if (shlog_topic_name_check(topic) < 0)
		return usage_err("bad topic name '%s'", topic);
	if (shlog_part_name_parse(part, num) < 0)
		return usage_err("bad partition number '%s'", part);
	return 0;
}

/* Nanoseconds in a fraction ".123" (up to 9 digits). */
static int64_t parse_frac(const char *s, const char **end)
{
	int64_t v = 0, scale = NS_PER_SEC;

	if (*s == '.')
		s++;
	while (isdigit((unsigned char)*s)) {
		if (scale > 1) {
			scale /= 10;
			v += (*s - '0') * scale;
		}
		s++;
	}
	*end = s;
	return v;
}

/* Parse TIME (see usage) into ns since the epoch; -1 if malformed. */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p;
	int n = 0;

	if (s[0] == '-' && isdigit((unsigned char)s[1])) {
		char *end;
		long long v = strtoll(s + 1, &end, 10);
		long long mul = !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 :
				!strcmp(end, "d") ? 86400 : 0;
		struct timespec ts;
		if (!mul)
			return -1;
		clock_gettime(CLOCK_REALTIME, &ts);
		*out = (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec - v * mul * NS_PER_SEC;
		return 0;
	}
	if (strchr(s, '-') == NULL) {      /* Unix seconds */
		char *end;
		long long sec;
		if (!isdigit((unsigned char)s[0]))
			return -1;
		sec = strtoll(s, &end, 10);
		*out = (int64_t)sec * NS_PER_SEC + parse_frac(end, &p);
		return *p ? -1 : 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3)
		return -1;
	p = s + n;
	if (*p == 'T' || *p == ' ') {
		int m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &m) != 2)
			return -1;
		p += 1 + m;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &m) != 1)
				return -1;
			p += 1 + m;
		}
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	{
		time_t sec = timegm(&tm);
		if (sec > INT64_MAX / NS_PER_SEC - 1 || sec < INT64_MIN / NS_PER_SEC + 1)
			return -1;      /* past 2262: not a time shlog can hold */
		*out = (int64_t)sec * NS_PER_SEC;
	}
	if (*p == '.')
		*out += parse_frac(p, &p);
	if (*p == 'Z')
		p++;
	return *p ? -1 : 0;
}

/* Format ns since the epoch as "2026-11-22T10:00:00.123456789Z". */
static void fmt_time(int64_t ns, char *out, size_t cap)
{
	time_t sec = (time_t)(ns / NS_PER_SEC);
	int64_t frac = ns % NS_PER_SEC;
	struct tm tm;
	char base[32];

	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%09lldZ", base, (long long)frac);
}

/* Length of the valid UTF-8 sequence at @s (of @n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		      (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (need == 0 || need > n || (need == 2 && s[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

/* Write @s as a JSON string; bytes that are not UTF-8 become \u00XX. */
static void json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		size_t l;
		if (u[i] == '"' || u[i] == '\\') {
			fputc('\\', f);
			fputc(u[i++], f);
		} else if (u[i] == '\t') {
			fputs("\\t", f), i++;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			fprintf(f, "\\u%04x", u[i++]);
		} else if ((l = utf8_len(u + i, n - i)) > 0) {
			fwrite(u + i, 1, l, f);
			i += l;
		} else {
			fprintf(f, "\\u%04x", u[i++]);
		}
	}
	fputc('"', f);
}

/* Human size: "12.3 KiB". */
static void fmt_size(uint64_t b, char *out, size_t cap)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4)
		v /= 1024, i++;
	if (i == 0)
		snprintf(out, cap, "%" PRIu64 " B", b);
	else
		snprintf(out, cap, "%.1f %s", v, unit[i]);
}

/* ================================================================ */
/* Opening the store                                                 */
/* ================================================================ */

/* Open @dir read-only (no lock taken, nothing written); 0 or an exit status. */
static int open_ro(const char *dir, shlog_store **s)
{
	struct shlog_options o;
	struct stat sb;
	int rc;

	if (sl_io.fstatat(AT_FDCWD, dir, &sb, 0) < 0 || !S_ISDIR(sb.st_mode)) {
		warnx_("%s: not a data directory: %s", dir, strerror(errno ? errno : ENOTDIR));
		return EXIT_USAGE;
	}
	shlog_options_init(&o);
	o.read_only = 1;
	o.log = engine_log;
	rc = shlog_store_open(dir, &o, s);
	if (rc == -EUCLEAN) {
		warnx_("%s: damaged data (see above); run '%s verify %s' and '%s repair %s'", dir, prog, dir,
		       prog, dir);
		return EXIT_DAMAGED;
	}
	if (rc < 0) {
		warnx_("%s: cannot open: %s", dir, shlog_strerror(rc));
		return EXIT_USAGE;
	}
	return 0;
}

/* Message for a write command that found the lock held. */
static void busy_msg(const char *dir, const char *what)
{
	warnx_("%s: the data directory is in use (its lock is held, most likely by a mounted shlogfs); "
	       "unmount it before '%s' (read-only commands work while it is mounted)", dir, what);
}

/* Open @dir for writing (takes the lock); 0 or an exit status. */
static int open_rw(const char *dir, const struct shlog_options *o, const char *what, shlog_store **s)
{
	int rc = shlog_store_open(dir, o, s);

	if (rc == -EBUSY) {
		busy_msg(dir, what);
		return EXIT_DAMAGED;
	}
	if (rc == -EUCLEAN) {
		warnx_("%s: damaged data (see above); run '%s repair %s' first", dir, prog, dir);
		return EXIT_DAMAGED;
	}
	if (rc < 0) {
		warnx_("%s: cannot open: %s", dir, shlog_strerror(rc));
		return EXIT_USAGE;
	}
	return 0;
}

/* Get a partition handle with a message if there is none. */
static int part_get(shlog_store *s, const char *topic, uint32_t num, shlog_part **p)
{
	int rc = shlog_part_get(s, topic, num, p);

	if (rc < 0)
		warnx_("%s/%u: no such partition", topic, num);
	return rc;
}

/* ================================================================ */
/* Walking the data dir by name (verify, repair: no store open)      */
/* ================================================================ */

/* A list of names. */
struct names {
	char **v;
	size_t n, cap;
};

/* Add a copy of @name. */
static int names_add(struct names *l, const char *name)
{
	if (l->n == l->cap) {
		char **nv = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 16) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
	}
	l->v[l->n] = strdup(name);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

/* Free a list. */
static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
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
	struct names *out;
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
	return names_add(l->out, name);
}

/* Topic names (@parts 0) or partition numbers (@parts 1) found in directory @dfd, sorted. */
static int list_dir(int dfd, int parts, struct names *out)
{
	struct listing l = { out, parts };
	int rc = sl_io_dir_foreach(dfd, list_one, &l);

	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), parts ? cmp_num : cmp_str);
	return rc;
}

/* Open directory @path (the operator's DATADIR; a symlink to it is fine). */
static int open_datadir(const char *path)
{
	int fd = sl_io.openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* Partition numbers of topic @topic in the data dir @dfd. */
static int list_parts(int dfd, const char *topic, struct names *out)
{
	int tfd = sl_io_open(dfd, topic, O_RDONLY, 0, S_IFDIR), rc;

	if (tfd < 0)
		return tfd;
	rc = list_dir(tfd, 1, out);
	sl_io.close(tfd);
	return rc;
}

/* The partitions a verify/repair command covers: "topic/num" pairs. */
struct sel {
	struct names topics;   /* parallel arrays */
	struct names parts;
};

/* Fill @sel from [TOPIC [PART]]; 0 or an exit status. */
static int select_parts(const char *dir, const char *topic, const char *part, struct sel *sel)
{
	struct names topics = { 0 };
	int rc, dfd;

	if (topic && shlog_topic_name_check(topic) < 0)
		return usage_err("bad topic name '%s'", topic);
	rc = dfd = open_datadir(dir);
	if (rc >= 0)
		rc = topic ? names_add(&topics, topic) : list_dir(dfd, 0, &topics);
	if (rc < 0) {
		warnx_("%s: cannot list: %s", dir, shlog_strerror(rc));
		names_free(&topics);
		if (dfd >= 0)
			sl_io.close(dfd);
		return EXIT_USAGE;
	}
	for (size_t i = 0; rc == 0 && i < topics.n; i++) {
		struct names parts = { 0 };
		uint32_t num;
		if (part) {
			if (shlog_part_name_parse(part, &num) < 0) {
				names_free(&topics);
				sl_io.close(dfd);
				return usage_err("bad partition number '%s'", part);
			}
			rc = names_add(&parts, part);
		} else {
			rc = list_parts(dfd, topics.v[i], &parts);
			if (rc < 0)
				warnx_("%s/%s: cannot list: %s", dir, topics.v[i], shlog_strerror(rc));
		}
		for (size_t k = 0; rc == 0 && k < parts.n; k++) {
			rc = names_add(&sel->topics, topics.v[i]);
			if (rc == 0)
				rc = names_add(&sel->parts, parts.v[k]);
		}
		names_free(&parts);
	}
	names_free(&topics);
	sl_io.close(dfd);
	return rc < 0 ? EXIT_USAGE : 0;
}

/* Free a selection. */
static void select_free(struct sel *sel)
{
	names_free(&sel->topics);
	names_free(&sel->parts);
}

/* ================================================================ */
/* info                                                              */
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
	char idx[32];
	int64_t size, isize;

	(void)d_type;
	if (name[0] == '.' || (size = file_size_at(f->pfd, name)) < 0)
		return 0;
	f->disk += (uint64_t)size;
	if (strlen(name) != 24 || strcmp(name + 20, ".log"))
		return 0;
	if (f->n == f->cap) {
		struct seginfo *nv = realloc(f->segs, (f->cap = f->cap ? f->cap * 2 : 8) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		f->segs = nv;
	}
	snprintf(idx, sizeof(idx), "%.20s.idx", name);
	isize = file_size_at(f->pfd, idx);
	f->segs[f->n].base = strtoull(name, NULL, 10);
	f->segs[f->n].log = (uint64_t)size;
	f->segs[f->n].idx = isize < 0 ? 0 : (uint64_t)isize;
	f->n++;
	return 0;
}

/* Open partition directory @topic/@num of the data dir @dir. */
static int open_part_dir(const char *dir, const char *topic, uint32_t num)
{
	char name[16];
	int dfd = open_datadir(dir), pfd;

	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "%u", num);
	pfd = sl_io_open_subdir(dfd, topic, name);
	sl_io.close(dfd);
	return pfd;
}

/* Sizes of a partition's files: segments (sorted) and all files together. */
static int part_files(const char *dir, const char *topic, uint32_t num, struct seginfo **segs, size_t *n,
		      uint64_t *disk)
{
	struct pfiles f = { .pfd = open_part_dir(dir, topic, num) };
	int rc;

	*segs = NULL;
	*n = 0;
	*disk = 0;
	if (f.pfd < 0)
		return f.pfd;
	rc = sl_io_dir_foreach(f.pfd, pfile_one, &f);
	sl_io.close(f.pfd);
	for (size_t i = 1; i < f.n; i++)          /* a few segments: insertion sort */
		for (size_t k = i; k > 0 && f.segs[k - 1].base > f.segs[k].base; k--) {
			struct seginfo t = f.segs[k];
			f.segs[k] = f.segs[k - 1];
			f.segs[k - 1] = t;
		}
	*segs = f.segs;
	*n = f.n;
	*disk = f.disk;
	return rc;
}

/* Collect topic names (shlog_topic_foreach callback). */
static int collect_topic(const char *topic, void *arg)
{
	return names_add(arg, topic) < 0 ? -ENOMEM : 0;
}

/* Totals over the store, for the summary line. */
struct totals {
	uint64_t topics, parts, msgs, bytes, disk;
};

/* Print one partition's info, as text or JSON. */
static int info_part(const char *dir, shlog_store *s, const char *topic, uint32_t num, int json, int first,
		     struct totals *tot)
{
	struct shlog_part_info in;
	struct seginfo *segs;
	size_t nsegs;
	uint64_t disk;
	shlog_part *p;
	char tbuf[48], sz1[32], sz2[32];
	int rc = part_get(s, topic, num, &p);

	if (rc < 0)
		return rc;
	rc = shlog_part_info(p, &in);
	shlog_part_put(p);
	if (rc < 0)
		return rc;
	part_files(dir, topic, num, &segs, &nsegs, &disk);
	tot->parts++;
	tot->msgs += in.committed_seq - in.start_seq;
	tot->bytes += in.committed_off - in.start_off;
	tot->disk += disk;
	fmt_time(in.last_flush_ns, tbuf, sizeof(tbuf));
	if (json) {
		printf("%s{\"partition\":%u,\"start_seq\":%" PRIu64 ",\"start_offset\":%" PRIu64
		       ",\"committed_seq\":%" PRIu64 ",\"committed_offset\":%" PRIu64 ",\"messages\":%" PRIu64
		       ",\"log_bytes\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"segments\":%u,\"disk_bytes\":%" PRIu64
		       ",\"anchor_generation\":%" PRIu64 ",\"last_write_ns\":%lld,\"last_write\":\"%s\""
		       ",\"recovered_bytes_dropped\":%" PRIu64 ",\"recovered_msgs_dropped\":%" PRIu64
		       ",\"segment_files\":[",
		       first ? "" : ",", num, in.start_seq, in.start_off, in.committed_seq, in.committed_off,
		       in.committed_seq - in.start_seq, in.committed_off - in.start_off, in.nkeys, in.nsegments,
		       disk, in.anchor_gen, (long long)in.last_flush_ns, in.last_flush_ns ? tbuf : "",
		       in.recovered_bytes_dropped, in.recovered_msgs_dropped);
		for (size_t i = 0; i < nsegs; i++)
			printf("%s{\"base_seq\":%" PRIu64 ",\"log_bytes\":%" PRIu64 ",\"idx_bytes\":%" PRIu64
			       ",\"index_entries\":%" PRIu64 "}", i ? "," : "", segs[i].base, segs[i].log, segs[i].idx,
			       segs[i].idx / 40);
		printf("]}");
	} else {
		fmt_size(in.committed_off - in.start_off, sz1, sizeof(sz1));
		fmt_size(disk, sz2, sizeof(sz2));
		printf("  %s/%u\n", topic, num);
		if (in.committed_seq > in.start_seq)
			printf("    messages      %" PRIu64 "..%" PRIu64 " (%" PRIu64 ")\n", in.start_seq,
			       in.committed_seq - 1, in.committed_seq - in.start_seq);
		else
			printf("    messages      none (next is %" PRIu64 ")\n", in.committed_seq);
		printf("    offsets       %" PRIu64 "..%" PRIu64 " (%s)\n", in.start_off, in.committed_off, sz1);
		printf("    committed     seq %" PRIu64 ", offset %" PRIu64 "\n", in.committed_seq, in.committed_off);
		printf("    keys          %" PRIu64 "\n", in.nkeys);
		printf("    segments      %u\n", in.nsegments);
		printf("    on disk       %s\n", sz2);
		printf("    last write    %s\n", in.last_flush_ns ? tbuf : "never");
		printf("    anchor        generation %" PRIu64 "\n", in.anchor_gen);
		if (in.recovered_bytes_dropped)
			printf("    torn tail     %" PRIu64 " bytes (%" PRIu64 " messages) past the anchor, "
			       "cut at the next writable open\n", in.recovered_bytes_dropped, in.recovered_msgs_dropped);
		for (size_t i = 0; i < nsegs; i++)
			printf("    segment %020" PRIu64 "  log %" PRIu64 " bytes, idx %" PRIu64 " bytes (%" PRIu64
			       " entries)\n", segs[i].base, segs[i].log, segs[i].idx, segs[i].idx / 40);
	}
	free(segs);
	return 0;
}

/* info DATADIR [--json] */
static int cmd_info(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
					     { 0, 0, 0, 0 } };
	struct names topics = { 0 };
	struct totals tot = { 0 };
	shlog_store *s;
	int json = 0, c, rc;

	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return usage_err("info: bad option");
	}
	if (optind != argc)
		return usage_err("info: unexpected argument '%s'", argv[optind]);
	rc = open_ro(dir, &s);
	if (rc)
		return rc;
	shlog_topic_foreach(s, collect_topic, &topics);
	if (json) {
		printf("{\"datadir\":");
		json_str(stdout, dir, strlen(dir));
		printf(",\"topics\":[");
	}
	for (size_t i = 0; i < topics.n && rc == 0; i++) {
		uint32_t np = 0;
		shlog_topic_nparts(s, topics.v[i], &np);
		tot.topics++;
		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, topics.v[i], strlen(topics.v[i]));
			printf(",\"partitions\":[");
		} else {
			printf("topic %s: %u partition%s\n", topics.v[i], np, np == 1 ? "" : "s");
		}
		for (uint32_t k = 0; k < np && rc == 0; k++)
			rc = info_part(dir, s, topics.v[i], k, json, k == 0, &tot) < 0 ? EXIT_DAMAGED : 0;
		if (json)
			printf("]}");
	}
	if (json) {
		printf("],\"topic_count\":%" PRIu64 ",\"partition_count\":%" PRIu64 ",\"messages\":%" PRIu64
		       ",\"log_bytes\":%" PRIu64 ",\"disk_bytes\":%" PRIu64 "}\n", tot.topics, tot.parts, tot.msgs,
		       tot.bytes, tot.disk);
	} else {
		char sz[32];
		fmt_size(tot.disk, sz, sizeof(sz));
		printf("%s: %" PRIu64 " topic%s, %" PRIu64 " partition%s, %" PRIu64 " messages, %s on disk\n", dir,
		       tot.topics, tot.topics == 1 ? "" : "s", tot.parts, tot.parts == 1 ? "" : "s", tot.msgs, sz);
	}
	names_free(&topics);
	shlog_store_close(s);
	return rc;
}

/* ================================================================ */
/* dump                                                              */
/* ================================================================ */

/* Filters and output mode of dump. */
struct dumpopt {
	int json;
	uint64_t from, to;             /* inclusive */
	const char *key;
	size_t klen;
	int64_t since, until;          /* [since, until) */
	uint64_t shown;
};

/* A partition's index entries, copied out. */
struct entries {
	struct shlog_index_entry *v;
	size_t n, cap;
};

/* Collect one index entry (shlog_part_index_foreach callback). */
static int collect_entry(const struct shlog_index_entry *e, void *arg)
{
	struct entries *l = arg;

	if (l->n == l->cap) {
		struct shlog_index_entry *nv = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 256) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
	}
	l->v[l->n++] = *e;
	return 0;
}

/* Read @len bytes of the log at @off into @buf (grown as needed). */
static int read_full(shlog_part *p, uint64_t off, size_t len, char **buf, size_t *cap)
{
	size_t got = 0;

	if (*cap < len) {
		char *nb = realloc(*buf, len);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = len;
	}
	while (got < len) {
		ssize_t n = shlog_part_read(p, off + got, *buf + got, len - got);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* The key of a message (bytes before the first TAB, 1..255), 0 if none. */
static size_t msg_key(const char *m, size_t len)
{
	const char *tab = memchr(m, '\t', len < SHLOG_KEY_MAX + 1 ? len : SHLOG_KEY_MAX + 1);
	return tab ? (size_t)(tab - m) : 0;
}

/* Print one message of dump. */
static void dump_msg(struct dumpopt *o, uint64_t seq, uint64_t off, int64_t t, const char *m, size_t len)
{
	char tbuf[48];
	size_t kl = msg_key(m, len);

	fmt_time(t, tbuf, sizeof(tbuf));
	if (!o->json) {
		printf("%" PRIu64 "\t%" PRIu64 "\t%s\t%.*s\n", seq, off, tbuf, (int)len, m);
		return;
	}
	printf("{\"seq\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%lld", seq, off, tbuf,
	       (long long)t);
	if (kl) {
		printf(",\"key\":");
		json_str(stdout, m, kl);
		printf(",\"value\":");
		json_str(stdout, m + kl + 1, len - kl - 1);
		if (kl + 1 == len)
			printf(",\"tombstone\":true");
	}
	printf(",\"message\":");
	json_str(stdout, m, len);
	printf("}\n");
}

/* Print the messages of one span that pass the filters; 1 when past the range. */
static int dump_span(struct dumpopt *o, const struct shlog_index_entry *e, const char *buf)
{
	size_t pos = 0;

	for (uint32_t i = 0; i < e->count; i++) {
		const char *m = buf + pos, *nl = memchr(m, '\n', e->len - pos);
		size_t len = nl ? (size_t)(nl - m) : e->len - pos;
		uint64_t seq = e->seq + i;
		if (seq > o->to)
			return 1;
		if (seq >= o->from && (!o->key || (msg_key(m, len) == o->klen && !memcmp(m, o->key, o->klen)))) {
			dump_msg(o, seq, e->off + pos, e->time_ns, m, len);
			o->shown++;
		}
		pos += len + 1;
	}
	return 0;
}

/* Walk the index of @p and print the messages the filters pass. */
static int dump_part(shlog_part *p, struct dumpopt *o)
{
	struct entries l = { 0 };
	char *buf = NULL;
	size_t cap = 0;
	int rc = shlog_part_index_foreach(p, collect_entry, &l);

	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		const struct shlog_index_entry *e = &l.v[i];
		if (e->seq + e->count <= o->from || e->time_ns < o->since)
			continue;
		if (e->time_ns >= o->until || e->seq > o->to)
			break;
		rc = read_full(p, e->off, e->len, &buf, &cap);
		if (rc == 0 && dump_span(o, e, buf))
			break;
	}
	if (rc < 0)
		warnx_("reading the log: %s", shlog_strerror(rc));
	free(buf);
	free(l.v);
	return rc;
}

/* dump DATADIR TOPIC PART [filters] */
static int cmd_dump(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, 0, 'j' }, { "from-seq", required_argument, 0, 'f' },
		{ "to-seq", required_argument, 0, 't' }, { "key", required_argument, 0, 'k' },
		{ "since", required_argument, 0, 's' }, { "until", required_argument, 0, 'u' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct dumpopt o = { .to = UINT64_MAX, .since = INT64_MIN, .until = INT64_MAX };
	shlog_store *s;
	shlog_part *p;
	uint32_t num;
	int c, rc;

	while ((c = getopt_long(argc, argv, "jf:t:k:s:u:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = 1; break;
		case 'f': if (parse_u64(optarg, &o.from)) return usage_err("dump: bad --from-seq '%s'", optarg); break;
		case 't': if (parse_u64(optarg, &o.to)) return usage_err("dump: bad --to-seq '%s'", optarg); break;
		case 'k':
			o.key = optarg;
			o.klen = strlen(optarg);
			if (o.klen == 0 || o.klen > SHLOG_KEY_MAX || strchr(optarg, '\t'))
				return usage_err("dump: a key is 1..%d bytes without TAB", SHLOG_KEY_MAX);
			break;
		case 's': if (parse_time(optarg, &o.since)) return usage_err("dump: bad --since '%s'", optarg); break;
		case 'u': if (parse_time(optarg, &o.until)) return usage_err("dump: bad --until '%s'", optarg); break;
		case 'h': usage(stdout); return 0;
		default: return usage_err("dump: bad option");
		}
	}
	if (argc - optind != 2)
		return usage_err("dump: need TOPIC PART");
	rc = parse_topic_part(argv[optind], argv[optind + 1], &num);
	if (rc)
		return rc;
	rc = open_ro(dir, &s);
	if (rc)
		return rc;
	if (part_get(s, argv[optind], num, &p) < 0) {
		shlog_store_close(s);
		return EXIT_DAMAGED;
	}
	rc = dump_part(p, &o) < 0 ? EXIT_DAMAGED : 0;
	if (fflush(stdout) != 0 && rc == 0) {
		warnx_("writing the output: %s", strerror(errno));
		rc = EXIT_DAMAGED;
	}
	shlog_part_put(p);
	shlog_store_close(s);
	return rc;
}

/* ================================================================ */
/* verify                                                            */
/* ================================================================ */

/* State shared by verify's callbacks. */
struct vctx {
	struct progress pg;
	int quiet;
};

/* Print one problem (shlog_part_verify callback). */
static int verify_problem(const struct shlog_verify_problem *pr, void *arg)
{
	struct vctx *v = arg;

	progress_done(&v->pg);
	printf("%s %s byte %" PRIu64 ": %s\n", pr->damage ? "DAMAGE" : "warning", pr->file, pr->byte, pr->what);
	return 0;
}

/* Verify one partition and print its summary line; -errno, else 0 (see st). */
static int verify_one(const char *dir, const char *topic, uint32_t num, struct vctx *v,
		      struct shlog_verify_stats *st)
{
	char label[64];
	int rc;

	snprintf(label, sizeof(label), "verify %s/%u", topic, num);
	progress_init(&v->pg, label);
	rc = shlog_part_verify(dir, topic, num, verify_problem, progress_cb, v, st);
	progress_done(&v->pg);
	if (rc < 0) {
		printf("%s/%u: cannot verify: %s\n", topic, num, strerror(-rc));
		return rc;
	}
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
		       " segment%s%s\n", topic, num, st->messages, st->start_seq, st->valid_seq - 1, st->bytes, st->segments,
		       st->segments == 1 ? "" : "s", st->warnings ? " (with warnings)" : "");
	return 0;
}

/* verify DATADIR [TOPIC [PART]] [-q] */
/* sl_io_dir_foreach callback: every name a topic could have, whatever it is on disk. */
static int list_topic_name(const char *name, unsigned char d_type, void *arg)
{
	(void)d_type;
	return shlog_topic_name_check(name) < 0 ? 0 : names_add(arg, name);
}

/* Check each topic's layout (@topic, or all) as an open does; print and count what it would set aside. */
static uint64_t verify_layouts(const char *dir, const char *topic)
{
	struct names topics = { 0 };
	uint64_t bad = 0;
	int dfd = open_datadir(dir), rc;

	if (dfd < 0)
		return 0;       /* select_parts says why */
	rc = topic ? names_add(&topics, topic) : sl_io_dir_foreach(dfd, list_topic_name, &topics);
	for (size_t i = 0; rc == 0 && i < topics.n; i++) {
		char why[256] = "";
		if (sl_topic_check_layout(dfd, topics.v[i], why, sizeof(why)) == -EUCLEAN) {
			printf("DAMAGE %s: %s (an open sets the topic aside)\n", topics.v[i], why);
			bad++;
		}
	}
	names_free(&topics);
	sl_io.close(dfd);
	return bad;
}

static int cmd_verify(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' },
					     { 0, 0, 0, 0 } };
	struct vctx v = { .quiet = 0 };
	struct sel sel = { 0 };
	uint64_t damaged = 0, errors = 0, n;
	int c, rc;

	while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		if (c == 'q')
			v.quiet = 1;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return usage_err("verify: bad option");
	}
	if (argc - optind > 2)
		return usage_err("verify: too many arguments");
	rc = select_parts(dir, optind < argc ? argv[optind] : NULL, optind + 1 < argc ? argv[optind + 1] : NULL,
			  &sel);
	if (rc)
		return rc;
	n = sel.parts.n;
	damaged = verify_layouts(dir, optind < argc ? argv[optind] : NULL);
	for (size_t i = 0; i < sel.parts.n; i++) {
		struct shlog_verify_stats st;
		uint32_t num;
		shlog_part_name_parse(sel.parts.v[i], &num);
		if (verify_one(dir, sel.topics.v[i], num, &v, &st) < 0)
			errors++;
		else if (st.damage)
			damaged++;
	}
	select_free(&sel);
	if (!v.quiet || damaged || errors)
		printf("%" PRIu64 " partition%s checked: %" PRIu64 " damaged%s\n", n, n == 1 ? "" : "s", damaged,
		       errors ? ", some could not be read" : "");
	if (errors)
		return EXIT_USAGE;
	return damaged ? EXIT_DAMAGED : 0;
}

/* ================================================================ */
/* repair                                                            */
/* ================================================================ */

/*
 * Backups.  Everything is relative to directory fds: the backup root is a
 * fresh DATADIR/.repair-<UTC time>-<16 random hex> made exclusively and
 * checked (sl_admin_mkdtemp), the topic and partition directories in
 * it are ours (0700), every file is created O_CREAT|O_EXCL and never
 * through a symlink, and sources are opened with sl_io_open (a FIFO or
 * symlink planted in a partition is refused, not waited on or followed).
 */

/* The backup of one repair command, made when the first partition needs it. */
struct backup {
	int dfd;              /* the data dir */
	int bfd;              /* the backup root, -1 until made */
	char name[96];        /* its name in the data dir */
	char stamp[32];
};

/* What copy_one() needs: source and destination partition dirs. */
struct bcopy {
	int src, dst;
	uint64_t first_seg, bytes;
};

/* Copy regular file @name from dir @src to a new file in dir @dst, fsynced; bytes added to *bytes. */
static int copy_file_at(int src, int dst, const char *name, uint64_t *bytes)
{
	char buf[65536];
	int in = sl_io_open(src, name, O_RDONLY, 0, S_IFREG), out, rc = 0;
	off_t off = 0;

	if (in < 0)
		return in;
	out = sl_io_open(dst, name, O_WRONLY | O_CREAT | O_EXCL, 0600, S_IFREG);
	if (out < 0) {
		sl_io.close(in);
		return out;
	}
	for (;;) {
		ssize_t n = sl_io.pread(in, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = sl_io_pwrite_full(out, buf, (size_t)n, off);
		if (rc < 0)
			break;
		off += n;
		*bytes += (uint64_t)n;
	}
	if (rc == 0 && sl_io.fsync(out) < 0)
		rc = -errno;
	sl_io.close(in);
	sl_io.close(out);
	return rc;
}

/* Copy a file repair may cut: segments from first_seg on, anchor, keys (sl_io_dir_foreach callback). */
static int copy_one(const char *name, unsigned char d_type, void *arg)
{
	struct bcopy *c = arg;
	size_t len = strlen(name);
	int seg = len == 24 && isdigit((unsigned char)name[0]) && (!strcmp(name + 20, ".log") || !strcmp(name + 20, ".idx"));

	(void)d_type;
	if (!(seg && strtoull(name, NULL, 10) >= c->first_seg) && strcmp(name, "anchor") && strcmp(name, "keys"))
		return 0;
	return copy_file_at(c->src, c->dst, name, &c->bytes);
}

/* Close the open fds among @fd[0..n). */
static void close_fds(const int *fd, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fd[i] >= 0)
			sl_io.close(fd[i]);
}

/* Make (or, for a topic already backed up in this run, open) directory @name in our dir @dfd. */
static int backup_subdir(int dfd, const char *name, int may_exist)
{
	if (sl_io.mkdirat(dfd, name, 0700) < 0 && !(may_exist && errno == EEXIST))
		return -errno;
	return sl_io_open(dfd, name, O_RDONLY, 0, S_IFDIR);
}

/* Make the backup root on first use. */
static int backup_root(struct backup *b)
{
	char prefix[64];

	if (b->bfd >= 0)
		return 0;
	snprintf(prefix, sizeof(prefix), ".repair-%s-", b->stamp);
	b->bfd = sl_admin_mkdtemp(b->dfd, prefix, "", b->name, sizeof(b->name));
	return b->bfd < 0 ? b->bfd : 0;
}

/* Copy what repair may cut of @topic/@num into the backup (made on first use). */
static int backup_part(struct backup *b, const char *topic, uint32_t num, uint64_t first_seg, uint64_t *bytes)
{
	struct bcopy c = { .src = -1, .dst = -1, .first_seg = first_seg };
	char pname[16];
	int btfd = -1, stfd = -1, rc = backup_root(b);

	snprintf(pname, sizeof(pname), "%u", num);
	if (rc == 0)
		rc = btfd = backup_subdir(b->bfd, topic, 1);
	if (rc >= 0)
		rc = c.dst = backup_subdir(btfd, pname, 0);
	if (rc >= 0)
		rc = stfd = sl_io_open(b->dfd, topic, O_RDONLY, 0, S_IFDIR);
	if (rc >= 0)
		rc = c.src = sl_io_open(stfd, pname, O_RDONLY, 0, S_IFDIR);
	if (rc >= 0)
		rc = sl_io_dir_foreach(c.src, copy_one, &c);
	if (rc == 0 && (sl_io.fsync(c.dst) < 0 || sl_io.fsync(btfd) < 0 || sl_io.fsync(b->bfd) < 0))
		rc = -errno;
	close_fds((int[]){ c.src, c.dst, stfd, btfd }, 4);
	*bytes = c.bytes;
	return rc < 0 ? rc : 0;
}

/* Verify, back up and repair one partition; 0 clean, 1 repaired, or an exit status << 8. */
static int repair_one(const char *dir, struct backup *b, const char *topic, uint32_t num)
{
	struct vctx v = { .quiet = 1 };
	struct shlog_verify_stats st, after;
	struct shlog_repair_result r;
	struct shlog_options o;
	uint64_t bytes = 0;
	int rc;

	rc = verify_one(dir, topic, num, &v, &st);
	if (rc < 0)
		return EXIT_USAGE << 8;
	if (st.damage == 0 && st.first_bad_seg == UINT64_MAX) {
		printf("%s/%u: clean, nothing to cut\n", topic, num);
		return 0;
	}
	rc = backup_part(b, topic, num, st.first_bad_seg, &bytes);
	if (rc < 0) {
		warnx_("%s/%u: backup to %s/%s failed (%s); not repairing", topic, num, dir,
		       b->bfd >= 0 ? b->name : ".repair-*", shlog_strerror(rc));
		return EXIT_DAMAGED << 8;
	}
	printf("%s/%u: backed up %" PRIu64 " bytes (the files repair may cut) to %s/%s/%s/%u\n", topic, num, bytes,
	       dir, b->name, topic, num);
	shlog_options_init(&o);
	o.log = engine_log;
	rc = shlog_part_repair(dir, topic, num, &o, &r);
	if (rc == -EBUSY) {
		busy_msg(dir, "repair");
		return EXIT_DAMAGED << 8;
	}
	if (rc < 0) {
		warnx_("%s/%u: repair failed: %s", topic, num, shlog_strerror(rc));
		return EXIT_DAMAGED << 8;
	}
	printf("%s/%u: repaired: dropped %" PRIu64 " bytes (%" PRIu64 " messages); the log now ends at message %"
	       PRIu64 " (offset %" PRIu64 ")\n", topic, num, r.bytes_dropped, r.msgs_dropped, r.end_seq, r.end_off);
	v.quiet = 1;
	if (shlog_part_verify(dir, topic, num, NULL, NULL, NULL, &after) == 0 && after.damage) {
		warnx_("%s/%u: still damaged after repair (%" PRIu64 " problems)", topic, num, after.damage);
		return EXIT_DAMAGED << 8;
	}
	return 1;
}

/* repair DATADIR [TOPIC [PART]] */
static int cmd_repair(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct backup b = { .dfd = -1, .bfd = -1 };
	struct sel sel = { 0 };
	time_t now = time(NULL);
	struct tm tm;
	int c, rc, worst = 0;
	uint64_t fixed = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h')
			return usage(stdout), 0;
		return usage_err("repair: bad option");
	}
	if (argc - optind > 2)
		return usage_err("repair: too many arguments");
	b.dfd = open_datadir(dir);
	if (b.dfd < 0) {
		warnx_("%s: not a data directory: %s", dir, shlog_strerror(b.dfd));
		return EXIT_USAGE;
	}
	if (sl_admin_lock_held(b.dfd) != 0) {
		busy_msg(dir, "repair");
		sl_io.close(b.dfd);
		return EXIT_DAMAGED;
	}
	rc = select_parts(dir, optind < argc ? argv[optind] : NULL, optind + 1 < argc ? argv[optind + 1] : NULL,
			  &sel);
	if (rc) {
		sl_io.close(b.dfd);
		return rc;
	}
	gmtime_r(&now, &tm);
	strftime(b.stamp, sizeof(b.stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (size_t i = 0; i < sel.parts.n; i++) {
		uint32_t num;
		shlog_part_name_parse(sel.parts.v[i], &num);
		rc = repair_one(dir, &b, sel.topics.v[i], num);
		if (rc == 1)
			fixed++;
		else if ((rc >> 8) > worst)
			worst = rc >> 8;
	}
	printf("%zu partition%s checked, %" PRIu64 " repaired%s%s%s%s\n", sel.parts.n, sel.parts.n == 1 ? "" : "s",
	       fixed, fixed ? "; backup in " : "", fixed ? dir : "", fixed ? "/" : "", fixed ? b.name : "");
	select_free(&sel);
	if (b.bfd >= 0)
		sl_io.close(b.bfd);
	sl_io.close(b.dfd);
	return worst;
}

/* ================================================================ */
/* compact                                                           */
/* ================================================================ */

/* compact DATADIR TOPIC PART [--segment-bytes N] */
static int cmd_compact(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "segment-bytes", required_argument, 0, 'S' },
					     { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct shlog_compact_result r;
	struct shlog_options o;
	struct progress pg;
	uint64_t segb = 0;
	uint32_t num;
	int c, rc;

	while ((c = getopt_long(argc, argv, "S:h", lo, NULL)) != -1) {
		if (c == 'S' && parse_size(optarg, &segb) == 0)
			continue;
		if (c == 'h')
			return usage(stdout), 0;
		return usage_err("compact: bad option or value");
	}
	if (argc - optind != 2)
		return usage_err("compact: need TOPIC PART");
	rc = parse_topic_part(argv[optind], argv[optind + 1], &num);
	if (rc)
		return rc;
	shlog_options_init(&o);
	o.log = engine_log;
	progress_init(&pg, "compact");
	rc = shlog_part_compact(dir, argv[optind], num, segb, &o, progress_cb, &pg, &r);
	progress_done(&pg);
	if (rc == -EBUSY) {
		busy_msg(dir, "compact");
		return EXIT_DAMAGED;
	}
	if (rc < 0) {
		warnx_("%s/%u: compaction failed: %s%s", argv[optind], num, shlog_strerror(rc),
		       rc == -EIO || rc == -EUCLEAN ? " (run verify and repair first)" : "");
		return rc == -ENOENT ? EXIT_USAGE : EXIT_DAMAGED;
	}
	printf("%s/%u: compacted: kept %" PRIu64 " of %" PRIu64 " messages (%" PRIu64 " keyless), %" PRIu64
	       " of %" PRIu64 " bytes; dropped %" PRIu64 " superseded messages and tombstones (%" PRIu64
	       " tombstones); ", argv[optind], num, r.msgs_kept, r.msgs_in, r.keyless_kept, r.bytes_kept,
	       r.bytes_in, r.msgs_in - r.msgs_kept, r.tombstones_dropped);
	if (r.msgs_kept)
		printf("messages now %" PRIu64 "..%" PRIu64, r.start_seq, r.end_seq - 1);
	else
		printf("no messages left");
	printf(", end unchanged at %" PRIu64 "\n", r.end_seq);
	return 0;
}

/* ================================================================ */
/* export / import                                                   */
/* ================================================================ */

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

/* export DATADIR TOPIC PART [FILE|-] */
static int cmd_export(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct shlog_part_info in;
	struct progress pg;
	shlog_store *s;
	shlog_part *p;
	const char *file;
	uint32_t num;
	uint64_t off;
	char *buf;
	FILE *out;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h')
			return usage(stdout), 0;
		return usage_err("export: bad option");
	}
	if (argc - optind < 2 || argc - optind > 3)
		return usage_err("export: need TOPIC PART [FILE|-]");
	rc = parse_topic_part(argv[optind], argv[optind + 1], &num);
	if (rc)
		return rc;
	file = argc - optind == 3 ? argv[optind + 2] : "-";
	rc = open_ro(dir, &s);
	if (rc)
		return rc;
	if (part_get(s, argv[optind], num, &p) < 0) {
		shlog_store_close(s);
		return EXIT_DAMAGED;
	}
	out = strcmp(file, "-") ? open_output(file) : stdout;
	buf = malloc(1u << 20);
	rc = !out ? -errno : !buf ? -ENOMEM : shlog_part_info(p, &in);
	progress_init(&pg, "export");
	for (off = rc == 0 ? in.start_off : 0; rc == 0 && off < in.committed_off;) {
		size_t want = in.committed_off - off < (1u << 20) ? (size_t)(in.committed_off - off) : (1u << 20);
		ssize_t n = shlog_part_read(p, off, buf, want);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			rc = -errno;
		off += (uint64_t)n;
		progress_cb(off - in.start_off, in.committed_off - in.start_off, &pg);
	}
	progress_done(&pg);
	if (out && fflush(out) != 0 && rc == 0)
		rc = -errno;
	if (out && out != stdout && fclose(out) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		warnx_("export %s/%u to %s: %s", argv[optind], num, file, shlog_strerror(rc));
	free(buf);
	shlog_part_put(p);
	shlog_store_close(s);
	return rc < 0 ? EXIT_DAMAGED : 0;
}

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
		while (n < 1000 && end - pos < (4u << 20)) {
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
	size_t cap = (size_t)max_msg + (4u << 20), len = 0;
	char *buf = malloc(cap + 1);
	struct progress pg;
	uint64_t done = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	progress_init(&pg, "import");
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
		progress_cb(done, total, &pg);
		if (len == cap) {
			rc = -EMSGSIZE;
			break;
		}
		if (n == 0)
			break;
	}
	progress_done(&pg);
	if (rc == 0 && ferror(in))
		rc = -EIO;
	free(buf);
	return rc;
}

/* import DATADIR TOPIC PART [FILE|-] [--segment-bytes N] */
static int cmd_import(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "segment-bytes", required_argument, 0, 'S' },
					     { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct shlog_options o;
	struct stat sb;
	shlog_store *s;
	shlog_part *p = NULL;
	const char *file;
	uint64_t lines = 0, total = 0;
	uint32_t num;
	FILE *in;
	int c, rc, rc2;

	shlog_options_init(&o);
	o.log = engine_log;
	while ((c = getopt_long(argc, argv, "S:h", lo, NULL)) != -1) {
		if (c == 'S' && parse_size(optarg, &o.segment_bytes) == 0)
			continue;
		if (c == 'h')
			return usage(stdout), 0;
		return usage_err("import: bad option or value");
	}
	if (argc - optind < 2 || argc - optind > 3)
		return usage_err("import: need TOPIC PART [FILE|-]");
	rc = parse_topic_part(argv[optind], argv[optind + 1], &num);
	if (rc)
		return rc;
	file = argc - optind == 3 ? argv[optind + 2] : "-";
	in = strcmp(file, "-") ? fopen(file, "re") : stdin;
	if (!in) {
		warnx_("%s: %s", file, strerror(errno));
		return EXIT_USAGE;
	}
	if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
		total = (uint64_t)sb.st_size;
	rc = open_rw(dir, &o, "import", &s);
	if (rc) {
		if (in != stdin)
			fclose(in);
		return rc;
	}
	rc = ensure_part(s, argv[optind], num);
	if (rc == 0)
		rc = shlog_part_get(s, argv[optind], num, &p);
	if (rc == 0)
		rc = import_stream(p, in, total, &lines, o.max_message);
	if (p)
		shlog_part_put(p);
	rc2 = shlog_store_close(s);
	if (rc == 0)
		rc = rc2;
	if (in != stdin)
		fclose(in);
	if (rc < 0) {
		warnx_("import into %s/%u: %s after %" PRIu64 " lines%s", argv[optind], num, shlog_strerror(rc),
		       lines, rc == -EMSGSIZE ? " (a line is longer than the largest message)" : "");
		return EXIT_DAMAGED;
	}
	printf("%s/%u: imported %" PRIu64 " messages\n", argv[optind], num, lines);
	return 0;
}

/* ================================================================ */
/* sync: ask a running shlogfs over its control socket DATADIR/.ctl   */
/* ================================================================ */

/* sync DATADIR [--timeout SEC] */
static int cmd_sync(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "timeout", required_argument, 0, 't' },
					     { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	uint64_t tmo = 60;
	char reply[32];
	pid_t pid = 0;
	int c, rc, res;

	while ((c = getopt_long(argc, argv, "t:h", lo, NULL)) != -1) {
		if (c == 't' && parse_u64(optarg, &tmo) == 0 && tmo > 0 && tmo < 86400)
			continue;
		if (c == 'h')
			return usage(stdout), 0;
		return usage_err("sync: bad option or value");
	}
	if (optind != argc)
		return usage_err("sync: unexpected argument '%s'", argv[optind]);
	rc = shlog_ctl_request(dir, "sync\n", reply, sizeof(reply), (unsigned)tmo, &pid);
	if (rc == -ESRCH) {
		warnx_("%s: no running shlogfs serves this data directory (its lock is free or there is no %s/.ctl); "
		       "nothing to sync", dir, dir);
		return EXIT_DAMAGED;
	}
	if (rc == -EPERM) {
		warnx_("%s/.ctl is not the control socket of a shlogfs serving %s (wrong type or owner, or its peer "
		       "runs as another user); refusing to talk to it", dir, dir);
		return EXIT_DAMAGED;
	}
	if (rc == -ETIMEDOUT) {
		warnx_("shlogfs (pid %d) did not answer within %" PRIu64 " s", (int)pid, tmo);
		return EXIT_DAMAGED;
	}
	if (rc == 0 && sscanf(reply, "%d", &res) != 1)
		rc = -EPROTO;
	if (rc < 0) {
		warnx_("%s: cannot ask shlogfs to sync: %s", dir, shlog_strerror(rc));
		return EXIT_DAMAGED;
	}
	if (res < 0) {
		warnx_("shlogfs (pid %d): sync failed: %s", (int)pid, shlog_strerror(res));
		return EXIT_DAMAGED;
	}
	printf("%s: synced (shlogfs pid %d): everything appended before this command is durable\n", dir, (int)pid);
	return 0;
}

/* ================================================================ */
/* main                                                              */
/* ================================================================ */

struct command {
	const char *name;
	int (*fn)(const char *dir, int argc, char **argv);
};

static const struct command commands[] = {
	{ "info", cmd_info },       { "dump", cmd_dump },     { "verify", cmd_verify },
	{ "repair", cmd_repair },   { "compact", cmd_compact }, { "export", cmd_export },
	{ "import", cmd_import },   { "sync", cmd_sync },
};

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	int i = 1;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("shlogctl %s\n", SHLOG_VERSION);
			return 0;
		}
		return usage_err("unknown option '%s'", argv[i]);
	}
	if (i >= argc)
		return usage_err("missing COMMAND");
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(argv[i], commands[k].name))
			cmd = &commands[k];
	if (!cmd)
		return usage_err("unknown command '%s'", argv[i]);
	if (i + 1 >= argc || argv[i + 1][0] == '-') {
		if (i + 1 < argc && (!strcmp(argv[i + 1], "-h") || !strcmp(argv[i + 1], "--help")))
			return usage(stdout), 0;
		return usage_err("%s: missing DATADIR", cmd->name);
	}
	/* the command's own arguments follow DATADIR; getopt_long permutes them */
	{
		static char name[32];
		const char *dir = argv[i + 1];
		snprintf(name, sizeof(name), "%s %s", prog, cmd->name);
		argv[i + 1] = name;     /* getopt's own messages then say "shlogctl dump: ..." */
		optind = 1;
		return cmd->fn(dir, argc - (i + 1), argv + i + 1);
	}
}
