/*
 * GET /metrics: every VM's metrics (metrics.c) in the Prometheus text
 * exposition format, one gauge or counter family per metric, labelled
 * {vm="name"} (docs/petreld.md lists them).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

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
	struct buf b = {malloc(4096), 0, 4096};
	unsigned n;
	struct vm_snap *v = registry_snapshot(d, &n);
	json_t **m = calloc(n ? n : 1, sizeof(*m));

	if (!v || !m || !b.p) {
		free(v);
		free(m);
		free(b.p);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		m[i] = vm_metrics(d, v[i].e);
	add(&b,
	    "# HELP petrel_vms Number of VMs the daemon knows.\n# TYPE petrel_vms gauge\n"
	    "petrel_vms %u\n",
	    n);
	add(&b,
	    "# HELP petrel_vm_state 1 for the VM's current state.\n# TYPE petrel_vm_state gauge\n");
	for (unsigned i = 0; i < n; i++) {
		const char *cur = vm_state_name(v[i].state); /* read under the lock */

		for (unsigned s = 0; s < 5; s++)
			add(&b, "petrel_vm_state{vm=\"%s\",state=\"%s\"} %d\n", v[i].e->spec->name,
			    states[s], !strcmp(cur, states[s]));
	}
#define GAUGE(metric, help, type, key)                                                             \
	add(&b, "# HELP " metric " " help "\n# TYPE " metric " " type "\n");                       \
	for (unsigned i = 0; i < n; i++)                                                           \
		add(&b, metric "{vm=\"%s\"} %lld\n", v[i].e->spec->name,                           \
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
		json_t *cnt;

		json_object_foreach(json_object_get(m[i], "vcpu_exits"), k, cnt)
		    add(&b, "petrel_vm_vcpu_exits_total{vm=\"%s\",kind=\"%s\"} %lld\n",
			v[i].e->spec->name, k, (long long)json_integer_value(cnt));
	}
	for (unsigned k = 0; k < 4; k++) {
		add(&b,
		    "# HELP petrel_vm_%s_total virtio I/O bytes.\n# TYPE petrel_vm_%s_total "
		    "counter\n",
		    io_keys[k], io_keys[k]);
		for (unsigned i = 0; i < n; i++)
			add(&b, "petrel_vm_%s_total{vm=\"%s\"} %lld\n", io_keys[k],
			    v[i].e->spec->name,
			    (long long)json_integer_value(
				json_object_get(json_object_get(m[i], "io"), io_keys[k])));
	}
	for (unsigned i = 0; i < n; i++)
		json_decref(m[i]);
	free(m);
	free(v);
	*len = b.len;
	return b.p;
}
