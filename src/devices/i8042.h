/*
 * The PS/2 controller (i8042) at ports 0x60 (data) and 0x64 (status and
 * command), enough for Linux's i8042 driver and for `reboot=k`.
 *
 * No keyboard or mouse is attached: a byte sent to either device (a data
 * write, or command 0xD4) is answered at once with 0xFE and the status
 * register's timeout bit, which is how a controller reports a device that
 * does not respond; Linux then gives up on the port without waiting.
 * Controller commands work: 0x20/0x60 (command byte), 0xA7/0xA8 (aux
 * disable/enable), 0xA9/0xAB (interface tests: pass), 0xAA (self-test: 0x55),
 * 0xAD/0xAE, 0xC0, 0xD0/0xD1 (output port), 0xD2/0xD3 (loop a byte back),
 * 0xD4, 0xDD/0xDF (A20, ignored), 0xE0 and 0xF0-0xFF (pulse output lines:
 * pulsing the reset line, e.g. 0xFE, requests MACHINE_RESET).
 * Keyboard data would raise GSI 1 and aux data GSI 12 (level, while the
 * output buffer holds the byte and the command byte enables the interrupt).
 */
#ifndef PETREL_DEVICES_I8042_H
#define PETREL_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct i8042;

#define I8042_GSI_KBD 1
#define I8042_GSI_AUX 12

int i8042_create(struct machine *m, struct i8042 **out);
void i8042_destroy(struct i8042 *k);

#endif
