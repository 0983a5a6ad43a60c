/* ADD OR ADC SBB AND SUB XOR CMP, TEST, INC DEC NEG NOT. */
#include "cpu/x86/insn.h"

enum { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP };

/* One ALU operation: records lazy flags, returns the (unmasked) result. */
static inline uint64_t alu(struct x86_cpu *cpu, unsigned op, unsigned size, uint64_t d,
			   uint64_t s, bool cf)
{
	uint64_t r;

	switch (op) {
	case ADD: r = d + s; x86_lazy(cpu, X86_LF_ADD, size, d, s, r); break;
	case OR:  r = d | s; x86_lazy(cpu, X86_LF_LOGIC, size, d, s, r); break;
	case ADC: r = d + s + cf; x86_lazy(cpu, X86_LF_ADC, size, d, s, r); break;
	case SBB: r = d - s - cf; x86_lazy(cpu, X86_LF_SBB, size, d, s, r); break;
	case AND: r = d & s; x86_lazy(cpu, X86_LF_LOGIC, size, d, s, r); break;
	case XOR: r = d ^ s; x86_lazy(cpu, X86_LF_LOGIC, size, d, s, r); break;
	default:  r = d - s; x86_lazy(cpu, X86_LF_SUB, size, d, s, r); break;
	}
	return r;
}

static inline bool need_cf(unsigned op)
{
	return op == ADC || op == SBB;
}

/* op r/m, src: register fast path, memory through x86_rmw (LOCK-aware). */
static inline int alu_rm(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t s)
{
	unsigned op = in->aux, size = in->opsize;
	bool cf = need_cf(op) ? x86_get_cf(cpu) : false;
	struct x86_rmw rmw;
	uint64_t d, r;
	int rc;

	if (in->mod == 3) {
		d = x86_getreg(cpu, in->rm, size);
		r = alu(cpu, op, size, d, s, cf);
		if (op != CMP)
			x86_setreg(cpu, in->rm, size, r);
		return 0;
	}
	if (op == CMP) {
		rc = x86_ld(cpu, in->seg, x86_ea(cpu, in), size, &d);
		if (rc)
			return rc;
		alu(cpu, op, size, d, s, cf);
		return 0;
	}
	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		switch (op) {
		case ADD: r = d + s; break;
		case OR: r = d | s; break;
		case ADC: r = d + s + cf; break;
		case SBB: r = d - s - cf; break;
		case AND: r = d & s; break;
		case XOR: r = d ^ s; break;
		default: r = d - s; break;
		}
		rc = x86_rmw_write(cpu, in, &rmw, d, r);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	alu(cpu, op, size, d, s, cf);
	return 0;
}

static int h_alu_rm_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return alu_rm(cpu, in, x86_getreg(cpu, in->reg, in->opsize));
}

static int h_alu_rm_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return alu_rm(cpu, in, in->imm);
}

/* op reg, r/m */
static int h_alu_r_rm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned op = in->aux, size = in->opsize;
	bool cf = need_cf(op) ? x86_get_cf(cpu) : false;
	uint64_t s, r;
	int rc = x86_rm_read(cpu, in, &s);

	if (rc)
		return rc;
	r = alu(cpu, op, size, x86_getreg(cpu, in->reg, size), s, cf);
	if (op != CMP)
		x86_setreg(cpu, in->reg, size, r);
	return 0;
}

/* 64-bit and 32-bit register-register forms, picked by the fast-path table
 * below for the most common encodings. */
static int h_alu_a_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned op = in->aux, size = in->opsize;
	bool cf = need_cf(op) ? x86_get_cf(cpu) : false;
	uint64_t r = alu(cpu, op, size, x86_getreg(cpu, X86_RAX, size), in->imm, cf);

	if (op != CMP)
		x86_setreg(cpu, X86_RAX, size, r);
	return 0;
}

static int h_test_rm_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t d;
	int rc = x86_rm_read(cpu, in, &d);

	if (rc)
		return rc;
	alu(cpu, AND, in->opsize, d, x86_getreg(cpu, in->reg, in->opsize), false);
	return 0;
}

