/*
 * Software CPU: small programs in 64-, 32- and 16-bit code, lazy flags,
 * exceptions (#DE #UD #GP), self-modifying code, REP strings, LOCK forms,
 * single-stepping and MMIO/port errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/x86/cpu.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000u
#define DATA 0x8000u
#define STACK 0x9000u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint64_t last_mmio_addr;
static uint32_t out_port, out_val;

static uint8_t *page(void *o, uint64_t gpa, bool w)
{
	return gpa < RAM_SIZE ? ram + gpa : NULL;
}

static int mmio_rd(void *o, uint64_t gpa, void *buf, unsigned size)
{
	last_mmio_addr = gpa;
	if (gpa >= 0xf0000000u && gpa < 0xf0001000u) {
		memset(buf, 0xab, size);
		return 0;
	}
	return -1;
}

static int mmio_wr(void *o, uint64_t gpa, const void *buf, unsigned size)
{
	last_mmio_addr = gpa;
	return -1;
}

static int pin(void *o, uint16_t port, void *buf, unsigned size)
{
	if (port == 0x99)
		return -5;
	memset(buf, 0x5a, size);
	return 0;
}

static int pout(void *o, uint16_t port, const void *buf, unsigned size)
{
	out_port = port;
	out_val = 0;
	memcpy(&out_val, buf, size);
	return 0;
}

static const struct x86_mem_ops ops = {
	.page = page, .mmio_read = mmio_rd, .mmio_write = mmio_wr, .pio_in = pin, .pio_out = pout,
};

static struct x86_cpu *mk(int mode, const void *code, size_t len)
{
	struct x86_cpu *cpu = calloc(1, sizeof(*cpu));

	assert_non_null(cpu);
	memset(ram, 0xcc, sizeof(ram));
	memcpy(ram + CODE, code, len);
	assert_int_equal(x86_cpu_init(cpu, &ops, NULL), 0);
	if (mode == 64) {
		cpu->cr0 = X86_CR0_PE | X86_CR0_PG;
		cpu->cr4 = X86_CR4_PAE | (1 << 9);
		cpu->efer = X86_EFER_LME | X86_EFER_LMA;
		for (int s = 0; s < X86_NSEG; s++)
			x86_set_seg(cpu, s, 0x10, 0, 0xffffffff, X86_SEG_DATA32);
		x86_set_seg(cpu, X86_CS, 0x8, 0, 0xffffffff, X86_SEG_CODE64);
	} else if (mode == 32) {
		cpu->cr0 = X86_CR0_PE | (1 << 9);
		cpu->cr4 = 1 << 9;
		for (int s = 0; s < X86_NSEG; s++)
			x86_set_seg(cpu, s, 0x10, 0, 0xffffffff, X86_SEG_DATA32);
		x86_set_seg(cpu, X86_CS, 0x8, 0, 0xffffffff, X86_SEG_CODE32);
	} else {
		x86_set_seg(cpu, X86_CS, 0, 0, 0xffff, X86_SEG_CODE16);
		for (int s = 0; s < X86_NSEG; s++)
			if (s != X86_CS)
				x86_set_seg(cpu, s, 0, 0, 0xffff, X86_SEG_DATA16);
	}
	cpu->rip = CODE;
	cpu->gpr[X86_RSP] = STACK;
	return cpu;
}

static void done(struct x86_cpu *cpu)
{
	x86_cpu_fini(cpu);
	free(cpu);
}

/* Sum 1..100 in a loop, store to memory, HLT. */
static void t_loop64(void **s)
{
	static const uint8_t code[] = {
		0x31, 0xc0,                   /* xor eax, eax */
		0xb9, 0x64, 0, 0, 0,          /* mov ecx, 100 */
		0x01, 0xc8,                   /* add eax, ecx */
		0xff, 0xc9,                   /* dec ecx */
		0x75, 0xfa,                   /* jnz -6 */
		0x89, 0x04, 0x25, 0, 0x80, 0, 0, /* mov [0x8000], eax */
		0xf4,                         /* hlt */
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));
	uint32_t v;

	assert_int_equal(x86_run(cpu, 100000), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX], 5050);
	memcpy(&v, ram + DATA, 4);
	assert_int_equal(v, 5050);
	assert_int_equal(cpu->rip, CODE + sizeof(code));
	assert_int_equal(cpu->icount, 2 + 300 + 2);
	done(cpu);
}

