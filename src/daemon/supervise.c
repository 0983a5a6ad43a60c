/*
 * Spawning and supervising VM processes (daemon.h, docs/petreld.md).
 *
 * Each VM runs `petrel run --api-sock DIR/api.sock ...` in a session of its
 * own (setsid), so it neither dies with the daemon nor receives the
 * daemon's terminal signals. Exit notification comes from a pidfd watched
 * by the event loop; the daemon reaps its own children with waitid() to
 * keep the exit status. A re-adopted VM (started by an earlier daemon) is
 * not our child: its end is noticed but its status cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "util/event_loop.h"

/* How long POST /vms waits for a new VM process's API to answer. */
#define SPAWN_API_WAIT_MS 10000

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

unsigned long long proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* Field 3 (state) follows; starttime is field 22, the 20th token from here. */
	for (int f = 3; f <= 22 && p; f++) {
		p = strchr(p + 1, ' ');
		if (p && f == 22)
			v = strtoull(p + 1, NULL, 10);
	}
	return v;
}

static void on_vm_exit(void *opaque, int fd, uint32_t events)
{
	struct vm_entry *e = opaque;
	struct daemon *d = e->d;
	siginfo_t si;
	bool have = false;

	memset(&si, 0, sizeof(si));
	/* Our child is a zombie until reaped, so its pid cannot have been reused. */
	if (e->child) {
		int rc = waitid(P_PID, (id_t)e->pid, &si, WEXITED | WNOHANG);

		if (!rc && !si.si_pid)
			return; /* readable before waitid could see it: try again */
		have = !rc;
	}
	pthread_mutex_lock(&d->lock);
	e->state = vm_exit_classify(si.si_code, si.si_status, have, &e->exit);
	e->ended_ms = now_ms();
	if (!e->destroying) {
		registry_save_exit(e);
		vm_log(e, e->state == VM_SHUTOFF ? "info" : "error", "exit", "%s", e->exit.reason);
	}
	e->watched = false;
	pthread_mutex_unlock(&d->lock);
	event_loop_del_fd(d->loop, fd);
	cgroup_remove(e);
}

static int watch(struct daemon *d, struct vm_entry *e)
{
	int rc = event_loop_add_fd(d->loop, e->pidfd, EPOLLIN, on_vm_exit, e);

	if (!rc)
		e->watched = true;
	return rc;
}

static bool ended(struct daemon *d, struct vm_entry *e)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = e->state == VM_SHUTOFF || e->state == VM_CRASHED;
	pthread_mutex_unlock(&d->lock);
	return r;
}

static void set_state(struct daemon *d, struct vm_entry *e, enum vm_state s)
{
	pthread_mutex_lock(&d->lock);
	if (e->state != VM_SHUTOFF && e->state != VM_CRASHED)
		e->state = s;
	pthread_mutex_unlock(&d->lock);
}

