/*
 * x86 instruction decoder: legacy prefixes, REX, opcode maps 1-byte, 0F,
 * 0F38, 0F3A, ModRM/SIB/displacement (16-, 32- and 64-bit addressing,
 * RIP-relative) and immediates, into struct x86_insn.
 *
 * Every byte here is guest-controlled: the decoder never reads past the n
 * bytes it was given and enforces the 15-byte limit (#GP(0)). Encodings with
 * no table entry, VEX/EVEX/XOP, and LOCK where it is not allowed are #UD.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "cpu/x86/insn.h"
#include "cpu/x86/system.h"
#include "cpu/x86/fpu/fpu.h"

int x86_h_fpu(struct x86_cpu *cpu, const struct x86_insn *in);
x86_handler x86_fast_handler(const struct x86_cpu *cpu, struct x86_insn *in);

static const struct x86_optable *const tables[] = {
	&x86_tab_alu, &x86_tab_shift, &x86_tab_muldiv, &x86_tab_bit, &x86_tab_string,
	&x86_tab_control, &x86_tab_stack, &x86_tab_misc, &x86_tab_mov,
	&x86_tab_system, /* part 2: exec_system.c */
};

struct slot {
	uint16_t start, count;
};

static struct slot idx[4][256];
static const struct x86_opdesc **sorted;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_err;

static int desc_cmp(const void *a, const void *b)
{
	const struct x86_opdesc *x = *(const struct x86_opdesc *const *)a;
	const struct x86_opdesc *y = *(const struct x86_opdesc *const *)b;
	int kx = x->map * 256 + x->op, ky = y->map * 256 + y->op;

	if (kx != ky)
		return kx - ky;
	/* Specific mandatory prefixes before "any", then table order. */
	if ((x->mpfx == X86_MP_ANY) != (y->mpfx == X86_MP_ANY))
		return x->mpfx == X86_MP_ANY ? 1 : -1;
	return x < y ? -1 : x > y;
}

static void build_index(void)
{
	unsigned t, i, total = 0, k = 0;

	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		total += tables[t]->count;
	sorted = calloc(total ? total : 1, sizeof(*sorted));
	if (!sorted) {
		init_err = -ENOMEM;
		return;
	}
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (i = 0; i < tables[t]->count; i++)
			sorted[k++] = &tables[t]->ops[i];
	qsort(sorted, total, sizeof(*sorted), desc_cmp);
	for (i = 0; i < total; i++) {
		struct slot *s = &idx[sorted[i]->map & 3][sorted[i]->op];

		if (!s->count)
			s->start = i;
		s->count++;
	}
}

int x86_decode_init(void)
{
	pthread_once(&once, build_index);
	return init_err;
}

#define NEED(k)                                                                                    \
	do {                                                                                       \
		if (pos + (k) > 15)                                                                \
			return -X86_EXC_GP - 1;                                                    \
		if (pos + (k) > n)                                                                 \
			return 0;                                                                  \
	} while (0)

static uint64_t rd(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, p, size);
	return v;
}

static bool mp_match(unsigned want, unsigned have)
{
	if (want == X86_MP_ANY)
		return true;
	if (want == X86_MP_NONE)
		return have == X86_MP_NONE || have == X86_MP_66;
	return want == have;
}

static const struct x86_opdesc fpu_desc = { .flags = X86_F_MODRM, .h = x86_h_fpu };

