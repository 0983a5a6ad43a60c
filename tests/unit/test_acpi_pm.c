/* Hardware-reduced ACPI registers driven through the port I/O bus. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "vm/machine.h"

#define PORT LAYOUT_PORT_ACPI

struct fixture {
	struct machine m;
	struct acpi_pm *pm;
};

static int setup(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	assert_int_equal(iobus_init(&fx.m.pio, "pio"), 0);
	assert_int_equal(irq_router_init(&fx.m.irq), 0);
	fx.m.nr_cpus = 1;
	assert_int_equal(acpi_pm_create(&fx.m, PORT, &fx.pm), 0);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	acpi_pm_destroy(fx->pm);
	irq_router_fini(&fx->m.irq);
	iobus_fini(&fx->m.pio);
	return 0;
}

static uint64_t rd(struct fixture *fx, unsigned off, unsigned size)
{
	uint64_t v;

	assert_true(iobus_read(&fx->m.pio, PORT + off, size, &v));
	return v;
}

static void wr(struct fixture *fx, unsigned off, unsigned size, uint64_t v)
{
	assert_true(iobus_write(&fx->m.pio, PORT + off, size, v));
}

static void test_s5_powers_off(void **state)
{
	struct fixture *fx = *state;

	/* Linux clears WAK_STS, then writes SLP_TYP|SLP_EN. */
	wr(fx, ACPI_PM_SLEEP_STATUS, 1, ACPI_PM_WAK_STS);
	/* SLP_TYP without SLP_EN does nothing */
	wr(fx, ACPI_PM_SLEEP_CONTROL, 1, ACPI_PM_SLP_TYP_S5 << ACPI_PM_SLP_TYP_SHIFT);
	assert_int_equal(fx->m.stop_reason, MACHINE_RUNNING);
	/* Another sleep type with SLP_EN is ignored */
	wr(fx, ACPI_PM_SLEEP_CONTROL, 1, ACPI_PM_SLP_EN | (3 << ACPI_PM_SLP_TYP_SHIFT));
	assert_int_equal(fx->m.stop_reason, MACHINE_RUNNING);
	wr(fx, ACPI_PM_SLEEP_CONTROL, 1,
	   ACPI_PM_SLP_EN | (ACPI_PM_SLP_TYP_S5 << ACPI_PM_SLP_TYP_SHIFT));
	assert_int_equal(fx->m.stop_reason, MACHINE_POWEROFF);
	assert_int_equal(fx->m.exit_status, 0);
}

static void test_reset_value(void **state)
{
	struct fixture *fx = *state;

	wr(fx, ACPI_PM_RESET, 1, ACPI_PM_RESET_VALUE ^ 1);
	wr(fx, ACPI_PM_RESET, 1, 0);
	assert_int_equal(fx->m.stop_reason, MACHINE_RUNNING);
	assert_int_equal(rd(fx, ACPI_PM_RESET, 1), 0);
	wr(fx, ACPI_PM_RESET, 1, ACPI_PM_RESET_VALUE);
	assert_int_equal(fx->m.stop_reason, MACHINE_RESET);
}

static void test_power_button_event(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(rd(fx, ACPI_PM_GED_EVENT, 1), 0);
	assert_int_equal(acpi_pm_press_power_button(fx->pm), 0);
	assert_true(fx->m.irq.level & (1u << ACPI_PM_GED_GSI));
	assert_int_equal(fx->m.irq.raised[ACPI_PM_GED_GSI], 1);
	/* Writes to the event register do not clear it */
	wr(fx, ACPI_PM_GED_EVENT, 1, 0xff);
	assert_true(fx->m.irq.level & (1u << ACPI_PM_GED_GSI));
	/* Reading returns the event once and lowers the level-triggered line */
	assert_int_equal(rd(fx, ACPI_PM_GED_EVENT, 1), ACPI_PM_GED_PWR_BUTTON);
	assert_false(fx->m.irq.level & (1u << ACPI_PM_GED_GSI));
	assert_int_equal(rd(fx, ACPI_PM_GED_EVENT, 1), 0);
	/* Two presses before the guest reads coalesce into one event */
	acpi_pm_press_power_button(fx->pm);
	acpi_pm_press_power_button(fx->pm);
	assert_int_equal(rd(fx, ACPI_PM_GED_EVENT, 1), ACPI_PM_GED_PWR_BUTTON);
	assert_int_equal(rd(fx, ACPI_PM_GED_EVENT, 1), 0);
	assert_int_equal(fx->m.stop_reason, MACHINE_RUNNING);
	assert_int_equal(acpi_pm_press_power_button(NULL), -EINVAL);
}

static void test_wide_and_outside_accesses(void **state)
{
	struct fixture *fx = *state;
	uint64_t v;

	/* A 16-bit write splits into bytes: control gets the low byte (no SLP_EN here). */
	wr(fx, ACPI_PM_SLEEP_CONTROL, 2, 0x8014);
	assert_int_equal(fx->m.stop_reason, MACHINE_RUNNING);
	acpi_pm_press_power_button(fx->pm);
	/* A 32-bit read covers all four registers; the event byte is the top one. */
	v = rd(fx, 0, 4);
	assert_int_equal(v >> 24, ACPI_PM_GED_PWR_BUTTON);
	/* Just past the block is not ours */
	assert_false(iobus_read(&fx->m.pio, PORT + ACPI_PM_SIZE, 1, &v));
	assert_int_equal(v, 0xff);
}

static void test_create_errors(void **state)
{
	struct fixture *fx = *state;
	struct acpi_pm *other = NULL;

	/* Same ports twice: the bus refuses the overlap. */
	assert_int_equal(acpi_pm_create(&fx->m, PORT + 2, &other), -EEXIST);
	assert_null(other);
	assert_int_equal(acpi_pm_create(&fx->m, 0xfffe, &other), -EINVAL);
	assert_int_equal(acpi_pm_create(NULL, PORT, &other), -EINVAL);
	acpi_pm_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_s5_powers_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_button_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wide_and_outside_accesses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
