/*
 * Flag instructions, CPUID, RDTSC, NOPs, UD2, HLT, IN/OUT, the BCD
 * adjustments (not in 64-bit mode).
 *
 * Part 1 I/O privilege: CPL > IOPL is #GP(0); the TSS I/O bitmap is part 2.
 */
#include <x86intrin.h>

#include "cpu/x86/system.h"

static int h_flag(struct x86_cpu *cpu, const struct x86_insn *in)
{
	switch (in->op) {
	case 0xf5: x86_flags_set(cpu, X86_CF, x86_get_cf(cpu) ? 0 : X86_CF); break;
	case 0xf8: x86_flags_set(cpu, X86_CF, 0); break;
	case 0xf9: x86_flags_set(cpu, X86_CF, X86_CF); break;
	case 0xfc: cpu->rflags &= ~(uint64_t)X86_DF; break;
	case 0xfd: cpu->rflags |= X86_DF; break;
	}
	return 0;
}

static bool io_allowed(struct x86_cpu *cpu)
{
	return cpu->mode == X86_MODE_REAL16 || cpu->cpl <= ((cpu->rflags >> 12) & 3);
}

static int h_cli_sti(struct x86_cpu *cpu, const struct x86_insn *in)
{
	if (!io_allowed(cpu))
		return x86_gp0(cpu);
	if (in->op == 0xfa) {
		cpu->rflags &= ~(uint64_t)X86_IF;
	} else if (!(cpu->rflags & X86_IF)) {
		cpu->rflags |= X86_IF;
		return X86_CONT_SHADOW; /* interrupt.c: one-instruction shadow */
	}
	return 0;
}

static int h_hlt(struct x86_cpu *cpu, const struct x86_insn *in)
{
	if (cpu->cpl != 0)
		return x86_gp0(cpu);
	return X86_STOP_HLT;
}

static int h_nop(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return 0;
}

static int h_ud(struct x86_cpu *cpu, const struct x86_insn *in)
{
	return x86_ud(cpu);
}

static int h_cpuid(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint32_t r[4];

	x86_cpuid(cpu, (uint32_t)cpu->gpr[X86_RAX], (uint32_t)cpu->gpr[X86_RCX], r); /* cpuid.c */
	cpu->gpr[X86_RAX] = r[0];
	cpu->gpr[X86_RBX] = r[1];
	cpu->gpr[X86_RCX] = r[2];
	cpu->gpr[X86_RDX] = r[3];
	return 0;
}

static int h_rdtsc(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint64_t t;

	/* CR4.TSD: the kernel may reserve the TSC (prctl PR_SET_TSC). */
	if ((cpu->cr4 & X86_CR4_TSD) && cpu->cpl != 0)
		return x86_gp0(cpu);
	t = x86_tsc_now(cpu);

	cpu->gpr[X86_RAX] = (uint32_t)t;
	cpu->gpr[X86_RDX] = t >> 32;
	return 0;
}

/* E4/E5 EC/ED IN, E6/E7 EE/EF OUT */
static int h_io(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint16_t port = (in->op & 8) ? (uint16_t)cpu->gpr[X86_RDX] : (uint16_t)in->imm;
	unsigned size = in->opsize;
	uint32_t v;
	int rc;

	if (!io_allowed(cpu))
		return x86_gp0(cpu);
	if (in->op & 2)
		return x86_pio_out(cpu, port, size, (uint32_t)x86_getreg(cpu, X86_RAX, size));
	rc = x86_pio_in(cpu, port, size, &v);
	if (rc)
		return rc;
	x86_setreg(cpu, X86_RAX, size, v);
	return 0;
}

/* BCD adjustments, following the SDM pseudo-code. Undefined flags: OF for
 * DAA/DAS, OF SF ZF PF for AAA/AAS (we compute them from AL), OF AF CF for
 * AAM/AAD (cleared). */
