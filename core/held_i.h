/*
 * held_i.h — lock preconditions a test can catch.
 *
 * A function that must run with a mutex held (or not held) says so with
 * SL_HELD(mu) / SL_NOT_HELD(mu) as its first statement, instead of only
 * in a comment.  In builds made with SL_CHECK_LOCKS (every meson build
 * type but release, so the unit, mount and sanitizer runs check it) a
 * violation stops the process with an assertion naming the function;
 * in release builds the macros compile to nothing.
 *
 * The daemon (fs/) uses it too: it is the one header of core besides
 * shlog.h that fs/ includes, since it calls nothing of the engine (all
 * of it is static inline, on glibc alone).
 *
 * How: glibc records the kernel thread id of a mutex's owner in
 * __data.__owner for every mutex type (it is what its own consistency
 * checks use), so "held by me" is one compare with the thread's id
 * (gettid(), cached per thread and forgotten at fork).  These
 * are internal invariants of the engine, never checks of input.
 *
 * Not checked: the read-write locks (pthread_rwlock_t: a partition's
 * seglock, the store's mu).  glibc keeps only a count of an rwlock's
 * readers, not who they are, so "this thread holds it (for reading or
 * writing)" cannot be asked; a function that needs one says so in its
 * comment only.  Nor is a lock order checked: a precondition says who
 * holds a mutex at a function's entry, nothing about the others.
 */
#ifndef SL_HELD_I_H
#define SL_HELD_I_H

#include <pthread.h>

#ifdef SL_CHECK_LOCKS
#include <assert.h>
#include <unistd.h>

/*
 * The calling thread's kernel id, read once per thread: gettid() is a
 * system call (about 300 ns on the test machine, and an append passes
 * three checks), which made the engine's appends three times slower.
 * Each file including this header has its own copy.
 */
static __thread pid_t sl_held_tid;

/* In a fork's child the thread has a new id: forget the cached one. */
static void sl_held_tid_forget(void)
{
	sl_held_tid = 0;
}

/* Have this file's cached id forgotten in every fork's child. */
__attribute__((constructor)) static void sl_held_init(void)
{
	pthread_atfork(NULL, NULL, sl_held_tid_forget);
}

/* Does the calling thread hold @mu? */
static inline int sl_held(const pthread_mutex_t *mu)
{
	if (sl_held_tid == 0)
		sl_held_tid = gettid();
	return mu->__data.__owner == sl_held_tid;
}

#define SL_HELD(mu) assert(sl_held(mu) && "lock must be held: " #mu)
#define SL_NOT_HELD(mu) assert(!sl_held(mu) && "lock must not be held: " #mu)
#else
#define SL_HELD(mu) ((void)0)
#define SL_NOT_HELD(mu) ((void)0)
#endif

#endif
