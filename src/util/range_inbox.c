#include "util/range_inbox.h"

#include <string.h>

#define PAGE_SHIFT 12

void range_inbox_init(struct range_inbox *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
}

void range_inbox_fini(struct range_inbox *q)
{
	pthread_mutex_destroy(&q->lock);
}

void range_inbox_add(struct range_inbox *q, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (!len)
		return;
	first = gpa >> PAGE_SHIFT;
	last = (len - 1 > UINT64_MAX - gpa ? UINT64_MAX : gpa + (len - 1)) >> PAGE_SHIFT;
	pthread_mutex_lock(&q->lock);
	if (q->overflow) {
		/* Already "everything". */
	} else if (q->n && first <= q->r[q->n - 1].last + 1 && last + 1 >= q->r[q->n - 1].first) {
		/* Touches or overlaps the last range (the common case: one buffer in pieces). */
		if (first < q->r[q->n - 1].first)
			q->r[q->n - 1].first = first;
		if (last > q->r[q->n - 1].last)
			q->r[q->n - 1].last = last;
	} else if (q->n < RANGE_INBOX_CAP) {
		q->r[q->n].first = first;
		q->r[q->n].last = last;
		q->n++;
	} else {
		q->overflow = true;
	}
	/* Published before the caller goes on to tell the guest (used index, interrupt). */
	__atomic_store_n(&q->pending, true, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&q->lock);
}

unsigned range_inbox_drain(struct range_inbox *q,
			   void (*range)(void *opaque, uint64_t gpa, uint64_t len),
			   void (*all)(void *opaque), void *opaque)
{
	struct {
		uint64_t first, last;
	} r[RANGE_INBOX_CAP];
	unsigned n, i;
	bool overflow;

	if (!__atomic_load_n(&q->pending, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&q->lock);
	n = q->n;
	overflow = q->overflow;
	memcpy(r, q->r, sizeof(r[0]) * n);
	q->n = 0;
	q->overflow = false;
	__atomic_store_n(&q->pending, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&q->lock);
	/* Called without the lock, so producers never wait for the invalidation. */
	if (overflow) {
		all(opaque);
		return 1;
	}
	for (i = 0; i < n; i++) {
		uint64_t gpa = r[i].first << PAGE_SHIFT;
		uint64_t pages = r[i].last - r[i].first + 1;
		/* The whole 2^52-page space would overflow a byte count: say "all". */
		if (pages > (UINT64_MAX >> PAGE_SHIFT)) {
			all(opaque);
			return i + 1;
		}
		range(opaque, gpa, pages << PAGE_SHIFT);
	}
	return n;
}
