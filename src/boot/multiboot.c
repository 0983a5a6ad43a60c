/*
 * Multiboot v1: the header in the first 8 KiB, ELF kernels or the a.out
 * kludge (flag 16), and the Multiboot information structure at
 * LAYOUT_MULTIBOOT_INFO with the memory map, command line and the initrd as
 * module 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot_priv.h"
#include "mem/guest_mem.h"
#include "util/compiler.h"
#include "util/log.h"

#define MB_MAGIC        0x1badb002u
#define MB_BOOT_MAGIC   0x2badb002u
#define MB_SEARCH       8192
#define MB_PAGE_ALIGN   (1u << 0)
#define MB_MEMORY_INFO  (1u << 1)
#define MB_VIDEO_MODE   (1u << 2)
#define MB_AOUT_KLUDGE  (1u << 16)
#define MB_HONOURED     (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE)

/* Multiboot info flags */
#define MBI_MEM      (1u << 0)
#define MBI_CMDLINE  (1u << 2)
#define MBI_MODS     (1u << 3)
#define MBI_MMAP     (1u << 6)
#define MBI_LOADER   (1u << 9)

/* Layout inside LAYOUT_MULTIBOOT_INFO */
#define MBI_SIZE      120
#define MBI_MMAP_OFF  0x200
#define MBI_MODS_OFF  0x800
#define MBI_STR_OFF   0x1000
#define MBI_STR_MAX   0x1000

static const char loader_name[] = "petrel";

/* Offset of the header, or -1. It is 4-byte aligned in the first 8 KiB. */
static long find_header(const uint8_t *d, size_t len)
{
	size_t end = MIN(len, (size_t)MB_SEARCH);

	for (size_t off = 0; off + 12 <= end; off += 4) {
		uint32_t magic = get32(d + off), flags = get32(d + off + 4);
		uint32_t sum = get32(d + off + 8);

		if (magic == MB_MAGIC && (uint32_t)(magic + flags + sum) == 0)
			return (long)off;
	}
	return -1;
}

bool boot_multiboot_detect(const uint8_t *data, size_t len)
{
	return data && find_header(data, len) >= 0;
}

struct mb_image {
	uint64_t lo, hi, entry;
	/* a.out kludge */
	uint64_t file_off, load_len;
	bool aout;
	struct boot_elf elf;
};

static int parse_aout(struct boot_ctx *c, long hoff, uint32_t flags, struct mb_image *m)
{
	const uint8_t *h = c->kernel + hoff;
	uint32_t header_addr, load_addr, load_end, bss_end, entry;
	uint64_t end;

	(void)flags;
	if ((size_t)hoff + 32 > c->kernel_len)
		return boot_fail(c, -ENOEXEC, "truncated Multiboot a.out header at 0x%lx", hoff);
	header_addr = get32(h + 12);
	load_addr = get32(h + 16);
	load_end = get32(h + 20);
	bss_end = get32(h + 24);
	entry = get32(h + 28);
	/* All five addresses are untrusted; relate them to the file and to RAM. */
	if (load_addr > header_addr || header_addr - load_addr > (uint64_t)hoff)
		return boot_fail(c, -ENOEXEC, "Multiboot header_addr 0x%x / load_addr 0x%x do not "
				 "match the header's file offset 0x%lx", header_addr, load_addr,
				 hoff);
	m->file_off = (uint64_t)hoff - (header_addr - load_addr);
	if (load_end == 0) {
		m->load_len = c->kernel_len - m->file_off;
	} else {
		if (load_end <= load_addr)
			return boot_fail(c, -ENOEXEC, "Multiboot load_end_addr 0x%x <= load_addr "
					 "0x%x", load_end, load_addr);
		m->load_len = load_end - load_addr;
		if (m->load_len > c->kernel_len - m->file_off)
			return boot_fail(c, -ENOEXEC, "Multiboot load range (0x%" PRIx64 " bytes) "
					 "runs past the end of the file (%zu bytes)", m->load_len,
					 c->kernel_len);
	}
	end = (uint64_t)load_addr + m->load_len;
	if (bss_end) {
		if (bss_end < end)
			return boot_fail(c, -ENOEXEC, "Multiboot bss_end_addr 0x%x is below the "
					 "loaded image end 0x%" PRIx64, bss_end, end);
		end = bss_end;
	}
	if (entry < load_addr || entry >= end)
		return boot_fail(c, -ENOEXEC, "Multiboot entry 0x%x is outside the image "
				 "[0x%x, 0x%" PRIx64 ")", entry, load_addr, end);
	m->aout = true;
	m->lo = load_addr;
	m->hi = end;
	m->entry = entry;
	return boot_check_kernel_range(c, m->lo, m->hi - m->lo, "Multiboot image");
}

