/* Firecracker-compatible routes for one VM (fc_api.h, docs/api.md). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/fc_api.h"
#include "devices/acpi_pm.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "util/compiler.h"
#include "util/log.h"
#include "vm/vm.h"

#define HTTP_OK		 200
#define HTTP_NO_CONTENT	 204
#define HTTP_BAD_REQUEST 400

#define NOT_AFTER_START "The requested operation is not supported after starting the microVM."
#define PETREL_VERSION	"0.1.0"

#define FAIL(fmt, ...)                                                                             \
	do {                                                                                       \
		*out = api_fault(fmt, ##__VA_ARGS__);                                              \
		return HTTP_BAD_REQUEST;                                                           \
	} while (0)

static const char *state_name(enum fc_state s)
{
	return s == FC_RUNNING ? "Running" : s == FC_PAUSED ? "Paused" : "Not started";
}

void fc_api_init(struct fc_api *a, const struct vm_config *base)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->metrics_fd = -1;
	a->log_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &a->t0);
	snprintf(a->id, sizeof(a->id), "anonymous-instance");
	a->cfg = *base;
	/* A VM started from the command line still reports its boot source. */
	if (base->kernel && strlen(base->kernel) < sizeof(a->kernel) &&
	    (!base->initrd || strlen(base->initrd) < sizeof(a->initrd)) &&
	    (!base->cmdline || strlen(base->cmdline) < sizeof(a->cmdline))) {
		strcpy(a->kernel, base->kernel);
		strcpy(a->initrd, base->initrd ? base->initrd : "");
		strcpy(a->cmdline, base->cmdline ? base->cmdline : "");
		a->have_boot_source = true;
	}
	a->cfg.kernel = NULL;
	a->cfg.kernel_data = NULL;
	a->cfg.kernel_size = 0;
	a->cfg.initrd = NULL;
	a->cfg.cmdline = NULL;
	a->cfg.format = VM_KERNEL_AUTO;
	if (a->have_boot_source) {
		a->cfg.kernel = a->kernel;
		a->cfg.initrd = *a->initrd ? a->initrd : NULL;
		a->cfg.cmdline = *a->cmdline ? a->cmdline : NULL;
		a->cfg.format = base->format;
		return; /* the VM exists: the rest of base describes it */
	}
	/*
	 * Devices given on the command line (petreld passes a VM's disks and
	 * nets this way) stay; the API's drives and interfaces are added to them.
	 */
	a->base_disks = a->cfg.nr_disks;
	a->base_nets = a->cfg.nr_nets;
}

void fc_api_destroy(struct fc_api *a)
{
	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	if (a->log_fd >= 0) {
		log_set_sink(NULL, NULL);
		close(a->log_fd);
	}
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
}

void fc_api_set_running(struct fc_api *a, struct vm *vm)
{
	pthread_mutex_lock(&a->lock);
	a->vm = vm;
	a->state = FC_RUNNING;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

struct vm *fc_api_wait_start(struct fc_api *a)
{
	struct vm *vm;

	pthread_mutex_lock(&a->lock);
	while (!a->vm)
		pthread_cond_wait(&a->cond, &a->lock);
	vm = a->vm;
	pthread_mutex_unlock(&a->lock);
	return vm;
}

/* Resource ids come from the URL: letters, digits, '_' and '-' only. */
static bool id_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool copy_str(char *dst, size_t len, const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) >= len || strlen(s) != json_string_length(v))
		return false; /* too long, or an embedded NUL */
	strcpy(dst, s);
	return true;
}

static json_t *machine_config_json(const struct fc_api *a)
{
	return json_pack("{s:I,s:I,s:b,s:b,s:s}", "vcpu_count", (json_int_t)a->cfg.cpus,
			 "mem_size_mib", (json_int_t)a->cfg.mem_mib, "smt", a->smt,
			 "track_dirty_pages", a->track_dirty_pages, "huge_pages", "None");
}

