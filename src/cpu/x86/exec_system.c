/*
 * Privileged and system instructions: MOV CR/DR, descriptor-table
 * registers, LLDT/LTR, LMSW/SMSW/CLTS, INVLPG, INVD/WBINVD, RDMSR/WRMSR,
 * SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, RDTSCP, STAC/CLAC, IRET, far
 * pointer loads (LDS LES LSS LFS LGS), LAR/LSL/VERR/VERW.
 *
 * Every handler here validates guest-supplied selectors and values before
 * changing state, and changes state only after its last possible fault.
 * Not modelled (documented): task switches (IRET with NT is #GP),
 * virtual-8086 mode (IRET to VM=1 is #GP), DR breakpoints (DRs are stored
 * only), MOV CR with mod != 3 decodes a memory form (real CPUs ignore mod).
 */
#include "cpu/x86/system.h"

#define CPL0_OR_GP(cpu)                                                                          \
	do {                                                                                       \
		if ((cpu)->cpl != 0)                                                               \
			return x86_gp0(cpu);                                                       \
	} while (0)

static bool real_mode(const struct x86_cpu *cpu)
{
	return !(cpu->cr0 & X86_CR0_PE);
}

static void seg_flat(struct x86_seg *s, uint16_t sel, uint16_t attr)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffffu;
	s->attr = attr;
}

/* ---------------- control and debug registers ---------------- */

static int h_mov_from_cr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned w = cpu->mode == X86_MODE_LONG64 ? 8 : 4;
	uint64_t v;

	CPL0_OR_GP(cpu);
	switch (in->reg) {
	case 0: v = cpu->cr0; break;
	case 2: v = cpu->cr2; break;
	case 3: v = cpu->cr3; break;
	case 4: v = cpu->cr4; break;
	case 8:
		v = cpu->mem.cr8_read ? cpu->mem.cr8_read(cpu->opaque) : cpu->cr8;
		break;
	default: return x86_ud(cpu);
	}
	x86_setreg(cpu, in->rm, w, v);
	return 0;
}

static int h_mov_to_cr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned w = cpu->mode == X86_MODE_LONG64 ? 8 : 4;
	uint64_t v = x86_getreg(cpu, in->rm, w);

	CPL0_OR_GP(cpu);
	switch (in->reg) {
	case 0: return x86_write_cr0(cpu, v);
	case 2: cpu->cr2 = v; return 0;
	case 3: return x86_write_cr3(cpu, v);
	case 4: return x86_write_cr4(cpu, v);
	case 8:
		/* Only TPR[7:4] exists; the rest is reserved. */
		if (v > 15)
			return x86_gp0(cpu);
		if (cpu->mem.cr8_write)
			cpu->mem.cr8_write(cpu->opaque, (uint8_t)v);
		cpu->cr8 = v;
		return 0;
	}
	return x86_ud(cpu);
}

static int dr_index(struct x86_cpu *cpu, unsigned r, int *rc)
{
	*rc = 0;
	if (r > 7)
		*rc = x86_ud(cpu);
	else if (r == 4 || r == 5) {
		if (cpu->cr4 & X86_CR4_DE)
			*rc = x86_ud(cpu);
		r += 2;
	}
	return (int)r;
}

static int h_mov_dr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned w = cpu->mode == X86_MODE_LONG64 ? 8 : 4;
	int rc, r;

	CPL0_OR_GP(cpu);
	r = dr_index(cpu, in->reg, &rc);
	if (rc)
		return rc;
	if (in->op == 0x21) {
		x86_setreg(cpu, in->rm, w, cpu->dr[r]);
		return 0;
	}
	{
		uint64_t v = x86_getreg(cpu, in->rm, w);

		if (r >= 6 && (v >> 32))
			return x86_gp0(cpu);
		if (r == 6)
			v = (v & 0x0000e00f) | 0xffff0ff0;
		else if (r == 7)
			v = (v & 0xffff2bff) | 0x400;
		cpu->dr[r] = v;
	}
	return 0;
}

static int h_clts(struct x86_cpu *cpu, const struct x86_insn *in)
{
	CPL0_OR_GP(cpu);
	cpu->cr0 &= ~X86_CR0_TS;
	return 0;
}