int vm_spawn(struct daemon *d, struct vm_entry *e, char *err, size_t err_len)
{
	char path[VM_PATH_MAX + 32], procs[VM_PATH_MAX + 32], sock[VM_PATH_MAX + 32], st[32];
	struct timespec t0, t;
	char **argv;
	int logfd, nullfd, rc;
	pid_t pid;

	e->d = d;
	rc = mkdir_p(e->dir, 0700);
	if (rc) {
		snprintf(err, err_len, "cannot create %s: %s", e->dir, strerror(-rc));
		return rc;
	}
	argv = vm_spec_argv(e->spec, d->petrel, e->dir);
	snprintf(path, sizeof(path), "%s/log", e->dir);
	logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!argv || logfd < 0 || nullfd < 0) {
		snprintf(err, err_len, "cannot prepare the VM process: %s",
			 argv ? strerror(errno) : "out of memory");
		vm_spec_argv_free(argv);
		if (logfd >= 0)
			close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return -ENOMEM;
	}
	cgroup_place(d, e); /* creates the group; the child joins it before exec */
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", e->cgroup);
	snprintf(sock, sizeof(sock), "%s/api.sock", e->dir);
	e->started_ms = now_ms();
	pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		sigset_t none;

		setsid();
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (e->cgroup[0]) {
			int cfd = open(procs, O_WRONLY | O_CLOEXEC);

			if (cfd >= 0) {
				if (write(cfd, "0", 1) != 1)
					_exit(126);
				close(cfd);
			}
		}
		/* Nothing of the daemon's (sockets, epoll, the lock) leaks into the VM. */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	rc = pid < 0 ? -errno : 0;
	vm_spec_argv_free(argv);
	close(logfd);
	close(nullfd);
	if (rc) {
		snprintf(err, err_len, "fork: %s", strerror(-rc));
		return rc;
	}
	e->pid = pid;
	e->child = true;
	e->starttime = proc_starttime(pid);
	e->pidfd = sys_pidfd_open(pid);
	if (e->pidfd < 0 || watch(d, e)) {
		snprintf(err, err_len, "cannot watch the VM process: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -EIO;
	}
	registry_save(d, e);
	vm_log(e, "info", "spawn", "pid %d: %s run (%u vCPU, %llu MiB, accel %s)", pid, d->petrel,
	       e->spec->cpus, (unsigned long long)e->spec->mem_mib, e->spec->accel);
	/* Wait for the VM's API: from then on every route can reach it. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long ms;

		if (ended(d, e)) {
			snprintf(err, err_len,
				 "the VM process ended at start: %s (see GET /vms/%s/logs)",
				 e->exit.reason, e->spec->name);
			return -ECHILD;
		}
		if (!access(sock, F_OK) && vm_api_alive(sock, st, sizeof(st)))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > SPAWN_API_WAIT_MS) {
			snprintf(err, err_len, "the VM process's API did not answer within %d ms",
				 SPAWN_API_WAIT_MS);
			return -ETIMEDOUT;
		}
		usleep(ms < 50 ? 1000 : 10000);
	}
	if (!e->spec->autostart) {
		json_t *bs = vm_spec_boot_source(e->spec);
		char *body = bs ? json_dumps(bs, JSON_COMPACT) : NULL;
		struct fwd_reply r;

		json_decref(bs);
		rc = body ? forward(sock, "PUT", "/boot-source", body, &r, 5000) : -1;
		free(body);
		if (rc || r.status != 204) {
			snprintf(err, err_len, "cannot set the boot source: %s",
				 rc ? "no answer" : r.body);
			fwd_reply_free(&r);
			return -EIO;
		}
		fwd_reply_free(&r);
		set_state(d, e, VM_CREATED);
	} else {
		set_state(d, e, VM_RUNNING);
	}
	return 0;
}

void vm_kill(struct daemon *d, struct vm_entry *e)
{
	pthread_mutex_lock(&d->lock);
	e->destroying = true;
	pthread_mutex_unlock(&d->lock);
	if (e->pidfd >= 0) {
		struct pollfd p = {.fd = e->pidfd, .events = POLLIN};

		if (sys_pidfd_send_signal(e->pidfd, SIGKILL) && errno != ESRCH)
			daemon_log("warn", "kill", "%s: pidfd_send_signal: %s", e->spec->name,
				   strerror(errno));
		poll(&p, 1, 5000);
		/* Not holding d->lock: the exit callback takes it, and this waits for it. */
		event_loop_del_fd(d->loop, e->pidfd);
		if (e->child)
			waitpid(e->pid, NULL, WNOHANG);
		close(e->pidfd);
		e->pidfd = -1;
	}
	cgroup_remove(e);
}

