/*
 * petreld's routes (docs/petreld-api.yaml): host routes, VM lifecycle, and
 * forwarding of per-VM Firecracker paths to the VM process's api.sock.
 * Handlers run one at a time on the HTTP server thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accel/accel.h"
#include "daemon/daemon.h"

#define OK	    200
#define CREATED	    201
#define NO_CONTENT  204
#define BAD_REQUEST 400
#define NOT_FOUND   404
#define CONFLICT    409
#define BAD_GATEWAY 502

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		*out = api_fault(__VA_ARGS__);                                                     \
		return code;                                                                       \
	} while (0)

/* Forwarded requests: how long a VM process may take to answer. */
#define FWD_TIMEOUT_MS 10000

#define live vm_state_live

static enum vm_state state_of(struct daemon *d, struct vm_entry *e)
{
	enum vm_state s;

	pthread_mutex_lock(&d->lock);
	s = e->state;
	pthread_mutex_unlock(&d->lock);
	return s;
}

static void set_state(struct daemon *d, struct vm_entry *e, enum vm_state s)
{
	pthread_mutex_lock(&d->lock);
	if (live(e->state))
		e->state = s;
	pthread_mutex_unlock(&d->lock);
}

static struct vm_entry *find(struct daemon *d, const struct api_request *req, json_t **out)
{
	struct vm_entry *e = registry_find(d, req->params[0]);

	if (!e)
		*out = api_fault("no VM named or numbered '%s'", req->params[0]);
	return e;
}

static unsigned get_host(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	const struct accel_ops *ops = NULL;
	char why[256] = "", why_auto[256];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool kvm = accel_kvm_ops.probe(why, sizeof(why)) == 0;

	if (accel_select("auto", &ops, why_auto, sizeof(why_auto)))
		ops = &accel_emu_ops;
	*out =
	    json_pack("{s:s,s:i,s:I,s:{s:{s:b,s:s},s:{s:b}},s:s,s:i,s:s,s:s}", "version", "0.1.0",
		      "cpus", (int)cpus, "mem_mib", (json_int_t)(config_host_mem_bytes() >> 20),
		      "engines", "kvm", "usable", kvm, "why", kvm ? "" : why, "emu", "usable", 1,
		      "auto", ops == &accel_kvm_ops ? "kvm" : "emu", "vms", (int)registry_count(d),
		      "state_dir", d->state_dir, "cgroup", d->cgroup_root);
	return OK;
}

static unsigned list_vms(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	unsigned n;
	struct vm_snap *v = registry_snapshot(d, &n);
	json_t *arr = json_array();

	if (!v || !arr) {
		free(v);
		json_decref(arr);
		FAIL(500, "out of memory");
	}
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(arr, registry_summary(d, v[i].e, false));
	free(v);
	*out = arr;
	return OK;
}

