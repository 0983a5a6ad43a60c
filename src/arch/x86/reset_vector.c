#include "arch/x86/reset_vector.h"

#include "mem/guest_mem.h"

int reset_vector_install(const struct guest_mem *gm)
{
	/*
	 * Real mode, 16 bytes up to 1 MiB:
	 *   mov al, 0xfe     ; i8042 command "pulse output port bit 0" (reset)
	 *   out 0x64, al
	 *   cli
	 * 1:hlt              ; should the reset be ignored, stay here
	 *   jmp 1b
	 */
	static const uint8_t code[] = {0xb0, 0xfe, 0xe6, 0x64, 0xfa, 0xf4, 0xeb, 0xfd};

	return gmem_write(gm, RESET_VECTOR_GPA, code, sizeof(code));
}
