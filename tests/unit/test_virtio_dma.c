/*
 * Device writes into guest RAM (DMA) and the software CPU's decoded-block
 * cache: the virtqueue reports each returned chain's writable ranges before
 * it publishes the used index, the emu engine queues them per vCPU
 * (range_inbox) and drops the code it decoded from those pages before it
 * runs on. The end-to-end case is the one Linux hits: a virtio-blk read
 * lands in a page the CPU had executed, and the CPU must run the new bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/accel.h"
#include "backend/disk.h"
#include "util/log.h"
#include "util/range_inbox.h"
#include "virtio/blk.h"
#include "virtio/rng.h"
#include "virtio_test_driver.h"
#include "vm/machine.h"

/* --- range_inbox --- */

struct seen {
	unsigned n, all;
	uint64_t gpa[8], len[8];
};

static void seen_range(void *opaque, uint64_t gpa, uint64_t len)
{
	struct seen *s = opaque;

	if (s->n < 8) {
		s->gpa[s->n] = gpa;
		s->len[s->n] = len;
	}
	s->n++;
}

static void seen_all(void *opaque)
{
	((struct seen *)opaque)->all++;
}

static void test_inbox_merges_and_drains(void **state)
{
	struct range_inbox *q = malloc(sizeof(*q));
	struct seen s = { 0 };

	assert_non_null(q);
	range_inbox_init(q);
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 0);
	range_inbox_add(q, 0x5000, 0); /* ignored */
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 0);
	/* Two pieces of one buffer merge by page; a far range stays apart. */
	range_inbox_add(q, 0x10010, 0x100);
	range_inbox_add(q, 0x10200, 0x1000); /* to 0x111ff: pages 0x10-0x11 */
	range_inbox_add(q, 0x12000, 1);      /* adjacent page: merges */
	range_inbox_add(q, 0x40000, 0x2000);
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 2);
	assert_int_equal(s.gpa[0], 0x10000);
	assert_int_equal(s.len[0], 0x3000);
	assert_int_equal(s.gpa[1], 0x40000);
	assert_int_equal(s.len[1], 0x2000);
	assert_int_equal(s.all, 0);
	/* Drained: nothing left. */
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 0);
	/* A range running past 2^64 is clipped, not wrapped. */
	memset(&s, 0, sizeof(s));
	range_inbox_add(q, UINT64_MAX - 0xfff, 0x10000);
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 1);
	assert_int_equal(s.gpa[0], UINT64_MAX - 0xfff);
	assert_int_equal(s.len[0], 0x1000);
	range_inbox_fini(q);
	free(q);
}

static void test_inbox_overflow_means_all(void **state)
{
	struct range_inbox *q = malloc(sizeof(*q));
	struct seen s = { 0 };

	assert_non_null(q);
	range_inbox_init(q);
	for (unsigned i = 0; i <= RANGE_INBOX_CAP; i++)
		range_inbox_add(q, 0x2000ull * i, 0x1000); /* every other page: no merging */
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 1);
	assert_int_equal(s.all, 1);
	assert_int_equal(s.n, 0);
	/* Back to ranges after the drain. */
	range_inbox_add(q, 0x3000, 0x10);
	assert_int_equal(range_inbox_drain(q, seen_range, seen_all, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.all, 1);
	range_inbox_fini(q);
	free(q);
}

/* --- the virtqueue reports writable ranges, before the used index moves --- */

struct hook_rig {
	struct machine m;
	struct vtd t;
	struct seen s;
	uint16_t used_idx_at_call[8];
};

static struct hook_rig *hook_rig_of(struct machine *m)
{
	return (struct hook_rig *)((char *)m - offsetof(struct hook_rig, m));
}

static void record_dma(struct machine *m, uint64_t gpa, uint64_t len)
{
	struct hook_rig *r = hook_rig_of(m);

	if (r->s.n < 8)
		assert_int_equal(gmem_read(&m->mem, r->t.q[0].used + 2, &r->used_idx_at_call[r->s.n], 2),
				 0);
	seen_range(&r->s, gpa, len);
}