/* The last bytes of a file (the VM's log), as a string for error messages. */
static void tail_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end > (off_t)(len - 1))
		lseek(fd, end - (off_t)(len - 1), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Whether a VM has this name (d->lock held). */
static bool name_taken(struct daemon *d, const char *name)
{
	for (struct vm_entry *o = d->vms; o; o = o->next)
		if (!strcmp(o->spec->name, name))
			return true;
	return false;
}

static unsigned create_vm(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e;
	char err[1024], logtail[600], path[VM_PATH_MAX + 16];
	int rc;

	if (!req->body)
		FAIL(BAD_REQUEST, "a request body (a VM spec) is required");
	e = calloc(1, sizeof(*e));
	if (!e || !(e->spec = calloc(1, sizeof(*e->spec)))) {
		free(e);
		FAIL(500, "out of memory");
	}
	if (vm_spec_parse(req->body, e->spec, true, config_host_mem_bytes() >> 20, err,
			  sizeof(err))) {
		free(e->spec);
		free(e);
		FAIL(BAD_REQUEST, "%s", err);
	}
	pthread_mutex_lock(&d->lock);
	e->id = d->next_id;
	if (!e->spec->name[0]) {
		/* vm<id>, skipping ids whose default name someone chose for another VM */
		do {
			e->id = d->next_id++;
			snprintf(e->spec->name, sizeof(e->spec->name), "vm%u", e->id);
		} while (name_taken(d, e->spec->name));
		d->next_id--; /* taken again below */
	}
	for (struct vm_entry *o = d->vms; o; o = o->next) {
		if (!strcmp(o->spec->name, e->spec->name)) {
			pthread_mutex_unlock(&d->lock);
			free(e->spec);
			free(e);
			FAIL(CONFLICT, "a VM named '%s' exists", o->spec->name);
		}
	}
	d->next_id++;
	e->d = d;
	e->pidfd = -1;
	e->state = VM_STARTING;
	snprintf(e->dir, sizeof(e->dir), "%s/vms/%s", d->state_dir, e->spec->name);
	e->next = d->vms;
	d->vms = e;
	pthread_mutex_unlock(&d->lock);
	/* A directory left by a VM that was forgotten while its files stayed. */
	registry_remove_dir(e);
	rc = vm_spawn(d, e, err, sizeof(err));
	/* A guest that ran to completion before its API answered is a success. */
	if (rc == -ECHILD && state_of(d, e) == VM_SHUTOFF)
		rc = 0;
	if (rc) {
		snprintf(path, sizeof(path), "%s/log", e->dir);
		tail_file(path, logtail, sizeof(logtail));
		vm_kill(d, e);
		pthread_mutex_lock(&d->lock);
		for (struct vm_entry **pp = &d->vms; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		pthread_mutex_unlock(&d->lock);
		daemon_log("error", "create", "%s: %s", e->spec->name, err);
		registry_remove_dir(e);
		free(e->spec);
		free(e);
		FAIL(BAD_REQUEST, "cannot create the VM: %s; log: %s", err, logtail);
	}
	*out = registry_summary(d, e, false);
	return CREATED;
}

static unsigned get_vm(void *ctx, const struct api_request *req, json_t **out)
{
	struct vm_entry *e = find(ctx, req, out);

	if (!e)
		return NOT_FOUND;
	*out = registry_summary(ctx, e, true);
	return OK;
}

static unsigned delete_vm(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e = find(d, req, out);

	if (!e)
		return NOT_FOUND;
	if (req->body)
		FAIL(BAD_REQUEST, "DELETE takes no request body");
	vm_kill(d, e);
	pthread_mutex_lock(&d->lock);
	for (struct vm_entry **pp = &d->vms; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&d->lock);
	vm_log(e, "info", "destroy", "destroyed and forgotten");
	registry_remove_dir(e);
	free(e->spec);
	free(e);
	return NO_CONTENT;
}

/* Pass a reply from the VM on: JSON as JSON, anything else as text. */
static unsigned relay(struct fwd_reply *r, json_t **out)
{
	unsigned status = (unsigned)r->status;

	if (r->len) {
		json_t *j = json_loadb(r->body, r->len, 0, NULL);

		*out = j ? j : api_text("text/plain", r->body, r->len);
	}
	fwd_reply_free(r);
	return status;
}

/* Forward method + sub-path (+ body) to e's API; 502 when it does not answer. */
static unsigned fwd(struct vm_entry *e, const char *method, const char *sub, const json_t *body,
		    json_t **out, struct fwd_reply *keep)
{
	char sock[VM_PATH_MAX + 16], *text = NULL;
	struct fwd_reply r;
	int rc;

	snprintf(sock, sizeof(sock), "%s/api.sock", e->dir);
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		FAIL(500, "out of memory");
	rc = forward(sock, method, sub, text, &r, FWD_TIMEOUT_MS);
	free(text);
	if (rc || !r.status) {
		fwd_reply_free(&r);
		FAIL(BAD_GATEWAY, "VM '%s' did not answer on %s", e->spec->name, sock);
	}
	if (keep) {
		*keep = r;
		return (unsigned)r.status;
	}
	return relay(&r, out);
}

static const char *sub_path(const struct api_request *req)
{
	return req->path + strlen("/vms/") + strlen(req->params[0]);
}

static unsigned need_live(struct daemon *d, struct vm_entry *e, json_t **out)
{
	enum vm_state s = state_of(d, e);

	if (!live(s))
		FAIL(CONFLICT, "VM '%s' is %s", e->spec->name, vm_state_name(s));
	return 0;
}

static unsigned forward_any(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e = find(d, req, out);
	unsigned rc;

	if (!e)
		return NOT_FOUND;
	if ((rc = need_live(d, e, out)))
		return rc;
	return fwd(e, req->method, sub_path(req), req->body, out, NULL);
}

/*
 * A body that is exactly {"<name>": "<string>"}: the string, or NULL with a
 * fault in *out (no body, unknown fields, wrong type).
 */
static const char *one_string_field(const struct api_request *req, const char *name, json_t **out)
{
	const struct api_field f[] = {{name, API_STRING, true, 0, 0}};
	char err[256];

	if (!req->body) {
		*out = api_fault("a request body is required");
		return NULL;
	}
	if (api_check_fields(req->body, f, 1, err, sizeof(err))) {
		*out = api_fault("%s", err);
		return NULL;
	}
	return json_string_value(json_object_get(req->body, name));
}

static unsigned put_actions(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e = find(d, req, out);
	const char *act;
	char err[256];
	unsigned rc;

	if (!e)
		return NOT_FOUND;
	if (!(act = one_string_field(req, "action_type", out)))
		return BAD_REQUEST;
	if ((rc = vm_check_action(state_of(d, e), act, err, sizeof(err))))
		FAIL(rc, "VM '%s': %s", e->spec->name, err);
	rc = fwd(e, "PUT", "/actions", req->body, out, NULL);
	if (rc == NO_CONTENT && !strcmp(act, "InstanceStart"))
		set_state(d, e, VM_RUNNING);
	if (rc == NO_CONTENT)
		vm_log(e, "info", "action", "%s", act);
	return rc;
}

static unsigned patch_vm(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e = find(d, req, out);
	const char *st;
	char err[256];
	unsigned rc;

	if (!e)
		return NOT_FOUND;
	if (!(st = one_string_field(req, "state", out)))
		return BAD_REQUEST;
	if (strcmp(st, "Paused") && strcmp(st, "Resumed"))
		FAIL(BAD_REQUEST, "field `state`: expected \"Paused\" or \"Resumed\"");
	if ((rc = vm_check_pause(state_of(d, e), !strcmp(st, "Paused"), err, sizeof(err))))
		FAIL(rc, "VM '%s': %s", e->spec->name, err);
	rc = fwd(e, "PATCH", "/vm", req->body, out, NULL);
	if (rc == NO_CONTENT) {
		set_state(d, e, !strcmp(st, "Paused") ? VM_PAUSED : VM_RUNNING);
		vm_log(e, "info", "state", "%s", st);
	}
	return rc;
}

static unsigned get_vm_metrics(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e = find(d, req, out);

	if (!e)
		return NOT_FOUND;
	*out = vm_metrics(d, e);
	return *out ? OK : 500;
}

static unsigned get_logs(void *ctx, const struct api_request *req, json_t **out)
{
	struct daemon *d = ctx;
	struct vm_entry *e = find(d, req, out);
	const char *tail = api_query_arg("tail");
	unsigned long long want = 1ull << 20; /* at most the last MiB */
	char path[VM_PATH_MAX + 16], *buf, *end;
	off_t size;
	ssize_t n;
	int fd;

	if (!e)
		return NOT_FOUND;
	if (tail) {
		errno = 0;
		want = strtoull(tail, &end, 10);
		if (!*tail || *end || errno || tail[0] == '-' || want > (1ull << 20))
			FAIL(BAD_REQUEST, "query `tail`: expected a byte count from 0 to 1048576");
	}
	snprintf(path, sizeof(path), "%s/log", e->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*out = api_text("text/plain", "", 0);
		return OK;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		size = 0;
	if ((unsigned long long)size > want)
		lseek(fd, size - (off_t)want, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET), want = (unsigned long long)size;
	buf = malloc(want + 1);
	n = buf ? read(fd, buf, want) : -1;
	close(fd);
	*out = api_text("text/plain", buf ? buf : "", n > 0 ? (size_t)n : 0);
	free(buf);
	return OK;
}

static unsigned get_prometheus(void *ctx, const struct api_request *req, json_t **out)
{
	size_t len;
	char *text = prometheus_text(ctx, &len);

	if (!text)
		FAIL(500, "out of memory");
	*out = api_text("text/plain; version=0.0.4", text, len);
	free(text);
	return OK;
}

const struct api_route daemon_routes[] = {
    {"GET", "/", get_host},
    {"GET", "/metrics", get_prometheus},
    {"GET", "/vms", list_vms},
    {"POST", "/vms", create_vm},
    {"GET", "/vms/{vm}", get_vm},
    {"DELETE", "/vms/{vm}", delete_vm},
    {"PUT", "/vms/{vm}/actions", put_actions},
    {"PATCH", "/vms/{vm}/vm", patch_vm},
    {"GET", "/vms/{vm}/metrics", get_vm_metrics},
    {"GET", "/vms/{vm}/logs", get_logs},
    /* Every other Firecracker path of the VM, forwarded unchanged. */
    {"GET", "/vms/{vm}/{res}", forward_any},
    {"PUT", "/vms/{vm}/{res}", forward_any},
    {"PATCH", "/vms/{vm}/{res}", forward_any},
    {"GET", "/vms/{vm}/{res}/{sub}", forward_any},
    {"PUT", "/vms/{vm}/{res}/{sub}", forward_any},
    {"PATCH", "/vms/{vm}/{res}/{sub}", forward_any},
};
const size_t daemon_nr_routes = sizeof(daemon_routes) / sizeof(daemon_routes[0]);
