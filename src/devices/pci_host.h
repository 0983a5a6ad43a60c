/*
 * PCI host bridge for bus 0: configuration mechanism #1 (ports 0xcf8-0xcff),
 * ECAM (LAYOUT_PCI_ECAM), the bridge itself at 00:00.0, and the routing of
 * device BARs.
 *
 * BAR routing: the host bridge, not the device, puts BARs on the bus. It owns
 * the MMIO window(s) it forwards (LAYOUT_PCI_MMIO32, plus an optional 64-bit
 * window) and an I/O window (PCI_HOST_IO_WINDOW), and dispatches accesses in
 * them to the BARs the guest enabled, through private buses that apply each
 * BAR's iobus_ops access rules. Devices therefore never call iobus_register
 * for a BAR. (A device registering on m->mmio itself from a config write
 * would deadlock: config writes arrive inside a bus dispatch, which holds the
 * bus lock.) A BAR programmed outside the windows decodes nothing, like on a
 * real host bridge. A BAR is mapped when the command register enables its
 * space (memory or I/O) and its address is non-zero and does not wrap; a BAR
 * that would overlap another is left unmapped (logged).
 *
 * Locking: config accesses are serialised by the host's mutex; the device
 * hooks (config_read, config_write, bar_update) run with it held and must not
 * call pci_host_* or pci_device_* functions other than pci_device_set_intx.
 * BAR callbacks run with the private bus's read lock held and likewise must
 * not do config accesses; they may call pci_device_set_intx.
 *
 * The bridge's IDs: Petrel owns no PCI-SIG vendor ID, and borrowing another
 * company's would be dishonest, so the bridge reports vendor 0x0000 (assigned
 * to no active vendor; Linux accepts it, as it rejects only the all-ones and
 * CRS patterns) with device 0x5045 ("PE"), class 06/00/00 (host bridge).
 */
#ifndef PETREL_DEVICES_PCI_HOST_H
#define PETREL_DEVICES_PCI_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/iobus.h"

struct machine;
struct pci_host;
struct pci_device;

#define PCI_CONFIG_SIZE      256  /* conventional config space (mechanism #1) */
#define PCI_ECAM_CONFIG_SIZE 4096 /* extended config space (ECAM) */
#define PCI_NUM_BARS         6
#define PCI_MAX_SLOTS        32

#define PCI_HOST_BRIDGE_VENDOR 0x0000
#define PCI_HOST_BRIDGE_DEVICE 0x5045
/* The I/O-port window for I/O BARs (the ACPI _CRS should list it to use it). */
#define PCI_HOST_IO_WINDOW      0xc000
#define PCI_HOST_IO_WINDOW_SIZE 0x4000

/* Standard type 0 header offsets */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09
#define PCI_CACHE_LINE     0x0c
#define PCI_LATENCY_TIMER  0x0d
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_ROM_ADDRESS    0x30
#define PCI_CAP_PTR        0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d
#define PCI_CAP_START      0x40

#define PCI_COMMAND_IO           0x0001
#define PCI_COMMAND_MEMORY       0x0002
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_PARITY       0x0040
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST  0x0010

enum pci_bar_type {
	PCI_BAR_NONE = 0,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64, /* takes this BAR and the next one */
	PCI_BAR_IO,
};

struct pci_bar {
	enum pci_bar_type type;
	uint64_t size;                /* a power of two: memory >= 16, I/O 4..256 */
	bool prefetch;                /* memory BARs only */
	const struct iobus_ops *ops;  /* accesses, offset relative to the BAR start */
	void *opaque;
	/* Owned by the host: where the BAR currently decodes. */
	uint64_t addr;
	bool mapped;
};

struct pci_device {
	const char *name;
	uint8_t config[PCI_ECAM_CONFIG_SIZE];
	uint8_t wmask[PCI_ECAM_CONFIG_SIZE];   /* bits the guest may change */
	uint8_t w1cmask[PCI_ECAM_CONFIG_SIZE]; /* bits the guest clears by writing 1 */
	struct pci_bar bars[PCI_NUM_BARS];

	/* Optional hooks; NULL is fine. See the locking rules above. */
	/* After the standard value of a read is formed: adjust *value (size 1, 2 or 4). */
	void (*config_read)(struct pci_device *dev, unsigned offset, unsigned size,
			    uint32_t *value);
	/* After a write has been applied through the masks. */
	void (*config_write)(struct pci_device *dev, unsigned offset, unsigned size,
			     uint32_t value);
	/* A BAR started or stopped decoding, or moved. */
	void (*bar_update)(struct pci_device *dev, unsigned bar, bool mapped, uint64_t addr);
	void *opaque;

	/* Set before pci_host_add_device to ask for a slot (1..31); 0 picks one. */
	unsigned slot;
	/* Set by pci_host_add_device. */
	struct pci_host *host;
	unsigned gsi;
	/* Capability list builder state. */
	unsigned cap_end, cap_last;
	/* INTx */
	pthread_mutex_t intx_lock;
	atomic_bool intx_level;
	bool intx_asserted;
	bool intx_disabled;
};

int pci_host_create(struct machine *m, struct pci_host **out);
/* Unmaps every device's BARs and unregisters; devices stay owned by their creators. */
void pci_host_destroy(struct pci_host *h);
/* Forward [base, base+size) (above 4 GiB, say) to 64-bit BARs too. */
int pci_host_add_mmio_window(struct pci_host *h, uint64_t base, uint64_t size);

/*
 * Fill a type 0 header: IDs, class (base << 16 | sub << 8 | prog-if),
 * revision, subsystem = vendor/0, writable command bits, write-1-to-clear
 * status bits, interrupt line. Call before the setters below.
 */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision);
/* Declare BAR `idx` (MEM64 also uses idx+1). -EINVAL for bad sizes or indexes. */
int pci_device_set_bar(struct pci_device *dev, unsigned idx, enum pci_bar_type type,
		       uint64_t size, bool prefetch, const struct iobus_ops *ops, void *opaque);
/* Interrupt pin 1..4 (INTA..INTD); 0 for none. */
int pci_device_set_irq_pin(struct pci_device *dev, unsigned pin);
/*
 * Append a capability of `len` bytes (including the ID and next bytes) to the
 * list in conventional config space. Returns its offset, or -ENOSPC/-EINVAL.
 * The caller fills the body and the wmask of its writable fields.
 */
int pci_device_add_capability(struct pci_device *dev, uint8_t cap_id, unsigned len);
/* Drive the device's INTx line (level-triggered); honours COMMAND.INTX_DISABLE. */
void pci_device_set_intx(struct pci_device *dev, bool level);

/* Put dev in its slot; returns the slot number or -EBUSY/-ENOSPC/-EINVAL. */
int pci_host_add_device(struct pci_host *h, struct pci_device *dev);
void pci_host_remove_device(struct pci_host *h, struct pci_device *dev);

/*
 * Config access by address, as both mechanisms use them (tests, and any
 * engine that traps config accesses otherwise). Absent functions read as
 * all ones; offsets or sizes outside config space are ignored.
 */
uint32_t pci_host_config_read(struct pci_host *h, unsigned bus, unsigned slot, unsigned fn,
			      unsigned offset, unsigned size);
void pci_host_config_write(struct pci_host *h, unsigned bus, unsigned slot, unsigned fn,
			   unsigned offset, unsigned size, uint32_t value);

#endif
