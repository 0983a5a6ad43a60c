/* Engine selection policy over abstract probe data; KVM exit decoding; CPUID policy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/kvm_int.h"
#include "arch/x86/layout.h"
#include "vm/machine.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <sys/eventfd.h>

static char why[256];

static int emu_ok(char *w, size_t n)
{
	return 0;
}

static int emu_no(char *w, size_t n)
{
	snprintf(w, n, "the software CPU engine (emu) cannot run guests yet");
	return -ENOSYS;
}

static const struct accel_host_probe hw = {.api_version = 12, .hw_virt = true};
static const struct accel_host_probe pvm = {.api_version = 12, .hw_virt = false, .pvm = true};
static const struct accel_host_probe nokvm = {.kvm_errno = ENOENT, .api_version = -ENOENT};

static void test_auto(void **state)
{
	const struct accel_ops *o;

	assert_int_equal(accel_choose("auto", &hw, emu_no, &o, why, sizeof(why)), 0);
	assert_ptr_equal(o, &accel_kvm_ops);
	assert_int_equal(accel_choose(NULL, &hw, emu_no, &o, why, sizeof(why)), 0);
	assert_ptr_equal(o, &accel_kvm_ops);

	/* PVM: /dev/kvm works but ring 0 is emulated, so auto prefers emu ... */
	assert_int_equal(accel_choose("auto", &pvm, emu_ok, &o, why, sizeof(why)), 0);
	assert_ptr_equal(o, &accel_emu_ops);
	/* ... and says why neither can run when emu cannot. */
	assert_int_equal(accel_choose("auto", &pvm, emu_no, &o, why, sizeof(why)), -ENOSYS);
	assert_null(o);
	assert_non_null(strstr(why, "no engine can run this guest here"));
	assert_non_null(strstr(why, "PVM"));
	assert_non_null(strstr(why, "emu: the software CPU engine"));

	assert_int_equal(accel_choose("auto", &nokvm, emu_ok, &o, why, sizeof(why)), 0);
	assert_ptr_equal(o, &accel_emu_ops);
	assert_int_equal(accel_choose("auto", &nokvm, emu_no, &o, why, sizeof(why)), -ENOSYS);
	assert_non_null(strstr(why, "/dev/kvm: No such file or directory"));

	/* Hardware flag present but the PVM module loaded: still not hardware. */
	struct accel_host_probe both = pvm;
	both.hw_virt = true;
	assert_false(accel_kvm_is_hardware(&both));
	assert_true(accel_kvm_is_hardware(&hw));
}

static void test_explicit(void **state)
{
	const struct accel_ops *o;
	struct accel_host_probe oldapi = hw;

	assert_int_equal(accel_choose("kvm", &pvm, emu_no, &o, why, sizeof(why)), 0);
	assert_ptr_equal(o, &accel_kvm_ops);
	assert_int_equal(accel_choose("kvm", &nokvm, emu_ok, &o, why, sizeof(why)), -ENOENT);
	assert_null(o);
	assert_string_equal(why, "--accel kvm: /dev/kvm: No such file or directory");
	oldapi.api_version = 11;
	assert_int_equal(accel_choose("kvm", &oldapi, emu_ok, &o, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "API version 11"));

	assert_int_equal(accel_choose("emu", &hw, emu_ok, &o, why, sizeof(why)), 0);
	assert_ptr_equal(o, &accel_emu_ops);
	assert_int_equal(accel_choose("emu", &hw, emu_no, &o, why, sizeof(why)), -ENOSYS);
	assert_non_null(strstr(why, "--accel emu: the software CPU engine"));

	assert_int_equal(accel_choose("hvf", &hw, emu_ok, &o, why, sizeof(why)), -EINVAL);
	assert_null(o);
	assert_non_null(strstr(why, "--accel hvf: unknown engine"));
}

static void test_select_real_host(void **state)
{
	const struct accel_ops *o;
	struct accel_host_probe p;

	/* Whatever this host is, the answer must be consistent with its probe. */
	accel_probe_host(&p);
	int rc = accel_select("auto", &o, why, sizeof(why));
	if (accel_kvm_is_hardware(&p))
		assert_ptr_equal(o, &accel_kvm_ops);
	else if (rc == 0)
		assert_ptr_equal(o, &accel_emu_ops);
	else
		assert_true(strlen(why) > 0);
}

static struct kvm_run *new_run(size_t *size)
{
	*size = 4096;
	return calloc(1, 4096);
}

