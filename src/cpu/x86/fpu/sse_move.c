/*
 * SIMD moves, logic, shuffles, GPR conversions and compares that set
 * RFLAGS, MXCSR and FXSAVE access, EMMS, fences and hints.
 */
#include <errno.h>

#include "cpu/x86/fpu/sse_helpers.h"

#define RF_COMI_MASK 0x8d5u /* OF SF ZF AF PF CF */

/* Full-register or partial XMM load: MOVUPS/MOVAPS/MOVDQA/MOVDQU/LDDQU/
 * MOVSS/MOVSD/MOVQ/MOVLPS/MOVHPS... */
static int xmm_load(struct fpu_ctx *c, const struct fpu_insn *in, bool align)
{
	union xmm_reg s;
	int rc = check_sse(c);

	if (rc)
		return rc;
	rc = xsrc(c, in, &s, 16, align);
	if (rc)
		return rc;
	c->fs->xmm[modrm_reg(in)] = s;
	return 0;
}

static int xmm_store(struct fpu_ctx *c, const struct fpu_insn *in, bool align)
{
	int rc = check_sse(c);

	if (rc)
		return rc;
	if (modrm_is_reg(in)) {
		c->fs->xmm[modrm_rm(in)] = c->fs->xmm[modrm_reg(in)];
		return 0;
	}
	return mwrite(c, in, &c->fs->xmm[modrm_reg(in)], 16, align);
}

/* MOVSS/MOVSD loads (len 4/8): register source merges, memory zero-fills. */
static int xmm_load_scalar(struct fpu_ctx *c, const struct fpu_insn *in, unsigned len)
{
	union xmm_reg s, *d = &c->fs->xmm[modrm_reg(in)];
	int rc = check_sse(c);

	if (rc)
		return rc;
	rc = xsrc(c, in, &s, len, false);
	if (rc)
		return rc;
	if (modrm_is_reg(in))
		memcpy(d, &s, len);
	else
		*d = s;
	return 0;
}

/* Store the low (off 0) or high (off 8) quadword, or a scalar of len. */
static int xmm_store_part(struct fpu_ctx *c, const struct fpu_insn *in, unsigned off,
			  unsigned len, bool reg_ok)
{
	union xmm_reg *s = &c->fs->xmm[modrm_reg(in)];
	int rc = check_sse(c);

	if (rc)
		return rc;
	if (modrm_is_reg(in)) {
		if (!reg_ok)
			return FPU_EXC_UD;
		memcpy(c->fs->xmm[modrm_rm(in)].b + off, s->b + off, len);
		return 0;
	}
	return mwrite(c, in, s->b + off, len, false);
}

static int exec_logic(struct fpu_ctx *c, const struct fpu_insn *in)
{
	static const uint8_t int_op[4] = { 0xdb, 0xdf, 0xeb, 0xef }; /* AND ANDN OR XOR */
	union xmm_reg s;
	int rc;

	if (in->pfx != P_NONE && in->pfx != P_66)
		return FPU_EXC_UD;
	rc = check_sse(c);
	if (rc)
		return rc;
	rc = xsrc(c, in, &s, 16, true);
	if (rc)
		return rc;
	simd_int_op(FPU_MAP_0F, int_op[in->op - 0x54], 0, c->fs->xmm[modrm_reg(in)].b, s.b, 16);
	return 0;
}

static int exec_unpck_shuf(struct fpu_ctx *c, const struct fpu_insn *in)
{
	union xmm_reg s, r, *d = &c->fs->xmm[modrm_reg(in)];
	bool pd = in->pfx == P_66;
	int rc;

	if (in->pfx != P_NONE && in->pfx != P_66)
		return FPU_EXC_UD;
	rc = check_sse(c);
	if (rc)
		return rc;
	rc = xsrc(c, in, &s, 16, true);
	if (rc)
		return rc;
	if (in->op == 0x14)
		simd_int_op(FPU_MAP_0F, pd ? 0x6c : 0x62, 0, d->b, s.b, 16);
	else if (in->op == 0x15)
		simd_int_op(FPU_MAP_0F, pd ? 0x6d : 0x6a, 0, d->b, s.b, 16);
	else if (pd) { /* SHUFPD */
		r.q[0] = d->q[in->imm8 & 1];
		r.q[1] = s.q[(in->imm8 >> 1) & 1];
		*d = r;
	} else { /* SHUFPS */
		r.d[0] = d->d[in->imm8 & 3];
		r.d[1] = d->d[(in->imm8 >> 2) & 3];
		r.d[2] = s.d[(in->imm8 >> 4) & 3];
		r.d[3] = s.d[(in->imm8 >> 6) & 3];
		*d = r;
	}
	return 0;
}

