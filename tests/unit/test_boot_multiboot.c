/* Multiboot v1: header search, ELF and a.out-kludge kernels, the info structure. */
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
#define AOUT_LEN 0x200u
#define HOFF 0x40u

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

static uint32_t rd32(uint64_t gpa)
{
	uint8_t b[4];

	assert_int_equal(gmem_read(&gm, gpa, b, 4), 0);
	return img_get32(b);
}

static void rdstr(uint64_t gpa, char *out, size_t n)
{
	assert_int_equal(gmem_read(&gm, gpa, out, n), 0);
	out[n - 1] = '\0';
}

static void mb_header(uint8_t *h, uint32_t flags)
{
	img_put32(h, 0x1badb002);
	img_put32(h + 4, flags);
	img_put32(h + 8, (uint32_t)-(0x1badb002u + flags));
}

/* A raw image with an a.out-kludge header at HOFF, loaded at 1 MiB. */
static uint8_t *make_aout(uint32_t flags, uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	uint8_t *d = calloc(1, AOUT_LEN);

	for (unsigned i = 0; i < AOUT_LEN; i++)
		d[i] = (uint8_t)(i * 3);
	mb_header(d + HOFF, flags | (1u << 16));
	img_put32(d + HOFF + 12, 0x100000 + HOFF);     /* header_addr */
	img_put32(d + HOFF + 16, 0x100000);            /* load_addr */
	img_put32(d + HOFF + 20, load_end);
	img_put32(d + HOFF + 24, bss_end);
	img_put32(d + HOFF + 28, entry);
	return d;
}

static int load(const void *k, size_t klen, const void *initrd, size_t ilen, enum boot_format f,
		struct x86_boot_state *bs)
{
	struct boot_config cfg = { .kernel_path = "mb", .initrd_path = "rd.img",
				   .cmdline = "mbcmd a=1", .format = f };

	return boot_load_buffer(&gm, &cfg, k, klen, initrd, ilen, bs, err, sizeof(err));
}

