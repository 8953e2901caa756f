/*
 * test_ioerr.c — trial 3 of docs/RELIABILITY.md: I/O errors.
 *
 * The workload (appends with a sync per round, keys, segment rolls, wrap
 * retention with its key snapshots, a close and reopen half way) runs
 * once per fault: the Nth pwrite, fdatasync, fsync, renameat or openat
 * (N = 1, 2, ... up to the number the workload makes) fails with EIO or
 * ENOSPC, once (transient) or from then on until the round ends
 * (persistent, then cleared).  The workload carries on as an application
 * would: it retries a failed sync, and when the partition stays failed it
 * closes and reopens the store, resuming after the last message the
 * store holds.  Checked:
 *   - no reopen ever holds fewer messages than were acknowledged;
 *   - a fault either reaches the caller (some call returns < 0) or is
 *     harmless: everything appended ends up acknowledged and durable;
 *   - once the fault has cleared, the store opens and serves exactly the
 *     stream's prefix, keys included, with every acknowledged message;
 *   - the same holds after a power cut at the end (writes not fsynced
 *     lost, and writes before a failed fdatasync never durable, even if
 *     a later fdatasync of the file succeeds: Linux marks those pages
 *     clean): a failed fdatasync is never reported later as success.
 * The file operations go through the recording seam of oplog.c, which
 * also injects the faults and provides the power-cut state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "io_i.h"
#include "oplog.h"
#include "trial.h"

/* One test's directory. */
struct fx {
	char dir[256];
};

TH_FX_HOOKS(struct fx, TH_TRIAL_SEC, th_fx_nop, ol_fx_done)

/* ==== the workload ====================================================== */

/* The fault of one run. */
struct ie_fault {
	enum ol_call call;
	uint64_t nth;            /* 0: none (the counting run) */
	int err, persistent;
};

/* What one run saw. */
struct ie_run {
	uint64_t n;              /* next message to append */
	uint64_t acked;          /* acknowledged as durable */
	unsigned errors;         /* calls that returned < 0 */
	unsigned reopens;
	char viol[700];          /* the first violation */
};

static const char *const call_names[OL_CALL_NKINDS] = { "pwrite", "fdatasync", "fsync",
							"renameat", "openat" };

/* Note the first violation of a run. */
static void __attribute__((format(printf, 2, 3))) ie_viol(struct ie_run *run, const char *fmt, ...)
{
	va_list ap;

	if (run->viol[0])
		return;
	va_start(ap, fmt);
	vsnprintf(run->viol, sizeof(run->viol), fmt, ap);
	va_end(ap);
}

/* Open the store (creating the topic if needed); resume after its last message. */
static int ie_open(const char *dir, const struct shlog_options *o, struct ie_run *run,
		   shlog_store **s, shlog_part **p)
{
	struct shlog_part_info in;
	uint32_t np;
	int rc = shlog_store_open(dir, o, s);

	*p = NULL;
	if (rc < 0) {
		*s = NULL;
		return rc;
	}
	if (shlog_topic_nparts(*s, TR_TOPIC, &np) < 0) {
		if (run->acked > 0)
			ie_viol(run, "topic gone after %llu messages were acknowledged",
				(unsigned long long)run->acked);
		rc = shlog_topic_create(*s, TR_TOPIC, 1);
	}
	if (rc == 0)
		rc = shlog_part_get(*s, TR_TOPIC, 0, p);
	if (rc < 0) {
		shlog_store_close(*s);
		*s = NULL;
		*p = NULL;
		return rc;
	}
	shlog_part_info(*p, &in);
	if (in.end_seq < run->acked)
		ie_viol(run, "reopen %u holds %llu messages, %llu were acknowledged [engine: %s]",
			run->reopens, (unsigned long long)in.end_seq,
			(unsigned long long)run->acked, tr_last_log());
	run->n = in.end_seq;
	run->reopens++;
	return 0;
}

