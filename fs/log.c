/*
 * log.c — the daemon's log lines: to stderr with a "shlogfs: " prefix
 * while in the foreground, to syslog once detached (main.c); libfuse's
 * and the engine's lines go the same way.
 *
 * Most of the daemon's warnings and notices are caused by a user (a
 * refused write, rm, rename, open...), so a user repeating the call could
 * flood syslog and the disk for everyone.  shlogfs_log() therefore lets
 * each call site (its format string) log at most SHLOGFS_LOG_BURST lines
 * per SHLOGFS_LOG_WINDOW seconds at LOG_WARNING and below; the first line
 * of the next window says how many were left out.  Errors and worse,
 * debug lines (-d) and the engine's lines are never held back.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

/* Lines one call site may log per window, and the window in seconds. */
#define SHLOGFS_LOG_BURST 20
#define SHLOGFS_LOG_WINDOW 60
/* Call sites tracked (more share the last slot). */
#define SHLOGFS_LOG_SITES 128

static int shlogfs_to_syslog;             /* 1 once detached */
static int shlogfs_max_level = LOG_INFO; /* LOG_DEBUG with -d */

/* One call site's window: when it began, lines logged and left out in it. */
struct shlogfs_log_site {
	const char *fmt;
	int64_t start;
	unsigned logged;
	unsigned long dropped;
};

static struct shlogfs_log_site shlogfs_sites[SHLOGFS_LOG_SITES];
static pthread_mutex_t shlogfs_sites_lock = PTHREAD_MUTEX_INITIALIZER;

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

/* Log a line with no arguments (the rate limiter's own line). */
static void shlogfs_log_plain(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void shlogfs_log_plain(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	shlogfs_vlog(level, fmt, ap);
	va_end(ap);
}

/* The slot of call site @fmt (the table is open-addressed by the pointer). */
static struct shlogfs_log_site *shlogfs_log_site_of(const char *fmt)
{
	size_t h = ((uintptr_t)fmt >> 3) % SHLOGFS_LOG_SITES;

	for (size_t i = 0; i < SHLOGFS_LOG_SITES; i++) {
		struct shlogfs_log_site *s = &shlogfs_sites[(h + i) % SHLOGFS_LOG_SITES];
		if (!s->fmt)
			s->fmt = fmt;
		if (s->fmt == fmt)
			return s;
	}
	return &shlogfs_sites[SHLOGFS_LOG_SITES - 1];
}

/* May a line from call site @fmt be logged now?  Reports what the last window left out. */
static int shlogfs_log_allowed(int level, const char *fmt)
{
	struct shlogfs_log_site *s;
	struct timespec ts;
	unsigned long dropped = 0;
	int ok;

	if (level <= LOG_ERR || level == LOG_DEBUG)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&shlogfs_sites_lock);
	s = shlogfs_log_site_of(fmt);
	if (ts.tv_sec - s->start >= SHLOGFS_LOG_WINDOW) {
		dropped = s->dropped;
		s->start = ts.tv_sec;
		s->logged = 0;
		s->dropped = 0;
	}
	ok = s->logged < SHLOGFS_LOG_BURST;
	if (ok)
		s->logged++;
	else
		s->dropped++;
	pthread_mutex_unlock(&shlogfs_sites_lock);
	if (dropped)
		shlogfs_log_plain(level, "%lu more lines like the next one were not logged in the last %d s "
				  "(at most %d a call site per window)", dropped, SHLOGFS_LOG_WINDOW, SHLOGFS_LOG_BURST);
	return ok;
}

/* Daemon log line (level as syslog's), rate-limited per call site (above). */
void shlogfs_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > shlogfs_max_level || !shlogfs_log_allowed(level, fmt))
		return;
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
	shlogfs_log_plain(level, "%s", msg);   /* per partition, not a user's flood: never held back */
}
