/*
 * dump.c — `shlogctl dump DATADIR TOPIC PART [filters]`: the messages of
 * one partition with their sequence numbers, offsets and block times, as
 * text or JSON lines, filtered by seq range, key and time (docs/SHLOGCTL.md).
 * Read-only: it walks the index and reads the spans it needs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_i.h"
#include "array_i.h"
#include "util_i.h"

/* Filters and output mode of dump. */
struct dumpopt {
	int json;
	uint64_t from, to;             /* inclusive */
	const char *key;
	size_t klen;
	int64_t since, until;          /* [since, until) */
	uint64_t shown;
};

/* Read @len bytes of the log at @off into @b (grown as needed). */
static int read_full(shlog_part *p, uint64_t off, size_t len, struct shlog_buf *b)
{
	int rc;

	b->len = 0;
	if ((rc = sl_buf_reserve(b, len)) < 0)
		return rc;
	while (b->len < len) {
		ssize_t n = shlog_part_read(p, off + b->len, b->data + b->len, len - b->len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		b->len += (size_t)n;
	}
	return 0;
}

/* Print one message of dump. */
static void dump_msg(struct dumpopt *o, uint64_t seq, uint64_t off, int64_t t, const char *m, size_t len)
{
	char tbuf[SHLOG_TIME_TEXT_MAX];
	size_t kl = shlog_msg_key(m, len);

	shlog_time_format(t, tbuf, sizeof(tbuf));
	if (!o->json) {
		printf("%" PRIu64 "\t%" PRIu64 "\t%s\t%.*s\n", seq, off, tbuf, (int)len, m);
		return;
	}
	printf("{\"seq\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"time\":\"%s\",\"time_ns\":%lld", seq, off, tbuf,
	       (long long)t);
	if (kl) {
		printf(",\"key\":");
		ctl_json_str(stdout, m, kl);
		printf(",\"value\":");
		ctl_json_str(stdout, m + kl + 1, len - kl - 1);
		if (kl + 1 == len)
			printf(",\"tombstone\":true");
	}
	printf(",\"message\":");
	ctl_json_str(stdout, m, len);
	printf("}\n");
}

/* Print the messages of one span that pass the filters; 1 when past the range. */
static int dump_span(struct dumpopt *o, const struct shlog_index_entry *e, const char *buf)
{
	size_t pos = 0;

	for (uint32_t i = 0; i < e->count; i++) {
		const char *m = buf + pos, *nl = memchr(m, '\n', e->len - pos);
		size_t len = nl ? (size_t)(nl - m) : e->len - pos;
		uint64_t seq = e->seq + i;
		if (seq > o->to)
			return 1;
		if (seq >= o->from && (!o->key || (shlog_msg_key(m, len) == o->klen && !memcmp(m, o->key, o->klen)))) {
			dump_msg(o, seq, e->off + pos, e->time_ns, m, len);
			o->shown++;
		}
		pos += len + 1;
	}
	return 0;
}

/* Walk the index of @p and print the messages the filters pass. */
static int dump_part(shlog_part *p, struct dumpopt *o)
{
	struct sl_entries l = { 0 };
	struct shlog_buf buf = { 0 };
	int rc = shlog_part_index_foreach(p, sl_entries_add, &l);

	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		const struct shlog_index_entry *e = &l.v[i];
		if (e->seq + e->count <= o->from || e->time_ns < o->since)
			continue;
		if (e->time_ns >= o->until || e->seq > o->to)
			break;
		rc = read_full(p, e->off, e->len, &buf);
		if (rc == 0 && dump_span(o, e, buf.data))
			break;
	}
	if (rc < 0)
		ctl_warn("reading the log: %s", shlog_strerror(rc));
	free(buf.data);
	free(l.v);
	return rc;
}

/* Take one option of dump into @o: 0, or an exit status (-1: -h was answered). */
static int dump_opt(struct dumpopt *o, int c, const char *arg)
{
	switch (c) {
	case 'j': o->json = 1; return 0;
	case 'f': return shlog_u64_parse(arg, &o->from) ? ctl_usage_err("dump: bad --from-seq '%s'", arg) : 0;
	case 't': return shlog_u64_parse(arg, &o->to) ? ctl_usage_err("dump: bad --to-seq '%s'", arg) : 0;
	case 'k':
		o->key = arg;
		o->klen = strlen(arg);
		if (o->klen == 0 || o->klen > SHLOG_KEY_MAX || strchr(arg, '\t'))
			return ctl_usage_err("dump: a key is 1..%d bytes without TAB", SHLOG_KEY_MAX);
		return 0;
	case 's': return shlog_time_parse(arg, &o->since) ? ctl_usage_err("dump: bad --since '%s'", arg) : 0;
	case 'u': return shlog_time_parse(arg, &o->until) ? ctl_usage_err("dump: bad --until '%s'", arg) : 0;
	case 'h': ctl_usage(stdout); return -1;
	default: return ctl_usage_err("dump: bad option");
	}
}

/* Open the store and the partition, dump it, and flush the output; an exit status. */
static int dump_run(const char *dir, const char *topic, uint32_t num, struct dumpopt *o)
{
	shlog_store *s;
	shlog_part *p;
	int rc = ctl_open_ro(dir, &s);

	if (rc)
		return rc;
	if (ctl_part_get(s, topic, num, &p) < 0) {
		shlog_store_close(s);
		return CTL_EXIT_DAMAGED;
	}
	rc = dump_part(p, o) < 0 ? CTL_EXIT_DAMAGED : 0;
	if (fflush(stdout) != 0 && rc == 0) {
		ctl_warn("writing the output: %s", strerror(errno));
		rc = CTL_EXIT_DAMAGED;
	}
	shlog_part_put(p);
	shlog_store_close(s);
	return rc;
}

/* dump DATADIR TOPIC PART [filters] */
int ctl_cmd_dump(const char *dir, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, 0, 'j' }, { "from-seq", required_argument, 0, 'f' },
		{ "to-seq", required_argument, 0, 't' }, { "key", required_argument, 0, 'k' },
		{ "since", required_argument, 0, 's' }, { "until", required_argument, 0, 'u' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct dumpopt o = { .to = UINT64_MAX, .since = INT64_MIN, .until = INT64_MAX };
	uint32_t num;
	int c, rc;

	while ((c = getopt_long(argc, argv, "jf:t:k:s:u:h", lo, NULL)) != -1)
		if ((rc = dump_opt(&o, c, optarg)))
			return rc < 0 ? 0 : rc;
	if ((rc = ctl_args_target("dump", argc, argv, &num, NULL)))
		return rc;
	return dump_run(dir, argv[optind], num, &o);
}
