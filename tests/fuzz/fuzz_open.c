/*
 * fuzz_open.c — fuzz target: open a data directory whose files come from
 * the input, then use what opened (issue 4, trial 6).
 *
 * Input: one flags byte, then the contents of up to six files of
 * partition t/0, separated by FUZZ_OPEN_SEP:
 *
 *   anchor | segment A .idx | segment A .log | keys | segment B .idx | segment B .log
 *
 * Segment A is named 0, or (flag NAME_A) by the seq of its first index
 * entry; segment B, present when its .idx or .log is not empty, by the
 * seq of its first entry.  An empty part means no file (flag EMPTY_FILES:
 * an empty file).  The FIX_* flags recompute the checksums the mutations
 * broke, so the fuzzer also reaches what lies behind them.
 *
 * Each input is written into a fresh directory under /dev/shm (or
 * $TMPDIR) and opened twice, from the same bytes: with repair off, then
 * on.  What opens is read end to end, sought, and its keys listed; then
 * closed.  Crashes, leaks, sanitizer reports and hangs are the fuzzer's
 * findings; FUZZ_CHECK() aborts on a broken invariant of the API.  The
 * validator (core/format.c) checks every value against every rule of
 * docs/FORMAT.md, so even with forged checksums what opens must hold
 * together: the log's line count is its message count, a sought
 * message starts a line, every key bookmark is a well-formed message
 * reference; and shlog_part_verify(), run on the files first, reports
 * damage whenever the open then refuses them with EUCLEAN.  One odd outcome a forged key snapshot can still cause is
 * counted and printed at exit (a bookmark naming another message of the
 * log: only reading every message would tell); with FUZZ_STRICT=1 it
 * aborts when no checksum was forged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shlog.h"
#include "crc_i.h"
#include "fuzz.h"

#define FUZZ_OPEN_SEP "#@SPLIT@#"
#define FUZZ_OPEN_NPARTS 6

enum {
	FLAG_EMPTY_FILES = 0x01, /* empty part: an empty file, not none */
	FLAG_FIX_ANCHOR = 0x02,  /* recompute both anchor slots' CRCs */
	FLAG_FIX_ENTRY = 0x04,   /* recompute every index entry's crc_entry */
	FLAG_FIX_DATA = 0x08,    /* recompute crc_data (and crc_entry) from the .log */
	FLAG_FIX_KEYS = 0x10,    /* recompute the keys header and trailer CRCs */
	FLAG_NAME_A = 0x20,      /* name segment A by its first entry's seq */
	FLAG_SMALL = 0x40,       /* max_message 64, stride 4 */
	FLAG_READ_ONLY = 0x80,   /* the repair-off open is read_only */
};

/** One input cut into files. */
struct fuzz_files {
	unsigned flags;
	unsigned char *part[FUZZ_OPEN_NPARTS];
	size_t len[FUZZ_OPEN_NPARTS];
};

/** What happened, over all inputs (printed at exit). */
static struct {
	unsigned long inputs, opened, refused, euclean, repaired_open, verified;
	unsigned long read_eio, read_full;
	unsigned long keys_listed, key_not_at_msg;
} fuzz_stat;

static char fuzz_root[256]; /* per-process scratch directory */
static int fuzz_strict;     /* this input's odd outcomes abort (see fuzz_odd) */

/* ==== set-up ========================================================= */

/*
 * Count an odd but legal outcome.  With FUZZ_STRICT set in the
 * environment, an input whose checksums the target did not fix up (no
 * FIX_* flag: the files are what a writer or a random corruption could
 * leave) aborts instead, so that the fuzzer saves it.
 */
static void fuzz_odd(unsigned long *counter, const char *what)
{
	(*counter)++;
	if (fuzz_strict) {
		dprintf(2, "fuzz_open: %s, checksums not fixed up\n", what);
		abort();
	}
}

/* Print the counters (atexit). */
static void fuzz_open_report(void)
{
	fprintf(stderr,
		"fuzz_open: inputs %lu verified %lu opened %lu refused %lu (EUCLEAN %lu) "
		"repair-opened %lu; reads full %lu EIO %lu; keys listed %lu, "
		"not at its message %lu\n",
		fuzz_stat.inputs, fuzz_stat.verified, fuzz_stat.opened, fuzz_stat.refused,
		fuzz_stat.euclean, fuzz_stat.repaired_open, fuzz_stat.read_full,
		fuzz_stat.read_eio, fuzz_stat.keys_listed, fuzz_stat.key_not_at_msg);
}

