#include "devices/pci_host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "util/compiler.h"
#include "util/log.h"
#include "vm/machine.h"

#define CF8_ENABLE   0x80000000u
#define CF8_MASK     0x80fffffcu /* reserved bits 30:24 and 1:0 read as zero */
#define PCI_MAX_WINDOWS 3

struct pci_window {
	struct pci_host *h;
	struct iobus *outer;   /* m->mmio or m->pio */
	struct iobus *inner;   /* the host's private BAR bus */
	uint64_t base, size;
	bool registered;
};

struct pci_host {
	struct machine *m;
	pthread_mutex_t lock;
	uint32_t cf8;
	struct pci_device *devs[PCI_MAX_SLOTS];
	struct pci_device bridge;
	struct iobus bar_mmio, bar_pio;
	struct pci_window windows[PCI_MAX_WINDOWS];
	unsigned nr_windows;
	bool cf8_registered, cfc_registered, ecam_registered;
};

static uint32_t cfg_get(const struct pci_device *dev, unsigned off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)dev->config[off + i] << (8 * i);
	return v;
}

static void cfg_set(struct pci_device *dev, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		dev->config[off + i] = (uint8_t)(v >> (8 * i));
}

static void mask_set(uint8_t *mask, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		mask[off + i] = (uint8_t)(v >> (8 * i));
}

/* ---- BAR decoding ---- */

static uint64_t bar_address(const struct pci_device *dev, unsigned i)
{
	const struct pci_bar *b = &dev->bars[i];
	uint32_t lo = cfg_get(dev, PCI_BAR0 + 4 * i, 4);

	switch (b->type) {
	case PCI_BAR_MEM32:
		return lo & ~0xfu;
	case PCI_BAR_MEM64:
		return (lo & ~0xfull) | (uint64_t)cfg_get(dev, PCI_BAR0 + 4 * (i + 1), 4) << 32;
	case PCI_BAR_IO:
		return lo & ~0x3u;
	default:
		return 0;
	}
}

static void bar_unmap(struct pci_host *h, struct pci_device *dev, unsigned i)
{
	struct pci_bar *b = &dev->bars[i];

	if (!b->mapped)
		return;
	iobus_unregister(b->type == PCI_BAR_IO ? &h->bar_pio : &h->bar_mmio, b->addr, b->opaque);
	b->mapped = false;
	if (dev->bar_update)
		dev->bar_update(dev, i, false, b->addr);
}

/* Make BAR i decode where the guest's command register and BAR say. */
static void bar_update_one(struct pci_host *h, struct pci_device *dev, unsigned i)
{
	struct pci_bar *b = &dev->bars[i];
	uint16_t cmd = (uint16_t)cfg_get(dev, PCI_COMMAND, 2);
	bool io = b->type == PCI_BAR_IO;
	uint64_t addr = bar_address(dev, i);
	uint64_t limit = io ? 0x10000 : 0;
	bool want;
	int rc;

	/* Guest values: the address comes straight from the BAR; reject wraps and zero. */
	want = (cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) && addr != 0 &&
	       addr + b->size > addr && (!limit || addr + b->size <= limit) && b->ops;
	if (b->mapped && want && b->addr == addr)
		return;
	bar_unmap(h, dev, i);
	if (!want)
		return;
	rc = iobus_register(io ? &h->bar_pio : &h->bar_mmio, addr, b->size, b->ops, b->opaque);
	if (rc) {
		log_ratelimited(LOG_WARN, "pci: %s BAR%u at 0x%llx overlaps another BAR; not mapped",
				dev->name ? dev->name : "device", i, (unsigned long long)addr);
		return;
	}
	b->addr = addr;
	b->mapped = true;
	if (dev->bar_update)
		dev->bar_update(dev, i, true, addr);
}

static void bar_update_all(struct pci_host *h, struct pci_device *dev)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		if (dev->bars[i].type != PCI_BAR_NONE)
			bar_update_one(h, dev, i);
}

/* ---- INTx ---- */

static void intx_update_locked(struct pci_device *dev)
{
	bool assert_it = atomic_load(&dev->intx_level) && !dev->intx_disabled && dev->host &&
			 dev->config[PCI_INTERRUPT_PIN];

	if (assert_it == dev->intx_asserted)
		return;
	dev->intx_asserted = assert_it;
	irq_set_level(&dev->host->m->irq, dev->gsi, assert_it);
}

