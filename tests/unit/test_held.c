/*
 * test_held.c — the lock-precondition checks of core/held_i.h fire: a
 * function's SL_HELD() passes for the thread holding the mutex and
 * stops the process for any other thread or when nobody holds it.
 * The checks themselves sit in the engine's functions; the whole unit
 * and mount suites run with them on (every build type but release).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "held_i.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Exit status of a child that runs fn(): its signal number, or -exit code. */
static int in_child(void (*fn)(void))
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
}

/* SL_HELD on a mutex nobody holds. */
static void held_unlocked(void)
{
	SL_HELD(&mu);
}

/* SL_NOT_HELD on a mutex this thread holds. */
static void not_held_locked(void)
{
	pthread_mutex_lock(&mu);
	SL_NOT_HELD(&mu);
}

/* Hold mu until released through the pipe in arg. */
static void *holder(void *arg)
{
	int *fds = arg;
	char c;

	pthread_mutex_lock(&mu);
	assert_int_equal(write(fds[1], "h", 1), 1);
	assert_int_equal(read(fds[0], &c, 1), 1);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* SL_HELD while another thread holds the mutex. */
static void held_by_other(void)
{
	int in[2], out[2], fds[2];
	pthread_t t;
	char c;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	fds[0] = out[0];
	fds[1] = in[1];
	assert_int_equal(pthread_create(&t, NULL, holder, fds), 0);
	assert_int_equal(read(in[0], &c, 1), 1);
	SL_HELD(&mu);
}

/* The checks pass when the precondition holds. */
static void test_held_ok(void **state)
{
	(void)state;
	pthread_mutex_lock(&mu);
	SL_HELD(&mu);
	pthread_mutex_unlock(&mu);
	SL_NOT_HELD(&mu);
}

/* Each violation stops the process (SIGABRT from the assertion). */
static void test_held_violations(void **state)
{
	(void)state;
#ifdef SL_CHECK_LOCKS
	assert_int_equal(in_child(held_unlocked), SIGABRT);
	assert_int_equal(in_child(not_held_locked), SIGABRT);
	assert_int_equal(in_child(held_by_other), SIGABRT);
#else
	/* Release build: the macros are empty by design; say so, do not pass silently. */
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_ok),
		cmocka_unit_test(test_held_violations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
