/* ELF (64-bit entry and PVH) and flat-binary loading. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "mem/guest_mem.h"
#include "util/log.h"

#include "boot_images.h"

#define RAM (32ull << 20)

static struct guest_mem gm;
static char err[512];

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	return gmem_init_x86(&gm, RAM, LAYOUT_MMIO_HOLE);
}

static int teardown(void **state)
{
	(void)state;
	gmem_fini(&gm);
	return 0;
}

static int load(const void *k, size_t klen, const void *initrd, size_t ilen, enum boot_format f,
		struct x86_boot_state *bs)
{
	struct boot_config cfg = { .kernel_path = "k", .initrd_path = "rd", .cmdline = "hello",
				   .format = f, .rsdp_addr = 0xe0000 };

	return boot_load_buffer(&gm, &cfg, k, klen, initrd, ilen, bs, err, sizeof(err));
}

static uint64_t rd64(uint64_t gpa)
{
	uint8_t b[8];

	assert_int_equal(gmem_read(&gm, gpa, b, 8), 0);
	return img_get64(b);
}

static uint32_t rd32(uint64_t gpa)
{
	return (uint32_t)rd64(gpa);
}

/* A Xen ELF note holding the PVH 32-bit entry (desc_size 4 or 8). */
static size_t pvh_note(uint8_t *n, uint64_t entry, uint32_t desc_size)
{
	img_put32(n, 4);
	img_put32(n + 4, desc_size);
	img_put32(n + 8, 18);
	memcpy(n + 12, "Xen", 4);
	if (desc_size == 8)
		img_put64(n + 16, entry);
	else
		img_put32(n + 16, (uint32_t)entry);
	return 16 + ((desc_size + 3) & ~3u);
}

static void test_elf64_entry(void **state)
{
	struct img_seg segs[2] = {
		{ .type = 1, .vaddr = 0xffffffff81000000ull, .paddr = 0x200000, .filesz = 0x100,
		  .memsz = 0x2000, .fill = 7 },
		{ .type = 1, .vaddr = 0x400000, .paddr = 0x400000, .filesz = 0x10, .memsz = 0x10,
		  .fill = 9 },
	};
	struct x86_boot_state bs;
	uint8_t rd[5000] = {3}, got[0x2000];
	size_t len;
	uint8_t *img = img_elf(1, 0xffffffff81000010ull, segs, 2, &len);

	(void)state;
	memset(got, 0xee, sizeof(got));
	assert_int_equal(gmem_write(&gm, 0x200000, got, sizeof(got)), 0);
	assert_int_equal(boot_detect_format(img, len), BOOT_FORMAT_ELF);
	assert_int_equal(load(img, len, rd, sizeof(rd), BOOT_FORMAT_AUTO, &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_LONG64);
	/* The virtual entry is translated through its segment to a physical one. */
	assert_int_equal(bs.entry, 0x200010);
	assert_int_equal(bs.rsi, LAYOUT_ZERO_PAGE);
	assert_int_equal(gmem_read(&gm, 0x200000, got, sizeof(got)), 0);
	for (unsigned i = 0; i < 0x100; i++)
		assert_int_equal(got[i], (uint8_t)(7 + i));
	for (unsigned i = 0x100; i < 0x2000; i++)
		assert_int_equal(got[i], 0);
	/* A zero page with a minimal header still carries cmdline, initrd and e820. */
	assert_int_equal(rd32(LAYOUT_ZERO_PAGE + 0x202), img_get32((const uint8_t *)"HdrS"));
	assert_int_equal(rd32(LAYOUT_ZERO_PAGE + 0x228), LAYOUT_CMDLINE);
	assert_int_equal(rd32(LAYOUT_ZERO_PAGE + 0x21c), sizeof(rd));
	assert_int_equal(rd32(LAYOUT_ZERO_PAGE + 0x218) & 0xfff, 0);
	assert_true(rd32(LAYOUT_ZERO_PAGE + 0x218) >= 0x400010);
	assert_int_equal((uint8_t)rd32(LAYOUT_ZERO_PAGE + 0x1e8), 3);
	free(img);
}

static void test_pvh(void **state)
{
	uint8_t note[64];
	struct img_seg segs[2] = {
		{ .type = 1, .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x40, .memsz = 0x40 },
		{ .type = 4, .data = note },
	};
	struct x86_boot_state bs;
	uint8_t rd[100] = {1};
	size_t len;
	uint8_t *img;

	(void)state;
	segs[1].filesz = pvh_note(note, 0x100020, 4);
	img = img_elf(1, 0x100000, segs, 2, &len);
	assert_int_equal(load(img, len, rd, sizeof(rd), BOOT_FORMAT_ELF, &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_PROT32);
	assert_int_equal(bs.entry, 0x100020);
	assert_int_equal(bs.rbx, LAYOUT_MULTIBOOT_INFO);
	assert_int_equal(rd32(bs.rbx), 0x336ec578);
	assert_int_equal(rd32(bs.rbx + 4), 1);
	assert_int_equal(rd32(bs.rbx + 12), 1);                 /* nr_modules */
	assert_int_equal(rd64(bs.rbx + 24), LAYOUT_CMDLINE);
	assert_int_equal(rd64(bs.rbx + 32), 0xe0000);
	assert_int_equal(rd32(bs.rbx + 48), 3);                 /* memmap entries */
	{
		uint64_t mods = rd64(bs.rbx + 16), mm = rd64(bs.rbx + 40);

		assert_int_equal(rd64(mods + 8), sizeof(rd));
		assert_int_equal(rd64(mods) & 0xfff, 0);
		assert_int_equal(rd64(mm + 24 * 2), 0x100000);
		assert_int_equal(rd64(mm + 24 * 2 + 8), RAM - 0x100000);
		assert_int_equal(rd32(mm + 24 * 1 + 16), 2);
	}
	/* elf-64 ignores the note and enters e_entry in long mode. */
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF_LONG64, &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_LONG64);
	assert_int_equal(bs.entry, 0x100000);
	free(img);

	/* 8-byte descriptor (Linux's _ASM_PTR), no initrd. */
	segs[1].filesz = pvh_note(note, 0x100030, 8);
	img = img_elf(1, 0x100000, segs, 2, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF, &bs), 0);
	assert_int_equal(bs.entry, 0x100030);
	assert_int_equal(rd32(bs.rbx + 12), 0);
	free(img);

	/* PVH entry outside the image; malformed descriptor size; note overrunning. */
	segs[1].filesz = pvh_note(note, 0x900000, 4);
	img = img_elf(1, 0x100000, segs, 2, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF, &bs), -ENOEXEC);
	assert_non_null(strstr(err, "PVH entry"));
	free(img);
	segs[1].filesz = pvh_note(note, 0x100000, 4);
	img_put32(note + 4, 2);
	img = img_elf(1, 0x100000, segs, 2, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF, &bs), -ENOEXEC);
	free(img);
	segs[1].filesz = pvh_note(note, 0x100000, 4);
	img_put32(note, 0xfffffff0);
	img = img_elf(1, 0x100000, segs, 2, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF, &bs), -ENOEXEC);
	assert_non_null(strstr(err, "malformed ELF note"));
	free(img);
}

