/* SSE/MMX known answers: MXCSR policy, #XM/#UD/#NM/#GP, FXSAVE/FXRSTOR,
 * COMISS flags, conversions, MMX aliasing, RCPPS accuracy bound. */
#include <math.h>

#include "test_fpu_common.h"

#define RUN(m, ...)                                                              \
	({                                                                       \
		static const uint8_t b_[] = { __VA_ARGS__ };                     \
		tm_run((m), b_, sizeof(b_));                                     \
	})

static void set_ps(union xmm_reg *x, float a, float b, float c, float d)
{
	x->f32[0] = a;
	x->f32[1] = b;
	x->f32[2] = c;
	x->f32[3] = d;
}

static void test_ldmxcsr(void **state)
{
	struct tmachine m;
	uint32_t v = 0x1f80 | 0x6000 | 0x8040; /* RZ, FTZ, DAZ */

	tm_init(&m);
	memcpy(m.mem, &v, 4);
	assert_int_equal(RUN(&m, 0x0f, 0xae, 0x17), 0); /* LDMXCSR [rdi] */
	assert_int_equal(m.fs.mxcsr, v);
	v = 0x10000 | 0x1f80; /* reserved bit */
	memcpy(m.mem, &v, 4);
	assert_int_equal(RUN(&m, 0x0f, 0xae, 0x17), FPU_EXC_GP);
	assert_int_equal(m.fs.mxcsr, 0x1f80 | 0x6000 | 0x8040);
	memset(m.mem, 0, 4);
	assert_int_equal(RUN(&m, 0x0f, 0xae, 0x1f), 0); /* STMXCSR */
	assert_int_equal(m.mem[0] | m.mem[1] << 8, 0xff80 | 0x40);
}

static void test_alignment(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.mem_la = 0x1008;
	assert_int_equal(RUN(&m, 0x0f, 0x28, 0x07), FPU_EXC_GP);       /* MOVAPS */
	assert_int_equal(RUN(&m, 0x66, 0x0f, 0xfe, 0x07), FPU_EXC_GP); /* PADDD m128 */
	assert_int_equal(RUN(&m, 0x0f, 0x58, 0x07), FPU_EXC_GP);       /* ADDPS m128 */
	assert_int_equal(RUN(&m, 0x0f, 0x10, 0x07), 0);                /* MOVUPS */
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x58, 0x07), 0);          /* ADDSS m32 */
	assert_int_equal(RUN(&m, 0xf2, 0x0f, 0xf0, 0x07), 0);          /* LDDQU */
	assert_int_equal(RUN(&m, 0x0f, 0xae, 0x07), FPU_EXC_GP);       /* FXSAVE */
}

static void test_unmasked_simd_exception(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.fs.mxcsr = 0x1f80 & ~0x0200; /* ZE unmasked */
	set_ps(&m.fs.xmm[0], 1, 2, 3, 4);
	set_ps(&m.fs.xmm[1], 1, 0, 1, 1);
	assert_int_equal(RUN(&m, 0x0f, 0x5e, 0xc1), FPU_EXC_XM); /* DIVPS xmm0, xmm1 */
	assert_true(m.fs.xmm[0].f32[1] == 2.0f); /* destination unchanged */
	assert_true(m.fs.mxcsr & 0x4);
	m.ctx.cr4 &= ~FPU_CR4_OSXMMEXCPT;
	assert_int_equal(RUN(&m, 0x0f, 0x5e, 0xc1), FPU_EXC_UD);
	m.ctx.cr4 |= FPU_CR4_OSXMMEXCPT;
	/* masked: +inf, flag set, no exception */
	m.fs.mxcsr = 0x1f80;
	assert_int_equal(RUN(&m, 0x0f, 0x5e, 0xc1), 0);
	assert_true(isinf(m.fs.xmm[0].f32[1]));
	assert_int_equal(m.fs.mxcsr, 0x1f84);
	/* PE unmasked with an inexact result: #XM, PE reported */
	m.fs.mxcsr = 0x1f80 & ~0x1000;
	set_ps(&m.fs.xmm[0], 1, 1, 1, 1);
	set_ps(&m.fs.xmm[1], 3, 3, 3, 3);
	assert_int_equal(RUN(&m, 0x0f, 0x5e, 0xc1), FPU_EXC_XM);
	assert_int_equal(m.fs.mxcsr & 0x3f, 0x20);
	assert_true(m.fs.xmm[0].f32[0] == 1.0f);
}

/* Underflow: masked, only tiny AND inexact results flag UE; unmasked,
 * every tiny result does, and PE then reflects the unbounded exponent. */
