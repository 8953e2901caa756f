/*
 * test_kidx.c — fs/kidx.c, the Kafka backend's byte index: a round trip
 * through the file, lookups at every edge, the torn tail cut at reopen
 * (a crash between writing entries and the slot), forged and garbage
 * files refused with a clear errno, the rewrite when the log start
 * moves, and a 10 M-entry smoke run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "io_i.h"
#include "kidx.h"

#define NAME "bidx"
#define HDR 256u      /* two 128-byte slots */
#define ENT 32u       /* one entry */

/* One test's directory, its fd and the index file's path. */
struct fx {
	char dir[256];
	int dfd;
	char path[300];
};

/* Open the fixture's directory and name the index path. */
static void fx_init(struct fx *fx)
{
	fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY);
	snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, NAME);
}

/* Close the fixture's directory fd. */
static void fx_done(void *p)
{
	close(((struct fx *)p)->dfd);
}

TH_FX_HOOKS(struct fx, 300, fx_init, fx_done)

static const unsigned char ident[16] = "topic-T/part-0!";

/* Byte position of message @off in the test's log: message i is 10 + i % 7 bytes, its '\n' included. */
static uint64_t pos_of(uint64_t off)
{
	uint64_t full = off / 7, rest = off % 7, pos = full * (7 * 10 + 21);

	for (uint64_t i = 0; i < rest; i++)
		pos += 10 + i;
	return pos;
}

/* Time of message @off: 1 ms apart from 1,700,000,000,000. */
static int64_t ts_of(uint64_t off)
{
	return 1700000000000ll + (int64_t)off;
}

/* Index messages [from, to) of the test log with @stride (entries where due), ending at @to. */
static void feed(struct shlogfs_kidx *k, uint64_t from, uint64_t to)
{
	for (uint64_t off = from; off < to; off++)
		if (shlogfs_kidx_due(k, off))
			assert_int_equal(shlogfs_kidx_append(k, off, pos_of(off), ts_of(off)), 0);
	assert_int_equal(shlogfs_kidx_advance(k, to, pos_of(to), ts_of(to - 1)), 0);
}

/* Open (making) the fixture's index with @stride; asserts success. */
static struct shlogfs_kidx *open_ok(struct fx *fx, uint32_t stride)
{
	struct shlogfs_kidx *k = NULL;
	const char *why = NULL;
	int rc = shlogfs_kidx_open(fx->dfd, NAME, ident, stride, SHLOGFS_KIDX_CREATE, &k, &why);

	if (rc)
		fail_msg("open: %s (%s)", strerror(-rc), why ? why : "-");
	return k;
}

/* Make the fixture's index with @stride, index messages [0, @n) and sync. */
static struct shlogfs_kidx *open_fed(struct fx *fx, uint32_t stride, uint64_t n)
{
	struct shlogfs_kidx *k = open_ok(fx, stride);

	feed(k, 0, n);
	assert_int_equal(shlogfs_kidx_sync(k), 0);
	return k;
}

/* Open the fixture's index without making it; the errno, *why the rule. */
static int open_rc(struct fx *fx, const char **why)
{
	struct shlogfs_kidx *k = NULL;
	int rc = shlogfs_kidx_open(fx->dfd, NAME, ident, 10, 0, &k, why);

	if (rc == 0)
		shlogfs_kidx_close(k);
	return rc;
}

/*
 * Forge the record of @size bytes at @at: set its u64 at @field to @v and
 * re-seal it (the CRC32C in its last 4 bytes), as an attacker would.
 */
static void forge(struct fx *fx, uint64_t at, uint64_t field, uint64_t v, size_t size)
{
	unsigned char b[8], crc[4];
	char *img;
	size_t len;

	th_put_le(b, v, 8);
	assert_int_equal(th_file_patch(fx->path, at + field, b, 8), 0);
	assert_int_equal(th_file_read(fx->path, &img, &len), 0);
	th_put_le(crc, th_crc32c(img + at, size - 4), 4);
	free(img);
	assert_int_equal(th_file_patch(fx->path, at + size - 4, crc, 4), 0);
}

/* The index opens as damaged (-EUCLEAN), the rule naming @rule. */
static void expect_damage(struct fx *fx, const char *rule)
{
	const char *why = NULL;

	assert_int_equal(open_rc(fx, &why), -EUCLEAN);
	assert_non_null(why);
	if (!strstr(why, rule))
		fail_msg("refused for '%s', not '%s'", why, rule);
}