static int write_info(struct boot_ctx *c, uint64_t cmdline, uint64_t initrd, uint32_t *info_gpa)
{
	struct e820_entry tab[E820_MAX_ENTRIES];
	uint8_t mbi[MBI_SIZE] = {0}, ent[24];
	const uint64_t base = LAYOUT_MULTIBOOT_INFO;
	uint64_t upper = e820_low_ram_top(c->gm);
	uint64_t str = base + MBI_STR_OFF;
	uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER;
	int n, rc;

	n = boot_e820(c, tab, E820_MAX_ENTRIES);
	if (n < 0)
		return n;
	put32(mbi + 4, (uint32_t)e820_base_ram_kib(c->gm));
	put32(mbi + 8, upper > LAYOUT_HIGH_MEM ? (uint32_t)((upper - LAYOUT_HIGH_MEM) >> 10) : 0);
	put32(mbi + 16, (uint32_t)cmdline);
	for (int i = 0; i < n; i++) {
		put32(ent, 20); /* size of the entry excluding this field */
		put64(ent + 4, tab[i].addr);
		put64(ent + 12, tab[i].size);
		put32(ent + 20, tab[i].type);
		rc = gmem_write(c->gm, base + MBI_MMAP_OFF + (uint64_t)i * 24, ent, 24);
		if (rc)
			return boot_fail(c, rc, "no RAM for the Multiboot memory map");
	}
	put32(mbi + 44, (uint32_t)n * 24);
	put32(mbi + 48, (uint32_t)(base + MBI_MMAP_OFF));

	rc = gmem_write(c->gm, str, loader_name, sizeof(loader_name));
	if (rc)
		return boot_fail(c, rc, "no RAM for the Multiboot strings");
	put32(mbi + 64, (uint32_t)str);
	str += sizeof(loader_name);
	if (initrd) {
		const char *mname = c->cfg->initrd_path ? c->cfg->initrd_path : "initrd";
		size_t mlen = strlen(mname);
		uint8_t mod[16] = {0};

		if (mlen + 1 > MBI_STR_MAX - sizeof(loader_name))
			mlen = MBI_STR_MAX - sizeof(loader_name) - 1;
		rc = gmem_write(c->gm, str, mname, mlen);
		if (!rc)
			rc = gmem_write(c->gm, str + mlen, "", 1);
		if (rc)
			return boot_fail(c, rc, "no RAM for the module string");
		put32(mod, (uint32_t)initrd);
		put32(mod + 4, (uint32_t)(initrd + c->initrd_len));
		put32(mod + 8, (uint32_t)str);
		rc = gmem_write(c->gm, base + MBI_MODS_OFF, mod, sizeof(mod));
		if (rc)
			return boot_fail(c, rc, "no RAM for the module list");
		flags |= MBI_MODS;
		put32(mbi + 20, 1);
		put32(mbi + 24, (uint32_t)(base + MBI_MODS_OFF));
	}
	put32(mbi, flags);
	rc = gmem_write(c->gm, base, mbi, sizeof(mbi));
	if (rc)
		return boot_fail(c, rc, "no RAM for the Multiboot info at 0x%" PRIx64, base);
	*info_gpa = (uint32_t)base;
	return 0;
}

int boot_multiboot_load(struct boot_ctx *c)
{
	struct mb_image m;
	uint64_t cmdline, initrd;
	uint32_t flags, info;
	long hoff;
	int rc;

	memset(&m, 0, sizeof(m));
	hoff = find_header(c->kernel, c->kernel_len);
	if (hoff < 0)
		return boot_fail(c, -ENOEXEC, "no Multiboot header (magic 0x1BADB002 with a valid "
				 "checksum) in the first 8 KiB");
	flags = get32(c->kernel + hoff + 4);
	/* Bits 0-15 are requirements: refuse the ones we cannot honour. */
	if (flags & 0xffffu & ~MB_HONOURED)
		return boot_fail(c, -ENOTSUP, "Multiboot header requires unsupported features "
				 "(flags 0x%08x)", flags);
	if (flags & MB_VIDEO_MODE)
		log_warn("boot: kernel '%s' asks for a video mode; there is no display, ignored",
			 c->kname);

	if (flags & MB_AOUT_KLUDGE) {
		rc = parse_aout(c, hoff, flags, &m);
	} else {
		rc = boot_elf_parse(c, c->kernel, c->kernel_len, &m.elf);
		m.lo = m.elf.lo;
		m.hi = m.elf.hi;
		m.entry = m.elf.entry;
	}
	if (rc)
		return rc;
	/* Multiboot enters in 32-bit mode and passes 32-bit addresses. */
	if (m.hi > 0x100000000ull || m.entry > 0xffffffffull)
		return boot_fail(c, -ENOEXEC, "Multiboot image [0x%" PRIx64 ", 0x%" PRIx64
				 ") is not below 4 GiB", m.lo, m.hi);

	rc = boot_place_cmdline(c, LAYOUT_CMDLINE_MAX - 1, &cmdline);
	if (rc)
		return rc;
	if (m.aout)
		rc = boot_copy(c, m.lo, c->kernel + m.file_off, m.load_len, m.hi - m.lo);
	else
		rc = boot_elf_load(c, c->kernel, c->kernel_len, &m.elf);
	if (rc)
		return rc;
	/* Modules are page-aligned whether or not flag 0 asks. */
	rc = boot_place_initrd(c, 0x100000000ull, m.lo, m.hi, &initrd);
	if (rc)
		return rc;
	rc = write_info(c, cmdline, initrd, &info);
	if (rc)
		return rc;
	memset(c->out, 0, sizeof(*c->out));
	c->out->mode = X86_BOOT_PROT32;
	c->out->entry = m.entry;
	c->out->rax = MB_BOOT_MAGIC;
	c->out->rbx = info;
	return 0;
}
