/*
 * Descriptor tables and segment privilege rules (SDM Vol. 3 chapters 3
 * and 5): descriptor reads for every table-driven load, the privilege
 * checks of MOV/POP Sreg, and the implicit supervisor accesses used for
 * tables, the TSS and interrupt stacks.
 */
#include "cpu/x86/system.h"

int x86_sys_read(struct x86_cpu *cpu, uint64_t la, void *buf, unsigned len)
{
	uint8_t old = cpu->implicit_sv;
	int rc;

	if (cpu->mode != X86_MODE_LONG64)
		la = (uint32_t)la;
	cpu->implicit_sv = 1;
	rc = x86_read_lin(cpu, la, buf, len);
	cpu->implicit_sv = old;
	return rc;
}

int x86_sys_write(struct x86_cpu *cpu, uint64_t la, const void *buf, unsigned len)
{
	uint8_t old = cpu->implicit_sv;
	int rc;

	if (cpu->mode != X86_MODE_LONG64)
		la = (uint32_t)la;
	cpu->implicit_sv = 1;
	rc = x86_write_lin(cpu, la, buf, len);
	cpu->implicit_sv = old;
	return rc;
}

static const struct x86_seg *table_of(const struct x86_cpu *cpu, uint16_t sel,
				      struct x86_seg *gdt)
{
	if (sel & 4)
		return &cpu->ldtr;
	gdt->base = cpu->gdtr.base;
	gdt->limit = cpu->gdtr.limit;
	gdt->attr = X86_SEG_P;
	return gdt;
}

int x86_desc_read(struct x86_cpu *cpu, uint16_t sel, uint32_t d[2], unsigned vector,
		  uint32_t ext)
{
	struct x86_seg g;
	const struct x86_seg *t = table_of(cpu, sel, &g);

	/* The selector is guest data: the whole descriptor must lie inside the
	 * table (an unusable LDT has limit 0 and attr 0). */
	if (!(t->attr & X86_SEG_P) || (uint32_t)(sel & ~7u) + 7 > t->limit)
		return x86_raise(cpu, vector, true, (sel & ~3u) | ext);
	return x86_sys_read(cpu, t->base + (sel & ~7u), d, 8);
}

int x86_desc_write_hi(struct x86_cpu *cpu, uint16_t sel, uint32_t hi)
{
	struct x86_seg g;
	const struct x86_seg *t = table_of(cpu, sel, &g);

	return x86_sys_write(cpu, t->base + (sel & ~7u) + 4, &hi, 4);
}

void x86_desc_unpack(const uint32_t d[2], uint16_t sel, struct x86_seg *s)
{
	uint32_t lo = d[0], hi = d[1], limit = (lo & 0xffff) | (hi & 0xf0000);
	uint16_t attr = ((hi >> 8) & 0xff) | ((hi >> 8) & 0xf000);

	if (attr & X86_SEG_G)
		limit = (limit << 12) | 0xfff;
	s->sel = sel;
	s->attr = attr;
	s->limit = limit;
	s->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
}

int x86_seg_priv_check(struct x86_cpu *cpu, unsigned seg, uint16_t sel, uint16_t attr)
{
	unsigned rpl = sel & 3, dpl = X86_SEG_DPL(attr), cpl = cpu->cpl;

	if (seg == X86_SS) {
		/* The stack segment must be at exactly the current privilege. */
		if (rpl != cpl || dpl != cpl)
			return x86_raise(cpu, X86_EXC_GP, true, sel & ~3u);
		return 0;
	}
	/* Data and non-conforming code: both CPL and RPL must reach DPL. */
	if ((!(attr & 8) || !(attr & 4)) && (rpl > dpl || cpl > dpl))
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3u);
	return 0;
}

int x86_far_cs_check(struct x86_cpu *cpu, uint16_t sel, uint16_t attr)
{
	unsigned rpl = sel & 3, dpl = X86_SEG_DPL(attr);
	bool conforming = attr & 4;

	/* sel and attr come from the guest's far pointer and descriptor. */
	if (rpl > cpu->cpl || (conforming ? dpl > cpu->cpl : dpl != cpu->cpl) ||
	    ((cpu->efer & X86_EFER_LMA) && (attr & X86_SEG_L) && (attr & X86_SEG_DB)))
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3u);
	return 0;
}

void x86_seg_null_outer(struct x86_cpu *cpu)
{
	static const unsigned segs[] = { X86_ES, X86_DS, X86_FS, X86_GS };
	unsigned i;

	for (i = 0; i < 4; i++) {
		struct x86_seg *s = &cpu->seg[segs[i]];
		bool conforming_code = (s->attr & X86_SEG_S) && (s->attr & 0xc) == 0xc;

		if ((s->attr & X86_SEG_S) && !conforming_code && X86_SEG_DPL(s->attr) < cpu->cpl) {
			s->sel = 0;
			s->attr = 0;
			if (cpu->mode != X86_MODE_LONG64)
				s->base = 0;
		}
	}
}
