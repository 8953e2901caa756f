/*
 * metrics.c — the two root-level status files of shlogfs:
 *
 *   /.metrics   every partition's counters in the Prometheus text
 *               exposition format (version 0.0.4), for node_exporter's
 *               textfile collector or any scraper that can read a file
 *   /.status    a short summary for people
 *
 * Each reader sees only the partitions whose log it may read (root:
 * all), and only root sees the data dir's path.  This file makes the
 * texts; k_rootfile.c serves them (shared snapshots, stat, open).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "budget.h"
#include "cred.h"
#include "follow.h"
#include "text.h"
#include "wb.h"

/* ==== collecting ====================================================== */

/* One partition's numbers, taken once per snapshot. */
struct shlogfs_mpart {
	const char *topic;              /* points into shlogfs_mset.names */
	uint32_t part;
	struct shlog_part_info in;
	struct shlog_part_latency lat;
};

/* One durable cursor of a partition in the set. */
struct shlogfs_mcur {
	size_t part;                    /* index in shlogfs_mset.v */
	char name[SHLOG_CURSOR_NAME_MAX + 1];
	uint64_t seq;                   /* committed position */
	uint64_t lag_msgs, lag_bytes;   /* from where it reads to the end */
};

/* Every partition of the store, in topic and partition order. */
struct shlogfs_mset {
	struct shlogfs_buf names;       /* topic names, each ending in '\0' */
	size_t ntopics;
	struct shlogfs_mpart *v;
	size_t n, cap;
	struct shlogfs_mcur *cur;       /* their cursors, partition by partition */
	size_t ncur, capcur;
};

/* What a cursor of the partition being added needs (shlog_cursor_foreach). */
struct shlogfs_mcur_ctx {
	struct shlogfs_mset *m;
	shlogfs_bpart *p;
	const struct shlog_part_info *in;
};

/* shlog_cursor_foreach callback: one cursor's position and lag. */
static int shlogfs_mset_cursor(const char *name, uint64_t seq, void *arg)
{
	struct shlogfs_mcur_ctx *x = arg;
	struct shlogfs_mset *m = x->m;
	uint64_t from = seq > x->in->start_seq ? seq : x->in->start_seq, off;
	struct shlogfs_mcur *c;

	struct shlogfs_mcur *v = shlogfs_array_room(m->cur, &m->capcur, m->ncur,
						    sizeof *v);
	if (!v)
		return -ENOMEM;
	m->cur = v;
	if (shlogfs_part_seek_seq(x->p, from, &off))
		off = x->in->start_off; /* retention moved the start meanwhile */
	c = &m->cur[m->ncur++];
	c->part = m->n;
	strcpy(c->name, name);
	c->seq = seq;
	c->lag_msgs = x->in->end_seq > from ? x->in->end_seq - from : 0;
	c->lag_bytes = x->in->end_off > off ? x->in->end_off - off : 0;
	return 0;
}

/* shlog_topic_foreach callback: remember a topic's name. */
static int shlogfs_mset_topic(const char *topic, void *arg)
{
	struct shlogfs_mset *m = arg;

	if (shlogfs_buf_add(&m->names, topic, strlen(topic) + 1))
		return 1;
	m->ntopics++;
	return 0;
}

/* Add one partition's info and latency (skipped if it just went away). */
static int shlogfs_mset_part(struct shlogfs *fs, struct shlogfs_mset *m,
			     const char *topic, uint32_t num)
{
	struct shlogfs_mpart *e;
	shlogfs_bpart *p;

	struct shlogfs_mpart *v = shlogfs_array_room(m->v, &m->cap, m->n,
						     sizeof *v);
	if (!v)
		return -ENOMEM;
	m->v = v;
	if (shlogfs_part_get(fs->store, topic, num, &p))
		return 0; /* deleted meanwhile (rmdir): not listed */
	e = &m->v[m->n];
	e->topic = topic;
	e->part = num;
	if (shlogfs_part_info(p, &e->in) == 0 &&
	    shlogfs_part_latency(p, &e->lat) == 0) {
		struct shlogfs_mcur_ctx x = { m, p, &e->in };
		size_t before = m->ncur;
		int rc = shlogfs_cursor_foreach(p, shlogfs_mset_cursor, &x);
		if (rc == -ENOMEM) {
			shlogfs_part_put(p);
			return rc;
		}
		if (rc)
			m->ncur = before; /* cursors unreadable: the partition without them */
		m->n++;
	}
	shlogfs_part_put(p);
	return 0;
}

