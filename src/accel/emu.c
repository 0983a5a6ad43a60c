/*
 * The emu engine: Petrel's software x86-64 CPU (src/cpu/x86) driving the
 * machine. Each vCPU runs on its own thread (vm/vcpu.c) with its own
 * struct x86_cpu; guest RAM is shared, port I/O and MMIO go straight to the
 * machine's buses, and the local APIC page is routed to the vCPU's own APIC.
 *
 * The vCPU leaves x86_run() every EMU_SLICE instructions, so pause, stop and
 * timers are noticed promptly even in a tight guest loop.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cpu.h first: vcpu_state.h (via accel.h) then skips its duplicate register names. */
#include "cpu/x86/cpu.h"
#include "accel/accel.h"
#include "accel/emu_platform.h"
#include "devices/lapic.h"
#include "mem/guest_mem.h"
#include "util/log.h"
#include "util/range_inbox.h"
#include "vm/machine.h"

#define EMU_SLICE (1u << 18) /* instructions per x86_run() call: about a millisecond */

enum emu_cpu_state {
	EMU_CPU_RUNNABLE,
	EMU_CPU_WAIT_SIPI,    /* application processor before its start-up IPI */
};

struct accel_vm {
	struct machine *m;
	struct emu_platform plat;
	/* The vCPUs that hear of device writes to RAM (machine_dma_written). */
	pthread_mutex_t dma_lock;
	struct accel_vcpu *dma_vcpu[APIC_BUS_MAX_CPUS];
};

struct accel_vcpu {
	struct accel_vm *vm;
	unsigned index;
	struct lapic *lapic;
	enum emu_cpu_state state;
	atomic_bool kicked;
	struct range_inbox dma;  /* RAM written by devices: drop code decoded from it */
	struct x86_cpu cpu;
};

static int emu_probe(char *why, size_t why_len)
{
	if (why_len)
		why[0] = '\0';
	return 0;
}

/* --- physical memory for the CPU --- */

static uint8_t *emu_page(void *opaque, uint64_t gpa, bool write)
{
	struct accel_vcpu *v = opaque;

	return gmem_ptr(&v->vm->m->mem, gpa & ~0xfffull, 4096);
}

static int emu_mmio_read(void *opaque, uint64_t gpa, void *buf, unsigned size)
{
	struct accel_vcpu *v = opaque;

	if (lapic_xapic_mmio_enabled(v->lapic, gpa)) {
		/* APIC registers are 32-bit; other widths read the containing register. */
		uint32_t val = lapic_mmio_read(v->lapic, (gpa & 0xfff) & ~0xfull);
		uint64_t wide = (uint64_t)val >> (8 * (gpa & 3));
		memcpy(buf, &wide, size > 8 ? 8 : size);
		return 0;
	}
	iobus_read_buf(&v->vm->m->mmio, gpa, buf, size);
	return 0;
}

static int emu_mmio_write(void *opaque, uint64_t gpa, const void *buf, unsigned size)
{
	struct accel_vcpu *v = opaque;

	if (lapic_xapic_mmio_enabled(v->lapic, gpa)) {
		uint32_t val = 0;
		/* Only aligned 32-bit writes reach APIC registers (SDM: others are undefined). */
		if (size == 4 && !(gpa & 3)) {
			memcpy(&val, buf, 4);
			lapic_mmio_write(v->lapic, gpa & 0xfff, val);
		}
		return 0;
	}
	iobus_write_buf(&v->vm->m->mmio, gpa, buf, size);
	return 0;
}

static int emu_pio_in(void *opaque, uint16_t port, void *buf, unsigned size)
{
	struct accel_vcpu *v = opaque;

	iobus_read_buf(&v->vm->m->pio, port, buf, size);
	return 0;
}

static int emu_pio_out(void *opaque, uint16_t port, const void *buf, unsigned size)
{
	struct accel_vcpu *v = opaque;

	iobus_write_buf(&v->vm->m->pio, port, buf, size);
	return 0;
}

static uint64_t emu_tsc_fn(void *opaque)
{
	struct accel_vcpu *v = opaque;

	return emu_tsc(&v->vm->plat);
}

