/*
 * The fpu checked against the host processor: random x87/MMX/SSE states
 * (specials, denormals, pseudo-denormals, unnormals, every rounding and
 * precision mode, FTZ/DAZ, random masks) run through fpu_exec() and
 * natively; the resulting FXSAVE images, RAX, RFLAGS and memory must agree.
 * FIP/FDP/FOP are not compared (the native run's are host addresses).
 */
#include "test_fpu_common.h"

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void rand_x87(struct x87_reg *r)
{
	uint16_t sign = (rnd() & 1) ? 0x8000 : 0;

	switch (rnd() % 14) {
	case 0: r->signif = 0; r->sign_exp = sign; break;
	case 1: r->signif = 1ull << 63; r->sign_exp = sign | 0x7fff; break;
	case 2: r->signif = (3ull << 62) | (rnd() >> 20); r->sign_exp = sign | 0x7fff; break;
	case 3: r->signif = (1ull << 63) | (rnd() >> 3) | 1; r->sign_exp = sign | 0x7fff; break;
	case 4: r->signif = rnd() >> 1; r->sign_exp = sign; break;           /* denormal */
	case 5: r->signif = rnd() | (1ull << 63); r->sign_exp = sign; break; /* pseudo-denormal */
	case 6: r->signif = rnd() >> 1; r->sign_exp = sign | (uint16_t)(1 + rnd() % 0x7ffe); break;
	case 7: { /* small integers, exactly representable */
		long double v = (long double)(int)(rnd() % 2001 - 1000);

		memcpy(r, &v, 10);
		break;
	}
	case 8: r->signif = rnd() | (1ull << 63); r->sign_exp = sign | (uint16_t)(1 + rnd() % 40); break;
	case 9: r->signif = rnd() | (1ull << 63); r->sign_exp = sign | (uint16_t)(0x7ffe - rnd() % 40); break;
	default:
		r->signif = rnd() | (1ull << 63);
		r->sign_exp = sign | (uint16_t)(0x3fff - 70 + rnd() % 140);
	}
	memset(r->pad, 0, sizeof(r->pad));
}

static uint32_t rand_f32(void)
{
	static const uint32_t sp[] = { 0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
				       0x7fa00001, 0x00000001, 0x807fffff, 0x7f7fffff, 0x3f800000,
				       0x4f000000, 0xcf000000, 0x5f000000, 0x3effffff };

	if (rnd() % 3 == 0)
		return sp[rnd() % (sizeof(sp) / 4)] ^ (uint32_t)(rnd() % 4 == 0);
	return (uint32_t)(((rnd() % 2) << 31) | ((0x60 + rnd() % 0x40) << 23) | (rnd() & 0x7fffff));
}

static uint64_t rand_f64(void)
{
	static const uint64_t sp[] = { 0, 1ull << 63, 0x7ff0000000000000ull, 0xfff8000000000000ull,
				       0x7ff4000000000001ull, 1, 0x000fffffffffffffull,
				       0x3ff0000000000000ull, 0x41e0000000000000ull,
				       0xc3e0000000000000ull, 0x7fefffffffffffffull };

	if (rnd() % 3 == 0)
		return sp[rnd() % (sizeof(sp) / 8)];
	return ((rnd() % 2) << 63) | ((0x3c0 + rnd() % 0x80) << 52) | (rnd() >> 12);
}

static void rand_lanes(uint8_t *p, unsigned n)
{
	unsigned kind = rnd() % 3;

	for (unsigned i = 0; i < n; i += 8) {
		uint64_t v;

		if (kind == 0)
			v = rnd();
		else if (kind == 1)
			v = rand_f32() | ((uint64_t)rand_f32() << 32);
		else
			v = rand_f64();
		memcpy(p + i, &v, 8);
	}
}

