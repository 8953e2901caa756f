/*
 * ctl.c — what `shlogctl sync` talks to: the daemon writes its pid to
 * DATADIR/.pid (a libbsd pidfile, locked while the daemon lives, so a
 * stale file is recognisable) and answers SIGUSR1 by calling
 * shlog_store_sync(), then writing "<token> <result>\n" to DATADIR/.synced
 * (token: the sigqueue() value of the request, 0 for a plain kill).
 *
 * The signal is blocked in every thread (the mask is set before the
 * engine and FUSE start theirs) and taken by one thread in sigwaitinfo(),
 * so the sync runs in ordinary thread context, never in a handler.
 * Both files start with '.', which the engine ignores in a data dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libutil.h>

#include "shlogfs.h"

static struct {
	struct shlogfs *fs;
	struct pidfh *pfh;
	pthread_t thread;
	int running;
	atomic_int stop;
} ctl;

/* Write the answer to a sync request: DATADIR/.synced, replaced atomically. */
static void shlogfs_ctl_answer(int token, int rc)
{
	char tmp[PATH_MAX], path[PATH_MAX], line[64];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s/.synced.tmp", ctl.fs->datadir);
	snprintf(path, sizeof(path), "%s/.synced", ctl.fs->datadir);
	n = snprintf(line, sizeof(line), "%d %d\n", token, rc);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n || rename(tmp, path) < 0)
		shlogfs_log(LOG_WARNING, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The thread that waits for SIGUSR1 and syncs the store. */
static void *shlogfs_ctl_main(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!atomic_load(&ctl.stop)) {
		siginfo_t si;
		shlog_store *s;
		int rc;
		if (sigwaitinfo(&set, &si) < 0 || atomic_load(&ctl.stop))
			continue;
		s = __atomic_load_n(&ctl.fs->store, __ATOMIC_ACQUIRE);
		rc = s ? shlog_store_sync(s) : -EAGAIN;
		shlogfs_log(rc < 0 ? LOG_ERR : LOG_INFO, "sync requested by pid %d: %s", (int)si.si_pid,
			    rc < 0 ? shlog_strerror(rc) : "everything is durable");
		shlogfs_ctl_answer(si.si_code == SI_QUEUE ? si.si_value.sival_int : 0, rc);
	}
	return NULL;
}

/* Block SIGUSR1 in this and later threads, write DATADIR/.pid, start the sync thread. */
void shlogfs_ctl_start(struct shlogfs *fs)
{
	char path[PATH_MAX];
	sigset_t set;
	pid_t other;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ctl.fs = fs;
	snprintf(path, sizeof(path), "%s/.pid", fs->datadir);
	ctl.pfh = pidfile_open(path, 0644, &other);
	if (!ctl.pfh) {
		if (errno == EEXIST)
			shlogfs_log(LOG_WARNING, "%s is held by pid %d; 'shlogctl sync' will not reach this daemon",
				    path, (int)other);
		else
			shlogfs_log(LOG_WARNING, "cannot write %s: %s", path, strerror(errno));
		return;
	}
	pidfile_write(ctl.pfh);
	if (pthread_create(&ctl.thread, NULL, shlogfs_ctl_main, NULL) != 0) {
		pidfile_remove(ctl.pfh);
		ctl.pfh = NULL;
		return;
	}
	ctl.running = 1;
}

/* Stop the sync thread (before the store closes) and remove DATADIR/.pid. */
void shlogfs_ctl_stop(void)
{
	if (!ctl.running)
		return;
	atomic_store(&ctl.stop, 1);
	pthread_kill(ctl.thread, SIGUSR1);
	pthread_join(ctl.thread, NULL);
	ctl.running = 0;
	pidfile_remove(ctl.pfh);
	ctl.pfh = NULL;
}