static void test_underflow_rules(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.fs.xmm[0].f32[0] = 0x1p-100f;
	m.fs.xmm[1].f32[0] = 0x1p-30f; /* product 2^-130: tiny, exact denormal */
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x59, 0xc1), 0); /* MULSS */
	assert_int_equal(m.fs.mxcsr & 0x3f, 0);
	assert_true(m.fs.xmm[0].f32[0] == 0x1p-130f);
	m.fs.xmm[0].f32[0] = 0x1p-100f;
	m.fs.mxcsr = 0x1f80 & ~0x0800; /* UE unmasked */
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x59, 0xc1), FPU_EXC_XM);
	assert_int_equal(m.fs.mxcsr & 0x3f, 0x10); /* UE, no PE: exact */
	assert_true(m.fs.xmm[0].f32[0] == 0x1p-100f);
	/* (1 + 2^-23)^2 needs 47 bits: inexact even with an unbounded exponent */
	m.fs.mxcsr = 0x1f80 & ~0x0800;
	m.fs.xmm[0].f32[0] = 0x1.000002p-100f;
	m.fs.xmm[1].f32[0] = 0x1.000002p-30f;
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x59, 0xc1), FPU_EXC_XM);
	assert_int_equal(m.fs.mxcsr & 0x3f, 0x30);
	/* FTZ (UE masked): tiny results become zero with UE and PE */
	m.fs.mxcsr = 0x1f80 | 0x8000;
	m.fs.xmm[0].f32[0] = 0x1p-100f;
	m.fs.xmm[1].f32[0] = 0x1p-30f;
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x59, 0xc1), 0);
	assert_true(m.fs.xmm[0].f32[0] == 0.0f);
	assert_int_equal(m.fs.mxcsr & 0x3f, 0x30);
}

static void test_cr_checks(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.ctx.cr4 &= ~FPU_CR4_OSFXSR;
	assert_int_equal(RUN(&m, 0x0f, 0x58, 0xc1), FPU_EXC_UD);
	assert_int_equal(RUN(&m, 0x0f, 0xfc, 0xc1), 0); /* MMX needs no OSFXSR */
	m.ctx.cr4 |= FPU_CR4_OSFXSR;
	m.ctx.cr0 |= FPU_CR0_EM;
	assert_int_equal(RUN(&m, 0x0f, 0x58, 0xc1), FPU_EXC_UD);
	assert_int_equal(RUN(&m, 0x0f, 0xfc, 0xc1), FPU_EXC_UD);
	assert_int_equal(RUN(&m, 0x0f, 0xae, 0x07), FPU_EXC_NM); /* FXSAVE */
	m.ctx.cr0 &= ~FPU_CR0_EM;
	m.ctx.cr0 |= FPU_CR0_TS;
	assert_int_equal(RUN(&m, 0x0f, 0x58, 0xc1), FPU_EXC_NM);
	assert_int_equal(RUN(&m, 0x0f, 0x77), FPU_EXC_NM);
	assert_int_equal(RUN(&m, 0x0f, 0xae, 0xf8), 0); /* SFENCE needs nothing */
}

static void test_mmx_aliasing(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.fs.fsw = 5 << 11;
	m.fs.st[1].signif = 0x0102030405060708ull;
	m.fs.st[2].signif = 0x0101010101010101ull;
	assert_int_equal(RUN(&m, 0x0f, 0xfc, 0xca), 0); /* PADDB mm1, mm2 */
	assert_true(m.fs.st[1].signif == 0x0203040506070809ull);
	assert_int_equal(m.fs.st[1].sign_exp, 0xffff);
	assert_int_equal(m.fs.fsw & 0x3800, 0);
	assert_int_equal(m.fs.ftw, 0xff);
	assert_int_equal(RUN(&m, 0x0f, 0x77), 0); /* EMMS */
	assert_int_equal(m.fs.ftw, 0);
	/* pending x87 exception: #MF before an MMX instruction */
	m.fs.fcw = 0x037b;
	m.fs.fsw = 0x8084;
	assert_int_equal(RUN(&m, 0x0f, 0xfc, 0xca), FPU_EXC_MF);
	assert_int_equal(RUN(&m, 0x66, 0x0f, 0xfc, 0xca), 0); /* SSE2 form does not care */
}

static void test_pshufb_widths(void **state)
{
	struct tmachine m;

	tm_init(&m);
	for (unsigned i = 0; i < 16; i++) {
		m.fs.xmm[0].b[i] = (uint8_t)(0x10 + i);
		m.fs.xmm[1].b[i] = (uint8_t)(15 - i);
	}
	m.fs.xmm[1].b[3] = 0x80;
	assert_int_equal(RUN(&m, 0x66, 0x0f, 0x38, 0x00, 0xc1), 0);
	assert_int_equal(m.fs.xmm[0].b[0], 0x1f);
	assert_int_equal(m.fs.xmm[0].b[3], 0);
	m.fs.st[0].signif = 0x1716151413121110ull;
	m.fs.st[1].signif = 0x000000000000000full; /* index 15 -> 7 in MMX */
	assert_int_equal(RUN(&m, 0x0f, 0x38, 0x00, 0xc1), 0);
	assert_int_equal(m.fs.st[0].signif & 0xff, 0x17);
}

