/* ACPI tables parsed back from guest memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "mem/guest_mem.h"

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

struct tables {
	struct guest_mem gm;
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *mcfg, *dsdt;
	unsigned nr_xsdt;
};

/* A table at gpa: inside the ACPI area, length sane, checksum zero. */
static const uint8_t *table_at(struct tables *t, uint64_t gpa, const char *sig)
{
	const uint8_t *p;
	uint32_t len;

	assert_true(gpa >= LAYOUT_ACPI && gpa + 36 <= LAYOUT_ACPI + LAYOUT_ACPI_SIZE);
	p = gmem_ptr(&t->gm, gpa, 36);
	assert_non_null(p);
	assert_memory_equal(p, sig, 4);
	len = (uint32_t)le(p + 4, 4);
	assert_true(len >= 36 && gpa + len <= LAYOUT_ACPI + LAYOUT_ACPI_SIZE);
	p = gmem_ptr(&t->gm, gpa, len);
	assert_int_equal(sum(p, len), 0);
	assert_memory_equal(p + 10, "PETREL", 6);
	assert_memory_equal(p + 28, ACPI_CREATOR_ID, 4);
	return p;
}

static void build(struct tables *t, const struct acpi_config *cfg)
{
	uint64_t rsdp;

	memset(t, 0, sizeof(*t));
	assert_int_equal(gmem_init_x86(&t->gm, 16 << 20, LAYOUT_MMIO_HOLE), 0);
	assert_int_equal(acpi_build(&t->gm, cfg, &rsdp), 0);
	assert_int_equal(rsdp, LAYOUT_ACPI);
	assert_int_equal(rsdp % 16, 0);
	t->rsdp = gmem_ptr(&t->gm, rsdp, 36);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(t->rsdp, 20), 0);
	assert_int_equal(sum(t->rsdp, 36), 0);
	assert_int_equal(t->rsdp[15], 2);
	assert_int_equal(le(t->rsdp + 20, 4), 36);
	t->xsdt = table_at(t, le(t->rsdp + 24, 8), "XSDT");
	t->nr_xsdt = (unsigned)((le(t->xsdt + 4, 4) - 36) / 8);
	assert_int_equal(le(t->xsdt + 4, 4), 36 + 8 * t->nr_xsdt);
	for (unsigned i = 0; i < t->nr_xsdt; i++) {
		uint64_t gpa = le(t->xsdt + 36 + 8 * i, 8);
		const uint8_t *h = gmem_ptr(&t->gm, gpa, 4);
		assert_non_null(h);
		if (!memcmp(h, "FACP", 4))
			t->fadt = table_at(t, gpa, "FACP");
		else if (!memcmp(h, "APIC", 4))
			t->madt = table_at(t, gpa, "APIC");
		else if (!memcmp(h, "MCFG", 4))
			t->mcfg = table_at(t, gpa, "MCFG");
		else
			fail_msg("unexpected table %.4s", (const char *)h);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	t->dsdt = table_at(t, le(t->fadt + 140, 8), "DSDT");
}

static bool dsdt_has(const struct tables *t, const char *seg)
{
	uint32_t len = (uint32_t)le(t->dsdt + 4, 4);

	return memmem(t->dsdt + 36, len - 36, seg, 4) != NULL;
}