static int h_priv_nop(struct x86_cpu *cpu, const struct x86_insn *in)
{
	CPL0_OR_GP(cpu); /* INVD, WBINVD: no caches to manage */
	return 0;
}

static int h_smsw(struct x86_cpu *cpu, const struct x86_insn *in)
{
	if (in->mod == 3) {
		x86_setreg(cpu, in->rm, in->opsize, cpu->cr0);
		return 0;
	}
	return x86_st(cpu, in->seg, x86_ea(cpu, in), 2, (uint16_t)cpu->cr0);
}

static int h_lmsw(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc;

	CPL0_OR_GP(cpu);
	if (in->mod == 3)
		v = (uint16_t)cpu->gpr[in->rm];
	else if ((rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), 2, &v)))
		return rc;
	/* Only PE MP EM TS; PE can be set but not cleared. */
	v = (cpu->cr0 & ~0xeull) | (v & 0xf) | (cpu->cr0 & X86_CR0_PE);
	return x86_write_cr0(cpu, v);
}

/* ---------------- descriptor-table registers ---------------- */

/* 0F 01 /0 SGDT, /1 SIDT (memory forms) */
static int h_sdt(struct x86_cpu *cpu, const struct x86_insn *in)
{
	const struct x86_dtr *d = in->reg == 0 ? &cpu->gdtr : &cpu->idtr;
	uint8_t buf[10];
	unsigned n = cpu->mode == X86_MODE_LONG64 ? 10 : 6;

	memcpy(buf, &d->limit, 2);
	memcpy(buf + 2, &d->base, 8);
	return x86_write_mem(cpu, in->seg, x86_ea(cpu, in), buf, n);
}

/* 0F 01 /2 LGDT, /3 LIDT */
static int h_ldt_reg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct x86_dtr *d = in->reg == 2 ? &cpu->gdtr : &cpu->idtr;
	uint8_t buf[10] = { 0 };
	uint64_t base = 0;
	unsigned n = cpu->mode == X86_MODE_LONG64 ? 10 : 6;
	int rc;

	CPL0_OR_GP(cpu);
	rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), buf, n);
	if (rc)
		return rc;
	memcpy(&base, buf + 2, n - 2);
	if (n == 6 && in->opsize == 2)
		base &= 0xffffff;
	/* A non-canonical table base would fault later: refuse it now. */
	if (n == 10 && (uint64_t)((int64_t)(base << 16) >> 16) != base)
		return x86_gp0(cpu);
	memcpy(&d->limit, buf, 2);
	d->base = base;
	return 0;
}

static int h_sldt_str(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint16_t sel = in->reg == 0 ? cpu->ldtr.sel : cpu->tr.sel;

	if (real_mode(cpu))
		return x86_ud(cpu);
	if (in->mod == 3) {
		x86_setreg(cpu, in->rm, in->opsize, sel);
		return 0;
	}
	return x86_st(cpu, in->seg, x86_ea(cpu, in), 2, sel);
}

static int read_sel(struct x86_cpu *cpu, const struct x86_insn *in, uint16_t *sel)
{
	uint64_t v;
	int rc;

	if (in->mod == 3) {
		*sel = (uint16_t)cpu->gpr[in->rm];
		return 0;
	}
	rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), 2, &v);
	*sel = (uint16_t)v;
	return rc;
}

/* 0F 00 /2 LLDT, /3 LTR: system descriptors from the GDT (16 bytes in
 * long mode). */
