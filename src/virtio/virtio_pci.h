/*
 * Modern virtio-pci transport (virtio 1.2, 4.1): a PCI function with vendor
 * 0x1af4 and device 0x1040 + the virtio device ID, one 64-bit memory BAR
 * (layout in virtio_pci_regs.h), the virtio vendor capabilities (common,
 * notify, ISR, device, PCI config access) and MSI-X.
 */
#ifndef PETREL_VIRTIO_VIRTIO_PCI_H
#define PETREL_VIRTIO_VIRTIO_PCI_H

#include "virtio/virtio.h"

struct machine;
struct pci_host;
struct virtio_pci;

int virtio_pci_create(struct machine *m, struct pci_host *host, struct virtio_dev *dev,
		      struct virtio_pci **out);
void virtio_pci_destroy(struct virtio_pci *vp);
/* The PCI slot the device landed in. */
unsigned virtio_pci_slot(const struct virtio_pci *vp);

#endif
