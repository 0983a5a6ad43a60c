/*
 * Glue between the CPU core's handler contract (insn.h) and fpu_exec(): the
 * decoder asks fpu_opcode_flags() which opcodes are ours and sends them all
 * to x86_h_fpu().
 */
#include "cpu/x86/insn.h"
#include "cpu/x86/fpu/fpu.h"

/* Memory callbacks: addresses are segment offsets of in->seg; the core's
 * helpers apply the segment (limit checks, FS/GS base) and the TLB. They
 * take at most 16 bytes, so larger operands (FXSAVE, FNSAVE) go in chunks;
 * a fault part-way through such a store leaves the earlier chunks written,
 * which the SDM permits for these instructions. */
struct fpu_glue {
	struct x86_cpu *cpu;
	unsigned seg;
	unsigned adsize;
};

static uint64_t wrap(const struct fpu_glue *g, uint64_t a)
{
	return g->adsize == 8 ? a : g->adsize == 4 ? (uint32_t)a : (uint16_t)a;
}

static int glue_read(void *opaque, uint64_t addr, void *buf, unsigned len)
{
	struct fpu_glue *g = opaque;

	for (unsigned off = 0; off < len; off += 16) {
		unsigned n = len - off < 16 ? len - off : 16;
		int r = x86_read_mem(g->cpu, g->seg, wrap(g, addr + off), (uint8_t *)buf + off, n);

		if (r)
			return -r;
	}
	return 0;
}

static int glue_write(void *opaque, uint64_t addr, const void *buf, unsigned len)
{
	struct fpu_glue *g = opaque;

	/* A large store (FNSTENV, FNSAVE, FXSAVE) that runs into a missing
	 * page faults before writing anything, reporting its last byte (as the
	 * host does). A read probe finds not-present pages; a write-protected
	 * second page still leaves the first chunks written (restartable, so
	 * only the intermediate memory differs). */
	if (len > 16) {
		uint8_t probe;
		int r = x86_read_mem(g->cpu, g->seg, wrap(g, addr + len - 1), &probe, 1);

		if (r)
			return -r;
	}

	for (unsigned off = 0; off < len; off += 16) {
		unsigned n = len - off < 16 ? len - off : 16;
		int r = x86_write_mem(g->cpu, g->seg, wrap(g, addr + off),
				      (const uint8_t *)buf + off, n);

		if (r)
			return -r;
	}
	return 0;
}

/* The handler decode.c gives every opcode fpu_opcode_flags() claims. */
int x86_h_fpu(struct x86_cpu *cpu, const struct x86_insn *in);

int x86_h_fpu(struct x86_cpu *cpu, const struct x86_insn *in)
{
	struct fpu_glue g = { .cpu = cpu, .seg = in->seg, .adsize = in->adsize };
	struct fpu_insn fi;
	struct fpu_ctx c;
	int rc;

	memset(&fi, 0, sizeof(fi));
	fi.map = in->map;
	fi.op = in->op;
	fi.modrm = in->modrm;
	fi.pfx = in->map == X86_MAP_1B ? FPU_PFX_NONE : in->mpfx;
	fi.rex = in->rex;
	fi.opsize = (uint8_t)(in->opsize * 8);
	fi.imm8 = (uint8_t)in->imm;
	if (in->map == X86_MAP_0F && in->op == 0xf7)
		fi.addr = wrap(&g, cpu->gpr[X86_RDI]); /* MASKMOVQ/MASKMOVDQU: seg:rDI */
	else if (in->mod != 3)
		fi.addr = x86_ea(cpu, in);
	fi.rip = cpu->rip - in->len; /* handlers run with RIP at the next instruction */
	fi.cs = cpu->seg[X86_CS].sel;
	fi.ds = in->seg < X86_NSEG ? cpu->seg[in->seg].sel : 0;

	/* FXSAVE/FXRSTOR check a non-canonical operand (#SS(0) for the stack
	 * segment, else #GP(0)) before their 16-byte alignment; a canonical,
	 * misaligned one is #GP(0) before any page fault (measured on the AMD
	 * host, cpu-diff family fxsave; the SDM gives no order). fpu_exec()
	 * sees only offsets, so the core checks here. */
	if (in->map == X86_MAP_0F && in->op == 0xae && in->mod != 3 && in->mpfx == X86_MP_NONE &&
	    ((in->modrm >> 3) & 7) <= 1 && !(cpu->cr0 & (FPU_CR0_EM | FPU_CR0_TS)) &&
	    cpu->mode == X86_MODE_LONG64) {
		uint64_t la;

		rc = x86_linear(cpu, in->seg, fi.addr, 1, &la);
		if (rc)
			return rc;
		if ((uint64_t)((int64_t)(la << 16) >> 16) != la)
			return x86_ss_fault(cpu, in->seg, x86_gp0(cpu));
	}

	x86_flags_sync(cpu); /* FCOMI/COMISS write, FCMOVcc reads ZF PF CF */
	c.fs = &cpu->fpu;
	c.gpr = cpu->gpr;
	c.rflags = &cpu->rflags;
	c.cr0 = cpu->cr0;
	c.cr4 = cpu->cr4;
	c.mode64 = cpu->mode == X86_MODE_LONG64;
	c.read = glue_read;
	c.write = glue_write;
	c.opaque = &g;

	rc = fpu_exec(&c, &fi);
	if (rc < 0)
		return -rc; /* the core's stop code from a memory access */
	if (rc == FPU_EXC_GP)
		return x86_gp0(cpu);
	if (rc)
		return x86_raise(cpu, (unsigned)rc, false, 0);
	return 0;
}