static void test_comis(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.fs.xmm[0].f32[0] = 1.0f;
	m.fs.xmm[1].f32[0] = NAN;
	m.rflags = 2 | 0x800;
	assert_int_equal(RUN(&m, 0x0f, 0x2e, 0xc1), 0); /* UCOMISS QNaN: no IE */
	assert_int_equal(m.rflags & 0x8d5, 0x45);       /* unordered: ZF PF CF */
	assert_int_equal(m.fs.mxcsr & 1, 0);
	assert_int_equal(RUN(&m, 0x0f, 0x2f, 0xc1), 0); /* COMISS QNaN: IE */
	assert_int_equal(m.fs.mxcsr & 1, 1);
	m.fs.xmm[1].f32[0] = 2.0f;
	assert_int_equal(RUN(&m, 0x0f, 0x2f, 0xc1), 0);
	assert_int_equal(m.rflags & 0x8d5, 0x1); /* less: CF */
}

static void test_conversions(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.fs.xmm[1].f32[0] = -2.5f;
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x2d, 0xc1), 0); /* CVTSS2SI eax: nearest even */
	assert_int_equal(m.gpr[0], (uint32_t)-2);
	m.fs.mxcsr = 0x1f80 | 0x2000; /* round down */
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x2d, 0xc1), 0);
	assert_int_equal(m.gpr[0], (uint32_t)-3);
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x2c, 0xc1), 0); /* CVTTSS2SI truncates */
	assert_int_equal(m.gpr[0], (uint32_t)-2);
	m.fs.xmm[1].f32[0] = 3e9f;
	assert_int_equal(RUN(&m, 0xf3, 0x0f, 0x2c, 0xc1), 0);
	assert_int_equal(m.gpr[0], 0x80000000u);
	assert_true(m.fs.mxcsr & 1);
	assert_int_equal(RUN(&m, 0xf3, 0x48, 0x0f, 0x2c, 0xc1), 0); /* 64-bit form fits */
	assert_int_equal(m.gpr[0], 3000000000ull);
	m.gpr[0] = (uint64_t)-7;
	assert_int_equal(RUN(&m, 0xf2, 0x48, 0x0f, 0x2a, 0xd0), 0); /* CVTSI2SD xmm2, rax */
	assert_true(m.fs.xmm[2].f64[0] == -7.0);
}

static void test_rcp_bound(void **state)
{
	struct tmachine m;

	tm_init(&m);
	for (unsigned i = 1; i < 2000; i++) {
		float x = (float)i * 0.37f + 1e-3f;

		set_ps(&m.fs.xmm[1], x, 1.0f / x, x * 1e20f, x * 1e-20f);
		assert_int_equal(RUN(&m, 0x0f, 0x53, 0xc1), 0); /* RCPPS */
		for (unsigned k = 0; k < 4; k++) {
			double exact = 1.0 / m.fs.xmm[1].f32[k];

			assert_true(fabs(m.fs.xmm[0].f32[k] - exact) <= (1.5 / 4096) * fabs(exact));
		}
		assert_int_equal(RUN(&m, 0x0f, 0x52, 0xc1), 0); /* RSQRTPS */
		for (unsigned k = 0; k < 4; k++) {
			/* r = (1 + e) / sqrt(x)  =>  r * r * x = (1 + e)^2, |e| <= 1.5 * 2^-12 */
			double r = m.fs.xmm[0].f32[k], e = 1.5 / 4096;

			assert_true(fabs(r * r * m.fs.xmm[1].f32[k] - 1.0) <= 2 * e + e * e);
		}
	}
}

