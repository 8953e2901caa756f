/*
 * relck.c — helper of the reliability trials through the mount
 * (t_rel_*.sh, scripts/reliability-mount): checks that a partition's
 * anchor, index and log agree, runs single system calls reporting the
 * errno they get, and holds thousands of open handles.
 *
 * Usage:
 *   relck agree PARTDIR
 *       read PARTDIR/anchor, PARTDIR/index and PARTDIR/log: the index
 *       entries must be contiguous (seq and off), start at the anchor's
 *       start_seq/start_off and end at its committed_seq/committed_off,
 *       which must equal the log's size; each entry's span must end in
 *       '\n', hold `count` newlines and match its CRC32C.  Prints
 *       "entries N msgs M bytes B"; exit 1 with a reason on a mismatch.
 *   relck op OP ARG...
 *       one system call; prints "ok" or the errno name (EPERM, ...).
 *       Exit 0 on success, 1 on failure, 2 on bad usage.  OPs:
 *         mkdir P | rmdir P | stat P | unlink P | rename A B | link A B |
 *         symlink A B | mknod P | creat P | open-r P | open-w P |
 *         open-rw P | open-trunc P (O_WRONLY|O_TRUNC) |
 *         truncate P LEN | chmod P MODE | pwrite P OFF DATA |
 *         write-noappend P DATA (O_APPEND cleared with fcntl) |
 *         append-file P FILE (one write() of FILE's bytes, O_APPEND) |
 *         setxattr P NAME VALUE | read P (one read of 4 KiB)
 *       DATA is taken literally; "\n" in it is not expanded.  A short
 *       write() is retried with the rest (as cat does); an error after
 *       some bytes went in prints "ERRNO after N bytes were accepted".
 *   relck handles FILE N TAG
 *       open FILE O_WRONLY|O_APPEND N times (all open at once), write
 *       line i ("TAG NNNNNNNN <40 letters>\n", as mtio lines) through
 *       handle i, fsync one handle, close all.  Prints "handles N".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ==== helpers ========================================================= */

/* CRC32C (Castagnoli, reflected), bit by bit: slow, short, independent
 * of the engine's implementation. */
static uint32_t relck_crc32c(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return c ^ 0xFFFFFFFFu;
}

/* Read file @p path from byte @p from to its end into a malloc'd buffer;
 * 0 or an errno. */
static int relck_slurp(const char *path, off_t from, unsigned char **out,
		       size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap);
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !b) {
		int e = fd < 0 ? errno : ENOMEM;
		free(b);
		if (fd >= 0)
			close(fd);
		return e;
	}
	if (from > 0 && lseek(fd, from, SEEK_SET) < 0) {
		int e = errno;
		free(b);
		close(fd);
		return e;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			unsigned char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				close(fd);
				return ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*out = b;
	*len = n;
	return 0;
}

