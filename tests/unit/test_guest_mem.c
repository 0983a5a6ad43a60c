#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mem/guest_mem.h"

static void test_layout_x86_splits_at_hole(void **state)
{
	struct guest_mem gm;

	assert_int_equal(gmem_init_x86(&gm, 8ull << 20, 4ull << 20), 0);
	assert_int_equal(gm.nr_regions, 2);
	assert_int_equal(gm.regions[0].gpa, 0);
	assert_int_equal(gm.regions[0].size, 4ull << 20);
	assert_int_equal(gm.regions[1].gpa, 4ull << 30);
	assert_int_equal(gm.regions[1].size, 4ull << 20);
	gmem_fini(&gm);
	gmem_fini(&gm); /* idempotent */
}

static void test_ptr_whole_range(void **state)
{
	struct guest_mem gm;

	assert_int_equal(gmem_init_x86(&gm, 1 << 20, 0xc0000000), 0);
	assert_non_null(gmem_ptr(&gm, 0, 1 << 20));
	assert_non_null(gmem_ptr(&gm, (1 << 20) - 1, 1));
	assert_null(gmem_ptr(&gm, (1 << 20) - 1, 2));     /* crosses the end */
	assert_null(gmem_ptr(&gm, 1 << 20, 1));           /* outside */
	assert_null(gmem_ptr(&gm, 16, UINT64_MAX));       /* length overflow */
	assert_null(gmem_ptr(&gm, UINT64_MAX, 2));        /* address wrap */
	assert_null(gmem_ptr(&gm, 0, (1 << 20) + 1));
	gmem_fini(&gm);
}

static void test_read_write_span_regions(void **state)
{
	struct guest_mem gm;
	uint64_t gpas[2] = { 0, 0x2000 }, sizes[2] = { 0x2000, 0x1000 };
	uint8_t buf[16], out[16];

	assert_int_equal(gmem_init(&gm, gpas, sizes, 2), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i + 1);
	/* Adjacent regions: a copy may span them, a pointer may not. */
	assert_int_equal(gmem_write(&gm, 0x1ff8, buf, sizeof(buf)), 0);
	assert_null(gmem_ptr(&gm, 0x1ff8, sizeof(buf)));
	assert_int_equal(gmem_read(&gm, 0x1ff8, out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	assert_int_equal(gmem_read(&gm, 0x2ff8, out, sizeof(out)), -EFAULT);
	assert_int_equal(gmem_write(&gm, UINT64_MAX - 4, buf, 8), -EFAULT);
	gmem_fini(&gm);
}

static void test_hole_is_not_ram(void **state)
{
	struct guest_mem gm;
	uint8_t b = 0;

	assert_int_equal(gmem_init_x86(&gm, 8ull << 20, 4ull << 20), 0);
	assert_true(gmem_is_ram(&gm, 0, 4ull << 20));
	assert_false(gmem_is_ram(&gm, (4ull << 20) - 1, 2));
	assert_int_equal(gmem_write(&gm, 5ull << 20, &b, 1), -EFAULT);
	assert_int_equal(gmem_write(&gm, (4ull << 30) + 5, &b, 1), 0);
	gmem_fini(&gm);
}

static void test_bad_layouts_refused(void **state)
{
	struct guest_mem gm;
	uint64_t g[2] = { 0, 0x1000 }, s[2] = { 0x2000, 0x1000 };

	assert_int_equal(gmem_init(&gm, g, s, 2), -EINVAL);   /* overlap */
	g[1] = 0x2000;
	s[0] = 0x1001;
	assert_int_equal(gmem_init(&gm, g, s, 2), -EINVAL);   /* unaligned */
	assert_int_equal(gmem_init_x86(&gm, 0, 0x1000), -EINVAL);
	assert_int_equal(gmem_init_x86(&gm, 1 << 20, 0x1234), -EINVAL);
	gmem_fini(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_x86_splits_at_hole),
		cmocka_unit_test(test_ptr_whole_range),
		cmocka_unit_test(test_read_write_span_regions),
		cmocka_unit_test(test_hole_is_not_ram),
		cmocka_unit_test(test_bad_layouts_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