static int h_bcd(struct x86_cpu *cpu, const struct x86_insn *in)
{
	uint32_t f = x86_status_flags(cpu);
	uint8_t al = (uint8_t)cpu->gpr[X86_RAX], ah = (uint8_t)(cpu->gpr[X86_RAX] >> 8);
	uint8_t old_al = al;
	bool cf = f & X86_CF, af = f & X86_AF, ncf = false, naf = false;

	switch (in->op) {
	case 0x27: /* DAA */
		if ((al & 0xf) > 9 || af) {
			ncf = cf || al > 0xf9;
			al += 6;
			naf = true;
		}
		if (old_al > 0x99 || cf) {
			al += 0x60;
			ncf = true;
		} else {
			ncf = false;
		}
		break;
	case 0x2f: /* DAS */
		if ((al & 0xf) > 9 || af) {
			ncf = cf || al < 6;
			al -= 6;
			naf = true;
		}
		if (old_al > 0x99 || cf) {
			al -= 0x60;
			ncf = true;
		}
		break;
	case 0x37: /* AAA */
	case 0x3f: /* AAS */
		if ((al & 0xf) > 9 || af) {
			uint16_t ax = al | ah << 8;

			ax = in->op == 0x37 ? ax + 0x106 : ax - 6;
			al = (uint8_t)ax;
			ah = (uint8_t)(ax >> 8);
			if (in->op == 0x3f)
				ah -= 1;
			naf = ncf = true;
		}
		al &= 0xf;
		break;
	case 0xd4: /* AAM: the immediate is the guest's divisor, 0 is #DE */
		if ((uint8_t)in->imm == 0)
			return x86_raise(cpu, X86_EXC_DE, false, 0);
		ah = al / (uint8_t)in->imm;
		al = al % (uint8_t)in->imm;
		break;
	case 0xd5: /* AAD */
		al = (uint8_t)(al + ah * (uint8_t)in->imm);
		ah = 0;
		break;
	}
	x86_setreg(cpu, X86_RAX, 2, al | ah << 8);
	x86_flags_set(cpu, X86_STATUS_FLAGS,
		      x86_szp(al, 1) | (ncf ? X86_CF : 0) | (naf ? X86_AF : 0));
	return 0;
}

#define A X86_MP_ANY
#define M X86_F_MODRM
#define B X86_F_BYTE

static const struct x86_opdesc ops[] = {
	{ 0, 0xf5, A, -1, 0, 0, h_flag },
	{ 0, 0xf8, A, -1, 0, 0, h_flag },
	{ 0, 0xf9, A, -1, 0, 0, h_flag },
	{ 0, 0xfc, A, -1, 0, 0, h_flag },
	{ 0, 0xfd, A, -1, 0, 0, h_flag },
	{ 0, 0xfa, A, -1, 0, 0, h_cli_sti },
	{ 0, 0xfb, A, -1, 0, 0, h_cli_sti },
	{ 0, 0xf4, A, -1, 0, X86_F_BRANCH, h_hlt },
	{ 1, 0x1f, A, -1, 0, M, h_nop },
	{ 1, 0x19, A, -1, 0, M, h_nop },
	{ 1, 0x1a, A, -1, 0, M, h_nop },
	{ 1, 0x1b, A, -1, 0, M, h_nop },
	{ 1, 0x1c, A, -1, 0, M, h_nop },
	{ 1, 0x1d, A, -1, 0, M, h_nop },
	{ 1, 0x1e, A, -1, 0, M, h_nop },
	{ 1, 0x0b, A, -1, 0, 0, h_ud },
	{ 1, 0xb9, A, -1, 0, M, h_ud },
	{ 1, 0xff, A, -1, 0, M, h_ud },
	{ 1, 0xa2, A, -1, 0, 0, h_cpuid },
	{ 1, 0x31, A, -1, 0, 0, h_rdtsc },
	{ 0, 0xe4, A, -1, 0, B | X86_F_IMM8U, h_io },
	{ 0, 0xe5, A, -1, 0, X86_F_IMM8U | X86_F_OS32, h_io },
	{ 0, 0xe6, A, -1, 0, B | X86_F_IMM8U, h_io },
	{ 0, 0xe7, A, -1, 0, X86_F_IMM8U | X86_F_OS32, h_io },
	{ 0, 0xec, A, -1, 0, B, h_io },
	{ 0, 0xed, A, -1, 0, X86_F_OS32, h_io },
	{ 0, 0xee, A, -1, 0, B, h_io },
	{ 0, 0xef, A, -1, 0, X86_F_OS32, h_io },
	{ 0, 0x27, A, -1, 0, X86_F_INV64, h_bcd },
	{ 0, 0x2f, A, -1, 0, X86_F_INV64, h_bcd },
	{ 0, 0x37, A, -1, 0, X86_F_INV64, h_bcd },
	{ 0, 0x3f, A, -1, 0, X86_F_INV64, h_bcd },
	{ 0, 0xd4, A, -1, 0, X86_F_IMM8U | X86_F_INV64, h_bcd },
	{ 0, 0xd5, A, -1, 0, X86_F_IMM8U | X86_F_INV64, h_bcd },
};

const struct x86_optable x86_tab_misc = { ops, sizeof(ops) / sizeof(ops[0]) };
