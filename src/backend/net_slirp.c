/*
 * User-mode networking with libslirp: the guest gets 10.0.2.15 by DHCP,
 * 10.0.2.2 is the host/gateway, 10.0.2.3 the DNS forwarder; outbound TCP and
 * UDP become host sockets; hostfwd rules forward host ports inward.
 *
 * Driven by the shared I/O thread: slirp's sockets are mirrored into the
 * epoll set after every call into slirp (the set changes as connections come
 * and go), slirp's timers are timerfds, and one more timer bounds the time to
 * the next slirp_pollfds_poll (TCP's fast and slow timers run inside it).
 *
 * libslirp is not thread-safe: every call into it holds `lock`. Frames from
 * the guest enter on vCPU threads (slirp_input); everything else runs on the
 * I/O thread. Event-loop registrations are removed only on the I/O thread, so
 * removal never waits for a callback that is itself waiting for `lock`.
 */
#include "backend/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/event_loop.h"
#include "util/log.h"

struct net_slirp;

struct slirp_timer {
	struct net_slirp *s;
	SlirpTimerCb cb;
	void *cb_opaque;
	struct event_loop_timer *et;
	bool dead;                   /* freed by slirp; the struct goes on the I/O thread */
};

struct watched {
	int fd;
	uint32_t events;
	bool seen;
	bool stale;                  /* slirp closed this fd: its number may come back */
};

struct net_slirp {
	struct net_backend pub;
	Slirp *slirp;
	struct event_loop *loop;
	pthread_mutex_t lock;        /* every libslirp call and everything below */
	pthread_cond_t closed_cond;
	bool closing, closed;
	bool kick_queued;
	struct event_loop_timer *tick; /* next slirp_pollfds_poll */
	int64_t tick_at;             /* when tick fires (CLOCK_MONOTONIC ns), 0: not armed */
	struct pollfd *pfds;
	unsigned npfds, pcap;
	struct watched *w;
	unsigned nw, wcap;
	/*
	 * A transmitted frame gathered from its iovecs, under `lock`. Here rather
	 * than thread-local: a __thread array is set up in every thread of every
	 * VM process, with a network device or not (~64 KiB each).
	 */
	uint8_t frame[NET_MAX_FRAME];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sync_locked(struct net_slirp *s);

static void kick_cb(void *opaque)
{
	struct net_slirp *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->kick_queued = false;
	if (!s->closing)
		sync_locked(s);
	pthread_mutex_unlock(&s->lock);
}

/* Ask the I/O thread to re-mirror slirp's sockets. Holds lock. */
static void kick_locked(struct net_slirp *s)
{
	if (s->closing || s->kick_queued)
		return;
	if (event_loop_call(s->loop, kick_cb, s) == 0)
		s->kick_queued = true;
}

/* ---- callbacks from libslirp (lock held) ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;

	net_backend_deliver(&s->pub, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	log_ratelimited(LOG_WARN, "net user: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void timer_fired(void *opaque)
{
	struct slirp_timer *t = opaque;
	struct net_slirp *s = t->s;

	pthread_mutex_lock(&s->lock);
	if (!t->dead && !s->closing) {
		t->cb(t->cb_opaque);
		sync_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->s = s;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	if (event_loop_timer_add(s->loop, 0, 0, timer_fired, t, &t->et) < 0) {
		log_error("net user: cannot create a timer");
		t->et = NULL;
	}
	return t;
}

static void timer_release(void *opaque)
{
	struct slirp_timer *t = opaque;

	event_loop_timer_del(t->et);
	free(t);
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = timer;

	if (!t)
		return;
	t->dead = true;
	/* Only the I/O thread removes registrations (see the top of the file). */
	if (event_loop_in_thread(s->loop) || event_loop_call(s->loop, timer_release, t) < 0)
		timer_release(t);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;
	int64_t delay = expire_ms * 1000000 - now_ns();

	if (!t || !t->et)
		return;
	event_loop_timer_set(t->et, delay > 0 ? (uint64_t)delay : 1, 0);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

/*
 * libslirp calls this before it closes one of its sockets (lock held). The
 * closed fd leaves epoll by itself, and a new socket may get the same
 * number: the next sync registers that number again.
 */
static void cb_unregister_poll_fd(int fd, void *opaque)
{
	struct net_slirp *s = opaque;

	for (unsigned i = 0; i < s->nw; i++)
		if (s->w[i].fd == fd)
			s->w[i].stale = true;
}

static void cb_notify(void *opaque)
{
	kick_locked(opaque);
}

static const SlirpCb slirp_cbs = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

/* ---- mirroring slirp's sockets into the event loop ---- */

static int add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	short ev = 0;

	if (s->npfds == s->pcap) {
		unsigned cap = s->pcap ? s->pcap * 2 : 32;
		struct pollfd *p = realloc(s->pfds, cap * sizeof(*p));
		if (!p)
			return -1;
		s->pfds = p;
		s->pcap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfds[s->npfds] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfds++;
}

static int get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	int ev = 0;
	short r;

