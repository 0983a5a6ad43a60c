/* Helpers shared by the toolstack verbs (cli_vm.c, cli_console.c, cli_top.c, cli_info.c). */
#ifndef PETREL_CLI_VERBS_H
#define PETREL_CLI_VERBS_H

#include <getopt.h>

#include "cli/client.h"

/* "/vms/<vm, escaped><suffix>"; 0 or -ENAMETOOLONG (message printed). */
int verb_vm_path(const char *verb, const char *vm, const char *suffix, char *out, size_t len);

/*
 * One request whose answer must have status want (or any 2xx when want is
 * 0). Returns CLI_EXIT_OK with *r filled (free it), else prints the
 * daemon's fault_message ("petrel VERB VM: message") or the reach error and
 * returns CLI_EXIT_FAILURE with *r freed.
 */
int verb_call(struct pc_client *c, const char *verb, const char *vm, const char *method,
	      const char *path, const json_t *body, long want, struct pc_reply *r);

/* GET /vms/{vm} into *summary (a new reference). Exit status as verb_call. */
int verb_get_vm(struct pc_client *c, const char *verb, const char *vm, json_t **summary);

/* "petrel VERB: msg\nTry 'petrel VERB --help'.\n"; returns CLI_EXIT_USAGE. */
int verb_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic milliseconds. */
long long verb_now_ms(void);

#endif
