/*
 * A host tap interface (/dev/net/tun, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR).
 * The vnet header size is set to 12 bytes, the virtio 1 layout; no offloads
 * are enabled (TUNSETOFFLOAD 0), so the header is all zero both ways and the
 * backend adds/strips it. The fd is watched by the shared I/O thread.
 */
#include "backend/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/event_loop.h"
#include "util/log.h"

#define TAP_VNET_HDR 12

struct net_tap {
	struct net_backend pub;
	int fd;
	struct event_loop *loop;
	bool watched;
	uint8_t buf[TAP_VNET_HDR + NET_MAX_FRAME];
};

static void tap_readable(void *opaque, int fd, uint32_t events)
{
	struct net_tap *t = opaque;

	/* Bounded batch, so one busy tap cannot starve the loop's other fds. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(fd, t->buf, sizeof(t->buf));
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_ratelimited(LOG_WARN, "net tap: read: %m");
			return;
		}
		if (n <= TAP_VNET_HDR)
			continue;
		net_backend_deliver(&t->pub, t->buf + TAP_VNET_HDR, (size_t)n - TAP_VNET_HDR);
	}
}

static int tap_send(struct net_backend *nb, const struct iovec *iov, unsigned niov)
{
	struct net_tap *t = container_of(nb, struct net_tap, pub);
	static const uint8_t hdr[TAP_VNET_HDR];
	struct iovec v[257]; /* a virtqueue chain has at most 256 */
	ssize_t n;

	if (niov + 1 > ARRAY_SIZE(v))
		return -EMSGSIZE;
	v[0].iov_base = (void *)hdr;
	v[0].iov_len = sizeof(hdr);
	memcpy(&v[1], iov, niov * sizeof(*iov));
	n = writev(t->fd, v, (int)niov + 1);
	/* A full host queue drops the frame, as a real NIC would. */
	return n < 0 ? -errno : 0;
}

static void tap_close(struct net_backend *nb)
{
	struct net_tap *t = container_of(nb, struct net_tap, pub);

	if (t->watched)
		event_loop_del_fd(t->loop, t->fd);
	if (t->fd >= 0)
		close(t->fd);
	net_backend_fini(&t->pub);
	free(t);
}

static const struct net_backend_ops tap_ops = { .send = tap_send, .close = tap_close };

int net_tap_open(const char *ifname, struct net_backend **out, char *err, size_t errlen)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	struct ifreq ifr = { 0 };
	int hdr = TAP_VNET_HDR, rc;

	if (!t)
		return -ENOMEM;
	net_backend_init(&t->pub, &tap_ops, "tap");
	if (strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap interface name '%s' longer than %d", ifname,
			 IFNAMSIZ - 1);
		rc = -EINVAL;
		t->fd = -1;
		goto fail;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(errno));
		goto fail;
	}
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot attach to tap %s: %s%s", ifname, strerror(errno),
			 errno == EPERM ? " (needs CAP_NET_ADMIN or a tap owned by this user)" : "");
		goto fail;
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(t->fd, TUNSETOFFLOAD, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: cannot set the vnet header: %s", ifname,
			 strerror(errno));
		goto fail;
	}
	t->loop = event_loop_default();
	if (!t->loop) {
		rc = -ENOMEM;
		snprintf(err, errlen, "no I/O thread for tap %s", ifname);
		goto fail;
	}
	rc = event_loop_add_fd(t->loop, t->fd, EPOLLIN, tap_readable, t);
	if (rc < 0) {
		snprintf(err, errlen, "tap %s: cannot watch the fd: %s", ifname, strerror(-rc));
		goto fail;
	}
	t->watched = true;
	*out = &t->pub;
	return 0;
fail:
	tap_close(&t->pub);
	return rc;
}
