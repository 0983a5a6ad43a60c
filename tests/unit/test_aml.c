/* AML writer: exact encodings checked against the ACPI 6.x AML grammar. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/aml.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void dump(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", p[i], (i % 16 == 15) ? "\n" : " ");
	fprintf(stderr, "\n");
}

static void expect(struct aml *a, const uint8_t *exp, size_t n)
{
	assert_int_equal(aml_finish(a), 0);
	if (aml_len(a) != n || memcmp(aml_data(a), exp, n)) {
		fprintf(stderr, "got:\n");
		dump(aml_data(a), aml_len(a));
		fprintf(stderr, "expected:\n");
		dump(exp, n);
		fail();
	}
	aml_fini(a);
	aml_init(a);
}

static void test_names(void **state)
{
	struct aml a;

	aml_init(&a);
	aml_name(&a, "\\_SB.PCI0");
	expect(&a, BYTES(0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'));
	aml_name(&a, "_S5");
	expect(&a, BYTES('_', 'S', '5', '_'));
	aml_name(&a, "^^FOO");
	expect(&a, BYTES(0x5e, 0x5e, 'F', 'O', 'O', '_'));
	aml_name(&a, "A.BC.D12");
	expect(&a, BYTES(0x2f, 3, 'A', '_', '_', '_', 'B', 'C', '_', '_', 'D', '1', '2', '_'));
	aml_name(&a, "\\");
	expect(&a, BYTES(0x5c, 0x00));
	aml_fini(&a);

	/* Malformed names latch an error. */
	static const char *bad[] = {"abc", "TOOLONG", "A..B", "1ABC", "A.", "\\^A", "A-B", ".A"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a);
		aml_name(&a, bad[i]);
		assert_int_equal(aml_finish(&a), -EINVAL);
		aml_fini(&a);
	}
}

static void test_integers(void **state)
{
	struct aml a;

	aml_init(&a);
	aml_int(&a, 0);
	aml_int(&a, 1);
	aml_int(&a, UINT64_MAX);
	expect(&a, BYTES(0x00, 0x01, 0xff));
	aml_int(&a, 2);
	aml_int(&a, 0xff);
	expect(&a, BYTES(0x0a, 0x02, 0x0a, 0xff));
	aml_int(&a, 0x100);
	aml_int(&a, 0xffff);
	expect(&a, BYTES(0x0b, 0x00, 0x01, 0x0b, 0xff, 0xff));
	aml_int(&a, 0x10000);
	aml_int(&a, 0xffffffff);
	expect(&a, BYTES(0x0c, 0x00, 0x00, 0x01, 0x00, 0x0c, 0xff, 0xff, 0xff, 0xff));
	aml_int(&a, 0x100000000ull);
	aml_int(&a, 0xfffffffffffffffeull);
	expect(&a, BYTES(0x0e, 0, 0, 0, 0, 1, 0, 0, 0, 0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff));
	/* Explicit widths keep their prefix even for small values. */
	aml_byte_const(&a, 0);
	aml_word_const(&a, 1);
	aml_dword_const(&a, 2);
	aml_qword_const(&a, 3);
	expect(&a, BYTES(0x0a, 0, 0x0b, 1, 0, 0x0c, 2, 0, 0, 0, 0x0e, 3, 0, 0, 0, 0, 0, 0, 0));
	aml_fini(&a);
}

static void test_strings_buffers_packages(void **state)
{
	struct aml a;

	aml_init(&a);
	aml_string(&a, "AB");
	expect(&a, BYTES(0x0d, 'A', 'B', 0x00));
	aml_buffer(&a, BYTES(1, 2, 3));
	expect(&a, BYTES(0x11, 0x06, 0x0a, 0x03, 1, 2, 3));
	aml_buffer(&a, NULL, 0);
	expect(&a, BYTES(0x11, 0x02, 0x00));
	aml_package_begin(&a, 2);
	aml_int(&a, 1);
	aml_int(&a, 2);
	aml_end(&a);
	expect(&a, BYTES(0x12, 0x05, 0x02, 0x01, 0x0a, 0x02));
	aml_uuid(&a, "33db4d5b-1ff7-401c-9657-7441c03dd766");
	expect(&a, BYTES(0x11, 0x13, 0x0a, 0x10, 0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f, 0x1c, 0x40,
			 0x96, 0x57, 0x74, 0x41, 0xc0, 0x3d, 0xd7, 0x66));
	aml_fini(&a);

	aml_init(&a);
	aml_string(&a, "caf\xc3\xa9");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_uuid(&a, "33db4d5b-1ff7-401c-9657-7441c03dd76");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_uuid(&a, "33db4d5b+1ff7-401c-9657-7441c03dd766");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_package_begin(&a, 256);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
}

