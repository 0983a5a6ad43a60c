/*
 * The toolstack client's pure pieces: `petrel create` arguments and config
 * files → VM spec JSON, and the list/top/info tables.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/cli_format.h"
#include "cli/cli_spec.h"

static char err[512];
static struct create_opts opts;

#define CREATE(spec, ...)                                                                          \
	({                                                                                         \
		char *argv_[] = {"create", __VA_ARGS__, NULL};                                     \
		cli_create_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, &opts,        \
				 (spec), err, sizeof(err));                                        \
	})

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_flags_to_spec(void **state)
{
	json_t *s;

	assert_int_equal(CREATE(&s, "--name", "web1", "--kernel", "/boot/k", "--initrd", "/i",
				"--cmdline", "console=ttyS0 quiet", "--mem", "128", "--cpus", "2",
				"--accel", "emu", "--kernel-format", "multiboot", "--rng",
				"--balloon", "--console", "virtio", "--socket", "/tmp/p.sock",
				"--json"),
			 0);
	assert_non_null(s);
	assert_string_equal(sget(s, "name"), "web1");
	assert_string_equal(sget(s, "kernel"), "/boot/k");
	assert_string_equal(sget(s, "initrd"), "/i");
	assert_string_equal(sget(s, "cmdline"), "console=ttyS0 quiet");
	assert_int_equal(json_integer_value(json_object_get(s, "mem_mib")), 128);
	assert_int_equal(json_integer_value(json_object_get(s, "cpus")), 2);
	assert_string_equal(sget(s, "accel"), "emu");
	assert_string_equal(sget(s, "kernel_format"), "multiboot");
	assert_true(json_is_true(json_object_get(s, "rng")));
	assert_true(json_is_true(json_object_get(s, "balloon")));
	assert_string_equal(sget(s, "console"), "virtio");
	assert_null(json_object_get(s, "autostart")); /* the daemon's default: true */
	assert_null(json_object_get(s, "disks"));
	assert_null(json_object_get(s, "cgroup"));
	assert_string_equal(opts.socket, "/tmp/p.sock");
	assert_true(opts.json);
	assert_null(opts.file);
	json_decref(s);
}

static void test_defaults_and_relative_paths(void **state)
{
	char cwd[PATH_MAX], want[PATH_MAX + 32];
	json_t *s, *d;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(CREATE(&s, "--kernel=halt.bin", "--disk", "a.img,ro", "--disk", "/abs.img",
				"--no-start"),
			 0);
	snprintf(want, sizeof(want), "%s/halt.bin", cwd);
	assert_string_equal(sget(s, "kernel"), want);
	assert_int_equal(json_integer_value(json_object_get(s, "mem_mib")), 256);
	assert_int_equal(json_integer_value(json_object_get(s, "cpus")), 1);
	assert_string_equal(sget(s, "accel"), "auto");
	assert_string_equal(sget(s, "kernel_format"), "auto");
	assert_string_equal(sget(s, "console"), "serial");
	assert_true(json_is_false(json_object_get(s, "autostart")));
	assert_null(json_object_get(s, "name"));
	assert_null(json_object_get(s, "initrd"));
	assert_null(json_object_get(s, "cmdline"));
	assert_int_equal(json_array_size(json_object_get(s, "disks")), 2);
	d = json_array_get(json_object_get(s, "disks"), 0);
	snprintf(want, sizeof(want), "%s/a.img", cwd);
	assert_string_equal(sget(d, "path"), want);
	assert_true(json_is_true(json_object_get(d, "read_only")));
	d = json_array_get(json_object_get(s, "disks"), 1);
	assert_string_equal(sget(d, "path"), "/abs.img");
	assert_true(json_is_false(json_object_get(d, "read_only")));
	json_decref(s);
}

