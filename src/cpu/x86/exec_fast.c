/*
 * Specialised handlers for the most frequent encodings (register operands of
 * 32/64 bits, simple loads/stores, LEA, shifts by an immediate), chosen by
 * the decoder after the generic decode via x86_fast_handler(). Each has the
 * semantics of the generic handler it replaces; no size switches at run time.
 */
#include "cpu/x86/insn.h"

/* The generator macros emit a few variants that are not all wired up. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

enum { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP };

#define ALU_RR(name, size, T, OPEXPR, LF, WRITE)                                                \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->rm], s = (T)cpu->gpr[in->reg], r;                   \
		OPEXPR;                                                                          \
		x86_lazy(cpu, LF, size, d, s, r);                                                \
		if (WRITE)                                                                       \
			cpu->gpr[in->rm] = (T)r;                                                 \
		return 0;                                                                        \
	}                                                                                        \
	static int name##_i(struct x86_cpu *cpu, const struct x86_insn *in)                     \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->rm], s = (T)in->imm, r;                             \
		OPEXPR;                                                                          \
		x86_lazy(cpu, LF, size, d, s, r);                                                \
		if (WRITE)                                                                       \
			cpu->gpr[in->rm] = (T)r;                                                 \
		return 0;                                                                        \
	}                                                                                        \
	static int name##_nf(struct x86_cpu *cpu, const struct x86_insn *in)                    \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->rm], s = (T)cpu->gpr[in->reg], r;                   \
		OPEXPR;                                                                          \
		if (WRITE)                                                                       \
			cpu->gpr[in->rm] = (T)r;                                                 \
		return 0;                                                                        \
	}                                                                                        \
	static int name##_i_nf(struct x86_cpu *cpu, const struct x86_insn *in)                  \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->rm], s = (T)in->imm, r;                             \
		OPEXPR;                                                                          \
		if (WRITE)                                                                       \
			cpu->gpr[in->rm] = (T)r;                                                 \
		return 0;                                                                        \
	}

#define BOTH(op, OPEXPR, LF, WRITE)                                                             \
	ALU_RR(f_##op##_64, 8, uint64_t, OPEXPR, LF, WRITE)                                      \
	ALU_RR(f_##op##_32, 4, uint32_t, OPEXPR, LF, WRITE)

BOTH(add, r = d + s, X86_LF_ADD, 1)
BOTH(or, r = d | s, X86_LF_LOGIC, 1)
BOTH(adc, r = d + s + x86_get_cf(cpu), X86_LF_ADC, 1)
BOTH(sbb, r = d - s - x86_get_cf(cpu), X86_LF_SBB, 1)
BOTH(and, r = d & s, X86_LF_LOGIC, 1)
BOTH(sub, r = d - s, X86_LF_SUB, 1)
BOTH(xor, r = d ^ s, X86_LF_LOGIC, 1)
BOTH(cmp, r = d - s, X86_LF_SUB, 0)
BOTH(test, r = d & s, X86_LF_LOGIC, 0)

static const x86_handler alu_rr[2][8] = {
	{ f_add_32, f_or_32, f_adc_32, f_sbb_32, f_and_32, f_sub_32, f_xor_32, f_cmp_32 },
	{ f_add_64, f_or_64, f_adc_64, f_sbb_64, f_and_64, f_sub_64, f_xor_64, f_cmp_64 },
};
static const x86_handler alu_ri[2][8] = {
	{ f_add_32_i, f_or_32_i, f_adc_32_i, f_sbb_32_i, f_and_32_i, f_sub_32_i, f_xor_32_i,
	  f_cmp_32_i },
	{ f_add_64_i, f_or_64_i, f_adc_64_i, f_sbb_64_i, f_and_64_i, f_sub_64_i, f_xor_64_i,
	  f_cmp_64_i },
};

/* "op reg, r/m" with a register r/m: swap roles through a shadow decode is
 * not possible (const insn), so these read reg as destination. */
#define ALU_RR_REV(name, size, T, OPEXPR, LF, WRITE)                                            \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->reg], s = (T)cpu->gpr[in->rm], r;                   \
		OPEXPR;                                                                          \
		x86_lazy(cpu, LF, size, d, s, r);                                                \
		if (WRITE)                                                                       \
			cpu->gpr[in->reg] = (T)r;                                                \
		return 0;                                                                        \
	}                                                                                        \
	static int name##_nf(struct x86_cpu *cpu, const struct x86_insn *in)                    \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->reg], s = (T)cpu->gpr[in->rm], r;                   \
		OPEXPR;                                                                          \
		if (WRITE)                                                                       \
			cpu->gpr[in->reg] = (T)r;                                                \
		return 0;                                                                        \
	}
