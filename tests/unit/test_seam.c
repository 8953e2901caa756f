/*
 * test_seam.c — the calls that joined the I/O seam last (io_i.h): the
 * control socket's (ctlsock.c) and the read-ahead hint (seg.c).  Each
 * test fails one of them through sl_io and checks what the caller was
 * promised: shlog_ctl_listen() and shlog_ctl_request() return the
 * negative errno of the call that failed (with a log line that names
 * it), the socket is closed, and a failed posix_fadvise changes nothing
 * a read returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "const_i.h"
#include "io_i.h"

/* One test's data directory and the last line the store logged. */
struct fx {
	char dir[256];
	char log[512];
	unsigned nlog;
};

/* cmocka setup/teardown: a fresh directory and a watchdog; the seam restored (helpers.c). */
TH_FX(struct fx, 60)

/* ==== the failing calls =============================================== */

/* What the injected calls do: fail with err, and what they saw. */
static struct {
	int err;              /* errno of the failing call */
	unsigned calls;       /* calls of the failing member */
	int sock_fd;          /* the last fd sl_io.socket returned */
	int sock_closed;      /* whether sl_io.close got sock_fd since */
	const char *reply;    /* what sl_io.read gives, when not failing */
} inj;

/* Reset the injection state to fail with @err. */
static void inj_reset(int err)
{
	memset(&inj, 0, sizeof(inj));
	inj.err = err;
	inj.sock_fd = -1;
}

/* sl_io.socket that fails. */
static int fail_socket(int domain, int type, int proto)
{
	(void)domain, (void)type, (void)proto;
	inj.calls++;
	errno = inj.err;
	return -1;
}

/* sl_io.socket that notes the fd it makes. */
static int note_socket(int domain, int type, int proto)
{
	inj.sock_fd = sl_io_default.socket(domain, type, proto);
	inj.sock_closed = 0;
	return inj.sock_fd;
}

/* sl_io.close that notes when the noted socket goes. */
static int note_close(int fd)
{
	if (fd >= 0 && fd == inj.sock_fd)
		inj.sock_closed = 1;
	return sl_io_default.close(fd);
}

/* sl_io.bind and sl_io.connect that fail. */
static int fail_addr(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd, (void)sa, (void)len;
	inj.calls++;
	errno = inj.err;
	return -1;
}

/* sl_io.listen that fails. */
static int fail_listen(int fd, int backlog)
{
	(void)fd, (void)backlog;
	inj.calls++;
	errno = inj.err;
	return -1;
}

/* sl_io.getsockopt that fails. */
static int fail_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	(void)fd, (void)level, (void)name, (void)val, (void)len;
	inj.calls++;
	errno = inj.err;
	return -1;
}

/* sl_io.write that fails. */
static ssize_t fail_write(int fd, const void *buf, size_t len)
{
	(void)fd, (void)buf, (void)len;
	inj.calls++;
	errno = inj.err;
	return -1;
}

/* sl_io.read that fails, or (inj.err 0) gives inj.reply as the daemon's answer. */
static ssize_t fake_read(int fd, void *buf, size_t len)
{
	size_t n = inj.reply ? strlen(inj.reply) : 0;

	(void)fd;
	inj.calls++;
	if (inj.err) {
		errno = inj.err;
		return -1;
	}
	n = n < len ? n : len;
	memcpy(buf, inj.reply, n);
	return (ssize_t)n;
}

/* sl_io.posix_fadvise that fails (it returns the error number, as libc's does). */
static int fail_fadvise(int fd, off_t off, off_t len, int advice)
{
	(void)fd, (void)off, (void)len, (void)advice;
	inj.calls++;
	return inj.err;
}

/* ==== a store that serves the control socket =========================== */

/* Log sink: keep the last line and count them. */
static void keep_log(int level, const char *msg, void *arg)
{
	struct fx *fx = arg;

	(void)level;
	snprintf(fx->log, sizeof(fx->log), "%s", msg);
	fx->nlog++;
}