/* Remove one entry of a tree (nftw callback). */
static int fuzz_rm_one(const char *path, const struct stat *st, int type,
		       struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Remove a directory tree (if present). */
static void fuzz_rm_tree(const char *dir)
{
	nftw(dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Remove the scratch directory (atexit). */
static void fuzz_open_cleanup(void)
{
	fuzz_rm_tree(fuzz_root);
}

/* Make the scratch directory once per process. */
static int fuzz_open_init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;

	if (fuzz_root[0])
		return 0;
	if (!base && !(base = getenv("TMPDIR")))
		base = "/tmp";
	snprintf(fuzz_root, sizeof fuzz_root, "%s/shlog-fuzz-open-%ld", base,
		 (long)getpid());
	fuzz_rm_tree(fuzz_root);
	if (mkdir(fuzz_root, 0700) < 0)
		return -errno;
	atexit(fuzz_open_cleanup);
	atexit(fuzz_open_report);
	return 0;
}

/* ==== the input ====================================================== */

/* Cut the input into the flags and the files' contents (copies). */
static int fuzz_files_split(const uint8_t *data, size_t size,
			    struct fuzz_files *f)
{
	const size_t seplen = sizeof FUZZ_OPEN_SEP - 1;
	const uint8_t *p, *end = data + size;

	memset(f, 0, sizeof *f);
	if (size < 1)
		return -EINVAL;
	f->flags = data[0];
	p = data + 1;
	for (int i = 0; i < FUZZ_OPEN_NPARTS && p <= end; i++) {
		const uint8_t *q = memmem(p, (size_t)(end - p), FUZZ_OPEN_SEP, seplen);
		size_t n = (size_t)((q ? q : end) - p);
		f->part[i] = malloc(n ? n : 1);
		if (!f->part[i])
			return -ENOMEM;
		memcpy(f->part[i], p, n);
		f->len[i] = n;
		if (!q)
			break;
		p = q + seplen;
	}
	return 0;
}

/* Free what fuzz_files_split() made. */
static void fuzz_files_free(struct fuzz_files *f)
{
	for (int i = 0; i < FUZZ_OPEN_NPARTS; i++)
		free(f->part[i]);
}

/* Recompute both anchor slots' CRCs. */
static void fuzz_fix_anchor(unsigned char *a, size_t len)
{
	for (size_t s = 0; s + 512 <= len && s < 1024; s += 512)
		fuzz_put32(a + s + 508, sl_crc32c(a + s, 508));
}

/* Recompute the CRCs of a segment's index entries from its .log. */
static void fuzz_fix_index(unsigned char *idx, size_t ilen,
			   const unsigned char *log, size_t llen, unsigned flags)
{
	uint64_t base_off = ilen >= 40 ? fuzz_le64(idx + 8) : 0;

	for (size_t i = 0; i + 40 <= ilen; i += 40) {
		unsigned char *e = idx + i;
		uint64_t rel = fuzz_le64(e + 8) - base_off;
		uint32_t len = fuzz_le32(e + 24);
		if ((flags & FLAG_FIX_DATA) && log && rel <= llen &&
		    len <= llen - rel)
			fuzz_put32(e + 32, sl_crc32c(log + rel, len));
		fuzz_put32(e + 36, sl_crc32c(e, 36));
	}
}

/* Recompute the keys snapshot's header and trailer CRCs. */
static void fuzz_fix_keys(unsigned char *k, size_t len)
{
	if (len >= 40)
		fuzz_put32(k + 36, sl_crc32c(k, 36));
	if (len >= 44)
		fuzz_put32(k + len - 4, sl_crc32c(k + 40, len - 44));
}

/* Apply the FIX_* flags. */
static void fuzz_files_fix(struct fuzz_files *f)
{
	if (f->flags & FLAG_FIX_ANCHOR)
		fuzz_fix_anchor(f->part[0], f->len[0]);
	for (int s = 1; s <= 4; s += 3)
		if (f->flags & (FLAG_FIX_ENTRY | FLAG_FIX_DATA))
			fuzz_fix_index(f->part[s], f->len[s], f->part[s + 1],
				       f->len[s + 1], f->flags);
	if (f->flags & FLAG_FIX_KEYS)
		fuzz_fix_keys(f->part[3], f->len[3]);
}

/* Write one file of the partition (none for an empty part, unless asked). */
static int fuzz_put_file(int dfd, const char *name, const unsigned char *p,
			 size_t len, unsigned flags)
{
	int fd;

	if (!p || (len == 0 && !(flags & FLAG_EMPTY_FILES)))
		return 0;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, p + done, len - done);
		if (w <= 0) {
			close(fd);
			return -EIO;
		}
		done += (size_t)w;
	}
	close(fd);
	return 0;
}

