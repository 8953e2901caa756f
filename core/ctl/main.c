/*
 * main.c — shlogctl, the admin tool for shlog data directories, in the
 * manner of mdb_stat/mdb_dump, kafka-dump-log and redis-check-aof.
 *
 *     shlogctl [-h] [-V] COMMAND DATADIR [args]
 *
 * Read-only commands (info, dump, verify, export) open the store with the
 * engine's read_only option: no lock, nothing written, so they work while
 * shlogfs has the directory mounted.  Write commands (repair, compact,
 * import) take the lock and refuse with a clear message while it is held.
 * `sync` asks a running shlogfs to make everything durable; `delete`
 * (whose first argument is the MOUNTPOINT, not a data dir) asks it to
 * delete a topic through MOUNTPOINT/.delete.  The commands
 * and their output are described in docs/SHLOGCTL.md; ctl_i.h maps the
 * files of this directory.
 *
 * Exit status: 0 success (verify: clean), 1 damage found or the operation
 * failed, 2 usage error or the data dir cannot be read.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl_i.h"

/* One command: its name and what runs it. */
struct command {
	const char *name;
	int (*fn)(const char *dir, int argc, char **argv);
};

static const struct command commands[] = {
	{ "info", ctl_cmd_info },       { "dump", ctl_cmd_dump },       { "verify", ctl_cmd_verify },
	{ "repair", ctl_cmd_repair },   { "compact", ctl_cmd_compact }, { "export", ctl_cmd_export },
	{ "import", ctl_cmd_import },   { "sync", ctl_cmd_sync },       { "delete", ctl_cmd_delete },
	{ "cursor", ctl_cmd_cursor },
};

/* The global options before COMMAND: -1 to go on (*i past them), else the exit status. */
static int global_opts(int argc, char **argv, int *i)
{
	for (; *i < argc && argv[*i][0] == '-' && argv[*i][1]; (*i)++) {
		if (!strcmp(argv[*i], "-h") || !strcmp(argv[*i], "--help")) {
			ctl_usage(stdout);
			return 0;
		}
		if (!strcmp(argv[*i], "-V") || !strcmp(argv[*i], "--version")) {
			printf("shlogctl %s\n", SHLOG_VERSION);
			return 0;
		}
		return ctl_usage_err("unknown option '%s'", argv[*i]);
	}
	return -1;
}

/* The command named @name, or NULL. */
static const struct command *command_find(const char *name)
{
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(name, commands[k].name))
			return &commands[k];
	return NULL;
}

int main(int argc, char **argv)
{
	static char name[32];
	const struct command *cmd;
	const char *dir;
	int i = 1, rc;

	if ((rc = global_opts(argc, argv, &i)) >= 0)
		return rc;
	if (i >= argc)
		return ctl_usage_err("missing COMMAND");
	if (!(cmd = command_find(argv[i])))
		return ctl_usage_err("unknown command '%s'", argv[i]);
	if (cmd->fn == ctl_cmd_cursor && i + 2 < argc && ctl_cursor_verb(argv[i + 1])) {
		char *verb = argv[i + 1];  /* "cursor list DATADIR ...": the verb follows DATADIR */
		argv[i + 1] = argv[i + 2];
		argv[i + 2] = verb;
	}
	if (i + 1 >= argc || argv[i + 1][0] == '-') {
		if (i + 1 < argc && (!strcmp(argv[i + 1], "-h") || !strcmp(argv[i + 1], "--help")))
			return ctl_usage(stdout), 0;
		return ctl_usage_err("%s: missing DATADIR", cmd->name);
	}
	/* the command's own arguments follow DATADIR; getopt_long permutes them */
	dir = argv[i + 1];
	snprintf(name, sizeof(name), "%s %s", ctl_prog, cmd->name);
	argv[i + 1] = name;     /* getopt's own messages then say "shlogctl dump: ..." */
	optind = 1;
	return cmd->fn(dir, argc - (i + 1), argv + i + 1);
}
