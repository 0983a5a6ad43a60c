/*
 * The toolstack verbs that manage VMs through petreld: create, list, pause,
 * resume, shutdown, reboot, destroy, logs, mem-set. Each is one or a few
 * requests of the REST API (docs/petreld.md); console, top and info live
 * in their own files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_format.h"
#include "cli/cli_spec.h"
#include "cli/cli_verbs.h"

int verb_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "petrel %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'petrel %s --help'.\n", verb);
	return CLI_EXIT_USAGE;
}

long long verb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int verb_vm_path(const char *verb, const char *vm, const char *suffix, char *out, size_t len)
{
	char esc[256];
	int n;

	if (cli_escape_segment(vm, esc, sizeof(esc)) ||
	    (n = snprintf(out, len, "/vms/%s%s", esc, suffix)) < 0 || (size_t)n >= len) {
		fprintf(stderr, "petrel %s: VM name too long\n", verb);
		return -ENAMETOOLONG;
	}
	return 0;
}

int verb_call(struct pc_client *c, const char *verb, const char *vm, const char *method,
	      const char *path, const json_t *body, long want, struct pc_reply *r)
{
	char buf[256];

	if (pc_request(c, method, path, body, r))
		return CLI_EXIT_FAILURE;
	if (want ? r->status == want : (r->status >= 200 && r->status < 300))
		return CLI_EXIT_OK;
	fprintf(stderr, "petrel %s%s%s: %s\n", verb, vm ? " " : "", vm ? vm : "",
		pc_fault(r, buf, sizeof(buf)));
	pc_reply_free(r);
	return CLI_EXIT_FAILURE;
}

int verb_get_vm(struct pc_client *c, const char *verb, const char *vm, json_t **summary)
{
	struct pc_reply r;
	char path[512];
	int rc;

	*summary = NULL;
	if (verb_vm_path(verb, vm, "", path, sizeof(path)))
		return CLI_EXIT_FAILURE;
	rc = verb_call(c, verb, vm, "GET", path, NULL, 200, &r);
	if (rc)
		return rc;
	if (!json_is_object(r.json)) {
		fprintf(stderr, "petrel %s %s: petreld sent no VM summary\n", verb, vm);
		pc_reply_free(&r);
		return CLI_EXIT_FAILURE;
	}
	*summary = json_incref(r.json);
	pc_reply_free(&r);
	return CLI_EXIT_OK;
}

/*
 * The common shape: petrel VERB [--socket PATH] [extra options] VM [ARG].
 * Extra options are handled by the caller's callback; returns 0 to go on,
 * 1 after --help, or CLI_EXIT_USAGE (message printed).
 */
enum { OPT_SOCKET = 0x200, OPT_JSON, OPT_TIMEOUT, OPT_FORCE, OPT_TAIL };

struct verb_spec {
	const char *name;
	const char *usage; /* after "petrel NAME " */
	const char *help;  /* option lines */
	int min_pos, max_pos;
	const struct option *extra; /* terminated by a zero entry, may be NULL */
	int (*opt)(int c, const char *arg, void *ctx);
	void *ctx;
};

struct verb_args {
	const char *socket;
	const char *pos[2];
	int npos;
};

static int verb_parse(const struct verb_spec *v, int argc, char **argv, struct verb_args *a)
{
	struct option opts[8] = {
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"help", no_argument, NULL, 'h'},
	};
	int n = 2, c;

	memset(a, 0, sizeof(*a));
	for (const struct option *o = v->extra; o && o->name && n < 7; o++)
		opts[n++] = *o;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			a->socket = optarg;
			break;
		case 'h':
			printf("Usage: petrel %s %s\n%s"
			       "  --socket PATH   petreld's socket (default $PETREL_SOCKET, else\n"
			       "                  /run/petrel/petreld.sock as root, else\n"
			       "                  $XDG_RUNTIME_DIR/petrel/petreld.sock)\n"
			       "  -h, --help      this help\n",
			       v->name, v->usage, v->help);
			return 1;
		case ':':
			return verb_usage_error(v->name, "%s: missing value", argv[optind - 1]);
		case '?':
			if (optopt)
				return verb_usage_error(v->name, "unknown option '-%c'", optopt);
			return verb_usage_error(v->name, "unknown option '%s'", argv[optind - 1]);
		default:
			if (!v->opt || v->opt(c, optarg, v->ctx))
				return CLI_EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos >= v->max_pos)
			return verb_usage_error(v->name, "unexpected argument '%s'", argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	if (a->npos < v->min_pos)
		return verb_usage_error(v->name, "missing %s",
					a->npos ? "argument" : "VM name or id");
	return 0;
}

