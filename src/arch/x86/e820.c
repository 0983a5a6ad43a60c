#include "arch/x86/e820.h"

#include <errno.h>

#include "arch/x86/layout.h"
#include "mem/guest_mem.h"
#include "util/compiler.h"

#define FOUR_GIB 0x100000000ull

static int e820_add(struct e820_entry *out, unsigned *n, unsigned max, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n > 0) {
		struct e820_entry *prev = &out[*n - 1];

		if (prev->type == type && prev->addr + prev->size == addr) {
			prev->size += size;
			return 0;
		}
	}
	if (*n >= max)
		return -ENOSPC;
	out[*n].addr = addr;
	out[*n].size = size;
	out[*n].type = type;
	(*n)++;
	return 0;
}

int e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned max)
{
	unsigned n = 0;
	int rc;

	if (!gm || gm->nr_regions == 0)
		return -EINVAL;
	/* Regions are sorted and disjoint (gmem_init checks), so the map is too. */
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		uint64_t start = gm->regions[i].gpa;
		uint64_t end = start + gm->regions[i].size;

		/*
		 * The piece of RAM between the EBDA and 1 MiB holds the EBDA, the
		 * ACPI tables (LAYOUT_ACPI) and the legacy BIOS area; the guest must
		 * not allocate it.
		 */
		while (start < end) {
			uint64_t cut = end;
			uint32_t type = E820_RAM;

			if (start < LAYOUT_EBDA) {
				cut = MIN(end, LAYOUT_EBDA);
			} else if (start < LAYOUT_HIGH_MEM) {
				cut = MIN(end, LAYOUT_HIGH_MEM);
				type = E820_RESERVED;
			}
			rc = e820_add(out, &n, max, start, cut - start, type);
			if (rc)
				return rc;
			start = cut;
		}
	}
	return (int)n;
}

const char *e820_type_name(uint32_t type)
{
	switch (type) {
	case E820_RAM:
		return "RAM";
	case E820_RESERVED:
		return "reserved";
	case E820_ACPI:
		return "ACPI";
	case E820_NVS:
		return "ACPI NVS";
	case E820_UNUSABLE:
		return "unusable";
	}
	return "unknown";
}

uint64_t e820_low_ram_top(const struct guest_mem *gm)
{
	uint64_t top = LAYOUT_HIGH_MEM;
	const struct gmem_region *r;

	/* Follow regions that touch end to end; gmem_init may split RAM. */
	while ((r = gmem_region_of(gm, top)) != NULL) {
		top = r->gpa + r->size;
		if (top >= FOUR_GIB)
			return FOUR_GIB;
	}
	return top == LAYOUT_HIGH_MEM ? 0 : top;
}

uint64_t e820_base_ram_kib(const struct guest_mem *gm)
{
	const struct gmem_region *r = gmem_region_of(gm, 0);

	if (!r)
		return 0;
	return MIN(r->gpa + r->size, LAYOUT_EBDA) / 1024;
}