static unsigned get_root(void *ctx, const struct api_request *req, json_t **out)
{
	struct fc_api *a = ctx;

	*out = json_pack("{s:s,s:s,s:s,s:s}", "id", a->id, "state", state_name(a->state),
			 "vmm_version", PETREL_VERSION, "app_name", "petrel");
	return HTTP_OK;
}

static unsigned get_version(void *ctx, const struct api_request *req, json_t **out)
{
	*out = json_pack("{s:s}", "firecracker_version", PETREL_VERSION);
	return HTTP_OK;
}

static unsigned get_machine_config(void *ctx, const struct api_request *req, json_t **out)
{
	*out = machine_config_json(ctx);
	return HTTP_OK;
}

static unsigned set_machine_config(struct fc_api *a, const struct api_request *req, json_t **out,
				   bool partial)
{
	uint64_t host_mib = config_host_mem_bytes() / (1024 * 1024);
	const struct api_field f[] = {
	    {"vcpu_count", API_UINT, !partial, 1, VM_CONFIG_MAX_CPUS},
	    {"mem_size_mib", API_UINT, !partial, VM_CONFIG_MEM_MIN_MIB, host_mib},
	    {"smt", API_BOOL, false, 0, 0},
	    {"track_dirty_pages", API_BOOL, false, 0, 0},
	    {"huge_pages", API_STRING, false, 0, 0},
	    {"cpu_template", API_STRING, false, 0, 0},
	};
	const json_t *v;
	char err[256];

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	/* Petrel has neither huge pages nor CPU templates: only their "off" values. */
	v = json_object_get(req->body, "huge_pages");
	if (v && strcmp(json_string_value(v), "None"))
		FAIL("field `huge_pages`: only \"None\" is supported");
	v = json_object_get(req->body, "cpu_template");
	if (v && strcmp(json_string_value(v), "None"))
		FAIL("field `cpu_template`: only \"None\" is supported");
	if ((v = json_object_get(req->body, "vcpu_count")))
		a->cfg.cpus = (unsigned)json_integer_value(v);
	else if (!partial)
		a->cfg.cpus = 1;
	if ((v = json_object_get(req->body, "mem_size_mib")))
		a->cfg.mem_mib = (uint64_t)json_integer_value(v);
	if ((v = json_object_get(req->body, "smt")))
		a->smt = json_is_true(v);
	else if (!partial)
		a->smt = false;
	if ((v = json_object_get(req->body, "track_dirty_pages")))
		a->track_dirty_pages = json_is_true(v);
	else if (!partial)
		a->track_dirty_pages = false;
	return HTTP_NO_CONTENT;
}

static unsigned put_machine_config(void *ctx, const struct api_request *req, json_t **out)
{
	return set_machine_config(ctx, req, out, false);
}

static unsigned patch_machine_config(void *ctx, const struct api_request *req, json_t **out)
{
	return set_machine_config(ctx, req, out, true);
}

static unsigned put_boot_source(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"kernel_image_path", API_STRING, true, 0, 0},
	    {"initrd_path", API_STRING, false, 0, 0},
	    {"boot_args", API_STRING, false, 0, 0},
	    {"petrel_kernel_format", API_STRING, false, 0, 0},
	};
	struct fc_api *a = ctx;
	enum vm_kernel_format fmt = VM_KERNEL_AUTO;
	char kernel[4096], initrd[4096] = "", cmdline[4096] = "", err[256];
	const json_t *v;

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	/* Paths are checked now so the client hears about them before InstanceStart. */
	if (!copy_str(kernel, sizeof(kernel), json_object_get(req->body, "kernel_image_path")) ||
	    access(kernel, R_OK))
		FAIL("field `kernel_image_path`: cannot read '%s'",
		     json_string_value(json_object_get(req->body, "kernel_image_path")));
	v = json_object_get(req->body, "initrd_path");
	if (v && (!copy_str(initrd, sizeof(initrd), v) || access(initrd, R_OK)))
		FAIL("field `initrd_path`: cannot read '%s'", json_string_value(v));
	v = json_object_get(req->body, "boot_args");
	if (v && !copy_str(cmdline, sizeof(cmdline), v))
		FAIL("field `boot_args`: longer than %zu bytes", sizeof(cmdline) - 1);
	v = json_object_get(req->body, "petrel_kernel_format");
	if (v && config_parse_format(json_string_value(v), &fmt, err, sizeof(err)))
		FAIL("field `petrel_kernel_format`: expected auto, linux, elf, multiboot or flat");
	strcpy(a->kernel, kernel);
	strcpy(a->initrd, initrd);
	strcpy(a->cmdline, cmdline);
	a->cfg.kernel = a->kernel;
	a->cfg.initrd = *a->initrd ? a->initrd : NULL;
	a->cfg.cmdline = *a->cmdline ? a->cmdline : NULL;
	a->cfg.format = fmt;
	a->have_boot_source = true;
	return HTTP_NO_CONTENT;
}

