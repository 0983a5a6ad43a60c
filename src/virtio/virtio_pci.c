#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci_host.h"
#include "virtio/virtio_pci_regs.h"
#include "vm/machine.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define VIRTIO_BAR 0

enum { CFG_COMMON = 1, CFG_NOTIFY = 2, CFG_ISR = 3, CFG_DEVICE = 4, CFG_PCI = 5 };

struct virtio_pci {
	struct pci_device pci;
	struct vpci_regs regs;
	struct pci_host *host;
	int msix_cap;
	int pci_cfg_cap;
};

static uint64_t bar_read(void *opaque, uint64_t off, unsigned size)
{
	return vpci_bar_read(opaque, off, size);
}

static void bar_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	vpci_bar_write(opaque, off, size, value);
}

static const struct iobus_ops vpci_bar_ops = {
	.name = "virtio-pci",
	.read = bar_read,
	.write = bar_write,
	.sizes = IOBUS_SIZE_ALL,
};

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int add_virtio_cap(struct pci_device *d, uint8_t type, uint32_t off, uint32_t len,
			  unsigned extra)
{
	int at = pci_device_add_capability(d, PCI_CAP_ID_VNDR, 16 + extra);

	if (at < 0)
		return at;
	d->config[at + 2] = (uint8_t)(16 + extra); /* cap_len */
	d->config[at + 3] = type;
	d->config[at + 4] = VIRTIO_BAR;
	put32(&d->config[at + 8], off);
	put32(&d->config[at + 12], len);
	return at;
}

static void intx(void *opaque, bool level)
{
	pci_device_set_intx(opaque, level);
}

/*
 * Config writes: MSI-X control changes, and the PCI configuration access
 * capability (a window onto the BAR for drivers that cannot map it).
 */
static void vpci_config_write(struct pci_device *d, unsigned off, unsigned size, uint32_t value)
{
	struct virtio_pci *vp = d->opaque;
	unsigned ctrl = (unsigned)vp->msix_cap + 2;

	if (off <= ctrl + 1 && off + size > ctrl) {
		uint16_t c;
		memcpy(&c, &d->config[ctrl], 2);
		vpci_msix_control(&vp->regs, c);
	}
	if (vp->pci_cfg_cap > 0 && off >= (unsigned)vp->pci_cfg_cap + 16 &&
	    off < (unsigned)vp->pci_cfg_cap + 20) {
		uint8_t *cap = &d->config[vp->pci_cfg_cap];
		uint32_t boff = get32(cap + 8), blen = get32(cap + 12);
		/* Guest-chosen window: only 1, 2 or 4 bytes inside the BAR reach the device. */
		if ((blen == 1 || blen == 2 || blen == 4) && cap[4] == VIRTIO_BAR &&
		    boff <= VPCI_BAR_SIZE - blen)
			vpci_bar_write(&vp->regs, boff, blen, get32(cap + 16));
	}
}

static void vpci_config_read(struct pci_device *d, unsigned off, unsigned size, uint32_t *value)
{
	struct virtio_pci *vp = d->opaque;

	if (vp->pci_cfg_cap > 0 && off >= (unsigned)vp->pci_cfg_cap + 16 &&
	    off < (unsigned)vp->pci_cfg_cap + 20) {
		uint8_t *cap = &d->config[vp->pci_cfg_cap];
		uint32_t boff = get32(cap + 8), blen = get32(cap + 12), data = 0;
		if ((blen == 1 || blen == 2 || blen == 4) && cap[4] == VIRTIO_BAR &&
		    boff <= VPCI_BAR_SIZE - blen)
			data = (uint32_t)vpci_bar_read(&vp->regs, boff, blen);
		/* Return the bytes of the data field the guest asked for. */
		*value = (uint32_t)(((uint64_t)data >> (8 * (off - (vp->pci_cfg_cap + 16)))) &
				    (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1));
	}
}

