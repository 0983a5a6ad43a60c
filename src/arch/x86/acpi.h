/*
 * ACPI tables for a Petrel x86 machine: RSDP (revision 2), XSDT, FADT
 * (hardware-reduced, revision 6), MADT, MCFG and a DSDT generated with the
 * AML writer. docs/acpi.md explains each choice.
 */
#ifndef PETREL_ARCH_X86_ACPI_H
#define PETREL_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define ACPI_OEM_ID	  "PETREL"   /* 6 bytes */
#define ACPI_OEM_TABLE_ID "PETRELVM" /* 8 bytes */
#define ACPI_CREATOR_ID	  "PTRL"     /* 4 bytes */

struct acpi_config {
	unsigned nr_cpus;    /* 1..MACHINE_MAX_CPUS; APIC IDs 0..nr_cpus-1 */
	bool serial;	     /* COM1 at LAYOUT_PORT_COM1, GSI LAYOUT_GSI_COM1 */
	bool rtc;	     /* CMOS RTC at LAYOUT_PORT_RTC, GSI LAYOUT_GSI_RTC */
	bool i8042;	     /* keyboard controller at 0x60/0x64 (FADT 8042 flag) */
	bool pic;	     /* a legacy 8259 pair exists (MADT PCAT_COMPAT) */
	bool fw_cfg;	     /* QEMU fw_cfg at LAYOUT_PORT_FW_CFG (QEMU0002) */
	bool power_button;   /* Generic Event Device + PNP0C0C power button */
	bool pci;	     /* PCI host bridge PCI0 */
	uint64_t pci_ecam;   /* ECAM base (MCFG), 1 MiB per bus */
	unsigned pci_buses;  /* 1..256 */
	uint64_t pci_mmio64; /* 64-bit BAR window; 0 = none */
	uint64_t pci_mmio64_size;
	uint16_t pm_port; /* base of the acpi_pm registers */
};

/* Fill cfg with the standard Petrel machine (layout.h), all devices present. */
void acpi_config_default(struct acpi_config *cfg, unsigned nr_cpus);

/*
 * Write all tables inside [LAYOUT_ACPI, LAYOUT_ACPI + LAYOUT_ACPI_SIZE) and
 * return the RSDP's guest-physical address. -EINVAL for a bad config,
 * -ENOSPC when the tables do not fit, -EFAULT when the area is not RAM.
 */
int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_addr);

/*
 * The DSDT's AML body alone (no table header), for tests and tools; *out is
 * malloc'ed and owned by the caller.
 */
int acpi_build_dsdt_aml(const struct acpi_config *cfg, uint8_t **out, size_t *len);

#endif
