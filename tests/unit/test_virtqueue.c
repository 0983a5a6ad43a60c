#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mem/guest_mem.h"
#include "virtio/virtqueue.h"

#define QSZ 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define RAM (1 << 20)

struct rig {
	struct guest_mem gm;
	struct virtqueue vq, other;
	int broken_calls;
	struct vq_elem e;
};

static void on_broken(void *opaque)
{
	((struct rig *)opaque)->broken_calls++;
}

static void put_desc(struct rig *r, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gmem_write(&r->gm, table + 16ull * i, d, 16), 0);
}

static void put16(struct rig *r, uint64_t gpa, uint16_t v)
{
	assert_int_equal(gmem_write(&r->gm, gpa, &v, 2), 0);
}

static uint16_t get16(struct rig *r, uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(gmem_read(&r->gm, gpa, &v, 2), 0);
	return v;
}

/* Make head `head` available as the n-th entry and publish avail->idx = n + 1. */
static void offer(struct rig *r, unsigned n, uint16_t head)
{
	put16(r, AVAIL + 4 + 2 * (n % QSZ), head);
	put16(r, AVAIL + 2, (uint16_t)(n + 1));
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(gmem_init_x86(&r->gm, RAM, 0xc0000000), 0);
	vq_init(&r->vq, &r->gm, 256, "test-vq");
	r->vq.on_broken = on_broken;
	r->vq.opaque = r;
	assert_int_equal(vq_enable(&r->vq, QSZ, DESC, AVAIL, USED, true, false), 0);
	vq_init(&r->other, &r->gm, 256, "other-vq");
	assert_int_equal(vq_enable(&r->other, QSZ, 0x4000, 0x5000, 0x6000, false, false), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	gmem_fini(&r->gm);
	free(r);
	return 0;
}

/* A broken queue: -EIO forever, one callback, and the other queue still works. */
static void expect_broken(struct rig *r)
{
	assert_int_equal(vq_pop(&r->vq, &r->e), -EIO);
	assert_true(r->vq.broken);
	assert_int_equal(r->broken_calls, 1);
	assert_int_equal(vq_pop(&r->vq, &r->e), -EIO);
	assert_int_equal(r->broken_calls, 1);
	put_desc(r, 0x4000, 0, BUF, 16, 0, 0);
	put16(r, 0x5000 + 4, 0);
	put16(r, 0x5000 + 2, 1);
	assert_int_equal(vq_pop(&r->other, &r->e), 1);
}

static void test_enable_checks(void **state)
{
	struct rig *r = *state;
	struct virtqueue q;

	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 6, DESC, AVAIL, USED, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 512, DESC, AVAIL, USED, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 0, DESC, AVAIL, USED, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 8, DESC + 8, AVAIL, USED, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 8, DESC, AVAIL + 1, USED, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 8, DESC, AVAIL, USED + 2, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 8, RAM - 64, AVAIL, USED, false, false), -EINVAL);
	vq_init(&q, &r->gm, 256, "q");
	assert_int_equal(vq_enable(&q, 8, DESC, AVAIL, UINT64_MAX - 3, false, false), -EINVAL);
	assert_true(q.broken);
	assert_int_equal(vq_pop(&q, &r->e), -EIO);
}