static void t_budget_step(void **s)
{
	static const uint8_t code[] = { 0x48, 0xff, 0xc0, 0x48, 0xff, 0xc0, 0x48, 0xff, 0xc0, 0xf4 };
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
	assert_int_equal(cpu->gpr[X86_RAX], 1);
	assert_int_equal(cpu->rip, CODE + 3);
	assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
	assert_int_equal(cpu->rip, CODE + 6);
	assert_int_equal(x86_run(cpu, 10), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX], 3);
	x86_request_stop(cpu);
	assert_int_equal(x86_run(cpu, 10), X86_STOP_REQUEST);
	done(cpu);
}

/* add al, 0x7f with al=1 -> OF SF AF; lazy then materialised. */
static void t_flags(void **s)
{
	static const uint8_t code[] = {
		0xb0, 0x01, 0x04, 0x7f,       /* mov al,1; add al,0x7f */
		0x9c, 0x5b,                   /* pushf; pop rbx */
		0xb0, 0x00, 0x2c, 0x01,       /* mov al,0; sub al,1 */
		0x9c, 0x59,                   /* pushf; pop rcx */
		0x31, 0xd2, 0x9c, 0x5e,       /* xor edx,edx; pushf; pop rsi */
		0xf9, 0xba, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc2, /* stc; mov edx,-1; inc edx */
		0x9c, 0x5f, 0xf4,             /* pushf; pop rdi; hlt */
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RBX] & 0x8d5, X86_OF | X86_SF | X86_AF);
	assert_int_equal(cpu->gpr[X86_RCX] & 0x8d5, X86_CF | X86_SF | X86_AF | X86_PF);
	assert_int_equal(cpu->gpr[X86_RSI] & 0x8d5, X86_ZF | X86_PF);
	/* INC keeps CF from STC, sets ZF, AF, PF */
	assert_int_equal(cpu->gpr[X86_RDI] & 0x8d5, X86_CF | X86_ZF | X86_AF | X86_PF);
	assert_int_equal(x86_get_rflags(cpu) & 0x8d5, X86_CF | X86_ZF | X86_AF | X86_PF);
	x86_set_rflags(cpu, X86_OF | X86_DF);
	assert_int_equal(x86_get_rflags(cpu), X86_OF | X86_DF | 2);
	done(cpu);
}

static void t_div0(void **s)
{
	static const uint8_t code[] = { 0xb8, 5, 0, 0, 0, 0x31, 0xc9, 0x31, 0xd2, 0xf7, 0xf1, 0xf4 };
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_DE);
	assert_int_equal(cpu->rip, CODE + 9);
	assert_int_equal(cpu->gpr[X86_RAX], 5); /* no partial update */
	done(cpu);
}

static void t_div_overflow(void **s)
{
	/* edx:eax = 0x1_00000000 / 1 overflows; idiv INT_MIN / -1 too */
	static const uint8_t code[] = { 0x31, 0xc0, 0xba, 1, 0, 0, 0, 0xb9, 1, 0, 0, 0, 0xf7, 0xf1 };
	static const uint8_t code2[] = { 0xb8, 0, 0, 0, 0x80, 0x99, 0xb9, 0xff, 0xff, 0xff, 0xff,
					 0xf7, 0xf9 };
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_DE);
	assert_int_equal(cpu->rip, CODE + 12);
	done(cpu);
	cpu = mk(64, code2, sizeof(code2));
	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_DE);
	assert_int_equal(cpu->rip, CODE + 11);
	done(cpu);
}

