/*
 * The I/O thread: one epoll loop on its own thread, separate from the vCPU
 * threads. Backends register file descriptors with a callback; timers are
 * timerfds; other threads hand work to the loop with event_loop_call().
 *
 * Callbacks run on the loop thread, one at a time. After event_loop_del_fd()
 * or event_loop_timer_del() returns (called from any thread), the callback is
 * not running and will not run again, so its opaque may be freed.
 */
#ifndef PETREL_UTIL_EVENT_LOOP_H
#define PETREL_UTIL_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct event_loop;
struct event_loop_timer;

/* events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP as reported by epoll. */
typedef void (*event_loop_fd_cb)(void *opaque, int fd, uint32_t events);
typedef void (*event_loop_cb)(void *opaque);

/* Create the loop and start its thread. */
int event_loop_create(struct event_loop **out);
/*
 * Stop the thread (pending calls are run first) and free the loop. Idempotent on
 * NULL; refused (logged) from the loop's own thread.
 */
void event_loop_destroy(struct event_loop *l);
/*
 * The process-wide I/O thread, created on first use (NULL if that failed).
 * Backends opened without an explicit loop register here; it lives until exit.
 */
struct event_loop *event_loop_default(void);
/* Whether the caller runs on the loop's thread. */
bool event_loop_in_thread(struct event_loop *l);

/* Watch fd for `events`; -EEXIST when fd is already watched. */
int event_loop_add_fd(struct event_loop *l, int fd, uint32_t events, event_loop_fd_cb cb,
		      void *opaque);
int event_loop_mod_fd(struct event_loop *l, int fd, uint32_t events);
/* Stop watching fd; -ENOENT when it was not watched. */
int event_loop_del_fd(struct event_loop *l, int fd);

/* Run fn(opaque) on the loop thread soon (wakes the loop through an eventfd). */
int event_loop_call(struct event_loop *l, event_loop_cb fn, void *opaque);

/*
 * A timer firing first after `first_ns`, then every `period_ns` (0: once).
 * first_ns == 0 with period_ns == 0 creates a disarmed timer.
 */
int event_loop_timer_add(struct event_loop *l, uint64_t first_ns, uint64_t period_ns,
			 event_loop_cb cb, void *opaque, struct event_loop_timer **out);
int event_loop_timer_set(struct event_loop_timer *t, uint64_t first_ns, uint64_t period_ns);
void event_loop_timer_del(struct event_loop_timer *t);

#endif
