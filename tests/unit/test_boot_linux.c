/* Linux bzImage loading: setup header, zero page, payload decompression. */
#include <bzlib.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "mem/guest_mem.h"
#include "util/log.h"

#include "boot_images.h"

#define RAM (64ull << 20)
#define KADDR 0x1000000ull
#define KVADDR 0xffffffff81000000ull
#define KFILESZ 0x2000u
#define KMEMSZ 0x5000u
#define PM_PREFIX 0x400u

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

/* ---- compressors (the test's side of each format) ---- */

static uint8_t *comp_gzip(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = compressBound(len) + 64;
	uint8_t *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static uint8_t *comp_xz(const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = len + len / 2 + 4096, pos = 0;
	uint8_t *out = malloc(cap);

	assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap),
			 LZMA_OK);
	*out_len = pos;
	return out;
}

static uint8_t *comp_lzma(const uint8_t *in, size_t len, size_t *out_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	size_t cap = len + len / 2 + 4096;
	uint8_t *out = malloc(cap);

	assert_false(lzma_lzma_preset(&opt, 6));
	assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	assert_int_equal(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
	*out_len = s.total_out;
	lzma_end(&s);
	return out;
}

static uint8_t *comp_zstd(const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(len);
	uint8_t *out = malloc(cap);

	*out_len = ZSTD_compress(out, cap, in, len, 19);
	assert_false(ZSTD_isError(*out_len));
	return out;
}

static uint8_t *comp_bzip2(const uint8_t *in, size_t len, size_t *out_len)
{
	unsigned cap = (unsigned)(len + len / 100 + 1024);
	uint8_t *out = malloc(cap);

	assert_int_equal(BZ2_bzBuffToBuffCompress((char *)out, &cap, (char *)in, (unsigned)len, 9,
						  0, 0), BZ_OK);
	*out_len = cap;
	return out;
}

/* Linux's legacy LZ4 frame: magic, then (size, block) pairs of <= 8 MiB each. */
static uint8_t *comp_lz4(const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = 4 + (len / (8u << 20) + 1) * (4 + LZ4_compressBound(8 << 20)), pos = 4;
	uint8_t *out = malloc(cap);

	img_put32(out, 0x184c2102);
	for (size_t off = 0; off < len;) {
		int n = (int)(len - off > (8u << 20) ? (8u << 20) : len - off);
		int c = LZ4_compress_default((const char *)in + off, (char *)out + pos + 4, n,
					     (int)(cap - pos - 4));

		assert_true(c > 0);
		img_put32(out + pos, (uint32_t)c);
		pos += 4 + (size_t)c;
		off += (size_t)n;
	}
	*out_len = pos;
	return out;
}

typedef uint8_t *(*compress_fn)(const uint8_t *, size_t, size_t *);

/* ---- images ---- */

static uint8_t *make_vmlinux(size_t *len)
{
	struct img_seg seg = { .type = 1, .vaddr = KVADDR, .paddr = KADDR, .filesz = KFILESZ,
			       .memsz = KMEMSZ, .fill = 0x40 };

	return img_elf(1, KADDR, &seg, 1, len);
}

struct bz_opts {
	uint16_t version;
	uint8_t setup_sects;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t initrd_max;
	uint32_t init_size;
	uint64_t pref;
	const uint8_t *payload;
	size_t payload_len;
};

static void bz_defaults(struct bz_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->version = 0x020f;
	o->setup_sects = 1;
	o->xloadflags = 1;
	o->cmdline_size = 2047;
	o->initrd_max = 0x7fffffff;
	o->init_size = 0x800000;
	o->pref = KADDR;
}

/* setup sectors | protected-mode prefix (PM_PREFIX bytes) | payload | 4-byte size */
static uint8_t *make_bzimage(const struct bz_opts *o, size_t *len)
{
	unsigned sects = o->setup_sects ? o->setup_sects : 4;
	size_t setup = (size_t)(sects + 1) * 512;
	size_t total = setup + PM_PREFIX + o->payload_len + 4;
	uint8_t *d = calloc(1, total), *pm = d + setup;

	d[0x1f1] = o->setup_sects;
	img_put32(d + 0x1f4, (uint32_t)((total - setup + 15) / 16));
	img_put16(d + 0x1fe, 0xaa55);
	d[0x200] = 0xeb;
	d[0x201] = 0x6a;       /* header ends at 0x26c */
	memcpy(d + 0x202, "HdrS", 4);
	img_put16(d + 0x206, o->version);
	d[0x211] = 0x01;       /* LOADED_HIGH */
	img_put32(d + 0x214, 0x100000);
	img_put32(d + 0x22c, o->initrd_max);
	img_put32(d + 0x230, 0x200000);
	d[0x234] = 1;
	img_put16(d + 0x236, o->xloadflags);
	img_put32(d + 0x238, o->cmdline_size);
	img_put32(d + 0x248, PM_PREFIX);
	img_put32(d + 0x24c, (uint32_t)o->payload_len);
	img_put64(d + 0x258, o->pref);
	img_put32(d + 0x260, o->init_size);
	for (unsigned i = 0; i < PM_PREFIX; i++)
		pm[i] = (uint8_t)(0x90 + i);
	memcpy(pm + PM_PREFIX, o->payload, o->payload_len);
	*len = total;
	return d;
}

static uint8_t *make_default(compress_fn fn, size_t *len)
{
	struct bz_opts o;
	size_t vlen, plen;
	uint8_t *v = make_vmlinux(&vlen), *p = fn(v, vlen, &plen), *img;

	bz_defaults(&o);
	o.payload = p;
	o.payload_len = plen;
	img = make_bzimage(&o, len);
	free(v);
	free(p);
	return img;
}

static int load(const void *k, size_t klen, const void *initrd, size_t ilen, enum boot_format f,
		const char *cmdline, struct x86_boot_state *bs)
{
	struct boot_config cfg = { .kernel_path = "bz", .cmdline = cmdline, .format = f,
				   .rsdp_addr = 0xe0000 };

	return boot_load_buffer(&gm, &cfg, k, klen, initrd, ilen, bs, err, sizeof(err));
}

static uint8_t zp_byte(uint64_t off)
{
	uint8_t v;

	assert_int_equal(gmem_read(&gm, LAYOUT_ZERO_PAGE + off, &v, 1), 0);
	return v;
}

static uint32_t zp32(uint64_t off)
{
	uint8_t b[4];

	assert_int_equal(gmem_read(&gm, LAYOUT_ZERO_PAGE + off, b, 4), 0);
	return img_get32(b);
}

static void check_kernel_in_memory(void)
{
	uint8_t *k = malloc(KMEMSZ);

	assert_int_equal(gmem_read(&gm, KADDR, k, KMEMSZ), 0);
	for (unsigned i = 0; i < KFILESZ; i++)
		assert_int_equal(k[i], (uint8_t)(0x40 + i));
	for (unsigned i = KFILESZ; i < KMEMSZ; i++)
		assert_int_equal(k[i], 0);
	free(k);
}

static void test_decompress_gzip(void **state)
{
	struct x86_boot_state bs;
	uint8_t initrd[10000], back[KMEMSZ - KFILESZ];
	size_t len;
	uint8_t *img = make_default(comp_gzip, &len);
	char cmd[64];
	uint32_t rd;

	(void)state;
	for (unsigned i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7);
	/* Stale bytes in the bss must be cleared by the loader. */
	memset(back, 0xcc, sizeof(back));
	assert_int_equal(gmem_write(&gm, KADDR + KFILESZ, back, 0x3000), 0);
	assert_int_equal(boot_detect_format(img, len), BOOT_FORMAT_LINUX);
	assert_int_equal(load(img, len, initrd, sizeof(initrd), BOOT_FORMAT_AUTO,
			      "console=ttyS0 quiet", &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_LONG64);
	assert_int_equal(bs.entry, KADDR);          /* vmlinux's startup_64 */
	assert_int_equal(bs.rsi, LAYOUT_ZERO_PAGE);
	check_kernel_in_memory();

	/* Zero page: copied header plus what the loader fills. */
	assert_int_equal(zp_byte(0x1fe), 0x55);
	assert_int_equal(zp_byte(0x1ff), 0xaa);
	assert_int_equal(zp32(0x202), img_get32((const uint8_t *)"HdrS"));
	assert_int_equal(zp_byte(0x210), 0xff);
	assert_true(zp_byte(0x211) & 0x80);
	assert_int_equal(zp32(0x228), LAYOUT_CMDLINE);
	assert_int_equal(zp32(0x0c8), 0);
	assert_int_equal(gmem_read(&gm, LAYOUT_CMDLINE, cmd, 20), 0);
	assert_string_equal(cmd, "console=ttyS0 quiet");
	assert_int_equal(zp32(0x070), 0xe0000);
	assert_int_equal(zp32(0x074), 0);
	assert_int_equal(zp_byte(0x1e8), 3);
	assert_int_equal(zp32(0x2d0 + 2 * 20), 0x100000);        /* third e820 entry addr */
	assert_int_equal(zp32(0x2d0 + 2 * 20 + 16), 1);          /* ... type RAM */

	/* initrd: page-aligned, as high as possible, after the kernel. */
	rd = zp32(0x218);
	assert_int_equal(zp32(0x21c), sizeof(initrd));
	assert_int_equal(rd & 0xfff, 0);
	assert_true(rd + sizeof(initrd) <= RAM);
	assert_true(rd + sizeof(initrd) > RAM - 4096);
	assert_true(rd >= KADDR + KMEMSZ);
	assert_int_equal(gmem_read(&gm, rd, back, sizeof(initrd)), 0);
	assert_memory_equal(back, initrd, sizeof(initrd));
	free(img);
}

static void test_all_compressions(void **state)
{
	static const compress_fn fns[] = { comp_gzip, comp_xz, comp_lzma, comp_zstd, comp_bzip2,
					   comp_lz4 };
	static const enum boot_compression kinds[] = { BOOT_COMP_GZIP, BOOT_COMP_XZ,
		BOOT_COMP_LZMA, BOOT_COMP_ZSTD, BOOT_COMP_BZIP2, BOOT_COMP_LZ4 };
	size_t vlen;
	uint8_t *v = make_vmlinux(&vlen);

	(void)state;
	for (unsigned i = 0; i < 6; i++) {
		struct x86_boot_state bs;
		size_t plen, olen, len;
		uint8_t *p = fns[i](v, vlen, &plen), *img;
		void *out;

		assert_int_equal(boot_detect_compression(p, plen), kinds[i]);
		assert_int_equal(boot_decompress(p, plen, RAM, &out, &olen, err, sizeof(err)), 0);
		assert_int_equal(olen, vlen);
		assert_memory_equal(out, v, vlen);
		free(out);
		/* Truncated payloads are errors, not short kernels. */
		assert_int_equal(boot_decompress(p, plen / 2, RAM, &out, &olen, err, sizeof(err)),
				 -EINVAL);
		assert_null(out);

		memset(&gm.regions[0].host[KADDR], 0, KMEMSZ);
		img = make_default(fns[i], &len);
		assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), 0);
		assert_int_equal(bs.entry, KADDR);
		check_kernel_in_memory();
		assert_int_equal(zp32(0x218), 0);
		free(img);
		free(p);
	}
	assert_int_equal(boot_detect_compression("\x00\x01\x02\x03", 4), BOOT_COMP_NONE);
	{
		void *out;
		size_t olen;

		assert_int_equal(boot_decompress("junkjunk", 8, RAM, &out, &olen, err, sizeof(err)),
				 -ENOTSUP);
	}
	free(v);
}

