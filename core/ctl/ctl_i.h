/*
 * ctl_i.h — what the files of shlogctl share (core/ctl/).
 *
 *   main.c     the command line: global options, dispatch
 *   out.c      the usage text, messages to stderr, the progress bar,
 *              JSON strings
 *   open.c     opening the store or the data dir, naming partitions,
 *              the partitions a verify or repair covers
 *   info.c dump.c verify.c repair.c compact.c export.c import.c sync.c
 *   delete.c cursor.c
 *              one command each (verify.c also checks for repair)
 *
 * Exit status of every command: 0 success (verify: clean), CTL_EXIT_DAMAGED
 * damage found or the operation failed, CTL_EXIT_USAGE usage error or the
 * data dir cannot be read.  The grammars of times, sizes and numbers are the
 * library's (shlog.h, "text"), the same the daemon uses.
 */
#ifndef SHLOG_CTL_I_H
#define SHLOG_CTL_I_H

#include <stdint.h>
#include <stdio.h>

#include "shlog.h"

#define CTL_EXIT_DAMAGED 1
#define CTL_EXIT_USAGE 2

/* ---- out.c: usage, messages, progress, JSON ---------------------- */

/** The program's name in messages. */
extern const char *const ctl_prog;

/** Print "shlogctl: ..." to stderr. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Complain about the command line; returns CTL_EXIT_USAGE. */
int ctl_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** The whole usage text, for -h. */
void ctl_usage(FILE *f);
/** Engine log lines (shlog_options.log): notices and worse, to stderr. */
void ctl_engine_log(int level, const char *msg, void *arg);

/** A progress bar on stderr, drawn only when it is a terminal. */
struct ctl_progress {
	const char *label;
	int on;
	int shown;
	int64_t last_ns;
};

/** Start a progress bar labelled @p label. */
void ctl_progress_init(struct ctl_progress *pg, const char *label);
/** Redraw the bar at most ten times a second (a shlog_progress_fn). */
void ctl_progress_cb(uint64_t done, uint64_t total, void *arg);
/** Erase the bar so that normal output starts on a clean line. */
void ctl_progress_done(struct ctl_progress *pg);

/** Write @p s (@p n bytes) as a JSON string; bytes that are not UTF-8 become \u00XX. */
void ctl_json_str(FILE *f, const char *s, size_t n);

/* ---- open.c: the store, the data dir, the partitions ------------ */

/** A growable list of names. */
struct ctl_names {
	char **v;
	size_t n, cap;
};

/** Add a copy of @p name to @p l: 0 or -ENOMEM. */
int ctl_names_add(struct ctl_names *l, const char *name);
/** Free @p l's names and empty it. */
void ctl_names_free(struct ctl_names *l);

/** The TOPIC PART [FILE|-] arguments after command @p cmd's options (@p file NULL: no FILE): 0 or an exit status. */
int ctl_args_target(const char *cmd, int argc, char **argv, uint32_t *num, const char **file);
/** Open @p dir read-only (no lock, nothing written): 0 or an exit status (said why). */
int ctl_open_ro(const char *dir, shlog_store **s);
/** Open @p dir for writing (takes its lock) for command @p what: 0 or an exit status. */
int ctl_open_rw(const char *dir, const struct shlog_options *o, const char *what, shlog_store **s);
/** Say that a write command @p what found the data dir's lock held. */
void ctl_busy(const char *dir, const char *what);
/** shlog_part_get() that says "no such partition". */
int ctl_part_get(shlog_store *s, const char *topic, uint32_t num, shlog_part **p);
/** Open the operator's DATADIR @p path (a symlink to it is fine): an fd or -errno. */
int ctl_open_datadir(const char *path);
/** Open partition directory @p topic/@p num of the data dir @p dir: an fd or -errno. */
int ctl_open_part_dir(const char *dir, const char *topic, uint32_t num);

/** The partitions a verify or repair covers, as "topic" and "num" pairs. */
struct ctl_sel {
	struct ctl_names topics;   /* parallel arrays */
	struct ctl_names parts;
};

/** Fill @p sel from [TOPIC [PART]] (NULL: all): 0 or an exit status. */
int ctl_select(const char *dir, const char *topic, const char *part, struct ctl_sel *sel);
/** Free a selection. */
void ctl_select_free(struct ctl_sel *sel);

/* ---- verify.c, used by repair.c --------------------------------- */

/** State of one verify run: its progress bar and whether only problems are printed. */
struct ctl_verify {
	struct ctl_progress pg;
	int quiet;
};

/** Verify one partition and print its summary line; -errno, else 0 (see @p st). */
int ctl_verify_one(const char *dir, const char *topic, uint32_t num, struct ctl_verify *v,
		   struct shlog_verify_stats *st);

/* ---- the commands: (DATADIR, argc, argv from the command's name on) -> exit status */

int ctl_cmd_info(const char *dir, int argc, char **argv);
int ctl_cmd_dump(const char *dir, int argc, char **argv);
int ctl_cmd_verify(const char *dir, int argc, char **argv);
int ctl_cmd_repair(const char *dir, int argc, char **argv);
int ctl_cmd_compact(const char *dir, int argc, char **argv);
int ctl_cmd_export(const char *dir, int argc, char **argv);
int ctl_cmd_import(const char *dir, int argc, char **argv);
int ctl_cmd_sync(const char *dir, int argc, char **argv);
/** cursor: argv[1] is its verb (list, set, delete). */
int ctl_cmd_cursor(const char *dir, int argc, char **argv);
/** Is @p word a verb of cursor (main.c takes it before DATADIR too)? */
int ctl_cursor_verb(const char *word);
/** delete: @p dir is the MOUNTPOINT of a running shlogfs. */
int ctl_cmd_delete(const char *dir, int argc, char **argv);

#endif