/*
 * Take the numbers of every partition @p c may read into @p m: root sees
 * all; anyone else the partitions whose log they could open for reading,
 * and the topics that have one (totals are over those).
 */
static int shlogfs_mset_fill(struct shlogfs *fs, struct shlogfs_mset *m,
			     const struct shlogfs_cred *c)
{
	const char *topic;
	size_t i, all, seen = 0;
	int rc;

	rc = shlogfs_topic_foreach(fs->store, shlogfs_mset_topic, m);
	if (rc)
		return rc > 0 ? -ENOMEM : rc;
	all = m->ntopics;
	topic = m->names.p;
	for (i = 0; i < all; i++, topic += strlen(topic) + 1) {
		uint32_t nparts;
		size_t before = m->n;
		if (shlogfs_topic_nparts(fs->store, topic, &nparts))
			continue; /* deleted meanwhile */
		for (uint32_t p = 0; p < nparts; p++) {
			if (shlogfs_access_part(fs, c, topic, p, R_OK))
				continue;
			if ((rc = shlogfs_mset_part(fs, m, topic, p)))
				return rc;
		}
		seen += c->uid == 0 || m->n > before;
	}
	m->ntopics = seen;
	return 0;
}

/* Free what shlogfs_mset_fill took. */
static void shlogfs_mset_free(struct shlogfs_mset *m)
{
	shlogfs_buf_free(&m->names);
	free(m->v);
	free(m->cur);
}

/* ==== /.metrics ======================================================= */

/* A per-partition number: how to find it in a shlogfs_mpart. */
typedef double (*shlogfs_mget)(const struct shlogfs_mpart *e);

/* One metric family with one sample per partition. */
struct shlogfs_metric {
	const char *name;
	const char *type;               /* counter or gauge */
	const char *help;
	shlogfs_mget get;
};

#define SHLOGFS_GET(fn, expr)                                            \
	static double fn(const struct shlogfs_mpart *e) { return (double)(expr); }

SHLOGFS_GET(m_app_msgs, e->in.appended_msgs)
SHLOGFS_GET(m_app_bytes, e->in.appended_bytes)
SHLOGFS_GET(m_buf_msgs, e->in.buffered_msgs)
SHLOGFS_GET(m_buf_bytes, e->in.buffered_bytes)
SHLOGFS_GET(m_bp_waits, e->in.backpressure_waits)
SHLOGFS_GET(m_start_seq, e->in.start_seq)
SHLOGFS_GET(m_start_off, e->in.start_off)
SHLOGFS_GET(m_end_seq, e->in.end_seq)
SHLOGFS_GET(m_end_off, e->in.end_off)
SHLOGFS_GET(m_com_seq, e->in.committed_seq)
SHLOGFS_GET(m_com_off, e->in.committed_off)
SHLOGFS_GET(m_dur_seq, e->in.durable_seq)
SHLOGFS_GET(m_segments, e->in.nsegments)
SHLOGFS_GET(m_keys, e->in.nkeys)
SHLOGFS_GET(m_fsyncs, e->in.fsyncs)
SHLOGFS_GET(m_wr_errors, e->in.write_errors)
SHLOGFS_GET(m_rec_bytes, e->in.recovered_bytes_dropped)
SHLOGFS_GET(m_rec_msgs, e->in.recovered_msgs_dropped)
SHLOGFS_GET(m_rec_secs, (double)e->in.recovery_us / 1e6)
SHLOGFS_GET(m_last_flush, (double)e->in.last_flush_ns / 1e9)
SHLOGFS_GET(m_errno, -e->in.error)