/* Close the store; an acknowledgement if it succeeded. */
static void ie_close(struct ie_run *run, shlog_store **s, shlog_part **p)
{
	if (th_close(*s, *p) == 0) {
		run->acked = run->n;
		ol_ack(run->n);
	} else {
		run->errors++;
	}
	*s = NULL;
	*p = NULL;
}

/* Sync; an acknowledgement if it succeeded. */
static int ie_sync(struct ie_run *run, shlog_part *p)
{
	int rc = shlog_part_sync(p);

	if (rc == 0) {
		run->acked = run->n;
		ol_ack(run->n);
	} else {
		run->errors++;
	}
	return rc;
}

/* One round: recover from an earlier error if needed, append, sync. */
static void ie_round(const char *dir, const struct shlog_options *o, const struct tr_wl *w,
		     const struct tr_stream *st, struct ie_run *run, shlog_store **s,
		     shlog_part **p, int *failed)
{
	char m[512];

	if (!*s && ie_open(dir, o, run, s, p) < 0) {
		run->errors++;
		return;
	}
	if (*failed && ie_sync(run, *p) < 0) {
		ie_close(run, s, p);       /* the partition stays failed: reopen */
		return;
	}
	*failed = 0;
	for (unsigned i = 0; i < w->per_round && run->n < st->n; i++) {
		size_t l = tr_msg(st, run->n, m, sizeof(m));
		int rc = shlog_part_append(*p, m, l, 0, NULL);
		if (rc < 0) {
			struct shlog_part_info in;
			/* with sync=always a failed append may still be buffered */
			shlog_part_info(*p, &in);
			run->n = in.end_seq;
			run->errors++;
			*failed = 1;
			return;
		}
		run->n++;
		if (w->sync == SHLOG_SYNC_ALWAYS) {
			run->acked = run->n;
			ol_ack(run->n);
		}
	}
	if (ie_sync(run, *p) < 0)
		*failed = 1;
}

/* Run the workload with fault @ft armed; fills @run, records @log. */
static void ie_workload(const char *dir, const struct tr_wl *w, const struct tr_stream *st,
			const struct ie_fault *ft, struct oplog *log, struct ie_run *run)
{
	struct shlog_options o;
	shlog_store *s = NULL;
	shlog_part *p = NULL;
	int failed = 0;

	tr_wl_opts(w, &o);
	memset(run, 0, sizeof(*run));
	assert_int_equal(mkdir(dir, 0755), 0);
	ol_record_start(log, dir);
	ol_fault_set(ft->call, ft->nth, ft->err, ft->persistent);
	for (unsigned r = 0; r < w->rounds; r++) {
		ie_round(dir, &o, w, st, run, &s, &p, &failed);
		if (s && r == w->rounds / 2)
			ie_close(run, &s, &p);
		if (ol_fault_hits())
			ol_fault_clear();  /* a persistent fault lasts until the round ends */
	}
	ol_fault_clear();
	/* the fault is gone: the store must come back and take the rest */
	for (int tries = 0; tries < 3 && (run->n < st->n || failed || s); tries++) {
		ie_round(dir, &o, w, st, run, &s, &p, &failed);
		if (s && !failed && run->n == st->n)
			ie_close(run, &s, &p);
	}
	if (s)
		ie_close(run, &s, &p);
	if (run->n < st->n || run->acked < st->n)
		ie_viol(run, "after the fault cleared the store did not take the rest: "
			"%llu of %llu appended, %llu acknowledged [engine: %s]",
			(unsigned long long)run->n, (unsigned long long)st->n,
			(unsigned long long)run->acked, tr_last_log());
	ol_record_stop();
}

/* ==== checks after a run ================================================= */

