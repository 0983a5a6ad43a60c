/* MOV forms, MOVZX/MOVSX/MOVSXD, LEA, XCHG, CMPXCHG(8B/16B), XADD, BSWAP,
 * CMOVcc, SETcc, MOVBE, CBW/CWD families, LAHF/SAHF, XLAT. */
#include "cpu/x86/system.h"

static int h_mov_rm_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_rm_write(cpu, in, x86_getreg(cpu, in->reg, in->opsize));
}

static int h_mov_r_rm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc = x86_rm_read(cpu, in, &v);

	if (rc)
		return rc;
	x86_setreg(cpu, in->reg, in->opsize, v);
	return 0;
}

static int h_mov_rm_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_rm_write(cpu, in, in->imm);
}

static int h_mov_r_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	x86_setreg(cpu, in->reg, in->opsize, in->imm);
	return 0;
}

/* A0-A3: accumulator <-> [moffs] */
static int h_mov_moffs(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc;

	if (in->op & 2)
		return x86_st(cpu, in->seg, in->imm, in->opsize, x86_getreg(cpu, X86_RAX, in->opsize));
	rc = x86_ld(cpu, in->seg, in->imm, in->opsize, &v);
	if (rc)
		return rc;
	x86_setreg(cpu, X86_RAX, in->opsize, v);
	return 0;
}

static int h_mov_rm_sreg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned s = (in->modrm >> 3) & 7;
	uint64_t sel;

	if (s >= X86_NSEG)
		return x86_ud(cpu);
	sel = cpu->seg[s].sel;
	if (in->mod == 3) {
		/* Register destination: zero-extended to the operand size. */
		x86_setreg(cpu, in->rm, in->opsize == 2 ? 2 : in->opsize, sel);
		return 0;
	}
	return x86_st(cpu, in->seg, x86_ea(cpu, in), 2, sel);
}

static int h_mov_sreg_rm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned s = (in->modrm >> 3) & 7;
	uint64_t sel;
	int rc;

	if (s >= X86_NSEG || s == X86_CS)
		return x86_ud(cpu);
	if (in->mod == 3)
		sel = (uint16_t)cpu->gpr[in->rm];
	else if ((rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), 2, &sel)))
		return rc;
	rc = x86_load_seg(cpu, s, sel);
	/* MOV SS: interrupts wait one instruction (interrupt.c). */
	return !rc && s == X86_SS ? X86_CONT_SHADOW : rc;
}

static int h_lea(struct x86_cpu *cpu, const struct x86_insn *in)
{
	x86_setreg(cpu, in->reg, in->opsize, x86_ea(cpu, in));
	return 0;
}

/* MOVZX/MOVSX: aux = source size; bit 4 of aux = sign-extend. */
static int h_movx(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned ss = in->aux & 0xf;
	uint64_t v;
	int rc;

	if (in->mod == 3)
		v = x86_getreg(cpu, in->rm, ss);
	else if ((rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), ss, &v)))
		return rc;
	if (in->aux & 0x10)
		v = (uint64_t)x86_sext(v, ss);
	x86_setreg(cpu, in->reg, in->opsize, v);
	return 0;
}

static int h_xchg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct x86_insn l = *in;
	struct x86_rmw rmw;
	uint64_t d, s = x86_getreg(cpu, in->reg, in->opsize);
	int rc;

	/* XCHG with memory is always locked. */
	l.pfx |= X86_P_LOCK;
	do {
		rc = x86_rmw_read(cpu, &l, &rmw, &d);
		if (rc)
			return rc;
		rc = x86_rmw_write(cpu, &l, &rmw, d, s);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	x86_setreg(cpu, in->reg, in->opsize, d);
	return 0;
}

