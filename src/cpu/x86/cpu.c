/* vCPU lifetime, register accessors, modes, segment loads, exceptions. */
#include <errno.h>
#include <stdlib.h>

#include "cpu/x86/system.h"

uint64_t x86_get_rflags(struct x86_cpu *cpu)
{
	x86_flags_sync(cpu);
	return cpu->rflags | 2; /* bit 1 always reads as 1 */
}

void x86_set_rflags(struct x86_cpu *cpu, uint64_t v)
{
	/* Reserved bits (3, 5, 15, 22..63) read as 0; bit 1 as 1. */
	cpu->rflags = (v & 0x3f7fd5ull) | 2;
	cpu->lf_op = X86_LF_NONE;
}

void x86_update_mode(struct x86_cpu *cpu)
{
	const struct x86_seg *cs = &cpu->seg[X86_CS];

	if ((cpu->efer & X86_EFER_LMA) && (cs->attr & X86_SEG_L))
		cpu->mode = X86_MODE_LONG64;
	else if (!(cpu->cr0 & X86_CR0_PE))
		cpu->mode = X86_MODE_REAL16;
	else if (cs->attr & X86_SEG_DB)
		cpu->mode = X86_MODE_PROT32;
	else
		cpu->mode = X86_MODE_PROT16;
	if (cpu->mode == X86_MODE_LONG64)
		cpu->ss32 = 8;
	else
		cpu->ss32 = (cpu->seg[X86_SS].attr & X86_SEG_DB) ? 4 : 2;
	cpu->cpl = (cpu->cr0 & X86_CR0_PE) ? X86_SEG_DPL(cpu->seg[X86_SS].attr) : 0;
	if (unlikely((cpu->cpl == 3) != cpu->tlb_user))
		x86_paging_cpl_changed(cpu); /* paging.c: TLB entries carry U/S rights */
}

void x86_set_seg(struct x86_cpu *cpu, unsigned seg, uint16_t sel, uint64_t base,
		 uint32_t limit, uint16_t attr)
{
	if (seg >= X86_NSEG)
		return;
	cpu->seg[seg].sel = sel;
	cpu->seg[seg].base = base;
	cpu->seg[seg].limit = limit;
	cpu->seg[seg].attr = attr;
	if (seg == X86_CS || seg == X86_SS)
		x86_update_mode(cpu);
}

void x86_cpu_reset(struct x86_cpu *cpu)
{
	unsigned i;

	memset(cpu->gpr, 0, sizeof(cpu->gpr));
	cpu->gpr[X86_RDX] = 0x600; /* family 6 in the reset signature */
	cpu->rip = 0xfff0;
	cpu->rflags = 2;
	cpu->lf_op = X86_LF_NONE;
	cpu->cr0 = 0x60000010;
	cpu->cr2 = cpu->cr3 = cpu->cr4 = cpu->cr8 = 0;
	cpu->efer = 0;
	cpu->nmi_blocked = 0; /* part 2: no NMI handler, no STI shadow after RESET/INIT */
	cpu->shadow_icount = 0;
	for (i = 0; i < X86_NSEG; i++)
		x86_set_seg(cpu, i, 0, 0, 0xffff, X86_SEG_DATA16);
	x86_set_seg(cpu, X86_CS, 0xf000, 0xffff0000ull, 0xffff, X86_SEG_CODE16);
	cpu->ldtr = (struct x86_seg){ .limit = 0xffff, .attr = 0x82 };
	cpu->tr = (struct x86_seg){ .limit = 0xffff, .attr = 0x8b };
	cpu->gdtr = (struct x86_dtr){ 0, 0xffff };
	cpu->idtr = (struct x86_dtr){ 0, 0xffff };
	memset(cpu->dr, 0, sizeof(cpu->dr));
	cpu->dr[6] = 0xffff0ff0;
	cpu->dr[7] = 0x400;
	cpu->pat = 0x0007040600070406ull;
	cpu->apic_base = 0xfee00900ull;
	fpu_state_reset(&cpu->fpu);
	x86_update_mode(cpu);
	x86_flush_tlb(cpu);
}

