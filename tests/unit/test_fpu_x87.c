/* x87 known answers: stack faults, exception delivery, store suppression,
 * environment formats, CR0 checks, restartable faults. */
#include "test_fpu_common.h"

#define RUN(m, ...)                                                              \
	({                                                                       \
		static const uint8_t b_[] = { __VA_ARGS__ };                     \
		tm_run((m), b_, sizeof(b_));                                     \
	})

static struct x87_reg st(const struct tmachine *m, unsigned i)
{
	return m->fs.st[(((m->fs.fsw >> 11) & 7) + i) & 7];
}

static long double st_ld(const struct tmachine *m, unsigned i)
{
	struct x87_reg r = st(m, i);
	long double v = 0;

	memcpy(&v, &r, 10);
	return v;
}

static void test_constants_and_arith(void **state)
{
	struct tmachine m;

	tm_init(&m);
	assert_int_equal(RUN(&m, 0xd9, 0xe8, 0xd9, 0xeb), 0); /* FLD1 FLDPI */
	assert_true(st_ld(&m, 0) == 3.14159265358979323851L);
	assert_true(st_ld(&m, 1) == 1.0L);
	assert_int_equal((m.fs.fsw >> 11) & 7, 6);
	assert_int_equal(m.fs.ftw, 0xc0);
	assert_int_equal(RUN(&m, 0xde, 0xc1), 0); /* FADDP */
	assert_true(st_ld(&m, 0) == 3.14159265358979323851L + 1.0L);
	assert_int_equal(m.fs.ftw, 0x80);
	/* FOP/FIP bookkeeping from the last non-control instruction */
	assert_int_equal(m.fs.fop, 0x6c1);
	assert_int_equal(m.fs.fip, 0x400000);
}

static void test_precision_control(void **state)
{
	struct tmachine m;
	uint16_t cw = 0x007f; /* PC = single, round to nearest, all masked */

	tm_init(&m);
	memcpy(m.mem, &cw, 2);
	assert_int_equal(RUN(&m, 0xd9, 0x2f, 0xd9, 0xe8, 0xd9, 0xe8, 0xd8, 0xc1, 0xd9, 0xe8,
			     0xde, 0xc1, 0xde, 0xf9), 0); /* FLDCW; 1; 1+1; +1 = 3; 1/3 */
	assert_true(st_ld(&m, 0) == (long double)(1.0f / 3.0f));
	assert_true(m.fs.fsw & 0x20);  /* PE */
	assert_true(m.fs.fsw & 0x200); /* 0x.aaaaab: rounded up, C1 set */
}

static void test_stack_faults(void **state)
{
	struct tmachine m;

	tm_init(&m);
	/* FADD ST0, ST1 on an empty stack: IE + SF, C1 = 0 (underflow), masked
	 * response is the real indefinite */
	assert_int_equal(RUN(&m, 0xd8, 0xc1), 0);
	assert_int_equal(m.fs.fsw & 0x2c7, 0x41);
	tm_init(&m);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(RUN(&m, 0xd9, 0xe8), 0);
	assert_int_equal(m.fs.ftw, 0xff);
	assert_int_equal(RUN(&m, 0xd9, 0xee), 0); /* ninth push: overflow */
	assert_int_equal(m.fs.fsw & 0x2c1, 0x241); /* IE SF C1 */
	assert_int_equal(st(&m, 0).sign_exp, 0xffff);
	assert_true(st(&m, 0).signif == 0xc000000000000000ull);
	/* FXAM on an empty register: C3 and C0 */
	tm_init(&m);
	assert_int_equal(RUN(&m, 0xd9, 0xe5), 0);
	assert_int_equal(m.fs.fsw & 0x4500, 0x4100);
}

static void test_unmasked_exception_is_deferred(void **state)
{
	struct tmachine m;
	uint16_t cw = 0x037b; /* ZE unmasked */

	tm_init(&m);
	memcpy(m.mem, &cw, 2);
	assert_int_equal(RUN(&m, 0xd9, 0x2f, 0xd9, 0xe8, 0xd9, 0xee), 0);
	/* FDIVP ST1, ST0 = 1/0: ZE unmasked, registers untouched, no pop */
	assert_int_equal(RUN(&m, 0xde, 0xf9), 0);
	assert_int_equal(m.fs.fsw & 0x8084, 0x8084); /* B ES ZE */
	assert_int_equal((m.fs.fsw >> 11) & 7, 6);
	assert_true(st_ld(&m, 1) == 1.0L);
	/* the next waiting instruction takes #MF; no-wait ones run */
	assert_int_equal(RUN(&m, 0xd9, 0xe8), FPU_EXC_MF);
	assert_int_equal(RUN(&m, 0x9b), FPU_EXC_MF);
	m.gpr[0] = 0x1234567800000000ull;
	assert_int_equal(RUN(&m, 0xdf, 0xe0), 0); /* FNSTSW AX */
	assert_int_equal(m.gpr[0], 0x1234567800000000ull | m.fs.fsw);
	assert_int_equal(RUN(&m, 0xdb, 0xe2), 0); /* FNCLEX */
	assert_int_equal(m.fs.fsw & 0x80ff, 0);
	assert_int_equal(RUN(&m, 0x9b, 0xd9, 0xe8), 0);
}

