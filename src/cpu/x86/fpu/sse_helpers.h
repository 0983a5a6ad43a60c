/* Operand access and checks shared by the SIMD files. */
#ifndef PETREL_CPU_X86_FPU_SSE_HELPERS_H
#define PETREL_CPU_X86_FPU_SSE_HELPERS_H

#include "cpu/x86/fpu/fpu_internal.h"

enum { P_NONE = FPU_PFX_NONE, P_66 = FPU_PFX_66, P_F3 = FPU_PFX_F3, P_F2 = FPU_PFX_F2 };

static inline int check_sse(const struct fpu_ctx *c)
{
	if ((c->cr0 & FPU_CR0_EM) || !(c->cr4 & FPU_CR4_OSFXSR))
		return FPU_EXC_UD;
	return (c->cr0 & FPU_CR0_TS) ? FPU_EXC_NM : 0;
}

static inline int check_mmx(const struct fpu_ctx *c)
{
	if (c->cr0 & FPU_CR0_EM)
		return FPU_EXC_UD;
	if (c->cr0 & FPU_CR0_TS)
		return FPU_EXC_NM;
	return x87_pending(c->fs) ? FPU_EXC_MF : 0;
}

/* SSE forms that touch MMX registers need both. */
static inline int check_sse_mmx(const struct fpu_ctx *c)
{
	int rc = check_sse(c);

	if (rc)
		return rc;
	return x87_pending(c->fs) ? FPU_EXC_MF : 0;
}

static inline int mread(struct fpu_ctx *c, const struct fpu_insn *in, void *buf, unsigned len,
		 bool align)
{
	/* Legacy-SSE 16-byte memory operands must be aligned. */
	if (align && (in->addr & 15))
		return FPU_EXC_GP;
	return c->read(c->opaque, in->addr, buf, len);
}

static inline int mwrite(struct fpu_ctx *c, const struct fpu_insn *in, const void *buf, unsigned len,
		  bool align)
{
	if (align && (in->addr & 15))
		return FPU_EXC_GP;
	return c->write(c->opaque, in->addr, buf, len);
}

/* XMM source operand: register, or len bytes of memory (rest zero). */
static inline int xsrc(struct fpu_ctx *c, const struct fpu_insn *in, union xmm_reg *v, unsigned len,
		bool align)
{
	if (modrm_is_reg(in)) {
		*v = c->fs->xmm[modrm_rm(in)];
		return 0;
	}
	memset(v, 0, sizeof(*v));
	return mread(c, in, v, len, align && len == 16);
}

/* MMX source operand: register or m64. */
static inline int msrc(struct fpu_ctx *c, const struct fpu_insn *in, uint64_t *v)
{
	if (modrm_is_reg(in)) {
		*v = c->fs->st[in->modrm & 7].signif;
		return 0;
	}
	return mread(c, in, v, 8, false);
}

/* Apply the guest's MXCSR masks to the flags an operation raised. Returns
 * the exception to raise (result then discarded) or 0 (commit). When an
 * unmasked pre-computation exception (IE, DE, ZE) occurs, post-computation
 * flags are not reported (SDM Vol 1, 11.5.2). PE with an unmasked OE/UE is
 * fixed up in sse_arith.c. */
static inline int mx_flags(struct fpu_ctx *c, uint32_t fl)
{
	uint32_t unmasked = fl & ~(c->fs->mxcsr >> 7) & MXCSR_FLAGS;

	if (unmasked) {
		if (unmasked & 0x7)
			fl &= 0x7;
		c->fs->mxcsr |= fl;
		return (c->cr4 & FPU_CR4_OSXMMEXCPT) ? FPU_EXC_XM : FPU_EXC_UD;
	}
	c->fs->mxcsr |= fl;
	return 0;
}

static inline void gpr_write32(struct fpu_ctx *c, unsigned r, uint64_t v, bool w64)
{
	/* 32-bit GPR writes zero-extend (64-bit mode; harmless elsewhere). */
	c->gpr[r & 15] = w64 ? v : (uint32_t)v;
}

int sse_exec_other(struct fpu_ctx *c, const struct fpu_insn *in);

#endif
