/*
 * Jcc, JMP, CALL, RET (near and far), LOOP/LOOPE/LOOPNE/JrCXZ, INT3/INT/INTO.
 *
 * Part 1 simplifications (documented): no CS limit checks on targets;
 * non-canonical targets of indirect JMP/CALL and RET are #GP(0) at the
 * branch (relative targets are not checked); far transfers in protected mode load the code descriptor with
 * the basic checks only (no call gates, no privilege change); INT n, INT3,
 * INT1 and INTO stop with that vector and RIP after the instruction, as the
 * trap's return address (part 2 delivers them through the IDT).
 */
#include "cpu/x86/system.h"

static inline uint64_t rel_target(const struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_ip_wrap(in, cpu->rip + in->imm);
}

/* 64-bit mode: a non-canonical target faults on the branch itself. */
static inline bool bad_target(const struct x86_cpu *cpu, uint64_t t)
{
	return cpu->mode == X86_MODE_LONG64 && (uint64_t)((int64_t)(t << 16) >> 16) != t;
}

static int h_jcc(struct x86_cpu *cpu, const struct x86_insn *in)
{
	if (x86_cond(cpu, in->aux))
		cpu->rip = rel_target(cpu, in);
	return 0;
}

static int h_jmp_rel(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->rip = rel_target(cpu, in);
	return 0;
}

static int h_call_rel(struct x86_cpu *cpu, const struct x86_insn *in)
{
	int rc = x86_push(cpu, in->opsize, cpu->rip);

	if (rc)
		return rc;
	cpu->rip = rel_target(cpu, in);
	return 0;
}

static int h_call_ind(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t t;
	int rc = x86_rm_read(cpu, in, &t);

	if (rc)
		return rc;
	if (bad_target(cpu, t))
		return x86_gp0(cpu);
	rc = x86_push(cpu, in->opsize, cpu->rip);
	if (rc)
		return rc;
	cpu->rip = t;
	return 0;
}

static int h_jmp_ind(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t t;
	int rc = x86_rm_read(cpu, in, &t);

	if (rc)
		return rc;
	if (bad_target(cpu, t))
		return x86_gp0(cpu);
	cpu->rip = t;
	return 0;
}

static int h_ret(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t t, m = x86_sp_mask(cpu), old = cpu->gpr[X86_RSP];
	int rc = x86_pop(cpu, in->opsize, &t);

	if (rc)
		return rc;
	if (bad_target(cpu, t)) {
		cpu->gpr[X86_RSP] = old;
		return x86_gp0(cpu);
	}
	if (in->op == 0xc2)
		cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | ((cpu->gpr[X86_RSP] + in->imm) & m);
	cpu->rip = t;
	return 0;
}

/* E0 LOOPNE, E1 LOOPE, E2 LOOP, E3 JrCXZ; the counter has the address size. */
static int h_loop(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned as = in->adsize;
	uint64_t c = x86_getreg(cpu, X86_RCX, as);
	bool take;

	if (in->op == 0xe3) {
		take = c == 0;
	} else {
		c = (c - 1) & x86_mask(as);
		x86_setreg(cpu, X86_RCX, as, c);
		take = c != 0;
		if (in->op == 0xe1)
			take = take && x86_cond(cpu, 4);
		else if (in->op == 0xe0)
			take = take && !x86_cond(cpu, 4);
	}
	if (take)
		cpu->rip = rel_target(cpu, in);
	return 0;
}

/* Load CS for a far transfer. Real mode: base = sel << 4. Protected mode:
 * a code descriptor, conforming or not, with the present check. */
static int load_cs(struct x86_cpu *cpu, uint16_t sel)
{
	uint64_t la;
	uint32_t lo, hi, limit;
	uint16_t attr;
	int rc;

	if (cpu->mode == X86_MODE_REAL16) {
		cpu->seg[X86_CS].sel = sel;
		cpu->seg[X86_CS].base = (uint64_t)sel << 4;
		return 0;
	}
	/* The selector is guest data: null or outside the table is #GP. */
	if ((sel & ~3) == 0)
		return x86_gp0(cpu);
	if ((uint32_t)(sel & ~7) + 7 > ((sel & 4) ? cpu->ldtr.limit : cpu->gdtr.limit))
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3);
	la = ((sel & 4) ? cpu->ldtr.base : cpu->gdtr.base) + (sel & ~7);
	rc = x86_read_lin(cpu, la, &lo, 4);
	if (!rc)
		rc = x86_read_lin(cpu, la + 4, &hi, 4);
	if (rc)
		return rc;
	attr = ((hi >> 8) & 0xff) | ((hi >> 8) & 0xf000);
	if (!(attr & X86_SEG_S) || !(attr & 8))
		return x86_raise(cpu, X86_EXC_GP, true, sel & ~3);
	rc = x86_far_cs_check(cpu, sel, attr); /* segment.c: privilege rules */
	if (rc)
		return rc;
	if (!(attr & X86_SEG_P))
		return x86_raise(cpu, X86_EXC_NP, true, sel & ~3);
	limit = (lo & 0xffff) | (hi & 0xf0000);
	if (attr & X86_SEG_G)
		limit = (limit << 12) | 0xfff;
	cpu->seg[X86_CS].sel = (sel & ~3) | cpu->cpl;
	cpu->seg[X86_CS].base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
	cpu->seg[X86_CS].limit = limit;
	cpu->seg[X86_CS].attr = attr;
	x86_update_mode(cpu);
	return 0;
}

