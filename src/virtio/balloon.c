#include "virtio/balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/compiler.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/machine.h"

#define BALLOON_QUEUE_MAX 128
#define PFN_BATCH 256

enum balloon_role { ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORTING, ROLE_NONE };

struct balloon_config {
	uint32_t num_pages;
	uint32_t actual;
};

struct virtio_balloon {
	struct virtio_dev dev;
	pthread_mutex_t lock;         /* every queue, the config, the statistics */
	struct balloon_config cfg;
	struct vq_elem elem;
	struct vq_elem stats_elem;    /* the guest's stats buffer, held until we want more */
	bool stats_held;
	struct virtio_balloon_stats stats;
	uint64_t discarded, refused, reported;
	struct event_loop_timer *timer;
};

/*
 * Queues exist only for negotiated features and are numbered without gaps
 * (inflate, deflate, then stats if negotiated, then reporting if negotiated).
 */
static enum balloon_role queue_role(struct virtio_balloon *b, unsigned q)
{
	bool stats = virtio_has_feature(&b->dev, VIRTIO_BALLOON_F_STATS_VQ);
	bool rep = virtio_has_feature(&b->dev, VIRTIO_BALLOON_F_REPORTING);

	if (q == 0)
		return ROLE_INFLATE;
	if (q == 1)
		return ROLE_DEFLATE;
	if (q == 2 && stats)
		return ROLE_STATS;
	if (rep && q == (stats ? 3u : 2u))
		return ROLE_REPORTING;
	return ROLE_NONE;
}

/* Give [ptr, ptr+len) back to the host: punch the memfd, drop the mapping. */
static void discard_host(void *ptr, size_t len)
{
	/* MADV_REMOVE frees the shared memfd's pages; DONTNEED where that is refused. */
	if (madvise(ptr, len, MADV_REMOVE) < 0)
		madvise(ptr, len, MADV_DONTNEED);
}

static void flush_run(struct virtio_balloon *b, uint64_t gpa, uint64_t len)
{
	void *p;

	if (!len)
		return;
	p = gmem_ptr(&b->dev.m->mem, gpa, len);
	if (p) {
		discard_host(p, (size_t)len);
		b->discarded += len / VIRTIO_BALLOON_PAGE;
	}
}

/* Inflate (discard) or deflate (only check) a list of 32-bit PFNs. Holds lock. */
static bool balloon_pfns(struct virtio_balloon *b, struct vq_elem *e, bool inflate)
{
	uint32_t pfns[PFN_BATCH];
	uint64_t run_gpa = 0, run_len = 0;
	size_t off = 0;

	/* PFN lists are device-readable and a whole number of 32-bit entries. */
	if (e->nr_in || e->out_len % 4) {
		virtio_dev_broken(&b->dev, "balloon PFN list writable or not a multiple of 4 bytes");
		return false;
	}
	while (off < e->out_len) {
		size_t n = MIN((size_t)(e->out_len - off), sizeof(pfns)) / 4;

		vq_iov_to_buf(e->iov, e->nr_out, off, pfns, n * 4);
		off += n * 4;
		for (size_t i = 0; i < n; i++) {
			/* Guest-controlled PFN: the whole page must be guest RAM. */
			uint64_t gpa = (uint64_t)pfns[i] * VIRTIO_BALLOON_PAGE;

			if (!gmem_ptr(&b->dev.m->mem, gpa, VIRTIO_BALLOON_PAGE)) {
				b->refused++;
				log_ratelimited(LOG_WARN, "virtio-balloon: PFN %#x is not guest RAM",
						pfns[i]);
				continue;
			}
			if (!inflate)
				continue;
			/* Coalesce consecutive pages within one RAM region into one call. */
			if (run_len && gpa == run_gpa + run_len &&
			    gmem_ptr(&b->dev.m->mem, run_gpa, run_len + VIRTIO_BALLOON_PAGE)) {
				run_len += VIRTIO_BALLOON_PAGE;
				continue;
			}
			flush_run(b, run_gpa, run_len);
			run_gpa = gpa;
			run_len = VIRTIO_BALLOON_PAGE;
		}
	}
	flush_run(b, run_gpa, run_len);
	return true;
}

/* Free page reporting: each writable buffer is a free range the host may drop. */
static bool balloon_report(struct virtio_balloon *b, struct vq_elem *e)
{
	if (e->nr_out) {
		virtio_dev_broken(&b->dev, "balloon report buffer is readable");
		return false;
	}
	for (unsigned i = 0; i < e->nr_in; i++) {
		/* Only whole host pages are released; ranges come page-aligned from Linux. */
		if (((uintptr_t)e->iov[i].iov_base | e->iov[i].iov_len) % VIRTIO_BALLOON_PAGE)
			continue;
		discard_host(e->iov[i].iov_base, e->iov[i].iov_len);
		b->reported += e->iov[i].iov_len;
	}
	return true;
}

