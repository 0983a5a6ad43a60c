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
#include "vm/machine.h"

struct fake_chip {
	bool level[IRQ_NR_GSI];
};

static void chip_set_gsi(void *opaque, unsigned gsi, bool level)
{
	((struct fake_chip *)opaque)->level[gsi] = level;
}

static int chip_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	return 0;
}

static const struct irq_chip_ops chip_ops = { chip_set_gsi, chip_send_msi };

/* A device with a 4 KiB MMIO BAR0 of registers, a 64-bit BAR2 and an I/O BAR4. */
struct testdev {
	struct pci_device pci;
	uint32_t regs[1024];
	unsigned bar_updates;
	bool last_mapped;
	uint64_t last_addr;
	unsigned hook_writes;
};

static uint64_t regs_read(void *opaque, uint64_t off, unsigned size)
{
	struct testdev *d = opaque;

	return d->regs[off / 4];
}

static void regs_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	struct testdev *d = opaque;

	d->regs[off / 4] = (uint32_t)v;
}

static const struct iobus_ops regs_ops = {
	.name = "testdev", .read = regs_read, .write = regs_write, .sizes = IOBUS_SIZE_4,
};

static void on_bar(struct pci_device *dev, unsigned bar, bool mapped, uint64_t addr)
{
	struct testdev *d = dev->opaque;

	d->bar_updates++;
	d->last_mapped = mapped;
	d->last_addr = addr;
}

static void on_cfg_read(struct pci_device *dev, unsigned off, unsigned size, uint32_t *v)
{
	if (off == 0x44 && size == 4)
		*v = 0xfeedf00d; /* a device-specific register */
}

static void on_cfg_write(struct pci_device *dev, unsigned off, unsigned size, uint32_t v)
{
	((struct testdev *)dev->opaque)->hook_writes++;
}

struct env {
	struct machine m;
	struct fake_chip chip;
	struct pci_host *h;
	struct testdev d;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(iobus_init(&e->m.pio, "pio"), 0);
	assert_int_equal(iobus_init(&e->m.mmio, "mmio"), 0);
	assert_int_equal(irq_router_init(&e->m.irq), 0);
	irq_router_set_chip(&e->m.irq, &chip_ops, &e->chip);
	assert_int_equal(pci_host_create(&e->m, &e->h), 0);

	pci_device_init(&e->d.pci, "testdev", 0x1234, 0x5678, 0x020000, 1);
	e->d.pci.opaque = &e->d;
	e->d.pci.bar_update = on_bar;
	e->d.pci.config_read = on_cfg_read;
	e->d.pci.config_write = on_cfg_write;
	assert_int_equal(pci_device_set_bar(&e->d.pci, 0, PCI_BAR_MEM32, 4096, false, &regs_ops,
					    &e->d), 0);
	assert_int_equal(pci_device_set_bar(&e->d.pci, 2, PCI_BAR_MEM64, 0x4000, true, &regs_ops,
					    &e->d), 0);
	assert_int_equal(pci_device_set_bar(&e->d.pci, 4, PCI_BAR_IO, 32, false, &regs_ops,
					    &e->d), 0);
	assert_int_equal(pci_device_set_irq_pin(&e->d.pci, 1), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	pci_host_destroy(e->h);
	irq_router_fini(&e->m.irq);
	iobus_fini(&e->m.pio);
	iobus_fini(&e->m.mmio);
	free(e);
	return 0;
}

static uint32_t cfg1_read(struct env *e, unsigned slot, unsigned reg, unsigned size)
{
	uint64_t v;

	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0x80000000u | slot << 11 | (reg & 0xfc)));
	assert_true(iobus_read(&e->m.pio, 0xcfc + (reg & 3), size, &v));
	return (uint32_t)v;
}

static void cfg1_write(struct env *e, unsigned slot, unsigned reg, unsigned size, uint32_t val)
{
	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0x80000000u | slot << 11 | (reg & 0xfc)));
	assert_true(iobus_write(&e->m.pio, 0xcfc + (reg & 3), size, val));
}

static uint32_t ecam_read(struct env *e, unsigned slot, unsigned reg, unsigned size)
{
	uint64_t v;

	assert_true(iobus_read(&e->m.mmio, LAYOUT_PCI_ECAM + (slot << 15) + reg, size, &v));
	return (uint32_t)v;
}

static void ecam_write(struct env *e, unsigned slot, unsigned reg, unsigned size, uint32_t val)
{
	assert_true(iobus_write(&e->m.mmio, LAYOUT_PCI_ECAM + (slot << 15) + reg, size, val));
}

