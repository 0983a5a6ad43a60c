/*
 * A small JIT for hot blocks (x86-64 hosts only; PETREL_JIT=0 disables it).
 *
 * A block that ran twice is translated into host code that does exactly
 * what the interpreter loop in x86_run() does, without the loop: for each
 * instruction it advances RIP and calls the instruction's handler directly
 * (one call site per instruction, so the host predicts every call), then
 * stops at the first nonzero return or self-modifying-code signal. Register
 * moves and the flag-less register ALU forms (exec_fast.c, chosen by the
 * flag-liveness pass) are emitted inline as two or three host instructions
 * on cpu->gpr[]. Handlers, faults, budget and invalidation are unchanged:
 * the translation returns (stop index << 32 | handler return) and x86_run()
 * handles it like the loop's break. Translations live in one buffer that is
 * reset with the block arena (x86_flush_code).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/x86/system.h"

#if defined(__x86_64__)

#define JIT_SIZE (64u << 20)

struct x86_jit_op {
	uint8_t kind; /* see exec_fast.c; 6 = load, 7/8 = store of alu bytes */
	uint8_t alu;
	uint8_t w64;
	uint8_t dst, src;
	uint64_t imm;
};
bool x86_fast_jit_op(const struct x86_insn *in, struct x86_jit_op *op);

struct x86_jit {
	uint8_t *buf;
	size_t used;
	bool off;
};

struct x86_jit *x86_jit_new(void)
{
	struct x86_jit *j;
	const char *e = getenv("PETREL_JIT");

	if (e && !strcmp(e, "0"))
		return NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->buf = mmap(NULL, JIT_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->buf == MAP_FAILED) {
		free(j);
		return NULL;
	}
	return j;
}

void x86_jit_free(struct x86_jit *j)
{
	if (!j)
		return;
	munmap(j->buf, JIT_SIZE);
	free(j);
}

void x86_jit_reset(struct x86_jit *j)
{
	if (j) {
		j->used = 0;
		j->off = false;
	}
}

struct emit {
	uint8_t *p;
};

static void b1(struct emit *e, uint8_t v)
{
	*e->p++ = v;
}

static void b4(struct emit *e, uint32_t v)
{
	memcpy(e->p, &v, 4);
	e->p += 4;
}

static void b8(struct emit *e, uint64_t v)
{
	memcpy(e->p, &v, 8);
	e->p += 8;
}

/* [rbx + disp32] with register field r (0..7). */
static void mrm_rbx(struct emit *e, unsigned r, uint32_t disp)
{
	b1(e, (uint8_t)(0x80 | (r << 3) | 3));
	b4(e, disp);
}

#define GPR(r) ((uint32_t)(offsetof(struct x86_cpu, gpr) + 8 * (r)))

/* rax <- gpr[r] (32-bit loads zero-extend) */
static void load_rax(struct emit *e, unsigned r, bool w64)
{
	if (w64)
		b1(e, 0x48);
	b1(e, 0x8b);
	mrm_rbx(e, 0, GPR(r));
}

/* gpr[r] <- rax (all 64 bits) */
static void store_rax(struct emit *e, unsigned r)
{
	b1(e, 0x48);
	b1(e, 0x89);
	mrm_rbx(e, 0, GPR(r));
}

static void emit_inline(struct emit *e, const struct x86_jit_op *op)
{
	/* "op rax, r/m" opcodes and "op eax/rax, imm32" short forms. */
	static const uint8_t rm_op[8] = { 0x03, 0x0b, 0, 0, 0x23, 0x2b, 0x33, 0 };
	static const uint8_t imm_op[8] = { 0x05, 0x0d, 0, 0, 0x25, 0x2d, 0x35, 0 };

	switch (op->kind) {
	case 1:
		load_rax(e, op->src, op->w64);
		break;
	case 2:
		load_rax(e, op->dst, op->w64);
		if (op->w64)
			b1(e, 0x48);
		if (op->alu == 8) {
			b1(e, 0x0f);
			b1(e, 0xaf);
		} else {
			b1(e, rm_op[op->alu]);
		}
		mrm_rbx(e, 0, GPR(op->src));
		break;
	case 3:
		load_rax(e, op->dst, op->w64);
		if (op->w64)
			b1(e, 0x48);
		b1(e, imm_op[op->alu]);
		b4(e, (uint32_t)op->imm);
		break;
	case 5:
		/* rol/ror rax (eax), imm8 */
		load_rax(e, op->dst, op->w64);
		if (op->w64)
			b1(e, 0x48);
		b1(e, 0xc1);
		b1(e, op->alu ? 0xc8 : 0xc0);
		b1(e, (uint8_t)op->imm);
		break;
	default:
		b1(e, 0x48);
		b1(e, 0xb8);
		b8(e, op->imm);
		break;
	}
	store_rax(e, op->dst);
}

