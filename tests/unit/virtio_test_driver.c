#include "virtio_test_driver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <cmocka.h>

#include "vm/machine.h"

static void vtd_queue_irq(struct virtio_dev *d, unsigned q)
{
	struct vtd *t = d->transport_priv;

	if (q < VIRTIO_MAX_QUEUES)
		t->queue_irqs[q]++;
}

static void vtd_config_irq(struct virtio_dev *d)
{
	((struct vtd *)d->transport_priv)->config_irqs++;
}

static const struct virtio_transport_ops vtd_transport = { vtd_queue_irq, vtd_config_irq };

void vtd_rings_reset(struct vtd *t)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct vtd_ring *g = &t->q[i];
		memset(g, 0, sizeof(*g));
		g->desc = 0x1000 + 0x3000ull * i;
		g->avail = g->desc + 0x1000;
		g->used = g->desc + 0x2000;
	}
}

void vtd_init(struct vtd *t, struct machine *m, struct virtio_dev *d, unsigned nq)
{
	memset(t, 0, sizeof(*t));
	t->m = m;
	t->d = d;
	t->nq = nq;
	t->buf_next = VTD_BUF;
	vtd_rings_reset(t);
	d->transport = &vtd_transport;
	d->transport_priv = t;
}

void vtd_bring_up(struct vtd *t, uint64_t features, unsigned nq)
{
	struct virtio_dev *d = t->d;

	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_int_equal(virtio_set_driver_features(d, features), 0);
	virtio_set_status(d, d->status | VIRTIO_STATUS_FEATURES_OK);
	assert_true(d->status & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned i = 0; i < nq; i++) {
		struct virtio_queue_cfg c = { .size = VTD_QSZ, .enabled = true, .desc = t->q[i].desc,
					      .avail = t->q[i].avail, .used = t->q[i].used };
		assert_int_equal(virtio_queue_set(d, i, &c), 0);
	}
	virtio_set_status(d, d->status | VIRTIO_STATUS_DRIVER_OK);
	assert_true(virtio_dev_live(d));
}

uint16_t vtd_post(struct vtd *t, unsigned q, const struct vtd_desc *ds, unsigned n, bool kick)
{
	struct vtd_ring *g = &t->q[q];
	uint16_t head = g->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint8_t raw[16];
		uint16_t idx = (uint16_t)((head + i) % VTD_QSZ);
		uint16_t next = (uint16_t)((head + i + 1) % VTD_QSZ);
		uint16_t flags = (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
					    (ds[i].write ? VIRTQ_DESC_F_WRITE : 0));
		memcpy(raw, &ds[i].addr, 8);
		memcpy(raw + 8, &ds[i].len, 4);
		memcpy(raw + 12, &flags, 2);
		memcpy(raw + 14, &next, 2);
		assert_int_equal(gmem_write(&t->m->mem, g->desc + 16ull * idx, raw, 16), 0);
	}
	g->next_desc = (uint16_t)((head + n) % VTD_QSZ);
	assert_int_equal(gmem_write(&t->m->mem, g->avail + 4 + 2 * (g->avail_idx % VTD_QSZ), &head, 2),
			 0);
	g->avail_idx++;
	assert_int_equal(gmem_write(&t->m->mem, g->avail + 2, &g->avail_idx, 2), 0);
	if (kick)
		virtio_queue_notify(t->d, q);
	return head;
}

int64_t vtd_used(struct vtd *t, unsigned q, uint16_t *id)
{
	struct vtd_ring *g = &t->q[q];
	uint16_t idx;
	uint32_t e[2];

	assert_int_equal(gmem_read(&t->m->mem, g->used + 2, &idx, 2), 0);
	if (idx == g->seen_used)
		return -1;
	assert_int_equal(gmem_read(&t->m->mem, g->used + 4 + 8 * (g->seen_used % VTD_QSZ), e, 8), 0);
	g->seen_used++;
	if (id)
		*id = (uint16_t)e[0];
	return e[1];
}

uint64_t vtd_put(struct vtd *t, const void *data, size_t len)
{
	uint64_t a = t->buf_next;

	if (data)
		assert_int_equal(gmem_write(&t->m->mem, a, data, len), 0);
	t->buf_next += (len + 15) & ~15ull;
	return a;
}
