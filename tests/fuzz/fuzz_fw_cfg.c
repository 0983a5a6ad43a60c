/*
 * fw_cfg against a hostile guest: the input is a program of port accesses
 * (selector, data, DMA halves) and DMA requests written into guest memory.
 * Invariants: no crash, no sanitizer report, and nothing outside guest RAM
 * is ever touched (ASan would see it: RAM is an mmap of exact size).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/fw_cfg.h"
#include "util/log.h"
#include "vm/machine.h"

#define RAM 0x10000ull

static uint64_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
		v |= (uint64_t) * *p << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine m;
	static struct fw_cfg *f;
	static bool ready;
	uint64_t v;

	if (!ready) {
		uint64_t gpa = 0, len = RAM;

		log_set_level(LOG_ERROR);
		if (gmem_init(&m.mem, &gpa, &len, 1) || iobus_init(&m.pio, "pio") ||
		    irq_router_init(&m.irq))
			return 0;
		m.nr_cpus = 2;
		if (fw_cfg_create(&m, &f))
			return 0;
		fw_cfg_set_cmdline(f, "console=ttyS0");
		fw_cfg_add_file(f, "etc/a", "0123456789abcdef", 16);
		fw_cfg_add_file(f, "etc/empty", NULL, 0);
		ready = true;
	}
	memset(m.mem.regions[0].host, 0, RAM);
	/* Reset the device's selection and pending DMA half between runs. */
	iobus_write(&m.pio, LAYOUT_PORT_FW_CFG, 2, 0xffff);
	iobus_write(&m.pio, LAYOUT_PORT_FW_CFG + 4, 4, 0);

	while (size) {
		unsigned op = (unsigned)take(&data, &size, 1);
		unsigned sz = 1u << (op >> 6); /* 1, 2, 4 or 8 */
		uint64_t port = LAYOUT_PORT_FW_CFG + ((op >> 2) & 0xf);

		switch (op & 3) {
		case 0:
			iobus_read(&m.pio, port, sz, &v);
			break;
		case 1:
			iobus_write(&m.pio, port, sz, take(&data, &size, sz));
			break;
		case 2: {
			/* A DMA request (control, length, address) at a chosen spot, then kick. */
			uint8_t req[16];
			uint64_t at = take(&data, &size, 2) % (RAM + 32);
			for (unsigned i = 0; i < 16; i++)
				req[i] = (uint8_t)take(&data, &size, 1);
			gmem_write(&m.mem, at, req, sizeof(req)); /* may fail near the end: fine */
			iobus_write(&m.pio, LAYOUT_PORT_FW_CFG + 4, 4, 0);
			iobus_write(&m.pio, LAYOUT_PORT_FW_CFG + 8, 4,
				    __builtin_bswap32((uint32_t)at));
			break;
		}
		default:
			iobus_write(&m.pio, LAYOUT_PORT_FW_CFG, 2, take(&data, &size, 2));
			break;
		}
	}
	return 0;
}
