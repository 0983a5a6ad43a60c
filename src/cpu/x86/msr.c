/*
 * Model-specific registers and control-register writes with their mode
 * rules (SDM Vol. 3 chapter 9 and 2.5; Vol. 4 for the MSR list).
 *
 * MTRRs: the capability register reports 8 variable ranges, fixed ranges
 * and WC; variable ranges and the default type are stored, fixed ranges
 * read as 0 and ignore writes (the software CPU has no memory types).
 * Unknown MSRs are #GP(0), as Linux's *_safe accessors expect.
 */
#include <x86intrin.h>

#include "cpu/x86/system.h"

uint64_t x86_tsc_now(struct x86_cpu *cpu)
{
	return (cpu->tsc_fn ? cpu->tsc_fn(cpu->opaque) : __rdtsc()) + cpu->tsc_offset;
}

int x86_write_cr0(struct x86_cpu *cpu, uint64_t v)
{
	uint64_t old = cpu->cr0;

	/* v is guest data: reserved bits, PG without PE, NW without CD. */
	v |= X86_CR0_ET;
	if ((v >> 32) || ((v & X86_CR0_PG) && !(v & X86_CR0_PE)) ||
	    ((v & X86_CR0_NW) && !(v & X86_CR0_CD)))
		return x86_gp0(cpu);
	if ((v & X86_CR0_PG) && !(old & X86_CR0_PG) && (cpu->efer & X86_EFER_LME)) {
		/* Activating IA-32e mode needs PAE and a 32-bit (not 64-bit) CS. */
		if (!(cpu->cr4 & X86_CR4_PAE))
			return x86_gp0(cpu);
		cpu->efer |= X86_EFER_LMA;
	}
	if (!(v & X86_CR0_PG) && (old & X86_CR0_PG) && (cpu->efer & X86_EFER_LMA)) {
		/* Leaving IA-32e mode is only possible from compatibility mode. */
		if (cpu->mode == X86_MODE_LONG64)
			return x86_gp0(cpu);
		cpu->efer &= ~X86_EFER_LMA;
	}
	cpu->cr0 = v;
	if ((old ^ v) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))
		x86_tlb_flush_all(cpu);
	x86_update_mode(cpu);
	return 0;
}

int x86_write_cr3(struct x86_cpu *cpu, uint64_t v)
{
	/* Bits above MAXPHYADDR are reserved (no PCID: bit 63 too). */
	if ((cpu->efer & X86_EFER_LMA) && (v >> X86_PHYS_BITS))
		return x86_gp0(cpu);
	cpu->cr3 = (cpu->efer & X86_EFER_LMA) ? v : (uint32_t)v;
	x86_tlb_flush_nonglobal(cpu);
	return 0;
}

#define CR4_OK                                                                                   \
	(X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |       \
	 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_SMEP | X86_CR4_SMAP)

int x86_write_cr4(struct x86_cpu *cpu, uint64_t v)
{
	uint64_t old = cpu->cr4;

	if (v & ~CR4_OK)
		return x86_gp0(cpu);
	if ((cpu->efer & X86_EFER_LMA) && !(v & X86_CR4_PAE))
		return x86_gp0(cpu);
	cpu->cr4 = v;
	if ((old ^ v) & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE | X86_CR4_SMEP | X86_CR4_SMAP))
		x86_tlb_flush_all(cpu);
	return 0;
}

int x86_write_efer(struct x86_cpu *cpu, uint64_t v)
{
	uint64_t ok = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;

	if (v & ~ok)
		return x86_gp0(cpu);
	/* LME cannot change while paging is on; LMA is read-only. */
	if (((v ^ cpu->efer) & X86_EFER_LME) && (cpu->cr0 & X86_CR0_PG))
		return x86_gp0(cpu);
	v = (v & ~X86_EFER_LMA) | (cpu->efer & X86_EFER_LMA);
	if ((v ^ cpu->efer) & X86_EFER_NXE)
		x86_tlb_flush_all(cpu);
	cpu->efer = v;
	x86_update_mode(cpu);
	return 0;
}

static bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

/* ARCH_CAPABILITIES: RDCL_NO, SKIP_L1DFL_VMENTRY, MDS_NO, PSCHANGE_MC_NO,
 * TAA_NO: nothing to mitigate in an emulator, so Linux skips PTI. */
#define ARCH_CAPS ((1ull << 0) | (1ull << 3) | (1ull << 5) | (1ull << 6) | (1ull << 8))

