/*
 * Flags the manuals leave undefined. These are the only flags the tester
 * does not compare; every entry cites the instruction page of the Intel SDM
 * Vol 2 ("Flags Affected") it comes from. Anything not listed is compared.
 *
 *   AND, OR, XOR, TEST            AF undefined            (SDM Vol 2, AND/OR/XOR/TEST)
 *   MUL, IMUL                     SF ZF AF PF undefined   (SDM Vol 2, MUL/IMUL)
 *   DIV, IDIV                     CF OF SF ZF AF PF       (SDM Vol 2, DIV/IDIV)
 *   SAL/SHL, SHR, SAR             count 0: none; AF for nonzero count; OF unless
 *                                 count is 1; CF for SHL/SHR when count >= operand
 *                                 size                    (SDM Vol 2, SAL/SAR/SHL/SHR)
 *   ROL, ROR, RCL, RCR            OF when the masked count > 1 (SDM Vol 2, RCL/RCR/ROL/ROR)
 *   SHLD, SHRD                    count 0: none; AF; OF unless count is 1; all six
 *                                 when count > operand size (SDM Vol 2, SHLD/SHRD)
 *   BT, BTS, BTR, BTC             OF SF AF PF             (SDM Vol 2, BT/BTS/BTR/BTC)
 *   BSF, BSR                      CF OF SF AF PF          (SDM Vol 2, BSF/BSR)
 *   LZCNT, TZCNT                  OF SF AF PF             (SDM Vol 2, LZCNT/TZCNT)
 */
#include "cpudiff.h"

#define ALL6 (CD_CF | CD_PF | CD_AF | CD_ZF | CD_SF | CD_OF)

const char *cd_undef_cite(unsigned kind)
{
	static const char *const cite[] = {
		[UF_NONE] = "",
		[UF_LOGIC] = "SDM Vol 2, AND/OR/XOR/TEST",
		[UF_MUL] = "SDM Vol 2, MUL/IMUL",
		[UF_DIV] = "SDM Vol 2, DIV/IDIV",
		[UF_SHIFT] = "SDM Vol 2, SAL/SAR/SHL/SHR",
		[UF_ROT] = "SDM Vol 2, RCL/RCR/ROL/ROR",
		[UF_RCX] = "SDM Vol 2, RCL/RCR/ROL/ROR",
		[UF_SHXD] = "SDM Vol 2, SHLD/SHRD",
		[UF_BT] = "SDM Vol 2, BT/BTS/BTR/BTC",
		[UF_BSX] = "SDM Vol 2, BSF/BSR",
		[UF_LZTZ] = "SDM Vol 2, LZCNT/TZCNT",
		[UF_ADJ] = "SDM Vol 2, AAA/AAD/AAM/AAS/DAA/DAS",
	};
	return kind < sizeof(cite) / sizeof(cite[0]) && cite[kind] ? cite[kind] : "";
}

uint32_t cd_undef_mask(const struct cd_case *c, const struct cd_unit *u, const uint64_t *rcx)
{
	const struct cd_template *t = &cd_templates[u->tmpl];
	unsigned size = u->opsize ? u->opsize : 32;
	unsigned mask = size == 64 ? 0x3f : 0x1f;
	int count = -1;

	(void)c;
	if (u->count_imm >= 0)
		count = (int)((unsigned)u->count_imm & mask);
	else if (u->count_reg >= 0 && rcx)
		count = (int)(*rcx & mask);
	else if (!(t->flags & (T_CL | T_CNT)) && (t->undef == UF_SHIFT || t->undef == UF_ROT ||
						 t->undef == UF_RCX))
		count = 1; /* the D0/D1 forms shift by one */

	switch (t->undef) {
	case UF_LOGIC:
		return CD_AF;
	case UF_MUL:
		return CD_SF | CD_ZF | CD_AF | CD_PF;
	case UF_DIV:
		return ALL6;
	case UF_BT:
		return CD_OF | CD_SF | CD_AF | CD_PF;
	case UF_BSX:
		return CD_CF | CD_OF | CD_SF | CD_AF | CD_PF;
	case UF_LZTZ:
		return CD_OF | CD_SF | CD_AF | CD_PF;
	case UF_SHIFT: {
		/* SHL, SHR and the /6 alias: CF undefined once count >= size; not SAR */
		bool cf_rule = t->ext != 7;

		if (count < 0)
			return CD_OF | CD_AF | (cf_rule && size <= 16 ? CD_CF : 0);
		if (count == 0)
			return 0;
		return CD_AF | (count > 1 ? CD_OF : 0) |
		       (cf_rule && (unsigned)count >= size ? CD_CF : 0);
	}
	case UF_ROT:
	case UF_RCX:
		if (count < 0)
			return CD_OF;
		return count > 1 ? CD_OF : 0;
	case UF_SHXD:
		if (count < 0)
			return size == 16 ? ALL6 : CD_OF | CD_AF;
		if (count == 0)
			return 0;
		if ((unsigned)count > size)
			return ALL6;
		return CD_AF | (count > 1 ? CD_OF : 0);
	default:
		return 0;
	}
}

uint32_t cd_case_undef_mask(const struct cd_case *c, const struct cd_result *nat,
			    const struct cd_result *emu)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < c->nunits; i++) {
		const struct cd_unit *u = &c->units[i];
		uint64_t end = CD_TEST_ADDR + u->off + u->len;
		const uint64_t *rcx = NULL;

		/* after a fault the flags are those before the faulting unit */
		if (nat->outcome != CD_DONE && end > nat->out.rip)
			break;
		if (i == 0)
			rcx = &c->in.gpr[1];
		else if (emu && (emu->unit_ran & (1u << i)))
			rcx = &emu->unit_rcx[i];
		m |= cd_undef_mask(c, u, rcx);
	}
	return m;
}