static void test_elf32(void **state)
{
	struct img_seg seg = { .type = 1, .vaddr = 0x100000, .paddr = 0x100000, .filesz = 8,
			       .memsz = 8 };
	struct x86_boot_state bs;
	size_t len;
	uint8_t *img = img_elf(0, 0x100004, &seg, 1, &len);

	(void)state;
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF, &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_PROT32);
	assert_int_equal(bs.entry, 0x100004);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF_LONG64, &bs), -ENOEXEC);
	free(img);
}

static void test_malformed(void **state)
{
	struct img_seg seg = { .type = 1, .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x80,
			       .memsz = 0x100 };
	struct x86_boot_state bs;
	size_t len;
	uint8_t *img = img_elf(1, 0x100000, &seg, 1, &len), *bad = malloc(len);

	(void)state;
	/* Every truncation fails. */
	for (size_t n = 0; n < len; n++)
		assert_true(load(img, n, NULL, 0, BOOT_FORMAT_ELF, &bs) < 0);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_ELF, &bs), 0);

#define MUTATE(stmt, expect)                                                                     \
	do {                                                                                     \
		memcpy(bad, img, len);                                                           \
		stmt;                                                                            \
		assert_int_equal(load(bad, len, NULL, 0, BOOT_FORMAT_ELF, &bs), expect);         \
		assert_true(err[0] != '\0');                                                     \
	} while (0)
	MUTATE(bad[0] = 0, -ENOEXEC);                               /* magic */
	MUTATE(bad[4] = 3, -ENOEXEC);                               /* class */
	MUTATE(bad[5] = 2, -ENOEXEC);                               /* big-endian */
	MUTATE(bad[6] = 0, -ENOEXEC);                               /* version */
	MUTATE(img_put16(bad + 16, 3), -ENOEXEC);                   /* ET_DYN */
	MUTATE(img_put16(bad + 18, 40), -ENOEXEC);                  /* ARM */
	MUTATE(img_put16(bad + 56, 0), -ENOEXEC);                   /* no phdrs */
	MUTATE(img_put16(bad + 56, 0xffff), -ENOEXEC);              /* too many */
	MUTATE(img_put16(bad + 54, 8), -ENOEXEC);                   /* phentsize */
	MUTATE(img_put64(bad + 32, len - 10), -ENOEXEC);            /* phoff past end */
	MUTATE(img_put64(bad + 32, UINT64_MAX - 8), -ENOEXEC);      /* phoff wraps */
	MUTATE(img_put64(bad + 64 + 32, 0x200), -ENOEXEC);          /* filesz > memsz */
	MUTATE(img_put64(bad + 64 + 8, len), -ENOEXEC);             /* offset past end */
	MUTATE(img_put64(bad + 64 + 8, UINT64_MAX), -ENOEXEC);      /* offset wraps */
	MUTATE(img_put64(bad + 64 + 24, 0x8000), -EINVAL);          /* below 1 MiB */
	MUTATE(img_put64(bad + 64 + 24, RAM - 0x80), -ERANGE);      /* past the end of RAM */
	MUTATE(img_put64(bad + 64 + 24, 0xfffffffffffffff0ull), -EINVAL); /* paddr+memsz wraps */
	MUTATE(img_put64(bad + 64 + 40, 1ull << 40), -EFBIG);       /* memsz beyond RAM */
	MUTATE(img_put64(bad + 24, 0x100100), -ENOEXEC);            /* entry after the segment */
	MUTATE(img_put64(bad + 64 + 24, 0x100000000ull);
	       img_put64(bad + 64 + 16, 0x100000000ull);
	       img_put64(bad + 24, 0x100000000ull), -ERANGE);     /* no RAM above 4 GiB here */
	MUTATE(img_put32(bad + 64, 6), -ENOEXEC);                   /* no PT_LOAD */
	assert_non_null(strstr(err, "no loadable segment"));
	free(bad);
	free(img);
}

