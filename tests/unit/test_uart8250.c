#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/chardev.h"
#include "devices/uart8250.h"
#include "vm/machine.h"

#define BASE 0x3f8
#define GSI 4

struct fake_chip {
	bool level[IRQ_NR_GSI];
	int changes[IRQ_NR_GSI];
};

static void chip_set_gsi(void *opaque, unsigned gsi, bool level)
{
	struct fake_chip *c = opaque;

	c->level[gsi] = level;
	c->changes[gsi]++;
}

static int chip_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	return 0;
}

static const struct irq_chip_ops chip_ops = { chip_set_gsi, chip_send_msi };

struct env {
	struct machine m;
	struct fake_chip chip;
	struct chardev *cd;
	struct uart8250 *u;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(iobus_init(&e->m.pio, "pio"), 0);
	assert_int_equal(iobus_init(&e->m.mmio, "mmio"), 0);
	assert_int_equal(irq_router_init(&e->m.irq), 0);
	irq_router_set_chip(&e->m.irq, &chip_ops, &e->chip);
	e->cd = chardev_memory_new();
	assert_non_null(e->cd);
	assert_int_equal(uart8250_create(&e->m, BASE, GSI, e->cd, &e->u), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	uart8250_destroy(e->u);
	chardev_close(e->cd);
	irq_router_fini(&e->m.irq);
	iobus_fini(&e->m.pio);
	iobus_fini(&e->m.mmio);
	free(e);
	return 0;
}

static uint8_t in8(struct env *e, unsigned reg)
{
	uint64_t v;

	assert_true(iobus_read(&e->m.pio, BASE + reg, 1, &v));
	return (uint8_t)v;
}

static void out8(struct env *e, unsigned reg, uint8_t v)
{
	assert_true(iobus_write(&e->m.pio, BASE + reg, 1, v));
}

static void test_thr_to_chardev(void **state)
{
	struct env *e = *state;
	const uint8_t *data;
	size_t len;

	out8(e, 0, 'h');
	out8(e, 0, 'i');
	data = chardev_memory_data(e->cd, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(data, "hi", 2);
	/* Transmitter always empty again: THRE and TEMT. */
	assert_int_equal(in8(e, 5) & 0x60, 0x60);
}

static void test_thre_interrupt(void **state)
{
	struct env *e = *state;

	out8(e, 4, 0x08); /* OUT2: connect the interrupt to the PIC */
	assert_false(e->chip.level[GSI]);
	out8(e, 1, 0x02); /* enable THRE interrupt: THR is empty, so it fires */
	assert_true(e->chip.level[GSI]);
	assert_int_equal(in8(e, 2) & 0x0f, 0x02);
	/* Reading IIR acknowledged it. */
	assert_false(e->chip.level[GSI]);
	assert_int_equal(in8(e, 2) & 0x0f, 0x01);
	/* Transmitting a byte makes THR empty again: pending anew. */
	out8(e, 0, 'x');
	assert_true(e->chip.level[GSI]);
	/* Without OUT2 the line is gated off. */
	out8(e, 4, 0x00);
	assert_false(e->chip.level[GSI]);
	assert_int_equal(in8(e, 2) & 0x0f, 0x02); /* still pending inside */
	out8(e, 1, 0x00);
}

static void test_rx_fifo_trigger(void **state)
{
	struct env *e = *state;
	uint8_t buf[20];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)('a' + i);
	out8(e, 4, 0x08);
	out8(e, 2, 0x81); /* FIFO on, trigger level 8 */
	assert_int_equal(in8(e, 2) & 0xc0, 0xc0);
	out8(e, 1, 0x05); /* RX data and line status interrupts */
	assert_false(e->chip.level[GSI]);

	chardev_inject_input(e->cd, buf, 3);
	assert_true(e->chip.level[GSI]);
	assert_int_equal(in8(e, 2) & 0x0f, 0x0c); /* below trigger: timeout */
	chardev_inject_input(e->cd, buf + 3, 5);
	assert_int_equal(in8(e, 2) & 0x0f, 0x04); /* 8 bytes: trigger reached */
	/* 12 more: 8 fill the FIFO, 4 wait on the line; nothing is lost. */
	chardev_inject_input(e->cd, buf + 8, 12);
	assert_int_equal(in8(e, 5) & 0x03, 0x01); /* DR, no overrun */
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(in8(e, 5) & 0x01, 0x01);
		assert_int_equal(in8(e, 0), 'a' + i);
	}
	assert_int_equal(in8(e, 5) & 0x01, 0);
	assert_false(e->chip.level[GSI]);
	assert_int_equal(in8(e, 2) & 0x0f, 0x01);
}

