/*
 * A Petrel machine: an x86 "microvm-like PC". It owns guest memory, the two
 * buses, interrupt routing, the devices the configuration asked for and the
 * CPU engine. vm.c builds it from a vm_config.
 */
#ifndef PETREL_VM_MACHINE_H
#define PETREL_VM_MACHINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/iobus.h"
#include "bus/irq.h"
#include "mem/guest_mem.h"

struct accel_ops;
struct accel_vm;
struct chardev;

#define MACHINE_MAX_CPUS 64

/* Why the machine stopped running; decides petrel's exit status. */
enum machine_stop {
	MACHINE_RUNNING = 0,
	MACHINE_POWEROFF,    /* ACPI sleep state 5: exit status 0 */
	MACHINE_RESET,       /* reboot requested: the VM restarts */
	MACHINE_DEBUG_EXIT,  /* isa-debug-exit written: status (value << 1) | 1 */
	MACHINE_QUIT,        /* the user quit from the console */
	MACHINE_ERROR,       /* an engine error: status 1, registers printed */
};

struct machine {
	struct guest_mem mem;
	struct iobus pio;
	struct iobus mmio;
	struct irq_router irq;
	unsigned nr_cpus;

	const struct accel_ops *accel;
	struct accel_vm *accel_vm;

	/* Set once by whichever device or vCPU stops the machine first. */
	_Atomic int stop_reason;  /* enum machine_stop */
	int exit_status;          /* valid when stop_reason is set */

	/* Called when the stop reason is set, to wake every vCPU. */
	void (*on_stop)(struct machine *m);

	/*
	 * Set by an engine that caches decoded guest code (emu) in its vm_init,
	 * cleared in vm_fini: guest RAM [gpa, gpa+len) was written by a device
	 * (DMA), so code decoded from it is stale. Any thread; NULL for KVM.
	 */
	void (*dma_written)(struct machine *m, uint64_t gpa, uint64_t len);
};

/* Devices (through the virtqueue) report their writes into guest RAM. */
static inline void machine_dma_written(struct machine *m, uint64_t gpa, uint64_t len)
{
	void (*fn)(struct machine *, uint64_t, uint64_t) =
	    __atomic_load_n(&m->dma_written, __ATOMIC_ACQUIRE);

	if (fn && len)
		fn(m, gpa, len);
}

/*
 * Request a stop. The first request wins; later ones are ignored. Returns
 * true when this call set the reason.
 */
bool machine_request_stop(struct machine *m, enum machine_stop why, int exit_status);

#endif