/* MSRs the CPU forwards: the APIC base, x2APIC registers and the TSC deadline. */
static int emu_msr_read(void *opaque, uint32_t msr, uint64_t *val)
{
	struct accel_vcpu *v = opaque;

	if (msr == MSR_IA32_APIC_BASE) {
		*val = lapic_get_base(v->lapic);
		return 0;
	}
	return lapic_msr_read(v->lapic, msr, val);
}

static int emu_msr_write(void *opaque, uint32_t msr, uint64_t val)
{
	struct accel_vcpu *v = opaque;

	if (msr == MSR_IA32_APIC_BASE)
		return lapic_set_base(v->lapic, val);
	return lapic_msr_write(v->lapic, msr, val);
}

static uint8_t emu_cr8_read(void *opaque)
{
	struct accel_vcpu *v = opaque;

	return lapic_get_cr8(v->lapic);
}

static void emu_cr8_write(void *opaque, uint8_t val)
{
	struct accel_vcpu *v = opaque;

	lapic_set_cr8(v->lapic, val);
}

static const struct x86_mem_ops emu_mem_ops = {
	.page = emu_page,
	.mmio_read = emu_mmio_read,
	.mmio_write = emu_mmio_write,
	.pio_in = emu_pio_in,
	.pio_out = emu_pio_out,
	.msr_read = emu_msr_read,
	.msr_write = emu_msr_write,
	.cr8_read = emu_cr8_read,
	.cr8_write = emu_cr8_write,
};

/* An interrupt was delivered to this vCPU's APIC (any thread): stop at the next block. */
static void emu_notify(void *opaque)
{
	struct accel_vcpu *v = opaque;

	x86_set_irq_pending(&v->cpu, true);
}

/*
 * A device wrote guest RAM (any thread, before it publishes the used index).
 * Each vCPU drops the blocks it decoded from those pages before it runs on:
 * queued here, and the stop request ends the current block run at the next
 * block boundary, so a guest that polls for the completion cannot jump into
 * the new bytes through a stale block.
 */
static void emu_dma_written(struct machine *m, uint64_t gpa, uint64_t len)
{
	struct accel_vm *vm = m->accel_vm;

	if (!vm)
		return;
	pthread_mutex_lock(&vm->dma_lock);
	for (unsigned i = 0; i < APIC_BUS_MAX_CPUS; i++) {
		struct accel_vcpu *v = vm->dma_vcpu[i];
		if (v) {
			range_inbox_add(&v->dma, gpa, len);
			x86_request_stop(&v->cpu);
		}
	}
	pthread_mutex_unlock(&vm->dma_lock);
}

static void dma_range(void *opaque, uint64_t gpa, uint64_t len)
{
	x86_invalidate_phys(opaque, gpa, len);
}

static void dma_all(void *opaque)
{
	x86_flush_code(opaque);
}

/* --- engine ops --- */

static int emu_vm_init(struct machine *m, struct accel_vm **out)
{
	struct accel_vm *vm = calloc(1, sizeof(*vm));
	int rc;

	if (!vm)
		return -ENOMEM;
	vm->m = m;
	rc = emu_platform_init(&vm->plat, m, m->nr_cpus);
	if (rc < 0) {
		free(vm);
		return rc;
	}
	pthread_mutex_init(&vm->dma_lock, NULL);
	*out = vm;
	__atomic_store_n(&m->dma_written, emu_dma_written, __ATOMIC_RELEASE);
	return 0;
}

static void emu_vm_fini(struct accel_vm *vm)
{
	if (!vm)
		return;
	__atomic_store_n(&vm->m->dma_written, NULL, __ATOMIC_RELEASE);
	pthread_mutex_destroy(&vm->dma_lock);
	emu_platform_fini(&vm->plat);
	free(vm);
}