static void rand_machine(struct tmachine *m)
{
	tm_init(m);
	for (unsigned i = 0; i < 8; i++)
		rand_x87(&m->fs.st[i]);
	m->fs.ftw = (uint16_t)(rnd() & 0xff);
	if (rnd() % 3 == 0)
		m->fs.ftw = 0xff;
	m->fs.fcw = (uint16_t)(0x0040 | (rnd() & 0x0f00) | 0x3f);
	if (rnd() % 4 == 0)
		m->fs.fcw &= (uint16_t)~(rnd() & 0x3f); /* some exceptions unmasked */
	m->fs.fsw = (uint16_t)((rnd() & 0x4700) | ((rnd() % 8) << 11));
	m->fs.fsw |= (uint16_t)(rnd() & m->fs.fcw & 0x3f); /* only masked flags pending */
	for (unsigned i = 0; i < 16; i++)
		rand_lanes(m->fs.xmm[i].b, 16);
	m->fs.mxcsr = (uint32_t)(0x1f80 | (rnd() & 0xe07f));
	m->gpr[0] = rnd();
	if (rnd() & 1)
		m->gpr[0] = (uint32_t)m->gpr[0] >> (rnd() % 32);
	m->rflags = 2 | (rnd() & 0x45);
	rand_lanes(m->mem, TMEM_SIZE);
	for (unsigned i = 0; i < TMEM_SIZE; i += 16)
		if (rnd() % 3 == 0)
			rand_x87((struct x87_reg *)(m->mem + i));
}

static unsigned failures, compared, skipped;
static char detail[200];

static void report(const char *what, const uint8_t *p, size_t len)
{
	if (++failures > 25)
		return;
	fprintf(stderr, "mismatch (%s):", what);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "  %s\n", detail);
	detail[0] = 0;
}

/* F2/F3 0F 2B: AMD's SSE4a MOVNTSD/MOVNTSS, outside the emulated set. */
static bool amd_only(const uint8_t *p, size_t len)
{
	size_t i = 0;

	if (i < len && (p[i] == 0xf2 || p[i] == 0xf3)) {
		i++;
		if (i < len && (p[i] & 0xf0) == 0x40)
			i++;
		return i + 1 < len && p[i] == 0x0f && p[i + 1] == 0x2b;
	}
	return false;
}

static void compare_one(const uint8_t *p, size_t len)
{
	struct tmachine e, n;
	uint8_t fe[512], fn[512];
	int rc, sig;

	rand_machine(&e);
	n = e;
	n.ctx.fs = &n.fs;
	n.ctx.gpr = n.gpr;
	n.ctx.rflags = &n.rflags;
	n.ctx.opaque = &n;
	rc = tm_run(&e, p, len);
	if (rc == -1000) {
		report("decode", p, len);
		return;
	}
	if (rc) {
		skipped++;
		/* An encoding refused as #UD must be invalid natively too. */
		if (rc == FPU_EXC_UD && !amd_only(p, len) && !tm_native(&n, p, len))
			report("emulator #UD, native executed", p, len);
		return;
	}
	sig = tm_native(&n, p, len);
	if (sig) {
		report("native signal, emulator executed", p, len);
		return;
	}
	compared++;
	fpu_fxsave(&e.fs, fe, true);
	fpu_fxsave(&n.fs, fn, true);
	if (memcmp(fe, fn, 6)) {
		snprintf(detail, sizeof(detail), "fcw %04x/%04x fsw %04x/%04x ftw %02x/%02x", e.fs.fcw, n.fs.fcw,
			e.fs.fsw, n.fs.fsw, e.fs.ftw, n.fs.ftw);
		report("fcw/fsw/ftw", p, len);
	} else if (memcmp(fe + 24, fn + 24, 4)) {
		snprintf(detail, sizeof(detail), "mxcsr %08x/%08x", e.fs.mxcsr, n.fs.mxcsr);
		report("mxcsr", p, len);
	} else if (memcmp(fe + 32, fn + 32, 128)) {
		report("x87 registers", p, len);
	} else if (memcmp(fe + 160, fn + 160, 256)) {
		report("xmm registers", p, len);
	} else if (e.gpr[0] != n.gpr[0]) {
		snprintf(detail, sizeof(detail), "rax %016llx/%016llx", (unsigned long long)e.gpr[0],
			(unsigned long long)n.gpr[0]);
		report("rax", p, len);
	} else if ((e.rflags ^ n.rflags) & 0x8d5) {
		snprintf(detail, sizeof(detail), "rflags %llx/%llx", (unsigned long long)e.rflags,
			(unsigned long long)n.rflags);
		report("rflags", p, len);
	} else if (memcmp(e.mem, n.mem, TMEM_SIZE)) {
		report("memory", p, len);
	}
}