static unsigned put_drive(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"drive_id", API_STRING, true, 0, 0},     {"is_root_device", API_BOOL, true, 0, 0},
	    {"path_on_host", API_STRING, true, 0, 0}, {"is_read_only", API_BOOL, false, 0, 0},
	    {"partuuid", API_STRING, false, 0, 0},    {"cache_type", API_STRING, false, 0, 0},
	    {"io_engine", API_STRING, false, 0, 0},
	};
	struct fc_api *a = ctx;
	struct fc_drive d = {0};
	const char *id = req->params[0];
	const json_t *v;
	char err[256];
	unsigned i;

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	if (!id_valid(id))
		FAIL("invalid drive id '%s': use letters, digits, '_' and '-'", id);
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	if (strcmp(json_string_value(json_object_get(req->body, "drive_id")), id))
		FAIL("field `drive_id` does not match the drive id in the path");
	v = json_object_get(req->body, "cache_type");
	if (v && strcmp(json_string_value(v), "Unsafe") &&
	    strcmp(json_string_value(v), "Writeback"))
		FAIL("field `cache_type`: expected \"Unsafe\" or \"Writeback\"");
	v = json_object_get(req->body, "io_engine");
	if (v && strcmp(json_string_value(v), "Sync") && strcmp(json_string_value(v), "Async"))
		FAIL("field `io_engine`: expected \"Sync\" or \"Async\"");
	snprintf(d.id, sizeof(d.id), "%s", id);
	d.root = json_is_true(json_object_get(req->body, "is_root_device"));
	d.disk.readonly = json_is_true(json_object_get(req->body, "is_read_only"));
	v = json_object_get(req->body, "path_on_host");
	if (!copy_str(d.disk.path, sizeof(d.disk.path), v) ||
	    access(d.disk.path, d.disk.readonly ? R_OK : R_OK | W_OK))
		FAIL("field `path_on_host`: cannot open '%s'%s", json_string_value(v),
		     d.disk.readonly ? "" : " for writing");
	for (i = 0; i < a->nr_drives; i++) {
		if (!strcmp(a->drives[i].id, id))
			continue;
		if (d.root && a->drives[i].root)
			FAIL("drive '%s' is already the root device", a->drives[i].id);
	}
	for (i = 0; i < a->nr_drives && strcmp(a->drives[i].id, id); i++)
		;
	if (i == a->nr_drives && a->nr_drives == VM_CONFIG_MAX_DISKS)
		FAIL("at most %u drives", VM_CONFIG_MAX_DISKS);
	a->drives[i] = d;
	if (i == a->nr_drives)
		a->nr_drives++;
	return HTTP_NO_CONTENT;
}