/* Parse a statistics buffer: packed {le16 tag; le64 value} entries. Holds lock. */
static bool balloon_stats_parse(struct virtio_balloon *b, struct vq_elem *e)
{
	uint8_t ent[10];

	/* Stats buffers are device-readable, a whole number of 10-byte entries. */
	if (e->nr_in || e->out_len % sizeof(ent)) {
		virtio_dev_broken(&b->dev, "balloon stats buffer malformed");
		return false;
	}
	for (size_t off = 0; off < e->out_len; off += sizeof(ent)) {
		uint16_t tag;
		uint64_t val;

		vq_iov_to_buf(e->iov, e->nr_out, off, ent, sizeof(ent));
		memcpy(&tag, ent, 2);
		memcpy(&val, ent + 2, 8);
		/* Guest-controlled tag: unknown ones are ignored. */
		if (tag >= VIRTIO_BALLOON_S_NR)
			continue;
		b->stats.value[tag] = val;
		b->stats.valid |= 1u << tag;
	}
	b->stats.updates++;
	return true;
}

static void balloon_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_balloon *b = d->priv;
	struct virtqueue *vq = &d->vq[q];
	enum balloon_role role;
	bool pushed = false;

	pthread_mutex_lock(&b->lock);
	role = queue_role(b, q);
	if (role == ROLE_STATS) {
		/* The driver keeps one buffer with us; we return it when we want fresh numbers. */
		while (!b->stats_held && vq_pop(vq, &b->stats_elem) > 0) {
			if (!balloon_stats_parse(b, &b->stats_elem))
				break;
			b->stats_held = true;
		}
		pthread_mutex_unlock(&b->lock);
		return;
	}
	while (role != ROLE_NONE && vq_pop(vq, &b->elem) > 0) {
		bool ok = role == ROLE_REPORTING ? balloon_report(b, &b->elem)
						 : balloon_pfns(b, &b->elem, role == ROLE_INFLATE);
		if (!ok)
			break;
		vq_push(vq, b->elem.head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_queue_done(d, q);
	pthread_mutex_unlock(&b->lock);
}

void virtio_balloon_request_stats(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->lock);
	if (b->stats_held && virtio_dev_live(&b->dev)) {
		b->stats_held = false;
		if (vq_push(&b->dev.vq[2], b->stats_elem.head, 0) == 0)
			virtio_queue_done(&b->dev, 2);
	}
	pthread_mutex_unlock(&b->lock);
}

static void stats_tick(void *opaque)
{
	virtio_balloon_request_stats(opaque);
}

int virtio_balloon_set_stats_period(struct virtio_balloon *b, struct event_loop *loop,
				    unsigned period_ms)
{
	uint64_t ns = (uint64_t)period_ms * 1000000u;

	if (!loop)
		loop = event_loop_default();
	if (!loop)
		return -ENOMEM;
	if (!b->timer) {
		if (!period_ms)
			return 0;
		return event_loop_timer_add(loop, ns, ns, stats_tick, b, &b->timer);
	}
	return event_loop_timer_set(b->timer, ns, ns);
}

static void balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;

	pthread_mutex_lock(&b->lock);
	b->stats_held = false;
	b->cfg.actual = 0;
	pthread_mutex_unlock(&b->lock);
}

static void balloon_config_read(struct virtio_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_balloon *b = d->priv;

	pthread_mutex_lock(&b->lock);
	memcpy(buf, (const uint8_t *)&b->cfg + off, len);
	pthread_mutex_unlock(&b->lock);
}

static void balloon_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	uint8_t raw[sizeof(struct balloon_config)];

	/* Only `actual` (bytes 4..7) is the driver's to write; num_pages is ours. */
	pthread_mutex_lock(&b->lock);
	memcpy(raw, &b->cfg, sizeof(raw));
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= offsetof(struct balloon_config, actual))
			raw[off + i] = ((const uint8_t *)buf)[i];
	memcpy(&b->cfg.actual, raw + offsetof(struct balloon_config, actual), 4);
	pthread_mutex_unlock(&b->lock);
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.nr_queues = 4,
	.queue_max = BALLOON_QUEUE_MAX,
	.features = (1ull << VIRTIO_BALLOON_F_STATS_VQ) | (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
		    (1ull << VIRTIO_BALLOON_F_REPORTING),
	.config_size = sizeof(struct balloon_config),
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.notify = balloon_notify,
};

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages)
{
	pthread_mutex_lock(&b->lock);
	b->cfg.num_pages = pages;
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_lock(&b->dev.lock);
	b->dev.config_generation++;
	pthread_mutex_unlock(&b->dev.lock);
	if (virtio_dev_live(&b->dev) && b->dev.transport && b->dev.transport->config_interrupt)
		b->dev.transport->config_interrupt(&b->dev);
}

void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info)
{
	pthread_mutex_lock(&b->lock);
	info->target_pages = b->cfg.num_pages;
	info->actual_pages = b->cfg.actual;
	info->discarded_pages = b->discarded;
	info->refused_pfns = b->refused;
	info->reported_bytes = b->reported;
	pthread_mutex_unlock(&b->lock);
}

void virtio_balloon_get_stats(struct virtio_balloon *b, struct virtio_balloon_stats *st)
{
	pthread_mutex_lock(&b->lock);
	*st = b->stats;
	pthread_mutex_unlock(&b->lock);
}

int virtio_balloon_create(struct machine *m, struct virtio_balloon **out)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	rc = virtio_dev_init(&b->dev, m, &balloon_ops, b);
	if (rc < 0) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	event_loop_timer_del(b->timer);
	virtio_dev_fini(&b->dev);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->dev;
}