/* ---- create ---- */

void cli_create_usage(FILE *f)
{
	fprintf(f,
		"Usage: petrel create [OPTIONS] FILE\n"
		"       petrel create [OPTIONS] --kernel PATH [RUN OPTIONS]\n"
		"Create a VM in petreld from a config file (a VM spec in JSON, see\n"
		"docs/config.md) or from the options of 'petrel run' (see 'petrel run --help';\n"
		"not --serial, --api-sock or --load-addr). Relative paths are made absolute\n"
		"(against the config file's directory, or the current one for options).\n"
		"Prints the new VM's name and id.\n\n"
		"  --name NAME              the VM's name (default vm<ID>; overrides the file's)\n"
		"  --no-start               create it stopped (state created; 'petrel start'\n"
		"                           starts it)\n"
		"  --cpu-max-percent P      cgroup v2 CPU cap, percent of one host CPU\n"
		"  --memory-max MiB         cgroup v2 memory cap of the VM process\n"
		"  --json                   print the daemon's VM summary as JSON\n"
		"  --socket PATH            petreld's socket\n"
		"  -h, --help               this help\n");
}

int cli_create(int argc, char **argv)
{
	struct create_opts o;
	struct pc_client c;
	struct pc_reply r;
	json_t *spec;
	char err[512] = "";
	int rc;

	rc = cli_create_parse(argc, argv, &o, &spec, err, sizeof(err));
	if (rc == -EINVAL)
		return verb_usage_error("create", "%s", err);
	if (rc) {
		fprintf(stderr, "petrel create: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	if (o.help) {
		cli_create_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (pc_init(&c, o.socket)) {
		json_decref(spec);
		return CLI_EXIT_FAILURE;
	}
	rc = verb_call(&c, "create", NULL, "POST", "/vms", spec, 0, &r);
	json_decref(spec);
	if (rc == CLI_EXIT_OK) {
		if (o.json) {
			json_dumpf(r.json, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			printf("%s %lld\n",
			       json_string_value(json_object_get(r.json, "name")) ?: "?",
			       (long long)json_integer_value(json_object_get(r.json, "id")));
		}
		pc_reply_free(&r);
	}
	pc_fini(&c);
	return rc;
}

/* ---- list ---- */

static int list_opt(int c, const char *arg, void *ctx)
{
	*(int *)ctx = 1;
	return 0;
}

int cli_list(int argc, char **argv)
{
	static const struct option extra[] = {{"json", no_argument, NULL, OPT_JSON}, {0}};
	int json = 0;
	const struct verb_spec v = {
	    "list",
	    "[--json]",
	    "List the VMs petreld manages: Name, ID, Mem (MiB), VCPUs, State and\n"
	    "Time(s), the CPU time the VM process used (like xl list).\n\n"
	    "  --json          the daemon's VM summaries as JSON\n",
	    0,
	    0,
	    extra,
	    list_opt,
	    &json};
	struct verb_args a;
	struct pc_client c;
	struct pc_reply r;
	size_t i;
	json_t *vm;
	int rc;

	rc = verb_parse(&v, argc, argv, &a);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	if (pc_init(&c, a.socket))
		return CLI_EXIT_FAILURE;
	rc = verb_call(&c, "list", NULL, "GET", "/vms", NULL, 200, &r);
	if (rc)
		goto out;
	if (!json_is_array(r.json)) {
		fprintf(stderr, "petrel list: petreld sent no VM array\n");
		rc = CLI_EXIT_FAILURE;
		goto out_reply;
	}
	if (json) {
		json_dumpf(r.json, stdout, JSON_INDENT(2));
		putchar('\n');
		goto out_reply;
	}
	/* CPU time of the VMs that have a process. */
	json_array_foreach(r.json, i, vm)
	{
		const char *state = json_string_value(json_object_get(vm, "state"));
		const char *name = json_string_value(json_object_get(vm, "name"));
		struct pc_reply m;
		char path[512];
		json_t *ct;

		if (!name || !state ||
		    (strcmp(state, "running") && strcmp(state, "paused") &&
		     strcmp(state, "created")))
			continue;
		if (verb_vm_path("list", name, "/metrics", path, sizeof(path)) ||
		    pc_request(&c, "GET", path, NULL, &m))
			continue;
		ct = json_object_get(m.json, "cpu_time_ms");
		if (m.status == 200 && json_is_number(ct))
			json_object_set(vm, "cpu_time_ms", ct);
		pc_reply_free(&m);
	}
	cli_format_list(stdout, r.json);
out_reply:
	pc_reply_free(&r);
out:
	pc_fini(&c);
	return rc;
}

/* ---- pause, resume, reboot, destroy ---- */

static int simple_verb(int argc, char **argv, const char *name, const char *help,
		       const char *method, const char *suffix, const char *body_json,
		       const char *done)
{
	const struct verb_spec v = {name, "VM", help, 1, 1, NULL, NULL, NULL};
	struct verb_args a;
	struct pc_client c;
	struct pc_reply r;
	json_t *body = NULL;
	char path[512];
	int rc;

	rc = verb_parse(&v, argc, argv, &a);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	if (pc_init(&c, a.socket))
		return CLI_EXIT_FAILURE;
	if (verb_vm_path(name, a.pos[0], suffix, path, sizeof(path))) {
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	if (body_json)
		body = json_loads(body_json, 0, NULL);
	rc = verb_call(&c, name, a.pos[0], method, path, body, 0, &r);
	if (rc == CLI_EXIT_OK) {
		printf("%s: %s\n", a.pos[0], done);
		pc_reply_free(&r);
	}
	json_decref(body);
out:
	pc_fini(&c);
	return rc;
}

int cli_start(int argc, char **argv)
{
	return simple_verb(argc, argv, "start",
			   "Start a VM created with --no-start (state created).\n\n", "PUT",
			   "/actions", "{\"action_type\": \"InstanceStart\"}", "started");
}

int cli_pause(int argc, char **argv)
{
	return simple_verb(argc, argv, "pause",
			   "Pause a VM's vCPUs (its memory and devices stay).\n\n", "PATCH", "/vm",
			   "{\"state\": \"Paused\"}", "paused");
}

int cli_resume(int argc, char **argv)
{
	return simple_verb(argc, argv, "resume", "Resume a paused VM.\n\n", "PATCH", "/vm",
			   "{\"state\": \"Resumed\"}", "resumed");
}

int cli_reboot(int argc, char **argv)
{
	return simple_verb(argc, argv, "reboot",
			   "Reset the guest (like a reset button; the VM process stays).\n\n",
			   "PUT", "/actions", "{\"action_type\": \"Reboot\"}", "reboot requested");
}

int cli_destroy(int argc, char **argv)
{
	return simple_verb(
	    argc, argv, "destroy",
	    "Kill the VM's process at once (SIGKILL, no guest shutdown) and forget the VM.\n\n",
	    "DELETE", "", NULL, "destroyed");
}

/* ---- shutdown ---- */

struct shutdown_opts {
	long timeout_s;
	bool force;
};

static int shutdown_opt(int c, const char *arg, void *ctx)
{
	struct shutdown_opts *o = ctx;
	char *end;

	if (c == OPT_FORCE) {
		o->force = true;
		return 0;
	}
	errno = 0;
	o->timeout_s = strtol(arg, &end, 10);
	if (!*arg || *end || errno || o->timeout_s < 0 || o->timeout_s > 86400) {
		verb_usage_error("shutdown", "--timeout %s: must be 0 to 86400 seconds", arg);
		return -1;
	}
	return 0;
}

static bool state_is_down(const char *s)
{
	return s && (!strcmp(s, "shutoff") || !strcmp(s, "crashed"));
}

int cli_shutdown(int argc, char **argv)
{
	static const struct option extra[] = {
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {0},
	};
	struct shutdown_opts o = {60, false};
	const struct verb_spec v = {
	    "shutdown",
	    "[--timeout S] [--force] VM",
	    "Press the VM's ACPI power button and wait until the guest has powered off\n"
	    "(state shutoff). Exit status 0 when it did, 1 when it is still running\n"
	    "after the timeout (or crashed).\n\n"
	    "  --timeout S     seconds to wait (default 60)\n"
	    "  --force         destroy the VM when the timeout passes\n",
	    1,
	    1,
	    extra,
	    shutdown_opt,
	    &o};
	static const char body_text[] = "{\"action_type\": \"Shutdown\"}";
	struct verb_args a;
	struct pc_client c;
	struct pc_reply r;
	json_t *vm = NULL, *body = NULL;
	const char *state;
	char path[512];
	long long deadline;
	int rc;

	rc = verb_parse(&v, argc, argv, &a);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	if (pc_init(&c, a.socket))
		return CLI_EXIT_FAILURE;
	rc = verb_get_vm(&c, "shutdown", a.pos[0], &vm);
	if (rc)
		goto out;
	state = json_string_value(json_object_get(vm, "state"));
	if (state_is_down(state)) {
		printf("%s: already %s\n", a.pos[0], state);
		goto out;
	}
	if (verb_vm_path("shutdown", a.pos[0], "/actions", path, sizeof(path))) {
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	body = json_loads(body_text, 0, NULL);
	rc = verb_call(&c, "shutdown", a.pos[0], "PUT", path, body, 0, &r);
	if (rc)
		goto out;
	pc_reply_free(&r);
	deadline = verb_now_ms() + o.timeout_s * 1000;
	for (;;) {
		json_decref(vm);
		vm = NULL;
		rc = verb_get_vm(&c, "shutdown", a.pos[0], &vm);
		if (rc)
			goto out;
		state = json_string_value(json_object_get(vm, "state"));
		if (state_is_down(state))
			break;
		if (verb_now_ms() >= deadline)
			break;
		usleep(100 * 1000);
	}
	if (state && !strcmp(state, "shutoff")) {
		printf("%s: shut off\n", a.pos[0]);
	} else if (state && !strcmp(state, "crashed")) {
		const char *why =
		    json_string_value(json_object_get(json_object_get(vm, "exit"), "reason"));

		fprintf(stderr, "petrel shutdown %s: the VM crashed%s%s\n", a.pos[0],
			why ? ": " : "", why ? why : "");
		rc = CLI_EXIT_FAILURE;
	} else if (o.force) {
		if (verb_vm_path("shutdown", a.pos[0], "", path, sizeof(path))) {
			rc = CLI_EXIT_FAILURE;
			goto out;
		}
		rc = verb_call(&c, "shutdown", a.pos[0], "DELETE", path, NULL, 0, &r);
		if (rc)
			goto out;
		pc_reply_free(&r);
		printf("%s: no power-off after %ld s; destroyed (--force)\n", a.pos[0],
		       o.timeout_s);
	} else {
		fprintf(stderr,
			"petrel shutdown %s: still %s after %ld s (the guest ignored the power "
			"button; --force destroys it)\n",
			a.pos[0], state ? state : "running", o.timeout_s);
		rc = CLI_EXIT_FAILURE;
	}
out:
	json_decref(body);
	json_decref(vm);
	pc_fini(&c);
	return rc;
}

/* ---- logs ---- */

static int logs_opt(int c, const char *arg, void *ctx)
{
	long *tail = ctx;
	char *end;

	errno = 0;
	*tail = strtol(arg, &end, 10);
	if (!*arg || *end || errno || *tail < 0) {
		verb_usage_error("logs", "--tail %s: expected a number of bytes", arg);
		return -1;
	}
	return 0;
}

int cli_logs(int argc, char **argv)
{
	static const struct option extra[] = {{"tail", required_argument, NULL, OPT_TAIL}, {0}};
	long tail = -1;
	const struct verb_spec v = {
	    "logs",
	    "[--tail N] VM",
	    "Print the VM's log: its process's messages and petreld's structured lines.\n\n"
	    "  --tail N        only the last N bytes\n",
	    1,
	    1,
	    extra,
	    logs_opt,
	    &tail};
	struct verb_args a;
	struct pc_client c;
	struct pc_reply r;
	char path[512], suffix[48];
	int rc;

	rc = verb_parse(&v, argc, argv, &a);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	if (pc_init(&c, a.socket))
		return CLI_EXIT_FAILURE;
	if (tail >= 0)
		snprintf(suffix, sizeof(suffix), "/logs?tail=%ld", tail);
	else
		snprintf(suffix, sizeof(suffix), "/logs");
	if (verb_vm_path("logs", a.pos[0], suffix, path, sizeof(path))) {
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	rc = verb_call(&c, "logs", a.pos[0], "GET", path, NULL, 200, &r);
	if (rc == CLI_EXIT_OK) {
		fwrite(r.body, 1, r.len, stdout);
		pc_reply_free(&r);
	}
out:
	pc_fini(&c);
	return rc;
}

/* ---- mem-set ---- */

int cli_mem_set(int argc, char **argv)
{
	const struct verb_spec v = {
	    "mem-set",
	    "VM MiB",
	    "Set the guest's memory target to MiB through its virtio-balloon (like xl\n"
	    "mem-set): the balloon is inflated to the VM's memory minus MiB. The VM must\n"
	    "have been created with a balloon (--balloon, \"balloon\": true).\n\n",
	    2,
	    2,
	    NULL,
	    NULL,
	    NULL};
	struct verb_args a;
	struct pc_client c;
	struct pc_reply r;
	json_t *vm = NULL, *body = NULL, *spec;
	long long mem, target;
	char path[512], *end;
	int rc;

	rc = verb_parse(&v, argc, argv, &a);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	errno = 0;
	target = strtoll(a.pos[1], &end, 10);
	if (!*a.pos[1] || *end || errno || target < 0)
		return verb_usage_error("mem-set", "%s: expected the memory target in MiB",
					a.pos[1]);
	if (pc_init(&c, a.socket))
		return CLI_EXIT_FAILURE;
	rc = verb_get_vm(&c, "mem-set", a.pos[0], &vm);
	if (rc)
		goto out;
	spec = json_object_get(vm, "spec");
	if (!json_is_true(json_object_get(spec, "balloon"))) {
		fprintf(stderr,
			"petrel mem-set %s: the VM has no balloon device (create it with "
			"--balloon or \"balloon\": true)\n",
			a.pos[0]);
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	mem = json_integer_value(json_object_get(vm, "mem_mib"));
	if (target > mem) {
		fprintf(stderr, "petrel mem-set %s: %lld MiB is more than the VM's %lld MiB\n",
			a.pos[0], target, mem);
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	if (verb_vm_path("mem-set", a.pos[0], "/balloon", path, sizeof(path))) {
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	body = json_pack("{sI}", "amount_mib", (json_int_t)(mem - target));
	rc = verb_call(&c, "mem-set", a.pos[0], "PATCH", path, body, 0, &r);
	if (rc == CLI_EXIT_OK) {
		printf("%s: memory target %lld MiB (balloon %lld MiB)\n", a.pos[0], target,
		       mem - target);
		pc_reply_free(&r);
	}
out:
	json_decref(body);
	json_decref(vm);
	pc_fini(&c);
	return rc;
}