/* 0F 12 / 0F 16 loads: MOVLPS MOVHLPS MOVLPD MOVSLDUP MOVDDUP, MOVHPS
 * MOVLHPS MOVHPD MOVSHDUP. */
static int exec_12_16(struct fpu_ctx *c, const struct fpu_insn *in)
{
	union xmm_reg s, *d = &c->fs->xmm[modrm_reg(in)];
	bool hi = in->op == 0x16, reg = modrm_is_reg(in);
	int rc = check_sse(c);

	if (rc)
		return rc;
	switch (in->pfx) {
	case P_NONE:
	case P_66:
		if (reg && in->pfx == P_66)
			return FPU_EXC_UD;
		rc = xsrc(c, in, &s, 8, false);
		if (rc)
			return rc;
		if (hi) /* MOVHPS/MOVHPD m64, MOVLHPS */
			d->q[1] = s.q[0];
		else /* MOVLPS/MOVLPD m64 take the low half; MOVHLPS the high */
			d->q[0] = reg ? s.q[1] : s.q[0];
		return 0;
	case P_F3: /* MOVSLDUP / MOVSHDUP */
		rc = xsrc(c, in, &s, 16, true);
		if (rc)
			return rc;
		for (unsigned i = 0; i < 4; i += 2)
			d->d[i] = d->d[i + 1] = s.d[i + hi];
		return 0;
	default: /* F2: MOVDDUP reads m64 */
		if (hi)
			return FPU_EXC_UD;
		rc = xsrc(c, in, &s, 8, false);
		if (rc)
			return rc;
		d->q[0] = d->q[1] = s.q[0];
		return 0;
	}
}

