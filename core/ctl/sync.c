/*
 * sync.c — `shlogctl sync DATADIR [--timeout SEC]`: ask the running
 * shlogfs, over its control socket DATADIR/.ctl (shlog_ctl_request), to
 * make everything appended so far durable (docs/SHLOGCTL.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "ctl_i.h"

/* Say why the request failed (@rc) or the daemon's sync did (@res); an exit status. */
static int sync_result(const char *dir, int rc, int res, pid_t pid, uint64_t tmo)
{
	if (rc == -ESRCH)
		ctl_warn("%s: no running shlogfs serves this data directory (its lock is free or there is no %s/.ctl); "
			 "nothing to sync", dir, dir);
	else if (rc == -EPERM)
		ctl_warn("%s/.ctl is not the control socket of a shlogfs serving %s (wrong type or owner, or its peer "
			 "runs as another user); refusing to talk to it", dir, dir);
	else if (rc == -ETIMEDOUT)
		ctl_warn("shlogfs (pid %d) did not answer within %" PRIu64 " s", (int)pid, tmo);
	else if (rc < 0)
		ctl_warn("%s: cannot ask shlogfs to sync: %s", dir, shlog_strerror(rc));
	else if (res < 0)
		ctl_warn("shlogfs (pid %d): sync failed: %s", (int)pid, shlog_strerror(res));
	else
		return 0;
	return CTL_EXIT_DAMAGED;
}

/* sync DATADIR [--timeout SEC] */
int ctl_cmd_sync(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = { { "timeout", required_argument, 0, 't' },
					     { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	uint64_t tmo = 60;
	char reply[32];
	pid_t pid = 0;
	int c, rc, res = 0;

	while ((c = getopt_long(argc, argv, "t:h", lo, NULL)) != -1) {
		if (c == 't' && shlog_u64_parse(optarg, &tmo) == 0 && tmo > 0 && tmo < 86400)
			continue;
		if (c == 'h')
			return ctl_usage(stdout), 0;
		return ctl_usage_err("sync: bad option or value");
	}
	if (optind != argc)
		return ctl_usage_err("sync: unexpected argument '%s'", argv[optind]);
	rc = shlog_ctl_request(dir, "sync\n", reply, sizeof(reply), (unsigned)tmo, &pid);
	if (rc == 0 && sscanf(reply, "%d", &res) != 1)
		rc = -EPROTO;
	if ((rc = sync_result(dir, rc, res, pid, tmo)))
		return rc;
	printf("%s: synced (shlogfs pid %d): everything appended before this command is durable\n", dir, (int)pid);
	return 0;
}
