/*
 * Software CPU decoder: lengths and operands of tricky encodings in 64-,
 * 32- and 16-bit code, prefixes and REX rules, #UD and #GP(0) cases,
 * truncated input. Expected lengths were checked against the SDM tables
 * (and spot-checked with a disassembler).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/x86/insn.h"

static struct x86_cpu cpu64, cpu32, cpu16;

static int setup(void **s)
{
	assert_int_equal(x86_decode_init(), 0);
	cpu64.mode = X86_MODE_LONG64;
	cpu32.mode = X86_MODE_PROT32;
	cpu16.mode = X86_MODE_REAL16;
	return 0;
}

static int dec(const struct x86_cpu *cpu, const char *hex, struct x86_insn *in)
{
	uint8_t b[32];
	unsigned n = 0;

	while (*hex) {
		while (*hex == ' ')
			hex++;
		if (!*hex)
			break;
		b[n++] = (uint8_t)strtoul((char[3]){ hex[0], hex[1], 0 }, NULL, 16);
		hex += 2;
	}
	return x86_decode(cpu, b, n, in);
}

struct lcase {
	int mode;
	const char *hex;
	int len;
};

static const struct lcase lens[] = {
	{ 64, "48 b8 01 02 03 04 05 06 07 08", 10 },  /* mov rax, imm64 */
	{ 64, "b8 01 02 03 04", 5 },
	{ 64, "66 b8 01 02", 4 },                     /* mov ax, imm16 */
	{ 64, "67 8b 04 24", 4 },                     /* mov eax, [esp] */
	{ 64, "8b 04 25 00 10 00 00", 7 },            /* SIB, no base: disp32 */
	{ 64, "8b 05 00 10 00 00", 6 },               /* RIP-relative */
	{ 64, "8b 44 24 08", 4 },
	{ 64, "8b 84 24 00 01 00 00", 7 },
	{ 64, "4c 8b 6d 00", 4 },                     /* mov r13, [rbp+0] */
	{ 64, "41 8b 45 00", 4 },                     /* mov eax, [r13+0] */
	{ 64, "42 8b 04 25 00 00 00 00", 8 },         /* REX.X with index 4 -> r12 */
	{ 64, "f7 05 00 00 00 00 01 02 03 04", 10 },  /* test [rip], imm32 */
	{ 64, "66 f7 05 00 00 00 00 01 02", 9 },      /* test word [rip], imm16 */
	{ 64, "f6 05 00 00 00 00 01", 7 },
	{ 64, "c8 10 00 01", 4 },                     /* enter */
	{ 64, "a1 00 00 00 00 00 00 00 00", 9 },      /* mov eax, moffs64 */
	{ 64, "67 a1 00 00 00 00", 6 },               /* moffs32 */
	{ 64, "66 0f 38 f0 06", 5 },                  /* movbe ax, [rsi] */
	{ 64, "f3 0f b8 c0", 4 },                     /* popcnt */
	{ 64, "0f 1f 84 00 00 00 00 00", 8 },         /* nopl */
	{ 64, "66 2e 0f 1f 84 00 00 00 00 00", 10 },  /* nopw cs: */
	{ 64, "e8 00 00 00 00", 5 },
	{ 64, "66 e8 00 00 00 00", 6 },               /* 66 ignored for near call in 64-bit */
	{ 64, "0f 84 00 00 00 00", 6 },
	{ 64, "c2 08 00", 3 },
	{ 64, "6b c0 05", 3 },
	{ 64, "69 c0 05 00 00 00", 6 },
	{ 64, "0f ba e0 05", 4 },                     /* bt eax, 5 */
	{ 64, "48 0f c7 0e", 4 },                     /* cmpxchg16b [rsi] */
	{ 64, "f0 48 0f b1 0e", 5 },                  /* lock cmpxchg [rsi], rcx */
	{ 64, "40 40 88 e0", 4 },                     /* REX REX */
	{ 64, "0f 0b", 2 },                           /* ud2 decodes (raises at run) */
	{ 32, "8b 05 00 10 00 00", 6 },               /* absolute disp32 */
	{ 32, "ea 00 00 00 00 08 00", 7 },            /* jmp far ptr16:32 */
	{ 32, "66 ea 00 00 08 00", 6 },               /* jmp far ptr16:16 */
	{ 32, "67 8b 46 02", 4 },                     /* 16-bit addressing in 32-bit code */
	{ 32, "60", 1 },                              /* pusha */
	{ 32, "d4 0a", 2 },                           /* aam */
	{ 32, "40", 1 },                              /* inc eax, not REX */
	{ 16, "8b 46 02", 3 },                        /* mov ax, [bp+2] */
	{ 16, "8b 06 34 12", 4 },                     /* mov ax, [0x1234] */
	{ 16, "66 b8 01 02 03 04", 6 },
	{ 16, "e8 00 00", 3 },
	{ 16, "67 8b 04 24", 4 },                     /* 32-bit addressing: [esp] */
	{ 16, "c7 06 00 10 34 12", 6 },
};

