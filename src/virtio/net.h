/*
 * virtio-net (network device, virtio 1.2 section 5.1): one receive and one
 * transmit queue, a MAC, link status, mergeable receive buffers; frames go
 * to a network backend (libslirp user networking or a tap).
 */
#ifndef PETREL_VIRTIO_NET_H
#define PETREL_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

struct net_backend;
struct virtio_net;

/* Feature bits (virtio 1.2, 5.1.3) */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_MTU 1500
#define VIRTIO_NET_RX_PENDING 256   /* frames held while the guest has no buffers */

/* The header in front of every frame (VERSION_1 always has num_buffers). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

struct virtio_net_stats {
	uint64_t rx_frames, rx_dropped, tx_frames, tx_dropped;
	uint64_t rx_bytes, tx_bytes; /* frames delivered / sent, without virtio headers */
};

/* spec: "user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]..." (default) or "tap,ifname=NAME". */
int virtio_net_create(struct machine *m, const char *spec, struct virtio_net **out, char *err,
		      size_t errlen);
/* On an open backend (tests use a fake); takes ownership. mac NULL: generated. */
int virtio_net_create_backend(struct machine *m, struct net_backend *nb, const uint8_t *mac,
			      struct virtio_net **out);
void virtio_net_destroy(struct virtio_net *n);
struct virtio_dev *virtio_net_dev(struct virtio_net *n);
void virtio_net_mac(struct virtio_net *n, uint8_t mac[6]);
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st);

#endif
