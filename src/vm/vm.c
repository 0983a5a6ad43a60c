/*
 * Building and running a VM: memory, buses, interrupt routing, the engine,
 * devices, ACPI tables, the kernel; then vCPU threads until the machine stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "accel/accel.h"
#include "accel/kvm.h"
#include "arch/x86/acpi.h"
#include "arch/x86/boot_state.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "arch/x86/reset_vector.h"
#include "devices/acpi_pm.h"
#include "devices/fw_cfg.h"
#include "util/compiler.h"
#include "util/event_loop.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "util/log.h"
#include "vm/vm.h"

#include "backend/chardev.h"
#include "devices/uart8250.h"
#include "devices/rtc.h"
#include "devices/i8042.h"
#include "devices/debug_exit.h"
#include "devices/pci_host.h"
#include "boot/boot.h"

int vm_exit_status(enum machine_stop why, int status)
{
	switch (why) {
	case MACHINE_POWEROFF:
	case MACHINE_QUIT:
		return 0;
	case MACHINE_DEBUG_EXIT:
		return status;
	default:
		return 1;
	}
}

static void vm_kick_all_locked(struct vm *vm)
{
	for (unsigned i = 0; i < vm->m.nr_cpus; i++)
		if (vm->vcpus[i].started)
			vcpu_kick(&vm->vcpus[i]);
}

/* machine.on_stop: wake vm_run and get every vCPU out of the engine. */
static void vm_on_stop(struct machine *m)
{
	struct vm *vm = container_of(m, struct vm, m);
	uint64_t one = 1;
	ssize_t r;

	pthread_mutex_lock(&vm->lock);
	pthread_cond_broadcast(&vm->cond);
	vm_kick_all_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	r = write(vm->evfd, &one, sizeof(one));
	(void)r; /* an eventfd write only fails when the counter is saturated: already woken */
}

void vm_stop(struct vm *vm, enum machine_stop why, int status)
{
	machine_request_stop(&vm->m, why, status);
}

static void vm_on_quit(void *opaque)
{
	struct vm *vm = opaque;

	/* A stop already in progress (e.g. a reset) would swallow the request. */
	atomic_store(&vm->quit_pending, true);
	vm_stop(vm, MACHINE_QUIT, 0);
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->target == VCPU_STOPPING) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	vm->target = VCPU_PAUSED;
	vm_kick_all_locked(vm);
	/* vCPUs parked by hlt sleep on the condition, not in the engine: wake them to count in. */
	pthread_cond_broadcast(&vm->cond);
	while (vm->nr_paused < vm->nr_threads && atomic_load(&vm->m.stop_reason) == MACHINE_RUNNING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->target == VCPU_STOPPING) {
		pthread_mutex_unlock(&vm->lock);
		return -ESHUTDOWN;
	}
	vm->target = VCPU_RUNNING;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/* fw_cfg "etc/e820": the same map the boot loaders give the guest. */
static int vm_add_e820(struct vm *vm)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(&vm->m.mem, map, E820_MAX_ENTRIES);

	if (n < 0)
		return n;
	return fw_cfg_add_file(vm->fw_cfg, "etc/e820", map, (uint32_t)(n * sizeof(map[0])));
}

/* --- KVM fast paths for virtio-pci: ioeventfd notifications, irqfd MSI-X --- */

static int kvm_vpci_ioeventfd(void *opaque, uint64_t gpa, unsigned len, int fd, bool assign)
{
	return assign ? kvm_ioeventfd_add(opaque, true, gpa, len, false, 0, fd)
		      : kvm_ioeventfd_del(opaque, true, gpa, len, false, 0, fd);
}

static int kvm_vpci_msi_add(void *opaque, uint64_t addr, uint32_t data, int fd)
{
	return kvm_msi_route_add(opaque, addr, data, fd);
}

static int kvm_vpci_msi_set(void *opaque, int gsi, uint64_t addr, uint32_t data)
{
	return kvm_msi_route_set(opaque, gsi, addr, data);
}

