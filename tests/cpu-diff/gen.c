/*
 * Case generation: random but biased input state (interesting integers,
 * floats, x87 values, MXCSR and FCW settings) and an assembler that turns a
 * template into bytes with random prefixes, registers, memory forms and
 * immediates.
 *
 * Single cases may point base/index registers at the data page. Sequences
 * keep RSP, RBP, RSI, RDI and RBX pointing into the stack and data pages and
 * use only absolute and RIP-relative memory operands, so a unit's memory
 * operand does not depend on what earlier units did to the registers.
 */
#include <string.h>

#include "cpudiff.h"

void cd_rng_seed(struct cd_rng *r, uint64_t seed)
{
	/* splitmix64 to spread the seed over the xorshift128+ state */
	for (int i = 0; i < 2; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		r->s[i] = z ^ (z >> 31);
	}
	if (!r->s[0] && !r->s[1])
		r->s[0] = 1;
}

uint64_t cd_rng_next(struct cd_rng *r)
{
	uint64_t a = r->s[0], b = r->s[1];

	r->s[0] = b;
	a ^= a << 23;
	r->s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return r->s[1] + b;
}

static void fill_state(struct cd_rng *r, struct cd_case *c)
{
	memset(c->units, 0, sizeof(c->units));
	c->code_len = 0;
	c->nunits = 0;
	for (int i = 0; i < 16; i++)
		c->in.gpr[i] = cd_interesting64(r);
	c->in.rip = CD_TEST_ADDR;
	/* User-settable flags only: AC would arm alignment checks, TF would trap. */
	c->in.rflags = 0x202 | (cd_rng_next(r) & (CD_STATUS_FLAGS | CD_DF));
	if (cd_rng_below(r, 4))
		c->in.rflags &= ~(uint64_t)CD_DF; /* mostly the ABI's DF=0 */
	cd_random_fx(r, c->in.fx);
	cd_fill_page(r, c->data, CD_DATA_SIZE);
	cd_fill_page(r, c->stack, CD_STACK_SIZE);
}

/* ---- the assembler ---- */

struct enc {
	uint8_t b[32];
	unsigned n;
	bool seq;
	uint32_t pinned; /* GPRs whose value this case's set-up fixed */
	uint32_t avoid;  /* GPRs not to pick as explicit operands */
};

static void b8(struct enc *e, uint8_t v)
{
	if (e->n < sizeof(e->b))
		e->b[e->n++] = v;
}

static void bn(struct enc *e, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b8(e, (uint8_t)(v >> (8 * i)));
}

#define SEQ_PINNED ((1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7))

static unsigned pick_gpr(struct cd_rng *r, struct enc *e)
{
	for (int tries = 0; tries < 64; tries++) {
		unsigned g = (unsigned)cd_rng_below(r, 16);

		if (!(e->avoid & (1u << g)))
			return g;
	}
	return 0;
}

static void set_gpr(struct cd_case *c, struct enc *e, unsigned g, uint64_t v)
{
	c->in.gpr[g] = v;
	e->pinned |= 1u << g;
	e->avoid |= 1u << g;
}

static uint64_t imm_value(struct cd_rng *r, unsigned bytes)
{
	uint64_t v = cd_interesting64(r);

	if (bytes == 1 && cd_rng_below(r, 2))
		v = (uint64_t)(int64_t)(int8_t)(cd_rng_below(r, 2) ? 0x7f + cd_rng_below(r, 3) : cd_rng_next(r));
	return v;
}

/* Choose where a memory operand points: an offset into the data page. */
static uint32_t mem_offset(struct cd_rng *r, uint64_t f)
{
	uint32_t span = (f & T_BIG) ? 512 : 16;
	uint32_t align = (f & (T_A16 | T_BIG)) ? 16 : 1;
	uint32_t off = (uint32_t)cd_rng_below(r, CD_DATA_SIZE - span) & ~(align - 1);

	if (align == 1 && cd_rng_below(r, 2))
		off &= ~7u;
	if (cd_rng_below(r, 32) == 0)
		off += 1 + (uint32_t)cd_rng_below(r, 15); /* misaligned: #GP for aligned forms */
	if (cd_rng_below(r, 64) == 0)
		off = CD_DATA_SIZE - 1 - (uint32_t)cd_rng_below(r, 8); /* runs off the page */
	return off;
}

struct modrm_out {
	uint8_t modrm, sib;
	bool has_sib, riprel, a32;
	int disp_size;
	uint32_t disp;
	uint64_t target;
	uint8_t rex_xb;
};

