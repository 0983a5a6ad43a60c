/*
 * Raw image files (or block devices). I/O goes through io_uring when the
 * kernel allows it, else through a small pool of threads doing blocking
 * preadv/pwritev. Both engines share the synchronous helpers below, which
 * also finish short transfers and emulate WRITE_ZEROES when fallocate lacks
 * ZERO_RANGE.
 */
#include "backend/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/log.h"

#define POOL_THREADS 4
#define URING_DEPTH 256
#define IOV_MAX_NOWAIT 1024 /* preadv2's limit (IOV_MAX) */

struct disk_raw {
	struct disk pub;
	int fd;
	enum disk_raw_engine engine;

	/* thread pool */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct disk_req *head, **tail;
	bool stopping;
	unsigned nthreads;
	pthread_t threads[POOL_THREADS];

	/* io_uring: submitters serialise on sq_lock; one reaper thread owns the CQ */
	struct io_uring ring;
	pthread_mutex_t sq_lock;
	pthread_t reaper;
	bool ring_ok;

	/* RWF_NOWAIT refused for writes (buffered ext4 says EOPNOTSUPP): stop trying. */
	bool no_nowait_write;
	bool no_inline;              /* disk_raw_set_inline(false) */
};

static struct disk_raw *to_raw(struct disk *d)
{
	return container_of(d, struct disk_raw, pub);
}

/* Finish a transfer from `done` bytes on, with blocking calls. */
static int64_t rw_sync(int fd, const struct disk_req *r, uint64_t done)
{
	struct iovec iov[64];

	for (;;) {
		uint64_t skip = done;
		unsigned n = 0, i = 0;
		ssize_t got;

		/* Rebuild the iovec tail after `done` bytes, 64 entries at a time. */
		for (; i < r->niov && skip >= r->iov[i].iov_len; i++)
			skip -= r->iov[i].iov_len;
		if (i == r->niov)
			return (int64_t)done;
		for (; i < r->niov && n < ARRAY_SIZE(iov); i++, n++) {
			iov[n].iov_base = (uint8_t *)r->iov[i].iov_base + skip;
			iov[n].iov_len = r->iov[i].iov_len - skip;
			skip = 0;
		}
		if (r->op == DISK_READ)
			got = preadv(fd, iov, (int)n, (off_t)(r->offset + done));
		else
			got = pwritev(fd, iov, (int)n, (off_t)(r->offset + done));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0) {
			if (r->op != DISK_READ)
				return -EIO;
			/* Past the end of a file that shrank under us: read as zeroes. */
			for (unsigned k = 0; k < n; k++) {
				memset(iov[k].iov_base, 0, iov[k].iov_len);
				done += iov[k].iov_len;
			}
			continue;
		}
		done += (uint64_t)got;
	}
}

static int64_t zeroes_sync(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];

	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	/* Fallback: write real zeroes. */
	while (len > 0) {
		size_t n = (size_t)MIN(len, sizeof(zero));
		ssize_t w = pwrite(fd, zero, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int64_t do_sync(int fd, struct disk_req *r)
{
	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE:
		return rw_sync(fd, r, 0);
	case DISK_FLUSH:
		return fdatasync(fd) < 0 ? -errno : 0;
	case DISK_DISCARD:
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->offset,
				 (off_t)r->len) < 0 ? -errno : 0;
	case DISK_WRITE_ZEROES:
		return zeroes_sync(fd, r->offset, r->len);
	}
	return -EINVAL;
}

/*
 * Fast path on the submitting thread (a vCPU under emu, the notify
 * handler): a read or write the page cache can serve without blocking
 * (RWF_NOWAIT) completes here and now, so the request costs no hand-off to
 * a worker or reaper thread and back. On a loaded host each of those
 * wake-ups can wait for a time slice. Anything that would block (a page
 * not cached, writeback, a short transfer) returns false and the request
 * goes to the engine whole; repeating its first part is harmless because
 * the driver may not touch buffers in flight.
 */
