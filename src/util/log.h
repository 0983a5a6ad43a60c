/*
 * Logging. Messages go to stderr as "petrel: level: text". Guest-triggered
 * messages use log_ratelimited() so a guest cannot flood the host's logs.
 */
#ifndef PETREL_UTIL_LOG_H
#define PETREL_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Route messages into a buffer instead of stderr (NULL restores stderr); used by tests. */
void log_set_sink(void (*sink)(enum log_level level, const char *msg, void *opaque), void *opaque);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A token bucket: at most `burst` messages, refilled at one per second. */
struct log_ratelimit {
	uint64_t last_ns;
	unsigned tokens;
	unsigned suppressed;
};
bool log_ratelimit_ok(struct log_ratelimit *rl);

#define log_ratelimited(level, ...)                                                               \
	do {                                                                                      \
		static struct log_ratelimit rl__;                                                 \
		if (log_ratelimit_ok(&rl__))                                                      \
			log_msg(level, __VA_ARGS__);                                              \
	} while (0)

#endif