/* The simple families, in output order. */
static const struct shlogfs_metric shlogfs_metrics[] = {
	{ "shlog_appended_messages_total", "counter",
	  "Messages appended since the mount.", m_app_msgs },
	{ "shlog_appended_bytes_total", "counter",
	  "Bytes appended since the mount, newlines included.", m_app_bytes },
	{ "shlog_buffered_messages", "gauge",
	  "Messages in RAM not yet written to the log files.", m_buf_msgs },
	{ "shlog_buffered_bytes", "gauge",
	  "Bytes in RAM not yet written to the log files.", m_buf_bytes },
	{ "shlog_backpressure_waits_total", "counter",
	  "Appends that waited (or got EAGAIN) because the buffer was full.",
	  m_bp_waits },
	{ "shlog_start_seq", "gauge",
	  "Sequence number of the first retained message.", m_start_seq },
	{ "shlog_start_offset_bytes", "gauge",
	  "Log offset of the first retained message.", m_start_off },
	{ "shlog_end_seq", "gauge",
	  "Sequence number the next message gets (buffered ones counted).",
	  m_end_seq },
	{ "shlog_end_offset_bytes", "gauge",
	  "Size of the log, buffered bytes included.", m_end_off },
	{ "shlog_committed_seq", "gauge",
	  "Messages written to the log files (the anchor's sequence).",
	  m_com_seq },
	{ "shlog_committed_offset_bytes", "gauge",
	  "Bytes written to the log files (the anchor's offset).", m_com_off },
	{ "shlog_durable_seq", "gauge",
	  "Messages known to be on disk (fdatasync).", m_dur_seq },
	{ "shlog_segments", "gauge", "Segment files of the partition.",
	  m_segments },
	{ "shlog_keys", "gauge", "Live keys (bookmarks).", m_keys },
	{ "shlog_fsyncs_total", "counter",
	  "Times the partition's data was made durable.", m_fsyncs },
	{ "shlog_write_errors_total", "counter",
	  "Flushes that failed (retried) since the mount.", m_wr_errors },
	{ "shlog_recovery_dropped_bytes_total", "counter",
	  "Bytes cut by recovery at mount (torn tail or repair).", m_rec_bytes },
	{ "shlog_recovery_dropped_messages_total", "counter",
	  "Messages cut by recovery at mount (torn tail or repair).",
	  m_rec_msgs },
	{ "shlog_recovery_duration_seconds", "gauge",
	  "Time spent opening the partition at mount.", m_rec_secs },
	{ "shlog_last_flush_timestamp_seconds", "gauge",
	  "Block time of the last flush, Unix seconds (0: none yet).",
	  m_last_flush },
	{ "shlog_error", "gauge",
	  "Sticky error of the partition as a positive errno (0: healthy).",
	  m_errno },
};

/* Labels of one partition's samples. */
static int shlogfs_labels(struct shlogfs_buf *b, const struct shlogfs_mpart *e)
{
	/* topic names are [A-Za-z0-9._-]: nothing to escape */
	return shlogfs_buf_printf(b, "{topic=\"%s\",partition=\"%" PRIu32 "\"",
				  e->topic, e->part);
}

/* HELP and TYPE lines of a family. */
static int shlogfs_family(struct shlogfs_buf *b, const char *name,
			  const char *type, const char *help)
{
	return shlogfs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name,
				  help, name, type);
}

/* A simple family: one sample per partition. */
static int shlogfs_metrics_simple(struct shlogfs_buf *b,
				  const struct shlogfs_mset *m,
				  const struct shlogfs_metric *f)
{
	int rc = shlogfs_family(b, f->name, f->type, f->help);

	for (size_t i = 0; rc == 0 && i < m->n; i++) {
		if ((rc = shlogfs_buf_printf(b, "%s", f->name)) ||
		    (rc = shlogfs_labels(b, &m->v[i])))
			break;
		rc = shlogfs_buf_printf(b, "} %.17g\n", f->get(&m->v[i]));
	}
	return rc;
}

/* shlog_flushes_total{trigger=...}: flushes by what started them. */
static int shlogfs_metrics_flushes(struct shlogfs_buf *b,
				   const struct shlogfs_mset *m)
{
	static const char *const trig[] = { "volume", "latency", "forced" };
	int rc = shlogfs_family(b, "shlog_flushes_total", "counter",
		"Blocks written, by trigger: volume (stride messages), latency "
		"(flush_ms), forced (fsync, close, sync=always).");

	for (size_t i = 0; rc == 0 && i < m->n; i++) {
		const struct shlog_part_info *in = &m->v[i].in;
		uint64_t v[] = { in->flushes_volume, in->flushes_latency,
				 in->flushes_forced };
		for (int t = 0; rc == 0 && t < 3; t++) {
			if ((rc = shlogfs_buf_printf(b, "shlog_flushes_total")) ||
			    (rc = shlogfs_labels(b, &m->v[i])))
				break;
			rc = shlogfs_buf_printf(b, ",trigger=\"%s\"} %" PRIu64
						"\n", trig[t], v[t]);
		}
	}
	return rc;
}

