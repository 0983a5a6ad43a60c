/*
 * PUSH POP (registers, immediates, r/m, segment registers), PUSHA POPA,
 * PUSHF POPF, ENTER LEAVE, and the stack helpers.
 *
 * POPF rules, simplified as documented: IF changes only when CPL <= IOPL,
 * IOPL only at CPL 0; VM, RF, VIF, VIP are never changed by POPF.
 */
#include "cpu/x86/system.h"

int x86_push(struct x86_cpu *cpu, unsigned size, uint64_t v)
{
	uint64_t m = x86_sp_mask(cpu), sp = (cpu->gpr[X86_RSP] - size) & m;
	int rc = x86_st(cpu, X86_SS, sp, size, v);

	if (rc)
		return rc;
	cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | sp;
	return 0;
}

int x86_pop(struct x86_cpu *cpu, unsigned size, uint64_t *v)
{
	uint64_t m = x86_sp_mask(cpu), sp = cpu->gpr[X86_RSP] & m;
	int rc = x86_ld(cpu, X86_SS, sp, size, v);

	if (rc)
		return rc;
	cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | ((sp + size) & m);
	return 0;
}

static int h_push_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_push(cpu, in->opsize, cpu->gpr[in->reg]);
}

static int h_pop_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc = x86_pop(cpu, in->opsize, &v);

	if (rc)
		return rc;
	x86_setreg(cpu, in->reg, in->opsize, v);
	return 0;
}

static int h_push_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_push(cpu, in->opsize, in->imm);
}

static int h_push_rm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc = x86_rm_read(cpu, in, &v);

	if (rc)
		return rc;
	return x86_push(cpu, in->opsize, v);
}

/* POP r/m: the address is computed with RSP already incremented. */
static int h_pop_rm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v, old = cpu->gpr[X86_RSP];
	int rc = x86_pop(cpu, in->opsize, &v);

	if (rc)
		return rc;
	rc = x86_rm_write(cpu, in, v);
	if (rc)
		cpu->gpr[X86_RSP] = old;
	return rc;
}

/* aux = segment register */
static int h_push_seg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_push(cpu, in->opsize, cpu->seg[in->aux].sel);
}

static int h_pop_seg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v, old = cpu->gpr[X86_RSP];
	int rc = x86_pop(cpu, in->opsize, &v);

	if (rc)
		return rc;
	rc = x86_load_seg(cpu, in->aux, (uint16_t)v);
	if (rc)
		cpu->gpr[X86_RSP] = old;
	/* POP SS: interrupts wait one instruction (interrupt.c). */
	return !rc && in->aux == X86_SS ? X86_CONT_SHADOW : rc;
}

static int h_pusha(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t old = cpu->gpr[X86_RSP], sp = old;
	unsigned i;
	int rc;

	for (i = 0; i < 8; i++) {
		rc = x86_push(cpu, in->opsize, i == X86_RSP ? sp : cpu->gpr[i]);
		if (rc) {
			cpu->gpr[X86_RSP] = old;
			return rc;
		}
	}
	return 0;
}

static int h_popa(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t old = cpu->gpr[X86_RSP], v[8];
	int i, rc;

	for (i = 7; i >= 0; i--) {
		rc = x86_pop(cpu, in->opsize, &v[i]);
		if (rc) {
			cpu->gpr[X86_RSP] = old;
			return rc;
		}
	}
	for (i = 0; i < 8; i++)
		if (i != X86_RSP)
			x86_setreg(cpu, i, in->opsize, v[i]);
	return 0;
}

static int h_pushf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t f = x86_get_rflags(cpu) & ~(uint64_t)(X86_VM | X86_RF);

	return x86_push(cpu, in->opsize, f);
}

static int h_popf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v, cur, mask;
	unsigned iopl;
	int rc = x86_pop(cpu, in->opsize, &v);

	if (rc)
		return rc;
	cur = x86_get_rflags(cpu);
	iopl = (cur >> 12) & 3;
	mask = X86_STATUS_FLAGS | X86_TF | X86_DF | X86_NT | X86_AC | X86_ID;
	if (cpu->cpl <= iopl)
		mask |= X86_IF;
	if (cpu->cpl == 0)
		mask |= X86_IOPL;
	if (in->opsize == 2)
		mask &= 0xffff;
	x86_set_rflags(cpu, (cur & ~mask) | (v & mask));
	return 0;
}

