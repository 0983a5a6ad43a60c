/*
 * Block executor and code cache.
 *
 * Instructions are decoded once into blocks (ending at a control transfer,
 * X86_BLOCK_MAX_INSNS, or an undecodable instruction) that are cached by
 * physical address and mode. A direct-mapped cache keyed by linear RIP skips
 * translation and hashing for hot blocks. Every physical page holding code
 * is in a set with the list of its blocks; the write TLB never maps such a
 * page, so the first write reaches x86_cc_write_page() and drops the page's
 * blocks. Blocks live in an arena that is only reset between blocks.
 */
#include <errno.h>
#include <stdlib.h>

#include "cpu/x86/system.h"

#define HASH_BITS 15
#define JC_BITS 16 /* linear cache: 64Ki entries (512 KiB); 4Ki missed often in a boot */
#define PAGE_BITS 12
#define ARENA_SIZE (48u << 20)

struct code_page {
	uint64_t pfn;
	struct x86_block *blocks; /* linked through pnext[0 or 1] */
	struct code_page *next;
};

struct x86_code_cache {
	struct x86_block *hash[1u << HASH_BITS];
	struct x86_block *jc[1u << JC_BITS];
	struct code_page *pages[1u << PAGE_BITS];
	uint8_t *arena;
	size_t used;
	struct x86_jit *jit;
	uint8_t jit_after; /* translate a block on this full run (0: never) */
	struct x86_cpu_stats st;
};

struct x86_code_cache *x86_cc_new(void)
{
	struct x86_code_cache *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	cc->arena = malloc(ARENA_SIZE);
	if (!cc->arena) {
		free(cc);
		return NULL;
	}
	cc->jit = x86_jit_new();
	/* PETREL_JIT=0: interpreter only; PETREL_JIT=all: translate every
	 * block on its first run (tests); default: on its second run. */
	cc->jit_after = !cc->jit ? 0 : getenv("PETREL_JIT") && !strcmp(getenv("PETREL_JIT"), "all") ? 1 : 2;
	return cc;
}

static void free_pages(struct x86_code_cache *cc)
{
	unsigned i;

	for (i = 0; i < (1u << PAGE_BITS); i++) {
		struct code_page *p = cc->pages[i], *n;

		for (; p; p = n) {
			n = p->next;
			free(p);
		}
		cc->pages[i] = NULL;
	}
}

void x86_cc_free(struct x86_code_cache *cc)
{
	if (!cc)
		return;
	free_pages(cc);
	x86_jit_free(cc->jit);
	free(cc->arena);
	free(cc);
}

void x86_flush_code(struct x86_cpu *cpu)
{
	struct x86_code_cache *cc = cpu->cc;

	memset(cc->hash, 0, sizeof(cc->hash));
	memset(cc->jc, 0, sizeof(cc->jc));
	free_pages(cc);
	cc->used = 0;
	x86_jit_reset(cc->jit);
	cc->st.cache_flushes++;
	cpu->smc = 1;
}

void x86_cc_forget_linear(struct x86_cpu *cpu)
{
	memset(cpu->cc->jc, 0, sizeof(cpu->cc->jc));
}

void x86_cpu_get_stats(const struct x86_cpu *cpu, struct x86_cpu_stats *st)
{
	*st = cpu->cc->st;
}

static unsigned page_hash(uint64_t pfn)
{
	return (unsigned)((pfn * 0x9e3779b97f4a7c15ull) >> (64 - PAGE_BITS));
}

static struct code_page **page_slot(struct x86_code_cache *cc, uint64_t pfn)
{
	struct code_page **pp = &cc->pages[page_hash(pfn)];

	while (*pp && (*pp)->pfn != pfn)
		pp = &(*pp)->next;
	return pp;
}

bool x86_cc_is_code(struct x86_cpu *cpu, uint64_t pfn)
{
	return *page_slot(cpu->cc, pfn) != NULL;
}