static bool try_nowait(struct disk_raw *d, struct disk_req *r)
{
	uint64_t total;
	ssize_t got;

	if (r->op != DISK_READ && r->op != DISK_WRITE)
		return false;
	if (__atomic_load_n(&d->no_inline, __ATOMIC_RELAXED))
		return false;
	if (r->niov == 0 || r->niov > IOV_MAX_NOWAIT)
		return false;
	if (r->op == DISK_WRITE && __atomic_load_n(&d->no_nowait_write, __ATOMIC_RELAXED))
		return false;
	total = 0;
	for (unsigned i = 0; i < r->niov; i++)
		total += r->iov[i].iov_len;
	if (r->op == DISK_READ)
		got = preadv2(d->fd, r->iov, (int)r->niov, (off_t)r->offset, RWF_NOWAIT);
	else
		got = pwritev2(d->fd, r->iov, (int)r->niov, (off_t)r->offset, RWF_NOWAIT);
	if (got < 0) {
		if (r->op == DISK_WRITE && (errno == EOPNOTSUPP || errno == EINVAL))
			__atomic_store_n(&d->no_nowait_write, true, __ATOMIC_RELAXED);
		return false;
	}
	if ((uint64_t)got != total)
		return false;
	r->done(r, got);
	return true;
}

/* ---- thread pool ---- */

static void *pool_worker(void *arg)
{
	struct disk_raw *d = arg;

	for (;;) {
		struct disk_req *r;

		pthread_mutex_lock(&d->lock);
		while (!d->head && !d->stopping)
			pthread_cond_wait(&d->cond, &d->lock);
		r = d->head;
		if (r) {
			d->head = r->next;
			if (!d->head)
				d->tail = &d->head;
		}
		pthread_mutex_unlock(&d->lock);
		if (!r)
			return NULL; /* stopping and the queue is drained */
		r->done(r, do_sync(d->fd, r));
	}
}

static int pool_submit(struct disk *disk, struct disk_req *r)
{
	struct disk_raw *d = to_raw(disk);

	if (try_nowait(d, r))
		return 0;
	r->next = NULL;
	pthread_mutex_lock(&d->lock);
	*d->tail = r;
	d->tail = &r->next;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int pool_start(struct disk_raw *d)
{
	for (unsigned i = 0; i < POOL_THREADS; i++) {
		int r = pthread_create(&d->threads[i], NULL, pool_worker, d);
		if (r)
			return -r;
		d->nthreads++;
	}
	return 0;
}

static void pool_stop(struct disk_raw *d)
{
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	d->nthreads = 0;
}

/* ---- io_uring ---- */

static uint64_t iov_total(const struct disk_req *r)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < r->niov; i++)
		t += r->iov[i].iov_len;
	return t;
}

static void *uring_reaper(void *arg)
{
	struct disk_raw *d = arg;

	for (;;) {
		struct io_uring_cqe *cqe;
		struct disk_req *r;
		int64_t res;
		int rc = io_uring_wait_cqe(&d->ring, &cqe);

		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			log_error("disk: io_uring_wait_cqe: %s", strerror(-rc));
			return NULL;
		}
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&d->ring, cqe);
		if (!r)
			return NULL; /* the stop marker: everything before it completed */
		if ((r->op == DISK_READ || r->op == DISK_WRITE) && res >= 0 &&
		    (uint64_t)res < iov_total(r))
			res = rw_sync(d->fd, r, (uint64_t)res); /* finish a short transfer */
		else if (r->op == DISK_WRITE_ZEROES && (res == -EOPNOTSUPP || res == -EINVAL))
			res = zeroes_sync(d->fd, r->offset, r->len);
		r->done(r, res);
	}
}

