/*
 * test_names.c — names.c, every name in the data dir: each name a
 * function makes is recognised as that name again, the near misses are
 * not, and what a directory entry is (sl_name_kind) agrees with what the
 * store does with it at open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "const_i.h"
#include "names_i.h"

/* One test's data directory. */
struct fx {
	char dir[256];
};

/* cmocka setup/teardown: a fresh directory and a watchdog (helpers.c). */
TH_FX(struct fx, 60)

/* A segment name made for each base and file parses back to both. */
static void test_segment_roundtrip(void **state)
{
	static const uint64_t bases[] = { 0, 1, 12000, SHLOG_POS_MAX, UINT64_MAX };
	char name[SHLOG_SEG_NAME_CAP];
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		for (int f = SL_SEG_LOG; f <= SL_SEG_IDX; f++) {
			uint64_t base = 1;
			assert_int_equal(sl_name_segment(name, sizeof(name), bases[i], f), 0);
			assert_int_equal(strlen(name), SHLOG_SEG_NAME_DIGITS + 4);
			assert_int_equal(sl_name_parse_segment(name, &base), f);
			assert_int_equal(base, bases[i]);
			assert_int_equal(sl_name_kind(SL_DIR_PART, name), f == SL_SEG_LOG ? SL_NAME_SEG_LOG : SL_NAME_SEG_IDX);
			n++;
		}
	assert_int_equal(n, 10);
	assert_string_equal((sl_name_segment(name, sizeof(name), 12000, SL_SEG_IDX), name),
			    "00000000000000012000.idx");
	assert_int_equal(sl_name_segment(name, SHLOG_SEG_NAME_CAP - 1, 0, SL_SEG_LOG), -ENAMETOOLONG);
}

/* What looks almost like a segment is not one: wrong length, digits, extension, or a value past 64 bits. */
static void test_segment_near_misses(void **state)
{
	static const char *const bad[] = {
		"0000000000000000000.log",      /* 19 digits */
		"000000000000000000000.log",    /* 21 digits */
		"0000000000000000000x.log",     /* strtoull took this as 0 */
		" 0000000000000000000.log",
		"+0000000000000000000.log",
		"00000000000000000000.lo",
		"00000000000000000000.logx",
		"00000000000000000000.tmp",
		"00000000000000000000_log",
		"18446744073709551616.log",     /* UINT64_MAX + 1: recover.c wrapped it to 0 */
		"99999999999999999999.idx",
		"",
	};
	uint64_t base = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sl_name_parse_segment(bad[i], &base), 0);
		assert_int_equal(base, 7);
		assert_int_equal(sl_name_kind(SL_DIR_PART, bad[i]), SL_NAME_OTHER);
	}
	assert_int_equal(sl_name_parse_segment("18446744073709551615.log", &base), SL_SEG_LOG);
	assert_int_equal(base, UINT64_MAX);
}

/* Temporaries: fixed length, random, of the right kind where they are read. */
static void test_temporaries(void **state)
{
	char a[64], b[64];
	uint32_t part = 9;
	int old = 9;

	(void)state;
	assert_int_equal(sl_name_temp(a, sizeof(a), SHLOG_TMP_NEW_PREFIX, ""), 0);
	assert_int_equal(sl_name_temp(b, sizeof(b), SHLOG_TMP_NEW_PREFIX, ""), 0);
	assert_int_equal(strlen(a), strlen(SHLOG_TMP_NEW_PREFIX) + SHLOG_TMP_HEX);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a + strlen(SHLOG_TMP_NEW_PREFIX), "0123456789abcdef"), SHLOG_TMP_HEX);
	assert_int_equal(sl_name_kind(SL_DIR_DATA, a), SL_NAME_TOPIC_NEW);
	assert_int_equal(sl_name_temp(a, sizeof(a), SHLOG_TMP_DEL_PREFIX, ""), 0);
	assert_int_equal(sl_name_kind(SL_DIR_DATA, a), SL_NAME_TOPIC_DEL);
	assert_int_equal(sl_name_temp(a, sizeof(a), SHLOG_META_TMP_PREFIX, ""), 0);
	assert_int_equal(sl_name_kind(SL_DIR_DATA, a), SL_NAME_META_TMP);
	assert_int_equal(sl_name_kind(SL_DIR_TOPIC, a), SL_NAME_META_TMP);
	assert_int_equal(sl_name_temp(a, strlen(SHLOG_TMP_NEW_PREFIX) + SHLOG_TMP_HEX, SHLOG_TMP_NEW_PREFIX, ""),
			 -ENAMETOOLONG);

	/* a compaction's copy, its .old twin, and the older versions' names */
	assert_int_equal(sl_name_compact_prefix(b, sizeof(b), 65535), 0);
	assert_int_equal(sl_name_temp(a, sizeof(a), b, SHLOG_COMPACT_NEW_SUFFIX), 0);
	assert_int_equal(sl_name_parse_compact(a, &part, &old), 1);
	assert_int_equal(part, 65535);
	assert_int_equal(old, 0);
	assert_int_equal(sl_name_compact_old(b, sizeof(b), a), 0);
	assert_int_equal(strlen(b), strlen(a));
	assert_int_equal(sl_name_parse_compact(b, &part, &old), 1);
	assert_int_equal(old, 1);
	assert_int_equal(sl_name_kind(SL_DIR_TOPIC, b), SL_NAME_COMPACT);
	assert_int_equal(sl_name_compact_old(b, sizeof(b), "x.old"), -EINVAL);
	assert_int_equal(sl_name_parse_compact(".compact-3.new", &part, &old), 1);
	assert_int_equal(part, 3);
	assert_int_equal(sl_name_parse_compact(".compact-3.old", &part, &old), 1);
	assert_int_equal(old, 1);
	assert_int_equal(sl_name_parse_compact(".compact-03.new", &part, &old), 0);
	assert_int_equal(sl_name_parse_compact(".compact-65536.new", &part, &old), 0);
	assert_int_equal(sl_name_parse_compact(".compact-3-0123.new", &part, &old), 0);
	assert_int_equal(sl_name_parse_compact(".compact-3-0123456789ABCDEF.new", &part, &old), 0);
	assert_int_equal(sl_name_parse_compact(".compact-.new", &part, &old), 0);
	assert_int_equal(sl_name_parse_compact(".compact-3.tmp", &part, &old), 0);

	assert_int_equal(sl_name_repair_prefix(a, sizeof(a), "20260101T000000Z"), 0);
	assert_string_equal(a, ".repair-20260101T000000Z-");
	assert_int_equal(sl_name_kind(SL_DIR_DATA, a), SL_NAME_REPAIR);
	assert_false(sl_name_is_temp(SL_NAME_REPAIR));   /* the operator's */
	assert_true(sl_name_is_temp(SL_NAME_TOPIC_NEW));
	assert_true(sl_name_is_temp(SL_NAME_KEYS_TMP));
	assert_false(sl_name_is_temp(SL_NAME_TOPIC));
}