static void test_exit_decode(void **state)
{
	size_t sz;
	struct kvm_run *run = new_run(&sz);
	struct accel_exit e;
	struct machine m;

	memset(&m, 0, sizeof(m));
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.size = 2;
	run->io.port = 0x3f8;
	run->io.count = 3;
	run->io.data_offset = 1024;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_IO);
	assert_int_equal(e.io.port, 0x3f8);
	assert_int_equal(e.io.size, 2);
	assert_int_equal(e.io.count, 3);
	assert_true(e.io.write);
	assert_ptr_equal(e.io.data, (uint8_t *)run + 1024);

	/* Malformed records from a broken kernel are errors, not wild pointers. */
	run->io.size = 3;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);
	run->io.size = 4;
	run->io.count = 1000;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);
	run->io.data_offset = 8192;
	run->io.count = 1;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);

	memset(run, 0, sz);
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xd0000000;
	run->mmio.len = 4;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_MMIO);
	assert_int_equal(e.mmio.addr, 0xd0000000);
	assert_false(e.mmio.write);
	assert_ptr_equal(e.mmio.data, run->mmio.data);
	run->mmio.len = 9;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);

	run->exit_reason = KVM_EXIT_SHUTDOWN;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_SHUTDOWN);
	run->exit_reason = KVM_EXIT_HLT;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_HALT);

	run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_RESET);
	run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_INTR);
	assert_int_equal(m.stop_reason, MACHINE_POWEROFF);
	assert_int_equal(m.exit_status, 0);

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);
	assert_non_null(strstr(e.error, "emulation failed"));

	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);
	assert_non_null(strstr(e.error, "0x21"));

	run->exit_reason = 9999;
	kvm_exit_decode(run, sz, &e, &m);
	assert_int_equal(e.kind, ACCEL_EXIT_ERROR);
	assert_non_null(strstr(e.error, "9999"));
	free(run);
}

static void test_cpuid_policy(void **state)
{
	struct kvm_cpuid_entry2 e = {.function = 1, .ecx = 0xffffffff, .edx = 0xffffffff};

	kvm_cpuid_filter(&e, false);
	assert_false(e.ecx & (1u << 5)); /* VMX */
	assert_false(e.ecx & (1u << 3)); /* MONITOR */
	assert_true(e.ecx & (1u << 31)); /* hypervisor */
	assert_true(e.ecx & (1u << 26)); /* XSAVE kept on real hardware */
	e.ecx = 0xffffffff;
	kvm_cpuid_filter(&e, true);
	assert_false(e.ecx & (1u << 26)); /* XSAVE hidden on PVM */
	assert_false(e.ecx & (1u << 13)); /* CMPXCHG16B hidden on PVM */
	assert_false(e.ecx & (1u << 28)); /* AVX */

	struct kvm_cpuid_entry2 pmu = {.function = 0xa, .eax = 1, .ebx = 2};
	kvm_cpuid_filter(&pmu, false);
	assert_int_equal(pmu.eax | pmu.ebx | pmu.ecx | pmu.edx, 0);

	struct kvm_cpuid_entry2 ext = {.function = 0x80000001, .ecx = 0xffffffff};
	kvm_cpuid_filter(&ext, false);
	assert_false(ext.ecx & (1u << 2)); /* SVM */

	struct kvm_cpuid_entry2 l7 = {.function = 7, .ebx = 0xffffffff};
	kvm_cpuid_filter(&l7, true);
	assert_false(l7.ebx & (1u << 5));  /* AVX2 */
	assert_false(l7.ebx & (1u << 11)); /* RTM */
	assert_true(l7.ebx & (1u << 0));   /* FSGSBASE stays */
}

/*
 * Against the real /dev/kvm when this host has one (skipped otherwise):
 * state round trip, kick before run, eventfd hooks, MSI/GSI injection.
 */