/* The slot number holding the newest generation of a synced index. */
static uint64_t newest_slot(struct shlogfs_kidx *k)
{
	struct shlogfs_kidx_info in;

	shlogfs_kidx_info(k, &in);
	return in.gen % 2;
}

/* ---------------------------------------------------------------- */

/* What was appended, advanced and synced opens again the same, every lookup agreeing. */
static void test_roundtrip(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_fed(fx, 10, 1005);
	struct shlogfs_kidx_info in;
	struct shlogfs_kidx_entry e;

	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(th_file_size(fx->path), HDR + 101 * ENT);

	k = open_ok(fx, 99);   /* an existing file keeps its stride */
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.stride, 10);
	assert_int_equal(in.nent, 101);
	assert_int_equal(in.end.off, 1005);
	assert_int_equal(in.end.pos, pos_of(1005));
	assert_int_equal(in.end.ts_ms, ts_of(1004));
	assert_int_equal(in.cut_bytes, 0);
	for (uint64_t off = 0; off < 1005; off++) {
		assert_int_equal(shlogfs_kidx_find_off(k, off, &e), 0);
		assert_int_equal(e.off, off / 10 * 10);
		assert_int_equal(e.pos, pos_of(e.off));
		assert_int_equal(e.ts_ms, ts_of(e.off));
		assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(off), &e), 0);
		assert_int_equal(e.off, off / 10 * 10);
		assert_int_equal(shlogfs_kidx_find_time(k, ts_of(off), &e), 0);
		assert_true(e.ts_ms < ts_of(off) || off == 0);
		assert_true(e.off <= off && off - e.off <= 10);
	}
	/* Appends go on after a reopen, and the file keeps them. */
	feed(k, 1005, 2000);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	k = open_ok(fx, 10);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.nent, 200);
	assert_int_equal(in.end.pos, pos_of(2000));
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/* Lookups at the edges: first byte, entry boundaries, last byte, the end, an empty index, time edges. */
static void test_edges(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_ok(fx, 100);
	struct shlogfs_kidx_entry e;

	/* Empty: everything is at or past the end. */
	assert_int_equal(shlogfs_kidx_find_pos(k, 0, &e), -ENXIO);
	assert_int_equal(shlogfs_kidx_find_off(k, 0, &e), -ENXIO);
	assert_int_equal(shlogfs_kidx_find_time(k, 0, &e), -ENXIO);
	feed(k, 0, 300);
	assert_int_equal(shlogfs_kidx_find_pos(k, 0, &e), 0);
	assert_int_equal(e.off, 0);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(100) - 1, &e), 0);
	assert_int_equal(e.off, 0);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(100), &e), 0);
	assert_int_equal(e.off, 100);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(300) - 1, &e), 0);
	assert_int_equal(e.off, 200);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(300), &e), -ENXIO);
	assert_int_equal(e.pos, pos_of(300));
	assert_int_equal(shlogfs_kidx_find_pos(k, UINT64_MAX, &e), -ENXIO);
	assert_int_equal(shlogfs_kidx_find_off(k, 299, &e), 0);
	assert_int_equal(e.off, 200);
	assert_int_equal(shlogfs_kidx_find_off(k, 300, &e), -ENXIO);
	assert_int_equal(e.off, 300);
	/* Time: before everything, the first entry; past the latest, the end. */
	assert_int_equal(shlogfs_kidx_find_time(k, -5, &e), 0);
	assert_int_equal(e.off, 0);
	assert_int_equal(shlogfs_kidx_find_time(k, ts_of(100), &e), 0);
	assert_int_equal(e.off, 0);     /* entry 100 is not before ts_of(100) */
	assert_int_equal(shlogfs_kidx_find_time(k, ts_of(101), &e), 0);
	assert_int_equal(e.off, 100);
	assert_int_equal(shlogfs_kidx_find_time(k, ts_of(299), &e), 0);
	assert_int_equal(e.off, 200);
	assert_int_equal(shlogfs_kidx_find_time(k, ts_of(300), &e), -ENXIO);
	/* Time never goes back: an older or missing timestamp takes the latest. */
	assert_int_equal(shlogfs_kidx_append(k, 400, pos_of(300), 5), 0);
	assert_int_equal(shlogfs_kidx_advance(k, 401, pos_of(300) + 9, -1), 0);
	assert_int_equal(shlogfs_kidx_find_off(k, 400, &e), 0);
	assert_int_equal(e.ts_ms, ts_of(299));
	/* The offsets 300..399 Kafka skipped take no bytes. */
	assert_int_equal(e.pos, pos_of(300));
	assert_int_equal(shlogfs_kidx_find_off(k, 350, &e), 0);
	assert_int_equal(e.off, 200);
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/* Appends and moves that do not follow are refused; a read-only index refuses every change. */
static void test_refusals(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_ok(fx, 10);
	const char *why = NULL;

	feed(k, 0, 50);
	assert_int_equal(shlogfs_kidx_append(k, 49, pos_of(50), 0), -EINVAL);      /* offset behind the end */
	assert_int_equal(shlogfs_kidx_append(k, 51, pos_of(50) - 1, 0), -EINVAL);  /* bytes behind the end */
	assert_int_equal(shlogfs_kidx_append(k, 0x7fffffffffffffffull, pos_of(50), 0), -EINVAL);
	assert_int_equal(shlogfs_kidx_advance(k, 49, pos_of(50), 0), -EINVAL);
	assert_int_equal(shlogfs_kidx_advance(k, 50, pos_of(50) - 1, 0), -EINVAL);
	assert_int_equal(shlogfs_kidx_set_start(k, 20), 0);
	assert_int_equal(shlogfs_kidx_set_start(k, 19), -EINVAL);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(shlogfs_kidx_open(fx->dfd, NAME, ident, 10, SHLOGFS_KIDX_RDONLY, &k, &why), 0);
	assert_int_equal(shlogfs_kidx_append(k, 50, pos_of(50), 0), -EROFS);
	assert_int_equal(shlogfs_kidx_advance(k, 51, pos_of(51), 0), -EROFS);
	assert_int_equal(shlogfs_kidx_set_start(k, 30), -EROFS);
	assert_int_equal(shlogfs_kidx_sync(k), -EROFS);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(shlogfs_kidx_open(fx->dfd, NAME, ident, 0, 0, &k, &why), -EINVAL);
	assert_int_equal(shlogfs_kidx_open(fx->dfd, NAME, ident, SHLOGFS_KIDX_STRIDE_MAX + 1, 0, &k, &why),
			 -EINVAL);
}

