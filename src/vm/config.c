/* VM configuration: defaults, parsers of user-supplied values, whole-config checks. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "vm/config.h"

void vm_config_default(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_mib = VM_CONFIG_MEM_DEFAULT_MIB;
	c->cpus = 1;
	c->serial = "stdio";
	c->accel = "auto";
	c->format = VM_KERNEL_AUTO;
	c->load_addr = VM_CONFIG_LOAD_ADDR_DEFAULT;
}

/* Strict unsigned parse: digits only (base as given), no sign, no trailing junk, no overflow. */
static int parse_u64(const char *s, int base, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int config_parse_mem(const char *s, uint64_t *mib, char *err, size_t err_len)
{
	uint64_t v;
	/* RAM lies below the MMIO hole and from 4 GiB up; keep the total sane (1 TiB). */
	const uint64_t max_mib = 1024 * 1024;

	if (parse_u64(s, 10, &v)) {
		snprintf(err, err_len, "--mem %s: not a number of MiB", s ? s : "");
		return -EINVAL;
	}
	if (v < VM_CONFIG_MEM_MIN_MIB) {
		snprintf(err, err_len, "--mem %s: at least %u MiB are needed", s,
			 VM_CONFIG_MEM_MIN_MIB);
		return -EINVAL;
	}
	if (v > max_mib) {
		snprintf(err, err_len, "--mem %s: more than %llu MiB", s,
			 (unsigned long long)max_mib);
		return -EINVAL;
	}
	*mib = v;
	return 0;
}

int config_parse_cpus(const char *s, unsigned *n, char *err, size_t err_len)
{
	uint64_t v;

	if (parse_u64(s, 10, &v)) {
		snprintf(err, err_len, "--cpus %s: not a number", s ? s : "");
		return -EINVAL;
	}
	if (v < 1 || v > VM_CONFIG_MAX_CPUS) {
		snprintf(err, err_len, "--cpus %s: must be 1 to %u", s, VM_CONFIG_MAX_CPUS);
		return -EINVAL;
	}
	*n = (unsigned)v;
	return 0;
}

static const char *const format_names[] = {
    [VM_KERNEL_AUTO] = "auto",		 [VM_KERNEL_LINUX] = "linux", [VM_KERNEL_ELF] = "elf",
    [VM_KERNEL_MULTIBOOT] = "multiboot", [VM_KERNEL_FLAT] = "flat",
};

const char *config_format_name(enum vm_kernel_format f)
{
	return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

int config_parse_format(const char *s, enum vm_kernel_format *f, char *err, size_t err_len)
{
	for (unsigned i = 0; s && i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (!strcmp(s, format_names[i])) {
			*f = (enum vm_kernel_format)i;
			return 0;
		}
	}
	snprintf(
	    err, err_len,
	    "--kernel-format %s: unknown format (expected auto, linux, elf, multiboot or flat)",
	    s ? s : "");
	return -EINVAL;
}

int config_parse_load_addr(const char *s, uint64_t *addr, char *err, size_t err_len)
{
	uint64_t v;

	/* Base 0: 0x... hex, 0... octal, else decimal. */
	if (parse_u64(s, 0, &v)) {
		snprintf(err, err_len, "--load-addr %s: not an address", s ? s : "");
		return -EINVAL;
	}
	/* Flat images load into low RAM above the fixed boot structures. */
	if (v < LAYOUT_HIGH_MEM || v >= LAYOUT_MMIO_HOLE || (v & 0xfff)) {
		snprintf(err, err_len,
			 "--load-addr %s: must be page-aligned, at least 0x%llx and below 0x%llx",
			 s, (unsigned long long)LAYOUT_HIGH_MEM,
			 (unsigned long long)LAYOUT_MMIO_HOLE);
		return -EINVAL;
	}
	*addr = v;
	return 0;
}

int config_parse_accel(const char *s, char *err, size_t err_len)
{
	if (s && (!strcmp(s, "auto") || !strcmp(s, "kvm") || !strcmp(s, "emu")))
		return 0;
	snprintf(err, err_len, "--accel %s: unknown engine (expected auto, kvm or emu)",
		 s ? s : "");
	return -EINVAL;
}

int config_parse_serial(const char *s, char *err, size_t err_len)
{
	if (s && (!strcmp(s, "stdio") || !strcmp(s, "pty") || !strcmp(s, "null")))
		return 0;
	if (s && (!strncmp(s, "file:", 5) || !strncmp(s, "unix:", 5)) && s[5])
		return 0;
	if (s && !strncmp(s, "console:", 8) && s[8]) /* petreld's consoles (chardev.h) */
		return 0;
	snprintf(err, err_len, "--serial %s: expected stdio, pty, null, file:PATH or unix:PATH",
		 s ? s : "");
	return -EINVAL;
}

int config_add_disk(struct vm_config *c, const char *s, char *err, size_t err_len)
{
	struct vm_disk *d;
	const char *comma;
	size_t len;

	if (c->nr_disks >= VM_CONFIG_MAX_DISKS) {
		snprintf(err, err_len, "--disk: at most %u disks", VM_CONFIG_MAX_DISKS);
		return -EINVAL;
	}
	if (!s || !*s) {
		snprintf(err, err_len, "--disk: expected PATH[,ro]");
		return -EINVAL;
	}
	d = &c->disks[c->nr_disks];
	comma = strrchr(s, ',');
	/* The last comma starts the option: paths with commas need a trailing ",rw". */
	if (comma && strcmp(comma, ",ro") && strcmp(comma, ",rw")) {
		snprintf(err, err_len, "--disk %s: unknown option '%s' (expected ro or rw)", s,
			 comma + 1);
		return -EINVAL;
	}
	d->readonly = comma && !strcmp(comma, ",ro");
	len = comma ? (size_t)(comma - s) : strlen(s);
	if (len == 0 || len >= sizeof(d->path)) {
		snprintf(err, err_len, "--disk %s: bad path", s);
		return -EINVAL;
	}
	memcpy(d->path, s, len);
	d->path[len] = '\0';
	c->nr_disks++;
	return 0;
}

int config_add_net(struct vm_config *c, const char *s, char *err, size_t err_len)
{
	if (c->nr_nets >= VM_CONFIG_MAX_NETS) {
		snprintf(err, err_len, "--net: at most %u network interfaces", VM_CONFIG_MAX_NETS);
		return -EINVAL;
	}
	if (!s || (strcmp(s, "user") && strncmp(s, "user,", 5) && strncmp(s, "tap,", 4))) {
		snprintf(err, err_len,
			 "--net %s: expected user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]... or tap,ifname=NAME",
			 s ? s : "");
		return -EINVAL;
	}
	c->nets[c->nr_nets++] = s;
	return 0;
}

int config_parse_console(const char *s, bool *virtio, char *err, size_t err_len)
{
	if (s && !strcmp(s, "virtio")) {
		*virtio = true;
		return 0;
	}
	if (s && !strcmp(s, "serial")) {
		*virtio = false;
		return 0;
	}
	snprintf(err, err_len, "--console %s: expected serial or virtio", s ? s : "");
	return -EINVAL;
}

uint64_t config_host_mem_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psz = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psz <= 0)
		return UINT64_MAX;
	return (uint64_t)pages * (uint64_t)psz;
}

