/*
 * petrel create: arguments → VM spec JSON. The run flags are parsed by
 * cli_run_parse (one parser, one set of messages for both verbs); create's
 * own options are taken out of argv first.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_spec.h"

char *cli_spec_abs_path(const char *base, const char *path)
{
	char *out;

	if (path[0] == '/' || !base || !*base)
		return strdup(path);
	if (asprintf(&out, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return out;
}

/* Set key to an absolute path string in obj; -ENOMEM on failure. */
static int set_abs(json_t *obj, const char *key, const char *base, const char *path)
{
	char *abs = cli_spec_abs_path(base, path);
	int r;

	if (!abs)
		return -ENOMEM;
	r = json_object_set_new(obj, key, json_string(abs));
	free(abs);
	return r ? -ENOMEM : 0;
}

int cli_spec_net(const char *s, json_t **out, char *err, size_t err_len)
{
	char *copy = strdup(s), *save = NULL, *tok;
	json_t *net = json_object(), *fwd = json_array();
	int rc = 0;
	bool tap;

	*out = NULL;
	if (!copy || !net || !fwd) {
		rc = -ENOMEM;
		goto out;
	}
	tok = strtok_r(copy, ",", &save);
	tap = tok && !strcmp(tok, "tap");
	if (!tok || (!tap && strcmp(tok, "user"))) {
		snprintf(err, err_len, "--net %s: expected user[,hostfwd=...] or tap,ifname=NAME",
			 s);
		rc = -EINVAL;
		goto out;
	}
	json_object_set_new(net, "type", json_string(tok));
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!tap && !strncmp(tok, "hostfwd=", 8) && tok[8]) {
			json_array_append_new(fwd, json_string(tok + 8));
		} else if (tap && !strncmp(tok, "ifname=", 7) && tok[7] &&
			   !json_object_get(net, "ifname")) {
			json_object_set_new(net, "ifname", json_string(tok + 7));
		} else {
			snprintf(err, err_len, "--net %s: unknown or repeated option '%s'", s, tok);
			rc = -EINVAL;
			goto out;
		}
	}
	if (tap && !json_object_get(net, "ifname")) {
		snprintf(err, err_len, "--net %s: tap needs ifname=NAME", s);
		rc = -EINVAL;
		goto out;
	}
	if (json_array_size(fwd))
		json_object_set(net, "hostfwd", fwd);
	*out = net;
	net = NULL;
out:
	json_decref(fwd);
	json_decref(net);
	free(copy);
	return rc;
}

/* The value of --opt VALUE or --opt=VALUE at argv[*i]; NULL when argv[*i] is not opt. */
static const char *take_opt(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_uint(const char *opt, const char *s, unsigned long lo, unsigned long hi,
		      unsigned long *v, char *err, size_t err_len)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *v < lo || *v > hi) {
		snprintf(err, err_len, "%s %s: must be %lu to %lu", opt, s, lo, hi);
		return -EINVAL;
	}
	return 0;
}

/* The spec from run flags already parsed into cfg; paths against cwd. */
static int spec_from_config(const struct vm_config *cfg, const char *cwd, json_t *spec, char *err,
			    size_t err_len)
{
	json_t *arr;

	if (set_abs(spec, "kernel", cwd, cfg->kernel))
		return -ENOMEM;
	if (cfg->initrd && set_abs(spec, "initrd", cwd, cfg->initrd))
		return -ENOMEM;
	if (cfg->cmdline)
		json_object_set_new(spec, "cmdline", json_string(cfg->cmdline));
	json_object_set_new(spec, "kernel_format", json_string(config_format_name(cfg->format)));
	json_object_set_new(spec, "accel", json_string(cfg->accel ? cfg->accel : "auto"));
	json_object_set_new(spec, "cpus", json_integer(cfg->cpus));
	json_object_set_new(spec, "mem_mib", json_integer((json_int_t)cfg->mem_mib));
	if (cfg->nr_disks) {
		arr = json_array();
		for (unsigned i = 0; arr && i < cfg->nr_disks; i++) {
			json_t *d = json_object();

			if (!d || set_abs(d, "path", cwd, cfg->disks[i].path)) {
				json_decref(d);
				json_decref(arr);
				return -ENOMEM;
			}
			json_object_set_new(d, "read_only", json_boolean(cfg->disks[i].readonly));
			json_array_append_new(arr, d);
		}
		json_object_set_new(spec, "disks", arr);
	}
	if (cfg->nr_nets) {
		arr = json_array();
		for (unsigned i = 0; arr && i < cfg->nr_nets; i++) {
			json_t *n;
			int rc = cli_spec_net(cfg->nets[i], &n, err, err_len);

			if (rc) {
				json_decref(arr);
				return rc;
			}
			json_array_append_new(arr, n);
		}
		json_object_set_new(spec, "nets", arr);
	}
	json_object_set_new(spec, "rng", json_boolean(cfg->rng));
	json_object_set_new(spec, "balloon", json_boolean(cfg->balloon));
	json_object_set_new(spec, "console",
			    json_string(cfg->virtio_console ? "virtio" : "serial"));
	return 0;
}