static void kvm_vpci_msi_del(void *opaque, int gsi, int fd)
{
	kvm_msi_route_del(opaque, gsi, fd);
}

static const struct vpci_accel_ops kvm_vpci_ops = {
	.ioeventfd = kvm_vpci_ioeventfd,
	.msi_route_add = kvm_vpci_msi_add,
	.msi_route_set = kvm_vpci_msi_set,
	.msi_route_del = kvm_vpci_msi_del,
};

/*
 * Under KVM, queue notifications reach the devices on the I/O thread through
 * ioeventfds (the vCPU does not leave the guest for them) and MSI-X goes
 * through irqfds. The emu engine keeps the direct path: its MMIO writes call
 * the device on the vCPU thread, and MSIs go to its local APICs.
 */
static void vm_virtio_accel_attach(struct vm *vm, unsigned i)
{
	struct machine *m = &vm->m;
	struct event_loop *loop;
	int rc;

	if (m->accel != &accel_kvm_ops || !m->accel_vm || !vm->vpci[i])
		return;
	loop = event_loop_default();
	rc = loop ? virtio_pci_attach_accel(vm->vpci[i], &kvm_vpci_ops, m->accel_vm, loop) : -ENOMEM;
	if (rc < 0)
		log_warn("%s: no ioeventfd/irqfd (%s); notifications and interrupts take exits",
			 vm->vdev[i]->ops->name, strerror(-rc));
}

static void vm_engine_fini(struct vm *vm)
{
	struct machine *m = &vm->m;

	/*
	 * Virtio devices to their reset state first: a reset waits for the
	 * requests in flight, so no backend thread is left to report a DMA
	 * write (machine_dma_written) or raise an MSI into an engine being freed.
	 */
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		virtio_set_status(vm->vdev[i], 0);
		virtio_pci_detach_accel(vm->vpci[i]);
	}
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < m->nr_cpus; i++) {
		if (vm->vcpus[i].accel && m->accel->vcpu_fini)
			m->accel->vcpu_fini(vm->vcpus[i].accel);
		vm->vcpus[i].accel = NULL;
		vm->vcpus[i].started = false;
	}
	pthread_mutex_unlock(&vm->lock);
	irq_router_set_chip(&m->irq, NULL, NULL);
	if (m->accel_vm && m->accel->vm_fini)
		m->accel->vm_fini(m->accel_vm);
	m->accel_vm = NULL;
}

static int vm_engine_init(struct vm *vm, char *err, size_t err_len)
{
	struct machine *m = &vm->m;
	int rc;

	if (!m->accel->vm_init || !m->accel->vcpu_init) {
		snprintf(err, err_len, "engine %s cannot create VMs", m->accel->name);
		return -ENOSYS;
	}
	rc = m->accel->vm_init(m, &m->accel_vm);
	if (rc) {
		snprintf(err, err_len, "%s: creating the VM: %s", m->accel->name, strerror(-rc));
		return rc;
	}
	if (m->accel == &accel_kvm_ops)
		irq_router_set_chip(&m->irq, &kvm_irq_chip_ops, m->accel_vm);
	for (unsigned i = 0; i < m->nr_cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->m = m;
		v->index = i;
		v->halted = false;
		rc = m->accel->vcpu_init(m->accel_vm, i, &v->accel);
		if (rc) {
			snprintf(err, err_len, "%s: creating vCPU %u: %s", m->accel->name, i,
				 strerror(-rc));
			return rc;
		}
	}
	/* After a reboot: the devices persist, the engine is new. */
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		vm_virtio_accel_attach(vm, i);
	return 0;
}

