/*
 * Character backends: stdio, pty, file, unix socket, null and memory.
 *
 * Threads: every backend with an input source (stdio, pty, unix) has one
 * reader thread of its own that polls its descriptors and an eventfd used to
 * stop it. A console has at most a handful of chardevs, so a thread each is
 * simpler than a shared epoll loop and keeps one slow consumer from delaying
 * another. The reader calls on_input with cb_lock held, which is what lets
 * chardev_set_input(cd, NULL, NULL) guarantee no callback is still running.
 *
 * Locks: cb_lock (input/quit callbacks) and out_lock (output descriptors,
 * memory buffer) are never held together, so a device may write output from
 * inside its on_input callback.
 *
 * stdio escape (only when stdin is a terminal, which is then in raw mode):
 *   Ctrl-A x       calls on_quit (petrel stops the machine);
 *   Ctrl-A Ctrl-A  sends one Ctrl-A to the guest;
 *   Ctrl-A other   sends both bytes unchanged.
 * When stdin is not a terminal it is read as is, without escapes, until EOF.
 */
#include "backend/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/log.h"

enum cd_kind { CD_NULL, CD_MEMORY, CD_STDIO, CD_PTY, CD_FILE, CD_UNIX, CD_CONSOLE };

/* The memory backend keeps at most this much output; the rest is dropped. */
#define CD_MEMORY_MAX (16u << 20)
/* How long a write may wait for a slow stdout or socket before dropping. */
#define CD_WRITE_WAIT_MS 200
#define CTRL_A 0x01
/* console:PATH keeps this much recent output to replay to a new client. */
#define CD_RING_SIZE (64u << 10)

struct cd_impl {
	struct chardev pub;
	enum cd_kind kind;
	pthread_mutex_t cb_lock;
	pthread_mutex_t out_lock;
	int in_fd, out_fd;
	int listen_fd, client_fd;
	int pty_slave_fd;
	int stop_fd;
	pthread_t thread;
	bool thread_started;
	bool escapes;      /* stdio on a terminal: Ctrl-A handling */
	bool esc_pending;  /* the previous input byte was Ctrl-A */
	char *path;        /* pty device or unix socket path */
	uint8_t *mem;
	size_t mem_len, mem_cap;
	uint8_t *ring;		 /* console: the last CD_RING_SIZE bytes of output */
	size_t ring_head, ring_len; /* next write position, bytes held */
};

/* The single stdio chardev's saved terminal state (stdin). */
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;
static atomic_bool stdio_in_use;
static atomic_bool cleanup_registered;

static struct cd_impl *to_impl(struct chardev *cd)
{
	return container_of(cd, struct cd_impl, pub);
}