static void test_default_tables(void **state)
{
	struct acpi_config cfg;
	struct tables t;

	acpi_config_default(&cfg, 4);
	build(&t, &cfg);
	assert_int_equal(t.nr_xsdt, 3);
	assert_non_null(t.mcfg);

	/* FADT */
	assert_int_equal(le(t.fadt + 4, 4), 276);
	assert_int_equal(t.fadt[8], 6);
	assert_int_equal(t.fadt[131], 5);
	uint32_t flags = (uint32_t)le(t.fadt + 112, 4);
	assert_true(flags & (1u << 20));	 /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));	 /* RESET_REG_SUP */
	assert_int_equal(le(t.fadt + 36, 4), 0); /* no FACS */
	assert_int_equal(le(t.fadt + 132, 8), 0);
	uint16_t boot = (uint16_t)le(t.fadt + 109, 2);
	assert_true(boot & (1u << 1));	/* 8042 */
	assert_true(boot & (1u << 2));	/* no VGA */
	assert_false(boot & (1u << 5)); /* CMOS RTC present */
	/* RESET_REG: SystemIO, 8 bits at pm+2; value */
	assert_memory_equal(t.fadt + 116, ((uint8_t[]){1, 8, 0, 1}), 4);
	assert_int_equal(le(t.fadt + 120, 8), LAYOUT_PORT_ACPI + ACPI_PM_RESET);
	assert_int_equal(t.fadt[128], ACPI_PM_RESET_VALUE);
	/* SLEEP_CONTROL_REG / SLEEP_STATUS_REG */
	assert_memory_equal(t.fadt + 244, ((uint8_t[]){1, 8, 0, 1}), 4);
	assert_int_equal(le(t.fadt + 248, 8), LAYOUT_PORT_ACPI + ACPI_PM_SLEEP_CONTROL);
	assert_memory_equal(t.fadt + 256, ((uint8_t[]){1, 8, 0, 1}), 4);
	assert_int_equal(le(t.fadt + 260, 8), LAYOUT_PORT_ACPI + ACPI_PM_SLEEP_STATUS);
	/* No PM1 blocks in hardware-reduced mode */
	for (unsigned off = 56; off < 88; off++)
		assert_int_equal(t.fadt[off], 0);

	/* MCFG */
	assert_int_equal(le(t.mcfg + 4, 4), 60);
	assert_int_equal(le(t.mcfg + 44, 8), LAYOUT_PCI_ECAM);
	assert_int_equal(le(t.mcfg + 52, 2), 0);
	assert_int_equal(t.mcfg[54], 0);
	assert_int_equal(t.mcfg[55], LAYOUT_PCI_ECAM_BUSES - 1);

	/* DSDT */
	assert_int_equal(t.dsdt[8], 2);
	static const char *names[] = {"_SB_", "PCI0", "_PRT", "_CRS", "_OSC", "MRES", "COM1",
				      "RTC_", "FWCF", "PWRB", "GED_", "_EVT", "GEVT", "_S5_"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_true(dsdt_has(&t, names[i]));
	gmem_fini(&t.gm);
}

/* MADT entries by type; checks every entry's length field walks the table exactly. */
static void madt_count(const uint8_t *madt, unsigned counts[16])
{
	uint32_t len = (uint32_t)le(madt + 4, 4);
	uint32_t off = 44;

	memset(counts, 0, 16 * sizeof(counts[0]));
	while (off < len) {
		assert_true(off + 2 <= len);
		assert_true(madt[off + 1] >= 2 && off + madt[off + 1] <= len);
		if (madt[off] < 16)
			counts[madt[off]]++;
		off += madt[off + 1];
	}
	assert_int_equal(off, len);
}

static void check_madt(unsigned cpus)
{
	struct acpi_config cfg;
	struct tables t;
	unsigned counts[16];

	acpi_config_default(&cfg, cpus);
	build(&t, &cfg);
	assert_int_equal(le(t.madt + 36, 4), LAYOUT_LAPIC);
	assert_int_equal(le(t.madt + 40, 4), 0); /* no PCAT_COMPAT without a PIC */
	madt_count(t.madt, counts);
	assert_int_equal(counts[0], cpus);
	assert_int_equal(counts[1], 1);
	assert_int_equal(counts[2], 2);
	assert_int_equal(counts[4], 1);
	/* Every CPU enabled, APIC IDs 0..n-1 in order */
	for (unsigned i = 0; i < cpus; i++) {
		const uint8_t *e = t.madt + 44 + 8 * i;
		assert_int_equal(e[0], 0);
		assert_int_equal(e[3], i);
		assert_int_equal(le(e + 4, 4) & 1, 1);
	}
	const uint8_t *io = t.madt + 44 + 8 * cpus;
	assert_int_equal(io[0], 1);
	assert_int_equal(le(io + 4, 4), LAYOUT_IOAPIC);
	assert_int_equal(le(io + 8, 4), 0);
	const uint8_t *iso = io + 12;
	assert_int_equal(iso[3], 0);
	assert_int_equal(le(iso + 4, 4), 2);
	iso += 10;
	assert_int_equal(iso[3], LAYOUT_GSI_ACPI_SCI);
	assert_int_equal(le(iso + 4, 4), LAYOUT_GSI_ACPI_SCI);
	assert_int_equal(le(iso + 8, 2), 0x000d);
	gmem_fini(&t.gm);
}

