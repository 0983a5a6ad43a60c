/*
 * A VM spec: the JSON body of POST /vms and the `petrel create FILE` config
 * file (docs/config.md). vm_spec_parse() validates it strictly (unknown
 * fields, types, ranges, names, paths) and vm_spec_argv() turns it into the
 * `petrel run` command line of the VM process.
 */
#ifndef PETREL_DAEMON_VM_SPEC_H
#define PETREL_DAEMON_VM_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/config.h"

#define VM_NAME_MAX 64
#define VM_PATH_MAX 4096
#define VM_NET_MAX  512 /* one --net option string */

struct vm_spec {
	char name[VM_NAME_MAX + 1]; /* "" until vm_spec_parse or the registry names it */
	char kernel[VM_PATH_MAX], initrd[VM_PATH_MAX], cmdline[VM_PATH_MAX];
	char kernel_format[16]; /* auto|linux|elf|multiboot|flat */
	char accel[8];		/* auto|kvm|emu */
	unsigned cpus;
	uint64_t mem_mib;
	struct vm_disk disks[VM_CONFIG_MAX_DISKS];
	unsigned nr_disks;
	char nets[VM_CONFIG_MAX_NETS][VM_NET_MAX]; /* petrel run --net values */
	unsigned nr_nets;
	bool rng, balloon;
	char console[8]; /* serial|virtio */
	bool autostart;
	unsigned cpu_max_percent; /* 0: no cap (cgroup) */
	uint64_t memory_max_mib;  /* 0: no cap (cgroup) */
};

/* Names: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
bool vm_name_valid(const char *s);

/*
 * Validate j (a JSON object) into s. check_files: kernel/initrd/disks must be
 * readable (writable for read-write disks) now; off for fuzzing and unit
 * tests. host_mem_mib bounds mem_mib. Returns 0 or -EINVAL with err set.
 */
int vm_spec_parse(const json_t *j, struct vm_spec *s, bool check_files, uint64_t host_mem_mib,
		  char *err, size_t err_len);

/* The spec as JSON, every field present (what GET /vms/{vm} shows and spec.json holds). */
json_t *vm_spec_to_json(const struct vm_spec *s);

/*
 * The argv of the VM process: petrel run --api-sock DIR/api.sock
 * --serial console:DIR/console.sock ... With autostart false the kernel is
 * left out (the daemon sends PUT /boot-source and the VM waits for
 * InstanceStart). Returns a NULL-terminated array to free with
 * vm_spec_argv_free(), or NULL (out of memory).
 */
char **vm_spec_argv(const struct vm_spec *s, const char *petrel, const char *dir);
void vm_spec_argv_free(char **argv);

/* The PUT /boot-source body for a VM created without autostart. */
json_t *vm_spec_boot_source(const struct vm_spec *s);

#endif