static void test_eisaid(void **state)
{
	struct aml a;

	assert_int_equal(aml_eisaid_value("PNP0A03"), 0x030ad041);
	assert_int_equal(aml_eisaid_value("PNP0A08"), 0x080ad041);
	assert_int_equal(aml_eisaid_value("PNP0C0C"), 0x0c0cd041);
	assert_int_equal(aml_eisaid_value("PNP0501"), 0x0105d041);
	assert_int_equal(aml_eisaid_value("pnp0a03"), 0);
	assert_int_equal(aml_eisaid_value("PNP0a03"), 0);
	assert_int_equal(aml_eisaid_value("PNP0A0"), 0);
	assert_int_equal(aml_eisaid_value("PNP0A0G"), 0);
	aml_init(&a);
	aml_name_eisaid(&a, "_HID", "PNP0A08");
	expect(&a, BYTES(0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08));
	aml_eisaid(&a, "P1P0A08");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
}

static void test_scope_device_method(void **state)
{
	struct aml a;

	aml_init(&a);
	aml_scope_begin(&a, "\\_SB");
	aml_end(&a);
	expect(&a, BYTES(0x10, 0x06, 0x5c, '_', 'S', 'B', '_'));

	aml_device_begin(&a, "PCI0");
	aml_name_int(&a, "_UID", 0);
	aml_end(&a);
	expect(&a, BYTES(0x5b, 0x82, 0x0b, 'P', 'C', 'I', '0', 0x08, '_', 'U', 'I', 'D', 0x00));

	aml_method_begin(&a, "_EVT", 1, true);
	aml_return(&a);
	aml_int(&a, 1);
	aml_end(&a);
	expect(&a, BYTES(0x14, 0x08, '_', 'E', 'V', 'T', 0x09, 0xa4, 0x01));

	aml_method_begin(&a, "_OSC", 4, false);
	aml_end(&a);
	expect(&a, BYTES(0x14, 0x06, '_', 'O', 'S', 'C', 0x04));

	/* If (LEqual (Arg0, One)) { Notify (\_SB.PWRB, 0x80) } Else { Store (Local1, Local2) } */
	aml_if_begin(&a);
	aml_lequal(&a);
	aml_arg(&a, 0);
	aml_int(&a, 1);
	aml_notify(&a);
	aml_name(&a, "\\_SB.PWRB");
	aml_int(&a, 0x80);
	aml_end(&a);
	aml_else_begin(&a);
	aml_store(&a);
	aml_local(&a, 1);
	aml_local(&a, 2);
	aml_end(&a);
	expect(&a, BYTES(0xa0, 0x11, 0x93, 0x68, 0x01, 0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P',
			 'W', 'R', 'B', 0x0a, 0x80, 0xa1, 0x04, 0x70, 0x61, 0x62));

	/* And (Local0, One, Zero-target); Or (X, 4, X); LNot; CreateDWordField */
	aml_and(&a);
	aml_local(&a, 0);
	aml_int(&a, 1);
	aml_null_target(&a);
	aml_or(&a);
	aml_lnot(&a);
	aml_create_dword_field(&a);
	aml_arg(&a, 3);
	aml_int(&a, 0);
	aml_name(&a, "CDW1");
	expect(&a, BYTES(0x7b, 0x60, 0x01, 0x00, 0x7d, 0x92, 0x8a, 0x6b, 0x00, 'C', 'D', 'W', '1'));

	aml_method_begin(&a, "BAD", 8, false);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_arg(&a, 7);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_local(&a, 8);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
}

