/*
 * meta.c — a topic's meta file, the modes and owners the mount shows.
 *
 * Layout (all little-endian; docs/FORMAT.md "The meta file"):
 *
 *   0  u32 magic "SHLM"          16 u32 topic mode (bits 07777 only)
 *   4  u32 version (1)           20 u32 topic uid
 *   8  u32 count of records      24 u32 topic gid
 *  12  u32 reserved, 0           28 u32 reserved, 0
 *  32  count x { u32 partition, u32 mode, u32 uid, u32 gid }
 *  32 + 16 * count: u32 CRC32C of every byte before it
 *
 * A partition has a record only when it differs from the topic's; the
 * others show the topic's mode and owner.  Records are in strictly
 * ascending partition order.  The file is valid only if its size is
 * exactly 36 + 16 * count, count <= SHLOG_MAX_PARTS, the magic, version,
 * reserved words and CRC match, and every mode has no bits outside 07777.
 * Records for partitions the topic does not have (a crash between writing
 * the meta and making the partition) are ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/endian.h>
#include <sys/stat.h>

#include "const_i.h"
#include "crc_i.h"
#include "io_i.h"
#include "meta_i.h"

/* ================================================================ */
/* In memory                                                         */
/* ================================================================ */

/* Give @p m @p nparts partitions, each with the topic's record. */
int sl_meta_init(struct shlog_meta *m, const struct shlog_perm *topic, uint32_t nparts)
{
	m->topic = *topic;
	m->nparts = nparts;
	m->parts = calloc(nparts ? nparts : 1, sizeof(*m->parts));
	if (!m->parts)
		return -ENOMEM;
	for (uint32_t i = 0; i < nparts; i++)
		m->parts[i] = *topic;
	return 0;
}

/* Add one partition with the topic's record (a new partition inherits). */
int sl_meta_add_part(struct shlog_meta *m)
{
	struct shlog_perm *np = realloc(m->parts, (m->nparts + 1) * sizeof(*np));

	if (!np)
		return -ENOMEM;
	m->parts = np;
	m->parts[m->nparts++] = m->topic;
	return 0;
}

/* Free the records of @p m. */
void sl_meta_free(struct shlog_meta *m)
{
	free(m->parts);
	m->parts = NULL;
	m->nparts = 0;
}

/* ================================================================ */
/* Encoding and validation                                           */
/* ================================================================ */

/* Two records are the same mode and owner. */
static int perm_eq(const struct shlog_perm *a, const struct shlog_perm *b)
{
	return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid;
}

/* Serialise @p m: the partitions that differ from the topic get a record. */
int sl_meta_encode(const struct shlog_meta *m, unsigned char **out, size_t *len)
{
	uint32_t count = 0;
	unsigned char *b, *p;

	for (uint32_t i = 0; i < m->nparts; i++)
		count += !perm_eq(&m->parts[i], &m->topic);
	*len = SHLOG_META_HDR_SIZE + (size_t)count * SHLOG_META_ENT_SIZE + SHLOG_META_CRC_SIZE;
	b = calloc(1, *len);
	if (!b)
		return -ENOMEM;
	le32enc(b + 0, SHLOG_META_MAGIC);
	le32enc(b + 4, SHLOG_META_VERSION);
	le32enc(b + 8, count);
	le32enc(b + 16, m->topic.mode);
	le32enc(b + 20, m->topic.uid);
	le32enc(b + 24, m->topic.gid);
	p = b + SHLOG_META_HDR_SIZE;
	for (uint32_t i = 0; i < m->nparts; i++) {
		if (perm_eq(&m->parts[i], &m->topic))
			continue;
		le32enc(p + 0, i);
		le32enc(p + 4, m->parts[i].mode);
		le32enc(p + 8, m->parts[i].uid);
		le32enc(p + 12, m->parts[i].gid);
		p += SHLOG_META_ENT_SIZE;
	}
	le32enc(p, sl_crc32c(b, (size_t)(p - b)));
	*out = b;
	return 0;
}

