/* The petrel command line: a table of verbs, each a function with one-line help. */
#ifndef PETREL_CLI_CLI_H
#define PETREL_CLI_CLI_H

#include <stddef.h>

#include "vm/config.h"

struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the verb */
	const char *help;		  /* one line for `petrel --help` */
};

extern const struct cli_command cli_commands[];

/* Exit statuses of the CLI itself (a guest's debug-exit status is odd, >= 1). */
#define CLI_EXIT_OK	 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE	 2

int cli_main(int argc, char **argv);
int cli_run(int argc, char **argv);

/* The toolstack verbs: clients of petreld (docs/cli.md). */
int cli_create(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_console(int argc, char **argv);
int cli_start(int argc, char **argv);
int cli_pause(int argc, char **argv);
int cli_resume(int argc, char **argv);
int cli_shutdown(int argc, char **argv);
int cli_reboot(int argc, char **argv);
int cli_destroy(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_logs(int argc, char **argv);
int cli_mem_set(int argc, char **argv);
int cli_top(int argc, char **argv);

/*
 * Parse `petrel run` options into cfg. Returns 0, 1 when --help was given
 * (help printed), or -EINVAL with a message naming the bad value in err.
 */
int cli_run_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t err_len);
void cli_run_usage(void *file);

/* The built-in demo guest (src/cli/demo_guest.asm): a flat 64-bit binary. */
extern const unsigned char petrel_demo_guest[];
extern const unsigned char petrel_demo_guest_end[];

#endif
