/*
 * Fuzz the PCI host's config space paths (mechanism #1, ECAM) and BAR
 * routing with a guest issuing arbitrary accesses. Nothing may read or write
 * outside config space, crash, or leave a BAR mapped while decoding is off.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/pci_host.h"
#include "vm/machine.h"

static uint32_t regs[1024];

static uint64_t regs_read(void *opaque, uint64_t off, unsigned size)
{
	return off / 4 < 1024 ? regs[off / 4] : 0;
}

static void regs_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	if (off / 4 < 1024)
		regs[off / 4] = (uint32_t)v;
	else
		abort();
}

static const struct iobus_ops regs_ops = {
	.name = "fuzzdev", .read = regs_read, .write = regs_write,
	.sizes = IOBUS_SIZE_1 | IOBUS_SIZE_2 | IOBUS_SIZE_4,
};

static void cfg_read_hook(struct pci_device *dev, unsigned off, unsigned size, uint32_t *v)
{
	if (off >= PCI_ECAM_CONFIG_SIZE || size > PCI_ECAM_CONFIG_SIZE - off)
		abort();
}

static void cfg_write_hook(struct pci_device *dev, unsigned off, unsigned size, uint32_t v)
{
	if (off >= PCI_ECAM_CONFIG_SIZE || size > PCI_ECAM_CONFIG_SIZE - off)
		abort();
}

static uint32_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
		v |= (uint32_t)**p << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned widths[4] = { 1, 2, 4, 8 };
	struct machine *m = calloc(1, sizeof(*m));
	struct pci_device *dev = calloc(1, sizeof(*dev));
	struct pci_host *h = NULL;

	if (!m || !dev)
		goto out;
	iobus_init(&m->pio, "pio");
	iobus_init(&m->mmio, "mmio");
	irq_router_init(&m->irq);
	if (pci_host_create(m, &h))
		goto fini;
	pci_device_init(dev, "fuzz", 0x1234, 0x1111, 0x020000, 0);
	pci_device_set_bar(dev, 0, PCI_BAR_MEM32, 4096, false, &regs_ops, NULL);
	pci_device_set_bar(dev, 2, PCI_BAR_MEM64, 4096, true, &regs_ops, NULL);
	pci_device_set_bar(dev, 4, PCI_BAR_IO, 64, false, &regs_ops, NULL);
	pci_device_set_irq_pin(dev, 2);
	pci_device_add_capability(dev, 0x11, 12);
	dev->config_read = cfg_read_hook;
	dev->config_write = cfg_write_hook;
	pci_host_add_device(h, dev);

	while (size) {
		uint8_t op = (uint8_t)take(&data, &size, 1);
		unsigned w = widths[(op >> 4) & 3];
		uint64_t v;

		switch (op & 7) {
		case 0:
			iobus_write(&m->pio, 0xcf8, 4, take(&data, &size, 4));
			break;
		case 1:
			iobus_read(&m->pio, 0xcf8 + (op >> 6), w, &v);
			break;
		case 2:
			iobus_write(&m->pio, 0xcfc + (op >> 6), w, take(&data, &size, 4));
			break;
		case 3:
			iobus_read(&m->pio, 0xcfc + (op >> 6), w, &v);
			break;
		case 4: {
			uint32_t off = take(&data, &size, 3) % (LAYOUT_PCI_ECAM_SIZE + 16);

			iobus_write(&m->mmio, LAYOUT_PCI_ECAM + off, w, take(&data, &size, 4));
			break;
		}
		case 5: {
			uint32_t off = take(&data, &size, 3) % (LAYOUT_PCI_ECAM_SIZE + 16);

			iobus_read(&m->mmio, LAYOUT_PCI_ECAM + off, w, &v);
			break;
		}
		case 6:
			iobus_read(&m->mmio, LAYOUT_PCI_MMIO32 + take(&data, &size, 3), w, &v);
			break;
		case 7:
			pci_device_set_intx(dev, op & 0x80);
			iobus_write(&m->pio, PCI_HOST_IO_WINDOW + take(&data, &size, 1), w, 0);
			break;
		}
		/* Invariant: decoding off means no mapped memory BAR. */
		if (!(dev->config[PCI_COMMAND] & PCI_COMMAND_MEMORY) && dev->bars[0].mapped)
			abort();
	}
	pci_host_destroy(h);
fini:
	irq_router_fini(&m->irq);
	iobus_fini(&m->pio);
	iobus_fini(&m->mmio);
out:
	free(dev);
	free(m);
	return 0;
}