/* Check the fixed header; NULL if good, else why not. */
static const char *meta_check_header(const unsigned char *buf, size_t len, uint32_t *count)
{
	if (len < SHLOG_META_HDR_SIZE + SHLOG_META_CRC_SIZE)
		return "shorter than its header";
	if (le32dec(buf) != SHLOG_META_MAGIC)
		return "bad magic";
	if (le32dec(buf + 4) != SHLOG_META_VERSION)
		return "unknown version";
	*count = le32dec(buf + 8);
	if (*count > SHLOG_MAX_PARTS)
		return "more records than a topic has partitions";
	if (len != SHLOG_META_HDR_SIZE + (size_t)*count * SHLOG_META_ENT_SIZE + SHLOG_META_CRC_SIZE)
		return "size does not match its record count";
	if (le32dec(buf + len - 4) != sl_crc32c(buf, len - 4))
		return "checksum mismatch";
	if (le32dec(buf + 12) != 0 || le32dec(buf + 28) != 0)
		return "reserved field not zero";
	if (le32dec(buf + 16) & ~07777u)
		return "topic mode has bits outside 07777";
	return NULL;
}

/* Parse and validate a meta file of a topic with @p nparts partitions. */
int sl_meta_decode(const unsigned char *buf, size_t len, uint32_t nparts,
		      struct shlog_meta *m, const char **why)
{
	struct shlog_perm topic;
	uint32_t count = 0;
	int64_t prev = -1;
	int rc;

	*why = meta_check_header(buf, len, &count);
	if (*why)
		return -EUCLEAN;
	topic = (struct shlog_perm){ le32dec(buf + 16), le32dec(buf + 20), le32dec(buf + 24) };
	rc = sl_meta_init(m, &topic, nparts);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *p = buf + SHLOG_META_HDR_SIZE + (size_t)i * SHLOG_META_ENT_SIZE;
		uint32_t part = le32dec(p);
		if ((int64_t)part <= prev)
			*why = "partition records out of order";
		else if (le32dec(p + 4) & ~07777u)
			*why = "partition mode has bits outside 07777";
		if (*why) {
			sl_meta_free(m);
			return -EUCLEAN;
		}
		prev = part;
		if (part < nparts)
			m->parts[part] = (struct shlog_perm){ le32dec(p + 4), le32dec(p + 8), le32dec(p + 12) };
	}
	return 0;
}

/* ================================================================ */
/* On disk                                                           */
/* ================================================================ */

/* Read meta file @p name of dir @p tdfd into @p m. */
int sl_meta_read(int tdfd, const char *name, uint32_t nparts, struct shlog_meta *m,
		    const char **why)
{
	size_t max = SHLOG_META_HDR_SIZE + (size_t)SHLOG_MAX_PARTS * SHLOG_META_ENT_SIZE +
		     SHLOG_META_CRC_SIZE;
	int fd = sl_io_open(tdfd, name, O_RDONLY, 0, S_IFREG);
	unsigned char *buf;
	struct stat st;
	int rc;

	*why = "not a regular file";
	if (fd < 0)
		return fd;
	*why = NULL;
	rc = sl_io.fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (st.st_size < 0 || (uint64_t)st.st_size > max)) {
		*why = "larger than any meta file";
		rc = -EUCLEAN;
	}
	buf = rc == 0 ? malloc(st.st_size ? (size_t)st.st_size : 1) : NULL;
	if (rc == 0 && !buf)
		rc = -ENOMEM;
	if (rc == 0)
		rc = sl_io_pread_full(fd, buf, (size_t)st.st_size, 0);
	if (rc == 0)
		rc = sl_meta_decode(buf, (size_t)st.st_size, nparts, m, why);
	free(buf);
	sl_io.close(fd);
	return rc;
}