static void mem_operand(struct cd_rng *r, struct cd_case *c, struct enc *e, uint64_t f,
			unsigned reg, struct modrm_out *m)
{
	uint64_t target = CD_DATA_BASE + mem_offset(r, f);
	unsigned form = e->seq ? (unsigned)cd_rng_below(r, 2) : (unsigned)cd_rng_below(r, 8);

	memset(m, 0, sizeof(*m));
	m->target = target;
	if (f & T_FXIMG)
		cd_random_fx(r, c->data + (target - CD_DATA_BASE));
	if ((f & T_MXCSRM) && target + 4 <= CD_DATA_BASE + CD_DATA_SIZE) {
		uint32_t v = cd_random_mxcsr(r);

		/* a reserved bit: #GP; not bit 17, AMD's MM mask, which this host has */
		if (cd_rng_below(r, 16) == 0)
			v |= 1u << (18 + cd_rng_below(r, 14));
		memcpy(c->data + (target - CD_DATA_BASE), &v, 4);
	}
	switch (form) {
	case 0: /* [disp32] through SIB with no base and no index */
		m->modrm = (uint8_t)((reg & 7) << 3 | 4);
		m->has_sib = true;
		m->sib = 0x25;
		m->disp_size = 4;
		m->disp = (uint32_t)target;
		return;
	case 1: /* [rip + disp32], patched once the length is known */
		m->modrm = (uint8_t)((reg & 7) << 3 | 5);
		m->riprel = true;
		m->disp_size = 4;
		return;
	default:
		break;
	}
	{
		unsigned base = pick_gpr(r, e), index = 4;
		uint64_t ival = 0, scale = 1;
		int32_t disp = 0;
		unsigned mod;

		e->avoid |= 1u << base;
		if (form >= 5) {
			do
				index = pick_gpr(r, e);
			while (index == 4);
			scale = 1ull << cd_rng_below(r, 4);
			ival = (uint64_t)(int64_t)(cd_rng_below(r, 64) - 32);
			set_gpr(c, e, index, ival);
		}
		if (form == 3 || form == 5 || form == 7)
			disp = (int8_t)cd_rng_next(r);
		else if (form == 4)
			disp = (int32_t)(cd_rng_next(r) % 0x20000) - 0x10000;
		mod = (form == 3 || form == 5 || form == 7) ? 1 : (form == 4) ? 2 : 0;
		if (mod == 0 && (base & 7) == 5)
			mod = 1; /* rbp/r13 with mod 0 would mean disp32 or RIP */
		if (form == 6) {
			/* index*scale + disp32, no base */
			m->modrm = (uint8_t)((reg & 7) << 3 | 4);
			m->has_sib = true;
			m->sib = (uint8_t)(cd_rng_below(r, 4) << 6 | (index & 7) << 3 | 5);
			scale = 1ull << (m->sib >> 6);
			m->disp_size = 4;
			m->disp = (uint32_t)(target - ival * scale);
			m->rex_xb = (uint8_t)((index >> 3) << 1);
			e->avoid &= ~(1u << base);
			return;
		}
		m->a32 = form == 7;
		m->disp_size = mod == 1 ? 1 : mod == 2 ? 4 : 0;
		m->disp = (uint32_t)disp;
		if (index != 4 || (base & 7) == 4) {
			m->modrm = (uint8_t)(mod << 6 | (reg & 7) << 3 | 4);
			m->has_sib = true;
			m->sib = (uint8_t)((scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0) << 6 |
					   (index & 7) << 3 | (base & 7));
		} else {
			m->modrm = (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7));
		}
		m->rex_xb = (uint8_t)((index >> 3) << 1 | (base >> 3));
		{
			uint64_t bv = target - (uint64_t)(int64_t)disp - ival * scale;

			if (m->a32)
				bv = (bv & 0xffffffffull) | (cd_rng_next(r) << 32);
			else if (cd_rng_below(r, 64) == 0)
				bv ^= 1ull << 62; /* non-canonical: #GP(0) (#SS(0) with RSP/RBP) */
			set_gpr(c, e, base, bv);
		}
	}
}

static uint16_t cc_reads(unsigned cc)
{
	static const uint16_t m[8] = { CD_OF, CD_CF, CD_ZF, CD_CF | CD_ZF, CD_SF, CD_PF,
				       CD_SF | CD_OF, CD_SF | CD_OF | CD_ZF };
	return m[(cc >> 1) & 7];
}