/* Name of a segment file: 20 decimal digits and an extension. */
static void fuzz_seg_name(char *out, size_t size, uint64_t seq, const char *ext)
{
	snprintf(out, size, "%020llu.%s", (unsigned long long)seq, ext);
}

/* Build DIR/t/0/ from @p f. */
static int fuzz_files_write(const char *dir, const struct fuzz_files *f)
{
	char path[512], name[64];
	uint64_t a = 0, b;
	int dfd, rc = 0;

	snprintf(path, sizeof path, "%s/t", dir);
	if (mkdir(dir, 0700) < 0 || mkdir(path, 0700) < 0)
		return -errno;
	snprintf(path, sizeof path, "%s/t/0", dir);
	if (mkdir(path, 0700) < 0)
		return -errno;
	dfd = open(path, O_DIRECTORY | O_RDONLY);
	if (dfd < 0)
		return -errno;
	if ((f->flags & FLAG_NAME_A) && f->len[1] >= 8)
		a = fuzz_le64(f->part[1]);
	rc = fuzz_put_file(dfd, "anchor", f->part[0], f->len[0], f->flags);
	fuzz_seg_name(name, sizeof name, a, "idx");
	if (!rc)
		rc = fuzz_put_file(dfd, name, f->part[1], f->len[1], f->flags);
	fuzz_seg_name(name, sizeof name, a, "log");
	if (!rc)
		rc = fuzz_put_file(dfd, name, f->part[2], f->len[2], f->flags);
	if (!rc)
		rc = fuzz_put_file(dfd, "keys", f->part[3], f->len[3], f->flags);
	b = f->len[4] >= 8 ? fuzz_le64(f->part[4]) : a + 1;
	if (!rc && b != a && (f->len[4] || f->len[5])) {
		fuzz_seg_name(name, sizeof name, b, "idx");
		rc = fuzz_put_file(dfd, name, f->part[4], f->len[4], f->flags);
		fuzz_seg_name(name, sizeof name, b, "log");
		if (!rc)
			rc = fuzz_put_file(dfd, name, f->part[5], f->len[5],
					   f->flags);
	}
	close(dfd);
	return rc;
}

/* ==== using what opened ============================================== */

#define FUZZ_MAX_KEYS 256

/** A key listed by shlog_key_foreach(). */
struct fuzz_key {
	unsigned char key[SHLOG_KEY_MAX + 1];
	size_t klen;
	struct shlog_keyref ref;
};

/** What the checks of one open share. */
struct fuzz_use {
	shlog_part *p;
	struct shlog_part_info in;
	unsigned char *log;  /* the whole log [start_off, end_off) if read */
	size_t loglen;
	int full;            /* log holds all of it */
	struct fuzz_key *keys; /* the first FUZZ_MAX_KEYS keys listed */
	size_t nkeys;
};

/* Engine log lines: dropped (set FUZZ_VERBOSE to see them). */
static void fuzz_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "shlog[%d]: %s\n", level, msg);
}

/* The state every partition must be in, whatever the files held. */
static void fuzz_check_info(const struct shlog_part_info *in)
{
	FUZZ_CHECK(in->start_seq <= in->end_seq);
	FUZZ_CHECK(in->start_off <= in->end_off);
	FUZZ_CHECK(in->committed_seq <= in->end_seq);
	FUZZ_CHECK(in->committed_off <= in->end_off);
	FUZZ_CHECK(in->start_seq <= in->committed_seq);
	FUZZ_CHECK(in->start_off <= in->committed_off);
	FUZZ_CHECK(in->end_seq - in->start_seq <= in->end_off - in->start_off);
}

