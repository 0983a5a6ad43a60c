/*
 * x87 instructions (D8..DF, FWAIT).
 *
 * Choice of arithmetic: the host is x86-64, whose x87 unit IS the
 * architecture emulated here. Rather than a soft-float (large, and only
 * approximately right on the transcendentals, whose exact results are
 * model-specific), every computational x87 instruction is executed by the
 * host x87 on the guest's own state: the guest's registers, control word
 * (precision and rounding control, exception masks), status word and tags
 * are loaded with FRSTOR, the very same instruction runs (the memory
 * operand redirected to a local buffer), and the state comes back with
 * FNSAVE. Results, exception flags, C0..C3, stack overflow/underflow, tags,
 * pseudo-denormal and unnormal handling and FSIN/FPATAN/F2XM1... are thus
 * bit-identical to the processor the differential tester compares against.
 * See x87_host.S for how a pending unmasked exception is kept from ever
 * trapping in the host (only non-waiting instructions follow the op, and we
 * raise #MF ourselves before a waiting instruction when one is pending).
 *
 * Done in C: the environment formats (FLDENV/FNSTENV/FRSTOR/FNSAVE, which
 * depend on the guest's mode and operand size), FNSTSW AX, the #NM/#MF
 * checks, the decision whether a store reaches guest memory (not after an
 * unmasked IE/DE/OE/UE), and FIP/FDP/FOP bookkeeping. Guest memory is written
 * before the new state is committed, so a faulting store leaves the x87
 * state untouched and the instruction can restart.
 *
 * Unmasked exceptions set ES and B as the hardware does; the next waiting
 * instruction returns #MF (vector 16). CR0.NE=0 (external FERR#) is not
 * modelled: #MF is raised in that case too.
 */
#include "cpu/x86/fpu/fpu_internal.h"

void fpu_x87_host_run(void *mem, void *env, unsigned idx, uint64_t *flags);

enum x87_kind {
	K_UD,
	K_HOST,       /* register form or memory load, runs on the host */
	K_HOST_STORE, /* memory store through the host */
	K_LDENV, K_STENV, K_RSTOR, K_SAVE, K_STSW_AX, K_NOP_NOWAIT,
};

#define RF_CF 0x001u
#define RF_PF 0x004u
#define RF_AF 0x010u
#define RF_ZF 0x040u
#define RF_SF 0x080u
#define RF_OF 0x800u

/* Memory operand size for each (opcode, reg) memory form; 0 = not a plain
 * load/store. */
static const uint8_t mem_size[8][8] = {
	/* D8 */ { 4, 4, 4, 4, 4, 4, 4, 4 },
	/* D9 */ { 4, 0, 4, 4, 0, 2, 0, 2 },
	/* DA */ { 4, 4, 4, 4, 4, 4, 4, 4 },
	/* DB */ { 4, 4, 4, 4, 0, 10, 0, 10 },
	/* DC */ { 8, 8, 8, 8, 8, 8, 8, 8 },
	/* DD */ { 8, 8, 8, 8, 0, 0, 0, 2 },
	/* DE */ { 2, 2, 2, 2, 2, 2, 2, 2 },
	/* DF */ { 2, 2, 2, 2, 10, 8, 10, 8 },
};

static enum x87_kind classify_mem(unsigned op, unsigned reg, bool *store, bool *control,
				  bool *waits)
{
	*store = false;
	*control = false;
	*waits = true;
	switch (op) {
	case 0xd9:
		switch (reg) {
		case 1: return K_UD;
		case 2: case 3: *store = true; return K_HOST_STORE;
		case 4: *control = true; return K_LDENV;
		case 5: *control = true; return K_HOST; /* FLDCW */
		case 6: *control = true; *waits = false; return K_STENV;
		case 7: *control = true; *waits = false; *store = true; return K_HOST_STORE;
		}
		return K_HOST;
	case 0xdb:
		if (reg == 4 || reg == 6)
			return K_UD;
		if (reg == 1 || reg == 2 || reg == 3 || reg == 7) {
			*store = true;
			return K_HOST_STORE;
		}
		return K_HOST;
	case 0xdd:
		switch (reg) {
		case 1: case 2: case 3: *store = true; return K_HOST_STORE;
		case 4: *control = true; return K_RSTOR;
		case 5: return K_UD;
		case 6: *control = true; *waits = false; return K_SAVE;
		case 7: *control = true; *waits = false; *store = true; return K_HOST_STORE;
		}
		return K_HOST;
	case 0xdf:
		if (reg == 1 || reg == 2 || reg == 3 || reg == 6 || reg == 7) {
			*store = true;
			return K_HOST_STORE;
		}
		return K_HOST;
	default: /* D8 DA DC DE: arithmetic and compares with a memory source */
		return K_HOST;
	}
}