static void test_nodecompress(void **state)
{
	struct x86_boot_state bs;
	size_t len;
	uint8_t *img = make_default(comp_gzip, &len), got[PM_PREFIX];

	(void)state;
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "x", &bs), 0);
	assert_int_equal(bs.mode, X86_BOOT_LONG64);
	assert_int_equal(bs.entry, KADDR + 0x200);
	assert_int_equal(bs.rsi, LAYOUT_ZERO_PAGE);
	assert_int_equal(gmem_read(&gm, KADDR, got, PM_PREFIX), 0);
	assert_memory_equal(got, img + 1024, PM_PREFIX);
	assert_int_equal(zp32(0x214), KADDR);
	free(img);
}

static void test_truncated_everywhere(void **state)
{
	struct x86_boot_state bs;
	size_t len;
	uint8_t *img = make_default(comp_gzip, &len);

	(void)state;
	/* Every prefix of the image fails cleanly (the 4-byte size trailer is optional). */
	for (size_t n = 0; n < len - 4; n++) {
		int rc = load(img, n, NULL, 0, BOOT_FORMAT_LINUX, "", &bs);

		assert_true(rc < 0);
		assert_true(err[0] != '\0');
	}
	/* syssize lets the last 16-byte unit be partial. */
	for (size_t n = 0; n < len - 16; n++)
		assert_true(load(img, n, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "", &bs) < 0);
	assert_int_equal(load(img, 312, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_string_equal(err, "kernel 'bz': truncated setup header (file is 312 bytes)");
	free(img);
}

static void test_bad_headers(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	size_t len;
	uint8_t *img, payload[64] = {0x1f, 0x8b};

	(void)state;
	img = make_default(comp_gzip, &len);
	img[0x1fe] = 0;
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_non_null(strstr(err, "0xAA55"));
	assert_int_equal(boot_detect_format(img, len), BOOT_FORMAT_AUTO);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_AUTO, "", &bs), -ENOEXEC);
	img[0x1fe] = 0x55;
	img[0x203] = 'X';
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_non_null(strstr(err, "HdrS"));
	img[0x203] = 'd';
	img[0x201] = 0x10;     /* header too short for protocol 2.15 */
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	img[0x201] = 0x6a;
	img[0x211] = 0;        /* zImage */
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	free(img);

	bz_defaults(&o);
	o.payload = payload;
	o.payload_len = sizeof(payload);
	o.version = 0x0205;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_non_null(strstr(err, "too old"));
	free(img);
	o.version = 0x020f;
	o.xloadflags = 0;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_non_null(strstr(err, "64-bit"));
	free(img);

	/* Corrupt payload: gzip magic followed by garbage. */
	o.xloadflags = 1;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -EINVAL);
	assert_non_null(strstr(err, "gzip"));
	free(img);
}

