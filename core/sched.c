/*
 * sched.c — the flush workers.  A small pool of threads (flush_threads,
 * not one per partition) serves three queues under one mutex:
 *
 *   runq    partitions to flush now (volume trigger, forced flushes, and
 *           latency deadlines that have passed);
 *   timerq  partitions with buffered messages, in deadline order: the
 *           latency drain (first message + flush_interval_ms), or the
 *           retry time of a flush that failed;
 *   syncq   partitions to fdatasync under the interval policy.
 *
 * A partition is on each queue at most once, and holds a reference while
 * it is queued.  Callers hold the partition's mu when they queue it;
 * workers never take a partition's mu while holding sched.mu.
 */
#include <errno.h>
#include <time.h>

#include "engine_i.h"
#include "held_i.h"

/* Put p on a queue, taking a reference; sched.mu held. */
static void enqueue_runq(struct shlog_sched *q, shlog_part *p, int reason)
{
	SL_HELD(&q->mu);
	if (p->in_runq) {
		if (reason < p->kick_reason)
			p->kick_reason = reason;
		return;
	}
	atomic_fetch_add(&p->refs, 1);
	p->in_runq = 1;
	p->kick_reason = reason;
	TAILQ_INSERT_TAIL(&q->runq, p, runq);
	pthread_cond_signal(&q->cv);
}

/* Queue p for a flush now. */
void sl_sched_kick(shlog_part *p, int reason)
{
	SL_HELD(&p->mu);
	struct shlog_sched *q = &p->s->sched;

	pthread_mutex_lock(&q->mu);
	if (!q->stop)
		enqueue_runq(q, p, reason);
	pthread_mutex_unlock(&q->mu);
}