static void finish(const char *what)
{
	fprintf(stderr, "%s: %u compared, %u refused by the emulator, %u mismatches\n", what,
		compared, skipped, failures);
	unsigned f = failures, c = compared;

	failures = compared = skipped = 0;
	assert_int_equal(f, 0);
	assert_true(c > 0);
}

static void test_x87_register_forms(void **state)
{
	for (unsigned op = 0xd8; op <= 0xdf; op++) {
		for (unsigned m = 0xc0; m <= 0xff; m++) {
			uint8_t b[2] = { (uint8_t)op, (uint8_t)m };

			for (unsigned k = 0; k < 40; k++)
				compare_one(b, 2);
		}
	}
	finish("x87 register forms");
}

static void test_x87_memory_forms(void **state)
{
	for (unsigned op = 0xd8; op <= 0xdf; op++) {
		for (unsigned r = 0; r < 8; r++) {
			uint8_t b[2] = { (uint8_t)op, (uint8_t)((r << 3) | 7) };

			/* FNSTENV/FNSAVE write host FIP/FDP natively: test_fpu_x87 checks them */
			if ((op == 0xd9 || op == 0xdd) && r == 6)
				continue;
			for (unsigned k = 0; k < 300; k++)
				compare_one(b, 2);
		}
	}
	finish("x87 memory forms");
}

/* ModRM fields naming a general register are forced to RAX so the native
 * run cannot touch the test's own registers. */
static bool gpr_in_rm(unsigned map, unsigned op, unsigned pfx)
{
	return map == FPU_MAP_0F && (((op == 0x6e || op == 0x7e) && pfx <= FPU_PFX_66) ||
				     (op == 0x2a && pfx >= FPU_PFX_F3) || op == 0xc4);
}

static bool gpr_in_reg(unsigned map, unsigned op, unsigned pfx)
{
	return map == FPU_MAP_0F && (((op == 0x2c || op == 0x2d) && pfx >= FPU_PFX_F3) ||
				     op == 0x50 || op == 0xc5 || op == 0xd7 || op == 0xc3);
}

static void simd_map(unsigned map, unsigned iters)
{
	static const uint8_t pfx_byte[4] = { 0, 0x66, 0xf3, 0xf2 };

	for (unsigned op = 0; op < 256; op++) {
		for (unsigned pfx = 0; pfx < 4; pfx++) {
			unsigned f = fpu_opcode_flags(map, op, pfx);

			if (!(f & FPU_OPF_VALID) || !(f & FPU_OPF_MODRM))
				continue;
			if (map == FPU_MAP_0F && op == 0xae)
				continue; /* FXSAVE & co: test_fpu_sse */
			for (unsigned k = 0; k < iters; k++) {
				uint8_t b[8];
				size_t n = 0;
				unsigned rex = rnd() & 0x0d, modrm;

				if (pfx)
					b[n++] = pfx_byte[pfx];
				modrm = (unsigned)(rnd() & 0xff) | 0xc0;
				if (k & 1) { /* memory operand [rdi] */
					modrm = (modrm & 0x38) | 7;
					rex &= ~1u;
				}
				if (gpr_in_rm(map, op, pfx) && (modrm & 0xc0) == 0xc0) {
					modrm &= ~7u;
					rex &= ~1u;
				}
				if (gpr_in_reg(map, op, pfx)) {
					modrm &= ~0x38u;
					rex &= ~4u;
				}
				if (rex)
					b[n++] = (uint8_t)(0x40 | rex);
				b[n++] = 0x0f;
				if (map == FPU_MAP_0F38)
					b[n++] = 0x38;
				if (map == FPU_MAP_0F3A)
					b[n++] = 0x3a;
				b[n++] = (uint8_t)op;
				b[n++] = (uint8_t)modrm;
				if (f & FPU_OPF_IMM8)
					b[n++] = (uint8_t)(k % 5 == 0 ? rnd() & 0x1f : rnd());
				compare_one(b, n);
			}
		}
	}
}

