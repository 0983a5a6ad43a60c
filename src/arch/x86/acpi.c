#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "mem/guest_mem.h"
#include "util/compiler.h"
#include "vm/machine.h"

#define ACPI_HDR_LEN 36

/* FADT flags (ACPI 6.x, 5.2.9 table 5.10) */
#define FADT_PWR_BUTTON	     (1u << 4)
#define FADT_SLP_BUTTON	     (1u << 5)
#define FADT_RESET_REG_SUP   (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
/* IA-PC boot architecture flags (5.2.9.3) */
#define IAPC_8042		  (1u << 1)
#define IAPC_VGA_NOT_PRESENT	  (1u << 2)
#define IAPC_PCIE_ASPM_CONTROLS	  (1u << 4)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

#define FADT_LEN	276
#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE 1

/* The PCI Host Bridge _OSC UUID (PCI Firmware Specification). */
#define PCI_HOST_OSC_UUID "33db4d5b-1ff7-401c-9657-7441c03dd766"

/* A bounded little-endian writer over the host copy of the ACPI area. */
struct tbuf {
	uint8_t *p;
	size_t cap, len;
	bool overflow;
};

static uint8_t *tb_grab(struct tbuf *t, size_t n)
{
	if (t->overflow || n > t->cap - t->len) {
		t->overflow = true;
		return NULL;
	}
	uint8_t *q = t->p + t->len;
	t->len += n;
	return q;
}

static void put_le(uint8_t *q, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static void tb_le(struct tbuf *t, uint64_t v, unsigned n)
{
	uint8_t *q = tb_grab(t, n);

	if (q)
		put_le(q, v, n);
}

static void tb_bytes(struct tbuf *t, const void *d, size_t n)
{
	uint8_t *q = tb_grab(t, n);

	if (q)
		memcpy(q, d, n);
}

static void tb_align(struct tbuf *t, size_t a)
{
	size_t pad = ALIGN_UP(t->len, a) - t->len;

	tb_grab(t, pad); /* the buffer is zeroed already */
}

static uint8_t acpi_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Start a table at the current offset; returns that offset. */
static size_t tb_header(struct tbuf *t, const char *sig, uint8_t rev)
{
	size_t at;
	uint8_t *q;

	tb_align(t, 16);
	at = t->len;
	q = tb_grab(t, ACPI_HDR_LEN);
	if (!q)
		return at;
	memcpy(q, sig, 4);
	q[8] = rev;
	memcpy(q + 10, ACPI_OEM_ID, 6);
	memcpy(q + 16, ACPI_OEM_TABLE_ID, 8);
	put_le(q + 24, 1, 4); /* OEM revision */
	memcpy(q + 28, ACPI_CREATOR_ID, 4);
	put_le(q + 32, 1, 4); /* creator revision */
	return at;
}

/* Patch length and checksum once the table at `at` is complete. */
static void tb_finish(struct tbuf *t, size_t at)
{
	if (t->overflow)
		return;
	put_le(t->p + at + 4, t->len - at, 4);
	t->p[at + 9] = 0;
	t->p[at + 9] = (uint8_t)-acpi_sum(t->p + at, t->len - at);
}

static void put_gas_io(uint8_t *q, uint16_t port)
{
	q[0] = GAS_SYSTEM_IO;
	q[1] = 8; /* register bit width */
	q[2] = 0; /* bit offset */
	q[3] = GAS_ACCESS_BYTE;
	put_le(q + 4, port, 8);
}

void acpi_config_default(struct acpi_config *cfg, unsigned nr_cpus)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_cpus = nr_cpus;
	cfg->serial = true;
	cfg->rtc = true;
	cfg->i8042 = true;
	cfg->pic = false;
	cfg->fw_cfg = true;
	cfg->power_button = true;
	cfg->pci = true;
	cfg->pci_ecam = LAYOUT_PCI_ECAM;
	cfg->pci_buses = LAYOUT_PCI_ECAM_BUSES;
	cfg->pm_port = LAYOUT_PORT_ACPI;
}