static void expect_exc(const uint8_t *code, size_t len, int mode, unsigned vec, uint64_t rip)
{
	struct x86_cpu *cpu = mk(mode, code, len);

	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, vec);
	assert_int_equal(cpu->rip, rip);
	done(cpu);
}

static void t_ud(void **s)
{
	static const uint8_t ud2[] = { 0x90, 0x0f, 0x0b };
	static const uint8_t lock_reg[] = { 0xf0, 0x01, 0xc0 };      /* lock add eax,eax */
	static const uint8_t lock_cmp[] = { 0xf0, 0x39, 0x00 };      /* lock cmp [rax],eax */
	static const uint8_t lock_mov[] = { 0xf0, 0x89, 0x00 };      /* lock mov [rax],eax */
	static const uint8_t vex[] = { 0xc5, 0xf8, 0x77 };           /* vzeroupper */
	static const uint8_t daa64[] = { 0x27 };
	static const uint8_t push_es64[] = { 0x06 };
	static const uint8_t mov_cs[] = { 0x8e, 0xc8 };

	expect_exc(ud2, sizeof(ud2), 64, X86_EXC_UD, CODE + 1);
	expect_exc(lock_reg, sizeof(lock_reg), 64, X86_EXC_UD, CODE);
	expect_exc(lock_cmp, sizeof(lock_cmp), 64, X86_EXC_UD, CODE);
	expect_exc(lock_mov, sizeof(lock_mov), 64, X86_EXC_UD, CODE);
	expect_exc(vex, sizeof(vex), 64, X86_EXC_UD, CODE);
	expect_exc(daa64, sizeof(daa64), 64, X86_EXC_UD, CODE);
	expect_exc(push_es64, sizeof(push_es64), 64, X86_EXC_UD, CODE);
	expect_exc(mov_cs, sizeof(mov_cs), 64, X86_EXC_UD, CODE);
}

static void t_gp_length(void **s)
{
	uint8_t code[32];
	struct x86_cpu *cpu;

	/* 14 prefixes + NOP = 15 bytes: fine; 15 + NOP = 16: #GP(0). */
	memset(code, 0x66, 14);
	code[14] = 0x90;
	code[15] = 0xf4;
	cpu = mk(64, code, 16);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	done(cpu);
	memset(code, 0x66, 15);
	code[15] = 0x90;
	cpu = mk(64, code, 16);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_EXCEPTION);
	assert_int_equal(cpu->exc_vector, X86_EXC_GP);
	assert_true(cpu->exc_has_error);
	assert_int_equal(cpu->exc_error, 0);
	assert_int_equal(cpu->rip, CODE);
	done(cpu);
}

/* The program patches an immediate of an instruction that already ran
 * (cached block) and one later in the same block, then runs both again. */
static void t_smc(void **s)
{
	static const uint8_t code[] = {
		/* 0x1000 */ 0xb8, 0x01, 0, 0, 0,                /* mov eax, 1 */
		/* 0x1005 */ 0xc6, 0x04, 0x25, 0x01, 0x10, 0, 0, 0x07, /* mov byte [0x1001], 7 */
		/* 0x100d */ 0xc6, 0x04, 0x25, 0x16, 0x10, 0, 0, 0x09, /* mov byte [0x1016], 9 */
		/* 0x1015 */ 0xbb, 0x02, 0, 0, 0,                /* mov ebx, 2 (patched to 9) */
		/* 0x101a */ 0xff, 0xc1,                         /* inc ecx */
		/* 0x101c */ 0x83, 0xf9, 0x02,                   /* cmp ecx, 2 */
		/* 0x101f */ 0x75, 0xdf,                         /* jne 0x1000 */
		/* 0x1021 */ 0xf4,
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));
	struct x86_cpu_stats st;

	assert_int_equal(x86_run(cpu, 1000), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RAX], 7);
	assert_int_equal(cpu->gpr[X86_RBX], 9);
	assert_int_equal(cpu->gpr[X86_RCX], 2);
	x86_cpu_get_stats(cpu, &st);
	assert_true(st.blocks_invalidated >= 1);
	/* An outside write (DMA) reported through x86_invalidate_phys(). */
	cpu->rip = CODE + 0x15;
	ram[CODE + 0x16] = 0x33;
	x86_invalidate_phys(cpu, CODE + 0x16, 1);
	cpu->gpr[X86_RCX] = 0;
	assert_int_equal(x86_run(cpu, 1), X86_STOP_BUDGET);
	assert_int_equal(cpu->gpr[X86_RBX], 0x33);
	done(cpu);
}