/* One partition's samples of a histogram family. */
static int shlogfs_histogram_part(struct shlogfs_buf *b, const char *name,
				  const struct shlogfs_mpart *e,
				  const struct shlog_latency_hist *h)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i <= SHLOG_LATENCY_BUCKETS; i++) {
		if ((rc = shlogfs_buf_printf(b, "%s_bucket", name)) ||
		    (rc = shlogfs_labels(b, e)))
			break;
		if (i < SHLOG_LATENCY_BUCKETS)
			rc = shlogfs_buf_printf(b, ",le=\"%g\"} %" PRIu64 "\n",
				(double)e->lat.bound_ns[i] / 1e9, h->le[i]);
		else
			rc = shlogfs_buf_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n",
						h->count);
	}
	if (rc == 0 && !(rc = shlogfs_buf_printf(b, "%s_sum", name)) &&
	    !(rc = shlogfs_labels(b, e)))
		rc = shlogfs_buf_printf(b, "} %.9f\n", (double)h->sum_ns / 1e9);
	if (rc == 0 && !(rc = shlogfs_buf_printf(b, "%s_count", name)) &&
	    !(rc = shlogfs_labels(b, e)))
		rc = shlogfs_buf_printf(b, "} %" PRIu64 "\n", h->count);
	return rc;
}

/* The two latency histograms (flush, fsync). */
static int shlogfs_metrics_latency(struct shlogfs_buf *b,
				   const struct shlogfs_mset *m)
{
	int rc = shlogfs_family(b, "shlog_flush_duration_seconds", "histogram",
		"Time to write one block, its fdatasync included when one "
		"was asked for.");

	for (size_t i = 0; rc == 0 && i < m->n; i++)
		rc = shlogfs_histogram_part(b, "shlog_flush_duration_seconds",
					    &m->v[i], &m->v[i].lat.flush);
	if (rc == 0)
		rc = shlogfs_family(b, "shlog_fsync_duration_seconds",
			"histogram", "Time of one fdatasync of the tail "
			"segment's log and index files.");
	for (size_t i = 0; rc == 0 && i < m->n; i++)
		rc = shlogfs_histogram_part(b, "shlog_fsync_duration_seconds",
					    &m->v[i], &m->v[i].lat.fsync);
	return rc;
}

/* The cursor families: position and lag of every cursor, in messages and bytes. */
static int shlogfs_metrics_cursors(struct shlogfs_buf *b,
				   const struct shlogfs_mset *m)
{
	static const struct { const char *name, *help; } f[] = {
		{ "shlog_cursor_position",
		  "Committed position of a durable cursor: the next message it reads." },
		{ "shlog_cursor_lag_messages",
		  "Messages from a cursor's position to the end of the log." },
		{ "shlog_cursor_lag_bytes",
		  "Log bytes from a cursor's position to the end of the log." },
	};
	int rc = 0;

	for (size_t k = 0; rc == 0 && k < 3; k++) {
		rc = shlogfs_family(b, f[k].name, "gauge", f[k].help);
		for (size_t i = 0; rc == 0 && i < m->ncur; i++) {
			const struct shlogfs_mcur *c = &m->cur[i];
			uint64_t v = k == 0 ? c->seq : k == 1 ? c->lag_msgs : c->lag_bytes;
			if ((rc = shlogfs_buf_printf(b, "%s", f[k].name)) ||
			    (rc = shlogfs_labels(b, &m->v[c->part])))
				break;
			/* cursor names are [A-Za-z0-9._-]: nothing to escape */
			rc = shlogfs_buf_printf(b, ",cursor=\"%s\"} %" PRIu64 "\n",
						c->name, v);
		}
	}
	return rc;
}