/* Put the guest image in RAM and point vCPU 0 at it. Runs at every (re)boot. */
static int vm_load_guest(struct vm *vm, char *err, size_t err_len)
{
	static const enum boot_format fmt[] = {
	    [VM_KERNEL_AUTO] = BOOT_FORMAT_AUTO, [VM_KERNEL_LINUX] = BOOT_FORMAT_LINUX,
	    [VM_KERNEL_ELF] = BOOT_FORMAT_ELF,	 [VM_KERNEL_MULTIBOOT] = BOOT_FORMAT_MULTIBOOT,
	    [VM_KERNEL_FLAT] = BOOT_FORMAT_FLAT,
	};
	struct machine *m = &vm->m;
	struct boot_config bc = {
	    .kernel_path = vm->cfg.kernel,
	    .initrd_path = vm->cfg.initrd,
	    .cmdline = vm->cfg.cmdline,
	    .flat_load_addr = vm->cfg.load_addr,
	    .format = fmt[vm->cfg.format],
	    .rsdp_addr = vm->rsdp,
	};
	struct x86_boot_state bs;
	struct x86_vcpu_state s;
	int rc;

	/* The kernel may overwrite it (flat images at any address); it wins. */
	rc = reset_vector_install(&m->mem);
	if (rc) {
		snprintf(err, err_len, "writing the reset vector: %s", strerror(-rc));
		return rc;
	}
	if (vm->cfg.kernel)
		rc = boot_load(&m->mem, &bc, &bs, err, err_len);
	else
		rc = boot_load_buffer(&m->mem, &bc, vm->cfg.kernel_data, vm->cfg.kernel_size, NULL,
				      0, &bs, err, err_len);
	if (rc)
		return rc;
	rc = x86_boot_state_apply(&bs, &m->mem, &s);
	if (rc) {
		snprintf(err, err_len, "building the boot vCPU state: %s", strerror(-rc));
		return rc;
	}
	rc = m->accel->set_state(vm->vcpus[0].accel, &s);
	if (rc)
		snprintf(err, err_len, "%s: setting the boot vCPU state: %s", m->accel->name,
			 strerror(-rc));
	return rc;
}

static int vm_build_acpi(struct vm *vm, char *err, size_t err_len)
{
	struct acpi_config ac;
	int rc;

	acpi_config_default(&ac, vm->m.nr_cpus);
	/* Describe only what exists: a guest must not probe devices nobody asked for. */
	ac.serial = vm->uart != NULL;
	ac.rtc = vm->rtc != NULL;
	ac.i8042 = vm->i8042 != NULL;
	/* KVM's in-kernel irqchip includes the 8259 pair; the emu platform has none. */
	ac.pic = vm->m.accel == &accel_kvm_ops;
	ac.fw_cfg = vm->fw_cfg != NULL;
	ac.pci = vm->pci_host != NULL;
	ac.power_button = vm->acpi_pm != NULL;
	ac.pm_port = LAYOUT_PORT_ACPI;
	rc = acpi_build(&vm->m.mem, &ac, &vm->rsdp);
	if (rc)
		snprintf(err, err_len, "building ACPI tables: %s", strerror(-rc));
	return rc;
}

/* Put a virtio device on the PCI bus; the VM owns both from here on. */
static int vm_plug_virtio(struct vm *vm, struct virtio_dev *d, char *err, size_t err_len)
{
	int rc;

	if (vm->nr_virtio >= VM_MAX_VIRTIO)
		return -ENOSPC;
	rc = virtio_pci_create(&vm->m, vm->pci_host, d, &vm->vpci[vm->nr_virtio]);
	if (rc) {
		snprintf(err, err_len, "%s: adding the PCI function: %s", d->ops->name, strerror(-rc));
		return rc;
	}
	vm->vdev[vm->nr_virtio++] = d;
	vm_virtio_accel_attach(vm, vm->nr_virtio - 1);
	return 0;
}