/* Open the fixture's directory as a writable store that logs into @fx. */
static shlog_store *store_open(struct fx *fx)
{
	struct shlog_options o;
	shlog_store *s = NULL;

	th_opts(&o);
	o.log = keep_log;
	o.log_arg = fx;
	assert_int_equal(shlog_store_open(fx->dir, &o, &s), 0);
	return s;
}

/* Whether DATADIR/.ctl exists at all (any type). */
static int ctl_exists(const struct fx *fx)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, SHLOG_CTL_NAME);
	return lstat(path, &sb) == 0;
}

/* ==== the daemon's side: shlog_ctl_listen ============================== */

/* A failed socket(): listen says -EMFILE and logs it; nothing is made. */
static void test_listen_socket(void **state)
{
	struct fx *fx = *state;
	shlog_store *s = store_open(fx);

	inj_reset(EMFILE);
	sl_io.socket = fail_socket;
	fx->nlog = 0;
	assert_int_equal(shlog_ctl_listen(s), -EMFILE);
	assert_int_equal(inj.calls, 1);
	assert_int_equal(fx->nlog, 1);
	assert_non_null(strstr(fx->log, "control socket"));
	assert_non_null(strstr(fx->log, strerror(EMFILE)));
	assert_false(ctl_exists(fx));
	sl_io = sl_io_default;
	assert_int_equal(shlog_store_close(s), 0);
}

/* A failed bind(): -EADDRINUSE, logged, the socket closed; a later listen works. */
static void test_listen_bind(void **state)
{
	struct fx *fx = *state;
	shlog_store *s = store_open(fx);
	int fd;

	inj_reset(EADDRINUSE);
	sl_io.socket = note_socket;
	sl_io.close = note_close;
	sl_io.bind = fail_addr;
	fx->nlog = 0;
	assert_int_equal(shlog_ctl_listen(s), -EADDRINUSE);
	assert_int_equal(inj.calls, 1);
	assert_true(inj.sock_fd >= 0);
	assert_int_equal(inj.sock_closed, 1);
	assert_int_equal(fx->nlog, 1);
	assert_non_null(strstr(fx->log, strerror(EADDRINUSE)));
	assert_false(ctl_exists(fx));
	sl_io = sl_io_default;
	fd = shlog_ctl_listen(s);
	assert_true(fd >= 0);
	assert_true(ctl_exists(fx));
	shlog_ctl_unlisten(s, fd);
	assert_false(ctl_exists(fx));
	assert_int_equal(shlog_store_close(s), 0);
}

/* A failed listen(): -EOPNOTSUPP and the socket closed. */
static void test_listen_listen(void **state)
{
	struct fx *fx = *state;
	shlog_store *s = store_open(fx);

	inj_reset(EOPNOTSUPP);
	sl_io.socket = note_socket;
	sl_io.close = note_close;
	sl_io.listen = fail_listen;
	assert_int_equal(shlog_ctl_listen(s), -EOPNOTSUPP);
	assert_int_equal(inj.calls, 1);
	assert_true(inj.sock_fd >= 0);
	assert_int_equal(inj.sock_closed, 1);
	sl_io = sl_io_default;
	assert_int_equal(shlog_store_close(s), 0);
}

/* ==== the client's side: shlog_ctl_request ============================= */

/* Ask the store listening in @fx's directory for "sync"; the request's result. */
static int request(struct fx *fx, char *reply, size_t cap, pid_t *peer)
{
	return shlog_ctl_request(fx->dir, "sync\n", reply, cap, 1, peer);
}

