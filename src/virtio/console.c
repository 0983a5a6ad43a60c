#include "virtio/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/chardev.h"
#include "util/compiler.h"
#include "util/log.h"

#define CON_QUEUE_MAX 128
#define RXQ 0  /* receiveq(port0): host to guest */
#define TXQ 1  /* transmitq(port0): guest to host */

struct con_config {
	uint16_t cols, rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

struct virtio_console {
	struct virtio_dev dev;
	struct chardev *cd;
	struct con_config cfg;

	pthread_mutex_t rx_lock;    /* receive queue and the input ring */
	uint8_t in[VIRTIO_CONSOLE_INBUF];
	size_t in_head, in_len;
	size_t dropped;
	struct vq_elem rx_elem;

	pthread_mutex_t tx_lock;    /* transmit queue */
	struct vq_elem tx_elem;
};

/* Move held input into receive buffers. Holds rx_lock; true when any was used. */
static bool con_rx_flush(struct virtio_console *c)
{
	struct virtqueue *vq = &c->dev.vq[RXQ];
	bool pushed = false;

	while (c->in_len && virtio_dev_live(&c->dev)) {
		struct vq_elem *e = &c->rx_elem;
		size_t done = 0;

		if (vq_pop(vq, e) <= 0)
			break;
		/* Receive buffers are device-writable only. */
		if (e->nr_out) {
			virtio_dev_broken(&c->dev, "console receive buffer is readable");
			break;
		}
		while (done < e->in_len && c->in_len) {
			size_t run = MIN(c->in_len, VIRTIO_CONSOLE_INBUF - c->in_head);
			run = MIN(run, e->in_len - done);
			vq_buf_to_iov(e->iov, e->nr_in, done, c->in + c->in_head, run);
			c->in_head = (c->in_head + run) % VIRTIO_CONSOLE_INBUF;
			c->in_len -= run;
			done += run;
		}
		vq_push(vq, e->head, (uint32_t)done);
		pushed = true;
	}
	return pushed;
}

/* Bytes the user typed (chardev reader thread). */
static void con_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = opaque;
	size_t space, n;

	pthread_mutex_lock(&c->rx_lock);
	space = VIRTIO_CONSOLE_INBUF - c->in_len;
	n = MIN(space, len);
	if (n < len) {
		c->dropped += len - n;
		log_ratelimited(LOG_WARN, "virtio-console: guest not reading, input dropped");
	}
	for (size_t i = 0; i < n; i++)
		c->in[(c->in_head + c->in_len + i) % VIRTIO_CONSOLE_INBUF] = buf[i];
	c->in_len += n;
	if (con_rx_flush(c))
		virtio_queue_done(&c->dev, RXQ);
	pthread_mutex_unlock(&c->rx_lock);
}

static void con_tx(struct virtio_console *c)
{
	struct virtqueue *vq = &c->dev.vq[TXQ];
	struct vq_elem *e = &c->tx_elem;
	bool pushed = false;

	pthread_mutex_lock(&c->tx_lock);
	while (vq_pop(vq, e) > 0) {
		/* Transmit buffers are device-readable only. */
		if (e->nr_in) {
			virtio_dev_broken(&c->dev, "console transmit buffer is writable");
			break;
		}
		for (unsigned i = 0; i < e->nr_out; i++)
			chardev_write(c->cd, e->iov[i].iov_base, e->iov[i].iov_len);
		vq_push(vq, e->head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_queue_done(&c->dev, TXQ);
	pthread_mutex_unlock(&c->tx_lock);
}

static void con_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *c = d->priv;

	if (q == TXQ) {
		con_tx(c);
	} else if (q == RXQ) {
		pthread_mutex_lock(&c->rx_lock);
		if (con_rx_flush(c))
			virtio_queue_done(d, RXQ);
		pthread_mutex_unlock(&c->rx_lock);
	}
}

static void con_reset(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	/* Input typed before the reset is kept for the next driver; wait out users. */
	pthread_mutex_lock(&c->rx_lock);
	pthread_mutex_unlock(&c->rx_lock);
	pthread_mutex_lock(&c->tx_lock);
	pthread_mutex_unlock(&c->tx_lock);
}

static void con_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_console *c = d->priv;

	memcpy(buf, (const uint8_t *)&c->cfg + off, len);
}

static const struct virtio_dev_ops con_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.queue_max = CON_QUEUE_MAX,
	.features = 0, /* no SIZE, MULTIPORT or EMERG_WRITE: one plain port */
	.config_size = sizeof(struct con_config),
	.config_read = con_config_read,
	.reset = con_reset,
	.notify = con_notify,
};

int virtio_console_create(struct machine *m, struct chardev *cd, struct virtio_console **out)
{
	struct virtio_console *c;
	int rc;

	if (!cd)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cd = cd;
	c->cfg = (struct con_config){ .cols = 80, .rows = 25, .max_nr_ports = 1 };
	pthread_mutex_init(&c->rx_lock, NULL);
	pthread_mutex_init(&c->tx_lock, NULL);
	rc = virtio_dev_init(&c->dev, m, &con_ops, c);
	if (rc < 0) {
		pthread_mutex_destroy(&c->rx_lock);
		pthread_mutex_destroy(&c->tx_lock);
		free(c);
		return rc;
	}
	chardev_set_input(cd, con_input, c);
	*out = c;
	return 0;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	chardev_set_input(c->cd, NULL, NULL);
	virtio_dev_fini(&c->dev);
	pthread_mutex_destroy(&c->rx_lock);
	pthread_mutex_destroy(&c->tx_lock);
	free(c);
}

struct virtio_dev *virtio_console_dev(struct virtio_console *c)
{
	return &c->dev;
}

size_t virtio_console_dropped(struct virtio_console *c)
{
	size_t n;

	pthread_mutex_lock(&c->rx_lock);
	n = c->dropped;
	pthread_mutex_unlock(&c->rx_lock);
	return n;
}