/* 90+r: XCHG r, rAX; plain 90 is NOP (and does not zero-extend EAX). */
static int h_xchg_ax(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t a, r;

	if (in->reg == 0)
		return 0;
	a = x86_getreg(cpu, X86_RAX, in->opsize);
	r = x86_getreg(cpu, in->reg, in->opsize);
	x86_setreg(cpu, X86_RAX, in->opsize, r);
	x86_setreg(cpu, in->reg, in->opsize, a);
	return 0;
}

static int h_cmpxchg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize;
	uint64_t a = x86_getreg(cpu, X86_RAX, size), s = x86_getreg(cpu, in->reg, size), d;
	uint64_t m = x86_mask(size);
	struct x86_rmw rmw;
	bool eq;
	int rc;

	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		eq = (d & m) == (a & m);
		if (in->mod == 3) {
			rc = 0;
			break;
		}
		/* Memory is written either way (the old value back on mismatch). */
		rc = x86_rmw_write(cpu, in, &rmw, d, eq ? s : d);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	x86_lazy(cpu, X86_LF_SUB, size, a, d, a - d);
	if (eq) {
		if (in->mod == 3)
			x86_setreg(cpu, in->rm, size, s);
	} else {
		x86_setreg(cpu, X86_RAX, size, d);
	}
	return 0;
}

static int h_cmpxchg8b(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool wide = in->rex & 8; /* CMPXCHG16B */
	unsigned half = wide ? 8 : 4, size = 2 * half;
	uint64_t m = x86_mask(half), la;
	uint64_t cmp_lo = cpu->gpr[X86_RAX] & m, cmp_hi = cpu->gpr[X86_RDX] & m;
	uint64_t new_lo = cpu->gpr[X86_RBX] & m, new_hi = cpu->gpr[X86_RCX] & m;
	uint64_t old[2] = { 0, 0 };
	bool eq;
	int rc, err;
	void *host;

	rc = x86_linear(cpu, in->seg, x86_ea(cpu, in), size, &la);
	if (rc)
		return rc;
	if (wide && (x86_ea(cpu, in) & 15))
		return x86_gp0(cpu);
	host = (in->pfx & X86_P_LOCK) ? x86_host_ptr_rw(cpu, la, size, &err) : NULL;
	if (host && !wide) {
		uint64_t exp = cmp_lo | cmp_hi << 32;

		eq = __atomic_compare_exchange_n((uint64_t *)host, &exp, new_lo | new_hi << 32,
						 false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		old[0] = (uint32_t)exp;
		old[1] = exp >> 32;
	} else if (host) {
		unsigned __int128 exp = cmp_lo | (unsigned __int128)cmp_hi << 64;
		unsigned __int128 nv = new_lo | (unsigned __int128)new_hi << 64;
		unsigned __int128 got = __sync_val_compare_and_swap((unsigned __int128 *)host, exp, nv);

		eq = got == exp;
		old[0] = (uint64_t)got;
		old[1] = (uint64_t)(got >> 64);
	} else {
		uint8_t buf[16];

		rc = x86_read_lin(cpu, la, buf, size);
		if (rc)
			return x86_ss_fault(cpu, in->seg, rc);
		memcpy(&old[0], buf, half);
		memcpy(&old[1], buf + half, half);
		eq = old[0] == cmp_lo && old[1] == cmp_hi;
		if (eq) {
			memcpy(buf, &new_lo, half);
			memcpy(buf + half, &new_hi, half);
		}
		rc = x86_write_lin(cpu, la, buf, size);
		if (rc)
			return x86_ss_fault(cpu, in->seg, rc);
	}
	x86_flags_set(cpu, X86_ZF, eq ? X86_ZF : 0);
	if (!eq) {
		x86_setreg(cpu, X86_RAX, half, old[0]);
		x86_setreg(cpu, X86_RDX, half, old[1]);
	}
	return 0;
}

static int h_xadd(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize;
	uint64_t s = x86_getreg(cpu, in->reg, size), d;
	struct x86_rmw rmw;
	int rc;

	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		if (in->mod == 3)
			break;
		rc = x86_rmw_write(cpu, in, &rmw, d, d + s);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	x86_setreg(cpu, in->reg, size, d);
	if (in->mod == 3)
		x86_setreg(cpu, in->rm, size, d + s);
	x86_lazy(cpu, X86_LF_ADD, size, d, s, d + s);
	return 0;
}

static int h_bswap(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v = cpu->gpr[in->reg];

	if (in->opsize == 8)
		cpu->gpr[in->reg] = __builtin_bswap64(v);
	else if (in->opsize == 4)
		cpu->gpr[in->reg] = __builtin_bswap32((uint32_t)v);
	else
		x86_setreg(cpu, in->reg, 2, 0); /* 16-bit BSWAP is undefined; hosts give 0 */
	return 0;
}

static int h_cmov(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc = x86_rm_read(cpu, in, &v);

	if (rc)
		return rc;
	if (x86_cond(cpu, in->aux))
		x86_setreg(cpu, in->reg, in->opsize, v);
	else if (in->opsize == 4)
		cpu->gpr[in->reg] = (uint32_t)cpu->gpr[in->reg]; /* zero-extends anyway */
	return 0;
}

static int h_setcc(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_rm_write(cpu, in, x86_cond(cpu, in->aux));
}

static int h_movbe(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize;
	uint64_t v;
	int rc;

	if (in->op == 0xf1) {
		v = x86_getreg(cpu, in->reg, size);
	} else {
		rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), size, &v);
		if (rc)
			return rc;
	}
	if (size == 8)
		v = __builtin_bswap64(v);
	else if (size == 4)
		v = __builtin_bswap32((uint32_t)v);
	else
		v = __builtin_bswap16((uint16_t)v);
	if (in->op == 0xf1)
		return x86_st(cpu, in->seg, x86_ea(cpu, in), size, v);
	x86_setreg(cpu, in->reg, size, v);
	return 0;
}

