#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

#include "backend/disk.h"
#include "util/log.h"

#define IMG_SIZE (1u << 20)

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int64_t res;
};

static void on_done(struct disk_req *r, int64_t res)
{
	struct waiter *w = r->opaque;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->res = res;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int64_t run(struct disk *d, enum disk_op op, uint64_t off, uint64_t len, void *buf,
		   size_t buflen)
{
	struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };
	struct iovec iov[2] = { { 0 } };

	if (buf) {
		iov[0] = (struct iovec){ buf, buflen / 2 };
		iov[1] = (struct iovec){ (uint8_t *)buf + buflen / 2, buflen - buflen / 2 };
	}
	struct disk_req r = { .op = op, .offset = off, .len = len, .iov = iov,
			      .niov = buf ? 2 : 0, .done = on_done, .opaque = &w };

	assert_int_equal(disk_submit(d, &r), 0);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return w.res;
}

static char *make_image(void)
{
	char *path = strdup("/tmp/petrel-disk-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	return path;
}

static bool uring_available(void)
{
	char *path = make_image(), err[256];
	struct disk *d;
	int rc = disk_raw_open(path, false, DISK_ENGINE_URING, &d, err, sizeof(err));

	if (rc == 0)
		disk_close(d);
	unlink(path);
	free(path);
	return rc == 0;
}

static void exercise(enum disk_raw_engine engine, bool inl)
{
	char *path = make_image(), err[256] = "";
	struct disk *d;
	uint8_t wbuf[8192], rbuf[8192], zero[8192] = { 0 };
	struct stat st;

	assert_int_equal(disk_raw_open(path, false, engine, &d, err, sizeof(err)), 0);
	assert_int_equal(disk_raw_engine(d), engine);
	disk_raw_set_inline(d, inl);
	assert_int_equal(d->size, IMG_SIZE);
	assert_false(d->readonly);
	assert_true(d->discard_ok);

	for (size_t i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(run(d, DISK_WRITE, 65536, 0, wbuf, sizeof(wbuf)), sizeof(wbuf));
	assert_int_equal(run(d, DISK_FLUSH, 0, 0, NULL, 0), 0);
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(run(d, DISK_READ, 65536, 0, rbuf, sizeof(rbuf)), sizeof(rbuf));
	assert_memory_equal(rbuf, wbuf, sizeof(wbuf));

	/* The data really reached the file. */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, rbuf, sizeof(rbuf), 65536), sizeof(rbuf));
	assert_memory_equal(rbuf, wbuf, sizeof(wbuf));

	/* Write-zeroes and discard both read back as zeroes; discard frees blocks. */
	assert_int_equal(run(d, DISK_WRITE_ZEROES, 65536, 4096, NULL, 0), 0);
	assert_int_equal(pread(fd, rbuf, 4096, 65536), 4096);
	assert_memory_equal(rbuf, zero, 4096);
	assert_memory_equal(rbuf, zero, 4096);
	assert_int_equal(pread(fd, rbuf, 4096, 65536 + 4096), 4096);
	assert_memory_equal(rbuf, wbuf + 4096, 4096);
	assert_int_equal(fstat(fd, &st), 0);
	blkcnt_t before = st.st_blocks;
	assert_int_equal(run(d, DISK_DISCARD, 65536, 8192, NULL, 0), 0);
	assert_int_equal(pread(fd, rbuf, 8192, 65536), 8192);
	assert_memory_equal(rbuf, zero, 8192);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_blocks < before || before == 0);
	close(fd);

	/* Reading past the end of the file reads zeroes rather than failing. */
	memset(rbuf, 0xff, sizeof(rbuf));
	assert_int_equal(run(d, DISK_READ, IMG_SIZE - 4096, 0, rbuf, sizeof(rbuf)), sizeof(rbuf));
	assert_memory_equal(rbuf + 4096, zero, 4096);

	disk_close(d);
	unlink(path);
	free(path);
}