static unsigned put_net(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"iface_id", API_STRING, true, 0, 0},
	    {"host_dev_name", API_STRING, true, 0, 0},
	};
	struct fc_api *a = ctx;
	struct fc_net n = {0};
	const char *id = req->params[0];
	const json_t *v;
	char err[256];
	unsigned i;

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	if (!id_valid(id))
		FAIL("invalid interface id '%s': use letters, digits, '_' and '-'", id);
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	if (strcmp(json_string_value(json_object_get(req->body, "iface_id")), id))
		FAIL("field `iface_id` does not match the interface id in the path");
	v = json_object_get(req->body, "host_dev_name");
	/* A Linux interface name: under IFNAMSIZ (16), no separators for our spec string. */
	if (!copy_str(n.host_dev, 16, v) || !id_valid(n.host_dev))
		FAIL("field `host_dev_name`: invalid tap device name");
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.spec, sizeof(n.spec), "tap,ifname=%s", n.host_dev);
	for (i = 0; i < a->nr_nets && strcmp(a->nets[i].id, id); i++)
		;
	if (i == a->nr_nets && a->nr_nets == VM_CONFIG_MAX_NETS)
		FAIL("at most %u network interfaces", VM_CONFIG_MAX_NETS);
	a->nets[i] = n;
	if (i == a->nr_nets)
		a->nr_nets++;
	return HTTP_NO_CONTENT;
}

static unsigned put_entropy(void *ctx, const struct api_request *req, json_t **out)
{
	struct fc_api *a = ctx;
	char err[256];

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	/* rate_limiter is not implemented: it is an unknown field here. */
	if (req->body && api_check_fields(req->body, NULL, 0, err, sizeof(err)))
		FAIL("%s", err);
	a->cfg.rng = true;
	return HTTP_NO_CONTENT;
}

static unsigned put_balloon(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"amount_mib", API_UINT, true, 0, 1ull << 32},
	    {"deflate_on_oom", API_BOOL, true, 0, 0},
	    {"stats_polling_interval_s", API_UINT, false, 0, 0},
	};
	struct fc_api *a = ctx;
	char err[256];

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	a->balloon_mib =
	    (unsigned long long)json_integer_value(json_object_get(req->body, "amount_mib"));
	a->balloon_deflate_on_oom = json_is_true(json_object_get(req->body, "deflate_on_oom"));
	a->cfg.balloon = true;
	return HTTP_NO_CONTENT;
}

static json_t *balloon_json(const struct fc_api *a)
{
	return json_pack("{s:I,s:b,s:I}", "amount_mib", (json_int_t)a->balloon_mib,
			 "deflate_on_oom", a->balloon_deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)0);
}

static unsigned get_balloon(void *ctx, const struct api_request *req, json_t **out)
{
	struct fc_api *a = ctx;

	if (!a->cfg.balloon)
		FAIL("the balloon device is not configured");
	*out = balloon_json(a);
	return HTTP_OK;
}

static unsigned patch_balloon(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"amount_mib", API_UINT, true, 0, 1ull << 32},
	};
	struct fc_api *a = ctx;
	unsigned long long mib;
	char err[256];

	if (!a->cfg.balloon)
		FAIL("the balloon device is not configured");
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	mib = (unsigned long long)json_integer_value(json_object_get(req->body, "amount_mib"));
	if (mib > a->cfg.mem_mib)
		FAIL("field `amount_mib`: %llu is more than the guest's %llu MiB", mib,
		     (unsigned long long)a->cfg.mem_mib);
	a->balloon_mib = mib;
	if (a->state != FC_NOT_STARTED && a->vm && a->vm->balloon)
		virtio_balloon_set_target(a->vm->balloon, (uint32_t)(mib * 256));
	return HTTP_NO_CONTENT;
}

