/*
 * Local APIC model for the emu engine: xAPIC (MMIO at the APIC base) and
 * x2APIC (MSRs 0x800-0x8ff); timer in one-shot, periodic and TSC-deadline
 * modes; IPIs including INIT and SIPI; EOI; TPR/PPR priority.
 *
 * The engine asks lapic_pending() whether an interrupt can be taken and
 * lapic_ack() when it takes it. Every entry point locks the model, so other
 * vCPUs and the I/O thread may deliver interrupts at any time.
 */
#ifndef PETREL_DEVICES_LAPIC_H
#define PETREL_DEVICES_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/apic_bus.h"

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define LAPIC_BASE_BSP (1ull << 8)
#define LAPIC_BASE_X2APIC (1ull << 10)
#define LAPIC_BASE_ENABLE (1ull << 11)

struct lapic;

/* tsc_hz converts between the bus clock (ns) and the TSC for deadline mode. */
int lapic_create(struct apic_bus *bus, unsigned index, uint64_t tsc_hz, struct lapic **out);
void lapic_destroy(struct lapic *l);
/* Power-on / INIT state (keeps the APIC ID and, for INIT, the base MSR). */
void lapic_reset(struct lapic *l, bool power_on);

uint64_t lapic_get_base(struct lapic *l);
/* -EINVAL for a value the architecture refuses (the engine raises #GP). */
int lapic_set_base(struct lapic *l, uint64_t value);
bool lapic_xapic_mmio_enabled(struct lapic *l, uint64_t gpa);
uint32_t lapic_mmio_read(struct lapic *l, uint64_t offset);
void lapic_mmio_write(struct lapic *l, uint64_t offset, uint32_t value);
/* x2APIC and TSC-deadline MSRs; -EINVAL means #GP. */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value);
/* CR8 is TPR[7:4]. */
uint8_t lapic_get_cr8(struct lapic *l);
void lapic_set_cr8(struct lapic *l, uint8_t cr8);

/* Receive a message from the APIC bus (already matched to this APIC). */
void lapic_accept(struct lapic *l, const struct apic_msg *msg);
/* Highest deliverable vector above the processor priority, or -1. */
int lapic_pending(struct lapic *l);
/* Take the pending interrupt (IRR -> ISR); returns its vector or -1. */
int lapic_ack(struct lapic *l);
/* NMI, INIT and SIPI requests, consumed by the engine. */
bool lapic_take_nmi(struct lapic *l);
bool lapic_take_init(struct lapic *l);
bool lapic_take_sipi(struct lapic *l, uint8_t *vector);

/* Fire the timer if it expired; returns the next expiry in bus ns or UINT64_MAX. */
uint64_t lapic_timer_poll(struct lapic *l);
/* Whether this APIC matches a destination (used by the bus). */
bool lapic_matches(struct lapic *l, uint32_t dest, bool logical);
uint32_t lapic_id(struct lapic *l);
int lapic_arbitration_priority(struct lapic *l);

#endif