static void test_virtqueue_reports_device_writes(void **state)
{
	struct hook_rig *r = calloc(1, sizeof(*r));
	struct virtio_rng *rng;
	uint16_t id, head;

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, 0xc0000000), 0);
	r->m.dma_written = record_dma; /* as an engine with a code cache sets it */
	assert_int_equal(virtio_rng_create(&r->m, &rng), 0);
	vtd_init(&r->t, &r->m, virtio_rng_dev(rng), 1);
	vtd_bring_up(&r->t, 1ull << VIRTIO_F_VERSION_1, 1);

	/* Two writable buffers, one crossing a page boundary. */
	struct vtd_desc ds[2] = { { 0x30ff0, 0x20, true }, { 0x50000, 0x10, true } };
	head = vtd_post(&r->t, 0, ds, 2, true);
	assert_int_equal(vtd_used(&r->t, 0, &id), 0x30);
	assert_int_equal(id, head);
	assert_int_equal(r->s.n, 2);
	assert_int_equal(r->s.gpa[0], 0x30ff0);
	assert_int_equal(r->s.len[0], 0x20);
	assert_int_equal(r->s.gpa[1], 0x50000);
	assert_int_equal(r->s.len[1], 0x10);
	/* Reported while the driver could not yet see the element. */
	assert_int_equal(r->used_idx_at_call[0], 0);
	assert_int_equal(r->used_idx_at_call[1], 0);

	/* No engine hook (KVM): the queue records nothing. */
	virtio_set_status(r->t.d, 0);
	vtd_rings_reset(&r->t);
	memset(r->m.mem.regions[0].host + 0x1000, 0, 0x3000);
	r->m.dma_written = NULL;
	vtd_bring_up(&r->t, 1ull << VIRTIO_F_VERSION_1, 1);
	assert_null(r->t.d->vq[0].on_written);
	vtd_post(&r->t, 0, ds, 1, true);
	assert_int_equal(vtd_used(&r->t, 0, NULL), 0x20);
	assert_int_equal(r->s.n, 2);

	virtio_rng_destroy(rng);
	gmem_fini(&r->m.mem);
	free(r);
}

/* --- end to end: a virtio-blk read replaces code the emu CPU has run --- */

#define CODE 0x8000

/* A one-sector disk holding the new code; reads complete inline. */
struct code_disk {
	struct disk pub;
	uint8_t sector[512];
};

static int code_disk_submit(struct disk *d, struct disk_req *r)
{
	struct code_disk *c = (struct code_disk *)d;
	int64_t res = 0;

	if (r->op == DISK_READ && r->offset == 0 && r->niov == 1 && r->iov[0].iov_len == 512) {
		memcpy(r->iov[0].iov_base, c->sector, 512);
		res = 512;
	} else {
		res = -EIO;
	}
	r->done(r, res);
	return 0;
}

static void code_disk_close(struct disk *d)
{
	free(d);
}

static const struct disk_ops code_disk_ops = { code_disk_submit, code_disk_close };

static uint64_t run_to_halt(struct accel_vcpu *v)
{
	struct accel_exit e;
	struct x86_vcpu_state s;

	for (int i = 0; i < 100; i++) {
		assert_int_equal(accel_emu_ops.vcpu_run(v, &e), 0);
		if (e.kind == ACCEL_EXIT_HALT)
			break;
		assert_true(e.kind == ACCEL_EXIT_NONE || e.kind == ACCEL_EXIT_INTR);
	}
	assert_int_equal(e.kind, ACCEL_EXIT_HALT);
	assert_int_equal(accel_emu_ops.get_state(v, &s), 0);
	return s.gpr[X86_RAX] & 0xffff;
}