	if (idx < 0 || (unsigned)idx >= s->npfds)
		return 0;
	r = s->pfds[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Let slirp serve every socket that is ready now (and run TCP's timers). */
static void poll_locked(struct net_slirp *s)
{
	uint32_t timeout = UINT32_MAX;
	int n;

	s->npfds = 0;
	slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
	n = poll(s->pfds, s->npfds, 0);
	slirp_pollfds_poll(s->slirp, n < 0, get_revents, s);
}

static void socket_ready(void *opaque, int fd, uint32_t events)
{
	struct net_slirp *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (!s->closing) {
		poll_locked(s);
		sync_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
}

static void tick_fired(void *opaque)
{
	struct net_slirp *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->tick_at = 0;
	pthread_mutex_unlock(&s->lock);
	socket_ready(opaque, -1, 0);
}

/*
 * Arm the tick for slirp's deadline (ms from now, UINT32_MAX: none) unless
 * it already fires no later: an early tick only polls and re-arms, so the
 * timer is reprogrammed only when the deadline moves closer. Holds lock.
 */
static void tick_arm_locked(struct net_slirp *s, uint32_t timeout)
{
	int64_t at;

	if (!s->tick || timeout == UINT32_MAX)
		return;
	at = now_ns() + (int64_t)MAX(timeout, 1u) * 1000000;
	if (s->tick_at && s->tick_at <= at)
		return;
	if (event_loop_timer_set(s->tick, (uint64_t)(at - now_ns() > 0 ? at - now_ns() : 1), 0) == 0)
		s->tick_at = at;
}

static uint32_t to_epoll(short ev)
{
	return ((ev & POLLIN) ? EPOLLIN : 0) | ((ev & POLLOUT) ? EPOLLOUT : 0) |
	       ((ev & POLLPRI) ? EPOLLPRI : 0);
}

static void watch(struct net_slirp *s, int fd, uint32_t events)
{
	/* A closed fd leaves epoll by itself; its number may come back as a new socket. */
	if (event_loop_add_fd(s->loop, fd, events, socket_ready, s) == -EEXIST &&
	    event_loop_mod_fd(s->loop, fd, events) < 0) {
		event_loop_del_fd(s->loop, fd);
		event_loop_add_fd(s->loop, fd, events, socket_ready, s);
	}
}

/*
 * Whether slirp's sockets (just filled into pfds) differ from what the loop
 * watches: a new or closed fd, other events. Holds lock; no system call.
 */
static bool mirror_differs_locked(struct net_slirp *s)
{
	unsigned matched = 0;

	for (unsigned i = 0; i < s->nw; i++) {
		if (s->w[i].stale)
			return true;
		s->w[i].seen = false;
	}
	for (unsigned i = 0; i < s->npfds; i++) {
		uint32_t ev = to_epoll(s->pfds[i].events);
		struct watched *w = NULL;

		for (unsigned k = 0; k < s->nw; k++)
			if (s->w[k].fd == s->pfds[i].fd)
				w = &s->w[k];
		if (!w)
			return true;
		if (w->seen)
			continue;
		if (w->events != ev)
			return true;
		w->seen = true;
		matched++;
	}
	return matched != s->nw;
}

/* Mirror slirp's current sockets into the loop; runs on the I/O thread. Holds lock. */
static void sync_locked(struct net_slirp *s)
{
	uint32_t timeout = UINT32_MAX;
	unsigned keep = 0;

	s->npfds = 0;
	slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
	for (unsigned i = 0; i < s->nw; i++)
		s->w[i].seen = false;
	for (unsigned i = 0; i < s->npfds; i++) {
		uint32_t ev = to_epoll(s->pfds[i].events);
		struct watched *w = NULL;

		for (unsigned k = 0; k < s->nw; k++)
			if (s->w[k].fd == s->pfds[i].fd)
				w = &s->w[k];
		if (w && w->seen)
			continue; /* the same fd twice: the first entry's events win */
		if (!w) {
			if (s->nw == s->wcap) {
				unsigned cap = s->wcap ? s->wcap * 2 : 32;
				struct watched *nw = realloc(s->w, cap * sizeof(*nw));
				if (!nw)
					continue;
				s->w = nw;
				s->wcap = cap;
			}
			w = &s->w[s->nw++];
			*w = (struct watched){ .fd = s->pfds[i].fd, .events = ev };
			watch(s, w->fd, ev);
		} else if (w->stale || w->events != ev) {
			/* A stale number may now name a new socket epoll never saw. */
			w->events = ev;
			w->stale = false;
			watch(s, w->fd, ev);
		}
		w->seen = true;
	}
	for (unsigned i = 0; i < s->nw; i++) {
		if (s->w[i].seen)
			s->w[keep++] = s->w[i];
		else
			event_loop_del_fd(s->loop, s->w[i].fd);
	}
	s->nw = keep;
	/* slirp's own deadline (TCP fast/slow timers) for the next pollfds_poll. */
	tick_arm_locked(s, timeout);
}

/* ---- backend ops ---- */

static int slirp_send(struct net_backend *nb, const struct iovec *iov, unsigned niov)
{
	struct net_slirp *s = container_of(nb, struct net_slirp, pub);
	size_t len = 0;

	for (unsigned i = 0; i < niov; i++) {
		if (iov[i].iov_len > sizeof(s->frame) - len)
			return -EMSGSIZE;
		len += iov[i].iov_len;
	}
	pthread_mutex_lock(&s->lock);
	if (!s->closing) {
		len = 0;
		for (unsigned i = 0; i < niov; i++) {
			memcpy(s->frame + len, iov[i].iov_base, iov[i].iov_len);
			len += iov[i].iov_len;
		}
		slirp_input(s->slirp, s->frame, (int)len);
		/*
		 * A new connection may have created a socket the loop must watch,
		 * or data waiting for the host socket wants POLLOUT. Most frames
		 * change nothing: then the I/O thread is not woken at all.
		 */
		if (event_loop_in_thread(s->loop)) {
			sync_locked(s);
		} else {
			uint32_t timeout = UINT32_MAX;

			s->npfds = 0;
			slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
			if (mirror_differs_locked(s))
				kick_locked(s);
			else
				tick_arm_locked(s, timeout);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* On the I/O thread: drop every registration and slirp itself. */
static void close_on_loop(void *opaque)
{
	struct net_slirp *s = opaque;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->nw; i++)
		event_loop_del_fd(s->loop, s->w[i].fd);
	s->nw = 0;
	event_loop_timer_del(s->tick);
	s->tick = NULL;
	if (s->slirp)
		slirp_cleanup(s->slirp); /* frees slirp's timers through cb_timer_free */
	s->slirp = NULL;
	s->closed = true;
	pthread_cond_broadcast(&s->closed_cond);
	pthread_mutex_unlock(&s->lock);
}

static void slirp_close(struct net_backend *nb)
{
	struct net_slirp *s = container_of(nb, struct net_slirp, pub);

	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_mutex_unlock(&s->lock);
	if (s->loop && !event_loop_in_thread(s->loop) &&
	    event_loop_call(s->loop, close_on_loop, s) == 0) {
		/* Calls run in order, so everything queued before (kicks, timer frees) ran too. */
		pthread_mutex_lock(&s->lock);
		while (!s->closed)
			pthread_cond_wait(&s->closed_cond, &s->lock);
		pthread_mutex_unlock(&s->lock);
	} else {
		close_on_loop(s);
	}
	free(s->pfds);
	free(s->w);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->closed_cond);
	net_backend_fini(&s->pub);
	free(s);
}

static const struct net_backend_ops slirp_ops = { .send = slirp_send, .close = slirp_close };

int net_slirp_open(const struct net_hostfwd *fwds, unsigned nfwd, struct net_backend **out,
		   char *err, size_t errlen)
{
	struct net_slirp *s = calloc(1, sizeof(*s));
	SlirpConfig cfg = { .version = 1, .in_enabled = true };
	int rc;

	if (!s)
		return -ENOMEM;
	net_backend_init(&s->pub, &slirp_ops, "user");
	s->pub.rx_csum_valid = true;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->closed_cond, NULL);
	s->loop = event_loop_default();
	if (!s->loop) {
		rc = -ENOMEM;
		snprintf(err, errlen, "no I/O thread for user networking");
		goto fail;
	}
	rc = event_loop_timer_add(s->loop, 0, 0, tick_fired, s, &s->tick);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the network timer: %s", strerror(-rc));
		goto fail;
	}
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	cfg.vhostname = "petrel";
	cfg.if_mtu = 1500;
	cfg.if_mru = 1500;
	pthread_mutex_lock(&s->lock);
	s->slirp = slirp_new(&cfg, &slirp_cbs, s);
	pthread_mutex_unlock(&s->lock);
	if (!s->slirp) {
		rc = -ENOMEM;
		snprintf(err, errlen, "libslirp initialisation failed");
		goto fail;
	}
	for (unsigned i = 0; i < nfwd; i++) {
		char host[INET_ADDRSTRLEN];
		pthread_mutex_lock(&s->lock);
		rc = slirp_add_hostfwd(s->slirp, fwds[i].udp, fwds[i].host_addr, fwds[i].host_port,
				       fwds[i].guest_addr, fwds[i].guest_port);
		pthread_mutex_unlock(&s->lock);
		if (rc < 0) {
			inet_ntop(AF_INET, &fwds[i].host_addr, host, sizeof(host));
			snprintf(err, errlen,
				 "hostfwd %s %s:%u: cannot listen on the host port (in use?)",
				 fwds[i].udp ? "udp" : "tcp", host, fwds[i].host_port);
			rc = -EADDRINUSE;
			goto fail;
		}
	}
	/* Start watching the listening sockets of the hostfwd rules. */
	pthread_mutex_lock(&s->lock);
	kick_locked(s);
	pthread_mutex_unlock(&s->lock);
	*out = &s->pub;
	return 0;
fail:
	slirp_close(&s->pub);
	return rc;
}
