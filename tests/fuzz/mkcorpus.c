/*
 * mkcorpus.c — write the seed corpora of tests/fuzz/ (run by
 * tests/fuzz/mkcorpus, which builds it against core/).
 *
 *   mkcorpus OUTDIR      writes OUTDIR/{open,framer,names}/<seed>
 *
 * open: partitions made by the engine (empty, a few messages, the
 * example of docs/FORMAT.md, many spans, several segments, retention
 * with a key snapshot, a process crash) cut into the input format of
 * fuzz_open.c, each also truncated, bit-flipped (checksums fixed up by
 * the target's flags) and with a damaged anchor slot, and with one
 * value forged past a rule of the validator (offsets wrapping near
 * 2^64, a message count that is not the span's newline count, times,
 * lengths, an anchor ahead of the segments, a key record past the
 * snapshot's point), checksums fixed up by the target.  framer and
 * names: hand-written inputs in the formats of fuzz_framer.c and
 * fuzz_names.c.  Deterministic but for the block times in the files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shlog.h"

#define SEP "#@SPLIT@#"

/* flags of fuzz_open.c */
#define F_FIX_ANCHOR 0x02
#define F_FIX_ENTRY 0x04
#define F_FIX_DATA 0x08
#define F_FIX_KEYS 0x10
#define F_NAME_A 0x20
#define F_SMALL 0x40
#define F_READ_ONLY 0x80

static const char *outdir;

/** A file's bytes. */
struct blob {
	unsigned char *p;
	size_t len;
};

/* Die with a message (a tool, not the library). */
static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Write OUTDIR/<sub>/<name> from pieces. */
static void seed_write(const char *sub, const char *name, const void *p,
		       size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, len, f) != len ||
	    fclose(f))
		die(path);
}

/* Read a whole file; an empty blob if it is absent. */
static struct blob slurp(const char *path)
{
	struct blob b = { 0 };
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return b;
	if (fstat(fd, &st) < 0 || !(b.p = malloc((size_t)st.st_size + 1)) ||
	    read(fd, b.p, (size_t)st.st_size) != st.st_size)
		die(path);
	b.len = (size_t)st.st_size;
	close(fd);
	return b;
}

/* ==== open: partitions made by the engine ============================ */

/* The six files of fuzz_open.c's input, read from DIR/t/0. */
struct part_files {
	struct blob f[6]; /* anchor, A.idx, A.log, keys, B.idx, B.log */
	int name_a;       /* segment A is not segment 0 */
};

/* Keep the names of segment index files (scandir filter). */
static int is_idx(const struct dirent *de)
{
	size_t n = strlen(de->d_name);
	return n == 24 && strcmp(de->d_name + 20, ".idx") == 0;
}

