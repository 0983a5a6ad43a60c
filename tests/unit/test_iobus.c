#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus/iobus.h"

struct fake_dev {
	uint8_t regs[16];
	unsigned reads, writes, last_size;
};

static uint64_t fake_read(void *opaque, uint64_t off, unsigned size)
{
	struct fake_dev *d = opaque;
	uint64_t v = 0;

	d->reads++;
	d->last_size = size;
	memcpy(&v, &d->regs[off], size);
	return v;
}

static void fake_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct fake_dev *d = opaque;

	d->writes++;
	d->last_size = size;
	memcpy(&d->regs[off], &value, size);
}

static const struct iobus_ops byte_ops = {
	.name = "byte", .read = fake_read, .write = fake_write,
	.sizes = IOBUS_SIZE_1, .split = true,
};
static const struct iobus_ops dword_ops = {
	.name = "dword", .read = fake_read, .write = fake_write, .sizes = IOBUS_SIZE_4,
};

static void test_overlap_refused(void **state)
{
	struct iobus bus;
	struct fake_dev a = { 0 }, b = { 0 };

	assert_int_equal(iobus_init(&bus, "pio"), 0);
	assert_int_equal(iobus_register(&bus, 0x100, 16, &byte_ops, &a), 0);
	assert_int_equal(iobus_register(&bus, 0x10f, 1, &byte_ops, &b), -EEXIST);
	assert_int_equal(iobus_register(&bus, 0xf8, 9, &byte_ops, &b), -EEXIST);
	assert_int_equal(iobus_register(&bus, 0xf0, 16, &byte_ops, &b), 0);
	assert_int_equal(iobus_register(&bus, 0x110, 0, &byte_ops, &b), -EINVAL);
	assert_int_equal(iobus_register(&bus, UINT64_MAX, 2, &byte_ops, &b), -EINVAL);
	assert_int_equal(iobus_unregister(&bus, 0xf0, &b), 0);
	assert_int_equal(iobus_unregister(&bus, 0xf0, &b), -ENOENT);
	iobus_fini(&bus);
}

static void test_unclaimed_reads_all_ones(void **state)
{
	struct iobus bus;
	uint64_t v;

	assert_int_equal(iobus_init(&bus, "pio"), 0);
	assert_false(iobus_read(&bus, 0x80, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_false(iobus_read(&bus, 0x80, 8, &v));
	assert_int_equal(v, UINT64_MAX);
	assert_false(iobus_write(&bus, 0x80, 1, 5));
	iobus_fini(&bus);
}

static void test_wide_access_split_for_byte_device(void **state)
{
	struct iobus bus;
	struct fake_dev d = { 0 };
	uint64_t v;

	assert_int_equal(iobus_init(&bus, "pio"), 0);
	assert_int_equal(iobus_register(&bus, 0x3f8, 8, &byte_ops, &d), 0);
	assert_true(iobus_write(&bus, 0x3f9, 2, 0xbbaa));
	assert_int_equal(d.writes, 2);
	assert_int_equal(d.last_size, 1);
	assert_int_equal(d.regs[1], 0xaa);
	assert_int_equal(d.regs[2], 0xbb);
	assert_true(iobus_read(&bus, 0x3f9, 2, &v));
	assert_int_equal(v, 0xbbaa);
	/* An access crossing the device's end is dropped, not truncated. */
	assert_true(iobus_read(&bus, 0x3ff, 2, &v));
	assert_int_equal(v, 0xffff);
	iobus_fini(&bus);
}

static void test_sizes_and_alignment_enforced(void **state)
{
	struct iobus bus;
	struct fake_dev d = { 0 };
	uint64_t v;

	assert_int_equal(iobus_init(&bus, "mmio"), 0);
	assert_int_equal(iobus_register(&bus, 0x1000, 16, &dword_ops, &d), 0);
	assert_true(iobus_write(&bus, 0x1004, 4, 0x12345678));
	assert_int_equal(d.writes, 1);
	/* Wrong width and misaligned accesses never reach the device. */
	assert_true(iobus_write(&bus, 0x1004, 1, 0xff));
	assert_true(iobus_write(&bus, 0x1002, 4, 0xff));
	assert_true(iobus_write(&bus, 0x1000, 8, 0xff));
	assert_int_equal(d.writes, 1);
	assert_true(iobus_read(&bus, 0x1005, 4, &v));
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(d.reads, 0);
	assert_true(iobus_read(&bus, 0x1004, 4, &v));
	assert_int_equal(v, 0x12345678);
	iobus_fini(&bus);
}

static void test_many_ranges_lookup(void **state)
{
	struct iobus bus;
	static struct fake_dev devs[64];
	uint64_t v;

	assert_int_equal(iobus_init(&bus, "mmio"), 0);
	/* Register in a scrambled order; lookups must find each one. */
	for (unsigned i = 0; i < 64; i++) {
		unsigned k = (i * 37) % 64;
		devs[k].regs[0] = (uint8_t)k;
		assert_int_equal(iobus_register(&bus, 0x10000 + k * 0x100, 0x10, &byte_ops, &devs[k]), 0);
	}
	for (unsigned k = 0; k < 64; k++) {
		assert_true(iobus_read(&bus, 0x10000 + k * 0x100, 1, &v));
		assert_int_equal(v, k);
		assert_false(iobus_read(&bus, 0x10000 + k * 0x100 + 0x10, 1, &v));
	}
	iobus_fini(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_unclaimed_reads_all_ones),
		cmocka_unit_test(test_wide_access_split_for_byte_device),
		cmocka_unit_test(test_sizes_and_alignment_enforced),
		cmocka_unit_test(test_many_ranges_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
