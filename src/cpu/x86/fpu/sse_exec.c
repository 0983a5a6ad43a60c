/*
 * MMX and SSE..SSSE3 instructions (0F, 0F38, 0F3A maps): operand fetch,
 * CR0/CR4 checks, alignment, MXCSR exception policy, MMX/x87 aliasing.
 *
 * Fault order follows the SDM tables: #UD (CR0.EM, CR4.OSFXSR, bad prefix or
 * form) before #NM (CR0.TS) before #MF (pending x87 exception, MMX forms)
 * before memory faults and #GP for misaligned 16-byte operands. Results are
 * committed only after every memory access succeeded, so faults restart.
 */
#include "cpu/x86/fpu/sse_helpers.h"


/* Floating-point table: per opcode, per prefix: operation and memory size
 * (16 = aligned m128). SF_NR = no such instruction. */
struct fp_form {
	uint8_t sf, len;
};
#define N { SF_NR, 0 }
#define ARITH(x) { { SF_##x##PS, 16 }, { SF_##x##PD, 16 }, { SF_##x##SS, 4 }, { SF_##x##SD, 8 } }
static const struct fp_form fp_tab[][4] = {
	[0x51 - 0x51] = ARITH(SQRT),
	[0x52 - 0x51] = { { SF_RSQRTPS, 16 }, N, { SF_RSQRTSS, 4 }, N },
	[0x53 - 0x51] = { { SF_RCPPS, 16 }, N, { SF_RCPSS, 4 }, N },
	[0x58 - 0x51] = ARITH(ADD),
	[0x59 - 0x51] = ARITH(MUL),
	[0x5a - 0x51] = { { SF_CVTPS2PD, 8 }, { SF_CVTPD2PS, 16 }, { SF_CVTSS2SD, 4 },
			  { SF_CVTSD2SS, 8 } },
	[0x5b - 0x51] = { { SF_CVTDQ2PS, 16 }, { SF_CVTPS2DQ, 16 }, { SF_CVTTPS2DQ, 16 }, N },
	[0x5c - 0x51] = ARITH(SUB),
	[0x5d - 0x51] = ARITH(MIN),
	[0x5e - 0x51] = ARITH(DIV),
	[0x5f - 0x51] = ARITH(MAX),
};
static const struct fp_form fp_e6[4] = { N, { SF_CVTTPD2DQ, 16 }, { SF_CVTDQ2PD, 8 },
					 { SF_CVTPD2DQ, 16 } };
static const struct fp_form fp_7c[4] = { N, { SF_HADDPD, 16 }, N, { SF_HADDPS, 16 } };
static const struct fp_form fp_7d[4] = { N, { SF_HSUBPD, 16 }, N, { SF_HSUBPS, 16 } };
static const struct fp_form fp_d0[4] = { N, { SF_ADDSUBPD, 16 }, N, { SF_ADDSUBPS, 16 } };
static const struct fp_form fp_c2[4] = { { SF_CMPPS, 16 }, { SF_CMPPD, 16 }, { SF_CMPSS, 4 },
					 { SF_CMPSD, 8 } };
#undef N
#undef ARITH

static int exec_fp(struct fpu_ctx *c, const struct fpu_insn *in, const struct fp_form *f)
{
	union xmm_reg d, s;
	uint32_t fl;
	int rc;

	if (f->sf == SF_NR)
		return FPU_EXC_UD;
	rc = check_sse(c);
	if (rc)
		return rc;
	rc = xsrc(c, in, &s, f->len, true);
	if (rc)
		return rc;
	d = c->fs->xmm[modrm_reg(in)];
	fl = sse_host_op(f->sf, in->imm8, &d, &s, c->fs->mxcsr);
	rc = mx_flags(c, fl);
	if (rc)
		return rc;
	c->fs->xmm[modrm_reg(in)] = d;
	return 0;
}

static bool is_int_op(unsigned op)
{
	return (op >= 0x60 && op <= 0x6d) || (op >= 0x74 && op <= 0x76) ||
	       (op >= 0xd1 && op <= 0xd5) || (op >= 0xd8 && op <= 0xdf) ||
	       (op >= 0xe0 && op <= 0xe5) || (op >= 0xe8 && op <= 0xef) ||
	       (op >= 0xf1 && op <= 0xf6) || (op >= 0xf8 && op <= 0xfe);
}

/* Two-operand integer SIMD: MMX without prefix, XMM with 66. */
static int exec_int(struct fpu_ctx *c, const struct fpu_insn *in, unsigned map)
{
	struct x86_fpu_state *fs = c->fs;
	int rc;

	if (in->pfx == P_NONE) {
		uint64_t d, s;

		if (map == FPU_MAP_0F && (in->op == 0x6c || in->op == 0x6d))
			return FPU_EXC_UD;
		rc = check_mmx(c);
		if (rc)
			return rc;
		/* MMX PUNPCKL* read only 32 bits of memory. */
		if (map == FPU_MAP_0F && in->op >= 0x60 && in->op <= 0x62 && !modrm_is_reg(in)) {
			s = 0;
			rc = mread(c, in, &s, 4, false);
		} else {
			rc = msrc(c, in, &s);
		}
		if (rc)
			return rc;
		mmx_enter(fs);
		d = fs->st[(in->modrm >> 3) & 7].signif;
		simd_int_op(map, in->op, in->imm8, (uint8_t *)&d, (const uint8_t *)&s, 8);
		mmx_set(fs, in->modrm >> 3, d);
		return 0;
	}
	if (in->pfx != P_66)
		return FPU_EXC_UD;
	union xmm_reg s;

	rc = check_sse(c);
	if (rc)
		return rc;
	rc = xsrc(c, in, &s, 16, true);
	if (rc)
		return rc;
	simd_int_op(map, in->op, in->imm8, fs->xmm[modrm_reg(in)].b, s.b, 16);
	return 0;
}

