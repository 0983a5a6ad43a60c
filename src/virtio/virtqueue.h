/*
 * Split virtqueues (virtio 1.2, section 2.7), checked against a malicious
 * driver. This file alone walks descriptor chains; devices receive checked
 * iovecs that lie wholly inside guest RAM.
 *
 * Rules enforced (each violation marks the queue broken, logs once and makes
 * every later call fail with -EIO; the device then sets DEVICE_NEEDS_RESET):
 *   - at enable: size a power of two <= the device maximum; descriptor table
 *     16-byte aligned, available ring 2-byte, used ring 4-byte aligned; each
 *     ring wholly in RAM;
 *   - the available index is never more than `size` ahead of what the device
 *     has consumed;
 *   - head and next indexes < size; a chain visits at most `size` descriptors
 *     (so loops stop), an indirect table at most its own entry count;
 *   - indirect descriptors only when negotiated, never nested, never with
 *     NEXT, table length a non-zero multiple of 16;
 *   - all device-readable buffers come before all device-writable ones;
 *   - every (address, length) lies in RAM, computed without overflow; total
 *     chain length fits in 32 bits;
 *   - each descriptor is copied out of guest memory before it is checked.
 */
#ifndef PETREL_VIRTIO_VIRTQUEUE_H
#define PETREL_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct guest_mem;

#define VQ_MAX_SIZE 1024     /* largest ring any Petrel device offers */
#define VQ_MAX_IOV 256       /* iovecs per chain (a long chain is refused, not truncated) */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct vq_elem {
	uint16_t head;           /* id to return with vq_push() */
	unsigned nr_out, nr_in;  /* iov[0..nr_out) readable, then nr_in writable */
	uint32_t out_len, in_len; /* total bytes each way */
	struct iovec iov[VQ_MAX_IOV];
};

/* A device-writable buffer of a chain in flight, as guest-physical range. */
struct vq_span {
	uint64_t gpa;
	uint64_t len;
};

struct virtqueue {
	struct guest_mem *gm;
	uint16_t max_size;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool enabled;
	bool broken;
	bool indirect_ok;        /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool event_idx;          /* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t last_avail;     /* next available-ring slot to consume */
	uint16_t used_idx;       /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx when we last interrupted the driver */
	bool signalled_valid;
	const char *name;        /* for the single log line */
	/* Called once when the queue breaks: the device sets DEVICE_NEEDS_RESET. */
	void (*on_broken)(void *opaque);
	void *opaque;
	/*
	 * Optional (set before vq_enable): told, in vq_push(), every
	 * device-writable range of the chain being returned, before the used
	 * index is published. The software CPU's decoded-code cache hears of
	 * DMA this way (machine_dma_written). Kept across vq_reset().
	 */
	void (*on_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *written_opaque;
	struct vq_span *wspans;  /* max_size * VQ_MAX_IOV, by head; with on_written */
	uint16_t *wspan_n;       /* writable ranges recorded for each head */
};

void vq_init(struct virtqueue *vq, struct guest_mem *gm, uint16_t max_size, const char *name);
/* Validate the ring layout and start the queue. -EINVAL (queue broken) on a bad layout,
 * -ENOMEM (queue broken) when on_written is set and its records cannot be allocated. */
int vq_enable(struct virtqueue *vq, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
	      bool indirect_ok, bool event_idx);
void vq_reset(struct virtqueue *vq);
/* Frees what vq_enable allocated for on_written; idempotent. */
void vq_fini(struct virtqueue *vq);
/* 1: an element was taken; 0: the ring is empty; -EIO: the queue is broken. */
int vq_pop(struct virtqueue *vq, struct vq_elem *elem);
/* Return an element to the driver with `len` bytes written. */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt now (honours EVENT_IDX and NO_INTERRUPT). */
bool vq_should_notify(struct virtqueue *vq);
/* Ask the driver for (or to suppress) notifications of new buffers. */
void vq_set_notify(struct virtqueue *vq, bool enable);
/* Mark the queue broken (also used by devices for request-level violations). */
void vq_break(struct virtqueue *vq, const char *why);

/* Copy helpers over an element's iovecs (checked ranges only). */
size_t vq_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t vq_buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);

#endif