static void t_rep_movs(void **s)
{
	static const uint8_t code[] = {
		0xbe, 0x00, 0x80, 0, 0,       /* mov esi, 0x8000 */
		0xbf, 0x00, 0xa0, 0, 0,       /* mov edi, 0xa000 */
		0xb9, 0x10, 0x27, 0, 0,       /* mov ecx, 10000 */
		0xf3, 0xa4,                   /* rep movsb */
		0xbf, 0x00, 0xa0, 0, 0,       /* mov edi, 0xa000 */
		0xb9, 0x10, 0x27, 0, 0,       /* mov ecx, 10000 */
		0xb0, 0x42,                   /* mov al, 0x42 */
		0xf2, 0xae,                   /* repne scasb */
		0xf4,
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	for (int i = 0; i < 10000; i++)
		ram[DATA + i] = (uint8_t)(i % 61);
	ram[DATA + 5000] = 0x42;
	assert_int_equal(x86_run(cpu, 100000), X86_STOP_HLT);
	assert_memory_equal(ram + 0xa000, ram + DATA, 10000);
	assert_int_equal(cpu->gpr[X86_RSI], DATA + 10000);
	assert_int_equal(cpu->gpr[X86_RDI], 0xa000 + 5001);
	assert_int_equal(cpu->gpr[X86_RCX], 10000 - 5001);
	assert_true(x86_get_rflags(cpu) & X86_ZF);
	done(cpu);
}

/* Overlapping forward MOVSB replicates the first byte (element order), and
 * REP STOSD fills across a page boundary. */
static void t_rep_overlap(void **s)
{
	static const uint8_t code[] = {
		0xbe, 0x00, 0x80, 0, 0,       /* mov esi, 0x8000 */
		0xbf, 0x01, 0x80, 0, 0,       /* mov edi, 0x8001 */
		0xb9, 0x00, 0x20, 0, 0,       /* mov ecx, 0x2000 */
		0xf3, 0xa4,                   /* rep movsb */
		0xbf, 0x00, 0xbf, 0, 0,       /* mov edi, 0xbf00 */
		0xb9, 0x00, 0x01, 0, 0,       /* mov ecx, 0x100 */
		0xb8, 0x78, 0x56, 0x34, 0x12, /* mov eax, 0x12345678 */
		0xf3, 0xab,                   /* rep stosd */
		0xf4,
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));
	uint32_t v;

	ram[DATA] = 0x5e;
	assert_int_equal(x86_run(cpu, 100000), X86_STOP_HLT);
	for (int i = 0; i <= 0x2000; i++)
		assert_int_equal(ram[DATA + i], 0x5e);
	assert_int_equal(ram[DATA + 0x2001], 0xcc);
	for (int i = 0; i < 0x100; i++) {
		memcpy(&v, ram + 0xbf00 + 4 * i, 4);
		assert_int_equal(v, 0x12345678);
	}
	assert_int_equal(ram[0xc300], 0xcc);
	assert_int_equal(cpu->gpr[X86_RDI], 0xc300);
	assert_int_equal(cpu->gpr[X86_RCX], 0);
	done(cpu);
}

