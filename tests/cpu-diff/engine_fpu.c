/*
 * FPU-direct engine mode (--fpu-direct): x87/MMX/SSE cases go straight to
 * fpu_exec() (src/cpu/x86/fpu/fpu.h), bypassing the CPU core. It decodes
 * only what the generator emits (legacy prefixes, REX, maps, ModRM/SIB/disp,
 * imm8) and answers #UD for any non-FPU unit, so integer templates show as
 * "not implemented". It isolates FPU bugs from core decoder bugs and works
 * before the core exists.
 */
#include <errno.h>
#include <string.h>

#include "cpudiff.h"

#if __has_include("cpu/x86/fpu/fpu.h")
#include "cpu/x86/fpu/fpu.h"

struct fctx {
	uint8_t *code, *data, *stack;
	struct cd_result *res;
	bool faulted;
};

static uint8_t *map(struct fctx *x, uint64_t la, unsigned len)
{
	static const uint64_t base[3] = { CD_CODE_BASE, CD_DATA_BASE, CD_STACK_BASE };
	uint8_t *buf[3] = { x->code, x->data, x->stack };

	for (int i = 0; i < 3; i++)
		if (la >= base[i] && la - base[i] <= 0x1000 - len)
			return buf[i] + (la - base[i]);
	return NULL;
}

static int f_read(void *opaque, uint64_t la, void *buf, unsigned len)
{
	struct fctx *x = opaque;
	uint8_t *p = map(x, la, len);

	if (!p) {
		x->faulted = true;
		x->res->fault_addr = la;
		x->res->fault_size = len;
		return -EFAULT;
	}
	memcpy(buf, p, len);
	return 0;
}

static int f_write(void *opaque, uint64_t la, const void *buf, unsigned len)
{
	struct fctx *x = opaque;
	uint8_t *p = map(x, la, len);

	if (!p) {
		x->faulted = true;
		x->res->fault_addr = la;
		x->res->fault_size = len;
		return -EFAULT;
	}
	memcpy(p, buf, len);
	return 0;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* fxsave image <-> x86_fpu_state, written here independently of fxsave.c */
void cd_fx_to_state(const uint8_t *fx, struct x86_fpu_state *fs)
{
	unsigned top;

	memset(fs, 0, sizeof(*fs));
	memcpy(&fs->fcw, fx + FX_FCW, 2);
	memcpy(&fs->fsw, fx + FX_FSW, 2);
	fs->ftw = fx[FX_FTW];
	memcpy(&fs->mxcsr, fx + FX_MXCSR, 4);
	top = (fs->fsw >> 11) & 7;
	for (unsigned i = 0; i < 8; i++) {
		memcpy(&fs->st[(top + i) & 7].signif, fx + FX_ST(i), 8);
		memcpy(&fs->st[(top + i) & 7].sign_exp, fx + FX_ST(i) + 8, 2);
	}
	memcpy(fs->xmm, fx + FX_XMM(0), 256);
}

void cd_state_to_fx(const struct x86_fpu_state *fs, uint8_t *fx)
{
	unsigned top = (fs->fsw >> 11) & 7;

	memset(fx, 0, 512);
	memcpy(fx + FX_FCW, &fs->fcw, 2);
	memcpy(fx + FX_FSW, &fs->fsw, 2);
	fx[FX_FTW] = (uint8_t)fs->ftw;
	memcpy(fx + FX_MXCSR, &fs->mxcsr, 4);
	for (unsigned i = 0; i < 8; i++) {
		memcpy(fx + FX_ST(i), &fs->st[(top + i) & 7].signif, 8);
		memcpy(fx + FX_ST(i) + 8, &fs->st[(top + i) & 7].sign_exp, 2);
	}
	memcpy(fx + FX_XMM(0), fs->xmm, 256);
}

/* Decode and run one instruction at rip; 0, a vector, or -EFAULT. */
static int step(struct fctx *x, struct fpu_ctx *fc, uint64_t *gpr, uint64_t *rip)
{
	const uint8_t *p = x->code + (*rip - CD_CODE_BASE);
	const uint8_t *start = p;
	struct fpu_insn in = { 0 };
	bool lock = false, a32 = false, p66 = false;
	unsigned pfx = FPU_PFX_NONE, rex = 0, fl;
	uint64_t ea = 0;
	bool riprel = false;

	if (*p == 0x90) { /* the minimiser's filler */
		*rip += 1;
		return 0;
	}
	for (;; p++) {
		if (p - start >= 14)
			return 13;
		if (*p == 0xf0)
			lock = true;
		else if (*p == 0x66)
			p66 = true, pfx = pfx == FPU_PFX_NONE ? FPU_PFX_66 : pfx;
		else if (*p == 0xf2)
			pfx = FPU_PFX_F2;
		else if (*p == 0xf3)
			pfx = FPU_PFX_F3;
		else if (*p == 0x67)
			a32 = true;
		else if (*p == 0x26 || *p == 0x2e || *p == 0x36 || *p == 0x3e)
			;
		else
			break;
	}
	if ((*p & 0xf0) == 0x40)
		rex = *p++ & 15;
	in.map = FPU_MAP_1B;
	if (*p == 0x0f) {
		p++;
		in.map = FPU_MAP_0F;
		if (*p == 0x38 || *p == 0x3a) {
			in.map = *p == 0x38 ? FPU_MAP_0F38 : FPU_MAP_0F3A;
			p++;
		}
	}
	in.op = *p++;
	in.pfx = (uint8_t)pfx;
	fl = fpu_opcode_flags(in.map, in.op, pfx);
	if (!(fl & FPU_OPF_VALID) || lock)
		return 6;
	in.rex = (uint8_t)rex;
	in.opsize = (rex & 8) ? 64 : p66 ? 16 : 32;
	if (fl & FPU_OPF_MODRM) {
		unsigned mod, rm;

		in.modrm = *p++;
		mod = in.modrm >> 6;
		rm = in.modrm & 7;
		if (mod != 3) {
			if (rm == 4) {
				uint8_t sib = *p++;
				unsigned base = (sib & 7) | ((rex & 1) << 3);
				unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2);

				if (idx != 4)
					ea += gpr[idx] << (sib >> 6);
				if ((sib & 7) == 5 && mod == 0) {
					int32_t d;

					memcpy(&d, p, 4);
					p += 4;
					ea += (uint64_t)(int64_t)d;
				} else {
					ea += gpr[base];
				}
			} else if (rm == 5 && mod == 0) {
				int32_t d;

				memcpy(&d, p, 4);
				p += 4;
				ea = (uint64_t)(int64_t)d;
				riprel = true;
			} else {
				ea = gpr[rm | ((rex & 1) << 3)];
			}
			if (mod == 1)
				ea += (uint64_t)(int64_t)(int8_t)*p++;
			else if (mod == 2) {
				int32_t d;

				memcpy(&d, p, 4);
				p += 4;
				ea += (uint64_t)(int64_t)d;
			}
		}
	}
	if (fl & FPU_OPF_IMM8)
		in.imm8 = *p++;
	if (riprel)
		ea += *rip + (uint64_t)(p - start);
	if (a32)
		ea &= 0xffffffffull;
	if (in.map == FPU_MAP_0F && in.op == 0xf7)
		ea = a32 ? gpr[7] & 0xffffffffull : gpr[7]; /* MASKMOVQ/MASKMOVDQU store to DS:rDI */
	in.addr = ea;
	in.rip = *rip;
	in.cs = 0x33;
	if ((in.modrm >> 6) != 3 && (fl & FPU_OPF_MODRM) && !canonical(ea))
		return 13;
	{
		int rc = fpu_exec(fc, &in);

		if (rc)
			return rc;
	}
	*rip += (uint64_t)(p - start);
	return 0;
}