/* Each failed client call gives its documented errno, and its socket is closed. */
static void test_request_fails(void **state)
{
	struct fx *fx = *state;
	shlog_store *s = store_open(fx);
	int lfd = shlog_ctl_listen(s);
	char reply[32];
	pid_t peer = 0;

	assert_true(lfd >= 0);
	inj_reset(EACCES);                   /* connect: its errno */
	sl_io.socket = note_socket;
	sl_io.close = note_close;
	sl_io.connect = fail_addr;
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -EACCES);
	assert_int_equal(inj.calls, 1);
	assert_int_equal(inj.sock_closed, 1);
	inj_reset(ECONNREFUSED);             /* connect refused: no daemon */
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -ESRCH);
	assert_int_equal(inj.calls, 1);
	sl_io.connect = sl_io_default.connect;

	inj_reset(ENOBUFS);                  /* the peer's credentials */
	sl_io.getsockopt = fail_getsockopt;
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -ENOBUFS);
	assert_int_equal(inj.calls, 1);
	assert_int_equal(inj.sock_closed, 1);
	sl_io.getsockopt = sl_io_default.getsockopt;

	inj_reset(EAGAIN);                   /* the request's write timed out */
	sl_io.write = fail_write;
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -ETIMEDOUT);
	assert_int_equal(inj.calls, 1);
	assert_int_equal(inj.sock_closed, 1);
	sl_io.write = sl_io_default.write;

	inj_reset(ECONNRESET);               /* the answer's read */
	sl_io.read = fake_read;
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -ECONNRESET);
	assert_int_equal(inj.calls, 1);
	inj_reset(EAGAIN);
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -ETIMEDOUT);
	assert_int_equal(inj.calls, 1);
	assert_int_equal(inj.sock_closed, 1);

	sl_io = sl_io_default;
	shlog_ctl_unlisten(s, lfd);
	assert_int_equal(shlog_store_close(s), 0);
}

/* The answer comes through sl_io.read: a line is taken as it is, a line without '\n' is -EPROTO. */
static void test_request_answer(void **state)
{
	struct fx *fx = *state;
	shlog_store *s = store_open(fx);
	int lfd = shlog_ctl_listen(s);
	char reply[32];
	pid_t peer = 0;

	assert_true(lfd >= 0);
	inj_reset(0);
	inj.reply = "-5\n";
	sl_io.read = fake_read;
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), 0);
	assert_string_equal(reply, "-5\n");
	assert_int_equal(peer, getpid());    /* the listening socket is this process's */
	assert_int_equal(inj.calls, 1);
	inj_reset(0);
	inj.reply = "";                      /* the daemon closed without a line */
	assert_int_equal(request(fx, reply, sizeof(reply), &peer), -EPROTO);
	assert_int_equal(inj.calls, 1);
	sl_io = sl_io_default;
	shlog_ctl_unlisten(s, lfd);
	assert_int_equal(shlog_store_close(s), 0);
}

/* ==== the read-ahead hint ============================================== */

/* A failing posix_fadvise is asked (at least once) and every byte read is the log's. */
static void test_fadvise_fails(void **state)
{
	struct fx *fx = *state;
	enum { NMSG = 4096, MSG = 255, CHUNK = 128 << 10 };
	size_t total = (size_t)NMSG * (MSG + 1), got = 0;
	char *want = malloc(total), *buf = malloc(CHUNK);
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	uint64_t seq;

	assert_non_null(want);
	assert_non_null(buf);
	th_opts(&o);
	th_open_part(fx->dir, &o, "t", 1, &s, &p);
	for (unsigned i = 0; i < NMSG; i++) {
		char *m = want + (size_t)i * (MSG + 1);
		memset(m, 'a' + i % 26, MSG);
		snprintf(m, MSG, "msg %u ", i);
		m[strlen(m)] = '.';
		m[MSG] = '\n';
		assert_int_equal(shlog_part_append(p, m, MSG, 0, &seq), 0);
		assert_int_equal(seq, i);
	}
	assert_int_equal(shlog_part_sync(p), 0);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.start_off, 0);
	assert_int_equal(in.committed_off, total);
	inj_reset(EIO);
	sl_io.posix_fadvise = fail_fadvise;
	while (got < total) {
		ssize_t n = shlog_part_read(p, got, buf, CHUNK);
		assert_true(n > 0);
		assert_memory_equal(buf, want + got, (size_t)n);
		got += (size_t)n;
	}
	assert_int_equal(got, total);
	assert_true(inj.calls >= 1);         /* the hint was asked for, and failed */
	sl_io = sl_io_default;
	assert_int_equal(th_close(s, p), 0);
	free(want);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_listen_socket),
		TH_TEST(test_listen_bind),
		TH_TEST(test_listen_listen),
		TH_TEST(test_request_fails),
		TH_TEST(test_request_answer),
		TH_TEST(test_fadvise_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
