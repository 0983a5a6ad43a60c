/* Fuzz the elf loader (the body is shared: fuzz_boot_common.h). */
#define FUZZ_BOOT_FORMAT BOOT_FORMAT_ELF
#include "fuzz_boot_common.h"
