/*
 * virtio-balloon (virtio 1.2 section 5.5): the host asks the guest to give
 * back memory (num_pages), the guest hands over page frame numbers, and the
 * host releases those pages from the memfd. Also the statistics queue and
 * free page reporting.
 */
#ifndef PETREL_VIRTIO_BALLOON_H
#define PETREL_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

struct event_loop;
struct virtio_balloon;

/* Feature bits (virtio 1.2, 5.5.3) */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_REPORTING 5

#define VIRTIO_BALLOON_PAGE 4096u

/* Statistic tags (virtio 1.2, 5.5.6.3) */
enum {
	VIRTIO_BALLOON_S_SWAP_IN,
	VIRTIO_BALLOON_S_SWAP_OUT,
	VIRTIO_BALLOON_S_MAJFLT,
	VIRTIO_BALLOON_S_MINFLT,
	VIRTIO_BALLOON_S_MEMFREE,
	VIRTIO_BALLOON_S_MEMTOT,
	VIRTIO_BALLOON_S_AVAIL,
	VIRTIO_BALLOON_S_CACHES,
	VIRTIO_BALLOON_S_HTLB_PGALLOC,
	VIRTIO_BALLOON_S_HTLB_PGFAIL,
	VIRTIO_BALLOON_S_NR
};

struct virtio_balloon_stats {
	uint64_t value[VIRTIO_BALLOON_S_NR];
	uint32_t valid;              /* bit per tag the guest reported */
	uint64_t updates;            /* stats buffers received so far */
};

struct virtio_balloon_info {
	uint32_t target_pages;       /* num_pages we asked for */
	uint32_t actual_pages;       /* what the driver says it holds */
	uint64_t discarded_pages;    /* inflated pages returned to the host */
	uint64_t refused_pfns;       /* PFNs outside guest RAM, ignored */
	uint64_t reported_bytes;     /* free page reporting: bytes discarded */
};

int virtio_balloon_create(struct machine *m, struct virtio_balloon **out);
void virtio_balloon_destroy(struct virtio_balloon *b);
struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);
/* Ask the guest to hold `pages` 4 KiB pages (config change interrupt). */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages);
void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info);
/* Ask for fresh statistics now (returns the buffer the guest left with us). */
void virtio_balloon_request_stats(struct virtio_balloon *b);
/* Poll statistics every `period_ms` on `loop` (NULL: the default I/O thread); 0 stops. */
int virtio_balloon_set_stats_period(struct virtio_balloon *b, struct event_loop *loop,
				    unsigned period_ms);
void virtio_balloon_get_stats(struct virtio_balloon *b, struct virtio_balloon_stats *st);

#endif
