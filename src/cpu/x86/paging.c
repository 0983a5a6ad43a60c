/*
 * Paging: the page walk of 32-bit, PAE and 4-level paging (SDM Vol. 3,
 * chapter 4), access rights, accessed/dirty bits, #PF error codes, and the
 * TLB flush policy.
 *
 * The software TLB (mmu.c) caches one 4 KiB piece per entry and access kind.
 * Permissions are checked at fill time, so the TLB must never serve an
 * access the fill would have refused:
 * - entries filled at CPL 3 and at CPL 0-2 live in separate sets, swapped
 *   when CPL crosses between them (x86_paging_cpl_changed());
 * - implicit supervisor accesses made at CPL 3 (descriptor tables, TSS, the
 *   interrupt stack) and supervisor accesses to user pages under SMAP (whose
 *   outcome depends on RFLAGS.AC) are not cached;
 * - read entries do not imply write entries (separate arrays), and a write
 *   entry exists only after the walk set the dirty bit.
 * Paging-structure entries are read and updated in guest RAM through
 * cpu->mem.page(); A/D updates are atomic ORs, so other vCPUs and the guest
 * see them as they would on hardware (entries are naturally aligned).
 */
#include "cpu/x86/system.h"

#define PHYS_MASK ((1ull << X86_PHYS_BITS) - 1)
#define ADDR_MASK (PHYS_MASK & ~0xfffull)
/* Bits above MAXPHYADDR up to 51 are reserved in 64-bit entries. */
#define RSVD_HI (((1ull << 52) - 1) & ~PHYS_MASK)

bool x86_paging_on(const struct x86_cpu *cpu)
{
	return (cpu->cr0 & X86_CR0_PG) && (cpu->cr0 & X86_CR0_PE);
}

static void flush_set(struct x86_tlb_entry (*tlb)[X86_TLB_SIZE],
		      uint8_t (*flags)[X86_TLB_SIZE], bool keep_global)
{
	unsigned a, i;

	for (a = 0; a < X86_ACC_NR; a++)
		for (i = 0; i < X86_TLB_SIZE; i++) {
			if (keep_global && (flags[a][i] & X86_TLBF_GLOBAL))
				continue;
			tlb[a][i].tag = X86_TLB_INVALID;
			flags[a][i] = 0;
		}
}

static void flush_where(struct x86_cpu *cpu, bool keep_global)
{
	flush_set(cpu->tlb, cpu->tlb_flags, keep_global);
	flush_set(cpu->tlb_other, cpu->tlb_other_flags, keep_global);
	/* Blocks found by linear RIP need no flush: a hit requires the fetch TLB
	 * entry to map the block's own physical page (exec.c lookup), so a
	 * remapped RIP misses once the entry is refilled. Keeping them across
	 * CR3 writes matters: Linux switches CR3 on every context switch. */
}

void x86_paging_forget(struct x86_cpu *cpu)
{
	flush_set(cpu->tlb_other, cpu->tlb_other_flags, false);
	memset(cpu->ptc, 0, sizeof(cpu->ptc));
}

void x86_tlb_flush_all(struct x86_cpu *cpu)
{
	flush_where(cpu, false);
}

void x86_tlb_flush_nonglobal(struct x86_cpu *cpu)
{
	flush_where(cpu, (cpu->cr4 & X86_CR4_PGE) != 0);
}

static void flush_page_set(struct x86_tlb_entry (*tlb)[X86_TLB_SIZE],
			   uint8_t (*flags)[X86_TLB_SIZE], uint64_t la)
{
	uint64_t pg = la & ~0xfffull;
	unsigned a, i;

	/* Large pages are cached as 4 KiB pieces: drop every piece of the
	 * large page that may contain la. */
	for (a = 0; a < X86_ACC_NR; a++)
		for (i = 0; i < X86_TLB_SIZE; i++) {
			uint64_t t = tlb[a][i].tag;
			uint8_t f = flags[a][i];

			if (t == X86_TLB_INVALID)
				continue;
			if (t == pg || ((f & X86_TLBF_2M) && (t >> 21) == (la >> 21)) ||
			    ((f & X86_TLBF_1G) && (t >> 30) == (la >> 30))) {
				tlb[a][i].tag = X86_TLB_INVALID;
				flags[a][i] = 0;
			}
		}
}

void x86_tlb_flush_page(struct x86_cpu *cpu, uint64_t la)
{
	flush_page_set(cpu->tlb, cpu->tlb_flags, la);
	flush_page_set(cpu->tlb_other, cpu->tlb_other_flags, la);
}

/*
 * CPL crossed between 3 and 0-2: swap in the other privilege's TLB set.
 * Entries are only ever filled at the privilege of their set, so neither
 * set can grant what a walk at its privilege would refuse. The linear block
 * cache checks the fetch TLB (exec.c), so it needs no flush here.
 */