/*
 * A crash after entries reached the file and before the slot naming them
 * did: the entries past the slot's promise (whole, half-written, or
 * zeros) are cut at reopen, and the index is what the last sync made.
 */
static void test_torn_tail(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_fed(fx, 10, 100);
	struct shlogfs_kidx_info in;
	const char *why = NULL;
	char *img;
	size_t len;

	feed(k, 100, 200);
	assert_int_equal(shlogfs_kidx_sync(k), 0);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(th_file_read(fx->path, &img, &len), 0);
	assert_int_equal(len, HDR + 20 * ENT);

	/* The newest slot torn: the older slot (10 entries) is the index; 10 entries cut. */
	{
		k = open_ok(fx, 10);
		uint64_t s = newest_slot(k);
		assert_int_equal(shlogfs_kidx_close(k), 0);
		assert_int_equal(th_file_flip(fx->path, s * 128 + 40), 0);
	}
	k = open_ok(fx, 10);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.nent, 10);
	assert_int_equal(in.end.off, 100);
	assert_int_equal(in.end.pos, pos_of(100));
	assert_int_equal(in.cut_bytes, 10 * ENT);
	assert_int_equal(th_file_size(fx->path), HDR + 10 * ENT);
	/* It goes on from there: the lost part indexed again. */
	feed(k, 100, 200);
	assert_int_equal(shlogfs_kidx_close(k), 0);

	/* Half an entry and garbage after the promise: cut. */
	assert_int_equal(th_file_patch(fx->path, HDR + 20 * ENT, img + HDR, 17), 0);
	assert_int_equal(th_file_truncate(fx->path, HDR + 23 * ENT), 0);
	k = open_ok(fx, 10);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.nent, 20);
	assert_int_equal(in.cut_bytes, 3 * ENT);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(th_file_size(fx->path), HDR + 20 * ENT);

	/* A read-only open reports a tail and leaves it. */
	assert_int_equal(th_file_truncate(fx->path, HDR + 21 * ENT), 0);
	assert_int_equal(shlogfs_kidx_open(fx->dfd, NAME, ident, 10, SHLOGFS_KIDX_RDONLY, &k, &why), 0);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.cut_bytes, ENT);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(th_file_size(fx->path), HDR + 21 * ENT);
	free(img);
}

