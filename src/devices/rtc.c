#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "util/log.h"
#include "vm/machine.h"

#define RTC_SEC        0x00
#define RTC_SEC_ALARM  0x01
#define RTC_MIN        0x02
#define RTC_MIN_ALARM  0x03
#define RTC_HOUR       0x04
#define RTC_HOUR_ALARM 0x05
#define RTC_WDAY       0x06
#define RTC_MDAY       0x07
#define RTC_MONTH      0x08
#define RTC_YEAR       0x09
#define RTC_REG_A      0x0a
#define RTC_REG_B      0x0b
#define RTC_REG_C      0x0c
#define RTC_REG_D      0x0d

#define A_UIP       0x80
#define A_DV_MASK   0x70
#define A_DV_NORMAL 0x20 /* 32.768 kHz time base, dividers running */
#define A_RS_MASK   0x0f

#define B_SET  0x80
#define B_PIE  0x40
#define B_AIE  0x20
#define B_UIE  0x10
#define B_DM   0x04 /* binary (1) or BCD (0) */
#define B_24H  0x02

#define C_IRQF 0x80
#define C_PF   0x40
#define C_AF   0x20
#define C_UF   0x10

#define D_VRT 0x80

#define NSEC           1000000000ll
#define UIP_WINDOW_NS  244000ll
#define MIN_TICK_NS    1000000ll

struct rtc {
	struct machine *m;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started, stopping;
	bool registered;

	uint8_t index_reg; /* last value written to port 0x70 */
	uint8_t cmos[128]; /* time registers hold the latched time only while SET */
	int64_t offset_s;  /* guest time = host time + offset */
	int64_t last_s;    /* guest second at the last flag update */
	int64_t last_tick; /* periodic tick number at the last flag update */
	bool irq_level;

	int64_t (*now_ns)(void *opaque);
	void *clock_opaque;
};

