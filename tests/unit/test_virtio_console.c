#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend/chardev.h"
#include "util/log.h"
#include "virtio/console.h"
#include "virtio_test_driver.h"
#include "vm/machine.h"

#define QSZ VTD_QSZ
#define BUF VTD_BUF

struct rig {
	struct machine m;
	struct chardev *cd;
	struct virtio_console *con;
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
	assert_int_equal(gmem_init_x86(&r->m.mem, 1 << 20, 0xc0000000), 0);
	r->cd = chardev_memory_new();
	assert_non_null(r->cd);
	assert_int_equal(virtio_console_create(&r->m, r->cd, &r->con), 0);
	r->d = virtio_console_dev(r->con);
	vtd_init(&r->t, &r->m, r->d, 2);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_console_destroy(r->con);
	chardev_close(r->cd);
	gmem_fini(&r->m.mem);
	free(r);
	return 0;
}

static void bring_up(struct rig *r)
{
	vtd_bring_up(&r->t, 1ull << VIRTIO_F_VERSION_1, 2);
}

static void test_config(void **state)
{
	struct rig *r = *state;
	uint16_t cols = 0, rows = 0;
	uint32_t ports = 0;

	virtio_config_read(r->d, 0, &cols, 2);
	virtio_config_read(r->d, 2, &rows, 2);
	virtio_config_read(r->d, 4, &ports, 4);
	assert_int_equal(cols, 80);
	assert_int_equal(rows, 25);
	assert_int_equal(ports, 1);
	assert_int_equal(r->d->ops->device_id, VIRTIO_ID_CONSOLE);
	assert_int_equal(r->d->ops->nr_queues, 2);
}

static void test_output(void **state)
{
	struct rig *r = *state;
	size_t len;
	const uint8_t *out;

	bring_up(r);
	struct vtd_desc ds[2] = { { put(r, "hel", 3), 3, false }, { put(r, "lo\n", 3), 3, false } };
	post(r, 1, ds, 2, true);
	assert_int_equal(used(r, 1, NULL), 0);
	assert_int_equal(r->t.queue_irqs[1], 1);
	out = chardev_memory_data(r->cd, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "hello\n", 6);
}

static void test_input_held_until_buffers(void **state)
{
	struct rig *r = *state;
	char got[8] = { 0 };

	/* Typed before the driver is up: held, not lost. */
	chardev_inject_input(r->cd, (const uint8_t *)"abc", 3);
	bring_up(r);
	uint64_t a = put(r, NULL, 2), b = put(r, NULL, 16);
	struct vtd_desc ra[1] = { { a, 2, true } }, rb[1] = { { b, 16, true } };
	post(r, 0, ra, 1, true);
	assert_int_equal(used(r, 0, NULL), 2);
	assert_int_equal(gmem_read(&r->m.mem, a, got, 2), 0);
	assert_memory_equal(got, "ab", 2);
	post(r, 0, rb, 1, true);
	assert_int_equal(used(r, 0, NULL), 1);
	assert_int_equal(gmem_read(&r->m.mem, b, got, 1), 0);
	assert_int_equal(got[0], 'c');
	/* A buffer waiting: input goes straight in. */
	post(r, 0, rb, 1, false);
	chardev_inject_input(r->cd, (const uint8_t *)"xyz", 3);
	assert_int_equal(used(r, 0, NULL), 3);
	assert_int_equal(gmem_read(&r->m.mem, b, got, 3), 0);
	assert_memory_equal(got, "xyz", 3);
	assert_int_equal(used(r, 0, NULL), -1);
	assert_true(r->t.queue_irqs[0] >= 3);
}

static void test_input_overflow_drops(void **state)
{
	struct rig *r = *state;
	static uint8_t big[VIRTIO_CONSOLE_INBUF + 100];

	memset(big, 'q', sizeof(big));
	chardev_inject_input(r->cd, big, sizeof(big));
	assert_int_equal(virtio_console_dropped(r->con), 100);
	bring_up(r);
	/* Wrap-around: drain part, add more, drain all in order. */
	uint64_t a = put(r, NULL, 4096);
	struct vtd_desc ra[1] = { { a, 4096, true } };
	for (int i = 0; i < VIRTIO_CONSOLE_INBUF / 4096; i++) {
		post(r, 0, ra, 1, true);
		assert_int_equal(used(r, 0, NULL), 4096);
	}
	post(r, 0, ra, 1, true);
	assert_int_equal(used(r, 0, NULL), -1);
	chardev_inject_input(r->cd, (const uint8_t *)"end", 3);
	assert_int_equal(used(r, 0, NULL), 3);
}

static void test_malformed_buffers(void **state)
{
	struct rig *r = *state;

	bring_up(r);
	struct vtd_desc bad_tx[2] = { { put(r, "x", 1), 1, false }, { put(r, NULL, 8), 8, true } };
	post(r, 1, bad_tx, 2, true);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->t.config_irqs, 1);
	size_t len;
	chardev_memory_data(r->cd, &len);
	assert_int_equal(len, 0);

	virtio_set_status(r->d, 0);
	memset(r->m.mem.regions[0].host + 0x1000, 0, 0x6000);
	vtd_rings_reset(&r->t);
	bring_up(r);
	struct vtd_desc bad_rx[1] = { { put(r, "x", 1), 1, false } };
	post(r, 0, bad_rx, 1, false);
	chardev_inject_input(r->cd, (const uint8_t *)"k", 1);
	assert_true(r->d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r->t.config_irqs, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config),
		T(test_output),
		T(test_input_held_until_buffers),
		T(test_input_overflow_drops),
		T(test_malformed_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
