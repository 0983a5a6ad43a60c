#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/disk.h"
#include "util/log.h"
#include "virtio/blk.h"
#include "virtio_test_driver.h"
#include "vm/machine.h"

#define QSZ VTD_QSZ
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define HDR 0x10000
#define DATA 0x11000
#define STATUS 0x20000
#define DISK_BYTES (64 * 512)

/* A disk in memory that completes inline and records what it was asked. */
struct fake_disk {
	struct disk pub;
	uint8_t data[DISK_BYTES];
	int flushes, discards, zeroes, writes;
	uint64_t last_off, last_len;
	int fail;  /* errno to fail the next request with */
};

static int fake_submit(struct disk *d, struct disk_req *r)
{
	struct fake_disk *f = (struct fake_disk *)d;
	int64_t res = 0;
	uint64_t off = r->offset;

	f->last_off = r->offset;
	f->last_len = r->len;
	if (f->fail) {
		res = -f->fail;
		f->fail = 0;
		r->done(r, res);
		return 0;
	}
	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE:
		for (unsigned i = 0; i < r->niov; i++) {
			assert_true(off + r->iov[i].iov_len <= DISK_BYTES);
			if (r->op == DISK_READ)
				memcpy(r->iov[i].iov_base, f->data + off, r->iov[i].iov_len);
			else
				memcpy(f->data + off, r->iov[i].iov_base, r->iov[i].iov_len);
			off += r->iov[i].iov_len;
			res += (int64_t)r->iov[i].iov_len;
		}
		f->writes += r->op == DISK_WRITE;
		break;
	case DISK_FLUSH:
		f->flushes++;
		break;
	case DISK_DISCARD:
		f->discards++;
		/* fallthrough */
	case DISK_WRITE_ZEROES:
		assert_true(r->offset + r->len <= DISK_BYTES);
		memset(f->data + r->offset, 0, r->len);
		f->zeroes += r->op == DISK_WRITE_ZEROES;
		break;
	}
	r->done(r, res);
	return 0;
}

static void fake_close(struct disk *d)
{
	free(d);
}

static const struct disk_ops fake_ops = { fake_submit, fake_close };

struct rig {
	struct machine m;
	struct fake_disk *disk;
	struct virtio_blk *blk;
	struct virtio_dev *d;
	struct vtd t;  /* the fake driver and transport; queue 0 at DESC/AVAIL/USED */
};

static void rig_make(struct rig *r, bool readonly)
{
	r->disk = calloc(1, sizeof(*r->disk));
	assert_non_null(r->disk);
	r->disk->pub = (struct disk){ .ops = &fake_ops, .size = DISK_BYTES, .discard_ok = true };
	assert_int_equal(virtio_blk_create_disk(&r->m, &r->disk->pub, readonly, "petrel-test", &r->blk), 0);
	r->d = virtio_blk_dev(r->blk);
	vtd_init(&r->t, &r->m, r->d, 1);
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, 0xc0000000), 0);
	rig_make(r, false);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_blk_destroy(r->blk);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static void bring_up_features(struct rig *r, uint64_t features)
{
	vtd_bring_up(&r->t, features, 1);
}

static void bring_up(struct rig *r)
{
	bring_up_features(r, virtio_device_features(r->d) & ~(1ull << VIRTIO_F_EVENT_IDX));
}

/* Post one chain and kick; returns the used length, or -1 when nothing was used. */
/* Post one chain and kick; returns the used length, or -1 when nothing was used (yet). */
static int64_t post(struct rig *r, const struct vtd_desc *ds, unsigned n)
{
	uint16_t before, head, id;
	int64_t len;

	/* Elements an asynchronous backend completed meanwhile were consumed by the caller. */
	assert_int_equal(gmem_read(&r->m.mem, USED + 2, &before, 2), 0);
	r->t.q[0].seen_used = before;
	head = vtd_post(&r->t, 0, ds, n, true);
	len = vtd_used(&r->t, 0, &id);
	if (len < 0)
		return -1;
	assert_int_equal(id, head);
	assert_int_equal(vtd_used(&r->t, 0, NULL), -1); /* exactly one element */
	return len;
}

static void put_hdr(struct rig *r, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	assert_int_equal(gmem_write(&r->m.mem, HDR, h, 16), 0);
}

static uint8_t status(struct rig *r)
{
	uint8_t s;

	assert_int_equal(gmem_read(&r->m.mem, STATUS, &s, 1), 0);
	return s;
}