/* Damaged, forged and foreign files are refused, each with its errno and rule. */
static void test_forged(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k;
	const char *why = NULL;
	uint64_t s;

	assert_int_equal(open_rc(fx, &why), -ENOENT);
	k = open_fed(fx, 10, 100);
	s = newest_slot(k);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(open_rc(fx, &why), 0);

	/* Another partition's index. */
	assert_int_equal(shlogfs_kidx_open(fx->dfd, NAME, (const unsigned char *)"another-ident..", 10, 0, &k,
					   &why), -ESTALE);

	/* A promised entry flipped: its CRC fails. */
	assert_int_equal(th_file_flip(fx->path, HDR + 5 * ENT + 3), 0);
	expect_damage(fx, "checksum");
	assert_int_equal(th_file_flip(fx->path, HDR + 5 * ENT + 3), 0);
	assert_int_equal(open_rc(fx, &why), 0);
	/* A forged entry with a good CRC whose offset goes back; one past the end. */
	forge(fx, HDR + 5 * ENT, 0, 3, ENT);
	expect_damage(fx, "does not follow");
	forge(fx, HDR + 5 * ENT, 0, 50, ENT);
	assert_int_equal(open_rc(fx, &why), 0);
	forge(fx, HDR + 9 * ENT, 0, 1000, ENT);
	expect_damage(fx, "indexed end");
	forge(fx, HDR + 9 * ENT, 0, 90, ENT);
	assert_int_equal(open_rc(fx, &why), 0);

	/* A forged slot promising more entries than the file holds: refused, not cut. */
	forge(fx, s * 128, 24, 11, 128);
	expect_damage(fx, "missing");
	/* ... or more entries than messages below its end (and the older slot gone too). */
	forge(fx, s * 128, 24, 200, 128);
	forge(fx, s * 128, 32, 150, 128);
	assert_int_equal(th_file_flip(fx->path, (1 - s) * 128 + 8), 0);
	expect_damage(fx, "no valid slot");

	/* Garbage, a short file, an empty one. */
	{
		unsigned char junk[4096];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)(i * 131 + 7);
		assert_int_equal(th_file_truncate(fx->path, 0), 0);
		assert_int_equal(th_file_patch(fx->path, 0, junk, sizeof(junk)), 0);
		assert_int_equal(open_rc(fx, &why), -EUCLEAN);
		assert_int_equal(th_file_truncate(fx->path, 100), 0);
		assert_int_equal(open_rc(fx, &why), -EUCLEAN);
		assert_int_equal(th_file_truncate(fx->path, 0), 0);
		assert_int_equal(open_rc(fx, &why), -EUCLEAN);
	}

	/* Not a regular file: a symlink (to a good index), a directory, a FIFO. */
	assert_int_equal(unlink(fx->path), 0);
	k = open_ok(fx, 10);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	assert_int_equal(renameat(fx->dfd, NAME, fx->dfd, "good"), 0);
	assert_int_equal(symlinkat("good", fx->dfd, NAME), 0);
	assert_int_equal(open_rc(fx, &why), -EUCLEAN);
	assert_int_equal(shlogfs_kidx_open(fx->dfd, NAME, ident, 10, SHLOGFS_KIDX_CREATE, &k, &why), -EUCLEAN);
	assert_int_equal(unlinkat(fx->dfd, NAME, 0), 0);
	assert_int_equal(mkdirat(fx->dfd, NAME, 0700), 0);
	assert_int_equal(open_rc(fx, &why), -EUCLEAN);
	assert_int_equal(unlinkat(fx->dfd, NAME, AT_REMOVEDIR), 0);
	assert_int_equal(mkfifoat(fx->dfd, NAME, 0600), 0);
	assert_int_equal(open_rc(fx, &why), -EUCLEAN);
	assert_int_equal(unlinkat(fx->dfd, NAME, 0), 0);
}

