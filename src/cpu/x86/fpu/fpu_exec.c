/* Entry points: which opcodes are ours, and dispatch to x87 or SIMD. */
#include "cpu/x86/fpu/fpu_internal.h"

static bool is_0f_ours(unsigned op, unsigned pfx)
{
	if (op >= 0x10 && op <= 0x18)
		return true;
	if (op == 0x0d || (op >= 0x28 && op <= 0x2f))
		return true;
	if (op >= 0x50 && op <= 0x7f)
		return op < 0x78 || op > 0x7b; /* 78/79 are VMREAD/VMWRITE */
	if (op == 0xae)
		return pfx != FPU_PFX_F3; /* F3 0F AE: RDFSBASE family */
	if (op >= 0xc2 && op <= 0xc6)
		return true;
	return op >= 0xd0 && op <= 0xfe;
}

unsigned fpu_opcode_flags(unsigned map, unsigned op, unsigned pfx)
{
	const unsigned vm = FPU_OPF_VALID | FPU_OPF_MODRM;

	switch (map) {
	case FPU_MAP_1B:
		if (op >= 0xd8 && op <= 0xdf)
			return vm;
		return op == 0x9b ? FPU_OPF_VALID : 0;
	case FPU_MAP_0F:
		if (op == 0x77)
			return FPU_OPF_VALID;
		if (!is_0f_ours(op, pfx))
			return 0;
		if ((op >= 0x70 && op <= 0x73) || op == 0xc2 || op == 0xc4 || op == 0xc5 ||
		    op == 0xc6)
			return vm | FPU_OPF_IMM8;
		return vm;
	case FPU_MAP_0F38:
		return (op <= 0x0b || (op >= 0x1c && op <= 0x1e)) ? vm : 0;
	case FPU_MAP_0F3A:
		return op == 0x0f ? vm | FPU_OPF_IMM8 : 0;
	}
	return 0;
}

int fpu_exec(struct fpu_ctx *c, const struct fpu_insn *in)
{
	if (in->map == FPU_MAP_1B) {
		if (in->op == 0x9b)
			return x87_fwait(c);
		return x87_exec(c, in);
	}
	return sse_exec(c, in);
}
