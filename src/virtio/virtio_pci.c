#include "virtio/virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci_host.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "virtio/virtio_pci_regs.h"
#include "vm/machine.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define VIRTIO_BAR 0

enum { CFG_COMMON = 1, CFG_NOTIFY = 2, CFG_ISR = 3, CFG_DEVICE = 4, CFG_PCI = 5 };

struct vpci_notify {
	struct virtio_pci *vp;
	unsigned q;
	int fd;
};

struct vpci_irqfd {
	int fd;                  /* -1 until the vector first fires */
	int gsi;
	uint64_t addr;           /* what the route delivers now */
	uint32_t data;
	bool failed;             /* the engine refused: plain path for this vector */
};

struct virtio_pci {
	struct pci_device pci;
	struct vpci_regs regs;
	struct pci_host *host;
	int msix_cap;
	int pci_cfg_cap;

	/* Engine fast paths. accel_lock guards these and the ioeventfd registrations. */
	pthread_mutex_t accel_lock;
	const struct vpci_accel_ops *aops;
	void *aopaque;
	struct event_loop *loop;
	bool bar_mapped;         /* BAR 0 as bar_update last reported it */
	uint64_t bar_addr;
	bool ioev_on;            /* notify ioeventfds registered at ioev_base */
	uint64_t ioev_base;
	struct vpci_notify notify[VIRTIO_MAX_QUEUES];
	/* Under regs.lock (msix_fire_locked calls vp_msi_fast with it held). */
	struct vpci_irqfd irqfd[VPCI_MSIX_VECTORS];
	uint64_t fast_notifies, fast_msis; /* atomic counters */
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

/* --- engine fast paths --- */

/* Notify address of queue q: its own 4-byte slot, the index written as 16 bits by Linux. */
static uint64_t notify_gpa(uint64_t bar, unsigned q)
{
	return bar + VPCI_NOTIFY_OFF + (uint64_t)q * VPCI_NOTIFY_MULT;
}

/* Register the notify ioeventfds where BAR 0 decodes now, or none. accel_lock held. */
static void ioev_sync_locked(struct virtio_pci *vp)
{
	bool want = vp->aops && vp->aops->ioeventfd && vp->bar_mapped;
	unsigned nq = vp->regs.dev->ops->nr_queues, q;

	if (vp->ioev_on && (!want || vp->ioev_base != vp->bar_addr)) {
		for (q = 0; q < nq; q++)
			vp->aops->ioeventfd(vp->aopaque, notify_gpa(vp->ioev_base, q), 2,
					    vp->notify[q].fd, false);
		vp->ioev_on = false;
	}
	if (!want || vp->ioev_on)
		return;
	for (q = 0; q < nq; q++) {
		int rc = vp->aops->ioeventfd(vp->aopaque, notify_gpa(vp->bar_addr, q), 2,
					     vp->notify[q].fd, true);
		if (rc < 0) {
			/* Writes there still exit and reach the device through the BAR. */
			log_warn("%s: ioeventfd for queue %u refused (%s); notifications take exits",
				 vp->pci.name, q, strerror(-rc));
			while (q-- > 0)
				vp->aops->ioeventfd(vp->aopaque, notify_gpa(vp->bar_addr, q), 2,
						    vp->notify[q].fd, false);
			return;
		}
	}
	vp->ioev_on = true;
	vp->ioev_base = vp->bar_addr;
}

/* The host bridge mapped, unmapped or moved a BAR (host lock held). */
static void vpci_bar_update(struct pci_device *d, unsigned bar, bool mapped, uint64_t addr)
{
	struct virtio_pci *vp = d->opaque;

	if (bar != VIRTIO_BAR)
		return;
	pthread_mutex_lock(&vp->accel_lock);
	vp->bar_mapped = mapped;
	vp->bar_addr = addr;
	ioev_sync_locked(vp);
	pthread_mutex_unlock(&vp->accel_lock);
}

/* I/O thread: the guest wrote queue q's notify address. */
static void vpci_notify_ready(void *opaque, int fd, uint32_t events)
{
	struct vpci_notify *n = opaque;
	uint64_t count;

	if (read(fd, &count, sizeof(count)) != sizeof(count))
		return; /* nothing pending (EAGAIN) */
	__atomic_fetch_add(&n->vp->fast_notifies, 1, __ATOMIC_RELAXED);
	virtio_queue_notify(n->vp->regs.dev, n->q);
}

/* MSI-X vector v through the engine: its route is made on first use, refreshed when the
 * driver rewrote the table entry. regs.lock held. */
static int vp_msi_fast(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct virtio_pci *vp = opaque;
	struct vpci_irqfd *f = &vp->irqfd[v];
	const uint64_t one = 1;

	if (!vp->aops || !vp->aops->msi_route_add || f->failed)
		return -ENOTSUP;
	if (f->fd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), gsi;

		if (fd < 0) {
			f->failed = true;
			return -errno;
		}
		gsi = vp->aops->msi_route_add(vp->aopaque, addr, data, fd);
		if (gsi < 0) {
			log_warn("%s: MSI route for vector %u refused (%s); plain MSI instead",
				 vp->pci.name, v, strerror(-gsi));
			close(fd);
			f->failed = true;
			return gsi;
		}
		*f = (struct vpci_irqfd){ .fd = fd, .gsi = gsi, .addr = addr, .data = data };
	} else if (f->addr != addr || f->data != data) {
		if (!vp->aops->msi_route_set ||
		    vp->aops->msi_route_set(vp->aopaque, f->gsi, addr, data) < 0)
			return -EIO; /* this message goes the plain way; try again next time */
		f->addr = addr;
		f->data = data;
	}
	if (write(f->fd, &one, sizeof(one)) != sizeof(one))
		return -EIO;
	__atomic_fetch_add(&vp->fast_msis, 1, __ATOMIC_RELAXED);
	return 0;
}