int x86_cpu_init(struct x86_cpu *cpu, const struct x86_mem_ops *ops, void *opaque)
{
	int r;

	memset(cpu, 0, sizeof(*cpu));
	r = x86_decode_init();
	if (r)
		return r;
	cpu->mem = *ops;
	cpu->opaque = opaque;
	cpu->cc = x86_cc_new();
	if (!cpu->cc)
		return -ENOMEM;
	x86_cpu_reset(cpu);
	return 0;
}

void x86_cpu_fini(struct x86_cpu *cpu)
{
	x86_cc_free(cpu->cc);
	cpu->cc = NULL;
}

void x86_request_stop(struct x86_cpu *cpu)
{
	__atomic_store_n(&cpu->stop_req, 1, __ATOMIC_RELEASE);
}

int x86_raise(struct x86_cpu *cpu, unsigned vector, bool has_error, uint32_t error)
{
	cpu->exc_vector = vector;
	cpu->exc_has_error = has_error;
	cpu->exc_error = has_error ? error : 0;
	return X86_STOP_EXCEPTION;
}

/*
 * MOV/POP to a segment register. Real and virtual-8086 style: base = sel<<4.
 * Protected mode: descriptor from the GDT/LDT with the basic checks of the
 * SDM's MOV pseudo-code (null selector, limit, S bit, type, present);
 * privilege checks are part 2.
 */
int x86_load_seg(struct x86_cpu *cpu, unsigned seg, uint16_t sel)
{
	struct x86_seg *s = &cpu->seg[seg];
	uint64_t tbase, la;
	uint32_t tlimit, lo, hi, limit;
	uint16_t attr;
	int r;

	if (cpu->mode == X86_MODE_REAL16) {
		s->sel = sel;
		s->base = (uint64_t)sel << 4;
		if (seg == X86_CS)
			x86_update_mode(cpu);
		return 0;
	}
	if ((sel & ~3) == 0) {
		/* Null selector: SS only in 64-bit mode at CPL < 3 (part 2). */
		if (seg == X86_SS &&
		    (cpu->mode != X86_MODE_LONG64 || cpu->cpl == 3 || (sel & 3) != cpu->cpl))
			return x86_gp0(cpu);
		s->sel = sel;
		s->base = 0;
		s->limit = 0;
		/* A null SS keeps the CPL in its DPL (x86_update_mode). */
		s->attr = seg == X86_SS ? (uint16_t)(0x93 | cpu->cpl << 5) : 0;
		return 0;
	}
	if (sel & 4) {
		tbase = cpu->ldtr.base;
		tlimit = cpu->ldtr.limit;
	} else {
		tbase = cpu->gdtr.base;
		tlimit = cpu->gdtr.limit;
	}
	/* The selector is guest data: the descriptor must lie inside the table. */
	if ((uint32_t)(sel & ~7) + 7 > tlimit)
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3);
	la = tbase + (sel & ~7);
	r = x86_read_lin(cpu, la, &lo, 4);
	if (!r)
		r = x86_read_lin(cpu, la + 4, &hi, 4);
	if (r)
		return r;
	attr = ((hi >> 8) & 0xff) | ((hi >> 8) & 0xf000);
	if (!(attr & X86_SEG_S))
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3);
	if (seg == X86_SS) {
		/* Writable data only. */
		if ((attr & 0xa) != 0x2)
			return x86_raise(cpu, X86_EXC_GP, true, sel & ~3);
	} else if ((attr & 0xa) == 0x8) {
		/* Execute-only code is not readable. */
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3);
	}
	r = x86_seg_priv_check(cpu, seg, sel, attr); /* segment.c */
	if (r)
		return r;
	if (!(attr & X86_SEG_P))
		return x86_raise(cpu, seg == X86_SS ? X86_EXC_SS : X86_EXC_NP, true, sel & ~3);
	limit = (lo & 0xffff) | (hi & 0xf0000);
	if (attr & X86_SEG_G)
		limit = (limit << 12) | 0xfff;
	s->sel = sel;
	s->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
	s->limit = limit;
	s->attr = attr;
	if (seg == X86_SS || seg == X86_CS)
		x86_update_mode(cpu);
	return 0;
}