/* A REP MOVS that runs into MMIO stops with RCX/RSI/RDI exact. */
static void t_rep_fault(void **s)
{
	static const uint8_t code[] = {
		0xbe, 0x00, 0x80, 0, 0,       /* mov esi, 0x8000 */
		0xbf, 0xf0, 0xff, 0x0f, 0,    /* mov edi, 0xffff0 */
		0xb9, 0x20, 0, 0, 0,          /* mov ecx, 32 */
		0xf3, 0x48, 0xa5,             /* rep movsq */
		0xf4,
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100000), X86_STOP_MEM_ERROR);
	assert_int_equal(cpu->rip, CODE + 15);
	assert_int_equal(cpu->gpr[X86_RCX], 30);
	assert_int_equal(cpu->gpr[X86_RDI], 0x100000);
	assert_int_equal(cpu->fault_addr, 0x100000);
	done(cpu);
}

static void t_lock_xchg(void **s)
{
	static const uint8_t code[] = {
		0xb8, 5, 0, 0, 0,                     /* mov eax, 5 */
		0xf0, 0x0f, 0xc1, 0x04, 0x25, 0, 0x80, 0, 0, /* lock xadd [0x8000], eax */
		0xbb, 0x10, 0, 0, 0,                  /* mov ebx, 16 */
		0x87, 0x1c, 0x25, 4, 0x80, 0, 0,      /* xchg [0x8004], ebx */
		0xb8, 12, 0, 0, 0, 0xb9, 99, 0, 0, 0, /* mov eax, 12; mov ecx, 99 */
		0xf0, 0x0f, 0xb1, 0x0c, 0x25, 0, 0x80, 0, 0, /* lock cmpxchg [0x8000], ecx */
		0xf4,
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));
	uint32_t v[2] = { 7, 3 };

	memcpy(ram + DATA, v, 8);
	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	memcpy(v, ram + DATA, 8);
	assert_int_equal(v[0], 99);
	assert_int_equal(v[1], 16);
	assert_int_equal(cpu->gpr[X86_RBX], 3);
	assert_true(x86_get_rflags(cpu) & X86_ZF);
	done(cpu);
}

static void t_call_ret_stack(void **s)
{
	static const uint8_t code[] = {
		0xe8, 0x06, 0, 0, 0,          /* call +6 */
		0x48, 0x89, 0xc3,             /* mov rbx, rax */
		0xf4, 0x90, 0x90,             /* hlt; pad */
		0xc8, 0x10, 0, 0,             /* enter 16, 0 */
		0x48, 0x8b, 0x45, 0x08,       /* mov rax, [rbp+8] (return address) */
		0xc9,                         /* leave */
		0xc3,                         /* ret */
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RBX], CODE + 5);
	assert_int_equal(cpu->gpr[X86_RSP], STACK);
	done(cpu);
}

/* Real mode: segments, 16-bit arithmetic, OUT, IN error. */
static void t_real16(void **s)
{
	static const uint8_t code[] = {
		0xb8, 0x00, 0x08,             /* mov ax, 0x800 */
		0x8e, 0xd8,                   /* mov ds, ax */
		0xc7, 0x06, 0x10, 0x00, 0x34, 0x12, /* mov word [0x10], 0x1234 */
		0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, /* mov eax, 0x12345678 */
		0xe6, 0x80,                   /* out 0x80, al */
		0x8b, 0x1e, 0x10, 0x00,       /* mov bx, [0x10] */
		0xba, 0x99, 0x00,             /* mov dx, 0x99 */
		0xec,                         /* in al, dx (fails) */
	};
	struct x86_cpu *cpu = mk(16, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_MEM_ERROR);
	assert_int_equal(ram[0x8010], 0x34);
	assert_int_equal(ram[0x8011], 0x12);
	assert_int_equal(out_port, 0x80);
	assert_int_equal(out_val, 0x78);
	assert_int_equal(cpu->gpr[X86_RBX], 0x1234);
	assert_int_equal(cpu->rip, CODE + sizeof(code) - 1);
	assert_int_equal(cpu->fault_addr, 0x99);
	done(cpu);
}

