/*
 * names.c — every name in the data dir: making and recognising them.
 * The constants are in names_i.h; docs/FORMAT.md "The data directory"
 * lists the files.  Nothing here touches the file system, so every
 * module (and shlogctl) may call it; temporaries get their random digits
 * from getrandom().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "shlog.h"
#include "const_i.h"
#include "names_i.h"

/* ================================================================ */
/* Topics and partitions                                             */
/* ================================================================ */

int shlog_topic_name_check(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strnlen(name, SHLOG_TOPIC_MAX + 1);
	if (n == 0 || n > SHLOG_TOPIC_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

/* A cursor's name: a topic name's characters, 1..SHLOG_CURSOR_NAME_MAX of them, no leading '.'. */
int shlog_cursor_name_check(const char *name)
{
	if (!name || strnlen(name, SHLOG_CURSOR_NAME_MAX + 1) > SHLOG_CURSOR_NAME_MAX)
		return -EINVAL;
	return shlog_topic_name_check(name);
}

int shlog_part_name_parse(const char *name, uint32_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (!name || !name[0])
		return -EINVAL;
	n = strlen(name);
	if (n > 6 || (name[0] == '0' && n > 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v >= SHLOG_MAX_PARTS)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Partition @num's directory name. */
int sl_name_part(char *buf, size_t cap, uint32_t num)
{
	int n = snprintf(buf, cap, "%u", num);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ================================================================ */
/* Segments                                                          */
/* ================================================================ */

/* The extension of segment file @f. */
static const char *seg_ext(enum sl_seg_file f)
{
	return f == SL_SEG_IDX ? "idx" : "log";
}

/* "<base, 20 digits>.<ext>" */
int sl_name_segment(char *buf, size_t cap, uint64_t base, enum sl_seg_file f)
{
	int n = snprintf(buf, cap, "%0*llu.%s", SHLOG_SEG_NAME_DIGITS, (unsigned long long)base, seg_ext(f));
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Exactly SHLOG_SEG_NAME_DIGITS decimal digits that fit a uint64_t?  Their value in @v. */
static int seg_digits(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < SHLOG_SEG_NAME_DIGITS; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*v = x;
	return 1;
}

/* Is @name "<20 digits>.log" or ".idx"? */
int sl_name_parse_segment(const char *name, uint64_t *base)
{
	const char *ext = name + SHLOG_SEG_NAME_DIGITS;
	uint64_t v;
	int f;

	if (strlen(name) != SHLOG_SEG_NAME_DIGITS + 4 || ext[0] != '.')
		return 0;
	if (!strcmp(ext + 1, "log"))
		f = SL_SEG_LOG;
	else if (!strcmp(ext + 1, "idx"))
		f = SL_SEG_IDX;
	else
		return 0;
	if (!seg_digits(name, &v))
		return 0;
	*base = v;
	return f;
}

/* ================================================================ */
/* Temporaries                                                       */
/* ================================================================ */

/* 64 random bits (a clock mix if getrandom cannot: O_EXCL/mkdirat catch a repeat). */
static uint64_t random_bits(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
		    (uint64_t)getpid() << 32;
	}
	return r;
}

/* "<prefix><16 random hex digits><suffix>": fixed length, whatever a topic's name. */
int sl_name_temp(char *buf, size_t cap, const char *prefix, const char *suffix)
{
	int n = snprintf(buf, cap, "%s%0*llx%s", prefix, SHLOG_TMP_HEX,
			 (unsigned long long)random_bits(), suffix);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ".compact-N-": what a compaction's copy of partition @part starts with. */
int sl_name_compact_prefix(char *buf, size_t cap, uint32_t part)
{
	int n = snprintf(buf, cap, "%s%u-", SHLOG_COMPACT_PREFIX, part);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ".compact-N-<hex>.old" from ".compact-N-<hex>.new". */
int sl_name_compact_old(char *old, size_t cap, const char *tmp)
{
	size_t n = strlen(tmp), sfx = strlen(SHLOG_COMPACT_NEW_SUFFIX);

	if (n < sfx || strcmp(tmp + n - sfx, SHLOG_COMPACT_NEW_SUFFIX))
		return -EINVAL;
	if (n + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(old, tmp, n - sfx);
	memcpy(old + n - sfx, SHLOG_COMPACT_OLD_SUFFIX, sfx + 1);
	return 0;
}

/* Is @s exactly @n lower-case hex digits? */
static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Parse ".compact-<N>[-<16 hex>].new|.old". */
int sl_name_parse_compact(const char *name, uint32_t *part, int *old)
{
	size_t n = strlen(name), plen = strlen(SHLOG_COMPACT_PREFIX), dlen;
	const char *digits = name + plen, *end, *dash;
	char num[SHLOG_PART_NAME_CAP];

	if (strncmp(name, SHLOG_COMPACT_PREFIX, plen) || n < plen + 1 + 4)
		return 0;
	end = name + n - 4;
	if (strcmp(end, SHLOG_COMPACT_NEW_SUFFIX) && strcmp(end, SHLOG_COMPACT_OLD_SUFFIX))
		return 0;
	dash = memchr(digits, '-', (size_t)(end - digits));
	dlen = (size_t)((dash ? dash : end) - digits);
	if (dlen == 0 || dlen >= sizeof(num))
		return 0;
	if (dash && ((size_t)(end - dash - 1) != SHLOG_TMP_HEX || !all_hex(dash + 1, SHLOG_TMP_HEX)))
		return 0;
	memcpy(num, digits, dlen);
	num[dlen] = 0;
	if (shlog_part_name_parse(num, part) < 0)
		return 0;
	*old = !strcmp(end, SHLOG_COMPACT_OLD_SUFFIX);
	return 1;
}

/* ".repair-<stamp>-": what a repair's backup directory starts with. */
int sl_name_repair_prefix(char *buf, size_t cap, const char *stamp)
{
	int n = snprintf(buf, cap, "%s%s-", SHLOG_REPAIR_PREFIX, stamp);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ================================================================ */
/* What a name is                                                    */
/* ================================================================ */

/* Does @name start with @prefix? */
static int has_prefix(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix));
}

/* An entry of the data dir. */
static enum sl_name_kind data_kind(const char *name)
{
	static const struct { const char *name; enum sl_name_kind k; } fixed[] = {
		{ SHLOG_LOCK_NAME, SL_NAME_LOCK }, { SHLOG_CTL_NAME, SL_NAME_CTL },
		{ SHLOG_ROOT_META_NAME, SL_NAME_ROOT_META }, { SHLOG_LEGACY_PID_NAME, SL_NAME_LEGACY },
		{ SHLOG_LEGACY_SYNCED_NAME, SL_NAME_LEGACY }, { SHLOG_LEGACY_SYNCED_TMP_NAME, SL_NAME_LEGACY },
	};
	static const struct { const char *prefix; enum sl_name_kind k; } temps[] = {
		{ SHLOG_TMP_NEW_PREFIX, SL_NAME_TOPIC_NEW }, { SHLOG_TMP_DEL_PREFIX, SL_NAME_TOPIC_DEL },
		{ SHLOG_META_TMP_PREFIX, SL_NAME_META_TMP }, { SHLOG_REPAIR_PREFIX, SL_NAME_REPAIR },
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(name, fixed[i].name))
			return fixed[i].k;
	for (size_t i = 0; i < sizeof(temps) / sizeof(temps[0]); i++)
		if (has_prefix(name, temps[i].prefix))
			return temps[i].k;
	return shlog_topic_name_check(name) == 0 ? SL_NAME_TOPIC : SL_NAME_OTHER;
}

/* An entry of a topic's directory. */
static enum sl_name_kind topic_kind(const char *name)
{
	uint32_t n;

	if (shlog_part_name_parse(name, &n) == 0)
		return SL_NAME_PART;
	if (!strcmp(name, SHLOG_META_NAME))
		return SL_NAME_META;
	if (has_prefix(name, SHLOG_META_TMP_PREFIX))
		return SL_NAME_META_TMP;
	if (has_prefix(name, SHLOG_COMPACT_PREFIX))
		return SL_NAME_COMPACT;
	return SL_NAME_OTHER;
}

/* An entry of a partition's directory. */
static enum sl_name_kind part_kind(const char *name)
{
	uint64_t base;

	switch (sl_name_parse_segment(name, &base)) {
	case SL_SEG_LOG:
		return SL_NAME_SEG_LOG;
	case SL_SEG_IDX:
		return SL_NAME_SEG_IDX;
	}
	if (!strcmp(name, SHLOG_ANCHOR_NAME))
		return SL_NAME_ANCHOR;
	if (!strcmp(name, SHLOG_KEYS_NAME))
		return SL_NAME_KEYS;
	if (!strcmp(name, SHLOG_KEYS_TMP_NAME))
		return SL_NAME_KEYS_TMP;
	if (!strcmp(name, SHLOG_CURSORS_NAME))
		return SL_NAME_CURSORS;
	return SL_NAME_OTHER;
}

enum sl_name_kind sl_name_kind(enum sl_name_dir where, const char *name)
{
	switch (where) {
	case SL_DIR_DATA:
		return data_kind(name);
	case SL_DIR_TOPIC:
		return topic_kind(name);
	case SL_DIR_PART:
		return part_kind(name);
	}
	return SL_NAME_OTHER;
}

/* The temporaries: a crash may leave them; the next open (or compaction) removes or settles them. */
int sl_name_is_temp(enum sl_name_kind k)
{
	return k == SL_NAME_TOPIC_NEW || k == SL_NAME_TOPIC_DEL || k == SL_NAME_META_TMP ||
	       k == SL_NAME_COMPACT || k == SL_NAME_KEYS_TMP;
}