/* 0F 2A/2C/2D: conversions with GPR or MMX operands. */
static int exec_cvt(struct fpu_ctx *c, const struct fpu_insn *in)
{
	struct x86_fpu_state *fs = c->fs;
	bool w = in->rex & 8, mmreg = modrm_is_reg(in);
	union xmm_reg s = { 0 }, t = { 0 };
	uint64_t g = 0;
	uint32_t fl;
	int rc;

	if (in->pfx == P_F3 || in->pfx == P_F2) {
		bool sd = in->pfx == P_F2;

		rc = check_sse(c);
		if (rc)
			return rc;
		if (in->op == 0x2a) { /* CVTSI2SS/SD xmm, r/m32/64 */
			if (mmreg)
				g = c->gpr[modrm_rm(in)];
			else if ((rc = mread(c, in, &g, w ? 8 : 4, false)))
				return rc;
			t = fs->xmm[modrm_reg(in)];
			fl = sse_host_cvt_gpr((sd ? SC_SI2SD32 : SC_SI2SS32) + w, &t, &g, fs->mxcsr);
			rc = mx_flags(c, fl);
			if (rc)
				return rc;
			fs->xmm[modrm_reg(in)] = t;
			return 0;
		}
		/* CVT(T)SS2SI / CVT(T)SD2SI r32/64, xmm/m32/m64 */
		rc = xsrc(c, in, &s, sd ? 8 : 4, false);
		if (rc)
			return rc;
		unsigned k = (sd ? SC_SD2SI32 : SC_SS2SI32) + (in->op == 0x2c ? 2 : 0) + w;

		fl = sse_host_cvt_gpr(k, &s, &g, fs->mxcsr);
		rc = mx_flags(c, fl);
		if (rc)
			return rc;
		gpr_write32(c, modrm_reg(in), g, w);
		return 0;
	}
	/* CVTPI2PS/PD from memory touch no MMX register: no #MF check, no
	 * MMX transition; every other form does both. For CVTPI2PD xmm, m64
	 * the SDM says so (Vol 2A CVTPI2PD: "does not cause a transition to
	 * MMX technology and does not take x87 FPU exceptions"). Its CVTPI2PS
	 * page names no operand forms; the AMD host treats CVTPI2PS xmm, m64
	 * like CVTPI2PD (measured by cpu-diff's sse-cvt family), and so do we. */
	rc = (in->op == 0x2a && !mmreg) ? check_sse(c) : check_sse_mmx(c);
	if (rc)
		return rc;
	if (in->op == 0x2a) { /* CVTPI2PS / CVTPI2PD xmm, mm/m64 */
		rc = msrc(c, in, &s.q[0]);
		if (rc)
			return rc;
		fl = sse_host_op(in->pfx == P_66 ? SF_CVTDQ2PD : SF_CVTDQ2PS, 0, &t, &s,
				 fs->mxcsr);
		/* Only a register source switches to MMX, and it does so even
		 * when the conversion then raises #XM (as observed on the host). */
		if (mmreg)
			mmx_enter(fs);
		rc = mx_flags(c, fl);
		if (rc)
			return rc;
		if (in->pfx == P_66)
			fs->xmm[modrm_reg(in)] = t;
		else
			fs->xmm[modrm_reg(in)].q[0] = t.q[0];
		return 0;
	}
	/* CVT(T)PS2PI mm, xmm/m64 and CVT(T)PD2PI mm, xmm/m128 */
	bool pd = in->pfx == P_66, trunc = in->op == 0x2c;

	rc = xsrc(c, in, &s, pd ? 16 : 8, true);
	if (rc)
		return rc;
	if (!pd)
		s.q[1] = 0;
	fl = sse_host_op(pd ? (trunc ? SF_CVTTPD2DQ : SF_CVTPD2DQ)
			    : (trunc ? SF_CVTTPS2DQ : SF_CVTPS2DQ), 0, &t, &s, fs->mxcsr);
	mmx_enter(fs); /* before a possible #XM, as the host does */
	rc = mx_flags(c, fl);
	if (rc)
		return rc;
	mmx_set(fs, in->modrm >> 3, t.q[0]);
	return 0;
}

static int exec_comi(struct fpu_ctx *c, const struct fpu_insn *in)
{
	bool sd = in->pfx == P_66;
	union xmm_reg s;
	uint64_t fl_out;
	uint32_t fl;
	int rc;

	if (in->pfx != P_NONE && in->pfx != P_66)
		return FPU_EXC_UD;
	rc = check_sse(c);
	if (rc)
		return rc;
	rc = xsrc(c, in, &s, sd ? 8 : 4, false);
	if (rc)
		return rc;
	fl = sse_host_comi((in->op == 0x2f) | (sd << 1), &c->fs->xmm[modrm_reg(in)], &s,
			   c->fs->mxcsr, &fl_out);
	rc = mx_flags(c, fl);
	if (rc)
		return rc;
	*c->rflags = (*c->rflags & ~(uint64_t)RF_COMI_MASK) | fl_out;
	return 0;
}

