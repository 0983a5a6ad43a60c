/*
 * The KVM engine: accel_ops over /dev/kvm.
 *
 * One accel_vm holds the VM fd, the in-kernel irqchip (LAPIC, IOAPIC, PIC) and
 * PIT, and a memory slot per guest_mem region. Each vCPU has its fd and the
 * shared kvm_run page. A kick sets kvm_run.immediate_exit and signals the
 * vCPU thread (KVM_KICK_SIGNAL, a no-op handler installed without SA_RESTART)
 * so a running KVM_RUN returns -EINTR and a not-yet-entered one returns at once.
 * CPUID policy and register conversion live in kvm_cpu.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/kvm_int.h"
#include "arch/x86/layout.h"
#include "bus/irq.h"
#include "util/log.h"
#include "vm/machine.h"

/* Addresses KVM needs for real-mode emulation on Intel; just below the BIOS area. */
#define KVM_TSS_ADDR	      0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

static void kick_handler(int sig)
{
	(void)sig;
}

static void install_kick_handler_once(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must fail with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(KVM_KICK_SIGNAL, &sa, NULL);
}

static void install_kick_handler(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, install_kick_handler_once);
}

static int kvm_probe(char *why, size_t why_len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0) {
		r = -errno;
		snprintf(why, why_len, "/dev/kvm: %s", strerror(errno));
		return r;
	}
	r = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (r != KVM_API_VERSION) {
		snprintf(why, why_len, "/dev/kvm: API version %d, need %d", r, KVM_API_VERSION);
		return -ENOTSUP;
	}
	return 0;
}

static void kvm_vm_fini(struct accel_vm *vm)
{
	if (!vm)
		return;
	free(vm->cpuid);
	pthread_mutex_destroy(&vm->route_lock);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm);
}

static int kvm_vm_init(struct machine *m, struct accel_vm **out)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	struct accel_vm *vm;
	int rc;

	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->m = m;
	vm->vm_fd = -1;
	pthread_mutex_init(&vm->route_lock, NULL);
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		rc = -errno;
		log_error("kvm: /dev/kvm: %s", strerror(errno));
		goto out;
	}
	vm->pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		rc = -ENOTSUP;
		log_error("kvm: bad vCPU mmap size %d", vm->run_size);
		goto out;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		rc = -errno;
		log_error("kvm: KVM_CREATE_VM: %s", strerror(errno));
		goto out;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		rc = -errno;
		log_error("kvm: TSS/identity map: %s", strerror(errno));
		goto out;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		rc = -errno;
		log_error("kvm: KVM_CREATE_IRQCHIP: %s", strerror(errno));
		goto out;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		rc = -errno;
		log_error("kvm: KVM_CREATE_PIT2: %s", strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < m->mem.nr_regions; i++) {
		const struct gmem_region *r = &m->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = i,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			rc = -errno;
			log_error("kvm: memory slot %u: %s", i, strerror(errno));
			goto out;
		}
	}
	rc = kvm_cpuid_init(vm);
	if (rc)
		goto out;
	install_kick_handler();
	*out = vm;
	return 0;
out:
	kvm_vm_fini(vm);
	return rc;
}

static void kvm_vcpu_fini(struct accel_vcpu *v)
{
	if (!v)
		return;
	if (v->run && v->run != MAP_FAILED)
		munmap(v->run, v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v);
}

static int kvm_vcpu_init(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	struct kvm_mp_state mp;
	struct accel_vcpu *v;
	int rc;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->run = NULL;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		rc = -errno;
		log_error("kvm: KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		goto out;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		rc = -errno;
		v->run = NULL;
		log_error("kvm: mmap kvm_run: %s", strerror(errno));
		goto out;
	}
	rc = kvm_cpuid_set(v);
	if (rc)
		goto out;
	rc = kvm_msrs_init(v);
	if (rc)
		goto out;
	/*
	 * The boot vCPU runs; application processors wait in the in-kernel LAPIC
	 * for INIT and SIPI, as on real hardware.
	 */
	mp.mp_state = index == 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) {
		rc = -errno;
		log_error("kvm: KVM_SET_MP_STATE: %s", strerror(errno));
		goto out;
	}
	*out = v;
	return 0;
out:
	kvm_vcpu_fini(v);
	return rc;
}