static void test_region_field(void **state)
{
	struct aml a;

	aml_init(&a);
	aml_operation_region(&a, "GEDR", AML_SPACE_SYSTEM_IO, 0x603, 1);
	expect(&a, BYTES(0x5b, 0x80, 'G', 'E', 'D', 'R', 0x01, 0x0b, 0x03, 0x06, 0x01));
	aml_field_begin(&a, "GEDR", AML_FIELD_BYTE_ACC | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(&a, "GEVT", 8);
	aml_field_unit(&a, "BIG", 0x100);
	aml_end(&a);
	expect(&a, BYTES(0x5b, 0x81, 0x11, 'G', 'E', 'D', 'R', 0x41, 'G', 'E', 'V', 'T', 0x08, 'B',
			 'I', 'G', '_', 0x40, 0x10));
	aml_field_unit(&a, "ABCDE", 8);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_field_unit(&a, "AB", 0);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
}

static void test_pkglen_encode(void **state)
{
	uint8_t b[4];

	assert_int_equal(aml_pkglen_encode(0, b), 1);
	assert_int_equal(b[0], 0);
	assert_int_equal(aml_pkglen_encode(63, b), 1);
	assert_int_equal(b[0], 0x3f);
	assert_int_equal(aml_pkglen_encode(64, b), 2);
	assert_memory_equal(b, ((uint8_t[]){0x40, 0x04}), 2);
	assert_int_equal(aml_pkglen_encode(4095, b), 2);
	assert_memory_equal(b, ((uint8_t[]){0x4f, 0xff}), 2);
	assert_int_equal(aml_pkglen_encode(4096, b), 3);
	assert_memory_equal(b, ((uint8_t[]){0x80, 0x00, 0x01}), 3);
	assert_int_equal(aml_pkglen_encode(0xfffff, b), 3);
	assert_memory_equal(b, ((uint8_t[]){0x8f, 0xff, 0xff}), 3);
	assert_int_equal(aml_pkglen_encode(0x100000, b), 4);
	assert_memory_equal(b, ((uint8_t[]){0xc0, 0x00, 0x00, 0x01}), 4);
	assert_int_equal(aml_pkglen_encode(0x0fffffff, b), 4);
	assert_memory_equal(b, ((uint8_t[]){0xcf, 0xff, 0xff, 0xff}), 4);
	assert_int_equal(aml_pkglen_encode(0x10000000, b), -E2BIG);
}

/* Decode a PkgLength the way an AML interpreter does; returns its byte count. */
static unsigned pkglen_decode(const uint8_t *p, uint32_t *value)
{
	unsigned n = (p[0] >> 6) + 1;

	if (n == 1) {
		*value = p[0] & 0x3f;
		return 1;
	}
	*value = p[0] & 0x0f;
	for (unsigned i = 1; i < n; i++)
		*value |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return n;
}

/* An If with a body of `body` raw bytes: the PkgLength must cover itself and the body. */
static void check_if_body(size_t body, unsigned want_bytes)
{
	struct aml a;
	uint8_t *raw = calloc(1, body);
	uint32_t v;
	unsigned n;

	assert_non_null(raw);
	memset(raw, 0xa3, body); /* Noop opcodes */
	aml_init(&a);
	aml_if_begin(&a);
	aml_bytes(&a, raw, body);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 0);
	assert_int_equal(aml_data(&a)[0], 0xa0);
	n = pkglen_decode(aml_data(&a) + 1, &v);
	assert_int_equal(n, want_bytes);
	assert_int_equal(v, body + n);
	assert_int_equal(aml_len(&a), 1 + n + body);
	if (body) {
		assert_int_equal(aml_data(&a)[1 + n], 0xa3);
		assert_int_equal(aml_data(&a)[aml_len(&a) - 1], 0xa3);
	}
	aml_fini(&a);
	free(raw);
}

static void test_pkglen_boundaries(void **state)
{
	check_if_body(0, 1);
	check_if_body(62, 1);	/* 63: the largest one-byte length */
	check_if_body(63, 2);	/* 64 would fit, but 63+2 = 65 needs two bytes */
	check_if_body(4093, 2); /* 4095 */
	check_if_body(4094, 3); /* 4096 does not fit in 12 bits */
	check_if_body(0xfffff - 3, 3);
	check_if_body(0xfffff - 2, 4); /* 1 MiB */
	check_if_body(2u << 20, 4);
}

static void test_nested_lengths(void **state)
{
	struct aml a;
	uint8_t raw[100];
	uint32_t outer, inner;
	unsigned no, ni;

	/* The inner package's two-byte length shifts the outer body: both must stay right. */
	memset(raw, 0xa3, sizeof(raw));
	aml_init(&a);
	aml_scope_begin(&a, "\\_SB");
	aml_if_begin(&a);
	aml_bytes(&a, raw, 70);
	aml_end(&a);
	aml_bytes(&a, raw, 3);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 0);
	no = pkglen_decode(aml_data(&a) + 1, &outer);
	assert_int_equal(outer, aml_len(&a) - 1);
	assert_int_equal(aml_data(&a)[1 + no + 5], 0xa0);
	ni = pkglen_decode(aml_data(&a) + 1 + no + 6, &inner);
	assert_int_equal(ni, 2);
	assert_int_equal(inner, 72);
	aml_fini(&a);
}

static void test_error_latching(void **state)
{
	struct aml a;
	size_t len;

	aml_init(&a);
	aml_end(&a); /* nothing open */
	assert_int_equal(aml_finish(&a), -EINVAL);
	len = aml_len(&a);
	aml_int(&a, 0x1234);
	aml_scope_begin(&a, "\\_SB");
	aml_end(&a);
	assert_int_equal(aml_len(&a), len);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);

	/* A size no allocator can satisfy latches -ENOMEM instead of aborting. */
	aml_init(&a);
	aml_int(&a, 5);
	aml_bytes(&a, &len, SIZE_MAX - 16);
	assert_int_equal(aml_finish(&a), -ENOMEM);
	assert_int_equal(aml_len(&a), 2);
	aml_string(&a, "more");
	assert_int_equal(aml_len(&a), 2);
	assert_int_equal(aml_finish(&a), -ENOMEM);
	aml_fini(&a);

	aml_init(&a);
	aml_device_begin(&a, "DEV"); /* never closed */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);

	aml_init(&a);
	for (unsigned i = 0; i < AML_MAX_DEPTH + 1; i++)
		aml_if_begin(&a);
	assert_int_equal(aml_finish(&a), -E2BIG);
	aml_fini(&a);

	aml_init(&a);
	aml_scope_begin(&a, "\\");
	aml_rt_end(&a); /* not a resource template */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
}