static void b2(struct emit *e, uint8_t a, uint8_t b)
{
	b1(e, a);
	b1(e, b);
}

static uint8_t *jcc32(struct emit *e, uint8_t cc)
{
	uint8_t *at;

	b2(e, 0x0f, cc);
	at = e->p;
	b4(e, 0);
	return at;
}

static void patch(uint8_t *at, uint8_t *to)
{
	int32_t rel = (int32_t)(to - (at + 4));

	memcpy(at, &rel, 4);
}

/* The TLB fast path of a load (op->kind 6) or store (7: gpr[src], 8: imm)
 * in 64-bit mode without a segment base (what x86_read_mem() and
 * x86_write_mem() do inline): rdx = EA; hit -> the access, then jump over
 * the slow path, whose jumps are returned in miss[0..1]. */
static uint8_t *emit_mem_fast(struct emit *e, const struct x86_insn *in,
			      const struct x86_jit_op *op, uint8_t *miss[2])
{
	uint8_t *done;
	unsigned size = op->alu;
	unsigned acc = op->kind == 6 ? X86_ACC_READ : X86_ACC_WRITE;

	if (in->base == X86_NOREG) {
		b2(e, 0x31, 0xd2); /* xor edx, edx */
	} else {
		b2(e, 0x48, 0x8b); /* mov rdx, [rbx + base] */
		mrm_rbx(e, 2, in->base == X86_REG_RIP ? (uint32_t)offsetof(struct x86_cpu, rip)
						      : GPR(in->base));
	}
	if (in->index != X86_NOREG) {
		load_rax(e, in->index, true);
		if (in->scale) {
			b2(e, 0x48, 0xc1); /* shl rax, scale */
			b2(e, 0xe0, in->scale);
		}
		b2(e, 0x48, 0x01); /* add rdx, rax */
		b1(e, 0xc2);
	}
	if (in->disp) {
		b2(e, 0x48, 0x81); /* add rdx, imm32 */
		b1(e, 0xc2);
		b4(e, (uint32_t)in->disp);
	}
	/* rax = &tlb[READ][(rdx >> 12) & 255] - &cpu (index * 16) */
	b2(e, 0x48, 0x89); b1(e, 0xd0);             /* mov rax, rdx */
	b2(e, 0x48, 0xc1); b2(e, 0xe8, 12);         /* shr rax, 12 */
	b2(e, 0x0f, 0xb6); b1(e, 0xc0);             /* movzx eax, al */
	b2(e, 0xc1, 0xe0); b1(e, 4);                /* shl eax, 4 */
	b2(e, 0x48, 0x01); b1(e, 0xd8);             /* add rax, rbx */
	b2(e, 0x48, 0x89); b1(e, 0xd1);             /* mov rcx, rdx */
	b2(e, 0x48, 0x81); b1(e, 0xe1); b4(e, 0xfffff000u); /* and rcx, ~0xfff */
	b2(e, 0x48, 0x3b); b1(e, 0x88);             /* cmp rcx, [rax + tag] */
	b4(e, (uint32_t)offsetof(struct x86_cpu, tlb[acc][0].tag));
	miss[0] = jcc32(e, 0x85);                   /* jne miss */
	b2(e, 0x89, 0xd1);                          /* mov ecx, edx */
	b2(e, 0x81, 0xe1); b4(e, 0xfff);            /* and ecx, 0xfff */
	b2(e, 0x81, 0xf9); b4(e, 0x1000 - size);    /* cmp ecx, 0x1000 - size */
	miss[1] = jcc32(e, 0x87);                   /* ja miss */
	b2(e, 0x48, 0x03); b1(e, 0x90);             /* add rdx, [rax + addend] */
	b4(e, (uint32_t)offsetof(struct x86_cpu, tlb[acc][0].addend));
	if (op->kind == 7) {
		load_rax(e, op->src, size == 8);
		if (size == 8)
			b1(e, 0x48);
		b2(e, 0x89, 0x02);                  /* mov [rdx], rax/eax */
	} else if (op->kind == 8) {
		if (size == 8)
			b1(e, 0x48);
		b2(e, 0xc7, 0x02);                  /* mov qword/dword [rdx], imm32 */
		b4(e, (uint32_t)op->imm);
	} else {
		if (size == 8)
			b2(e, 0x48, 0x8b), b1(e, 0x02); /* mov rax, [rdx] */
		else if (size == 4)
			b2(e, 0x8b, 0x02);              /* mov eax, [rdx] */
		else
			b2(e, 0x0f, 0xb6), b1(e, 0x02); /* movzx eax, byte [rdx] */
		store_rax(e, op->dst);
	}
	b1(e, 0xe9);                                /* jmp done */
	done = e->p;
	b4(e, 0);
	return done;
}