#define BOTHR(op, OPEXPR, LF, WRITE)                                                            \
	ALU_RR_REV(g_##op##_64, 8, uint64_t, OPEXPR, LF, WRITE)                                  \
	ALU_RR_REV(g_##op##_32, 4, uint32_t, OPEXPR, LF, WRITE)
BOTHR(add, r = d + s, X86_LF_ADD, 1)
BOTHR(or, r = d | s, X86_LF_LOGIC, 1)
BOTHR(adc, r = d + s + x86_get_cf(cpu), X86_LF_ADC, 1)
BOTHR(sbb, r = d - s - x86_get_cf(cpu), X86_LF_SBB, 1)
BOTHR(and, r = d & s, X86_LF_LOGIC, 1)
BOTHR(sub, r = d - s, X86_LF_SUB, 1)
BOTHR(xor, r = d ^ s, X86_LF_LOGIC, 1)
BOTHR(cmp, r = d - s, X86_LF_SUB, 0)
static const x86_handler alu_rr_rev[2][8] = {
	{ g_add_32, g_or_32, g_adc_32, g_sbb_32, g_and_32, g_sub_32, g_xor_32, g_cmp_32 },
	{ g_add_64, g_or_64, g_adc_64, g_sbb_64, g_and_64, g_sub_64, g_xor_64, g_cmp_64 },
};

/*
 * ALU forms with a memory operand (no LOCK): "op reg, [mem]" reads memory
 * and writes the register; "op [mem], reg/imm" is a read-modify-write that
 * goes through the write TLB entry once when it maps the page (a write
 * entry implies the page is readable and holds no code), else through the
 * generic read then write, like x86_rmw_read()/x86_rmw_write().
 */
#define ALU_RM(name, size, T, OPEXPR, LF, WRITE)                                                \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		T m;                                                                             \
		uint64_t d, s, r;                                                                \
		int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &m, sizeof(T));             \
		if (unlikely(rc))                                                                \
			return rc;                                                               \
		d = (T)cpu->gpr[in->reg];                                                        \
		s = m;                                                                           \
		OPEXPR;                                                                          \
		x86_lazy(cpu, LF, size, d, s, r);                                                \
		if (WRITE)                                                                       \
			cpu->gpr[in->reg] = (T)r;                                                \
		return 0;                                                                        \
	}

static inline void *rmw_host(struct x86_cpu *cpu, uint64_t la, unsigned len)
{
	const struct x86_tlb_entry *e = &cpu->tlb[X86_ACC_WRITE][(la >> 12) & (X86_TLB_SIZE - 1)];

	if (likely(e->tag == (la & ~0xfffull) && (la & 0xfff) + len <= 0x1000))
		return (void *)(uintptr_t)(la + e->addend);
	return NULL;
}

/* SRC is an expression of cpu and in: the register or the immediate. */
#define ALU_MR(name, size, T, SRC, OPEXPR, LF, WRITE)                                           \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		uint64_t la, d, s, r;                                                            \
		T m;                                                                             \
		void *p;                                                                         \
		int rc = x86_linear(cpu, in->seg, x86_ea(cpu, in), sizeof(T), &la);              \
		if (unlikely(rc))                                                                \
			return x86_ss_fault(cpu, in->seg, rc);                                   \
		p = WRITE ? rmw_host(cpu, la, sizeof(T)) : NULL;                                 \
		if (p) {                                                                         \
			memcpy(&m, p, sizeof(T));                                                \
		} else {                                                                         \
			rc = x86_read_lin(cpu, la, &m, sizeof(T));                               \
			if (unlikely(rc))                                                        \
				return x86_ss_fault(cpu, in->seg, rc);                           \
		}                                                                                \
		d = m;                                                                           \
		s = (T)(SRC);                                                                    \
		OPEXPR;                                                                          \
		if (WRITE) {                                                                     \
			T w = (T)r;                                                              \
			if (p) {                                                                 \
				memcpy(p, &w, sizeof(T));                                        \
			} else {                                                                 \
				rc = x86_write_lin(cpu, la, &w, sizeof(T));                      \
				if (unlikely(rc))                                                \
					return x86_ss_fault(cpu, in->seg, rc);                   \
			}                                                                        \
		}                                                                                \
		x86_lazy(cpu, LF, size, d, s, r);                                                \
		return 0;                                                                        \
	}

