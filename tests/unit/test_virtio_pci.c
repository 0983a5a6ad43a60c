#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/irq.h"
#include "util/log.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci_regs.h"
#include "vm/machine.h"

#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define GSI 17

struct rig {
	struct machine m;
	struct virtio_rng *rng;
	struct vpci_regs regs;
	int msis;
	uint64_t msi_addr;
	uint32_t msi_data;
	bool line;
};

static void chip_gsi(void *opaque, unsigned gsi, bool level)
{
	struct rig *r = opaque;
	if (gsi == GSI)
		r->line = level;
}

static int chip_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct rig *r = opaque;
	r->msis++;
	r->msi_addr = addr;
	r->msi_data = data;
	return 0;
}

static const struct irq_chip_ops chip = { chip_gsi, chip_msi };

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, 0xc0000000), 0);
	assert_int_equal(irq_router_init(&r->m.irq), 0);
	irq_router_set_chip(&r->m.irq, &chip, r);
	assert_int_equal(virtio_rng_create(&r->m, &r->rng), 0);
	vpci_regs_init(&r->regs, virtio_rng_dev(r->rng), &r->m.irq, GSI);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	vpci_regs_fini(&r->regs);
	virtio_rng_destroy(r->rng);
	irq_router_fini(&r->m.irq);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static uint64_t rd(struct rig *r, uint64_t off, unsigned size)
{
	return vpci_bar_read(&r->regs, off, size);
}

static void wr(struct rig *r, uint64_t off, unsigned size, uint64_t v)
{
	vpci_bar_write(&r->regs, off, size, v);
}

/* The Linux virtio_pci_modern sequence, through registers only. */
static void driver_setup(struct rig *r, uint16_t qsize, uint16_t vector)
{
	wr(r, 0x14, 1, 0);
	wr(r, 0x14, 1, 1 | 2);
	wr(r, 0x00, 4, 1);
	assert_int_equal(rd(r, 0x04, 4) & 1, 1); /* VERSION_1 is bit 32 */
	wr(r, 0x08, 4, 0);
	wr(r, 0x0c, 4, 0);
	wr(r, 0x08, 4, 1);
	wr(r, 0x0c, 4, 1);
	wr(r, 0x14, 1, 1 | 2 | 8);
	assert_int_equal(rd(r, 0x14, 1), 1 | 2 | 8);
	assert_int_equal(rd(r, 0x12, 2), 1);
	wr(r, 0x16, 2, 0);
	assert_int_equal(rd(r, 0x18, 2), 256);
	wr(r, 0x18, 2, qsize);
	wr(r, 0x1a, 2, vector);
	wr(r, 0x20, 8, DESC);
	wr(r, 0x28, 4, AVAIL);
	wr(r, 0x2c, 4, 0);
	wr(r, 0x30, 8, USED);
	wr(r, 0x1c, 2, 1);
	wr(r, 0x14, 1, 1 | 2 | 8 | 4);
}

static void offer(struct rig *r, uint16_t idx)
{
	uint8_t d[16] = { 0 };
	uint64_t addr = BUF;
	uint32_t len = 32;
	uint16_t flags = 2, head = 0;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	assert_int_equal(gmem_write(&r->m.mem, DESC, d, 16), 0);
	assert_int_equal(gmem_write(&r->m.mem, AVAIL + 4 + 2 * ((idx - 1) % 8), &head, 2), 0);
	assert_int_equal(gmem_write(&r->m.mem, AVAIL + 2, &idx, 2), 0);
}

