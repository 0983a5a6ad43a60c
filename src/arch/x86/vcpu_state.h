/*
 * The architectural state of one x86-64 vCPU, in an engine-neutral form.
 * Both engines convert to and from it (boot set-up, register dumps on error,
 * snapshots and migration).
 */
#ifndef PETREL_ARCH_X86_VCPU_STATE_H
#define PETREL_ARCH_X86_VCPU_STATE_H

#include <stdint.h>

/* The software CPU's cpu.h defines the same names with the same (ModRM) values. */
#ifndef PETREL_CPU_X86_CPU_H
enum { X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
       X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15 };
#endif
enum { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS,
       X86_SEG_LDTR, X86_SEG_TR, X86_NR_SEGS };

struct x86_segment {
	uint64_t base;
	uint32_t limit;     /* byte-granular (already scaled by G) */
	uint16_t selector;
	uint8_t type;       /* descriptor type field (4 bits) */
	uint8_t s, dpl, present, avl, l, db, g;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

struct x86_vcpu_state {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	struct x86_segment seg[X86_NR_SEGS];
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
	/* MSRs commonly needed across engines */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, tsc;
};

/* Print the registers in a readable block (used on error exits). */
void x86_vcpu_state_dump(const struct x86_vcpu_state *s, void *file /* FILE * */);

#endif
