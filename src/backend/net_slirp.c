/*
 * User-mode networking with libslirp: the guest gets 10.0.2.15 by DHCP,
 * 10.0.2.2 is the host/gateway, 10.0.2.3 the DNS forwarder; outbound TCP and
 * UDP become host sockets; hostfwd rules forward host ports inward.
 *
 * libslirp is not thread-safe: every call into it holds `lock`. Its sockets
 * change from call to call (slirp_pollfds_fill), so the backend runs its own
 * poll thread rather than mirroring them into the shared epoll loop; slirp's
 * timers are kept in a list whose earliest deadline bounds the poll timeout.
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
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/log.h"

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;           /* -1: disarmed */
};

struct net_slirp {
	struct net_backend pub;
	Slirp *slirp;
	pthread_mutex_t lock;        /* every libslirp call, and the timer list */
	struct slirp_timer *timers;
	int wakefd;
	pthread_t thread;
	bool thread_started;
	bool stopping;
	struct pollfd *pfds;
	unsigned npfds, cap;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake(struct net_slirp *s)
{
	uint64_t one = 1;
	ssize_t r = write(s->wakefd, &one, sizeof(one));

	(void)r;
}

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

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	/* Called from inside slirp, so `lock` is already held. */
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;

	for (struct slirp_timer **pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct slirp_timer *)timer)->expire_ms = expire_ms;
	wake(opaque);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
	wake(opaque);
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

static int add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	short ev = 0;

	if (s->npfds == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 32;
		struct pollfd *p = realloc(s->pfds, cap * sizeof(*p));
		if (!p)
			return -1;
		s->pfds = p;
		s->cap = cap;
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

/* Run expired timers; return ms until the next one (or -1). Holds `lock`. */
static int run_timers(struct net_slirp *s)
{
	int64_t now = now_ns() / 1000000;
	int64_t next = -1;
	bool again = true;

	while (again) {
		again = false;
		for (struct slirp_timer *t = s->timers; t; t = t->next) {
			if (t->expire_ms >= 0 && t->expire_ms <= now) {
				t->expire_ms = -1;
				/* The callback may add, free or re-arm timers: rescan. */
				t->cb(t->cb_opaque);
				again = true;
				break;
			}
		}
	}
	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (next < 0 || t->expire_ms - now < next))
			next = t->expire_ms - now;
	return next < 0 ? -1 : (int)MIN(next, 60000);
}

static void *slirp_thread(void *arg)
{
	struct net_slirp *s = arg;

	for (;;) {
		uint32_t timeout = UINT32_MAX;
		int tmo, n, tnext;

		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		s->npfds = 0;
		add_poll(s->wakefd, SLIRP_POLL_IN, s);
		slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
		tnext = run_timers(s);
		pthread_mutex_unlock(&s->lock);

		tmo = timeout == UINT32_MAX ? -1 : (int)MIN(timeout, 60000u);
		if (tnext >= 0 && (tmo < 0 || tnext < tmo))
			tmo = tnext;
		n = poll(s->pfds, s->npfds, tmo);
		if (n < 0 && errno != EINTR) {
			log_error("net user: poll: %m");
			return NULL;
		}
		if (s->pfds[0].revents & POLLIN) {
			uint64_t v;
			ssize_t r = read(s->wakefd, &v, sizeof(v));
			(void)r;
		}
		pthread_mutex_lock(&s->lock);
		slirp_pollfds_poll(s->slirp, n < 0, get_revents, s);
		run_timers(s);
		pthread_mutex_unlock(&s->lock);
	}
}

static int slirp_send(struct net_backend *nb, const struct iovec *iov, unsigned niov)
{
	struct net_slirp *s = container_of(nb, struct net_slirp, pub);
	static __thread uint8_t frame[NET_MAX_FRAME];
	size_t len = 0;

	for (unsigned i = 0; i < niov; i++) {
		if (iov[i].iov_len > sizeof(frame) - len)
			return -EMSGSIZE;
		memcpy(frame + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	pthread_mutex_lock(&s->lock);
	slirp_input(s->slirp, frame, (int)len);
	pthread_mutex_unlock(&s->lock);
	/* A new connection may have created a socket the poll thread must watch. */
	wake(s);
	return 0;
}

static void slirp_close(struct net_backend *nb)
{
	struct net_slirp *s = container_of(nb, struct net_slirp, pub);

	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		pthread_mutex_unlock(&s->lock);
		wake(s);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp) {
		pthread_mutex_lock(&s->lock);
		slirp_cleanup(s->slirp);
		pthread_mutex_unlock(&s->lock);
	}
	while (s->timers) {
		struct slirp_timer *t = s->timers;
		s->timers = t->next;
		free(t);
	}
	if (s->wakefd >= 0)
		close(s->wakefd);
	free(s->pfds);
	pthread_mutex_destroy(&s->lock);
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
	pthread_mutex_init(&s->lock, NULL);
	s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wakefd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
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
	rc = -pthread_create(&s->thread, NULL, slirp_thread, s);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the network thread: %s", strerror(-rc));
		goto fail;
	}
	s->thread_started = true;
	*out = &s->pub;
	return 0;
fail:
	slirp_close(&s->pub);
	return rc;
}
