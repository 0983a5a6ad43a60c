/*
 * Local APIC model (emu engine). Register layout and semantics from the
 * Intel SDM Vol. 3A chapter "Advanced Programmable Interrupt Controller".
 *
 * The timer counts at LAPIC_TIMER_HZ (1 GHz, so one tick per bus nanosecond)
 * divided by the divide-configuration register. Messages to other APICs and
 * EOIs to the IOAPIC are sent after this APIC's lock is dropped, so two APICs
 * sending to each other cannot deadlock.
 */
#include "devices/lapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define LAPIC_TIMER_HZ 1000000000ull
#define LAPIC_VERSION 0x14
#define LAPIC_NR_LVT 7      /* CMCI, timer, thermal, perf, LINT0, LINT1, error */
#define LVT_MASKED (1u << 16)

enum {
	REG_ID = 0x20, REG_VERSION = 0x30, REG_TPR = 0x80, REG_APR = 0x90, REG_PPR = 0xa0,
	REG_EOI = 0xb0, REG_RRD = 0xc0, REG_LDR = 0xd0, REG_DFR = 0xe0, REG_SVR = 0xf0,
	REG_ISR = 0x100, REG_TMR = 0x180, REG_IRR = 0x200, REG_ESR = 0x280,
	REG_LVT_CMCI = 0x2f0, REG_ICR_LO = 0x300, REG_ICR_HI = 0x310, REG_LVT_TIMER = 0x320,
	REG_LVT_THERMAL = 0x330, REG_LVT_PERF = 0x340, REG_LVT_LINT0 = 0x350,
	REG_LVT_LINT1 = 0x360, REG_LVT_ERROR = 0x370, REG_TIMER_INIT = 0x380,
	REG_TIMER_CUR = 0x390, REG_TIMER_DIV = 0x3e0, REG_SELF_IPI = 0x3f0,
};

enum { TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2 };

struct lapic {
	pthread_mutex_t lock;
	struct apic_bus *bus;
	unsigned index;
	uint32_t id;
	uint64_t base;
	uint64_t tsc_hz;

	uint32_t tpr, ldr, dfr, svr, esr;
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LAPIC_NR_LVT];
	uint32_t irr[8], isr[8], tmr[8];

	uint32_t timer_init, timer_div;
	uint64_t timer_start_ns;   /* when the current count was loaded */
	uint64_t timer_expiry_ns;  /* next expiry, UINT64_MAX when idle */
	uint64_t tsc_deadline;

	bool nmi_pending, init_pending, sipi_pending;
	uint8_t sipi_vector;
};

/* What to do once the lock is dropped. */
struct lapic_outbox {
	bool send;
	struct apic_msg msg;
	int eoi_vector; /* -1: none */
};

static unsigned lvt_index(uint64_t reg)
{
	return reg == REG_LVT_CMCI ? 0 : 1 + (unsigned)((reg - REG_LVT_TIMER) >> 4);
}

static bool x2apic_mode(const struct lapic *l)
{
	return (l->base & LAPIC_BASE_X2APIC) != 0;
}

static bool hw_enabled(const struct lapic *l)
{
	return (l->base & LAPIC_BASE_ENABLE) != 0;
}

static bool sw_enabled(const struct lapic *l)
{
	return (l->svr & 0x100) != 0;
}

static int highest_bit(const uint32_t *v)
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

static void set_bit256(uint32_t *v, unsigned n)
{
	v[n >> 5] |= 1u << (n & 31);
}

static void clear_bit256(uint32_t *v, unsigned n)
{
	v[n >> 5] &= ~(1u << (n & 31));
}

static bool test_bit256(const uint32_t *v, unsigned n)
{
	return (v[n >> 5] >> (n & 31)) & 1;
}

