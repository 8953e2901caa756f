/*
 * ctlsock.c — the control socket of a mounted store, DATADIR/.ctl: how
 * `shlogctl sync` asks a running shlogfs to make everything durable.
 *
 * Protocol: a Unix stream socket.  The client connects, writes one
 * request line ("sync\n") and reads one answer line: "0\n" or a negative
 * errno ("-5\n"); then the daemon closes.  No signal is sent and no pid
 * is read from a file: the kernel tells each side who the other is
 * (SO_PEERCRED), so nobody can stand in for the daemon or point a request
 * at another process.
 *
 *   - The daemon makes the socket only once its store is open for
 *     writing, i.e. while it holds the store's lock; only then does it
 *     remove a stale .ctl (and the files of the older signal protocol,
 *     .pid, .synced and .synced.tmp).  unlinkat removes a name, never what
 *     a planted symlink points at; bind() creates the name exclusively
 *     (it never follows or reuses one).  Mode 0600, the daemon's euid.
 *   - The client believes an answer only when the store's lock is held,
 *     .ctl is a socket (not followed: lstat) owned by root or the data
 *     directory's owner, and the process at the other end (SO_PEERCRED)
 *     runs as root or the data directory's owner.
 *   - The daemon answers only root and its own euid (the caller checks
 *     shlog_ctl_peer_ok()).
 *
 * Both sides name the socket "/proc/self/fd/<data dir fd>/.ctl", so the
 * path is relative to the data directory's fd and short enough for
 * sun_path however long the data directory's path is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include "engine_i.h"
#include "io_i.h"
#include "lock_i.h"

/* Files of the older protocol (a pid file and SIGUSR1), removed at listen. */
static const char *const ctl_legacy[] = {
	SHLOG_LEGACY_PID_NAME, SHLOG_LEGACY_SYNCED_NAME, SHLOG_LEGACY_SYNCED_TMP_NAME,
};

/* The socket's address, relative to the data dir open as @dfd. */
static socklen_t ctl_addr(int dfd, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dfd, SHLOG_CTL_NAME);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa->sun_path) + 1);
}

/* Remove the name @name from @dfd if it is there (never what it points at). */
static int unlink_name(int dfd, const char *name)
{
	return sl_io.unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* Make, bind and listen on a fresh socket at .ctl in @dfd; the fd or -errno. */
static int ctl_bind(int dfd)
{
	struct sockaddr_un sa;
	socklen_t len = ctl_addr(dfd, &sa);
	int fd = sl_io.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	/* the bound name takes the socket inode's mode (less the umask) */
	if (sl_io.fchmod(fd, 0600) < 0 || sl_io.bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    sl_io.listen(fd, 8) < 0)
		rc = -errno;
	if (rc < 0) {
		sl_io.close(fd);
		return rc;
	}
	return fd;
}

int shlog_ctl_listen(shlog_store *s)
{
	struct stat sb;
	int fd, rc;

	if (!s || s->o.read_only || s->lock_fd < 0)
		return -EROFS;   /* nothing to sync, and no lock to make removing a stale name safe */
	for (size_t i = 0; i < sizeof(ctl_legacy) / sizeof(ctl_legacy[0]); i++)
		unlink_name(s->dfd, ctl_legacy[i]);
	rc = unlink_name(s->dfd, SHLOG_CTL_NAME);
	if (rc < 0) {
		sl_logf(s, SHLOG_ERR, "cannot remove a stale %s (%s): 'shlogctl sync' will not reach this daemon",
			   SHLOG_CTL_NAME, strerror(-rc));
		return rc == -EISDIR ? -EUCLEAN : rc;
	}
	fd = ctl_bind(s->dfd);
	if (fd < 0) {
		sl_logf(s, SHLOG_ERR, "cannot make the control socket %s: %s", SHLOG_CTL_NAME, strerror(-fd));
		return fd;
	}
	if (sl_io.fstatat(s->dfd, SHLOG_CTL_NAME, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(sb.st_mode) ||
	    sb.st_uid != geteuid()) {
		sl_logf(s, SHLOG_ERR, "%s is not the socket just made; not serving 'shlogctl sync'", SHLOG_CTL_NAME);
		sl_io.close(fd);
		return -EUCLEAN;
	}
	return fd;
}

void shlog_ctl_unlisten(shlog_store *s, int fd)
{
	if (fd < 0)
		return;
	sl_io.close(fd);
	if (s && s->lock_fd >= 0)
		unlink_name(s->dfd, SHLOG_CTL_NAME);
}

int shlog_ctl_peer_ok(int fd, uid_t owner, pid_t *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (sl_io.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	if (pid)
		*pid = cr.pid;
	return cr.uid == 0 || cr.uid == owner ? 0 : -EPERM;
}

/* ================================================================ */
/* The client side (shlogctl)                                        */
/* ================================================================ */

/* Is .ctl in @dfd a socket of root or @owner?  0, -ESRCH if absent, -EPERM if not theirs. */
static int ctl_check_name(int dfd, uid_t owner)
{
	struct stat sb;

	if (sl_io.fstatat(dfd, SHLOG_CTL_NAME, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (!S_ISSOCK(sb.st_mode) || (sb.st_uid != 0 && sb.st_uid != owner))
		return -EPERM;
	return 0;
}

/* Connect to .ctl in @dfd with send and receive timeouts; the fd or -errno. */
static int ctl_connect(int dfd, unsigned timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	struct sockaddr_un sa;
	socklen_t len = ctl_addr(dfd, &sa);
	int fd = sl_io.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	if (sl_io.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    sl_io.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    sl_io.connect(fd, (struct sockaddr *)&sa, len) < 0)
		rc = errno == ECONNREFUSED || errno == ENOENT ? -ESRCH : -errno;
	if (rc < 0) {
		sl_io.close(fd);
		return rc;
	}
	return fd;
}

/* Send @req and read one line into @reply; 0 or -errno (-ETIMEDOUT). */
static int ctl_exchange(int fd, const char *req, char *reply, size_t cap)
{
	size_t n = 0, len = strlen(req);

	if (sl_io.write(fd, req, len) != (ssize_t)len)
		return errno == EAGAIN ? -ETIMEDOUT : -EIO;
	while (n + 1 < cap) {
		ssize_t r = sl_io.read(fd, reply + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(reply, '\n', n))
			break;
	}
	reply[n] = 0;
	return memchr(reply, '\n', n) ? 0 : -EPROTO;
}

int shlog_ctl_request(const char *dir, const char *req, char *reply, size_t cap, unsigned timeout_s,
		      pid_t *peer)
{
	struct stat sb;
	int dfd, fd = -1, rc;

	if (!dir || !req || !reply || cap < 2)
		return -EINVAL;
	dfd = sl_io.openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0)
		return -errno;
	rc = sl_io.fstat(dfd, &sb) < 0 ? -errno : sl_lock_held(dfd);
	if (rc == 0)
		rc = -ESRCH;   /* nobody holds the store's lock: no daemon */
	else if (rc > 0)
		rc = ctl_check_name(dfd, sb.st_uid);
	if (rc == 0)
		rc = fd = ctl_connect(dfd, timeout_s);
	if (rc >= 0)
		rc = shlog_ctl_peer_ok(fd, sb.st_uid, peer);
	if (rc == 0)
		rc = ctl_exchange(fd, req, reply, cap);
	if (fd >= 0)
		sl_io.close(fd);
	sl_io.close(dfd);
	return rc;
}
