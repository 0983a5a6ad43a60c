/*
 * Petrel's software x86-64 CPU: public API.
 *
 * The library has no dependency on the VMM. It sees guest PHYSICAL memory
 * through struct x86_mem_ops (a page lookup for RAM plus MMIO and port
 * callbacks) and translates linear addresses itself through a software TLB
 * (mmu.c). Instructions are decoded once into blocks that are cached by
 * physical address; writes through the CPU to a page holding decoded code
 * invalidate that page's blocks.
 *
 * Usage:
 *	struct x86_cpu *cpu = calloc(1, sizeof(*cpu));
 *	x86_cpu_init(cpu, &ops, opaque);   (power-on state: real mode at F000:FFF0)
 *	... set registers, segments (x86_set_seg), x86_set_rflags() ...
 *	int r = x86_run(cpu, 1000000);     (returns enum x86_stop)
 *	x86_cpu_fini(cpu);
 *
 * x86_run(cpu, 1) executes exactly one instruction (single step).
 * One struct x86_cpu belongs to one thread; only x86_request_stop() may be
 * called from another thread.
 */
#ifndef PETREL_CPU_X86_CPU_H
#define PETREL_CPU_X86_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/x86/fpu/fpu_state.h"

/* General-purpose register numbers (ModRM/REX encoding). The VMM's
 * arch/x86/vcpu_state.h declares the same names with the same values; when
 * it was included first, its declaration serves (include it before this
 * header in files that use both). */
#ifndef PETREL_ARCH_X86_VCPU_STATE_H
enum {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};
#endif

/* Segment register numbers (encoding order). */
enum { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS, X86_NSEG };

/* RFLAGS bits. */
#define X86_CF   0x00000001u
#define X86_PF   0x00000004u
#define X86_AF   0x00000010u
#define X86_ZF   0x00000040u
#define X86_SF   0x00000080u
#define X86_TF   0x00000100u
#define X86_IF   0x00000200u
#define X86_DF   0x00000400u
#define X86_OF   0x00000800u
#define X86_IOPL 0x00003000u
#define X86_NT   0x00004000u
#define X86_RF   0x00010000u
#define X86_VM   0x00020000u
#define X86_AC   0x00040000u
#define X86_VIF  0x00080000u
#define X86_VIP  0x00100000u
#define X86_ID   0x00200000u
#define X86_STATUS_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

/*
 * Segment attributes in the VMX "access rights" layout: descriptor byte 5 in
 * bits 7:0 (type, S, DPL, P) and the flags nibble of byte 6 in bits 15:12.
 */
#define X86_SEG_TYPE(a) ((a) & 0xf)
#define X86_SEG_S   (1u << 4)   /* code/data (not system) */
#define X86_SEG_DPL(a) (((a) >> 5) & 3)
#define X86_SEG_P   (1u << 7)
#define X86_SEG_AVL (1u << 12)
#define X86_SEG_L   (1u << 13)  /* CS: 64-bit code */
#define X86_SEG_DB  (1u << 14)  /* CS: 32-bit default; SS: 32-bit stack */
#define X86_SEG_G   (1u << 15)
/* Handy attribute values. */
#define X86_SEG_CODE64 (0x9b | X86_SEG_L | X86_SEG_G)
#define X86_SEG_CODE32 (0x9b | X86_SEG_DB | X86_SEG_G)
#define X86_SEG_DATA32 (0x93 | X86_SEG_DB | X86_SEG_G)
#define X86_SEG_CODE16 0x9b /* real mode */
#define X86_SEG_DATA16 0x93

struct x86_seg {
	uint16_t sel;
	uint16_t attr;
	uint32_t limit; /* byte granular (G already applied) */
	uint64_t base;
};

struct x86_dtr {
	uint64_t base;
	uint16_t limit;
};

/* Control register bits the core looks at. */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)

/*
 * Physical memory, supplied by the embedder.
 * page(): host pointer to the start of the 4 KiB guest-physical page holding
 *   gpa, or NULL when the page is not RAM (then the MMIO callbacks are used).
 *   A non-NULL page must stay valid until x86_flush_tlb() or x86_cpu_fini().
 *   `write` says the pointer will be used for writes (read-only memory such
 *   as a ROM returns NULL for writes and handles them in mmio_write).
 * mmio_read/mmio_write: size 1, 2, 4 or 8 (larger or page-crossing accesses
 *   are split); return 0 or a negative errno, which aborts the instruction
 *   with no state change: x86_run() returns X86_STOP_MEM_ERROR and records
 *   the address and size in cpu->fault_addr/fault_size. NULL = no MMIO.
 * pio_in/pio_out: size 1, 2 or 4; same error rule as MMIO.
 */