/* A temporary a crash left is unlinked at a writable open; a symlink in its place is not followed. */
static void test_tmp_left(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k;
	struct stat st;
	int fd;

	fd = openat(fx->dfd, NAME ".tmp", O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	k = open_ok(fx, 10);
	assert_int_equal(fstatat(fx->dfd, NAME ".tmp", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	fd = openat(fx->dfd, "victim", O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(symlinkat("victim", fx->dfd, NAME ".tmp"), 0);
	k = open_ok(fx, 10);
	assert_int_equal(fstatat(fx->dfd, "victim", &st, 0), 0);
	assert_int_equal(fstatat(fx->dfd, NAME ".tmp", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/*
 * Kafka's log start moves: positions stay absolute, a lookup below the
 * retained point says so (-ERANGE) and names it, and once the entries
 * below are most of the file a sync rewrites it without them.
 */
static void test_start_moves(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_fed(fx, 1, 10000);
	struct shlogfs_kidx_info in;
	struct shlogfs_kidx_entry e;

	assert_int_equal(shlogfs_kidx_set_start(k, 3000), 0);
	assert_int_equal(shlogfs_kidx_sync(k), 0);   /* 3000 below, 7000 kept: no rewrite */
	assert_int_equal(th_file_size(fx->path), HDR + 10000 * ENT);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(2999), &e), -ERANGE);
	assert_int_equal(e.off, 3000);
	assert_int_equal(e.pos, pos_of(3000));
	assert_int_equal(shlogfs_kidx_find_off(k, 10, &e), -ERANGE);
	assert_int_equal(shlogfs_kidx_find_time(k, ts_of(5), &e), 0);
	assert_int_equal(e.off, 3000);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(3000), &e), 0);
	assert_int_equal(e.off, 3000);

	assert_int_equal(shlogfs_kidx_set_start(k, 6000), 0);
	assert_int_equal(shlogfs_kidx_sync(k), 0);   /* 6000 below: rewritten */
	assert_int_equal(th_file_size(fx->path), HDR + 4000 * ENT);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	k = open_ok(fx, 1);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.nent, 4000);
	assert_int_equal(in.start_off, 6000);
	assert_int_equal(in.kept.off, 6000);
	assert_int_equal(in.kept.pos, pos_of(6000));
	assert_int_equal(shlogfs_kidx_find_pos(k, 0, &e), -ERANGE);
	assert_int_equal(e.pos, pos_of(6000));
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(7777) + 3, &e), 0);
	assert_int_equal(e.off, 7777);

	/* The start past every entry (the indexer lagged behind retention): kept is the end. */
	assert_int_equal(shlogfs_kidx_set_start(k, 12000), 0);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(9999), &e), -ERANGE);
	assert_int_equal(e.off, 10000);
	assert_int_equal(e.pos, pos_of(10000));
	assert_int_equal(shlogfs_kidx_find_time(k, ts_of(9000), &e), -ERANGE);
	/* Indexing resumes at the start; the lost offsets took no bytes. */
	assert_int_equal(shlogfs_kidx_append(k, 12000, pos_of(10000), ts_of(12000)), 0);
	assert_int_equal(shlogfs_kidx_advance(k, 12001, pos_of(10000) + 10, ts_of(12000)), 0);
	assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(10000) + 9, &e), 0);
	assert_int_equal(e.off, 12000);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	k = open_ok(fx, 1);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.start_off, 12000);
	assert_int_equal(in.nent, 4001);
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/* The power-loss trial's session on an index holding messages [0, 3000) (stride 1): every error ignored. */
static void powercut_session(struct fx *fx)
{
	struct shlogfs_kidx *k = NULL;
	const char *why;

	if (shlogfs_kidx_open(fx->dfd, NAME, ident, 1, 0, &k, &why))
		return;
	feed(k, 3000, 6000);
	shlogfs_kidx_sync(k);                 /* B: 6000 entries */
	shlogfs_kidx_set_start(k, 5000);
	shlogfs_kidx_sync(k);                 /* C: rewritten, entries 5000..5999 */
	feed(k, 6000, 6100);
	shlogfs_kidx_close(k);                /* D: 1100 entries */
}

/*
 * Power loss at every I/O call of a session (sync, rewrite, close): the
 * writes not yet fdatasynced are undone and every later call fails
 * (helpers.c's POWERCUT seam).  The index then opens, as one of the
 * states the session synced, never refused, never in between.
 */
