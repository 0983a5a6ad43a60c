/*
 * A 16550A UART (8250 family) on port I/O, as on a PC's COM1..COM4.
 *
 * Output goes straight to a chardev (transmission takes no time, so THR and
 * the transmitter are always empty again after a write); input from the
 * chardev fills the 16-byte receive FIFO through a 4 KiB line buffer (so a
 * pasted burst is not lost), and bytes that do not fit even there are
 * dropped with the overrun bit set. The interrupt line is level-triggered and
 * gated by MCR.OUT2 as on a PC.
 */
#ifndef PETREL_DEVICES_UART8250_H
#define PETREL_DEVICES_UART8250_H

#include <stdint.h>

struct machine;
struct chardev;
struct uart8250;

#define UART8250_NR_PORTS 8

/*
 * Register ports base..base+7 on m->pio and take the chardev's input
 * callback (cd may be NULL: output is discarded, nothing arrives).
 * The chardev stays owned by the caller and must outlive the UART.
 */
int uart8250_create(struct machine *m, uint16_t base, unsigned gsi, struct chardev *cd,
		    struct uart8250 **out);
/* Return the registers to their power-on values (machine reset). */
void uart8250_reset(struct uart8250 *u);
void uart8250_destroy(struct uart8250 *u);

#endif
