/* Shared by the loaders in src/boot; not part of the public API. */
#ifndef PETREL_BOOT_BOOT_PRIV_H
#define PETREL_BOOT_BOOT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/e820.h"
#include "boot/boot.h"

struct boot_ctx {
	struct guest_mem *gm;
	const struct boot_config *cfg;
	enum boot_format format;
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;
	size_t initrd_len;
	const char *kname;      /* names the kernel in messages */
	const char *iname;      /* names the initrd in messages */
	const char *cmdline;    /* never NULL */
	char *err;
	size_t err_len;
	struct x86_boot_state *out;
};

/* Set err to "kernel 'name': <message>" and return rc. */
int boot_fail(struct boot_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same naming the initrd. */
int boot_fail_initrd(struct boot_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static inline uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static inline void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/*
 * Check that a kernel piece [gpa, gpa+len) is RAM at or above 1 MiB (below
 * lie the boot structures of docs/memory-map.md) without overflow.
 */
int boot_check_kernel_range(struct boot_ctx *c, uint64_t gpa, uint64_t len, const char *what);
/* Copy into guest RAM (range already checked), zero-fill up to memsz. */
int boot_copy(struct boot_ctx *c, uint64_t gpa, const void *src, uint64_t filesz, uint64_t memsz);

/* Write the command line at LAYOUT_CMDLINE; max_len excludes the NUL. */
int boot_place_cmdline(struct boot_ctx *c, uint64_t max_len, uint64_t *gpa);
/*
 * Place the initrd page-aligned as high as possible with its last byte
 * below `limit` (exclusive) and the top of low RAM, outside the kernel's
 * [kstart, kend). *gpa = 0 and 0 is returned when there is no initrd.
 */
int boot_place_initrd(struct boot_ctx *c, uint64_t limit, uint64_t kstart, uint64_t kend,
		      uint64_t *gpa);
/* The e820 table, with the message set on failure. Returns the count. */
int boot_e820(struct boot_ctx *c, struct e820_entry *tab, unsigned max);

/* ELF */
struct boot_elf {
	bool is64;
	uint64_t entry;        /* physical entry point */
	uint64_t lo, hi;       /* physical extent of the PT_LOAD segments [lo, hi) */
	bool has_pvh;
	uint64_t pvh_entry;    /* XEN_ELFNOTE_PHYS32_ENTRY */
};
/* Validate everything first; with load, then copy the PT_LOAD segments by p_paddr. */
int boot_elf_parse(struct boot_ctx *c, const uint8_t *data, size_t len, struct boot_elf *e);
int boot_elf_load(struct boot_ctx *c, const uint8_t *data, size_t len, const struct boot_elf *e);
bool boot_is_elf(const uint8_t *data, size_t len);

/* Fill a zero page (4 KiB) except the setup header: e820, rsdp, cmdline, initrd. */
int boot_linux_zero_page(struct boot_ctx *c, uint8_t *zp, uint16_t version, uint64_t cmdline_gpa,
			 uint64_t initrd_gpa);

int boot_linux_load(struct boot_ctx *c);
int boot_elf_boot(struct boot_ctx *c);
int boot_multiboot_load(struct boot_ctx *c);
bool boot_multiboot_detect(const uint8_t *data, size_t len);

#endif
