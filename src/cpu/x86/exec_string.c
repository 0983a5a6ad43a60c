/*
 * MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE, all sizes, DF.
 *
 * A REP instruction runs at most CHUNK iterations per execution and then
 * re-executes itself (RIP back at the instruction), so budgets, stop
 * requests and faults land between iterations with RCX/RSI/RDI exact.
 */
#include "cpu/x86/exec.h"

#define CHUNK 4096

enum { MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS };

static inline uint64_t areg(struct x86_cpu *cpu, unsigned r, unsigned as)
{
	return cpu->gpr[r] & x86_mask(as);
}

static inline void aset(struct x86_cpu *cpu, unsigned r, unsigned as, uint64_t v)
{
	x86_setreg(cpu, r, as, v);
}

/* One iteration; returns 0 or a stop code. *stop is set when REPE/REPNE end. */
static int one(struct x86_cpu *cpu, const struct x86_insn *in, unsigned kind, int64_t step)
{
	unsigned size = in->opsize, as = in->adsize;
	uint64_t si = areg(cpu, X86_RSI, as), di = areg(cpu, X86_RDI, as), a, b;
	uint32_t pv;
	int rc;

	switch (kind) {
	case MOVS:
		rc = x86_ld(cpu, in->seg, si, size, &a);
		if (!rc)
			rc = x86_st(cpu, X86_ES, di, size, a);
		if (rc)
			return rc;
		aset(cpu, X86_RSI, as, si + step);
		aset(cpu, X86_RDI, as, di + step);
		return 0;
	case CMPS:
		rc = x86_ld(cpu, in->seg, si, size, &a);
		if (!rc)
			rc = x86_ld(cpu, X86_ES, di, size, &b);
		if (rc)
			return rc;
		x86_lazy(cpu, X86_LF_SUB, size, a, b, a - b);
		aset(cpu, X86_RSI, as, si + step);
		aset(cpu, X86_RDI, as, di + step);
		return 0;
	case STOS:
		rc = x86_st(cpu, X86_ES, di, size, x86_getreg(cpu, X86_RAX, size));
		if (rc)
			return rc;
		aset(cpu, X86_RDI, as, di + step);
		return 0;
	case LODS:
		rc = x86_ld(cpu, in->seg, si, size, &a);
		if (rc)
			return rc;
		x86_setreg(cpu, X86_RAX, size, a);
		aset(cpu, X86_RSI, as, si + step);
		return 0;
	case SCAS:
		rc = x86_ld(cpu, X86_ES, di, size, &b);
		if (rc)
			return rc;
		a = x86_getreg(cpu, X86_RAX, size);
		x86_lazy(cpu, X86_LF_SUB, size, a, b, a - b);
		aset(cpu, X86_RDI, as, di + step);
		return 0;
	case INS:
		rc = x86_pio_in(cpu, (uint16_t)cpu->gpr[X86_RDX], size, &pv);
		if (!rc)
			rc = x86_st(cpu, X86_ES, di, size, pv);
		if (rc)
			return rc;
		aset(cpu, X86_RDI, as, di + step);
		return 0;
	default: /* OUTS */
		rc = x86_ld(cpu, in->seg, si, size, &a);
		if (!rc)
			rc = x86_pio_out(cpu, (uint16_t)cpu->gpr[X86_RDX], size, (uint32_t)a);
		if (rc)
			return rc;
		aset(cpu, X86_RSI, as, si + step);
		return 0;
	}
}

/*
 * Forward REP MOVS/STOS within one page of RAM on each side: straight on the
 * host pointers of TLB entries that the previous element filled (so code
 * pages, whose write entries never exist, always take the slow path and get
 * invalidated). Overlapping MOVS copies element by element, as the hardware
 * does. Returns the number of elements done (0: use the slow path).
 */
