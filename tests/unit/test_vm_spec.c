/* Unit tests of the VM spec parser and the VM process's argv (src/daemon/vm_spec.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/vm_spec.h"

static int parse(const char *text, struct vm_spec *s, char *err, size_t len)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	int rc;

	assert_non_null(j);
	rc = vm_spec_parse(j, s, false, 4096, err, len);
	json_decref(j);
	return rc;
}

static void test_defaults(void **state)
{
	struct vm_spec s;
	char err[256];

	assert_int_equal(parse("{\"kernel\": \"/k\"}", &s, err, sizeof(err)), 0);
	assert_string_equal(s.kernel, "/k");
	assert_string_equal(s.name, "");
	assert_int_equal(s.cpus, 1);
	assert_int_equal(s.mem_mib, 256);
	assert_string_equal(s.accel, "auto");
	assert_string_equal(s.kernel_format, "auto");
	assert_string_equal(s.console, "serial");
	assert_true(s.autostart);
	assert_false(s.rng);
	assert_int_equal(s.nr_disks, 0);
}

static void test_full(void **state)
{
	struct vm_spec s;
	char err[256];

	assert_int_equal(
	    parse(
		"{\"name\": \"web1\", \"kernel\": \"/vmlinuz\", \"initrd\": \"/initrd\","
		"\"cmdline\": \"console=ttyS0\", \"kernel_format\": \"linux\", \"accel\": \"emu\","
		"\"cpus\": 2, \"mem_mib\": 512, \"disks\": [{\"path\": \"/img.raw\", "
		"\"read_only\": true}, {\"path\": \"/b,c\"}], \"nets\": [{\"type\": \"user\", "
		"\"hostfwd\": [\"tcp::2222-:22\", \"tcp::8080-:80\"]}, {\"type\": \"tap\", "
		"\"ifname\": \"tap0\"}], \"rng\": true, \"balloon\": true, \"console\": "
		"\"virtio\", \"autostart\": false, \"cgroup\": {\"cpu_max_percent\": 50, "
		"\"memory_max_mib\": 300}}",
		&s, err, sizeof(err)),
	    0);
	assert_string_equal(s.name, "web1");
	assert_int_equal(s.nr_disks, 2);
	assert_true(s.disks[0].readonly);
	assert_false(s.disks[1].readonly);
	assert_int_equal(s.nr_nets, 2);
	assert_string_equal(s.nets[0], "user,hostfwd=tcp::2222-:22,hostfwd=tcp::8080-:80");
	assert_string_equal(s.nets[1], "tap,ifname=tap0");
	assert_int_equal(s.cpu_max_percent, 50);
	assert_int_equal(s.memory_max_mib, 300);
	assert_false(s.autostart);
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
	    "{}",					       /* kernel is required */
	    "{\"kernel\": \"/k\", \"bogus\": 1}",	       /* unknown field */
	    "{\"kernel\": \"relative\"}",		       /* not absolute */
	    "{\"kernel\": 5}",				       /* wrong type */
	    "{\"kernel\": \"/k\", \"cpus\": 0}",	       /* out of range */
	    "{\"kernel\": \"/k\", \"cpus\": 65}",	       /* out of range */
	    "{\"kernel\": \"/k\", \"cpus\": -1}",	       /* negative */
	    "{\"kernel\": \"/k\", \"mem_mib\": 1}",	       /* below the minimum */
	    "{\"kernel\": \"/k\", \"mem_mib\": 5000}",	       /* above the host */
	    "{\"kernel\": \"/k\", \"name\": \"-x\"}",	       /* bad first character */
	    "{\"kernel\": \"/k\", \"name\": \"a/b\"}",	       /* slash */
	    "{\"kernel\": \"/k\", \"name\": \"\"}",	       /* empty */
	    "{\"kernel\": \"/k\", \"accel\": \"tcg\"}",	       /* unknown engine */
	    "{\"kernel\": \"/k\", \"kernel_format\": \"pe\"}", /* unknown format */
	    "{\"kernel\": \"/k\", \"console\": \"vga\"}",
	    "{\"kernel\": \"/k\", \"disks\": {}}",
	    "{\"kernel\": \"/k\", \"disks\": [{\"path\": \"/a\", \"x\": 1}]}",
	    "{\"kernel\": \"/k\", \"disks\": [{\"read_only\": true}]}",
	    "{\"kernel\": \"/k\", \"nets\": [{\"type\": \"vde\"}]}",
	    "{\"kernel\": \"/k\", \"nets\": [{\"type\": \"tap\"}]}",
	    "{\"kernel\": \"/k\", \"nets\": [{\"type\": \"tap\", \"ifname\": \"a,b\"}]}",
	    "{\"kernel\": \"/k\", \"nets\": [{\"type\": \"user\", \"hostfwd\": [\"tcp::x-:2\"]}]}",
	    "{\"kernel\": \"/k\", \"nets\": [{\"type\": \"user\", \"hostfwd\": \"tcp::1-:2\"}]}",
	    "{\"kernel\": \"/k\", \"cgroup\": {\"cpu_max_percent\": 0}}",
	    "{\"kernel\": \"/k\", \"cgroup\": {\"swap\": 1}}",
	    "{\"kernel\": \"/k\", \"autostart\": 1}",
	    "[1]",
	};
	struct vm_spec s;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i], &s, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
}

