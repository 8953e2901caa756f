/*
 * metrics.c — the two root-level status files of shlogfs:
 *
 *   /.metrics   every partition's counters in the Prometheus text
 *               exposition format (version 0.0.4), for node_exporter's
 *               textfile collector or any scraper that can read a file
 *   /.status    a short summary for people
 *
 * Both are snapshots taken at open and served with direct_io.  Each
 * reader sees only the partitions whose log it may read (root: all),
 * and only root sees the data dir's path.  A snapshot is shared by every
 * open with the same credentials within SHLOGFS_SNAP_SHARE_NS of its
 * making, and charged once to its opener's memory budget (budget.c):
 * many open handles cost one text, not one each.  A stat reports the
 * size of the text an open would read at that moment: the caller's
 * young snapshot, made by the stat if there is none, and kept for the
 * open that usually follows (tar stats, then opens and reads the size
 * it found).  So a stat flood makes one text a second per credentials,
 * not one per stat.  Unprivileged readers share a text for a second
 * (so they may see numbers up to a second old); root's opens always
 * make a new one.  Their names
 * start with a dot, which no topic name can (shlog_topic_name_check), so
 * they never collide with a topic.  They are found by name only, like
 * at/<N>: a listing of the root shows topics and nothing else, so
 * `ls -A`, `tar -C MNT .` and `rsync MNT/` see only topics.
 *
 * The daemon's operation table (dir.c) sends getattr, setattr and open
 * here first; everything that is not one of these two files goes on to
 * attr.c and file.c unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shlogfs.h"

/* ==== collecting ====================================================== */

/* One partition's numbers, taken once per snapshot. */
struct shlogfs_mpart {
	const char *topic;              /* points into shlogfs_mset.names */
	uint32_t part;
	struct shlog_part_info in;
	struct shlog_part_latency lat;
};