void pci_device_set_intx(struct pci_device *dev, bool level)
{
	pthread_mutex_lock(&dev->intx_lock);
	atomic_store(&dev->intx_level, level);
	intx_update_locked(dev);
	pthread_mutex_unlock(&dev->intx_lock);
}

/* ---- config space ---- */

static struct pci_device *pci_lookup(struct pci_host *h, unsigned bus, unsigned slot, unsigned fn)
{
	/* Guest values: bus, slot and function come from CF8 or the ECAM offset. */
	if (bus != 0 || slot >= PCI_MAX_SLOTS || fn != 0)
		return NULL;
	return h->devs[slot];
}

static bool cfg_range_ok(unsigned offset, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && offset < PCI_ECAM_CONFIG_SIZE &&
	       size <= PCI_ECAM_CONFIG_SIZE - offset;
}

uint32_t pci_host_config_read(struct pci_host *h, unsigned bus, unsigned slot, unsigned fn,
			      unsigned offset, unsigned size)
{
	struct pci_device *dev;
	uint32_t v = 0xffffffffu;

	if (!cfg_range_ok(offset, size))
		return v;
	pthread_mutex_lock(&h->lock);
	dev = pci_lookup(h, bus, slot, fn);
	if (dev) {
		v = cfg_get(dev, offset, size);
		/* The interrupt status bit follows the line, which moves outside the lock. */
		if (offset <= PCI_STATUS && offset + size > PCI_STATUS) {
			uint32_t bit = (uint32_t)PCI_STATUS_INTERRUPT << (8 * (PCI_STATUS - offset));

			v &= ~bit;
			if (atomic_load(&dev->intx_level))
				v |= bit;
		}
		if (dev->config_read)
			dev->config_read(dev, offset, size, &v);
		if (size < 4)
			v &= (1u << (8 * size)) - 1;
	}
	pthread_mutex_unlock(&h->lock);
	return v;
}

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
	return off < start + len && start < off + size;
}

void pci_host_config_write(struct pci_host *h, unsigned bus, unsigned slot, unsigned fn,
			   unsigned offset, unsigned size, uint32_t value)
{
	struct pci_device *dev;

	if (!cfg_range_ok(offset, size))
		return;
	pthread_mutex_lock(&h->lock);
	dev = pci_lookup(h, bus, slot, fn);
	if (!dev)
		goto out;
	/* Guest value: only bits the masks allow change; read-only bits stay. */
	for (unsigned i = 0; i < size; i++) {
		unsigned o = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));

		dev->config[o] = (uint8_t)((dev->config[o] & ~dev->wmask[o]) | (b & dev->wmask[o]));
		dev->config[o] &= (uint8_t)~(b & dev->w1cmask[o]);
	}
	if (overlaps(offset, size, PCI_COMMAND, 2)) {
		pthread_mutex_lock(&dev->intx_lock);
		dev->intx_disabled = cfg_get(dev, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE;
		intx_update_locked(dev);
		pthread_mutex_unlock(&dev->intx_lock);
	}
	if (overlaps(offset, size, PCI_COMMAND, 2) ||
	    overlaps(offset, size, PCI_BAR0, 4 * PCI_NUM_BARS))
		bar_update_all(h, dev);
	if (dev->config_write)
		dev->config_write(dev, offset, size, size < 4 ? value & ((1u << (8 * size)) - 1)
							       : value);
out:
	pthread_mutex_unlock(&h->lock);
}

/* ---- mechanism #1 ---- */

static uint64_t cf8_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	uint32_t v;

	pthread_mutex_lock(&h->lock);
	v = h->cf8;
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void cf8_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;

	pthread_mutex_lock(&h->lock);
	h->cf8 = (uint32_t)value & CF8_MASK;
	pthread_mutex_unlock(&h->lock);
}