static uint16_t template_reads(const struct cd_template *t, unsigned cc)
{
	if (t->flags & T_CC)
		return cc_reads(cc);
	if (!strncmp(t->name, "adc", 3) || !strncmp(t->name, "sbb", 3) ||
	    !strncmp(t->name, "rc", 2) || !strcmp(t->name, "cmc") || !strcmp(t->name, "adcx"))
		return CD_CF;
	if (!strncmp(t->name, "adox", 4))
		return CD_OF;
	if (!strncmp(t->name, "pushf", 5) || !strcmp(t->name, "lahf"))
		return CD_STATUS_FLAGS;
	if (!strncmp(t->name, "loop", 4))
		return CD_ZF;
	if (!strcmp(t->family, "fcmov"))
		return CD_CF | CD_ZF | CD_PF;
	return 0;
}

static bool is_lockable_family(const struct cd_template *t)
{
	static const char *const fam[] = { "alu", "incdec", "negnot", "xchg", "cmpxchg", "xadd", "bt" };

	for (unsigned i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
		if (!strcmp(t->family, fam[i]))
			return true;
	return false;
}

bool cd_emit(struct cd_rng *r, unsigned ti, struct cd_case *c, bool in_seq)
{
	const struct cd_template *t = &cd_templates[ti];
	uint64_t f = t->flags;
	struct enc e = { .seq = in_seq };
	struct cd_unit *u;
	struct modrm_out m = { 0 };
	unsigned opsize = 32, reg = 0, rm = 0, cc = 0, imm_bytes = 0, modrm_at = 0;
	bool rexw = false, mem = false, force_rex = false, pfx66 = false;
	uint8_t rex = 0;
	uint8_t op = t->op;
	int ext = t->ext;
	unsigned disp_at = 0;

	if (c->nunits >= CD_UNITS_MAX)
		return false;
	u = &c->units[c->nunits];
	memset(u, 0, sizeof(*u));
	u->tmpl = (uint16_t)ti;
	u->count_reg = -1;
	u->count_imm = -1;
	if (in_seq)
		e.avoid = SEQ_PINNED;
	else
		e.avoid = 0;

	/* Implicit registers first, so explicit operands avoid them. */
	if (f & T_STR) {
		e.avoid |= (1u << 1) | (1u << 6) | (1u << 7);
		if (!in_seq) {
			set_gpr(c, &e, 6, CD_DATA_BASE + 0x400 + cd_rng_below(r, 0x800));
			set_gpr(c, &e, 7, CD_DATA_BASE + 0x400 + cd_rng_below(r, 0x800));
			set_gpr(c, &e, 1, cd_rng_below(r, 4) ? cd_rng_below(r, 24) : cd_interesting64(r) & 0x1ff);
		}
	}
	if ((f & T_STK) && !in_seq) {
		set_gpr(c, &e, 4, CD_STACK_BASE + 0x800 + (cd_rng_below(r, 0x400) & ~7u) - 0x200 +
					  (cd_rng_below(r, 16) == 0 ? 4 : 0));
		set_gpr(c, &e, 5, CD_STACK_BASE + 0x800 + (cd_rng_below(r, 0x400) & ~7u) - 0x200);
		if (cd_rng_below(r, 32) == 0)
			c->in.gpr[cd_rng_below(r, 2) ? 4 : 5] ^= 1ull << 61; /* non-canonical: #SS(0) */
	}
	if (op == 0x9d && t->map == 0) {
		/* POPF: a value without AC (alignment checks) and TF (single-step). */
		uint64_t fl = 0x2 | (cd_rng_next(r) & (CD_STATUS_FLAGS | CD_DF | 0x4000 | 0x200000));
		uint64_t sp = in_seq ? CD_STACK_BASE + 0x800 : c->in.gpr[4];

		if (sp >= CD_STACK_BASE && sp + 8 <= CD_STACK_BASE + CD_STACK_SIZE)
			memcpy(c->stack + (sp - CD_STACK_BASE), &fl, 8);
	}
	if (f & T_FIXED) {
		for (unsigned i = 0; i < t->nbytes; i++)
			b8(&e, t->bytes[i]);
		u->opsize = 64;
		u->reads = template_reads(t, 0);
		goto place;
	}
	if ((f & T_XLAT) && !in_seq)
		set_gpr(c, &e, 3, CD_DATA_BASE + cd_rng_below(r, 0xf00));
	if ((f & T_MASKMOV) && !in_seq)
		set_gpr(c, &e, 7, CD_DATA_BASE + cd_rng_below(r, 0xff0));
	if (f & T_MASKMOV)
		e.avoid |= 1u << 7;
	if (f & T_SMALLCX) {
		e.avoid |= 1u << 1;
		if (!in_seq)
			set_gpr(c, &e, 1, cd_rng_below(r, 3) ? cd_rng_below(r, 4) : cd_interesting64(r));
	}
	if (f & T_CL) {
		e.avoid |= 1u << 1;
		u->count_reg = 1;
		if (!in_seq)
			set_gpr(c, &e, 1, (c->in.gpr[1] & ~0xffull) | cd_shift_count(r));
	}

	/* Operand size. */
	if (f & T_W8) {
		opsize = 8;
	} else if (f & T_SZ) {
		unsigned k = (unsigned)cd_rng_below(r, 3);

		if ((f & T_NO16) && k == 0)
			k = 1 + (unsigned)cd_rng_below(r, 2);
		if (f & T_NO64)
			k = k == 0 ? 0 : 2; /* default 64-bit: 16 or 64 only */
		opsize = k == 0 ? 16 : k == 1 ? 32 : 64;
		pfx66 = opsize == 16;
		rexw = opsize == 64 && !(f & T_NO64);
	}
	if (f & T_REXW)
		rexw = true;
	if ((f & T_OPTW) && cd_rng_below(r, 2))
		rexw = true;
	if (rexw && !(f & T_SZ))
		opsize = 64;
	/* SHLD/SHRD of 16 bits with a count above 16 leave the result undefined
	 * (SDM Vol 2, SHLD/SHRD), so such counts are not generated. */
	if (t->undef == UF_SHXD && opsize == 16 && (f & T_CL) && in_seq)
		opsize = 32, pfx66 = false;
	if (t->undef == UF_SHXD && opsize == 16 && (f & T_CL) && (c->in.gpr[1] & 31) > 16)
		c->in.gpr[1] &= ~0x10ull;
	u->opsize = (uint8_t)opsize;

	if (f & T_CC) {
		cc = (unsigned)cd_rng_below(r, 16);
		op = (uint8_t)(op + cc);
	}
	if (f & T_EXT03)
		ext = (int)cd_rng_below(r, 4);
	if (f & T_EXT05)
		ext = (int)cd_rng_below(r, 6);
	u->reads = template_reads(t, cc);

	/* Legacy prefixes. */
	if (!in_seq && (f & T_MODRM) && cd_rng_below(r, 8) == 0 && is_lockable_family(t))
		b8(&e, 0xf0); /* LOCK: legal only with a memory destination, else #UD */
	if (!in_seq && cd_rng_below(r, 32) == 0)
		b8(&e, (uint8_t)(0x26 + 8 * cd_rng_below(r, 4))); /* ES/CS/SS/DS: ignored in 64-bit */
	if (!in_seq && (f & T_MODRM) && cd_rng_below(r, 48) == 0)
		b8(&e, 0x65); /* GS: base 0 in the child and in the engine */
	/* A stray REP on a one-byte-map opcode is ignored. Not on 0F-map ones:
	 * F3 0F AE /0-/3 with a register is WRFSBASE/WRGSBASE, which would
	 * replace the child's TLS base. */
	if (!in_seq && !t->pfx && t->map == 0 && !(f & (T_XMM | T_MMX | T_X87 | T_REP)) &&
	    cd_rng_below(r, 32) == 0) {
		uint8_t rep = cd_rng_below(r, 2) ? 0xf2 : 0xf3;

		/* Not compared: F3 E0 (LOOPNE) and F2 E1 (LOOPE). Both manuals
		 * leave REP on non-string instructions undefined (SDM Vol 2
		 * "REP/REPE/REPZ/REPNE/REPNZ": reserved, may be unpredictable;
		 * APM Vol 3 1.2.6 "Instructions that Cannot Use Repeat Prefixes").
		 * This AMD host lets the prefix replace the ZF condition (F3:
		 * branch while ZF=1, F2: while ZF=0); the engine ignores it.
		 * The agreeing pairs F2 E0 and F3 E1 are still generated. */
		if ((op == 0xe0 && rep == 0xf3) || (op == 0xe1 && rep == 0xf2))
			rep = rep == 0xf3 ? 0xf2 : 0xf3;
		b8(&e, rep);
	}
	if (pfx66)
		b8(&e, 0x66);
	if (f & T_REP) {
		unsigned k = (unsigned)cd_rng_below(r, 3);

		if (k)
			b8(&e, k == 1 ? 0xf3 : 0xf2);
	}
	if (t->pfx)
		b8(&e, t->pfx);

	/* Registers and ModRM. */
	if (f & T_MODRM) {
		bool reg_gpr, rm_gpr;

		reg_gpr = !(f & (T_XMM | T_MMX | T_X87)) || (f & T_GPRREG);
		rm_gpr = !(f & (T_XMM | T_MMX | T_X87)) || (f & T_GPRRM);
		if (ext >= 0)
			reg = (unsigned)ext;
		else if (reg_gpr)
			reg = pick_gpr(r, &e);
		else if ((f & T_MMX) && !(f & T_RMMMX))
			reg = (unsigned)cd_rng_below(r, 8);
		else
			reg = (unsigned)cd_rng_below(r, 16);
		mem = (f & T_MEM) || (!(f & T_REG) && cd_rng_below(r, 2));
		if (t->undef == UF_BT && ext < 0 && mem)
			e.avoid |= 1u << reg; /* reg is the bit offset, set below */
		if (mem && (f & T_A16) && (f & T_MMX) && !(f & T_RMXMM))
			f &= ~T_A16; /* MMX memory operands have no alignment rule */
		if (mem) {
			mem_operand(r, c, &e, f, reg, &m);
			u->mem_target = m.target;
			if (m.a32)
				b8(&e, 0x67), memmove(e.b + 1, e.b, e.n - 1), e.b[0] = 0x67;
		} else {
			if (f & T_X87)
				rm = (unsigned)cd_rng_below(r, 8);
			else if (rm_gpr)
				rm = pick_gpr(r, &e);
			else if ((f & T_MMX) ? !(f & T_RMXMM) : (f & T_RMMMX))
				rm = (unsigned)cd_rng_below(r, 8);
			else
				rm = (unsigned)cd_rng_below(r, 16);
			m.modrm = (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7));
			m.rex_xb = (uint8_t)(rm >> 3);
		}
		if (t->undef == UF_BT && ext < 0 && mem && !in_seq)
			/* a bit offset register also moves the address: keep it near */
			set_gpr(c, &e, reg, (uint64_t)(int64_t)(cd_rng_below(r, 4096) - 2048));
		if (opsize == 8 && ((reg_gpr && reg >= 4) || (!mem && rm_gpr && rm >= 4)) &&
		    cd_rng_below(r, 2))
			force_rex = true; /* SPL..DIL instead of AH..BH */
		rex = (uint8_t)(((reg >> 3) & 1) << 2 | m.rex_xb);
		if (f & T_MMX && !(f & T_GPRREG))
			rex &= (uint8_t)~4u;
		if (f & T_X87)
			rex = m.rex_xb;
	} else if (f & T_OPREG) {
		reg = pick_gpr(r, &e);
		op = (uint8_t)(op + (reg & 7));
		rex = (uint8_t)(reg >> 3);
		if (opsize == 8 && reg >= 4 && cd_rng_below(r, 2))
			force_rex = true;
	}
	if (rexw)
		rex |= 8;
	if (rex || force_rex || (!in_seq && cd_rng_below(r, 64) == 0 && opsize != 8))
		b8(&e, (uint8_t)(0x40 | rex));

	/* Opcode. */
	if (t->map >= 1)
		b8(&e, 0x0f);
	if (t->map == 2)
		b8(&e, 0x38);
	if (t->map == 3)
		b8(&e, 0x3a);
	b8(&e, op);
	if (f & T_MODRM) {
		modrm_at = e.n;
		b8(&e, m.modrm);
		if (m.has_sib)
			b8(&e, m.sib);
		disp_at = e.n;
		bn(&e, m.disp, (unsigned)m.disp_size);
	}
	(void)modrm_at;

	/* Immediates. */
	if (f & T_ENTER) {
		bn(&e, cd_rng_below(r, 8) * 8 + (cd_rng_below(r, 8) == 0), 2);
		b8(&e, (uint8_t)(cd_rng_below(r, 3) ? 0 : cd_rng_below(r, 4)));
	} else if (f & T_IMM8) {
		uint8_t v = (uint8_t)imm_value(r, 1);

		if (f & T_CNT) {
			v = cd_shift_count(r);
			/* see the SHLD/SHRD note above */
			if (t->undef == UF_SHXD && opsize == 16 && (v & 31) > 16)
				v &= 15;
			u->count_imm = v;
		}
		if (f & T_IMM3)
			v &= 7;
		b8(&e, v);
		imm_bytes = 1;
	} else if (f & T_IMM16) {
		bn(&e, imm_value(r, 2), 2);
		imm_bytes = 2;
	} else if (f & (T_IMMZ | T_IMM64)) {
		imm_bytes = opsize == 16 ? 2 : ((f & T_IMM64) && opsize == 64) ? 8 : 4;
		bn(&e, imm_value(r, imm_bytes), imm_bytes);
	}
	(void)imm_bytes;
	if (f & T_MOFFS) {
		/* absolute address, 64-bit unless 67 makes it 32 (only singles) */
		bool a32 = !in_seq && cd_rng_below(r, 4) == 0;
		uint64_t a = CD_DATA_BASE + mem_offset(r, f);

		if (a32) {
			memmove(e.b + 1, e.b, e.n);
			e.b[0] = 0x67;
			e.n++;
			bn(&e, a, 4);
		} else {
			bn(&e, a, 8);
		}
		u->mem_target = a;
	}
	if (f & T_REL8) {
		b8(&e, 3);
	} else if (f & T_REL32) {
		bn(&e, 3, 4);
	}
	if (f & (T_REL8 | T_REL32)) {
		b8(&e, 0x48); /* inc rax: executed only when the branch falls through */
		b8(&e, 0xff);
		b8(&e, 0xc0);
	}
	if (m.riprel) {
		/* RIP-relative: the displacement counts from the end of the instruction */
		uint32_t d = (uint32_t)(m.target - (CD_TEST_ADDR + c->code_len + e.n));

		memcpy(e.b + disp_at, &d, 4);
	}

place:
	if (e.n >= sizeof(e.b) || c->code_len + e.n > CD_CODE_MAX - 8)
		return false;
	u->off = (uint8_t)c->code_len;
	u->len = (uint8_t)e.n;
	memcpy(c->code + c->code_len, e.b, e.n);
	c->code_len += e.n;
	c->nunits++;
	return true;
}