/* The live store and a power cut at the end must both hold what was acknowledged. */
static void ie_after(const char *dir, const char *cut, const struct tr_wl *w,
		     const struct tr_stream *st, const struct oplog *log, struct ie_run *run)
{
	struct shlog_options o;
	struct tr_result r;
	uint64_t acked = ol_acked_before(log, log->n);

	tr_wl_opts(w, &o);
	if (tr_check(dir, &o, st, TR_REUSE, &r) < 0)
		ie_viol(run, "store after the fault: %s", r.err);
	else if (r.open_rc != 0)
		ie_viol(run, "store after the fault: open %d [engine: %s]", r.open_rc, tr_last_log());
	else if (r.end_seq < run->acked)
		ie_viol(run, "store after the fault: %llu messages, %llu acknowledged",
			(unsigned long long)r.end_seq, (unsigned long long)run->acked);
	assert_int_equal(mkdir(cut, 0755), 0);
	assert_int_equal(ol_materialize(log, log->n, OL_DROP, 0, cut, NULL, 0), 0);
	if (tr_check(cut, &o, st, 0, &r) < 0)
		ie_viol(run, "power cut after the run: %s", r.err);
	else if (r.open_rc != 0)
		ie_viol(run, "power cut after the run: open %d [engine: %s]", r.open_rc, tr_last_log());
	else if (!r.topic || r.end_seq < acked)
		ie_viol(run, "power cut after the run: %llu messages, %llu acknowledged "
			"(writes before a failed fdatasync were reported durable later)",
			(unsigned long long)r.end_seq, (unsigned long long)acked);
	th_rmrf(cut);
}

/* ==== the sweep ========================================================== */

/* Totals of a sweep. */
struct ie_fig {
	unsigned runs, faulted, reported, absorbed, failed;
	uint64_t hits;
	struct tr_sigs sigs;
};

/* One run with one fault: workload, checks, figures. */
static void ie_one(const char *base, const struct tr_wl *w, const struct tr_stream *st,
		   const struct ie_fault *ft, struct ie_fig *fig)
{
	struct oplog log;
	struct ie_run run;
	char dir[600], cut[600], name[128];
	const char *only = getenv("SHLOG_TRIAL_ONLY");
	uint64_t hits;

	snprintf(name, sizeof(name), "%s %s %s %s#%llu", w->name, call_names[ft->call],
		 ft->persistent ? "persistent" : "transient", ft->err == EIO ? "EIO" : "ENOSPC",
		 (unsigned long long)ft->nth);
	if (only && !strstr(name, only))
		return;   /* a post-mortem of one case */
	uint64_t t0 = th_now_ms();

	snprintf(dir, sizeof(dir), "%s/run", base);
	snprintf(cut, sizeof(cut), "%s/cut", base);
	ie_workload(dir, w, st, ft, &log, &run);
	if (getenv("SHLOG_TRIAL_TIMES"))
		print_message("%s: %llu ms\n", name, (unsigned long long)(th_now_ms() - t0));
	hits = ol_fault_hits();
	ie_after(dir, cut, w, st, &log, &run);
	fig->runs++;
	fig->hits += hits;
	if (hits) {
		fig->faulted++;
		if (run.errors)
			fig->reported++;
		else
			fig->absorbed++;   /* harmless by the checks above, or a violation */
	}
	if (run.viol[0]) {
		tr_sig_note(&fig->sigs, name, run.viol);
		if (fig->failed == 0 && getenv("SHLOG_TRIAL_DUMP"))
			ol_dump(&log, stderr);
		fig->failed++;
	}
	ol_free(&log);
	th_rmrf(dir);
}

/*
 * The sweep must have tried enough: the workload made every kind of call
 * (each then fails at every N; 2 to 50 of each today), at least 4
 * in 5 runs had their fault hit (95 % or more today) and at least half
 * reported it to a caller (83 % or more today).
 */
static void ie_floors(const struct tr_wl *w, const uint64_t calls[OL_CALL_NKINDS],
		      const struct ie_fig *fig)
{
	char trial[80];

	snprintf(trial, sizeof(trial), "ioerr %s", w->name);
	for (int c = 0; c < OL_CALL_NKINDS; c++)
		tr_floor(trial, call_names[c], calls[c], 1);
	tr_floor(trial, "faulted_runs", fig->faulted, (uint64_t)fig->runs * 4 / 5);
	tr_floor(trial, "reported", fig->reported, fig->runs / 2);
}

