/*
 * 16550A UART.
 *
 * Simplifications, all invisible to a driver that follows the datasheet:
 *   - transmission is instantaneous: a byte written to THR reaches the
 *     chardev at once, so LSR.THRE and LSR.TEMT always read 1 and the THR
 *     empty interrupt is pending again right after every write;
 *   - there are no wire times, so the receive "character timeout" interrupt
 *     is reported as soon as the FIFO holds data below the trigger level
 *     (input arrives in whole bursts; there is nothing more to wait for);
 *   - the line never has parity, framing errors or breaks; the modem lines
 *     read as a connected modem (DCD, DSR, CTS) outside loopback mode;
 *   - in loopback mode the IRQ output is off, as the OUT2 pin is disconnected
 *     from the PC's interrupt gate then;
 *   - input from the chardev arrives in bursts (a paste is one read), so up to
 *     4 KiB of it waits "on the line" and enters the 16-byte FIFO as the guest
 *     drains it, instead of overrunning after 16 bytes; only when that buffer
 *     is full is input dropped with LSR.OE set. Loopback bytes go straight to
 *     the FIFO and overrun it as on hardware (Linux sizes the FIFO that way).
 */
#include "devices/uart8250.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "backend/chardev.h"
#include "util/log.h"
#include "vm/machine.h"

#define UART_FIFO_SIZE 16
/* Bytes typed faster than the guest drains the FIFO wait here, as if still on the wire. */
#define UART_LINE_BUF 4096

/* Register offsets */
#define UART_RBR 0 /* read, DLAB=0; THR on write */
#define UART_IER 1 /* DLAB=0 */
#define UART_IIR 2 /* read; FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* line status */
#define IER_EDSSI 0x08 /* modem status */

#define IIR_NO_INT  0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_RLSI    0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

struct uart8250 {
	struct machine *m;
	struct chardev *cd;
	uint16_t base;
	unsigned gsi;
	pthread_mutex_t lock;

	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t lsr_err;   /* latched LSR error bits (overrun), cleared by reading LSR */
	uint8_t msr_delta; /* MSR bits 3:0, cleared by reading MSR */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	uint8_t line[UART_LINE_BUF];
	unsigned line_head, line_count;
	bool thr_ipending;
	bool irq_level;
};