/* Decode CF8 for a data-port access at byte `offset` of 0xcfc; false when disabled. */
static bool cf8_decode(struct pci_host *h, uint64_t offset, unsigned *bus, unsigned *slot,
		       unsigned *fn, unsigned *reg)
{
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->cf8;
	pthread_mutex_unlock(&h->lock);
	if (!(a & CF8_ENABLE))
		return false;
	*bus = (a >> 16) & 0xff;
	*slot = (a >> 11) & 0x1f;
	*fn = (a >> 8) & 0x7;
	/* The register is 8 bits and the offset 0..3, so this stays below 256. */
	*reg = (a & 0xfc) + (unsigned)offset;
	return true;
}

static uint64_t cfc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	unsigned bus, slot, fn, reg;

	if (!cf8_decode(h, offset, &bus, &slot, &fn, &reg))
		return 0xffffffffu;
	return pci_host_config_read(h, bus, slot, fn, reg, size);
}

static void cfc_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;
	unsigned bus, slot, fn, reg;

	if (cf8_decode(h, offset, &bus, &slot, &fn, &reg))
		pci_host_config_write(h, bus, slot, fn, reg, size, (uint32_t)value);
}

static const struct iobus_ops cf8_ops = {
	.name = "pci-cf8",
	.read = cf8_read,
	.write = cf8_write,
	.sizes = IOBUS_SIZE_4, /* byte and word accesses are not the address register */
};

static const struct iobus_ops cfc_ops = {
	.name = "pci-cfc",
	.read = cfc_read,
	.write = cfc_write,
	.sizes = IOBUS_SIZE_1 | IOBUS_SIZE_2 | IOBUS_SIZE_4,
};

/* ---- ECAM ---- */

static uint64_t ecam_read(void *opaque, uint64_t offset, unsigned size)
{
	/* Guest value: the offset is below LAYOUT_PCI_ECAM_SIZE, the bus checked that. */
	return pci_host_config_read(opaque, (unsigned)(offset >> 20), (offset >> 15) & 0x1f,
				    (offset >> 12) & 7, offset & 0xfff, size);
}

static void ecam_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	pci_host_config_write(opaque, (unsigned)(offset >> 20), (offset >> 15) & 0x1f,
			      (offset >> 12) & 7, offset & 0xfff, size, (uint32_t)value);
}

static const struct iobus_ops ecam_ops = {
	.name = "pci-ecam",
	.read = ecam_read,
	.write = ecam_write,
	.sizes = IOBUS_SIZE_1 | IOBUS_SIZE_2 | IOBUS_SIZE_4,
	.split = true, /* a 64-bit access is two dword accesses */
};

/* ---- windows ---- */

static uint64_t window_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_window *w = opaque;
	uint64_t v;

	iobus_read(w->inner, w->base + offset, size, &v);
	return v;
}

static void window_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_window *w = opaque;

	iobus_write(w->inner, w->base + offset, size, value);
}

/* The BAR's own rules are applied by the inner bus, so the window passes everything. */
static const struct iobus_ops window_ops = {
	.name = "pci-window",
	.read = window_read,
	.write = window_write,
	.sizes = IOBUS_SIZE_ALL,
	.unaligned_ok = true,
};

static int pci_host_add_window(struct pci_host *h, struct iobus *outer, struct iobus *inner,
			       uint64_t base, uint64_t size)
{
	struct pci_window *w;
	int rc;

	if (h->nr_windows == PCI_MAX_WINDOWS)
		return -ENOSPC;
	w = &h->windows[h->nr_windows];
	w->h = h;
	w->outer = outer;
	w->inner = inner;
	w->base = base;
	w->size = size;
	rc = iobus_register(outer, base, size, &window_ops, w);
	if (rc)
		return rc;
	w->registered = true;
	h->nr_windows++;
	return 0;
}

