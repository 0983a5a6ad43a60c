/* vm_config parsers and whole-config checks: every bad value is refused with a message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vm/config.h"

static char err[256];

static void test_mem(void **state)
{
	uint64_t v = 7;
	static const char *const bad[] = {
	    "",	       "0",    "1",  "abc", "12abc", "-5", "+5", " 5", "99999999999999999999",
	    "2097152", "0x10", "1.5"};

	assert_int_equal(config_parse_mem("256", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 256);
	assert_int_equal(config_parse_mem("2", &v, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		v = 7;
		assert_int_equal(config_parse_mem(bad[i], &v, err, sizeof(err)), -EINVAL);
		assert_int_equal(v, 7);
		assert_non_null(strstr(err, "--mem"));
	}
	assert_int_equal(config_parse_mem(NULL, &v, err, sizeof(err)), -EINVAL);
}

static void test_cpus(void **state)
{
	unsigned n = 9;
	static const char *const bad[] = {"", "0", "65", "-1", "x", "1x", "4294967297"};

	assert_int_equal(config_parse_cpus("1", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(config_parse_cpus("64", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 64);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 9;
		assert_int_equal(config_parse_cpus(bad[i], &n, err, sizeof(err)), -EINVAL);
		assert_int_equal(n, 9);
		assert_non_null(strstr(err, "--cpus"));
	}
}

static void test_format(void **state)
{
	enum vm_kernel_format f = VM_KERNEL_AUTO;

	assert_int_equal(config_parse_format("multiboot", &f, err, sizeof(err)), 0);
	assert_int_equal(f, VM_KERNEL_MULTIBOOT);
	assert_int_equal(config_parse_format("flat", &f, err, sizeof(err)), 0);
	assert_int_equal(f, VM_KERNEL_FLAT);
	assert_string_equal(config_format_name(VM_KERNEL_ELF), "elf");
	assert_int_equal(config_parse_format("pe", &f, err, sizeof(err)), -EINVAL);
	assert_int_equal(f, VM_KERNEL_FLAT);
	assert_non_null(strstr(err, "--kernel-format pe"));
	assert_int_equal(config_parse_format("", &f, err, sizeof(err)), -EINVAL);
	assert_int_equal(config_parse_format("FLAT", &f, err, sizeof(err)), -EINVAL);
}

static void test_load_addr(void **state)
{
	uint64_t a = 0;

	assert_int_equal(config_parse_load_addr("0x200000", &a, err, sizeof(err)), 0);
	assert_int_equal(a, 0x200000);
	assert_int_equal(config_parse_load_addr("1048576", &a, err, sizeof(err)), 0);
	assert_int_equal(a, 0x100000);
	static const char *const bad[] = {"0",	"0x1000", "0x100001",  "0xc0000000",
					  "zz", "0x",	  "-0x100000", "0x1000000000000000000"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = 5;
		assert_int_equal(config_parse_load_addr(bad[i], &a, err, sizeof(err)), -EINVAL);
		assert_int_equal(a, 5);
		assert_non_null(strstr(err, "--load-addr"));
	}
}

static void test_accel_serial(void **state)
{
	assert_int_equal(config_parse_accel("kvm", err, sizeof(err)), 0);
	assert_int_equal(config_parse_accel("auto", err, sizeof(err)), 0);
	assert_int_equal(config_parse_accel("emu", err, sizeof(err)), 0);
	assert_int_equal(config_parse_accel("xen", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--accel xen"));
	assert_int_equal(config_parse_accel("", err, sizeof(err)), -EINVAL);

	assert_int_equal(config_parse_serial("stdio", err, sizeof(err)), 0);
	assert_int_equal(config_parse_serial("file:/tmp/x", err, sizeof(err)), 0);
	assert_int_equal(config_parse_serial("unix:/tmp/s", err, sizeof(err)), 0);
	assert_int_equal(config_parse_serial("file:", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_parse_serial("tcp:1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--serial tcp:1"));
}

static void test_check(void **state)
{
	struct vm_config c;
	static const uint8_t img[4] = {0xf4};
	const uint64_t host = 1024ull << 20;

	vm_config_default(&c);
	/* No kernel and no built-in image. */
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -EINVAL);
	c.kernel_data = img;
	c.kernel_size = sizeof(img);
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), 0);

	c.mem_mib = 2048; /* beyond this "host" */
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "the host has 1024 MiB"));
	c.mem_mib = 256;

	c.cpus = 0;
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -EINVAL);
	c.cpus = 65;
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -EINVAL);
	c.cpus = 2;

	c.kernel = "/nonexistent/petrel-kernel";
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "--kernel /nonexistent/petrel-kernel"));
	c.kernel = "/proc/self/exe";
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), 0);
	c.initrd = "/nonexistent/initrd";
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "--initrd"));
	c.initrd = NULL;

	c.format = VM_KERNEL_FLAT;
	c.mem_mib = 16;
	c.load_addr = 32ull << 20;
	assert_int_equal(vm_config_check(&c, host, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--load-addr"));
}

static void test_virtio_options(void **state)
{
	struct vm_config c;
	char err[256];
	bool virtio = false;

	vm_config_default(&c);
	assert_int_equal(config_add_disk(&c, "/tmp/a.img", err, sizeof(err)), 0);
	assert_int_equal(config_add_disk(&c, "/tmp/b.img,ro", err, sizeof(err)), 0);
	assert_int_equal(config_add_disk(&c, "/tmp/c,d.img,rw", err, sizeof(err)), 0);
	assert_int_equal(c.nr_disks, 3);
	assert_string_equal(c.disks[0].path, "/tmp/a.img");
	assert_false(c.disks[0].readonly);
	assert_string_equal(c.disks[1].path, "/tmp/b.img");
	assert_true(c.disks[1].readonly);
	assert_string_equal(c.disks[2].path, "/tmp/c,d.img");
	assert_int_equal(config_add_disk(&c, "/tmp/e.img,cache=none", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cache=none"));
	assert_int_equal(config_add_disk(&c, "", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_add_disk(&c, ",ro", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.nr_disks, 3);
	while (c.nr_disks < VM_CONFIG_MAX_DISKS)
		assert_int_equal(config_add_disk(&c, "/tmp/x.img", err, sizeof(err)), 0);
	assert_int_equal(config_add_disk(&c, "/tmp/x.img", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most"));

	assert_int_equal(config_add_net(&c, "user", err, sizeof(err)), 0);
	assert_int_equal(config_add_net(&c, "user,hostfwd=tcp::2222-:22", err, sizeof(err)), 0);
	assert_int_equal(config_add_net(&c, "tap,ifname=tap0", err, sizeof(err)), 0);
	assert_int_equal(config_add_net(&c, "bridge", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_add_net(&c, "username", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.nr_nets, 3);

	assert_int_equal(config_parse_console("virtio", &virtio, err, sizeof(err)), 0);
	assert_true(virtio);
	assert_int_equal(config_parse_console("serial", &virtio, err, sizeof(err)), 0);
	assert_false(virtio);
	assert_int_equal(config_parse_console("hvc", &virtio, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mem),		 cmocka_unit_test(test_cpus),
	    cmocka_unit_test(test_format),	 cmocka_unit_test(test_load_addr),
	    cmocka_unit_test(test_accel_serial), cmocka_unit_test(test_check),
	    cmocka_unit_test(test_virtio_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