static void test_host_bridge(void **state)
{
	struct env *e = *state;
	uint64_t v;

	assert_int_equal(cfg1_read(e, 0, 0, 4),
			 PCI_HOST_BRIDGE_DEVICE << 16 | PCI_HOST_BRIDGE_VENDOR);
	assert_int_equal(cfg1_read(e, 0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(ecam_read(e, 0, 0x0a, 2), 0x0600);
	/* Linux's type 1 probe: 0x80000000 reads back. */
	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0x80000000u));
	assert_true(iobus_read(&e->m.pio, 0xcf8, 4, &v));
	assert_int_equal(v, 0x80000000u);
	/* Reserved bits read as zero. */
	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0xffffffffu));
	assert_true(iobus_read(&e->m.pio, 0xcf8, 4, &v));
	assert_int_equal(v, 0x80fffffcu);
	/* A byte access to 0xcfb is not the address register. */
	assert_true(iobus_write(&e->m.pio, 0xcfb, 1, 0x01));
	assert_true(iobus_read(&e->m.pio, 0xcf8, 4, &v));
	assert_int_equal(v, 0x80fffffcu);
}

static void test_absent_all_ones(void **state)
{
	struct env *e = *state;
	uint64_t v;

	assert_int_equal(cfg1_read(e, 5, 0, 4), 0xffffffffu);
	assert_int_equal(cfg1_read(e, 5, 2, 2), 0xffff);
	assert_int_equal(ecam_read(e, 31, 0, 4), 0xffffffffu);
	/* Function 1 of an existing slot, and bus 1 via mechanism #1. */
	assert_int_equal(ecam_read(e, 0, 0x1000, 4), 0xffffffffu);
	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0x80010000u));
	assert_true(iobus_read(&e->m.pio, 0xcfc, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	/* Disabled address register. */
	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0));
	assert_true(iobus_read(&e->m.pio, 0xcfc, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	/* Writes to absent devices are harmless. */
	cfg1_write(e, 9, 0x10, 4, 0x12345678);
	ecam_write(e, 9, 0x04, 2, 0xffff);
}

static void test_add_device_and_agree(void **state)
{
	struct env *e = *state;
	int slot = pci_host_add_device(e->h, &e->d.pci);

	assert_int_equal(slot, 1);
	assert_int_equal(cfg1_read(e, 1, 0, 4), 0x56781234);
	for (unsigned reg = 0; reg < 0x40; reg += 4)
		assert_int_equal(cfg1_read(e, 1, reg, 4), ecam_read(e, 1, reg, 4));
	for (unsigned reg = 0; reg < 0x40; reg++)
		assert_int_equal(cfg1_read(e, 1, reg, 1), ecam_read(e, 1, reg, 1));
	for (unsigned reg = 0; reg < 0x40; reg += 2)
		assert_int_equal(cfg1_read(e, 1, reg, 2), ecam_read(e, 1, reg, 2));
	/* Written by one mechanism, read by the other. */
	cfg1_write(e, 1, 0x3c, 1, 0x0b);
	assert_int_equal(ecam_read(e, 1, 0x3c, 1), 0x0b);
	ecam_write(e, 1, 0x0c, 1, 0x10);
	assert_int_equal(cfg1_read(e, 1, 0x0c, 1), 0x10);
	assert_true(e->d.hook_writes >= 2);
	/* Read-only fields stay. */
	cfg1_write(e, 1, 0x00, 4, 0);
	assert_int_equal(cfg1_read(e, 1, 0, 4), 0x56781234);
	/* The hook supplies device registers. */
	assert_int_equal(ecam_read(e, 1, 0x44, 4), 0xfeedf00d);
	/* INTA of slot 1 -> GSI 16 + (1 + 0) % 8. */
	assert_int_equal(cfg1_read(e, 1, 0x3d, 1), 1);
	assert_int_equal(e->d.pci.gsi, LAYOUT_GSI_PCI_FIRST + 1);
	/* Slot bookkeeping. */
	assert_int_equal(pci_host_add_device(e->h, &e->d.pci), -EINVAL);
}

static void test_bar_sizing(void **state)
{
	struct env *e = *state;

	pci_host_add_device(e->h, &e->d.pci);
	/* 32-bit memory BAR, 4 KiB. */
	ecam_write(e, 1, 0x10, 4, 0xffffffff);
	assert_int_equal(ecam_read(e, 1, 0x10, 4), 0xfffff000u);
	/* 64-bit prefetchable BAR, 16 KiB. */
	cfg1_write(e, 1, 0x18, 4, 0xffffffff);
	cfg1_write(e, 1, 0x1c, 4, 0xffffffff);
	assert_int_equal(cfg1_read(e, 1, 0x18, 4), 0xffffc00cu);
	assert_int_equal(cfg1_read(e, 1, 0x1c, 4), 0xffffffffu);
	/* I/O BAR, 32 ports. */
	cfg1_write(e, 1, 0x20, 4, 0xffffffff);
	assert_int_equal(cfg1_read(e, 1, 0x20, 4), 0x0000ffe1u);
	/* Unused BAR and ROM read 0 whatever is written. */
	cfg1_write(e, 1, 0x14, 4, 0xffffffff);
	assert_int_equal(cfg1_read(e, 1, 0x14, 4), 0);
	cfg1_write(e, 1, 0x30, 4, 0xffffffff);
	assert_int_equal(cfg1_read(e, 1, 0x30, 4), 0);
	/* Nothing decodes while the command register is off. */
	assert_int_equal(e->d.bar_updates, 0);
}

static void test_bar_mapping(void **state)
{
	struct env *e = *state;
	uint64_t v;

	pci_host_add_device(e->h, &e->d.pci);
	e->d.regs[1] = 0xabcd0123;
	ecam_write(e, 1, 0x10, 4, 0xc0001000);
	/* Not mapped until memory decoding is on. */
	assert_true(iobus_read(&e->m.mmio, 0xc0001004, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	ecam_write(e, 1, 0x04, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(e->d.bar_updates, 1);
	assert_true(e->d.last_mapped);
	assert_int_equal(e->d.last_addr, 0xc0001000);
	assert_true(iobus_read(&e->m.mmio, 0xc0001004, 4, &v));
	assert_int_equal(v, 0xabcd0123);
	assert_true(iobus_write(&e->m.mmio, 0xc0001008, 4, 0x55));
	assert_int_equal(e->d.regs[2], 0x55);
	/* The BAR's own rules apply: a byte access is dropped. */
	assert_true(iobus_read(&e->m.mmio, 0xc0001004, 1, &v));
	assert_int_equal(v, 0xff);
	/* Move it. */
	ecam_write(e, 1, 0x10, 4, 0xc0100000);
	assert_true(iobus_read(&e->m.mmio, 0xc0001004, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	assert_true(iobus_read(&e->m.mmio, 0xc0100004, 4, &v));
	assert_int_equal(v, 0xabcd0123);
	/* 64-bit BAR placed in the 32-bit window. */
	ecam_write(e, 1, 0x18, 4, 0xc0200000);
	ecam_write(e, 1, 0x1c, 4, 0);
	assert_true(iobus_read(&e->m.mmio, 0xc0200004, 4, &v));
	assert_int_equal(v, 0xabcd0123);
	/* Overlapping BAR0 onto BAR2: refused, BAR2 keeps decoding. */
	ecam_write(e, 1, 0x10, 4, 0xc0200000);
	assert_true(iobus_read(&e->m.mmio, 0xc0200004, 4, &v));
	assert_int_equal(v, 0xabcd0123);
	/* Decoding off: everything goes. */
	ecam_write(e, 1, 0x04, 2, 0);
	assert_false(e->d.last_mapped);
	assert_true(iobus_read(&e->m.mmio, 0xc0200004, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	/* I/O BAR in the I/O window. */
	cfg1_write(e, 1, 0x20, 4, PCI_HOST_IO_WINDOW | 1);
	cfg1_write(e, 1, 0x04, 2, PCI_COMMAND_IO);
	assert_true(iobus_read(&e->m.pio, PCI_HOST_IO_WINDOW + 4, 4, &v));
	assert_int_equal(v, 0xabcd0123);
	/* A BAR at the top of the address space does not wrap into low memory. */
	ecam_write(e, 1, 0x10, 4, 0xc0001000);
	ecam_write(e, 1, 0x04, 2, PCI_COMMAND_MEMORY);
	assert_true(e->d.pci.bars[0].mapped);
	assert_true(e->d.pci.bars[2].mapped);
	ecam_write(e, 1, 0x18, 4, 0xffffc000);
	ecam_write(e, 1, 0x1c, 4, 0xffffffff);
	assert_false(e->d.pci.bars[2].mapped);
}

static void test_intx(void **state)
{
	struct env *e = *state;
	unsigned gsi;

	pci_host_add_device(e->h, &e->d.pci);
	gsi = e->d.pci.gsi;
	pci_device_set_intx(&e->d.pci, true);
	assert_true(e->chip.level[gsi]);
	assert_int_equal(ecam_read(e, 1, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	ecam_write(e, 1, 0x04, 2, PCI_COMMAND_INTX_DISABLE);
	assert_false(e->chip.level[gsi]);
	ecam_write(e, 1, 0x04, 2, 0);
	assert_true(e->chip.level[gsi]);
	pci_device_set_intx(&e->d.pci, false);
	assert_false(e->chip.level[gsi]);
	assert_int_equal(ecam_read(e, 1, 0x06, 2) & PCI_STATUS_INTERRUPT, 0);
}

static void test_capabilities(void **state)
{
	struct env *e = *state;
	int a, b;

	a = pci_device_add_capability(&e->d.pci, 0x09, 6);
	b = pci_device_add_capability(&e->d.pci, 0x11, 12);
	assert_int_equal(a, 0x40);
	assert_int_equal(b, 0x48);
	pci_host_add_device(e->h, &e->d.pci);
	assert_int_equal(ecam_read(e, 1, 0x06, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	assert_int_equal(ecam_read(e, 1, 0x34, 1), 0x40);
	assert_int_equal(ecam_read(e, 1, 0x40, 2), 0x4809);
	assert_int_equal(ecam_read(e, 1, 0x48, 2), 0x0011);
	assert_int_equal(pci_device_add_capability(&e->d.pci, 0x05, 300), -ENOSPC);
	assert_int_equal(pci_device_add_capability(&e->d.pci, 0x05, 1), -EINVAL);
}

static void test_out_of_range(void **state)
{
	struct env *e = *state;
	uint64_t v;
	uint8_t before[PCI_ECAM_CONFIG_SIZE];

	pci_host_add_device(e->h, &e->d.pci);
	memcpy(before, e->d.pci.config, sizeof(before));
	/* Direct API with silly offsets and sizes. */
	assert_int_equal(pci_host_config_read(e->h, 0, 1, 0, 4096, 4), 0xffffffffu);
	assert_int_equal(pci_host_config_read(e->h, 0, 1, 0, 4094, 4), 0xffffffffu);
	assert_int_equal(pci_host_config_read(e->h, 0, 1, 0, 0xffffffffu, 4), 0xffffffffu);
	assert_int_equal(pci_host_config_read(e->h, 0, 1, 0, 0, 3), 0xffffffffu);
	assert_int_equal(pci_host_config_read(e->h, 0, 99, 0, 0, 4), 0xffffffffu);
	pci_host_config_write(e->h, 0, 1, 0, 4095, 4, 0);
	pci_host_config_write(e->h, 0, 1, 0, 0xfffffffeu, 4, 0);
	pci_host_config_write(e->h, 7, 1, 0, 0x3c, 1, 0);
	assert_memory_equal(before, e->d.pci.config, sizeof(before));
	/* Last dword of extended space is reachable and in bounds. */
	assert_int_equal(ecam_read(e, 1, 0xffc, 4), 0);
	/* Misaligned ECAM accesses are dropped by the bus. */
	assert_true(iobus_read(&e->m.mmio, LAYOUT_PCI_ECAM + (1 << 15) + 0xfff, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_true(iobus_read(&e->m.mmio, LAYOUT_PCI_ECAM + (1 << 15) + 1, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	/* A 64-bit ECAM read is two dwords. */
	assert_true(iobus_read(&e->m.mmio, LAYOUT_PCI_ECAM + (1 << 15), 8, &v));
	assert_int_equal(v, ((uint64_t)ecam_read(e, 1, 4, 4) << 32) | 0x56781234);
	/* Word at 0xcfd is misaligned: dropped; at 0xcfe it is fine. */
	assert_true(iobus_write(&e->m.pio, 0xcf8, 4, 0x80000800u));
	assert_true(iobus_read(&e->m.pio, 0xcfd, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_true(iobus_read(&e->m.pio, 0xcfe, 2, &v));
	assert_int_equal(v, 0x5678);
}

static void test_bad_bars_and_slots(void **state)
{
	struct env *e = *state;
	struct pci_device other;

	assert_int_equal(pci_device_set_bar(&e->d.pci, 6, PCI_BAR_MEM32, 4096, false, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pci_device_set_bar(&e->d.pci, 5, PCI_BAR_MEM64, 4096, false, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pci_device_set_bar(&e->d.pci, 1, PCI_BAR_MEM32, 3000, false, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pci_device_set_bar(&e->d.pci, 1, PCI_BAR_IO, 2, false, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pci_device_set_irq_pin(&e->d.pci, 5), -EINVAL);
	e->d.pci.slot = 3;
	assert_int_equal(pci_host_add_device(e->h, &e->d.pci), 3);
	pci_device_init(&other, "other", 1, 2, 0, 0);
	other.slot = 3;
	assert_int_equal(pci_host_add_device(e->h, &other), -EBUSY);
	other.slot = 32;
	assert_int_equal(pci_host_add_device(e->h, &other), -EINVAL);
	other.slot = 0;
	assert_int_equal(pci_host_add_device(e->h, &other), 1);
	pci_host_remove_device(e->h, &other);
	assert_int_equal(cfg1_read(e, 1, 0, 4), 0xffffffffu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_all_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_device_and_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bars_and_slots, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