/* A simple request: header, optional data in `dir`, status. */
static int64_t req(struct rig *r, uint32_t type, uint64_t sector, uint32_t len, bool write)
{
	struct vtd_desc ds[3] = { { HDR, 16, false } };
	unsigned n = 1;

	put_hdr(r, type, sector);
	assert_int_equal(gmem_write(&r->m.mem, STATUS, &(uint8_t){ 0xee }, 1), 0);
	if (len)
		ds[n++] = (struct vtd_desc){ DATA, len, write };
	ds[n++] = (struct vtd_desc){ STATUS, 1, true };
	return post(r, ds, n);
}

static void test_config_and_features(void **state)
{
	struct rig *r = *state;
	uint64_t cap = 0;
	uint32_t seg_max = 0, blk_size = 0, max_discard = 0;
	uint64_t f = virtio_device_features(r->d);

	virtio_config_read(r->d, 0, &cap, 8);
	virtio_config_read(r->d, 12, &seg_max, 4);
	virtio_config_read(r->d, 20, &blk_size, 4);
	virtio_config_read(r->d, 36, &max_discard, 4);
	assert_int_equal(cap, DISK_BYTES / 512);
	assert_int_equal(seg_max, VQ_MAX_IOV - 2);
	assert_int_equal(blk_size, 512);
	assert_true(max_discard > 0);
	assert_true(f & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_true(f & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_true(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(f & (1ull << VIRTIO_BLK_F_RO));
	/* The config space ends at 60 bytes: beyond reads as zero. */
	cap = ~0ull;
	virtio_config_read(r->d, 56, &cap, 8);
	assert_int_equal(cap, 0);
}

static void test_write_then_read(void **state)
{
	struct rig *r = *state;
	uint8_t buf[1024], back[1024];

	bring_up(r);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(gmem_write(&r->m.mem, DATA, buf, sizeof(buf)), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_OUT, 3, 1024, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_memory_equal(r->disk->data + 3 * 512, buf, 1024);
	assert_int_equal(r->disk->writes, 1);

	memset(back, 0, sizeof(back));
	assert_int_equal(gmem_write(&r->m.mem, DATA, back, sizeof(back)), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, 3, 1024, true), 1025);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&r->m.mem, DATA, back, sizeof(back)), 0);
	assert_memory_equal(back, buf, 1024);
	assert_true(r->t.queue_irqs[0] >= 2);

	/* Data split across descriptors, and the last sector of the disk. */
	struct vtd_desc ds[4] = { { HDR, 16, false }, { DATA, 512, true }, { DATA + 4096, 512, true },
			   { STATUS, 1, true } };
	memset(r->disk->data + DISK_BYTES - 1024, 0x77, 1024);
	put_hdr(r, VIRTIO_BLK_T_IN, DISK_BYTES / 512 - 2);
	assert_int_equal(post(r, ds, 4), 1025);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	uint8_t b2;
	assert_int_equal(gmem_read(&r->m.mem, DATA + 4096 + 511, &b2, 1), 0);
	assert_int_equal(b2, 0x77);
}

static void test_flush_get_id_discard_zeroes(void **state)
{
	struct rig *r = *state;
	char id[20];
	uint8_t seg[16] = { 0 };
	uint64_t sector = 4;
	uint32_t n = 2, flags = 0;

	bring_up(r);
	assert_int_equal(req(r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(r->disk->flushes, 1);

	assert_int_equal(req(r, VIRTIO_BLK_T_GET_ID, 0, 20, true), 21);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&r->m.mem, DATA, id, 20), 0);
	assert_string_equal(id, "petrel-test");

	memset(r->disk->data, 0xab, DISK_BYTES);
	memcpy(seg, &sector, 8);
	memcpy(seg + 8, &n, 4);
	memcpy(seg + 12, &flags, 4);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_DISCARD, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(r->disk->discards, 1);
	assert_int_equal(r->disk->last_off, 4 * 512);
	assert_int_equal(r->disk->last_len, 1024);
	assert_int_equal(r->disk->data[4 * 512], 0);
	assert_int_equal(r->disk->data[6 * 512], 0xab);

	sector = 10;
	memcpy(seg, &sector, 8);
	flags = 1; /* UNMAP is allowed for write-zeroes */
	memcpy(seg + 12, &flags, 4);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(r->disk->zeroes, 1);
	assert_int_equal(r->disk->data[10 * 512 + 1023], 0);

	/* ...but not for discard, and unknown flags never. */
	assert_int_equal(req(r, VIRTIO_BLK_T_DISCARD, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	flags = 2;
	memcpy(seg + 12, &flags, 4);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	/* Two segments: we advertised one. */
	assert_int_equal(req(r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	/* Range beyond the disk, and a huge sector that would overflow. */
	flags = 0;
	sector = DISK_BYTES / 512 - 1;
	memcpy(seg, &sector, 8);
	memcpy(seg + 12, &flags, 4);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_DISCARD, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	sector = ~0ull;
	memcpy(seg, &sector, 8);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->disk->discards, 1);
	assert_int_equal(r->disk->zeroes, 1);
}

static void test_bad_requests_get_status(void **state)
{
	struct rig *r = *state;

	bring_up(r);
	/* Past the end, straddling the end, and sector arithmetic that would overflow. */
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, DISK_BYTES / 512, 512, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, DISK_BYTES / 512 - 1, 1024, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(r, VIRTIO_BLK_T_OUT, ~0ull / 512 + 1, 512, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(r, VIRTIO_BLK_T_OUT, ~0ull, 512, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, 0, 100, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	/* Data in the wrong direction. */
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, 0, 512, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(r, VIRTIO_BLK_T_OUT, 0, 512, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(r, VIRTIO_BLK_T_FLUSH, 0, 512, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(r, VIRTIO_BLK_T_GET_ID, 0, 512, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	/* Unknown request types. */
	assert_int_equal(req(r, 99, 0, 0, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(req(r, 0xffffffffu, 0, 512, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	/* A backend error. */
	r->disk->fail = EIO;
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, 0, 512, true), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->disk->writes, 0);
	/* None of this broke the device. */
	assert_true(virtio_dev_live(r->d));
	assert_int_equal(r->t.config_irqs, 0);
}

static void test_features_not_negotiated(void **state)
{
	struct rig *r = *state;
	uint8_t seg[16] = { 0 };

	bring_up_features(r, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_DISCARD, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(req(r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
}

static void test_malformed_chains_break_device(void **state)
{
	struct rig *r = *state;
	struct rig other = { 0 };
	struct vtd_desc short_hdr[2] = { { HDR, 8, false }, { STATUS, 1, true } };
	struct vtd_desc no_status[2] = { { HDR, 16, false }, { DATA, 512, false } };

	other.m.mem = r->m.mem;
	rig_make(&other, false);
	bring_up(r);
	bring_up(&other);

	put_hdr(r, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(post(r, short_hdr, 2), -1);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(virtio_dev_live(r->d));
	assert_int_equal(r->t.config_irqs, 1);

	/* The other device (same guest memory, its own rings there too) still serves. */
	vtd_rings_reset(&r->t);
	memset(r->m.mem.regions[0].host + AVAIL, 0, 0x3000);
	vtd_rings_reset(&other.t);
	assert_int_equal(req(&other, VIRTIO_BLK_T_FLUSH, 0, 0, false), 1);
	assert_int_equal(status(&other), VIRTIO_BLK_S_OK);
	virtio_blk_destroy(other.blk);

	/* After a reset the first device serves again, then breaks on a chain with no status. */
	virtio_set_status(r->d, 0);
	memset(r->m.mem.regions[0].host + AVAIL, 0, 0x3000);
	vtd_rings_reset(&r->t);
	bring_up(r);
	assert_int_equal(req(r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(post(r, no_status, 2), -1);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->t.config_irqs, 2);
}

static void test_readonly(void **state)
{
	struct rig *r = *state;
	uint8_t seg[16] = { 0 };

	virtio_blk_destroy(r->blk);
	rig_make(r, true);
	uint64_t f = virtio_device_features(r->d);
	assert_true(f & (1ull << VIRTIO_BLK_F_RO));
	assert_false(f & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_false(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	bring_up(r);
	assert_int_equal(req(r, VIRTIO_BLK_T_OUT, 0, 512, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r->disk->writes, 0);
	assert_int_equal(gmem_write(&r->m.mem, DATA, seg, 16), 0);
	assert_int_equal(req(r, VIRTIO_BLK_T_DISCARD, 0, 16, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(req(r, VIRTIO_BLK_T_IN, 0, 512, true), 513);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(req(r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 1);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
}

/* The real raw backend, through the device: data, flush, and the image lock. */
static void test_raw_image_end_to_end(void **state)
{
	struct rig *r = *state;
	char path[] = "/tmp/petrel-blk-XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	struct virtio_blk *second;
	uint8_t buf[512], back[512];
	uint16_t used_idx, want;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	virtio_blk_destroy(r->blk);
	assert_int_equal(virtio_blk_create(&r->m, path, false, &r->blk, err, sizeof(err)), 0);
	r->d = virtio_blk_dev(r->blk);
	vtd_init(&r->t, &r->m, r->d, 1);
	assert_int_equal(virtio_blk_create(&r->m, path, false, &second, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "in use by another VM"));
	assert_int_equal(virtio_blk_create(&r->m, path, true, &second, err, sizeof(err)), -EBUSY);

	bring_up(r);
	memset(buf, 0x3c, sizeof(buf));
	assert_int_equal(gmem_write(&r->m.mem, DATA, buf, sizeof(buf)), 0);
	put_hdr(r, VIRTIO_BLK_T_OUT, 7);
	struct vtd_desc ds[3] = { { HDR, 16, false }, { DATA, 512, false }, { STATUS, 1, true } };
	post(r, ds, 3); /* completes on an I/O thread: poll the used index */
	want = 1;
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(gmem_read(&r->m.mem, USED + 2, &used_idx, 2), 0);
		if (used_idx == want)
			break;
		usleep(1000);
	}
	assert_int_equal(used_idx, want);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(fd, back, 512, 7 * 512), 512);
	assert_memory_equal(back, buf, 512);
	put_hdr(r, VIRTIO_BLK_T_FLUSH, 0);
	struct vtd_desc fl[2] = { { HDR, 16, false }, { STATUS, 1, true } };
	post(r, fl, 2);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(gmem_read(&r->m.mem, USED + 2, &used_idx, 2), 0);
		if (used_idx == 2)
			break;
		usleep(1000);
	}
	assert_int_equal(used_idx, 2);
	assert_int_equal(status(r), VIRTIO_BLK_S_OK);
	close(fd);
	unlink(path);
}

/* A reset with requests in flight on the real backend: the device waits them out, no crash. */
static void test_reset_with_requests_in_flight(void **state)
{
	struct rig *r = *state;
	char path[] = "/tmp/petrel-blk-XXXXXX", err[256] = "";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	virtio_blk_destroy(r->blk);
	assert_int_equal(virtio_blk_create(&r->m, path, false, &r->blk, err, sizeof(err)), 0);
	r->d = virtio_blk_dev(r->blk);
	vtd_init(&r->t, &r->m, r->d, 1);
	for (int round = 0; round < 20; round++) {
		memset(r->m.mem.regions[0].host + DESC, 0, 0x3000);
		vtd_rings_reset(&r->t);
		bring_up(r);
		/* Five 64 KiB reads, one chain each (3 descriptors), then an immediate reset. */
		for (uint16_t i = 0; i < 5; i++) {
			uint16_t head = (uint16_t)(i * 3);
			uint64_t hdr = HDR + 64ull * i, st = STATUS + i;
			uint64_t sector = 128ull * i;
			uint32_t type = VIRTIO_BLK_T_IN;
			struct { uint64_t a; uint32_t l; uint16_t f, n; } ds[3] = {
				{ hdr, 16, 1, (uint16_t)(head + 1) },
				{ 0x40000 + 0x10000ull * i, 0x10000, 3, (uint16_t)(head + 2) },
				{ st, 1, 2, 0 } };
			assert_int_equal(gmem_write(&r->m.mem, hdr, &type, 4), 0);
			assert_int_equal(gmem_write(&r->m.mem, hdr + 8, &sector, 8), 0);
			assert_int_equal(gmem_write(&r->m.mem, DESC + 16ull * head, ds, sizeof(ds)), 0);
			assert_int_equal(gmem_write(&r->m.mem, AVAIL + 4 + 2ull * i, &head, 2), 0);
		}
		r->t.q[0].avail_idx = 5;
		assert_int_equal(gmem_write(&r->m.mem, AVAIL + 2, &r->t.q[0].avail_idx, 2), 0);
		virtio_queue_notify(r->d, 0);
		virtio_set_status(r->d, 0);
		assert_int_equal(r->d->status, 0);
	}
	close(fd);
	unlink(path);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config_and_features),
		T(test_write_then_read),
		T(test_flush_get_id_discard_zeroes),
		T(test_bad_requests_get_status),
		T(test_features_not_negotiated),
		T(test_malformed_chains_break_device),
		T(test_readonly),
		T(test_raw_image_end_to_end),
		T(test_reset_with_requests_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
