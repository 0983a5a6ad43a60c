/*
 * SSE/SSE2/SSE3 floating point on the host's SSE unit.
 *
 * The host is x86-64 and its SSE unit implements exactly the operations
 * being emulated, so each one runs as the same instruction, inside one asm
 * block that loads the guest's MXCSR (rounding control, FTZ, DAZ) with every
 * exception masked and the flags cleared, executes, reads the flags back and
 * restores the host's MXCSR. Results, NaN propagation, MIN/MAX operand rules,
 * denormal handling and the flags are therefore those of the processor by
 * construction; no compiler-generated FP code can be scheduled inside the
 * window. RCPPS/RCPSS/RSQRTPS/RSQRTSS are approximations whose exact bits are
 * vendor specific (SDM: relative error <= 1.5 * 2^-12): here they are the
 * host's, which is what the differential tester's native run produces; a
 * tester comparing against another vendor should only check that bound.
 *
 * Masks are forced on because an unmasked exception in the host would be a
 * SIGFPE in the VMM; sse_exec.c applies the guest's masks to the returned
 * flags afterwards (and then discards the result and raises #XM/#UD).
 */
#include <immintrin.h>

#include "cpu/x86/fpu/fpu_internal.h"

typedef uint32_t (*sse_fn)(__m128i *d, const __m128i *s, uint32_t csr);

#define DEF2(name, text)                                                                   \
	static uint32_t name(__m128i *d, const __m128i *s, uint32_t csr)                   \
	{                                                                                  \
		uint32_t host = 0, out = 0;                                                \
		__m128i x = *d, y = *s;                                                    \
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text " %[y], %[x]\n\t" \
				 "stmxcsr %[o]\n\tldmxcsr %[h]"                             \
				 : [x] "+x"(x), [h] "+m"(host), [o] "=m"(out)               \
				 : [y] "x"(y), [c] "m"(csr));                               \
		*d = x;                                                                    \
		return out;                                                                \
	}

DEF2(op_addps, "addps") DEF2(op_addpd, "addpd") DEF2(op_addss, "addss") DEF2(op_addsd, "addsd")
DEF2(op_mulps, "mulps") DEF2(op_mulpd, "mulpd") DEF2(op_mulss, "mulss") DEF2(op_mulsd, "mulsd")
DEF2(op_subps, "subps") DEF2(op_subpd, "subpd") DEF2(op_subss, "subss") DEF2(op_subsd, "subsd")
DEF2(op_minps, "minps") DEF2(op_minpd, "minpd") DEF2(op_minss, "minss") DEF2(op_minsd, "minsd")
DEF2(op_divps, "divps") DEF2(op_divpd, "divpd") DEF2(op_divss, "divss") DEF2(op_divsd, "divsd")
DEF2(op_maxps, "maxps") DEF2(op_maxpd, "maxpd") DEF2(op_maxss, "maxss") DEF2(op_maxsd, "maxsd")
DEF2(op_sqrtps, "sqrtps") DEF2(op_sqrtpd, "sqrtpd") DEF2(op_sqrtss, "sqrtss")
DEF2(op_sqrtsd, "sqrtsd")
DEF2(op_rsqrtps, "rsqrtps") DEF2(op_rsqrtss, "rsqrtss") DEF2(op_rcpps, "rcpps")
DEF2(op_rcpss, "rcpss")
DEF2(op_haddps, "haddps") DEF2(op_haddpd, "haddpd") DEF2(op_hsubps, "hsubps")
DEF2(op_hsubpd, "hsubpd") DEF2(op_addsubps, "addsubps") DEF2(op_addsubpd, "addsubpd")
DEF2(op_cvtps2pd, "cvtps2pd") DEF2(op_cvtpd2ps, "cvtpd2ps") DEF2(op_cvtss2sd, "cvtss2sd")
DEF2(op_cvtsd2ss, "cvtsd2ss")
DEF2(op_cvtdq2ps, "cvtdq2ps") DEF2(op_cvtps2dq, "cvtps2dq") DEF2(op_cvttps2dq, "cvttps2dq")
DEF2(op_cvttpd2dq, "cvttpd2dq") DEF2(op_cvtpd2dq, "cvtpd2dq") DEF2(op_cvtdq2pd, "cvtdq2pd")