void chardev_restore_terminals(void)
{
	/* tcsetattr is async-signal-safe, so this may run in a signal handler. */
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void chardev_signal_restore(int sig)
{
	chardev_restore_terminals();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void chardev_register_cleanup(void)
{
	/* Every default-fatal signal a console session commonly meets. */
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE };
	bool expected = false;

	if (!atomic_compare_exchange_strong(&cleanup_registered, &expected, true))
		return;
	atexit(chardev_restore_terminals);
	for (unsigned i = 0; i < ARRAY_SIZE(sigs); i++) {
		struct sigaction old, sa;

		/* Leave alone a handler the program installed itself. */
		if (sigaction(sigs[i], NULL, &old) || old.sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = chardev_signal_restore;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

static void cd_deliver(struct cd_impl *c, const uint8_t *buf, size_t len)
{
	if (!len)
		return;
	pthread_mutex_lock(&c->cb_lock);
	if (c->pub.on_input)
		c->pub.on_input(c->pub.input_opaque, buf, len);
	pthread_mutex_unlock(&c->cb_lock);
}

static void cd_quit(struct cd_impl *c)
{
	pthread_mutex_lock(&c->cb_lock);
	if (c->pub.on_quit)
		c->pub.on_quit(c->pub.quit_opaque);
	pthread_mutex_unlock(&c->cb_lock);
}

/* Apply the Ctrl-A escapes to typed bytes, then deliver what remains. */
static void cd_deliver_escaped(struct cd_impl *c, const uint8_t *buf, size_t len)
{
	uint8_t out[2 * 4096];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t ch = buf[i];

		if (n + 2 > sizeof(out)) {
			cd_deliver(c, out, n);
			n = 0;
		}
		if (!c->esc_pending) {
			if (ch == CTRL_A)
				c->esc_pending = true;
			else
				out[n++] = ch;
			continue;
		}
		c->esc_pending = false;
		if (ch == 'x' || ch == 'X') {
			cd_deliver(c, out, n);
			n = 0;
			cd_quit(c);
		} else if (ch == CTRL_A) {
			out[n++] = CTRL_A;
		} else {
			out[n++] = CTRL_A;
			out[n++] = ch;
		}
	}
	cd_deliver(c, out, n);
}

/* Write everything or fail; waits up to wait_ms on a full non-blocking fd. */
static ssize_t cd_write_fd(int fd, const void *buf, size_t len, bool sock, int wait_ms)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t r;

		if (sock)
			r = send(fd, p + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			r = write(fd, p + done, len - done);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (wait_ms && poll(&pfd, 1, wait_ms) > 0)
				continue;
			return done ? (ssize_t)done : -EAGAIN;
		}
		return r < 0 ? -errno : -EIO;
	}
	return (ssize_t)done;
}

/* Append output to the console's ring, overwriting the oldest bytes (out_lock held). */
static void cd_ring_put(struct cd_impl *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len > CD_RING_SIZE) {
		p += len - CD_RING_SIZE;
		len = CD_RING_SIZE;
	}
	while (len) {
		size_t n = MIN(len, (size_t)CD_RING_SIZE - c->ring_head);

		memcpy(c->ring + c->ring_head, p, n);
		c->ring_head = (c->ring_head + n) % CD_RING_SIZE;
		c->ring_len = MIN(c->ring_len + n, (size_t)CD_RING_SIZE);
		p += n;
		len -= n;
	}
}

/* Send the ring's contents, oldest first, to a newly connected client (out_lock held). */
static void cd_ring_replay(struct cd_impl *c, int fd)
{
	size_t start = (c->ring_head + CD_RING_SIZE - c->ring_len) % CD_RING_SIZE;
	size_t first = MIN(c->ring_len, (size_t)CD_RING_SIZE - start);

	if (first && cd_write_fd(fd, c->ring + start, first, true, CD_WRITE_WAIT_MS) < 0)
		return;
	if (c->ring_len > first)
		cd_write_fd(fd, c->ring, c->ring_len - first, true, CD_WRITE_WAIT_MS);
}

static ssize_t cd_backend_write(struct chardev *cd, const void *buf, size_t len)
{
	struct cd_impl *c = to_impl(cd);
	ssize_t rc = (ssize_t)len;

	pthread_mutex_lock(&c->out_lock);
	switch (c->kind) {
	case CD_NULL:
		break;
	case CD_MEMORY:
		if (c->mem_len + len > c->mem_cap && c->mem_cap < CD_MEMORY_MAX) {
			size_t cap = MAX(c->mem_cap * 2, (size_t)4096);
			uint8_t *m;

			while (cap < c->mem_len + len && cap < CD_MEMORY_MAX)
				cap *= 2;
			cap = MIN(cap, (size_t)CD_MEMORY_MAX);
			m = realloc(c->mem, cap);
			if (m) {
				c->mem = m;
				c->mem_cap = cap;
			}
		}
		len = MIN(len, c->mem_cap - c->mem_len);
		if (len)
			memcpy(c->mem + c->mem_len, buf, len);
		c->mem_len += len;
		break;
	case CD_STDIO:
	case CD_FILE:
		rc = cd_write_fd(c->out_fd, buf, len, false, CD_WRITE_WAIT_MS);
		break;
	case CD_PTY: {
		/* Nobody may be reading the pty: drop what does not fit. */
		ssize_t r = write(c->out_fd, buf, len);
		(void)r;
		break;
	}
	case CD_CONSOLE:
		cd_ring_put(c, buf, len);
		/* then to the client, as a unix socket would */
		/* fall through */
	case CD_UNIX:
		/*
		 * Output with no client connected is dropped, and so is what a
		 * client too slow to drain its socket misses; a broken one is let go.
		 */
		if (c->client_fd >= 0) {
			/* No waiting: a stalled client must not slow the guest down. */
			ssize_t r = cd_write_fd(c->client_fd, buf, len, true, 0);

			if (r < 0 && r != -EAGAIN)
				shutdown(c->client_fd, SHUT_RDWR); /* the reader closes it */
		}
		break;
	}
	pthread_mutex_unlock(&c->out_lock);
	return rc;
}