void cd_engine_run_fpu(const struct cd_case *c, struct cd_result *res)
{
	static uint8_t code[0x1000], data[0x1000], stack[0x1000];
	static struct x86_fpu_state fs;
	struct fctx x = { code, data, stack, res, false };
	uint64_t gpr[16], rip = CD_TEST_ADDR, rflags = c->in.rflags;
	struct fpu_ctx fc = { 0 };
	uint64_t end = CD_TEST_ADDR + c->code_len;

	memset(res, 0, offsetof(struct cd_result, out));
	res->note[0] = 0;
	memset(code, 0xcc, sizeof(code));
	memcpy(code + (CD_TEST_ADDR - CD_CODE_BASE), c->code, c->code_len);
	memcpy(data, c->data, sizeof(data));
	memcpy(stack, c->stack, sizeof(stack));
	memcpy(gpr, c->in.gpr, sizeof(gpr));
	cd_fx_to_state(c->in.fx, &fs);
	fc.fs = &fs;
	fc.gpr = gpr;
	fc.rflags = &rflags;
	fc.cr0 = 0x80000033ull; /* PG PE MP ET NE, as Linux runs user code */
	fc.cr4 = (1ull << 9) | (1ull << 10); /* OSFXSR OSXMMEXCPT */
	fc.mode64 = true;
	fc.read = f_read;
	fc.write = f_write;
	fc.opaque = &x;
	res->outcome = CD_DONE;
	for (unsigned n = 0; rip != end; n++) {
		int rc;

		for (unsigned i = 0; i < c->nunits; i++)
			if (rip == CD_TEST_ADDR + c->units[i].off) {
				res->unit_ran |= 1u << i;
				res->unit_rcx[i] = gpr[1];
			}
		if (n > 1000 || rip < CD_TEST_ADDR || rip > end) {
			res->outcome = CD_TIMEOUT;
			break;
		}
		rc = step(&x, &fc, gpr, &rip);
		if (rc < 0 || x.faulted) {
			res->outcome = CD_MEMFAULT;
			break;
		}
		if (rc > 0) {
			res->outcome = CD_EXC;
			res->vector = rc;
			res->err = 0;
			break;
		}
	}
	memcpy(res->out.gpr, gpr, sizeof(gpr));
	res->out.rip = rip;
	res->out.rflags = rflags;
	cd_state_to_fx(&fs, res->out.fx);
	memcpy(res->data, data, sizeof(data));
	memcpy(res->stack, stack, sizeof(stack));
}

bool cd_engine_has_fpu(void)
{
	return true;
}
#else
void cd_engine_run_fpu(const struct cd_case *c, struct cd_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = CD_EXC;
	res->vector = 6;
	res->out = c->in;
	snprintf(res->note, sizeof(res->note), "no fpu/ in this build");
}

bool cd_engine_has_fpu(void)
{
	return false;
}
#endif
