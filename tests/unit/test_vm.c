/*
 * The vCPU exit table with synthetic exits (no /dev/kvm), exit statuses,
 * and the pause/resume/stop state machine with a fake engine on real threads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/compiler.h"
#include "vm/vm.h"

struct fake_dev {
	uint8_t last_write[8];
	unsigned writes, reads;
};

static uint64_t dev_read(void *opaque, uint64_t off, unsigned size)
{
	struct fake_dev *d = opaque;

	d->reads++;
	return 0x40 + off;
}

static void dev_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct fake_dev *d = opaque;

	d->last_write[d->writes++ % 8] = (uint8_t)value;
}

static const struct iobus_ops dev_ops = {
    .name = "fake",
    .read = dev_read,
    .write = dev_write,
    .sizes = IOBUS_SIZE_1,
    .split = true,
};

static int get_state_calls;
static int fake_get_state(struct accel_vcpu *v, struct x86_vcpu_state *s)
{
	get_state_calls++;
	memset(s, 0, sizeof(*s));
	s->rip = 0xfff0;
	return 0;
}

static const struct accel_ops fake_ops = {.name = "fake", .get_state = fake_get_state};

struct fixture {
	struct machine m;
	struct vcpu v;
	struct fake_dev dev;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(iobus_init(&f->m.pio, "pio"), 0);
	assert_int_equal(iobus_init(&f->m.mmio, "mmio"), 0);
	assert_int_equal(iobus_register(&f->m.pio, 0x3f8, 8, &dev_ops, &f->dev), 0);
	assert_int_equal(iobus_register(&f->m.mmio, 0xd0000000, 16, &dev_ops, &f->dev), 0);
	f->m.accel = &fake_ops;
	f->v.m = &f->m;
	f->v.accel = (struct accel_vcpu *)&f->dev; /* any non-NULL handle */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	iobus_fini(&f->m.pio);
	iobus_fini(&f->m.mmio);
	free(f);
	return 0;
}

static void test_io(void **state)
{
	struct fixture *f = *state;
	uint8_t data[8] = {'h', 'i', '!'};
	struct accel_exit e = {.kind = ACCEL_EXIT_IO};

	e.io.port = 0x3f8;
	e.io.size = 1;
	e.io.write = true;
	e.io.count = 3; /* rep outsb */
	e.io.data = data;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_int_equal(f->dev.writes, 3);
	assert_memory_equal(f->dev.last_write, "hi!", 3);

	/* A read of register 5 (offset 5 -> 0x45), 1 byte. */
	memset(data, 0, sizeof(data));
	e.io.port = 0x3fd;
	e.io.write = false;
	e.io.count = 1;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_int_equal(data[0], 0x45);

	/* Unclaimed port: all ones, 2 bytes. */
	memset(data, 0, sizeof(data));
	e.io.port = 0x1234;
	e.io.size = 2;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_int_equal(data[0], 0xff);
	assert_int_equal(data[1], 0xff);
	assert_int_equal(data[2], 0);
	assert_int_equal(f->v.exits[ACCEL_EXIT_IO], 3);
}

static void test_mmio(void **state)
{
	struct fixture *f = *state;
	uint8_t data[8] = {0};
	struct accel_exit e = {.kind = ACCEL_EXIT_MMIO};

	e.mmio.addr = 0xd0000002;
	e.mmio.size = 1;
	e.mmio.data = data;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_int_equal(data[0], 0x42);

	e.mmio.addr = 0xd0001000; /* unclaimed */
	e.mmio.size = 4;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);

	data[0] = 0x77;
	e.mmio.addr = 0xd0000000;
	e.mmio.size = 1;
	e.mmio.write = true;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_int_equal(f->dev.last_write[(f->dev.writes - 1) % 8], 0x77);
}

static void test_halt_intr_none(void **state)
{
	struct fixture *f = *state;
	struct accel_exit e = {.kind = ACCEL_EXIT_HALT};

	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_true(f->v.halted);
	e.kind = ACCEL_EXIT_INTR;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	e.kind = ACCEL_EXIT_NONE;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_CONTINUE);
	assert_int_equal(f->m.stop_reason, MACHINE_RUNNING);
}

static void test_shutdown_reset(void **state)
{
	struct fixture *f = *state;
	struct accel_exit e = {.kind = ACCEL_EXIT_SHUTDOWN};

	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_STOP);
	assert_int_equal(f->m.stop_reason, MACHINE_RESET);
	atomic_store(&f->m.stop_reason, MACHINE_RUNNING);
	e.kind = ACCEL_EXIT_RESET;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_STOP);
	assert_int_equal(f->m.stop_reason, MACHINE_RESET);
}

static void test_error(void **state)
{
	struct fixture *f = *state;
	struct accel_exit e = {.kind = ACCEL_EXIT_ERROR};
	FILE *saved = stderr;

	snprintf(e.error, sizeof(e.error), "synthetic failure");
	stderr = fopen("/dev/null", "w");
	get_state_calls = 0;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_STOP);
	assert_int_equal(f->m.stop_reason, MACHINE_ERROR);
	assert_int_equal(f->m.exit_status, 1);
	assert_int_equal(get_state_calls, 1); /* registers were dumped */
	/* A second failing vCPU does not dump again or change the status. */
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_STOP);
	assert_int_equal(get_state_calls, 1);

	/* A kind outside the table is an error, not an out-of-bounds call. */
	atomic_store(&f->m.stop_reason, MACHINE_RUNNING);
	e.kind = ACCEL_EXIT__COUNT + 5;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_STOP);
	assert_int_equal(f->m.stop_reason, MACHINE_ERROR);
	assert_non_null(strstr(e.error, "unknown exit kind"));
	e.kind = (enum accel_exit_kind) - 1;
	assert_int_equal(vcpu_handle_exit(&f->v, &e), VCPU_STOP);
	fclose(stderr);
	stderr = saved;
}

