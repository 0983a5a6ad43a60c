/* virtio-rng (entropy device, virtio 1.2 section 5.4): random bytes from the host's getrandom(). */
#ifndef PETREL_VIRTIO_RNG_H
#define PETREL_VIRTIO_RNG_H

#include "virtio/virtio.h"

struct virtio_rng;

int virtio_rng_create(struct machine *m, struct virtio_rng **out);
void virtio_rng_destroy(struct virtio_rng *r);
struct virtio_dev *virtio_rng_dev(struct virtio_rng *r);

#endif