#define MEMOPS(op, OPEXPR, LF, WRITE)                                                           \
	ALU_RM(m_##op##_64, 8, uint64_t, OPEXPR, LF, WRITE)                                      \
	ALU_RM(m_##op##_32, 4, uint32_t, OPEXPR, LF, WRITE)                                      \
	ALU_MR(n_##op##_64, 8, uint64_t, cpu->gpr[in->reg], OPEXPR, LF, WRITE)                   \
	ALU_MR(n_##op##_32, 4, uint32_t, cpu->gpr[in->reg], OPEXPR, LF, WRITE)                   \
	ALU_MR(n_##op##_64_i, 8, uint64_t, in->imm, OPEXPR, LF, WRITE)                           \
	ALU_MR(n_##op##_32_i, 4, uint32_t, in->imm, OPEXPR, LF, WRITE)
MEMOPS(add, r = d + s, X86_LF_ADD, 1)
MEMOPS(or, r = d | s, X86_LF_LOGIC, 1)
MEMOPS(adc, r = d + s + x86_get_cf(cpu), X86_LF_ADC, 1)
MEMOPS(sbb, r = d - s - x86_get_cf(cpu), X86_LF_SBB, 1)
MEMOPS(and, r = d & s, X86_LF_LOGIC, 1)
MEMOPS(sub, r = d - s, X86_LF_SUB, 1)
MEMOPS(xor, r = d ^ s, X86_LF_LOGIC, 1)
MEMOPS(cmp, r = d - s, X86_LF_SUB, 0)
ALU_MR(n_test_64, 8, uint64_t, cpu->gpr[in->reg], r = d & s, X86_LF_LOGIC, 0)
ALU_MR(n_test_32, 4, uint32_t, cpu->gpr[in->reg], r = d & s, X86_LF_LOGIC, 0)
ALU_MR(n_test_64_i, 8, uint64_t, in->imm, r = d & s, X86_LF_LOGIC, 0)
ALU_MR(n_test_32_i, 4, uint32_t, in->imm, r = d & s, X86_LF_LOGIC, 0)

/* op reg, [mem] (03 0B ... 3B) */
static const x86_handler alu_rm_mem[2][8] = {
	{ m_add_32, m_or_32, m_adc_32, m_sbb_32, m_and_32, m_sub_32, m_xor_32, m_cmp_32 },
	{ m_add_64, m_or_64, m_adc_64, m_sbb_64, m_and_64, m_sub_64, m_xor_64, m_cmp_64 },
};
/* op [mem], reg (01 09 ... 39) */
static const x86_handler alu_mr_mem[2][8] = {
	{ n_add_32, n_or_32, n_adc_32, n_sbb_32, n_and_32, n_sub_32, n_xor_32, n_cmp_32 },
	{ n_add_64, n_or_64, n_adc_64, n_sbb_64, n_and_64, n_sub_64, n_xor_64, n_cmp_64 },
};
/* op [mem], imm (81 83) */
static const x86_handler alu_mi_mem[2][8] = {
	{ n_add_32_i, n_or_32_i, n_adc_32_i, n_sbb_32_i, n_and_32_i, n_sub_32_i, n_xor_32_i,
	  n_cmp_32_i },
	{ n_add_64_i, n_or_64_i, n_adc_64_i, n_sbb_64_i, n_and_64_i, n_sub_64_i, n_xor_64_i,
	  n_cmp_64_i },
};

/* MOV [mem], imm32 (C7 /0) */
static int f_store_i_64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v = in->imm;

	return x86_write_mem(cpu, in->seg, x86_ea(cpu, in), &v, 8);
}

static int f_store_i_32(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint32_t v = (uint32_t)in->imm;

	return x86_write_mem(cpu, in->seg, x86_ea(cpu, in), &v, 4);
}

/* IMUL reg, reg (0F AF) and MUL/IMUL rDX:rAX, reg (F7 /4 /5). */
typedef unsigned __int128 fu128;
typedef __int128 fs128;

static int f_imul_rr_64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	fs128 p = (fs128)(int64_t)cpu->gpr[in->reg] * (int64_t)cpu->gpr[in->rm];
	uint64_t lo = (uint64_t)p;

	cpu->gpr[in->reg] = lo;
	x86_lazy(cpu, X86_LF_SZP, 8, 0, p != (fs128)(int64_t)lo ? X86_CF | X86_OF : 0, lo);
	return 0;
}

static int f_imul_rr_32(struct x86_cpu *cpu, const struct x86_insn *in)
{
	int64_t p = (int64_t)(int32_t)cpu->gpr[in->reg] * (int32_t)cpu->gpr[in->rm];
	uint32_t lo = (uint32_t)p;

	cpu->gpr[in->reg] = lo;
	x86_lazy(cpu, X86_LF_SZP, 4, 0, p != (int64_t)(int32_t)lo ? X86_CF | X86_OF : 0, lo);
	return 0;
}

static int f_imul_rr_64_nf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	/* The low half of the product is the same signed or unsigned. */
	cpu->gpr[in->reg] = cpu->gpr[in->reg] * cpu->gpr[in->rm];
	return 0;
}

static int f_imul_rr_32_nf(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = (uint32_t)((int64_t)(int32_t)cpu->gpr[in->reg] * (int32_t)cpu->gpr[in->rm]);
	return 0;
}

static int f_mul_r_64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	fu128 p = (fu128)cpu->gpr[X86_RAX] * cpu->gpr[in->rm];
	uint64_t lo = (uint64_t)p, hi = (uint64_t)(p >> 64);

	cpu->gpr[X86_RAX] = lo;
	cpu->gpr[X86_RDX] = hi;
	x86_lazy(cpu, X86_LF_SZP, 8, 0, hi ? X86_CF | X86_OF : 0, lo);
	return 0;
}

static int f_mul_m_64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t s, lo, hi;
	fu128 p;
	int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &s, 8);

	if (unlikely(rc))
		return rc;
	p = (fu128)cpu->gpr[X86_RAX] * s;
	lo = (uint64_t)p;
	hi = (uint64_t)(p >> 64);
	cpu->gpr[X86_RAX] = lo;
	cpu->gpr[X86_RDX] = hi;
	x86_lazy(cpu, X86_LF_SZP, 8, 0, hi ? X86_CF | X86_OF : 0, lo);
	return 0;
}

/* MOVSXD r64, r/m32 (63 with REX.W, 64-bit mode). */
static int f_movsxd_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = (uint64_t)(int64_t)(int32_t)cpu->gpr[in->rm];
	return 0;
}

static int f_movsxd_m(struct x86_cpu *cpu, const struct x86_insn *in)
{
	int32_t v;
	int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &v, 4);

	if (unlikely(rc))
		return rc;
	cpu->gpr[in->reg] = (uint64_t)(int64_t)v;
	return 0;
}

/* PUSH/POP r64 in 64-bit mode (SS has no base there): straight through the
 * TLB entry when it maps the slot, else the generic x86_push/x86_pop. */
static int f_push64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v = cpu->gpr[in->reg], sp = cpu->gpr[X86_RSP] - 8;
	void *p = rmw_host(cpu, sp, 8);

	if (likely(p)) {
		memcpy(p, &v, 8);
		cpu->gpr[X86_RSP] = sp;
		return 0;
	}
	return x86_push(cpu, 8, v);
}

static int f_pop64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t sp = cpu->gpr[X86_RSP], v;
	const struct x86_tlb_entry *e = &cpu->tlb[X86_ACC_READ][(sp >> 12) & (X86_TLB_SIZE - 1)];

	if (likely(e->tag == (sp & ~0xfffull) && (sp & 0xfff) <= 0x1000 - 8)) {
		memcpy(&v, (void *)(uintptr_t)(sp + e->addend), 8);
	} else {
		int rc = x86_pop(cpu, 8, &v);

		if (unlikely(rc))
			return rc;
		cpu->gpr[in->reg] = v;
		return 0;
	}
	cpu->gpr[X86_RSP] = sp + 8;
	cpu->gpr[in->reg] = v; /* POP RSP: the popped value wins */
	return 0;
}

