#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "virtio/balloon.h"
#include "virtio_test_driver.h"
#include "vm/machine.h"

#define QSZ VTD_QSZ
#define BUF VTD_BUF
#define RAM (1u << 20)

struct rig {
	struct machine m;
	struct virtio_balloon *b;
	struct virtio_dev *d;
	struct vtd t;  /* the fake driver and transport */
};

/* Next used element of queue q: returns its length, -1 when none. */
/* The shared fake driver (virtio_test_driver.c), under the names these tests use. */
static void post(struct rig *r, unsigned q, const struct vtd_desc *ds, unsigned n, bool kick)
{
	vtd_post(&r->t, q, ds, n, kick);
}

static int64_t used(struct rig *r, unsigned q, uint16_t *id)
{
	return vtd_used(&r->t, q, id);
}

static uint64_t put(struct rig *r, const void *data, size_t len)
{
	return vtd_put(&r->t, data, len);
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	log_set_level(LOG_ERROR);
	assert_int_equal(gmem_init_x86(&r->m.mem, RAM, 0xc0000000), 0);
	assert_int_equal(virtio_balloon_create(&r->m, &r->b), 0);
	r->d = virtio_balloon_dev(r->b);
	vtd_init(&r->t, &r->m, r->d, 4);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_balloon_destroy(r->b);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static void bring_up(struct rig *r, uint64_t extra, unsigned nq)
{
	vtd_bring_up(&r->t, (1ull << VIRTIO_F_VERSION_1) | extra, nq);
}

static blkcnt_t ram_blocks(struct rig *r)
{
	struct stat st;

	assert_int_equal(fstat(r->m.mem.fd, &st), 0);
	return st.st_blocks;
}

static void fill(struct rig *r, uint64_t gpa, size_t len, uint8_t v)
{
	uint8_t *p = gmem_ptr(&r->m.mem, gpa, len);

	assert_non_null(p);
	memset(p, v, len);
}

static bool all_zero(struct rig *r, uint64_t gpa, size_t len)
{
	const uint8_t *p = gmem_ptr(&r->m.mem, gpa, len);

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_config_target_actual(void **state)
{
	struct rig *r = *state;
	uint32_t v = 0xffff, act = 77;
	struct virtio_balloon_info info;

	virtio_config_read(r->d, 0, &v, 4);
	assert_int_equal(v, 0);
	bring_up(r, 0, 2);
	uint8_t gen = r->d->config_generation;
	virtio_balloon_set_target(r->b, 100);
	assert_int_equal(r->t.config_irqs, 1);
	assert_int_not_equal(r->d->config_generation, gen);
	virtio_config_read(r->d, 0, &v, 4);
	assert_int_equal(v, 100);
	/* The driver may write actual, never num_pages. */
	virtio_config_write(r->d, 4, &act, 4);
	v = 5;
	virtio_config_write(r->d, 0, &v, 4);
	virtio_config_read(r->d, 0, &v, 4);
	assert_int_equal(v, 100);
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.target_pages, 100);
	assert_int_equal(info.actual_pages, 77);
	/* A write straddling both fields updates only actual's bytes. */
	uint8_t two[4] = { 1, 2, 3, 4 };
	virtio_config_write(r->d, 2, two, 4);
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.target_pages, 100);
	assert_int_equal(info.actual_pages, (77u & 0xffff0000u) | 0x0403u);
}

static void test_inflate_returns_memory(void **state)
{
	struct rig *r = *state;
	uint32_t pfns[9];
	struct virtio_balloon_info info;

	bring_up(r, 0, 2);
	fill(r, 0x40000, 8 * 4096, 0xaa);
	fill(r, 0x60000, 4096, 0xbb);
	for (int i = 0; i < 8; i++)
		pfns[i] = 0x40 + (uint32_t)i;
	pfns[8] = 0x60;
	struct vtd_desc ds[2] = { { put(r, pfns, 20), 20, false }, { put(r, pfns + 5, 16), 16, false } };
	/* Ring pages are touched by post(): make them resident before measuring. */
	fill(r, 0x1000, 0xc000, 0);
	blkcnt_t before = ram_blocks(r);
	post(r, 0, ds, 2, true);
	assert_int_equal(used(r, 0, NULL), 0);
	assert_int_equal(r->t.queue_irqs[0], 1);
	/* Measured first: reading a hole of a shared memfd mapping allocates a page again. */
	assert_true(ram_blocks(r) <= before - 9 * 8);   /* 9 pages of 8 sectors gone */
	assert_true(all_zero(r, 0x40000, 8 * 4096));
	assert_true(all_zero(r, 0x60000, 4096));
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.discarded_pages, 9);
	assert_int_equal(info.refused_pfns, 0);

	/* Deflate only takes note: nothing is discarded. */
	fill(r, 0x70000, 4096, 0xcc);
	uint32_t back = 0x70;
	struct vtd_desc dd[1] = { { put(r, &back, 4), 4, false } };
	post(r, 1, dd, 1, true);
	assert_int_equal(used(r, 1, NULL), 0);
	assert_false(all_zero(r, 0x70000, 4096));
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.discarded_pages, 9);
}

static void test_pfn_outside_ram_refused(void **state)
{
	struct rig *r = *state;
	uint32_t pfns[4] = { RAM / 4096, 0xffffffffu, 0xc0000, 0x50 };
	struct virtio_balloon_info info;

	bring_up(r, 0, 2);
	fill(r, 0x50000, 4096, 0x11);
	struct vtd_desc ds[1] = { { put(r, pfns, 16), 16, false } };
	post(r, 0, ds, 1, true);
	assert_int_equal(used(r, 0, NULL), 0);
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.refused_pfns, 3);
	assert_int_equal(info.discarded_pages, 1);
	assert_true(all_zero(r, 0x50000, 4096));
	assert_true(virtio_dev_live(r->d));
}