static void test_nets_and_cgroup(void **state)
{
	json_t *s, *n, *fwd;

	assert_int_equal(CREATE(&s, "--kernel", "/k", "--net",
				"user,hostfwd=tcp::2222-:22,hostfwd=udp::5353-:53", "--net",
				"tap,ifname=tap0", "--net", "user", "--cpu-max-percent", "50",
				"--memory-max", "300"),
			 0);
	n = json_array_get(json_object_get(s, "nets"), 0);
	assert_string_equal(sget(n, "type"), "user");
	fwd = json_object_get(n, "hostfwd");
	assert_int_equal(json_array_size(fwd), 2);
	assert_string_equal(json_string_value(json_array_get(fwd, 0)), "tcp::2222-:22");
	assert_string_equal(json_string_value(json_array_get(fwd, 1)), "udp::5353-:53");
	n = json_array_get(json_object_get(s, "nets"), 1);
	assert_string_equal(sget(n, "type"), "tap");
	assert_string_equal(sget(n, "ifname"), "tap0");
	n = json_array_get(json_object_get(s, "nets"), 2);
	assert_string_equal(sget(n, "type"), "user");
	assert_null(json_object_get(n, "hostfwd"));
	n = json_object_get(s, "cgroup");
	assert_int_equal(json_integer_value(json_object_get(n, "cpu_max_percent")), 50);
	assert_int_equal(json_integer_value(json_object_get(n, "memory_max_mib")), 300);
	json_decref(s);
}

static void test_bad_usage(void **state)
{
	json_t *s = (json_t *)1;

	assert_int_equal(CREATE(&s, "--mem", "64"), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "--kernel is required"));
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--cpus", "65"), -EINVAL);
	assert_non_null(strstr(err, "--cpus 65"));
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--serial", "stdio"), -EINVAL);
	assert_non_null(strstr(err, "--serial"));
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--api-sock=/x"), -EINVAL);
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--bogus"), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--name"), -EINVAL);
	assert_non_null(strstr(err, "missing value"));
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--cpu-max-percent", "0"), -EINVAL);
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--memory-max", "x"), -EINVAL);
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--net", "tap"), -EINVAL);
	assert_int_equal(CREATE(&s, "--kernel", "/k", "--net", "user,bogus=1"), -EINVAL);
	assert_int_equal(CREATE(&s, "a.json", "b.json"), -EINVAL);
	assert_null(s);
	assert_int_equal(CREATE(&s, "--help"), 0);
	assert_true(opts.help);
	assert_null(s);
}

static void test_config_file(void **state)
{
	char dir[] = "/tmp/petrel-cli-spec-XXXXXX", path[64];
	json_t *s;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/web.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"name\": \"web1\", \"kernel\": \"vmlinuz\", \"initrd\": \"/abs/initrd\",\n"
	      " \"disks\": [{\"path\": \"root.img\"}], \"mem_mib\": 64, \"unknown\": 1}\n",
	      f);
	fclose(f);
	assert_int_equal(CREATE(&s, path, "--name", "web2"), 0);
	assert_string_equal(opts.file, path);
	assert_string_equal(sget(s, "name"), "web2");
	{
		char want[128];

		snprintf(want, sizeof(want), "%s/vmlinuz", dir);
		assert_string_equal(sget(s, "kernel"), want);
		snprintf(want, sizeof(want), "%s/root.img", dir);
		assert_string_equal(sget(json_array_get(json_object_get(s, "disks"), 0), "path"),
				    want);
	}
	assert_string_equal(sget(s, "initrd"), "/abs/initrd");
	/* Unknown fields go through: the daemon validates and names them. */
	assert_int_equal(json_integer_value(json_object_get(s, "unknown")), 1);
	json_decref(s);

	f = fopen(path, "w");
	fputs("{\"name\": \"a\", \"name\": \"b\"}", f);
	fclose(f);
	assert_int_equal(CREATE(&s, path), -EIO);
	assert_non_null(strstr(err, "duplicate"));
	f = fopen(path, "w");
	fputs("[1, 2]", f);
	fclose(f);
	assert_int_equal(CREATE(&s, path), -EIO);
	assert_non_null(strstr(err, "one JSON object"));
	unlink(path);
	assert_int_equal(CREATE(&s, path), -EIO);
	assert_non_null(strstr(err, path));
	rmdir(dir);
}

static void test_abs_path(void **state)
{
	char *p;

	p = cli_spec_abs_path("/a/b", "c");
	assert_string_equal(p, "/a/b/c");
	free(p);
	p = cli_spec_abs_path("/", "c");
	assert_string_equal(p, "/c");
	free(p);
	p = cli_spec_abs_path("/a", "/x");
	assert_string_equal(p, "/x");
	free(p);
}

/* Run fn's output into a string. */
static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, arg);
	fclose(f);
	return buf;
}

static void list_fn(FILE *f, const void *a)
{
	cli_format_list(f, a);
}