struct x86_mem_ops {
	uint8_t *(*page)(void *opaque, uint64_t gpa, bool write);
	int (*mmio_read)(void *opaque, uint64_t gpa, void *buf, unsigned size);
	int (*mmio_write)(void *opaque, uint64_t gpa, const void *buf, unsigned size);
	int (*pio_in)(void *opaque, uint16_t port, void *buf, unsigned size);
	int (*pio_out)(void *opaque, uint16_t port, const void *buf, unsigned size);
	/*
	 * Optional (part 2, msr.c): MSRs the CPU forwards to the embedder
	 * (APIC_BASE 0x1b, TSC_DEADLINE 0x6e0, x2APIC 0x800-0x8ff); nonzero
	 * return = #GP(0). NULL: APIC_BASE uses cpu->apic_base, the others #GP.
	 * cr8_read/cr8_write: CR8 is TPR[7:4] of the local APIC; NULL uses
	 * cpu->cr8.
	 */
	int (*msr_read)(void *opaque, uint32_t msr, uint64_t *v);
	int (*msr_write)(void *opaque, uint32_t msr, uint64_t v);
	uint8_t (*cr8_read)(void *opaque);
	void (*cr8_write)(void *opaque, uint8_t v);
};

/* Why x86_run() returned. */
enum x86_stop {
	X86_STOP_NONE = 0,  /* internal: keep going */
	X86_STOP_BUDGET,    /* max_insns executed */
	X86_STOP_HLT,       /* HLT executed; RIP is past it */
	X86_STOP_EXCEPTION, /* cpu->exc_*; RIP at the faulting instruction */
	X86_STOP_REQUEST,   /* x86_request_stop() was called */
	X86_STOP_MEM_ERROR, /* an MMIO/port callback failed (or no MMIO handler) */
	X86_STOP_SHUTDOWN,  /* triple fault (only with deliver_exceptions) */
	X86_STOP_IRQ,       /* irq_pending set and interrupts enabled (block boundary) */
};

/* Exception vectors. */
enum {
	X86_EXC_DE = 0, X86_EXC_DB = 1, X86_EXC_BP = 3, X86_EXC_OF = 4, X86_EXC_BR = 5,
	X86_EXC_UD = 6, X86_EXC_NM = 7, X86_EXC_DF = 8, X86_EXC_TS = 10, X86_EXC_NP = 11,
	X86_EXC_SS = 12, X86_EXC_GP = 13, X86_EXC_PF = 14, X86_EXC_MF = 16,
	X86_EXC_AC = 17, X86_EXC_MC = 18, X86_EXC_XM = 19,
};

#define X86_TLB_SIZE 256 /* entries per access kind; power of two */

/* One software TLB entry: linear page tag -> host addend (host = la + addend). */
struct x86_tlb_entry {
	uint64_t tag;     /* linear address of the page, or X86_TLB_INVALID */
	uintptr_t addend;
};
#define X86_TLB_INVALID (~0ull)

enum x86_access { X86_ACC_READ, X86_ACC_WRITE, X86_ACC_FETCH, X86_ACC_NR };

struct x86_block;
struct x86_code_cache; /* blocks, hash, code-page set (exec.c) */

struct x86_cpu {
	/* --- hot state (handlers touch these constantly) --- */
	uint64_t gpr[16];
	uint64_t rip;
	/*
	 * Lazy flags. rflags holds every bit; when lf_op != X86_LF_NONE its six
	 * status bits are stale and are computed from lf_op/lf_res/lf_src/lf_dst.
	 * Always use x86_get_rflags()/x86_set_rflags() from outside the core.
	 */
	uint32_t lf_op;
	uint64_t lf_res, lf_src, lf_dst;
	uint64_t rflags;
	/* Code and stack size of the current mode, derived from CS/SS/EFER by
	 * x86_update_mode(); part of each cached block's key. */
	uint8_t mode;      /* X86_MODE_* */
	uint8_t ss32;      /* stack pointer width 2/4/8 (bytes) */
	uint8_t cpl;
	uint8_t smc;       /* set when the current block may be stale */
	/* One load per block checks both flags (x86_run). */
	union {
		struct {
			uint32_t stop_req;    /* atomic; x86_request_stop() */
			uint32_t irq_pending; /* atomic; embedder: see x86_set_irq_pending() */
		};
		uint64_t stop_any;
	};

	struct x86_tlb_entry tlb[X86_ACC_NR][X86_TLB_SIZE];

	/* --- architectural state --- */
	struct x86_seg seg[X86_NSEG];
	struct x86_seg ldtr, tr;
	struct x86_dtr gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t dr[8];
	uint64_t efer;
	/* MSRs part 2 needs (SYSCALL, SYSENTER, swapgs, PAT, TSC). */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, tsc_aux, tsc_offset, tsc_adjust, apic_base, misc_enable, mtrr_def_type;
	uint64_t msr_spare[16];
	uint32_t xcr0_spare;
	struct x86_fpu_state fpu;

	/* --- the last stop --- */
	uint8_t exc_vector;
	bool exc_has_error;
	uint32_t exc_error;
	uint64_t fault_addr;  /* X86_STOP_MEM_ERROR: physical address or port */
	uint32_t fault_size;

	/* Instructions retired since init (all x86_run calls). */
	uint64_t icount;

	/* --- embedder and caches --- */
	struct x86_mem_ops mem;
	void *opaque;
	struct x86_code_cache *cc;
	/* Host TSC at RDTSC = host rdtsc + tsc_offset unless tsc_fn is set. */
	uint64_t (*tsc_fn)(void *opaque);

