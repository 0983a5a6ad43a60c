/* Fuzz the multiboot loader (the body is shared: fuzz_boot_common.h). */
#define FUZZ_BOOT_FORMAT BOOT_FORMAT_MULTIBOOT
#include "fuzz_boot_common.h"
