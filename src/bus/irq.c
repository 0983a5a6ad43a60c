#include "bus/irq.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

int irq_router_init(struct irq_router *r)
{
	memset(r, 0, sizeof(*r));
	return -pthread_mutex_init(&r->lock, NULL);
}

void irq_router_fini(struct irq_router *r)
{
	pthread_mutex_destroy(&r->lock);
}

void irq_router_set_chip(struct irq_router *r, const struct irq_chip_ops *ops, void *opaque)
{
	pthread_mutex_lock(&r->lock);
	r->ops = ops;
	r->opaque = opaque;
	pthread_mutex_unlock(&r->lock);
}

void irq_set_level(struct irq_router *r, unsigned gsi, bool level)
{
	uint32_t bit;

	if (gsi >= IRQ_NR_GSI) {
		log_ratelimited(LOG_WARN, "irq: GSI %u out of range", gsi);
		return;
	}
	bit = 1u << gsi;
	pthread_mutex_lock(&r->lock);
	if (level && !(r->level & bit))
		r->raised[gsi]++;
	r->level = level ? (r->level | bit) : (r->level & ~bit);
	/* The chip sees every call: a level line re-asserted after EOI must re-trigger. */
	if (r->ops && r->ops->set_gsi)
		r->ops->set_gsi(r->opaque, gsi, level);
	pthread_mutex_unlock(&r->lock);
}

void irq_pulse(struct irq_router *r, unsigned gsi)
{
	irq_set_level(r, gsi, true);
	irq_set_level(r, gsi, false);
}

int irq_send_msi(struct irq_router *r, uint64_t addr, uint32_t data)
{
	int rc = 0;

	/* Guest-programmed address: only the local APIC window delivers. */
	if ((addr & 0xfff00000ull) != 0xfee00000ull || (addr >> 32) != 0) {
		log_ratelimited(LOG_WARN, "irq: MSI to bad address 0x%llx dropped",
				(unsigned long long)addr);
		return -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	r->msis++;
	if (r->ops && r->ops->send_msi)
		rc = r->ops->send_msi(r->opaque, addr, data);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