/* Read a partition's files: the anchor, keys and its last two segments. */
static void part_read(const char *dir, struct part_files *pf)
{
	char pdir[4096], path[8192];
	struct dirent **names;
	int n;

	memset(pf, 0, sizeof *pf);
	snprintf(pdir, sizeof pdir, "%s/t/0", dir);
	snprintf(path, sizeof path, "%s/anchor", pdir);
	pf->f[0] = slurp(path);
	snprintf(path, sizeof path, "%s/keys", pdir);
	pf->f[3] = slurp(path);
	n = scandir(pdir, &names, is_idx, alphasort);
	if (n < 0)
		die(pdir);
	for (int i = n >= 2 ? n - 2 : 0, k = 1; i < n; i++, k += 3) {
		snprintf(path, sizeof path, "%s/%s", pdir, names[i]->d_name);
		pf->f[k] = slurp(path);
		memcpy(path + strlen(path) - 3, "log", 3);
		pf->f[k + 1] = slurp(path);
		if (k == 1 && strncmp(names[i]->d_name, "00000000000000000000", 20))
			pf->name_a = 1;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Write one fuzz_open seed from @p pf with @p flags. */
static void open_seed(const char *name, const struct part_files *pf,
		      unsigned flags)
{
	size_t len = 1;
	unsigned char *buf, *p;

	for (int i = 0; i < 6; i++)
		len += pf->f[i].len + strlen(SEP);
	if (!(buf = malloc(len)))
		die("malloc");
	p = buf;
	*p++ = (unsigned char)(flags | (pf->name_a ? F_NAME_A : 0));
	for (int i = 0; i < 6; i++) {
		if (i) {
			memcpy(p, SEP, strlen(SEP));
			p += strlen(SEP);
		}
		if (pf->f[i].len)
			memcpy(p, pf->f[i].p, pf->f[i].len);
		p += pf->f[i].len;
	}
	seed_write("open", name, buf, (size_t)(p - buf));
	free(buf);
}

/* A copy of @p pf whose file @p i is changed by @p how. */
static void open_variant(const char *base, const char *what,
			 const struct part_files *pf, int i, unsigned flags)
{
	struct part_files v = *pf;
	struct blob b = pf->f[i];
	char name[256];

	if (!b.len)
		return;
	v.f[i].p = malloc(b.len);
	if (!v.f[i].p)
		die("malloc");
	memcpy(v.f[i].p, b.p, b.len);
	if (strcmp(what, "cut") == 0)
		v.f[i].len = b.len - (b.len > 7 ? 7 : 1);
	else if (strcmp(what, "flip") == 0)
		v.f[i].p[b.len / 2] ^= 0x20;
	else if (strcmp(what, "zero") == 0)
		memset(v.f[i].p + (b.len > 512 ? 512 : 0), 0,
		       b.len > 512 ? b.len - 512 : b.len);
	snprintf(name, sizeof name, "%s-%s%d-%02x", base, what, i, flags);
	open_seed(name, &v, flags);
	free(v.f[i].p);
}

/* Seeds from one partition: as is, and damaged in several ways. */
static void open_seeds(const char *base, const char *dir, unsigned flags)
{
	struct part_files pf;
	char name[256];

	part_read(dir, &pf);
	snprintf(name, sizeof name, "%s-%02x", base, flags);
	open_seed(name, &pf, flags);
	open_variant(base, "cut", &pf, 2, flags);
	open_variant(base, "flip", &pf, 2, flags | F_FIX_DATA);
	open_variant(base, "flip", &pf, 1, flags | F_FIX_ENTRY);
	open_variant(base, "zero", &pf, 0, flags);
	open_variant(base, "flip", &pf, 3, flags | F_FIX_KEYS);
	for (int i = 0; i < 6; i++)
		free(pf.f[i].p);
}


/* ==== forged values: one value per seed, checksums fixed by the target ==== */

/* Store @v little-endian in @n bytes at @b. */
static void put_le(unsigned char *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		b[i] = (unsigned char)v;
}

/* The @n-byte little-endian value at @b. */
static uint64_t get_le(const unsigned char *b, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/** One forged value: file, byte, width, and the new value (or an addend). */
struct forge {
	int file;
	size_t at;
	int n;
	uint64_t v;
	int add;
};

/* A seed from @p pf with the forges applied (each file copied first). */
static void forged_seed(const char *name, const struct part_files *pf,
			const struct forge *fg, int nfg, unsigned flags)
{
	struct part_files v = *pf;
	int copied[6] = { 0 };

	for (int i = 0; i < nfg; i++) {
		struct blob *b = &v.f[fg[i].file];
		if (fg[i].at + (size_t)fg[i].n > b->len)
			continue;
		if (!copied[fg[i].file]) {
			unsigned char *c = malloc(b->len);
			if (!c)
				die("malloc");
			memcpy(c, b->p, b->len);
			b->p = c;
			copied[fg[i].file] = 1;
		}
		put_le(b->p + fg[i].at,
		       fg[i].add ? get_le(b->p + fg[i].at, fg[i].n) + fg[i].v : fg[i].v, fg[i].n);
	}
	open_seed(name, &v, flags);
	for (int i = 0; i < 6; i++)
		if (copied[i])
			free(v.f[i].p);
}

/* The newest anchor slot of @p pf (0 or 512). */
static size_t anchor_slot(const struct part_files *pf)
{
	if (pf->f[0].len < 1024)
		return 0;
	return get_le(pf->f[0].p + 512 + 8, 8) > get_le(pf->f[0].p + 8, 8) ? 512 : 0;
}

/* Seeds that break one rule of the validator each (docs/FORMAT.md). */
static void forged_seeds(const char *base, const char *dir)
{
	struct part_files pf;
	struct forge wrap[64];
	char name[256];
	size_t nent, last, a;
	uint64_t shift;
	int nw = 0;

	part_read(dir, &pf);
	nent = pf.f[1].len / 40;
	last = nent ? (nent - 1) * 40 : 0;
	a = anchor_slot(&pf);
	/* every offset of both segments moved to start 100 bytes below 2^64: the log's end wraps */
	shift = UINT64_MAX - 100 - (nent ? get_le(pf.f[1].p + 8, 8) : 0);
	for (int f = 1; f <= 4; f += 3)
		for (size_t k = 0; k < pf.f[f].len / 40 && nw < 64; k++)
			wrap[nw++] = (struct forge){ f, k * 40 + 8, 8, shift, 1 };
	snprintf(name, sizeof name, "%s-forged-offset-wrap", base);
	forged_seed(name, &pf, wrap, nw, F_FIX_ENTRY);
	snprintf(name, sizeof name, "%s-forged-count", base);
	forged_seed(name, &pf, &(struct forge){ 1, last + 28, 4, (uint64_t)-1, 1 }, 1, F_FIX_ENTRY);
	snprintf(name, sizeof name, "%s-forged-len", base);
	forged_seed(name, &pf, &(struct forge){ 1, last + 24, 4, 1u << 21, 0 }, 1, F_FIX_ENTRY);
	snprintf(name, sizeof name, "%s-forged-time", base);
	forged_seed(name, &pf, &(struct forge){ 1, last + 16, 8, (uint64_t)-1, 0 }, 1, F_FIX_ENTRY);
	snprintf(name, sizeof name, "%s-forged-seq-wrap", base);
	forged_seed(name, &pf, &(struct forge){ 1, last + 0, 8, UINT64_MAX - 1, 0 }, 1, F_FIX_ENTRY);
	/* a newline of the last span made a byte (crc_data recomputed) */
	if (pf.f[2].len > 2) {
		size_t nl = pf.f[2].len - 2;
		while (nl > 0 && pf.f[2].p[nl] != '\n')
			nl--;
		snprintf(name, sizeof name, "%s-forged-newline", base);
		forged_seed(name, &pf, &(struct forge){ 2, nl, 1, 'x', 0 }, 1, F_FIX_DATA);
	}
	/* the anchor ahead of every segment, and its key replay point inside a message */
	snprintf(name, sizeof name, "%s-forged-anchor-ahead", base);
	forged_seed(name, &pf, (struct forge[]){ { 0, a + 16, 8, 1000, 1 }, { 0, a + 24, 8, 100000, 1 },
						 { 0, a + 32, 8, 1u << 30, 0 } }, 3, F_FIX_ANCHOR);
	snprintf(name, sizeof name, "%s-forged-anchor-off", base);
	forged_seed(name, &pf, &(struct forge){ 0, a + 24, 8, UINT64_MAX - 5, 0 }, 1, F_FIX_ANCHOR);
	snprintf(name, sizeof name, "%s-forged-replay-point", base);
	forged_seed(name, &pf, (struct forge[]){ { 0, a + 48, 8, 1, 0 }, { 0, a + 56, 8, 2, 0 },
						 { 0, a + 64, 8, 0, 0 } }, 3, F_FIX_ANCHOR);
	/* a key record whose message runs past the snapshot's point */
	if (pf.f[3].len == 0)
		goto out;
	snprintf(name, sizeof name, "%s-forged-keys-past", base);
	forged_seed(name, &pf, &(struct forge){ 3, 40 + 24, 4, 1u << 20, 0 }, 1, F_FIX_KEYS);
	snprintf(name, sizeof name, "%s-forged-keys-klen", base);
	forged_seed(name, &pf, &(struct forge){ 3, 40 + 28, 2, 300, 0 }, 1, F_FIX_KEYS);
out:
	for (int i = 0; i < 6; i++)
		free(pf.f[i].p);
}

/* Append @p n messages made by @p fmt (with %d) to t/0. */
static void put_msgs(shlog_part *p, int from, int n, const char *fmt)
{
	char msg[256];

	for (int i = from; i < from + n; i++) {
		int len = snprintf(msg, sizeof msg, fmt, i, i % 7);
		if (shlog_part_append(p, msg, (size_t)len, 0, NULL) < 0)
			die("append");
	}
}

/* Make a store in a fresh @p dir with topic t (1 partition); its partition. */
static shlog_store *store_new(const char *dir, struct shlog_options *o,
			      shlog_part **p)
{
	shlog_store *s;
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("rm");
	if (shlog_store_open(dir, o, &s) < 0 ||
	    shlog_topic_create(s, "t", 1) < 0 || shlog_part_get(s, "t", 0, p) < 0)
		die("store");
	return s;
}

/* Quiet engine log lines. */
static void quiet(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

/* The partitions the open corpus starts from. */
static void make_open(const char *tmp)
{
	static const char *const example[] = { "a\tx", "b", "a\t" };
	struct shlog_options o;
	shlog_part *p;
	shlog_store *s;
	char dir[4096];

	snprintf(dir, sizeof dir, "%s/store", tmp);
	shlog_options_init(&o);
	o.log = quiet;
	o.flush_threads = 1;

	s = store_new(dir, &o, &p); /* empty partition */
	shlog_part_put(p);
	shlog_store_close(s);
	open_seeds("empty", dir, 0);

	s = store_new(dir, &o, &p); /* docs/FORMAT.md's example */
	for (int i = 0; i < 3; i++)
		shlog_part_append(p, example[i], strlen(example[i]), 0, NULL);
	shlog_part_put(p);
	shlog_store_close(s);
	open_seeds("example", dir, 0);
	open_seeds("example", dir, F_READ_ONLY);

	o.stride = 4; /* many spans and blocks, keys and tombstones */
	s = store_new(dir, &o, &p);
	for (int b = 0; b < 6; b++) {
		put_msgs(p, b * 7, 7, b % 2 ? "k%d\tvalue %d" : "line %d of %d");
		put_msgs(p, 100 + b, 1, "k%d\t");
		shlog_part_flush(p);
	}
	shlog_part_put(p);
	shlog_store_close(s);
	open_seeds("spans", dir, F_SMALL);

	shlog_options_init(&o); /* several segments */
	o.log = quiet;
	o.flush_threads = 1;
	o.segment_bytes = 512;
	s = store_new(dir, &o, &p);
	for (int b = 0; b < 8; b++) {
		put_msgs(p, b * 10, 10, "seg %d key%d\tv");
		shlog_part_flush(p);
	}
	shlog_part_put(p);
	shlog_store_close(s);
	open_seeds("segments", dir, 0);
	forged_seeds("segments", dir);

	o.max_segments = 2; /* retention: start past 0, a key snapshot */
	o.retention = SHLOG_RETAIN_WRAP;
	s = store_new(dir, &o, &p);
	for (int b = 0; b < 12; b++) {
		put_msgs(p, b * 10, 10, "k%d\tretained %d");
		shlog_part_flush(p);
	}
	shlog_part_put(p);
	shlog_store_close(s);
	open_seeds("retention", dir, 0);
	forged_seeds("retention", dir);

	shlog_options_init(&o); /* a process crash: no clean close */
	o.log = quiet;
	o.flush_threads = 1;
	pid_t pid = fork();
	if (pid == 0) {
		s = store_new(dir, &o, &p);
		put_msgs(p, 0, 20, "killed %d k%d\tv");
		shlog_part_sync(p);
		put_msgs(p, 20, 5, "unsynced %d %d");
		shlog_part_flush(p);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		die("fork");
	open_seeds("killed", dir, 0);
}

/* ==== framer: write sequences ======================================== */

/* One fuzz_framer seed: mode, request size, then (ctl, text) writes. */
static void framer_seed(const char *name, unsigned mode, unsigned reqsize,
			const char *const *writes, const unsigned *ctl, int n)
{
	unsigned char buf[4096];
	size_t len = 0;

	buf[len++] = (unsigned char)mode;
	buf[len++] = (unsigned char)(reqsize - 1);
	for (int i = 0; i < n; i++) {
		size_t w = strlen(writes[i]);
		buf[len++] = (unsigned char)ctl[i];
		buf[len++] = (unsigned char)w;
		memcpy(buf + len, writes[i], w);
		len += w;
	}
	seed_write("framer", name, buf, len);
}

/* The framer seeds: both framings, split lines, long lines, faults. */
static void make_framer(void)
{
	static const char *const lines[] = { "hello\nworld\n" };
	static const char *const split[] = { "hel", "lo\nwo", "rld\nand", " more\n", "tail" };
	static const char *const keyed[] = { "k\tv\nother\tx\n", "k\t\nnokey\n", "a\tb" };
	static const char *const longl[] = { "short\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaa\nnext\n" };
	static const char *const longw[] = { "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\nafter\n", "x\n" };
	static const char *const mixed[] = { "one\ntwo", "ooooooooooooooooooooooooooooooooooo\nthree\n" };
	static const char *const empty[] = { "", "\n", "\n\n", "" };
	static const unsigned c0[] = { 0, 0, 0, 0, 0 };
	static const unsigned faults[] = { 0x01, 0x06, 0x0b, 0x03, 0x10 };
	static const unsigned release[] = { 0x10, 0x30, 0x00, 0x10, 0x00 };

	for (unsigned tlog = 0; tlog < 2; tlog++) {
		char name[64];
#define FRAMER(tag, mode, req, w, c) \
		snprintf(name, sizeof name, "%s-%s", tlog ? "tlog" : "log", tag); \
		framer_seed(name, (mode) | tlog, req, w, c, (int)(sizeof w / sizeof w[0]))
		FRAMER("lines", 0xfe, 64, lines, c0);
		FRAMER("split", 0xfe, 64, split, c0);
		FRAMER("split-req3", 0xfe, 3, split, c0);
		FRAMER("keyed", 0xfe, 64, keyed, c0);
		FRAMER("long", 2 * 15, 64, longl, c0);
		FRAMER("long-req8", 2 * 15, 8, longw, c0);
		FRAMER("long-mixed", 2 * 15, 16, mixed, c0);
		FRAMER("empty", 0xfe, 64, empty, c0);
		FRAMER("faults", 0xfe, 4, split, faults);
		FRAMER("release", 0xfe, 64, split, release);
#undef FRAMER
	}
}

/* ==== names: names, times, numbers, command lines ==================== */

/* One fuzz_names seed: selector byte, then the text (may hold NULs). */
static void names_seed(unsigned sel, const char *text, size_t len)
{
	char name[64], buf[512];
	static int n;

	buf[0] = (char)sel;
	memcpy(buf + 1, text, len);
	snprintf(name, sizeof name, "%u-%02d", sel, n++);
	seed_write("names", name, buf, len + 1);
}

/* The names seeds. */
static void make_names(void)
{
	static const char *const topics[] = { "t", "my.topic-1_x", ".hidden", "a/b", "" };
	static const char *const parts[] = { "0", "17", "00", "65535", "65536", "-1" };
	static const char *const times[] = {
		"1700000000", "1700000000.5", "2026-11-22T01:02:03Z",
		"2026-11-22T01:02:03.123456789+02:00", "2026-02-30t00:00:60z",
		"1970-01-01 00:00:00-00:30", "0.000000001" };
	static const char *const nums[] = { "0", "18446744073709551615", "18446744073709551616", "007" };
	static const char *const sizes[] = { "1M", "4k", "64M", "1G", "-1", "1T", "0", "1.5M" };
	static const char cmd1[] = "-o\0stride=10,max_message=1M,partitions=4\0/data\0/mnt";
	static const char cmd2[] = "-o\0repair,ro,allow_other,default_permissions\0d\0m";
	static const char cmd3[] = "-o\0sync=always,retention=wrap,max_segments=3,sync_ms=5\0d\0m";
	static const char cmd4[] = "-f\0-d\0-s\0-o\0x-systemd.automount,_netdev,comment=x,nofail\0d\0m";
	static const char cmd5[] = "-h";
	static const char cmd6[] = "-o\0segment_size=4k,max_buffer_bytes=1G,flush_ms=0\0d";
	char big[300];

	for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
		names_seed(0, topics[i], strlen(topics[i]));
	memset(big, 'a', 250);
	names_seed(0, big, 249);
	names_seed(0, big, 250);
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		names_seed(1, parts[i], strlen(parts[i]));
	for (size_t i = 0; i < sizeof times / sizeof *times; i++)
		names_seed(2, times[i], strlen(times[i]));
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
		names_seed(3, nums[i], strlen(nums[i]));
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		names_seed(4 + (unsigned)(i % 2), sizes[i], strlen(sizes[i]));
	names_seed(6, cmd1, sizeof cmd1 - 1);
	names_seed(7, cmd2, sizeof cmd2 - 1);
	names_seed(6, cmd3, sizeof cmd3 - 1);
	names_seed(7, cmd4, sizeof cmd4 - 1);
	names_seed(6, cmd5, sizeof cmd5 - 1);
	names_seed(7, cmd6, sizeof cmd6 - 1);
	names_seed(5, "key\tvalue", 9);
}

/* Write the three corpora into argv[1]. */
int main(int argc, char *argv[])
{
	char tmp[] = "/tmp/shlog-mkcorpus-XXXXXX", cmd[64];

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	if (!mkdtemp(tmp))
		die("mkdtemp");
	make_open(tmp);
	make_framer();
	make_names();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : 1;
}
