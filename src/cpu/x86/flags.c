/*
 * Lazy flags: arithmetic records (op, size, dst, src, result) and the six
 * status flags are computed only when something reads them.
 *
 * ADD and ADC share one formula (the carry out of the top bit is
 * majority(dst, src, carry-in), and the carry into the top bit is
 * res ^ dst ^ src), likewise SUB/SBB/NEG, so the carry-in need not be kept.
 */
#include "cpu/x86/insn.h"

static uint32_t flags_of(unsigned op, unsigned size, uint64_t d, uint64_t s, uint64_t r,
			 uint64_t old)
{
	unsigned top = size * 8 - 1;
	uint64_t m = x86_mask(size);
	uint32_t f = x86_szp(r, size);

	switch (op) {
	case X86_LF_ADD:
	case X86_LF_ADC:
		f |= (((d & s) | ((d | s) & ~r)) >> top) & 1 ? X86_CF : 0;
		f |= (((d ^ r) & (s ^ r)) >> top) & 1 ? X86_OF : 0;
		f |= (d ^ s ^ r) & X86_AF;
		break;
	case X86_LF_SUB:
	case X86_LF_SBB:
	case X86_LF_NEG:
		f |= (((~d & s) | ((~d | s) & r)) >> top) & 1 ? X86_CF : 0;
		f |= (((d ^ s) & (d ^ r)) >> top) & 1 ? X86_OF : 0;
		f |= (d ^ s ^ r) & X86_AF;
		break;
	case X86_LF_LOGIC:
		/* CF = OF = 0; AF is undefined: we clear it as current hosts do. */
		break;
	case X86_LF_SZP:
		f |= (uint32_t)s & (X86_CF | X86_OF | X86_AF);
		break;
	case X86_LF_INC:
		f |= old & X86_CF;
		f |= (r & m) == (1ull << top) ? X86_OF : 0;
		f |= (r & 0xf) == 0 ? X86_AF : 0;
		break;
	case X86_LF_DEC:
		f |= old & X86_CF;
		f |= (r & m) == (1ull << top) - 1 ? X86_OF : 0;
		f |= (r & 0xf) == 0xf ? X86_AF : 0;
		break;
	}
	return f;
}

uint32_t x86_status_flags(struct x86_cpu *cpu)
{
	unsigned op = cpu->lf_op;

	if (op == X86_LF_NONE)
		return cpu->rflags & X86_STATUS_FLAGS;
	return flags_of(op >> 2, 1u << (op & 3), cpu->lf_dst, cpu->lf_src, cpu->lf_res,
			cpu->rflags);
}

bool x86_get_cf(struct x86_cpu *cpu)
{
	unsigned op = cpu->lf_op, size, top;
	uint64_t d = cpu->lf_dst, s = cpu->lf_src, r = cpu->lf_res;

	if (op == X86_LF_NONE)
		return cpu->rflags & X86_CF;
	size = 1u << (op & 3);
	top = size * 8 - 1;
	switch (op >> 2) {
	case X86_LF_ADD:
	case X86_LF_ADC:
		return (((d & s) | ((d | s) & ~r)) >> top) & 1;
	case X86_LF_SUB:
	case X86_LF_SBB:
	case X86_LF_NEG:
		return (((~d & s) | ((~d | s) & r)) >> top) & 1;
	case X86_LF_LOGIC:
		return false;
	case X86_LF_SZP:
		return s & X86_CF;
	}
	return cpu->rflags & X86_CF; /* INC/DEC keep CF in rflags */
}

static bool cond_from(uint32_t f, unsigned cc)
{
	bool v;

	switch (cc >> 1) {
	case 0: v = f & X86_OF; break;
	case 1: v = f & X86_CF; break;
	case 2: v = f & X86_ZF; break;
	case 3: v = f & (X86_CF | X86_ZF); break;
	case 4: v = f & X86_SF; break;
	case 5: v = f & X86_PF; break;
	case 6: v = !(f & X86_SF) != !(f & X86_OF); break;
	default: v = (f & X86_ZF) || (!(f & X86_SF) != !(f & X86_OF)); break;
	}
	return v ^ (cc & 1);
}

bool x86_cond(struct x86_cpu *cpu, unsigned cc)
{
	unsigned op = cpu->lf_op;

	if ((op >> 2) == X86_LF_SUB) {
		/* CMP/SUB: compare the operands directly. */
		unsigned size = 1u << (op & 3);
		uint64_t m = x86_mask(size);
		uint64_t d = cpu->lf_dst & m, s = cpu->lf_src & m;
		int64_t sd = x86_sext(d, size), ss = x86_sext(s, size);
		bool v;

		switch (cc >> 1) {
		case 1: v = d < s; break;
		case 2: v = d == s; break;
		case 3: v = d <= s; break;
		case 6: v = sd < ss; break;
		case 7: v = sd <= ss; break;
		default: return cond_from(x86_status_flags(cpu), cc);
		}
		return v ^ (cc & 1);
	}
	if ((op >> 2) == X86_LF_LOGIC) {
		unsigned size = 1u << (op & 3);
		int64_t r = x86_sext(cpu->lf_res, size);
		bool v;

		switch (cc >> 1) {
		case 0: v = false; break;
		case 1: v = false; break;
		case 2: v = r == 0; break;
		case 3: v = r == 0; break;
		case 4: v = r < 0; break;
		case 6: v = r < 0; break;
		case 7: v = r <= 0; break;
		default: return cond_from(x86_status_flags(cpu), cc);
		}
		return v ^ (cc & 1);
	}
	return cond_from(x86_status_flags(cpu), cc);
}