static uint64_t bulk(struct x86_cpu *cpu, const struct x86_insn *in, unsigned kind, uint64_t max)
{
	unsigned size = in->opsize, as = in->adsize;
	uint64_t di = areg(cpu, X86_RDI, as), si = areg(cpu, X86_RSI, as), dla, sla, n, i;
	const struct x86_tlb_entry *de, *se;
	uint8_t *d, *s = NULL;

	if (as == 2)
		return 0;
	if (cpu->mode != X86_MODE_LONG64) {
		/* Flat 32-bit segments only: no limit checks needed below 4 GiB. */
		if (cpu->mode != X86_MODE_PROT32 || cpu->seg[X86_ES].limit != 0xffffffffu ||
		    cpu->seg[X86_ES].base ||
		    (kind == MOVS && (cpu->seg[in->seg].limit != 0xffffffffu ||
				      cpu->seg[in->seg].base)))
			return 0;
		dla = di;
		sla = si;
	} else {
		dla = di;
		sla = in->seg >= X86_FS ? si + cpu->seg[in->seg].base : si;
	}
	de = &cpu->tlb[X86_ACC_WRITE][(dla >> 12) & (X86_TLB_SIZE - 1)];
	if (de->tag != (dla & ~0xfffull))
		return 0;
	n = (0x1000 - (dla & 0xfff)) / size;
	if (kind == MOVS) {
		se = &cpu->tlb[X86_ACC_READ][(sla >> 12) & (X86_TLB_SIZE - 1)];
		if (se->tag != (sla & ~0xfffull))
			return 0;
		if ((0x1000 - (sla & 0xfff)) / size < n)
			n = (0x1000 - (sla & 0xfff)) / size;
		s = (uint8_t *)(uintptr_t)(sla + se->addend);
	}
	if (n > max)
		n = max;
	/* 32-bit address size: stop short of wrapping at 4 GiB. */
	if (as == 4 && (di + n * size > 0x100000000ull || si + n * size > 0x100000000ull))
		return 0;
	if (!n)
		return 0;
	d = (uint8_t *)(uintptr_t)(dla + de->addend);
	if (kind == STOS) {
		uint64_t v = cpu->gpr[X86_RAX];

		if (size == 1)
			memset(d, (uint8_t)v, n);
		else
			for (i = 0; i < n; i++)
				memcpy(d + i * size, &v, size);
	} else {
		if (d < s + n * size && s < d + n * size)
			for (i = 0; i < n; i++)
				memmove(d + i * size, s + i * size, size);
		else
			memcpy(d, s, n * size);
		aset(cpu, X86_RSI, as, si + n * size);
	}
	aset(cpu, X86_RDI, as, di + n * size);
	return n;
}

static int h_string(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned kind = in->aux, as = in->adsize, i;
	int64_t step = (cpu->rflags & X86_DF) ? -(int64_t)in->opsize : in->opsize;
	bool cmp = kind == CMPS || kind == SCAS;
	uint64_t c;
	int rc;

	/* INS/OUTS: CPL > IOPL is #GP(0) (no TSS I/O bitmap in part 1). */
	if ((kind == INS || kind == OUTS) && cpu->mode != X86_MODE_REAL16 &&
	    cpu->cpl > ((cpu->rflags >> 12) & 3))
		return x86_gp0(cpu);
	if (!(in->pfx & (X86_P_REP | X86_P_REPNE)))
		return one(cpu, in, kind, step);
	for (i = 0; i < CHUNK; i++) {
		c = areg(cpu, X86_RCX, as);
		if (c == 0)
			return 0;
		if ((kind == MOVS || kind == STOS) && step > 0 && i) {
			uint64_t n = bulk(cpu, in, kind, c);

			if (n) {
				aset(cpu, X86_RCX, as, c - n);
				continue;
			}
		}
		rc = one(cpu, in, kind, step);
		if (rc)
			return rc;
		aset(cpu, X86_RCX, as, c - 1);
		if (cmp) {
			bool zf = x86_cond(cpu, 4);

			/* F3 = REPE (stop when ZF = 0), F2 = REPNE (stop when ZF = 1);
			 * with both, the last one decoded wins. */
			if (in->mpfx == X86_MP_F3 ? !zf : zf)
				return 0;
		}
	}
	if (areg(cpu, X86_RCX, as) == 0)
		return 0;
	cpu->rip -= in->len;
	return X86_CONT_REEXEC;
}

#define A X86_MP_ANY
#define S(op, k) { 0, op, A, -1, k, X86_F_BYTE, h_string }, { 0, (op) + 1, A, -1, k, 0, h_string }

static const struct x86_opdesc ops[] = {
	S(0xa4, MOVS), S(0xa6, CMPS), S(0xaa, STOS), S(0xac, LODS), S(0xae, SCAS),
	/* INS/OUTS: REX.W does not make a 64-bit port access. */
	{ 0, 0x6c, A, -1, INS, X86_F_BYTE, h_string },
	{ 0, 0x6d, A, -1, INS, X86_F_OS32, h_string },
	{ 0, 0x6e, A, -1, OUTS, X86_F_BYTE, h_string },
	{ 0, 0x6f, A, -1, OUTS, X86_F_OS32, h_string },
};

const struct x86_optable x86_tab_string = { ops, sizeof(ops) / sizeof(ops[0]) };
