/*
 * The emu engine: Petrel's software x86-64 CPU (src/cpu/x86) driving the
 * machine. Until the CPU can run whole guests this engine declines politely.
 */
#include <errno.h>
#include <stdio.h>

#include "accel/accel.h"

static int emu_probe(char *why, size_t why_len)
{
	snprintf(why, why_len, "the software CPU engine (emu) cannot run guests yet");
	return -ENOSYS;
}

const struct accel_ops accel_emu_ops = {
	.name = "emu",
	.probe = emu_probe,
};