static uint32_t ppr_locked(const struct lapic *l)
{
	int isrv = highest_bit(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : ((uint32_t)isrv & 0xf0);

	return (l->tpr & 0xf0) >= isr_class ? (l->tpr & 0xff) : isr_class;
}

static unsigned timer_mode(const struct lapic *l)
{
	return (l->lvt[1] >> 17) & 3;
}

static unsigned timer_shift(const struct lapic *l)
{
	unsigned v = ((l->timer_div & 8) >> 1) | (l->timer_div & 3);
	return (v + 1) & 7; /* 0b111 means divide by 1 */
}

static uint64_t ticks_to_ns(const struct lapic *l, uint64_t ticks)
{
	/* LAPIC_TIMER_HZ is 1 GHz: one tick per ns before division. */
	return ticks << timer_shift(l);
}

static uint64_t tsc_to_ns(const struct lapic *l, uint64_t tsc)
{
	return (uint64_t)((unsigned __int128)tsc * 1000000000u / l->tsc_hz);
}

void lapic_reset(struct lapic *l, bool power_on)
{
	pthread_mutex_lock(&l->lock);
	if (power_on) {
		l->base = LAPIC_DEFAULT_BASE | LAPIC_BASE_ENABLE | (l->index == 0 ? LAPIC_BASE_BSP : 0);
		l->id = l->index;
	}
	l->tpr = l->ldr = l->esr = l->icr_lo = l->icr_hi = 0;
	l->dfr = 0xffffffff;
	l->svr = 0xff;
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		l->lvt[i] = LVT_MASKED;
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->timer_init = l->timer_div = 0;
	l->timer_expiry_ns = UINT64_MAX;
	l->tsc_deadline = 0;
	l->nmi_pending = l->init_pending = l->sipi_pending = false;
	pthread_mutex_unlock(&l->lock);
}

int lapic_create(struct apic_bus *bus, unsigned index, uint64_t tsc_hz, struct lapic **out)
{
	struct lapic *l;

	if (index >= APIC_BUS_MAX_CPUS || tsc_hz == 0)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->bus = bus;
	l->index = index;
	l->tsc_hz = tsc_hz;
	lapic_reset(l, true);
	bus->cpus[index] = l;
	if (bus->nr <= index)
		bus->nr = index + 1;
	*out = l;
	return 0;
}

void lapic_destroy(struct lapic *l)
{
	if (!l)
		return;
	if (l->bus && l->bus->cpus[l->index] == l)
		l->bus->cpus[l->index] = NULL;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

uint32_t lapic_id(struct lapic *l)
{
	return l->id;
}

uint64_t lapic_get_base(struct lapic *l)
{
	uint64_t v;

	pthread_mutex_lock(&l->lock);
	v = l->base;
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_set_base(struct lapic *l, uint64_t value)
{
	/* Guest-written MSR: reserved bits (11 low bits but BSP, above 52 address bits) fault. */
	const uint64_t valid = LAPIC_BASE_BSP | LAPIC_BASE_X2APIC | LAPIC_BASE_ENABLE |
			       0x000ffffffffff000ull;
	bool was_x2 = x2apic_mode(l), was_en = hw_enabled(l);
	bool en = value & LAPIC_BASE_ENABLE, x2 = value & LAPIC_BASE_X2APIC;

	if (value & ~valid)
		return -EINVAL;
	if (x2 && !en)
		return -EINVAL;           /* x2APIC without enable is an invalid state */
	if (was_en && was_x2 && en && !x2)
		return -EINVAL;           /* x2APIC -> xAPIC needs a disable first */
	if (!was_en && en && x2)
		return -EINVAL;           /* disabled -> x2APIC must pass through xAPIC */
	/* The BSP flag is read-only. */
	value = (value & ~LAPIC_BASE_BSP) | (l->base & LAPIC_BASE_BSP);
	if (!en) {
		lapic_reset(l, false);
	}
	pthread_mutex_lock(&l->lock);
	l->base = value;
	if (x2) /* the x2APIC logical ID is derived from the APIC ID */
		l->ldr = ((l->id >> 4) << 16) | (1u << (l->id & 0xf));
	pthread_mutex_unlock(&l->lock);
	return 0;
}

bool lapic_xapic_mmio_enabled(struct lapic *l, uint64_t gpa)
{
	uint64_t base = lapic_get_base(l);

	return (base & LAPIC_BASE_ENABLE) && !(base & LAPIC_BASE_X2APIC) &&
	       (gpa & ~0xfffull) == (base & 0x000ffffffffff000ull);
}

static uint32_t timer_current_locked(const struct lapic *l)
{
	uint64_t now, elapsed, ticks;

	if (l->timer_init == 0 || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	now = apic_bus_now(l->bus);
	elapsed = now > l->timer_start_ns ? now - l->timer_start_ns : 0;
	ticks = elapsed >> timer_shift(l);
	if (timer_mode(l) == TIMER_PERIODIC)
		return l->timer_init - (uint32_t)(ticks % l->timer_init);
	return ticks >= l->timer_init ? 0 : l->timer_init - (uint32_t)ticks;
}

static void timer_arm_locked(struct lapic *l)
{
	l->timer_start_ns = apic_bus_now(l->bus);
	if (timer_mode(l) == TIMER_TSC_DEADLINE)
		l->timer_expiry_ns = l->tsc_deadline ? tsc_to_ns(l, l->tsc_deadline) : UINT64_MAX;
	else if (l->timer_init)
		l->timer_expiry_ns = l->timer_start_ns + ticks_to_ns(l, l->timer_init);
	else
		l->timer_expiry_ns = UINT64_MAX;
}

static void accept_fixed_locked(struct lapic *l, uint8_t vector, bool level)
{
	/* Vectors 0-15 are illegal: the APIC reports a receive error instead. */
	if (vector < 16) {
		l->esr |= 1u << 6;
		return;
	}
	set_bit256(l->irr, vector);
	if (level)
		set_bit256(l->tmr, vector);
	else
		clear_bit256(l->tmr, vector);
}

static void accept_locked(struct lapic *l, const struct apic_msg *msg)
{
	if (!hw_enabled(l))
		return;
	switch (msg->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		accept_fixed_locked(l, msg->vector, msg->level_trigger);
		break;
	case APIC_DM_NMI:
		l->nmi_pending = true;
		break;
	case APIC_DM_INIT:
		/* A level de-assert INIT (the old "INIT level de-assert") does nothing. */
		if (msg->level_trigger && !msg->assert)
			break;
		l->init_pending = true;
		break;
	case APIC_DM_STARTUP:
		l->sipi_pending = true;
		l->sipi_vector = msg->vector;
		break;
	default:
		/* SMI and ExtINT have no use here; dropped. */
		log_ratelimited(LOG_DEBUG, "lapic %u: delivery mode %u ignored", l->index, msg->mode);
		break;
	}
}

void lapic_accept(struct lapic *l, const struct apic_msg *msg)
{
	pthread_mutex_lock(&l->lock);
	accept_locked(l, msg);
	pthread_mutex_unlock(&l->lock);
	if (l->bus->wake)
		l->bus->wake(l->bus->wake_opaque, l->index);
}

int lapic_pending(struct lapic *l)
{
	int v = -1;

	pthread_mutex_lock(&l->lock);
	if (hw_enabled(l)) {
		int irrv = highest_bit(l->irr);
		if (irrv >= 0 && ((uint32_t)irrv & 0xf0) > (ppr_locked(l) & 0xf0))
			v = irrv;
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_ack(struct lapic *l)
{
	int v = -1;

	pthread_mutex_lock(&l->lock);
	if (hw_enabled(l)) {
		int irrv = highest_bit(l->irr);
		if (irrv >= 0 && ((uint32_t)irrv & 0xf0) > (ppr_locked(l) & 0xf0)) {
			clear_bit256(l->irr, (unsigned)irrv);
			set_bit256(l->isr, (unsigned)irrv);
			v = irrv;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

static bool take_flag(struct lapic *l, bool *flag)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = *flag;
	*flag = false;
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool lapic_take_nmi(struct lapic *l)
{
	return take_flag(l, &l->nmi_pending);
}

bool lapic_take_init(struct lapic *l)
{
	return take_flag(l, &l->init_pending);
}

bool lapic_take_sipi(struct lapic *l, uint8_t *vector)
{
	bool v;

	pthread_mutex_lock(&l->lock);
	v = l->sipi_pending;
	*vector = l->sipi_vector;
	l->sipi_pending = false;
	pthread_mutex_unlock(&l->lock);
	return v;
}

uint8_t lapic_get_cr8(struct lapic *l)
{
	uint8_t v;

	pthread_mutex_lock(&l->lock);
	v = (uint8_t)((l->tpr >> 4) & 0xf);
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_set_cr8(struct lapic *l, uint8_t cr8)
{
	pthread_mutex_lock(&l->lock);
	l->tpr = (uint32_t)(cr8 & 0xf) << 4;
	pthread_mutex_unlock(&l->lock);
}

int lapic_arbitration_priority(struct lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	v = (int)ppr_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool lapic_matches(struct lapic *l, uint32_t dest, bool logical)
{
	bool ok;

	pthread_mutex_lock(&l->lock);
	if (!hw_enabled(l)) {
		ok = false;
	} else if (x2apic_mode(l)) {
		if (!logical)
			ok = dest == 0xffffffff || dest == l->id;
		else
			ok = (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xffff) != 0;
	} else {
		uint8_t d = (uint8_t)dest;
		if (!logical) {
			ok = d == 0xff || d == (uint8_t)l->id;
		} else if ((l->dfr >> 28) == 0xf) { /* flat model */
			ok = (d & (l->ldr >> 24)) != 0;
		} else { /* cluster model */
			uint8_t ldr = (uint8_t)(l->ldr >> 24);
			ok = (d == 0xff) || ((d >> 4) == (ldr >> 4) && (d & ldr & 0xf) != 0);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

static void eoi_locked(struct lapic *l, struct lapic_outbox *ob)
{
	int v = highest_bit(l->isr);

	if (v < 0)
		return;
	clear_bit256(l->isr, (unsigned)v);
	if (test_bit256(l->tmr, (unsigned)v)) {
		clear_bit256(l->tmr, (unsigned)v);
		ob->eoi_vector = v;
	}
}

static void send_ipi_locked(struct lapic *l, struct lapic_outbox *ob)
{
	struct apic_msg *m = &ob->msg;

	m->vector = (uint8_t)l->icr_lo;
	m->mode = (l->icr_lo >> 8) & 7;
	m->logical = (l->icr_lo >> 11) & 1;
	m->assert = (l->icr_lo >> 14) & 1;
	m->level_trigger = (l->icr_lo >> 15) & 1;
	m->shorthand = (l->icr_lo >> 18) & 3;
	m->dest = x2apic_mode(l) ? l->icr_hi : (l->icr_hi >> 24);
	m->broadcast_ok = true;
	ob->send = true;
}

static void flush_outbox(struct lapic *l, struct lapic_outbox *ob)
{
	if (ob->send)
		apic_bus_deliver(l->bus, &ob->msg, (int)l->index);
	if (ob->eoi_vector >= 0)
		apic_bus_eoi(l->bus, (uint8_t)ob->eoi_vector);
}

/* Read a 32-bit register by its xAPIC offset. */
static uint32_t reg_read_locked(struct lapic *l, uint64_t reg)
{
	switch (reg) {
	case REG_ID:
		return x2apic_mode(l) ? l->id : l->id << 24;
	case REG_VERSION:
		return LAPIC_VERSION | ((LAPIC_NR_LVT - 1) << 16);
	case REG_TPR:
		return l->tpr;
	case REG_APR:
		return 0;
	case REG_PPR:
		return ppr_locked(l);
	case REG_LDR:
		return l->ldr;
	case REG_DFR:
		return l->dfr;
	case REG_SVR:
		return l->svr;
	case REG_ESR:
		return l->esr;
	case REG_ICR_LO:
		return l->icr_lo & ~(1u << 12); /* delivery is instant: never "send pending" */
	case REG_ICR_HI:
		return l->icr_hi;
	case REG_LVT_CMCI:
	case REG_LVT_TIMER:
	case REG_LVT_THERMAL:
	case REG_LVT_PERF:
	case REG_LVT_LINT0:
	case REG_LVT_LINT1:
	case REG_LVT_ERROR:
		return l->lvt[lvt_index(reg)];
	case REG_TIMER_INIT:
		return l->timer_init;
	case REG_TIMER_CUR:
		return timer_current_locked(l);
	case REG_TIMER_DIV:
		return l->timer_div;
	}
	if (reg >= REG_ISR && reg < REG_ISR + 0x80)
		return l->isr[(reg - REG_ISR) >> 4];
	if (reg >= REG_TMR && reg < REG_TMR + 0x80)
		return l->tmr[(reg - REG_TMR) >> 4];
	if (reg >= REG_IRR && reg < REG_IRR + 0x80)
		return l->irr[(reg - REG_IRR) >> 4];
	return 0;
}

static const uint32_t lvt_masks[LAPIC_NR_LVT] = {
	0x000117ff, /* CMCI: vector, delivery mode, mask */
	0x000700ff, /* timer: vector, mask, mode */
	0x000117ff, /* thermal */
	0x000117ff, /* perf */
	0x0001a7ff, /* LINT0: + polarity, trigger */
	0x0001a7ff, /* LINT1 */
	0x000100ff, /* error */
};

static void reg_write_locked(struct lapic *l, uint64_t reg, uint32_t v, struct lapic_outbox *ob)
{
	switch (reg) {
	case REG_ID:
		if (!x2apic_mode(l))
			l->id = v >> 24;
		break;
	case REG_TPR:
		l->tpr = v & 0xff;
		break;
	case REG_EOI:
		eoi_locked(l, ob);
		break;
	case REG_LDR:
		if (!x2apic_mode(l))
			l->ldr = v & 0xff000000;
		break;
	case REG_DFR:
		if (!x2apic_mode(l))
			l->dfr = v | 0x0fffffff;
		break;
	case REG_SVR:
		l->svr = v & 0x11ff;
		if (!sw_enabled(l))  /* software disable masks every LVT */
			for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
				l->lvt[i] |= LVT_MASKED;
		break;
	case REG_ESR:
		l->esr = 0;
		break;
	case REG_ICR_LO:
		l->icr_lo = v & 0x000ccfff;
		send_ipi_locked(l, ob);
		break;
	case REG_ICR_HI:
		if (!x2apic_mode(l))
			l->icr_hi = v & 0xff000000;
		break;
	case REG_LVT_TIMER: {
		unsigned old_mode = timer_mode(l);
		uint32_t nv = v & lvt_masks[1];
		if (((nv >> 17) & 3) == 3)  /* reserved mode: keep the old one */
			nv = (nv & ~(3u << 17)) | (old_mode << 17);
		if (!sw_enabled(l))
			nv |= LVT_MASKED;
		l->lvt[1] = nv;
		if (timer_mode(l) != old_mode) {
			/* A mode change stops the timer. */
			l->timer_init = 0;
			l->tsc_deadline = 0;
			l->timer_expiry_ns = UINT64_MAX;
		}
		break;
	}
	case REG_LVT_CMCI:
	case REG_LVT_THERMAL:
	case REG_LVT_PERF:
	case REG_LVT_LINT0:
	case REG_LVT_LINT1:
	case REG_LVT_ERROR: {
		unsigned i = lvt_index(reg);
		l->lvt[i] = (v & lvt_masks[i]) | (sw_enabled(l) ? 0 : LVT_MASKED);
		break;
	}
	case REG_TIMER_INIT:
		if (timer_mode(l) == TIMER_TSC_DEADLINE)
			break;
		l->timer_init = v;
		timer_arm_locked(l);
		break;
	case REG_TIMER_DIV:
		l->timer_div = v & 0xb;
		break;
	case REG_SELF_IPI:
		if (x2apic_mode(l))
			accept_fixed_locked(l, (uint8_t)v, false);
		break;
	default:
		break; /* read-only or reserved: ignored */
	}
}

uint32_t lapic_mmio_read(struct lapic *l, uint64_t offset)
{
	uint32_t v;

	/* Only aligned 16-byte register slots exist; other offsets read 0. */
	if (offset & 0xf || offset >= 0x1000)
		return 0;
	pthread_mutex_lock(&l->lock);
	v = reg_read_locked(l, offset);
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_mmio_write(struct lapic *l, uint64_t offset, uint32_t value)
{
	struct lapic_outbox ob = { .eoi_vector = -1 };

	if (offset & 0xf || offset >= 0x1000 || offset == REG_SELF_IPI)
		return;
	pthread_mutex_lock(&l->lock);
	reg_write_locked(l, offset, value, &ob);
	pthread_mutex_unlock(&l->lock);
	flush_outbox(l, &ob);
}

/* Whether an xAPIC offset names a register at all (x2APIC faults on the rest). */
static bool reg_exists(uint64_t reg)
{
	switch (reg) {
	case REG_ID: case REG_VERSION: case REG_TPR: case REG_PPR: case REG_EOI: case REG_LDR:
	case REG_SVR: case REG_ESR: case REG_LVT_CMCI: case REG_ICR_LO: case REG_LVT_TIMER:
	case REG_LVT_THERMAL: case REG_LVT_PERF: case REG_LVT_LINT0: case REG_LVT_LINT1:
	case REG_LVT_ERROR: case REG_TIMER_INIT: case REG_TIMER_CUR: case REG_TIMER_DIV:
	case REG_SELF_IPI:
		return true;
	}
	return (reg >= REG_ISR && reg < REG_IRR + 0x80);
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value)
{
	uint64_t reg = (uint64_t)(msr - 0x800) << 4;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	if (msr == MSR_IA32_TSC_DEADLINE) {
		*value = timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
	} else if (msr < 0x800 || msr > 0x8ff || !x2apic_mode(l) || !reg_exists(reg) ||
		   reg == REG_EOI || reg == REG_SELF_IPI) {
		rc = -EINVAL; /* write-only, absent, or not in x2APIC mode: #GP */
	} else if (reg == REG_ICR_LO) {
		*value = ((uint64_t)l->icr_hi << 32) | (l->icr_lo & ~(1u << 12));
	} else {
		*value = reg_read_locked(l, reg);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value)
{
	struct lapic_outbox ob = { .eoi_vector = -1 };
	uint64_t reg = (uint64_t)(msr - 0x800) << 4;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	if (msr == MSR_IA32_TSC_DEADLINE) {
		/* Ignored unless the timer is in TSC-deadline mode; 0 disarms. */
		if (timer_mode(l) == TIMER_TSC_DEADLINE) {
			l->tsc_deadline = value;
			timer_arm_locked(l);
		}
	} else if (msr < 0x800 || msr > 0x8ff || !x2apic_mode(l) || !reg_exists(reg)) {
		rc = -EINVAL;
	} else if (reg == REG_ICR_LO) {
		l->icr_hi = (uint32_t)(value >> 32);
		l->icr_lo = (uint32_t)value & 0x000ccfff;
		send_ipi_locked(l, &ob);
	} else if ((value >> 32) != 0 || (reg == REG_EOI && value != 0)) {
		rc = -EINVAL; /* reserved bits set: #GP */
	} else if (reg == REG_ID || reg == REG_VERSION || reg == REG_PPR || reg == REG_LDR ||
		   reg == REG_TIMER_CUR || (reg >= REG_ISR && reg < REG_IRR + 0x80)) {
		rc = -EINVAL; /* read-only in x2APIC mode */
	} else {
		reg_write_locked(l, reg, (uint32_t)value, &ob);
	}
	pthread_mutex_unlock(&l->lock);
	flush_outbox(l, &ob);
	return rc;
}

uint64_t lapic_timer_poll(struct lapic *l)
{
	uint64_t now, next;
	bool fired = false;

	pthread_mutex_lock(&l->lock);
	if (l->timer_expiry_ns == UINT64_MAX) {
		pthread_mutex_unlock(&l->lock);
		return UINT64_MAX;
	}
	now = apic_bus_now(l->bus);
	if (now >= l->timer_expiry_ns) {
		if (!(l->lvt[1] & LVT_MASKED) && hw_enabled(l)) {
			accept_fixed_locked(l, (uint8_t)l->lvt[1], false);
			fired = true;
		}
		if (timer_mode(l) == TIMER_PERIODIC && l->timer_init) {
			uint64_t period = ticks_to_ns(l, l->timer_init);
			/* Skip whole periods missed while the vCPU was not running. */
			uint64_t missed = (now - l->timer_expiry_ns) / period + 1;
			l->timer_start_ns = l->timer_expiry_ns + (missed - 1) * period;
			l->timer_expiry_ns = l->timer_start_ns + period;
		} else {
			l->timer_expiry_ns = UINT64_MAX;
			if (timer_mode(l) == TIMER_TSC_DEADLINE)
				l->tsc_deadline = 0;
		}
	}
	next = l->timer_expiry_ns;
	pthread_mutex_unlock(&l->lock);
	(void)fired;
	return next;
}