static void test_resources(void **state)
{
	struct aml a;
	uint32_t gsi = 9;

	aml_init(&a);
	aml_rt_io(&a, 0x3f8, 0x3f8, 0, 8);
	aml_rt_irq_noflags(&a, 1u << 4);
	aml_rt_fixed_io(&a, 0x60, 1);
	expect(&a, BYTES(0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x4b,
			 0x60, 0x00, 0x01));
	aml_rt_word_bus(&a, 0, 0xff);
	expect(&a,
	       BYTES(0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01));
	aml_rt_word_io(&a, 0x1000, 0xffff);
	expect(&a, BYTES(0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x10, 0xff, 0xff, 0, 0,
			 0x00, 0xf0));
	aml_rt_dword_memory(&a, 0xc0000000, 0xdfffffff, false);
	expect(&a, BYTES(0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff,
			 0xff, 0xdf, 0, 0, 0, 0, 0, 0, 0, 0x20));
	aml_rt_dword_io(&a, 0x1000, 0x1fff);
	expect(&a, BYTES(0x87, 0x17, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 0xff,
			 0x1f, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0));
	aml_rt_qword_memory(&a, 0x100000000ull, 0x1ffffffffull, true);
	expect(&a, BYTES(0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, /* gran */
			 0, 0, 0, 0, 1, 0, 0, 0,				     /* min */
			 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0,			     /* max */
			 0, 0, 0, 0, 0, 0, 0, 0,				     /* tra */
			 0, 0, 0, 0, 1, 0, 0, 0));				     /* len */
	aml_rt_memory32_fixed(&a, false, 0xe0000000, 0x100000);
	expect(&a, BYTES(0x86, 0x09, 0x00, 0x00, 0, 0, 0, 0xe0, 0, 0, 0x10, 0));
	aml_rt_interrupt(&a, AML_IRQ_CONSUMER, &gsi, 1);
	expect(&a, BYTES(0x89, 0x06, 0x00, 0x01, 0x01, 0x09, 0, 0, 0));

	/* A whole template: Buffer, BufferSize, descriptors, End Tag with checksum. */
	aml_rt_begin(&a);
	aml_rt_io(&a, 0x70, 0x70, 1, 2);
	aml_rt_end(&a);
	{
		uint8_t sum = (uint8_t)(0x47 + 0x01 + 0x70 + 0x70 + 0x01 + 0x02 + 0x79);
		expect(&a, BYTES(0x11, 0x0d, 0x0a, 0x0a, 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01,
				 0x02, 0x79, (uint8_t)-sum));
	}
	aml_fini(&a);

	aml_init(&a);
	aml_rt_fixed_io(&a, 0x400, 1);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_rt_word_bus(&a, 5, 4);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_rt_word_io(&a, 0, 0xffff); /* length 0x10000 does not fit a Word */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
	aml_init(&a);
	aml_rt_interrupt(&a, 0, &gsi, 0);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_fini(&a);
}

static void test_large_buffer_size_term(void **state)
{
	struct aml a;
	uint8_t *raw = calloc(1, 300);
	uint32_t v;
	unsigned n;

	/* 300 bytes: a WordConst BufferSize and a two-byte PkgLength covering both. */
	assert_non_null(raw);
	aml_init(&a);
	aml_buffer(&a, raw, 300);
	assert_int_equal(aml_finish(&a), 0);
	n = pkglen_decode(aml_data(&a) + 1, &v);
	assert_int_equal(n, 2);
	assert_int_equal(v, 2 + 3 + 300);
	assert_memory_equal(aml_data(&a) + 3, ((uint8_t[]){0x0b, 0x2c, 0x01}), 3);
	assert_int_equal(aml_len(&a), 1 + 2 + 3 + 300);
	aml_fini(&a);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_strings_buffers_packages),
	    cmocka_unit_test(test_eisaid),
	    cmocka_unit_test(test_scope_device_method),
	    cmocka_unit_test(test_region_field),
	    cmocka_unit_test(test_pkglen_encode),
	    cmocka_unit_test(test_pkglen_boundaries),
	    cmocka_unit_test(test_nested_lengths),
	    cmocka_unit_test(test_error_latching),
	    cmocka_unit_test(test_resources),
	    cmocka_unit_test(test_large_buffer_size_term),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