static void test_rx_overrun(void **state)
{
	struct env *e = *state;
	static uint8_t big[5000];
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	out8(e, 4, 0x08);
	out8(e, 2, 0xc1); /* FIFO on, trigger 14 */
	out8(e, 1, 0x05);
	/* A guest that does not read: FIFO and line buffer fill, the rest is dropped. */
	chardev_inject_input(e->cd, big, sizeof(big));
	assert_int_equal(in8(e, 2) & 0x0f, 0x06); /* line status outranks data */
	assert_int_equal(in8(e, 5) & 0x03, 0x03); /* DR and OE */
	assert_int_equal(in8(e, 5) & 0x02, 0x00); /* OE cleared by the read */
	assert_int_equal(in8(e, 2) & 0x0f, 0x04);
	while ((in8(e, 5) & 1) && n < sizeof(big)) {
		assert_int_equal(in8(e, 0), (uint8_t)n);
		n++;
	}
	assert_int_equal(n, 16 + 4096);
	assert_false(e->chip.level[GSI]);
}

/* Loopback bytes go straight into the FIFO and overrun it, as Linux's FIFO sizing expects. */
static void test_loopback_fifo_size(void **state)
{
	struct env *e = *state;
	unsigned n = 0;

	out8(e, 2, 0x07);
	out8(e, 4, 0x10);
	for (unsigned i = 0; i < 256; i++)
		out8(e, 0, (uint8_t)i);
	assert_int_equal(in8(e, 5) & 0x02, 0x02);
	while ((in8(e, 5) & 1) && n < 256) {
		in8(e, 0);
		n++;
	}
	assert_int_equal(n, 16);
	out8(e, 4, 0);
}

static void test_no_fifo_one_byte(void **state)
{
	struct env *e = *state;

	chardev_inject_input(e->cd, (const uint8_t *)"xy", 2);
	assert_int_equal(in8(e, 5) & 0x03, 0x01); /* one byte held, one on the line */
	assert_int_equal(in8(e, 0), 'x');
	assert_int_equal(in8(e, 5) & 0x01, 0x01);
	assert_int_equal(in8(e, 0), 'y');
	assert_int_equal(in8(e, 5) & 0x01, 0);
}

static void test_fcr_clears_rx(void **state)
{
	struct env *e = *state;

	out8(e, 2, 0x01);
	chardev_inject_input(e->cd, (const uint8_t *)"abc", 3);
	assert_int_equal(in8(e, 5) & 1, 1);
	out8(e, 2, 0x03);
	assert_int_equal(in8(e, 5) & 1, 0);
}

static void test_divisor_latch(void **state)
{
	struct env *e = *state;

	out8(e, 1, 0x0f);
	out8(e, 3, 0x83); /* DLAB */
	out8(e, 0, 0x01);
	out8(e, 1, 0x00); /* 115200 baud */
	assert_int_equal(in8(e, 0), 0x01);
	assert_int_equal(in8(e, 1), 0x00);
	out8(e, 3, 0x03);
	assert_int_equal(in8(e, 1), 0x0f); /* IER untouched by divisor writes */
	assert_int_equal(in8(e, 3), 0x03);
	/* A divisor write is not output. */
	size_t len;
	chardev_memory_data(e->cd, &len);
	assert_int_equal(len, 0);
	out8(e, 1, 0x00);
}

static void test_loopback(void **state)
{
	struct env *e = *state;
	size_t len;

	out8(e, 2, 0x01);
	out8(e, 4, 0x10 | 0x0a); /* loop, OUT2, RTS */
	assert_int_equal(in8(e, 6) & 0xf0, 0x90); /* DCD, CTS */
	out8(e, 0, 0x5a);
	assert_int_equal(in8(e, 5) & 1, 1);
	assert_int_equal(in8(e, 0), 0x5a);
	chardev_memory_data(e->cd, &len);
	assert_int_equal(len, 0); /* nothing left for the line */
	/* The line's input is disconnected in loopback mode. */
	chardev_inject_input(e->cd, (const uint8_t *)"q", 1);
	assert_int_equal(in8(e, 5) & 1, 0);
	/* Modem status deltas from toggling loopback lines. */
	in8(e, 6);
	out8(e, 4, 0x10 | 0x01); /* DTR on, RTS and OUT2 off */
	assert_int_equal(in8(e, 6), 0x20 | 0x01 | 0x02 | 0x08);
	assert_int_equal(in8(e, 6) & 0x0f, 0);
	out8(e, 4, 0x00);
	assert_int_equal(in8(e, 6) & 0xf0, 0xb0); /* connected modem */
}