/* Every fixed name of the data, topic and partition dirs is its kind; a topic is a topic. */
static void test_kinds(void **state)
{
	static const struct { enum sl_name_dir d; const char *name; enum sl_name_kind k; } v[] = {
		{ SL_DIR_DATA, ".lock", SL_NAME_LOCK }, { SL_DIR_DATA, ".ctl", SL_NAME_CTL },
		{ SL_DIR_DATA, ".meta", SL_NAME_ROOT_META }, { SL_DIR_DATA, ".pid", SL_NAME_LEGACY },
		{ SL_DIR_DATA, ".synced", SL_NAME_LEGACY }, { SL_DIR_DATA, ".synced.tmp", SL_NAME_LEGACY },
		{ SL_DIR_DATA, ".new-x", SL_NAME_TOPIC_NEW }, { SL_DIR_DATA, "t", SL_NAME_TOPIC },
		{ SL_DIR_DATA, "a.b_c-9", SL_NAME_TOPIC }, { SL_DIR_DATA, ".hidden", SL_NAME_OTHER },
		{ SL_DIR_DATA, "meta", SL_NAME_TOPIC }, { SL_DIR_DATA, "a b", SL_NAME_OTHER },
		{ SL_DIR_TOPIC, "0", SL_NAME_PART }, { SL_DIR_TOPIC, "65535", SL_NAME_PART },
		{ SL_DIR_TOPIC, "65536", SL_NAME_OTHER }, { SL_DIR_TOPIC, "01", SL_NAME_OTHER },
		{ SL_DIR_TOPIC, "meta", SL_NAME_META }, { SL_DIR_TOPIC, ".compact-junk", SL_NAME_COMPACT },
		{ SL_DIR_TOPIC, ".lock", SL_NAME_OTHER },
		{ SL_DIR_PART, "anchor", SL_NAME_ANCHOR }, { SL_DIR_PART, "keys", SL_NAME_KEYS },
		{ SL_DIR_PART, "keys.tmp", SL_NAME_KEYS_TMP }, { SL_DIR_PART, "meta", SL_NAME_OTHER },
	};
	char name[SHLOG_PART_NAME_CAP];
	uint32_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(sl_name_kind(v[i].d, v[i].name), v[i].k);
	assert_int_equal(sl_name_part(name, sizeof(name), 65535), 0);
	assert_int_equal(shlog_part_name_parse(name, &n), 0);
	assert_int_equal(n, 65535);
	assert_int_equal(sl_name_part(name, 3, 65535), -ENAMETOOLONG);
}

/*
 * A file in a partition named like a segment whose number does not fit
 * 64 bits is not a segment: the partition opens and keeps its messages.
 * (recover.c wrapped the number around and then refused the partition:
 * its topic was set aside for a stray file.)
 */
static void test_stray_overflow_segment(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	shlog_store *s;
	shlog_part *p;
	char path[512];
	uint32_t nparts = 0;

	th_opts(&o);
	o.set_aside = 1;
	th_open_part(f->dir, &o, "t", 1, &s, &p);
	th_append_range(p, "m", 0, 5);
	assert_int_equal(shlog_part_sync(p), 0);
	assert_int_equal(th_close(s, p), 0);
	th_path(path, sizeof(path), f->dir, "t", 0, "99999999999999999999.log");
	assert_int_equal(th_file_create(path, "x\n", 2), 0);

	assert_int_equal(th_reopen_part(f->dir, &o, "t", 0, &s, &p), 0);
	assert_int_equal(shlog_topic_nparts(s, "t", &nparts), 0);
	assert_int_equal(nparts, 1);
	assert_non_null(p);
	th_close_reopen_clean(s, p, f->dir, &o, "t", 5);
	assert_int_equal(th_file_size(path), 2);    /* left alone, not taken for a segment */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segment_roundtrip),
		cmocka_unit_test(test_segment_near_misses),
		cmocka_unit_test(test_temporaries),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test_setup_teardown(test_stray_overflow_segment, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
