/*
 * cpu-diff: the software CPU checked against the host processor.
 *
 * A case is a short instruction sequence plus a complete input state (GPRs,
 * user flags, FXSAVE image with x87/MMX/SSE state, a data page and a stack
 * page). It runs twice: natively in a forked child with everything mapped at
 * the same fixed addresses (native.c), and in the engine (engine.c). The two
 * outcomes are compared field by field (compare.c).
 */
#ifndef PETREL_TESTS_CPU_DIFF_H
#define PETREL_TESTS_CPU_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Fixed guest addresses, identical natively and in the engine. */
#define CD_CODE_BASE  0x10000000ull /* stub prologue, test code, epilogue */
#define CD_CODE_SIZE  0x1000u
#define CD_TEST_ADDR  (CD_CODE_BASE + 0x200) /* first test instruction */
#define CD_EPI_ADDR   (CD_CODE_BASE + 0x800) /* native epilogue */
#define CD_DATA_BASE  0x10100000ull          /* memory operands */
#define CD_DATA_SIZE  0x1000u
#define CD_STACK_BASE 0x10200000ull /* guest stack page */
#define CD_STACK_SIZE 0x1000u
#define CD_SAVE_BASE  0x10300000ull /* native-only: state load/save area */

#define CD_CODE_MAX  0x200u /* test bytes; TEST_ADDR + this + a jmp stays below EPI */
#define CD_UNITS_MAX 16     /* instructions (or small fixed groups) per case */

/* RFLAGS bits the tester sets and compares. */
#define CD_CF 0x0001u
#define CD_PF 0x0004u
#define CD_AF 0x0010u
#define CD_ZF 0x0040u
#define CD_SF 0x0080u
#define CD_TF 0x0100u
#define CD_IF 0x0200u
#define CD_DF 0x0400u
#define CD_OF 0x0800u
#define CD_STATUS_FLAGS (CD_CF | CD_PF | CD_AF | CD_ZF | CD_SF | CD_OF)
/* What user code can change with POPF and we compare: status, DF, NT, AC, ID. */
#define CD_CMP_FLAGS (CD_STATUS_FLAGS | CD_DF | 0x4000u | 0x40000u | 0x200000u)

/* FXSAVE image offsets (SDM Vol 1, 10.5.1, 64-bit layout). */
#define FX_FCW   0
#define FX_FSW   2
#define FX_FTW   4 /* abridged: one bit per physical register, 1 = valid */
#define FX_FOP   6
#define FX_FIP   8
#define FX_FDP   16
#define FX_MXCSR 24
#define FX_MXCSR_MASK 28
#define FX_ST(i)  (32 + 16 * (i))
#define FX_XMM(i) (160 + 16 * (i))

struct cd_state {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	uint8_t fx[512] __attribute__((aligned(16)));
};

/* How one unit's undefined flags are computed (see flags.c). */
enum cd_undef {
	UF_NONE,
	UF_LOGIC,   /* AND OR XOR TEST: AF */
	UF_MUL,     /* MUL IMUL: SF ZF AF PF */
	UF_DIV,     /* DIV IDIV: all six */
	UF_SHIFT,   /* SHL SHR SAR: depends on the masked count */
	UF_ROT,     /* ROL ROR: OF when count > 1 */
	UF_RCX,     /* RCL RCR: OF when count > 1 */
	UF_SHXD,    /* SHLD SHRD */
	UF_BT,      /* BT BTS BTR BTC: OF SF AF PF */
	UF_BSX,     /* BSF BSR: CF OF SF AF PF */
	UF_LZTZ,    /* LZCNT TZCNT: OF SF AF PF */
	UF_ADJ,     /* AAM AAD: OF AF CF; DAA DAS: OF; AAA AAS: OF SF ZF PF */
};

/* One generated instruction (or a small fixed group such as call/ret). */
struct cd_unit {
	uint16_t tmpl;   /* index into cd_templates */
	uint8_t off;     /* offset in code */
	uint8_t len;
	/* Facts flags.c needs: operand size in bits, and where the count is. */
	uint8_t opsize;
	int8_t count_reg;  /* GPR holding a shift count (CL = 1), or -1 */
	int16_t count_imm; /* immediate count, or -1 */
	uint16_t reads;    /* status flags this unit reads (for sequence building) */
	uint64_t mem_target; /* address of the memory operand, 0 if none */
};

struct cd_case {
	uint32_t code_len;
	uint32_t nunits;
	uint8_t code[CD_CODE_MAX];
	struct cd_unit units[CD_UNITS_MAX];
	struct cd_state in;
	uint8_t data[CD_DATA_SIZE];
	uint8_t stack[CD_STACK_SIZE];
};