/* 32-bit protected flat code: BCD and PUSHA/POPA are legal here. */
static void t_prot32(void **s)
{
	static const uint8_t code[] = {
		0xb0, 0x79, 0x04, 0x35, 0x27, /* mov al,0x79; add al,0x35; daa -> 0x14 CF */
		0x88, 0xc3,                   /* mov bl, al */
		0x60,                         /* pusha */
		0x31, 0xdb,                   /* xor ebx, ebx */
		0x61,                         /* popa */
		0xb0, 0x0f, 0xd4, 0x0a,       /* mov al, 15; aam -> ah 1 al 5 */
		0xf4,
	};
	struct x86_cpu *cpu = mk(32, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RBX] & 0xff, 0x14);
	assert_int_equal(cpu->gpr[X86_RAX] & 0xffff, 0x0105);
	assert_int_equal(cpu->gpr[X86_RSP], STACK);
	done(cpu);
}

static void t_mmio(void **s)
{
	static const uint8_t code[] = {
		0xb8, 0x00, 0x00, 0x00, 0xf0, /* mov eax, 0xf0000000 */
		0x8b, 0x18,                   /* mov ebx, [rax] */
		0x89, 0x18,                   /* mov [rax], ebx (write fails) */
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_MEM_ERROR);
	assert_int_equal(cpu->gpr[X86_RBX], 0xabababab);
	assert_int_equal(cpu->rip, CODE + 7);
	assert_int_equal(cpu->fault_addr, 0xf0000000u);
	assert_int_equal(cpu->fault_size, 4);
	done(cpu);
}

static void t_shift_rot(void **s)
{
	static const uint8_t code[] = {
		0xb8, 0x01, 0, 0, 0x80,       /* mov eax, 0x80000001 */
		0xd1, 0xc0,                   /* rol eax, 1 -> 3, CF=1 */
		0x89, 0xc3,                   /* mov ebx, eax */
		0xf9, 0xb0, 0x80, 0xd0, 0xd0, /* stc; mov al,0x80; rcl al,1 -> 1, CF 1 */
		0x88, 0xc1,                   /* mov cl, al */
		0x48, 0xc7, 0xc2, 0xf0, 0xff, 0xff, 0xff, /* mov rdx, -16 */
		0x48, 0xc1, 0xfa, 0x02,       /* sar rdx, 2 -> -4 */
		0xf4,
	};
	struct x86_cpu *cpu = mk(64, code, sizeof(code));

	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	assert_int_equal(cpu->gpr[X86_RBX], 3);
	assert_int_equal(cpu->gpr[X86_RCX] & 0xff, 1);
	assert_int_equal(cpu->gpr[X86_RDX], (uint64_t)-4);
	done(cpu);
}

static void t_cpuid(void **s)
{
	static const uint8_t code[] = { 0x31, 0xc0, 0x0f, 0xa2, 0xf4 };
	struct x86_cpu *cpu = mk(64, code, sizeof(code));
	char v[13] = { 0 };

	assert_int_equal(x86_run(cpu, 100), X86_STOP_HLT);
	memcpy(v, &cpu->gpr[X86_RBX], 4);
	memcpy(v + 4, &cpu->gpr[X86_RDX], 4);
	memcpy(v + 8, &cpu->gpr[X86_RCX], 4);
	assert_string_equal(v, "PetrelPetrel");
	done(cpu);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(t_loop64),     cmocka_unit_test(t_budget_step),
		cmocka_unit_test(t_flags),      cmocka_unit_test(t_div0),
		cmocka_unit_test(t_div_overflow), cmocka_unit_test(t_ud),
		cmocka_unit_test(t_gp_length),  cmocka_unit_test(t_smc),
		cmocka_unit_test(t_rep_movs),   cmocka_unit_test(t_rep_fault),
		cmocka_unit_test(t_rep_overlap),
		cmocka_unit_test(t_lock_xchg),  cmocka_unit_test(t_call_ret_stack),
		cmocka_unit_test(t_real16),     cmocka_unit_test(t_prot32),
		cmocka_unit_test(t_mmio),       cmocka_unit_test(t_shift_rot),
		cmocka_unit_test(t_cpuid),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