/* The virtio devices the configuration asked for, and only those. */
static int vm_create_virtio(struct vm *vm, char *err, size_t err_len)
{
	struct machine *m = &vm->m;
	char why[256] = "";
	int rc;

	for (unsigned i = 0; i < vm->cfg.nr_disks; i++) {
		rc = virtio_blk_create(m, vm->cfg.disks[i].path, vm->cfg.disks[i].readonly,
				       &vm->blk[i], why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "--disk %s: %s", vm->cfg.disks[i].path, why);
			return rc;
		}
		if ((rc = vm_plug_virtio(vm, virtio_blk_dev(vm->blk[i]), err, err_len)))
			return rc;
	}
	for (unsigned i = 0; i < vm->cfg.nr_nets; i++) {
		rc = virtio_net_create(m, vm->cfg.nets[i], &vm->net[i], why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "--net %s: %s", vm->cfg.nets[i], why);
			return rc;
		}
		if ((rc = vm_plug_virtio(vm, virtio_net_dev(vm->net[i]), err, err_len)))
			return rc;
	}
	if (vm->cfg.virtio_console) {
		rc = virtio_console_create(m, vm->serial, &vm->vcon);
		if (rc || (rc = vm_plug_virtio(vm, virtio_console_dev(vm->vcon), err, err_len))) {
			if (!err[0])
				snprintf(err, err_len, "virtio-console: %s", strerror(-rc));
			return rc;
		}
	}
	if (vm->cfg.rng) {
		rc = virtio_rng_create(m, &vm->rng);
		if (rc || (rc = vm_plug_virtio(vm, virtio_rng_dev(vm->rng), err, err_len))) {
			if (!err[0])
				snprintf(err, err_len, "virtio-rng: %s", strerror(-rc));
			return rc;
		}
	}
	if (vm->cfg.balloon) {
		rc = virtio_balloon_create(m, &vm->balloon);
		if (rc || (rc = vm_plug_virtio(vm, virtio_balloon_dev(vm->balloon), err, err_len))) {
			if (!err[0])
				snprintf(err, err_len, "virtio-balloon: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void vm_destroy_virtio(struct vm *vm)
{
	/* PCI functions first: after this no guest access reaches a device. */
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		virtio_pci_destroy(vm->vpci[i]);
		vm->vpci[i] = NULL;
	}
	vm->nr_virtio = 0;
	for (unsigned i = 0; i < VM_CONFIG_MAX_DISKS; i++) {
		virtio_blk_destroy(vm->blk[i]);
		vm->blk[i] = NULL;
	}
	for (unsigned i = 0; i < VM_CONFIG_MAX_NETS; i++) {
		virtio_net_destroy(vm->net[i]);
		vm->net[i] = NULL;
	}
	virtio_console_destroy(vm->vcon);
	virtio_rng_destroy(vm->rng);
	virtio_balloon_destroy(vm->balloon);
	vm->vcon = NULL;
	vm->rng = NULL;
	vm->balloon = NULL;
}

static int vm_create_devices(struct vm *vm, char *err, size_t err_len)
{
	struct machine *m = &vm->m;
	int rc = 0;

	rc = chardev_open(vm->cfg.serial, &vm->serial, err, err_len);
	if (rc)
		return rc;
	chardev_set_quit(vm->serial, vm_on_quit, vm);
	if (vm->cfg.virtio_console) {
		rc = chardev_open("null", &vm->uart_cd, err, err_len);
		if (rc)
			goto fail;
	}
	rc = uart8250_create(m, LAYOUT_PORT_COM1, LAYOUT_GSI_COM1,
			     vm->uart_cd ? vm->uart_cd : vm->serial, (struct uart8250 **)&vm->uart);
	if (rc)
		goto fail;
	rc = rtc_create(m, (struct rtc **)&vm->rtc);
	if (rc)
		goto fail;
	rc = i8042_create(m, (struct i8042 **)&vm->i8042);
	if (rc)
		goto fail;
	rc = debug_exit_create(m, LAYOUT_PORT_DEBUG_EXIT, (struct debug_exit **)&vm->debug_exit);
	if (rc)
		goto fail;
	rc = pci_host_create(m, (struct pci_host **)&vm->pci_host);
	if (rc)
		goto fail;
	rc = acpi_pm_create(m, LAYOUT_PORT_ACPI, (struct acpi_pm **)&vm->acpi_pm);
	if (rc)
		goto fail;
	rc = fw_cfg_create(m, (struct fw_cfg **)&vm->fw_cfg);
	if (rc)
		goto fail;
	rc = fw_cfg_set_cmdline(vm->fw_cfg, vm->cfg.cmdline ? vm->cfg.cmdline : "");
	if (!rc)
		rc = vm_add_e820(vm);
	if (rc)
		goto fail;
	return vm_create_virtio(vm, err, err_len);
fail:
	snprintf(err, err_len, "creating devices: %s", strerror(-rc));
	return rc;
}

static void vm_destroy_devices(struct vm *vm)
{
	vm_destroy_virtio(vm);
	if (vm->fw_cfg)
		fw_cfg_destroy(vm->fw_cfg);
	if (vm->acpi_pm)
		acpi_pm_destroy(vm->acpi_pm);
	if (vm->pci_host)
		pci_host_destroy(vm->pci_host);
	if (vm->debug_exit)
		debug_exit_destroy(vm->debug_exit);
	if (vm->i8042)
		i8042_destroy(vm->i8042);
	if (vm->rtc)
		rtc_destroy(vm->rtc);
	if (vm->uart)
		uart8250_destroy(vm->uart);
	if (vm->uart_cd)
		chardev_close(vm->uart_cd);
	vm->uart_cd = NULL;
	if (vm->serial)
		chardev_close(vm->serial);
	vm->fw_cfg = vm->acpi_pm = vm->pci_host = vm->debug_exit = NULL;
	vm->i8042 = vm->rtc = vm->uart = NULL;
	vm->serial = NULL;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->m.accel)
		vm_engine_fini(vm);
	vm_destroy_devices(vm);
	irq_router_fini(&vm->m.irq);
	iobus_fini(&vm->m.mmio);
	iobus_fini(&vm->m.pio);
	gmem_fini(&vm->m.mem);
	if (vm->evfd >= 0)
		close(vm->evfd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t err_len)
{
	struct vm *vm;
	struct machine *m;
	int rc;

	*out = NULL;
	rc = vm_config_check(cfg, config_host_mem_bytes(), err, err_len);
	if (rc)
		return rc;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	m = &vm->m;
	vm->cfg = *cfg;
	vm->evfd = -1;
	m->mem.fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	m->nr_cpus = cfg->cpus;
	m->on_stop = vm_on_stop;

	rc = accel_select(cfg->accel, &m->accel, err, err_len);
	if (rc)
		goto fail;
	vm->evfd = eventfd(0, EFD_CLOEXEC);
	if (vm->evfd < 0) {
		rc = -errno;
		snprintf(err, err_len, "eventfd: %s", strerror(errno));
		goto fail;
	}
	rc = gmem_init_x86(&m->mem, cfg->mem_mib << 20, LAYOUT_MMIO_HOLE);
	if (rc) {
		snprintf(err, err_len, "allocating %llu MiB of guest memory: %s",
			 (unsigned long long)cfg->mem_mib, strerror(-rc));
		goto fail;
	}
	if ((rc = iobus_init(&m->pio, "pio")) || (rc = iobus_init(&m->mmio, "mmio")) ||
	    (rc = irq_router_init(&m->irq))) {
		snprintf(err, err_len, "machine set-up: %s", strerror(-rc));
		goto fail;
	}
	rc = vm_engine_init(vm, err, err_len);
	if (rc)
		goto fail;
	rc = vm_create_devices(vm, err, err_len);
	if (rc)
		goto fail;
	rc = vm_build_acpi(vm, err, err_len);
	if (rc)
		goto fail;
	rc = vm_load_guest(vm, err, err_len);
	if (rc)
		goto fail;
	vm->boots = 1;
	*out = vm;
	return 0;
fail:
	/* Parts not yet built are zeroed or at their sentinels; vm_destroy copes. */
	vm_destroy(vm);
	return rc;
}

/* MACHINE_RESET: a fresh engine VM and vCPUs, fresh RAM contents, the kernel again. */
static int vm_reboot(struct vm *vm)
{
	struct machine *m = &vm->m;
	int rc;

	vm_engine_fini(vm);
	/*
	 * Fresh RAM, as after power-on. Punching holes in the memfd zeroes it
	 * without touching (and so allocating) every page, which memset would.
	 */
	for (unsigned i = 0; i < m->mem.nr_regions; i++) {
		const struct gmem_region *r = &m->mem.regions[i];

		if (fallocate(m->mem.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)r->fd_off, (off_t)r->size) < 0)
			memset(r->host, 0, r->size);
	}
	/*
	 * Devices persist across a reset (CMOS keeps its bytes); the UART and
	 * the virtio devices return to their power-on state.
	 */
	uart8250_reset(vm->uart); /* the virtio devices were reset by vm_engine_fini() */
	rc = vm_engine_init(vm, vm->err, sizeof(vm->err));
	if (!rc)
		rc = vm_build_acpi(vm, vm->err, sizeof(vm->err));
	if (!rc)
		rc = vm_load_guest(vm, vm->err, sizeof(vm->err));
	if (rc)
		return rc;
	vm->boots++;
	pthread_mutex_lock(&vm->lock);
	vm->target = VCPU_RUNNING;
	m->exit_status = 0;
	atomic_store(&m->stop_reason, MACHINE_RUNNING);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int vm_start_vcpus(struct vm *vm)
{
	int rc = 0;

	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->m.nr_cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		vm->nr_threads++;
		rc = -pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (rc) {
			vm->nr_threads--;
			break;
		}
		v->started = true;
	}
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

static void vm_join_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->m.nr_cpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		pthread_join(vm->vcpus[i].thread, NULL);
		pthread_mutex_lock(&vm->lock);
		vm->vcpus[i].started = false;
		pthread_mutex_unlock(&vm->lock);
	}
}

