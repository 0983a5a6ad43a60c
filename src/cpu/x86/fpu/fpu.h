/*
 * x87 / MMX / SSE..SSSE3 execution for the software CPU.
 *
 * The CPU core decodes prefixes, the opcode and ModRM (including the
 * effective address), asks fpu_opcode_flags() which of those opcodes belong
 * here, and hands a decoded instruction to fpu_exec() together with an
 * fpu_ctx that gives access to registers and guest memory. fpu_exec()
 * performs the CR0/CR4 checks, executes, and returns 0, an exception vector
 * for the core to raise, or a negative value passed through from a memory
 * callback (the core already recorded that fault). State is only changed
 * when the instruction completes, so a faulting instruction can restart.
 * fpu_glue.c adapts this to the core's handler contract: decode.c sends
 * every opcode fpu_opcode_flags() claims to x86_h_fpu().
 *
 * Files: x87_exec.c + x87_host.S (x87 on the host x87), sse_arith.c (SSE FP
 * on the host SSE unit), sse_int.c (integer SIMD in C), sse_exec.c and
 * sse_move.c (operands, checks, moves, MXCSR, FXSAVE), fxsave.c (images).
 */
#ifndef PETREL_CPU_X86_FPU_H
#define PETREL_CPU_X86_FPU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/x86/fpu/fpu_state.h"

enum fpu_map { FPU_MAP_1B, FPU_MAP_0F, FPU_MAP_0F38, FPU_MAP_0F3A };
/* The mandatory prefix in effect (the last of 66/F3/F2 as the SDM rules it;
 * F2/F3 win over 66). */
enum fpu_pfx { FPU_PFX_NONE, FPU_PFX_66, FPU_PFX_F3, FPU_PFX_F2 };

/* Exception vectors fpu_exec() may return (error code 0 for #GP). */
#define FPU_EXC_UD 6
#define FPU_EXC_NM 7
#define FPU_EXC_GP 13
#define FPU_EXC_MF 16
#define FPU_EXC_XM 19

/* fpu_opcode_flags() result bits. */
#define FPU_OPF_VALID 1u /* handled by fpu_exec() */
#define FPU_OPF_MODRM 2u /* has a ModRM byte */
#define FPU_OPF_IMM8  4u /* followed by an 8-bit immediate */

#define FPU_CR0_MP (1ull << 1)
#define FPU_CR0_EM (1ull << 2)
#define FPU_CR0_TS (1ull << 3)
#define FPU_CR0_NE (1ull << 5)
#define FPU_CR4_OSFXSR     (1ull << 9)
#define FPU_CR4_OSXMMEXCPT (1ull << 10)

struct fpu_ctx {
	struct x86_fpu_state *fs;
	uint64_t *gpr;    /* the 16 GPRs (MOVD, CVTSI2SS, PMOVMSKB, FNSTSW AX ...) */
	uint64_t *rflags; /* COMISS/UCOMISS/FCOMI write ZF PF CF; FCMOVcc reads */
	uint64_t cr0, cr4;
	bool mode64; /* 64-bit mode: REX allowed, FXSAVE64 with REX.W */
	/* Guest memory at fpu_insn.addr-style addresses (the core's glue passes
	 * segment offsets and applies the segment); len is up to 512. A non-zero
	 * return means a fault the core has already recorded; it must be
	 * negative and fpu_exec() returns it unchanged. */
	int (*read)(void *opaque, uint64_t addr, void *buf, unsigned len);
	int (*write)(void *opaque, uint64_t addr, const void *buf, unsigned len);
	void *opaque;
};

struct fpu_insn {
	uint8_t map;   /* enum fpu_map */
	uint8_t op;    /* opcode byte within the map */
	uint8_t modrm;
	uint8_t pfx;   /* enum fpu_pfx */
	uint8_t rex;   /* REX byte's low nibble (W R X B), 0 without REX */
	uint8_t opsize; /* effective operand size 16/32/64: FSTENV/FSAVE format */
	uint8_t imm8;
	/* Memory operand address when mod != 3 (for MASKMOVQ/MASKMOVDQU: rDI):
	 * the effective address (segment offset). 16-byte alignment checks and
	 * FDP use it; read/write receive it. */
	uint64_t addr;
	uint64_t rip;  /* address of the instruction (FIP) */
	uint16_t cs;   /* selector of CS (FCS) */
	uint16_t ds;   /* selector of the memory operand's segment (FDS) */
};

/* Which opcodes belong to fpu_exec(); map/op as above, pfx for the 0F maps. */
unsigned fpu_opcode_flags(unsigned map, unsigned op, unsigned pfx);

int fpu_exec(struct fpu_ctx *c, const struct fpu_insn *in);

/* FXSAVE/FXRSTOR image conversion (also for snapshots). fxrstor validates
 * MXCSR reserved bits (-EINVAL) before changing anything. */
void fpu_fxsave(const struct x86_fpu_state *fs, uint8_t img[512], bool rex_w);
int fpu_fxrstor(struct x86_fpu_state *fs, const uint8_t img[512], bool rex_w);

#endif
