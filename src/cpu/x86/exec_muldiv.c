/*
 * MUL IMUL (one, two and three operands), DIV IDIV with #DE.
 * After MUL/IMUL SF ZF AF PF are undefined: we set SF ZF PF from the low
 * half and clear AF. DIV/IDIV leave all flags unchanged (all undefined).
 */
#include "cpu/x86/insn.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

static void mul_flags(struct x86_cpu *cpu, unsigned size, uint64_t lo, bool ovf)
{
	/* SF ZF PF from the low half when read (lazy), CF = OF = ovf, AF = 0. */
	x86_lazy(cpu, X86_LF_SZP, size, 0, ovf ? X86_CF | X86_OF : 0, lo);
}

/* Store a double-width result: AX for bytes, else rDX:rAX. */
static void store_wide(struct x86_cpu *cpu, unsigned size, uint64_t lo, uint64_t hi)
{
	if (size == 1) {
		x86_setreg(cpu, X86_RAX, 2, (lo & 0xff) | (hi & 0xff) << 8);
		return;
	}
	x86_setreg(cpu, X86_RAX, size, lo);
	x86_setreg(cpu, X86_RDX, size, hi);
}

static int h_mul1(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, bits = size * 8;
	uint64_t s, a = x86_getreg(cpu, X86_RAX, size), lo, hi;
	bool sign = in->aux;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	if (sign) {
		s128 p = (s128)x86_sext(a, size) * (s128)x86_sext(s, size);

		lo = (uint64_t)p & x86_mask(size);
		hi = (uint64_t)(p >> bits) & x86_mask(size);
		store_wide(cpu, size, lo, hi);
		mul_flags(cpu, size, lo, p != (s128)x86_sext(lo, size));
	} else {
		u128 p = (u128)a * s;

		lo = (uint64_t)p & x86_mask(size);
		hi = (uint64_t)(p >> bits) & x86_mask(size);
		store_wide(cpu, size, lo, hi);
		mul_flags(cpu, size, lo, hi != 0);
	}
	return 0;
}

/* IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B). */
static int h_imul2(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize;
	uint64_t s, d;
	s128 p;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	d = in->map == X86_MAP_0F ? x86_getreg(cpu, in->reg, size) : in->imm;
	p = (s128)x86_sext(d, size) * (s128)x86_sext(s, size);
	x86_setreg(cpu, in->reg, size, (uint64_t)p);
	mul_flags(cpu, size, (uint64_t)p, p != (s128)x86_sext((uint64_t)p, size));
	return 0;
}

static int h_div(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, bits = size * 8;
	uint64_t s, m = x86_mask(size), q, r;
	bool sign = in->aux;
	u128 n;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	if (size == 1)
		n = (uint16_t)cpu->gpr[X86_RAX];
	else
		n = ((u128)(cpu->gpr[X86_RDX] & m) << bits) | (cpu->gpr[X86_RAX] & m);
	/* The divisor is guest data: zero and quotient overflow are #DE. */
	if ((s & m) == 0)
		return x86_raise(cpu, X86_EXC_DE, false, 0);
	if (!sign) {
		u128 qq = n / (s & m);

		if (qq > m)
			return x86_raise(cpu, X86_EXC_DE, false, 0);
		q = (uint64_t)qq;
		r = (uint64_t)(n % (s & m));
	} else {
		/* Sign-extend the 2*bits dividend held in n. */
		s128 sn = (s128)(n << (128 - 2 * bits)) >> (128 - 2 * bits);
		s128 sd = x86_sext(s, size), qq, rr;
		s128 lim = (s128)1 << (bits - 1);

		if (sd == -1 && (u128)sn == (u128)1 << 127)
			return x86_raise(cpu, X86_EXC_DE, false, 0);
		qq = sn / sd;
		rr = sn % sd;
		if (qq >= lim || qq < -lim)
			return x86_raise(cpu, X86_EXC_DE, false, 0);
		q = (uint64_t)qq & m;
		r = (uint64_t)rr & m;
	}
	store_wide(cpu, size, q, r);
	return 0;
}

#define M X86_F_MODRM
#define B X86_F_BYTE
#define A X86_MP_ANY

static const struct x86_opdesc ops[] = {
	{ 0, 0xf6, A, 4, 0, M | B, h_mul1 },
	{ 0, 0xf7, A, 4, 0, M, h_mul1 },
	{ 0, 0xf6, A, 5, 1, M | B, h_mul1 },
	{ 0, 0xf7, A, 5, 1, M, h_mul1 },
	{ 0, 0xf6, A, 6, 0, M | B, h_div },
	{ 0, 0xf7, A, 6, 0, M, h_div },
	{ 0, 0xf6, A, 7, 1, M | B, h_div },
	{ 0, 0xf7, A, 7, 1, M, h_div },
	{ 1, 0xaf, A, -1, 0, M, h_imul2 },
	{ 0, 0x69, A, -1, 0, M | X86_F_IMMZ, h_imul2 },
	{ 0, 0x6b, A, -1, 0, M | X86_F_IMM8, h_imul2 },
};

const struct x86_optable x86_tab_muldiv = { ops, sizeof(ops) / sizeof(ops[0]) };
