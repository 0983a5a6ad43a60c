#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/rtc.h"
#include "vm/machine.h"

struct fake_chip {
	atomic_bool level[IRQ_NR_GSI];
};

static void chip_set_gsi(void *opaque, unsigned gsi, bool level)
{
	atomic_store(&((struct fake_chip *)opaque)->level[gsi], level);
}

static int chip_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	return 0;
}

static const struct irq_chip_ops chip_ops = { chip_set_gsi, chip_send_msi };

struct env {
	struct machine m;
	struct fake_chip chip;
	struct rtc *r;
	int64_t now;
};

static int64_t fake_now(void *opaque)
{
	return ((struct env *)opaque)->now;
}

/* 2026-11-25 21:05:07 UTC, a Wednesday */
static int64_t when(int sec_frac_ms)
{
	struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 25, .tm_hour = 21,
			 .tm_min = 5, .tm_sec = 7 };

	return (int64_t)timegm(&tm) * 1000000000ll + (int64_t)sec_frac_ms * 1000000ll;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(iobus_init(&e->m.pio, "pio"), 0);
	assert_int_equal(irq_router_init(&e->m.irq), 0);
	irq_router_set_chip(&e->m.irq, &chip_ops, &e->chip);
	assert_int_equal(rtc_create(&e->m, &e->r), 0);
	e->now = when(500);
	rtc_set_clock(e->r, fake_now, e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	rtc_destroy(e->r);
	irq_router_fini(&e->m.irq);
	iobus_fini(&e->m.pio);
	free(e);
	return 0;
}

static uint8_t cmos_read(struct env *e, uint8_t idx)
{
	uint64_t v;

	assert_true(iobus_write(&e->m.pio, 0x70, 1, idx));
	assert_true(iobus_read(&e->m.pio, 0x71, 1, &v));
	return (uint8_t)v;
}

static void cmos_write(struct env *e, uint8_t idx, uint8_t val)
{
	assert_true(iobus_write(&e->m.pio, 0x70, 1, idx));
	assert_true(iobus_write(&e->m.pio, 0x71, 1, val));
}

static void test_bcd_time(void **state)
{
	struct env *e = *state;

	assert_int_equal(cmos_read(e, 0x00), 0x07);
	assert_int_equal(cmos_read(e, 0x02), 0x05);
	assert_int_equal(cmos_read(e, 0x04), 0x21);
	assert_int_equal(cmos_read(e, 0x06), 0x04); /* Wednesday, Sunday = 1 */
	assert_int_equal(cmos_read(e, 0x07), 0x25);
	assert_int_equal(cmos_read(e, 0x08), 0x11);
	assert_int_equal(cmos_read(e, 0x09), 0x26);
	assert_int_equal(cmos_read(e, 0x32), 0x20);
	assert_int_equal(cmos_read(e, 0x0d), 0x80);
	e->now += 60 * 1000000000ll;
	assert_int_equal(cmos_read(e, 0x02), 0x06);
}

static void test_binary_and_12h(void **state)
{
	struct env *e = *state;

	cmos_write(e, 0x0b, 0x06); /* binary, 24h */
	assert_int_equal(cmos_read(e, 0x04), 21);
	assert_int_equal(cmos_read(e, 0x09), 26);
	assert_int_equal(cmos_read(e, 0x32), 20);
	cmos_write(e, 0x0b, 0x04); /* binary, 12h */
	assert_int_equal(cmos_read(e, 0x04), 0x80 | 9);
	cmos_write(e, 0x0b, 0x00); /* BCD, 12h */
	assert_int_equal(cmos_read(e, 0x04), 0x89);
	e->now = when(0) - 21 * 3600 * 1000000000ll; /* midnight: 12 AM */
	assert_int_equal(cmos_read(e, 0x04), 0x12);
	e->now += 12 * 3600 * 1000000000ll; /* noon: 12 PM */
	assert_int_equal(cmos_read(e, 0x04), 0x92);
}

static void test_nmi_bit(void **state)
{
	struct env *e = *state;

	assert_false(rtc_nmi_masked(e->r));
	assert_int_equal(cmos_read(e, 0x80 | 0x0b), 0x02); /* index bits still select B */
	assert_true(rtc_nmi_masked(e->r));
	cmos_read(e, 0x0b);
	assert_false(rtc_nmi_masked(e->r));
}

static void test_uip(void **state)
{
	struct env *e = *state;

	assert_int_equal(cmos_read(e, 0x0a) & 0x80, 0);
	e->now = when(999) + 900000; /* 100 us before the update */
	assert_int_equal(cmos_read(e, 0x0a) & 0x80, 0x80);
	e->now = when(1000);
	assert_int_equal(cmos_read(e, 0x0a) & 0x80, 0);
	/* Writes cannot set UIP. */
	cmos_write(e, 0x0a, 0xa6);
	assert_int_equal(cmos_read(e, 0x0a), 0x26);
	/* No updates while SET. */
	cmos_write(e, 0x0b, 0x82);
	e->now = when(999) + 900000;
	assert_int_equal(cmos_read(e, 0x0a) & 0x80, 0);
}

