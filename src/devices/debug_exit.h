/*
 * QEMU-compatible isa-debug-exit: a test guest ends the VM with a status.
 *
 * A write of value V at the port (access width 1, 2 or 4; V as written,
 * truncated to that width) stops the machine with MACHINE_DEBUG_EXIT and exit
 * status (V << 1) | 1, computed in 32 bits. The process exit status the shell
 * sees is that value modulo 256 (the OS keeps only the low 8 bits), i.e.
 * ((V & 0x7f) << 1) | 1: writing 0 gives 1, writing 0x10 gives 33, and values
 * from 0x80 up wrap. Reads return 0. Writes to the other ports of the 4-port
 * range are ignored.
 */
#ifndef PETREL_DEVICES_DEBUG_EXIT_H
#define PETREL_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

struct machine;
struct debug_exit;

#define DEBUG_EXIT_NR_PORTS 4

int debug_exit_create(struct machine *m, uint16_t port, struct debug_exit **out);
void debug_exit_destroy(struct debug_exit *d);

#endif
