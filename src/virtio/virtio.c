#include "virtio/virtio.h"

#include <errno.h>
#include <string.h>

#include "util/compiler.h"
#include "util/log.h"
#include "vm/machine.h"

static void vq_broken_cb(void *opaque)
{
	struct virtio_dev *d = opaque;

	/* Called from inside a vq_* call made by the device; the core lock may be held elsewhere. */
	uint8_t old = __atomic_fetch_or(&d->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_SEQ_CST);

	if (old & VIRTIO_STATUS_NEEDS_RESET)
		return;
	if (d->transport && d->transport->config_interrupt)
		d->transport->config_interrupt(d);
}

static void virtio_reset_locked(struct virtio_dev *d)
{
	d->status = 0;
	d->driver_features = 0;
	d->config_msix = VIRTIO_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		d->qcfg[q] = (struct virtio_queue_cfg){
			.size = q < d->ops->nr_queues ? d->ops->queue_max : 0,
			.msix_vector = VIRTIO_NO_VECTOR,
		};
		vq_reset(&d->vq[q]);
	}
}

int virtio_dev_init(struct virtio_dev *d, struct machine *m, const struct virtio_dev_ops *ops,
		    void *priv)
{
	if (ops->nr_queues == 0 || ops->nr_queues > VIRTIO_MAX_QUEUES || ops->queue_max == 0 ||
	    ops->queue_max > VQ_MAX_SIZE || !IS_POW2(ops->queue_max))
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->m = m;
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vq_init(&d->vq[q], &m->mem, ops->queue_max, ops->name);
		d->vq[q].on_broken = vq_broken_cb;
		d->vq[q].opaque = d;
	}
	virtio_reset_locked(d);
	return 0;
}

void virtio_dev_fini(struct virtio_dev *d)
{
	if (d->ops)
		pthread_mutex_destroy(&d->lock);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vq_fini(&d->vq[q]);
	d->ops = NULL;
}

uint64_t virtio_device_features(const struct virtio_dev *d)
{
	return d->ops->features | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
	       (1ull << VIRTIO_F_EVENT_IDX);
}

bool virtio_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return bit < 64 && (d->driver_features >> bit) & 1;
}

int virtio_set_driver_features(struct virtio_dev *d, uint64_t features)
{
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	/* Features are only negotiable between DRIVER and FEATURES_OK. */
	if (d->status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK))
		rc = -EBUSY;
	else
		d->driver_features = features;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static void vq_written_cb(void *opaque, uint64_t gpa, uint64_t len)
{
	machine_dma_written(opaque, gpa, len);
}

static bool queues_valid_locked(struct virtio_dev *d)
{
	bool any = false;

	for (unsigned q = 0; q < d->ops->nr_queues; q++) {
		struct virtio_queue_cfg *c = &d->qcfg[q];
		if (!c->enabled)
			continue;
		/* Only an engine with a decoded-code cache needs to hear of device writes. */
		d->vq[q].on_written = __atomic_load_n(&d->m->dma_written, __ATOMIC_ACQUIRE)
					  ? vq_written_cb : NULL;
		d->vq[q].written_opaque = d->m;
		if (vq_enable(&d->vq[q], c->size, c->desc, c->avail, c->used,
			      virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC),
			      virtio_has_feature(d, VIRTIO_F_EVENT_IDX)) < 0)
			return false;
		any = true;
	}
	return any;
}

void virtio_set_status(struct virtio_dev *d, uint8_t status)
{
	uint8_t old;
	bool activate = false, config_irq = false;

	if (status == 0) {
		/*
		 * Quiesce the device (its backend threads may be inside vq_pop)
		 * before the queues are forgotten.
		 */
		if (d->ops->reset)
			d->ops->reset(d);
		pthread_mutex_lock(&d->lock);
		virtio_reset_locked(d);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	pthread_mutex_lock(&d->lock);
	old = d->status;
	/* The driver cannot clear bits or set NEEDS_RESET; only reset (0) clears. */
	status = (uint8_t)((status | old) & ~VIRTIO_STATUS_NEEDS_RESET) |
		 (old & VIRTIO_STATUS_NEEDS_RESET);
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t offered = virtio_device_features(d);
		/* Refuse feature sets we did not offer, and legacy drivers (no VERSION_1). */
		if ((d->driver_features & ~offered) ||
		    !virtio_has_feature(d, VIRTIO_F_VERSION_1))
			status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(status & VIRTIO_STATUS_FEATURES_OK) || !queues_valid_locked(d)) {
			/* A queue that failed its checks already raised the interrupt. */
			config_irq = !(d->status & VIRTIO_STATUS_NEEDS_RESET);
			status |= VIRTIO_STATUS_NEEDS_RESET;
			status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
			log_ratelimited(LOG_WARN, "%s: DRIVER_OK with invalid setup", d->ops->name);
		} else {
			activate = true;
		}
	}
	d->status = status;
	pthread_mutex_unlock(&d->lock);
	if (activate && d->ops->activate && d->ops->activate(d) < 0) {
		pthread_mutex_lock(&d->lock);
		d->status |= VIRTIO_STATUS_NEEDS_RESET;
		pthread_mutex_unlock(&d->lock);
		config_irq = true;
	}
	if (config_irq && d->transport && d->transport->config_interrupt)
		d->transport->config_interrupt(d);
}

int virtio_queue_set(struct virtio_dev *d, unsigned q, const struct virtio_queue_cfg *cfg)
{
	int rc = 0;

	if (q >= d->ops->nr_queues)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	/* Queue registers are frozen once the device runs (a CVE class in other VMMs). */
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		rc = -EBUSY;
	else
		d->qcfg[q] = *cfg;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void virtio_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	/* Guest-chosen offset and width: outside the config space reads as zero. */
	memset(buf, 0, len);
	if (off > d->ops->config_size || len > d->ops->config_size - off || !d->ops->config_read)
		return;
	d->ops->config_read(d, off, buf, len);
}

void virtio_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	if (off > d->ops->config_size || len > d->ops->config_size - off || !d->ops->config_write)
		return;
	d->ops->config_write(d, off, buf, len);
}

bool virtio_dev_live(struct virtio_dev *d)
{
	uint8_t s = __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);

	return (s & VIRTIO_STATUS_DRIVER_OK) && !(s & VIRTIO_STATUS_NEEDS_RESET);
}

void virtio_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q >= d->ops->nr_queues || !virtio_dev_live(d))
		return;
	if (d->ops->notify)
		d->ops->notify(d, q);
}

void virtio_queue_done(struct virtio_dev *d, unsigned q)
{
	if (q < d->ops->nr_queues && vq_should_notify(&d->vq[q]) && d->transport &&
	    d->transport->queue_interrupt)
		d->transport->queue_interrupt(d, q);
}

void virtio_dev_broken(struct virtio_dev *d, const char *why)
{
	pthread_mutex_lock(&d->lock);
	if (d->status & VIRTIO_STATUS_NEEDS_RESET) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&d->lock);
	log_warn("%s: driver error, device needs reset: %s", d->ops->name, why);
	if (d->transport && d->transport->config_interrupt)
		d->transport->config_interrupt(d);
}