static void test_aout(void **state)
{
	struct x86_boot_state bs;
	uint8_t *img = make_aout(3, 0x100000 + AOUT_LEN, 0x102000, 0x100080);
	uint8_t rd[3000], got[AOUT_LEN], bss[0x1e00], zero[0x1e00] = {0};
	uint32_t info, mods, mmap;
	char s[32];

	(void)state;
	memset(rd, 0x77, sizeof(rd));
	memset(bss, 0xab, sizeof(bss));
	assert_int_equal(gmem_write(&gm, 0x100000 + AOUT_LEN, bss, sizeof(bss)), 0);
	assert_int_equal(boot_detect_format(img, AOUT_LEN), BOOT_FORMAT_MULTIBOOT);
	assert_int_equal(load(img, AOUT_LEN, rd, sizeof(rd), BOOT_FORMAT_AUTO, &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_PROT32);
	assert_int_equal(bs.entry, 0x100080);
	assert_int_equal(bs.rax, 0x2badb002);
	info = (uint32_t)bs.rbx;
	assert_int_equal(info, LAYOUT_MULTIBOOT_INFO);
	assert_int_equal(gmem_read(&gm, 0x100000, got, AOUT_LEN), 0);
	assert_memory_equal(got, img, AOUT_LEN);
	assert_int_equal(gmem_read(&gm, 0x100000 + AOUT_LEN, bss, sizeof(bss)), 0);
	assert_memory_equal(bss, zero, sizeof(bss));

	/* flags: mem, cmdline, mods, mmap, loader name */
	assert_int_equal(rd32(info), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	assert_int_equal(rd32(info + 4), LAYOUT_EBDA / 1024);
	assert_int_equal(rd32(info + 8), (RAM - 0x100000) / 1024);
	rdstr(rd32(info + 16), s, 10);
	assert_string_equal(s, "mbcmd a=1");
	assert_int_equal(rd32(info + 20), 1);
	mods = rd32(info + 24);
	assert_int_equal(rd32(mods) & 0xfff, 0);
	assert_int_equal(rd32(mods + 4) - rd32(mods), sizeof(rd));
	assert_true(rd32(mods + 4) <= RAM);
	assert_true(rd32(mods) >= 0x102000);
	assert_int_equal(rd32(rd32(mods)), 0x77777777);
	rdstr(rd32(mods + 8), s, 7);
	assert_string_equal(s, "rd.img");
	assert_int_equal(rd32(info + 44), 3 * 24);
	mmap = rd32(info + 48);
	assert_int_equal(rd32(mmap), 20);
	assert_int_equal(rd32(mmap + 4), 0);
	assert_int_equal(rd32(mmap + 12), LAYOUT_EBDA);
	assert_int_equal(rd32(mmap + 20), 1);
	assert_int_equal(rd32(mmap + 24 + 20), 2);
	assert_int_equal(rd32(mmap + 48 + 4), 0x100000);
	rdstr(rd32(info + 64), s, 7);
	assert_string_equal(s, "petrel");
	free(img);

	/* load_end 0: the rest of the file; bss_end 0: no bss; no initrd: no mods. */
	img = make_aout(0, 0, 0, 0x100010);
	assert_int_equal(load(img, AOUT_LEN, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), 0);
	assert_int_equal(rd32(LAYOUT_MULTIBOOT_INFO) & (1u << 3), 0);
	/* The video-mode request is ignored with a warning. */
	free(img);
	img = make_aout(4, 0, 0, 0x100010);
	assert_int_equal(load(img, AOUT_LEN, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), 0);
	free(img);
}

static void test_aout_malformed(void **state)
{
	struct x86_boot_state bs;
	uint8_t *good = make_aout(3, 0x100000 + AOUT_LEN, 0x102000, 0x100080), *img;

	(void)state;
	for (size_t n = 0; n < AOUT_LEN; n++)
		assert_true(load(good, n, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs) < 0);
#define AOUT(flags, le, be, en, expect)                                                          \
	do {                                                                                     \
		img = make_aout(flags, le, be, en);                                              \
		assert_int_equal(load(img, AOUT_LEN, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs),       \
				 expect);                                                        \
		assert_true(err[0] != '\0');                                                     \
		free(img);                                                                       \
	} while (0)
	AOUT(1u << 3, 0, 0, 0x100010, -ENOTSUP);                /* unknown required flag */
	AOUT(0, 0x100000, 0, 0x100010, -ENOEXEC);               /* load_end == load_addr */
	AOUT(0, 0x100000 + AOUT_LEN + 1, 0, 0x100010, -ENOEXEC);/* load_end past the file */
	AOUT(0, 0, 0x100100, 0x100010, -ENOEXEC);               /* bss_end below load end */
	AOUT(0, 0, 0, 0x100000 + AOUT_LEN, -ENOEXEC);           /* entry after the image */
	AOUT(0, 0, 0, 0xfffff, -ENOEXEC);                       /* entry before it */
	AOUT(0, 0, RAM + 0x1000, 0x100010, -ERANGE);            /* bss past the end of RAM */
	AOUT(0, 0, 0x7ffffff0, 0x100010, -EFBIG);               /* bss larger than RAM */

	/* header_addr / load_addr inconsistent with the header's file offset. */
	img = make_aout(0, 0, 0, 0x100010);
	img_put32(img + HOFF + 16, 0x100000 + HOFF + 4);        /* load_addr > header_addr */
	assert_int_equal(load(img, AOUT_LEN, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -ENOEXEC);
	img_put32(img + HOFF + 16, 0x100000 - 4);               /* file offset would be negative */
	assert_int_equal(load(img, AOUT_LEN, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -ENOEXEC);
	/* Loaded below 1 MiB, over the boot structures. */
	img_put32(img + HOFF + 12, 0x8000 + HOFF);
	img_put32(img + HOFF + 16, 0x8000);
	img_put32(img + HOFF + 28, 0x8010);
	assert_int_equal(load(img, AOUT_LEN, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -EINVAL);
	free(img);

	/* Bad checksum: no header at all; header beyond 8 KiB is not searched. */
	img = calloc(1, 9000);
	mb_header(img + HOFF, 0);
	img[HOFF + 8] ^= 1;
	assert_int_equal(boot_detect_format(img, 9000), BOOT_FORMAT_AUTO);
	assert_int_equal(load(img, 9000, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -ENOEXEC);
	memset(img, 0, 9000);
	mb_header(img + 8192, 0);
	assert_int_equal(load(img, 9000, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -ENOEXEC);
	mb_header(img + 8180, 0);   /* last aligned slot that fits in the first 8 KiB */
	assert_int_equal(boot_detect_format(img, 9000), BOOT_FORMAT_MULTIBOOT);
	/* Found, but not ELF and no a.out kludge. */
	assert_int_equal(load(img, 9000, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -ENOEXEC);
	/* The header must be 4-byte aligned. */
	memset(img, 0, 9000);
	mb_header(img + 0x42, 0);
	assert_int_equal(boot_detect_format(img, 9000), BOOT_FORMAT_AUTO);
	free(img);
	free(good);
}

static void test_elf_kernel(void **state)
{
	uint8_t body[0x100] = {0};
	struct img_seg seg = { .type = 1, .vaddr = 0x200000, .paddr = 0x200000, .filesz = 0x100,
			       .memsz = 0x1000, .data = body };
	struct x86_boot_state bs;
	uint8_t rd[10] = {1};
	size_t len;
	uint8_t *img;

	(void)state;
	mb_header(body + 12, 3);
	img = img_elf(0, 0x200040, &seg, 1, &len);
	/* Multiboot wins over plain ELF in detection. */
	assert_int_equal(boot_detect_format(img, len), BOOT_FORMAT_MULTIBOOT);
	assert_int_equal(load(img, len, rd, sizeof(rd), BOOT_FORMAT_AUTO, &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_PROT32);
	assert_int_equal(bs.entry, 0x200040);
	assert_int_equal(bs.rax, 0x2badb002);
	assert_int_equal(rd32(0x200000 + 12), 0x1badb002);
	free(img);

	/* An ELF64 Multiboot kernel placed above 4 GiB cannot be entered in 32-bit mode. */
	seg.paddr = 0x100000000ull;
	seg.vaddr = 0x100000000ull;
	img = img_elf(1, 0x100000040ull, &seg, 1, &len);
	assert_true(load(img, len, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs) < 0);
	free(img);

	/* A Multiboot header in a file that is not ELF without the a.out flag. */
	img = calloc(1, 64);
	mb_header(img, 0);
	assert_int_equal(load(img, 64, NULL, 0, BOOT_FORMAT_MULTIBOOT, &bs), -ENOEXEC);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aout),
		cmocka_unit_test(test_aout_malformed),
		cmocka_unit_test(test_elf_kernel),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