static int f_mov_rr_64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->rm] = cpu->gpr[in->reg];
	return 0;
}

static int f_mov_rr_32(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->rm] = (uint32_t)cpu->gpr[in->reg];
	return 0;
}

static int f_mov_rrr_64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = cpu->gpr[in->rm];
	return 0;
}

static int f_mov_rrr_32(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = (uint32_t)cpu->gpr[in->rm];
	return 0;
}

static int f_mov_ri(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = in->imm; /* decoder pre-masks 32-bit immediates */
	return 0;
}

static int f_mov_rmi(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->rm] = in->imm;
	return 0;
}

#define LDST(size, T)                                                                          \
	static int f_load_##size(struct x86_cpu *cpu, const struct x86_insn *in)                \
	{                                                                                        \
		T v;                                                                             \
		int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &v, sizeof(T));             \
		if (unlikely(rc))                                                                \
			return rc;                                                               \
		cpu->gpr[in->reg] = v;                                                           \
		return 0;                                                                        \
	}                                                                                        \
	static int f_store_##size(struct x86_cpu *cpu, const struct x86_insn *in)               \
	{                                                                                        \
		T v = (T)cpu->gpr[in->reg];                                                      \
		return x86_write_mem(cpu, in->seg, x86_ea(cpu, in), &v, sizeof(T));              \
	}
LDST(64, uint64_t)
LDST(32, uint32_t)

static int f_lea(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t a = (uint64_t)(int64_t)in->disp;

	if (in->base != X86_NOREG)
		a += in->base == X86_REG_RIP ? cpu->rip : cpu->gpr[in->base];
	if (in->index != X86_NOREG)
		a += cpu->gpr[in->index] << in->scale;
	cpu->gpr[in->reg] = in->opsize == 4 ? (uint32_t)a : a;
	return 0;
}

#define INCDEC(name, T, size, DELTA, LF)                                                        \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		uint64_t d = (T)cpu->gpr[in->rm], r = (T)(d DELTA);                              \
		bool cf = x86_get_cf(cpu);                                                       \
		cpu->rflags = (cpu->rflags & ~(uint64_t)X86_CF) | cf;                            \
		cpu->gpr[in->rm] = r;                                                            \
		x86_lazy(cpu, LF, size, d, 1, r);                                                \
		return 0;                                                                        \
	}
/* INC/DEC whose flags are dead (x86_fast_flags_pass). */
#define INCDEC_NF(name, T, DELTA)                                                               \
	static int name##_nf(struct x86_cpu *cpu, const struct x86_insn *in)                    \
	{                                                                                        \
		cpu->gpr[in->rm] = (T)(cpu->gpr[in->rm] DELTA);                                  \
		return 0;                                                                        \
	}
INCDEC_NF(f_inc_64, uint64_t, +1)
INCDEC_NF(f_inc_32, uint32_t, +1)
INCDEC_NF(f_dec_64, uint64_t, -1)
INCDEC_NF(f_dec_32, uint32_t, -1)
INCDEC(f_inc_64, uint64_t, 8, +1, X86_LF_INC)
INCDEC(f_inc_32, uint32_t, 4, +1, X86_LF_INC)
INCDEC(f_dec_64, uint64_t, 8, -1, X86_LF_DEC)
INCDEC(f_dec_32, uint32_t, 4, -1, X86_LF_DEC)

/* Condition cc with the common shapes inline: Z/NZ after any lazy
 * operation, and the comparisons after CMP/SUB of 32/64 bits. */
static inline bool fast_cond(struct x86_cpu *cpu, unsigned cc)
{
	unsigned op = cpu->lf_op;

	if ((cc & ~1u) == 4 && op != X86_LF_NONE) {
		/* ZF is "result is zero" for every lazy operation. */
		return ((cpu->lf_res & x86_mask(1u << (op & 3))) == 0) ^ (cc & 1);
	}
	if (op == X86_LF(X86_LF_SUB, 8) || op == X86_LF(X86_LF_SUB, 4)) {
		uint64_t d = cpu->lf_dst, s = cpu->lf_src;
		int64_t sd = (int64_t)d, ss = (int64_t)s;
		bool v;

		if (op == X86_LF(X86_LF_SUB, 4)) {
			d = (uint32_t)d;
			s = (uint32_t)s;
			sd = (int32_t)d;
			ss = (int32_t)s;
		}
		switch (cc >> 1) {
		case 1: v = d < s; break;
		case 3: v = d <= s; break;
		case 6: v = sd < ss; break;
		case 7: v = sd <= ss; break;
		default: return x86_cond(cpu, cc);
		}
		return v ^ (cc & 1);
	}
	return x86_cond(cpu, cc);
}

/* Jcc (64-bit mode). */
static int f_jcc(struct x86_cpu *cpu, const struct x86_insn *in)
{
	if (fast_cond(cpu, in->aux))
		cpu->rip += in->imm;
	return 0;
}

/* CMOVcc r32/r64, r/m (the 32-bit form zero-extends even when false). */
static int f_cmov_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v = fast_cond(cpu, in->aux) ? cpu->gpr[in->rm] : cpu->gpr[in->reg];

	cpu->gpr[in->reg] = in->opsize == 4 ? (uint32_t)v : v;
	return 0;
}