void x86_paging_cpl_changed(struct x86_cpu *cpu)
{
	uint8_t user = cpu->cpl == 3;
	unsigned a, i;

	if (user == cpu->tlb_user)
		return;
	cpu->tlb_user = user;
	for (a = 0; a < X86_ACC_NR; a++)
		for (i = 0; i < X86_TLB_SIZE; i++) {
			struct x86_tlb_entry t = cpu->tlb[a][i];
			uint8_t f = cpu->tlb_flags[a][i];

			cpu->tlb[a][i] = cpu->tlb_other[a][i];
			cpu->tlb_flags[a][i] = cpu->tlb_other_flags[a][i];
			cpu->tlb_other[a][i] = t;
			cpu->tlb_other_flags[a][i] = f;
		}
}

static int pf(struct x86_cpu *cpu, uint64_t la, uint32_t err)
{
	cpu->exc_addr = la;
	return x86_raise(cpu, X86_EXC_PF, true, err);
}

/* Host pointer of a paging-structure entry (gpa comes from guest tables or
 * CR3; outside RAM is a machine-level error, not a guest fault). */
static void *entry_ptr(struct x86_cpu *cpu, uint64_t gpa, int *rc)
{
	uint64_t pfn = gpa >> 12;
	unsigned k = (unsigned)(pfn ^ (pfn >> 4) ^ (pfn >> 9)) & 15;
	uint8_t *page;

	if (cpu->ptc[k].host && cpu->ptc[k].pfn == pfn)
		return cpu->ptc[k].host + (gpa & 0xfff);
	page = cpu->mem.page ? cpu->mem.page(cpu->opaque, gpa & ~0xfffull, false) : NULL;
	if (page) {
		cpu->ptc[k].pfn = pfn;
		cpu->ptc[k].host = page;
	}
	if (!page) {
		*rc = x86_mem_error(cpu, gpa, 8);
		return NULL;
	}
	return page + (gpa & 0xfff);
}

/* Set bits in an entry; the page may hold decoded code (rare) and may be
 * read-only to the embedder (ROM page tables keep their bits clear). */
