/*
 * Guest memory: RAM regions backed by one memfd.
 *
 * This module is the ONLY code that turns a guest-physical address into a
 * host pointer. Every check covers the whole range [gpa, gpa + len) and is
 * written so that no sum can overflow.
 */
#ifndef PETREL_MEM_GUEST_MEM_H
#define PETREL_MEM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;      /* guest-physical base */
	uint64_t size;     /* bytes, > 0 */
	uint8_t *host;     /* host mapping of the region */
	uint64_t fd_off;   /* offset of the region in the memfd */
};

struct guest_mem {
	int fd;            /* memfd holding all RAM, -1 when none */
	uint64_t total;    /* sum of region sizes */
	unsigned nr_regions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
};

/*
 * Lay out `ram_bytes` of RAM for an x86 PC: below 4 GiB up to `hole_start`
 * (the MMIO hole), the rest from 4 GiB. hole_start must be page-aligned.
 */
int gmem_init_x86(struct guest_mem *gm, uint64_t ram_bytes, uint64_t hole_start);
/* Create RAM regions at explicit addresses (sorted, non-overlapping, page-aligned). */
int gmem_init(struct guest_mem *gm, const uint64_t *gpas, const uint64_t *sizes, unsigned n);
void gmem_fini(struct guest_mem *gm);

/* A host pointer to [gpa, gpa+len) when it lies in one region, else NULL. */
void *gmem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Copy to/from guest memory; may span regions. -EFAULT when any byte is not RAM. */
int gmem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len);
int gmem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len);
/* Whether every byte of [gpa, gpa+len) is RAM. */
bool gmem_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* The region holding gpa, or NULL. */
const struct gmem_region *gmem_region_of(const struct guest_mem *gm, uint64_t gpa);

#endif
