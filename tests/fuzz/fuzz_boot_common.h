/*
 * One fuzz body for every kernel loader: arbitrary kernel images into a small
 * guest. The first input byte picks options (initrd present, command line
 * length, RSDP) so the initrd and command-line paths are reached too. Each
 * fuzz_boot_<format>.c defines FUZZ_BOOT_FORMAT and includes this file.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot/boot.h"
#include "mem/guest_mem.h"
#include "util/log.h"

#define GUEST_RAM (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static int ready;
	static const uint8_t initrd[8192] = {1};
	static char cmdline[600];
	struct boot_config cfg = { .format = FUZZ_BOOT_FORMAT };
	struct x86_boot_state bs;
	char err[256];
	uint8_t opt;

	if (!ready) {
		log_set_level(LOG_ERROR);
		if (gmem_init_x86(&gm, GUEST_RAM, 0xc0000000ull))
			return 0;
		memset(cmdline, 'a', sizeof(cmdline) - 1);
		ready = 1;
	}
	if (size < 1)
		return 0;
	opt = data[0];
	data++;
	size--;
	cfg.cmdline = cmdline + sizeof(cmdline) - 1 - (opt & 0x3f) * 9;
	cfg.rsdp_addr = opt & 0x40 ? 0xe0000 : 0;
	boot_load_buffer(&gm, &cfg, data, size, opt & 0x80 ? initrd : NULL,
			 opt & 0x80 ? sizeof(initrd) : 0, &bs, err, sizeof(err));
	return 0;
}