static uint32_t class_of(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET: return 0x020000;     /* network: Ethernet */
	case VIRTIO_ID_BLOCK: return 0x018000;   /* mass storage: other */
	case VIRTIO_ID_CONSOLE: return 0x078000; /* communication: other */
	default: return 0x00ff00;                /* unclassified */
	}
}

int virtio_pci_create(struct machine *m, struct pci_host *host, struct virtio_dev *dev,
		      struct virtio_pci **out)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	struct pci_device *d;
	int rc, at;

	if (!vp)
		return -ENOMEM;
	d = &vp->pci;
	vp->host = host;
	vpci_regs_init(&vp->regs, dev, &m->irq, 0);
	vp->regs.set_intx = intx;
	vp->regs.intx_opaque = d;
	pci_device_init(d, dev->ops->name, VIRTIO_PCI_VENDOR,
			VIRTIO_PCI_DEVICE_BASE + dev->ops->device_id, class_of(dev->ops->device_id), 1);
	/* Modern-only devices use a subsystem ID of 0x40 or more (virtio 1.2, 4.1.2.1). */
	put16(&d->config[PCI_SUBSYS_VENDOR], VIRTIO_PCI_VENDOR);
	put16(&d->config[PCI_SUBSYS_ID], 0x40);
	d->opaque = vp;
	d->config_write = vpci_config_write;
	d->config_read = vpci_config_read;
	rc = pci_device_set_bar(d, VIRTIO_BAR, PCI_BAR_MEM64, VPCI_BAR_SIZE, false, &vpci_bar_ops,
				&vp->regs);
	if (rc < 0)
		goto out;
	rc = pci_device_set_irq_pin(d, 1);
	if (rc < 0)
		goto out;

	if ((rc = add_virtio_cap(d, CFG_COMMON, VPCI_COMMON_OFF, VPCI_COMMON_LEN, 0)) < 0 ||
	    (rc = add_virtio_cap(d, CFG_ISR, VPCI_ISR_OFF, VPCI_ISR_LEN, 0)) < 0 ||
	    (rc = add_virtio_cap(d, CFG_DEVICE, VPCI_DEVICE_OFF, VPCI_DEVICE_LEN, 0)) < 0)
		goto out;
	at = add_virtio_cap(d, CFG_NOTIFY, VPCI_NOTIFY_OFF, VPCI_NOTIFY_LEN, 4);
	if (at < 0) {
		rc = at;
		goto out;
	}
	put32(&d->config[at + 16], VPCI_NOTIFY_MULT);
	at = add_virtio_cap(d, CFG_PCI, 0, 0, 4);
	if (at < 0) {
		rc = at;
		goto out;
	}
	vp->pci_cfg_cap = at;
	/* bar, offset, length and data of the access window are the driver's to set. */
	d->wmask[at + 4] = 0xff;
	memset(&d->wmask[at + 8], 0xff, 12);

	at = pci_device_add_capability(d, PCI_CAP_ID_MSIX, 12);
	if (at < 0) {
		rc = at;
		goto out;
	}
	vp->msix_cap = at;
	put16(&d->config[at + 2], VPCI_MSIX_VECTORS - 1);
	put32(&d->config[at + 4], VPCI_MSIX_TABLE_OFF | VIRTIO_BAR);
	put32(&d->config[at + 8], VPCI_MSIX_PBA_OFF | VIRTIO_BAR);
	d->wmask[at + 3] = 0xc0; /* enable (bit 15) and function mask (bit 14) */

	rc = pci_host_add_device(host, d);
	if (rc < 0)
		goto out;
	*out = vp;
	return 0;
out:
	vpci_regs_fini(&vp->regs);
	free(vp);
	return rc;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	pci_host_remove_device(vp->host, &vp->pci);
	vpci_regs_fini(&vp->regs);
	free(vp);
}

unsigned virtio_pci_slot(const struct virtio_pci *vp)
{
	return vp->pci.slot;
}
