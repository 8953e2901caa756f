/*
 * fuzz_names.c — fuzz target: names and the daemon's command line
 * (issue 4, trial 6).
 *
 * Input: a selector byte, then text.  The selector picks what the text
 * goes to, each checked against a reference or a round trip:
 *   0 shlog_topic_name_check()     1 shlog_part_name_parse()
 *   2 shlog_time_parse() (since/<time>) and shlog_time_format()
 *   3 shlog_u64_parse() (at/<N>) 4 a SIZE option (-o max_message=...)
 *   5 a number option (-o stride=...)
 *   6, 7 a whole command line: the text's NUL-separated words as argv,
 *     through fuse_opt_parse() with the daemon's option table and
 *     callback, then fuse_parse_cmdline(), as main() does.
 * Every input also goes through shlog_msg_key() as raw bytes (the key
 * that routes a line of <topic>/log).
 *
 * The option code is static in fs/main.c, so this file includes it with
 * its main() renamed (never called), and is linked with the daemon's
 * other files.
 */
#include <inttypes.h>
#include <time.h>

int shlogfs_daemon_main(int argc, char *argv[]);
#define main shlogfs_daemon_main
#include "../../fs/main.c"
#undef main

#include "fuzz.h"

/* ==== references ===================================================== */

/* The topic name rule of shlog.h, written out independently. */
static int fuzz_topic_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > SHLOG_TOPIC_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-", s[i]))
			return 0;
	return 1;
}

/* Decimal digits only, no overflow: the value, or -1. */
static int fuzz_decimal(const char *s, uint64_t *v)
{
	*v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' ||
		    __builtin_mul_overflow(*v, 10, v) ||
		    __builtin_add_overflow(*v, (uint64_t)(*s - '0'), v))
			return -1;
	}
	return 0;
}

/* Digits and at most one k/M/G/T (either case, powers of 1024), no
 * overflow, nothing else (no sign, blank, octal or hex): the value, or -1. */
static int fuzz_size(const char *s, uint64_t *v)
{
	static const char units[] = "kKmMgGtT";
	size_t n = strspn(s, "0123456789");
	const char *u = s[n] ? strchr(units, s[n]) : NULL;
	int shift = u ? 10 * (int)((u - units) / 2 + 1) : 0;
	char *digits;
	int rc;

	if (n == 0 || (s[n] && (!u || s[n + 1])))
		return -1;
	digits = strndup(s, n);
	FUZZ_CHECK(digits);
	rc = fuzz_decimal(digits, v);
	free(digits);
	if (rc || (shift && *v > UINT64_MAX >> shift))
		return -1;
	*v <<= shift;
	return 0;
}

/* "-N" and one of s, m, h, d: the seconds it goes back, or -1. */
static int64_t fuzz_relative(const char *s)
{
	static const char units[] = "smhd";
	static const int64_t sec[] = { 1, 60, 3600, 86400 };
	size_t n;
	const char *u;
	uint64_t v;
	char *digits;
	int rc;

	if (s[0] != '-')
		return -1;
	n = strspn(s + 1, "0123456789");
	u = s[1 + n] ? strchr(units, s[1 + n]) : NULL;
	if (n == 0 || !u || s[2 + n])
		return -1;
	digits = strndup(s + 1, n);
	FUZZ_CHECK(digits);
	rc = fuzz_decimal(digits, &v);
	free(digits);
	if (rc || v > (uint64_t)INT64_MAX / 1000000000 / sec[u - units])
		return -1;
	return (int64_t)v * sec[u - units];
}

/* CLOCK_REALTIME in ns. */
static int64_t fuzz_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ==== the checks ===================================================== */

