#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/i8042.h"
#include "vm/machine.h"

struct fake_chip {
	bool level[IRQ_NR_GSI];
};

static void chip_set_gsi(void *opaque, unsigned gsi, bool level)
{
	((struct fake_chip *)opaque)->level[gsi] = level;
}

static int chip_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	return 0;
}

static const struct irq_chip_ops chip_ops = { chip_set_gsi, chip_send_msi };

struct env {
	struct machine m;
	struct fake_chip chip;
	struct i8042 *k;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(iobus_init(&e->m.pio, "pio"), 0);
	assert_int_equal(irq_router_init(&e->m.irq), 0);
	irq_router_set_chip(&e->m.irq, &chip_ops, &e->chip);
	assert_int_equal(i8042_create(&e->m, &e->k), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	i8042_destroy(e->k);
	irq_router_fini(&e->m.irq);
	iobus_fini(&e->m.pio);
	free(e);
	return 0;
}

static uint8_t inb(struct env *e, uint16_t port)
{
	uint64_t v;

	assert_true(iobus_read(&e->m.pio, port, 1, &v));
	return (uint8_t)v;
}

static void outb(struct env *e, uint16_t port, uint8_t v)
{
	assert_true(iobus_write(&e->m.pio, port, 1, v));
}

static void test_selftest_and_ctr(void **state)
{
	struct env *e = *state;
	uint8_t ctr;

	assert_int_equal(inb(e, 0x64) & 0x03, 0); /* nothing to read, ready for input */
	outb(e, 0x64, 0xaa);
	assert_int_equal(inb(e, 0x64) & 0x01, 1);
	assert_int_equal(inb(e, 0x60), 0x55);
	assert_int_equal(inb(e, 0x64) & 0x01, 0);
	assert_int_equal(inb(e, 0x64) & 0x04, 0x04); /* system flag */

	outb(e, 0x64, 0x20);
	ctr = inb(e, 0x60);
	assert_int_equal(ctr & 0x20, 0x20); /* aux disabled */
	outb(e, 0x64, 0xa8);
	outb(e, 0x64, 0x20);
	assert_int_equal(inb(e, 0x60) & 0x20, 0);
	outb(e, 0x64, 0x60);
	assert_int_equal(inb(e, 0x64) & 0x08, 0x08); /* last write was a command */
	outb(e, 0x60, 0x74);
	outb(e, 0x64, 0x20);
	assert_int_equal(inb(e, 0x60), 0x74);
	outb(e, 0x64, 0xab);
	assert_int_equal(inb(e, 0x60), 0x00);
	outb(e, 0x64, 0xa9);
	assert_int_equal(inb(e, 0x60), 0x00);
	/* Unknown commands are ignored. */
	outb(e, 0x64, 0x99);
	assert_int_equal(inb(e, 0x64) & 0x01, 0);
}

static void test_no_devices(void **state)
{
	struct env *e = *state;

	/* Keyboard interrupt enabled by default: a NAK with timeout raises GSI 1. */
	outb(e, 0x60, 0xff); /* keyboard reset */
	assert_int_equal(inb(e, 0x64) & 0x41, 0x41);
	assert_true(e->chip.level[I8042_GSI_KBD]);
	assert_int_equal(inb(e, 0x60), 0xfe);
	assert_false(e->chip.level[I8042_GSI_KBD]);
	assert_int_equal(inb(e, 0x64) & 0x41, 0);

	outb(e, 0x64, 0xd4);
	outb(e, 0x60, 0xff); /* mouse reset */
	assert_int_equal(inb(e, 0x64) & 0x61, 0x61);
	assert_false(e->chip.level[I8042_GSI_AUX]); /* aux interrupt not enabled */
	assert_int_equal(inb(e, 0x60), 0xfe);

	/* Loop a byte through the aux output buffer. */
	outb(e, 0x64, 0x60);
	outb(e, 0x60, 0x47); /* enable aux interrupt too */
	outb(e, 0x64, 0xd3);
	outb(e, 0x60, 0x5a);
	assert_int_equal(inb(e, 0x64) & 0x21, 0x21);
	assert_true(e->chip.level[I8042_GSI_AUX]);
	assert_int_equal(inb(e, 0x60), 0x5a);
	assert_false(e->chip.level[I8042_GSI_AUX]);
}

static void test_queue_bounded(void **state)
{
	struct env *e = *state;
	unsigned n = 0;

	for (unsigned i = 0; i < 100; i++)
		outb(e, 0x64, 0xaa);
	while ((inb(e, 0x64) & 1) && n < 1000) {
		inb(e, 0x60);
		n++;
	}
	assert_true(n > 0 && n <= 16);
}

static void test_reset_pulse(void **state)
{
	struct env *e = *state;

	outb(e, 0x64, 0xff); /* pulse nothing */
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RUNNING);
	outb(e, 0x64, 0xfe);
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RESET);
	assert_int_equal(e->m.exit_status, 0);
}

static void test_reset_via_output_port(void **state)
{
	struct env *e = *state;

	outb(e, 0x64, 0xd0);
	assert_int_equal(inb(e, 0x60) & 0x03, 0x03);
	outb(e, 0x64, 0xd1);
	outb(e, 0x60, 0x03); /* reset line stays high */
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RUNNING);
	outb(e, 0x64, 0xd1);
	outb(e, 0x60, 0x02);
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RESET);
}

static void test_linux_reboot_k(void **state)
{
	struct env *e = *state;

	/* kb_wait: input buffer must read empty, then 0xfe to the command port. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(inb(e, 0x64) & 0x02, 0);
		outb(e, 0x64, 0xfe);
	}
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_selftest_and_ctr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_pulse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_via_output_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_reboot_k, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