static void test_exit_status(void **state)
{
	assert_int_equal(vm_exit_status(MACHINE_POWEROFF, 0), 0);
	assert_int_equal(vm_exit_status(MACHINE_DEBUG_EXIT, (0x21 << 1) | 1), 0x43);
	assert_int_equal(vm_exit_status(MACHINE_ERROR, 1), 1);
	assert_int_equal(vm_exit_status(MACHINE_QUIT, 0), 0);
}

/* A fake engine for the state machine: each run "executes" briefly and returns. */
struct fake_vcpu {
	atomic_ulong runs;
	atomic_bool kicked;
};

static int fake_run(struct accel_vcpu *av, struct accel_exit *e)
{
	struct fake_vcpu *fv = (struct fake_vcpu *)av;

	memset(e, 0, sizeof(*e));
	if (atomic_exchange(&fv->kicked, false)) {
		e->kind = ACCEL_EXIT_INTR;
		return 0;
	}
	atomic_fetch_add(&fv->runs, 1);
	usleep(200);
	e->kind = ACCEL_EXIT_NONE;
	return 0;
}

static void fake_kick(struct accel_vcpu *av)
{
	atomic_store(&((struct fake_vcpu *)av)->kicked, true);
}

static const struct accel_ops sm_ops = {
    .name = "fake", .vcpu_run = fake_run, .vcpu_kick = fake_kick};

static void sm_on_stop(struct machine *m)
{
	struct vm *vm = container_of(m, struct vm, m);

	pthread_mutex_lock(&vm->lock);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

static unsigned long total_runs(struct fake_vcpu *fv, unsigned n)
{
	unsigned long t = 0;

	for (unsigned i = 0; i < n; i++)
		t += atomic_load(&fv[i].runs);
	return t;
}

static void test_pause_resume_stop(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct fake_vcpu fv[3];
	const unsigned n = 3;
	unsigned long a, b;

	memset(fv, 0, sizeof(fv));
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->m.accel = &sm_ops;
	vm->m.nr_cpus = n;
	vm->m.on_stop = sm_on_stop;
	for (unsigned i = 0; i < n; i++) {
		vm->vcpus[i] = (struct vcpu){
		    .vm = vm, .m = &vm->m, .index = i, .accel = (struct accel_vcpu *)&fv[i]};
		vm->nr_threads++;
		assert_int_equal(
		    pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]), 0);
		vm->vcpus[i].started = true;
	}
	usleep(20000);
	assert_true(total_runs(fv, n) > 0);

	for (int round = 0; round < 5; round++) {
		assert_int_equal(vm_pause(vm), 0);
		assert_int_equal(vm->nr_paused, n);
		a = total_runs(fv, n);
		usleep(10000);
		b = total_runs(fv, n);
		assert_int_equal(a, b); /* nobody runs while paused */
		assert_int_equal(vm_resume(vm), 0);
		usleep(10000);
		assert_true(total_runs(fv, n) > b);
	}

	/* Stop while paused: threads leave and vm_pause no longer waits for them. */
	assert_int_equal(vm_pause(vm), 0);
	vm_stop(vm, MACHINE_POWEROFF, 0);
	for (unsigned i = 0; i < n; i++)
		pthread_join(vm->vcpus[i].thread, NULL);
	assert_int_equal(vm->nr_threads, 0);
	assert_int_equal(vm->nr_paused, 0);
	assert_int_equal(vm->m.stop_reason, MACHINE_POWEROFF);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

/* With /dev/kvm (skipped otherwise): pause, resume and stop a real spinning guest. */
static void *run_thread(void *arg)
{
	return (void *)(intptr_t)vm_run(arg);
}

static uint64_t guest_counter(struct vm *vm)
{
	volatile uint64_t *p = gmem_ptr(&vm->m.mem, 0x200000, 8);

	return *p;
}

static void test_vm_live_pause(void **state)
{
	/* 1: inc qword [0x200000]; jmp 1b */
	static const uint8_t spin[] = { 0x48, 0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xeb, 0xf6 };
	struct vm_config cfg;
	struct vm *vm;
	char err[256];
	pthread_t t;
	void *ret;
	uint64_t a, b;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		skip();
		return;
	}
	vm_config_default(&cfg);
	cfg.kernel_data = spin;
	cfg.kernel_size = sizeof(spin);
	cfg.format = VM_KERNEL_FLAT;
	cfg.serial = "null";
	cfg.accel = "kvm";
	cfg.mem_mib = 16;
	cfg.cpus = 2;
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), 0);
	assert_int_equal(pthread_create(&t, NULL, run_thread, vm), 0);
	for (int i = 0; i < 200 && guest_counter(vm) == 0; i++)
		usleep(10000);
	assert_true(guest_counter(vm) > 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(vm_pause(vm), 0);
		a = guest_counter(vm);
		usleep(30000);
		b = guest_counter(vm);
		assert_int_equal(a, b); /* the guest does not run while paused */
		assert_int_equal(vm_resume(vm), 0);
		for (int i = 0; i < 200 && guest_counter(vm) == b; i++)
			usleep(5000);
		assert_true(guest_counter(vm) > b);
	}
	vm_stop(vm, MACHINE_DEBUG_EXIT, (7 << 1) | 1);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 15);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_io, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_halt_intr_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shutdown_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error, setup, teardown),
	    cmocka_unit_test(test_exit_status),
	    cmocka_unit_test(test_pause_resume_stop),
	    cmocka_unit_test(test_vm_live_pause),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