static void test_powercut(void **state)
{
	struct fx *fx = *state;
	static const struct { uint64_t end, nent, start; } states[] = {
		{ 3000, 3000, 0 }, { 6000, 6000, 0 }, { 6000, 1000, 5000 }, { 6100, 1100, 5000 },
	};
	uint64_t calls, seen[4] = { 0 };

	th_fault_install(TH_FAULT_COUNT);
	shlogfs_kidx_close(open_fed(fx, 1, 3000));
	powercut_session(fx);
	calls = th_fault_calls();
	th_fault_restore();
	assert_true(calls > 10);
	for (uint64_t at = 1; at <= calls + 1; at++) {
		struct shlogfs_kidx *k;
		struct shlogfs_kidx_info in;
		struct shlogfs_kidx_entry e;
		int which = -1;

		assert_int_equal(unlink(fx->path), 0);
		shlogfs_kidx_close(open_fed(fx, 1, 3000));
		th_fault_install(TH_FAULT_POWERCUT);
		th_fault_set_crash_at(at);
		powercut_session(fx);
		th_fault_restore();
		k = open_ok(fx, 1);
		shlogfs_kidx_info(k, &in);
		for (int i = 0; i < 4; i++)
			if (in.end.off == states[i].end && in.nent == states[i].nent && in.start_off == states[i].start)
				which = i;
		if (which < 0)
			fail_msg("power cut at call %llu: end %llu, %llu entries, start %llu is no synced state",
				 (unsigned long long)at, (unsigned long long)in.end.off,
				 (unsigned long long)in.nent, (unsigned long long)in.start_off);
		seen[which]++;
		assert_int_equal(in.end.pos, pos_of(in.end.off));
		assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(in.end.off - 1) + 2, &e), 0);
		assert_int_equal(e.off, in.end.off - 1);
		assert_int_equal(shlogfs_kidx_close(k), 0);
	}
	/* Every state was reached by some cut (so the trial cut inside each step). */
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 0);
}

/* The order of a sync's calls, as one letter each: E entry write, S slot write, D fdatasync. */
static char order[64];
static size_t norder;

/* Seam: pwrite, noting an entry or slot write. */
static ssize_t order_pwrite(int fd, const void *b, size_t l, off_t o)
{
	if (norder < sizeof(order) - 1)
		order[norder++] = o >= (off_t)HDR ? 'E' : 'S';
	return sl_io_default.pwrite(fd, b, l, o);
}

static int sync_fails;   /* fdatasyncs still to fail with EIO (noted 'X') */

/* Seam: fdatasync, noted; the first sync_fails of them fail. */
static int order_fdatasync(int fd)
{
	int fail = sync_fails > 0;

	if (norder < sizeof(order) - 1)
		order[norder++] = fail ? 'X' : 'D';
	if (fail) {
		sync_fails--;
		return errno = EIO, -1;
	}
	return sl_io_default.fdatasync(fd);
}

/* Sync @k with its calls traced, the first @fails syncs failing (EIO) at their first fdatasync. */
static void sync_traced(struct shlogfs_kidx *k, int fails, const char *want)
{
	norder = 0;
	sync_fails = fails;
	sl_io.pwrite = order_pwrite;
	sl_io.fdatasync = order_fdatasync;
	for (int i = 0; i < fails; i++)
		assert_int_equal(shlogfs_kidx_sync(k), -EIO);
	assert_int_equal(shlogfs_kidx_sync(k), 0);
	sl_io = sl_io_default;
	order[norder] = '\0';
	assert_string_equal(order, want);
}

/*
 * The rule the power cut cannot see (it undoes a file's unsynced writes
 * all together): a sync makes its entries durable before it writes the
 * slot naming them, and the slot durable before it returns.
 */
