#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/debug_exit.h"
#include "vm/machine.h"

struct env {
	struct machine m;
	struct debug_exit *d;
	int stops;
};

static void on_stop(struct machine *m)
{
	struct env *e = (struct env *)m; /* m is the first member */

	e->stops++;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(iobus_init(&e->m.pio, "pio"), 0);
	assert_int_equal(irq_router_init(&e->m.irq), 0);
	e->m.on_stop = on_stop;
	assert_int_equal(debug_exit_create(&e->m, 0xf4, &e->d), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	debug_exit_destroy(e->d);
	irq_router_fini(&e->m.irq);
	iobus_fini(&e->m.pio);
	free(e);
	return 0;
}

static void rearm(struct env *e)
{
	atomic_store(&e->m.stop_reason, MACHINE_RUNNING);
}

static void test_byte_values(void **state)
{
	struct env *e = *state;
	uint64_t v;

	assert_true(iobus_read(&e->m.pio, 0xf4, 1, &v));
	assert_int_equal(v, 0);
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RUNNING);

	assert_true(iobus_write(&e->m.pio, 0xf4, 1, 0));
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_DEBUG_EXIT);
	assert_int_equal(e->m.exit_status, 1);
	assert_int_equal(e->stops, 1);
	/* The first stop wins. */
	assert_true(iobus_write(&e->m.pio, 0xf4, 1, 5));
	assert_int_equal(e->m.exit_status, 1);

	rearm(e);
	assert_true(iobus_write(&e->m.pio, 0xf4, 1, 0x10));
	assert_int_equal(e->m.exit_status, 0x21);
	rearm(e);
	assert_true(iobus_write(&e->m.pio, 0xf4, 1, 0xff));
	assert_int_equal(e->m.exit_status, 0x1ff); /* the shell sees 0x1ff % 256 = 255 */
	assert_int_equal(e->m.exit_status & 0xff, 0xff);
}

static void test_wider_values(void **state)
{
	struct env *e = *state;

	assert_true(iobus_write(&e->m.pio, 0xf4, 2, 0x1234));
	assert_int_equal(e->m.exit_status, 0x2469);
	rearm(e);
	assert_true(iobus_write(&e->m.pio, 0xf4, 4, 0x40000000));
	assert_int_equal(e->m.exit_status, (int)0x80000001u);
	rearm(e);
	/* The value is truncated to the access width by the bus. */
	assert_true(iobus_write(&e->m.pio, 0xf4, 1, 0x1203));
	assert_int_equal(e->m.exit_status, 7);
	rearm(e);
	assert_true(iobus_write(&e->m.pio, 0xf4, 4, 0xffffffff));
	assert_int_equal((unsigned)e->m.exit_status, 0xffffffffu);
}

static void test_other_ports_ignored(void **state)
{
	struct env *e = *state;

	assert_true(iobus_write(&e->m.pio, 0xf5, 1, 3));
	assert_true(iobus_write(&e->m.pio, 0xf6, 2, 3));
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RUNNING);
	/* Past the range: not ours. */
	assert_false(iobus_write(&e->m.pio, 0xf8, 1, 3));
	/* A dword at 0xf5 would cross the end: dropped. */
	assert_true(iobus_write(&e->m.pio, 0xf5, 4, 3));
	assert_int_equal(atomic_load(&e->m.stop_reason), MACHINE_RUNNING);
}

static void test_create_errors(void **state)
{
	struct env *e = *state;
	struct debug_exit *d;

	assert_int_equal(debug_exit_create(&e->m, 0xf6, &d), -EEXIST);
	assert_null(d);
	assert_int_equal(debug_exit_create(&e->m, 0xfffe, &d), -EINVAL);
	assert_int_equal(debug_exit_create(&e->m, 0x501, &d), 0);
	assert_true(iobus_write(&e->m.pio, 0x501, 1, 1));
	assert_int_equal(e->m.exit_status, 3);
	debug_exit_destroy(d);
	debug_exit_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_byte_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wider_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_ports_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