static void cd_stop_thread(struct cd_impl *c)
{
	uint64_t one = 1;

	if (!c->thread_started)
		return;
	if (write(c->stop_fd, &one, sizeof(one)) < 0)
		log_warn("chardev: cannot stop the reader thread: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	c->thread_started = false;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void cd_backend_close(struct chardev *cd)
{
	struct cd_impl *c = to_impl(cd);

	cd_stop_thread(c);
	if (c->kind == CD_STDIO) {
		chardev_restore_terminals();
		tio_saved = 0;
		atomic_store(&stdio_in_use, false);
		c->in_fd = c->out_fd = -1; /* not ours to close */
	}
	if ((c->kind == CD_UNIX || c->kind == CD_CONSOLE) && c->path)
		unlink(c->path);
	if (c->in_fd == c->out_fd)
		c->out_fd = -1;
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->listen_fd);
	close_fd(&c->client_fd);
	close_fd(&c->pty_slave_fd);
	close_fd(&c->stop_fd);
	pthread_mutex_destroy(&c->cb_lock);
	pthread_mutex_destroy(&c->out_lock);
	free(c->path);
	free(c->mem);
	free(c->ring);
	free(c);
}

static const struct chardev_ops cd_ops = {
	.write = cd_backend_write,
	.close = cd_backend_close,
};

static struct cd_impl *cd_alloc(enum cd_kind kind)
{
	struct cd_impl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pub.ops = &cd_ops;
	c->kind = kind;
	c->in_fd = c->out_fd = c->listen_fd = c->client_fd = -1;
	c->pty_slave_fd = c->stop_fd = -1;
	pthread_mutex_init(&c->cb_lock, NULL);
	pthread_mutex_init(&c->out_lock, NULL);
	return c;
}

/* Reader for stdio and pty: one input descriptor. */
static void cd_read_stream(struct cd_impl *c)
{
	uint8_t buf[4096];
	bool eof = false;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = c->stop_fd, .events = POLLIN },
					 { .fd = eof ? -1 : c->in_fd, .events = POLLIN } };
		ssize_t r;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[0].revents)
			return;
		if (!pfd[1].revents)
			continue;
		r = read(c->in_fd, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			/* EOF or a dead terminal: keep running, only without input. */
			eof = true;
			continue;
		}
		if (c->escapes)
			cd_deliver_escaped(c, buf, (size_t)r);
		else
			cd_deliver(c, buf, (size_t)r);
	}
}

static void cd_drop_client(struct cd_impl *c)
{
	pthread_mutex_lock(&c->out_lock);
	close_fd(&c->client_fd);
	pthread_mutex_unlock(&c->out_lock);
}

/* Reader for a unix socket server: accept one client at a time. */
static void cd_read_unix(struct cd_impl *c)
{
	uint8_t buf[4096];

	for (;;) {
		struct pollfd pfd[3] = { { .fd = c->stop_fd, .events = POLLIN },
					 { .fd = c->listen_fd, .events = POLLIN },
					 { .fd = c->client_fd, .events = POLLIN } };
		ssize_t r;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[0].revents)
			return;
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && c->kind == CD_CONSOLE) {
				/* A new client replaces the old one and first gets the recent output. */
				pthread_mutex_lock(&c->out_lock);
				close_fd(&c->client_fd);
				cd_ring_replay(c, fd);
				c->client_fd = fd;
				fd = -1;
				pthread_mutex_unlock(&c->out_lock);
				continue;
			}
			if (fd >= 0) {
				pthread_mutex_lock(&c->out_lock);
				if (c->client_fd < 0) {
					c->client_fd = fd;
					fd = -1;
				}
				pthread_mutex_unlock(&c->out_lock);
				/* Busy: one client at a time. */
				if (fd >= 0)
					close(fd);
			}
		}
		if (pfd[2].fd >= 0 && pfd[2].revents) {
			r = recv(c->client_fd, buf, sizeof(buf), 0);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				cd_drop_client(c);
				continue;
			}
			cd_deliver(c, buf, (size_t)r);
		}
	}
}

