/*
 * test_parse.c — the shared grammars of shlog.h's "text" section (times,
 * sizes, numbers, message keys) and the option ranges, through the public
 * library alone (this test links libshlog.a, so a function not exported
 * fails the build).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "shlog.h"

#define NS 1000000000LL

/* Wall clock in ns. */
static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Parse @s, which must succeed, and return the time. */
static int64_t tp(const char *s)
{
	int64_t ns = 0;

	assert_int_equal(shlog_time_parse(s, &ns), 0);
	return ns;
}

/* ================================================================ */
/* Times                                                             */
/* ================================================================ */

/* Unix seconds, with and without a fraction. */
static void test_time_unix(void **state)
{
	(void)state;
	assert_int_equal(tp("0"), 0);
	assert_int_equal(tp("1700000000"), 1700000000LL * NS);
	assert_int_equal(tp("1700000000.25"), 1700000000LL * NS + 250000000);
	assert_int_equal(tp("1000000000.5"), 1000000000LL * NS + 500000000);
	assert_int_equal(tp("1.000000001"), NS + 1);
	assert_int_equal(tp("1.0000000019"), NS + 1);        /* past the ninth digit: ignored */
	assert_int_equal(tp("5."), 5 * NS);                    /* shlogctl always took this */
	assert_int_equal(tp("9223372035"), 9223372035LL * NS);
}

