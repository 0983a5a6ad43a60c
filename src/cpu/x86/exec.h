/* Blocks and the code cache (exec.c), shared with mmu.c. */
#ifndef PETREL_CPU_X86_EXEC_H
#define PETREL_CPU_X86_EXEC_H

#include "cpu/x86/insn.h"

#define X86_BLOCK_MAX_INSNS 64
/* Handler return: the instruction completed and set RIP itself to re-run
 * (a REP string chunk); end the block without an error. */
#define X86_CONT_REEXEC 100

/* A block: straight-line decoded instructions, the unit a JIT would
 * translate. Lives in the cache arena until the next full flush. */
struct x86_block {
	uint64_t rip;      /* linear address of the first instruction */
	uint64_t phys;     /* physical address of the first instruction */
	uint64_t page2;    /* second physical page when the block crosses, or ~0 */
	struct x86_block *hnext;    /* hash chain */
	struct x86_block *pnext[2]; /* per code page lists (first, second page) */
	uint64_t cs_base;
	/* Host minus linear address of the first page when the block entered
	 * the linear cache (exec.c lookup): a jc hit needs the fetch TLB entry
	 * to carry the same value, i.e. map the same physical page. */
	uintptr_t addend;
	uint8_t mode;
	uint8_t valid;
	uint16_t n;
	uint8_t nf;        /* x86_fast_flags_pass() changed a handler */
	uint8_t hot;       /* full runs so far, up to the JIT threshold */
	uint16_t pad;
	/* Host translation (exec_jit.c): returns stop index << 32 | handler rc. */
	uint64_t (*jit)(struct x86_cpu *cpu);
	struct x86_insn insns[];
};

typedef uint64_t (*x86_jit_fn)(struct x86_cpu *cpu);
struct x86_jit;
/* exec_jit.c: NULL when disabled (PETREL_JIT=0) or unsupported. */
struct x86_jit *x86_jit_new(void);
void x86_jit_free(struct x86_jit *j);
void x86_jit_reset(struct x86_jit *j);
x86_jit_fn x86_jit_translate(struct x86_jit *j, const struct x86_block *b);

struct x86_code_cache *x86_cc_new(void);
void x86_cc_free(struct x86_code_cache *cc);
/* A CPU write reached physical page `pfn`: if it holds code, invalidate its
 * blocks (sets cpu->smc). Returns true when the page held code. */
bool x86_cc_write_page(struct x86_cpu *cpu, uint64_t pfn);
bool x86_cc_is_code(struct x86_cpu *cpu, uint64_t pfn);

/* Linear -> physical (part 1: identity; part 2 adds the page walk) and the
 * host page for it. Fills the TLB entry of the access kind when the page is
 * RAM (and, for writes, not code). Returns the host pointer to la's byte or
 * NULL for MMIO. */
uint8_t *x86_tlb_fill(struct x86_cpu *cpu, uint64_t la, enum x86_access acc, uint64_t *gpa);
int x86_mem_error(struct x86_cpu *cpu, uint64_t addr, unsigned size);

#endif