static void *cd_reader(void *arg)
{
	struct cd_impl *c = arg;

	if (c->kind == CD_UNIX || c->kind == CD_CONSOLE)
		cd_read_unix(c);
	else
		cd_read_stream(c);
	return NULL;
}

static int cd_start_thread(struct cd_impl *c)
{
	int r;

	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0)
		return -errno;
	r = pthread_create(&c->thread, NULL, cd_reader, c);
	if (r)
		return -r;
	c->thread_started = true;
	return 0;
}

static void set_raw(struct termios *t)
{
	t->c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t->c_cflag |= CS8;
	t->c_cc[VMIN] = 1;
	t->c_cc[VTIME] = 0;
}

static int cd_open_stdio(struct cd_impl *c, char *why, size_t why_len)
{
	bool expected = false;

	if (!atomic_compare_exchange_strong(&stdio_in_use, &expected, true)) {
		snprintf(why, why_len, "stdio is already used by another console");
		return -EBUSY;
	}
	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	if (isatty(STDIN_FILENO)) {
		struct termios t;

		if (tcgetattr(STDIN_FILENO, &t) == 0) {
			chardev_register_cleanup();
			saved_tio = t;
			tio_saved = 1;
			/* Output processing is left as it was: the guest sends CR LF. */
			set_raw(&t);
			if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
				log_warn("stdio: cannot set raw mode: %s", strerror(errno));
			c->escapes = true;
		}
	}
	return 0;
}

static int cd_open_pty(struct cd_impl *c, char *why, size_t why_len)
{
	char name[128];
	struct termios t;
	int r;

	c->in_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->in_fd < 0)
		goto fail;
	if (grantpt(c->in_fd) || unlockpt(c->in_fd))
		goto fail;
	r = ptsname_r(c->in_fd, name, sizeof(name));
	if (r) {
		errno = r;
		goto fail;
	}
	/*
	 * Hold the slave open ourselves: otherwise the master reports a hang-up
	 * until a user connects, and the reader would spin.
	 */
	c->pty_slave_fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave_fd < 0)
		goto fail;
	if (tcgetattr(c->pty_slave_fd, &t) == 0) {
		set_raw(&t);
		t.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(c->pty_slave_fd, TCSANOW, &t);
	}
	if (fcntl(c->in_fd, F_SETFL, O_NONBLOCK))
		goto fail;
	c->out_fd = c->in_fd;
	c->path = strdup(name);
	if (!c->path)
		return -ENOMEM;
	fprintf(stderr, "petrel: serial console on %s\n", name);
	return 0;
fail:
	r = -errno;
	snprintf(why, why_len, "cannot create a pty: %s", strerror(errno));
	return r;
}

static int cd_open_unix(struct cd_impl *c, const char *path, char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "unix socket path '%s' is too long (max %zu bytes)", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* A stale socket from an earlier run may be replaced; any other file may not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, why_len, "'%s' exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		goto fail;
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	c->path = strdup(path);
	if (!c->path)
		return -ENOMEM;
	if (listen(c->listen_fd, 1))
		goto fail;
	return 0;
fail:
	rc = -errno;
	snprintf(why, why_len, "cannot listen on '%s': %s", path, strerror(errno));
	return rc;
}

