/*
 * A VM: a machine built from a vm_config, its vCPU threads and its run
 * state. vm_run() blocks until the guest powers off, exits through the
 * debug-exit port, fails, or the user quits; a guest reset re-creates the
 * guest state (engine VM, vCPUs, RAM contents, kernel) in the same process.
 */
#ifndef PETREL_VM_VM_H
#define PETREL_VM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/config.h"
#include "vm/machine.h"
#include "vm/vcpu.h"

struct chardev;
struct virtio_blk;
struct virtio_net;
struct virtio_rng;
struct virtio_balloon;
struct virtio_console;
struct virtio_pci;
struct virtio_dev;

#define VM_MAX_VIRTIO (VM_CONFIG_MAX_DISKS + VM_CONFIG_MAX_NETS + 3)

struct vm {
	struct vm_config cfg; /* strings owned by the caller */
	struct machine m;
	struct vcpu vcpus[MACHINE_MAX_CPUS];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vcpu_run_state target; /* what vm_pause/resume/stop asked for */
	unsigned nr_threads;	    /* vCPU threads alive */
	unsigned nr_paused;	    /* of those, parked because of a pause */
	int evfd;		    /* wakes vm_run when the machine stops */

	struct chardev *serial;
	void *uart, *rtc, *i8042, *debug_exit, *pci_host, *acpi_pm, *fw_cfg;
	struct chardev *uart_cd; /* the UART's backend: the console, or null with --console virtio */
	struct virtio_blk *blk[VM_CONFIG_MAX_DISKS];
	struct virtio_net *net[VM_CONFIG_MAX_NETS];
	struct virtio_rng *rng;
	struct virtio_balloon *balloon;
	struct virtio_console *vcon;
	struct virtio_pci *vpci[VM_MAX_VIRTIO];     /* the PCI functions, in creation order */
	struct virtio_dev *vdev[VM_MAX_VIRTIO];     /* the device behind each */
	unsigned nr_virtio;
	uint64_t rsdp;
	unsigned boots;		  /* 1 after the first boot, +1 per reset */
	atomic_bool quit_pending; /* the user quit; survives a reboot in progress */
	long storm_start;	  /* reset-loop detection: this boot's start (ms) ... */
	unsigned storm_count;	  /* ... and short boots in a row */
	char err[256];		  /* why the last reset failed */
};

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t err_len);
/* Run until the machine stops; returns petrel's exit status (>= 0) or -errno. */
int vm_run(struct vm *vm);
/* Park every vCPU outside the engine; returns when all are parked. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/* Ask the machine to stop (any thread); vm_run returns. */
void vm_stop(struct vm *vm, enum machine_stop why, int status);
void vm_destroy(struct vm *vm);
/* petrel's exit status for a stop reason. */
int vm_exit_status(enum machine_stop why, int status);

#endif
