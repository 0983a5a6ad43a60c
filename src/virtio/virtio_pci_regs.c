#include "virtio/virtio_pci_regs.h"

#include <string.h>

#include "bus/irq.h"
#include "util/log.h"

/* Common configuration offsets (virtio 1.2, 4.1.4.3) */
enum {
	CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10, CC_NUM_QUEUES = 0x12, CC_STATUS = 0x14, CC_CFG_GEN = 0x15,
	CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18, CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e, CC_Q_DESC = 0x20, CC_Q_AVAIL = 0x28, CC_Q_USED = 0x30,
};

void vpci_regs_init(struct vpci_regs *r, struct virtio_dev *dev, struct irq_router *irq,
		    unsigned intx_gsi)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->irq = irq;
	r->intx_gsi = intx_gsi;
	pthread_mutex_init(&r->lock, NULL);
	for (unsigned i = 0; i < VPCI_MSIX_VECTORS; i++)
		r->msix[i].ctrl = 1; /* masked at reset */
	dev->transport = &vpci_transport_ops;
	dev->transport_priv = r;
}

static void vpci_intx(struct vpci_regs *r, bool level)
{
	if (r->set_intx)
		r->set_intx(r->intx_opaque, level);
	else if (r->irq)
		irq_set_level(r->irq, r->intx_gsi, level);
}

