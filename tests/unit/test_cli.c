/* petrel's command line: option parsing into vm_config and errors for bad values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

static char err[512];

#define PARSE(cfg, ...)                                                                            \
	({                                                                                         \
		char *argv_[] = {"run", __VA_ARGS__, NULL};                                        \
		cli_run_parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, (cfg), err,      \
			      sizeof(err));                                                        \
	})

static void test_defaults(void **state)
{
	struct vm_config c;
	char *argv[] = {"run", NULL};

	assert_int_equal(cli_run_parse(1, argv, &c, err, sizeof(err)), 0);
	assert_null(c.kernel);
	assert_non_null(c.kernel_data);
	assert_true(c.kernel_size > 16 && c.kernel_size < 4096);
	assert_int_equal(c.format, VM_KERNEL_FLAT);
	assert_int_equal(c.mem_mib, VM_CONFIG_MEM_DEFAULT_MIB);
	assert_int_equal(c.cpus, 1);
	assert_string_equal(c.accel, "auto");
	assert_string_equal(c.serial, "stdio");
}

static void test_all_options(void **state)
{
	struct vm_config c;

	assert_int_equal(PARSE(&c, "--accel", "kvm", "--kernel", "/k", "--initrd", "/i",
			       "--cmdline", "console=ttyS0", "--mem", "512", "--cpus", "4",
			       "--serial", "file:/tmp/out", "--kernel-format", "multiboot",
			       "--load-addr", "0x200000"),
			 0);
	assert_string_equal(c.accel, "kvm");
	assert_string_equal(c.kernel, "/k");
	assert_null(c.kernel_data);
	assert_string_equal(c.initrd, "/i");
	assert_string_equal(c.cmdline, "console=ttyS0");
	assert_int_equal(c.mem_mib, 512);
	assert_int_equal(c.cpus, 4);
	assert_string_equal(c.serial, "file:/tmp/out");
	assert_int_equal(c.format, VM_KERNEL_MULTIBOOT);
	assert_int_equal(c.load_addr, 0x200000);
	/* --opt=value form too */
	assert_int_equal(PARSE(&c, "--mem=64", "--cpus=2"), 0);
	assert_int_equal(c.mem_mib, 64);
	assert_int_equal(c.cpus, 2);
}

static void test_errors(void **state)
{
	struct vm_config c;

	assert_int_equal(PARSE(&c, "--bogus"), -EINVAL);
	assert_non_null(strstr(err, "unknown option '--bogus'"));
	assert_int_equal(PARSE(&c, "-x"), -EINVAL);
	assert_non_null(strstr(err, "unknown option '-x'"));
	assert_int_equal(PARSE(&c, "--mem"), -EINVAL);
	assert_non_null(strstr(err, "--mem: missing value"));
	assert_int_equal(PARSE(&c, "--mem", "0"), -EINVAL);
	assert_non_null(strstr(err, "--mem 0"));
	assert_int_equal(PARSE(&c, "--mem", "lots"), -EINVAL);
	assert_int_equal(PARSE(&c, "--cpus", "0"), -EINVAL);
	assert_non_null(strstr(err, "--cpus 0"));
	assert_int_equal(PARSE(&c, "--cpus", "65"), -EINVAL);
	assert_int_equal(PARSE(&c, "--accel", "tcg"), -EINVAL);
	assert_non_null(strstr(err, "--accel tcg"));
	assert_int_equal(PARSE(&c, "--serial", "telnet"), -EINVAL);
	assert_int_equal(PARSE(&c, "--kernel-format", "coff"), -EINVAL);
	assert_int_equal(PARSE(&c, "--load-addr", "12"), -EINVAL);
	assert_int_equal(PARSE(&c, "stray"), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument 'stray'"));
}

static void test_main(void **state)
{
	char *bad[] = {"petrel", "frobnicate", NULL};
	char *none[] = {"petrel", NULL};
	char *ver[] = {"petrel", "--version", NULL};
	char *badrun[] = {"petrel", "run", "--cpus", "100", NULL};
	FILE *saved = stderr, *savedo = stdout;

	stderr = fopen("/dev/null", "w");
	stdout = fopen("/dev/null", "w");
	assert_int_equal(cli_main(2, bad), CLI_EXIT_USAGE);
	assert_int_equal(cli_main(1, none), CLI_EXIT_USAGE);
	assert_int_equal(cli_main(2, ver), CLI_EXIT_OK);
	assert_int_equal(cli_main(4, badrun), CLI_EXIT_USAGE);
	fclose(stderr);
	fclose(stdout);
	stderr = saved;
	stdout = savedo;
	/* Every verb has a function and help. */
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		assert_non_null(c->fn);
		assert_true(strlen(c->help) > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_all_options),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_main),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
