#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/apic_bus.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "vm/machine.h"

#define TSC_HZ 2000000000ull

struct rig {
	struct machine m;
	struct apic_bus bus;
	struct lapic *cpu[2];
	struct ioapic *io;
	uint64_t now;
	unsigned wakes[2];
};

static uint64_t fake_now(void *opaque)
{
	return ((struct rig *)opaque)->now;
}

static void fake_wake(void *opaque, unsigned cpu)
{
	((struct rig *)opaque)->wakes[cpu]++;
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(iobus_init(&r->m.mmio, "mmio"), 0);
	r->bus.now_ns = fake_now;
	r->bus.clock_opaque = r;
	r->bus.wake = fake_wake;
	r->bus.wake_opaque = r;
	r->now = 1000;
	assert_int_equal(lapic_create(&r->bus, 0, TSC_HZ, &r->cpu[0]), 0);
	assert_int_equal(lapic_create(&r->bus, 1, TSC_HZ, &r->cpu[1]), 0);
	assert_int_equal(ioapic_create(&r->m, &r->bus, 0xfec00000, &r->io), 0);
	/* Software-enable both APICs (SVR bit 8, spurious vector 0xff). */
	lapic_mmio_write(r->cpu[0], 0xf0, 0x1ff);
	lapic_mmio_write(r->cpu[1], 0xf0, 0x1ff);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	ioapic_destroy(r->io);
	lapic_destroy(r->cpu[0]);
	lapic_destroy(r->cpu[1]);
	iobus_fini(&r->m.mmio);
	free(r);
	return 0;
}

static void ioapic_write_reg(struct rig *r, uint8_t reg, uint32_t v)
{
	assert_true(iobus_write(&r->m.mmio, 0xfec00000, 4, reg));
	assert_true(iobus_write(&r->m.mmio, 0xfec00010, 4, v));
}

static uint32_t ioapic_read_reg(struct rig *r, uint8_t reg)
{
	uint64_t v;

	assert_true(iobus_write(&r->m.mmio, 0xfec00000, 4, reg));
	assert_true(iobus_read(&r->m.mmio, 0xfec00010, 4, &v));
	return (uint32_t)v;
}

static void test_ids_and_version(void **state)
{
	struct rig *r = *state;

	assert_int_equal(lapic_mmio_read(r->cpu[1], 0x20), 1u << 24);
	assert_int_equal(lapic_mmio_read(r->cpu[0], 0x30) & 0xff, 0x14);
	assert_true(lapic_get_base(r->cpu[0]) & LAPIC_BASE_BSP);
	assert_false(lapic_get_base(r->cpu[1]) & LAPIC_BASE_BSP);
	assert_int_equal(ioapic_read_reg(r, 1), 0x20 | (23 << 16));
	/* Unaligned register offsets read as zero and writes are ignored. */
	assert_int_equal(lapic_mmio_read(r->cpu[0], 0x24), 0);
}

static void test_fixed_ipi_priority_and_eoi(void **state)
{
	struct rig *r = *state;

	/* CPU 0 sends vector 0x41 then 0x62 to APIC ID 1 (physical). */
	lapic_mmio_write(r->cpu[0], 0x310, 1u << 24);
	lapic_mmio_write(r->cpu[0], 0x300, 0x41);
	lapic_mmio_write(r->cpu[0], 0x300, 0x62);
	assert_true(r->wakes[1] >= 2);
	assert_int_equal(lapic_pending(r->cpu[0]), -1);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x62);
	/* TPR class 6 blocks both (0x62 class 6 is not above 6). */
	lapic_set_cr8(r->cpu[1], 6);
	assert_int_equal(lapic_pending(r->cpu[1]), -1);
	assert_int_equal(lapic_mmio_read(r->cpu[1], 0x80), 0x60);
	lapic_set_cr8(r->cpu[1], 0);
	assert_int_equal(lapic_ack(r->cpu[1]), 0x62);
	/* In service 0x62 masks 0x41 (lower class). */
	assert_int_equal(lapic_mmio_read(r->cpu[1], 0xa0), 0x60);
	assert_int_equal(lapic_pending(r->cpu[1]), -1);
	lapic_mmio_write(r->cpu[1], 0xb0, 0);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x41);
	assert_int_equal(lapic_ack(r->cpu[1]), 0x41);
	lapic_mmio_write(r->cpu[1], 0xb0, 0);
	assert_int_equal(lapic_mmio_read(r->cpu[1], 0x100 + 0x40), 0);
}

static void test_illegal_vector_sets_esr(void **state)
{
	struct rig *r = *state;

	lapic_mmio_write(r->cpu[0], 0x310, 1u << 24);
	lapic_mmio_write(r->cpu[0], 0x300, 0x05);
	assert_int_equal(lapic_pending(r->cpu[1]), -1);
	assert_int_equal(lapic_mmio_read(r->cpu[1], 0x280) & (1u << 6), 1u << 6);
}