static void test_list_format(void **state)
{
	json_t *vms =
	    json_loads("[{\"id\": 1, \"name\": \"web1\", \"state\": \"running\", \"cpus\": 2,"
		       "  \"mem_mib\": 256, \"cpu_time_ms\": 1534},"
		       " {\"id\": 12, \"name\": \"a-rather-long-virtual-machine-name\", \"state\": "
		       "\"shutoff\","
		       "  \"cpus\": 1, \"mem_mib\": 64}]",
		       0, NULL);
	char *out;

	assert_non_null(vms);
	out = capture(list_fn, vms);
	/* The Name column is as wide as the longest name (34 characters here). */
	assert_string_equal(
	    out, "Name                                  ID     Mem VCPUs State      Time(s)\n"
		 "web1                                   1     256     2 running        1.5\n"
		 "a-rather-long-virtual-machine-name    12      64     1 shutoff          -\n");
	free(out);
	json_decref(vms);

	vms = json_array();
	out = capture(list_fn, vms);
	assert_string_equal(out,
			    "Name                        ID     Mem VCPUs State      Time(s)\n");
	free(out);
	json_decref(vms);
}

static void top_fn(FILE *f, const void *a)
{
	const struct top_row *rows = a;

	cli_format_top(f, rows, 2);
}

static void test_top_format(void **state)
{
	struct top_row rows[2] = {
	    {"web1", 1, "running", 12.34, 3 * 1024 + 512, 256, 1, 3723000},
	    {"db", 2, "paused", -1, -1, 64, 2, 59999},
	};
	char *out = capture(top_fn, rows);

	assert_string_equal(
	    out,
	    "NAME                        ID STATE      CPU%  RSS(MiB)     MEM VCPUs    UPTIME\n"
	    "web1                         1 running    12.3       3.5     256     1     1h02m\n"
	    "db                           2 paused        -         -      64     2       59s\n");
	free(out);
}

static void test_duration(void **state)
{
	char b[32];

	cli_format_duration(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	cli_format_duration(61000, b, sizeof(b));
	assert_string_equal(b, "1m01s");
	cli_format_duration(90061000LL, b, sizeof(b));
	assert_string_equal(b, "1d01h");
	cli_format_duration(-5, b, sizeof(b));
	assert_string_equal(b, "0s");
}

static void info_fn(FILE *f, const void *a)
{
	cli_format_info(f, a, "computed locally (test)");
}

static void test_info_format(void **state)
{
	json_t *info = json_loads(
	    "{\"version\": \"0.1.0\", \"cpus\": 2, \"mem_mib\": 7963, \"engines\": {\"kvm\":"
	    " {\"usable\": false, \"why\": \"/dev/kvm: No such file or directory\"}, \"emu\":"
	    " {\"usable\": true}}, \"auto\": \"emu\"}",
	    0, NULL);
	char *out = capture(info_fn, info);

	assert_string_equal(out, "version      0.1.0\n"
				 "cpus         2\n"
				 "memory       7963 MiB\n"
				 "engine kvm   not usable (/dev/kvm: No such file or directory)\n"
				 "engine emu   usable\n"
				 "auto picks   emu\n"
				 "source       computed locally (test)\n");
	free(out);
	json_decref(info);
}

static void test_escape(void **state)
{
	char b[16];

	assert_int_equal(cli_escape_segment("web-1.a_b", b, sizeof(b)), 0);
	assert_string_equal(b, "web-1.a_b");
	assert_int_equal(cli_escape_segment("a/b c?", b, sizeof(b)), 0);
	assert_string_equal(b, "a%2Fb%20c%3F");
	assert_int_equal(cli_escape_segment("0123456789abcdef", b, sizeof(b)), -ENAMETOOLONG);
	assert_int_equal(cli_escape_segment("0123456789abcd/", b, sizeof(b)), -ENAMETOOLONG);
	assert_int_equal(cli_escape_segment("", b, 0), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags_to_spec),
	    cmocka_unit_test(test_defaults_and_relative_paths),
	    cmocka_unit_test(test_nets_and_cgroup),
	    cmocka_unit_test(test_bad_usage),
	    cmocka_unit_test(test_config_file),
	    cmocka_unit_test(test_abs_path),
	    cmocka_unit_test(test_list_format),
	    cmocka_unit_test(test_top_format),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_info_format),
	    cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
