/* Verb dispatch, --help and --version. Adding a verb is one row in cli_commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef PETREL_VERSION
#define PETREL_VERSION "0.1.0"
#endif

const struct cli_command cli_commands[] = {
    {"run", cli_run, "boot a guest in this process until it powers off"},
    {"create", cli_create, "create a VM in petreld (config file or run's options)"},
    {"list", cli_list, "list petreld's VMs (Name, ID, Mem, VCPUs, State, Time)"},
    {"console", cli_console, "attach to a VM's console (Ctrl-] detaches)"},
    {"start", cli_start, "start a VM created with --no-start"},
    {"pause", cli_pause, "pause a VM"},
    {"resume", cli_resume, "resume a paused VM"},
    {"shutdown", cli_shutdown, "ACPI power button, wait for power-off (--force)"},
    {"reboot", cli_reboot, "reset a VM's guest"},
    {"destroy", cli_destroy, "kill a VM's process and forget the VM"},
    {"info", cli_info, "host CPUs, memory and CPU engines"},
    {"logs", cli_logs, "print a VM's log"},
    {"mem-set", cli_mem_set, "set a VM's memory target (balloon)"},
    {"top", cli_top, "live CPU and memory of each VM"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: petrel [--help] [--version] COMMAND [ARGS]\n\nCommands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->help);
	fprintf(f, "\nRun 'petrel COMMAND --help' for a command's options.\n");
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("petrel %s\n", PETREL_VERSION);
		return CLI_EXIT_OK;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "petrel: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
