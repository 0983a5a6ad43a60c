/*
 * Linear -> physical translation through a software TLB, guest memory
 * access slow paths (MMIO, page crossing, code pages), port I/O.
 *
 * Part 1 has no paging: linear == physical. The TLB is still the only way
 * memory is reached, so part 2 only adds the page walk in translate().
 */
#include "cpu/x86/system.h"

void x86_flush_tlb(struct x86_cpu *cpu)
{
	unsigned a, i;

	for (a = 0; a < X86_ACC_NR; a++)
		for (i = 0; i < X86_TLB_SIZE; i++)
			cpu->tlb[a][i].tag = X86_TLB_INVALID;
	x86_paging_forget(cpu); /* paging.c: the other TLB set, page-table pages */
}

int x86_mem_error(struct x86_cpu *cpu, uint64_t addr, unsigned size)
{
	cpu->fault_addr = addr;
	cpu->fault_size = size;
	return X86_STOP_MEM_ERROR;
}

uint8_t *x86_tlb_fill(struct x86_cpu *cpu, uint64_t la, enum x86_access acc, uint64_t *gpa)
{
	uint64_t pa, pfn;
	uint8_t *page;
	struct x86_tlb_entry *e;
	unsigned xf;
	int rc = x86_translate(cpu, la, acc, &pa, &xf); /* paging.c */

	if (rc) {
		*gpa = rc == X86_STOP_EXCEPTION ? X86_GPA_FAULT : X86_GPA_MEMERR;
		return NULL;
	}
	pfn = pa >> 12;
	*gpa = pa;
	if (acc == X86_ACC_WRITE)
		x86_cc_write_page(cpu, pfn);
	page = cpu->mem.page ? cpu->mem.page(cpu->opaque, pa & ~0xfffull, acc == X86_ACC_WRITE)
			     : NULL;
	if (!page)
		return NULL;
	if (xf & X86_XLAT_NOCACHE)
		return page + (pa & 0xfff);
	cpu->tlb_flags[acc][(la >> 12) & (X86_TLB_SIZE - 1)] = (uint8_t)xf;
	e = &cpu->tlb[acc][(la >> 12) & (X86_TLB_SIZE - 1)];
	/* A write entry for a code page would bypass invalidation: not cached.
	 * x86_cc_write_page() just removed the code, so this is always safe
	 * here; the entry is dropped again when the page becomes code. */
	e->tag = la & ~0xfffull;
	e->addend = (uintptr_t)page - (la & ~0xfffull);
	return page + (pa & 0xfff);
}

