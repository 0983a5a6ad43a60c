/*
 * Comparing a native and an engine outcome, and printing cases, results and
 * differences (with a disassembly from libcapstone, used in tests only).
 */
#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cpudiff.h"

static const char *const gpr_name[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					  "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15" };

const char *cd_vector_name(int v)
{
	static const char *const n[] = { "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
					 "#DF", "?9",  "#TS", "#NP", "#SS", "#GP", "#PF", "?15",
					 "#MF", "#AC", "#MC", "#XM" };
	return v >= 0 && v < (int)(sizeof(n) / sizeof(n[0])) ? n[v] : "?";
}

static const char *outcome_name(int o)
{
	switch (o) {
	case CD_DONE:
		return "done";
	case CD_EXC:
		return "exception";
	case CD_MEMFAULT:
		return "memory fault (outside the mapped pages)";
	case CD_TIMEOUT:
		return "timeout";
	default:
		return "harness crash";
	}
}

static void add(struct cd_diff *d, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct cd_diff *d, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (d->n >= CD_DIFF_MAX)
		return;
	snprintf(d->field[d->n], sizeof(d->field[0]), "%s", field);
	va_start(ap, fmt);
	vsnprintf(d->line[d->n], sizeof(d->line[0]), fmt, ap);
	va_end(ap);
	d->n++;
}

static uint64_t fx64(const uint8_t *fx, unsigned off)
{
	uint64_t v;

	memcpy(&v, fx + off, 8);
	return v;
}

static unsigned fx16(const uint8_t *fx, unsigned off)
{
	uint16_t v;

	memcpy(&v, fx + off, 2);
	return v;
}

static uint32_t fx32(const uint8_t *fx, unsigned off)
{
	uint32_t v;

	memcpy(&v, fx + off, 4);
	return v;
}

static void cmp_page(struct cd_diff *d, const char *name, uint64_t base, const uint8_t *a,
		     const uint8_t *b, size_t len)
{
	unsigned shown = 0;

	for (size_t i = 0; i < len && shown < 4; i++) {
		size_t j = i;
		char fld[24];

		if (a[i] == b[i])
			continue;
		while (j < len && j < i + 16 && a[j] != b[j])
			j++;
		snprintf(fld, sizeof(fld), "%s+%#zx", name, i);
		{
			char ha[40] = "", hb[40] = "";

			for (size_t k = i; k < j; k++) {
				snprintf(ha + 2 * (k - i), 3, "%02x", a[k]);
				snprintf(hb + 2 * (k - i), 3, "%02x", b[k]);
			}
			add(d, fld, "mem %#" PRIx64 " [%zu bytes]: host %s engine %s", base + i, j - i,
			    ha, hb);
		}
		shown++;
		i = j;
	}
}

/*
 * FXSAVE, FNSTENV and FNSAVE store the last x87 instruction and operand
 * pointers (FOP FIP FCS FDP FDS), which the tester does not compare (see
 * README.md), and FXSAVE the MXCSR_MASK, which reports the implementation's
 * own features. Those bytes of the stored image are left out.
 */
static int env_kind(const struct cd_unit *u)
{
	const char *n = cd_templates[u->tmpl].name;

	if (!u->mem_target)
		return 0;
	if (!strcmp(n, "fxsave"))
		return 1;
	if (!strcmp(n, "fnstenv") || !strcmp(n, "fnsave"))
		return 2;
	return 0;
}

static bool has_env_image(const struct cd_case *c)
{
	for (unsigned i = 0; i < c->nunits; i++)
		if (env_kind(&c->units[i]))
			return true;
	return false;
}

static void zero_range(uint8_t *page, uint64_t addr, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		if (addr + i >= CD_DATA_BASE && addr + i < CD_DATA_BASE + CD_DATA_SIZE)
			page[addr + i - CD_DATA_BASE] = 0;
}

static void mask_env_images(const struct cd_case *c, uint8_t *page)
{
	for (unsigned i = 0; i < c->nunits; i++) {
		const struct cd_unit *u = &c->units[i];

		switch (env_kind(u)) {
		case 1: /* FXSAVE: FOP 6, FIP 8, FCS 12, FDP 16, FDS 20; MXCSR_MASK 28 */
			zero_range(page, u->mem_target, 6, 24);
			zero_range(page, u->mem_target, 28, 32);
			break;
		case 2: /* 32-bit environment: FIP 12, FCS+FOP 16, FDP 20, FDS 24 */
			zero_range(page, u->mem_target, 12, 28);
			break;
		}
	}
}

/*
 * Instructions that access their operand piece by piece (environment and
 * register images): which byte of the image faults first is the
 * implementation's choice, so only the faulting page is compared.
 */