/* A config file: one JSON object; relative paths against the file's directory. */
static int spec_from_file(const char *file, json_t **out, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *spec, *v, *disks;
	char *dir = NULL, *slash;
	size_t i;
	int rc = 0;

	spec = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (!spec) {
		if (jerr.line < 0)
			snprintf(err, err_len, "%s: %s", file, jerr.text);
		else
			snprintf(err, err_len, "%s:%d:%d: %s", file, jerr.line, jerr.column,
				 jerr.text);
		return -EIO;
	}
	if (!json_is_object(spec)) {
		snprintf(err, err_len, "%s: a VM spec is one JSON object", file);
		rc = -EIO;
		goto out;
	}
	dir = strdup(file);
	if (!dir) {
		rc = -ENOMEM;
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		strcpy(dir, ".");
	if (dir[0] != '/') {
		char cwd[PATH_MAX], *abs;

		if (!getcwd(cwd, sizeof(cwd))) {
			snprintf(err, err_len, "getcwd: %s", strerror(errno));
			rc = -EIO;
			goto out;
		}
		abs = cli_spec_abs_path(cwd, strcmp(dir, ".") ? dir : "");
		free(dir);
		dir = abs;
		if (!dir) {
			rc = -ENOMEM;
			goto out;
		}
		/* "cwd/" from the "." case: drop the trailing slash. */
		if (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
			dir[strlen(dir) - 1] = '\0';
	}
	/* Only strings are rewritten; wrong types are the daemon's to report. */
	if (json_is_string(v = json_object_get(spec, "kernel")) &&
	    set_abs(spec, "kernel", dir, json_string_value(v)))
		rc = -ENOMEM;
	if (json_is_string(v = json_object_get(spec, "initrd")) &&
	    set_abs(spec, "initrd", dir, json_string_value(v)))
		rc = -ENOMEM;
	disks = json_object_get(spec, "disks");
	json_array_foreach(disks, i, v)
	{
		json_t *p = json_object_get(v, "path");

		if (json_is_string(p) && set_abs(v, "path", dir, json_string_value(p)))
			rc = -ENOMEM;
	}
out:
	free(dir);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, err_len, "out of memory");
		json_decref(spec);
		return rc;
	}
	*out = spec;
	return 0;
}

int cli_create_parse(int argc, char **argv, struct create_opts *opts, json_t **spec, char *err,
		     size_t err_len)
{
	const char *name = NULL, *cpu_max = NULL, *mem_max = NULL;
	bool no_start = false, missing = false;
	char **rest = NULL, cwd[PATH_MAX];
	struct vm_config cfg;
	json_t *s = NULL;
	int nrest = 0, rc = 0;

	memset(opts, 0, sizeof(*opts));
	*spec = NULL;
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return -ENOMEM;
	rest[nrest++] = "create";
	for (int i = 1; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			opts->help = true;
			goto out;
		} else if (!strcmp(argv[i], "--json")) {
			opts->json = true;
		} else if (!strcmp(argv[i], "--no-start")) {
			no_start = true;
		} else if ((v = take_opt(argc, argv, &i, "--socket", &missing))) {
			opts->socket = v;
		} else if ((v = take_opt(argc, argv, &i, "--name", &missing))) {
			name = v;
		} else if ((v = take_opt(argc, argv, &i, "--cpu-max-percent", &missing))) {
			cpu_max = v;
		} else if ((v = take_opt(argc, argv, &i, "--memory-max", &missing))) {
			mem_max = v;
		} else if (!strncmp(argv[i], "--serial", 8) ||
			   !strncmp(argv[i], "--api-sock", 10) ||
			   !strncmp(argv[i], "--load-addr", 11)) {
			snprintf(err, err_len,
				 "%s: not for create (petreld gives each VM its console and API "
				 "sockets; flat kernels load at the default address)",
				 argv[i]);
			rc = -EINVAL;
			goto out;
		} else {
			rest[nrest++] = argv[i];
		}
		if (missing) {
			snprintf(err, err_len, "%s: missing value", argv[i]);
			rc = -EINVAL;
			goto out;
		}
	}

	if (nrest == 2 && rest[1][0] != '-') {
		opts->file = rest[1];
		rc = spec_from_file(opts->file, &s, err, err_len);
		if (rc)
			goto out;
	} else {
		rc = cli_run_parse(nrest, rest, &cfg, err, err_len);
		if (rc) {
			rc = -EINVAL;
			goto out;
		}
		if (!cfg.kernel) {
			snprintf(err, err_len, "--kernel is required (or give a config file)");
			rc = -EINVAL;
			goto out;
		}
		if (!getcwd(cwd, sizeof(cwd))) {
			snprintf(err, err_len, "getcwd: %s", strerror(errno));
			rc = -EIO;
			goto out;
		}
		s = json_object();
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		rc = spec_from_config(&cfg, cwd, s, err, err_len);
		if (rc)
			goto out;
	}
	if (name)
		json_object_set_new(s, "name", json_string(name));
	if (no_start)
		json_object_set_new(s, "autostart", json_false());
	if (cpu_max || mem_max) {
		json_t *cg = json_object_get(s, "cgroup");
		unsigned long v;

		if (!json_is_object(cg)) {
			cg = json_object();
			json_object_set_new(s, "cgroup", cg);
		}
		if (cpu_max) {
			rc = parse_uint("--cpu-max-percent", cpu_max, 1, 100UL * VM_CONFIG_MAX_CPUS,
					&v, err, err_len);
			if (rc)
				goto out;
			json_object_set_new(cg, "cpu_max_percent", json_integer((json_int_t)v));
		}
		if (mem_max) {
			rc = parse_uint("--memory-max", mem_max, 1, 1UL << 20, &v, err, err_len);
			if (rc)
				goto out;
			json_object_set_new(cg, "memory_max_mib", json_integer((json_int_t)v));
		}
	}
	*spec = s;
	s = NULL;
out:
	if (rc == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	json_decref(s);
	free(rest);
	return rc;
}