static unsigned get_balloon_stats(void *ctx, const struct api_request *req, json_t **out)
{
	/* Firecracker's names for the virtio statistic tags, in tag order. */
	static const char *const names[VIRTIO_BALLOON_S_NR] = {
	    "swap_in",		"swap_out",    "major_faults",
	    "minor_faults",	"free_memory", "total_memory",
	    "available_memory", "disk_caches", "hugetlb_allocations",
	    "hugetlb_failures",
	};
	struct fc_api *a = ctx;
	struct virtio_balloon_stats st;
	struct virtio_balloon_info info;
	json_t *j;

	if (!a->cfg.balloon)
		FAIL("the balloon device is not configured");
	if (a->state == FC_NOT_STARTED || !a->vm || !a->vm->balloon)
		FAIL("the microVM is not started");
	virtio_balloon_get_info(a->vm->balloon, &info);
	virtio_balloon_get_stats(a->vm->balloon, &st);
	j = json_pack("{s:I,s:I,s:I,s:I}", "target_pages", (json_int_t)info.target_pages,
		      "actual_pages", (json_int_t)info.actual_pages, "target_mib",
		      (json_int_t)(info.target_pages / 256), "actual_mib",
		      (json_int_t)(info.actual_pages / 256));
	for (unsigned i = 0; j && i < VIRTIO_BALLOON_S_NR; i++)
		if (st.valid & (1u << i))
			json_object_set_new(j, names[i], json_integer((json_int_t)st.value[i]));
	*out = j;
	return HTTP_OK;
}

/* The logger's output: petrel's log lines, as Firecracker's logger would write them. */
static void logger_sink(enum log_level level, const char *msg, void *opaque)
{
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	struct fc_api *a = opaque;
	char line[1200];
	int n;

	if ((int)level > a->log_level)
		return; /* also everything when "Off" (-1) */
	n = snprintf(line, sizeof(line), "%s%s%s\n", a->log_show_level ? names[level] : "",
		     a->log_show_level ? " " : "", msg);
	if (n > 0) {
		ssize_t w = write(a->log_fd, line, MIN((size_t)n, sizeof(line) - 1));
		(void)w; /* a full pipe loses the line rather than stall a vCPU */
	}
}

static unsigned put_logger(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"level", API_STRING, false, 0, 0},	   {"log_path", API_STRING, false, 0, 0},
	    {"show_level", API_BOOL, false, 0, 0}, {"show_log_origin", API_BOOL, false, 0, 0},
	    {"module", API_STRING, false, 0, 0},
	};
	static const struct {
		const char *name;
		int level; /* -1: off */
	} levels[] = {{"error", LOG_ERROR}, {"warning", LOG_WARN}, {"info", LOG_INFO},
		      {"debug", LOG_DEBUG}, {"trace", LOG_DEBUG},  {"off", -1}};
	struct fc_api *a = ctx;
	const json_t *v;
	char err[256], path[4096];
	int level = LOG_INFO, fd;

	if (a->log_fd >= 0)
		FAIL("the logger is already initialised");
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	if ((v = json_object_get(req->body, "level"))) {
		size_t i;

		for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
			if (!strcasecmp(json_string_value(v), levels[i].name))
				break;
		if (i == sizeof(levels) / sizeof(levels[0]))
			FAIL("field `level`: expected Error, Warning, Info, Debug, Trace or Off");
		level = levels[i].level;
	}
	v = json_object_get(req->body, "log_path");
	if (!v)
		FAIL("field `log_path`: petrel needs a file or named pipe for the log");
	if (!copy_str(path, sizeof(path), v) || !path[0])
		FAIL("field `log_path`: invalid path");
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd < 0)
		FAIL("field `log_path`: cannot open '%s': %s", path, strerror(errno));
	a->log_fd = fd;
	a->log_show_level = json_is_true(json_object_get(req->body, "show_level"));
	/* Every message now goes to the sink, which filters by level ("Off": none). */
	a->log_level = level;
	log_set_sink(logger_sink, a);
	return HTTP_NO_CONTENT;
}

static unsigned put_metrics(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"metrics_path", API_STRING, true, 0, 0},
	};
	struct fc_api *a = ctx;
	const json_t *v;
	char err[256];
	int fd;

	if (a->metrics_fd >= 0)
		FAIL("the metrics system is already initialised");
	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	v = json_object_get(req->body, "metrics_path");
	if (!copy_str(a->metrics_path, sizeof(a->metrics_path), v) || !a->metrics_path[0])
		FAIL("field `metrics_path`: invalid path");
	/* O_NONBLOCK: a named pipe nobody reads must not stall the API thread. */
	fd = open(a->metrics_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd < 0)
		FAIL("field `metrics_path`: cannot open '%s': %s", a->metrics_path,
		     strerror(errno));
	a->metrics_fd = fd;
	return HTTP_NO_CONTENT;
}