static bool multi_access(const struct cd_case *c, uint64_t rip)
{
	static const char *const names[] = { "fxsave", "fxrstor", "fnsave", "frstor", "fnstenv",
					      "fldenv" };

	for (unsigned i = 0; i < c->nunits; i++) {
		const struct cd_unit *u = &c->units[i];

		if (CD_TEST_ADDR + u->off != rip)
			continue;
		for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (!strcmp(cd_templates[u->tmpl].name, names[k]))
				return true;
	}
	return false;
}

/*
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS are approximations whose exact bits are the
 * implementation's: "relative error <= 1.5 * 2^-12" (SDM Vol 2, RCPPS and
 * RSQRTPS). For a single-instruction case the engine's lanes are checked
 * against that bound from the true value; untouched lanes, special inputs
 * (zero, infinity, NaN, denormal) and everything else stay exact.
 */
static bool rcp_within_bound(const struct cd_case *c, int xmm, const uint8_t *host,
			     const uint8_t *eng)
{
	const struct cd_unit *u = &c->units[0];
	const struct cd_template *t;
	const uint8_t *p, *e;
	unsigned rex = 0, reg, lanes;
	uint8_t modrm, src[16];
	bool rsqrt;

	if (c->nunits != 1)
		return false;
	t = &cd_templates[u->tmpl];
	if (strcmp(t->family, "sse-rcp"))
		return false;
	rsqrt = t->op == 0x52;
	lanes = t->pfx == 0xf3 ? 1 : 4;
	p = c->code + u->off;
	e = p + u->len;
	while (p < e && (*p == 0x66 || *p == 0xf2 || *p == 0xf3 || *p == 0x67 || *p == 0xf0 ||
			 *p == 0x26 || *p == 0x2e || *p == 0x36 || *p == 0x3e))
		p++;
	if (p < e && (*p & 0xf0) == 0x40)
		rex = *p++ & 15;
	if (e - p < 3 || p[0] != 0x0f)
		return false;
	modrm = p[2];
	reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
	if ((int)reg != xmm)
		return false;
	if (modrm >> 6 == 3) {
		memcpy(src, c->in.fx + FX_XMM((modrm & 7) | ((rex & 1) << 3)), 16);
	} else {
		if (u->mem_target < CD_DATA_BASE || u->mem_target + 16 > CD_DATA_BASE + CD_DATA_SIZE)
			return false;
		memcpy(src, c->data + (u->mem_target - CD_DATA_BASE), 16);
	}
	for (unsigned l = 0; l < 4; l++) {
		float x, h, g;
		uint32_t xb, hb, gb;
		double truth, tol;

		memcpy(&hb, host + 4 * l, 4);
		memcpy(&gb, eng + 4 * l, 4);
		if (hb == gb)
			continue;
		if (l >= lanes)
			return false; /* RCPSS/RSQRTSS keep lanes 1-3 */
		memcpy(&xb, src + 4 * l, 4);
		memcpy(&x, &xb, 4);
		memcpy(&h, &hb, 4);
		memcpy(&g, &gb, 4);
		if ((xb & 0x7f800000) == 0 || (xb & 0x7f800000) == 0x7f800000)
			return false; /* zero, denormal, infinity, NaN: exact results */
		if (rsqrt && (xb & 0x80000000))
			return false; /* negative: the QNaN indefinite */
		truth = rsqrt ? 1.0 / __builtin_sqrt((double)x) : 1.0 / (double)x;
		tol = 1.5 * (1.0 / 4096.0) * __builtin_fabs(truth);
		if (__builtin_fabs((double)g - truth) > tol || __builtin_fabs((double)h - truth) > tol)
			return false;
	}
	return true;
}

bool cd_is_unimplemented(const struct cd_result *nat, const struct cd_result *emu)
{
	return emu->outcome == CD_EXC && emu->vector == 6 &&
	       !(nat->outcome == CD_EXC && nat->vector == 6);
}