/* Register forms (mod = 3); m = modrm & 0x3f. Undocumented aliases that
 * Intel and AMD both execute (FCOM2, FXCH4, FFREEP, FSTP8...) are accepted:
 * the host runs them, so they behave as on the reference processor. */
static enum x87_kind classify_reg(unsigned op, unsigned m, bool *control, bool *waits)
{
	*control = false;
	*waits = true;
	switch (op) {
	case 0xd8: case 0xdc:
		return K_HOST;
	case 0xd9:
		/* D9 D8+i: FSTP1, an alias of DD D8+i */
		if (m < 0x11 || (m >= 0x18 && m < 0x20) || m == 0x20 || m == 0x21 || m == 0x24 || m == 0x25 ||
		    (m >= 0x28 && m <= 0x2e) || m >= 0x30)
			return K_HOST;
		return K_UD;
	case 0xda:
		return (m < 0x20 || m == 0x29) ? K_HOST : K_UD;
	case 0xdb:
		if (m < 0x20 || (m >= 0x28 && m < 0x38))
			return K_HOST;
		if (m == 0x20 || m == 0x21 || m == 0x24) { /* FNENI FNDISI FNSETPM */
			*control = true;
			*waits = false;
			return K_NOP_NOWAIT;
		}
		if (m == 0x22 || m == 0x23) { /* FNCLEX FNINIT */
			*control = true;
			*waits = false;
			return K_HOST;
		}
		return K_UD;
	case 0xdd:
		return m < 0x30 ? K_HOST : K_UD;
	case 0xde:
		return (m < 0x18 || m == 0x19 || m >= 0x20) ? K_HOST : K_UD;
	case 0xdf:
		if (m == 0x20) {
			*control = true;
			*waits = false;
			return K_STSW_AX;
		}
		return (m < 0x20 || (m >= 0x28 && m < 0x38)) ? K_HOST : K_UD;
	}
	return K_UD;
}

unsigned x87_full_tag(const struct x87_reg *r, bool valid)
{
	unsigned exp = r->sign_exp & 0x7fff;

	if (!valid)
		return 3;
	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return r->signif ? 2 : 1;
	return (r->signif >> 63) ? 0 : 2; /* unnormals are special */
}

static uint16_t full_tag_word(const struct x86_fpu_state *fs)
{
	uint16_t tw = 0;

	for (unsigned i = 0; i < 8; i++)
		tw |= x87_full_tag(&fs->st[i], (fs->ftw >> i) & 1) << (2 * i);
	return tw;
}