static bool uart_fifo_on(const struct uart8250 *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned uart_rx_trigger(const struct uart8250 *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	return levels[u->fcr >> 6];
}

/* Modem status lines: looped back from MCR in loopback mode, else a connected modem. */
static uint8_t uart_msr_lines(const struct uart8250 *u)
{
	uint8_t v = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (u->mcr & MCR_RTS)
		v |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		v |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		v |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

/* The highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t uart_iir_id(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_err & (LSR_OE | LSR_BI)))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if (uart_fifo_on(u) && u->rx_count < uart_rx_trigger(u))
			return IIR_TIMEOUT;
		return IIR_RDI;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && u->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void uart_update_irq(struct uart8250 *u)
{
	bool level = uart_iir_id(u) != IIR_NO_INT && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	irq_set_level(&u->m->irq, u->gsi, level);
}

static void uart_rx_push(struct uart8250 *u, uint8_t byte)
{
	unsigned cap = uart_fifo_on(u) ? UART_FIFO_SIZE : 1;

	if (u->rx_count >= cap) {
		u->lsr_err |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
}

/* Move bytes waiting on the "line" into the receiver while it has room. */
static void uart_rx_refill(struct uart8250 *u)
{
	unsigned cap = uart_fifo_on(u) ? UART_FIFO_SIZE : 1;

	if (u->mcr & MCR_LOOP)
		return; /* the receiver listens to the transmitter, not the line */
	while (u->line_count && u->rx_count < cap) {
		uart_rx_push(u, u->line[u->line_head]);
		u->line_head = (u->line_head + 1) % UART_LINE_BUF;
		u->line_count--;
	}
}

static uint8_t uart_rx_pop(struct uart8250 *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	uart_rx_refill(u);
	return byte;
}

static void uart_rx_clear(struct uart8250 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

static void uart_set_mcr(struct uart8250 *u, uint8_t val)
{
	uint8_t before = uart_msr_lines(u), after, changed;

	u->mcr = val & 0x1f;
	after = uart_msr_lines(u);
	changed = before ^ after;
	if (changed & MSR_CTS)
		u->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_delta |= MSR_DDSR;
	if ((before & MSR_RI) && !(after & MSR_RI)) /* trailing edge only */
		u->msr_delta |= MSR_TERI;
	if (changed & MSR_DCD)
		u->msr_delta |= MSR_DDCD;
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart8250 *u = opaque;
	uint8_t v = 0xff;

	pthread_mutex_lock(&u->lock);
	switch (offset) {
	case UART_RBR:
		v = (u->lcr & LCR_DLAB) ? u->dll : uart_rx_pop(u);
		break;
	case UART_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR:
		v = uart_iir_id(u);
		/* Reading IIR acknowledges a THR-empty interrupt (only when it is the one shown). */
		if (v == IIR_THRI)
			u->thr_ipending = false;
		if (uart_fifo_on(u))
			v |= IIR_FIFO_ON;
		break;
	case UART_LCR:
		v = u->lcr;
		break;
	case UART_MCR:
		v = u->mcr;
		break;
	case UART_LSR:
		v = u->lsr_err | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
		u->lsr_err = 0;
		break;
	case UART_MSR:
		v = uart_msr_lines(u) | u->msr_delta;
		u->msr_delta = 0;
		break;
	case UART_SCR:
		v = u->scr;
		break;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void uart_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct uart8250 *u = opaque;
	uint8_t v = (uint8_t)value;

	pthread_mutex_lock(&u->lock);
	switch (offset) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else if (u->mcr & MCR_LOOP) {
			uart_rx_push(u, v);
			u->thr_ipending = true;
		} else {
			/* Held under the lock to keep output in order across vCPUs. */
			if (u->cd)
				chardev_write(u->cd, &v, 1);
			u->thr_ipending = true;
		}
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Guest value: bits 7:4 are reserved on a 16550A and read as 0. */
		if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
			u->thr_ipending = true; /* THR is empty, so enabling raises it */
		u->ier = v & 0x0f;
		break;
	case UART_IIR: /* FCR */
		/* Toggling the enable bit empties both FIFOs. */
		if ((v ^ u->fcr) & FCR_ENABLE)
			uart_rx_clear(u);
		if (v & FCR_CLEAR_RX)
			uart_rx_clear(u);
		/* Other bits take effect only with the FIFO enabled; DMA mode bit 3 kept, ignored. */
		u->fcr = (v & FCR_ENABLE) ? (v & 0xc9) : 0;
		uart_rx_refill(u);
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		uart_set_mcr(u, v);
		uart_rx_refill(u);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only (factory test registers) */
	case UART_SCR:
		u->scr = v;
		break;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart8250 *u = opaque;

	pthread_mutex_lock(&u->lock);
	/* In loopback mode the receiver is connected to the transmitter, not the line. */
	if (!(u->mcr & MCR_LOOP)) {
		uart_rx_refill(u);
		for (size_t i = 0; i < len; i++) {
			/* Straight into the FIFO when nothing older is waiting and it has room. */
			if (!u->line_count && u->rx_count < (uart_fifo_on(u) ? UART_FIFO_SIZE : 1u)) {
				uart_rx_push(u, buf[i]);
				continue;
			}
			if (u->line_count == UART_LINE_BUF) {
				u->lsr_err |= LSR_OE; /* the guest is not reading: drop */
				break;
			}
			u->line[(u->line_head + u->line_count) % UART_LINE_BUF] = buf[i];
			u->line_count++;
		}
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static const struct iobus_ops uart_ops = {
	.name = "uart8250",
	.read = uart_read,
	.write = uart_write,
	.sizes = IOBUS_SIZE_1,
	.split = true, /* a word access touches two registers, as on the ISA bus */
};

int uart8250_create(struct machine *m, uint16_t base, unsigned gsi, struct chardev *cd,
		    struct uart8250 **out)
{
	struct uart8250 *u;
	int rc;

	*out = NULL;
	if (gsi >= IRQ_NR_GSI || (uint32_t)base + UART8250_NR_PORTS > 0x10000)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->m = m;
	u->cd = cd;
	u->base = base;
	u->gsi = gsi;
	u->dll = 12; /* 9600 baud, as firmware would leave it */
	u->lcr = 0x03; /* 8N1 */
	pthread_mutex_init(&u->lock, NULL);
	rc = iobus_register(&m->pio, base, UART8250_NR_PORTS, &uart_ops, u);
	if (rc) {
		pthread_mutex_destroy(&u->lock);
		free(u);
		return rc;
	}
	if (cd)
		chardev_set_input(cd, uart_input, u);
	*out = u;
	return 0;
}

void uart8250_reset(struct uart8250 *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	/* Power-on register values (the MR pin); typed-ahead input is kept. */
	u->ier = u->mcr = u->scr = u->fcr = u->dlm = 0;
	u->lsr_err = u->msr_delta = 0;
	u->dll = 12;
	u->lcr = 0x03;
	u->rx_head = u->rx_count = 0;
	u->thr_ipending = false;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart8250_destroy(struct uart8250 *u)
{
	if (!u)
		return;
	/* After this returns no input callback runs, so the UART may go. */
	if (u->cd)
		chardev_set_input(u->cd, NULL, NULL);
	iobus_unregister(&u->m->pio, u->base, u);
	if (u->irq_level)
		irq_set_level(&u->m->irq, u->gsi, false);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