static int h_lldt_ltr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool ltr = in->reg == 3, lm = (cpu->efer & X86_EFER_LMA) != 0;
	struct x86_seg s;
	uint32_t d[2], up[2] = { 0, 0 };
	uint16_t sel;
	unsigned type;
	int rc;

	if (real_mode(cpu))
		return x86_ud(cpu);
	CPL0_OR_GP(cpu);
	rc = read_sel(cpu, in, &sel);
	if (rc)
		return rc;
	if (!(sel & ~3u)) {
		if (ltr)
			return x86_gp0(cpu);
		cpu->ldtr = (struct x86_seg){ .sel = sel };
		return 0;
	}
	/* sel is guest data: GDT only, right type, inside the table. */
	if (sel & 4)
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3u);
	rc = x86_desc_read(cpu, sel, d, X86_EXC_GP, 0);
	if (rc)
		return rc;
	x86_desc_unpack(d, sel, &s);
	type = s.attr & 0x1f;
	if (ltr ? (type != 0x9 && (lm || type != 0x1)) : type != 0x2)
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3u);
	if (!(s.attr & X86_SEG_P))
		return x86_raise(cpu, X86_EXC_NP, true, sel & ~3u);
	if (lm) {
		if ((uint32_t)(sel & ~7u) + 15 > cpu->gdtr.limit)
			return x86_raise(cpu, X86_EXC_GP, true, sel & ~3u);
		rc = x86_sys_read(cpu, cpu->gdtr.base + (sel & ~7u) + 8, up, 8);
		if (rc)
			return rc;
		s.base |= (uint64_t)up[0] << 32;
	}
	if (ltr) {
		/* Mark the TSS busy in the GDT, as the processor does. */
		rc = x86_desc_write_hi(cpu, sel, d[1] | (2u << 8));
		if (rc)
			return rc;
		s.attr |= 2;
		cpu->tr = s;
	} else {
		cpu->ldtr = s;
	}
	return 0;
}

/* LAR, LSL, VERR, VERW: probe a descriptor without faulting on it. */
static int probe(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s, uint32_t d[2], bool *ok)
{
	struct x86_seg g = { .base = cpu->gdtr.base, .limit = cpu->gdtr.limit, .attr = X86_SEG_P };
	const struct x86_seg *t = (sel & 4) ? &cpu->ldtr : &g;

	*ok = false;
	if (!(sel & ~3u) || !(t->attr & X86_SEG_P) || (uint32_t)(sel & ~7u) + 7 > t->limit)
		return 0;
	{
		int rc = x86_sys_read(cpu, t->base + (sel & ~7u), d, 8);

		if (rc)
			return rc;
	}
	x86_desc_unpack(d, sel, s);
	*ok = true;
	return 0;
}

static bool priv_ok(const struct x86_cpu *cpu, uint16_t sel, uint16_t attr)
{
	bool conforming = (attr & X86_SEG_S) && (attr & 0xc) == 0xc;

	return conforming || (X86_SEG_DPL(attr) >= cpu->cpl && X86_SEG_DPL(attr) >= (sel & 3));
}

static int h_lar_lsl_ver(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool lm = (cpu->efer & X86_EFER_LMA) != 0, ok;
	struct x86_seg s;
	uint32_t d[2];
	uint16_t sel;
	int rc;

	if (real_mode(cpu))
		return x86_ud(cpu);
	rc = read_sel(cpu, in, &sel);
	if (!rc)
		rc = probe(cpu, sel, &s, d, &ok);
	if (rc)
		return rc;
	if (ok) {
		unsigned type = s.attr & 0x1f;

		switch (in->map == X86_MAP_0F && in->op == 0x00 ? in->reg : in->op) {
		case 4: /* VERR: readable code or data */
			ok = (s.attr & X86_SEG_S) && (s.attr & 0xa) != 0x8 && priv_ok(cpu, sel, s.attr);
			break;
		case 5: /* VERW: writable data */
			ok = (s.attr & X86_SEG_S) && (s.attr & 0xa) == 0x2 && priv_ok(cpu, sel, s.attr);
			break;
		case 0x02: /* LAR */
			ok = (type & 0x10) ? true
					   : lm ? (type == 2 || type == 9 || type == 0xb || type == 0xc)
						: (type && type != 8 && type != 0xa && type != 0xd &&
						   type != 0xe && type != 0xf);
			ok = ok && priv_ok(cpu, sel, s.attr);
			break;
		default: /* 0x03 LSL */
			ok = (type & 0x10) ? true
					   : lm ? (type == 2 || type == 9 || type == 0xb)
						: (type == 1 || type == 2 || type == 3 || type == 9 ||
						   type == 0xb);
			ok = ok && priv_ok(cpu, sel, s.attr);
			break;
		}
	}
	x86_flags_set(cpu, X86_ZF, ok ? X86_ZF : 0);
	if (ok && in->map == X86_MAP_0F && in->op == 0x02)
		x86_setreg(cpu, in->reg, in->opsize == 2 ? 2 : 4, d[1] & 0x00f0ff00u);
	else if (ok && in->map == X86_MAP_0F && in->op == 0x03)
		x86_setreg(cpu, in->reg, in->opsize == 2 ? 2 : 4, s.limit);
	return 0;
}

