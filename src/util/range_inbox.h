/*
 * Guest-physical ranges handed from any thread to one consumer thread: the
 * emu engine's vCPU learns here which RAM devices wrote (DMA), and drops the
 * code it decoded from those pages before it runs on. Adjacent or
 * overlapping ranges (by 4 KiB page) merge with the last one queued; when
 * the inbox is full it remembers only "everything", which the consumer
 * treats as "drop all decoded code" — correct, only slower.
 */
#ifndef PETREL_UTIL_RANGE_INBOX_H
#define PETREL_UTIL_RANGE_INBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RANGE_INBOX_CAP 512

struct range_inbox {
	pthread_mutex_t lock;
	bool pending;               /* atomic: anything to drain (lock-free fast path) */
	bool overflow;              /* under lock: ranges were lost; drain reports "all" */
	unsigned n;                 /* under lock */
	struct {
		uint64_t first, last;   /* page numbers, inclusive */
	} r[RANGE_INBOX_CAP];
};

void range_inbox_init(struct range_inbox *q);
void range_inbox_fini(struct range_inbox *q);
/* Any thread. len 0 is ignored; a range running past 2^64 is clipped. */
void range_inbox_add(struct range_inbox *q, uint64_t gpa, uint64_t len);
/*
 * Consumer thread: calls range(opaque, gpa, len) for each queued range (page
 * aligned), or all(opaque) once after an overflow, and empties the inbox.
 * Returns how many calls it made; cheap (one atomic load) when empty.
 */
unsigned range_inbox_drain(struct range_inbox *q,
			   void (*range)(void *opaque, uint64_t gpa, uint64_t len),
			   void (*all)(void *opaque), void *opaque);

#endif
