#include "bus/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"
#include "util/log.h"

int iobus_init(struct iobus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void iobus_fini(struct iobus *bus)
{
	if (!bus->name)
		return;
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
	bus->name = NULL;
}

/* Index of the first range whose end is above addr (binary search). */
static unsigned iobus_lower_bound(const struct iobus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct iobus_range *r = &bus->ranges[mid];
		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, const struct iobus_ops *ops,
		   void *opaque)
{
	unsigned i;
	int rc = 0;

	if (len == 0 || base + (len - 1) < base || !ops || !ops->read || !ops->write)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = iobus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= base + (len - 1)) {
		rc = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct iobus_range *n = realloc(bus->ranges, cap * sizeof(*n));
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct iobus_range){ base, len, ops, opaque };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int iobus_unregister(struct iobus *bus, uint64_t base, void *opaque)
{
	int rc = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned i = 0; i < bus->nr; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->nr - i - 1) * sizeof(bus->ranges[0]));
			bus->nr--;
			rc = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

static const struct iobus_range *iobus_find(const struct iobus *bus, uint64_t addr)
{
	unsigned i = iobus_lower_bound(bus, addr);

	if (i < bus->nr && bus->ranges[i].base <= addr)
		return &bus->ranges[i];
	return NULL;
}

static unsigned size_bit(unsigned size)
{
	switch (size) {
	case 1: return IOBUS_SIZE_1;
	case 2: return IOBUS_SIZE_2;
	case 4: return IOBUS_SIZE_4;
	case 8: return IOBUS_SIZE_8;
	}
	return 0;
}

/* The width to issue an access of `size` to a device as, or 0 to drop it. */
static unsigned iobus_access_width(const struct iobus_ops *ops, uint64_t off, unsigned size)
{
	unsigned sizes = ops->sizes ? ops->sizes : IOBUS_SIZE_1;
	unsigned w;

	if (!size_bit(size))
		return 0;
	if (sizes & size_bit(size))
		w = size;
	else if (!ops->split)
		return 0;
	else
		for (w = size / 2; w && !(sizes & size_bit(w)); w /= 2)
			;
	if (!w)
		return 0;
	if (!ops->unaligned_ok && (off & (w - 1)))
		return 0;
	return w;
}

static void iobus_log_drop(const struct iobus *bus, uint64_t addr, unsigned size, bool write)
{
	log_ratelimited(LOG_DEBUG, "%s: %s of %u bytes at 0x%llx not handled", bus->name,
			write ? "write" : "read", size, (unsigned long long)addr);
}

/*
 * Perform one access under the bus lock: the whole rule set lives here.
 * Returns true when a device claimed addr; *done says whether the access
 * reached the device (otherwise it was dropped by the rules).
 */
static bool iobus_access(struct iobus *bus, uint64_t addr, unsigned size, uint64_t *value,
			 bool write, bool *done)
{
	const struct iobus_range *r;
	uint64_t off, v = 0;
	unsigned w;

	*done = false;
	r = iobus_find(bus, addr);
	if (!r)
		return false;
	off = addr - r->base;
	/* The access must lie wholly in the device's range. */
	if (size > r->len || off > r->len - size)
		return true;
	w = iobus_access_width(r->ops, off, size);
	if (!w)
		return true;
	for (unsigned pos = 0; pos < size; pos += w) {
		uint64_t mask = w < 8 ? (1ull << (w * 8)) - 1 : ~0ull;
		if (write)
			r->ops->write(r->opaque, off + pos, w, (*value >> (pos * 8)) & mask);
		else
			v |= (r->ops->read(r->opaque, off + pos, w) & mask) << (pos * 8);
	}
	if (!write)
		*value = v;
	*done = true;
	return true;
}

bool iobus_read(struct iobus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
	bool claimed, done;

	*value = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
	pthread_rwlock_rdlock(&bus->lock);
	claimed = iobus_access(bus, addr, size, value, false, &done);
	pthread_rwlock_unlock(&bus->lock);
	if (!done)
		iobus_log_drop(bus, addr, size, false);
	return claimed;
}

bool iobus_write(struct iobus *bus, uint64_t addr, unsigned size, uint64_t value)
{
	bool claimed, done;

	pthread_rwlock_rdlock(&bus->lock);
	claimed = iobus_access(bus, addr, size, &value, true, &done);
	pthread_rwlock_unlock(&bus->lock);
	if (!done)
		iobus_log_drop(bus, addr, size, true);
	return claimed;
}

bool iobus_read_buf(struct iobus *bus, uint64_t addr, void *data, unsigned size)
{
	uint64_t v;
	bool claimed;

	if (size == 0 || size > 8) {
		memset(data, 0xff, size > 8 ? 8 : size);
		return false;
	}
	claimed = iobus_read(bus, addr, size, &v);
	memcpy(data, &v, size); /* x86 hosts are little-endian */
	return claimed;
}

bool iobus_write_buf(struct iobus *bus, uint64_t addr, const void *data, unsigned size)
{
	uint64_t v = 0;

	if (size == 0 || size > 8)
		return false;
	memcpy(&v, data, size);
	return iobus_write(bus, addr, size, v);
}