static void test_madt_1_cpu(void **state)
{
	check_madt(1);
}

static void test_madt_64_cpus(void **state)
{
	check_madt(64);
}

static void test_minimal_config(void **state)
{
	struct acpi_config cfg;
	struct tables t;

	acpi_config_default(&cfg, 2);
	cfg.pci = cfg.serial = cfg.rtc = cfg.i8042 = cfg.fw_cfg = cfg.power_button = false;
	cfg.pic = true;
	build(&t, &cfg);
	assert_int_equal(t.nr_xsdt, 2);
	assert_null(t.mcfg);
	assert_int_equal(le(t.madt + 40, 4), 1);
	uint16_t boot = (uint16_t)le(t.fadt + 109, 2);
	assert_false(boot & (1u << 1));
	assert_true(boot & (1u << 5));
	assert_false(dsdt_has(&t, "PCI0"));
	assert_false(dsdt_has(&t, "COM1"));
	assert_false(dsdt_has(&t, "GED_"));
	assert_true(dsdt_has(&t, "_S5_"));
	gmem_fini(&t.gm);
}

static void test_mmio64_window(void **state)
{
	struct acpi_config cfg;
	struct tables t;
	static const uint8_t qword_head[] = {0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07};

	acpi_config_default(&cfg, 1);
	cfg.pci_mmio64 = 0x8000000000ull;
	cfg.pci_mmio64_size = 0x4000000000ull;
	build(&t, &cfg);
	uint32_t len = (uint32_t)le(t.dsdt + 4, 4);
	const uint8_t *q = memmem(t.dsdt, len, qword_head, sizeof(qword_head));
	assert_non_null(q);
	assert_int_equal(le(q + 14, 8), 0x8000000000ull);
	assert_int_equal(le(q + 22, 8), 0xbfffffffffull);
	assert_int_equal(le(q + 38, 8), 0x4000000000ull);
	gmem_fini(&t.gm);
}

static void test_bad_configs(void **state)
{
	struct acpi_config cfg;
	struct guest_mem gm;
	uint64_t rsdp = 0x1234;
	uint64_t gpa = 0x100000, size = 0x100000;

	assert_int_equal(gmem_init_x86(&gm, 16 << 20, LAYOUT_MMIO_HOLE), 0);
	acpi_config_default(&cfg, 0);
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EINVAL);
	acpi_config_default(&cfg, 65);
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EINVAL);
	acpi_config_default(&cfg, 1);
	cfg.pci_buses = 0;
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EINVAL);
	acpi_config_default(&cfg, 1);
	cfg.pci_buses = 257;
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EINVAL);
	acpi_config_default(&cfg, 1);
	cfg.pci_ecam = 0xe0001000;
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EINVAL);
	acpi_config_default(&cfg, 1);
	cfg.pci_mmio64 = UINT64_MAX - 10;
	cfg.pci_mmio64_size = 0x1000;
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0x1234);
	gmem_fini(&gm);

	/* Guest memory without the ACPI area */
	assert_int_equal(gmem_init(&gm, &gpa, &size, 1), 0);
	acpi_config_default(&cfg, 1);
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EFAULT);
	gmem_fini(&gm);
}

static int run(const char *cmd)
{
	int r = system(cmd);

	return r == -1 || !WIFEXITED(r) ? -1 : WEXITSTATUS(r);
}

static void write_table(const char *dir, const char *name, const uint8_t *tbl)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(tbl, 1, le(tbl + 4, 4), f), le(tbl + 4, 4));
	fclose(f);
}

