/*
 * virtio-console (virtio 1.2 section 5.3): one port, hvc0 in Linux. Output
 * goes to a chardev; input from the chardev is held in a buffer until the
 * guest supplies receive buffers.
 */
#ifndef PETREL_VIRTIO_CONSOLE_H
#define PETREL_VIRTIO_CONSOLE_H

#include <stddef.h>

#include "virtio/virtio.h"

struct chardev;
struct virtio_console;

#define VIRTIO_CONSOLE_INBUF (64 * 1024)  /* input held while the guest reads nothing */

/* The chardev stays the caller's; the console installs its input callback. */
int virtio_console_create(struct machine *m, struct chardev *cd, struct virtio_console **out);
/* Removes the input callback, then frees the device (not the chardev). */
void virtio_console_destroy(struct virtio_console *c);
struct virtio_dev *virtio_console_dev(struct virtio_console *c);
/* Input bytes dropped because the buffer was full. */
size_t virtio_console_dropped(struct virtio_console *c);

#endif