static int uring_submit(struct disk *disk, struct disk_req *r)
{
	struct disk_raw *d = to_raw(disk);
	struct io_uring_sqe *sqe;
	int rc;

	if (try_nowait(d, r))
		return 0;
	pthread_mutex_lock(&d->sq_lock);
	while (!(sqe = io_uring_get_sqe(&d->ring))) {
		rc = io_uring_submit(&d->ring);
		if (rc < 0 && rc != -EAGAIN && rc != -EBUSY) {
			pthread_mutex_unlock(&d->sq_lock);
			return rc;
		}
	}
	switch (r->op) {
	case DISK_READ:
		io_uring_prep_readv(sqe, d->fd, r->iov, r->niov, r->offset);
		break;
	case DISK_WRITE:
		io_uring_prep_writev(sqe, d->fd, r->iov, r->niov, r->offset);
		break;
	case DISK_FLUSH:
		io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
		break;
	case DISK_DISCARD:
		io_uring_prep_fallocate(sqe, d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	case DISK_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	rc = io_uring_submit(&d->ring);
	pthread_mutex_unlock(&d->sq_lock);
	return rc < 0 ? rc : 0;
}

static int uring_start(struct disk_raw *d)
{
	int rc = io_uring_queue_init(URING_DEPTH, &d->ring, 0);

	if (rc < 0)
		return rc;
	d->ring_ok = true;
	rc = -pthread_create(&d->reaper, NULL, uring_reaper, d);
	if (rc < 0) {
		io_uring_queue_exit(&d->ring);
		d->ring_ok = false;
	}
	return rc;
}

static void uring_stop(struct disk_raw *d)
{
	struct io_uring_sqe *sqe;

	pthread_mutex_lock(&d->sq_lock);
	while (!(sqe = io_uring_get_sqe(&d->ring)))
		io_uring_submit(&d->ring);
	/* A NOP ordered after everything else tells the reaper to finish. */
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_IO_DRAIN;
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&d->ring);
	pthread_mutex_unlock(&d->sq_lock);
	pthread_join(d->reaper, NULL);
	io_uring_queue_exit(&d->ring);
	d->ring_ok = false;
}

/* ---- common ---- */

static void raw_close(struct disk *disk)
{
	struct disk_raw *d = to_raw(disk);

	if (d->engine == DISK_ENGINE_URING && d->ring_ok)
		uring_stop(d);
	else
		pool_stop(d);
	if (d->fd >= 0)
		close(d->fd); /* also drops the flock */
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->sq_lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}

static const struct disk_ops pool_ops = { .submit = pool_submit, .close = raw_close };
static const struct disk_ops uring_ops = { .submit = uring_submit, .close = raw_close };

enum disk_raw_engine disk_raw_engine(struct disk *d)
{
	return to_raw(d)->engine;
}

void disk_raw_set_inline(struct disk *d, bool on)
{
	__atomic_store_n(&to_raw(d)->no_inline, !on, __ATOMIC_RELAXED);
}

int disk_raw_open(const char *path, bool readonly, enum disk_raw_engine engine,
		  struct disk **out, char *err, size_t errlen)
{
	struct disk_raw *d = calloc(1, sizeof(*d));
	struct stat st;
	int rc;

	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->tail = &d->head;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->sq_lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->pub.readonly = readonly;

	d->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open disk image %s: %s", path, strerror(errno));
		goto fail;
	}
	/* One writer per image, across VMs: a second VM would corrupt it. */
	if (flock(d->fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "disk image %s is in use by another VM (%s lock held)", path,
			 readonly ? "an exclusive" : "a");
		goto fail;
	}
	if (fstat(d->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;
		if (ioctl(d->fd, BLKGETSIZE64, &sz) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot size block device %s: %s", path,
				 strerror(errno));
			goto fail;
		}
		d->pub.size = sz;
	} else if (S_ISREG(st.st_mode)) {
		d->pub.size = (uint64_t)st.st_size;
		d->pub.discard_ok = !readonly;
	} else {
		rc = -EINVAL;
		snprintf(err, errlen, "%s is neither a regular file nor a block device", path);
		goto fail;
	}

	if (engine != DISK_ENGINE_THREADS) {
		rc = uring_start(d);
		if (rc == 0) {
			d->engine = DISK_ENGINE_URING;
			d->pub.ops = &uring_ops;
		} else if (engine == DISK_ENGINE_URING) {
			snprintf(err, errlen, "io_uring unavailable: %s", strerror(-rc));
			goto fail;
		} else {
			log_info("disk: io_uring unavailable (%s), using a thread pool",
				 strerror(-rc));
		}
	}
	if (!d->ring_ok) {
		d->engine = DISK_ENGINE_THREADS;
		d->pub.ops = &pool_ops;
		rc = pool_start(d);
		if (rc < 0) {
			snprintf(err, errlen, "cannot start disk threads: %s", strerror(-rc));
			pool_stop(d);
			goto fail;
		}
	}
	*out = &d->pub;
	return 0;
fail:
	if (d->fd >= 0)
		close(d->fd);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->sq_lock);
	pthread_cond_destroy(&d->cond);
	free(d);
	return rc;
}
