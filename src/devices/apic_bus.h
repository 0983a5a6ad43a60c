/*
 * The APIC bus of the emu engine: the local APICs of one machine, and the
 * delivery of interrupt messages to them (from the IOAPIC, from MSI writes and
 * from IPIs one local APIC sends another).
 *
 * KVM has its own in-kernel APICs; these models serve the software CPU only.
 */
#ifndef PETREL_DEVICES_APIC_BUS_H
#define PETREL_DEVICES_APIC_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_BUS_MAX_CPUS 64

struct lapic;
struct ioapic;

/* Delivery modes (ICR / redirection entry / MSI data bits 10:8) */
enum apic_delivery {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_STARTUP = 6,
	APIC_DM_EXTINT = 7,
};

struct apic_msg {
	uint32_t dest;        /* APIC ID (physical) or logical mask */
	bool logical;         /* destination mode */
	uint8_t shorthand;    /* 0 none, 1 self, 2 all incl. self, 3 all excl. self */
	uint8_t mode;         /* enum apic_delivery */
	uint8_t vector;
	bool level_trigger;   /* trigger mode: level */
	bool assert;          /* level: assert (INIT level de-assert is ignored) */
	bool broadcast_ok;    /* dest 0xff (xAPIC) / 0xffffffff (x2APIC) means all */
};

struct apic_bus {
	unsigned nr;
	struct lapic *cpus[APIC_BUS_MAX_CPUS];
	struct ioapic *ioapic;  /* receives EOIs for level-triggered vectors */
	/* Wake a vCPU that has a new event (out of hlt, or to notice an interrupt). */
	void (*wake)(void *opaque, unsigned cpu);
	void *wake_opaque;
	/* Time base for the APIC timers and the TSC: nanoseconds, monotonic. */
	uint64_t (*now_ns)(void *opaque);
	void *clock_opaque;
};

/* Deliver a message; `from` is the sending CPU index for shorthands (or -1). */
void apic_bus_deliver(struct apic_bus *bus, const struct apic_msg *msg, int from);
/* Decode an MSI (address 0xFEExxxxx, data) into a message and deliver it. */
int apic_bus_deliver_msi(struct apic_bus *bus, uint64_t addr, uint32_t data);
/* A level-triggered vector was EOI'd by a local APIC. */
void apic_bus_eoi(struct apic_bus *bus, uint8_t vector);
uint64_t apic_bus_now(struct apic_bus *bus);

#endif
