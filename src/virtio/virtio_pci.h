/*
 * Modern virtio-pci transport (virtio 1.2, 4.1): a PCI function with vendor
 * 0x1af4 and device 0x1040 + the virtio device ID, one 64-bit memory BAR
 * (layout in virtio_pci_regs.h), the virtio vendor capabilities (common,
 * notify, ISR, device, PCI config access) and MSI-X.
 */
#ifndef PETREL_VIRTIO_VIRTIO_PCI_H
#define PETREL_VIRTIO_VIRTIO_PCI_H

#include "virtio/virtio.h"

struct event_loop;
struct machine;
struct pci_host;
struct virtio_pci;

/*
 * Engine fast paths for the transport (KVM's ioeventfd and irqfd); each op
 * returns 0 / a handle, or -errno, and on failure the transport keeps its
 * plain path (MMIO exits to virtio_queue_notify, irq_send_msi), so a refusal
 * only costs speed.
 */
struct vpci_accel_ops {
	/* Guest writes of len bytes to MMIO gpa signal fd, with no exit (assign false: undo). */
	int (*ioeventfd)(void *opaque, uint64_t gpa, unsigned len, int fd, bool assign);
	/* Signalling fd delivers the MSI (addr, data); returns the route's GSI (>= 0). */
	int (*msi_route_add)(void *opaque, uint64_t addr, uint32_t data, int fd);
	/* The driver reprogrammed the vector: the route now delivers (addr, data). */
	int (*msi_route_set)(void *opaque, int gsi, uint64_t addr, uint32_t data);
	void (*msi_route_del)(void *opaque, int gsi, int fd);
};

int virtio_pci_create(struct machine *m, struct pci_host *host, struct virtio_dev *dev,
		      struct virtio_pci **out);
void virtio_pci_destroy(struct virtio_pci *vp);
/*
 * Use the engine's fast paths: queue notifications become eventfds served
 * by `loop` (the I/O thread) wherever BAR 0 decodes, and MSI-X vectors
 * become routes signalled through eventfds. Detach before the engine goes
 * away (it undoes every registration); both are idempotent.
 */
int virtio_pci_attach_accel(struct virtio_pci *vp, const struct vpci_accel_ops *ops, void *opaque,
			    struct event_loop *loop);
void virtio_pci_detach_accel(struct virtio_pci *vp);
/* Counters of the fast paths (tests, metrics). */
struct vpci_accel_stats {
	uint64_t notifies;       /* queue notifications that arrived through an eventfd */
	uint64_t msis;           /* MSI-X messages sent through an eventfd */
	bool ioeventfds_on;      /* notify ioeventfds registered (BAR 0 decoding) */
};
void virtio_pci_accel_stats(struct virtio_pci *vp, struct vpci_accel_stats *st);
/* The PCI slot the device landed in. */
unsigned virtio_pci_slot(const struct virtio_pci *vp);

#endif