static void test_store_suppressed_on_unmasked_overflow(void **state)
{
	struct tmachine m;
	uint16_t cw = 0x0377; /* OE unmasked */
	struct x87_reg big = { .signif = 1ull << 63, .sign_exp = 0x7000 };

	tm_init(&m);
	memcpy(m.mem, &cw, 2);
	assert_int_equal(RUN(&m, 0xd9, 0x2f), 0);
	memcpy(m.mem, &big, 10);
	assert_int_equal(RUN(&m, 0xdb, 0x2f), 0); /* FLD m80 */
	memset(m.mem, 0xaa, 4);
	assert_int_equal(RUN(&m, 0xd9, 0x17), 0); /* FST m32: overflow, unmasked */
	assert_int_equal(m.mem[0], 0xaa);
	assert_int_equal(m.mem[3], 0xaa);
	assert_true(m.fs.fsw & 0x8);
	assert_int_equal(RUN(&m, 0xd9, 0xe8), FPU_EXC_MF);
	/* masked: +inf is stored */
	tm_init(&m);
	memcpy(m.mem, &big, 10);
	assert_int_equal(RUN(&m, 0xdb, 0x2f), 0);
	assert_int_equal(RUN(&m, 0xd9, 0x17), 0);
	assert_int_equal(m.mem[0] | m.mem[1] << 8 | m.mem[2] << 16 | (unsigned)m.mem[3] << 24,
			 0x7f800000);
}

static void test_fist_overflow_indefinite(void **state)
{
	struct tmachine m;
	struct x87_reg big = { .signif = 1ull << 63, .sign_exp = 0x3fff + 40 };

	tm_init(&m);
	memcpy(m.mem, &big, 10);
	assert_int_equal(RUN(&m, 0xdb, 0x2f, 0xdb, 0x1f), 0); /* FLD m80; FISTP m32 */
	assert_int_equal(m.mem[3], 0x80);
	assert_int_equal(m.mem[0] | m.mem[1] | m.mem[2], 0);
	assert_true(m.fs.fsw & 1);
}

static void test_faulting_store_changes_nothing(void **state)
{
	struct tmachine m, before;

	tm_init(&m);
	assert_int_equal(RUN(&m, 0xd9, 0xe8), 0);
	before = m;
	m.fail_writes = true;
	assert_true(RUN(&m, 0xdd, 0x1f) < 0); /* FSTP m64 faults */
	assert_memory_equal(&m.fs, &before.fs, sizeof(m.fs));
	assert_true(RUN(&m, 0xd9, 0x37) < 0); /* FNSTENV */
	assert_memory_equal(&m.fs, &before.fs, sizeof(m.fs));
	assert_true(RUN(&m, 0xdd, 0x37) < 0); /* FNSAVE */
	assert_memory_equal(&m.fs, &before.fs, sizeof(m.fs));
	/* a load from outside memory faults too */
	m.fail_writes = false;
	m.mem_la = 0x100000;
	before = m;
	struct fpu_insn in;
	static const uint8_t fld[] = { 0xdd, 0x07 };

	assert_int_equal(tdecode(fld, 2, 0x10, &in), 2);
	assert_true(fpu_exec(&m.ctx, &in) < 0);
	assert_memory_equal(&m.fs, &before.fs, sizeof(m.fs));
}