static int exec_ae(struct fpu_ctx *c, const struct fpu_insn *in)
{
	struct x86_fpu_state *fs = c->fs;
	unsigned g = (in->modrm >> 3) & 7;
	uint8_t img[512] __attribute__((aligned(16)));
	/* Bytes 416-511 are left alone (the host's FXSAVE does not write
	 * 416-463 either); XMM8-15 exist only in 64-bit mode. */
	unsigned len = c->mode64 ? 416 : 288;
	uint32_t v;
	int rc;

	if (in->pfx == P_F2)
		return FPU_EXC_UD;
	if (modrm_is_reg(in)) /* LFENCE MFENCE SFENCE: ordering is already total here */
		return (g >= 5 && in->pfx == P_NONE) ? 0 : FPU_EXC_UD;
	if (in->pfx == P_66 && g < 6)
		return FPU_EXC_UD;
	switch (g) {
	case 0: /* FXSAVE */
	case 1: /* FXRSTOR */
		if (c->cr0 & (FPU_CR0_EM | FPU_CR0_TS))
			return FPU_EXC_NM;
		if (in->addr & 15)
			return FPU_EXC_GP;
		fpu_fxsave(fs, img, in->rex & 8);
		if (g == 0)
			return c->write(c->opaque, in->addr, img, len);
		rc = c->read(c->opaque, in->addr, img, len);
		if (rc)
			return rc;
		/* Reserved MXCSR bits in the image: #GP(0), nothing loaded. */
		return fpu_fxrstor(fs, img, in->rex & 8) ? FPU_EXC_GP : 0;
	case 2: /* LDMXCSR */
		rc = check_sse(c);
		if (rc)
			return rc;
		rc = c->read(c->opaque, in->addr, &v, 4);
		if (rc)
			return rc;
		/* Guest value: reserved bits would fault the host's LDMXCSR. */
		if (v & ~MXCSR_MASK)
			return FPU_EXC_GP;
		fs->mxcsr = v;
		return 0;
	case 3: /* STMXCSR */
		rc = check_sse(c);
		if (rc)
			return rc;
		return c->write(c->opaque, in->addr, &fs->mxcsr, 4);
	case 4: case 5: /* XSAVE/XRSTOR: not offered (CPUID must not report XSAVE) */
		return FPU_EXC_UD;
	case 6: /* 66: CLWB; none: XSAVEOPT (not offered) */
		if (in->pfx != P_66)
			return FPU_EXC_UD;
		/* fall through */
	default: { /* CLFLUSH / CLFLUSHOPT: faults like a byte load */
		uint8_t b;

		return c->read(c->opaque, in->addr, &b, 1);
	}
	}
}

