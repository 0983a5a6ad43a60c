#include "accel/emu_platform.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "bus/irq.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "vm/machine.h"

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t emu_now_ns(struct emu_platform *p)
{
	return monotonic_ns() - p->start_ns;
}

uint64_t emu_tsc(struct emu_platform *p)
{
	return emu_now_ns(p) * (EMU_TSC_HZ / 1000000000ull);
}

static uint64_t bus_now(void *opaque)
{
	return emu_now_ns(opaque);
}

void emu_wake(struct emu_platform *p, unsigned cpu)
{
	struct emu_doorbell *b;

	if (cpu >= APIC_BUS_MAX_CPUS)
		return;
	if (p->notify[cpu])
		p->notify[cpu](p->notify_opaque[cpu]);
	b = &p->bell[cpu];
	pthread_mutex_lock(&b->lock);
	b->rings++;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static void bus_wake(void *opaque, unsigned cpu)
{
	emu_wake(opaque, cpu);
}

void emu_wait(struct emu_platform *p, unsigned cpu, uint64_t deadline_ns)
{
	struct emu_doorbell *b = &p->bell[cpu];

	pthread_mutex_lock(&b->lock);
	while (b->rings == 0) {
		if (deadline_ns == UINT64_MAX) {
			pthread_cond_wait(&b->cond, &b->lock);
		} else {
			/* Bus time is CLOCK_MONOTONIC shifted by start_ns; the condvar uses the same clock. */
			uint64_t abs = p->start_ns + deadline_ns;
			struct timespec ts = { (time_t)(abs / 1000000000ull), (long)(abs % 1000000000ull) };
			if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) == ETIMEDOUT)
				break;
		}
	}
	b->rings = 0;
	pthread_mutex_unlock(&b->lock);
}

static void chip_set_gsi(void *opaque, unsigned gsi, bool level)
{
	struct emu_platform *p = opaque;

	ioapic_set_irq(p->ioapic, gsi, level);
}

static int chip_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct emu_platform *p = opaque;

	return apic_bus_deliver_msi(&p->bus, addr, data);
}

static const struct irq_chip_ops emu_chip_ops = {
	.set_gsi = chip_set_gsi,
	.send_msi = chip_send_msi,
};

int emu_platform_init(struct emu_platform *p, struct machine *m, unsigned nr_cpus)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (nr_cpus == 0 || nr_cpus > APIC_BUS_MAX_CPUS)
		return -EINVAL;
	p->m = m;
	p->start_ns = monotonic_ns();
	p->bus.now_ns = bus_now;
	p->bus.clock_opaque = p;
	p->bus.wake = bus_wake;
	p->bus.wake_opaque = p;
	for (unsigned i = 0; i < APIC_BUS_MAX_CPUS; i++) {
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_mutex_init(&p->bell[i].lock, NULL);
		pthread_cond_init(&p->bell[i].cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (unsigned i = 0; i < nr_cpus; i++) {
		rc = lapic_create(&p->bus, i, EMU_TSC_HZ, &p->lapic[i]);
		if (rc < 0)
			goto out;
	}
	rc = ioapic_create(m, &p->bus, LAYOUT_IOAPIC, &p->ioapic);
	if (rc < 0)
		goto out;
	irq_router_set_chip(&m->irq, &emu_chip_ops, p);
	return 0;
out:
	emu_platform_fini(p);
	return rc;
}

void emu_platform_fini(struct emu_platform *p)
{
	if (!p->m)
		return;
	irq_router_set_chip(&p->m->irq, NULL, NULL);
	ioapic_destroy(p->ioapic);
	p->ioapic = NULL;
	for (unsigned i = 0; i < APIC_BUS_MAX_CPUS; i++) {
		lapic_destroy(p->lapic[i]);
		p->lapic[i] = NULL;
		pthread_mutex_destroy(&p->bell[i].lock);
		pthread_cond_destroy(&p->bell[i].cond);
	}
	p->m = NULL;
}
