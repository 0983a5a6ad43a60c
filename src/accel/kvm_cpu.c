/*
 * KVM vCPU set-up: the CPUID policy (docs/kvm.md), the MSRs Linux expects at
 * boot, and conversion between KVM's register structures and x86_vcpu_state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "accel/kvm_int.h"
#include "util/log.h"
#include "vm/machine.h"

#define KVM_MAX_CPUID 256

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_IA32_CR_PAT	      0x277
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define PAT_POWER_ON		0x0007040600070406ull
#define MISC_ENABLE_FAST_STRING 1ull
#define MTRR_DEF_TYPE_E		(1ull << 11)
#define MTRR_TYPE_WB		6ull

#define BIT(n) (1u << (n))

void kvm_cpuid_filter(struct kvm_cpuid_entry2 *e, bool pvm)
{
	switch (e->function) {
	case 1:
		/*
		 * No nested virtualisation (VMX, SMX), no MONITOR/MWAIT (idle
		 * must exit to the host, and it does not migrate); announce a hypervisor.
		 */
		e->ecx &= ~(BIT(5) | BIT(6) | BIT(3));
		e->ecx |= BIT(31);
		if (pvm) {
			/* PVM fails XRSTOR and CMPXCHG16B in guest ring 0: hide XSAVE and all it
			 * gates. */
			e->ecx &= ~(BIT(26) | BIT(27) | BIT(28) | BIT(29) | BIT(12) | BIT(13));
		}
		break;
	case 6:	  /* thermal and power management: host-specific */
	case 0xa: /* architectural PMU: not virtualised by Petrel, cannot migrate */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 7:
		if (e->index != 0)
			break;
		/* TSX (HLE, RTM) and resource monitoring (PQM, PQE) do not migrate; nor WAITPKG. */
		e->ebx &= ~(BIT(4) | BIT(11) | BIT(12) | BIT(15));
		e->ecx &= ~BIT(5);
		if (pvm) {
			/* AVX2 and AVX-512 need XSAVE state, hidden above. */
			e->ebx &= ~(BIT(5) | BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) |
				    BIT(28) | BIT(30) | BIT(31));
			e->ecx &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
			e->edx &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(23));
		}
		break;
	case 0xd:
		if (pvm)
			e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~BIT(2); /* SVM */
		break;
	}
}

int kvm_cpuid_init(struct accel_vm *vm)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + KVM_MAX_CPUID * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = KVM_MAX_CPUID;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int rc = -errno;

		log_error("kvm: KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return rc;
	}
	for (unsigned i = 0; i < c->nent; i++)
		kvm_cpuid_filter(&c->entries[i], vm->pvm);
	vm->cpuid = c;
	return 0;
}

int kvm_cpuid_set(struct accel_vcpu *v)
{
	const struct kvm_cpuid2 *tmpl = v->vm->cpuid;
	size_t sz = sizeof(*tmpl) + tmpl->nent * sizeof(tmpl->entries[0]);
	unsigned nr_cpus = v->vm->m ? v->vm->m->nr_cpus : 1;
	struct kvm_cpuid2 *c = malloc(sz);
	int rc = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, tmpl, sz);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* Initial APIC ID = vCPU index; logical processor count. */
			e->ebx = (e->ebx & 0x0000ffff) | (v->index << 24) |
				 ((nr_cpus > 255 ? 255 : nr_cpus) << 16);
			if (nr_cpus > 1)
				e->edx |= BIT(28); /* HTT: the count above is valid */
			break;
		case 0xb:
		case 0x1f:
			e->edx = v->index; /* x2APIC ID */
			break;
		}
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		rc = -errno;
		log_error("kvm: KVM_SET_CPUID2: %s", strerror(errno));
	}
	free(c);
	return rc;
}

#define MSR_LIST_MAX 16

/* struct kvm_msrs ends in a flexible array: give it room for MSR_LIST_MAX entries. */
struct msr_list {
	_Alignas(struct kvm_msrs)
	    uint8_t buf[sizeof(struct kvm_msrs) + MSR_LIST_MAX * sizeof(struct kvm_msr_entry)];
};

static struct kvm_msrs *msr_hdr(struct msr_list *l)
{
	return (struct kvm_msrs *)l->buf;
}

static int set_msrs(struct accel_vcpu *v, struct msr_list *l)
{
	struct kvm_msrs *h = msr_hdr(l);
	int r = ioctl(v->fd, KVM_SET_MSRS, h);

	if (r < 0)
		return -errno;
	/* KVM returns how many it set; it stops at the first it refuses. */
	if ((unsigned)r != h->nmsrs) {
		log_warn("kvm: vCPU %u refused MSR 0x%x", v->index, h->entries[r].index);
		return -EINVAL;
	}
	return 0;
}