static void test_fxsave_fxrstor(void **state)
{
	struct tmachine m, n;
	uint8_t img[512];

	tm_init(&m);
	assert_int_equal(RUN(&m, 0xd9, 0xe8, 0xd9, 0xeb), 0); /* FLD1 FLDPI */
	for (unsigned i = 0; i < 16; i++)
		memset(&m.fs.xmm[i], 0x11 * i, 16);
	m.fs.mxcsr = 0x3f80 | 1;
	memset(m.mem, 0xee, TMEM_SIZE);
	assert_int_equal(RUN(&m, 0x48, 0x0f, 0xae, 0x07), 0); /* FXSAVE64 */
	assert_int_equal(m.mem[0] | m.mem[1] << 8, 0x037f);
	assert_int_equal(m.mem[4], 0xc0);                      /* abridged tags */
	assert_int_equal(m.mem[24] | m.mem[25] << 8, 0x3f81); /* MXCSR */
	assert_int_equal(m.mem[28] | m.mem[29] << 8, 0xffff); /* MXCSR_MASK */
	assert_int_equal(m.mem[32 + 9], 0x40);                 /* ST0 = pi: exponent 0x4000 */
	assert_int_equal(m.mem[160 + 16 * 15], 0xff);          /* XMM15 */
	assert_int_equal(m.mem[464], 0xee);                    /* software area untouched */
	memcpy(img, m.mem, 512);
	/* restore into a fresh machine */
	tm_init(&n);
	memcpy(n.mem, img, 512);
	assert_int_equal(RUN(&n, 0x48, 0x0f, 0xae, 0x0f), 0);
	assert_int_equal(n.fs.fcw, m.fs.fcw);
	assert_int_equal(n.fs.fsw, m.fs.fsw);
	assert_int_equal(n.fs.ftw, m.fs.ftw);
	assert_memory_equal(n.fs.xmm, m.fs.xmm, sizeof(m.fs.xmm));
	assert_int_equal(n.fs.mxcsr, m.fs.mxcsr);
	for (unsigned i = 6; i < 8; i++)
		assert_memory_equal(&n.fs.st[i], &m.fs.st[i], 10);
	/* reserved MXCSR bits: #GP, nothing loaded */
	tm_init(&n);
	memcpy(n.mem, img, 512);
	n.mem[26] = 1;
	assert_int_equal(RUN(&n, 0x48, 0x0f, 0xae, 0x0f), FPU_EXC_GP);
	assert_int_equal(n.fs.ftw, 0);
	assert_int_equal(n.fs.mxcsr, 0x1f80);
	/* outside 64-bit mode only XMM0-7 are written */
	tm_init(&n);
	n.ctx.mode64 = false;
	memset(n.mem, 0xee, TMEM_SIZE);
	assert_int_equal(RUN(&n, 0x0f, 0xae, 0x07), 0);
	assert_int_equal(n.mem[287], 0);
	assert_int_equal(n.mem[288], 0xee);
}

static void test_fxsave_matches_host(void **state)
{
	struct tmachine m, n;
	uint8_t fx[512] __attribute__((aligned(16)));

	tm_init(&m);
	assert_int_equal(RUN(&m, 0xd9, 0xe8, 0xd9, 0xeb, 0xd9, 0xee, 0xde, 0xc1), 0);
	m.fs.xmm[3].q[0] = 0x1234;
	n = m;
	n.ctx.fs = &n.fs;
	n.ctx.opaque = &n;
	n.ctx.gpr = n.gpr;
	n.ctx.rflags = &n.rflags;
	assert_int_equal(RUN(&m, 0x48, 0x0f, 0xae, 0x07), 0);
	memset(n.mem, 0, TMEM_SIZE);
	static const uint8_t fxsave[] = { 0x48, 0x0f, 0xae, 0x07 };

	assert_int_equal(tm_native(&n, fxsave, sizeof(fxsave)), 0);
	memcpy(fx, n.mem, 512);
	/* FOP/FIP/FDP (6..23) are host values natively */
	assert_memory_equal(m.mem, fx, 6);
	/* MXCSR_MASK (28..31) is left out: an AMD host reports bit 17 (MM),
	 * the emulated CPU reports Intel's 0xffff */
	assert_memory_equal(m.mem + 24, fx + 24, 4);
	assert_memory_equal(m.mem + 32, fx + 32, 464 - 32);
}

static void test_maskmovq(void **state)
{
	struct tmachine m;

	tm_init(&m);
	memset(m.mem, 0x55, 16);
	m.fs.st[0].signif = 0x8877665544332211ull;
	m.fs.st[1].signif = 0x8000800000000080ull; /* bytes 0, 5, 7 */
	assert_int_equal(RUN(&m, 0x0f, 0xf7, 0xc1), 0);
	static const uint8_t want[8] = { 0x11, 0x55, 0x55, 0x55, 0x55, 0x66, 0x55, 0x88 };

	assert_memory_equal(m.mem, want, 8);
	assert_int_equal(RUN(&m, 0x0f, 0xf7, 0x07), FPU_EXC_UD); /* memory form */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ldmxcsr),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_unmasked_simd_exception),
		cmocka_unit_test(test_underflow_rules),
		cmocka_unit_test(test_cr_checks),
		cmocka_unit_test(test_mmx_aliasing),
		cmocka_unit_test(test_pshufb_widths),
		cmocka_unit_test(test_comis),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_rcp_bound),
		cmocka_unit_test(test_fxsave_fxrstor),
		cmocka_unit_test(test_fxsave_matches_host),
		cmocka_unit_test(test_maskmovq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