static void test_msix_path(void **state)
{
	struct rig *r = *state;

	/* MSI-X table entry 0, unmasked. */
	wr(r, VPCI_MSIX_TABLE_OFF + 0, 4, 0xfee01000);
	wr(r, VPCI_MSIX_TABLE_OFF + 4, 4, 0);
	wr(r, VPCI_MSIX_TABLE_OFF + 8, 4, 0x4031);
	wr(r, VPCI_MSIX_TABLE_OFF + 12, 4, 0);
	vpci_msix_control(&r->regs, 1u << 15);
	driver_setup(r, 8, 0);
	assert_int_equal(rd(r, 0x14, 1), 15);
	assert_int_equal(rd(r, 0x1a, 2), 0);
	offer(r, 1);
	wr(r, VPCI_NOTIFY_OFF + 0, 2, 0);
	assert_int_equal(r->msis, 1);
	assert_int_equal(r->msi_addr, 0xfee01000);
	assert_int_equal(r->msi_data, 0x4031);
	assert_false(r->line);
	/* Masked: the message waits in the PBA until unmasked. */
	wr(r, VPCI_MSIX_TABLE_OFF + 12, 4, 1);
	offer(r, 2);
	wr(r, VPCI_NOTIFY_OFF + 0, 2, 0);
	assert_int_equal(r->msis, 1);
	assert_int_equal(rd(r, VPCI_MSIX_PBA_OFF, 8) & 1, 1);
	wr(r, VPCI_MSIX_TABLE_OFF + 12, 4, 0);
	assert_int_equal(r->msis, 2);
	assert_int_equal(rd(r, VPCI_MSIX_PBA_OFF, 8) & 1, 0);
}

static void test_intx_path_and_isr(void **state)
{
	struct rig *r = *state;

	driver_setup(r, 8, VIRTIO_NO_VECTOR);
	offer(r, 1);
	wr(r, VPCI_NOTIFY_OFF, 2, 0);
	assert_true(r->line);
	assert_int_equal(rd(r, VPCI_ISR_OFF, 1), 1);
	assert_false(r->line);
	assert_int_equal(rd(r, VPCI_ISR_OFF, 1), 0);
}

static void test_queue_frozen_after_driver_ok(void **state)
{
	struct rig *r = *state;

	driver_setup(r, 8, VIRTIO_NO_VECTOR);
	wr(r, 0x18, 2, 64);
	wr(r, 0x20, 8, 0x5000);
	assert_int_equal(rd(r, 0x18, 2), 8);
	assert_int_equal(rd(r, 0x20, 8), DESC);
	/* Selecting a queue that does not exist reads zeros and ignores writes. */
	wr(r, 0x16, 2, 7);
	assert_int_equal(rd(r, 0x18, 2), 0);
	wr(r, 0x18, 2, 64);
}

static void test_bad_queue_size_needs_reset(void **state)
{
	struct rig *r = *state;

	driver_setup(r, 6, VIRTIO_NO_VECTOR); /* not a power of two */
	assert_true(rd(r, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(rd(r, 0x14, 1) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(r, VPCI_ISR_OFF, 1), 2); /* config change */
	/* Reset and a correct setup recover the device. */
	driver_setup(r, 8, VIRTIO_NO_VECTOR);
	assert_int_equal(rd(r, 0x14, 1), 15);
}

static void test_out_of_range_accesses(void **state)
{
	struct rig *r = *state;

	assert_int_equal(rd(r, 0x7ff8, 8), 0);
	wr(r, 0x7ff8, 8, ~0ull);
	wr(r, VPCI_NOTIFY_OFF + VPCI_NOTIFY_LEN - 4, 4, 0); /* queue 7 of a 1-queue device */
	wr(r, VPCI_MSIX_TABLE_OFF + 16 * VPCI_MSIX_VECTORS, 4, 1);
	wr(r, 0x10, 2, 0x1234); /* config vector beyond the table: no vector */
	assert_int_equal(rd(r, 0x10, 2), VIRTIO_NO_VECTOR);
	wr(r, 0x00, 4, 7);
	assert_int_equal(rd(r, 0x04, 4), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_msix_path),
		T(test_intx_path_and_isr),
		T(test_queue_frozen_after_driver_ok),
		T(test_bad_queue_size_needs_reset),
		T(test_out_of_range_accesses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
