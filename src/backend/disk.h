/*
 * Disk backends: an ops table so virtio-blk can be tested with a fake disk.
 * Requests are asynchronous: submit() queues one and its done() callback
 * runs later, on any thread (possibly inside submit() itself).
 */
#ifndef PETREL_BACKEND_DISK_H
#define PETREL_BACKEND_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk;

enum disk_op {
	DISK_READ,
	DISK_WRITE,
	DISK_FLUSH,        /* fdatasync: completed writes are durable */
	DISK_DISCARD,      /* the range may read back as anything; space is freed */
	DISK_WRITE_ZEROES, /* the range reads back as zeroes */
};

struct disk_req {
	enum disk_op op;
	uint64_t offset;             /* bytes; READ/WRITE/DISCARD/WRITE_ZEROES */
	uint64_t len;                /* DISCARD/WRITE_ZEROES length in bytes */
	const struct iovec *iov;     /* READ/WRITE buffers */
	unsigned niov;
	/* res: bytes transferred (READ/WRITE), 0, or a negative errno. */
	void (*done)(struct disk_req *r, int64_t res);
	void *opaque;
	struct disk_req *next;       /* backend-private queue link */
};

struct disk_ops {
	int (*submit)(struct disk *d, struct disk_req *r);
	/* Wait for requests in flight, then free the disk. */
	void (*close)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	uint64_t size;               /* bytes */
	bool readonly;
	bool discard_ok;             /* fallocate(PUNCH_HOLE) works on this image */
};

enum disk_raw_engine {
	DISK_ENGINE_AUTO,            /* io_uring when the kernel allows it, else threads */
	DISK_ENGINE_URING,
	DISK_ENGINE_THREADS,
};

/*
 * Open a raw image. Takes flock(LOCK_EX) (LOCK_SH when read-only) so two VMs
 * cannot write one image: -EBUSY with a message in err when another holds it.
 */
int disk_raw_open(const char *path, bool readonly, enum disk_raw_engine engine,
		  struct disk **out, char *err, size_t errlen);
/* Which engine a raw disk ended up with (DISK_ENGINE_URING or _THREADS). */
enum disk_raw_engine disk_raw_engine(struct disk *d);

/*
 * Reads and writes the page cache serves without blocking complete inside
 * submit() on the caller's thread (RWF_NOWAIT); on by default. Off sends
 * every request to the engine (tests of the engines themselves).
 */
void disk_raw_set_inline(struct disk *d, bool on);

static inline int disk_submit(struct disk *d, struct disk_req *r)
{
	return d->ops->submit(d, r);
}

static inline void disk_close(struct disk *d)
{
	if (d && d->ops && d->ops->close)
		d->ops->close(d);
}

#endif