static int f_cmov_m(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v = 0;
	int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &v, in->opsize);

	if (unlikely(rc))
		return rc;
	if (!fast_cond(cpu, in->aux))
		v = cpu->gpr[in->reg];
	cpu->gpr[in->reg] = in->opsize == 4 ? (uint32_t)v : v;
	return 0;
}

/* CALL rel32 and RET in 64-bit mode: the stack slot straight through the
 * TLB when it is mapped, else the generic push/pop. */
static int f_call64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t v = cpu->rip, sp = cpu->gpr[X86_RSP] - 8;
	void *p = rmw_host(cpu, sp, 8);

	if (likely(p)) {
		memcpy(p, &v, 8);
		cpu->gpr[X86_RSP] = sp;
	} else {
		int rc = x86_push(cpu, 8, v);

		if (rc)
			return rc;
	}
	cpu->rip = v + in->imm;
	return 0;
}

static int f_ret64(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t sp = cpu->gpr[X86_RSP], t;
	const struct x86_tlb_entry *e = &cpu->tlb[X86_ACC_READ][(sp >> 12) & (X86_TLB_SIZE - 1)];

	(void)in;
	if (likely(e->tag == (sp & ~0xfffull) && (sp & 0xfff) <= 0x1000 - 8)) {
		memcpy(&t, (void *)(uintptr_t)(sp + e->addend), 8);
	} else {
		int rc = x86_pop(cpu, 8, &t);

		if (rc)
			return rc;
		cpu->gpr[X86_RSP] = sp; /* committed below */
	}
	/* A non-canonical return address faults on the RET itself. */
	if ((uint64_t)((int64_t)(t << 16) >> 16) != t)
		return x86_gp0(cpu);
	cpu->gpr[X86_RSP] = sp + 8;
	cpu->rip = t;
	return 0;
}

/* Shifts of a 32/64-bit register by an immediate (count already masked
 * non-zero at decode): SHL SHR SAR with eager flags. */
#define SHIFTI(name, T, size, BODY)                                                             \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		typedef T TT __attribute__((unused));                                            \
		const unsigned SZ __attribute__((unused)) = size, bits = size * 8, c = (unsigned)in->imm;                \
		uint64_t d = (T)cpu->gpr[in->rm], r;                                             \
		uint32_t f;                                                                      \
		BODY;                                                                            \
		cpu->gpr[in->rm] = (T)r;                                                         \
		x86_lazy(cpu, X86_LF_SZP, size, d, f, r); /* SF ZF PF when read; AF = 0 */     \
		return 0;                                                                        \
	}                                                                                        \
	static int name##_nf(struct x86_cpu *cpu, const struct x86_insn *in)                    \
	{                                                                                        \
		typedef T TT __attribute__((unused));                                            \
		const unsigned SZ __attribute__((unused)) = size, bits = size * 8, c = (unsigned)in->imm;                \
		uint64_t d = (T)cpu->gpr[in->rm], r;                                             \
		uint32_t f;                                                                      \
		BODY;                                                                            \
		(void)f;                                                                         \
		cpu->gpr[in->rm] = (T)r;                                                         \
		return 0;                                                                        \
	}
#define SHL_BODY                                                                               \
	r = (TT)(d << c);                                                                         \
	f = ((d >> (bits - c)) & 1) ? X86_CF : 0;                                               \
	f |= ((((r >> (bits - 1)) & 1) ^ !!(f & X86_CF))) ? X86_OF : 0
#define SHR_BODY                                                                               \
	r = d >> c;                                                                              \
	f = ((d >> (c - 1)) & 1) ? X86_CF : 0;                                                  \
	f |= ((d >> (bits - 1)) & 1) ? X86_OF : 0
#define SAR_BODY                                                                               \
	int64_t sd = x86_sext(d, SZ);                                                          \
	r = (TT)(sd >> c);                                                                        \
	f = ((sd >> (c - 1)) & 1) ? X86_CF : 0
SHIFTI(f_shl_64, uint64_t, 8, SHL_BODY)
SHIFTI(f_shl_32, uint32_t, 4, SHL_BODY)
SHIFTI(f_shr_64, uint64_t, 8, SHR_BODY)
SHIFTI(f_shr_32, uint32_t, 4, SHR_BODY)
SHIFTI(f_sar_64, uint64_t, 8, SAR_BODY)
SHIFTI(f_sar_32, uint32_t, 4, SAR_BODY)

/* MOVZX r32/r64, r8 (rm 16..19 are AH..BH) / r16 from a register. */
static int f_movzx8_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = *x86_r8p(cpu, in->rm);
	return 0;
}

static int f_movzx16_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	cpu->gpr[in->reg] = (uint16_t)cpu->gpr[in->rm];
	return 0;
}

static int f_movzx8_m(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint8_t v;
	int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &v, 1);

	if (unlikely(rc))
		return rc;
	cpu->gpr[in->reg] = v;
	return 0;
}

static int f_movzx16_m(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint16_t v;
	int rc = x86_read_mem(cpu, in->seg, x86_ea(cpu, in), &v, 2);

	if (unlikely(rc))
		return rc;
	cpu->gpr[in->reg] = v;
	return 0;
}

