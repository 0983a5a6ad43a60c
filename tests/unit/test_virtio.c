#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/log.h"
#include "virtio/rng.h"
#include "vm/machine.h"

#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000

struct rig {
	struct machine m;
	struct virtio_rng *rng;
	struct virtio_dev *d;
	int queue_irqs, config_irqs;
};

static void t_queue_irq(struct virtio_dev *d, unsigned q)
{
	((struct rig *)d->transport_priv)->queue_irqs++;
}

static void t_config_irq(struct virtio_dev *d)
{
	((struct rig *)d->transport_priv)->config_irqs++;
}

static const struct virtio_transport_ops fake_transport = { t_queue_irq, t_config_irq };

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, 0xc0000000), 0);
	assert_int_equal(virtio_rng_create(&r->m, &r->rng), 0);
	r->d = virtio_rng_dev(r->rng);
	r->d->transport = &fake_transport;
	r->d->transport_priv = r;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_rng_destroy(r->rng);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static void bring_up(struct rig *r, uint64_t desc)
{
	struct virtio_queue_cfg c = { .size = 8, .enabled = true, .desc = desc,
				      .avail = AVAIL, .used = USED };

	virtio_set_status(r->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_int_equal(virtio_set_driver_features(r->d, 1ull << VIRTIO_F_VERSION_1), 0);
	virtio_set_status(r->d, r->d->status | VIRTIO_STATUS_FEATURES_OK);
	assert_true(r->d->status & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(virtio_queue_set(r->d, 0, &c), 0);
	virtio_set_status(r->d, r->d->status | VIRTIO_STATUS_DRIVER_OK);
}

static void offer_write_buffer(struct rig *r, uint16_t head, uint32_t len, uint16_t idx)
{
	uint8_t d[16] = { 0 };
	uint64_t addr = BUF;
	uint16_t flags = 2; /* WRITE */

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	assert_int_equal(gmem_write(&r->m.mem, DESC + 16ull * (head % 8), d, 16), 0);
	assert_int_equal(gmem_write(&r->m.mem, AVAIL + 4 + 2 * ((idx - 1) % 8), &head, 2), 0);
	assert_int_equal(gmem_write(&r->m.mem, AVAIL + 2, &idx, 2), 0);
}

static void test_rng_serves_entropy(void **state)
{
	struct rig *r = *state;
	uint8_t buf[64] = { 0 }, zero[64] = { 0 };
	uint32_t used_len;
	uint16_t used_idx;

	bring_up(r, DESC);
	assert_true(virtio_dev_live(r->d));
	offer_write_buffer(r, 0, 64, 1);
	virtio_queue_notify(r->d, 0);
	assert_int_equal(gmem_read(&r->m.mem, USED + 2, &used_idx, 2), 0);
	assert_int_equal(used_idx, 1);
	assert_int_equal(gmem_read(&r->m.mem, USED + 8, &used_len, 4), 0);
	assert_int_equal(used_len, 64);
	assert_int_equal(gmem_read(&r->m.mem, BUF, buf, 64), 0);
	assert_memory_not_equal(buf, zero, 64);
	assert_int_equal(r->queue_irqs, 1);
	assert_int_equal(r->config_irqs, 0);
}

static void test_feature_negotiation_rules(void **state)
{
	struct rig *r = *state;

	virtio_set_status(r->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* A feature the device did not offer: FEATURES_OK does not stick. */
	assert_int_equal(virtio_set_driver_features(r->d, (1ull << VIRTIO_F_VERSION_1) | (1ull << 50)), 0);
	virtio_set_status(r->d, r->d->status | VIRTIO_STATUS_FEATURES_OK);
	assert_false(r->d->status & VIRTIO_STATUS_FEATURES_OK);
	/* A legacy driver (no VERSION_1) is refused too. */
	assert_int_equal(virtio_set_driver_features(r->d, 0), 0);
	virtio_set_status(r->d, r->d->status | VIRTIO_STATUS_FEATURES_OK);
	assert_false(r->d->status & VIRTIO_STATUS_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK: needs reset, not live. */
	virtio_set_status(r->d, r->d->status | VIRTIO_STATUS_DRIVER_OK);
	assert_false(virtio_dev_live(r->d));
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	/* Reset clears everything. */
	virtio_set_status(r->d, 0);
	assert_int_equal(r->d->status, 0);
	bring_up(r, DESC);
	assert_true(virtio_dev_live(r->d));
	/* Features and queues are frozen while running. */
	assert_int_equal(virtio_set_driver_features(r->d, 1ull << VIRTIO_F_VERSION_1), -EBUSY);
	struct virtio_queue_cfg c = { .size = 4, .enabled = true, .desc = DESC, .avail = AVAIL, .used = USED };
	assert_int_equal(virtio_queue_set(r->d, 0, &c), -EBUSY);
	assert_int_equal(r->d->qcfg[0].size, 8);
	assert_int_equal(virtio_queue_set(r->d, 5, &c), -EINVAL);
}

static void test_bad_ring_at_driver_ok(void **state)
{
	struct rig *r = *state;

	bring_up(r, DESC + 8); /* misaligned descriptor table */
	assert_false(virtio_dev_live(r->d));
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->config_irqs, 1);
}

static void test_malicious_chain_breaks_device_not_vmm(void **state)
{
	struct rig *r = *state;
	uint16_t head = 9, idx = 1;

	bring_up(r, DESC);
	/* Head index beyond the ring. */
	assert_int_equal(gmem_write(&r->m.mem, AVAIL + 4, &head, 2), 0);
	assert_int_equal(gmem_write(&r->m.mem, AVAIL + 2, &idx, 2), 0);
	virtio_queue_notify(r->d, 0);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(virtio_dev_live(r->d));
	assert_int_equal(r->config_irqs, 1);
	assert_int_equal(r->queue_irqs, 0);
	/* Further kicks do nothing; a reset brings the device back. */
	virtio_queue_notify(r->d, 0);
	virtio_set_status(r->d, 0);
	memset(r->m.mem.regions[0].host + AVAIL, 0, 0x2000);
	bring_up(r, DESC);
	offer_write_buffer(r, 1, 16, 1);
	virtio_queue_notify(r->d, 0);
	assert_int_equal(r->queue_irqs, 1);
}

static void test_config_access_bounds(void **state)
{
	struct rig *r = *state;
	uint8_t buf[8];

	memset(buf, 0xaa, sizeof(buf));
	virtio_config_read(r->d, 0xfffffff0u, buf, 8); /* rng has no config: zeros */
	assert_int_equal(buf[0], 0);
	virtio_config_write(r->d, 0, buf, 8);           /* ignored, no crash */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_rng_serves_entropy),
		T(test_feature_negotiation_rules),
		T(test_bad_ring_at_driver_ok),
		T(test_malicious_chain_breaks_device_not_vmm),
		T(test_config_access_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
