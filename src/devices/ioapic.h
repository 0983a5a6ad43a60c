/*
 * I/O APIC model (emu engine): 24 redirection entries at LAYOUT_IOAPIC, fed
 * by the interrupt router's GSI lines and delivering to the local APICs over
 * the APIC bus. Edge and level triggering with remote IRR.
 */
#ifndef PETREL_DEVICES_IOAPIC_H
#define PETREL_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct apic_bus;
struct ioapic;

#define IOAPIC_NR_PINS 24

int ioapic_create(struct machine *m, struct apic_bus *bus, uint64_t base, struct ioapic **out);
void ioapic_destroy(struct ioapic *io);
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
/* A local APIC finished a level-triggered interrupt with this vector. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
/* For tests and snapshots: the 64-bit redirection entry of a pin. */
uint64_t ioapic_redirection(struct ioapic *io, unsigned pin);

#endif
