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
		cpu->cr0 = X86_CR0_PE; /* long mode without paging: linear == physical */
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
	assert_string_equal(v, "GenuineIntel"); /* docs/timers.md */
	done(cpu);
}

/*
 * Lazy flags against the host: each ALU instruction runs in the engine
 * followed by PUSHF, and natively through inline assembly, on edge and
 * pseudo-random operands; the six status flags and the result must agree
 * (AF excluded for the logical operations, where the SDM leaves it undefined).
 */
#define STATUS 0x8d5u

static struct x86_cpu fcpu;

/* Engine: op (rax, rbx) with CF preset, then pushf; pop rcx; hlt. */
static uint64_t engine(const uint8_t *op, unsigned n, uint64_t a, uint64_t b, bool cf,
		       uint64_t *res)
{
	uint8_t code[32];

	memcpy(code, op, n);
	memcpy(code + n, "\x9c\x59\xf4", 3);
	memcpy(ram + 0x1000, code, n + 3);
	x86_flush_code(&fcpu);
	fcpu.rip = 0x1000;
	fcpu.gpr[0] = a;
	fcpu.gpr[3] = b;
	fcpu.gpr[4] = 0x8000;
	x86_set_rflags(&fcpu, cf ? 0x203 : 0x202);
	assert_int_equal(x86_run(&fcpu, 10), X86_STOP_HLT);
	*res = fcpu.gpr[0];
	return fcpu.gpr[1] & STATUS;
}

#define HOST(name, insn)                                                                           \
	static uint64_t name(uint64_t a, uint64_t b, bool cf, uint64_t *res)                      \
	{                                                                                          \
		uint64_t f;                                                                        \
		__asm__ volatile("bt $0, %[c]\n\t" insn "\n\tpushfq\n\tpopq %[f]"                  \
				 : [a] "+a"(a), [f] "=r"(f)                                        \
				 : [b] "b"(b), [c] "r"((uint64_t)cf)                               \
				 : "cc");                                                          \
		*res = a;                                                                          \
		return f & STATUS;                                                                 \
	}

HOST(h_add64, "add %%rbx, %%rax")
HOST(h_adc64, "adc %%rbx, %%rax")
HOST(h_sub64, "sub %%rbx, %%rax")
HOST(h_sbb64, "sbb %%rbx, %%rax")
HOST(h_and64, "and %%rbx, %%rax")
HOST(h_xor64, "xor %%rbx, %%rax")
HOST(h_cmp64, "cmp %%rbx, %%rax")
HOST(h_inc64, "inc %%rax")
HOST(h_dec64, "dec %%rax")
HOST(h_neg64, "neg %%rax")
HOST(h_add32, "add %%ebx, %%eax")
HOST(h_adc32, "adc %%ebx, %%eax")
HOST(h_sbb32, "sbb %%ebx, %%eax")
HOST(h_sub16, "sub %%bx, %%ax")
HOST(h_adc16, "adc %%bx, %%ax")
HOST(h_add8, "add %%bl, %%al")
HOST(h_sbb8, "sbb %%bl, %%al")
HOST(h_inc8, "inc %%al")
HOST(h_dec16, "dec %%ax")
HOST(h_neg8, "neg %%al")
HOST(h_or8, "or %%bl, %%al")

struct fcase {
	const char *name;
	uint8_t op[4];
	unsigned n;
	uint64_t (*host)(uint64_t, uint64_t, bool, uint64_t *);
	uint32_t ignore; /* undefined flags */
};

static const struct fcase cases[] = {
	{ "add64", { 0x48, 0x01, 0xd8 }, 3, h_add64, 0 },
	{ "adc64", { 0x48, 0x11, 0xd8 }, 3, h_adc64, 0 },
	{ "sub64", { 0x48, 0x29, 0xd8 }, 3, h_sub64, 0 },
	{ "sbb64", { 0x48, 0x19, 0xd8 }, 3, h_sbb64, 0 },
	{ "and64", { 0x48, 0x21, 0xd8 }, 3, h_and64, 0x10 },
	{ "xor64", { 0x48, 0x31, 0xd8 }, 3, h_xor64, 0x10 },
	{ "cmp64", { 0x48, 0x39, 0xd8 }, 3, h_cmp64, 0 },
	{ "inc64", { 0x48, 0xff, 0xc0 }, 3, h_inc64, 0 },
	{ "dec64", { 0x48, 0xff, 0xc8 }, 3, h_dec64, 0 },
	{ "neg64", { 0x48, 0xf7, 0xd8 }, 3, h_neg64, 0 },
	{ "add32", { 0x01, 0xd8 }, 2, h_add32, 0 },
	{ "adc32", { 0x11, 0xd8 }, 2, h_adc32, 0 },
	{ "sbb32", { 0x19, 0xd8 }, 2, h_sbb32, 0 },
	{ "sub16", { 0x66, 0x29, 0xd8 }, 3, h_sub16, 0 },
	{ "adc16", { 0x66, 0x11, 0xd8 }, 3, h_adc16, 0 },
	{ "add8", { 0x00, 0xd8 }, 2, h_add8, 0 },
	{ "sbb8", { 0x18, 0xd8 }, 2, h_sbb8, 0 },
	{ "inc8", { 0xfe, 0xc0 }, 2, h_inc8, 0 },
	{ "dec16", { 0x66, 0xff, 0xc8 }, 3, h_dec16, 0 },
	{ "neg8", { 0xf6, 0xd8 }, 2, h_neg8, 0 },
	{ "or8", { 0x08, 0xd8 }, 2, h_or8, 0x10 },
};

static const uint64_t edge[] = {
	0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
	0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0x0f, 0x10, 0x123456789abcdef0ull,
};

static void t_flags_vs_host(void **s)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned ne = sizeof(edge) / sizeof(edge[0]);

	assert_int_equal(x86_cpu_init(&fcpu, &ops, NULL), 0);
	fcpu.cr0 = 1; /* long mode without paging: linear == physical */
	fcpu.efer = (1 << 8) | (1 << 10);
	for (int sg = 0; sg < X86_NSEG; sg++)
		x86_set_seg(&fcpu, sg, 0x10, 0, 0xffffffff, X86_SEG_DATA32);
	x86_set_seg(&fcpu, X86_CS, 0x8, 0, 0xffffffff, X86_SEG_CODE64);
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (unsigned k = 0; k < ne * ne + 200; k++) {
			uint64_t a, b, er, hr, ef, hf;
			bool cf = k & 1;

			if (k < ne * ne) {
				a = edge[k % ne];
				b = edge[k / ne];
			} else {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				a = seed;
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				b = seed >> (seed & 63);
			}
			ef = engine(cases[c].op, cases[c].n, a, b, cf, &er) & ~cases[c].ignore;
			hf = cases[c].host(a, b, cf, &hr) & ~cases[c].ignore;
			if (ef != hf || er != hr)
				fail_msg("%s a=%#llx b=%#llx cf=%d: flags %#llx host %#llx, "
					 "result %#llx host %#llx",
					 cases[c].name, (unsigned long long)a, (unsigned long long)b,
					 cf, (unsigned long long)ef, (unsigned long long)hf,
					 (unsigned long long)er, (unsigned long long)hr);
		}
	}
	x86_cpu_fini(&fcpu);
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
		cmocka_unit_test(t_cpuid),      cmocka_unit_test(t_flags_vs_host),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