/*
 * A guest that faults while booting would reset forever, silently. A real
 * reboot loop runs each boot for seconds; this many boots in a row that each
 * reset this soon after starting is a crash loop, so stop and say so. Counting
 * consecutive short boots (rather than resets per time window) keeps the
 * verdict independent of how fast the host manages a reset: a loaded host
 * that needs 250 ms per reset still sees the loop.
 */
#define VM_RESET_STORM	       20
#define VM_RESET_STORM_SECONDS 2

static long vm_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000L + now.tv_nsec / 1000000L;
}

/* Called at each reset; vm->storm_start is when the boot that just ended began. */
static bool vm_reset_storm(struct vm *vm)
{
	if (vm_now_ms() - vm->storm_start >= VM_RESET_STORM_SECONDS * 1000L)
		vm->storm_count = 0;
	return ++vm->storm_count >= VM_RESET_STORM;
}

int vm_run(struct vm *vm)
{
	struct machine *m = &vm->m;
	enum machine_stop why;
	uint64_t cnt;
	int rc;

	for (;;) {
		vm->storm_start = vm_now_ms();
		rc = vm_start_vcpus(vm);
		if (rc) {
			log_error("starting vCPU threads: %s", strerror(-rc));
			machine_request_stop(m, MACHINE_ERROR, 1);
		}
		while (atomic_load(&m->stop_reason) == MACHINE_RUNNING) {
			ssize_t r = read(vm->evfd, &cnt, sizeof(cnt));

			if (r < 0 && errno != EINTR && errno != EAGAIN) {
				log_error("eventfd: %s", strerror(errno));
				machine_request_stop(m, MACHINE_ERROR, 1);
			}
		}
		vm_join_vcpus(vm);
		why = atomic_load(&m->stop_reason);
		if (why != MACHINE_RESET)
			return vm_exit_status(why, m->exit_status);
		if (atomic_load(&vm->quit_pending))
			return vm_exit_status(MACHINE_QUIT, 0);
		if (vm_reset_storm(vm)) {
			log_error("the guest reset %u times in a row, each within %u s of booting: "
				  "giving up",
				  VM_RESET_STORM, VM_RESET_STORM_SECONDS);
			return 1;
		}
		log_debug("guest reset: rebooting (boot %u)", vm->boots + 1);
		rc = vm_reboot(vm);
		if (rc) {
			log_error("reboot failed: %s", vm->err);
			return 1;
		}
		if (atomic_load(&vm->quit_pending))
			return vm_exit_status(MACHINE_QUIT, 0);
	}
}
