#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/event_loop.h"

struct counter {
	int n;
	int last_fd;
	uint32_t last_events;
	bool in_thread;
	struct event_loop *l;
};

static void wait_for(int *v, int want)
{
	for (int i = 0; i < 2000 && __atomic_load_n(v, __ATOMIC_ACQUIRE) < want; i++)
		usleep(1000);
}

static void on_fd(void *opaque, int fd, uint32_t events)
{
	struct counter *c = opaque;
	char buf[16];

	if (read(fd, buf, sizeof(buf)) <= 0)
		return;
	c->last_fd = fd;
	c->last_events = events;
	c->in_thread = event_loop_in_thread(c->l);
	__atomic_add_fetch(&c->n, 1, __ATOMIC_RELEASE);
}

static void test_fd_callback_on_loop_thread(void **state)
{
	struct event_loop *l;
	struct counter c = { 0 };
	int p[2];

	assert_int_equal(event_loop_create(&l), 0);
	c.l = l;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(event_loop_add_fd(l, p[0], EPOLLIN, on_fd, &c), 0);
	assert_int_equal(event_loop_add_fd(l, p[0], EPOLLIN, on_fd, &c), -EEXIST);
	assert_int_equal(event_loop_add_fd(l, -1, EPOLLIN, on_fd, &c), -EINVAL);
	assert_false(event_loop_in_thread(l));
	assert_int_equal(write(p[1], "x", 1), 1);
	wait_for(&c.n, 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last_fd, p[0]);
	assert_true(c.last_events & EPOLLIN);
	assert_true(c.in_thread);
	/* After removal no further callback runs. */
	assert_int_equal(event_loop_del_fd(l, p[0]), 0);
	assert_int_equal(event_loop_del_fd(l, p[0]), -ENOENT);
	assert_int_equal(write(p[1], "y", 1), 1);
	usleep(20000);
	assert_int_equal(c.n, 1);
	event_loop_destroy(l);
	close(p[0]);
	close(p[1]);
}

static void on_call(void *opaque)
{
	struct counter *c = opaque;

	c->in_thread = event_loop_in_thread(c->l);
	__atomic_add_fetch(&c->n, 1, __ATOMIC_RELEASE);
}

static void test_calls_run_in_order_and_before_stop(void **state)
{
	struct event_loop *l;
	struct counter c = { 0 };

	assert_int_equal(event_loop_create(&l), 0);
	c.l = l;
	for (int i = 0; i < 100; i++)
		assert_int_equal(event_loop_call(l, on_call, &c), 0);
	/* destroy runs whatever is still queued before the thread ends */
	event_loop_destroy(l);
	assert_int_equal(c.n, 100);
	assert_true(c.in_thread);
	event_loop_destroy(NULL);
}

static void on_tick(void *opaque)
{
	struct counter *c = opaque;

	__atomic_add_fetch(&c->n, 1, __ATOMIC_RELEASE);
}

static void test_timers(void **state)
{
	struct event_loop *l;
	struct event_loop_timer *once, *periodic, *idle;
	struct counter a = { 0 }, b = { 0 }, z = { 0 };

	assert_int_equal(event_loop_create(&l), 0);
	assert_int_equal(event_loop_timer_add(l, 1000000, 0, on_tick, &a, &once), 0);
	assert_int_equal(event_loop_timer_add(l, 0, 2000000, on_tick, &b, &periodic), 0);
	assert_int_equal(event_loop_timer_add(l, 0, 0, on_tick, &z, &idle), 0);
	wait_for(&b.n, 5);
	assert_true(b.n >= 5);
	usleep(10000);
	assert_int_equal(a.n, 1);      /* one-shot fired exactly once */
	assert_int_equal(z.n, 0);      /* disarmed timer never fires */
	event_loop_timer_del(periodic);
	int after = b.n;
	usleep(10000);
	assert_int_equal(b.n, after);
	assert_int_equal(event_loop_timer_set(idle, 1000000, 0), 0);
	wait_for(&z.n, 1);
	assert_int_equal(z.n, 1);
	event_loop_timer_del(once);
	event_loop_timer_del(idle);
	event_loop_destroy(l);
}

struct selfdel {
	struct event_loop *l;
	int fd;
	int n;
};

static void del_self(void *opaque, int fd, uint32_t events)
{
	struct selfdel *s = opaque;

	/* Removing the running handler from its own callback must not deadlock. */
	event_loop_del_fd(s->l, fd);
	__atomic_add_fetch(&s->n, 1, __ATOMIC_RELEASE);
}

static void test_delete_from_callback(void **state)
{
	struct selfdel s = { 0 };
	int p[2];

	assert_int_equal(event_loop_create(&s.l), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(event_loop_add_fd(s.l, p[0], EPOLLIN, del_self, &s), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	wait_for(&s.n, 1);
	usleep(10000);
	assert_int_equal(s.n, 1); /* level-triggered data still unread, yet no second call */
	event_loop_destroy(s.l);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_callback_on_loop_thread),
		cmocka_unit_test(test_calls_run_in_order_and_before_stop),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_delete_from_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
