#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level current_level = LOG_WARN;
static void (*log_sink)(enum log_level, const char *, void *);
static void *log_sink_opaque;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_set_sink(void (*sink)(enum log_level, const char *, void *), void *opaque)
{
	log_sink = sink;
	log_sink_opaque = opaque;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > current_level && !log_sink)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_sink) {
		log_sink(level, buf, log_sink_opaque);
		return;
	}
	fprintf(stderr, "petrel: %s: %s\n", level_names[level], buf);
}

enum { RATELIMIT_BURST = 10 };

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (rl->last_ns == 0) {
		rl->tokens = RATELIMIT_BURST;
		rl->last_ns = now;
	}
	while (now - rl->last_ns >= 1000000000ull) {
		rl->last_ns += 1000000000ull;
		if (rl->tokens < RATELIMIT_BURST)
			rl->tokens++;
		else
			rl->last_ns = now;
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	return true;
}