void cd_gen_single(struct cd_rng *r, unsigned tmpl, struct cd_case *c)
{
	const struct cd_template *t = &cd_templates[tmpl];

	fill_state(r, c);
	if (t->undef == UF_DIV && cd_rng_below(r, 2)) {
		/* A dividend whose quotient usually fits, so not every case is #DE. */
		bool sgn = t->ext == 7;

		c->in.gpr[2] = sgn ? (uint64_t)((int64_t)c->in.gpr[0] >> 63) : 0;
		if (t->flags & T_W8)
			c->in.gpr[0] = (c->in.gpr[0] & ~0xff00ull) |
				       (sgn && (c->in.gpr[0] & 0x80) ? 0xff00 : 0);
	}
	cd_emit(r, tmpl, c, false);
}

void cd_gen_sequence(struct cd_rng *r, const bool *allowed, struct cd_case *c)
{
	unsigned want = 2 + (unsigned)cd_rng_below(r, 7);
	uint16_t maybe_undef = 0;
	unsigned cand[1024], ncand = 0;

	fill_state(r, c);
	c->in.gpr[4] = CD_STACK_BASE + 0x800;
	c->in.gpr[5] = CD_STACK_BASE + 0x900;
	c->in.gpr[6] = CD_DATA_BASE + 0x400 + cd_rng_below(r, 0x400);
	c->in.gpr[7] = CD_DATA_BASE + 0x800 + cd_rng_below(r, 0x400);
	c->in.gpr[3] = CD_DATA_BASE + cd_rng_below(r, 0xf00);
	for (unsigned t = 0; t < cd_ntemplates && ncand < 1024; t++)
		if (allowed[t])
			cand[ncand++] = t;
	if (!ncand)
		return;
	for (unsigned tries = 0; c->nunits < want && tries < 4 * want; tries++) {
		unsigned t = cand[cd_rng_below(r, ncand)];
		unsigned n0 = c->nunits, len0 = c->code_len;

		/* POPF would load flags from whatever the stack holds by then,
		 * including TF and AC, which the tester keeps clear. */
		if (cd_templates[t].op == 0x9d && cd_templates[t].map == 0)
			continue;
		if (!cd_emit(r, t, c, true))
			break;
		/* A unit reading a flag an earlier unit may have left undefined would
		 * make the outcome undefined: drop it and draw another. */
		if (c->units[n0].reads & maybe_undef) {
			c->nunits = n0;
			c->code_len = len0;
			continue;
		}
		maybe_undef |= (uint16_t)cd_undef_mask(c, &c->units[n0], NULL);
	}
}