static int exec_shift_imm(struct fpu_ctx *c, const struct fpu_insn *in)
{
	static const uint8_t map_op[3][8] = {
		{ 0, 0, 0xd1, 0, 0xe1, 0, 0xf1, 0 },
		{ 0, 0, 0xd2, 0, 0xe2, 0, 0xf2, 0 },
		{ 0, 0, 0xd3, 1, 0, 0, 0xf3, 2 }, /* 1 = PSRLDQ, 2 = PSLLDQ */
	};
	unsigned g = (in->modrm >> 3) & 7, o = map_op[in->op - 0x71][g];
	uint8_t cnt[16] = { 0 };
	int rc;

	if (!modrm_is_reg(in) || !o || (in->pfx != P_NONE && in->pfx != P_66))
		return FPU_EXC_UD;
	cnt[0] = in->imm8;
	if (in->pfx == P_NONE) {
		uint64_t d;

		if (o < 0x10)
			return FPU_EXC_UD; /* byte shifts exist only for XMM */
		rc = check_mmx(c);
		if (rc)
			return rc;
		mmx_enter(c->fs);
		d = c->fs->st[in->modrm & 7].signif;
		simd_int_op(FPU_MAP_0F, o, 0, (uint8_t *)&d, cnt, 8);
		mmx_set(c->fs, in->modrm, d);
		return 0;
	}
	rc = check_sse(c);
	if (rc)
		return rc;
	union xmm_reg *x = &c->fs->xmm[modrm_rm(in)];
	if (o >= 0x10) {
		simd_int_op(FPU_MAP_0F, o, 0, x->b, cnt, 16);
	} else {
		union xmm_reg r = { 0 };
		unsigned n = in->imm8 > 16 ? 16 : in->imm8;

		if (o == 1)
			memcpy(r.b, x->b + n, 16 - n);
		else
			memcpy(r.b + n, x->b, 16 - n);
		*x = r;
	}
	return 0;
}

static int exec_pshuf(struct fpu_ctx *c, const struct fpu_insn *in)
{
	unsigned imm = in->imm8;
	int rc;

	if (in->pfx == P_NONE) { /* PSHUFW mm, mm/m64, imm8 */
		uint64_t s, d = 0;

		rc = check_mmx(c);
		if (rc)
			return rc;
		rc = msrc(c, in, &s);
		if (rc)
			return rc;
		for (unsigned i = 0; i < 4; i++)
			d |= ((s >> (16 * ((imm >> (2 * i)) & 3))) & 0xffff) << (16 * i);
		mmx_enter(c->fs);
		mmx_set(c->fs, in->modrm >> 3, d);
		return 0;
	}
	union xmm_reg s, r;

	rc = check_sse(c);
	if (rc)
		return rc;
	rc = xsrc(c, in, &s, 16, true);
	if (rc)
		return rc;
	r = s;
	for (unsigned i = 0; i < 4; i++) {
		unsigned k = (imm >> (2 * i)) & 3;

		if (in->pfx == P_66)
			r.d[i] = s.d[k];
		else if (in->pfx == P_F3)
			r.w[4 + i] = s.w[4 + k];
		else
			r.w[i] = s.w[k];
	}
	c->fs->xmm[modrm_reg(in)] = r;
	return 0;
}

int sse_exec(struct fpu_ctx *c, const struct fpu_insn *in)
{
	unsigned op = in->op;

	if (in->map == FPU_MAP_0F38) {
		if (in->pfx != P_NONE && in->pfx != P_66)
			return FPU_EXC_UD;
		if (op > 0x1e || (op > 0x0b && op < 0x1c))
			return FPU_EXC_UD;
		return exec_int(c, in, FPU_MAP_0F38);
	}
	if (in->map == FPU_MAP_0F3A) {
		if (op != 0x0f || (in->pfx != P_NONE && in->pfx != P_66))
			return FPU_EXC_UD;
		return exec_int(c, in, FPU_MAP_0F3A);
	}
	if (in->map != FPU_MAP_0F)
		return FPU_EXC_UD;

	if ((op >= 0x51 && op <= 0x53) || (op >= 0x58 && op <= 0x5f))
		return exec_fp(c, in, &fp_tab[op - 0x51][in->pfx & 3]);
	switch (op) {
	case 0xe6: return exec_fp(c, in, &fp_e6[in->pfx & 3]);
	case 0x7c: return exec_fp(c, in, &fp_7c[in->pfx & 3]);
	case 0x7d: return exec_fp(c, in, &fp_7d[in->pfx & 3]);
	case 0xd0: return exec_fp(c, in, &fp_d0[in->pfx & 3]);
	case 0xc2: return exec_fp(c, in, &fp_c2[in->pfx & 3]);
	case 0x70: return exec_pshuf(c, in);
	case 0x71: case 0x72: case 0x73: return exec_shift_imm(c, in);
	}
	if (is_int_op(op) && !(op == 0xd6 || op == 0xd7))
		return exec_int(c, in, FPU_MAP_0F);
	return sse_exec_other(c, in);
}