static void test_payload_bounds(void **state)
{
	struct x86_boot_state bs;
	size_t len;
	uint8_t *img = make_default(comp_gzip, &len);
	size_t pm_len = len - 1024;

	(void)state;
	img_put32(img + 0x248, (uint32_t)pm_len + 1);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_non_null(strstr(err, "payload"));
	img_put32(img + 0x248, 0xffffffff);
	img_put32(img + 0x24c, 0x10);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	img_put32(img + 0x248, PM_PREFIX);
	img_put32(img + 0x24c, 0xfffffff0);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	img_put32(img + 0x24c, 0);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	/* A payload that is not compressed at all. */
	img_put32(img + 0x248, 0);
	img_put32(img + 0x24c, 64);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOTSUP);
	free(img);
}

static void test_payload_not_elf_or_outside_ram(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	struct img_seg seg = { .type = 1, .vaddr = KVADDR, .paddr = 256ull << 20, .filesz = 16,
			       .memsz = 16 };
	uint8_t junk[4096] = {1, 2, 3}, *p, *v, *img;
	size_t plen, vlen, len;

	(void)state;
	bz_defaults(&o);
	p = comp_gzip(junk, sizeof(junk), &plen);
	o.payload = p;
	o.payload_len = plen;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ENOEXEC);
	assert_non_null(strstr(err, "ELF"));
	free(img);
	free(p);

	/* vmlinux segment beyond the guest's 64 MiB. */
	v = img_elf(1, 256ull << 20, &seg, 1, &vlen);
	p = comp_gzip(v, vlen, &plen);
	o.payload = p;
	o.payload_len = plen;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -ERANGE);
	free(img);
	free(p);
	free(v);

	/* p_paddr + p_memsz wraps. */
	seg.paddr = 0xfffffffffffff000ull;
	seg.memsz = 0x2000;
	v = img_elf(1, seg.paddr, &seg, 1, &vlen);
	p = comp_gzip(v, vlen, &plen);
	o.payload = p;
	o.payload_len = plen;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -EINVAL);
	assert_non_null(strstr(err, "wraps"));
	free(img);
	free(p);
	free(v);
}