int sse_exec_other(struct fpu_ctx *c, const struct fpu_insn *in)
{
	struct x86_fpu_state *fs = c->fs;
	bool reg = modrm_is_reg(in), w = in->rex & 8;
	union xmm_reg s;
	uint64_t q;
	int rc;

	switch (in->op) {
	case 0x10:
	case 0x11:
		if (in->pfx == P_F3 || in->pfx == P_F2) {
			unsigned len = in->pfx == P_F3 ? 4 : 8;

			return in->op == 0x10 ? xmm_load_scalar(c, in, len)
					      : xmm_store_part(c, in, 0, len, true);
		}
		return in->op == 0x10 ? xmm_load(c, in, false) : xmm_store(c, in, false);
	case 0x12:
	case 0x16:
		return exec_12_16(c, in);
	case 0x13:
	case 0x17:
		if (in->pfx != P_NONE && in->pfx != P_66)
			return FPU_EXC_UD;
		return xmm_store_part(c, in, in->op == 0x17 ? 8 : 0, 8, false);
	case 0x14: case 0x15: case 0xc6:
		return exec_unpck_shuf(c, in);
	case 0x0d: /* PREFETCHW: memory forms only */
		return reg ? FPU_EXC_UD : 0;
	case 0x18: /* prefetch hints (and reserved hint NOPs) never fault */
		return 0;
	case 0x28:
	case 0x29:
		if (in->pfx != P_NONE && in->pfx != P_66)
			return FPU_EXC_UD;
		return in->op == 0x28 ? xmm_load(c, in, true) : xmm_store(c, in, true);
	case 0x2b: /* MOVNTPS/MOVNTPD */
	case 0xe7: /* MOVNTQ / MOVNTDQ */
		if (reg || (in->pfx != P_NONE && in->pfx != P_66))
			return FPU_EXC_UD;
		if (in->op == 0xe7 && in->pfx == P_NONE) {
			if ((rc = check_mmx(c)))
				return rc;
			rc = c->write(c->opaque, in->addr, &fs->st[(in->modrm >> 3) & 7].signif, 8);
			if (!rc)
				mmx_enter(fs);
			return rc;
		}
		return xmm_store(c, in, true);
	case 0x2a: case 0x2c: case 0x2d:
		return exec_cvt(c, in);
	case 0x2e: case 0x2f:
		return exec_comi(c, in);
	case 0x50: /* MOVMSKPS / MOVMSKPD */
		if (!reg || (in->pfx != P_NONE && in->pfx != P_66))
			return FPU_EXC_UD;
		if ((rc = check_sse(c)))
			return rc;
		s = fs->xmm[modrm_rm(in)];
		q = in->pfx == P_66 ? (s.q[0] >> 63) | ((s.q[1] >> 63) << 1)
				    : (s.d[0] >> 31) | ((s.d[1] >> 31) << 1) |
					      ((s.d[2] >> 31) << 2) | ((s.d[3] >> 31) << 3);
		gpr_write32(c, modrm_reg(in), q, false);
		return 0;
	case 0x54: case 0x55: case 0x56: case 0x57:
		return exec_logic(c, in);
	case 0x6e: /* MOVD/MOVQ mm/xmm, r/m32/64 */
	case 0x7e:
		if (in->op == 0x7e && in->pfx == P_F3) { /* MOVQ xmm, xmm/m64 */
			if ((rc = check_sse(c)))
				return rc;
			if ((rc = xsrc(c, in, &s, 8, false)))
				return rc;
			s.q[1] = 0;
			fs->xmm[modrm_reg(in)] = s;
			return 0;
		}
		if (in->pfx != P_NONE && in->pfx != P_66)
			return FPU_EXC_UD;
		rc = in->pfx == P_66 ? check_sse(c) : check_mmx(c);
		if (rc)
			return rc;
		if (in->op == 0x6e) {
			q = 0;
			if (reg)
				q = w ? c->gpr[modrm_rm(in)] : (uint32_t)c->gpr[modrm_rm(in)];
			else if ((rc = mread(c, in, &q, w ? 8 : 4, false)))
				return rc;
			if (in->pfx == P_66) {
				memset(&fs->xmm[modrm_reg(in)], 0, 16);
				fs->xmm[modrm_reg(in)].q[0] = q;
			} else {
				mmx_enter(fs);
				mmx_set(fs, in->modrm >> 3, q);
			}
			return 0;
		}
		q = in->pfx == P_66 ? fs->xmm[modrm_reg(in)].q[0]
				    : fs->st[(in->modrm >> 3) & 7].signif;
		if (!w)
			q = (uint32_t)q;
		if (!reg && (rc = c->write(c->opaque, in->addr, &q, w ? 8 : 4)))
			return rc;
		if (reg)
			gpr_write32(c, modrm_rm(in), q, w);
		if (in->pfx == P_NONE)
			mmx_enter(fs);
		return 0;
	case 0x6f:
	case 0x7f:
		if (in->pfx == P_66 || in->pfx == P_F3) {
			bool al = in->pfx == P_66;

			return in->op == 0x6f ? xmm_load(c, in, al) : xmm_store(c, in, al);
		}
		if (in->pfx != P_NONE)
			return FPU_EXC_UD;
		if ((rc = check_mmx(c)))
			return rc;
		if (in->op == 0x6f) {
			if ((rc = msrc(c, in, &q)))
				return rc;
			mmx_enter(fs);
			mmx_set(fs, in->modrm >> 3, q);
			return 0;
		}
		q = fs->st[(in->modrm >> 3) & 7].signif;
		if (!reg && (rc = c->write(c->opaque, in->addr, &q, 8)))
			return rc;
		mmx_enter(fs);
		if (reg)
			mmx_set(fs, in->modrm, q);
		return 0;
	case 0x77: /* EMMS */
		if (in->pfx != P_NONE)
			return FPU_EXC_UD;
		if ((rc = check_mmx(c)))
			return rc;
		fs->ftw = 0;
		fs->fsw &= ~FSW_TOP; /* observed on the host, like other MMX instructions */
		return 0;
	case 0xae:
		return exec_ae(c, in);
	case 0xc3: /* MOVNTI m32/64, r32/64: integer, no FPU checks */
		if (reg || in->pfx != P_NONE)
			return FPU_EXC_UD;
		q = c->gpr[modrm_reg(in)];
		return c->write(c->opaque, in->addr, &q, w ? 8 : 4);
	case 0xc4: /* PINSRW mm/xmm, r32/m16, imm8 */
	case 0xc5: /* PEXTRW r32, mm/xmm, imm8 */
		if (in->pfx != P_NONE && in->pfx != P_66)
			return FPU_EXC_UD;
		if (in->op == 0xc5 && !reg)
			return FPU_EXC_UD;
		rc = in->pfx == P_66 ? check_sse(c) : check_mmx(c);
		if (rc)
			return rc;
		if (in->op == 0xc4) {
			uint16_t v;

			if (reg)
				v = (uint16_t)c->gpr[modrm_rm(in)];
			else if ((rc = mread(c, in, &v, 2, false)))
				return rc;
			if (in->pfx == P_66) {
				fs->xmm[modrm_reg(in)].w[in->imm8 & 7] = v;
			} else {
				unsigned sh = 16 * (in->imm8 & 3);

				mmx_enter(fs);
				q = fs->st[(in->modrm >> 3) & 7].signif;
				q = (q & ~(0xffffull << sh)) | ((uint64_t)v << sh);
				mmx_set(fs, in->modrm >> 3, q);
			}
			return 0;
		}
		if (in->pfx == P_66) {
			q = fs->xmm[modrm_rm(in)].w[in->imm8 & 7];
		} else {
			mmx_enter(fs);
			q = (fs->st[in->modrm & 7].signif >> (16 * (in->imm8 & 3))) & 0xffff;
		}
		gpr_write32(c, modrm_reg(in), q, false);
		return 0;
	case 0xd6:
		if (in->pfx == P_66) /* MOVQ xmm/m64, xmm: a register target is zero-extended */
			return xmm_store_part(c, in, 0, 8, true) ?:
			       (reg ? (fs->xmm[modrm_rm(in)].q[1] = 0, 0) : 0);
		if (!reg || in->pfx == P_NONE)
			return FPU_EXC_UD;
		if ((rc = check_sse_mmx(c)))
			return rc;
		mmx_enter(fs);
		if (in->pfx == P_F3) { /* MOVQ2DQ xmm, mm */
			memset(&fs->xmm[modrm_reg(in)], 0, 16);
			fs->xmm[modrm_reg(in)].q[0] = fs->st[in->modrm & 7].signif;
		} else { /* MOVDQ2Q mm, xmm */
			mmx_set(fs, in->modrm >> 3, fs->xmm[modrm_rm(in)].q[0]);
		}
		return 0;
	case 0xd7: { /* PMOVMSKB r32, mm/xmm */
		const uint8_t *b;
		unsigned n;

		if (!reg || (in->pfx != P_NONE && in->pfx != P_66))
			return FPU_EXC_UD;
		rc = in->pfx == P_66 ? check_sse(c) : check_mmx(c);
		if (rc)
			return rc;
		if (in->pfx == P_66) {
			b = fs->xmm[modrm_rm(in)].b;
			n = 16;
		} else {
			mmx_enter(fs);
			b = (const uint8_t *)&fs->st[in->modrm & 7].signif;
			n = 8;
		}
		q = 0;
		for (unsigned i = 0; i < n; i++)
			q |= (uint64_t)(b[i] >> 7) << i;
		gpr_write32(c, modrm_reg(in), q, false);
		return 0;
	}
	case 0xf0: /* LDDQU: unaligned, memory only */
		if (in->pfx != P_F2 || reg)
			return FPU_EXC_UD;
		return xmm_load(c, in, false);
	case 0xf7: { /* MASKMOVQ / MASKMOVDQU: in->addr is DS:rDI, set by the core */
		uint8_t data[16], mask[16];
		unsigned n = in->pfx == P_66 ? 16 : 8;

		if (!reg || (in->pfx != P_NONE && in->pfx != P_66))
			return FPU_EXC_UD;
		rc = in->pfx == P_66 ? check_sse(c) : check_mmx(c);
		if (rc)
			return rc;
		if (n == 16) {
			memcpy(data, &fs->xmm[modrm_reg(in)], 16);
			memcpy(mask, &fs->xmm[modrm_rm(in)], 16);
		} else {
			memcpy(data, &fs->st[(in->modrm >> 3) & 7].signif, 8);
			memcpy(mask, &fs->st[in->modrm & 7].signif, 8);
		}
		/* Byte by byte: unselected bytes are never written (MMIO). A
		 * fault part-way leaves earlier bytes written, as the SDM allows. */
		for (unsigned i = 0; i < n; i++) {
			if (!(mask[i] & 0x80))
				continue;
			rc = c->write(c->opaque, in->addr + i, &data[i], 1);
			if (rc)
				return rc;
		}
		if (n == 8)
			mmx_enter(fs);
		return 0;
	}
	}
	return FPU_EXC_UD;
}