static void test_flat(void **state)
{
	struct boot_config cfg = { .format = BOOT_FORMAT_FLAT };
	struct x86_boot_state bs;
	uint8_t code[300], got[300];

	(void)state;
	for (unsigned i = 0; i < sizeof(code); i++)
		code[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(boot_detect_format(code, sizeof(code)), BOOT_FORMAT_AUTO);
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), NULL, 0, &bs, err,
					  sizeof(err)), 0);
	assert_int_equal(bs.mode, X86_BOOT_LONG64);
	assert_int_equal(bs.entry, BOOT_FLAT_DEFAULT_ADDR);
	assert_int_equal(bs.rsp, BOOT_FLAT_DEFAULT_ADDR);
	assert_int_equal(gmem_read(&gm, BOOT_FLAT_DEFAULT_ADDR, got, sizeof(got)), 0);
	assert_memory_equal(got, code, sizeof(code));

	cfg.flat_load_addr = 0x400000;
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), NULL, 0, &bs, err,
					  sizeof(err)), 0);
	assert_int_equal(bs.entry, 0x400000);
	cfg.flat_load_addr = 0x8000;
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), NULL, 0, &bs, err,
					  sizeof(err)), -EINVAL);
	cfg.flat_load_addr = RAM - 100;
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), NULL, 0, &bs, err,
					  sizeof(err)), -ERANGE);
	cfg.flat_load_addr = 0;
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), code, 1, &bs, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, 0, NULL, 0, &bs, err, sizeof(err)),
			 -EINVAL);
	/* AUTO never guesses flat. */
	cfg.format = BOOT_FORMAT_AUTO;
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), NULL, 0, &bs, err,
					  sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "format=flat"));
	assert_int_equal(boot_load_buffer(&gm, &cfg, NULL, 0, NULL, 0, &bs, err, sizeof(err)),
			 -EINVAL);
	cfg.format = (enum boot_format)99;
	assert_int_equal(boot_load_buffer(&gm, &cfg, code, sizeof(code), NULL, 0, &bs, err,
					  sizeof(err)), -EINVAL);
}

static void test_entry_above_4g(void **state)
{
	uint64_t gpas[] = { 0, 1ull << 32 }, sizes[] = { 16ull << 20, 2ull << 20 };
	struct img_seg seg = { .type = 1, .vaddr = 1ull << 32, .paddr = 1ull << 32, .filesz = 16,
			       .memsz = 16 };
	struct boot_config cfg = { .format = BOOT_FORMAT_ELF };
	struct guest_mem hi;
	struct x86_boot_state bs;
	size_t len;
	uint8_t *img = img_elf(1, 1ull << 32, &seg, 1, &len);

	(void)state;
	/* RAM exists up there, but the boot page tables map only 0-4 GiB. */
	assert_int_equal(gmem_init(&hi, gpas, sizes, 2), 0);
	assert_int_equal(boot_load_buffer(&hi, &cfg, img, len, NULL, 0, &bs, err, sizeof(err)),
			 -ENOEXEC);
	assert_non_null(strstr(err, "above 4 GiB"));
	gmem_fini(&hi);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf64_entry),
		cmocka_unit_test(test_pvh),
		cmocka_unit_test(test_elf32),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_flat),
		cmocka_unit_test(test_entry_above_4g),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
