/*
 * delete.c — `shlogctl delete MOUNTPOINT TOPIC`: delete a topic of a
 * mounted store through its daemon, by writing "TOPIC\n" to
 * MOUNTPOINT/.delete (shlogfs(8), "Deleting a topic"; docs/SHLOGCTL.md).
 * The daemon decides (root, or the owner of the topic and every one of
 * its partitions) and answers at the write; this command only makes
 * sure it talks to a FUSE mount's /.delete (opened O_WRONLY|O_NOFOLLOW,
 * never created, a regular file) and says what the errno means.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ctl_i.h"

/* statfs's f_type of a FUSE file system. */
#define CTL_FUSE_MAGIC 0x65735546

/* The daemon's control file in the mount root. */
#define CTL_DELETE_FILE ".delete"

/* 0 if @p fd is on a FUSE file system, else -EXDEV (or -errno). */
static int on_fuse(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return -errno;
	return sf.f_type == CTL_FUSE_MAGIC ? 0 : -EXDEV;
}

/* Open MOUNTPOINT/.delete for writing: an fd, or an exit status (said why). */
static int open_control(const char *mnt)
{
	struct stat st;
	int dfd, fd = -1, rc;

	dfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ctl_warn("%s: %s", mnt, strerror(errno));
		return -CTL_EXIT_USAGE;
	}
	if ((rc = on_fuse(dfd)) == 0) {
		fd = openat(dfd, CTL_DELETE_FILE, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		rc = fd < 0 ? -errno : 0;
	}
	close(dfd);
	if (rc == 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || on_fuse(fd))) {
		close(fd);
		rc = -EXDEV;
	}
	if (rc == -EXDEV || rc == -ENOENT)
		ctl_warn("%s is not the mount point of a shlogfs (no %s/%s on a FUSE mount there)", mnt, mnt,
			 CTL_DELETE_FILE);
	else if (rc < 0)
		ctl_warn("cannot open %s/%s: %s%s", mnt, CTL_DELETE_FILE, strerror(-rc),
			 rc == -EACCES ? " (a mount without -o allow_other serves only the user who mounted it)" : "");
	return rc < 0 ? -CTL_EXIT_DAMAGED : fd;
}

/* Say why the daemon refused to delete @p topic (@p err: the write's errno). */
static void say_refused(const char *mnt, const char *topic, int err)
{
	if (err == ENOENT)
		ctl_warn("%s: no topic '%s'", mnt, topic);
	else if (err == EPERM)
		ctl_warn("%s: not allowed to delete '%s': only root or a user who owns the topic and every one of "
			 "its partitions may (the daemon's log names the owner)", mnt, topic);
	else if (err == EINVAL)
		ctl_warn("%s: the daemon refused '%s' as a malformed request", mnt, topic);
	else
		ctl_warn("%s: deleting '%s' failed: %s", mnt, topic, strerror(err));
}

/* Write "TOPIC\n" in one write(): 0 or the errno. */
static int send_request(int fd, const char *topic)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "%s\n", topic);
	ssize_t w = write(fd, req, (size_t)n);

	if (w < 0)
		return errno;
	return w == n ? 0 : EIO;
}

/* delete MOUNTPOINT TOPIC */
int ctl_cmd_delete(const char *mnt, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	const char *topic;
	int c, fd, err;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h')
			return ctl_usage(stdout), 0;
		return ctl_usage_err("delete: bad option");
	}
	if (optind + 1 != argc)
		return ctl_usage_err("delete: expected MOUNTPOINT TOPIC");
	topic = argv[optind];
	if (shlog_topic_name_check(topic))
		return ctl_usage_err("delete: '%s' is not a topic name", topic);
	if ((fd = open_control(mnt)) < 0)
		return -fd;
	err = send_request(fd, topic);
	if (close(fd) < 0 && err == 0)
		err = errno;
	if (err) {
		say_refused(mnt, topic, err);
		return CTL_EXIT_DAMAGED;
	}
	printf("%s: topic %s deleted\n", mnt, topic);
	return 0;
}