/* Dates, times and zones (RFC 3339 and the shorter forms). */
static void test_time_civil(void **state)
{
	const int64_t t = 1795341600LL * NS;          /* 2026-11-22T10:00:00Z */

	(void)state;
	assert_int_equal(tp("2026-11-22"), 1795305600LL * NS);
	assert_int_equal(tp("2026-11-22Z"), 1795305600LL * NS);
	assert_int_equal(tp("2026-11-22T10:00"), t);
	assert_int_equal(tp("2026-11-22 10:00"), t);
	assert_int_equal(tp("2026-11-22t10:00:00z"), t);
	assert_int_equal(tp("2026-11-22T10:00:00Z"), t);
	assert_int_equal(tp("2026-11-22T10:00:00"), t);
	assert_int_equal(tp("2026-11-22T10:00:00.5Z"), t + NS / 2);
	assert_int_equal(tp("2026-11-22T10:00:00.000000001Z"), t + 1);
	assert_int_equal(tp("2026-11-22T11:00:00+01:00"), t);
	assert_int_equal(tp("2026-11-22T04:30:00-05:30"), t);
	assert_int_equal(tp("2026-11-22T10:00+00:00"), t);
	assert_int_equal(tp("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(tp("1969-12-31T23:59:59.5Z"), -NS / 2);
	assert_int_equal(tp("2000-01-01"), 946684800LL * NS);
}

/* Times relative to now land within the clock reads around the call. */
static void test_time_relative(void **state)
{
	static const struct { const char *s; int64_t sec; } cases[] = {
		{ "-30s", 30 }, { "-15m", 900 }, { "-2h", 7200 }, { "-1d", 86400 }, { "-0s", 0 } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t before = now_ns(), ns, after;
		assert_int_equal(shlog_time_parse(cases[i].s, &ns), 0);
		after = now_ns();
		assert_in_range(ns + cases[i].sec * NS, before, after);
	}
}

/* What is not a time, and what is one shlog cannot hold. */
static void test_time_bad(void **state)
{
	static const char *const bad[] = {
		"", "yesterday", "now", "-5", "-5x", "-5sec", "- 5s", "+5s", "1700000000Z", "17e8", " 1",
		"1 ", "0x10", "2026-1-2", "2026-11-2", "2026-13-01", "2026-00-10", "2026-11-32",
		"2026-11-00", "2026-11-22T", "2026-11-22T10", "2026-11-22T24:00", "2026-11-22T10:60",
		"2026-11-22T10:00:61", "2026-11-22T10:00:00+0100", "2026-11-22T10:00:00+01",
		"2026-11-22T10:00:00+24:00", "2026-11-22T10:00:00Zx", "2026-11-22X", "2026-11-22T10:00.5",
		"2026-11-22.5", "2026/11/22",
	};
	static const char *const range[] = {
		"2999-01-01", "2262-04-12", "1677-09-21", "9223372037", "99999999999999999999",
		"-9999999999999999d", "-106752d", "-99999999999999999999s",
	};
	int64_t ns = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (shlog_time_parse(bad[i], &ns) != -EINVAL)
			fail_msg("'%s' accepted or not -EINVAL", bad[i]);
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		if (shlog_time_parse(range[i], &ns) != -ERANGE)
			fail_msg("'%s' is not -ERANGE", range[i]);
	}
	assert_int_equal(ns, 42);           /* nothing written on failure */
	assert_int_equal(shlog_time_parse(NULL, &ns), -EINVAL);
}

/* Formatting: fixed examples, and parse(format(t)) == t. */
static void test_time_format(void **state)
{
	static const int64_t round[] = { 0, 1, -1, NS, 1795341600LL * NS + 123456789, -NS / 2,
					 INT64_MAX / NS * NS - NS, -(INT64_MAX / NS * NS - NS) };
	char buf[SHLOG_TIME_TEXT_MAX];

	(void)state;
	shlog_time_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	shlog_time_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
	shlog_time_format(1795341600LL * NS + 5, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-22T10:00:00.000000005Z");
	for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		shlog_time_format(round[i], buf, sizeof(buf));
		assert_int_equal(tp(buf), round[i]);
	}
}

/* ================================================================ */
/* Numbers and sizes                                                 */
/* ================================================================ */

/* Plain decimal numbers. */
static void test_u64(void **state)
{
	static const char *const bad[] = { "", "+1", "-1", " 1", "1 ", "1a", "0x1", "18446744073709551616",
					   "99999999999999999999" };
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "0042", 42 }, { "18446744073709551615", UINT64_MAX } };
	uint64_t v = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (shlog_u64_parse(ok[i].s, &v) != 0 || v != ok[i].v)
			fail_msg("'%s' gave %llu", ok[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (shlog_u64_parse(bad[i], &v) != -EINVAL || v != 7)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(shlog_u64_parse(NULL, &v), -EINVAL);
}

/* Sizes with suffixes, overflow refused. */
static void test_size_parse(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "64K", 65536 }, { "64k", 65536 }, { "1m", 1 << 20 },
		{ "5M", 5u << 20 }, { "1G", 1ull << 30 }, { "2g", 2ull << 30 }, { "1T", 1ull << 40 },
		{ "010", 10 }, { "16777215T", 16777215ull << 40 }, { "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = { "", "k", "-1", "+1", " 1", "1.5k", "1kb", "1KiB", "1b", "1P",
					   "1x", "0x10", "1k ", "1 k" };
	static const char *const range[] = { "16777216T", "17179869184G", "18446744073709551616",
					     "99999999999999999999k" };
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1;
		if (shlog_size_parse(ok[i].s, &v) != 0 || v != ok[i].v)
			fail_msg("'%s' gave %llu", ok[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (shlog_size_parse(bad[i], &v) != -EINVAL)
			fail_msg("'%s' is not -EINVAL", bad[i]);
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++)
		if (shlog_size_parse(range[i], &v) != -ERANGE)
			fail_msg("'%s' is not -ERANGE", range[i]);
}

/* Sizes for people, in both spellings. */
static void test_size_format(void **state)
{
	static const struct { uint64_t v; const char *iec, *brief; } cases[] = {
		{ 0, "0 B", "0" },
		{ 1023, "1023 B", "1023" },
		{ 1024, "1.0 KiB", "1.0k" },
		{ 1536, "1.5 KiB", "1.5k" },
		{ 12595, "12.3 KiB", "12.3k" },
		{ 1 << 20, "1.0 MiB", "1.0M" },
		{ 3ull << 30, "3.0 GiB", "3.0G" },
		{ 5ull << 40, "5.0 TiB", "5.0T" },
		{ 2048ull << 40, "2048.0 TiB", "2048.0T" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		shlog_size_format(cases[i].v, SHLOG_SIZE_IEC, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].iec);
		shlog_size_format(cases[i].v, SHLOG_SIZE_SHORT, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].brief);
	}
}