/* Read the log end to end in chunks of @p chunk bytes. */
static void fuzz_read_all(struct fuzz_use *u, size_t chunk)
{
	uint64_t total = u->in.end_off - u->in.start_off;

	u->full = 0;
	if (total > (64u << 20))
		return;
	u->log = malloc(total ? (size_t)total : 1);
	if (!u->log)
		return;
	while (u->loglen < total) {
		size_t want = total - u->loglen < chunk ? (size_t)(total - u->loglen) : chunk;
		ssize_t r = shlog_part_read(u->p, u->in.start_off + u->loglen,
					    u->log + u->loglen, want);
		FUZZ_CHECK(r <= (ssize_t)want);
		if (r == -EIO)
			fuzz_stat.read_eio++;
		if (r <= 0)
			return;
		u->loglen += (size_t)r;
	}
	u->full = 1;
	fuzz_stat.read_full++;
	/* past the end: nothing */
	FUZZ_CHECK(shlog_part_read(u->p, u->in.end_off, u->log, 1) <= 0);
	size_t lines = 0;
	for (size_t i = 0; i < u->loglen; i++)
		lines += u->log[i] == '\n';
	FUZZ_CHECK(lines == u->in.end_seq - u->in.start_seq);
	FUZZ_CHECK(u->loglen == 0 || u->log[u->loglen - 1] == '\n');
}

/* Seek to message @p seq; the offset must be in the log, at a line start. */
static void fuzz_seek(struct fuzz_use *u, uint64_t seq)
{
	uint64_t off = 0;
	int rc = shlog_part_seek_seq(u->p, seq, &off);

	if (seq < u->in.start_seq) {
		FUZZ_CHECK(rc < 0);
		return;
	}
	if (seq > u->in.end_seq) {
		FUZZ_CHECK(rc == -ERANGE);
		return;
	}
	if (rc < 0)
		return;
	FUZZ_CHECK(off >= u->in.start_off && off <= u->in.end_off);
	if (seq == u->in.start_seq)
		FUZZ_CHECK(off == u->in.start_off);
	if (seq == u->in.end_seq)
		FUZZ_CHECK(off == u->in.end_off);
	FUZZ_CHECK(!u->full || off == u->in.start_off ||
		   u->log[off - u->in.start_off - 1] == '\n');
}

/* Keep one listed key (key_foreach callback: no engine calls in here,
 * the partition's key lock is held). */
static int fuzz_key_one(const void *key, size_t klen,
			const struct shlog_keyref *ref, void *arg)
{
	struct fuzz_use *u = arg;
	struct fuzz_key *k;

	if (u->nkeys >= FUZZ_MAX_KEYS)
		return 1;
	k = &u->keys[u->nkeys++];
	k->klen = klen < sizeof k->key ? klen : sizeof k->key;
	memcpy(k->key, key, k->klen);
	k->ref = *ref;
	return 0;
}

/* Check the listed keys against a lookup and the log. */
static void fuzz_check_keys(struct fuzz_use *u)
{
	for (size_t i = 0; i < u->nkeys; i++) {
		const struct fuzz_key *k = &u->keys[i];
		const struct shlog_keyref *ref = &k->ref;
		struct shlog_keyref again;
		size_t klen = k->klen;

		fuzz_stat.keys_listed++;
		FUZZ_CHECK(klen >= 1 && klen <= SHLOG_KEY_MAX && ref->klen == klen);
		FUZZ_CHECK(ref->len >= klen + 2 && ref->seq < u->in.end_seq &&
			   ref->off >= u->in.start_off && ref->off + ref->len + 1 <= u->in.end_off);
		FUZZ_CHECK(shlog_key_lookup(u->p, k->key, klen, &again) == 0 &&
			   again.seq == ref->seq && again.off == ref->off);
		/* a snapshot whose CRCs the fuzzer fixed may name another message: count */
		if (u->full && (ref->off < u->in.start_off ||
				     ref->off + ref->len + 1 > u->in.end_off ||
				     memcmp(u->log + (ref->off - u->in.start_off),
					    k->key, klen) ||
				     u->log[ref->off - u->in.start_off + klen] != '\t'))
			fuzz_odd(&fuzz_stat.key_not_at_msg, "key not at its message");
	}
}

/* Count index entries (index_foreach callback). */
static int fuzz_index_one(const struct shlog_index_entry *e, void *arg)
{
	FUZZ_CHECK(e->count >= 1 && e->len >= e->count && e->off >= e->seq &&
		   e->off + e->len >= e->off && e->time_ns >= 0);
	(*(unsigned long *)arg)++;
	return 0;
}