/* Every partition of the store, in topic and partition order. */
struct shlogfs_mset {
	struct shlogfs_buf names;       /* topic names, each ending in '\0' */
	size_t ntopics;
	struct shlogfs_mpart *v;
	size_t n, cap;
};

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
	shlog_part *p;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct shlogfs_mpart *v = realloc(m->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	if (shlog_part_get(fs->store, topic, num, &p))
		return 0; /* deleted meanwhile (rmdir): not listed */
	e = &m->v[m->n];
	e->topic = topic;
	e->part = num;
	if (shlog_part_info(p, &e->in) == 0 &&
	    shlog_part_latency(p, &e->lat) == 0)
		m->n++;
	shlog_part_put(p);
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

	rc = shlog_topic_foreach(fs->store, shlogfs_mset_topic, m);
	if (rc)
		return rc > 0 ? -ENOMEM : rc;
	all = m->ntopics;
	topic = m->names.p;
	for (i = 0; i < all; i++, topic += strlen(topic) + 1) {
		uint32_t nparts;
		size_t before = m->n;
		if (shlog_topic_nparts(fs->store, topic, &nparts))
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

/* The daemon's memory budget (budget.c): root's readers only. */
static int shlogfs_metrics_budget(struct shlogfs *fs, struct shlogfs_buf *b)
{
	uint64_t users, root, refused;
	int rc = 0;

	shlogfs_budget_figures(fs, &users, &root, &refused);
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
	};
	for (size_t i = 0; rc == 0 && i < sizeof(f) / sizeof(f[0]); i++) {
		rc = shlogfs_family(b, f[i].name, f[i].type, f[i].help);
		if (rc == 0)
			rc = shlogfs_buf_printf(b, "%s %" PRIu64 "\n", f[i].name, f[i].v);
	}
	return rc;
}

/* The text of /.metrics (@p root: the reader is root). */
static int shlogfs_metrics_text(struct shlogfs *fs,
				const struct shlogfs_mset *m, int root,
				struct shlogfs_buf *b)
{
	int rc = shlogfs_metrics_store(b, m);

	if (rc == 0 && root)
		rc = shlogfs_metrics_budget(fs, b);

	for (size_t i = 0; rc == 0 && i < sizeof shlogfs_metrics /
					  sizeof shlogfs_metrics[0]; i++)
		rc = shlogfs_metrics_simple(b, m, &shlogfs_metrics[i]);
	if (rc == 0)
		rc = shlogfs_metrics_flushes(b, m);
	if (rc == 0)
		rc = shlogfs_metrics_latency(b, m);
	return rc;
}

/* ==== /.status ======================================================== */

/* Human size: bytes with a k/M/G/T suffix (powers of 1024). */
static void shlogfs_human(uint64_t v, char *out, size_t size)
{
	static const char suf[] = "kMGT";
	double d = (double)v;
	int i = -1;

	if (v < 1024) {
		snprintf(out, size, "%" PRIu64, v);
		return;
	}
	while (d >= 1024 && i < 3) {
		d /= 1024;
		i++;
	}
	snprintf(out, size, "%.1f%c", d, suf[i]);
}

/* One partition's line of /.status. */
static int shlogfs_status_part(struct shlogfs_buf *b,
			       const struct shlogfs_mpart *e)
{
	const struct shlog_part_info *in = &e->in;
	char name[SHLOG_TOPIC_MAX + 16], size[32], when[64] = "-";
	int rc;

	snprintf(name, sizeof name, "%s/%" PRIu32, e->topic, e->part);
	shlogfs_human(in->end_off - in->start_off, size, sizeof size);
	if (in->last_flush_ns > 0)
		shlogfs_time_format(in->last_flush_ns, when, sizeof when);
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
	const struct shlog_options *o = shlog_store_options(fs->store);
	uint64_t msgs = 0, bytes = 0, app = 0, buffered = 0, bad = 0, aside = 0;
	char sz[32];
	int rc;

	shlog_store_aside_foreach(fs->store, shlogfs_status_aside_count, &aside);

	for (size_t i = 0; i < m->n; i++) {
		const struct shlog_part_info *in = &m->v[i].in;
		msgs += in->end_seq - in->start_seq;
		bytes += in->end_off - in->start_off;
		app += in->appended_msgs;
		buffered += in->buffered_msgs;
		bad += in->error != 0;
	}
	shlogfs_human(bytes, sz, sizeof sz);
	rc = shlogfs_buf_printf(b,
		"shlogfs %s, data dir %s\n"
		"options: partitions=%" PRIu32 " stride=%" PRIu32
		" flush_ms=%" PRIu32 " sync=%s retention=%s max_segments=%"
		PRIu32 "\n"
		"%zu topics, %zu partitions, %" PRIu64 " messages (%s) retained, %"
		PRIu64 " appended since mount, %" PRIu64 " buffered\n"
		"health: %s (%" PRIu64 " partitions with an error, %" PRIu64
		" topics set aside)\n\n",
		SHLOG_VERSION, c->uid == 0 ? fs->datadir : "(shown to root)",
		fs->partitions, o->stride,
		o->flush_interval_ms, o->sync <= SHLOG_SYNC_ALWAYS ?
		sync[o->sync] : "?", o->retention == SHLOG_RETAIN_WRAP ?
		"wrap" : "halt", o->max_segments, m->ntopics, m->n, msgs, sz,
		app, buffered, bad || aside ? "ERROR" : "ok", bad, aside);
	if (rc == 0 && aside)    /* refused with EUCLEAN until fixed and remounted */
		rc = shlog_store_aside_foreach(fs->store, shlogfs_status_aside, b);
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

/* ==== the files ======================================================= */

/* Generate the text of /.metrics or /.status into @p out (emptied). */
int shlogfs_root_file_make(struct shlogfs *fs, enum shlogfs_kind kind,
			   const struct shlogfs_cred *c,
			   struct shlogfs_buf *out)
{
	struct shlogfs_mset m = { 0 };
	int rc = shlogfs_mset_fill(fs, &m, c);

	out->len = 0;
	if (rc == 0)
		rc = kind == SHLOGFS_METRICS ? shlogfs_metrics_text(fs, &m,
								      c->uid == 0, out)
					     : shlogfs_status_text(fs, &m, c, out);
	shlogfs_mset_free(&m);
	return rc;
}

/* ==== shared snapshots ================================================ */

/* Opens within this long of a snapshot's making share it. */
#define SHLOGFS_SNAP_SHARE_NS 1000000000LL
/* A text refused by the budget is not tried again for this long. */
#define SHLOGFS_SNAP_REFUSED_NS 5000000000LL

/* How long a snapshot made at @p born may be shared. */
static int shlogfs_snap_young(const struct shlogfs_snap *sn, int64_t now)
{
	return now - sn->born_ns < (sn->refused ? SHLOGFS_SNAP_REFUSED_NS
						: SHLOGFS_SNAP_SHARE_NS);
}

/* CLOCK_MONOTONIC in ns. */
static int64_t shlogfs_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 64-bit FNV-1a of everything that decides what @p c may see. */
static uint64_t shlogfs_cred_hash(const struct shlogfs_cred *c)
{
	uint64_t h = 14695981039346656037ULL;
	uint32_t v[3] = { c->uid, c->gid, (uint32_t)c->ngroups };
	const unsigned char *p = (const unsigned char *)v;

	for (size_t i = 0; i < sizeof v; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	p = (const unsigned char *)c->groups;
	for (size_t i = 0; i < (size_t)c->ngroups * sizeof c->groups[0]; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* Bytes a snapshot costs its opener's budget. */
static uint64_t shlogfs_snap_bytes(const struct shlogfs_snap *sn)
{
	return sizeof *sn + sn->text.cap;
}

/*
 * The newest young snapshot of @p kind for exactly these credentials
 * (fs->lock); @p any: root's private ones too (a stat while one is open
 * reports its size).
 */
static struct shlogfs_snap *shlogfs_snap_find(struct shlogfs *fs,
					      enum shlogfs_kind kind,
					      uid_t uid, uint64_t hash,
					      int64_t now, int any)
{
	struct shlogfs_snap *sn;

	LIST_FOREACH(sn, &fs->snaps, link)
		if (sn->kind == kind && sn->uid == uid && sn->cred_hash == hash &&
		    (any || !sn->private) && shlogfs_snap_young(sn, now))
			return sn;
	return NULL;
}

/* Free a snapshot no handle uses, and give back its charge. */
static void shlogfs_snap_free(struct shlogfs *fs, struct shlogfs_snap *sn)
{
	if (!sn->refused)
		shlogfs_budget_give(fs, sn->uid, shlogfs_snap_bytes(sn));
	shlogfs_buf_free(&sn->text);
	free(sn);
}

/* Unlink the snapshots no handle uses that are too old to share (fs->lock). */
static void shlogfs_snap_sweep(struct shlogfs *fs, int64_t now,
			       struct shlogfs_snap **dead)
{
	struct shlogfs_snap *sn, *next;

	LIST_FOREACH_SAFE(sn, &fs->snaps, link, next) {
		if (sn->refs || (!sn->private && shlogfs_snap_young(sn, now)))
			continue;
		LIST_REMOVE(sn, link);
		LIST_NEXT(sn, link) = *dead; /* a private chain from here on */
		*dead = sn;
	}
}

/* Free a chain made by shlogfs_snap_sweep() (outside fs->lock). */
static void shlogfs_snap_free_chain(struct shlogfs *fs, struct shlogfs_snap *sn)
{
	while (sn) {
		struct shlogfs_snap *next = LIST_NEXT(sn, link);
		shlogfs_snap_free(fs, sn);
		sn = next;
	}
}

/* Make a snapshot for @p c, charged to its budget; -ENOBUFS past it. */
static int shlogfs_snap_make(struct shlogfs *fs, enum shlogfs_kind kind,
			     const struct shlogfs_cred *c, uint64_t hash,
			     int64_t now, struct shlogfs_snap **out)
{
	struct shlogfs_snap *sn = calloc(1, sizeof *sn);
	int rc;

	if (!sn)
		return -ENOMEM;
	sn->kind = kind;
	sn->uid = c->uid;
	sn->cred_hash = hash;
	sn->born_ns = now;
	__atomic_add_fetch(&fs->snaps_made, 1, __ATOMIC_RELAXED);
	rc = shlogfs_root_file_make(fs, kind, c, &sn->text);
	if (rc == 0)
		rc = shlogfs_budget_take(fs, c->uid, shlogfs_snap_bytes(sn),
			kind == SHLOGFS_METRICS ? "snapshot of /.metrics"
						: "snapshot of /.status");
	if (rc == -ENOBUFS) {
		/* remembered: a flood of stats or opens does not make it again */
		shlogfs_buf_free(&sn->text);
		sn->refused = 1;
		rc = 0;
	}
	if (rc) {
		shlogfs_buf_free(&sn->text);
		free(sn);
		return rc;
	}
	*out = sn;
	return 0;
}

/*
 * The snapshot @p c gets now (open, stat): a young one made for the same
 * credentials, or a new one; -ENOBUFS when the text is past the caller's
 * budget (remembered for SHLOGFS_SNAP_REFUSED_NS, so a flood does not
 * make it again).  A reference is taken (give it back with
 * shlogfs_snap_put()); @p ref_kept: for an open handle, else for a stat,
 * which may also use a private one.  @p fresh: a new text only for this
 * reference, freed when it is put (root's opens: a loop of them must not
 * pile texts up for a second).
 * However many opens and stats an unprivileged user makes, at most one
 * text per credentials and second is made for them (they may read
 * numbers up to a second old); root's opens always get a new text.
 */
static int shlogfs_snap_get(struct shlogfs *fs, enum shlogfs_kind kind,
			    const struct shlogfs_cred *c, int ref_kept,
			    int fresh, struct shlogfs_snap **out)
{
	uint64_t hash = shlogfs_cred_hash(c);
	int64_t now = shlogfs_mono_ns();
	struct shlogfs_snap *sn, *dead = NULL, *mine;
	int rc, refused;

	pthread_mutex_lock(&fs->lock);
	shlogfs_snap_sweep(fs, now, &dead);
	sn = fresh ? NULL : shlogfs_snap_find(fs, kind, c->uid, hash, now, !ref_kept);
	refused = sn && sn->refused; /* a marker may be swept once unlocked */
	if (sn)
		sn->refs += !refused;
	pthread_mutex_unlock(&fs->lock);
	shlogfs_snap_free_chain(fs, dead);
	if (refused)
		return -ENOBUFS;
	if (sn) {
		*out = sn;
		return 0;
	}
	if ((rc = shlogfs_snap_make(fs, kind, c, hash, now, &mine)))
		return rc;
	pthread_mutex_lock(&fs->lock);
	/* another thread may have made one meanwhile: share the first */
	sn = fresh ? NULL : shlogfs_snap_find(fs, kind, c->uid, hash, now, 0);
	if (!sn) {
		sn = mine;
		mine = NULL;
		sn->private = fresh;
		LIST_INSERT_HEAD(&fs->snaps, sn, link);
	}
	refused = sn->refused;
	sn->refs += !refused;
	pthread_mutex_unlock(&fs->lock);
	if (mine)
		shlogfs_snap_free(fs, mine);
	if (refused)
		return -ENOBUFS;
	*out = sn;
	return 0;
}

/* A handle is done with @p sn; it stays for sharing while young. */
void shlogfs_snap_put(struct shlogfs *fs, struct shlogfs_snap *sn)
{
	struct shlogfs_snap *dead = NULL;

	pthread_mutex_lock(&fs->lock);
	sn->refs--;
	shlogfs_snap_sweep(fs, shlogfs_mono_ns(), &dead);
	pthread_mutex_unlock(&fs->lock);
	shlogfs_snap_free_chain(fs, dead);
}

/* Free every snapshot (at exit, after the handles). */
void shlogfs_snaps_free(struct shlogfs *fs)
{
	struct shlogfs_snap *dead = NULL;

	pthread_mutex_lock(&fs->lock);
	shlogfs_snap_sweep(fs, INT64_MAX, &dead);
	pthread_mutex_unlock(&fs->lock);
	shlogfs_snap_free_chain(fs, dead);
}

/* Size of the text an open by the caller of @p req would read now. */
static uint64_t shlogfs_snap_size(struct shlogfs *fs, enum shlogfs_kind kind,
				  fuse_req_t req)
{
	struct shlogfs_cred c;
	struct shlogfs_snap *sn;
	uint64_t size;

	shlogfs_cred_get(req, &c);
	if (shlogfs_snap_get(fs, kind, &c, 0, 0, &sn))
		return 0; /* no text for this caller now (ENOBUFS): empty */
	size = sn->text.len;
	shlogfs_snap_put(fs, sn);
	return size;
}

/* ==== stat, open ====================================================== */

/* stat of a root file: the data dir's owner and times, mode 0444 of it. */
static int shlogfs_root_file_stat(struct shlogfs *fs, struct shlogfs_node *n,
				  fuse_req_t req, struct stat *st)
{
	uint64_t size;

	int rc = shlog_dir_stat(fs->store, NULL, -1, st);

	if (rc)
		return rc;
	st->st_mode = S_IFREG | (st->st_mode & 0444);
	st->st_nlink = 1;
	st->st_ino = shlogfs_node_ino(fs, n);
	st->st_dev = 0;
	st->st_blksize = 4096;
	size = shlogfs_snap_size(fs, n->kind, req);
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	return 0;
}

/* Attributes of any node: the root files here, the rest in attr.c. */
int shlogfs_stat_any(struct shlogfs *fs, struct shlogfs_node *n,
		     fuse_req_t req, struct stat *st)
{
	if (shlogfs_kind_is_root_file(n->kind)) {
		memset(st, 0, sizeof *st);
		return shlogfs_root_file_stat(fs, n, req, st);
	}
	return shlogfs_node_stat_req(fs, n, req, st);
}

/* getattr: root files here, the rest in attr.c. */
void shlogfs_op_getattr_any(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct stat st;
	int rc;

	if (!shlogfs_kind_is_root_file(n->kind)) {
		shlogfs_op_getattr(req, ino, fi);
		return;
	}
	if ((rc = shlogfs_stat_any(fs, n, req, &st)))
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0.0);
}

/* setattr: root files are read-only (times alone are accepted, for tar). */
void shlogfs_op_setattr_any(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			    int to_set, struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct stat st;
	int rc;

	if (!shlogfs_kind_is_root_file(n->kind)) {
		shlogfs_op_setattr(req, ino, attr, to_set, fi);
		return;
	}
	if (to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MODE |
		      FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		rc = -EPERM;
	else
		rc = shlogfs_stat_any(fs, n, req, &st);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0.0);
}

/*
 * A read-only handle on a shared snapshot.  Its buf points at the
 * snapshot's text (read as any snapshot, file.c) without owning it;
 * shlogfs_handle_drop() gives the snapshot back.
 */
static int shlogfs_root_file_handle(struct shlogfs *fs, struct shlogfs_node *n,
				    const struct shlogfs_cred *c, int flags,
				    struct shlogfs_handle **out)
{
	struct shlogfs_handle *h = calloc(1, sizeof *h);
	int rc;

	if (!h)
		return -ENOMEM;
	if ((rc = shlogfs_budget_take(fs, c->uid, sizeof *h, "open"))) {
		free(h);
		return rc;
	}
	h->held = sizeof *h;
	/* root's opens: always the numbers of now, never shared */
	if ((rc = shlogfs_snap_get(fs, n->kind, c, 1, c->uid == 0, &h->rsnap))) {
		shlogfs_budget_give(fs, c->uid, h->held);
		free(h);
		return rc;
	}
	h->kind = n->kind;
	h->node = n;
	h->flags = flags;
	h->uid = c->uid;
	h->buf.p = h->rsnap->text.p;
	h->buf.len = h->rsnap->text.len;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->ra_lock, NULL);
	pthread_mutex_lock(&fs->lock);
	LIST_INSERT_HEAD(&fs->handles, h, link);
	pthread_mutex_unlock(&fs->lock);
	*out = h;
	return 0;
}

/* open: a snapshot of a root file; the rest goes to file.c. */
void shlogfs_op_open_any(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct shlogfs *fs = shlogfs_of(req);
	struct shlogfs_node *n = shlogfs_node_of(fs, ino);
	struct shlogfs_handle *h;
	struct shlogfs_cred c;
	int rc;

	if (!shlogfs_kind_is_root_file(n->kind)) {
		shlogfs_op_open(req, ino, fi);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	shlogfs_cred_get(req, &c);
	if ((rc = shlogfs_root_file_handle(fs, n, &c, fi->flags, &h))) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0)
		shlogfs_handle_drop(fs, h);
}
