/*
 * --coverage: every opcode the engine implements must have a template.
 * The core's opcode tables (src/cpu/x86/insn.h) and fpu/'s opcode ownership
 * (fpu_opcode_flags) are enumerated and each entry is matched against the
 * templates; entries without one are listed so the list in templates.c can
 * grow with the engine.
 */
#include <string.h>

#include "cpudiff.h"

struct tkey {
	int map, op, pfx, ext; /* pfx: 0, 0x66, 0xf2, 0xf3; ext -1 = any */
	int span;              /* opcodes covered from op: 1, 8 (+r) or 16 (cc) */
};

/* Map, opcode and mandatory prefix of a template, from its bytes if fixed. */
static bool template_key(const struct cd_template *t, struct tkey *k)
{
	memset(k, 0, sizeof(*k));
	k->ext = t->ext;
	k->span = (t->flags & T_OPREG) ? 8 : (t->flags & T_CC) ? 16 : 1;
	if (t->flags & T_FIXED) {
		const uint8_t *p = t->bytes, *e = t->bytes + t->nbytes;

		while (p < e && (*p == 0x66 || *p == 0xf2 || *p == 0xf3 || *p == 0xf0))
			k->pfx = *p == 0xf0 ? k->pfx : *p, p++;
		if (p < e && (*p & 0xf0) == 0x40)
			p++;
		if (p < e && *p == 0x0f) {
			p++;
			k->map = 1;
			if (p < e && (*p == 0x38 || *p == 0x3a))
				k->map = *p++ == 0x38 ? 2 : 3;
		}
		if (p >= e)
			return false;
		k->op = *p++;
		k->ext = (p < e && (t->op >= 0xd8 || k->map)) ? (*p >> 3) & 7 : -1;
		return true;
	}
	k->map = t->map;
	k->op = t->op;
	k->pfx = t->pfx;
	if ((t->flags & T_SZ) && !t->pfx)
		k->pfx = -1; /* 66 here sizes the operand */
	return true;
}

static bool covered(int map, int op, int pfx, int ext)
{
	for (unsigned i = 0; i < cd_ntemplates; i++) {
		struct tkey k;

		if (!template_key(&cd_templates[i], &k) || k.map != map)
			continue;
		if (op < k.op || op >= k.op + k.span)
			continue;
		if (pfx >= 0 && k.pfx >= 0 && k.pfx != pfx && !(pfx == 0x66 && k.pfx == -1))
			continue;
		if (ext >= 0 && k.ext >= 0 && k.ext != ext)
			continue;
		if (cd_templates[i].flags & T_EXT03)
			return true;
		return true;
	}
	return false;
}

static const int mp_to_pfx[] = { 0, 0x66, 0xf3, 0xf2 };

#if __has_include("cpu/x86/fpu/fpu.h")
#include "cpu/x86/fpu/fpu.h"

static unsigned fpu_missing(void)
{
	unsigned n = 0;

	for (int map = 0; map < 4; map++)
		for (int op = 0; op < 256; op++)
			for (int p = 0; p < (map ? 4 : 1); p++) {
				unsigned fl = fpu_opcode_flags((unsigned)map, (unsigned)op, (unsigned)p);

				if (!(fl & FPU_OPF_VALID))
					continue;
				if (map == 0 && op >= 0xd8 && op <= 0xdf) {
					for (int e = 0; e < 8; e++)
						if (!covered(0, op, -1, e)) {
							printf("  fpu: %02x /%d has no template\n", op, e);
							n++;
						}
					continue;
				}
				/* fpu/ owns whole rows; a prefix variant may be #UD */
				if (!covered(map, op, mp_to_pfx[p], -1) && !covered(map, op, -1, -1)) {
					printf("  fpu: map %d op %02x prefix %s has no template\n", map,
					       op, p ? (p == 1 ? "66" : p == 2 ? "f3" : "f2") : "none");
					n++;
				}
			}
	return n;
}
#else
static unsigned fpu_missing(void)
{
	return 0;
}
#endif

#ifdef CD_HAVE_CORE
#include "cpu/x86/insn.h"

static unsigned core_missing(void)
{
	const struct x86_optable *tabs[] = { &x86_tab_alu,    &x86_tab_shift,   &x86_tab_muldiv,
					     &x86_tab_bit,    &x86_tab_string,  &x86_tab_control,
					     &x86_tab_stack,  &x86_tab_misc,    &x86_tab_mov };
	unsigned n = 0;

	for (unsigned t = 0; t < sizeof(tabs) / sizeof(tabs[0]); t++)
		for (unsigned i = 0; i < tabs[t]->count; i++) {
			const struct x86_opdesc *d = &tabs[t]->ops[i];
			int pfx = d->mpfx == X86_MP_ANY ? -1 : mp_to_pfx[d->mpfx & 3];

			if (d->flags & X86_F_INV64)
				continue; /* the invalid64 family checks these as #UD */
			if (!covered(d->map, d->op, pfx, d->reg)) {
				printf("  core: map %d op %02x prefix %s /%d has no template\n", d->map,
				       d->op, pfx < 0 ? "any" : pfx ? (pfx == 0x66 ? "66" : pfx == 0xf3 ? "f3" : "f2") : "none",
				       d->reg);
				n++;
			}
		}
	return n;
}
#else
static unsigned core_missing(void)
{
	printf("  (no CPU core in this build: only fpu/ checked)\n");
	return 0;
}
#endif

int cd_coverage(void)
{
	unsigned n = core_missing() + fpu_missing();

	printf("coverage: %u engine opcodes without a template (excluded ones are listed in "
	       "README.md)\n", n);
	return n ? 1 : 0;
}