/* ---------------- 0F 01 register forms ---------------- */

static int h_0f01_reg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	switch (in->modrm) {
	case 0xca: /* CLAC */
	case 0xcb: /* STAC */
		if (cpu->cpl != 0)
			return x86_ud(cpu);
		if (in->modrm == 0xcb)
			cpu->rflags |= X86_AC;
		else
			cpu->rflags &= ~(uint64_t)X86_AC;
		return 0;
	case 0xf8: /* SWAPGS */
		if (cpu->mode != X86_MODE_LONG64)
			return x86_ud(cpu);
		CPL0_OR_GP(cpu);
		{
			uint64_t t = cpu->seg[X86_GS].base;

			cpu->seg[X86_GS].base = cpu->kernel_gs_base;
			cpu->kernel_gs_base = t;
		}
		return 0;
	case 0xf9: { /* RDTSCP */
		uint64_t t;

		if ((cpu->cr4 & X86_CR4_TSD) && cpu->cpl != 0)
			return x86_gp0(cpu);
		t = x86_tsc_now(cpu);

		cpu->gpr[X86_RAX] = (uint32_t)t;
		cpu->gpr[X86_RDX] = t >> 32;
		cpu->gpr[X86_RCX] = (uint32_t)cpu->tsc_aux;
		return 0;
	}
	}
	return x86_ud(cpu); /* VMX, MONITOR/MWAIT, XGETBV, ...: not offered */
}

static int h_invlpg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t ea = x86_ea(cpu, in), la;

	CPL0_OR_GP(cpu);
	if (cpu->mode == X86_MODE_LONG64)
		la = in->seg >= X86_FS ? ea + cpu->seg[in->seg].base : ea;
	else
		la = (uint32_t)(cpu->seg[in->seg].base + ea);
	x86_tlb_flush_page(cpu, la);
	return 0;
}

/* ---------------- MSRs ---------------- */

static int h_rdmsr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc;

	CPL0_OR_GP(cpu);
	rc = x86_msr_read(cpu, (uint32_t)cpu->gpr[X86_RCX], &v);
	if (rc)
		return rc;
	cpu->gpr[X86_RAX] = (uint32_t)v;
	cpu->gpr[X86_RDX] = v >> 32;
	return 0;
}

static int h_wrmsr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	CPL0_OR_GP(cpu);
	return x86_msr_write(cpu, (uint32_t)cpu->gpr[X86_RCX],
			     (uint32_t)cpu->gpr[X86_RAX] | cpu->gpr[X86_RDX] << 32);
}

/* ---------------- fast system calls ---------------- */

static int h_syscall(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)(cpu->star >> 32);

	if (cpu->mode != X86_MODE_LONG64 || !(cpu->efer & X86_EFER_SCE))
		return x86_ud(cpu);
	cpu->gpr[X86_RCX] = cpu->rip;
	cpu->gpr[X86_R11] = x86_get_rflags(cpu) & ~(uint64_t)X86_RF;
	x86_set_rflags(cpu, cpu->gpr[X86_R11] & ~(cpu->sfmask | X86_RF));
	seg_flat(&cpu->seg[X86_CS], sel & 0xfffc, X86_SEG_CODE64);
	seg_flat(&cpu->seg[X86_SS], (uint16_t)(sel + 8), X86_SEG_DATA32);
	cpu->rip = cpu->lstar;
	x86_update_mode(cpu);
	return 0;
}

static int h_sysret(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)(cpu->star >> 48);
	bool q = in->opsize == 8;

	if (cpu->mode != X86_MODE_LONG64 || !(cpu->efer & X86_EFER_SCE))
		return x86_ud(cpu);
	CPL0_OR_GP(cpu);
	/* RCX is guest data: a non-canonical return address is #GP at CPL 0. */
	if (q && (uint64_t)((int64_t)(cpu->gpr[X86_RCX] << 16) >> 16) != cpu->gpr[X86_RCX])
		return x86_gp0(cpu);
	x86_set_rflags(cpu, (cpu->gpr[X86_R11] & 0x3c7fd7) | 2);
	if (q)
		seg_flat(&cpu->seg[X86_CS], (uint16_t)((sel + 16) | 3), X86_SEG_CODE64 | 0x60);
	else
		seg_flat(&cpu->seg[X86_CS], sel | 3, X86_SEG_CODE32 | 0x60);
	seg_flat(&cpu->seg[X86_SS], (uint16_t)((sel + 8) | 3), X86_SEG_DATA32 | 0x60);
	cpu->rip = q ? cpu->gpr[X86_RCX] : (uint32_t)cpu->gpr[X86_RCX];
	x86_update_mode(cpu);
	return 0;
}

