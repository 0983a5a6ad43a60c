/*
 * Per-VM metrics (GET /vms/{vm}/metrics) and the Prometheus text endpoint
 * (GET /metrics): the host's view of the VM process from /proc (CPU time,
 * RSS) plus the VM's own counters from its GET /petrel/metrics.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"

struct proc_stat {
	unsigned long long cpu_ms, rss_kib;
	bool ok;
};

static void read_proc(pid_t pid, struct proc_stat *ps)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	memset(ps, 0, sizeof(*ps));
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
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
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
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

struct buf {
	char *p;
	size_t len, cap;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!b->p)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		char *np = realloc(b->p, b->cap * 2 + (size_t)n);
		if (!np) {
			free(b->p);
			b->p = NULL;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

char *prometheus_text(struct daemon *d, size_t *len)
{
	static const char *const io_keys[] = {"blk_read_bytes", "blk_write_bytes", "net_rx_bytes",
					      "net_tx_bytes"};
	static const char *const states[] = {"created", "running", "paused", "shutoff", "crashed"};
	struct vm_entry *list[4096];
	struct buf b = {malloc(4096), 0, 4096};
	json_t *m[4096];
	unsigned n = 0;

	pthread_mutex_lock(&d->lock);
	for (struct vm_entry *e = d->vms; e && n < 4096; e = e->next)
		list[n++] = e;
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < n; i++)
		m[i] = vm_metrics(d, list[i]);
	add(&b,
	    "# HELP petrel_vms Number of VMs the daemon knows.\n# TYPE petrel_vms gauge\n"
	    "petrel_vms %u\n",
	    n);
	add(&b,
	    "# HELP petrel_vm_state 1 for the VM's current state.\n# TYPE petrel_vm_state gauge\n");
	for (unsigned i = 0; i < n; i++) {
		const char *cur = vm_state_name(list[i]->state);

		for (unsigned s = 0; s < 5; s++)
			add(&b, "petrel_vm_state{vm=\"%s\",state=\"%s\"} %d\n", list[i]->spec->name,
			    states[s], !strcmp(cur, states[s]));
	}
#define GAUGE(metric, help, type, key)                                                             \
	add(&b, "# HELP " metric " " help "\n# TYPE " metric " " type "\n");                       \
	for (unsigned i = 0; i < n; i++)                                                           \
		add(&b, metric "{vm=\"%s\"} %lld\n", list[i]->spec->name,                          \
		    (long long)json_integer_value(json_object_get(m[i], key)));
	GAUGE("petrel_vm_uptime_ms", "Milliseconds since the VM process started.", "gauge",
	      "uptime_ms")
	GAUGE("petrel_vm_cpu_time_ms_total", "CPU time of the VM process (user + system), ms.",
	      "counter", "cpu_time_ms")
	GAUGE("petrel_vm_rss_kib", "Resident memory of the VM process, KiB.", "gauge", "rss_kib")
	add(&b, "# HELP petrel_vm_vcpu_exits_total vCPU exits by kind.\n"
		"# TYPE petrel_vm_vcpu_exits_total counter\n");
	for (unsigned i = 0; i < n; i++) {
		const char *k;
		json_t *v;

		json_object_foreach(json_object_get(m[i], "vcpu_exits"), k, v)
		    add(&b, "petrel_vm_vcpu_exits_total{vm=\"%s\",kind=\"%s\"} %lld\n",
			list[i]->spec->name, k, (long long)json_integer_value(v));
	}
	for (unsigned k = 0; k < 4; k++) {
		add(&b,
		    "# HELP petrel_vm_%s_total virtio I/O bytes.\n# TYPE petrel_vm_%s_total "
		    "counter\n",
		    io_keys[k], io_keys[k]);
		for (unsigned i = 0; i < n; i++)
			add(&b, "petrel_vm_%s_total{vm=\"%s\"} %lld\n", io_keys[k],
			    list[i]->spec->name,
			    (long long)json_integer_value(
				json_object_get(json_object_get(m[i], "io"), io_keys[k])));
	}
	for (unsigned i = 0; i < n; i++)
		json_decref(m[i]);
	*len = b.len;
	return b.p;
}