static int emu_vcpu_init(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	struct accel_vcpu *v;
	int rc;

	if (index >= APIC_BUS_MAX_CPUS || !vm->plat.lapic[index])
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->lapic = vm->plat.lapic[index];
	/* Application processors wait for INIT/SIPI, as on a PC. */
	v->state = index == 0 ? EMU_CPU_RUNNABLE : EMU_CPU_WAIT_SIPI;
	rc = x86_cpu_init(&v->cpu, &emu_mem_ops, v);
	if (rc < 0) {
		free(v);
		return rc;
	}
	v->cpu.tsc_fn = emu_tsc_fn;
	v->cpu.deliver_exceptions = true;
	v->cpu.apic_id = lapic_id(v->lapic); /* CPUID reports it; Linux checks it against MADT */
	vm->plat.notify_opaque[index] = v;
	vm->plat.notify[index] = emu_notify;
	range_inbox_init(&v->dma);
	pthread_mutex_lock(&vm->dma_lock);
	vm->dma_vcpu[index] = v;
	pthread_mutex_unlock(&vm->dma_lock);
	*out = v;
	return 0;
}

static void emu_vcpu_fini(struct accel_vcpu *v)
{
	if (!v)
		return;
	v->vm->plat.notify[v->index] = NULL;
	pthread_mutex_lock(&v->vm->dma_lock);
	v->vm->dma_vcpu[v->index] = NULL;
	pthread_mutex_unlock(&v->vm->dma_lock);
	range_inbox_fini(&v->dma);
	x86_cpu_fini(&v->cpu);
	free(v);
}

static void emu_vcpu_kick(struct accel_vcpu *v)
{
	atomic_store(&v->kicked, true);
	x86_request_stop(&v->cpu);
	emu_wake(&v->vm->plat, v->index);
}

/* Start-up IPI: real mode at vector << 12 (SDM 8.4.4). */
static void emu_start_ap(struct accel_vcpu *v, uint8_t vector)
{
	struct x86_cpu *c = &v->cpu;

	x86_cpu_reset(c);
	x86_set_seg(c, X86_CS, (uint16_t)(vector << 8), (uint64_t)vector << 12, 0xffff,
		    X86_SEG_CODE16);
	c->rip = 0;
	x86_update_mode(c);
	v->state = EMU_CPU_RUNNABLE;
}

static void exit_error(struct accel_exit *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void exit_error(struct accel_exit *e, const char *fmt, ...)
{
	va_list ap;

	e->kind = ACCEL_EXIT_ERROR;
	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
}

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?", "#TS", "#NP",
	"#SS", "#GP", "#PF", "?", "#MF", "#AC", "#MC", "#XM",
};

/*
 * Hand the CPU what its local APIC holds: fire expired timers, then an NMI,
 * then the highest-priority interrupt if the CPU accepts interrupts now.
 * Returns X86_STOP_NONE or the stop an event delivery caused.
 */
static int emu_deliver_events(struct accel_vcpu *v)
{
	struct x86_cpu *c = &v->cpu;
	int r = X86_STOP_NONE, vec;

	/* Clear first: a delivery racing with this check sets it again. */
	x86_set_irq_pending(c, false);
	lapic_timer_poll(v->lapic);
	if (lapic_take_nmi(v->lapic)) {
		r = x86_inject_nmi(c);
		if (r == -EBUSY)
			r = X86_STOP_NONE; /* an NMI handler runs: this one is lost, as NMIs merge */
		if (r != X86_STOP_NONE)
			return r;
	}
	if (x86_interrupts_enabled(c) && (vec = lapic_ack(v->lapic)) >= 0) {
		r = x86_inject_interrupt(c, (uint8_t)vec);
		if (r != X86_STOP_NONE)
			return r;
	}
	/* Still something deliverable (blocked by IF or a shadow): stop when it opens. */
	if (lapic_pending(v->lapic) >= 0)
		x86_set_irq_pending(c, true);
	return X86_STOP_NONE;
}

