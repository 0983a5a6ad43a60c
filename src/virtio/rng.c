#include "virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_dev dev;
	pthread_mutex_t lock;  /* one request walk at a time */
	struct vq_elem elem;
	uint64_t bytes;        /* statistics: entropy handed out */
};

/* Fill every writable buffer the driver offers. */
static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_rng *r = d->priv;
	bool done = false;

	pthread_mutex_lock(&r->lock);
	while (vq_pop(&d->vq[0], &r->elem) > 0) {
		uint32_t written = 0;

		for (unsigned i = r->elem.nr_out; i < r->elem.nr_out + r->elem.nr_in; i++) {
			uint8_t *p = r->elem.iov[i].iov_base;
			size_t left = r->elem.iov[i].iov_len;

			while (left > 0) {
				ssize_t n = getrandom(p, left, 0);
				if (n <= 0)
					break;
				p += n;
				left -= (size_t)n;
				written += (uint32_t)n;
			}
		}
		r->bytes += written;
		vq_push(&d->vq[0], r->elem.head, written);
		done = true;
	}
	pthread_mutex_unlock(&r->lock);
	if (done)
		virtio_queue_done(d, 0);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_max = 256,
	.notify = rng_notify,
};

int virtio_rng_create(struct machine *m, struct virtio_rng **out)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	rc = virtio_dev_init(&r->dev, m, &rng_ops, r);
	if (rc < 0) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	virtio_dev_fini(&r->dev);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *r)
{
	return &r->dev;
}