static const char *const exit_names[ACCEL_EXIT__COUNT] = {
    [ACCEL_EXIT_NONE] = "none",		[ACCEL_EXIT_IO] = "io",
    [ACCEL_EXIT_MMIO] = "mmio",		[ACCEL_EXIT_HALT] = "halt",
    [ACCEL_EXIT_SHUTDOWN] = "shutdown", [ACCEL_EXIT_RESET] = "reset",
    [ACCEL_EXIT_INTR] = "intr",		[ACCEL_EXIT_ERROR] = "error",
};

static json_t *exits_json(const struct fc_api *a)
{
	json_t *exits = json_object();

	for (unsigned k = 0; k < ACCEL_EXIT__COUNT; k++) {
		unsigned long sum = 0;

		/* Statistics read while vCPUs run: a count may be one exit stale. */
		if (a->vm)
			for (unsigned i = 0; i < a->vm->m.nr_cpus; i++)
				sum += __atomic_load_n(&a->vm->vcpus[i].exits[k], __ATOMIC_RELAXED);
		json_object_set_new(exits, exit_names[k] ? exit_names[k] : "unknown",
				    json_integer((json_int_t)sum));
	}
	return exits;
}

/* GET /petrel/metrics: petreld's per-VM counters (docs/petreld.md). */
static unsigned get_petrel_metrics(void *ctx, const struct api_request *req, json_t **out)
{
	struct fc_api *a = ctx;
	struct timespec now;
	uint64_t br = 0, bw = 0, nr = 0, nt = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (a->vm) {
		for (unsigned i = 0; i < VM_CONFIG_MAX_DISKS; i++) {
			struct virtio_blk_stats bs;

			if (!a->vm->blk[i])
				continue;
			virtio_blk_get_stats(a->vm->blk[i], &bs);
			br += bs.read_bytes;
			bw += bs.write_bytes;
		}
		for (unsigned i = 0; i < VM_CONFIG_MAX_NETS; i++) {
			struct virtio_net_stats ns;

			if (!a->vm->net[i])
				continue;
			virtio_net_get_stats(a->vm->net[i], &ns);
			nr += ns.rx_bytes;
			nt += ns.tx_bytes;
		}
	}
	*out = json_pack(
	    "{s:s,s:I,s:o,s:{s:I,s:I,s:I,s:I}}", "state", state_name(a->state), "uptime_ms",
	    (json_int_t)((now.tv_sec - a->t0.tv_sec) * 1000 +
			 (now.tv_nsec - a->t0.tv_nsec) / 1000000),
	    "vcpu_exits", exits_json(a), "io", "blk_read_bytes", (json_int_t)br, "blk_write_bytes",
	    (json_int_t)bw, "net_rx_bytes", (json_int_t)nr, "net_tx_bytes", (json_int_t)nt);
	return HTTP_OK;
}

static int flush_metrics(struct fc_api *a)
{
	struct timespec now, wall;
	json_t *m, *exits;
	char *line;
	ssize_t w;
	size_t n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_REALTIME, &wall);
	exits = exits_json(a);
	m = json_pack("{s:I,s:I,s:s,s:o}", "utc_timestamp_ms",
		      (json_int_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000, "uptime_ms",
		      (json_int_t)((now.tv_sec - a->t0.tv_sec) * 1000 +
				   (now.tv_nsec - a->t0.tv_nsec) / 1000000),
		      "state", state_name(a->state), "vcpu_exits", exits);
	line = m ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	if (!line)
		return -ENOMEM;
	n = strlen(line);
	line[n] = '\n'; /* replaces the NUL: the buffer holds n + 1 bytes */
	w = write(a->metrics_fd, line, n + 1);
	free(line);
	return w == (ssize_t)(n + 1) ? 0 : -EIO;
}