enum cd_outcome {
	CD_DONE,     /* reached the end of the sequence */
	CD_EXC,      /* an exception: vector, err; state is at the fault */
	CD_MEMFAULT, /* access outside the mapped pages (native #PF, engine MMIO) */
	CD_TIMEOUT,  /* did not finish in time (native alarm, engine step cap) */
	CD_CRASH,    /* harness trouble: the child died, a fault outside test code */
};

struct cd_result {
	int outcome;
	int vector;         /* for CD_EXC */
	uint64_t err;       /* error code where the vector has one */
	uint64_t fault_addr; /* for CD_MEMFAULT: host CR2, engine access start */
	uint64_t fault_size; /* engine: access size; host: 1 */
	struct cd_state out;
	uint8_t data[CD_DATA_SIZE];
	uint8_t stack[CD_STACK_SIZE];
	char note[96];
	/* engine only: RCX when each unit started (for count-dependent flags) */
	uint32_t unit_ran;
	uint64_t unit_rcx[CD_UNITS_MAX];
};

/* Template flags (templates.c). */
#define T_MODRM    (1ull << 0)  /* has a ModRM byte */
#define T_MEM      (1ull << 1)  /* ModRM must be a memory form */
#define T_REG      (1ull << 2)  /* ModRM must be a register form */
#define T_IMM8     (1ull << 3)
#define T_IMM16    (1ull << 4)
#define T_IMMZ     (1ull << 5)  /* imm16 with 66, else imm32 */
#define T_IMM64    (1ull << 6)  /* imm64 with REX.W (B8+r), else immz */
#define T_W8       (1ull << 7)  /* byte operation */
#define T_SZ       (1ull << 8)  /* 16/32/64 via 66 / none / REX.W */
#define T_NO16     (1ull << 9)  /* no 16-bit form */
#define T_NO64     (1ull << 10)  /* REX.W means nothing (default 64-bit ops) */
#define T_OPREG    (1ull << 11)  /* register in the low opcode bits (+REX.B) */
#define T_REP      (1ull << 12)  /* string: may carry REP/REPE/REPNE */
#define T_XMM      (1ull << 13)  /* ModRM regs are XMM */
#define T_MMX      (1ull << 14)  /* ModRM regs are MMX */
#define T_GPRRM    (1ull << 15)  /* r/m is a GPR (movd, pinsrw, cvtsi2ss) */
#define T_GPRREG   (1ull << 16)  /* reg is a GPR (movmskps, pextrw, cvtss2si) */
#define T_FIXED    (1ull << 17)  /* bytes are complete */
#define T_A16      (1ull << 18)  /* 16-byte aligned memory operand */
#define T_CNT      (1ull << 19)  /* imm8 is a shift count */
#define T_CL       (1ull << 20)  /* shift count in CL */
#define T_X87      (1ull << 21)  /* x87 instruction */
#define T_STK      (1ull << 22)  /* uses the stack: RSP into the stack page */
#define T_STR      (1ull << 23)  /* string: RSI/RDI/RCX set up */
#define T_SMALLCX  (1ull << 24)  /* keep RCX small (loops) */
#define T_CC       (1ull << 25)  /* condition code in the low opcode bits */
#define T_REL8     (1ull << 26)  /* rel8 = 3 over an inc rax */
#define T_REL32    (1ull << 27)  /* rel32 = 3 over an inc rax */
#define T_ENTER    (1ull << 28)  /* enter: small imm16, level 0-3 */
#define T_XLAT     (1ull << 29)  /* RBX into the data page */
#define T_REXW     (1ull << 30)  /* REX.W always */
#define T_OPTW     (1ull << 31)  /* REX.W optional (operand 32/64) */
#define T_MASKMOV  (1ull << 32)  /* implicit [RDI] store */
#define T_RMMMX    (1ull << 33)  /* r/m register is MMX (reg is XMM) */
#define T_RMXMM    (1ull << 34)  /* r/m register is XMM (reg is MMX) */
#define T_IMM3     (1ull << 35)  /* imm8 predicate 0-7 */
#define T_MXCSRM   (1ull << 36)  /* memory holds a valid MXCSR value */
#define T_BIG      (1ull << 37)  /* 512-byte memory operand */
#define T_FXIMG    (1ull << 38)  /* memory holds a valid FXSAVE image */
#define T_EXT03    (1ull << 39)  /* ModRM.reg 0-3 only (prefetch hints) */
#define T_MOFFS    (1ull << 40)  /* A0-A3: an absolute address (8 bytes, 4 with 67) */
#define T_EXT05    (1ull << 41)  /* ModRM.reg 0-5 (MOV r/m, Sreg) */


