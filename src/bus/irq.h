/*
 * Interrupt routing, independent of the CPU engine.
 *
 * Devices raise Global System Interrupts (GSIs, the IOAPIC input numbers that
 * ACPI describes; GSI 0-15 are the ISA IRQs) and MSI messages. The router
 * keeps each line's level and forwards changes to the interrupt controller
 * backend: KVM's in-kernel irqchip, or the emu engine's IOAPIC/PIC models.
 */
#ifndef PETREL_BUS_IRQ_H
#define PETREL_BUS_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_NR_GSI 24  /* one IOAPIC with 24 inputs */

struct irq_chip_ops {
	/* Set the level of an input line (an edge is a 1 then a 0). */
	void (*set_gsi)(void *opaque, unsigned gsi, bool level);
	/* Deliver an MSI write: address 0xFEExxxxx, 32-bit data. */
	int (*send_msi)(void *opaque, uint64_t addr, uint32_t data);
};

struct irq_router {
	pthread_mutex_t lock;
	const struct irq_chip_ops *ops;
	void *opaque;
	uint32_t level;            /* bit per GSI: current line level */
	uint64_t raised[IRQ_NR_GSI]; /* statistics: rising edges per GSI */
	uint64_t msis;
};

int irq_router_init(struct irq_router *r);
void irq_router_fini(struct irq_router *r);
/* Connect the controller backend; until then interrupts are only recorded. */
void irq_router_set_chip(struct irq_router *r, const struct irq_chip_ops *ops, void *opaque);
/* Level-triggered line: set high or low. Out-of-range GSIs are ignored and logged. */
void irq_set_level(struct irq_router *r, unsigned gsi, bool level);
/* Edge-triggered interrupt: a pulse. */
void irq_pulse(struct irq_router *r, unsigned gsi);
/* MSI: -EINVAL when the address is not in the 0xFEE00000 window. */
int irq_send_msi(struct irq_router *r, uint64_t addr, uint32_t data);

#endif