void vpci_regs_fini(struct vpci_regs *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* Send MSI-X vector v, or remember it as pending while masked. Lock held. */
static void msix_fire_locked(struct vpci_regs *r, uint16_t v)
{
	struct vpci_msix_entry *e;

	if (v >= VPCI_MSIX_VECTORS)
		return; /* VIRTIO_NO_VECTOR or a vector we never offered: no interrupt */
	e = &r->msix[v];
	if (r->msix_masked || (e->ctrl & 1)) {
		r->msix_pending |= 1ull << v;
		return;
	}
	if (r->msi_fast && r->msi_fast(r->msi_fast_opaque, v,
				       ((uint64_t)e->addr_hi << 32) | e->addr_lo, e->data) == 0)
		return;
	irq_send_msi(r->irq, ((uint64_t)e->addr_hi << 32) | e->addr_lo, e->data);
}

static void vpci_interrupt(struct virtio_dev *d, bool config, unsigned q)
{
	struct vpci_regs *r = d->transport_priv;

	pthread_mutex_lock(&r->lock);
	if (r->msix_enabled) {
		msix_fire_locked(r, config ? d->config_msix : d->qcfg[q].msix_vector);
	} else {
		r->isr |= config ? 2 : 1;
		vpci_intx(r, true);
	}
	pthread_mutex_unlock(&r->lock);
}

static void vpci_queue_interrupt(struct virtio_dev *d, unsigned q)
{
	vpci_interrupt(d, false, q);
}

static void vpci_config_interrupt(struct virtio_dev *d)
{
	vpci_interrupt(d, true, 0);
}

const struct virtio_transport_ops vpci_transport_ops = {
	.queue_interrupt = vpci_queue_interrupt,
	.config_interrupt = vpci_config_interrupt,
};

void vpci_msix_control(struct vpci_regs *r, uint16_t control)
{
	pthread_mutex_lock(&r->lock);
	r->msix_enabled = (control >> 15) & 1;
	r->msix_masked = (control >> 14) & 1;
	if (r->msix_enabled && r->isr) /* leaving INTx mode: drop the line */
		vpci_intx(r, false);
	if (r->msix_enabled && !r->msix_masked) {
		uint64_t pend = r->msix_pending;
		r->msix_pending = 0;
		for (unsigned v = 0; v < VPCI_MSIX_VECTORS; v++)
			if (pend & (1ull << v))
				msix_fire_locked(r, (uint16_t)v);
	}
	pthread_mutex_unlock(&r->lock);
}

static uint64_t common_read(struct vpci_regs *r, uint64_t off, unsigned size)
{
	struct virtio_dev *d = r->dev;
	unsigned q = r->queue_select;
	bool qok = q < d->ops->nr_queues;
	uint64_t v = 0;

	pthread_mutex_lock(&d->lock);
	switch (off) {
	case CC_DFSELECT: v = r->dfselect; break;
	case CC_DF:
		v = r->dfselect < 2 ? (uint32_t)(virtio_device_features(d) >> (32 * r->dfselect)) : 0;
		break;
	case CC_GFSELECT: v = r->gfselect; break;
	case CC_GF:
		v = r->gfselect < 2 ? (uint32_t)(d->driver_features >> (32 * r->gfselect)) : 0;
		break;
	case CC_MSIX_CONFIG: v = d->config_msix; break;
	case CC_NUM_QUEUES: v = d->ops->nr_queues; break;
	case CC_STATUS: v = d->status; break;
	case CC_CFG_GEN: v = d->config_generation; break;
	case CC_Q_SELECT: v = r->queue_select; break;
	case CC_Q_SIZE: v = qok ? d->qcfg[q].size : 0; break;
	case CC_Q_MSIX: v = qok ? d->qcfg[q].msix_vector : VIRTIO_NO_VECTOR; break;
	case CC_Q_ENABLE: v = qok ? d->qcfg[q].enabled : 0; break;
	case CC_Q_NOFF: v = qok ? q : 0; break;
	case CC_Q_DESC: case CC_Q_DESC + 4:
		v = qok ? d->qcfg[q].desc >> (off == CC_Q_DESC ? 0 : 32) : 0; break;
	case CC_Q_AVAIL: case CC_Q_AVAIL + 4:
		v = qok ? d->qcfg[q].avail >> (off == CC_Q_AVAIL ? 0 : 32) : 0; break;
	case CC_Q_USED: case CC_Q_USED + 4:
		v = qok ? d->qcfg[q].used >> (off == CC_Q_USED ? 0 : 32) : 0; break;
	}
	pthread_mutex_unlock(&d->lock);
	if (size == 8 && (off == CC_Q_DESC || off == CC_Q_AVAIL || off == CC_Q_USED))
		v |= common_read(r, off + 4, 4) << 32;
	return v;
}

/* Replace the low or high half of a 64-bit queue address. */
static uint64_t set_half(uint64_t old, uint64_t off, uint64_t base, unsigned size, uint64_t v)
{
	if (size == 8)
		return v;
	if (off == base)
		return (old & ~0xffffffffull) | (uint32_t)v;
	return (old & 0xffffffffull) | ((uint64_t)(uint32_t)v << 32);
}

static void common_write(struct vpci_regs *r, uint64_t off, unsigned size, uint64_t v)
{
	struct virtio_dev *d = r->dev;
	unsigned q = r->queue_select;
	struct virtio_queue_cfg c;

	switch (off) {
	case CC_DFSELECT: r->dfselect = (uint32_t)v; return;
	case CC_GFSELECT: r->gfselect = (uint32_t)v; return;
	case CC_GF:
		if (r->gfselect >= 2)
			return;
		r->driver_features &= ~(0xffffffffull << (32 * r->gfselect));
		r->driver_features |= (uint64_t)(uint32_t)v << (32 * r->gfselect);
		/* Refused (ignored) once FEATURES_OK is set; the status check catches misuse. */
		virtio_set_driver_features(d, r->driver_features);
		return;
	case CC_MSIX_CONFIG:
		pthread_mutex_lock(&d->lock);
		d->config_msix = (uint16_t)v < VPCI_MSIX_VECTORS ? (uint16_t)v : VIRTIO_NO_VECTOR;
		pthread_mutex_unlock(&d->lock);
		return;
	case CC_STATUS:
		if ((uint8_t)v == 0) {
			r->driver_features = 0;
			pthread_mutex_lock(&r->lock);
			r->isr = 0;
			r->msix_pending = 0;
			pthread_mutex_unlock(&r->lock);
		}
		virtio_set_status(d, (uint8_t)v);
		return;
	case CC_Q_SELECT: r->queue_select = (uint16_t)v; return;
	}
	/* The rest configures the selected queue. */
	if (q >= d->ops->nr_queues)
		return;
	pthread_mutex_lock(&d->lock);
	c = d->qcfg[q];
	pthread_mutex_unlock(&d->lock);
	switch (off) {
	case CC_Q_SIZE:
		/* Guest-chosen size: vq_enable() checks power of two and maximum later. */
		c.size = (uint16_t)v;
		break;
	case CC_Q_MSIX:
		c.msix_vector = (uint16_t)v < VPCI_MSIX_VECTORS ? (uint16_t)v : VIRTIO_NO_VECTOR;
		break;
	case CC_Q_ENABLE:
		if ((uint16_t)v != 1)
			return; /* writing 0 is not allowed (virtio 1.2, 4.1.4.3.2) */
		c.enabled = true;
		break;
	case CC_Q_DESC: case CC_Q_DESC + 4:
		c.desc = set_half(c.desc, off, CC_Q_DESC, size, v);
		break;
	case CC_Q_AVAIL: case CC_Q_AVAIL + 4:
		c.avail = set_half(c.avail, off, CC_Q_AVAIL, size, v);
		break;
	case CC_Q_USED: case CC_Q_USED + 4:
		c.used = set_half(c.used, off, CC_Q_USED, size, v);
		break;
	default:
		return; /* read-only or reserved */
	}
	if (virtio_queue_set(d, q, &c) < 0)
		log_ratelimited(LOG_WARN, "%s: queue %u changed while running: ignored", d->ops->name, q);
}

static uint64_t msix_read(struct vpci_regs *r, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	pthread_mutex_lock(&r->lock);
	if (off >= VPCI_MSIX_PBA_OFF) {
		if (off - VPCI_MSIX_PBA_OFF < 8)
			v = r->msix_pending >> (8 * (off - VPCI_MSIX_PBA_OFF));
	} else {
		uint64_t idx = (off - VPCI_MSIX_TABLE_OFF) / 16, word = (off & 15) / 4;
		if (idx < VPCI_MSIX_VECTORS) {
			uint32_t *w = (uint32_t *)&r->msix[idx];
			v = w[word];
			if (size == 8 && word < 3)
				v |= (uint64_t)w[word + 1] << 32;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void msix_write(struct vpci_regs *r, uint64_t off, unsigned size, uint64_t v)
{
	uint64_t idx = (off - VPCI_MSIX_TABLE_OFF) / 16, word = (off & 15) / 4;

	if (off >= VPCI_MSIX_PBA_OFF || idx >= VPCI_MSIX_VECTORS)
		return; /* the PBA is read-only */
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < size / 4 && word + i < 4; i++) {
		uint32_t val = (uint32_t)(v >> (32 * i));
		uint32_t *w = (uint32_t *)&r->msix[idx];
		if (word + i == 3)
			val &= 1; /* vector control: only the mask bit */
		w[word + i] = val;
	}
	/* Unmasking a vector with a pending message sends it. */
	if (!(r->msix[idx].ctrl & 1) && (r->msix_pending & (1ull << idx)) && r->msix_enabled) {
		r->msix_pending &= ~(1ull << idx);
		msix_fire_locked(r, (uint16_t)idx);
	}
	pthread_mutex_unlock(&r->lock);
}

uint64_t vpci_bar_read(struct vpci_regs *r, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	if (off < VPCI_COMMON_OFF + VPCI_COMMON_LEN)
		return common_read(r, off, size);
	if (off >= VPCI_ISR_OFF && off < VPCI_ISR_OFF + VPCI_ISR_LEN) {
		/* Reading the ISR acknowledges the interrupt and lowers INTx. */
		pthread_mutex_lock(&r->lock);
		v = off == VPCI_ISR_OFF ? r->isr : 0;
		if (off == VPCI_ISR_OFF) {
			r->isr = 0;
			if (!r->msix_enabled)
				vpci_intx(r, false);
		}
		pthread_mutex_unlock(&r->lock);
		return v;
	}
	if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + VPCI_DEVICE_LEN) {
		virtio_config_read(r->dev, (uint32_t)(off - VPCI_DEVICE_OFF), &v, size);
		return v;
	}
	if (off >= VPCI_MSIX_TABLE_OFF && off < VPCI_MSIX_PBA_OFF + 8)
		return msix_read(r, off, size);
	return 0;
}

void vpci_bar_write(struct vpci_regs *r, uint64_t off, unsigned size, uint64_t value)
{
	if (off < VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
		common_write(r, off, size, value);
	} else if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + VPCI_DEVICE_LEN) {
		virtio_config_write(r->dev, (uint32_t)(off - VPCI_DEVICE_OFF), &value, size);
	} else if (off >= VPCI_NOTIFY_OFF && off < VPCI_NOTIFY_OFF + VPCI_NOTIFY_LEN) {
		/* The notify address tells the queue; the written value is the same index. */
		virtio_queue_notify(r->dev, (unsigned)((off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT));
	} else if (off >= VPCI_MSIX_TABLE_OFF && off < VPCI_MSIX_PBA_OFF + 8) {
		msix_write(r, off, size, value);
	}
}