static void test_thread_pool_engine(void **state)
{
	exercise(DISK_ENGINE_THREADS, false);
	exercise(DISK_ENGINE_THREADS, true);
}

static void test_uring_engine(void **state)
{
	if (!uring_available()) {
		print_message("io_uring unavailable on this kernel: skipping the io_uring engine\n");
		skip();
	}
	exercise(DISK_ENGINE_URING, false);
	exercise(DISK_ENGINE_URING, true);
}

static void note_done(struct disk_req *r, int64_t res)
{
	*(int64_t *)r->opaque = res;
}

/*
 * A read of cached data completes inside submit() (no hand-off to another
 * thread); with the fast path off it does not, and data still arrives.
 */
static void test_inline_fast_path(void **state)
{
	char *path = make_image(), err[256] = "";
	struct disk *d;
	uint8_t wbuf[4096], rbuf[4096];
	struct iovec iov = { rbuf, sizeof(rbuf) };
	int64_t res = -1;
	int fd = open(path, O_WRONLY);

	for (size_t i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 13 + 1);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, wbuf, sizeof(wbuf), 8192), sizeof(wbuf)); /* now cached */
	close(fd);
	assert_int_equal(disk_raw_open(path, false, DISK_ENGINE_THREADS, &d, err, sizeof(err)), 0);

	struct disk_req r = { .op = DISK_READ, .offset = 8192, .iov = &iov, .niov = 1,
			      .done = note_done, .opaque = &res };
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(disk_submit(d, &r), 0);
	assert_int_equal(res, sizeof(rbuf)); /* done ran before submit returned */
	assert_memory_equal(rbuf, wbuf, sizeof(wbuf));

	disk_raw_set_inline(d, false);
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(run(d, DISK_READ, 8192, 0, rbuf, sizeof(rbuf)), sizeof(rbuf));
	assert_memory_equal(rbuf, wbuf, sizeof(wbuf));

	disk_close(d);
	unlink(path);
	free(path);
}

static void test_lock_refuses_second_writer(void **state)
{
	char *path = make_image(), err[256] = "";
	struct disk *a, *b;

	assert_int_equal(disk_raw_open(path, false, DISK_ENGINE_AUTO, &a, err, sizeof(err)), 0);
	assert_int_equal(disk_raw_open(path, false, DISK_ENGINE_AUTO, &b, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "in use by another VM"));
	/* A reader cannot share an image someone writes either. */
	assert_int_equal(disk_raw_open(path, true, DISK_ENGINE_AUTO, &b, err, sizeof(err)), -EBUSY);
	disk_close(a);
	/* Readers share; a writer is then refused. */
	assert_int_equal(disk_raw_open(path, true, DISK_ENGINE_THREADS, &a, err, sizeof(err)), 0);
	assert_int_equal(disk_raw_open(path, true, DISK_ENGINE_THREADS, &b, err, sizeof(err)), 0);
	assert_true(a->readonly);
	assert_false(a->discard_ok);
	assert_int_equal(disk_raw_open(path, false, DISK_ENGINE_AUTO, &a, err, sizeof(err)) , -EBUSY);
	disk_close(b);
	disk_close(a);
	unlink(path);
	free(path);
}

static void test_bad_paths(void **state)
{
	char err[256] = "";
	struct disk *d;

	assert_int_equal(disk_raw_open("/nonexistent/petrel.img", false, DISK_ENGINE_AUTO, &d, err,
				       sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/petrel.img"));
	assert_int_equal(disk_raw_open("/tmp", true, DISK_ENGINE_AUTO, &d, err, sizeof(err)),
			 -EINVAL);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_pool_engine),
		cmocka_unit_test(test_uring_engine),
		cmocka_unit_test(test_inline_fast_path),
		cmocka_unit_test(test_lock_refuses_second_writer),
		cmocka_unit_test(test_bad_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
