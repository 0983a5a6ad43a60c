/*
 * I/O bus: a map from address ranges to devices, one bus for port I/O and one
 * for MMIO.
 *
 * The bus, not the device, enforces access rules: a device declares which
 * access sizes it accepts and whether unaligned accesses are allowed, and its
 * callbacks only ever see valid accesses. Rules for the rest:
 *   - an access wider than the device allows is split into the device's
 *     widest allowed size that divides it (little-endian order), when the
 *     device allows splitting (ops->split); otherwise it is dropped;
 *   - a misaligned access to a device that does not allow it is dropped;
 *   - an access that crosses the end of a device's range is dropped;
 *   - unclaimed or dropped reads return all ones; writes are discarded, with a
 *     rate-limited debug log.
 * Devices do their own locking: callbacks may run on any vCPU thread at once.
 */
#ifndef PETREL_BUS_IOBUS_H
#define PETREL_BUS_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Bits for iobus_ops.sizes */
#define IOBUS_SIZE_1 (1u << 0)
#define IOBUS_SIZE_2 (1u << 1)
#define IOBUS_SIZE_4 (1u << 2)
#define IOBUS_SIZE_8 (1u << 3)
#define IOBUS_SIZE_ALL (IOBUS_SIZE_1 | IOBUS_SIZE_2 | IOBUS_SIZE_4 | IOBUS_SIZE_8)

struct iobus_ops {
	const char *name;
	/* offset is relative to the registered base; size is 1, 2, 4 or 8 and allowed. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
	unsigned sizes;       /* IOBUS_SIZE_* mask; 0 means IOBUS_SIZE_1 */
	bool unaligned_ok;    /* accept accesses not aligned to their size */
	bool split;           /* split wider accesses into allowed ones */
};

struct iobus_range {
	uint64_t base;
	uint64_t len;
	const struct iobus_ops *ops;
	void *opaque;
};

struct iobus {
	const char *name;      /* "pio" or "mmio", for logs */
	pthread_rwlock_t lock; /* held for reading during dispatch, writing to change the map */
	struct iobus_range *ranges; /* sorted by base, non-overlapping */
	unsigned nr, cap;
};

int iobus_init(struct iobus *bus, const char *name);
void iobus_fini(struct iobus *bus);
/* -EEXIST when [base, base+len) overlaps a registered range; -EINVAL for len 0 or wrap. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, const struct iobus_ops *ops,
		   void *opaque);
/* Remove the range registered at exactly `base` for `opaque`; -ENOENT if none. */
int iobus_unregister(struct iobus *bus, uint64_t base, void *opaque);
/*
 * Dispatch an access of `size` (1..8 bytes) at addr. Returns true when a device
 * claimed the address (even if the access was then dropped by the rules).
 */
bool iobus_read(struct iobus *bus, uint64_t addr, unsigned size, uint64_t *value);
bool iobus_write(struct iobus *bus, uint64_t addr, unsigned size, uint64_t value);
/* Byte-buffer forms used by the engines' exit handlers (size <= 8). */
bool iobus_read_buf(struct iobus *bus, uint64_t addr, void *data, unsigned size);
bool iobus_write_buf(struct iobus *bus, uint64_t addr, const void *data, unsigned size);

#endif