bool cd_compare(const struct cd_case *c, const struct cd_result *nat,
		const struct cd_result *emu, struct cd_diff *d)
{
	uint32_t undef;
	uint64_t fm;

	d->n = 0;
	if (nat->outcome == CD_CRASH) {
		add(d, "harness", "native run: %s", nat->note);
		return false;
	}
	if (emu->outcome == CD_CRASH) {
		add(d, "engine", "%s", emu->note);
		return false;
	}
	if (nat->outcome != emu->outcome) {
		add(d, "outcome", "host %s%s%s, engine %s%s%s %s", outcome_name(nat->outcome),
		    nat->outcome == CD_EXC ? " " : "",
		    nat->outcome == CD_EXC ? cd_vector_name(nat->vector) : "",
		    outcome_name(emu->outcome), emu->outcome == CD_EXC ? " " : "",
		    emu->outcome == CD_EXC ? cd_vector_name(emu->vector) : "", emu->note);
		return false;
	}
	if (nat->outcome == CD_TIMEOUT)
		return true;
	if (nat->outcome == CD_EXC) {
		if (nat->vector != emu->vector)
			add(d, "vector", "host %s (%d), engine %s (%d)", cd_vector_name(nat->vector),
			    nat->vector, cd_vector_name(emu->vector), emu->vector);
		else if ((nat->vector == 13 || nat->vector == 12) && nat->err != emu->err)
			add(d, "error code", "host %#" PRIx64 ", engine %#" PRIx64, nat->err, emu->err);
	}
	if (nat->outcome == CD_MEMFAULT &&
	    !(nat->fault_addr >= emu->fault_addr && nat->fault_addr < emu->fault_addr + emu->fault_size) &&
	    !(multi_access(c, nat->out.rip) && nat->fault_addr >> 12 == emu->fault_addr >> 12))
		add(d, "fault address", "host %#" PRIx64 ", engine access %#" PRIx64 "+%" PRIu64,
		    nat->fault_addr, emu->fault_addr, emu->fault_size);
	if (nat->out.rip != emu->out.rip)
		add(d, "rip", "host %#" PRIx64 " engine %#" PRIx64, nat->out.rip, emu->out.rip);
	for (int i = 0; i < 16; i++)
		if (nat->out.gpr[i] != emu->out.gpr[i])
			add(d, gpr_name[i], "%-4s host %016" PRIx64 " engine %016" PRIx64, gpr_name[i],
			    nat->out.gpr[i], emu->out.gpr[i]);
	undef = cd_case_undef_mask(c, nat, emu);
	fm = CD_CMP_FLAGS & ~(uint64_t)undef;
	if ((nat->out.rflags ^ emu->out.rflags) & fm) {
		const char *cite = "";

		for (unsigned i = 0; i < c->nunits && !cite[0]; i++)
			cite = cd_undef_cite(cd_templates[c->units[i].tmpl].undef);
		add(d, "rflags", "rflags host %#" PRIx64 " engine %#" PRIx64 " (differ %#" PRIx64
				 "; not compared %#x%s%s)",
		    nat->out.rflags & CD_CMP_FLAGS, emu->out.rflags & CD_CMP_FLAGS,
		    (nat->out.rflags ^ emu->out.rflags) & fm, undef, cite[0] ? " per " : "", cite);
	}

	{
		const uint8_t *a = nat->out.fx, *b = emu->out.fx;

		if (fx16(a, FX_FCW) != fx16(b, FX_FCW))
			add(d, "fcw", "fcw host %#06x engine %#06x", fx16(a, FX_FCW), fx16(b, FX_FCW));
		if (fx16(a, FX_FSW) != fx16(b, FX_FSW))
			add(d, "fsw", "fsw host %#06x engine %#06x", fx16(a, FX_FSW), fx16(b, FX_FSW));
		if (a[FX_FTW] != b[FX_FTW])
			add(d, "ftw", "abridged ftw host %#04x engine %#04x", a[FX_FTW], b[FX_FTW]);
		if (fx32(a, FX_MXCSR) != fx32(b, FX_MXCSR))
			add(d, "mxcsr", "mxcsr host %#x engine %#x", fx32(a, FX_MXCSR),
			    fx32(b, FX_MXCSR));
		for (int i = 0; i < 8; i++) {
			char f[8];

			if (!memcmp(a + FX_ST(i), b + FX_ST(i), 10))
				continue;
			snprintf(f, sizeof(f), "st%d", i);
			add(d, f, "st(%d) host %04x:%016" PRIx64 " engine %04x:%016" PRIx64, i,
			    fx16(a, FX_ST(i) + 8), fx64(a, FX_ST(i)), fx16(b, FX_ST(i) + 8),
			    fx64(b, FX_ST(i)));
		}
		for (int i = 0; i < 16; i++) {
			char f[8];

			if (!memcmp(a + FX_XMM(i), b + FX_XMM(i), 16))
				continue;
			if (rcp_within_bound(c, i, a + FX_XMM(i), b + FX_XMM(i)))
				continue;
			snprintf(f, sizeof(f), "xmm%d", i);
			add(d, f, "xmm%-2d host %016" PRIx64 ":%016" PRIx64 " engine %016" PRIx64
				  ":%016" PRIx64,
			    i, fx64(a, FX_XMM(i) + 8), fx64(a, FX_XMM(i)), fx64(b, FX_XMM(i) + 8),
			    fx64(b, FX_XMM(i)));
		}
	}
	if (has_env_image(c)) {
		static uint8_t na[CD_DATA_SIZE], ea[CD_DATA_SIZE];

		memcpy(na, nat->data, CD_DATA_SIZE);
		memcpy(ea, emu->data, CD_DATA_SIZE);
		mask_env_images(c, na);
		mask_env_images(c, ea);
		cmp_page(d, "data", CD_DATA_BASE, na, ea, CD_DATA_SIZE);
	} else {
		cmp_page(d, "data", CD_DATA_BASE, nat->data, emu->data, CD_DATA_SIZE);
	}
	cmp_page(d, "stack", CD_STACK_BASE, nat->stack, emu->stack, CD_STACK_SIZE);
	return d->n == 0;
}