static int h_movsxd(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v;
	int rc;

	if (in->mod == 3)
		v = (uint32_t)cpu->gpr[in->rm];
	else if ((rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), 4, &v)))
		return rc;
	x86_setreg(cpu, in->reg, in->opsize, (uint64_t)(int64_t)(int32_t)v);
	return 0;
}

/* 98: CBW/CWDE/CDQE */
static int h_cbw(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned h = in->opsize / 2;

	x86_setreg(cpu, X86_RAX, in->opsize, (uint64_t)x86_sext(cpu->gpr[X86_RAX], h));
	return 0;
}

/* 99: CWD/CDQ/CQO */
static int h_cwd(struct x86_cpu *cpu, const struct x86_insn *in)
{
	int64_t a = x86_sext(cpu->gpr[X86_RAX], in->opsize);

	x86_setreg(cpu, X86_RDX, in->opsize, a < 0 ? ~0ull : 0);
	return 0;
}

static int h_sahf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	x86_flags_set(cpu, X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF,
		      (uint32_t)(cpu->gpr[X86_RAX] >> 8));
	return 0;
}

static int h_lahf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint32_t f = x86_status_flags(cpu) & (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF);

	*x86_r8p(cpu, 16) = (uint8_t)(f | 2);
	return 0;
}

static int h_xlat(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t off = cpu->gpr[X86_RBX] + (uint8_t)cpu->gpr[X86_RAX], v;
	int rc;

	off &= x86_mask(in->adsize);
	rc = x86_ld(cpu, in->seg, off, 1, &v);
	if (rc)
		return rc;
	x86_setreg(cpu, X86_RAX, 1, v);
	return 0;
}

#define M X86_F_MODRM
#define B X86_F_BYTE
#define A X86_MP_ANY
#define CC(k) { 1, 0x40 + (k), A, -1, k, M, h_cmov }, \
	      { 1, 0x90 + (k), A, -1, k, M | B, h_setcc }
