/*
 * ROL ROR RCL RCR SHL SHR SAL SAR, SHLD SHRD. Flags are computed eagerly.
 * Undefined flags (SDM): AF for shifts (we clear it), OF for counts > 1
 * (we use the count-1 formula), CF for SHL/SHR counts >= the width.
 */
#include "cpu/x86/insn.h"

enum { ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR };

static unsigned shift_count(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned c;

	switch (in->op) {
	case 0xd0: case 0xd1: c = 1; break;
	case 0xd2: case 0xd3: case 0xa5: case 0xad: c = (uint8_t)cpu->gpr[X86_RCX]; break;
	default: c = (uint8_t)in->imm; break;
	}
	return c & (in->opsize == 8 ? 0x3f : 0x1f);
}

static int h_shift(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, bits = size * 8, op = in->aux;
	unsigned c = shift_count(cpu, in);
	uint64_t m = x86_mask(size), d, r = 0;
	uint32_t f = 0, mask;
	struct x86_rmw rmw;
	bool cf;
	int rc;

	if (op == RCL || op == RCR) {
		if (size == 1)
			c %= 9;
		else if (size == 2)
			c %= 17;
	}
	if (c == 0) {
		/* No flags change and no write; a memory operand is still read. */
		if (in->mod != 3)
			return x86_ld(cpu, in->seg, x86_ea(cpu, in), size, &d);
		/* Hosts still write a 32-bit destination (zero-extending). */
		if (size == 4)
			cpu->gpr[in->rm] = (uint32_t)cpu->gpr[in->rm];
		return 0;
	}
	cf = x86_get_cf(cpu);
	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		d &= m;
		switch (op) {
		case ROL: {
			unsigned k = c & (bits - 1);

			r = k ? ((d << k) | (d >> (bits - k))) & m : d;
			f = (r & 1 ? X86_CF : 0);
			f |= (((r >> (bits - 1)) ^ r) & 1) ? X86_OF : 0;
			mask = X86_CF | X86_OF;
			break;
		}
		case ROR: {
			unsigned k = c & (bits - 1);

			r = k ? ((d >> k) | (d << (bits - k))) & m : d;
			f = ((r >> (bits - 1)) & 1) ? X86_CF : 0;
			f |= (((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) ? X86_OF : 0;
			mask = X86_CF | X86_OF;
			break;
		}
		case RCL: {
			bool k = cf, nk;
			unsigned i;

			r = d;
			for (i = 0; i < c; i++) {
				nk = (r >> (bits - 1)) & 1;
				r = ((r << 1) | k) & m;
				k = nk;
			}
			f = k ? X86_CF : 0;
			f |= (((r >> (bits - 1)) & 1) ^ k) ? X86_OF : 0;
			mask = X86_CF | X86_OF;
			break;
		}
		case RCR: {
			bool k = cf, nk;
			unsigned i;

			r = d;
			for (i = 0; i < c; i++) {
				nk = r & 1;
				r = (r >> 1) | ((uint64_t)k << (bits - 1));
				k = nk;
			}
			f = k ? X86_CF : 0;
			f |= (((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) ? X86_OF : 0;
			mask = X86_CF | X86_OF;
			break;
		}
		case SHL:
		case SAL:
			r = c < 64 ? (d << c) & m : 0;
			f = (c <= bits && ((d >> (bits - c)) & 1)) ? X86_CF : 0;
			f |= ((((r >> (bits - 1)) & 1) ^ !!(f & X86_CF))) ? X86_OF : 0;
			f |= x86_szp(r, size);
			mask = X86_STATUS_FLAGS;
			break;
		case SHR:
			r = d >> c;
			f = ((d >> (c - 1)) & 1) ? X86_CF : 0;
			f |= ((d >> (bits - 1)) & 1) ? X86_OF : 0;
			f |= x86_szp(r, size);
			mask = X86_STATUS_FLAGS;
			break;
		default: { /* SAR */
			int64_t s = x86_sext(d, size);

			r = (uint64_t)(s >> c) & m;
			f = ((s >> (c - 1)) & 1) ? X86_CF : 0;
			f |= x86_szp(r, size);
			mask = X86_STATUS_FLAGS;
			break;
		}
		}
		rc = x86_rmw_write(cpu, in, &rmw, d, r);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	x86_flags_set(cpu, mask, f);
	return 0;
}

/* SHLD/SHRD r/m, reg, imm8/CL */
static int h_shxd(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, bits = size * 8;
	unsigned c = shift_count(cpu, in);
	bool left = in->op == 0xa4 || in->op == 0xa5;
	uint64_t m = x86_mask(size), s = x86_getreg(cpu, in->reg, size), d, r;
	struct x86_rmw rmw;
	uint32_t f;
	int rc;

	if (c == 0) {
		if (in->mod != 3)
			return x86_ld(cpu, in->seg, x86_ea(cpu, in), size, &d);
		/* The register is still written: a 32-bit one is zero-extended. */
		if (size == 4)
			cpu->gpr[in->rm] = (uint32_t)cpu->gpr[in->rm];
		return 0;
	}
	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		d &= m;
		/* Counts above a 16-bit width give undefined results; we shift
		 * the concatenation d:s:d as hosts do. */
		if (left) {
			/* d:s (16-bit: d:s:d), take the top after shifting. */
			unsigned __int128 v = ((unsigned __int128)d << bits) | s;
			unsigned top = 2 * bits;

			if (bits == 16) {
				v = (v << 16) | d;
				top = 48;
			}
			r = (uint64_t)(v >> (top - bits - c)) & m;
			f = ((v >> (top - c)) & 1) ? X86_CF : 0;
		} else {
			/* s:d (16-bit: d:s:d), take the bottom after shifting. */
			unsigned __int128 w = ((unsigned __int128)s << bits) | d;

			if (bits == 16)
				w |= (unsigned __int128)d << 32;
			r = (uint64_t)(w >> c) & m;
			f = ((w >> (c - 1)) & 1) ? X86_CF : 0;
		}
		rc = x86_rmw_write(cpu, in, &rmw, d, r);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	f |= x86_szp(r, size);
	f |= (((r ^ d) >> (bits - 1)) & 1) ? X86_OF : 0;
	x86_flags_set(cpu, X86_STATUS_FLAGS, f);
	return 0;
}

#define M X86_F_MODRM
#define B X86_F_BYTE
#define A X86_MP_ANY
#define G2(k)                                                                      \
	{ 0, 0xc0, A, k, k, M | B | X86_F_IMM8U, h_shift },                        \
	{ 0, 0xc1, A, k, k, M | X86_F_IMM8U, h_shift },                            \
	{ 0, 0xd0, A, k, k, M | B, h_shift },                                      \
	{ 0, 0xd1, A, k, k, M, h_shift },                                          \
	{ 0, 0xd2, A, k, k, M | B, h_shift },                                      \
	{ 0, 0xd3, A, k, k, M, h_shift }

static const struct x86_opdesc ops[] = {
	G2(0), G2(1), G2(2), G2(3), G2(4), G2(5), G2(6), G2(7),
	{ 1, 0xa4, A, -1, 0, M | X86_F_IMM8U, h_shxd },
	{ 1, 0xa5, A, -1, 0, M, h_shxd },
	{ 1, 0xac, A, -1, 0, M | X86_F_IMM8U, h_shxd },
	{ 1, 0xad, A, -1, 0, M, h_shxd },
};

const struct x86_optable x86_tab_shift = { ops, sizeof(ops) / sizeof(ops[0]) };