static int check_file(const char *opt, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		int rc = -errno;

		snprintf(err, err_len, "%s %s: %s", opt, path, strerror(errno));
		return rc;
	}
	fclose(f);
	return 0;
}

int vm_config_check(const struct vm_config *c, uint64_t host_mem_bytes, char *err, size_t err_len)
{
	int rc;

	if (c->mem_mib < VM_CONFIG_MEM_MIN_MIB || c->mem_mib > host_mem_bytes / (1024 * 1024)) {
		snprintf(err, err_len, "--mem %llu: the host has %llu MiB",
			 (unsigned long long)c->mem_mib,
			 (unsigned long long)(host_mem_bytes / (1024 * 1024)));
		return -EINVAL;
	}
	if (c->cpus < 1 || c->cpus > VM_CONFIG_MAX_CPUS) {
		snprintf(err, err_len, "--cpus %u: must be 1 to %u", c->cpus, VM_CONFIG_MAX_CPUS);
		return -EINVAL;
	}
	if (c->kernel) {
		rc = check_file("--kernel", c->kernel, err, err_len);
		if (rc)
			return rc;
	} else if (!c->kernel_data || !c->kernel_size) {
		snprintf(err, err_len, "no kernel given");
		return -EINVAL;
	}
	if (c->initrd) {
		rc = check_file("--initrd", c->initrd, err, err_len);
		if (rc)
			return rc;
	}
	if (c->cmdline && strlen(c->cmdline) >= LAYOUT_CMDLINE_MAX) {
		snprintf(err, err_len, "--cmdline: longer than %llu bytes",
			 (unsigned long long)LAYOUT_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	if (c->load_addr >= c->mem_mib * 1024 * 1024 && c->format == VM_KERNEL_FLAT) {
		snprintf(err, err_len, "--load-addr 0x%llx: beyond the guest's %llu MiB of RAM",
			 (unsigned long long)c->load_addr, (unsigned long long)c->mem_mib);
		return -EINVAL;
	}
	return 0;
}
