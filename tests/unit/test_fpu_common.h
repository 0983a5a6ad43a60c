/*
 * Shared by the fpu unit tests: a tiny decoder for test byte strings
 * (prefixes, 0F maps, ModRM with register operands or [rdi] only, imm8),
 * a fake guest memory, and a native runner that executes the same bytes on
 * the host processor between FXRSTOR64 and FXSAVE64.
 */
#ifndef PETREL_TEST_FPU_COMMON_H
#define PETREL_TEST_FPU_COMMON_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "cpu/x86/fpu/fpu.h"

#define TMEM_SIZE 512

struct tmachine {
	struct x86_fpu_state fs;
	uint64_t gpr[16];
	uint64_t rflags;
	uint8_t mem[TMEM_SIZE] __attribute__((aligned(16)));
	uint64_t mem_la;     /* linear address the fake memory answers at */
	unsigned faults;     /* accesses refused */
	bool fail_writes;
	struct fpu_ctx ctx;
};

static int tm_read(void *opaque, uint64_t la, void *buf, unsigned len)
{
	struct tmachine *m = opaque;

	if (la < m->mem_la || la - m->mem_la > TMEM_SIZE || len > TMEM_SIZE - (la - m->mem_la)) {
		m->faults++;
		return -14; /* the core would have raised #PF */
	}
	memcpy(buf, m->mem + (la - m->mem_la), len);
	return 0;
}

static int tm_write(void *opaque, uint64_t la, const void *buf, unsigned len)
{
	struct tmachine *m = opaque;

	if (m->fail_writes || la < m->mem_la || la - m->mem_la > TMEM_SIZE ||
	    len > TMEM_SIZE - (la - m->mem_la)) {
		m->faults++;
		return -14;
	}
	memcpy(m->mem + (la - m->mem_la), buf, len);
	return 0;
}

static inline void tm_init(struct tmachine *m)
{
	memset(m, 0, sizeof(*m));
	fpu_state_reset(&m->fs);
	m->fs.fcw = X87_FCW_DEFAULT;
	m->rflags = 2;
	m->mem_la = 0x1000;
	m->ctx.fs = &m->fs;
	m->ctx.gpr = m->gpr;
	m->ctx.rflags = &m->rflags;
	m->ctx.cr0 = 1 | FPU_CR0_MP | FPU_CR0_NE;
	m->ctx.cr4 = FPU_CR4_OSFXSR | FPU_CR4_OSXMMEXCPT;
	m->ctx.mode64 = true;
	m->ctx.read = tm_read;
	m->ctx.write = tm_write;
	m->ctx.opaque = m;
}

/* Decode one instruction; memory operands must be [rdi] (mod 0, rm 7).
 * Returns its length, or -1 when the bytes are outside what tests use. */
static inline int tdecode(const uint8_t *p, size_t len, uint64_t la, struct fpu_insn *in)
{
	size_t i = 0;
	bool o16 = false;
	unsigned rep = 0, f;

	memset(in, 0, sizeof(*in));
	for (; i < len; i++) {
		if (p[i] == 0x66)
			o16 = true;
		else if (p[i] == 0xf2 || p[i] == 0xf3)
			rep = p[i];
		else
			break;
	}
	if (i < len && (p[i] & 0xf0) == 0x40)
		in->rex = p[i++] & 0xf;
	if (i >= len)
		return -1;
	in->pfx = rep == 0xf3 ? FPU_PFX_F3 : rep == 0xf2 ? FPU_PFX_F2 : o16 ? FPU_PFX_66 : 0;
	in->opsize = (in->rex & 8) ? 64 : o16 ? 16 : 32;
	if (p[i] == 0x0f) {
		i++;
		if (i < len && (p[i] == 0x38 || p[i] == 0x3a)) {
			in->map = p[i] == 0x38 ? FPU_MAP_0F38 : FPU_MAP_0F3A;
			i++;
		} else {
			in->map = FPU_MAP_0F;
		}
	}
	if (i >= len)
		return -1;
	in->op = p[i++];
	f = fpu_opcode_flags(in->map, in->op, in->pfx);
	if (!(f & FPU_OPF_VALID))
		return -1;
	if (f & FPU_OPF_MODRM) {
		if (i >= len)
			return -1;
		in->modrm = p[i++];
		if ((in->modrm & 0xc0) != 0xc0) {
			if ((in->modrm & 0xc7) != 0x07 || (in->rex & 3))
				return -1;
			in->addr = la;
		}
	}
	if (in->map == FPU_MAP_0F && in->op == 0xf7)
		in->addr = la; /* MASKMOV: DS:rDI */
	if (f & FPU_OPF_IMM8) {
		if (i >= len)
			return -1;
		in->imm8 = p[i++];
	}
	in->rip = 0x400000;
	in->cs = 0x33;
	in->ds = 0x2b;
	return (int)i;
}