static void test_set_time(void **state)
{
	struct env *e = *state;

	cmos_write(e, 0x0b, 0x82); /* SET */
	e->now += 5 * 1000000000ll;
	assert_int_equal(cmos_read(e, 0x00), 0x07); /* frozen */
	cmos_write(e, 0x09, 0x30);
	cmos_write(e, 0x32, 0x21);
	cmos_write(e, 0x04, 0x23);
	cmos_write(e, 0x0b, 0x02); /* run */
	assert_int_equal(cmos_read(e, 0x09), 0x30);
	assert_int_equal(cmos_read(e, 0x32), 0x21);
	assert_int_equal(cmos_read(e, 0x04), 0x23);
	assert_int_equal(cmos_read(e, 0x00), 0x07);
	e->now += 1000000000ll;
	assert_int_equal(cmos_read(e, 0x00), 0x08);
	/* A write while running moves the clock too. */
	cmos_write(e, 0x02, 0x59);
	assert_int_equal(cmos_read(e, 0x02), 0x59);
	assert_int_equal(cmos_read(e, 0x09), 0x30);
	/* Garbage BCD from the guest must not break anything. */
	cmos_write(e, 0x0b, 0x82);
	cmos_write(e, 0x08, 0xff);
	cmos_write(e, 0x07, 0x00);
	cmos_write(e, 0x0b, 0x02);
	cmos_read(e, 0x08);
}

static void test_cmos_memory(void **state)
{
	struct env *e = *state;

	cmos_write(e, 0x40, 0xab);
	assert_int_equal(cmos_read(e, 0x40), 0xab);
	cmos_write(e, 0x7f, 0x11);
	assert_int_equal(cmos_read(e, 0xff), 0x11); /* index bit 7 is the NMI mask */
	cmos_write(e, 0x0d, 0x00);
	assert_int_equal(cmos_read(e, 0x0d), 0x80); /* read-only */
	assert_int_equal(rtc_cmos_set(e->r, 0x34, 0x42), 0);
	assert_int_equal(cmos_read(e, 0x34), 0x42);
	assert_int_equal(rtc_cmos_set(e->r, 0x0b, 0), -EINVAL);
	assert_int_equal(rtc_cmos_set(e->r, 0x32, 0), -EINVAL);
	assert_int_equal(rtc_cmos_set(e->r, 0x80, 0), -EINVAL);
}

static void test_update_and_alarm_flags(void **state)
{
	struct env *e = *state;

	cmos_read(e, 0x0c);
	assert_int_equal(cmos_read(e, 0x0c), 0);
	cmos_write(e, 0x01, 0x09); /* alarm at hh:mm:09 */
	cmos_write(e, 0x03, 0xc0);
	cmos_write(e, 0x05, 0xff);
	e->now += 1000000000ll; /* :08 */
	/* PF is set too (1024 Hz rate), with PIE off it does not raise IRQF. */
	assert_int_equal(cmos_read(e, 0x0c), 0x40 | 0x10);
	cmos_write(e, 0x0b, 0x02 | 0x20 | 0x10); /* AIE, UIE */
	e->now += 1000000000ll; /* :09 */
	assert_int_equal(cmos_read(e, 0x0c), 0x80 | 0x40 | 0x20 | 0x10);
	assert_int_equal(cmos_read(e, 0x0c), 0);
	e->now += 1000000000ll; /* :10, no alarm */
	assert_int_equal(cmos_read(e, 0x0c), 0x80 | 0x40 | 0x10);
	cmos_write(e, 0x0b, 0x02);
}

static void test_periodic_flag(void **state)
{
	struct env *e = *state;

	cmos_write(e, 0x0a, 0x26); /* 1024 Hz */
	cmos_read(e, 0x0c);
	e->now += 2000000; /* 2 ms */
	assert_int_equal(cmos_read(e, 0x0c) & 0x40, 0x40);
	assert_int_equal(cmos_read(e, 0x0c) & 0x40, 0);
	cmos_write(e, 0x0a, 0x20); /* rate 0: off */
	e->now += 2000000;
	assert_int_equal(cmos_read(e, 0x0c) & 0x40, 0);
}

static void test_update_interrupt_real_clock(void **state)
{
	struct env *e = *state;
	int waited = 0;

	rtc_set_clock(e->r, NULL, NULL);
	cmos_read(e, 0x0c);
	assert_false(atomic_load(&e->chip.level[RTC_GSI]));
	cmos_write(e, 0x0b, 0x02 | 0x10); /* UIE */
	while (!atomic_load(&e->chip.level[RTC_GSI]) && waited < 1500) {
		usleep(10000);
		waited += 10;
	}
	assert_true(atomic_load(&e->chip.level[RTC_GSI]));
	assert_int_equal(cmos_read(e, 0x0c) & 0x90, 0x90);
	assert_false(atomic_load(&e->chip.level[RTC_GSI]));
	cmos_write(e, 0x0b, 0x02);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nmi_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmos_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_alarm_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_interrupt_real_clock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