/* Silence libfuse's messages (bad options are the point here). */
static void fuzz_fuse_log(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

/* Partition names: canonical decimal below SHLOG_MAX_PARTS (65,536). */
static void fuzz_part(const char *s)
{
	uint32_t v = UINT32_MAX;
	uint64_t ref;
	char back[16];
	int ok = fuzz_decimal(s, &ref) == 0 && ref < 65536 &&
		 (s[0] != '0' || s[1] == 0);

	FUZZ_CHECK((shlog_part_name_parse(s, &v) == 0) == ok);
	if (ok) {
		snprintf(back, sizeof back, "%" PRIu32, v);
		FUZZ_CHECK(strcmp(back, s) == 0);
	}
}

/* since/<time>: what parses formats back to the same instant. */
static void fuzz_time(const char *s)
{
	int64_t ns, again, before = fuzz_now();
	int rc = shlog_time_parse(s, &ns);
	int64_t after = fuzz_now(), back = fuzz_relative(s);
	char out[SHLOG_TIME_TEXT_MAX];

	/* "-N<unit>" means N units before now, and is all that starts with
	 * '-'; it parses unless it goes back past 1677 */
	if (back >= 0 && back <= 9000000000)
		FUZZ_CHECK(rc == 0);
	if (back >= 0 && rc == 0)
		FUZZ_CHECK(ns >= before - back * 1000000000 &&
			   ns <= after - back * 1000000000);
	if (s[0] == '-')
		FUZZ_CHECK(back >= 0 || rc < 0);
	if (rc < 0)
		return;
	shlog_time_format(ns, out, sizeof out);
	FUZZ_CHECK(shlog_time_parse(out, &again) == 0 && again == ns);
	/* a date in, the same year out (give or take the UTC offset):
	 * catches an overflow even where no sanitizer watches */
	if (s[0] != '-' && strlen(s) >= 5 && s[4] == '-') {
		int yin = atoi((char[5]){ s[0], s[1], s[2], s[3], 0 });
		int yout = atoi(out);
		FUZZ_CHECK(yout >= yin - 1 && yout <= yin + 1);
	}
}

/* at/<N>: exactly the decimal numbers that fit in 64 bits. */
static void fuzz_u64(const char *s)
{
	uint64_t v, ref;
	int ok = fuzz_decimal(s, &ref) == 0;

	FUZZ_CHECK((shlog_u64_parse(s, &v) == 0) == ok);
	if (ok)
		FUZZ_CHECK(v == ref);
}

/* "-o name=value" value parsers: accept only values within the bounds. */
static void fuzz_opt_values(const char *s)
{
	static const uint64_t lim[][2] = {
		{ 1, UINT32_MAX - 1 }, { 4096, UINT64_MAX >> 2 }, { 1, 1 },
		{ 1, 1u << 30 },
	};
	size_t n = strlen(s);
	char *arg = malloc(n + 16);
	uint64_t v, ref;
	int ok;

	FUZZ_CHECK(arg);
	snprintf(arg, n + 16, "opt=%s", s);
	for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
		for (int size = 0; size < 2; size++)
			if (shlogfs_opt_number(arg, size, lim[i][0], lim[i][1], &v) == 0)
				FUZZ_CHECK(v >= lim[i][0] && v <= lim[i][1]);
	/* unbounded, a SIZE is exactly what the reference reads, an N
	 * exactly a decimal number */
	ok = fuzz_size(s, &ref) == 0;
	FUZZ_CHECK((shlogfs_opt_number(arg, 1, 0, UINT64_MAX, &v) == 0) == ok);
	if (ok)
		FUZZ_CHECK(v == ref);
	ok = fuzz_decimal(s, &ref) == 0;
	FUZZ_CHECK((shlogfs_opt_number(arg, 0, 0, UINT64_MAX, &v) == 0) == ok);
	if (ok)
		FUZZ_CHECK(v == ref);
	free(arg);
}

/* A whole command line through the daemon's parser, as main() runs it. */
static void fuzz_cmdline(const char *text, size_t len)
{
	char *argv[34] = { "shlogfs" };
	int argc = 1;
	struct shlogfs_cli cli = { .partitions = 1 };
	struct fuse_cmdline_opts copts = { 0 };

	for (size_t i = 0; i < len && argc < 33;) {
		argv[argc++] = (char *)text + i;
		i += strlen(text + i) + 1;
	}
	argv[argc] = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	shlog_options_init(&cli.so);
	if (fuse_opt_parse(&args, &cli, shlogfs_opt_table,
			   shlogfs_opt_proc) == 0) {
		const struct shlog_options *o = &cli.so;
		FUZZ_CHECK(o->stride >= 1 && o->stride <= 1u << 30);
		FUZZ_CHECK(o->flush_interval_ms >= 1 && o->max_buffer >= 1);
		FUZZ_CHECK(o->max_message >= 1 && o->segment_bytes >= 4096);
		FUZZ_CHECK(o->flush_threads >= 1 && o->flush_threads <= 256);
		/* 0: topics made by mkdir start with a hidden partition (restores by cp -a) */
		FUZZ_CHECK(cli.partitions <= 65536);
		FUZZ_CHECK(o->sync <= SHLOG_SYNC_ALWAYS);
		/* main() leaks copts.mountpoint when this fails (reported);
		 * freed here so that the fuzzer looks further */
		if (!cli.show_help && !cli.show_version)
			fuse_parse_cmdline(&args, &copts);
		free(copts.mountpoint);
	}
	free(cli.datadir);
	fuse_opt_free_args(&args);
}

/* libFuzzer entry: one text to one parser. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	FILE *saved = stderr;
	char *s;

	if (size < 1)
		return 0;
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		fuse_set_log_func(fuzz_fuse_log);
	}
	size_t klen = shlog_msg_key(data, size);
	FUZZ_CHECK(klen <= SHLOG_KEY_MAX && klen < size);
	if (klen)
		FUZZ_CHECK(data[klen] == '\t' && !memchr(data, '\t', klen));
	s = malloc(size + 1); /* the text, NUL-terminated (stops at a NUL) */
	FUZZ_CHECK(s);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	if (devnull)
		stderr = devnull; /* the option parsers complain there */
	switch (data[0] % 8) {
	case 0:
		FUZZ_CHECK((shlog_topic_name_check(s) == 0) == fuzz_topic_ok(s));
		break;
	case 1:
		fuzz_part(s);
		break;
	case 2:
		fuzz_time(s);
		break;
	case 3:
		fuzz_u64(s);
		break;
	case 4:
	case 5:
		fuzz_opt_values(s);
		break;
	default:
		fuzz_cmdline(s, size - 1);
		break;
	}
	stderr = saved;
	free(s);
	return 0;
}
