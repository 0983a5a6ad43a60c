#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/emu_platform.h"
#include "bus/irq.h"
#include "devices/lapic.h"
#include "vm/machine.h"

static struct machine *new_machine(void)
{
	struct machine *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	assert_int_equal(iobus_init(&m->mmio, "mmio"), 0);
	assert_int_equal(irq_router_init(&m->irq), 0);
	return m;
}

static void free_machine(struct machine *m)
{
	irq_router_fini(&m->irq);
	iobus_fini(&m->mmio);
	free(m);
}

static void test_gsi_reaches_lapic_through_ioapic(void **state)
{
	struct machine *m = new_machine();
	struct emu_platform *p = malloc(sizeof(*p));

	assert_int_equal(emu_platform_init(p, m, 2), 0);
	lapic_mmio_write(p->lapic[1], 0xf0, 0x1ff);
	/* Route GSI 4 to APIC 1, vector 0x24, edge. */
	assert_true(iobus_write(&m->mmio, 0xfec00000, 4, 0x10 + 9));
	assert_true(iobus_write(&m->mmio, 0xfec00010, 4, 1u << 24));
	assert_true(iobus_write(&m->mmio, 0xfec00000, 4, 0x10 + 8));
	assert_true(iobus_write(&m->mmio, 0xfec00010, 4, 0x24));
	irq_pulse(&m->irq, 4);
	assert_int_equal(lapic_pending(p->lapic[1]), 0x24);
	/* MSI through the router. */
	assert_int_equal(irq_send_msi(&m->irq, 0xfee00000, 0x51), 0);
	assert_int_equal(lapic_pending(p->lapic[0]), 0x51);
	emu_platform_fini(p);
	emu_platform_fini(p); /* idempotent */
	free(p);
	free_machine(m);
}

static void test_clock_and_tsc_advance(void **state)
{
	struct machine *m = new_machine();
	struct emu_platform *p = malloc(sizeof(*p));
	uint64_t t0, t1, tsc0, tsc1;

	assert_int_equal(emu_platform_init(p, m, 1), 0);
	t0 = emu_now_ns(p);
	tsc0 = emu_tsc(p);
	emu_wait(p, 0, t0 + 2000000); /* times out after 2 ms */
	t1 = emu_now_ns(p);
	tsc1 = emu_tsc(p);
	assert_true(t1 - t0 >= 2000000);
	assert_true(tsc1 - tsc0 >= 4000000); /* 2 GHz */
	emu_platform_fini(p);
	free(p);
	free_machine(m);
}

struct waker_arg {
	struct emu_platform *p;
};

static void *waker(void *opaque)
{
	struct waker_arg *a = opaque;
	struct timespec ts = { 0, 5000000 };

	nanosleep(&ts, NULL);
	/* An IPI-like delivery wakes the sleeping vCPU 0. */
	lapic_mmio_write(a->p->lapic[1], 0x310, 0);
	lapic_mmio_write(a->p->lapic[1], 0x300, 0x66);
	return NULL;
}

static void test_interrupt_wakes_sleeper(void **state)
{
	struct machine *m = new_machine();
	struct emu_platform *p = malloc(sizeof(*p));
	struct waker_arg a = { p };
	pthread_t t;
	uint64_t t0;

	assert_int_equal(emu_platform_init(p, m, 2), 0);
	lapic_mmio_write(p->lapic[0], 0xf0, 0x1ff);
	t0 = emu_now_ns(p);
	assert_int_equal(pthread_create(&t, NULL, waker, &a), 0);
	emu_wait(p, 0, t0 + 10000000000ull); /* would be 10 s without the wakeup */
	assert_true(emu_now_ns(p) - t0 < 5000000000ull);
	pthread_join(t, NULL);
	assert_int_equal(lapic_pending(p->lapic[0]), 0x66);
	emu_platform_fini(p);
	free(p);
	free_machine(m);
}

static void test_bad_cpu_count(void **state)
{
	struct machine *m = new_machine();
	struct emu_platform *p = malloc(sizeof(*p));

	assert_int_equal(emu_platform_init(p, m, 0), -EINVAL);
	assert_int_equal(emu_platform_init(p, m, APIC_BUS_MAX_CPUS + 1), -EINVAL);
	free(p);
	free_machine(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gsi_reaches_lapic_through_ioapic),
		cmocka_unit_test(test_clock_and_tsc_advance),
		cmocka_unit_test(test_interrupt_wakes_sleeper),
		cmocka_unit_test(test_bad_cpu_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
