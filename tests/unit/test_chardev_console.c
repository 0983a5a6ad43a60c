/*
 * Unit tests of the console:PATH chardev (src/backend/chardev.c): output is
 * kept in a 64 KiB ring and replayed to each client that connects; a new
 * client replaces the old one; input from the client reaches the device.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/chardev.h"

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read until `want` bytes arrived or nothing more comes for 2 s. */
static size_t read_all(int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;

	while (got < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			break;
		n = read(fd, buf + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static uint8_t typed[64];
static atomic_size_t typed_len; /* written by the chardev's reader thread */

static void on_input(void *opaque, const uint8_t *buf, size_t len)
{
	size_t at = atomic_load(&typed_len);

	memcpy(typed + at, buf, len < sizeof(typed) - at ? len : 0);
	atomic_fetch_add(&typed_len, len);
}

static void test_replay_and_replace(void **state)
{
	char dir[] = "/tmp/petrel-console-XXXXXX", path[128], spec[160];
	struct chardev *cd;
	uint8_t *big, *got;
	size_t n = 100000; /* more than the ring holds */
	int a, b;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.sock", dir);
	snprintf(spec, sizeof(spec), "console:%s", path);
	assert_int_equal(chardev_open(spec, &cd, NULL, 0), 0);
	assert_string_equal(chardev_path(cd), path);
	chardev_set_input(cd, on_input, NULL);
	big = malloc(n);
	got = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	/* Output with nobody connected is kept (the last 64 KiB of it). */
	chardev_write(cd, big, 40000);
	chardev_write(cd, big + 40000, n - 40000);
	a = connect_to(path);
	assert_int_equal(read_all(a, got, 65536), 65536);
	assert_memory_equal(got, big + n - 65536, 65536);
	/* Live output follows the replay. */
	chardev_write(cd, "live", 4);
	assert_int_equal(read_all(a, got, 4), 4);
	assert_memory_equal(got, "live", 4);
	/* Input from the client reaches the device. */
	assert_int_equal(write(a, "ls\n", 3), 3);
	for (int i = 0; i < 500 && typed_len < 3; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&typed_len), 3);
	assert_memory_equal(typed, "ls\n", 3);
	/* A second client replaces the first, which sees end of file. */
	b = connect_to(path);
	assert_int_equal(read_all(b, got, 65536), 65536);
	assert_memory_equal(got + 65536 - 4, "live", 4);
	assert_int_equal(read_all(a, got, 1), 0);
	chardev_write(cd, "next", 4);
	assert_int_equal(read_all(b, got, 4), 4);
	assert_memory_equal(got, "next", 4);
	close(a);
	close(b);
	chardev_close(cd);
	/* The socket goes with the chardev. */
	assert_int_not_equal(access(path, F_OK), 0);
	rmdir(dir);
	free(big);
	free(got);
}

static void test_bad_spec(void **state)
{
	struct chardev *cd;
	char why[128];

	assert_int_equal(chardev_open("console:", &cd, why, sizeof(why)), -EINVAL);
	assert_null(cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_and_replace),
	    cmocka_unit_test(test_bad_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
