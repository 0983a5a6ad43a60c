#include "util/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"

#define WAKE_ID 0 /* epoll data of the internal eventfd */

struct handler {
	struct handler *next;
	uint64_t id;
	int fd;
	event_loop_fd_cb cb;
	void *opaque;
};

struct call {
	struct call *next;
	event_loop_cb fn;
	void *opaque;
};

struct event_loop {
	int epfd;
	int wakefd;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;     /* guards everything below */
	pthread_cond_t idle;      /* broadcast when `current` changes */
	struct handler *handlers;
	uint64_t next_id;
	uint64_t current;         /* id of the handler whose callback runs, 0 when none */
	struct call *calls, **calls_tail;
	bool stopping;
};

struct event_loop_timer {
	struct event_loop *l;
	int fd;
	event_loop_cb cb;
	void *opaque;
};

bool event_loop_in_thread(struct event_loop *l)
{
	return l->started && pthread_equal(pthread_self(), l->thread);
}

static void wake(struct event_loop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->wakefd, &one, sizeof(one));

	(void)r; /* EAGAIN means a wakeup is already pending */
}

static void run_calls(struct event_loop *l)
{
	for (;;) {
		struct call *c;

		pthread_mutex_lock(&l->lock);
		c = l->calls;
		if (c) {
			l->calls = c->next;
			if (!l->calls)
				l->calls_tail = &l->calls;
		}
		pthread_mutex_unlock(&l->lock);
		if (!c)
			return;
		c->fn(c->opaque);
		free(c);
	}
}

static void dispatch(struct event_loop *l, uint64_t id, uint32_t events)
{
	struct handler *h;
	event_loop_fd_cb cb = NULL;
	void *opaque = NULL;
	int fd = -1;

	pthread_mutex_lock(&l->lock);
	/* The handler may have been removed after epoll_wait returned its event. */
	for (h = l->handlers; h; h = h->next) {
		if (h->id == id) {
			cb = h->cb;
			opaque = h->opaque;
			fd = h->fd;
			l->current = id;
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	if (!cb)
		return;
	cb(opaque, fd, events);
	pthread_mutex_lock(&l->lock);
	l->current = 0;
	pthread_cond_broadcast(&l->idle);
	pthread_mutex_unlock(&l->lock);
}

static void *loop_thread(void *arg)
{
	struct event_loop *l = arg;
	struct epoll_event ev[32];

	for (;;) {
		int n = epoll_wait(l->epfd, ev, 32, -1);
		bool stop;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("event loop: epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == WAKE_ID) {
				uint64_t v;
				ssize_t r = read(l->wakefd, &v, sizeof(v));
				(void)r;
				continue;
			}
			dispatch(l, ev[i].data.u64, ev[i].events);
		}
		run_calls(l);
		pthread_mutex_lock(&l->lock);
		stop = l->stopping;
		pthread_mutex_unlock(&l->lock);
		if (stop)
			break;
	}
	run_calls(l);
	return NULL;
}

int event_loop_create(struct event_loop **out)
{
	struct event_loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_ID };
	int rc;

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->next_id = WAKE_ID + 1;
	l->calls_tail = &l->calls;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->idle, NULL);
	if (l->epfd < 0 || l->wakefd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&l->thread, NULL, loop_thread, l);
	if (rc < 0)
		goto fail;
	l->started = true;
	*out = l;
	return 0;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->idle);
	free(l);
	return rc;
}

static struct event_loop *default_loop;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_create(void)
{
	if (event_loop_create(&default_loop) < 0)
		default_loop = NULL;
}

struct event_loop *event_loop_default(void)
{
	pthread_once(&default_once, default_create);
	return default_loop;
}

void event_loop_destroy(struct event_loop *l)
{
	if (!l)
		return;
	if (event_loop_in_thread(l)) {
		/* The thread cannot join itself; freeing under it would be a use after free. */
		log_error("event loop: destroy called from its own thread, ignored");
		return;
	}
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_mutex_unlock(&l->lock);
	wake(l);
	if (l->started)
		pthread_join(l->thread, NULL);
	while (l->handlers) {
		struct handler *h = l->handlers;
		l->handlers = h->next;
		free(h);
	}
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->idle);
	free(l);
}

