#include "virtio/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/net.h"
#include "util/compiler.h"
#include "util/log.h"

#define NET_QUEUE_MAX 256
#define RXQ 0
#define TXQ 1
#define HDR_LEN sizeof(struct virtio_net_hdr)
#define ETH_HLEN 14

_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio 1 net header");

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct pending {
	uint8_t *data;
	size_t len;
};

struct virtio_net {
	struct virtio_dev dev;
	struct net_backend *nb;
	struct net_config cfg;

	pthread_mutex_t rx_lock;    /* receive queue, pending frames */
	struct pending pend[VIRTIO_NET_RX_PENDING];
	unsigned pend_head, pend_count;
	struct vq_elem rx_elem[4];  /* chains of one frame (mergeable buffers) */

	pthread_mutex_t tx_lock;    /* transmit queue */
	struct vq_elem tx_elem;
	struct iovec tx_iov[VQ_MAX_IOV];
	uint8_t *tx_frame;          /* NET_MAX_FRAME bytes, allocated at the first NEEDS_CSUM */

	struct virtio_net_stats st; /* rx fields under rx_lock, tx fields under tx_lock */
};

static unsigned mac_counter;

/* Locally administered unicast: 02:50:xx:xx:xx:xx, distinct per process and device. */
static void mac_generate(uint8_t mac[6])
{
	uint32_t seed = (uint32_t)getpid() * 2654435761u +
			__atomic_fetch_add(&mac_counter, 1, __ATOMIC_RELAXED) * 40503u;

	mac[0] = 0x02;
	mac[1] = 0x50;
	memcpy(mac + 2, &seed, 4);
}

/*
 * Put one frame into the guest's receive buffers. Returns 1 when delivered
 * (or dropped as unfit), 0 when the guest has no buffer, -1 when the queue is
 * broken. Holds rx_lock.
 */
static int rx_one(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	struct virtqueue *vq = &n->dev.vq[RXQ];
	bool mrg = virtio_has_feature(&n->dev, VIRTIO_NET_F_MRG_RXBUF);
	unsigned max_chains = mrg ? ARRAY_SIZE(n->rx_elem) : 1;
	struct virtio_net_hdr hdr = { .gso_type = VIRTIO_NET_HDR_GSO_NONE, .num_buffers = 1 };
	uint32_t written[ARRAY_SIZE(n->rx_elem)];

	/* The backend built the frame with good checksums: the guest need not check them. */
	if (n->nb->rx_csum_valid && virtio_has_feature(&n->dev, VIRTIO_NET_F_GUEST_CSUM))
		hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	size_t done = 0;
	unsigned k = 0;

	while (k < max_chains && (k == 0 || done < len)) {
		struct vq_elem *e = &n->rx_elem[k];
		size_t room, skip = 0, chunk;
		int rc = vq_pop(vq, e);

		if (rc < 0)
			return -1;
		if (rc == 0) {
			if (k == 0)
				return 0;
			break; /* ran out mid-frame: deliver what fits (the guest drops it) */
		}
		/* Receive buffers are device-writable only and hold at least a header. */
		if (e->nr_out || e->in_len < HDR_LEN) {
			virtio_dev_broken(&n->dev, "receive buffer readable or shorter than the header");
			return -1;
		}
		room = e->in_len;
		if (k == 0) {
			skip = HDR_LEN;
			room -= HDR_LEN;
		}
		chunk = MIN(room, len - done);
		vq_buf_to_iov(&e->iov[0], e->nr_in, skip, frame + done, chunk);
		done += chunk;
		written[k] = (uint32_t)(skip + chunk);
		k++;
	}
	if (done < len) {
		n->st.rx_dropped++;
		if (!mrg) {
			/* Too big for the buffer: return it empty rather than truncated. */
			vq_push(vq, n->rx_elem[0].head, 0);
			return 1;
		}
	} else {
		n->st.rx_frames++;
		n->st.rx_bytes += len;
	}
	hdr.num_buffers = (uint16_t)k;
	vq_buf_to_iov(&n->rx_elem[0].iov[0], n->rx_elem[0].nr_in, 0, &hdr, HDR_LEN);
	for (unsigned i = 0; i < k; i++)
		vq_push(vq, n->rx_elem[i].head, written[i]);
	return 1;
}

/* Deliver held frames while the guest has buffers. Holds rx_lock. */
static bool rx_flush(struct virtio_net *n)
{
	bool pushed = false;

	while (n->pend_count) {
		struct pending *p = &n->pend[n->pend_head];
		int rc = rx_one(n, p->data, p->len);

		if (rc == 0)
			break;
		free(p->data);
		p->data = NULL;
		n->pend_head = (n->pend_head + 1) % VIRTIO_NET_RX_PENDING;
		n->pend_count--;
		if (rc < 0)
			break;
		pushed = true;
	}
	return pushed;
}

