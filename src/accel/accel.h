/*
 * The CPU-engine ("accel") interface. An engine runs vCPUs of one machine;
 * everything else (devices, buses, boot) is engine-neutral.
 *
 * vcpu_run() runs the vCPU until something needs the VMM and describes it in
 * an accel_exit. The emu engine handles port and MMIO accesses itself by
 * calling the machine's buses; KVM returns them as exits, which the generic
 * exit table in vm/vcpu.c dispatches. Engines never exit() the process.
 */
#ifndef PETREL_ACCEL_ACCEL_H
#define PETREL_ACCEL_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/vcpu_state.h"

struct machine;
struct accel_vm;
struct accel_vcpu;

enum accel_exit_kind {
	ACCEL_EXIT_NONE,      /* nothing to do: run again */
	ACCEL_EXIT_IO,        /* port I/O for the VMM to perform */
	ACCEL_EXIT_MMIO,      /* MMIO access for the VMM to perform */
	ACCEL_EXIT_HALT,      /* hlt with interrupts off, or an engine with no wakeup source */
	ACCEL_EXIT_SHUTDOWN,  /* triple fault or similar: the machine resets */
	ACCEL_EXIT_RESET,     /* the guest asked for a reset */
	ACCEL_EXIT_INTR,      /* vcpu_kick() interrupted the run */
	ACCEL_EXIT_ERROR,     /* the engine cannot continue; reason in error */
	ACCEL_EXIT__COUNT
};

struct accel_exit {
	enum accel_exit_kind kind;
	union {
		struct {
			uint16_t port;
			uint8_t size;     /* 1, 2 or 4 */
			bool write;
			uint32_t count;   /* repetitions (string I/O) */
			uint8_t *data;    /* size * count bytes, engine-owned */
		} io;
		struct {
			uint64_t addr;
			uint8_t size;     /* 1..8 */
			bool write;
			uint8_t *data;    /* engine-owned; for reads the VMM fills it */
		} mmio;
	};
	char error[160];
};

struct accel_ops {
	const char *name;
	/* 0 when this engine can run guests here; else -errno with a reason in why. */
	int (*probe)(char *why, size_t why_len);
	int (*vm_init)(struct machine *m, struct accel_vm **out);
	void (*vm_fini)(struct accel_vm *vm);
	int (*vcpu_init)(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
	void (*vcpu_fini)(struct accel_vcpu *vcpu);
	int (*vcpu_run)(struct accel_vcpu *vcpu, struct accel_exit *exit);
	/* Make a running (or the next) vcpu_run return ACCEL_EXIT_INTR; any thread. */
	void (*vcpu_kick)(struct accel_vcpu *vcpu);
	int (*get_state)(struct accel_vcpu *vcpu, struct x86_vcpu_state *s);
	int (*set_state)(struct accel_vcpu *vcpu, const struct x86_vcpu_state *s);
};

extern const struct accel_ops accel_kvm_ops;
extern const struct accel_ops accel_emu_ops;

/*
 * Choose an engine by name ("kvm", "emu", "auto"). For "auto": KVM when it can
 * run a guest kernel in hardware, otherwise emu. *why explains a refusal.
 */
int accel_select(const char *name, const struct accel_ops **out, char *why, size_t why_len);

#endif