static int h_sysenter(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool lm = (cpu->efer & X86_EFER_LMA) != 0;
	uint16_t sel = (uint16_t)cpu->sysenter_cs & 0xfffc;

	if (real_mode(cpu) || !sel)
		return x86_gp0(cpu);
	x86_set_rflags(cpu, x86_get_rflags(cpu) & ~(uint64_t)(X86_VM | X86_IF | X86_RF));
	seg_flat(&cpu->seg[X86_CS], sel, lm ? X86_SEG_CODE64 : X86_SEG_CODE32);
	seg_flat(&cpu->seg[X86_SS], (uint16_t)(sel + 8), X86_SEG_DATA32);
	cpu->gpr[X86_RSP] = lm ? cpu->sysenter_esp : (uint32_t)cpu->sysenter_esp;
	cpu->rip = lm ? cpu->sysenter_eip : (uint32_t)cpu->sysenter_eip;
	x86_update_mode(cpu);
	return 0;
}

static int h_sysexit(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)cpu->sysenter_cs & 0xfffc;
	bool q = in->opsize == 8;

	if (real_mode(cpu) || cpu->cpl != 0 || !sel)
		return x86_gp0(cpu);
	if (q) {
		seg_flat(&cpu->seg[X86_CS], (uint16_t)((sel + 32) | 3), X86_SEG_CODE64 | 0x60);
		seg_flat(&cpu->seg[X86_SS], (uint16_t)((sel + 40) | 3), X86_SEG_DATA32 | 0x60);
		cpu->rip = cpu->gpr[X86_RDX];
		cpu->gpr[X86_RSP] = cpu->gpr[X86_RCX];
	} else {
		seg_flat(&cpu->seg[X86_CS], (uint16_t)((sel + 16) | 3), X86_SEG_CODE32 | 0x60);
		seg_flat(&cpu->seg[X86_SS], (uint16_t)((sel + 24) | 3), X86_SEG_DATA32 | 0x60);
		cpu->rip = (uint32_t)cpu->gpr[X86_RDX];
		cpu->gpr[X86_RSP] = (uint32_t)cpu->gpr[X86_RCX];
	}
	x86_update_mode(cpu);
	return 0;
}

/* ---------------- IRET ---------------- */

static uint64_t iret_flags(struct x86_cpu *cpu, uint64_t cur, uint64_t v, unsigned w)
{
	unsigned iopl = (cur >> 12) & 3;
	uint64_t mask = X86_STATUS_FLAGS | X86_TF | X86_DF | X86_NT | X86_AC | X86_ID | X86_RF;

	if (cpu->cpl <= iopl || real_mode(cpu))
		mask |= X86_IF;
	if (cpu->cpl == 0)
		mask |= X86_IOPL | X86_VIF | X86_VIP;
	if (w == 2)
		mask &= 0xffff;
	return (cur & ~mask) | (v & mask);
}

