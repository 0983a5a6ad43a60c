/*
 * The configuration of one VM, and the parsers for its user-supplied values.
 * Every parser takes a string from the command line (or later the API),
 * returns 0 or -EINVAL and writes a message naming the option into err.
 */
#ifndef PETREL_VM_CONFIG_H
#define PETREL_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vm_kernel_format {
	VM_KERNEL_AUTO,
	VM_KERNEL_LINUX,
	VM_KERNEL_ELF,
	VM_KERNEL_MULTIBOOT,
	VM_KERNEL_FLAT,
};

#define VM_CONFIG_MEM_DEFAULT_MIB   256
#define VM_CONFIG_MEM_MIN_MIB	    2 /* the fixed low layout needs the first 2 MiB */
#define VM_CONFIG_MAX_CPUS	    64
#define VM_CONFIG_LOAD_ADDR_DEFAULT 0x100000ull
#define VM_CONFIG_MAX_DISKS	    8
#define VM_CONFIG_MAX_NETS	    4

struct vm_disk {
	char path[4096];
	bool readonly;
};

struct vm_config {
	const char *kernel;	 /* path; NULL: boot kernel_data */
	const void *kernel_data; /* in-memory image (the built-in demo guest) */
	size_t kernel_size;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* NULL: empty */
	uint64_t mem_mib;
	unsigned cpus;
	const char *serial; /* chardev spec */
	const char *accel;  /* "auto", "kvm", "emu" */
	enum vm_kernel_format format;
	uint64_t load_addr; /* flat binaries */

	/* virtio devices, each a PCI function */
	struct vm_disk disks[VM_CONFIG_MAX_DISKS];
	unsigned nr_disks;
	const char *nets[VM_CONFIG_MAX_NETS]; /* "user[,hostfwd=...]" or "tap,ifname=NAME" */
	unsigned nr_nets;
	bool rng;
	bool balloon;
	bool virtio_console; /* the console (serial spec) goes to hvc0; COM1 gets null */
};

void vm_config_default(struct vm_config *c);

int config_parse_mem(const char *s, uint64_t *mib, char *err, size_t err_len);
int config_parse_cpus(const char *s, unsigned *n, char *err, size_t err_len);
int config_parse_format(const char *s, enum vm_kernel_format *f, char *err, size_t err_len);
int config_parse_load_addr(const char *s, uint64_t *addr, char *err, size_t err_len);
int config_parse_accel(const char *s, char *err, size_t err_len);
int config_parse_serial(const char *s, char *err, size_t err_len);
const char *config_format_name(enum vm_kernel_format f);
/* --disk PATH[,ro]: appended to c->disks. */
int config_add_disk(struct vm_config *c, const char *s, char *err, size_t err_len);
/* --net user[,hostfwd=...]... | tap,ifname=NAME: appended to c->nets (checked when created). */
int config_add_net(struct vm_config *c, const char *s, char *err, size_t err_len);
/* --console serial|virtio */
int config_parse_console(const char *s, bool *virtio, char *err, size_t err_len);

/*
 * Whole-config checks that need the host: files readable, memory within
 * host_mem_bytes (the host's physical memory; a parameter so tests can vary it).
 */
int vm_config_check(const struct vm_config *c, uint64_t host_mem_bytes, char *err, size_t err_len);
/* The host's physical memory in bytes (sysconf). */
uint64_t config_host_mem_bytes(void);

#endif
