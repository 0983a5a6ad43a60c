/*
 * Internal contract between the decoder, the block executor and the
 * instruction handlers of the software CPU.
 *
 * Handler rules:
 * - When a handler runs, cpu->rip already points to the NEXT instruction
 *   (what RIP-relative addressing and relative branches need). A handler
 *   that transfers control writes cpu->rip itself.
 * - A handler returns 0, or an enum x86_stop. On X86_STOP_EXCEPTION
 *   (x86_raise()) or X86_STOP_MEM_ERROR the executor moves RIP back to the
 *   instruction, so a handler must not change architectural state before
 *   its last possible fault (write RIP and registers last).
 * - Handlers never loop on guest input without bound (REP is bounded by
 *   the executor's budget: string handlers do a chunk and re-execute).
 */
#ifndef PETREL_CPU_X86_INSN_H
#define PETREL_CPU_X86_INSN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/x86/cpu.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct x86_insn;
typedef int (*x86_handler)(struct x86_cpu *cpu, const struct x86_insn *in);

/* x86_insn.pfx bits (prefixes actually present). */
#define X86_P_LOCK  0x01
#define X86_P_REP   0x02 /* F3 */
#define X86_P_REPNE 0x04 /* F2 */
#define X86_P_OPSZ  0x08 /* 66 */
#define X86_P_ADSZ  0x10 /* 67 */
#define X86_P_REX   0x20 /* a REX prefix (changes byte-register meaning) */
#define X86_P_SEG   0x40 /* explicit segment override */
#define X86_P_END   0x80 /* ends its block (control transfer, mode change) */

#define X86_NOREG  0xff
#define X86_REG_RIP 16   /* base = RIP (RIP-relative) */

/* Mandatory prefix (x86_opdesc.mpfx / x86_insn.mpfx). */
enum { X86_MP_NONE, X86_MP_66, X86_MP_F3, X86_MP_F2, X86_MP_ANY = 0xf };

/* Opcode maps. */
enum { X86_MAP_1B, X86_MAP_0F, X86_MAP_0F38, X86_MAP_0F3A };

struct x86_insn {
	x86_handler h;
	uint64_t imm;   /* immediate, sign-extended to 64 bits where the ISA does */
	int32_t disp;   /* displacement (sign-extended) */
	uint16_t imm2;  /* second immediate: ENTER level, far pointer selector */
	uint8_t len;    /* instruction length in bytes */
	uint8_t opsize; /* operand size in bytes: 1, 2, 4, 8 */
	uint8_t adsize; /* address size in bytes: 2, 4, 8 */
	uint8_t pfx;    /* X86_P_* */
	uint8_t rex;    /* REX byte low nibble (W R X B) */
	uint8_t mpfx;   /* mandatory prefix in effect: X86_MP_* */
	uint8_t map;    /* X86_MAP_* */
	uint8_t op;     /* opcode byte within the map */
	uint8_t modrm;
	uint8_t mod;    /* ModRM.mod; 3 = register operand */
	/*
	 * Register numbers 0..15 with REX applied. For byte operands without
	 * REX, 4..7 mean AH CH DH BH and are stored as 16..19 (x86_r8p()).
	 * reg = ModRM.reg (or the register in the low opcode bits).
	 */
	uint8_t reg;
	uint8_t rm;     /* ModRM.rm register when mod == 3 */
	uint8_t base;   /* memory operand: 0..15, X86_REG_RIP or X86_NOREG */
	uint8_t index;  /* 0..15 or X86_NOREG */
	uint8_t scale;  /* shift count 0..3 */
	uint8_t seg;    /* effective segment for the memory operand */
	uint8_t aux;    /* handler-specific (condition code, ALU op, ...) */
	/* Nonzero when the block's flag-liveness pass gave h a variant that
	 * skips dead flags: x86_fast_full() returns the exact handler. */
	uint8_t nf;
};