static int64_t rtc_host_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static int64_t rtc_now(struct rtc *r)
{
	return r->now_ns(r->clock_opaque);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static int64_t rtc_guest_sec(struct rtc *r, int64_t now)
{
	return floor_div(now, NSEC) + r->offset_s;
}

static bool rtc_binary(const struct rtc *r)
{
	return r->cmos[RTC_REG_B] & B_DM;
}

static uint8_t rtc_to_reg(const struct rtc *r, int v)
{
	if (rtc_binary(r))
		return (uint8_t)v;
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

/* Guest value: BCD digits above 9 are not rejected, just weighted; timegm normalises. */
static int rtc_from_reg(const struct rtc *r, uint8_t v)
{
	if (rtc_binary(r))
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_hour_to_reg(const struct rtc *r, int hour)
{
	int h12;

	if (r->cmos[RTC_REG_B] & B_24H)
		return rtc_to_reg(r, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return rtc_to_reg(r, h12) | (hour >= 12 ? 0x80 : 0);
}

static int rtc_hour_from_reg(const struct rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return rtc_from_reg(r, v);
	return rtc_from_reg(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/* Fill the time registers with the guest's current time. */
static void rtc_latch(struct rtc *r, int64_t now)
{
	time_t t = (time_t)rtc_guest_sec(r, now);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	r->cmos[RTC_SEC] = rtc_to_reg(r, tm.tm_sec);
	r->cmos[RTC_MIN] = rtc_to_reg(r, tm.tm_min);
	r->cmos[RTC_HOUR] = rtc_hour_to_reg(r, tm.tm_hour);
	r->cmos[RTC_WDAY] = rtc_to_reg(r, tm.tm_wday + 1);
	r->cmos[RTC_MDAY] = rtc_to_reg(r, tm.tm_mday);
	r->cmos[RTC_MONTH] = rtc_to_reg(r, tm.tm_mon + 1);
	r->cmos[RTC_YEAR] = rtc_to_reg(r, (tm.tm_year + 1900) % 100);
	r->cmos[RTC_CMOS_CENTURY] = rtc_to_reg(r, (tm.tm_year + 1900) / 100);
}

/* Make the time registers the guest's current time. */
static void rtc_commit(struct rtc *r, int64_t now)
{
	struct tm tm = { 0 };
	time_t t;

	/* Guest values: any byte is accepted; timegm folds out-of-range fields. */
	tm.tm_sec = rtc_from_reg(r, r->cmos[RTC_SEC]);
	tm.tm_min = rtc_from_reg(r, r->cmos[RTC_MIN]);
	tm.tm_hour = rtc_hour_from_reg(r, r->cmos[RTC_HOUR]);
	tm.tm_mday = rtc_from_reg(r, r->cmos[RTC_MDAY]);
	tm.tm_mon = rtc_from_reg(r, r->cmos[RTC_MONTH]) - 1;
	tm.tm_year = rtc_from_reg(r, r->cmos[RTC_CMOS_CENTURY]) * 100 +
		     rtc_from_reg(r, r->cmos[RTC_YEAR]) - 1900;
	t = timegm(&tm);
	if (t == (time_t)-1 && tm.tm_year != 69)
		return;
	r->offset_s = (int64_t)t - floor_div(now, NSEC);
	r->last_s = rtc_guest_sec(r, now);
}

static bool rtc_running(const struct rtc *r)
{
	return !(r->cmos[RTC_REG_B] & B_SET);
}

/* Periodic interrupt period from register A's rate select, 0 when off. */
static int64_t rtc_period_ns(const struct rtc *r)
{
	unsigned rs = r->cmos[RTC_REG_A] & A_RS_MASK;

	if (!rs)
		return 0;
	if (rs <= 2)
		rs += 7; /* rates 1 and 2 repeat 8 and 9 with a 32.768 kHz base */
	return (NSEC << (rs - 1)) / 32768;
}

static bool rtc_alarm_match(struct rtc *r)
{
	static const uint8_t pairs[3][2] = { { RTC_SEC_ALARM, RTC_SEC },
					     { RTC_MIN_ALARM, RTC_MIN },
					     { RTC_HOUR_ALARM, RTC_HOUR } };

	for (unsigned i = 0; i < 3; i++) {
		uint8_t alarm = r->cmos[pairs[i][0]];

		/* 0xC0-0xFF in an alarm byte means "any value". */
		if ((alarm & 0xc0) == 0xc0)
			continue;
		if (alarm != r->cmos[pairs[i][1]])
			return false;
	}
	return true;
}

/* Bring register C's flags up to `now` and the interrupt line with them. */
static void rtc_update_flags(struct rtc *r, int64_t now)
{
	int64_t period = rtc_period_ns(r);
	uint8_t c = r->cmos[RTC_REG_C];

	if (period) {
		int64_t tick = floor_div(now, period);

		if (tick != r->last_tick)
			c |= C_PF;
		r->last_tick = tick;
	}
	if (rtc_running(r)) {
		int64_t sec = rtc_guest_sec(r, now);

		if (sec != r->last_s) {
			c |= C_UF;
			/*
			 * Compare the alarm with the time as the registers show it
			 * (while running they are regenerated on every read anyway).
			 */
			rtc_latch(r, now);
			if (rtc_alarm_match(r))
				c |= C_AF;
		}
		r->last_s = sec;
	}
	c &= ~C_IRQF;
	if (c & r->cmos[RTC_REG_B] & (C_PF | C_AF | C_UF))
		c |= C_IRQF;
	r->cmos[RTC_REG_C] = c;
	if (!!(c & C_IRQF) != r->irq_level) {
		r->irq_level = c & C_IRQF;
		irq_set_level(&r->m->irq, RTC_GSI, r->irq_level);
	}
}

static uint8_t rtc_read_reg(struct rtc *r, uint8_t idx)
{
	int64_t now = rtc_now(r);
	uint8_t v;

	switch (idx) {
	case RTC_SEC:
	case RTC_MIN:
	case RTC_HOUR:
	case RTC_WDAY:
	case RTC_MDAY:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CMOS_CENTURY:
		if (rtc_running(r))
			rtc_latch(r, now);
		return r->cmos[idx];
	case RTC_REG_A:
		v = r->cmos[RTC_REG_A] & ~A_UIP;
		if (rtc_running(r) && (v & A_DV_MASK) == A_DV_NORMAL &&
		    now - floor_div(now, NSEC) * NSEC >= NSEC - UIP_WINDOW_NS)
			v |= A_UIP;
		return v;
	case RTC_REG_C:
		rtc_update_flags(r, now);
		v = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		rtc_update_flags(r, now); /* lowers the line */
		return v;
	case RTC_REG_D:
		return D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void rtc_write_reg(struct rtc *r, uint8_t idx, uint8_t v)
{
	int64_t now = rtc_now(r);

	switch (idx) {
	case RTC_SEC:
	case RTC_MIN:
	case RTC_HOUR:
	case RTC_WDAY:
	case RTC_MDAY:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CMOS_CENTURY:
		if (!rtc_running(r)) {
			r->cmos[idx] = v;
			break;
		}
		rtc_latch(r, now);
		r->cmos[idx] = v;
		rtc_commit(r, now);
		break;
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = v & ~A_UIP; /* UIP is read-only */
		break;
	case RTC_REG_B: {
		uint8_t old = r->cmos[RTC_REG_B];

		if (!(old & B_SET) && (v & B_SET)) {
			rtc_latch(r, now); /* freeze the time for the guest to edit */
			v &= ~B_UIE;       /* setting SET clears UIE */
		}
		/*
		 * A format change while running needs no conversion: the registers
		 * are regenerated from the clock. While SET they hold guest bytes.
		 */
		r->cmos[RTC_REG_B] = v;
		if ((old & B_SET) && !(v & B_SET))
			rtc_commit(r, now);
		rtc_update_flags(r, now);
		break;
	}
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = v;
		break;
	}
}

static uint64_t rtc_io_read(void *opaque, uint64_t offset, unsigned size)
{
	struct rtc *r = opaque;
	uint8_t v;

	pthread_mutex_lock(&r->lock);
	if (offset == 0)
		v = r->index_reg;
	else
		v = rtc_read_reg(r, r->index_reg & 0x7f);
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_io_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		/* Guest value: bit 7 is the NMI mask, bits 6:0 index the 128 bytes. */
		r->index_reg = (uint8_t)value;
	} else {
		rtc_write_reg(r, r->index_reg & 0x7f, (uint8_t)value);
		pthread_cond_signal(&r->cond); /* interrupt enables or rate may have changed */
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct iobus_ops rtc_ops = {
	.name = "rtc",
	.read = rtc_io_read,
	.write = rtc_io_write,
	.sizes = IOBUS_SIZE_1,
	.split = true,
};

/* How long until the next event the guest enabled an interrupt for, or -1. */
static int64_t rtc_next_event_ns(struct rtc *r, int64_t now)
{
	uint8_t b = r->cmos[RTC_REG_B];
	int64_t wait = -1, period = rtc_period_ns(r);

	if ((b & (B_UIE | B_AIE)) && rtc_running(r))
		wait = NSEC - (now - floor_div(now, NSEC) * NSEC);
	if ((b & B_PIE) && period) {
		int64_t p = period - (now - floor_div(now, period) * period);

		if (wait < 0 || p < wait)
			wait = p;
	}
	if (wait >= 0 && wait < MIN_TICK_NS)
		wait = MIN_TICK_NS;
	return wait;
}

static void *rtc_thread(void *arg)
{
	struct rtc *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		int64_t wait = rtc_next_event_ns(r, rtc_now(r));
		struct timespec ts;

		if (wait < 0) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		wait += ts.tv_nsec + 10000; /* land just after the boundary */
		ts.tv_sec += wait / NSEC;
		ts.tv_nsec = wait % NSEC;
		if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
			rtc_update_flags(r, rtc_now(r));
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int rtc_create(struct machine *m, struct rtc **out)
{
	pthread_condattr_t ca;
	struct rtc *r;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->m = m;
	r->now_ns = rtc_host_ns;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* As firmware leaves it: dividers running, 1024 Hz rate, BCD, 24-hour. */
	r->cmos[RTC_REG_A] = A_DV_NORMAL | 0x06;
	r->cmos[RTC_REG_B] = B_24H;
	r->cmos[RTC_REG_D] = D_VRT;
	r->last_s = rtc_guest_sec(r, rtc_now(r));

	rc = iobus_register(&m->pio, LAYOUT_PORT_RTC, 2, &rtc_ops, r);
	if (rc)
		goto fail;
	r->registered = true;
	rc = -pthread_create(&r->thread, NULL, rtc_thread, r);
	if (rc)
		goto fail;
	r->thread_started = true;
	*out = r;
	return 0;
fail:
	rtc_destroy(r);
	return rc;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	if (r->registered)
		iobus_unregister(&r->m->pio, LAYOUT_PORT_RTC, r);
	if (r->thread_started) {
		pthread_mutex_lock(&r->lock);
		r->stopping = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	if (r->irq_level)
		irq_set_level(&r->m->irq, RTC_GSI, false);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

bool rtc_nmi_masked(struct rtc *r)
{
	bool masked;

	pthread_mutex_lock(&r->lock);
	masked = r->index_reg & 0x80;
	pthread_mutex_unlock(&r->lock);
	return masked;
}

int rtc_cmos_set(struct rtc *r, uint8_t index, uint8_t value)
{
	if (index < 0x0e || index >= 0x80 || index == RTC_CMOS_CENTURY)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->cmos[index] = value;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void rtc_set_clock(struct rtc *r, int64_t (*now_ns)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&r->lock);
	r->now_ns = now_ns ? now_ns : rtc_host_ns;
	r->clock_opaque = opaque;
	r->last_s = rtc_guest_sec(r, rtc_now(r));
	r->last_tick = 0;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
