/* vCPU threads, their run-state machine and the exit-handler table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus/iobus.h"
#include "util/log.h"
#include "vm/machine.h"
#include "vm/vcpu.h"
#include "vm/vm.h"

static int exit_none(struct vcpu *v, struct accel_exit *e)
{
	return VCPU_CONTINUE;
}

static int exit_io(struct vcpu *v, struct accel_exit *e)
{
	/* The engine validated size (1, 2, 4) and that data holds size * count bytes. */
	for (uint32_t i = 0; i < e->io.count; i++) {
		uint8_t *d = e->io.data + (size_t)i * e->io.size;

		if (e->io.write)
			iobus_write_buf(&v->m->pio, e->io.port, d, e->io.size);
		else
			iobus_read_buf(&v->m->pio, e->io.port, d, e->io.size);
	}
	return VCPU_CONTINUE;
}

static int exit_mmio(struct vcpu *v, struct accel_exit *e)
{
	if (e->mmio.write)
		iobus_write_buf(&v->m->mmio, e->mmio.addr, e->mmio.data, e->mmio.size);
	else
		iobus_read_buf(&v->m->mmio, e->mmio.addr, e->mmio.data, e->mmio.size);
	return VCPU_CONTINUE;
}

static int exit_halt(struct vcpu *v, struct accel_exit *e)
{
	/*
	 * hlt with nothing that can wake it: park the vCPU, as hardware would,
	 * until the machine stops or is paused and resumed.
	 */
	v->halted = true;
	return VCPU_CONTINUE;
}

static int exit_shutdown(struct vcpu *v, struct accel_exit *e)
{
	log_info("vCPU %u: triple fault, resetting the machine", v->index);
	machine_request_stop(v->m, MACHINE_RESET, 0);
	return VCPU_STOP;
}

static int exit_reset(struct vcpu *v, struct accel_exit *e)
{
	machine_request_stop(v->m, MACHINE_RESET, 0);
	return VCPU_STOP;
}

static int exit_intr(struct vcpu *v, struct accel_exit *e)
{
	/* The loop checks the run state before the next entry. */
	return VCPU_CONTINUE;
}

static int exit_error(struct vcpu *v, struct accel_exit *e)
{
	struct x86_vcpu_state s;

	/* Only the first failing vCPU reports; the others are stopping anyway. */
	if (!machine_request_stop(v->m, MACHINE_ERROR, 1))
		return VCPU_STOP;
	log_error("vCPU %u: %s", v->index, e->error[0] ? e->error : "engine error");
	if (v->accel && v->m->accel && v->m->accel->get_state &&
	    v->m->accel->get_state(v->accel, &s) == 0)
		x86_vcpu_state_dump(&s, stderr);
	return VCPU_STOP;
}

const vcpu_exit_fn vcpu_exit_table[ACCEL_EXIT__COUNT] = {
    [ACCEL_EXIT_NONE] = exit_none,	   [ACCEL_EXIT_IO] = exit_io,
    [ACCEL_EXIT_MMIO] = exit_mmio,	   [ACCEL_EXIT_HALT] = exit_halt,
    [ACCEL_EXIT_SHUTDOWN] = exit_shutdown, [ACCEL_EXIT_RESET] = exit_reset,
    [ACCEL_EXIT_INTR] = exit_intr,	   [ACCEL_EXIT_ERROR] = exit_error,
};

int vcpu_handle_exit(struct vcpu *v, struct accel_exit *e)
{
	if ((unsigned)e->kind >= ACCEL_EXIT__COUNT || !vcpu_exit_table[e->kind]) {
		snprintf(e->error, sizeof(e->error), "unknown exit kind %d", (int)e->kind);
		return exit_error(v, e);
	}
	v->exits[e->kind]++;
	return vcpu_exit_table[e->kind](v, e);
}

void vcpu_kick(struct vcpu *v)
{
	if (v->accel && v->m->accel && v->m->accel->vcpu_kick)
		v->m->accel->vcpu_kick(v->accel);
}

/*
 * Wait while paused (or halted); true when the thread must end. The pause
 * handshake: vm_pause sets target = PAUSED and kicks; each thread counts
 * itself in nr_paused here, outside the engine, and waits for the target to
 * change.
 */
static bool vcpu_wait_runnable(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool counted = false, stop;

	pthread_mutex_lock(&vm->lock);
	for (;;) {
		stop = atomic_load(&v->m->stop_reason) != MACHINE_RUNNING ||
		       vm->target == VCPU_STOPPING;
		if (stop)
			break;
		if (vm->target == VCPU_PAUSED) {
			if (!counted) {
				vm->nr_paused++;
				counted = true;
				pthread_cond_broadcast(&vm->cond);
			}
		} else if (!v->halted) {
			break;
		}
		pthread_cond_wait(&vm->cond, &vm->lock);
		/* A resume wakes a halted vCPU too: a debugger's "continue". */
		if (vm->target == VCPU_RUNNING)
			v->halted = false;
	}
	if (counted) {
		vm->nr_paused--;
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return stop;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	const struct accel_ops *ops = v->m->accel;
	struct accel_exit e;
	int rc;

	for (;;) {
		if (vcpu_wait_runnable(v))
			break;
		rc = ops->vcpu_run(v->accel, &e);
		if (rc < 0) {
			memset(&e, 0, sizeof(e));
			e.kind = ACCEL_EXIT_ERROR;
			snprintf(e.error, sizeof(e.error), "vcpu_run: %s", strerror(-rc));
		}
		if (vcpu_handle_exit(v, &e) == VCPU_STOP)
			break;
	}
	pthread_mutex_lock(&v->vm->lock);
	v->vm->nr_threads--;
	pthread_cond_broadcast(&v->vm->cond);
	pthread_mutex_unlock(&v->vm->lock);
	return NULL;
}