/* x86_opdesc.flags */
#define X86_F_MODRM   (1u << 0)  /* has ModRM */
#define X86_F_IMM8    (1u << 1)  /* 8-bit immediate, sign-extended */
#define X86_F_IMMZ    (1u << 2)  /* 16/32-bit immediate by operand size, sign-extended */
#define X86_F_IMMV    (1u << 3)  /* 16/32/64-bit immediate (MOV r, imm64) */
#define X86_F_IMM16   (1u << 4)  /* 16-bit immediate (RET imm16, ENTER first) */
#define X86_F_MOFFS   (1u << 5)  /* address-size immediate offset (A0-A3) */
#define X86_F_FARPTR  (1u << 6)  /* ptr16:16/32 (not in 64-bit mode) */
#define X86_F_BYTE    (1u << 7)  /* operand size is 1 */
#define X86_F_DEF64   (1u << 8)  /* 64-bit default operand size in long mode */
#define X86_F_F64     (1u << 9)  /* operand size forced to 64 in long mode (Jcc, CALL) */
#define X86_F_INV64   (1u << 10) /* #UD in 64-bit mode */
#define X86_F_LOCK    (1u << 11) /* LOCK allowed (with a memory destination) */
#define X86_F_BRANCH  (1u << 12) /* ends a block */
#define X86_F_REG     (1u << 13) /* only mod == 3 */
#define X86_F_MEM     (1u << 14) /* only mod != 3 */
#define X86_F_OPREG   (1u << 15) /* register in opcode bits 2:0 (+REX.B) */
#define X86_F_IMM8U   (1u << 16) /* 8-bit immediate, zero-extended */
#define X86_F_ENTER   (1u << 17) /* imm16 then imm8 (in imm2) */
#define X86_F_FPU     (1u << 18) /* handled by fpu/ (fpu_exec) */
#define X86_F_OS32    (1u << 19) /* operand size 32 unless 66 (REX.W ignored) */
#define X86_F_RM8     (1u << 20) /* r/m is a byte register (MOVZX/MOVSX r, r/m8) */
#define X86_F_ONLY64  (1u << 21) /* #UD outside 64-bit mode */

/*
 * One opcode table entry. Tables are merged at init into a per-(map, opcode)
 * index; the decoder picks the first entry whose mpfx, reg and mod match.
 */
struct x86_opdesc {
	uint8_t map;      /* X86_MAP_* */
	uint8_t op;       /* opcode byte */
	uint8_t mpfx;     /* X86_MP_NONE/66/F3/F2, or X86_MP_ANY (66 then sizes the operand) */
	int8_t reg;       /* ModRM.reg group extension 0..7, or -1 */
	uint8_t aux;      /* copied to x86_insn.aux */
	uint32_t flags;   /* X86_F_* */
	x86_handler h;
};

/* The core's tables (one per family file) and fpu/'s, merged by decode.c. */
struct x86_optable {
	const struct x86_opdesc *ops;
	unsigned count;
};
extern const struct x86_optable x86_tab_alu, x86_tab_shift, x86_tab_muldiv, x86_tab_bit,
	x86_tab_string, x86_tab_control, x86_tab_stack, x86_tab_misc, x86_tab_mov;

/* ---------------- lazy flags (flags.c) ---------------- */

/* lf_op = X86_LF_<op> * 4 + log2(size). */
enum {
	X86_LF_NONE = 0, X86_LF_ADD, X86_LF_ADC, X86_LF_SUB, X86_LF_SBB, X86_LF_LOGIC,
	X86_LF_INC, X86_LF_DEC, X86_LF_NEG,
	/* SF ZF PF from the result; CF OF AF are the bits given in lf_src
	 * (shifts, multiplies: their flags are known when they execute). */
	X86_LF_SZP,
};
#define X86_LF(op, size) ((op) * 4 + (__builtin_ctz(size)))

static inline void x86_lazy(struct x86_cpu *cpu, unsigned op, unsigned size, uint64_t dst,
			    uint64_t src, uint64_t res)
{
	cpu->lf_op = X86_LF(op, size);
	cpu->lf_dst = dst;
	cpu->lf_src = src;
	cpu->lf_res = res;
}

