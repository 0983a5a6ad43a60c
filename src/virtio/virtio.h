/*
 * The transport-independent part of a virtio 1.x device: status and feature
 * negotiation, queues, the device-broken state, and the ops table each
 * device supplies. The transport (virtio_pci.c) maps registers onto these
 * calls; devices never see the transport.
 */
#ifndef PETREL_VIRTIO_VIRTIO_H
#define PETREL_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtqueue.h"

struct machine;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_NO_VECTOR 0xffff

/* Device status bits (virtio 1.2, 2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Reserved feature bits (virtio 1.2, 6) */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33

enum virtio_device_id {
	VIRTIO_ID_NET = 1,
	VIRTIO_ID_BLOCK = 2,
	VIRTIO_ID_CONSOLE = 3,
	VIRTIO_ID_RNG = 4,
	VIRTIO_ID_BALLOON = 5,
};

struct virtio_dev_ops {
	const char *name;
	uint16_t device_id;
	unsigned nr_queues;
	uint16_t queue_max;          /* largest ring size offered */
	uint64_t features;           /* device-specific feature bits offered */
	uint32_t config_size;        /* bytes of device config space */
	/* Config space access; offset+len is within config_size (checked by the core). */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);
	/* DRIVER_OK was set with valid queues: start serving. Non-zero refuses (FAILED). */
	int (*activate)(struct virtio_dev *d);
	/* The driver reset the device: stop serving and forget queue state. */
	void (*reset)(struct virtio_dev *d);
	/* The driver made buffers available on queue q. */
	void (*notify)(struct virtio_dev *d, unsigned q);
};

/* How the core asks the transport to interrupt the driver. */
struct virtio_transport_ops {
	void (*queue_interrupt)(struct virtio_dev *d, unsigned q);
	void (*config_interrupt)(struct virtio_dev *d);
};

struct virtio_queue_cfg {
	uint16_t size;               /* driver-chosen size, initially queue_max */
	bool enabled;
	uint16_t msix_vector;
	uint64_t desc, avail, used;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;                  /* the device's own state */
	struct machine *m;
	pthread_mutex_t lock;        /* guards status, features and queue configuration */

	uint8_t status;
	uint8_t config_generation;
	uint64_t driver_features;
	uint16_t config_msix;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
	struct virtqueue vq[VIRTIO_MAX_QUEUES];

	const struct virtio_transport_ops *transport;
	void *transport_priv;
};

int virtio_dev_init(struct virtio_dev *d, struct machine *m, const struct virtio_dev_ops *ops,
		    void *priv);
void virtio_dev_fini(struct virtio_dev *d);

/* Features offered: the device's plus those the core implements. */
uint64_t virtio_device_features(const struct virtio_dev *d);
bool virtio_has_feature(const struct virtio_dev *d, unsigned bit);
/* Driver writes. Each returns 0, or -EINVAL when the write is refused. */
int virtio_set_driver_features(struct virtio_dev *d, uint64_t features);
void virtio_set_status(struct virtio_dev *d, uint8_t status);
/* Queue configuration; refused (-EBUSY) once the driver set DRIVER_OK. */
int virtio_queue_set(struct virtio_dev *d, unsigned q, const struct virtio_queue_cfg *cfg);
void virtio_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len);
void virtio_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len);
void virtio_queue_notify(struct virtio_dev *d, unsigned q);

/* Device side: the driver gets an interrupt for queue q if it wants one. */
void virtio_queue_done(struct virtio_dev *d, unsigned q);
/* Device side: the driver broke the rules; the device stops until reset. */
void virtio_dev_broken(struct virtio_dev *d, const char *why);
bool virtio_dev_live(struct virtio_dev *d);

#endif