/* ROL/ROR of a 32/64-bit register by a non-zero immediate: CF and OF only. */
#define ROTI(name, T, size, LEFT)                                                               \
	static int name(struct x86_cpu *cpu, const struct x86_insn *in)                         \
	{                                                                                        \
		const unsigned bits = size * 8, k = (unsigned)in->imm & (bits - 1);             \
		T d = (T)cpu->gpr[in->rm], r;                                                    \
		uint32_t f;                                                                      \
		if (!k)                                                                          \
			r = d;                                                                   \
		else if (LEFT)                                                                   \
			r = (T)((d << k) | (d >> (bits - k)));                                   \
		else                                                                             \
			r = (T)((d >> k) | (d << (bits - k)));                                   \
		if (LEFT) {                                                                      \
			f = (r & 1) ? X86_CF : 0;                                                \
			f |= (((r >> (bits - 1)) ^ r) & 1) ? X86_OF : 0;                         \
		} else {                                                                         \
			f = ((r >> (bits - 1)) & 1) ? X86_CF : 0;                                \
			f |= (((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) ? X86_OF : 0;        \
		}                                                                                \
		cpu->gpr[in->rm] = r;                                                            \
		x86_flags_set(cpu, X86_CF | X86_OF, f);                                          \
		return 0;                                                                        \
	}
ROTI(f_rol_64, uint64_t, 8, 1)
ROTI(f_rol_32, uint32_t, 4, 1)
ROTI(f_ror_64, uint64_t, 8, 0)
ROTI(f_ror_32, uint32_t, 4, 0)

/* Rotates whose CF/OF are dead (x86_fast_flags_pass). */
#define ROTI_NF(name, T, size, LEFT)                                                            \
	static int name##_nf(struct x86_cpu *cpu, const struct x86_insn *in)                    \
	{                                                                                        \
		const unsigned bits = size * 8, k = (unsigned)in->imm & (bits - 1);             \
		T d = (T)cpu->gpr[in->rm];                                                       \
		if (k)                                                                           \
			d = LEFT ? (T)((d << k) | (d >> (bits - k)))                              \
				 : (T)((d >> k) | (d << (bits - k)));                             \
		cpu->gpr[in->rm] = d;                                                            \
		return 0;                                                                        \
	}
ROTI_NF(f_rol_64, uint64_t, 8, 1)
ROTI_NF(f_rol_32, uint32_t, 4, 1)
ROTI_NF(f_ror_64, uint64_t, 8, 0)
ROTI_NF(f_ror_32, uint32_t, 4, 0)

/* SETcc to a register (opsize 1 decoded: rm may be AH..BH). */
static int f_setcc_r(struct x86_cpu *cpu, const struct x86_insn *in)
{
	*x86_r8p(cpu, in->rm) = x86_cond(cpu, in->aux);
	return 0;
}

x86_handler x86_fast_handler(const struct x86_cpu *cpu, struct x86_insn *in);
x86_handler x86_fast_handler(const struct x86_cpu *cpu, struct x86_insn *in)
{
	unsigned w = in->opsize == 8, op = in->op;
	bool sz = in->opsize == 8 || in->opsize == 4;
	bool reg = in->mod == 3, lock = in->pfx & X86_P_LOCK;

	if (lock)
		return NULL;
	if (in->map == X86_MAP_0F && op >= 0x90 && op <= 0x9f && reg)
		return f_setcc_r;
	if (!sz)
		return NULL;
	if (in->map == X86_MAP_1B) {
		if (op < 0x40 && (op & 7) == 1)
			return reg ? alu_rr[w][op >> 3] : alu_mr_mem[w][op >> 3];
		if (op < 0x40 && (op & 7) == 3)
			return reg ? alu_rr_rev[w][op >> 3] : alu_rm_mem[w][op >> 3];
		if (op == 0x81 || op == 0x83) {
			if (!w)
				in->imm = (uint32_t)in->imm;
			return reg ? alu_ri[w][(in->modrm >> 3) & 7]
				   : alu_mi_mem[w][(in->modrm >> 3) & 7];
		}
		if (op == 0x85)
			return reg ? (w ? f_test_64 : f_test_32) : (w ? n_test_64 : n_test_32);
		if (op == 0xf7 && ((in->modrm >> 3) & 7) == 0) {
			if (!w)
				in->imm = (uint32_t)in->imm;
			return reg ? (w ? f_test_64_i : f_test_32_i) : (w ? n_test_64_i : n_test_32_i);
		}
		if (op == 0xf7 && ((in->modrm >> 3) & 7) == 4 && w)
			return reg ? f_mul_r_64 : f_mul_m_64;
		if (op == 0x89)
			return reg ? (w ? f_mov_rr_64 : f_mov_rr_32) : (w ? f_store_64 : f_store_32);
		if (op == 0x8b)
			return reg ? (w ? f_mov_rrr_64 : f_mov_rrr_32) : (w ? f_load_64 : f_load_32);
		if (op >= 0xb8 && op <= 0xbf) {
			if (!w)
				in->imm = (uint32_t)in->imm;
			return f_mov_ri;
		}
		if (op == 0xc7 && ((in->modrm >> 3) & 7) == 0) {
			if (!w)
				in->imm = (uint32_t)in->imm;
			return reg ? f_mov_rmi : (w ? f_store_i_64 : f_store_i_32);
		}
		if (op == 0x8d && in->adsize == 8)
			return f_lea;
		if (op == 0xff && reg && ((in->modrm >> 3) & 7) < 2)
			return ((in->modrm >> 3) & 7) ? (w ? f_dec_64 : f_dec_32)
						      : (w ? f_inc_64 : f_inc_32);
		if (op == 0xc1 && reg) {
			unsigned c = (unsigned)in->imm & (w ? 63 : 31), g = (in->modrm >> 3) & 7;

			if (c == 0)
				return NULL;
			in->imm = c;
			if (g == 4 || g == 6)
				return w ? f_shl_64 : f_shl_32;
			if (g == 5)
				return w ? f_shr_64 : f_shr_32;
			if (g == 7)
				return w ? f_sar_64 : f_sar_32;
			if (g == 0)
				return w ? f_rol_64 : f_rol_32;
			if (g == 1)
				return w ? f_ror_64 : f_ror_32;
		}
		if (op >= 0x70 && op <= 0x7f && cpu->mode == X86_MODE_LONG64)
			return f_jcc;
		if (op == 0xe8 && cpu->mode == X86_MODE_LONG64 && in->opsize == 8)
			return f_call64;
		if (op == 0xc3 && cpu->mode == X86_MODE_LONG64 && in->opsize == 8)
			return f_ret64;
		if (cpu->mode == X86_MODE_LONG64 && w) {
			if (op >= 0x50 && op <= 0x57)
				return f_push64;
			if (op >= 0x58 && op <= 0x5f)
				return f_pop64;
			if (op == 0x63)
				return reg ? f_movsxd_r : f_movsxd_m;
		}
	} else if (in->map == X86_MAP_0F) {
		if (op >= 0x80 && op <= 0x8f && cpu->mode == X86_MODE_LONG64)
			return f_jcc;
		if (op >= 0x40 && op <= 0x4f)
			return reg ? f_cmov_r : f_cmov_m;
		if (op == 0xaf && reg)
			return w ? f_imul_rr_64 : f_imul_rr_32;
		/* MOVZX to 32/64 bits zero-extends to 64 either way. */
		if (op == 0xb6)
			return reg ? f_movzx8_r : f_movzx8_m;
		if (op == 0xb7)
			return reg ? f_movzx16_r : f_movzx16_m;
	}
	return NULL;
}

/* A CMP or TEST whose flags nobody reads does nothing. */
static int f_nop(struct x86_cpu *cpu, const struct x86_insn *in)
{
	(void)cpu;
	(void)in;
	return 0;
}

_Static_assert(sizeof(struct x86_insn) == 40, "x86_insn grew");
/*
 * Flag liveness within a block. Handlers in `kill` write all six status
 * flags without reading them and cannot fault; the paired handler does the
 * same work without recording flags. Handlers in `neutral` neither read
 * nor write flags and cannot fault. Everything else (memory accesses,
 * which may fault and let an exception handler see RFLAGS, generic
 * handlers, flag readers) counts as reading the flags, and so does the end
 * of the block, where interrupts and the embedder may look at them.
 */
static const x86_handler kill[][2] = {
#define K2(op) { f_##op##_64, f_##op##_64_nf }, { f_##op##_32, f_##op##_32_nf },         \
	{ f_##op##_64_i, f_##op##_64_i_nf }, { f_##op##_32_i, f_##op##_32_i_nf },         \
	{ g_##op##_64, g_##op##_64_nf }, { g_##op##_32, g_##op##_32_nf }
	K2(add), K2(or), K2(and), K2(sub), K2(xor),
#undef K2
	{ f_cmp_64, f_nop }, { f_cmp_32, f_nop }, { f_cmp_64_i, f_nop }, { f_cmp_32_i, f_nop },
	{ g_cmp_64, f_nop }, { g_cmp_32, f_nop },
	{ f_test_64, f_nop }, { f_test_32, f_nop }, { f_test_64_i, f_nop }, { f_test_32_i, f_nop },
	{ f_shl_64, f_shl_64_nf }, { f_shl_32, f_shl_32_nf }, { f_shr_64, f_shr_64_nf },
	{ f_shr_32, f_shr_32_nf }, { f_sar_64, f_sar_64_nf }, { f_sar_32, f_sar_32_nf },
	{ f_imul_rr_64, f_imul_rr_64_nf }, { f_imul_rr_32, f_imul_rr_32_nf },
};
/* Writers of some flags only (INC/DEC keep CF, rotates write CF/OF): when
 * their flags are dead they skip them and leave liveness as it is; when
 * live they also pass the older flags through, so they count as reads. */
static const x86_handler partial[][2] = {
	{ f_inc_64, f_inc_64_nf }, { f_inc_32, f_inc_32_nf },
	{ f_dec_64, f_dec_64_nf }, { f_dec_32, f_dec_32_nf },
	{ f_rol_64, f_rol_64_nf }, { f_rol_32, f_rol_32_nf },
	{ f_ror_64, f_ror_64_nf }, { f_ror_32, f_ror_32_nf },
};
static const x86_handler neutral[] = {
	f_mov_rr_64, f_mov_rr_32, f_mov_rrr_64, f_mov_rrr_32, f_mov_ri, f_mov_rmi, f_lea,
	f_movzx8_r, f_movzx16_r, f_movsxd_r,
};

bool x86_fast_flags_pass(struct x86_insn *insns, unsigned n);
bool x86_fast_flags_pass(struct x86_insn *insns, unsigned n)
{
	bool live = true, changed = false;
	unsigned i, k;

	for (i = n; i-- > 0;) {
		x86_handler h = insns[i].h;
		int cls = 0; /* 0 reads, 1 kills, 2 neutral */

		for (k = 0; k < sizeof(kill) / sizeof(kill[0]) && !cls; k++)
			if (kill[k][0] == h) {
				cls = 1;
				if (!live) {
					insns[i].h = kill[k][1];
					insns[i].nf = (uint8_t)(k + 1);
					changed = true;
				}
			}
		for (k = 0; k < sizeof(partial) / sizeof(partial[0]) && !cls; k++)
			if (partial[k][0] == h) {
				if (live) {
					cls = 0;
					break;
				}
				insns[i].h = partial[k][1];
				insns[i].nf = (uint8_t)(0x80 | k);
				changed = true;
				cls = 2;
			}
		for (k = 0; k < sizeof(neutral) / sizeof(neutral[0]) && !cls; k++)
			if (neutral[k] == h)
				cls = 2;
		if (cls == 1)
			live = false;
		else if (cls == 0)
			live = true;
	}
	return changed;
}

/* The flag-recording handler of an instruction the pass changed: a block
 * cut short by the budget must leave exact flags where it stops. */
x86_handler x86_fast_full(const struct x86_insn *in);
x86_handler x86_fast_full(const struct x86_insn *in)
{
	if (in->nf & 0x80)
		return partial[in->nf & 0x7f][0];
	return in->nf ? kill[in->nf - 1][0] : in->h;
}

/*
 * What the JIT (exec_jit.c) may emit inline instead of calling the handler:
 * register moves and the flag-less register ALU forms above, which cannot
 * fault and touch nothing but general registers. Returns false otherwise.
 */
struct x86_jit_op {
	uint8_t kind;  /* 1 mov dst<-src, 2 alu dst op= src, 3 alu dst op= imm, 4 dst <- imm,
			* 5 rotate dst by imm (alu 0 left, 1 right) */
	uint8_t alu;   /* 0 add, 1 or, 4 and, 5 sub, 6 xor, 8 imul (kind 2 only) */
	uint8_t w64;   /* 64-bit operation (else 32-bit, zero-extending) */
	uint8_t dst, src;
	uint64_t imm;
};
bool x86_fast_jit_op(const struct x86_insn *in, struct x86_jit_op *op);
bool x86_fast_jit_op(const struct x86_insn *in, struct x86_jit_op *op)
{
	static const struct {
		x86_handler h;
		uint8_t kind, alu, w64, rev; /* rev: dst is in->reg */
	} t[] = {
		{ f_mov_rr_64, 1, 0, 1, 0 }, { f_mov_rr_32, 1, 0, 0, 0 },
		{ f_mov_rrr_64, 1, 0, 1, 1 }, { f_mov_rrr_32, 1, 0, 0, 1 },
#define J(op, n) { f_##op##_64_nf, 2, n, 1, 0 }, { f_##op##_32_nf, 2, n, 0, 0 },                \
		 { g_##op##_64_nf, 2, n, 1, 1 }, { g_##op##_32_nf, 2, n, 0, 1 },                 \
		 { f_##op##_64_i_nf, 3, n, 1, 0 }, { f_##op##_32_i_nf, 3, n, 0, 0 }
		J(add, 0), J(or, 1), J(and, 4), J(sub, 5), J(xor, 6),
#undef J
		{ f_imul_rr_64_nf, 2, 8, 1, 1 }, { f_imul_rr_32_nf, 2, 8, 0, 1 },
		{ f_mov_ri, 4, 0, 1, 1 }, { f_mov_rmi, 4, 0, 1, 0 },
		{ f_inc_64_nf, 3, 0, 1, 0 }, { f_inc_32_nf, 3, 0, 0, 0 },
		{ f_dec_64_nf, 3, 5, 1, 0 }, { f_dec_32_nf, 3, 5, 0, 0 },
		{ f_rol_64_nf, 5, 0, 1, 0 }, { f_rol_32_nf, 5, 0, 0, 0 },
		{ f_ror_64_nf, 5, 1, 1, 0 }, { f_ror_32_nf, 5, 1, 0, 0 },
	};
	unsigned k;

	/* Loads (kind 6, alu = size): the JIT emits the read-TLB fast path and
	 * calls the handler on a miss. Only without a segment base. */
	if ((in->h == f_load_64 || in->h == f_load_32 || in->h == f_movzx8_m) &&
	    in->adsize == 8 && in->seg < X86_FS && in->reg < 16) {
		op->kind = 6;
		op->alu = in->h == f_load_64 ? 8 : in->h == f_load_32 ? 4 : 1;
		op->w64 = 1;
		op->dst = in->reg;
		op->src = 0;
		op->imm = 0;
		return true;
	}
	/* Stores (kind 7: gpr[src], kind 8: sign-extended imm32; alu = size):
	 * the JIT emits the write-TLB fast path (write entries never map code
	 * pages, so a hit cannot modify a block) and calls the handler on a
	 * miss. Only without a segment base. */
	if ((in->h == f_store_64 || in->h == f_store_32 || in->h == f_store_i_64 ||
	     in->h == f_store_i_32) &&
	    in->adsize == 8 && in->seg < X86_FS && in->reg < 16) {
		bool imm = in->h == f_store_i_64 || in->h == f_store_i_32;

		op->kind = imm ? 8 : 7;
		op->alu = in->h == f_store_64 || in->h == f_store_i_64 ? 8 : 4;
		op->w64 = op->alu == 8;
		op->dst = 0;
		op->src = imm ? 0 : in->reg;
		op->imm = in->imm;
		if (imm && op->alu == 8 && (int64_t)op->imm != (int32_t)op->imm)
			return false;
		return true;
	}
	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		if (t[k].h != in->h)
			continue;
		op->kind = t[k].kind;
		op->alu = t[k].alu;
		op->w64 = t[k].w64;
		op->dst = t[k].rev ? in->reg : in->rm;
		op->src = t[k].rev ? in->rm : in->reg;
		op->imm = in->imm;
		if (t[k].h == f_inc_64_nf || t[k].h == f_inc_32_nf || t[k].h == f_dec_64_nf ||
		    t[k].h == f_dec_32_nf)
			op->imm = 1;
		if (op->kind == 5)
			op->imm &= op->w64 ? 63 : 31;
		if (op->dst > 15 || (op->kind <= 2 && op->src > 15))
			return false;
		/* An immediate ALU operand must fit a sign-extended imm32. */
		if (op->kind == 3 && op->w64 && (int64_t)op->imm != (int32_t)op->imm)
			return false;
		return true;
	}
	return false;
}