int kvm_msrs_init(struct accel_vcpu *v)
{
	struct msr_list l;
	struct kvm_msrs *h = msr_hdr(&l);

	memset(&l, 0, sizeof(l));
	h->nmsrs = 3;
	h->entries[0].index = MSR_IA32_MISC_ENABLE;
	h->entries[0].data = MISC_ENABLE_FAST_STRING;
	h->entries[1].index = MSR_IA32_CR_PAT;
	h->entries[1].data = PAT_POWER_ON;
	/*
	 * MTRRs enabled with write-back as the default type, as firmware leaves
	 * them: with MTRRs announced but disabled, Linux would map RAM uncached.
	 */
	h->entries[2].index = MSR_MTRR_DEF_TYPE;
	h->entries[2].data = MTRR_DEF_TYPE_E | MTRR_TYPE_WB;
	/* Not fatal: a host may not offer MISC_ENABLE; Linux copes. */
	if (set_msrs(v, &l))
		log_debug("kvm: initial MSRs not all accepted");
	return 0;
}

static void seg_from_kvm(struct x86_segment *d, const struct kvm_segment *s)
{
	d->base = s->base;
	d->limit = s->limit;
	d->selector = s->selector;
	d->type = s->type;
	d->s = s->s;
	d->dpl = s->dpl;
	d->present = s->present;
	d->avl = s->avl;
	d->l = s->l;
	d->db = s->db;
	d->g = s->g;
	d->unusable = s->unusable;
}

static void seg_to_kvm(struct kvm_segment *d, const struct x86_segment *s)
{
	memset(d, 0, sizeof(*d));
	d->base = s->base;
	d->limit = s->limit;
	d->selector = s->selector;
	d->type = s->type;
	d->s = s->s;
	d->dpl = s->dpl;
	d->present = s->present;
	d->avl = s->avl;
	d->l = s->l;
	d->db = s->db;
	d->g = s->g;
	d->unusable = s->unusable;
}

static const uint32_t state_msrs[] = {
    MSR_STAR,
    MSR_LSTAR,
    MSR_CSTAR,
    MSR_SYSCALL_MASK,
    MSR_KERNEL_GS_BASE,
    MSR_IA32_SYSENTER_CS,
    MSR_IA32_SYSENTER_ESP,
    MSR_IA32_SYSENTER_EIP,
    MSR_IA32_CR_PAT,
    MSR_IA32_TSC,
};

static uint64_t *state_msr_slot(struct x86_vcpu_state *s, uint32_t index)
{
	switch (index) {
	case MSR_STAR:
		return &s->star;
	case MSR_LSTAR:
		return &s->lstar;
	case MSR_CSTAR:
		return &s->cstar;
	case MSR_SYSCALL_MASK:
		return &s->sfmask;
	case MSR_KERNEL_GS_BASE:
		return &s->kernel_gs_base;
	case MSR_IA32_SYSENTER_CS:
		return &s->sysenter_cs;
	case MSR_IA32_SYSENTER_ESP:
		return &s->sysenter_esp;
	case MSR_IA32_SYSENTER_EIP:
		return &s->sysenter_eip;
	case MSR_IA32_CR_PAT:
		return &s->pat;
	case MSR_IA32_TSC:
		return &s->tsc;
	}
	return NULL;
}

static struct kvm_segment *sreg_seg(struct kvm_sregs *sr, unsigned i)
{
	switch (i) {
	case X86_SEG_ES:
		return &sr->es;
	case X86_SEG_CS:
		return &sr->cs;
	case X86_SEG_SS:
		return &sr->ss;
	case X86_SEG_DS:
		return &sr->ds;
	case X86_SEG_FS:
		return &sr->fs;
	case X86_SEG_GS:
		return &sr->gs;
	case X86_SEG_LDTR:
		return &sr->ldt;
	default:
		return &sr->tr;
	}
}