static void test_init_size_and_load_address(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	size_t vlen, plen, len;
	uint8_t *v = make_vmlinux(&vlen), *p = comp_gzip(v, vlen, &plen), *img;

	(void)state;
	bz_defaults(&o);
	o.payload = p;
	o.payload_len = plen;
	o.init_size = 0x10000000; /* 256 MiB working area in a 64 MiB guest */
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "", &bs), -EFBIG);
	/* init_size budgets the guest's decompression; without it only the vmlinux counts. */
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), 0);
	free(img);
	o.init_size = 0x3001000; /* fits in RAM but ends beyond it */
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "", &bs), -ERANGE);
	free(img);
	/* A pref_address near the top of the address space cannot wrap. */
	o.init_size = 0x800000;
	o.pref = 0xffffffffffe00000ull;
	img = make_bzimage(&o, &len);
	assert_true(load(img, len, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "", &bs) < 0);
	free(img);
	/* pref_address below 1 MiB is raised to 1 MiB and aligned. */
	o.pref = 0x1000;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "", &bs), 0);
	assert_int_equal(bs.entry, 0x200000 + 0x200);
	free(img);
	free(p);
	free(v);
}

static void test_cmdline_limits(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	size_t vlen, plen, len;
	uint8_t *v = make_vmlinux(&vlen), *p = comp_gzip(v, vlen, &plen), *img;
	char *big = malloc(LAYOUT_CMDLINE_MAX + 1);

	(void)state;
	bz_defaults(&o);
	o.payload = p;
	o.payload_len = plen;
	o.cmdline_size = 10;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "0123456789", &bs), 0);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "0123456789A", &bs), -E2BIG);
	assert_non_null(strstr(err, "command line is 11 bytes, the limit is 10"));
	free(img);
	/* cmdline_size larger than our buffer: LAYOUT_CMDLINE_MAX still bounds it. */
	o.cmdline_size = 0xffffffff;
	img = make_bzimage(&o, &len);
	memset(big, 'x', LAYOUT_CMDLINE_MAX);
	big[LAYOUT_CMDLINE_MAX] = '\0';
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, big, &bs), -E2BIG);
	big[LAYOUT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, big, &bs), 0);
	free(img);
	free(big);
	free(p);
	free(v);
}

