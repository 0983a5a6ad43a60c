/*
 * The emu engine's platform: the interrupt controllers the software CPU needs
 * (one local APIC per vCPU, the IOAPIC, the APIC bus), the machine's time
 * base, and a per-vCPU doorbell to sleep in hlt and be woken by interrupts.
 * Independent of the CPU library, so it is unit-tested on its own.
 */
#ifndef PETREL_ACCEL_EMU_PLATFORM_H
#define PETREL_ACCEL_EMU_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/apic_bus.h"

struct machine;
struct lapic;
struct ioapic;

#define EMU_TSC_HZ 2000000000ull  /* docs/timers.md */

struct emu_doorbell {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned rings;           /* wakeups not yet consumed */
};

struct emu_platform {
	struct machine *m;
	struct apic_bus bus;
	struct lapic *lapic[APIC_BUS_MAX_CPUS];
	struct ioapic *ioapic;
	struct emu_doorbell bell[APIC_BUS_MAX_CPUS];
	/* Called with each wakeup of a vCPU (from any thread): the engine makes its CPU notice. */
	void (*notify[APIC_BUS_MAX_CPUS])(void *opaque);
	void *notify_opaque[APIC_BUS_MAX_CPUS];
	uint64_t start_ns;        /* CLOCK_MONOTONIC at creation: bus time 0 */
};

int emu_platform_init(struct emu_platform *p, struct machine *m, unsigned nr_cpus);
void emu_platform_fini(struct emu_platform *p);
/* Bus time in ns, and the TSC derived from it. */
uint64_t emu_now_ns(struct emu_platform *p);
uint64_t emu_tsc(struct emu_platform *p);
/* Wake vCPU `cpu` (from any thread). */
void emu_wake(struct emu_platform *p, unsigned cpu);
/* Sleep until woken or until bus time `deadline_ns` (UINT64_MAX: no timeout). */
void emu_wait(struct emu_platform *p, unsigned cpu, uint64_t deadline_ns);

#endif