bool x86_cc_write_page(struct x86_cpu *cpu, uint64_t pfn)
{
	struct code_page **pp = page_slot(cpu->cc, pfn), *p = *pp;
	struct x86_block *b, *n;

	if (!p)
		return false;
	for (b = p->blocks; b; b = n) {
		/* A block crossing into this page is on its list via pnext[1]. */
		n = (b->phys >> 12) == pfn ? b->pnext[0] : b->pnext[1];
		if (b->valid) {
			b->valid = 0;
			cpu->cc->st.blocks_invalidated++;
		}
	}
	*pp = p->next;
	free(p);
	cpu->smc = 1;
	return true;
}

void x86_invalidate_phys(struct x86_cpu *cpu, uint64_t gpa, uint64_t len)
{
	uint64_t pfn, last;

	if (!len)
		return;
	last = (gpa + len - 1) >> 12;
	for (pfn = gpa >> 12; pfn <= last; pfn++)
		x86_cc_write_page(cpu, pfn);
}

static int add_to_page(struct x86_cpu *cpu, uint64_t pfn, struct x86_block *b, int which)
{
	struct code_page **pp = page_slot(cpu->cc, pfn), *p = *pp;

	if (!p) {
		unsigned a, i;

		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->pfn = pfn;
		*pp = p;
		/* The page just became code: drop write mappings of it. Aliases
		 * are possible with paging, so flush the whole write TLB. */
		a = X86_ACC_WRITE;
		for (i = 0; i < X86_TLB_SIZE; i++)
			cpu->tlb[a][i].tag = X86_TLB_INVALID;
	}
	b->pnext[which] = p->blocks;
	p->blocks = b;
	return 0;
}

static unsigned hash_of(uint64_t phys, unsigned mode)
{
	return (unsigned)(((phys ^ mode) * 0x9e3779b97f4a7c15ull) >> (64 - HASH_BITS));
}

static unsigned jc_of(uint64_t rip)
{
	return (unsigned)((rip ^ (rip >> JC_BITS)) & ((1u << JC_BITS) - 1));
}

/* Handler for an instruction that failed to decode: raise at execution. */
static int h_decode_fault(struct x86_cpu *cpu, const struct x86_insn *in)
{
	if (in->aux == X86_EXC_GP)
		return x86_gp0(cpu);
	return x86_ud(cpu);
}

/* Fetch up to 15 bytes at linear la into buf (may stop at a non-RAM page). */
static unsigned fetch(struct x86_cpu *cpu, uint64_t la, uint8_t *buf, unsigned want,
		      uint64_t *gpa2)
{
	unsigned got = 0;

	*gpa2 = ~0ull;
	while (got < want) {
		uint64_t pa;
		uint8_t *h = x86_tlb_fill(cpu, la + got, X86_ACC_FETCH, &pa);
		unsigned n = 0x1000 - ((la + got) & 0xfff);

		if (!h) {
			if (x86_gpa_bad(pa))
				*gpa2 = pa; /* why the fetch stopped */
			break;
		}
		if (got)
			*gpa2 = pa & ~0xfffull;
		if (n > want - got)
			n = want - got;
		memcpy(buf + got, h, n);
		got += n;
	}
	return got;
}

/* exec_fast.c: flag liveness within a block (returns whether it changed a
 * handler) and the exact handler of an instruction it changed. */
bool x86_fast_flags_pass(struct x86_insn *insns, unsigned n);
x86_handler x86_fast_full(const struct x86_insn *in);

static struct x86_block *build(struct x86_cpu *cpu, uint64_t rip, uint64_t phys, int *err)
{
	struct x86_code_cache *cc = cpu->cc;
	size_t need = sizeof(struct x86_block) + X86_BLOCK_MAX_INSNS * sizeof(struct x86_insn);
	struct x86_block *b;
	uint64_t la, page2 = ~0ull;
	unsigned n = 0;