/* Far pointer operand: immediate (9A/EA) or m16:16/32/64 (FF /3, /5). */
static int far_ptr(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t *off,
		   uint16_t *sel)
{
	uint64_t ea, s = 0;
	int rc;

	if (in->map == X86_MAP_1B && (in->op == 0x9a || in->op == 0xea)) {
		*off = in->imm;
		*sel = in->imm2;
		return 0;
	}
	ea = x86_ea(cpu, in);
	rc = x86_ld(cpu, in->seg, ea, in->opsize, off);
	if (!rc)
		rc = x86_ld(cpu, in->seg, (ea + in->opsize) & x86_mask(in->adsize), 2, &s);
	*sel = (uint16_t)s;
	return rc;
}

static int h_jmp_far(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t off;
	uint16_t sel;
	int rc = far_ptr(cpu, in, &off, &sel);

	if (!rc)
		rc = load_cs(cpu, sel);
	if (rc)
		return rc;
	cpu->rip = off;
	return 0;
}

static int h_call_far(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct x86_seg old_cs = cpu->seg[X86_CS];
	uint64_t off, old_sp = cpu->gpr[X86_RSP];
	uint16_t sel;
	int rc = far_ptr(cpu, in, &off, &sel);

	if (rc)
		return rc;
	rc = x86_push(cpu, in->opsize, old_cs.sel);
	if (!rc)
		rc = x86_push(cpu, in->opsize, cpu->rip);
	if (!rc)
		rc = load_cs(cpu, sel);
	if (rc) {
		/* Undo: a fault leaves no partial update. */
		cpu->gpr[X86_RSP] = old_sp;
		cpu->seg[X86_CS] = old_cs;
		x86_update_mode(cpu);
		return rc;
	}
	cpu->rip = off;
	return 0;
}

static int h_ret_far(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t old_sp = cpu->gpr[X86_RSP], off, sel, m = x86_sp_mask(cpu);
	int rc = x86_pop(cpu, in->opsize, &off);

	if (!rc)
		rc = x86_pop(cpu, in->opsize, &sel);
	if (!rc)
		rc = load_cs(cpu, (uint16_t)sel);
	if (rc) {
		cpu->gpr[X86_RSP] = old_sp;
		return rc;
	}
	if (in->op == 0xca)
		cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | ((cpu->gpr[X86_RSP] + in->imm) & m);
	cpu->rip = off;
	return 0;
}

/* Software interrupts are traps: they stop with RIP after the instruction
 * (the executor moves RIP back by the length on exceptions, so go one
 * instruction further first). */
static int h_int(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned vec;

	switch (in->op) {
	case 0xcc: vec = X86_EXC_BP; break;
	case 0xce:
		if (!x86_cond(cpu, 0))
			return 0;
		vec = X86_EXC_OF;
		break;
	case 0xf1: vec = X86_EXC_DB; break;
	default: vec = (uint8_t)in->imm; break;
	}
	cpu->rip += in->len;
	return x86_raise(cpu, vec, false, 0);
}

#define M X86_F_MODRM
#define A X86_MP_ANY
#define BR X86_F_BRANCH
#define JCC(k) { 0, 0x70 + (k), A, -1, k, X86_F_IMM8 | X86_F_F64 | BR, h_jcc }, \
	       { 1, 0x80 + (k), A, -1, k, X86_F_IMMZ | X86_F_F64 | BR, h_jcc }

static const struct x86_opdesc ops[] = {
	JCC(0), JCC(1), JCC(2), JCC(3), JCC(4), JCC(5), JCC(6), JCC(7),
	JCC(8), JCC(9), JCC(10), JCC(11), JCC(12), JCC(13), JCC(14), JCC(15),
	{ 0, 0xeb, A, -1, 0, X86_F_IMM8 | X86_F_F64 | BR, h_jmp_rel },
	{ 0, 0xe9, A, -1, 0, X86_F_IMMZ | X86_F_F64 | BR, h_jmp_rel },
	{ 0, 0xe8, A, -1, 0, X86_F_IMMZ | X86_F_F64 | BR, h_call_rel },
	{ 0, 0xff, A, 2, 0, M | X86_F_F64 | BR, h_call_ind },
	{ 0, 0xff, A, 4, 0, M | X86_F_F64 | BR, h_jmp_ind },
	{ 0, 0xff, A, 3, 0, M | X86_F_MEM | BR, h_call_far },
	{ 0, 0xff, A, 5, 0, M | X86_F_MEM | BR, h_jmp_far },
	{ 0, 0x9a, A, -1, 0, X86_F_FARPTR | X86_F_INV64 | BR, h_call_far },
	{ 0, 0xea, A, -1, 0, X86_F_FARPTR | X86_F_INV64 | BR, h_jmp_far },
	{ 0, 0xc3, A, -1, 0, X86_F_F64 | BR, h_ret },
	{ 0, 0xc2, A, -1, 0, X86_F_IMM16 | X86_F_F64 | BR, h_ret },
	{ 0, 0xcb, A, -1, 0, BR, h_ret_far },
	{ 0, 0xca, A, -1, 0, X86_F_IMM16 | BR, h_ret_far },
	{ 0, 0xe0, A, -1, 0, X86_F_IMM8 | X86_F_F64 | BR, h_loop },
	{ 0, 0xe1, A, -1, 0, X86_F_IMM8 | X86_F_F64 | BR, h_loop },
	{ 0, 0xe2, A, -1, 0, X86_F_IMM8 | X86_F_F64 | BR, h_loop },
	{ 0, 0xe3, A, -1, 0, X86_F_IMM8 | X86_F_F64 | BR, h_loop },
	{ 0, 0xcc, A, -1, 0, BR, h_int },
	{ 0, 0xcd, A, -1, 0, X86_F_IMM8U | BR, h_int },
	{ 0, 0xce, A, -1, 0, X86_F_INV64 | BR, h_int },
	{ 0, 0xf1, A, -1, 0, BR, h_int },
};

const struct x86_optable x86_tab_control = { ops, sizeof(ops) / sizeof(ops[0]) };