/* Every call kind, every N, both errors, both durations. */
static void ie_trial(const char *base, const struct tr_wl *w)
{
	struct tr_stream st;
	const struct ie_fault none = { 0 };
	struct ie_fig fig = { 0 };
	uint64_t calls[OL_CALL_NKINDS], t0 = th_now_ms();
	struct oplog log;
	struct ie_run run;
	char dir[600];

	tr_wl_stream(w, &st);
	/* the counting run: no fault, every check must pass */
	snprintf(dir, sizeof(dir), "%s/count", base);
	ie_workload(dir, w, &st, &none, &log, &run);
	for (int c = 0; c < OL_CALL_NKINDS; c++)
		calls[c] = ol_fault_calls((enum ol_call)c);
	ol_free(&log);
	th_rmrf(dir);
	assert_string_equal(run.viol, "");
	print_message("%s: calls pwrite=%llu fdatasync=%llu fsync=%llu renameat=%llu openat=%llu\n",
		      w->name, (unsigned long long)calls[0], (unsigned long long)calls[1],
		      (unsigned long long)calls[2], (unsigned long long)calls[3],
		      (unsigned long long)calls[4]);
	for (int c = 0; c < OL_CALL_NKINDS; c++)
		for (uint64_t nth = 1; nth <= calls[c]; nth++)
			for (int e = 0; e < 2; e++)
				for (int pers = 0; pers < 2; pers++) {
					const struct ie_fault ft = { (enum ol_call)c, nth,
								     e ? ENOSPC : EIO, pers };
					ie_one(base, w, &st, &ft, &fig);
				}
	print_message("FIGURE ioerr %s: messages=%llu runs=%u faulted_runs=%u faults_injected=%llu "
		      "reported=%u absorbed=%u failed=%u seconds=%.1f\n",
		      w->name, (unsigned long long)st.n, fig.runs, fig.faulted,
		      (unsigned long long)fig.hits, fig.reported, fig.absorbed, fig.failed,
		      (double)(th_now_ms() - t0) / 1000.0);
	tr_sig_print(&fig.sigs, "ioerr");
	tr_stream_free(&st);
	assert_int_equal(fig.failed, 0);
	ie_floors(w, calls, &fig);
}

/* Keys, rolls, no retention. */
static void test_ioerr_keys(void **state)
{
	struct fx *f = *state;
	const unsigned sc = th_trial_scale();
	const struct tr_wl w = { .name = "keys", .rounds = 6 + 4 * (sc > 1), .per_round = 6,
				 .nkeys = 4, .pad = 6, .stride = 7, .segment_bytes = 200 };

	ie_trial(f->dir, &w);
}

/* Wrap retention: unlinks, key snapshots (renameat). */
static void test_ioerr_wrap(void **state)
{
	struct fx *f = *state;
	const unsigned sc = th_trial_scale();
	const struct tr_wl w = { .name = "keys-wrap", .rounds = 8 + 4 * (sc > 1), .per_round = 6,
				 .nkeys = 4, .pad = 8, .stride = 7, .segment_bytes = 200,
				 .max_segments = 3 };

	ie_trial(f->dir, &w);
}

/* sync=always: every append waits for its fdatasync. */
static void test_ioerr_always(void **state)
{
	struct fx *f = *state;
	const unsigned sc = th_trial_scale();
	const struct tr_wl w = { .name = "always", .rounds = 5 + 3 * (sc > 1), .per_round = 3,
				 .nkeys = 3, .pad = 2, .stride = 2, .segment_bytes = 150,
				 .sync = SHLOG_SYNC_ALWAYS };

	ie_trial(f->dir, &w);
}

