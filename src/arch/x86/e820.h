/*
 * The guest's physical memory map as the BIOS e820 call would report it.
 * One table feeds the Linux zero page, the Multiboot memory map, the PVH
 * memory map and fw_cfg's "etc/e820" file, so every consumer agrees.
 */
#ifndef PETREL_ARCH_X86_E820_H
#define PETREL_ARCH_X86_E820_H

#include <stdint.h>

struct guest_mem;

enum e820_type {
	E820_RAM = 1,
	E820_RESERVED = 2,
	E820_ACPI = 3,
	E820_NVS = 4,
	E820_UNUSABLE = 5,
};

/* The 20-byte layout of the zero page's e820_table and of fw_cfg "etc/e820". */
struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Plenty for our map (at most 4 entries per RAM region); the zero page holds 128. */
#define E820_MAX_ENTRIES 32

/*
 * Build the map from the RAM regions of gm and the fixed layout: RAM below
 * LAYOUT_EBDA, reserved LAYOUT_EBDA..1 MiB (EBDA, ACPI tables, BIOS area),
 * RAM from 1 MiB, RAM above 4 GiB. Sorted by address, adjacent entries of
 * one type merged. Returns the number of entries, or -ENOSPC when `max` is
 * too small, -EINVAL when gm has no RAM.
 */
int e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned max);

/* Human-readable name of an e820 type ("RAM", "reserved", ...). */
const char *e820_type_name(uint32_t type);

/*
 * End of the RAM that starts at 1 MiB and runs contiguously upwards, capped
 * at 4 GiB: the highest address a 32-bit boot structure (initrd, module) may
 * reach. 0 when there is no RAM at 1 MiB.
 */
uint64_t e820_low_ram_top(const struct guest_mem *gm);

/* KiB of RAM from 0 up to LAYOUT_EBDA (Multiboot's mem_lower). */
uint64_t e820_base_ram_kib(const struct guest_mem *gm);

#endif