/* ================================================================ */
/* Keys                                                              */
/* ================================================================ */

/* The key of a message: 1..255 bytes before the first TAB. */
static void test_msg_key(void **state)
{
	char m[600];

	(void)state;
	assert_int_equal(shlog_msg_key("k\tv", 3), 1);
	assert_int_equal(shlog_msg_key("key\t", 4), 3);           /* a tombstone has a key */
	assert_int_equal(shlog_msg_key("a\tb\tc", 5), 1);          /* the first TAB */
	assert_int_equal(shlog_msg_key("\tv", 2), 0);              /* empty key: none */
	assert_int_equal(shlog_msg_key("nokey", 5), 0);
	assert_int_equal(shlog_msg_key("ab\tc", 2), 0);            /* the TAB past len */
	assert_int_equal(shlog_msg_key("", 0), 0);
	memset(m, 'x', sizeof(m));
	m[SHLOG_KEY_MAX] = '\t';
	assert_int_equal(shlog_msg_key(m, sizeof(m)), SHLOG_KEY_MAX);
	m[SHLOG_KEY_MAX] = 'x';
	m[SHLOG_KEY_MAX + 1] = '\t';
	assert_int_equal(shlog_msg_key(m, sizeof(m)), 0);          /* 256 bytes: not a key */
}

/* ================================================================ */
/* Option ranges                                                     */
/* ================================================================ */

/* Every numeric option and a setter for it. */
static const char *const numeric[] = {
	"stride", "flush_interval_ms", "max_buffer", "max_buffer_bytes", "max_message", "segment_bytes",
	"max_segments", "sync_interval_ms", "flush_threads", "max_fds", "fd_reserve", "max_partitions",
};

/* Set option @name of @o to @v (0 when the field cannot hold @v). */
static int opt_set(struct shlog_options *o, const char *name, uint64_t v)
{
	uint32_t *f32 = !strcmp(name, "stride") ? &o->stride : !strcmp(name, "flush_interval_ms") ?
			&o->flush_interval_ms : !strcmp(name, "max_buffer") ? &o->max_buffer :
			!strcmp(name, "max_message") ? &o->max_message : !strcmp(name, "max_segments") ?
			&o->max_segments : !strcmp(name, "sync_interval_ms") ? &o->sync_interval_ms :
			!strcmp(name, "flush_threads") ? &o->flush_threads : !strcmp(name, "max_fds") ?
			&o->max_fds : !strcmp(name, "fd_reserve") ? &o->fd_reserve :
			!strcmp(name, "max_partitions") ? &o->max_partitions : NULL;

	if (f32) {
		if (v > UINT32_MAX)
			return 0;
		*f32 = (uint32_t)v;
		return 1;
	}
	if (!strcmp(name, "max_buffer_bytes"))
		o->max_buffer_bytes = v;
	else if (!strcmp(name, "segment_bytes"))
		o->segment_bytes = v;
	else
		fail_msg("no option %s", name);
	return 1;
}

/* Options whose bounds do not break another rule at @v (max_buffer_bytes > max_message). */
static void opt_base(struct shlog_options *o)
{
	shlog_options_init(o);
	o->max_buffer_bytes = UINT64_MAX >> 2;
}