/* Find "NAME value" in status text @p txt; 0 or -1 when missing. */
static int relck_field(const char *txt, const char *name, uint64_t *v)
{
	size_t nl = strlen(name);
	const char *p = txt;

	while (p && *p) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
			*v = strtoull(p + nl + 1, NULL, 10);
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Print errno @p e by name. */
static void relck_errname(int e)
{
	const char *n = strerrorname_np(e);

	printf("%s\n", n ? n : "E?");
}

/* ==== relck agree ===================================================== */

/* Check one index entry's span against the log bytes; 0 or -1. */
static int relck_span(const unsigned char *log, size_t loglen,
		      uint64_t base, uint64_t off, uint32_t len,
		      uint32_t count, uint32_t crc, uint64_t seq)
{
	uint32_t nl = 0;

	if (off < base || off - base + len > loglen || len == 0) {
		printf("entry seq %" PRIu64 ": span %" PRIu64 "+%" PRIu32
		       " outside the log (%" PRIu64 "..%" PRIu64 ")\n",
		       seq, off, len, base, base + loglen);
		return -1;
	}
	log += off - base;
	for (uint32_t i = 0; i < len; i++)
		nl += log[i] == '\n';
	if (log[len - 1] != '\n' || nl != count) {
		printf("entry seq %" PRIu64 ": %" PRIu32 " newlines, count %"
		       PRIu32 ", last byte 0x%02x\n", seq, nl, count,
		       log[len - 1]);
		return -1;
	}
	if (relck_crc32c(log, len) != crc) {
		printf("entry seq %" PRIu64 " off %" PRIu64
		       ": crc %08" PRIx32 " in the index, %08" PRIx32
		       " of the log bytes\n", seq, off, crc,
		       relck_crc32c(log, len));
		return -1;
	}
	return 0;
}

/* Walk the index text @p idx; checks contiguity and each span. */
static int relck_walk(char *idx, const unsigned char *log, size_t loglen,
		      uint64_t sseq, uint64_t soff, uint64_t *eseq,
		      uint64_t *eoff, uint64_t *nent)
{
	char *save = NULL, *line;

	*eseq = sseq;
	*eoff = soff;
	*nent = 0;
	for (line = strtok_r(idx, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		uint64_t seq, off;
		uint32_t len, count, crc;
		char t[64];

		if (sscanf(line, "%" SCNu64 " %" SCNu64 " %63s %" SCNu32
			   " %" SCNu32 " %" SCNx32, &seq, &off, t, &len,
			   &count, &crc) != 6) {
			printf("bad index line: %s\n", line);
			return -1;
		}
		if (seq != *eseq || off != *eoff) {
			printf("index entry %" PRIu64 ": seq %" PRIu64 " off %"
			       PRIu64 ", expected seq %" PRIu64 " off %" PRIu64
			       "\n", *nent, seq, off, *eseq, *eoff);
			return -1;
		}
		if (relck_span(log, loglen, soff, off, len, count, crc, seq))
			return -1;
		*eseq = seq + count;
		*eoff = off + len;
		(*nent)++;
	}
	return 0;
}

/* The "agree" command. */
static int relck_cmd_agree(int argc, char **argv)
{
	char path[4096];
	unsigned char *anc = NULL, *idx = NULL, *log = NULL;
	size_t alen, ilen, llen;
	uint64_t cseq, coff, sseq, soff, eseq, eoff, nent;
	struct stat st;
	int rc = 1, e;

	if (argc != 2)
		return 2;
	snprintf(path, sizeof path, "%s/anchor", argv[1]);
	if ((e = relck_slurp(path, 0, &anc, &alen)))
		goto fail;
	anc[alen ? alen - 1 : 0] = 0;
	if (relck_field((char *)anc, "committed_seq", &cseq) ||
	    relck_field((char *)anc, "committed_off", &coff) ||
	    relck_field((char *)anc, "start_seq", &sseq) ||
	    relck_field((char *)anc, "start_off", &soff)) {
		printf("anchor lacks a field: %s\n", anc);
		goto out;
	}
	snprintf(path, sizeof path, "%s/index", argv[1]);
	if ((e = relck_slurp(path, 0, &idx, &ilen)))
		goto fail;
	idx[ilen ? ilen - 1 : 0] = 0;
	snprintf(path, sizeof path, "%s/log", argv[1]);
	if (stat(path, &st) < 0) {
		e = errno;
		goto fail;
	}
	if ((e = relck_slurp(path, (off_t)soff, &log, &llen)))
		goto fail;
	if ((uint64_t)st.st_size != soff + llen) {
		printf("log: st_size %lld, start_off %" PRIu64 ", read %zu bytes"
		       " from there\n", (long long)st.st_size, soff, llen);
		goto out;
	}
	if (relck_walk((char *)idx, log, llen, sseq, soff, &eseq, &eoff,
		       &nent))
		goto out;
	if (eseq != cseq || eoff != coff || coff != soff + llen) {
		printf("index ends at seq %" PRIu64 " off %" PRIu64
		       "; anchor committed_seq %" PRIu64 " committed_off %"
		       PRIu64 "; log size %" PRIu64 "\n", eseq, eoff, cseq,
		       coff, soff + llen);
		goto out;
	}
	printf("entries %" PRIu64 " msgs %" PRIu64 " bytes %" PRIu64 "\n",
	       nent, eseq - sseq, eoff - soff);
	rc = 0;
	goto out;
fail:
	printf("%s: %s\n", path, strerror(e));
out:
	free(anc);
	free(idx);
	free(log);
	return rc;
}

/* ==== relck op ======================================================== */

/* Bytes that relck_put's write() calls accepted before an error. */
static size_t relck_partial;

/* Write @p len bytes of @p data through a new O_WRONLY handle of @p path;
 * @p how: 'a' O_APPEND, 'x' O_APPEND cleared by fcntl, 'p' pwrite at
 * @p off.  Returns 0 or an errno. */
static int relck_put(const char *path, const void *data, size_t len,
		     int how, off_t off)
{
	int fd = open(path, O_WRONLY | (how == 'p' ? 0 : O_APPEND));
	ssize_t n;
	int e = 0;

	if (fd < 0)
		return errno;
	if (how == 'x' &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND) < 0) {
		e = errno;
		close(fd);
		return e;
	}
	relck_partial = 0;
	for (;;) {
		n = how == 'p' ? pwrite(fd, data, len, off) : write(fd, data, len);
		if (n < 0) {
			e = errno;
			break;
		}
		/* a short write: retry the rest, as cat and dd do */
		relck_partial += (size_t)n;
		if ((size_t)n == len || n == 0 || how == 'p')
			break;
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	if (!e && (size_t)n != len)
		e = EIO;
	if (close(fd) < 0 && !e)
		e = errno;
	return e;
}

/* Run one operation @p op on @p a (and @p b, @p c); 0 or an errno,
 * -1 for an unknown op. */
static int relck_do(const char *op, const char *a, const char *b,
		    const char *c)
{
	unsigned char *data;
	size_t len;
	struct stat st;
	char buf[4096];
	int fd, e;

#define RELCK_SYS(call) ((call) < 0 ? errno : 0)
	if (!strcmp(op, "mkdir"))
		return RELCK_SYS(mkdir(a, 0755));
	if (!strcmp(op, "rmdir"))
		return RELCK_SYS(rmdir(a));
	if (!strcmp(op, "stat"))
		return RELCK_SYS(stat(a, &st));
	if (!strcmp(op, "unlink"))
		return RELCK_SYS(unlink(a));
	if (b && !strcmp(op, "rename"))
		return RELCK_SYS(rename(a, b));
	if (b && !strcmp(op, "link"))
		return RELCK_SYS(link(a, b));
	if (b && !strcmp(op, "symlink"))
		return RELCK_SYS(symlink(a, b));
	if (!strcmp(op, "mknod"))
		return RELCK_SYS(mknod(a, S_IFIFO | 0644, 0));
	if (b && !strcmp(op, "truncate"))
		return RELCK_SYS(truncate(a, strtoll(b, NULL, 10)));
	if (b && !strcmp(op, "chmod"))
		return RELCK_SYS(chmod(a, (mode_t)strtol(b, NULL, 8)));
	if (c && !strcmp(op, "setxattr"))
		return RELCK_SYS(setxattr(a, b, c, strlen(c), 0));
	if (!strcmp(op, "creat") || !strcmp(op, "open-r") ||
	    !strcmp(op, "open-w") || !strcmp(op, "open-rw") ||
	    !strcmp(op, "open-trunc") || !strcmp(op, "read")) {
		fd = !strcmp(op, "creat") ? open(a, O_WRONLY | O_CREAT | O_EXCL, 0644)
		   : !strcmp(op, "open-w") ? open(a, O_WRONLY | O_APPEND)
		   : !strcmp(op, "open-rw") ? open(a, O_RDWR)
		   : !strcmp(op, "open-trunc") ? open(a, O_WRONLY | O_TRUNC)
		   : open(a, O_RDONLY);
		if (fd < 0)
			return errno;
		e = !strcmp(op, "read") && read(fd, buf, sizeof buf) < 0 ? errno : 0;
		close(fd);
		return e;
	}
	if (c && !strcmp(op, "pwrite"))
		return relck_put(a, c, strlen(c), 'p', strtoll(b, NULL, 10));
	if (b && !strcmp(op, "write-noappend"))
		return relck_put(a, b, strlen(b), 'x', 0);
	if (b && !strcmp(op, "append-file")) {
		if ((e = relck_slurp(b, 0, &data, &len)))
			return e;
		e = relck_put(a, data, len, 'a', 0);
		free(data);
		return e;
	}
#undef RELCK_SYS
	return -1;
}

/* The "op" command. */
static int relck_cmd_op(int argc, char **argv)
{
	int e;

	if (argc < 3)
		return 2;
	e = relck_do(argv[1], argv[2], argc > 3 ? argv[3] : NULL,
		     argc > 4 ? argv[4] : NULL);
	if (e < 0)
		return 2;
	if (e == 0)
		printf("ok\n");
	else if (relck_partial > 0)
		printf("%s after %zu bytes were accepted\n",
		       strerrorname_np(e) ? strerrorname_np(e) : "E?",
		       relck_partial);
	else
		relck_errname(e);
	return e ? 1 : 0;
}

/* ==== relck handles =================================================== */

/* The "handles" command: N handles open at once, one line through each. */
static int relck_cmd_handles(int argc, char **argv)
{
	struct rlimit rl;
	int n, i, *fds, rc = 0;
	char line[128];

	if (argc != 4 || strlen(argv[3]) > 32)
		return 2;
	n = atoi(argv[2]);
	if (n <= 0 || !(fds = calloc((size_t)n, sizeof *fds)))
		return 2;
	rl.rlim_cur = rl.rlim_max = (rlim_t)n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 &&
	    getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		/* no privilege to raise the hard limit: go as far as it */
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_max < (rlim_t)n + 16) {
			printf("relck: RLIMIT_NOFILE hard limit %llu is below %d handles\n",
			       (unsigned long long)rl.rlim_max, n);
			free(fds);
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		fds[i] = open(argv[1], O_WRONLY | O_APPEND);
		if (fds[i] < 0) {
			printf("open %d: ", i);
			relck_errname(errno);
			return 1;
		}
	}
	for (i = 0; i < n && !rc; i++) {
		int len = snprintf(line, sizeof line, "%s %08d ", argv[3], i);

		memset(line + len, 'a' + i % 26, 40);
		line[len + 40] = '\n';
		if (write(fds[i], line, (size_t)len + 41) != len + 41) {
			printf("write %d: ", i);
			relck_errname(errno);
			rc = 1;
		}
	}
	if (!rc && fsync(fds[n / 2]) < 0) {
		printf("fsync: ");
		relck_errname(errno);
		rc = 1;
	}
	for (i = 0; i < n; i++)
		if (close(fds[i]) < 0 && !rc) {
			printf("close %d: ", i);
			relck_errname(errno);
			rc = 1;
		}
	free(fds);
	if (!rc)
		printf("handles %d\n", n);
	return rc;
}

/* ==== main ============================================================ */

/* Dispatch to a command. */
int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "agree"))
		return relck_cmd_agree(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "op"))
		return relck_cmd_op(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "handles"))
		return relck_cmd_handles(argc - 1, argv + 1);
	fprintf(stderr, "usage: relck agree|op|handles ...\n");
	return 2;
}