	/* --- part 2: system architecture (paging.c, interrupt.c, msr.c) --- */
	bool deliver_exceptions; /* deliver through the IDT; false: x86_run returns them */
	uint8_t implicit_sv;     /* descriptor/IDT/TSS/stack-switch access: supervisor */
	uint8_t tlb_user;        /* TLB filled at CPL 3 (flushed when this changes) */
	uint8_t nmi_blocked;     /* an NMI handler runs until IRET */
	uint32_t apic_id;        /* CPUID.1:EBX[31:24] and leaf 0xB (embedder sets) */
	uint64_t shadow_icount;  /* STI shadow: interrupts blocked while icount + 1 == this */
	uint64_t exc_addr;       /* #PF linear address (CR2 when delivered) */
	uint8_t tlb_flags[X86_ACC_NR][X86_TLB_SIZE]; /* X86_TLBF_* per entry */
	/* The TLB of the other privilege class (CPL 3 vs 0-2), swapped with
	 * tlb[] when CPL crosses (paging.c), so system calls keep both warm. */
	struct x86_tlb_entry tlb_other[X86_ACC_NR][X86_TLB_SIZE];
	uint8_t tlb_other_flags[X86_ACC_NR][X86_TLB_SIZE];
	/* Host pages of recently walked paging structures (paging.c); valid
	 * until x86_flush_tlb(), like every mem.page() result. */
	struct {
		uint64_t pfn;
		uint8_t *host;
	} ptc[16];
};

/* Execution modes (cpu->mode). */
enum { X86_MODE_REAL16, X86_MODE_PROT16, X86_MODE_PROT32, X86_MODE_LONG64 };

/* Initialise to the power-on state; allocates the code cache. 0 or -ENOMEM. */
int x86_cpu_init(struct x86_cpu *cpu, const struct x86_mem_ops *ops, void *opaque);
void x86_cpu_fini(struct x86_cpu *cpu);
/* Power-on/RESET register state (keeps memory ops and caches). */
void x86_cpu_reset(struct x86_cpu *cpu);

/* Run up to max_insns instructions; returns enum x86_stop. */
int x86_run(struct x86_cpu *cpu, uint64_t max_insns);
/* Ask a running x86_run() to return X86_STOP_REQUEST at the next block
 * boundary. Safe from any thread; the request is consumed by x86_run(). */
void x86_request_stop(struct x86_cpu *cpu);

uint64_t x86_get_rflags(struct x86_cpu *cpu);
void x86_set_rflags(struct x86_cpu *cpu, uint64_t v);
/* Load a segment register's hidden state directly (no descriptor checks)
 * and recompute the mode when CS or SS changes. */
void x86_set_seg(struct x86_cpu *cpu, unsigned seg, uint16_t sel, uint64_t base,
		 uint32_t limit, uint16_t attr);
/* Recompute cpu->mode etc. after changing CS/SS/CR0/EFER directly. */
void x86_update_mode(struct x86_cpu *cpu);

/* Drop all TLB entries (after changing the memory map or paging state). */
void x86_flush_tlb(struct x86_cpu *cpu);
/* Drop every cached decoded block. */
void x86_flush_code(struct x86_cpu *cpu);
/* Guest-physical range written by something other than this CPU (DMA, the
 * VMM, another vCPU): drop the blocks decoded from it. */
void x86_invalidate_phys(struct x86_cpu *cpu, uint64_t gpa, uint64_t len);

/*
 * Part 2: interrupts. x86_interrupts_enabled(): RFLAGS.IF=1 and no STI
 * shadow. x86_inject_interrupt() delivers an external interrupt now (call
 * between x86_run() calls, normally after X86_STOP_IRQ or X86_STOP_HLT);
 * x86_inject_nmi() likewise (-EBUSY while an NMI handler runs). Both return
 * 0, X86_STOP_SHUTDOWN (triple fault) or X86_STOP_MEM_ERROR.
 * x86_set_irq_pending(): while set, x86_run() returns X86_STOP_IRQ at the
 * first block boundary where interrupts are enabled; the embedder clears it
 * when the interrupt controller has nothing left. Any thread may call it.
 */
bool x86_interrupts_enabled(const struct x86_cpu *cpu);
int x86_inject_interrupt(struct x86_cpu *cpu, uint8_t vector);
int x86_inject_nmi(struct x86_cpu *cpu);
static inline void x86_set_irq_pending(struct x86_cpu *cpu, bool pending)
{
	__atomic_store_n(&cpu->irq_pending, pending ? 1u : 0u, __ATOMIC_RELEASE);
}
/* Current TSC as RDTSC sees it (tsc_fn or host TSC, plus tsc_offset). */
uint64_t x86_tsc_now(struct x86_cpu *cpu);

/* Statistics for benchmarks and tests. */
struct x86_cpu_stats {
	uint64_t blocks_decoded;
	uint64_t blocks_invalidated;
	uint64_t cache_flushes;
};
void x86_cpu_get_stats(const struct x86_cpu *cpu, struct x86_cpu_stats *st);

#endif