static unsigned instance_start(struct fc_api *a, json_t **out)
{
	struct vm_config *c = &a->cfg;
	char err[512];
	struct vm *vm;
	unsigned i;
	int rc;

	if (a->state != FC_NOT_STARTED)
		FAIL(NOT_AFTER_START);
	if (!a->have_boot_source)
		FAIL("cannot start the microVM without a boot source (PUT /boot-source)");
	if (a->base_disks + a->nr_drives > VM_CONFIG_MAX_DISKS ||
	    a->base_nets + a->nr_nets > VM_CONFIG_MAX_NETS)
		FAIL("cannot start the microVM: more than %u drives or %u network interfaces",
		     VM_CONFIG_MAX_DISKS, VM_CONFIG_MAX_NETS);
	/* The root device, if any, becomes the first disk (/dev/vda). */
	c->nr_disks = a->base_disks;
	for (i = 0; i < a->nr_drives; i++)
		if (a->drives[i].root)
			c->disks[c->nr_disks++] = a->drives[i].disk;
	for (i = 0; i < a->nr_drives; i++)
		if (!a->drives[i].root)
			c->disks[c->nr_disks++] = a->drives[i].disk;
	c->nr_nets = a->base_nets;
	for (i = 0; i < a->nr_nets; i++)
		c->nets[c->nr_nets++] = a->nets[i].spec;
	rc = vm_config_check(c, config_host_mem_bytes(), err, sizeof(err));
	if (!rc)
		rc = vm_create(c, &vm, err, sizeof(err));
	if (rc)
		FAIL("cannot start the microVM: %s", err);
	if (vm->balloon && a->balloon_mib)
		virtio_balloon_set_target(vm->balloon, (uint32_t)(a->balloon_mib * 256));
	pthread_mutex_lock(&a->lock);
	a->vm = vm;
	a->state = FC_RUNNING;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return HTTP_NO_CONTENT;
}

static unsigned put_actions(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"action_type", API_STRING, true, 0, 0},
	};
	struct fc_api *a = ctx;
	const char *act;
	char err[256];

	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	act = json_string_value(json_object_get(req->body, "action_type"));
	if (!strcmp(act, "InstanceStart"))
		return instance_start(a, out);
	if (!strcmp(act, "FlushMetrics")) {
		if (a->metrics_fd < 0)
			FAIL("the metrics system is not initialised (PUT /metrics)");
		if (flush_metrics(a))
			FAIL("cannot write metrics to '%s'", a->metrics_path);
		return HTTP_NO_CONTENT;
	}
	if (!strcmp(act, "SendCtrlAltDel") || !strcmp(act, "Shutdown")) {
		/*
		 * Petrel's guests see an ACPI power button, not an i8042 reset
		 * line: both press it (Shutdown is petreld's name for it).
		 */
		if (a->state == FC_NOT_STARTED || !a->vm)
			FAIL("the microVM is not running");
		if (!a->vm->acpi_pm || acpi_pm_press_power_button(a->vm->acpi_pm))
			FAIL("this machine has no ACPI power button");
		return HTTP_NO_CONTENT;
	}
	if (!strcmp(act, "Reboot")) {
		/* A guest reset, as if the guest had asked for one; vm_run restarts it. */
		if (a->state == FC_NOT_STARTED || !a->vm)
			FAIL("the microVM is not running");
		if (a->state == FC_PAUSED)
			FAIL("the microVM is paused: resume it first");
		vm_stop(a->vm, MACHINE_RESET, 0);
		return HTTP_NO_CONTENT;
	}
	FAIL("field `action_type`: unknown action '%s' (expected InstanceStart, "
	     "FlushMetrics, SendCtrlAltDel, Shutdown or Reboot)",
	     act);
}