	if (cc->used + need > ARENA_SIZE)
		x86_flush_code(cpu);
	b = (struct x86_block *)(cc->arena + cc->used);
	b->rip = rip;
	b->phys = phys;
	b->mode = cpu->mode;
	b->cs_base = cpu->seg[X86_CS].base;
	la = cpu->seg[X86_CS].base + rip;
	if (cpu->mode == X86_MODE_LONG64)
		la = rip;
	for (;;) {
		struct x86_insn *in = &b->insns[n];
		uint8_t buf[16];
		uint64_t g2;
		unsigned got = fetch(cpu, la, buf, 15, &g2);
		int len;

		if (!got) {
			if (n)
				break;
			if (x86_gpa_bad(g2)) {
				*err = x86_gpa_rc(g2); /* #PF on the fetch */
				return NULL;
			}
			*err = x86_mem_error(cpu, cpu->mode == X86_MODE_LONG64 ? la : (uint32_t)la, 1);
			return NULL;
		}
		len = x86_decode(cpu, buf, got, in);
		if (len <= 0) {
			if (len == 0 && n)
				break; /* runs into non-RAM: let the next block report it */
			if (n)
				break; /* fault is raised when it becomes the first */
			if (len == 0) {
				if (x86_gpa_bad(g2)) {
					*err = x86_gpa_rc(g2); /* the next page faulted */
					return NULL;
				}
				*err = x86_mem_error(cpu, (la + got) & ~0xfffull, 1);
				return NULL;
			}
			memset(in, 0, sizeof(*in));
			in->h = h_decode_fault;
			in->aux = -len - 1;
			n = 1;
			break;
		}
		if (g2 != ~0ull && (unsigned)len > 0x1000 - (la & 0xfff)) {
			if (page2 != ~0ull && page2 != g2)
				break; /* at most two pages per block */
			page2 = g2;
		}
		n++;
		la += len;
		/* Blocks stay within their first page except for one crossing
		 * instruction, end at control transfers and at the size cap. */
		if (n >= X86_BLOCK_MAX_INSNS || page2 != ~0ull || (in->pfx & X86_P_END))
			break;
		if (((la - (uint64_t)len) ^ la) & ~0xfffull)
			break;
	}
	b->n = n;
	b->page2 = page2;
	b->valid = 1;
	b->nf = x86_fast_flags_pass(b->insns, n);
	b->hot = 0;
	b->jit = NULL;
	cc->used += sizeof(struct x86_block) + n * sizeof(struct x86_insn);
	cc->used = (cc->used + 15) & ~(size_t)15;
	if (add_to_page(cpu, phys >> 12, b, 0) ||
	    (page2 != ~0ull && add_to_page(cpu, page2 >> 12, b, 1))) {
		*err = x86_mem_error(cpu, phys, 1);
		return NULL;
	}
	b->hnext = cc->hash[hash_of(phys, b->mode)];
	cc->hash[hash_of(phys, b->mode)] = b;
	cc->st.blocks_decoded++;
	return b;
}

static struct x86_block *lookup(struct x86_cpu *cpu, int *err)
{
	struct x86_code_cache *cc = cpu->cc;
	uint64_t rip = cpu->rip, la, pa;
	unsigned j = jc_of(rip);
	struct x86_block *b = cc->jc[j], **pp;
	uint64_t csb = cpu->seg[X86_CS].base;
	const struct x86_tlb_entry *e;

	la = cpu->mode == X86_MODE_LONG64 ? rip : csb + rip;
	e = &cpu->tlb[X86_ACC_FETCH][(la >> 12) & (X86_TLB_SIZE - 1)];
	/* The fetch TLB entry must be there (paging rights were checked when it
	 * was filled) and map the page to the same host page, i.e. the same
	 * physical page the block was decoded from: then no TLB flush or CR3
	 * write needs to clear this cache. */
	if (likely(b && b->rip == rip && b->valid && b->mode == cpu->mode && b->cs_base == csb &&
		   e->tag == (la & ~0xfffull) && e->addend == b->addend))
		return b;
	if (!x86_tlb_fill(cpu, la, X86_ACC_FETCH, &pa)) {
		*err = x86_gpa_bad(pa) ? x86_gpa_rc(pa) : x86_mem_error(cpu, pa, 1);
		return NULL;
	}
	pp = &cc->hash[hash_of(pa, cpu->mode)];
	while ((b = *pp)) {
		if (!b->valid) {
			*pp = b->hnext; /* unlink invalidated blocks lazily */
			continue;
		}
		if (b->phys == pa && b->mode == cpu->mode && b->rip == rip && b->cs_base == csb) {
			uint64_t pa2;

			/* A block crossing into a second page is only good while
			 * that page is still mapped to the same physical page. */
			if (b->page2 == ~0ull ||
			    (x86_tlb_fill(cpu, (la & ~0xfffull) + 0x1000, X86_ACC_FETCH, &pa2) &&
			     (pa2 & ~0xfffull) == b->page2))
				break;
		}
		pp = &b->hnext;
	}
	if (!b) {
		b = build(cpu, rip, pa, err);
		if (!b)
			return NULL;
	}
	/* Only blocks within one page and with a cached fetch translation go
	 * into the linear cache: its check covers exactly the first page. */
	if (b->page2 == ~0ull && e->tag == (la & ~0xfffull)) {
		b->addend = e->addend;
		cc->jc[j] = b;
	}
	return b;
}