static uint8_t abridge(uint16_t tw)
{
	uint8_t a = 0;

	for (unsigned i = 0; i < 8; i++)
		if (((tw >> (2 * i)) & 3) != 3)
			a |= 1u << i;
	return a;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void regs_to_stack_order(const struct x86_fpu_state *fs, uint8_t *dst)
{
	unsigned top = fpu_top(fs);

	for (unsigned i = 0; i < 8; i++) {
		const struct x87_reg *r = &fs->st[(top + i) & 7];

		memcpy(dst + 10 * i, &r->signif, 8);
		memcpy(dst + 10 * i + 8, &r->sign_exp, 2);
	}
}

static void regs_from_stack_order(struct x86_fpu_state *fs, const uint8_t *src)
{
	unsigned top = fpu_top(fs);

	for (unsigned i = 0; i < 8; i++) {
		struct x87_reg *r = &fs->st[(top + i) & 7];

		memcpy(&r->signif, src + 10 * i, 8);
		memcpy(&r->sign_exp, src + 10 * i + 8, 2);
		memset(r->pad, 0, sizeof(r->pad));
	}
}

/* The environment in the format the guest's mode and operand size select
 * (SDM Vol 1, 8.1.10). Returns its size: 14 or 28. */
static unsigned env_store(const struct fpu_ctx *c, bool o16, uint8_t *e)
{
	const struct x86_fpu_state *fs = c->fs;
	bool real = !(c->cr0 & 1);
	uint16_t tw = full_tag_word(fs);

	if (o16) {
		memset(e, 0, 14);
		put16(e, fs->fcw);
		put16(e + 2, fs->fsw);
		put16(e + 4, tw);
		put16(e + 6, (uint16_t)fs->fip);
		if (real) {
			put16(e + 8, (uint16_t)((((fs->fip >> 16) & 0xf) << 12) | (fs->fop & 0x7ff)));
			put16(e + 10, (uint16_t)fs->fdp);
			put16(e + 12, (uint16_t)(((fs->fdp >> 16) & 0xf) << 12));
		} else {
			put16(e + 8, fs->fcs);
			put16(e + 10, (uint16_t)fs->fdp);
			put16(e + 12, fs->fds);
		}
		return 14;
	}
	memset(e, 0, 28);
	put16(e, fs->fcw);
	put16(e + 2, 0xffff);
	put16(e + 4, fs->fsw);
	put16(e + 6, 0xffff);
	put16(e + 8, tw);
	put16(e + 10, 0xffff);
	if (real) {
		put16(e + 12, (uint16_t)fs->fip);
		put16(e + 14, 0xffff);
		put32(e + 16, (uint32_t)((((fs->fip >> 16) & 0xffff) << 12) | (fs->fop & 0x7ff)));
		put16(e + 20, (uint16_t)fs->fdp);
		put16(e + 22, 0xffff);
		put32(e + 24, (uint32_t)(((fs->fdp >> 16) & 0xffff) << 12));
	} else {
		put32(e + 12, (uint32_t)fs->fip);
		put32(e + 16, fs->fcs | ((uint32_t)(fs->fop & 0x7ff) << 16));
		put32(e + 20, (uint32_t)fs->fdp);
		put32(e + 24, fs->fds | 0xffff0000u);
	}
	return 28;
}

/* Everything in a loaded environment is guest data; all values are
 * representable (only the tag word is reduced to empty/non-empty, as
 * FXSAVE-era processors do), so nothing needs rejecting. */
static void env_load(struct fpu_ctx *c, bool o16, const uint8_t *e)
{
	struct x86_fpu_state *fs = c->fs;
	bool real = !(c->cr0 & 1);

	if (o16) {
		fs->fcw = get16(e);
		fs->fsw = get16(e + 2);
		fs->ftw = abridge(get16(e + 4));
		if (real) {
			uint16_t w = get16(e + 8);

			fs->fip = get16(e + 6) | ((uint64_t)(w >> 12) << 16);
			fs->fop = w & 0x7ff;
			fs->fdp = get16(e + 10) | ((uint64_t)(get16(e + 12) >> 12) << 16);
		} else {
			fs->fip = get16(e + 6);
			fs->fcs = get16(e + 8);
			fs->fdp = get16(e + 10);
			fs->fds = get16(e + 12);
		}
		return;
	}
	fs->fcw = get16(e);
	fs->fsw = get16(e + 4);
	fs->ftw = abridge(get16(e + 8));
	if (real) {
		uint32_t w = get32(e + 16);

		fs->fip = get16(e + 12) | ((uint64_t)((w >> 12) & 0xffff) << 16);
		fs->fop = w & 0x7ff;
		fs->fdp = get16(e + 20) | ((uint64_t)((get32(e + 24) >> 12) & 0xffff) << 16);
	} else {
		fs->fip = get32(e + 12);
		fs->fcs = get16(e + 16);
		fs->fop = (get32(e + 16) >> 16) & 0x7ff;
		fs->fdp = get32(e + 20);
		fs->fds = get16(e + 24);
	}
}

/* After loading a control/status word from memory, as the hardware does:
 * reserved FCW bits read back as 0 (bit 6 as 1), and ES/B reflect whether
 * an unmasked exception flag is set. */
void x87_normalize(struct x86_fpu_state *fs)
{
	fs->fcw = (fs->fcw & 0x1f3f) | 0x40;
	if (fs->fsw & ~fs->fcw & 0x3f)
		fs->fsw |= FSW_ES | FSW_B;
	else
		fs->fsw &= ~(FSW_ES | FSW_B);
}

static void fninit(struct x86_fpu_state *fs)
{
	fs->fcw = X87_FCW_DEFAULT;
	fs->fsw = 0;
	fs->ftw = 0;
	fs->fop = 0;
	fs->fip = 0;
	fs->fdp = 0;
	fs->fcs = 0;
	fs->fds = 0;
}

/* The x87 part of the state an instruction produces, committed once the
 * instruction can no longer fault. */
struct x87_result {
	uint16_t fcw, fsw, ftw;
	struct x87_reg st[8];
};

/* Run one instruction on the host. flags is NULL unless the instruction
 * reads or writes RFLAGS. */
static void host_run(const struct x86_fpu_state *fs, unsigned idx, uint8_t *mem,
		     uint64_t *flags, struct x87_result *res)
{
	/* Only the x87 part is filled in: FXRSTOR's view of FOP/FIP/FDP and
	 * the XMM area is scratch (the host's XMM registers are caller-saved
	 * here), and the runner supplies MXCSR. */
	uint8_t img[512] __attribute__((aligned(16)));
	unsigned top = fpu_top(fs);

	memcpy(img, &fs->fcw, 2);
	memcpy(img + 2, &fs->fsw, 2);
	img[4] = (uint8_t)fs->ftw;
	for (unsigned i = 0; i < 8; i++) {
		const struct x87_reg *r = &fs->st[(top + i) & 7];

		memcpy(img + 32 + 16 * i, &r->signif, 8);
		memcpy(img + 40 + 16 * i, &r->sign_exp, 2);
	}
	fpu_x87_host_run(mem, img, idx, flags);
	memcpy(&res->fcw, img, 2);
	memcpy(&res->fsw, img + 2, 2);
	res->ftw = img[4];
	top = (res->fsw >> 11) & 7;
	for (unsigned i = 0; i < 8; i++) {
		struct x87_reg *r = &res->st[(top + i) & 7];

		memcpy(&r->signif, img + 32 + 16 * i, 8);
		memcpy(&r->sign_exp, img + 40 + 16 * i, 2);
		r->pad[0] = r->pad[1] = r->pad[2] = 0;
	}
}

/* FCMOVcc (DA/DB C0-DF) read, FCOMI/FUCOMI(P) (DB/DF E8-F7) write RFLAGS. */
static bool uses_flags(unsigned op, unsigned modrm, bool mem)
{
	unsigned m = modrm & 0x3f;

	if (mem || (op != 0xda && op != 0xdb && op != 0xdf))
		return false;
	return (op != 0xdf && m < 0x20) || (op != 0xda && m >= 0x28 && m < 0x38);
}

int x87_fwait(struct fpu_ctx *c)
{
	/* WAIT raises #NM only when both MP and TS are set. */
	if ((c->cr0 & (FPU_CR0_MP | FPU_CR0_TS)) == (FPU_CR0_MP | FPU_CR0_TS))
		return FPU_EXC_NM;
	return x87_pending(c->fs) ? FPU_EXC_MF : 0;
}

int x87_exec(struct fpu_ctx *c, const struct fpu_insn *in)
{
	struct x86_fpu_state *fs = c->fs;
	struct x87_result after;
	unsigned op = in->op, reg = (in->modrm >> 3) & 7, idx, size = 0;
	bool mem = !modrm_is_reg(in), store = false, control, waits;
	enum x87_kind kind;
	uint8_t buf[16];
	uint8_t img[108];
	uint64_t fl;
	int rc;

	if (c->cr0 & (FPU_CR0_EM | FPU_CR0_TS))
		return FPU_EXC_NM;
	if (op < 0xd8 || op > 0xdf)
		return FPU_EXC_UD;
	if (mem)
		kind = classify_mem(op, reg, &store, &control, &waits);
	else
		kind = classify_reg(op, in->modrm & 0x3f, &control, &waits);
	if (kind == K_UD)
		return FPU_EXC_UD;
	if (waits && x87_pending(fs))
		return FPU_EXC_MF;

	switch (kind) {
	case K_NOP_NOWAIT:
		return 0;
	case K_STSW_AX:
		c->gpr[0] = (c->gpr[0] & ~0xffffull) | fs->fsw;
		return 0;
	case K_STENV:
		size = env_store(c, in->opsize == 16, img);
		rc = c->write(c->opaque, in->addr, img, size);
		if (rc)
			return rc;
		fs->fcw |= 0x3f; /* FNSTENV masks all exceptions afterwards */
		return 0;
	case K_SAVE:
		size = env_store(c, in->opsize == 16, img);
		regs_to_stack_order(fs, img + size);
		rc = c->write(c->opaque, in->addr, img, size + 80);
		if (rc)
			return rc;
		fninit(fs);
		return 0;
	case K_LDENV:
	case K_RSTOR:
		size = in->opsize == 16 ? 14 : 28;
		rc = c->read(c->opaque, in->addr, img, size + (kind == K_RSTOR ? 80 : 0));
		if (rc)
			return rc;
		env_load(c, in->opsize == 16, img);
		if (kind == K_RSTOR)
			regs_from_stack_order(fs, img + size);
		x87_normalize(fs);
		return 0;
	default:
		break;
	}

	if (mem) {
		size = mem_size[op - 0xd8][reg];
		idx = 512 + (op - 0xd8) * 8 + reg;
		if (!store) {
			rc = c->read(c->opaque, in->addr, buf, size);
			if (rc)
				return rc;
		}
	} else {
		idx = (op - 0xd8) * 64 + (in->modrm & 0x3f);
	}
	/* Only the condition flags FCMOVcc reads go in: nothing that could
	 * trap in the host (TF, AC). */
	fl = 0x2 | (*c->rflags & (RF_CF | RF_PF | RF_ZF));
	host_run(fs, idx, buf, uses_flags(op, in->modrm, mem) ? &fl : NULL, &after);

	if (store) {
		/* An unmasked IE/DE/OE/UE raised by this instruction (waiting
		 * stores start with none pending; FNSTCW/FNSTSW never suppress)
		 * suppresses the store, but the hardware
		 * still checks the destination first: a page fault wins over the
		 * deferred #MF. Rewriting the old bytes gives the same faults. */
		if (!control &&
		    (after.fsw & ~after.fcw & (FSW_IE | FSW_DE | FSW_ZE | FSW_OE | FSW_UE))) {
			rc = c->read(c->opaque, in->addr, buf, size);
			if (rc)
				return rc;
		}
		rc = c->write(c->opaque, in->addr, buf, size);
		if (rc)
			return rc;
	}
	fs->fcw = after.fcw;
	fs->fsw = after.fsw;
	fs->ftw = after.ftw;
	memcpy(fs->st, after.st, sizeof(fs->st));
	if (op == 0xdb && !mem && (in->modrm & 0x3f) == 0x23)
		fninit(fs); /* FNINIT: also FIP/FDP/FOP */
	if (!mem && (op == 0xdb || op == 0xdf) && (in->modrm & 0x3f) >= 0x28 &&
	    (in->modrm & 0x3f) < 0x38) {
		/* FCOMI/FUCOMI(P): ZF PF CF from the compare, OF SF AF cleared */
		uint64_t m = RF_CF | RF_PF | RF_ZF | RF_OF | RF_SF | RF_AF;

		*c->rflags = (*c->rflags & ~m) | (fl & m);
	}
	if (!control) {
		fs->fop = ((op & 7) << 8) | in->modrm;
		fs->fip = in->rip;
		fs->fcs = in->cs;
		if (mem) {
			fs->fdp = in->addr;
			fs->fds = in->ds;
		}
	}
	return 0;
}
