/*
 * Character backends for consoles (the UART, later virtio-console): stdio in
 * raw mode, a pty, a Unix socket (server), or a file (output only).
 *
 * Output is written with chardev_write() from any thread. Input arrives on
 * the backend's own reader thread and is delivered through the `on_input`
 * callback the device installs; devices apply their own flow control.
 */
#ifndef PETREL_BACKEND_CHARDEV_H
#define PETREL_BACKEND_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct chardev;

struct chardev_ops {
	ssize_t (*write)(struct chardev *cd, const void *buf, size_t len);
	void (*close)(struct chardev *cd);
};

struct chardev {
	const struct chardev_ops *ops;
	/* Set by the consuming device: called with bytes the user typed. */
	void (*on_input)(void *opaque, const uint8_t *buf, size_t len);
	void *input_opaque;
	/* Called when the user types the escape sequence (stdio: Ctrl-A x). */
	void (*on_quit)(void *opaque);
	void *quit_opaque;
};

/*
 * Parse "stdio", "pty", "file:PATH", "unix:PATH", "console:PATH", "null" and
 * open it. console:PATH is a Unix socket server for petreld's VMs: it keeps
 * the last 64 KiB of output in a ring buffer and replays it to each client
 * that connects; a new client replaces the current one.
 * Errors: -EINVAL for an unknown spec (message in why), -errno from the OS.
 */
int chardev_open(const char *spec, struct chardev **out, char *why, size_t why_len);
ssize_t chardev_write(struct chardev *cd, const void *buf, size_t len);
void chardev_close(struct chardev *cd);
/* A chardev that records output in memory, for unit tests. */
struct chardev *chardev_memory_new(void);
const uint8_t *chardev_memory_data(struct chardev *cd, size_t *len);
/* Feed input into a chardev as if typed (tests, and memory backends). */
void chardev_inject_input(struct chardev *cd, const uint8_t *buf, size_t len);

/*
 * Install (or, with NULL, remove) the input and quit callbacks. Prefer these
 * to assigning the fields: they synchronise with the reader thread, and once
 * chardev_set_input(cd, NULL, NULL) returns no call to the old callback is
 * running or will start, so the device may then be freed.
 */
void chardev_set_input(struct chardev *cd, void (*on_input)(void *, const uint8_t *, size_t),
		       void *opaque);
void chardev_set_quit(struct chardev *cd, void (*on_quit)(void *), void *opaque);
/*
 * Put every terminal a stdio chardev switched to raw mode back as it was.
 * Async-signal-safe; registered with atexit() and, when their disposition is
 * the default, as the SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGPIPE handler (restore,
 * then die of the signal as before) when the first stdio chardev opens.
 */
void chardev_restore_terminals(void);
/* The pty device ("/dev/pts/N") or unix socket path of a chardev, else NULL. */
const char *chardev_path(struct chardev *cd);

#endif