static void dsdt_pci(struct aml *a, const struct acpi_config *cfg)
{
	aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_UID", 0);
	aml_name_int(a, "_BBN", 0);

	aml_name_decl(a, "_CRS");
	aml_rt_begin(a);
	aml_rt_word_bus(a, 0, (uint16_t)(cfg->pci_buses - 1));
	/* The config mechanism #1 ports; Linux drops this entry from the windows. */
	aml_rt_io(a, LAYOUT_PORT_PCI_CONFIG, LAYOUT_PORT_PCI_CONFIG, 1, 8);
	/* Legacy devices live below 0x1000 in \_SB, outside the bridge. */
	aml_rt_word_io(a, 0x1000, 0xffff);
	aml_rt_dword_memory(a, (uint32_t)LAYOUT_PCI_MMIO32,
			    (uint32_t)(LAYOUT_PCI_MMIO32 + LAYOUT_PCI_MMIO32_SIZE - 1), false);
	if (cfg->pci_mmio64_size)
		aml_rt_qword_memory(a, cfg->pci_mmio64, cfg->pci_mmio64 + cfg->pci_mmio64_size - 1,
				    true);
	aml_rt_end(a);

	/*
	 * Fixed GSIs for every slot's INTA-D, rotated so neighbouring slots do
	 * not share a line; Source 0 means "SourceIndex is a GSI" (level, low).
	 */
	aml_name_decl(a, "_PRT");
	aml_package_begin(a, 32 * 4);
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_begin(a, 4);
			aml_int(a, ((uint64_t)slot << 16) | 0xffff);
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, LAYOUT_GSI_PCI_FIRST + (slot + pin) % 8);
			aml_end(a);
		}
	}
	aml_end(a);

	/*
	 * _OSC: accept the PCI host bridge UUID and grant whatever the OS asks
	 * (there are no PCIe ports whose hotplug, AER or PME firmware could
	 * own); any other UUID gets "unrecognized UUID" in the first DWORD.
	 */
	aml_method_begin(a, "_OSC", 4, false);
	aml_create_dword_field(a);
	aml_arg(a, 3);
	aml_int(a, 0);
	aml_name(a, "CDW1");
	aml_if_begin(a);
	aml_lnot(a);
	aml_lequal(a);
	aml_arg(a, 0);
	aml_uuid(a, PCI_HOST_OSC_UUID);
	aml_or(a);
	aml_name(a, "CDW1");
	aml_int(a, 4);
	aml_name(a, "CDW1");
	aml_end(a);
	aml_return(a);
	aml_arg(a, 3);
	aml_end(a);

	aml_end(a); /* PCI0 */

	/* ECAM must be reserved as a motherboard resource or Linux ignores MCFG. */
	aml_device_begin(a, "MRES");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_int(a, "_UID", 0);
	aml_name_decl(a, "_CRS");
	aml_rt_begin(a);
	aml_rt_memory32_fixed(a, false, (uint32_t)cfg->pci_ecam, cfg->pci_buses * 0x100000u);
	aml_rt_end(a);
	aml_end(a);
}

static void dsdt_power_button(struct aml *a, const struct acpi_config *cfg)
{
	uint32_t gsi = ACPI_PM_GED_GSI;

	aml_device_begin(a, "PWRB");
	aml_name_eisaid(a, "_HID", "PNP0C0C");
	aml_name_int(a, "_UID", 0);
	aml_end(a);

	aml_device_begin(a, "GED");
	aml_name_string(a, "_HID", "ACPI0013");
	aml_name_int(a, "_UID", 0);
	aml_name_decl(a, "_CRS");
	aml_rt_begin(a);
	/* Level, active high: matches the MADT override of ISA IRQ 9. */
	aml_rt_interrupt(a, AML_IRQ_CONSUMER, &gsi, 1);
	aml_rt_end(a);
	aml_operation_region(a, "GEDR", AML_SPACE_SYSTEM_IO, cfg->pm_port + ACPI_PM_GED_EVENT, 1);
	aml_field_begin(a, "GEDR",
			AML_FIELD_BYTE_ACC | AML_FIELD_NO_LOCK | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(a, "GEVT", 8);
	aml_end(a);
	/* Reading GEVT clears the events and lowers the line: read it exactly once. */
	aml_method_begin(a, "_EVT", 1, true);
	aml_store(a);
	aml_name(a, "GEVT");
	aml_local(a, 0);
	aml_if_begin(a);
	aml_and(a);
	aml_local(a, 0);
	aml_int(a, ACPI_PM_GED_PWR_BUTTON);
	aml_null_target(a);
	aml_notify(a);
	aml_name(a, "\\_SB.PWRB");
	aml_int(a, 0x80);
	aml_end(a);
	aml_end(a); /* _EVT */
	aml_end(a); /* GED */
}

static void dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	aml_scope_begin(a, "\\_SB");
	if (cfg->pci)
		dsdt_pci(a, cfg);
	if (cfg->serial) {
		aml_device_begin(a, "COM1");
		aml_name_eisaid(a, "_HID", "PNP0501");
		aml_name_int(a, "_UID", 1);
		aml_name_decl(a, "_CRS");
		aml_rt_begin(a);
		aml_rt_io(a, LAYOUT_PORT_COM1, LAYOUT_PORT_COM1, 0, 8);
		aml_rt_irq_noflags(a, 1u << LAYOUT_GSI_COM1);
		aml_rt_end(a);
		aml_end(a);
	}
	if (cfg->rtc) {
		aml_device_begin(a, "RTC");
		aml_name_eisaid(a, "_HID", "PNP0B00");
		aml_name_decl(a, "_CRS");
		aml_rt_begin(a);
		aml_rt_io(a, LAYOUT_PORT_RTC, LAYOUT_PORT_RTC, 1, 2);
		aml_rt_irq_noflags(a, 1u << LAYOUT_GSI_RTC);
		aml_rt_end(a);
		aml_end(a);
	}
	if (cfg->fw_cfg) {
		/* Linux's qemu_fw_cfg driver binds to QEMU0002; 0x510-0x51b covers DMA. */
		aml_device_begin(a, "FWCF");
		aml_name_string(a, "_HID", "QEMU0002");
		aml_name_int(a, "_STA", 0x0b);
		aml_name_decl(a, "_CRS");
		aml_rt_begin(a);
		aml_rt_io(a, LAYOUT_PORT_FW_CFG, LAYOUT_PORT_FW_CFG, 1, 0x0c);
		aml_rt_end(a);
		aml_end(a);
	}
	if (cfg->power_button)
		dsdt_power_button(a, cfg);
	aml_end(a); /* \_SB */

	/* S5 (soft off): SLP_TYPa/b, then two reserved values. */
	aml_name_decl(a, "\\_S5");
	aml_package_begin(a, 4);
	aml_int(a, ACPI_PM_SLP_TYP_S5);
	aml_int(a, ACPI_PM_SLP_TYP_S5);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_end(a);
}