/* Insert p into the timer queue in deadline order (usually at the tail). */
void sl_sched_arm(shlog_part *p, int64_t deadline)
{
	SL_HELD(&p->mu);
	struct shlog_sched *q = &p->s->sched;
	shlog_part *it;

	pthread_mutex_lock(&q->mu);
	if (q->stop || (p->in_timerq && p->deadline_ns <= deadline)) {
		pthread_mutex_unlock(&q->mu);
		return;
	}
	if (p->in_timerq)
		TAILQ_REMOVE(&q->timerq, p, timerq);
	else
		atomic_fetch_add(&p->refs, 1);
	p->in_timerq = 1;
	p->deadline_ns = deadline;
	it = TAILQ_LAST(&q->timerq, shlog_partq);
	while (it && it->deadline_ns > deadline)
		it = TAILQ_PREV(it, shlog_partq, timerq);
	if (it)
		TAILQ_INSERT_AFTER(&q->timerq, it, p, timerq);
	else
		TAILQ_INSERT_HEAD(&q->timerq, p, timerq);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Schedule an fdatasync of p sync_interval_ms from now, unless one is due. */
void sl_sched_arm_sync(shlog_part *p)
{
	SL_HELD(&p->mu);
	struct shlog_sched *q = &p->s->sched;

	pthread_mutex_lock(&q->mu);
	if (!q->stop && !p->in_syncq) {
		atomic_fetch_add(&p->refs, 1);
		p->in_syncq = 1;
		p->sync_deadline_ns = sl_now_mono() +
				      (int64_t)p->s->o.sync_interval_ms * 1000000;
		TAILQ_INSERT_TAIL(&q->syncq, p, syncq);
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

/* Take p off every queue (topic deleted), dropping the queue references. */
void sl_sched_forget(shlog_part *p)
{
	struct shlog_sched *q = &p->s->sched;
	int drops = 0;

	pthread_mutex_lock(&q->mu);
	if (p->in_runq) {
		TAILQ_REMOVE(&q->runq, p, runq);
		p->in_runq = 0;
		drops++;
	}
	if (p->in_timerq) {
		TAILQ_REMOVE(&q->timerq, p, timerq);
		p->in_timerq = 0;
		drops++;
	}
	if (p->in_syncq) {
		TAILQ_REMOVE(&q->syncq, p, syncq);
		p->in_syncq = 0;
		drops++;
	}
	pthread_mutex_unlock(&q->mu);
	while (drops--)
		shlog_part_put(p);
}

/* Absolute CLOCK_MONOTONIC timespec for a deadline in ns. */
static struct timespec ts_of(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	return ts;
}

/* Run the first partition of the run queue (flush), without sched.mu; q->mu held. */
static void run_flush(struct shlog_sched *q, shlog_part *p)
{
	SL_HELD(&q->mu);
	int reason = p->kick_reason;

	TAILQ_REMOVE(&q->runq, p, runq);
	p->in_runq = 0;
	pthread_mutex_unlock(&q->mu);
	sl_part_flush_run(p, reason);
	shlog_part_put(p);
	pthread_mutex_lock(&q->mu);
}

/* A latency deadline passed: move @p from the timer queue to the run queue; q->mu held. */
static void timer_fire(struct shlog_sched *q, shlog_part *p)
{
	SL_HELD(&q->mu);
	TAILQ_REMOVE(&q->timerq, p, timerq);
	p->in_timerq = 0;
	if (p->in_runq) {
		shlog_part_put(p);       /* already queued: drop the timer's ref */
		return;
	}
	p->in_runq = 1;                  /* the timer's ref moves to runq */
	p->kick_reason = FLUSH_LATENCY;
	TAILQ_INSERT_TAIL(&q->runq, p, runq);
}

/* Run the first partition of the sync queue (interval policy), without sched.mu; q->mu held. */
static void run_sync(struct shlog_sched *q, shlog_part *p)
{
	SL_HELD(&q->mu);
	TAILQ_REMOVE(&q->syncq, p, syncq);
	p->in_syncq = 0;
	pthread_mutex_unlock(&q->mu);
	sl_part_sync_run(p);
	shlog_part_put(p);
	pthread_mutex_lock(&q->mu);
}

/* Sleep until @next (INT64_MAX: until woken); q->mu held. */
static void wait_until(struct shlog_sched *q, int64_t next)
{
	SL_HELD(&q->mu);
	if (next == INT64_MAX) {
		pthread_cond_wait(&q->cv, &q->mu);
	} else {
		struct timespec ts = ts_of(next);
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
	}
}

/*
 * Do the next job, in order: a flush of the run queue, a due timer, a due
 * sync; else sleep until the earliest deadline.  q->mu held.
 */
static void worker_step(struct shlog_sched *q)
{
	SL_HELD(&q->mu);
	shlog_part *p = TAILQ_FIRST(&q->runq), *sp;
	int64_t now = sl_now_mono(), next = INT64_MAX;

	if (p) {
		run_flush(q, p);
		return;
	}
	p = TAILQ_FIRST(&q->timerq);
	if (p && p->deadline_ns <= now) {
		timer_fire(q, p);
		return;
	}
	if (p)
		next = p->deadline_ns;
	sp = TAILQ_FIRST(&q->syncq);
	if (sp && sp->sync_deadline_ns <= now) {
		run_sync(q, sp);
		return;
	}
	if (sp && sp->sync_deadline_ns < next)
		next = sp->sync_deadline_ns;
	wait_until(q, next);
}

/* One worker: take the next job, run it without sched.mu, repeat. */
static void *worker_main(void *arg)
{
	shlog_store *s = arg;
	struct shlog_sched *q = &s->sched;

	pthread_mutex_lock(&q->mu);
	while (!q->stop)
		worker_step(q);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Set up the queues (@spawn 0), or start the worker pool (@spawn 1). */
int sl_sched_start(shlog_store *s, int spawn)
{
	struct shlog_sched *q = &s->sched;
	pthread_condattr_t ca;

	if (!spawn) {
		pthread_mutex_init(&q->mu, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&q->cv, &ca);
		pthread_condattr_destroy(&ca);
		TAILQ_INIT(&q->runq);
		TAILQ_INIT(&q->timerq);
		TAILQ_INIT(&q->syncq);
		q->stop = 1;
		q->nthreads = 0;
		return 0;
	}
	pthread_mutex_lock(&q->mu);
	q->stop = 0;
	pthread_mutex_unlock(&q->mu);
	for (q->nthreads = 0; q->nthreads < s->o.flush_threads; q->nthreads++) {
		int rc = pthread_create(&q->threads[q->nthreads], NULL, worker_main, s);
		if (rc) {
			sl_sched_stop(s);
			return -rc;
		}
	}
	return 0;
}

/* Stop the workers and empty the queues (close flushes by itself). */
void sl_sched_stop(shlog_store *s)
{
	struct shlog_sched *q = &s->sched;
	shlog_part *p;

	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (uint32_t i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
	while ((p = TAILQ_FIRST(&q->runq)) != NULL) {
		TAILQ_REMOVE(&q->runq, p, runq);
		p->in_runq = 0;
		shlog_part_put(p);
	}
	while ((p = TAILQ_FIRST(&q->timerq)) != NULL) {
		TAILQ_REMOVE(&q->timerq, p, timerq);
		p->in_timerq = 0;
		shlog_part_put(p);
	}
	while ((p = TAILQ_FIRST(&q->syncq)) != NULL) {
		TAILQ_REMOVE(&q->syncq, p, syncq);
		p->in_syncq = 0;
		shlog_part_put(p);
	}
}

/* Free the queue locks; after sl_sched_stop and the last partition. */
void sl_sched_destroy(shlog_store *s)
{
	pthread_mutex_destroy(&s->sched.mu);
	pthread_cond_destroy(&s->sched.cv);
}