static void test_name_valid(void **state)
{
	char longname[80];

	assert_true(vm_name_valid("a"));
	assert_true(vm_name_valid("web-1.prod_2"));
	assert_true(vm_name_valid("7"));
	assert_false(vm_name_valid(""));
	assert_false(vm_name_valid(".x"));
	assert_false(vm_name_valid("a b"));
	memset(longname, 'a', 64);
	longname[64] = '\0';
	assert_true(vm_name_valid(longname));
	longname[64] = 'a';
	longname[65] = '\0';
	assert_false(vm_name_valid(longname));
}

static void test_roundtrip_and_argv(void **state)
{
	struct vm_spec s, s2;
	char err[256], **argv, joined[8192] = "";
	json_t *j;

	assert_int_equal(parse("{\"name\": \"a\", \"kernel\": \"/k\", \"cpus\": 3, \"disks\": "
			       "[{\"path\": \"/d\"}], \"nets\": [{\"type\": \"user\"}], "
			       "\"kernel_format\": \"multiboot\", \"accel\": \"emu\"}",
			       &s, err, sizeof(err)),
			 0);
	j = vm_spec_to_json(&s);
	assert_non_null(j);
	assert_int_equal(vm_spec_parse(j, &s2, false, 4096, err, sizeof(err)), 0);
	assert_memory_equal(&s, &s2, sizeof(s));
	json_decref(j);
	argv = vm_spec_argv(&s, "/usr/bin/petrel", "/st/vms/a");
	assert_non_null(argv);
	for (char **p = argv; *p; p++) {
		strcat(joined, *p);
		strcat(joined, " ");
	}
	assert_string_equal(joined,
			    "/usr/bin/petrel run --api-sock=/st/vms/a/api.sock "
			    "--serial=console:/st/vms/a/console.sock --accel=emu --cpus=3 "
			    "--mem=256 --console=serial --kernel /k --kernel-format=multiboot "
			    "--cmdline  --disk=/d,rw --net=user ");
	vm_spec_argv_free(argv);
	/* Without autostart the kernel comes later, through PUT /boot-source. */
	s.autostart = false;
	argv = vm_spec_argv(&s, "/usr/bin/petrel", "/st/vms/a");
	for (char **p = argv; *p; p++)
		assert_null(strstr(*p, "--kernel"));
	vm_spec_argv_free(argv);
	j = vm_spec_boot_source(&s);
	assert_string_equal(json_string_value(json_object_get(j, "kernel_image_path")), "/k");
	assert_string_equal(json_string_value(json_object_get(j, "petrel_kernel_format")),
			    "multiboot");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_roundtrip_and_argv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