int kvm_get_state(struct accel_vcpu *v, struct x86_vcpu_state *s)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct msr_list l;
	struct kvm_msrs *h;
	int n;

	memset(s, 0, sizeof(*s));
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	s->gpr[X86_RAX] = r.rax;
	s->gpr[X86_RCX] = r.rcx;
	s->gpr[X86_RDX] = r.rdx;
	s->gpr[X86_RBX] = r.rbx;
	s->gpr[X86_RSP] = r.rsp;
	s->gpr[X86_RBP] = r.rbp;
	s->gpr[X86_RSI] = r.rsi;
	s->gpr[X86_RDI] = r.rdi;
	s->gpr[X86_R8] = r.r8;
	s->gpr[X86_R9] = r.r9;
	s->gpr[X86_R10] = r.r10;
	s->gpr[X86_R11] = r.r11;
	s->gpr[X86_R12] = r.r12;
	s->gpr[X86_R13] = r.r13;
	s->gpr[X86_R14] = r.r14;
	s->gpr[X86_R15] = r.r15;
	s->rip = r.rip;
	s->rflags = r.rflags;
	for (unsigned i = 0; i < X86_NR_SEGS; i++)
		seg_from_kvm(&s->seg[i], sreg_seg(&sr, i));
	s->gdt.base = sr.gdt.base;
	s->gdt.limit = sr.gdt.limit;
	s->idt.base = sr.idt.base;
	s->idt.limit = sr.idt.limit;
	s->cr0 = sr.cr0;
	s->cr2 = sr.cr2;
	s->cr3 = sr.cr3;
	s->cr4 = sr.cr4;
	s->cr8 = sr.cr8;
	s->efer = sr.efer;
	s->apic_base = sr.apic_base;

	memset(&l, 0, sizeof(l));
	h = msr_hdr(&l);
	h->nmsrs = sizeof(state_msrs) / sizeof(state_msrs[0]);
	for (unsigned i = 0; i < h->nmsrs; i++)
		h->entries[i].index = state_msrs[i];
	n = ioctl(v->fd, KVM_GET_MSRS, h);
	if (n < 0)
		return -errno;
	/* Partial reads leave the rest at 0: a register dump still works. */
	for (int i = 0; i < n && i < (int)h->nmsrs; i++)
		*state_msr_slot(s, h->entries[i].index) = h->entries[i].data;
	return 0;
}

int kvm_set_state(struct accel_vcpu *v, const struct x86_vcpu_state *s)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct msr_list l;
	struct kvm_msrs *h;
	struct x86_vcpu_state tmp = *s;
	unsigned n = 0;

	/* Start from the current sregs to keep KVM's pending-interrupt bitmap. */
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rax = s->gpr[X86_RAX];
	r.rcx = s->gpr[X86_RCX];
	r.rdx = s->gpr[X86_RDX];
	r.rbx = s->gpr[X86_RBX];
	r.rsp = s->gpr[X86_RSP];
	r.rbp = s->gpr[X86_RBP];
	r.rsi = s->gpr[X86_RSI];
	r.rdi = s->gpr[X86_RDI];
	r.r8 = s->gpr[X86_R8];
	r.r9 = s->gpr[X86_R9];
	r.r10 = s->gpr[X86_R10];
	r.r11 = s->gpr[X86_R11];
	r.r12 = s->gpr[X86_R12];
	r.r13 = s->gpr[X86_R13];
	r.r14 = s->gpr[X86_R14];
	r.r15 = s->gpr[X86_R15];
	r.rip = s->rip;
	r.rflags = s->rflags | 2; /* bit 1 is reserved as 1 */
	for (unsigned i = 0; i < X86_NR_SEGS; i++)
		seg_to_kvm(sreg_seg(&sr, i), &s->seg[i]);
	sr.gdt.base = s->gdt.base;
	sr.gdt.limit = s->gdt.limit;
	sr.idt.base = s->idt.base;
	sr.idt.limit = s->idt.limit;
	sr.cr0 = s->cr0;
	sr.cr2 = s->cr2;
	sr.cr3 = s->cr3;
	sr.cr4 = s->cr4;
	sr.cr8 = s->cr8;
	sr.efer = s->efer;
	/* A boot state leaves apic_base 0: keep the in-kernel LAPIC's reset value. */
	if (s->apic_base)
		sr.apic_base = s->apic_base;
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;

	memset(&l, 0, sizeof(l));
	h = msr_hdr(&l);
	if (!tmp.pat)
		tmp.pat = PAT_POWER_ON;
	for (unsigned i = 0; i < sizeof(state_msrs) / sizeof(state_msrs[0]); i++) {
		/* TSC 0 means "not part of this state" (boot): leave the counter running. */
		if (state_msrs[i] == MSR_IA32_TSC && !tmp.tsc)
			continue;
		h->entries[n].index = state_msrs[i];
		h->entries[n].data = *state_msr_slot(&tmp, state_msrs[i]);
		n++;
	}
	h->nmsrs = n;
	return set_msrs(v, &l);
}