static void test_simple_chain_and_push(void **state)
{
	struct rig *r = *state;
	uint8_t hdr[16] = "request-header!";
	char reply[8];

	assert_int_equal(gmem_write(&r->gm, BUF, hdr, 16), 0);
	put_desc(r, DESC, 3, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
	put_desc(r, DESC, 5, BUF + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(vq_pop(&r->vq, &r->e), 0); /* nothing offered yet */
	offer(r, 0, 3);
	assert_int_equal(vq_pop(&r->vq, &r->e), 1);
	assert_int_equal(r->e.head, 3);
	assert_int_equal(r->e.nr_out, 1);
	assert_int_equal(r->e.nr_in, 1);
	assert_int_equal(r->e.out_len, 16);
	assert_int_equal(r->e.in_len, 8);
	assert_memory_equal(r->e.iov[0].iov_base, hdr, 16);
	assert_int_equal(vq_buf_to_iov(&r->e.iov[1], 1, 0, "answer!", 8), 8);
	assert_int_equal(vq_push(&r->vq, 3, 8), 0);
	assert_int_equal(get16(r, USED + 2), 1);
	assert_int_equal(get16(r, USED + 4), 3);
	assert_int_equal(gmem_read(&r->gm, BUF + 0x100, reply, 8), 0);
	assert_string_equal(reply, "answer!");
	assert_int_equal(vq_pop(&r->vq, &r->e), 0);
	assert_true(vq_should_notify(&r->vq));
	put16(r, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(vq_should_notify(&r->vq));
	assert_int_equal(vq_push(&r->vq, QSZ, 0), -EINVAL); /* bad head from a device bug */
}

static void test_avail_index_too_far_ahead(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, BUF, 16, 0, 0);
	put16(r, AVAIL + 2, QSZ + 1);
	expect_broken(r);
}

static void test_head_out_of_range(void **state)
{
	struct rig *r = *state;

	offer(r, 0, QSZ);
	expect_broken(r);
}

static void test_next_out_of_range(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, QSZ + 3);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_loop_stops(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(r, DESC, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_readable_after_writable(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put_desc(r, DESC, 1, BUF, 16, 0, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_buffer_outside_ram(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, RAM - 8, 16, 0, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_buffer_address_wraps(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, UINT64_MAX - 7, 64, 0, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_ok(void **state)
{
	struct rig *r = *state;

	put_desc(r, 0x8000, 0, BUF, 32, VIRTQ_DESC_F_NEXT, 1);
	put_desc(r, 0x8000, 1, BUF + 64, 32, VIRTQ_DESC_F_WRITE, 0);
	put_desc(r, DESC, 2, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 2);
	assert_int_equal(vq_pop(&r->vq, &r->e), 1);
	assert_int_equal(r->e.head, 2);
	assert_int_equal(r->e.out_len, 32);
	assert_int_equal(r->e.in_len, 32);
}

static void test_indirect_not_negotiated(void **state)
{
	struct rig *r = *state;

	r->vq.indirect_ok = false;
	put_desc(r, 0x8000, 0, BUF, 32, 0, 0);
	put_desc(r, DESC, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_nested(void **state)
{
	struct rig *r = *state;

	put_desc(r, 0x9000, 0, BUF, 32, 0, 0);
	put_desc(r, 0x8000, 0, 0x9000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(r, DESC, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_with_next(void **state)
{
	struct rig *r = *state;

	put_desc(r, 0x8000, 0, BUF, 32, 0, 0);
	put_desc(r, DESC, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	put_desc(r, DESC, 1, BUF, 16, 0, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_bad_length(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, 0x8000, 24, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_zero_length(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, 0x8000, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_table_outside_ram(void **state)
{
	struct rig *r = *state;

	put_desc(r, DESC, 0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_indirect_loop(void **state)
{
	struct rig *r = *state;

	put_desc(r, 0x8000, 0, BUF, 32, VIRTQ_DESC_F_NEXT, 1);
	put_desc(r, 0x8000, 1, BUF, 32, VIRTQ_DESC_F_NEXT, 0);
	put_desc(r, DESC, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0, 0);
	expect_broken(r);
}

static void test_event_idx(void **state)
{
	struct rig *r = *state;
	struct virtqueue q;

	vq_init(&q, &r->gm, 256, "ev");
	assert_int_equal(vq_enable(&q, QSZ, DESC, AVAIL, USED, false, true), 0);
	put_desc(r, DESC, 0, BUF, 16, 0, 0);
	for (unsigned n = 0; n < 3; n++)
		offer(r, n, 0);
	/* used_event = 1: the driver wants an interrupt once used idx passes 1. */
	put16(r, AVAIL + 4 + 2 * QSZ, 1);
	assert_int_equal(vq_pop(&q, &r->e), 1);
	/* avail_event published at the end of the used ring. */
	assert_int_equal(get16(r, USED + 4 + 8 * QSZ), 1);
	assert_int_equal(vq_push(&q, 0, 0), 0);
	assert_true(vq_should_notify(&q));   /* first notification always goes */
	assert_int_equal(vq_pop(&q, &r->e), 1);
	assert_int_equal(vq_push(&q, 0, 0), 0);
	assert_true(vq_should_notify(&q));   /* used idx 1 -> 2 crosses event 1 */
	assert_int_equal(vq_pop(&q, &r->e), 1);
	assert_int_equal(vq_push(&q, 0, 0), 0);
	assert_false(vq_should_notify(&q));  /* 2 -> 3 does not */
}

static void test_region_split_iov(void **state)
{
	struct guest_mem gm;
	struct virtqueue q;
	struct vq_elem *e = malloc(sizeof(*e));
	uint64_t gpas[2] = { 0, 0x100000 }, sizes[2] = { 0x100000, 0x100000 };
	uint8_t d[16];
	uint64_t addr = 0xff000;
	uint32_t len = 0x2000;
	uint16_t flags = 0, next = 0, idx = 1, head = 0;

	assert_non_null(e);
	assert_int_equal(gmem_init(&gm, gpas, sizes, 2), 0);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gmem_write(&gm, DESC, d, 16), 0);
	assert_int_equal(gmem_write(&gm, AVAIL + 4, &head, 2), 0);
	assert_int_equal(gmem_write(&gm, AVAIL + 2, &idx, 2), 0);
	vq_init(&q, &gm, 256, "split");
	assert_int_equal(vq_enable(&q, QSZ, DESC, AVAIL, USED, false, false), 0);
	assert_int_equal(vq_pop(&q, e), 1);
	/* A buffer spanning two RAM regions becomes two iovecs. */
	assert_int_equal(e->nr_out, 2);
	assert_int_equal(e->iov[0].iov_len, 0x1000);
	assert_int_equal(e->iov[1].iov_len, 0x1000);
	gmem_fini(&gm);
	free(e);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_enable_checks),
		T(test_simple_chain_and_push),
		T(test_avail_index_too_far_ahead),
		T(test_head_out_of_range),
		T(test_next_out_of_range),
		T(test_loop_stops),
		T(test_readable_after_writable),
		T(test_buffer_outside_ram),
		T(test_buffer_address_wraps),
		T(test_indirect_ok),
		T(test_indirect_not_negotiated),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_bad_length),
		T(test_indirect_zero_length),
		T(test_indirect_table_outside_ram),
		T(test_indirect_loop),
		T(test_event_idx),
		cmocka_unit_test(test_region_split_iov),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