static int mmio(struct x86_cpu *cpu, uint64_t pa, void *buf, unsigned len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		/* Naturally sized pieces: 8, 4, 2, 1 as alignment allows. */
		unsigned n = 8;
		int r;

		while (n > len || (pa & (n - 1)))
			n >>= 1;
		if (write)
			r = cpu->mem.mmio_write ? cpu->mem.mmio_write(cpu->opaque, pa, p, n) : -1;
		else
			r = cpu->mem.mmio_read ? cpu->mem.mmio_read(cpu->opaque, pa, p, n) : -1;
		if (r)
			return x86_mem_error(cpu, pa, n);
		pa += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int access_page(struct x86_cpu *cpu, uint64_t la, void *buf, unsigned len, bool write)
{
	uint64_t pa;
	uint8_t *h = x86_tlb_fill(cpu, la, write ? X86_ACC_WRITE : X86_ACC_READ, &pa);

	if (!h && x86_gpa_bad(pa))
		return x86_gpa_rc(pa);
	if (!h)
		return mmio(cpu, pa, buf, len, write);
	if (write)
		memcpy(h, buf, len);
	else
		memcpy(buf, h, len);
	return 0;
}

/* 64-bit mode: addresses must be canonical (48-bit), else #GP(0). The TLB
 * never holds a non-canonical page, so only the slow paths check. Part 1
 * reports #GP also for stack accesses, where the SDM says #SS(0). */
static bool noncanonical(const struct x86_cpu *cpu, uint64_t la, unsigned len)
{
	uint64_t end = la + len - 1;

	return cpu->mode == X86_MODE_LONG64 &&
	       ((uint64_t)((int64_t)(la << 16) >> 16) != la ||
		(uint64_t)((int64_t)(end << 16) >> 16) != end);
}

int x86_read_slow(struct x86_cpu *cpu, uint64_t la, void *buf, unsigned len)
{
	unsigned first = 0x1000 - (la & 0xfff);
	int r;

	if (noncanonical(cpu, la, len))
		return x86_gp0(cpu);

	if (len <= first)
		return access_page(cpu, la, buf, len, false);
	r = access_page(cpu, la, buf, first, false);
	if (r)
		return r;
	return access_page(cpu, la + first, (uint8_t *)buf + first, len - first, false);
}

int x86_write_slow(struct x86_cpu *cpu, uint64_t la, const void *buf, unsigned len)
{
	unsigned first = 0x1000 - (la & 0xfff);
	uint64_t pa1, pa2;
	uint8_t *h1, *h2;
	int r;

	if (noncanonical(cpu, la, len))
		return x86_gp0(cpu);
	if (len <= first)
		return access_page(cpu, la, (void *)buf, len, true);
	/*
	 * A write crossing a page: look both pages up first and do the MMIO
	 * part(s) before touching RAM, so a failing MMIO access (the only
	 * fault in part 1; part 2 adds #PF here) leaves RAM unchanged.
	 */
	h1 = x86_tlb_fill(cpu, la, X86_ACC_WRITE, &pa1);
	if (!h1 && x86_gpa_bad(pa1))
		return x86_gpa_rc(pa1);
	h2 = x86_tlb_fill(cpu, la + first, X86_ACC_WRITE, &pa2);
	if (!h2 && x86_gpa_bad(pa2))
		return x86_gpa_rc(pa2);
	if (!h1 && (r = mmio(cpu, pa1, (void *)buf, first, true)))
		return r;
	if (!h2 && (r = mmio(cpu, pa2, (uint8_t *)buf + first, len - first, true)))
		return r;
	if (h1)
		memcpy(h1, buf, first);
	if (h2)
		memcpy(h2, (const uint8_t *)buf + first, len - first);
	return 0;
}

void *x86_host_ptr_rw(struct x86_cpu *cpu, uint64_t la, unsigned len, int *err)
{
	uint64_t pa;
	uint8_t *h;

	*err = 0;
	if ((la & (len - 1)) || (la & 0xfff) + len > 0x1000 || noncanonical(cpu, la, len))
		return NULL; /* the plain path reports the fault */
	h = x86_tlb_fill(cpu, la, X86_ACC_WRITE, &pa);
	return h;
}

int x86_seg_check(struct x86_cpu *cpu, unsigned seg, uint64_t off, unsigned len,
		  uint64_t *la)
{
	const struct x86_seg *s = &cpu->seg[seg];

	if (cpu->mode == X86_MODE_LONG64) {
		*la = seg >= X86_FS ? off + s->base : off;
		return 0;
	}
	/* off and len come from the guest: the whole access must be inside the
	 * limit (expand-down segments are not modelled in part 1). */
	if (off + len - 1 > s->limit) {
		if (seg == X86_SS)
			return x86_raise(cpu, X86_EXC_SS, true, 0);
		return x86_gp0(cpu);
	}
	*la = (uint32_t)(s->base + off);
	return 0;
}

int x86_pio_in(struct x86_cpu *cpu, uint16_t port, unsigned size, uint32_t *v)
{
	*v = 0;
	if (!cpu->mem.pio_in || cpu->mem.pio_in(cpu->opaque, port, v, size))
		return x86_mem_error(cpu, port, size);
	return 0;
}

int x86_pio_out(struct x86_cpu *cpu, uint16_t port, unsigned size, uint32_t v)
{
	if (!cpu->mem.pio_out || cpu->mem.pio_out(cpu->opaque, port, &v, size))
		return x86_mem_error(cpu, port, size);
	return 0;
}

int x86_rmw_read(struct x86_cpu *cpu, const struct x86_insn *in, struct x86_rmw *r,
		 uint64_t *v)
{
	unsigned size = in->opsize;
	int rc;

	r->host = NULL;
	if (in->mod == 3) {
		*v = x86_getreg(cpu, in->rm, size);
		return 0;
	}
	rc = x86_linear(cpu, in->seg, x86_ea(cpu, in), size, &r->la);
	if (rc)
		return rc;
	if (in->pfx & X86_P_LOCK) {
		r->host = x86_host_ptr_rw(cpu, r->la, size, &rc);
		if (r->host) {
			switch (size) {
			case 1: *v = __atomic_load_n((uint8_t *)r->host, __ATOMIC_SEQ_CST); break;
			case 2: *v = __atomic_load_n((uint16_t *)r->host, __ATOMIC_SEQ_CST); break;
			case 4: *v = __atomic_load_n((uint32_t *)r->host, __ATOMIC_SEQ_CST); break;
			default: *v = __atomic_load_n((uint64_t *)r->host, __ATOMIC_SEQ_CST); break;
			}
			return 0;
		}
	}
	*v = 0;
	return x86_ss_fault(cpu, in->seg, x86_read_lin(cpu, r->la, v, size));
}

int x86_rmw_write(struct x86_cpu *cpu, const struct x86_insn *in, struct x86_rmw *r,
		  uint64_t old, uint64_t v)
{
	bool ok;

	if (in->mod == 3) {
		x86_setreg(cpu, in->rm, in->opsize, v);
		return 0;
	}
	if (!r->host)
		return x86_ss_fault(cpu, in->seg, x86_write_lin(cpu, r->la, &v, in->opsize));
	switch (in->opsize) {
	case 1: {
		uint8_t o = old;
		ok = __atomic_compare_exchange_n((uint8_t *)r->host, &o, (uint8_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	}
	case 2: {
		uint16_t o = old;
		ok = __atomic_compare_exchange_n((uint16_t *)r->host, &o, (uint16_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	}
	case 4: {
		uint32_t o = old;
		ok = __atomic_compare_exchange_n((uint32_t *)r->host, &o, (uint32_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	}
	default: {
		uint64_t o = old;
		ok = __atomic_compare_exchange_n((uint64_t *)r->host, &o, v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	}
	}
	return ok ? 0 : X86_RMW_RETRY;
}
