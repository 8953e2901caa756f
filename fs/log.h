/*
 * log.h — the daemon's log lines (log.c): stderr in the foreground,
 * syslog once detached.
 */
#ifndef SHLOGFS_LOG_H
#define SHLOGFS_LOG_H

#include <stdarg.h>

#include "shlogfs.h"

/** Log a line to stderr (foreground) or syslog (daemon); warnings and
 *  notices at most 20 a minute per call site (log.c). */
void shlogfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** From now on, log to syslog (after detaching). */
void shlogfs_log_to_syslog(void);
/** Log debug lines too (-d). */
void shlogfs_log_debug(void);
/** libfuse's log lines (fuse_set_log_func). */
void shlogfs_log_fuse(enum fuse_log_level level, const char *fmt, va_list ap);
/** The engine's log lines (shlog_options.log). */
void shlogfs_log_engine(int level, const char *msg, void *arg);

#endif /* SHLOGFS_LOG_H */