int x86_msr_read(struct x86_cpu *cpu, uint32_t msr, uint64_t *v)
{
	*v = 0;
	switch (msr) {
	case 0x10: *v = x86_tsc_now(cpu); return 0;
	case 0x17: return 0; /* PLATFORM_ID */
	case 0x1b:
		if (cpu->mem.msr_read)
			return cpu->mem.msr_read(cpu->opaque, msr, v) ? x86_gp0(cpu) : 0;
		*v = cpu->apic_base;
		return 0;
	case 0x3a: *v = 1; return 0; /* FEATURE_CONTROL: locked, no VMX */
	case 0x3b: *v = cpu->tsc_adjust; return 0;
	case 0x8b: return 0;         /* microcode revision */
	case 0xfe: *v = 0x508; return 0; /* MTRRcap: WC, fixed, 8 variable */
	case 0x10a: *v = ARCH_CAPS; return 0;
	case 0x174: *v = cpu->sysenter_cs; return 0;
	case 0x175: *v = cpu->sysenter_esp; return 0;
	case 0x176: *v = cpu->sysenter_eip; return 0;
	case 0x1a0: *v = cpu->misc_enable | 1; return 0; /* fast strings */
	case 0x277: *v = cpu->pat; return 0;
	case 0x2ff: *v = cpu->mtrr_def_type; return 0;
	case 0x250: case 0x258: case 0x259: return 0;
	case 0xc0000080: *v = cpu->efer; return 0;
	case 0xc0000081: *v = cpu->star; return 0;
	case 0xc0000082: *v = cpu->lstar; return 0;
	case 0xc0000083: *v = cpu->cstar; return 0;
	case 0xc0000084: *v = cpu->sfmask; return 0;
	case 0xc0000100: *v = cpu->seg[X86_FS].base; return 0;
	case 0xc0000101: *v = cpu->seg[X86_GS].base; return 0;
	case 0xc0000102: *v = cpu->kernel_gs_base; return 0;
	case 0xc0000103: *v = cpu->tsc_aux; return 0;
	}
	if (msr >= 0x200 && msr < 0x210) {
		*v = cpu->msr_spare[msr - 0x200];
		return 0;
	}
	if (msr >= 0x268 && msr <= 0x26f)
		return 0;
	if (msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff)) {
		if (cpu->mem.msr_read && !cpu->mem.msr_read(cpu->opaque, msr, v))
			return 0;
	}
	return x86_gp0(cpu); /* msr is guest ECX: unknown ones fault */
}

int x86_msr_write(struct x86_cpu *cpu, uint32_t msr, uint64_t v)
{
	switch (msr) {
	case 0x10: {
		/* SDM 17.17.3: a TSC write moves TSC_ADJUST by the same amount. */
		uint64_t delta = v - x86_tsc_now(cpu);

		cpu->tsc_offset += delta;
		cpu->tsc_adjust += delta;
		return 0;
	}
	case 0x3b:
		cpu->tsc_offset += v - cpu->tsc_adjust;
		cpu->tsc_adjust = v;
		return 0;
	case 0x1b:
		if (cpu->mem.msr_write)
			return cpu->mem.msr_write(cpu->opaque, msr, v) ? x86_gp0(cpu) : 0;
		cpu->apic_base = v;
		return 0;
	case 0x8b: return 0;
	case 0x174: cpu->sysenter_cs = v & 0xffff; return 0;
	case 0x175:
	case 0x176:
		if (!canonical(v))
			return x86_gp0(cpu);
		if (msr == 0x175)
			cpu->sysenter_esp = v;
		else
			cpu->sysenter_eip = v;
		return 0;
	case 0x1a0: cpu->misc_enable = v; return 0;
	case 0x277: {
		unsigned i;

		/* Each PAT entry must be a defined memory type (0 1 4 5 6 7). */
		for (i = 0; i < 8; i++) {
			unsigned t = (v >> (i * 8)) & 0xff;

			if (t > 7 || t == 2 || t == 3)
				return x86_gp0(cpu);
		}
		cpu->pat = v;
		return 0;
	}
	case 0x2ff: cpu->mtrr_def_type = v & 0xcff; return 0;
	case 0x250: case 0x258: case 0x259: return 0;
	case 0xc0000080: return x86_write_efer(cpu, v);
	case 0xc0000081: cpu->star = v; return 0;
	case 0xc0000082:
	case 0xc0000083:
	case 0xc0000100:
	case 0xc0000101:
	case 0xc0000102:
		if (!canonical(v))
			return x86_gp0(cpu);
		if (msr == 0xc0000082)
			cpu->lstar = v;
		else if (msr == 0xc0000083)
			cpu->cstar = v;
		else if (msr == 0xc0000100)
			cpu->seg[X86_FS].base = v;
		else if (msr == 0xc0000101)
			cpu->seg[X86_GS].base = v;
		else
			cpu->kernel_gs_base = v;
		return 0;
	case 0xc0000084: cpu->sfmask = (uint32_t)v; return 0;
	case 0xc0000103: cpu->tsc_aux = (uint32_t)v; return 0;
	}
	if (msr >= 0x200 && msr < 0x210) {
		cpu->msr_spare[msr - 0x200] = v;
		return 0;
	}
	if (msr >= 0x268 && msr <= 0x26f)
		return 0;
	if (msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff)) {
		if (cpu->mem.msr_write && !cpu->mem.msr_write(cpu->opaque, msr, v))
			return 0;
	}
	return x86_gp0(cpu);
}