static void irqfds_release_locked(struct virtio_pci *vp)
{
	for (unsigned v = 0; v < VPCI_MSIX_VECTORS; v++) {
		struct vpci_irqfd *f = &vp->irqfd[v];

		if (f->fd >= 0) {
			if (vp->aops && vp->aops->msi_route_del)
				vp->aops->msi_route_del(vp->aopaque, f->gsi, f->fd);
			close(f->fd);
		}
		*f = (struct vpci_irqfd){ .fd = -1, .gsi = -1 };
	}
}

static void notify_fds_close_locked(struct virtio_pci *vp)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct vpci_notify *n = &vp->notify[q];

		if (n->fd >= 0) {
			if (vp->loop)
				event_loop_del_fd(vp->loop, n->fd);
			close(n->fd);
		}
		n->fd = -1;
	}
}

int virtio_pci_attach_accel(struct virtio_pci *vp, const struct vpci_accel_ops *ops, void *opaque,
			    struct event_loop *loop)
{
	unsigned nq = vp->regs.dev->ops->nr_queues;
	int rc = 0;

	if (!ops)
		return -EINVAL;
	pthread_mutex_lock(&vp->accel_lock);
	if (vp->aops) {
		rc = -EBUSY;
		goto out;
	}
	vp->loop = loop;
	if (ops->ioeventfd && loop) {
		for (unsigned q = 0; q < nq; q++) {
			struct vpci_notify *n = &vp->notify[q];

			n->vp = vp;
			n->q = q;
			n->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (n->fd < 0) {
				rc = -errno;
				break;
			}
			rc = event_loop_add_fd(loop, n->fd, EPOLLIN, vpci_notify_ready, n);
			if (rc < 0) {
				close(n->fd);
				n->fd = -1;
				break;
			}
		}
		if (rc < 0) {
			notify_fds_close_locked(vp);
			vp->loop = NULL;
			goto out;
		}
	}
	vp->aops = ops;
	vp->aopaque = opaque;
	if (ops->ioeventfd && loop)
		ioev_sync_locked(vp);
out:
	pthread_mutex_unlock(&vp->accel_lock);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&vp->regs.lock);
	irqfds_release_locked(vp); /* all -1 */
	vp->regs.msi_fast = vp_msi_fast;
	vp->regs.msi_fast_opaque = vp;
	pthread_mutex_unlock(&vp->regs.lock);
	return 0;
}

void virtio_pci_detach_accel(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->regs.lock);
	vp->regs.msi_fast = NULL;
	vp->regs.msi_fast_opaque = NULL;
	irqfds_release_locked(vp);
	pthread_mutex_unlock(&vp->regs.lock);

	pthread_mutex_lock(&vp->accel_lock);
	if (vp->aops) {
		bool mapped = vp->bar_mapped;

		vp->bar_mapped = false; /* undoes the registrations */
		ioev_sync_locked(vp);
		vp->bar_mapped = mapped;
		notify_fds_close_locked(vp);
	}
	vp->aops = NULL;
	vp->aopaque = NULL;
	vp->loop = NULL;
	pthread_mutex_unlock(&vp->accel_lock);
}

void virtio_pci_accel_stats(struct virtio_pci *vp, struct vpci_accel_stats *st)
{
	st->notifies = __atomic_load_n(&vp->fast_notifies, __ATOMIC_RELAXED);
	st->msis = __atomic_load_n(&vp->fast_msis, __ATOMIC_RELAXED);
	pthread_mutex_lock(&vp->accel_lock);
	st->ioeventfds_on = vp->ioev_on;
	pthread_mutex_unlock(&vp->accel_lock);
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
	pthread_mutex_init(&vp->accel_lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->notify[q].fd = -1;
	for (unsigned v = 0; v < VPCI_MSIX_VECTORS; v++)
		vp->irqfd[v] = (struct vpci_irqfd){ .fd = -1, .gsi = -1 };
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
	d->bar_update = vpci_bar_update;
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
	pthread_mutex_destroy(&vp->accel_lock);
	free(vp);
	return rc;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	virtio_pci_detach_accel(vp);
	pci_host_remove_device(vp->host, &vp->pci);
	vpci_regs_fini(&vp->regs);
	pthread_mutex_destroy(&vp->accel_lock);
	free(vp);
}

unsigned virtio_pci_slot(const struct virtio_pci *vp)
{
	return vp->pci.slot;
}
