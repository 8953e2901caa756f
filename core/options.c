/*
 * options.c — the one table of what each numeric field of struct
 * shlog_options accepts, and the check shlog_store_open() makes with it.
 * The daemon checks its -o values against the same ranges
 * (shlog_option_range), so a value the mount accepts is one the engine
 * accepts.  Rules between fields and the enums are checked here too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "shlog.h"
#include "const_i.h"

/* One numeric option: its field, its width and its range. */
struct opt_range {
	const char *name;    /* the field's name */
	size_t off;          /* offsetof in struct shlog_options */
	size_t size;         /* 4 or 8 bytes */
	uint64_t min, max;
};

/* A field of struct shlog_options and its range. */
#define OPT(field, lo, hi) \
	{ #field, offsetof(struct shlog_options, field), sizeof(((struct shlog_options *)0)->field), lo, hi }

/* Every numeric option.  0 means "the default" where shlog.h says so. */
static const struct opt_range ranges[] = {
	OPT(stride, 1, 1000000),
	OPT(flush_interval_ms, 1, 3600000),
	OPT(max_buffer, 1, 1u << 30),
	OPT(max_buffer_bytes, 2, UINT64_MAX >> 2),   /* above max_message, itself >= 1 */
	OPT(max_message, 1, SHLOG_MESSAGE_LIMIT),
	OPT(segment_bytes, 1, UINT64_MAX >> 2),
	OPT(max_segments, 0, UINT32_MAX),
	OPT(sync_interval_ms, 1, 3600000),
	OPT(flush_threads, 1, SHLOG_MAX_THREADS),
	OPT(max_fds, 0, 1u << 30),
	OPT(fd_reserve, 0, 1u << 30),
	OPT(max_partitions, 0, UINT32_MAX),
};

#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* The value of numeric option @r in @o. */
static uint64_t opt_value(const struct shlog_options *o, const struct opt_range *r)
{
	const char *base = (const char *)o + r->off;
	uint32_t v32;
	uint64_t v64;

	if (r->size == sizeof(v32)) {
		memcpy(&v32, base, sizeof(v32));
		return v32;
	}
	memcpy(&v64, base, sizeof(v64));
	return v64;
}

/* The range of the numeric option @name. */
int shlog_option_range(const char *name, uint64_t *min, uint64_t *max)
{
	for (size_t i = 0; name && i < NRANGES; i++) {
		if (strcmp(ranges[i].name, name))
			continue;
		*min = ranges[i].min;
		*max = ranges[i].max;
		return 0;
	}
	return -ENOENT;
}

/* The first numeric option of @o out of its range, or NULL. */
static const struct opt_range *first_out_of_range(const struct shlog_options *o)
{
	for (size_t i = 0; i < NRANGES; i++) {
		uint64_t v = opt_value(o, &ranges[i]);
		if (v < ranges[i].min || v > ranges[i].max)
			return &ranges[i];
	}
	return NULL;
}

/* The first rule between options or of an enum that @o breaks, or NULL. */
static const char *first_bad_rule(const struct shlog_options *o)
{
	if (o->max_buffer_bytes < (uint64_t)o->max_message + 1)
		return "max_buffer_bytes must exceed max_message";
	if (o->retention == SHLOG_RETAIN_WRAP && o->max_segments < 1)
		return "wrap retention needs max_segments >= 1";
	if (o->retention != SHLOG_RETAIN_WRAP && o->retention != SHLOG_RETAIN_HALT)
		return "unknown retention";
	if (o->sync > SHLOG_SYNC_ALWAYS)
		return "unknown sync policy";
	return NULL;
}

/* Every option of @o in range and consistent; else -EINVAL and why. */
int shlog_options_check(const struct shlog_options *o, char *why, size_t cap)
{
	const struct opt_range *r;
	const char *rule;

	if (!o)
		return -EINVAL;
	if ((r = first_out_of_range(o))) {
		if (why)
			snprintf(why, cap, "%s must be %" PRIu64 "..%" PRIu64, r->name, r->min, r->max);
		return -EINVAL;
	}
	if ((rule = first_bad_rule(o))) {
		if (why)
			snprintf(why, cap, "%s", rule);
		return -EINVAL;
	}
	return 0;
}