/* iasl disassembles every table and recompiles the DSDT without errors. */
static void iasl_check(const struct acpi_config *cfg)
{
	struct tables t;
	char dir[] = "/tmp/petrel-acpi-XXXXXX", cmd[1024];

	build(&t, cfg);
	assert_non_null(mkdtemp(dir));
	write_table(dir, "dsdt", t.dsdt);
	write_table(dir, "facp", t.fadt);
	write_table(dir, "apic", t.madt);
	write_table(dir, "xsdt", t.xsdt);
	if (t.mcfg)
		write_table(dir, "mcfg", t.mcfg);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for f in *.dat; do iasl -d $f >>log 2>&1 || exit 1; done && "
		 "iasl -p re dsdt.dsl >>log 2>&1 && grep -q ' 0 Errors' log && "
		 "! grep -qi 'error\\|invalid\\|mismatch' *.dsl && "
		 "grep -q '_S5, Package (0x04)' dsdt.dsl && "
		 "grep -q 'Hardware Reduced (V5) : 1' facp.dsl",
		 dir);
	int r = run(cmd);
	if (r != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/log >&2", dir);
		run(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	assert_int_equal(r, 0);
	gmem_fini(&t.gm);
}

static void test_iasl_parses_tables(void **state)
{
	struct acpi_config cfg;

	if (run("command -v iasl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "iasl not installed (Debian package acpica-tools): skipping\n");
		skip();
	}
	acpi_config_default(&cfg, 8);
	cfg.pci_mmio64 = 0x8000000000ull;
	cfg.pci_mmio64_size = 0x4000000000ull;
	iasl_check(&cfg);
	acpi_config_default(&cfg, 64);
	cfg.pci = cfg.serial = cfg.rtc = cfg.fw_cfg = cfg.power_button = false;
	iasl_check(&cfg);
}

/* Execute the DSDT's methods in ACPICA's own interpreter (acpiexec, from acpica-tools). */
static void test_acpiexec_methods(void **state)
{
	struct acpi_config cfg;
	struct tables t;
	char dir[] = "/tmp/petrel-acpi-XXXXXX", cmd[1024];
	FILE *f;

	if (run("command -v acpiexec >/dev/null 2>&1") != 0) {
		fprintf(stderr, "acpiexec not installed (Debian package acpica-tools): skipping\n");
		skip();
	}
	acpi_config_default(&cfg, 2);
	build(&t, &cfg);
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/dsdt.dat", dir);
	f = fopen(cmd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(t.dsdt, 1, le(t.dsdt + 4, 4), f), le(t.dsdt + 4, 4));
	fclose(f);
	/*
	 * _OSC with the PCI host bridge UUID returns the capabilities buffer
	 * unchanged; with another UUID it sets "unrecognized UUID" (bit 2) in
	 * the first DWORD. _EVT and \_S5 must evaluate without an AML error.
	 */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && timeout 60 acpiexec -b '"
		 "evaluate \\_SB.PCI0._OSC (5b 4d db 33 f7 1f 1c 40 96 57 74 41 c0 3d d7 66) 1 3 "
		 "(01 00 00 00 1f 00 00 00 1f 00 00 00);"
		 "evaluate \\_SB.PCI0._OSC (00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff) 1 3 "
		 "(00 00 00 00 1f 00 00 00 1f 00 00 00);"
		 "evaluate \\_SB.GED._EVT 9; evaluate \\_S5; evaluate \\_SB.PCI0._PRT' "
		 "dsdt.dat >log 2>&1; ! grep -q 'ACPI Error\\|AE_' log && "
		 "grep -q '0000: 01 00 00 00 1F 00 00 00 1F 00 00 00' log && "
		 "grep -q '0000: 04 00 00 00 1F 00 00 00 1F 00 00 00' log && "
		 "grep -q 'No object was returned from evaluation of .*GED._EVT' log && "
		 "grep -q 'Evaluation of .*_S5 returned object' log",
		 dir);
	int r = run(cmd);
	if (r != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/log >&2", dir);
		run(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	assert_int_equal(r, 0);
	gmem_fini(&t.gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_tables),     cmocka_unit_test(test_madt_1_cpu),
	    cmocka_unit_test(test_madt_64_cpus),       cmocka_unit_test(test_minimal_config),
	    cmocka_unit_test(test_mmio64_window),      cmocka_unit_test(test_bad_configs),
	    cmocka_unit_test(test_iasl_parses_tables), cmocka_unit_test(test_acpiexec_methods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
