#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/chardev.h"

struct sink {
	pthread_mutex_t lock;
	uint8_t buf[256];
	size_t len;
	int quits;
};

static void sink_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *s = opaque;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < len && s->len < sizeof(s->buf); i++)
		s->buf[s->len++] = buf[i];
	pthread_mutex_unlock(&s->lock);
}

static void sink_quit(void *opaque)
{
	struct sink *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->quits++;
	pthread_mutex_unlock(&s->lock);
}

/* Wait up to 2 s for the sink to hold n bytes. */
static size_t sink_wait(struct sink *s, size_t n)
{
	size_t len = 0;

	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&s->lock);
		len = s->len;
		pthread_mutex_unlock(&s->lock);
		if (len >= n)
			break;
		usleep(10000);
	}
	return len;
}

static void test_memory(void **state)
{
	struct chardev *cd = chardev_memory_new();
	struct sink s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const uint8_t *data;
	size_t len;

	assert_non_null(cd);
	assert_int_equal(chardev_write(cd, "abc", 3), 3);
	assert_int_equal(chardev_write(cd, "de", 2), 2);
	data = chardev_memory_data(cd, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "abcde", 5);
	/* No consumer yet: input is dropped, not crashed on. */
	chardev_inject_input(cd, (const uint8_t *)"x", 1);
	chardev_set_input(cd, sink_input, &s);
	chardev_inject_input(cd, (const uint8_t *)"yz", 2);
	assert_int_equal(s.len, 2);
	assert_memory_equal(s.buf, "yz", 2);
	chardev_set_input(cd, NULL, NULL);
	chardev_inject_input(cd, (const uint8_t *)"q", 1);
	assert_int_equal(s.len, 2);
	chardev_close(cd);
}