static void test_env_formats(void **state)
{
	struct tmachine m;
	uint8_t save[108];

	tm_init(&m);
	m.fs.fcw = 0x027f;
	assert_int_equal(RUN(&m, 0xd9, 0xe8, 0xdd, 0x07), 0); /* FLD1; FLD m64 */
	assert_int_equal(RUN(&m, 0xd9, 0x37), 0);               /* FNSTENV (32-bit) */
	assert_int_equal(m.mem[0] | m.mem[1] << 8, 0x027f);
	assert_int_equal(m.mem[8] | m.mem[9] << 8, 0x1fff); /* R7 = 1.0 valid, R6 = +0 zero, rest empty */
	assert_int_equal(m.mem[12] | m.mem[13] << 8 | m.mem[14] << 16, 0x400000); /* FIP */
	assert_int_equal(m.mem[16] | m.mem[17] << 8, 0x33);                        /* FCS */
	assert_int_equal((m.mem[18] | m.mem[19] << 8) & 0x7ff, 0x507);             /* FOP */
	assert_int_equal(m.mem[20] | m.mem[21] << 8, 0x1000);                      /* FDP */
	assert_int_equal(m.fs.fcw, 0x027f | 0x3f); /* exceptions masked afterwards */
	/* 16-bit protected format */
	assert_int_equal(RUN(&m, 0x66, 0xd9, 0x37), 0);
	assert_int_equal(m.mem[6] | m.mem[7] << 8, 0x0000); /* FIP low 16 of 0x400000 */
	assert_int_equal(m.mem[8] | m.mem[9] << 8, 0x33);
	/* real-mode 32-bit format: FIP[31:16] in bits 27:12 of dword 4 */
	m.ctx.cr0 &= ~1ull;
	assert_int_equal(RUN(&m, 0xd9, 0x37), 0);
	assert_int_equal((m.mem[16] | m.mem[17] << 8 | m.mem[18] << 16 | (unsigned)m.mem[19] << 24),
			 (0x40u << 12) | 0x507);
	m.ctx.cr0 |= 1;
	/* FNSAVE / FRSTOR round trip; FNSAVE reinitialises */
	struct x86_fpu_state keep = m.fs;

	assert_int_equal(RUN(&m, 0xdd, 0x37), 0);
	memcpy(save, m.mem, 28);
	assert_int_equal(m.fs.ftw, 0);
	assert_int_equal(m.fs.fcw, 0x037f);
	assert_int_equal(RUN(&m, 0xdd, 0x27), 0);
	assert_int_equal(m.fs.fcw, keep.fcw);
	assert_int_equal(m.fs.fsw, keep.fsw);
	assert_int_equal(m.fs.ftw, keep.ftw);
	assert_true(st_ld(&m, 1) == 1.0L);
	(void)save;
}

static void test_cr0_checks(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.ctx.cr0 |= FPU_CR0_TS;
	assert_int_equal(RUN(&m, 0xd9, 0xe8), FPU_EXC_NM);
	assert_int_equal(RUN(&m, 0x9b), FPU_EXC_NM); /* MP and TS */
	m.ctx.cr0 &= ~FPU_CR0_MP;
	assert_int_equal(RUN(&m, 0x9b), 0);
	m.ctx.cr0 = 1 | FPU_CR0_EM;
	assert_int_equal(RUN(&m, 0xd9, 0xe8), FPU_EXC_NM);
	assert_int_equal(m.fs.ftw, 0);
}

static void test_invalid_encodings(void **state)
{
	struct tmachine m;

	tm_init(&m);
	assert_int_equal(RUN(&m, 0xd9, 0x0f), FPU_EXC_UD); /* D9 /1 memory */
	assert_int_equal(RUN(&m, 0xd9, 0xd1), FPU_EXC_UD);
	assert_int_equal(RUN(&m, 0xdb, 0x27), FPU_EXC_UD); /* DB /4 memory */
	assert_int_equal(RUN(&m, 0xdd, 0x2f), FPU_EXC_UD); /* DD /5 memory */
	assert_int_equal(RUN(&m, 0xde, 0xd8), FPU_EXC_UD);
	assert_int_equal(RUN(&m, 0xdf, 0xf8), FPU_EXC_UD);
	assert_int_equal(fpu_opcode_flags(FPU_MAP_1B, 0x90, 0), 0);
	assert_int_equal(fpu_opcode_flags(FPU_MAP_1B, 0xd8, 0), FPU_OPF_VALID | FPU_OPF_MODRM);
	assert_int_equal(fpu_opcode_flags(FPU_MAP_1B, 0x9b, 0), FPU_OPF_VALID);
}

static void test_fcomi_and_fcmov(void **state)
{
	struct tmachine m;

	tm_init(&m);
	m.rflags = 2 | 0x800 | 0x80; /* OF SF: FCOMI clears them */
	assert_int_equal(RUN(&m, 0xd9, 0xe8, 0xd9, 0xee), 0); /* ST0 = 0, ST1 = 1 */
	assert_int_equal(RUN(&m, 0xdb, 0xf1), 0);             /* FCOMI ST0, ST1 */
	assert_int_equal(m.rflags & 0x8d5, 0x1);             /* 0 < 1: CF */
	assert_int_equal(RUN(&m, 0xda, 0xc1), 0);             /* FCMOVB ST0, ST1 */
	assert_true(st_ld(&m, 0) == 1.0L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants_and_arith),
		cmocka_unit_test(test_precision_control),
		cmocka_unit_test(test_stack_faults),
		cmocka_unit_test(test_unmasked_exception_is_deferred),
		cmocka_unit_test(test_store_suppressed_on_unmasked_overflow),
		cmocka_unit_test(test_fist_overflow_indefinite),
		cmocka_unit_test(test_faulting_store_changes_nothing),
		cmocka_unit_test(test_env_formats),
		cmocka_unit_test(test_cr0_checks),
		cmocka_unit_test(test_invalid_encodings),
		cmocka_unit_test(test_fcomi_and_fcmov),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
