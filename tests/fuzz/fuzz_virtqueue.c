/*
 * Fuzz the virtqueue walker: the input is the guest's memory (descriptor
 * table, rings, indirect tables) plus the ring layout. Every pop must either
 * return in-RAM iovecs or break the queue; never crash or loop. With flag
 * bit 2 the DMA hook is on: every range vq_push reports (for the software
 * CPU's code cache) must be a writable buffer of the chain, inside RAM.
 */
#include <stdint.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "util/log.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t written_bytes, expect_bytes;

static void on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		__builtin_trap();
	written_bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static struct vq_elem e;
	struct virtqueue vq;
	uint16_t qsz;
	uint32_t desc, avail, used;
	uint8_t flags;

	if (size < 16)
		return 0;
	log_set_level(LOG_ERROR); /* broken queues are expected here */
	if (!gm.nr_regions && gmem_init_x86(&gm, RAM_SIZE, 0xc0000000) < 0)
		return 0;
	memcpy(&qsz, data, 2);
	memcpy(&desc, data + 2, 4);
	memcpy(&avail, data + 6, 4);
	memcpy(&used, data + 10, 4);
	flags = data[14];
	memset(gm.regions[0].host, 0, RAM_SIZE);
	memcpy(gm.regions[0].host, data + 16, size - 16 > RAM_SIZE ? RAM_SIZE : size - 16);

	vq_init(&vq, &gm, 256, "fuzz");
	if (flags & 4) {
		vq.on_written = on_written;
		vq.written_opaque = &gm;
	}
	if (vq_enable(&vq, qsz, desc % RAM_SIZE, avail % RAM_SIZE, used % RAM_SIZE, flags & 1,
		      flags & 2) < 0)
		return 0;
	for (int i = 0; i < 64; i++) {
		int rc = vq_pop(&vq, &e);
		if (rc <= 0)
			break;
		for (unsigned k = 0; k < e.nr_out + e.nr_in; k++) {
			/* Every iovec must lie inside guest RAM. */
			uint8_t *p = e.iov[k].iov_base;
			if (p < gm.regions[0].host || p + e.iov[k].iov_len > gm.regions[0].host + RAM_SIZE)
				__builtin_trap();
		}
		written_bytes = 0;
		expect_bytes = (flags & 4) ? e.in_len : 0;
		vq_push(&vq, e.head, e.in_len);
		/* Exactly the chain's writable bytes were reported. */
		if (written_bytes != expect_bytes)
			__builtin_trap();
		vq_should_notify(&vq);
	}
	vq_fini(&vq);
	return 0;
}