static void test_initrd_placement(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	size_t vlen, plen, len;
	uint8_t *v = make_vmlinux(&vlen), *p = comp_gzip(v, vlen, &plen), *img;
	uint8_t *initrd = calloc(1, 48ull << 20);

	(void)state;
	bz_defaults(&o);
	o.payload = p;
	o.payload_len = plen;
	img = make_bzimage(&o, &len);
	/* Guest decompressor: init_size (8 MiB) is kept free; 40 MiB fits exactly above. */
	assert_int_equal(load(img, len, initrd, 40ull << 20, BOOT_FORMAT_LINUX_NODECOMPRESS, "",
			      &bs), 0);
	assert_int_equal(zp32(0x218), 24ull << 20);
	assert_int_equal(load(img, len, initrd, 41ull << 20, BOOT_FORMAT_LINUX_NODECOMPRESS, "",
			      &bs), -EFBIG);
	/* Host decompression: only the vmlinux (16 MiB + 0x5000) is kept free. */
	assert_int_equal(load(img, len, initrd, 41ull << 20, BOOT_FORMAT_LINUX, "", &bs), 0);
	assert_int_equal(zp32(0x218), 23ull << 20);
	assert_int_equal(load(img, len, initrd, (48ull << 20) - 0x4000, BOOT_FORMAT_LINUX, "", &bs),
			 -EFBIG);
	assert_non_null(strstr(err, "initrd '(buffer)': "));
	/* Larger than RAM. */
	assert_int_equal(load(img, len, initrd, RAM + 1, BOOT_FORMAT_LINUX, "", &bs), -EFBIG);
	assert_int_equal(load(img, len, initrd, 0, BOOT_FORMAT_LINUX, "", &bs), -EINVAL);
	free(img);
	/* initrd_addr_max below the kernel: the initrd goes under it. */
	o.initrd_max = KADDR - 1;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, initrd, 1u << 20, BOOT_FORMAT_LINUX, "", &bs), 0);
	assert_int_equal(zp32(0x218), KADDR - (1u << 20));
	assert_int_equal(zp32(0x21c), 1u << 20);
	free(img);
	free(initrd);
	free(p);
	free(v);
}

static void test_decompression_bomb(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	size_t zlen = 80ull << 20, plen, len;
	uint8_t *zeros = calloc(1, zlen), *p, *img;
	void *out;
	size_t olen;

	(void)state;
	p = comp_zstd(zeros, zlen, &plen);
	assert_true(plen < 64 * 1024);
	assert_int_equal(boot_decompress(p, plen, RAM, &out, &olen, err, sizeof(err)), -EFBIG);
	assert_null(out);
	bz_defaults(&o);
	o.payload = p;
	o.payload_len = plen;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), -EFBIG);
	assert_non_null(strstr(err, "exceeds"));
	free(img);
	free(p);
	p = comp_gzip(zeros, zlen, &plen);
	assert_int_equal(boot_decompress(p, plen, RAM, &out, &olen, err, sizeof(err)), -EFBIG);
	free(p);
	p = comp_lz4(zeros, zlen, &plen);
	assert_int_equal(boot_decompress(p, plen, RAM, &out, &olen, err, sizeof(err)), -EFBIG);
	free(p);
	p = comp_xz(zeros, zlen, &plen);
	assert_int_equal(boot_decompress(p, plen, RAM, &out, &olen, err, sizeof(err)), -EFBIG);
	/* Exactly at the cap is fine; one byte under is not. */
	assert_int_equal(boot_decompress(p, plen, zlen, &out, &olen, err, sizeof(err)), 0);
	assert_int_equal(olen, zlen);
	free(out);
	assert_int_equal(boot_decompress(p, plen, zlen - 1, &out, &olen, err, sizeof(err)), -EFBIG);
	free(p);
	free(zeros);
}

