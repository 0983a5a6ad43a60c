#include "devices/debug_exit.h"

#include <errno.h>
#include <stdlib.h>

#include "vm/machine.h"

struct debug_exit {
	struct machine *m;
	uint16_t port;
};

static uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0;
}

static void debug_exit_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct debug_exit *d = opaque;
	uint32_t v;

	/* Only an access starting at the port itself counts, like QEMU's 1-byte device. */
	if (offset != 0)
		return;
	/* Guest value: the bus already limited it to the access width (1, 2 or 4 bytes). */
	v = (uint32_t)value;
	machine_request_stop(d->m, MACHINE_DEBUG_EXIT, (int)((v << 1) | 1));
}

static const struct iobus_ops debug_exit_ops = {
	.name = "debug-exit",
	.read = debug_exit_read,
	.write = debug_exit_write,
	.sizes = IOBUS_SIZE_1 | IOBUS_SIZE_2 | IOBUS_SIZE_4,
	.unaligned_ok = true, /* the port need not be 4-aligned */
};

int debug_exit_create(struct machine *m, uint16_t port, struct debug_exit **out)
{
	struct debug_exit *d;
	int rc;

	*out = NULL;
	if ((uint32_t)port + DEBUG_EXIT_NR_PORTS > 0x10000)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->m = m;
	d->port = port;
	rc = iobus_register(&m->pio, port, DEBUG_EXIT_NR_PORTS, &debug_exit_ops, d);
	if (rc) {
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void debug_exit_destroy(struct debug_exit *d)
{
	if (!d)
		return;
	iobus_unregister(&d->m->pio, d->port, d);
	free(d);
}
