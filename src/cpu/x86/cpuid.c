/*
 * CPUID, following docs/timers.md: the GenuineIntel vendor (Linux reads the
 * TSC and crystal frequencies from leaves 0x15/0x16 only for Intel) with a
 * family/model no Linux quirk table lists (family 6, model 0x2b), one
 * package of up to 64 cores (leaves 4 and 0xb), and
 * exactly the features the software CPU implements. No XSAVE/AVX, so leaf
 * 0xd is empty and OSXSAVE cannot be set.
 */
#include "cpu/x86/system.h"

void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	static const char brand[48] = "Petrel software x86-64 CPU";

	r[0] = r[1] = r[2] = r[3] = 0;
	switch (leaf) {
	case 0:
		r[0] = 0x16;
		memcpy(&r[1], "Genu", 4);
		memcpy(&r[3], "ineI", 4);
		memcpy(&r[2], "ntel", 4);
		break;
	case 1:
		r[0] = 0x000206b0; /* family 6, model 0x2b, stepping 0 */
		r[1] = 8u << 8 | (cpu->apic_id & 0xff) << 24; /* CLFLUSH 64 bytes */
		/* ECX: SSE3 SSSE3 CX16 x2APIC MOVBE POPCNT TSC_DEADLINE */
		r[2] = 1u << 0 | 1u << 9 | 1u << 13 | 1u << 21 | 1u << 22 | 1u << 23 | 1u << 24;
		/* EDX: FPU PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT PSE36
		 * CLFSH MMX FXSR SSE SSE2 */
		r[3] = 1u << 0 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 9 |
		       1u << 11 | 1u << 12 | 1u << 13 | 1u << 15 | 1u << 16 | 1u << 17 | 1u << 19 |
		       1u << 23 | 1u << 24 | 1u << 25 | 1u << 26;
		break;
	case 4:
		/* One 32 KiB L1 data cache; EAX[31:26] says up to 64 cores per
		 * package, so Linux puts every vCPU in one package (it derives
		 * the package count from this field and leaf 0xb). */
		if (sub == 0) {
			r[0] = 1u | 1u << 5 | 1u << 8 | 63u << 26;
			r[1] = 63u | 7u << 22; /* 64-byte lines, 8 ways */
			r[2] = 63;             /* 64 sets */
		}
		break;
	case 6:
		r[0] = 1u << 2; /* ARAT: the APIC timer runs in every C-state */
		break;
	case 7:
		if (sub == 0) {
			r[1] = 1u << 1 | 1u << 7 | 1u << 19; /* TSC_ADJUST, SMEP, ADX (ADCX/ADOX) */
			r[3] = 1u << 29; /* IA32_ARCH_CAPABILITIES */
		}
		break;
	case 0xb:
		/* x2APIC topology: one thread per core, all cores in package 0. */
		r[2] = sub & 0xff;
		r[3] = cpu->apic_id;
		if (sub == 0) {
			r[0] = 0;
			r[1] = 1;
			r[2] |= 1u << 8;
		} else if (sub == 1) {
			r[0] = 8;
			r[1] = 1;
			r[2] |= 2u << 8;
		}
		break;
	case 0x15:
		r[0] = 1;
		r[1] = 2;
		r[2] = 1000000000; /* crystal 1 GHz, TSC 2 GHz */
		break;
	case 0x16:
		r[0] = 2000;
		r[1] = 2000;
		r[2] = 1000;
		break;
	case 0x80000000:
		r[0] = 0x80000008;
		break;
	case 0x80000001:
		r[2] = 1u << 0 | 1u << 5; /* LAHF/SAHF in 64-bit mode, LZCNT */
		/* SYSCALL, NX, 1 GiB pages, RDTSCP, long mode */
		r[3] = 1u << 11 | 1u << 20 | 1u << 26 | 1u << 27 | 1u << 29;
		break;
	case 0x80000002: case 0x80000003: case 0x80000004:
		memcpy(r, brand + (leaf - 0x80000002) * 16, 16);
		break;
	case 0x80000007:
		r[3] = 1u << 8; /* invariant TSC */
		break;
	case 0x80000008:
		r[0] = 48 << 8 | X86_PHYS_BITS;
		break;
	}
}