static void t_lengths(void **s)
{
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		const struct x86_cpu *c = lens[i].mode == 64 ? &cpu64 : lens[i].mode == 32 ? &cpu32
											  : &cpu16;
		struct x86_insn in;
		int r = dec(c, lens[i].hex, &in);

		if (r != lens[i].len)
			fail_msg("%d-bit \"%s\": length %d, expected %d", lens[i].mode, lens[i].hex,
				 r, lens[i].len);
		assert_int_equal(in.len, lens[i].len);
	}
}

static const struct lcase bad[] = {
	{ 64, "62 f1 7c 48 58 c0", -X86_EXC_UD - 1 },  /* EVEX */
	{ 64, "c5 f8 77", -X86_EXC_UD - 1 },           /* VEX vzeroupper */
	{ 64, "c4 e2 79 18 00", -X86_EXC_UD - 1 },
	{ 64, "f0 01 c0", -X86_EXC_UD - 1 },           /* LOCK with a register */
	{ 64, "f0 8b 00", -X86_EXC_UD - 1 },           /* LOCK MOV */
	{ 64, "f0 90", -X86_EXC_UD - 1 },
	{ 64, "27", -X86_EXC_UD - 1 },                 /* DAA */
	{ 64, "60", -X86_EXC_UD - 1 },                 /* PUSHA */
	{ 64, "ea 00 00 00 00 08 00", -X86_EXC_UD - 1 },
	{ 64, "0f 38 f6 c0", -X86_EXC_UD - 1 },        /* ADCX not offered */
	{ 64, "8d c0", -X86_EXC_UD - 1 },              /* LEA with a register */
	{ 64, "0f c7 c8", -X86_EXC_UD - 1 },           /* CMPXCHG8B register */
	{ 32, "63 c0", -X86_EXC_UD - 1 },              /* ARPL/MOVSXD outside 64-bit */
	{ 64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", -X86_EXC_GP - 1 },
	{ 64, "66 66 66 66 66 66 66 66 66 66 66 48 b8 01 02 03 04 05 06 07 08", -X86_EXC_GP - 1 },
	{ 64, "48", 0 },                               /* truncated: need more bytes */
	{ 64, "0f", 0 },
	{ 64, "8b 84 24 00", 0 },
};

static void t_invalid(void **s)
{
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct x86_cpu *c = bad[i].mode == 64 ? &cpu64 : &cpu32;
		struct x86_insn in;
		int r = dec(c, bad[i].hex, &in);

		if (r != bad[i].len)
			fail_msg("\"%s\": got %d, expected %d", bad[i].hex, r, bad[i].len);
	}
}

static void t_operands(void **s)
{
	struct x86_insn in;

	/* mov [rax], ah (88 20 has AH only without REX) */
	assert_int_equal(dec(&cpu64, "88 e0", &in), 2);
	assert_int_equal(in.reg, 16);      /* AH */
	assert_int_equal(in.rm, 0);
	assert_int_equal(dec(&cpu64, "40 88 e0", &in), 3);
	assert_int_equal(in.reg, X86_RSP); /* SPL */
	/* RIP-relative and SIB with REX.B/X */
	assert_int_equal(dec(&cpu64, "8b 05 10 00 00 00", &in), 6);
	assert_int_equal(in.base, X86_REG_RIP);
	assert_int_equal(in.disp, 0x10);
	assert_int_equal(dec(&cpu64, "4b 8b 44 b5 f0", &in), 5); /* mov rax, [r13+r14*4-16] */
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.base, X86_R13);
	assert_int_equal(in.index, X86_R14);
	assert_int_equal(in.scale, 2);
	assert_int_equal(in.disp, -16);
	assert_int_equal(in.seg, X86_DS);
	/* Segments: rbp base defaults to SS, override wins; 64-bit ignores DS: */
	assert_int_equal(dec(&cpu64, "8b 45 00", &in), 3);
	assert_int_equal(in.seg, X86_SS);
	assert_int_equal(dec(&cpu64, "64 8b 45 00", &in), 4);
	assert_int_equal(in.seg, X86_FS);
	assert_int_equal(dec(&cpu16, "26 8b 46 02", &in), 4);
	assert_int_equal(in.seg, X86_ES);
	assert_int_equal(in.base, X86_RBP);
	assert_int_equal(in.adsize, 2);
	/* REX not immediately before the opcode is ignored */
	assert_int_equal(dec(&cpu64, "48 66 b8 01 02", &in), 5);
	assert_int_equal(in.opsize, 2);
	/* push defaults to 64-bit, 66 makes it 16 */
	assert_int_equal(dec(&cpu64, "50", &in), 1);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(dec(&cpu64, "66 50", &in), 2);
	assert_int_equal(in.opsize, 2);
	/* immediates sign-extended */
	assert_int_equal(dec(&cpu64, "48 83 c0 ff", &in), 4);
	assert_int_equal(in.imm, (uint64_t)-1);
	assert_int_equal(dec(&cpu64, "48 05 00 00 00 80", &in), 6);
	assert_int_equal(in.imm, 0xffffffff80000000ull);
	/* mandatory prefix: last of F2/F3 wins */
	assert_int_equal(dec(&cpu64, "f2 f3 a4", &in), 3);
	assert_int_equal(in.mpfx, X86_MP_F3);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(t_lengths),
		cmocka_unit_test(t_invalid),
		cmocka_unit_test(t_operands),
	};
	return cmocka_run_group_tests(t, setup, NULL);
}
