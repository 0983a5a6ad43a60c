/*
 * Software CPU part 2, internal contract: paging (paging.c), event delivery
 * (interrupt.c), descriptors (segment.c), MSRs (msr.c), CPUID (cpuid.c) and
 * the system instructions (exec_system.c).
 */
#ifndef PETREL_CPU_X86_SYSTEM_H
#define PETREL_CPU_X86_SYSTEM_H

#include "cpu/x86/exec.h"

/* More control register bits. */
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR4_TSD (1ull << 2)
#define X86_CR4_DE (1ull << 3)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_MCE (1ull << 6)
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_PCE (1ull << 8)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_CR4_SMEP (1ull << 20)
#define X86_CR4_SMAP (1ull << 21)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_NXE (1ull << 11)

/* Page-table entry bits. */
#define X86_PTE_P (1ull << 0)
#define X86_PTE_RW (1ull << 1)
#define X86_PTE_US (1ull << 2)
#define X86_PTE_A (1ull << 5)
#define X86_PTE_D (1ull << 6)
#define X86_PTE_PS (1ull << 7)
#define X86_PTE_G (1ull << 8)
#define X86_PTE_XD (1ull << 63)

/* #PF error code bits. */
#define X86_PF_P (1u << 0)
#define X86_PF_W (1u << 1)
#define X86_PF_U (1u << 2)
#define X86_PF_RSVD (1u << 3)
#define X86_PF_I (1u << 4)

/* MAXPHYADDR reported by CPUID 0x80000008. */
#define X86_PHYS_BITS 40

/* cpu->tlb_flags[][] */
#define X86_TLBF_GLOBAL 1 /* kept across CR3 writes */
#define X86_TLBF_2M 2     /* piece of a 2 MiB/4 MiB page */
#define X86_TLBF_1G 4     /* piece of a 1 GiB page */

/* x86_tlb_fill() *gpa markers when it returns NULL without MMIO. */
#define X86_GPA_FAULT (~2ull)  /* exception recorded (cpu->exc_*) */
#define X86_GPA_MEMERR (~3ull) /* page tables outside RAM (cpu->fault_*) */
static inline int x86_gpa_rc(uint64_t gpa)
{
	return gpa == X86_GPA_FAULT ? X86_STOP_EXCEPTION : X86_STOP_MEM_ERROR;
}
static inline bool x86_gpa_bad(uint64_t gpa)
{
	return gpa == X86_GPA_FAULT || gpa == X86_GPA_MEMERR;
}

/* x86_translate() *flags */
#define X86_XLAT_NOCACHE 0x100 /* do not put the translation in the TLB */

/* ---------------- paging.c ---------------- */

/* la -> pa for an access of kind acc at the current privilege (or
 * supervisor when cpu->implicit_sv). Sets A/D bits. Returns 0, or
 * X86_STOP_EXCEPTION (#PF recorded, cpu->exc_addr = la) or
 * X86_STOP_MEM_ERROR (a paging structure is not RAM). */
int x86_translate(struct x86_cpu *cpu, uint64_t la, enum x86_access acc, uint64_t *pa,
		  unsigned *flags);
/* Flushes that also forget linear-keyed code lookups. */
void x86_tlb_flush_all(struct x86_cpu *cpu);
void x86_tlb_flush_nonglobal(struct x86_cpu *cpu);
void x86_tlb_flush_page(struct x86_cpu *cpu, uint64_t la);
/* Called by x86_update_mode(): user <-> supervisor changes flush the TLB. */
void x86_paging_cpl_changed(struct x86_cpu *cpu);
bool x86_paging_on(const struct x86_cpu *cpu);
/* x86_flush_tlb(): the memory map may have changed; forget every host
 * pointer paging.c keeps. */
void x86_paging_forget(struct x86_cpu *cpu);

/* exec.c: forget the direct-mapped linear RIP -> block cache. */
void x86_cc_forget_linear(struct x86_cpu *cpu);

/* ---------------- interrupt.c ---------------- */

enum x86_event_kind {
	X86_EV_EXC,  /* exception (fault or trap), incl. INT1 */
	X86_EV_HW,   /* external interrupt */
	X86_EV_NMI,
	X86_EV_SOFT, /* INT n, INT3, INTO: gate DPL checked against CPL */
};
/* Deliver one event with the nested-fault rules (#DF, triple fault).
 * Returns 0, X86_STOP_SHUTDOWN or X86_STOP_MEM_ERROR. */
int x86_deliver_event(struct x86_cpu *cpu, unsigned vector, enum x86_event_kind kind,
		      bool has_error, uint32_t error);
/* x86_run's exception path: `in` is the faulting instruction or NULL (a
 * fetch fault). Delivers when cpu->deliver_exceptions; returns 0 to go on
 * or the stop code to return. */
int x86_exception(struct x86_cpu *cpu, const struct x86_insn *in);
/* X86_CONT_SHADOW: handler return for STI (IF 0 -> 1): the executor ends
 * the block and blocks interrupts for one instruction. */
#define X86_CONT_SHADOW 101

/* ---------------- segment.c ---------------- */

/* Descriptor of sel (GDT or LDT) as two dwords; limit violations raise
 * vector with error code (sel & ~3) | ext. Implicit supervisor reads. */
int x86_desc_read(struct x86_cpu *cpu, uint16_t sel, uint32_t d[2], unsigned vector,
		  uint32_t ext);
int x86_desc_write_hi(struct x86_cpu *cpu, uint16_t sel, uint32_t hi);
/* Hidden segment state from a descriptor. */
void x86_desc_unpack(const uint32_t d[2], uint16_t sel, struct x86_seg *s);
/* Implicit supervisor-mode linear accesses (tables, TSS, stacks). */
int x86_sys_read(struct x86_cpu *cpu, uint64_t la, void *buf, unsigned len);
int x86_sys_write(struct x86_cpu *cpu, uint64_t la, const void *buf, unsigned len);
/* Privilege checks of MOV/POP Sreg for a present code/data descriptor. */
int x86_seg_priv_check(struct x86_cpu *cpu, unsigned seg, uint16_t sel, uint16_t attr);
/* Far JMP/CALL/RET to a code segment without a privilege change: RPL
 * above CPL (an outer return, not modelled), a non-conforming segment at
 * another DPL or a conforming one above CPL, L+D in IA-32e mode: #GP(sel). */
int x86_far_cs_check(struct x86_cpu *cpu, uint16_t sel, uint16_t attr);
/* Far RET / IRET: null data segments the new, outer CPL may not use. */
void x86_seg_null_outer(struct x86_cpu *cpu);

/* ---------------- msr.c / cpuid.c ---------------- */

int x86_msr_read(struct x86_cpu *cpu, uint32_t msr, uint64_t *v);
int x86_msr_write(struct x86_cpu *cpu, uint32_t msr, uint64_t v);
/* CR0/CR3/CR4/EFER writes with the architectural checks (#GP recorded). */
int x86_write_cr0(struct x86_cpu *cpu, uint64_t v);
int x86_write_cr3(struct x86_cpu *cpu, uint64_t v);
int x86_write_cr4(struct x86_cpu *cpu, uint64_t v);
int x86_write_efer(struct x86_cpu *cpu, uint64_t v);
void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t sub, uint32_t r[4]);

extern const struct x86_optable x86_tab_system;

#endif