static int h_test_rm_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t d;
	int rc = x86_rm_read(cpu, in, &d);

	if (rc)
		return rc;
	alu(cpu, AND, in->opsize, d, in->imm, false);
	return 0;
}

static int h_test_a_imm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	alu(cpu, AND, in->opsize, x86_getreg(cpu, X86_RAX, in->opsize), in->imm, false);
	return 0;
}

/* INC/DEC keep CF: fold the current CF into rflags before going lazy. */
static inline void lazy_incdec(struct x86_cpu *cpu, bool dec, unsigned size, uint64_t d,
			       uint64_t r)
{
	bool cf = x86_get_cf(cpu);

	cpu->rflags = (cpu->rflags & ~(uint64_t)X86_CF) | cf;
	x86_lazy(cpu, dec ? X86_LF_DEC : X86_LF_INC, size, d, 1, r);
}

static int h_incdec_rm(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool dec = in->aux;
	struct x86_rmw rmw;
	uint64_t d, r;
	int rc;

	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		r = dec ? d - 1 : d + 1;
		rc = x86_rmw_write(cpu, in, &rmw, d, r);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	lazy_incdec(cpu, dec, in->opsize, d, r);
	return 0;
}

static int h_incdec_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	bool dec = in->aux;
	uint64_t d = x86_getreg(cpu, in->reg, in->opsize);
	uint64_t r = dec ? d - 1 : d + 1;

	x86_setreg(cpu, in->reg, in->opsize, r);
	lazy_incdec(cpu, dec, in->opsize, d, r);
	return 0;
}

static int h_not(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct x86_rmw rmw;
	uint64_t d;
	int rc;

	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		rc = x86_rmw_write(cpu, in, &rmw, d, ~d);
	} while (rc == X86_RMW_RETRY);
	return rc;
}

static int h_neg(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct x86_rmw rmw;
	uint64_t d;
	int rc;

	do {
		rc = x86_rmw_read(cpu, in, &rmw, &d);
		if (rc)
			return rc;
		rc = x86_rmw_write(cpu, in, &rmw, d, -d);
	} while (rc == X86_RMW_RETRY);
	if (rc)
		return rc;
	x86_lazy(cpu, X86_LF_NEG, in->opsize, 0, d, -d);
	return 0;
}

#define M X86_F_MODRM
#define B X86_F_BYTE
#define L X86_F_LOCK
#define ALU(k)                                                                                     \
	{ 0, (k) * 8 + 0, X86_MP_ANY, -1, k, M | B | ((k) == CMP ? 0 : L), h_alu_rm_r },          \
	{ 0, (k) * 8 + 1, X86_MP_ANY, -1, k, M | ((k) == CMP ? 0 : L), h_alu_rm_r },              \
	{ 0, (k) * 8 + 2, X86_MP_ANY, -1, k, M | B, h_alu_r_rm },                                 \
	{ 0, (k) * 8 + 3, X86_MP_ANY, -1, k, M, h_alu_r_rm },                                     \
	{ 0, (k) * 8 + 4, X86_MP_ANY, -1, k, B | X86_F_IMM8, h_alu_a_imm },                       \
	{ 0, (k) * 8 + 5, X86_MP_ANY, -1, k, X86_F_IMMZ, h_alu_a_imm },                           \
	{ 0, 0x80, X86_MP_ANY, k, k, M | B | X86_F_IMM8 | ((k) == CMP ? 0 : L), h_alu_rm_imm },   \
	{ 0, 0x81, X86_MP_ANY, k, k, M | X86_F_IMMZ | ((k) == CMP ? 0 : L), h_alu_rm_imm },       \
	{ 0, 0x82, X86_MP_ANY, k, k, M | B | X86_F_IMM8 | X86_F_INV64 | ((k) == CMP ? 0 : L),     \
	  h_alu_rm_imm },                                                                          \
	{ 0, 0x83, X86_MP_ANY, k, k, M | X86_F_IMM8 | ((k) == CMP ? 0 : L), h_alu_rm_imm }