static void fill_error(struct accel_exit *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fill_error(struct accel_exit *e, const char *fmt, ...)
{
	va_list ap;

	e->kind = ACCEL_EXIT_ERROR;
	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
}

int kvm_exit_decode(struct kvm_run *run, size_t run_size, struct accel_exit *e, struct machine *m)
{
	memset(e, 0, offsetof(struct accel_exit, error));
	e->error[0] = '\0';
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		/* data_offset/size/count come from the kernel; still keep them inside the page. */
		if (run->io.size != 1 && run->io.size != 2 && run->io.size != 4) {
			fill_error(e, "KVM I/O exit with size %u", run->io.size);
			break;
		}
		if (run->io.data_offset >= run_size ||
		    (uint64_t)run->io.size * run->io.count > run_size - run->io.data_offset) {
			fill_error(e, "KVM I/O exit data outside kvm_run");
			break;
		}
		e->kind = ACCEL_EXIT_IO;
		e->io.port = run->io.port;
		e->io.size = run->io.size;
		e->io.write = run->io.direction == KVM_EXIT_IO_OUT;
		e->io.count = run->io.count;
		e->io.data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		if (run->mmio.len == 0 || run->mmio.len > 8) {
			fill_error(e, "KVM MMIO exit with length %u", run->mmio.len);
			break;
		}
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = run->mmio.phys_addr;
		e->mmio.size = run->mmio.len;
		e->mmio.write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = ACCEL_EXIT_HALT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		e->kind = ACCEL_EXIT_INTR;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		e->kind = ACCEL_EXIT_NONE;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_RESET:
			e->kind = ACCEL_EXIT_RESET;
			break;
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			/* accel_exit has no power-off kind: stop the machine here, run nothing
			 * more. */
			if (m)
				machine_request_stop(m, MACHINE_POWEROFF, 0);
			e->kind = ACCEL_EXIT_INTR;
			break;
		default:
			fill_error(e, "KVM system event %u", run->system_event.type);
		}
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		const char *what = "";

		switch (run->internal.suberror) {
		case KVM_INTERNAL_ERROR_EMULATION:
			what = " (instruction emulation failed)";
			break;
		case KVM_INTERNAL_ERROR_SIMUL_EX:
			what = " (exception while delivering an exception)";
			break;
		case KVM_INTERNAL_ERROR_DELIVERY_EV:
			what = " (event delivery failed)";
			break;
		}
		fill_error(e, "KVM internal error, suberror %u%s", run->internal.suberror, what);
		break;
	}
	case KVM_EXIT_FAIL_ENTRY:
		fill_error(e, "KVM entry failed, hardware reason 0x%llx",
			   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		fill_error(e, "unhandled KVM exit reason %u", run->exit_reason);
	}
	return 0;
}

static int kvm_vcpu_run(struct accel_vcpu *v, struct accel_exit *e)
{
	int r;

	if (!atomic_load(&v->thread_known)) {
		v->thread = pthread_self();
		atomic_store(&v->thread_known, true);
	}
	r = ioctl(v->fd, KVM_RUN, 0);
	if (r < 0) {
		memset(e, 0, sizeof(*e));
		if (errno == EINTR || errno == EAGAIN) {
			/* Consume the kick; a kick arriving after this point is kept for next run.
			 */
			v->run->immediate_exit = 0;
			e->kind = ACCEL_EXIT_INTR;
			return 0;
		}
		fill_error(e, "KVM_RUN: %s", strerror(errno));
		return 0;
	}
	return kvm_exit_decode(v->run, v->vm->run_size, e, v->vm->m);
}

static void kvm_vcpu_kick(struct accel_vcpu *v)
{
	v->run->immediate_exit = 1;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&v->thread_known))
		pthread_kill(v->thread, KVM_KICK_SIGNAL);
}

/* irq_chip_ops over the in-kernel irqchip. */
static void kvm_set_gsi(void *opaque, unsigned gsi, bool level)
{
	struct accel_vm *vm = opaque;
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_ratelimited(LOG_WARN, "kvm: KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

static int kvm_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct accel_vm *vm = opaque;
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr,
	    .address_hi = (uint32_t)(addr >> 32),
	    .data = data,
	};
	int r = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);

	return r < 0 ? -errno : 0;
}

const struct irq_chip_ops kvm_irq_chip_ops = {
    .set_gsi = kvm_set_gsi,
    .send_msi = kvm_send_msi,
};