/* Status flags now (CF PF AF ZF SF OF), materialising lazy state. */
uint32_t x86_status_flags(struct x86_cpu *cpu);
/* Fold the lazy state into cpu->rflags (after which lf_op == NONE). */
static inline void x86_flags_sync(struct x86_cpu *cpu)
{
	if (cpu->lf_op != X86_LF_NONE) {
		uint32_t f = x86_status_flags(cpu);
		cpu->rflags = (cpu->rflags & ~(uint64_t)X86_STATUS_FLAGS) | f;
		cpu->lf_op = X86_LF_NONE;
	}
}
/* Replace the status flags selected by mask (others kept). */
static inline void x86_flags_set(struct x86_cpu *cpu, uint32_t mask, uint32_t val)
{
	x86_flags_sync(cpu);
	cpu->rflags = (cpu->rflags & ~(uint64_t)mask) | (val & mask);
}
/* Carry flag only (fast for ADC/SBB/RCL). */
bool x86_get_cf(struct x86_cpu *cpu);
/* Evaluate condition code cc (0..15, Jcc encoding). */
bool x86_cond(struct x86_cpu *cpu, unsigned cc);
/* Parity of the low byte (PF: set when even). */
static inline uint32_t x86_parity(uint64_t v)
{
	return __builtin_parity((unsigned)(v & 0xff)) ? 0 : X86_PF;
}
/* Flags SF ZF PF of a result of size bytes. */
static inline uint32_t x86_szp(uint64_t r, unsigned size)
{
	unsigned bits = size * 8;
	uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1;
	uint32_t f = x86_parity(r);

	if ((r & m) == 0)
		f |= X86_ZF;
	if ((r >> (bits - 1)) & 1)
		f |= X86_SF;
	return f;
}

static inline uint64_t x86_mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline int64_t x86_sext(uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	}
	return (int64_t)v;
}

/* ---------------- registers ---------------- */

static inline uint8_t *x86_r8p(struct x86_cpu *cpu, unsigned r)
{
	if (r >= 16)
		return (uint8_t *)&cpu->gpr[r - 16] + 1; /* AH CH DH BH (little-endian host) */
	return (uint8_t *)&cpu->gpr[r];
}

static inline uint64_t x86_getreg(struct x86_cpu *cpu, unsigned r, unsigned size)
{
	switch (size) {
	case 1: return *x86_r8p(cpu, r);
	case 2: return (uint16_t)cpu->gpr[r];
	case 4: return (uint32_t)cpu->gpr[r];
	}
	return cpu->gpr[r];
}

/* 32-bit writes zero-extend, 8/16-bit writes merge. */
static inline void x86_setreg(struct x86_cpu *cpu, unsigned r, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: *x86_r8p(cpu, r) = (uint8_t)v; break;
	case 2: cpu->gpr[r] = (cpu->gpr[r] & ~0xffffull) | (uint16_t)v; break;
	case 4: cpu->gpr[r] = (uint32_t)v; break;
	default: cpu->gpr[r] = v; break;
	}
}

/* ---------------- exceptions ---------------- */

/* Record an exception; returns X86_STOP_EXCEPTION for the handler to return. */
int x86_raise(struct x86_cpu *cpu, unsigned vector, bool has_error, uint32_t error);
static inline int x86_ud(struct x86_cpu *cpu)
{
	return x86_raise(cpu, X86_EXC_UD, false, 0);
}
static inline int x86_gp0(struct x86_cpu *cpu)
{
	return x86_raise(cpu, X86_EXC_GP, true, 0);
}

/* ---------------- memory (mmu.c) ---------------- */

/* Effective address (segment offset) of the memory operand, wrapped to the
 * address size. */