static void test_init_sipi_and_shorthand(void **state)
{
	struct rig *r = *state;
	uint8_t vec = 0;

	/* INIT to all excluding self, then SIPI with vector 0x9a. */
	lapic_mmio_write(r->cpu[0], 0x300, (3u << 18) | (1u << 14) | (5u << 8));
	assert_true(lapic_take_init(r->cpu[1]));
	assert_false(lapic_take_init(r->cpu[0]));
	assert_false(lapic_take_init(r->cpu[1])); /* consumed */
	lapic_mmio_write(r->cpu[0], 0x300, (3u << 18) | (6u << 8) | 0x9a);
	assert_true(lapic_take_sipi(r->cpu[1], &vec));
	assert_int_equal(vec, 0x9a);
	/* NMI to self. */
	lapic_mmio_write(r->cpu[0], 0x300, (1u << 18) | (4u << 8));
	assert_true(lapic_take_nmi(r->cpu[0]));
}

static void test_logical_flat_destination(void **state)
{
	struct rig *r = *state;

	lapic_mmio_write(r->cpu[0], 0xd0, 0x01000000);
	lapic_mmio_write(r->cpu[1], 0xd0, 0x02000000);
	lapic_mmio_write(r->cpu[0], 0x310, 0x02000000);
	lapic_mmio_write(r->cpu[0], 0x300, (1u << 11) | 0x50);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x50);
	assert_int_equal(lapic_pending(r->cpu[0]), -1);
}

static void test_ioapic_level_remote_irr(void **state)
{
	struct rig *r = *state;

	/* Pin 4: vector 0x34, level, physical dest APIC 1. */
	ioapic_write_reg(r, 0x10 + 8 + 1, 1u << 24);
	ioapic_write_reg(r, 0x10 + 8, 0x34 | (1u << 15));
	ioapic_set_irq(r->io, 4, true);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x34);
	assert_true(ioapic_redirection(r->io, 4) & (1ull << 14));
	assert_int_equal(lapic_ack(r->cpu[1]), 0x34);
	/* Still asserted: EOI re-delivers. */
	lapic_mmio_write(r->cpu[1], 0xb0, 0);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x34);
	assert_int_equal(lapic_ack(r->cpu[1]), 0x34);
	ioapic_set_irq(r->io, 4, false);
	lapic_mmio_write(r->cpu[1], 0xb0, 0);
	assert_int_equal(lapic_pending(r->cpu[1]), -1);
	assert_false(ioapic_redirection(r->io, 4) & (1ull << 14));
}

static void test_ioapic_edge_and_mask(void **state)
{
	struct rig *r = *state;

	ioapic_write_reg(r, 0x10 + 2 * 9 + 1, 0);
	ioapic_write_reg(r, 0x10 + 2 * 9, 0x39 | (1u << 16)); /* masked */
	ioapic_set_irq(r->io, 9, true);
	ioapic_set_irq(r->io, 9, false);
	assert_int_equal(lapic_pending(r->cpu[0]), -1);
	ioapic_write_reg(r, 0x10 + 2 * 9, 0x39);
	ioapic_set_irq(r->io, 9, true);
	assert_int_equal(lapic_ack(r->cpu[0]), 0x39);
	ioapic_set_irq(r->io, 9, true); /* no new edge */
	lapic_mmio_write(r->cpu[0], 0xb0, 0);
	assert_int_equal(lapic_pending(r->cpu[0]), -1);
	/* Out-of-range pins are ignored. */
	ioapic_set_irq(r->io, 200, true);
	assert_int_equal(ioapic_read_reg(r, 0x10 + 2 * 24), 0xffffffff);
}

static void test_timer_oneshot_and_periodic(void **state)
{
	struct rig *r = *state;

	lapic_mmio_write(r->cpu[0], 0x3e0, 0xb);      /* divide by 1 */
	lapic_mmio_write(r->cpu[0], 0x320, 0x70);     /* one-shot, vector 0x70 */
	lapic_mmio_write(r->cpu[0], 0x380, 1000);
	assert_int_equal(lapic_timer_poll(r->cpu[0]), r->now + 1000);
	r->now += 400;
	assert_int_equal(lapic_mmio_read(r->cpu[0], 0x390), 600);
	lapic_timer_poll(r->cpu[0]);
	assert_int_equal(lapic_pending(r->cpu[0]), -1);
	r->now += 600;
	assert_int_equal(lapic_timer_poll(r->cpu[0]), UINT64_MAX);
	assert_int_equal(lapic_ack(r->cpu[0]), 0x70);
	lapic_mmio_write(r->cpu[0], 0xb0, 0);
	assert_int_equal(lapic_mmio_read(r->cpu[0], 0x390), 0);

	/* Periodic, divide by 2: period 200 ns. */
	lapic_mmio_write(r->cpu[0], 0x3e0, 0x0);
	lapic_mmio_write(r->cpu[0], 0x320, 0x71 | (1u << 17));
	lapic_mmio_write(r->cpu[0], 0x380, 100);
	r->now += 450;
	assert_int_equal(lapic_timer_poll(r->cpu[0]), r->now + 150);
	assert_int_equal(lapic_ack(r->cpu[0]), 0x71);
}

