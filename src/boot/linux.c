/*
 * Linux x86 boot protocol (Documentation/arch/x86/boot.rst) for bzImage.
 *
 * Two paths, both entering the kernel in 64-bit mode with RSI = zero page:
 *  - linux (default): petrel decompresses the payload on the host, loads
 *    the vmlinux ELF inside it at its physical addresses and enters
 *    startup_64 (the ELF entry), as the kernel's own decompressor would.
 *  - linux-nodecompress: the protected-mode image is loaded at its
 *    preferred address and entered at load + 0x200 (the 64-bit entry), so
 *    the kernel's decompressor runs in the guest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot_priv.h"
#include "mem/guest_mem.h"
#include "util/compiler.h"
#include "util/log.h"

/* Setup header offsets (in the file and in the zero page). */
#define HDR_START          0x1f1
#define HDR_SETUP_SECTS    0x1f1
#define HDR_SYSSIZE        0x1f4
#define HDR_BOOT_FLAG      0x1fe
#define HDR_JUMP           0x200
#define HDR_MAGIC          0x202
#define HDR_VERSION        0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS      0x211
#define HDR_CODE32_START   0x214
#define HDR_RAMDISK_IMAGE  0x218
#define HDR_RAMDISK_SIZE   0x21c
#define HDR_HEAP_END_PTR   0x224
#define HDR_CMD_LINE_PTR   0x228
#define HDR_INITRD_MAX     0x22c
#define HDR_KERNEL_ALIGN   0x230
#define HDR_RELOCATABLE    0x234
#define HDR_XLOADFLAGS     0x236
#define HDR_CMDLINE_SIZE   0x238
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define HDR_SETUP_DATA     0x250
#define HDR_PREF_ADDRESS   0x258
#define HDR_INIT_SIZE      0x260

/* Zero page fields outside the setup header. */
#define ZP_ACPI_RSDP       0x070
#define ZP_EXT_RAMDISK_IMG 0x0c0
#define ZP_EXT_RAMDISK_SZ  0x0c4
#define ZP_EXT_CMD_LINE    0x0c8
#define ZP_E820_ENTRIES    0x1e8
#define ZP_E820_TABLE      0x2d0
#define ZP_E820_MAX        128

#define LOADED_HIGH   0x01
#define CAN_USE_HEAP  0x80
#define XLF_KERNEL_64 0x01

struct linux_hdr {
	uint16_t version;
	size_t hdr_end;          /* 0x202 + jump offset byte */
	size_t setup_size;       /* (setup_sects + 1) * 512 */
	const uint8_t *pm;       /* protected-mode image (after setup) */
	size_t pm_len;
	uint8_t loadflags, relocatable;
	uint16_t xloadflags;
	uint32_t initrd_max, kernel_align, cmdline_size, payload_off, payload_len, init_size;
	uint64_t pref_address;
	uint64_t load;           /* where the protected-mode image goes */
};