static int h_iret(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool lm = (cpu->efer & X86_EFER_LMA) != 0;
	unsigned w = in->opsize, k, npop = 3, rpl;
	uint64_t m = x86_sp_mask(cpu), sp = cpu->gpr[X86_RSP] & m, v[5] = { 0 };
	uint64_t cur = x86_get_rflags(cpu), rip;
	struct x86_seg cs, ss = cpu->seg[X86_SS];
	uint32_t d[2];
	int rc;

	for (k = 0; k < 3; k++) {
		rc = x86_ld(cpu, X86_SS, (sp + k * w) & m, w, &v[k]);
		if (rc)
			return rc;
	}
	if (real_mode(cpu)) {
		x86_set_rflags(cpu, iret_flags(cpu, cur, v[2], w));
		cpu->seg[X86_CS].sel = (uint16_t)v[1];
		cpu->seg[X86_CS].base = (uint64_t)(uint16_t)v[1] << 4;
		cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | ((sp + 3 * w) & m);
		cpu->rip = w == 2 ? (uint16_t)v[0] : (uint32_t)v[0];
		cpu->nmi_blocked = 0;
		return 0;
	}
	/* Task returns and virtual-8086 returns are not modelled. */
	if ((cur & X86_NT) || (!lm && (v[2] & X86_VM) && cpu->cpl == 0 && w != 2))
		return x86_gp0(cpu);

	/* The popped CS is guest data: full descriptor and privilege checks. */
	rpl = v[1] & 3;
	if (!((uint16_t)v[1] & ~3u))
		return x86_gp0(cpu);
	rc = x86_desc_read(cpu, (uint16_t)v[1], d, X86_EXC_GP, 0);
	if (rc)
		return rc;
	x86_desc_unpack(d, (uint16_t)v[1], &cs);
	if (!(cs.attr & X86_SEG_S) || !(cs.attr & 8) || rpl < cpu->cpl ||
	    ((cs.attr & 4) ? X86_SEG_DPL(cs.attr) > rpl : X86_SEG_DPL(cs.attr) != rpl) ||
	    (lm && (cs.attr & X86_SEG_L) && (cs.attr & X86_SEG_DB)))
		return x86_raise(cpu, X86_EXC_GP, true, v[1] & 0xfffc);
	if (!(cs.attr & X86_SEG_P))
		return x86_raise(cpu, X86_EXC_NP, true, v[1] & 0xfffc);

	if (cpu->mode == X86_MODE_LONG64 || rpl > cpu->cpl) {
		uint16_t ssel;

		npop = 5;
		for (k = 3; k < 5; k++) {
			rc = x86_ld(cpu, X86_SS, (sp + k * w) & m, w, &v[k]);
			if (rc)
				return rc;
		}
		ssel = (uint16_t)v[4];
		if (!(ssel & ~3u)) {
			/* A null SS only for a 64-bit return to CPL 0-2. */
			if (!lm || !(cs.attr & X86_SEG_L) || rpl == 3)
				return x86_gp0(cpu);
			ss = (struct x86_seg){ .sel = ssel, .attr = (uint16_t)(0x93 | rpl << 5) };
		} else {
			if ((ssel & 3) != rpl)
				return x86_raise(cpu, X86_EXC_GP, true, ssel & ~3u);
			rc = x86_desc_read(cpu, ssel, d, X86_EXC_GP, 0);
			if (rc)
				return rc;
			x86_desc_unpack(d, ssel, &ss);
			if (!(ss.attr & X86_SEG_S) || (ss.attr & 0xa) != 0x2 ||
			    X86_SEG_DPL(ss.attr) != rpl)
				return x86_raise(cpu, X86_EXC_GP, true, ssel & ~3u);
			if (!(ss.attr & X86_SEG_P))
				return x86_raise(cpu, X86_EXC_SS, true, ssel & ~3u);
		}
	}
	rip = w == 2 ? (uint16_t)v[0] : w == 4 ? (uint32_t)v[0] : v[0];
	if (lm && (cs.attr & X86_SEG_L)) {
		if ((uint64_t)((int64_t)(rip << 16) >> 16) != rip)
			return x86_gp0(cpu);
	} else if (rip > cs.limit) {
		return x86_gp0(cpu);
	}

	/* Commit. */
	x86_set_rflags(cpu, iret_flags(cpu, cur, v[2], w));
	cpu->seg[X86_CS] = cs;
	if (npop == 5) {
		cpu->seg[X86_SS] = ss;
		cpu->gpr[X86_RSP] = w == 8 ? v[3] : w == 4 ? (uint32_t)v[3] : (uint16_t)v[3];
		if (!lm && (ss.attr & X86_SEG_DB) == 0)
			cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~0xffffull) | (uint16_t)v[3];
	} else {
		cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | ((sp + 3 * w) & m);
	}
	cpu->rip = rip;
	x86_update_mode(cpu);
	x86_seg_null_outer(cpu);
	cpu->nmi_blocked = 0;
	return 0;
}

/* ---------------- far pointer loads ---------------- */