/* Store-wide families: version, topics, partitions. */
static int shlogfs_metrics_store(struct shlogfs_buf *b,
				 const struct shlogfs_mset *m)
{
	int rc = shlogfs_family(b, "shlog_build_info", "gauge",
				"Version of shlogfs; always 1.");

	if (rc == 0)
		rc = shlogfs_buf_printf(b, "shlog_build_info{version=\"%s\"} 1\n",
					SHLOG_VERSION);
	if (rc == 0)
		rc = shlogfs_family(b, "shlog_topics", "gauge", "Topics in the store.");
	if (rc == 0)
		rc = shlogfs_buf_printf(b, "shlog_topics %zu\n", m->ntopics);
	if (rc == 0)
		rc = shlogfs_family(b, "shlog_partitions", "gauge",
				    "Partitions in the store.");
	if (rc == 0)
		rc = shlogfs_buf_printf(b, "shlog_partitions %zu\n", m->n);
	return rc;
}

/* The daemon's memory budget (budget.c) and its followers (follow.c):
 * root's readers only. */
static int shlogfs_metrics_budget(struct shlogfs *fs, struct shlogfs_buf *b)
{
	uint64_t users, root, refused, followers, waiting, fw_refused;
	uint64_t r_asked, r_replies, r_bytes;
	int rc = 0;

	shlogfs_budget_figures(fs, &users, &root, &refused);
	shlogfs_fw_figures(&followers, &waiting, &fw_refused);
	shlogfs_wb_retrieve_counts(&r_asked, &r_replies, &r_bytes);
	const struct { const char *name, *type, *help; uint64_t v; } f[] = {
		{ "shlogfs_held_bytes", "gauge",
		  "Bytes open handles hold for unprivileged users (unfinished "
		  "lines, key values, snapshots): at most max_held.", users },
		{ "shlogfs_held_refused_total", "counter",
		  "Writes and opens refused with ENOBUFS by max_held or "
		  "max_held_per_user.", refused },
		{ "shlogfs_root_texts_total", "counter",
		  "Texts of /.metrics and /.status made (at most one a "
		  "second per unprivileged reader's credentials).",
		  __atomic_load_n(&fs->snaps_made, __ATOMIC_RELAXED) },
		{ "shlogfs_index_texts_total", "counter",
		  "Texts of partitions' index files made (at open; at stat "
		  "only after the partition changed).", shlogfs_text_made_total() },
		{ "shlogfs_page_reads_total", "counter",
		  "Reads the kernel sent for its page cache (private mmap, "
		  "sendfile, splice) that were served.",
		  __atomic_load_n(&fs->pc_served, __ATOMIC_RELAXED) },
		{ "shlogfs_page_reads_refused_total", "counter",
		  "Such reads refused with EIO (a log that can grow, a view, "
		  "<topic>/log).", __atomic_load_n(&fs->pc_refused, __ATOMIC_RELAXED) },
		{ "shlogfs_page_drops_total", "counter",
		  "Times the kernel was told to drop its cached pages of a log "
		  "before a writer of <topic>/log or keys/ was let in.",
		  __atomic_load_n(&fs->pc_drops, __ATOMIC_RELAXED) },
		{ "shlogfs_followers", "gauge",
		  "Followers open: follow files, cursor streams and partition "
		  "logs that were polled.", followers },
		{ "shlogfs_follow_waiting_reads", "gauge",
		  "Reads of follow files and cursor streams waiting now for a "
		  "message.", waiting },
		{ "shlogfs_follow_refused_total", "counter",
		  "Waiting reads refused with ENOBUFS by max_follow or "
		  "max_follow_per_user.", fw_refused },
		{ "shlogfs_retrieves_total", "counter",
		  "Times -o writeback asked the kernel for a log's cached bytes "
		  "(every retrieve_ms per log with writers).", r_asked },
		{ "shlogfs_retrieve_replies_total", "counter",
		  "The kernel's answers to those asks.", r_replies },
		{ "shlogfs_retrieve_bytes_total", "counter",
		  "Bytes those answers held (the part past a log's end is "
		  "appended).", r_bytes },
	};
	for (size_t i = 0; rc == 0 && i < sizeof(f) / sizeof(f[0]); i++) {
		rc = shlogfs_family(b, f[i].name, f[i].type, f[i].help);
		if (rc == 0)
			rc = shlogfs_buf_printf(b, "%s %" PRIu64 "\n", f[i].name, f[i].v);
	}
	return rc;
}

