#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/net.h"
#include "util/log.h"
#include "virtio/net.h"
#include "virtio_test_driver.h"
#include "vm/machine.h"

#define QSZ VTD_QSZ
#define BUF VTD_BUF

/* A backend that records what the device sends. */
struct fake_net {
	struct net_backend pub;
	uint8_t last[2048];
	size_t last_len;
	int sent;
	int fail;
};

static int fake_send(struct net_backend *nb, const struct iovec *iov, unsigned niov)
{
	struct fake_net *f = (struct fake_net *)nb;
	size_t len = 0;

	if (f->fail)
		return -f->fail;
	for (unsigned i = 0; i < niov; i++) {
		assert_true(len + iov[i].iov_len <= sizeof(f->last));
		memcpy(f->last + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	f->last_len = len;
	f->sent++;
	return 0;
}

static void fake_close(struct net_backend *nb)
{
	net_backend_fini(nb);
	free(nb);
}

static const struct net_backend_ops fake_ops = { fake_send, fake_close };

struct rig {
	struct machine m;
	struct fake_net *be;
	struct virtio_net *net;
	struct virtio_dev *d;
	struct vtd t;  /* the fake driver and transport */
};

static const uint8_t test_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

/* The shared fake driver (virtio_test_driver.c), under the names these tests use. */
static void post(struct rig *r, unsigned q, const struct vtd_desc *ds, unsigned n, bool kick)
{
	vtd_post(&r->t, q, ds, n, kick);
}

static int64_t used(struct rig *r, unsigned q, uint16_t *id)
{
	return vtd_used(&r->t, q, id);
}

static uint64_t put(struct rig *r, const void *data, size_t len)
{
	return vtd_put(&r->t, data, len);
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, 0xc0000000), 0);
	r->be = calloc(1, sizeof(*r->be));
	net_backend_init(&r->be->pub, &fake_ops, "fake");
	assert_int_equal(virtio_net_create_backend(&r->m, &r->be->pub, test_mac, &r->net), 0);
	r->d = virtio_net_dev(r->net);
	vtd_init(&r->t, &r->m, r->d, 2);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_net_destroy(r->net);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static void bring_up(struct rig *r, uint64_t extra)
{
	vtd_bring_up(&r->t, (1ull << VIRTIO_F_VERSION_1) | extra, 2);
}

/* Next used element of queue q: returns its length, -1 when none. */
static void frame_fill(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 13);
}