static int acpi_config_check(const struct acpi_config *cfg)
{
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > MACHINE_MAX_CPUS)
		return -EINVAL;
	if (cfg->pci) {
		if (cfg->pci_buses == 0 || cfg->pci_buses > 256)
			return -EINVAL;
		if (cfg->pci_ecam & 0xfffff ||
		    cfg->pci_ecam + cfg->pci_buses * 0x100000ull > 1ull << 32)
			return -EINVAL;
		if (cfg->pci_mmio64_size &&
		    cfg->pci_mmio64 + cfg->pci_mmio64_size - 1 < cfg->pci_mmio64)
			return -EINVAL;
	}
	if (cfg->pm_port > 0xffff - ACPI_PM_SIZE + 1)
		return -EINVAL;
	return 0;
}

int acpi_build_dsdt_aml(const struct acpi_config *cfg, uint8_t **out, size_t *len)
{
	struct aml a;
	int rc;

	rc = acpi_config_check(cfg);
	if (rc)
		return rc;
	aml_init(&a);
	dsdt_body(&a, cfg);
	rc = aml_finish(&a);
	if (rc) {
		aml_fini(&a);
		return rc;
	}
	*out = a.buf;
	*len = a.len;
	return 0;
}

static size_t build_fadt(struct tbuf *t, const struct acpi_config *cfg, uint64_t dsdt_gpa)
{
	size_t at = tb_header(t, "FACP", 6);
	uint8_t *q = tb_grab(t, FADT_LEN - ACPI_HDR_LEN);
	uint16_t boot = IAPC_VGA_NOT_PRESENT | IAPC_PCIE_ASPM_CONTROLS;

	if (!q)
		return at;
	q -= ACPI_HDR_LEN; /* offsets below are from the table start */
	/* FIRMWARE_CTRL, X_FIRMWARE_CTRL = 0: hardware-reduced, no FACS. DSDT = 0: X_DSDT used. */
	put_le(q + 46, LAYOUT_GSI_ACPI_SCI, 2); /* SCI_INT, unused without SCI hardware */
	if (cfg->i8042)
		boot |= IAPC_8042;
	if (!cfg->rtc)
		boot |= IAPC_CMOS_RTC_NOT_PRESENT;
	put_le(q + 109, boot, 2);
	put_le(q + 112,
	       FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON, 4);
	put_gas_io(q + 116, cfg->pm_port + ACPI_PM_RESET);
	q[128] = ACPI_PM_RESET_VALUE;
	q[131] = 5; /* FADT minor version: ACPI 6.5 */
	put_le(q + 140, dsdt_gpa, 8);
	put_gas_io(q + 244, cfg->pm_port + ACPI_PM_SLEEP_CONTROL);
	put_gas_io(q + 256, cfg->pm_port + ACPI_PM_SLEEP_STATUS);
	memcpy(q + 268, "PETREL\0\0", 8); /* hypervisor vendor identity */
	tb_finish(t, at);
	return at;
}