/* The backend's own state (Kafka: brokers, deliveries), as metrics or as text. */
static int shlogfs_backend_state(struct shlogfs *fs, int metrics, struct shlogfs_buf *b)
{
	struct shlogfs_buf_lines st = { b, 0 };

	if (shlogfs_be->state_lines)
		shlogfs_be->state_lines(fs->store, metrics, shlogfs_buf_line, &st);
	return st.rc;
}

/* The text of /.metrics (the budget's figures for root only). */
static int shlogfs_metrics_text(struct shlogfs *fs,
				const struct shlogfs_mset *m,
				const struct shlogfs_cred *c,
				struct shlogfs_buf *b)
{
	int rc = shlogfs_metrics_store(b, m);

	if (rc == 0 && c->uid == 0)
		rc = shlogfs_metrics_budget(fs, b);

	for (size_t i = 0; rc == 0 && i < sizeof shlogfs_metrics /
					  sizeof shlogfs_metrics[0]; i++)
		rc = shlogfs_metrics_simple(b, m, &shlogfs_metrics[i]);
	if (rc == 0)
		rc = shlogfs_metrics_flushes(b, m);
	if (rc == 0)
		rc = shlogfs_metrics_latency(b, m);
	if (rc == 0)
		rc = shlogfs_metrics_cursors(b, m);
	if (rc == 0)
		rc = shlogfs_backend_state(fs, 1, b);
	return rc;
}

/* ==== /.status ======================================================== */

/* One partition's line of /.status. */
static int shlogfs_status_part(struct shlogfs_buf *b,
			       const struct shlogfs_mpart *e)
{
	const struct shlog_part_info *in = &e->in;
	char name[SHLOG_TOPIC_MAX + 16], size[32], when[SHLOG_TIME_TEXT_MAX] = "-";
	int rc;

	snprintf(name, sizeof name, "%s/%" PRIu32, e->topic, e->part);
	shlog_size_format(in->end_off - in->start_off, SHLOG_SIZE_SHORT, size,
			  sizeof size);
	if (in->last_flush_ns > 0)
		shlog_time_format(in->last_flush_ns, when, sizeof when);
	rc = shlogfs_buf_printf(b,
		"%-24s %12" PRIu64 " %8s %9" PRIu32 " %6" PRIu32 " %8" PRIu64
		" %-30s %s\n", name, in->end_seq - in->start_seq, size,
		in->buffered_msgs, in->nsegments, in->nkeys, when,
		in->error ? shlog_strerror(in->error) : "ok");
	if (rc == 0 && in->recovered_msgs_dropped + in->recovered_bytes_dropped)
		rc = shlogfs_buf_printf(b, "  recovery at mount dropped %"
			PRIu64 " messages, %" PRIu64 " bytes\n",
			in->recovered_msgs_dropped, in->recovered_bytes_dropped);
	return rc;
}

/* shlog_store_aside_foreach callback: one /.status line per set-aside topic. */
static int shlogfs_status_aside(const char *topic, int64_t part, int err,
				const char *why, void *arg)
{
	struct shlogfs_buf *b = arg;

	(void)err;
	if (part >= 0)
		return shlogfs_buf_printf(b, "set aside: %s (partition %" PRId64
					  "): %s\n", topic, part, why);
	return shlogfs_buf_printf(b, "set aside: %s: %s\n", topic, why);
}

/* shlog_store_aside_foreach callback: count the set-aside topics. */
static int shlogfs_status_aside_count(const char *topic, int64_t part, int err,
				      const char *why, void *arg)
{
	(void)topic;
	(void)part;
	(void)err;
	(void)why;
	++*(uint64_t *)arg;
	return 0;
}

/* The text of /.status: options, totals, one line per partition. */
static int shlogfs_status_text(struct shlogfs *fs,
			       const struct shlogfs_mset *m,
			       const struct shlogfs_cred *c,
			       struct shlogfs_buf *b)
{
	static const char *const sync[] = { "none", "interval", "always" };
	const struct shlog_options *o = shlogfs_store_options(fs->store);
	uint64_t msgs = 0, bytes = 0, app = 0, buffered = 0, bad = 0, aside = 0;
	char sz[32];
	int rc;

