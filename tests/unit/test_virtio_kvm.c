/*
 * virtio-pci's engine fast paths as KVM uses them, with a fake engine:
 * notify ioeventfds follow BAR 0 (registered where it decodes, moved with
 * it, removed when it stops decoding or the engine detaches) and are served
 * on the I/O thread; MSI-X vectors become routes signalled through eventfds,
 * made on first use, refreshed when the driver rewrites the table entry,
 * held back while masked; a refusal falls back to the plain paths. Also the
 * GSI routing table the KVM engine hands to KVM_SET_GSI_ROUTING, and (when
 * /dev/kvm exists) the real ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "accel/kvm_int.h"
#include "arch/x86/layout.h"
#include "devices/pci_host.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "virtio_test_driver.h"
#include "vm/machine.h"

#define MAX_IOEV 16

struct fake_engine {
	pthread_mutex_t lock;
	struct {
		uint64_t gpa;
		unsigned len;
		int fd;
	} ioev[MAX_IOEV];  /* currently assigned */
	unsigned nioev, assigns, deassigns;
	bool refuse_routes;
	int routes, route_sets, route_dels;
	uint64_t route_addr;
	uint32_t route_data;
	int route_fd;
};

static int fe_ioeventfd(void *opaque, uint64_t gpa, unsigned len, int fd, bool assign)
{
	struct fake_engine *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (assign) {
		assert_true(f->nioev < MAX_IOEV);
		f->ioev[f->nioev].gpa = gpa;
		f->ioev[f->nioev].len = len;
		f->ioev[f->nioev].fd = fd;
		f->nioev++;
		f->assigns++;
	} else {
		unsigned i;
		for (i = 0; i < f->nioev; i++)
			if (f->ioev[i].gpa == gpa && f->ioev[i].fd == fd && f->ioev[i].len == len)
				break;
		assert_true(i < f->nioev); /* only what was assigned is deassigned */
		f->ioev[i] = f->ioev[--f->nioev];
		f->deassigns++;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int fe_route_add(void *opaque, uint64_t addr, uint32_t data, int fd)
{
	struct fake_engine *f = opaque;

	if (f->refuse_routes)
		return -ENOSPC;
	f->routes++;
	f->route_addr = addr;
	f->route_data = data;
	f->route_fd = fd;
	return KVM_MSI_GSI_BASE;
}

static int fe_route_set(void *opaque, int gsi, uint64_t addr, uint32_t data)
{
	struct fake_engine *f = opaque;

	assert_int_equal(gsi, KVM_MSI_GSI_BASE);
	f->route_sets++;
	f->route_addr = addr;
	f->route_data = data;
	return 0;
}

static void fe_route_del(void *opaque, int gsi, int fd)
{
	struct fake_engine *f = opaque;

	assert_int_equal(gsi, KVM_MSI_GSI_BASE);
	assert_int_equal(fd, f->route_fd);
	f->route_dels++;
}

static const struct vpci_accel_ops fake_ops = { fe_ioeventfd, fe_route_add, fe_route_set,
						 fe_route_del };

struct rig {
	struct machine m;
	struct pci_host *host;
	struct virtio_rng *rng;
	struct virtio_pci *vp;
	struct event_loop *loop;
	struct fake_engine fe;
	struct vtd t;
	unsigned slot, msix;
	int plain_msis;
};

static void chip_gsi(void *opaque, unsigned gsi, bool level)
{
}

static int chip_msi(void *opaque, uint64_t addr, uint32_t data)
{
	((struct rig *)opaque)->plain_msis++;
	return 0;
}

static const struct irq_chip_ops chip = { chip_gsi, chip_msi };

static uint32_t cfg(struct rig *r, unsigned off, unsigned size)
{
	return pci_host_config_read(r->host, 0, r->slot, 0, off, size);
}

static void cfg_w(struct rig *r, unsigned off, unsigned size, uint32_t v)
{
	pci_host_config_write(r->host, 0, r->slot, 0, off, size, v);
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	pthread_mutex_init(&r->fe.lock, NULL);
	r->fe.route_fd = -1;
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, LAYOUT_MMIO_HOLE), 0);
	assert_int_equal(iobus_init(&r->m.pio, "pio"), 0);
	assert_int_equal(iobus_init(&r->m.mmio, "mmio"), 0);
	assert_int_equal(irq_router_init(&r->m.irq), 0);
	irq_router_set_chip(&r->m.irq, &chip, r);
	assert_int_equal(pci_host_create(&r->m, &r->host), 0);
	assert_int_equal(virtio_rng_create(&r->m, &r->rng), 0);
	assert_int_equal(virtio_pci_create(&r->m, r->host, virtio_rng_dev(r->rng), &r->vp), 0);
	r->slot = virtio_pci_slot(r->vp);
	for (unsigned p = cfg(r, PCI_CAP_PTR, 1); p; p = cfg(r, p + 1, 1))
		if (cfg(r, p, 1) == 0x11)
			r->msix = p;
	assert_true(r->msix != 0);
	assert_int_equal(event_loop_create(&r->loop), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_pci_destroy(r->vp);
	virtio_rng_destroy(r->rng);
	pci_host_destroy(r->host);
	event_loop_destroy(r->loop);
	irq_router_fini(&r->m.irq);
	iobus_fini(&r->m.mmio);
	iobus_fini(&r->m.pio);
	gmem_fini(&r->m.mem);
	pthread_mutex_destroy(&r->fe.lock);
	free(r);
	return 0;
}

static void map_bar(struct rig *r, uint64_t bar)
{
	cfg_w(r, PCI_COMMAND, 2, 0);
	cfg_w(r, PCI_BAR0, 4, (uint32_t)bar);
	cfg_w(r, PCI_BAR0 + 4, 4, (uint32_t)(bar >> 32));
	cfg_w(r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static unsigned nioev(struct rig *r)
{
	unsigned n;

	pthread_mutex_lock(&r->fe.lock);
	n = r->fe.nioev;
	pthread_mutex_unlock(&r->fe.lock);
	return n;
}

static void test_ioeventfds_follow_bar0(void **state)
{
	struct rig *r = *state;
	uint64_t bar = LAYOUT_PCI_MMIO32 + 0x100000, bar2 = LAYOUT_PCI_MMIO32 + 0x300000;
	struct vpci_accel_stats st;

	/* Attached before the BAR decodes: nothing to register yet. */
	assert_int_equal(virtio_pci_attach_accel(r->vp, &fake_ops, &r->fe, r->loop), 0);
	assert_int_equal(virtio_pci_attach_accel(r->vp, &fake_ops, &r->fe, r->loop), -EBUSY);
	assert_int_equal(nioev(r), 0);
	map_bar(r, bar);
	/* rng has one queue: its notify address, 16-bit writes. */
	assert_int_equal(nioev(r), 1);
	assert_int_equal(r->fe.ioev[0].gpa, bar + 0x3000);
	assert_int_equal(r->fe.ioev[0].len, 2);
	virtio_pci_accel_stats(r->vp, &st);
	assert_true(st.ioeventfds_on);
	/* Memory decoding off: removed. Moved: registered at the new place only. */
	cfg_w(r, PCI_COMMAND, 2, 0);
	assert_int_equal(nioev(r), 0);
	map_bar(r, bar2);
	assert_int_equal(nioev(r), 1);
	assert_int_equal(r->fe.ioev[0].gpa, bar2 + 0x3000);
	/* Detach undoes everything; a second detach is harmless. */
	virtio_pci_detach_accel(r->vp);
	virtio_pci_detach_accel(r->vp);
	assert_int_equal(nioev(r), 0);
	assert_int_equal(r->fe.assigns, r->fe.deassigns);
	virtio_pci_accel_stats(r->vp, &st);
	assert_false(st.ioeventfds_on);
	/* Without the engine the BAR moves with no registrations. */
	map_bar(r, bar);
	assert_int_equal(r->fe.assigns, 2);
}

/* Program MSI-X table entry 0 through the BAR and enable MSI-X. */
static void msix_entry0(struct rig *r, uint64_t bar, uint32_t data, bool masked)
{
	assert_true(iobus_write(&r->m.mmio, bar + 0x4000, 4, 0xfee00000));
	assert_true(iobus_write(&r->m.mmio, bar + 0x4004, 4, 0));
	assert_true(iobus_write(&r->m.mmio, bar + 0x4008, 4, data));
	assert_true(iobus_write(&r->m.mmio, bar + 0x400c, 4, masked ? 1 : 0));
	cfg_w(r, r->msix + 2, 2, 0x8000);
}

/* The driver side: rings through the core (vector 0 for queue 0), the transport kept. */
static void driver_up(struct rig *r)
{
	struct virtio_dev *d = virtio_rng_dev(r->rng);
	const struct virtio_transport_ops *tops = d->transport;
	void *tpriv = d->transport_priv;

	vtd_init(&r->t, &r->m, d, 1);
	vtd_bring_up(&r->t, 1ull << VIRTIO_F_VERSION_1, 1);
	d->transport = tops;
	d->transport_priv = tpriv;
	assert_int_equal(d->qcfg[0].msix_vector, 0);
}

/* What KVM does for a guest write to the notify address: signal the ioeventfd. */
static void guest_notify(struct rig *r)
{
	const uint64_t one = 1;
	int fd;

	pthread_mutex_lock(&r->fe.lock);
	assert_int_equal(r->fe.nioev, 1);
	fd = r->fe.ioev[0].fd;
	pthread_mutex_unlock(&r->fe.lock);
	assert_int_equal(write(fd, &one, 8), 8);
}

/* Wait for the I/O thread to serve the queue: the next used element's length. */
static int64_t wait_used(struct rig *r)
{
	for (int i = 0; i < 2000; i++) {
		int64_t n = vtd_used(&r->t, 0, NULL);
		if (n >= 0)
			return n;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return -1;
}

/* How many times the route's eventfd was signalled since the last call. */
static uint64_t irqfd_count(struct rig *r)
{
	uint64_t n = 0;

	if (r->fe.route_fd < 0 || read(r->fe.route_fd, &n, 8) != 8)
		return 0;
	return n;
}

static void test_notify_and_msix_through_eventfds(void **state)
{
	struct rig *r = *state;
	uint64_t bar = LAYOUT_PCI_MMIO32 + 0x100000;
	struct vtd_desc buf = { VTD_BUF, 32, true };
	struct vpci_accel_stats st;

	map_bar(r, bar);
	assert_int_equal(virtio_pci_attach_accel(r->vp, &fake_ops, &r->fe, r->loop), 0);
	msix_entry0(r, bar, 0x41, false);
	driver_up(r);

	/* Notify through the eventfd; the I/O thread runs the device, the MSI takes a route. */
	vtd_post(&r->t, 0, &buf, 1, false);
	guest_notify(r);
	assert_int_equal(wait_used(r), 32);
	assert_int_equal(r->fe.routes, 1);
	assert_int_equal(r->fe.route_addr, 0xfee00000);
	assert_int_equal(r->fe.route_data, 0x41);
	assert_int_equal(irqfd_count(r), 1);
	assert_int_equal(r->plain_msis, 0);
	virtio_pci_accel_stats(r->vp, &st);
	assert_int_equal(st.notifies, 1);
	assert_int_equal(st.msis, 1);

	/* The driver moves the vector (new data): the route follows before it fires. */
	assert_true(iobus_write(&r->m.mmio, bar + 0x4008, 4, 0x42));
	vtd_post(&r->t, 0, &buf, 1, false);
	guest_notify(r);
	assert_int_equal(wait_used(r), 32);
	assert_int_equal(r->fe.routes, 1);
	assert_int_equal(r->fe.route_sets, 1);
	assert_int_equal(r->fe.route_data, 0x42);
	assert_int_equal(irqfd_count(r), 1);

	/* Masked: held as pending, nothing signalled; unmasking delivers it. */
	assert_true(iobus_write(&r->m.mmio, bar + 0x400c, 4, 1));
	vtd_post(&r->t, 0, &buf, 1, false);
	guest_notify(r);
	assert_int_equal(wait_used(r), 32);
	assert_int_equal(irqfd_count(r), 0);
	assert_true(iobus_write(&r->m.mmio, bar + 0x400c, 4, 0));
	assert_int_equal(irqfd_count(r), 1);

	/* The plain MMIO path still works beside the ioeventfd (e.g. a 32-bit write). */
	vtd_post(&r->t, 0, &buf, 1, false);
	assert_true(iobus_write(&r->m.mmio, bar + 0x3000, 4, 0));
	assert_int_equal(vtd_used(&r->t, 0, NULL), 32);
	assert_int_equal(irqfd_count(r), 1);
	assert_int_equal(r->plain_msis, 0);

	virtio_pci_detach_accel(r->vp);
	assert_int_equal(r->fe.route_dels, 1);
	assert_int_equal(nioev(r), 0);
	/* Detached: MSIs take the plain path again. */
	vtd_post(&r->t, 0, &buf, 1, false);
	assert_true(iobus_write(&r->m.mmio, bar + 0x3000, 2, 0));
	assert_int_equal(vtd_used(&r->t, 0, NULL), 32);
	assert_int_equal(r->plain_msis, 1);
}

static void test_refused_route_falls_back(void **state)
{
	struct rig *r = *state;
	uint64_t bar = LAYOUT_PCI_MMIO32 + 0x100000;
	struct vtd_desc buf = { VTD_BUF, 16, true };

	r->fe.refuse_routes = true;
	map_bar(r, bar);
	assert_int_equal(virtio_pci_attach_accel(r->vp, &fake_ops, &r->fe, r->loop), 0);
	msix_entry0(r, bar, 0x51, false);
	driver_up(r);
	for (int i = 1; i <= 2; i++) {
		vtd_post(&r->t, 0, &buf, 1, false);
		guest_notify(r);
		assert_int_equal(wait_used(r), 16);
		assert_int_equal(r->plain_msis, i); /* delivered all the same */
	}
	assert_int_equal(r->fe.routes, 0);
}

/* --- the routing table for KVM_SET_GSI_ROUTING --- */

static void test_kvm_routing_table(void **state)
{
	static struct kvm_msi_route msi[KVM_MSI_ROUTES];
	static struct kvm_irq_routing_entry e[KVM_ROUTING_MAX];
	unsigned n, pic = 0, ioapic = 0;

	memset(msi, 0, sizeof(msi));
	/* No MSI routes: KVM's default, 16 PIC + 24 IOAPIC entries. */
	n = kvm_routing_build(msi, KVM_MSI_ROUTES, e);
	assert_int_equal(n, 40);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		if (e[i].u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
			assert_int_equal(e[i].u.irqchip.pin, e[i].gsi);
			ioapic++;
		} else {
			assert_true(e[i].gsi < 16);
			assert_int_equal(e[i].u.irqchip.irqchip,
					 e[i].gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE);
			assert_int_equal(e[i].u.irqchip.pin, e[i].gsi % 8);
			pic++;
		}
	}
	assert_int_equal(pic, 16);
	assert_int_equal(ioapic, 24);
	/* Used routes follow, each at GSI base + slot. */
	msi[0] = (struct kvm_msi_route){ true, 0xfee01000, 0x4041 };
	msi[5] = (struct kvm_msi_route){ true, 0x1fee00000ull, 0x22 };
	n = kvm_routing_build(msi, KVM_MSI_ROUTES, e);
	assert_int_equal(n, 42);
	assert_int_equal(e[40].type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(e[40].gsi, KVM_MSI_GSI_BASE);
	assert_int_equal(e[40].u.msi.address_lo, 0xfee01000);
	assert_int_equal(e[40].u.msi.data, 0x4041);
	assert_int_equal(e[41].gsi, KVM_MSI_GSI_BASE + 5);
	assert_int_equal(e[41].u.msi.address_hi, 1);
	assert_int_equal(e[41].u.msi.address_lo, 0xfee00000);
	/* Every slot used still fits the buffer. */
	for (unsigned i = 0; i < KVM_MSI_ROUTES; i++)
		msi[i] = (struct kvm_msi_route){ true, 0xfee00000, i };
	assert_int_equal(kvm_routing_build(msi, KVM_MSI_ROUTES, e), KVM_ROUTING_MAX);
}

/* --- the real ioctls, where /dev/kvm exists --- */

static void test_kvm_live_routes(void **state)
{
	struct machine m;
	struct accel_vm *vm = NULL;
	int fd, gsi;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		print_message("SKIP: no /dev/kvm here: the MSI route ioctls are not exercised\n");
		skip();
		return;
	}
	memset(&m, 0, sizeof(m));
	m.mem.fd = -1;
	m.nr_cpus = 1;
	m.accel = &accel_kvm_ops;
	assert_int_equal(gmem_init_x86(&m.mem, 16 << 20, LAYOUT_MMIO_HOLE), 0);
	assert_int_equal(accel_kvm_ops.vm_init(&m, &vm), 0);
	fd = eventfd(0, EFD_CLOEXEC);
	assert_true(fd >= 0);
	gsi = kvm_msi_route_add(vm, 0xfee00000, 0x41, fd);
	assert_int_equal(gsi, KVM_MSI_GSI_BASE);
	assert_int_equal(kvm_msi_route_set(vm, gsi, 0xfee00000, 0x42), 0);
	assert_int_equal(kvm_msi_route_set(vm, gsi + 1, 0xfee00000, 0x42), -ENOENT);
	kvm_msi_route_del(vm, gsi, fd);
	/* The slot is free again. */
	assert_int_equal(kvm_msi_route_add(vm, 0xfee00000, 0x43, fd), KVM_MSI_GSI_BASE);
	kvm_msi_route_del(vm, KVM_MSI_GSI_BASE, fd);
	assert_int_equal(kvm_ioeventfd_add(vm, true, 0xd0003000, 2, false, 0, fd), 0);
	assert_int_equal(kvm_ioeventfd_del(vm, true, 0xd0003000, 2, false, 0, fd), 0);
	close(fd);
	accel_kvm_ops.vm_fini(vm);
	gmem_fini(&m.mem);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ioeventfds_follow_bar0),
		T(test_notify_and_msix_through_eventfds),
		T(test_refused_route_falls_back),
		cmocka_unit_test(test_kvm_routing_table),
		cmocka_unit_test(test_kvm_live_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