static int emu_vcpu_run(struct accel_vcpu *v, struct accel_exit *e)
{
	struct x86_cpu *c = &v->cpu;
	uint8_t sipi;
	int r;

	memset(e, 0, sizeof(*e));
	range_inbox_drain(&v->dma, dma_range, dma_all, c);
	if (atomic_exchange(&v->kicked, false)) {
		e->kind = ACCEL_EXIT_INTR;
		return 0;
	}
	if (v->state == EMU_CPU_WAIT_SIPI) {
		lapic_take_init(v->lapic);
		if (lapic_take_sipi(v->lapic, &sipi))
			emu_start_ap(v, sipi);
		else
			emu_wait(&v->vm->plat, v->index, UINT64_MAX);
		e->kind = ACCEL_EXIT_NONE;
		return 0;
	}
	if (lapic_take_init(v->lapic)) {
		x86_cpu_reset(c);
		v->state = EMU_CPU_WAIT_SIPI;
		e->kind = ACCEL_EXIT_NONE;
		return 0;
	}

	/* NMIs and interrupts the local APIC holds, at an instruction boundary. */
	r = emu_deliver_events(v);
	if (r == X86_STOP_NONE)
		r = x86_run(c, EMU_SLICE);
	switch (r) {
	case X86_STOP_BUDGET:
	case X86_STOP_NONE:
	case X86_STOP_IRQ:
		e->kind = ACCEL_EXIT_NONE;
		break;
	case X86_STOP_REQUEST:
		/* Not kicked: a device write stopped the run; the next entry drains it. */
		e->kind = atomic_exchange(&v->kicked, false) ? ACCEL_EXIT_INTR : ACCEL_EXIT_NONE;
		break;
	case X86_STOP_HLT:
		if (!(x86_get_rflags(c) & X86_IF)) {
			/* Nothing but NMI/INIT can wake it: park (the vCPU loop handles it). */
			e->kind = ACCEL_EXIT_HALT;
			break;
		}
		/*
		 * Sleep until the next timer expiry or a delivered interrupt. Poll
		 * the timer first: an expired one becomes a pending interrupt and
		 * leaves no deadline, so checking pending before polling could
		 * sleep forever with an interrupt waiting.
		 */
		{
			uint64_t deadline = lapic_timer_poll(v->lapic);

			if (lapic_pending(v->lapic) < 0 && !atomic_load(&v->kicked))
				emu_wait(&v->vm->plat, v->index, deadline);
		}
		e->kind = ACCEL_EXIT_NONE;
		break;
	case X86_STOP_EXCEPTION:
		exit_error(e, "unhandled exception %s (vector %u, error code 0x%x) at rip 0x%llx",
			   c->exc_vector < 32 && exc_names[c->exc_vector] ? exc_names[c->exc_vector] : "?",
			   c->exc_vector, c->exc_has_error ? c->exc_error : 0,
			   (unsigned long long)c->rip);
		break;
	case X86_STOP_MEM_ERROR:
		exit_error(e, "memory access failed at 0x%llx (%u bytes), rip 0x%llx",
			   (unsigned long long)c->fault_addr, c->fault_size,
			   (unsigned long long)c->rip);
		break;
	case X86_STOP_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	default:
		exit_error(e, "software CPU stopped with unknown reason %d", r);
		break;
	}
	return 0;
}

/* --- state conversion --- */

static uint16_t seg_attr_pack(const struct x86_segment *s)
{
	if (s->unusable)
		return 0;
	return (uint16_t)((s->type & 0xf) | (s->s ? X86_SEG_S : 0) | ((s->dpl & 3) << 5) |
			  (s->present ? X86_SEG_P : 0) | (s->avl ? X86_SEG_AVL : 0) |
			  (s->l ? X86_SEG_L : 0) | (s->db ? X86_SEG_DB : 0) | (s->g ? X86_SEG_G : 0));
}

static void seg_attr_unpack(const struct x86_seg *in, struct x86_segment *s)
{
	uint16_t a = in->attr;

	memset(s, 0, sizeof(*s));
	s->base = in->base;
	s->limit = in->limit;
	s->selector = in->sel;
	s->type = a & 0xf;
	s->s = !!(a & X86_SEG_S);
	s->dpl = (a >> 5) & 3;
	s->present = !!(a & X86_SEG_P);
	s->avl = !!(a & X86_SEG_AVL);
	s->l = !!(a & X86_SEG_L);
	s->db = !!(a & X86_SEG_DB);
	s->g = !!(a & X86_SEG_G);
	s->unusable = !s->present;
}

