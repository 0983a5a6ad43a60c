/*
 * Boot loader front end: maps the files, picks the format and holds the
 * helpers every loader shares (range checks, command line, initrd placement).
 */
#include "boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "boot/boot_priv.h"
#include "mem/guest_mem.h"
#include "util/compiler.h"
#include "util/log.h"

#define PAGE_SIZE 4096ull

static void vfail(struct boot_ctx *c, const char *what, const char *name, const char *fmt,
		  va_list ap)
{
	int n;

	if (!c->err || c->err_len == 0)
		return;
	n = snprintf(c->err, c->err_len, "%s '%s': ", what, name);
	if (n >= 0 && (size_t)n < c->err_len)
		vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
}

int boot_fail(struct boot_ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, "kernel", c->kname, fmt, ap);
	va_end(ap);
	return rc;
}

int boot_fail_initrd(struct boot_ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, "initrd", c->iname, fmt, ap);
	va_end(ap);
	return rc;
}

int boot_check_kernel_range(struct boot_ctx *c, uint64_t gpa, uint64_t len, const char *what)
{
	if (gpa + len < gpa)
		return boot_fail(c, -EINVAL, "%s at 0x%" PRIx64 " size 0x%" PRIx64
				 " wraps the address space", what, gpa, len);
	if (gpa < LAYOUT_HIGH_MEM)
		return boot_fail(c, -EINVAL, "%s at 0x%" PRIx64 " lies below 1 MiB, where the "
				 "boot structures live", what, gpa);
	if (len > c->gm->total)
		return boot_fail(c, -EFBIG, "%s needs %" PRIu64 " MiB, more than the guest's %"
				 PRIu64 " MiB of RAM", what, len >> 20, c->gm->total >> 20);
	if (len && !gmem_is_ram(c->gm, gpa, len))
		return boot_fail(c, -ERANGE, "%s [0x%" PRIx64 ", 0x%" PRIx64 ") is not inside "
				 "guest RAM", what, gpa, gpa + len);
	return 0;
}

int boot_copy(struct boot_ctx *c, uint64_t gpa, const void *src, uint64_t filesz, uint64_t memsz)
{
	static const uint8_t zeros[65536];
	int rc;

	rc = gmem_write(c->gm, gpa, src, filesz);
	if (rc)
		return boot_fail(c, rc, "cannot write 0x%" PRIx64 " bytes at 0x%" PRIx64, filesz,
				 gpa);
	for (uint64_t off = filesz; off < memsz;) {
		uint64_t n = MIN(memsz - off, (uint64_t)sizeof(zeros));

		rc = gmem_write(c->gm, gpa + off, zeros, n);
		if (rc)
			return boot_fail(c, rc, "cannot clear memory at 0x%" PRIx64, gpa + off);
		off += n;
	}
	return 0;
}

int boot_place_cmdline(struct boot_ctx *c, uint64_t max_len, uint64_t *gpa)
{
	size_t len = strlen(c->cmdline);
	int rc;

	if (len > max_len || len + 1 > LAYOUT_CMDLINE_MAX)
		return boot_fail(c, -E2BIG, "command line is %zu bytes, the limit is %" PRIu64, len,
				 MIN(max_len, (uint64_t)(LAYOUT_CMDLINE_MAX - 1)));
	rc = gmem_write(c->gm, LAYOUT_CMDLINE, c->cmdline, len + 1);
	if (rc)
		return boot_fail(c, rc, "no RAM for the command line at 0x%llx", LAYOUT_CMDLINE);
	*gpa = LAYOUT_CMDLINE;
	return 0;
}