/*
 * ADCX (66 0F 38 F6) adds with CF and changes only CF; ADOX (F3 0F 38 F6)
 * does the same with OF. The 66 selects the instruction, not the operand
 * size: 32 bits unless REX.W (SDM Vol 2A ADCX/ADOX).
 */
static int h_adx(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct x86_insn m = *in;
	uint32_t flag = in->mpfx == X86_MP_F3 ? X86_OF : X86_CF;
	uint64_t s, d, r;
	bool c_in, c_out;
	int rc;

	m.opsize = (cpu->mode == X86_MODE_LONG64 && (in->rex & 8)) ? 8 : 4;
	rc = x86_rm_read(cpu, &m, &s);
	if (rc)
		return rc;
	d = x86_getreg(cpu, in->reg, m.opsize);
	x86_flags_sync(cpu);
	c_in = cpu->rflags & flag;
	if (m.opsize == 8) {
		r = d + s + c_in;
		c_out = r < d || (c_in && r == d);
	} else {
		r = d + s + c_in; /* both below 2^32: the carry is bit 32 */
		c_out = (r >> 32) & 1;
	}
	x86_setreg(cpu, in->reg, m.opsize, r);
	x86_flags_set(cpu, flag, c_out ? flag : 0);
	return 0;
}

static const struct x86_opdesc ops[] = {
	{ 2, 0xf6, X86_MP_66, -1, 0, M, h_adx },
	{ 2, 0xf6, X86_MP_F3, -1, 0, M, h_adx },
	ALU(ADD), ALU(OR), ALU(ADC), ALU(SBB), ALU(AND), ALU(SUB), ALU(XOR), ALU(CMP),
	{ 0, 0x84, X86_MP_ANY, -1, 0, M | B, h_test_rm_r },
	{ 0, 0x85, X86_MP_ANY, -1, 0, M, h_test_rm_r },
	{ 0, 0xa8, X86_MP_ANY, -1, 0, B | X86_F_IMM8, h_test_a_imm },
	{ 0, 0xa9, X86_MP_ANY, -1, 0, X86_F_IMMZ, h_test_a_imm },
	{ 0, 0xf6, X86_MP_ANY, 0, 0, M | B | X86_F_IMM8, h_test_rm_imm },
	{ 0, 0xf6, X86_MP_ANY, 1, 0, M | B | X86_F_IMM8, h_test_rm_imm },
	{ 0, 0xf7, X86_MP_ANY, 0, 0, M | X86_F_IMMZ, h_test_rm_imm },
	{ 0, 0xf7, X86_MP_ANY, 1, 0, M | X86_F_IMMZ, h_test_rm_imm },
	{ 0, 0xf6, X86_MP_ANY, 2, 0, M | B | L, h_not },
	{ 0, 0xf7, X86_MP_ANY, 2, 0, M | L, h_not },
	{ 0, 0xf6, X86_MP_ANY, 3, 0, M | B | L, h_neg },
	{ 0, 0xf7, X86_MP_ANY, 3, 0, M | L, h_neg },
	{ 0, 0xfe, X86_MP_ANY, 0, 0, M | B | L, h_incdec_rm },
	{ 0, 0xfe, X86_MP_ANY, 1, 1, M | B | L, h_incdec_rm },
	{ 0, 0xff, X86_MP_ANY, 0, 0, M | L, h_incdec_rm },
	{ 0, 0xff, X86_MP_ANY, 1, 1, M | L, h_incdec_rm },
#define INCR(r) { 0, 0x40 + (r), X86_MP_ANY, -1, 0, X86_F_OPREG | X86_F_INV64, h_incdec_r }, \
		{ 0, 0x48 + (r), X86_MP_ANY, -1, 1, X86_F_OPREG | X86_F_INV64, h_incdec_r }
	INCR(0), INCR(1), INCR(2), INCR(3), INCR(4), INCR(5), INCR(6), INCR(7),
};

const struct x86_optable x86_tab_alu = { ops, sizeof(ops) / sizeof(ops[0]) };