/* Long mode only: a longer run with wrap retention (more calls, more N). */
static void test_ioerr_long(void **state)
{
	struct fx *f = *state;
	const struct tr_wl w = { .name = "keys-wrap-long", .rounds = 24, .per_round = 7,
				 .nkeys = 5, .pad = 8, .stride = 8, .segment_bytes = 260,
				 .max_segments = 3 };

	if (th_trial_scale() == 1) {
		print_message("keys-wrap-long: long mode only (SHLOG_TRIAL_SCALE > 1)\n");
		return;
	}
	ie_trial(f->dir, &w);
}


/* ==== a failed sync at segment roll is sticky ============================ */
/*
 * The roll syncs the old tail segment (its .log, then its .idx), with wrap
 * retention writes and syncs an anchor before it deletes the oldest
 * segment and fsyncs the directory, and creates the new segment with a
 * directory fsync.  Each of those calls
 * fails in turn, once; afterwards the partition must refuse syncs and
 * appends (a later sync that succeeds proves nothing about pages the
 * kernel dropped), and a reopen must rewrite what came after the durable
 * point and keep every acknowledged message.
 */

static unsigned sr_nth, sr_calls, sr_hits, sr_rewrites;
static int sr_armed;

/* Count one sync call; fail the sr_nth one after arming. */
static int sr_fail_now(void)
{
	if (!sr_armed || ++sr_calls != sr_nth)
		return 0;
	sr_hits++;
	errno = EIO;
	return 1;
}

/* Seam fdatasync with the fault. */
static int sr_fdatasync(int fd)
{
	return sr_fail_now() ? -1 : sl_io_default.fdatasync(fd);
}

/* Seam fsync with the fault. */
static int sr_fsync(int fd)
{
	return sr_fail_now() ? -1 : sl_io_default.fsync(fd);
}

/* Engine log: count the reopen's rewrite of unsynced data. */
static void sr_log(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	if (strstr(msg, "writing back everything after message"))
		sr_rewrites++;
}

/* Append block @b (10 messages "sr-<n>"), flushed; synced if @sync. */
static void sr_block(shlog_part *p, unsigned b, int sync)
{
	char m[32];

	for (unsigned n = b * 10; n < b * 10 + 10; n++) {
		size_t l = (size_t)snprintf(m, sizeof(m), "sr-%04u", n);
		assert_int_equal(shlog_part_append(p, m, l, 0, NULL), 0);
	}
	assert_int_equal(sync ? shlog_part_sync(p) : shlog_part_flush(p), 0);
}

/* Fail sync call @nth of the roll at block 4; check it sticks and nothing is lost. */
static void sr_one(const char *dir, unsigned nth, int wrap)
{
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char *buf, m[32];
	size_t len, at = 0;
	uint64_t start;

	th_opts(&o);
	o.log = sr_log;
	o.stride = 10;
	o.flush_threads = 1;
	o.segment_bytes = 200;           /* two blocks of 80 bytes a segment */
	if (wrap) {
		o.retention = SHLOG_RETAIN_WRAP;
		o.max_segments = 2;
	}
	th_open_part(dir, &o, "sr", 1, &s, &p);
	sr_block(p, 0, 1);
	sr_block(p, 1, 1);
	sr_block(p, 2, 0);               /* rolls to segment 20 */
	sr_block(p, 3, 0);               /* unsynced, in segment 20 */
	sr_calls = sr_hits = sr_rewrites = 0;
	sr_nth = nth;
	sr_armed = 1;
	sl_io.fdatasync = sr_fdatasync;
	sl_io.fsync = sr_fsync;
	for (unsigned n = 40; n < 50; n++) {
		size_t l = (size_t)snprintf(m, sizeof(m), "sr-%04u", n);
		assert_int_equal(shlog_part_append(p, m, l, 0, NULL), 0);
	}
	shlog_part_flush(p);             /* rolls: the nth sync call fails */
	th_sleep_ms(3 * 200);            /* a flush retry would come within SHLOG_RETRY_MS */
	assert_int_equal(sr_hits, 1);
	sr_armed = 0;
	assert_int_equal(shlog_part_sync(p), -EIO);
	assert_int_equal(shlog_part_append(p, "late", 4, 0, NULL), -EIO);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.error, -EIO);
	assert_true(in.durable_seq <= 20);
	th_close(s, p);
	sl_io.fdatasync = sl_io_default.fdatasync;
	sl_io.fsync = sl_io_default.fsync;

	/* the reopen rewrites after the durable point and keeps every message */
	assert_int_equal(th_reopen_part(dir, &o, "sr", 0, &s, &p), 0);
	assert_int_equal(sr_rewrites, 1);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.end_seq, 50);
	if (wrap)
		assert_in_range(in.start_seq, 0, 20);
	else
		assert_int_equal(in.start_seq, 0);
	assert_int_equal(th_read_log(p, &buf, &len, &start), 0);
	for (uint64_t n = in.start_seq; n < 50; n++) {
		size_t l = (size_t)snprintf(m, sizeof(m), "sr-%04u\n", (unsigned)n);
		assert_true(at + l <= len);
		assert_memory_equal(buf + at, m, l);
		at += l;
	}
	assert_int_equal(at, len);
	free(buf);
	assert_int_equal(th_close(s, p), 0);
}