int boot_place_initrd(struct boot_ctx *c, uint64_t limit, uint64_t kstart, uint64_t kend,
		      uint64_t *gpa)
{
	uint64_t top = e820_low_ram_top(c->gm), size = c->initrd_len, at;

	*gpa = 0;
	if (!c->initrd)
		return 0;
	if (size == 0)
		return boot_fail_initrd(c, -EINVAL, "file is empty");
	top = MIN(top, limit);
	/* Try above the kernel first (the usual case), then below it. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t t = pass == 0 ? top : MIN(top, kstart);

		if (size > t)
			continue;
		at = (t - size) & ~(PAGE_SIZE - 1);
		if (at < LAYOUT_HIGH_MEM)
			continue;
		if (at < kend && at + size > kstart)
			continue;
		if (!gmem_is_ram(c->gm, at, size))
			continue;
		if (gmem_write(c->gm, at, c->initrd, size))
			continue;
		*gpa = at;
		return 0;
	}
	return boot_fail_initrd(c, -EFBIG, "%zu bytes do not fit in guest RAM below 0x%" PRIx64
				" beside the kernel at [0x%" PRIx64 ", 0x%" PRIx64 ")",
				c->initrd_len, top, kstart, kend);
}

int boot_e820(struct boot_ctx *c, struct e820_entry *tab, unsigned max)
{
	int n = e820_build(c->gm, tab, max);

	if (n < 0)
		return boot_fail(c, n, "cannot build the e820 memory map");
	return n;
}

bool boot_is_elf(const uint8_t *data, size_t len)
{
	return len >= 4 && memcmp(data, "\x7f" "ELF", 4) == 0;
}

static bool is_bzimage(const uint8_t *d, size_t len)
{
	return len >= 0x206 && get16(d + 0x1fe) == 0xaa55 && memcmp(d + 0x202, "HdrS", 4) == 0;
}

enum boot_format boot_detect_format(const void *data, size_t len)
{
	const uint8_t *d = data;

	if (!d)
		return BOOT_FORMAT_AUTO;
	if (is_bzimage(d, len))
		return BOOT_FORMAT_LINUX;
	if (boot_multiboot_detect(d, len))
		return BOOT_FORMAT_MULTIBOOT;
	if (boot_is_elf(d, len))
		return BOOT_FORMAT_ELF;
	return BOOT_FORMAT_AUTO;
}

static const char *const format_names[] = {
	[BOOT_FORMAT_AUTO] = "auto",
	[BOOT_FORMAT_LINUX] = "linux",
	[BOOT_FORMAT_LINUX_NODECOMPRESS] = "linux-nodecompress",
	[BOOT_FORMAT_ELF] = "elf",
	[BOOT_FORMAT_ELF_LONG64] = "elf-64",
	[BOOT_FORMAT_MULTIBOOT] = "multiboot",
	[BOOT_FORMAT_FLAT] = "flat",
};

const char *boot_format_name(enum boot_format f)
{
	if ((unsigned)f < ARRAY_SIZE(format_names))
		return format_names[f];
	return "unknown";
}

int boot_format_parse(const char *name, enum boot_format *out)
{
	if (!name)
		return -EINVAL;
	for (unsigned i = 0; i < ARRAY_SIZE(format_names); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum boot_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Flat binaries: tiny test guests entered in 64-bit mode at their first byte. */
static int boot_flat_load(struct boot_ctx *c)
{
	uint64_t at = c->cfg->flat_load_addr ? c->cfg->flat_load_addr : BOOT_FLAT_DEFAULT_ADDR;
	uint64_t cmdline;
	int rc;

	if (c->kernel_len == 0)
		return boot_fail(c, -EINVAL, "file is empty");
	if (c->initrd)
		return boot_fail_initrd(c, -EINVAL, "flat binaries take no initrd");
	rc = boot_check_kernel_range(c, at, c->kernel_len, "flat image");
	if (rc)
		return rc;
	rc = boot_place_cmdline(c, LAYOUT_CMDLINE_MAX - 1, &cmdline);
	if (rc)
		return rc;
	rc = boot_copy(c, at, c->kernel, c->kernel_len, c->kernel_len);
	if (rc)
		return rc;
	memset(c->out, 0, sizeof(*c->out));
	c->out->mode = X86_BOOT_LONG64;
	c->out->entry = at;
	c->out->rsp = at; /* the stack grows down from the image */
	return 0;
}

int boot_load_buffer(struct guest_mem *gm, const struct boot_config *cfg, const void *kernel,
		     size_t kernel_len, const void *initrd, size_t initrd_len,
		     struct x86_boot_state *out, char *err, size_t err_len)
{
	struct boot_ctx c = {
		.gm = gm,
		.cfg = cfg,
		.kernel = kernel,
		.kernel_len = kernel_len,
		.initrd = initrd,
		.initrd_len = initrd_len,
		.err = err,
		.err_len = err_len,
		.out = out,
	};

	if (err && err_len)
		err[0] = '\0';
	c.kname = cfg && cfg->kernel_path ? cfg->kernel_path : "(buffer)";
	c.iname = cfg && cfg->initrd_path ? cfg->initrd_path : "(buffer)";
	if (!gm || !cfg || !out || (!kernel && kernel_len))
		return boot_fail(&c, -EINVAL, "invalid arguments");
	if (!kernel)
		return boot_fail(&c, -EINVAL, "no kernel image");
	c.cmdline = cfg->cmdline ? cfg->cmdline : "";
	if (kernel_len > gm->total)
		return boot_fail(&c, -EFBIG, "image is %zu bytes, larger than the guest's %" PRIu64
				 " MiB of RAM", kernel_len, gm->total >> 20);
	if (initrd && initrd_len > gm->total)
		return boot_fail_initrd(&c, -EFBIG, "%zu bytes, larger than the guest's %" PRIu64
					" MiB of RAM", initrd_len, gm->total >> 20);

	c.format = cfg->format;
	if (c.format == BOOT_FORMAT_AUTO) {
		c.format = boot_detect_format(kernel, kernel_len);
		if (c.format == BOOT_FORMAT_AUTO)
			return boot_fail(&c, -ENOEXEC, "not a bzImage, Multiboot or ELF kernel "
					 "(file is %zu bytes); use format=flat for raw binaries",
					 kernel_len);
	}
	switch (c.format) {
	case BOOT_FORMAT_LINUX:
	case BOOT_FORMAT_LINUX_NODECOMPRESS:
		return boot_linux_load(&c);
	case BOOT_FORMAT_ELF:
	case BOOT_FORMAT_ELF_LONG64:
		return boot_elf_boot(&c);
	case BOOT_FORMAT_MULTIBOOT:
		return boot_multiboot_load(&c);
	case BOOT_FORMAT_FLAT:
		return boot_flat_load(&c);
	default:
		return boot_fail(&c, -EINVAL, "unknown boot format %d", (int)c.format);
	}
}

/* Map a whole file read-only; refuse files larger than `max`. */
static int map_file(const char *path, size_t max, const char *what, void **data, size_t *len,
		    char *err, size_t err_len)
{
	struct stat st;
	void *p;
	int fd, rc = 0;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "%s '%s': %s", what, path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, err_len, "%s '%s': %s", what, path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, err_len, "%s '%s': not a regular file", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EFBIG;
		snprintf(err, err_len, "%s '%s': %lld bytes do not fit in %zu MiB of guest RAM",
			 what, path, (long long)st.st_size, max >> 20);
		goto out;
	}
	if (st.st_size == 0) {
		rc = -EINVAL;
		snprintf(err, err_len, "%s '%s': file is empty", what, path);
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		snprintf(err, err_len, "%s '%s': mmap: %s", what, path, strerror(-rc));
		goto out;
	}
	*data = p;
	*len = (size_t)st.st_size;
out:
	close(fd);
	return rc;
}