static int parse_hdr(struct boot_ctx *c, struct linux_hdr *h)
{
	const uint8_t *d = c->kernel;
	size_t len = c->kernel_len, need;
	unsigned sects;

	memset(h, 0, sizeof(*h));
	if (len < HDR_VERSION + 2)
		return boot_fail(c, -ENOEXEC, "truncated setup header (file is %zu bytes)", len);
	if (get16(d + HDR_BOOT_FLAG) != 0xaa55)
		return boot_fail(c, -ENOEXEC, "no boot flag 0xAA55 at 0x1fe (found 0x%04x)",
				 get16(d + HDR_BOOT_FLAG));
	if (memcmp(d + HDR_MAGIC, "HdrS", 4) != 0)
		return boot_fail(c, -ENOEXEC, "no \"HdrS\" magic at 0x202; not a bzImage");
	h->version = get16(d + HDR_VERSION);
	if (h->version < 0x0206)
		return boot_fail(c, -ENOEXEC, "boot protocol %u.%02u is too old (2.06 needed)",
				 h->version >> 8, h->version & 0xff);
	/* The header's own length (jump target) must cover the fields of its version. */
	h->hdr_end = HDR_JUMP + 2 + d[HDR_JUMP + 1];
	need = h->version >= 0x020a ? HDR_INIT_SIZE + 4
	       : h->version >= 0x0208 ? HDR_PAYLOAD_LENGTH + 4 : HDR_CMDLINE_SIZE + 4;
	if (h->hdr_end < need)
		return boot_fail(c, -ENOEXEC, "setup header ends at 0x%zx, before the fields of "
				 "protocol %u.%02u (0x%zx)", h->hdr_end, h->version >> 8,
				 h->version & 0xff, need);
	if (len < h->hdr_end)
		return boot_fail(c, -ENOEXEC, "truncated setup header (file is %zu bytes, header "
				 "ends at 0x%zx)", len, h->hdr_end);
	sects = d[HDR_SETUP_SECTS] ? d[HDR_SETUP_SECTS] : 4;
	h->setup_size = (size_t)(sects + 1) * 512;
	if (len <= h->setup_size)
		return boot_fail(c, -ENOEXEC, "file is %zu bytes, no kernel after the %zu-byte "
				 "setup", len, h->setup_size);
	h->pm = d + h->setup_size;
	h->pm_len = len - h->setup_size;
	/*
	 * syssize (16-byte units) is untrusted but says how much kernel the file
	 * should hold; the last unit may be partial.
	 */
	if ((uint64_t)get32(d + HDR_SYSSIZE) * 16 > (uint64_t)h->pm_len + 15)
		return boot_fail(c, -ENOEXEC, "truncated: the header announces %" PRIu64 " bytes "
				 "of kernel, the file holds %zu", (uint64_t)get32(d + HDR_SYSSIZE) * 16,
				 h->pm_len);
	h->loadflags = d[HDR_LOADFLAGS];
	h->initrd_max = get32(d + HDR_INITRD_MAX);
	h->kernel_align = get32(d + HDR_KERNEL_ALIGN);
	h->relocatable = d[HDR_RELOCATABLE];
	h->xloadflags = get16(d + HDR_XLOADFLAGS);
	h->cmdline_size = get32(d + HDR_CMDLINE_SIZE);
	if (h->version >= 0x0208) {
		h->payload_off = get32(d + HDR_PAYLOAD_OFFSET);
		h->payload_len = get32(d + HDR_PAYLOAD_LENGTH);
	}
	if (h->version >= 0x020a) {
		h->pref_address = get64(d + HDR_PREF_ADDRESS);
		h->init_size = get32(d + HDR_INIT_SIZE);
	}
	if (!(h->loadflags & LOADED_HIGH))
		return boot_fail(c, -ENOEXEC, "zImage (loaded low) kernels are not supported");
	if (h->version >= 0x020c && !(h->xloadflags & XLF_KERNEL_64))
		return boot_fail(c, -ENOEXEC, "kernel has no 64-bit entry point (xloadflags "
				 "0x%x)", h->xloadflags);

	/*
	 * pref_address and kernel_alignment are untrusted; a relocatable kernel
	 * may sit at any aligned address, the others only at their own address.
	 */
	h->load = h->pref_address >= LAYOUT_HIGH_MEM ? h->pref_address : LAYOUT_HIGH_MEM;
	if (h->relocatable && IS_POW2(h->kernel_align) && h->kernel_align <= (1u << 30))
		h->load = ALIGN_UP(h->load, (uint64_t)h->kernel_align);
	return 0;
}

int boot_linux_zero_page(struct boot_ctx *c, uint8_t *zp, uint16_t version, uint64_t cmdline_gpa,
			 uint64_t initrd_gpa)
{
	struct e820_entry tab[E820_MAX_ENTRIES];
	int n, rc;

	n = boot_e820(c, tab, MIN(E820_MAX_ENTRIES, ZP_E820_MAX));
	if (n < 0)
		return n;
	zp[HDR_TYPE_OF_LOADER] = 0xff;
	zp[HDR_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	put16(zp + HDR_HEAP_END_PTR, 0xfe00 - 0x200);
	put32(zp + HDR_CMD_LINE_PTR, (uint32_t)cmdline_gpa);
	put32(zp + ZP_EXT_CMD_LINE, (uint32_t)(cmdline_gpa >> 32));
	put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put32(zp + ZP_EXT_RAMDISK_IMG, (uint32_t)(initrd_gpa >> 32));
	put32(zp + HDR_RAMDISK_SIZE, initrd_gpa ? (uint32_t)c->initrd_len : 0);
	put32(zp + ZP_EXT_RAMDISK_SZ, initrd_gpa ? (uint32_t)((uint64_t)c->initrd_len >> 32) : 0);
	put64(zp + HDR_SETUP_DATA, 0);
	/* acpi_rsdp_addr is read by kernels of protocol 2.14 and later. */
	if (c->cfg->rsdp_addr && version >= 0x020e)
		put64(zp + ZP_ACPI_RSDP, c->cfg->rsdp_addr);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++)
		memcpy(zp + ZP_E820_TABLE + i * 20, &tab[i], 20);
	rc = gmem_write(c->gm, LAYOUT_ZERO_PAGE, zp, 4096);
	if (rc)
		return boot_fail(c, rc, "no RAM for the zero page at 0x%llx", LAYOUT_ZERO_PAGE);
	return 0;
}