static void test_kvm_live(void **state)
{
	struct machine m;
	struct accel_vm *vm = NULL;
	struct accel_vcpu *v0 = NULL, *v1 = NULL;
	struct x86_vcpu_state s, back;
	struct accel_exit e;
	int fd;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		skip();
		return;
	}
	memset(&m, 0, sizeof(m));
	m.mem.fd = -1;
	m.nr_cpus = 2;
	m.accel = &accel_kvm_ops;
	assert_int_equal(gmem_init_x86(&m.mem, 16 << 20, LAYOUT_MMIO_HOLE), 0);
	assert_int_equal(accel_kvm_ops.vm_init(&m, &vm), 0);
	assert_int_equal(accel_kvm_ops.vcpu_init(vm, 0, &v0), 0);
	assert_int_equal(accel_kvm_ops.vcpu_init(vm, 1, &v1), 0);

	assert_int_equal(accel_kvm_ops.get_state(v0, &s), 0);
	assert_int_equal(s.rip, 0xfff0); /* architectural reset state */
	assert_int_equal(s.seg[X86_SEG_CS].selector, 0xf000);
	s.gpr[X86_RAX] = 0x1122334455667788ull;
	s.gpr[X86_R15] = 0xdeadbeefull;
	s.rip = 0x1000;
	s.seg[X86_SEG_CS].selector = 0;
	s.seg[X86_SEG_CS].base = 0;
	s.lstar = 0xffffffff81000000ull;
	s.kernel_gs_base = 0x12345000ull;
	s.sysenter_cs = 0x10;
	assert_int_equal(accel_kvm_ops.set_state(v0, &s), 0);
	assert_int_equal(accel_kvm_ops.get_state(v0, &back), 0);
	assert_int_equal(back.gpr[X86_RAX], 0x1122334455667788ull);
	assert_int_equal(back.gpr[X86_R15], 0xdeadbeefull);
	assert_int_equal(back.rip, 0x1000);
	assert_int_equal(back.lstar, 0xffffffff81000000ull);
	assert_int_equal(back.kernel_gs_base, 0x12345000ull);
	assert_int_equal(back.sysenter_cs, 0x10);
	assert_int_equal(back.pat, 0x0007040600070406ull);

	/* The start-up MTRR default type: enabled, write-back. */
	_Alignas(struct kvm_msrs)
	    uint8_t mbuf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	struct kvm_msrs *mtrr = (struct kvm_msrs *)mbuf;

	memset(mbuf, 0, sizeof(mbuf));
	mtrr->nmsrs = 1;
	mtrr->entries[0].index = 0x2ff;
	assert_int_equal(ioctl(v0->fd, KVM_GET_MSRS, mtrr), 1);
	assert_int_equal(mtrr->entries[0].data, 0x806);

	/* A kick before the run is not lost: the run returns INTR at once, then runs again. */
	accel_kvm_ops.vcpu_kick(v0);
	assert_int_equal(accel_kvm_ops.vcpu_run(v0, &e), 0);
	assert_int_equal(e.kind, ACCEL_EXIT_INTR);

	/* A guest "out 0x80, al; hlt" at 0x1000 in real mode: one I/O exit. */
	uint8_t code[] = {0xb0, 0x5a, 0xe6, 0x80, 0xf4};
	assert_int_equal(gmem_write(&m.mem, 0x1000, code, sizeof(code)), 0);
	assert_int_equal(accel_kvm_ops.vcpu_run(v0, &e), 0);
	assert_int_equal(e.kind, ACCEL_EXIT_IO);
	assert_int_equal(e.io.port, 0x80);
	assert_true(e.io.write);
	assert_int_equal(e.io.data[0], 0x5a);

	fd = eventfd(0, EFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(kvm_ioeventfd_add(vm, false, 0x510, 2, true, 7, fd), 0);
	assert_int_equal(kvm_ioeventfd_add(vm, false, 0x510, 3, true, 7, fd), -EINVAL);
	assert_int_equal(kvm_ioeventfd_del(vm, false, 0x510, 2, true, 7, fd), 0);
	assert_int_equal(kvm_irqfd_add(vm, 5, fd, -1), 0);
	assert_int_equal(kvm_irqfd_del(vm, 5, fd), 0);
	assert_int_equal(kvm_irqfd_add(vm, 99, fd, -1), -EINVAL);
	close(fd);
	kvm_irq_chip_ops.set_gsi(vm, 4, true);
	kvm_irq_chip_ops.set_gsi(vm, 4, false);
	assert_int_equal(kvm_irq_chip_ops.send_msi(vm, 0xfee00000, 0x30), 0);

	accel_kvm_ops.vcpu_fini(v1);
	accel_kvm_ops.vcpu_fini(v0);
	accel_kvm_ops.vm_fini(vm);
	gmem_fini(&m.mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auto),
	    cmocka_unit_test(test_explicit),
	    cmocka_unit_test(test_select_real_host),
	    cmocka_unit_test(test_exit_decode),
	    cmocka_unit_test(test_cpuid_policy),
	    cmocka_unit_test(test_kvm_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