static void adopt_one(struct daemon *d, const char *name)
{
	char dir[VM_PATH_MAX], path[VM_PATH_MAX + 32], sock[VM_PATH_MAX + 32], st[32], err[512];
	json_t *state, *spec, *ex;
	struct vm_entry *e;

	if (snprintf(dir, sizeof(dir), "%s/vms/%s", d->state_dir, name) >= (int)sizeof(dir))
		return;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	state = json_load_file(path, 0, NULL);
	snprintf(path, sizeof(path), "%s/spec.json", dir);
	spec = json_load_file(path, 0, NULL);
	e = calloc(1, sizeof(*e));
	if (e)
		e->spec = calloc(1, sizeof(*e->spec));
	if (!state || !spec || !e || !e->spec ||
	    vm_spec_parse(spec, e->spec, false, UINT64_MAX / 2, err, sizeof(err)) ||
	    strcmp(e->spec->name, name)) {
		daemon_log("warn", "adopt", "%s: unreadable state, skipped", dir);
		goto out_free;
	}
	e->d = d;
	e->pidfd = -1;
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	e->id = (unsigned)json_integer_value(json_object_get(state, "id"));
	e->pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
	e->starttime = (unsigned long long)json_integer_value(json_object_get(state, "starttime"));
	e->started_ms = json_integer_value(json_object_get(state, "started_ms"));
	snprintf(e->cgroup, sizeof(e->cgroup), "%s",
		 json_string_value(json_object_get(state, "cgroup")) ?: "");
	snprintf(path, sizeof(path), "%s/exit.json", dir);
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	if ((ex = json_load_file(path, 0, NULL))) {
		const json_t *s = json_object_get(ex, "status"), *g = json_object_get(ex, "signal");

		e->state = !strcmp(json_string_value(json_object_get(ex, "state")) ?: "", "shutoff")
			       ? VM_SHUTOFF
			       : VM_CRASHED;
		e->exit.has_status = json_is_integer(s);
		e->exit.status = (int)json_integer_value(s);
		e->exit.has_signal = json_is_integer(g);
		e->exit.signal = (int)json_integer_value(g);
		snprintf(e->exit.reason, sizeof(e->exit.reason), "%s",
			 json_string_value(json_object_get(ex, "reason")) ?: "");
		e->ended_ms = json_integer_value(json_object_get(ex, "ended_ms"));
		json_decref(ex);
	} else if (e->pid > 0 && e->starttime && proc_starttime(e->pid) == e->starttime &&
		   (e->pidfd = sys_pidfd_open(e->pid)) >= 0 &&
		   /* the pid was checked before the pidfd was taken: check again */
		   proc_starttime(e->pid) == e->starttime) {
		/* Ours. A VM whose API does not answer is still adopted, never left untracked. */
		bool api = vm_api_alive(sock, st, sizeof(st));

		e->state = !api				? VM_RUNNING
			   : !strcmp(st, "Paused")	? VM_PAUSED
			   : !strcmp(st, "Not started") ? VM_CREATED
							: VM_RUNNING;
		if (watch(d, e)) {
			close(e->pidfd);
			e->pidfd = -1;
		}
		vm_log(e, api ? "info" : "warn", "adopt", "re-adopted pid %d (%s%s)", e->pid,
		       vm_state_name(e->state), api ? "" : "; its API does not answer");
	} else {
		if (e->pidfd >= 0)
			close(e->pidfd);
		e->pidfd = -1;
		e->state = VM_CRASHED;
		snprintf(e->exit.reason, sizeof(e->exit.reason),
			 "the VM process (pid %d) ended while petreld was not running", e->pid);
		e->ended_ms = e->started_ms; /* when is unknown */
		registry_save_exit(e);
		vm_log(e, "error", "adopt", "%s", e->exit.reason);
	}
	pthread_mutex_lock(&d->lock);
	e->next = d->vms;
	d->vms = e;
	if (e->id >= d->next_id)
		d->next_id = e->id + 1;
	pthread_mutex_unlock(&d->lock);
	json_decref(state);
	json_decref(spec);
	return;
out_free:
	if (e)
		free(e->spec);
	free(e);
	json_decref(state);
	json_decref(spec);
}

void vm_adopt_all(struct daemon *d)
{
	char path[VM_PATH_MAX + 8];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/vms", d->state_dir);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && vm_name_valid(de->d_name))
			adopt_one(d, de->d_name);
	closedir(dir);
}