	shlogfs_aside_foreach(fs->store, shlogfs_status_aside_count, &aside);

	for (size_t i = 0; i < m->n; i++) {
		const struct shlog_part_info *in = &m->v[i].in;
		msgs += in->end_seq - in->start_seq;
		bytes += in->end_off - in->start_off;
		app += in->appended_msgs;
		buffered += in->buffered_msgs;
		bad += in->error != 0;
	}
	shlog_size_format(bytes, SHLOG_SIZE_SHORT, sz, sizeof sz);
	rc = shlogfs_buf_printf(b,
		"shlogfs %s, %s %s\n"
		"options: partitions=%" PRIu32 " stride=%" PRIu32
		" flush_ms=%" PRIu32 " sync=%s retention=%s max_segments=%"
		PRIu32 "\n"
		"%zu topics, %zu partitions, %" PRIu64 " messages (%s) retained, %"
		PRIu64 " appended since mount, %" PRIu64 " buffered\n"
		"health: %s (%" PRIu64 " partitions with an error, %" PRIu64
		" topics set aside)\n\n",
		SHLOG_VERSION, shlogfs_be == &shlogfs_backend_local ? "data dir" :
		"cache dir", c->uid == 0 ? fs->datadir : "(shown to root)",
		fs->partitions, o->stride,
		o->flush_interval_ms, o->sync <= SHLOG_SYNC_ALWAYS ?
		sync[o->sync] : "?", o->retention == SHLOG_RETAIN_WRAP ?
		"wrap" : "halt", o->max_segments, m->ntopics, m->n, msgs, sz,
		app, buffered, bad || aside ? "ERROR" : "ok", bad, aside);
	if (rc == 0 && shlogfs_be->state_lines) {
		rc = shlogfs_buf_printf(b, "backend: %s\n", shlogfs_be->name);
		if (rc == 0)
			rc = shlogfs_backend_state(fs, 0, b);
		if (rc == 0)
			rc = shlogfs_buf_printf(b, "\n");
	}
	if (rc == 0 && aside)    /* refused with EUCLEAN until fixed and remounted */
		rc = shlogfs_aside_foreach(fs->store, shlogfs_status_aside, b);
	if (rc == 0 && aside)
		rc = shlogfs_buf_printf(b, "\n");
	if (rc == 0 && m->n)
		rc = shlogfs_buf_printf(b, "%-24s %12s %8s %9s %6s %8s %-30s %s\n",
			"PARTITION", "MESSAGES", "SIZE", "BUFFERED", "SEGS",
			"KEYS", "LAST FLUSH", "STATE");
	for (size_t i = 0; rc == 0 && i < m->n; i++)
		rc = shlogfs_status_part(b, &m->v[i]);
	return rc;
}

/* ==== the texts ======================================================= */

/* The text @p fmt makes of the partitions @p c may read, into @p out. */
static int shlogfs_root_text(struct shlogfs *fs, const struct shlogfs_cred *c,
			     struct shlogfs_buf *out,
			     int (*fmt)(struct shlogfs *fs,
					const struct shlogfs_mset *m,
					const struct shlogfs_cred *c,
					struct shlogfs_buf *b))
{
	struct shlogfs_mset m = { 0 };
	int rc = shlogfs_mset_fill(fs, &m, c);

	out->len = 0;
	if (rc == 0)
		rc = fmt(fs, &m, c, out);
	shlogfs_mset_free(&m);
	return rc;
}

/* The text of /.metrics as @p c may see it. */
int shlogfs_metrics_make(struct shlogfs *fs, const struct shlogfs_cred *c,
			 struct shlogfs_buf *out)
{
	return shlogfs_root_text(fs, c, out, shlogfs_metrics_text);
}

/* The text of /.status as @p c may see it. */
int shlogfs_status_make(struct shlogfs *fs, const struct shlogfs_cred *c,
			struct shlogfs_buf *out)
{
	return shlogfs_root_text(fs, c, out, shlogfs_status_text);
}