int x86_decode(const struct x86_cpu *cpu, const uint8_t *p, unsigned n, struct x86_insn *in)
{
	bool mode64 = cpu->mode == X86_MODE_LONG64;
	bool def32 = mode64 || cpu->mode == X86_MODE_PROT32;
	unsigned pos = 0, seg = 0xff, map = X86_MAP_1B, op, rex = 0, pfx = 0, last_rep = 0;
	const struct x86_opdesc *d = NULL;
	struct x86_opdesc fd;
	uint32_t fl;
	unsigned modrm = 0, i;
	bool have_modrm = false;

	memset(in, 0, sizeof(*in));
	for (;;) {
		unsigned b;

		NEED(1);
		b = p[pos];
		switch (b) {
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			/* ES CS SS DS overrides are ignored in 64-bit mode. */
			if (!mode64)
				seg = (b >> 3) & 3;
			pfx |= X86_P_SEG;
			break;
		case 0x64: case 0x65:
			seg = X86_FS + (b - 0x64);
			pfx |= X86_P_SEG;
			break;
		case 0x66: pfx |= X86_P_OPSZ; break;
		case 0x67: pfx |= X86_P_ADSZ; break;
		case 0xf0: pfx |= X86_P_LOCK; break;
		case 0xf2: pfx |= X86_P_REPNE; last_rep = X86_MP_F2; break;
		case 0xf3: pfx |= X86_P_REP; last_rep = X86_MP_F3; break;
		default:
			if (mode64 && (b & 0xf0) == 0x40) {
				rex = b & 0xf;
				pfx |= X86_P_REX;
				pos++;
				NEED(1);
				/* REX only counts right before the opcode. */
				switch (p[pos]) {
				case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
				case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
					rex = 0;
					pfx &= ~X86_P_REX;
					continue;
				}
				if ((p[pos] & 0xf0) == 0x40) {
					rex = 0;
					pfx &= ~X86_P_REX;
					continue;
				}
			}
			goto opcode;
		}
		pos++;
	}
opcode:
	NEED(1);
	op = p[pos++];
	if (op == 0x0f) {
		NEED(1);
		op = p[pos++];
		map = X86_MAP_0F;
		if (op == 0x38 || op == 0x3a) {
			map = op == 0x38 ? X86_MAP_0F38 : X86_MAP_0F3A;
			NEED(1);
			op = p[pos++];
		}
	}
	in->mpfx = last_rep ? last_rep : (pfx & X86_P_OPSZ) ? X86_MP_66 : X86_MP_NONE;

	fl = fpu_opcode_flags(map, op, in->mpfx);
	if (fl & FPU_OPF_VALID) {
		fd = fpu_desc;
		fd.flags = (fl & FPU_OPF_MODRM ? X86_F_MODRM : 0) | (fl & FPU_OPF_IMM8 ? X86_F_IMM8U : 0);
		d = &fd;
		if (fl & FPU_OPF_MODRM) {
			NEED(1);
			modrm = p[pos];
			have_modrm = true;
		}
	} else {
		const struct slot *s = &idx[map][op];

		for (i = 0; i < s->count; i++) {
			const struct x86_opdesc *c = sorted[s->start + i];

			if (!mp_match(c->mpfx, in->mpfx))
				continue;
			if (c->flags & X86_F_MODRM) {
				NEED(1);
				modrm = p[pos];
				have_modrm = true;
				if (c->reg >= 0 && ((modrm >> 3) & 7) != (unsigned)c->reg)
					continue;
				if ((c->flags & X86_F_REG) && modrm < 0xc0)
					continue;
				if ((c->flags & X86_F_MEM) && modrm >= 0xc0)
					continue;
			}
			d = c;
			break;
		}
	}
	if (!d)
		return -X86_EXC_UD - 1;
	fl = d->flags;
	if (mode64 && (fl & X86_F_INV64))
		return -X86_EXC_UD - 1;
	if (!mode64 && (fl & X86_F_ONLY64))
		return -X86_EXC_UD - 1;

	/* Operand and address sizes. */
	if (fl & X86_F_BYTE)
		in->opsize = 1;
	else if (mode64 && (rex & 8) && !(fl & X86_F_OS32))
		in->opsize = 8;
	else if (mode64 && (fl & X86_F_F64))
		in->opsize = 8;
	else if (mode64 && (fl & X86_F_DEF64))
		in->opsize = (pfx & X86_P_OPSZ) ? 2 : 8;
	else
		in->opsize = (def32 ^ !!(pfx & X86_P_OPSZ)) ? 4 : 2;
	if (mode64)
		in->adsize = (pfx & X86_P_ADSZ) ? 4 : 8;
	else
		in->adsize = (def32 ^ !!(pfx & X86_P_ADSZ)) ? 4 : 2;

	in->h = d->h;
	in->aux = d->aux;
	in->map = map;
	in->op = op;
	in->rex = rex;
	in->base = X86_NOREG;
	in->index = X86_NOREG;
	in->seg = seg;
	in->mod = 3;

	if (fl & X86_F_OPREG)
		in->reg = (op & 7) | ((rex & 1) << 3);

	if (have_modrm && (fl & X86_F_MODRM)) {
		unsigned mod, rm;

		pos++; /* the ModRM byte, already checked by NEED above */
		in->modrm = modrm;
		mod = modrm >> 6;
		rm = modrm & 7;
		in->mod = mod;
		in->reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
		in->rm = rm | ((rex & 1) << 3);
		if (mod != 3) {
			unsigned dispsz = 0, defseg = X86_DS;

			if (in->adsize == 2) {
				static const uint8_t b16[8] = { X86_RBX, X86_RBX, X86_RBP, X86_RBP,
								X86_RSI, X86_RDI, X86_RBP, X86_RBX };
				static const uint8_t i16[8] = { X86_RSI, X86_RDI, X86_RSI, X86_RDI,
								X86_NOREG, X86_NOREG, X86_NOREG,
								X86_NOREG };

				in->base = b16[rm];
				in->index = i16[rm];
				if (rm == 2 || rm == 3 || rm == 6)
					defseg = X86_SS;
				if (mod == 0 && rm == 6) {
					in->base = X86_NOREG;
					defseg = X86_DS;
					dispsz = 2;
				} else {
					dispsz = mod == 1 ? 1 : mod == 2 ? 2 : 0;
				}
			} else {
				if (rm == 4) {
					unsigned sib, base, index;

					NEED(1);
					sib = p[pos++];
					base = (sib & 7) | ((rex & 1) << 3);
					index = ((sib >> 3) & 7) | ((rex & 2) << 2);
					in->scale = sib >> 6;
					in->index = index == 4 ? X86_NOREG : index;
					if ((sib & 7) == 5 && mod == 0) {
						in->base = X86_NOREG;
						dispsz = 4;
					} else {
						in->base = base;
						if (base == X86_RSP || base == X86_RBP)
							defseg = X86_SS;
					}
				} else if (rm == 5 && mod == 0) {
					in->base = mode64 ? X86_REG_RIP : X86_NOREG;
					dispsz = 4;
				} else {
					in->base = in->rm;
					if (in->rm == X86_RBP)
						defseg = X86_SS;
				}
				if (mod == 1)
					dispsz = 1;
				else if (mod == 2)
					dispsz = 4;
			}
			if (dispsz) {
				NEED(dispsz);
				in->disp = (int32_t)x86_sext(rd(p + pos, dispsz), dispsz);
				pos += dispsz;
			}
			if (in->seg == 0xff)
				in->seg = defseg;
		}
	}
	if (in->seg == 0xff)
		in->seg = X86_DS;

	/* Byte registers without REX: 4..7 are AH CH DH BH. */
	if (!(pfx & X86_P_REX)) {
		if ((fl & X86_F_BYTE) && in->reg >= 4 && in->reg < 8)
			in->reg += 12;
		if ((fl & (X86_F_BYTE | X86_F_RM8)) && in->mod == 3 && in->rm >= 4 && in->rm < 8)
			in->rm += 12;
	}

	/* Immediates. */
	if (fl & (X86_F_IMM8 | X86_F_IMM8U)) {
		NEED(1);
		in->imm = (fl & X86_F_IMM8) ? (uint64_t)(int8_t)p[pos] : p[pos];
		pos++;
	} else if (fl & X86_F_IMMZ) {
		unsigned sz = in->opsize == 2 ? 2 : 4;

		NEED(sz);
		in->imm = (uint64_t)x86_sext(rd(p + pos, sz), sz);
		pos += sz;
	} else if (fl & X86_F_IMMV) {
		NEED(in->opsize);
		in->imm = rd(p + pos, in->opsize);
		pos += in->opsize;
	} else if (fl & X86_F_IMM16) {
		NEED(2);
		in->imm = rd(p + pos, 2);
		pos += 2;
		if (fl & X86_F_ENTER) {
			NEED(1);
			in->imm2 = p[pos++];
		}
	} else if (fl & X86_F_MOFFS) {
		NEED(in->adsize);
		in->imm = rd(p + pos, in->adsize);
		pos += in->adsize;
	} else if (fl & X86_F_FARPTR) {
		unsigned sz = in->opsize == 2 ? 2 : 4;

		NEED(sz + 2);
		in->imm = rd(p + pos, sz);
		in->imm2 = (uint16_t)rd(p + pos + sz, 2);
		pos += sz + 2;
	}

	/* LOCK: only listed instructions with a memory destination. */
	if ((pfx & X86_P_LOCK) && (!(fl & X86_F_LOCK) || in->mod == 3))
		return -X86_EXC_UD - 1;
	if (fl & X86_F_BRANCH)
		pfx |= X86_P_END;
	in->pfx = pfx;
	in->len = pos;
	if (d != &fd) {
		x86_handler fast = x86_fast_handler(cpu, in);

		if (fast)
			in->h = fast;
	}
	return pos;
}
