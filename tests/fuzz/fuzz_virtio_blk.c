/*
 * Fuzz the virtio-blk request parser: the input is guest memory holding a
 * ring of 8 entries packed at the start (descriptors at 0, available ring at
 * 128, used ring at 160, so short inputs reach the parser) and the requests'
 * headers and data. The fake disk traps on any
 * access outside the disk, so a range check the device forgot shows up as a
 * crash; a malformed chain must end in DEVICE_NEEDS_RESET, never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/disk.h"
#include "util/log.h"
#include "virtio/blk.h"
#include "vm/machine.h"

#define RAM_SIZE (64 * 1024)
#define DISK_BYTES (64 * 512)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_disk {
	struct disk pub;
	uint8_t bytes[DISK_BYTES];
};

static int fd_submit(struct disk *d, struct disk_req *r)
{
	struct fuzz_disk *f = (struct fuzz_disk *)d;
	uint64_t off = r->offset, total = 0;

	if (r->op == DISK_READ || r->op == DISK_WRITE) {
		for (unsigned i = 0; i < r->niov; i++) {
			if (off > DISK_BYTES || r->iov[i].iov_len > DISK_BYTES - off)
				__builtin_trap();
			if (r->op == DISK_READ)
				memcpy(r->iov[i].iov_base, f->bytes + off, r->iov[i].iov_len);
			else
				memcpy(f->bytes + off, r->iov[i].iov_base, r->iov[i].iov_len);
			off += r->iov[i].iov_len;
			total += r->iov[i].iov_len;
		}
	} else if (r->op == DISK_DISCARD || r->op == DISK_WRITE_ZEROES) {
		if (r->offset > DISK_BYTES || r->len > DISK_BYTES - r->offset)
			__builtin_trap();
		memset(f->bytes + r->offset, 0, r->len);
	}
	r->done(r, (int64_t)total);
	return 0;
}

static void fd_close(struct disk *d)
{
	free(d);
}

static const struct disk_ops fuzz_disk_ops = { fd_submit, fd_close };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine m;
	struct fuzz_disk *disk;
	struct virtio_blk *b;
	struct virtio_dev *d;
	struct virtio_queue_cfg c = { .size = 8, .enabled = true, .desc = 0, .avail = 128,
				      .used = 160 };
	uint8_t flags;

	if (size < 1)
		return 0;
	log_set_level(LOG_ERROR);
	if (!m.mem.nr_regions && gmem_init_x86(&m.mem, RAM_SIZE, 0xc0000000) < 0)
		return 0;
	flags = data[0];
	memset(m.mem.regions[0].host, 0, RAM_SIZE);
	memcpy(m.mem.regions[0].host, data + 1, size - 1 > RAM_SIZE ? RAM_SIZE : size - 1);

	disk = calloc(1, sizeof(*disk));
	if (!disk)
		return 0;
	disk->pub = (struct disk){ .ops = &fuzz_disk_ops, .size = DISK_BYTES, .discard_ok = true };
	if (virtio_blk_create_disk(&m, &disk->pub, flags & 1, "fuzz", &b) < 0) {
		free(disk);
		return 0;
	}
	d = virtio_blk_dev(b);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* Let the input choose which offered features the driver takes. */
	virtio_set_driver_features(d, virtio_device_features(d) &
				       ((1ull << VIRTIO_F_VERSION_1) |
					((flags & 2) ? ~0ull : 0) |
					((flags & 4) ? 1ull << VIRTIO_F_INDIRECT_DESC : 0)));
	virtio_set_status(d, d->status | VIRTIO_STATUS_FEATURES_OK);
	virtio_queue_set(d, 0, &c);
	virtio_set_status(d, d->status | VIRTIO_STATUS_DRIVER_OK);
	virtio_queue_notify(d, 0);
	virtio_queue_notify(d, 0);
	virtio_blk_destroy(b);
	return 0;
}
