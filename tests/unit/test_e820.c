#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"

static void check(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_small_guest(void **state)
{
	struct guest_mem gm;
	struct e820_entry t[E820_MAX_ENTRIES];
	int n;

	(void)state;
	assert_int_equal(gmem_init_x86(&gm, 256ull << 20, LAYOUT_MMIO_HOLE), 0);
	n = e820_build(&gm, t, E820_MAX_ENTRIES);
	assert_int_equal(n, 3);
	check(&t[0], 0, LAYOUT_EBDA, E820_RAM);
	check(&t[1], LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA, E820_RESERVED);
	check(&t[2], LAYOUT_HIGH_MEM, (256ull << 20) - LAYOUT_HIGH_MEM, E820_RAM);
	/* The ACPI area lies inside the reserved entry. */
	assert_true(LAYOUT_ACPI >= t[1].addr &&
		    LAYOUT_ACPI + LAYOUT_ACPI_SIZE <= t[1].addr + t[1].size);
	assert_int_equal(e820_low_ram_top(&gm), 256ull << 20);
	assert_int_equal(e820_base_ram_kib(&gm), LAYOUT_EBDA / 1024);
	assert_int_equal(sizeof(struct e820_entry), 20);
	gmem_fini(&gm);
}

static void test_above_4g(void **state)
{
	struct guest_mem gm;
	struct e820_entry t[E820_MAX_ENTRIES];
	uint64_t ram = 4ull << 30;
	int n;

	(void)state;
	assert_int_equal(gmem_init_x86(&gm, ram, LAYOUT_MMIO_HOLE), 0);
	n = e820_build(&gm, t, E820_MAX_ENTRIES);
	assert_int_equal(n, 4);
	check(&t[2], LAYOUT_HIGH_MEM, LAYOUT_MMIO_HOLE - LAYOUT_HIGH_MEM, E820_RAM);
	check(&t[3], 1ull << 32, ram - LAYOUT_MMIO_HOLE, E820_RAM);
	assert_int_equal(e820_low_ram_top(&gm), LAYOUT_MMIO_HOLE);
	/* Total RAM reported equals guest RAM minus the reserved piece. */
	assert_int_equal(t[0].size + t[2].size + t[3].size + t[1].size, ram);
	/* Too small an output array. */
	assert_int_equal(e820_build(&gm, t, 3), -ENOSPC);
	assert_int_equal(e820_build(&gm, t, 0), -ENOSPC);
	gmem_fini(&gm);
}

static void test_split_regions(void **state)
{
	/* RAM split at 16 MiB is merged back; a region starting at 2 MiB has no low RAM. */
	uint64_t gpas[] = { 0, 16ull << 20 }, sizes[] = { 16ull << 20, 16ull << 20 };
	uint64_t gpas2[] = { 2ull << 20 }, sizes2[] = { 2ull << 20 };
	struct guest_mem gm;
	struct e820_entry t[8];

	(void)state;
	assert_int_equal(gmem_init(&gm, gpas, sizes, 2), 0);
	assert_int_equal(e820_build(&gm, t, 8), 3);
	check(&t[2], LAYOUT_HIGH_MEM, (32ull << 20) - LAYOUT_HIGH_MEM, E820_RAM);
	assert_int_equal(e820_low_ram_top(&gm), 32ull << 20);
	gmem_fini(&gm);

	assert_int_equal(gmem_init(&gm, gpas2, sizes2, 1), 0);
	assert_int_equal(e820_build(&gm, t, 8), 1);
	check(&t[0], 2ull << 20, 2ull << 20, E820_RAM);
	assert_int_equal(e820_low_ram_top(&gm), 0);
	assert_int_equal(e820_base_ram_kib(&gm), 0);
	gmem_fini(&gm);

	memset(&gm, 0, sizeof(gm));
	assert_int_equal(e820_build(&gm, t, 8), -EINVAL);
	assert_string_equal(e820_type_name(E820_RESERVED), "reserved");
	assert_string_equal(e820_type_name(99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_guest),
		cmocka_unit_test(test_above_4g),
		cmocka_unit_test(test_split_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