static size_t build_madt(struct tbuf *t, const struct acpi_config *cfg)
{
	size_t at = tb_header(t, "APIC", 5);

	tb_le(t, LAYOUT_LAPIC, 4);
	tb_le(t, cfg->pic ? 1 : 0, 4); /* PCAT_COMPAT: only when an 8259 pair exists */
	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		/* Processor Local APIC: UID, APIC ID, flags = enabled */
		tb_le(t, 0, 1);
		tb_le(t, 8, 1);
		tb_le(t, i, 1);
		tb_le(t, i, 1);
		tb_le(t, 1, 4);
	}
	/* I/O APIC: ID 0, address, GSI base 0 */
	tb_le(t, 1, 1);
	tb_le(t, 12, 1);
	tb_le(t, 0, 1);
	tb_le(t, 0, 1);
	tb_le(t, LAYOUT_IOAPIC, 4);
	tb_le(t, 0, 4);
	/* Interrupt source overrides: the PIT's IRQ 0 is wired to GSI 2, as on PCs. */
	tb_le(t, 2, 1);
	tb_le(t, 10, 1);
	tb_le(t, 0, 1);
	tb_le(t, 0, 1);
	tb_le(t, 2, 4);
	tb_le(t, 0, 2); /* conforms to the bus: edge, active high */
	/* IRQ 9 (SCI / GED): level, active high */
	tb_le(t, 2, 1);
	tb_le(t, 10, 1);
	tb_le(t, 0, 1);
	tb_le(t, LAYOUT_GSI_ACPI_SCI, 1);
	tb_le(t, LAYOUT_GSI_ACPI_SCI, 4);
	tb_le(t, 0x000d, 2);
	/* Local APIC NMI: all processors, LINT1 */
	tb_le(t, 4, 1);
	tb_le(t, 6, 1);
	tb_le(t, 0xff, 1);
	tb_le(t, 0, 2);
	tb_le(t, 1, 1);
	tb_finish(t, at);
	return at;
}

static size_t build_mcfg(struct tbuf *t, const struct acpi_config *cfg)
{
	size_t at = tb_header(t, "MCFG", 1);

	tb_le(t, 0, 8); /* reserved */
	tb_le(t, cfg->pci_ecam, 8);
	tb_le(t, 0, 2); /* segment */
	tb_le(t, 0, 1); /* first bus */
	tb_le(t, cfg->pci_buses - 1, 1);
	tb_le(t, 0, 4);
	tb_finish(t, at);
	return at;
}

int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp_addr)
{
	struct tbuf t = {0};
	uint8_t *aml = NULL;
	size_t aml_len = 0, dsdt, fadt, madt, mcfg = 0, xsdt;
	unsigned nr_ptr = 0;
	uint64_t ptrs[3];
	int rc;

	rc = acpi_build_dsdt_aml(cfg, &aml, &aml_len);
	if (rc)
		return rc;
	t.cap = LAYOUT_ACPI_SIZE;
	t.p = calloc(1, t.cap);
	if (!t.p) {
		rc = -ENOMEM;
		goto out;
	}

	/* RSDP first (16-byte aligned, inside the legacy scan area), patched last. */
	tb_grab(&t, 36);
	dsdt = tb_header(&t, "DSDT", 2); /* revision 2: 64-bit integers */
	tb_bytes(&t, aml, aml_len);
	tb_finish(&t, dsdt);
	fadt = build_fadt(&t, cfg, LAYOUT_ACPI + dsdt);
	madt = build_madt(&t, cfg);
	if (cfg->pci)
		mcfg = build_mcfg(&t, cfg);
	ptrs[nr_ptr++] = LAYOUT_ACPI + fadt;
	ptrs[nr_ptr++] = LAYOUT_ACPI + madt;
	if (cfg->pci)
		ptrs[nr_ptr++] = LAYOUT_ACPI + mcfg;
	xsdt = tb_header(&t, "XSDT", 1);
	for (unsigned i = 0; i < nr_ptr; i++)
		tb_le(&t, ptrs[i], 8);
	tb_finish(&t, xsdt);
	if (t.overflow) {
		rc = -ENOSPC;
		goto out;
	}

	memcpy(t.p, "RSD PTR ", 8);
	memcpy(t.p + 9, ACPI_OEM_ID, 6);
	t.p[15] = 2;		/* revision: ACPI 2.0+ with XSDT */
	put_le(t.p + 16, 0, 4); /* no RSDT */
	put_le(t.p + 20, 36, 4);
	put_le(t.p + 24, LAYOUT_ACPI + xsdt, 8);
	t.p[8] = (uint8_t)-acpi_sum(t.p, 20);
	t.p[32] = (uint8_t)-acpi_sum(t.p, 36);

	rc = gmem_write(gm, LAYOUT_ACPI, t.p, t.len);
	if (rc)
		goto out;
	*rsdp_addr = LAYOUT_ACPI;
out:
	free(t.p);
	free(aml);
	return rc;
}
