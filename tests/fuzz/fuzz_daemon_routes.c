/*
 * libFuzzer target for petreld's route dispatch (src/daemon/routes.c) with
 * its real registry, state rules and spec parser, on a registry of two fake
 * VMs (one running, one crashed) rebuilt for every input. Process and
 * network work is stubbed: spawning fails, forwarding gets no answer, so
 * every path through validation, lookup, state checks and error handling
 * runs without touching the host.
 *
 * Input: one byte picking the method, the path up to the first newline, the
 * rest as the body.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stubs for what would fork, signal, connect or read /proc. */
int vm_spawn(struct daemon *d, struct vm_entry *e, char *err, size_t err_len)
{
	snprintf(err, err_len, "spawning is stubbed out");
	return -EIO;
}
void vm_kill(struct daemon *d, struct vm_entry *e)
{
}
int forward(const char *sock, const char *method, const char *path, const char *body,
	    struct fwd_reply *r, long timeout_ms)
{
	memset(r, 0, sizeof(*r));
	r->body = calloc(1, 1);
	return -1;
}
void fwd_reply_free(struct fwd_reply *r)
{
	free(r->body);
	r->body = NULL;
}
bool vm_api_alive(const char *sock, char *fc_state, size_t len)
{
	return false;
}
json_t *vm_metrics(struct daemon *d, struct vm_entry *e)
{
	return json_object();
}
char *prometheus_text(struct daemon *d, size_t *len)
{
	*len = 0;
	return strdup("");
}
void cgroup_place(struct daemon *d, struct vm_entry *e)
{
}
void cgroup_remove(struct vm_entry *e)
{
}

static void add_vm(struct daemon *d, unsigned id, const char *name, enum vm_state st)
{
	struct vm_entry *e = calloc(1, sizeof(*e));

	e->spec = calloc(1, sizeof(*e->spec));
	e->d = d;
	e->id = id;
	e->state = st;
	e->pidfd = -1;
	snprintf(e->spec->name, sizeof(e->spec->name), "%s", name);
	strcpy(e->spec->kernel, "/k");
	e->spec->cpus = 1;
	e->spec->mem_mib = 16;
	snprintf(e->dir, sizeof(e->dir), "/nonexistent-petrel-fuzz/vms/%s", name);
	e->next = d->vms;
	d->vms = e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "PUT", "PATCH", "POST", "DELETE", "HEAD"};
	static struct daemon d;
	char path[512], allow[64];
	const uint8_t *nl;
	size_t plen;
	json_t *out = NULL;

	if (size < 2 || size > API_MAX_BODY + 512)
		return 0;
	daemon_log_quiet = true;
	pthread_mutex_init(&d.lock, NULL);
	strcpy(d.state_dir, "/nonexistent-petrel-fuzz");
	d.next_id = 3;
	add_vm(&d, 1, "run1", VM_RUNNING);
	add_vm(&d, 2, "dead", VM_CRASHED);
	nl = memchr(data + 1, '\n', size - 1);
	plen = nl ? (size_t)(nl - data - 1) : size - 1;
	if (plen < sizeof(path) && !memchr(data + 1, '\0', plen)) {
		memcpy(path, data + 1, plen);
		path[plen] = '\0';
		api_dispatch(daemon_routes, daemon_nr_routes, &d, methods[data[0] % 6], path,
			     nl ? (const char *)nl + 1 : NULL, nl ? size - plen - 2 : 0, &out,
			     allow, sizeof(allow));
		json_decref(out);
	}
	while (d.vms) {
		struct vm_entry *e = d.vms;

		d.vms = e->next;
		free(e->spec);
		free(e);
	}
	pthread_mutex_destroy(&d.lock);
	return 0;
}
