/* Helpers shared by the fpu/ files; not part of the CPU core's contract. */
#ifndef PETREL_CPU_X86_FPU_INTERNAL_H
#define PETREL_CPU_X86_FPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/x86/fpu/fpu.h"

#define FSW_IE  0x0001
#define FSW_DE  0x0002
#define FSW_ZE  0x0004
#define FSW_OE  0x0008
#define FSW_UE  0x0010
#define FSW_PE  0x0020
#define FSW_SF  0x0040
#define FSW_ES  0x0080
#define FSW_C0  0x0100
#define FSW_C1  0x0200
#define FSW_C2  0x0400
#define FSW_TOP 0x3800
#define FSW_C3  0x4000
#define FSW_B   0x8000

#define MXCSR_FLAGS 0x003f
#define MXCSR_DAZ   0x0040
#define MXCSR_MASKS 0x1f80
#define MXCSR_FTZ   0x8000

static inline unsigned fpu_top(const struct x86_fpu_state *fs)
{
	return (fs->fsw >> 11) & 7;
}

static inline unsigned modrm_reg(const struct fpu_insn *in)
{
	return ((in->modrm >> 3) & 7) | ((in->rex & 4) << 1);
}

static inline unsigned modrm_rm(const struct fpu_insn *in)
{
	return (in->modrm & 7) | ((in->rex & 1) << 3);
}

static inline bool modrm_is_reg(const struct fpu_insn *in)
{
	return (in->modrm & 0xc0) == 0xc0;
}

/* An x87 exception is pending (unmasked flag or ES): the next waiting
 * instruction raises #MF instead of executing. */
static inline bool x87_pending(const struct x86_fpu_state *fs)
{
	return (fs->fsw & ~fs->fcw & 0x3f) || (fs->fsw & FSW_ES);
}

/* Entering MMX: TOP = 0, all registers valid. */
static inline void mmx_enter(struct x86_fpu_state *fs)
{
	fs->fsw &= ~FSW_TOP;
	fs->ftw = 0xff;
}

static inline void mmx_set(struct x86_fpu_state *fs, unsigned i, uint64_t v)
{
	fs->st[i & 7].signif = v;
	fs->st[i & 7].sign_exp = 0xffff;
}

/* x87_exec.c */
int x87_exec(struct fpu_ctx *c, const struct fpu_insn *in);
int x87_fwait(struct fpu_ctx *c);
unsigned x87_full_tag(const struct x87_reg *r, bool valid);
void x87_normalize(struct x86_fpu_state *fs);

/* sse_exec.c */
int sse_exec(struct fpu_ctx *c, const struct fpu_insn *in);

/* sse_arith.c: host SSE with the guest's MXCSR. Returns the MXCSR flags the
 * operation raised; dst/src are full 128-bit registers. */
enum sse_fop {
	SF_ADDPS, SF_ADDPD, SF_ADDSS, SF_ADDSD,
	SF_MULPS, SF_MULPD, SF_MULSS, SF_MULSD,
	SF_SUBPS, SF_SUBPD, SF_SUBSS, SF_SUBSD,
	SF_MINPS, SF_MINPD, SF_MINSS, SF_MINSD,
	SF_DIVPS, SF_DIVPD, SF_DIVSS, SF_DIVSD,
	SF_MAXPS, SF_MAXPD, SF_MAXSS, SF_MAXSD,
	SF_SQRTPS, SF_SQRTPD, SF_SQRTSS, SF_SQRTSD,
	SF_RSQRTPS, SF_RSQRTSS, SF_RCPPS, SF_RCPSS,
	SF_HADDPS, SF_HADDPD, SF_HSUBPS, SF_HSUBPD, SF_ADDSUBPS, SF_ADDSUBPD,
	SF_CVTPS2PD, SF_CVTPD2PS, SF_CVTSS2SD, SF_CVTSD2SS,
	SF_CVTDQ2PS, SF_CVTPS2DQ, SF_CVTTPS2DQ,
	SF_CVTTPD2DQ, SF_CVTPD2DQ, SF_CVTDQ2PD,
	SF_CMPPS, SF_CMPPD, SF_CMPSS, SF_CMPSD, /* + predicate 0..7 */
	SF_NR
};
uint32_t sse_host_op(unsigned op, unsigned imm, union xmm_reg *dst, const union xmm_reg *src,
		     uint32_t mxcsr);
/* GPR <-> scalar conversions: kind selects the instruction (see sse_arith.c). */
enum sse_cvt_gpr {
	SC_SI2SS32, SC_SI2SS64, SC_SI2SD32, SC_SI2SD64,
	SC_SS2SI32, SC_SS2SI64, SC_TSS2SI32, SC_TSS2SI64,
	SC_SD2SI32, SC_SD2SI64, SC_TSD2SI32, SC_TSD2SI64,
};
uint32_t sse_host_cvt_gpr(unsigned kind, union xmm_reg *x, uint64_t *gpr, uint32_t mxcsr);
/* COMISS/UCOMISS/COMISD/UCOMISD: returns flags, *rflags_out gets ZF PF CF. */
uint32_t sse_host_comi(unsigned kind, const union xmm_reg *a, const union xmm_reg *b,
		       uint32_t mxcsr, uint64_t *rflags_out);

/* sse_int.c: integer SIMD on n = 8 (MMX) or 16 (XMM) bytes. Returns false
 * when (map, op, pfx) is not an integer SIMD operation. */
bool simd_int_op(unsigned map, unsigned op, unsigned imm, uint8_t *d, const uint8_t *s,
		 unsigned n);

#endif