static void test_tsc_deadline(void **state)
{
	struct rig *r = *state;
	uint64_t v;

	/* Not in TSC-deadline mode: writes are ignored. */
	assert_int_equal(lapic_msr_write(r->cpu[0], MSR_IA32_TSC_DEADLINE, 5), 0);
	assert_int_equal(lapic_msr_read(r->cpu[0], MSR_IA32_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
	lapic_mmio_write(r->cpu[0], 0x320, 0xec | (2u << 17));
	/* 2 GHz TSC: deadline 10000 ticks = 5000 ns. */
	assert_int_equal(lapic_msr_write(r->cpu[0], MSR_IA32_TSC_DEADLINE, 10000), 0);
	r->now = 4999;
	assert_int_equal(lapic_timer_poll(r->cpu[0]), 5000);
	r->now = 5000;
	lapic_timer_poll(r->cpu[0]);
	assert_int_equal(lapic_pending(r->cpu[0]), 0xec);
	assert_int_equal(lapic_msr_read(r->cpu[0], MSR_IA32_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
}

static void test_x2apic_mode(void **state)
{
	struct rig *r = *state;
	uint64_t base = lapic_get_base(r->cpu[1]), v;

	/* MSRs fault in xAPIC mode. */
	assert_int_equal(lapic_msr_read(r->cpu[1], 0x802, &v), -EINVAL);
	assert_int_equal(lapic_set_base(r->cpu[1], base | LAPIC_BASE_X2APIC), 0);
	assert_int_equal(lapic_msr_read(r->cpu[1], 0x802, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(lapic_msr_read(r->cpu[1], 0x80d, &v), 0);
	assert_int_equal(v, (0u << 16) | (1u << 1));
	assert_int_equal(lapic_msr_write(r->cpu[1], 0x802, 7), -EINVAL);   /* read-only */
	assert_int_equal(lapic_msr_write(r->cpu[1], 0x80b, 1), -EINVAL);   /* EOI must be 0 */
	assert_int_equal(lapic_msr_read(r->cpu[1], 0x80e, &v), -EINVAL);   /* no DFR */
	/* x2APIC -> xAPIC directly is refused; the mode stays. */
	assert_int_equal(lapic_set_base(r->cpu[1], base), -EINVAL);
	assert_int_equal(lapic_set_base(r->cpu[1], LAPIC_BASE_X2APIC), -EINVAL);
	/* Self IPI and a 64-bit ICR write to APIC 0. */
	assert_int_equal(lapic_msr_write(r->cpu[1], 0x83f, 0x88), 0);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x88);
	assert_int_equal(lapic_msr_write(r->cpu[1], 0x830, (0ull << 32) | 0x77), 0);
	assert_int_equal(lapic_pending(r->cpu[0]), 0x77);
	/* MMIO no longer decodes for this APIC. */
	assert_false(lapic_xapic_mmio_enabled(r->cpu[1], 0xfee00000));
	assert_true(lapic_xapic_mmio_enabled(r->cpu[0], 0xfee00000));
}

static void test_msi_decode(void **state)
{
	struct rig *r = *state;

	assert_int_equal(apic_bus_deliver_msi(&r->bus, 0xfee01000, 0x4045), 0);
	assert_int_equal(lapic_pending(r->cpu[1]), 0x45);
	assert_int_equal(apic_bus_deliver_msi(&r->bus, 0xfed00000, 0x45), -EINVAL);
	assert_int_equal(apic_bus_deliver_msi(&r->bus, 0xfee00000, 0x500), -EINVAL); /* INIT */
}

static void test_hw_disable_drops_interrupts(void **state)
{
	struct rig *r = *state;
	uint64_t base = lapic_get_base(r->cpu[1]);

	assert_int_equal(lapic_set_base(r->cpu[1], base & ~LAPIC_BASE_ENABLE), 0);
	lapic_mmio_write(r->cpu[0], 0x310, 1u << 24);
	lapic_mmio_write(r->cpu[0], 0x300, 0x41);
	assert_int_equal(lapic_pending(r->cpu[1]), -1);
	assert_int_equal(lapic_set_base(r->cpu[1], 1ull << 60), -EINVAL); /* reserved bits */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids_and_version, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_fixed_ipi_priority_and_eoi, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_illegal_vector_sets_esr, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_init_sipi_and_shorthand, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_logical_flat_destination, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_level_remote_irr, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_edge_and_mask, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_timer_oneshot_and_periodic, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_tsc_deadline, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_x2apic_mode, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_msi_decode, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_hw_disable_drops_interrupts, rig_setup, rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