/* C4 LES, C5 LDS, 0F B2 LSS, 0F B4 LFS, 0F B5 LGS; aux = segment */
static int h_lxs(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t ea = x86_ea(cpu, in), off, sel;
	int rc = x86_ld(cpu, in->seg, ea, in->opsize, &off);

	if (!rc)
		rc = x86_ld(cpu, in->seg, (ea + in->opsize) & x86_mask(in->adsize), 2, &sel);
	if (!rc)
		rc = x86_load_seg(cpu, in->aux, (uint16_t)sel);
	if (rc)
		return rc;
	x86_setreg(cpu, in->reg, in->opsize, off);
	return 0;
}

#define A X86_MP_ANY
#define M X86_F_MODRM
#define BR X86_F_BRANCH
#define MEM X86_F_MEM
#define REG X86_F_REG

static const struct x86_opdesc ops[] = {
	{ 1, 0x00, A, 0, 0, M, h_sldt_str },
	{ 1, 0x00, A, 1, 0, M, h_sldt_str },
	{ 1, 0x00, A, 2, 0, M | BR, h_lldt_ltr },
	{ 1, 0x00, A, 3, 0, M | BR, h_lldt_ltr },
	{ 1, 0x00, A, 4, 0, M, h_lar_lsl_ver },
	{ 1, 0x00, A, 5, 0, M, h_lar_lsl_ver },
	{ 1, 0x01, A, 0, 0, M | MEM, h_sdt },
	{ 1, 0x01, A, 1, 0, M | MEM, h_sdt },
	{ 1, 0x01, A, 2, 0, M | MEM | BR, h_ldt_reg },
	{ 1, 0x01, A, 3, 0, M | MEM | BR, h_ldt_reg },
	{ 1, 0x01, A, 4, 0, M, h_smsw },
	{ 1, 0x01, A, 6, 0, M | BR, h_lmsw },
	{ 1, 0x01, A, 7, 0, M | MEM | BR, h_invlpg },
	{ 1, 0x01, A, 0, 0, M | REG | BR, h_0f01_reg },
	{ 1, 0x01, A, 1, 0, M | REG | BR, h_0f01_reg },
	{ 1, 0x01, A, 2, 0, M | REG | BR, h_0f01_reg },
	{ 1, 0x01, A, 3, 0, M | REG | BR, h_0f01_reg },
	{ 1, 0x01, A, 7, 0, M | REG | BR, h_0f01_reg },
	{ 1, 0x02, A, -1, 0, M, h_lar_lsl_ver },
	{ 1, 0x03, A, -1, 0, M, h_lar_lsl_ver },
	{ 1, 0x05, A, -1, 0, BR, h_syscall },
	{ 1, 0x06, A, -1, 0, 0, h_clts },
	{ 1, 0x07, A, -1, 0, BR, h_sysret },
	{ 1, 0x08, A, -1, 0, 0, h_priv_nop },
	{ 1, 0x09, A, -1, 0, 0, h_priv_nop },
	{ 1, 0x20, A, -1, 0, M, h_mov_from_cr },
	{ 1, 0x21, A, -1, 0, M, h_mov_dr },
	{ 1, 0x22, A, -1, 0, M | BR, h_mov_to_cr },
	{ 1, 0x23, A, -1, 0, M, h_mov_dr },
	{ 1, 0x30, A, -1, 0, BR, h_wrmsr },
	{ 1, 0x32, A, -1, 0, 0, h_rdmsr },
	{ 1, 0x34, A, -1, 0, BR, h_sysenter },
	{ 1, 0x35, A, -1, 0, BR, h_sysexit },
	{ 0, 0xcf, A, -1, 0, BR, h_iret },
	{ 0, 0xc4, A, -1, X86_ES, M | MEM | X86_F_INV64, h_lxs },
	{ 0, 0xc5, A, -1, X86_DS, M | MEM | X86_F_INV64, h_lxs },
	{ 1, 0xb2, A, -1, X86_SS, M | MEM | BR, h_lxs },
	{ 1, 0xb4, A, -1, X86_FS, M | MEM, h_lxs },
	{ 1, 0xb5, A, -1, X86_GS, M | MEM, h_lxs },
};

const struct x86_optable x86_tab_system = { ops, sizeof(ops) / sizeof(ops[0]) };