static int h_enter(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, level = in->imm2 & 31, i;
	uint64_t old_sp = cpu->gpr[X86_RSP], old_bp = cpu->gpr[X86_RBP];
	uint64_t m = x86_sp_mask(cpu), frame, bp = old_bp, v;
	int rc = x86_push(cpu, size, old_bp);

	if (rc)
		return rc;
	frame = cpu->gpr[X86_RSP] & m;
	for (i = 1; i < level && !rc; i++) {
		bp = (bp - size) & m;
		rc = x86_ld(cpu, X86_SS, bp, size, &v);
		if (!rc)
			rc = x86_push(cpu, size, v);
	}
	if (!rc && level)
		rc = x86_push(cpu, size, frame);
	if (!rc) {
		/* The final RSP must be a writable stack location too. */
		uint64_t nsp = (cpu->gpr[X86_RSP] - in->imm) & m;

		if (in->imm)
			rc = x86_ld(cpu, X86_SS, nsp, 1, &v);
		if (!rc) {
			cpu->gpr[X86_RSP] = (cpu->gpr[X86_RSP] & ~m) | nsp;
			x86_setreg(cpu, X86_RBP, size, frame);
			return 0;
		}
	}
	cpu->gpr[X86_RSP] = old_sp;
	cpu->gpr[X86_RBP] = old_bp;
	return rc;
}

static int h_leave(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t m = x86_sp_mask(cpu), old = cpu->gpr[X86_RSP], v;
	int rc;

	cpu->gpr[X86_RSP] = (old & ~m) | (cpu->gpr[X86_RBP] & m);
	rc = x86_pop(cpu, in->opsize, &v);
	if (rc) {
		cpu->gpr[X86_RSP] = old;
		return rc;
	}
	x86_setreg(cpu, X86_RBP, in->opsize, v);
	return 0;
}

#define M X86_F_MODRM
#define A X86_MP_ANY
#define D X86_F_DEF64
#define PR(r) { 0, 0x50 + (r), A, -1, 0, X86_F_OPREG | D, h_push_r }, \
	      { 0, 0x58 + (r), A, -1, 0, X86_F_OPREG | D, h_pop_r }

static const struct x86_opdesc ops[] = {
	PR(0), PR(1), PR(2), PR(3), PR(4), PR(5), PR(6), PR(7),
	{ 0, 0x68, A, -1, 0, X86_F_IMMZ | D, h_push_imm },
	{ 0, 0x6a, A, -1, 0, X86_F_IMM8 | D, h_push_imm },
	{ 0, 0xff, A, 6, 0, M | D, h_push_rm },
	{ 0, 0x8f, A, 0, 0, M | D, h_pop_rm },
	{ 0, 0x06, A, -1, X86_ES, X86_F_INV64, h_push_seg },
	{ 0, 0x0e, A, -1, X86_CS, X86_F_INV64, h_push_seg },
	{ 0, 0x16, A, -1, X86_SS, X86_F_INV64, h_push_seg },
	{ 0, 0x1e, A, -1, X86_DS, X86_F_INV64, h_push_seg },
	{ 0, 0x07, A, -1, X86_ES, X86_F_INV64, h_pop_seg },
	{ 0, 0x17, A, -1, X86_SS, X86_F_INV64, h_pop_seg },
	{ 0, 0x1f, A, -1, X86_DS, X86_F_INV64, h_pop_seg },
	{ 1, 0xa0, A, -1, X86_FS, D, h_push_seg },
	{ 1, 0xa8, A, -1, X86_GS, D, h_push_seg },
	{ 1, 0xa1, A, -1, X86_FS, D, h_pop_seg },
	{ 1, 0xa9, A, -1, X86_GS, D, h_pop_seg },
	{ 0, 0x60, A, -1, 0, X86_F_INV64, h_pusha },
	{ 0, 0x61, A, -1, 0, X86_F_INV64, h_popa },
	{ 0, 0x9c, A, -1, 0, D, h_pushf },
	{ 0, 0x9d, A, -1, 0, D | X86_F_BRANCH, h_popf },
	{ 0, 0xc8, A, -1, 0, X86_F_IMM16 | X86_F_ENTER | D, h_enter },
	{ 0, 0xc9, A, -1, 0, D, h_leave },
};

const struct x86_optable x86_tab_stack = { ops, sizeof(ops) / sizeof(ops[0]) };
