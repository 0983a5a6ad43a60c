/*
 * `petrel create`: the VM spec (docs/toolstack contract, docs/config.md)
 * from a config file or from the same flags as `petrel run`. No daemon and
 * no libcurl here, so the unit tests (tests/unit/test_cli_spec.c) cover it.
 */
#ifndef PETREL_CLI_SPEC_H
#define PETREL_CLI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct create_opts {
	const char *socket; /* --socket */
	const char *file;   /* the config file, when given */
	bool json;	    /* --json: print the daemon's summary */
	bool help;
};

/*
 * Parse `petrel create` arguments (argv[0] is "create") into opts and a new
 * spec (*spec, owned by the caller). Paths become absolute: relative ones in
 * flags against the current directory, in a config file against the file's
 * directory. Returns 0 (also for --help, with opts->help set and no spec),
 * -EINVAL for bad usage or -EIO for an unreadable/invalid config file, with
 * a message in err.
 */
int cli_create_parse(int argc, char **argv, struct create_opts *opts, json_t **spec, char *err,
		     size_t err_len);

/* base/path unless path is absolute (or base is NULL/empty); malloc'd, NULL on ENOMEM. */
char *cli_spec_abs_path(const char *base, const char *path);

/* "user,hostfwd=tcp::2222-:22,..." or "tap,ifname=tap0" (a --net value) as a spec object. */
int cli_spec_net(const char *s, json_t **out, char *err, size_t err_len);

#endif