static inline uint64_t x86_ea(const struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t a = (uint64_t)(int64_t)in->disp;

	if (in->base != X86_NOREG)
		a += in->base == X86_REG_RIP ? cpu->rip : cpu->gpr[in->base];
	if (in->index != X86_NOREG)
		a += cpu->gpr[in->index] << in->scale;
	if (in->adsize == 4)
		a = (uint32_t)a;
	else if (in->adsize == 2)
		a = (uint16_t)a;
	return a;
}

/*
 * Segment offset -> linear address with the limit check of 16/32-bit modes
 * (#GP(0), or #SS(0) for SS). In 64-bit mode only FS/GS have a base; no
 * canonical check in part 1 (documented gap). Returns 0 or a stop code.
 * Expand-down data segments are treated as expand-up (documented gap).
 */
int x86_seg_check(struct x86_cpu *cpu, unsigned seg, uint64_t off, unsigned len,
		  uint64_t *la);

static inline int x86_linear(struct x86_cpu *cpu, unsigned seg, uint64_t off, unsigned len,
			     uint64_t *la)
{
	if (likely(cpu->mode == X86_MODE_LONG64)) {
		*la = seg >= X86_FS ? off + cpu->seg[seg].base : off;
		return 0;
	}
	return x86_seg_check(cpu, seg, off, len, la);
}

/* Slow paths: TLB fill, MMIO, page-crossing, code-page invalidation. */
int x86_read_slow(struct x86_cpu *cpu, uint64_t la, void *buf, unsigned len);
int x86_write_slow(struct x86_cpu *cpu, uint64_t la, const void *buf, unsigned len);

static inline int x86_read_lin(struct x86_cpu *cpu, uint64_t la, void *buf, unsigned len)
{
	const struct x86_tlb_entry *e = &cpu->tlb[X86_ACC_READ][(la >> 12) & (X86_TLB_SIZE - 1)];

	if (likely(e->tag == (la & ~0xfffull) && (la & 0xfff) + len <= 0x1000)) {
		memcpy(buf, (void *)(uintptr_t)(la + e->addend), len);
		return 0;
	}
	return x86_read_slow(cpu, la, buf, len);
}

static inline int x86_write_lin(struct x86_cpu *cpu, uint64_t la, const void *buf, unsigned len)
{
	const struct x86_tlb_entry *e = &cpu->tlb[X86_ACC_WRITE][(la >> 12) & (X86_TLB_SIZE - 1)];

	if (likely(e->tag == (la & ~0xfffull) && (la & 0xfff) + len <= 0x1000)) {
		memcpy((void *)(uintptr_t)(la + e->addend), buf, len);
		return 0;
	}
	return x86_write_slow(cpu, la, buf, len);
}

/* A non-canonical stack access is #SS(0), not #GP(0) (slow path). */
static inline int x86_ss_fault(struct x86_cpu *cpu, unsigned seg, int r)
{
	if (r == X86_STOP_EXCEPTION && seg == X86_SS && cpu->exc_vector == X86_EXC_GP &&
	    cpu->mode == X86_MODE_LONG64)
		cpu->exc_vector = X86_EXC_SS;
	return r;
}

/* Read/write len (1..16) bytes at seg:off. */
static inline int x86_read_mem(struct x86_cpu *cpu, unsigned seg, uint64_t off, void *buf,
			       unsigned len)
{
	uint64_t la;
	int r = x86_linear(cpu, seg, off, len, &la);

	if (likely(!r))
		r = x86_read_lin(cpu, la, buf, len);
	return unlikely(r) ? x86_ss_fault(cpu, seg, r) : 0;
}

static inline int x86_write_mem(struct x86_cpu *cpu, unsigned seg, uint64_t off,
				const void *buf, unsigned len)
{
	uint64_t la;
	int r = x86_linear(cpu, seg, off, len, &la);

	if (likely(!r))
		r = x86_write_lin(cpu, la, buf, len);
	return unlikely(r) ? x86_ss_fault(cpu, seg, r) : 0;
}

