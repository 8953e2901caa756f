/*
 * names_i.h — every name shlog gives a file in the data dir, in one
 * place (names.c): the constants, a function that makes each name and
 * one that recognises it.  docs/FORMAT.md "The data directory" lists the
 * same files with who makes them and when they go; keep the two in step.
 *
 * For every user of the data dir's names (the engine, the control
 * socket, shlogctl in core/ctl/):
 *   sl_name_segment()        "<base, 20 digits>.log" / ".idx"
 *   sl_name_parse_segment()  is it a segment file?  which one, which base
 *   sl_name_part()           a partition directory "N"
 *   shlog_part_name_parse()  (shlog.h) ... and back
 *   shlog_topic_name_check() (shlog.h) may a topic have this name?
 *   shlog_cursor_name_check() (shlog.h) may a cursor have this name?
 *   sl_name_temp()           "<prefix><16 random hex><suffix>", a fresh temporary
 *   sl_name_compact_prefix() ".compact-N-" (a compaction's copy, + hex + ".new")
 *   sl_name_compact_old()    its ".old" twin
 *   sl_name_parse_compact()  is it a compaction's temporary?  of which partition?
 *   sl_name_repair_prefix()  ".repair-<stamp>-" (a repair's backup, + hex)
 *   sl_name_kind()           what is this entry of a data, topic or partition dir?
 *   sl_name_is_temp()        is that kind a temporary a crash may leave?
 */
#ifndef SHLOG_NAMES_I_H
#define SHLOG_NAMES_I_H

#include <stddef.h>
#include <stdint.h>

/* ---- in the data dir ---- */
#define SHLOG_LOCK_NAME             ".lock"     /* the writers' lock (lock.c) */
#define SHLOG_CTL_NAME              ".ctl"      /* the control socket (ctlsock.c) */
#define SHLOG_ROOT_META_NAME        ".meta"     /* the mount root's record (meta.c) */
#define SHLOG_TMP_NEW_PREFIX        ".new-"     /* + 16 hex: a topic being created */
#define SHLOG_TMP_DEL_PREFIX        ".del-"     /* + 16 hex: a topic being deleted */
#define SHLOG_REPAIR_PREFIX         ".repair-"  /* + "<UTC time>-<16 hex>": a repair's backup */
#define SHLOG_LEGACY_PID_NAME       ".pid"      /* older daemons' sync protocol: removed at listen */
#define SHLOG_LEGACY_SYNCED_NAME    ".synced"
#define SHLOG_LEGACY_SYNCED_TMP_NAME ".synced.tmp"

/* ---- in a topic dir (and .meta- in the data dir too) ---- */
#define SHLOG_META_NAME             "meta"
#define SHLOG_META_TMP_PREFIX       ".meta-"    /* + 16 hex, in a topic dir or the data dir */
#define SHLOG_COMPACT_PREFIX        ".compact-" /* + "N-<16 hex>" + a suffix: a compaction */
#define SHLOG_COMPACT_NEW_SUFFIX    ".new"      /* the copy being built */
#define SHLOG_COMPACT_OLD_SUFFIX    ".old"      /* the old tree, swapped out */

/* ---- in a partition dir ---- */
#define SHLOG_SEG_NAME_DIGITS       20          /* "%020llu.log" */
#define SHLOG_ANCHOR_NAME           "anchor"
#define SHLOG_KEYS_NAME             "keys"
#define SHLOG_KEYS_TMP_NAME         "keys.tmp"
#define SHLOG_CURSORS_NAME          "cursors"   /* the partition's durable cursors (cursor.c) */

/* ---- temporaries ---- */
#define SHLOG_TMP_HEX               16          /* random hex digits of a temporary name */
#define SHLOG_TMP_TRIES             16          /* names tried before giving up (EEXIST) */
#define SHLOG_PART_NAME_CAP         16          /* room for "N" of any partition */
#define SHLOG_SEG_NAME_CAP          (SHLOG_SEG_NAME_DIGITS + 5)   /* "<20 digits>.log" and its NUL */

