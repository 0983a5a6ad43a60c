/*
 * Architectural x87 / MMX / SSE state of one software vCPU.
 *
 * Shared between the CPU core (which owns the vCPU and saves/restores it for
 * snapshots) and the fpu/ handlers. Fields may be added; none are removed.
 */
#ifndef PETREL_CPU_X86_FPU_STATE_H
#define PETREL_CPU_X86_FPU_STATE_H

#include <stdint.h>

/* One x87 data register: 64-bit significand (explicit integer bit 63) and
 * sign+15-bit exponent. Padded to 16 bytes so it matches an FXSAVE slot. MMX
 * register i is st[i].signif (physical register, not stack-relative). */
struct x87_reg {
	uint64_t signif;
	uint16_t sign_exp;
	uint16_t pad[3];
};

union xmm_reg {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
	float f32[4];
	double f64[2];
};

struct x86_fpu_state {
	/* PHYSICAL registers R0..R7; ST(i) is st[(TOP + i) & 7] where TOP is
	 * FSW bits 13:11. */
	struct x87_reg st[8];
	uint16_t fcw;
	uint16_t fsw;  /* includes TOP in bits 13:11 */
	/* Abridged tag word (FXSAVE form): bit i set = physical register i is
	 * not empty. The full 2-bit tags are derived from register contents
	 * when FSTENV/FSAVE need them, as the hardware does. */
	uint16_t ftw;
	uint16_t fop;  /* last non-control instruction: 11 bits */
	uint64_t fip;  /* last x87 instruction pointer (offset) */
	uint64_t fdp;  /* last x87 memory operand (offset) */
	uint16_t fcs, fds; /* selectors, reported by the 32-bit/16-bit forms */
	uint32_t mxcsr;
	union xmm_reg xmm[16];
};

#define X87_FCW_DEFAULT 0x037f
#define MXCSR_DEFAULT 0x1f80
/* Bits LDMXCSR/FXRSTOR accept; the rest -> #GP(0). DAZ (bit 6) included:
 * the CPUID/FXSAVE MXCSR_MASK we report is 0xffff. */
#define MXCSR_MASK 0xffffu

/* Reset / INIT state (SDM Vol 3, Table 9-1): FCW 0x40, tags all empty, MXCSR default. */
void fpu_state_reset(struct x86_fpu_state *fs);

#endif