/* Every sync call of a roll failed once, without and with wrap retention. */
static void test_ioerr_roll_sticky(void **state)
{
	struct fx *f = *state;
	char dir[300];

	/* .log, .idx, [anchor, directory after the deletion,] directory after the creation */
	for (int wrap = 0; wrap <= 1; wrap++) {
		for (unsigned nth = 1; nth <= 3u + 2u * (unsigned)wrap; nth++) {
			snprintf(dir, sizeof(dir), "%s/roll-%d-%u", f->dir, wrap, nth);
			print_message("roll sync %u of %u fails (%s)\n", nth, 3 + 2 * wrap, wrap ? "wrap" : "keep");
			sr_one(dir, nth, wrap);
		}
	}
}

/* The sync at close fails: close reports it, and the reopen rewrites and keeps everything. */
static void test_ioerr_close_sticky(void **state)
{
	struct fx *f = *state;
	struct shlog_options o;
	struct shlog_part_info in;
	shlog_store *s;
	shlog_part *p;
	char dir[300], *buf;
	size_t len;
	uint64_t start;

	snprintf(dir, sizeof(dir), "%s/close", f->dir);
	th_opts(&o);
	o.log = sr_log;
	o.stride = 10;
	o.flush_threads = 1;
	th_open_part(dir, &o, "sr", 1, &s, &p);
	sr_block(p, 0, 1);
	sr_block(p, 1, 0);               /* written, not synced */
	sr_calls = sr_hits = sr_rewrites = 0;
	sr_nth = 1;
	sr_armed = 1;
	sl_io.fdatasync = sr_fdatasync;
	sl_io.fsync = sr_fsync;
	assert_int_equal(th_close(s, p), -EIO);
	sr_armed = 0;
	sl_io.fdatasync = sl_io_default.fdatasync;
	sl_io.fsync = sl_io_default.fsync;
	assert_int_equal(sr_hits, 1);
	assert_int_equal(th_reopen_part(dir, &o, "sr", 0, &s, &p), 0);
	assert_int_equal(sr_rewrites, 1);
	assert_int_equal(shlog_part_info(p, &in), 0);
	assert_int_equal(in.end_seq, 20);
	assert_int_equal(th_read_log(p, &buf, &len, &start), 0);
	assert_int_equal(th_count_lines(buf, len), 20);
	assert_memory_equal(buf + len - 8, "sr-0019\n", 8);
	free(buf);
	assert_int_equal(th_close(s, p), 0);
}

/* Test table. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		TH_TEST(test_ioerr_roll_sticky),
		TH_TEST(test_ioerr_close_sticky),
		TH_TEST(test_ioerr_keys),
		TH_TEST(test_ioerr_always),
		TH_TEST(test_ioerr_wrap),
		TH_TEST(test_ioerr_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
