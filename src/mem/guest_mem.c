#include "mem/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/compiler.h"

#define PAGE_SIZE 4096ull

void gmem_fini(struct guest_mem *gm)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		if (gm->regions[i].host)
			munmap(gm->regions[i].host, gm->regions[i].size);
		gm->regions[i].host = NULL;
	}
	gm->nr_regions = 0;
	gm->total = 0;
	if (gm->fd >= 0)
		close(gm->fd);
	gm->fd = -1;
}

int gmem_init(struct guest_mem *gm, const uint64_t *gpas, const uint64_t *sizes, unsigned n)
{
	uint64_t total = 0;
	int rc;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (n == 0 || n > GMEM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (sizes[i] == 0 || (gpas[i] | sizes[i]) & (PAGE_SIZE - 1))
			return -EINVAL;
		if (gpas[i] + sizes[i] < gpas[i])
			return -EINVAL;
		if (i > 0 && gpas[i] < gpas[i - 1] + sizes[i - 1])
			return -EINVAL;
		if (total + sizes[i] < total)
			return -EINVAL;
		total += sizes[i];
	}

	gm->fd = memfd_create("petrel-ram", MFD_CLOEXEC);
	if (gm->fd < 0)
		return -errno;
	if (ftruncate(gm->fd, (off_t)total) < 0) {
		rc = -errno;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct gmem_region *r = &gm->regions[i];
		void *p = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			       gm->fd, (off_t)gm->total);
		if (p == MAP_FAILED) {
			rc = -errno;
			goto out;
		}
		/* Transparent huge pages cut TLB misses for guest RAM; a hint only. */
		madvise(p, sizes[i], MADV_HUGEPAGE);
		r->gpa = gpas[i];
		r->size = sizes[i];
		r->host = p;
		r->fd_off = gm->total;
		gm->total += sizes[i];
		gm->nr_regions++;
	}
	return 0;
out:
	gmem_fini(gm);
	return rc;
}

int gmem_init_x86(struct guest_mem *gm, uint64_t ram_bytes, uint64_t hole_start)
{
	uint64_t gpas[2], sizes[2];
	unsigned n = 1;

	if (ram_bytes == 0 || hole_start == 0 || (hole_start & (PAGE_SIZE - 1)) ||
	    hole_start > (4ull << 30)) {
		memset(gm, 0, sizeof(*gm));
		gm->fd = -1;
		return -EINVAL;
	}
	gpas[0] = 0;
	sizes[0] = MIN(ram_bytes, hole_start);
	if (ram_bytes > hole_start) {
		gpas[1] = 4ull << 30;
		sizes[1] = ram_bytes - hole_start;
		n = 2;
	}
	return gmem_init(gm, gpas, sizes, n);
}

const struct gmem_region *gmem_region_of(const struct guest_mem *gm, uint64_t gpa)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *gmem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = gmem_region_of(gm, gpa);
	uint64_t off;

	if (!r)
		return NULL;
	off = gpa - r->gpa;
	/* Overflow-safe form of off + len <= size. */
	if (len > r->size || off > r->size - len)
		return NULL;
	return r->host + off;
}

bool gmem_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	while (len > 0) {
		const struct gmem_region *r = gmem_region_of(gm, gpa);
		uint64_t chunk;

		if (!r)
			return false;
		chunk = MIN(len, r->size - (gpa - r->gpa));
		len -= chunk;
		if (len > 0 && gpa + chunk < gpa)
			return false;
		gpa += chunk;
	}
	return true;
}

static int gmem_copy(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len,
		     bool to_guest)
{
	uint8_t *p = buf;

	if (!gmem_is_ram(gm, gpa, len))
		return -EFAULT;
	while (len > 0) {
		const struct gmem_region *r = gmem_region_of(gm, gpa);
		uint64_t off = gpa - r->gpa;
		uint64_t chunk = MIN(len, r->size - off);

		if (to_guest)
			memcpy(r->host + off, p, chunk);
		else
			memcpy(p, r->host + off, chunk);
		p += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

int gmem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len)
{
	return gmem_copy(gm, gpa, buf, len, false);
}

int gmem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len)
{
	return gmem_copy(gm, gpa, (void *)buf, len, true);
}
