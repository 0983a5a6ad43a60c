/* The VM registry: lookup, summaries, the state dir files, structured logs (daemon.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_STARTING:
		return "starting";
	case VM_CREATED:
		return "created";
	case VM_RUNNING:
		return "running";
	case VM_PAUSED:
		return "paused";
	case VM_SHUTOFF:
		return "shutoff";
	case VM_CRASHED:
		return "crashed";
	}
	return "unknown";
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct vm_entry *registry_find(struct daemon *d, const char *key)
{
	struct vm_entry *e, *found = NULL;
	char *end;
	unsigned long id = 0;
	bool numeric = key[0] >= '0' && key[0] <= '9';

	if (numeric) {
		errno = 0;
		id = strtoul(key, &end, 10);
		numeric = !*end && !errno;
	}
	pthread_mutex_lock(&d->lock);
	/* A name wins over an id, so a VM named "7" stays reachable by name. */
	for (e = d->vms; e && !found; e = e->next)
		if (!strcmp(e->spec->name, key))
			found = e;
	for (e = d->vms; e && !found && numeric; e = e->next)
		if (e->id == id)
			found = e;
	pthread_mutex_unlock(&d->lock);
	return found;
}

struct vm_snap *registry_snapshot(struct daemon *d, unsigned *n)
{
	struct vm_snap *v;
	unsigned count = 0, i;

	pthread_mutex_lock(&d->lock);
	for (struct vm_entry *e = d->vms; e; e = e->next)
		count++;
	v = calloc(count ? count : 1, sizeof(*v));
	/* The registry is newest first: fill from the end to list by id. */
	i = count;
	for (struct vm_entry *e = d->vms; e && v; e = e->next) {
		i--;
		v[i].e = e;
		v[i].state = e->state;
	}
	pthread_mutex_unlock(&d->lock);
	*n = v ? count : 0;
	return v;
}

unsigned registry_count(struct daemon *d)
{
	unsigned n = 0;

	pthread_mutex_lock(&d->lock);
	for (struct vm_entry *e = d->vms; e; e = e->next)
		n++;
	pthread_mutex_unlock(&d->lock);
	return n;
}

static json_t *exit_json(const struct vm_exit *x)
{
	return json_pack(
	    "{s:o,s:o,s:s}", "status", x->has_status ? json_integer(x->status) : json_null(),
	    "signal", x->has_signal ? json_integer(x->signal) : json_null(), "reason", x->reason);
}

json_t *registry_summary(struct daemon *d, struct vm_entry *e, bool with_spec)
{
	char console[VM_PATH_MAX + 32];
	bool live;
	json_t *j;

	snprintf(console, sizeof(console), "%s/console.sock", e->dir);
	pthread_mutex_lock(&d->lock);
	live = vm_state_live(e->state);
	j = json_pack("{s:i,s:s,s:s,s:i,s:I,s:o,s:I,s:I,s:s,s:o}", "id", (int)e->id, "name",
		      e->spec->name, "state", vm_state_name(e->state), "cpus", (int)e->spec->cpus,
		      "mem_mib", (json_int_t)e->spec->mem_mib, "pid",
		      live ? json_integer(e->pid) : json_null(), "started_ms",
		      (json_int_t)e->started_ms, "uptime_ms",
		      (json_int_t)((live ? now_ms() : e->ended_ms) - e->started_ms),
		      "console_socket", console, "exit", live ? json_null() : exit_json(&e->exit));
	if (j && with_spec)
		json_object_set_new(j, "spec", vm_spec_to_json(e->spec));
	pthread_mutex_unlock(&d->lock);
	return j;
}

int write_file(const char *path, const char *data, size_t len)
{
	char tmp[VM_PATH_MAX + 16];
	int fd, rc = 0;

	/* Write then rename: a reader (or a daemon restarting) never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		rc = -EIO;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[VM_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int save_json(const char *dir, const char *file, json_t *j)
{
	char path[VM_PATH_MAX + 32], *text;
	int rc;

	if (!j)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	text = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	if (!text)
		return -ENOMEM;
	rc = write_file(path, text, strlen(text));
	free(text);
	return rc;
}

int registry_save(struct daemon *d, struct vm_entry *e)
{
	char path[VM_PATH_MAX + 32], pid[32];
	int n, rc;

	rc = save_json(e->dir, "spec.json", vm_spec_to_json(e->spec));
	if (!rc)
		rc = save_json(e->dir, "state.json",
			       json_pack("{s:i,s:i,s:I,s:I,s:s}", "id", (int)e->id, "pid", e->pid,
					 "starttime", (json_int_t)e->starttime, "started_ms",
					 (json_int_t)e->started_ms, "cgroup", e->cgroup));
	if (!rc) {
		n = snprintf(pid, sizeof(pid), "%d\n", e->pid);
		snprintf(path, sizeof(path), "%s/pid", e->dir);
		rc = write_file(path, pid, (size_t)n);
	}
	return rc;
}

int registry_save_exit(struct vm_entry *e)
{
	json_t *j = exit_json(&e->exit);

	if (j)
		json_object_set_new(j, "state", json_string(vm_state_name(e->state)));
	if (j)
		json_object_set_new(j, "ended_ms", json_integer(e->ended_ms));
	return save_json(e->dir, "exit.json", j);
}

bool daemon_log_quiet;

static void vlog_line(int fd, FILE *also, const char *vm, const char *level, const char *event,
		      const char *fmt, va_list ap)
{
	char msg[512], *text;
	json_t *j;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	j = json_pack("{s:I,s:s,s:s,s:s}", "ts_ms", (json_int_t)now_ms(), "level", level, "event",
		      event, "msg", msg);
	if (!j)
		return;
	if (vm)
		json_object_set_new(j, "vm", json_string(vm));
	json_object_set_new(j, "src", json_string("petreld"));
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return;
	if (fd >= 0)
		dprintf(fd, "%s\n", text);
	if (also && !daemon_log_quiet)
		fprintf(also, "%s\n", text);
	free(text);
}

void vm_log(struct vm_entry *e, const char *level, const char *event, const char *fmt, ...)
{
	char path[VM_PATH_MAX + 16];
	va_list ap, ap2;
	int fd;

	snprintf(path, sizeof(path), "%s/log", e->dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	va_start(ap, fmt);
	va_copy(ap2, ap);
	vlog_line(fd, NULL, e->spec->name, level, event, fmt, ap);
	vlog_line(-1, stderr, e->spec->name, level, event, fmt, ap2);
	va_end(ap2);
	va_end(ap);
	if (fd >= 0)
		close(fd);
}

void daemon_log(const char *level, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_line(-1, stderr, NULL, level, event, fmt, ap);
	va_end(ap);
}

void registry_remove_dir(struct vm_entry *e)
{
	DIR *dir = opendir(e->dir);
	struct dirent *de;

	if (dir) {
		while ((de = readdir(dir))) {
			char path[VM_PATH_MAX + 300];

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", e->dir, de->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	rmdir(e->dir);
}