struct cd_template {
	const char *family;
	const char *name;
	uint8_t pfx;      /* mandatory prefix: 0, 0x66, 0xF2, 0xF3 */
	uint8_t map;      /* 0 = one byte, 1 = 0F, 2 = 0F38, 3 = 0F3A */
	uint8_t op;
	int8_t ext;       /* ModRM.reg extension, -1 = free register */
	uint64_t flags;
	uint8_t undef;    /* enum cd_undef */
	const uint8_t *bytes; /* T_FIXED: the exact bytes */
	uint8_t nbytes;
};

extern const struct cd_template cd_templates[];
extern const unsigned cd_ntemplates;

/* Families: each template's family string; unique list computed at start. */
unsigned cd_family_count(void);
const char *cd_family_name(unsigned i);
int cd_family_index(const char *name);
int cd_template_family(unsigned t);

/* Generation (gen.c). */
struct cd_rng {
	uint64_t s[2];
};
void cd_rng_seed(struct cd_rng *r, uint64_t seed);
uint64_t cd_rng_next(struct cd_rng *r);
static inline uint64_t cd_rng_below(struct cd_rng *r, uint64_t n)
{
	return n ? cd_rng_next(r) % n : 0;
}

/* Biased random values (values.c). */
uint64_t cd_interesting64(struct cd_rng *r);
uint8_t cd_shift_count(struct cd_rng *r);
uint32_t cd_random_mxcsr(struct cd_rng *r);
void cd_random_fx(struct cd_rng *r, uint8_t fx[512]);
void cd_fill_page(struct cd_rng *r, uint8_t *p, size_t len);

/* A case exercising one template with table-driven operand choices. */
void cd_gen_single(struct cd_rng *r, unsigned tmpl, struct cd_case *c);
/* A random sequence of templates drawn from the allowed set. */
void cd_gen_sequence(struct cd_rng *r, const bool *allowed, struct cd_case *c);
/* Assemble one unit at the end of c->code; false when it does not fit. */
bool cd_emit(struct cd_rng *r, unsigned tmpl, struct cd_case *c, bool in_seq);

/*
 * Undefined-flags mask of one unit (flags.c). rcx: RCX before the unit ran,
 * or NULL for the worst case over all counts.
 */
uint32_t cd_undef_mask(const struct cd_case *c, const struct cd_unit *u, const uint64_t *rcx);
/* The manual page an undefined-flags kind comes from. */
const char *cd_undef_cite(unsigned kind);
struct cd_result;
/* Union over the units that completed before the native run stopped. */
uint32_t cd_case_undef_mask(const struct cd_case *c, const struct cd_result *nat,
			    const struct cd_result *emu);

/* Native runner (native.c). */
struct cd_native;
int cd_native_open(struct cd_native **out, unsigned batch);
void cd_native_close(struct cd_native *n);
/* Run cases[0..count) natively; results land in res[]. */
int cd_native_run(struct cd_native *n, const struct cd_case *cases, struct cd_result *res,
		  unsigned count);
/* The code page contents the child runs case c with (stub, test, epilogue). */
void cd_native_code_page(uint8_t *page, const struct cd_case *c);
/* Asynchronous form used to overlap native and engine runs. */
int cd_native_start(struct cd_native *n, const struct cd_case *cases, unsigned count);
int cd_native_wait(struct cd_native *n, struct cd_result *res, unsigned count);

/* Engine runner (engine.c). */
int cd_engine_init(void);
void cd_engine_run(const struct cd_case *c, struct cd_result *res);
/* FPU-direct mode (engine_fpu.c): fpu_exec() without the CPU core. */
void cd_engine_run_fpu(const struct cd_case *c, struct cd_result *res);
bool cd_engine_has_fpu(void);
struct x86_fpu_state;
/* FXSAVE image <-> engine FPU state, written independently of fpu/fxsave.c. */
void cd_fx_to_state(const uint8_t *fx, struct x86_fpu_state *fs);
void cd_state_to_fx(const struct x86_fpu_state *fs, uint8_t *fx);

/* --coverage: engine opcodes without a template (coverage.c); 0 if none. */
int cd_coverage(void);

/* Comparison and printing (compare.c). */
#define CD_DIFF_MAX 48
struct cd_diff {
	unsigned n;
	char field[CD_DIFF_MAX][24];
	char line[CD_DIFF_MAX][160];
};
/* True when the outcomes match; differing fields go to d. */
bool cd_compare(const struct cd_case *c, const struct cd_result *nat,
		const struct cd_result *emu, struct cd_diff *d);
/* The engine said #UD where the host ran the code: not implemented yet. */
bool cd_is_unimplemented(const struct cd_result *nat, const struct cd_result *emu);
void cd_print_case(FILE *f, const struct cd_case *c);
void cd_print_result(FILE *f, const char *who, const struct cd_result *r);
void cd_print_diff(FILE *f, const struct cd_diff *d);
const char *cd_vector_name(int vector);

#endif
