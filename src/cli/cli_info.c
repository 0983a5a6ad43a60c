/*
 * petrel info: the host as petreld sees it (GET /), or, when no daemon
 * answers, the same facts computed in this process with the engine probes
 * `petrel run` uses; the last line says which.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accel/accel.h"
#include "accel/kvm.h"
#include "cli/cli.h"
#include "cli/cli_format.h"
#include "cli/cli_verbs.h"

#ifndef PETREL_VERSION
#define PETREL_VERSION "0.1.0"
#endif

/* The GET / shape, computed here. */
static json_t *info_local(void)
{
	struct accel_host_probe p;
	const struct accel_ops *ops;
	char why[256] = "";
	json_t *kvm, *emu;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	accel_probe_host(&p);
	rc = accel_choose("kvm", &p, accel_emu_ops.probe, &ops, why, sizeof(why));
	if (rc == 0 && !accel_kvm_is_hardware(&p))
		snprintf(why, sizeof(why), "%s",
			 p.pvm ? "/dev/kvm is PVM (kvm_pvm: guest ring 0 is emulated)"
			       : "the host CPU has no vmx/svm");
	else if (rc && !strncmp(why, "--accel kvm: ", 13))
		memmove(why, why + 13, strlen(why + 13) + 1);
	kvm = json_pack("{sbss}", "usable", rc == 0, "why", why);
	why[0] = '\0';
	rc = accel_emu_ops.probe(why, sizeof(why));
	emu = json_pack("{sbss}", "usable", rc == 0, "why", why);
	rc = accel_choose("auto", &p, accel_emu_ops.probe, &ops, why, sizeof(why));
	return json_pack("{sssIsIs{soso}ss}", "version", PETREL_VERSION, "cpus",
			 (json_int_t)(cpus > 0 ? cpus : 0), "mem_mib",
			 (json_int_t)(config_host_mem_bytes() >> 20), "engines", "kvm", kvm, "emu",
			 emu, "auto", rc == 0 && ops ? ops->name : "none");
}

int cli_info(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"local", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL;
	bool json = false, local = false;
	char source[4800];
	struct pc_client c;
	struct pc_reply r = {0};
	json_t *info = NULL;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'l':
			local = true;
			break;
		case 'h':
			printf(
			    "Usage: petrel info [--json] [--local] [--socket PATH]\n"
			    "The host: CPUs, memory, the CPU engines (usable or why not) and the\n"
			    "one --accel auto picks, from petreld; when petreld is not running\n"
			    "(or with --local) computed by this command. The last line "
			    "(\"source\",\n"
			    "or \"_source\" with --json) says which.\n");
			return CLI_EXIT_OK;
		case ':':
			return verb_usage_error("info", "%s: missing value", argv[optind - 1]);
		default:
			return verb_usage_error("info", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return verb_usage_error("info", "unexpected argument '%s'", argv[optind]);
	if (pc_init(&c, socket_path))
		return CLI_EXIT_FAILURE;
	c.quiet = true;
	if (!local && pc_request(&c, "GET", "/", NULL, &r) == 0 && r.status == 200 &&
	    json_is_object(r.json)) {
		info = json_incref(r.json);
		snprintf(source, sizeof(source), "petreld at %s", c.socket);
	} else {
		info = info_local();
		if (local)
			snprintf(source, sizeof(source), "computed locally (--local)");
		else if (r.status)
			snprintf(source, sizeof(source),
				 "computed locally (petreld at %s answered HTTP %ld)", c.socket,
				 r.status);
		else
			snprintf(source, sizeof(source),
				 "computed locally (petreld not reachable at %s: %s)", c.socket,
				 c.error);
	}
	pc_reply_free(&r);
	pc_fini(&c);
	if (!info) {
		fprintf(stderr, "petrel info: out of memory\n");
		return CLI_EXIT_FAILURE;
	}
	if (json) {
		json_object_set_new(info, "_source", json_string(source));
		json_dumpf(info, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		cli_format_info(stdout, info, source);
	}
	json_decref(info);
	return CLI_EXIT_OK;
}