static int ioeventfd_op(struct accel_vm *vm, bool mmio, uint64_t addr, unsigned len,
			bool match_data, uint64_t data, int fd, bool del)
{
	struct kvm_ioeventfd io = {
	    .datamatch = data,
	    .addr = addr,
	    .len = len,
	    .fd = fd,
	};

	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	if (!mmio)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (match_data)
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (del)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int kvm_ioeventfd_add(struct accel_vm *vm, bool mmio, uint64_t addr, unsigned len, bool match_data,
		      uint64_t data, int fd)
{
	return ioeventfd_op(vm, mmio, addr, len, match_data, data, fd, false);
}

int kvm_ioeventfd_del(struct accel_vm *vm, bool mmio, uint64_t addr, unsigned len, bool match_data,
		      uint64_t data, int fd)
{
	return ioeventfd_op(vm, mmio, addr, len, match_data, data, fd, true);
}

int kvm_irqfd_add(struct accel_vm *vm, unsigned gsi, int fd, int resamplefd)
{
	struct kvm_irqfd irqfd = {.fd = fd, .gsi = gsi};

	if (gsi >= IRQ_NR_GSI)
		return -EINVAL;
	if (resamplefd >= 0) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = resamplefd;
	}
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int kvm_irqfd_del(struct accel_vm *vm, unsigned gsi, int fd)
{
	struct kvm_irqfd irqfd = {.fd = fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN};

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

unsigned kvm_routing_build(const struct kvm_msi_route *msi, unsigned n,
			   struct kvm_irq_routing_entry *out)
{
	unsigned k = 0;

	/* KVM's own default (kvm_setup_default_irq_routing), which a table replaces. */
	for (unsigned gsi = 0; gsi < IRQ_NR_GSI; gsi++) {
		if (gsi < 16) {
			out[k++] = (struct kvm_irq_routing_entry){
			    .gsi = gsi,
			    .type = KVM_IRQ_ROUTING_IRQCHIP,
			    .u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							     : KVM_IRQCHIP_PIC_SLAVE,
					  .pin = gsi % 8},
			};
		}
		out[k++] = (struct kvm_irq_routing_entry){
		    .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi},
		};
	}
	for (unsigned i = 0; i < n && i < KVM_MSI_ROUTES; i++) {
		if (!msi[i].used)
			continue;
		out[k++] = (struct kvm_irq_routing_entry){
		    .gsi = KVM_MSI_GSI_BASE + i,
		    .type = KVM_IRQ_ROUTING_MSI,
		    .u.msi = {.address_lo = (uint32_t)msi[i].addr,
			      .address_hi = (uint32_t)(msi[i].addr >> 32),
			      .data = msi[i].data},
		};
	}
	return k;
}

/* Hand KVM the whole table. route_lock held. */
static int routing_commit_locked(struct accel_vm *vm)
{
	struct kvm_irq_routing *r =
	    calloc(1, sizeof(*r) + KVM_ROUTING_MAX * sizeof(struct kvm_irq_routing_entry));
	int rc = 0;

	if (!r)
		return -ENOMEM;
	r->nr = kvm_routing_build(vm->msi, KVM_MSI_ROUTES, r->entries);
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		rc = -errno;
	free(r);
	return rc;
}

int kvm_msi_route_add(struct accel_vm *vm, uint64_t addr, uint32_t data, int fd)
{
	struct kvm_irqfd irqfd = {.fd = fd};
	unsigned i;
	int rc;

	pthread_mutex_lock(&vm->route_lock);
	for (i = 0; i < KVM_MSI_ROUTES && vm->msi[i].used; i++)
		;
	if (i == KVM_MSI_ROUTES) {
		rc = -ENOSPC;
		goto out;
	}
	vm->msi[i] = (struct kvm_msi_route){.used = true, .addr = addr, .data = data};
	rc = routing_commit_locked(vm);
	if (rc == 0) {
		irqfd.gsi = KVM_MSI_GSI_BASE + i;
		rc = ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : (int)irqfd.gsi;
	}
	if (rc < 0) {
		vm->msi[i].used = false;
		routing_commit_locked(vm);
	}
out:
	pthread_mutex_unlock(&vm->route_lock);
	return rc;
}

int kvm_msi_route_set(struct accel_vm *vm, int gsi, uint64_t addr, uint32_t data)
{
	unsigned i = (unsigned)gsi - KVM_MSI_GSI_BASE;
	int rc;

	if (gsi < KVM_MSI_GSI_BASE || i >= KVM_MSI_ROUTES)
		return -EINVAL;
	pthread_mutex_lock(&vm->route_lock);
	if (!vm->msi[i].used) {
		rc = -ENOENT;
	} else {
		vm->msi[i].addr = addr;
		vm->msi[i].data = data;
		rc = routing_commit_locked(vm);
	}
	pthread_mutex_unlock(&vm->route_lock);
	return rc;
}

void kvm_msi_route_del(struct accel_vm *vm, int gsi, int fd)
{
	struct kvm_irqfd irqfd = {.fd = fd, .gsi = (uint32_t)gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN};
	unsigned i = (unsigned)gsi - KVM_MSI_GSI_BASE;

	if (gsi < KVM_MSI_GSI_BASE || i >= KVM_MSI_ROUTES)
		return;
	pthread_mutex_lock(&vm->route_lock);
	if (vm->msi[i].used) {
		ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);
		vm->msi[i].used = false;
		routing_commit_locked(vm);
	}
	pthread_mutex_unlock(&vm->route_lock);
}

const struct accel_ops accel_kvm_ops = {
    .name = "kvm",
    .probe = kvm_probe,
    .vm_init = kvm_vm_init,
    .vm_fini = kvm_vm_fini,
    .vcpu_init = kvm_vcpu_init,
    .vcpu_fini = kvm_vcpu_fini,
    .vcpu_run = kvm_vcpu_run,
    .vcpu_kick = kvm_vcpu_kick,
    .get_state = kvm_get_state,
    .set_state = kvm_set_state,
};
