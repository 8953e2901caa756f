/*
 * ctl.c — what `shlogctl sync` talks to: once the store is open (and its
 * lock held) the daemon listens on the control socket DATADIR/.ctl
 * (core/ctlsock.c: made exclusively, 0600, stale one removed only under
 * the lock) and one thread answers each connection: "sync\n" runs
 * shlogfs_store_sync() and the reply is "<result>\n" (0 or a negative
 * errno).  Only root and the daemon's own euid are answered (the kernel
 * names the peer: SO_PEERCRED); a client that says nothing within a few
 * seconds is dropped.  No signal and no pid file: SIGUSR1, which an older
 * shlogctl sent, is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ctl.h"
#include "log.h"

/* Seconds a client may take to send its request or read the answer. */
#define CTL_CLIENT_TIMEOUT_S 5

static struct {
	struct shlogfs *fs;
	int lfd;          /* the listening socket */
	int wake[2];      /* written by shlogfs_ctl_stop() */
	pthread_t thread;
	int running;
} ctl = { .lfd = -1, .wake = { -1, -1 } };

/* Read one request line from @fd; 0 or -errno. */
static int ctl_read_request(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPROTO;
		n += (size_t)r;
		if (memchr(buf, '\n', n))
			break;
	}
	buf[n] = 0;
	return memchr(buf, '\n', n) ? 0 : -EPROTO;
}

/* Answer one connection. */
static void ctl_serve_one(int fd)
{
	struct timeval tv = { .tv_sec = CTL_CLIENT_TIMEOUT_S };
	char req[64], line[32];
	pid_t pid = 0;
	int rc, n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = shlog_ctl_peer_ok(fd, geteuid(), &pid);
	if (rc == 0)
		rc = ctl_read_request(fd, req, sizeof(req));
	if (rc == 0 && strcmp(req, "sync\n") != 0)
		rc = -EINVAL;
	if (rc == 0) {
		rc = shlogfs_store_sync(ctl.fs->store);
		shlogfs_log(rc < 0 ? LOG_ERR : LOG_INFO, "sync requested by pid %d: %s", (int)pid,
			    rc < 0 ? shlog_strerror(rc) : "everything is durable");
	} else {
		shlogfs_log(LOG_WARNING, "control socket: refused a request from pid %d: %s", (int)pid,
			    strerror(-rc));
	}
	n = snprintf(line, sizeof(line), "%d\n", rc);
	if (write(fd, line, (size_t)n) != n)
		shlogfs_log(LOG_WARNING, "control socket: cannot answer pid %d", (int)pid);
}

/* The thread that accepts control connections until shlogfs_ctl_stop(). */
static void *shlogfs_ctl_main(void *arg)
{
	struct pollfd pf[2] = { { .fd = ctl.lfd, .events = POLLIN }, { .fd = ctl.wake[0], .events = POLLIN } };

	(void)arg;
	for (;;) {
		int fd;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		fd = accept4(ctl.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		ctl_serve_one(fd);
		close(fd);
	}
	return NULL;
}

/* Ignore SIGUSR1, make DATADIR/.ctl and start the thread that answers it (after the store is open). */
void shlogfs_ctl_start(struct shlogfs *fs)
{
	signal(SIGUSR1, SIG_IGN);   /* an older shlogctl's request must not kill us */
	ctl.fs = fs;
	ctl.lfd = shlogfs_be->ctl_listen(fs->store);
	if (ctl.lfd < 0) {
		if (ctl.lfd != -EROFS && ctl.lfd != -EOPNOTSUPP)
			shlogfs_log(LOG_WARNING, "'shlogctl sync' will not reach this daemon");
		return;
	}
	if (pipe2(ctl.wake, O_CLOEXEC) < 0 || pthread_create(&ctl.thread, NULL, shlogfs_ctl_main, NULL) != 0) {
		shlogfs_log(LOG_WARNING, "cannot start the control thread; 'shlogctl sync' will not reach this daemon");
		shlogfs_ctl_stop();
		return;
	}
	ctl.running = 1;
}

/* Stop the control thread (before the store closes) and remove DATADIR/.ctl. */
void shlogfs_ctl_stop(void)
{
	if (ctl.running && write(ctl.wake[1], "x", 1) == 1)
		pthread_join(ctl.thread, NULL);
	ctl.running = 0;
	if (ctl.fs)
		shlogfs_be->ctl_unlisten(ctl.fs->store, ctl.lfd);
	ctl.lfd = -1;
	for (int i = 0; i < 2; i++) {
		if (ctl.wake[i] >= 0)
			close(ctl.wake[i]);
		ctl.wake[i] = -1;
	}
}
