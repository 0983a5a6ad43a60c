/*
 * The code a PC's firmware has at the real-mode reset vector F000:FFF0.
 *
 * Petrel boots kernels directly and has no BIOS, but guests still jump to
 * the reset vector to restart the machine: Linux does so (reboot=b, and by
 * default on hardware-reduced ACPI without EFI, where it tries EFI and then
 * the BIOS), as do Multiboot and test kernels. Petrel places a few bytes
 * there that pulse the i8042 reset line, so such a jump becomes a machine
 * reset instead of running whatever RAM holds.
 */
#ifndef PETREL_ARCH_X86_RESET_VECTOR_H
#define PETREL_ARCH_X86_RESET_VECTOR_H

#include <stdint.h>

struct guest_mem;

/* Physical address of F000:FFF0. */
#define RESET_VECTOR_GPA 0xffff0ull

/*
 * Write the reset code at RESET_VECTOR_GPA (inside the reserved area below
 * 1 MiB). Call before loading a kernel, so an image placed there wins.
 * Returns 0, or -EFAULT when guest RAM does not cover the address.
 */
int reset_vector_install(const struct guest_mem *gm);

#endif