static void test_config(void **state)
{
	struct rig *r = *state;
	uint8_t mac[6];
	uint16_t status, mtu, pairs;
	uint64_t f = virtio_device_features(r->d);
	struct virtio_net *other;
	struct fake_net *be2 = calloc(1, sizeof(*be2));
	uint8_t mac2[6];

	virtio_config_read(r->d, 0, mac, 6);
	virtio_config_read(r->d, 6, &status, 2);
	virtio_config_read(r->d, 8, &pairs, 2);
	virtio_config_read(r->d, 10, &mtu, 2);
	assert_memory_equal(mac, test_mac, 6);
	assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(pairs, 1);
	assert_int_equal(mtu, 1500);
	assert_true(f & (1ull << VIRTIO_NET_F_MAC));
	assert_true(f & (1ull << VIRTIO_NET_F_STATUS));
	assert_true(f & (1ull << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & (1ull << VIRTIO_NET_F_CSUM));
	assert_true(f & (1ull << VIRTIO_NET_F_GUEST_CSUM));

	/* Generated MACs: locally administered unicast, different per device. */
	net_backend_init(&be2->pub, &fake_ops, "fake");
	assert_int_equal(virtio_net_create_backend(&r->m, &be2->pub, NULL, &other), 0);
	virtio_net_mac(other, mac);
	assert_int_equal(mac[0] & 3, 2);
	struct fake_net *be3 = calloc(1, sizeof(*be3));
	struct virtio_net *third;
	net_backend_init(&be3->pub, &fake_ops, "fake");
	assert_int_equal(virtio_net_create_backend(&r->m, &be3->pub, NULL, &third), 0);
	virtio_net_mac(third, mac2);
	assert_memory_not_equal(mac, mac2, 6);
	virtio_net_destroy(other);
	virtio_net_destroy(third);
}

static void test_transmit(void **state)
{
	struct rig *r = *state;
	uint8_t hdr[12] = { 0 }, frame[60];
	struct virtio_net_stats st;

	bring_up(r, 0);
	frame_fill(frame, sizeof(frame), 1);
	struct vtd_desc one[1] = { { 0, 72, false } };
	uint8_t both[72];
	memcpy(both, hdr, 12);
	memcpy(both + 12, frame, 60);
	one[0].addr = put(r, both, 72);
	post(r, 1, one, 1, true);
	assert_int_equal(r->be->sent, 1);
	assert_int_equal(r->be->last_len, 60);
	assert_memory_equal(r->be->last, frame, 60);
	assert_int_equal(used(r, 1, NULL), 0);
	assert_int_equal(r->t.queue_irqs[1], 1);

	/* Header split over two descriptors, frame over two more. */
	frame_fill(frame, sizeof(frame), 7);
	struct vtd_desc four[4] = { { put(r, hdr, 5), 5, false }, { put(r, hdr + 5, 7), 7, false },
			     { put(r, frame, 20), 20, false }, { put(r, frame + 20, 40), 40, false } };
	post(r, 1, four, 4, true);
	assert_int_equal(r->be->sent, 2);
	assert_int_equal(r->be->last_len, 60);
	assert_memory_equal(r->be->last, frame, 60);

	/* Offloads we never offered, and runt frames: dropped, buffer still returned. */
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	memcpy(both, hdr, 12);
	one[0].addr = put(r, both, 72);
	post(r, 1, one, 1, true);
	hdr[0] = 0;
	hdr[1] = 1; /* GSO_TCPV4 */
	memcpy(both, hdr, 12);
	one[0].addr = put(r, both, 72);
	post(r, 1, one, 1, true);
	hdr[1] = 0;
	memcpy(both, hdr, 12);
	one[0].addr = put(r, both, 20);
	one[0].len = 20;
	post(r, 1, one, 1, true);
	/* A backend failure counts as a drop. */
	r->be->fail = ENOBUFS;
	one[0].len = 72;
	post(r, 1, one, 1, true);
	assert_int_equal(r->be->sent, 2);
	for (int i = 0; i < 5; i++)
		assert_int_equal(used(r, 1, NULL), 0);
	assert_int_equal(used(r, 1, NULL), -1);
	virtio_net_get_stats(r->net, &st);
	assert_int_equal(st.tx_frames, 2);
	assert_int_equal(st.tx_dropped, 4);
	assert_true(virtio_dev_live(r->d));
}

/* RFC 1071 the slow way, for checking the device's sum. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * VIRTIO_NET_F_CSUM: the device fills the checksum from csum_start to the
 * end (the field holds the pseudo-header sum) without touching the guest's
 * buffer; offsets outside the frame drop it. GUEST_CSUM: frames from a
 * backend that built them are marked DATA_VALID, others not.
 */
static void test_checksum_offload(void **state)
{
	struct rig *r = *state;
	uint8_t both[12 + 75], frame[75], copy[12 + 75], got[12 + 60];
	struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				    .csum_offset = 16 };
	struct virtio_net_stats st;
	uint16_t want;

	bring_up(r, (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM));
	frame_fill(frame, sizeof(frame), 5); /* odd length: the last byte is padded */
	frame[50] = 0x12;
	frame[51] = 0x34; /* "pseudo-header sum" */
	want = ref_csum(frame + 34, sizeof(frame) - 34);
	memcpy(both, &h, 12);
	memcpy(both + 12, frame, sizeof(frame));
	struct vtd_desc two[2] = { { put(r, both, 40), 40, false },
				   { put(r, both + 40, sizeof(both) - 40), sizeof(both) - 40, false } };
	post(r, 1, two, 2, true);
	assert_int_equal(r->be->sent, 1);
	assert_int_equal(r->be->last_len, sizeof(frame));
	/* Everything but the field is the guest's frame; the field is the sum of the
	 * range with the pseudo-header sum the guest left in it. */
	assert_memory_equal(r->be->last, frame, 50);
	assert_memory_equal(r->be->last + 52, frame + 52, sizeof(frame) - 52);
	assert_int_equal(r->be->last[50], want >> 8);
	assert_int_equal(r->be->last[51], want & 0xff);
	/* The guest's buffer is unchanged (device-readable). */
	assert_int_equal(gmem_read(&r->m.mem, two[0].addr, copy, 40), 0);
	assert_int_equal(gmem_read(&r->m.mem, two[1].addr, copy + 40, sizeof(both) - 40), 0);
	assert_memory_equal(copy, both, sizeof(both));

	/* Offsets that leave no room for the 16-bit field: dropped, buffer returned. */
	h.csum_start = sizeof(frame) - 1;
	h.csum_offset = 0;
	memcpy(both, &h, 12);
	struct vtd_desc one[1] = { { put(r, both, sizeof(both)), sizeof(both), false } };
	post(r, 1, one, 1, true);
	h.csum_start = 34;
	h.csum_offset = sizeof(frame) - 35;
	memcpy(both, &h, 12);
	one[0].addr = put(r, both, sizeof(both));
	post(r, 1, one, 1, true);
	h.csum_start = 0xffff;
	memcpy(both, &h, 12);
	one[0].addr = put(r, both, sizeof(both));
	post(r, 1, one, 1, true);
	assert_int_equal(r->be->sent, 1);
	virtio_net_get_stats(r->net, &st);
	assert_int_equal(st.tx_dropped, 3);
	assert_true(virtio_dev_live(r->d));

	/* Receive: DATA_VALID only when the backend built the frame. */
	uint64_t a = put(r, NULL, 1526);
	struct vtd_desc rx[1] = { { a, 1526, true } };
	post(r, 0, rx, 1, true);
	net_backend_deliver(&r->be->pub, frame, 60);
	assert_int_equal(used(r, 0, NULL), 72);
	assert_int_equal(gmem_read(&r->m.mem, a, got, sizeof(got)), 0);
	memcpy(&h, got, 12);
	assert_int_equal(h.flags, 0);
	r->be->pub.rx_csum_valid = true;
	post(r, 0, rx, 1, true);
	net_backend_deliver(&r->be->pub, frame, 60);
	assert_int_equal(used(r, 0, NULL), 72);
	assert_int_equal(gmem_read(&r->m.mem, a, got, sizeof(got)), 0);
	memcpy(&h, got, 12);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_memory_equal(got + 12, frame, 60);
}

