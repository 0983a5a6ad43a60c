#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bus/irq.h"

struct fake_chip {
	int gsi_calls;
	unsigned last_gsi;
	bool last_level;
	int msis;
	uint32_t last_data;
};

static void chip_set_gsi(void *opaque, unsigned gsi, bool level)
{
	struct fake_chip *c = opaque;
	c->gsi_calls++;
	c->last_gsi = gsi;
	c->last_level = level;
}

static int chip_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct fake_chip *c = opaque;
	c->msis++;
	c->last_data = data;
	return 0;
}

static const struct irq_chip_ops chip_ops = { chip_set_gsi, chip_send_msi };

static void test_levels_and_pulses(void **state)
{
	struct irq_router r;
	struct fake_chip c = { 0 };

	assert_int_equal(irq_router_init(&r), 0);
	irq_set_level(&r, 4, true); /* no chip yet: only recorded */
	assert_int_equal(r.level, 1u << 4);
	irq_router_set_chip(&r, &chip_ops, &c);
	irq_set_level(&r, 4, false);
	assert_int_equal(c.gsi_calls, 1);
	assert_false(c.last_level);
	irq_pulse(&r, 8);
	assert_int_equal(c.gsi_calls, 3);
	assert_int_equal(c.last_gsi, 8);
	assert_false(c.last_level);
	assert_int_equal(r.raised[8], 1);
	assert_int_equal(r.level, 0);
	irq_set_level(&r, IRQ_NR_GSI, true); /* out of range: ignored */
	assert_int_equal(c.gsi_calls, 3);
	irq_router_fini(&r);
}

static void test_msi_address_checked(void **state)
{
	struct irq_router r;
	struct fake_chip c = { 0 };

	assert_int_equal(irq_router_init(&r), 0);
	irq_router_set_chip(&r, &chip_ops, &c);
	assert_int_equal(irq_send_msi(&r, 0xfee00000, 0x4041), 0);
	assert_int_equal(c.msis, 1);
	assert_int_equal(c.last_data, 0x4041);
	assert_int_equal(irq_send_msi(&r, 0xfec00000, 1), -EINVAL);
	assert_int_equal(irq_send_msi(&r, 0x1fee00000ull, 1), -EINVAL);
	assert_int_equal(c.msis, 1);
	irq_router_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels_and_pulses),
		cmocka_unit_test(test_msi_address_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
