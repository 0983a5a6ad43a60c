/*
 * BT BTS BTR BTC, BSF BSR, POPCNT LZCNT TZCNT.
 * Undefined flags: BT* OF SF AF PF and BSF/BSR CF OF SF AF PF are left
 * unchanged; LZCNT/TZCNT OF SF AF PF are left unchanged.
 */
#include "cpu/x86/insn.h"

enum { BT, BTS, BTR, BTC };

static int h_bt(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, bits = size * 8, op = in->aux;
	bool imm = in->op == 0xba;
	uint64_t off = imm ? in->imm : x86_getreg(cpu, in->reg, size), d, r;
	struct x86_insn m = *in;
	struct x86_rmw rmw;
	unsigned bit;
	int rc;

	if (in->mod != 3 && !imm) {
		/* A register bit offset addresses memory beyond the operand:
		 * signed offset, in units of the operand size. */
		int64_t so = x86_sext(off, size);
		int64_t units = so >> __builtin_ctz(bits);

		m.disp = 0;
		m.base = X86_NOREG;
		m.index = X86_NOREG;
		off = (uint64_t)so;
		/* Fold the whole address into a displacement-free access. */
		{
			uint64_t ea = x86_ea(cpu, in) + (uint64_t)(units * (int64_t)size);

			ea &= x86_mask(in->adsize);
			if (op == BT) {
				rc = x86_ld(cpu, in->seg, ea, size, &d);
				if (rc)
					return rc;
				x86_flags_set(cpu, X86_CF, (d >> (off & (bits - 1))) & 1);
				return 0;
			}
			m.imm = ea;
			m.disp = 0;
		}
	}
	bit = off & (bits - 1);
	if (op == BT) {
		rc = x86_rm_read(cpu, in, &d);
		if (rc)
			return rc;
		x86_flags_set(cpu, X86_CF, (d >> bit) & 1);
		return 0;
	}
	if (in->mod != 3 && !imm) {
		/* Locked or not, the adjusted address goes through rmw via a
		 * synthetic absolute operand. */
		m.base = X86_NOREG;
		m.index = X86_NOREG;
		m.disp = 0;
	}
	do {
		if (in->mod != 3 && !imm) {
			uint64_t ea = m.imm;

			rmw.host = NULL;
			rc = x86_linear(cpu, in->seg, ea, size, &rmw.la);
			if (!rc && (in->pfx & X86_P_LOCK)) {
				int e;

				rmw.host = x86_host_ptr_rw(cpu, rmw.la, size, &e);
			}
			if (!rc) {
				d = 0;
				if (rmw.host)
					memcpy(&d, rmw.host, size);
				else
					rc = x86_ss_fault(cpu, in->seg,
							  x86_read_lin(cpu, rmw.la, &d, size));
			}
		} else {
			rc = x86_rmw_read(cpu, in, &rmw, &d);
		}
		if (rc)
			return rc;
		switch (op) {
		case BTS: r = d | (1ull << bit); break;
		case BTR: r = d & ~(1ull << bit); break;
		default: r = d ^ (1ull << bit); break;
		}
		rc = x86_rmw_write(cpu, &m, &rmw, d, r);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	x86_flags_set(cpu, X86_CF, (d >> bit) & 1);
	return 0;
}

static int h_bsf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t s;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	s &= x86_mask(in->opsize);
	if (!s) {
		/* Destination unchanged (as AMD documents and Intel does). */
		x86_flags_set(cpu, X86_ZF, X86_ZF);
		return 0;
	}
	x86_setreg(cpu, in->reg, in->opsize,
		   in->op == 0xbc ? (uint64_t)__builtin_ctzll(s) : 63u - __builtin_clzll(s));
	x86_flags_set(cpu, X86_ZF, 0);
	return 0;
}

static int h_popcnt(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t s;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	s &= x86_mask(in->opsize);
	x86_setreg(cpu, in->reg, in->opsize, __builtin_popcountll(s));
	x86_flags_set(cpu, X86_STATUS_FLAGS, s ? 0 : X86_ZF);
	return 0;
}

/* F3 0F BC TZCNT, F3 0F BD LZCNT */
static int h_lztz(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned bits = in->opsize * 8;
	uint64_t s, r;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	s &= x86_mask(in->opsize);
	if (!s)
		r = bits;
	else if (in->op == 0xbc)
		r = __builtin_ctzll(s);
	else
		r = __builtin_clzll(s) - (64 - bits);
	x86_setreg(cpu, in->reg, in->opsize, r);
	x86_flags_set(cpu, X86_CF | X86_ZF, (s ? 0 : X86_CF) | (r ? 0 : X86_ZF));
	return 0;
}

#define M X86_F_MODRM
#define A X86_MP_ANY
#define L X86_F_LOCK

static const struct x86_opdesc ops[] = {
	{ 1, 0xa3, A, -1, BT, M, h_bt },
	{ 1, 0xab, A, -1, BTS, M | L, h_bt },
	{ 1, 0xb3, A, -1, BTR, M | L, h_bt },
	{ 1, 0xbb, A, -1, BTC, M | L, h_bt },
	{ 1, 0xba, A, 4, BT, M | X86_F_IMM8U, h_bt },
	{ 1, 0xba, A, 5, BTS, M | L | X86_F_IMM8U, h_bt },
	{ 1, 0xba, A, 6, BTR, M | L | X86_F_IMM8U, h_bt },
	{ 1, 0xba, A, 7, BTC, M | L | X86_F_IMM8U, h_bt },
	{ 1, 0xb8, X86_MP_F3, -1, 0, M, h_popcnt },
	{ 1, 0xbc, X86_MP_F3, -1, 0, M, h_lztz },
	{ 1, 0xbd, X86_MP_F3, -1, 0, M, h_lztz },
	{ 1, 0xbc, A, -1, 0, M, h_bsf },
	{ 1, 0xbd, A, -1, 0, M, h_bsf },
};

const struct x86_optable x86_tab_bit = { ops, sizeof(ops) / sizeof(ops[0]) };
