/*
 * metrics.c — latency histograms of a partition, for monitoring
 * (shlogfs's /.metrics).
 *
 * part.c counts every successful flush (around sl_writer_commit) and
 * writer.c every fdatasync pair of the tail segment (sl_writer_sync) with
 * shlog_lat_add() (engine_i.h): one relaxed atomic add per sample into a
 * per-bucket counter, no lock.  This file turns those counters into
 * cumulative histograms.  A reader racing a flush may see a sample in
 * its bucket but not yet in sum_ns; count and buckets always agree.
 */
#include <string.h>

#include "engine_i.h"

/* Cumulative copy of one histogram. */
static void lat_copy(struct shlog_lat *h, struct shlog_latency_hist *out)
{
	uint64_t run = 0;

	for (unsigned i = 0; i < SHLOG_LATENCY_BUCKETS; i++) {
		run += atomic_load_explicit(&h->n[i], memory_order_relaxed);
		out->le[i] = run;
	}
	run += atomic_load_explicit(&h->n[SHLOG_LATENCY_BUCKETS],
				    memory_order_relaxed);
	out->count = run;
	out->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

/* Public: the flush and fdatasync latency histograms of @p p. */
int shlog_part_latency(shlog_part *p, struct shlog_part_latency *out)
{
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < SHLOG_LATENCY_BUCKETS; i++)
		out->bound_ns[i] = shlog_lat_bound_ns(i);
	lat_copy(&p->lat_flush, &out->flush);
	lat_copy(&p->lat_fsync, &out->fsync);
	return 0;
}