static void test_transmit_malformed(void **state)
{
	struct rig *r = *state;
	struct vtd_desc bad[2] = { { put(r, NULL, 72), 72, false }, { put(r, NULL, 16), 16, true } };

	bring_up(r, 0);
	post(r, 1, bad, 2, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->be->sent, 0);
	assert_int_equal(r->t.config_irqs, 1);

	/* Reset, then a header shorter than 12 bytes. */
	virtio_set_status(r->d, 0);
	memset(r->m.mem.regions[0].host + 0x1000, 0, 0x6000);
	vtd_rings_reset(&r->t);
	bring_up(r, 0);
	struct vtd_desc shorthdr[1] = { { put(r, NULL, 10), 10, false } };
	post(r, 1, shorthdr, 1, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->t.config_irqs, 2);
}

static void test_receive_waits_for_buffers(void **state)
{
	struct rig *r = *state;
	uint8_t frame[100], got[112];
	struct virtio_net_hdr h;
	struct virtio_net_stats st;

	/* Before the driver is ready, frames are dropped. */
	frame_fill(frame, sizeof(frame), 3);
	net_backend_deliver(&r->be->pub, frame, sizeof(frame));
	bring_up(r, 0);
	/* Now held until a buffer arrives. */
	net_backend_deliver(&r->be->pub, frame, sizeof(frame));
	assert_int_equal(used(r, 0, NULL), -1);
	uint64_t a = put(r, NULL, 1526);
	struct vtd_desc rx[1] = { { a, 1526, true } };
	post(r, 0, rx, 1, true);
	assert_int_equal(used(r, 0, NULL), 112);
	assert_int_equal(r->t.queue_irqs[0], 1);
	assert_int_equal(gmem_read(&r->m.mem, a, got, sizeof(got)), 0);
	memcpy(&h, got, 12);
	assert_int_equal(h.num_buffers, 1);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, 0);
	assert_memory_equal(got + 12, frame, 100);

	/* With a buffer already posted, delivery is immediate; order is kept. */
	post(r, 0, rx, 1, false);
	frame_fill(frame, sizeof(frame), 9);
	net_backend_deliver(&r->be->pub, frame, 60);
	assert_int_equal(used(r, 0, NULL), 72);
	assert_int_equal(gmem_read(&r->m.mem, a + 12, got, 60), 0);
	assert_memory_equal(got, frame, 60);

	/* Too big for a non-mergeable buffer: returned empty and counted. */
	struct vtd_desc small[1] = { { a, 64, true } };
	post(r, 0, small, 1, false);
	net_backend_deliver(&r->be->pub, frame, 100);
	assert_int_equal(used(r, 0, NULL), 0);
	virtio_net_get_stats(r->net, &st);
	assert_int_equal(st.rx_frames, 2);
	assert_int_equal(st.rx_dropped, 2);
}

