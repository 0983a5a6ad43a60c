#include "devices/apic_bus.h"

#include <errno.h>
#include <stddef.h>

#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "util/log.h"

uint64_t apic_bus_now(struct apic_bus *bus)
{
	return bus->now_ns ? bus->now_ns(bus->clock_opaque) : 0;
}

static bool shorthand_includes(const struct apic_msg *msg, unsigned cpu, int from)
{
	switch (msg->shorthand) {
	case 1:
		return (int)cpu == from;
	case 2:
		return true;
	case 3:
		return (int)cpu != from;
	}
	return false;
}

void apic_bus_deliver(struct apic_bus *bus, const struct apic_msg *msg, int from)
{
	struct lapic *lowest = NULL;
	int lowest_prio = 0x100;

	for (unsigned i = 0; i < bus->nr; i++) {
		struct lapic *l = bus->cpus[i];
		bool hit;

		if (!l)
			continue;
		if (msg->shorthand)
			hit = shorthand_includes(msg, i, from);
		else
			hit = lapic_matches(l, msg->dest, msg->logical);
		if (!hit)
			continue;
		if (msg->mode == APIC_DM_LOWEST) {
			/* Lowest priority: the matching APIC with the lowest priority wins. */
			int prio = lapic_arbitration_priority(l);
			if (prio < lowest_prio) {
				lowest_prio = prio;
				lowest = l;
			}
			continue;
		}
		lapic_accept(l, msg);
	}
	if (lowest)
		lapic_accept(lowest, msg);
}

int apic_bus_deliver_msi(struct apic_bus *bus, uint64_t addr, uint32_t data)
{
	struct apic_msg msg = { 0 };

	/* Guest-programmed MSI address and data: only the 0xFEE window delivers. */
	if ((addr >> 20) != 0xfee)
		return -EINVAL;
	msg.dest = (uint32_t)(addr >> 12) & 0xff;
	msg.logical = (addr >> 2) & 1;
	msg.vector = (uint8_t)data;
	msg.mode = (data >> 8) & 7;
	msg.level_trigger = (data >> 15) & 1;
	msg.assert = true;
	if (msg.mode == APIC_DM_INIT || msg.mode == APIC_DM_STARTUP || msg.mode == 3) {
		log_ratelimited(LOG_WARN, "MSI with delivery mode %u dropped", msg.mode);
		return -EINVAL;
	}
	apic_bus_deliver(bus, &msg, -1);
	return 0;
}

void apic_bus_eoi(struct apic_bus *bus, uint8_t vector)
{
	if (bus->ioapic)
		ioapic_eoi(bus->ioapic, vector);
}