#define R8(r) { 0, 0xb0 + (r), A, -1, 0, B | X86_F_OPREG | X86_F_IMM8U, h_mov_r_imm }, \
	      { 0, 0xb8 + (r), A, -1, 0, X86_F_OPREG | X86_F_IMMV, h_mov_r_imm }, \
	      { 0, 0x90 + (r), A, -1, 0, X86_F_OPREG, h_xchg_ax }, \
	      { 1, 0xc8 + (r), A, -1, 0, X86_F_OPREG, h_bswap }

static const struct x86_opdesc ops[] = {
	{ 0, 0x88, A, -1, 0, M | B, h_mov_rm_r },
	{ 0, 0x89, A, -1, 0, M, h_mov_rm_r },
	{ 0, 0x8a, A, -1, 0, M | B, h_mov_r_rm },
	{ 0, 0x8b, A, -1, 0, M, h_mov_r_rm },
	{ 0, 0xc6, A, 0, 0, M | B | X86_F_IMM8, h_mov_rm_imm },
	{ 0, 0xc7, A, 0, 0, M | X86_F_IMMZ, h_mov_rm_imm },
	{ 0, 0xa0, A, -1, 0, B | X86_F_MOFFS, h_mov_moffs },
	{ 0, 0xa1, A, -1, 0, X86_F_MOFFS, h_mov_moffs },
	{ 0, 0xa2, A, -1, 0, B | X86_F_MOFFS, h_mov_moffs },
	{ 0, 0xa3, A, -1, 0, X86_F_MOFFS, h_mov_moffs },
	{ 0, 0x8c, A, -1, 0, M, h_mov_rm_sreg },
	{ 0, 0x8e, A, -1, 0, M | X86_F_OS32, h_mov_sreg_rm },
	{ 0, 0x8d, A, -1, 0, M | X86_F_MEM, h_lea },
	{ 1, 0xb6, A, -1, 1, M | X86_F_RM8, h_movx },
	{ 1, 0xb7, A, -1, 2, M, h_movx },
	{ 1, 0xbe, A, -1, 0x11, M | X86_F_RM8, h_movx },
	{ 1, 0xbf, A, -1, 0x12, M, h_movx },
	{ 0, 0x63, A, -1, 0, M | X86_F_ONLY64, h_movsxd },
	{ 0, 0x86, A, -1, 0, M | B | X86_F_LOCK, h_xchg },
	{ 0, 0x87, A, -1, 0, M | X86_F_LOCK, h_xchg },
	{ 1, 0xb0, A, -1, 0, M | B | X86_F_LOCK, h_cmpxchg },
	{ 1, 0xb1, A, -1, 0, M | X86_F_LOCK, h_cmpxchg },
	{ 1, 0xc7, A, 1, 0, M | X86_F_MEM | X86_F_LOCK, h_cmpxchg8b },
	{ 1, 0xc0, A, -1, 0, M | B | X86_F_LOCK, h_xadd },
	{ 1, 0xc1, A, -1, 0, M | X86_F_LOCK, h_xadd },
	{ 2, 0xf0, X86_MP_NONE, -1, 0, M | X86_F_MEM, h_movbe },
	{ 2, 0xf1, X86_MP_NONE, -1, 0, M | X86_F_MEM, h_movbe },
	{ 0, 0x98, A, -1, 0, 0, h_cbw },
	{ 0, 0x99, A, -1, 0, 0, h_cwd },
	{ 0, 0x9e, A, -1, 0, 0, h_sahf },
	{ 0, 0x9f, A, -1, 0, 0, h_lahf },
	{ 0, 0xd7, A, -1, 0, 0, h_xlat },
	CC(0), CC(1), CC(2), CC(3), CC(4), CC(5), CC(6), CC(7),
	CC(8), CC(9), CC(10), CC(11), CC(12), CC(13), CC(14), CC(15),
	R8(0), R8(1), R8(2), R8(3), R8(4), R8(5), R8(6), R8(7),
};

const struct x86_optable x86_tab_mov = { ops, sizeof(ops) / sizeof(ops[0]) };
