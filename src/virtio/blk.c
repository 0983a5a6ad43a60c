#include "virtio/blk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/disk.h"
#include "util/compiler.h"
#include "util/log.h"

#define BLK_QUEUE_MAX 256
#define SECTOR 512ull

/* Config space layout (virtio 1.2, 5.2.4), little-endian like the host. */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

_Static_assert(sizeof(struct blk_config) == 60, "virtio-blk config layout");

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_dwz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
#define DWZ_F_UNMAP 1u

struct virtio_blk;

struct blk_req {
	struct virtio_blk *b;
	struct disk_req dr;
	uint32_t type;
	uint64_t expect;        /* bytes the disk must transfer */
	uint32_t gen;           /* device generation at submission (reset drops stale ones) */
	struct iovec data[VQ_MAX_IOV];
	struct vq_elem elem;
};

struct virtio_blk {
	struct virtio_dev dev;
	struct virtio_dev_ops ops;  /* per device: features depend on the disk */
	struct disk *disk;
	bool readonly;
	uint64_t capacity;          /* sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	struct blk_config cfg;

	pthread_mutex_t qlock;      /* vq_pop/vq_push/interrupt decisions, inflight, gen */
	uint64_t read_bytes, write_bytes; /* completed data bytes (petreld metrics), qlock */
	pthread_cond_t drained;
	unsigned inflight;
	uint32_t gen;
};

/* Copy the iovec range [skip, skip+len) of iov[0..n) into out; returns entries used. */
static unsigned iov_slice(const struct iovec *iov, unsigned n, uint64_t skip, uint64_t len,
			  struct iovec *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len > 0; i++) {
		uint64_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = (size_t)MIN(l - skip, len);
		len -= out[k].iov_len;
		skip = 0;
		k++;
	}
	return k;
}

/* Write the status byte (last writable byte) and return the chain to the driver. */
static void blk_complete(struct blk_req *r, uint8_t status, uint32_t written)
{
	struct virtio_blk *b = r->b;
	struct vq_elem *e = &r->elem;

	pthread_mutex_lock(&b->qlock);
	if (status == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_IN)
		b->read_bytes += r->expect;
	else if (status == VIRTIO_BLK_S_OK && r->type == VIRTIO_BLK_T_OUT)
		b->write_bytes += r->expect;
	if (r->gen == b->gen) {
		vq_buf_to_iov(&e->iov[e->nr_out], e->nr_in, e->in_len - 1u, &status, 1);
		if (vq_push(&b->dev.vq[0], e->head, written + 1) == 0)
			virtio_queue_done(&b->dev, 0);
	}
	if (--b->inflight == 0)
		pthread_cond_broadcast(&b->drained);
	pthread_mutex_unlock(&b->qlock);
	free(r);
}

static void blk_disk_done(struct disk_req *dr, int64_t res)
{
	struct blk_req *r = dr->opaque;
	bool ok = res >= 0 && (uint64_t)res == r->expect;

	if (!ok && res < 0)
		log_ratelimited(LOG_WARN, "virtio-blk: I/O error: %s", strerror((int)-res));
	/* Reads report the data bytes as written, besides the status byte. */
	blk_complete(r, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
		     ok && r->type == VIRTIO_BLK_T_IN ? (uint32_t)r->expect : 0);
}

/* Whether [sector, sector + bytes/512) lies on the disk; no sum can overflow. */
static bool blk_range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->capacity && bytes / SECTOR <= b->capacity - sector;
}

static void blk_submit(struct blk_req *r, enum disk_op op, uint64_t offset, uint64_t len,
		       unsigned niov)
{
	int rc;

	r->dr = (struct disk_req){ .op = op, .offset = offset, .len = len, .iov = r->data,
				   .niov = niov, .done = blk_disk_done, .opaque = r };
	rc = disk_submit(r->b->disk, &r->dr);
	if (rc < 0)
		blk_complete(r, VIRTIO_BLK_S_IOERR, 0);
}

/*
 * Discard and write-zeroes carry one {sector, num_sectors, flags} segment
 * (we advertise max_*_seg = 1).
 */
