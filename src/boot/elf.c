/*
 * ELF kernels: PT_LOAD segments placed by physical address (p_paddr), a
 * 64-bit entry at e_entry, or PVH's 32-bit entry when the image carries a
 * XEN_ELFNOTE_PHYS32_ENTRY note. Used directly (format=elf), by the Linux
 * loader for the vmlinux it decompresses, and by Multiboot for ELF kernels.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot_priv.h"
#include "mem/guest_mem.h"
#include "util/compiler.h"

#define EM_386    3
#define EM_X86_64 62
#define ET_EXEC   2
#define PT_LOAD   1
#define PT_NOTE   4
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS 512

/* hvm_start_info (Xen's public arch-x86/hvm/start_info.h), version 1. */
#define HVM_START_MAGIC 0x336ec578u
#define HVM_START_SIZE  56
#define HVM_MODLIST_OFF  0x100   /* within LAYOUT_MULTIBOOT_INFO */
#define HVM_MEMMAP_OFF   0x200
#define HVM_STRINGS_OFF  0x1000

/* A program header in class-neutral form. */
struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

static void read_phdr(const uint8_t *p, bool is64, struct phdr *ph)
{
	ph->type = get32(p);
	if (is64) {
		ph->offset = get64(p + 8);
		ph->vaddr = get64(p + 16);
		ph->paddr = get64(p + 24);
		ph->filesz = get64(p + 32);
		ph->memsz = get64(p + 40);
	} else {
		ph->offset = get32(p + 4);
		ph->vaddr = get32(p + 8);
		ph->paddr = get32(p + 12);
		ph->filesz = get32(p + 16);
		ph->memsz = get32(p + 20);
	}
}

struct elf_hdr {
	bool is64;
	uint64_t entry, phoff;
	uint16_t phentsize, phnum;
};

static int read_ehdr(struct boot_ctx *c, const uint8_t *d, size_t len, struct elf_hdr *h)
{
	uint16_t machine, type;
	size_t ehsize;

	if (!boot_is_elf(d, len))
		return boot_fail(c, -ENOEXEC, "not an ELF file");
	if (len < 52)
		return boot_fail(c, -ENOEXEC, "truncated ELF header (file is %zu bytes)", len);
	if (d[4] != 1 && d[4] != 2)
		return boot_fail(c, -ENOEXEC, "unknown ELF class %u", d[4]);
	h->is64 = d[4] == 2;
	ehsize = h->is64 ? 64 : 52;
	if (len < ehsize)
		return boot_fail(c, -ENOEXEC, "truncated ELF header (file is %zu bytes)", len);
	if (d[5] != 1)
		return boot_fail(c, -ENOEXEC, "ELF file is not little-endian");
	if (d[6] != 1)
		return boot_fail(c, -ENOEXEC, "unknown ELF version %u", d[6]);
	type = get16(d + 16);
	machine = get16(d + 18);
	if (type != ET_EXEC)
		return boot_fail(c, -ENOEXEC, "ELF type %u is not an executable", type);
	if (machine != (h->is64 ? EM_X86_64 : EM_386))
		return boot_fail(c, -ENOEXEC, "ELF machine %u is not x86", machine);
	if (h->is64) {
		h->entry = get64(d + 24);
		h->phoff = get64(d + 32);
		h->phentsize = get16(d + 54);
		h->phnum = get16(d + 56);
	} else {
		h->entry = get32(d + 24);
		h->phoff = get32(d + 28);
		h->phentsize = get16(d + 42);
		h->phnum = get16(d + 44);
	}
	/* Header fields are untrusted: the table must lie inside the file. */
	if (h->phnum == 0 || h->phnum > ELF_MAX_PHDRS)
		return boot_fail(c, -ENOEXEC, "ELF has %u program headers", h->phnum);
	if (h->phentsize < (h->is64 ? 56 : 32))
		return boot_fail(c, -ENOEXEC, "ELF program header size %u is too small",
				 h->phentsize);
	if (h->phoff > len || (uint64_t)h->phnum * h->phentsize > len - h->phoff)
		return boot_fail(c, -ENOEXEC, "ELF program headers at 0x%" PRIx64
				 " run past the end of the file (%zu bytes)", h->phoff, len);
	return 0;
}

/* Find a PVH entry note in [off, off+size) of the file. */
static int scan_notes(struct boot_ctx *c, const uint8_t *d, uint64_t off, uint64_t size,
		      struct boot_elf *e)
{
	uint64_t end = off + size;