int boot_load(struct guest_mem *gm, const struct boot_config *cfg, struct x86_boot_state *out,
	      char *err, size_t err_len)
{
	void *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	char dummy[1];
	int rc;

	if (!err || err_len == 0) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = '\0';
	if (!gm || !cfg || !out || !cfg->kernel_path) {
		snprintf(err, err_len, "boot: no kernel given");
		return -EINVAL;
	}
	rc = map_file(cfg->kernel_path, (size_t)MIN(gm->total, (uint64_t)SIZE_MAX), "kernel",
		      &kernel, &klen, err, err_len);
	if (rc)
		goto out;
	if (cfg->initrd_path) {
		rc = map_file(cfg->initrd_path, (size_t)MIN(gm->total, (uint64_t)SIZE_MAX),
			      "initrd", &initrd, &ilen, err, err_len);
		if (rc)
			goto out;
	}
	rc = boot_load_buffer(gm, cfg, kernel, klen, initrd, ilen, out, err, err_len);
	if (rc == 0)
		log_debug("boot: %s loaded, entry 0x%" PRIx64 " mode %d", cfg->kernel_path,
			  out->entry, (int)out->mode);
out:
	if (kernel)
		munmap(kernel, klen);
	if (initrd)
		munmap(initrd, ilen);
	return rc;
}
