/*
 * vCPU threads and the exit-handler table.
 *
 * Each vCPU runs on its own thread: run the engine, dispatch the exit through
 * vcpu_exit_table (indexed by accel_exit_kind; each handler is a function of
 * the exit record so tests can feed synthetic exits), repeat. Between runs the
 * thread checks the VM's run state (running / paused / stopping); state
 * changes kick every vCPU, so none stays inside the engine.
 */
#ifndef PETREL_VM_VCPU_H
#define PETREL_VM_VCPU_H

#include <pthread.h>
#include <stdbool.h>

#include "accel/accel.h"

struct vm;
struct machine;

enum vcpu_run_state {
	VCPU_RUNNING,
	VCPU_PAUSED,
	VCPU_STOPPING,
};

struct vcpu {
	struct vm *vm; /* NULL in unit tests that drive handlers alone */
	struct machine *m;
	unsigned index;
	struct accel_vcpu *accel;
	pthread_t thread;
	bool started;
	bool halted;				/* parked after ACCEL_EXIT_HALT */
	unsigned long exits[ACCEL_EXIT__COUNT]; /* statistics */
};

/* Handler results. */
#define VCPU_CONTINUE 0
#define VCPU_STOP     1

typedef int (*vcpu_exit_fn)(struct vcpu *v, struct accel_exit *e);
extern const vcpu_exit_fn vcpu_exit_table[ACCEL_EXIT__COUNT];

/* Dispatch one exit; out-of-range kinds are treated as an engine error. */
int vcpu_handle_exit(struct vcpu *v, struct accel_exit *e);
/* The thread body: loops until the machine stops. arg is the struct vcpu. */
void *vcpu_thread(void *arg);
/* Make the vCPU leave the engine soon (any thread). */
void vcpu_kick(struct vcpu *v);

#endif