/* Exercise an open store: info, read all, seek, keys, index. */
static void fuzz_use_store(shlog_store *s, const struct fuzz_files *f)
{
	struct fuzz_use u = { 0 };
	unsigned long nidx = 0;
	uint64_t t_seq, t_off;

	if (shlog_part_get(s, "t", 0, &u.p) < 0)
		return;
	FUZZ_CHECK(shlog_part_info(u.p, &u.in) == 0);
	fuzz_check_info(&u.in);
	fuzz_read_all(&u, f->len[2] % 4093 + 1);
	uint64_t n = u.in.end_seq - u.in.start_seq;
	fuzz_seek(&u, u.in.start_seq);
	fuzz_seek(&u, u.in.end_seq);
	fuzz_seek(&u, u.in.end_seq + 1);
	if (u.in.start_seq)
		fuzz_seek(&u, u.in.start_seq - 1);
	for (int i = 0; n && i < 4; i++)
		fuzz_seek(&u, u.in.start_seq + (f->len[i] * 7919u + (uint64_t)i) % n);
	FUZZ_CHECK(shlog_part_seek_time(u.p, INT64_MIN, &t_seq, &t_off) < 0 ||
		   (t_seq >= u.in.start_seq && t_seq <= u.in.end_seq));
	shlog_part_seek_time(u.p, INT64_MAX, &t_seq, &t_off);
	shlog_part_seek_time(u.p, 1700000000000000000, &t_seq, &t_off);
	u.keys = malloc(FUZZ_MAX_KEYS * sizeof *u.keys);
	if (u.keys && shlog_key_foreach(u.p, fuzz_key_one, &u) >= 0)
		fuzz_check_keys(&u);
	free(u.keys);
	shlog_part_index_foreach(u.p, fuzz_index_one, &nidx);
	free(u.log);
	shlog_part_put(u.p);
}

/* Damage shlog_part_verify() reports for t/0 of @p dir (before any open changes it). */
static uint64_t fuzz_verify_damage(const char *dir)
{
	struct shlog_verify_stats st;

	if (shlog_part_verify(dir, "t", 0, NULL, NULL, NULL, &st) < 0)
		return 1;       /* it could not even walk the files: that is a report */
	fuzz_stat.verified++;
	return st.damage;
}

/* Write the files afresh and open them once; 0 if the store opened. */
static int fuzz_open_once(const char *dir, const struct fuzz_files *f,
			  int repair)
{
	struct shlog_options o;
	shlog_store *s;
	uint64_t damage;
	int rc;

	fuzz_rm_tree(dir);
	if (fuzz_files_write(dir, f) < 0)
		return -EIO;
	shlog_options_init(&o);
	o.repair = repair;
	o.read_only = !repair && (f->flags & FLAG_READ_ONLY);
	o.flush_threads = 1;
	o.log = fuzz_log;
	if (f->flags & FLAG_SMALL) {
		o.max_message = 64;
		o.stride = 4;
	}
	damage = repair ? 0 : fuzz_verify_damage(dir);
	rc = shlog_store_open(dir, &o, &s);
	if (rc < 0) {
		fuzz_stat.refused++;
		fuzz_stat.euclean += rc == -EUCLEAN;
		/* verify reports whatever makes open refuse the files (a
		 * read-only open also refuses a partition it would create) */
		FUZZ_CHECK(rc != -EUCLEAN || damage > 0 || o.read_only || repair);
		return rc;
	}
	fuzz_stat.opened++;
	fuzz_use_store(s, f);
	shlog_store_close(s);
	return 0;
}

/* libFuzzer entry: one input, two opens. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_files f;
	char dir[300];

	if (fuzz_open_init() < 0)
		return 0;
	fuzz_stat.inputs++;
	if (fuzz_files_split(data, size, &f) == 0) {
		fuzz_strict = getenv("FUZZ_STRICT") &&
			      !(f.flags & (FLAG_FIX_ANCHOR | FLAG_FIX_ENTRY |
					   FLAG_FIX_DATA | FLAG_FIX_KEYS));
		fuzz_files_fix(&f);
		snprintf(dir, sizeof dir, "%s/d", fuzz_root);
		fuzz_open_once(dir, &f, 0);
		if (fuzz_open_once(dir, &f, 1) == 0)
			fuzz_stat.repaired_open++;
		fuzz_rm_tree(dir);
	}
	fuzz_files_free(&f);
	return 0;
}