static void test_files(void **state)
{
	struct x86_boot_state bs;
	struct boot_config cfg = { .format = BOOT_FORMAT_AUTO, .cmdline = "" };
	char path[] = "/tmp/petrel-bootXXXXXX";
	size_t len;
	uint8_t *img = make_default(comp_gzip, &len);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	close(fd);
	cfg.kernel_path = path;
	assert_int_equal(boot_load(&gm, &cfg, &bs, err, sizeof(err)), 0);
	assert_int_equal(bs.entry, KADDR);
	cfg.initrd_path = "/nonexistent/initrd";
	assert_int_equal(boot_load(&gm, &cfg, &bs, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "initrd '/nonexistent/initrd'"));
	cfg.initrd_path = NULL;
	assert_int_equal(truncate(path, 300), 0);
	assert_int_equal(boot_load(&gm, &cfg, &bs, err, sizeof(err)), -ENOEXEC);
	cfg.kernel_path = "/nonexistent/kernel";
	assert_int_equal(boot_load(&gm, &cfg, &bs, err, sizeof(err)), -ENOENT);
	assert_int_equal(boot_load(&gm, &cfg, &bs, NULL, 0), -ENOENT);
	cfg.kernel_path = "/tmp";
	assert_int_equal(boot_load(&gm, &cfg, &bs, err, sizeof(err)), -EINVAL);
	unlink(path);
	free(img);

	/* Formats by name. */
	enum boot_format f;
	assert_int_equal(boot_format_parse("linux-nodecompress", &f), 0);
	assert_int_equal(f, BOOT_FORMAT_LINUX_NODECOMPRESS);
	assert_string_equal(boot_format_name(BOOT_FORMAT_MULTIBOOT), "multiboot");
	assert_int_equal(boot_format_parse("bogus", &f), -EINVAL);
}

static void test_old_protocols(void **state)
{
	struct x86_boot_state bs;
	struct bz_opts o;
	size_t vlen, plen, len;
	uint8_t *v = make_vmlinux(&vlen), *p = comp_gzip(v, vlen, &plen), *img;

	(void)state;
	bz_defaults(&o);
	o.payload = p;
	o.payload_len = plen;
	/*
	 * 2.07: no payload fields, no pref_address: the guest decompresses, from
	 * 1 MiB rounded up to kernel_alignment (2 MiB) as the kernel is relocatable.
	 */
	o.version = 0x0207;
	o.xloadflags = 0;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), 0);
	assert_int_equal(bs.entry, 0x200000 + 0x200);
	assert_int_equal(zp32(0x070), 0);          /* no acpi_rsdp_addr before 2.14 */
	free(img);
	/* 2.11: no xloadflags yet, payload decompressed on the host. */
	o.version = 0x020b;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), 0);
	assert_int_equal(bs.entry, KADDR);
	free(img);
	/* 2.13: xloadflags must say 64-bit; acpi_rsdp_addr still not written. */
	o.version = 0x020d;
	o.xloadflags = 1;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX, "", &bs), 0);
	assert_int_equal(zp32(0x070), 0);
	free(img);
	/* setup_sects 0 means 4. */
	o.version = 0x020f;
	o.setup_sects = 0;
	img = make_bzimage(&o, &len);
	assert_int_equal(load(img, len, NULL, 0, BOOT_FORMAT_LINUX_NODECOMPRESS, "", &bs), 0);
	{
		uint8_t got[16];

		assert_int_equal(gmem_read(&gm, KADDR, got, sizeof(got)), 0);
		assert_memory_equal(got, img + 5 * 512, sizeof(got));
	}
	free(img);
	free(p);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decompress_gzip),
		cmocka_unit_test(test_all_compressions),
		cmocka_unit_test(test_nodecompress),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_payload_bounds),
		cmocka_unit_test(test_payload_not_elf_or_outside_ram),
		cmocka_unit_test(test_init_size_and_load_address),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_initrd_placement),
		cmocka_unit_test(test_decompression_bomb),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_old_protocols),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