static void test_sync_order(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_fed(fx, 10, 100);

	feed(k, 100, 200);
	sync_traced(k, 0, "EDSD");
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/*
 * A failed fdatasync may have dropped the entries' pages: the sync fails
 * with EIO, writes no slot, and the next sync writes the entries again.
 */
static void test_sync_failed(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_fed(fx, 10, 100);
	struct shlogfs_kidx_info in;

	feed(k, 100, 200);
	sync_traced(k, 1, "EXEDSD");
	assert_int_equal(shlogfs_kidx_close(k), 0);
	k = open_ok(fx, 10);
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.nent, 20);
	assert_int_equal(in.end.off, 200);
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/* docs/FORMAT.md's example, byte for byte: slot 0 and the three entries. */
static void test_format_example(void **state)
{
	struct fx *fx = *state;
	struct shlogfs_kidx *k = open_ok(fx, 10);
	struct shlogfs_kidx_entry e;
	uint64_t pos = 0;
	char *img;
	size_t len;

	for (uint64_t off = 0; off < 25; off++) {
		if (shlogfs_kidx_due(k, off))
			assert_int_equal(shlogfs_kidx_append(k, off, pos, 1700000000000ll + (int64_t)off), 0);
		pos += off < 10 ? 3 : 4;
	}
	assert_int_equal(shlogfs_kidx_advance(k, 25, pos, 1700000000024ll), 0);
	assert_int_equal(shlogfs_kidx_sync(k), 0);
	assert_int_equal(th_file_read(fx->path, &img, &len), 0);
	assert_int_equal(len, HDR + 3 * ENT);
	assert_memory_equal(img, "SHLB\x01\x00\x00\x00", 8);
	assert_int_equal(th_le64(img + 8), 2);
	assert_int_equal(th_le32(img + 16), 10);
	assert_int_equal(th_le64(img + 24), 3);
	assert_int_equal(th_le64(img + 32), 25);
	assert_int_equal(th_le64(img + 40), 90);
	assert_int_equal(th_le64(img + 48), 1700000000024ull);
	assert_int_equal(th_le64(img + 56), 0);
	assert_memory_equal(img + 64, ident, 16);
	assert_int_equal(th_le32(img + 124), th_crc32c(img, 124));
	assert_int_equal(th_le64(img + 128 + 8), 1);
	assert_int_equal(th_le64(img + 128 + 24), 0);
	static const uint64_t want_pos[3] = { 0, 30, 70 };
	for (int i = 0; i < 3; i++) {
		const char *r = img + HDR + i * ENT;
		assert_int_equal(th_le64(r), 10 * i);
		assert_int_equal(th_le64(r + 8), want_pos[i]);
		assert_int_equal(th_le64(r + 16), 1700000000000ull + 10 * i);
		assert_int_equal(th_le32(r + 28), th_crc32c(r, 28));
	}
	free(img);
	assert_int_equal(shlogfs_kidx_find_pos(k, 75, &e), 0);
	assert_int_equal(e.off, 20);
	assert_int_equal(e.pos, 70);
	assert_int_equal(shlogfs_kidx_set_start(k, 15), 0);
	assert_int_equal(shlogfs_kidx_find_pos(k, 69, &e), -ERANGE);
	assert_int_equal(e.off, 20);
	assert_int_equal(shlogfs_kidx_close(k), 0);
}

/* 10 M entries: appended, synced, reopened (every entry checked) and looked up at random. */
static void test_scale(void **state)
{
	struct fx *fx = *state;
	const uint64_t n = 10000000;
	struct shlogfs_kidx *k = open_ok(fx, 1);
	struct shlogfs_kidx_info in;
	struct shlogfs_kidx_entry e;
	uint64_t t0 = th_now_ms(), t1, t2, x = 88172645463325252ull;

	feed(k, 0, n);
	assert_int_equal(shlogfs_kidx_close(k), 0);
	t1 = th_now_ms();
	k = open_ok(fx, 1);
	t2 = th_now_ms();
	shlogfs_kidx_info(k, &in);
	assert_int_equal(in.nent, n);
	assert_int_equal(in.end.pos, pos_of(n));
	for (int i = 0; i < 100000; i++) {
		uint64_t off;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		off = x % n;
		assert_int_equal(shlogfs_kidx_find_pos(k, pos_of(off) + 3, &e), 0);
		assert_int_equal(e.off, off);
	}
	assert_int_equal(shlogfs_kidx_close(k), 0);
	print_message("10M entries: append+sync %llu ms, open %llu ms, 100k lookups %llu ms\n",
		      (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
		      (unsigned long long)(th_now_ms() - t2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_roundtrip),
		TH_TEST(test_edges),
		TH_TEST(test_refusals),
		TH_TEST(test_torn_tail),
		TH_TEST(test_forged),
		TH_TEST(test_tmp_left),
		TH_TEST(test_start_moves),
		TH_TEST(test_powercut),
		TH_TEST(test_sync_order),
		TH_TEST(test_sync_failed),
		TH_TEST(test_format_example),
		TH_TEST(test_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