static void test_malformed_pfn_lists(void **state)
{
	struct rig *r = *state;
	uint32_t pfn[2] = { 0x50, 0x51 };

	bring_up(r, 0, 2);
	struct vtd_desc odd[1] = { { put(r, pfn, 6), 6, false } };
	post(r, 0, odd, 1, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->t.config_irqs, 1);

	virtio_set_status(r->d, 0);
	memset(r->m.mem.regions[0].host + 0x1000, 0, 0xc000);
	vtd_rings_reset(&r->t);
	bring_up(r, 0, 2);
	struct vtd_desc wr[1] = { { put(r, pfn, 4), 4, true } };
	post(r, 1, wr, 1, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
}

static uint64_t put_stats(struct rig *r, uint64_t memfree, uint64_t memtot)
{
	uint8_t e[30];
	uint16_t t0 = VIRTIO_BALLOON_S_MEMFREE, t1 = 99, t2 = VIRTIO_BALLOON_S_MEMTOT;
	uint64_t junk = 1;

	memcpy(e, &t0, 2), memcpy(e + 2, &memfree, 8);
	memcpy(e + 10, &t1, 2), memcpy(e + 12, &junk, 8);
	memcpy(e + 20, &t2, 2), memcpy(e + 22, &memtot, 8);
	return put(r, e, 30);
}

static void test_stats_queue(void **state)
{
	struct rig *r = *state;
	struct virtio_balloon_stats st;
	struct event_loop *l;

	bring_up(r, 1ull << VIRTIO_BALLOON_F_STATS_VQ, 3);
	struct vtd_desc ds[1] = { { put_stats(r, 1234, 5678), 30, false } };
	post(r, 2, ds, 1, true);
	/* Held, not returned, until we want fresh numbers. */
	assert_int_equal(used(r, 2, NULL), -1);
	virtio_balloon_get_stats(r->b, &st);
	assert_int_equal(st.updates, 1);
	assert_int_equal(st.value[VIRTIO_BALLOON_S_MEMFREE], 1234);
	assert_int_equal(st.value[VIRTIO_BALLOON_S_MEMTOT], 5678);
	assert_int_equal(st.valid, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT));
	virtio_balloon_request_stats(r->b);
	assert_int_equal(used(r, 2, NULL), 0);
	assert_int_equal(r->t.queue_irqs[2], 1);
	virtio_balloon_request_stats(r->b); /* nothing held: no-op */
	assert_int_equal(used(r, 2, NULL), -1);

	/* The periodic request, on an I/O thread. */
	ds[0].addr = put_stats(r, 4321, 5678);
	post(r, 2, ds, 1, true);
	assert_int_equal(event_loop_create(&l), 0);
	assert_int_equal(virtio_balloon_set_stats_period(r->b, l, 5), 0);
	int64_t len = -1;
	for (int i = 0; i < 1000 && len < 0; i++) {
		usleep(1000);
		len = used(r, 2, NULL);
	}
	assert_int_equal(len, 0);
	assert_int_equal(virtio_balloon_set_stats_period(r->b, l, 0), 0);
	virtio_balloon_get_stats(r->b, &st);
	assert_int_equal(st.updates, 2);
	assert_int_equal(st.value[VIRTIO_BALLOON_S_MEMFREE], 4321);

	/* A stats buffer that is not whole entries breaks the device. */
	ds[0].len = 15;
	post(r, 2, ds, 1, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	virtio_balloon_destroy(r->b); /* timer removed before the loop goes */
	event_loop_destroy(l);
	assert_int_equal(virtio_balloon_create(&r->m, &r->b), 0);
}

static void test_free_page_reporting(void **state)
{
	struct rig *r = *state;
	struct virtio_balloon_info info;

	bring_up(r, (1ull << VIRTIO_BALLOON_F_STATS_VQ) | (1ull << VIRTIO_BALLOON_F_REPORTING), 4);
	fill(r, 0x80000, 3 * 4096, 0xdd);
	struct vtd_desc ds[2] = { { 0x80000, 8192, true }, { 0x82000, 100, true } /* not whole pages */ };
	post(r, 3, ds, 2, true);
	assert_int_equal(used(r, 3, NULL), 0);
	assert_true(all_zero(r, 0x80000, 8192));
	assert_false(all_zero(r, 0x82000, 4096));
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.reported_bytes, 8192);
}

static void test_reporting_without_stats_is_queue_two(void **state)
{
	struct rig *r = *state;
	struct virtio_balloon_info info;

	bring_up(r, 1ull << VIRTIO_BALLOON_F_REPORTING, 3);
	fill(r, 0x90000, 4096, 0xee);
	struct vtd_desc ds[1] = { { 0x90000, 4096, true } };
	post(r, 2, ds, 1, true);
	assert_int_equal(used(r, 2, NULL), 0);
	assert_true(all_zero(r, 0x90000, 4096));
	virtio_balloon_get_info(r->b, &info);
	assert_int_equal(info.reported_bytes, 4096);
	/* A readable report buffer is malformed. */
	struct vtd_desc bad[1] = { { 0x90000, 4096, false } };
	post(r, 2, bad, 1, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config_target_actual),
		T(test_inflate_returns_memory),
		T(test_pfn_outside_ram_refused),
		T(test_malformed_pfn_lists),
		T(test_stats_queue),
		T(test_free_page_reporting),
		T(test_reporting_without_stats_is_queue_two),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