static void blk_dwz(struct blk_req *r, uint64_t data_len)
{
	struct virtio_blk *b = r->b;
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	struct blk_dwz_seg seg;
	uint32_t max = discard ? b->cfg.max_discard_sectors : b->cfg.max_write_zeroes_sectors;

	if (!virtio_has_feature(&b->dev, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)) {
		blk_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
		return;
	}
	/* Guest-controlled segment list: exactly one 16-byte segment. */
	if (data_len != sizeof(seg) || r->elem.in_len != 1) {
		blk_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
		return;
	}
	vq_iov_to_buf(r->elem.iov, r->elem.nr_out, sizeof(struct blk_hdr), &seg, sizeof(seg));
	/* Unknown flags are UNSUPP; discard with UNMAP too (spec 5.2.6.2). */
	if ((seg.flags & ~DWZ_F_UNMAP) || (discard && (seg.flags & DWZ_F_UNMAP))) {
		blk_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
		return;
	}
	/* Guest-controlled range: within the limit we advertised and within the disk. */
	if (b->readonly || seg.num_sectors > max ||
	    !blk_range_ok(b, seg.sector, (uint64_t)seg.num_sectors * SECTOR)) {
		blk_complete(r, VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	r->expect = 0;
	blk_submit(r, discard ? DISK_DISCARD : DISK_WRITE_ZEROES, seg.sector * SECTOR,
		   (uint64_t)seg.num_sectors * SECTOR, 0);
}

/*
 * Handle one popped chain. The virtqueue has checked that every buffer lies
 * in RAM and that readable buffers precede writable ones; what remains
 * guest-controlled is the header and the lengths.
 */
static void blk_handle(struct blk_req *r)
{
	struct virtio_blk *b = r->b;
	struct vq_elem *e = &r->elem;
	struct blk_hdr h;
	uint64_t out_data, in_data;
	unsigned n;

	/* A chain without a readable header or a writable status byte is malformed. */
	if (e->out_len < sizeof(h) || e->in_len < 1) {
		pthread_mutex_lock(&b->qlock);
		b->inflight--;
		pthread_mutex_unlock(&b->qlock);
		free(r);
		virtio_dev_broken(&b->dev, "request without header or status byte");
		return;
	}
	vq_iov_to_buf(e->iov, e->nr_out, 0, &h, sizeof(h));
	r->type = h.type;
	out_data = e->out_len - sizeof(h);
	in_data = e->in_len - 1u;

	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		/* Data direction must match: a read carries no readable payload. */
		if (out_data != 0 || in_data % SECTOR || !blk_range_ok(b, h.sector, in_data)) {
			blk_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return;
		}
		n = iov_slice(&e->iov[e->nr_out], e->nr_in, 0, in_data, r->data);
		r->expect = in_data;
		blk_submit(r, DISK_READ, h.sector * SECTOR, in_data, n);
		return;
	case VIRTIO_BLK_T_OUT:
		if (b->readonly || in_data != 0 || out_data % SECTOR ||
		    !blk_range_ok(b, h.sector, out_data)) {
			blk_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return;
		}
		n = iov_slice(e->iov, e->nr_out, sizeof(h), out_data, r->data);
		r->expect = out_data;
		blk_submit(r, DISK_WRITE, h.sector * SECTOR, out_data, n);
		return;
	case VIRTIO_BLK_T_FLUSH:
		if (out_data != 0 || in_data != 0) {
			blk_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return;
		}
		r->expect = 0;
		blk_submit(r, DISK_FLUSH, 0, 0, 0);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		/* The id is up to 20 bytes; a shorter buffer gets what fits. */
		uint32_t len = (uint32_t)MIN(in_data, (uint64_t)VIRTIO_BLK_ID_BYTES);
		if (out_data != 0) {
			blk_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return;
		}
		vq_buf_to_iov(&e->iov[e->nr_out], e->nr_in, 0, b->serial, len);
		blk_complete(r, VIRTIO_BLK_S_OK, len);
		return;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		blk_dwz(r, out_data);
		return;
	default:
		blk_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
		return;
	}
}

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_blk *b = d->priv;

	for (;;) {
		struct blk_req *r = malloc(sizeof(*r));
		int rc;

		if (!r) {
			log_ratelimited(LOG_ERROR, "virtio-blk: out of memory for requests");
			return;
		}
		pthread_mutex_lock(&b->qlock);
		rc = vq_pop(&d->vq[0], &r->elem);
		if (rc > 0) {
			b->inflight++;
			r->gen = b->gen;
		}
		pthread_mutex_unlock(&b->qlock);
		if (rc <= 0) {
			/* rc < 0: the queue broke and the core set DEVICE_NEEDS_RESET. */
			free(r);
			return;
		}
		r->b = b;
		blk_handle(r);
	}
}

