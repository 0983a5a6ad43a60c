/*
 * virtio-blk (block device, virtio 1.2 section 5.2) on a disk backend.
 * Requests are parsed on the notifying thread and completed by the
 * backend's I/O threads, which push the used element and interrupt.
 */
#ifndef PETREL_VIRTIO_BLK_H
#define PETREL_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>

#include "virtio/virtio.h"

struct disk;
struct virtio_blk;

/* Request types and status values (virtio 1.2, 5.2.6) */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* Feature bits (virtio 1.2, 5.2.3) */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_MAX_DISCARD_SECTORS (1u << 22)  /* 2 GiB per request */

/* Open a raw image (flock'd; -EBUSY when another VM holds it) and create the device. */
int virtio_blk_create(struct machine *m, const char *path, bool readonly,
		      struct virtio_blk **out, char *err, size_t errlen);
/* Create the device on an already open disk (tests use a fake). Takes ownership of disk. */
int virtio_blk_create_disk(struct machine *m, struct disk *disk, bool readonly,
			   const char *serial, struct virtio_blk **out);
/* Waits for requests in flight, then closes the disk. */
void virtio_blk_destroy(struct virtio_blk *b);
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);
/* Data bytes of completed reads and writes (petreld's metrics). */
struct virtio_blk_stats {
	uint64_t read_bytes, write_bytes;
};
void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *st);

#endif