static void test_bad_specs(void **state)
{
	struct chardev *cd = (struct chardev *)1;
	char why[256];

	assert_int_equal(chardev_open("foo", &cd, why, sizeof(why)), -EINVAL);
	assert_null(cd);
	assert_string_equal(why, "unknown serial backend 'foo': expected stdio, pty, file:PATH, "
				 "unix:PATH or null");
	assert_int_equal(chardev_open("file:", &cd, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "needs a path"));
	assert_int_equal(chardev_open("", &cd, why, sizeof(why)), -EINVAL);
	assert_int_equal(chardev_open("stdio2", &cd, why, sizeof(why)), -EINVAL);
	assert_int_equal(chardev_open("file:/nonexistent-dir/x", &cd, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "/nonexistent-dir/x"));
	assert_int_equal(chardev_open("unix:/tmp/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				      &cd, why, sizeof(why)),
			 -ENAMETOOLONG);
	/* A NULL message buffer is allowed. */
	assert_int_equal(chardev_open("bar", &cd, NULL, 0), -EINVAL);
}

static void test_null(void **state)
{
	struct chardev *cd;
	char why[128];

	assert_int_equal(chardev_open("null", &cd, why, sizeof(why)), 0);
	assert_int_equal(chardev_write(cd, "abc", 3), 3);
	chardev_close(cd);
}

static void test_file(void **state)
{
	char path[] = "/tmp/petrel-chardev-XXXXXX";
	char spec[64], buf[64];
	struct chardev *cd;
	char why[128];
	int fd = mkstemp(path);
	ssize_t n;

	assert_true(fd >= 0);
	close(fd);
	snprintf(spec, sizeof(spec), "file:%s", path);
	assert_int_equal(chardev_open(spec, &cd, why, sizeof(why)), 0);
	assert_int_equal(chardev_write(cd, "hello ", 6), 6);
	chardev_close(cd);
	/* Appends on reopen. */
	assert_int_equal(chardev_open(spec, &cd, why, sizeof(why)), 0);
	assert_int_equal(chardev_write(cd, "world", 5), 5);
	chardev_close(cd);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "hello world", 11);
	unlink(path);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_unix_round_trip(void **state)
{
	char path[64], spec[80], why[128], buf[16];
	struct sink s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct pollfd pfd;
	struct chardev *cd;
	int c1, c2;
	ssize_t n;

	snprintf(path, sizeof(path), "/tmp/petrel-chardev-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s", path);
	assert_int_equal(chardev_open(spec, &cd, why, sizeof(why)), 0);
	assert_string_equal(chardev_path(cd), path);
	chardev_set_input(cd, sink_input, &s);
	/* No client: output is dropped without blocking. */
	assert_int_equal(chardev_write(cd, "lost", 4), 4);

	c1 = unix_connect(path);
	assert_int_equal(write(c1, "in", 2), 2);
	assert_int_equal(sink_wait(&s, 2), 2);
	assert_memory_equal(s.buf, "in", 2);
	assert_int_equal(chardev_write(cd, "out", 3), 3);
	n = read(c1, buf, sizeof(buf));
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "out", 3);

	/* A second client is turned away while the first is connected. */
	c2 = unix_connect(path);
	pfd = (struct pollfd){ .fd = c2, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(read(c2, buf, sizeof(buf)), 0);
	close(c2);

	/* After the first leaves, a new one is served. */
	close(c1);
	usleep(50000);
	c2 = unix_connect(path);
	assert_int_equal(write(c2, "x", 1), 1);
	assert_int_equal(sink_wait(&s, 3), 3);
	assert_int_equal(chardev_write(cd, "y", 1), 1);
	assert_int_equal(read(c2, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'y');
	close(c2);
	chardev_close(cd);
	/* The socket file is removed on close. */
	assert_int_equal(access(path, F_OK), -1);
}

/* A client that stops reading loses output but neither stalls writers nor is dropped. */
static void test_unix_slow_client(void **state)
{
	char path[64], spec[80], why[128], buf[4096];
	struct sink s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct timespec t0, t1;
	struct chardev *cd;
	int c1;

	snprintf(path, sizeof(path), "/tmp/petrel-chardev-slow-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s", path);
	assert_int_equal(chardev_open(spec, &cd, why, sizeof(why)), 0);
	chardev_set_input(cd, sink_input, &s);
	c1 = unix_connect(path);
	assert_int_equal(write(c1, "i", 1), 1);
	assert_int_equal(sink_wait(&s, 1), 1);
	memset(buf, 'z', sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 1024; i++) /* 4 MiB: far more than a socket buffer */
		assert_int_equal(chardev_write(cd, buf, sizeof(buf)), sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	/* Still connected: input still flows. */
	assert_int_equal(write(c1, "j", 1), 1);
	assert_int_equal(sink_wait(&s, 2), 2);
	close(c1);
	chardev_close(cd);
}

static void test_unix_refuses_regular_file(void **state)
{
	char path[] = "/tmp/petrel-chardev-XXXXXX";
	char spec[64], why[128];
	struct chardev *cd;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	assert_int_equal(chardev_open(spec, &cd, why, sizeof(why)), -EEXIST);
	unlink(path);
}

static void test_pty(void **state)
{
	struct sink s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct chardev *cd;
	char why[128], buf[16];
	const char *path;
	int fd;

	assert_int_equal(chardev_open("pty", &cd, why, sizeof(why)), 0);
	path = chardev_path(cd);
	assert_non_null(path);
	assert_int_equal(strncmp(path, "/dev/pts/", 9), 0);
	chardev_set_input(cd, sink_input, &s);
	fd = open(path, O_RDWR | O_NOCTTY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ab", 2), 2);
	assert_int_equal(sink_wait(&s, 2), 2);
	assert_int_equal(chardev_write(cd, "cd", 2), 2);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "cd", 2);
	close(fd);
	chardev_close(cd);
}

/* stdio on a terminal: put a pty on stdin and type the escapes into it. */
static void test_stdio_escapes(void **state)
{
	struct sink s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct chardev *cd, *cd2;
	struct termios t;
	char why[128];
	int master, slave, saved_in;

	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	saved_in = dup(STDIN_FILENO);
	assert_true(saved_in >= 0);
	assert_true(dup2(slave, STDIN_FILENO) >= 0);

	assert_int_equal(chardev_open("stdio", &cd, why, sizeof(why)), 0);
	assert_int_equal(chardev_open("stdio", &cd2, why, sizeof(why)), -EBUSY);
	assert_int_equal(tcgetattr(STDIN_FILENO, &t), 0);
	assert_int_equal(t.c_lflag & (ICANON | ECHO | ISIG), 0); /* raw */
	chardev_set_input(cd, sink_input, &s);
	chardev_set_quit(cd, sink_quit, &s);
	/* a, b, Ctrl-A Ctrl-A -> one Ctrl-A, c, Ctrl-A q -> both, Ctrl-A x -> quit */
	assert_int_equal(write(master, "ab\x01\x01" "c\x01qd\x01x", 10), 10);
	assert_int_equal(sink_wait(&s, 7), 7);
	for (int i = 0; i < 200 && !s.quits; i++)
		usleep(10000);
	assert_int_equal(s.quits, 1);
	assert_memory_equal(s.buf, "ab\x01" "c\x01qd", 7);
	chardev_close(cd);
	/* Terminal settings restored. */
	assert_int_equal(tcgetattr(STDIN_FILENO, &t), 0);
	assert_int_not_equal(t.c_lflag & ICANON, 0);

	assert_true(dup2(saved_in, STDIN_FILENO) >= 0);
	close(saved_in);
	close(slave);
	close(master);
}

/* stdio on a pipe: bytes pass unchanged (no escapes) and EOF does not spin. */
static void test_stdio_pipe(void **state)
{
	struct sink s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct chardev *cd;
	char why[128];
	int p[2], saved_in;

	assert_int_equal(pipe(p), 0);
	saved_in = dup(STDIN_FILENO);
	assert_true(saved_in >= 0);
	assert_true(dup2(p[0], STDIN_FILENO) >= 0);
	assert_int_equal(chardev_open("stdio", &cd, why, sizeof(why)), 0);
	chardev_set_input(cd, sink_input, &s);
	chardev_set_quit(cd, sink_quit, &s);
	assert_int_equal(write(p[1], "a\x01x", 3), 3);
	close(p[1]);
	assert_int_equal(sink_wait(&s, 3), 3);
	assert_memory_equal(s.buf, "a\x01x", 3);
	usleep(50000);
	assert_int_equal(s.quits, 0);
	assert_int_equal(s.len, 3);
	chardev_close(cd);
	assert_true(dup2(saved_in, STDIN_FILENO) >= 0);
	close(saved_in);
	close(p[0]);
}

/* A SIGTERM while the terminal is raw restores it, and the process still dies of it. */
static void test_stdio_signal_restores(void **state)
{
	struct termios t;
	int master, slave, status;
	pid_t pid;

	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct chardev *cd;
		char why[128];

		if (dup2(slave, STDIN_FILENO) < 0 ||
		    chardev_open("stdio", &cd, why, sizeof(why)) != 0 ||
		    tcgetattr(STDIN_FILENO, &t) != 0 || (t.c_lflag & ICANON))
			_exit(3);
		raise(SIGTERM);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_int_not_equal(t.c_lflag & ICANON, 0);
	assert_int_not_equal(t.c_lflag & ECHO, 0);
	close(slave);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_unix_round_trip),
		cmocka_unit_test(test_unix_slow_client),
		cmocka_unit_test(test_unix_refuses_regular_file),
		cmocka_unit_test(test_pty),
		cmocka_unit_test(test_stdio_escapes),
		cmocka_unit_test(test_stdio_pipe),
		cmocka_unit_test(test_stdio_signal_restores),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