/* add qword [rbx + rip], n */
static void add_rip(struct emit *e, uint32_t n)
{
	b1(e, 0x48);
	b1(e, 0x81);
	mrm_rbx(e, 0, (uint32_t)offsetof(struct x86_cpu, rip));
	b4(e, n);
}

/* Worst case bytes per instruction (call path) and for the frame. */
#define PER_INSN 192
#define FRAME 64

x86_jit_fn x86_jit_translate(struct x86_jit *j, const struct x86_block *b)
{
	struct emit e;
	uint8_t *start, *exit_jumps[X86_BLOCK_MAX_INSNS];
	unsigned i, nj = 0;
	uint32_t pend = 0;

	if (!j || j->off)
		return NULL;
	if (j->used + FRAME + (size_t)b->n * PER_INSN > JIT_SIZE) {
		j->off = true; /* full until the next x86_flush_code() */
		return NULL;
	}
	start = j->buf + j->used;
	e.p = start;
	/* push rbx; push r12; push r13 (keeps the stack 16-byte aligned);
	 * mov rbx, rdi */
	b1(&e, 0x53);
	b1(&e, 0x41);
	b1(&e, 0x54);
	b1(&e, 0x41);
	b1(&e, 0x55);
	b1(&e, 0x48);
	b1(&e, 0x89);
	b1(&e, 0xfb);
	for (i = 0; i < b->n; i++) {
		const struct x86_insn *in = &b->insns[i];
		struct x86_jit_op op;

		uint8_t *miss[2], *done = NULL;
		bool have = x86_fast_jit_op(in, &op);

		pend += in->len;
		if (have && op.kind < 6) {
			emit_inline(&e, &op);
			continue;
		}
		/* RIP must be past this instruction when its handler runs (and
		 * for RIP-relative addresses). */
		add_rip(&e, pend);
		pend = 0;
		if (have && b->mode == X86_MODE_LONG64) {
			done = emit_mem_fast(&e, in, &op, miss);
			patch(miss[0], e.p);
			patch(miss[1], e.p);
		}
		/* mov r12d, i */
		b1(&e, 0x41);
		b1(&e, 0xbc);
		b4(&e, i);
		/* mov rdi, rbx; mov rsi, in; mov rax, h; call rax */
		b1(&e, 0x48);
		b1(&e, 0x89);
		b1(&e, 0xdf);
		b1(&e, 0x48);
		b1(&e, 0xbe);
		b8(&e, (uint64_t)(uintptr_t)in);
		b1(&e, 0x48);
		b1(&e, 0xb8);
		b8(&e, (uint64_t)(uintptr_t)in->h);
		b1(&e, 0xff);
		b1(&e, 0xd0);
		/* movzx ecx, byte [rbx + smc]; or ecx, eax; jnz exit */
		b1(&e, 0x0f);
		b1(&e, 0xb6);
		mrm_rbx(&e, 1, (uint32_t)offsetof(struct x86_cpu, smc));
		b1(&e, 0x09);
		b1(&e, 0xc1);
		b1(&e, 0x0f);
		b1(&e, 0x85);
		exit_jumps[nj++] = e.p;
		b4(&e, 0);
		if (done)
			patch(done, e.p);
	}
	if (pend)
		add_rip(&e, pend);
	/* Completed: eax = 0, r12d = n. */
	b1(&e, 0x31);
	b1(&e, 0xc0);
	b1(&e, 0x41);
	b1(&e, 0xbc);
	b4(&e, b->n);
	/* exit: rax = (uint64_t)r12d << 32 | eax */
	for (i = 0; i < nj; i++) {
		int32_t rel = (int32_t)(e.p - (exit_jumps[i] + 4));

		memcpy(exit_jumps[i], &rel, 4);
	}
	/* mov eax, eax; shl r12, 32; or rax, r12; pop r13; pop r12; pop rbx; ret */
	b1(&e, 0x89);
	b1(&e, 0xc0);
	b1(&e, 0x49);
	b1(&e, 0xc1);
	b1(&e, 0xe4);
	b1(&e, 0x20);
	b1(&e, 0x4c);
	b1(&e, 0x09);
	b1(&e, 0xe0);
	b1(&e, 0x41);
	b1(&e, 0x5d);
	b1(&e, 0x41);
	b1(&e, 0x5c);
	b1(&e, 0x5b);
	b1(&e, 0xc3);
	j->used = (size_t)(e.p - j->buf + 15) & ~(size_t)15;
	return (x86_jit_fn)(void *)start;
}

#else /* no JIT for this host */

struct x86_jit *x86_jit_new(void)
{
	return NULL;
}

void x86_jit_free(struct x86_jit *j)
{
	(void)j;
}

void x86_jit_reset(struct x86_jit *j)
{
	(void)j;
}

x86_jit_fn x86_jit_translate(struct x86_jit *j, const struct x86_block *b)
{
	(void)j;
	(void)b;
	return NULL;
}

#endif
