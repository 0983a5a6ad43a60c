/*
 * Network backends: an ops table so virtio-net is tested with a fake.
 * Frames cross this interface as plain Ethernet frames (no virtio header).
 * Received frames are delivered through on_receive on the backend's thread;
 * sends may come from any thread.
 */
#ifndef PETREL_BACKEND_NET_H
#define PETREL_BACKEND_NET_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct net_backend;

#define NET_MAX_FRAME 65536   /* largest frame either way (no GSO is offered) */
#define NET_MAX_HOSTFWD 16

struct net_backend_ops {
	/* Send one frame to the network. 0, or -errno (the frame is dropped). */
	int (*send)(struct net_backend *nb, const struct iovec *iov, unsigned niov);
	/* Stop delivering frames, then free the backend. */
	void (*close)(struct net_backend *nb);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;             /* "user", "tap" or a test's name */
	/* Installed by the device before frames can flow (net_backend_set_receive). */
	void (*on_receive)(void *opaque, const uint8_t *frame, size_t len);
	void *rx_opaque;
	pthread_mutex_t rx_lock;      /* orders delivery against set_receive */
	/*
	 * Received frames carry checksums the backend computed itself (libslirp
	 * builds every frame), so the guest need not verify them (DATA_VALID).
	 * False for frames from a real network (tap).
	 */
	bool rx_csum_valid;
};

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr;     /* INADDR_ANY when empty */
	uint16_t host_port;
	struct in_addr guest_addr;    /* the DHCP address (10.0.2.15) when empty */
	uint16_t guest_port;
};

/*
 * "user[,hostfwd=tcp::8080-:80][,hostfwd=...]" (libslirp: DHCP, DNS, outbound
 * TCP/UDP) or "tap,ifname=NAME". -EINVAL with a message for a bad spec.
 */
int net_backend_open(const char *spec, struct net_backend **out, char *err, size_t errlen);
/* Parse one "PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" rule. */
int net_parse_hostfwd(const char *s, struct net_hostfwd *fwd, char *err, size_t errlen);

int net_slirp_open(const struct net_hostfwd *fwds, unsigned nfwd, struct net_backend **out,
		   char *err, size_t errlen);
int net_tap_open(const char *ifname, struct net_backend **out, char *err, size_t errlen);

/* Backends (and test fakes) initialise the common part with this. */
void net_backend_init(struct net_backend *nb, const struct net_backend_ops *ops, const char *kind);
void net_backend_fini(struct net_backend *nb);
/* Backends hand a received frame to the device with this. */
void net_backend_deliver(struct net_backend *nb, const uint8_t *frame, size_t len);
/* Once this returns, no call to the old callback is running. */
void net_backend_set_receive(struct net_backend *nb,
			     void (*on_receive)(void *opaque, const uint8_t *frame, size_t len),
			     void *opaque);

static inline int net_backend_send(struct net_backend *nb, const struct iovec *iov, unsigned n)
{
	return nb->ops->send(nb, iov, n);
}

static inline void net_backend_close(struct net_backend *nb)
{
	if (nb && nb->ops && nb->ops->close)
		nb->ops->close(nb);
}

#endif
