/*
 * out.c — how shlogctl talks to people: its name and usage text,
 * "shlogctl: ..." messages and usage errors on stderr, the engine's log
 * lines, a progress bar (only when stderr is a terminal) and JSON strings
 * for --json output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl_i.h"
#include "util_i.h"

#define NS_PER_SEC 1000000000LL

/* ================================================================ */
/* Usage and messages                                                */
/* ================================================================ */

/* The name every message starts with. */
const char *const ctl_prog = "shlogctl";

/* The whole usage text, for -h. */
void ctl_usage(FILE *f)
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
		"  cursor  list DATADIR TOPIC PART                durable cursors: name, position, lag in messages\n"
		"write (need DATADIR not mounted):\n"
		"  repair  DATADIR [TOPIC [PART]]                 cut damaged logs at the first bad span,\n"
		"                                                 backing up what is cut in DATADIR/.repair-TIME-RANDOM/\n"
		"  compact DATADIR TOPIC PART [--segment-bytes N] keep the latest message per key (tombstones\n"
		"                                                 dropped) and every keyless message\n"
		"  import  DATADIR TOPIC PART [FILE|-] [--segment-bytes N]  append lines (creates the topic)\n"
		"  cursor  set|delete DATADIR TOPIC PART NAME [SEQ]  move (or make) or delete a durable cursor\n"
		"daemon:\n"
		"  sync    DATADIR [--timeout SEC]                ask the running shlogfs to make everything durable\n"
		"  delete  MOUNTPOINT TOPIC                       delete a topic and all its data through the mounted\n"
		"                                                 shlogfs (MOUNTPOINT/.delete; root or the owner of the\n"
		"                                                 topic and every one of its partitions)\n"
		"\n"
		"TIME: Unix seconds (1700000000.5), UTC date and time (2026-11-22T10:00:00Z, 2026-11-22),\n"
		"      or relative to now (-30s, -15m, -2h, -1d).  See docs/SHLOGCTL.md.\n",
		ctl_prog);
}


/* "shlogctl: <message><tail>" on stderr. */
static void vsay(const char *tail, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0), nonnull(2)));
static void vsay(const char *tail, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", ctl_prog);
	vfprintf(stderr, fmt, ap);
	fputs(tail, stderr);
}

/* "shlogctl: <message>" on stderr. */
void ctl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("\n", fmt, ap);
	va_end(ap);
}

/* A bad command line: the message, a pointer to -h, the usage exit status. */
int ctl_usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(" (see shlogctl -h)\n", fmt, ap);
	va_end(ap);
	return CTL_EXIT_USAGE;
}

/* Engine log lines go to stderr, notices and worse. */
void ctl_engine_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= SHLOG_NOTICE)
		fprintf(stderr, "%s: engine: %s\n", ctl_prog, msg);
}

/* ================================================================ */
/* Progress bar                                                      */
/* ================================================================ */

/* Start a progress bar labelled @label (shown only if stderr is a tty). */
void ctl_progress_init(struct ctl_progress *pg, const char *label)
{
	pg->label = label;
	pg->on = isatty(2);
	pg->shown = 0;
	pg->last_ns = 0;
}

/* Redraw the bar at most ten times a second (shlog_progress_fn). */
void ctl_progress_cb(uint64_t done, uint64_t total, void *arg)
{
	struct ctl_progress *pg = arg;
	int64_t now;
	int pct, fill;

	if (!pg || !pg->on)
		return;
	now = sl_now_mono();
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
void ctl_progress_done(struct ctl_progress *pg)
{
	if (pg->on && pg->shown)
		fprintf(stderr, "\r%*s\r", 64, "");
	pg->shown = 0;
}

/* ================================================================ */
/* JSON                                                              */
/* ================================================================ */

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
void ctl_json_str(FILE *f, const char *s, size_t n)
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
