/*
 * I/O APIC (82093AA-compatible register interface, version 0x20 with the
 * directed EOI register). Facts from the IOAPIC datasheet and Intel SDM.
 */
#include "devices/ioapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "devices/apic_bus.h"
#include "vm/machine.h"

#define IOAPIC_VERSION 0x20
#define RTE_MASKED (1ull << 16)
#define RTE_LEVEL (1ull << 15)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_POLARITY_LOW (1ull << 13)
#define RTE_DELIVERY_STATUS (1ull << 12)
#define RTE_WRITABLE 0xff0000000001afffull /* dest, mask, trigger, polarity, dest mode, mode, vector */

struct ioapic {
	pthread_mutex_t lock;
	struct machine *m;
	struct apic_bus *bus;
	uint64_t base;
	uint32_t id;
	uint8_t regsel;
	uint32_t lines;  /* input pin levels (after polarity: 1 = asserted) */
	uint64_t rte[IOAPIC_NR_PINS];
};

static void rte_to_msg(uint64_t rte, struct apic_msg *msg)
{
	*msg = (struct apic_msg){
		.vector = (uint8_t)rte,
		.mode = (rte >> 8) & 7,
		.logical = (rte >> 11) & 1,
		.level_trigger = (rte & RTE_LEVEL) != 0,
		.assert = true,
		.dest = (uint32_t)(rte >> 56),
	};
}

/*
 * Deliver pin `pin` if it is asserted and deliverable. Called with the lock
 * held; fills msg and returns true when a message must be sent after unlock.
 */
static bool ioapic_service_locked(struct ioapic *io, unsigned pin, struct apic_msg *msg)
{
	uint64_t *rte = &io->rte[pin];

	if (!((io->lines >> pin) & 1) || (*rte & RTE_MASKED))
		return false;
	if (*rte & RTE_LEVEL) {
		if (*rte & RTE_REMOTE_IRR)
			return false; /* still being serviced: re-sent after EOI */
		*rte |= RTE_REMOTE_IRR;
	}
	rte_to_msg(*rte, msg);
	return true;
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	struct apic_msg msg;
	bool send = false;

	if (pin >= IOAPIC_NR_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	if (io->rte[pin] & RTE_POLARITY_LOW)
		level = !level;
	if (level) {
		bool was = (io->lines >> pin) & 1;
		io->lines |= 1u << pin;
		/* Edge-triggered pins fire on the rising edge only. */
		if (!was || (io->rte[pin] & RTE_LEVEL))
			send = ioapic_service_locked(io, pin, &msg);
	} else {
		io->lines &= ~(1u << pin);
	}
	pthread_mutex_unlock(&io->lock);
	if (send)
		apic_bus_deliver(io->bus, &msg, -1);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	struct apic_msg msgs[IOAPIC_NR_PINS];
	unsigned n = 0;

	pthread_mutex_lock(&io->lock);
	for (unsigned pin = 0; pin < IOAPIC_NR_PINS; pin++) {
		uint64_t *rte = &io->rte[pin];
		if ((uint8_t)*rte != vector || !(*rte & RTE_LEVEL))
			continue;
		*rte &= ~RTE_REMOTE_IRR;
		/* A level line still asserted interrupts again. */
		if (ioapic_service_locked(io, pin, &msgs[n]))
			n++;
	}
	pthread_mutex_unlock(&io->lock);
	for (unsigned i = 0; i < n; i++)
		apic_bus_deliver(io->bus, &msgs[i], -1);
}

static uint32_t ioapic_reg_read_locked(struct ioapic *io)
{
	unsigned r = io->regsel;

	switch (r) {
	case 0x00:
		return io->id << 24;
	case 0x01:
		return IOAPIC_VERSION | ((IOAPIC_NR_PINS - 1) << 16);
	case 0x02:
		return io->id << 24; /* arbitration ID */
	}
	if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_NR_PINS) {
		uint64_t rte = io->rte[(r - 0x10) / 2];
		return (r & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
	}
	return 0xffffffff;
}

static bool ioapic_reg_write_locked(struct ioapic *io, uint32_t v, unsigned *pin_out)
{
	unsigned r = io->regsel;

	if (r == 0x00) {
		io->id = (v >> 24) & 0xf;
		return false;
	}
	if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_NR_PINS) {
		unsigned pin = (r - 0x10) / 2;
		uint64_t old = io->rte[pin], nv;
		if (r & 1)
			nv = (old & 0xffffffffull) | ((uint64_t)v << 32);
		else
			nv = (old & ~0xffffffffull) | v;
		/* Read-only bits (remote IRR, delivery status) keep their value. */
		nv = (nv & RTE_WRITABLE) | (old & (RTE_REMOTE_IRR | RTE_DELIVERY_STATUS));
		if (!(nv & RTE_LEVEL))
			nv &= ~RTE_REMOTE_IRR;
		io->rte[pin] = nv;
		/* Unmasking an asserted level pin delivers it now. */
		*pin_out = pin;
		return (old & RTE_MASKED) && !(nv & RTE_MASKED);
	}
	return false;
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t off, unsigned size)
{
	struct ioapic *io = opaque;
	uint64_t v = 0xffffffff;

	pthread_mutex_lock(&io->lock);
	if (off == 0x00)
		v = io->regsel;
	else if (off == 0x10)
		v = ioapic_reg_read_locked(io);
	pthread_mutex_unlock(&io->lock);
	return v;
}

static void ioapic_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct ioapic *io = opaque;
	struct apic_msg msg;
	unsigned pin = 0;
	bool send = false;

	pthread_mutex_lock(&io->lock);
	if (off == 0x00) {
		io->regsel = (uint8_t)value;
	} else if (off == 0x10) {
		if (ioapic_reg_write_locked(io, (uint32_t)value, &pin))
			send = ioapic_service_locked(io, pin, &msg);
	}
	pthread_mutex_unlock(&io->lock);
	if (off == 0x40)
		ioapic_eoi(io, (uint8_t)value);
	if (send)
		apic_bus_deliver(io->bus, &msg, -1);
}

static const struct iobus_ops ioapic_ops = {
	.name = "ioapic",
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
	.sizes = IOBUS_SIZE_4,
};

int ioapic_create(struct machine *m, struct apic_bus *bus, uint64_t base, struct ioapic **out)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	int rc;

	if (!io)
		return -ENOMEM;
	pthread_mutex_init(&io->lock, NULL);
	io->m = m;
	io->bus = bus;
	io->base = base;
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++)
		io->rte[i] = RTE_MASKED;
	rc = iobus_register(&m->mmio, base, 0x100, &ioapic_ops, io);
	if (rc < 0) {
		pthread_mutex_destroy(&io->lock);
		free(io);
		return rc;
	}
	bus->ioapic = io;
	*out = io;
	return 0;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	iobus_unregister(&io->m->mmio, io->base, io);
	if (io->bus->ioapic == io)
		io->bus->ioapic = NULL;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

uint64_t ioapic_redirection(struct ioapic *io, unsigned pin)
{
	uint64_t v;

	if (pin >= IOAPIC_NR_PINS)
		return 0;
	pthread_mutex_lock(&io->lock);
	v = io->rte[pin];
	pthread_mutex_unlock(&io->lock);
	return v;
}