static void rx_drop_pending(struct virtio_net *n)
{
	while (n->pend_count) {
		free(n->pend[n->pend_head].data);
		n->pend[n->pend_head].data = NULL;
		n->pend_head = (n->pend_head + 1) % VIRTIO_NET_RX_PENDING;
		n->pend_count--;
	}
}

/* A frame from the network (backend thread). */
static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	bool pushed = false;

	pthread_mutex_lock(&n->rx_lock);
	if (!virtio_dev_live(&n->dev) || len > NET_MAX_FRAME) {
		n->st.rx_dropped++;
		goto out;
	}
	/* Keep order: frames already waiting go first. */
	if (n->pend_count == 0) {
		int rc = rx_one(n, frame, len);
		if (rc != 0) {
			pushed = rc > 0;
			goto out;
		}
	}
	if (n->pend_count == VIRTIO_NET_RX_PENDING) {
		n->st.rx_dropped++;
		goto out;
	}
	struct pending *p = &n->pend[(n->pend_head + n->pend_count) % VIRTIO_NET_RX_PENDING];
	p->data = malloc(len ? len : 1);
	if (!p->data) {
		n->st.rx_dropped++;
		goto out;
	}
	memcpy(p->data, frame, len);
	p->len = len;
	n->pend_count++;
	pushed = rx_flush(n);
out:
	if (pushed)
		virtio_queue_done(&n->dev, RXQ);
	pthread_mutex_unlock(&n->rx_lock);
}

static unsigned iov_skip(const struct iovec *iov, unsigned n, size_t skip, struct iovec *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = iov[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

/* The Internet checksum (RFC 1071) of buf, folded and complemented. */
static uint16_t inet_csum(const uint8_t *buf, size_t len)
{
	uint64_t sum = 0;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		sum += (w & 0xffffffffull) + (w >> 32);
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t w;
		memcpy(&w, buf + i, 2);
		sum += w;
	}
	if (i < len) {
		uint16_t w = 0;
		memcpy(&w, buf + i, 1); /* the odd byte, padded with a zero in memory order */
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * VIRTIO_NET_F_CSUM: the driver left the checksum from csum_start to the end
 * for us, with the pseudo-header sum already in the field at
 * csum_start + csum_offset (virtio 1.2, 5.1.6.2). Gathers the frame into
 * our own buffer (the chain is device-readable only), sums it and stores the
 * result there. false when the offsets do not fit the frame.
 */
static bool tx_checksum(struct virtio_net *n, const struct virtio_net_hdr *hdr, size_t flen)
{
	uint16_t sum;

	if (hdr->csum_start >= flen || flen - hdr->csum_start < 2u ||
	    hdr->csum_offset > flen - hdr->csum_start - 2u)
		return false;
	if (!n->tx_frame && !(n->tx_frame = malloc(NET_MAX_FRAME)))
		return false;
	vq_iov_to_buf(n->tx_elem.iov, n->tx_elem.nr_out, HDR_LEN, n->tx_frame, flen);
	sum = inet_csum(n->tx_frame + hdr->csum_start, flen - hdr->csum_start);
	/* A UDP checksum of 0 means "none"; send all ones instead (RFC 768), as Linux does. */
	if (sum == 0)
		sum = 0xffff;
	memcpy(n->tx_frame + hdr->csum_start + hdr->csum_offset, &sum, 2);
	n->tx_iov[0] = (struct iovec){ n->tx_frame, flen };
	return true;
}

static void net_tx(struct virtio_net *n)
{
	struct virtqueue *vq = &n->dev.vq[TXQ];
	struct vq_elem *e = &n->tx_elem;
	bool pushed = false;

	pthread_mutex_lock(&n->tx_lock);
	while (vq_pop(vq, e) > 0) {
		struct virtio_net_hdr hdr;
		size_t flen;
		unsigned k;

		/* Transmit chains are device-readable only and start with a header. */
		if (e->nr_in || e->out_len < HDR_LEN) {
			virtio_dev_broken(&n->dev, "transmit chain writable or shorter than the header");
			break;
		}
		vq_iov_to_buf(e->iov, e->nr_out, 0, &hdr, HDR_LEN);
		flen = e->out_len - HDR_LEN;
		/*
		 * Guest-controlled header: we offer no GSO, and checksum offload
		 * only with VIRTIO_NET_F_CSUM, so a frame asking for more is
		 * dropped; so is one that is not Ethernet-sized, or whose checksum
		 * offsets fall outside it.
		 */
		if (hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
		    ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		     !virtio_has_feature(&n->dev, VIRTIO_NET_F_CSUM)) ||
		    flen < ETH_HLEN || flen > NET_MAX_FRAME) {
			n->st.tx_dropped++;
		} else if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !tx_checksum(n, &hdr, flen)) {
			n->st.tx_dropped++;
		} else {
			if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
				k = 1; /* tx_checksum gathered it into tx_frame */
			else
				k = iov_skip(e->iov, e->nr_out, HDR_LEN, n->tx_iov);
			if (net_backend_send(n->nb, n->tx_iov, k) < 0)
				n->st.tx_dropped++;
			else {
				n->st.tx_frames++;
				n->st.tx_bytes += flen;
			}
		}
		vq_push(vq, e->head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_queue_done(&n->dev, TXQ);
	pthread_mutex_unlock(&n->tx_lock);
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *n = d->priv;

	if (q == TXQ) {
		net_tx(n);
	} else if (q == RXQ) {
		/* New receive buffers: deliver what was held. */
		pthread_mutex_lock(&n->rx_lock);
		if (rx_flush(n))
			virtio_queue_done(d, RXQ);
		pthread_mutex_unlock(&n->rx_lock);
	}
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	/* Taking both locks waits out a receive or transmit in progress. */
	pthread_mutex_lock(&n->rx_lock);
	rx_drop_pending(n);
	pthread_mutex_unlock(&n->rx_lock);
	pthread_mutex_lock(&n->tx_lock);
	pthread_mutex_unlock(&n->tx_lock);
}

static void net_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = d->priv;

	memcpy(buf, (const uint8_t *)&n->cfg + off, len);
}

static const struct virtio_dev_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.queue_max = NET_QUEUE_MAX,
	/*
	 * Checksum offload both ways: under emu the guest's own checksum loops
	 * run on the software CPU, and the frames from libslirp are built with
	 * good checksums anyway (DATA_VALID only for such backends).
	 */
	.features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
		    (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_MTU) |
		    (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM),
	.config_size = sizeof(struct net_config),
	.config_read = net_config_read,
	/* The MAC is read-only in virtio 1 (no VIRTIO_NET_F_CTRL_MAC_ADDR). */
	.reset = net_reset,
	.notify = net_notify,
};

int virtio_net_create_backend(struct machine *m, struct net_backend *nb, const uint8_t *mac,
			      struct virtio_net **out)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	int rc;

	if (!n)
		return -ENOMEM;
	n->nb = nb;
	if (mac)
		memcpy(n->cfg.mac, mac, 6);
	else
		mac_generate(n->cfg.mac);
	n->cfg.status = VIRTIO_NET_S_LINK_UP;
	n->cfg.max_virtqueue_pairs = 1;
	n->cfg.mtu = VIRTIO_NET_MTU;
	pthread_mutex_init(&n->rx_lock, NULL);
	pthread_mutex_init(&n->tx_lock, NULL);
	rc = virtio_dev_init(&n->dev, m, &net_ops, n);
	if (rc < 0) {
		pthread_mutex_destroy(&n->rx_lock);
		pthread_mutex_destroy(&n->tx_lock);
		free(n);
		return rc;
	}
	net_backend_set_receive(nb, net_receive, n);
	*out = n;
	return 0;
}