static void test_receive_mergeable(void **state)
{
	struct rig *r = *state;
	uint8_t frame[100], got[64];
	struct virtio_net_hdr h;
	uint16_t id1, id2;

	bring_up(r, 1ull << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t a = put(r, NULL, 64), b = put(r, NULL, 64);
	struct vtd_desc ra[1] = { { a, 64, true } }, rb[1] = { { b, 64, true } };
	post(r, 0, ra, 1, false);
	post(r, 0, rb, 1, false);
	frame_fill(frame, sizeof(frame), 5);
	net_backend_deliver(&r->be->pub, frame, sizeof(frame));
	assert_int_equal(used(r, 0, &id1), 64);
	assert_int_equal(used(r, 0, &id2), 48);
	assert_int_not_equal(id1, id2);
	assert_int_equal(gmem_read(&r->m.mem, a, got, 64), 0);
	memcpy(&h, got, 12);
	assert_int_equal(h.num_buffers, 2);
	assert_memory_equal(got + 12, frame, 52);
	assert_int_equal(gmem_read(&r->m.mem, b, got, 48), 0);
	assert_memory_equal(got, frame + 52, 48);
}

static void test_receive_malformed_and_overflow(void **state)
{
	struct rig *r = *state;
	uint8_t frame[60] = { 0 };
	struct virtio_net_stats st;

	bring_up(r, 0);
	for (int i = 0; i < VIRTIO_NET_RX_PENDING + 44; i++)
		net_backend_deliver(&r->be->pub, frame, sizeof(frame));
	virtio_net_get_stats(r->net, &st);
	assert_int_equal(st.rx_dropped, 44);
	/* A readable receive buffer breaks the device; the held frames are not delivered. */
	struct vtd_desc bad[1] = { { put(r, NULL, 1526), 1526, false } };
	post(r, 0, bad, 1, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used(r, 0, NULL), -1);
	/* A buffer too small for the header does too (after a reset). */
	virtio_set_status(r->d, 0);
	memset(r->m.mem.regions[0].host + 0x1000, 0, 0x6000);
	vtd_rings_reset(&r->t);
	bring_up(r, 0);
	struct vtd_desc tiny[1] = { { put(r, NULL, 8), 8, true } };
	post(r, 0, tiny, 1, false);
	net_backend_deliver(&r->be->pub, frame, sizeof(frame));
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
}


static void test_hostfwd_parser(void **state)
{
	struct net_hostfwd f;
	char err[256];
	char a[32];

	assert_int_equal(net_parse_hostfwd("tcp::8080-:80", &f, err, sizeof(err)), 0);
	assert_false(f.udp);
	assert_int_equal(f.host_port, 8080);
	assert_int_equal(f.guest_port, 80);
	assert_int_equal(f.host_addr.s_addr, htonl(INADDR_ANY));
	inet_ntop(AF_INET, &f.guest_addr, a, sizeof(a));
	assert_string_equal(a, "10.0.2.15");
	assert_int_equal(net_parse_hostfwd("udp:127.0.0.1:5353-10.0.2.20:53", &f, err, sizeof(err)), 0);
	assert_true(f.udp);
	inet_ntop(AF_INET, &f.host_addr, a, sizeof(a));
	assert_string_equal(a, "127.0.0.1");
	inet_ntop(AF_INET, &f.guest_addr, a, sizeof(a));
	assert_string_equal(a, "10.0.2.20");
	static const char *bad[] = { "", "tcp", "sctp::1-:2", "tcp::8080", "tcp:8080-:80",
				     "tcp::0-:80", "tcp::65536-:80", "tcp::80-:", "tcp::x-:80",
				     "tcp:1.2.3:80-:80", "tcp::80-1.2.3.4.5:80", "tcp::-1-:80",
				     "tcp::80-:80x", "tcp::99999999999999999999-:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(net_parse_hostfwd(bad[i], &f, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 0);
	}
}

static void test_backend_specs(void **state)
{
	struct net_backend *nb;
	char err[256];

	assert_int_equal(net_backend_open("bogus", &nb, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "user"));
	assert_int_equal(net_backend_open("tap", &nb, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ifname"));
	assert_int_equal(net_backend_open("user,colour=blue", &nb, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "colour"));
	assert_int_equal(net_backend_open("user,hostfwd=tcp::0-:22", &nb, err, sizeof(err)), -EINVAL);
	assert_int_equal(net_backend_open("tap,ifname=0123456789abcdefXYZ", &nb, err, sizeof(err)),
			 -EINVAL);
}

static void test_tap_backend(void **state)
{
	struct net_backend *nb;
	char err[256];
	int rc;

	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		print_message("/dev/net/tun missing: skipping the tap test\n");
		skip();
	}
	rc = net_backend_open("tap,ifname=petrel-t0", &nb, err, sizeof(err));
	if (rc == -EPERM || rc == -EACCES || rc == -ENODEV || rc == -ENOENT) {
		print_message("tap unavailable (%s): skipping the tap test\n", err);
		skip();
	}
	assert_int_equal(rc, 0);
	uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5 };
	struct iovec v = { frame, sizeof(frame) };
	/* The interface is down: the kernel may drop the frame, but the write must not fail oddly. */
	rc = net_backend_send(nb, &v, 1);
	assert_true(rc == 0 || rc == -EIO || rc == -EAGAIN);
	net_backend_close(nb);
}

struct capture {
	pthread_mutex_t lock;
	uint8_t frame[2048];
	size_t len;
	int n;
};

static void capture_rx(void *opaque, const uint8_t *frame, size_t len)
{
	struct capture *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (len <= sizeof(c->frame)) {
		memcpy(c->frame, frame, len);
		c->len = len;
	}
	c->n++;
	pthread_mutex_unlock(&c->lock);
}

/* libslirp answers an ARP request for the gateway, and binds hostfwd ports. */
static void test_slirp_arp_and_hostfwd(void **state)
{
	struct net_backend *nb, *nb2;
	struct capture c = { .lock = PTHREAD_MUTEX_INITIALIZER };
	char err[256], spec[128];
	int port = 20000 + (getpid() % 20000);
	static const uint8_t me[6] = { 0x02, 0x50, 1, 2, 3, 4 };
	uint8_t arp[42] = { 0 };

	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%d-:22", port);
	assert_int_equal(net_backend_open(spec, &nb, err, sizeof(err)), 0);
	assert_string_equal(nb->kind, "user");
	/* The same host port twice: refused with a message. */
	assert_int_equal(net_backend_open(spec, &nb2, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "hostfwd"));
	net_backend_set_receive(nb, capture_rx, &c);

	memset(arp, 0xff, 6);
	memcpy(arp + 6, me, 6);
	arp[12] = 0x08, arp[13] = 0x06;          /* ARP */
	arp[14] = 0, arp[15] = 1;                /* Ethernet */
	arp[16] = 0x08, arp[17] = 0x00;          /* IPv4 */
	arp[18] = 6, arp[19] = 4, arp[20] = 0, arp[21] = 1; /* request */
	memcpy(arp + 22, me, 6);
	arp[28] = 10, arp[29] = 0, arp[30] = 2, arp[31] = 15;
	arp[38] = 10, arp[39] = 0, arp[40] = 2, arp[41] = 2;
	struct iovec v = { arp, sizeof(arp) };
	assert_int_equal(net_backend_send(nb, &v, 1), 0);
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&c.lock);
		int n = c.n;
		pthread_mutex_unlock(&c.lock);
		if (n)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&c.lock);
	assert_true(c.n >= 1);
	assert_true(c.len >= 42);
	assert_memory_equal(c.frame, me, 6);             /* to us */
	assert_int_equal(c.frame[12], 0x08);
	assert_int_equal(c.frame[13], 0x06);
	assert_int_equal(c.frame[21], 2);                /* reply */
	assert_int_equal(c.frame[28], 10);               /* sender 10.0.2.2 */
	assert_int_equal(c.frame[31], 2);
	c.n = 0;
	pthread_mutex_unlock(&c.lock);

	/*
	 * A host connection to the forwarded port: slirp's listening socket must be
	 * watched by the I/O thread, accept, and send the guest a TCP SYN to port 22.
	 */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_true(fd >= 0);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	assert_true(rc == 0 || errno == EINPROGRESS);
	bool syn = false;
	for (int i = 0; i < 2000 && !syn; i++) {
		pthread_mutex_lock(&c.lock);
		/* IPv4, protocol TCP, destination port 22, SYN set */
		syn = c.n && c.len >= 54 && c.frame[12] == 0x08 && c.frame[13] == 0 &&
		      c.frame[23] == 6 && c.frame[36] == 0 && c.frame[37] == 22 &&
		      (c.frame[47] & 0x02);
		pthread_mutex_unlock(&c.lock);
		if (!syn)
			usleep(1000);
	}
	assert_true(syn);
	close(fd);
	net_backend_set_receive(nb, NULL, NULL);
	net_backend_close(nb);
}

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The whole path: a DHCPDISCOVER through virtio-net's transmit queue to libslirp, an offer back. */
static void test_dhcp_through_user_network(void **state)
{
	struct rig *r = *state;
	struct virtio_net *un;
	char err[256];
	uint8_t pkt[12 + 300] = { 0 }, *f = pkt + 12, mac[6];

	virtio_net_destroy(r->net);
	assert_int_equal(virtio_net_create(&r->m, "user", &r->net, err, sizeof(err)), 0);
	un = r->net;
	r->d = virtio_net_dev(un);
	vtd_init(&r->t, &r->m, r->d, 2);
	virtio_net_mac(un, mac);
	bring_up(r, 1ull << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t rxb = put(r, NULL, 2048);
	struct vtd_desc rx[1] = { { rxb, 2048, true } };
	post(r, 0, rx, 1, true);

	memset(f, 0xff, 6);                      /* Ethernet: broadcast */
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *udp = ip + 20, *bootp = udp + 8;
	size_t bootp_len = 240 + 4, udp_len = 8 + bootp_len, ip_len = 20 + udp_len;
	ip[0] = 0x45, ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len, ip[8] = 64, ip[9] = 17;
	memset(ip + 16, 0xff, 4);                /* 0.0.0.0 -> 255.255.255.255 */
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	udp[1] = 68, udp[3] = 67, udp[4] = (uint8_t)(udp_len >> 8), udp[5] = (uint8_t)udp_len;
	bootp[0] = 1, bootp[1] = 1, bootp[2] = 6; /* BOOTREQUEST, Ethernet */
	bootp[4] = 0x12, bootp[5] = 0x34;         /* xid */
	memcpy(bootp + 28, mac, 6);
	bootp[236] = 99, bootp[237] = 130, bootp[238] = 83, bootp[239] = 99; /* magic cookie */
	bootp[240] = 53, bootp[241] = 1, bootp[242] = 1;                     /* DHCPDISCOVER */
	bootp[243] = 255;
	size_t total = 12 + 14 + ip_len;
	struct vtd_desc tx[1] = { { put(r, pkt, total), (uint32_t)total, false } };
	post(r, 1, tx, 1, true);
	assert_int_equal(used(r, 1, NULL), 0);

	int64_t len = -1;
	for (int i = 0; i < 2000 && len < 0; i++) {
		len = used(r, 0, NULL);
		if (len < 0)
			usleep(1000);
	}
	assert_true(len > 12 + 14 + 20 + 8 + 240);
	uint8_t got[600];
	assert_int_equal(gmem_read(&r->m.mem, rxb, got, sizeof(got)), 0);
	uint8_t *g = got + 12;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_true(!memcmp(g, mac, 6) || !memcmp(g, bcast, 6)); /* to us (slirp broadcasts offers) */
	assert_int_equal(g[12], 0x08);
	assert_int_equal(g[14 + 9], 17);                 /* UDP */
	assert_int_equal(g[14 + 20 + 3], 68);            /* to the DHCP client port */
	uint8_t *offer = g + 14 + 20 + 8;
	assert_int_equal(offer[0], 2);                   /* BOOTREPLY */
	assert_int_equal(offer[4], 0x12);
	assert_int_equal(offer[16], 10);                 /* yiaddr 10.0.2.15 */
	assert_int_equal(offer[19], 15);
	struct virtio_net_stats st;
	virtio_net_get_stats(un, &st);
	assert_int_equal(st.tx_frames, 1);
	assert_true(st.rx_frames >= 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config),
		T(test_transmit),
		T(test_checksum_offload),
		T(test_transmit_malformed),
		T(test_receive_waits_for_buffers),
		T(test_receive_mergeable),
		T(test_receive_malformed_and_overflow),
		cmocka_unit_test(test_hostfwd_parser),
		cmocka_unit_test(test_backend_specs),
		cmocka_unit_test(test_tap_backend),
		cmocka_unit_test(test_slirp_arp_and_hostfwd),
		T(test_dhcp_through_user_network),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