int event_loop_add_fd(struct event_loop *l, int fd, uint32_t events, event_loop_fd_cb cb,
		      void *opaque)
{
	struct handler *h;
	struct epoll_event ev = { .events = events };
	int rc = 0;

	if (fd < 0 || !cb)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&l->lock);
	for (struct handler *o = l->handlers; o; o = o->next) {
		if (o->fd == fd) {
			rc = -EEXIST;
			goto out;
		}
	}
	h->id = l->next_id++;
	h->fd = fd;
	h->cb = cb;
	h->opaque = opaque;
	ev.data.u64 = h->id;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		goto out;
	}
	h->next = l->handlers;
	l->handlers = h;
	h = NULL;
out:
	pthread_mutex_unlock(&l->lock);
	free(h);
	return rc;
}

int event_loop_mod_fd(struct event_loop *l, int fd, uint32_t events)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&l->lock);
	for (struct handler *h = l->handlers; h; h = h->next) {
		if (h->fd == fd) {
			struct epoll_event ev = { .events = events, .data.u64 = h->id };
			rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int event_loop_del_fd(struct event_loop *l, int fd)
{
	struct handler **pp, *h = NULL;

	pthread_mutex_lock(&l->lock);
	for (pp = &l->handlers; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			h = *pp;
			*pp = h->next;
			break;
		}
	}
	if (!h) {
		pthread_mutex_unlock(&l->lock);
		return -ENOENT;
	}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* From another thread, wait out a callback in flight; the loop thread itself cannot. */
	while (l->current == h->id && !event_loop_in_thread(l))
		pthread_cond_wait(&l->idle, &l->lock);
	pthread_mutex_unlock(&l->lock);
	free(h);
	return 0;
}

int event_loop_call(struct event_loop *l, event_loop_cb fn, void *opaque)
{
	struct call *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->opaque = opaque;
	pthread_mutex_lock(&l->lock);
	if (l->stopping && !event_loop_in_thread(l)) {
		pthread_mutex_unlock(&l->lock);
		free(c);
		return -ESHUTDOWN;
	}
	*l->calls_tail = c;
	l->calls_tail = &c->next;
	pthread_mutex_unlock(&l->lock);
	wake(l);
	return 0;
}

static void timer_fired(void *opaque, int fd, uint32_t events)
{
	struct event_loop_timer *t = opaque;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return; /* spurious wakeup after a re-arm */
	t->cb(t->opaque);
}

int event_loop_timer_set(struct event_loop_timer *t, uint64_t first_ns, uint64_t period_ns)
{
	struct itimerspec its = {
		.it_value = { (time_t)(first_ns / 1000000000u), (long)(first_ns % 1000000000u) },
		.it_interval = { (time_t)(period_ns / 1000000000u), (long)(period_ns % 1000000000u) },
	};

	/* A zero it_value disarms; a periodic timer needs a first expiry. */
	if (first_ns == 0 && period_ns != 0)
		its.it_value = its.it_interval;
	return timerfd_settime(t->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int event_loop_timer_add(struct event_loop *l, uint64_t first_ns, uint64_t period_ns,
			 event_loop_cb cb, void *opaque, struct event_loop_timer **out)
{
	struct event_loop_timer *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->l = l;
	t->cb = cb;
	t->opaque = opaque;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0) {
		rc = -errno;
		free(t);
		return rc;
	}
	rc = event_loop_add_fd(l, t->fd, EPOLLIN, timer_fired, t);
	if (rc == 0)
		rc = event_loop_timer_set(t, first_ns, period_ns);
	if (rc < 0) {
		event_loop_del_fd(l, t->fd);
		close(t->fd);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void event_loop_timer_del(struct event_loop_timer *t)
{
	if (!t)
		return;
	event_loop_del_fd(t->l, t->fd);
	close(t->fd);
	free(t);
}