int virtio_net_create(struct machine *m, const char *spec, struct virtio_net **out, char *err,
		      size_t errlen)
{
	struct net_backend *nb;
	int rc = net_backend_open(spec, &nb, err, errlen);

	if (rc < 0)
		return rc;
	rc = virtio_net_create_backend(m, nb, NULL, out);
	if (rc < 0) {
		net_backend_close(nb);
		snprintf(err, errlen, "cannot create virtio-net: %s", strerror(-rc));
	}
	return rc;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	/* After this no frame reaches the device. */
	net_backend_set_receive(n->nb, NULL, NULL);
	net_backend_close(n->nb);
	rx_drop_pending(n);
	virtio_dev_fini(&n->dev);
	pthread_mutex_destroy(&n->rx_lock);
	pthread_mutex_destroy(&n->tx_lock);
	free(n->tx_frame);
	free(n);
}

struct virtio_dev *virtio_net_dev(struct virtio_net *n)
{
	return &n->dev;
}

void virtio_net_mac(struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->cfg.mac, 6);
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st)
{
	pthread_mutex_lock(&n->rx_lock);
	st->rx_frames = n->st.rx_frames;
	st->rx_dropped = n->st.rx_dropped;
	st->rx_bytes = n->st.rx_bytes;
	pthread_mutex_unlock(&n->rx_lock);
	pthread_mutex_lock(&n->tx_lock);
	st->tx_frames = n->st.tx_frames;
	st->tx_dropped = n->st.tx_dropped;
	st->tx_bytes = n->st.tx_bytes;
	pthread_mutex_unlock(&n->tx_lock);
}
