/*
 * replay.c — run a fuzz target's entry point over a corpus without
 * clang: main() for the gcc builds of tests/fuzz/meson.build.
 *
 *   replay_<target> FILE|DIR...
 *
 * Every regular file named (or in a directory named, in name order) is
 * one input.  A crash or a broken invariant aborts; otherwise it prints
 * how many inputs ran and exits 0 (1 if a path cannot be read).
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Read a whole file into memory; NULL on error. */
static uint8_t *replay_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			uint8_t *p = realloc(buf, cap = cap ? 2 * cap : 4096);
			if (!p)
				break;
			buf = p;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Run one file through the target; 0 or -1. */
static int replay_file(const char *path)
{
	size_t len;
	uint8_t *buf = replay_slurp(path, &len);

	if (!buf) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* Only regular entries, not . and .. (scandir filter). */
static int replay_entry(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Run every file of a directory, in name order; inputs run or -1. */
static long replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, replay_entry, alphasort);
	long count = 0;
	char path[4096];

	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (count >= 0 && replay_file(path) == 0)
			count++;
		else
			count = -1;
		free(names[i]);
	}
	free(names);
	return count;
}

/* Replay every argument; report the count. */
int main(int argc, char *argv[])
{
	long total = 0;
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = replay_dir(argv[i]);
		else
			n = replay_file(argv[i]) == 0 ? 1 : -1;
		if (n < 0)
			bad = 1;
		else
			total += n;
	}
	printf("replay: %ld inputs, no crash\n", total);
	return bad || total == 0;
}
