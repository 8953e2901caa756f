/*
 * log.c — the daemon's log lines: to stderr with a "shlogfs: " prefix
 * while in the foreground, to syslog once detached (main.c); libfuse's
 * and the engine's lines go the same way.
 */
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static int shlogfs_to_syslog;             /* 1 once detached */
static int shlogfs_max_level = LOG_INFO; /* LOG_DEBUG with -d */

/* Log one line to stderr or syslog. */
static void shlogfs_vlog(int level, const char *fmt, va_list ap)
{
	if (level > shlogfs_max_level)
		return;
	if (shlogfs_to_syslog) {
		vsyslog(level, fmt, ap);
		return;
	}
	fputs("shlogfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Daemon log line (level as syslog's). */
void shlogfs_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	shlogfs_vlog(level, fmt, ap);
	va_end(ap);
}

/* Detached: every line goes to syslog from now on. */
void shlogfs_log_to_syslog(void)
{
	openlog("shlogfs", LOG_PID, LOG_DAEMON);
	shlogfs_to_syslog = 1;
}

/* -d: debug lines too. */
void shlogfs_log_debug(void)
{
	shlogfs_max_level = LOG_DEBUG;
}

/* libfuse's log lines (they end in '\n' already). */
void shlogfs_log_fuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
	if ((int)level > shlogfs_max_level)
		return;
	if (shlogfs_to_syslog) {
		vsyslog((int)level, fmt, ap);
		return;
	}
	vfprintf(stderr, fmt, ap);
}

/* The engine's log lines (shlog_options.log). */
void shlogfs_log_engine(int level, const char *msg, void *arg)
{
	(void)arg;
	shlogfs_log(level, "%s", msg);
}