static void entry_set(struct x86_cpu *cpu, uint64_t gpa, bool wide, uint64_t bits)
{
	uint8_t *page = cpu->mem.page(cpu->opaque, gpa & ~0xfffull, true);

	if (!page)
		return;
	x86_cc_write_page(cpu, gpa >> 12);
	if (wide)
		__atomic_fetch_or((uint64_t *)(page + (gpa & 0xfff)), bits, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_or((uint32_t *)(page + (gpa & 0xfff)), (uint32_t)bits,
				  __ATOMIC_SEQ_CST);
}

int x86_translate(struct x86_cpu *cpu, uint64_t la, enum x86_access acc, uint64_t *pa,
		  unsigned *flags)
{
	bool lm = (cpu->efer & X86_EFER_LMA) != 0, pae = (cpu->cr4 & X86_CR4_PAE) != 0;
	bool nxe = pae && (cpu->efer & X86_EFER_NXE);
	bool write = acc == X86_ACC_WRITE, fetch = acc == X86_ACC_FETCH;
	bool user = cpu->cpl == 3 && !cpu->implicit_sv;
	uint64_t egpa[4], e = 0, table, size;
	uint64_t rw = X86_PTE_RW, us = X86_PTE_US, xd = 0;
	uint32_t err;
	unsigned n = 0, lvl, shift = 12;
	int rc = 0;

	*flags = 0;
	if (!x86_paging_on(cpu)) {
		*pa = lm ? la : (uint32_t)la;
		return 0;
	}
	if (!lm)
		la = (uint32_t)la;
	err = (write ? X86_PF_W : 0) | (user ? X86_PF_U : 0) |
	      (fetch && (nxe || (cpu->cr4 & X86_CR4_SMEP)) ? X86_PF_I : 0);

	if (!pae) {
		/* 32-bit paging: 4-byte entries, 4 MiB pages with CR4.PSE. */
		uint32_t *p, v;

		table = cpu->cr3 & 0xfffff000u;
		for (lvl = 2;; lvl--) {
			shift = lvl == 2 ? 22 : 12;
			egpa[n] = table + ((la >> shift) & 0x3ff) * 4;
			p = entry_ptr(cpu, egpa[n], &rc);
			if (!p)
				return rc;
			n++;
			v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
			e = v;
			if (!(v & X86_PTE_P))
				return pf(cpu, la, err);
			rw &= e;
			us &= e;
			if (lvl == 2 && (v & X86_PTE_PS) && (cpu->cr4 & X86_CR4_PSE)) {
				/* PSE-36: PDE bits 20:13 are physical bits 39:32;
				 * bit 21 is reserved (MAXPHYADDR 40). */
				if (v & (1u << 21))
					return pf(cpu, la, err | X86_PF_P | X86_PF_RSVD);
				size = 1ull << 22;
				*pa = (v & 0xffc00000u) | ((uint64_t)((v >> 13) & 0xff) << 32) |
				      (la & (size - 1));
				*flags |= X86_TLBF_2M;
				break;
			}
			if (lvl == 1) {
				size = 0x1000;
				*pa = (v & 0xfffff000u) | (la & 0xfff);
				break;
			}
			table = v & 0xfffff000u;
		}
	} else {
		uint64_t *p;
		unsigned top = lm ? 4 : 3;

		/* Entries are guest data: reserved bits are checked at each
		 * level, and a set one is #PF with RSVD (and P). */
		table = lm ? cpu->cr3 & ADDR_MASK : cpu->cr3 & 0xffffffe0u;
		for (lvl = top;; lvl--) {
			uint64_t rsvd = RSVD_HI | (nxe ? 0 : X86_PTE_XD);
			bool pdpte32 = !lm && lvl == 3;

			shift = 12 + 9 * (lvl - 1);
			egpa[n] = table + (pdpte32 ? ((la >> 30) & 3) : ((la >> shift) & 511)) * 8;
			p = entry_ptr(cpu, egpa[n], &rc);
			if (!p)
				return rc;
			n++;
			e = __atomic_load_n(p, __ATOMIC_ACQUIRE);
			if (!(e & X86_PTE_P))
				return pf(cpu, la, err);
			if (pdpte32)
				rsvd = RSVD_HI | X86_PTE_XD | 0x1e6; /* bits 2:1, 8:5 */
			else if (lvl == 4)
				rsvd |= X86_PTE_PS;
			else if (lvl == 3 && (e & X86_PTE_PS))
				rsvd |= 0x3fffe000ull; /* 1 GiB page: bits 29:13 */
			else if (lvl == 2 && (e & X86_PTE_PS))
				rsvd |= 0x1fe000ull; /* 2 MiB page: bits 20:13 */
			if (e & rsvd)
				return pf(cpu, la, err | X86_PF_P | X86_PF_RSVD);
			if (!pdpte32) {
				rw &= e;
				us &= e;
				if (nxe)
					xd |= e & X86_PTE_XD;
			}
			if (lvl == 1 || ((lvl == 2 || (lvl == 3 && lm)) && (e & X86_PTE_PS))) {
				size = 1ull << shift;
				*pa = (e & ADDR_MASK & ~(size - 1)) | (la & (size - 1));
				if (lvl == 2)
					*flags |= X86_TLBF_2M;
				else if (lvl == 3)
					*flags |= X86_TLBF_1G;
				break;
			}
			table = e & ADDR_MASK;
		}
	}

	/* Access rights, combined over all levels (SDM 4.6). */
	if (user) {
		if (!us || (write && !rw))
			return pf(cpu, la, err | X86_PF_P);
	} else {
		if (fetch && us && (cpu->cr4 & X86_CR4_SMEP))
			return pf(cpu, la, err | X86_PF_P);
		if (!fetch && us && (cpu->cr4 & X86_CR4_SMAP)) {
			if (cpu->implicit_sv || !(cpu->rflags & X86_AC))
				return pf(cpu, la, err | X86_PF_P);
			*flags |= X86_XLAT_NOCACHE; /* depends on AC */
		}
		if (write && !rw && (cpu->cr0 & X86_CR0_WP))
			return pf(cpu, la, err | X86_PF_P);
	}
	if (fetch && xd)
		return pf(cpu, la, err | X86_PF_P);

	/* Accessed on every level used, dirty on the final one for writes. */
	for (lvl = 0; lvl < n; lvl++) {
		uint64_t want = X86_PTE_A | (lvl + 1 == n && write ? X86_PTE_D : 0), cur;
		void *hp;

		if (pae && !lm && lvl == 0)
			continue; /* PAE PDPTEs have no accessed bit */
		hp = entry_ptr(cpu, egpa[lvl], &rc);
		if (!hp)
			return rc;
		cur = pae ? __atomic_load_n((uint64_t *)hp, __ATOMIC_RELAXED)
			  : __atomic_load_n((uint32_t *)hp, __ATOMIC_RELAXED);
		if ((cur & want) != want)
			entry_set(cpu, egpa[lvl], pae, want);
	}
	if ((e & X86_PTE_G) && (cpu->cr4 & X86_CR4_PGE))
		*flags |= X86_TLBF_GLOBAL;
	if (cpu->implicit_sv && cpu->cpl == 3)
		*flags |= X86_XLAT_NOCACHE;
	return 0;
}