int chardev_open(const char *spec, struct chardev **out, char *why, size_t why_len)
{
	struct cd_impl *c = NULL;
	char dummy[1];
	int rc;

	*out = NULL;
	if (!why || !why_len) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	why[0] = '\0';
	if (!spec)
		spec = "";
	if (!strcmp(spec, "null")) {
		c = cd_alloc(CD_NULL);
	} else if (!strcmp(spec, "stdio")) {
		c = cd_alloc(CD_STDIO);
	} else if (!strcmp(spec, "pty")) {
		c = cd_alloc(CD_PTY);
	} else if (!strncmp(spec, "console:", 8)) {
		if (!spec[8]) {
			snprintf(why, why_len, "serial backend 'console:' needs a socket path");
			return -EINVAL;
		}
		c = cd_alloc(CD_CONSOLE);
		if (c && !(c->ring = malloc(CD_RING_SIZE))) {
			cd_backend_close(&c->pub);
			c = NULL;
		}
	} else if (!strncmp(spec, "file:", 5) || !strncmp(spec, "unix:", 5)) {
		if (!spec[5]) {
			snprintf(why, why_len, "serial backend '%.5s' needs a path, e.g. %.5s/tmp/x",
				 spec, spec);
			return -EINVAL;
		}
		c = cd_alloc(spec[0] == 'f' ? CD_FILE : CD_UNIX);
	} else {
		snprintf(why, why_len,
			 "unknown serial backend '%s': expected stdio, pty, file:PATH, unix:PATH or null",
			 spec);
		return -EINVAL;
	}
	if (!c) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}

	switch (c->kind) {
	case CD_STDIO:
		rc = cd_open_stdio(c, why, why_len);
		if (rc) {
			c->kind = CD_NULL; /* so closing does not release stdio */
			goto fail;
		}
		break;
	case CD_PTY:
		rc = cd_open_pty(c, why, why_len);
		break;
	case CD_FILE:
		c->out_fd = open(spec + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		rc = c->out_fd < 0 ? -errno : 0;
		if (rc)
			snprintf(why, why_len, "cannot open '%s': %s", spec + 5, strerror(-rc));
		break;
	case CD_UNIX:
		rc = cd_open_unix(c, spec + 5, why, why_len);
		break;
	case CD_CONSOLE:
		rc = cd_open_unix(c, spec + 8, why, why_len);
		break;
	default:
		rc = 0;
		break;
	}
	if (rc)
		goto fail;
	if (c->kind == CD_STDIO || c->kind == CD_PTY || c->kind == CD_UNIX ||
	    c->kind == CD_CONSOLE) {
		rc = cd_start_thread(c);
		if (rc) {
			snprintf(why, why_len, "cannot start the reader thread: %s", strerror(-rc));
			goto fail;
		}
	}
	*out = &c->pub;
	return 0;
fail:
	cd_backend_close(&c->pub);
	return rc;
}

ssize_t chardev_write(struct chardev *cd, const void *buf, size_t len)
{
	if (!cd || !cd->ops || !cd->ops->write)
		return (ssize_t)len;
	return cd->ops->write(cd, buf, len);
}

void chardev_close(struct chardev *cd)
{
	if (cd && cd->ops && cd->ops->close)
		cd->ops->close(cd);
}

struct chardev *chardev_memory_new(void)
{
	struct cd_impl *c = cd_alloc(CD_MEMORY);

	return c ? &c->pub : NULL;
}

const uint8_t *chardev_memory_data(struct chardev *cd, size_t *len)
{
	struct cd_impl *c = to_impl(cd);

	if (cd->ops != &cd_ops || c->kind != CD_MEMORY) {
		*len = 0;
		return NULL;
	}
	*len = c->mem_len;
	return c->mem;
}

void chardev_inject_input(struct chardev *cd, const uint8_t *buf, size_t len)
{
	if (cd->ops != &cd_ops) {
		if (cd->on_input && len)
			cd->on_input(cd->input_opaque, buf, len);
		return;
	}
	cd_deliver(to_impl(cd), buf, len);
}

void chardev_set_input(struct chardev *cd, void (*on_input)(void *, const uint8_t *, size_t),
		       void *opaque)
{
	bool ours = cd->ops == &cd_ops;

	if (ours)
		pthread_mutex_lock(&to_impl(cd)->cb_lock);
	cd->on_input = on_input;
	cd->input_opaque = opaque;
	if (ours)
		pthread_mutex_unlock(&to_impl(cd)->cb_lock);
}

void chardev_set_quit(struct chardev *cd, void (*on_quit)(void *), void *opaque)
{
	bool ours = cd->ops == &cd_ops;

	if (ours)
		pthread_mutex_lock(&to_impl(cd)->cb_lock);
	cd->on_quit = on_quit;
	cd->quit_opaque = opaque;
	if (ours)
		pthread_mutex_unlock(&to_impl(cd)->cb_lock);
}

const char *chardev_path(struct chardev *cd)
{
	if (!cd || cd->ops != &cd_ops)
		return NULL;
	return to_impl(cd)->path;
}
