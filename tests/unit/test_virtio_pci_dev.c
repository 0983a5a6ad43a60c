/* virtio-pci as the guest sees it: PCI config space, capabilities, BAR, MSI-X. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "devices/pci_host.h"
#include "util/log.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "vm/machine.h"

struct rig {
	struct machine m;
	struct pci_host *host;
	struct virtio_rng *rng;
	struct virtio_pci *vp;
	unsigned slot;
	int msis;
	uint32_t msi_data;
};

static void chip_gsi(void *opaque, unsigned gsi, bool level)
{
}

static int chip_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct rig *r = opaque;
	r->msis++;
	r->msi_data = data;
	return 0;
}

static const struct irq_chip_ops chip = { chip_gsi, chip_msi };

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, LAYOUT_MMIO_HOLE), 0);
	assert_int_equal(iobus_init(&r->m.pio, "pio"), 0);
	assert_int_equal(iobus_init(&r->m.mmio, "mmio"), 0);
	assert_int_equal(irq_router_init(&r->m.irq), 0);
	irq_router_set_chip(&r->m.irq, &chip, r);
	assert_int_equal(pci_host_create(&r->m, &r->host), 0);
	assert_int_equal(virtio_rng_create(&r->m, &r->rng), 0);
	assert_int_equal(virtio_pci_create(&r->m, r->host, virtio_rng_dev(r->rng), &r->vp), 0);
	r->slot = virtio_pci_slot(r->vp);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_pci_destroy(r->vp);
	virtio_rng_destroy(r->rng);
	pci_host_destroy(r->host);
	irq_router_fini(&r->m.irq);
	iobus_fini(&r->m.mmio);
	iobus_fini(&r->m.pio);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static uint32_t cfg(struct rig *r, unsigned off, unsigned size)
{
	return pci_host_config_read(r->host, 0, r->slot, 0, off, size);
}

static void cfg_w(struct rig *r, unsigned off, unsigned size, uint32_t v)
{
	pci_host_config_write(r->host, 0, r->slot, 0, off, size, v);
}

static void test_ids_and_capabilities(void **state)
{
	struct rig *r = *state;
	unsigned types = 0, msix = 0;

	assert_true(r->slot > 0 && r->slot < 32);
	assert_int_equal(cfg(r, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg(r, PCI_DEVICE_ID, 2), 0x1044);
	assert_true(cfg(r, PCI_SUBSYS_ID, 2) >= 0x40);
	assert_true(cfg(r, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* Walk the list as Linux's virtio_pci_find_capability does. */
	for (unsigned p = cfg(r, PCI_CAP_PTR, 1), n = 0; p && n < 48; p = cfg(r, p + 1, 1), n++) {
		assert_true(p >= 0x40 && p < 0x100);
		if (cfg(r, p, 1) == 0x09) {
			unsigned type = cfg(r, p + 3, 1);
			assert_int_equal(cfg(r, p + 4, 1), 0); /* BAR 0 */
			types |= 1u << type;
			if (type == 2)
				assert_int_equal(cfg(r, p + 16, 4), 4); /* notify multiplier */
		} else if (cfg(r, p, 1) == 0x11) {
			msix = p;
		}
	}
	assert_int_equal(types, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5));
	assert_true(msix != 0);
	assert_int_equal(cfg(r, msix + 2, 2) & 0x7ff, 8); /* 9 vectors */
}

static void test_bar_sizing_and_access(void **state)
{
	struct rig *r = *state;
	uint64_t bar = LAYOUT_PCI_MMIO32 + 0x100000, v;

	cfg_w(r, PCI_BAR0, 4, 0xffffffff);
	cfg_w(r, PCI_BAR0 + 4, 4, 0xffffffff);
	assert_int_equal(cfg(r, PCI_BAR0, 4) & ~0xfu, (uint32_t)~(0x8000u - 1));
	assert_int_equal(cfg(r, PCI_BAR0, 4) & 0x6, 0x4); /* 64-bit */
	cfg_w(r, PCI_BAR0, 4, (uint32_t)bar);
	cfg_w(r, PCI_BAR0 + 4, 4, 0);
	/* Not decoding until memory space is enabled. */
	assert_false(iobus_read(&r->m.mmio, bar + 0x12, 2, &v) && v == 1);
	cfg_w(r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_true(iobus_read(&r->m.mmio, bar + 0x12, 2, &v));
	assert_int_equal(v, 1); /* num_queues */
	assert_true(iobus_read(&r->m.mmio, bar + 0x04, 4, &v));
	assert_int_equal(v, 1ull << (28) | 1ull << 29); /* INDIRECT_DESC | EVENT_IDX, low word */
}

static void test_msix_enable_through_config(void **state)
{
	struct rig *r = *state;
	uint64_t bar = LAYOUT_PCI_MMIO32 + 0x200000;
	unsigned msix = 0;

	for (unsigned p = cfg(r, PCI_CAP_PTR, 1); p; p = cfg(r, p + 1, 1))
		if (cfg(r, p, 1) == 0x11)
			msix = p;
	cfg_w(r, PCI_BAR0, 4, (uint32_t)bar);
	cfg_w(r, PCI_BAR0 + 4, 4, 0);
	cfg_w(r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* Config vector 0 -> MSI data 0x77; enable MSI-X; a config interrupt goes out as MSI. */
	assert_true(iobus_write(&r->m.mmio, bar + 0x4000, 4, 0xfee00000));
	assert_true(iobus_write(&r->m.mmio, bar + 0x4008, 4, 0x77));
	assert_true(iobus_write(&r->m.mmio, bar + 0x400c, 4, 0));
	cfg_w(r, msix + 2, 2, 0x8000);
	assert_true(iobus_write(&r->m.mmio, bar + 0x10, 2, 0));
	virtio_dev_broken(virtio_rng_dev(r->rng), "test");
	assert_int_equal(r->msis, 1);
	assert_int_equal(r->msi_data, 0x77);
}

static void test_pci_cfg_window(void **state)
{
	struct rig *r = *state;
	unsigned cap = 0;

	for (unsigned p = cfg(r, PCI_CAP_PTR, 1); p; p = cfg(r, p + 1, 1))
		if (cfg(r, p, 1) == 0x09 && cfg(r, p + 3, 1) == 5)
			cap = p;
	assert_true(cap != 0);
	/* Read num_queues (offset 0x12, 2 bytes) through the window. */
	cfg_w(r, cap + 8, 4, 0x12);
	cfg_w(r, cap + 12, 4, 2);
	assert_int_equal(cfg(r, cap + 16, 4), 1);
	/* A window beyond the BAR reads zero and writes nothing. */
	cfg_w(r, cap + 8, 4, 0xfffffffe);
	assert_int_equal(cfg(r, cap + 16, 4), 0);
	cfg_w(r, cap + 16, 4, 0xffffffff);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ids_and_capabilities),
		T(test_bar_sizing_and_access),
		T(test_msix_enable_through_config),
		T(test_pci_cfg_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