#define DEFCMP(kind)                                                                          \
	DEF2(op_##kind##0, #kind " $0,") DEF2(op_##kind##1, #kind " $1,")                     \
	DEF2(op_##kind##2, #kind " $2,") DEF2(op_##kind##3, #kind " $3,")                     \
	DEF2(op_##kind##4, #kind " $4,") DEF2(op_##kind##5, #kind " $5,")                     \
	DEF2(op_##kind##6, #kind " $6,") DEF2(op_##kind##7, #kind " $7,")                     \
	static const sse_fn kind##_fns[8] = { op_##kind##0, op_##kind##1, op_##kind##2,      \
					      op_##kind##3, op_##kind##4, op_##kind##5,      \
					      op_##kind##6, op_##kind##7 };

DEFCMP(cmpps) DEFCMP(cmppd) DEFCMP(cmpss) DEFCMP(cmpsd)

static const sse_fn fns[SF_NR] = {
	[SF_ADDPS] = op_addps, [SF_ADDPD] = op_addpd, [SF_ADDSS] = op_addss, [SF_ADDSD] = op_addsd,
	[SF_MULPS] = op_mulps, [SF_MULPD] = op_mulpd, [SF_MULSS] = op_mulss, [SF_MULSD] = op_mulsd,
	[SF_SUBPS] = op_subps, [SF_SUBPD] = op_subpd, [SF_SUBSS] = op_subss, [SF_SUBSD] = op_subsd,
	[SF_MINPS] = op_minps, [SF_MINPD] = op_minpd, [SF_MINSS] = op_minss, [SF_MINSD] = op_minsd,
	[SF_DIVPS] = op_divps, [SF_DIVPD] = op_divpd, [SF_DIVSS] = op_divss, [SF_DIVSD] = op_divsd,
	[SF_MAXPS] = op_maxps, [SF_MAXPD] = op_maxpd, [SF_MAXSS] = op_maxss, [SF_MAXSD] = op_maxsd,
	[SF_SQRTPS] = op_sqrtps, [SF_SQRTPD] = op_sqrtpd, [SF_SQRTSS] = op_sqrtss,
	[SF_SQRTSD] = op_sqrtsd,
	[SF_RSQRTPS] = op_rsqrtps, [SF_RSQRTSS] = op_rsqrtss, [SF_RCPPS] = op_rcpps,
	[SF_RCPSS] = op_rcpss,
	[SF_HADDPS] = op_haddps, [SF_HADDPD] = op_haddpd, [SF_HSUBPS] = op_hsubps,
	[SF_HSUBPD] = op_hsubpd, [SF_ADDSUBPS] = op_addsubps, [SF_ADDSUBPD] = op_addsubpd,
	[SF_CVTPS2PD] = op_cvtps2pd, [SF_CVTPD2PS] = op_cvtpd2ps, [SF_CVTSS2SD] = op_cvtss2sd,
	[SF_CVTSD2SS] = op_cvtsd2ss,
	[SF_CVTDQ2PS] = op_cvtdq2ps, [SF_CVTPS2DQ] = op_cvtps2dq, [SF_CVTTPS2DQ] = op_cvttps2dq,
	[SF_CVTTPD2DQ] = op_cvttpd2dq, [SF_CVTPD2DQ] = op_cvtpd2dq, [SF_CVTDQ2PD] = op_cvtdq2pd,
};

/* The guest's MXCSR as run on the host: its rounding, FTZ and DAZ, flags
 * cleared, all exceptions masked. */
static uint32_t host_csr(uint32_t mxcsr)
{
	return (mxcsr & (0x6000u | MXCSR_FTZ | MXCSR_DAZ)) | MXCSR_MASKS;
}

/*
 * PE as an unmasked OE/UE reports it: the inexactness of the result rounded
 * to the destination's precision with an unbounded exponent. The host x87
 * computes exactly that with its precision control set to 24 or 53 bits
 * (one rounding, 15-bit exponent range). Lanes follow each operation's
 * pairing; DAZ flushes denormal inputs first.
 */
enum { L_ADD, L_SUB, L_MUL, L_DIV, L_SQRT };

/* st(0) = x op st(1) = y, result stored (exactly, as 80 bits) and popped. */
#define X87_OP2(op)                                                                        \
	__asm__ volatile("fnstcw %[h]\n\tfldcw %[c]\n\tfnclex\n\tfldt %[b]\n\tfldt %[a]\n\t" op \
			 "\n\tfstpt %[r]\n\tfstp %%st(0)\n\tfnstsw %[s]\n\tfnclex\n\tfldcw %[h]"   \
			 : [h] "=m"(host), [r] "=m"(r), [s] "=m"(sw)                        \
			 : [c] "m"(cw), [a] "m"(x), [b] "m"(y)                               \
			 : "st", "st(1)")
#define X87_OP1(op, v)                                                                     \
	__asm__ volatile("fnstcw %[h]\n\tfldcw %[c]\n\tfnclex\n\tfldt %[a]\n\t" op             \
			 "\n\tfstpt %[r]\n\tfnstsw %[s]\n\tfnclex\n\tfldcw %[h]"                 \
			 : [h] "=m"(host), [r] "=m"(r), [s] "=m"(sw)                        \
			 : [c] "m"(cw), [a] "m"(v)                                           \
			 : "st")

static bool x87_inexact(unsigned kind, bool dbl, const void *a, const void *b, uint32_t mxcsr)
{
	uint16_t cw = (uint16_t)(0x3f | (dbl ? 0x200 : 0) | ((mxcsr >> 3) & 0xc00)), sw, host;
	long double x, y, r;

	if (dbl) {
		double da, db;

		memcpy(&da, a, 8);
		memcpy(&db, b, 8);
		if ((mxcsr & MXCSR_DAZ) && da != 0 && __builtin_fabs(da) < 0x1p-1022)
			da = __builtin_copysign(0.0, da);
		if ((mxcsr & MXCSR_DAZ) && db != 0 && __builtin_fabs(db) < 0x1p-1022)
			db = __builtin_copysign(0.0, db);
		x = da;
		y = db;
	} else {
		float fa, fb;

		memcpy(&fa, a, 4);
		memcpy(&fb, b, 4);
		if ((mxcsr & MXCSR_DAZ) && fa != 0 && __builtin_fabsf(fa) < 0x1p-126f)
			fa = __builtin_copysignf(0.0f, fa);
		if ((mxcsr & MXCSR_DAZ) && fb != 0 && __builtin_fabsf(fb) < 0x1p-126f)
			fb = __builtin_copysignf(0.0f, fb);
		x = fa;
		y = fb;
	}
	/* x and y are exact; one x87 operation under cw rounds once. The whole
	 * sequence is one asm block so the x87 stack stays balanced. */
	switch (kind) {
	case L_ADD: X87_OP2("fadd %%st(1), %%st"); break;
	case L_SUB: X87_OP2("fsub %%st(1), %%st"); break;
	case L_MUL: X87_OP2("fmul %%st(1), %%st"); break;
	case L_DIV: X87_OP2("fdiv %%st(1), %%st"); break;
	case L_SQRT: X87_OP1("fsqrt", y); break;
	default: return false;
	}
	return sw & 0x20;
}

static uint32_t unbounded_pe(unsigned op, const union xmm_reg *d, const union xmm_reg *s,
			     uint32_t mxcsr)
{
	static const uint8_t kind4[6] = { L_ADD, L_MUL, L_SUB, 0xff, L_DIV, 0xff };
	unsigned kind, n, sz;
	bool pe = false;

	if (op <= SF_MAXSD) { /* ADD MUL SUB MIN DIV MAX x {PS PD SS SD} */
		kind = kind4[op / 4];
		if (kind == 0xff)
			return 0;
		sz = (op & 1) ? 8 : 4;
		n = (op & 2) ? 1 : 16 / sz;
		for (unsigned i = 0; i < n; i++)
			pe |= x87_inexact(kind, sz == 8, d->b + i * sz, s->b + i * sz, mxcsr);
	} else if (op >= SF_SQRTPS && op <= SF_SQRTSD) {
		sz = (op == SF_SQRTPD || op == SF_SQRTSD) ? 8 : 4;
		n = (op == SF_SQRTPS) ? 4 : (op == SF_SQRTPD) ? 2 : 1;
		for (unsigned i = 0; i < n; i++)
			pe |= x87_inexact(L_SQRT, sz == 8, s->b, s->b + i * sz, mxcsr);
	} else if (op >= SF_HADDPS && op <= SF_HSUBPD) {
		bool dbl = op == SF_HADDPD || op == SF_HSUBPD;
		unsigned k = (op == SF_HADDPS || op == SF_HADDPD) ? L_ADD : L_SUB;

		sz = dbl ? 8 : 4;
		for (unsigned i = 0; i < 16 / sz; i++) {
			const uint8_t *src = i < 8 / sz ? d->b : s->b;
			unsigned j = 2 * (i % (8 / sz)) * sz;

			pe |= x87_inexact(k, dbl, src + j, src + j + sz, mxcsr);
		}
	} else if (op == SF_ADDSUBPS || op == SF_ADDSUBPD) {
		sz = op == SF_ADDSUBPD ? 8 : 4;
		for (unsigned i = 0; i < 16 / sz; i++)
			pe |= x87_inexact(i & 1 ? L_ADD : L_SUB, sz == 8, d->b + i * sz,
					  s->b + i * sz, mxcsr);
	} else if (op == SF_CVTSD2SS || op == SF_CVTPD2PS) {
		/* double -> float: the double times one, rounded to 24 bits */
		for (unsigned i = 0; i < (op == SF_CVTPD2PS ? 2u : 1u); i++) {
			double v;
			long double x, y, r;
			uint16_t cw = (uint16_t)(0x3f | ((mxcsr >> 3) & 0xc00)), sw, host;

			memcpy(&v, s->b + 8 * i, 8);
			if ((mxcsr & MXCSR_DAZ) && v != 0 && __builtin_fabs(v) < 0x1p-1022)
				v = 0;
			x = v;
			y = 1.0L;
			X87_OP2("fmul %%st(1), %%st");
			pe |= sw & 0x20;
		}
	} else {
		return 0;
	}
	return pe ? 0x20 : 0;
}

uint32_t sse_host_op(unsigned op, unsigned imm, union xmm_reg *dst, const union xmm_reg *src,
		     uint32_t mxcsr)
{
	__m128i d, s;
	sse_fn fn;

	switch (op) {
	case SF_CMPPS: fn = cmpps_fns[imm & 7]; break;
	case SF_CMPPD: fn = cmppd_fns[imm & 7]; break;
	case SF_CMPSS: fn = cmpss_fns[imm & 7]; break;
	case SF_CMPSD: fn = cmpsd_fns[imm & 7]; break;
	default:
		if (op >= SF_NR || !fns[op])
			return 0;
		fn = fns[op];
	}
	memcpy(&d, dst, 16);
	memcpy(&s, src, 16);
	uint32_t out = fn(&d, &s, host_csr(mxcsr));

	/* Masked, underflow is flagged only for tiny AND inexact results;
	 * unmasked, for every tiny result. The host must run masked, so when
	 * the guest unmasks UE, tininess is found by a second run with FTZ,
	 * which flags UE for every tiny result. */
	if (!(mxcsr & 0x0800) && !(out & 0x10)) {
		__m128i d2;

		memcpy(&d2, dst, 16);
		out |= fn(&d2, &s, host_csr(mxcsr) | MXCSR_FTZ) & 0x10;
	}
	/* An unmasked OE/UE reports PE for the unbounded-exponent result. */
	if ((out & ~(mxcsr >> 7) & 0x18) && !(out & ~(mxcsr >> 7) & 0x7)) {
		/* A lane with a masked OE/UE keeps the PE its delivered result
		 * had; the others are judged with the exponent unbounded. */
		uint32_t keep = (out & (mxcsr >> 7) & 0x18) ? out & 0x20 : 0;

		out = (out & ~0x20u) | keep | unbounded_pe(op, dst, src, mxcsr);
	}
	memcpy(dst, &d, 16);
	return out & MXCSR_FLAGS;
}

#define CVT_IN(text, gtype)                                                                 \
	do {                                                                               \
		gtype g = (gtype)*gpr;                                                     \
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text " %[g], %[x]\n\t" \
				 "stmxcsr %[o]\n\tldmxcsr %[h]"                             \
				 : [x] "+x"(x), [h] "+m"(host), [o] "=m"(out)               \
				 : [g] "r"(g), [c] "m"(csr));                               \
	} while (0)
#define CVT_OUT(text, gtype)                                                                \
	do {                                                                               \
		gtype g;                                                                   \
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text " %[x], %[g]\n\t" \
				 "stmxcsr %[o]\n\tldmxcsr %[h]"                             \
				 : [g] "=r"(g), [h] "+m"(host), [o] "=m"(out)               \
				 : [x] "x"(x), [c] "m"(csr));                               \
		*gpr = (uint64_t)g;                                                        \
	} while (0)

uint32_t sse_host_cvt_gpr(unsigned kind, union xmm_reg *xr, uint64_t *gpr, uint32_t mxcsr)
{
	uint32_t host = 0, out = 0, csr = host_csr(mxcsr);
	__m128i x;

	memcpy(&x, xr, 16);
	switch (kind) {
	case SC_SI2SS32: CVT_IN("cvtsi2ssl", uint32_t); break;
	case SC_SI2SS64: CVT_IN("cvtsi2ssq", uint64_t); break;
	case SC_SI2SD32: CVT_IN("cvtsi2sdl", uint32_t); break;
	case SC_SI2SD64: CVT_IN("cvtsi2sdq", uint64_t); break;
	case SC_SS2SI32: CVT_OUT("cvtss2si", uint32_t); break;
	case SC_SS2SI64: CVT_OUT("cvtss2si", uint64_t); break;
	case SC_TSS2SI32: CVT_OUT("cvttss2si", uint32_t); break;
	case SC_TSS2SI64: CVT_OUT("cvttss2si", uint64_t); break;
	case SC_SD2SI32: CVT_OUT("cvtsd2si", uint32_t); break;
	case SC_SD2SI64: CVT_OUT("cvtsd2si", uint64_t); break;
	case SC_TSD2SI32: CVT_OUT("cvttsd2si", uint32_t); break;
	case SC_TSD2SI64: CVT_OUT("cvttsd2si", uint64_t); break;
	default: return 0;
	}
	memcpy(xr, &x, 16);
	return out & MXCSR_FLAGS;
}

#define COMI(text)                                                                          \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" text " %[b], %[a]\n\t"          \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                                      \
			 : "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf), [h] "+m"(host), [o] "=m"(out) \
			 : [a] "x"(a), [b] "x"(b), [c] "m"(csr))

/* kind: 0 UCOMISS, 1 COMISS, 2 UCOMISD, 3 COMISD */
uint32_t sse_host_comi(unsigned kind, const union xmm_reg *ar, const union xmm_reg *br,
		       uint32_t mxcsr, uint64_t *rflags_out)
{
	uint32_t host = 0, out = 0, csr = host_csr(mxcsr);
	bool zf, pf, cf;
	__m128i a, b;

	memcpy(&a, ar, 16);
	memcpy(&b, br, 16);
	switch (kind & 3) {
	case 0: COMI("ucomiss"); break;
	case 1: COMI("comiss"); break;
	case 2: COMI("ucomisd"); break;
	default: COMI("comisd"); break;
	}
	*rflags_out = (zf ? 0x40u : 0) | (pf ? 0x4u : 0) | (cf ? 0x1u : 0);
	return out & MXCSR_FLAGS;
}