/* The two files of a segment. */
enum sl_seg_file {
	SL_SEG_LOG = 1,    /* "<base>.log": the messages */
	SL_SEG_IDX = 2,    /* "<base>.idx": the index entries */
};

/* Which directory a name is read in (sl_name_kind). */
enum sl_name_dir {
	SL_DIR_DATA,       /* the data dir */
	SL_DIR_TOPIC,      /* a topic's directory */
	SL_DIR_PART,       /* a partition's directory */
};

/* What an entry of one of those directories is. */
enum sl_name_kind {
	SL_NAME_OTHER = 0,     /* none of shlog's names */
	SL_NAME_TOPIC,         /* data dir: a topic's directory */
	SL_NAME_LOCK,          /* data dir: .lock */
	SL_NAME_CTL,           /* data dir: .ctl */
	SL_NAME_ROOT_META,     /* data dir: .meta */
	SL_NAME_TOPIC_NEW,     /* data dir: .new-*, a topic a crash cut while it was made */
	SL_NAME_TOPIC_DEL,     /* data dir: .del-*, a topic a crash cut while it was removed */
	SL_NAME_REPAIR,        /* data dir: .repair-*, a repair's backup (the operator's) */
	SL_NAME_LEGACY,        /* data dir: .pid, .synced, .synced.tmp of older daemons */
	SL_NAME_META_TMP,      /* data or topic dir: .meta-*, a meta file being written */
	SL_NAME_PART,          /* topic dir: a partition's directory "N" */
	SL_NAME_META,          /* topic dir: meta */
	SL_NAME_COMPACT,       /* topic dir: .compact-*, a compaction's temporary */
	SL_NAME_SEG_LOG,       /* partition dir: <base>.log */
	SL_NAME_SEG_IDX,       /* partition dir: <base>.idx */
	SL_NAME_ANCHOR,        /* partition dir: anchor */
	SL_NAME_KEYS,          /* partition dir: keys */
	SL_NAME_KEYS_TMP,      /* partition dir: keys.tmp, a key snapshot being written */
	SL_NAME_CURSORS,       /* partition dir: cursors, the durable cursors */
};

/* "<base, 20 digits>.log" or ".idx" into @buf: 0 or -ENAMETOOLONG. */
int sl_name_segment(char *buf, size_t cap, uint64_t base, enum sl_seg_file f);
/* Is @name a segment file?  SL_SEG_LOG or SL_SEG_IDX with its base in @base, or 0 if not. */
int sl_name_parse_segment(const char *name, uint64_t *base);
/* The directory name "N" of partition @num (cap >= SHLOG_PART_NAME_CAP): 0 or -ENAMETOOLONG. */
int sl_name_part(char *buf, size_t cap, uint32_t num);
/* A fresh random "<prefix><SHLOG_TMP_HEX hex digits><suffix>": 0 or -ENAMETOOLONG. */
int sl_name_temp(char *buf, size_t cap, const char *prefix, const char *suffix);
/* The prefix ".compact-N-" of a compaction's copy of partition @part (sl_name_temp adds the rest). */
int sl_name_compact_prefix(char *buf, size_t cap, uint32_t part);
/* The ".old" twin @old of a compaction's copy named @tmp ("...new"): 0, -EINVAL or -ENAMETOOLONG. */
int sl_name_compact_old(char *old, size_t cap, const char *tmp);
/*
 * Is @name ".compact-N.new|.old" or ".compact-N-<16 hex>.new|.old" (N a
 * partition name)?  1 with N in @part and @old set for ".old", else 0.
 */
int sl_name_parse_compact(const char *name, uint32_t *part, int *old);
/* The prefix ".repair-<stamp>-" of a repair's backup directory. */
int sl_name_repair_prefix(char *buf, size_t cap, const char *stamp);
/*
 * What entry @name of a directory of kind @where is.  Temporaries are
 * recognised by their prefix alone (an older version's names included);
 * a topic or partition name by its rules; the file's type is the caller's
 * to check.
 */
enum sl_name_kind sl_name_kind(enum sl_name_dir where, const char *name);
/* Is @k a temporary that a crash may leave behind (removed or settled at open)? */
int sl_name_is_temp(enum sl_name_kind k);

#endif
