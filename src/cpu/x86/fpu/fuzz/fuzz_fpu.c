/*
 * Fuzz target: arbitrary x87/MMX/SSE state and instruction fields from the
 * input, run through fpu_exec(). Guest-controlled state reaches the host's
 * x87 and SSE units, so the property checked is that nothing the guest can
 * set (unmasked exceptions, reserved MXCSR/FCW bits, odd encodings) ever
 * faults the host process, and that results stay within the state.
 */
#include <stdint.h>
#include <string.h>

#include "cpu/x86/fpu/fpu.h"

struct fz {
	uint8_t mem[512];
};

static int fz_read(void *opaque, uint64_t addr, void *buf, unsigned len)
{
	struct fz *f = opaque;

	/* Bounded fake memory: addresses wrap into the 512-byte buffer. */
	if (len > sizeof(f->mem))
		return -14;
	addr %= sizeof(f->mem) - len + 1;
	memcpy(buf, f->mem + addr, len);
	return 0;
}

static int fz_write(void *opaque, uint64_t addr, const void *buf, unsigned len)
{
	struct fz *f = opaque;

	if (len > sizeof(f->mem))
		return -14;
	addr %= sizeof(f->mem) - len + 1;
	memcpy(f->mem + addr, buf, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_fpu_state fs;
	uint64_t gpr[16] = { 0 }, rflags = 2;
	struct fz f;
	struct fpu_ctx c;
	size_t off = 0;

	if (size < sizeof(fs) + 16)
		return 0;
	memcpy(&fs, data, sizeof(fs));
	off += sizeof(fs);
	/* The state arrives through FXRSTOR/LDMXCSR in real life, which refuse
	 * reserved MXCSR bits; model that precondition. */
	fs.mxcsr &= MXCSR_MASK;
	memset(&f, 0, sizeof(f));
	memcpy(f.mem, data + off, (size - off < sizeof(f.mem) ? size - off : sizeof(f.mem)));
	c.fs = &fs;
	c.gpr = gpr;
	c.rflags = &rflags;
	c.cr0 = 1 | 2 | 0x20 | (data[off] & 0xc);
	c.cr4 = (data[off + 1] & 1) ? FPU_CR4_OSFXSR | FPU_CR4_OSXMMEXCPT : FPU_CR4_OSFXSR;
	c.mode64 = data[off + 1] & 2;
	c.read = fz_read;
	c.write = fz_write;
	c.opaque = &f;
	for (off += 2; off + 8 <= size; off += 8) {
		struct fpu_insn in;
		const uint8_t *p = data + off;

		memset(&in, 0, sizeof(in));
		in.map = p[0] & 3;
		in.op = p[1];
		if (in.map == FPU_MAP_1B)
			in.op = (p[1] & 7) | 0xd8;
		in.modrm = p[2];
		in.pfx = p[3] & 3;
		in.rex = (p[3] >> 4) & 0xf;
		in.opsize = (p[3] & 4) ? 16 : 32;
		in.imm8 = p[4];
		in.addr = p[5] | (uint64_t)p[6] << 8;
		if (!(fpu_opcode_flags(in.map, in.op, in.pfx) & FPU_OPF_VALID))
			continue;
		fpu_exec(&c, &in);
	}
	return 0;
}