static unsigned patch_vm(void *ctx, const struct api_request *req, json_t **out)
{
	const struct api_field f[] = {
	    {"state", API_STRING, true, 0, 0},
	};
	struct fc_api *a = ctx;
	const char *st;
	char err[256];
	int rc;

	if (!req->body)
		FAIL("a request body is required");
	if (api_check_fields(req->body, f, sizeof(f) / sizeof(f[0]), err, sizeof(err)))
		FAIL("%s", err);
	st = json_string_value(json_object_get(req->body, "state"));
	if (strcmp(st, "Paused") && strcmp(st, "Resumed"))
		FAIL("field `state`: expected \"Paused\" or \"Resumed\"");
	if (a->state == FC_NOT_STARTED)
		FAIL("the microVM is not started");
	if (!strcmp(st, "Paused")) {
		rc = vm_pause(a->vm);
		if (rc)
			FAIL("cannot pause: %s", strerror(-rc));
		a->state = FC_PAUSED;
	} else {
		rc = vm_resume(a->vm);
		if (rc)
			FAIL("cannot resume: %s", strerror(-rc));
		a->state = FC_RUNNING;
	}
	return HTTP_NO_CONTENT;
}

static unsigned get_vm_config(void *ctx, const struct api_request *req, json_t **out)
{
	struct fc_api *a = ctx;
	json_t *j = json_object(), *drives = json_array(), *nets = json_array();

	for (unsigned i = 0; i < a->nr_drives; i++)
		json_array_append_new(drives,
				      json_pack("{s:s,s:b,s:b,s:s}", "drive_id", a->drives[i].id,
						"is_root_device", a->drives[i].root, "is_read_only",
						a->drives[i].disk.readonly, "path_on_host",
						a->drives[i].disk.path));
	for (unsigned i = 0; i < a->nr_nets; i++)
		json_array_append_new(nets, json_pack("{s:s,s:s}", "iface_id", a->nets[i].id,
						      "host_dev_name", a->nets[i].host_dev));
	if (a->have_boot_source) {
		json_t *b = json_pack("{s:s}", "kernel_image_path", a->kernel);

		if (a->cfg.initrd)
			json_object_set_new(b, "initrd_path", json_string(a->initrd));
		if (a->cfg.cmdline)
			json_object_set_new(b, "boot_args", json_string(a->cmdline));
		json_object_set_new(j, "boot-source", b);
	}
	json_object_set_new(j, "machine-config", machine_config_json(a));
	json_object_set_new(j, "drives", drives);
	json_object_set_new(j, "network-interfaces", nets);
	if (a->cfg.balloon)
		json_object_set_new(j, "balloon", balloon_json(a));
	if (a->cfg.rng)
		json_object_set_new(j, "entropy", json_object());
	if (a->metrics_fd >= 0)
		json_object_set_new(j, "metrics",
				    json_pack("{s:s}", "metrics_path", a->metrics_path));
	*out = j;
	return HTTP_OK;
}

const struct api_route fc_api_routes[] = {
    {"GET", "/", get_root},
    {"GET", "/version", get_version},
    {"GET", "/machine-config", get_machine_config},
    {"PUT", "/machine-config", put_machine_config},
    {"PATCH", "/machine-config", patch_machine_config},
    {"PUT", "/boot-source", put_boot_source},
    {"PUT", "/drives/{drive_id}", put_drive},
    {"PUT", "/network-interfaces/{iface_id}", put_net},
    {"PUT", "/entropy", put_entropy},
    {"GET", "/balloon", get_balloon},
    {"PUT", "/balloon", put_balloon},
    {"PATCH", "/balloon", patch_balloon},
    {"GET", "/balloon/statistics", get_balloon_stats},
    {"GET", "/petrel/metrics", get_petrel_metrics},
    {"PUT", "/metrics", put_metrics},
    {"PUT", "/logger", put_logger},
    {"PUT", "/actions", put_actions},
    {"PATCH", "/vm", patch_vm},
    {"GET", "/vm/config", get_vm_config},
};
const size_t fc_api_nr_routes = sizeof(fc_api_routes) / sizeof(fc_api_routes[0]);