/* vcpu_state.h orders segments ES CS SS DS FS GS like the CPU library. */
static int emu_get_state(struct accel_vcpu *v, struct x86_vcpu_state *s)
{
	struct x86_cpu *c = &v->cpu;

	memset(s, 0, sizeof(*s));
	memcpy(s->gpr, c->gpr, sizeof(s->gpr));
	s->rip = c->rip;
	s->rflags = x86_get_rflags(c);
	for (unsigned i = 0; i < X86_NSEG; i++)
		seg_attr_unpack(&c->seg[i], &s->seg[i]);
	seg_attr_unpack(&c->ldtr, &s->seg[X86_SEG_LDTR]);
	seg_attr_unpack(&c->tr, &s->seg[X86_SEG_TR]);
	s->gdt.base = c->gdtr.base;
	s->gdt.limit = c->gdtr.limit;
	s->idt.base = c->idtr.base;
	s->idt.limit = c->idtr.limit;
	s->cr0 = c->cr0;
	s->cr2 = c->cr2;
	s->cr3 = c->cr3;
	s->cr4 = c->cr4;
	s->cr8 = lapic_get_cr8(v->lapic);
	s->efer = c->efer;
	s->apic_base = lapic_get_base(v->lapic);
	s->star = c->star;
	s->lstar = c->lstar;
	s->cstar = c->cstar;
	s->sfmask = c->sfmask;
	s->kernel_gs_base = c->kernel_gs_base;
	s->sysenter_cs = c->sysenter_cs;
	s->sysenter_esp = c->sysenter_esp;
	s->sysenter_eip = c->sysenter_eip;
	s->pat = c->pat;
	s->tsc = emu_tsc(&v->vm->plat);
	return 0;
}

static void seg_load(struct x86_cpu *c, unsigned seg, const struct x86_segment *s)
{
	x86_set_seg(c, seg, s->selector, s->base, s->limit, seg_attr_pack(s));
}

static int emu_set_state(struct accel_vcpu *v, const struct x86_vcpu_state *s)
{
	struct x86_cpu *c = &v->cpu;

	memcpy(c->gpr, s->gpr, sizeof(c->gpr));
	c->rip = s->rip;
	x86_set_rflags(c, s->rflags);
	c->cr0 = s->cr0;
	c->cr2 = s->cr2;
	c->cr3 = s->cr3;
	c->cr4 = s->cr4;
	c->efer = s->efer;
	for (unsigned i = 0; i < X86_NSEG; i++)
		seg_load(c, i, &s->seg[i]);
	c->ldtr = (struct x86_seg){ s->seg[X86_SEG_LDTR].selector, seg_attr_pack(&s->seg[X86_SEG_LDTR]),
				    s->seg[X86_SEG_LDTR].limit, s->seg[X86_SEG_LDTR].base };
	c->tr = (struct x86_seg){ s->seg[X86_SEG_TR].selector, seg_attr_pack(&s->seg[X86_SEG_TR]),
				  s->seg[X86_SEG_TR].limit, s->seg[X86_SEG_TR].base };
	c->gdtr = (struct x86_dtr){ s->gdt.base, s->gdt.limit };
	c->idtr = (struct x86_dtr){ s->idt.base, s->idt.limit };
	c->star = s->star;
	c->lstar = s->lstar;
	c->cstar = s->cstar;
	c->sfmask = s->sfmask;
	c->kernel_gs_base = s->kernel_gs_base;
	c->sysenter_cs = s->sysenter_cs;
	c->sysenter_esp = s->sysenter_esp;
	c->sysenter_eip = s->sysenter_eip;
	c->pat = s->pat;
	lapic_set_cr8(v->lapic, (uint8_t)s->cr8);
	x86_update_mode(c);
	x86_flush_tlb(c);
	/* The VMM set this vCPU's state: it runs now (boot vCPU, or after reset). */
	v->state = EMU_CPU_RUNNABLE;
	return 0;
}

const struct accel_ops accel_emu_ops = {
	.name = "emu",
	.probe = emu_probe,
	.vm_init = emu_vm_init,
	.vm_fini = emu_vm_fini,
	.vcpu_init = emu_vcpu_init,
	.vcpu_fini = emu_vcpu_fini,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.get_state = emu_get_state,
	.set_state = emu_set_state,
};
