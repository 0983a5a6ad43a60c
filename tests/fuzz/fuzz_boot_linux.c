/* Fuzz the linux loader (the body is shared: fuzz_boot_common.h). */
#define FUZZ_BOOT_FORMAT BOOT_FORMAT_LINUX
#include "fuzz_boot_common.h"
