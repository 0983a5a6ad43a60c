/*
 * Per-VM metrics (GET /vms/{vm}/metrics): the host's view of the VM process
 * from /proc (CPU time, RSS) plus the VM's own counters from its
 * GET /petrel/metrics. prometheus.c renders them for GET /metrics.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"

struct proc_stat {
	unsigned long long cpu_ms, rss_kib;
	bool ok;
};

/* Read /proc/<pid>/<name> into buf as a string; false if it is gone or empty. */
static bool read_proc_file(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static void read_proc(pid_t pid, struct proc_stat *ps)
{
	char buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);

	memset(ps, 0, sizeof(*ps));
	if (!read_proc_file(pid, "stat", buf, sizeof(buf)))
		return;
	p = strrchr(buf, ')');
	/* utime and stime are fields 14 and 15; field 3 follows ") ". */
	for (int f = 3; p && f <= 15; f++) {
		p = strchr(p + 1, ' ');
		if (p && f == 14)
			ut = strtoull(p + 1, NULL, 10);
		if (p && f == 15)
			st = strtoull(p + 1, NULL, 10);
	}
	ps->cpu_ms = tck > 0 ? (ut + st) * 1000 / (unsigned long long)tck : 0;
	if (!read_proc_file(pid, "status", buf, sizeof(buf)))
		return;
	p = strstr(buf, "\nVmRSS:");
	if (p)
		ps->rss_kib = strtoull(p + 7, NULL, 10);
	ps->ok = true;
}

json_t *vm_metrics(struct daemon *d, struct vm_entry *e)
{
	char sock[VM_PATH_MAX + 16];
	struct proc_stat ps = {0};
	struct fwd_reply r;
	json_t *vm = NULL, *exits, *io, *j;
	bool alive;
	int64_t started;
	pid_t pid;

	pthread_mutex_lock(&d->lock);
	alive = e->state != VM_SHUTOFF && e->state != VM_CRASHED;
	pid = e->pid;
	started = e->started_ms;
	pthread_mutex_unlock(&d->lock);
	if (alive)
		read_proc(pid, &ps);
	snprintf(sock, sizeof(sock), "%s/api.sock", e->dir);
	if (alive && !forward(sock, "GET", "/petrel/metrics", NULL, &r, 2000) && r.status == 200)
		vm = json_loads(r.body, 0, NULL);
	if (alive)
		fwd_reply_free(&r);
	exits = json_object_get(vm, "vcpu_exits");
	io = json_object_get(vm, "io");
	j = json_pack("{s:I,s:I,s:I,s:O,s:O}", "uptime_ms",
		      (json_int_t)(alive ? now_ms() - started : 0), "cpu_time_ms",
		      (json_int_t)ps.cpu_ms, "rss_kib", (json_int_t)ps.rss_kib, "vcpu_exits",
		      exits ? exits : json_object(), "io",
		      io ? io
			 : json_pack("{s:i,s:i,s:i,s:i}", "blk_read_bytes", 0, "blk_write_bytes", 0,
				     "net_rx_bytes", 0, "net_tx_bytes", 0));
	/* s:O took references; drop the fresh objects made for absent ones. */
	if (!exits)
		json_decref(json_object_get(j, "vcpu_exits"));
	if (!io)
		json_decref(json_object_get(j, "io"));
	json_decref(vm);
	return j;
}