/* The ranges the engine has always enforced, and the daemon's bounds it now shares. */
static void test_option_ranges(void **state)
{
	uint64_t lo, hi;

	(void)state;
	assert_int_equal(shlog_option_range("stride", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 1000000);
	assert_int_equal(shlog_option_range("flush_threads", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 64);
	assert_int_equal(shlog_option_range("max_message", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 256u << 20);
	assert_int_equal(shlog_option_range("flush_interval_ms", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 3600000);
	assert_int_equal(shlog_option_range("segment_bytes", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(shlog_option_range("read_only", &lo, &hi), -ENOENT);
	assert_int_equal(shlog_option_range("nosuch", &lo, &hi), -ENOENT);
	assert_int_equal(shlog_option_range(NULL, &lo, &hi), -ENOENT);
}

/* Each bound is accepted, one past it refused with a sentence naming the option. */
static void test_options_check_bounds(void **state)
{
	struct shlog_options o;
	char why[128];
	int tried = 0;

	(void)state;
	shlog_options_init(&o);
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
		uint64_t lo, hi;
		assert_int_equal(shlog_option_range(numeric[i], &lo, &hi), 0);
		opt_base(&o);
		if (!strcmp(numeric[i], "max_buffer_bytes"))
			o.max_message = 1;      /* so that 2 bytes exceed it */
		assert_true(opt_set(&o, numeric[i], lo));
		assert_int_equal(shlog_options_check(&o, NULL, 0), 0);
		assert_true(opt_set(&o, numeric[i], hi));
		assert_int_equal(shlog_options_check(&o, NULL, 0), 0);
		if (lo > 0) {
			opt_set(&o, numeric[i], lo - 1);
			why[0] = '\0';
			assert_int_equal(shlog_options_check(&o, why, sizeof(why)), -EINVAL);
			assert_non_null(strstr(why, numeric[i]));
			tried++;
		}
		opt_base(&o);
		if (opt_set(&o, numeric[i], hi + 1)) {
			why[0] = '\0';
			assert_int_equal(shlog_options_check(&o, why, sizeof(why)), -EINVAL);
			assert_non_null(strstr(why, numeric[i]));
			tried++;
		}
	}
	assert_int_equal(tried, 18);   /* 8 lower bounds above 0, 10 upper bounds below the field's max */
}

/* The rules between options, and the enums. */
static void test_options_check_rules(void **state)
{
	struct shlog_options o;
	char why[128];

	(void)state;
	shlog_options_init(&o);
	o.max_buffer_bytes = o.max_message;
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "max_buffer_bytes"));
	o.max_buffer_bytes = (uint64_t)o.max_message + 1;
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), 0);
	o.retention = SHLOG_RETAIN_WRAP;
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "max_segments"));
	o.max_segments = 1;
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), 0);
	o.retention = (enum shlog_retention)7;
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), -EINVAL);
	shlog_options_init(&o);
	o.sync = (enum shlog_sync)3;
	assert_int_equal(shlog_options_check(&o, why, sizeof(why)), -EINVAL);
	assert_int_equal(shlog_options_check(NULL, why, sizeof(why)), -EINVAL);
}

/* A log callback that keeps the last line. */
static void keep_line(int level, const char *msg, void *arg)
{
	(void)level;
	snprintf(arg, 256, "%s", msg);
}

/*
 * shlog_store_open() refuses what the table refuses, before touching the
 * directory: the bounds the daemon alone used to hold (max_buffer,
 * sync_interval_ms up to 2^30 and 3600000) are the engine's now.
 */
static void test_store_open_uses_ranges(void **state)
{
	static const struct { const char *name; uint64_t v; } bad[] = {
		{ "stride", 1000001 }, { "flush_threads", 65 }, { "max_message", (256u << 20) + 1 },
		{ "max_buffer", (1u << 30) + 1 }, { "sync_interval_ms", 3600001 }, { "max_fds", (1u << 30) + 1 },
	};
	char line[256];
	shlog_store *s = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shlog_options o;
		opt_base(&o);
		o.log = keep_line;
		o.log_arg = line;
		line[0] = '\0';
		assert_true(opt_set(&o, bad[i].name, bad[i].v));
		assert_int_equal(shlog_store_open("/nonexistent/shlog-test-parse", &o, &s), -EINVAL);
		assert_non_null(strstr(line, bad[i].name));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_unix),
		cmocka_unit_test(test_time_civil),
		cmocka_unit_test(test_time_relative),
		cmocka_unit_test(test_time_bad),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_msg_key),
		cmocka_unit_test(test_option_ranges),
		cmocka_unit_test(test_options_check_bounds),
		cmocka_unit_test(test_options_check_rules),
		cmocka_unit_test(test_store_open_uses_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