/* Execute a byte string in the emulator; returns the first non-zero result. */
static inline int tm_run(struct tmachine *m, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct fpu_insn in;
		int n = tdecode(p + off, len - off, m->mem_la, &in), rc;

		if (n < 0)
			return -1000;
		rc = fpu_exec(&m->ctx, &in);
		if (rc)
			return rc;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Native runner: rdi = FXSAVE64 image (in/out), rsi = memory, rdx = code,
 * rcx = &rflags (in: CF PF ZF; out), r8 = &rax (in/out). The host MXCSR
 * is restored and the host x87 reinitialised afterwards, so neither a
 * guest MXCSR nor a pending x87 exception leaks into the test program.
 */
void fpu_test_native(void *fx, void *mem, const void *code, uint64_t *flags, uint64_t *rax);
__asm__(".text\n"
	".globl fpu_test_native\n"
	"fpu_test_native:\n"
	"	push %rbx\n"
	"	sub $16, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	mov %rdi, %rbx\n"
	"	fxrstor64 (%rbx)\n"
	"	push %r8\n"
	"	push %rcx\n"
	"	mov %rsi, %rdi\n"
	"	mov (%r8), %rax\n"
	"	pushq (%rcx)\n"
	"	popfq\n"
	"	call *%rdx\n"
	"	pushfq\n"
	"	pop %rdx\n"
	"	pop %rcx\n"
	"	pop %r8\n"
	"	mov %rdx, (%rcx)\n"
	"	mov %rax, (%r8)\n"
	"	fxsave64 (%rbx)\n"
	"	fninit\n"
	"	ldmxcsr (%rsp)\n"
	"	add $16, %rsp\n"
	"	pop %rbx\n"
	"	ret\n");

static sigjmp_buf tn_jmp;
static volatile int tn_sig;

static void tn_handler(int sig)
{
	tn_sig = sig;
	siglongjmp(tn_jmp, 1);
}

/* Run bytes natively on a machine's state (converted through FXSAVE64).
 * Returns 0, or the signal that stopped the instruction. */
static inline int tm_native(struct tmachine *m, const uint8_t *p, size_t len)
{
	static uint8_t *code;
	uint8_t fx[512] __attribute__((aligned(16)));
	uint64_t fl = 2 | (m->rflags & 0x45), rax = m->gpr[0];
	struct sigaction sa, o1, o2, o3, o4;
	uint32_t host_csr;

	__asm__ volatile("stmxcsr %0" : "=m"(host_csr));

	if (!code) {
		code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(code != MAP_FAILED);
	}
	memcpy(code, p, len);
	code[len] = 0xc3;
	fpu_fxsave(&m->fs, fx, true);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tn_handler;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGILL, &sa, &o1);
	sigaction(SIGSEGV, &sa, &o2);
	sigaction(SIGFPE, &sa, &o3);
	sigaction(SIGBUS, &sa, &o4);
	tn_sig = 0;
	if (!sigsetjmp(tn_jmp, 1))
		fpu_test_native(fx, m->mem, code, &fl, &rax);
	sigaction(SIGILL, &o1, NULL);
	sigaction(SIGSEGV, &o2, NULL);
	sigaction(SIGFPE, &o3, NULL);
	sigaction(SIGBUS, &o4, NULL);
	if (tn_sig) {
		__asm__ volatile("fninit\n\tldmxcsr %0" : : "m"(host_csr));
		return tn_sig;
	}
	fpu_fxrstor(&m->fs, fx, true);
	m->rflags = fl;
	m->gpr[0] = rax;
	return 0;
}

#endif