	while (end - off >= 12) {
		uint32_t namesz = get32(d + off), descsz = get32(d + off + 4);
		uint32_t type = get32(d + off + 8);
		uint64_t name = off + 12;
		uint64_t desc = name + ALIGN_UP((uint64_t)namesz, 4);
		uint64_t next = desc + ALIGN_UP((uint64_t)descsz, 4);

		/* Note sizes are untrusted: each note must fit in the segment. */
		if (desc > end || next > end || next < desc)
			return boot_fail(c, -ENOEXEC, "malformed ELF note at file offset 0x%" PRIx64,
					 off);
		if (namesz == 4 && memcmp(d + name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz != 4 && descsz != 8)
				return boot_fail(c, -ENOEXEC, "PVH entry note has %u bytes", descsz);
			e->pvh_entry = descsz == 4 ? get32(d + desc) : get64(d + desc);
			e->has_pvh = true;
		}
		off = next;
	}
	return 0;
}

int boot_elf_parse(struct boot_ctx *c, const uint8_t *d, size_t len, struct boot_elf *e)
{
	struct elf_hdr h;
	bool entry_found = false, pvh_found = false;
	unsigned loads = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = read_ehdr(c, d, len, &h);
	if (rc)
		return rc;
	e->is64 = h.is64;
	e->lo = UINT64_MAX;
	for (unsigned i = 0; i < h.phnum; i++) {
		struct phdr ph;

		read_phdr(d + h.phoff + (uint64_t)i * h.phentsize, h.is64, &ph);
		if (ph.type == PT_NOTE) {
			if (ph.offset > len || ph.filesz > len - ph.offset)
				return boot_fail(c, -ENOEXEC, "ELF note segment %u runs past the "
						 "end of the file", i);
			rc = scan_notes(c, d, ph.offset, ph.filesz, e);
			if (rc)
				return rc;
			continue;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		/* Segment fields are untrusted: file bytes inside the file, memory inside RAM. */
		if (ph.filesz > ph.memsz)
			return boot_fail(c, -ENOEXEC, "ELF segment %u has p_filesz 0x%" PRIx64
					 " > p_memsz 0x%" PRIx64, i, ph.filesz, ph.memsz);
		if (ph.offset > len || ph.filesz > len - ph.offset)
			return boot_fail(c, -ENOEXEC, "ELF segment %u (offset 0x%" PRIx64 ", 0x%"
					 PRIx64 " bytes) runs past the end of the file (%zu bytes)",
					 i, ph.offset, ph.filesz, len);
		rc = boot_check_kernel_range(c, ph.paddr, ph.memsz, "ELF segment");
		if (rc)
			return rc;
		loads++;
		e->lo = MIN(e->lo, ph.paddr);
		e->hi = MAX(e->hi, ph.paddr + ph.memsz);
	}
	if (loads == 0)
		return boot_fail(c, -ENOEXEC, "ELF has no loadable segment");

	/*
	 * e_entry may be virtual (vmlinux links at 0xffffffff81000000 but says
	 * phys_startup_64) or physical; translate through the segment holding it.
	 */
	for (unsigned i = 0; i < h.phnum && !entry_found; i++) {
		struct phdr ph;

		read_phdr(d + h.phoff + (uint64_t)i * h.phentsize, h.is64, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (h.entry >= ph.paddr && h.entry - ph.paddr < ph.memsz) {
			e->entry = h.entry;
			entry_found = true;
		} else if (h.entry >= ph.vaddr && h.entry - ph.vaddr < ph.memsz) {
			e->entry = h.entry - ph.vaddr + ph.paddr;
			entry_found = true;
		}
	}
	if (!entry_found)
		return boot_fail(c, -ENOEXEC, "entry point 0x%" PRIx64 " is outside every "
				 "loaded segment", h.entry);
	if (e->has_pvh) {
		for (unsigned i = 0; i < h.phnum; i++) {
			struct phdr ph;

			read_phdr(d + h.phoff + (uint64_t)i * h.phentsize, h.is64, &ph);
			if (ph.type == PT_LOAD && e->pvh_entry >= ph.paddr &&
			    e->pvh_entry - ph.paddr < ph.memsz)
				pvh_found = true;
		}
		/* The 32-bit entry must be inside the image, below 4 GiB. */
		if (!pvh_found || e->pvh_entry > 0xffffffffull)
			return boot_fail(c, -ENOEXEC, "PVH entry 0x%" PRIx64 " is outside every "
					 "loaded segment", e->pvh_entry);
	}
	return 0;
}

int boot_elf_load(struct boot_ctx *c, const uint8_t *d, size_t len, const struct boot_elf *e)
{
	struct elf_hdr h;
	int rc;

	rc = read_ehdr(c, d, len, &h);
	if (rc)
		return rc;
	for (unsigned i = 0; i < h.phnum; i++) {
		struct phdr ph;

		read_phdr(d + h.phoff + (uint64_t)i * h.phentsize, h.is64, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		/* Checked by boot_elf_parse on the same bytes. */
		rc = boot_copy(c, ph.paddr, d + ph.offset, ph.filesz, ph.memsz);
		if (rc)
			return rc;
	}
	return 0;
}

/* hvm_start_info with the command line, the initrd as module 0 and the e820 map. */
static int pvh_start_info(struct boot_ctx *c, uint64_t cmdline, uint64_t initrd,
			  uint64_t *info_gpa)
{
	struct e820_entry tab[E820_MAX_ENTRIES];
	uint8_t si[HVM_START_SIZE] = {0}, ent[32];
	const uint64_t base = LAYOUT_MULTIBOOT_INFO;
	int n, rc;

	n = boot_e820(c, tab, E820_MAX_ENTRIES);
	if (n < 0)
		return n;
	put32(si, HVM_START_MAGIC);
	put32(si + 4, 1);
	put64(si + 24, cmdline);
	put64(si + 32, c->cfg->rsdp_addr);
	put64(si + 40, base + HVM_MEMMAP_OFF);
	put32(si + 48, (uint32_t)n);
	if (initrd) {
		put32(si + 12, 1);
		put64(si + 16, base + HVM_MODLIST_OFF);
		memset(ent, 0, sizeof(ent));
		put64(ent, initrd);
		put64(ent + 8, c->initrd_len);
		rc = gmem_write(c->gm, base + HVM_MODLIST_OFF, ent, sizeof(ent));
		if (rc)
			return boot_fail(c, rc, "no RAM for the PVH module list");
	}
	for (int i = 0; i < n; i++) {
		memset(ent, 0, 24);
		put64(ent, tab[i].addr);
		put64(ent + 8, tab[i].size);
		put32(ent + 16, tab[i].type);
		rc = gmem_write(c->gm, base + HVM_MEMMAP_OFF + (uint64_t)i * 24, ent, 24);
		if (rc)
			return boot_fail(c, rc, "no RAM for the PVH memory map");
	}
	rc = gmem_write(c->gm, base, si, sizeof(si));
	if (rc)
		return boot_fail(c, rc, "no RAM for hvm_start_info at 0x%" PRIx64, base);
	*info_gpa = base;
	return 0;
}

int boot_elf_boot(struct boot_ctx *c)
{
	struct boot_elf e;
	uint64_t cmdline, initrd;
	bool pvh;
	int rc;

	rc = boot_elf_parse(c, c->kernel, c->kernel_len, &e);
	if (rc)
		return rc;
	pvh = e.has_pvh && c->format == BOOT_FORMAT_ELF;
	if (!pvh && !e.is64 && c->format == BOOT_FORMAT_ELF_LONG64)
		return boot_fail(c, -ENOEXEC, "a 32-bit ELF has no 64-bit entry point");
	/* The boot page tables identity-map 0-4 GiB only (docs/boot.md). */
	if (!pvh && e.entry > 0xffffffffull)
		return boot_fail(c, -ENOEXEC, "entry 0x%" PRIx64 " is above 4 GiB", e.entry);
	rc = boot_place_cmdline(c, LAYOUT_CMDLINE_MAX - 1, &cmdline);
	if (rc)
		return rc;
	rc = boot_elf_load(c, c->kernel, c->kernel_len, &e);
	if (rc)
		return rc;
	rc = boot_place_initrd(c, UINT64_MAX, e.lo, e.hi, &initrd);
	if (rc)
		return rc;
	memset(c->out, 0, sizeof(*c->out));
	if (pvh) {
		uint64_t info;

		rc = pvh_start_info(c, cmdline, initrd, &info);
		if (rc)
			return rc;
		c->out->mode = X86_BOOT_PROT32;
		c->out->entry = e.pvh_entry;
		c->out->rbx = info;
		return 0;
	}
	if (!e.is64) {
		/* A 32-bit ELF without PVH: flat protected mode at e_entry. */
		c->out->mode = X86_BOOT_PROT32;
		c->out->entry = e.entry;
		return 0;
	}
	/*
	 * 64-bit entry: Linux's startup_64 reads boot_params from RSI, so give
	 * it a zero page with a minimal setup header; other kernels ignore RSI.
	 */
	{
		uint8_t zp[4096] = {0};

		put16(zp + 0x1fe, 0xaa55);
		memcpy(zp + 0x202, "HdrS", 4);
		put16(zp + 0x206, 0x020f);
		put32(zp + 0x230, 0x200000);        /* kernel_alignment */
		put32(zp + 0x238, LAYOUT_CMDLINE_MAX - 1);
		put32(zp + 0x22c, 0x7fffffff);      /* initrd_addr_max */
		rc = boot_linux_zero_page(c, zp, 0x020f, cmdline, initrd);
		if (rc)
			return rc;
	}
	c->out->mode = X86_BOOT_LONG64;
	c->out->entry = e.entry;
	c->out->rsi = LAYOUT_ZERO_PAGE;
	return 0;
}