static void test_blk_read_over_code_reaches_emu_cpu(void **state)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct accel_vcpu *v = NULL;
	struct x86_vcpu_state s;
	struct code_disk *disk = calloc(1, sizeof(*disk));
	struct virtio_blk *blk;
	struct vtd t;
	/* Real mode at CODE: mov ax, imm16; hlt; jmp CODE (so each run passes CODE again). */
	const uint8_t old_code[] = { 0xb8, 0x34, 0x12, 0xf4, 0xeb, 0xfa };
	const uint8_t new_code[] = { 0xb8, 0x78, 0x56, 0xf4, 0xeb, 0xfa };
	uint8_t hdr[16] = { 0 }; /* VIRTIO_BLK_T_IN, sector 0 */
	uint8_t status = 0xee;

	assert_non_null(m);
	assert_non_null(disk);
	log_set_level(LOG_ERROR);
	m->mem.fd = -1;
	m->nr_cpus = 1;
	m->accel = &accel_emu_ops;
	assert_int_equal(gmem_init_x86(&m->mem, 1 << 20, 0xc0000000), 0);
	assert_int_equal(iobus_init(&m->pio, "pio"), 0);
	assert_int_equal(iobus_init(&m->mmio, "mmio"), 0);
	assert_int_equal(irq_router_init(&m->irq), 0);
	assert_int_equal(accel_emu_ops.vm_init(m, &m->accel_vm), 0);
	assert_non_null(m->dma_written);
	assert_int_equal(accel_emu_ops.vcpu_init(m->accel_vm, 0, &v), 0);

	assert_int_equal(gmem_write(&m->mem, CODE, old_code, sizeof(old_code)), 0);
	assert_int_equal(accel_emu_ops.get_state(v, &s), 0);
	s.rip = CODE;
	s.seg[X86_SEG_CS].selector = 0;
	s.seg[X86_SEG_CS].base = 0;
	assert_int_equal(accel_emu_ops.set_state(v, &s), 0);
	assert_int_equal(run_to_halt(v), 0x1234);
	assert_int_equal(run_to_halt(v), 0x1234); /* now from the decoded-block cache */

	/* The guest reads sector 0 of a virtio-blk disk into the code page. */
	disk->pub = (struct disk){ .ops = &code_disk_ops, .size = 512 };
	memcpy(disk->sector, new_code, sizeof(new_code));
	assert_int_equal(virtio_blk_create_disk(m, &disk->pub, true, "code", &blk), 0);
	vtd_init(&t, m, virtio_blk_dev(blk), 1);
	vtd_bring_up(&t, 1ull << VIRTIO_F_VERSION_1, 1);
	struct vtd_desc ds[3] = {
		{ vtd_put(&t, hdr, sizeof(hdr)), sizeof(hdr), false },
		{ CODE, 512, true },
		{ vtd_put(&t, &status, 1), 1, true },
	};
	vtd_post(&t, 0, ds, 3, true);
	assert_int_equal(vtd_used(&t, 0, NULL), 513);
	assert_int_equal(gmem_read(&m->mem, ds[2].addr, &status, 1), 0);
	assert_int_equal(status, 0); /* VIRTIO_BLK_S_OK */

	/* The CPU runs the bytes the device wrote, not the blocks it had decoded. */
	assert_int_equal(run_to_halt(v), 0x5678);

	virtio_blk_destroy(blk);
	accel_emu_ops.vcpu_fini(v);
	accel_emu_ops.vm_fini(m->accel_vm);
	assert_null(m->dma_written);
	irq_router_fini(&m->irq);
	iobus_fini(&m->mmio);
	iobus_fini(&m->pio);
	gmem_fini(&m->mem);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbox_merges_and_drains),
		cmocka_unit_test(test_inbox_overflow_means_all),
		cmocka_unit_test(test_virtqueue_reports_device_writes),
		cmocka_unit_test(test_blk_read_over_code_reaches_emu_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
