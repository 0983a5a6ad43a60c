#include "virtio/virtqueue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "util/compiler.h"
#include "util/log.h"

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* The driver writes ring fields concurrently, so every access is atomic. */
static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void vq_init(struct virtqueue *vq, struct guest_mem *gm, uint16_t max_size, const char *name)
{
	memset(vq, 0, sizeof(*vq));
	vq->gm = gm;
	vq->max_size = max_size > VQ_MAX_SIZE ? VQ_MAX_SIZE : max_size;
	vq->name = name ? name : "virtqueue";
}

void vq_reset(struct virtqueue *vq)
{
	struct guest_mem *gm = vq->gm;
	uint16_t max = vq->max_size;
	const char *name = vq->name;
	void (*on_broken)(void *) = vq->on_broken;
	void *opaque = vq->opaque;
	void (*on_written)(void *, uint64_t, uint64_t) = vq->on_written;
	void *written_opaque = vq->written_opaque;
	struct vq_span *wspans = vq->wspans;
	uint16_t *wspan_n = vq->wspan_n;

	vq_init(vq, gm, max, name);
	vq->on_broken = on_broken;
	vq->opaque = opaque;
	vq->on_written = on_written;
	vq->written_opaque = written_opaque;
	vq->wspans = wspans;
	vq->wspan_n = wspan_n;
	if (wspan_n)
		memset(wspan_n, 0, sizeof(*wspan_n) * max);
}

void vq_fini(struct virtqueue *vq)
{
	free(vq->wspans);
	free(vq->wspan_n);
	vq->wspans = NULL;
	vq->wspan_n = NULL;
}

void vq_break(struct virtqueue *vq, const char *why)
{
	if (vq->broken)
		return;
	vq->broken = true;
	log_warn("%s: driver error, queue stopped: %s", vq->name, why);
	if (vq->on_broken)
		vq->on_broken(vq->opaque);
}

int vq_enable(struct virtqueue *vq, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
	      bool indirect_ok, bool event_idx)
{
	/* Guest-chosen ring size and addresses: checked once here, used unchecked after. */
	if (!IS_POW2(size) || size > vq->max_size) {
		vq_break(vq, "queue size is not a power of two within the maximum");
		return -EINVAL;
	}
	if ((desc & 15) || (avail & 1) || (used & 3)) {
		vq_break(vq, "ring misaligned");
		return -EINVAL;
	}
	if (!gmem_ptr(vq->gm, desc, 16ull * size) || !gmem_ptr(vq->gm, avail, 6ull + 2ull * size) ||
	    !gmem_ptr(vq->gm, used, 6ull + 8ull * size)) {
		vq_break(vq, "ring outside guest RAM");
		return -EINVAL;
	}
	if (vq->on_written && !vq->wspans) {
		/* Virtual size ~ max_size * 4 KiB; only the heads in use are touched. */
		vq->wspans = calloc((size_t)vq->max_size * VQ_MAX_IOV, sizeof(*vq->wspans));
		vq->wspan_n = calloc(vq->max_size, sizeof(*vq->wspan_n));
		if (!vq->wspans || !vq->wspan_n) {
			vq_fini(vq);
			vq_break(vq, "out of memory for the DMA records");
			return -ENOMEM;
		}
	}
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->indirect_ok = indirect_ok;
	vq->event_idx = event_idx;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->enabled = true;
	return 0;
}

/* Append [addr, addr+len) to the element, split at RAM region boundaries. */
static int vq_map(struct virtqueue *vq, struct vq_elem *e, uint64_t addr, uint32_t len, bool write)
{
	uint32_t *total = write ? &e->in_len : &e->out_len;

	if (len > UINT32_MAX - *total)
		return -EINVAL;
	*total += len;
	while (len > 0) {
		const struct gmem_region *r = gmem_region_of(vq->gm, addr);
		uint64_t chunk;
		void *p;

		if (!r)
			return -EFAULT;
		chunk = MIN((uint64_t)len, r->size - (addr - r->gpa));
		p = gmem_ptr(vq->gm, addr, chunk);
		if (!p)
			return -EFAULT;
		if (e->nr_out + e->nr_in >= VQ_MAX_IOV)
			return -E2BIG;
		e->iov[e->nr_out + e->nr_in] = (struct iovec){ p, chunk };
		/* e->head < size <= max_size and nr_in < VQ_MAX_IOV (checked above). */
		if (write && vq->wspans)
			vq->wspans[(size_t)e->head * VQ_MAX_IOV + e->nr_in] = (struct vq_span){ addr, chunk };
		if (write)
			e->nr_in++;
		else
			e->nr_out++;
		addr += chunk;
		len -= (uint32_t)chunk;
	}
	return 0;
}

/* Copy descriptor i of a table at `table` with `n` entries; the copy is then checked. */
static int vq_read_desc(struct virtqueue *vq, uint64_t table, uint32_t n, uint32_t i,
			struct vring_desc *d)
{
	if (i >= n)
		return -EINVAL;
	return gmem_read(vq->gm, table + 16ull * i, d, sizeof(*d));
}

