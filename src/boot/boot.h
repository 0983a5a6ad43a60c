/*
 * Boot loaders: put a kernel (Linux bzImage, ELF, Multiboot v1 or a flat
 * binary), its initrd and command line into guest memory and say how the
 * boot vCPU starts (struct x86_boot_state). docs/boot.md describes each path.
 *
 * Every parser works on a buffer so it can be unit-tested and fuzzed; the
 * files are mapped by boot_load(). Kernel images are untrusted input: any
 * failure returns a negative errno and a message in `err`, and nothing is
 * written outside guest RAM.
 */
#ifndef PETREL_BOOT_BOOT_H
#define PETREL_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot_state.h"

struct guest_mem;

enum boot_format {
	BOOT_FORMAT_AUTO,                /* bzImage, Multiboot, ELF, in that order; never flat */
	BOOT_FORMAT_LINUX,               /* bzImage, payload decompressed by petrel */
	BOOT_FORMAT_LINUX_NODECOMPRESS,  /* bzImage entered at its 64-bit entry; guest decompresses */
	BOOT_FORMAT_ELF,                 /* ELF: PVH entry when the Xen note exists, else e_entry */
	BOOT_FORMAT_ELF_LONG64,          /* ELF entered at e_entry in 64-bit mode, PVH note ignored */
	BOOT_FORMAT_MULTIBOOT,           /* Multiboot v1 (ELF or a.out kludge) */
	BOOT_FORMAT_FLAT,                /* raw bytes at flat_load_addr, 64-bit mode */
};

#define BOOT_FLAT_DEFAULT_ADDR 0x100000ull

struct boot_config {
	const char *kernel_path;
	const char *initrd_path;    /* NULL: no initrd */
	const char *cmdline;        /* NULL: empty */
	uint64_t flat_load_addr;    /* flat binaries; 0 means BOOT_FLAT_DEFAULT_ADDR */
	enum boot_format format;
	uint64_t rsdp_addr;         /* 0: the guest finds the RSDP by scanning */
};

/* Load cfg->kernel_path (and initrd) into gm and describe the boot vCPU in out. */
int boot_load(struct guest_mem *gm, const struct boot_config *cfg, struct x86_boot_state *out,
	      char *err, size_t err_len);

/*
 * The same from buffers; cfg->kernel_path and initrd_path only name the
 * images in messages (either may be NULL).
 */
int boot_load_buffer(struct guest_mem *gm, const struct boot_config *cfg, const void *kernel,
		     size_t kernel_len, const void *initrd, size_t initrd_len,
		     struct x86_boot_state *out, char *err, size_t err_len);

/* The format boot_load would pick for BOOT_FORMAT_AUTO; BOOT_FORMAT_AUTO when unknown. */
enum boot_format boot_detect_format(const void *data, size_t len);

/* "auto", "linux", "linux-nodecompress", "elf", "elf-64", "multiboot", "flat". */
const char *boot_format_name(enum boot_format f);
int boot_format_parse(const char *name, enum boot_format *out);

/* Compression of a Linux payload, detected by its magic. */
enum boot_compression {
	BOOT_COMP_NONE,
	BOOT_COMP_GZIP,
	BOOT_COMP_XZ,
	BOOT_COMP_ZSTD,
	BOOT_COMP_LZMA,
	BOOT_COMP_LZ4,
	BOOT_COMP_BZIP2,
};

enum boot_compression boot_detect_compression(const void *data, size_t len);
const char *boot_compression_name(enum boot_compression c);

/*
 * Decompress `len` bytes into a malloc'd buffer of at most `cap` bytes.
 * -EFBIG when the output would exceed cap (decompression bombs), -EINVAL on
 * corrupt input, -ENOTSUP for an unknown format; `err` says which.
 */
int boot_decompress(const void *data, size_t len, size_t cap, void **out, size_t *out_len,
		    char *err, size_t err_len);

#endif