static void test_modem_status_interrupt(void **state)
{
	struct env *e = *state;

	out8(e, 4, 0x18);
	in8(e, 6);
	out8(e, 1, 0x08);
	out8(e, 4, 0x1a); /* RTS -> CTS changes in loopback */
	assert_int_equal(in8(e, 2) & 0x0f, 0x00);
	in8(e, 6);
	assert_int_equal(in8(e, 2) & 0x0f, 0x01);
	out8(e, 1, 0);
	out8(e, 4, 0);
}

/* The probe sequence of Linux's 8250 driver (autoconfig) for a 16550A. */
static void test_linux_16550a_probe(void **state)
{
	struct env *e = *state;
	uint8_t save_mcr, save_lcr, status1, scratch;

	/* IER test. */
	out8(e, 1, 0);
	assert_int_equal(in8(e, 1) & 0x0f, 0);
	out8(e, 1, 0x0f);
	assert_int_equal(in8(e, 1) & 0x0f, 0x0f);
	out8(e, 1, 0);
	/* Loopback test. */
	save_mcr = in8(e, 4);
	save_lcr = in8(e, 3);
	out8(e, 4, 0x10 | 0x0a);
	status1 = in8(e, 6) & 0xf0;
	out8(e, 4, save_mcr);
	assert_int_equal(status1, 0x90);
	/* EFR probe must not find one; then FIFO probe via IIR. */
	out8(e, 3, 0xbf);
	out8(e, 2, 0);
	out8(e, 3, 0);
	out8(e, 2, 0x01);
	scratch = in8(e, 2) >> 6;
	assert_int_equal(scratch, 3); /* 16550A (not 16550 with broken FIFO) */
	/* autoconfig_16550a: no EFR at LCR 0x80 / 0xbf. */
	out8(e, 3, 0x80);
	assert_int_not_equal(in8(e, 2), 0);
	out8(e, 3, 0xbf);
	assert_int_not_equal(in8(e, 2), 0);
	out8(e, 3, 0);
	/* UUE bit (XScale) does not stick. */
	out8(e, 1, 0x40);
	assert_int_equal(in8(e, 1) & 0x40, 0);
	out8(e, 1, 0);
	/* Scratch register holds a value. */
	out8(e, 7, 0xa5);
	assert_int_equal(in8(e, 7), 0xa5);
	/* 16750 test: IIR bit 5 stays clear with FCR bit 5 written. */
	out8(e, 2, 0x21);
	assert_int_equal(in8(e, 2) & 0x20, 0);
	out8(e, 3, save_lcr);
	/* LSR safety check at startup. */
	assert_int_not_equal(in8(e, 5), 0xff);
	/* THRE re-assert test: enabling THRI with an idle transmitter raises it. */
	out8(e, 1, 0x02);
	assert_int_equal(in8(e, 5) & 0x40, 0x40);
	assert_int_equal(in8(e, 2) & 0x01, 0);
	out8(e, 1, 0);
}

static void test_word_access_splits(void **state)
{
	struct env *e = *state;
	uint64_t v;

	/* outw to base+6 writes MSR (ignored) then SCR. */
	assert_true(iobus_write(&e->m.pio, BASE + 6, 2, 0x3300));
	assert_int_equal(in8(e, 7), 0x33);
	assert_true(iobus_read(&e->m.pio, BASE + 7, 1, &v));
	/* An access past the last port is dropped. */
	assert_true(iobus_read(&e->m.pio, BASE + 7, 2, &v));
	assert_int_equal(v, 0xffff);
}

static void test_create_errors(void **state)
{
	struct env *e = *state;
	struct uart8250 *u2;

	assert_int_equal(uart8250_create(&e->m, BASE + 4, GSI, NULL, &u2), -EEXIST);
	assert_null(u2);
	assert_int_equal(uart8250_create(&e->m, 0x2f8, IRQ_NR_GSI, NULL, &u2), -EINVAL);
	assert_int_equal(uart8250_create(&e->m, 0xfffc, 3, NULL, &u2), -EINVAL);
	assert_int_equal(uart8250_create(&e->m, 0x2f8, 3, NULL, &u2), 0);
	uart8250_destroy(u2);
	uart8250_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thr_to_chardev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_fifo_trigger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_overrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_fifo_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fifo_one_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcr_clears_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_16550a_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_word_access_splits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