static csh cs;
static bool cs_ok;

static void disasm(FILE *f, const uint8_t *code, size_t len, uint64_t addr)
{
	cs_insn *insn;
	size_t n;

	if (!cs_ok) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
			fprintf(f, "      (capstone unavailable)\n");
			return;
		}
		cs_ok = true;
	}
	n = cs_disasm(cs, code, len, addr, 0, &insn);
	for (size_t i = 0; i < n; i++) {
		char hex[64] = "";

		for (size_t k = 0; k < insn[i].size && k < 20; k++)
			snprintf(hex + 3 * k, 4, "%02x ", insn[i].bytes[k]);
		fprintf(f, "      %#" PRIx64 ": %-36s %s %s\n", insn[i].address, hex, insn[i].mnemonic,
			insn[i].op_str);
		len -= insn[i].size;
	}
	if (n)
		cs_free(insn, n);
	if (len)
		fprintf(f, "      (%zu bytes capstone does not decode)\n", len);
}

void cd_print_case(FILE *f, const struct cd_case *c)
{
	const uint8_t *fx = c->in.fx;

	fprintf(f, "  code (%u bytes at %#llx):", c->code_len, CD_TEST_ADDR);
	for (unsigned i = 0; i < c->code_len; i++)
		fprintf(f, " %02x", c->code[i]);
	fprintf(f, "\n");
	for (unsigned i = 0; i < c->nunits; i++) {
		const struct cd_unit *u = &c->units[i];

		fprintf(f, "    unit %u: %s [%s]\n", i, cd_templates[u->tmpl].name,
			cd_templates[u->tmpl].family);
		disasm(f, c->code + u->off, u->len, CD_TEST_ADDR + u->off);
	}
	fprintf(f, "  input:\n");
	for (int i = 0; i < 16; i += 4)
		fprintf(f, "    %-3s %016" PRIx64 "  %-3s %016" PRIx64 "  %-3s %016" PRIx64
			   "  %-3s %016" PRIx64 "\n",
			gpr_name[i], c->in.gpr[i], gpr_name[i + 1], c->in.gpr[i + 1],
			gpr_name[i + 2], c->in.gpr[i + 2], gpr_name[i + 3], c->in.gpr[i + 3]);
	fprintf(f, "    rflags %#" PRIx64 "  mxcsr %#x  fcw %#06x fsw %#06x ftw(abridged) %#04x\n",
		c->in.rflags, fx32(fx, FX_MXCSR), fx16(fx, FX_FCW), fx16(fx, FX_FSW), fx[FX_FTW]);
	for (int i = 0; i < 8; i += 2)
		fprintf(f, "    st(%d) %04x:%016" PRIx64 "   st(%d) %04x:%016" PRIx64 "\n", i,
			fx16(fx, FX_ST(i) + 8), fx64(fx, FX_ST(i)), i + 1, fx16(fx, FX_ST(i + 1) + 8),
			fx64(fx, FX_ST(i + 1)));
	for (int i = 0; i < 16; i += 2)
		fprintf(f, "    xmm%-2d %016" PRIx64 ":%016" PRIx64 "  xmm%-2d %016" PRIx64
			   ":%016" PRIx64 "\n",
			i, fx64(fx, FX_XMM(i) + 8), fx64(fx, FX_XMM(i)), i + 1,
			fx64(fx, FX_XMM(i + 1) + 8), fx64(fx, FX_XMM(i + 1)));
}

void cd_print_result(FILE *f, const char *who, const struct cd_result *r)
{
	fprintf(f, "  %s: %s", who, outcome_name(r->outcome));
	if (r->outcome == CD_EXC)
		fprintf(f, " %s err %#" PRIx64, cd_vector_name(r->vector), r->err);
	if (r->outcome == CD_MEMFAULT)
		fprintf(f, " at %#" PRIx64, r->fault_addr);
	fprintf(f, " rip %#" PRIx64 "%s%s\n", r->out.rip, r->note[0] ? " — " : "", r->note);
}

void cd_print_diff(FILE *f, const struct cd_diff *d)
{
	for (unsigned i = 0; i < d->n; i++)
		fprintf(f, "    DIFF %s\n", d->line[i]);
}