int boot_linux_load(struct boot_ctx *c)
{
	struct linux_hdr h;
	struct boot_elf e;
	uint8_t zp[4096] = {0};
	void *vmlinux = NULL;
	size_t vmlinux_len = 0;
	uint64_t kstart, kend, cmdline, initrd, entry, limit;
	uint32_t cmdline_max;
	bool decompress = c->format == BOOT_FORMAT_LINUX;
	int rc;

	rc = parse_hdr(c, &h);
	if (rc)
		return rc;
	if (h.version < 0x020c)
		log_warn("boot: kernel '%s' uses boot protocol %u.%02u without xloadflags; "
			 "assuming a 64-bit entry", c->kname, h.version >> 8, h.version & 0xff);
	if (decompress && h.version < 0x0208) {
		log_warn("boot: kernel '%s' has no payload fields; the guest decompresses it",
			 c->kname);
		decompress = false;
	}

	if (decompress) {
		char derr[160];
		size_t cap = (size_t)MIN(c->gm->total, (uint64_t)SIZE_MAX);

		/* payload_offset/length are untrusted: the payload must lie in the image. */
		if (h.payload_off > h.pm_len || h.payload_len > h.pm_len - h.payload_off ||
		    h.payload_len == 0)
			return boot_fail(c, -ENOEXEC, "payload (offset 0x%x, %u bytes) is outside "
					 "the %zu-byte kernel image", h.payload_off, h.payload_len,
					 h.pm_len);
		rc = boot_decompress(h.pm + h.payload_off, h.payload_len, cap, &vmlinux,
				     &vmlinux_len, derr, sizeof(derr));
		if (rc)
			return boot_fail(c, rc, "payload: %s", derr);
		rc = boot_elf_parse(c, vmlinux, vmlinux_len, &e);
		if (rc)
			goto out;
		if (!e.is64) {
			rc = boot_fail(c, -ENOEXEC, "decompressed payload is a 32-bit ELF");
			goto out;
		}
		/*
		 * vmlinux is linked to run at LOAD_PHYSICAL_ADDR (pref_address);
		 * startup_64 fixes its page tables for any other physical address,
		 * so p_paddr is used as is and only noted when it differs.
		 */
		if (h.pref_address && e.lo != h.pref_address)
			log_warn("boot: vmlinux of '%s' starts at 0x%" PRIx64 ", pref_address is 0x%"
				 PRIx64, c->kname, e.lo, h.pref_address);
		/*
		 * init_size budgets the in-place decompression, which does not
		 * happen here; the kernel proper needs only [_text, _end), and _end
		 * (bss and brk included) is the end of the last PT_LOAD.
		 */
		kstart = e.lo;
		kend = e.hi;
		entry = e.entry;
	} else {
		kstart = h.load;
		kend = kstart + MAX((uint64_t)h.init_size, (uint64_t)h.pm_len);
		entry = h.load + 0x200;
	}
	/* init_size is untrusted: the kernel's whole working area must be RAM. */
	rc = boot_check_kernel_range(c, kstart, kend - kstart, "kernel (init_size)");
	if (rc)
		goto out;

	cmdline_max = MIN(h.cmdline_size, (uint32_t)(LAYOUT_CMDLINE_MAX - 1));
	rc = boot_place_cmdline(c, cmdline_max, &cmdline);
	if (rc)
		goto out;
	if (decompress)
		rc = boot_elf_load(c, vmlinux, vmlinux_len, &e);
	else
		rc = boot_copy(c, h.load, h.pm, h.pm_len, h.pm_len);
	if (rc)
		goto out;
	/* initrd_addr_max is the highest byte address the initrd may use. */
	limit = (uint64_t)(h.initrd_max ? h.initrd_max : 0x37ffffff) + 1;
	rc = boot_place_initrd(c, limit, kstart, kend, &initrd);
	if (rc)
		goto out;

	/* The zero page starts as a copy of the image's setup header. */
	memcpy(zp + HDR_START, c->kernel + HDR_START, h.hdr_end - HDR_START);
	put32(zp + HDR_CODE32_START, (uint32_t)kstart);
	rc = boot_linux_zero_page(c, zp, h.version, cmdline, initrd);
	if (rc)
		goto out;

	memset(c->out, 0, sizeof(*c->out));
	c->out->mode = X86_BOOT_LONG64;
	c->out->entry = entry;
	c->out->rsi = LAYOUT_ZERO_PAGE;
out:
	free(vmlinux);
	return rc;
}
