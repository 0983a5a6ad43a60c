/*
 * A fake virtio driver for the device unit tests: split rings in guest RAM
 * laid out per queue, descriptor chains posted like a guest driver would,
 * used elements read back, and a fake transport that counts interrupts.
 * Shared by tests/unit/test_virtio_*.c (each used to carry its own copy).
 *
 * Layout: queue i has its descriptor table at 0x1000 + 0x3000 i, available
 * ring 0x1000 further, used ring 0x2000 further; VTD_QSZ entries each.
 * vtd_put() hands out 16-byte aligned scratch space from VTD_BUF up.
 */
#ifndef PETREL_TESTS_VIRTIO_TEST_DRIVER_H
#define PETREL_TESTS_VIRTIO_TEST_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define VTD_QSZ 16
#define VTD_BUF 0x20000

struct vtd_ring {
	uint64_t desc, avail, used;
	uint16_t avail_idx, next_desc, seen_used;
};

/* One buffer of a chain: device-readable, or device-writable when write. */
struct vtd_desc {
	uint64_t addr;
	uint32_t len;
	bool write;
};

struct vtd {
	struct machine *m;
	struct virtio_dev *d;
	unsigned nq;
	struct vtd_ring q[VIRTIO_MAX_QUEUES];
	uint64_t buf_next;
	int queue_irqs[VIRTIO_MAX_QUEUES], config_irqs;
};

/* Rings for nq queues, and the fake transport installed on d. */
void vtd_init(struct vtd *t, struct machine *m, struct virtio_dev *d, unsigned nq);
/* Forget ring progress (after the device was reset), keep the layout. */
void vtd_rings_reset(struct vtd *t);
/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues 0..nq-1, DRIVER_OK; asserts it is live. */
void vtd_bring_up(struct vtd *t, uint64_t features, unsigned nq);
/* Post one chain of n buffers on queue q (descriptors used round-robin), kick if asked. */
uint16_t vtd_post(struct vtd *t, unsigned q, const struct vtd_desc *ds, unsigned n, bool kick);
/* Next used element of queue q: its length (id in *id), or -1 when there is none. */
int64_t vtd_used(struct vtd *t, unsigned q, uint16_t *id);
/* Copy data (NULL: only reserve) into scratch guest RAM; returns its address. */
uint64_t vtd_put(struct vtd *t, const void *data, size_t len);

#endif