int x86_run(struct x86_cpu *cpu, uint64_t max_insns)
{
	uint64_t budget = max_insns;

	for (;;) {
		struct x86_block *b;
		const struct x86_insn *in;
		unsigned i, n;
		int rc = 0, err = 0;

		if (unlikely(__atomic_load_n(&cpu->stop_any, __ATOMIC_ACQUIRE))) {
			if (__atomic_load_n(&cpu->stop_req, __ATOMIC_ACQUIRE)) {
				__atomic_store_n(&cpu->stop_req, 0, __ATOMIC_RELAXED);
				return X86_STOP_REQUEST;
			}
			if (x86_interrupts_enabled(cpu))
				return X86_STOP_IRQ; /* irq_pending (interrupt.c) */
		}
		if (!budget)
			return X86_STOP_BUDGET;
		b = lookup(cpu, &err);
		if (!b) {
			if (err == X86_STOP_EXCEPTION && !(err = x86_exception(cpu, NULL)))
				continue; /* delivered (interrupt.c) */
			return err;
		}
		n = b->n;
		cpu->smc = 0;
		in = b->insns;
		if (likely(n <= budget) && !b->jit && b->hot < cpu->cc->jit_after &&
		    ++b->hot == cpu->cc->jit_after)
			b->jit = x86_jit_translate(cpu->cc->jit, b); /* once per decode */
		if (likely(n <= budget) && b->jit) {
			uint64_t r = b->jit(cpu);

			rc = (int)(uint32_t)r;
			i = (unsigned)(r >> 32);
			in = b->insns + i;
		} else if (likely(n <= budget)) {
			for (i = 0; i < n; i++, in++) {
				cpu->rip += in->len;
				rc = in->h(cpu, in);
				if (unlikely(rc | cpu->smc))
					break;
			}
		} else {
			/* Cut short: where it stops, the flags must be exact, so no
			 * dead-flag shortcuts (x86_fast_flags_pass) here. */
			n = (unsigned)budget;
			for (i = 0; i < n; i++, in++) {
				cpu->rip += in->len;
				rc = (b->nf ? x86_fast_full(in) : in->h)(cpu, in);
				if (unlikely(rc | cpu->smc))
					break;
			}
		}
		if (i < n) {
			if (rc == X86_STOP_EXCEPTION || rc == X86_STOP_MEM_ERROR) {
				/* Back to the faulting instruction (handlers write RIP
				 * last, so RIP is still just past it). */
				cpu->rip -= in->len;
				budget -= i;
				cpu->icount += i;
				if (rc == X86_STOP_EXCEPTION && !(rc = x86_exception(cpu, in)))
					continue; /* delivered (interrupt.c) */
				return rc;
			}
			i++; /* the instruction completed */
			if (rc == X86_CONT_SHADOW) {
				/* STI: the next instruction runs before interrupts. */
				budget -= i;
				cpu->icount += i;
				cpu->shadow_icount = cpu->icount + 1;
				continue;
			}
			if (rc && rc != X86_CONT_REEXEC) {
				budget -= i;
				cpu->icount += i;
				return rc;
			}
		}
		budget -= i;
		cpu->icount += i;
	}
}
