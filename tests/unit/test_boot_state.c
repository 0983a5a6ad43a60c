#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/boot_state.h"
#include "arch/x86/layout.h"
#include "mem/guest_mem.h"

static struct guest_mem gm;

static int setup(void **state)
{
	(void)state;
	return gmem_init_x86(&gm, 64ull << 20, LAYOUT_MMIO_HOLE);
}

static int teardown(void **state)
{
	(void)state;
	gmem_fini(&gm);
	return 0;
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v = 0;

	assert_int_equal(gmem_read(&gm, gpa, &v, 8), 0);
	return v;
}

static void test_long64(void **state)
{
	struct x86_boot_state bs = { .mode = X86_BOOT_LONG64, .entry = 0x1000000,
				     .rsi = LAYOUT_ZERO_PAGE, .rsp = 0x8000 };
	struct x86_vcpu_state s;

	(void)state;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), 0);
	assert_int_equal(s.rip, 0x1000000);
	assert_int_equal(s.gpr[X86_RSI], LAYOUT_ZERO_PAGE);
	assert_int_equal(s.gpr[X86_RSP], 0x8000);
	assert_int_equal(s.rflags, 2);
	assert_int_equal(s.cr0 & 0x80000011, 0x80000011);
	assert_int_equal(s.cr3, LAYOUT_PML4);
	assert_true(s.cr4 & (1 << 5));
	assert_int_equal(s.efer, 0x500);
	/* Linux's 64-bit protocol: CS = __BOOT_CS (0x10), data = __BOOT_DS (0x18). */
	assert_int_equal(s.seg[X86_SEG_CS].selector, 0x10);
	assert_int_equal(s.seg[X86_SEG_CS].l, 1);
	assert_int_equal(s.seg[X86_SEG_CS].db, 0);
	assert_int_equal(s.seg[X86_SEG_DS].selector, 0x18);
	assert_int_equal(s.seg[X86_SEG_SS].selector, 0x18);
	assert_int_equal(s.seg[X86_SEG_SS].limit, 0xffffffff);
	assert_int_equal(s.seg[X86_SEG_TR].type, 11);
	assert_int_equal(s.gdt.base, LAYOUT_BOOT_GDT);
	assert_int_equal(s.gdt.limit, 31);
	/* The GDT slot matches the hidden state: 64-bit code at 0x10. */
	assert_int_equal(rd64(LAYOUT_BOOT_GDT), 0);
	assert_int_equal(rd64(LAYOUT_BOOT_GDT + 0x10), 0x00af9b000000ffffull);
	assert_int_equal(rd64(LAYOUT_BOOT_GDT + 0x18), 0x00cf93000000ffffull);
	/* Page tables map 0-4 GiB 1:1 with 2 MiB pages. */
	assert_int_equal(rd64(LAYOUT_PML4) & ~0xfffull, LAYOUT_PDPT);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rd64(LAYOUT_PDPT + i * 8), (LAYOUT_PD + i * 0x1000ull) | 3);
	assert_int_equal(rd64(LAYOUT_PDPT + 4 * 8), 0);
	assert_int_equal(rd64(LAYOUT_PD), 0x83);
	assert_int_equal(rd64(LAYOUT_PD + 8), 0x200000 | 0x83);
	assert_int_equal(rd64(LAYOUT_PD + 3 * 0x1000 + 511 * 8), 0xffe00000ull | 0x83);
	/* Beyond the identity map: refused. A stack top of exactly 4 GiB is fine. */
	bs.entry = 0x100000000ull;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), -EINVAL);
	bs.entry = 0x1000000;
	bs.rsp = 0x100000000ull;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), 0);
	bs.rsp = 0x100000008ull;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), -EINVAL);
}

static void test_prot32_and_real(void **state)
{
	struct x86_boot_state bs = { .mode = X86_BOOT_PROT32, .entry = 0x100000,
				     .rax = 0x2badb002, .rbx = 0x30000 };
	struct x86_vcpu_state s;

	(void)state;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), 0);
	assert_int_equal(s.cr0, 0x11);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.gpr[X86_RAX], 0x2badb002);
	assert_int_equal(s.gpr[X86_RBX], 0x30000);
	assert_int_equal(s.seg[X86_SEG_CS].selector, 0x10);
	assert_int_equal(s.seg[X86_SEG_CS].db, 1);
	assert_int_equal(s.seg[X86_SEG_CS].l, 0);
	assert_int_equal(rd64(LAYOUT_BOOT_GDT + 0x10), 0x00cf9b000000ffffull);
	bs.entry = 0x100000000ull;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), -EINVAL);

	bs.mode = X86_BOOT_REAL16;
	bs.entry = 0x7c00;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), 0);
	assert_int_equal(s.cr0 & 1, 0);
	assert_int_equal(s.rip, 0x7c00);
	assert_int_equal(s.seg[X86_SEG_CS].base, 0);
	assert_int_equal(s.seg[X86_SEG_CS].limit, 0xffff);
	bs.entry = 0x10000;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), -EINVAL);
	bs.mode = (enum x86_boot_mode)42;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), -EINVAL);
}

static void test_no_ram(void **state)
{
	uint64_t gpa = 1ull << 20, size = 1ull << 20;
	struct guest_mem hi;
	struct x86_boot_state bs = { .mode = X86_BOOT_LONG64, .entry = 0x100000 };
	struct x86_vcpu_state s;

	(void)state;
	/* No RAM at the fixed low addresses: refused, not written anywhere. */
	assert_int_equal(gmem_init(&hi, &gpa, &size, 1), 0);
	assert_int_equal(x86_boot_state_apply(&bs, &hi, &s), -EFAULT);
	gmem_fini(&hi);
}

static void test_dump(void **state)
{
	struct x86_boot_state bs = { .mode = X86_BOOT_LONG64, .entry = 0x1234567 };
	struct x86_vcpu_state s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(x86_boot_state_apply(&bs, &gm, &s), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	x86_vcpu_state_dump(&s, f);
	fclose(f);
	assert_non_null(strstr(buf, "rip=0000000001234567"));
	assert_non_null(strstr(buf, "efer=0000000000000500"));
	assert_non_null(strstr(buf, "cs  sel=0010"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long64),
		cmocka_unit_test(test_prot32_and_real),
		cmocka_unit_test(test_no_ram),
		cmocka_unit_test(test_dump),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