/* Walk one chain (direct or indirect table); fails with a reason on any violation. */
static const char *vq_walk(struct virtqueue *vq, struct vq_elem *e, uint64_t table, uint32_t n,
			   uint32_t first, bool in_indirect)
{
	struct vring_desc d;
	uint32_t i = first;
	uint32_t visited = 0;
	int rc;

	for (;;) {
		if (++visited > n)
			return "descriptor chain longer than its table (loop?)";
		if (vq_read_desc(vq, table, n, i, &d) < 0)
			return "descriptor index out of range";
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect_ok)
				return "indirect descriptor not negotiated";
			if (in_indirect)
				return "nested indirect descriptor";
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return "indirect descriptor with NEXT";
			if (d.len == 0 || (d.len & 15))
				return "indirect table length not a non-zero multiple of 16";
			if (!gmem_is_ram(vq->gm, d.addr, d.len))
				return "indirect table outside guest RAM";
			/* Normal descriptors may precede one final indirect one: devices must accept that. */
			return vq_walk(vq, e, d.addr, d.len / 16, 0, true);
		}
		if (!(d.flags & VIRTQ_DESC_F_WRITE) && e->nr_in > 0)
			return "device-readable buffer after a device-writable one";
		rc = vq_map(vq, e, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE);
		if (rc == -E2BIG)
			return "too many buffers in one chain";
		if (rc < 0)
			return "buffer outside guest RAM or too long";
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return NULL;
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_elem *e)
{
	uint16_t *avail = gmem_ptr(vq->gm, vq->avail_gpa, 6ull + 2ull * vq->size);
	uint16_t avail_idx, head;
	const char *why;

	if (vq->broken)
		return -EIO;
	if (!vq->enabled || !avail)
		return 0;
	avail_idx = load16(&avail[1]);
	if (avail_idx == vq->last_avail)
		return 0;
	/* Driver-written index: it can be at most one full ring ahead of us. */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		vq_break(vq, "available index too far ahead");
		return -EIO;
	}
	head = load16(&avail[2 + (vq->last_avail & (vq->size - 1))]);
	if (head >= vq->size) {
		vq_break(vq, "head descriptor index out of range");
		return -EIO;
	}
	e->head = head;
	e->nr_in = e->nr_out = 0;
	e->in_len = e->out_len = 0;
	why = vq_walk(vq, e, vq->desc_gpa, vq->size, head, false);
	if (why) {
		vq_break(vq, why);
		return -EIO;
	}
	/*
	 * A driver that posts a head again while it is in flight overwrites its
	 * record: the first push then reports the second chain's ranges. That
	 * only hurts the guest's own view of its code, never the VMM.
	 */
	if (vq->wspan_n)
		vq->wspan_n[head] = (uint16_t)e->nr_in;
	vq->last_avail++;
	if (vq->event_idx) {
		/* Publish how far we have read: avail_event is the last field of the used ring. */
		uint16_t *used = gmem_ptr(vq->gm, vq->used_gpa, 6ull + 8ull * vq->size);
		store16(&used[2 + 4 * vq->size], vq->last_avail);
	}
	return 1;
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint8_t *used = gmem_ptr(vq->gm, vq->used_gpa, 6ull + 8ull * vq->size);
	uint32_t elem[2] = { head, len };

	if (vq->broken)
		return -EIO;
	if (!vq->enabled || !used || head >= vq->size)
		return -EINVAL;
	/* Before the used index moves: the driver may act on the data at once. */
	if (vq->on_written && vq->wspan_n) {
		const struct vq_span *sp = &vq->wspans[(size_t)head * VQ_MAX_IOV];
		for (unsigned i = 0; i < vq->wspan_n[head]; i++)
			vq->on_written(vq->written_opaque, sp[i].gpa, sp[i].len);
		vq->wspan_n[head] = 0;
	}
	memcpy(used + 4 + 8 * (vq->used_idx & (vq->size - 1)), elem, sizeof(elem));
	vq->used_idx++;
	store16((uint16_t *)(used + 2), vq->used_idx);
	return 0;
}

bool vq_should_notify(struct virtqueue *vq)
{
	uint16_t *avail = gmem_ptr(vq->gm, vq->avail_gpa, 6ull + 2ull * vq->size);
	uint16_t old, event;
	bool notify;

	if (!vq->enabled || vq->broken || !avail)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	event = load16(&avail[2 + vq->size]); /* used_event */
	notify = !vq->signalled_valid ||
		 (uint16_t)(vq->used_idx - event - 1) < (uint16_t)(vq->used_idx - old);
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	return notify;
}

void vq_set_notify(struct virtqueue *vq, bool enable)
{
	uint16_t *used = gmem_ptr(vq->gm, vq->used_gpa, 6ull + 8ull * vq->size);

	if (!vq->enabled || vq->broken || !used)
		return;
	if (vq->event_idx)
		store16(&used[2 + 4 * vq->size], vq->last_avail);
	else
		store16(&used[0], enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

size_t vq_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		l = MIN(l - skip, len - done);
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

size_t vq_buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		l = MIN(l - skip, len - done);
		memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, l);
		done += l;
		skip = 0;
	}
	return done;
}