/* Integer of size 1/2/4/8 at seg:off, zero-extended. */
static inline int x86_ld(struct x86_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
			 uint64_t *v)
{
	*v = 0;
	return x86_read_mem(cpu, seg, off, v, size);
}

static inline int x86_st(struct x86_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
			 uint64_t v)
{
	return x86_write_mem(cpu, seg, off, &v, size);
}

/* The r/m operand (register or memory) of in->opsize. */
static inline int x86_rm_read(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t *v)
{
	if (in->mod == 3) {
		*v = x86_getreg(cpu, in->rm, in->opsize);
		return 0;
	}
	return x86_ld(cpu, in->seg, x86_ea(cpu, in), in->opsize, v);
}

static inline int x86_rm_write(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t v)
{
	if (in->mod == 3) {
		x86_setreg(cpu, in->rm, in->opsize, v);
		return 0;
	}
	return x86_st(cpu, in->seg, x86_ea(cpu, in), in->opsize, v);
}

/*
 * Host pointer for an atomic (LOCKed) access of len bytes at la, or NULL when
 * the access is MMIO, crosses a page or is misaligned for the host atomics;
 * the caller then falls back to a plain read-modify-write (correct on one
 * vCPU; documented). Invalidates code on the page like any write.
 */
void *x86_host_ptr_rw(struct x86_cpu *cpu, uint64_t la, unsigned len, int *err);

/*
 * Read-modify-write of the r/m operand (register or memory). With LOCK the
 * write is a compare-and-swap on the host page: x86_rmw_write() returns
 * X86_RMW_RETRY when another thread changed the value, and the handler
 * recomputes from a fresh x86_rmw_read(). Flags are set after success.
 */
struct x86_rmw {
	uint64_t la;
	void *host; /* non-NULL: locked access through host atomics */
};
#define X86_RMW_RETRY (-1)
int x86_rmw_read(struct x86_cpu *cpu, const struct x86_insn *in, struct x86_rmw *r,
		 uint64_t *v);
int x86_rmw_write(struct x86_cpu *cpu, const struct x86_insn *in, struct x86_rmw *r,
		  uint64_t old, uint64_t v);

/* Port I/O through the embedder's callbacks (with the I/O error rule). */
int x86_pio_in(struct x86_cpu *cpu, uint16_t port, unsigned size, uint32_t *v);
int x86_pio_out(struct x86_cpu *cpu, uint16_t port, unsigned size, uint32_t v);

/* ---------------- stack (exec_stack.c) ---------------- */

static inline uint64_t x86_sp_mask(const struct x86_cpu *cpu)
{
	return cpu->ss32 == 8 ? ~0ull : cpu->ss32 == 4 ? 0xffffffffull : 0xffffull;
}
/* Push/pop size bytes; RSP is updated only when the access succeeds. */
int x86_push(struct x86_cpu *cpu, unsigned size, uint64_t v);
int x86_pop(struct x86_cpu *cpu, unsigned size, uint64_t *v);

/* ---------------- misc ---------------- */

/* Load a segment register in a MOV/POP Sreg way (real mode: base = sel*16;
 * protected mode: from the GDT/LDT with the basic checks). */
int x86_load_seg(struct x86_cpu *cpu, unsigned seg, uint16_t sel);

/* Branch target wrapped to the operand size (16/32-bit IP). */
static inline uint64_t x86_ip_wrap(const struct x86_insn *in, uint64_t ip)
{
	return in->opsize == 2 ? (uint16_t)ip : in->opsize == 4 ? (uint32_t)ip : ip;
}

/* Decoder (decode.c): decode one instruction from the bytes at p (up to n
 * valid bytes, n may be < 15 near the end of mapped code). Returns the
 * length, 0 when more bytes are needed than n, or a negative value:
 * -X86_EXC_UD - 1 or -X86_EXC_GP - 1 (15-byte limit). */
int x86_decode(const struct x86_cpu *cpu, const uint8_t *p, unsigned n, struct x86_insn *in);
int x86_decode_init(void);

#endif