int pci_host_add_mmio_window(struct pci_host *h, uint64_t base, uint64_t size)
{
	int rc;

	pthread_mutex_lock(&h->lock);
	rc = pci_host_add_window(h, &h->m->mmio, &h->bar_mmio, base, size);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* ---- devices ---- */

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision)
{
	memset(dev->config, 0, sizeof(dev->config));
	memset(dev->wmask, 0, sizeof(dev->wmask));
	memset(dev->w1cmask, 0, sizeof(dev->w1cmask));
	memset(dev->bars, 0, sizeof(dev->bars));
	dev->name = name;
	cfg_set(dev, PCI_VENDOR_ID, 2, vendor);
	cfg_set(dev, PCI_DEVICE_ID, 2, device);
	cfg_set(dev, PCI_REVISION_ID, 1, revision);
	cfg_set(dev, PCI_CLASS_PROG, 3, class_code & 0xffffff);
	cfg_set(dev, PCI_SUBSYS_VENDOR, 2, vendor);
	mask_set(dev->wmask, PCI_COMMAND, 2,
		 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
			 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	/* Status error bits 15:11 and 8 are write-1-to-clear. */
	mask_set(dev->w1cmask, PCI_STATUS, 2, 0xf900);
	dev->wmask[PCI_CACHE_LINE] = 0xff;
	dev->wmask[PCI_LATENCY_TIMER] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->cap_end = PCI_CAP_START;
	dev->cap_last = 0;
	dev->host = NULL;
	dev->gsi = 0;
	pthread_mutex_init(&dev->intx_lock, NULL);
	atomic_store(&dev->intx_level, false);
	dev->intx_asserted = false;
	dev->intx_disabled = false;
}

int pci_device_set_bar(struct pci_device *dev, unsigned idx, enum pci_bar_type type,
		       uint64_t size, bool prefetch, const struct iobus_ops *ops, void *opaque)
{
	unsigned off = PCI_BAR0 + 4 * idx;
	uint64_t mask;

	if (idx >= PCI_NUM_BARS || !IS_POW2(size) || dev->host)
		return -EINVAL;
	switch (type) {
	case PCI_BAR_MEM32:
		if (size < 16 || size > 0x80000000ull)
			return -EINVAL;
		cfg_set(dev, off, 4, prefetch ? 0x8 : 0);
		mask_set(dev->wmask, off, 4, (uint32_t)~(size - 1) & ~0xfu);
		break;
	case PCI_BAR_MEM64:
		if (idx + 1 >= PCI_NUM_BARS || size < 16 || size > (1ull << 62))
			return -EINVAL;
		mask = ~(size - 1);
		cfg_set(dev, off, 4, 0x4 | (prefetch ? 0x8 : 0));
		mask_set(dev->wmask, off, 4, (uint32_t)mask & ~0xfu);
		cfg_set(dev, off + 4, 4, 0);
		mask_set(dev->wmask, off + 4, 4, (uint32_t)(mask >> 32));
		memset(&dev->bars[idx + 1], 0, sizeof(dev->bars[idx + 1]));
		break;
	case PCI_BAR_IO:
		if (size < 4 || size > 256 || prefetch)
			return -EINVAL;
		cfg_set(dev, off, 4, 0x1);
		mask_set(dev->wmask, off, 4, (uint32_t)~(size - 1) & 0xfffcu);
		break;
	default:
		return -EINVAL;
	}
	dev->bars[idx] = (struct pci_bar){
		.type = type, .size = size, .prefetch = prefetch, .ops = ops, .opaque = opaque,
	};
	return 0;
}

int pci_device_set_irq_pin(struct pci_device *dev, unsigned pin)
{
	if (pin > 4 || dev->host)
		return -EINVAL;
	dev->config[PCI_INTERRUPT_PIN] = (uint8_t)pin;
	return 0;
}

int pci_device_add_capability(struct pci_device *dev, uint8_t cap_id, unsigned len)
{
	unsigned off = ALIGN_UP(dev->cap_end, 4u);

	if (len < 2 || len > PCI_CONFIG_SIZE || off + len > PCI_CONFIG_SIZE)
		return len < 2 ? -EINVAL : -ENOSPC;
	dev->config[off] = cap_id;
	dev->config[off + 1] = 0;
	if (dev->cap_last)
		dev->config[dev->cap_last + 1] = (uint8_t)off;
	else
		dev->config[PCI_CAP_PTR] = (uint8_t)off;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->cap_last = off;
	dev->cap_end = off + len;
	return (int)off;
}

int pci_host_add_device(struct pci_host *h, struct pci_device *dev)
{
	unsigned slot = dev->slot;
	int rc;

	pthread_mutex_lock(&h->lock);
	if (dev->host) {
		rc = -EINVAL;
		goto out;
	}
	if (slot) {
		if (slot >= PCI_MAX_SLOTS) {
			rc = -EINVAL;
			goto out;
		}
		if (h->devs[slot]) {
			rc = -EBUSY;
			goto out;
		}
	} else {
		for (slot = 1; slot < PCI_MAX_SLOTS && h->devs[slot]; slot++)
			;
		if (slot == PCI_MAX_SLOTS) {
			rc = -ENOSPC;
			goto out;
		}
	}
	dev->slot = slot;
	dev->host = h;
	if (dev->config[PCI_INTERRUPT_PIN]) {
		/* Must match the ACPI _PRT: pins count from INTA = 0 there. */
		dev->gsi = LAYOUT_GSI_PCI_FIRST + (slot + dev->config[PCI_INTERRUPT_PIN] - 1) % 8;
		dev->config[PCI_INTERRUPT_LINE] = (uint8_t)dev->gsi;
	}
	h->devs[slot] = dev;
	rc = (int)slot;
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void pci_host_remove_device(struct pci_host *h, struct pci_device *dev)
{
	if (!h || !dev)
		return;
	pthread_mutex_lock(&h->lock);
	if (dev->host == h && dev->slot < PCI_MAX_SLOTS && h->devs[dev->slot] == dev) {
		for (unsigned i = 0; i < PCI_NUM_BARS; i++)
			bar_unmap(h, dev, i);
		pthread_mutex_lock(&dev->intx_lock);
		if (dev->intx_asserted)
			irq_set_level(&h->m->irq, dev->gsi, false);
		dev->intx_asserted = false;
		dev->host = NULL;
		pthread_mutex_unlock(&dev->intx_lock);
		h->devs[dev->slot] = NULL;
	}
	pthread_mutex_unlock(&h->lock);
}

/* ---- host ---- */

int pci_host_create(struct machine *m, struct pci_host **out)
{
	struct pci_host *h;
	int rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->m = m;
	pthread_mutex_init(&h->lock, NULL);
	iobus_init(&h->bar_mmio, "pci-bar-mmio");
	iobus_init(&h->bar_pio, "pci-bar-pio");

	pci_device_init(&h->bridge, "host-bridge", PCI_HOST_BRIDGE_VENDOR,
			PCI_HOST_BRIDGE_DEVICE, 0x060000, 0);
	/* The bridge decodes nothing of its own: no command bits to set. */
	mask_set(h->bridge.wmask, PCI_COMMAND, 2, 0);
	h->bridge.slot = 0;
	h->bridge.host = h;
	h->devs[0] = &h->bridge;

	rc = iobus_register(&m->pio, LAYOUT_PORT_PCI_CONFIG, 4, &cf8_ops, h);
	if (rc)
		goto fail;
	h->cf8_registered = true;
	rc = iobus_register(&m->pio, LAYOUT_PORT_PCI_CONFIG + 4, 4, &cfc_ops, h);
	if (rc)
		goto fail;
	h->cfc_registered = true;
	rc = iobus_register(&m->mmio, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, &ecam_ops, h);
	if (rc)
		goto fail;
	h->ecam_registered = true;
	rc = pci_host_add_window(h, &m->mmio, &h->bar_mmio, LAYOUT_PCI_MMIO32,
				 LAYOUT_PCI_MMIO32_SIZE);
	if (rc)
		goto fail;
	rc = pci_host_add_window(h, &m->pio, &h->bar_pio, PCI_HOST_IO_WINDOW,
				 PCI_HOST_IO_WINDOW_SIZE);
	if (rc)
		goto fail;
	*out = h;
	return 0;
fail:
	pci_host_destroy(h);
	return rc;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->nr_windows; i++)
		if (h->windows[i].registered)
			iobus_unregister(h->windows[i].outer, h->windows[i].base, &h->windows[i]);
	if (h->ecam_registered)
		iobus_unregister(&h->m->mmio, LAYOUT_PCI_ECAM, h);
	if (h->cfc_registered)
		iobus_unregister(&h->m->pio, LAYOUT_PORT_PCI_CONFIG + 4, h);
	if (h->cf8_registered)
		iobus_unregister(&h->m->pio, LAYOUT_PORT_PCI_CONFIG, h);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (h->devs[s])
			pci_host_remove_device(h, h->devs[s]);
	pthread_mutex_destroy(&h->bridge.intx_lock);
	iobus_fini(&h->bar_mmio);
	iobus_fini(&h->bar_pio);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