static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;

	/* Requests in flight finish into the void: the driver forgot them. */
	pthread_mutex_lock(&b->qlock);
	b->gen++;
	while (b->inflight)
		pthread_cond_wait(&b->drained, &b->qlock);
	pthread_mutex_unlock(&b->qlock);
}

static void blk_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_blk *b = d->priv;

	memcpy(buf, (const uint8_t *)&b->cfg + off, len);
}

static void blk_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	/* Only `writeback` is writable, and only with CONFIG_WCE, which we do not offer. */
}

int virtio_blk_create_disk(struct machine *m, struct disk *disk, bool readonly,
			   const char *serial, struct virtio_blk **out)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return -ENOMEM;
	b->disk = disk;
	b->readonly = readonly || disk->readonly;
	b->capacity = disk->size / SECTOR;
	if (serial)
		/* Not NUL-terminated when the serial fills all 20 bytes (as the spec allows). */
		memcpy(b->serial, serial, MIN(strlen(serial), sizeof(b->serial)));

	b->cfg.capacity = b->capacity;
	b->cfg.seg_max = VQ_MAX_IOV - 2; /* header and status take one each */
	b->cfg.blk_size = SECTOR;
	b->cfg.num_queues = 1;
	b->cfg.max_discard_sectors = VIRTIO_BLK_MAX_DISCARD_SECTORS;
	b->cfg.max_discard_seg = 1;
	b->cfg.discard_sector_alignment = 8; /* 4 KiB, the host page the hole punch frees */
	b->cfg.max_write_zeroes_sectors = VIRTIO_BLK_MAX_DISCARD_SECTORS;
	b->cfg.max_write_zeroes_seg = 1;

	b->ops = (struct virtio_dev_ops){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.nr_queues = 1,
		.queue_max = BLK_QUEUE_MAX,
		.features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ull << VIRTIO_BLK_F_FLUSH),
		.config_size = sizeof(struct blk_config),
		.config_read = blk_config_read,
		.config_write = blk_config_write,
		.reset = blk_reset,
		.notify = blk_notify,
	};
	if (b->readonly)
		b->ops.features |= 1ull << VIRTIO_BLK_F_RO;
	else
		b->ops.features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (!b->readonly && disk->discard_ok)
		b->ops.features |= 1ull << VIRTIO_BLK_F_DISCARD;

	pthread_mutex_init(&b->qlock, NULL);
	pthread_cond_init(&b->drained, NULL);
	rc = virtio_dev_init(&b->dev, m, &b->ops, b);
	if (rc < 0) {
		pthread_mutex_destroy(&b->qlock);
		pthread_cond_destroy(&b->drained);
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int virtio_blk_create(struct machine *m, const char *path, bool readonly,
		      struct virtio_blk **out, char *err, size_t errlen)
{
	struct disk *disk;
	const char *base = strrchr(path, '/');
	int rc = disk_raw_open(path, readonly, DISK_ENGINE_AUTO, &disk, err, errlen);

	if (rc < 0)
		return rc;
	/* The serial the guest sees (/sys/block/vda/serial): the image's file name. */
	rc = virtio_blk_create_disk(m, disk, readonly, base ? base + 1 : path, out);
	if (rc < 0) {
		disk_close(disk);
		snprintf(err, errlen, "cannot create virtio-blk: %s", strerror(-rc));
	}
	return rc;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->qlock);
	while (b->inflight)
		pthread_cond_wait(&b->drained, &b->qlock);
	pthread_mutex_unlock(&b->qlock);
	disk_close(b->disk);
	virtio_dev_fini(&b->dev);
	pthread_mutex_destroy(&b->qlock);
	pthread_cond_destroy(&b->drained);
	free(b);
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *b)
{
	return &b->dev;
}

void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *st)
{
	pthread_mutex_lock(&b->qlock);
	st->read_bytes = b->read_bytes;
	st->write_bytes = b->write_bytes;
	pthread_mutex_unlock(&b->qlock);
}
