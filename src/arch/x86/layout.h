/*
 * The fixed guest-physical layout of a Petrel x86 machine. docs/memory-map.md
 * explains the choices; everything that places data in guest memory uses
 * these names.
 */
#ifndef PETREL_ARCH_X86_LAYOUT_H
#define PETREL_ARCH_X86_LAYOUT_H

#define LAYOUT_BOOT_GDT        0x1000ull    /* boot GDT (4 KiB) */
#define LAYOUT_ZERO_PAGE       0x7000ull    /* Linux boot_params (4 KiB) */
#define LAYOUT_PML4            0x9000ull    /* boot page tables: PML4, PDPT, 4 PDs (24 KiB) */
#define LAYOUT_PDPT            0xa000ull
#define LAYOUT_PD              0xb000ull    /* 4 pages: 2 MiB mappings of 0-4 GiB */
#define LAYOUT_MPTABLE         0x10000ull   /* not used; reserved */
#define LAYOUT_CMDLINE         0x20000ull   /* kernel command line (64 KiB max) */
#define LAYOUT_CMDLINE_MAX     0x10000ull
#define LAYOUT_MULTIBOOT_INFO  0x30000ull   /* Multiboot info, mmap, module list (64 KiB) */
#define LAYOUT_EBDA            0x9fc00ull   /* start of reserved area below 1 MiB */
#define LAYOUT_ACPI            0xe0000ull   /* RSDP and all ACPI tables (128 KiB, reserved) */
#define LAYOUT_ACPI_SIZE       0x20000ull
#define LAYOUT_HIGH_MEM        0x100000ull  /* 1 MiB: kernels load here or higher */

#define LAYOUT_MMIO_HOLE       0xc0000000ull /* RAM below 4 GiB stops here */
#define LAYOUT_PCI_MMIO32      0xc0000000ull /* 32-bit PCI BAR window */
#define LAYOUT_PCI_MMIO32_SIZE 0x20000000ull
#define LAYOUT_PCI_ECAM        0xe0000000ull /* ECAM for bus 0..(LAYOUT_PCI_ECAM_BUSES-1) */
#define LAYOUT_PCI_ECAM_BUSES  1
#define LAYOUT_PCI_ECAM_SIZE   (LAYOUT_PCI_ECAM_BUSES * 0x100000ull)
#define LAYOUT_IOAPIC          0xfec00000ull
#define LAYOUT_LAPIC           0xfee00000ull

/* Port I/O */
#define LAYOUT_PORT_PIC1       0x20
#define LAYOUT_PORT_PIT        0x40
#define LAYOUT_PORT_I8042      0x60  /* and 0x64 */
#define LAYOUT_PORT_RTC        0x70  /* and 0x71 */
#define LAYOUT_PORT_PIC2       0xa0
#define LAYOUT_PORT_DEBUG_EXIT 0xf4
#define LAYOUT_PORT_COM1       0x3f8
#define LAYOUT_PORT_ACPI       0x600 /* hardware-reduced ACPI registers: see docs/acpi.md */
#define LAYOUT_PORT_FW_CFG     0x510 /* and 0x511, DMA at 0x514 */
#define LAYOUT_PORT_PCI_CONFIG 0xcf8 /* 0xcf8..0xcff */

/* Interrupt lines (GSIs) */
#define LAYOUT_GSI_COM1        4
#define LAYOUT_GSI_RTC         8
#define LAYOUT_GSI_ACPI_SCI    9
#define LAYOUT_GSI_PCI_FIRST   16   /* INTx of PCI devices: 16..23 */

#endif