/* Create a temporary file exclusively under a fresh random name. */
static int tmp_create(int dfd, char *name, size_t cap)
{
	int fd = -EEXIST;

	for (int i = 0; i < SHLOG_TMP_TRIES && fd == -EEXIST; i++) {
		int rc = sl_name_temp(name, cap, SHLOG_META_TMP_PREFIX, "");
		if (rc < 0)
			return rc;
		fd = sl_io_open(dfd, name, O_WRONLY | O_CREAT | O_EXCL, SHLOG_FILE_MODE, S_IFREG);
	}
	return fd;
}

/* Replace SHLOG_META_NAME atomically: temp, fsync, rename, fsync dir. */
int sl_meta_write(int tdfd, const char *name, const struct shlog_meta *m)
{
	char tmp[sizeof(SHLOG_META_TMP_PREFIX) + SHLOG_TMP_HEX];
	unsigned char *buf;
	size_t len;
	int fd, rc = sl_meta_encode(m, &buf, &len);

	if (rc < 0)
		return rc;
	fd = tmp_create(tdfd, tmp, sizeof(tmp));
	if (fd < 0) {
		free(buf);
		return fd;
	}
	rc = sl_io_pwrite_full(fd, buf, len, 0);
	if (rc == 0 && sl_io.fsync(fd) < 0)
		rc = -errno;
	sl_io.close(fd);
	free(buf);
	if (rc == 0 && sl_io.renameat(tdfd, tmp, tdfd, name) < 0)
		rc = -errno;
	if (rc < 0) {
		sl_io.unlinkat(tdfd, tmp, 0);
		return rc;
	}
	return sl_io.fsync(tdfd) < 0 ? -errno : 0;
}

/* One directory's mode and owner as a record. */
static struct shlog_perm perm_of(const struct stat *st)
{
	return (struct shlog_perm){ st->st_mode & 07777, st->st_uid, st->st_gid };
}

/* Build a meta from the real directories' modes and owners (migration). */
int sl_meta_from_dirs(int tdfd, uint32_t nparts, struct shlog_meta *m)
{
	struct shlog_perm topic;
	struct stat st;
	char name[SHLOG_PART_NAME_CAP];
	int rc;

	if (sl_io.fstat(tdfd, &st) < 0)
		return -errno;
	topic = perm_of(&st);
	rc = sl_meta_init(m, &topic, nparts);
	for (uint32_t i = 0; rc == 0 && i < nparts; i++) {
		sl_name_part(name, sizeof(name), i);
		if (sl_io.fstatat(tdfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
		else if (!S_ISDIR(st.st_mode))
			rc = -EUCLEAN;
		else
			m->parts[i] = perm_of(&st);
	}
	if (rc < 0)
		sl_meta_free(m);
	return rc;
}

/* ================================================================ */
/* The daemon's own directories                                      */
/* ================================================================ */

/* Make directory fd @p fd SHLOG_DIR_MODE and owned by the euid. */
int sl_dir_tighten(int fd)
{
	struct stat st;
	int changed = 0;

	if (sl_io.fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != geteuid() || st.st_gid != getegid()) {
		if (sl_io.fchown(fd, geteuid(), getegid()) < 0)
			return -errno;
		changed = 1;
	}
	if ((st.st_mode & 07777) != SHLOG_DIR_MODE || changed) {
		if (sl_io.fchmod(fd, SHLOG_DIR_MODE) < 0)
			return -errno;
		changed = 1;
	}
	return changed;
}

/* Tighten every partition directory 0..nparts-1 of topic dir @p tdfd. */
int sl_parts_tighten(int tdfd, uint32_t nparts)
{
	char name[SHLOG_PART_NAME_CAP];
	int rc = 0;

	for (uint32_t i = 0; i < nparts; i++) {
		int fd, r;
		sl_name_part(name, sizeof(name), i);
		fd = sl_io_open(tdfd, name, O_RDONLY, 0, S_IFDIR);
		r = fd < 0 ? fd : sl_dir_tighten(fd);
		if (fd >= 0)
			sl_io.close(fd);
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}
