/*
 * How a boot loader wants the boot vCPU to start. The loaders fill this; the
 * machine turns it into a full x86_vcpu_state (building a GDT and, for long
 * mode, identity page tables in guest memory) with x86_boot_state_apply().
 */
#ifndef PETREL_ARCH_X86_BOOT_STATE_H
#define PETREL_ARCH_X86_BOOT_STATE_H

#include <stdint.h>

#include "arch/x86/vcpu_state.h"

struct guest_mem;

enum x86_boot_mode {
	X86_BOOT_REAL16,   /* real mode, CS:IP = 0:entry (flat test binaries at < 1 MiB) */
	X86_BOOT_PROT32,   /* flat 32-bit protected mode, paging off (Multiboot, PVH) */
	X86_BOOT_LONG64,   /* 64-bit mode, identity-mapped first 4 GiB (Linux 64-bit entry) */
};

struct x86_boot_state {
	enum x86_boot_mode mode;
	uint64_t entry;    /* RIP (or IP for real mode) */
	uint64_t rsp;      /* 0: leave as 0 */
	uint64_t rax, rbx, rsi; /* boot protocol registers (e.g. Multiboot magic/info, zero page) */
};

/*
 * Build the state for the boot vCPU. Uses guest memory at the fixed low
 * addresses documented in docs/memory-map.md for the GDT and page tables.
 */
int x86_boot_state_apply(const struct x86_boot_state *bs, struct guest_mem *gm,
			 struct x86_vcpu_state *out);

#endif
