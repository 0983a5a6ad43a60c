/*
 * The register side of the modern virtio-pci transport (virtio 1.2, 4.1):
 * the BAR holding the common configuration, ISR, device configuration,
 * notification area and the MSI-X table and pending-bit array. Kept apart
 * from the PCI glue so it is unit-tested on its own.
 *
 * BAR layout (one 64-bit memory BAR of VPCI_BAR_SIZE bytes):
 */
#ifndef PETREL_VIRTIO_VIRTIO_PCI_REGS_H
#define PETREL_VIRTIO_VIRTIO_PCI_REGS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define VPCI_COMMON_OFF 0x0000
#define VPCI_COMMON_LEN 0x0040
#define VPCI_ISR_OFF 0x1000
#define VPCI_ISR_LEN 0x0004
#define VPCI_DEVICE_OFF 0x2000
#define VPCI_DEVICE_LEN 0x1000
#define VPCI_NOTIFY_OFF 0x3000
#define VPCI_NOTIFY_MULT 4          /* bytes between queue notify addresses */
#define VPCI_NOTIFY_LEN (VIRTIO_MAX_QUEUES * VPCI_NOTIFY_MULT)
#define VPCI_MSIX_TABLE_OFF 0x4000
#define VPCI_MSIX_PBA_OFF 0x5000
#define VPCI_BAR_SIZE 0x8000
#define VPCI_MSIX_VECTORS (VIRTIO_MAX_QUEUES + 1)

struct irq_router;

struct vpci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
};

struct vpci_regs {
	struct virtio_dev *dev;
	struct irq_router *irq;     /* MSI delivery (and INTx when set_intx is NULL) */
	unsigned intx_gsi;
	/* INTx through the PCI function (honours the command register's disable bit). */
	void (*set_intx)(void *opaque, bool level);
	void *intx_opaque;
	pthread_mutex_t lock;

	uint32_t dfselect, gfselect;
	uint64_t driver_features;   /* accumulated from the two 32-bit halves */
	uint16_t queue_select;
	uint8_t isr;                /* bit 0: queue interrupt, bit 1: config change */

	/*
	 * Optional engine fast path for MSI-X (KVM irqfd): returns 0 when it
	 * delivered vector's message, else the plain irq_send_msi() is used.
	 * Called with lock held; set and cleared under lock.
	 */
	int (*msi_fast)(void *opaque, uint16_t vector, uint64_t addr, uint32_t data);
	void *msi_fast_opaque;

	bool msix_enabled, msix_masked; /* from the MSI-X capability's control word */
	struct vpci_msix_entry msix[VPCI_MSIX_VECTORS];
	uint64_t msix_pending;
};

void vpci_regs_init(struct vpci_regs *r, struct virtio_dev *dev, struct irq_router *irq,
		    unsigned intx_gsi);
void vpci_regs_fini(struct vpci_regs *r);
/* BAR accesses (offset within the BAR, 1/2/4/8 bytes, checked by the bus). */
uint64_t vpci_bar_read(struct vpci_regs *r, uint64_t off, unsigned size);
void vpci_bar_write(struct vpci_regs *r, uint64_t off, unsigned size, uint64_t value);
/* MSI-X capability control word changes (enable bit 15, function mask bit 14). */
void vpci_msix_control(struct vpci_regs *r, uint16_t control);
/* Transport callbacks for the virtio core. */
extern const struct virtio_transport_ops vpci_transport_ops;

#endif