static void test_simd_0f(void **state)
{
	simd_map(FPU_MAP_0F, 400);
	finish("0F map");
}

static void test_simd_0f38_0f3a(void **state)
{
	simd_map(FPU_MAP_0F38, 400);
	simd_map(FPU_MAP_0F3A, 2000);
	finish("0F38/0F3A maps");
}

static void test_emms_and_sequences(void **state)
{
	static const uint8_t seqs[][16] = {
		{ 0x0f, 0x77 },                         /* EMMS */
		{ 0x0f, 0x6f, 0xc1, 0x0f, 0x77 },       /* MOVQ mm0, mm1; EMMS */
		{ 0xdd, 0xc0, 0x0f, 0xfc, 0xd3 },       /* FFREE; PADDB mm2, mm3 */
		{ 0x66, 0x0f, 0x6e, 0xc0, 0x66, 0x0f, 0x70, 0xc0, 0x1b }, /* MOVD; PSHUFD */
		{ 0xd9, 0xe8, 0xd9, 0xeb, 0xde, 0xc1 }, /* FLD1 FLDPI FADDP */
		{ 0xd9, 0xee, 0xd9, 0xe8, 0xde, 0xf1 }, /* FLDZ FLD1 FDIVRP */
	};
	static const size_t lens[] = { 2, 5, 5, 9, 6, 6 };

	for (unsigned s = 0; s < sizeof(lens) / sizeof(lens[0]); s++)
		for (unsigned k = 0; k < 200; k++)
			compare_one(seqs[s], lens[s]);
	finish("sequences");
}

/* FXRSTOR of images with arbitrary FCW/FSW/tags: reserved FCW bits and
 * ES/B must come out as the host makes them. */
static void test_fxrstor_images(void **state)
{
	static const uint8_t fxrstor[] = { 0x48, 0x0f, 0xae, 0x0f };

	for (unsigned k = 0; k < 3000; k++) {
		struct tmachine e, n;
		uint8_t fe[512], fn[512];
		uint16_t w;

		rand_machine(&e);
		fpu_fxsave(&e.fs, e.mem, true);
		w = (uint16_t)rnd();
		memcpy(e.mem, &w, 2);
		w = (uint16_t)rnd();
		memcpy(e.mem + 2, &w, 2);
		e.mem[4] = (uint8_t)rnd();
		n = e;
		n.ctx.fs = &n.fs;
		n.ctx.opaque = &n;
		assert_int_equal(tm_run(&e, fxrstor, sizeof(fxrstor)), 0);
		assert_int_equal(tm_native(&n, fxrstor, sizeof(fxrstor)), 0);
		fpu_fxsave(&e.fs, fe, true);
		fpu_fxsave(&n.fs, fn, true);
		assert_memory_equal(fe, fn, 6);
		assert_memory_equal(fe + 24, fn + 24, 4);
		assert_memory_equal(fe + 32, fn + 32, 464 - 32);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x87_register_forms),
		cmocka_unit_test(test_x87_memory_forms),
		cmocka_unit_test(test_simd_0f),
		cmocka_unit_test(test_simd_0f38_0f3a),
		cmocka_unit_test(test_emms_and_sequences),
		cmocka_unit_test(test_fxrstor_images),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
